//! The SQLite store: one file, WAL, one writer thread per process, readers on their own connections.

pub mod archive;
pub mod audit_chain;
pub mod baseline;
pub mod channel_state;
mod checkpoint;
pub mod clients;
pub mod demo_data;
pub mod drafts;
pub mod events;
pub mod evidence;
pub mod fts;
pub mod index_merge;
pub mod ingest;
pub mod intents;
pub mod ledger;
pub mod location;
pub mod mail_auth;
pub mod originals;
pub mod pg;
pub mod prepared;
pub mod queries;
mod read_conn;
pub mod reports;
pub mod schema;
pub mod search;
pub mod search_index;
pub mod side_blobs;
pub mod sla;
pub mod sql;
pub mod team;
pub mod watch;
pub mod writer;

use rusqlite::{Connection, OpenFlags, functions::FunctionFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use location::Location;
pub use queries::{Reader, statements_counted};
pub use writer::Writer;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Open { path: PathBuf, source: DbError },
    #[error("store: {0}")]
    Sql(DbError),
    #[error("store I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("store was written by a newer pult (schema {found}, this build knows {known})")]
    TooNew { found: i64, known: i64 },
    #[error("the store writer has stopped")]
    WriterGone,
    /// A job of a sequence not run because one queued before it failed (`writer::InOrder`).
    #[error("not stored: an earlier batch of the same sync failed")]
    EarlierFailed,
    #[error("{0}")]
    Invalid(String),
    /// A search query that cannot mean anything; the message says why.
    #[error("search: {0}")]
    Query(#[from] crate::search::query::QueryError),
    /// A request turned down for a reason the person can act on.
    #[error("{0}")]
    Refused(#[from] Refused),
    /// What the PostgreSQL engine said (its address shown without the password).
    #[error("{0}")]
    Postgres(#[from] pg::PgError),
    /// A part of the store not yet written for PostgreSQL (docs/store.md).
    #[error("this part of pult does not run on a PostgreSQL store yet (docs/store.md)")]
    NotOnPostgres,
}

/// What the store turns down, and why, in words a person can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("this conversation has no open promise")]
    NoOpenPromise,
    #[error("promise {0} is already reported done; nothing new to report since the client's last message")]
    AlreadyReported(i64),
    #[error("not an email address: {0}")]
    NotAnEmailAddress(String),
    #[error("too late to undo: the message is {0}")]
    TooLateToUndo(String),
    #[error("the reply is empty")]
    EmptyReply,
    #[error("an email needs a subject")]
    NoSubject,
    #[error("an email needs a recipient")]
    NoRecipient,
    #[error("this conversation has no client card")]
    NoClientCard,
    #[error("the note is empty")]
    EmptyNote,
    #[error("no message from a client in this conversation")]
    NoClientMessage,
    #[error("forward is for email messages")]
    ForwardIsForEmail,
    /// (path, why as a catalogue key): the file to attach cannot be read by whoever attaches it.
    #[error("cannot attach {path}: {why}", path = .0, why = crate::i18n::Lang::En.tr(.1))]
    AttachmentUnreadable(String, &'static str),
    /// (path, limit in MiB).
    #[error("cannot attach {0}: larger than {1} MB")]
    AttachmentTooBig(String, u64),
    /// `pult store migrate` into a database that already holds a store.
    #[error("{0} already holds a store; pult store migrate copies only into an empty one")]
    TargetNotEmpty(String),
}

impl Refused {
    /// Said to a person, in `lang` (English is `Display`, which the CLI has always printed).
    pub fn in_language(&self, lang: crate::i18n::Lang) -> String {
        if lang == crate::i18n::Lang::En {
            return self.to_string();
        }
        match self {
            Refused::NoOpenPromise => lang.tr("no_promise").into(),
            Refused::AlreadyReported(_) => lang.tr("already_done").into(),
            Refused::NotAnEmailAddress(a) => format!("{}: {a}", lang.tr("refused_not_address")),
            Refused::TooLateToUndo(state) => {
                let state = match state.as_str() {
                    "sending" => lang.tr("sending"),
                    "sent" | "delivered" => lang.tr("sent"),
                    "cancelled" => lang.tr("refused_cancelled"),
                    _ => lang.tr("refused_gone"),
                };
                format!("{} {state}", lang.tr("refused_too_late"))
            }
            Refused::EmptyReply => lang.tr("empty_reply").into(),
            Refused::NoSubject => lang.tr("no_subject").into(),
            Refused::NoRecipient => lang.tr("refused_no_recipient").into(),
            Refused::NoClientCard => lang.tr("no_client").into(),
            Refused::EmptyNote => lang.tr("refused_empty_note").into(),
            Refused::NoClientMessage => lang.tr("refusal_nothing_to_answer").into(),
            Refused::ForwardIsForEmail => lang.tr("forward_is_email").into(),
            Refused::AttachmentUnreadable(path, why) => {
                lang.tr("refused_attachment_unreadable").replace("{path}", path).replace("{why}", lang.tr(why))
            }
            Refused::TargetNotEmpty(target) => lang.tr("refused_target_not_empty").replace("{target}", target),
            Refused::AttachmentTooBig(path, mb) => {
                lang.tr("refused_attachment_too_big").replace("{path}", path).replace("{mb}", &mb.to_string())
            }
        }
    }
}

impl StoreError {
    /// Said to a person, in `lang`: a refusal with its reason; a failure of
    /// the database or the disk as what happened and what to do (the raw
    /// detail belongs in the log, which the caller writes).
    pub fn in_language(&self, lang: crate::i18n::Lang) -> String {
        use crate::i18n::Lang;
        use crate::trouble::Trouble;
        match self {
            StoreError::Refused(r) => r.in_language(lang),
            StoreError::Query(q) if lang == Lang::Ru => format!("{}: {}", lang.tr("search"), q.russian()),
            StoreError::Query(q) => format!("{}: {q}", lang.tr("search")),
            StoreError::Invalid(why) => crate::trouble::explain(lang, why),
            StoreError::TooNew { found, known } => {
                lang.tr("store_too_new").replace("{found}", &found.to_string()).replace("{known}", &known.to_string())
            }
            StoreError::WriterGone => lang.tr("store_writer_gone").into(),
            StoreError::EarlierFailed => lang.tr("store_earlier_failed").into(),
            StoreError::Open { path, source: DbError(e) }
                if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) =>
            {
                lang.tr("store_not_a_database").replace("{path}", &path.display().to_string())
            }
            StoreError::Sql(DbError(e)) | StoreError::Open { source: DbError(e), .. } => {
                use rusqlite::ErrorCode as C;
                let kind = match e.sqlite_error_code() {
                    Some(C::DatabaseBusy | C::DatabaseLocked) => Trouble::Busy,
                    Some(C::ConstraintViolation) => Trouble::Conflict,
                    Some(C::DiskFull) => Trouble::DiskFull,
                    Some(C::CannotOpen | C::ReadOnly | C::PermissionDenied | C::SystemIoFailure) => Trouble::Io,
                    _ => Trouble::of(&e.to_string()),
                };
                kind.in_language(lang).into()
            }
            StoreError::Io(e) if e.kind() == std::io::ErrorKind::StorageFull => {
                Trouble::DiskFull.in_language(lang).into()
            }
            StoreError::Io(_) => Trouble::Io.in_language(lang).into(),
            StoreError::Postgres(pg::PgError::TooNew { found, known }) => {
                lang.tr("store_too_new").replace("{found}", &found.to_string()).replace("{known}", &known.to_string())
            }
            StoreError::Postgres(pg::PgError::Connect { target, source }) => lang
                .tr("store_pg_connect")
                .replace("{target}", target)
                .replace("{why}", &crate::sanitize::line(&pg::with_causes(source))),
            StoreError::Postgres(pg::PgError::BadUrl) => lang.tr("store_pg_bad_url").into(),
            StoreError::Postgres(pg::PgError::Tls(why)) => {
                lang.tr("store_pg_tls").replace("{why}", &crate::sanitize::line(why))
            }
            StoreError::Postgres(pg::PgError::PasswordInUrl(target)) => {
                lang.tr("store_pg_password_in_url").replace("{target}", target)
            }
            StoreError::Postgres(e) => Trouble::of(&e.to_string()).in_language(lang).into(),
            StoreError::NotOnPostgres => lang.tr("store_postgres_not_yet").into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// What the database underneath said, with its cause; which database it is
/// stays inside the store.
#[derive(Debug)]
pub struct DbError(rusqlite::Error);

impl std::fmt::Display for DbError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sql(DbError(e))
    }
}

/// The store's write connection, as the writer hands it to a job. What is
/// inside is the store's own business: every function that takes a `Db` lives
/// in `store/`, and the business rules reach either engine through
/// `store::sql` (`Transact`, `WithConn`); code not yet on that seam asks for
/// SQLite's connection and, on PostgreSQL, says it cannot run there yet.
pub struct Db(Engine);

enum Engine {
    Sqlite(Connection),
    Postgres(pg::PgDb),
}

impl sql::Transact for Db {
    /// One write transaction: BEGIN IMMEDIATE on SQLite (see
    /// `writer::immediate`), the store-wide write lock on PostgreSQL.
    fn write<R>(&mut self, f: impl FnOnce(&dyn sql::Conn) -> Result<R>) -> Result<R> {
        match &mut self.0 {
            Engine::Sqlite(conn) => {
                let tx = writer::immediate(conn)?;
                let result = f(&sql::SqliteConn(&tx))?;
                tx.commit()?;
                Ok(result)
            }
            Engine::Postgres(db) => db.write(f),
        }
    }
}

/// Reads (and the few autocommit writes) outside a caller's transaction:
/// SQLite's connection as it is, PostgreSQL in a transaction of its own.
impl sql::WithConn for Db {
    fn with_conn<R>(&self, f: impl FnOnce(&dyn sql::Conn) -> Result<R>) -> Result<R> {
        match &self.0 {
            Engine::Sqlite(conn) => f(&sql::SqliteConn(conn)),
            Engine::Postgres(db) => db.with_conn(f),
        }
    }
}

impl Db {
    /// A PostgreSQL store as a `Db` (the writer's, or a test's).
    pub fn postgres(db: pg::PgDb) -> Db {
        Db(Engine::Postgres(db))
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.0, Engine::Postgres(_))
    }

    /// One write transaction, as `Transact::write`, that also hands SQLite's
    /// own transaction to what needs it beside the seam: its deferred search
    /// index and the store code not yet on the seam (`None` on PostgreSQL).
    pub(crate) fn write_beside_sqlite<R>(
        &mut self,
        f: impl FnOnce(&dyn sql::Conn, Option<&rusqlite::Transaction<'_>>) -> Result<R>,
    ) -> Result<R> {
        match &mut self.0 {
            Engine::Sqlite(conn) => {
                let tx = writer::immediate(conn)?;
                let result = f(&sql::SqliteConn(&tx), Some(&tx))?;
                tx.commit()?;
                Ok(result)
            }
            Engine::Postgres(db) => sql::Transact::write(db, |c| f(c, None)),
        }
    }

    /// SQLite's own connection, for store code not yet on the seam.
    pub(crate) fn sqlite(&self) -> Result<&Connection> {
        match &self.0 {
            Engine::Sqlite(conn) => Ok(conn),
            Engine::Postgres(_) => Err(StoreError::NotOnPostgres),
        }
    }

    /// Runs SQL as it is (tests and one-off repairs; the product never does).
    pub fn run_sql(&self, sql: &str) -> Result<()> {
        self.sqlite()?.execute_batch(sql)?;
        Ok(())
    }
}

/// A store as an older release left it, at schema `version`, for migration
/// tests: the next `Writer::spawn` migrates it.
pub fn open_at_version(path: &Path, version: i64) -> Result<Db> {
    let mut conn =
        Connection::open(path).map_err(|source| StoreError::Open { path: path.into(), source: DbError(source) })?;
    configure(&conn)?;
    schema::migrate_to(&mut conn, version)?;
    Ok(Db(Engine::Sqlite(conn)))
}

/// How long a connection waits for another process's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens (creating and migrating when needed) the store at `path` for writing.
pub fn open_writer(path: &Path) -> Result<Db> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)?;
    }
    let existed = path.exists();
    let mut conn =
        Connection::open(path).map_err(|source| StoreError::Open { path: path.into(), source: DbError(source) })?;
    if !existed {
        restrict_permissions(path)?;
    }
    first_read(&conn, path)?;
    configure(&conn)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > schema::VERSION {
        return Err(StoreError::TooNew { found, known: schema::VERSION });
    }
    schema::migrate(&mut conn)?;
    search_index::ensure(&mut conn, &mut search_index::report_on_stderr)?;
    // The writer merges FTS segments; a larger cache keeps those pages in memory.
    conn.pragma_update(None, "cache_size", -64_000)?;
    // Every insert that fires a trigger keeps a statement journal (the pages it
    // changes, to undo just that statement); in memory, not in a temporary file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Checkpoint every ~40 MB of WAL rather than every 4 MB: a sync rewrites the
    // same index pages batch after batch, and each checkpoint copies them again.
    // The WAL file is cut back to 64 MB after a checkpoint. A `Writer` replaces
    // this with its checkpoint thread (store::checkpoint: its WAL hook takes
    // the place of SQLite's, so no later `wal_autocheckpoint` may be set).
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(Db(Engine::Sqlite(conn)))
}

