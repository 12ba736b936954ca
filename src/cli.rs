//! The command line: `pult`, `pult demo`, `pult status`, `pult search`, `pult thread`, `pult reply`, …

use crate::bootstrap::{Global, load_config, location};
use crate::clock::Clock;
use crate::config::Config;
use crate::store::Location;
use crate::store::{Reader, StoreError, Writer};
use crate::tui::{self, app::App, keymap::Keymap, state::AppState, theme::Theme};
use crate::workflow::calendar::Calendar;
use crate::workflow::templates::Templates;
use crate::{say, t};
use anyhow::{Context as _, Result, bail};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "pult",
    version,
    about = "A keyboard-driven terminal shared inbox: email, Telegram and WhatsApp in one queue",
    after_help = EXIT_CODES
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

/// `pult export verify DIR`.
#[derive(Subcommand, Debug)]
pub enum ExportCommand {
    /// Check an export: every file's SHA-256, files missing or extra, the audit chain,
    /// the signature (`[export] verify_command`); exit 1 naming each problem
    Verify {
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

/// `pult audit verify`.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Recompute the audit log's hash chain; names the first row that breaks it (exit 1)
    Verify {
        #[arg(long)]
        json: bool,
    },
}

/// `pult store …`: the store as a whole.
#[derive(Subcommand, Debug)]
pub enum StoreCommand {
    /// Copy a SQLite store into an empty PostgreSQL database (its password from
    /// `[store] password_command` or `password_file`); prints what it moved
    Migrate {
        /// The SQLite store: `sqlite:PATH` or a path
        #[arg(long)]
        from: String,
        /// The PostgreSQL database: `postgres://USER@HOST:PORT/DB` or
        /// `postgres:///DB?host=/var/run/postgresql` (no password in it)
        #[arg(long)]
        to: String,
        #[arg(long)]
        json: bool,
    },
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
    /// The store as a whole: `pult store migrate --from sqlite:PATH --to postgres://…`
    Store {
        #[command(subcommand)]
        action: StoreCommand,
    },
    /// Sync every account
    Sync {
        /// Fetch everything pending, send what is due, and exit (for scripts and cron)
        #[arg(long)]
        once: bool,
    },
    /// The audit log: who sent, accepted, assigned, noted what, and when
    /// (`pult audit verify` checks its hash chain)
    Audit {
        /// Only events at or after this time (RFC 3339, 2026-11-20, or a deadline phrase like "сегодня")
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        check: Option<AuditCommand>,
    },
    /// A client's whole history as evidence: originals, hashes, promises, audit, report
    /// (`pult export verify DIR` checks one)
    #[command(args_conflicts_with_subcommands = true)]
    Export {
        /// The client id (`pult clients --json`)
        #[arg(long)]
        client: Option<i64>,
        /// From this date or time (RFC 3339 or 2026-11-01)
        #[arg(long)]
        since: Option<String>,
        /// Up to this date or time (a date includes the whole day)
        #[arg(long)]
        until: Option<String>,
        /// A new or empty directory
        #[arg(long)]
        out: Option<PathBuf>,
        /// Add the internal notes (left out otherwise)
        #[arg(long)]
        include_notes: bool,
        /// Mask third parties in group chats and in mail (their mail, their addresses in To and Cc)
        #[arg(long)]
        redact_others: bool,
        #[arg(long)]
        json: bool,
        #[command(subcommand)]
        check: Option<ExportCommand>,
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
    /// Full-text search over every channel
    Search {
        /// Words (all must match, in any of their forms), "a phrase", prefix*,
        /// -excluded, a OR b; from: to: subject: client: channel: kind:
        /// has:attachment name: is:unanswered|open|overdue|mine|unread
        /// after:DATE before:DATE (2026-11-01, today, yesterday, 7d),
        /// in:notes, note:, sort:relevance. A bad query exits 2.
        /// Words starting with - exclude (счёт -декабрь); options stay options
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
    /// Response times (SLA): a month's report, recomputing clocks under the current policies
    Sla {
        #[command(subcommand)]
        action: crate::sla_cli::SlaAction,
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

/// What `pult`'s exit status means (also in the man page).
pub const EXIT_CODES: &str = "Exit status:
  0  done (also when the reader of the output went away: pult status | head -1)
  1  an error: config, store, an account that does not work (pult doctor), a send that failed
  2  a command line or a search query that cannot mean anything";

/// 2 for a search query that cannot mean anything (as grep says a bad
/// pattern), 1 for everything else.
pub fn exit_code(e: &anyhow::Error) -> i32 {
    let bad_query = e.chain().any(|c| matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Query(_))));
    if bad_query { 2 } else { 1 }
}

/// An error and its causes on one line, each text once: a cause whose words
/// the outer message already carries (thiserror's `{source}`) is not repeated.
pub fn error_text(e: &anyhow::Error) -> String {
    let lang = crate::i18n::ui();
    let mut out = String::new();
    for cause in e.chain() {
        let text = said(lang, cause);
        // SQLite's own cause repeats the message after a code ("Error code 26: file is not a database").
        let repeated = text.split_once(": ").is_some_and(|(_, tail)| out.contains(tail));
        if text.is_empty() || out.contains(&text) || repeated {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
        // A store error said by its meaning already covers its causes.
        if lang != crate::i18n::Lang::En && cause.downcast_ref::<StoreError>().is_some() {
            break;
        }
    }
    crate::sanitize::text(&out).into_owned()
}

/// One cause of an error in the reader's language: the store's own errors
/// by their meaning; in Russian, a library's English by its kind (what
/// happened and what to do; the words themselves go to the log); pult's own
/// messages are already in the reader's language.
fn said(lang: crate::i18n::Lang, cause: &(dyn std::error::Error + 'static)) -> String {
    let text = cause.to_string();
    if let Some(e) = cause.downcast_ref::<StoreError>().filter(|_| lang != crate::i18n::Lang::En) {
        tracing::warn!("store error: {text}");
        return e.in_language(lang);
    }
    let ours = text.chars().any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'));
    if lang == crate::i18n::Lang::En || ours {
        return text;
    }
    tracing::warn!("error shown by its kind: {text}");
    crate::trouble::explain(lang, &text)
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
        return Ok(Found::CannotTell(t!("account_not_in_config")));
    };
    let sender = ch.sender(writer);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(rt.block_on(sender.look_for(rfc_id.as_deref())))
}

fn outbox(cli: &Cli, action: Option<&OutboxAction>, json: bool) -> Result<()> {
    use crate::sanitize::line;
    let cfg = load_config(cli)?.unwrap_or_default();
    let store = location(cli, &cfg)?;
    if let Some(action) = action {
        let writer = store.spawn_writer()?;
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
            Some(Found::There(w)) => Some(t!("outbox_found_sent", place = line(w))),
            Some(Found::NotThere(w)) => Some(t!("outbox_not_found", place = line(w))),
            Some(Found::CannotTell(why)) => Some(t!("outbox_cannot_tell", why = line(why))),
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
            say!("{}", t!("outbox_line", id = id, text = seen));
        }
        let done = match what {
            "pending" => t!("outbox_requeued", conversation = conversation),
            "sent" => t!("outbox_marked_sent", conversation = conversation),
            _ => t!("outbox_discarded", conversation = conversation),
        };
        say!("{}", t!("outbox_line", id = id, text = done));
        return Ok(());
    }
    let (reader, clock, _) = open_reader(cli)?;
    let rows = reader.outbox_problems(&clock)?;
    if json {
        return cli.print_json(&rows);
    }
    if rows.is_empty() {
        say!("{}", t!("outbox_nothing"));
    }
    for r in rows {
        let what = if r.state == "unknown" { t!("outbox_maybe_sent_mark") } else { t!("outbox_failed_mark") };
        say!(
            "{:>6}  {what:<11} [{}#{}] «{}» {}\n        {}",
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
    let cli = match Cli::try_parse_from(shield_excluded_words(std::env::args_os().collect())) {
        Ok(cli) => cli,
        Err(e) => command_line_error(e),
    };
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
        Some(Command::Sla { ref action }) => crate::sla_cli::run(&cli, action),
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
            anyhow::bail!("{}", t!("sync_needs_once"))
        }
        Some(Command::Completions { shell }) => {
            use clap::CommandFactory;
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pult", &mut text);
            crate::out::bytes(&text);
            Ok(())
        }
        Some(Command::Man) => {
            use clap::CommandFactory;
            let mut text = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut text)?;
            crate::out::bytes(&text);
            Ok(())
        }
        Some(Command::Daemon) => crate::daemon::run(&load_config(&cli)?.unwrap_or_default(), cli.store.as_deref()),
        Some(Command::Thread { conversation, json }) => crate::scripting::thread(&cli, conversation, json),
        Some(Command::Reply { conversation, ref body, ref template, ref vars, json }) => {
            let text = match (body, template) {
                (Some(b), _) => crate::scripting::ReplyText::Body(b),
                (None, Some(id)) => crate::scripting::ReplyText::Template { id, vars },
                (None, None) => anyhow::bail!("{}", t!("reply_needs_text")),
            };
            crate::scripting::reply(&cli, conversation, text, json)
        }
        Some(Command::Audit { check: Some(AuditCommand::Verify { json }), .. }) => audit_verify(&cli, json),
        Some(Command::Store { action: StoreCommand::Migrate { ref from, ref to, json } }) => {
            crate::store_cli::migrate(&cli, from, to, json)
        }
        Some(Command::Export { check: Some(ExportCommand::Verify { ref dir, json }), .. }) => {
            crate::export_cli::verify(&cli, dir, json)
        }
        Some(Command::Export {
            client,
            ref since,
            ref until,
            ref out,
            include_notes,
            redact_others,
            json,
            check: None,
        }) => {
            let (Some(client), Some(out)) = (client, out) else { bail!("{}", t!("export_needs")) };
            let args = crate::export_cli::Args {
                client,
                since: since.as_deref(),
                until: until.as_deref(),
                out,
                include_notes,
                redact_others,
            };
            crate::export_cli::export(&cli, &args, json)
        }
        Some(Command::Audit { ref since, json, check: None }) => audit(&cli, since.as_deref(), json),
        Some(Command::Search { ref query, json, limit }) => {
            let words: Vec<&str> = query.iter().map(|w| w.strip_prefix(SHIELD).unwrap_or(w)).collect();
            search(&cli, &words.join(" "), json, limit)
        }
        Some(Command::Close { ref query, dry_run, with_promises, json }) => {
            close_found(&cli, query, dry_run, with_promises, json)
        }
        Some(Command::Reopen { batch, json }) => reopen_batch(&cli, batch, json),
    }
}

/// Marks a query word that starts with `-` so that the argument parser
/// takes it for a word (a private-use character no one types).
const SHIELD: char = '\u{F8FF}';

/// `pult search счёт -декабрь --json`: `-декабрь` is a query word (it
/// excludes), `--json` stays an option. pult has no short options besides
/// `-h` and `-V`, so after `search` every other `-word` is shielded; `--`
/// ends options as usual.
fn shield_excluded_words(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let takes_value = ["--config", "--store", "--theme"];
    let mut out = Vec::with_capacity(args.len());
    let mut iter = args.into_iter();
    out.extend(iter.next());
    let mut in_search = false;
    let mut skip_value = false;
    while let Some(arg) = iter.next() {
        let text = arg.to_str().unwrap_or("");
        if skip_value {
            skip_value = false;
        } else if text == "--" {
            out.push(arg);
            out.extend(iter.by_ref());
            return out;
        } else if in_search && text.starts_with('-') && !text.starts_with("--") && !matches!(text, "-" | "-h" | "-V") {
            out.push(format!("{SHIELD}{text}").into());
            continue;
        } else if takes_value.contains(&text) || (in_search && text == "--limit") {
            skip_value = true;
        } else if !text.starts_with('-') && !in_search {
            if text != "search" {
                // Another command: its arguments are its own.
                out.push(arg);
                out.extend(iter.by_ref());
                return out;
            }
            in_search = true;
        }
        out.push(arg);
    }
    out
}

/// A command line clap could not read: help and version go to standard
/// output (a closed pipe is quiet); a mistake is said once, in the UI's
/// language, with status 2.
fn command_line_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ErrorKind};
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
        crate::out::bytes(e.render().to_string().as_bytes());
        std::process::exit(0);
    }
    if crate::i18n::ui() == crate::i18n::Lang::En {
        e.exit();
    }
    // "--body <BODY>": the option's name is what the user typed or must type.
    let arg = |kind| {
        let text = e.get(kind).map(|v| v.to_string()).unwrap_or_default();
        crate::sanitize::line(text.split_whitespace().next().unwrap_or("")).into_owned()
    };
    let text = match e.kind() {
        ErrorKind::UnknownArgument => t!("cli_unknown_argument", arg = arg(ContextKind::InvalidArg)),
        ErrorKind::InvalidSubcommand => t!("cli_unknown_command", arg = arg(ContextKind::InvalidSubcommand)),
        ErrorKind::MissingRequiredArgument => t!("cli_missing_argument", arg = arg(ContextKind::InvalidArg)),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let valid = match e.get(ContextKind::ValidValue) {
                Some(clap::error::ContextValue::Strings(list)) => {
                    list.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                }
                _ => String::new(),
            };
            let (value, name) = (format!("`{}`", arg(ContextKind::InvalidValue)), arg(ContextKind::InvalidArg));
            match (name.starts_with('<'), valid.is_empty()) {
                (true, false) => t!("cli_bad_value_choose", value = value, valid = crate::sanitize::line(&valid)),
                (true, true) => t!("cli_bad_value_here", value = value),
                (false, _) => t!("cli_bad_value", value = value, arg = name),
            }
        }
        ErrorKind::MissingSubcommand | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            t!("cli_missing_command")
        }
        ErrorKind::ArgumentConflict => t!("cli_conflict", arg = arg(ContextKind::InvalidArg)),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            t!("cli_value_count", arg = arg(ContextKind::InvalidArg))
        }
        _ => t!("cli_unreadable"),
    };
    usage_error(&text)
}

