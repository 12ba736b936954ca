fn main() -> anyhow::Result<()> {
    pult::cli::main()
}
