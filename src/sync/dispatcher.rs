//! The outbox dispatcher: takes due rows, hands them to their channel's sender,
//! and records the outcome (remote id first, then `sent`).

use crate::store::{Writer, intents};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

pub use crate::store::intents::OutboxItem;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SendError {
    /// Will not succeed by retrying (bot blocked, chat not found, refused recipient).
    #[error("{0}")]
    Permanent(String),
    /// Network trouble; retry with backoff.
    #[error("{0}")]
    Temporary(String),
    /// The service asked us to wait (Telegram 429 retry_after).
    #[error("rate limited for {0} s")]
    RetryAfter(u64),
    /// The request went out and no answer came back: it may have been sent.
    /// Never retried by itself; a person decides (`pult outbox`).
    #[error("{0}")]
    MaybeSent(String),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<String, SendError>> + Send + 'a>>;

/// Why a message went only in part («2 of 3 parts went; then: …»), kept
/// for people in the team's language.
pub fn parts_went(went: usize, total: usize, why: &str) -> String {
    crate::i18n::written()
        .tr("parts_went")
        .replace("{went}", &went.to_string())
        .replace("{total}", &total.to_string())
        .replace("{why}", why)
}

/// A file queued with a message that is no longer there.
pub fn file_gone(path: &std::path::Path) -> String {
    crate::i18n::written().tr("file_gone").replace("{path}", &path.display().to_string())
}

/// What a look for a maybe-sent message found, said to the person deciding.
#[derive(Debug, Clone, PartialEq)]
pub enum Found {
    /// It is there (where): it was sent.
    There(String),
    /// It is not where a sent copy would be (where).
    NotThere(String),
    /// The channel offers no way to know (why).
    CannotTell(String),
}

pub type LookFuture<'a> = Pin<Box<dyn Future<Output = Found> + Send + 'a>>;

/// One channel's way of delivering a queued message; returns the remote id.
pub trait ChannelSender: Send + Sync {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a>;

    /// Completes a message the server accepted before its sender died (email:
    /// files it in Sent unless it is there). Never sends. Returns the remote id.
    fn finish<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move { Ok(item.rfc_message_id.clone().unwrap_or_default()) })
    }

    /// Looks for a message that may have been sent (email: our Message-ID in
    /// Sent), before a person sends it again. Never sends.
    fn look_for<'a>(&'a self, _rfc_message_id: Option<&'a str>) -> LookFuture<'a> {
        Box::pin(async { Found::CannotTell("the channel does not show a bot what it sent".into()) })
    }
}

pub type Senders = HashMap<i64, Arc<dyn ChannelSender>>;

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Backoff for temporary failures: 5 s, 10 s, 20 s … capped at 10 minutes.
pub fn backoff(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 7)).min(600)
}

/// What one pass over the outbox did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct DispatchReport {
    pub sent: usize,
    /// Temporary trouble: tried again later.
    pub retrying: usize,
    /// (outbox id, reason): failed for good, or the outcome could not be recorded.
    pub failed: Vec<(i64, String)>,
}

impl DispatchReport {
    pub fn handled(&self) -> usize {
        self.sent + self.retrying + self.failed.len()
    }

    fn merge(&mut self, other: DispatchReport) {
        self.sent += other.sent;
        self.retrying += other.retrying;
        self.failed.extend(other.failed);
    }
}

/// The longest one send may take, whatever the channel: past it the send is
/// cut and counted as "may have been sent" (the channel could not say how
/// far it got). Each channel's own deadlines (a reply, a request) are shorter.
pub const SEND_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// Sends everything due once, every channel at the same time: a silent server
/// delays only its own channel's rows. A row that cannot be sent or recorded
/// is marked with its reason and the rows behind it still go.
pub async fn dispatch_due(writer: &Writer, senders: &Senders) -> DispatchReport {
    let mut set = tokio::task::JoinSet::new();
    for (&channel, sender) in senders {
        let (writer, sender) = (writer.clone(), sender.clone());
        set.spawn(async move { dispatch_channel(&writer, channel, sender.as_ref(), SEND_DEADLINE).await });
    }
    let mut report = DispatchReport::default();
    while let Some(done) = set.join_next().await {
        match done {
            Ok(r) => report.merge(r),
            Err(e) => report.failed.push((0, format!("a sender stopped: {e}"))),
        }
    }
    report
}

/// Sends one channel's due rows, one after another, each within `deadline`.
pub async fn dispatch_channel(
    writer: &Writer,
    channel: i64,
    sender: &dyn ChannelSender,
    deadline: Duration,
) -> DispatchReport {
    let mut report = DispatchReport::default();
    loop {
        let t = now();
        let item = match writer.outbox(move |c| intents::take_due(c, channel, t)).await {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!("outbox: {e}");
                report.failed.push((0, e.to_string()));
                break;
            }
        };
        // The channel's rules once more, right before the network: a connection
        // switched off or a window closed since the reply was queued.
        if let Err(why) = crate::channels::registry::kind(item.kind).check_reply(&last_moment_facts(&item, t)) {
            // Kept with the message for people to read: in the team's language.
            let lang = crate::i18n::written();
            let outcome = Err(SendError::Permanent(format!("{}: {}", lang.tr("not_sent"), why.in_language(lang))));
            record(writer, &item, outcome, &mut report).await;
            continue;
        }
        let outcome = match tokio::time::timeout(deadline, sender.send(&item)).await {
            Ok(outcome) => outcome,
            Err(_) => Err(SendError::MaybeSent(
                crate::i18n::written()
                    .tr("send_stopped")
                    .replace("{min}", &deadline.as_secs().div_ceil(60).to_string()),
            )),
        };
        record(writer, &item, outcome, &mut report).await;
    }
    report
}

