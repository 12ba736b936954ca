//! Originals beside the store: a second SQLite file, `<store>.blobs`, that
//! the sync worker writes each batch's originals into (one transaction, on a
//! blocking thread) before it hands the batch's messages to the store's
//! writer. The store then records only a small `blobs` row per original
//! (codec `beside`, its size): on a first sync, copying every mail's bytes
//! through the store's one writer was most of that writer's work, and now
//! it happens beside it, on the other core. Written before the rows that
//! name them, so a row never names bytes that are not there. The side file
//! uses a rollback journal: its rows are appended and read rarely, so each
//! page is written once, not once into a WAL and again into the file.

use crate::model::Packed;
use rusqlite::{Connection, OpenFlags, OptionalExtension as _, params};
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

/// The side file of the store at some path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SideBlobs {
    path: PathBuf,
    /// The store file's read and write bits: a team store's group reads its originals too.
    mode: u32,
}

impl SideBlobs {
    /// The file beside the store file (`pult.db` → `pult.db.blobs`).
    pub fn beside(store: &Path) -> SideBlobs {
        let mut path = store.as_os_str().to_owned();
        path.push(".blobs");
        let mode = std::fs::metadata(store).map(|m| m.permissions().mode() & 0o660).unwrap_or(0o600) | 0o600;
        SideBlobs { path: PathBuf::from(path), mode }
    }

    /// No file at all: a PostgreSQL store keeps every original in its
    /// database (`pult store migrate` moves them there), and an empty path
    /// never exists, so nothing is ever read from beside it.
    pub fn none() -> SideBlobs {
        SideBlobs { path: PathBuf::new(), mode: 0o600 }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_for_writing(&self) -> rusqlite::Result<Connection> {
        let existed = self.path.exists();
        let conn = Connection::open(&self.path)?;
        if !existed {
            let _ = std::fs::set_permissions(&self.path, std::fs::Permissions::from_mode(self.mode));
            conn.pragma_update(None, "page_size", 16_384)?;
        }
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS blobs (
                 id     INTEGER PRIMARY KEY,
                 sha256 TEXT NOT NULL UNIQUE,
                 size   INTEGER NOT NULL,
                 data   BLOB NOT NULL
             );",
        )?;
        Ok(conn)
    }

    /// Writes each of `packed` once, in one transaction.
    pub fn put_all(&self, packed: &[&Packed]) -> rusqlite::Result<()> {
        let mut conn = self.open_for_writing()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let mut st = tx.prepare("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?1, ?2, ?3)")?;
            for p in packed {
                st.execute(params![p.sha256, p.size as i64, p.deflated])?;
            }
        }
        tx.commit()
    }

    /// The bytes named `sha256`, checked against it; `None` when there are none.
    pub fn get(&self, sha256: &str) -> std::io::Result<Option<Vec<u8>>> {
        if !self.path.exists() {
            return Ok(None);
        }
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let read = || -> rusqlite::Result<Option<(i64, Vec<u8>)>> {
            let conn = Connection::open_with_flags(&self.path, flags)?;
            conn.busy_timeout(super::BUSY_TIMEOUT)?;
            conn.query_row("SELECT size, data FROM blobs WHERE sha256 = ?1", [sha256], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        };
        let Some((size, data)) = read().map_err(std::io::Error::other)? else { return Ok(None) };
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        flate2::read::DeflateDecoder::new(data.as_slice()).read_to_end(&mut out)?;
        if super::audit_chain::sha256_hex(&out) != sha256 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {sha256} does not hash to its name", self.path.display()),
            ));
        }
        Ok(Some(out))
    }

    /// Deletes the bytes of `shas` (nothing names them any more).
    pub fn remove(&self, shas: &[String]) -> rusqlite::Result<()> {
        if shas.is_empty() || !self.path.exists() {
            return Ok(());
        }
        let mut conn = self.open_for_writing()?;
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        for sha in shas {
            tx.execute("DELETE FROM blobs WHERE sha256 = ?1", [sha])?;
        }
        tx.commit()
    }
}

/// Writes the originals a worker packed into the side file and marks them
/// kept there, so the store records only their names. Left as they were (the
/// store keeps the bytes itself) when the side file cannot be written.
pub fn keep_all(side: &SideBlobs, batch: &mut [crate::model::Inbound]) {
    let packed: Vec<&Packed> =
        batch.iter().filter_map(|m| m.raw.as_ref()?.packed.as_ref()).filter(|p| !p.beside).collect();
    if packed.is_empty() {
        return;
    }
    if let Err(e) = side.put_all(&packed) {
        tracing::warn!("originals not kept beside the store ({}): {e}", side.path.display());
        return;
    }
    for m in batch.iter_mut() {
        let Some(raw) = m.raw.as_mut() else { continue };
        let raw = std::sync::Arc::make_mut(raw);
        if let Some(p) = raw.packed.as_mut() {
            p.beside = true;
            p.deflated = Vec::new();
            raw.bytes = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn originals_come_back_as_they_went_and_a_changed_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("pult.db");
        std::fs::write(&store, b"").unwrap();
        std::fs::set_permissions(&store, std::fs::Permissions::from_mode(0o600)).unwrap();
        let side = SideBlobs::beside(&store);
        let p = Packed::of(b"From: a@b\r\n\r\nhi").unwrap();
        side.put_all(&[&p, &p]).unwrap();
        side.put_all(&[&p]).unwrap();
        assert_eq!(side.get(&p.sha256).unwrap().as_deref(), Some(&b"From: a@b\r\n\r\nhi"[..]));
        assert_eq!(std::fs::metadata(side.path()).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(side.get(&"0".repeat(64)).unwrap(), None);
        let other = Packed::of(b"something else").unwrap();
        Connection::open(side.path())
            .unwrap()
            .execute("UPDATE blobs SET data = ?1 WHERE sha256 = ?2", params![other.deflated, p.sha256])
            .unwrap();
        assert!(side.get(&p.sha256).is_err());
        side.remove(std::slice::from_ref(&p.sha256)).unwrap();
        assert_eq!(side.get(&p.sha256).unwrap(), None);
    }
}
