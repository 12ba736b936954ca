//! `pult channels`: every channel with its state (working, in trouble and
//! why, archived because its account left the config), and `pult channels
//! remove`, which forgets an archived channel's history after asking.

use crate::bootstrap::{Global, load_config, location};
use crate::config::Config;
use crate::model::ChannelStatus;
use crate::store::{Writer, archive};
use crate::{say, t};
use anyhow::{Context, Result, bail};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ChannelsAction {
    /// Delete an archived channel (its account is no longer in the config) with
    /// its conversations, messages, notes and promises, after a confirmation
    Remove {
        name: String,
        /// Do not ask (scripts)
        #[arg(long)]
        yes: bool,
    },
}

/// One line of `pult channels` (and its JSON).
#[derive(Debug, serde::Serialize)]
struct Entry {
    name: String,
    kind: &'static str,
    /// `ok`, `error` or `archived`.
    state: &'static str,
    /// Why: the worker's trouble, what to edit, or that the account left the config.
    reason: Option<String>,
    conversations: i64,
    messages: i64,
}

/// "1 conversation", "2 conversations" (the command line speaks English).
fn conversations(n: i64) -> String {
    crate::i18n::plural_of(crate::i18n::ui(), n, "conversations")
}

fn messages(n: i64) -> String {
    crate::i18n::plural_of(crate::i18n::ui(), n, "messages")
}

fn trouble(status: Option<&ChannelStatus>) -> Option<String> {
    match status? {
        ChannelStatus::Error(why) => Some(why.clone()),
        ChannelStatus::AuthFailed(why) => Some(t!("credentials_refused", why = why)),
        _ => None,
    }
}

/// Every channel of the store and every configured account, with its state.
/// Archiving follows the config first, as a running pult would.
fn entries(cfg: &Config, writer: &Writer) -> Result<Vec<Entry>> {
    if !cfg.accounts.is_empty() {
        let names: Vec<String> = cfg.accounts.iter().map(|a| a.name().to_string()).collect();
        let now = jiff::Timestamp::now().as_second();
        writer.call_blocking(move |c| archive::reconcile(c, &names, now))?;
    }
    let stored = writer.call_blocking(|c| archive::list(c))?;
    let mut out: Vec<Entry> = stored
        .iter()
        .map(|ch| {
            let account = cfg.accounts.iter().find(|a| a.name() == ch.name);
            let not_set_up = account.and_then(crate::channels::registry::not_set_up);
            let (state, reason) = match (ch.archived_at, not_set_up.or_else(|| trouble(ch.status.as_ref()))) {
                (Some(_), _) => ("archived", Some(t!("account_left_config"))),
                (None, Some(why)) => ("error", Some(why)),
                (None, None) => ("ok", None),
            };
            Entry {
                name: ch.name.clone(),
                kind: ch.kind.as_str(),
                state,
                reason,
                conversations: ch.conversations,
                messages: ch.messages,
            }
        })
        .collect();
    // Accounts without a channel yet: not set up (they get none), or new.
    for a in cfg.accounts.iter().filter(|a| !stored.iter().any(|ch| ch.name == a.name())) {
        let why = crate::channels::registry::not_set_up(a);
        out.push(Entry {
            name: a.name().to_string(),
            kind: a.kind().as_str(),
            state: if why.is_some() { "error" } else { "ok" },
            reason: why.or_else(|| Some(t!("not_synced_yet"))),
            conversations: 0,
            messages: 0,
        });
    }
    Ok(out)
}

fn open_writer(global: &Global, cfg: &Config) -> Result<Writer> {
    let store = location(global, cfg)?;
    if !store.exists() {
        bail!("{}", t!("no_store", path = store.shown()));
    }
    store.spawn_writer().with_context(|| t!("opening_store", path = store.shown()))
}

pub fn run(global: &Global, action: Option<&ChannelsAction>, json: bool) -> Result<()> {
    let cfg = load_config(global)?.unwrap_or_default();
    if let Some(ChannelsAction::Remove { name, yes }) = action {
        return remove(global, &cfg, name, *yes);
    }
    let writer = open_writer(global, &cfg)?;
    let list = entries(&cfg, &writer)?;
    if json {
        return global.print_json(&list);
    }
    if list.is_empty() {
        say!("{}", t!("channels_none"));
    }
    use crate::sanitize::line;
    for e in &list {
        let mark = match e.state {
            "ok" => "✓",
            "error" => "⚠",
            _ => "·",
        };
        let reason = match (e.state, &e.reason) {
            ("archived", _) => format!("  {}", t!("channel_archived_hint", name = line(&e.name))),
            (_, Some(r)) => format!("  {}", line(r)),
            (_, None) => String::new(),
        };
        let state = match e.state {
            "ok" => t!("channel_state_ok"),
            "error" => t!("channel_state_error"),
            _ => t!("channel_state_archived"),
        };
        say!("{mark} {:<16} {:<9} {:<9} {:>20}{reason}", line(&e.name), e.kind, state, conversations(e.conversations));
    }
    Ok(())
}

fn remove(global: &Global, cfg: &Config, name: &str, yes: bool) -> Result<()> {
    use crate::sanitize::line;
    if cfg.accounts.iter().any(|a| a.name() == name) {
        bail!("{}", t!("channel_in_config", name = line(name)));
    }
    let writer = open_writer(global, cfg)?;
    let list = entries(cfg, &writer)?;
    let Some(e) = list.iter().find(|e| e.name == name) else {
        bail!("{}", t!("no_channel_named", name = line(name)));
    };
    if e.state != "archived" {
        bail!("{}", t!("channel_not_archived", name = line(name)));
    }
    if !yes
        && !confirmed(&t!(
            "channel_delete_question",
            name = line(name),
            kind = e.kind,
            conversations = conversations(e.conversations),
            messages = messages(e.messages)
        ))?
    {
        bail!("{}", t!("channel_nothing_deleted"));
    }
    let (n, actor, now) = (name.to_string(), cfg.actor(), jiff::Timestamp::now().as_second());
    let removed = writer.call_blocking(move |c| archive::remove(c, &n, &actor, now))?;
    writer.forget_beside(&removed.beside);
    say!(
        "{}",
        t!(
            "channel_deleted",
            name = line(name),
            conversations = conversations(removed.conversations),
            messages = messages(removed.messages)
        )
    );
    Ok(())
}

/// Asks on the terminal (the question on stderr, the answer from stdin); an
/// answer that is not yes, or none at all (a script without --yes), is no.
fn confirmed(question: &str) -> Result<bool> {
    use std::io::Write;
    let mut err = std::io::stderr();
    write!(err, "{question}")?;
    err.flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if !answer.ends_with('\n') {
        // No answer at all: what follows goes on a line of its own.
        writeln!(err)?;
    }
    Ok(matches!(answer.trim().to_lowercase().as_str(), "y" | "yes" | "д" | "да"))
}
