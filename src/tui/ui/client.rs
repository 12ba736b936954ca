//! The client card and the clients list (popups): one client on every
//! channel, the row under the cursor highlighted, a hint for what its keys do.

use super::{fit, styled};
use crate::i18n::{Lang, compact_duration};
use crate::model::ChannelKind;
use crate::sanitize;
use crate::tui::state::{AppState, CardField, CardPopup, CardRow, ClientsPopup, ClientsRow, SuggestionRow};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

/// A line of the popup and the row it belongs to (None: a heading or a continuation).
type Shown<'a> = (Option<usize>, Line<'a>);

fn line(s: &str) -> String {
    sanitize::line(s).into_owned()
}

/// «@», «TG», «WA»; groups as their channel's.
fn badge(kind: &str) -> &'static str {
    ChannelKind::parse(kind.trim_end_matches("_group")).map(|k| k.badge()).unwrap_or("?")
}

/// «#21 ООО «Пекарня Колосок» + #31 …» and «тот же телефон +7916…».
pub(super) fn rule_parts(lang: Lang, s: &SuggestionRow) -> (String, String) {
    let rule = match s.suggestion.rule {
        "phone" => lang.tr("rule_phone"),
        "domain" => lang.tr("rule_domain"),
        "name" => lang.tr("rule_name"),
        "group" => lang.tr("rule_group"),
        "member" => lang.tr("rule_member"),
        _ => "",
    };
    let names: Vec<String> = s.names.iter().map(|(id, n)| format!("#{id} {}", line(n))).collect();
    (names.join(" + "), format!("{rule} {}", line(&s.suggestion.detail)))
}

/// A suggestion in `w` cells after `indent`: one line when it fits, else the
/// names on one and the reason on the next, so a phone number is never cut.
fn rule_lines(lang: Lang, s: &SuggestionRow, indent: &str, w: usize) -> Vec<String> {
    let (names, reason) = rule_parts(lang, s);
    let one = format!("{indent}≈ {names} — {reason}");
    if sanitize::width(&one) <= w {
        return vec![one];
    }
    vec![format!("{indent}≈ {names}"), format!("{indent}  — {reason}")]
}

