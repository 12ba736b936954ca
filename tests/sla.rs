//! Response-time clocks end to end: a scripted week on a fixed clock, with the
//! Russian production calendar (3 November an hour shorter, 4 November a
//! holiday) and a holidays file that makes Saturday 7 November a working day
//! (10:00–15:00). Every clock, pause, breach and escalation to the minute.

mod common;

use common::*;
use pult::config::Config;
use pult::model::ChannelKind;
use pult::sla_cli::{SlaContext, SlaExport};
use pult::store::{Reader, intents, ledger};
use pult::workflow::calendar::Calendar;
use pult::workflow::sla::{ClockKind, PauseReason, State};
use pult::workflow::templates::Templates;

/// Moscow local time.
fn t(s: &str) -> i64 {
    let dt: jiff::civil::DateTime = s.parse().expect("datetime");
    dt.to_zoned(moscow()).expect("zoned").timestamp().as_second()
}

const POLICIES: &str = r#"
[[sla]]
id = "chats"
match = { kind = ["telegram", "whatsapp"] }
first_response = "2h"
next_response = "1h"
keep_informed = "1d"
warn_at = "75%"
escalate = [{ at = "100%", to = "responsible" }, { at = "150%", to = "Ольга" }]

[[sla]]
id = "default"
first_response = "4h"
"#;

struct Week {
    store: TempStore,
    cfg: Config,
    home: tempfile::TempDir,
    config_path: std::path::PathBuf,
    telegram: i64,
    whatsapp: i64,
}

fn week() -> Week {
    let store = temp_store();
    let home = tempfile::tempdir().expect("home");
    let holidays = home.path().join("holidays.txt");
    std::fs::write(&holidays, "2026-11-07 work 10:00-15:00 # a Saturday made working\n").expect("holidays");
    let text = format!(
        "[agent]\nname = \"Анна\"\n\n[hours]\ntimezone = \"Europe/Moscow\"\nstart = \"09:00\"\nend = \"18:00\"\n\
         calendar = \"ru\"\nholidays = \"{}\"\n{POLICIES}",
        holidays.display()
    );
    let config_path = home.path().join("config.toml");
    std::fs::write(&config_path, &text).expect("config");
    let cfg = Config::parse(&text).expect("config parses");
    let telegram = channel(&store, "office-bot", ChannelKind::Telegram);
    let whatsapp = channel(&store, "office-wa", ChannelKind::Whatsapp);
    Week { store, cfg, home, config_path, telegram, whatsapp }
}

impl Week {
    fn client(&self, channel: i64, conv: &str, id: &str, at: &str, body: &str) {
        let m = msg(id, conv, "Ирина Вектор", t(at), body);
        self.store
            .writer
            .call_blocking(move |c| pult::store::ingest::apply(c, channel, &[m], &[], NOW))
            .expect("ingest");
    }

    fn conversation(&self, key: &str) -> i64 {
        let conn = rusqlite::Connection::open(&self.store.path).expect("open");
        conn.query_row("SELECT id FROM conversations WHERE remote_key = ?1", [key], |r| r.get(0)).expect("conversation")
    }

    fn reply(&self, conversation: i64, at: &str, body: &str, auto: bool) -> i64 {
        let mut r = reply(conversation, body);
        r.auto = auto;
        let now = t(at);
        r.not_before = now;
        self.store.writer.call_blocking(move |c| intents::queue_reply(c, &r, now)).expect("queue")
    }

    fn sent(&self, outbox: i64, at: &str) {
        let now = t(at);
        self.store
            .writer
            .call_blocking(move |c| intents::mark_sent(c, outbox, &format!("r{outbox}"), now))
            .expect("sent");
    }

    fn context(&self) -> SlaContext {
        SlaContext::new(&self.cfg, Calendar::from_config(&self.cfg).expect("calendar"), &Templates::shipped(), &[])
    }

    fn sla(&self, conversation: i64, at: &str) -> pult::workflow::sla::Sla {
        let reader = Reader::open(&self.store.path, "Анна").expect("reader");
        let found = self.context().evaluate(&reader, &[conversation], t(at)).expect("evaluate");
        found.into_iter().next().expect("a policy covers it").1
    }

