//! placeholder
pub fn run(_m: &[u64], _d: Option<&std::path::Path>, _j: bool) -> anyhow::Result<()> { Ok(()) }
