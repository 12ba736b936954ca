//! `pult clients` and `pult client …`: one client across every channel, from
//! scripts (the card is `C` in the TUI).

use crate::bootstrap::Global;
use crate::clock::Clock;
use crate::store::clients;
use crate::{say, t};
use anyhow::{Context, Result, bail};
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ClientAction {
    /// One client: identities on every channel, responsible person, open promises, conversations
    Show {
        id: i64,
        #[arg(long)]
        json: bool,
    },
    /// Merge clients into one (identities and conversations move; `pult client unmerge` undoes it)
    Merge {
        #[arg(long)]
        into: i64,
        #[arg(required = true)]
        ids: Vec<i64>,
    },
    /// Undo a merge, exactly, by the number `merge` printed
    Unmerge { merge: i64 },
    /// Clients that may be one, and why (never merged by themselves)
    Suggestions {
        #[arg(long)]
        json: bool,
    },
    /// Edit a client: name, organisation, INN, kind (person|organisation), tags ("VIP, зарплата"),
    /// add a line to its notes (note) or replace them (notes); notes are internal, never sent
    Set {
        id: i64,
        /// name, organisation, inn, kind, tags, note, notes or hours (the client's own
        /// time zone and hours for response times: "Asia/Yekaterinburg 09:00-18:00")
        #[arg(value_parser = ["name", "organisation", "inn", "kind", "tags", "note", "notes", "hours"])]
        field: String,
        value: String,
    },
    /// Two clients are not the same: never suggest them again
    Dismiss { a: i64, b: i64 },
    /// Split an identity off into a client of its own (KIND:HANDLE, e.g. email:irina@firm.ru)
    Split {
        #[arg(long)]
        identity: String,
    },
    /// Hand a client over: the responsible person for it, and its open conversations with a note
    HandOver {
        id: i64,
        /// The new responsible person ("-" for nobody)
        to: String,
        #[arg(long)]
        note: Option<String>,
    },
}

