//! `pult attachment`, `pult send`, `pult forward`: the email actions of the TUI
//! for scripts, cron and tests. Sending only queues; the daemon, a running pult
//! or `pult sync --once` sends, with the same crash-safe outbox.

use crate::attachments::{self, Located};
use crate::bootstrap::{Global, load_config, location};
use crate::config::{Account, Config};
use crate::store::Location;
use crate::store::{ingest, intents};
use crate::{say, t};
use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum AttachmentAction {
    /// The attachments of a message (message ids come from `pult search --json`)
    List {
        #[arg(long)]
        message: i64,
        #[arg(long)]
        json: bool,
    },
    /// Fetch attachments from the server and save them (all, or --index N)
    Save {
        #[arg(long)]
        message: i64,
        #[arg(long)]
        index: Option<usize>,
        /// Directory (default: [ui] download_dir, else ~/Downloads)
        #[arg(long)]
        to: Option<PathBuf>,
    },
    /// Fetch one attachment and open it with [ui] open_command (default xdg-open)
    Open {
        #[arg(long)]
        message: i64,
        #[arg(long, default_value_t = 0)]
        index: usize,
    },
}

fn config(cli: &Global) -> Result<(Config, Location)> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let store = location(cli, &cfg)?;
    if !store.exists() {
        bail!("{}", t!("no_store_yet", path = store.shown()));
    }
    Ok((cfg, store))
}

pub fn attachment(cli: &Global, action: &AttachmentAction) -> Result<()> {
    let (cfg, store) = config(cli)?;
    drop(store.open_db()?); // migrations first
    let reader = store.open_reader(&cfg.actor())?;
    let message = match action {
        AttachmentAction::List { message, .. }
        | AttachmentAction::Save { message, .. }
        | AttachmentAction::Open { message, .. } => *message,
    };
    let all = attachments::locate(&reader, message)?;
    let stored = |items: Vec<Located>| attachments::with_stored(&reader, items);
    let pick = |index: Option<usize>| -> Result<Vec<Located>> {
        match index {
            None if all.is_empty() => bail!("{}", t!("message_no_attachments", message = message)),
            None => Ok(all.clone()),
            Some(i) => all
                .get(i)
                .cloned()
                .map(|a| vec![a])
                .ok_or_else(|| attachments::AttachmentError::NotFound(message, i).into()),
        }
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match action {
        AttachmentAction::List { json: true, .. } => cli.print_json(&all)?,
        AttachmentAction::List { .. } => {
            for a in &all {
                let gone = if a.expunged { t!("removed_from_server") } else { String::new() };
                let size = a.size.map(|s| format!("  {}", crate::i18n::size(crate::i18n::ui(), s))).unwrap_or_default();
                say!("{}  {}  {}{size}{gone}", a.index, crate::sanitize::line(&a.name), crate::sanitize::line(&a.mime),);
            }
        }
        AttachmentAction::Save { index, to, .. } => {
            let items = stored(pick(*index)?)?;
            let dir = to.clone().unwrap_or_else(|| cfg.ui.download_dir());
            let bytes = rt.block_on(attachments::fetch(&cfg, &items))?;
            for (a, b) in items.iter().zip(bytes) {
                let saved = attachments::save(&dir, &a.name, &b)?;
                say!("{}", saved.display());
            }
        }
        AttachmentAction::Open { index, .. } => {
            for a in stored(pick(Some(*index))?)? {
                say!("{}", rt.block_on(attachments::fetch_and_open(&cfg, &cfg.ui.open_command(), &a))?.display());
            }
        }
    }
    Ok(())
}

/// `pult send`: a new email from an account.
pub fn send(
    cli: &Global,
    account: Option<&str>,
    to: &[String],
    subject: &str,
    body: Option<&str>,
    attach: &[PathBuf],
    json: bool,
) -> Result<()> {
    let (cfg, store) = config_or_new(cli)?;
    let email = email_account(&cfg, account)?;
    // An account still as in the example could never send it: say what to edit.
    if let Some(why) = crate::channels::registry::not_set_up(&Account::Email(email.clone())) {
        bail!("{}", t!("account_why", name = crate::sanitize::line(&email.name), why = why));
    }
    let body = read_body(body)?;
    let writer = store.spawn_writer().with_context(|| t!("opening_store", path = store.shown()))?;
    let now = jiff::Timestamp::now().as_second();
    let name = email.name.clone();
    let channel =
        writer.call_blocking(move |c| ingest::ensure_channel(c, &name, crate::model::ChannelKind::Email, now))?;
    for f in attach {
        if !f.is_file() {
            bail!("{}", t!("attachment_no_file", path = f.display()));
        }
    }
    let new = intents::NewEmail {
        channel,
        from_address: email.address.clone(),
        to: to.to_vec(),
        subject: subject.to_string(),
        body,
        attachments: attach.iter().map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())).collect(),
        actor: cfg.actor(),
        not_before: now,
    };
    let (conversation, outbox) = writer.call_blocking(move |c| intents::new_email(c, &new, now))?;
    report(json, conversation, outbox);
    Ok(())
}

/// `pult forward`: a stored email, with its attachments, to new recipients.
pub fn forward(cli: &Global, message: i64, to: &[String], body: Option<&str>, json: bool) -> Result<()> {
    let (cfg, store) = config(cli)?;
    let body = match body {
        Some(b) => read_body(Some(b))?,
        None => String::new(),
    };
    let writer = store.spawn_writer()?;
    let now = jiff::Timestamp::now().as_second();
    let actor = cfg.actor();
    let to = to.to_vec();
    let (conversation, outbox) =
        writer.call_blocking(move |c| intents::queue_forward(c, message, to, body, &actor, now))?;
    report(json, conversation, outbox);
    Ok(())
}

fn report(json: bool, conversation: i64, outbox: i64) {
    if json {
        say!("{}", serde_json::json!({ "conversation": conversation, "outbox": outbox, "state": "pending" }));
    } else {
        say!("{}", t!("cli_queued", outbox = outbox, conversation = conversation));
    }
}

fn config_or_new(cli: &Global) -> Result<(Config, Location)> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let store = location(cli, &cfg)?;
    Ok((cfg, store))
}

fn email_account<'a>(cfg: &'a Config, name: Option<&str>) -> Result<&'a crate::config::EmailAccount> {
    let mut emails = cfg.accounts.iter().filter_map(|a| match a {
        Account::Email(e) => Some(e),
        _ => None,
    });
    match name {
        Some(n) => emails.find(|e| e.name == n).with_context(|| t!("no_email_account_named", name = n)),
        None => emails.next().with_context(|| t!("no_email_account_in_config")),
    }
}

/// `--body TEXT`, or `--body -` for standard input.
fn read_body(body: Option<&str>) -> Result<String> {
    match body {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).with_context(|| t!("reading_stdin"))?;
            Ok(s)
        }
        Some(b) => Ok(b.to_string()),
        None => Ok(String::new()),
    }
}
