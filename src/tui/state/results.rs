//! Results of effects. The app carries effects out (the store, the network,
//! files) and reports what came back as an [`Outcome`]; [`AppState::absorb`]
//! is the one place that turns it into state, and says what to do next.

use super::*;
use crate::model::{AuditEvent, ChannelRow, SearchHit, StatusCounts};
use crate::workflow::sla::State as SlaState;

/// Which rows of the list an [`Outcome::List`] carries.
#[derive(Debug)]
pub enum ListRead {
    /// The current window again, keeping the selected conversation.
    Reload {
        total: i64,
    },
    Top {
        total: i64,
    },
    Bottom,
    /// The window slid down: rows from `anchor` on.
    ShiftDown {
        anchor: ListKey,
    },
    /// The window slid up: these rows come before the ones shown.
    ShiftUp,
}

/// What an effect found or did, for the state to absorb.
#[derive(Debug)]
// Outcomes live for one step of the effect loop; boxing the big ones buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// Nothing on screen changes.
    Nothing,
    /// What `D` or `R` would find (see [`Effect::CheckPromise`]).
    Promise {
        redate: bool,
        state: crate::store::ledger::PromiseState,
    },
    /// This person's drafts, kept by an earlier run (or one that was killed).
    Drafts(Vec<(DraftKey, Draft)>),
    /// Written; these show it.
    Wrote(Vec<Effect>),
    /// Every conversation of the view, marked.
    MarkedAll(Vec<i64>),
    /// A batch close: what it closed and what it left open for a promise.
    ClosedMany(crate::store::intents::BatchClose),
    /// A batch opened again (how many).
    ReopenedBatch(usize),
    /// A sender's mail now always (or never) waits.
    SenderRule {
        handle: String,
        client: bool,
    },
    Sidebar {
        channels: Vec<ChannelRow>,
        counts: StatusCounts,
        view_counts: Vec<i64>,
        /// Response-time clocks by conversation (empty without policies).
        sla: HashMap<i64, crate::workflow::sla::Glance>,
    },
    List {
        read: ListRead,
        rows: Vec<ConversationRow>,
    },
    Thread(Option<ThreadState>),
    /// A reply (or a new mail) is in the outbox; it leaves at `until`.
    Queued {
        outbox: i64,
        conversation: i64,
        until: i64,
        mail: bool,
    },
    Snoozed {
        conversation: i64,
        until: Option<i64>,
    },
    FollowUp {
        at: Option<i64>,
    },
    TaskCancelled(i64),
    /// A queued message was taken back: its text returns to the composer.
    Undone {
        conversation: i64,
        body: String,
    },
    Search {
        query: String,
        hits: Vec<SearchHit>,
        terms: Terms,
    },
    /// The newest failed or maybe-sent message was queued again / discarded.
    Resolved {
        conversation: i64,
        done: bool,
        how: crate::store::intents::Resolution,
    },
    Assigned {
        conversation: i64,
        assignee: Option<String>,
    },
    DefaultAssignee(Option<String>),
    NoteAdded(i64),
    /// Others compose a reply in the same conversation.
    Claimed {
        others: Vec<String>,
    },
    History(Vec<AuditEvent>),
    /// A client's card, with the suggestions that name it.
    Card {
        card: crate::store::clients::ClientCard,
        suggestions: Vec<super::SuggestionRow>,
    },
    /// Every client and the pending suggestions (`:clients`).
    Clients {
        clients: Vec<crate::store::clients::ClientSummary>,
        suggestions: Vec<super::SuggestionRow>,
    },
    /// The suggestion about the opened thread's new sender, if any.
    ClientHint {
        conversation: i64,
        hint: Option<super::SuggestionRow>,
    },
    /// Clients merged (`merge` undoes it).
    Merged {
        merge: i64,
        into: i64,
        name: String,
    },
    /// A client's popup changed in the store: read it again.
    ClientChanged(String),
    /// The client `:client NAME` found.
    ClientFound(i64),
    Status(StatusMessage),
    Info(String),
    Error(String),
    /// A read is still out after a frame or two (true) / every read is back (false).
    Loading(bool),
}

