//! Where a store is: a SQLite file on this host, or a PostgreSQL database
//! that several hosts share. Commands resolve one `Location` at start
//! (`bootstrap::resolve_location`) and open what they need from it; nothing
//! past this point asks which engine it is, except what truly differs: the
//! worker lock (a file lock beside SQLite, the sender's lease on PostgreSQL).

use super::pg::Target;
use super::{Result, StoreError, Writer};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(Target),
}

impl Location {
    /// Whether `text` names a PostgreSQL store rather than a file.
    pub fn is_postgres_url(text: &str) -> bool {
        text.starts_with("postgres://") || text.starts_with("postgresql://")
    }

    /// The path or the address, for messages and logs (never a password).
    pub fn shown(&self) -> String {
        match self {
            Location::Sqlite(path) => path.display().to_string(),
            Location::Postgres(target) => target.shown().to_string(),
        }
    }

    /// Whether there is a store there yet (a database is taken as there:
    /// opening it creates the schema).
    pub fn exists(&self) -> bool {
        match self {
            Location::Sqlite(path) => path.exists(),
            Location::Postgres(_) => true,
        }
    }

    /// The SQLite file, for what runs on SQLite alone; a PostgreSQL store
    /// says plainly that this cannot run there yet.
    pub fn sqlite(&self) -> Result<&Path> {
        match self {
            Location::Sqlite(path) => Ok(path),
            Location::Postgres(_) => Err(StoreError::NotOnPostgres),
        }
    }

    pub fn postgres(&self) -> Option<&Target> {
        match self {
            Location::Postgres(target) => Some(target),
            Location::Sqlite(_) => None,
        }
    }

    /// Opens the store for writing (creating and migrating it) and starts its writer thread.
    pub fn spawn_writer(&self) -> Result<Writer> {
        match self {
            Location::Sqlite(path) => Writer::spawn(path),
            Location::Postgres(target) => Writer::spawn_postgres(target),
        }
    }

    /// A reader for `actor` (each screen and command has its own connection).
    pub fn open_reader(&self, actor: &str) -> Result<super::Reader> {
        match self {
            Location::Sqlite(path) => super::Reader::open(path, actor),
            Location::Postgres(target) => super::Reader::open_postgres(target, actor),
        }
    }

    /// A reader of the store brought up to date first. SQLite: the reader
    /// asks whether a migration or index rebuild is pending, and the writer
    /// opens only then. PostgreSQL: the writer migrates first (a reader
    /// refuses an older schema).
    pub fn open_current_reader(&self, actor: &str) -> Result<super::Reader> {
        if let Location::Sqlite(_) = self {
            let reader = self.open_reader(actor)?;
            if !reader.needs_writer()? {
                return Ok(reader);
            }
        }
        drop(self.open_db()?);
        self.open_reader(actor)
    }

    /// The store's write connection without a writer thread (a command that
    /// writes once and exits).
    pub fn open_db(&self) -> Result<super::Db> {
        match self {
            Location::Sqlite(path) => super::open_writer(path),
            Location::Postgres(target) => Ok(super::Db::postgres(super::pg::PgDb::open(target)?)),
        }
    }

    /// A watcher of other processes' commits, for a screen.
    pub fn watcher(&self) -> Result<super::watch::Watcher> {
        match self {
            Location::Sqlite(path) => super::watch::Watcher::open(path),
            Location::Postgres(target) => super::watch::Watcher::open_postgres(target),
        }
    }
}
