//! What sync workers keep about their channel besides messages: cursors
//! (`sync_state`), the worker's status, IMAP flags and expunges, voice
//! transcripts. Workers call these; no SQL lives in `channels/`.

use super::sql::WithConn;
use super::writer::{immediate, note_change};
use super::{Db, Result};
use crate::model::ChangeKind;
use crate::model::ChannelStatus;
use crate::model::{FlagChange, Gone};
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;

/// A worker's cursor (an offset, a UIDNEXT, a MODSEQ …), None before the first sync.
pub fn cursor(db: &Db, channel: i64, key: &str) -> Result<Option<String>> {
    let conn = &db.0;
    Ok(conn
        .prepare_cached("SELECT value FROM sync_state WHERE channel_id = ?1 AND key = ?2")?
        .query_row(params![channel, key], |r| r.get(0))
        .optional()?)
}

/// Records the worker's status when it changed, and tells open UIs.
/// Where a channel's history ends and its queue begins: incoming mail dated
/// before the cut-off is stored and searchable but never waits. An explicit
/// cut-off (the account's `history_before`) always applies; otherwise the
/// first sync fixes one, `default_before`, and later syncs keep it.
pub fn begin_history(db: &Db, channel: i64, explicit: Option<i64>, default_before: i64) -> Result<i64> {
    match explicit {
        Some(cut) => {
            db.0.execute("UPDATE channels SET history_before = ?2 WHERE id = ?1", params![channel, cut])?;
        }
        None => {
            db.0.execute(
                "UPDATE channels SET history_before = ?2 WHERE id = ?1 AND history_before IS NULL",
                params![channel, default_before],
            )?;
        }
    }
    Ok(db.0.query_row("SELECT coalesce(history_before, 0) FROM channels WHERE id = ?1", [channel], |r| r.get(0))?)
}

/// How many messages a channel holds (0 before its first sync).
pub fn message_count(db: &Db, channel: i64) -> Result<i64> {
    Ok(db.0.query_row("SELECT count(*) FROM messages WHERE channel_id = ?1", [channel], |r| r.get(0))?)
}

