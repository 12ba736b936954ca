//! `pult-bench --postgres URL --engines`: the same corpus ingested into
//! SQLite and into PostgreSQL in one run, then the first frame and each kind
//! of search on both; PostgreSQL's figures with SQLite's as their baseline.

use crate::bench::{PHRASE, RARE, first_frame_at, generate_at, median, search_ms};
use crate::report::{Output, Report, figure};
use anyhow::Result;
use pult::clock::Clock;
use pult::store::Location;
use pult::store::pg::Target;

/// A database of the benchmark's own on the server of `target` (its role may
/// create databases), dropped at the end.
struct Scratch {
    admin: Target,
    name: String,
}

impl Scratch {
    fn new(admin: &Target, n: u64) -> Result<(Scratch, Target)> {
        let name = format!("pult_bench_{}_{n}", std::process::id());
        admin.connect()?.batch_execute(&format!("CREATE DATABASE {name}"))?;
        Ok((Scratch { admin: admin.clone(), name: name.clone() }, admin.with_database(&name)))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut c) = self.admin.connect() {
            let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

struct Measured {
    ingest: f64,
    first_frame: f64,
    searches: Vec<(String, f64, usize)>,
}

fn measure(at: &Location, n: u64, now: i64) -> Result<Measured> {
    eprintln!("{n} messages into {} …", at.shown());
    let ingest = generate_at(at, n, now, false)?.rate;
    let mut frames = Vec::new();
    for _ in 0..5 {
        frames.push(first_frame_at(at, now)?.0);
    }
    let reader = at.open_reader("Анна")?;
    let clock = Clock::fixed(now, jiff::tz::TimeZone::UTC);
    let phrase = format!("\"{PHRASE}\"");
    let mut searches = Vec::new();
    for (label, q) in [
        ("common word, all its forms", "счёт"),
        ("one word", "квартал"),
        ("phrase", phrase.as_str()),
        ("prefix", "докум*"),
        ("rare word", RARE),
        ("filters only", "has:attachment kind:email"),
        ("from: alone", "from:Соколова"),
    ] {
        let (t, hits) = search_ms(&reader, q, &clock)?;
        searches.push((label.to_string(), t, hits));
    }
    Ok(Measured { ingest, first_frame: median(frames), searches })
}

pub fn run(admin: &Target, sizes: &[u64], out: &Output) -> Result<()> {
    let now = jiff::Timestamp::now().as_second();
    let dir = std::env::temp_dir().join(format!("pult-bench-engines-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let mut reports = Vec::new();
    for &n in sizes {
        let path = dir.join(format!("bench-{n}.db"));
        let _ = std::fs::remove_file(&path);
        let sqlite = measure(&Location::Sqlite(path.clone()), n, now)?;
        let (_scratch, target) = Scratch::new(admin, n)?;
        let postgres = measure(&Location::Postgres(target), n, now)?;
        let base = "SQLite, same run";
        let mut figures = vec![
            figure("PostgreSQL: ingest", "messages/s", postgres.ingest, Some((base, sqlite.ingest)), None),
            figure(
                "PostgreSQL: first frame (in process)",
                "ms",
                postgres.first_frame,
                Some((base, sqlite.first_frame)),
                Some("<= 100"),
            ),
        ];
        for ((label, pg, hits), (_, lite, lite_hits)) in postgres.searches.iter().zip(&sqlite.searches) {
            if hits != lite_hits {
                eprintln!("search {label}: PostgreSQL found {hits}, SQLite {lite_hits}");
            }
            figures.push(figure(
                &format!("PostgreSQL: search, {label} ({hits} hits)"),
                "ms",
                *pg,
                Some((base, *lite)),
                Some("<= 30"),
            ));
        }
        reports.push(Report { messages: n, figures });
        for ext in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{ext}", path.display()));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    out.emit(&reports)
}
