//! Response-time policies (SLA): which policy covers a conversation and, from
//! the conversation's events, when each of its clocks is due and how it stands,
//! counted in working time.
//!
//! Pure functions over events: the store gathers the facts (`store::sla`) and
//! this module never asks it anything, so the same computation stands above
//! any store engine (SQLite today, PostgreSQL later).
//!
//! The clocks, per conversation:
//! - first response: from the first client message that asks something;
//! - next response: from each later client message that asks something,
//!   while no clock of the two runs («спасибо» and automatic mail ask nothing);
//! - keep informed: while a promise is open, from the last thing that reached
//!   the client (or the promise) — silence longer than the target breaches it;
//! - the promise itself: due at the deadline told to the client.
//!
//! A response clock stops only at a person's message that reached the client
//! (sent, delivered or read; never a note, an automatic reply, the rules
//! message, a failed or maybe-sent one). A pause (with its reason) stops every
//! clock until the client writes or a person ends it; paused working time
//! moves the due time and is shown apart.

use crate::config::{Config, SlaPolicy as PolicyConfig};
use crate::model::ChannelKind;
use crate::workflow::calendar::Calendar;
use serde::Serialize;

/// A policy as configured, its durations in working seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    pub id: String,
    pub matcher: Option<Matcher>,
    pub first_response: Option<i64>,
    pub next_response: Option<i64>,
    pub keep_informed: Option<i64>,
    /// Share of the target (percent) from which a clock is at risk.
    pub warn_at: u32,
    /// Count in the client's own hours (`calendar = "client"`).
    pub client_calendar: bool,
    pub escalate: Vec<Escalation>,
}

/// Every condition given must hold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matcher {
    pub tag: Option<String>,
    pub kinds: Vec<ChannelKind>,
    pub channel: Option<String>,
    pub client: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    /// Percent of the clock's target.
    pub at: u32,
    pub to: EscalateTo,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EscalateTo {
    /// The conversation's responsible person (its assignee).
    Responsible,
    Person(String),
}

/// The default share of the target from which a clock is at risk.
pub const DEFAULT_WARN_AT: u32 = 75;

/// «30m», «2h», «1h30m», «2d» (working days of `day_secs` each), also
/// «30м», «2ч», «2д»: working seconds.
pub fn parse_duration(text: &str, day_secs: i64) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration like 30m, 2h, 1h30m or 2d");
    let mut total = 0i64;
    let mut number = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        if c.is_whitespace() {
            continue;
        }
        let n: i64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            'm' | 'м' => 60,
            'h' | 'ч' => 3600,
            'd' | 'д' => day_secs,
            _ => return Err(bad()),
        };
        total = total.checked_add(n.checked_mul(unit).ok_or_else(bad)?).ok_or_else(bad)?;
        any = true;
    }
    if !number.is_empty() || !any || total <= 0 {
        return Err(bad());
    }
    Ok(total)
}

/// «75%» → 75.
pub fn parse_percent(text: &str) -> Result<u32, String> {
    text.trim()
        .strip_suffix('%')
        .and_then(|n| n.trim().parse::<u32>().ok())
        .filter(|n| (1..=1000).contains(n))
        .ok_or_else(|| format!("{text:?} is not a share like 75%"))
}

impl Policy {
    /// One `[[sla]]` table; `day_secs` is the team's usual working day («1d»).
    pub fn from_config(p: &PolicyConfig, day_secs: i64) -> Result<Policy, String> {
        let at = |what: &str, e: String| format!("[[sla]] {:?}: `{what}`: {e}", p.id);
        let duration = |what: &str, v: &Option<String>| {
            v.as_deref().map(|t| parse_duration(t, day_secs).map_err(|e| at(what, e))).transpose()
        };
        let matcher = match &p.matches {
            None => None,
            Some(m) => {
                let mut kinds = Vec::new();
                for k in m.kind.iter().flatten() {
                    kinds.push(
                        ChannelKind::parse(k)
                            .ok_or_else(|| at("kind", format!("{k:?} is not email, telegram or whatsapp")))?,
                    );
                }
                Some(Matcher { tag: m.tag.clone(), kinds, channel: m.channel.clone(), client: m.client })
            }
        };
        let client_calendar = match p.calendar.as_deref() {
            None | Some("team") => false,
            Some("client") => true,
            Some(_) => return Err(at("calendar", "must be team or client".into())),
        };
        let mut escalate = Vec::new();
        for e in &p.escalate {
            let to = match e.to.trim() {
                "" => return Err(at("escalate", "`to` names nobody".into())),
                "responsible" => EscalateTo::Responsible,
                name => EscalateTo::Person(name.to_string()),
            };
            escalate.push(Escalation { at: parse_percent(&e.at).map_err(|e| at("escalate", e))?, to });
        }
        escalate.sort_by_key(|e| e.at);
        Ok(Policy {
            id: p.id.clone(),
            matcher,
            first_response: duration("first_response", &p.first_response)?,
            next_response: duration("next_response", &p.next_response)?,
            keep_informed: duration("keep_informed", &p.keep_informed)?,
            warn_at: p
                .warn_at
                .as_deref()
                .map(parse_percent)
                .transpose()
                .map_err(|e| at("warn_at", e))?
                .unwrap_or(DEFAULT_WARN_AT),
            client_calendar,
            escalate,
        })
    }

