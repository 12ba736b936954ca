//! `pult bench`: generate stores of realistic shape and measure what a user feels.
//!
//! Every figure is a median over repeated runs and comes with a baseline
//! measured in the same run, so that a slow machine does not read as a slow pult.

use crate::clock::Clock;
use crate::demo::Lcg;
use crate::model::{ChannelKind, Inbound, InboundAttachment};
use crate::store::{Reader, Writer, ingest};
use crate::tui::{app::App, keymap::Keymap, state::AppState, theme::Theme};
use crate::workflow::templates::Templates;
use anyhow::Result;
use ratatui::{Terminal, backend::TestBackend};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Instant;

const RU: &[&str] = &[
    "счёт",
    "оплата",
    "договор",
    "поставка",
    "акт",
    "сверки",
    "накладная",
    "налог",
    "зарплата",
    "ведомость",
    "отпускные",
    "выписка",
    "банк",
    "платёж",
    "документ",
    "подпись",
    "квартал",
    "отчёт",
    "декларация",
    "взносы",
    "пожалуйста",
    "срочно",
    "спасибо",
    "пришлите",
    "проверьте",
    "оплатите",
    "сегодня",
    "завтра",
    "пятница",
    "бухгалтерия",
    "реквизиты",
    "аренда",
    "касса",
    "сотрудник",
    "больничный",
    "аванс",
    "остаток",
    "сумма",
    "и",
    "в",
    "на",
    "по",
    "за",
    "до",
    "что",
    "как",
    "не",
    "это",
    "уже",
    "ещё",
    "нам",
    "вам",
];
const EN: &[&str] = &[
    "invoice",
    "payment",
    "contract",
    "delivery",
    "report",
    "quarter",
    "tax",
    "payroll",
    "statement",
    "bank",
    "document",
    "signature",
    "please",
    "urgent",
    "thanks",
    "today",
    "tomorrow",
    "friday",
    "balance",
    "amount",
    "the",
    "a",
    "to",
    "of",
    "and",
    "in",
    "for",
    "on",
    "with",
    "is",
    "we",
    "you",
    "by",
    "from",
];
const FIRST: &[&str] =
    &["Ирина", "Олег", "Мария", "Павел", "Светлана", "Дмитрий", "Анна", "Сергей", "John", "Mary", "Elena", "Ivan"];
const LAST: &[&str] =
    &["Соколова", "Кузнецов", "Морозова", "Волков", "Лебедева", "Петров", "Smith", "Brown", "Орлова", "Зайцев"];
/// Messages per ingest transaction, as a sync worker batches them.
pub const BATCH: usize = 10_000;
const SEARCH_LIMIT: usize = crate::tui::state::SEARCH_LIMIT;
const PHRASE: &str = "акт сверки взаиморасчётов";
const RARE: &str = "zanzibarite";

/// Deterministic messages in conversations of 1–50 messages, in batches.
pub struct Corpus {
    rng: Lcg,
    remaining: u64,
    conversation: u64,
    left_in_thread: u64,
    thread_kind: usize,
    thread_time: i64,
    serial: u64,
    start: i64,
}

impl Corpus {
    pub fn new(total: u64, seed: u64, now: i64) -> Corpus {
        Corpus {
            rng: Lcg::new(seed),
            remaining: total,
            conversation: 0,
            left_in_thread: 0,
            thread_kind: 0,
            thread_time: 0,
            serial: 0,
            start: now - 3 * 365 * 86400,
        }
    }

    fn text(&mut self, words: u64) -> String {
        let ru = self.rng.below(3) != 0;
        let mut s = String::with_capacity(words as usize * 8);
        for i in 0..words {
            if i > 0 {
                s.push(if self.rng.below(14) == 0 { '\n' } else { ' ' });
            }
            let w: &str = if ru { *self.rng.pick(RU) } else { *self.rng.pick(EN) };
            s.push_str(w);
        }
        if self.rng.below(1000) == 0 {
            s.push(' ');
            s.push_str(PHRASE);
        }
        if self.rng.below(20_000) == 0 {
            s.push(' ');
            s.push_str(RARE);
        }
        s
    }

