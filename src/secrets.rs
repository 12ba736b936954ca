//! Secrets (passwords, bot tokens) come from a command run without a shell, or
//! from a file only its owner can read. They are never logged or shown.
//!
//! A secret command is a stranger's program (`pass` waiting for a GPG pinentry,
//! a helper that prints a file): it runs with a deadline and a cap on what it
//! may print, in a process group of its own that is killed whole when either
//! is passed, so that a hanging helper costs one account a clear error and
//! never freezes the workers, a `sync --once` or a `doctor`.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How long a secret command may run (seconds); `[guards] secret_timeout_seconds`.
static TIMEOUT_SECS: AtomicU64 = AtomicU64::new(30);

/// The most a secret command may print: a token or a password, not a file.
pub const MAX_OUTPUT: usize = 64 * 1024;

/// Process groups of secret commands still running, killed on shutdown.
static RUNNING: Mutex<Vec<i32>> = Mutex::new(Vec::new());

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no secret configured: give a *_command or a *_file")]
    Missing,
    #[error("secret command {program:?} failed: {reason}")]
    Command { program: String, reason: String },
    #[error("secret file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Sets the deadline of every secret command from now on (from the config).
pub fn set_timeout(seconds: u64) {
    TIMEOUT_SECS.store(seconds.max(1), Ordering::Relaxed);
}

fn timeout() -> Duration {
    Duration::from_secs(TIMEOUT_SECS.load(Ordering::Relaxed))
}

/// Reads a secret: `command` is argv (program, then arguments), run without a
/// shell; `file` must have mode 0600 (or stricter). Trailing newlines are dropped.
/// Blocks for at most the secret timeout: call [`read_async`] from async code.
pub fn read(command: Option<&[String]>, file: Option<&Path>) -> Result<String, SecretError> {
    if let Some(argv) = command.filter(|a| !a.is_empty()) {
        return run_command(argv, timeout());
    }
    if let Some(path) = file {
        use std::os::unix::fs::PermissionsExt;
        let err = |reason: String| SecretError::File { path: path.to_path_buf(), reason };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!("mode {mode:o} lets others read it; run chmod 600")));
        }
        if meta.len() > MAX_OUTPUT as u64 {
            return Err(err(format!("larger than {} KiB: not a secret", MAX_OUTPUT / 1024)));
        }
        let s = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        return Ok(s.trim_end_matches(['\n', '\r']).to_string());
    }
    Err(SecretError::Missing)
}

/// [`read`] off the async runtime: a slow helper never stalls the other
/// channels that share the runtime.
pub async fn read_async(command: Option<&[String]>, file: Option<&Path>) -> Result<String, SecretError> {
    let (command, file) = (command.map(<[String]>::to_vec), file.map(Path::to_path_buf));
    tokio::task::spawn_blocking(move || read(command.as_deref(), file.as_deref())).await.unwrap_or_else(|e| {
        Err(SecretError::Command { program: String::new(), reason: format!("the reading task ended: {e}") })
    })
}

/// Kills every secret command still running (their process groups): called
/// when the process stops, so a pinentry left waiting does not outlive it.
pub fn kill_running() {
    let groups = RUNNING.lock().map(|g| g.clone()).unwrap_or_default();
    for pgid in groups {
        kill_group(pgid);
    }
}

fn kill_group(pgid: i32) {
    // SAFETY: kill(2) with a negative pid signals a process group we created.
    unsafe {
        libc::kill(-pgid, libc::SIGKILL);
    }
}

