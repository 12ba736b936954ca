//! Noticing other connections' commits. On SQLite `PRAGMA data_version`
//! moves only when someone else committed, so one cheap pragma per tick
//! replaces polling tables; only then is the `changes` log read. On
//! PostgreSQL the commit rings a doorbell (`pg::changes`) and the log is read
//! after every wait, so a missed ring costs at most one wait.

use super::Result;
use crate::model::Change;
use crate::model::ChangeKind;
use rusqlite::{Connection, params};
use std::path::Path;
use std::time::Duration;

/// How often the pragma is asked. One pragma costs microseconds; 100 ms keeps
/// the median delay from a commit elsewhere to a refreshed screen near 50 ms.
pub const TICK: Duration = Duration::from_millis(100);

/// How long a PostgreSQL watcher waits for its doorbell before reading the
/// log anyway (the safety net for a ring lost with a connection).
pub const SAFETY_NET: Duration = Duration::from_secs(1);

pub enum Watcher {
    Sqlite(SqliteWatcher),
    Postgres { watcher: super::pg::changes::Watcher, target: super::pg::Target },
}

pub struct SqliteWatcher {
    conn: Connection,
    data_version: i64,
    last_seq: i64,
}

impl Watcher {
    pub fn open(path: &Path) -> Result<Watcher> {
        let conn = super::open_reader(path)?;
        let data_version = conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let last_seq = conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0))?;
        Ok(Watcher::Sqlite(SqliteWatcher { conn, data_version, last_seq }))
    }

    pub fn open_postgres(target: &super::pg::Target) -> Result<Watcher> {
        let watcher = super::pg::changes::Watcher::open(target)?;
        Ok(Watcher::Postgres { watcher, target: target.clone() })
    }

    /// New changes since the last call, or nothing when no one committed.
    /// SQLite answers at once; PostgreSQL waits up to `wait` for a commit.
    pub fn poll_waiting(&mut self, wait: Duration) -> Result<Vec<Change>> {
        match self {
            Watcher::Sqlite(w) => w.poll(),
            Watcher::Postgres { watcher, target } => match watcher.poll(wait) {
                Ok(changes) => Ok(changes),
                Err(e) => {
                    // Reconnected from where it was: nothing committed
                    // meanwhile is missed (the log keeps 20,000 changes).
                    let seq = watcher.last_seq();
                    *watcher = super::pg::changes::Watcher::open_after(target, Some(seq))?;
                    Err(e.into())
                }
            },
        }
    }

    /// As [`poll_waiting`](Self::poll_waiting) without waiting.
    pub fn poll(&mut self) -> Result<Vec<Change>> {
        self.poll_waiting(Duration::ZERO)
    }

    /// Runs on its own thread until `deliver` returns false.
    pub fn spawn(self, deliver: impl FnMut(Vec<Change>) -> bool + Send + 'static) {
        self.spawn_every(TICK, deliver)
    }

    /// As [`spawn`](Self::spawn) with another tick (benchmarks compare
    /// against busy polling). PostgreSQL waits on its doorbell instead.
    pub fn spawn_every(mut self, tick: Duration, mut deliver: impl FnMut(Vec<Change>) -> bool + Send + 'static) {
        let spawned = std::thread::Builder::new().name("pult-store-watch".into()).spawn(move || {
            loop {
                let postgres = matches!(self, Watcher::Postgres { .. });
                match self.poll_waiting(SAFETY_NET) {
                    Ok(c) => {
                        if !c.is_empty() && !deliver(c) {
                            return;
                        }
                        // PostgreSQL has waited on its doorbell already.
                        if !postgres {
                            std::thread::sleep(tick);
                        }
                    }
                    Err(e) => {
                        tracing::warn!("store watcher: {e}");
                        std::thread::sleep(tick.max(SAFETY_NET));
                    }
                }
            }
        });
        if let Err(e) = spawned {
            tracing::error!("cannot start the store watcher: {e}");
        }
    }
}

impl SqliteWatcher {
    fn poll(&mut self) -> Result<Vec<Change>> {
        let v: i64 = self.conn.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if v == self.data_version {
            return Ok(Vec::new());
        }
        self.data_version = v;
        let mut st = self.conn.prepare_cached(
            "SELECT seq, kind, conversation_id, actor FROM changes WHERE seq > ?1 ORDER BY seq LIMIT 5000",
        )?;
        let changes: Vec<Change> = st
            .query_map(params![self.last_seq], |r| {
                let kind: String = r.get(1)?;
                Ok(Change {
                    seq: r.get(0)?,
                    kind: ChangeKind::parse(&kind),
                    conversation_id: r.get(2)?,
                    actor: r.get(3)?,
                })
            })?
            .collect::<rusqlite::Result<_>>()?;
        if let Some(last) = changes.last() {
            self.last_seq = last.seq;
        }
        Ok(changes)
    }
}
