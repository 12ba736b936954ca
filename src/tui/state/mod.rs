//! UI state and `update`: keys become actions, actions change state and ask for effects.
//! Nothing here touches the store or the terminal.

mod client;
mod command;
mod composer;
mod keys;
mod mail;
mod prompts;
mod results;
pub mod sla;

pub use client::{CardEdit, CardField, CardPopup, CardRow, ClientsPopup, ClientsRow, SuggestionRow};
pub use results::{ListRead, Outcome};
mod views;

use super::action::Action;
use super::keymap::{Context, Keymap, Resolved};
use super::keys::Key;
use crate::channels::registry::limits;
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
    /// Why the response-time clocks pause (`index` into `PauseReason::ALL`).
    Pause,
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
    /// A deadline on a day off, already pointed out: Enter moves it to the
    /// next working day, Ctrl+X keeps it.
    pub day_off_asked: Option<i64>,
}

impl FieldsPrompt {
    pub fn new(purpose: Purpose, conversation: i64, fields: Vec<String>) -> FieldsPrompt {
        FieldsPrompt {
            purpose,
            conversation,
            fields,
            index: 0,
            input: String::new(),
            values: HashMap::new(),
            deadline: None,
            day_off_asked: None,
        }
    }

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
    /// A client's card: fields edited in place, conversations to open, suggestions to accept.
    Card(CardPopup),
    /// Every client, the neediest first, with the pending merge suggestions.
    Clients(ClientsPopup),
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
    /// Whether the opened thread's new sender may be a known client (its header says so).
    ClientHint(i64),
    MarkRead(i64),
    /// Count the client's last closing message («спасибо») as waiting after all.
    CountWaiting(i64),
    /// Hand the draft to $VISUAL / $EDITOR (the terminal is the editor's meanwhile).
    OpenEditor(String),
    QueueReply {
        conversation: i64,
        reply_to: Option<i64>,
        subject: Option<String>,
        body: String,
        kind: ReplyKind,
        attachments: Vec<std::path::PathBuf>,
        /// A provider-approved template to send instead (see `Composer::template`).
        template: Option<String>,
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
        how: crate::store::intents::Resolution,
    },
    Undo {
        outbox: i64,
        conversation: i64,
    },
    /// Every conversation of a view, to mark.
    MarkAll(View),
    /// Remember that the conversation's sender always (or never) waits for an answer.
    SenderRule {
        conversation: i64,
        client: bool,
    },
    /// Pause a conversation's response-time clocks (until the client writes).
    SlaPause {
        conversation: i64,
        reason: crate::workflow::sla::PauseReason,
    },
    /// End the pause before the client writes.
    SlaResume(i64),
    /// A desktop notification through the terminal (OSC 9 / 777), with the bell.
    Notify(String),
    /// Close these conversations as one batch (open promises stay open).
    CloseMany(Vec<i64>),
    /// Open again what a batch closed.
    ReopenBatch(i64),
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
    /// Looks at a conversation's promise before `D` or `R` asks anything
    /// (`redate`: for `R`), so a refusal comes before the typing.
    CheckPromise {
        conversation: i64,
        redate: bool,
    },
    /// The client card of a conversation's client.
    ClientCard(i64),
    /// A client's card by the client's id.
    ShowClient(i64),
    /// List a client's conversations, found by (part of) its name.
    FindClient(String),
    /// Edit a field of a client (from its card).
    EditClient {
        client: i64,
        field: crate::store::clients::Field,
        value: String,
    },
    /// A new responsible person for the client and its open conversations.
    HandOverClient {
        client: i64,
        to: Option<String>,
        note: Option<String>,
    },
    MergeClients {
        into: i64,
        from: Vec<i64>,
    },
    UnmergeClients(i64),
    /// "Not the same client", for good.
    DismissSuggestion(Vec<i64>),
    /// An identity becomes a client of its own.
    SplitIdentity {
        kind: String,
        handle: String,
    },
    /// Every client with what waits and what is overdue (`:clients`).
    ClientsList,
    /// Edit the conversation's client (`:client-note`, `:client-org` …).
    SetClientField {
        conversation: i64,
        field: crate::store::clients::Field,
        value: String,
    },
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
    /// The terminal bell (a promise just became overdue).
    Bell,
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
    /// The business connection the chat is seen through (Telegram Business).
    pub connection: Option<crate::model::Connection>,
    /// A new sender who may be a known client: the suggestion, shown in the header.
    pub client_hint: Option<SuggestionRow>,
    /// The bodies as the renderer laid them out so far (written by the renderer).
    pub bodies: crate::tui::body::Bodies,
}

