//! UI state and `update`: keys become actions, actions change state and ask for effects.
//! Nothing here touches the store or the terminal.

use super::action::Action;
use super::keymap::{Context, Keymap, Resolved};
use super::keys::Key;
use crate::clock::Clock;
use crate::i18n::Lang;
use crate::model::*;
use crate::workflow::templates::Templates;
use crossterm::event::{KeyCode, KeyModifiers};
use ratatui_textarea::{TextArea, WrapMode};
use std::collections::HashMap;

/// Rows of the conversation list kept in memory: a window, never the table.
pub const WINDOW: usize = 200;
/// Messages of one thread loaded at a time (the newest).
pub const THREAD_LIMIT: usize = 200;
/// Search hits shown at once (newest first); each needs a snippet.
pub const SEARCH_LIMIT: usize = 200;
/// Below this width the thread replaces the list instead of sitting beside it.
pub const WIDE: u16 = 110;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Channels,
    Conversations,
    Thread,
    Composer,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help { context: Context, scroll: usize },
    Templates { filter: String, selected: usize },
    Command(String),
    Search(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Channel list, view counts and the status line counts.
    ReloadSidebar,
    /// The current window, keeping the selection.
    ReloadList,
    ListTop,
    ListBottom,
    /// Slide the window down past its end / up past its start.
    ListShiftDown,
    ListShiftUp,
    LoadThread(i64),
    MarkRead(i64),
    QueueReply {
        conversation: i64,
        reply_to: Option<i64>,
        subject: Option<String>,
        body: String,
    },
    Search(String),
    SetOpen {
        conversation: i64,
        open: bool,
    },
    Quit,
}

#[derive(Debug, Default)]
pub struct ListWindow {
    pub rows: Vec<ConversationRow>,
    pub cursor: usize,
    /// Key of the first row (inclusive); None while the window starts at the top.
    pub first: Option<ListKey>,
    pub at_end: bool,
    pub total: i64,
}

impl ListWindow {
    pub fn selected(&self) -> Option<&ConversationRow> {
        self.rows.get(self.cursor)
    }
}

#[derive(Debug)]
pub struct SearchResults {
    pub query: String,
    pub hits: Vec<SearchHit>,
    pub cursor: usize,
}

#[derive(Debug)]
pub struct ThreadState {
    pub conversation: ConversationRow,
    pub messages: Vec<MessageRow>,
    pub tasks: Vec<TaskRow>,
    /// Lines scrolled up from the newest message.
    pub scroll: usize,
}

pub struct Composer {
    pub textarea: TextArea<'static>,
    pub conversation: i64,
    pub kind: ChannelKind,
    pub reply_to: Option<i64>,
    pub subject: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusMessage {
    pub text: String,
    pub error: bool,
}

pub struct AppState {
    pub lang: Lang,
    pub actor: String,
    pub hours_text: String,
    pub clock: Clock,
    pub keymap: Keymap,
    pub templates: Templates,
    pub focus: Focus,
    pub channels: Vec<ChannelRow>,
    pub view_counts: (i64, i64),
    pub sidebar_cursor: usize,
    pub view: View,
    pub list: ListWindow,
    pub search: Option<SearchResults>,
    pub thread: Option<ThreadState>,
    pub composer: Option<Composer>,
    pub drafts: HashMap<i64, String>,
    pub popup: Option<Popup>,
    pub status: Option<StatusMessage>,
    pub counts: StatusCounts,
    pub chord: Vec<Key>,
    pub width: u16,
    pub height: u16,
    pub quit: bool,
    /// A composer asked for before its thread was loaded (with a template to insert).
    pub pending_composer: Option<Option<String>>,
    /// Set by every change; the loop draws only when it is set.
    pub dirty: bool,
}

impl AppState {
    pub fn new(
        lang: Lang,
        actor: String,
        clock: Clock,
        keymap: Keymap,
        templates: Templates,
    ) -> AppState {
        let clock = clock.with_russian_names(lang == Lang::Ru);
        AppState {
            lang,
            actor,
            hours_text: String::new(),
            clock,
            keymap,
            templates,
            focus: Focus::Conversations,
            channels: Vec::new(),
            view_counts: (0, 0),
            sidebar_cursor: 0,
            view: View::AllOpen,
            list: ListWindow::default(),
            search: None,
            thread: None,
            composer: None,
            drafts: HashMap::new(),
            popup: None,
            status: None,
            counts: StatusCounts::default(),
            chord: Vec::new(),
            width: 120,
            height: 40,
            quit: false,
            pending_composer: None,
            dirty: true,
        }
    }

