//! Response times for people and scripts: what every front end needs to ask
//! the clocks (`SlaContext`: the policy versions, the calendar, the rules
//! message), the `sla` part of `pult thread --json`, the counts `pult status`
//! adds, and the commands `pult sla report` and `pult sla recompute`.

use crate::bootstrap::{Global, load_config, location};
use crate::clock::Clock;
use crate::config::Config;
use crate::i18n::{Lang, plural};
use crate::store::{self, Reader};
use crate::workflow::calendar::Calendar;
use crate::workflow::sla::{self, ClockKind, Facts, PauseReason, Sla, State, Versions};
use crate::workflow::templates::Templates;
use anyhow::{Context as _, Result, bail};
use serde::Serialize;

#[derive(clap::Subcommand, Debug)]
pub enum SlaAction {
    /// A month's response times per client, person and channel: count, median
    /// and 90th percentile in working minutes, share within target, breaches,
    /// promises kept and moved, paused time
    Report {
        /// The month, YYYY-MM
        #[arg(long)]
        month: String,
        /// One client (id from `pult clients --json`); also prints a short summary for the client
        #[arg(long)]
        client: Option<i64>,
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        #[arg(long)]
        csv: bool,
    },
    /// Count the clocks that started since DATE under the policies of the config now (audited)
    Recompute {
        /// YYYY-MM-DD (or DD.MM.YYYY), midnight in the team's time zone
        #[arg(long)]
        since: String,
    },
}

/// The clocks' view of the world for one command or one UI session.
#[derive(Debug, Clone)]
pub struct SlaContext {
    pub versions: Versions,
    pub calendar: Calendar,
    rules: Option<String>,
}

impl SlaContext {
    /// `stored`: the policy versions the store keeps (id, effective from, JSON).
    pub fn new(cfg: &Config, calendar: Calendar, templates: &Templates, stored: &[(i64, i64, String)]) -> SlaContext {
        let day = calendar.usual_day_seconds();
        // The config checker has read every value already; a policy it let
        // through that still does not parse leaves it out, never stops pult.
        let current: Vec<sla::Policy> = cfg
            .sla
            .iter()
            .filter_map(|p| sla::Policy::from_config(p, day).map_err(|e| tracing::warn!("{e}")).ok())
            .collect();
        let versions = Versions::from_stored(stored, current, day);
        let rules = templates.get("rules").and_then(|t| sla::rules_marker(&t.text));
        SlaContext { versions, calendar, rules }
    }

    pub fn is_rules(&self, body: &str) -> bool {
        self.rules.as_deref().is_some_and(|m| body.contains(m))
    }

    /// Whether any policy exists at all (none: no clocks, nothing to load).
    pub fn active(&self) -> bool {
        !self.versions.is_empty()
    }

    /// The clocks of each conversation a policy covers.
    pub fn evaluate(&self, reader: &Reader, ids: &[i64], now: i64) -> store::Result<Vec<(Facts, Sla)>> {
        if !self.active() || ids.is_empty() {
            return Ok(Vec::new());
        }
        let facts = reader.sla_facts(ids, &|body| self.is_rules(body))?;
        Ok(facts
            .into_iter()
            .filter_map(|f| {
                let s = sla::evaluate(&self.versions, &f, &self.calendar, now)?;
                Some((f, s))
            })
            .collect())
    }
}

/// The user's templates (for the rules message), as the TUI reads them.
pub fn templates() -> Templates {
    let user = std::fs::read_to_string(crate::paths::config_dir().join("templates.toml")).ok();
    Templates::with_user_file(user.as_deref()).0
}

