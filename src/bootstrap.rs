//! What every command starts from: the global options, the config they name
//! and the store they point at. The command line (`cli`), the daemon and the
//! script commands (`mail_cli`, `scripting`) all build on this, not on each
//! other.

use crate::config::{Config, ConfigError};
use anyhow::Result;
use std::path::{Path, PathBuf};

/// Options every subcommand takes.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Global {
    /// Configuration file (default: ~/.config/pult/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Store file (default: [store] path from the config, else ~/.local/share/pult/pult.db)
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Theme: dark, light, high-contrast, or a path to a theme file
    #[arg(long, global = true)]
    pub theme: Option<String>,
    /// With --json: exact text, without escaping the invisible and control
    /// characters (C1, bidi, zero-width) that a terminal might act on
    #[arg(long, global = true)]
    pub raw: bool,
}

impl Global {
    /// Prints a value as JSON for scripts; see [`crate::sanitize::json`].
    pub fn print_json<T: serde::Serialize>(&self, value: &T) -> Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        crate::say!("{}", if self.raw { text } else { crate::sanitize::json(text) });
        Ok(())
    }
}

/// The config, or None when the default file does not exist (an explicit path must exist).
pub fn load_config(global: &Global) -> Result<Option<Config>> {
    let path = global.config.clone().unwrap_or_else(crate::paths::config_file);
    match Config::load(&path) {
        Ok(c) => {
            crate::workflow::closing::extend(&c.ui.closing_words);
            crate::secrets::set_timeout(c.guards.secret_timeout_seconds);
            crate::i18n::set_written(crate::i18n::Lang::detect(c.ui.language.as_deref()));
            crate::i18n::set_ui(crate::i18n::Lang::detect(c.ui.language.as_deref()));
            Ok(Some(c))
        }
        Err(ConfigError::Missing(_)) if global.config.is_none() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

pub fn store_path(global: &Global, cfg: &Config) -> Result<PathBuf> {
    resolve_store(global.store.as_deref(), cfg)
}

/// `--store`, else `[store] path`, else the default under XDG_DATA_HOME. A
/// PostgreSQL address (`--store postgres://…`, `[store] url`) is refused
/// with what can be done today: this build cannot open one yet.
pub fn resolve_store(arg: Option<&Path>, cfg: &Config) -> Result<PathBuf> {
    let path = arg.map(Path::to_path_buf).or_else(|| cfg.store.path.clone());
    let postgres =
        |p: &Path| p.to_str().is_some_and(|s| s.starts_with("postgres://") || s.starts_with("postgresql://"));
    if cfg.store.url.is_some() || path.as_deref().is_some_and(postgres) {
        anyhow::bail!("{}", crate::t!("store_postgres_not_yet"));
    }
    Ok(path.unwrap_or_else(crate::paths::default_store))
}