impl AppState {
    /// Absorbs what an effect reported; returns the effects that follow.
    pub fn absorb(&mut self, outcome: Outcome) -> Vec<Effect> {
        self.dirty = true;
        let now = self.clock.now();
        let reload =
            |conversation: i64| vec![Effect::ReloadSidebar, Effect::ReloadList, Effect::LoadThread(conversation)];
        match outcome {
            Outcome::Nothing => Vec::new(),
            Outcome::Promise { redate, state } => {
                // The store's own refusals, said before a date or a reason is typed.
                if redate && state.open.is_none() {
                    self.error(self.lang.tr("no_promise"));
                    return Vec::new();
                }
                if !redate && state.reported.is_some() {
                    self.error(self.lang.tr("already_done"));
                    return Vec::new();
                }
                if redate {
                    let fields = self.templates.get("redate").map(|t| t.fields.clone()).unwrap_or_default();
                    self.ask(Purpose::Redate, fields)
                } else {
                    self.ask(Purpose::Done, vec!["what".into()])
                }
            }
            Outcome::Drafts(drafts) => {
                self.drafts.extend(drafts);
                Vec::new()
            }
            Outcome::Wrote(fx) => fx,
            Outcome::MarkedAll(ids) => {
                self.marked = ids.into_iter().collect();
                self.say_marked();
                Vec::new()
            }
            Outcome::ClosedMany(done) => {
                self.marked.clear();
                self.marking = false;
                let undo = self.keymap.key_for(super::super::keymap::Context::Conversations, &Action::UndoSend);
                let mut text = format!("{} {}", self.lang.tr("closed_many"), done.closed.len());
                if !done.kept_for_promises.is_empty() {
                    text.push_str(&format!(
                        " · {} ({})",
                        crate::i18n::plural_of(self.lang, done.kept_for_promises.len() as i64, "kept_open"),
                        self.lang.tr("open_promise_mark")
                    ));
                }
                if !done.closed.is_empty() {
                    self.last_batch = Some(done.batch);
                    if let Some(u) = undo {
                        text.push_str(&format!(" · {u} — {}", self.lang.tr("undo_batch")));
                    }
                }
                self.info(text);
                vec![Effect::ReloadSidebar, Effect::ReloadList]
            }
            Outcome::SenderRule { handle, client } => {
                let key = if client { "sender_client" } else { "sender_never" };
                self.info(format!("{} {}", crate::sanitize::line(&handle), self.lang.tr(key)));
                vec![Effect::ReloadSidebar, Effect::ReloadList]
            }
            Outcome::ReopenedBatch(n) => {
                self.info(format!("{} {n}", self.lang.tr("reopened_many")));
                vec![Effect::ReloadSidebar, Effect::ReloadList]
            }
            Outcome::Sidebar { channels, mut counts, view_counts, sla } => {
                self.channels = channels;
                // Entering at risk (or breached) rings once per conversation.
                let hot: std::collections::HashSet<i64> = sla
                    .iter()
                    .filter(|(_, g)| matches!(g.state, SlaState::AtRisk | SlaState::Breached))
                    .map(|(id, _)| *id)
                    .collect();
                let fresh: Vec<i64> = match &self.sla_seen {
                    Some(seen) => hot.iter().filter(|id| !seen.contains(id)).copied().collect(),
                    None => Vec::new(),
                };
                let sla_bell = !fresh.is_empty();
                // What the notification says: the first client entering at risk, and how many more.
                let notify = fresh.iter().filter_map(|id| sla.get(id)).min_by_key(|g| g.due).map(|g| {
                    let who = g.who.clone().unwrap_or_default();
                    let more = if fresh.len() > 1 { format!(" (+{})", fresh.len() - 1) } else { String::new() };
                    format!("{who} — {}{more}", sla::header(self.lang, g))
                });
                self.sla_seen = Some(hot);
                self.sla = sla;
                counts.oldest_unanswered_minutes =
                    counts.oldest_waiting_since.map(|t| self.calendar.working_seconds(t, now) / 60).unwrap_or(0);
                self.view_counts = view_counts;
                // Crossing into overdue rings the bell once.
                let bell = self.overdue_seen.is_some_and(|seen| counts.overdue > seen) && self.bell_enabled;
                self.overdue_seen = Some(counts.overdue);
                self.counts = counts;
                if self.sidebar_cursor >= self.sidebar_len() {
                    self.sidebar_cursor = 0;
                }
                let mut fx = Vec::new();
                if (bell || sla_bell) && self.bell_enabled {
                    fx.push(Effect::Bell);
                    fx.extend(notify.map(Effect::Notify));
                }
                fx
            }
            Outcome::List { read, rows } => self.list_read(read, rows),
            Outcome::Thread(thread) => self.thread_loaded(thread),
            Outcome::Queued { outbox, conversation, until, mail } => {
                if until > now {
                    let last = LastSent { outbox, conversation, until, mail };
                    self.last_sent = Some(last);
                    self.info(self.sending_text(&last, now));
                } else {
                    self.info(self.lang.tr("queued"));
                }
                if mail {
                    self.focus = Focus::Thread;
                }
                vec![Effect::LoadThread(conversation), Effect::ReloadList, Effect::ReloadSidebar]
            }
            Outcome::Snoozed { conversation, until } => {
                if let Some(t) = until {
                    self.info(format!("{} {}", self.lang.tr("snoozed_until"), self.clock.full(t)));
                }
                reload(conversation)
            }
            Outcome::FollowUp { at } => {
                if let Some(t) = at {
                    self.info(format!("{} {}", self.lang.tr("follow_up_at"), self.clock.full(t)));
                }
                vec![Effect::ReloadSidebar, Effect::ReloadList]
            }
            Outcome::TaskCancelled(conversation) => {
                self.info(self.lang.tr("task_cancelled"));
                reload(conversation)
            }
            Outcome::Undone { conversation, body } => {
                self.drafts
                    .insert(DraftKey { conversation, kind: DraftKind::Reply }, Draft { body, ..Default::default() });
                if self.thread.as_ref().map(|t| t.conversation.id) == Some(conversation) {
                    // The composer opens on the reloaded thread, with the text back.
                    self.composer = None;
                    self.pending_composer = Some(None);
                }
                self.info(self.lang.tr("undone"));
                vec![Effect::LoadThread(conversation), Effect::ReloadList, Effect::ReloadSidebar]
            }
            Outcome::Search { query, hits, terms } => {
                self.search = Some(SearchResults { query, hits, cursor: 0, terms });
                self.focus = Focus::Conversations;
                self.preview_selected()
            }
            Outcome::Resolved { conversation, done, how } => {
                use crate::store::intents::Resolution;
                self.info(self.lang.tr(match (done, how) {
                    (false, Resolution::ConfirmSent) => "nothing_maybe_sent",
                    (false, _) => "nothing_to_resend",
                    (true, Resolution::Retry) => "queued_again",
                    (true, Resolution::Discard) => "discarded",
                    (true, Resolution::ConfirmSent) => "confirmed_sent",
                }));
                reload(conversation)
            }
            Outcome::Assigned { conversation, assignee } => {
                match assignee {
                    Some(a) => self.info(format!("{} {a}", self.lang.tr("assigned"))),
                    None => self.info(self.lang.tr("unassigned")),
                }
                reload(conversation)
            }
            Outcome::DefaultAssignee(assignee) => {
                self.info(format!("{} {}", self.lang.tr("default_assignee"), assignee.as_deref().unwrap_or("—")));
                Vec::new()
            }
            Outcome::NoteAdded(conversation) => vec![Effect::LoadThread(conversation), Effect::ReloadSidebar],
            Outcome::Claimed { others } => {
                if !others.is_empty() {
                    self.error(format!("{} {}", others.join(", "), self.lang.tr("is_replying")));
                }
                Vec::new()
            }
            Outcome::History(events) => {
                let lines = events
                    .iter()
                    .map(|e| {
                        let when = jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%:z", &e.time)
                            .map(|t| self.clock.full(t.as_second()))
                            .unwrap_or_else(|_| e.time.clone());
                        format!("{when}  {}  {}", e.actor, crate::history::describe(self.lang, e, &self.clock))
                    })
                    .collect();
                self.popup = Some(Popup::Text { title: self.lang.tr("history").into(), lines, scroll: 0 });
                Vec::new()
            }
            Outcome::ClientFound(client) => self.show_client(client),
            Outcome::Card { card, suggestions } => {
                self.card_arrived(card, suggestions);
                Vec::new()
            }
            Outcome::Clients { clients, suggestions } => {
                self.clients_arrived(clients, suggestions);
                Vec::new()
            }
            Outcome::ClientHint { conversation, hint } => {
                if let Some(t) = self.thread.as_mut().filter(|t| t.conversation.id == conversation) {
                    t.client_hint = hint;
                }
                Vec::new()
            }
            Outcome::Merged { merge, into, name } => {
                self.forget_client_hint();
                self.last_merge = Some(merge);
                // Short enough to stay whole beside the counts at 80 columns.
                let name = crate::sanitize::truncate(&name, 24).into_owned();
                self.info(format!("{} «{name}» · u {}", self.lang.tr("merged_into"), self.lang.tr("to_undo")));
                // From the list, the merged client's card shows what came together.
                match self.popup {
                    Some(Popup::Clients(_)) => vec![Effect::ShowClient(into), Effect::ReloadList],
                    _ => self.refresh_client_popup(),
                }
            }
            Outcome::ClientChanged(text) => {
                self.forget_client_hint();
                if !text.is_empty() {
                    self.info(text);
                }
                self.refresh_client_popup()
            }
            Outcome::Status(message) => {
                self.status = Some(message);
                Vec::new()
            }
            Outcome::Info(text) => {
                self.info(text);
                Vec::new()
            }
            Outcome::Error(text) => {
                self.error(text);
                Vec::new()
            }
            Outcome::Loading(on) => {
                self.loading = on;
                Vec::new()
            }
        }
    }