/// Records the config's policies in the store (a change counts from now),
/// then reads every version back.
pub fn context_at(cfg: &Config, store: &store::Location, now: i64) -> Result<SlaContext> {
    let calendar = Calendar::from_config(cfg)?;
    let mut db = store.open_db()?;
    let reader = store.open_reader(&cfg.actor())?;
    // Tables removed from the config are recorded too: no new clock starts under them.
    if !cfg.sla.is_empty() || !reader.sla_policy_versions()?.is_empty() {
        store::sla::record_policies(&mut db, &sla::tables_json(cfg), &cfg.actor(), now)?;
    }
    drop(db);
    let stored: Vec<(i64, i64, String)> =
        reader.sla_policy_versions()?.into_iter().map(|v| (v.id, v.effective_from, v.policies)).collect();
    Ok(SlaContext::new(cfg, calendar, &templates(), &stored))
}

/// `sla` in `pult thread --json`.
#[derive(Debug, Serialize, PartialEq)]
pub struct SlaExport {
    pub policy: String,
    /// ok, at_risk, breached or paused: the worst running clock; null when none runs.
    pub state: Option<&'static str>,
    pub paused_minutes: i64,
    pub clocks: Vec<ClockExport>,
    pub pauses: Vec<PauseExport>,
    /// When the WhatsApp or Telegram Business reply window closes, if before the due time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub window_closes: Option<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct ClockExport {
    pub kind: &'static str,
    pub state: &'static str,
    pub started: String,
    /// null while a pause holds it.
    pub due: Option<String>,
    pub stopped: Option<String>,
    /// Working minutes: allowed, used (pauses left out), paused.
    pub target_minutes: i64,
    pub elapsed_minutes: i64,
    pub paused_minutes: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub task: Option<i64>,
    /// A promise moved to a later deadline: the reason told each time (null: none given).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<Option<String>>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct PauseExport {
    pub reason: PauseReason,
    pub start: String,
    pub end: Option<String>,
    /// Set while the client was waiting for an answer.
    pub over_waiting_client: bool,
    /// Working minutes it held (until now while it holds).
    pub minutes: i64,
}

impl SlaExport {
    pub fn new(facts: &Facts, s: &Sla, clock: &Clock) -> SlaExport {
        let date = |t: i64| clock.rfc3339(t);
        let current = s.current();
        SlaExport {
            policy: s.policy.clone(),
            state: s.mark().map(State::as_str),
            paused_minutes: s.paused / 60,
            clocks: s
                .clocks
                .iter()
                .map(|c| ClockExport {
                    kind: c.kind.as_str(),
                    state: c.state.as_str(),
                    started: date(c.started),
                    due: c.due.map(date),
                    stopped: c.stopped.map(date),
                    target_minutes: c.target / 60,
                    elapsed_minutes: c.elapsed / 60,
                    paused_minutes: c.paused / 60,
                    task: c.task,
                    moved: c.moved.clone(),
                })
                .collect(),
            pauses: s
                .pauses
                .iter()
                .map(|p| PauseExport {
                    reason: p.reason,
                    start: date(p.start),
                    end: p.end.map(date),
                    over_waiting_client: p.over_waiting_client,
                    minutes: p.working / 60,
                })
                .collect(),
            window_closes: current
                .and_then(|c| sla::window_closes_first(facts.reply_window(), facts.last_client_at, c.due, clock.now()))
                .map(|left| date(clock.now() + left)),
        }
    }
}

/// The `sla` of one conversation for `pult thread --json` (None: no policy covers it).
pub fn thread_sla(
    cfg: &Config,
    store: &store::Location,
    reader: &Reader,
    conversation: i64,
    clock: &Clock,
) -> Result<Option<SlaExport>> {
    if cfg.sla.is_empty() && reader.sla_policy_versions()?.is_empty() {
        return Ok(None);
    }
    let ctx = context_at(cfg, store, clock.now())?;
    let found = ctx.evaluate(reader, &[conversation], clock.now())?;
    Ok(found.first().map(|(f, s)| SlaExport::new(f, s, clock)))
}

