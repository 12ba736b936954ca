//! The command line: `pult`, `pult demo`, `pult status`, `pult search`, `pult thread`, `pult reply`, …

use crate::bootstrap::{Global, load_config, store_path};
use crate::clock::Clock;
use crate::config::Config;
use crate::store::{self, Reader, StoreError, Writer};
use crate::tui::{self, app::App, keymap::Keymap, state::AppState, theme::Theme};
use crate::workflow::calendar::Calendar;
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
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `cli.store`, `cli.print_json(…)`: the global options, read through the command line.
impl std::ops::Deref for Cli {
    type Target = Global;

    fn deref(&self) -> &Global {
        &self.global
    }
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
    /// Run every sync worker, the outbox and the clock headless, for a team sharing one store
    Daemon,
    /// Print shell completions: `pult completions bash > ~/.local/share/bash-completion/completions/pult`
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `pult man > ~/.local/share/man/man1/pult.1`
    Man,
    /// Check every account: resolve, connect, authenticate, list capabilities; one line each
    Doctor,
    /// Sign an email account in with OAuth2 (its `oauth2 = { provider, client_id }`):
    /// prints a URL and a code, works over SSH, keeps the refresh token (0600)
    Auth { account: String },
    /// Sync every account
    Sync {
        /// Fetch everything pending, send what is due, and exit (for scripts and cron)
        #[arg(long)]
        once: bool,
    },
    /// The audit log: who sent, accepted, assigned, noted what, and when
    Audit {
        /// Only events at or after this time (RFC 3339, 2026-11-20, or a deadline phrase like "сегодня")
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Counts by view: unanswered, open, overdue, due today
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Today's and overdue promises, by deadline
    Agenda {
        /// Also the promises due in the next N days (default: today and overdue)
        #[arg(long, default_value_t = 0)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Full-text search over every channel
    /// Close every open conversation whose newest message a search finds (one step, undone by `pult reopen --batch N`)
    Close {
        /// The search language of `pult search`, e.g. "before:2026-11-01 is:unanswered"
        #[arg(long, allow_hyphen_values = true)]
        query: String,
        /// Only list what would be closed
        #[arg(long)]
        dry_run: bool,
        /// Close conversations with an open promise too (left open otherwise)
        #[arg(long)]
        with_promises: bool,
        #[arg(long)]
        json: bool,
    },
    /// Open again every conversation a `pult close` batch closed
    Reopen {
        #[arg(long)]
        batch: i64,
        #[arg(long)]
        json: bool,
    },
    Search {
        /// Words (all must match, in any of their forms), "a phrase", prefix*,
        /// -excluded, a OR b; from: to: subject: client: channel: kind:
        /// has:attachment name: is:unanswered|open|overdue|mine|unread
        /// after:DATE before:DATE (2026-11-01, today, yesterday, 7d),
        /// in:notes, note:, sort:relevance. A bad query exits 2.
        #[arg(required = true)]
        query: Vec<String>,
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// One conversation, oldest message first: messages, notes, delivery, promises
    Thread {
        /// The conversation id (from `pult search --json` or `pult agenda --json`)
        #[arg(long)]
        conversation: i64,
        #[arg(long)]
        json: bool,
    },
    /// Queue a reply on a conversation's own channel, as `r` and send would
    /// (reply-all in email, to the newest client message in chats), without
    /// the undo window; the daemon, a running pult or `sync --once` sends it
    Reply {
        #[arg(long)]
        conversation: i64,
        /// The text, or - to read it from standard input
        #[arg(long, conflicts_with = "template", required_unless_present = "template")]
        body: Option<String>,
        /// A template by id (see templates.toml)
        #[arg(long)]
        template: Option<String>,
        /// A field the template asks for, as NAME=VALUE; repeat for more
        #[arg(long = "var", requires = "template")]
        vars: Vec<String>,
        #[arg(long)]
        json: bool,
    },
    /// Messages that wait for a decision: failed, or maybe sent (the sender stopped mid-send)
    Outbox {
        #[command(subcommand)]
        action: Option<OutboxAction>,
        #[arg(long)]
        json: bool,
    },
    /// Every channel with its state: ok, error (with the reason) or archived (its account left the config)
    Channels {
        #[command(subcommand)]
        action: Option<crate::channels_cli::ChannelsAction>,
        #[arg(long)]
        json: bool,
    },
    /// Every client: identities on each channel, responsible person, open promises, waiting conversations
    Clients {
        #[arg(long)]
        json: bool,
        /// Only clients with this tag (case-insensitive)
        #[arg(long)]
        tag: Option<String>,
    },
    /// One client: show, merge and undo a merge, suggestions of clients that may be one
    Client {
        #[command(subcommand)]
        action: crate::clients_cli::ClientAction,
    },
    /// Attachments of a message: list, save (fetched from the server on demand), open
    Attachment {
        #[command(subcommand)]
        action: crate::mail_cli::AttachmentAction,
    },
    /// Queue a new email (a subject is required); the daemon, a running pult or `sync --once` sends it
    Send {
        /// Email account name from the config (default: the first email account)
        #[arg(long)]
        account: Option<String>,
        /// Recipient; repeat or separate with commas
        #[arg(long, required = true)]
        to: Vec<String>,
        #[arg(long)]
        subject: String,
        /// The text, or - to read it from standard input
        #[arg(long)]
        body: Option<String>,
        /// A file to attach; repeat for more
        #[arg(long)]
        attach: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Forward a stored email with its attachments (and only those) to new recipients
    Forward {
        /// The message id (from `pult search --json`)
        #[arg(long)]
        message: i64,
        #[arg(long, required = true)]
        to: Vec<String>,
        /// A text above the forwarded mail, or - for standard input
        #[arg(long)]
        body: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// 2 for a search query that cannot mean anything (as grep says a bad
/// pattern), 1 for everything else.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    let bad_query = e.chain().any(|c| matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Query(_))));
    if bad_query { 2 } else { 1 }
}

/// An error and its causes on one line, each text once: a cause whose words
/// the outer message already carries (thiserror's `{source}`) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        // SQLite's own cause repeats the message after a code ("Error code 26: file is not a database").
        let repeated = text.split_once(": ").is_some_and(|(_, tail)| out.contains(tail));
        if text.is_empty() || out.contains(&text) || repeated {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    crate::sanitize::text(&out).into_owned()
}

#[derive(Subcommand, Debug)]
pub enum OutboxAction {
    /// Send a failed or maybe-sent message again (same Message-ID)
    Retry { id: i64 },
    /// Drop a failed or maybe-sent message (the client counts as waiting again)
    Discard { id: i64 },
    /// A maybe-sent message did reach the client: record it as sent, never send it again
    MarkSent { id: i64 },
}

/// Looks for a maybe-sent message where its channel keeps what was sent.
fn look_for_sent(
    cfg: &Config,
    writer: &Writer,
    channel: i64,
    rfc_id: Option<String>,
) -> Result<crate::sync::dispatcher::Found> {
    use crate::sync::dispatcher::Found;
    let (channels, _) = crate::channels::registry::open_all(cfg, writer);
    let Some(ch) = channels.into_iter().find(|c| c.id() == channel) else {
        return Ok(Found::CannotTell("its account is not in the config".into()));
    };
    let sender = ch.sender(writer);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(rt.block_on(sender.look_for(rfc_id.as_deref())))
}

fn outbox(cli: &Cli, action: Option<&OutboxAction>, json: bool) -> Result<()> {
    use crate::sanitize::line;
    let cfg = load_config(cli)?.unwrap_or_default();
    let path = store_path(cli, &cfg);
    if let Some(action) = action {
        let writer = Writer::spawn(&path)?;
        let (actor, now) = (cfg.actor(), jiff::Timestamp::now().as_second());
        let (id, what) = match action {
            OutboxAction::Retry { id } => (*id, "pending"),
            OutboxAction::Discard { id } => (*id, "cancelled"),
            OutboxAction::MarkSent { id } => (*id, "sent"),
        };
        // Before a maybe-sent message goes again: is it where a sent copy would be?
        let mut found = None;
        if let OutboxAction::Retry { id } = action {
            let id = *id;
            let row = writer.call_blocking(move |c| crate::store::intents::outbox_row(c, id))?;
            if let Some((channel, _, rfc_id)) = row.filter(|(_, state, _)| state == "unknown") {
                found = Some(look_for_sent(&cfg, &writer, channel, rfc_id)?);
            }
        }
        use crate::sync::dispatcher::Found;
        let conversation = match (action, &found) {
            (OutboxAction::MarkSent { .. }, _) | (OutboxAction::Retry { .. }, Some(Found::There(_))) => {
                writer.call_blocking(move |c| crate::store::intents::confirm_sent(c, id, &actor, now))?
            }
            (OutboxAction::Retry { .. }, _) => {
                writer.call_blocking(move |c| crate::store::intents::resolve(c, id, true, &actor, now))?
            }
            (OutboxAction::Discard { .. }, _) => {
                writer.call_blocking(move |c| crate::store::intents::resolve(c, id, false, &actor, now))?
            }
        };
        let what = if matches!(found, Some(Found::There(_))) { "sent" } else { what };
        let seen = match &found {
            Some(Found::There(w)) => {
                Some(format!("found in {}: it was sent; recorded as sent, not sent again", line(w)))
            }
            Some(Found::NotThere(w)) => Some(format!("not found in {}", line(w))),
            Some(Found::CannotTell(why)) => Some(format!("pult cannot tell whether the client has it ({})", line(why))),
            None => None,
        };
        if json {
            let mut out = serde_json::json!({ "outbox": id, "conversation": conversation, "state": what });
            if let Some(seen) = &seen {
                out["looked"] = serde_json::Value::String(seen.clone());
            }
            cli.print_json(&out)?;
            return Ok(());
        }
        if let Some(seen) = &seen {
            println!("outbox {id}: {seen}");
        }
        match what {
            "pending" => println!("outbox {id}: queued again (conversation {conversation})"),
            "sent" => println!("outbox {id}: marked sent (conversation {conversation})"),
            _ => println!("outbox {id}: discarded (conversation {conversation})"),
        }
        return Ok(());
    }
    let (reader, clock, _) = open_reader(cli)?;
    let rows = reader.outbox_problems(&clock)?;
    if json {
        return cli.print_json(&rows);
    }
    if rows.is_empty() {
        println!("nothing waits: no failed or maybe-sent messages");
    }
    for r in rows {
        let what = if r.state == "unknown" { "MAYBE SENT" } else { "FAILED" };
        println!(
            "{:>6}  {what:<10} [{}#{}] «{}» {}\n        {}",
            r.outbox,
            line(&r.channel),
            r.conversation,
            line(&r.title),
            line(&r.text),
            line(&r.error)
        );
    }
    Ok(())
}

pub fn main() -> Result<()> {
    let cli = Cli::parse();
    let _log = init_logging();
    match cli.command {
        None => run_tui(&cli),
        Some(Command::Demo { no_live, every, populate_only }) => run_demo(&cli, !no_live, every, populate_only),
        Some(Command::Status { json }) => status(&cli, json),
        Some(Command::Agenda { days, json }) => agenda(&cli, days, json),
        Some(Command::Sync { once: true }) => sync_once(&cli),
        Some(Command::Doctor) => doctor(&cli),
        Some(Command::Auth { ref account }) => crate::auth_cli::run(&cli, account),
        Some(Command::Outbox { ref action, json }) => outbox(&cli, action.as_ref(), json),
        Some(Command::Attachment { ref action }) => crate::mail_cli::attachment(&cli, action),
        Some(Command::Channels { ref action, json }) => crate::channels_cli::run(&cli, action.as_ref(), json),
        Some(Command::Clients { json, ref tag }) => crate::clients_cli::list(&cli, json, tag.as_deref()),
        Some(Command::Client { ref action }) => crate::clients_cli::run(&cli, action),
        Some(Command::Send { ref account, ref to, ref subject, ref body, ref attach, json }) => {
            crate::mail_cli::send(&cli, account.as_deref(), to, subject, body.as_deref(), attach, json)
        }
        Some(Command::Forward { message, ref to, ref body, json }) => {
            crate::mail_cli::forward(&cli, message, to, body.as_deref(), json)
        }
        Some(Command::Sync { once: false }) => {
            anyhow::bail!("`pult sync` runs once with --once; for continuous sync run `pult daemon` or `pult`")
        }
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "pult", &mut std::io::stdout());
            Ok(())
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        Some(Command::Daemon) => crate::daemon::run(&load_config(&cli)?.unwrap_or_default(), cli.store.as_deref()),
        Some(Command::Thread { conversation, json }) => crate::scripting::thread(&cli, conversation, json),
        Some(Command::Reply { conversation, ref body, ref template, ref vars, json }) => {
            let text = match (body, template) {
                (Some(b), _) => crate::scripting::ReplyText::Body(b),
                (None, Some(id)) => crate::scripting::ReplyText::Template { id, vars },
                (None, None) => anyhow::bail!("give --body TEXT, --body - or --template ID"),
            };
            crate::scripting::reply(&cli, conversation, text, json)
        }
        Some(Command::Audit { ref since, json }) => audit(&cli, since.as_deref(), json),
        Some(Command::Search { ref query, json, limit }) => search(&cli, &query.join(" "), json, limit),
        Some(Command::Close { ref query, dry_run, with_promises, json }) => {
            close_found(&cli, query, dry_run, with_promises, json)
        }
        Some(Command::Reopen { batch, json }) => reopen_batch(&cli, batch, json),
    }
}

/// Logs go to a file in the XDG state dir: the terminal belongs to the UI.
fn init_logging() -> Option<()> {
    let path = crate::paths::log_file();
    std::fs::create_dir_all(path.parent()?).ok()?;
    // Logs name accounts, peers and errors: this user's alone, from the first
    // byte (a mode given at creation, not a chmod after it). A log an older
    // pult left 0644 is narrowed through the open handle.
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(&path).ok()?;
    if file.metadata().is_ok_and(|m| m.permissions().mode() & 0o077 != 0) {
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    let filter = std::env::var("PULT_LOG").unwrap_or_else(|_| "info".into());
    let level = filter.parse::<tracing::Level>().unwrap_or(tracing::Level::INFO);
    tracing_subscriber::fmt()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_max_level(level)
        .try_init()
        .ok()
}

fn no_config_help() -> String {
    format!(
        "pult has no configuration yet.\n\n\
         Try it first with a realistic demo inbox:\n\n    pult demo\n\n\
         Then write {} — for example (put your own servers, addresses and secret commands\n\
         in place of the example's: an account that still names example.test is left out\n\
         until it is edited; `pult doctor` checks each account):\n\n{}",
        crate::paths::config_file().display(),
        crate::config::EXAMPLE
    )
}

/// Everything the UI needs, built from the config; user-file problems become a status message.
pub fn build_app(cfg: &Config, store: &Path, writer: Writer, theme_arg: Option<&str>, clock: Clock) -> Result<App> {
    let lang = cfg.language();
    let user_keymap = std::fs::read_to_string(crate::paths::user_keymap()).ok();
    let (keymap, mut problems) = Keymap::load(user_keymap.as_deref());
    let user_templates = std::fs::read_to_string(crate::paths::config_dir().join("templates.toml")).ok();
    let (templates, template_problem) = Templates::with_user_file(user_templates.as_deref());
    problems.extend(template_problem);
    let theme_name = theme_arg.map(str::to_string).or_else(|| cfg.ui.theme.clone()).unwrap_or_else(|| "dark".into());
    let theme = match Theme::load(&theme_name) {
        Ok(t) => t,
        Err(e) => {
            problems.push(e);
            Theme::dark()
        }
    };
    let mut state = AppState::new(lang, cfg.actor(), clock, keymap, templates);
    match Calendar::from_config(cfg) {
        Ok(cal) => {
            state.hours_text = cal.describe(true);
            state.calendar = cal;
        }
        Err(e) => problems.push(e.to_string()),
    }
    state.undo_seconds = cfg.guards.undo_seconds.max(0);
    state.one_key_accept = cfg.ui.one_key_accept;
    state.tone_words = cfg.guards.tone_words.clone();
    state.bell_enabled = cfg.ui.bell.unwrap_or(true);
    state.team = cfg.team.clone();
    state.max_attachment_bytes = cfg.guards.max_attachment_mb << 20;
    state.download_dir = cfg.ui.download_dir();
    state.own_addresses = cfg.own_addresses(None);
    state.signatures = cfg
        .accounts
        .iter()
        .filter_map(|a| Some((a.name().to_string(), cfg.signature(a.name())?.to_string())))
        .collect();
    if let Some(first) = problems.first() {
        for p in &problems {
            tracing::warn!("{p}");
        }
        let more =
            if problems.len() > 1 { format!(" (+{} more in the log)", problems.len() - 1) } else { String::new() };
        state.error(format!("{first}{more}"));
    }
    let mut app = App::new(state, theme, store, writer)?;
    app.config = cfg.clone();
    Ok(app)
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
    let writer = Writer::spawn(&path).with_context(|| format!("opening the store {}", path.display()))?;
    let mut app = build_app(&cfg, &path, writer.clone(), cli.theme.as_deref(), Clock::system(cfg.timezone()))?;
    let (workers, unopened) = worker_config(&cfg, writer, &app);
    if let Some(text) = unopened_text(&unopened) {
        app.state.error(text);
    }
    for c in &workers.channels {
        if let Some(player) = c.player() {
            app.players.insert(c.id(), player);
        }
    }
    let supervisor = crate::sync::workers::Supervisor::new(&path, workers, Default::default());
    tui::app::run(app, Some(supervisor))
}

/// The workers of every configured account, and the accounts that do not
/// run with their reason (not set up yet, a secret that cannot be read).
pub fn worker_config(
    cfg: &Config,
    writer: Writer,
    app: &App,
) -> (crate::sync::workers::WorkerConfig, Vec<crate::channels::registry::Unopened>) {
    let (channels, unopened) = crate::channels::registry::open_all(cfg, &writer);
    let workers = crate::sync::workers::WorkerConfig {
        writer,
        calendar: app.state.calendar.clone(),
        templates: app.state.templates.clone(),
        actor: cfg.actor(),
        auto_reply: cfg.hours.auto_reply,
        channels,
    };
    (workers, unopened)
}

/// The status line's word on accounts that do not run: the first with its
/// reason (what to edit), and how many more `pult doctor` lists.
fn unopened_text(unopened: &[crate::channels::registry::Unopened]) -> Option<String> {
    let (name, why) = unopened.first()?;
    let more = match unopened.len() - 1 {
        0 => String::new(),
        n => format!(" (+{n} more: pult doctor)"),
    };
    Some(format!("⚠ {name}: {why}{more}"))
}

/// `pult doctor`: one line per account saying what works or what is wrong.
fn doctor(cli: &Cli) -> Result<()> {
    let cfg = match load_config(cli)? {
        Some(c) => c,
        None => {
            println!("{}", no_config_help());
            std::process::exit(1);
        }
    };
    if cfg.accounts.is_empty() {
        println!("✗ no accounts in the config: add an [[accounts]] entry (see `pult` with no config for an example)");
        std::process::exit(1);
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let ctx = crate::channels::registry::Context::from_config(&cfg);
    let mut bad = 0;
    for a in &cfg.accounts {
        let line = match crate::channels::registry::not_set_up(a) {
            Some(why) => Err(why),
            None => match crate::channels::registry::open(a, 0, &ctx) {
                Ok(channel) => rt.block_on(channel.doctor()),
                Err(why) => Err(why),
            },
        };
        match line {
            Ok(l) => println!("✓ {:<16} {l}", a.name()),
            Err(e) => {
                bad += 1;
                println!("✗ {:<16} {e}", a.name());
            }
        }
    }
    // What channels sent that pult could not read: kept raw, counted here.
    let path = store_path(cli, &cfg);
    if path.exists()
        && let Ok(reader) = crate::store::Reader::open(&path, &cfg.actor())
    {
        for ch in reader.channels().unwrap_or_default().into_iter().filter(|c| !c.archived) {
            for c in &ch.connections {
                let mark = if c.enabled && c.can_reply { "✓" } else { "⚠" };
                let rights = [
                    if c.enabled { "on" } else { "switched off by its owner" },
                    if c.can_reply { "can reply" } else { "may not reply" },
                    if c.can_read { "can mark read" } else { "may not mark read" },
                ];
                println!(
                    "{mark} {:<16} business connection: {}'s own chats ({}), {}",
                    crate::sanitize::line(&ch.name),
                    crate::sanitize::line(&c.owner_name),
                    crate::sanitize::line(&c.id),
                    rights.join(", ")
                );
            }
        }
        for (name, n) in reader.quarantined().unwrap_or_default() {
            println!(
                "⚠ {:<16} {n} update(s) pult could not read are kept in quarantine (table `quarantine`, raw); see the log",
                crate::sanitize::line(&name)
            );
        }
    }
    if bad > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// `pult sync --once`: every pending update of every account, every due outbox row, then exit.
/// The longest one account's part of `pult sync --once` may take.
const SYNC_ONCE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30 * 60);

fn sync_once(cli: &Cli) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let path = store_path(cli, &cfg);
    let writer = Writer::spawn(&path).with_context(|| format!("opening the store {}", path.display()))?;
    // One sender per store: beside a daemon or a solo pult, which already
    // syncs and sends, working in parallel could only send twice.
    let _lock = match crate::sync::lock::WorkerLock::try_acquire(&path, "pult sync --once") {
        Ok(lock) => lock,
        Err(crate::sync::lock::LockError::Held { holder, .. }) => {
            println!("{holder} holds the worker lock for this store and keeps it synced; nothing to do here");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let (channels, bad) = crate::channels::registry::open_all(&cfg, &writer);
    let mut trouble: Vec<String> = Vec::new();
    for (name, why) in &bad {
        trouble.push(format!("account {}: does not run: {}", crate::sanitize::line(name), crate::sanitize::line(why)));
    }
    // A channel's first sync says how much of what it found is history.
    let mut first: Vec<i64> = Vec::new();
    for c in &channels {
        let id = c.id();
        if writer.call_blocking(move |db| crate::store::channel_state::message_count(db, id))? == 0 {
            first.push(id);
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        // Every account at once: a failing or hanging one delays nobody else.
        let syncs = channels.iter().map(|channel| {
            let name = channel.name().to_string();
            let writer = &writer;
            async move {
                let shown = std::sync::atomic::AtomicUsize::new(usize::MAX);
                let progress = |p: crate::channels::registry::SyncProgress<'_>| sync_progress(&name, p, &shown);
                // A server that goes quiet mid-sync must not keep the run (and cron) waiting for ever.
                let result = match tokio::time::timeout(SYNC_ONCE_DEADLINE, channel.sync_once(writer, &progress)).await
                {
                    Ok(result) => result,
                    Err(_) => Err(format!(
                        "did not finish within {} min (a server that stopped answering?); what came before is kept",
                        SYNC_ONCE_DEADLINE.as_secs() / 60
                    )),
                };
                (name, result)
            }
        });
        for ((name, result), channel) in futures_util::future::join_all(syncs).await.into_iter().zip(&channels) {
            match result {
                Ok(lines) => {
                    lines.iter().for_each(|l| println!("{l}"));
                    let id = channel.id();
                    if first.contains(&id) {
                        let (history, waiting) =
                            writer.call(move |db| crate::store::channel_state::history_and_waiting(db, id)).await?;
                        println!(
                            "{}: first sync: {history} conversation(s) kept as history (older mail never waits), \
                             {waiting} waiting for an answer",
                            crate::sanitize::line(&name)
                        );
                    }
                }
                Err(why) => trouble.push(format!(
                    "account {}: sync failed: {}",
                    crate::sanitize::line(&name),
                    crate::sanitize::line(&why)
                )),
            }
        }
        let senders: crate::sync::dispatcher::Senders = channels.iter().map(|c| (c.id(), c.sender(&writer))).collect();
        let recovered = crate::sync::dispatcher::recover(&writer, &senders).await;
        let report = crate::sync::dispatcher::dispatch_due(&writer, &senders).await;
        println!(
            "outbox: {} handled ({} sent, {} to retry, {} failed)",
            report.handled(),
            report.sent,
            report.retrying,
            report.failed.len()
        );
        for (id, why) in &report.failed {
            trouble.push(format!("outbox {id} failed: {}", crate::sanitize::line(why)));
        }
        if recovered.unknown > 0 {
            trouble.push(format!(
                "{} message(s) may have been sent before pult stopped; see `pult outbox` (retry or discard)",
                recovered.unknown
            ));
        }
        if !trouble.is_empty() {
            bail!("{}", trouble.join("\n"));
        }
        Ok::<(), anyhow::Error>(())
    })
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
        bail!("{} already exists; the demo fills a new store (remove it or choose another --store)", path.display());
    }
    let writer = Writer::spawn(&path)?;
    let clock = Clock::system(cfg.timezone());
    let channels = crate::demo::populate(&writer, clock.now(), clock.tz(), &cfg.actor())?;
    if populate_only {
        println!("demo store written to {}", path.display());
        return Ok(());
    }
    let app = build_app(&cfg, &path, writer.clone(), cli.theme.as_deref(), clock)?;
    if live {
        crate::demo::start_live(writer.clone(), &channels, Duration::from_secs(every.max(1)));
    }
    // The demo's channels are the demo's: the config's accounts neither sync
    // into its store nor archive its channels.
    let demo_cfg = Config { accounts: Vec::new(), ..cfg.clone() };
    let supervisor = cfg.hours.auto_reply.then(|| {
        crate::sync::workers::Supervisor::new(&path, worker_config(&demo_cfg, writer, &app).0, Default::default())
    });
    let result = tui::app::run(app, supervisor);
    if cli.store.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn open_reader(cli: &Cli) -> Result<(Reader, Clock, Calendar)> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let calendar = Calendar::from_config(&cfg)?;
    let path = store_path(cli, &cfg);
    if !path.exists() {
        bail!("no store at {} (run `pult` once, or pass --store)", path.display());
    }
    // Opening the writer once applies pending migrations before reading.
    drop(store::open_writer(&path)?);
    let clock = Clock::system(cfg.timezone());
    let mut reader = Reader::open(&path, &cfg.actor())?;
    reader.set_moment(calendar.moment(clock.now()));
    Ok((reader, clock, calendar))
}

fn status(cli: &Cli, json: bool) -> Result<()> {
    let (reader, clock, calendar) = open_reader(cli)?;
    let mut counts = reader.status()?;
    counts.oldest_unanswered_minutes =
        counts.oldest_waiting_since.map(|t| calendar.working_seconds(t, clock.now()) / 60).unwrap_or(0);
    if json {
        cli.print_json(&counts)?;
    } else {
        println!(
            "unanswered {}\nopen       {}\noverdue    {}\ndue today  {}\nat risk    {}\nmaybe sent {}\nfailed     {}\n\
             oldest unanswered: {} working minutes",
            counts.unanswered,
            counts.open,
            counts.overdue,
            counts.due_today,
            counts.at_risk,
            counts.unknown,
            counts.failed,
            counts.oldest_unanswered_minutes
        );
    }
    Ok(())
}

fn audit(cli: &Cli, since: Option<&str>, json: bool) -> Result<()> {
    let (reader, clock, calendar) = open_reader(cli)?;
    let since_ts = match since {
        None => 0,
        Some(s) => parse_since(s, &clock, &calendar)?,
    };
    let events = reader.audit(since_ts, &clock)?;
    if json {
        cli.print_json(&events)?;
        return Ok(());
    }
    use crate::sanitize::line;
    for e in events {
        let conv = e.conversation.map(|c| format!("#{c}")).unwrap_or_default();
        println!("{}  {:<12} {:<14} {:<6} {}", e.time, line(&e.actor), e.action, conv, line(&e.detail_local));
    }
    Ok(())
}

/// `--since`: RFC 3339, a date, or a phrase («сегодня» means since the start of today).
fn parse_since(s: &str, clock: &Clock, calendar: &Calendar) -> Result<i64> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    if let Some(d) = crate::workflow::calendar::parse_date(s) {
        return Ok(calendar.at(d, 0));
    }
    match s.trim() {
        "сегодня" | "today" => Ok(calendar.at(clock.zoned(clock.now()).date(), 0)),
        "вчера" | "yesterday" => Ok(calendar.at(clock.zoned(clock.now() - 86400).date(), 0)),
        other => {
            let secs = other
                .strip_suffix('h')
                .and_then(|n| n.parse::<i64>().ok().map(|n| n * 3600))
                .or_else(|| other.strip_suffix('d').and_then(|n| n.parse::<i64>().ok().map(|n| n * 86400)))
                .ok_or_else(|| anyhow::anyhow!("--since {other:?}: use RFC 3339, YYYY-MM-DD, today, or 24h / 7d"))?;
            Ok(clock.now() - secs)
        }
    }
}

fn agenda(cli: &Cli, days: u32, json: bool) -> Result<()> {
    let (reader, clock, calendar) = open_reader(cli)?;
    // Up to the end of the last day asked for (midnight after it, in the team's time zone).
    let last = clock.zoned(clock.now()).date().checked_add(jiff::Span::new().days(i64::from(days) + 1))?;
    let items = reader.agenda(&clock, calendar.at(last, 0) - 1)?;
    if json {
        cli.print_json(&items)?;
        return Ok(());
    }
    if items.is_empty() {
        println!(
            "{}",
            if days == 0 { "no promises due today".to_string() } else { format!("no promises due in {days} days") }
        );
    }
    use crate::sanitize::line;
    for i in items {
        let client = i.client.as_deref().map(line).unwrap_or_default();
        println!(
            "{}  {:<9} {:<10} {}  «{}»  [{}#{}]",
            clock.full(i.deadline_ts),
            i.state,
            i.kind.as_str(),
            client,
            line(&i.title),
            line(&i.channel),
            i.conversation
        );
    }
    Ok(())
}

/// A long sync on stderr: one line rewritten in place on a terminal, a line
/// per tenth otherwise (logs, cron mail).
fn sync_progress(
    account: &str,
    p: crate::channels::registry::SyncProgress<'_>,
    shown: &std::sync::atomic::AtomicUsize,
) {
    use std::io::{IsTerminal, Write};
    let secs = p.started.elapsed().as_secs_f64().max(0.001);
    let rate = p.done as f64 / secs;
    let eta = if rate > 0.0 { (p.total - p.done) as f64 / rate } else { 0.0 };
    let line = format!(
        "{}/{}: {} of {} mails · {:.0} MB · {:.0} mails/s · {}",
        crate::sanitize::line(account),
        crate::sanitize::line(p.folder),
        p.done,
        p.total,
        p.bytes as f64 / 1_048_576.0,
        rate,
        if p.done >= p.total { format!("{secs:.1} s") } else { format!("about {eta:.0} s left") }
    );
    let mut err = std::io::stderr();
    if err.is_terminal() {
        let _ = write!(err, "\r\x1b[2K{line}{}", if p.done >= p.total { "\n" } else { "" });
        let _ = err.flush();
    } else {
        let tenth = p.done * 10 / p.total.max(1);
        if shown.swap(tenth, std::sync::atomic::Ordering::Relaxed) != tenth {
            let _ = writeln!(err, "{line}");
        }
    }
}

fn search(cli: &Cli, query: &str, json: bool, limit: usize) -> Result<()> {
    let (reader, clock, _) = open_reader(cli)?;
    let hits = reader.search(query, limit, &clock)?;
    if json {
        cli.print_json(&hits)?;
        return Ok(());
    }
    if hits.is_empty() {
        println!("no matches");
    }
    use crate::sanitize::line;
    use std::io::IsTerminal;
    let bold = std::io::stdout().is_terminal();
    for h in hits {
        let subject = h.subject.as_deref().map(|s| format!(" «{}»", line(s))).unwrap_or_default();
        let kind = if h.hit == crate::model::HitKind::Note { "✎ note" } else { h.kind.as_str() };
        println!("{}  {:<9} {}{}  [{}#{}]", &h.date, kind, line(&h.from), subject, line(&h.channel), h.conversation);
        println!("    {}", if bold { marked(&h.snippet, &h.highlights) } else { line(&h.snippet).into_owned() });
    }
    Ok(())
}

/// The most conversations one `pult close` takes (a search's page size).
const CLOSE_LIMIT: usize = 100_000;

/// `pult close --query`: the open conversations whose newest message the
/// query finds; listed (`--dry-run`) or closed as one batch.
fn close_found(cli: &Cli, query: &str, dry_run: bool, with_promises: bool, json: bool) -> Result<()> {
    let (reader, clock, _) = open_reader(cli)?;
    let mut found: Vec<i64> = Vec::new();
    let (mut seen, mut hit_messages) = (std::collections::HashSet::new(), std::collections::HashSet::new());
    for h in reader.search(query, CLOSE_LIMIT, &clock)? {
        if seen.insert(h.conversation) {
            found.push(h.conversation);
        }
        hit_messages.extend(h.message);
    }
    // A conversation is what its newest message is: `before:` means nothing
    // happened since, and a client who wrote today is never closed for an
    // old message that matched.
    let open: Vec<(i64, bool)> = reader
        .open_among(&found)?
        .into_iter()
        .filter(|(_, _, newest)| newest.is_some_and(|m| hit_messages.contains(&m)))
        .map(|(id, promised, _)| (id, promised))
        .collect();
    let ids: Vec<i64> = open.iter().map(|(id, _)| *id).collect();
    let mut rows = Vec::new();
    for &id in &ids {
        rows.extend(reader.conversation(id)?);
    }
    let cfg = load_config(cli)?.unwrap_or_default();
    let result = if dry_run {
        let (kept, closed): (Vec<(i64, bool)>, Vec<(i64, bool)>) =
            open.into_iter().partition(|(_, promised)| *promised && !with_promises);
        crate::store::intents::BatchClose {
            batch: 0,
            closed: closed.into_iter().map(|(id, _)| id).collect(),
            kept_for_promises: kept.into_iter().map(|(id, _)| id).collect(),
        }
    } else {
        let writer = Writer::spawn(&store_path(cli, &cfg))?;
        let (actor, now) = (cfg.actor(), clock.now());
        writer.call_blocking(move |c| crate::store::intents::close_many(c, &actor, &ids, with_promises, now))?
    };
    if json {
        let list: Vec<serde_json::Value> = rows
            .iter()
            .filter(|c| result.closed.contains(&c.id))
            .map(|c| serde_json::json!({"id": c.id, "channel": c.channel_name, "title": c.title}))
            .collect();
        return cli.print_json(&serde_json::json!({
            "dry_run": dry_run,
            "batch": (!dry_run && !result.closed.is_empty()).then_some(result.batch),
            "conversations": list,
            "closed": if dry_run { 0 } else { result.closed.len() },
            "kept_for_promises": result.kept_for_promises,
        }));
    }
    use crate::sanitize::line;
    for c in rows.iter().filter(|c| result.closed.contains(&c.id)) {
        let at = clock.zoned(c.last_message_at).strftime("%d.%m.%Y");
        println!("{:>7}  {at}  [{}] «{}»", c.id, line(&c.channel_name), line(&c.title));
    }
    let n = result.closed.len();
    if dry_run {
        println!("{n} conversation(s) would be closed (run without --dry-run to close them)");
    } else if n > 0 {
        println!("{n} conversation(s) closed as batch {}; undo: pult reopen --batch {}", result.batch, result.batch);
    } else {
        println!("nothing to close: no open conversation matches");
    }
    if !result.kept_for_promises.is_empty() {
        println!(
            "{} left open: they hold an open promise (add --with-promises to close them too)",
            result.kept_for_promises.len()
        );
    }
    Ok(())
}

fn reopen_batch(cli: &Cli, batch: i64, json: bool) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let path = store_path(cli, &cfg);
    let writer = Writer::spawn(&path)?;
    let (actor, now) = (cfg.actor(), jiff::Timestamp::now().as_second());
    let reopened = writer.call_blocking(move |c| crate::store::intents::reopen_batch(c, &actor, batch, now))?;
    if json {
        return cli.print_json(&serde_json::json!({"batch": batch, "reopened": reopened}));
    }
    println!("batch {batch}: {} conversation(s) open again", reopened.len());
    Ok(())
}

/// A snippet (already sanitised by the store) with its matches in bold, for a terminal.
fn marked(snippet: &str, ranges: &[[usize; 2]]) -> String {
    let mut out = String::new();
    let mut at = 0;
    for &[a, b] in ranges {
        let (Some(before), Some(word)) = (snippet.get(at..a), snippet.get(a..b)) else { continue };
        out.push_str(before);
        out.push_str("\x1b[1m");
        out.push_str(word);
        out.push_str("\x1b[0m");
        at = b;
    }
    out.push_str(snippet.get(at..).unwrap_or(""));
    out
}
