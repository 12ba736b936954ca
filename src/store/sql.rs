//! SQL that reads the same on both engines: the seam the store's business
//! rules (ledger, outbox, clients) are written against, so SQLite and
//! PostgreSQL share them instead of each keeping a copy (issue #29).
//!
//! Statements are written in the subset both engines speak: `?N`
//! placeholders (rewritten to `$N` for PostgreSQL), `RETURNING id` instead
//! of `last_insert_rowid()`, `ON CONFLICT … DO …` instead of `INSERT OR`,
//! flags as 0/1 integers (`CASE WHEN … THEN 1 ELSE 0 END`, never a bare
//! boolean into an integer column), and no engine's own functions (`char()`,
//! `chr()`, `json_*`): such values are bound as parameters instead. What
//! differs in kind — numbering the change log, the search index — is a
//! method of [`Conn`] that each engine implements its own way.

use super::{Result, StoreError};

/// One value crossing the seam, in the four shapes both engines store.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Something that can be bound to a placeholder.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// Something a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: &Value) -> std::result::Result<Self, String>;
}

impl FromValue for i64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(*i),
            other => Err(format!("expected an integer, found {other:?}")),
        }
    }
}
macro_rules! int_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: &Value) -> std::result::Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} does not fit {}", stringify!($t)))
            }
        }
    )*};
}
int_from_value!(i32, u32, usize, u64);

impl FromValue for bool {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(f) => Ok(*f),
            Value::Int(i) => Ok(*i as f64),
            other => Err(format!("expected a number, found {other:?}")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s.clone()),
            other => Err(format!("expected text, found {other:?}")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b.clone()),
            Value::Text(s) => Ok(s.as_bytes().to_vec()),
            other => Err(format!("expected bytes, found {other:?}")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}

/// A row read through the seam.
#[derive(Debug, Clone)]
pub struct Row(Vec<Value>);

impl Row {
    /// A row of these values (an engine's reader makes them).
    pub fn of(values: Vec<Value>) -> Row {
        Row(values)
    }

    /// Column `i` as `T`; a mismatch is the store's bug, said with the column.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.0.get(i).ok_or_else(|| StoreError::Invalid(format!("no column {i}")))?;
        T::from_value(v).map_err(|e| StoreError::Invalid(format!("column {i}: {e}")))
    }

    /// A column holding a JSON array of strings (addresses, file paths);
    /// NULL or unreadable is an empty list.
    pub fn json_list(&self, i: usize) -> Result<Vec<String>> {
        Ok(self.get::<Option<String>>(i)?.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
    }
}

/// Which engine stands behind a [`Conn`], for the rare statement that must
/// be said differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// A transaction on either engine (SQLite's `SqliteConn` below,
/// PostgreSQL's `pg::conn::PgConn`).
pub trait Conn {
    fn engine(&self) -> Engine;
    /// Runs a statement; how many rows it changed.
    fn exec(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize>;
    /// Every row a query returns.
    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>>;
    /// Records that something about a conversation changed, for other
    /// processes' screens: numbered in commit order, a doorbell rung.
    fn note_change(&self, at: i64, kind: &str, conversation: Option<i64>, actor: Option<&str>) -> Result<()>;
    /// Deletes a message row and what the search index holds of it.
    fn forget_message(&self, id: i64) -> Result<()>;
    /// Something searchable was written or its text changed: its search
    /// terms follow (SQLite's triggers do it, but for a new message).
    fn reindex(&self, what: Searchable) -> Result<()>;
    /// An INSERT, written without `RETURNING`, that may insert nothing (`ON
    /// CONFLICT … DO NOTHING`): the new row's id, or `None`. SQLite answers
    /// `RETURNING` through a temporary table per statement, a cost ingest's
    /// per-message inserts do not pay there (the row's id is at hand).
    fn insert_new(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Option<i64>> {
        self.rows(&format!("{sql} RETURNING id"), params)?.first().map(|r| r.get(0)).transpose()
    }
}

/// What has search terms of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Searchable {
    /// A message: subject, body, transcript, author, recipients.
    Message(i64),
    /// A note: body, author.
    Note(i64),
    /// An attachment's file name.
    Attachment(i64),
    /// A conversation's title and its client's name (`client:`).
    Conversation(i64),
    /// Every conversation of a client whose name or organisation changed.
    Client(i64),
}

impl dyn Conn + '_ {
    /// The one row a query returns (an error when there is none).
    pub fn one<T>(&self, sql: &str, params: &[&dyn ToValue], f: impl FnOnce(&Row) -> Result<T>) -> Result<T> {
        self.opt(sql, params, f)?.ok_or_else(|| StoreError::Invalid(format!("no row for: {}", first_words(sql))))
    }