/// Writes the escalation notes due now (`escalate = [...]` of each policy):
/// an internal note mentioning the responsible person or the named one, once
/// per clock and threshold, only in working hours, never to the client.
/// Returns how many were written.
pub fn escalate(
    writer: &store::Writer,
    reader: &Reader,
    ctx: &SlaContext,
    lang: Lang,
    now: i64,
) -> store::Result<usize> {
    if !ctx.active() {
        return Ok(0);
    }
    let mut written = 0;
    for (facts, s) in ctx.evaluate(reader, &reader.sla_candidates()?, now)? {
        let Some(policy) = ctx.versions.policy_at(&facts.subject(), now) else { continue };
        for n in sla::nudges(policy, &s, &ctx.calendar, now) {
            let Some(clock) = s.clocks.iter().find(|c| c.kind == n.kind && c.started == n.started) else { continue };
            let who = match &n.to {
                sla::EscalateTo::Responsible => match &facts.assignee {
                    Some(a) => format!("@{a}"),
                    None => lang.tr("sla_no_responsible").to_string(),
                },
                sla::EscalateTo::Person(p) => format!("@{p}"),
            };
            let ru = lang == Lang::Ru;
            let body = lang
                .tr("sla_escalation")
                .replace("{who}", &who)
                .replace("{clock}", lang.tr(n.kind.text_key()))
                .replace("{used}", &sla::human_minutes(clock.elapsed, ru))
                .replace("{target}", &sla::human_minutes(clock.target, ru))
                .replace("{at}", &n.at.to_string())
                .replace("{policy}", &s.policy);
            let (conversation, kind, started, at) = (facts.conversation, n.kind.as_str(), n.started, n.at);
            if writer.call_blocking(move |c| {
                store::sla::escalate(c, conversation, (kind, started), at, &body, ESCALATION_ACTOR, now)
            })? {
                written += 1;
            }
        }
    }
    Ok(written)
}

/// Who writes the escalation notes.
pub const ESCALATION_ACTOR: &str = "pult";

/// `pult status`: conversations whose clock is breached, and those at risk
/// added to `at_risk` (beside promises due within two working hours).
pub fn add_to_status(cli: &Global, reader: &Reader, now: i64, counts: &mut crate::model::StatusCounts) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    if cfg.sla.is_empty() && reader.sla_policy_versions()?.is_empty() {
        return Ok(());
    }
    let ctx = context_at(&cfg, &location(cli, &cfg)?, now)?;
    let (at_risk, breached) = counts_of(&ctx.evaluate(reader, &reader.sla_candidates()?, now)?);
    counts.at_risk += at_risk;
    counts.breached = breached;
    Ok(())
}

/// (at risk, breached) among evaluated conversations.
pub fn counts_of(evaluated: &[(Facts, Sla)]) -> (i64, i64) {
    let n = |state| evaluated.iter().filter(|(_, s)| s.mark() == Some(state)).count() as i64;
    (n(State::AtRisk), n(State::Breached))
}

pub fn run(cli: &Global, action: &SlaAction) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let lang = Lang::detect(cfg.ui.language.as_deref());
    let store = location(cli, &cfg)?;
    if !store.exists() {
        bail!("{} {}", lang.tr("sla_no_store"), store.shown());
    }
    let clock = Clock::system(cfg.timezone()).with_russian_names(lang == Lang::Ru);
    match action {
        SlaAction::Recompute { since } => {
            let calendar = Calendar::from_config(&cfg)?;
            let date = crate::workflow::calendar::parse_date(since)
                .with_context(|| format!("--since {}: {}", crate::sanitize::line(since), lang.tr("sla_date_format")))?;
            if cfg.sla.is_empty() {
                bail!("{}", lang.tr("sla_no_policies"));
            }
            let mut db = store.open_db()?;
            let id = store::sla::recompute_since(
                &mut db,
                &sla::tables_json(&cfg),
                calendar.at(date, 0),
                &cfg.actor(),
                clock.now(),
            )?;
            println!(
                "{} {} ({} {id})",
                lang.tr("sla_recomputed"),
                clock.full(calendar.at(date, 0)),
                lang.tr("sla_version")
            );
            Ok(())
        }
        SlaAction::Report { month, client, json, csv } => {
            let ctx = context_at(&cfg, &store, clock.now())?;
            if !ctx.active() {
                bail!("{}", lang.tr("sla_no_policies"));
            }
            let (from, to) = month_range(month, &ctx.calendar).with_context(|| {
                format!("--month {}: {}", crate::sanitize::line(month), lang.tr("sla_month_format"))
            })?;
            let reader = store.open_reader(&cfg.actor())?;
            let mut evaluated = ctx.evaluate(&reader, &reader.sla_active(from, to)?, clock.now())?;
            if let Some(c) = client {
                evaluated.retain(|(f, _)| f.client == Some(*c));
            }
            let report = Report::new(month, from, to, &evaluated);
            if *json {
                cli.print_json(&report)?;
            } else if *csv {
                print!("{}", report.csv());
            } else {
                print!("{}", report.text(lang));
            }
            if client.is_some() && !*json && !*csv {
                println!("\n{}", report.summary_ru());
            }
            Ok(())
        }
    }
}