/// A command line that cannot mean anything: said once, status 2.
fn usage_error(text: &str) -> ! {
    eprintln!("pult: {text}\n{}", t!("cli_see_help"));
    std::process::exit(2);
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
    let example = crate::config::example(crate::i18n::ui());
    format!("{}{example}", t!("no_config_help", path = crate::paths::config_file().display()))
}

/// Everything the UI needs, built from the config; user-file problems become a status message.
pub fn build_app(cfg: &Config, store: &Location, writer: Writer, theme_arg: Option<&str>, clock: Clock) -> Result<App> {
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
    let mut app = App::open(state, theme, store, writer)?;
    app.config = cfg.clone();
    Ok(app)
}

fn run_tui(cli: &Cli) -> Result<()> {
    let cfg = match load_config(cli)? {
        Some(c) => c,
        None if cli.store.is_some() => Config::default(),
        None => {
            say!("{}", no_config_help());
            std::process::exit(1);
        }
    };
    let store = location(cli, &cfg)?;
    let writer = store.spawn_writer().with_context(|| t!("opening_store", path = store.shown()))?;
    let mut app = build_app(&cfg, &store, writer.clone(), cli.theme.as_deref(), Clock::system(cfg.timezone()))?;
    let (workers, unopened) = worker_config(&cfg, writer, &app);
    if let Some(text) = unopened_text(&unopened) {
        app.state.error(text);
    }
    for c in &workers.channels {
        if let Some(player) = c.player() {
            app.players.insert(c.id(), player);
        }
    }
    // On PostgreSQL the daemons sync and send (one holds the sender's lease);
    // a person's pult never runs the workers beside them.
    let supervisor = match &store {
        Location::Sqlite(path) => Some(crate::sync::workers::Supervisor::new(path, workers, Default::default())),
        Location::Postgres(target) => {
            // Said at once: without a daemon nothing arrives or leaves.
            if let Ok(None) = crate::store::pg::lease::current_holder(target) {
                app.state.error(t!("doctor_pg_no_sender", target = target.shown()));
            }
            None
        }
    };
    tui::app::run(app, supervisor)
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
        n => t!("unopened_more", n = n),
    };
    Some(format!("⚠ {name}: {why}{more}"))
}