/// What a queued row is judged by at the last moment. Email's own checks
/// (recipients) were made when it was queued and do not change.
fn last_moment_facts(item: &OutboxItem, now: i64) -> crate::channels::registry::ReplyFacts {
    crate::channels::registry::ReplyFacts {
        answers: Some(item.message_id),
        last_inbound_at: item.last_inbound_at,
        recipients: vec![String::new()],
        now,
        template: item.template.is_some(),
        connection: item.connection.clone(),
    }
}

/// Records a send's outcome; if even that fails, the row is marked failed with
/// the reason (it stays visible and never blocks the rows behind it).
async fn record(writer: &Writer, item: &OutboxItem, outcome: Result<String, SendError>, report: &mut DispatchReport) {
    let id = item.id;
    let t = now();
    let was_sent = outcome.is_ok();
    // Kept with the message for people to read, in the team's language: a
    // library's English is said by its kind, and goes to the log as it was.
    let lang = crate::i18n::written();
    let outcome = outcome.map_err(|e| {
        let said = |why: String| {
            let shown = crate::trouble::shown(lang, &why);
            if shown != why {
                tracing::info!("outbox {id}: {why}");
            }
            shown
        };
        match e {
            SendError::Permanent(why) => SendError::Permanent(said(why)),
            SendError::Temporary(why) => SendError::Temporary(said(why)),
            SendError::MaybeSent(why) => SendError::MaybeSent(said(why)),
            other => other,
        }
    });
    let (recorded, counted) = match outcome {
        Ok(remote) => (writer.outbox(move |c| intents::mark_sent(c, id, &remote, t)).await, None),
        Err(SendError::Permanent(why)) => {
            tracing::warn!("outbox {id}: failed: {why}");
            let reason = why.clone();
            (writer.outbox(move |c| intents::mark_failed(c, id, &reason, t)).await, Some(why))
        }
        Err(SendError::Temporary(why)) => {
            let at = t + backoff(item.attempts);
            tracing::info!("outbox {id}: will retry: {why}");
            report.retrying += 1;
            (writer.outbox(move |c| intents::retry_later(c, id, &why, at, t)).await, None)
        }
        Err(SendError::MaybeSent(why)) => {
            tracing::warn!("outbox {id}: may have been sent: {why}");
            let shown = format!("{}: {why}", intents::MAYBE_SENT_SHORT);
            (writer.outbox(move |c| intents::mark_unknown(c, id, &why, t)).await, Some(shown))
        }
        Err(SendError::RetryAfter(secs)) => {
            let at = t + secs as i64;
            report.retrying += 1;
            (writer.outbox(move |c| intents::retry_later(c, id, lang.tr("rate_limited"), at, t)).await, None)
        }
    };
    match (recorded, counted) {
        (Ok(()), Some(why)) => report.failed.push((id, why)),
        (Ok(()), None) => report.sent += usize::from(was_sent),
        (Err(e), _) => {
            let lang = crate::i18n::written();
            tracing::error!("outbox {id}: cannot record the outcome: {e}");
            let why = format!("{}: {}", lang.tr("outcome_unrecorded"), e.in_language(lang));
            tracing::error!("outbox {id}: {why}");
            let reason = why.clone();
            let _ = writer.outbox(move |c| intents::mark_failed(c, id, &reason, t)).await;
            report.failed.push((id, why));
        }
    }
}

/// After a crash: rows the server accepted are recorded and filed, never sent
/// again; rows that may or may not have left become `unknown`. Only the holder
/// of the worker lock calls this.
pub async fn recover(writer: &Writer, senders: &Senders) -> intents::Recovered {
    let t = now();
    let recovered = match writer.outbox(move |c| intents::recover_interrupted(c, t)).await {
        Ok(r) => r,
        Err(e) => {
            tracing::warn!("outbox recovery: {e}");
            return intents::Recovered::default();
        }
    };
    if recovered.unknown > 0 {
        tracing::warn!("outbox: {} message(s) may have been sent before a crash; marked unknown", recovered.unknown);
    }
    for (&channel, sender) in senders {
        loop {
            let item = match writer.outbox(move |c| intents::take_handed_over(c, channel, t)).await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("outbox recovery: {e}");
                    break;
                }
            };
            let id = item.id;
            // Accepted by the server: it counts as sent even if filing it fails.
            let remote = match sender.finish(&item).await {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!("outbox {id}: sent, but not filed: {e}");
                    item.rfc_message_id.clone().unwrap_or_default()
                }
            };
            if let Err(e) = writer.outbox(move |c| intents::mark_sent(c, id, &remote, t)).await {
                tracing::error!("outbox {id}: cannot record a recovered send: {e}");
                break;
            }
        }
    }
    recovered
}

/// Runs the dispatcher until its task is stopped: after recovery, each
/// channel checks its own outbox every `every`, on a task of its own, so one
/// channel's slow server never holds up another's rows.
pub async fn run(writer: Writer, senders: Senders, every: Duration) {
    recover(&writer, &senders).await;
    // Dropping the set (when this task is aborted) stops every channel's loop.
    let mut set = tokio::task::JoinSet::new();
    for (&channel, sender) in &senders {
        let (writer, sender) = (writer.clone(), sender.clone());
        set.spawn(async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                dispatch_channel(&writer, channel, sender.as_ref(), SEND_DEADLINE).await;
            }
        });
    }
    while set.join_next().await.is_some() {}
}
