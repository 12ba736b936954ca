//! The right pane: one conversation's messages, newest at the bottom, and the composer under it.

use super::{pane, styled};
use crate::i18n::compact_duration;
use crate::model::{Delivery, Direction, MessageRow};
use crate::sanitize;
use crate::search::words::{Terms, matches, with_words};
use crate::tui::body::wrap;
use crate::tui::state::{AppState, Focus};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn render(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    let l = state.lang;
    let focused = matches!(state.focus, Focus::Thread);
    let Some(t) = &state.thread else {
        if let Some(composer) = &state.composer {
            // A new email with no conversation open: the composer has the pane.
            render_composer(state, composer, theme, frame, area);
            return;
        }
        let block = pane(l.tr("thread").to_string(), focused, theme);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        frame.render_widget(Paragraph::new(styled(l.tr("no_conversation"), theme.style("muted"))), inner);
        return;
    };
    let (thread_area, composer_area) = if state.composer.is_some() {
        let h = (area.height / 2).clamp(5, 12);
        let [a, b] = Layout::vertical([Constraint::Min(3), Constraint::Length(h)]).areas(area);
        (a, Some(b))
    } else {
        (area, None)
    };

    let c = &t.conversation;
    let mut title = sanitize::line(&c.title).into_owned();
    if c.is_group {
        title = format!("{title} [{}]", l.tr("group"));
    }
    let block = pane(format!("{} {title}", c.kind.badge()), focused, theme);
    let inner = block.inner(thread_area);
    frame.render_widget(block, thread_area);
    let w = inner.width.max(1) as usize;

    // Header: channel, client, promises.
    let mut header: Vec<Line<'_>> = Vec::new();
    let mut info = vec![styled(sanitize::line(&c.channel_name).into_owned(), theme.style("muted"))];
    if let Some(client) = &c.client {
        info.push(styled(format!(" · {}", sanitize::line(client)), theme.style("author_in")));
    }
    if let Some(a) = &c.assignee {
        info.push(styled(format!(" · → {}", sanitize::line(a)), theme.style("muted")));
    }
    header.push(Line::from(info));
    let now = state.clock.now();
    for task in &t.tasks {
        if let (Some(why), Some(d)) = (&task.withdrawn, task.deadline) {
            let crossed = theme.style("muted").add_modifier(ratatui::style::Modifier::CROSSED_OUT);
            header.push(Line::from(vec![
                styled(format!("⚑ {} {}", l.tr("due"), state.clock.full(d)), crossed),
                styled(format!("  {}: {}", l.tr("promise_withdrawn"), sanitize::line(why)), theme.style("failed")),
            ]));
            continue;
        }
        if let Some(d) = task.deadline {
            let (text, slot) = if d < now {
                (format!("⚑ {} {} ({})", l.tr("overdue"), compact_duration(l, now - d), state.clock.full(d)), "overdue")
            } else {
                (format!("⚑ {} {}", l.tr("due"), state.clock.full(d)), "due")
            };
            let by = task.accepted_by.as_deref().map(|a| format!(" · {}", sanitize::line(a))).unwrap_or_default();
            let unsent = if task.unsent { format!(" · {}", l.tr("promise_unsent")) } else { String::new() };
            header.push(Line::from(styled(format!("{text}{by}{unsent}"), theme.style(slot))));
        }
    }
    if let Some(g) = state.sla.get(&c.id) {
        let (symbol, slot) = crate::tui::state::sla::mark(g.state);
        header
            .push(Line::from(styled(format!("{symbol} {}", crate::tui::state::sla::header(l, g)), theme.style(slot))));
        if let Some(w) = crate::tui::state::sla::window_warning(l, g) {
            header.push(Line::from(styled(format!("⚠ {w}"), theme.style("sla_at_risk"))));
        }
    }
    if let Some(who) = &c.claimed_by {
        header.push(Line::from(styled(
            format!("✎ {} {}", sanitize::line(who), l.tr("is_replying")),
            theme.style("claim"),
        )));
    }
    if t.is_new_chat() {
        header.push(Line::from(styled(l.tr("new_chat").to_string(), theme.style("waiting"))));
    }
    if let Some(hint) = &t.client_hint {
        let key = state.keymap.key_for(crate::tui::keymap::Context::Thread, &crate::tui::action::Action::ClientCard);
        let key = key.map(|k| format!(" · {k} {}", l.tr("card_hint_key"))).unwrap_or_default();
        // Two lines, so that the name and the reason both stay whole at 80 columns.
        let (names, reason) = super::client::rule_parts(l, hint);
        header.push(Line::from(styled(format!("≈ {}: {names}{key}", l.tr("card_suggestions")), theme.style("due"))));
        header.push(Line::from(styled(format!("  {reason}"), theme.style("due"))));
    }
    if let Some(until) = c.snoozed_until.filter(|u| *u > now) {
        header.push(Line::from(styled(
            format!("{} {}", l.tr("snoozed_until"), state.clock.full(until)),
            theme.style("muted"),
        )));
    }
    if let Some(at) = c.follow_up_at {
        header.push(Line::from(styled(
            format!("{} {}", l.tr("follow_up_at"), state.clock.full(at)),
            theme.style("muted"),
        )));
    }
    let header_h = header.len().min(inner.height as usize / 2) as u16;
    let [head_area, msgs_area] = Layout::vertical([Constraint::Length(header_h), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(header), head_area);

    // Messages are laid out from the newest upwards, only as far as the screen
    // needs (down to the message `n`/`N` asked for, which then starts the
    // screen). A body is counted and wrapped only as far as that too: a 30 MB
    // mail costs a screenful per frame (see `tui::body`).
    let h = msgs_area.height as usize;
    let body_w = w.saturating_sub(2).max(8);
    t.bodies.new_frame();
    let need = h.saturating_add(t.scroll);
    let mut placed: Vec<Placed<'_>> = Vec::new();
    let mut total = 0usize;
    let mut below_jump = None;
    for (i, m) in t.messages.iter().enumerate().rev() {
        // Show a subject only where it changes, not `Re: …` on every message.
        let subject_changed = match (&m.subject, i.checked_sub(1).and_then(|p| t.messages[p].subject.as_ref())) {
            (Some(s), Some(prev)) => strip_re(s) != strip_re(prev),
            (Some(_), None) => true,
            (None, _) => false,
        };
        let (mut head, tail) = message_parts(state, theme, m, w, subject_changed);
        // Rows of the body from its end: all of them below the message `n` asked
        // for, else only up to the top of the screen.
        let want = match t.jump_to {
            Some(j) if i >= j => usize::MAX,
            Some(_) => h.saturating_sub(total + tail.len()),
            None => need.saturating_sub(total + tail.len()),
        };
        let (body, whole) = if m.deleted { (0, true) } else { t.bodies.rows_at_least(m.id, &m.body, body_w, want) };
        if !whole {
            // Above rows not counted: the screen ends below them.
            head.clear();
        }
        placed.push(Placed { message: m, head, body, tail, bottom: total });
        total += placed.last().map_or(0, Placed::len);
        if t.jump_to == Some(i) {
            below_jump = Some(total);
        }
        let done = match t.jump_to {
            Some(j) => i <= j && total >= h,
            None => total >= need,
        };
        if done {
            break;
        }
    }
    let wanted = below_jump.map_or(t.scroll, |below| below.saturating_sub(h));
    let scroll = wanted.min(total.saturating_sub(h));
    t.shown_scroll.set(scroll);
    // The screen is rows `scroll..scroll + h` counted from the bottom.
    let shown = |from: usize, len: usize| (from.max(scroll), (from + len).min(scroll + h));
    let on_screen = |lines: &[Line<'static>], from: usize, out: &mut Vec<Line<'static>>| {
        let (lo, hi) = shown(from, lines.len());
        for row in (lo..hi).rev() {
            out.push(lines[lines.len() - 1 - (row - from)].clone());
        }
    };
    let mut visible: Vec<Line<'static>> = Vec::with_capacity(h);
    for p in placed.iter().rev() {
        let m = p.message;
        on_screen(&p.head, p.bottom + p.tail.len() + p.body, &mut visible);
        let (lo, hi) = shown(p.bottom + p.tail.len(), p.body);
        if lo < hi {
            let from = p.bottom + p.tail.len();
            for row in t.bodies.rows(m.id, &m.body, body_w, lo - from, hi - from) {
                let style = if m.direction == Direction::Note {
                    theme.style("note")
                } else if row.quote {
                    theme.style("quote")
                } else {
                    Style::default()
                };
                visible.push(highlighted(&row.text, &t.terms, style, theme));
            }
        }
        on_screen(&p.tail, p.bottom, &mut visible);
    }
    frame.render_widget(Paragraph::new(visible), msgs_area);

    if let (Some(area), Some(composer)) = (composer_area, &state.composer) {
        render_composer(state, composer, theme, frame, area);
    }
}

fn render_composer(
    state: &AppState,
    composer: &crate::tui::state::Composer,
    theme: &Theme,
    frame: &mut Frame<'_>,
    area: Rect,
) {
    use crate::tui::state::MailDraft;
    let l = state.lang;
    {
        let mut title = match &composer.mail {
            Some(MailDraft::Forward { to, message }) => {
                // What goes along: the picked mail and its files, nothing else.
                let files = state
                    .thread
                    .as_ref()
                    .and_then(|t| t.messages.iter().find(|m| m.id == *message))
                    .map(|m| m.attachments.len())
                    .unwrap_or(0);
                let clip = if files > 0 { format!(" ⤷ 📎{files}") } else { String::new() };
                format!("{} → {}{clip}", l.tr("forward_to"), sanitize::line(&to.join(", ")))
            }
            Some(MailDraft::New { to, .. }) => format!("{} → {}", l.tr("new_email_to"), sanitize::line(&to.join(", "))),
            None => l.tr(if composer.note { "note_title" } else { "composer" }).to_string(),
        };
        for a in &composer.attachments {
            let name = a.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            title.push_str(&format!(" 📎{}", sanitize::line(&name)));
        }
        if let Some(s) = &composer.subject {
            title = format!("{title}: {}", sanitize::line(s));
        }
        // WhatsApp's 24 hours: how long a free reply may still go, or that
        // only the approved template will.
        if !composer.note {
            match state.reply_window_left() {
                Some(left) if left > 0 => {
                    title.push_str(&format!(" · ⏳ {} {}", l.tr("window_left"), crate::i18n::compact_duration(l, left)))
                }
                Some(_) if composer.template.is_some() => title.push_str(&format!(" · {}", l.tr("template_goes"))),
                _ => {}
            }
        }
        // The keys under the text: the whole hint where it fits, else the short
        // one, else as many whole items as fit — a key is never cut in half.
        let room = (area.width as usize).saturating_sub(4);
        let (full, short) =
            if composer.note { ("note_hint", "note_hint_short") } else { ("composer_hint", "composer_hint_short") };
        let hint = [l.tr(full), l.tr(short)]
            .into_iter()
            .find(|h| sanitize::width(h) <= room)
            .map(str::to_string)
            .unwrap_or_else(|| whole_items(l.tr(short), room));
        let block = pane(title, state.focus == Focus::Composer, theme)
            .title_bottom(Span::styled(format!(" {hint} "), theme.style("muted")));
        let mut inner = block.inner(area);
        frame.render_widget(block, area);
        // Reply-all, shown before it leaves and never cut: who gets it in To and in Cc.
        if let Some((to, cc)) = state.reply_recipients() {
            let cc = if cc.is_empty() {
                String::new()
            } else {
                format!(" · {}: {}", l.tr("header_cc"), shown_list(state, &cc))
            };
            let text = sanitize::line(&format!("{}: {}{cc}", l.tr("header_to"), shown_list(state, &to))).into_owned();
            let rows = (sanitize::width(&text) as u16).div_ceil(inner.width.max(1)).clamp(1, 3).min(inner.height / 2);
            let head = ratatui::layout::Rect { height: rows, ..inner };
            frame.render_widget(
                Paragraph::new(styled(text, theme.style("muted"))).wrap(ratatui::widgets::Wrap { trim: false }),
                head,
            );
            inner.y += rows;
            inner.height -= rows;
        }
        frame.render_widget(&composer.textarea, inner);
        if state.focus == Focus::Composer && state.popup.is_none() {
            let cur = composer.textarea.screen_cursor();
            frame.set_cursor_position((inner.x + cur.col as u16, inner.y + cur.row as u16));
        }
    }
}

/// Addresses with the names the thread's mail gave them.
fn shown_list(state: &AppState, list: &[String]) -> String {
    list.iter()
        .map(|a| state.thread.as_ref().map(|t| t.shown_address(a)).unwrap_or_else(|| a.clone()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn strip_re(s: &str) -> String {
    crate::workflow::replies::reply_subject(Some(s))
}

/// A message on screen: the lines above its body, the body's rows (counted so
/// far), the lines under it, and where it ends, in rows from the bottom.
struct Placed<'m> {
    message: &'m MessageRow,
    head: Vec<Line<'static>>,
    body: usize,
    tail: Vec<Line<'static>>,
    bottom: usize,
}

impl Placed<'_> {
    fn len(&self) -> usize {
        self.head.len() + self.body + self.tail.len()
    }
}

/// Single-line fields from outside are cut before they are sanitised: a cell
/// shows a line's start, and a 10 MB subject must not cost 10 MB per frame.
const FIELD: usize = 4096;

fn field(s: &str) -> std::borrow::Cow<'_, str> {
    sanitize::line(&s[..s.floor_char_boundary(FIELD)])
}

/// The lines of a message above its body and under it.
fn message_parts(
    state: &AppState,
    theme: &Theme,
    m: &MessageRow,
    w: usize,
    show_subject: bool,
) -> (Vec<Line<'static>>, Vec<Line<'static>>) {
    let l = state.lang;
    let mut out = Vec::new();
    let (arrow, author_slot) = match m.direction {
        Direction::In => ("←", "author_in"),
        Direction::Out => ("→", "author_out"),
        Direction::Note => ("✎", "note"),
    };
    let mut head = vec![
        styled(format!("{arrow} {}", field(&m.author)), theme.style(author_slot)),
        styled(format!("  {}", state.clock.full(m.sent_at)), theme.style("muted")),
    ];
    match m.delivery {
        Delivery::Pending => head.push(styled(format!("  ◷ {}", l.tr("pending")), theme.style("pending"))),
        Delivery::Sending => head.push(styled(format!("  ◷ {}", l.tr("sending")), theme.style("pending"))),
        Delivery::Sent => head.push(styled(format!("  ✓ {}", l.tr("sent")), theme.style("muted"))),
        Delivery::Delivered => head.push(styled(format!("  ✓✓ {}", l.tr("delivered")), theme.style("muted"))),
        Delivery::Read => head.push(styled(format!("  ✓✓ {}", l.tr("read_by_client")), theme.style("author_out"))),
        // The reason goes on lines of its own below, wrapped: never cut off.
        Delivery::Failed => head.push(styled(format!("  ✗ {}", l.tr("failed")), theme.style("failed"))),
        Delivery::Unknown => head.push(styled(format!("  ⚠ {}", l.tr("maybe_sent")), theme.style("failed"))),
        Delivery::Received => {}
    }
    if m.edited {
        head.push(styled(format!("  ({})", l.tr("edited")), theme.style("muted")));
    }
    if m.expunged {
        head.push(styled(format!("  ({})", l.tr("expunged")), theme.style("muted")));
    }
    if m.direction == Direction::Note {
        head.push(styled(format!("  {}", l.tr("internal_note")), theme.style("note")));
    }
    out.push(Line::from(head));
    if m.direction == Direction::Out && !m.to.is_empty() {
        let cc = if m.cc.is_empty() {
            String::new()
        } else {
            format!(" · {}: {}", l.tr("header_cc"), shown_list(state, &m.cc))
        };
        let to = shown_list(state, &m.to);
        let text = format!("{}: {}{}", l.tr("header_to"), sanitize::line(&to), sanitize::line(&cc));
        for piece in wrap(&text, w.saturating_sub(2).max(8)) {
            out.push(Line::from(styled(format!("  {piece}"), theme.style("muted"))));
        }
    }
    if matches!(m.delivery, Delivery::Failed | Delivery::Unknown)
        && let Some(e) = m.error.as_ref().filter(|e| e.as_str() != crate::store::intents::MAYBE_SENT)
    {
        for piece in wrap(&sanitize::line(&crate::trouble::shown(l, e)), w.saturating_sub(4).max(8)) {
            out.push(Line::from(styled(format!("  ✗ {piece}"), theme.style("failed"))));
        }
    }
    if m.delivery == Delivery::Unknown {
        // The keys that decide are in it: wrapped, never cut off.
        for piece in wrap(l.tr("maybe_sent_hint"), w.saturating_sub(2).max(8)) {
            out.push(Line::from(styled(format!("  {piece}"), theme.style("failed"))));
        }
    }
    // How the mail was read, on its own line: a spoof mark must not be cut off.
    for code in &m.notices {
        let text = match code.as_str() {
            "id-clash" => l.tr("notice_id_clash"),
            "no-date" => l.tr("notice_no_date"),
            "future-date" => l.tr("notice_future_date"),
            crate::store::reports::NOTICE_DELAYED => l.tr("notice_delayed"),
            _ => continue,
        };
        out.push(Line::from(styled(format!("  ⚠ {text}"), theme.style("failed"))));
    }
    // Who vouches for the mail (DKIM, checked on arrival): a warning is never cut off.
    if let Some(shown) = m.auth.as_ref().and_then(|a| a.shown(l)) {
        let (text, style) = match shown.warn {
            true => (format!("⚠ {}", shown.text), "failed"),
            false => (shown.text, "muted"),
        };
        for piece in wrap(&text, w.saturating_sub(2).max(8)) {
            out.push(Line::from(styled(format!("  {piece}"), theme.style(style))));
        }
    }
    if let Some(e) = &m.parse_error {
        out.push(Line::from(styled(format!("  ⚠ {}", field(e)), theme.style("muted"))));
    }
    if let Some(subject) = m.subject.as_ref().filter(|_| show_subject) {
        out.push(Line::from(styled(format!("  {}", field(subject)), theme.style("title"))));
    }
    if let Some((qa, qb)) = &m.reply_quote {
        let first = crate::workflow::replies::request_line(qb);
        let q = format!("  ┃ {}: {}", field(qa), field(first));
        out.push(Line::from(styled(sanitize::truncate(&q, w).into_owned(), theme.style("quote"))));
    }
    if m.deleted {
        let style = if m.direction == Direction::Note { theme.style("note") } else { Style::default() };
        out.push(Line::from(Span::styled(format!("  ({})", l.tr("deleted")), style)));
    }
    let above = std::mem::take(&mut out);
    for a in &m.attachments {
        // A size the channel did not give is left out, never guessed.
        let details: Vec<String> = a
            .size
            .map(|s| crate::tui::state::human_size(l, Some(s)))
            .into_iter()
            .chain(a.duration.map(|d| format!("{}:{:02}", d / 60, d % 60)))
            .collect();
        let mut text = format!("  📎 {}", sanitize::line(&sanitize::file_name(&a.name)));
        if !details.is_empty() {
            text.push_str(&format!(" ({})", details.join(", ")));
        }
        out.push(Line::from(styled(sanitize::truncate(&text, w).into_owned(), theme.style("attachment"))));
        if let Some(e) = &a.fetch_error {
            let e = crate::trouble::shown(l, e);
            for piece in
                wrap(&format!("{}: {}", l.tr("not_downloaded"), sanitize::line(&e)), w.saturating_sub(6).max(8))
            {
                out.push(Line::from(styled(format!("     {piece}"), theme.style("muted"))));
            }
        }
    }
    if m.closing && m.direction == Direction::In {
        let key = state.keymap.key_for(crate::tui::keymap::Context::Thread, &crate::tui::action::Action::CountWaiting);
        let text = format!("  ✓ {} · {} {}", l.tr("no_answer_needed"), key.unwrap_or_default(), l.tr("count_it"));
        out.push(Line::from(styled(sanitize::truncate(&text, w).into_owned(), theme.style("muted"))));
    }
    if !m.reactions.is_empty() {
        let text: Vec<String> = m
            .reactions
            .iter()
            .map(|(who, emoji)| format!("{} {}", sanitize::line(emoji), sanitize::line(who)))
            .collect();
        for piece in wrap(&text.join(" · "), w.saturating_sub(2).max(8)) {
            out.push(Line::from(styled(format!("  {piece}"), theme.style("muted"))));
        }
    }
    out.push(Line::from(""));
    (above, out)
}

/// One body line, indented, the words of the search that opened the thread marked.
/// Only rows on screen come here: what is searched for highlights is bounded by the screen.
fn highlighted<'a>(piece: &str, terms: &Terms, style: Style, theme: &Theme) -> Line<'a> {
    let found = if terms.is_empty() { Vec::new() } else { with_words(|w| matches(w, piece, terms)) };
    if found.is_empty() {
        return Line::from(Span::styled(format!("  {piece}"), style));
    }
    let mark = style.patch(theme.style("match"));
    let mut spans = vec![Span::styled("  ".to_string(), style)];
    let mut at = 0;
    for (a, b) in found {
        spans.push(Span::styled(piece[at..a].to_string(), style));
        spans.push(Span::styled(piece[a..b].to_string(), mark));
        at = b;
    }
    spans.push(Span::styled(piece[at..].to_string(), style));
    Line::from(spans)
}

/// The items of a `a · b · c` hint that fit whole in `room` cells, in order.
fn whole_items(hint: &str, room: usize) -> String {
    let mut out = String::new();
    for item in hint.split(" · ") {
        let next = if out.is_empty() { item.to_string() } else { format!("{out} · {item}") };
        if sanitize::width(&next) <= room {
            out = next;
        }
    }
    out
}
