//! Rendering: a pure function of the state. No I/O, no SQL, no locks.

mod client;
mod list;
mod popups;
mod sidebar;
mod thread;

use super::state::{AppState, Focus};
use super::theme::Theme;
use crate::sanitize;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

pub fn render(state: &AppState, theme: &Theme, frame: &mut Frame<'_>) {
    let area = frame.area();
    frame.render_widget(Block::default().style(theme.style("base")), area);
    let [body, status] =
        Layout::vertical([Constraint::Min(1), Constraint::Length(status_rows(state, area.width))]).areas(area);

    let sidebar_width = if area.width >= 100 { 24 } else { 20 };
    let show_thread_alone = !state.wide() && matches!(state.focus, Focus::Thread | Focus::Composer);
    if show_thread_alone {
        thread::render(state, theme, frame, body);
    } else if state.wide() {
        let [side, middle, right] =
            Layout::horizontal([Constraint::Length(sidebar_width), Constraint::Percentage(42), Constraint::Min(30)])
                .areas(body);
        sidebar::render(state, theme, frame, side);
        list::render(state, theme, frame, middle);
        thread::render(state, theme, frame, right);
    } else {
        let [side, middle] = Layout::horizontal([Constraint::Length(sidebar_width), Constraint::Min(20)]).areas(body);
        sidebar::render(state, theme, frame, side);
        list::render(state, theme, frame, middle);
    }
    status_line(state, theme, frame, status);
    popups::render(state, theme, frame, area);
}

/// A bordered pane whose border shows whether it has the focus.
fn pane<'a>(title: String, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style(if focused { "border_focus" } else { "border" }))
        .title(Span::styled(format!(" {title} "), theme.style("title")))
}

/// An error that does not fit on the status line: it takes the whole line,
/// and up to three, rather than lose its end (the reason is the point).
fn long_error(state: &AppState, width: u16) -> Option<String> {
    let m = state.status.as_ref().filter(|m| m.error && state.popup.is_none())?;
    let text = format!(" {}", sanitize::line(&m.text));
    (sanitize::width(&text) + 40 > width as usize).then_some(text)
}

fn status_rows(state: &AppState, width: u16) -> u16 {
    long_error(state, width).map_or(1, |t| (sanitize::width(&t).div_ceil(width.max(1) as usize)).clamp(1, 3) as u16)
}

