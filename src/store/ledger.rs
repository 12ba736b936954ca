//! The promise ledger in the store: accepting with a deadline, reporting done,
//! re-dating and cancelling, snoozes and follow-ups, undoing a send in its window,
//! and which conversations are owed an after-hours reply.
//!
//! Written against `store::sql`, so both engines keep the same rules: each
//! public function is one write transaction of whichever store it is given.

use super::ingest::refresh_conversation;
use super::intents::{Reply, queue_reply_in};
use super::sql::{Conn, Engine, Transact, WithConn};
use super::writer::{audit, note_change};
use super::{Result, StoreError};
use crate::model::ChangeKind;

/// Sends the acceptance and records the task it promises, in one transaction.
pub fn accept(
    db: &mut impl Transact,
    reply: &Reply,
    source_message: Option<i64>,
    deadline: i64,
    now: i64,
) -> Result<(i64, i64)> {
    db.write(|c| {
        let outbox = queue_reply_in(c, reply, now)?;
        let task = c.insert(
            "INSERT INTO tasks (conversation_id, source_message_id, state, accepted_by, deadline, created_at,
                                accepted_at, outbox_id)
             VALUES (?1, ?2, 'accepted', ?3, ?4, ?5, ?5, ?6) RETURNING id",
            &[&reply.conversation_id, &source_message, &reply.actor, &deadline, &now, &outbox],
        )?;
        note_change(c, now, ChangeKind::Task, Some(reply.conversation_id), Some(&reply.actor))?;
        audit(
            c,
            now,
            &reply.actor,
            "task.accept",
            Some(reply.conversation_id),
            &format!("task {task} deadline {deadline}"),
        )?;
        Ok((task, outbox))
    })
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

pub fn promise_state(c: &(impl WithConn + ?Sized), conversation: i64) -> Result<PromiseState> {
    c.with_conn(|c| {
        let open = most_urgent_open(c, conversation)?.map(|(id, _)| id);
        let reported = match open {
            Some(_) => None,
            None => c.opt(
                "SELECT t.id FROM tasks t WHERE t.conversation_id = ?1 AND t.state = 'done'
                   AND t.done_at >= coalesce((SELECT max(sent_at) FROM messages
                                              WHERE conversation_id = ?1 AND direction = 'in'), 0)
                 ORDER BY t.done_at DESC, t.id DESC LIMIT 1",
                &[&conversation],
                |r| r.get(0),
            )?,
        };
        Ok(PromiseState { open, reported })
    })
}

