//! `pult-bench`: generate stores of realistic shape and measure what a user feels.
//!
//! Every figure is a median over repeated runs and comes with a baseline
//! measured in the same run, so that a slow machine does not read as a slow pult.

use crate::report::{Output, Report, figure};
use anyhow::Result;
use pult::clock::Clock;
use pult::demo::Lcg;
use pult::model::{ChannelKind, Inbound, InboundAttachment, SyncEvent};
use pult::store::{Reader, Writer, ingest};
use pult::tui::{app::App, keymap::Keymap, state::AppState, theme::Theme};
use pult::workflow::templates::Templates;
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
/// Case and number endings, put on the consonant-final words of `RU`.
const ENDINGS: &[&str] = &["а", "у", "ом", "е", "ы", "ов", "ам", "ами", "ах", "ной", "ного", "ные", "ных"];
const FIRST: &[&str] =
    &["Ирина", "Олег", "Мария", "Павел", "Светлана", "Дмитрий", "Анна", "Сергей", "John", "Mary", "Elena", "Ivan"];
const LAST: &[&str] =
    &["Соколова", "Кузнецов", "Морозова", "Волков", "Лебедева", "Петров", "Smith", "Brown", "Орлова", "Зайцев"];
/// Messages per ingest transaction, as a sync worker batches them.
pub const BATCH: usize = 10_000;
const SEARCH_LIMIT: usize = pult::tui::state::SEARCH_LIMIT;
pub const PHRASE: &str = "акт сверки взаиморасчётов";
pub const RARE: &str = "zanzibarite";

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
            // Real mail has word forms and numbers (invoices, amounts, tax ids):
            // the index's vocabulary grows with them, and so does stemming work.
            match self.rng.below(20) {
                0 => {
                    let n = self.rng.below(1_000_000);
                    if n >= 1000 && self.rng.below(2) == 0 {
                        s.push_str(&format!("{} {:03}", n / 1000, n % 1000));
                    } else {
                        s.push_str(&n.to_string());
                    }
                }
                1..=6 if ru => {
                    let w = *self.rng.pick(RU);
                    s.push_str(w);
                    if w.chars().count() > 3 && w.ends_with(|c: char| !"аеёиоуыэюяйь".contains(c)) {
                        let e = *self.rng.pick(ENDINGS);
                        s.push_str(e);
                    }
                }
                _ => {
                    let w = if ru { *self.rng.pick(RU) } else { *self.rng.pick(EN) };
                    s.push_str(w);
                }
            }
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

/// What filling a store measured.
pub struct Generated {
    /// Messages per second, from the first batch handed over to the last stored.
    pub rate: f64,
    /// Average body size in bytes.
    pub avg_body: f64,
    /// Seconds the writer then spent merging the search index, as it does
    /// once idle (`store::index_merge`); the figures read after it.
    pub merge_secs: f64,
    /// The longest step of that merge: what a job could wait for.
    pub slowest_merge_step_ms: f64,
}

/// Fills a store with `n` generated messages.
pub fn generate(path: &Path, n: u64, now: i64) -> Result<Generated> {
    generate_with(path, n, now, false)
}

/// [`generate`], with SQLite's `unicode61` tokenizer instead of pult's when
/// `unicode61` (the baseline for the cost of word forms).
fn generate_with(path: &Path, n: u64, now: i64, unicode61: bool) -> Result<Generated> {
    generate_at(&pult::store::Location::Sqlite(path.to_path_buf()), n, now, unicode61)
}

/// Generates `n` messages into the store at `at` (either engine).
pub fn generate_at(at: &pult::store::Location, n: u64, now: i64, unicode61: bool) -> Result<Generated> {
    let writer = at.spawn_writer()?;
    if unicode61 {
        writer.call_blocking(|c| pult::store::search_index::use_unicode61_for_bench(c))?;
    }
    let mut channels = Vec::new();
    for (name, kind) in [("mail", ChannelKind::Email), ("bot", ChannelKind::Telegram), ("wa", ChannelKind::Whatsapp)] {
        channels.push(writer.call_blocking(move |c| ingest::ensure_channel(c, name, kind, now))?);
    }
    // As a sync has it: the worker makes a batch and reads it ahead
    // (store::prepared) on its thread while the writer stores the previous one.
    // The rate is over the time from the first batch handed over to the last
    // stored. The unicode61 baseline is not read ahead: prepared terms are pult's;
    // PULT_BENCH_NO_PREPARE=1 leaves every text to the writer (the ingest before).
    let read_ahead = !unicode61 && std::env::var("PULT_BENCH_NO_PREPARE").is_err();
    let (hand_over, batches) = std::sync::mpsc::sync_channel::<[Vec<SyncEvent>; 3]>(1);
    let worker = std::thread::spawn(move || {
        let mut corpus = Corpus::new(n, 42, now);
        let mut bytes = 0u64;
        while let Some(batch) = corpus.next_batch(BATCH) {
            let mut per: [Vec<Inbound>; 3] = Default::default();
            for (k, m) in batch {
                bytes += m.body_text.len() as u64;
                per[k].push(m);
            }
            if read_ahead {
                pult::store::prepared::prepare_all(per.iter_mut().flatten());
            }
            let per = per.map(|msgs| msgs.into_iter().map(SyncEvent::Message).collect());
            if hand_over.send(per).is_err() {
                break;
            }
        }
        bytes
    });
    let mut started = None;
    for per in batches {
        started.get_or_insert_with(Instant::now);
        for (k, events) in per.into_iter().enumerate() {
            if events.is_empty() {
                continue;
            }
            let ch = channels[k];
            // The batch comes back to be freed here, as a sync frees it, not on the writer.
            let (applied, events) = writer.call_blocking(move |c| {
                let applied = pult::store::events::apply(c, ch, &events, now);
                Ok((applied, events))
            })?;
            applied?;
            drop(events);
        }
    }
    let busy = started.map(|t| t.elapsed().as_secs_f64()).unwrap_or(0.0);
    let bytes = worker.join().map_err(|_| anyhow::anyhow!("the corpus thread panicked"))?;
    let merging = Instant::now();
    let merged = writer.call_blocking(|c| pult::store::index_merge::until_merged(c))?;
    Ok(Generated {
        rate: n as f64 / busy.max(1e-9),
        avg_body: bytes as f64 / n.max(1) as f64,
        merge_secs: merging.elapsed().as_secs_f64(),
        slowest_merge_step_ms: merged.slowest.as_secs_f64() * 1000.0,
    })
}