/// `2026-11` → local midnight of the 1st, of the next month's 1st.
pub fn month_range(month: &str, calendar: &Calendar) -> Option<(i64, i64)> {
    let (y, m) = month.trim().split_once('-')?;
    let first = jiff::civil::Date::new(y.parse().ok()?, m.parse().ok()?, 1).ok()?;
    let next = first.checked_add(jiff::Span::new().months(1)).ok()?;
    Some((calendar.at(first, 0), calendar.at(next, 0)))
}

/// Response times of one kind of clock.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Stats {
    /// Clocks started in the month.
    pub count: usize,
    /// … of which answered (stopped).
    pub answered: usize,
    /// Working minutes to the answer, nearest-rank percentiles of the answered.
    pub median_minutes: Option<i64>,
    pub p90_minutes: Option<i64>,
    /// Share of decided clocks (answered, or past due unanswered) within target.
    pub within_target_percent: Option<i64>,
    pub breaches: usize,
    pub breached_conversations: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Promises {
    /// Promises accepted in the month.
    pub count: usize,
    pub kept_on_time: usize,
    pub late: usize,
    pub open: usize,
    pub moved: usize,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Group {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<i64>,
    pub first_response: Stats,
    pub next_response: Stats,
    pub keep_informed_breaches: usize,
    pub promises: Promises,
    pub paused_minutes: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Moved {
    pub conversation: i64,
    pub task: Option<i64>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FlaggedPause {
    pub conversation: i64,
    pub reason: PauseReason,
    pub start: i64,
}

/// `pult sla report --json`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub month: String,
    pub total: Group,
    pub by_client: Vec<Group>,
    pub by_person: Vec<Group>,
    pub by_channel: Vec<Group>,
    pub moved: Vec<Moved>,
    /// Pauses set while the client was waiting for an answer.
    pub flagged_pauses: Vec<FlaggedPause>,
}

/// Nearest-rank percentile (a value that occurred) of sorted values.
fn percentile(sorted: &[i64], p: usize) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

impl Report {
    pub fn new(month: &str, from: i64, to: i64, evaluated: &[(Facts, Sla)]) -> Report {
        let within = |t: i64| t >= from && t < to;
        let mut clocks: Vec<(&Facts, &sla::Clock)> = Vec::new();
        let mut pauses = Vec::new();
        let mut moved = Vec::new();
        let mut flagged = Vec::new();
        for (f, s) in evaluated {
            for c in s.clocks.iter().filter(|c| within(c.started)) {
                clocks.push((f, c));
                for reason in &c.moved {
                    moved.push(Moved { conversation: f.conversation, task: c.task, reason: reason.clone() });
                }
            }
            for p in s.pauses.iter().filter(|p| within(p.start)) {
                pauses.push((f, p));
                if p.over_waiting_client {
                    flagged.push(FlaggedPause { conversation: f.conversation, reason: p.reason, start: p.start });
                }
            }
        }
        let group = |name: String, client: Option<i64>, keep: &dyn Fn(&Facts) -> bool| {
            let mine: Vec<&sla::Clock> = clocks.iter().filter(|(f, _)| keep(f)).map(|(_, c)| *c).collect();
            let ids: Vec<i64> = clocks.iter().filter(|(f, _)| keep(f)).map(|(f, _)| f.conversation).collect();
            let stats = |kind: ClockKind| {
                let of: Vec<(usize, &&sla::Clock)> = mine.iter().enumerate().filter(|(_, c)| c.kind == kind).collect();
                let mut answered: Vec<i64> =
                    of.iter().filter(|(_, c)| !c.running()).map(|(_, c)| c.elapsed / 60).collect();
                answered.sort_unstable();
                let breached: Vec<usize> =
                    of.iter().filter(|(_, c)| c.state == State::Breached).map(|(i, _)| *i).collect();
                let decided = of.iter().filter(|(_, c)| !c.running() || c.state == State::Breached).count();
                let met = of.iter().filter(|(_, c)| c.state == State::Met).count();
                let mut conversations: Vec<i64> = breached.iter().map(|i| ids[*i]).collect();
                conversations.dedup();
                Stats {
                    count: of.len(),
                    answered: answered.len(),
                    median_minutes: percentile(&answered, 50),
                    p90_minutes: percentile(&answered, 90),
                    within_target_percent: (decided > 0).then(|| (met * 100 / decided) as i64),
                    breaches: breached.len(),
                    breached_conversations: conversations,
                }
            };
            let promises: Vec<&&sla::Clock> = mine.iter().filter(|c| c.kind == ClockKind::Promise).collect();
            Group {
                name,
                client,
                first_response: stats(ClockKind::FirstResponse),
                next_response: stats(ClockKind::NextResponse),
                keep_informed_breaches: mine
                    .iter()
                    .filter(|c| c.kind == ClockKind::KeepInformed && c.state == State::Breached)
                    .count(),
                promises: Promises {
                    count: promises.len(),
                    kept_on_time: promises.iter().filter(|c| c.state == State::Met).count(),
                    late: promises.iter().filter(|c| c.state == State::Breached).count(),
                    open: promises.iter().filter(|c| c.running() && c.state != State::Breached).count(),
                    moved: promises.iter().filter(|c| !c.moved.is_empty()).count(),
                },
                // Each pause that began in the month, in whole working minutes.
                paused_minutes: pauses.iter().filter(|(f, _)| keep(f)).map(|(_, p)| p.working / 60).sum(),
            }
        };
        let mut clients: Vec<(Option<i64>, String)> =
            evaluated.iter().map(|(f, _)| (f.client, f.client_name.clone().unwrap_or_else(|| "—".into()))).collect();
        clients.sort();
        clients.dedup();
        let mut people: Vec<String> =
            evaluated.iter().map(|(f, _)| f.assignee.clone().unwrap_or_else(|| "—".into())).collect();
        people.sort();
        people.dedup();
        let mut channels: Vec<String> = evaluated.iter().map(|(f, _)| f.channel.clone()).collect();
        channels.sort();
        channels.dedup();
        Report {
            month: month.to_string(),
            total: group("all".into(), None, &|_| true),
            by_client: clients
                .into_iter()
                .map(|(id, name)| group(name, id, &move |f: &Facts| f.client == id))
                .collect(),
            by_person: people
                .into_iter()
                .map(|p| {
                    let key = p.clone();
                    group(p, None, &move |f: &Facts| f.assignee.clone().unwrap_or_else(|| "—".into()) == key)
                })
                .collect(),
            by_channel: channels
                .into_iter()
                .map(|c| {
                    let key = c.clone();
                    group(c, None, &move |f: &Facts| f.channel == key)
                })
                .collect(),
            moved,
            flagged_pauses: flagged,
        }
    }

    fn groups(&self) -> impl Iterator<Item = (&'static str, &Group)> {
        std::iter::once(("total", &self.total))
            .chain(self.by_client.iter().map(|g| ("client", g)))
            .chain(self.by_person.iter().map(|g| ("person", g)))
            .chain(self.by_channel.iter().map(|g| ("channel", g)))
    }

    /// One row per group; stable English headers for spreadsheets.
    pub fn csv(&self) -> String {
        let mut out = String::from(
            "by,name,first_count,first_answered,first_median_min,first_p90_min,first_within_pct,first_breaches,\
             next_count,next_answered,next_median_min,next_p90_min,next_within_pct,next_breaches,\
             keep_informed_breaches,promises,promises_kept,promises_late,promises_moved,paused_min,breached_conversations\n",
        );
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        for (by, g) in self.groups() {
            let (a, b) = (&g.first_response, &g.next_response);
            let mut breached: Vec<i64> =
                a.breached_conversations.iter().chain(&b.breached_conversations).copied().collect();
            breached.sort_unstable();
            breached.dedup();
            out.push_str(&format!(
                "{by},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
                csv_field(&g.name),
                a.count,
                a.answered,
                opt(a.median_minutes),
                opt(a.p90_minutes),
                opt(a.within_target_percent),
                a.breaches,
                b.count,
                b.answered,
                opt(b.median_minutes),
                opt(b.p90_minutes),
                opt(b.within_target_percent),
                b.breaches,
                g.keep_informed_breaches,
                g.promises.count,
                g.promises.kept_on_time,
                g.promises.late,
                g.promises.moved,
                g.paused_minutes,
                breached.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" "),
            ));
        }
        out
    }

    /// The team's table, in the UI language.
    pub fn text(&self, lang: Lang) -> String {
        let mut out = format!("{} {}\n", lang.tr("sla_report_for"), self.month);
        let mins =
            |v: Option<i64>| v.map(|m| sla::human_minutes(m * 60, lang == Lang::Ru)).unwrap_or_else(|| "—".into());
        let pct = |v: Option<i64>| v.map(|p| format!("{p}%")).unwrap_or_else(|| "—".into());
        let mut section = |title: &str, groups: &[&Group]| {
            out.push_str(&format!("\n{title}\n"));
            for g in groups {
                let (a, b) = (&g.first_response, &g.next_response);
                out.push_str(&format!(
                    "  {}{}\n    {}: {} · {} {} · 90% {} · {} {} · {} {}\n    {}: {} · {} {} · 90% {} · {} {} · {} {}\n    {}: {} {}\n    {}: {} · {} {} · {} {} · {} {}\n",
                    crate::sanitize::line(&g.name),
                    g.client.map(|c| format!(" (#{c})")).unwrap_or_default(),
                    lang.tr("sla_first_response"),
                    a.count,
                    lang.tr("sla_median"),
                    mins(a.median_minutes),
                    mins(a.p90_minutes),
                    lang.tr("sla_within"),
                    pct(a.within_target_percent),
                    lang.tr("sla_breaches"),
                    a.breaches,
                    lang.tr("sla_next_response"),
                    b.count,
                    lang.tr("sla_median"),
                    mins(b.median_minutes),
                    mins(b.p90_minutes),
                    lang.tr("sla_within"),
                    pct(b.within_target_percent),
                    lang.tr("sla_breaches"),
                    b.breaches,
                    lang.tr("sla_keep_informed"),
                    lang.tr("sla_breaches"),
                    g.keep_informed_breaches,
                    lang.tr("sla_promises"),
                    g.promises.count,
                    lang.tr("sla_kept"),
                    g.promises.kept_on_time,
                    lang.tr("sla_moved"),
                    g.promises.moved,
                    lang.tr("sla_paused"),
                    mins(Some(g.paused_minutes)),
                ));
                let mut breached: Vec<i64> =
                    a.breached_conversations.iter().chain(&b.breached_conversations).copied().collect();
                breached.sort_unstable();
                breached.dedup();
                if !breached.is_empty() {
                    let list = breached.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(" ");
                    out.push_str(&format!("    {}: {list}\n", lang.tr("sla_breached_in")));
                }
            }
        };
        section(lang.tr("sla_total"), &[&self.total]);
        section(lang.tr("sla_by_client"), &self.by_client.iter().collect::<Vec<_>>());
        section(lang.tr("sla_by_person"), &self.by_person.iter().collect::<Vec<_>>());
        section(lang.tr("sla_by_channel"), &self.by_channel.iter().collect::<Vec<_>>());
        if !self.moved.is_empty() {
            out.push_str(&format!("\n{}\n", lang.tr("sla_moved_reasons")));
            for m in &self.moved {
                let reason = m.reason.as_deref().map(crate::sanitize::line).unwrap_or_else(|| "—".into());
                out.push_str(&format!("  #{}  {reason}\n", m.conversation));
            }
        }
        if !self.flagged_pauses.is_empty() {
            out.push_str(&format!("\n{}\n", lang.tr("sla_flagged_pauses")));
            for p in &self.flagged_pauses {
                out.push_str(&format!("  #{}  {}\n", p.conversation, p.reason.as_str()));
            }
        }
        out
    }

    /// A few sentences a firm can send its client (always Russian: it is for the client).
    pub fn summary_ru(&self) -> String {
        let g = self.by_client.first().unwrap_or(&self.total);
        let (a, b, p) = (&g.first_response, &g.next_response, &g.promises);
        let ru = Lang::Ru;
        let mins = |m: i64| sla::human_minutes(m * 60, true);
        let month = month_name_ru(&self.month);
        let mut out = format!(
            "{}, {month}: {}.",
            crate::sanitize::line(&g.name),
            plural(ru, (a.count + b.count) as i64, ["request", "requests"], ["обращение", "обращения", "обращений"])
        );
        if let (Some(med), Some(p90)) = (a.median_minutes, a.p90_minutes) {
            out.push_str(&format!(
                " Первый ответ — обычно за {} рабочего времени, в 9 случаях из 10 — не дольше {}",
                mins(med),
                mins(p90)
            ));
            if let Some(w) = a.within_target_percent {
                out.push_str(&format!("; в срок — {w} %"));
            }
            out.push('.');
        }
        if let Some(med) = b.median_minutes {
            out.push_str(&format!(" На последующие вопросы — обычно за {}", mins(med)));
            if let Some(w) = b.within_target_percent {
                out.push_str(&format!(", в срок — {w} %"));
            }
            out.push('.');
        }
        if p.count > 0 {
            out.push_str(&format!(" Задачи с обещанным сроком: {} из {} выполнены в срок", p.kept_on_time, p.count));
            if p.moved > 0 {
                out.push_str(&format!(
                    ", сроки {} перенесены по согласованию",
                    plural(ru, p.moved as i64, ["task", "tasks"], ["задачи", "задач", "задач"])
                ));
            }
            out.push('.');
        }
        out
    }
}

fn month_name_ru(month: &str) -> String {
    const NAMES: [&str; 12] = [
        "январь",
        "февраль",
        "март",
        "апрель",
        "май",
        "июнь",
        "июль",
        "август",
        "сентябрь",
        "октябрь",
        "ноябрь",
        "декабрь",
    ];
    match month.split_once('-').and_then(|(y, m)| Some((y, m.parse::<usize>().ok()?))) {
        Some((y, m)) if (1..=12).contains(&m) => format!("{} {y}", NAMES[m - 1]),
        _ => month.to_string(),
    }
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(s: &str) -> String {
    let s = crate::sanitize::line(s);
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.into_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[5], 90), Some(5));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90), Some(9));
        assert_eq!(percentile(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 90), Some(10));
    }

    #[test]
    fn months() {
        let c = Calendar::standard(jiff::tz::TimeZone::get("Europe/Moscow").expect("tz"));
        let (from, to) = month_range("2026-12", &c).expect("month");
        assert_eq!(to - from, 31 * 86_400);
        assert!(month_range("2026-13", &c).is_none());
        assert_eq!(month_name_ru("2026-11"), "ноябрь 2026");
    }
}
