//! The PostgreSQL engine, for teams past one server (issue #29; see
//! `docs/store.md`). It grows beside SQLite in steps that keep both green:
//! the connection and its secret, the schema and its migrations, the sender's
//! fenced lease, the commit-ordered change log and its watcher, search with
//! pult's own words, `pult store migrate`, `PgDb`, which the store's `Db`
//! holds when the writer runs on PostgreSQL, and `Reader::open_postgres`'s
//! read connection. Ingest is not on it yet, so pult refuses a PostgreSQL
//! address where a store is opened.
//!
//! The `postgres` crate is a blocking facade over tokio-postgres with a
//! runtime of its own: call it from plain threads (the writer thread, a
//! reader's, a test), never from inside a tokio task.

pub mod changes;
pub mod conn;
pub mod lease;
pub mod migrate;
pub mod schema;
pub mod tls;
pub mod tsearch;

use std::time::Duration;

/// Where a PostgreSQL store is: a libpq-style URL or `key=value` string (a
/// Unix socket is `postgres:///pult?host=/var/run/postgresql`), with its
/// password from the configuration's secret, never from the URL.
#[derive(Clone)]
pub struct Target {
    config: postgres::Config,
    shown: String,
    /// Set when the address asks for `sslmode=require` (see `tls`).
    tls: Option<tls::Tls>,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// The address is not repeated: it may hold a password.
    #[error("not a PostgreSQL address (postgres://USER@HOST:PORT/DB or postgres:///DB?host=/run/postgresql)")]
    BadUrl,
    /// (the address without its password)
    #[error("{0}: a password in the address is refused; give it with password_command or password_file in [store]")]
    PasswordInUrl(String),
    // The driver's own Display is only "db error": what the server said is its source.
    #[error("PostgreSQL store {target}: {}", with_causes(source))]
    Connect { target: String, source: postgres::Error },
    #[error("PostgreSQL store: {}", with_causes(.0))]
    Sql(#[from] postgres::Error),
    /// TLS was asked for and cannot be set up (a `ca_file` that is not one).
    #[error("PostgreSQL store: TLS: {0}")]
    Tls(String),
    #[error("PostgreSQL store was written by a newer pult (schema {found}, this build knows {known})")]
    TooNew { found: i64, known: i64 },
    /// Another daemon holds the sender's lease now; this one must not mark or send anything.
    #[error("this daemon no longer holds the sender's lease (epoch {mine}, the store is at {current})")]
    Fenced { mine: i64, current: i64 },
    /// A reader found the store at an older schema: the writer (`pult daemon`) migrates it first.
    #[error(
        "PostgreSQL store {target} is at schema {found}, this build reads {known}: start pult daemon (it migrates) or run pult store migrate"
    )]
    NotMigrated { target: String, found: i64, known: i64 },
    /// The lease's connection is gone: whatever this daemon was doing may be taken over.
    #[error("the sender's lease was lost with its connection")]
    LeaseLost,
}

impl Target {
    /// Reads `url`; `password` comes from `[store] password_command`/`password_file`.
    pub fn parse(url: &str, password: Option<&str>) -> Result<Target, PgError> {
        let config: postgres::Config = url.parse().map_err(|_| PgError::BadUrl)?;
        if config.get_password().is_some() {
            return Err(PgError::PasswordInUrl(shown(&config)));
        }
        let mut config = config;
        if let Some(p) = password {
            config.password(p);
        }
        config.application_name("pult").connect_timeout(Duration::from_secs(10));
        let shown = shown(&config);
        let tls = match config.get_ssl_mode() {
            postgres::config::SslMode::Require => Some(tls::Tls::new(None).map_err(PgError::Tls)?),
            _ => None,
        };
        Ok(Target { config, shown, tls })
    }

    /// Verifies the server against a private CA (`[store] ca_file`); giving
    /// one asks for TLS as `sslmode=require` does.
    pub fn with_ca_file(mut self, ca_file: &std::path::Path) -> Result<Target, PgError> {
        self.config.ssl_mode(postgres::config::SslMode::Require);
        self.tls = Some(tls::Tls::new(Some(ca_file)).map_err(PgError::Tls)?);
        Ok(self)
    }

    /// Whether connections are encrypted (and the server verified).
    pub fn uses_tls(&self) -> bool {
        self.tls.is_some()
    }

    fn connect_with(&self, config: &postgres::Config) -> Result<postgres::Client, PgError> {
        let connected = match &self.tls {
            Some(tls) => config.connect(tls.clone()),
            None => config.connect(postgres::NoTls),
        };
        connected.map_err(|source| PgError::Connect { target: self.shown.clone(), source })
    }

