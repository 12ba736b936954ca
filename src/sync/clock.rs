//! The clock: work that happens because time passes, not because someone typed.
//! Today: one polite automatic reply per conversation per off-hours period.

use crate::model::ChannelKind;
use crate::store::intents::Reply;
use crate::store::{Writer, ledger};
use crate::workflow::calendar::Calendar;
use crate::workflow::templates::Templates;
use rusqlite::Connection;
use std::collections::HashMap;
use std::time::Duration;

/// Answers clients who wrote during the current off-hours period, at most once
/// per conversation per period. Returns how many replies were queued.
pub fn after_hours_replies(
    conn: &mut Connection,
    cal: &Calendar,
    templates: &Templates,
    actor: &str,
    now: i64,
) -> crate::store::Result<usize> {
    let Some(off_since) = cal.off_hours_since(now) else { return Ok(0) };
    let Some(template) = templates.get("after-hours") else { return Ok(0) };
    let mut vars: HashMap<&str, String> = HashMap::new();
    vars.insert("hours", cal.describe(true));
    vars.insert("agent", actor.to_string());
    let mut sent = 0;
    for (conversation, last_inbound) in ledger::owed_after_hours_reply(conn, off_since)? {
        let kind: String = conn.query_row(
            "SELECT ch.kind FROM conversations c JOIN channels ch ON ch.id = c.channel_id WHERE c.id = ?1",
            [conversation],
            |r| r.get(0),
        )?;
        let kind = ChannelKind::parse(&kind).unwrap_or(ChannelKind::Telegram);
        let subject: Option<String> = if kind == ChannelKind::Email {
            let s: Option<String> =
                conn.query_row("SELECT subject FROM conversations WHERE id = ?1", [conversation], |r| r.get(0))?;
            Some(crate::workflow::replies::reply_subject(s.as_deref()))
        } else {
            None
        };
        let reply = Reply {
            conversation_id: conversation,
            reply_to_message_id: last_inbound,
            subject,
            body: template.render(kind, &vars),
            actor: actor.to_string(),
            not_before: now,
            auto: true,
            attachments: Vec::new(),
        };
        if ledger::send_after_hours_reply(conn, &reply, off_since, now)? {
            sent += 1;
        }
    }
    Ok(sent)
}

/// Runs the clock jobs every `every` until the runtime stops.
pub async fn run(writer: Writer, cal: Calendar, templates: Templates, actor: String, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        let (cal, templates, actor) = (cal.clone(), templates.clone(), actor.clone());
        let now = jiff::Timestamp::now().as_second();
        match writer.call(move |c| after_hours_replies(c, &cal, &templates, &actor, now)).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("queued {n} after-hours replies"),
            Err(e) => tracing::warn!("after-hours replies: {e}"),
        }
    }
}
