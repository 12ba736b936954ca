//! The application: state plus the store, effects carried out, and the terminal loop.
//!
//! `App` is headless: tests drive it with key strings and draw it on a TestBackend.
//! `run` wraps it in a real terminal with one event channel fed by the input
//! thread, the store watcher, the reader worker (`reads`) and a slow clock tick.
//! Writes go to the writer thread and are waited for; reads never are: their
//! results come back as events, the newest of each kind winning.

use super::keys::Key;
use super::reads::{Asked, ReadCounts, ReadDone, ReadHold, ReadKind, Reads, SlaSetup};
use super::state::{AppState, Effect, MailDraft, Outcome, ReplyKind, StatusMessage, WINDOW};
use super::theme::Theme;
use crate::model::{Change, ChangeKind, Window};
use crate::store::{self, Reader, Writer, intents, ledger, team};
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::collections::VecDeque;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

pub struct App {
    pub state: AppState,
    pub theme: Theme,
    reader: Reader,
    writer: Writer,
    pub store: store::Location,
    /// Voice players by channel id (`Channel::player`).
    pub players: std::collections::HashMap<i64, Vec<String>>,
    /// Accounts (to fetch attachments, to know our address) and the open command.
    pub config: crate::config::Config,
    /// Where slow work (fetching an attachment) reports back; None runs it in place (tests).
    pub notices: Option<mpsc::Sender<Event>>,
    /// The composer text the store has, and since when it may differ.
    saved_draft: Option<(store::drafts::DraftKey, store::drafts::Draft)>,
    draft_changed: Option<std::time::Instant>,
    /// An effect asked for the terminal bell.
    bell: bool,
    /// Where background jobs run (see `jobs`).
    jobs: Option<tokio::runtime::Runtime>,
    /// The draft to hand to $EDITOR once the event loop can give it the terminal.
    pub editor_request: Option<String>,
    /// The reader worker: every read of the store goes there.
    reads: Reads,
    /// The loop's one channel (the worker answers on it) and, until `run`
    /// takes it, its receiving end (where `settle` waits for answers).
    events: mpsc::Sender<Event>,
    inbox: Option<mpsc::Receiver<Event>>,
    /// The config's response-time policies as last sent to the worker.
    sla_setup: Option<Arc<SlaSetup>>,
    /// Reads that change what the next key acts on (a new view's rows, a
    /// search's hits, a popup's content, the thread a reply waits for),
    /// by kind and generation: keys typed meanwhile wait in `typed_ahead`.
    keys_wait_for: Vec<(ReadKind, u64)>,
    typed_ahead: VecDeque<Key>,
    /// A desktop notification an effect asked for (with the bell).
    notification: Option<String>,
    /// While a key repeats (a held `j`), the thread each press would open is
    /// only remembered here, the newest replacing the older, and read once the
    /// keys settle (`press_repeating`, `settle`): the last thread, not each one.
    deferred_thread: Option<Effect>,
    defer_threads: bool,
}

#[derive(Debug)]
pub enum Event {
    Key(crossterm::event::KeyEvent),
    Resize(u16, u16),
    Changes(Vec<Change>),
    Tick,
    /// A background job's outcome for the status line.
    Notice(super::state::StatusMessage),
    /// The reader worker answered.
    Read(Box<ReadDone>),
    /// The mouse wheel (`[ui] mouse = true`): down 1, up -1.
    Scroll(i8),
}

/// How long after a keystroke the composer's text is saved (under a second).
const DRAFT_DELAY: std::time::Duration = std::time::Duration::from_millis(600);

/// How long a read may take before the status line says «загрузка…»: two
/// frames, so that a quick read never flickers a marker.
const LOADING_DELAY: Duration = Duration::from_millis(32);

impl App {
    /// The app on a SQLite store (tests, the demo).
    pub fn new(state: AppState, theme: Theme, store_path: &Path, writer: Writer) -> store::Result<App> {
        Self::open(state, theme, &store::Location::Sqlite(store_path.to_path_buf()), writer)
    }

    pub fn open(state: AppState, theme: Theme, store: &store::Location, writer: Writer) -> store::Result<App> {
        let reader = store.open_reader(&state.actor)?;
        let mut state = state;
        // Who `A` can complete: the config's team and everyone the store has seen at work.
        for person in reader.people()? {
            if !state.team.contains(&person) {
                state.team.push(person);
            }
        }
        let (events, inbox) = mpsc::channel();
        let reads = Reads::spawn(store, &state.actor, writer.clone(), events.clone())?;
        let mut app = App {
            state,
            theme,
            reader,
            writer,
            reads,
            events,
            inbox: Some(inbox),
            sla_setup: None,
            keys_wait_for: Vec::new(),
            typed_ahead: VecDeque::new(),
            store: store.clone(),
            players: Default::default(),
            config: Default::default(),
            notices: None,
            saved_draft: None,
            draft_changed: None,
            bell: false,
            deferred_thread: None,
            defer_threads: false,
            jobs: None,
            editor_request: None,
            notification: None,
        };
        // This person's drafts, kept by an earlier run (or one that was killed).
        let drafts = app.reader.drafts()?;
        let fx = app.state.absorb(Outcome::Drafts(drafts));
        app.run_effects(fx);
        app.run_effects(vec![Effect::ReloadSidebar, Effect::ListTop]);
        // The first screen is whole before the loop starts: keys typed ahead
        // (a script, a quick hand) land on the list, not on an empty pane.
        app.settle();
        Ok(app)
    }

    /// When the open composer's text must be saved: a moment after the last
    /// change (so a burst of typing is one write), never later than a second.
    pub fn draft_due(&self) -> Option<std::time::Instant> {
        self.draft_changed.map(|t| t + DRAFT_DELAY)
    }