    pub fn wide(&self) -> bool {
        self.width >= WIDE
    }

    /// Sidebar entries: the two smart views, then every channel.
    pub fn sidebar_len(&self) -> usize {
        2 + self.channels.len()
    }

    pub fn sidebar_view(&self, i: usize) -> View {
        match i {
            0 => View::AllOpen,
            1 => View::Unanswered,
            n => self
                .channels
                .get(n - 2)
                .map(|c| View::Channel(c.id))
                .unwrap_or(View::AllOpen),
        }
    }

    pub fn context(&self) -> Context {
        if self.popup.is_some() {
            return Context::Input;
        }
        match self.focus {
            Focus::Channels => Context::Channels,
            Focus::Conversations => Context::Conversations,
            Focus::Thread => Context::Thread,
            Focus::Composer => Context::Composer,
        }
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.status = Some(StatusMessage {
            text: text.into(),
            error: false,
        });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some(StatusMessage {
            text: text.into(),
            error: true,
        });
    }

    /// Rows the conversation list shows at once (for half-page moves).
    pub fn list_height(&self) -> usize {
        (self.height as usize).saturating_sub(4).max(1)
    }

    pub fn selected_conversation(&self) -> Option<i64> {
        if let Some(s) = &self.search {
            return s.hits.get(s.cursor).map(|h| h.conversation);
        }
        self.list.selected().map(|c| c.id)
    }

    // ---- keys -------------------------------------------------------------

    pub fn handle_key(&mut self, key: Key) -> Vec<Effect> {
        self.dirty = true;
        if self.popup.is_none() && self.focus != Focus::Composer {
            self.status = None;
        }
        let context = self.context();
        self.chord.push(key);
        match self.keymap.resolve(context, &self.chord) {
            Resolved::Action(a) => {
                self.chord.clear();
                self.apply(a)
            }
            Resolved::Pending => Vec::new(),
            Resolved::Unbound => {
                let was_chord = self.chord.len() > 1;
                self.chord.clear();
                if was_chord {
                    // An abandoned chord: the last key may mean something alone.
                    return self.handle_key(key);
                }
                self.unbound_key(key)
            }
        }
    }

    /// Keys without a binding: text for prompts and the composer, nothing elsewhere.
    fn unbound_key(&mut self, key: Key) -> Vec<Effect> {
        if let Some(popup) = &mut self.popup {
            let input = match popup {
                Popup::Command(s) | Popup::Search(s) => Some(s),
                Popup::Templates { filter, selected } => {
                    *selected = 0;
                    Some(filter)
                }
                Popup::Help { .. } => None,
            };
            if let Some(buf) = input {
                edit_line(buf, key);
            } else if matches!(key.code, KeyCode::Char('?') | KeyCode::Char('q')) {
                self.popup = None;
            } else if let Some(Popup::Help { scroll, .. }) = &mut self.popup {
                match key.code {
                    KeyCode::Char('j') => *scroll += 1,
                    KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                    _ => {}
                }
            }
            return Vec::new();
        }
        if self.focus == Focus::Composer
            && let Some(c) = &mut self.composer
        {
            c.textarea.input(key.to_event());
        }
        Vec::new()
    }

