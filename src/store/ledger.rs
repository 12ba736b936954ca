//! The promise ledger in the store: accepting with a deadline, reporting done,
//! re-dating and cancelling, snoozes and follow-ups, undoing a send in its window,
//! and which conversations are owed an after-hours reply.

use super::ingest::refresh_conversation;
use super::intents::{Reply, queue_reply_in};
use super::writer::{audit, immediate, note_change};
use super::{Db, Result, StoreError};
use crate::model::ChangeKind;
use rusqlite::{OptionalExtension, params};

/// Sends the acceptance and records the task it promises, in one transaction.
pub fn accept(db: &mut Db, reply: &Reply, source_message: Option<i64>, deadline: i64, now: i64) -> Result<(i64, i64)> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let outbox = queue_reply_in(&tx, reply, now)?;
    tx.execute(
        "INSERT INTO tasks (conversation_id, source_message_id, state, accepted_by, deadline, created_at, accepted_at,
                            outbox_id)
         VALUES (?1, ?2, 'accepted', ?3, ?4, ?5, ?5, ?6)",
        params![reply.conversation_id, source_message, reply.actor, deadline, now, outbox],
    )?;
    let task = tx.last_insert_rowid();
    note_change(&tx, now, ChangeKind::Task, Some(reply.conversation_id), Some(&reply.actor))?;
    audit(
        &tx,
        now,
        &reply.actor,
        "task.accept",
        Some(reply.conversation_id),
        &format!("task {task} deadline {deadline}"),
    )?;
    tx.commit()?;
    Ok((task, outbox))
}

/// What `done` and `redate` would find in a conversation, asked before a
/// person types a date or a reason (the TUI) and when they act (here).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PromiseState {
    /// The most urgent open promise (accepted, not done).
    pub open: Option<i64>,
    /// With none open: the promise already reported done since the client last
    /// wrote («Выполнено» would report nothing new).
    pub reported: Option<i64>,
}

pub(super) fn promise_state(conn: &rusqlite::Connection, conversation: i64) -> rusqlite::Result<PromiseState> {
    let open = conn
        .query_row(
            "SELECT id FROM tasks WHERE conversation_id = ?1 AND state = 'accepted' ORDER BY deadline, id LIMIT 1",
            [conversation],
            |r| r.get(0),
        )
        .optional()?;
    let reported = match open {
        Some(_) => None,
        None => conn
            .query_row(
                "SELECT t.id FROM tasks t WHERE t.conversation_id = ?1 AND t.state = 'done'
                   AND t.done_at >= coalesce((SELECT max(sent_at) FROM messages
                                              WHERE conversation_id = ?1 AND direction = 'in'), 0)
                 ORDER BY t.done_at DESC LIMIT 1",
                [conversation],
                |r| r.get(0),
            )
            .optional()?,
    };
    Ok(PromiseState { open, reported })
}

/// Sends «Выполнено» and closes the conversation's most urgent open task (if any).
/// Returns the outbox row and the task closed, if there was one.
pub fn done(db: &mut Db, reply: &Reply, now: i64) -> Result<(i64, Option<i64>)> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    // A promise already reported done is not reported twice, unless the client
    // wrote since (then «Выполнено» answers something new).
    let PromiseState { open: task, reported } = promise_state(&tx, reply.conversation_id)?;
    if let Some(t) = reported {
        return Err(super::Refused::AlreadyReported(t).into());
    }
    let outbox = queue_reply_in(&tx, reply, now)?;
    if let Some(t) = task {
        tx.execute(
            "UPDATE tasks SET state = 'done', done_at = ?1, summary = ?2, done_outbox_id = ?4 WHERE id = ?3",
            params![now, reply.body, t, outbox],
        )?;
        audit(&tx, now, &reply.actor, "task.done", Some(reply.conversation_id), &format!("task {t}"))?;
    }
    note_change(&tx, now, ChangeKind::Task, Some(reply.conversation_id), Some(&reply.actor))?;
    tx.commit()?;
    Ok((outbox, task))
}