/// Draws `lines` in a bordered popup, scrolled so that `cursor`'s row shows.
fn frame_popup(
    frame: &mut Frame<'_>,
    theme: &Theme,
    rect: Rect,
    title: String,
    hint: &str,
    lines: Vec<Shown<'_>>,
    cursor: usize,
) {
    let block = Block::default()
        .borders(Borders::ALL)
        .border_style(theme.style("border_focus"))
        .title(Span::styled(
            format!(" {} ", sanitize::truncate(&title, rect.width.saturating_sub(4) as usize)),
            theme.style("title"),
        ))
        .title_bottom(Span::styled(
            format!(" {} ", sanitize::truncate(hint, rect.width.saturating_sub(4) as usize)),
            theme.style("muted"),
        ));
    let inner = block.inner(rect);
    frame.render_widget(Clear, rect);
    frame.render_widget(block.style(theme.style("base")), rect);
    let h = inner.height as usize;
    let at = lines.iter().position(|(r, _)| *r == Some(cursor)).unwrap_or(0);
    // The cursor's line in view, with the line below it when there is one.
    let first = (at + 2).saturating_sub(h).min(lines.len().saturating_sub(h));
    let shown: Vec<Line<'_>> = lines.into_iter().skip(first).take(h).map(|(_, l)| l).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}

pub fn render_card(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect, card: &CardPopup) {
    let l = state.lang;
    let s = &card.card.summary;
    let rect = super::popups::centered(area, 100, area.height);
    let w = rect.width.saturating_sub(2) as usize;
    let rows = card.rows();
    let first_conversation = rows.iter().position(|r| matches!(r, CardRow::Conversation(_)));
    let pick = |i: usize, base: Style| if i == card.cursor { theme.style("selection").patch(base) } else { base };
    let label_w = CardField::ALL.iter().map(|f| sanitize::width(f.label(l))).max().unwrap_or(10) + 2;
    // Dates in one column: «14:20» and «вс 15:52» padded to the widest.
    let date_w = card
        .card
        .conversations
        .iter()
        .map(|c| c.last_date)
        .chain(card.card.timeline.iter().map(|e| e.date))
        .map(|t| sanitize::width(&state.clock.short(t)))
        .max()
        .unwrap_or(5);
    let date = |t: i64| fit(&state.clock.short(t), date_w);
    let mut out: Vec<Shown<'_>> = Vec::new();
    let heading =
        |text: &str| -> Shown<'_> { (None, Line::from(styled(fit(&format!(" {text}"), w), theme.style("title")))) };
    for (i, row) in rows.iter().enumerate() {
        match *row {
            CardRow::Field(field) => {
                let editing = card.edit.as_ref().filter(|e| e.field == field);
                let label = match editing {
                    Some(e) if e.handing_to.is_some() => l.tr("card_handover_note"),
                    _ => field.label(l),
                };
                let value = match (editing, field) {
                    (Some(e), _) => format!("{}▏", line(&e.input)),
                    (None, CardField::Name) => line(&s.name),
                    (None, CardField::Organisation) => {
                        s.organisation.as_deref().map(line).unwrap_or_else(|| "—".into())
                    }
                    (None, CardField::Kind) => {
                        let kind = l.tr(if s.kind == "organisation" { "kind_organisation" } else { "kind_person" });
                        if s.provisional { format!("{kind} · {}", l.tr("card_new")) } else { kind.to_string() }
                    }
                    (None, CardField::Inn) => s.inn.as_deref().map(line).unwrap_or_else(|| "—".into()),
                    (None, CardField::Tags) if s.tags.is_empty() => "—".into(),
                    (None, CardField::Tags) => {
                        s.tags.iter().map(|t| format!("#{}", line(t))).collect::<Vec<_>>().join(" ")
                    }
                    (None, CardField::Responsible) => {
                        let who = s.responsible.as_deref().map(line).unwrap_or_else(|| "—".into());
                        let overdue = if s.overdue > 0 { format!(" ⚑{}", s.overdue) } else { String::new() };
                        format!(
                            "{who} · {}: {}{overdue} · {}: {}",
                            l.tr("open_promises"),
                            s.open_tasks,
                            l.tr("status_unanswered"),
                            s.waiting
                        )
                    }
                    (None, CardField::Notes) => format!("+ {}", l.tr("card_add_note")),
                };
                let style = if editing.is_some() { theme.style("input") } else { theme.style("base") };
                let text = format!(" {}{}", fit(label, label_w), value);
                out.push((Some(i), Line::from(styled(fit(&text, w), pick(i, style)))));
                // The notes themselves, under their row.
                if field == CardField::Notes
                    && let Some(notes) = &card.card.notes
                {
                    for n in notes.lines() {
                        out.push((None, Line::from(styled(fit(&format!("   ✎ {}", line(n)), w), theme.style("note")))));
                    }
                }
            }
            CardRow::Promise(k) => {
                if k == 0 {
                    out.push(heading(l.tr("open_promises")));
                }
                if let Some(p) = card.card.promises.get(k) {
                    let overdue = p.deadline.is_some_and(|d| d < state.clock.now());
                    let by = p.deadline.map(|d| state.clock.full(d)).unwrap_or_else(|| "—".into());
                    let who = p.accepted_by.as_deref().map(|a| format!(" · {}", line(a))).unwrap_or_default();
                    let text = format!("  ⚑ {by}  {:<3}{}{who}", badge(&p.kind), line(&p.what));
                    let style = if overdue { theme.style("overdue") } else { theme.style("due") };
                    out.push((Some(i), Line::from(styled(fit(&text, w), pick(i, style)))));
                }
            }
            CardRow::Identity(k) => {
                if k == 0 {
                    out.push(heading(l.tr("card_channels")));
                }
                if let Some(id) = s.identities.get(k) {
                    let group = if id.kind.ends_with("_group") { "👥 " } else { "" };
                    let text = format!("  {:<3}{group}{}", badge(&id.kind), line(&id.shown()));
                    out.push((Some(i), Line::from(styled(fit(&text, w), pick(i, theme.style("base"))))));
                }
            }
            CardRow::Suggestion(k) => {
                if k == 0 {
                    out.push(heading(l.tr("card_suggestions")));
                }
                if let Some(sg) = card.suggestions.get(k) {
                    for (n, text) in rule_lines(l, sg, "  ", w).into_iter().enumerate() {
                        let row = (n == 0).then_some(i);
                        out.push((row, Line::from(styled(fit(&text, w), pick(i, theme.style("due"))))));
                    }
                }
            }
            CardRow::Conversation(id) => {
                if first_conversation == Some(i) {
                    out.push(heading(l.tr("card_conversations")));
                }
                if let Some(c) = card.card.conversations.iter().find(|c| c.conversation == id) {
                    let wait = c
                        .waiting_since
                        .map(|t| format!("  ⏳{}", compact_duration(l, state.clock.now() - t)))
                        .unwrap_or_default();
                    let text = format!(
                        "  {}  {:<3}{}{wait}",
                        state.clock.short(c.last_date),
                        badge(&c.kind),
                        line(&c.subject)
                    );
                    let style = if c.waiting_since.is_some() { theme.style("waiting") } else { theme.style("base") };
                    out.push((Some(i), Line::from(styled(fit(&text, w), pick(i, style)))));
                }
            }
            CardRow::Timeline(k) => {
                if k == 0 {
                    out.push(heading(l.tr("timeline")));
                }
                if let Some(e) = card.card.timeline.get(k) {
                    let arrow = if e.direction == "in" { "←" } else { "→" };
                    let text = format!(
                        "  {} {arrow} {:<3}{}: {}",
                        date(e.date),
                        badge(&e.kind),
                        line(&e.author),
                        line(&e.text)
                    );
                    let style = if e.direction == "in" { theme.style("base") } else { theme.style("muted") };
                    out.push((Some(i), Line::from(styled(fit(&text, w), pick(i, style)))));
                }
            }
        }
    }
    let title = match &s.organisation {
        Some(o) if *o != s.name => format!("{} · {}", line(o), line(&s.name)),
        _ => line(&s.name),
    };
    let hint = match (card.edit.is_some(), rows.get(card.cursor).copied()) {
        (true, _) => l.tr("card_hint_edit"),
        (_, Some(CardRow::Field(CardField::Kind))) => l.tr("card_hint_kind"),
        (_, Some(CardRow::Field(_))) => l.tr("card_hint_field"),
        (_, Some(CardRow::Identity(_))) => l.tr("card_hint_identity"),
        (_, Some(CardRow::Suggestion(_))) => l.tr("card_hint_suggestion"),
        (_, Some(CardRow::Promise(_))) => l.tr("card_hint_open"),
        _ => l.tr("card_hint_open"),
    };
    let height = (out.len() as u16 + 2).min(area.height.saturating_sub(2));
    let rect = super::popups::centered(area, 100, height);
    frame_popup(frame, theme, rect, title, hint, out, card.cursor);
}

pub fn render_clients(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect, list: &ClientsPopup) {
    let l = state.lang;
    let rect = super::popups::centered(area, 100, area.height);
    let w = rect.width.saturating_sub(2) as usize;
    let pick = |i: usize, base: Style| if i == list.cursor { theme.style("selection").patch(base) } else { base };
    let mut out: Vec<Shown<'_>> = Vec::new();
    let rows = list.rows();
    // One line per row: only the rows in view are written out (thousands of
    // clients would cost a frame otherwise); `frame_popup` scrolls the same way.
    let h = (rows.len() + 2).min(area.height.saturating_sub(2) as usize).saturating_sub(2);
    let first = (list.cursor + 2).saturating_sub(h).min(rows.len().saturating_sub(h));
    for (i, row) in rows.iter().enumerate() {
        if i < first || i >= first + h {
            out.push((Some(i), Line::default()));
            continue;
        }
        match *row {
            ClientsRow::Suggestion(k) => {
                if let Some(sg) = list.suggestions.get(k) {
                    // One row each (the list scrolls by rows): the names give
                    // way, the reason with its number stays whole.
                    let (names, reason) = rule_parts(l, sg);
                    let tail = format!(" — {reason}");
                    let room = w.saturating_sub(sanitize::width(&tail) + 3);
                    let text = format!(" ≈ {}{tail}", sanitize::truncate(&names, room));
                    out.push((Some(i), Line::from(styled(fit(&text, w), pick(i, theme.style("due"))))));
                }
            }
            ClientsRow::Client(k) => {
                let Some(c) = list.clients.get(k) else { continue };
                let who = match &c.organisation {
                    Some(o) if *o != c.name => format!("{} · {}", line(o), line(&c.name)),
                    _ => line(&c.name),
                };
                let mut kinds: Vec<&str> = c.identities.iter().map(|i| badge(&i.kind)).collect();
                kinds.sort_unstable();
                kinds.dedup();
                let tags: String = c.tags.iter().map(|t| format!(" #{}", line(t))).collect();
                // Only what needs attention: an empty column reads faster than «⏳0 ⚑0».
                // ⏳ and ⚑ are two columns wide: «⏳1 » and four spaces line up.
                let count = |sign: &str, n: i64| if n > 0 { format!("{sign}{n:<2}") } else { " ".repeat(4) };
                let counts = format!("{} {}", count("⏳", c.waiting), count("⚑", c.overdue));
                let left = format!(" {:>4}  {who}{tags}", c.id);
                let right = format!(" [{}] {counts} ", kinds.join(" "));
                let room = w.saturating_sub(sanitize::width(&right));
                let style = if c.overdue > 0 {
                    theme.style("overdue")
                } else if c.waiting > 0 {
                    theme.style("waiting")
                } else {
                    theme.style("base")
                };
                out.push((
                    Some(i),
                    Line::from(vec![
                        Span::styled(fit(&left, room), pick(i, style)),
                        Span::styled(right, pick(i, theme.style("muted"))),
                    ]),
                ));
            }
        }
    }
    let pending = if list.suggestions.is_empty() {
        String::new()
    } else {
        format!(" · ≈ {} {}", list.suggestions.len(), l.tr("suggestions_pending"))
    };
    let shown = rows.iter().filter(|r| matches!(r, ClientsRow::Client(_))).count();
    let title = if list.typing || !list.filter.is_empty() {
        let caret = if list.typing { "▏" } else { "" };
        format!("{} ({shown}/{}) /{}{caret}", l.tr("clients"), list.clients.len(), line(&list.filter))
    } else {
        format!("{} ({}){pending} · {}", l.tr("clients"), list.clients.len(), l.tr("clients_legend"))
    };
    let hint = match rows.get(list.cursor) {
        _ if list.typing => l.tr("clients_hint_filter"),
        Some(ClientsRow::Suggestion(_)) => l.tr("clients_hint_suggestion"),
        _ => l.tr("clients_hint_client"),
    };
    let height = (out.len() as u16 + 2).min(area.height.saturating_sub(2));
    let rect = super::popups::centered(area, 100, height);
    frame_popup(frame, theme, rect, title, hint, out, list.cursor);
}