impl AppState {
    /// The draft as the editor left it: replaces the composer's text.
    pub fn editor_returned(&mut self, text: Result<String, String>) {
        match text {
            Ok(text) => {
                if let Some(c) = &mut self.composer {
                    let mut area = TextArea::new(text.trim_end_matches('\n').lines().map(str::to_string).collect());
                    area.set_wrap_mode(WrapMode::WordOrGlyph);
                    area.move_cursor(ratatui_textarea::CursorMove::Bottom);
                    area.move_cursor(ratatui_textarea::CursorMove::End);
                    c.textarea = area;
                    self.focus = Focus::Composer;
                }
            }
            Err(e) => self.error(e),
        }
        self.dirty = true;
    }
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
            connection: None,
            client_hint: None,
            bodies: Default::default(),
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
                    crate::search::words::has_match(w, &m.body, &self.terms)
                        || m.subject.as_deref().is_some_and(|s| crate::search::words::has_match(w, s, &self.terms))
                })
                .map(|(i, _)| i)
                .collect()
        })
    }

    /// The client's newest message: what a reply answers.
    pub fn last_inbound(&self) -> Option<i64> {
        self.messages.iter().rev().find(|m| m.answerable()).map(|m| m.id)
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
        !limits(self.conversation.kind).subject && !self.messages.iter().any(|m| m.direction == Direction::Out)
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
    /// A provider-approved template is what goes (WhatsApp after its 24
    /// hours): its payload; the text shown is the template's preview.
    pub template: Option<String>,
    /// That template's text as rendered: what the thread records, and the
    /// only text that may be in the composer when it goes.
    pub template_text: Option<String>,
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
    /// A new mail or forward (its status line names no undo key).
    pub mail: bool,
}

pub struct AppState {
    pub lang: Lang,
    pub actor: String,
    pub hours_text: String,
    /// Our email addresses (every account, aliases too): never a reply-all recipient.
    pub own_addresses: Vec<String>,
    /// Each email account's signature, by account name: the sender appends it,
    /// so a template's own sign-off is left out.
    pub signatures: HashMap<String, String>,
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
    /// Conversations marked for one action on all of them.
    pub marked: std::collections::BTreeSet<i64>,
    /// Every row the cursor passes is marked (`V`).
    pub marking: bool,
    /// `x` on the marks was pressed once for this many: again closes them.
    pub batch_asked: Option<usize>,
    /// The last batch closed here, which `U` opens again.
    pub last_batch: Option<i64>,
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
    /// `a` sends the acceptance at once instead of showing it in the composer first.
    pub one_key_accept: bool,
    pub last_sent: Option<LastSent>,
    /// The last client merge made here, while `u` in the card can undo it.
    pub last_merge: Option<i64>,
    /// Words that make the tone check ask before sending.
    pub tone_words: Vec<String>,
    /// Text the person chose to send despite the tone warning.
    pub tone_confirmed: Option<String>,
    /// Ring the bell when a promise becomes overdue.
    pub bell_enabled: bool,
    pub overdue_seen: Option<i64>,
    /// Some(true) while this pult runs the workers, Some(false) while a daemon does.
    pub solo: Option<bool>,
    /// The team from the config, offered when assigning.
    pub team: Vec<String>,
    /// An unknown assignee already warned about: Enter again assigns.
    pub assign_warned: Option<String>,
    /// Attachments above this size ask for confirmation.
    pub max_attachment_bytes: u64,
    /// A large file the person confirmed by entering it again.
    pub attach_confirmed: Option<std::path::PathBuf>,
    /// Where attachments are saved unless the person types another directory.
    pub download_dir: std::path::PathBuf,
    /// Response-time clocks of the open conversations where one runs, as
    /// last computed (`workflow::sla`); empty without policies.
    pub sla: HashMap<i64, crate::workflow::sla::Glance>,
    /// Conversations already at risk or breached, so that entering at risk rings once.
    pub sla_seen: Option<std::collections::HashSet<i64>>,
    /// Channel warnings (channel, reason) the person has seen whole: the
    /// status line then shows them as `⚠N`, the reasons one key (`!`) away.
    pub warnings_seen: std::collections::HashSet<(i64, String)>,
    /// A read of the store has taken longer than a frame or two: the status
    /// line says so while the previous content stays on screen.
    pub loading: bool,
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
            signatures: HashMap::new(),
            close_asked: None,
            marked: Default::default(),
            marking: false,
            batch_asked: None,
            last_batch: None,
            popup: None,
            status: None,
            counts: StatusCounts::default(),
            chord: Vec::new(),
            width: 120,
            height: 40,
            quit: false,
            pending_composer: None,
            undo_seconds: 10,
            one_key_accept: false,
            last_sent: None,
            last_merge: None,
            tone_words: Vec::new(),
            tone_confirmed: None,
            bell_enabled: true,
            overdue_seen: None,
            solo: None,
            team: Vec::new(),
            assign_warned: None,
            max_attachment_bytes: 20 << 20,
            attach_confirmed: None,
            download_dir: crate::config::Ui::default().download_dir(),
            sla: HashMap::new(),
            sla_seen: None,
            warnings_seen: Default::default(),
            loading: false,
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