    /// While "Sending in … s" shows: the next second, so that it counts down
    /// and goes when the undo window ends.
    pub fn status_due(&self) -> Option<std::time::Instant> {
        self.state.last_sent.as_ref()?;
        let sending = self.state.lang.tr("sending_in");
        self.state.status.as_ref().filter(|s| s.text.starts_with(sending))?;
        Some(std::time::Instant::now() + std::time::Duration::from_secs(1))
    }

    /// Clears the "Sending in … s" line once its window has passed.
    pub fn expire_status(&mut self) {
        self.state.expire_status();
    }

    /// Notes that the open composer may differ from what the store has.
    fn note_draft(&mut self) {
        let current = self.state.composer.as_ref().map(|c| c.draft());
        if current.is_some() && current != self.saved_draft && self.draft_changed.is_none() {
            self.draft_changed = Some(std::time::Instant::now());
        }
    }

    /// Saves the open composer's text now (autosave, quitting, tests).
    pub fn flush_draft(&mut self) {
        self.draft_changed = None;
        let Some((key, draft)) = self.state.composer.as_ref().map(|c| c.draft()) else { return };
        if self.saved_draft.as_ref() == Some(&(key, draft.clone())) {
            return;
        }
        self.run_effects(vec![Effect::SaveDraft(key, draft)]);
    }

    pub fn writer(&self) -> &Writer {
        &self.writer
    }

    pub fn reader(&self) -> &Reader {
        &self.reader
    }

    pub fn press(&mut self, key: Key) {
        let fx = self.state.handle_key(key);
        self.run_effects(fx);
        self.note_draft();
    }

    /// Presses a key that the next queued event repeats: the thread it would
    /// open waits (the newest waiting load wins) until [`App::settle`].
    pub fn press_repeating(&mut self, key: Key) {
        self.defer_threads = true;
        self.press(key);
        self.defer_threads = false;
    }

    /// Asks for the thread that repeated keys put off, unless a newer load was asked since.
    pub fn flush_deferred(&mut self) {
        if let Some(load) = self.deferred_thread.take() {
            self.run_effects(vec![load]);
        }
    }

    /// Asks for what repeated keys put off and waits until every read asked
    /// for has come back and been applied (with the reads those results ask
    /// for in turn): the state then is what the screen would settle on.
    /// Tests, scripts and benchmarks call it; the event loop never does.
    pub fn settle(&mut self) {
        self.flush_deferred();
        while self.reads.in_flight() > 0 {
            let Some(inbox) = &self.inbox else { return };
            match inbox.recv_timeout(Duration::from_secs(1)) {
                Ok(Event::Read(done)) => self.read_done(*done),
                Ok(Event::Notice(n)) => {
                    let fx = self.state.absorb(Outcome::Status(n));
                    self.run_effects(fx);
                }
                Ok(other) => tracing::debug!("settling: {other:?} left aside"),
                // A read still running: wait on, unless the worker is gone.
                Err(mpsc::RecvTimeoutError::Timeout) if !self.reads.worker_gone() => {}
                Err(_) => {
                    tracing::error!("the reader worker is gone with {} reads asked", self.reads.in_flight());
                    return;
                }
            }
        }
    }

    /// Applies the reads that have come back, without waiting for the rest
    /// (what the event loop does between frames; headless use, benchmarks).
    pub fn apply_arrived_reads(&mut self) {
        while self.reads.in_flight() > 0 {
            let Some(Ok(ev)) = self.inbox.as_ref().map(|i| i.try_recv()) else { return };
            match ev {
                Event::Read(done) => self.read_done(*done),
                other => tracing::debug!("applying reads: {other:?} left aside"),
            }
        }
    }

    /// The reader worker answered: the result goes into the state unless a
    /// newer read of its kind was asked for since; keys that waited for it go on.
    pub fn read_done(&mut self, done: ReadDone) {
        let answered = (done.kind, done.generation);
        self.keys_wait_for.retain(|w| *w != answered);
        if let Some(outcome) = self.reads.arrived(done) {
            let fx = self.state.absorb(outcome);
            self.run_effects(fx);
        }
        if self.reads.in_flight() == 0 && self.state.loading {
            self.state.absorb(Outcome::Loading(false));
        }
        self.replay_typed_ahead();
    }

    /// A key from the terminal: handled now, or kept in order while a read
    /// it would act on is out (type-ahead: `g u Enter` typed at once opens
    /// the first waiting conversation, not the row under the cursor before).
    /// Frames go on being drawn meanwhile. `repeats`: the next queued event
    /// is the same key (held down), see [`App::press_repeating`].
    pub fn key(&mut self, key: Key, repeats: bool) {
        self.replay_typed_ahead();
        if self.keys_wait() {
            self.typed_ahead.push_back(key);
            return;
        }
        if repeats { self.press_repeating(key) } else { self.press(key) }
    }

    /// Keys typed ahead of a read wait for it (never for a worker that is gone).
    pub fn keys_wait(&self) -> bool {
        !self.keys_wait_for.is_empty() && !self.reads.worker_gone()
    }

    fn replay_typed_ahead(&mut self) {
        while !self.keys_wait()
            && let Some(k) = self.typed_ahead.pop_front()
        {
            self.press(k);
        }
    }

    /// When the status line should say that a read is taking a while.
    pub fn loading_due(&self) -> Option<Instant> {
        if self.state.loading {
            return None;
        }
        self.reads.waiting_since.map(|t| t + LOADING_DELAY)
    }