    fn export(&self, conversation: i64, at: &str) -> SlaExport {
        let reader = Reader::open(&self.store.path, "Анна").expect("reader");
        let (f, s) = self.context().evaluate(&reader, &[conversation], t(at)).expect("evaluate").remove(0);
        SlaExport::new(&f, &s, &pult::clock::Clock::fixed(t(at), moscow()))
    }
}

/// The clock of `kind` that started at `started`.
fn clock(s: &pult::workflow::sla::Sla, kind: ClockKind, started: &str) -> pult::workflow::sla::Clock {
    s.clocks
        .iter()
        .find(|c| c.kind == kind && c.started == t(started))
        .unwrap_or_else(|| panic!("no {kind:?} from {started}: {:#?}", s.clocks))
        .clone()
}

/// The week's actions in order; returns the Telegram conversation and its promise.
fn script_week(w: &Week) -> (i64, i64) {
    // Monday 2 November 17:30: the client asks (first response: 2 working hours).
    w.client(w.telegram, "vector", "m1", "2026-11-02T17:30", "Выставите, пожалуйста, счёт на 45 000 ₽");
    let conv = w.conversation("vector");
    // 18:05 an automatic after-hours reply goes: it answers nothing.
    let auto = w.reply(conv, "2026-11-02T18:05", "Сейчас нерабочее время.", true);
    w.sent(auto, "2026-11-02T18:05");
    // Tuesday (an hour shorter: 09:00–17:00): a note, a failed reply and a maybe-sent one answer nothing either.
    w.store
        .writer
        .call_blocking(move |c| {
            pult::store::team::add_note(c, conv, "Анна", "Проверить реквизиты", t("2026-11-03T09:10"))
        })
        .expect("note");
    let failed = w.reply(conv, "2026-11-03T09:20", "Счёт готовлю", false);
    w.store
        .writer
        .call_blocking(move |c| intents::mark_failed(c, failed, "bot blocked", t("2026-11-03T09:21")))
        .expect("fail");
    let maybe = w.reply(conv, "2026-11-03T09:25", "Счёт готовлю", false);
    w.store
        .writer
        .call_blocking(move |c| intents::mark_unknown(c, maybe, "died", t("2026-11-03T09:26")))
        .expect("unknown");
    // 10:40 «Принято в работу» with a deadline (Thursday 17:00); it reaches the client.
    let mut acceptance = reply(conv, "Принято в работу. Срок — чт 05.11 17:00.");
    acceptance.not_before = t("2026-11-03T10:40");
    let (task, out) = w
        .store
        .writer
        .call_blocking(move |c| ledger::accept(c, &acceptance, None, t("2026-11-05T17:00"), t("2026-11-03T10:40")))
        .expect("accept");
    w.sent(out, "2026-11-03T10:41");
    // 11:00 «Спасибо!» asks nothing.
    w.client(w.telegram, "vector", "m2", "2026-11-03T11:00", "Спасибо!");
    // 12:00 paused: waiting for the client's documents.
    w.store
        .writer
        .call_blocking(move |c| pult::store::sla::pause(c, conv, PauseReason::Documents, "Анна", t("2026-11-03T12:00")))
        .expect("pause");
    let again = w
        .store
        .writer
        .call_blocking(move |c| pult::store::sla::pause(c, conv, PauseReason::Other, "Анна", t("2026-11-03T12:01")));
    assert!(again.is_err(), "one pause at a time");
    // Thursday 10:00 the documents, with a question.
    w.client(w.telegram, "vector", "m3", "2026-11-05T10:00", "Документы во вложении. Всё верно?");
    // 11:45 the answer reaches the client.
    let answer = w.reply(conv, "2026-11-05T11:45", "Да, всё верно, счёт во вложении.", false);
    w.sent(answer, "2026-11-05T11:46");
    // 16:00 the promise moves to the working Saturday 15:00, with a reason told.
    let mut told = reply(conv, "Срок по вашему запросу переносится на сб 07.11 15:00. Причина: ждём выписку банка.");
    told.not_before = t("2026-11-05T16:00");
    w.store
        .writer
        .call_blocking(move |c| {
            ledger::redate(c, conv, "Анна", t("2026-11-07T15:00"), Some(&told), t("2026-11-05T16:00"))
        })
        .expect("redate");
    // Saturday 12:00 «Выполнено» reaches the client.
    let mut done = reply(conv, "Выполнено. Счёт оплачен.");
    done.not_before = t("2026-11-07T12:00");
    let (out, closed) =
        w.store.writer.call_blocking(move |c| ledger::done(c, &done, t("2026-11-07T12:00"))).expect("done");
    assert_eq!(closed, Some(task));
    w.sent(out, "2026-11-07T12:01");
    // Saturday 14:50 a new question.
    w.client(w.telegram, "vector", "m4", "2026-11-07T14:50", "А акт сверки когда?");
    (conv, task)
}

