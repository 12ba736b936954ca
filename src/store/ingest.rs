//! Applying what sync workers bring: idempotent upserts, derived conversation state, cursors.
//! Written once against the store's seam (`store::sql`), so SQLite and
//! PostgreSQL store a batch by the same rules; where SQLite's triggers keep
//! the search index, `Conn::reindex` is called for what is written.

use super::sql::{Conn, Engine, Searchable, Transact, WithConn};
use super::{Db, Result};
use crate::model::ChangeKind;
use crate::model::{ChannelKind, Inbound, SyncEvent};
use std::collections::{HashMap, HashSet};

/// The channel row for a configured account, created on first use.
pub fn ensure_channel(db: &mut Db, name: &str, kind: ChannelKind, now: i64) -> Result<i64> {
    db.write(|c| {
        let found: Option<(i64, String)> =
            c.opt("SELECT id, kind FROM channels WHERE name = ?1", &[&name], |r| Ok((r.get(0)?, r.get(1)?)))?;
        match found {
            Some((id, k)) if k == kind.as_str() => Ok(id),
            Some((_, k)) => Err(super::StoreError::Invalid(format!(
                "channel {name:?} exists as {k}, but the config says {}",
                kind.as_str()
            ))),
            None => {
                c.exec(
                    "INSERT INTO accounts (name, kind, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                    &[&name, &kind.as_str(), &now],
                )?;
                let id = c.insert(
                    "INSERT INTO channels (account_id, name, kind, config_key, created_at)
                     VALUES ((SELECT id FROM accounts WHERE name = ?1), ?1, ?2, ?1, ?3) RETURNING id",
                    &[&name, &kind.as_str(), &now],
                )?;
                c.note_change(now, ChangeKind::Channel.as_str(), None, None)?;
                Ok(id)
            }
        }
    })
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestReport {
    pub inserted: usize,
    pub duplicates: usize,
    pub conversations: Vec<i64>,
}

/// Applies one batch in one transaction, together with the sync cursors it
/// covers (`events::apply` with these as events). Replaying the same batch
/// inserts nothing and changes nothing.
pub fn apply(
    db: &mut Db,
    channel_id: i64,
    batch: &[Inbound],
    cursors: &[(String, String)],
    now: i64,
) -> Result<IngestReport> {
    let events: Vec<SyncEvent> = batch
        .iter()
        .cloned()
        .map(SyncEvent::Message)
        .chain(cursors.iter().map(|(key, value)| SyncEvent::Cursor { key: key.clone(), value: value.clone() }))
        .collect();
    let applied = super::events::apply(db, channel_id, &events, now)?;
    Ok(IngestReport {
        inserted: applied.inserted,
        duplicates: applied.duplicates,
        conversations: applied.conversations,
    })
}

/// JSON of a list of addresses; NULL when there are none.
fn json_list(list: &[String]) -> Option<String> {
    if list.is_empty() { None } else { serde_json::to_string(list).ok() }
}

/// Messages of one batch in the caller's transaction (`events::apply`, and
/// a mail server's report through SQLite's own transaction).
pub(super) fn apply_in(
    c: &(impl WithConn + ?Sized),
    channel_id: i64,
    batch: &[&Inbound],
    now: i64,
) -> Result<IngestReport> {
    c.with_conn(|c| apply_run(c, channel_id, batch, now))
}

fn apply_run(c: &dyn Conn, channel_id: i64, batch: &[&Inbound], now: i64) -> Result<IngestReport> {
    let (kind, history_before): (String, Option<i64>) =
        c.one("SELECT kind, history_before FROM channels WHERE id = ?1", &[&channel_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut conversations: HashMap<&str, i64> = HashMap::new();
    let mut identities: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut touched: HashSet<i64> = HashSet::new();
    // Conversations this run already woke: one UPDATE each, not one per message.
    let mut woken: HashSet<i64> = HashSet::new();
    // Conversations begun in this run that no message was stored in yet.
    let mut empty: HashSet<i64> = HashSet::new();
    // A person's word on a sender, looked up once per sender in a run.
    let mut rules: HashMap<&str, Option<String>> = HashMap::new();
    let mut report = IngestReport::default();
    let keep_raw = batch.iter().any(|m| m.raw.is_some()) && super::originals::keep_raw(c)?;
    // Reports parked for messages still on their way are rare; a run only
    // looks for them per message when the channel has any (nothing in the
    // run parks one).
    let parked = super::events::any_parked(c, channel_id)?;

    for &m in batch {
        let author = if m.outgoing || m.author_handle.is_empty() {
            None
        } else if let Some(found) = identities.get(m.author_handle.as_str()) {
            Some(*found)
        } else {
            let found = identity(c, &kind, &m.author_handle, &m.author_name, now)?;
            if let Some(u) = m.author_username.as_deref().filter(|u| !u.is_empty()) {
                c.exec(
                    "UPDATE identities SET username = ?1 WHERE id = ?2 AND username IS DISTINCT FROM ?1",
                    &[&u, &found.0],
                )?;
            }
            identities.insert(&m.author_handle, found);
            Some(found)
        };
        if let Some(p) = &m.imap
            && let Some(known) = known_mail(c, channel_id, m, p)?
        {
            // A replay, our own mail back from Sent, or a renumbered folder: one row.
            report.duplicates += 1;
            if known.changed {
                touched.insert(known.conversation);
            }
            continue;
        }
        // Mail that needs no answer never waits and never reopens anything; a
        // conversation that only such mail began is not in the queue either.
        let quiet = if m.outgoing {
            None
        } else {
            let rule = match rules.get(m.author_handle.as_str()) {
                Some(rule) => rule.clone(),
                None => {
                    let rule = sender_rule(c, &kind, &m.author_handle)?;
                    rules.insert(&m.author_handle, rule.clone());
                    rule
                }
            };
            quiet_reason(rule.as_deref(), m, history_before)
        };
        // «Спасибо, получили 👍» asks nothing: shown, but the client does not
        // wait for an answer to it, and it does not reopen a closed conversation.
        let closing = quiet.is_some()
            || (!m.outgoing
                && m.attachments.is_empty()
                && m.prepared.as_ref().and_then(|p| p.closing_of(&m.body_text)).unwrap_or_else(|| {
                    crate::workflow::closing::is_closing(&crate::search::authored::authored(&m.body_text))
                }));
        let first = FirstMessage::of(m, quiet, closing);
        let email = m.imap.is_some() || m.message_id.is_some();
        let (conversation, began) = if email {
            email_conversation(c, channel_id, m, author.map(|a| a.1), &first, now)?
        } else {
            match conversations.get(m.conversation_key.as_str()) {
                Some(id) => (*id, false),
                None => {
                    let (id, began) = conversation(c, channel_id, m, author.map(|a| a.1), &first, now)?;
                    conversations.insert(&m.conversation_key, id);
                    (id, began)
                }
            }
        };
        if began {
            empty.insert(conversation);
        }
        if m.edited && edit(c, channel_id, m, now)? {
            touched.insert(conversation);
            report.inserted += 1;
            continue;
        }
        // Email answers a Message-ID (the first mail that carried it); chats a message id.
        let reply_to: Option<i64> = match &m.reply_to_remote {
            Some(r) if email => c.opt(
                "SELECT id FROM messages WHERE channel_id = ?1 AND rfc_message_id = ?2 ORDER BY id LIMIT 1",
                &[&channel_id, r],
                |row| row.get(0),
            )?,
            Some(r) => {
                c.opt("SELECT id FROM messages WHERE channel_id = ?1 AND remote_id = ?2", &[&channel_id, r], |row| {
                    row.get(0)
                })?
            }
            None => None,
        };
        let notice = message_notice(c, channel_id, m)?;
        // One statement per message: where it is and what it needs are known
        // before it is stored (an update after the insert touched its indexes twice).
        let place = m.imap.as_ref();
        // Our forward to a third party (seen in Sent) is not an answer to the client.
        let forward = m.outgoing && crate::workflow::replies::is_forward_subject(m.subject.as_deref());
        // PostgreSQL spends an id on an insert that then conflicts: a replay
        // would leave a gap per message, so it is asked first. SQLite's
        // insert finds the conflict in the same index probe (its hot path).
        if c.engine() == Engine::Postgres && stored(c, channel_id, &m.remote_id)? {
            report.duplicates += 1;
            continue;
        }
        let inserted = c.insert_new(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author_identity_id, author,
                                   sent_at, subject, body, body_html, reply_to_remote, reply_to_message_id,
                                   delivery, parse_error, recipients, cc, forward, rfc_message_id, notice, names,
                                   mime_shape, imap_folder, imap_uid, seen, answered, imap_validity, quiet, closing)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
                     ?22, ?23, coalesce(?24, 0), coalesce(?25, 0), ?26, ?27, ?28)
             ON CONFLICT (channel_id, remote_id) DO NOTHING",
            &[
                &conversation,
                &channel_id,
                &m.remote_id,
                &if m.outgoing { "out" } else { "in" },
                &author.map(|a| a.0),
                &m.author_name,
                &m.sent_at,
                &m.subject,
                &m.body_text,
                &m.body_html,
                &m.reply_to_remote,
                &reply_to,
                &if m.outgoing { "sent" } else { "received" },
                &m.parse_error,
                &json_list(&m.recipients),
                &json_list(&m.cc),
                &forward,
                &m.message_id,
                &notice,
                &names_json(&m.names),
                &m.mime_shape,
                &place.map(|p| p.folder.as_str()),
                &place.map(|p| p.uid),
                &place.map(|p| p.seen),
                &place.map(|p| p.answered),
                &place.map(|p| p.validity),
                &quiet,
                &closing,
            ],
        )?;
        let Some(message_id) = inserted else {
            report.duplicates += 1;
            continue;
        };
        c.reindex(Searchable::Message(message_id))?;
        // The batch indexes the row at its end, from the terms the worker prepared.
        if let Some(p) = &m.prepared
            && super::search_index::pending("messages", message_id)
        {
            super::prepared::register(message_id, p.clone());
        }
        if keep_raw && let Some(raw) = &m.raw {
            super::originals::record(c, message_id, raw)?;
        }
        if let Some(auth) = &m.auth {
            super::mail_auth::record(c, message_id, auth)?;
        }
        // A deletion that overtook the message applies now.
        if parked {
            super::events::settle(c, channel_id, &m.remote_id, now)?;
        }
        for (i, a) in m.attachments.iter().enumerate() {
            let id = c.insert_new(
                "INSERT INTO attachments (message_id, ordinal, name, mime, size, remote_ref, duration)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                &[&message_id, &i, &a.name, &a.mime, &a.size, &a.remote_ref, &a.duration],
            )?;
            if let Some(id) = id {
                c.reindex(Searchable::Attachment(id))?;
            }
        }
        empty.remove(&conversation);
        // A conversation this message began was written as it should be
        // (`FirstMessage`): closed by quiet mail, else open and not snoozed,
        // where waking it would change nothing. The statements below would
        // move it in five indexes to the same place; they write nothing when
        // nothing changes either.
        if began {
            if quiet.is_none() {
                woken.insert(conversation);
            }
        } else if quiet.is_some() {
            // Its first message: no other is there (one index probe; counting
            // them read a whole mailing list's thread for each of its mails).
            c.exec(
                "UPDATE conversations SET status = 'closed'
                 WHERE id = ?1 AND status <> 'closed'
                   AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND id <> ?2)",
                &[&conversation, &message_id],
            )?;
        } else if !closing && !m.outgoing && m.report.is_none() && woken.insert(conversation) {
            // A client writing again wakes a closed or snoozed conversation.
            c.exec(
                "UPDATE conversations SET status = 'open', snoozed_until = NULL
                 WHERE id = ?1 AND (status <> 'open' OR snoozed_until IS NOT NULL)",
                &[&conversation],
            )?;
        }
        report.inserted += 1;
        touched.insert(conversation);
    }

    // One begun for a message that was stored already (or for an edit)
    // holds nothing: it stands as an empty conversation always did, not
    // where the message would have put it.
    for &conv in &empty {
        c.exec(
            "UPDATE conversations SET status = 'open', last_message_at = 0, automatic = 0, waiting_since = NULL
             WHERE id = ?1",
            &[&conv],
        )?;
    }
    let mut touched: Vec<i64> = touched.into_iter().collect();
    touched.sort_unstable();
    for &conv in &touched {
        refresh_conversation(c, conv)?;
        c.note_change(now, ChangeKind::Messages.as_str(), Some(conv), None)?;
    }
    report.conversations = touched;
    Ok(report)
}