/// Moves the most urgent open task to a new deadline, telling the client (when `reply` is given).
pub fn redate(
    db: &mut Db,
    conversation: i64,
    actor: &str,
    deadline: i64,
    reply: Option<&Reply>,
    now: i64,
) -> Result<(i64, Option<i64>)> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let (task, old): (i64, Option<i64>) = tx
        .query_row(
            "SELECT id, deadline FROM tasks WHERE conversation_id = ?1 AND state = 'accepted' ORDER BY deadline, id LIMIT 1",
            [conversation],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?
        .ok_or_else(|| StoreError::Refused(super::Refused::NoOpenPromise))?;
    tx.execute("UPDATE tasks SET deadline = ?1 WHERE id = ?2", params![deadline, task])?;
    let outbox = match reply {
        Some(r) => Some(queue_reply_in(&tx, r, now)?),
        None => None,
    };
    note_change(&tx, now, ChangeKind::Task, Some(conversation), Some(actor))?;
    audit(
        &tx,
        now,
        actor,
        "task.redate",
        Some(conversation),
        &format!("task {task} deadline {} -> {deadline}", old.map(|o| o.to_string()).unwrap_or_default()),
    )?;
    tx.commit()?;
    Ok((task, outbox))
}

pub fn cancel_task(db: &mut Db, conversation: i64, actor: &str, now: i64) -> Result<i64> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let task: i64 = tx
        .query_row(
            "SELECT id FROM tasks WHERE conversation_id = ?1 AND state = 'accepted' ORDER BY deadline, id LIMIT 1",
            [conversation],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::Refused(super::Refused::NoOpenPromise))?;
    tx.execute("UPDATE tasks SET state = 'cancelled', done_at = ?1 WHERE id = ?2", params![now, task])?;
    note_change(&tx, now, ChangeKind::Task, Some(conversation), Some(actor))?;
    audit(&tx, now, actor, "task.cancel", Some(conversation), &format!("task {task}"))?;
    tx.commit()?;
    Ok(task)
}

/// Hides a conversation until `until`; a client message wakes it early (see ingest).
pub fn snooze(db: &mut Db, conversation: i64, actor: &str, until: Option<i64>, now: i64) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    tx.execute("UPDATE conversations SET snoozed_until = ?1 WHERE id = ?2", params![until, conversation])?;
    note_change(&tx, now, ChangeKind::Snooze, Some(conversation), Some(actor))?;
    audit(
        &tx,
        now,
        actor,
        if until.is_some() { "snooze" } else { "unsnooze" },
        Some(conversation),
        &format!("{until:?}"),
    )?;
    tx.commit()?;
    Ok(())
}

/// "If the client has not answered by then, remind me."
pub fn follow_up(db: &mut Db, conversation: i64, actor: &str, at: Option<i64>, now: i64) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    tx.execute("UPDATE conversations SET follow_up_at = ?1 WHERE id = ?2", params![at, conversation])?;
    note_change(&tx, now, ChangeKind::FollowUp, Some(conversation), Some(actor))?;
    audit(&tx, now, actor, "follow_up", Some(conversation), &format!("{at:?}"))?;
    tx.commit()?;
    Ok(())
}

/// Takes back a queued message still inside its undo window: the outbox row is
/// cancelled, the pending message leaves the thread, and its text is returned.
pub fn undo_send(db: &mut Db, outbox_id: i64, actor: &str, now: i64) -> Result<String> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let (state, conversation, message, body): (String, i64, Option<i64>, String) = tx
        .query_row("SELECT state, conversation_id, message_id, body FROM outbox WHERE id = ?1", [outbox_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
        })
        .optional()?
        .ok_or_else(|| StoreError::Invalid(format!("no outbox row {outbox_id}")))?;
    if state != "pending" {
        return Err(super::Refused::TooLateToUndo(state).into());
    }
    tx.execute(
        "UPDATE outbox SET state = 'cancelled', updated_at = ?1, message_id = NULL WHERE id = ?2",
        params![now, outbox_id],
    )?;
    if let Some(m) = message {
        tx.execute("UPDATE tasks SET source_message_id = NULL WHERE source_message_id = ?1", [m])?;
        tx.execute("DELETE FROM messages WHERE id = ?1", [m])?;
    }
    // A «Выполнено» taken back leaves its promise open.
    tx.execute(
        "UPDATE tasks SET state = 'accepted', done_at = NULL, done_outbox_id = NULL
         WHERE done_outbox_id = ?1 AND state = 'done'",
        [outbox_id],
    )?;
    // An acceptance taken back takes its promise with it.
    tx.execute(
        "UPDATE tasks SET state = 'cancelled', done_at = ?1, withdrawn = 'taken back before it was sent'
         WHERE conversation_id = ?2 AND state = 'accepted'
           AND (outbox_id = ?5 OR (outbox_id IS NULL AND accepted_at = ?3 AND accepted_by = ?4))",
        params![now, conversation, created_at(&tx, outbox_id)?, actor, outbox_id],
    )?;
    refresh_conversation(&tx, conversation)?;
    note_change(&tx, now, ChangeKind::Outbox, Some(conversation), Some(actor))?;
    audit(&tx, now, actor, "send.undo", Some(conversation), &format!("outbox {outbox_id}"))?;
    tx.commit()?;
    Ok(body)
}