/// A read-only connection for queries and watching; the store must exist.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|source| StoreError::Open { path: path.into(), source: DbError(source) })?;
    first_read(&conn, path)?;
    configure(&conn)?;
    Ok(conn)
}

/// A file that is not a database is said with its name, at the first read
/// (any statement reads the schema first).
fn first_read(conn: &Connection, path: &Path) -> Result<()> {
    conn.query_row("PRAGMA schema_version", [], |r| r.get::<_, i64>(0))
        .map_err(|source| StoreError::Open { path: path.into(), source: DbError(source) })?;
    Ok(())
}

/// New files get mode 0600 (a team store is made 0660 by its administrator; see README).
fn restrict_permissions(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(())
}

fn configure(conn: &Connection) -> Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -16_000)?; // 16 MB page cache per connection
    conn.set_prepared_statement_cache_capacity(64);
    register_functions(conn)?;
    Ok(())
}

/// SQL functions the schema's triggers and the search call, and the `pult`
/// tokenizer. Registered on every connection.
fn register_functions(conn: &Connection) -> Result<()> {
    // Used by the triggers of migrations 0..14 (the index before word forms),
    // which a store at an old version still runs while it migrates.
    pure(conn, "fts_fold", 1, |ctx| Ok(ctx.get::<Option<String>>(0)?.map(|s| fold(&s)).unwrap_or_default()))?;
    // What `to:` finds: the addresses a message went to and their display
    // names, not the sender's (whose name is in the same JSON object).
    pure(conn, "search_recipients", 3, |ctx| {
        let to: Option<String> = ctx.get(0)?;
        let cc: Option<String> = ctx.get(1)?;
        let names: Option<String> = ctx.get(2)?;
        Ok(search::recipients_text(to.as_deref(), cc.as_deref(), names.as_deref()))
    })?;
    // What the index sees of a body: the text its author wrote (search::authored).
    pure(conn, "search_authored", 1, |ctx| {
        let body: Option<String> = ctx.get(0)?;
        Ok(body.as_deref().map(|b| crate::search::authored::authored(b).into_owned()).unwrap_or_default())
    })?;
    // `channel:` finds a folded needle anywhere in a channel's name.
    pure(conn, "search_contains", 2, |ctx| {
        let hay: Option<String> = ctx.get(0)?;
        let needle: String = ctx.get(1)?;
        let mut folded = String::new();
        crate::search::words::fold_into(hay.as_deref().unwrap_or(""), &mut folded);
        Ok(folded.contains(needle.as_str()))
    })?;
    // Is this row added by the sync batch running now, which indexes it at its
    // end (search_index::Deferred)? Not deterministic: it reads the batch's state.
    conn.create_scalar_function("search_pending", 2, FunctionFlags::SQLITE_UTF8, |ctx| {
        let table: String = ctx.get(0)?;
        let id: i64 = ctx.get(1)?;
        Ok(search_index::pending(&table, id))
    })?;
    // The marker of terms a sync worker prepared for this row's text, or
    // NULL (store::prepared). Not deterministic: it reads the batch's state.
    conn.create_scalar_function("search_prepared", 3, FunctionFlags::SQLITE_UTF8, |ctx| {
        let id: i64 = ctx.get(0)?;
        let column = match ctx.get::<i64>(1)? {
            0 => prepared::Column::Subject,
            1 => prepared::Column::Body,
            _ => return Ok(None),
        };
        Ok(match ctx.get_raw(2) {
            rusqlite::types::ValueRef::Text(text) => prepared::marker(id, column, text),
            _ => None,
        })
    })?;
    fts::register(conn)?;
    audit_chain::register(conn)?;
    Ok(())
}