/// The open promise due first, with its deadline.
fn most_urgent_open(c: &dyn Conn, conversation: i64) -> Result<Option<(i64, Option<i64>)>> {
    c.opt(
        "SELECT id, deadline FROM tasks WHERE conversation_id = ?1 AND state = 'accepted' ORDER BY deadline, id LIMIT 1",
        &[&conversation],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
}

/// Sends «Выполнено» and closes the conversation's most urgent open task (if any).
/// Returns the outbox row and the task closed, if there was one.
pub fn done(db: &mut impl Transact, reply: &Reply, now: i64) -> Result<(i64, Option<i64>)> {
    db.write(|c| {
        // A promise already reported done is not reported twice, unless the client
        // wrote since (then «Выполнено» answers something new).
        let PromiseState { open: task, reported } = promise_state(c, reply.conversation_id)?;
        if let Some(t) = reported {
            return Err(super::Refused::AlreadyReported(t).into());
        }
        let outbox = queue_reply_in(c, reply, now)?;
        if let Some(t) = task {
            c.exec(
                "UPDATE tasks SET state = 'done', done_at = ?1, summary = ?2, done_outbox_id = ?4 WHERE id = ?3",
                &[&now, &reply.body, &t, &outbox],
            )?;
            audit(c, now, &reply.actor, "task.done", Some(reply.conversation_id), &format!("task {t}"))?;
        }
        note_change(c, now, ChangeKind::Task, Some(reply.conversation_id), Some(&reply.actor))?;
        Ok((outbox, task))
    })
}

/// Moves the most urgent open task to a new deadline, telling the client (when `reply` is given).
pub fn redate(
    db: &mut impl Transact,
    conversation: i64,
    actor: &str,
    deadline: i64,
    reply: Option<&Reply>,
    now: i64,
) -> Result<(i64, Option<i64>)> {
    db.write(|c| {
        let (task, old) =
            most_urgent_open(c, conversation)?.ok_or_else(|| StoreError::Refused(super::Refused::NoOpenPromise))?;
        c.exec("UPDATE tasks SET deadline = ?1 WHERE id = ?2", &[&deadline, &task])?;
        let outbox = match reply {
            Some(r) => Some(queue_reply_in(c, r, now)?),
            None => None,
        };
        note_change(c, now, ChangeKind::Task, Some(conversation), Some(actor))?;
        audit(
            c,
            now,
            actor,
            "task.redate",
            Some(conversation),
            &format!("task {task} deadline {} -> {deadline}", old.map(|o| o.to_string()).unwrap_or_default()),
        )?;
        Ok((task, outbox))
    })
}

pub fn cancel_task(db: &mut impl Transact, conversation: i64, actor: &str, now: i64) -> Result<i64> {
    db.write(|c| {
        let (task, _) =
            most_urgent_open(c, conversation)?.ok_or_else(|| StoreError::Refused(super::Refused::NoOpenPromise))?;
        c.exec("UPDATE tasks SET state = 'cancelled', done_at = ?1 WHERE id = ?2", &[&now, &task])?;
        note_change(c, now, ChangeKind::Task, Some(conversation), Some(actor))?;
        audit(c, now, actor, "task.cancel", Some(conversation), &format!("task {task}"))?;
        Ok(task)
    })
}

/// Hides a conversation until `until`; a client message wakes it early (see ingest).
pub fn snooze(db: &mut impl Transact, conversation: i64, actor: &str, until: Option<i64>, now: i64) -> Result<()> {
    db.write(|c| {
        c.exec("UPDATE conversations SET snoozed_until = ?1 WHERE id = ?2", &[&until, &conversation])?;
        note_change(c, now, ChangeKind::Snooze, Some(conversation), Some(actor))?;
        let action = if until.is_some() { "snooze" } else { "unsnooze" };
        audit(c, now, actor, action, Some(conversation), &format!("{until:?}"))
    })
}

/// "If the client has not answered by then, remind me."
pub fn follow_up(db: &mut impl Transact, conversation: i64, actor: &str, at: Option<i64>, now: i64) -> Result<()> {
    db.write(|c| {
        c.exec("UPDATE conversations SET follow_up_at = ?1 WHERE id = ?2", &[&at, &conversation])?;
        note_change(c, now, ChangeKind::FollowUp, Some(conversation), Some(actor))?;
        audit(c, now, actor, "follow_up", Some(conversation), &format!("{at:?}"))
    })
}

/// Takes back a queued message still inside its undo window: the outbox row is
/// cancelled, the pending message leaves the thread, and its text is returned.
pub fn undo_send(db: &mut impl Transact, outbox_id: i64, actor: &str, now: i64) -> Result<String> {
    db.write(|c| {
        let (state, conversation, message, body, created_at): (String, i64, Option<i64>, String, i64) = c
            .opt(
                "SELECT state, conversation_id, message_id, body, created_at FROM outbox WHERE id = ?1",
                &[&outbox_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )?
            .ok_or_else(|| StoreError::Invalid(format!("no outbox row {outbox_id}")))?;
        if state != "pending" {
            return Err(super::Refused::TooLateToUndo(state).into());
        }
        c.exec(
            "UPDATE outbox SET state = 'cancelled', updated_at = ?1, message_id = NULL WHERE id = ?2",
            &[&now, &outbox_id],
        )?;
        if let Some(m) = message {
            c.exec("UPDATE tasks SET source_message_id = NULL WHERE source_message_id = ?1", &[&m])?;
            c.forget_message(m)?;
        }
        // A «Выполнено» taken back leaves its promise open.
        c.exec(
            "UPDATE tasks SET state = 'accepted', done_at = NULL, done_outbox_id = NULL
             WHERE done_outbox_id = ?1 AND state = 'done'",
            &[&outbox_id],
        )?;
        // An acceptance taken back takes its promise with it.
        c.exec(
            "UPDATE tasks SET state = 'cancelled', done_at = ?1, withdrawn = 'taken back before it was sent'
             WHERE conversation_id = ?2 AND state = 'accepted'
               AND (outbox_id = ?5 OR (outbox_id IS NULL AND accepted_at = ?3 AND accepted_by = ?4))",
            &[&now, &conversation, &created_at, &actor, &outbox_id],
        )?;
        refresh_conversation(c, conversation)?;
        note_change(c, now, ChangeKind::Outbox, Some(conversation), Some(actor))?;
        audit(c, now, actor, "send.undo", Some(conversation), &format!("outbox {outbox_id}"))?;
        Ok(body)
    })
}

/// Conversations whose client wrote during the current off-hours period (which
/// began at `off_since`) and got no automatic reply in it yet.
pub fn owed_after_hours_reply(c: &(impl WithConn + ?Sized), off_since: i64) -> Result<Vec<(i64, Option<i64>)>> {
    c.with_conn(|c| {
        // SQLite's planner, without statistics, must be told which index answers this.
        let hint = if c.engine() == Engine::Sqlite { "INDEXED BY conversations_waiting" } else { "" };
        c.all(
            &format!(
                "SELECT c.id, (SELECT max(m.id) FROM messages m WHERE m.conversation_id = c.id AND m.direction = 'in')
                 FROM conversations c {hint}
                 WHERE c.waiting_since IS NOT NULL AND c.status = 'open'
                   AND (SELECT m.sent_at FROM messages m WHERE m.id = c.last_inbound_id) >= ?1
                   AND (c.after_hours_reply_at IS NULL OR c.after_hours_reply_at < ?1)"
            ),
            &[&off_since],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

/// Answers every client who wrote during the current off-hours period (which
/// began at `off_since`) and got no automatic reply in it yet: one reply each,
/// its text from `text_for` the conversation's channel kind. Returns how many.
pub fn queue_after_hours_replies(
    db: &mut impl Transact,
    off_since: i64,
    text_for: &dyn Fn(crate::model::ChannelKind) -> String,
    actor: &str,
    now: i64,
) -> Result<usize> {
    let owed = db.write(|c| owed_after_hours_reply(c, off_since))?;
    let mut sent = 0;
    for (conversation, last_inbound) in owed {
        let (kind, subject): (String, Option<String>) = db.write(|c| {
            c.one(
                "SELECT ch.kind, c.subject FROM conversations c JOIN channels ch ON ch.id = c.channel_id
                 WHERE c.id = ?1",
                &[&conversation],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
        })?;
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
pub fn send_after_hours_reply(db: &mut impl Transact, reply: &Reply, off_since: i64, now: i64) -> Result<bool> {
    db.write(|c| {
        // Checked again inside the write transaction: two processes must not both answer.
        let already: Option<i64> = c
            .opt("SELECT after_hours_reply_at FROM conversations WHERE id = ?1", &[&reply.conversation_id], |r| {
                r.get(0)
            })?
            .flatten();
        if already.is_some_and(|t| t >= off_since) {
            return Ok(false);
        }
        queue_reply_in(c, reply, now)?;
        c.exec("UPDATE conversations SET after_hours_reply_at = ?1 WHERE id = ?2", &[&now, &reply.conversation_id])?;
        Ok(true)
    })
}