    /// Says «загрузка…» if some read has been outstanding past its due time at `now`.
    pub fn mark_slow_reads(&mut self, now: Instant) {
        if self.loading_due().is_some_and(|due| now >= due) {
            self.state.absorb(Outcome::Loading(true));
        }
    }

    /// Reads asked for and not yet answered.
    pub fn reads_in_flight(&self) -> usize {
        self.reads.in_flight()
    }

    /// How the reads of one kind went so far.
    pub fn read_counts(&self, kind: ReadKind) -> ReadCounts {
        self.reads.counts(kind)
    }

    /// Holds the reader worker before its next read until the hold is dropped
    /// (tests: a slow read without a sleep).
    #[doc(hidden)]
    pub fn hold_reads(&self) -> ReadHold {
        self.reads.hold()
    }

    /// The loop's channel, for `run`: the sender every source shares and the
    /// receiver (taken: after this, `settle` no longer waits).
    fn take_events(&mut self) -> Option<(mpsc::Sender<Event>, mpsc::Receiver<Event>)> {
        Some((self.events.clone(), self.inbox.take()?))
    }

    /// Presses keys written as in keymap files: `"j j <Enter> t"`, each
    /// settled before the next (as a person waits for the screen).
    pub fn press_keys(&mut self, keys: &str) -> Result<(), super::keys::BadKey> {
        for k in super::keys::parse_keys(keys)? {
            self.press(k);
            self.settle();
        }
        Ok(())
    }

    /// Types text into whatever has the keyboard (composer, prompt, picker
    /// filter), settled after each character like [`App::press_keys`].
    pub fn type_text(&mut self, text: &str) {
        for c in text.chars() {
            let fx = self.state.type_char(c);
            self.run_effects(fx);
            self.settle();
        }
        self.note_draft();
    }

    pub fn resize(&mut self, width: u16, height: u16) {
        let fx = self.state.resized(width, height);
        self.run_effects(fx);
    }

    /// Another process (or our own worker) committed: reload what the changes
    /// touched. A channel's status is the sidebar's alone; our own read marks
    /// and claims are already on screen.
    pub fn store_changed(&mut self, changes: &[Change]) {
        let open = self.state.thread.as_ref().map(|t| t.conversation.id);
        let (mut sidebar, mut list, mut thread) = (false, false, false);
        for c in changes {
            let ours = c.actor.as_deref() == Some(self.state.actor.as_str());
            let touches_open = c.conversation_id.is_none() || c.conversation_id == open;
            match c.kind {
                ChangeKind::Channel => sidebar = true,
                ChangeKind::Claim | ChangeKind::Read if ours => {}
                ChangeKind::Claim => {
                    list = true;
                    thread |= touches_open;
                }
                ChangeKind::Read => (sidebar, list) = (true, true),
                _ => {
                    (sidebar, list) = (true, true);
                    thread |= touches_open;
                }
            }
        }
        let mut fx = Vec::new();
        if sidebar {
            fx.push(Effect::ReloadSidebar);
        }
        if list {
            fx.push(Effect::ReloadList);
        }
        if let Some(id) = open.filter(|_| thread) {
            fx.push(Effect::LoadThread(id));
        }
        self.run_effects(fx);
    }

    pub fn tick(&mut self) {
        // Waiting times and deadlines move with the clock; a claim lives while
        // a reply's composer is open (a forward or a new mail answers nobody,
        // and a new mail has no conversation yet).
        let mut fx = vec![Effect::ReloadSidebar];
        if let Some(c) = self.state.composer.as_ref().filter(|c| !c.note && c.mail.is_none() && c.conversation > 0) {
            fx.push(Effect::Claim(c.conversation));
        }
        self.run_effects(fx);
    }

    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<(), B::Error> {
        terminal.draw(|f| super::ui::render(&self.state, &self.theme, f))?;
        self.state.drawn();
        Ok(())
    }

    /// Rings the terminal bell if an effect asked for it since the last call.
    pub fn take_bell(&mut self) -> bool {
        std::mem::take(&mut self.bell)
    }

    /// The desktop notification an effect asked for since the last call.
    pub fn take_notification(&mut self) -> Option<String> {
        self.notification.take()
    }

    pub fn run_effects(&mut self, effects: Vec<Effect>) {
        // Views are computed against the current time.
        let moment = self.state.calendar.moment(self.state.clock.now());
        let mut queue: VecDeque<Effect> = effects.into();
        let mut done: Vec<Effect> = Vec::new();
        while let Some(e) = queue.pop_front() {
            // Reloads asked for twice in one round are done once.
            if matches!(e, Effect::LoadThread(_)) {
                if self.defer_threads {
                    self.deferred_thread = Some(e);
                    continue;
                }
                // This load is newer than one put off: that one must not overwrite it.
                self.deferred_thread = None;
            }
            let idempotent = matches!(e, Effect::ReloadSidebar | Effect::ReloadList | Effect::LoadThread(_));
            if idempotent && done.contains(&e) {
                continue;
            }
            if let Some(kind) = ReadKind::of(&e) {
                self.ask(kind, e.clone(), moment);
                done.push(e);
                continue;
            }
            let started = Instant::now();
            let outcome = self.perform(e.clone());
            tracing::debug!("effect {e:?} took {:?}", started.elapsed());
            let outcome = outcome.unwrap_or_else(|err| {
                tracing::warn!("effect {e:?} failed: {err}");
                Outcome::Error(err.in_language(self.state.lang))
            });
            queue.extend(self.state.absorb(outcome));
            done.push(e);
        }
    }

