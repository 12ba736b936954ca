//! Attachment bytes on demand, for every channel: find where a file lives (a
//! file sent from this machine, else the channel that brought it), fetch it,
//! save it under a sanitised name that cannot leave the chosen directory, and
//! open it with the configured program — never through a shell.

use crate::channels::registry::Channel;
use crate::config::Config;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum AttachmentError {
    #[error("message {0} has no attachment {1}")]
    NotFound(i64, usize),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Fetch(String),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

pub use crate::model::Located;

/// The attachments of one message, in their order.
pub fn locate(reader: &crate::store::Reader, message: i64) -> Result<Vec<Located>, AttachmentError> {
    reader.attachments_of(message)?.ok_or_else(|| AttachmentError::Unavailable(format!("no message {message}")))
}

/// The configured channel an attachment came through (by its channel's name).
pub fn channel_for(cfg: &Config, item: &Located) -> Result<Arc<dyn Channel>, AttachmentError> {
    let account = cfg.accounts.iter().find(|a| a.name() == item.channel && a.kind() == item.kind).ok_or_else(|| {
        AttachmentError::Unavailable(format!("no configured account named {} can fetch it", item.channel))
    })?;
    crate::channels::registry::open(account, 0, &crate::channels::registry::Context::from_config(cfg))
        .map_err(AttachmentError::Fetch)
}

/// `items` with the bytes the store holds (files attached to replies, media
/// fetched when it arrived), read before anything goes to a server.
pub fn with_stored(reader: &crate::store::Reader, mut items: Vec<Located>) -> Result<Vec<Located>, AttachmentError> {
    for item in &mut items {
        if let Some(hash) = item.content_hash.as_deref() {
            item.stored = reader.blob(hash)?;
        }
    }
    Ok(items)
}

/// Fetches the bytes of attachments of one message (all from the same channel):
/// what the store holds, else a file sent from this machine and still there,
/// else the server, through the channel that brought it.
pub async fn fetch(cfg: &Config, items: &[Located]) -> Result<Vec<Vec<u8>>, AttachmentError> {
    let Some(first) = items.first() else { return Ok(Vec::new()) };
    if let Some(stored) = items.iter().map(|a| a.stored.clone()).collect::<Option<Vec<_>>>() {
        return Ok(stored);
    }
    let local = items.iter().map(|a| a.local_path.as_ref().filter(|p| p.is_file())).collect::<Option<Vec<_>>>();
    if let Some(local) = local {
        return local
            .into_iter()
            .map(|p| std::fs::read(p).map_err(|source| AttachmentError::Io { path: p.clone(), source }))
            .collect();
    }
    channel_for(cfg, first)?.fetch(items).await.map_err(AttachmentError::Fetch)
}

/// Writes `bytes` into `dir` under a sanitised `name`; never overwrites, never
/// follows a planted link (the file must be new), never leaves `dir`.
pub fn save(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, AttachmentError> {
    std::fs::create_dir_all(dir).map_err(|source| AttachmentError::Io { path: dir.to_path_buf(), source })?;
    let safe = crate::sanitize::file_name(name);
    let (stem, ext) = match safe.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (safe.clone(), String::new()),
    };
    for n in 1..1000 {
        let candidate = if n == 1 { dir.join(&safe) } else { dir.join(format!("{stem} ({n}){ext}")) };
        // 0600 at creation: a client's invoice is nobody else's on a shared machine.
        match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&candidate) {
            Ok(mut f) => {
                f.write_all(bytes)
                    .and_then(|_| f.sync_all())
                    .map_err(|source| AttachmentError::Io { path: candidate.clone(), source })?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => return Err(AttachmentError::Io { path: candidate, source }),
        }
    }
    Err(AttachmentError::Unavailable(format!("{}: too many files of that name", dir.join(safe).display())))
}

/// Starts `command` (argv) with the file appended; output goes nowhere, the
/// child is reaped in the background so the terminal stays ours.
pub fn open(command: &[String], path: &Path) -> Result<(), AttachmentError> {
    let Some((program, args)) = command.split_first() else {
        return Err(AttachmentError::Unavailable("open_command is empty".into()));
    };
    let mut child = std::process::Command::new(program)
        .args(args)
        .arg(path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|source| AttachmentError::Io { path: PathBuf::from(program), source })?;
    std::thread::spawn(move || child.wait());
    Ok(())
}

/// Where opened attachments are kept: private to this user.
pub fn open_dir() -> PathBuf {
    crate::paths::data_dir().join("opened")
}

/// Opens an attachment with `[ui] open_command`, fetching it first unless an
/// earlier open already keeps it (one copy per message and attachment).
/// `program` is `[ui] open_command`, or a channel's voice player.
pub async fn fetch_and_open(cfg: &Config, program: &[String], item: &Located) -> Result<PathBuf, AttachmentError> {
    let dir = open_dir().join(item.message.to_string()).join(item.index.to_string());
    let kept = dir.join(crate::sanitize::file_name(&item.name));
    let path = if kept.is_file() {
        kept
    } else {
        let bytes = fetch(cfg, std::slice::from_ref(item)).await?.pop().unwrap_or_default();
        save(&dir, &item.name, &bytes)?
    };
    open(program, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_cannot_escape_or_overwrite() {
        let dir = tempfile::tempdir().unwrap();
        let a = save(dir.path(), "../../etc/passwd", b"x").unwrap();
        assert_eq!(a.parent(), Some(dir.path()));
        let b = save(dir.path(), "Счёт.pdf", b"1").unwrap();
        let c = save(dir.path(), "Счёт.pdf", b"2").unwrap();
        assert_eq!(b.file_name().unwrap(), "Счёт.pdf");
        assert_eq!(c.file_name().unwrap(), "Счёт (2).pdf");
        assert_eq!(std::fs::read(&b).unwrap(), b"1");
        // A link planted under the name is not followed.
        let target = dir.path().join("target");
        std::os::unix::fs::symlink(&target, dir.path().join("evil.txt")).unwrap();
        let d = save(dir.path(), "evil.txt", b"3").unwrap();
        assert_eq!(d.file_name().unwrap(), "evil (2).txt");
        assert!(!target.exists());
        let e = save(dir.path(), "\u{1b}]52;c;AAAA\u{7}name\u{202e}fdp.exe", b"4").unwrap();
        use std::os::unix::fs::PermissionsExt;
        for saved in [&a, &b, &c, &d, &e] {
            let mode = std::fs::metadata(saved).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", saved.display());
        }
        assert!(!e.file_name().unwrap().to_string_lossy().contains(['\u{1b}', '\u{202e}', '\u{7}']));
    }
}