/// The same rows written the plainest way SQLite allows: one table, no index, no FTS.
fn raw_insert_baseline(dir: &Path, n: u64, now: i64) -> Result<f64> {
    let mut table = pult::store::baseline::PlainTable::create(&dir.join("baseline.db"))?;
    let mut corpus = Corpus::new(n, 42, now);
    let mut busy = 0.0;
    while let Some(batch) = corpus.next_batch(BATCH) {
        let t = Instant::now();
        table.insert(batch.iter().map(|(_, m)| m))?;
        busy += t.elapsed().as_secs_f64();
    }
    table.remove();
    Ok(n as f64 / busy.max(1e-9))
}

fn app_on(path: &Path, now: i64) -> Result<App> {
    app_at(&pult::store::Location::Sqlite(path.to_path_buf()), now)
}

fn app_at(at: &pult::store::Location, now: i64) -> Result<App> {
    let clock = Clock::fixed(now, jiff::tz::TimeZone::UTC);
    let state = AppState::new(pult::i18n::Lang::En, "Анна".into(), clock, Keymap::shipped(), Templates::shipped());
    let writer = at.spawn_writer()?;
    let mut app = App::open(state, Theme::dark(), at, writer)?;
    app.resize(200, 50);
    // The first complete frame: its reads are back.
    app.settle();
    Ok(app)
}

/// Opens the store and draws the first complete frame (channels, list, thread) at 200x50.
pub fn first_frame(path: &Path, now: i64) -> Result<(f64, App, Terminal<TestBackend>)> {
    first_frame_at(&pult::store::Location::Sqlite(path.to_path_buf()), now)
}

/// [`first_frame`] on either engine, in this process.
pub fn first_frame_at(at: &pult::store::Location, now: i64) -> Result<(f64, App, Terminal<TestBackend>)> {
    let t = Instant::now();
    let mut app = app_at(at, now)?;
    let mut term = Terminal::new(TestBackend::new(200, 50))?;
    app.draw(&mut term)?;
    Ok((ms(t), app, term))
}

pub fn search_ms(reader: &Reader, q: &str, clock: &Clock) -> Result<(f64, usize)> {
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
        let _n = reader.like_scan(word)?;
        times.push(ms(t));
    }
    Ok(median(times))
}

/// What a separate `pult-bench probe` process reports: start-to-frame and its own peak RSS.
#[derive(Debug, Serialize, serde::Deserialize)]
pub struct Probe {
    pub first_frame_ms: f64,
    pub peak_rss_mb: f64,
}