    fn matches(&self, f: &Subject<'_>) -> bool {
        let Some(m) = &self.matcher else { return true };
        m.tag.as_ref().is_none_or(|t| f.tags.iter().any(|x| x.to_lowercase() == t.to_lowercase()))
            && (m.kinds.is_empty() || m.kinds.contains(&f.kind))
            && m.channel.as_ref().is_none_or(|c| c == f.channel)
            && m.client.is_none_or(|c| Some(c) == f.client)
    }
}

/// The config's policies, in order.
pub fn policies(cfg: &Config, calendar: &Calendar) -> Result<Vec<Policy>, String> {
    cfg.sla.iter().map(|p| Policy::from_config(p, calendar.usual_day_seconds())).collect()
}

/// What a policy is matched on.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub kind: ChannelKind,
    pub channel: &'a str,
    pub client: Option<i64>,
    pub tags: &'a [String],
}

/// First match wins; None: no clocks for this conversation.
pub fn policy_for<'p>(policies: &'p [Policy], subject: &Subject<'_>) -> Option<&'p Policy> {
    policies.iter().find(|p| p.matches(subject))
}

/// One conversation as the clocks see it (gathered by `store::sla`).
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub conversation: i64,
    pub kind: ChannelKind,
    pub channel: String,
    /// The client (after merges).
    pub client: Option<i64>,
    pub client_name: Option<String>,
    pub tags: Vec<String>,
    pub assignee: Option<String>,
    /// A chat seen through a person's own account (Telegram Business).
    pub business: bool,
    pub last_client_at: Option<i64>,
    /// The client's own time zone and hours (their card), for `calendar = "client"`.
    pub client_hours: Option<String>,
    pub events: Vec<Event>,
}

impl Facts {
    /// The calendar a policy counts in for this conversation: the team's, or
    /// the client's own hours when the policy says so and the card has them.
    pub fn calendar_for(&self, policy: &Policy, team: &Calendar) -> Calendar {
        match (&self.client_hours, policy.client_calendar) {
            (Some(spec), true) => team.for_client(spec).unwrap_or_else(|_| team.clone()),
            _ => team.clone(),
        }
    }

    pub fn subject(&self) -> Subject<'_> {
        Subject { kind: self.kind, channel: &self.channel, client: self.client, tags: &self.tags }
    }

    /// Seconds after the client's last message within which a free reply may
    /// go: WhatsApp's 24 hours, a Telegram Business chat's 24 hours.
    pub fn reply_window(&self) -> Option<i64> {
        crate::channels::registry::limits(self.kind).reply_window.or(self.business.then_some(24 * 3600))
    }
}

/// The policies as they were over time: a clock counts under the version in
/// effect when it started (the newest version recorded for that moment).
#[derive(Debug, Clone, PartialEq)]
pub struct Versions {
    /// (id, effective from, policies), by id.
    list: Vec<(i64, i64, Vec<Policy>)>,
}

impl Versions {
    /// Only the config's policies, for every clock.
    pub fn current(policies: Vec<Policy>) -> Versions {
        Versions { list: vec![(0, i64::MIN, policies)] }
    }

    /// Stored versions (id, effective from, the `[[sla]]` tables as JSON);
    /// `current` stands in when none is stored yet.
    pub fn from_stored(stored: &[(i64, i64, String)], current: Vec<Policy>, day_secs: i64) -> Versions {
        let mut list = Vec::new();
        for (id, from, json) in stored {
            // A version this build cannot read (a newer pult wrote it) is skipped, not fatal.
            let Ok(tables) = serde_json::from_str::<Vec<PolicyConfig>>(json) else { continue };
            let Ok(policies) = tables.iter().map(|p| Policy::from_config(p, day_secs)).collect() else { continue };
            list.push((*id, *from, policies));
        }
        if list.is_empty() {
            return Versions::current(current);
        }
        list.sort_by_key(|v| v.0);
        Versions { list }
    }

    /// Whether no version has any policy (then there are no clocks at all).
    pub fn is_empty(&self) -> bool {
        self.list.iter().all(|v| v.2.is_empty())
    }

    fn index_at(&self, t: i64) -> usize {
        self.list.iter().enumerate().filter(|(_, v)| v.1 <= t).max_by_key(|(_, v)| v.0).map(|(i, _)| i).unwrap_or(0)
    }