fn status_line(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    if let Some(text) = long_error(state, area.width) {
        let p = Paragraph::new(text).wrap(ratatui::widgets::Wrap { trim: false }).style(theme.style("status_error"));
        frame.render_widget(p, area);
        return;
    }
    let l = state.lang;
    let c = &state.counts;
    let mut right: Vec<Span<'_>> = Vec::new();
    let alert = c.overdue > 0;
    right.push(Span::styled(
        format!(" {} {} ", c.overdue, l.tr("status_overdue")),
        if alert { theme.style("status_alert") } else { theme.style("status_line") },
    ));
    // Response-time clocks past due (only with [[sla]] policies).
    if c.breached > 0 {
        right
            .push(Span::styled(format!("· ✗{} {} ", c.breached, l.tr("status_breached")), theme.style("status_alert")));
    }
    right.push(Span::styled(format!("· {} {} ", c.due_today, l.tr("status_due_today")), theme.style("status_line")));
    right.push(Span::styled(format!("· {} {} ", c.unanswered, l.tr("status_unanswered")), theme.style("status_line")));
    // Accounts whose worker is syncing or in trouble; the sidebar has the detail.
    for ch in state.channels.iter().filter(|c| !c.archived) {
        let (mark, style) = match &ch.status {
            Some(s) if s.is_trouble() => ("⚠", "status_error"),
            Some(crate::model::ChannelStatus::Syncing { .. }) => ("⟳", "status_line"),
            _ => continue,
        };
        right.push(Span::styled(
            format!("· {mark} {} ", sanitize::truncate(&sanitize::line(&ch.name), 16)),
            theme.style(style),
        ));
    }
    if let Some(solo) = state.solo {
        let mode = if solo { l.tr("mode_solo") } else { l.tr("mode_daemon") };
        right.push(Span::styled(format!("· {mode} "), theme.style("status_line")));
    }
    right.push(Span::styled(format!("· {} ", sanitize::line(&state.actor)), theme.style("status_line")));
    // While a prompt asks for something, the whole line is the prompt's: the
    // date being promised or the reason of an error is never the part cut off.
    if matches!(
        state.popup,
        Some(super::state::Popup::Fields(_) | super::state::Popup::Card(_) | super::state::Popup::Clients(_))
    ) {
        right.clear();
    }
    let right_width: usize = right.iter().map(|s| sanitize::width(&s.content)).sum();

    let (text, style) = match (&state.popup, &state.status) {
        (Some(super::state::Popup::Command(s)), _) => (format!(":{s}"), theme.style("input")),
        // An empty search prompt teaches its language until the first key.
        (Some(super::state::Popup::Search(s)), _) if s.is_empty() => {
            (format!("/   {}", state.lang.tr("search_hint")), theme.style("input"))
        }
        (Some(super::state::Popup::Search(s)), _) => (format!("/{s}"), theme.style("input")),
        (Some(super::state::Popup::Fields(f)), status) => {
            let label = super::state::field_label(state.lang, f.field());
            let mut text = format!("{label}: {}", sanitize::line(&f.input));
            let prompt_len = sanitize::width(&text);
            let confirm = state
                .keymap
                .key_for(crate::tui::keymap::Context::Input, &crate::tui::action::Action::Confirm)
                .unwrap_or_else(|| "Enter".into());
            if f.field() == "deadline" && f.input.trim().is_empty() {
                // An empty deadline prompt teaches its grammar until the first key.
                text.push_str(&format!(
                    "  {} · {confirm} {}",
                    state.lang.tr("deadline_examples"),
                    state.lang.tr("confirms")
                ));
            } else if f.field() == "deadline" {
                match state.deadline_preview(&f.input) {
                    Ok(ts) => text.push_str(&format!(
                        "  → {}",
                        crate::workflow::deadline::format_for_client(ts, &state.calendar)
                    )),
                    Err(e) => text.push_str(&format!("  ✗ {e}")),
                }
            } else if let Some(m) = status.as_ref().filter(|m| m.error && f.field() != "assignee") {
                text.push_str(&format!("  ✗ {}", sanitize::line(&m.text)));
            } else if f.field() == "assignee" {
                if let Some(m) = status.as_ref().filter(|m| m.error) {
                    text.push_str(&format!("  ✗ {}", sanitize::line(&m.text)));
                }
                // Who Tab completes to, from the team and the store.
                let names = state.team_matching(&f.input);
                if !names.is_empty() {
                    let shown: Vec<String> = names.iter().take(4).map(|n| sanitize::line(n).into_owned()).collect();
                    let more = if names.len() > 4 { " …" } else { "" };
                    text.push_str(&format!("  Tab: {}{more}", shown.join(", ")));
                }
            }
            let x = area.x + (prompt_len as u16).min(area.width.saturating_sub(1));
            frame.set_cursor_position((x, area.y));
            (text, theme.style("input"))
        }
        (_, Some(m)) => {
            (sanitize::line(&m.text).into_owned(), theme.style(if m.error { "status_error" } else { "status_line" }))
        }
        _ => {
            let chord: Vec<String> = state.chord.iter().map(|k| k.to_string()).collect();
            if chord.is_empty() {
                // Whole hints, the most used first, as many as fit: never «r …».
                let room = (area.width as usize).saturating_sub(right_width + 1);
                let mut hint = String::new();
                for item in state.lang.tr("hint").split(" · ") {
                    let next = if hint.is_empty() { format!(" {item}") } else { format!("{hint} · {item}") };
                    if sanitize::width(&next) > room {
                        break;
                    }
                    hint = next;
                }
                (hint, theme.style("status_line"))
            } else {
                (format!(" {}", chord.join(" ")), theme.style("status_line"))
            }
        }
    };
    let left_width = (area.width as usize).saturating_sub(right_width);
    let left = sanitize::truncate(&text, left_width).into_owned();
    let pad = left_width.saturating_sub(sanitize::width(&left));
    let mut spans = vec![Span::styled(left, style), Span::styled(" ".repeat(pad), theme.style("status_line"))];
    spans.extend(right);
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.style("status_line")), area);
    if matches!(state.popup, Some(super::state::Popup::Command(_)) | Some(super::state::Popup::Search(_))) {
        let typed = match &state.popup {
            Some(super::state::Popup::Search(s)) if s.is_empty() => "/",
            _ => text.as_str(),
        };
        let x = area.x + (sanitize::width(typed) as u16).min(area.width.saturating_sub(1));
        frame.set_cursor_position((x, area.y));
    }
}

