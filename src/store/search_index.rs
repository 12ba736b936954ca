//! Keeps the search indexes built by the tokenizer this build has.
//!
//! A migration (or a new tokenizer version, `search::words::VERSION`) leaves an
//! index to be rebuilt; the writer rebuilds it when it opens the store, in
//! batches that each commit, so that a kill in the middle loses nothing and
//! the next open goes on where it stopped. Rows written after the rebuild
//! began are indexed as they are written: by their triggers, and a new
//! message by `index_new_message` (called through `sql::Conn::reindex`;
//! without that call a message has no search key and is never found).

use super::{Db, Result};
use crate::search::words::VERSION;
use rusqlite::{Connection, OptionalExtension, params};
use std::io::{IsTerminal, Write};

const BATCH: i64 = 5_000;

/// One index, its rows table and how a batch of rows is indexed.
struct Index {
    name: &'static str,
    table: &'static str,
    fts: &'static str,
    insert: &'static str,
}

const INDEXES: &[Index] = &[
    Index {
        name: "messages",
        table: "messages",
        fts: "messages_fts",
        insert: "INSERT INTO messages_fts (rowid, subject, body, people, recipients)
                 SELECT k.key, coalesce(search_prepared(m.id, 0, m.subject), m.subject),
                        coalesce(CASE WHEN m.transcript IS NULL THEN search_prepared(m.id, 1, m.body) END,
                                 search_authored(m.body) || coalesce(char(10) || m.transcript, '')),
                        m.author || ' ' || coalesce(i.handle, ''), search_recipients(m.recipients, m.cc, m.names)
                 FROM messages m JOIN search_keys k ON k.message_id = m.id
                 LEFT JOIN identities i ON i.id = m.author_identity_id
                 WHERE m.id > ?1 AND m.id <= ?2
                 ORDER BY k.key",
    },
    Index {
        name: "notes",
        table: "notes",
        fts: "notes_fts",
        insert: "INSERT INTO notes_fts (rowid, body, author) SELECT id, body, actor FROM notes WHERE id > ?1 AND id <= ?2",
    },
    Index {
        name: "conversations",
        table: "conversations",
        fts: "clients_fts",
        insert: "INSERT INTO clients_fts (rowid, title, client)
                 SELECT c.id, c.title, coalesce(ct.name || ' ' || coalesce(ct.organisation, ''), '')
                 FROM conversations c LEFT JOIN contacts ct ON ct.id = c.contact_id
                 WHERE c.id > ?1 AND c.id <= ?2",
    },
    Index {
        name: "attachments",
        table: "attachments",
        fts: "attachments_fts",
        insert: "INSERT INTO attachments_fts (rowid, name) SELECT id, name FROM attachments WHERE id > ?1 AND id <= ?2",
    },
];

/// The indexes a sync batch defers, in the order of `Bounds`.
const DEFERRED: [&str; 3] = ["messages", "conversations", "attachments"];

/// For each deferred index: rows with a larger id were added by the batch.
type Bounds = [i64; 3];

std::thread_local! {
    /// Set while a batch runs on this thread (the writer's); the triggers ask it.
    static PENDING_AFTER: std::cell::Cell<Option<Bounds>> = const { std::cell::Cell::new(None) };
}

/// Did the batch running on this thread add row `id` of `table`? Its triggers
/// then leave it to the batch (`Deferred::finish`).
pub fn pending(table: &str, id: i64) -> bool {
    let Some(bounds) = PENDING_AFTER.get() else { return false };
    DEFERRED.iter().position(|t| *t == table).is_some_and(|i| id > bounds[i])
}

/// A batch that indexes the rows it adds in one statement per index at its
/// end. FTS5 writes its buffered terms out at every statement savepoint, and
/// every insert with a trigger takes one, so indexing row by row made a
/// segment per message and a sync spent most of its time merging them.
pub struct Deferred {
    bounds: Option<Bounds>,
}

