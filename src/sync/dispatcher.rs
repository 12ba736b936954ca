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
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<String, SendError>> + Send + 'a>>;

/// One channel's way of delivering a queued message; returns the remote id.
pub trait ChannelSender: Send + Sync {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a>;
}

pub type Senders = HashMap<i64, Arc<dyn ChannelSender>>;

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Backoff for temporary failures: 5 s, 10 s, 20 s … capped at 10 minutes.
pub fn backoff(attempts: i64) -> i64 {
    (5i64 << attempts.clamp(0, 7)).min(600)
}

/// Sends everything due for each channel once; returns how many rows it handled.
pub async fn dispatch_due(writer: &Writer, senders: &Senders) -> usize {
    let mut handled = 0;
    for (&channel, sender) in senders {
        loop {
            let t = now();
            let item = match writer.call(move |c| intents::take_due(c, channel, t)).await {
                Ok(Some(item)) => item,
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!("outbox: {e}");
                    break;
                }
            };
            handled += 1;
            let outcome = sender.send(&item).await;
            let id = item.id;
            let t = now();
            let recorded = match outcome {
                Ok(remote) => writer.call(move |c| intents::mark_sent(c, id, &remote, t)).await,
                Err(SendError::Permanent(why)) => {
                    tracing::warn!("outbox {id}: failed: {why}");
                    writer.call(move |c| intents::mark_failed(c, id, &why, t)).await
                }
                Err(SendError::Temporary(why)) => {
                    let at = t + backoff(item.attempts);
                    tracing::info!("outbox {id}: will retry: {why}");
                    writer.call(move |c| intents::retry_later(c, id, &why, at, t)).await
                }
                Err(SendError::RetryAfter(secs)) => {
                    let at = t + secs as i64;
                    writer.call(move |c| intents::retry_later(c, id, "rate limited", at, t)).await
                }
            };
            if let Err(e) = recorded {
                tracing::error!("outbox {id}: cannot record the outcome: {e}");
                break;
            }
        }
    }
    handled
}

/// Runs the dispatcher until the runtime stops, checking the outbox every `every`.
pub async fn run(writer: Writer, senders: Senders, every: Duration) {
    let t = now();
    if let Err(e) = writer.call(move |c| intents::recover_interrupted(c, t)).await {
        tracing::warn!("outbox recovery: {e}");
    }
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        dispatch_due(&writer, &senders).await;
    }
}