/// How a channel's conversations stand after a sync: (kept as history —
/// every client message in them is from before the cut-off —, waiting).
pub fn history_and_waiting(db: &Db, channel: i64) -> Result<(i64, i64)> {
    Ok(db.0.query_row(
        "SELECT
            (SELECT count(*) FROM conversations c WHERE c.channel_id = ?1
               AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.quiet = 'history')
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'in'
                               AND (m.quiet IS NULL OR m.quiet != 'history'))),
            (SELECT count(*) FROM conversations WHERE channel_id = ?1 AND waiting_since IS NOT NULL AND status = 'open')",
        [channel],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

pub fn set_status(db: &Db, channel: i64, status: &ChannelStatus, now: i64) -> Result<()> {
    status_in(&db.0, channel, status, now)
}

/// [`set_status`] in the caller's transaction (`SyncEvent::Status`).
pub(super) fn status_in(conn: &Connection, channel: i64, status: &ChannelStatus, now: i64) -> Result<()> {
    let text = status.to_stored();
    let changed = conn.execute(
        "UPDATE channels SET status = ?1 WHERE id = ?2 AND coalesce(status, '') != ?1",
        params![text, channel],
    )?;
    if changed > 0 {
        conn.execute("INSERT INTO changes (at, kind) VALUES (?1, 'channel')", [now])?;
    }
    Ok(())
}

/// How many mails of a folder the store has on the server (not expunged).
pub fn live_mails(db: &Db, channel: i64, folder: &str) -> Result<i64> {
    let conn = &db.0;
    Ok(conn.query_row(
        "SELECT count(*) FROM messages INDEXED BY messages_imap_live
         WHERE channel_id = ?1 AND imap_folder = ?2 AND expunged = 0 AND imap_uid IS NOT NULL",
        params![channel, folder],
        |r| r.get(0),
    )?)
}

/// Flags changed elsewhere and expunged mail, with the new HIGHESTMODSEQ, in
/// the caller's transaction (`SyncEvent::Mailbox`). Expunged mail is kept and
/// marked: pult never loses what the server dropped. Returns how many were
/// newly marked.
pub(super) fn apply_mailbox(
    tx: &rusqlite::Transaction<'_>,
    channel: i64,
    folder: &str,
    changed: &[FlagChange],
    gone: &Gone,
    highest_modseq: Option<u64>,
    now: i64,
) -> Result<usize> {
    let mut touched = BTreeSet::new();
    for FlagChange { uid, seen, answered } in changed {
        let conv: Option<i64> = tx
            .prepare_cached(
                "UPDATE messages SET seen = ?4, answered = ?5
                 WHERE channel_id = ?1 AND imap_folder = ?2 AND imap_uid = ?3 AND (seen != ?4 OR answered != ?5)
                 RETURNING conversation_id",
            )?
            .query_row(params![channel, folder, uid, seen, answered], |r| r.get(0))
            .optional()?;
        touched.extend(conv);
    }
    let mut marked = 0usize;
    let mut mark = |tx: &rusqlite::Transaction<'_>, lo: u32, hi: u32| -> rusqlite::Result<()> {
        let mut stmt = tx.prepare_cached(
            "UPDATE messages SET expunged = 1
             WHERE channel_id = ?1 AND imap_folder = ?2 AND imap_uid BETWEEN ?3 AND ?4 AND expunged = 0
             RETURNING conversation_id",
        )?;
        let convs = stmt.query_map(params![channel, folder, lo, hi], |r| r.get::<_, i64>(0))?;
        for conv in convs {
            touched.insert(conv?);
            marked += 1;
        }
        Ok(())
    };
    match gone {
        Gone::Nothing => {}
        Gone::Ranges(ranges) => {
            for r in ranges {
                mark(tx, *r.start(), *r.end())?;
            }
        }
        Gone::AllPresent(present) => {
            let local: Vec<u32> = tx
                .prepare(
                    "SELECT imap_uid FROM messages
                     WHERE channel_id = ?1 AND imap_folder = ?2 AND expunged = 0 AND imap_uid IS NOT NULL",
                )?
                .query_map(params![channel, folder], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            for uid in local.into_iter().filter(|u| !present.contains(u)) {
                mark(tx, uid, uid)?;
            }
        }
    }
    if let Some(h) = highest_modseq {
        tx.execute(
            "INSERT INTO sync_state (channel_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
            params![channel, format!("{folder}.modseq"), h.to_string()],
        )?;
    }
    for conv in touched {
        note_change(tx, now, ChangeKind::Flags, Some(conv), None)?;
    }
    Ok(marked)
}

/// Flags pult owes the server in a folder: (message, UID, flags).
pub fn flags_to_push(db: &Db, channel: i64, folder: &str) -> Result<Vec<(i64, u32, String)>> {
    let conn = &db.0;
    Ok(conn
        .prepare_cached(
            "SELECT id, imap_uid, flag_push FROM messages INDEXED BY messages_flag_push
             WHERE channel_id = ?1 AND flag_push IS NOT NULL AND imap_folder = ?2 AND imap_uid IS NOT NULL",
        )?
        .query_map(params![channel, folder], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The server has the flags pult owed it.
pub fn flags_pushed(db: &Db, message: i64, seen: bool, answered: bool) -> Result<()> {
    let conn = &db.0;
    conn.execute(
        "UPDATE messages SET flag_push = NULL, seen = max(seen, ?2), answered = max(answered, ?3) WHERE id = ?1",
        params![message, seen, answered],
    )?;
    Ok(())
}

/// Voice messages of a channel without a transcript: (message, file reference).
pub fn untranscribed_voice(db: &Db, channel: i64) -> Result<Vec<(i64, String)>> {
    let conn = &db.0;
    Ok(conn
        .prepare_cached(
            "SELECT m.id, a.remote_ref FROM messages m JOIN attachments a ON a.message_id = m.id
             WHERE m.channel_id = ?1 AND a.mime = 'audio/ogg' AND a.remote_ref IS NOT NULL AND m.transcript IS NULL",
        )?
        .query_map([channel], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// A voice message's text joins its body, so the thread shows it and search finds it.
pub fn add_transcript(db: &mut Db, message: i64, text: &str, now: i64) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    tx.execute(
        "UPDATE messages SET transcript = ?1, body = body || char(10) || '📝 ' || ?1 WHERE id = ?2",
        params![text, message],
    )?;
    let conv: i64 = tx.query_row("SELECT conversation_id FROM messages WHERE id = ?1", [message], |r| r.get(0))?;
    note_change(&tx, now, ChangeKind::Messages, Some(conv), None)?;
    tx.commit()?;
    Ok(())
}

/// An attachment whose bytes are still only at the provider (WhatsApp media
/// ids expire after about a week, so they are fetched when they arrive).
#[derive(Debug, Clone, PartialEq)]
pub struct PendingMedia {
    pub attachment: i64,
    pub message: i64,
    pub media_id: String,
    pub mime: String,
}

/// Attachments of a channel not fetched yet and not given up on.
pub fn unfetched_media(db: &Db, channel: i64) -> Result<Vec<PendingMedia>> {
    let conn = &db.0;
    Ok(conn
        .prepare_cached(
            "SELECT a.id, a.message_id, a.remote_ref, a.mime FROM attachments a JOIN messages m ON m.id = a.message_id
             WHERE m.channel_id = ?1 AND m.direction = 'in' AND a.remote_ref IS NOT NULL
               AND a.content_hash IS NULL AND a.fetch_error IS NULL
             ORDER BY a.id",
        )?
        .query_map([channel], |r| {
            Ok(PendingMedia { attachment: r.get(0)?, message: r.get(1)?, media_id: r.get(2)?, mime: r.get(3)? })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The bytes are kept (content-addressed by `hash`): the attachment can be
/// saved and played without the provider.
/// Media fetched: its bytes go into the store's blobs, where every team
/// member's pult reads them (and where they outlive the media id, which
/// expires). Returns the bytes' SHA-256.
pub fn media_fetched(db: &mut Db, attachment: i64, bytes: &[u8], mime: &str, now: i64) -> Result<String> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let hash = super::originals::put_blob_as_is(&tx, bytes)?;
    let size = bytes.len() as i64;
    let conversation: i64 = tx.query_row(
        "UPDATE attachments SET content_hash = ?2, size = ?3, mime = ?4, fetch_error = NULL WHERE id = ?1
         RETURNING (SELECT conversation_id FROM messages WHERE id = attachments.message_id)",
        params![attachment, hash, size, mime],
        |r| r.get(0),
    )?;
    note_change(&tx, now, ChangeKind::Messages, Some(conversation), None)?;
    tx.commit()?;
    Ok(hash)
}

/// The bytes cannot be had (the id expired, the file is over the size limit):
/// the reason is shown on the attachment and it is not tried again.
pub fn media_failed(db: &mut Db, attachment: i64, reason: &str, now: i64) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let conversation: i64 = tx.query_row(
        "UPDATE attachments SET fetch_error = ?2 WHERE id = ?1
         RETURNING (SELECT conversation_id FROM messages WHERE id = attachments.message_id)",
        params![attachment, reason],
        |r| r.get(0),
    )?;
    note_change(&tx, now, ChangeKind::Messages, Some(conversation), None)?;
    tx.commit()?;
    Ok(())
}

/// How many things a channel sent that pult could not read (`pult doctor`).
pub fn quarantined(db: &Db, channel: i64) -> Result<i64> {
    Ok(db.0.query_row("SELECT count(*) FROM quarantine WHERE channel_id = ?1", [channel], |r| r.get(0))?)
}

/// Client messages a person has read in pult and the provider has not been
/// told of yet (WhatsApp's blue ticks): the newest read one of each
/// conversation of the channel, from the last `since`, as (conversation,
/// message, remote id). Told once: see [`read_reported`].
/// Only conversations whose key is LIKE `keys` (`%` for all).
pub fn reads_to_report(db: &Db, channel: i64, since: i64, keys: &str) -> Result<Vec<(i64, i64, String)>> {
    Ok(db
        .0
        .prepare_cached(
            "SELECT c.id, m.id, m.remote_id FROM conversations c
             JOIN messages m ON m.id = (SELECT max(x.id) FROM messages x
                                        WHERE x.conversation_id = c.id AND x.direction = 'in'
                                          AND x.id <= (SELECT max(rm.message_id) FROM read_marks rm
                                                       WHERE rm.conversation_id = c.id))
             WHERE c.channel_id = ?1 AND m.sent_at >= ?2 AND c.remote_key LIKE ?3
               AND m.id > coalesce((SELECT CAST(value AS INTEGER) FROM sync_state
                                    WHERE channel_id = ?1 AND key = 'read:' || c.id), 0)",
        )?
        .query_map(params![channel, since, keys], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<Vec<_>>>()?)
}

/// The provider knows `message` (and all before it) of `conversation` is read.
pub fn read_reported(db: &mut Db, channel: i64, conversation: i64, message: i64) -> Result<()> {
    db.0.execute(
        "INSERT INTO sync_state (channel_id, key, value) VALUES (?1, 'read:' || ?2, ?3)
         ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
        params![channel, conversation, message.to_string()],
    )?;
    Ok(())
}

/// The connections of a channel (Telegram Business), as last told.
pub fn connections(db: &Db, channel: i64) -> Result<Vec<crate::model::Connection>> {
    connections_of(&db.0, channel)
}

pub(super) fn connections_of(c: &(impl WithConn + ?Sized), channel: i64) -> Result<Vec<crate::model::Connection>> {
    c.with_conn(|c| {
        c.all(
            "SELECT id, owner_id, owner_name, can_reply, can_read, enabled, date FROM connections
             WHERE channel_id = ?1 ORDER BY owner_name, id",
            &[&channel],
            |r| {
                Ok(crate::model::Connection {
                    id: r.get(0)?,
                    owner_id: r.get(1)?,
                    owner_name: r.get(2)?,
                    can_reply: r.get(3)?,
                    can_read: r.get(4)?,
                    enabled: r.get(5)?,
                    date: r.get(6)?,
                })
            },
        )
    })
}