    pub fn apply(&mut self, action: Action) -> Vec<Effect> {
        if self.popup.is_some() {
            return self.apply_popup(action);
        }
        match action {
            Action::Quit => match self.focus {
                Focus::Thread if !self.wide() => self.back(),
                _ => {
                    self.quit = true;
                    vec![Effect::Quit]
                }
            },
            Action::Help => {
                self.popup = Some(Popup::Help {
                    context: self.context(),
                    scroll: 0,
                });
                Vec::new()
            }
            Action::CommandLine => {
                self.popup = Some(Popup::Command(String::new()));
                Vec::new()
            }
            Action::Search => {
                self.popup = Some(Popup::Search(String::new()));
                Vec::new()
            }
            Action::Down => self.move_by(1),
            Action::Up => self.move_by(-1),
            Action::PageDown => self.move_by(self.list_height() as i64 / 2),
            Action::PageUp => self.move_by(-(self.list_height() as i64 / 2)),
            Action::Top => self.to_edge(true),
            Action::Bottom => self.to_edge(false),
            Action::NextChannel => self.step_sidebar(1),
            Action::PrevChannel => self.step_sidebar(-1),
            Action::FocusLeft => {
                self.focus = match self.focus {
                    Focus::Thread | Focus::Composer => Focus::Conversations,
                    _ => Focus::Channels,
                };
                Vec::new()
            }
            Action::FocusRight => match self.focus {
                Focus::Channels => {
                    self.focus = Focus::Conversations;
                    Vec::new()
                }
                Focus::Conversations => self.open_selected(),
                _ => Vec::new(),
            },
            Action::Open => match self.focus {
                Focus::Channels => {
                    self.focus = Focus::Conversations;
                    Vec::new()
                }
                _ => self.open_selected(),
            },
            Action::Back => self.back(),
            Action::Reply => self.open_composer(None),
            Action::Template => {
                let mut fx = Vec::new();
                if self.composer.is_none() {
                    fx = self.open_composer(None);
                }
                if self.composer.is_some() {
                    self.popup = Some(Popup::Templates {
                        filter: String::new(),
                        selected: 0,
                    });
                }
                fx
            }
            Action::InsertTemplate(id) => self.open_composer(Some(id)),
            Action::Accept => self.open_composer(Some("accept".into())),
            Action::Done => self.open_composer(Some("done".into())),
            Action::NextUnanswered => {
                self.view = View::Unanswered;
                self.sidebar_cursor = 1;
                self.search = None;
                self.focus = Focus::Conversations;
                vec![Effect::ListTop, Effect::ReloadSidebar]
            }
            Action::ViewAllOpen => self.set_view(0),
            Action::ViewUnanswered => self.set_view(1),
            Action::CloseConversation | Action::ReopenConversation => {
                let open = action == Action::ReopenConversation;
                match self
                    .thread
                    .as_ref()
                    .map(|t| t.conversation.id)
                    .or(self.selected_conversation())
                {
                    Some(conversation) => {
                        self.info(self.lang.tr(if open { "reopened" } else { "closed" }));
                        vec![Effect::SetOpen { conversation, open }]
                    }
                    None => Vec::new(),
                }
            }
            Action::Refresh => vec![Effect::ReloadSidebar, Effect::ReloadList],
            Action::Send => self.send(),
            Action::CloseComposer => {
                if let Some(c) = self.composer.take() {
                    let text = c.textarea.lines().join("\n");
                    if text.trim().is_empty() {
                        self.drafts.remove(&c.conversation);
                    } else {
                        self.drafts.insert(c.conversation, text);
                    }
                }
                self.focus = Focus::Thread;
                Vec::new()
            }
            Action::Confirm | Action::Cancel => Vec::new(),
        }
    }