/// Runs inside a fresh process: open, draw, then exercise the UI a little, and report.
/// `pult-bench store`: see the command's help.
pub fn store_tool(path: &Path, unicode61: bool, whole_bodies: bool, report: bool) -> Result<()> {
    let writer = Writer::spawn(path)?;
    if unicode61 {
        writer.call_blocking(|c| pult::store::search_index::use_unicode61_for_bench(c))?;
    }
    if whole_bodies {
        writer.call_blocking(|c| pult::store::search_index::reindex_whole_bodies_for_bench(c))?;
    }
    if report {
        let (messages, index) = pult::store::Reader::open(path, "bench")?.index_report()?;
        println!("{}", serde_json::json!({ "messages": messages, "index_bytes": index }));
    }
    Ok(())
}

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
    let out = std::process::Command::new(exe).arg("probe").arg("--store").arg(path).output()?;
    if !out.status.success() {
        anyhow::bail!("probe failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

pub fn run(sizes: &[u64], dir: Option<&Path>, out: &Output) -> Result<()> {
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
            if let Some(g) = &ingest_rate {
                println!(
                    "ingest {:.0}/s, then merged in {:.1} s (slowest step {:.0} ms)",
                    g.rate, g.merge_secs, g.slowest_merge_step_ms
                );
            }
            let _ = std::fs::remove_file(&path);
            continue;
        }
        let mut figures = Vec::new();
        if let Some(Generated { rate, avg_body, merge_secs, slowest_merge_step_ms }) = ingest_rate {
            figures.push(figure("corpus: average body size", "bytes", avg_body, None, None));
            let base = raw_insert_baseline(&dir, n.min(200_000), now)?;
            figures.push(figure(
                "ingest",
                "messages/s",
                rate,
                Some(("plain INSERT, no index/FTS", base)),
                Some(">= 20000"),
            ));
            // The merging a batch no longer does, done once the writer is idle.
            figures.push(figure("search index merged after the ingest (writer idle)", "s", merge_secs, None, None));
            figures.push(figure(
                "that merge's slowest step (what a job could wait)",
                "ms",
                slowest_merge_step_ms,
                None,
                None,
            ));
            figures.push(figure(
                "ingest and that merge together",
                "messages/s",
                n as f64 / (n as f64 / rate + merge_secs),
                None,
                None,
            ));
            // The same ingest with SQLite's unicode61 tokenizer: what word forms cost.
            let limit: u64 =
                std::env::var("PULT_BENCH_BASELINE_MAX").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000_000);
            if n <= limit {
                let plain = dir.join(format!("bench-{n}-unicode61.db"));
                let _ = std::fs::remove_file(&plain);
                let plain_rate = generate_with(&plain, n, now, true)?.rate;
                figures.push(figure(
                    "ingest with word forms (pult tokenizer)",
                    "messages/s",
                    rate,
                    Some(("same ingest, unicode61 tokenizer", plain_rate)),
                    Some(">= 20000"),
                ));
                let size = |p: &Path| -> Result<f64> {
                    let (_, bytes) = pult::store::Reader::open(p, "bench")?.index_report()?;
                    Ok(bytes as f64 / (1 << 20) as f64)
                };
                figures.push(figure(
                    "message index size",
                    "MB",
                    size(&path)?,
                    Some(("unicode61 index of the same mail", size(&plain)?)),
                    None,
                ));
                for ext in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{ext}", plain.display()));
                }
            }
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
        // The generator's mail starts three years back and fills forward: a
        // window of two months near its start holds a share of it.
        let day = |days_ago: i64| clock.zoned(now - days_ago * 86_400).date().to_string();
        let after = format!("after:{}", day(365));
        let combined = format!("оплата from:Соколова after:{} before:{}", day(3 * 365 - 20), day(3 * 365 - 80));
        for (label, q) in [
            ("search: common word, all its forms", "счёт"),
            ("search: one word", "квартал"),
            ("search: phrase", "\"акт сверки взаиморасчётов\""),
            ("search: prefix", "докум*"),
            ("search: rare word", RARE),
            ("search: filters only", "has:attachment kind:email"),
            ("search: filters only, one client", "client:\"разговор 777 —\""),
            ("search: word + from: + date range", combined.as_str()),
            // Each filter alone (issue #31: every filter ≤ 30 ms at 1M).
            ("search: has:attachment", "has:attachment"),
            ("search: kind:whatsapp", "kind:whatsapp"),
            ("search: is:unanswered", "is:unanswered"),
            ("search: channel:wa", "channel:wa"),
            ("search: from:Соколова", "from:Соколова"),
            ("search: after: (a date alone)", after.as_str()),
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
        // Clients: the list (`:clients`, `pult clients`), the merge suggestions
        // and one card, against reading every contact row once.
        let times = |runs: usize, f: &mut dyn FnMut() -> Result<()>| -> Result<f64> {
            let mut v = Vec::new();
            for _ in 0..runs {
                let t = Instant::now();
                f()?;
                v.push(ms(t));
            }
            Ok(median(v))
        };
        let raw = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let rows = times(5, &mut || {
            let n: i64 = raw.query_row("SELECT count(name) FROM contacts", [], |r| r.get(0))?;
            std::hint::black_box(n);
            Ok(())
        })?;
        let mut count = 0;
        let list = times(5, &mut || {
            count = reader.clients()?.len();
            Ok(())
        })?;
        figures.push(figure(
            &format!("clients: the list ({count} clients)"),
            "ms",
            list,
            Some(("count every contact row", rows)),
            Some("<= 300"),
        ));
        let suggestions = times(5, &mut || {
            std::hint::black_box(reader.client_suggestions()?);
            Ok(())
        })?;
        figures.push(figure(
            "clients: merge suggestions (all rules)",
            "ms",
            suggestions,
            Some(("count every contact row", rows)),
            Some("<= 300"),
        ));
        let busiest: i64 = raw.query_row(
            "SELECT contact_id FROM conversations WHERE contact_id IS NOT NULL
             GROUP BY contact_id ORDER BY count(*) DESC LIMIT 1",
            [],
            |r| r.get(0),
        )?;
        let card = times(15, &mut || {
            std::hint::black_box(reader.client(busiest)?);
            Ok(())
        })?;
        figures.push(figure(
            "clients: one client's card",
            "ms",
            card,
            Some(("count every contact row", rows)),
            Some("<= 30"),
        ));
        reports.push(Report { messages: n, figures });
    }
    out.emit(&reports)
}

fn now_nanos() -> i128 {
    jiff::Timestamp::now().as_nanosecond()
}

