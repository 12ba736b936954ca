//! Secrets (passwords, bot tokens) come from a command run without a shell, or
//! from a file only its owner can read. They are never logged or shown.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("no secret configured: give a *_command or a *_file")]
    Missing,
    #[error("secret command {program:?} failed: {reason}")]
    Command { program: String, reason: String },
    #[error("secret file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

/// Reads a secret: `command` is argv (program, then arguments), run without a
/// shell; `file` must have mode 0600 (or stricter). Trailing newlines are dropped.
pub fn read(command: Option<&[String]>, file: Option<&Path>) -> Result<String, SecretError> {
    if let Some(argv) = command.filter(|a| !a.is_empty()) {
        let program = argv[0].clone();
        let out = std::process::Command::new(&program)
            .args(&argv[1..])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| SecretError::Command { program: program.clone(), reason: e.to_string() })?;
        if !out.status.success() {
            // The command's stderr may echo the secret; report only the status.
            return Err(SecretError::Command { program, reason: format!("exited with {}", out.status) });
        }
        let s = String::from_utf8(out.stdout)
            .map_err(|_| SecretError::Command { program: program.clone(), reason: "output is not UTF-8".into() })?;
        let s = s.trim_end_matches(['\n', '\r']).to_string();
        if s.is_empty() {
            return Err(SecretError::Command { program, reason: "printed nothing".into() });
        }
        return Ok(s);
    }
    if let Some(path) = file {
        use std::os::unix::fs::PermissionsExt;
        let err = |reason: String| SecretError::File { path: path.to_path_buf(), reason };
        let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(err(format!("mode {mode:o} lets others read it; run chmod 600")));
        }
        let s = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        return Ok(s.trim_end_matches(['\n', '\r']).to_string());
    }
    Err(SecretError::Missing)
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