    /// The policy covering `subject` at `t`.
    pub fn policy_at(&self, subject: &Subject<'_>, t: i64) -> Option<&Policy> {
        policy_for(&self.list.get(self.index_at(t))?.2, subject)
    }
}

/// `[[sla]]` tables as stored in a version.
pub fn tables_json(cfg: &Config) -> String {
    serde_json::to_string(&cfg.sla).unwrap_or_else(|_| "[]".into())
}

/// Every clock of one conversation, each under the policy of its own start;
/// None when no policy ever covered it.
pub fn evaluate(versions: &Versions, facts: &Facts, calendar: &Calendar, now: i64) -> Option<Sla> {
    let subject = facts.subject();
    if versions.list.len() == 1 {
        let policy = policy_for(&versions.list[0].2, &subject)?;
        return Some(compute(policy, &facts.events, &facts.calendar_for(policy, calendar), now));
    }
    let current = versions.index_at(now);
    let mut result: Option<Sla> = None;
    for (i, (_, _, policies)) in versions.list.iter().enumerate() {
        let Some(policy) = policy_for(policies, &subject) else { continue };
        let sla = compute(policy, &facts.events, &facts.calendar_for(policy, calendar), now);
        let kept: Vec<Clock> = sla.clocks.iter().filter(|c| versions.index_at(c.started) == i).cloned().collect();
        let r = result.get_or_insert_with(|| Sla { clocks: Vec::new(), ..sla.clone() });
        r.clocks.extend(kept);
        if i == current {
            r.policy = policy.id.clone();
        }
    }
    let mut r = result?;
    r.clocks.sort_by_key(|c| (c.started, c.kind as u8));
    Some(r)
}

/// Why a person paused the clocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PauseReason {
    /// Waiting for the client's documents.
    Documents,
    Payment,
    Signature,
    /// Waiting for the client's answer.
    Answer,
    Other,
}

impl PauseReason {
    pub const ALL: [PauseReason; 5] =
        [PauseReason::Documents, PauseReason::Payment, PauseReason::Signature, PauseReason::Answer, PauseReason::Other];

    pub fn as_str(self) -> &'static str {
        match self {
            PauseReason::Documents => "documents",
            PauseReason::Payment => "payment",
            PauseReason::Signature => "signature",
            PauseReason::Answer => "answer",
            PauseReason::Other => "other",
        }
    }

    pub fn parse(s: &str) -> Option<PauseReason> {
        PauseReason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// One thing that happened in a conversation, as the clocks see it.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The client wrote; `asks` unless it is a «спасибо» or automatic mail
    /// (a report, a list): those never start a clock, but end a pause.
    Client {
        at: i64,
        asks: bool,
    },
    /// A person's message reached the client (sent or better).
    Reached {
        at: i64,
    },
    /// A promise with the deadline told to the client.
    Promise {
        at: i64,
        task: i64,
        deadline: i64,
    },
    /// A promise given a new deadline (`R`), with what the client was told.
    Moved {
        at: i64,
        task: i64,
        deadline: i64,
        reason: Option<String>,
    },
    /// A promise reported done (`done`) or cancelled.
    Closed {
        at: i64,
        task: i64,
        done: bool,
    },
    Pause {
        at: i64,
        reason: PauseReason,
    },
    Resume {
        at: i64,
    },
}

impl Event {
    pub fn at(&self) -> i64 {
        match self {
            Event::Client { at, .. }
            | Event::Reached { at }
            | Event::Promise { at, .. }
            | Event::Moved { at, .. }
            | Event::Closed { at, .. }
            | Event::Pause { at, .. }
            | Event::Resume { at } => *at,
        }
    }

    /// Order within one second: the client's message first (a reply in the
    /// same second answers it); a pause ended in the second it began ends it.
    fn rank(&self) -> u8 {
        match self {
            Event::Client { .. } => 0,
            Event::Resume { .. } => 6,
            // The acceptance reaches the client, then its promise opens.
            Event::Reached { .. } => 2,
            Event::Promise { .. } | Event::Moved { .. } => 3,
            Event::Closed { .. } => 4,
            Event::Pause { .. } => 5,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    FirstResponse,
    NextResponse,
    KeepInformed,
    Promise,
}

impl ClockKind {
    /// Its name in the catalogue (`i18n`).
    pub fn text_key(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "sla_first_response",
            ClockKind::NextResponse => "sla_next_response",
            ClockKind::KeepInformed => "sla_keep_informed",
            ClockKind::Promise => "sla_promise",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::FirstResponse => "first_response",
            ClockKind::NextResponse => "next_response",
            ClockKind::KeepInformed => "keep_informed",
            ClockKind::Promise => "promise",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Stopped within its target.
    Met,
    /// Stopped while a pause holds it (no due time until it ends).
    Paused,
    Ok,
    AtRisk,
    /// Past its due time, running or stopped late.
    Breached,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Met => "met",
            State::Paused => "paused",
            State::Ok => "ok",
            State::AtRisk => "at_risk",
            State::Breached => "breached",
        }
    }
}

/// One clock of a conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Clock {
    pub kind: ClockKind,
    pub started: i64,
    /// Working seconds allowed (for a promise: from acceptance to the deadline).
    pub target: i64,
    /// None while a pause holds the clock.
    pub due: Option<i64>,
    /// When it stopped: the answer that reached the client, the promise kept.
    pub stopped: Option<i64>,
    /// Working seconds used, pauses left out, until it stopped or until now.
    pub elapsed: i64,
    pub paused: i64,
    pub state: State,
    /// A promise's task.
    pub task: Option<i64>,
    /// A promise moved to a later deadline: the reasons told to the client.
    pub moved: Vec<Option<String>>,
}

