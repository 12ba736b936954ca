//! `pult store migrate`: a SQLite store copied whole into an empty
//! PostgreSQL one, in one transaction — ids, audit hashes, outbox states,
//! cursors and originals as they are — with the search terms made by pult's
//! own words on the way (`tsearch`).

use super::{PgDb, Target, tsearch};
use crate::store::sql::{Conn, Transact, Value};
use crate::store::{Refused, Result, StoreError};
use std::path::Path;

/// SQLite's tables not copied, and why: its FTS bookkeeping (PostgreSQL's
/// terms are made on the way) and its AUTOINCREMENT counter.
pub const NOT_COPIED: &[&str] = &["search_index", "sqlite_sequence"];

/// The tables copied, parents before children (foreign keys are checked at
/// commit anyway: a client merged into a newer one points forward). A test
/// checks that with [`NOT_COPIED`] they are every table SQLite has.
pub const TABLES: &[&str] = &[
    "store_settings",
    "accounts",
    "channels",
    "contacts",
    "identities",
    "conversations",
    "messages",
    "attachments",
    "reactions",
    "messages_edits",
    "mail_auth",
    "blobs",
    "originals",
    "tasks",
    "notes",
    "assignments",
    "read_marks",
    "sync_state",
    "thread_keys",
    "outbox",
    "drafts",
    "claims",
    "pending_reports",
    "quarantine",
    "client_merges",
    "client_dismissals",
    "connections",
    "sender_rules",
    "sla_pauses",
    "sla_policies",
    "sla_escalations",
    "audit",
    "changes",
    "search_keys",
];

/// What was moved: rows per table, in the order copied.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Moved {
    pub tables: Vec<(String, i64)>,
    /// Texts that held a NUL character, which PostgreSQL's text cannot:
    /// moved with U+2400 (␀) in its place (the original bytes, where kept,
    /// are blobs and move as they are).
    pub nul_replaced: i64,
}

/// Copies the SQLite store at `from` into the empty PostgreSQL store at `to`.
pub fn sqlite_to_postgres(from: &Path, to: &Target) -> Result<Moved> {
    if !from.exists() {
        return Err(StoreError::Invalid(format!("no store at {}", from.display())));
    }
    // Opening migrates an older SQLite store first, as any pult would.
    drop(crate::store::open_writer(from)?);
    let source = crate::store::open_reader(from)?;
    let side = crate::store::side_blobs::SideBlobs::beside(from);
    let mut target = PgDb::open(to)?;
    // One snapshot of the source: a daemon writing meanwhile changes nothing we read.
    source.execute_batch("BEGIN")?;
    let moved = target.write(|c| {
        // Inside the copy's transaction, under the store's write lock: a
        // second migrate at the same moment waits, then finds this one's rows.
        let mut rows_there = 0;
        for t in TABLES {
            rows_there += c.one(&format!("SELECT count(*) FROM {t}"), &[], |r| r.get::<i64>(0))?;
        }
        if rows_there > 0 {
            return Err(Refused::TargetNotEmpty(to.shown().to_string()).into());
        }
        c.exec("SET CONSTRAINTS ALL DEFERRED", &[])?;
        let mut tables = Vec::new();
        let mut nul_replaced = 0;
        for table in TABLES {
            let n = match *table {
                "search_keys" => copy_search_keys(&source, c)?,
                "blobs" => copy_blobs(&source, c, &side)?,
                t => copy_table(&source, c, t, &mut nul_replaced)?,
            };
            tables.push((table.to_string(), n));
        }
        index_the_rest(&source, c)?;
        continue_counters(c)?;
        Ok(Moved { tables, nul_replaced })
    });
    source.execute_batch("COMMIT")?;
    moved
}

/// A source row's values, strictly: text that is not UTF-8 is refused with
/// its place, never replaced; a NUL (which no PostgreSQL text holds) is
/// shown as ␀ and counted.
fn row_values(table: &str, row: &rusqlite::Row<'_>, width: usize, nul_replaced: &mut i64) -> Result<Vec<Value>> {
    use rusqlite::types::ValueRef;
    (0..width)
        .map(|i| {
            Ok(match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(n) => Value::Int(n),
                ValueRef::Real(f) => Value::Real(f),
                ValueRef::Text(t) => match std::str::from_utf8(t) {
                    Ok(s) if s.contains('\0') => {
                        *nul_replaced += 1;
                        Value::Text(s.replace('\0', "\u{2400}"))
                    }
                    Ok(s) => Value::Text(s.to_string()),
                    Err(_) => {
                        let id: Option<i64> = row.get(0).ok();
                        return Err(StoreError::Invalid(format!(
                            "{table} row {}: column {i} holds text that is not UTF-8",
                            id.map(|i| i.to_string()).unwrap_or_else(|| "?".into())
                        )));
                    }
                },
                ValueRef::Blob(b) => Value::Blob(b.to_vec()),
            })
        })
        .collect()
}

fn columns(source: &rusqlite::Connection, table: &str) -> Result<Vec<String>> {
    let mut st = source.prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?;
    let names = st.query_map([], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
    Ok(names)
}

fn copy_table(source: &rusqlite::Connection, c: &dyn Conn, table: &str, nul_replaced: &mut i64) -> Result<i64> {
    let cols = columns(source, table)?;
    let list = cols.join(", ");
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
    let mut st = source.prepare(&format!("SELECT {list} FROM {table}"))?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let values = row_values(table, row, cols.len(), nul_replaced)?;
        let params: Vec<&dyn crate::store::sql::ToValue> = values.iter().map(|v| v as _).collect();
        c.exec(&insert, &params).map_err(|e| in_table(table, row, e))?;
        n += 1;
    }
    Ok(n)
}