    /// The first row a query returns, if any.
    pub fn opt<T>(&self, sql: &str, params: &[&dyn ToValue], f: impl FnOnce(&Row) -> Result<T>) -> Result<Option<T>> {
        self.rows(sql, params)?.first().map(f).transpose()
    }

    /// Every row, each made into a `T`.
    pub fn all<T>(&self, sql: &str, params: &[&dyn ToValue], f: impl FnMut(&Row) -> Result<T>) -> Result<Vec<T>> {
        self.rows(sql, params)?.iter().map(f).collect()
    }

    /// An INSERT that ends in `RETURNING id`: the new row's id.
    pub fn insert(&self, sql: &str, params: &[&dyn ToValue]) -> Result<i64> {
        self.one(sql, params, |r| r.get(0))
    }

    /// The id of the row an INSERT (written without `RETURNING`) adds: on
    /// SQLite cheaper than [`Self::insert`], for the inserts a sync makes per message.
    pub fn insert_one(&self, sql: &str, params: &[&dyn ToValue]) -> Result<i64> {
        self.insert_new(sql, params)?
            .ok_or_else(|| StoreError::Invalid(format!("nothing inserted: {}", first_words(sql))))
    }
}

/// Lets a function written against [`Conn`] be called with SQLite's own
/// transaction by the store code not yet moved onto the seam.
pub trait WithConn {
    fn with_conn<R>(&self, f: impl FnOnce(&dyn Conn) -> Result<R>) -> Result<R>;
}

impl WithConn for rusqlite::Connection {
    fn with_conn<R>(&self, f: impl FnOnce(&dyn Conn) -> Result<R>) -> Result<R> {
        f(&SqliteConn(self))
    }
}

impl WithConn for rusqlite::Transaction<'_> {
    fn with_conn<R>(&self, f: impl FnOnce(&dyn Conn) -> Result<R>) -> Result<R> {
        f(&SqliteConn(self))
    }
}

impl WithConn for dyn Conn + '_ {
    fn with_conn<R>(&self, f: impl FnOnce(&dyn Conn) -> Result<R>) -> Result<R> {
        f(self)
    }
}

/// A store that runs business rules in one write transaction, whichever
/// engine it is (SQLite's `Db`, PostgreSQL's `PgDb`).
pub trait Transact {
    fn write<R>(&mut self, f: impl FnOnce(&dyn Conn) -> Result<R>) -> Result<R>;
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(6).collect::<Vec<_>>().join(" ")
}

/// SQLite behind the seam: a connection (in a transaction the caller began).
pub struct SqliteConn<'a>(pub &'a rusqlite::Connection);

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(*i),
            Value::Real(f) => ValueRef::Real(*f),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Blob(b) => ValueRef::Blob(b),
        }))
    }
}

/// A column's value; text that is not UTF-8 is an error, as rusqlite's own
/// `String` reading makes it (never silently replaced).
fn from_sqlite(v: rusqlite::types::ValueRef<'_>) -> rusqlite::Result<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => {
            Value::Text(String::from_utf8(t.to_vec()).map_err(|e| rusqlite::Error::Utf8Error(0, e.utf8_error()))?)
        }
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    })
}

fn values(params: &[&dyn ToValue]) -> Vec<Value> {
    params.iter().map(|p| p.to_value()).collect()
}

