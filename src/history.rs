//! How a row of the audit trail reads to a person: the action in words
//! («принято в работу: срок 21.11.2026 12:00»), not its stored identifier
//! (`task.accept task 11 deadline …`). The stored action names stay as they
//! are: `pult audit --json` and scripts read them.

use crate::i18n::Lang;
use crate::model::AuditEvent;

/// What happened, in `lang`: the action and what it concerned, with times
/// in the team's local time (`clock`). Internal row numbers are left out.
pub fn describe(lang: Lang, event: &AuditEvent, clock: &crate::clock::Clock) -> String {
    let detail = event.detail_local.trim();
    // «Some(1763700000)» / «None», as snooze and follow-up store their time.
    let moment = || -> Option<String> {
        let n = detail.trim_start_matches("Some(").trim_end_matches(')');
        n.parse::<i64>().ok().map(|t| clock.full(t))
    };
    let with = |key: &'static str, what: &str| {
        let what = crate::sanitize::line(what);
        if what.trim().is_empty() { lang.tr(key).to_string() } else { format!("{}: {what}", lang.tr(key)) }
    };
    // A time reads without a colon: «отложено до 21.11.2026 12:00».
    let at = |key: &'static str, time: &str| format!("{} {time}", lang.tr(key)).trim_end().to_string();
    let after = |marker: &str| detail.split_once(marker).map(|(_, rest)| rest.trim().to_string());
    match event.action.as_str() {
        "send" => with("hist_send", detail),
        "send.auto" => with("hist_send_auto", detail),
        "send.undo" => lang.tr("hist_send_undo").into(),
        "email.forward" => with("hist_forward", detail),
        "email.new" => with("hist_email_new", detail),
        "close" => lang.tr("hist_close").into(),
        "reopen" => lang.tr("hist_reopen").into(),
        "sender.client" => format!("{} {}", crate::sanitize::line(detail), lang.tr("sender_client")),
        "sender.never" => format!("{} {}", crate::sanitize::line(detail), lang.tr("sender_never")),
        "outbox.retry" => lang.tr("hist_retry").into(),
        "outbox.discard" => lang.tr("hist_discard").into(),
        "outbox.confirm_sent" => lang.tr("hist_confirm_sent").into(),
        "task.accept" => at("hist_accept", &after("deadline ").unwrap_or_default()),
        "task.done" => lang.tr("hist_done").into(),
        "task.redate" => {
            let new = after("-> ").unwrap_or_default();
            at("hist_redate", &new)
        }
        "task.cancel" => lang.tr("hist_cancel").into(),
        "snooze" => at("hist_snooze", &moment().unwrap_or_default()),
        "unsnooze" => lang.tr("hist_unsnooze").into(),
        "follow_up" => match moment() {
            Some(t) => at("hist_follow_up", &t),
            None => lang.tr("hist_follow_up_off").into(),
        },
        "assign" | "assign.default" => {
            let key = if event.action == "assign" { "hist_assign" } else { "hist_assign_default" };
            match detail {
                "" | "(nobody)" => format!("{}: —", lang.tr(key)),
                who => with(key, who),
            }
        }
        "note" => with("hist_note", detail),
        "client_merge" => lang.tr("hist_client_merge").into(),
        "client_unmerge" => lang.tr("hist_client_unmerge").into(),
        "client_hand_over" => {
            let to = after(" to ").filter(|t| t != "nobody").unwrap_or_else(|| "—".into());
            with("hist_client_hand_over", &to)
        }
        "client_split" => lang.tr("hist_client_split").into(),
        "client_edit" => lang.tr("hist_client_edit").into(),
        "channel_removed" => {
            let name = detail.split(" (").next().unwrap_or_default();
            with("hist_channel_removed", name)
        }
        // A newer pult's action: its identifier beats saying nothing.
        other => format!("{} {}", crate::sanitize::line(other), crate::sanitize::line(detail)).trim_end().to_string(),
    }
}

/// Every action pult writes into the audit trail (for the test that each
/// reads as words in both languages).
pub const ACTIONS: &[&str] = &[
    "send",
    "send.auto",
    "send.undo",
    "email.forward",
    "email.new",
    "close",
    "reopen",
    "sender.client",
    "sender.never",
    "outbox.retry",
    "outbox.discard",
    "outbox.confirm_sent",
    "task.accept",
    "task.done",
    "task.redate",
    "task.cancel",
    "snooze",
    "unsnooze",
    "follow_up",
    "assign",
    "assign.default",
    "note",
    "client_merge",
    "client_unmerge",
    "client_hand_over",
    "client_split",
    "client_edit",
    "channel_removed",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &str, detail: &str) -> AuditEvent {
        AuditEvent {
            time: String::new(),
            actor: "anna".into(),
            action: action.into(),
            conversation: Some(1),
            detail: detail.into(),
            detail_local: detail.into(),
        }
    }

    #[test]
    fn every_action_reads_as_words() {
        let clock = crate::clock::Clock::fixed(1_763_700_000, jiff::tz::TimeZone::UTC);
        for action in ACTIONS {
            let ru = describe(Lang::Ru, &event(action, ""), &clock);
            assert_eq!(crate::i18n::english_leak(&ru), None, "{action}: {ru}");
            assert!(!ru.contains(action), "{action}: {ru}");
            let en = describe(Lang::En, &event(action, ""), &clock);
            assert!(!en.is_empty() && !en.contains(['.', '_']) && !en.contains("hist"), "{action}: {en}");
        }
        let accept = event("task.accept", "task 11 deadline 21.11.2026 12:00");
        assert_eq!(describe(Lang::Ru, &accept, &clock), "принято в работу: срок 21.11.2026 12:00");
        assert_eq!(describe(Lang::Ru, &event("send", "Добрый день"), &clock), "отправлено: Добрый день");
        assert_eq!(describe(Lang::Ru, &event("task.done", "task 11"), &clock), "выполнено");
        let snooze = describe(Lang::Ru, &event("snooze", "Some(1763700000)"), &clock);
        assert_eq!(snooze, format!("отложено до {}", clock.full(1_763_700_000)));
        assert_eq!(describe(Lang::Ru, &event("assign", "(nobody)"), &clock), "ответственный: —");
    }
}