    /// The next batch for each channel index (0 email, 1 telegram, 2 whatsapp).
    pub fn next_batch(&mut self, size: usize) -> Option<Vec<(usize, Inbound)>> {
        if self.remaining == 0 {
            return None;
        }
        let mut out = Vec::with_capacity(size);
        while out.len() < size && self.remaining > 0 {
            if self.left_in_thread == 0 {
                self.conversation += 1;
                self.left_in_thread = 1 + self.rng.below(50);
                self.thread_kind = match self.rng.below(20) {
                    0..=9 => 0,
                    10..=16 => 1,
                    _ => 2,
                };
                let span = (3 * 365 * 86400) as u64;
                self.thread_time = self.start + (self.conversation * 2963 % span) as i64;
            }
            self.left_in_thread -= 1;
            self.remaining -= 1;
            self.serial += 1;
            self.thread_time += 60 + self.rng.below(7200) as i64;
            let outgoing = self.rng.below(3) == 0;
            let person = self.rng.below(4000);
            let name = format!("{} {}", FIRST[(person % 12) as usize], LAST[(person / 12 % 10) as usize]);
            // Email bodies run longer than chat messages, which are mostly a line or two.
            let words = if kind_is_email(self.thread_kind) { 20 + self.rng.below(180) } else { 2 + self.rng.below(38) };
            let body = self.text(words);
            let kind = self.thread_kind;
            let m = Inbound {
                remote_id: format!("b{}", self.serial),
                conversation_key: format!("c{}", self.conversation),
                conversation_title: format!("Разговор {} — {}", self.conversation, *self.rng.pick(RU)),
                is_group: kind != 0 && self.conversation % 5 == 0,
                outgoing,
                author_handle: if outgoing { String::new() } else { format!("p{person}") },
                author_name: if outgoing { "Анна".into() } else { name },
                sent_at: self.thread_time,
                subject: (kind == 0).then(|| format!("Re: {} {}", *self.rng.pick(RU), self.conversation)),
                body_text: body,
                attachments: if self.rng.below(10) == 0 {
                    vec![InboundAttachment {
                        name: format!("документ-{}.pdf", self.serial),
                        mime: "application/pdf".into(),
                        size: 10_000 + self.rng.below(2_000_000) as i64,
                        ..Default::default()
                    }]
                } else {
                    Vec::new()
                },
                ..Default::default()
            };
            out.push((kind, m));
        }
        Some(out)
    }
}

fn kind_is_email(kind: usize) -> bool {
    kind == 0
}

#[derive(Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub median: f64,
    pub baseline: Option<f64>,
    pub baseline_name: Option<String>,
    pub target: Option<String>,
}

fn figure(name: &str, unit: &str, median: f64, baseline: Option<(&str, f64)>, target: Option<&str>) -> Figure {
    Figure {
        name: name.into(),
        unit: unit.into(),
        median,
        baseline: baseline.map(|b| b.1),
        baseline_name: baseline.map(|b| b.0.to_string()),
        target: target.map(str::to_string),
    }
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() { 0.0 } else { v[v.len() / 2] }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1000.0
}

/// Peak resident set size of this process, from /proc (Linux).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

/// Fills a store with `n` generated messages; returns messages per second of the
/// ingest and the average body size in bytes.
pub fn generate(path: &Path, n: u64, now: i64) -> Result<(f64, f64)> {
    let writer = Writer::spawn(path)?;
    let mut channels = Vec::new();
    for (name, kind) in [("mail", ChannelKind::Email), ("bot", ChannelKind::Telegram), ("wa", ChannelKind::Whatsapp)] {
        channels.push(writer.call_blocking(move |c| ingest::ensure_channel(c, name, kind, now))?);
    }
    let mut corpus = Corpus::new(n, 42, now);
    let mut busy = 0.0;
    let mut bytes = 0u64;
    while let Some(batch) = corpus.next_batch(BATCH) {
        let mut per: [Vec<Inbound>; 3] = Default::default();
        for (k, m) in batch {
            bytes += m.body_text.len() as u64;
            per[k].push(m);
        }
        let t = Instant::now();
        for (k, msgs) in per.into_iter().enumerate() {
            if msgs.is_empty() {
                continue;
            }
            let ch = channels[k];
            writer.call_blocking(move |c| ingest::apply(c, ch, &msgs, &[], now))?;
        }
        busy += t.elapsed().as_secs_f64();
    }
    Ok((n as f64 / busy.max(1e-9), bytes as f64 / n.max(1) as f64))
}

