//! The change log on PostgreSQL: what other screens redraw from.
//!
//! A sequence would number changes in the order transactions *asked*, not
//! the order they committed: a reader that saw 42 commit before 41 would
//! move past 41 and never see it. So a one-row counter numbers them; its row
//! lock is held to commit, which makes the numbers commit-ordered (writers
//! that record changes take turns, and there are few: a daemon and the UIs).
//! `NOTIFY` is only a doorbell, rung once per committing transaction
//! (PostgreSQL folds a transaction's identical notifications); `changes`
//! stays the truth, and readers also look at it now and then in case a
//! doorbell was missed.

use super::PgError;
use crate::model::{Change, ChangeKind};
use postgres::fallible_iterator::FallibleIterator;
use std::time::Duration;

/// The channel the doorbell rings on.
const CHANNEL: &str = "pult_changes";

/// Records a change inside the caller's transaction (it commits with it).
pub fn note(
    tx: &mut postgres::Transaction<'_>,
    at: i64,
    kind: &str,
    conversation: Option<i64>,
    actor: Option<&str>,
) -> Result<i64, PgError> {
    let seq: i64 = tx.query_one("UPDATE change_counter SET n = n + 1 RETURNING n", &[])?.get(0);
    tx.execute(
        "INSERT INTO changes (seq, at, kind, conversation_id, actor) VALUES ($1, $2, $3, $4, $5)",
        &[&seq, &at, &kind, &conversation, &actor],
    )?;
    tx.batch_execute(&format!("NOTIFY {CHANNEL}"))?;
    Ok(seq)
}

/// Changes after `seq`, oldest first (at most 5,000, as SQLite's watcher reads).
pub fn since(client: &mut postgres::Client, seq: i64) -> Result<Vec<Change>, PgError> {
    let rows = client.query(
        "SELECT seq, kind, conversation_id, actor FROM changes WHERE seq > $1 ORDER BY seq LIMIT 5000",
        &[&seq],
    )?;
    rows.iter()
        .map(|r| {
            Ok(Change {
                seq: r.try_get(0)?,
                kind: ChangeKind::parse(r.try_get::<_, &str>(1)?),
                conversation_id: r.try_get(2)?,
                actor: r.try_get(3)?,
            })
        })
        .collect()
}

/// Other processes' commits as they happen, for a screen: what SQLite's
/// `store::watch::Watcher` does with `PRAGMA data_version`, done with the
/// doorbell, and the log read after every wait so a missed ring costs at
/// most one wait.
pub struct Watcher {
    bell: Doorbell,
    log: postgres::Client,
    last_seq: i64,
    rings: usize,
}

impl Watcher {
    pub fn open(target: &super::Target) -> Result<Watcher, PgError> {
        Self::open_after(target, None)
    }

    /// As [`open`](Self::open), but reporting every change after `seq` (a
    /// watcher reconnecting after a cut misses nothing that happened meanwhile).
    pub fn open_after(target: &super::Target, seq: Option<i64>) -> Result<Watcher, PgError> {
        // Listening first: a commit between this and the read below still rings.
        let bell = Doorbell::listen(target)?;
        let mut log = target.connect()?;
        let last_seq = match seq {
            Some(seq) => seq,
            None => log.query_one("SELECT coalesce(max(seq), 0) FROM changes", &[])?.get(0),
        };
        Ok(Watcher { bell, log, last_seq, rings: 0 })
    }

    /// The newest change this watcher has reported (or started after).
    pub fn last_seq(&self) -> i64 {
        self.last_seq
    }

    /// Waits up to `wait` for a ring, then returns the changes not seen yet.
    pub fn poll(&mut self, wait: Duration) -> Result<Vec<Change>, PgError> {
        self.rings += self.bell.wait(wait)?;
        let changes = since(&mut self.log, self.last_seq)?;
        if let Some(last) = changes.last() {
            self.last_seq = last.seq;
        }
        Ok(changes)
    }

    /// How many rings woke this watcher (the rest it found by reading the log).
    pub fn rings(&self) -> usize {
        self.rings
    }
}

/// A connection that listens for the doorbell: one per pult, outside any pool.
pub struct Doorbell {
    client: postgres::Client,
}

impl Doorbell {
    pub fn listen(target: &super::Target) -> Result<Doorbell, PgError> {
        let mut client = target.connect()?;
        client.batch_execute(&format!("LISTEN {CHANNEL}"))?;
        Ok(Doorbell { client })
    }

    /// Waits up to `timeout` for a ring; how many rang (0: none, look at the
    /// log anyway — the safety net).
    pub fn wait(&mut self, timeout: Duration) -> Result<usize, PgError> {
        let mut notifications = self.client.notifications();
        let Some(first) = notifications.timeout_iter(timeout).next()? else { return Ok(0) };
        let mut rang = usize::from(first.channel() == CHANNEL);
        // Rings already here count too, without waiting again.
        let mut more = notifications.iter();
        while let Some(n) = more.next()? {
            rang += usize::from(n.channel() == CHANNEL);
        }
        Ok(rang)
    }
}