    /// Sends a read to the worker with what it needs of the state as it is now.
    fn ask(&mut self, kind: ReadKind, effect: Effect, moment: crate::model::Moment) {
        let st = &self.state;
        let anchor = match &effect {
            // Keep the last half of the window and read what follows it.
            Effect::ListShiftDown => {
                st.list.rows.get(st.list.rows.len().saturating_sub(WINDOW / 2)).map(|c| c.key(st.view))
            }
            Effect::ListShiftUp => st.list.rows.first().map(|c| c.key(st.view)),
            _ => None,
        };
        let sla = if kind == ReadKind::Sidebar { self.sla_setup() } else { None };
        // Previews, reloads and hints change nothing a key acts on; the rest do.
        let keys_wait = match &effect {
            Effect::ReloadSidebar | Effect::ReloadList | Effect::ClientHint(_) => false,
            Effect::LoadThread(_) => self.state.pending_composer.is_some(),
            _ => true,
        };
        let generation = self.reads.next_generation(kind);
        if keys_wait {
            self.keys_wait_for.push((kind, generation));
        }
        let st = &self.state;
        let asked = Asked {
            kind,
            generation,
            effect,
            view: st.view,
            window: st.list.first.map_or(Window::Top, Window::From),
            anchor,
            clock: st.clock.clone(),
            moment,
            lang: st.lang,
            solo: st.solo == Some(true),
            sla,
        };
        if !self.reads.send(asked) {
            tracing::error!("the reader worker is gone");
            self.keys_wait_for.retain(|w| *w != (kind, generation));
            let fx = self.state.absorb(Outcome::Error(self.state.lang.tr("reader_stopped").into()));
            self.run_effects(fx);
        }
    }

    /// The config's response-time policies for the worker, built again when
    /// the `[[sla]]` tables change; None without policies.
    fn sla_setup(&mut self) -> Option<Arc<SlaSetup>> {
        if self.config.sla.is_empty() {
            self.sla_setup = None;
            return None;
        }
        let tables = crate::workflow::sla::tables_json(&self.config);
        if self.sla_setup.as_ref().is_none_or(|s| s.tables != tables) {
            self.sla_setup = Some(Arc::new(SlaSetup {
                tables,
                config: self.config.clone(),
                calendar: self.state.calendar.clone(),
                templates: self.state.templates.clone(),
            }));
        }
        self.sla_setup.clone()
    }

    /// Fetches an attachment (from the server, on demand) and saves it into a
    /// directory, or into pult's own and opens it with a program. Runs off the
    /// UI thread when it can; its outcome comes back as a notice.
    fn attachment_job(&mut self, message: i64, index: usize, job: AttachmentJob) -> Outcome {
        let (cfg, store, lang) = (self.config.clone(), self.store.clone(), self.state.lang);
        let actor = self.state.actor.clone();
        let work = async move {
            let outcome = async {
                // Said in the UI's language; the library's words go to the log.
                let said = |e: &dyn std::fmt::Display| crate::trouble::explain(lang, &e.to_string());
                let reader = store.open_reader(&actor).map_err(|e| e.in_language(lang))?;
                let all = crate::attachments::locate(&reader, message).map_err(|e| said(&e))?;
                let item = all.get(index).cloned().ok_or_else(|| format!("no attachment {index}"))?;
                let item = crate::attachments::with_stored(&reader, vec![item])
                    .map_err(|e| said(&e))?
                    .pop()
                    .ok_or_else(|| format!("no attachment {index}"))?;
                match &job {
                    AttachmentJob::Save(dir) => {
                        let bytes = crate::attachments::fetch(&cfg, std::slice::from_ref(&item))
                            .await
                            .map_err(|e| said(&e))?
                            .pop()
                            .unwrap_or_default();
                        let path = crate::attachments::save(dir, &item.name, &bytes).map_err(|e| said(&e))?;
                        Ok::<_, String>(format!("{} {}", lang.tr("saved_to"), path.display()))
                    }
                    AttachmentJob::Open(program) => {
                        let path =
                            crate::attachments::fetch_and_open(&cfg, program, &item).await.map_err(|e| said(&e))?;
                        Ok(format!("{} {}", lang.tr("opening"), path.display()))
                    }
                }
            }
            .await;
            match outcome {
                Ok(text) => StatusMessage { text: crate::sanitize::line(&text).into_owned(), error: false },
                Err(text) => StatusMessage { text: crate::sanitize::line(&text).into_owned(), error: true },
            }
        };
        let jobs = match self.jobs() {
            Ok(j) => j,
            Err(e) => return Outcome::Error(crate::trouble::explain(self.state.lang, &e.to_string())),
        };
        match self.notices.clone() {
            // In the terminal: the job reports back as a notice; the UI goes on.
            Some(tx) => {
                jobs.spawn(async move {
                    let _ = tx.send(Event::Notice(work.await));
                });
                Outcome::Info(format!("{}…", self.state.lang.tr("fetching")))
            }
            // Headless (tests): the same job, waited for.
            None => {
                let (tx, rx) = std::sync::mpsc::channel();
                jobs.spawn(async move {
                    let _ = tx.send(work.await);
                });
                rx.recv().map(Outcome::Status).unwrap_or(Outcome::Nothing)
            }
        }
    }

