//! What people ask for: replies queued in the outbox, read marks, closing, and
//! the outbox state machine the dispatcher drives (pending -> sending -> sent/failed).
//!
//! Written against `store::sql`, as the ledger is: each public function that
//! writes is one write transaction of whichever store it is given; readers
//! take a connection of either engine. Only [`new_email`] is still SQLite's
//! own (it finds the recipient through `ingest::identity`).

use super::ingest::refresh_conversation;
use super::sql::{Conn, Row, Searchable, ToValue, Transact, WithConn};
use super::writer::{audit, note_change};
use super::{Result, StoreError};
use crate::model::ChangeKind;

#[derive(Debug, Clone)]
pub struct Reply {
    pub conversation_id: i64,
    pub reply_to_message_id: Option<i64>,
    pub subject: Option<String>,
    pub body: String,
    pub actor: String,
    /// The earliest time the dispatcher may send it (an undo window).
    pub not_before: i64,
    /// Sent by pult itself (an after-hours reply): it does not count as an answer.
    pub auto: bool,
    /// Files to send with the reply (paths on this machine).
    pub attachments: Vec<std::path::PathBuf>,
}

/// [`queue_reply`] of a provider-approved template (`template` as JSON
/// `{"name", "language", "params"}`); `r.body` is what the thread shows.
pub fn queue_template_reply(db: &mut impl Transact, r: &Reply, template: &str, now: i64) -> Result<i64> {
    db.write(|c| {
        let id = queue_reply_in(c, r, now)?;
        c.exec("UPDATE outbox SET template = ?1 WHERE id = ?2", &[&template, &id])?;
        Ok(id)
    })
}

/// Queues a reply: the outbox row and the pending message in the thread, in one
/// transaction, so the draft is durable before anything leaves.
pub fn queue_reply(db: &mut impl Transact, r: &Reply, now: i64) -> Result<i64> {
    db.write(|c| queue_reply_in(c, r, now))
}

/// [`queue_reply`] inside a caller's transaction (accept and done add a task change to it).
pub(super) fn queue_reply_in(c: &(impl WithConn + ?Sized), r: &Reply, now: i64) -> Result<i64> {
    if r.body.trim().is_empty() && r.attachments.is_empty() {
        return Err(super::Refused::EmptyReply.into());
    }
    queue_outgoing(c, r, now)
}

/// The outbox row and its message, whatever the text (a forward may have none).
fn queue_outgoing(c: &(impl WithConn + ?Sized), r: &Reply, now: i64) -> Result<i64> {
    c.with_conn(|c| {
        let channel_id: i64 = c
            .opt("SELECT channel_id FROM conversations WHERE id = ?1", &[&r.conversation_id], |row| row.get(0))?
            .ok_or_else(|| StoreError::Invalid(format!("no conversation {}", r.conversation_id)))?;
        let files: Vec<String> = r.attachments.iter().map(|p| p.display().to_string()).collect();
        let files_json = if files.is_empty() { None } else { serde_json::to_string(&files).ok() };
        let outbox_id = c.insert(
            "INSERT INTO outbox (conversation_id, reply_to_message_id, subject, body, state, not_before, actor,
                                 created_at, updated_at, auto, attachments)
             VALUES (?1, ?2, ?3, ?4, 'pending', ?5, ?6, ?7, ?7, ?8, ?9) RETURNING id",
            &[
                &r.conversation_id,
                &r.reply_to_message_id,
                &r.subject,
                &r.body,
                &r.not_before,
                &r.actor,
                &now,
                &r.auto,
                &files_json,
            ],
        )?;
        let message_id = c.insert(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, sent_at, subject, body,
                                   reply_to_message_id, delivery, actor, auto)
             VALUES (?1, ?2, ?3, 'out', ?4, ?5, ?6, ?7, ?8, 'pending', ?4, ?9) RETURNING id",
            &[
                &r.conversation_id,
                &channel_id,
                &format!("local:{outbox_id}"),
                &r.actor,
                &now,
                &r.subject,
                &r.body,
                &r.reply_to_message_id,
                &r.auto,
            ],
        )?;
        c.reindex(Searchable::Message(message_id))?;
        c.exec("UPDATE outbox SET message_id = ?1 WHERE id = ?2", &[&message_id, &outbox_id])?;
        for (i, path) in r.attachments.iter().enumerate() {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "file".into());
            let bytes = read_attachment(path)?;
            // Into the store now: the sender may be another user's daemon, or
            // run after the file was moved; it sends these bytes, not the path.
            let sha = super::originals::put_blob_as_is(c, &bytes)?;
            let attachment = c.insert(
                "INSERT INTO attachments (message_id, ordinal, name, mime, size, content_hash)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                &[&message_id, &i, &name, &mime_for(&name), &bytes.len(), &sha],
            )?;
            c.reindex(Searchable::Attachment(attachment))?;
        }
        refresh_conversation(c, r.conversation_id)?;
        note_change(c, now, ChangeKind::Outbox, Some(r.conversation_id), Some(&r.actor))?;
        let action = if r.auto { "send.auto" } else { "send" };
        audit(c, now, &r.actor, action, Some(r.conversation_id), &first_line(&r.body))?;
        Ok(outbox_id)
    })
}

/// The largest file a reply may carry (WhatsApp's document limit; email and
/// Telegram servers may refuse less, and say so when sending).
pub const MAX_ATTACHMENT_BYTES: u64 = 100 << 20;

/// A file to attach, read whole as the person who attaches it; refused with
/// the reason when it cannot be.
fn read_attachment(path: &std::path::Path) -> Result<Vec<u8>> {
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        let why = match e.kind() {
            std::io::ErrorKind::NotFound => "why_no_such_file",
            std::io::ErrorKind::PermissionDenied => "why_no_permission",
            _ => "why_unreadable",
        };
        super::Refused::AttachmentUnreadable(shown.clone(), why)
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() {
        return Err(super::Refused::AttachmentUnreadable(shown, "why_not_a_file").into());
    }
    if meta.len() > MAX_ATTACHMENT_BYTES {
        return Err(super::Refused::AttachmentTooBig(shown, MAX_ATTACHMENT_BYTES >> 20).into());
    }
    Ok(std::fs::read(path).map_err(unreadable)?)
}

/// What an email that is not a plain reply adds: its own recipients, and the
/// message it forwards.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmailExtra {
    pub to: Vec<String>,
    pub forward_of: Option<i64>,
}

