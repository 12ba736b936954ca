//! Store reads off the UI thread: which reads there are, and the worker that does them.
//!
//! The UI asks for a read ([`Asked`]) with everything it needs from the state
//! taken at that moment; one worker thread with its own [`Reader`] connection
//! carries the reads out in the order asked and sends each result back as an
//! [`Event::Read`] on the loop's one channel. The newest request of a kind
//! wins: the worker skips a request when a newer one of its kind waits behind
//! it, and the app drops a result that arrives after a newer one was asked
//! for (gitui's `AsyncSingleJob`). Holding `j` reads the thread the cursor
//! stops on, not each one it passed.

use super::app::Event;
use super::state::{ListRead, Outcome, SEARCH_LIMIT, SuggestionRow, THREAD_LIMIT, ThreadState, WINDOW};
use crate::clock::Clock;
use crate::i18n::Lang;
use crate::model::{ListKey, Moment, View, Window};
use crate::store::{self, Reader, Writer};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use super::state::Effect;

/// Reads of one kind replace each other: only the newest one's result shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadKind {
    /// Channels, view counts, the status line's counts, response-time clocks.
    Sidebar,
    /// The conversation list's window (reload, top, bottom, sliding).
    List,
    /// The thread pane.
    Thread,
    /// Whether the open thread's new sender may be a known client.
    Hint,
    Search,
    /// A client's card, the clients list, `:client NAME`.
    Client,
    /// A question a key asks before it acts: promise state, history, marking a view.
    Question,
}

impl ReadKind {
    /// The kind of read an effect is; None for effects that are no read.
    pub fn of(effect: &Effect) -> Option<ReadKind> {
        Some(match effect {
            Effect::ReloadSidebar => ReadKind::Sidebar,
            Effect::ReloadList | Effect::ListTop | Effect::ListBottom | Effect::ListShiftDown | Effect::ListShiftUp => {
                ReadKind::List
            }
            Effect::LoadThread(_) => ReadKind::Thread,
            Effect::ClientHint(_) => ReadKind::Hint,
            Effect::Search(_) => ReadKind::Search,
            Effect::ClientCard(_) | Effect::ShowClient(_) | Effect::ClientsList | Effect::FindClient(_) => {
                ReadKind::Client
            }
            Effect::CheckPromise { .. } | Effect::History(_) | Effect::MarkAll(_) => ReadKind::Question,
            _ => return None,
        })
    }
}

/// The response-time policies as the config states them, with what the
/// worker needs to build their clocks (shared: sent with every sidebar read).
pub struct SlaSetup {
    /// The config's `[[sla]]` tables as JSON: a change rebuilds the clocks.
    pub tables: String,
    pub config: crate::config::Config,
    pub calendar: crate::workflow::calendar::Calendar,
    pub templates: crate::workflow::templates::Templates,
}

/// A read with what it needs of the state, taken when it was asked for.
pub struct Asked {
    pub kind: ReadKind,
    /// Counts up per kind: a result older than the newest asked is stale.
    pub generation: u64,
    pub effect: Effect,
    pub view: View,
    /// The list's window as it starts now (for a reload).
    pub window: Window,
    /// Where the list slides from: the row to keep from (down) or the first row (up).
    pub anchor: Option<ListKey>,
    pub clock: Clock,
    pub moment: Moment,
    pub lang: Lang,
    /// Whether this process runs the workers (it then writes the SLA escalations).
    pub solo: bool,
    pub sla: Option<Arc<SlaSetup>>,
}

/// What the worker sends back for a request.
#[derive(Debug)]
pub struct ReadDone {
    pub kind: ReadKind,
    pub generation: u64,
    /// None: skipped, a newer request of its kind was waiting.
    pub outcome: Option<Outcome>,
}

/// How the reads of one kind went (tests and the log).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ReadCounts {
    pub asked: u64,
    /// Carried out by the worker.
    pub performed: u64,
    /// Not carried out: a newer request of the kind was already waiting.
    pub skipped: u64,
    /// Results that reached the state.
    pub applied: u64,
    /// Results dropped on arrival: a newer request had been asked for.
    pub stale: u64,
}