fn date(clock: &Clock, t: i64) -> String {
    clock.zoned(t).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// `pult clients`: every client with its identities, open promises and waiting conversations.
pub fn list(cli: &Global, json: bool, tag: Option<&str>) -> Result<()> {
    let (cfg, store, _) = crate::scripting::open(cli)?;
    let mut all = store.open_reader(&cfg.actor())?.clients()?;
    if let Some(tag) = tag {
        let tag = tag.to_lowercase();
        all.retain(|c| c.tags.iter().any(|t| t.to_lowercase() == tag));
    }
    if json {
        return cli.print_json(&all);
    }
    for c in &all {
        let line = |s: &str| crate::sanitize::line(s).into_owned();
        let who = match &c.organisation {
            Some(o) => format!("{} ({})", line(o), line(&c.name)),
            None => line(&c.name),
        };
        let handles: Vec<String> =
            c.identities.iter().map(|i| format!("{}:{}", identity_kind(&i.kind), line(&i.shown()))).collect();
        let tags: String = c.tags.iter().map(|t| format!(" #{}", line(t))).collect();
        let new = if c.provisional { t!("client_new_mark") } else { String::new() };
        say!(
            "{:>5}  {who}{new}{tags}  [{}]  {}",
            c.id,
            handles.join(", "),
            t!(
                "client_row",
                responsible = c.responsible.as_deref().map(line).unwrap_or_else(|| "—".into()),
                promises = c.open_tasks,
                waiting = c.waiting
            )
        );
    }
    Ok(())
}

pub fn run(cli: &Global, action: &ClientAction) -> Result<()> {
    let (cfg, store, clock) = crate::scripting::open(cli)?;
    let now = clock.now();
    match action {
        ClientAction::Show { id, json } => {
            let card = store.open_reader(&cfg.actor())?.client(*id)?.with_context(|| t!("no_client_id", id = id))?;
            if *json {
                let mut v = serde_json::to_value(&card)?;
                if let Some(list) = v.get_mut("timeline").and_then(|c| c.as_array_mut()) {
                    for (e, row) in list.iter_mut().zip(&card.timeline) {
                        e["date"] = serde_json::json!(date(&clock, row.date));
                    }
                }
                if let Some(list) = v.get_mut("promises").and_then(|c| c.as_array_mut()) {
                    for (p, row) in list.iter_mut().zip(&card.promises) {
                        p["deadline"] = serde_json::json!(row.deadline.map(|t| date(&clock, t)));
                    }
                }
                if let Some(list) = v.get_mut("conversations").and_then(|c| c.as_array_mut()) {
                    for (c, row) in list.iter_mut().zip(&card.conversations) {
                        c["last_date"] = serde_json::json!(date(&clock, row.last_date));
                        c["waiting_since"] = serde_json::json!(row.waiting_since.map(|t| date(&clock, t)));
                    }
                }
                return cli.print_json(&v);
            }
            let line = |s: &str| crate::sanitize::line(s).into_owned();
            let s = &card.summary;
            let lang = crate::i18n::ui();
            say!("{} · {}", line(&s.name), s.organisation.as_deref().map(line).unwrap_or_default());
            let kind = match s.kind.to_string().as_str() {
                "person" => lang.tr("kind_person").to_string(),
                "organisation" => t!("kind_organisation"),
                other => other.to_string(),
            };
            let provisional = if s.provisional { t!("client_created_by_sync") } else { String::new() };
            say!("{}: {kind}{provisional}", lang.tr("card_kind").to_lowercase());
            if let Some(inn) = &s.inn {
                say!("{}: {}", lang.tr("card_inn"), line(inn));
            }
            if !s.tags.is_empty() {
                say!("{}: {}", lang.tr("card_tags").to_lowercase(), line(&s.tags.join(", ")));
            }
            let responsible = s.responsible.as_deref().map(line).unwrap_or_else(|| "—".into());
            say!("{}: {responsible}", lang.tr("responsible").to_lowercase());
            for i in &s.identities {
                say!("  {}: {}", identity_kind(&i.kind), line(&i.shown()));
            }
            if let Some(n) = &card.notes {
                say!("{}: {}", lang.tr("card_notes").to_lowercase(), crate::sanitize::text(n));
            }
            for p in &card.promises {
                let by = p.deadline.map(|t| date(&clock, t)).unwrap_or_else(|| "—".into());
                say!("  {} · {} · #{} {}", t!("promise_by", date = by), p.kind, p.conversation, line(&p.what));
            }
            for c in &card.conversations {
                let waiting = c
                    .waiting_since
                    .map(|t| format!("  {}", t!("waiting_since", date = date(&clock, t))))
                    .unwrap_or_default();
                say!("  #{} {} · {} · {}{waiting}", c.conversation, c.kind, line(&c.channel), line(&c.subject));
            }
            Ok(())
        }
        ClientAction::Merge { into, ids } => {
            let (into, ids, actor) = (*into, ids.clone(), cfg.actor());
            if ids.iter().all(|i| *i == into) {
                bail!("{}", t!("merge_nothing", into = into));
            }
            let writer = store.spawn_writer()?;
            let merge = writer.call_blocking(move |c| clients::merge(c, into, &ids, &actor, now))?;
            say!("{}", t!("merged", into = into, merge = merge));
            Ok(())
        }
        ClientAction::Unmerge { merge } => {
            let (merge, actor) = (*merge, cfg.actor());
            store.spawn_writer()?.call_blocking(move |c| clients::unmerge(c, merge, &actor, now))?;
            say!("{}", t!("unmerged", merge = merge));
            Ok(())
        }
        ClientAction::Suggestions { json } => {
            let all = store.open_reader(&cfg.actor())?.client_suggestions()?;
            if *json {
                return cli.print_json(&all);
            }
            for s in &all {
                let ids: Vec<String> = s.clients.iter().map(i64::to_string).collect();
                let lang = crate::i18n::ui();
                let rule = match s.rule {
                    "phone" => lang.tr("rule_phone"),
                    "domain" => lang.tr("rule_domain"),
                    "name" => lang.tr("rule_name"),
                    "group" => lang.tr("rule_group"),
                    _ => lang.tr("rule_member"),
                };
                say!("{}: {rule} {}", ids.join(" + "), crate::sanitize::line(&s.detail));
            }
            Ok(())
        }
        ClientAction::Split { identity } => {
            let Some((kind, handle)) = identity.split_once(':') else {
                bail!("{}", t!("identity_form"));
            };
            let (kind, handle, actor) = (kind.to_string(), handle.to_string(), cfg.actor());
            let new = store
                .spawn_writer()?
                .call_blocking(move |c| clients::split(c, &kind, &handle, &actor, now))
                .with_context(|| t!("no_identity", identity = identity))?;
            say!("{}", t!("identity_split", identity = identity, client = new));
            Ok(())
        }
        ClientAction::HandOver { id, to, note } => {
            let (id, actor, note) = (*id, cfg.actor(), note.clone());
            let to = (to != "-").then(|| to.clone());
            let who = to.clone().unwrap_or_else(|| t!("nobody"));
            let moved = store
                .spawn_writer()?
                .call_blocking(move |c| clients::hand_over(c, id, to.as_deref(), &actor, note.as_deref(), now))?;
            let lang = crate::i18n::ui();
            let moved = crate::i18n::plural_of(lang, moved as i64, "open_conversations");
            say!("{}", t!("client_handed_over", id = id, who = who, moved = moved));
            Ok(())
        }
        ClientAction::Set { id, field, value } => {
            let Some(field) = clients::Field::parse(field) else { bail!("{}", t!("no_field", field = field)) };
            let (id, value, actor) = (*id, value.clone(), cfg.actor());
            store.spawn_writer()?.call_blocking(move |c| clients::set_field(c, id, field, &value, &actor, now))?;
            say!("{}", t!("field_set", id = id, field = format!("{field:?}").to_lowercase()));
            Ok(())
        }
        ClientAction::Dismiss { a, b } => {
            let (a, b) = (*a, *b);
            store.spawn_writer()?.call_blocking(move |c| clients::dismiss(c, a, b))?;
            say!("{}", t!("dismissed", a = a, b = b));
            Ok(())
        }
    }
}

/// An identity's kind as a person reads it: in Russian a group chat is
/// «группа Telegram»; in English the identifier as it has always printed.
fn identity_kind(kind: &str) -> String {
    match (crate::i18n::ui(), kind) {
        (crate::i18n::Lang::En, _) => kind.to_string(),
        (_, "telegram_group") => t!("identity_telegram_group"),
        (_, "whatsapp_group") => t!("identity_whatsapp_group"),
        (_, other) => other.to_string(),
    }
}
