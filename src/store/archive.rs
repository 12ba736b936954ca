//! Channels that come and go: a channel whose account left the config is
//! archived (its history stays, searchable, without a worker or a warning),
//! every channel's state for `pult channels`, and the removal of an archived
//! channel's history for good.

use super::writer::{audit, immediate, note_change};
use super::{Db, Result, StoreError};
use crate::model::{ChangeKind, ChannelKind, ChannelStatus};
use rusqlite::{OptionalExtension, params};

/// The store row of a channel, by name, without creating one.
pub fn channel_id(db: &Db, name: &str) -> Result<Option<i64>> {
    Ok(db.0.query_row("SELECT id FROM channels WHERE name = ?1", [name], |r| r.get(0)).optional()?)
}

/// Archives every channel that `configured` (the config's account names) no
/// longer names, and brings back an archived one named again. Returns the
/// names archived now. An archived channel's last worker status is dropped:
/// nobody will clear its `⚠`.
pub fn reconcile(db: &mut Db, configured: &[String], now: i64) -> Result<Vec<String>> {
    let tx = immediate(&mut db.0)?;
    let rows: Vec<(i64, String, bool)> = tx
        .prepare("SELECT id, name, archived_at IS NOT NULL FROM channels")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut archived = Vec::new();
    let mut changed = false;
    for (id, name, was_archived) in rows {
        let wanted = configured.contains(&name);
        if wanted && was_archived {
            tx.execute("UPDATE channels SET archived_at = NULL WHERE id = ?1", [id])?;
            changed = true;
        } else if !wanted && !was_archived {
            tx.execute("UPDATE channels SET archived_at = ?2, status = NULL WHERE id = ?1", params![id, now])?;
            archived.push(name);
            changed = true;
        }
    }
    if changed {
        note_change(&tx, now, ChangeKind::Channel, None, None)?;
    }
    tx.commit()?;
    Ok(archived)
}

/// A channel as the store keeps it (`pult channels`).
#[derive(Debug, Clone, PartialEq)]
pub struct StoredChannel {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    /// When its account left the config; None while it is configured.
    pub archived_at: Option<i64>,
    /// What its worker last said.
    pub status: Option<ChannelStatus>,
    pub conversations: i64,
    pub messages: i64,
}

