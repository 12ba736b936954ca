//! What the response-time clocks (`workflow::sla`) are computed from, read
//! from the store as plain events; and the few writes they need: pauses,
//! policy versions, escalation notes written once.

use super::sql::{Conn, Transact, WithConn as _};
use super::writer::{audit, note_change};
use super::{Reader, Result, StoreError};
use crate::model::{ChangeKind, ChannelKind};
use crate::workflow::sla::{Event, Facts, PauseReason};

/// A policy version: the `[[sla]]` tables (JSON) in effect from a moment on.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyVersion {
    pub id: i64,
    pub effective_from: i64,
    pub policies: String,
}

/// The state the open conversations a clock may run in (someone waits, a
/// promise is open, a pause holds, a reply is on its way).
const CANDIDATES: &str = "SELECT c.id FROM conversations c
    WHERE c.status = 'open' AND c.automatic = 0
      AND c.channel_id NOT IN (SELECT id FROM channels WHERE archived_at IS NOT NULL)
      AND (c.waiting_since IS NOT NULL
        OR EXISTS (SELECT 1 FROM tasks t WHERE t.conversation_id = c.id AND t.state = 'accepted')
        OR EXISTS (SELECT 1 FROM sla_pauses p WHERE p.conversation_id = c.id AND p.ended_at IS NULL)
        OR EXISTS (SELECT 1 FROM messages o WHERE o.conversation_id = c.id AND o.direction = 'out'
                     AND o.delivery IN ('pending', 'sending')))
    ORDER BY c.id";

impl Reader {
    /// Open conversations where a clock may be running.
    pub fn sla_candidates(&self) -> Result<Vec<i64>> {
        self.connection().with_conn(|c| c.all(CANDIDATES, &[], |r| r.get(0)))
    }

    /// Conversations with a client message, a reply or a promise between
    /// `from` and `to` (a month's report), automatic ones left out.
    pub fn sla_active(&self, from: i64, to: i64) -> Result<Vec<i64>> {
        self.connection().with_conn(|c| {
            c.all(
                "SELECT c.id FROM conversations c WHERE c.automatic = 0 AND (
                     EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.sent_at >= ?1 AND m.sent_at < ?2)
                  OR EXISTS (SELECT 1 FROM tasks t WHERE t.conversation_id = c.id
                               AND ((t.accepted_at >= ?1 AND t.accepted_at < ?2) OR (t.deadline >= ?1 AND t.deadline < ?2))))
                 ORDER BY c.id",
                &[&from, &to],
                |r| r.get(0),
            )
        })
    }

    /// The policy versions, oldest first.
    pub fn sla_policy_versions(&self) -> Result<Vec<PolicyVersion>> {
        self.connection().with_conn(|c| {
            c.all("SELECT id, effective_from, policies FROM sla_policies ORDER BY id", &[], |r| {
                Ok(PolicyVersion { id: r.get(0)?, effective_from: r.get(1)?, policies: r.get(2)? })
            })
        })
    }

    /// The events of each conversation; `is_rules` tells the rules message
    /// (which answers nothing) by its text.
    pub fn sla_facts(&self, ids: &[i64], is_rules: &dyn Fn(&str) -> bool) -> Result<Vec<Facts>> {
        self.connection().with_conn(|conn| {
        let mut out = Vec::with_capacity(ids.len());
        for &id in ids {
            let head = conn
                .opt(
                    "SELECT ch.kind, ch.name, coalesce(k.merged_into, k.id), coalesce(k2.organisation, k2.name, k.organisation, k.name),
                            coalesce(k2.tags, k.tags), c.assignee, c.remote_key LIKE 'biz:%',
                            (SELECT max(sent_at) FROM messages WHERE conversation_id = c.id AND direction = 'in'),
                            coalesce(k2.work_hours, k.work_hours)
                     FROM conversations c JOIN channels ch ON ch.id = c.channel_id
                     LEFT JOIN contacts k ON k.id = c.contact_id
                     LEFT JOIN contacts k2 ON k2.id = k.merged_into
                     WHERE c.id = ?1",
                    &[&id], |r| {
                    let kind: String = r.get(0)?;
                    let tags: Option<String> = r.get(4)?;
                    Ok(Facts {
                        conversation: id,
                        kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                        channel: r.get(1)?,
                        client: r.get(2)?,
                        client_name: r.get(3)?,
                        tags: super::clients::split_tags(tags.as_deref().unwrap_or("")),
                        assignee: r.get(5)?,
                        business: r.get(6)?,
                        last_client_at: r.get(7)?,
                        client_hours: r.get(8)?,
                        events: Vec::new(),
                    })
                })?;
            let Some(mut facts) = head else { continue };
            facts.events = events(conn, id, is_rules)?;
            out.push(facts);
        }
        Ok(out)
        })
    }
}

