//! Standard output as a command-line tool writes it: a reader that goes away
//! (`pult status | head -1`) ends the command quietly with status 0, as git
//! and ripgrep do, instead of a panic about a broken pipe.

use std::io::Write;

/// Writes one line to standard output.
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let written = out.write_fmt(args).and_then(|()| out.write_all(b"\n"));
    finish(written);
}

/// Writes bytes as they are (completions, the man page).
pub fn bytes(data: &[u8]) {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(data).and_then(|()| out.flush());
    finish(written);
}

fn finish(written: std::io::Result<()>) {
    match written {
        Ok(()) => {}
        // Nobody reads any more: everything asked for was either read or not wanted.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("pult: {}: {e}", crate::t!("stdout_failed"));
            std::process::exit(1);
        }
    }
}

/// `println!` for the command line: `say!("{n} closed")`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => { $crate::out::line(format_args!($($arg)*)) };
}
