//! A reader's connection on either engine: SQLite's file opened read-only,
//! or a PostgreSQL connection that reads each call in one snapshot. The
//! readers' SQL is written once against `sql::Conn`; this is what hands it
//! the right engine.

use super::pg::{PgDb, Target};
use super::sql::{Conn, Engine, Row, SqliteConn, ToValue, WithConn};
use super::{Result, StoreError};
use rusqlite::Connection;

pub(super) enum ReadConn {
    Sqlite(Connection),
    /// With where it is, to connect again after the server closed it.
    Postgres(PgDb, Target),
}

impl WithConn for ReadConn {
    /// SQLite's connection as it is (its own read transaction per
    /// statement, as before); on PostgreSQL one read-only snapshot.
    fn with_conn<R>(&self, f: impl FnOnce(&dyn Conn) -> Result<R>) -> Result<R> {
        match self {
            ReadConn::Sqlite(conn) => f(&SqliteConn(conn)),
            ReadConn::Postgres(db, target) => {
                db.reconnect_if_closed(target)?;
                db.read(f)
            }
        }
    }
}

impl ReadConn {
    pub(super) fn engine(&self) -> Engine {
        match self {
            ReadConn::Sqlite(_) => Engine::Sqlite,
            ReadConn::Postgres(..) => Engine::Postgres,
        }
    }

    /// Rows of a statement whose text holds values, run once and not kept.
    pub(super) fn rows_once(&self, sql: &str, params: &[&dyn ToValue]) -> Result<Vec<Row>> {
        match self {
            ReadConn::Sqlite(conn) => SqliteConn(conn).rows_once(sql, params),
            ReadConn::Postgres(db, target) => {
                db.reconnect_if_closed(target)?;
                db.read_once(sql, params)
            }
        }
    }

    /// SQLite's own connection, for what only SQLite has (its FTS5 index,
    /// its query plans, statement tracing).
    pub(super) fn sqlite(&self) -> Result<&Connection> {
        match self {
            ReadConn::Sqlite(conn) => Ok(conn),
            ReadConn::Postgres(..) => Err(StoreError::NotOnPostgres),
        }
    }
}

/// The join that keeps its tables in the order written: SQLite's planner,
/// without statistics, needs the order spelled out (`CROSS JOIN`);
/// PostgreSQL's plans from statistics and allows no `ON` after `CROSS JOIN`.
pub(super) fn cross_join(engine: Engine) -> &'static str {
    match engine {
        Engine::Sqlite => "CROSS JOIN",
        Engine::Postgres => "JOIN",
    }
}
