//! Applying what sync workers saw (`SyncEvent`): a batch in one transaction,
//! messages through `ingest`, the rest here. A batch applied twice changes
//! nothing the second time, so a worker killed between fetching and
//! committing simply fetches and applies again.

use super::sql::{Conn, WithConn};
use super::writer::note_change;
use super::{Db, Result};
use crate::model::{ChangeKind, Delivery, Inbound, SyncEvent};

/// What applying a batch did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Messages stored or edited.
    pub inserted: usize,
    /// Messages already stored (a replay).
    pub duplicates: usize,
    /// Conversations whose messages changed.
    pub conversations: Vec<i64>,
    /// Mail newly marked as gone from the server.
    pub expunged: usize,
    /// Events that named a message pult does not have yet (a delivery report
    /// that overtook the record of our send, a deletion of a message still on
    /// its way): kept in `pending_reports` and applied when it appears.
    pub unmatched: usize,
    /// Events kept raw in `quarantine` because pult could not read them.
    pub quarantined: usize,
}

/// Applies one batch of a channel's events in one transaction.
pub fn apply(db: &mut Db, channel: i64, events: &[SyncEvent], now: i64) -> Result<Applied> {
    db.write_beside_sqlite(|c, sqlite| {
        // Only messages add rows to index; a status or a cursor costs no index
        // work. SQLite indexes a batch's rows at its end; PostgreSQL's terms
        // are written with each row (`Conn::reindex`).
        let deferred = match sqlite {
            Some(tx) if events.iter().any(|e| matches!(e, SyncEvent::Message(_))) => {
                super::search_index::Deferred::begin(tx)?
            }
            _ => super::search_index::Deferred::idle(),
        };
        let mut applied = apply_events(c, channel, events, now)?;
        applied.conversations.sort_unstable();
        applied.conversations.dedup();
        // Last: no later statement's savepoint may write the index out early.
        if let Some(tx) = sqlite {
            deferred.finish(tx)?;
        }
        Ok(applied)
    })
}

fn apply_events(c: &dyn Conn, channel: i64, events: &[SyncEvent], now: i64) -> Result<Applied> {
    let mut applied = Applied::default();
    // Runs of messages go to ingest together (conversations and identities
    // are looked up once per run).
    let mut run: Vec<&Inbound> = Vec::new();
    let mut statuses = Vec::new();
    for event in events {
        if let SyncEvent::Message(m) = event
            && (m.report.is_none() || m.outgoing)
        {
            run.push(m);
            continue;
        }
        flush(c, channel, &mut run, now, &mut applied)?;
        match event {
            // A mail server's report on our mail: applied to the mail it reports on.
            SyncEvent::Message(m) => {
                if let Some(report) = &m.report {
                    super::reports::apply(c, channel, m, report, now, &mut applied)?
                }
            }
            SyncEvent::Deleted { remote_id } => deleted(c, channel, remote_id, now, &mut applied)?,
            SyncEvent::Delivery { remote_id, state, error } => {
                delivery(c, channel, remote_id, *state, error.as_deref(), now, &mut applied)?
            }
            SyncEvent::Mailbox { folder, changed, gone, highest_modseq } => {
                applied.expunged +=
                    super::channel_state::apply_mailbox(c, channel, folder, changed, gone, *highest_modseq, now)?;
            }
            SyncEvent::Cursor { key, value } => {
                c.exec(
                    "INSERT INTO sync_state (channel_id, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (channel_id, key) DO UPDATE SET value = excluded.value",
                    &[&channel, key, value],
                )?;
            }
            SyncEvent::Status(s) => statuses.push(s.clone()),
            SyncEvent::Reaction { remote_id, author_handle, author_name, emoji } => {
                reaction(c, channel, remote_id, author_handle, author_name, emoji, now, &mut applied)?
            }
            SyncEvent::Connection(k) => {
                c.exec(
                    "INSERT INTO connections (channel_id, id, owner_id, owner_name, can_reply, can_read, enabled, date, updated_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (channel_id, id) DO UPDATE SET owner_id = excluded.owner_id,
                         owner_name = excluded.owner_name, can_reply = excluded.can_reply, can_read = excluded.can_read,
                         enabled = excluded.enabled, date = excluded.date, updated_at = excluded.updated_at",
                    &[&channel, &k.id, &k.owner_id, &k.owner_name, &k.can_reply, &k.can_read, &k.enabled, &k.date, &now],
                )?;
                c.note_change(now, ChangeKind::Channel.as_str(), None, None)?;
            }
            SyncEvent::Quarantine { reason, raw } => {
                tracing::warn!("channel {channel}: kept in quarantine ({} bytes): {reason}", raw.len());
                c.exec(
                    "INSERT INTO quarantine (channel_id, received_at, reason, raw) VALUES (?1, ?2, ?3, ?4)",
                    &[&channel, &now, reason, raw],
                )?;
                applied.quarantined += 1;
            }
        }
    }
    flush(c, channel, &mut run, now, &mut applied)?;
    for s in &statuses {
        super::channel_state::set_status(c, channel, s, now)?;
    }
    Ok(applied)
}

