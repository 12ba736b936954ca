//! A mail server's report on a mail we sent (a bounce, a delay notice),
//! applied where people look: the report is stored in the thread of the mail
//! it reports on and never waits for an answer; a failure fails that mail's
//! outbox row (counted in `pult status`, listed by `pult outbox` and «Не
//! отправлено», offered again by `E`), a delay marks it delayed.

use super::Result;
use super::events::Applied;
use super::sql::{Conn, Engine, Row};
use crate::model::{ChangeKind, DeliveryReport, Inbound, ReportAction};

/// A report mail is matched to a mail sent at most this long before it…
const SENT_BEFORE: i64 = 14 * 86_400;
/// … or this long after (the two clocks disagree).
const SENT_AFTER: i64 = 86_400;

/// Notice code of a mail a server reports delayed (see `parse::NOTICE_*`).
pub const NOTICE_DELAYED: &str = "delayed";

/// The mail a report is about.
struct Reported {
    message: i64,
    conversation: i64,
    outbox: Option<i64>,
    outbox_state: Option<String>,
    delivery: String,
    rfc_id: Option<String>,
}

/// Stores the report mail `m` in the thread of the mail it reports on and
/// applies what it says. A replay (the mail is stored already) changes nothing.
pub(super) fn apply(
    c: &dyn Conn,
    channel: i64,
    m: &Inbound,
    report: &DeliveryReport,
    now: i64,
    applied: &mut Applied,
) -> Result<()> {
    let reported = reported_mail(c, channel, report, m.sent_at)?;
    // The report joins the thread through the Message-ID of the mail it
    // reports on, as an answer to it would; our sent mail may not have its
    // key yet (its copy in Sent is not synced).
    let mut mail = m.clone();
    if let Some(r) = &reported
        && let Some(key) = &r.rfc_id
    {
        c.exec(
            "INSERT INTO thread_keys (channel_id, key, conversation_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id, key) DO NOTHING",
            &[&channel, key, &r.conversation],
        )?;
        mail.thread_refs.retain(|k| k != key);
        mail.thread_refs.push(key.clone());
    }
    let stored = super::ingest::apply_in(c, channel, &[&mail], now)?;
    applied.inserted += stored.inserted;
    applied.duplicates += stored.duplicates;
    applied.conversations.extend(&stored.conversations);
    if stored.inserted == 0 {
        return Ok(());
    }
    let outcome = report.outcome();
    let (id, conversation): (i64, i64) = c.one(
        "SELECT id, conversation_id FROM messages WHERE channel_id = ?1 AND remote_id = ?2",
        &[&channel, &mail.remote_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    c.exec(
        "UPDATE messages SET report = ?1, reports_on = ?2 WHERE id = ?3",
        &[&outcome.as_str(), &reported.as_ref().map(|r| r.message), &id],
    )?;
    // Counted as waiting by ingest before it was known as a report.
    super::ingest::refresh_conversation(c, conversation)?;
    match &reported {
        Some(r) => {
            tracing::info!("channel {channel}: a delivery report ({}) on message {}", outcome.as_str(), r.message);
            match outcome {
                ReportAction::Failed => failed(c, r, &report.reason(ReportAction::Failed), now)?,
                ReportAction::Delayed => delayed(c, r, &report.reason(ReportAction::Delayed), now)?,
                ReportAction::Delivered | ReportAction::Relayed | ReportAction::Expanded => {
                    arrived(c, r, outcome, now)?
                }
            }
            applied.conversations.push(r.conversation);
        }
        None => tracing::info!("channel {channel}: a delivery report on a mail pult did not send; stored"),
    }
    Ok(())
}

fn reported(r: &Row) -> Result<Reported> {
    Ok(Reported {
        message: r.get(0)?,
        conversation: r.get(1)?,
        outbox: r.get(2)?,
        outbox_state: r.get(3)?,
        delivery: r.get(4)?,
        rfc_id: r.get(5)?,
    })
}

/// The mail a report is about: by the Message-ID it returns (our outbox
/// record first, then any mail of ours); without one, the newest mail we sent
/// to a recipient it names, shortly before the report.
fn reported_mail(c: &dyn Conn, channel: i64, report: &DeliveryReport, at: i64) -> Result<Option<Reported>> {
    let sqlite = c.engine() == Engine::Sqlite;
    if let Some(id) = &report.original_id {
        let ours = c.opt(
            "SELECT m.id, m.conversation_id, o.id, o.state, m.delivery, o.rfc_message_id
             FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE o.rfc_message_id = ?2 AND m.channel_id = ?1 ORDER BY o.id DESC LIMIT 1",
            &[&channel, id],
            reported,
        )?;
        if ours.is_some() {
            return Ok(ours);
        }
        // Mail sent from another program, seen in Sent.
        let sql = if sqlite { THEIRS_SQLITE } else { THEIRS_POSTGRES };
        return c.opt(sql, &[&channel, id], reported);
    }
    let named = report.recipients.iter().filter(|r| !r.address.is_empty() && r.action != ReportAction::Delivered);
    let sql = if sqlite { TO_RECIPIENT_SQLITE } else { TO_RECIPIENT_POSTGRES };
    for recipient in named {
        // The window as two bounds: PostgreSQL cannot type `?3 - ?4` of two placeholders.
        let found = c.opt(sql, &[&channel, &recipient.address, &(at - SENT_BEFORE), &(at + SENT_AFTER)], reported)?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// `reported_mail`'s queries: SQLite is told its index, and reads a JSON
/// list with its own `json_each`; PostgreSQL with `jsonb_array_elements_text`.
macro_rules! theirs {
    ($hint:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, NULL, NULL, m.delivery, m.rfc_message_id FROM messages m ",
            $hint,
            " WHERE m.channel_id = ?1 AND m.rfc_message_id = ?2 AND m.direction = 'out' ORDER BY m.id LIMIT 1"
        )
    };
}
const THEIRS_SQLITE: &str = theirs!("INDEXED BY messages_rfc_id");
const THEIRS_POSTGRES: &str = theirs!("");
macro_rules! to_recipient {
    ($list:literal) => {
        concat!(
            "SELECT m.id, m.conversation_id, o.id, o.state, m.delivery, coalesce(m.rfc_message_id, o.rfc_message_id)
             FROM outbox o JOIN messages m ON m.id = o.message_id
             WHERE m.channel_id = ?1 AND o.state IN ('sent', 'unknown', 'failed')
               AND o.updated_at BETWEEN ?3 AND ?4
               AND (EXISTS (SELECT 1 FROM ",
            $list,
            " WHERE lower(value) = ?2)
                    OR EXISTS (SELECT 1 FROM messages a JOIN identities i ON i.id = a.author_identity_id
                               WHERE a.id = o.reply_to_message_id AND i.handle = ?2))
             ORDER BY o.updated_at DESC, o.id DESC LIMIT 1"
        )
    };
}
const TO_RECIPIENT_SQLITE: &str = to_recipient!("json_each(coalesce(m.recipients, o.to_addresses, '[]'))");
const TO_RECIPIENT_POSTGRES: &str = to_recipient!(
    "jsonb_array_elements_text(CAST(coalesce(m.recipients, o.to_addresses, '[]') AS jsonb)) AS list(value)"
);

/// The mail did not arrive: its outbox row fails as a send that failed does
/// (a row already failed by an earlier report names this recipient too).
fn failed(c: &dyn Conn, r: &Reported, reason: &str, now: i64) -> Result<()> {
    // Lost, no longer late.
    without_delay(c, r.message)?;
    match (r.outbox, r.outbox_state.as_deref()) {
        (Some(outbox), Some("sent" | "unknown")) => return super::intents::fail_row(c, outbox, reason, now),
        (Some(outbox), Some("failed")) => {
            // Another recipient of the same mail, reported apart; each reason once.
            let absent = if c.engine() == Engine::Sqlite { "instr" } else { "strpos" };
            for sql in [
                format!(
                    "UPDATE outbox SET error = coalesce(error || '; ', '') || ?2, updated_at = ?3
                     WHERE id = ?1 AND {absent}(coalesce(error, ''), ?2) = 0"
                ),
                format!(
                    "UPDATE messages SET error = coalesce(error || '; ', '') || ?2
                     WHERE id = (SELECT message_id FROM outbox WHERE id = ?1) AND {absent}(coalesce(error, ''), ?2) = 0"
                ),
            ] {
                if sql.contains("?3") {
                    c.exec(&sql, &[&outbox, &reason, &now])?;
                } else {
                    c.exec(&sql, &[&outbox, &reason])?;
                }
            }
        }
        // Being sent again (`E`): the report is about the attempt before;
        // the thread shows it, the new attempt goes on.
        (Some(_), Some(_)) => return Ok(()),
        // Mail of ours pult did not send: only the message shows it.
        _ if r.delivery != "failed" => {
            c.exec("UPDATE messages SET delivery = 'failed', error = ?2 WHERE id = ?1", &[&r.message, &reason])?;
            super::ingest::refresh_conversation(c, r.conversation)?;
        }
        _ => return Ok(()),
    }
    c.note_change(now, ChangeKind::Outbox.as_str(), Some(r.conversation), None)?;
    Ok(())
}

/// The mail is late, not lost: it says so, and nothing fails.
fn delayed(c: &dyn Conn, r: &Reported, reason: &str, now: i64) -> Result<()> {
    if !matches!(r.delivery.as_str(), "sent" | "unknown") {
        return Ok(());
    }
    let notice: Option<String> = c.one("SELECT notice FROM messages WHERE id = ?1", &[&r.message], |row| row.get(0))?;
    c.exec(
        "UPDATE messages SET notice = ?2, error = ?3 WHERE id = ?1",
        &[&r.message, &with_code(notice.as_deref(), NOTICE_DELAYED), &format!("{NOTICE_DELAYED}: {reason}")],
    )?;
    c.note_change(now, ChangeKind::Outbox.as_str(), Some(r.conversation), None)?;
    Ok(())
}

/// The mail arrived (or left for a system that reports no more): a delay
/// said before is over.
fn arrived(c: &dyn Conn, r: &Reported, outcome: ReportAction, now: i64) -> Result<()> {
    if r.delivery == "failed" {
        return Ok(());
    }
    without_delay(c, r.message)?;
    let delivery = if outcome == ReportAction::Delivered && r.delivery == "sent" { "delivered" } else { &r.delivery };
    c.exec(
        "UPDATE messages SET delivery = ?2, error = CASE WHEN error LIKE ?3 THEN NULL ELSE error END WHERE id = ?1",
        &[&r.message, &delivery, &format!("{NOTICE_DELAYED}: %")],
    )?;
    c.note_change(now, ChangeKind::Outbox.as_str(), Some(r.conversation), None)?;
    Ok(())
}

/// Drops the «delayed» mark of a message (its other notices stay).
fn without_delay(c: &dyn Conn, message: i64) -> Result<()> {
    let notice: Option<String> = c.one("SELECT notice FROM messages WHERE id = ?1", &[&message], |row| row.get(0))?;
    let Some(notice) = notice.filter(|n| n.split(',').any(|code| code == NOTICE_DELAYED)) else { return Ok(()) };
    let kept: Vec<&str> = notice.split(',').filter(|code| !code.is_empty() && *code != NOTICE_DELAYED).collect();
    c.exec("UPDATE messages SET notice = ?2 WHERE id = ?1", &[&message, &(!kept.is_empty()).then(|| kept.join(","))])?;
    Ok(())
}

/// A comma-separated notice list with `code` in it once.
fn with_code(notice: Option<&str>, code: &str) -> String {
    match notice.filter(|n| !n.is_empty()) {
        Some(n) if n.split(',').any(|c| c == code) => n.to_string(),
        Some(n) => format!("{n},{code}"),
        None => code.to_string(),
    }
}
