//! Attachment bytes on demand, for every channel: find where a file lives
//! (an IMAP part, a Telegram file id, a file sent from this machine), fetch it,
//! save it under a sanitised name that cannot leave the chosen directory, and
//! open it with the configured program — never through a shell.

use crate::config::{Account, Config};
use crate::model::ChannelKind;
use rusqlite::{Connection, OptionalExtension};
use std::io::Write;
use std::path::{Path, PathBuf};

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

impl From<rusqlite::Error> for AttachmentError {
    fn from(e: rusqlite::Error) -> Self {
        AttachmentError::Store(e.into())
    }
}

/// One attachment of a stored message and where its bytes are.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Located {
    pub message: i64,
    pub index: usize,
    pub name: String,
    pub mime: String,
    pub size: i64,
    pub channel: String,
    pub kind: ChannelKind,
    #[serde(skip)]
    pub remote_ref: Option<String>,
    /// (folder, UID, UIDVALIDITY when known): where the mail was listed from.
    #[serde(skip)]
    pub imap: Option<(String, u32, Option<u32>)>,
    /// Removed from the mail server since pult synced it.
    pub expunged: bool,
    /// A file this machine sent: the path it was sent from.
    #[serde(skip)]
    pub local_path: Option<PathBuf>,
}

/// The attachments of one message, in their order.
pub fn locate(conn: &Connection, message: i64) -> Result<Vec<Located>, AttachmentError> {
    type Head = (String, ChannelKind, Option<String>, Option<u32>, bool, Vec<String>, Option<u32>);
    let head: Option<Head> = conn
        .query_row(
            "SELECT ch.name, ch.kind, m.imap_folder, m.imap_uid, m.expunged, o.attachments, m.imap_validity
             FROM messages m JOIN channels ch ON ch.id = m.channel_id
             LEFT JOIN outbox o ON o.message_id = m.id WHERE m.id = ?1",
            [message],
            |r| {
                let kind: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    crate::store::intents::json_list(r, 5)?,
                    r.get(6)?,
                ))
            },
        )
        .optional()?;
    let Some((channel, kind, folder, uid, expunged, sent_files, validity)) = head else {
        return Err(AttachmentError::Unavailable(format!("no message {message}")));
    };
    let mut stmt = conn.prepare(
        "SELECT name, mime, size, remote_ref, ordinal FROM attachments WHERE message_id = ?1 ORDER BY ordinal",
    )?;
    let rows = stmt.query_map([message], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, i64>(4)?,
        ))
    })?;
    let mut out = Vec::new();
    for (index, row) in rows.enumerate() {
        let (name, mime, size, remote_ref, ordinal) = row?;
        out.push(Located {
            message,
            index,
            name,
            mime,
            size,
            channel: channel.clone(),
            kind,
            remote_ref,
            imap: folder.clone().zip(uid).map(|(f, u)| (f, u, validity)),
            expunged,
            local_path: usize::try_from(ordinal).ok().and_then(|o| sent_files.get(o)).map(PathBuf::from),
        });
    }
    Ok(out)
}

/// Fetches the bytes of attachments of one message (all from the same channel).
pub async fn fetch(cfg: &Config, items: &[Located]) -> Result<Vec<Vec<u8>>, AttachmentError> {
    let Some(first) = items.first() else { return Ok(Vec::new()) };
    // A file sent from this machine and still there is read from disk; else the server has it.
    let local = items.iter().map(|a| a.local_path.as_ref().filter(|p| p.is_file())).collect::<Option<Vec<_>>>();
    if let Some(local) = local {
        return local
            .into_iter()
            .map(|p| std::fs::read(p).map_err(|source| AttachmentError::Io { path: p.clone(), source }))
            .collect();
    }
    let account = cfg.accounts.iter().find(|a| a.name() == first.channel);
    match (first.kind, account) {
        (ChannelKind::Email, Some(Account::Email(account))) => {
            let Some((folder, uid, validity)) = first.imap.clone() else {
                return Err(AttachmentError::Unavailable("this mail has no place on the server".into()));
            };
            if first.expunged {
                return Err(AttachmentError::Unavailable(format!(
                    "{} was removed from the server; its attachments are gone with it",
                    first.name
                )));
            }
            let wanted: Vec<crate::channels::email::fetch::Wanted> = items
                .iter()
                .map(|a| crate::channels::email::fetch::Wanted {
                    name: a.name.clone(),
                    mime: a.mime.clone(),
                    remote_ref: a.remote_ref.clone().unwrap_or_default(),
                    size: a.size,
                })
                .collect();
            let place = crate::channels::email::fetch::MailPlace { folder, uid, validity };
            let got = crate::channels::email::fetch::attachments(account, &place, &wanted)
                .await
                .map_err(|e| AttachmentError::Fetch(e.to_string()))?;
            Ok(got.into_iter().map(|(_, bytes)| bytes).collect())
        }
        (ChannelKind::Telegram, Some(Account::Telegram(account))) => {
            let bot = crate::channels::telegram::bot_for(account).map_err(|e| AttachmentError::Fetch(e.to_string()))?;
            let mut out = Vec::with_capacity(items.len());
            for a in items {
                let Some(file_id) = &a.remote_ref else {
                    return Err(AttachmentError::Unavailable(format!("{}: no file id", a.name)));
                };
                out.push(
                    crate::channels::telegram::download_bytes(&bot, file_id).await.map_err(AttachmentError::Fetch)?,
                );
            }
            Ok(out)
        }
        _ => Err(AttachmentError::Unavailable(format!("no configured account named {} can fetch it", first.channel))),
    }
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
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&candidate) {
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
pub async fn fetch_and_open(cfg: &Config, item: &Located) -> Result<PathBuf, AttachmentError> {
    let dir = open_dir().join(item.message.to_string()).join(item.index.to_string());
    let kept = dir.join(crate::sanitize::file_name(&item.name));
    let path = if kept.is_file() {
        kept
    } else {
        let bytes = fetch(cfg, std::slice::from_ref(item)).await?.pop().unwrap_or_default();
        save(&dir, &item.name, &bytes)?
    };
    open(&cfg.ui.open_command(), &path)?;
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
        assert!(!e.file_name().unwrap().to_string_lossy().contains(['\u{1b}', '\u{202e}', '\u{7}']));
    }
}
