//! The SQLite store: one file, WAL, one writer thread per process, readers on their own connections.

pub mod archive;
pub mod baseline;
pub mod channel_state;
pub mod clients;
pub mod demo_data;
pub mod drafts;
pub mod events;
pub mod fts;
pub mod ingest;
pub mod intents;
pub mod ledger;
pub mod queries;
pub mod reports;
pub mod schema;
pub mod search;
pub mod search_index;
pub mod sla;
pub mod team;
pub mod watch;
pub mod writer;

use rusqlite::{Connection, OpenFlags, functions::FunctionFlags};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use queries::Reader;
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
    #[error("{0}")]
    Invalid(String),
    /// A search query that cannot mean anything; the message says why.
    #[error("search: {0}")]
    Query(#[from] crate::search::query::QueryError),
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
/// in `store/`, and nothing of SQLite's crosses this interface, so another
/// backend could stand behind the same functions.
pub struct Db(Connection);

impl Db {
    /// Runs SQL as it is (tests and one-off repairs; the product never does).
    pub fn run_sql(&self, sql: &str) -> Result<()> {
        self.0.execute_batch(sql)?;
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
    Ok(Db(conn))
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
    // The WAL file is cut back to 64 MB after a checkpoint.
    conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
    conn.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024)?;
    Ok(Db(conn))
}

/// A read-only connection for queries and watching; the store must exist.
pub(crate) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|source| StoreError::Open { path: path.into(), source: DbError(source) })?;
    configure(&conn)?;
    Ok(conn)
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
    fts::register(conn)?;
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