/// Each moment is seen as it was then: the clocks read only what happened by `now`.
#[test]
fn a_scripted_week_of_clocks_pauses_and_breaches() {
    let w = week();
    let (conv, task) = script_week(&w);
    // Due: 30 min on Monday, then 1 h 30 min of the short Tuesday: 10:30.
    let s = w.sla(conv, "2026-11-03T09:50");
    assert_eq!(s.policy, "chats");
    let first = clock(&s, ClockKind::FirstResponse, "2026-11-02T17:30");
    assert_eq!((first.due, first.elapsed, first.state), (Some(t("2026-11-03T10:30")), 80 * 60, State::Ok));
    // 95 of 120 minutes: at risk (75 %).
    assert_eq!(w.sla(conv, "2026-11-03T10:05").mark(), Some(State::AtRisk));
    assert_eq!(w.sla(conv, "2026-11-03T10:29").mark(), Some(State::AtRisk));
    assert_eq!(w.sla(conv, "2026-11-03T10:30").mark(), Some(State::Breached));

    // The acceptance at 10:40 stops it, 10 minutes late.
    let s = w.sla(conv, "2026-11-03T11:30");
    let first = clock(&s, ClockKind::FirstResponse, "2026-11-02T17:30");
    // 30 min on Monday and 1 h 40 min on Tuesday.
    assert_eq!((first.stopped, first.elapsed, first.state), (Some(t("2026-11-03T10:40")), 130 * 60, State::Breached));
    // The promise's own clock, and keep-informed (1 working day = 9 h) from it.
    let promise = clock(&s, ClockKind::Promise, "2026-11-03T10:40");
    assert_eq!((promise.due, promise.task, promise.state), (Some(t("2026-11-05T17:00")), Some(task), State::Ok));
    let informed = clock(&s, ClockKind::KeepInformed, "2026-11-03T10:40");
    // Tuesday 10:40–17:00 (6 h 20 min), Wednesday 4th a holiday, Thursday 09:00 + 2 h 40 min.
    assert_eq!(informed.due, Some(t("2026-11-05T11:40")));
    // «Спасибо!» at 11:00 started nothing.
    assert!(s.clocks.iter().all(|c| c.kind != ClockKind::NextResponse));

    // Paused since Tuesday 12:00 for documents: keep-informed holds, no due time.
    let s = w.sla(conv, "2026-11-05T09:30");
    let informed = clock(&s, ClockKind::KeepInformed, "2026-11-03T10:40");
    assert_eq!((informed.state, informed.due, informed.elapsed), (State::Paused, None, 80 * 60));
    assert_eq!(s.mark(), Some(State::Paused));

    // Thursday 10:00 the client writes: the pause ends, a next response (1 h) starts.
    let s = w.sla(conv, "2026-11-05T10:50");
    assert_eq!(s.pauses.len(), 1);
    assert_eq!(s.pauses[0].end, Some(t("2026-11-05T10:00")));
    assert!(!s.pauses[0].over_waiting_client);
    // Paused: Tuesday 12:00–17:00 and Thursday 09:00–10:00 = 6 working hours.
    assert_eq!(s.paused, 6 * 3600);
    let informed = clock(&s, ClockKind::KeepInformed, "2026-11-03T10:40");
    // 9 h − 1 h 20 min used = 7 h 40 min from Thursday 10:00: 17:40.
    assert_eq!((informed.due, informed.paused), (Some(t("2026-11-05T17:40")), 6 * 3600));
    let next = clock(&s, ClockKind::NextResponse, "2026-11-05T10:00");
    assert_eq!((next.due, next.state), (Some(t("2026-11-05T11:00")), State::AtRisk));

    // Escalation: at 100 % the responsible person, at 150 % Ольга; in working hours only.
    let policy = w.context().versions.policy_at(&subject(), t("2026-11-05T11:00")).cloned().expect("policy");
    let nudges = |at: &str| {
        pult::workflow::sla::nudges(&policy, &w.sla(conv, at), &w.context().calendar, t(at))
            .into_iter()
            .map(|n| n.at)
            .collect::<Vec<_>>()
    };
    assert_eq!(nudges("2026-11-05T10:59"), Vec::<u32>::new());
    assert_eq!(nudges("2026-11-05T11:00"), [100]);
    assert_eq!(nudges("2026-11-05T11:30"), [100, 150]);

    // 11:45 the answer reaches the client: breached by 45 minutes; keep-informed restarts.
    let s = w.sla(conv, "2026-11-05T12:00");
    let next = clock(&s, ClockKind::NextResponse, "2026-11-05T10:00");
    assert_eq!((next.stopped, next.elapsed, next.state), (Some(t("2026-11-05T11:45")), 105 * 60, State::Breached));
    assert_eq!(clock(&s, ClockKind::KeepInformed, "2026-11-03T10:40").state, State::Met);
    // Thursday 11:45–18:00 (6 h 15 min), Friday 09:00 + 2 h 45 min.
    assert_eq!(clock(&s, ClockKind::KeepInformed, "2026-11-05T11:45").due, Some(t("2026-11-06T11:45")));

    // Monday 9th: the promise, moved to the working Saturday 15:00, was kept at 12:00.
    let s = w.sla(conv, "2026-11-09T09:00");
    let promise = clock(&s, ClockKind::Promise, "2026-11-03T10:40");
    assert_eq!((promise.due, promise.state), (Some(t("2026-11-07T15:00")), State::Met));
    assert_eq!(promise.moved, [Some("ждём выписку банка".to_string())]);
    assert!(s.running().all(|c| c.kind != ClockKind::KeepInformed), "no promise open, nothing to keep informed of");
    // Friday passed in silence while the promise was open: keep-informed breached.
    let silent = clock(&s, ClockKind::KeepInformed, "2026-11-05T11:45");
    assert_eq!((silent.stopped, silent.state), (Some(t("2026-11-07T12:00")), State::Breached));
    // Saturday 14:50's question: 10 minutes left of Saturday, Monday 09:00 + 50 min.
    let next = clock(&s, ClockKind::NextResponse, "2026-11-07T14:50");
    assert_eq!((next.due, next.elapsed, next.state), (Some(t("2026-11-09T09:50")), 10 * 60, State::Ok));

    // The same in `pult thread --json`'s terms.
    let e = w.export(conv, "2026-11-09T09:00");
    let json = serde_json::to_value(&e).expect("json");
    assert_eq!(json["policy"], "chats");
    assert_eq!(json["state"], "ok");
    assert_eq!(json["paused_minutes"], 360);
    let first = &json["clocks"][0];
    assert_eq!(first["kind"], "first_response");
    assert_eq!(first["due"], "2026-11-03T10:30:00+03:00");
    assert_eq!(first["stopped"], "2026-11-03T10:40:00+03:00");
    assert_eq!((first["state"].as_str(), first["elapsed_minutes"].as_i64()), (Some("breached"), Some(130)));
    assert_eq!(json["pauses"][0]["reason"], "documents");
    assert_eq!(json["pauses"][0]["minutes"], 360);
}