/// `pult doctor`: one line per account saying what works or what is wrong.
fn doctor(cli: &Cli) -> Result<()> {
    let cfg = match load_config(cli)? {
        Some(c) => c,
        None => {
            say!("{}", no_config_help());
            std::process::exit(1);
        }
    };
    if cfg.accounts.is_empty() {
        say!("✗ {}", t!("doctor_no_accounts"));
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
            Ok(l) => say!("✓ {:<16} {l}", a.name()),
            Err(e) => {
                bad += 1;
                say!("✗ {:<16} {e}", a.name());
            }
        }
    }
    // What channels sent that pult could not read: kept raw, counted here.
    let store = location(cli, &cfg)?;
    // On PostgreSQL the daemons may run anywhere: say whether one sends.
    if let Location::Postgres(target) = &store {
        match crate::store::pg::lease::current_holder(target) {
            Ok(Some((holder, since))) => {
                let since = Clock::system(cfg.timezone()).full(since);
                say!(
                    "✓ {:<16} {}",
                    "store",
                    t!(
                        "doctor_pg_sender",
                        target = target.shown(),
                        holder = crate::sanitize::line(&holder),
                        since = since
                    )
                );
            }
            Ok(None) => {
                bad += 1;
                say!("✗ {:<16} {}", "store", t!("doctor_pg_no_sender", target = target.shown()));
            }
            Err(e) => {
                bad += 1;
                say!("✗ {:<16} {}", "store", crate::store::StoreError::from(e).in_language(crate::i18n::ui()));
            }
        }
    }
    if store.exists()
        && let Ok(reader) = store.open_reader(&cfg.actor())
    {
        for ch in reader.channels().unwrap_or_default().into_iter().filter(|c| !c.archived) {
            for c in &ch.connections {
                let mark = if c.enabled && c.can_reply { "✓" } else { "⚠" };
                let rights = [
                    if c.enabled { t!("connection_on") } else { t!("connection_off") },
                    if c.can_reply { t!("connection_can_reply") } else { t!("connection_cannot_reply") },
                    if c.can_read { t!("connection_can_read") } else { t!("connection_cannot_read") },
                ];
                say!(
                    "{mark} {:<16} {}",
                    crate::sanitize::line(&ch.name),
                    t!(
                        "doctor_connection",
                        owner = crate::sanitize::line(&c.owner_name),
                        id = crate::sanitize::line(&c.id),
                        rights = rights.join(", ")
                    )
                );
            }
        }
        for (name, n) in reader.quarantined().unwrap_or_default() {
            say!(
                "⚠ {:<16} {}",
                crate::sanitize::line(&name),
                t!("doctor_quarantine", updates = crate::i18n::plural_of(crate::i18n::ui(), n as i64, "updates"))
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
    let store = location(cli, &cfg)?;
    let writer = store.spawn_writer().with_context(|| t!("opening_store", path = store.shown()))?;
    // One sender per store: beside a daemon or a solo pult, which already
    // syncs and sends, working in parallel could only send twice.
    let _lock = match &store {
        Location::Sqlite(path) => match crate::sync::lock::WorkerLock::try_acquire(path, "pult sync --once") {
            Ok(lock) => Some(lock),
            Err(crate::sync::lock::LockError::Held { holder, .. }) => {
                say!("{}", t!("sync_lock_held", holder = holder));
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        },
        Location::Postgres(target) => {
            let holder = format!("pult sync --once (pid {})", std::process::id());
            match crate::store::pg::lease::Lease::try_take(target, &holder, jiff::Timestamp::now().as_second())
                .map_err(|e| crate::store_cli::said(e.into()))?
            {
                Some(lease) => writer.hold_lease(lease)?,
                None => {
                    say!("{}", t!("sync_lock_held", holder = crate::daemon::lease_holder(&writer)));
                    return Ok(());
                }
            }
            None
        }
    };
    let (channels, bad) = crate::channels::registry::open_all(&cfg, &writer);
    let mut trouble: Vec<String> = Vec::new();
    for (name, why) in &bad {
        trouble.push(t!("account_does_not_run", name = crate::sanitize::line(name), why = crate::sanitize::line(why)));
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
                    Err(_) => Err(t!("sync_deadline", minutes = SYNC_ONCE_DEADLINE.as_secs() / 60)),
                };
                (name, result)
            }
        });
        for ((name, result), channel) in futures_util::future::join_all(syncs).await.into_iter().zip(&channels) {
            match result {
                Ok(lines) => {
                    lines.iter().for_each(|l| say!("{l}"));
                    let id = channel.id();
                    if first.contains(&id) {
                        let (history, waiting) =
                            writer.call(move |db| crate::store::channel_state::history_and_waiting(db, id)).await?;
                        let lang = crate::i18n::ui();
                        say!(
                            "{}",
                            t!(
                                "first_sync",
                                name = crate::sanitize::line(&name),
                                history = crate::i18n::plural_of(lang, history, "conversations"),
                                waiting = waiting
                            )
                        );
                    }
                }
                Err(why) => trouble.push(t!(
                    "account_sync_failed",
                    name = crate::sanitize::line(&name),
                    why = crate::sanitize::line(&why)
                )),
            }
        }
        let senders: crate::sync::dispatcher::Senders = channels.iter().map(|c| (c.id(), c.sender(&writer))).collect();
        let recovered = crate::sync::dispatcher::recover(&writer, &senders).await;
        let report = crate::sync::dispatcher::dispatch_due(&writer, &senders).await;
        say!(
            "{}",
            t!(
                "outbox_report",
                handled = report.handled(),
                sent = report.sent,
                retrying = report.retrying,
                failed = report.failed.len()
            )
        );
        for (id, why) in &report.failed {
            trouble.push(t!("outbox_failed_line", id = id, why = crate::sanitize::line(why)));
        }
        if recovered.unknown > 0 {
            let lang = crate::i18n::ui();
            let n = crate::i18n::plural_of(lang, recovered.unknown as i64, "messages");
            trouble.push(t!("recovered_unknown", messages = n));
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
    // Response-time clocks to look at (views «Под угрозой», «Нарушено», the
    // thread's clock line) unless the config has policies of its own.
    if cfg.sla.is_empty() {
        cfg.sla = crate::demo::sla_policies();
    }
    let tmp = std::env::temp_dir().join(format!("pult-demo-{}", std::process::id()));
    // A PostgreSQL address is a database to fill (an empty one: never a team's store).
    let store = match &cli.store {
        Some(_) => location(cli, &cfg)?,
        None => Location::Sqlite(tmp.join("demo.db")),
    };
    if let Location::Sqlite(path) = &store
        && path.exists()
    {
        bail!("{}", t!("demo_store_exists", path = store.shown()));
    }
    let writer = store.spawn_writer()?;
    if store.postgres().is_some() && !store.open_reader("demo")?.channels()?.is_empty() {
        bail!("{}", t!("demo_store_exists", path = store.shown()));
    }
    let clock = Clock::system(cfg.timezone());
    let channels = crate::demo::populate(&writer, clock.now(), clock.tz(), &cfg.actor())?;
    if populate_only {
        say!("{}", t!("demo_written", path = store.shown()));
        return Ok(());
    }
    let app = build_app(&cfg, &store, writer.clone(), cli.theme.as_deref(), clock)?;
    if live {
        crate::demo::start_live(writer.clone(), &channels, Duration::from_secs(every.max(1)));
    }
    // The demo's channels are the demo's: the config's accounts neither sync
    // into its store nor archive its channels.
    let demo_cfg = Config { accounts: Vec::new(), ..cfg.clone() };
    let supervisor = match &store {
        Location::Sqlite(path) if cfg.hours.auto_reply => Some(crate::sync::workers::Supervisor::new(
            path,
            worker_config(&demo_cfg, writer, &app).0,
            Default::default(),
        )),
        _ => None,
    };
    let result = tui::app::run(app, supervisor);
    if cli.store.is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn open_reader(cli: &Cli) -> Result<(Reader, Clock, Calendar)> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let calendar = Calendar::from_config(&cfg)?;
    let at = location(cli, &cfg)?;
    if !at.exists() {
        bail!("{}", t!("no_store", path = at.shown()));
    }
    let clock = Clock::system(cfg.timezone());
    let mut reader = at.open_current_reader(&cfg.actor())?;
    reader.set_moment(calendar.moment(clock.now()));
    Ok((reader, clock, calendar))
}

fn status(cli: &Cli, json: bool) -> Result<()> {
    let (reader, clock, calendar) = open_reader(cli)?;
    let mut counts = reader.status()?;
    counts.oldest_unanswered_minutes =
        counts.oldest_waiting_since.map(|t| calendar.working_seconds(t, clock.now()) / 60).unwrap_or(0);
    crate::sla_cli::add_to_status(cli, &reader, clock.now(), &mut counts)?;
    if json {
        cli.print_json(&counts)?;
    } else {
        let rows = [
            (t!("cli_status_unanswered"), counts.unanswered),
            (t!("cli_status_open"), counts.open),
            (t!("cli_status_overdue"), counts.overdue),
            (t!("cli_status_due_today"), counts.due_today),
            (t!("cli_status_at_risk"), counts.at_risk),
            (t!("cli_status_breached"), counts.breached),
            (t!("cli_status_maybe_sent"), counts.unknown),
            (t!("cli_status_failed"), counts.failed),
        ];
        let width = rows.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
        for (label, n) in rows {
            say!("{label:<width$} {n}");
        }
        let minutes = crate::i18n::plural_of(crate::i18n::ui(), counts.oldest_unanswered_minutes, "working_minutes");
        say!("{}", t!("cli_status_oldest", minutes = minutes));
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
    let lang = crate::i18n::ui();
    for e in events {
        let conv = e.conversation.map(|c| format!("#{c}")).unwrap_or_default();
        let what = crate::history::describe(lang, &e, &clock);
        say!("{}  {:<12} {:<6} {}", e.time, line(&e.actor), conv, line(&what));
    }
    Ok(())
}

/// `pult audit verify`: the whole chain, or the first row that breaks it.
fn audit_verify(cli: &Cli, json: bool) -> Result<()> {
    let (reader, _, _) = open_reader(cli)?;
    let outcome = reader.verify_audit()?;
    if json {
        let value = match &outcome {
            Ok(n) => serde_json::json!({ "ok": true, "rows": n }),
            Err(b) => serde_json::json!({ "ok": false, "broken_row": b.id, "reason": b.reason }),
        };
        cli.print_json(&value)?;
    }
    match outcome {
        Ok(n) => {
            if !json {
                say!("{}", t!("audit_chain_ok", n = n));
            }
            Ok(())
        }
        Err(b) => bail!("{}", crate::store::audit_chain::describe_break(crate::i18n::ui(), &b)),
    }
}

/// `--since` / `--until` of `pult export`: RFC 3339, or a date (its start;
/// for `--until`, its end), in the team's time zone.
pub fn parse_bound(flag: &str, s: &str, clock: &Clock, calendar: &Calendar, end_of_day: bool) -> Result<i64> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts.as_second());
    }
    let day = match s.trim() {
        "сегодня" | "today" => Some(clock.zoned(clock.now()).date()),
        "вчера" | "yesterday" => Some(clock.zoned(clock.now() - 86_400).date()),
        other => crate::workflow::calendar::parse_date(other),
    };
    if let Some(d) = day {
        return Ok(if end_of_day { calendar.at(d, 0) + 86_400 - 1 } else { calendar.at(d, 0) });
    }
    let t = s.trim();
    let ago = t
        .strip_suffix('h')
        .and_then(|n| n.parse::<i64>().ok().map(|n| n * 3600))
        .or_else(|| t.strip_suffix('d').and_then(|n| n.parse::<i64>().ok().map(|n| n * 86400)));
    match ago {
        Some(secs) if secs >= 0 => Ok(clock.now() - secs),
        _ => bail!("{}", t!("bad_bound", flag = flag, value = format!("{s:?}"))),
    }
}

