//! The middle pane: the conversation window (or search results), one line each.

use super::{marked, pane, styled};
use crate::i18n::compact_duration;
use crate::model::{ChannelKind, ConversationRow, View};
use crate::sanitize;
use crate::tui::state::{AppState, Focus};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

fn badge_slot(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Email => "badge_email",
        ChannelKind::Telegram => "badge_telegram",
        ChannelKind::Whatsapp => "badge_whatsapp",
    }
}

pub fn render(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let l = state.lang;
    let focused = state.focus == Focus::Conversations;
    if let Some(s) = &state.search {
        let title = format!("{}: {} ({})", l.tr("search_results"), sanitize::line(&s.query), s.hits.len());
        let block = pane(title, focused, theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        if s.hits.is_empty() {
            frame.render_widget(Paragraph::new(styled(l.tr("no_results"), theme.style("muted"))), inner);
            return;
        }
        let h = inner.height as usize;
        let start = s.cursor.saturating_sub(h.saturating_sub(1));
        let w = inner.width as usize;
        let lines: Vec<Line<'_>> = s
            .hits
            .iter()
            .enumerate()
            .skip(start)
            .take(h)
            .map(|(i, hit)| {
                let row = if i == s.cursor { theme.style("selection") } else { theme.style("base") };
                let date = hit.date.get(..10).unwrap_or(&hit.date);
                let note = if hit.hit == crate::model::HitKind::Note { "✎ " } else { "" };
                let head = format!("{} {note}{} ", hit.kind.badge(), sanitize::line(&hit.from));
                let head = sanitize::truncate(&head, w / 3).into_owned();
                let rest_w = w.saturating_sub(sanitize::width(&head) + 11);
                let mut spans = vec![styled(head, theme.style(badge_slot(hit.kind)).patch(row))];
                // The snippet is sanitised by the store; its highlights are byte ranges in it.
                spans.extend(marked(&hit.snippet, &hit.highlights, rest_w, row, row.patch(theme.style("match"))));
                spans.push(styled(format!(" {date}"), theme.style("muted").patch(row)));
                Line::from(spans)
            })
            .collect();
        frame.render_widget(Paragraph::new(lines), inner);
        return;
    }

    let view_name = match state.view {
        View::Channel(id) => {
            state.channels.iter().find(|c| c.id == id).map(|c| sanitize::line(&c.name).into_owned()).unwrap_or_default()
        }
        View::Client(_) => {
            let who = state.list.rows.first().and_then(|r| r.client.clone().or(r.client_name.clone()));
            format!("{}: {}", l.tr("view_client"), who.map(|w| sanitize::line(&w).into_owned()).unwrap_or_default())
        }
        other => l.tr(other.key()).to_string(),
    };
    let block = pane(format!("{view_name} ({})", super::count_text(state.list.total)), focused, theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if state.list.rows.is_empty() {
        frame.render_widget(empty_view(state, theme), inner);
        return;
    }
    let h = inner.height as usize;
    // Keep the cursor on screen, scrolling as little as possible.
    let start = state.list.cursor.saturating_sub(h.saturating_sub(1));
    let lines: Vec<Line<'_>> = state
        .list
        .rows
        .iter()
        .enumerate()
        .skip(start)
        .take(h)
        .map(|(i, c)| row(state, theme, c, i == state.list.cursor, inner.width as usize))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// An empty list says why when the reason is not good work: a channel that
/// does not work (and what its worker said), an archived one, no channels at all.
fn empty_view<'a>(state: &AppState, theme: &Theme) -> Paragraph<'a> {
    let l = state.lang;
    let channel = match state.view {
        View::Channel(id) => state.channels.iter().find(|c| c.id == id),
        _ => None,
    };
    let trouble = channel
        .filter(|c| !c.archived)
        .and_then(|c| c.status.as_ref())
        .and_then(|s| super::sidebar::trouble_said(l, s));
    let (text, style) = match (channel, trouble) {
        (Some(c), _) if c.archived => (l.tr("channel_archived_empty").to_string(), "muted"),
        (Some(_), Some(why)) => (format!("⚠ {} {}", l.tr("channel_broken"), sanitize::line(&why)), "failed"),
        (None, _) if state.channels.is_empty() => (l.tr("no_channels").to_string(), "muted"),
        _ => (l.tr("empty_view").to_string(), "muted"),
    };
    Paragraph::new(styled(text, theme.style(style))).wrap(ratatui::widgets::Wrap { trim: false })
}

fn row<'a>(state: &AppState, theme: &Theme, c: &ConversationRow, selected: bool, w: usize) -> Line<'a> {
    let now = state.clock.now();
    let base = if selected { theme.style("selection") } else { theme.style("base") };
    let l = state.lang;
    // Right side: promise, waiting time, time of the last message.
    let mut right: Vec<Span<'a>> = Vec::new();
    if let Some(d) = c.next_deadline {
        if d < now {
            right.push(styled(
                format!(" ⚑{} {}", l.tr("overdue"), compact_duration(l, now - d)),
                theme.style("overdue").patch(base),
            ));
        } else {
            right.push(styled(format!(" ⚑{}", state.clock.short(d)), theme.style("due").patch(base)));
        }
    }
    // The response-time clock: its mark, and the working time left (or past due).
    if let Some(g) = state.sla.get(&c.id) {
        let (symbol, slot) = crate::tui::state::sla::mark(g.state);
        let left = g.due.map(|d| {
            if d > now {
                compact_duration(l, state.calendar.working_seconds(now, d))
            } else {
                format!("+{}", compact_duration(l, state.calendar.working_seconds(d, now)))
            }
        });
        right.push(styled(format!(" {symbol}{}", left.unwrap_or_default()), theme.style(slot).patch(base)));
    }
    if let Some(since) = c.waiting_since {
        // Waiting is counted in working time: a night is not a client kept waiting.
        let waited = state.calendar.working_seconds(since, now);
        right.push(styled(format!(" ⏳{}", compact_duration(l, waited)), theme.style("waiting").patch(base)));
    }
    if let Some(who) = &c.claimed_by {
        right.push(styled(format!(" ✎{}", sanitize::line(who)), theme.style("claim").patch(base)));
    }
    if let Some(until) = c.snoozed_until.filter(|u| *u > now) {
        right.push(styled(format!(" z{}", state.clock.short(until)), theme.style("muted").patch(base)));
    }
    if state.has_draft(c.id) {
        right.push(styled(format!(" ✎{}", l.tr("draft_mark")), theme.style("claim").patch(base)));
    }
    right.push(styled(format!(" {:>5}", state.clock.short(c.last_message_at)), theme.style("muted").patch(base)));
    let right_w: usize = right.iter().map(|s| sanitize::width(&s.content)).sum();

    let marker = match (state.marked.contains(&c.id), c.unread) {
        (true, _) => "* ",
        (false, true) => "● ",
        (false, false) => "  ",
    };
    let badge = format!("{:<2} ", c.kind.badge());
    let mut title = sanitize::line(&c.title).into_owned();
    if let Some(client) = &c.client
        && !c.is_group
        && client != &c.title
    {
        title = format!("{} · {title}", sanitize::line(client));
    }
    let left_w = w.saturating_sub(right_w + 5);
    let title_style = if c.unread { theme.style("unread") } else { theme.style("base") };
    let title_fit = sanitize::truncate(&title, left_w).into_owned();
    let preview_w = left_w.saturating_sub(sanitize::width(&title_fit) + 3);
    let preview = if preview_w > 4 {
        format!(" — {}", sanitize::truncate(&sanitize::line(&c.preview), preview_w))
    } else {
        String::new()
    };
    let used = 5 + sanitize::width(&title_fit) + sanitize::width(&preview);
    let pad = w.saturating_sub(used + right_w);
    let mut spans = vec![
        styled(marker, theme.style("waiting").patch(base)),
        styled(badge, theme.style(badge_slot(c.kind)).patch(base)),
        styled(title_fit, title_style.patch(base)),
        styled(preview, theme.style("muted").patch(base)),
        styled(" ".repeat(pad), base),
    ];
    spans.extend(right);
    Line::from(spans)
}