fn events(conn: &dyn Conn, conversation: i64, is_rules: &dyn Fn(&str) -> bool) -> Result<Vec<Event>> {
    let mut events = Vec::new();
    // Redates say their reason in the message that tells the client.
    let mut told: Vec<(i64, String)> = Vec::new();
    let rows = conn.all(
        "SELECT direction, sent_at, delivery, auto, forward, closing, report IS NOT NULL, substr(body, 1, 600)
         FROM messages WHERE conversation_id = ?1 ORDER BY sent_at, id",
        &[&conversation],
        |r| {
            Ok((
                r.get::<String>(0)?,
                r.get::<i64>(1)?,
                r.get::<String>(2)?,
                r.get::<bool>(3)?,
                r.get::<bool>(4)?,
                r.get::<bool>(5)?,
                r.get::<bool>(6)?,
                r.get::<String>(7)?,
            ))
        },
    )?;
    for (direction, at, delivery, auto, forward, closing, report, body) in rows {
        match direction.as_str() {
            "in" => events.push(Event::Client { at, asks: !closing && !report }),
            _ => {
                // Sent or better (mail found in Sent is `received`); never
                // queued, failed or maybe sent; never automatic or forwarded.
                let reached = matches!(delivery.as_str(), "received" | "sent" | "delivered" | "read");
                if reached && !auto && !forward && !is_rules(&body) {
                    events.push(Event::Reached { at });
                }
                told.push((at, body));
            }
        }
    }
    // A promise: accepted with its first deadline; later deadlines from the audit.
    let mut moves: Vec<(i64, i64, i64, i64)> = Vec::new(); // (at, task, old, new)
    let redates = conn.all(
        "SELECT at, detail FROM audit WHERE conversation_id = ?1 AND action = 'task.redate' ORDER BY id",
        &[&conversation],
        |r| Ok((r.get::<i64>(0)?, r.get::<Option<String>>(1)?)),
    )?;
    for (at, detail) in redates {
        // "task 7 deadline 1795000000 -> 1795100000"
        let detail = detail.unwrap_or_default();
        let mut words = detail.split_whitespace();
        let task = words.nth(1).and_then(|w| w.parse().ok());
        let old = words.nth(1).and_then(|w| w.parse().ok());
        let new = words.nth(1).and_then(|w| w.parse().ok());
        if let (Some(task), Some(old), Some(new)) = (task, old, new) {
            moves.push((at, task, old, new));
        }
    }
    let tasks = conn.all(
        "SELECT id, accepted_at, deadline, state, done_at FROM tasks
         WHERE conversation_id = ?1 AND accepted_at IS NOT NULL AND deadline IS NOT NULL AND withdrawn IS NULL
         ORDER BY id",
        &[&conversation],
        |r| Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<i64>(2)?, r.get::<String>(3)?, r.get::<Option<i64>>(4)?)),
    )?;
    for (task, accepted, deadline, state, done_at) in tasks {
        let mine: Vec<_> = moves.iter().filter(|m| m.1 == task).collect();
        let first = mine.first().map(|m| m.2).unwrap_or(deadline);
        events.push(Event::Promise { at: accepted, task, deadline: first });
        for (at, _, _, new) in mine {
            // The message telling the client, queued with the redate.
            let reason = told.iter().find(|(t, _)| *t >= *at && *t <= at + 3600).and_then(|(_, body)| reason_in(body));
            events.push(Event::Moved { at: *at, task, deadline: *new, reason });
        }
        match (state.as_str(), done_at) {
            ("done", Some(at)) => events.push(Event::Closed { at, task, done: true }),
            ("cancelled", Some(at)) => events.push(Event::Closed { at, task, done: false }),
            _ => {}
        }
    }
    let pauses = conn.all(
        "SELECT reason, started_at, ended_at FROM sla_pauses WHERE conversation_id = ?1 ORDER BY started_at, id",
        &[&conversation],
        |r| Ok((r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<Option<i64>>(2)?)),
    )?;
    for (reason, start, end) in pauses {
        events.push(Event::Pause { at: start, reason: PauseReason::parse(&reason).unwrap_or(PauseReason::Other) });
        if let Some(end) = end {
            events.push(Event::Resume { at: end });
        }
    }
    Ok(events)
}

/// «… Причина: нет выписки.» → «нет выписки» (the redate template's field).
fn reason_in(body: &str) -> Option<String> {
    let (_, after) = body.split_once("Причина:").or_else(|| body.split_once("Reason:"))?;
    let reason = after.lines().next().unwrap_or("").trim().trim_end_matches('.').trim();
    (!reason.is_empty()).then(|| reason.to_string())
}