    /// The same server and credentials, another database (benchmarks make one of their own).
    pub fn with_database(&self, name: &str) -> Target {
        let mut config = self.config.clone();
        config.dbname(name);
        let shown = shown(&config);
        Target { config, shown, tls: self.tls.clone() }
    }

    /// Host, port, database and user, for messages and logs (never the password).
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// A new connection: a Unix socket, plain TCP, or TLS with the server
    /// verified when the address says `sslmode=require` (or a `ca_file` is given).
    pub fn connect(&self) -> Result<postgres::Client, PgError> {
        self.connect_with(&self.config)
    }

    /// A connection whose death the server notices within seconds even when
    /// the network, not the process, fails: the lease's (see `lease`).
    pub(crate) fn connect_watched(&self) -> Result<postgres::Client, PgError> {
        let mut config = self.config.clone();
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(2))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(3)
            .tcp_user_timeout(Duration::from_secs(6));
        let mut client = self.connect_with(&config)?;
        // The server's side of the same watch, for a client that vanished
        // without closing its socket (a cut cable, a frozen VM).
        client.batch_execute(
            "SET tcp_keepalives_idle = 2; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3; \
             SET tcp_user_timeout = 6000",
        )?;
        Ok(client)
    }
}

/// The key of the store-wide write lock ("pult" in ASCII, then 3).
pub(crate) const WRITE_LOCK: i64 = 0x7075_6c74_0000_0003;

/// The PostgreSQL store's connection, as `Db` holds SQLite's.
pub struct PgDb {
    // In cells: a read through `WithConn` has `&self`, and the writer thread
    // is the only user, so no borrow ever meets another.
    client: std::cell::RefCell<postgres::Client>,
    prepared: std::cell::RefCell<conn::Prepared>,
    /// Where a writer connects again after the server closed its
    /// connection (a restart, a failover); a reader is given its target
    /// at each call (`reconnect_if_closed`).
    writer_of: Option<Target>,
}

impl PgDb {
    /// Connects and migrates (creating the schema in an empty database).
    pub fn open(target: &Target) -> Result<PgDb, PgError> {
        let mut client = target.connect()?;
        schema::migrate(&mut client)?;
        Ok(PgDb { client: client.into(), prepared: Default::default(), writer_of: Some(target.clone()) })
    }

    /// A reader's connection: the store must be there at this build's
    /// version (the writer migrates; a reader never changes the schema).
    pub fn open_reader(target: &Target) -> Result<PgDb, PgError> {
        let mut client = target.connect()?;
        let found = schema::version(&mut client)?;
        if found > schema::VERSION {
            return Err(PgError::TooNew { found, known: schema::VERSION });
        }
        if found < schema::VERSION {
            return Err(PgError::NotMigrated { target: target.shown().to_string(), found, known: schema::VERSION });
        }
        // A reader never writes: the server refuses it if a bug ever tries.
        client.batch_execute("SET default_transaction_read_only = on")?;
        Ok(PgDb { client: client.into(), prepared: Default::default(), writer_of: None })
    }

    /// A reader's new connection (read-only, as `open_reader` makes it) in
    /// place of one the server or the network closed (a restart, a
    /// failover): the call that met the closed one failed and said so; the
    /// next one reads again. True when it reconnected.
    pub fn reconnect_if_closed(&self, target: &Target) -> Result<bool, PgError> {
        if !self.client.borrow().is_closed() {
            return Ok(false);
        }
        let mut client = target.connect()?;
        client.batch_execute("SET default_transaction_read_only = on")?;
        *self.client.borrow_mut() = client;
        // Statements prepared on the old connection are gone with it.
        self.prepared.borrow_mut().clear();
        Ok(true)
    }

    /// `f` in one read-only transaction that sees one snapshot, so a screen
    /// read in several statements is of one moment (SQLite's read
    /// transaction gives the same); no write lock.
    pub fn read<R>(
        &self,
        f: impl FnOnce(&dyn crate::store::sql::Conn) -> crate::store::Result<R>,
    ) -> crate::store::Result<R> {
        let mut client = self.client.borrow_mut();
        let mut prepared = self.prepared.borrow_mut();
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(PgError::from)?;
        let result = f(&conn::PgConn::new(&mut tx, &mut prepared))?;
        tx.commit().map_err(PgError::from)?;
        Ok(result)
    }