/// The same rows written the plainest way SQLite allows: one table, no index, no FTS.
fn raw_insert_baseline(dir: &Path, n: u64, now: i64) -> Result<f64> {
    let path = dir.join("baseline.db");
    let _ = std::fs::remove_file(&path);
    let mut conn = rusqlite::Connection::open(&path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.execute_batch("CREATE TABLE m (id INTEGER PRIMARY KEY, conv TEXT, remote TEXT, author TEXT, at INTEGER, subject TEXT, body TEXT)")?;
    let mut corpus = Corpus::new(n, 42, now);
    let mut busy = 0.0;
    while let Some(batch) = corpus.next_batch(BATCH) {
        let t = Instant::now();
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO m (conv, remote, author, at, subject, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (_, m) in &batch {
                st.execute(rusqlite::params![
                    m.conversation_key,
                    m.remote_id,
                    m.author_name,
                    m.sent_at,
                    m.subject,
                    m.body_text
                ])?;
            }
        }
        tx.commit()?;
        busy += t.elapsed().as_secs_f64();
    }
    drop(conn);
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_file(path.with_extension("db-wal"));
    let _ = std::fs::remove_file(path.with_extension("db-shm"));
    Ok(n as f64 / busy.max(1e-9))
}

fn app_on(path: &Path, now: i64) -> Result<App> {
    let clock = Clock::fixed(now, jiff::tz::TimeZone::UTC);
    let state = AppState::new(crate::i18n::Lang::En, "Анна".into(), clock, Keymap::shipped(), Templates::shipped());
    let writer = Writer::spawn(path)?;
    let mut app = App::new(state, Theme::dark(), path, writer)?;
    app.resize(200, 50);
    Ok(app)
}

/// Opens the store and draws the first complete frame (channels, list, thread) at 200x50.
pub fn first_frame(path: &Path, now: i64) -> Result<(f64, App, Terminal<TestBackend>)> {
    let t = Instant::now();
    let mut app = app_on(path, now)?;
    let mut term = Terminal::new(TestBackend::new(200, 50))?;
    app.draw(&mut term)?;
    Ok((ms(t), app, term))
}

fn search_ms(reader: &Reader, q: &str, clock: &Clock) -> Result<(f64, usize)> {
    let mut times = Vec::new();
    let mut hits = 0;
    for _ in 0..15 {
        let t = Instant::now();
        hits = reader.search(q, SEARCH_LIMIT, clock)?.len();
        times.push(ms(t));
    }
    Ok((median(times), hits))
}

fn like_scan_ms(reader: &Reader, word: &str) -> Result<f64> {
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let mut st =
            reader.connection().prepare("SELECT id FROM messages WHERE body LIKE ?1 ORDER BY id DESC LIMIT 200")?;
        let _n = st.query_map([format!("%{word}%")], |r| r.get::<_, i64>(0))?.count();
        times.push(ms(t));
    }
    Ok(median(times))
}

/// What a separate `pult bench-probe` process reports: start-to-frame and its own peak RSS.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Probe {
    pub first_frame_ms: f64,
    pub peak_rss_mb: f64,
}

/// Runs inside a fresh process: open, draw, then exercise the UI a little, and report.
pub fn probe(path: &Path) -> Result<()> {
    let now = jiff::Timestamp::now().as_second();
    let (first_frame_ms, mut app, mut term) = first_frame(path, now)?;
    // Walk the list through several windows, open a thread, search, go to the end.
    for _ in 0..600 {
        app.press_keys("j")?;
    }
    app.press_keys("<Enter> <Esc> G g g")?;
    app.press_keys("/")?;
    app.type_text("оплата");
    app.press_keys("<Enter>")?;
    app.draw(&mut term)?;
    let p = Probe { first_frame_ms, peak_rss_mb: peak_rss_mb() };
    println!("{}", serde_json::to_string(&p)?);
    Ok(())
}