/// Queues an email with explicit recipients (a forward) into an existing conversation.
pub fn queue_email(db: &mut impl Transact, r: &Reply, extra: &EmailExtra, now: i64) -> Result<i64> {
    db.write(|c| queue_email_in(c, r, extra, now))
}

/// [`queue_email`] inside a caller's transaction (`new_email` still passes SQLite's own).
fn queue_email_in(c: &(impl WithConn + ?Sized), r: &Reply, extra: &EmailExtra, now: i64) -> Result<i64> {
    let to = valid_addresses(&extra.to)?;
    if r.subject.as_deref().map(str::trim).is_none_or(str::is_empty) {
        return Err(super::Refused::NoSubject.into());
    }
    c.with_conn(|c| {
        if let Some(m) = extra.forward_of {
            let found: Option<i64> = c.opt("SELECT id FROM messages WHERE id = ?1", &[&m], |row| row.get(0))?;
            if found.is_none() {
                return Err(StoreError::Invalid(format!("no message {m} to forward")));
            }
        }
        // A forward may go without a word of our own: the forwarded mail is the content.
        let id = if extra.forward_of.is_some() { queue_outgoing(c, r, now)? } else { queue_reply_in(c, r, now)? };
        let to_json = serde_json::to_string(&to).ok();
        c.exec(
            "UPDATE outbox SET to_addresses = ?1, forward_of = ?2 WHERE id = ?3",
            &[&to_json, &extra.forward_of, &id],
        )?;
        // A forward goes to a third party: the client is still waiting for an answer.
        c.exec(
            "UPDATE messages SET recipients = ?1, forward = ?3
             WHERE id = (SELECT message_id FROM outbox WHERE id = ?2)",
            &[&to_json, &id, &extra.forward_of.is_some()],
        )?;
        if extra.forward_of.is_some() {
            refresh_conversation(c, r.conversation_id)?;
            audit(c, now, &r.actor, "email.forward", Some(r.conversation_id), &to.join(", "))?;
        }
        Ok(id)
    })
}

/// Addresses as typed ("a@x, b@y; c@z", «Кира Белова <carol@x>»), checked and
/// lower-cased, without the names; at least one.
pub fn valid_addresses(list: &[String]) -> Result<Vec<String>> {
    Ok(recipients(list)?.into_iter().map(|r| r.address).collect())
}

/// One recipient as typed: an address and the name written before it, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Recipient {
    pub name: Option<String>,
    pub address: String,
}

impl std::fmt::Display for Recipient {
    /// `Кира Белова <carol@x>`, the name quoted when it holds a separator, so
    /// that `recipients` reads it back.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) if n.contains([',', ';', '<', '>']) => write!(f, "\"{n}\" <{}>", self.address),
            Some(n) => write!(f, "{n} <{}>", self.address),
            None => f.write_str(&self.address),
        }
    }
}

/// Recipients as typed, separated by commas or semicolons (or spaces between
/// bare addresses): `a@x`, `<a@x>`, `Кира Белова <a@x>`, `"Белова, Кира" <a@x>`.
/// Each address checked and lower-cased, each once; at least one.
pub fn recipients(list: &[String]) -> Result<Vec<Recipient>> {
    let bad = |a: &str| StoreError::from(super::Refused::NotAnEmailAddress(crate::sanitize::line(a).into_owned()));
    let mut out: Vec<Recipient> = Vec::new();
    for item in list.iter().flat_map(|a| split_outside_quotes(a)) {
        let item = item.trim();
        let (name, bare): (Option<String>, Vec<&str>) = match item.rsplit_once('<') {
            Some((name, rest)) => {
                let address = rest.strip_suffix('>').ok_or_else(|| bad(item))?;
                let name = name.trim().trim_matches('"').trim();
                if name.chars().any(|c| c.is_control() || c == '"') {
                    return Err(bad(item));
                }
                ((!name.is_empty()).then(|| name.to_string()), vec![address])
            }
            None => (None, item.split_whitespace().collect()),
        };
        for a in bare {
            let a = a.trim().to_lowercase();
            if a.is_empty() {
                continue;
            }
            let ok = a.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.starts_with('.'))
                && !a.chars().any(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '<' | '>'));
            if !ok {
                return Err(bad(&a));
            }
            if !out.iter().any(|r| r.address == a) {
                out.push(Recipient { name: name.clone(), address: a });
            }
        }
    }
    if out.is_empty() {
        return Err(super::Refused::NoRecipient.into());
    }
    Ok(out)
}

/// Splits at `,` and `;` that are not inside quotes or `<…>`.
fn split_outside_quotes(s: &str) -> Vec<&str> {
    let (mut parts, mut start, mut quoted, mut angle) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '<' if !quoted => angle = true,
            '>' if !quoted => angle = false,
            ',' | ';' if !quoted && !angle => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A new email, as the composer or `pult send` asks for it.
#[derive(Debug, Clone, Default)]
pub struct NewEmail {
    pub channel: i64,
    /// Our address: the right side of the Message-ID.
    pub from_address: String,
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
    pub attachments: Vec<std::path::PathBuf>,
    pub actor: String,
    pub not_before: i64,
}

/// A new email (not a reply): a new conversation keyed by the mail's own
/// Message-ID (so answers and the copy in Sent thread into it), and its outbox row.
///
/// Still on SQLite's own transaction: the recipient's identity is found or
/// made by `ingest::identity`, which is not on the seam yet.
pub fn new_email(db: &mut impl Transact, e: &NewEmail, now: i64) -> Result<(i64, i64)> {
    let typed = recipients(&e.to)?;
    let to: Vec<String> = typed.iter().map(|r| r.address.clone()).collect();
    let subject = e.subject.trim();
    if subject.is_empty() {
        return Err(super::Refused::NoSubject.into());
    }
    let channel = e.channel;
    db.write(|c| {
        let is_email =
            c.opt("SELECT 1 FROM channels WHERE id = ?1 AND kind = 'email'", &[&channel], |r| r.get::<i64>(0))?;
        if is_email.is_none() {
            return Err(StoreError::Invalid(format!("channel {channel} is not an email account")));
        }
        // The name typed before the address names the new client.
        let name = typed[0].name.as_deref().map(crate::sanitize::line).unwrap_or_default();
        let (_, contact) = super::ingest::identity(c, "email", &to[0], &name, now)?;
        let domain = e.from_address.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost");
        let key = format!("<pult.new.{:x}@{domain}>", jiff::Timestamp::now().as_nanosecond());
        let conversation = c.insert(
            "INSERT INTO conversations (channel_id, remote_key, title, subject, contact_id, created_at, assignee)
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6) RETURNING id",
            &[&channel, &key, &subject, &contact, &now, &e.actor],
        )?;
        c.reindex(Searchable::Conversation(conversation))?;
        let reply = Reply {
            conversation_id: conversation,
            reply_to_message_id: None,
            subject: Some(subject.to_string()),
            body: e.body.clone(),
            actor: e.actor.clone(),
            not_before: e.not_before,
            auto: false,
            attachments: e.attachments.clone(),
        };
        let outbox = queue_email_in(c, &reply, &EmailExtra { to: to.clone(), forward_of: None }, now)?;
        c.exec("UPDATE outbox SET rfc_message_id = ?1 WHERE id = ?2", &[&key, &outbox])?;
        audit(c, now, &e.actor, "email.new", Some(conversation), subject)?;
        Ok((conversation, outbox))
    })
}