fn created_at(tx: &rusqlite::Transaction<'_>, outbox_id: i64) -> Result<i64> {
    Ok(tx.query_row("SELECT created_at FROM outbox WHERE id = ?1", [outbox_id], |r| r.get(0))?)
}

/// Conversations whose client wrote during the current off-hours period (which
/// began at `off_since`) and got no automatic reply in it yet.
pub fn owed_after_hours_reply(db: &Db, off_since: i64) -> Result<Vec<(i64, Option<i64>)>> {
    let conn = &db.0;
    let mut st = conn.prepare_cached(
        "SELECT c.id, (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'in')
         FROM conversations c INDEXED BY conversations_waiting
         WHERE c.waiting_since IS NOT NULL AND c.status = 'open'
           AND (SELECT m.sent_at FROM messages m WHERE m.id = c.last_inbound_id) >= ?1
           AND (c.after_hours_reply_at IS NULL OR c.after_hours_reply_at < ?1)",
    )?;
    let rows = st.query_map([off_since], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Answers every client who wrote during the current off-hours period (which
/// began at `off_since`) and got no automatic reply in it yet: one reply each,
/// its text from `text_for` the conversation's channel kind. Returns how many.
pub fn queue_after_hours_replies(
    db: &mut Db,
    off_since: i64,
    text_for: &dyn Fn(crate::model::ChannelKind) -> String,
    actor: &str,
    now: i64,
) -> Result<usize> {
    let mut sent = 0;
    for (conversation, last_inbound) in owed_after_hours_reply(db, off_since)? {
        let (kind, subject): (String, Option<String>) = db.0.query_row(
            "SELECT ch.kind, c.subject FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?1",
            [conversation],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let kind = crate::model::ChannelKind::parse(&kind).unwrap_or(crate::model::ChannelKind::Telegram);
        let subject = crate::channels::registry::kind(kind)
            .limits()
            .subject
            .then(|| crate::workflow::replies::reply_subject(subject.as_deref()));
        let reply = Reply {
            conversation_id: conversation,
            reply_to_message_id: last_inbound,
            subject,
            body: text_for(kind),
            actor: actor.to_string(),
            not_before: now,
            auto: true,
            attachments: Vec::new(),
        };
        if send_after_hours_reply(db, &reply, off_since, now)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Queues one automatic reply and remembers it for this off-hours period.
pub fn send_after_hours_reply(db: &mut Db, reply: &Reply, off_since: i64, now: i64) -> Result<bool> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    // Checked again inside the write transaction: two processes must not both answer.
    let already: Option<i64> = tx
        .query_row("SELECT after_hours_reply_at FROM conversations WHERE id = ?1", [reply.conversation_id], |r| {
            r.get(0)
        })
        .optional()?
        .flatten();
    if already.is_some_and(|t| t >= off_since) {
        return Ok(false);
    }
    queue_reply_in(&tx, reply, now)?;
    tx.execute(
        "UPDATE conversations SET after_hours_reply_at = ?1 WHERE id = ?2",
        params![now, reply.conversation_id],
    )?;
    tx.commit()?;
    Ok(true)
}
