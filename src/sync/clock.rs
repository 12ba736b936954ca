//! The clock: work that happens because time passes, not because someone typed.
//! Today: one polite automatic reply per conversation per off-hours period.

use crate::store::{Writer, ledger};
use crate::workflow::calendar::Calendar;
use crate::workflow::templates::Templates;
use std::collections::HashMap;
use std::time::Duration;

/// Answers clients who wrote during the current off-hours period, at most once
/// per conversation per period. Returns how many replies were queued.
pub fn after_hours_replies(
    writer: &Writer,
    cal: &Calendar,
    templates: &Templates,
    actor: &str,
    now: i64,
) -> impl std::future::Future<Output = crate::store::Result<usize>> + use<> {
    let job = cal.off_hours_since(now).zip(templates.get("after-hours").cloned()).map(|(off_since, template)| {
        let mut vars: HashMap<&'static str, String> = HashMap::new();
        vars.insert("hours", cal.describe(true));
        vars.insert("agent", actor.to_string());
        let actor = actor.to_string();
        writer.start(move |c| {
            ledger::queue_after_hours_replies(c, off_since, &|kind| template.render(kind, &vars), &actor, now)
        })
    });
    async move {
        match job {
            Some(queued) => queued.await,
            None => Ok(0),
        }
    }
}

/// Runs the clock jobs every `every` until the runtime stops.
pub async fn run(writer: Writer, cal: Calendar, templates: Templates, actor: String, every: Duration) {
    let mut interval = tokio::time::interval(every);
    loop {
        interval.tick().await;
        let now = jiff::Timestamp::now().as_second();
        match after_hours_replies(&writer, &cal, &templates, &actor, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!("queued {n} after-hours replies"),
            Err(e) => tracing::warn!("after-hours replies: {e}"),
        }
    }
}
