//! UI state and `update`: keys become actions, actions change state and ask for effects.
//! Nothing here touches the store or the terminal.

use super::action::Action;
use super::keymap::{Context, Keymap, Resolved};
use super::keys::Key;
use crate::clock::Clock;
use crate::i18n::Lang;
use crate::model::*;
use crate::search::words::Terms;
use crate::store::drafts::{Draft, DraftKey, DraftKind};
use crate::workflow::calendar::Calendar;
use crate::workflow::templates::Templates;
use crate::workflow::{deadline, tone};
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

/// What a sequence of field prompts is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Purpose {
    /// Insert a template whose fields must be asked for.
    Insert(String),
    Accept,
    Done,
    Redate,
    Snooze,
    FollowUp,
    Assign,
    /// Add a file to the composer.
    Attach,
    /// Where to save an attachment.
    SaveTo {
        message: i64,
        index: usize,
    },
    /// Whom to forward a message to.
    ForwardTo {
        message: i64,
    },
    /// Recipients and subject of a new email from an email channel.
    NewEmail {
        channel: i64,
    },
}

/// An email composer that is not a reply.
#[derive(Debug, Clone, PartialEq)]
pub enum MailDraft {
    /// Only `message` and its attachments go, below our text.
    Forward { message: i64, to: Vec<String> },
    /// A new thread.
    New { channel: i64, to: Vec<String> },
}

/// What a list to pick from is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickPurpose {
    SaveAttachment,
    OpenAttachment,
    Forward,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PickItem {
    pub label: String,
    pub message: i64,
    /// The attachment's position in its message (0 for a message).
    pub index: usize,
}

/// Asks for template fields one by one; `deadline` fields are read as deadlines.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldsPrompt {
    pub purpose: Purpose,
    pub conversation: i64,
    pub fields: Vec<String>,
    pub index: usize,
    pub input: String,
    pub values: HashMap<String, String>,
    pub deadline: Option<i64>,
}

impl FieldsPrompt {
    pub fn field(&self) -> &str {
        self.fields.get(self.index).map(String::as_str).unwrap_or("")
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help {
        context: Context,
        scroll: usize,
    },
    Templates {
        filter: String,
        selected: usize,
    },
    Command(String),
    Search(String),
    Fields(FieldsPrompt),
    /// Read-only text, e.g. a conversation's history.
    Text {
        title: String,
        lines: Vec<String>,
        scroll: usize,
    },
    /// One of a few items: an attachment to save or open, a message to forward.
    Pick {
        purpose: PickPurpose,
        items: Vec<PickItem>,
        selected: usize,
    },
}

/// What kind of message a queued reply is, for the promise ledger.
#[derive(Debug, Clone, PartialEq)]
pub enum ReplyKind {
    Plain,
    Accept { deadline: i64, source: Option<i64> },
    Done,
    Redate { deadline: i64 },
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
        kind: ReplyKind,
        attachments: Vec<std::path::PathBuf>,
    },
    Search(String),
    SetOpen {
        conversation: i64,
        open: bool,
    },
    Snooze {
        conversation: i64,
        until: Option<i64>,
    },
    FollowUp {
        conversation: i64,
        at: Option<i64>,
    },
    CancelTask(i64),
    /// Keeps a draft in the store (an empty one is deleted).
    SaveDraft(DraftKey, Draft),
    /// Retry (or discard) the newest failed or maybe-sent message of a conversation.
    ResolveSend {
        conversation: i64,
        retry: bool,
    },
    Undo {
        outbox: i64,
        conversation: i64,
    },
    Assign {
        conversation: i64,
        assignee: Option<String>,
        note: Option<String>,
    },
    AddNote {
        conversation: i64,
        body: String,
    },
    /// The client's default responsible person (for their new conversations).
    DefaultAssignee {
        conversation: i64,
        assignee: Option<String>,
    },
    /// "I am replying here" (renewed while the composer is open) / no longer.
    Claim(i64),
    Release(i64),
    History(i64),
    /// Play the newest voice message of the open thread.
    PlayVoice,
    /// Fetch an attachment (on demand) and save it into `dir`.
    SaveAttachment {
        message: i64,
        index: usize,
        dir: std::path::PathBuf,
    },
    /// Fetch an attachment and open it with the configured program.
    OpenAttachment {
        message: i64,
        index: usize,
    },
    /// A forward or a new email (explicit recipients).
    QueueEmail {
        conversation: Option<i64>,
        draft: MailDraft,
        subject: String,
        body: String,
        attachments: Vec<std::path::PathBuf>,
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
    /// The query's words as terms: highlighted in the thread a hit opens.
    pub terms: Terms,
}

#[derive(Debug)]
pub struct ThreadState {
    pub conversation: ConversationRow,
    pub messages: Vec<MessageRow>,
    pub tasks: Vec<TaskRow>,
    /// Lines scrolled up from the newest message.
    pub scroll: usize,
    /// The search this thread was opened from: its matches are highlighted
    /// and `n`/`N` step through the messages that have one.
    pub terms: Terms,
    /// The message (index) `n`/`N` or the opening hit put at the top.
    pub jump_to: Option<usize>,
    /// The scroll the last frame showed while `jump_to` placed the view, so
    /// that `j`/`k` go on from there (written by the renderer, like ratatui's
    /// list state).
    pub shown_scroll: std::cell::Cell<usize>,
}

impl ThreadState {
    pub fn new(conversation: ConversationRow, messages: Vec<MessageRow>, tasks: Vec<TaskRow>) -> Self {
        ThreadState {
            conversation,
            messages,
            tasks,
            scroll: 0,
            terms: Terms::default(),
            jump_to: None,
            shown_scroll: std::cell::Cell::new(0),
        }
    }

    /// Indexes of the messages whose text has a match of `terms`.
    pub fn matching(&self) -> Vec<usize> {
        if self.terms.is_empty() {
            return Vec::new();
        }
        crate::search::words::with_words(|w| {
            self.messages
                .iter()
                .enumerate()
                .filter(|(_, m)| {
                    !crate::search::words::matches(w, &m.body, &self.terms).is_empty()
                        || m.subject
                            .as_deref()
                            .is_some_and(|s| !crate::search::words::matches(w, s, &self.terms).is_empty())
                })
                .map(|(i, _)| i)
                .collect()
        })
    }

    /// The client's newest message: what a reply answers.
    pub fn last_inbound(&self) -> Option<i64> {
        self.messages.iter().rev().find(|m| m.direction == Direction::In).map(|m| m.id)
    }

    /// An address as people wrote it: "Ирина Петрова <irina@client.test>"
    /// when a mail of this thread gave its name, else the address.
    pub fn shown_address(&self, addr: &str) -> String {
        let name =
            self.messages.iter().find_map(|m| {
                m.names.iter().find(|(a, _)| a == addr).map(|(_, n)| n.as_str()).or_else(|| {
                    (m.from_handle.as_deref() == Some(addr) && m.author != addr).then_some(m.author.as_str())
                })
            });
        match name {
            Some(n) if !n.is_empty() => format!("{n} <{addr}>"),
            _ => addr.to_string(),
        }
    }