fn subject() -> pult::workflow::sla::Subject<'static> {
    pult::workflow::sla::Subject { kind: ChannelKind::Telegram, channel: "office-bot", client: None, tags: &[] }
}

/// WhatsApp: the 24-hour window closes before the clock is due, and the
/// warning says so; email has no window.
#[test]
fn the_whatsapp_window_closing_first_is_said() {
    let w = week();
    // Saturday 14:00 (working until 15:00): due Monday 10:00, the window closes Sunday 14:00.
    w.client(w.whatsapp, "+79990001122", "w1", "2026-11-07T14:00", "Пришлите акт сверки, пожалуйста");
    let conv = w.conversation("+79990001122");
    let e = w.export(conv, "2026-11-07T14:20");
    assert_eq!(e.clocks[0].due.as_deref(), Some("2026-11-09T10:00:00+03:00"));
    assert_eq!(e.window_closes.as_deref(), Some("2026-11-08T14:00:00+03:00"));
    // Monday 09:00 the window is shut: nothing left to warn of.
    assert_eq!(w.export(conv, "2026-11-09T09:00").window_closes, None);
    let _ = (&w.home, &w.config_path);
}

/// `pult sla report` gives numbers anyone can check from `pult thread --json`:
/// recomputed here from each conversation's clocks, nothing shared.
#[test]
fn the_report_is_reproduced_from_thread_json() {
    let w = week();
    let (conv, _) = script_week(&w);
    w.client(w.whatsapp, "+79990001122", "w1", "2026-11-06T10:00", "Пришлите акт сверки, пожалуйста");
    let wa = w.conversation("+79990001122");
    let answer = w.reply(wa, "2026-11-06T10:25", "Высылаю акт сверки.", false);
    w.sent(answer, "2026-11-06T10:26");
    // A conversation of October is outside the month.
    w.client(w.telegram, "old", "o1", "2026-10-20T10:00", "Вопрос по октябрю?");
    let run = |args: &[&str]| {
        let out = pult(w.home.path())
            .arg("--config")
            .arg(&w.config_path)
            .arg("--store")
            .arg(&w.store.path)
            .args(args)
            .output()
            .expect("run pult");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let report: serde_json::Value =
        serde_json::from_str(&run(&["sla", "report", "--month", "2026-11", "--json"])).expect("report json");
    // The text of a thread whose client still waits names its clock, in Russian.
    let out = pult(w.home.path())
        .env("LANG", "ru_RU.UTF-8")
        .arg("--config")
        .arg(&w.config_path)
        .arg("--store")
        .arg(&w.store.path)
        .args(["thread", "--conversation", &w.conversation("old").to_string()])
        .output()
        .expect("run pult");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("первый ответ:") && text.contains("рабочих · нарушено"), "{text}");
    // From the threads, independently.
    let mut clocks = Vec::new();
    for c in [conv, wa, w.conversation("old")] {
        let thread: serde_json::Value =
            serde_json::from_str(&run(&["thread", "--conversation", &c.to_string(), "--json"])).expect("thread json");
        for clock in thread["sla"]["clocks"].as_array().expect("clocks") {
            if clock["started"].as_str().expect("started").starts_with("2026-11") {
                clocks.push(clock.clone());
            }
        }
    }
    let of = |kind: &str| clocks.iter().filter(|c| c["kind"] == kind).collect::<Vec<_>>();
    let rank = |v: &[i64], p: usize| v.get(((v.len() * p).div_ceil(100)).max(1) - 1).copied();
    for kind in ["first_response", "next_response"] {
        let all = of(kind);
        let mut answered: Vec<i64> = all
            .iter()
            .filter(|c| !c["stopped"].is_null())
            .map(|c| c["elapsed_minutes"].as_i64().expect("min"))
            .collect();
        answered.sort_unstable();
        let breached = all.iter().filter(|c| c["state"] == "breached").count();
        let met = all.iter().filter(|c| c["state"] == "met").count();
        let decided = all.iter().filter(|c| !c["stopped"].is_null() || c["state"] == "breached").count();
        let r = &report["total"][kind];
        assert_eq!(r["count"].as_u64(), Some(all.len() as u64), "{kind}");
        assert_eq!(r["answered"].as_u64(), Some(answered.len() as u64), "{kind}");
        assert_eq!(r["median_minutes"].as_i64(), rank(&answered, 50), "{kind}");
        assert_eq!(r["p90_minutes"].as_i64(), rank(&answered, 90), "{kind}");
        assert_eq!(r["breaches"].as_u64(), Some(breached as u64), "{kind}");
        assert_eq!(r["within_target_percent"].as_u64(), Some((met * 100 / decided) as u64), "{kind}");
    }
    // The figures themselves: first responses 130 (Telegram, late) and 25 (WhatsApp) minutes.
    assert_eq!(report["total"]["first_response"]["count"], 2);
    assert_eq!(report["total"]["first_response"]["median_minutes"], 25);
    assert_eq!(report["total"]["first_response"]["p90_minutes"], 130);
    assert_eq!(report["total"]["first_response"]["breached_conversations"], serde_json::json!([conv]));
    assert_eq!(report["total"]["promises"]["kept_on_time"], 1);
    assert_eq!(report["total"]["promises"]["moved"], 1);
    assert_eq!(report["total"]["paused_minutes"], 360);
    assert_eq!(report["moved"][0]["reason"], "ждём выписку банка");
    let channels: Vec<&str> =
        report["by_channel"].as_array().expect("channels").iter().map(|g| g["name"].as_str().expect("name")).collect();
    assert_eq!(channels, ["office-bot", "office-wa"]);
    // CSV: a header and one row per group.
    let csv = run(&["sla", "report", "--month", "2026-11", "--csv"]);
    assert!(csv.starts_with("by,name,first_count,"), "{csv}");
    assert!(csv.lines().any(|l| l.starts_with("total,all,2,2,25,130,50,1,")), "{csv}");
    // One client: the table, and a summary the firm can send.
    let client: i64 = rusqlite::Connection::open(&w.store.path)
        .expect("open")
        .query_row("SELECT contact_id FROM conversations WHERE id = ?1", [wa], |r| r.get(0))
        .expect("client");
    let text = run(&["sla", "report", "--month", "2026-11", "--client", &client.to_string()]);
    assert!(text.contains("ноябрь 2026"), "{text}");
    assert!(text.contains("Первый ответ — обычно за"), "{text}");
}