    /// Channels in trouble now, with their reasons (archived ones have no worker).
    pub fn channel_warnings(&self) -> Vec<(i64, &str, String)> {
        self.channels
            .iter()
            .filter(|c| !c.archived)
            .filter_map(|c| {
                let status = c.status.as_ref().filter(|s| s.is_trouble())?;
                let why = match status {
                    crate::model::ChannelStatus::Error(why) | crate::model::ChannelStatus::AuthFailed(why) => {
                        why.clone()
                    }
                    _ => String::new(),
                };
                Some((c.id, c.name.as_str(), why))
            })
            .collect()
    }

    /// A key was pressed while these warnings were on the screen: they have been seen.
    fn note_warnings_seen(&mut self) {
        let now: Vec<(i64, String)> = self.channel_warnings().into_iter().map(|(id, _, why)| (id, why)).collect();
        self.warnings_seen.extend(now);
    }

    /// `!`: every channel in trouble with its reason, on the status line.
    fn show_channel_problems(&mut self) {
        let warnings = self.channel_warnings();
        if warnings.is_empty() {
            self.info(self.lang.tr("channels_all_work"));
            return;
        }
        let text: Vec<String> = warnings
            .iter()
            .map(|(_, name, why)| {
                let why = crate::trouble::shown(self.lang, why);
                format!("⚠ {}: {}", crate::sanitize::line(name), crate::sanitize::line(&why))
            })
            .collect();
        self.error(text.join(" · "));
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
}

pub(super) fn new_composer(
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
        template: None,
        template_text: None,
    }
}

pub(super) fn split_addresses(v: Option<&String>) -> Vec<String> {
    let Some(v) = v else { return Vec::new() };
    match crate::store::intents::recipients(std::slice::from_ref(v)) {
        Ok(list) => list.iter().map(ToString::to_string).collect(),
        Err(_) => v.split(", ").map(str::to_string).collect(),
    }
}

/// 1.2 MB, 340 KB, 12 B («1,2 МБ», «340 КБ», «12 Б»); nothing when the channel did not say.
pub fn human_size(lang: Lang, bytes: Option<i64>) -> String {
    bytes.map(|b| crate::i18n::size(lang, b)).unwrap_or_default()
}

/// `~/file.pdf` → the home directory's file.
pub(super) fn expand_home(p: &str) -> std::path::PathBuf {
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
pub(super) fn edit_line(buf: &mut String, key: Key) {
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
