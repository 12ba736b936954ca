//! `pult-bench --postgres URL`: commit in one process → noticed by ten
//! screens, on PostgreSQL (doorbell + change log) against SQLite's watcher
//! (`PRAGMA data_version` every 100 ms), measured in the same run.

use anyhow::{Context as _, Result};
use pult::store::pg::{PgDb, Target, changes};
use pult::store::sql::Transact;
use std::sync::mpsc;
use std::time::{Duration, Instant};

const SCREENS: usize = 10;
const COMMITS: usize = 200;
/// Between two commits: a team's busy minute, not a burst.
const PAUSE: Duration = Duration::from_millis(25);

pub fn run(url: &str, password_file: Option<&std::path::Path>, json: bool) -> Result<()> {
    let password = password_file.map(|f| pult::secrets::read(None, Some(f))).transpose()?;
    let target = Target::parse(url, password.as_deref())?;
    let mut store = PgDb::open(&target)?;
    let conv = conversation(&mut store)?;

    let (tx, rx) = mpsc::channel::<(i64, Instant)>();
    let mut watchers = Vec::new();
    for _ in 0..SCREENS {
        let mut w = changes::Watcher::open(&target)?;
        let tx = tx.clone();
        watchers.push(std::thread::spawn(move || {
            let mut seen = 0;
            while seen < COMMITS {
                match w.poll(Duration::from_secs(1)) {
                    Ok(c) => {
                        let at = Instant::now();
                        seen += c.len();
                        for ch in c {
                            let _ = tx.send((ch.seq, at));
                        }
                    }
                    Err(e) => {
                        eprintln!("watcher: {e}");
                        return;
                    }
                }
            }
        }));
    }
    drop(tx);
    let pg = measure(COMMITS, rx, |i| {
        pult::store::team::add_note(&mut store, conv, "bench", &format!("заметка {i}"), 1)?;
        Ok(())
    })?;
    for w in watchers {
        let _ = w.join();
    }

    let dir = std::env::temp_dir().join(format!("pult-bench-pg-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("pult.db");
    let writer = pult::store::Writer::spawn(&path)?;
    let mut db = pult::store::open_writer(&path)?;
    let sconv = conversation(&mut db)?;
    drop(db);
    let (tx, rx) = mpsc::channel::<(i64, Instant)>();
    for _ in 0..SCREENS {
        let tx = tx.clone();
        let mut left = COMMITS;
        pult::store::watch::Watcher::open(&path)?.spawn(move |c| {
            let at = Instant::now();
            left = left.saturating_sub(c.len());
            for ch in c {
                let _ = tx.send((ch.seq, at));
            }
            left > 0
        });
    }
    drop(tx);
    let sqlite = measure(COMMITS, rx, |i| {
        writer.call_blocking(move |c| pult::store::team::add_note(c, sconv, "bench", &format!("заметка {i}"), 1))?;
        Ok(())
    })?;

    let _ = std::fs::remove_dir_all(&dir);
    let (pm, p99) = (pct(&pg, 50), pct(&pg, 99));
    let (sm, s99) = (pct(&sqlite, 50), pct(&sqlite, 99));
    if json {
        println!(
            "{}",
            serde_json::json!({
                "screens": SCREENS, "commits": COMMITS,
                "postgres_ms": { "median": pm, "p99": p99 },
                "sqlite_ms": { "median": sm, "p99": s99 },
            })
        );
    } else {
        println!("| commit in one process → noticed by {SCREENS} others ({COMMITS} commits) | median | p99 |");
        println!("|---|---|---|");
        println!("| PostgreSQL: NOTIFY doorbell, then the change log | {pm:.1} ms | {p99:.1} ms |");
        println!("| SQLite (same run): `PRAGMA data_version` every 100 ms | {sm:.1} ms | {s99:.1} ms |");
    }
    Ok(())
}

/// A conversation to write notes in.
fn conversation(store: &mut impl Transact) -> Result<i64> {
    Ok(store.write(|c| {
        let ch = c.insert(
            "INSERT INTO channels (name, kind, created_at) VALUES ('bench', 'telegram', 1) RETURNING id",
            &[],
        )?;
        c.insert(
            "INSERT INTO conversations (channel_id, remote_key, title, created_at) VALUES (?1, 'bench', 'bench', 1)
             RETURNING id",
            &[&ch],
        )
    })?)
}

/// Commits `n` times, each when the last was committed, and returns each
/// screen's delay from a commit's return to its notice, in milliseconds.
fn measure(
    n: usize,
    rx: mpsc::Receiver<(i64, Instant)>,
    mut commit: impl FnMut(usize) -> Result<()>,
) -> Result<Vec<f64>> {
    let mut committed = Vec::with_capacity(n);
    for i in 0..n {
        commit(i).with_context(|| format!("commit {i}"))?;
        committed.push(Instant::now());
        std::thread::sleep(PAUSE);
    }
    let mut delays = Vec::new();
    // The change log's numbers start where the store's did: the first one seen is commit 0.
    let seen: Vec<(i64, Instant)> = rx.iter().collect();
    let first = seen.iter().map(|(s, _)| *s).min().unwrap_or(0);
    for (seq, at) in seen {
        if let Some(c) = usize::try_from(seq - first).ok().and_then(|i| committed.get(i)) {
            delays.push(at.saturating_duration_since(*c).as_secs_f64() * 1000.0);
        }
    }
    delays.sort_by(f64::total_cmp);
    Ok(delays)
}

fn pct(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[(sorted.len() - 1) * p / 100]
}