/// The TUI at 80x24 in both languages: a row at risk and a row breached carry
/// their marks, the views «Под угрозой» and «Нарушено» list them, the thread
/// says how far the clock is and that the WhatsApp window is closing.
#[test]
fn at_risk_and_breached_rows_at_80x24_in_both_languages() {
    for lang in [pult::i18n::Lang::Ru, pult::i18n::Lang::En] {
        let w = week();
        // Telegram, Monday 17:30: at Tuesday 10:05, 95 of 120 minutes used — at risk.
        w.client(w.telegram, "vector", "m1", "2026-11-02T17:30", "Выставите, пожалуйста, счёт на 45 000 ₽");
        // WhatsApp, Monday 16:30: due Tuesday 09:30 — breached; its window closes Tuesday 16:30.
        w.client(w.whatsapp, "+79990001122", "w1", "2026-11-02T16:30", "Пришлите акт сверки, пожалуйста");
        let (tg, wa) = (w.conversation("vector"), w.conversation("+79990001122"));
        let store = shared(&w.store.path, &w.store.writer);
        let mut h = Harness::in_language(store, lang, 80, 24);
        h.app.config = w.cfg.clone();
        h.app.state.calendar = Calendar::from_config(&w.cfg).expect("calendar");
        let ru = lang == pult::i18n::Lang::Ru;
        // 09:30: Telegram in time (60 of 120 minutes), WhatsApp just breached.
        h.app.state.clock = pult::clock::Clock::fixed(t("2026-11-03T09:30"), moscow()).with_russian_names(true);
        h.tick();
        let _ = (h.app.take_bell(), h.app.take_notification());
        // 10:05: Telegram enters at risk — the bell, and a notification naming the client.
        h.app.state.clock = pult::clock::Clock::fixed(t("2026-11-03T10:05"), moscow()).with_russian_names(true);
        h.tick();
        assert!(h.app.take_bell(), "entering at risk rings");
        let note = h.app.take_notification().expect("a notification");
        assert!(note.starts_with("Ирина Вектор — "), "{note}");
        assert!(note.ends_with(if ru { "· под угрозой" } else { "· at risk" }), "{note}");
        h.tick();
        assert!(!h.app.take_bell(), "once");
        h.keys("g o");
        let screen = h.screen();
        let row = |needle: &str| {
            screen.lines().find(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle}:\n{screen}")).to_string()
        };
        // At risk: ▲ and the 25 working minutes left; breached: ✗ and 35 minutes past due.
        assert!(row("vector").contains(if ru { "▲25 мин" } else { "▲25m" }), "{screen}");
        assert!(row("+7999").contains(if ru { "✗+35 мин" } else { "✗+35m" }), "{screen}");
        assert!(screen.contains(if ru { "✗1 нарушено" } else { "✗1 breached" }), "status line:\n{screen}");
        assert_eq!((h.app.state.counts.breached, h.app.state.counts.at_risk), (1, 1));

        h.keys("g b");
        assert_eq!(h.app.state.list.rows.iter().map(|r| r.id).collect::<Vec<_>>(), [wa]);
        let screen = h.screen();
        assert!(screen.contains(if ru { "Нарушено (1)" } else { "Breached (1)" }), "{screen}");
        h.keys("<Enter>");
        let screen = h.screen();
        let expected = if ru {
            [
                "✗ первый ответ: 2 ч 35 мин из 2 ч рабочих · нарушено",
                "⚠ окно WhatsApp закроется через 6 ч 25 мин — ответьте",
            ]
        } else {
            [
                "✗ first response: 2 h 35 min of 2 h working · breached",
                "⚠ WhatsApp window closes in 6 h 25 min — answer now",
            ]
        };
        for e in expected {
            assert!(screen.contains(e), "{e:?} not on\n{screen}");
        }

        h.keys("q g w");
        assert_eq!(h.app.state.list.rows.iter().map(|r| r.id).collect::<Vec<_>>(), [tg]);
        h.keys("<Enter>");
        let screen = h.screen();
        let e = if ru {
            "▲ первый ответ: 1 ч 35 мин из 2 ч рабочих · под угрозой"
        } else {
            "▲ first response: 1 h 35 min of 2 h working · at risk"
        };
        assert!(screen.contains(e), "{e:?} not on\n{screen}");

        // `p`: documents; the clocks pause, the row and the header say so.
        h.keys("p");
        assert!(matches!(h.app.state.popup, Some(pult::tui::state::Popup::Pick { .. })), "a reason is asked");
        h.keys("<Enter>");
        let s = w.sla(tg, "2026-11-03T10:05");
        assert_eq!(s.paused_now().map(|p| p.reason), Some(PauseReason::Documents));
        let screen = h.screen();
        let e = if ru { "пауза, ждём документы" } else { "paused, waiting for documents" };
        assert!(screen.contains(e), "{e:?} not on\n{screen}");
        // `p` again ends the pause.
        h.keys("p");
        assert_eq!(w.sla(tg, "2026-11-03T10:06").paused_now(), None);
    }
}

