//! A mail server's report on a mail we sent (a bounce, a delay notice),
//! applied where people look: the report is stored in the thread of the mail
//! it reports on and never waits for an answer; a failure fails that mail's
//! outbox row (counted in `pult status`, listed by `pult outbox` and «Не
//! отправлено», offered again by `E`), a delay marks it delayed.

use super::Result;
use super::events::Applied;
use super::writer::note_change;
use crate::model::{ChangeKind, DeliveryReport, Inbound, ReportAction};
use rusqlite::{OptionalExtension, Transaction, params};

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
    tx: &Transaction<'_>,
    channel: i64,
    m: &Inbound,
    report: &DeliveryReport,
    now: i64,
    applied: &mut Applied,
) -> Result<()> {
    let reported = reported_mail(tx, channel, report, m.sent_at)?;
    // The report joins the thread through the Message-ID of the mail it
    // reports on, as an answer to it would; our sent mail may not have its
    // key yet (its copy in Sent is not synced).
    let mut mail = m.clone();
    if let Some(r) = &reported
        && let Some(key) = &r.rfc_id
    {
        tx.prepare_cached(
            "INSERT INTO thread_keys (channel_id, key, conversation_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id, key) DO NOTHING",
        )?
        .execute(params![channel, key, r.conversation])?;
        mail.thread_refs.retain(|k| k != key);
        mail.thread_refs.push(key.clone());
    }
    let stored = super::ingest::apply_in(tx, channel, &[&mail], now)?;
    applied.inserted += stored.inserted;
    applied.duplicates += stored.duplicates;
    applied.conversations.extend(&stored.conversations);
    if stored.inserted == 0 {
        return Ok(());
    }
    let outcome = report.outcome();
    let (id, conversation): (i64, i64) = tx
        .prepare_cached("SELECT id, conversation_id FROM messages WHERE channel_id = ?1 AND remote_id = ?2")?
        .query_row(params![channel, mail.remote_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    tx.prepare_cached("UPDATE messages SET report = ?1, reports_on = ?2 WHERE id = ?3")?.execute(params![
        outcome.as_str(),
        reported.as_ref().map(|r| r.message),
        id
    ])?;
    // Counted as waiting by ingest before it was known as a report.
    super::ingest::refresh_conversation(tx, conversation)?;
    match &reported {
        Some(r) => {
            tracing::info!("channel {channel}: a delivery report ({}) on message {}", outcome.as_str(), r.message);
            match outcome {
                ReportAction::Failed => failed(tx, r, &report.reason(ReportAction::Failed), now)?,
                ReportAction::Delayed => delayed(tx, r, &report.reason(ReportAction::Delayed), now)?,
                ReportAction::Delivered | ReportAction::Relayed | ReportAction::Expanded => {
                    arrived(tx, r, outcome, now)?
                }
            }
            applied.conversations.push(r.conversation);
        }
        None => tracing::info!("channel {channel}: a delivery report on a mail pult did not send; stored"),
    }
    Ok(())
}

/// The mail a report is about: by the Message-ID it returns (our outbox
/// record first, then any mail of ours); without one, the newest mail we sent
/// to a recipient it names, shortly before the report.
fn reported_mail(tx: &Transaction<'_>, channel: i64, report: &DeliveryReport, at: i64) -> Result<Option<Reported>> {
    let row = |r: &rusqlite::Row<'_>| {
        Ok(Reported {
            message: r.get(0)?,
            conversation: r.get(1)?,
            outbox: r.get(2)?,
            outbox_state: r.get(3)?,
            delivery: r.get(4)?,
            rfc_id: r.get(5)?,
        })
    };
    if let Some(id) = &report.original_id {
        let ours = tx
            .prepare_cached(
                "SELECT m.id, m.conversation_id, o.id, o.state, m.delivery, o.rfc_message_id
                 FROM outbox o JOIN messages m ON m.id = o.message_id
                 WHERE o.rfc_message_id = ?2 AND m.channel_id = ?1 ORDER BY o.id DESC LIMIT 1",
            )?
            .query_row(params![channel, id], row)
            .optional()?;
        if ours.is_some() {
            return Ok(ours);
        }
        // Mail sent from another program, seen in Sent.
        return Ok(tx
            .prepare_cached(
                "SELECT m.id, m.conversation_id, NULL, NULL, m.delivery, m.rfc_message_id
                 FROM messages m INDEXED BY messages_rfc_id
                 WHERE m.channel_id = ?1 AND m.rfc_message_id = ?2 AND m.direction = 'out'
                 ORDER BY m.id LIMIT 1",
            )?
            .query_row(params![channel, id], row)
            .optional()?);
    }
    let named = report.recipients.iter().filter(|r| !r.address.is_empty() && r.action != ReportAction::Delivered);
    for recipient in named {
        let found = tx
            .prepare_cached(
                "SELECT m.id, m.conversation_id, o.id, o.state, m.delivery, coalesce(m.rfc_message_id, o.rfc_message_id)
                 FROM outbox o JOIN messages m ON m.id = o.message_id
                 WHERE m.channel_id = ?1 AND o.state IN ('sent', 'unknown', 'failed')
                   AND o.updated_at BETWEEN ?3 - ?4 AND ?3 + ?5
                   AND (EXISTS (SELECT 1 FROM json_each(coalesce(m.recipients, o.to_addresses, '[]'))
                                WHERE lower(value) = ?2)
                        OR EXISTS (SELECT 1 FROM messages a JOIN identities i ON i.id = a.author_identity_id
                                   WHERE a.id = o.reply_to_message_id AND i.handle = ?2))
                 ORDER BY o.updated_at DESC, o.id DESC LIMIT 1",
            )?
            .query_row(params![channel, recipient.address, at, SENT_BEFORE, SENT_AFTER], row)
            .optional()?;
        if found.is_some() {
            return Ok(found);
        }
    }
    Ok(None)
}

/// The mail did not arrive: its outbox row fails as a send that failed does
/// (a row already failed by an earlier report names this recipient too).
fn failed(tx: &Transaction<'_>, r: &Reported, reason: &str, now: i64) -> Result<()> {
    // Lost, no longer late.
    without_delay(tx, r.message)?;
    match (r.outbox, r.outbox_state.as_deref()) {
        (Some(outbox), Some("sent" | "unknown")) => return super::intents::fail_row(tx, outbox, reason, now),
        (Some(outbox), Some("failed")) => {
            // Another recipient of the same mail, reported apart.
            for sql in [
                "UPDATE outbox SET error = coalesce(error || '; ', '') || ?2, updated_at = ?3
                 WHERE id = ?1 AND instr(coalesce(error, ''), ?2) = 0",
                "UPDATE messages SET error = coalesce(error || '; ', '') || ?2
                 WHERE id = (SELECT message_id FROM outbox WHERE id = ?1) AND instr(coalesce(error, ''), ?2) = 0",
            ] {
                tx.prepare_cached(sql)?.execute(params![outbox, reason, now])?;
            }
        }
        // Being sent again (`E`): the report is about the attempt before;
        // the thread shows it, the new attempt goes on.
        (Some(_), Some(_)) => return Ok(()),
        // Mail of ours pult did not send: only the message shows it.
        _ if r.delivery != "failed" => {
            tx.prepare_cached("UPDATE messages SET delivery = 'failed', error = ?2 WHERE id = ?1")?
                .execute(params![r.message, reason])?;
            super::ingest::refresh_conversation(tx, r.conversation)?;
        }
        _ => return Ok(()),
    }
    note_change(tx, now, ChangeKind::Outbox, Some(r.conversation), None)?;
    Ok(())
}

/// The mail is late, not lost: it says so, and nothing fails.
fn delayed(tx: &Transaction<'_>, r: &Reported, reason: &str, now: i64) -> Result<()> {
    if !matches!(r.delivery.as_str(), "sent" | "unknown") {
        return Ok(());
    }
    let notice: Option<String> =
        tx.prepare_cached("SELECT notice FROM messages WHERE id = ?1")?.query_row([r.message], |row| row.get(0))?;
    tx.prepare_cached("UPDATE messages SET notice = ?2, error = ?3 WHERE id = ?1")?.execute(params![
        r.message,
        with_code(notice.as_deref(), NOTICE_DELAYED),
        format!("{NOTICE_DELAYED}: {reason}")
    ])?;
    note_change(tx, now, ChangeKind::Outbox, Some(r.conversation), None)?;
    Ok(())
}

/// The mail arrived (or left for a system that reports no more): a delay
/// said before is over.
fn arrived(tx: &Transaction<'_>, r: &Reported, outcome: ReportAction, now: i64) -> Result<()> {
    if r.delivery == "failed" {
        return Ok(());
    }
    without_delay(tx, r.message)?;
    let delivery = if outcome == ReportAction::Delivered && r.delivery == "sent" { "delivered" } else { &r.delivery };
    tx.prepare_cached(
        "UPDATE messages SET delivery = ?2, error = CASE WHEN error LIKE ?3 THEN NULL ELSE error END WHERE id = ?1",
    )?
    .execute(params![r.message, delivery, format!("{NOTICE_DELAYED}: %")])?;
    note_change(tx, now, ChangeKind::Outbox, Some(r.conversation), None)?;
    Ok(())
}

/// Drops the «delayed» mark of a message (its other notices stay).
fn without_delay(tx: &Transaction<'_>, message: i64) -> Result<()> {
    let notice: Option<String> =
        tx.prepare_cached("SELECT notice FROM messages WHERE id = ?1")?.query_row([message], |row| row.get(0))?;
    let Some(notice) = notice.filter(|n| n.split(',').any(|c| c == NOTICE_DELAYED)) else { return Ok(()) };
    let kept: Vec<&str> = notice.split(',').filter(|c| !c.is_empty() && *c != NOTICE_DELAYED).collect();
    tx.prepare_cached("UPDATE messages SET notice = ?2 WHERE id = ?1")?
        .execute(params![message, (!kept.is_empty()).then(|| kept.join(","))])?;
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