    /// A client changed (merged, edited, split): what the thread said about its
    /// new sender may no longer hold.
    fn forget_client_hint(&mut self) {
        if let Some(t) = &mut self.thread {
            t.client_hint = None;
        }
    }

    /// Rows read for the list window, placed and the cursor kept where it belongs.
    fn list_read(&mut self, read: ListRead, rows: Vec<ConversationRow>) -> Vec<Effect> {
        let list = &mut self.list;
        match read {
            ListRead::Reload { total } => {
                let keep = list.selected().map(|c| c.id);
                list.at_end = rows.len() < WINDOW;
                list.rows = rows;
                if let Some(id) = keep
                    && let Some(i) = list.rows.iter().position(|c| c.id == id)
                {
                    list.cursor = i;
                }
                list.cursor = list.cursor.min(list.rows.len().saturating_sub(1));
                list.total = total;
            }
            ListRead::Top { total } => {
                list.first = None;
                list.cursor = 0;
                list.at_end = rows.len() < WINDOW;
                list.rows = rows;
                list.total = total;
            }
            ListRead::Bottom => {
                list.first = if rows.len() < WINDOW { None } else { rows.first().map(|c| c.key(self.view)) };
                list.at_end = true;
                list.cursor = rows.len().saturating_sub(1);
                list.rows = rows;
            }
            ListRead::ShiftDown { anchor } => {
                // The last half of the window stays; the row after the old last one is selected.
                let keep_from = list.rows.len().saturating_sub(WINDOW / 2);
                let selected = list.rows.len().saturating_sub(1);
                list.at_end = rows.len() < WINDOW;
                list.first = Some(anchor);
                list.cursor = (selected - keep_from + 1).min(rows.len().saturating_sub(1));
                list.rows = rows;
            }
            ListRead::ShiftUp => {
                let n = rows.len();
                let mut all = rows;
                all.extend(std::mem::take(&mut list.rows));
                if all.len() > WINDOW {
                    all.truncate(WINDOW);
                    list.at_end = false;
                }
                list.first = if n < WINDOW / 2 { None } else { all.first().map(|c| c.key(self.view)) };
                list.cursor = n.saturating_sub(1);
                list.rows = all;
            }
        }
        self.preview_selected()
    }