fn in_table(table: &str, row: &rusqlite::Row<'_>, e: StoreError) -> StoreError {
    let id: Option<i64> = row.get(0).ok();
    StoreError::Invalid(format!("{table} row {}: {e}", id.map(|i| i.to_string()).unwrap_or_else(|| "?".into())))
}

/// Blobs kept beside the SQLite file move into the database (PostgreSQL has
/// no file beside it that every host reads), deflated as the store keeps them.
fn copy_blobs(source: &rusqlite::Connection, c: &dyn Conn, side: &crate::store::side_blobs::SideBlobs) -> Result<i64> {
    use std::io::Write as _;
    let mut st = source.prepare("SELECT sha256, size, codec, data FROM blobs")?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        let sha: String = row.get(0)?;
        let (codec, data): (String, Vec<u8>) = match row.get::<_, String>(2)?.as_str() {
            "beside" => {
                let bytes = side.get(&sha)?.ok_or_else(|| {
                    StoreError::Invalid(format!(
                        "blob {sha}: named in the store, missing from {}",
                        side.path().display()
                    ))
                })?;
                let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(&bytes)?;
                ("deflate".into(), z.finish()?)
            }
            other => (other.to_string(), row.get(3)?),
        };
        c.exec(
            "INSERT INTO blobs (sha256, size, codec, data) VALUES (?1, ?2, ?3, ?4)",
            &[&sha, &row.get::<_, i64>(1)?, &codec, &data],
        )?;
        n += 1;
    }
    Ok(n)
}

/// Every message's search key as SQLite numbered it, with its terms.
fn copy_search_keys(source: &rusqlite::Connection, c: &dyn Conn) -> Result<i64> {
    let mut st = source.prepare(
        "SELECT k.key, m.id, m.subject, m.body, m.transcript, m.author || ' ' || coalesce(i.handle, ''),
                m.recipients, m.cc, m.names
         FROM search_keys k JOIN messages m ON m.id = k.message_id
         LEFT JOIN identities i ON i.id = m.author_identity_id",
    )?;
    let mut rows = st.query([])?;
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let recipients = crate::store::search::recipients_text(
            r.get::<_, Option<String>>(6)?.as_deref(),
            r.get::<_, Option<String>>(7)?.as_deref(),
            r.get::<_, Option<String>>(8)?.as_deref(),
        );
        let subject: Option<String> = r.get(2)?;
        let body: String = r.get(3)?;
        let transcript: Option<String> = r.get(4)?;
        let people: String = r.get(5)?;
        let terms = tsearch::with_words(|w| {
            tsearch::message_document(w, subject.as_deref(), &body, transcript.as_deref(), &people, &recipients)
        });
        c.exec(
            "INSERT INTO search_keys (key, message_id, terms) VALUES (?1, ?2, CAST(CAST(?3 AS TEXT) AS tsvector))",
            &[&r.get::<_, i64>(0)?, &r.get::<_, i64>(1)?, &terms],
        )?;
        n += 1;
    }
    Ok(n)
}

/// The terms of notes, attachment names and conversations' titles and clients.
fn index_the_rest(source: &rusqlite::Connection, c: &dyn Conn) -> Result<()> {
    use tsearch::Weight::{A, B};
    let index = |select: &str, insert: &str, two: bool| -> Result<()> {
        let mut st = source.prepare(select)?;
        let mut rows = st.query([])?;
        while let Some(r) = rows.next()? {
            let first: String = r.get(1)?;
            let second: String = if two { r.get(2)? } else { String::new() };
            let terms = tsearch::with_words(|w| tsearch::document(w, &[(&first, A), (&second, B)]));
            c.exec(insert, &[&r.get::<_, i64>(0)?, &terms])?;
        }
        Ok(())
    };
    index(
        "SELECT id, body, actor FROM notes",
        "INSERT INTO notes_search (note_id, terms) VALUES (?1, CAST(CAST(?2 AS TEXT) AS tsvector))",
        true,
    )?;
    index(
        "SELECT id, name FROM attachments",
        "INSERT INTO attachments_search (attachment_id, terms) VALUES (?1, CAST(CAST(?2 AS TEXT) AS tsvector))",
        false,
    )?;
    index(
        "SELECT c.id, c.title, coalesce(k.name || ' ' || coalesce(k.organisation, ''), '')
         FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id",
        "INSERT INTO clients_search (conversation_id, terms) VALUES (?1, CAST(CAST(?2 AS TEXT) AS tsvector))",
        true,
    )
}

/// New rows continue after the moved ones: identities and the change counter.
fn continue_counters(c: &dyn Conn) -> Result<()> {
    let with_ids: Vec<String> = c.all(
        "SELECT table_name::text FROM information_schema.columns
         WHERE table_schema = 'public' AND column_name = 'id' AND is_identity = 'YES'",
        &[],
        |r| r.get(0),
    )?;
    for t in with_ids {
        c.exec(
            &format!(
                "SELECT setval(pg_get_serial_sequence('{t}', 'id'), coalesce((SELECT max(id) FROM {t}), 0) + 1, false)"
            ),
            &[],
        )?;
    }
    c.exec("UPDATE change_counter SET n = (SELECT coalesce(max(seq), 0) FROM changes)", &[])?;
    Ok(())
}
