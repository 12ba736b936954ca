//! Rendering: a pure function of the state. No I/O, no SQL, no locks.

mod client;
mod list;
mod popups;
mod sidebar;
mod thread;

use super::state::{AppState, Focus, Purpose};
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

    let sidebar_width = sidebar::width(state, area.width);
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

/// What the left of the status line says. `priority`: something the
/// person just did or must decide (a message, a prompt): it is never cut —
/// the counts on the right give way, and at worst it takes up to three rows.
struct Left {
    text: String,
    slot: &'static str,
    /// Where the cursor stands, in cells from the left (prompts).
    cursor: Option<usize>,
    priority: bool,
}

/// The most rows the status line takes for a message that does not fit.
const STATUS_MAX_ROWS: usize = 3;

fn status_left(state: &AppState) -> Option<Left> {
    use super::state::Popup;
    let input = |text: String, cursor: usize| Left { text, slot: "input", cursor: Some(cursor), priority: true };
    Some(match (&state.popup, &state.status) {
        (Some(Popup::Command(s)), _) => {
            let text = format!(":{s}");
            let at = sanitize::width(&text);
            input(text, at)
        }
        // An empty search prompt teaches its language until the first key.
        (Some(Popup::Search(s)), _) if s.is_empty() => input(format!("/   {}", state.lang.tr("search_hint")), 1),
        (Some(Popup::Search(s)), _) => {
            let text = format!("/{s}");
            let at = sanitize::width(&text);
            input(text, at)
        }
        (Some(Popup::Fields(f)), status) => {
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
            } else if f.field() == "deadline"
                && let (Some(_), Some(m)) = (f.day_off_asked, status.as_ref())
            {
                // The day-off question, with the keys that answer it.
                text.push_str(&format!("  {}", sanitize::line(&m.text)));
            } else if f.field() == "deadline" {
                match state.deadline_preview(&f.input) {
                    Ok(ts) => {
                        text.push_str(&format!(
                            "  → {}",
                            crate::workflow::deadline::format_for_client(ts, &state.calendar)
                        ));
                        let told = matches!(f.purpose, Purpose::Accept | Purpose::Redate);
                        if told && crate::workflow::deadline::moved_off_day_off(ts, &state.calendar).is_some() {
                            text.push_str(&format!(" — {}", state.lang.tr("day_off")));
                        }
                    }
                    Err(e) => text.push_str(&format!("  ✗ {}", state.deadline_problem(&e))),
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
            input(text, prompt_len)
        }
        (_, Some(m)) => Left {
            text: format!(" {}", sanitize::line(&m.text)),
            slot: if m.error { "status_error" } else { "status_line" },
            cursor: None,
            priority: true,
        },
        _ => return None,
    })
}

/// One piece of the status line's right side; the lowest `rank` gives way first.
struct Piece {
    text: String,
    slot: &'static str,
    rank: u8,
}

/// A count of conversations as a screen shows it: past the screens' cap, "9999+".
pub fn count_text(n: i64) -> String {
    use crate::tui::reads::COUNT_CAP;
    if n > COUNT_CAP { format!("{COUNT_CAP}+") } else { n.to_string() }
}

/// The right side's pieces in their order: counts, channels syncing or in
/// trouble, the mode and who is at the keyboard. A channel warning shows by
/// name until the person has seen it (pressed a key while it showed), then
/// as `⚠N`, its reason one key (`!`) away.
fn right_pieces(state: &AppState, collapse_warnings: bool) -> Vec<Piece> {
    let l = state.lang;
    let c = &state.counts;
    let mut out = vec![
        Piece {
            text: format!(" {} {} ", c.overdue, l.tr("status_overdue")),
            slot: if c.overdue > 0 { "status_alert" } else { "status_line" },
            rank: 6,
        },
        Piece { text: format!("· {} {} ", c.due_today, l.tr("status_due_today")), slot: "status_line", rank: 3 },
        Piece {
            text: format!("· {} {} ", count_text(c.unanswered), l.tr("status_unanswered")),
            slot: "status_line",
            rank: 4,
        },
    ];
    // Response-time clocks past due (only with [[sla]] policies), beside the overdue promises.
    if c.breached > 0 {
        out.insert(
            1,
            Piece { text: format!("· ✗{} {} ", c.breached, l.tr("status_breached")), slot: "status_alert", rank: 6 },
        );
    }
    let warnings = state.channel_warnings();
    let unseen = warnings.iter().any(|(id, _, why)| !state.warnings_seen.contains(&(*id, why.clone())));
    if !warnings.is_empty() && (collapse_warnings || !unseen) {
        out.push(Piece { text: format!("· ⚠{} ", warnings.len()), slot: "status_error", rank: 7 });
    } else {
        for (_, name, _) in &warnings {
            let name = sanitize::truncate(&sanitize::line(name), 16).into_owned();
            out.push(Piece { text: format!("· ⚠ {name} "), slot: "status_error", rank: 5 });
        }
    }
    for ch in state.channels.iter().filter(|c| !c.archived) {
        if let Some(crate::model::ChannelStatus::Syncing { .. }) = &ch.status {
            let name = sanitize::truncate(&sanitize::line(&ch.name), 16).into_owned();
            out.push(Piece { text: format!("· ⟳ {name} "), slot: "status_line", rank: 2 });
        }
    }
    if state.loading {
        out.push(Piece { text: format!("· {} ", l.tr("loading")), slot: "status_line", rank: 2 });
    }
    if let Some(solo) = state.solo {
        let mode = if solo { l.tr("mode_solo") } else { l.tr("mode_daemon") };
        out.push(Piece { text: format!("· {mode} "), slot: "status_line", rank: 1 });
    }
    out.push(Piece { text: format!("· {} ", sanitize::line(&state.actor)), slot: "status_line", rank: 0 });
    out
}

/// The right side within `room` cells: the least important pieces leave
/// first; channel warnings shrink to `⚠N` before they would leave.
fn right_within(state: &AppState, room: usize) -> Vec<Piece> {
    let keep = |mut pieces: Vec<Piece>, floor: u8| -> Option<Vec<Piece>> {
        let mut ranks: Vec<u8> = pieces.iter().map(|p| p.rank).collect();
        ranks.sort_unstable();
        ranks.dedup();
        for rank in ranks {
            if pieces.iter().map(|p| sanitize::width(&p.text)).sum::<usize>() <= room {
                return Some(pieces);
            }
            if rank >= floor {
                return None;
            }
            pieces.retain(|p| p.rank != rank);
        }
        pieces.iter().map(|p| sanitize::width(&p.text)).sum::<usize>().le(&room).then_some(pieces)
    };
    keep(right_pieces(state, false), 5).or_else(|| keep(right_pieces(state, true), u8::MAX)).unwrap_or_default()
}

/// `text` broken at spaces into lines of at most `width` cells (a word
/// longer than a line is cut into pieces).
fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let candidate = if line.is_empty() { word.to_string() } else { format!("{line} {word}") };
        if sanitize::width(&candidate) <= width {
            line = candidate;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        let mut rest = word.to_string();
        while sanitize::width(&rest) > width {
            let mut cut = 0;
            for (i, ch) in rest.char_indices() {
                if sanitize::width(&rest[..i + ch.len_utf8()]) > width {
                    break;
                }
                cut = i + ch.len_utf8();
            }
            let cut = cut.max(rest.chars().next().map_or(1, char::len_utf8));
            lines.push(rest[..cut].to_string());
            rest = rest[cut..].to_string();
        }
        line = rest;
    }
    lines.push(line);
    lines
}