    fn thread_loaded(&mut self, thread: Option<ThreadState>) -> Vec<Effect> {
        let same = matches!((&self.thread, &thread), (Some(a), Some(b)) if a.conversation.id == b.conversation.id);
        let scroll = if same { self.thread.as_ref().map(|t| t.scroll).unwrap_or(0) } else { 0 };
        let kept = if same { self.thread.as_ref().map(|t| (t.terms.clone(), t.jump_to)) } else { None };
        // The new-sender hint is asked for when a thread opens; reloads keep it.
        let hint = if same { self.thread.as_mut().and_then(|t| t.client_hint.take()) } else { None };
        // So do the laid-out bodies that did not change: a 30 MB mail is not
        // sanitised and counted again because a read mark reloaded its thread.
        let earlier = if same { self.thread.take() } else { None };
        // Opened from a search hit: highlight its words, show the hit first.
        let hit = self
            .search
            .as_ref()
            .and_then(|s| s.hits.get(s.cursor).map(|h| ((h.conversation, h.message, h.note), s.terms.clone())));
        let lang = self.lang;
        self.thread = thread.map(|mut t| {
            t.scroll = scroll;
            t.client_hint = hint;
            // What an older pult wrote for a voice message or a sticker, in the UI's language.
            for m in t.messages.iter_mut().filter(|m| m.direction == crate::model::Direction::In) {
                if let Some(said) = crate::channels::placeholder::stored_in(lang, &m.body) {
                    m.body = said;
                }
            }
            if let Some(old) = earlier {
                let was: Vec<(i64, &str)> = old.messages.iter().map(|m| (m.id, m.body.as_str())).collect();
                let now: Vec<(i64, &str)> = t.messages.iter().map(|m| (m.id, m.body.as_str())).collect();
                t.bodies.keep_from(old.bodies, &was, &now);
            }
            // A reload keeps where `n` and the scroll were; a search whose words
            // the thread does not mark yet (its hit opened in the thread already
            // shown) marks them and shows the hit.
            let hit = hit.filter(|((c, _, _), terms)| {
                *c == t.conversation.id && kept.as_ref().is_none_or(|(was, _)| was != terms)
            });
            if let Some(((_, message, note), terms)) = hit {
                t.terms = terms;
                t.jump_to = t.messages.iter().position(|m| match (message, note) {
                    (Some(id), _) => m.id == id && m.direction != Direction::Note,
                    (None, Some(id)) => m.id == id && m.direction == Direction::Note,
                    _ => false,
                });
            } else if let Some((terms, jump)) = kept {
                t.terms = terms;
                t.jump_to = jump;
            }
            t
        });
        let mut fx = Vec::new();
        if let Some(template) = self.pending_composer.take()
            && self.thread.is_some()
        {
            fx.extend(self.ensure_composer());
            if let Some(id) = template {
                // Fields of a template are asked in the prompt; nothing to load here.
                fx.extend(self.insert_template(&id));
            }
        }
        fx
    }