    /// Rows of a statement run once, not prepared and kept: its text holds
    /// values (a view's moment, a list of ids), so keeping it would grow the
    /// connection's statements without end.
    pub fn read_once(
        &self,
        sql: &str,
        params: &[&dyn crate::store::sql::ToValue],
    ) -> crate::store::Result<Vec<crate::store::sql::Row>> {
        // One statement sees one snapshot on its own: no transaction around it
        // (two round trips fewer for each of the sidebar's counts).
        conn::rows_once(&mut *self.client.borrow_mut(), sql, params)
    }

    /// `f` in one transaction; `lock` takes the store-wide write lock first
    /// (every use today does; a reader's connection will not).
    fn transaction<R>(
        &self,
        lock: bool,
        f: impl FnOnce(&dyn crate::store::sql::Conn) -> crate::store::Result<R>,
    ) -> crate::store::Result<R> {
        if let Some(target) = &self.writer_of
            && self.client.borrow().is_closed()
        {
            // The write that met the closed connection failed and said so
            // (a sync worker retries its batch); this one goes on a new one.
            *self.client.borrow_mut() = target.connect()?;
            self.prepared.borrow_mut().clear();
            tracing::info!("connected again to the PostgreSQL store {}", target.shown());
        }
        let mut client = self.client.borrow_mut();
        let mut prepared = self.prepared.borrow_mut();
        let mut tx = client.transaction().map_err(PgError::from)?;
        if lock {
            // One writer at a time, as SQLite's BEGIN IMMEDIATE: the store's rules
            // check and then write ("has this client had the after-hours reply?"),
            // which READ COMMITTED alone would let two daemons both pass.
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK]).map_err(PgError::from)?;
        }
        let result = f(&conn::PgConn::new(&mut tx, &mut prepared))?;
        tx.commit().map_err(PgError::from)?;
        Ok(result)
    }
}

impl crate::store::sql::Transact for PgDb {
    fn write<R>(
        &mut self,
        f: impl FnOnce(&dyn crate::store::sql::Conn) -> crate::store::Result<R>,
    ) -> crate::store::Result<R> {
        self.transaction(true, f)
    }
}

/// Reads, and the few writes that SQLite runs without a transaction of
/// their own (a cursor, a flag pushed), each in a transaction here.
impl crate::store::sql::WithConn for PgDb {
    fn with_conn<R>(
        &self,
        f: impl FnOnce(&dyn crate::store::sql::Conn) -> crate::store::Result<R>,
    ) -> crate::store::Result<R> {
        // Some of these write (a cursor, a status): they take the lock too.
        self.transaction(true, f)
    }
}

/// An error with what caused it ("db error: database \"x\" does not exist"):
/// the driver's own words are terse.
pub fn with_causes(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !out.contains(&more) {
            out.push_str(": ");
            out.push_str(&more);
        }
        cause = c.source();
    }
    out
}

/// `user@host:port/db` from a parsed configuration.
fn shown(config: &postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().map(|u| format!("{u}@")).unwrap_or_default();
    let db = config.get_dbname().unwrap_or("");
    format!("postgres://{user}{host}:{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_form_of_a_password_in_the_address_is_repeated() {
        for url in [
            "postgres://ann:hunter2@db.example:5433/pult",
            "postgres://ann@db/pult?password=hunter2&sslmode=disable",
            "host=db password = hunter2 dbname=pult",
            "host=db password='hunter2 x' dbname=pult",
        ] {
            let said = Target::parse(url, None).unwrap_err().to_string();
            assert!(!said.contains("hunter2"), "{url}: {said}");
        }
        let said = Target::parse("host=db password=hunter2 port=notanumber", None).unwrap_err().to_string();
        assert!(!said.contains("hunter2") && said.contains("not a PostgreSQL address"), "{said}");
    }

    #[test]
    fn a_password_in_the_address_is_refused_and_not_repeated() {
        let e = Target::parse("postgres://ann:hunter2@db.example/pult", None).unwrap_err();
        let said = e.to_string();
        assert!(matches!(e, PgError::PasswordInUrl(_)), "{said}");
        assert!(!said.contains("hunter2"), "{said}");
        assert!(said.contains("password_command"), "{said}");
    }

    #[test]
    fn unix_sockets_and_tcp_are_both_addresses() {
        let t = Target::parse("postgres:///pult?host=/var/run/postgresql", Some("s3cret")).unwrap();
        assert_eq!(t.shown(), "postgres:///var/run/postgresql:5432/pult");
        assert!(!format!("{t:?}").contains("s3cret"));
        let t = Target::parse("postgres://pult@127.0.0.1:5433/team", None).unwrap();
        assert_eq!(t.shown(), "postgres://pult@127.0.0.1:5433/team");
        assert!(matches!(Target::parse("http://x y", None), Err(PgError::BadUrl)));
    }
}
