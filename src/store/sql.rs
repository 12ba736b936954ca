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
use std::cell::RefCell;

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

/// A transaction on either engine.
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
    /// terms follow (SQLite's triggers do it).
    fn reindex(&self, what: Searchable) -> Result<()>;
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
        let values = values(params);
        let mut stmt = self.0.prepare_cached(sql)?;
        let width = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(values.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(Row((0..width).map(|i| r.get_ref(i).and_then(from_sqlite)).collect::<rusqlite::Result<_>>()?));
        }
        Ok(out)
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

    fn reindex(&self, _what: Searchable) -> Result<()> {
        Ok(()) // the schema's triggers index it
    }
}

/// PostgreSQL behind the seam: a transaction on one connection.
pub struct PgConn<'t, 'c> {
    tx: RefCell<&'t mut postgres::Transaction<'c>>,
    /// Statements this connection has prepared, by the SQL the store wrote:
    /// each is parsed and planned once per connection, not once per call.
    prepared: RefCell<&'t mut Prepared>,
}

/// A connection's prepared statements (they outlive its transactions).
pub type Prepared = std::collections::HashMap<String, postgres::Statement>;

impl<'t, 'c> PgConn<'t, 'c> {
    pub fn new(tx: &'t mut postgres::Transaction<'c>, prepared: &'t mut Prepared) -> Self {
        PgConn { tx: RefCell::new(tx), prepared: RefCell::new(prepared) }
    }

    fn statement(&self, sql: &str) -> Result<postgres::Statement> {
        if let Some(st) = self.prepared.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self.tx.borrow_mut().prepare(&numbered_placeholders(sql)).map_err(pg)?;
        self.prepared.borrow_mut().insert(sql.to_string(), st.clone());
        Ok(st)
    }
}

impl postgres::types::ToSql for Value {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::{IsNull, Type};
        // The server says what each placeholder is from the statement around it;
        // a value is written as that type, or refused when it cannot be.
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                // A placeholder with nothing around it to tell its type.
                Type::TEXT | Type::UNKNOWN => i.to_string().to_sql(&Type::TEXT, out),
                _ => Err(format!("an integer cannot be written as {ty}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => Err(format!("a real number cannot be written as {ty}").into()),
            },
            Value::Text(s) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => s.as_str().to_sql(ty, out),
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                // Binary formats of their own (tsvector, json…): the statement says
                // `CAST(CAST(? AS TEXT) AS tsvector)` and the server parses the text.
                _ => Err(format!("text cannot be written as {ty}: cast the placeholder to TEXT first").into()),
            },
            Value::Blob(b) => b.as_slice().to_sql(&postgres::types::Type::BYTEA, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

impl<'a> postgres::types::FromSql<'a> for Value {
    fn from_sql(
        ty: &postgres::types::Type,
        raw: &'a [u8],
    ) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::BYTEA => Value::Blob(raw.to_vec()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(String::from_sql(ty, raw)?)
            }
            // sum() and avg() of integers are NUMERIC here and integers in
            // SQLite: the statement casts them (`CAST(sum(x) AS BIGINT)`).
            _ => return Err(format!("a column of type {ty} (cast it in the statement)").into()),
        })
    }

    fn from_sql_null(_: &postgres::types::Type) -> std::result::Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }
}

/// `?N` (and bare `?`) as PostgreSQL's `$N`, outside quotes. The store's
/// statements number their placeholders and carry no comments or `$$`
/// quoting; a bare `?` after a numbered one would count differently than in
/// SQLite, so the two are never mixed.
pub fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut next = 1;
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                out.push(c);
            }
            (Some(_), c) => out.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                out.push(c);
            }
            (None, '?') => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                out.push('$');
                if digits.is_empty() {
                    out.push_str(&next.to_string());
                    next += 1;
                } else {
                    out.push_str(&digits);
                }
            }
            (None, c) => out.push(c),
        }
    }
    out
}

fn pg_values(params: &[&dyn ToValue]) -> Vec<Value> {
    values(params)
}

impl Conn for PgConn<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn exec(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize> {
        let values = pg_values(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let st = self.statement(sql)?;
        let n = self.tx.borrow_mut().execute(&st, &refs).map_err(pg)?;
        Ok(n as usize)
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>> {
        let values = pg_values(params);
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let st = self.statement(sql)?;
        let rows = self.tx.borrow_mut().query(&st, &refs).map_err(pg)?;
        rows.iter()
            .map(|r| (0..r.len()).map(|i| r.try_get::<_, Value>(i).map_err(pg)).collect::<Result<Vec<_>>>().map(Row))
            .collect()
    }

    fn note_change(&self, at: i64, kind: &str, conversation: Option<i64>, actor: Option<&str>) -> Result<()> {
        super::pg::changes::note(&mut self.tx.borrow_mut(), at, kind, conversation, actor)?;
        Ok(())
    }

    fn forget_message(&self, id: i64) -> Result<()> {
        self.exec("DELETE FROM search_keys WHERE message_id = ?1", &[&id])?;
        self.exec("DELETE FROM messages WHERE id = ?1", &[&id])?;
        Ok(())
    }

    fn reindex(&self, what: Searchable) -> Result<()> {
        super::pg::tsearch::reindex(self, what)
    }
}

fn pg(e: postgres::Error) -> StoreError {
    StoreError::Postgres(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_quotes() {
        assert_eq!(numbered_placeholders("SELECT ?1, ?2 WHERE a = ?1"), "SELECT $1, $2 WHERE a = $1");
        assert_eq!(numbered_placeholders("SELECT '?' , ? , ?"), "SELECT '?' , $1 , $2");
        assert_eq!(numbered_placeholders("SELECT \"a?\" FROM t WHERE x = ?12"), "SELECT \"a?\" FROM t WHERE x = $12");
    }

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
