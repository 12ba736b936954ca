//! `pult-bench`'s floor: the same rows written the plainest way SQLite allows
//! (one table, no index, no FTS, one transaction per batch), so that ingest
//! is reported as a ratio to what this disk and this SQLite can do at all.

use super::Result;
use crate::model::Inbound;
use rusqlite::{Connection, params};
use std::path::{Path, PathBuf};

pub struct PlainTable {
    conn: Connection,
    path: PathBuf,
}

impl PlainTable {
    /// A new file at `path` (an old one is replaced).
    pub fn create(path: &Path) -> Result<PlainTable> {
        let _ = std::fs::remove_file(path);
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE m (id INTEGER PRIMARY KEY, conv TEXT, remote TEXT, author TEXT, at INTEGER, subject TEXT, body TEXT)",
        )?;
        Ok(PlainTable { conn, path: path.to_path_buf() })
    }

    /// One batch in one transaction.
    pub fn insert<'a>(&mut self, batch: impl Iterator<Item = &'a Inbound>) -> Result<()> {
        let tx = self.conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO m (conv, remote, author, at, subject, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for m in batch {
                st.execute(params![m.conversation_key, m.remote_id, m.author_name, m.sent_at, m.subject, m.body_text])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Deletes the file and its WAL.
    pub fn remove(self) {
        let PlainTable { conn, path } = self;
        drop(conn);
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
    }
}
