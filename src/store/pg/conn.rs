//! The store's seam (`store::sql`) on PostgreSQL: a transaction as a
//! `Conn`, values written as the type the server says each placeholder is,
//! statements prepared once per connection, `?N` as `$N`.

use crate::store::sql::{Conn, Engine, Row, Searchable, ToValue, Value};
use crate::store::{Result, StoreError};
use std::cell::RefCell;

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

impl Conn for PgConn<'_, '_> {
    fn engine(&self) -> Engine {
        Engine::Postgres
    }

    fn exec(&self, sql: &str, params: &[&dyn ToValue]) -> Result<usize> {
        let values = params.iter().map(|p| p.to_value()).collect::<Vec<Value>>();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let st = self.statement(sql)?;
        let n = self.tx.borrow_mut().execute(&st, &refs).map_err(pg)?;
        Ok(n as usize)
    }

    fn rows(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>> {
        let values = params.iter().map(|p| p.to_value()).collect::<Vec<Value>>();
        let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v as _).collect();
        let st = self.statement(sql)?;
        let rows = self.tx.borrow_mut().query(&st, &refs).map_err(pg)?;
        to_rows(&rows)
    }

    fn note_change(&self, at: i64, kind: &str, conversation: Option<i64>, actor: Option<&str>) -> Result<()> {
        super::changes::note(&mut self.tx.borrow_mut(), at, kind, conversation, actor)?;
        Ok(())
    }

    fn forget_message(&self, id: i64) -> Result<()> {
        self.exec("DELETE FROM search_keys WHERE message_id = ?1", &[&id])?;
        self.exec("DELETE FROM messages WHERE id = ?1", &[&id])?;
        Ok(())
    }

    fn reindex(&self, what: Searchable) -> Result<()> {
        super::tsearch::reindex(self, what)
    }
}

/// A statement run once, unprepared (see `PgDb::read_once`).
pub(super) fn rows_once(
    client: &mut impl postgres::GenericClient,
    sql: &str,
    params: &[&dyn ToValue],
) -> Result<Vec<Row>> {
    let values = params.iter().map(|p| p.to_value()).collect::<Vec<Value>>();
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> = values.iter().map(|v| v as _).collect();
    let rows = client.query(&numbered_placeholders(sql), &refs).map_err(pg)?;
    to_rows(&rows)
}

fn to_rows(rows: &[postgres::Row]) -> Result<Vec<Row>> {
    rows.iter()
        .map(|r| (0..r.len()).map(|i| r.try_get::<_, Value>(i).map_err(pg)).collect::<Result<Vec<_>>>().map(Row::of))
        .collect()
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
}