impl Clock {
    pub fn running(&self) -> bool {
        self.stopped.is_none()
    }

    /// Share of the target used, in percent.
    pub fn percent(&self) -> i64 {
        if self.target <= 0 { 100 } else { self.elapsed * 100 / self.target }
    }
}

/// A pause as it happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PauseSpan {
    pub reason: PauseReason,
    pub start: i64,
    pub end: Option<i64>,
    /// Set while the client was waiting for an answer: a pause that hides a
    /// wait, flagged in reports.
    pub over_waiting_client: bool,
    /// Working seconds it held, until it ended or until now.
    pub working: i64,
}

/// Every clock of one conversation under its policy, at `now`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sla {
    pub policy: String,
    pub clocks: Vec<Clock>,
    pub pauses: Vec<PauseSpan>,
    /// Working seconds paused in all.
    pub paused: i64,
}

impl Sla {
    /// The clocks still running, the most urgent first.
    pub fn running(&self) -> impl Iterator<Item = &Clock> {
        self.clocks.iter().filter(|c| c.running())
    }

    /// How the conversation stands: the worst running response or
    /// keep-informed clock (promises have their own marks).
    pub fn mark(&self) -> Option<State> {
        self.running().filter(|c| c.kind != ClockKind::Promise).map(|c| c.state).max()
    }

    /// The running clock a person should look at first: breached, then the
    /// nearest due.
    pub fn current(&self) -> Option<&Clock> {
        self.running()
            .filter(|c| c.kind != ClockKind::Promise)
            .max_by_key(|c| (c.state, std::cmp::Reverse(c.due.unwrap_or(i64::MAX))))
    }

    pub fn paused_now(&self) -> Option<&PauseSpan> {
        self.pauses.iter().find(|p| p.end.is_none())
    }
}