/// A pult without a terminal: the same watcher, the same reloads and redraws on
/// change, the same 20 s clock tick. Prints `seen SEQ NANOS` after each redraw.
pub fn headless_pult(path: &Path, busy: bool) -> Result<()> {
    use std::io::Write;
    let now = jiff::Timestamp::now().as_second();
    let (_, mut app, mut term) = first_frame(path, now)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let tick = if busy { std::time::Duration::from_millis(1) } else { pult::store::watch::TICK };
    pult::store::watch::Watcher::open(path)?.spawn_every(tick, move |c| tx.send(c).is_ok());
    println!("ready");
    std::io::stdout().flush()?;
    loop {
        match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(first) => {
                let mut all = first;
                for more in rx.try_iter() {
                    all.extend(more);
                }
                app.state.clock = Clock::fixed(jiff::Timestamp::now().as_second(), jiff::tz::TimeZone::UTC);
                app.store_changed(&all);
                app.settle();
                app.draw(&mut term)?;
                let seq = all.iter().map(|c| c.seq).max().unwrap_or(0);
                println!("seen {seq} {}", now_nanos());
                std::io::stdout().flush()?;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                app.tick();
                app.settle();
                app.draw(&mut term)?;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

/// CPU seconds (user + system) a process has used, from /proc/PID/stat.
fn cpu_seconds(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|u| u.parse::<f64>().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|s| s.parse::<f64>().ok()).unwrap_or(0.0);
    ticks / 100.0 // USER_HZ is 100 on Linux
}

struct Pult {
    child: std::process::Child,
    seen: std::sync::mpsc::Receiver<(i64, i128)>,
}

impl Drop for Pult {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_pult(path: &Path, busy: bool) -> Result<Pult> {
    use std::io::BufRead;
    let exe = std::env::current_exe()?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("headless")
        .arg("--store")
        .arg(path)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    if busy {
        cmd.arg("--busy");
    }
    let mut child = cmd.spawn()?;
    let stdout = child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (tx, rx) = std::sync::mpsc::channel();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["ready"] => {
                    let _ = ready_tx.send(());
                }
                ["seen", seq, nanos] => {
                    if let (Ok(s), Ok(n)) = (seq.parse(), nanos.parse()) {
                        let _ = tx.send((s, n));
                    }
                }
                _ => {}
            }
        }
    });
    ready_rx.recv_timeout(std::time::Duration::from_secs(60))?;
    Ok(Pult { child, seen: rx })
}