impl Deferred {
    /// Rows added from now on (inside the caller's transaction) are pending.
    /// Inside another deferred batch this one does nothing of its own.
    pub(super) fn begin(tx: &Connection) -> Result<Deferred> {
        if PENDING_AFTER.get().is_some() {
            return Ok(Deferred { bounds: None });
        }
        let mut bounds: Bounds = [0; 3];
        for (bound, table) in bounds.iter_mut().zip(DEFERRED) {
            *bound = tx.query_row(&format!("SELECT coalesce(max(id), 0) FROM {table}"), [], |r| r.get(0))?;
        }
        PENDING_AFTER.set(Some(bounds));
        Ok(Deferred { bounds: Some(bounds) })
    }

    /// A batch that adds no rows (statuses, flags, cursors) defers nothing.
    pub(super) fn idle() -> Deferred {
        Deferred { bounds: None }
    }

    /// Indexes the pending rows as they are now; call last in the transaction,
    /// so that no later statement's savepoint writes the terms out early.
    pub(super) fn finish(mut self, tx: &Connection) -> Result<()> {
        let Some(bounds) = self.bounds.take() else { return Ok(()) };
        PENDING_AFTER.set(None);
        // However this ends, no prepared terms outlive the batch.
        let _forget = ForgetPrepared;
        for (bound, table) in bounds.iter().zip(DEFERRED) {
            if let Some(index) = INDEXES.iter().find(|i| i.name == table) {
                if table == "messages" {
                    key_batch(tx, *bound)?;
                }
                // Prepared terms (store::prepared) are asked for by this statement.
                tx.prepare_cached(index.insert)?.execute(params![bound, i64::MAX])?;
            }
        }
        Ok(())
    }
}

/// Forgets the batch's prepared terms when dropped.
struct ForgetPrepared;

impl Drop for ForgetPrepared {
    fn drop(&mut self) {
        super::prepared::forget_all();
    }
}

impl Drop for Deferred {
    fn drop(&mut self) {
        // A batch that failed: its transaction rolls back, nothing is pending.
        if self.bounds.is_some() {
            PENDING_AFTER.set(None);
            super::prepared::forget_all();
        }
    }
}

/// The search key of a message without one: the next of its second (keys grow
/// with the date, so that "newest first" is the index's own order), or past a
/// million in one second, the next of all.
const NEW_MESSAGE_KEY: &str = "
    SELECT CASE WHEN k < ((s + 1) << 20) THEN k ELSE (SELECT max(key) + 1 FROM search_keys) END
    FROM (SELECT m.sent_at AS s,
                 (SELECT coalesce(max(key) + 1, m.sent_at << 20) FROM search_keys
                  WHERE key >= (m.sent_at << 20) AND key < ((m.sent_at + 1) << 20)) AS k
          FROM messages m
          WHERE m.id = ?1 AND NOT EXISTS (SELECT 1 FROM search_keys WHERE message_id = ?1))";

/// A message just stored gets its search key and its terms, unless the batch
/// running gives them to all of its rows at its end ([`Deferred`]). A message
/// with a key (one that changed: its triggers indexed it again) is left as it is.
pub(super) fn index_new_message(conn: &Connection, id: i64) -> Result<()> {
    if pending("messages", id) {
        return Ok(());
    }
    if key_message(conn, id)? {
        conn.prepare_cached(INDEXES[0].insert)?.execute(params![id - 1, id])?;
    }
    Ok(())
}

/// Gives message `id` its search key if it has none; whether it did.
fn key_message(conn: &Connection, id: i64) -> Result<bool> {
    let key: Option<i64> = conn.prepare_cached(NEW_MESSAGE_KEY)?.query_row([id], |r| r.get(0)).optional()?;
    let Some(key) = key else { return Ok(false) };
    conn.prepare_cached("INSERT INTO search_keys (key, message_id) VALUES (?1, ?2)")?.execute(params![key, id])?;
    Ok(true)
}