/// Is a message with this remote id stored?
fn stored(c: &dyn Conn, channel_id: i64, remote_id: &str) -> Result<bool> {
    let found: Option<i64> =
        c.opt("SELECT 1 FROM messages WHERE channel_id = ?1 AND remote_id = ?2", &[&channel_id, &remote_id], |r| {
            r.get(0)
        })?;
    Ok(found.is_some())
}

/// Why a client's message needs no answer, if it does not: a person's word on
/// the sender first (`client` always waits, `never` never does), then a list
/// or a program, then mail from before the channel's history cut-off.
fn quiet_reason(rule: Option<&str>, m: &Inbound, history_before: Option<i64>) -> Option<&'static str> {
    let history = history_before.is_some_and(|cut| m.sent_at < cut);
    match rule {
        Some("never") => Some("sender"),
        Some(_) => history.then_some("history"),
        None => match m.automatic {
            Some(a) => Some(a.as_str()),
            None => history.then_some("history"),
        },
    }
}

/// A person's word on a sender (`client`, `never`), if any.
fn sender_rule(c: &dyn Conn, kind: &str, handle: &str) -> Result<Option<String>> {
    c.opt("SELECT rule FROM sender_rules WHERE kind = ?1 AND handle = ?2", &[&kind, &handle], |r| r.get(0))
}