/// Registers a deterministic scalar function of `args` arguments.
fn pure<T, F>(conn: &Connection, name: &str, args: i32, f: F) -> Result<()>
where
    T: rusqlite::ToSql,
    F: Fn(&rusqlite::functions::Context<'_>) -> rusqlite::Result<T> + Send + 'static,
{
    conn.create_scalar_function(name, args, FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC, f)?;
    Ok(())
}

/// ё as е, as the old index saw text (see `fts_fold`).
pub fn fold(s: &str) -> String {
    if !s.contains(['ё', 'Ё']) {
        return s.to_string();
    }
    s.chars()
        .map(|c| match c {
            'ё' => 'е',
            'Ё' => 'Е',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod refusal_tests {
    use super::*;
    use crate::i18n::{Lang, english_leak};

    #[test]
    fn every_refusal_is_said_in_russian_and_english_stays_as_printed() {
        for r in [
            Refused::NoOpenPromise,
            Refused::AlreadyReported(3),
            Refused::NotAnEmailAddress("иван".into()),
            Refused::TooLateToUndo("sending".into()),
            Refused::TooLateToUndo("cancelled".into()),
            Refused::EmptyReply,
            Refused::NoSubject,
            Refused::NoRecipient,
            Refused::NoClientCard,
            Refused::EmptyNote,
            Refused::NoClientMessage,
            Refused::ForwardIsForEmail,
        ] {
            let ru = r.in_language(Lang::Ru);
            assert!(english_leak(&ru).is_none() && !ru.contains('_'), "{r:?}: {ru}");
            assert_eq!(r.in_language(Lang::En), r.to_string());
        }
        let too_new = StoreError::TooNew { found: 40, known: 39 }.in_language(Lang::Ru);
        assert!(too_new.contains("40") && english_leak(&too_new).is_none(), "{too_new}");
        assert_eq!(english_leak(&StoreError::WriterGone.in_language(Lang::Ru)), None);
        let io = StoreError::Io(std::io::Error::from(std::io::ErrorKind::StorageFull)).in_language(Lang::Ru);
        assert!(io.starts_with("Диск заполнен"), "{io}");
    }
}