/// The clocks of one conversation under `policy`, from its events, at `now`
/// (events after `now` are not seen). `calendar` is the policy's calendar.
pub fn compute(policy: &Policy, events: &[Event], calendar: &Calendar, now: i64) -> Sla {
    let mut events: Vec<&Event> = events.iter().filter(|e| e.at() <= now).collect();
    events.sort_by_key(|e| (e.at(), e.rank()));
    let mut pauses: Vec<PauseSpan> = Vec::new();
    struct Raw {
        kind: ClockKind,
        start: i64,
        stop: Option<i64>,
        task: Option<i64>,
        deadline: Option<i64>,
        moved: Vec<Option<String>>,
        /// A cancelled promise: no longer the team's to keep.
        dropped: bool,
    }
    let mut raw: Vec<Raw> = Vec::new();
    let mut response: Option<usize> = None;
    let mut informed: Option<usize> = None;
    let mut open: Vec<(i64, usize)> = Vec::new();
    let mut first_seen = false;
    for e in events {
        match *e {
            Event::Client { at, asks } => {
                if let Some(p) = pauses.last_mut().filter(|p| p.end.is_none()) {
                    p.end = Some(at);
                }
                if asks && response.is_none() {
                    let kind = if first_seen { ClockKind::NextResponse } else { ClockKind::FirstResponse };
                    first_seen = true;
                    let target = match kind {
                        ClockKind::FirstResponse => policy.first_response,
                        _ => policy.next_response,
                    };
                    if target.is_some() {
                        raw.push(Raw {
                            kind,
                            start: at,
                            stop: None,
                            task: None,
                            deadline: None,
                            moved: Vec::new(),
                            dropped: false,
                        });
                        response = Some(raw.len() - 1);
                    }
                }
            }
            Event::Reached { at } => {
                if let Some(i) = response.take() {
                    raw[i].stop = Some(at);
                }
                if !open.is_empty() {
                    if let Some(i) = informed.take() {
                        raw[i].stop = Some(at);
                    }
                    if policy.keep_informed.is_some() {
                        raw.push(Raw {
                            kind: ClockKind::KeepInformed,
                            start: at,
                            stop: None,
                            task: None,
                            deadline: None,
                            moved: Vec::new(),
                            dropped: false,
                        });
                        informed = Some(raw.len() - 1);
                    }
                }
            }
            Event::Promise { at, task, deadline } => {
                raw.push(Raw {
                    kind: ClockKind::Promise,
                    start: at,
                    stop: None,
                    task: Some(task),
                    deadline: Some(deadline),
                    moved: Vec::new(),
                    dropped: false,
                });
                open.push((task, raw.len() - 1));
                if informed.is_none() && policy.keep_informed.is_some() {
                    raw.push(Raw {
                        kind: ClockKind::KeepInformed,
                        start: at,
                        stop: None,
                        task: None,
                        deadline: None,
                        moved: Vec::new(),
                        dropped: false,
                    });
                    informed = Some(raw.len() - 1);
                }
            }
            Event::Moved { task, deadline, ref reason, .. } => {
                if let Some((_, i)) = open.iter().find(|(t, _)| *t == task) {
                    raw[*i].deadline = Some(deadline);
                    raw[*i].moved.push(reason.clone());
                }
            }
            Event::Closed { at, task, done } => {
                if let Some(pos) = open.iter().position(|(t, _)| *t == task) {
                    let (_, i) = open.remove(pos);
                    raw[i].stop = Some(at);
                    raw[i].dropped = !done;
                }
                if open.is_empty()
                    && let Some(i) = informed.take()
                {
                    raw[i].stop = Some(at);
                }
            }
            Event::Pause { at, reason } => {
                if pauses.last().is_none_or(|p| p.end.is_some()) {
                    pauses.push(PauseSpan {
                        reason,
                        start: at,
                        end: None,
                        over_waiting_client: response.is_some(),
                        working: 0,
                    });
                }
            }
            Event::Resume { at } => {
                if let Some(p) = pauses.last_mut().filter(|p| p.end.is_none()) {
                    p.end = Some(at);
                }
            }
        }
    }
    let spans: Vec<(i64, Option<i64>)> = pauses.iter().map(|p| (p.start, p.end)).collect();
    let clocks = raw
        .into_iter()
        // A keep-informed clock that stopped as it started (the «Выполнено» that
        // closed the promise) measured nothing.
        .filter(|r| !(r.dropped || (r.kind == ClockKind::KeepInformed && r.stop == Some(r.start))))
        .map(|r| {
            let until = r.stop.unwrap_or(now);
            let paused = paused_within(calendar, &spans, r.start, until);
            let elapsed = (calendar.working_seconds(r.start, until) - paused).max(0);
            let (target, due) = match r.kind {
                ClockKind::Promise => {
                    let deadline = r.deadline.unwrap_or(r.start);
                    (calendar.working_seconds(r.start, deadline), Some(deadline))
                }
                kind => {
                    let target = match kind {
                        ClockKind::FirstResponse => policy.first_response,
                        ClockKind::NextResponse => policy.next_response,
                        _ => policy.keep_informed,
                    }
                    .unwrap_or(0);
                    (target, due_after(calendar, &spans, r.start, target))
                }
            };
            let state = match (r.stop, due) {
                (Some(stop), Some(due)) => {
                    if stop <= due {
                        State::Met
                    } else {
                        State::Breached
                    }
                }
                // Stopped during a pause that has not ended: it was in time.
                (Some(_), None) => State::Met,
                (None, None) => State::Paused,
                (None, Some(due)) if now >= due => State::Breached,
                (None, Some(_)) if spans.iter().any(|(s, e)| e.is_none() && *s <= now) => State::Paused,
                (None, Some(_)) => {
                    if r.kind == ClockKind::Promise {
                        // A promise is at risk within two working hours of its deadline,
                        // as the «at risk» view says.
                        let left = calendar.working_seconds(now, r.deadline.unwrap_or(now));
                        if left <= 2 * 3600 { State::AtRisk } else { State::Ok }
                    } else if target > 0 && elapsed * 100 >= target * i64::from(policy.warn_at) {
                        State::AtRisk
                    } else {
                        State::Ok
                    }
                }
            };
            Clock {
                kind: r.kind,
                started: r.start,
                target,
                due,
                stopped: r.stop,
                elapsed,
                paused,
                state,
                task: r.task,
                moved: r.moved,
            }
        })
        .collect();
    for p in pauses.iter_mut() {
        p.working = calendar.working_seconds(p.start, p.end.unwrap_or(now).min(now));
    }
    let paused = pauses.iter().map(|p| p.working).sum();
    Sla { policy: policy.id.clone(), clocks, pauses, paused }
}

/// Working seconds of the pauses that fall between `from` and `to`.
fn paused_within(calendar: &Calendar, spans: &[(i64, Option<i64>)], from: i64, to: i64) -> i64 {
    spans
        .iter()
        .map(|(s, e)| {
            let (s, e) = ((*s).max(from), e.unwrap_or(i64::MAX).min(to));
            calendar.working_seconds(s, e)
        })
        .sum()
}