/// Escalation: an internal note at 100 % mentioning the responsible person,
/// at 150 % the named one; once each, only in working hours, never a message.
#[test]
fn escalation_notes_once_in_working_hours_never_to_the_client() {
    let w = week();
    let (conv, _) = script_week(&w);
    w.store
        .writer
        .call_blocking(move |c| pult::store::team::assign(c, conv, Some("Анна"), "Анна", None, t("2026-11-02T17:31")))
        .expect("assign");
    let ctx = w.context();
    let reader = Reader::open(&w.store.path, "Анна").expect("reader");
    let escalate = |at: &str| {
        pult::sla_cli::escalate(&w.store.writer, &reader, &ctx, pult::i18n::Lang::Ru, t(at)).expect("escalate")
    };
    let sent_before: i64 = rusqlite::Connection::open(&w.store.path)
        .expect("open")
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .expect("outbox");
    // The script's conversation has a running clock only from Saturday 14:50 (the
    // earlier ones are over); the next response is due Monday 09:50.
    assert_eq!(escalate("2026-11-09T09:49"), 0);
    assert_eq!(escalate("2026-11-09T09:50"), 1, "100 %: the responsible person");
    assert_eq!(escalate("2026-11-09T09:55"), 0, "once");
    assert_eq!(escalate("2026-11-09T10:20"), 1, "150 %: Ольга");
    assert_eq!(escalate("2026-11-09T19:00"), 0, "never after hours");
    let conn = rusqlite::Connection::open(&w.store.path).expect("open");
    let notes: Vec<(String, String)> = conn
        .prepare("SELECT actor, body FROM notes WHERE conversation_id = ?1 AND actor = 'pult' ORDER BY id")
        .expect("prepare")
        .query_map([conv], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0].1, "@Анна: следующий ответ — 1 ч из 1 ч рабочих, 100 % срока (политика chats)");
    assert_eq!(notes[1].1, "@Ольга: следующий ответ — 1 ч 30 мин из 1 ч рабочих, 150 % срока (политика chats)");
    let sent_after: i64 = conn.query_row("SELECT count(*) FROM outbox", [], |r| r.get(0)).expect("outbox");
    assert_eq!(sent_before, sent_after, "nothing goes to the client");
    // Ольга finds it under her mentions.
    let mine: i64 = conn
        .query_row("SELECT count(*) FROM notes WHERE instr(body, '@Ольга') > 0", [], |r| r.get(0))
        .expect("mentions");
    assert_eq!(mine, 1);
}

