//! The sender's lease on PostgreSQL: the worker lock for a team whose
//! daemons run on several hosts, one active and the others waiting.
//!
//! Holding it means holding a session advisory lock on a connection of its
//! own (never pooled, never reconnected silently): when the process dies or
//! the network cuts it off, the server ends that session — keepalives on both
//! sides notice within seconds — and the lock passes to a standby. Taking the
//! lease raises an epoch in `sender_lease`; every outbox transition runs on
//! the lease's connection after checking that epoch under a share lock
//! (`fenced`), so a daemon that lost the lease can neither mark nor start a
//! send after another took over, and a takeover waits for a transition in
//! flight to commit or roll back.

use super::{PgError, Target};
use std::sync::atomic::{AtomicBool, Ordering};

/// The advisory lock's key ("pult" in ASCII, then 2; migrations use 1).
const SENDER_LOCK: i64 = 0x7075_6c74_0000_0002;

pub struct Lease {
    client: postgres::Client,
    epoch: i64,
    prepared: super::conn::Prepared,
}

/// An error of the lease's connection: a closed one, no answer at all, or the
/// server ending the session (class 57, "operator intervention": a
/// terminated backend, a shutdown; class 08, a connection exception) is a
/// lost lease.
fn lost(e: postgres::Error) -> PgError {
    let ended = e.code().is_some_and(|c| c.code().starts_with("57") || c.code().starts_with("08"));
    if e.is_closed() || e.code().is_none() || ended { PgError::LeaseLost } else { e.into() }
}

/// A transaction on the lease's connection with the store's write lock
/// taken and the epoch checked `FOR SHARE` (a takeover's bump waits for it).
fn begin_fenced(client: &mut postgres::Client, epoch: i64) -> Result<postgres::Transaction<'_>, PgError> {
    if client.is_closed() {
        return Err(PgError::LeaseLost);
    }
    let mut tx = client.transaction().map_err(lost)?;
    // The store-wide write lock, as every write takes (`PgDb::write`): a
    // person's undo cannot slip between reading a row and marking it.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&super::WRITE_LOCK]).map_err(lost)?;
    let current: i64 = tx.query_one("SELECT epoch FROM sender_lease FOR SHARE", &[]).map_err(lost)?.get(0);
    if current != epoch {
        return Err(PgError::Fenced { mine: epoch, current });
    }
    Ok(tx)
}

/// Who holds the lease right now (its holder and since when), or None when
/// no session holds the lock: the row keeps the last holder's name after it
/// died, the lock does not.
pub fn current_holder(target: &Target) -> Result<Option<(String, i64)>, PgError> {
    let mut client = target.connect()?;
    let row = client.query_opt(
        "SELECT coalesce(l.holder, ''), coalesce(l.since, 0) FROM sender_lease l
          WHERE EXISTS (SELECT 1 FROM pg_locks k
                         WHERE k.locktype = 'advisory' AND k.granted
                           AND k.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                           AND k.classid::bigint = ($1::bigint >> 32) AND k.objid::bigint = ($1::bigint & 4294967295)
                           AND k.objsubid = 1)",
        &[&SENDER_LOCK],
    )?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

impl Lease {
    /// Takes the lease if nobody holds it; `None` when another daemon does.
    pub fn try_take(target: &Target, holder: &str, now: i64) -> Result<Option<Lease>, PgError> {
        let mut client = target.connect_watched()?;
        let got: bool = client.query_one("SELECT pg_try_advisory_lock($1)", &[&SENDER_LOCK])?.get(0);
        if !got {
            return Ok(None);
        }
        Self::begin(client, holder, now).map(Some)
    }

    /// Waits as a hot standby until the lease is free, then takes it; `None`
    /// when `stop` is set first. The wait is the server's: it hands the lock
    /// over the moment the holder's session ends, and wakes each second to
    /// look at `stop`.
    pub fn wait_take(
        target: &Target,
        holder: &str,
        stop: &AtomicBool,
        now: impl Fn() -> i64,
    ) -> Result<Option<Lease>, PgError> {
        let mut client = target.connect_watched()?;
        client.batch_execute("SET lock_timeout = '1s'")?;
        loop {
            if stop.load(Ordering::Relaxed) {
                return Ok(None);
            }
            match client.execute("SELECT pg_advisory_lock($1)", &[&SENDER_LOCK]) {
                Ok(_) => break,
                Err(e) if e.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        client.batch_execute("SET lock_timeout = 0")?;
        Self::begin(client, holder, now()).map(Some)
    }

    fn begin(mut client: postgres::Client, holder: &str, now: i64) -> Result<Lease, PgError> {
        let epoch: i64 = client
            .query_one(
                "UPDATE sender_lease SET epoch = epoch + 1, holder = $1, since = $2 RETURNING epoch",
                &[&holder, &now],
            )?
            .get(0);
        tracing::info!("took the sender's lease (epoch {epoch})");
        Ok(Lease { client, epoch, prepared: Default::default() })
    }

    /// The epoch this daemon took the lease at.
    pub fn epoch(&self) -> i64 {
        self.epoch
    }

    /// Runs `f` in one transaction on the lease's connection, if this daemon
    /// still holds the lease at its epoch; the only way an outbox transition
    /// is written on PostgreSQL. `Fenced` or `LeaseLost` mean: stop sending.
    pub fn fenced<R>(
        &mut self,
        f: impl FnOnce(&mut postgres::Transaction<'_>) -> Result<R, PgError>,
    ) -> Result<R, PgError> {
        let mut tx = begin_fenced(&mut self.client, self.epoch)?;
        // A connection cut inside the transition is a lost lease too.
        let result = f(&mut tx).map_err(|e| match e {
            PgError::Sql(e) => lost(e),
            e => e,
        })?;
        tx.commit().map_err(lost)?;
        Ok(result)
    }

    /// Hands the lease back (a clean shutdown); a standby takes it at once.
    pub fn release(mut self) -> Result<(), PgError> {
        self.client.execute("SELECT pg_advisory_unlock($1)", &[&SENDER_LOCK])?;
        Ok(())
    }

    /// The server's process id for this lease's session (tests cut it off with it).
    pub fn backend_pid(&mut self) -> Result<i32, PgError> {
        Ok(self.client.query_one("SELECT pg_backend_pid()", &[])?.get(0))
    }
}

/// The outbox's own functions (`intents::take_due`, `mark_sent`, …) run
/// under the fence as they are: each is one fenced transaction.
impl crate::store::sql::Transact for Lease {
    fn write<R>(
        &mut self,
        f: impl FnOnce(&dyn crate::store::sql::Conn) -> crate::store::Result<R>,
    ) -> crate::store::Result<R> {
        let mut tx = begin_fenced(&mut self.client, self.epoch)?;
        let result = f(&super::conn::PgConn::new(&mut tx, &mut self.prepared)).map_err(|e| match e {
            crate::store::StoreError::Postgres(PgError::Sql(e)) => lost(e).into(),
            e => e,
        })?;
        tx.commit().map_err(lost)?;
        Ok(result)
    }
}
