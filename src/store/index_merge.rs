//! The message index's segments are merged while the writer has nothing else to do.
//!
//! Every batch writes its terms to the index as a new FTS5 segment, and FTS5
//! keeps a search fast by merging segments into larger ones. It used to do
//! that inside the batches' own transactions (`automerge`): during a first
//! sync, a seventh of the writer's time, spent while the sync waited.
//! Migration 32 leaves a batch to merge only in a crisis (64 segments on one
//! level, which bounds what a search reads if the writer is never idle), and
//! the writer thread merges the rest once nothing has been written for
//! [`IDLE`], a short step at a time, so a job that arrives waits for one step.

use super::{Db, Result};
use rusqlite::Connection;
use std::time::Duration;

/// How long the writer waits for a next job before it starts merging: a sync
/// hands its batches over far quicker than this.
pub(super) const IDLE: Duration = Duration::from_millis(300);

/// Pages (4 KB) after which a step stops at the next term: some tens of
/// milliseconds, more when a term's postings run long (FTS5 finishes the
/// term it is in), which `pult-bench` reports as the slowest step.
const STEP_PAGES: i64 = 200;

/// One step of merging; whether it did any work (then there may be more).
/// FTS5 merges levels that hold `usermerge` (16) segments, finishes a merge
/// it began, and merges a level a tenth of whose entries are deleted
/// (`deletemerge`: this index deletes in place); a merged index costs one
/// look at its structure.
pub(super) fn step(conn: &Connection) -> Result<bool> {
    let before = conn.total_changes();
    conn.execute("INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ?1)", [STEP_PAGES])?;
    // FTS5's documented test: a step that merged something changed two rows or more.
    Ok(conn.total_changes() - before >= 2)
}

/// What [`until_merged`] did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Merged {
    /// The longest a job would have waited for a step.
    pub slowest: Duration,
}

/// Merges until nothing is left to merge, as an idle writer would. Nothing on
/// PostgreSQL (its index has no segments to merge).
pub fn until_merged(db: &Db) -> Result<Merged> {
    let mut merged = Merged::default();
    if db.is_postgres() {
        return Ok(merged);
    }
    let conn = db.sqlite()?;
    loop {
        let began = std::time::Instant::now();
        let more = step(conn)?;
        merged.slowest = merged.slowest.max(began.elapsed());
        if !more {
            return Ok(merged);
        }
    }
}

/// The settings migration 32 gives the message index (and `pult-bench`
/// its `unicode61` baseline): no merging inside batches below 64 segments
/// on a level; levels of 16 merged by [`step`]. It is that migration's text:
/// other settings need a migration of their own.
pub const SETTINGS: &str = "
INSERT INTO messages_fts (messages_fts, rank) VALUES ('automerge', 0);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('crisismerge', 64);
INSERT INTO messages_fts (messages_fts, rank) VALUES ('usermerge', 16);
";

/// Segments in the message index (each has at least one row in its `_idx` table).
pub fn segments(db: &Db) -> Result<i64> {
    Ok(db.sqlite()?.query_row("SELECT count(DISTINCT segid) FROM messages_fts_idx", [], |r| r.get(0))?)
}