/// A policy change counts for clocks that start after it; `pult sla recompute
/// --since` counts older ones under today's tables, and says so in the audit.
#[test]
fn a_policy_change_applies_forward_and_recompute_applies_it_back() {
    let w = week();
    w.client(w.telegram, "vector", "m1", "2026-11-02T17:30", "Выставите, пожалуйста, счёт на 45 000 ₽");
    let conv = w.conversation("vector").to_string();
    let run = |args: &[&str]| {
        let out = pult(w.home.path())
            .arg("--config")
            .arg(&w.config_path)
            .arg("--store")
            .arg(&w.store.path)
            .args(args)
            .output()
            .expect("run pult");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).expect("utf-8")
    };
    let first_due = || {
        let v: serde_json::Value =
            serde_json::from_str(&run(&["thread", "--conversation", &conv, "--json"])).expect("thread json");
        (
            v["sla"]["clocks"][0]["due"].as_str().expect("due").to_string(),
            v["sla"]["clocks"][0]["target_minutes"].clone(),
        )
    };
    assert_eq!(first_due(), ("2026-11-03T10:30:00+03:00".to_string(), serde_json::json!(120)));
    // The lead makes the first response 3 hours: November's clock keeps its 2.
    let text = std::fs::read_to_string(&w.config_path).expect("config").replacen(
        "first_response = \"2h\"",
        "first_response = \"3h\"",
        1,
    );
    std::fs::write(&w.config_path, text).expect("config");
    assert_eq!(first_due().1, serde_json::json!(120));
    run(&["sla", "recompute", "--since", "2026-11-01"]);
    assert_eq!(first_due(), ("2026-11-03T11:30:00+03:00".to_string(), serde_json::json!(180)));
    let audit: serde_json::Value = serde_json::from_str(&run(&["audit", "--json"])).expect("audit json");
    let actions: Vec<&str> = audit.as_array().expect("audit").iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"sla.recompute"), "{actions:?}");
    assert_eq!(actions.iter().filter(|a| **a == "sla.policies").count(), 2, "{actions:?}");
}