/// When `target` working seconds after `start` are used up, pauses left out;
/// None while a pause that began before then has not ended.
fn due_after(calendar: &Calendar, spans: &[(i64, Option<i64>)], start: i64, target: i64) -> Option<i64> {
    let mut from = start;
    let mut left = target;
    for (s, e) in spans {
        let end = match e {
            Some(e) if *e <= from => continue,
            e => *e,
        };
        let s = (*s).max(from);
        let candidate = calendar.after_working_seconds(from, left);
        if candidate <= s {
            return Some(candidate);
        }
        left -= calendar.working_seconds(from, s);
        from = end?;
    }
    Some(calendar.after_working_seconds(from, left))
}

/// Seconds until a channel's reply window closes, when it closes before the
/// clock's due time (or the clock is past due already) and is still open at
/// `now`: after it only a template goes (WhatsApp), or nothing (Telegram Business).
pub fn window_closes_first(
    window: Option<i64>,
    last_client_at: Option<i64>,
    due: Option<i64>,
    now: i64,
) -> Option<i64> {
    let closes = last_client_at? + window?;
    (closes > now && due.is_none_or(|d| closes < d || d <= now)).then_some(closes - now)
}

/// What tells the rules message (which answers nothing) from a reply: the
/// first sentence of the rules template, before any variable.
pub fn rules_marker(template_text: &str) -> Option<String> {
    let head = template_text.split('{').next().unwrap_or("");
    let sentence = match head.find(['.', '!', '\n']) {
        Some(i) => &head[..i],
        None => head,
    };
    let sentence = sentence.trim();
    (sentence.chars().count() >= 20).then(|| sentence.to_string())
}

/// What a list row and a thread header say of a conversation's clocks.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    /// The worst running clock.
    pub state: State,
    /// The clock a person should look at first, and its figures.
    pub kind: ClockKind,
    pub elapsed: i64,
    pub target: i64,
    pub due: Option<i64>,
    /// Seconds until the channel's reply window closes, when it closes before `due`.
    pub window_left: Option<i64>,
    pub channel: ChannelKind,
    pub paused: Option<PauseReason>,
    /// The client, for a notification.
    pub who: Option<String>,
}

/// None when no clock runs.
pub fn glance(facts: &Facts, sla: &Sla, now: i64) -> Option<Glance> {
    let state = sla.mark()?;
    let c = sla.current()?;
    Some(Glance {
        state,
        kind: c.kind,
        elapsed: c.elapsed,
        target: c.target,
        due: c.due,
        window_left: window_closes_first(facts.reply_window(), facts.last_client_at, c.due, now),
        channel: facts.kind,
        paused: sla.paused_now().map(|p| p.reason),
        who: facts.client_name.clone(),
    })
}

/// An escalation whose threshold a running clock has passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Nudge {
    pub kind: ClockKind,
    pub started: i64,
    pub at: u32,
    pub to: EscalateTo,
}

/// The escalations due for the running response and keep-informed clocks:
/// each threshold passed (100 %, 150 % …). Only in working hours: a nudge
/// never wakes anyone at night; the caller remembers which were written.
pub fn nudges(policy: &Policy, sla: &Sla, calendar: &Calendar, now: i64) -> Vec<Nudge> {
    if !calendar.is_working_time(now) {
        return Vec::new();
    }
    let mut out = Vec::new();
    for c in sla.running().filter(|c| c.kind != ClockKind::Promise && c.state != State::Paused) {
        for e in &policy.escalate {
            if c.target > 0 && c.elapsed * 100 >= c.target * i64::from(e.at) {
                out.push(Nudge { kind: c.kind, started: c.started, at: e.at, to: e.to.clone() });
            }
        }
    }
    out
}