/// The essential right side (overdue and channel trouble, shrunk) that a
/// priority message on one row still leaves room for.
fn essential_right_width(state: &AppState) -> usize {
    right_pieces(state, true).iter().filter(|p| p.rank >= 6).map(|p| sanitize::width(&p.text)).sum()
}

/// A priority message too long for one row beside the essentials: its rows.
fn wrapped_left(state: &AppState, width: u16) -> Option<(Vec<String>, &'static str)> {
    let left = status_left(state).filter(|l| l.priority)?;
    let width = width as usize;
    if sanitize::width(&left.text) + 1 + essential_right_width(state) <= width {
        return None;
    }
    let mut rows = wrap_words(&left.text, width);
    rows.truncate(STATUS_MAX_ROWS);
    Some((rows, left.slot))
}

fn status_rows(state: &AppState, width: u16) -> u16 {
    wrapped_left(state, width).map_or(1, |(rows, _)| rows.len().max(1) as u16)
}

fn status_line(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let left = status_left(state);
    if let Some((rows, slot)) = wrapped_left(state, area.width) {
        let style = theme.style(slot);
        let lines: Vec<Line<'_>> = rows.into_iter().map(|r| Line::from(Span::styled(r, style))).collect();
        frame.render_widget(Paragraph::new(lines).style(style), area);
        if let Some(at) = left.as_ref().and_then(|l| l.cursor) {
            let w = area.width.max(1) as usize;
            let (row, col) = (at / w, at % w);
            frame.set_cursor_position((area.x + col as u16, area.y + (row as u16).min(area.height.saturating_sub(1))));
        }
        return;
    }
    let width = area.width as usize;
    // While a form or a card asks for something, the whole line is its own.
    let form = matches!(
        state.popup,
        Some(super::state::Popup::Fields(_) | super::state::Popup::Card(_) | super::state::Popup::Clients(_))
    );
    let right = match &left {
        _ if form => Vec::new(),
        Some(l) if l.priority => right_within(state, width.saturating_sub(sanitize::width(&l.text) + 1)),
        _ => right_within(state, width),
    };
    let right_width: usize = right.iter().map(|p| sanitize::width(&p.text)).sum();
    let (text, style) = match &left {
        Some(l) => (l.text.clone(), theme.style(l.slot)),
        None => {
            let chord: Vec<String> = state.chord.iter().map(|k| k.to_string()).collect();
            if chord.is_empty() {
                // Whole hints, the most used first, as many as fit: never «r …».
                let room = width.saturating_sub(right_width + 1);
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
    let left_width = width.saturating_sub(right_width);
    let shown = sanitize::truncate(&text, left_width).into_owned();
    let pad = left_width.saturating_sub(sanitize::width(&shown));
    let mut spans = vec![Span::styled(shown, style), Span::styled(" ".repeat(pad), theme.style("status_line"))];
    spans.extend(right.into_iter().map(|p| Span::styled(p.text, theme.style(p.slot))));
    frame.render_widget(Paragraph::new(Line::from(spans)).style(theme.style("status_line")), area);
    if let Some(at) = left.and_then(|l| l.cursor) {
        frame.set_cursor_position((area.x + (at as u16).min(area.width.saturating_sub(1)), area.y));
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
    use super::{count_text, marked};
    use ratatui::style::Style;

    #[test]
    fn a_count_past_the_cap_reads_as_more() {
        assert_eq!(count_text(9_999), "9999");
        assert_eq!(count_text(10_000), "9999+");
    }

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