/// Pads or cuts `s` to exactly `w` cells.
fn fit(s: &str, w: usize) -> String {
    let t = sanitize::truncate(s, w);
    let pad = w.saturating_sub(sanitize::width(&t));
    format!("{t}{}", " ".repeat(pad))
}

/// `text` as spans, the byte ranges in `marks` in `mark` style, the rest in
/// `base`; cut to `w` cells (padded), like [`fit`].
fn marked<'a>(text: &str, marks: &[[usize; 2]], w: usize, base: Style, mark: Style) -> Vec<Span<'a>> {
    // The first match is what the line is for: when it would fall off the
    // right edge, the words before it give way (from the left, marked `…`).
    if let Some(&[a, b]) = marks.first()
        && b <= text.len()
        && text.is_char_boundary(a)
        && sanitize::width(&text[..b]) > w.saturating_sub(1)
        && w > 4
    {
        let room = w / 3;
        let mut start = a;
        for (i, c) in text[..a].char_indices().rev() {
            if sanitize::width(&text[i..a]) > room {
                break;
            }
            if c == ' ' {
                start = i + 1;
            }
        }
        let lead = "…";
        let moved: Vec<[usize; 2]> = marks
            .iter()
            .filter(|m| m[0] >= start)
            .map(|m| [m[0] - start + lead.len(), m[1] - start + lead.len()])
            .collect();
        return marked(&format!("{lead}{}", &text[start..]), &moved, w, base, mark);
    }
    let shown = sanitize::truncate(text, w);
    // Where the shown text stops being the original (before an added `…`).
    let kept = if shown.len() == text.len() { text.len() } else { shown.len().saturating_sub('…'.len_utf8()) };
    let mut spans = Vec::new();
    let mut at = 0;
    for &[a, b] in marks {
        let (a, b) = (a.min(kept), b.min(kept));
        if a < at || a >= b || !text.is_char_boundary(a) || !text.is_char_boundary(b) {
            continue;
        }
        if a > at {
            spans.push(styled(text[at..a].to_string(), base));
        }
        spans.push(styled(text[a..b].to_string(), mark));
        at = b;
    }
    spans.push(styled(shown.get(at..).unwrap_or("").to_string(), base));
    let pad = w.saturating_sub(sanitize::width(&shown));
    if pad > 0 {
        spans.push(styled(" ".repeat(pad), base));
    }
    spans
}

fn styled<'a>(s: impl Into<String>, style: Style) -> Span<'a> {
    Span::styled(s.into(), style)
}

#[cfg(test)]
mod tests {
    use super::marked;
    use ratatui::style::Style;

    #[test]
    fn a_match_past_the_edge_is_brought_into_view() {
        let text = "Добрый день! Срочно, банк заблокировал счёт, что делать";
        let a = text.find("счёт").expect("word");
        let spans = marked(text, &[[a, a + "счёт".len()]], 24, Style::default(), Style::default().bold());
        let line: String = spans.iter().map(|s| s.content.as_ref()).collect();
        assert!(line.starts_with('…') && line.contains("счёт"), "{line:?}");
        assert_eq!(crate::sanitize::width(&line), 24);
        let marked_word: Vec<&str> =
            spans.iter().filter(|s| s.style == Style::default().bold()).map(|s| s.content.as_ref()).collect();
        assert_eq!(marked_word, ["счёт"]);
    }
}