    /// The one runtime background jobs share (fetching attachments, voice):
    /// started on first use, on a thread of its own.
    fn jobs(&mut self) -> std::io::Result<tokio::runtime::Handle> {
        if let Some(rt) = &self.jobs {
            return Ok(rt.handle().clone());
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pult-jobs")
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        self.jobs = Some(rt);
        Ok(handle)
    }

    /// Carries out one effect: reads and writes the store, starts slow work.
    /// It reads the state but never changes it: what it finds goes back as an
    /// [`Outcome`] for [`AppState::absorb`].
    fn perform(&mut self, effect: Effect) -> store::Result<Outcome> {
        let st = &self.state;
        let now = st.clock.now();
        let actor = st.actor.clone();
        let wrote = |fx: Vec<Effect>| Ok(Outcome::Wrote(fx));
        match effect {
            Effect::SlaPause { conversation, reason } => {
                self.writer.call_blocking(move |c| store::sla::pause(c, conversation, reason, &actor, now))?;
                wrote(vec![Effect::ReloadSidebar, Effect::ReloadList])
            }
            Effect::SlaResume(conversation) => {
                self.writer.call_blocking(move |c| store::sla::resume(c, conversation, &actor, now))?;
                wrote(vec![Effect::ReloadSidebar, Effect::ReloadList])
            }
            Effect::MarkRead(id) => {
                let changed = self.writer.call_blocking(move |c| intents::mark_read(c, &actor, id, now))?;
                wrote(if changed { vec![Effect::ReloadSidebar, Effect::ReloadList] } else { Vec::new() })
            }
            Effect::QueueReply { conversation, reply_to, subject, body, kind, attachments, template } => {
                let not_before = now + st.undo_seconds.max(0);
                let reply = intents::Reply {
                    conversation_id: conversation,
                    reply_to_message_id: reply_to,
                    subject,
                    body,
                    actor,
                    not_before,
                    auto: false,
                    attachments,
                };
                let outbox = match kind {
                    _ if template.is_some() => {
                        let t = template.unwrap_or_default();
                        self.writer.call_blocking(move |c| intents::queue_template_reply(c, &reply, &t, now))?
                    }
                    ReplyKind::Plain => self.writer.call_blocking(move |c| intents::queue_reply(c, &reply, now))?,
                    ReplyKind::Accept { deadline, source } => {
                        self.writer.call_blocking(move |c| ledger::accept(c, &reply, source, deadline, now))?.1
                    }
                    ReplyKind::Done => self.writer.call_blocking(move |c| ledger::done(c, &reply, now))?.0,
                    ReplyKind::Redate { deadline } => {
                        let r = reply.clone();
                        let (_, outbox) = self.writer.call_blocking(move |c| {
                            ledger::redate(c, conversation, &r.actor, deadline, Some(&r), now)
                        })?;
                        outbox.unwrap_or(0)
                    }
                };
                Ok(Outcome::Queued { outbox, conversation, until: not_before, mail: false })
            }
            Effect::Snooze { conversation, until } => {
                self.writer.call_blocking(move |c| ledger::snooze(c, conversation, &actor, until, now))?;
                Ok(Outcome::Snoozed { conversation, until })
            }
            Effect::FollowUp { conversation, at } => {
                self.writer.call_blocking(move |c| ledger::follow_up(c, conversation, &actor, at, now))?;
                Ok(Outcome::FollowUp { at })
            }
            Effect::CancelTask(conversation) => {
                self.writer.call_blocking(move |c| ledger::cancel_task(c, conversation, &actor, now))?;
                Ok(Outcome::TaskCancelled(conversation))
            }
            Effect::Undo { outbox, conversation } => {
                let body = self.writer.call_blocking(move |c| ledger::undo_send(c, outbox, &actor, now))?;
                Ok(Outcome::Undone { conversation, body })
            }
            Effect::ResolveSend { conversation, how } => {
                let done =
                    self.writer.call_blocking(move |c| intents::resolve_latest(c, conversation, how, &actor, now))?;
                Ok(Outcome::Resolved { conversation, done: done.is_some(), how })
            }
            Effect::SaveDraft(key, draft) => {
                let d = draft.clone();
                self.writer.call_blocking(move |c| store::drafts::save(c, &actor, key, &d, now))?;
                self.saved_draft = Some((key, draft));
                Ok(Outcome::Nothing)
            }
            Effect::OpenEditor(text) => {
                self.editor_request = Some(text);
                Ok(Outcome::Nothing)
            }
            Effect::CountWaiting(conversation) => {
                let changed = self.writer.call_blocking(move |c| intents::count_waiting(c, conversation, now))?;
                if !changed {
                    return Ok(Outcome::Nothing);
                }
                wrote(vec![Effect::ReloadSidebar, Effect::ReloadList, Effect::LoadThread(conversation)])
            }
            Effect::SenderRule { conversation, client } => {
                let handle = self
                    .writer
                    .call_blocking(move |c| intents::set_sender_rule(c, conversation, client, &actor, now))?;
                Ok(Outcome::SenderRule { handle, client })
            }
            Effect::CloseMany(ids) => {
                let done = self.writer.call_blocking(move |c| intents::close_many(c, &actor, &ids, false, now))?;
                Ok(Outcome::ClosedMany(done))
            }
            Effect::ReopenBatch(batch) => {
                let opened = self.writer.call_blocking(move |c| intents::reopen_batch(c, &actor, batch, now))?;
                Ok(Outcome::ReopenedBatch(opened.len()))
            }
            Effect::SetOpen { conversation, open } => {
                self.writer.call_blocking(move |c| intents::set_status(c, &actor, conversation, open, now))?;
                wrote(vec![Effect::ReloadSidebar, Effect::ReloadList])
            }
            Effect::Assign { conversation, assignee, note } => {
                let who = assignee.clone();
                self.writer.call_blocking(move |c| {
                    team::assign(c, conversation, who.as_deref(), &actor, note.as_deref(), now)
                })?;
                Ok(Outcome::Assigned { conversation, assignee })
            }
            Effect::DefaultAssignee { conversation, assignee } => {
                let who = assignee.clone();
                self.writer
                    .call_blocking(move |c| team::set_default_assignee(c, conversation, who.as_deref(), &actor, now))?;
                Ok(Outcome::DefaultAssignee(assignee))
            }
            Effect::AddNote { conversation, body } => {
                self.writer.call_blocking(move |c| team::add_note(c, conversation, &actor, &body, now))?;
                Ok(Outcome::NoteAdded(conversation))
            }
            Effect::Claim(conversation) => {
                // A claim is a hint to colleagues: one that cannot be written
                // costs the hint, never an error in the middle of writing.
                match self.writer.call_blocking(move |c| team::claim(c, conversation, &actor, now)) {
                    Ok(others) => Ok(Outcome::Claimed { others }),
                    Err(e) => {
                        tracing::warn!("claim on conversation {conversation}: {e}");
                        Ok(Outcome::Nothing)
                    }
                }
            }
            Effect::Release(conversation) => {
                self.writer.call_blocking(move |c| team::release(c, conversation, &actor, now))?;
                Ok(Outcome::Nothing)
            }
            Effect::SetClientField { conversation, field, value } => {
                let Some(client) = self.reader.client_of(conversation)? else {
                    return Ok(Outcome::Info(st.lang.tr("no_client").into()));
                };
                self.writer.call_blocking(move |c| store::clients::set_field(c, client, field, &value, &actor, now))?;
                // The card again, as it is now.
                wrote(vec![Effect::ReloadList, Effect::ShowClient(client)])
            }
            Effect::EditClient { client, field, value } => {
                self.writer.call_blocking(move |c| store::clients::set_field(c, client, field, &value, &actor, now))?;
                Ok(Outcome::ClientChanged(st.lang.tr("saved").into()))
            }
            Effect::HandOverClient { client, to, note } => {
                let who = to.clone().unwrap_or_else(|| "—".into());
                let moved = self.writer.call_blocking(move |c| {
                    store::clients::hand_over(c, client, to.as_deref(), &actor, note.as_deref(), now)
                })?;
                Ok(Outcome::ClientChanged(format!(
                    "{} {who} · {}",
                    st.lang.tr("handed_over"),
                    crate::i18n::plural_of(st.lang, moved as i64, "conversations")
                )))
            }
            Effect::MergeClients { into, from } => {
                let merge = self.writer.call_blocking(move |c| store::clients::merge(c, into, &from, &actor, now))?;
                let name = self
                    .reader
                    .client(into)?
                    .map(|c| c.summary.organisation.unwrap_or(c.summary.name))
                    .unwrap_or_default();
                Ok(Outcome::Merged { merge, into, name: crate::sanitize::line(&name).into_owned() })
            }
            Effect::UnmergeClients(merge) => {
                self.writer.call_blocking(move |c| store::clients::unmerge(c, merge, &actor, now))?;
                Ok(Outcome::ClientChanged(st.lang.tr("merge_undone").into()))
            }
            Effect::DismissSuggestion(clients) => {
                self.writer.call_blocking(move |c| {
                    for (i, a) in clients.iter().enumerate() {
                        for b in &clients[i + 1..] {
                            store::clients::dismiss(c, *a, *b)?;
                        }
                    }
                    Ok(())
                })?;
                Ok(Outcome::ClientChanged(st.lang.tr("suggestion_dismissed").into()))
            }
            Effect::SplitIdentity { kind, handle } => {
                let new = self.writer.call_blocking(move |c| store::clients::split(c, &kind, &handle, &actor, now))?;
                Ok(Outcome::ClientChanged(format!("{} #{new}", st.lang.tr("split_done"))))
            }
            Effect::PlayVoice => {
                let Some(t) = &st.thread else { return Ok(Outcome::Nothing) };
                // The newest voice message, played by its channel's player, fetched
                // off the UI thread — never through a shell.
                let voice =
                    t.messages.iter().rev().find_map(|m| {
                        m.attachments.iter().position(|a| a.mime.starts_with("audio/")).map(|i| (m.id, i))
                    });
                let (Some((message, index)), Some(player)) = (voice, self.players.get(&t.conversation.channel_id))
                else {
                    return Ok(Outcome::Error(st.lang.tr("no_player").to_string()));
                };
                let player = player.clone();
                Ok(self.attachment_job(message, index, AttachmentJob::Open(player)))
            }
            Effect::SaveAttachment { message, index, dir } => {
                Ok(self.attachment_job(message, index, AttachmentJob::Save(dir)))
            }
            Effect::OpenAttachment { message, index } => {
                let program = self.config.ui.open_command();
                Ok(self.attachment_job(message, index, AttachmentJob::Open(program)))
            }
            Effect::QueueEmail { conversation, draft, subject, body, attachments } => {
                let not_before = now + st.undo_seconds.max(0);
                let (conversation, outbox) = match draft {
                    MailDraft::Forward { message, to } => {
                        let Some(conversation) = conversation else { return Ok(Outcome::Nothing) };
                        let reply = intents::Reply {
                            conversation_id: conversation,
                            reply_to_message_id: None,
                            subject: Some(subject),
                            body,
                            actor,
                            not_before,
                            auto: false,
                            attachments,
                        };
                        let extra = intents::EmailExtra { to, forward_of: Some(message) };
                        let outbox =
                            self.writer.call_blocking(move |c| intents::queue_email(c, &reply, &extra, now))?;
                        (conversation, outbox)
                    }
                    MailDraft::New { channel, to } => {
                        let name = st.channels.iter().find(|c| c.id == channel).map(|c| c.name.clone());
                        let from_address = name
                            .and_then(|n| self.config.sending_address(&n))
                            .unwrap_or_else(|| "pult@localhost".into());
                        let new = intents::NewEmail {
                            channel,
                            from_address,
                            to,
                            subject,
                            body,
                            attachments,
                            actor,
                            not_before,
                        };
                        self.writer.call_blocking(move |c| intents::new_email(c, &new, now))?
                    }
                };
                Ok(Outcome::Queued { outbox, conversation, until: not_before, mail: true })
            }
            Effect::Bell => {
                self.bell = true;
                Ok(Outcome::Nothing)
            }
            Effect::Notify(text) => {
                self.notification = Some(text);
                Ok(Outcome::Nothing)
            }
            Effect::Quit => Ok(Outcome::Nothing),
            // Reads go to the worker (`ask`), never through here.
            Effect::ReloadSidebar
            | Effect::ReloadList
            | Effect::ListTop
            | Effect::ListBottom
            | Effect::ListShiftDown
            | Effect::ListShiftUp
            | Effect::LoadThread(_)
            | Effect::ClientHint(_)
            | Effect::Search(_)
            | Effect::MarkAll(_)
            | Effect::History(_)
            | Effect::CheckPromise { .. }
            | Effect::ClientsList
            | Effect::FindClient(_)
            | Effect::ClientCard(_)
            | Effect::ShowClient(_) => {
                tracing::error!("a read reached the write path: {effect:?}");
                Ok(Outcome::Nothing)
            }
        }
    }
}

/// What an attachment is fetched for.
enum AttachmentJob {
    /// Saved into this directory.
    Save(PathBuf),
    /// Kept in pult's own directory and opened with this program (argv).
    Open(Vec<String>),
}

/// Restores the terminal when dropped: on return, on error and while unwinding.
struct TerminalGuard;

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        restore_terminal();
    }
}