fn flush(c: &dyn Conn, channel: i64, run: &mut Vec<&Inbound>, now: i64, applied: &mut Applied) -> Result<()> {
    if run.is_empty() {
        return Ok(());
    }
    let r = super::ingest::apply_in(c, channel, run, now)?;
    applied.inserted += r.inserted;
    applied.duplicates += r.duplicates;
    applied.conversations.extend(r.conversations);
    run.clear();
    Ok(())
}

fn deleted(c: &(impl WithConn + ?Sized), channel: i64, remote_id: &str, now: i64, applied: &mut Applied) -> Result<()> {
    c.with_conn(|c| {
        let conversation: Option<i64> = c.opt(
            "UPDATE messages SET deleted = 1 WHERE channel_id = ?1 AND remote_id = ?2 AND deleted = 0
             RETURNING conversation_id",
            &[&channel, &remote_id],
            |r| r.get(0),
        )?;
        match conversation {
            Some(conv) => {
                note_change(c, now, ChangeKind::Messages, Some(conv), None)?;
                applied.conversations.push(conv);
            }
            None if !exists(c, channel, remote_id)? => {
                park(c, channel, remote_id, "deleted", None, None, now)?;
                applied.unmatched += 1;
            }
            None => {}
        }
        Ok(())
    })
}

