//! Channels that come and go: a channel whose account left the config is
//! archived (its history stays, searchable, without a worker or a warning),
//! every channel's state for `pult channels`, and the removal of an archived
//! channel's history for good.

use super::sql::{Engine, Transact, WithConn};
use super::writer::{audit, note_change};
use super::{Result, StoreError};
use crate::model::{ChangeKind, ChannelKind, ChannelStatus};

/// The store row of a channel, by name, without creating one.
pub fn channel_id(c: &(impl WithConn + ?Sized), name: &str) -> Result<Option<i64>> {
    c.with_conn(|c| c.opt("SELECT id FROM channels WHERE name = ?1", &[&name], |r| r.get(0)))
}

/// Archives every channel that `configured` (the config's account names) no
/// longer names, and brings back an archived one named again. Returns the
/// names archived now. An archived channel's last worker status is dropped:
/// nobody will clear its `⚠`.
pub fn reconcile(db: &mut impl Transact, configured: &[String], now: i64) -> Result<Vec<String>> {
    db.write(|c| {
        let rows: Vec<(i64, String, bool)> =
            c.all("SELECT id, name, CASE WHEN archived_at IS NULL THEN 0 ELSE 1 END FROM channels", &[], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let mut archived = Vec::new();
        let mut changed = false;
        for (id, name, was_archived) in rows {
            let wanted = configured.contains(&name);
            if wanted && was_archived {
                c.exec("UPDATE channels SET archived_at = NULL WHERE id = ?1", &[&id])?;
                changed = true;
            } else if !wanted && !was_archived {
                c.exec("UPDATE channels SET archived_at = ?2, status = NULL WHERE id = ?1", &[&id, &now])?;
                archived.push(name);
                changed = true;
            }
        }
        if changed {
            note_change(c, now, ChangeKind::Channel, None, None)?;
        }
        Ok(archived)
    })
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
pub fn list(c: &(impl WithConn + ?Sized)) -> Result<Vec<StoredChannel>> {
    c.with_conn(|c| {
        c.all(
            "SELECT ch.id, ch.name, ch.kind, ch.archived_at, ch.status,
                    (SELECT count(*) FROM conversations c WHERE c.channel_id = ch.id),
                    (SELECT count(*) FROM messages m WHERE m.channel_id = ch.id)
             FROM channels ch ORDER BY ch.kind, ch.name",
            &[],
            |r| {
                Ok(StoredChannel {
                    id: r.get(0)?,
                    name: r.get(1)?,
                    kind: ChannelKind::parse(&r.get::<String>(2)?).unwrap_or(ChannelKind::Email),
                    archived_at: r.get(3)?,
                    status: r.get::<Option<String>>(4)?.as_deref().and_then(ChannelStatus::from_stored),
                    conversations: r.get(5)?,
                    messages: r.get(6)?,
                })
            },
        )
    })
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
    "INSERT INTO doomed_blobs SELECT sha256 FROM originals WHERE message_id IN (SELECT id FROM doomed_messages)
        ON CONFLICT DO NOTHING",
    "INSERT INTO doomed_blobs SELECT content_hash FROM attachments
        WHERE content_hash IS NOT NULL AND message_id IN (SELECT id FROM doomed_messages) ON CONFLICT DO NOTHING",
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
pub fn remove(db: &mut impl Transact, name: &str, actor: &str, now: i64) -> Result<Removed> {
    db.write(|c| {
        let found: Option<(i64, String, Option<i64>)> =
            c.opt("SELECT id, kind, archived_at FROM channels WHERE name = ?1", &[&name], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?;
        let Some((id, kind, archived_at)) = found else {
            return Err(StoreError::Invalid(format!("no channel named {name:?} in the store")));
        };
        if archived_at.is_none() {
            return Err(StoreError::Invalid(format!(
                "channel {name:?} is not archived: its account is still in the config that runs its worker"
            )));
        }
        for sql in [
            "CREATE TEMP TABLE IF NOT EXISTS doomed_conversations (id BIGINT PRIMARY KEY)",
            "CREATE TEMP TABLE IF NOT EXISTS doomed_messages (id BIGINT PRIMARY KEY)",
            "CREATE TEMP TABLE IF NOT EXISTS doomed_blobs (sha256 TEXT PRIMARY KEY)",
            "DELETE FROM doomed_conversations",
            "DELETE FROM doomed_messages",
            "DELETE FROM doomed_blobs",
        ] {
            c.exec(sql, &[])?;
        }
        let conversations =
            c.exec("INSERT INTO doomed_conversations SELECT id FROM conversations WHERE channel_id = ?1", &[&id])? as i64;
        let messages = c.exec(
            "INSERT INTO doomed_messages SELECT id FROM messages
             WHERE channel_id = ?1 OR conversation_id IN (SELECT id FROM doomed_conversations)",
            &[&id],
        )? as i64;
        // SQLite's triggers take the doomed rows out of its FTS indexes;
        // PostgreSQL's terms are rows of their own.
        let search: &[&str] = if c.engine() == Engine::Postgres {
            &[
                "DELETE FROM search_keys WHERE message_id IN (SELECT id FROM doomed_messages)",
                "DELETE FROM attachments_search WHERE attachment_id IN
                    (SELECT id FROM attachments WHERE message_id IN (SELECT id FROM doomed_messages))",
                "DELETE FROM clients_search WHERE conversation_id IN (SELECT id FROM doomed_conversations)",
            ]
        } else {
            &[]
        };
        for sql in search.iter().chain(DELETES) {
            // Each statement names the channel only where it needs it.
            if sql.contains("?1") {
                c.exec(sql, &[&id])?;
            } else {
                c.exec(sql, &[])?;
            }
        }
        c.exec(
            "DELETE FROM accounts WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM channels WHERE account_id = accounts.id)",
            &[&name],
        )?;
        // Bytes that only these messages named go with them (content-addressed:
        // another message with the same bytes keeps them).
        c.exec(
            "DELETE FROM doomed_blobs WHERE sha256 IN (SELECT sha256 FROM originals)
                OR sha256 IN (SELECT content_hash FROM attachments WHERE content_hash IS NOT NULL)",
            &[],
        )?;
        let beside: Vec<String> = c.all(
            "SELECT sha256 FROM blobs WHERE codec = 'beside' AND sha256 IN (SELECT sha256 FROM doomed_blobs)",
            &[],
            |r| r.get(0),
        )?;
        c.exec("DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM doomed_blobs)", &[])?;
        for sql in ["DELETE FROM doomed_conversations", "DELETE FROM doomed_messages", "DELETE FROM doomed_blobs"] {
            c.exec(sql, &[])?;
        }
        let detail = format!("{name} ({kind}): {conversations} conversations, {messages} messages deleted");
        audit(c, now, actor, "channel_removed", None, &detail)?;
        // Lists everywhere lose these conversations: every open UI reloads.
        note_change(c, now, ChangeKind::Messages, None, Some(actor))?;
        Ok(Removed { conversations, messages, beside })
    })
}