fn restore_terminal() {
    let _ = crossterm::terminal::disable_raw_mode();
    let _ = crossterm::execute!(
        std::io::stdout(),
        crossterm::event::DisableMouseCapture,
        crossterm::terminal::LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

#[derive(Default)]
struct InputPause {
    paused: AtomicBool,
    /// The input thread saw the pause and reads nothing.
    idle: AtomicBool,
}

/// The argv of the user's editor: $VISUAL, else $EDITOR, else vi; split on
/// whitespace and run without a shell ("code --wait" works).
fn editor_argv() -> Vec<String> {
    let from_env = ["VISUAL", "EDITOR"].iter().find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    from_env.unwrap_or_else(|| "vi".into()).split_whitespace().map(str::to_string).collect()
}

/// Gives the terminal to $EDITOR on a private copy of the draft and takes it
/// back, restored, whatever the editor did.
fn edit_in_editor(
    terminal: &mut Terminal<ratatui::backend::CrosstermBackend<std::io::Stdout>>,
    input: &InputPause,
    text: &str,
    lang: crate::i18n::Lang,
) -> Result<String, String> {
    use std::io::Write;
    input.paused.store(true, Ordering::SeqCst);
    while !input.idle.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let path = std::env::temp_dir().join(format!(
        "pult-draft-{}-{}.txt",
        std::process::id(),
        jiff::Timestamp::now().as_nanosecond()
    ));
    let result = (|| -> Result<String, String> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| format!("{}: {}", path.display(), crate::trouble::explain(lang, &e.to_string())))?;
        f.write_all(text.as_bytes())
            .and_then(|_| f.write_all(b"\n"))
            .map_err(|e| crate::trouble::explain(lang, &e.to_string()))?;
        drop(f);
        restore_terminal();
        let argv = editor_argv();
        let status = std::process::Command::new(&argv[0]).args(&argv[1..]).arg(&path).status();
        let _ = crossterm::terminal::enable_raw_mode();
        let _ = crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen);
        let _ = terminal.clear();
        match status {
            Ok(s) if s.success() => std::fs::read_to_string(&path)
                .map_err(|e| format!("{}: {}", path.display(), crate::trouble::explain(lang, &e.to_string()))),
            Ok(s) => {
                tracing::warn!("{} exited with {s}", argv[0]);
                Err(format!("{} ({})", lang.tr("editor_exited"), argv[0]))
            }
            Err(e) => {
                tracing::warn!("cannot run {:?} ($VISUAL/$EDITOR): {e}", argv[0]);
                Err(format!("{}: {}", lang.tr("editor_failed"), argv[0]))
            }
        }
    })();
    let _ = std::fs::remove_file(&path);
    input.paused.store(false, Ordering::SeqCst);
    result
}