impl Conn for SqliteConn<'_> {
    fn engine(&self) -> Engine {
        Engine::Sqlite
    }

    fn exec(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize> {
        let values = values(params);
        Ok(self.0.prepare_cached(sql)?.execute(rusqlite::params_from_iter(values.iter()))?)
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>> {
        rows_of(&mut *self.0.prepare_cached(sql)?, params)
    }

    fn note_change(&self, at: i64, kind: &str, conversation: Option<i64>, actor: Option<&str>) -> Result<()> {
        self.exec(
            "INSERT INTO changes (at, kind, conversation_id, actor) VALUES (?1, ?2, ?3, ?4)",
            &[&at, &kind, &conversation, &actor],
        )?;
        Ok(())
    }

    fn forget_message(&self, id: i64) -> Result<()> {
        // The schema's trigger takes its terms out of the FTS index.
        self.exec("DELETE FROM messages WHERE id = ?1", &[&id])?;
        Ok(())
    }

    fn reindex(&self, what: Searchable) -> Result<()> {
        // The schema's triggers index changes; a new message is indexed here.
        match what {
            Searchable::Message(id) => super::search_index::index_new_message(self.0, id),
            _ => Ok(()),
        }
    }

    fn insert_new(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Option<i64>> {
        // One connection per transaction, so the last rowid is this insert's.
        Ok((self.exec(sql, params)? > 0).then(|| self.0.last_insert_rowid()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_sqlite() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let c: &dyn Conn = &SqliteConn(&conn);
        let row = c
            .one(
                "SELECT ?1, ?2, ?3, ?4, ?5, ?6",
                &[&42i64, &"ё", &Some(true), &None::<i64>, &1.5f64, &vec![0u8, 255]],
                |r| {
                    Ok((
                        r.get::<i64>(0)?,
                        r.get::<String>(1)?,
                        r.get::<bool>(2)?,
                        r.get::<Option<i64>>(3)?,
                        r.get::<f64>(4)?,
                        r.get::<Vec<u8>>(5)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(row, (42, "ё".to_string(), true, None, 1.5, vec![0, 255]));
        assert!(c.one("SELECT 1 WHERE 0", &[], |r| r.get::<i64>(0)).is_err());
        assert_eq!(c.opt("SELECT 1 WHERE 0", &[], |r| r.get::<i64>(0)).unwrap(), None);
        assert!(c.one("SELECT 'x'", &[], |r| r.get::<i64>(0)).is_err(), "a text read as an integer is an error");
    }
}

/// A column as it is, whatever its shape (tests compare rows of both engines).
impl FromValue for Value {
    fn from_value(v: &Value) -> std::result::Result<Self, String> {
        Ok(v.clone())
    }
}

impl Row {
    /// Column `i`'s text moved out of the row (NULL left behind), for the
    /// hot paths that read whole bodies (a thread, search hits): no second
    /// copy of a 30 MB mail. NULL is `None`.
    pub fn take_text(&mut self, i: usize) -> Result<Option<String>> {
        let v = self.0.get_mut(i).ok_or_else(|| StoreError::Invalid(format!("no column {i}")))?;
        match std::mem::replace(v, Value::Null) {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            other => Err(StoreError::Invalid(format!("column {i}: expected text, found {other:?}"))),
        }
    }

    /// [`Row::take_text`] of a column that is never NULL.
    pub fn take_string(&mut self, i: usize) -> Result<String> {
        self.take_text(i)?.ok_or_else(|| StoreError::Invalid(format!("column {i}: expected text, found NULL")))
    }
}

impl SqliteConn<'_> {
    /// Rows of a statement run once, not kept in the connection's cache: its
    /// text holds values (a view's moment, a list of ids) and would push the
    /// statements worth keeping out of it.
    pub fn rows_once(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>> {
        rows_of(&mut self.0.prepare(sql)?, params)
    }
}

/// Every row of a prepared SQLite statement, as the seam's values.
fn rows_of(stmt: &mut rusqlite::Statement<'_>, params: &[&dyn ToValue]) -> Result<Vec<Row>> {
    let values = values(params);
    let width = stmt.column_count();
    let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
    let mut out = Vec::new();
    while let Some(r) = rows.next()? {
        out.push(Row((0..width).map(|i| r.get_ref(i).and_then(from_sqlite)).collect::<rusqlite::Result<_>>()?));
    }
    Ok(out)
}
