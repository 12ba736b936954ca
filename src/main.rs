fn main() {
    if let Err(e) = pult::cli::main() {
        // One readable line (with causes), not a backtrace: this is a user's terminal.
        eprintln!("pult: {}", pult::cli::error_text(&e));
        std::process::exit(pult::cli::exit_code(&e));
    }
}