fn run_command(argv: &[String], deadline: Duration) -> Result<String, SecretError> {
    use std::os::unix::process::CommandExt;
    let program = argv[0].clone();
    let fail = |reason: String| SecretError::Command { program: program.clone(), reason };
    let mut child = std::process::Command::new(&program)
        .args(&argv[1..])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        // Its stderr may echo the secret and must never reach the UI's terminal.
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(e.to_string()))?;
    let pgid = child.id() as i32;
    if let Ok(mut g) = RUNNING.lock() {
        g.push(pgid);
    }
    let forget = || {
        if let Ok(mut g) = RUNNING.lock() {
            g.retain(|p| *p != pgid);
        }
    };
    // The output is read on a thread of its own, so the wait below can end.
    let mut stdout = child.stdout.take().ok_or_else(|| fail("no output pipe".into()))?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let read = (&mut stdout).take(MAX_OUTPUT as u64 + 1).read_to_end(&mut buf);
        let _ = tx.send(read.map(|_| buf));
    });
    let output = match rx.recv_timeout(deadline) {
        Ok(Ok(buf)) if buf.len() > MAX_OUTPUT => {
            kill_group(pgid);
            let _ = child.wait();
            forget();
            return Err(fail(format!("printed more than {} KiB: not a secret", MAX_OUTPUT / 1024)));
        }
        Ok(Ok(buf)) => buf,
        Ok(Err(e)) => {
            kill_group(pgid);
            let _ = child.wait();
            forget();
            return Err(fail(e.to_string()));
        }
        Err(_) => {
            kill_group(pgid);
            let _ = child.wait();
            forget();
            return Err(fail(format!(
                "did not finish within {} s (is it waiting for a passphrase?); \
                 unlock it first or raise [guards] secret_timeout_seconds",
                deadline.as_secs()
            )));
        }
    };
    // The output is complete; the program itself still gets the deadline to exit.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    let status = rx.recv_timeout(deadline);
    // Whatever it left behind (a forked agent) goes with it.
    kill_group(pgid);
    forget();
    match status {
        // Its stderr may echo the secret; report only the status.
        Ok(Ok(s)) if !s.success() => return Err(fail(format!("exited with {s}"))),
        Ok(Ok(_)) => {}
        Ok(Err(e)) => return Err(fail(e.to_string())),
        Err(_) => return Err(fail(format!("did not exit within {} s", deadline.as_secs()))),
    }
    let s = String::from_utf8(output).map_err(|_| fail("output is not UTF-8".into()))?;
    let s = s.trim_end_matches(['\n', '\r']).to_string();
    if s.is_empty() {
        return Err(fail("printed nothing".into()));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn command_without_a_shell() {
        let argv = vec!["printf".to_string(), "%s\\n".into(), "tok en; rm -rf /".into()];
        assert_eq!(read(Some(&argv), None).expect("secret"), "tok en; rm -rf /");
        let bad = vec!["false".to_string()];
        assert!(matches!(read(Some(&bad), None), Err(SecretError::Command { .. })));
    }

    #[test]
    fn a_hanging_command_is_cut_at_its_deadline_with_its_children() {
        // `sh -c` here is the test's own fixed text, not remote data: a helper
        // that forks a child which holds stdout open (pass → gpg → pinentry).
        let argv: Vec<String> = ["sh", "-c", "sleep 300 & sleep 300"].map(String::from).to_vec();
        let started = std::time::Instant::now();
        let e = run_command(&argv, Duration::from_secs(1)).unwrap_err().to_string();
        assert!(e.contains("did not finish within 1 s") && e.contains("\"sh\""), "{e}");
        // Killed as a group: nothing of it is left holding the pipe.
        assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
        assert!(RUNNING.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_command_printing_a_flood_is_refused_without_reading_it_all() {
        let argv: Vec<String> = ["yes", "0123456789abcdef"].map(String::from).to_vec();
        let e = read(Some(&argv), None).unwrap_err().to_string();
        assert!(e.contains("more than 64 KiB") && !e.contains("0123456789abcdef"), "{e}");
    }

    #[test]
    fn files_must_be_private() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("token");
        std::fs::write(&p, "123:abc\n").expect("write");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = read(None, Some(&p)).unwrap_err().to_string();
        assert!(e.contains("chmod 600") && !e.contains("123:abc"), "{e}");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        assert_eq!(read(None, Some(&p)).expect("secret"), "123:abc");
        assert!(matches!(read(None, None), Err(SecretError::Missing)));
    }
}
