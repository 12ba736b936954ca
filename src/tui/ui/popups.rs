//! Overlays: the help for the current context (generated from the keymap) and the template picker.

use super::{fit, styled};
use crate::i18n::Lang;
use crate::sanitize;
use crate::tui::state::{AppState, PickPurpose, Popup};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

pub(super) fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width.saturating_sub(2)).max(10.min(area.width));
    let h = h.min(area.height.saturating_sub(2)).max(3.min(area.height));
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

pub fn render(state: &AppState, theme: &Theme, frame: &mut Frame<'_>, area: Rect) {
    match &state.popup {
        Some(Popup::Help { context, scroll }) => {
            let entries = help_entries(state, *context);
            let rect = centered(area, 76, entries.len() as u16 + 4);
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style("border_focus"))
                .title(Span::styled(
                    format!(" {} — {} ", state.lang.tr("help"), state.lang.tr(context.name())),
                    theme.style("title"),
                ))
                .title_bottom(Span::styled(format!(" {} ", state.lang.tr("help_hint")), theme.style("muted")));
            let inner = block.inner(rect);
            frame.render_widget(Clear, rect);
            frame.render_widget(block.style(theme.style("base")), rect);
            let key_w = 12;
            let rows = inner.height as usize;
            let scroll = (*scroll).min(entries.len().saturating_sub(1));
            // What does not fit says so on the last row, rather than being silently cut.
            let more = entries.len().saturating_sub(scroll) > rows;
            let shown = if more { rows.saturating_sub(1) } else { rows };
            let mut lines: Vec<Line<'_>> = entries
                .iter()
                .skip(scroll)
                .take(shown)
                .map(|(keys, desc)| {
                    Line::from(vec![
                        styled(fit(keys, key_w), theme.style("help_key")),
                        styled(desc.clone(), theme.style("base")),
                    ])
                })
                .collect();
            if more {
                let left = entries.len() - scroll - shown;
                lines.push(Line::from(styled(
                    format!("  {} ↓ ({left}) — j", state.lang.tr("more")),
                    theme.style("muted"),
                )));
            }
            frame.render_widget(Paragraph::new(lines), inner);
        }
        Some(Popup::Templates { filter, selected }) => {
            let hits = state.template_choices(filter);
            let rect = centered(area, 64, (hits.len() as u16 + 4).max(6));
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style("border_focus"))
                .title(Span::styled(format!(" {} ", state.lang.tr("templates")), theme.style("title")));
            let inner = block.inner(rect);
            frame.render_widget(Clear, rect);
            frame.render_widget(block.style(theme.style("base")), rect);
            let w = inner.width as usize;
            let mut lines = vec![Line::from(vec![
                styled("> ", theme.style("help_key")),
                styled(sanitize::line(filter).into_owned(), theme.style("input")),
            ])];
            for (row, &i) in hits.iter().enumerate() {
                let t = &state.templates.all[i];
                let style = if row == *selected { theme.style("selection") } else { theme.style("base") };
                // The name in a column of its own, the text apart and dimmed.
                let preview = sanitize::line(&t.text).into_owned();
                let name_col = (w / 2).clamp(12, 30);
                let name = fit(&sanitize::line(&t.name), name_col);
                let pad = name_col.saturating_sub(sanitize::width(&name));
                lines.push(Line::from(vec![
                    styled(format!(" {name}{} ", " ".repeat(pad)), style),
                    styled("│ ".to_string(), theme.style("border").patch(style)),
                    styled(fit(&preview, w.saturating_sub(name_col + 4)), theme.style("muted").patch(style)),
                ]));
            }
            frame.render_widget(Paragraph::new(lines), inner);
            let x = inner.x + 2 + sanitize::width(filter) as u16;
            frame.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y));
        }
        Some(Popup::Text { title, lines, scroll }) => {
            let rect = centered(area, 100, lines.len() as u16 + 4);
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style("border_focus"))
                .title(Span::styled(format!(" {} ", sanitize::line(title)), theme.style("title")))
                .title_bottom(Span::styled(format!(" {} ", state.lang.tr("help_hint")), theme.style("muted")));
            let inner = block.inner(rect);
            frame.render_widget(Clear, rect);
            frame.render_widget(block.style(theme.style("base")), rect);
            let w = inner.width as usize;
            let text: Vec<Line<'_>> = lines
                .iter()
                .skip(*scroll)
                .map(|l| {
                    Line::from(styled(sanitize::truncate(&sanitize::line(l), w).into_owned(), theme.style("base")))
                })
                .collect();
            frame.render_widget(Paragraph::new(text), inner);
        }
        Some(Popup::Card(card)) => super::client::render_card(state, theme, frame, area, card),
        Some(Popup::Clients(list)) => super::client::render_clients(state, theme, frame, area, list),
        Some(Popup::Pick { purpose, items, selected }) => {
            let title = match purpose {
                PickPurpose::Forward => state.lang.tr("pick_forward"),
                PickPurpose::Pause => state.lang.tr("sla_pause_why"),
                _ => state.lang.tr("pick_attachment"),
            };
            let rect = centered(area, 90, items.len() as u16 + 2);
            let block = Block::default()
                .borders(Borders::ALL)
                .border_style(theme.style("border_focus"))
                .title(Span::styled(format!(" {title} "), theme.style("title")));
            let inner = block.inner(rect);
            frame.render_widget(Clear, rect);
            frame.render_widget(block.style(theme.style("base")), rect);
            let w = inner.width as usize;
            let h = inner.height as usize;
            let first = selected.saturating_sub(h.saturating_sub(1));
            let lines: Vec<Line<'_>> = items
                .iter()
                .enumerate()
                .skip(first)
                .take(h)
                .map(|(i, item)| {
                    let style = if i == *selected { theme.style("selection") } else { theme.style("base") };
                    Line::from(styled(fit(&format!(" {}", sanitize::line(&item.label)), w), style))
                })
                .collect();
            frame.render_widget(Paragraph::new(lines), inner);
        }
        _ => {}
    }
}