/// The message a forward carries, as the sender needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ForwardSource {
    pub author: String,
    pub handle: String,
    pub sent_at: i64,
    pub subject: Option<String>,
    pub body: String,
    pub recipients: Vec<String>,
    /// folder, UID, UIDVALIDITY
    pub imap: Option<(String, u32, Option<u32>)>,
    /// name, mime, remote_ref, size
    pub attachments: Vec<(String, String, String, i64)>,
}

/// Queues a forward of one stored email (with its attachments) to `to`.
/// Returns (conversation, outbox).
pub fn queue_forward(
    db: &mut impl Transact,
    message: i64,
    to: Vec<String>,
    body: String,
    actor: &str,
    now: i64,
) -> Result<(i64, i64)> {
    db.write(|c| {
        let (conversation, subject, kind): (i64, Option<String>, String) = c
            .opt(
                "SELECT m.conversation_id, coalesce(m.subject, cv.subject, cv.title), ch.kind
                 FROM messages m JOIN conversations cv ON cv.id = m.conversation_id
                 JOIN channels ch ON ch.id = m.channel_id WHERE m.id = ?1",
                &[&message],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .ok_or_else(|| StoreError::Invalid(format!("no message {message}")))?;
        if kind != "email" {
            return Err(super::Refused::ForwardIsForEmail.into());
        }
        let reply = Reply {
            conversation_id: conversation,
            reply_to_message_id: None,
            subject: Some(crate::workflow::replies::forward_subject(subject.as_deref())),
            body,
            actor: actor.to_string(),
            not_before: now,
            auto: false,
            attachments: Vec::new(),
        };
        let extra = EmailExtra { to, forward_of: Some(message) };
        Ok((conversation, queue_email_in(c, &reply, &extra, now)?))
    })
}

pub fn forward_source(c: &(impl WithConn + ?Sized), message: i64) -> Result<Option<ForwardSource>> {
    c.with_conn(|c| {
        let found = c.opt(
            "SELECT m.author, coalesce(i.handle, m.author), m.sent_at, m.subject, m.body, m.recipients,
                    m.imap_folder, m.imap_uid, m.imap_validity
             FROM messages m LEFT JOIN identities i ON i.id = m.author_identity_id WHERE m.id = ?1",
            &[&message],
            |r| {
                let folder: Option<String> = r.get(6)?;
                let uid: Option<u32> = r.get(7)?;
                Ok(ForwardSource {
                    author: r.get(0)?,
                    handle: r.get(1)?,
                    sent_at: r.get(2)?,
                    subject: r.get(3)?,
                    body: r.get(4)?,
                    recipients: json_strings(r, 5)?,
                    imap: folder.zip(uid).map(|(f, u)| (f, u, r.get::<Option<u32>>(8).ok().flatten())),
                    attachments: Vec::new(),
                })
            },
        )?;
        let Some(mut src) = found else { return Ok(None) };
        src.attachments = c.all(
            // 0: the size is not known (the fetch then does not compare it).
            "SELECT name, mime, remote_ref, coalesce(size, 0) FROM attachments
             WHERE message_id = ?1 AND remote_ref IS NOT NULL ORDER BY ordinal",
            &[&message],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        Ok(Some(src))
    })
}

/// A MIME type from a file name, for the common documents of the trade.
pub fn mime_for(name: &str) -> &'static str {
    match name.rsplit('.').next().map(str::to_ascii_lowercase).as_deref() {
        Some("pdf") => "application/pdf",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("png") => "image/png",
        Some("xlsx") => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        Some("docx") => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        Some("xls") => "application/vnd.ms-excel",
        Some("doc") => "application/msword",
        Some("txt") => "text/plain",
        Some("csv") => "text/csv",
        Some("xml") => "application/xml",
        Some("zip") => "application/zip",
        _ => "application/octet-stream",
    }
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").chars().take(120).collect()
}

/// Remembers that `actor` has read the conversation up to its newest message.
pub fn mark_read(db: &mut impl Transact, actor: &str, conversation: i64, now: i64) -> Result<bool> {
    db.write(|c| {
        let changed = c.exec(
            "INSERT INTO read_marks (actor, conversation_id, message_id)
             SELECT ?1, id, last_inbound_id FROM conversations WHERE id = ?2
             ON CONFLICT (actor, conversation_id) DO UPDATE SET message_id = excluded.message_id
             WHERE excluded.message_id > read_marks.message_id",
            &[&actor, &conversation],
        )?;
        if changed > 0 {
            note_change(c, now, ChangeKind::Read, Some(conversation), Some(actor))?;
        }
        // Email read in pult is read on the server too (\Seen, pushed by the worker).
        c.exec(
            &format!(
                "UPDATE messages SET {OWE_FLAG}
                 WHERE conversation_id = ?1 AND direction = 'in' AND seen = 0 AND imap_uid IS NOT NULL
                   AND {NOT_OWED_YET}"
            ),
            &[&conversation, &"\\Seen"],
        )?;
        Ok(changed > 0)
    })
}

/// Adds the flag bound as ?2 to the flags a message owes the server (the
/// email worker pushes them).
const OWE_FLAG: &str = "flag_push = trim(coalesce(flag_push, '') || ' ' || ?2)";

/// The flag bound as ?2 is not owed already: `replace` rather than SQLite's
/// `instr` or PostgreSQL's `position`, which the other engine lacks.
const NOT_OWED_YET: &str = "replace(coalesce(flag_push, ''), ?2, '') = coalesce(flag_push, '')";

pub fn set_status(db: &mut impl Transact, actor: &str, conversation: i64, open: bool, now: i64) -> Result<()> {
    db.write(|c| {
        let status = if open { "open" } else { "closed" };
        c.exec("UPDATE conversations SET status = ?1 WHERE id = ?2", &[&status, &conversation])?;
        note_change(c, now, ChangeKind::Status, Some(conversation), Some(actor))?;
        audit(c, now, actor, if open { "reopen" } else { "close" }, Some(conversation), "")
    })
}

/// A person's word on a sender, remembered for their mail to come and applied
/// to what is here: `client` — their mail always waits for an answer (a
/// client writing from a list-like or no-reply address); `never` — it never
/// does (a robot nobody answers). Audited. Returns the sender's handle.
pub fn set_sender_rule(
    db: &mut impl Transact,
    conversation: i64,
    client: bool,
    actor: &str,
    now: i64,
) -> Result<String> {
    db.write(|c| {
        let found: Option<(String, i64, String)> = c.opt(
            "SELECT ch.kind, m.author_identity_id, i.handle FROM messages m
             JOIN channels ch ON ch.id = m.channel_id JOIN identities i ON i.id = m.author_identity_id
             WHERE m.conversation_id = ?1 AND m.direction = 'in' ORDER BY m.sent_at DESC, m.id DESC LIMIT 1",
            &[&conversation],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        let Some((kind, identity, handle)) = found else {
            return Err(super::Refused::NoClientMessage.into());
        };
        let rule = if client { "client" } else { "never" };
        c.exec(
            "INSERT INTO sender_rules (kind, handle, rule, actor, at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (kind, handle) DO UPDATE SET rule = excluded.rule, actor = excluded.actor, at = excluded.at",
            &[&kind, &handle, &rule, &actor, &now],
        )?;
        let touched: Vec<i64> = c.all(
            "SELECT DISTINCT conversation_id FROM messages WHERE author_identity_id = ?1 AND direction = 'in'
             ORDER BY conversation_id",
            &[&identity],
            |r| r.get(0),
        )?;
        if client {
            c.exec(
                "UPDATE messages SET quiet = NULL, closing = 0
                 WHERE author_identity_id = ?1 AND direction = 'in' AND quiet IN ('list', 'auto', 'noreply', 'sender')",
                &[&identity],
            )?;
        } else {
            c.exec(
                "UPDATE messages SET quiet = 'sender', closing = 1
                 WHERE author_identity_id = ?1 AND direction = 'in' AND quiet IS NULL",
                &[&identity],
            )?;
        }
        for &t in &touched {
            refresh_conversation(c, t)?;
            if client {
                // A client waiting is back in the queue.
                c.exec("UPDATE conversations SET status = 'open' WHERE id = ?1 AND waiting_since IS NOT NULL", &[&t])?;
            }
            note_change(c, now, ChangeKind::Messages, Some(t), Some(actor))?;
        }
        audit(c, now, actor, if client { "sender.client" } else { "sender.never" }, Some(conversation), &handle)?;
        Ok(handle)
    })
}

/// What a batch close did: its number (for the undo), the conversations it
/// closed, and those it left open because they hold an open promise.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct BatchClose {
    pub batch: i64,
    pub closed: Vec<i64>,
    pub kept_for_promises: Vec<i64>,
}

/// Closes many conversations at once, in one transaction: one audit entry
/// each, all under one batch number that [`reopen_batch`] undoes. A
/// conversation with an open promise is left open unless `with_promises`.
pub fn close_many(
    db: &mut impl Transact,
    actor: &str,
    conversations: &[i64],
    with_promises: bool,
    now: i64,
) -> Result<BatchClose> {
    db.write(|c| {
        let batch: i64 = c.one("SELECT coalesce(max(id), 0) + 1 FROM audit", &[], |r| r.get(0))?;
        let mut out = BatchClose { batch, ..Default::default() };
        for &conv in conversations {
            // Flags read as 0/1 on both engines (PostgreSQL's booleans arrive as 0/1 too).
            let found: Option<(bool, bool)> = c.opt(
                "SELECT CASE WHEN status = 'open' THEN 1 ELSE 0 END,
                        EXISTS (SELECT 1 FROM tasks WHERE conversation_id = ?1 AND state = 'accepted')
                 FROM conversations WHERE id = ?1",
                &[&conv],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let Some((true, promised)) = found else { continue };
            if promised && !with_promises {
                out.kept_for_promises.push(conv);
                continue;
            }
            c.exec("UPDATE conversations SET status = 'closed' WHERE id = ?1", &[&conv])?;
            note_change(c, now, ChangeKind::Status, Some(conv), Some(actor))?;
            audit(c, now, actor, "close", Some(conv), &format!("batch {batch}"))?;
            out.closed.push(conv);
        }
        Ok(out)
    })
}

/// Undoes a batch close: every conversation it closed that is still closed
/// opens again (one audit entry each). Returns them.
pub fn reopen_batch(db: &mut impl Transact, actor: &str, batch: i64, now: i64) -> Result<Vec<i64>> {
    db.write(|c| {
        let closed: Vec<i64> = c.all(
            "SELECT a.conversation_id FROM audit a JOIN conversations c ON c.id = a.conversation_id
             WHERE a.action = 'close' AND a.detail = ?1 AND c.status = 'closed' ORDER BY a.id",
            &[&format!("batch {batch}")],
            |r| r.get(0),
        )?;
        if closed.is_empty() {
            return Err(StoreError::Invalid(format!("no batch {batch} of closed conversations to undo")));
        }
        for &conv in &closed {
            c.exec("UPDATE conversations SET status = 'open' WHERE id = ?1", &[&conv])?;
            note_change(c, now, ChangeKind::Status, Some(conv), Some(actor))?;
            audit(c, now, actor, "reopen", Some(conv), &format!("undo batch {batch}"))?;
        }
        Ok(closed)
    })
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub id: i64,
    pub conversation_id: i64,
    pub message_id: i64,
    pub channel_id: i64,
    /// The conversation's key on its channel (chat id, email thread root).
    pub conversation_key: String,
    pub attachments: Vec<crate::model::OutgoingFile>,
    /// Email: the answered message's sender and To/Cc (JSON array), for reply-all.
    pub reply_from: Option<String>,
    pub reply_recipients: Vec<String>,
    /// The answered mail's Cc (a subset of `reply_recipients`): reply-all keeps them in Cc.
    pub reply_cc: Vec<String>,
    /// The Message-ID fixed for this send before anything leaves (email).
    pub rfc_message_id: Option<String>,
    /// The answered message (author, time, text), for quoting it below an email reply.
    pub reply_quote: Option<(String, i64, String)>,
    pub reply_to_remote: Option<String>,
    pub subject: Option<String>,
    pub body: String,
    pub attempts: i64,
    /// Email that is not a reply-all: its own recipients (a new mail, a forward).
    pub to: Vec<String>,
    /// The message a forward carries.
    pub forward_of: Option<i64>,
    /// Email: the Message-IDs of the thread up to the answered mail, oldest
    /// first, ours included: the References chain.
    pub references: Vec<String>,
    /// A provider-approved template to send instead of free text (WhatsApp
    /// outside its 24 hours): JSON `{"name", "language", "params"}`.
    pub template: Option<String>,
    /// The channel's kind, for its rules at the last moment.
    pub kind: crate::model::ChannelKind,
    /// When the client last wrote in the conversation (reply windows).
    pub last_inbound_at: Option<i64>,
    /// The business connection the chat is seen through, as last told (Telegram Business).
    pub connection: Option<crate::model::Connection>,
}

/// A column holding a JSON array of strings (addresses, file paths); NULL or
/// unreadable is an empty list.
fn json_strings(row: &Row, column: usize) -> Result<Vec<String>> {
    Ok(row.get::<Option<String>>(column)?.and_then(|j| serde_json::from_str(&j).ok()).unwrap_or_default())
}

/// Takes the next due outbox row of a channel, marking it `sending`.
pub fn take_due(db: &mut impl Transact, channel_id: i64, now: i64) -> Result<Option<OutboxItem>> {
    db.write(|c| take(c, channel_id, now, false))
}

/// The next row of a channel that the server accepted before its sender died
/// (`sending` with `handed_over_at`): recovery only records and files it.
pub fn take_handed_over(db: &mut impl Transact, channel_id: i64, now: i64) -> Result<Option<OutboxItem>> {
    db.write(|c| take(c, channel_id, now, true))
}

/// The next row with all a sender needs; a due one is marked `sending` in
/// the same transaction, so no other sender takes it.
fn take(c: &dyn Conn, channel_id: i64, now: i64, handed_over: bool) -> Result<Option<OutboxItem>> {
    let Some(mut item) = next_row(c, channel_id, now, handed_over)? else { return Ok(None) };
    if let Some((id, _)) = crate::model::business_key(&item.conversation_key) {
        item.connection = super::channel_state::connections_of(c, channel_id)?.into_iter().find(|b| b.id == id);
    }
    if item.reply_to_remote.is_some() {
        item.references = references(c, &item)?;
    }
    stored_files(c, &mut item)?;
    if !handed_over {
        mark_sending(c, &item, now)?;
    }
    Ok(Some(item))
}

/// The channel's next row: due and pending, or handed over before a crash.
fn next_row(c: &dyn Conn, channel_id: i64, now: i64, handed_over: bool) -> Result<Option<OutboxItem>> {
    // Only the due rows' condition has a time in it: each engine refuses a
    // parameter the statement does not use.
    let bound: [&dyn ToValue; 2] = [&channel_id, &now];
    let (which, params) = if handed_over {
        ("o.state = 'sending' AND o.handed_over_at IS NOT NULL", &bound[..1])
    } else {
        ("o.state = 'pending' AND o.not_before <= ?2", &bound[..])
    };
    c.opt(
        &format!(
            "SELECT o.id, o.conversation_id, o.message_id, c.channel_id, coalesce(r.rfc_message_id, r.remote_id), o.subject, o.body, o.attempts,
                    c.remote_key, o.attachments, ri.handle, r.recipients, o.rfc_message_id,
                    r.author, r.sent_at, r.body, o.to_addresses, o.forward_of, r.cc, o.template, ch.kind,
                    (SELECT max(sent_at) FROM messages WHERE conversation_id = o.conversation_id AND direction = 'in')
             FROM outbox o JOIN conversations c ON c.id = o.conversation_id JOIN channels ch ON ch.id = c.channel_id
             LEFT JOIN messages r ON r.id = o.reply_to_message_id
             LEFT JOIN identities ri ON ri.id = r.author_identity_id
             WHERE {which} AND c.channel_id = ?1
             ORDER BY o.not_before, o.id LIMIT 1"
        ),
        params,
        outbox_item,
    )
}

/// One row of [`next_row`]'s statement.
fn outbox_item(row: &Row) -> Result<OutboxItem> {
    Ok(OutboxItem {
        id: row.get(0)?,
        conversation_id: row.get(1)?,
        message_id: row.get(2)?,
        channel_id: row.get(3)?,
        reply_to_remote: row.get(4)?,
        subject: row.get(5)?,
        body: row.get(6)?,
        attempts: row.get(7)?,
        conversation_key: row.get(8)?,
        attachments: json_strings(row, 9)?.into_iter().map(file_at_path).collect(),
        reply_from: row.get(10)?,
        reply_recipients: json_strings(row, 11)?,
        rfc_message_id: row.get(12)?,
        reply_quote: match (row.get::<Option<String>>(13)?, row.get::<Option<i64>>(14)?, row.get::<Option<String>>(15)?)
        {
            (Some(a), Some(t), Some(b)) => Some((a, t, b)),
            _ => None,
        },
        to: json_strings(row, 16)?,
        forward_of: row.get(17)?,
        reply_cc: json_strings(row, 18)?,
        references: Vec::new(),
        template: row.get(19)?,
        kind: crate::model::ChannelKind::parse(&row.get::<String>(20)?).unwrap_or(crate::model::ChannelKind::Email),
        last_inbound_at: row.get(21)?,
        connection: None,
    })
}

/// A file named by its path when queued (rows from before the store kept the bytes).
fn file_at_path(p: String) -> crate::model::OutgoingFile {
    let path = std::path::PathBuf::from(p);
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::model::OutgoingFile { mime: mime_for(&name).into(), name, bytes: crate::model::FileBytes::AtPath(path) }
}

/// The References chain of a reply: the newest 20 of the thread up to the
/// answered mail, then the root first (RFC 5322 §3.6.4 lets a long list be
/// trimmed in the middle).
fn references(c: &dyn Conn, item: &OutboxItem) -> Result<Vec<String>> {
    let mut refs: Vec<String> = c.all(
        "SELECT rfc_message_id FROM messages
         WHERE conversation_id = ?1 AND rfc_message_id IS NOT NULL AND id != ?2
           AND sent_at <= coalesce((SELECT sent_at FROM messages WHERE id =
                                   (SELECT reply_to_message_id FROM outbox WHERE id = ?3)), sent_at)
         ORDER BY sent_at DESC, id DESC LIMIT 20",
        &[&item.conversation_id, &item.message_id, &item.id],
        |r| r.get(0),
    )?;
    refs.reverse();
    Ok(refs)
}

/// The row and its message are `sending`: taken by this sender, once.
fn mark_sending(c: &dyn Conn, item: &OutboxItem, now: i64) -> Result<()> {
    // Only from pending: a row another process took or a person undid in
    // between is not sent (at most once does not lean on the write lock alone).
    let moved = c.exec(
        "UPDATE outbox SET state = 'sending', attempts = attempts + 1, updated_at = ?1
         WHERE id = ?2 AND state = 'pending'",
        &[&now, &item.id],
    )?;
    if moved != 1 {
        return Err(StoreError::Invalid(format!("outbox row {} is no longer pending", item.id)));
    }
    c.exec("UPDATE messages SET delivery = 'sending' WHERE id = ?1", &[&item.message_id])?;
    note_change(c, now, ChangeKind::Outbox, Some(item.conversation_id), None)
}

/// The bytes of a row's files as the store holds them (copied when queued);
/// only rows queued before the store kept them are left to their paths.
fn stored_files(c: &dyn Conn, item: &mut OutboxItem) -> Result<()> {
    let held: Vec<(i64, String)> = c.all(
        "SELECT ordinal, content_hash FROM attachments WHERE message_id = ?1 AND content_hash IS NOT NULL",
        &[&item.message_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    for (ordinal, sha) in held {
        if let Some(file) = usize::try_from(ordinal).ok().and_then(|o| item.attachments.get_mut(o))
            && let Some(bytes) = super::originals::blob_in(c, &sha, None)?
        {
            file.bytes = crate::model::FileBytes::Stored(bytes);
        }
    }
    Ok(())
}

/// Fixes the Message-ID of an outbox row the first time it is about to leave,
/// and returns the one it has (an earlier attempt's, if any).
pub fn fix_message_id(db: &mut impl Transact, outbox: i64, id: &str) -> Result<String> {
    db.write(|c| {
        c.exec("UPDATE outbox SET rfc_message_id = ?1 WHERE id = ?2 AND rfc_message_id IS NULL", &[&id, &outbox])?;
        c.one("SELECT rfc_message_id FROM outbox WHERE id = ?1", &[&outbox], |r| r.get(0))
    })
}

/// The mail an outbox row answered owes the server an \Answered flag (the
/// email worker pushes it).
pub fn owe_answered_flag(db: &mut impl Transact, outbox: i64) -> Result<()> {
    db.write(|c| {
        c.exec(
            &format!(
                "UPDATE messages SET {OWE_FLAG}
                 WHERE id = (SELECT reply_to_message_id FROM outbox WHERE id = ?1) AND imap_uid IS NOT NULL
                   AND {NOT_OWED_YET}"
            ),
            &[&outbox, &"\\Answered"],
        )?;
        Ok(())
    })
}

/// Records the remote id and the sent state, in one transaction.
pub fn mark_sent(db: &mut impl Transact, outbox_id: i64, remote_id: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let (conversation, message): (i64, i64) =
            c.one("SELECT conversation_id, message_id FROM outbox WHERE id = ?1", &[&outbox_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        c.exec(
            "UPDATE outbox SET state = 'sent', remote_id = ?1, error = NULL, updated_at = ?2 WHERE id = ?3",
            &[&remote_id, &now, &outbox_id],
        )?;
        // An email's remote id is the Message-ID we generated; once its copy in Sent
        // has been synced, the row is keyed by that copy's IMAP place, which stays.
        c.exec(
            "UPDATE messages SET delivery = 'sent', error = NULL,
                    remote_id = CASE WHEN imap_uid IS NULL THEN ?1 ELSE remote_id END,
                    rfc_message_id = coalesce(rfc_message_id, (SELECT rfc_message_id FROM outbox WHERE id = ?3))
             WHERE id = ?2",
            &[&remote_id, &message, &outbox_id],
        )?;
        note_change(c, now, ChangeKind::Outbox, Some(conversation), None)?;
        // A receipt that came before this record of the send applies now.
        let channel: i64 = c.one("SELECT channel_id FROM messages WHERE id = ?1", &[&message], |r| r.get(0))?;
        super::events::settle(c, channel, remote_id, now)
    })
}

/// A send that failed for good: the reason is shown in the thread, and the
/// client counts as waiting again.
pub fn mark_failed(db: &mut impl Transact, outbox_id: i64, reason: &str, now: i64) -> Result<()> {
    db.write(|c| fail_row(c, outbox_id, reason, now))
}

/// An outbox row failed, at send time or later (a delivery report, a bounce):
/// its message shows why, the row waits for a person (`pult outbox`, `E`),
/// the promise it made is withdrawn and the one it reported done reopens.
pub(super) fn fail_row(c: &(impl WithConn + ?Sized), outbox_id: i64, reason: &str, now: i64) -> Result<()> {
    c.with_conn(|c| {
        let (conversation, message): (i64, i64) =
            c.one("SELECT conversation_id, message_id FROM outbox WHERE id = ?1", &[&outbox_id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        c.exec(
            "UPDATE outbox SET state = 'failed', error = ?1, updated_at = ?2 WHERE id = ?3",
            &[&reason, &now, &outbox_id],
        )?;
        c.exec("UPDATE messages SET delivery = 'failed', error = ?1 WHERE id = ?2", &[&reason, &message])?;
        // The client heard nothing: the promise this message made is withdrawn,
        // the one it reported done is open again.
        c.exec(
            "UPDATE tasks SET state = 'cancelled', done_at = ?1, withdrawn = ?2
             WHERE outbox_id = ?3 AND state = 'accepted'",
            &[&now, &reason, &outbox_id],
        )?;
        c.exec(
            "UPDATE tasks SET state = 'accepted', done_at = NULL WHERE done_outbox_id = ?1 AND state = 'done'",
            &[&outbox_id],
        )?;
        refresh_conversation(c, conversation)?;
        note_change(c, now, ChangeKind::Outbox, Some(conversation), None)
    })
}

/// The send's fate cannot be known (the connection broke after the request
/// went out): like a crash mid-send, the row waits for a person and is never
/// resent by itself. The client may have it, so the wait is not reopened.
pub fn mark_unknown(db: &mut impl Transact, outbox_id: i64, reason: &str, now: i64) -> Result<()> {
    let reason = format!("{MAYBE_SENT_SHORT}: {reason}");
    db.write(|c| {
        let conversation: i64 =
            c.one("SELECT conversation_id FROM outbox WHERE id = ?1", &[&outbox_id], |r| r.get(0))?;
        c.exec(
            "UPDATE outbox SET state = 'unknown', error = ?1, updated_at = ?2 WHERE id = ?3",
            &[&reason, &now, &outbox_id],
        )?;
        c.exec(
            "UPDATE messages SET delivery = 'unknown', error = ?1
             WHERE id = (SELECT message_id FROM outbox WHERE id = ?2)",
            &[&reason, &outbox_id],
        )?;
        refresh_conversation(c, conversation)?;
        note_change(c, now, ChangeKind::Outbox, Some(conversation), None)
    })
}

/// The client's newest closing message («Спасибо, получили») needs an answer
/// after all: it counts as waiting, and the conversation is open. False when
/// there is none.
pub fn count_waiting(db: &mut impl Transact, conversation: i64, now: i64) -> Result<bool> {
    db.write(|c| {
        let changed = c.exec(
            "UPDATE messages SET closing = 0, quiet = NULL WHERE id = (SELECT max(id) FROM messages
                 WHERE conversation_id = ?1 AND direction = 'in' AND closing = 1)",
            &[&conversation],
        )?;
        if changed > 0 {
            c.exec("UPDATE conversations SET status = 'open', snoozed_until = NULL WHERE id = ?1", &[&conversation])?;
            refresh_conversation(c, conversation)?;
            note_change(c, now, ChangeKind::Messages, Some(conversation), None)?;
        }
        Ok(changed > 0)
    })
}

/// Puts a row back to pending (a temporary failure), to be tried after `retry_at`.
pub fn retry_later(db: &mut impl Transact, outbox_id: i64, reason: &str, retry_at: i64, now: i64) -> Result<()> {
    db.write(|c| {
        c.exec(
            "UPDATE outbox SET state = 'pending', error = ?1, not_before = ?2, updated_at = ?3 WHERE id = ?4",
            &[&reason, &retry_at, &now, &outbox_id],
        )?;
        c.exec(
            "UPDATE messages SET delivery = 'pending' WHERE id = (SELECT message_id FROM outbox WHERE id = ?1)",
            &[&outbox_id],
        )?;
        Ok(())
    })
}

/// The server accepted the message (SMTP 250): committed at once, before the
/// copy is filed in Sent, so that a crash from here on is recovered by filing
/// it, never by sending it again.
/// With it, who the mail went to (To and Cc), shown under our message.
/// `answer`: what the server said on taking it (SMTP's final `250` reply).
pub fn mark_handed_over(
    db: &mut impl Transact,
    outbox_id: i64,
    to: &[String],
    cc: &[String],
    answer: Option<&str>,
    now: i64,
) -> Result<()> {
    let all: Vec<&String> = to.iter().chain(cc).collect();
    let recipients = serde_json::to_string(&all).ok();
    let cc = if cc.is_empty() { None } else { serde_json::to_string(cc).ok() };
    db.write(|c| {
        c.exec(
            "UPDATE outbox SET handed_over_at = ?1, updated_at = ?1, server_answer = coalesce(?3, server_answer)
             WHERE id = ?2",
            &[&now, &outbox_id, &answer],
        )?;
        c.exec(
            "UPDATE messages SET recipients = ?1, cc = ?2 WHERE id = (SELECT message_id FROM outbox WHERE id = ?3)",
            &[&recipients, &cc, &outbox_id],
        )?;
        Ok(())
    })
}

/// The start of every `unknown` reason.
pub const MAYBE_SENT_SHORT: &str = "may have been sent";

/// Why a row is `unknown`, shown in the thread and by `pult outbox`.
pub const MAYBE_SENT: &str =
    "may have been sent: pult stopped while sending it; check with the client, then retry or discard";

/// What recovery found in rows left `sending` by a sender that is gone.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Recovered {
    /// Accepted by the server before the crash: to be recorded and filed, not sent.
    pub handed_over: usize,
    /// Maybe sent, maybe not: `unknown`, never resent automatically.
    pub unknown: usize,
}

/// Rows left `sending` by a process that died mid-send. Only the holder of the
/// worker lock calls this (it is then the only sender, so every `sending` row
/// belongs to a sender that is gone). A row the server had accepted stays for
/// [`take_handed_over`]; any other may or may not have left: it becomes
/// `unknown` and waits for a person.
pub fn recover_interrupted(db: &mut impl Transact, now: i64) -> Result<Recovered> {
    db.write(|c| {
        let handed_over: i64 =
            c.one("SELECT count(*) FROM outbox WHERE state = 'sending' AND handed_over_at IS NOT NULL", &[], |r| {
                r.get(0)
            })?;
        let conversations: Vec<i64> = c.all(
            "SELECT DISTINCT conversation_id FROM outbox WHERE state = 'sending' AND handed_over_at IS NULL
             ORDER BY conversation_id",
            &[],
            |r| r.get(0),
        )?;
        c.exec(
            "UPDATE messages SET delivery = 'unknown', error = ?1
             WHERE id IN (SELECT message_id FROM outbox WHERE state = 'sending' AND handed_over_at IS NULL)",
            &[&MAYBE_SENT],
        )?;
        let unknown = c.exec(
            "UPDATE outbox SET state = 'unknown', error = ?1, updated_at = ?2
             WHERE state = 'sending' AND handed_over_at IS NULL",
            &[&MAYBE_SENT, &now],
        )?;
        for conv in conversations {
            refresh_conversation(c, conv)?;
            note_change(c, now, ChangeKind::Outbox, Some(conv), None)?;
        }
        Ok(Recovered { handed_over: handed_over as usize, unknown })
    })
}

/// A person's decision on a message that did not (surely) go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resolution {
    /// Send it again (a failed or maybe-sent message).
    Retry,
    /// Drop it (a failed or maybe-sent message).
    Discard,
    /// It did reach the client (a maybe-sent message).
    ConfirmSent,
}

/// [`resolve`] or [`confirm_sent`] for the newest row of a conversation that
/// waits for that decision (the TUI's keys); `None` when there is none.
pub fn resolve_latest(
    db: &mut impl Transact,
    conversation: i64,
    how: Resolution,
    actor: &str,
    now: i64,
) -> Result<Option<i64>> {
    let states = if how == Resolution::ConfirmSent { "('unknown')" } else { "('failed', 'unknown')" };
    db.write(|c| {
        let row: Option<i64> = c.opt(
            &format!("SELECT id FROM outbox WHERE conversation_id = ?1 AND state IN {states} ORDER BY id DESC LIMIT 1"),
            &[&conversation],
            |r| r.get(0),
        )?;
        let Some(id) = row else { return Ok(None) };
        match how {
            Resolution::Retry => resolve_in(c, id, true, actor, now)?,
            Resolution::Discard => resolve_in(c, id, false, actor, now)?,
            Resolution::ConfirmSent => confirm_sent_in(c, id, actor, now)?,
        };
        Ok(Some(id))
    })
}

/// A person's decision on a failed or `unknown` row: send it again (a new
/// attempt, the same Message-ID) or drop it. Refused for any other state.
pub fn resolve(db: &mut impl Transact, outbox_id: i64, retry: bool, actor: &str, now: i64) -> Result<i64> {
    db.write(|c| resolve_in(c, outbox_id, retry, actor, now))
}

fn resolve_in(c: &dyn Conn, outbox_id: i64, retry: bool, actor: &str, now: i64) -> Result<i64> {
    let found: Option<(i64, Option<i64>, String)> =
        c.opt("SELECT conversation_id, message_id, state FROM outbox WHERE id = ?1", &[&outbox_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let Some((conversation, message, state)) = found else {
        return Err(StoreError::Invalid(format!("no outbox row {outbox_id}")));
    };
    if !matches!(state.as_str(), "failed" | "unknown") {
        return Err(StoreError::Invalid(format!(
            "outbox row {outbox_id} is {state}: only failed or unknown rows can be retried or discarded"
        )));
    }
    let (outbox_state, delivery, action) =
        if retry { ("pending", "pending", "outbox.retry") } else { ("cancelled", "failed", "outbox.discard") };
    c.exec(
        "UPDATE outbox SET state = ?1, not_before = ?2, updated_at = ?2, error = CASE WHEN ?1 = 'pending' THEN NULL ELSE 'discarded' END
         WHERE id = ?3",
        &[&outbox_state, &now, &outbox_id],
    )?;
    c.exec(
        "UPDATE messages SET delivery = ?1, error = CASE WHEN ?1 = 'pending' THEN NULL ELSE 'discarded' END WHERE id = ?2",
        &[&delivery, &message],
    )?;
    // The promise follows its message: back with a retry (never a second one),
    // withdrawn with a discard.
    if retry {
        c.exec(
            "UPDATE tasks SET state = 'accepted', done_at = NULL, withdrawn = NULL
             WHERE outbox_id = ?1 AND state = 'cancelled' AND withdrawn IS NOT NULL",
            &[&outbox_id],
        )?;
        // A «Выполнено» sent again closes its promise again.
        c.exec(
            "UPDATE tasks SET state = 'done', done_at = ?1 WHERE done_outbox_id = ?2 AND state = 'accepted'",
            &[&now, &outbox_id],
        )?;
    } else {
        c.exec(
            "UPDATE tasks SET state = 'cancelled', done_at = ?1, withdrawn = 'discarded' WHERE outbox_id = ?2 AND state = 'accepted'",
            &[&now, &outbox_id],
        )?;
        c.exec("UPDATE tasks SET done_outbox_id = NULL WHERE done_outbox_id = ?1", &[&outbox_id])?;
    }
    refresh_conversation(c, conversation)?;
    note_change(c, now, ChangeKind::Outbox, Some(conversation), Some(actor))?;
    audit(c, now, actor, action, Some(conversation), &format!("outbox {outbox_id} was {state}"))?;
    Ok(conversation)
}

/// A person says a maybe-sent message did reach the client (they saw it in
/// the chat, the client confirmed): the row is `sent`, never sent again.
/// Refused for any row that is not `unknown`.
pub fn confirm_sent(db: &mut impl Transact, outbox_id: i64, actor: &str, now: i64) -> Result<i64> {
    db.write(|c| confirm_sent_in(c, outbox_id, actor, now))
}

fn confirm_sent_in(c: &dyn Conn, outbox_id: i64, actor: &str, now: i64) -> Result<i64> {
    let found: Option<(i64, i64, String, String, i64)> = c.opt(
        "SELECT o.conversation_id, o.message_id, o.state, coalesce(o.remote_id, o.rfc_message_id, ''), m.channel_id
         FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.id = ?1",
        &[&outbox_id],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    )?;
    let Some((conversation, message, state, remote, channel)) = found else {
        return Err(StoreError::Invalid(format!("no outbox row {outbox_id}")));
    };
    if state != "unknown" {
        return Err(StoreError::Invalid(format!(
            "outbox row {outbox_id} is {state}: only a maybe-sent message can be marked sent"
        )));
    }
    c.exec("UPDATE outbox SET state = 'sent', error = NULL, updated_at = ?1 WHERE id = ?2", &[&now, &outbox_id])?;
    c.exec("UPDATE messages SET delivery = 'sent', error = NULL WHERE id = ?1", &[&message])?;
    refresh_conversation(c, conversation)?;
    note_change(c, now, ChangeKind::Outbox, Some(conversation), Some(actor))?;
    audit(c, now, actor, "outbox.confirm_sent", Some(conversation), &format!("outbox {outbox_id} was unknown"))?;
    if !remote.is_empty() {
        super::events::settle(c, channel, &remote, now)?;
    }
    Ok(conversation)
}

/// What the outbox knows of one row: its channel, state and our Message-ID
/// (for looking for it in Sent before sending it again).
pub fn outbox_row(c: &(impl WithConn + ?Sized), outbox_id: i64) -> Result<Option<(i64, String, Option<String>)>> {
    c.with_conn(|c| {
        c.opt(
            "SELECT c.channel_id, o.state, o.rfc_message_id
             FROM outbox o JOIN conversations c ON c.id = o.conversation_id WHERE o.id = ?1",
            &[&outbox_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
    })
}

/// Records a promise (used by the demo and by the accept flow).
pub fn add_task(
    db: &mut impl Transact,
    conversation: i64,
    source_message: Option<i64>,
    actor: &str,
    deadline: i64,
    now: i64,
) -> Result<i64> {
    db.write(|c| {
        let id = c.insert(
            "INSERT INTO tasks (conversation_id, source_message_id, state, accepted_by, deadline, created_at,
                                accepted_at)
             VALUES (?1, ?2, 'accepted', ?3, ?4, ?5, ?5) RETURNING id",
            &[&conversation, &source_message, &actor, &deadline, &now],
        )?;
        note_change(c, now, ChangeKind::Task, Some(conversation), Some(actor))?;
        audit(c, now, actor, "task.accept", Some(conversation), &format!("deadline {deadline}"))?;
        Ok(id)
    })
}