/// Display names as a JSON object (address -> name); NULL when there are none.
fn names_json(names: &[(String, String)]) -> Option<String> {
    if names.is_empty() {
        return None;
    }
    let map: serde_json::Map<String, serde_json::Value> =
        names.iter().map(|(a, n)| (a.clone(), serde_json::Value::String(n.clone()))).collect();
    serde_json::to_string(&map).ok()
}

/// A mail from the server that is already stored.
struct KnownMail {
    conversation: i64,
    /// The stored row now points at this place (adopted or renumbered).
    changed: bool,
}

/// Is this mail, at this IMAP place, one pult already has? The same place again
/// (a replay); the Sent copy of our own outgoing mail, matched through our
/// outbox record (the Message-ID we generated), never through the Message-ID
/// alone; or the same mail at another place: after the server renumbered the
/// folder (a new UIDVALIDITY), moved to another folder, or put back after an
/// expunge. "The same" is the same Message-ID, date, author name, text and
/// shape (sender's address and every part, `Inbound::mime_shape`); when two
/// stored mails fit, neither is taken: the mail is stored as new.
fn known_mail(c: &dyn Conn, channel_id: i64, m: &Inbound, p: &crate::model::ImapPlace) -> Result<Option<KnownMail>> {
    // Elsewhere a replay is caught by the insert itself (UNIQUE remote_id).
    if p.sent_folder || p.renumbered {
        let replay: Option<i64> = c.opt(
            "SELECT conversation_id FROM messages WHERE channel_id = ?1 AND remote_id = ?2",
            &[&channel_id, &m.remote_id],
            |r| r.get(0),
        )?;
        if let Some(conversation) = replay {
            return Ok(Some(KnownMail { conversation, changed: false }));
        }
    }
    let Some(rfc_id) = &m.message_id else { return Ok(None) };
    let ours: Option<(i64, i64)> = if p.sent_folder {
        c.opt(
            "SELECT ms.id, ms.conversation_id FROM outbox o JOIN messages ms ON ms.id = o.message_id
             WHERE o.rfc_message_id = ?2 AND ms.channel_id = ?1 AND ms.imap_uid IS NULL",
            &[&channel_id, rfc_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
    } else {
        None
    };
    if ours.is_none() && p.sent_folder {
        // A second copy of our own mail in the same Sent folder, where the
        // first is still listed: filed again after a crash between the APPEND
        // and its record. It is the message we have, not a new one.
        let again: Option<i64> = c.opt(
            "SELECT ms.conversation_id FROM outbox o JOIN messages ms ON ms.id = o.message_id
             WHERE o.rfc_message_id = ?2 AND ms.channel_id = ?1 AND ms.imap_folder = ?3 AND ms.expunged = 0",
            &[&channel_id, rfc_id, &p.folder],
            |r| r.get(0),
        )?;
        if let Some(conversation) = again {
            return Ok(Some(KnownMail { conversation, changed: false }));
        }
    }
    let found = match ours {
        Some(f) => Some(f),
        None => same_mail_elsewhere(c, channel_id, rfc_id, m, p)?,
    };
    let Some((id, conversation)) = found else { return Ok(None) };
    c.exec(
        "UPDATE messages SET remote_id = ?2, imap_folder = ?3, imap_uid = ?4, imap_validity = ?5, seen = ?6,
                             answered = ?7, expunged = 0, rfc_message_id = coalesce(rfc_message_id, ?8),
                             recipients = coalesce(recipients, ?9), cc = coalesce(cc, ?10),
                             names = coalesce(names, ?11), mime_shape = coalesce(mime_shape, ?12)
         WHERE id = ?1",
        &[
            &id,
            &m.remote_id,
            &p.folder,
            &p.uid,
            &p.validity,
            &p.seen,
            &p.answered,
            rfc_id,
            &json_list(&m.recipients),
            &json_list(&m.cc),
            &names_json(&m.names),
            &m.mime_shape,
        ],
    )?;
    // Its recipients may be known only now (our own mail, seen in Sent).
    c.reindex(Searchable::Message(id))?;
    // Our files can now be fetched from the server's copy.
    for (i, a) in m.attachments.iter().enumerate() {
        if let Some(r) = &a.remote_ref {
            c.exec(
                "UPDATE attachments SET remote_ref = ?3, size = ?4
                 WHERE message_id = ?1 AND ordinal = ?2 AND remote_ref IS NULL",
                &[&id, &i, r, &a.size],
            )?;
        }
    }
    thread_keys(c, channel_id, m, conversation, &[])?;
    Ok(Some(KnownMail { conversation, changed: true }))
}

/// The one stored mail that is this mail at another place (see `known_mail`),
/// or none: none fits, or more than one does (a tie is never guessed). Mail
/// stored before shapes were kept is matched on its sender's address instead.
fn same_mail_elsewhere(
    c: &dyn Conn,
    channel_id: i64,
    rfc_id: &str,
    m: &Inbound,
    p: &crate::model::ImapPlace,
) -> Result<Option<(i64, i64)>> {
    let Some(shape) = &m.mime_shape else { return Ok(None) };
    let sender = if m.outgoing { "" } else { m.author_handle.as_str() };
    let sql = if c.engine() == Engine::Sqlite { SAME_MAIL_SQLITE } else { SAME_MAIL_POSTGRES };
    let found: Vec<(i64, i64)> = c.all(
        sql,
        &[
            &channel_id,
            &rfc_id,
            &m.remote_id,
            &p.folder,
            &p.validity,
            &m.sent_at,
            &m.body_text,
            &m.author_name,
            shape,
            &sender,
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    Ok(match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

/// `same_mail_elsewhere`'s query; the two differ only in SQLite's index hint.
macro_rules! same_mail_sql {
    ($hint:literal) => {
        concat!(
            "SELECT ms.id, ms.conversation_id FROM messages ms ",
            $hint,
            "
             WHERE ms.channel_id = ?1 AND ms.rfc_message_id = ?2 AND ms.imap_uid IS NOT NULL AND ms.remote_id != ?3
               AND (ms.imap_folder IS DISTINCT FROM ?4 OR ms.imap_validity IS DISTINCT FROM ?5 OR ms.expunged = 1)
               AND ms.sent_at = ?6 AND ms.body = ?7 AND ms.author = ?8
               AND (ms.mime_shape = ?9
                    OR ms.mime_shape IS NULL
                       AND coalesce((SELECT handle FROM identities WHERE id = ms.author_identity_id), '') = ?10)
             LIMIT 2"
        )
    };
}
const SAME_MAIL_SQLITE: &str = same_mail_sql!("INDEXED BY messages_rfc_id");
const SAME_MAIL_POSTGRES: &str = same_mail_sql!("");

/// The conversation of a mail: the one any of its references (nearest parent
/// first) or its own Message-ID already belongs to, else the one of its thread
/// root key. Every key it carries then points there too.
fn email_conversation(
    c: &dyn Conn,
    channel_id: i64,
    m: &Inbound,
    contact: Option<i64>,
    first: &FirstMessage,
    now: i64,
) -> Result<(i64, bool)> {
    let mut linked: Vec<i64> = Vec::new();
    // Keys already stored for the conversation this mail joins need no insert.
    let mut stored: Vec<(&str, i64)> = Vec::new();
    // Any reference that is already known joins the thread (JWZ); only a few are written (see thread_anchors).
    for key in m.thread_refs.iter().rev().map(String::as_str).chain(m.message_id.as_deref()) {
        let found: Option<i64> = c.opt(
            "SELECT conversation_id FROM thread_keys WHERE channel_id = ?1 AND key = ?2",
            &[&channel_id, &key],
            |r| r.get(0),
        )?;
        if let Some(conv) = found {
            stored.push((key, conv));
            if !linked.contains(&conv) {
                linked.push(conv);
            }
        }
    }
    // This mail links parts of one thread that arrived apart (a reply before
    // its root, a trimmed References list): they become one conversation.
    linked.sort_unstable();
    let found = linked.first().copied();
    if let Some(&into) = linked.first() {
        for &from in &linked[1..] {
            // Worked-on parts stay apart; the mail joins the oldest part.
            merge_conversation(c, from, into, now)?;
        }
    }
    let (id, began) = match found {
        Some(id) => {
            if contact.is_some()
                && c.exec(
                    "UPDATE conversations SET contact_id = ?1 WHERE id = ?2 AND contact_id IS NULL",
                    &[&contact, &id],
                )? > 0
            {
                c.reindex(Searchable::Conversation(id))?;
            }
            (id, false)
        }
        None => conversation(c, channel_id, m, contact, first, now)?,
    };
    let known: Vec<&str> = stored.iter().filter(|(_, k)| *k == id || linked.len() > 1).map(|(k, _)| *k).collect();
    thread_keys(c, channel_id, m, id, &known)?;
    Ok((id, began))
}

/// Moves the mail of conversation `from` into `into` and drops `from`, when
/// nobody has worked on `from` yet (no promise, note or outbox row: those stay
/// where a person put them).
fn merge_conversation(c: &dyn Conn, from: i64, into: i64, now: i64) -> Result<()> {
    let worked_on: bool = c.one(
        "SELECT CASE WHEN EXISTS (SELECT 1 FROM tasks WHERE conversation_id = ?1)
                       OR EXISTS (SELECT 1 FROM notes WHERE conversation_id = ?1)
                       OR EXISTS (SELECT 1 FROM outbox WHERE conversation_id = ?1) THEN 1 ELSE 0 END",
        &[&from],
        |r| r.get(0),
    )?;
    if worked_on {
        return Ok(());
    }
    for sql in [
        "UPDATE messages SET conversation_id = ?2 WHERE conversation_id = ?1",
        "UPDATE thread_keys SET conversation_id = ?2 WHERE conversation_id = ?1",
        "UPDATE assignments SET conversation_id = ?2 WHERE conversation_id = ?1",
        // A person who read both parts keeps the mark they have on `into`.
        "UPDATE read_marks SET conversation_id = ?2 WHERE conversation_id = ?1
             AND NOT EXISTS (SELECT 1 FROM read_marks r WHERE r.actor = read_marks.actor AND r.conversation_id = ?2)",
    ] {
        c.exec(sql, &[&from, &into])?;
    }
    let mut gone = vec![
        "DELETE FROM read_marks WHERE conversation_id = ?1",
        "DELETE FROM claims WHERE conversation_id = ?1",
        "DELETE FROM conversations WHERE id = ?1",
    ];
    // SQLite's trigger takes the dropped conversation out of `client:`'s index.
    if c.engine() == Engine::Postgres {
        gone.push("DELETE FROM clients_search WHERE conversation_id = ?1");
    }
    for sql in gone {
        c.exec(sql, &[&from])?;
    }
    refresh_conversation(c, into)?;
    c.note_change(now, ChangeKind::Messages.as_str(), Some(from), None)?;
    Ok(())
}

/// The keys a mail writes for its thread: the mail it answers, the thread's
/// root and its own Message-ID. A bounded number per mail (a long References
/// chain writes no more); the middle of a chain is written by its own mails,
/// and parts that meet later are merged.
fn thread_anchors(m: &Inbound) -> impl Iterator<Item = &str> {
    let parent = m.thread_refs.last().map(String::as_str);
    let root = m.thread_refs.first().map(String::as_str).filter(|r| Some(*r) != parent);
    parent.into_iter().chain(root).chain(m.message_id.as_deref())
}

/// Points a mail's anchors and its thread root key at its conversation (those
/// in `known` are there already).
fn thread_keys(c: &dyn Conn, channel_id: i64, m: &Inbound, conversation: i64, known: &[&str]) -> Result<()> {
    let keys = thread_anchors(m).chain(std::iter::once(m.conversation_key.as_str()));
    for key in keys.filter(|k| !known.contains(k)) {
        c.exec(
            "INSERT INTO thread_keys (channel_id, key, conversation_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id, key) DO NOTHING",
            &[&channel_id, &key, &conversation],
        )?;
    }
    Ok(())
}

/// What the reader must know about a new message: how its date was read, and a
/// Message-ID another stored mail already carries (a copy or a spoof: both kept).
fn message_notice(c: &dyn Conn, channel_id: i64, m: &Inbound) -> Result<Option<String>> {
    let clash = match &m.message_id {
        Some(id) => {
            let sql = if c.engine() == Engine::Sqlite { CLASH_SQLITE } else { CLASH_POSTGRES };
            c.opt(sql, &[&channel_id, id], |_| Ok(()))?.is_some()
        }
        None => false,
    };
    let clash = clash.then_some(crate::channels::email::parse::NOTICE_ID_CLASH);
    Ok(match (m.notice.as_deref(), clash) {
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (a, b) => a.or(b).map(str::to_string),
    })
}

const CLASH_SQLITE: &str =
    "SELECT 1 FROM messages INDEXED BY messages_rfc_id WHERE channel_id = ?1 AND rfc_message_id = ?2 LIMIT 1";
const CLASH_POSTGRES: &str = "SELECT 1 FROM messages WHERE channel_id = ?1 AND rfc_message_id = ?2 LIMIT 1";

/// Applies an edit to a known message: the old text goes to `messages_edits`.
/// Returns false when the message is unknown (it is then stored as new).
fn edit(c: &dyn Conn, channel_id: i64, m: &Inbound, now: i64) -> Result<bool> {
    let found: Option<(i64, String)> = c.opt(
        "SELECT id, body FROM messages WHERE channel_id = ?1 AND remote_id = ?2",
        &[&channel_id, &m.remote_id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    let Some((id, old)) = found else { return Ok(false) };
    if old != m.body_text {
        c.exec("INSERT INTO messages_edits (message_id, old_body, edited_at) VALUES (?1, ?2, ?3)", &[&id, &old, &now])?;
        c.exec("UPDATE messages SET body = ?1, edited = 1 WHERE id = ?2", &[&m.body_text, &id])?;
        c.reindex(Searchable::Message(id))?;
    }
    Ok(true)
}

/// Finds the identity for a handle, creating it (and a contact for it) on first sight.
pub(super) fn identity(
    c: &(impl WithConn + ?Sized),
    kind: &str,
    handle: &str,
    name: &str,
    now: i64,
) -> Result<(i64, i64)> {
    c.with_conn(|c| {
        let found: Option<(i64, i64, Option<String>)> = c.opt(
            "SELECT id, contact_id, display_name FROM identities WHERE kind = ?1 AND handle = ?2",
            &[&kind, &handle],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        if let Some((id, contact, display)) = found {
            if !name.is_empty() && display.as_deref() != Some(name) {
                c.exec("UPDATE identities SET display_name = ?1 WHERE id = ?2", &[&name, &id])?;
            }
            return Ok((id, contact));
        }
        let shown = if name.is_empty() { handle } else { name };
        // Provisional until a person names, merges or hands it over.
        let contact =
            c.insert_one("INSERT INTO contacts (name, created_at, provisional) VALUES (?1, ?2, 1)", &[&shown, &now])?;
        let id = c.insert_one(
            "INSERT INTO identities (contact_id, kind, handle, display_name) VALUES (?1, ?2, ?3, ?4)",
            &[&contact, &kind, &handle, &name],
        )?;
        Ok((id, contact))
    })
}

/// What a conversation that a message begins is at once. Written with the
/// conversation's row, so that the summary refreshed at the end of the run
/// (`refresh_conversation`) and the quiet-close find it in place, instead of
/// moving it in every list index from where an empty conversation stands.
/// Only a first guess: the refresh writes whatever the messages say.
struct FirstMessage {
    status: &'static str,
    last_message_at: i64,
    automatic: bool,
    waiting_since: Option<i64>,
}

impl FirstMessage {
    fn of(m: &Inbound, quiet: Option<&str>, closing: bool) -> FirstMessage {
        let inbound = !m.outgoing;
        FirstMessage {
            // Mail that needs no answer does not open what it begins.
            status: if quiet.is_some() { "closed" } else { "open" },
            last_message_at: m.sent_at,
            automatic: inbound && matches!(quiet, Some("list" | "auto" | "noreply" | "sender")),
            waiting_since: (inbound && !closing && m.report.is_none() && m.sent_at > 0).then_some(m.sent_at),
        }
    }
}

/// The conversation `m` belongs to by its key, and whether `m` began it.
fn conversation(
    c: &dyn Conn,
    channel_id: i64,
    m: &Inbound,
    contact: Option<i64>,
    first: &FirstMessage,
    now: i64,
) -> Result<(i64, bool)> {
    let found: Option<(i64, Option<i64>, String)> = c.opt(
        "SELECT id, contact_id, title FROM conversations WHERE channel_id = ?1 AND remote_key = ?2",
        &[&channel_id, &m.conversation_key],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    match found {
        Some((id, existing_contact, title)) => {
            let mut changed = false;
            if existing_contact.is_none() && contact.is_some() {
                c.exec("UPDATE conversations SET contact_id = ?1 WHERE id = ?2", &[&contact, &id])?;
                changed = true;
            }
            // Chat titles change; email threads keep their first subject.
            if m.is_group && !m.conversation_title.is_empty() && m.conversation_title != title {
                c.exec("UPDATE conversations SET title = ?1 WHERE id = ?2", &[&m.conversation_title, &id])?;
                changed = true;
            }
            if changed {
                c.reindex(Searchable::Conversation(id))?;
            }
            Ok((id, false))
        }
        None => {
            let assignee: Option<String> = match contact {
                Some(k) => c.opt("SELECT default_assignee FROM contacts WHERE id = ?1", &[&k], |r| r.get(0))?.flatten(),
                None => None,
            };
            let id = c.insert_one(
                "INSERT INTO conversations (channel_id, remote_key, title, subject, contact_id, is_group, created_at, assignee,
                                            status, last_message_at, automatic, waiting_since)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                &[
                    &channel_id,
                    &m.conversation_key,
                    &m.conversation_title,
                    &m.subject,
                    &contact,
                    &m.is_group,
                    &now,
                    &assignee,
                    &first.status,
                    &first.last_message_at,
                    &first.automatic,
                    &first.waiting_since,
                ],
            )?;
            c.reindex(Searchable::Conversation(id))?;
            Ok((id, true))
        }
    }
}

/// What lists show of a conversation, as stored or as its messages say.
#[derive(Debug, PartialEq)]
struct Summary {
    last_message_id: Option<i64>,
    last_message_at: i64,
    preview: String,
    last_inbound_id: i64,
    automatic: bool,
    waiting_since: Option<i64>,
}

impl Summary {
    fn read(r: &super::sql::Row, at: usize) -> Result<Summary> {
        Ok(Summary {
            last_message_id: r.get(at)?,
            last_message_at: r.get(at + 1)?,
            preview: r.get(at + 2)?,
            last_inbound_id: r.get(at + 3)?,
            automatic: r.get(at + 4)?,
            waiting_since: r.get(at + 5)?,
        })
    }

    /// Whether going from `self` to `to` changes a column that the
    /// conversations' list indexes hold (the time, waiting, list mail).
    fn moves_in_lists(&self, to: &Summary) -> bool {
        self.last_message_at != to.last_message_at
            || self.automatic != to.automatic
            || self.waiting_since != to.waiting_since
    }
}

/// Recomputes what lists show for a conversation from its messages, so that
/// out-of-order arrival (initial sync runs newest first) cannot leave it wrong.
///
/// Read first, then written only where it changed: an UPDATE rewrites the
/// entries of every index on a column it sets, changed or not, and seven
/// indexes hold these columns. A conversation that began with the mail just
/// stored (see [`FirstMessage`]) or that older mail joined usually keeps its
/// place in every list; then only the last message, the preview and the last
/// inbound id are written (one index).
pub(super) fn refresh_conversation(c: &(impl WithConn + ?Sized), conversation: i64) -> Result<()> {
    // Flags as CASE … 1 ELSE 0 and line breaks bound as parameters: the
    // statement reads the same on SQLite and PostgreSQL (store::sql). The
    // preview is cut before its line breaks become spaces (one character for
    // one, so the same text), not after a whole long body is copied twice.
    c.with_conn(|c| {
        let found = c.opt(
            "SELECT c.last_message_id, c.last_message_at, c.preview, c.last_inbound_id, c.automatic, c.waiting_since,
                last.id, last.sent_at, coalesce(replace(replace(substr(last.body, 1, 160), ?2, ' '), ?3, ' '), ''),
                coalesce((SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'in'), 0),
                CASE WHEN EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction = 'in')
                    AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction = 'in'
                                    AND (quiet IS NULL OR quiet NOT IN ('list', 'auto', 'noreply', 'sender')))
                    THEN 1 ELSE 0 END,
                (SELECT min(m.sent_at) FROM messages m
                 WHERE m.conversation_id = ?1 AND m.direction = 'in' AND m.closing = 0 AND m.report IS NULL
                   AND m.sent_at >
                       coalesce((SELECT max(o.sent_at) FROM messages o
                                 WHERE o.conversation_id = ?1 AND o.direction = 'out'
                                   AND o.delivery NOT IN ('failed', 'unknown') AND o.auto = 0 AND o.forward = 0), 0))
             FROM conversations c,
                  (SELECT id, sent_at, body FROM messages WHERE conversation_id = ?1
                   ORDER BY sent_at DESC, id DESC LIMIT 1) AS last
             WHERE c.id = ?1",
            &[&conversation, &"\r", &"\n"],
            |r| Ok((Summary::read(r, 0)?, Summary::read(r, 6)?)),
        )?;
        // A conversation without messages keeps what it had.
        let Some((stored, now)) = found else { return Ok(()) };
        if stored == now {
            return Ok(());
        }
        if stored.moves_in_lists(&now) {
            c.exec(
                "UPDATE conversations SET last_message_id = ?2, last_message_at = ?3, preview = ?4,
                     last_inbound_id = ?5, automatic = ?6, waiting_since = ?7
                 WHERE id = ?1",
                &[
                    &conversation,
                    &now.last_message_id,
                    &now.last_message_at,
                    &now.preview,
                    &now.last_inbound_id,
                    &now.automatic,
                    &now.waiting_since,
                ],
            )?;
        } else {
            c.exec(
                "UPDATE conversations SET last_message_id = ?2, preview = ?3, last_inbound_id = ?4 WHERE id = ?1",
                &[&conversation, &now.last_message_id, &now.preview, &now.last_inbound_id],
            )?;
        }
        Ok(())
    })
}
