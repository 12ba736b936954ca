//! Moving through the sidebar, the list, search results and a thread.

use super::*;

impl AppState {
    // ---- movement -----------------------------------------------------------

    pub(super) fn move_by(&mut self, delta: i64) -> Vec<Effect> {
        match self.focus {
            Focus::Channels => {
                let n = self.sidebar_len() as i64;
                let i = (self.sidebar_cursor as i64 + delta).clamp(0, n - 1) as usize;
                self.set_view(i)
            }
            Focus::Conversations => {
                if let Some(s) = &mut self.search {
                    let n = s.hits.len() as i64;
                    s.cursor = (s.cursor as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
                    return self.preview_selected();
                }
                let n = self.list.rows.len() as i64;
                let target = self.list.cursor as i64 + delta;
                let mut fx = Vec::new();
                if target >= n && !self.list.at_end {
                    fx.push(Effect::ListShiftDown);
                } else if target < 0 && self.list.first.is_some() {
                    fx.push(Effect::ListShiftUp);
                }
                self.list.cursor = target.clamp(0, (n - 1).max(0)) as usize;
                if self.marking
                    && let Some(id) = self.selected_conversation()
                {
                    self.marked.insert(id);
                    self.say_marked();
                }
                if fx.is_empty() {
                    fx.extend(self.preview_selected());
                }
                fx
            }
            Focus::Thread | Focus::Composer => {
                if let Some(t) = &mut self.thread {
                    if t.jump_to.take().is_some() {
                        t.scroll = t.shown_scroll.get();
                    }
                    // Positive delta scrolls towards newer messages (down).
                    t.scroll = (t.scroll as i64 - delta).max(0) as usize;
                }
                Vec::new()
            }
        }
    }

    /// `n`/`N` in a thread opened from search: the next message with a match.
    pub(super) fn jump_match(&mut self, newer: bool) -> Vec<Effect> {
        let l = self.lang;
        let Some(t) = &mut self.thread else { return Vec::new() };
        if t.terms.is_empty() {
            self.info(l.tr("no_search_in_thread"));
            return Vec::new();
        }
        let found = t.matching();
        let here = t.jump_to.unwrap_or(t.messages.len());
        let next = if newer {
            found.iter().copied().find(|&i| i > here).or(found.first().copied())
        } else {
            found.iter().copied().rev().find(|&i| i < here).or(found.last().copied())
        };
        match next {
            Some(i) => {
                t.jump_to = Some(i);
                let nth = found.iter().position(|&f| f == i).unwrap_or(0) + 1;
                let text = format!("{} {nth}/{}", l.tr("match"), found.len());
                self.info(text);
            }
            None => self.info(l.tr("no_results")),
        }
        Vec::new()
    }

    pub(super) fn to_edge(&mut self, top: bool) -> Vec<Effect> {
        match self.focus {
            Focus::Channels => self.set_view(if top { 0 } else { self.sidebar_len() - 1 }),
            Focus::Conversations => {
                if let Some(s) = &mut self.search {
                    s.cursor = if top { 0 } else { s.hits.len().saturating_sub(1) };
                    return self.preview_selected();
                }
                vec![if top { Effect::ListTop } else { Effect::ListBottom }]
            }
            Focus::Thread | Focus::Composer => {
                if let Some(t) = &mut self.thread {
                    t.jump_to = None;
                    t.scroll = if top { usize::MAX / 2 } else { 0 };
                }
                Vec::new()
            }
        }
    }

    pub(super) fn step_sidebar(&mut self, delta: i64) -> Vec<Effect> {
        let n = self.sidebar_len() as i64;
        let i = (self.sidebar_cursor as i64 + delta).rem_euclid(n) as usize;
        self.set_view(i)
    }

    pub(super) fn set_view_of(&mut self, view: View) -> Vec<Effect> {
        let i = View::SMART.iter().position(|v| *v == view).unwrap_or(0);
        self.set_view(i)
    }

    pub(super) fn set_view(&mut self, i: usize) -> Vec<Effect> {
        self.sidebar_cursor = i.min(self.sidebar_len() - 1);
        self.view = self.sidebar_view(self.sidebar_cursor);
        self.search = None;
        if matches!(self.focus, Focus::Thread | Focus::Composer) && !self.wide() {
            self.focus = Focus::Conversations;
        }
        vec![Effect::ListTop]
    }

    /// One client's conversations on every channel (`:client NAME`); the
    /// sidebar keeps its place.
    pub(super) fn show_client(&mut self, client: i64) -> Vec<Effect> {
        self.view = View::Client(client);
        self.search = None;
        if matches!(self.focus, Focus::Thread | Focus::Composer) && !self.wide() {
            self.focus = Focus::Conversations;
        }
        vec![Effect::ListTop]
    }

    /// In the wide layout the thread pane follows the selection.
    pub fn preview_selected(&self) -> Vec<Effect> {
        // Once the person is in a thread, list refreshes must not swap it away.
        if matches!(self.focus, Focus::Thread | Focus::Composer) {
            return Vec::new();
        }
        match self.selected_conversation() {
            Some(id) if self.wide() && self.thread.as_ref().map(|t| t.conversation.id) != Some(id) => {
                vec![Effect::LoadThread(id)]
            }
            _ => Vec::new(),
        }
    }

    pub(super) fn open_selected(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected_conversation() else { return Vec::new() };
        self.focus = Focus::Thread;
        if let Some(t) = &mut self.thread {
            t.scroll = 0;
        }
        vec![Effect::LoadThread(id), Effect::MarkRead(id), Effect::ClientHint(id)]
    }

    /// What an answered prompt acts on: every marked conversation (the marks
    /// are then let go), else the one it was asked for.
    pub(super) fn targets(&mut self, conversation: i64) -> Vec<i64> {
        if self.marked.is_empty() {
            return vec![conversation];
        }
        self.marking = false;
        let all: Vec<i64> = std::mem::take(&mut self.marked).into_iter().collect();
        self.info(format!("{} {}", self.lang.tr("marked_count"), all.len()));
        all
    }

    /// Says how many are marked and what can be done with them.
    pub(super) fn say_marked(&mut self) {
        if self.marked.is_empty() {
            self.status = None;
            return;
        }
        let close = self.keymap.key_for(Context::Conversations, &Action::CloseConversation).unwrap_or_default();
        self.info(format!(
            "{} {} · {close} — {} · Esc — {}",
            self.lang.tr("marked_count"),
            self.marked.len(),
            self.lang.tr("close_all"),
            self.lang.tr("unmark")
        ));
    }

    pub(super) fn back(&mut self) -> Vec<Effect> {
        // Esc first lets go of the marks.
        if self.focus == Focus::Conversations && (!self.marked.is_empty() || self.marking) {
            self.marked.clear();
            self.marking = false;
            self.batch_asked = None;
            self.status = None;
            return Vec::new();
        }
        match self.focus {
            Focus::Thread | Focus::Composer => self.focus = Focus::Conversations,
            Focus::Conversations if self.search.is_some() => {
                self.search = None;
                return self.preview_selected();
            }
            _ => {}
        }
        Vec::new()
    }
}
