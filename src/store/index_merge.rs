//! The message index's segments are merged while the writer has nothing else to do.
//!
//! Every batch writes its terms to the index as a new FTS5 segment, and FTS5
//! keeps a search fast by merging segments into larger ones. It used to do
//! that inside the batches' own transactions (`automerge`): during a first
//! sync, a seventh of the writer's time, spent while the sync waited.
//! Migration 32 leaves a batch to merge only in a crisis (64 segments on one
//! level, which bounds what a search reads if the writer is never idle), and
//! the writer thread merges the rest once no job has come for [`IDLE`], a
//! short step at a time, so a job that arrives waits for one step at most.

use super::{Db, Result};
use rusqlite::Connection;
use std::time::Duration;

/// How long the writer waits for a next job before it starts merging: a sync
/// hands its batches over far quicker than this.
pub(super) const IDLE: Duration = Duration::from_millis(300);

/// Pages (4 KB) one step writes at most: some tens of milliseconds.
const STEP_PAGES: i64 = 200;

/// One step of merging; whether it did any work (then there may be more).
/// FTS5 merges only levels that hold `usermerge` (16) segments, or finishes a
/// merge it began, so a merged index costs one look at its structure.
pub(super) fn step(conn: &Connection) -> Result<bool> {
    let before = conn.total_changes();
    conn.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ?1)", [STEP_PAGES])?;
    // FTS5's documented test: a step that merged something changed two rows or more.
    Ok(conn.total_changes() - before >= 2)
}

/// Merges until nothing is left to merge, as an idle writer would; the steps
/// taken. Nothing on PostgreSQL (its index has no segments to merge).
pub fn until_merged(db: &Db) -> Result<u64> {
    if db.is_postgres() {
        return Ok(0);
    }
    let conn = db.sqlite()?;
    let mut steps = 0;
    while step(conn)? {
        steps += 1;
    }
    Ok(steps)
}

/// Segments in the message index (each has at least one row in its `_idx` table).
pub fn segments(db: &Db) -> Result<i64> {
    Ok(db.sqlite()?.query_row("SELECT count(DISTINCT segid) FROM messages_fts_idx", [], |r| r.get(0))?)
}

/// What the writer thread does between jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Between {
    /// Nothing to merge: wait for the next job.
    Nothing,
    /// A job wrote at this instant: merge once no job has come for [`IDLE`] since.
    AfterIdle(std::time::Instant),
    /// Idle and merging: a step whenever no job is waiting.
    Merging,
}