    fn apply_popup(&mut self, action: Action) -> Vec<Effect> {
        let Some(popup) = self.popup.take() else {
            return Vec::new();
        };
        match (popup, action) {
            (_, Action::Cancel) => Vec::new(),
            (Popup::Help { context, scroll }, Action::Down) => {
                self.popup = Some(Popup::Help {
                    context,
                    scroll: scroll + 1,
                });
                Vec::new()
            }
            (Popup::Help { context, scroll }, Action::Up) => {
                self.popup = Some(Popup::Help {
                    context,
                    scroll: scroll.saturating_sub(1),
                });
                Vec::new()
            }
            (Popup::Help { .. }, _) => Vec::new(),
            (Popup::Templates { filter, selected }, Action::Down) => {
                let n = self.templates.filter(&filter).len();
                self.popup = Some(Popup::Templates {
                    filter,
                    selected: (selected + 1).min(n.saturating_sub(1)),
                });
                Vec::new()
            }
            (Popup::Templates { filter, selected }, Action::Up) => {
                self.popup = Some(Popup::Templates {
                    filter,
                    selected: selected.saturating_sub(1),
                });
                Vec::new()
            }
            (Popup::Templates { filter, selected }, Action::Confirm) => {
                let hits = self.templates.filter(&filter);
                if let Some(&i) = hits.get(selected) {
                    let id = self.templates.all[i].id.clone();
                    self.insert_template(&id);
                }
                Vec::new()
            }
            (Popup::Search(q), Action::Confirm) => {
                if q.trim().is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::Search(q)]
                }
            }
            (Popup::Command(c), Action::Confirm) => self.run_command(&c),
            (p, _) => {
                self.popup = Some(p);
                Vec::new()
            }
        }
    }

    fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let mut words = line.split_whitespace();
        let cmd = words.next().unwrap_or("");
        let rest: Vec<&str> = words.collect();
        match cmd {
            "" => Vec::new(),
            "q" | "quit" => {
                self.quit = true;
                vec![Effect::Quit]
            }
            "search" | "s" => vec![Effect::Search(rest.join(" "))],
            "open" | "all" => self.set_view(0),
            "unanswered" => self.set_view(1),
            "close" => self.apply(Action::CloseConversation),
            "reopen" => self.apply(Action::ReopenConversation),
            "help" => self.apply(Action::Help),
            "refresh" => self.apply(Action::Refresh),
            "template" | "t" => match rest.first() {
                Some(id) if self.templates.get(id).is_some() => {
                    self.open_composer(Some((*id).to_string()))
                }
                Some(id) => {
                    self.error(format!("no template {id:?}"));
                    Vec::new()
                }
                None => self.apply(Action::Template),
            },
            "channel" => {
                let name = rest.join(" ");
                match self.channels.iter().position(|c| c.name == name) {
                    Some(i) => self.set_view(i + 2),
                    None => {
                        self.error(format!("no channel {name:?}"));
                        Vec::new()
                    }
                }
            }
            other => {
                self.error(format!("{}: {other}", self.lang.tr("unknown_command")));
                Vec::new()
            }
        }
    }

    // ---- movement -----------------------------------------------------------

    fn move_by(&mut self, delta: i64) -> Vec<Effect> {
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
                if fx.is_empty() {
                    fx.extend(self.preview_selected());
                }
                fx
            }
            Focus::Thread | Focus::Composer => {
                if let Some(t) = &mut self.thread {
                    // Positive delta scrolls towards newer messages (down).
                    t.scroll = (t.scroll as i64 - delta).max(0) as usize;
                }
                Vec::new()
            }
        }
    }

    fn to_edge(&mut self, top: bool) -> Vec<Effect> {
        match self.focus {
            Focus::Channels => self.set_view(if top { 0 } else { self.sidebar_len() - 1 }),
            Focus::Conversations => {
                if let Some(s) = &mut self.search {
                    s.cursor = if top {
                        0
                    } else {
                        s.hits.len().saturating_sub(1)
                    };
                    return self.preview_selected();
                }
                vec![if top {
                    Effect::ListTop
                } else {
                    Effect::ListBottom
                }]
            }
            Focus::Thread | Focus::Composer => {
                if let Some(t) = &mut self.thread {
                    t.scroll = if top { usize::MAX / 2 } else { 0 };
                }
                Vec::new()
            }
        }
    }

    fn step_sidebar(&mut self, delta: i64) -> Vec<Effect> {
        let n = self.sidebar_len() as i64;
        let i = (self.sidebar_cursor as i64 + delta).rem_euclid(n) as usize;
        self.set_view(i)
    }

    fn set_view(&mut self, i: usize) -> Vec<Effect> {
        self.sidebar_cursor = i.min(self.sidebar_len() - 1);
        self.view = self.sidebar_view(self.sidebar_cursor);
        self.search = None;
        vec![Effect::ListTop]
    }

    /// In the wide layout the thread pane follows the selection.
    pub fn preview_selected(&self) -> Vec<Effect> {
        // Once the person is in a thread, list refreshes must not swap it away.
        if matches!(self.focus, Focus::Thread | Focus::Composer) {
            return Vec::new();
        }
        match self.selected_conversation() {
            Some(id)
                if self.wide() && self.thread.as_ref().map(|t| t.conversation.id) != Some(id) =>
            {
                vec![Effect::LoadThread(id)]
            }
            _ => Vec::new(),
        }
    }

    fn open_selected(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected_conversation() else {
            return Vec::new();
        };
        self.focus = Focus::Thread;
        if let Some(t) = &mut self.thread {
            t.scroll = 0;
        }
        vec![Effect::LoadThread(id), Effect::MarkRead(id)]
    }

    fn back(&mut self) -> Vec<Effect> {
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

    // ---- composing ------------------------------------------------------------

    fn open_composer(&mut self, template: Option<String>) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(conv_id) = self
            .thread
            .as_ref()
            .map(|t| t.conversation.id)
            .or(self.selected_conversation())
        else {
            self.error(self.lang.tr("open_a_thread"));
            return fx;
        };
        if self.thread.as_ref().map(|t| t.conversation.id) != Some(conv_id) {
            // The thread must be loaded to know what we answer; load it first.
            fx.push(Effect::LoadThread(conv_id));
            fx.push(Effect::MarkRead(conv_id));
            self.pending_composer = Some(template);
            self.focus = Focus::Thread;
            return fx;
        }
        self.ensure_composer();
        if let Some(id) = template {
            self.insert_template(&id);
        }
        fx
    }

    /// Opens the composer on the loaded thread, restoring a kept draft.
    fn ensure_composer(&mut self) {
        let Some(t) = &self.thread else { return };
        if self.composer.as_ref().map(|c| c.conversation) != Some(t.conversation.id) {
            let draft = self.drafts.remove(&t.conversation.id).unwrap_or_default();
            let mut textarea = TextArea::new(draft.lines().map(str::to_string).collect());
            textarea.set_wrap_mode(WrapMode::WordOrGlyph);
            textarea.move_cursor(ratatui_textarea::CursorMove::Bottom);
            textarea.move_cursor(ratatui_textarea::CursorMove::End);
            // Answer the client's newest message: chats reply to it, email quotes it.
            let reply_to = t
                .messages
                .iter()
                .rev()
                .find(|m| m.direction == Direction::In)
                .map(|m| m.id);
            let subject = match t.conversation.kind {
                ChannelKind::Email => Some(crate::workflow::replies::reply_subject(
                    t.messages
                        .iter()
                        .rev()
                        .find_map(|m| m.subject.as_deref())
                        .or(Some(t.conversation.title.as_str())),
                )),
                _ => None,
            };
            self.composer = Some(Composer {
                textarea,
                conversation: t.conversation.id,
                kind: t.conversation.kind,
                reply_to,
                subject,
            });
        }
        self.focus = Focus::Composer;
    }

    fn insert_template(&mut self, id: &str) {
        self.ensure_composer();
        let Some(template) = self.templates.get(id).cloned() else {
            self.error(format!("no template {id:?}"));
            return;
        };
        let vars = self.template_vars();
        let Some(c) = &mut self.composer else { return };
        let text = template.render(c.kind, &vars);
        if !c.textarea.is_empty() {
            c.textarea.insert_newline();
        }
        c.textarea.insert_str(&text);
    }

    fn template_vars(&self) -> HashMap<&'static str, String> {
        let mut vars = HashMap::new();
        vars.insert("agent", self.actor.clone());
        vars.insert(
            "today",
            self.clock
                .zoned(self.clock.now())
                .strftime("%d.%m.%Y")
                .to_string(),
        );
        if !self.hours_text.is_empty() {
            vars.insert("hours", self.hours_text.clone());
        }
        if let Some(t) = &self.thread {
            let c = &t.conversation;
            vars.insert("channel", c.channel_name.clone());
            if let Some(name) = c.client_name.as_ref().or(c.client.as_ref()) {
                vars.insert("client", crate::sanitize::line(name).into_owned());
            }
            if let Some(company) = &c.client {
                vars.insert("company", crate::sanitize::line(company).into_owned());
            }
        }
        vars
    }

    fn send(&mut self) -> Vec<Effect> {
        let Some(c) = &self.composer else {
            return Vec::new();
        };
        let body = c.textarea.lines().join("\n").trim_end().to_string();
        if body.trim().is_empty() {
            self.error(self.lang.tr("empty_reply"));
            return Vec::new();
        }
        let effect = Effect::QueueReply {
            conversation: c.conversation,
            reply_to: c.reply_to,
            subject: c.subject.clone(),
            body,
        };
        self.drafts.remove(&c.conversation);
        self.composer = None;
        self.focus = Focus::Thread;
        if let Some(t) = &mut self.thread {
            t.scroll = 0;
        }
        vec![effect]
    }

    // ---- results of effects -----------------------------------------------------

    pub fn thread_loaded(&mut self, thread: Option<ThreadState>) {
        let same = matches!((&self.thread, &thread), (Some(a), Some(b)) if a.conversation.id == b.conversation.id);
        let scroll = if same {
            self.thread.as_ref().map(|t| t.scroll).unwrap_or(0)
        } else {
            0
        };
        self.thread = thread.map(|mut t| {
            t.scroll = scroll;
            t
        });
        if let Some(template) = self.pending_composer.take() {
            if self.thread.is_some() {
                self.ensure_composer();
                if let Some(id) = template {
                    self.insert_template(&id);
                }
            }
        }
        self.dirty = true;
    }
}

/// Line editing for prompts: characters, Backspace, C-u (clear), C-w (word).
fn edit_line(buf: &mut String, key: Key) {
    match key.code {
        KeyCode::Backspace => {
            buf.pop();
        }
        KeyCode::Char('u') if key.mods.contains(KeyModifiers::CONTROL) => buf.clear(),
        KeyCode::Char('w') if key.mods.contains(KeyModifiers::CONTROL) => {
            let trimmed = buf.trim_end().len();
            buf.truncate(trimmed);
            let cut = buf.rfind(' ').map(|i| i + 1).unwrap_or(0);
            buf.truncate(cut);
        }
        _ => {
            if let Some(c) = key.plain_char() {
                buf.push(c);
            }
        }
    }
}