/// The keys of a batch's messages in one statement, as [`NEW_MESSAGE_KEY`]
/// would give them one by one in the order they were stored (the batch's
/// messages of one second follow the second's last key).
const BATCH_KEYS: &str = "
    INSERT INTO search_keys (key, message_id)
    SELECT base + n, id FROM (
        SELECT m.id, m.sent_at AS s, row_number() OVER (PARTITION BY m.sent_at ORDER BY m.id) - 1 AS n,
               (SELECT coalesce(max(key) + 1, m.sent_at << 20) FROM search_keys
                WHERE key >= (m.sent_at << 20) AND key < ((m.sent_at + 1) << 20)) AS base
        FROM messages m
        WHERE m.id > ?1 AND NOT EXISTS (SELECT 1 FROM search_keys WHERE message_id = m.id))
    WHERE base + n < ((s + 1) << 20)";

/// Keys every message the batch added (ids after `bound`).
fn key_batch(tx: &Connection, bound: i64) -> Result<()> {
    let keyed = tx.prepare_cached(BATCH_KEYS)?.execute([bound])?;
    let added: i64 =
        tx.prepare_cached("SELECT count(*) FROM messages WHERE id > ?1")?.query_row([bound], |r| r.get(0))?;
    if (keyed as i64) < added {
        // Past a million messages in one second: the rest one by one, after every key.
        let left: Vec<i64> = tx
            .prepare_cached(
                "SELECT id FROM messages m
                 WHERE id > ?1 AND NOT EXISTS (SELECT 1 FROM search_keys WHERE message_id = m.id) ORDER BY id",
            )?
            .query_map([bound], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for id in left {
            key_message(tx, id)?;
        }
    }
    Ok(())
}

/// How far a rebuild is: rows indexed of rows to index, per index.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    pub index: &'a str,
    pub done: i64,
    pub total: i64,
}

/// An index wholly built with this tokenizer.
fn built(tokenizer: i64, done: bool) -> bool {
    tokenizer == VERSION && done
}