/// The help of a pane, most used first (reply, accept, done before the
/// rarer views), one line per action with all its keys ("j ↓").
fn help_entries(state: &AppState, context: crate::tui::keymap::Context) -> Vec<(String, String)> {
    use crate::tui::action::Action as A;
    let rank = |a: &A| -> u8 {
        match a {
            A::Reply | A::Send => 0,
            A::Accept => 1,
            A::Done => 2,
            A::Open => 3,
            A::Down | A::Up => 4,
            A::NextUnanswered => 5,
            A::Template => 6,
            A::Note => 7,
            A::Search => 8,
            A::Back | A::CloseComposer => 9,
            A::Snooze | A::FollowUp | A::Redate => 10,
            A::Assign => 11,
            A::CloseConversation | A::CountWaiting => 12,
            A::UndoSend | A::RetrySend | A::DiscardSend | A::ConfirmSent => 13,
            A::Attach | A::Editor | A::SaveAttachment | A::OpenAttachment | A::PlayVoice => 14,
            A::Help | A::Quit | A::CommandLine => 15,
            A::ViewUnanswered | A::ViewDueToday | A::ViewOverdue | A::ViewMine => 16,
            _ => 20,
        }
    };
    let mut bindings = state.keymap.help(context);
    bindings.sort_by_key(|b| rank(&b.action));
    let mut out: Vec<(A, String, String)> = Vec::new();
    for b in bindings {
        let keys: Vec<String> = b.keys.iter().map(|k| k.to_string()).collect();
        let keys = keys.join(" ");
        let desc = match (state.lang, &b.desc_ru) {
            (Lang::Ru, Some(ru)) => ru.clone(),
            _ => b.desc.clone(),
        };
        match out.iter_mut().find(|(a, _, d)| *a == b.action && *d == desc) {
            Some(entry) => entry.1 = format!("{} {keys}", entry.1),
            None => out.push((b.action.clone(), keys, desc)),
        }
    }
    out.into_iter().map(|(_, k, d)| (k, d)).collect()
}