/// How long the clocks of many waiting conversations take (run by hand:
/// `cargo test --test sla measure -- --ignored --nocapture`).
#[test]
#[ignore]
fn measure_evaluating_many_conversations() {
    let w = week();
    let n = 2000;
    let batch: Vec<_> = (0..n)
        .flat_map(|i| {
            let key = format!("c{i}");
            (0..5).map(move |j| {
                msg(&format!("m{i}-{j}"), &key, &format!("Клиент {i}"), t("2026-11-02T10:00") + j * 600 + i, "Вопрос?")
            })
        })
        .collect();
    let channel = w.telegram;
    w.store.writer.call_blocking(move |c| pult::store::ingest::apply(c, channel, &batch, &[], NOW)).expect("ingest");
    let reader = Reader::open(&w.store.path, "Анна").expect("reader");
    let ctx = w.context();
    let started = std::time::Instant::now();
    let ids = reader.sla_candidates().expect("candidates");
    let found = ctx.evaluate(&reader, &ids, t("2026-11-03T10:05")).expect("evaluate");
    let took = started.elapsed();
    assert_eq!(found.len(), n as usize);
    eprintln!("{} conversations, 5 messages each: candidates + clocks in {took:?}", found.len());
}

/// The card's `hours` reach the clocks (`calendar = "client"`); nonsense is refused.
#[test]
fn the_clients_hours_on_the_card() {
    let w = week();
    w.client(w.telegram, "vector", "m1", "2026-11-09T16:30", "Вопрос?");
    let conv = w.conversation("vector");
    let client: i64 = rusqlite::Connection::open(&w.store.path)
        .expect("open")
        .query_row("SELECT contact_id FROM conversations WHERE id = ?1", [conv], |r| r.get(0))
        .expect("client");
    use pult::store::clients::{Field, set_field};
    let bad = w.store.writer.call_blocking(move |c| set_field(c, client, Field::Hours, "Mars/Olympus", "Анна", NOW));
    assert!(bad.is_err());
    w.store
        .writer
        .call_blocking(move |c| set_field(c, client, Field::Hours, "Asia/Yekaterinburg 09:00-18:00", "Анна", NOW))
        .expect("hours");
    let reader = Reader::open(&w.store.path, "Анна").expect("reader");
    let facts = reader.sla_facts(&[conv], &|_| false).expect("facts");
    assert_eq!(facts[0].client_hours.as_deref(), Some("Asia/Yekaterinburg 09:00-18:00"));
}