    /// A chat where we have not written yet: time for the rules message.
    pub fn is_new_chat(&self) -> bool {
        self.conversation.kind != ChannelKind::Email && !self.messages.iter().any(|m| m.direction == Direction::Out)
    }
}

pub struct Composer {
    pub textarea: TextArea<'static>,
    pub conversation: i64,
    pub kind: ChannelKind,
    pub reply_to: Option<i64>,
    pub subject: Option<String>,
    /// An internal note instead of a reply.
    pub note: bool,
    /// The client's newest message when the composer opened: a newer one means "read it first".
    pub seen_inbound: Option<i64>,
    /// The person chose to send although a new client message arrived.
    pub inbound_confirmed: bool,
    /// Files to send with the reply.
    pub attachments: Vec<std::path::PathBuf>,
    /// A forward or a new email instead of a reply.
    pub mail: Option<MailDraft>,
    /// A deadline the text promises: (deadline, as written in the text), set
    /// when a template's deadline field was filled in.
    pub promise: Option<(i64, String)>,
    /// A deadline found in typed text, confirmed by sending again.
    pub promise_asked: Option<i64>,
}

impl Composer {
    /// What this composer would keep as a draft, under which key.
    pub fn draft(&self) -> (DraftKey, Draft) {
        let (kind, to) = match &self.mail {
            Some(MailDraft::Forward { message, to }) => (DraftKind::Forward(*message), to.clone()),
            Some(MailDraft::New { channel, to }) => (DraftKind::Email(*channel), to.clone()),
            None if self.note => (DraftKind::Note, Vec::new()),
            None => (DraftKind::Reply, Vec::new()),
        };
        let body = self.textarea.lines().join("\n");
        (DraftKey { conversation: self.conversation, kind }, Draft { body, subject: self.subject.clone(), to })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StatusMessage {
    pub text: String,
    pub error: bool,
}

/// The last message queued by this person, while it can still be taken back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LastSent {
    pub outbox: i64,
    pub conversation: i64,
    pub until: i64,
}

pub struct AppState {
    pub lang: Lang,
    pub actor: String,
    pub hours_text: String,
    /// Our email addresses (every account, aliases too): never a reply-all recipient.
    pub own_addresses: Vec<String>,
    pub clock: Clock,
    pub calendar: Calendar,
    pub keymap: Keymap,
    pub templates: Templates,
    pub focus: Focus,
    pub channels: Vec<ChannelRow>,
    /// Counts of the smart views, in `View::SMART` order.
    pub view_counts: Vec<i64>,
    pub sidebar_cursor: usize,
    pub view: View,
    pub list: ListWindow,
    pub search: Option<SearchResults>,
    pub thread: Option<ThreadState>,
    pub composer: Option<Composer>,
    /// Closed composers' text, per conversation and kind; mirrored in the store.
    pub drafts: HashMap<DraftKey, Draft>,
    /// `q` was pressed once with drafts kept: a second `q` quits.
    pub quit_warned: bool,
    /// `x` was pressed once on this conversation with an open promise.
    pub close_asked: Option<i64>,
    pub popup: Option<Popup>,
    pub status: Option<StatusMessage>,
    pub counts: StatusCounts,
    pub chord: Vec<Key>,
    pub width: u16,
    pub height: u16,
    pub quit: bool,
    /// A composer asked for before its thread was loaded (with a template to insert).
    pub pending_composer: Option<Option<String>>,
    /// Seconds a queued message waits before it may leave (undo window).
    pub undo_seconds: i64,
    pub last_sent: Option<LastSent>,
    /// Words that make the tone check ask before sending.
    pub tone_words: Vec<String>,
    /// Text the person chose to send despite the tone warning.
    pub tone_confirmed: Option<String>,
    /// Ring the bell when a promise becomes overdue.
    pub bell_enabled: bool,
    pub ring_bell: bool,
    pub overdue_seen: Option<i64>,
    /// Some(true) while this pult runs the workers, Some(false) while a daemon does.
    pub solo: Option<bool>,
    /// The team from the config, offered when assigning.
    pub team: Vec<String>,
    /// A reply composer opened and its claim is still to be written.
    pub claim_pending: bool,
    /// Attachments above this size ask for confirmation.
    pub max_attachment_bytes: u64,
    /// A large file the person confirmed by entering it again.
    pub attach_confirmed: Option<std::path::PathBuf>,
    /// Where attachments are saved unless the person types another directory.
    pub download_dir: std::path::PathBuf,
    /// Set by every change; the loop draws only when it is set.
    pub dirty: bool,
}

impl AppState {
    pub fn new(lang: Lang, actor: String, clock: Clock, keymap: Keymap, templates: Templates) -> AppState {
        let clock = clock.with_russian_names(lang == Lang::Ru);
        let calendar = Calendar::standard(clock.tz().clone());
        AppState {
            lang,
            actor,
            hours_text: calendar.describe(lang == Lang::Ru),
            clock,
            calendar,
            keymap,
            templates,
            focus: Focus::Conversations,
            channels: Vec::new(),
            view_counts: vec![0; View::SMART.len()],
            sidebar_cursor: 0,
            view: View::AllOpen,
            list: ListWindow::default(),
            search: None,
            thread: None,
            composer: None,
            drafts: HashMap::new(),
            quit_warned: false,
            own_addresses: Vec::new(),
            close_asked: None,
            popup: None,
            status: None,
            counts: StatusCounts::default(),
            chord: Vec::new(),
            width: 120,
            height: 40,
            quit: false,
            pending_composer: None,
            undo_seconds: 10,
            last_sent: None,
            tone_words: Vec::new(),
            tone_confirmed: None,
            bell_enabled: true,
            ring_bell: false,
            overdue_seen: None,
            solo: None,
            team: Vec::new(),
            claim_pending: false,
            max_attachment_bytes: 20 << 20,
            attach_confirmed: None,
            download_dir: crate::config::Ui::default().download_dir(),
            dirty: true,
        }
    }

    pub fn wide(&self) -> bool {
        self.width >= WIDE
    }

    /// Sidebar entries: the smart views, then every channel.
    pub fn sidebar_len(&self) -> usize {
        View::SMART.len() + self.channels.len()
    }