    /// The terminal was resized.
    pub fn resized(&mut self, width: u16, height: u16) -> Vec<Effect> {
        let was_wide = self.wide();
        self.width = width;
        self.height = height;
        self.dirty = true;
        if self.wide() && !was_wide { self.preview_selected() } else { Vec::new() }
    }

    /// The screen shows the state as it is.
    pub fn drawn(&mut self) {
        self.dirty = false;
    }

    /// "Sending in 7 s · U to undo": counts down while the undo window is open.
    fn sending_text(&self, last: &LastSent, now: i64) -> String {
        let undo = self.keymap.key_for(super::super::keymap::Context::Thread, &Action::UndoSend);
        let hint = match undo.filter(|_| !last.mail) {
            Some(key) => format!(" · {key} {}", self.lang.tr("undo_hint")),
            None => String::new(),
        };
        let left = crate::i18n::seconds(self.lang, (last.until - now).max(0));
        format!("{} {left}{hint}", self.lang.tr("sending_in"))
    }

    /// Keeps the "Sending in … s" line counting down, and clears it once the
    /// window has passed (then there is nothing left to undo).
    pub fn expire_status(&mut self) {
        let Some(last) = self.last_sent else { return };
        let sending = self.lang.tr("sending_in");
        if !self.status.as_ref().is_some_and(|s| s.text.starts_with(sending)) {
            return;
        }
        let now = self.clock.now();
        if now >= last.until {
            self.status = None;
        } else {
            let text = self.sending_text(&last, now);
            if self.status.as_ref().is_some_and(|s| s.text != text) {
                self.info(text);
            }
        }
        self.dirty = true;
    }

    /// Typed text goes into the composer (when it has the keyboard) or is a key.
    pub fn type_char(&mut self, c: char) -> Vec<Effect> {
        let code = if c == '\n' { KeyCode::Enter } else { KeyCode::Char(c) };
        if self.focus == Focus::Composer && self.popup.is_none() {
            if let Some(comp) = &mut self.composer {
                comp.textarea.input(crossterm::event::KeyEvent::from(code));
            }
            self.dirty = true;
            return Vec::new();
        }
        self.handle_key(Key { code, mods: KeyModifiers::NONE })
    }

    /// Whether this process runs the workers (None: not known yet).
    pub fn set_solo(&mut self, solo: bool) {
        self.solo = Some(solo);
        self.dirty = true;
    }
}