/// «1 ч 20 мин», «4 ч», «35 мин» (or English) from seconds.
pub fn human_minutes(secs: i64, russian: bool) -> String {
    let m = secs.max(0) / 60;
    let (h, m) = (m / 60, m % 60);
    let (hu, mu) = if russian { ("ч", "мин") } else { ("h", "min") };
    match (h, m) {
        (0, m) => format!("{m} {mu}"),
        (h, 0) => format!("{h} {hu}"),
        (h, m) => format!("{h} {hu} {m} {mu}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn cal() -> Calendar {
        let mut c = Calendar::standard(TimeZone::get("Europe/Moscow").expect("tz"));
        // A shortened pre-holiday Tuesday, a holiday Wednesday, a working Saturday.
        c.load_holidays("2026-11-03 short\n2026-11-04\n2026-11-07 work\n").expect("file");
        c
    }

    fn t(s: &str) -> i64 {
        let dt: jiff::civil::DateTime = s.parse().expect("datetime");
        dt.to_zoned(TimeZone::get("Europe/Moscow").expect("tz")).expect("zoned").timestamp().as_second()
    }

    fn policy() -> Policy {
        Policy {
            id: "vip".into(),
            matcher: None,
            first_response: Some(4 * 3600),
            next_response: Some(2 * 3600),
            keep_informed: Some(9 * 3600),
            warn_at: 75,
            client_calendar: false,
            escalate: vec![
                Escalation { at: 100, to: EscalateTo::Responsible },
                Escalation { at: 150, to: EscalateTo::Person("Ольга".into()) },
            ],
        }
    }

    #[test]
    fn durations_and_shares() {
        assert_eq!(parse_duration("30m", 9 * 3600), Ok(1800));
        assert_eq!(parse_duration("1h30m", 9 * 3600), Ok(5400));
        assert_eq!(parse_duration("2d", 9 * 3600), Ok(18 * 3600));
        assert_eq!(parse_duration("2ч", 9 * 3600), Ok(7200));
        assert!(parse_duration("2 weeks", 9 * 3600).is_err());
        assert!(parse_duration("0m", 9 * 3600).is_err());
        assert!(parse_duration("30", 9 * 3600).is_err());
        assert_eq!(parse_percent("75%"), Ok(75));
        assert!(parse_percent("75").is_err());
    }

    #[test]
    fn first_match_wins_and_no_match_means_no_clocks() {
        let tags = vec!["VIP".to_string()];
        let vip = Policy { matcher: Some(Matcher { tag: Some("vip".into()), ..Default::default() }), ..policy() };
        let chats = Policy {
            id: "chats".into(),
            matcher: Some(Matcher { kinds: vec![ChannelKind::Whatsapp, ChannelKind::Telegram], ..Default::default() }),
            ..policy()
        };
        let list = [vip, chats];
        let s = |kind, tags| Subject { kind, channel: "office", client: Some(3), tags };
        assert_eq!(policy_for(&list, &s(ChannelKind::Email, &tags)).map(|p| p.id.as_str()), Some("vip"));
        assert_eq!(policy_for(&list, &s(ChannelKind::Telegram, &[])).map(|p| p.id.as_str()), Some("chats"));
        assert_eq!(policy_for(&list, &s(ChannelKind::Email, &[])), None);
    }

    /// Monday 16:00 a question (first response, 4 h): due Tuesday 11:00. The
    /// answer at 10:30 Tuesday is in time; a second question at 16:00 Tuesday
    /// (2 h, the day ends at 17:00 before the holiday) is due Thursday 10:00.
    #[test]
    fn clocks_skip_nights_holidays_and_the_short_day() {
        let c = cal();
        let events = [
            Event::Client { at: t("2026-11-02T16:00"), asks: true },
            Event::Reached { at: t("2026-11-03T10:30") },
            Event::Client { at: t("2026-11-03T16:00"), asks: true },
            Event::Client { at: t("2026-11-03T16:10"), asks: false },
        ];
        let sla = compute(&policy(), &events, &c, t("2026-11-05T09:40"));
        assert_eq!(sla.clocks.len(), 2);
        let first = &sla.clocks[0];
        assert_eq!(
            (first.kind, first.due, first.state),
            (ClockKind::FirstResponse, Some(t("2026-11-03T11:00")), State::Met)
        );
        assert_eq!(first.elapsed, 3 * 3600 + 1800);
        let next = &sla.clocks[1];
        assert_eq!((next.kind, next.due), (ClockKind::NextResponse, Some(t("2026-11-05T10:00"))));
        // 1 h on Tuesday + 40 min on Thursday = 100 min of 120: at risk.
        assert_eq!((next.elapsed, next.state), (100 * 60, State::AtRisk));
        assert_eq!(sla.mark(), Some(State::AtRisk));
        let later = compute(&policy(), &events, &c, t("2026-11-05T10:00"));
        assert_eq!(later.mark(), Some(State::Breached));
    }

    #[test]
    fn a_pause_holds_the_clock_until_the_client_writes() {
        let c = cal();
        let events = [
            Event::Client { at: t("2026-11-02T10:00"), asks: true },
            Event::Reached { at: t("2026-11-02T10:20") },
            Event::Promise { at: t("2026-11-02T10:20"), task: 7, deadline: t("2026-11-06T18:00") },
            Event::Pause { at: t("2026-11-02T12:00"), reason: PauseReason::Documents },
        ];
        let sla = compute(&policy(), &events, &c, t("2026-11-05T12:00"));
        let ki = sla.clocks.iter().find(|c| c.kind == ClockKind::KeepInformed).expect("keep informed");
        assert_eq!((ki.state, ki.due), (State::Paused, None));
        assert_eq!(ki.elapsed, 3600 + 1800 + 10 * 60);
        // The client sends the documents Thursday 14:00: the pause ends, 9 h of
        // keep-informed count again from there, 1 h 40 min already used.
        let mut more = events.to_vec();
        more.push(Event::Client { at: t("2026-11-05T14:00"), asks: false });
        let sla = compute(&policy(), &more, &c, t("2026-11-05T15:00"));
        assert_eq!(sla.pauses[0].end, Some(t("2026-11-05T14:00")));
        assert!(!sla.pauses[0].over_waiting_client);
        let ki = sla.clocks.iter().find(|c| c.kind == ClockKind::KeepInformed).expect("keep informed");
        // Left: 9 h - 1 h 40 min = 7 h 20 min from Thursday 14:00 → 4 h Thursday,
        // 3 h 20 min Friday → Friday 12:20.
        assert_eq!(ki.due, Some(t("2026-11-06T12:20")));
        // Paused: Monday 12:00–18:00, Tuesday 9–17 (short), Thursday 9–14 = 6 + 8 + 5 h.
        assert_eq!(ki.paused, 19 * 3600);
        assert_eq!(sla.paused, 19 * 3600);
    }

    #[test]
    fn escalations_only_in_working_hours() {
        let c = cal();
        let events = [Event::Client { at: t("2026-11-02T09:00"), asks: true }];
        let p = policy();
        let at = |s: &str| {
            let now = t(s);
            nudges(&p, &compute(&p, &events, &c, now), &c, now).into_iter().map(|n| n.at).collect::<Vec<_>>()
        };
        assert_eq!(at("2026-11-02T12:59"), Vec::<u32>::new());
        assert_eq!(at("2026-11-02T13:00"), [100]);
        assert_eq!(at("2026-11-02T15:00"), [100, 150]);
        assert_eq!(at("2026-11-02T20:00"), Vec::<u32>::new(), "never at night");
    }

    #[test]
    fn the_rules_message_is_told_by_its_first_sentence() {
        let shipped = crate::workflow::templates::Templates::shipped();
        let marker = rules_marker(&shipped.get("rules").expect("rules").text).expect("marker");
        assert!(marker.starts_with("Уважаемые коллеги, прошу по всем рабочим вопросам"), "{marker}");
        assert_eq!(rules_marker("Hi {client}"), None);
    }

    /// A client in Yekaterinburg (two hours ahead), 09:00–18:00 their time:
    /// a question at 16:30 Moscow is 18:30 theirs, after hours; four working
    /// hours from their Tuesday 09:00 end at 13:00 theirs, 11:00 Moscow.
    #[test]
    fn the_clients_own_hours() {
        let team = cal();
        let facts = Facts {
            conversation: 1,
            kind: ChannelKind::Telegram,
            channel: "c".into(),
            client: Some(1),
            client_name: None,
            tags: Vec::new(),
            assignee: None,
            business: false,
            last_client_at: None,
            client_hours: Some("Asia/Yekaterinburg 09:00-18:00".into()),
            events: vec![Event::Client { at: t("2026-11-09T16:30"), asks: true }],
        };
        let first = |client_calendar| {
            let p = Policy { client_calendar, ..policy() };
            let s = evaluate(&Versions::current(vec![p]), &facts, &team, t("2026-11-09T16:31")).expect("clocks");
            s.clocks[0].due
        };
        assert_eq!(first(true), Some(t("2026-11-10T11:00")));
        // In the team's hours: 1 h 30 min on Monday, Tuesday 09:00 + 2 h 30 min.
        assert_eq!(first(false), Some(t("2026-11-10T11:30")));
        assert!(crate::workflow::calendar::parse_client_hours("Mars/Olympus").is_err());
    }

    #[test]
    fn reply_windows_by_channel() {
        let f = |kind, business| Facts {
            conversation: 1,
            kind,
            channel: "c".into(),
            client: None,
            client_name: None,
            tags: Vec::new(),
            assignee: None,
            business,
            last_client_at: None,
            client_hours: None,
            events: Vec::new(),
        };
        assert_eq!(f(ChannelKind::Whatsapp, false).reply_window(), Some(24 * 3600));
        assert_eq!(f(ChannelKind::Telegram, true).reply_window(), Some(24 * 3600), "Telegram Business");
        assert_eq!(f(ChannelKind::Telegram, false).reply_window(), None, "the bot's own chats");
        assert_eq!(f(ChannelKind::Email, false).reply_window(), None);
    }

    #[test]
    fn window_warning_only_when_it_closes_first() {
        let now = 1_000_000;
        assert_eq!(window_closes_first(Some(86_400), Some(now - 80_000), Some(now + 10_000), now), Some(6_400));
        assert_eq!(window_closes_first(Some(86_400), Some(now - 80_000), Some(now + 1_000), now), None);
        // Past due with the window still open: all the more reason to say so.
        assert_eq!(window_closes_first(Some(86_400), Some(now - 80_000), Some(now - 1_000), now), Some(6_400));
        assert_eq!(window_closes_first(None, Some(now), Some(now + 100_000), now), None);
        assert_eq!(window_closes_first(Some(86_400), Some(now - 90_000), Some(now + 10_000), now), None);
    }
}