pub fn percentile(mut v: Vec<f64>, p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    if v.is_empty() {
        return 0.0;
    }
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

/// One daemon and ten pults on one store: idle CPU and commit-to-screen latency,
/// against ten busy-polling pults (1 ms data_version polling) as the baseline.
pub fn run_team(n: u64, dir: Option<&Path>, idle_seconds: u64, out: &Output) -> Result<()> {
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| std::env::temp_dir().join("pult-bench-team"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("bench-{n}.db"));
    let now = jiff::Timestamp::now().as_second();
    if !path.exists() {
        eprintln!("generating {n} messages into {} …", path.display());
        generate(&path, n, now)?;
    }
    let exe = product_binary()?;
    let mut daemon = std::process::Command::new(&exe)
        .arg("daemon")
        .arg("--store")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let writer = Writer::spawn(&path)?;
    let conversation = Reader::open(&path, "bench")?.newest_conversation()?;

    let mut figures = Vec::new();
    let mut results = Vec::new();
    for busy in [false, true] {
        let pults: Vec<Pult> = (0..10).map(|_| spawn_pult(&path, busy)).collect::<Result<_>>()?;
        // Idle: nothing is written; measure what ten open pults cost.
        let before: Vec<f64> = pults.iter().map(|p| cpu_seconds(p.child.id())).collect();
        let daemon_before = cpu_seconds(daemon.id());
        std::thread::sleep(std::time::Duration::from_secs(idle_seconds));
        let cpu: Vec<f64> = pults
            .iter()
            .zip(&before)
            .map(|(p, b)| (cpu_seconds(p.child.id()) - b) / idle_seconds as f64 * 100.0)
            .collect();
        let daemon_cpu = (cpu_seconds(daemon.id()) - daemon_before) / idle_seconds as f64 * 100.0;
        // Latency: a teammate commits a note; each pult reports when it has redrawn.
        let mut lat = Vec::new();
        for i in 0..40 {
            let t0 = now_nanos();
            let seq = writer.call_blocking(move |c| {
                pult::store::team::add_note(c, conversation, "bench", &format!("marker {i}"), now)?;
                pult::store::writer::last_change_seq(c)
            })?;
            for p in &pults {
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
                loop {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    match p.seen.recv_timeout(left) {
                        Ok((s, at)) if s >= seq => {
                            lat.push((at - t0) as f64 / 1e6);
                            break;
                        }
                        Ok(_) => continue,
                        Err(_) => anyhow::bail!("a pult did not see commit {seq}"),
                    }
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(150));
        }
        results.push((busy, median(cpu.clone()), daemon_cpu, median(lat.clone()), percentile(lat, 0.99)));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let (ours, base) = (&results[0], &results[1]);
    figures.push(figure(
        "idle CPU of one pult (median of 10)",
        "% of a core",
        ours.1,
        Some(("busy polling every 1 ms", base.1)),
        Some("< 1"),
    ));
    figures.push(figure("idle CPU of the daemon", "% of a core", ours.2, None, None));
    figures.push(figure(
        "commit → redrawn screen in another pult, median",
        "ms",
        ours.3,
        Some(("busy polling every 1 ms", base.3)),
        Some("<= 300"),
    ));
    figures.push(figure(
        "commit → redrawn screen in another pult, p99",
        "ms",
        ours.4,
        Some(("busy polling every 1 ms", base.4)),
        None,
    ));
    out.emit(&[Report { messages: n, figures }])
}

/// 10,000 updates served by the fake Bot API and ingested end to end; the
/// baseline is the same updates fetched and parsed by teloxide without storing.
pub fn run_telegram(n: usize, dir: Option<&Path>, out: &Output) -> Result<()> {
    use pult::channels::telegram::{self, fake::FakeBotApi, fake::updates as u};
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| std::env::temp_dir().join("pult-bench-telegram"));
    std::fs::create_dir_all(&dir)?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let fill = |fake: &FakeBotApi| {
        let mut rng = Lcg::new(9);
        let now = jiff::Timestamp::now().as_second();
        for i in 0..n as i64 {
            let chat = 1000 + rng.below(300) as i64;
            let text: Vec<&str> = (0..2 + rng.below(30)).map(|_| *rng.pick(RU)).collect();
            let chat_json = if chat % 4 == 0 {
                u::group_chat(-chat, "Группа клиента")
            } else {
                u::private_chat(chat, "Клиент")
            };
            let from = u::user(chat * 10 + rng.below(3) as i64, *rng.pick(FIRST), *rng.pick(LAST));
            fake.push(u::message(chat_json, from, i + 1, now - (n as i64 - i), u::text(&text.join(" "))));
        }
    };
    let mut rates = Vec::new();
    let mut base_rates = Vec::new();
    for _ in 0..3 {
        // Baseline: fetch and parse only.
        let fake = FakeBotApi::start()?;
        fill(&fake);
        let bot = teloxide::Bot::new("1:B").set_api_url(url::Url::parse(&fake.url())?);
        let t = Instant::now();
        let got = rt.block_on(async {
            use teloxide::payloads::GetUpdatesSetters;
            use teloxide::prelude::Requester;
            let mut offset = 0;
            let mut total = 0;
            loop {
                let ups = bot.get_updates().offset(offset).timeout(0).limit(100).await?;
                if ups.is_empty() {
                    return Ok::<usize, anyhow::Error>(total);
                }
                total += ups.iter().filter_map(telegram::to_inbound).count();
                offset = ups.iter().map(|x| x.id.0 as i32 + 1).max().unwrap_or(offset);
            }
        })?;
        base_rates.push(got as f64 / t.elapsed().as_secs_f64());
        // pult: fetch, map, ingest with the offset in the same transaction.
        let fake = FakeBotApi::start()?;
        fill(&fake);
        let path = dir.join("telegram-bench.db");
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        let writer = Writer::spawn(&path)?;
        let channel = writer.call_blocking(|c| ingest::ensure_channel(c, "bot", ChannelKind::Telegram, 0))?;
        let bot = teloxide::Bot::new("1:B").set_api_url(url::Url::parse(&fake.url())?);
        let t = Instant::now();
        let got = rt.block_on(telegram::drain(&bot, &writer, channel))?;
        rates.push(got as f64 / t.elapsed().as_secs_f64());
        let (stored, _) = Reader::open(&path, "bench")?.index_report()?;
        anyhow::ensure!(stored == n as i64, "stored {stored} of {n} messages");
    }
    let figures = vec![
        figure(
            &format!("telegram: {n} updates fetched and ingested"),
            "updates/s",
            median(rates),
            Some(("fetch and parse only, no store", median(base_rates))),
            Some(">= 2000"),
        ),
        figure("peak RSS of the benchmark process", "MB", peak_rss_mb(), None, None),
    ];
    out.emit(&[Report { messages: n as u64, figures }])
}

fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Writes `n` realistic mails (threads, Cyrillic RFC 2047 headers, UTF-8 bodies)
/// into a maildir, for the email benchmark against mbsync.
/// Writes `n` generated mails into a maildir; with `attachment_kb`, each mail
/// also carries a file of that size (random bytes, base64), as scanned documents do.
pub fn gen_maildir(out: &Path, n: u64, attachment_kb: u64) -> Result<()> {
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(out.join(sub))?;
    }
    let mut corpus = Corpus::new(n, 7, jiff::Timestamp::now().as_second());
    let mut rng = Lcg::new(11);
    let mut i = 0u64;
    while let Some(batch) = corpus.next_batch(1000) {
        for (_, m) in batch {
            i += 1;
            let subject = m.subject.clone().unwrap_or_else(|| m.conversation_title.clone());
            let date = jiff::Timestamp::from_second(m.sent_at)?.strftime("%a, %d %b %Y %H:%M:%S +0000").to_string();
            let refs = format!("<{}@bench.test>", m.conversation_key);
            let mail = format!(
                "From: =?UTF-8?B?{}?= <{}@client.test>\r\nTo: alice@office.test\r\nSubject: =?UTF-8?B?{}?=\r\n\
                 Message-ID: <{}@bench.test>\r\nReferences: {refs}\r\nIn-Reply-To: {refs}\r\nDate: {date}\r\n\
                 MIME-Version: 1.0\r\n",
                base64(m.author_name.as_bytes()),
                m.author_handle.trim_start_matches('p'),
                base64(subject.as_bytes()),
                m.remote_id,
            );
            let text = m.body_text.replace('\n', "\r\n");
            let mail = if attachment_kb == 0 {
                format!(
                    "{mail}Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
                )
            } else {
                let mut bytes = vec![0u8; (attachment_kb * 1024) as usize];
                for b in bytes.iter_mut() {
                    *b = rng.below(256) as u8;
                }
                let lines: Vec<String> =
                    base64(&bytes).as_bytes().chunks(76).map(|c| String::from_utf8_lossy(c).into_owned()).collect();
                format!(
                    "{mail}Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\
                     Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n--b\r\n\
                     Content-Type: application/pdf; name=\"scan-{i}.pdf\"\r\nContent-Disposition: attachment; filename=\"scan-{i}.pdf\"\r\n\
                     Content-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
                    lines.join("\r\n")
                )
            };
            std::fs::write(out.join("cur").join(format!("{}.{i}.bench:2,S", m.sent_at)), mail)?;
        }
    }
    Ok(())
}

/// The `pult` binary built beside this one (the team benchmark runs its daemon).
fn product_binary() -> Result<PathBuf> {
    let me = std::env::current_exe()?;
    let pult = me.with_file_name("pult");
    anyhow::ensure!(pult.is_file(), "no pult binary next to {} (build both: cargo build --release)", me.display());
    Ok(pult)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_examples() {
        assert_eq!(super::base64(b"foobar"), "Zm9vYmFy");
        assert_eq!(super::base64(b"fooba"), "Zm9vYmE=");
        assert_eq!(super::base64(b"foob"), "Zm9vYg==");
    }
}

/// WhatsApp: a burst of signed webhook POSTs (client texts and delivery
/// statuses) from `clients` local connections at once, each answered only
/// after its commit. Baseline, same run: a receiver that checks the
/// signature and answers without parsing or storing.
pub fn run_whatsapp(n: usize, clients: usize, dir: Option<&Path>, out: &Output) -> Result<()> {
    use pult::channels::whatsapp::fake::{self, FakeGraphApi, meta};
    use pult::channels::whatsapp::webhook::build;
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| std::env::temp_dir().join("pult-bench-whatsapp"));
    std::fs::create_dir_all(&dir)?;
    let now = jiff::Timestamp::now().as_second();
    let mut rng = Lcg::new(11);
    // Seven in ten are client messages; the rest statuses of earlier ones.
    let payloads: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let wa_id = format!("7916{:07}", 1_000_000 + rng.below(300));
            let v = if i % 10 < 7 {
                let text: Vec<&str> = (0..2 + rng.below(30)).map(|_| *rng.pick(RU)).collect();
                let name = format!("{} {}", rng.pick(FIRST), rng.pick(LAST));
                build::text(fake::PHONE_NUMBER_ID, &wa_id, &name, &format!("wamid.bench{i}"), now - 10, &text.join(" "))
            } else {
                let status = ["sent", "delivered", "read"][i % 3];
                build::status(fake::PHONE_NUMBER_ID, &format!("wamid.out{}", i / 3), &wa_id, status, now, &[])
            };
            v.to_string().into_bytes()
        })
        .collect();
    let texts = (0..n).filter(|i| i % 10 < 7).count() as i64;
    let payloads = std::sync::Arc::new(payloads);
    // Every POST from `clients` threads; (wall seconds, latencies in ms).
    let burst = |addr: &str| -> Result<(f64, Vec<f64>)> {
        let t = Instant::now();
        let threads: Vec<_> = (0..clients)
            .map(|c| {
                let (addr, payloads) = (addr.to_string(), payloads.clone());
                std::thread::spawn(move || -> Result<Vec<f64>> {
                    let mut lat = Vec::new();
                    for p in payloads.iter().skip(c).step_by(clients) {
                        let t = Instant::now();
                        let status = meta::post(&addr, Some(fake::APP_SECRET), p)?;
                        anyhow::ensure!(status == 200, "webhook answered {status}");
                        lat.push(t.elapsed().as_secs_f64() * 1000.0);
                    }
                    Ok(lat)
                })
            })
            .collect();
        let mut all = Vec::new();
        for th in threads {
            all.extend(th.join().map_err(|_| anyhow::anyhow!("a client thread panicked"))??);
        }
        Ok((t.elapsed().as_secs_f64(), all))
    };
    let p99 = |mut v: Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
        v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1))).copied().unwrap_or(0.0)
    };
    let free = || -> Result<String> { Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string()) };
    let secret = |name: &str, value: &str| -> Result<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        let p = dir.join(name);
        std::fs::write(&p, value)?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600))?;
        Ok(p)
    };
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (mut rates, mut base_rates, mut p99s, mut base_p99s) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        // Baseline: signature checked, nothing parsed or stored.
        let addr = free()?;
        let listener = rt.block_on(tokio::net::TcpListener::bind(&addr))?;
        let server = rt.spawn(baseline_receiver(listener));
        let (secs, lat) = burst(&addr)?;
        server.abort();
        base_rates.push(n as f64 / secs);
        base_p99s.push(p99(lat));
        // pult's receiver: verify, parse, commit, then 200.
        let path = dir.join("whatsapp-bench.db");
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
        let fake = FakeGraphApi::start()?;
        let account = pult::config::WhatsappAccount {
            name: "whatsapp".into(),
            phone_number_id: fake::PHONE_NUMBER_ID.into(),
            token_command: None,
            token_file: Some(secret("token", fake::TOKEN)?),
            app_secret_command: None,
            app_secret_file: Some(secret("app-secret", fake::APP_SECRET)?),
            verify_token_command: None,
            verify_token_file: Some(secret("verify", fake::VERIFY_TOKEN)?),
            api_url: Some(fake.api_url()),
            webhook_listen: free()?,
            media_max_mb: 64,
            transcribe_command: None,
            player_command: None,
            mark_read: false,
        };
        let writer = Writer::spawn(&path)?;
        let id = writer.call_blocking(|c| ingest::ensure_channel(c, "whatsapp", ChannelKind::Whatsapp, 0))?;
        let ctx = pult::channels::registry::Context {
            timezone: jiff::tz::TimeZone::UTC,
            media_dir: dir.join("media"),
            lang: pult::i18n::Lang::En,
        };
        let channel = pult::channels::registry::open(&pult::config::Account::Whatsapp(account.clone()), id, &ctx)
            .map_err(|e| anyhow::anyhow!(e))?;
        let worker = rt.spawn(channel.run(writer.clone()));
        let started = Instant::now();
        while std::net::TcpStream::connect(&account.webhook_listen).is_err() {
            anyhow::ensure!(started.elapsed().as_secs() < 10, "the receiver did not start");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let (secs, lat) = burst(&account.webhook_listen)?;
        worker.abort();
        rates.push(n as f64 / secs);
        p99s.push(p99(lat));
        let (stored, _) = Reader::open(&path, "bench")?.index_report()?;
        anyhow::ensure!(stored == texts, "stored {stored} of {texts} messages");
    }
    let figures = vec![
        figure(
            &format!("whatsapp: {n} signed webhook POSTs, {clients} at a time, committed before 200"),
            "POSTs/s",
            median(rates),
            Some(("signature check only, nothing stored", median(base_rates))),
            Some(">= 2000"),
        ),
        figure(
            "whatsapp: p99 time to 200",
            "ms",
            median(p99s),
            Some(("signature check only", median(base_p99s))),
            Some("< 50"),
        ),
        figure("peak RSS of the benchmark process", "MB", peak_rss_mb(), None, None),
    ];
    out.emit(&[Report { messages: n as u64, figures }])
}

