//! The command line: `pult`, `pult demo`, `pult status`, `pult search`, `pult bench`.

use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::store::{self, Reader, Writer, ingest};
use crate::tui::{self, app::App, keymap::Keymap, state::AppState, theme::Theme};
use crate::workflow::templates::Templates;
use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "pult",
    version,
    about = "A keyboard-driven terminal shared inbox: email, Telegram and WhatsApp in one queue"
)]
pub struct Cli {
    /// Configuration file (default: ~/.config/pult/config.toml)
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Store file (default: [store] path from the config, else ~/.local/share/pult/pult.db)
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Theme: dark, light, high-contrast, or a path to a theme file
    #[arg(long, global = true)]
    pub theme: Option<String>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Open a throw-away store with a realistic week of an accountant's inbox
    Demo {
        /// Do not simulate new client messages
        #[arg(long)]
        no_live: bool,
        /// Seconds between simulated client messages
        #[arg(long, default_value_t = 30)]
        every: u64,
        /// Only fill the store and exit (with --store, to keep it)
        #[arg(long)]
        populate_only: bool,
    },
    /// Counts by view: unanswered, open, overdue, due today
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over every channel
    Search {
        /// Words (all must match), "a phrase", or a prefix*
        #[arg(required = true)]
        query: Vec<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Measure startup, render, search, ingest and memory on a generated store
    Bench {
        /// Message counts to measure at
        #[arg(long, value_delimiter = ',', default_values_t = vec![100_000u64])]
        messages: Vec<u64>,
        /// Directory for the generated stores (default: a temporary directory)
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
    },
    /// (internal) Open a store, draw a frame, report timing and RSS as JSON
    #[command(hide = true)]
    BenchProbe,
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let _log = init_logging();
    match cli.command {
        None => run_tui(&cli),
        Some(Command::Demo {
            no_live,
            every,
            populate_only,
        }) => run_demo(&cli, !no_live, every, populate_only),
        Some(Command::Status { json }) => status(&cli, json),
        Some(Command::Search {
            ref query,
            json,
            limit,
        }) => search(&cli, &query.join(" "), json, limit),
        Some(Command::Bench {
            ref messages,
            ref dir,
            json,
        }) => crate::bench::run(messages, dir.as_deref(), json),
        Some(Command::BenchProbe) => {
            let path = cli
                .store
                .clone()
                .ok_or_else(|| anyhow::anyhow!("bench-probe needs --store"))?;
            crate::bench::probe(&path)
        }
    }
}

/// Logs go to a file in the XDG state dir: the terminal belongs to the UI.
fn init_logging() -> Option<()> {
    let path = crate::paths::log_file();
    std::fs::create_dir_all(path.parent()?).ok()?;
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .ok()?;
    let filter = std::env::var("PULT_LOG").unwrap_or_else(|_| "info".into());
    let level = filter
        .parse::<tracing::Level>()
        .unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .try_init()
        .ok()
}

/// The config, or None when the default file does not exist (an explicit path must exist).
fn load_config(cli: &Cli) -> Result<Option<Config>> {
    let path = cli.config.clone().unwrap_or_else(crate::paths::config_file);
    match Config::load(&path) {
        Ok(c) => Ok(Some(c)),
        Err(ConfigError::Missing(_)) if cli.config.is_none() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn store_path(cli: &Cli, cfg: &Config) -> PathBuf {
    cli.store
        .clone()
        .or_else(|| cfg.store.path.clone())
        .unwrap_or_else(crate::paths::default_store)
}

fn no_config_help() -> String {
    format!(
        "pult has no configuration yet.\n\n\
         Try it first with a realistic demo inbox:\n\n    pult demo\n\n\
         Then write {} — for example:\n\n{}",
        crate::paths::config_file().display(),
        crate::config::EXAMPLE
    )
}

fn hours_text(cfg: &Config, lang: crate::i18n::Lang) -> String {
    let days = match (cfg.hours.workdays.as_str(), lang) {
        ("mon-fri", crate::i18n::Lang::Ru) => "пн–пт".to_string(),
        ("mon-fri", _) => "Mon–Fri".to_string(),
        (d, _) => d.to_string(),
    };
    match lang {
        crate::i18n::Lang::Ru => format!("{days} с {} до {}", cfg.hours.start, cfg.hours.end),
        _ => format!("{days} {}–{}", cfg.hours.start, cfg.hours.end),
    }
}

/// Everything the UI needs, built from the config; user-file problems become a status message.
pub fn build_app(
    cfg: &Config,
    store: &Path,
    writer: Writer,
    theme_arg: Option<&str>,
    clock: Clock,
) -> Result<App> {
    let lang = cfg.language();
    let user_keymap = std::fs::read_to_string(crate::paths::user_keymap()).ok();
    let (keymap, mut problems) = Keymap::load(user_keymap.as_deref());
    let user_templates =
        std::fs::read_to_string(crate::paths::config_dir().join("templates.toml")).ok();
    let (templates, template_problem) = Templates::with_user_file(user_templates.as_deref());
    problems.extend(template_problem);
    let theme_name = theme_arg
        .map(str::to_string)
        .or_else(|| cfg.ui.theme.clone())
        .unwrap_or_else(|| "dark".into());
    let theme = match Theme::load(&theme_name) {
        Ok(t) => t,
        Err(e) => {
            problems.push(e);
            Theme::dark()
        }
    };
    let mut state = AppState::new(lang, cfg.actor(), clock, keymap, templates);
    state.hours_text = hours_text(cfg, lang);
    if let Some(first) = problems.first() {
        for p in &problems {
            tracing::warn!("{p}");
        }
        let more = if problems.len() > 1 {
            format!(" (+{} more in the log)", problems.len() - 1)
        } else {
            String::new()
        };
        state.error(format!("{first}{more}"));
    }
    Ok(App::new(state, theme, store, writer)?)
}

fn run_tui(cli: &Cli) -> Result<()> {
    let cfg = match load_config(cli)? {
        Some(c) => c,
        None if cli.store.is_some() => Config::default(),
        None => {
            println!("{}", no_config_help());
            std::process::exit(1);
        }
    };
    let path = store_path(cli, &cfg);
    let writer =
        Writer::spawn(&path).with_context(|| format!("opening the store {}", path.display()))?;
    let now = jiff::Timestamp::now().as_second();
    for account in &cfg.accounts {
        let (name, kind) = (account.name().to_string(), account.kind());
        writer.call_blocking(move |c| ingest::ensure_channel(c, &name, kind, now))?;
    }
    let app = build_app(
        &cfg,
        &path,
        writer,
        cli.theme.as_deref(),
        Clock::system(cfg.timezone()),
    )?;
    tui::app::run(app)
}

fn run_demo(cli: &Cli, live: bool, every: u64, populate_only: bool) -> Result<()> {
    let mut cfg = load_config(cli).ok().flatten().unwrap_or_default();
    if cfg.agent.name.is_none() {
        cfg.agent.name = Some(crate::demo::AGENT.to_string());
    }
    if cfg.hours.timezone.is_none() {
        cfg.hours.timezone = Some("Europe/Moscow".into());
    }
    let tmp = std::env::temp_dir().join(format!("pult-demo-{}", std::process::id()));
    let path = match &cli.store {
        Some(p) => p.clone(),
        None => tmp.join("demo.db"),
    };
    if path.exists() {
        bail!(
            "{} already exists; the demo fills a new store (remove it or choose another --store)",
            path.display()
        );
    }
    let writer = Writer::spawn(&path)?;
    let clock = Clock::system(cfg.timezone());
    let channels = crate::demo::populate(&writer, clock.now(), clock.tz(), &cfg.actor())?;
    if populate_only {
        println!("demo store written to {}", path.display());
        return Ok(());
    }
    if live {
        crate::demo::start_live(writer.clone(), &channels, Duration::from_secs(every.max(1)));
    }
    let app = build_app(&cfg, &path, writer, cli.theme.as_deref(), clock)?;
    let result = tui::app::run(app);
    if cli.store.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn open_reader(cli: &Cli) -> Result<(Reader, Clock)> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let path = store_path(cli, &cfg);
    if !path.exists() {
        bail!(
            "no store at {} (run `pult` once, or pass --store)",
            path.display()
        );
    }
    // Opening the writer once applies pending migrations before reading.
    drop(store::open_writer(&path)?);
    Ok((
        Reader::open(&path, &cfg.actor())?,
        Clock::system(cfg.timezone()),
    ))
}

fn status(cli: &Cli, json: bool) -> Result<()> {
    let (reader, clock) = open_reader(cli)?;
    let counts = reader.status(clock.now(), clock.end_of_today())?;
    if json {
        println!("{}", serde_json::to_string(&counts)?);
    } else {
        println!(
            "unanswered {}\nopen       {}\noverdue    {}\ndue today  {}",
            counts.unanswered, counts.open, counts.overdue, counts.due_today
        );
    }
    Ok(())
}

fn search(cli: &Cli, query: &str, json: bool, limit: usize) -> Result<()> {
    let (reader, clock) = open_reader(cli)?;
    let hits = reader.search(query, limit, &clock)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
        return Ok(());
    }
    if hits.is_empty() {
        println!("no matches");
    }
    use crate::sanitize::line;
    for h in hits {
        let subject = h
            .subject
            .as_deref()
            .map(|s| format!(" «{}»", line(s)))
            .unwrap_or_default();
        println!(
            "{}  {:<9} {}{}  [{}#{}]",
            &h.date,
            h.kind.as_str(),
            line(&h.from),
            subject,
            line(&h.channel),
            h.conversation
        );
        println!("    {}", line(&h.snippet));
    }
    Ok(())
}
