//! How `pult-bench` prints its figures: a table for people, JSON, or a
//! Markdown table to paste into README.md as it is, headed by the machine,
//! its load when the run began, the date and the command that produced it.

use anyhow::Result;
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Figure {
    pub name: String,
    pub unit: String,
    pub median: f64,
    pub baseline: Option<f64>,
    pub baseline_name: Option<String>,
    pub target: Option<String>,
}

pub fn figure(name: &str, unit: &str, median: f64, baseline: Option<(&str, f64)>, target: Option<&str>) -> Figure {
    Figure {
        name: name.into(),
        unit: unit.into(),
        median,
        baseline: baseline.map(|b| b.1),
        baseline_name: baseline.map(|b| b.0.to_string()),
        target: target.map(str::to_string),
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    pub messages: u64,
    pub figures: Vec<Figure>,
}

/// Where a run was measured: read when it starts, since the run itself loads the machine.
#[derive(Debug, Clone)]
pub struct Machine {
    cpus: usize,
    cpu_model: String,
    load_at_start: String,
    date: String,
    command: String,
}

impl Machine {
    pub fn now() -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| Some(l.split_once(':')?.1.trim().to_string()))
            })
            .unwrap_or_else(|| "unknown CPU".into());
        let load_at_start = std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|_| "unknown".into());
        let program = std::env::args().next().unwrap_or_default();
        let program = std::path::Path::new(&program).file_name().map(|f| f.to_string_lossy().into_owned());
        let command = program
            .into_iter()
            .chain(std::env::args().skip(1))
            .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
            .collect::<Vec<_>>()
            .join(" ");
        Machine {
            cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            cpu_model,
            load_at_start,
            date: jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M UTC").to_string(),
            command,
        }
    }
}

/// How a run prints its reports.
#[derive(Debug, Clone)]
pub enum Output {
    Text,
    Json,
    Markdown(Machine),
}

impl Output {
    pub fn emit(&self, reports: &[Report]) -> Result<()> {
        match self {
            Output::Text => print_text(reports),
            Output::Json => println!("{}", serde_json::to_string_pretty(reports)?),
            Output::Markdown(machine) => print!("{}", markdown(reports, machine)),
        }
        Ok(())
    }
}

fn ratio(f: &Figure) -> Option<f64> {
    f.baseline.filter(|b| *b > 0.0).map(|b| f.median / b)
}

fn print_text(reports: &[Report]) {
    for r in reports {
        println!("\n== {} messages ==", r.messages);
        println!("{:<58} {:>14} {:>12} {:>9}  target", "measure (median)", "pult", "baseline", "ratio");
        for f in &r.figures {
            let b = f.baseline.map(|b| format!("{b:.2}")).unwrap_or_else(|| "-".into());
            let ratio = ratio(f).map(|r| format!("{r:.2}x")).unwrap_or_else(|| "-".into());
            println!(
                "{:<58} {:>14} {:>12} {:>9}  {} {}",
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

/// A figure with as many digits as it needs to be read, not more.
fn number(v: f64) -> String {
    let digits = if v >= 100.0 {
        0
    } else if v >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{v:.digits$}");
    // Thousands apart, as the README writes them.
    let (int, frac) = s.split_once('.').map_or((s.as_str(), None), |(i, f)| (i, Some(f)));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 && c.is_ascii_digit() && int[..i].ends_with(|p: char| p.is_ascii_digit()) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    }
}

/// Cells never break the table: a `|` in a query is escaped.
fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

fn markdown(reports: &[Report], m: &Machine) -> String {
    let mut out = format!(
        "Produced by `{}` on {} ({} CPUs, {}; load average {} at the start).\n",
        m.command, m.date, m.cpus, m.cpu_model, m.load_at_start
    );
    for r in reports {
        out.push_str(&format!(
            "\n| {} messages, median | pult | baseline (same run) | pult / baseline | target |\n|---|---|---|---|---|\n",
            number(r.messages as f64)
        ));
        for f in &r.figures {
            let baseline = match (f.baseline, f.baseline_name.as_deref()) {
                (Some(b), Some(name)) => format!("{}: {} {}", cell(name), number(b), f.unit),
                _ => "—".into(),
            };
            out.push_str(&format!(
                "| {} | {} {} | {} | {} | {} |\n",
                cell(&f.name),
                number(f.median),
                f.unit,
                baseline,
                ratio(f).map(|r| format!("{r:.2}×")).unwrap_or_else(|| "—".into()),
                f.target.as_deref().map(|t| format!("{} {}", cell(t), f.unit)).unwrap_or_else(|| "—".into()),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine() -> Machine {
        Machine {
            cpus: 2,
            cpu_model: "AMD EPYC".into(),
            load_at_start: "0.50 1.23 1.51".into(),
            date: "2026-12-05 01:30 UTC".into(),
            command: "pult-bench --messages 1000 --markdown".into(),
        }
    }

    #[test]
    fn numbers_are_grouped_and_rounded_as_the_readme_writes_them() {
        assert_eq!(number(160_000.4), "160,000");
        assert_eq!(number(12_696.0), "12,696");
        assert_eq!(number(264.2), "264");
        assert_eq!(number(27.04), "27.0");
        assert_eq!(number(1.534), "1.53");
        assert_eq!(number(-3.0), "-3.00");
    }

    #[test]
    fn the_markdown_table_names_machine_command_and_each_baseline() {
        let reports = [Report {
            messages: 1_000_000,
            figures: vec![
                figure("ingest", "messages/s", 20_500.0, Some(("plain INSERT", 160_000.0)), Some(">= 20000")),
                figure("search: a | b", "ms", 6.1, None, None),
            ],
        }];
        let md = markdown(&reports, &machine());
        assert!(md.starts_with("Produced by `pult-bench --messages 1000 --markdown` on 2026-12-05 01:30 UTC (2 CPUs, AMD EPYC; load average 0.50 1.23 1.51 at the start).\n"), "{md}");
        assert!(md.contains("| 1,000,000 messages, median |"), "{md}");
        assert!(
            md.contains(
                "| ingest | 20,500 messages/s | plain INSERT: 160,000 messages/s | 0.13× | >= 20000 messages/s |"
            ),
            "{md}"
        );
        assert!(md.contains("| search: a \\| b | 6.10 ms | — | — | — |"), "{md}");
        // Every row has the header's five cells.
        for line in md.lines().filter(|l| l.starts_with('|')) {
            assert_eq!(line.replace("\\|", "").matches('|').count(), 6, "{line}");
        }
    }
}
