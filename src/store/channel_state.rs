//! What sync workers keep about their channel besides messages: cursors
//! (`sync_state`), the worker's status, IMAP flags and expunges, voice
//! transcripts. Workers call these; no SQL lives in `channels/`.

use super::Result;
use super::sql::{Conn, Engine, Searchable, Transact, WithConn};
use super::writer::note_change;
use crate::model::ChangeKind;
use crate::model::ChannelStatus;
use crate::model::{FlagChange, Gone};
use std::collections::BTreeSet;

/// A worker's cursor (an offset, a UIDNEXT, a MODSEQ …), None before the first sync.
pub fn cursor(c: &(impl WithConn + ?Sized), channel: i64, key: &str) -> Result<Option<String>> {
    c.with_conn(|c| {
        c.opt("SELECT value FROM sync_state WHERE channel_id = ?1 AND key = ?2", &[&channel, &key], |r| r.get(0))
    })
}

/// Where a channel's history ends and its queue begins: incoming mail dated
/// before the cut-off is stored and searchable but never waits. An explicit
/// cut-off (the account's `history_before`) always applies; otherwise the
/// first sync fixes one, `default_before`, and later syncs keep it.
pub fn begin_history(db: &mut impl Transact, channel: i64, explicit: Option<i64>, default_before: i64) -> Result<i64> {
    db.write(|c| {
        match explicit {
            Some(cut) => c.exec("UPDATE channels SET history_before = ?2 WHERE id = ?1", &[&channel, &cut])?,
            None => c.exec(
                "UPDATE channels SET history_before = ?2 WHERE id = ?1 AND history_before IS NULL",
                &[&channel, &default_before],
            )?,
        };
        c.one("SELECT coalesce(history_before, 0) FROM channels WHERE id = ?1", &[&channel], |r| r.get(0))
    })
}

/// How many messages a channel holds (0 before its first sync).
pub fn message_count(c: &(impl WithConn + ?Sized), channel: i64) -> Result<i64> {
    c.with_conn(|c| c.one("SELECT count(*) FROM messages WHERE channel_id = ?1", &[&channel], |r| r.get(0)))
}