fn run_probe(path: &Path) -> Result<Probe> {
    let exe = std::env::current_exe()?;
    let out = std::process::Command::new(exe).arg("bench-probe").arg("--store").arg(path).output()?;
    if !out.status.success() {
        anyhow::bail!("probe failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub messages: u64,
    pub figures: Vec<Figure>,
}

pub fn run(sizes: &[u64], dir: Option<&Path>, json: bool) -> Result<()> {
    let tmp;
    let dir: PathBuf = match dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            d.to_path_buf()
        }
        None => {
            tmp = std::env::temp_dir().join(format!("pult-bench-{}", std::process::id()));
            std::fs::create_dir_all(&tmp)?;
            tmp.clone()
        }
    };
    let now = jiff::Timestamp::now().as_second();
    let empty = dir.join("empty.db");
    let _ = std::fs::remove_file(&empty);
    drop(Writer::spawn(&empty)?);
    let mut reports = Vec::new();
    for &n in sizes {
        let path = dir.join(format!("bench-{n}.db"));
        if !path.exists() {
            eprintln!("generating {n} messages into {} …", path.display());
        }
        let fresh = !path.exists();
        let ingest_rate = if fresh { Some(generate(&path, n, now)?) } else { None };
        if std::env::var("PULT_BENCH_ONLY_INGEST").is_ok() {
            println!("ingest {:.0}/s", ingest_rate.map(|r| r.0).unwrap_or(0.0));
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let mut figures = Vec::new();
        if let Some((rate, avg)) = ingest_rate {
            figures.push(figure("corpus: average body size", "bytes", avg, None, None));
            let base = raw_insert_baseline(&dir, n.min(200_000), now)?;
            figures.push(figure(
                "ingest",
                "messages/s",
                rate,
                Some(("plain INSERT, no index/FTS", base)),
                Some(">= 20000"),
            ));
        }

        // Start to first frame, in fresh processes (cold process, warm page cache).
        let mut starts = Vec::new();
        let mut rss = Vec::new();
        let mut empty_starts = Vec::new();
        for _ in 0..7 {
            let p = run_probe(&path)?;
            starts.push(p.first_frame_ms);
            rss.push(p.peak_rss_mb);
            empty_starts.push(run_probe(&empty)?.first_frame_ms);
        }
        figures.push(figure(
            "first frame (process start)",
            "ms",
            median(starts),
            Some(("empty store", median(empty_starts))),
            Some("<= 100"),
        ));
        figures.push(figure(
            "peak RSS of the UI (after paging, opening, searching)",
            "MB",
            median(rss),
            None,
            Some("<= 100"),
        ));

        // One frame at 200x50.
        let (_, mut app, mut term) = first_frame(&path, now)?;
        let mut frames = Vec::new();
        for i in 0..201 {
            app.state.dirty = true;
            if i % 20 == 0 {
                app.press_keys("j")?;
            }
            let t = Instant::now();
            app.draw(&mut term)?;
            frames.push(ms(t));
        }
        let mut blank = Terminal::new(TestBackend::new(200, 50))?;
        let mut blank_frames = Vec::new();
        for _ in 0..201 {
            let t = Instant::now();
            blank.draw(|f| f.render_widget(ratatui::widgets::Block::bordered(), f.area()))?;
            blank_frames.push(ms(t));
        }
        figures.push(figure(
            "render one frame 200x50",
            "ms",
            median(frames),
            Some(("empty bordered frame", median(blank_frames))),
            Some("<= 2"),
        ));

        // Search.
        let reader = Reader::open(&path, "Анна")?;
        let clock = Clock::fixed(now, jiff::tz::TimeZone::UTC);
        let like = like_scan_ms(&reader, "взаиморасч")?;
        for (label, q) in [
            ("search: one word", "квартал"),
            ("search: phrase", "\"акт сверки взаиморасчётов\""),
            ("search: prefix", "докум*"),
            ("search: rare word", RARE),
        ] {
            let (t, hits) = search_ms(&reader, q, &clock)?;
            figures.push(figure(
                &format!("{label} ({hits} hits, top {SEARCH_LIMIT})"),
                "ms",
                t,
                Some(("LIKE scan of bodies", like)),
                Some("<= 30"),
            ));
        }
        reports.push(Report { messages: n, figures });
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&reports)?);
    } else {
        for r in &reports {
            println!("\n== {} messages ==", r.messages);
            println!("{:<58} {:>12} {:>12} {:>9}  target", "measure (median)", "pult", "baseline", "ratio");
            for f in &r.figures {
                let (b, ratio) = match f.baseline {
                    Some(b) if b > 0.0 => (format!("{b:.2}"), format!("{:.2}x", f.median / b)),
                    _ => ("-".into(), "-".into()),
                };
                println!(
                    "{:<58} {:>12} {:>12} {:>9}  {} {}",
                    f.name,
                    format!("{:.2} {}", f.median, f.unit),
                    b,
                    ratio,
                    f.target.as_deref().unwrap_or(""),
                    f.baseline_name.as_deref().map(|n| format!("(baseline: {n})")).unwrap_or_default()
                );
            }
        }
    }
    Ok(())
}
