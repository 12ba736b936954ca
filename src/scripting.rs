//! `pult thread` and `pult reply`: one conversation read and answered from a
//! script, the same way on every channel kind (what a channel refuses comes
//! from `channels::registry`).

use crate::bootstrap::{Global, load_config, location};
use crate::channels::registry::{self, ReplyFacts};
use crate::clock::Clock;
use crate::model::{ChannelKind, ConversationRow, Delivery, Direction, MessageRow, TaskRow};
use crate::store::Location;
use crate::store::{Reader, intents};
use crate::{say, t};
use anyhow::{Context as _, Result, bail};
use serde::Serialize;

/// A whole conversation, oldest message first (the `thread --json` contract).
#[derive(Debug, Serialize)]
pub struct ThreadExport {
    pub conversation: i64,
    pub channel: String,
    pub kind: ChannelKind,
    pub client: Option<String>,
    pub subject: Option<String>,
    /// Since when the client waits for us; null when nobody waits.
    pub waiting_since: Option<String>,
    pub assignee: Option<String>,
    pub tasks: Vec<TaskExport>,
    pub messages: Vec<MessageExport>,
    /// Response-time clocks under the conversation's policy; null when no policy covers it.
    pub sla: Option<crate::sla_cli::SlaExport>,
}

#[derive(Debug, Serialize)]
pub struct TaskExport {
    pub id: i64,
    pub state: String,
    pub deadline: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct MessageExport {
    pub id: i64,
    pub remote_id: Option<String>,
    /// `in` from the client, `out` from us (notes too, with `internal`).
    pub direction: &'static str,
    pub author: String,
    pub date: String,
    pub body: String,
    /// pending / sending / sent / failed for ours; null for the client's.
    pub delivery: Option<&'static str>,
    pub error: Option<String>,
    pub deleted: bool,
    pub edited: bool,
    pub internal: bool,
    /// Removed from the mail server (expunged); pult keeps it.
    pub expunged: bool,
    pub attachments: Vec<AttachmentExport>,
    /// People's reactions to it (WhatsApp).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reactions: Vec<ReactionExport>,
    /// Email from others: DKIM as checked when it arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dkim: Option<DkimExport>,
    /// The DKIM line for people (text output).
    #[serde(skip)]
    pub shown_auth: Option<crate::mailauth::Shown>,
    /// Email from others: what the receiving servers reported (Authentication-Results).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub authentication_results: Vec<crate::mailauth::results::Reported>,
}

/// A mail's DKIM result as recorded on arrival (`thread --json`, `export`).
#[derive(Debug, Clone, Serialize)]
pub struct DkimExport {
    /// pass, fail, neutral, policy (rsa-sha1), temperror, permerror or none.
    pub result: &'static str,
    /// A code: body-hash, signature, no-key, dns-timeout … (none for a clean pass).
    pub reason: Option<String>,
    /// d= and s= of the signature the result is of.
    pub domain: Option<String>,
    pub selector: Option<String>,
    /// d= is the From domain or under it / above it.
    pub aligned: bool,
    pub from_domain: Option<String>,
    pub checked_at: String,
}

impl DkimExport {
    pub fn new(a: &crate::mailauth::MailAuth, date: impl Fn(i64) -> String) -> DkimExport {
        DkimExport {
            result: a.result.as_str(),
            reason: a.reason.clone(),
            domain: a.domain.clone(),
            selector: a.selector.clone(),
            aligned: a.aligned,
            from_domain: a.from_domain.clone(),
            checked_at: date(a.checked_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ReactionExport {
    pub author: String,
    pub emoji: String,
}

#[derive(Debug, Serialize)]
pub struct AttachmentExport {
    pub index: usize,
    pub name: String,
    pub mime: String,
    /// null: the channel did not say.
    pub size: Option<i64>,
    /// Why its bytes could not be fetched when it arrived.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fetch_error: Option<String>,
}

/// A message whose sender died mid-send: pult cannot know whether it left.
const MAYBE_SENT: &str = "may have been sent: the sender stopped while sending; retry or discard it (`pult outbox`)";

impl ThreadExport {
    pub fn new(c: &ConversationRow, messages: &[MessageRow], tasks: &[TaskRow], clock: &Clock) -> ThreadExport {
        let date = |t: i64| clock.zoned(t).strftime("%Y-%m-%dT%H:%M:%S%:z").to_string();
        let subject = match registry::kind(c.kind).limits().subject {
            true => messages.iter().rev().find_map(|m| m.subject.clone()).or_else(|| Some(c.title.clone())),
            false => None,
        };
        ThreadExport {
            conversation: c.id,
            channel: c.channel_name.clone(),
            kind: c.kind,
            client: c.client.clone().or_else(|| c.client_name.clone()),
            subject,
            waiting_since: c.waiting_since.map(date),
            assignee: c.assignee.clone(),
            tasks: tasks
                .iter()
                .map(|t| TaskExport { id: t.id, state: t.state.clone(), deadline: t.deadline.map(date) })
                .collect(),
            messages: messages
                .iter()
                .map(|m| {
                    let internal = m.direction == Direction::Note;
                    let (delivery, error) = match m.delivery {
                        _ if internal || m.direction == Direction::In => (None, None),
                        Delivery::Received | Delivery::Sent => (Some("sent"), None),
                        Delivery::Delivered => (Some("delivered"), None),
                        Delivery::Read => (Some("read"), None),
                        Delivery::Pending => (Some("pending"), None),
                        Delivery::Sending => (Some("sending"), None),
                        Delivery::Failed => (Some("failed"), m.error.clone()),
                        Delivery::Unknown => {
                            (Some("sending"), Some(m.error.clone().unwrap_or_else(|| MAYBE_SENT.to_string())))
                        }
                    };
                    MessageExport {
                        id: m.id.abs(),
                        remote_id: m.remote_id.clone(),
                        direction: if m.direction == Direction::In { "in" } else { "out" },
                        author: m.author.clone(),
                        date: date(m.sent_at),
                        body: m.body.clone(),
                        delivery,
                        error,
                        deleted: m.deleted,
                        edited: m.edited,
                        internal,
                        expunged: m.expunged,
                        attachments: m
                            .attachments
                            .iter()
                            .enumerate()
                            .map(|(index, a)| AttachmentExport {
                                index,
                                name: a.name.clone(),
                                mime: a.mime.clone(),
                                size: a.size,
                                fetch_error: a.fetch_error.clone(),
                            })
                            .collect(),
                        reactions: m
                            .reactions
                            .iter()
                            .map(|(author, emoji)| ReactionExport { author: author.clone(), emoji: emoji.clone() })
                            .collect(),
                        dkim: m.auth.as_ref().map(|a| DkimExport::new(a, date)),
                        authentication_results: m.auth.as_ref().map(|a| a.reported.clone()).unwrap_or_default(),
                        shown_auth: m.auth.as_ref().and_then(|a| a.shown(crate::i18n::ui())),
                    }
                })
                .collect(),
            sla: None,
        }
    }
}

/// Every message a conversation holds (`thread` shows them all).
const ALL: usize = 1_000_000;

pub(crate) fn open(cli: &Global) -> Result<(crate::config::Config, Location, Clock)> {
    let cfg = load_config(cli)?.unwrap_or_default();
    let store = location(cli, &cfg)?;
    if !store.exists() {
        bail!("{}", t!("no_store_yet", path = store.shown()));
    }
    drop(store.open_db()?); // migrations first
    let clock = Clock::system(cfg.timezone());
    Ok((cfg, store, clock))
}

fn load(reader: &Reader, conversation: i64) -> Result<(ConversationRow, Vec<MessageRow>)> {
    let c = reader.conversation(conversation)?.with_context(|| t!("no_conversation_id", id = conversation))?;
    let messages = reader.thread(conversation, ALL)?;
    Ok((c, messages))
}

/// `pult thread --conversation ID [--json]`.
pub fn thread(cli: &Global, conversation: i64, json: bool) -> Result<()> {
    let (cfg, store, clock) = open(cli)?;
    let reader = store.open_reader(&cfg.actor())?;
    let (c, messages) = load(&reader, conversation)?;
    let mut export = ThreadExport::new(&c, &messages, &reader.tasks(conversation)?, &clock);
    export.sla = crate::sla_cli::thread_sla(&cfg, &store, &reader, conversation, &clock)?;
    if json {
        return cli.print_json(&export);
    }
    let line = |s: &str| crate::sanitize::line(s).into_owned();
    let lang = crate::i18n::ui();
    say!("{} · {} · {}", line(&c.title), line(&export.channel), export.kind.as_str());
    if let Some(since) = &export.waiting_since {
        say!("{}", t!("waiting_since", date = since));
    }
    // The response-time clocks still running, as the thread's header shows them.
    for c in export.sla.iter().flat_map(|s| &s.clocks).filter(|c| c.stopped.is_none()) {
        use crate::workflow::sla::{ClockKind, human_minutes};
        let kind = [ClockKind::FirstResponse, ClockKind::NextResponse, ClockKind::KeepInformed, ClockKind::Promise]
            .into_iter()
            .find(|k| k.as_str() == c.kind)
            .map_or(c.kind, |k| lang.tr(k.text_key()));
        let ru = lang == crate::i18n::Lang::Ru;
        let mut text = t!(
            "sla_header",
            clock = kind,
            used = human_minutes(c.elapsed_minutes * 60, ru),
            target = human_minutes(c.target_minutes * 60, ru)
        );
        match c.state {
            "breached" => text.push_str(&format!(" · {}", lang.tr("sla_state_breached"))),
            "at_risk" => text.push_str(&format!(" · {}", lang.tr("sla_state_at_risk"))),
            _ => {}
        }
        say!("{text}");
    }
    for m in &export.messages {
        let delivery = |d: &str| delivery_word(lang, d);
        let mark = match (m.internal, m.delivery, &m.error) {
            (true, _, _) => format!(" [{}]", t!("note_mark")),
            (_, _, Some(e)) => format!(" [{}: {}]", delivery(m.delivery.unwrap_or("")), line(e)),
            (_, Some(d), None) => format!(" [{}]", delivery(d)),
            _ => String::new(),
        };
        say!("\n{}  {}{mark}", m.date, line(&m.author));
        if let Some(s) = &m.shown_auth {
            say!("{}{}", if s.warn { "⚠ " } else { "" }, s.text);
        }
        say!("{}", crate::sanitize::text(&m.body));
        for a in &m.attachments {
            match a.size {
                Some(size) => say!("  📎 {} ({})", line(&a.name), crate::i18n::size(lang, size)),
                None => say!("  📎 {}", line(&a.name)),
            }
            if let Some(e) = &a.fetch_error {
                say!("     {}: {}", lang.tr("not_downloaded"), line(e));
            }
        }
        for r in &m.reactions {
            say!("  {} {}", line(&r.emoji), line(&r.author));
        }
    }
    Ok(())
}

/// What `pult reply` sends.
pub enum ReplyText<'a> {
    /// The text, or - for standard input.
    Body(&'a str),
    /// A template by id, its fields given as NAME=VALUE.
    Template { id: &'a str, vars: &'a [String] },
}

/// `pult reply --conversation ID (--body TEXT | --body - | --template ID) [--json]`:
/// queues a reply as `r` and send would (reply-all in email, an answer to the
/// newest client message in chats), without the undo window.
pub fn reply(cli: &Global, conversation: i64, text: ReplyText<'_>, json: bool) -> Result<()> {
    let (cfg, store, clock) = open(cli)?;
    let reader = store.open_reader(&cfg.actor())?;
    let (c, messages) = load(&reader, conversation)?;
    // No worker sends for an archived channel: the reply would wait for ever.
    if reader.channels()?.iter().any(|ch| ch.id == c.channel_id && ch.archived) {
        bail!("{}", t!("channel_archived_no_reply", name = crate::sanitize::line(&c.channel_name)));
    }
    let answers = messages.iter().rev().find(|m| m.answerable());
    let now = clock.now();
    let own = cfg.own_addresses(Some(&c.channel_name));
    let recipients = answers
        .and_then(|m| registry::kind(c.kind).reply_recipients(m.from_handle.as_deref(), &m.to, &m.cc, &own))
        .map(|(to, cc)| to.into_iter().chain(cc).collect())
        .unwrap_or_default();
    let mut facts = ReplyFacts {
        answers: answers.map(|m| m.id),
        last_inbound_at: answers.map(|m| m.sent_at),
        recipients,
        now,
        template: false,
        connection: reader.connection_of(conversation)?,
    };
    // A closed reply window still lets an approved template go, on WhatsApp
    // only: a Telegram Business chat past 24 hours takes nothing.
    let window_open = registry::kind(c.kind).check_reply(&facts).is_ok();
    let templates_go = c.kind == crate::model::ChannelKind::Whatsapp;
    let mut approved: Option<String> = None;
    let body = match text {
        ReplyText::Body("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s).with_context(|| t!("reading_stdin"))?;
            s
        }
        ReplyText::Body(b) => b.to_string(),
        ReplyText::Template { id, vars } => {
            let (text, payload) = template_text(&cfg, &c, id, vars, &clock)?;
            // After the window the approved template goes, and its approved
            // body (filled) is what the thread records.
            match payload.filter(|_| !window_open && templates_go) {
                Some((payload, what_goes)) => {
                    approved = Some(payload);
                    what_goes
                }
                None => text,
            }
        }
    };
    facts.template = approved.is_some();
    if let Err(why) = registry::kind(c.kind).check_reply(&facts) {
        let ids = approved_template_ids();
        if matches!(why, registry::Refusal::WindowClosed { .. }) && templates_go && !ids.is_empty() {
            let why = refusal_text(&why);
            bail!("{}", t!("not_queued_template", why = why, templates = ids.join(" | --template ")));
        }
        bail!("{}", t!("not_queued", why = refusal_text(&why)));
    }
    let body = body.trim_end().to_string();
    if body.trim().is_empty() {
        bail!("{}", t!("not_queued", why = t!("reply_empty")));
    }
    let subject = registry::kind(c.kind).limits().subject.then(|| {
        crate::workflow::replies::reply_subject(
            messages.iter().rev().find_map(|m| m.subject.as_deref()).or(Some(c.title.as_str())),
        )
    });
    let reply = intents::Reply {
        conversation_id: conversation,
        reply_to_message_id: facts.answers,
        subject,
        body,
        actor: cfg.actor(),
        not_before: now,
        auto: false,
        attachments: Vec::new(),
    };
    let writer = store.spawn_writer().with_context(|| t!("opening_store", path = store.shown()))?;
    let outbox = match approved {
        Some(t) => writer.call_blocking(move |conn| intents::queue_template_reply(conn, &reply, &t, now))?,
        None => writer.call_blocking(move |conn| intents::queue_reply(conn, &reply, now))?,
    };
    if json {
        say!("{}", serde_json::json!({ "conversation": conversation, "outbox": outbox, "state": "pending" }));
    } else {
        say!("{}", t!("cli_queued", outbox = outbox, conversation = conversation));
    }
    Ok(())
}

/// A template's text for this conversation, with the variables the composer
/// fills and the template's own fields from `NAME=VALUE`.
fn template_text(
    cfg: &crate::config::Config,
    c: &ConversationRow,
    id: &str,
    vars: &[String],
    clock: &Clock,
) -> Result<(String, Option<(String, String)>)> {
    let templates = user_templates()?;
    let Some(t) = templates.get(id) else {
        let ids: Vec<&str> = templates.all.iter().map(|t| t.id.as_str()).collect();
        bail!("{}", t!("cli_no_template", id = format!("{id:?}"), ids = ids.join(", ")));
    };
    let hours = crate::workflow::calendar::Calendar::from_config(cfg).map(|c| c.describe(true)).unwrap_or_default();
    let today = clock.zoned(clock.now()).strftime("%d.%m.%Y").to_string();
    let mut values = crate::workflow::templates::standard_vars(&cfg.actor(), today, &hours, Some(c));
    // The sender appends the account's signature: the template's sign-off stays out.
    if let Some(signature) = cfg.signature(&c.channel_name) {
        values.insert("signature", signature.to_string());
    }
    let given: Vec<(&str, &str)> = vars.iter().filter_map(|v| v.split_once('=')).collect();
    for field in &t.fields {
        match given.iter().find(|(k, _)| k == field) {
            Some((_, v)) => {
                values.insert(field.as_str(), v.to_string());
            }
            None => bail!("{}", t!("template_needs_var", id = format!("{id:?}"), field = field)),
        }
    }
    let approved = t.whatsapp_payload(&values).map(|p| (p, t.whatsapp_text(&values).unwrap_or_default()));
    Ok((t.render(c.kind, &values), approved))
}

fn user_templates() -> Result<crate::workflow::templates::Templates> {
    let user = std::fs::read_to_string(crate::paths::config_dir().join("templates.toml")).ok();
    let (templates, problem) = crate::workflow::templates::Templates::with_user_file(user.as_deref());
    if let Some(p) = problem {
        bail!("{p}");
    }
    Ok(templates)
}

/// Ids of the templates that stand for a provider-approved one.
fn approved_template_ids() -> Vec<String> {
    user_templates()
        .map(|t| t.all.iter().filter(|t| t.whatsapp.is_some()).map(|t| t.id.clone()).collect())
        .unwrap_or_default()
}

/// A delivery state in words (`--json` keeps the identifier).
fn delivery_word(lang: crate::i18n::Lang, state: &str) -> String {
    match state {
        "pending" | "sending" | "sent" | "delivered" => lang
            .tr(match state {
                "pending" => "pending",
                "sending" => "sending",
                "sent" => "sent",
                _ => "delivered",
            })
            .to_string(),
        "read" => lang.tr("read_by_client").to_string(),
        "failed" => t!("delivery_failed"),
        "unknown" => t!("delivery_unknown"),
        "cancelled" => t!("delivery_cancelled"),
        other => other.to_string(),
    }
}

/// A refusal as the command line says it: in English as it always has
/// (scripts may look for it), else in the UI's language.
fn refusal_text(why: &registry::Refusal) -> String {
    match crate::i18n::ui() {
        crate::i18n::Lang::En => why.to_string(),
        lang => why.in_language(lang),
    }
}