/// How a channel's conversations stand after a sync: (kept as history —
/// every client message in them is from before the cut-off —, waiting).
pub fn history_and_waiting(c: &(impl WithConn + ?Sized), channel: i64) -> Result<(i64, i64)> {
    c.with_conn(|c| {
        c.one(
            "SELECT
                (SELECT count(*) FROM conversations c WHERE c.channel_id = ?1
                   AND EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.quiet = 'history')
                   AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'in'
                                   AND (m.quiet IS NULL OR m.quiet != 'history'))),
                (SELECT count(*) FROM conversations WHERE channel_id = ?1 AND waiting_since IS NOT NULL
                   AND status = 'open')",
            &[&channel],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

/// Records the worker's status when it changed, and tells open UIs (also in
/// the caller's transaction: `SyncEvent::Status`).
pub fn set_status(c: &(impl WithConn + ?Sized), channel: i64, status: &ChannelStatus, now: i64) -> Result<()> {
    let text = status.to_stored();
    c.with_conn(|c| {
        let changed =
            c.exec("UPDATE channels SET status = ?1 WHERE id = ?2 AND coalesce(status, '') != ?1", &[&text, &channel])?;
        if changed > 0 {
            note_change(c, now, ChangeKind::Channel, None, None)?;
        }
        Ok(())
    })
}

/// SQLite's planner, without statistics, is told which index answers these.
fn indexed_by(c: &dyn Conn, index: &str) -> String {
    if c.engine() == Engine::Sqlite { format!("INDEXED BY {index}") } else { String::new() }
}

/// How many mails of a folder the store has on the server (not expunged).
pub fn live_mails(c: &(impl WithConn + ?Sized), channel: i64, folder: &str) -> Result<i64> {
    c.with_conn(|c| {
        c.one(
            &format!(
                "SELECT count(*) FROM messages {}
                 WHERE channel_id = ?1 AND imap_folder = ?2 AND expunged = 0 AND imap_uid IS NOT NULL",
                indexed_by(c, "messages_imap_live")
            ),
            &[&channel, &folder],
            |r| r.get(0),
        )
    })
}

/// Flags changed elsewhere and expunged mail, with the new HIGHESTMODSEQ, in
/// the caller's transaction (`SyncEvent::Mailbox`). Expunged mail is kept and
/// marked: pult never loses what the server dropped. Returns how many were
/// newly marked.
pub fn apply_mailbox(
    c: &(impl WithConn + ?Sized),
    channel: i64,
    folder: &str,
    changed: &[FlagChange],
    gone: &Gone,
    highest_modseq: Option<u64>,
    now: i64,
) -> Result<usize> {
    c.with_conn(|c| {
        let mut touched = BTreeSet::new();
        for FlagChange { uid, seen, answered } in changed {
            let conv: Option<i64> = c.opt(
                "UPDATE messages SET seen = ?4, answered = ?5
                 WHERE channel_id = ?1 AND imap_folder = ?2 AND imap_uid = ?3 AND (seen != ?4 OR answered != ?5)
                 RETURNING conversation_id",
                &[&channel, &folder, uid, seen, answered],
                |r| r.get(0),
            )?;
            touched.extend(conv);
        }
        let mut marked = 0usize;
        let mut mark = |lo: u32, hi: u32| -> Result<()> {
            let convs: Vec<i64> = c.all(
                "UPDATE messages SET expunged = 1
                 WHERE channel_id = ?1 AND imap_folder = ?2 AND imap_uid BETWEEN ?3 AND ?4 AND expunged = 0
                 RETURNING conversation_id",
                &[&channel, &folder, &lo, &hi],
                |r| r.get(0),
            )?;
            marked += convs.len();
            touched.extend(convs);
            Ok(())
        };
        match gone {
            Gone::Nothing => {}
            Gone::Ranges(ranges) => {
                for r in ranges {
                    mark(*r.start(), *r.end())?;
                }
            }
            Gone::AllPresent(present) => {
                let local: Vec<u32> = c.all(
                    "SELECT imap_uid FROM messages
                     WHERE channel_id = ?1 AND imap_folder = ?2 AND expunged = 0 AND imap_uid IS NOT NULL",
                    &[&channel, &folder],
                    |r| r.get(0),
                )?;
                for uid in local.into_iter().filter(|u| !present.contains(u)) {
                    mark(uid, uid)?;
                }
            }
        }
        if let Some(h) = highest_modseq {
            c.exec(
                "INSERT INTO sync_state (channel_id, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
                &[&channel, &format!("{folder}.modseq"), &h.to_string()],
            )?;
        }
        for conv in touched {
            note_change(c, now, ChangeKind::Flags, Some(conv), None)?;
        }
        Ok(marked)
    })
}

/// Flags pult owes the server in a folder: (message, UID, flags).
pub fn flags_to_push(c: &(impl WithConn + ?Sized), channel: i64, folder: &str) -> Result<Vec<(i64, u32, String)>> {
    c.with_conn(|c| {
        c.all(
            &format!(
                "SELECT id, imap_uid, flag_push FROM messages {}
                 WHERE channel_id = ?1 AND flag_push IS NOT NULL AND imap_folder = ?2 AND imap_uid IS NOT NULL",
                indexed_by(c, "messages_flag_push")
            ),
            &[&channel, &folder],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    })
}

/// The server has the flags pult owed it.
pub fn flags_pushed(c: &(impl WithConn + ?Sized), message: i64, seen: bool, answered: bool) -> Result<()> {
    c.with_conn(|c| {
        c.exec(
            "UPDATE messages SET flag_push = NULL,
                 seen = CASE WHEN ?2 = 1 THEN 1 ELSE seen END, answered = CASE WHEN ?3 = 1 THEN 1 ELSE answered END
             WHERE id = ?1",
            &[&message, &seen, &answered],
        )?;
        Ok(())
    })
}

/// Voice messages of a channel without a transcript: (message, file reference).
pub fn untranscribed_voice(c: &(impl WithConn + ?Sized), channel: i64) -> Result<Vec<(i64, String)>> {
    c.with_conn(|c| {
        c.all(
            "SELECT m.id, a.remote_ref FROM messages m JOIN attachments a ON a.message_id = m.id
             WHERE m.channel_id = ?1 AND a.mime = 'audio/ogg' AND a.remote_ref IS NOT NULL AND m.transcript IS NULL",
            &[&channel],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

/// A voice message's text joins its body, so the thread shows it and search finds it.
pub fn add_transcript(db: &mut impl Transact, message: i64, text: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let conv: i64 = c.one(
            "UPDATE messages SET transcript = ?1, body = body || ?3 || ?1 WHERE id = ?2 RETURNING conversation_id",
            &[&text, &message, &"\n📝 "],
            |r| r.get(0),
        )?;
        c.reindex(Searchable::Message(message))?;
        note_change(c, now, ChangeKind::Messages, Some(conv), None)
    })
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
pub fn unfetched_media(c: &(impl WithConn + ?Sized), channel: i64) -> Result<Vec<PendingMedia>> {
    c.with_conn(|c| {
        c.all(
            "SELECT a.id, a.message_id, a.remote_ref, a.mime FROM attachments a JOIN messages m ON m.id = a.message_id
             WHERE m.channel_id = ?1 AND m.direction = 'in' AND a.remote_ref IS NOT NULL
               AND a.content_hash IS NULL AND a.fetch_error IS NULL
             ORDER BY a.id",
            &[&channel],
            |r| Ok(PendingMedia { attachment: r.get(0)?, message: r.get(1)?, media_id: r.get(2)?, mime: r.get(3)? }),
        )
    })
}

/// Media fetched: its bytes go into the store's blobs, where every team
/// member's pult reads them (and where they outlive the media id, which
/// expires). Returns the bytes' SHA-256.
pub fn media_fetched(db: &mut impl Transact, attachment: i64, bytes: &[u8], mime: &str, now: i64) -> Result<String> {
    db.write(|c| {
        let hash = super::originals::put_blob_as_is(c, bytes)?;
        let conversation: i64 = c.one(
            "UPDATE attachments SET content_hash = ?2, size = ?3, mime = ?4, fetch_error = NULL WHERE id = ?1
             RETURNING (SELECT conversation_id FROM messages WHERE id = attachments.message_id)",
            &[&attachment, &hash, &bytes.len(), &mime],
            |r| r.get(0),
        )?;
        note_change(c, now, ChangeKind::Messages, Some(conversation), None)?;
        Ok(hash)
    })
}

/// The bytes cannot be had (the id expired, the file is over the size limit):
/// the reason is shown on the attachment and it is not tried again.
pub fn media_failed(db: &mut impl Transact, attachment: i64, reason: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let conversation: i64 = c.one(
            "UPDATE attachments SET fetch_error = ?2 WHERE id = ?1
             RETURNING (SELECT conversation_id FROM messages WHERE id = attachments.message_id)",
            &[&attachment, &reason],
            |r| r.get(0),
        )?;
        note_change(c, now, ChangeKind::Messages, Some(conversation), None)
    })
}

/// How many things a channel sent that pult could not read (`pult doctor`).
pub fn quarantined(c: &(impl WithConn + ?Sized), channel: i64) -> Result<i64> {
    c.with_conn(|c| c.one("SELECT count(*) FROM quarantine WHERE channel_id = ?1", &[&channel], |r| r.get(0)))
}

/// Client messages a person has read in pult and the provider has not been
/// told of yet (WhatsApp's blue ticks): the newest read one of each
/// conversation of the channel, from the last `since`, as (conversation,
/// message, remote id). Told once: see [`read_reported`].
/// Only conversations whose key is LIKE `keys` (`%` for all).
pub fn reads_to_report(
    c: &(impl WithConn + ?Sized),
    channel: i64,
    since: i64,
    keys: &str,
) -> Result<Vec<(i64, i64, String)>> {
    c.with_conn(|c| {
        c.all(
            "SELECT c.id, m.id, m.remote_id FROM conversations c
             JOIN messages m ON m.id = (SELECT max(x.id) FROM messages x
                                        WHERE x.conversation_id = c.id AND x.direction = 'in'
                                          AND x.id <= (SELECT max(rm.message_id) FROM read_marks rm
                                                       WHERE rm.conversation_id = c.id))
             WHERE c.channel_id = ?1 AND m.sent_at >= ?2 AND c.remote_key LIKE ?3
               AND m.id > coalesce((SELECT CAST(value AS BIGINT) FROM sync_state
                                    WHERE channel_id = ?1 AND key = 'read:' || c.id), 0)",
            &[&channel, &since, &keys],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    })
}

/// The provider knows `message` (and all before it) of `conversation` is read.
pub fn read_reported(c: &(impl WithConn + ?Sized), channel: i64, conversation: i64, message: i64) -> Result<()> {
    c.with_conn(|c| {
        c.exec(
            "INSERT INTO sync_state (channel_id, key, value) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
            &[&channel, &format!("read:{conversation}"), &message.to_string()],
        )?;
        Ok(())
    })
}

/// The connections of a channel (Telegram Business), as last told.
pub fn connections(c: &(impl WithConn + ?Sized), channel: i64) -> Result<Vec<crate::model::Connection>> {
    connections_of(c, channel)
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