/// Pauses the conversation's clocks for `reason`; refused while a pause holds.
pub fn pause(db: &mut impl Transact, conversation: i64, reason: PauseReason, actor: &str, now: i64) -> Result<i64> {
    db.write(|c| {
        if holding(c, conversation)?.is_some() {
            return Err(StoreError::Invalid("the clocks of this conversation are paused already".into()));
        }
        let id = c.insert(
            "INSERT INTO sla_pauses (conversation_id, reason, actor, started_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            &[&conversation, &reason.as_str(), &actor, &now],
        )?;
        note_change(c, now, ChangeKind::Snooze, Some(conversation), Some(actor))?;
        audit(c, now, actor, "sla.pause", Some(conversation), reason.as_str())?;
        Ok(id)
    })
}

/// Ends the pause that holds the clocks (before the client writes).
pub fn resume(db: &mut impl Transact, conversation: i64, actor: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let id = holding(c, conversation)?
            .ok_or_else(|| StoreError::Invalid("the clocks of this conversation are not paused".into()))?;
        c.exec("UPDATE sla_pauses SET ended_at = ?1, ended_by = ?2 WHERE id = ?3", &[&now, &actor, &id])?;
        note_change(c, now, ChangeKind::Snooze, Some(conversation), Some(actor))?;
        audit(c, now, actor, "sla.resume", Some(conversation), "")
    })
}

/// The pause holding a conversation's clocks: not ended by a person, and the
/// client has not written since it began.
fn holding(c: &dyn Conn, conversation: i64) -> Result<Option<i64>> {
    c.opt(
        "SELECT p.id FROM sla_pauses p WHERE p.conversation_id = ?1 AND p.ended_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = ?1 AND m.direction = 'in'
                             AND m.sent_at >= p.started_at)
         ORDER BY p.started_at DESC LIMIT 1",
        &[&conversation],
        |r| r.get(0),
    )
}

/// Records the config's policies (JSON) as in effect from `now`, when they
/// differ from the newest version. Returns whether a version was added.
pub fn record_policies(db: &mut impl Transact, policies: &str, actor: &str, now: i64) -> Result<bool> {
    db.write(|c| {
        let newest: Option<String> =
            c.opt("SELECT policies FROM sla_policies ORDER BY id DESC LIMIT 1", &[], |r| r.get(0))?;
        if newest.as_deref() == Some(policies) {
            return Ok(false);
        }
        c.exec(
            "INSERT INTO sla_policies (effective_from, recorded_at, actor, policies) VALUES (?1, ?1, ?2, ?3)",
            &[&now, &actor, &policies],
        )?;
        audit(c, now, actor, "sla.policies", None, "the [[sla]] tables changed; new clocks count under them")?;
        Ok(true)
    })
}

/// `pult sla recompute --since`: the config's policies apply to every clock
/// that started at or after `since` (a newer version outranks an older one
/// from its own moment on). Audited.
pub fn recompute_since(db: &mut impl Transact, policies: &str, since: i64, actor: &str, now: i64) -> Result<i64> {
    db.write(|c| {
        let id = c.insert(
            "INSERT INTO sla_policies (effective_from, recorded_at, actor, policies) VALUES (?1, ?2, ?3, ?4)
             RETURNING id",
            &[&since, &now, &actor, &policies],
        )?;
        let detail = format!("clocks started since {since} count under version {id}");
        audit(c, now, actor, "sla.recompute", None, &detail)?;
        Ok(id)
    })
}

/// Writes an escalation note once per clock and threshold; returns whether it
/// was written now (false: written before).
pub fn escalate(
    db: &mut impl Transact,
    conversation: i64,
    clock: (&str, i64),
    threshold: u32,
    body: &str,
    actor: &str,
    now: i64,
) -> Result<bool> {
    db.write(|c| {
        let fresh = c.exec(
            "INSERT INTO sla_escalations (conversation_id, clock, started, threshold, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT DO NOTHING",
            &[&conversation, &clock.0, &clock.1, &threshold, &now],
        )? == 1;
        if fresh {
            super::team::write_note(c, conversation, actor, body, now)?;
            note_change(c, now, ChangeKind::Note, Some(conversation), Some(actor))?;
            audit(c, now, actor, "sla.escalate", Some(conversation), &format!("{} at {threshold}%", clock.0))?;
        }
        Ok(fresh)
    })
}

#[cfg(test)]
mod tests {
    use super::reason_in;

    #[test]
    fn the_reason_a_redate_told() {
        assert_eq!(
            reason_in("Срок по вашему запросу переносится на пт 06.11. Причина: нет выписки из банка."),
            Some("нет выписки из банка".into())
        );
        assert_eq!(reason_in("Срок переносится."), None);
    }
}