/// Whether every index is built with this tokenizer (nothing for `ensure` to do).
pub(super) fn current(conn: &Connection) -> Result<bool> {
    let mut st = conn.prepare("SELECT tokenizer, done FROM search_index WHERE name = ?1")?;
    for index in INDEXES {
        let (tokenizer, done): (i64, bool) = st.query_row([index.name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        if !built(tokenizer, done) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Messages stored after the newest one with a search key get theirs: one
/// that a build before migration 31 stored (it left keys to a trigger that is
/// gone) is searchable again once a current writer opens the store. Two index
/// seeks when there is none.
fn key_unkeyed_newest(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction()?;
    let after: i64 = tx.query_row("SELECT coalesce(max(message_id), 0) FROM search_keys", [], |r| r.get(0))?;
    let left: Vec<i64> = tx
        .prepare("SELECT id FROM messages WHERE id > ?1 ORDER BY id")?
        .query_map([after], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for id in left {
        index_new_message(&tx, id)?;
    }
    tx.commit()?;
    Ok(())
}

/// Rebuilds whatever index is not built by this tokenizer version.
pub(super) fn ensure(conn: &mut Connection, report: &mut dyn FnMut(Progress<'_>)) -> Result<()> {
    key_unkeyed_newest(conn)?;
    for index in INDEXES {
        let (tokenizer, upto, next, done): (i64, i64, i64, bool) = conn.query_row(
            "SELECT tokenizer, upto, next, done FROM search_index WHERE name = ?1",
            [index.name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        if built(tokenizer, done) {
            continue;
        }
        let (upto, mut next) = if tokenizer == VERSION {
            (upto, next)
        } else {
            // Another tokenizer's terms: start over from an empty index.
            let tx = conn.transaction()?;
            tx.execute(&format!("INSERT INTO {fts} ({fts}) VALUES ('delete-all')", fts = index.fts), [])?;
            let upto: i64 =
                tx.query_row(&format!("SELECT coalesce(max(id), 0) FROM {}", index.table), [], |r| r.get(0))?;
            tx.execute(
                "UPDATE search_index SET tokenizer = ?2, upto = ?3, next = 0, done = 0 WHERE name = ?1",
                params![index.name, VERSION, upto],
            )?;
            tx.commit()?;
            (upto, 0)
        };
        let total: i64 =
            conn.query_row(&format!("SELECT count(*) FROM {} WHERE id <= ?1", index.table), [upto], |r| r.get(0))?;
        let mut indexed: i64 =
            conn.query_row(&format!("SELECT count(*) FROM {} WHERE id <= ?1", index.table), [next], |r| r.get(0))?;
        while next < upto {
            let tx = conn.transaction()?;
            let batch_end: i64 = tx.query_row(
                &format!(
                    "SELECT coalesce(max(id), ?2) FROM (SELECT id FROM {} WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT ?3)",
                    index.table
                ),
                params![next, upto, BATCH],
                |r| r.get(0),
            )?;
            let n = tx.execute(index.insert, params![next, batch_end])?;
            tx.execute("UPDATE search_index SET next = ?2 WHERE name = ?1", params![index.name, batch_end])?;
            tx.commit()?;
            next = batch_end;
            indexed += n as i64;
            report(Progress { index: index.name, done: indexed.min(total), total });
        }
        conn.execute("UPDATE search_index SET done = 1, next = upto WHERE name = ?1", [index.name])?;
    }
    Ok(())
}

/// Progress on a terminal, one line rewritten in place; nothing when stderr is
/// not a terminal (the log has the start and the end) or the index is small.
pub fn report_on_stderr(p: Progress<'_>) {
    if p.total < 20_000 {
        return;
    }
    if p.done == p.total || p.done <= BATCH {
        tracing::info!(index = p.index, done = p.done, total = p.total, "rebuilding the search index");
    }
    let mut err = std::io::stderr();
    if !err.is_terminal() {
        return;
    }
    let pct = p.done * 100 / p.total.max(1);
    let _ = write!(err, "\rRebuilding the search index ({}): {pct}% — {} of {}", p.index, p.done, p.total);
    if p.done >= p.total {
        let _ = writeln!(err);
    }
    let _ = err.flush();
}

/// For `pult-bench` only: the message index rebuilt empty with SQLite's own
/// `unicode61` tokenizer (what pult used before word forms), so that the cost
/// of stemming is measured against it in the same run.
pub fn use_unicode61_for_bench(db: &Db) -> Result<()> {
    let conn = db.sqlite()?;
    conn.execute_batch(
        "DROP TABLE messages_fts;
         CREATE VIRTUAL TABLE messages_fts USING fts5 (
             subject, body, people, recipients,
             content = '', contentless_delete = 1, tokenize = 'unicode61 remove_diacritics 2'
         );
         INSERT INTO messages_fts (messages_fts, rank) VALUES ('hashsize', 33554432);",
    )?;
    // Merged as pult's own index is (migration 32).
    conn.execute_batch(super::index_merge::SETTINGS)?;
    Ok(())
}

/// For the email benchmark only: the message index rebuilt from whole bodies,
/// quoted thread included (as pult indexed before `search::authored`), so
/// that index size and hits are compared on the same mails.
pub fn reindex_whole_bodies_for_bench(db: &Db) -> Result<()> {
    let conn = db.sqlite()?;
    conn.execute_batch(
        "INSERT INTO messages_fts (messages_fts) VALUES ('delete-all');
         INSERT INTO messages_fts (rowid, subject, body, people, recipients)
             SELECT k.key, m.subject, m.body || coalesce(char(10) || m.transcript, ''),
                    m.author || ' ' || coalesce(i.handle, ''), search_recipients(m.recipients, m.cc, m.names)
             FROM messages m JOIN search_keys k ON k.message_id = m.id
             LEFT JOIN identities i ON i.id = m.author_identity_id;
         INSERT INTO messages_fts (messages_fts) VALUES ('optimize');",
    )?;
    Ok(())
}

/// Bytes the message index takes on disk (its segments).
pub(super) fn message_index_bytes(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT coalesce(sum(length(block)), 0) FROM messages_fts_data", [], |r| r.get(0))?)
}

/// How many messages the store holds (for the benchmarks' reports).
pub(super) fn message_count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
}