/// The benchmark's baseline: reads the body, checks the signature, answers.
async fn baseline_receiver(listener: tokio::net::TcpListener) {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Bytes;
    loop {
        let Ok((stream, _)) = listener.accept().await else { continue };
        tokio::spawn(async move {
            let service = hyper::service::service_fn(|req: hyper::Request<hyper::body::Incoming>| async move {
                let sig = req.headers().get("x-hub-signature-256").and_then(|v| v.to_str().ok()).map(str::to_string);
                let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                let secret = pult::channels::whatsapp::fake::APP_SECRET.as_bytes();
                let ok = pult::channels::whatsapp::webhook::signature_ok(secret, &body, sig.as_deref());
                let mut r = hyper::Response::new(Full::new(Bytes::new()));
                *r.status_mut() = if ok { hyper::StatusCode::OK } else { hyper::StatusCode::UNAUTHORIZED };
                Ok::<_, std::convert::Infallible>(r)
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// One chat of `n` messages from `people` authors, the newest `newest`; one
/// message in ten carries a file, one in five answers an earlier one.
fn chat_messages(key: &str, n: usize, people: u64, newest: i64, rng: &mut Lcg) -> Vec<Inbound> {
    (0..n)
        .map(|i| {
            let who = rng.below(people);
            let words: Vec<&str> = (0..2 + rng.below(40)).map(|_| *rng.pick(RU)).collect();
            let mut m = Inbound {
                remote_id: format!("{key}-{i}"),
                conversation_key: key.into(),
                conversation_title: key.into(),
                is_group: people > 1,
                author_handle: format!("{key}-user-{who}"),
                author_name: format!("{} {}", FIRST[who as usize % FIRST.len()], LAST[who as usize % LAST.len()]),
                sent_at: newest - (n - i) as i64 * 37,
                body_text: words.join(" "),
                ..Default::default()
            };
            if i % 10 == 3 {
                m.attachments = vec![InboundAttachment {
                    name: format!("документ-{i}.pdf"),
                    mime: "application/pdf".into(),
                    size: 20_000 + i as i64,
                    ..Default::default()
                }];
            }
            if i % 5 == 4 && i > 10 {
                m.reply_to_remote = Some(format!("{key}-{}", i - 1 - rng.below(10) as usize));
            }
            m
        })
        .collect()
}

/// Scrolls the open thread up and back down half a page per key, drawing a
/// frame after each: (frame medians, key-to-frame medians) in ms.
fn scroll_frames(app: &mut App, term: &mut Terminal<TestBackend>, steps: usize) -> Result<(f64, f64)> {
    let (mut frames, mut keys) = (Vec::new(), Vec::new());
    for i in 0..steps {
        let key = if i < steps / 2 { "<C-u>" } else { "<C-d>" };
        let t = Instant::now();
        app.press_keys(key)?;
        let drawn = Instant::now();
        app.draw(term)?;
        frames.push(ms(drawn));
        keys.push(ms(t));
    }
    Ok((median(frames), median(keys)))
}

/// `pult-bench --scroll`: what a person feels in a long group chat. The
/// thread pane of an `n`-message group chat scrolls half a page per key
/// (frame time, and key to frame), against the same scroll in a
/// 20-message chat; then `j` held over a list of 200-message group chats,
/// each press asking for its thread (read off the UI thread, the newest
/// wins), against pressing, waiting for the read and drawing, one by one.
pub fn run_scroll(n: usize, dir: Option<&Path>, out: &Output) -> Result<()> {
    let dir = dir.map(Path::to_path_buf).unwrap_or_else(|| std::env::temp_dir().join("pult-bench-scroll"));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("scroll-{n}.db"));
    for ext in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
    }
    let now = jiff::Timestamp::now().as_second();
    let writer = Writer::spawn(&path)?;
    let channel = writer.call_blocking(move |c| ingest::ensure_channel(c, "bot", ChannelKind::Telegram, now))?;
    let mut rng = Lcg::new(31);
    // The long chat is the newest; 60 shorter group chats and a 20-message one follow.
    let mut chats = vec![chat_messages("group-long", n, 40, now - 60, &mut rng)];
    chats.push(chat_messages("chat-short", 20, 2, now - 120, &mut rng));
    for c in 0..60 {
        chats.push(chat_messages(&format!("group-{c:02}"), 200, 12, now - 3_600 * (c + 1), &mut rng));
    }
    for msgs in chats {
        for batch in msgs.chunks(BATCH) {
            let batch = batch.to_vec();
            writer.call_blocking(move |c| ingest::apply(c, channel, &batch, &[], now))?;
        }
    }
    drop(writer);

    let open = |title: &str| -> Result<(App, Terminal<TestBackend>)> {
        let mut app = app_on(&path, now)?;
        let at = app
            .state
            .list
            .rows
            .iter()
            .position(|c| c.title == title)
            .ok_or_else(|| anyhow::anyhow!("{title} is not listed"))?;
        for _ in 0..at {
            app.press_keys("j")?;
        }
        app.press_keys("<Enter>")?;
        let mut term = Terminal::new(TestBackend::new(200, 50))?;
        app.draw(&mut term)?;
        let shown = app.state.thread.as_ref().map(|t| t.conversation.title.clone());
        anyhow::ensure!(shown.as_deref() == Some(title), "opened {shown:?}, not {title}");
        Ok((app, term))
    };
    const STEPS: usize = 400;
    let (mut long_app, mut long_term) = open("group-long")?;
    let (frame, key) = scroll_frames(&mut long_app, &mut long_term, STEPS)?;
    let (mut short_app, mut short_term) = open("chat-short")?;
    let (short_frame, short_key) = scroll_frames(&mut short_app, &mut short_term, STEPS)?;

    // `j` held over the list: the UI asks and draws; the reads catch up.
    let (mut app, mut term) = (app_on(&path, now)?, Terminal::new(TestBackend::new(200, 50))?);
    app.draw(&mut term)?;
    let j = pult::tui::keys::parse_keys("j")?[0];
    let rows = app.state.list.rows.len().saturating_sub(1).min(60);
    let thread = pult::tui::reads::ReadKind::Thread;
    let before = app.read_counts(thread);
    let mut held = Vec::new();
    for _ in 0..rows {
        let t = Instant::now();
        app.press(j);
        // As the event loop does: what has come back shows, nothing is waited for.
        app.apply_arrived_reads();
        app.draw(&mut term)?;
        held.push(ms(t));
    }
    let t = Instant::now();
    app.settle();
    let caught_up = ms(t);
    let after = app.read_counts(thread);
    let n_of = |f: fn(&pult::tui::reads::ReadCounts) -> u64| f(&after) - f(&before);
    let stop = app.state.list.selected().map(|c| c.id);
    anyhow::ensure!(app.state.thread.as_ref().map(|t| t.conversation.id) == stop, "the last thread shows");
    // Baseline: each press waits for its thread before the frame (as before the reader worker).
    let (mut app, mut term) = (app_on(&path, now)?, Terminal::new(TestBackend::new(200, 50))?);
    let mut waited = Vec::new();
    for _ in 0..rows {
        let t = Instant::now();
        app.press(j);
        app.settle();
        app.draw(&mut term)?;
        waited.push(ms(t));
    }
    eprintln!(
        "held j: {rows} presses asked {} thread reads: {} read, {} skipped, {} dropped as stale, {} shown; \
         the last one was applied {caught_up:.2} ms after the last press",
        n_of(|c| c.asked),
        n_of(|c| c.performed),
        n_of(|c| c.skipped),
        n_of(|c| c.stale),
        n_of(|c| c.applied)
    );
    let figures = vec![
        figure(
            &format!("frame while a {n}-message group chat scrolls (200x50)"),
            "ms",
            frame,
            Some(("same scroll, 20-message chat", short_frame)),
            Some("<= 2"),
        ),
        figure(
            "key to frame, same scroll (half a page per key)",
            "ms",
            key,
            Some(("same scroll, 20-message chat", short_key)),
            Some("<= 16"),
        ),
        figure(
            "key to frame, j held over 200-message group chats",
            "ms",
            median(held),
            Some(("each press waits for its thread", median(waited))),
            Some("<= 16"),
        ),
    ];
    out.emit(&[Report { messages: n as u64, figures }])
}