fn delivery(
    c: &(impl WithConn + ?Sized),
    channel: i64,
    remote_id: &str,
    state: Delivery,
    error: Option<&str>,
    now: i64,
    applied: &mut Applied,
) -> Result<()> {
    c.with_conn(|c| {
        let found: Option<(i64, String)> = c.opt(
            "SELECT conversation_id, delivery FROM messages WHERE channel_id = ?1 AND remote_id = ?2",
            &[&channel, &remote_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((conversation, now_state)) = found else {
            // Keep the report that says most: a failure, else the furthest state.
            let parked: Option<String> = c
                .opt(
                    "SELECT state FROM pending_reports WHERE channel_id = ?1 AND remote_id = ?2 AND kind = 'delivery'",
                    &[&channel, &remote_id],
                    |r| r.get(0),
                )?
                .flatten();
            if parked.as_deref().is_none_or(|p| moves(Delivery::parse(p), state)) {
                park(c, channel, remote_id, "delivery", Some(state.as_str()), error, now)?;
            }
            applied.unmatched += 1;
            return Ok(());
        };
        if !moves(Delivery::parse(&now_state), state) {
            return Ok(());
        }
        // A failure reported after the send (WhatsApp `failed`): the outbox row
        // fails too, so it is counted, listed and offered again like any other.
        let row: Option<i64> = if state == Delivery::Failed {
            c.opt(
                "SELECT o.id FROM outbox o JOIN messages m ON m.id = o.message_id
                 WHERE m.channel_id = ?1 AND m.remote_id = ?2 AND o.state = 'sent'",
                &[&channel, &remote_id],
                |r| r.get(0),
            )?
        } else {
            None
        };
        if let Some(outbox) = row {
            super::intents::fail_row(c, outbox, error.unwrap_or("not delivered"), now)?;
            applied.conversations.push(conversation);
            return Ok(());
        }
        c.exec(
            "UPDATE messages SET delivery = ?3, error = ?4 WHERE channel_id = ?1 AND remote_id = ?2",
            &[&channel, &remote_id, &state.as_str(), &error],
        )?;
        // A message that did not reach the client does not answer them.
        super::ingest::refresh_conversation(c, conversation)?;
        note_change(c, now, ChangeKind::Outbox, Some(conversation), None)?;
        applied.conversations.push(conversation);
        Ok(())
    })
}

/// A reaction sits on the message it reacts to, one per person; an empty
/// emoji takes it back. One for a message not here yet is kept until it is.
#[allow(clippy::too_many_arguments)]
fn reaction(
    c: &(impl WithConn + ?Sized),
    channel: i64,
    remote_id: &str,
    handle: &str,
    name: &str,
    emoji: &str,
    now: i64,
    applied: &mut Applied,
) -> Result<()> {
    c.with_conn(|c| {
        let found: Option<(i64, i64)> = c.opt(
            "SELECT id, conversation_id FROM messages WHERE channel_id = ?1 AND remote_id = ?2",
            &[&channel, &remote_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let Some((message, conversation)) = found else {
            let who = format!("{handle}\t{name}");
            park(c, channel, remote_id, "reaction", Some(emoji), Some(&who), now)?;
            applied.unmatched += 1;
            return Ok(());
        };
        if emoji.is_empty() {
            c.exec("DELETE FROM reactions WHERE message_id = ?1 AND author_handle = ?2", &[&message, &handle])?;
        } else {
            c.exec(
                "INSERT INTO reactions (message_id, author_handle, author_name, emoji, at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (message_id, author_handle) DO UPDATE SET emoji = excluded.emoji, at = excluded.at,
                     author_name = excluded.author_name",
                &[&message, &handle, &name, &emoji, &now],
            )?;
        }
        note_change(c, now, ChangeKind::Messages, Some(conversation), None)?;
        applied.conversations.push(conversation);
        Ok(())
    })
}

/// Reports arrive out of order: `read` after `delivered` stays `read`, and
/// nothing but a failure moves a message back.
fn moves(current: Delivery, reported: Delivery) -> bool {
    let rank = |d: Delivery| match d {
        Delivery::Sent => 1,
        Delivery::Delivered => 2,
        Delivery::Read => 3,
        _ => 0,
    };
    match reported {
        Delivery::Failed => current != Delivery::Failed,
        _ => rank(reported) > rank(current),
    }
}

/// Keeps a report about a message pult does not have yet.
fn park(
    c: &dyn Conn,
    channel: i64,
    remote_id: &str,
    kind: &str,
    state: Option<&str>,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    tracing::info!("channel {channel}: a {kind} report for {remote_id}, which pult does not have yet; kept");
    c.exec(
        "INSERT INTO pending_reports (channel_id, remote_id, kind, state, error, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (channel_id, remote_id, kind) DO UPDATE SET state = excluded.state, error = excluded.error",
        &[&channel, &remote_id, &kind, &state, &error, &now],
    )?;
    Ok(())
}

/// Does the channel have reports waiting for a message (`settle`)?
pub(super) fn any_parked(c: &dyn Conn, channel: i64) -> Result<bool> {
    let found: Option<i64> =
        c.opt("SELECT 1 FROM pending_reports WHERE channel_id = ?1 LIMIT 1", &[&channel], |r| r.get(0))?;
    Ok(found.is_some())
}

/// A message now has this remote id (it arrived, or our send was recorded):
/// the reports kept for it apply now (when the outbox records a send, or
/// ingest stores it).
pub(super) fn settle(c: &(impl WithConn + ?Sized), channel: i64, remote_id: &str, now: i64) -> Result<()> {
    c.with_conn(|c| {
        let parked: Vec<(String, Option<String>, Option<String>)> = c.all(
            "DELETE FROM pending_reports WHERE channel_id = ?1 AND remote_id = ?2 RETURNING kind, state, error",
            &[&channel, &remote_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let mut applied = Applied::default();
        for (kind, state, error) in parked {
            match (kind.as_str(), state) {
                ("deleted", _) => deleted(c, channel, remote_id, now, &mut applied)?,
                ("delivery", Some(state)) => {
                    delivery(c, channel, remote_id, Delivery::parse(&state), error.as_deref(), now, &mut applied)?
                }
                ("reaction", Some(emoji)) => {
                    let who = error.unwrap_or_default();
                    let (handle, name) = who.split_once('\t').unwrap_or((&who, ""));
                    reaction(c, channel, remote_id, handle, name, &emoji, now, &mut applied)?
                }
                _ => {}
            }
        }
        Ok(())
    })
}

fn exists(c: &dyn Conn, channel: i64, remote_id: &str) -> Result<bool> {
    let found: Option<i64> =
        c.opt("SELECT 1 FROM messages WHERE channel_id = ?1 AND remote_id = ?2", &[&channel, &remote_id], |r| {
            r.get(0)
        })?;
    Ok(found.is_some())
}