/// Holds the worker before its next read (tests: a read that takes as long
/// as the test wants, without a sleep). Released when dropped.
pub struct ReadHold {
    gate: Arc<Gate>,
}

impl ReadHold {
    /// Waits until the worker is held with a read in hand.
    pub fn wait_until_held(&self) {
        let mut state = self.gate.state.lock().unwrap_or_else(|e| e.into_inner());
        while *state != GateState::Holding {
            state = self.gate.turned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

impl Drop for ReadHold {
    fn drop(&mut self) {
        *self.gate.state.lock().unwrap_or_else(|e| e.into_inner()) = GateState::Open;
        self.gate.turned.notify_all();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GateState {
    Open,
    Closed,
    /// Closed, and the worker waits at it.
    Holding,
}

struct Gate {
    state: Mutex<GateState>,
    turned: Condvar,
}

impl Gate {
    fn pass(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if *state == GateState::Open {
            return;
        }
        *state = GateState::Holding;
        self.turned.notify_all();
        while *state != GateState::Open {
            state = self.turned.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }
}

/// The UI's end of the reader worker.
pub struct Reads {
    requests: mpsc::Sender<Asked>,
    gate: Arc<Gate>,
    worker: std::thread::JoinHandle<()>,
    /// The newest generation asked for, per kind.
    newest: HashMap<ReadKind, u64>,
    counts: HashMap<ReadKind, ReadCounts>,
    /// Requests whose answer has not come back yet.
    in_flight: usize,
    /// Since when some read has been outstanding.
    pub(super) waiting_since: Option<Instant>,
}

/// Screens count conversations up to this; more shows as "9999+" (see
/// `Reader::cap_counts`).
pub const COUNT_CAP: i64 = 9_999;

impl Reads {
    /// Starts the worker on its own connection; answers go to `events`.
    pub fn spawn(
        store: &store::Location,
        actor: &str,
        writer: Writer,
        events: mpsc::Sender<Event>,
    ) -> store::Result<Reads> {
        let mut reader = store.open_reader(actor)?;
        reader.cap_counts(COUNT_CAP);
        let gate = Arc::new(Gate { state: Mutex::new(GateState::Open), turned: Condvar::new() });
        let (tx, rx) = mpsc::channel::<Asked>();
        let mut worker = Worker { reader, writer, sla: None, suggestions: None, view_counts: Vec::new() };
        let held = gate.clone();
        let worker = std::thread::Builder::new()
            .name("pult-reads".into())
            .spawn(move || worker.serve(&rx, &events, &held))
            .map_err(store::StoreError::Io)?;
        Ok(Reads {
            requests: tx,
            gate,
            worker,
            newest: HashMap::new(),
            counts: HashMap::new(),
            in_flight: 0,
            waiting_since: None,
        })
    }

    /// The next generation for a read of `kind` (it supersedes the ones before).
    pub fn next_generation(&mut self, kind: ReadKind) -> u64 {
        let g = self.newest.entry(kind).or_default();
        *g += 1;
        *g
    }

    /// Sends a request; false when the worker is gone.
    pub fn send(&mut self, asked: Asked) -> bool {
        let kind = asked.kind;
        if self.requests.send(asked).is_err() {
            return false;
        }
        self.counts.entry(kind).or_default().asked += 1;
        if self.in_flight == 0 {
            self.waiting_since = Some(Instant::now());
        }
        self.in_flight += 1;
        true
    }

    /// An answer came back: its outcome when it is the newest of its kind.
    pub fn arrived(&mut self, done: ReadDone) -> Option<Outcome> {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 {
            self.waiting_since = None;
        }
        let counts = self.counts.entry(done.kind).or_default();
        let outcome = match done.outcome {
            None => {
                counts.skipped += 1;
                return None;
            }
            Some(o) => o,
        };
        counts.performed += 1;
        if self.newest.get(&done.kind).is_some_and(|newest| done.generation < *newest) {
            counts.stale += 1;
            return None;
        }
        counts.applied += 1;
        Some(outcome)
    }

    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Whether the worker thread has ended (it only does when the app goes).
    pub fn worker_gone(&self) -> bool {
        self.worker.is_finished()
    }

    pub fn counts(&self, kind: ReadKind) -> ReadCounts {
        self.counts.get(&kind).copied().unwrap_or_default()
    }

    pub fn hold(&self) -> ReadHold {
        *self.gate.state.lock().unwrap_or_else(|e| e.into_inner()) = GateState::Closed;
        ReadHold { gate: self.gate.clone() }
    }
}

/// A conversation as the thread pane shows it: its newest messages with their
/// attachments, reactions and delivery states, its promises and the business
/// connection it is seen through, in a fixed number of statements whatever
/// the thread's length. None when the conversation is gone.
pub fn load_thread(reader: &Reader, id: i64) -> store::Result<Option<ThreadState>> {
    let Some(conversation) = reader.conversation(id)? else { return Ok(None) };
    let mut t = ThreadState::new(conversation, reader.thread(id, THREAD_LIMIT)?, reader.tasks(id)?);
    t.connection = reader.connection_of(id)?;
    Ok(Some(t))
}

/// The worker's side: its own reader, and what it keeps between reads.
struct Worker {
    reader: Reader,
    /// To record the config's response-time policies and write escalations.
    writer: Writer,
    /// The response-time policies as recorded in the store, with the
    /// `[[sla]]` tables they were built from.
    sla: Option<(String, crate::sla_cli::SlaContext)>,
    /// Merge suggestions as last computed, for the hint in a new client's
    /// thread (a thread loads on every move of the cursor; the card and the
    /// clients list compute them afresh).
    suggestions: Option<(Instant, Vec<store::clients::Suggestion>)>,
    /// The smart views' counts as the last sidebar read found them.
    view_counts: Vec<i64>,
}

impl Worker {
    fn serve(&mut self, requests: &mpsc::Receiver<Asked>, events: &mpsc::Sender<Event>, gate: &Gate) {
        let mut queue: VecDeque<Asked> = VecDeque::new();
        loop {
            if queue.is_empty() {
                match requests.recv() {
                    Ok(a) => queue.push_back(a),
                    Err(_) => return,
                }
            }
            queue.extend(requests.try_iter());
            let Some(asked) = queue.pop_front() else { continue };
            let (kind, generation) = (asked.kind, asked.generation);
            // A newer request of the same kind waits: this one would only be replaced.
            let outcome = if queue.iter().any(|a| a.kind == kind) {
                None
            } else {
                gate.pass();
                let started = Instant::now();
                let lang = asked.lang;
                let outcome = self.perform(asked).unwrap_or_else(|err| {
                    tracing::warn!("{kind:?} read failed: {err}");
                    Outcome::Error(err.in_language(lang))
                });
                tracing::debug!("{kind:?} read took {:?}", started.elapsed());
                Some(outcome)
            };
            if events.send(Event::Read(Box::new(ReadDone { kind, generation, outcome }))).is_err() {
                return;
            }
        }
    }

    /// How many conversations a view lists. The sidebar has counted the smart
    /// views (the first frame counted the open ones twice); count only what it did not.
    fn view_total(&self, view: View) -> store::Result<i64> {
        match View::SMART.iter().position(|v| *v == view) {
            Some(i) if self.view_counts.len() > i => Ok(self.view_counts[i]),
            _ => self.reader.count(view),
        }
    }

    /// Carries out one read.
    fn perform(&mut self, a: Asked) -> store::Result<Outcome> {
        self.reader.set_moment(a.moment);
        let now = a.moment.now;
        match a.effect {
            Effect::ReloadSidebar => {
                let sla = self.sla_glances(a.sla.as_deref(), a.solo, a.lang, now)?;
                let channels = self.reader.channels()?;
                let mut counts = self.reader.status()?;
                let view_counts: Vec<i64> = View::SMART
                    .iter()
                    .map(|v| match v {
                        View::AllOpen => Ok(counts.open),
                        View::Unanswered => Ok(counts.unanswered),
                        View::DueToday => Ok(counts.due_today),
                        View::Overdue => Ok(counts.overdue),
                        View::AtRisk => Ok(counts.at_risk),
                        other => self.reader.count(*other),
                    })
                    .collect::<store::Result<_>>()?;
                self.view_counts = view_counts.clone();
                // The status line counts clocks at risk with promises at risk
                // (the «Горит» view keeps to promises; «Под угрозой» lists the clocks).
                let n = |s: crate::workflow::sla::State| sla.values().filter(|g| g.state == s).count() as i64;
                counts.at_risk += n(crate::workflow::sla::State::AtRisk);
                counts.breached = n(crate::workflow::sla::State::Breached);
                Ok(Outcome::Sidebar { channels, counts, view_counts, sla })
            }
            Effect::ReloadList => {
                let rows = self.reader.conversations(a.view, a.window, WINDOW)?;
                Ok(Outcome::List { read: ListRead::Reload { total: self.view_total(a.view)? }, rows })
            }
            Effect::ListTop => {
                let rows = self.reader.conversations(a.view, Window::Top, WINDOW)?;
                Ok(Outcome::List { read: ListRead::Top { total: self.view_total(a.view)? }, rows })
            }
            Effect::ListBottom => Ok(Outcome::List {
                read: ListRead::Bottom,
                rows: self.reader.conversations(a.view, Window::Bottom, WINDOW)?,
            }),
            Effect::ListShiftDown => {
                let Some(anchor) = a.anchor else { return Ok(Outcome::Nothing) };
                let rows = self.reader.conversations(a.view, Window::From(anchor), WINDOW)?;
                Ok(Outcome::List { read: ListRead::ShiftDown { anchor }, rows })
            }
            Effect::ListShiftUp => {
                let Some(first) = a.anchor else { return Ok(Outcome::Nothing) };
                let rows = self.reader.conversations(a.view, Window::Before(first), WINDOW / 2)?;
                Ok(Outcome::List { read: ListRead::ShiftUp, rows })
            }
            Effect::LoadThread(id) => Ok(Outcome::Thread(load_thread(&self.reader, id)?)),
            Effect::ClientHint(id) => {
                // A sender pult does not know yet may be a known client.
                let Some(client) = self.reader.provisional_client(id)? else { return Ok(Outcome::Nothing) };
                let mut hint = self.suggestion_rows(Some(client), false)?.into_iter().next();
                // The header names the other client, not this one.
                if let Some(h) = &mut hint {
                    h.names.retain(|(c, _)| *c != client);
                }
                Ok(Outcome::ClientHint { conversation: id, hint })
            }
            Effect::Search(query) => {
                let hits = match self.reader.search(&query, SEARCH_LIMIT, &a.clock) {
                    Ok(hits) => hits,
                    // A query that cannot mean anything: say why, keep what is on screen.
                    Err(store::StoreError::Query(e)) => {
                        let why = if a.lang == Lang::Ru { e.russian() } else { e.to_string() };
                        return Ok(Outcome::Error(format!("{}: {why}", a.lang.tr("search"))));
                    }
                    Err(e) => return Err(e),
                };
                let terms = crate::store::search::terms_of(&query, a.clock.zoned(now).date());
                Ok(Outcome::Search { query, hits, terms })
            }
            Effect::MarkAll(view) => Ok(Outcome::MarkedAll(self.reader.conversation_ids(view)?)),
            Effect::History(conversation) => {
                Ok(Outcome::History(self.reader.conversation_audit(conversation, &a.clock)?))
            }
            Effect::CheckPromise { conversation, redate } => {
                Ok(Outcome::Promise { redate, state: self.reader.promise_state(conversation)? })
            }
            Effect::ClientsList => {
                let mut clients = self.reader.clients()?;
                // Who needs attention first: overdue, then waiting.
                clients.sort_by_key(|c| {
                    (-c.overdue, -c.waiting, c.organisation.clone().unwrap_or_else(|| c.name.clone()))
                });
                let suggestions = self.suggestion_rows(None, true)?;
                Ok(Outcome::Clients { clients, suggestions })
            }
            Effect::FindClient(name) => match self.reader.find_client(&name)? {
                Some(id) => Ok(Outcome::ClientFound(id)),
                None => Ok(Outcome::Info(format!("{}: {}", a.lang.tr("no_such_client"), crate::sanitize::line(&name)))),
            },
            Effect::ClientCard(conversation) => {
                let Some(client) = self.reader.client_of(conversation)? else {
                    return Ok(Outcome::Info(a.lang.tr("no_client").into()));
                };
                self.client_card(client)
            }
            Effect::ShowClient(client) => self.client_card(client),
            other => {
                tracing::error!("not a read: {other:?}");
                Ok(Outcome::Nothing)
            }
        }
    }

    /// A client's card, with the merge suggestions that name the client.
    fn client_card(&mut self, client: i64) -> store::Result<Outcome> {
        let Some(card) = self.reader.client(client)? else { return Ok(Outcome::Nothing) };
        let suggestions = self.suggestion_rows(Some(card.summary.id), true)?;
        Ok(Outcome::Card { card, suggestions })
    }

    /// Pending suggestions (those naming `client`, when given) with the names
    /// of their clients; `fresh` computes them again, else a minute's old do.
    fn suggestion_rows(&mut self, client: Option<i64>, fresh: bool) -> store::Result<Vec<SuggestionRow>> {
        let all = match &self.suggestions {
            Some((at, all)) if !fresh && at.elapsed() < Duration::from_secs(60) => all.clone(),
            _ => {
                let all = self.reader.client_suggestions()?;
                self.suggestions = Some((Instant::now(), all.clone()));
                all
            }
        };
        let names = self.reader.client_names()?;
        Ok(all
            .into_iter()
            .filter(|s| client.is_none_or(|c| s.clients.contains(&c)))
            .map(|suggestion| {
                let known = |id: &i64| names.get(id).is_some_and(|n| !n.1);
                // Into a client someone already looked at: the card's own when it
                // is one, else the first such; a new sender's fields never win.
                let into = client
                    .filter(known)
                    .or_else(|| suggestion.clients.iter().copied().find(known))
                    .or(client)
                    .or_else(|| suggestion.clients.first().copied())
                    .unwrap_or_default();
                let names = suggestion
                    .clients
                    .iter()
                    .map(|id| (*id, names.get(id).map(|n| n.0.clone()).unwrap_or_default()))
                    .collect();
                SuggestionRow { suggestion, names, into }
            })
            .collect())
    }

    /// The response-time clocks of every open conversation where one may
    /// run, at `now`; the SLA views list what this finds. Empty without
    /// policies. The config's `[[sla]]` tables are recorded in the store the
    /// first time (a change counts for clocks that start after it).
    fn sla_glances(
        &mut self,
        setup: Option<&SlaSetup>,
        solo: bool,
        lang: Lang,
        now: i64,
    ) -> store::Result<HashMap<i64, crate::workflow::sla::Glance>> {
        use crate::workflow::sla;
        let Some(setup) = setup else {
            self.sla = None;
            self.reader.set_sla(Vec::new(), Vec::new());
            return Ok(Default::default());
        };
        if self.sla.as_ref().is_none_or(|(t, _)| *t != setup.tables) {
            let (json, actor) = (setup.tables.clone(), self.reader.actor().to_string());
            self.writer.call_blocking(move |c| store::sla::record_policies(c, &json, &actor, now))?;
            let stored: Vec<(i64, i64, String)> =
                self.reader.sla_policy_versions()?.into_iter().map(|v| (v.id, v.effective_from, v.policies)).collect();
            let ctx = crate::sla_cli::SlaContext::new(&setup.config, setup.calendar.clone(), &setup.templates, &stored);
            self.sla = Some((setup.tables.clone(), ctx));
        }
        let Some((_, ctx)) = &self.sla else { return Ok(Default::default()) };
        let candidates = self.reader.sla_candidates()?;
        let glances: HashMap<i64, sla::Glance> = ctx
            .evaluate(&self.reader, &candidates, now)?
            .iter()
            .filter_map(|(f, s)| Some((f.conversation, sla::glance(f, s, now)?)))
            .collect();
        let ids = |state: sla::State| {
            let mut v: Vec<i64> = glances.iter().filter(|(_, g)| g.state == state).map(|(id, _)| *id).collect();
            v.sort_unstable();
            v
        };
        self.reader.set_sla(ids(sla::State::AtRisk), ids(sla::State::Breached));
        // The process that runs the workers nudges the team (a daemon does it itself).
        if solo && let Err(e) = crate::sla_cli::escalate(&self.writer, &self.reader, ctx, lang, now) {
            tracing::warn!("escalations: {e}");
        }
        Ok(glances)
    }
}