/// The reader, clock and calendar of the configured store (migrated first).
pub fn reader_of(cli: &Cli) -> Result<(Reader, Clock, Calendar)> {
    open_reader(cli)
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
                .ok_or_else(|| anyhow::anyhow!("{}", t!("bad_since", value = format!("{other:?}"))))?;
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
        let lang = crate::i18n::ui();
        say!(
            "{}",
            if days == 0 {
                t!("agenda_none_today")
            } else {
                t!("agenda_none_in", days = crate::i18n::plural_of(lang, i64::from(days), "days"))
            }
        );
    }
    use crate::sanitize::line;
    for i in items {
        let client = i.client.as_deref().map(line).unwrap_or_default();
        say!(
            "{}  {:<9} {:<10} {}  «{}»  [{}#{}]",
            clock.full(i.deadline_ts),
            agenda_state(&i.state),
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
    let left = if p.done >= p.total {
        t!("progress_took", seconds = format!("{secs:.1}"))
    } else {
        match p.seconds_left() {
            Some(eta) => t!("progress_left", seconds = format!("{eta:.0}")),
            None => t!("progress_reckoning"),
        }
    };
    let line = t!(
        "sync_progress",
        account = crate::sanitize::line(account),
        folder = crate::sanitize::line(p.folder),
        done = p.done,
        total = p.total,
        megabytes = format!("{:.0}", p.bytes as f64 / 1_048_576.0),
        rate = format!("{rate:.0}"),
        left = left
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
        say!("{}", t!("search_none"));
    }
    use crate::sanitize::line;
    use std::io::IsTerminal;
    let bold = std::io::stdout().is_terminal();
    for h in hits {
        let subject = h.subject.as_deref().map(|s| format!(" «{}»", line(s))).unwrap_or_default();
        let kind =
            if h.hit == crate::model::HitKind::Note { t!("search_note_mark") } else { h.kind.as_str().to_string() };
        say!("{}  {:<9} {}{}  [{}#{}]", &h.date, kind, line(&h.from), subject, line(&h.channel), h.conversation);
        say!("    {}", if bold { marked(&h.snippet, &h.highlights) } else { line(&h.snippet).into_owned() });
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
        let writer = location(cli, &cfg)?.spawn_writer()?;
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
        say!("{:>7}  {at}  [{}] «{}»", c.id, line(&c.channel_name), line(&c.title));
    }
    let lang = crate::i18n::ui();
    let conversations = |n: usize| crate::i18n::plural_of(lang, n as i64, "conversations");
    let n = result.closed.len();
    if dry_run {
        say!("{}", t!("close_would", conversations = conversations(n)));
    } else if n > 0 {
        say!("{}", t!("close_done", conversations = conversations(n), batch = result.batch));
    } else {
        say!("{}", t!("close_nothing"));
    }
    if !result.kept_for_promises.is_empty() {
        say!("{}", t!("close_kept", conversations = conversations(result.kept_for_promises.len())));
    }
    Ok(())
}

fn reopen_batch(cli: &Cli, batch: i64, json: bool) -> Result<()> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let writer = location(cli, &cfg)?.spawn_writer()?;
    let (actor, now) = (cfg.actor(), jiff::Timestamp::now().as_second());
    let reopened = writer.call_blocking(move |c| crate::store::intents::reopen_batch(c, &actor, batch, now))?;
    if json {
        return cli.print_json(&serde_json::json!({"batch": batch, "reopened": reopened}));
    }
    let n = reopened.len() as i64;
    let conversations = crate::i18n::plural_of(crate::i18n::ui(), n, "conversations");
    say!("{}", t!("batch_reopened", batch = batch, conversations = conversations));
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

/// An agenda row's state in words (the JSON keeps the identifier).
fn agenda_state(state: &str) -> String {
    match state {
        "overdue" => t!("overdue"),
        "due_today" => t!("due_today"),
        _ => t!("upcoming"),
    }
}