/// Every channel of the store, by kind and name.
pub fn list(db: &Db) -> Result<Vec<StoredChannel>> {
    Ok(db
        .0
        .prepare(
            "SELECT ch.id, ch.name, ch.kind, ch.archived_at, ch.status,
                    (SELECT count(*) FROM conversations c WHERE c.channel_id = ch.id),
                    (SELECT count(*) FROM messages m WHERE m.channel_id = ch.id)
             FROM channels ch ORDER BY ch.kind, ch.name",
        )?
        .query_map([], |r| {
            let kind: String = r.get(2)?;
            Ok(StoredChannel {
                id: r.get(0)?,
                name: r.get(1)?,
                kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                archived_at: r.get(3)?,
                status: r.get::<_, Option<String>>(4)?.as_deref().and_then(ChannelStatus::from_stored),
                conversations: r.get(5)?,
                messages: r.get(6)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?)
}

/// What a removal deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub conversations: i64,
    pub messages: i64,
    /// Originals kept beside the store that nothing names any more: the
    /// caller deletes their files once the removal is committed.
    pub beside: Vec<String>,
}

/// Everything that hangs on a channel's conversations and messages, in the
/// order the foreign keys allow. `?1` is the channel.
const DELETES: &[&str] = &[
    // The bytes these messages kept (originals, files), before their rows go.
    "INSERT OR IGNORE INTO doomed_blobs SELECT sha256 FROM originals WHERE message_id IN (SELECT id FROM doomed_messages)",
    "INSERT OR IGNORE INTO doomed_blobs SELECT content_hash FROM attachments
        WHERE content_hash IS NOT NULL AND message_id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM reactions WHERE message_id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM messages_edits WHERE message_id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM attachments WHERE message_id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM mail_auth WHERE message_id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM originals WHERE message_id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM tasks WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
    "DELETE FROM outbox WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
    // Rows elsewhere that only point at a doomed message keep their own data.
    "UPDATE tasks SET source_message_id = NULL WHERE source_message_id IN (SELECT id FROM doomed_messages)",
    "UPDATE outbox SET message_id = NULL WHERE message_id IN (SELECT id FROM doomed_messages)",
    "UPDATE outbox SET reply_to_message_id = NULL WHERE reply_to_message_id IN (SELECT id FROM doomed_messages)",
    "UPDATE outbox SET forward_of = NULL WHERE forward_of IN (SELECT id FROM doomed_messages)",
    "DELETE FROM notes WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
    "DELETE FROM assignments WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
    "DELETE FROM claims WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
    "DELETE FROM read_marks WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
    "DELETE FROM drafts WHERE conversation_id IN (SELECT id FROM doomed_conversations)
        OR (kind = 'email' AND conversation_id = 0 AND ref_id = ?1)",
    "DELETE FROM thread_keys WHERE channel_id = ?1 OR conversation_id IN (SELECT id FROM doomed_conversations)",
    "DELETE FROM pending_reports WHERE channel_id = ?1",
    "DELETE FROM sync_state WHERE channel_id = ?1",
    "DELETE FROM quarantine WHERE channel_id = ?1",
    "DELETE FROM connections WHERE channel_id = ?1",
    "DELETE FROM messages WHERE id IN (SELECT id FROM doomed_messages)",
    "DELETE FROM conversations WHERE channel_id = ?1",
    "DELETE FROM channels WHERE id = ?1",
];

/// Deletes an archived channel with its conversations, messages, attachment
/// records, notes, promises, outbox rows and cursors, in one transaction,
/// audited. A configured channel is refused: only an account that left the
/// config can be forgotten. Clients stay (they may write on other channels),
/// and so does the audit log.
pub fn remove(db: &mut Db, name: &str, actor: &str, now: i64) -> Result<Removed> {
    let tx = immediate(&mut db.0)?;
    let found: Option<(i64, String, Option<i64>)> = tx
        .query_row("SELECT id, kind, archived_at FROM channels WHERE name = ?1", [name], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .optional()?;
    let Some((id, kind, archived_at)) = found else {
        return Err(StoreError::Invalid(format!("no channel named {name:?} in the store")));
    };
    if archived_at.is_none() {
        return Err(StoreError::Invalid(format!(
            "channel {name:?} is not archived: its account is still in the config that runs its worker"
        )));
    }
    tx.execute_batch(
        "CREATE TEMP TABLE IF NOT EXISTS doomed_conversations (id INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS doomed_messages (id INTEGER PRIMARY KEY);
         CREATE TEMP TABLE IF NOT EXISTS doomed_blobs (sha256 TEXT PRIMARY KEY);
         DELETE FROM doomed_conversations; DELETE FROM doomed_messages; DELETE FROM doomed_blobs;",
    )?;
    let conversations =
        tx.execute("INSERT INTO doomed_conversations SELECT id FROM conversations WHERE channel_id = ?1", [id])? as i64;
    let messages = tx.execute(
        "INSERT INTO doomed_messages SELECT id FROM messages
         WHERE channel_id = ?1 OR conversation_id IN (SELECT id FROM doomed_conversations)",
        [id],
    )? as i64;
    for sql in DELETES {
        // Each statement names the channel only where it needs it.
        if sql.contains("?1") {
            tx.execute(sql, [id])?;
        } else {
            tx.execute(sql, [])?;
        }
    }
    tx.execute(
        "DELETE FROM accounts WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM channels WHERE account_id = accounts.id)",
        [name],
    )?;
    // Bytes that only these messages named go with them (content-addressed:
    // another message with the same bytes keeps them).
    tx.execute(
        "DELETE FROM doomed_blobs WHERE sha256 IN (SELECT sha256 FROM originals)
            OR sha256 IN (SELECT content_hash FROM attachments WHERE content_hash IS NOT NULL)",
        [],
    )?;
    let beside: Vec<String> = tx
        .prepare("SELECT sha256 FROM blobs WHERE codec = 'beside' AND sha256 IN (SELECT sha256 FROM doomed_blobs)")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    tx.execute("DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM doomed_blobs)", [])?;
    tx.execute_batch("DELETE FROM doomed_conversations; DELETE FROM doomed_messages; DELETE FROM doomed_blobs;")?;
    let detail = format!("{name} ({kind}): {conversations} conversations, {messages} messages deleted");
    audit(&tx, now, actor, "channel_removed", None, &detail)?;
    // Lists everywhere lose these conversations: every open UI reloads.
    note_change(&tx, now, ChangeKind::Messages, None, Some(actor))?;
    tx.commit()?;
    Ok(Removed { conversations, messages, beside })
}