    pub fn sidebar_view(&self, i: usize) -> View {
        match View::SMART.get(i) {
            Some(v) => *v,
            None => self.channels.get(i - View::SMART.len()).map(|c| View::Channel(c.id)).unwrap_or(View::AllOpen),
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
        self.status = Some(StatusMessage { text: text.into(), error: false });
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.status = Some(StatusMessage { text: text.into(), error: true });
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

    /// The conversation an action applies to: the open thread, else the selection.
    fn target(&self) -> Option<i64> {
        match self.focus {
            Focus::Thread | Focus::Composer => self.thread.as_ref().map(|t| t.conversation.id),
            _ => self.selected_conversation(),
        }
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
                Popup::Fields(f) => Some(&mut f.input),
                Popup::Templates { filter, selected } => {
                    *selected = 0;
                    Some(filter)
                }
                Popup::Help { .. } | Popup::Text { .. } | Popup::Pick { .. } => None,
            };
            if let Some(buf) = input {
                edit_line(buf, key);
            } else if matches!(key.code, KeyCode::Char('?') | KeyCode::Char('q')) {
                self.popup = None;
            } else if let Some(Popup::Help { scroll, .. } | Popup::Text { scroll, .. }) = &mut self.popup {
                match key.code {
                    KeyCode::Char('j') => *scroll += 1,
                    KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                    _ => {}
                }
            } else if let Some(Popup::Pick { items, selected, .. }) = &mut self.popup {
                match key.code {
                    KeyCode::Char('j') => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
                    KeyCode::Char('k') => *selected = selected.saturating_sub(1),
                    _ => {}
                }
            }
            return Vec::new();
        }
        if self.focus == Focus::Composer
            && let Some(c) = &mut self.composer
        {
            c.textarea.input(key.to_event());
            self.tone_confirmed = None;
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
                    // Drafts are kept in the store; say how many and where before leaving.
                    let mut fx = Vec::new();
                    if let Some(c) = self.composer.take() {
                        self.stash(c, &mut fx);
                        self.focus = Focus::Thread;
                    }
                    if !self.drafts.is_empty() && !self.quit_warned {
                        self.quit_warned = true;
                        let quit = self.keymap.key_for(Context::Conversations, &Action::Quit).unwrap_or_default();
                        self.info(format!(
                            "{} {}: {} — {quit} {}",
                            self.drafts.len(),
                            self.lang.tr("drafts_kept"),
                            self.draft_places(),
                            self.lang.tr("again_to_quit")
                        ));
                        return fx;
                    }
                    self.quit = true;
                    fx.push(Effect::Quit);
                    fx
                }
            },
            Action::Help => {
                self.popup = Some(Popup::Help { context: self.context(), scroll: 0 });
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
            Action::NextMatch => self.jump_match(true),
            Action::PrevMatch => self.jump_match(false),
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
                    self.popup = Some(Popup::Templates { filter: String::new(), selected: 0 });
                }
                fx
            }
            Action::InsertTemplate(id) => self.open_composer(Some(id)),
            Action::PostRules => self.open_composer(Some("rules".into())),
            Action::Assign => self.ask(Purpose::Assign, vec!["assignee".into(), "note".into()]),
            Action::Note => self.open_note(),
            Action::Attach => {
                if self.composer.as_ref().is_some_and(|c| !c.note) {
                    self.ask(Purpose::Attach, vec!["file".into()])
                } else {
                    Vec::new()
                }
            }
            Action::PlayVoice => vec![Effect::PlayVoice],
            Action::SaveAttachment => self.pick_attachment(PickPurpose::SaveAttachment),
            Action::OpenAttachment => self.pick_attachment(PickPurpose::OpenAttachment),
            Action::Forward => self.pick_forward(),
            Action::NewEmail => self.new_email(),
            Action::History => match self.target() {
                Some(c) => vec![Effect::History(c)],
                None => Vec::new(),
            },
            Action::ViewAssigned => self.set_view_of(View::Mine),
            Action::ViewUnassigned => self.set_view_of(View::Unassigned),
            Action::ViewMentions => self.set_view_of(View::Mentions),
            Action::Accept => self.ask(Purpose::Accept, vec!["deadline".into()]),
            Action::Done => self.ask(Purpose::Done, vec!["what".into()]),
            Action::Redate => {
                let open = |t: &ThreadState| t.tasks.iter().any(|x| x.withdrawn.is_none());
                if self.thread.as_ref().is_some_and(|t| !open(t)) && self.focus != Focus::Conversations {
                    self.error(self.lang.tr("no_promise"));
                    return Vec::new();
                }
                let fields = self.templates.get("redate").map(|t| t.fields.clone()).unwrap_or_default();
                self.ask(Purpose::Redate, fields)
            }
            Action::Snooze => self.ask(Purpose::Snooze, vec!["deadline".into()]),
            Action::FollowUp => self.ask(Purpose::FollowUp, vec!["deadline".into()]),
            Action::CancelTask => match self.target() {
                Some(c) => vec![Effect::CancelTask(c)],
                None => Vec::new(),
            },
            Action::UndoSend => match self.last_sent {
                Some(l) if l.until > self.clock.now() => {
                    self.last_sent = None;
                    vec![Effect::Undo { outbox: l.outbox, conversation: l.conversation }]
                }
                _ => {
                    self.error(self.lang.tr("nothing_to_undo"));
                    Vec::new()
                }
            },
            Action::NextUnanswered => {
                self.view = View::Unanswered;
                self.sidebar_cursor = View::SMART.iter().position(|v| *v == View::Unanswered).unwrap_or(1);
                self.search = None;
                self.focus = Focus::Conversations;
                vec![Effect::ListTop, Effect::ReloadSidebar]
            }
            Action::ViewAllOpen => self.set_view_of(View::AllOpen),
            Action::ViewUnanswered => self.set_view_of(View::Unanswered),
            Action::ViewDueToday => self.set_view_of(View::DueToday),
            Action::ViewOverdue => self.set_view_of(View::Overdue),
            Action::ViewAtRisk => self.set_view_of(View::AtRisk),
            Action::ViewMine => self.set_view_of(View::Mine),
            Action::ViewAccepted => self.set_view_of(View::AcceptedByMe),
            Action::ViewSnoozed => self.set_view_of(View::Snoozed),
            Action::ViewReminders => self.set_view_of(View::Reminders),
            Action::ViewUnsent => self.set_view_of(View::Unsent),
            Action::CloseConversation | Action::ReopenConversation => {
                let open = action == Action::ReopenConversation;
                match self.target() {
                    // Closing hides a promise from the lists: ask once.
                    Some(conversation)
                        if !open
                            && self.close_asked != Some(conversation)
                            && self.open_promise(conversation).is_some() =>
                    {
                        self.close_asked = Some(conversation);
                        let d = self.open_promise(conversation).unwrap_or_default();
                        let key = self.keymap.key_for(self.context(), &Action::CloseConversation).unwrap_or_default();
                        self.error(format!(
                            "{} ⚑ {} — {key} {}",
                            self.lang.tr("open_promise"),
                            self.clock.full(d),
                            self.lang.tr("again_to_close")
                        ));
                        Vec::new()
                    }
                    Some(conversation) => {
                        self.close_asked = None;
                        self.info(self.lang.tr(if open { "reopened" } else { "closed" }));
                        vec![Effect::SetOpen { conversation, open }]
                    }
                    None => Vec::new(),
                }
            }
            Action::RetrySend | Action::DiscardSend => match self.target() {
                Some(conversation) => vec![Effect::ResolveSend { conversation, retry: action == Action::RetrySend }],
                None => Vec::new(),
            },
            Action::Refresh => vec![Effect::ReloadSidebar, Effect::ReloadList],
            Action::Send => self.send(),
            Action::CloseComposer => {
                let mut fx = Vec::new();
                if let Some(c) = self.composer.take() {
                    self.stash(c, &mut fx);
                }
                self.focus = Focus::Thread;
                fx
            }
            Action::Confirm | Action::Cancel => Vec::new(),
        }
    }

    fn apply_popup(&mut self, action: Action) -> Vec<Effect> {
        let Some(popup) = self.popup.take() else { return Vec::new() };
        match (popup, action) {
            (_, Action::Cancel) => Vec::new(),
            (Popup::Help { context, scroll }, Action::Down) => {
                self.popup = Some(Popup::Help { context, scroll: scroll + 1 });
                Vec::new()
            }
            (Popup::Help { context, scroll }, Action::Up) => {
                self.popup = Some(Popup::Help { context, scroll: scroll.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Help { .. }, _) => Vec::new(),
            (Popup::Text { title, lines, scroll }, Action::Down) => {
                self.popup = Some(Popup::Text { title, lines, scroll: scroll + 1 });
                Vec::new()
            }
            (Popup::Text { title, lines, scroll }, Action::Up) => {
                self.popup = Some(Popup::Text { title, lines, scroll: scroll.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Text { .. }, _) => Vec::new(),
            (Popup::Pick { purpose, items, selected }, Action::Down) => {
                let selected = (selected + 1).min(items.len().saturating_sub(1));
                self.popup = Some(Popup::Pick { purpose, items, selected });
                Vec::new()
            }
            (Popup::Pick { purpose, items, selected }, Action::Up) => {
                self.popup = Some(Popup::Pick { purpose, items, selected: selected.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Pick { purpose, items, selected }, Action::Confirm) => match items.get(selected) {
                Some(item) => self.picked(purpose, item.clone()),
                None => Vec::new(),
            },
            (Popup::Templates { filter, selected }, Action::Down) => {
                let n = self.templates.filter(&filter).len();
                self.popup = Some(Popup::Templates { filter, selected: (selected + 1).min(n.saturating_sub(1)) });
                Vec::new()
            }
            (Popup::Templates { filter, selected }, Action::Up) => {
                self.popup = Some(Popup::Templates { filter, selected: selected.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Templates { filter, selected }, Action::Confirm) => {
                let hits = self.templates.filter(&filter);
                match hits.get(selected) {
                    Some(&i) => {
                        let id = self.templates.all[i].id.clone();
                        self.insert_template(&id)
                    }
                    None => Vec::new(),
                }
            }
            (Popup::Search(q), Action::Confirm) => {
                if q.trim().is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::Search(q)]
                }
            }
            (Popup::Command(c), Action::Confirm) => self.run_command(&c),
            (Popup::Fields(f), Action::Confirm) => self.field_entered(f),
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
            "open" | "all" => self.set_view_of(View::AllOpen),
            "unanswered" => self.set_view_of(View::Unanswered),
            "today" => self.set_view_of(View::DueToday),
            "overdue" => self.set_view_of(View::Overdue),
            "risk" | "at-risk" => self.set_view_of(View::AtRisk),
            "mine" => self.set_view_of(View::Mine),
            "snoozed" => self.set_view_of(View::Snoozed),
            "reminders" => self.set_view_of(View::Reminders),
            "unsent" => self.set_view_of(View::Unsent),
            "accepted" => self.set_view_of(View::AcceptedByMe),
            "unassigned" => self.set_view_of(View::Unassigned),
            "mentions" => self.set_view_of(View::Mentions),
            "history" => self.apply(Action::History),
            "forward" | "fwd" => self.apply(Action::Forward),
            "compose" | "mail" => self.apply(Action::NewEmail),
            "save" => self.apply(Action::SaveAttachment),
            "open-attachment" => self.apply(Action::OpenAttachment),
            "default-assignee" => match self.target() {
                Some(c) => {
                    let who = rest.first().filter(|n| !matches!(**n, "-" | "nobody" | "никто")).map(|n| n.to_string());
                    if let Some(w) = &who
                        && !self.team.is_empty()
                        && !self.team.contains(w)
                    {
                        self.error(format!("{}: {w}", self.lang.tr("not_in_team")));
                        return Vec::new();
                    }
                    vec![Effect::DefaultAssignee { conversation: c, assignee: who }]
                }
                None => Vec::new(),
            },
            "assign" => match (self.target(), rest.first()) {
                (Some(c), Some(name)) => {
                    let who = (!matches!(*name, "-" | "nobody" | "никто")).then(|| name.to_string());
                    vec![Effect::Assign { conversation: c, assignee: who, note: None }]
                }
                _ => self.apply(Action::Assign),
            },
            "note" => match self.target() {
                Some(c) if !rest.is_empty() => vec![Effect::AddNote { conversation: c, body: rest.join(" ") }],
                _ => self.apply(Action::Note),
            },
            "close" => self.apply(Action::CloseConversation),
            "reopen" => self.apply(Action::ReopenConversation),
            "cancel" | "cancel-task" => self.apply(Action::CancelTask),
            "redate" => self.apply(Action::Redate),
            "unsnooze" => match self.target() {
                Some(c) => vec![Effect::Snooze { conversation: c, until: None }],
                None => Vec::new(),
            },
            "help" => self.apply(Action::Help),
            "refresh" => self.apply(Action::Refresh),
            "template" | "t" => match rest.first() {
                Some(id) if self.templates.get(id).is_some() => self.open_composer(Some((*id).to_string())),
                Some(id) => {
                    self.error(format!("no template {id:?}"));
                    Vec::new()
                }
                None => self.apply(Action::Template),
            },
            "channel" => {
                let name = rest.join(" ");
                match self.channels.iter().position(|c| c.name == name) {
                    Some(i) => self.set_view(i + View::SMART.len()),
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
    fn jump_match(&mut self, newer: bool) -> Vec<Effect> {
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

    fn to_edge(&mut self, top: bool) -> Vec<Effect> {
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

    fn step_sidebar(&mut self, delta: i64) -> Vec<Effect> {
        let n = self.sidebar_len() as i64;
        let i = (self.sidebar_cursor as i64 + delta).rem_euclid(n) as usize;
        self.set_view(i)
    }

    fn set_view_of(&mut self, view: View) -> Vec<Effect> {
        let i = View::SMART.iter().position(|v| *v == view).unwrap_or(0);
        self.set_view(i)
    }

    fn set_view(&mut self, i: usize) -> Vec<Effect> {
        self.sidebar_cursor = i.min(self.sidebar_len() - 1);
        self.view = self.sidebar_view(self.sidebar_cursor);
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

    fn open_selected(&mut self) -> Vec<Effect> {
        let Some(id) = self.selected_conversation() else { return Vec::new() };
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

    // ---- prompts ----------------------------------------------------------------

    /// Starts asking for `fields` (in the status line) for `purpose`.
    fn ask(&mut self, purpose: Purpose, fields: Vec<String>) -> Vec<Effect> {
        let Some(conversation) = self.target() else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        let mut fx = Vec::new();
        if self.thread.as_ref().map(|t| t.conversation.id) != Some(conversation) {
            fx.push(Effect::LoadThread(conversation));
        }
        let prompt = FieldsPrompt {
            purpose,
            conversation,
            fields,
            index: 0,
            input: String::new(),
            values: HashMap::new(),
            deadline: None,
        };
        if prompt.fields.is_empty() {
            fx.extend(self.finish_fields(prompt));
        } else {
            self.popup = Some(Popup::Fields(prompt));
        }
        fx
    }

    /// What the deadline typed so far resolves to, for the live preview.
    pub fn deadline_preview(&self, input: &str) -> Result<i64, deadline::DeadlineError> {
        deadline::parse(input, self.clock.now(), &self.calendar)
    }

    fn field_entered(&mut self, mut f: FieldsPrompt) -> Vec<Effect> {
        let name = f.field().to_string();
        let value = f.input.trim().to_string();
        if name == "deadline" {
            match self.deadline_preview(&value) {
                Ok(ts) => {
                    f.deadline = Some(ts);
                    f.values.insert(name, deadline::format_for_client(ts, &self.calendar));
                }
                Err(e) => {
                    self.error(e.to_string());
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
            }
        } else if name == "file" {
            let path = expand_home(&value);
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => {
                    self.error(format!("{}: {}", self.lang.tr("not_a_file"), path.display()));
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
                Err(e) => {
                    self.error(format!("{}: {e}", path.display()));
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
            };
            if meta.len() > self.max_attachment_bytes && self.attach_confirmed.as_ref() != Some(&path) {
                self.error(format!(
                    "{} {:.1} MB > {} MB — {}",
                    path.display(),
                    meta.len() as f64 / 1048576.0,
                    self.max_attachment_bytes >> 20,
                    self.lang.tr("enter_again")
                ));
                self.attach_confirmed = Some(path);
                self.popup = Some(Popup::Fields(f));
                return Vec::new();
            }
            self.attach_confirmed = None;
            f.values.insert(name, path.display().to_string());
        } else if name == "to" {
            match crate::store::intents::valid_addresses(std::slice::from_ref(&value)) {
                Ok(list) => {
                    f.values.insert(name, list.join(", "));
                }
                Err(e) => {
                    self.error(e.to_string());
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
            }
        } else if name == "subject" && value.is_empty() {
            self.error(self.lang.tr("no_subject"));
            self.popup = Some(Popup::Fields(f));
            return Vec::new();
        } else if name == "directory" {
            if value.is_empty() {
                self.error(format!("{}: {}", self.lang.tr("field_required"), field_label(self.lang, &name)));
                self.popup = Some(Popup::Fields(f));
                return Vec::new();
            }
            f.values.insert(name, expand_home(&value).display().to_string());
        } else if name == "assignee" {
            let nobody = value.is_empty() || matches!(value.as_str(), "-" | "nobody" | "никто");
            if !nobody && !self.team.is_empty() && !self.team.iter().any(|t| t == &value) {
                self.error(format!("{}: {value} ({})", self.lang.tr("not_in_team"), self.team.join(", ")));
                self.popup = Some(Popup::Fields(f));
                return Vec::new();
            }
            f.values.insert(name, if nobody { String::new() } else { value });
        } else if value.is_empty() && !matches!(name.as_str(), "what" | "note") {
            self.error(format!("{}: {}", self.lang.tr("field_required"), field_label(self.lang, &name)));
            self.popup = Some(Popup::Fields(f));
            return Vec::new();
        } else {
            f.values.insert(name, value);
        }
        f.index += 1;
        f.input.clear();
        if f.index < f.fields.len() {
            self.popup = Some(Popup::Fields(f));
            return Vec::new();
        }
        self.finish_fields(f)
    }

    fn finish_fields(&mut self, f: FieldsPrompt) -> Vec<Effect> {
        let conversation = f.conversation;
        let template_text = |state: &AppState, id: &str| -> Option<String> {
            let t = state.templates.get(id)?;
            let kind = state.thread.as_ref().map(|t| t.conversation.kind).unwrap_or(ChannelKind::Telegram);
            let mut vars: HashMap<&str, String> = state.template_vars().into_iter().collect();
            for (k, v) in &f.values {
                vars.insert(k.as_str(), v.clone());
            }
            Some(t.render(kind, &vars))
        };
        let reply = |state: &AppState, body: String, kind: ReplyKind| -> Vec<Effect> {
            let (reply_to, subject) = state.reply_target();
            vec![Effect::QueueReply { conversation, reply_to, subject, body, kind, attachments: Vec::new() }]
        };
        match &f.purpose {
            Purpose::Insert(id) => {
                let id = id.clone();
                let Some(text) = template_text(self, &id) else { return Vec::new() };
                self.ensure_composer();
                if let Some(c) = &mut self.composer {
                    if !c.textarea.is_empty() {
                        c.textarea.insert_newline();
                    }
                    c.textarea.insert_str(&text);
                    // The deadline the client will read is a promise pult keeps.
                    if let (Some(d), Some(written)) = (f.deadline, f.values.get("deadline")) {
                        c.promise = Some((d, written.clone()));
                    }
                }
                Vec::new()
            }
            Purpose::Accept => {
                let Some(deadline) = f.deadline else { return Vec::new() };
                let source = self.thread.as_ref().and_then(ThreadState::last_inbound);
                let body = template_text(self, "accept").unwrap_or_else(|| "Принято в работу.".into());
                reply(self, body, ReplyKind::Accept { deadline, source })
            }
            Purpose::Done => {
                let body = template_text(self, "done").unwrap_or_else(|| "Выполнено.".into());
                reply(self, body, ReplyKind::Done)
            }
            Purpose::Redate => {
                let Some(deadline) = f.deadline else { return Vec::new() };
                let body = template_text(self, "redate").unwrap_or_default();
                reply(self, body, ReplyKind::Redate { deadline })
            }
            Purpose::Snooze => vec![Effect::Snooze { conversation, until: f.deadline }],
            Purpose::Attach => {
                if let (Some(c), Some(p)) = (&mut self.composer, f.values.get("file")) {
                    c.attachments.push(std::path::PathBuf::from(p));
                }
                self.focus = Focus::Composer;
                Vec::new()
            }
            Purpose::Assign => {
                let assignee = f.values.get("assignee").filter(|a| !a.is_empty()).cloned();
                let note = f.values.get("note").filter(|n| !n.is_empty()).cloned();
                vec![Effect::Assign { conversation, assignee, note }]
            }
            Purpose::FollowUp => vec![Effect::FollowUp { conversation, at: f.deadline }],
            Purpose::SaveTo { message, index } => {
                let dir = std::path::PathBuf::from(f.values.get("directory").cloned().unwrap_or_default());
                vec![Effect::SaveAttachment { message: *message, index: *index, dir }]
            }
            Purpose::ForwardTo { message } => {
                let to = split_addresses(f.values.get("to"));
                let subject = self.thread.as_ref().and_then(|t| {
                    let m = t.messages.iter().find(|m| m.id == *message)?;
                    Some(crate::workflow::replies::forward_subject(
                        m.subject.as_deref().or(Some(t.conversation.title.as_str())),
                    ))
                });
                self.open_mail_composer(conversation, MailDraft::Forward { message: *message, to }, subject)
            }
            Purpose::NewEmail { channel } => {
                let to = split_addresses(f.values.get("to"));
                let subject = f.values.get("subject").cloned();
                self.open_mail_composer(0, MailDraft::New { channel: *channel, to }, subject)
            }
        }
    }

    // ---- attachments, forward, new email -------------------------------------------

    /// Attachments of the open thread, newest first; one is taken at once.
    fn pick_attachment(&mut self, purpose: PickPurpose) -> Vec<Effect> {
        let Some(t) = &self.thread else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        let clock = &self.clock;
        let items: Vec<PickItem> = t
            .messages
            .iter()
            .rev()
            .flat_map(|m| {
                m.attachments.iter().enumerate().map(move |(index, a)| PickItem {
                    label: format!(
                        "{}  {}  · {} · {}",
                        crate::sanitize::line(&a.name),
                        human_size(a.size),
                        crate::sanitize::line(&m.author),
                        clock.short(m.sent_at)
                    ),
                    message: m.id,
                    index,
                })
            })
            .collect();
        match items.len() {
            0 => {
                self.error(self.lang.tr("no_attachments"));
                Vec::new()
            }
            1 => self.picked(purpose, items[0].clone()),
            _ => {
                self.popup = Some(Popup::Pick { purpose, items, selected: 0 });
                Vec::new()
            }
        }
    }

    /// Messages of the open email thread, newest first, to forward one.
    fn pick_forward(&mut self) -> Vec<Effect> {
        let Some(t) = &self.thread else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        if t.conversation.kind != ChannelKind::Email {
            self.error(self.lang.tr("forward_is_email"));
            return Vec::new();
        }
        let items: Vec<PickItem> = t
            .messages
            .iter()
            .rev()
            .filter(|m| m.direction != Direction::Note)
            .map(|m| {
                let clip =
                    if m.attachments.is_empty() { String::new() } else { format!("  📎{}", m.attachments.len()) };
                PickItem {
                    label: format!(
                        "{}  {}: {}{clip}",
                        self.clock.short(m.sent_at),
                        crate::sanitize::line(&m.author),
                        crate::sanitize::truncate(&crate::sanitize::line(m.body.lines().next().unwrap_or("")), 60)
                    ),
                    message: m.id,
                    index: 0,
                }
            })
            .collect();
        match items.len() {
            0 => Vec::new(),
            1 => self.picked(PickPurpose::Forward, items[0].clone()),
            _ => {
                self.popup = Some(Popup::Pick { purpose: PickPurpose::Forward, items, selected: 0 });
                Vec::new()
            }
        }
    }

    fn picked(&mut self, purpose: PickPurpose, item: PickItem) -> Vec<Effect> {
        match purpose {
            PickPurpose::OpenAttachment => vec![Effect::OpenAttachment { message: item.message, index: item.index }],
            PickPurpose::SaveAttachment => {
                let fx =
                    self.ask(Purpose::SaveTo { message: item.message, index: item.index }, vec!["directory".into()]);
                if let Some(Popup::Fields(f)) = &mut self.popup {
                    f.input = self.download_dir.display().to_string();
                }
                fx
            }
            PickPurpose::Forward => self.ask(Purpose::ForwardTo { message: item.message }, vec!["to".into()]),
        }
    }

    /// `c`: a new email from the open thread's email channel, else the selected or first one.
    fn new_email(&mut self) -> Vec<Effect> {
        let from_thread = self
            .thread
            .as_ref()
            .filter(|t| t.conversation.kind == ChannelKind::Email)
            .map(|t| t.conversation.channel_id);
        let selected = match self.view {
            View::Channel(id) => {
                self.channels.iter().find(|c| c.id == id && c.kind == ChannelKind::Email).map(|c| c.id)
            }
            _ => None,
        };
        let first = self.channels.iter().find(|c| c.kind == ChannelKind::Email).map(|c| c.id);
        let Some(channel) = from_thread.or(selected).or(first) else {
            self.error(self.lang.tr("no_email_account"));
            return Vec::new();
        };
        self.popup = Some(Popup::Fields(FieldsPrompt {
            purpose: Purpose::NewEmail { channel },
            conversation: 0,
            fields: vec!["to".into(), "subject".into()],
            index: 0,
            input: String::new(),
            values: HashMap::new(),
            deadline: None,
        }));
        Vec::new()
    }

    fn open_mail_composer(&mut self, conversation: i64, draft: MailDraft, subject: Option<String>) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Some(old) = self.composer.take() {
            self.stash(old, &mut fx);
        }
        let kind = match &draft {
            MailDraft::Forward { message, .. } => DraftKind::Forward(*message),
            MailDraft::New { channel, .. } => DraftKind::Email(*channel),
        };
        let text = self.take_draft(conversation, kind);
        let mut c = new_composer(conversation, ChannelKind::Email, None, subject, &text);
        c.mail = Some(draft);
        self.composer = Some(c);
        self.focus = Focus::Composer;
        fx
    }

    /// What a reply to the open thread answers, and its subject in email.
    fn reply_target(&self) -> (Option<i64>, Option<String>) {
        let Some(t) = &self.thread else { return (None, None) };
        let subject = match t.conversation.kind {
            ChannelKind::Email => Some(crate::workflow::replies::reply_subject(
                t.messages.iter().rev().find_map(|m| m.subject.as_deref()).or(Some(t.conversation.title.as_str())),
            )),
            _ => None,
        };
        (t.last_inbound(), subject)
    }

    // ---- composing ------------------------------------------------------------

    fn open_composer(&mut self, template: Option<String>) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(conv_id) = self.target() else {
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
            fx.extend(self.insert_template(&id));
        }
        fx
    }

    /// Opens the composer for an internal note on the open (or selected) conversation.
    fn open_note(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(conv) = self.target() else {
            self.error(self.lang.tr("open_a_thread"));
            return fx;
        };
        if self.thread.as_ref().map(|t| t.conversation.id) != Some(conv) {
            fx.push(Effect::LoadThread(conv));
        }
        if let Some(old) = self.composer.take() {
            self.stash(old, &mut fx);
        }
        let kind = self.thread.as_ref().map(|t| t.conversation.kind).unwrap_or(ChannelKind::Telegram);
        let text = self.take_draft(conv, DraftKind::Note);
        let mut c = new_composer(conv, kind, None, None, &text);
        c.note = true;
        self.composer = Some(c);
        self.focus = Focus::Composer;
        fx
    }

    /// Keeps a closed composer's text as a draft and gives up its claim.
    fn stash(&mut self, c: Composer, fx: &mut Vec<Effect>) {
        let (key, draft) = c.draft();
        if draft.body.trim().is_empty() {
            self.drafts.remove(&key);
        } else {
            self.drafts.insert(key, draft.clone());
        }
        fx.push(Effect::SaveDraft(key, draft));
        if !c.note {
            fx.push(Effect::Release(c.conversation));
        }
    }

    /// The nearest deadline of a conversation's open promise, as the open
    /// thread or the list knows it.
    fn open_promise(&self, conversation: i64) -> Option<i64> {
        if let Some(t) = self.thread.as_ref().filter(|t| t.conversation.id == conversation) {
            return t.tasks.iter().filter(|x| x.withdrawn.is_none()).filter_map(|x| x.deadline).min();
        }
        self.list.rows.iter().find(|r| r.id == conversation).and_then(|r| r.next_deadline)
    }

    /// Who an email reply from the open composer goes to: (To, Cc), computed
    /// as the sender computes it.
    pub fn reply_recipients(&self) -> Option<(Vec<String>, Vec<String>)> {
        let c = self.composer.as_ref().filter(|c| c.kind == ChannelKind::Email && !c.note && c.mail.is_none())?;
        let t = self.thread.as_ref().filter(|t| t.conversation.id == c.conversation)?;
        let m = t.messages.iter().find(|m| Some(m.id) == c.reply_to)?;
        let all: Vec<String> = m.to.iter().chain(&m.cc).cloned().collect();
        Some(crate::channels::email::send::reply_all_split(m.from_handle.as_deref(), &all, &m.cc, &self.own_addresses))
    }

    /// Where the kept drafts are: conversation titles where known.
    pub fn draft_places(&self) -> String {
        let mut places: Vec<String> = Vec::new();
        for k in self.drafts.keys() {
            let title = if k.conversation == 0 {
                self.lang.tr("new_email_draft").to_string()
            } else {
                self.list
                    .rows
                    .iter()
                    .find(|r| r.id == k.conversation)
                    .map(|r| format!("«{}»", crate::sanitize::truncate(&crate::sanitize::line(&r.title), 30)))
                    .unwrap_or_else(|| format!("#{}", k.conversation))
            };
            if !places.contains(&title) {
                places.push(title);
            }
        }
        places.sort();
        places.join(", ")
    }

    /// The text kept for a composer, if any.
    fn take_draft(&mut self, conversation: i64, kind: DraftKind) -> String {
        self.drafts.remove(&DraftKey { conversation, kind }).map(|d| d.body).unwrap_or_default()
    }

    /// Drafts kept, with where they are: for the quit warning and the list mark.
    pub fn has_draft(&self, conversation: i64) -> bool {
        self.drafts.keys().any(|k| k.conversation == conversation)
            || self.composer.as_ref().is_some_and(|c| c.conversation == conversation && !c.textarea.is_empty())
    }

    /// Opens the composer on the loaded thread, restoring a kept draft.
    fn ensure_composer(&mut self) {
        let Some(t) = &self.thread else { return };
        if self.composer.as_ref().map(|c| c.conversation) != Some(t.conversation.id) {
            let id = t.conversation.id;
            let draft = self.take_draft(id, DraftKind::Reply);
            let (reply_to, subject) = self.reply_target();
            let Some(t) = &self.thread else { return };
            self.composer = Some(new_composer(t.conversation.id, t.conversation.kind, reply_to, subject, &draft));
            self.claim_pending = true;
        }
        self.focus = Focus::Composer;
    }

    /// Inserts a template into the composer, asking for its fields first.
    fn insert_template(&mut self, id: &str) -> Vec<Effect> {
        self.ensure_composer();
        let Some(template) = self.templates.get(id).cloned() else {
            self.error(format!("no template {id:?}"));
            return Vec::new();
        };
        if !template.fields.is_empty() {
            return self.ask(Purpose::Insert(id.to_string()), template.fields.clone());
        }
        let vars = self.template_vars();
        let Some(c) = &mut self.composer else { return Vec::new() };
        let text = template.render(c.kind, &vars);
        if !c.textarea.is_empty() {
            c.textarea.insert_newline();
        }
        c.textarea.insert_str(&text);
        Vec::new()
    }

    fn template_vars(&self) -> HashMap<&'static str, String> {
        let mut vars = HashMap::new();
        vars.insert("agent", self.actor.clone());
        vars.insert("today", self.clock.zoned(self.clock.now()).strftime("%d.%m.%Y").to_string());
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
        let Some(c) = &self.composer else { return Vec::new() };
        let body = c.textarea.lines().join("\n").trim_end().to_string();
        let forward = matches!(c.mail, Some(MailDraft::Forward { .. }));
        if body.trim().is_empty() && !forward {
            self.error(self.lang.tr("empty_reply"));
            return Vec::new();
        }
        let (key, _) = c.draft();
        let sent = Effect::SaveDraft(key, Draft::default());
        if c.note {
            let conversation = c.conversation;
            self.composer = None;
            self.focus = Focus::Thread;
            self.info(self.lang.tr("note_saved"));
            return vec![Effect::AddNote { conversation, body }, sent];
        }
        if let Some(draft) = c.mail.clone() {
            if c.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
                self.error(self.lang.tr("no_subject"));
                return Vec::new();
            }
            // A forward or a new mail answers nobody: no claim, no "read the new message first".
            let effect = Effect::QueueEmail {
                conversation: (c.conversation != 0).then_some(c.conversation),
                draft,
                subject: c.subject.clone().unwrap_or_default(),
                body,
                attachments: c.attachments.clone(),
            };
            self.composer = None;
            self.focus = if self.thread.is_some() { Focus::Thread } else { Focus::Conversations };
            return vec![effect, sent];
        }
        // The client wrote again while this was being typed: read it first.
        let newest =
            self.thread.as_ref().filter(|t| t.conversation.id == c.conversation).and_then(ThreadState::last_inbound);
        if newest != c.seen_inbound && !c.inbound_confirmed {
            self.error(self.lang.tr("new_inbound"));
            if let Some(c) = &mut self.composer {
                c.inbound_confirmed = true;
            }
            return Vec::new();
        }
        if c.kind == ChannelKind::Email && c.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
            self.error(self.lang.tr("no_subject"));
            return Vec::new();
        }

        // Re-read a strict message before it leaves: one more send means "send anyway".
        let mut warnings = tone::check(&body, &self.tone_words);
        let limit = c.kind.max_text_len();
        let chars = body.chars().count();
        if chars > limit {
            let parts = crate::channels::telegram::split_text(&body, limit).len();
            warnings.push(format!("{chars} > {limit}: {parts} {}", self.lang.tr("messages_count")));
        }
        if !warnings.is_empty() && self.tone_confirmed.as_deref() != Some(body.as_str()) {
            let send_key = self.keymap.key_for(Context::Composer, &Action::Send).unwrap_or_default();
            self.error(format!(
                "{}: {} — {send_key} {}",
                self.lang.tr("tone"),
                warnings.join(", "),
                self.lang.tr("send_anyway")
            ));
            self.tone_confirmed = Some(body);
            return Vec::new();
        }
        // A message that tells the client a deadline records the promise: the
        // template's deadline field is the sure signal; a typed «Срок — …» is
        // recorded after one confirmation (send again).
        let source = self.thread.as_ref().and_then(ThreadState::last_inbound);
        let stated = match &c.promise {
            Some((d, written)) if body.contains(written.as_str()) => Some(*d),
            _ => deadline::stated_in(&body, self.clock.now(), &self.calendar),
        };
        let from_template = c.promise.as_ref().is_some_and(|(d, w)| Some(*d) == stated && body.contains(w.as_str()));
        if let Some(d) = stated
            && !from_template
            && c.promise_asked != Some(d)
        {
            let send_key = self.keymap.key_for(Context::Composer, &Action::Send).unwrap_or_default();
            let msg = format!(
                "{} ⚑ {}? {send_key} {}",
                self.lang.tr("record_promise"),
                deadline::format_for_client(d, &self.calendar),
                self.lang.tr("again_to_record")
            );
            if let Some(c) = &mut self.composer {
                c.promise_asked = Some(d);
            }
            self.error(msg);
            return Vec::new();
        }
        let Some(c) = &self.composer else { return Vec::new() };
        let kind = match stated {
            Some(deadline) => ReplyKind::Accept { deadline, source },
            None => ReplyKind::Plain,
        };
        let effect = Effect::QueueReply {
            conversation: c.conversation,
            reply_to: c.reply_to,
            subject: c.subject.clone(),
            body,
            kind,
            attachments: c.attachments.clone(),
        };
        let conversation = c.conversation;
        self.drafts.remove(&key);
        self.composer = None;
        self.tone_confirmed = None;
        self.focus = Focus::Thread;
        if let Some(t) = &mut self.thread {
            t.scroll = 0;
        }
        vec![effect, sent, Effect::Release(conversation)]
    }

    // ---- results of effects -----------------------------------------------------

    pub fn thread_loaded(&mut self, thread: Option<ThreadState>) {
        let same = matches!((&self.thread, &thread), (Some(a), Some(b)) if a.conversation.id == b.conversation.id);
        let scroll = if same { self.thread.as_ref().map(|t| t.scroll).unwrap_or(0) } else { 0 };
        let kept = if same { self.thread.as_ref().map(|t| (t.terms.clone(), t.jump_to)) } else { None };
        // Opened from a search hit: highlight its words, show the hit first.
        let hit = self
            .search
            .as_ref()
            .and_then(|s| s.hits.get(s.cursor).map(|h| ((h.conversation, h.message, h.note), s.terms.clone())));
        self.thread = thread.map(|mut t| {
            t.scroll = scroll;
            if let Some((terms, jump)) = kept {
                t.terms = terms;
                t.jump_to = jump;
            } else if let Some(((_, message, note), terms)) = hit.filter(|((c, _, _), _)| *c == t.conversation.id) {
                t.terms = terms;
                t.jump_to = t.messages.iter().position(|m| match (message, note) {
                    (Some(id), _) => m.id == id && m.direction != Direction::Note,
                    (None, Some(id)) => m.id == id && m.direction == Direction::Note,
                    _ => false,
                });
            }
            t
        });
        if let Some(template) = self.pending_composer.take()
            && self.thread.is_some()
        {
            self.ensure_composer();
            if let Some(id) = template {
                // Fields of a template are asked in the prompt; nothing to load here.
                let _ = self.insert_template(&id);
            }
        }
        self.dirty = true;
    }

    /// A queued message was taken back: its text returns to the composer.
    pub fn undone(&mut self, conversation: i64, body: String) {
        self.drafts.insert(DraftKey { conversation, kind: DraftKind::Reply }, Draft { body, ..Default::default() });
        if self.thread.as_ref().map(|t| t.conversation.id) == Some(conversation) {
            self.composer = None;
            self.ensure_composer();
        }
        self.info(self.lang.tr("undone"));
    }
}

fn new_composer(
    conversation: i64,
    kind: ChannelKind,
    reply_to: Option<i64>,
    subject: Option<String>,
    draft: &str,
) -> Composer {
    let mut textarea = TextArea::new(draft.lines().map(str::to_string).collect());
    textarea.set_wrap_mode(WrapMode::WordOrGlyph);
    textarea.move_cursor(ratatui_textarea::CursorMove::Bottom);
    textarea.move_cursor(ratatui_textarea::CursorMove::End);
    Composer {
        textarea,
        conversation,
        kind,
        reply_to,
        subject,
        note: false,
        seen_inbound: reply_to,
        inbound_confirmed: false,
        attachments: Vec::new(),
        mail: None,
        promise: None,
        promise_asked: None,
    }
}

fn split_addresses(v: Option<&String>) -> Vec<String> {
    v.map(|s| s.split(", ").map(str::to_string).collect()).unwrap_or_default()
}

/// 1.2 MB, 340 KB, 12 B.
pub fn human_size(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / 1048576.0),
        b if b >= 1 << 10 => format!("{} KB", b >> 10),
        b => format!("{b} B"),
    }
}

/// `~/file.pdf` → the home directory's file.
fn expand_home(p: &str) -> std::path::PathBuf {
    match p.strip_prefix("~/") {
        Some(rest) => std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_default().join(rest),
        None => std::path::PathBuf::from(p),
    }
}

pub fn field_label(lang: Lang, name: &str) -> String {
    match name {
        "deadline" => lang.tr("field_deadline").to_string(),
        "what" => lang.tr("field_what").to_string(),
        "reason" => lang.tr("field_reason").to_string(),
        "file" => lang.tr("field_file").to_string(),
        "assignee" => lang.tr("field_assignee").to_string(),
        "note" => lang.tr("field_note").to_string(),
        "to" => lang.tr("field_to").to_string(),
        "subject" => lang.tr("field_subject").to_string(),
        "directory" => lang.tr("field_directory").to_string(),
        other => other.to_string(),
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