/// Runs the app in the real terminal until the user quits.
pub fn run(mut app: App, mut supervisor: Option<crate::sync::workers::Supervisor>) -> anyhow::Result<()> {
    use crossterm::event::{self as ct, Event as CtEvent, KeyEventKind};

    // A panic restores the terminal before the message is printed.
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous(info);
    }));

    crossterm::terminal::enable_raw_mode()?;
    let _guard = TerminalGuard;
    crossterm::execute!(std::io::stdout(), crossterm::terminal::EnterAlternateScreen)?;
    // The mouse is the terminal's (selecting text to copy) unless [ui] mouse = true.
    let mouse = app.config.ui.mouse;
    if mouse {
        crossterm::execute!(std::io::stdout(), crossterm::event::EnableMouseCapture)?;
    }
    let backend = ratatui::backend::CrosstermBackend::new(std::io::stdout());
    let mut terminal = Terminal::new(backend)?;
    terminal.clear()?;
    let size = terminal.size()?;
    app.resize(size.width, size.height);

    let (tx, rx) = app.take_events().ok_or_else(|| anyhow::anyhow!("the event loop runs once per app"))?;
    app.notices = Some(tx.clone());
    let input_tx = tx.clone();
    // While $EDITOR has the terminal, the input thread must not read its keys.
    let input = Arc::new(InputPause::default());
    let input_flags = input.clone();
    std::thread::Builder::new().name("pult-input".into()).spawn(move || {
        loop {
            if input_flags.paused.load(Ordering::SeqCst) {
                input_flags.idle.store(true, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            input_flags.idle.store(false, Ordering::SeqCst);
            match ct::poll(Duration::from_millis(50)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::error!("terminal input: {e}");
                    return;
                }
            }
            let ev = match ct::read() {
                Ok(CtEvent::Key(k)) if k.kind != KeyEventKind::Release => Event::Key(k),
                Ok(CtEvent::Resize(w, h)) => Event::Resize(w, h),
                Ok(CtEvent::Mouse(m)) => match m.kind {
                    ct::MouseEventKind::ScrollDown => Event::Scroll(1),
                    ct::MouseEventKind::ScrollUp => Event::Scroll(-1),
                    _ => continue,
                },
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!("terminal input: {e}");
                    return;
                }
            };
            if input_tx.send(ev).is_err() {
                return;
            }
        }
    })?;
    let watch_tx = tx.clone();
    app.store.watcher()?.spawn(move |changes| watch_tx.send(Event::Changes(changes)).is_ok());

    const TICK: Duration = Duration::from_secs(20);
    // How often a pult checks whether it should run the workers (daemon gone or arriving).
    const ROLE_CHECK: Duration = Duration::from_secs(2);
    let mut next_role_check = Instant::now();
    const FRAME: Duration = Duration::from_millis(16);
    let mut next_tick = Instant::now() + TICK;
    let mut last_draw = Instant::now() - FRAME;
    // The config arrived after `App::new` counted: the response-time clocks show from the first frame.
    if !app.config.sla.is_empty() {
        app.run_effects(vec![Effect::ReloadSidebar, Effect::ReloadList]);
    }
    app.draw(&mut terminal)?;
    while !app.state.quit {
        if let Some(sup) = supervisor.as_mut()
            && Instant::now() >= next_role_check
        {
            next_role_check = Instant::now() + ROLE_CHECK;
            if sup.poll() || app.state.solo.is_none() {
                app.state.set_solo(sup.solo());
            }
        }
        let mut wake = if supervisor.is_some() { next_tick.min(next_role_check) } else { next_tick };
        for due in [app.draft_due(), app.status_due(), app.loading_due()].into_iter().flatten() {
            wake = wake.min(due);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        let first = match rx.recv_timeout(timeout) {
            Ok(ev) => Some(ev),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        let mut events: Vec<Event> = first.into_iter().collect();
        // Coalesce bursts: handle everything already queued before drawing once.
        events.extend(rx.try_iter());
        // Waking only to say that a read is slow is no clock tick.
        let slow_read = app.loading_due().is_some_and(|due| Instant::now() >= due);
        if (events.is_empty() && !slow_read) || Instant::now() >= next_tick {
            events.push(Event::Tick);
            next_tick = Instant::now() + TICK;
        }
        let mut changes: Vec<Change> = Vec::new();
        let mut events = events.into_iter().peekable();
        while let Some(ev) = events.next() {
            // A held key arrives as a burst of the same key: only the last
            // press of the burst reads its thread (latest wins).
            let repeated = matches!((&ev, events.peek()), (Event::Key(a), Some(Event::Key(b))) if a == b);
            match ev {
                Event::Key(k) => app.key(Key::from_event(&k), repeated),
                Event::Resize(w, h) => app.resize(w, h),
                Event::Changes(c) => changes.extend(c),
                Event::Tick => app.tick(),
                // The wheel moves down / up in the focused pane (never types in the composer).
                Event::Scroll(d) => {
                    if app.state.popup.is_none() && app.state.focus != super::state::Focus::Composer {
                        let action = if d > 0 { super::action::Action::Down } else { super::action::Action::Up };
                        let fx = app.state.apply(action);
                        app.run_effects(fx);
                    }
                }
                Event::Notice(n) => {
                    let fx = app.state.absorb(Outcome::Status(n));
                    app.run_effects(fx);
                }
                Event::Read(done) => app.read_done(*done),
            }
            if !repeated {
                app.flush_deferred();
            }
            if app.state.quit {
                break;
            }
        }
        app.flush_deferred();
        app.mark_slow_reads(Instant::now());
        if !changes.is_empty() {
            app.store_changed(&changes);
        }
        if let Some(text) = app.editor_request.take() {
            let edited = edit_in_editor(&mut terminal, &input, &text, app.state.lang);
            app.state.editor_returned(edited);
        }
        if app.draft_due().is_some_and(|due| Instant::now() >= due) || app.state.quit {
            app.flush_draft();
        }
        app.expire_status();
        if app.take_bell() {
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x07");
            if let Some(text) = app.take_notification()
                && let Some(bytes) = super::notify::sequence(&|k| std::env::var(k).ok(), "pult", &text)
            {
                let _ = out.write_all(&bytes);
            }
            let _ = out.flush();
        }
        if app.state.dirty && !app.state.quit {
            let since = last_draw.elapsed();
            if since < FRAME {
                std::thread::sleep(FRAME - since);
            }
            app.draw(&mut terminal)?;
            last_draw = Instant::now();
        }
    }
    drop(terminal);
    // Workers stop (and release the lock) before the terminal is restored.
    drop(supervisor);
    Ok(())
}
