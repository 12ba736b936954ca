//! The left pane: smart views, then channels with kind badge and unread count
//! (a channel in trouble with its reason under it), then, apart and dimmed,
//! archived channels whose account left the config.

use super::{fit, pane, styled};
use crate::model::View;
use crate::sanitize;
use crate::tui::state::{AppState, Focus};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::Paragraph;

/// The pane's width: 20 cells (24 from 100 columns), wider — up to a third
/// of the screen — when a view's name and its count (up to `9999+`) would
/// not both fit whole.
pub fn width(state: &AppState, screen: u16) -> u16 {
    let base: u16 = if screen >= 100 { 24 } else { 20 };
    let l = state.lang;
    // Views only: their names are ours and short; a long channel name is cut as before.
    let needed = View::SMART
        .iter()
        .enumerate()
        .map(|(i, v)| (l.tr(v.key()), state.view_counts.get(i).copied().unwrap_or(0)))
        .filter(|(_, count)| *count > 0)
        // Borders, the badge, the name, a space and the count.
        .map(|(name, count)| 2 + 3 + sanitize::width(&name) + 1 + super::count_text(count).len())
        .max()
        .unwrap_or(0);
    let cap = base.max(screen / 3);
    (needed.min(cap as usize) as u16).max(base)
}

pub fn render(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let l = state.lang;
    let block = pane(l.tr("channels").to_string(), state.focus == Focus::Channels, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let w = inner.width as usize;
    let mut lines = Vec::new();
    let entry = |i: usize, badge: (&str, &str), name: &str, count: i64, dim: bool| {
        let count_text = if count > 0 { format!(" {}", super::count_text(count)) } else { String::new() };
        let name_w = w.saturating_sub(3 + sanitize::width(&count_text));
        let selected = i == state.sidebar_cursor;
        let row_style = if selected { theme.style("selection") } else { theme.style("base") };
        let slot = |s: &str| if dim { theme.style("muted") } else { theme.style(s) };
        let name_style = if count > 0 { slot("unread") } else { slot("base") };
        Line::from(vec![
            styled(format!("{:<2} ", badge.0), slot(badge.1).patch(row_style)),
            styled(fit(name, name_w), name_style.patch(row_style)),
            styled(count_text, slot("waiting").patch(row_style)),
        ])
    };
    for (i, view) in View::SMART.iter().enumerate() {
        let badge = match view {
            View::AllOpen => ("*", "title"),
            View::Unanswered => ("!", "waiting"),
            View::DueToday => ("◷", "due"),
            View::Overdue => ("⚑", "overdue"),
            View::AtRisk => ("▲", "due"),
            View::Mine => (l.tr("badge_mine"), "author_out"),
            View::Unassigned => ("?", "muted"),
            View::AcceptedByMe => ("✓", "author_out"),
            View::Mentions => ("@", "note"),
            View::Snoozed => ("z", "muted"),
            View::Reminders => ("↻", "muted"),
            View::Unsent => ("✗", "failed"),
            View::Lists => ("≡", "muted"),
            View::SlaAtRisk => ("▲", "sla_at_risk"),
            View::Breached => ("✗", "sla_breached"),
            View::Channel(_) | View::Client(_) => ("", "base"),
        };
        let count = state.view_counts.get(i).copied().unwrap_or(0);
        lines.push(entry(i, badge, l.tr(view.key()), count, false));
    }
    lines.push(Line::from(styled("─".repeat(w), theme.style("border"))));
    for (i, c) in state.channels.iter().enumerate() {
        let slot = match c.kind {
            crate::model::ChannelKind::Email => "badge_email",
            crate::model::ChannelKind::Telegram => "badge_telegram",
            crate::model::ChannelKind::Whatsapp => "badge_whatsapp",
        };
        // Archived channels come last (the store's order), under a heading of their own.
        if c.archived && !state.channels[..i].iter().any(|c| c.archived) {
            let head = format!("─ {} ", l.tr("archive"));
            let rule = "─".repeat(w.saturating_sub(sanitize::width(&head)));
            lines.push(Line::from(styled(
                sanitize::truncate(&format!("{head}{rule}"), w).into_owned(),
                theme.style("muted"),
            )));
        }
        // An archived channel has no worker: whatever its worker last said is over.
        let status = c.status.as_ref().filter(|_| !c.archived);
        // A worker in trouble shows it next to its channel, and why under it.
        let name = match status {
            Some(s) if s.is_trouble() => format!("⚠ {}", sanitize::line(&c.name)),
            // A long first sync: how far it is, before the name so it is never cut.
            Some(s) => match s.progress_percent() {
                Some(p) => format!("⟳{p}% {}", sanitize::line(&c.name)),
                None => sanitize::line(&c.name).into_owned(),
            },
            None => sanitize::line(&c.name).into_owned(),
        };
        lines.push(entry(i + View::SMART.len(), (c.kind.badge(), slot), &name, c.unread, c.archived));
        if let Some(why) = status.and_then(|s| trouble_said(l, s)) {
            let text = format!("  {}", sanitize::line(&why));
            lines.push(Line::from(styled(sanitize::truncate(&text, w).into_owned(), theme.style("failed"))));
        }
        // People's own chats the bot works in (Telegram Business), under it;
        // `⚠` when switched off or without the right to reply.
        for conn in &c.connections {
            let trouble = !conn.enabled || !conn.can_reply;
            let mark = if trouble { "⚠ " } else { "↳ " };
            let mut text = format!(" {mark}{}{}", sanitize::line(&conn.owner_name), l.tr("owner_chats"));
            // The name is what matters; "'s chats" only where it fits whole.
            if sanitize::width(&text) > w {
                text = format!(" {mark}{}", sanitize::line(&conn.owner_name));
            }
            let style = if trouble { theme.style("failed") } else { theme.style("muted") };
            lines.push(Line::from(styled(sanitize::truncate(&text, w).into_owned(), style)));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// What a worker in trouble said, shown under its channel and in its empty list.
pub fn trouble_reason(status: &crate::model::ChannelStatus) -> Option<&str> {
    match status {
        crate::model::ChannelStatus::Error(why) | crate::model::ChannelStatus::AuthFailed(why) => Some(why),
        _ => None,
    }
}

/// [`trouble_reason`] as the UI says it in `lang`: a worker's English in
/// Russian by its kind (refused credentials as such), its raw words in the log.
pub fn trouble_said(lang: crate::i18n::Lang, status: &crate::model::ChannelStatus) -> Option<String> {
    let why = trouble_reason(status)?;
    let auth = matches!(status, crate::model::ChannelStatus::AuthFailed(_));
    let english = lang == crate::i18n::Lang::Ru && crate::i18n::english_leak(why).is_some();
    Some(if auth && english {
        crate::trouble::Trouble::Auth.in_language(lang).to_string()
    } else {
        crate::trouble::shown(lang, why)
    })
}

#[cfg(test)]
mod tests {
    use crate::model::ChannelStatus;

    #[test]
    fn a_status_keeps_its_meaning_through_the_store() {
        let all = [
            ChannelStatus::Connecting,
            ChannelStatus::Syncing { done: 12000, total: 20000 },
            ChannelStatus::Ok { at: Some(1_795_168_800) },
            ChannelStatus::Error("cannot connect to imap.example.test:993".into()),
            ChannelStatus::AuthFailed("the bot token was revoked (401 Unauthorized)".into()),
        ];
        for s in &all {
            assert_eq!(ChannelStatus::from_stored(&s.to_stored()).as_ref(), Some(s));
        }
        assert_eq!(all[1].progress_percent(), Some(60));
        assert_eq!(ChannelStatus::Syncing { done: 1, total: 0 }.progress_percent(), None);
        // What an older build wrote.
        assert_eq!(ChannelStatus::from_stored("✓ 12:03"), Some(ChannelStatus::Ok { at: None }));
        assert!(ChannelStatus::from_stored("⚠ office: timeout").is_some_and(|s| s.is_trouble()));
        // Said in Russian by its kind; English as the worker wrote it.
        use crate::i18n::{Lang, english_leak};
        for s in &all[3..] {
            let ru = super::trouble_said(Lang::Ru, s).expect("a reason");
            assert_eq!(english_leak(&ru), None, "{s:?}: {ru}");
            assert_eq!(super::trouble_said(Lang::En, s).as_deref(), super::trouble_reason(s));
        }
        let refused = ChannelStatus::AuthFailed("530 5.7.0 Must issue a STARTTLS command first".into());
        assert!(super::trouble_said(Lang::Ru, &refused).is_some_and(|r| r.starts_with("Сервер не принял вход")));
    }
}
