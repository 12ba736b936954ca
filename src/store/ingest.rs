//! Applying what sync workers bring: idempotent upserts, derived conversation state, cursors.

use super::sql::WithConn;
use super::writer::{immediate, note_change};
use super::{Db, Result};
use crate::model::ChangeKind;
use crate::model::{ChannelKind, Inbound, SyncEvent};
use rusqlite::{OptionalExtension, Transaction, params};
use std::collections::{HashMap, HashSet};

/// The channel row for a configured account, created on first use.
pub fn ensure_channel(db: &mut Db, name: &str, kind: ChannelKind, now: i64) -> Result<i64> {
    let conn = db.sqlite_mut()?;
    let tx = immediate(conn)?;
    let found: Option<(i64, String)> = tx
        .query_row("SELECT id, kind FROM channels WHERE name = ?1", [name], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let id = match found {
        Some((id, k)) if k == kind.as_str() => id,
        Some((_, k)) => {
            return Err(super::StoreError::Invalid(format!(
                "channel {name:?} exists as {k}, but the config says {}",
                kind.as_str()
            )));
        }
        None => {
            tx.execute(
                "INSERT INTO accounts (name, kind, created_at) VALUES (?1, ?2, ?3) ON CONFLICT (name) DO NOTHING",
                params![name, kind.as_str(), now],
            )?;
            tx.execute(
                "INSERT INTO channels (account_id, name, kind, config_key, created_at)
                 VALUES ((SELECT id FROM accounts WHERE name = ?1), ?1, ?2, ?1, ?3)",
                params![name, kind.as_str(), now],
            )?;
            let id = tx.last_insert_rowid();
            note_change(&tx, now, ChangeKind::Channel, None, None)?;
            id
        }
    };
    tx.commit()?;
    Ok(id)
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

/// Messages of one batch in the caller's transaction (`events::apply`).
pub(super) fn apply_in(tx: &Transaction<'_>, channel_id: i64, batch: &[&Inbound], now: i64) -> Result<IngestReport> {
    let (kind, history_before): (String, Option<i64>) =
        tx.query_row("SELECT kind, history_before FROM channels WHERE id = ?1", [channel_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut conversations: HashMap<&str, i64> = HashMap::new();
    let mut identities: HashMap<&str, (i64, i64)> = HashMap::new();
    let mut touched: HashSet<i64> = HashSet::new();
    let mut report = IngestReport::default();
    let keep_raw = batch.iter().any(|m| m.raw.is_some()) && super::originals::keep_raw(tx)?;
    // Reports parked for messages still on their way are rare; a run only
    // looks for them per message when the channel has any (nothing in the
    // run parks one).
    let parked = super::events::any_parked(tx, channel_id)?;

    for &m in batch {
        let author = if m.outgoing || m.author_handle.is_empty() {
            None
        } else if let Some(found) = identities.get(m.author_handle.as_str()) {
            Some(*found)
        } else {
            let found = identity(tx, &kind, &m.author_handle, &m.author_name, now)?;
            if let Some(u) = m.author_username.as_deref().filter(|u| !u.is_empty()) {
                tx.prepare_cached("UPDATE identities SET username = ?1 WHERE id = ?2 AND username IS NOT ?1")?
                    .execute(params![u, found.0])?;
            }
            identities.insert(&m.author_handle, found);
            Some(found)
        };
        if let Some(p) = &m.imap
            && let Some(known) = known_mail(tx, channel_id, m, p)?
        {
            // A replay, our own mail back from Sent, or a renumbered folder: one row.
            report.duplicates += 1;
            if known.changed {
                touched.insert(known.conversation);
            }
            continue;
        }
        let email = m.imap.is_some() || m.message_id.is_some();
        let conversation = if email {
            email_conversation(tx, channel_id, m, author.map(|a| a.1), now)?
        } else {
            match conversations.get(m.conversation_key.as_str()) {
                Some(id) => *id,
                None => {
                    let id = conversation(tx, channel_id, m, author.map(|a| a.1), now)?;
                    conversations.insert(&m.conversation_key, id);
                    id
                }
            }
        };
        if m.edited && edit(tx, channel_id, m, now)? {
            touched.insert(conversation);
            report.inserted += 1;
            continue;
        }
        // Email answers a Message-ID (the first mail that carried it); chats a message id.
        let reply_to: Option<i64> = match &m.reply_to_remote {
            Some(r) if email => tx
                .prepare_cached(
                    "SELECT id FROM messages WHERE channel_id = ?1 AND rfc_message_id = ?2 ORDER BY id LIMIT 1",
                )?
                .query_row(params![channel_id, r], |row| row.get(0))
                .optional()?,
            Some(r) => tx
                .prepare_cached("SELECT id FROM messages WHERE channel_id = ?1 AND remote_id = ?2")?
                .query_row(params![channel_id, r], |row| row.get(0))
                .optional()?,
            None => None,
        };
        let notice = message_notice(tx, channel_id, m)?;
        // Mail that needs no answer never waits and never reopens anything; a
        // conversation that only such mail began is not in the queue either.
        let quiet = if m.outgoing { None } else { quiet_reason(tx, &kind, m, history_before)? };
        // «Спасибо, получили 👍» asks nothing: shown, but the client does not
        // wait for an answer to it, and it does not reopen a closed conversation.
        let closing = quiet.is_some()
            || (!m.outgoing
                && m.attachments.is_empty()
                && crate::workflow::closing::is_closing(&crate::search::authored::authored(&m.body_text)));
        // One statement per message: where it is and what it needs are known
        // before it is stored (an update after the insert touched its indexes twice).
        let place = m.imap.as_ref();
        let inserted = tx
            .prepare_cached(
                "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author_identity_id, author,
                                       sent_at, subject, body, body_html, reply_to_remote, reply_to_message_id,
                                       delivery, parse_error, recipients, cc, forward, rfc_message_id, notice, names,
                                       mime_shape, imap_folder, imap_uid, seen, answered, imap_validity, quiet, closing)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21,
                         ?22, ?23, coalesce(?24, 0), coalesce(?25, 0), ?26, ?27, ?28)
                 ON CONFLICT (channel_id, remote_id) DO NOTHING",
            )?
            .execute(params![
                conversation,
                channel_id,
                m.remote_id,
                if m.outgoing { "out" } else { "in" },
                author.map(|a| a.0),
                m.author_name,
                m.sent_at,
                m.subject,
                m.body_text,
                m.body_html,
                m.reply_to_remote,
                reply_to,
                if m.outgoing { "sent" } else { "received" },
                m.parse_error,
                if m.recipients.is_empty() { None } else { serde_json::to_string(&m.recipients).ok() },
                if m.cc.is_empty() { None } else { serde_json::to_string(&m.cc).ok() },
                // Our forward to a third party (seen in Sent) is not an answer to the client.
                m.outgoing && crate::workflow::replies::is_forward_subject(m.subject.as_deref()),
                m.message_id,
                notice,
                names_json(&m.names),
                m.mime_shape,
                place.map(|p| p.folder.as_str()),
                place.map(|p| p.uid),
                place.map(|p| p.seen),
                place.map(|p| p.answered),
                place.map(|p| p.validity),
                quiet,
                closing,
            ])?;
        if inserted == 0 {
            report.duplicates += 1;
            continue;
        }
        let message_id = tx.last_insert_rowid();
        if keep_raw && let Some(raw) = &m.raw {
            super::originals::record(tx, message_id, raw)?;
        }
        if let Some(auth) = &m.auth {
            super::mail_auth::record(tx, message_id, auth)?;
        }
        // A deletion that overtook the message applies now.
        if parked {
            super::events::settle(tx, channel_id, &m.remote_id, now)?;
        }
        for (i, a) in m.attachments.iter().enumerate() {
            tx.prepare_cached(
                "INSERT INTO attachments (message_id, ordinal, name, mime, size, remote_ref, duration)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?
            .execute(params![message_id, i as i64, a.name, a.mime, a.size, a.remote_ref, a.duration])?;
        }
        if quiet.is_some() {
            tx.prepare_cached(
                "UPDATE conversations SET status = 'closed'
                 WHERE id = ?1 AND (SELECT count(*) FROM messages WHERE conversation_id = ?1) = 1",
            )?
            .execute([conversation])?;
        } else if !closing && !m.outgoing && m.report.is_none() {
            // A client writing again wakes a closed or snoozed conversation.
            tx.prepare_cached("UPDATE conversations SET status = 'open', snoozed_until = NULL WHERE id = ?1")?
                .execute([conversation])?;
        }
        report.inserted += 1;
        touched.insert(conversation);
    }

    let mut touched: Vec<i64> = touched.into_iter().collect();
    touched.sort_unstable();
    for &c in &touched {
        refresh_conversation(tx, c)?;
        note_change(tx, now, ChangeKind::Messages, Some(c), None)?;
    }
    report.conversations = touched;
    Ok(report)
}

/// Why a client's message needs no answer, if it does not: a person's word on
/// the sender first (`client` always waits, `never` never does), then a list
/// or a program, then mail from before the channel's history cut-off.
fn quiet_reason(
    tx: &Transaction<'_>,
    kind: &str,
    m: &Inbound,
    history_before: Option<i64>,
) -> Result<Option<&'static str>> {
    let rule: Option<String> = tx
        .prepare_cached("SELECT rule FROM sender_rules WHERE kind = ?1 AND handle = ?2")?
        .query_row(params![kind, m.author_handle], |r| r.get(0))
        .optional()?;
    let history = history_before.is_some_and(|cut| m.sent_at < cut);
    Ok(match rule.as_deref() {
        Some("never") => Some("sender"),
        Some(_) => history.then_some("history"),
        None => match m.automatic {
            Some(a) => Some(a.as_str()),
            None => history.then_some("history"),
        },
    })
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
fn known_mail(
    tx: &Transaction<'_>,
    channel_id: i64,
    m: &Inbound,
    p: &crate::model::ImapPlace,
) -> Result<Option<KnownMail>> {
    // Elsewhere a replay is caught by the insert itself (UNIQUE remote_id).
    if p.sent_folder || p.renumbered {
        let replay: Option<i64> = tx
            .prepare_cached("SELECT conversation_id FROM messages WHERE channel_id = ?1 AND remote_id = ?2")?
            .query_row(params![channel_id, m.remote_id], |r| r.get(0))
            .optional()?;
        if let Some(conversation) = replay {
            return Ok(Some(KnownMail { conversation, changed: false }));
        }
    }
    let Some(rfc_id) = &m.message_id else { return Ok(None) };
    let ours: Option<(i64, i64)> = if p.sent_folder {
        tx.prepare_cached(
            "SELECT ms.id, ms.conversation_id FROM outbox o JOIN messages ms ON ms.id = o.message_id
             WHERE o.rfc_message_id = ?2 AND ms.channel_id = ?1 AND ms.imap_uid IS NULL",
        )?
        .query_row(params![channel_id, rfc_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?
    } else {
        None
    };
    if ours.is_none() && p.sent_folder {
        // A second copy of our own mail in the same Sent folder, where the
        // first is still listed: filed again after a crash between the APPEND
        // and its record. It is the message we have, not a new one.
        let again: Option<i64> = tx
            .prepare_cached(
                "SELECT ms.conversation_id FROM outbox o JOIN messages ms ON ms.id = o.message_id
                 WHERE o.rfc_message_id = ?2 AND ms.channel_id = ?1 AND ms.imap_folder = ?3 AND ms.expunged = 0",
            )?
            .query_row(params![channel_id, rfc_id, p.folder], |r| r.get(0))
            .optional()?;
        if let Some(conversation) = again {
            return Ok(Some(KnownMail { conversation, changed: false }));
        }
    }
    let found = match ours {
        Some(f) => Some(f),
        None => same_mail_elsewhere(tx, channel_id, rfc_id, m, p)?,
    };
    let Some((id, conversation)) = found else { return Ok(None) };
    tx.prepare_cached(
        "UPDATE messages SET remote_id = ?2, imap_folder = ?3, imap_uid = ?4, imap_validity = ?5, seen = ?6,
                             answered = ?7, expunged = 0, rfc_message_id = coalesce(rfc_message_id, ?8),
                             recipients = coalesce(recipients, ?9), cc = coalesce(cc, ?10),
                             names = coalesce(names, ?11), mime_shape = coalesce(mime_shape, ?12)
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        m.remote_id,
        p.folder,
        p.uid,
        p.validity,
        p.seen,
        p.answered,
        rfc_id,
        if m.recipients.is_empty() { None } else { serde_json::to_string(&m.recipients).ok() },
        if m.cc.is_empty() { None } else { serde_json::to_string(&m.cc).ok() },
        names_json(&m.names),
        m.mime_shape,
    ])?;
    // Our files can now be fetched from the server's copy.
    for (i, a) in m.attachments.iter().enumerate() {
        if let Some(r) = &a.remote_ref {
            tx.prepare_cached(
                "UPDATE attachments SET remote_ref = ?3, size = ?4
                 WHERE message_id = ?1 AND ordinal = ?2 AND remote_ref IS NULL",
            )?
            .execute(params![id, i as i64, r, a.size])?;
        }
    }
    thread_keys(tx, channel_id, m, conversation, &[])?;
    Ok(Some(KnownMail { conversation, changed: true }))
}

/// The one stored mail that is this mail at another place (see `known_mail`),
/// or none: none fits, or more than one does (a tie is never guessed). Mail
/// stored before shapes were kept is matched on its sender's address instead.
fn same_mail_elsewhere(
    tx: &Transaction<'_>,
    channel_id: i64,
    rfc_id: &str,
    m: &Inbound,
    p: &crate::model::ImapPlace,
) -> Result<Option<(i64, i64)>> {
    let Some(shape) = &m.mime_shape else { return Ok(None) };
    let sender = if m.outgoing { "" } else { m.author_handle.as_str() };
    let found: Vec<(i64, i64)> = tx
        .prepare_cached(
            "SELECT ms.id, ms.conversation_id FROM messages ms INDEXED BY messages_rfc_id
             WHERE ms.channel_id = ?1 AND ms.rfc_message_id = ?2 AND ms.imap_uid IS NOT NULL AND ms.remote_id != ?3
               AND (ms.imap_folder IS NOT ?4 OR ms.imap_validity IS NOT ?5 OR ms.expunged = 1)
               AND ms.sent_at = ?6 AND ms.body = ?7 AND ms.author = ?8
               AND (ms.mime_shape = ?9
                    OR ms.mime_shape IS NULL
                       AND coalesce((SELECT handle FROM identities WHERE id = ms.author_identity_id), '') = ?10)
             LIMIT 2",
        )?
        .query_map(
            params![
                channel_id,
                rfc_id,
                m.remote_id,
                p.folder,
                p.validity,
                m.sent_at,
                m.body_text,
                m.author_name,
                shape,
                sender
            ],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<rusqlite::Result<_>>()?;
    Ok(match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    })
}

/// The conversation of a mail: the one any of its references (nearest parent
/// first) or its own Message-ID already belongs to, else the one of its thread
/// root key. Every key it carries then points there too.
fn email_conversation(
    tx: &Transaction<'_>,
    channel_id: i64,
    m: &Inbound,
    contact: Option<i64>,
    now: i64,
) -> Result<i64> {
    let mut linked: Vec<i64> = Vec::new();
    // Keys already stored for the conversation this mail joins need no insert.
    let mut stored: Vec<(&str, i64)> = Vec::new();
    // Any reference that is already known joins the thread (JWZ); only a few are written (see thread_anchors).
    for key in m.thread_refs.iter().rev().map(String::as_str).chain(m.message_id.as_deref()) {
        let found = tx
            .prepare_cached("SELECT conversation_id FROM thread_keys WHERE channel_id = ?1 AND key = ?2")?
            .query_row(params![channel_id, key], |r| r.get::<_, i64>(0))
            .optional()?;
        if let Some(c) = found {
            stored.push((key, c));
            if !linked.contains(&c) {
                linked.push(c);
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
            merge_conversation(tx, from, into, now)?;
        }
    }
    let id = match found {
        Some(id) => {
            if contact.is_some() {
                tx.prepare_cached("UPDATE conversations SET contact_id = ?1 WHERE id = ?2 AND contact_id IS NULL")?
                    .execute(params![contact, id])?;
            }
            id
        }
        None => conversation(tx, channel_id, m, contact, now)?,
    };
    let known: Vec<&str> = stored.iter().filter(|(_, c)| *c == id || linked.len() > 1).map(|(k, _)| *k).collect();
    thread_keys(tx, channel_id, m, id, &known)?;
    Ok(id)
}

/// Moves the mail of conversation `from` into `into` and drops `from`, when
/// nobody has worked on `from` yet (no promise, note or outbox row: those stay
/// where a person put them).
fn merge_conversation(tx: &Transaction<'_>, from: i64, into: i64, now: i64) -> Result<()> {
    let worked_on: bool = tx
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM tasks WHERE conversation_id = ?1)
                 OR EXISTS (SELECT 1 FROM notes WHERE conversation_id = ?1)
                 OR EXISTS (SELECT 1 FROM outbox WHERE conversation_id = ?1)",
        )?
        .query_row([from], |r| r.get(0))?;
    if worked_on {
        return Ok(());
    }
    for sql in [
        "UPDATE messages SET conversation_id = ?2 WHERE conversation_id = ?1",
        "UPDATE thread_keys SET conversation_id = ?2 WHERE conversation_id = ?1",
        "UPDATE assignments SET conversation_id = ?2 WHERE conversation_id = ?1",
        "UPDATE OR IGNORE read_marks SET conversation_id = ?2 WHERE conversation_id = ?1",
        "DELETE FROM read_marks WHERE conversation_id = ?1 AND ?2 IS NOT NULL",
        "DELETE FROM claims WHERE conversation_id = ?1 AND ?2 IS NOT NULL",
        "DELETE FROM conversations WHERE id = ?1 AND ?2 IS NOT NULL",
    ] {
        tx.prepare_cached(sql)?.execute(params![from, into])?;
    }
    refresh_conversation(tx, into)?;
    note_change(tx, now, ChangeKind::Messages, Some(from), None)?;
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
fn thread_keys(tx: &Transaction<'_>, channel_id: i64, m: &Inbound, conversation: i64, known: &[&str]) -> Result<()> {
    let keys = thread_anchors(m).chain(std::iter::once(m.conversation_key.as_str()));
    for key in keys.filter(|k| !known.contains(k)) {
        tx.prepare_cached(
            "INSERT INTO thread_keys (channel_id, key, conversation_id) VALUES (?1, ?2, ?3)
             ON CONFLICT (channel_id, key) DO NOTHING",
        )?
        .execute(params![channel_id, key, conversation])?;
    }
    Ok(())
}

/// What the reader must know about a new message: how its date was read, and a
/// Message-ID another stored mail already carries (a copy or a spoof: both kept).
fn message_notice(tx: &Transaction<'_>, channel_id: i64, m: &Inbound) -> Result<Option<String>> {
    let clash = match &m.message_id {
        Some(id) => tx
            .prepare_cached(
                "SELECT 1 FROM messages INDEXED BY messages_rfc_id WHERE channel_id = ?1 AND rfc_message_id = ?2",
            )?
            .query_row(params![channel_id, id], |_| Ok(()))
            .optional()?
            .is_some(),
        None => false,
    };
    let clash = clash.then_some(crate::channels::email::parse::NOTICE_ID_CLASH);
    Ok(match (m.notice.as_deref(), clash) {
        (Some(a), Some(b)) => Some(format!("{a},{b}")),
        (a, b) => a.or(b).map(str::to_string),
    })
}

/// Applies an edit to a known message: the old text goes to `messages_edits`.
/// Returns false when the message is unknown (it is then stored as new).
fn edit(tx: &Transaction<'_>, channel_id: i64, m: &Inbound, now: i64) -> Result<bool> {
    let found: Option<(i64, String)> = tx
        .prepare_cached("SELECT id, body FROM messages WHERE channel_id = ?1 AND remote_id = ?2")?
        .query_row(params![channel_id, m.remote_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((id, old)) = found else { return Ok(false) };
    if old != m.body_text {
        tx.prepare_cached("INSERT INTO messages_edits (message_id, old_body, edited_at) VALUES (?1, ?2, ?3)")?
            .execute(params![id, old, now])?;
        tx.prepare_cached("UPDATE messages SET body = ?1, edited = 1 WHERE id = ?2")?
            .execute(params![m.body_text, id])?;
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
        let contact = c.insert(
            "INSERT INTO contacts (name, created_at, provisional) VALUES (?1, ?2, 1) RETURNING id",
            &[&shown, &now],
        )?;
        let id = c.insert(
            "INSERT INTO identities (contact_id, kind, handle, display_name) VALUES (?1, ?2, ?3, ?4) RETURNING id",
            &[&contact, &kind, &handle, &name],
        )?;
        Ok((id, contact))
    })
}

fn conversation(tx: &Transaction<'_>, channel_id: i64, m: &Inbound, contact: Option<i64>, now: i64) -> Result<i64> {
    let found: Option<(i64, Option<i64>, String)> = tx
        .prepare_cached("SELECT id, contact_id, title FROM conversations WHERE channel_id = ?1 AND remote_key = ?2")?
        .query_row(params![channel_id, m.conversation_key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .optional()?;
    match found {
        Some((id, existing_contact, title)) => {
            if existing_contact.is_none() && contact.is_some() {
                tx.prepare_cached("UPDATE conversations SET contact_id = ?1 WHERE id = ?2")?
                    .execute(params![contact, id])?;
            }
            // Chat titles change; email threads keep their first subject.
            if m.is_group && !m.conversation_title.is_empty() && m.conversation_title != title {
                tx.prepare_cached("UPDATE conversations SET title = ?1 WHERE id = ?2")?
                    .execute(params![m.conversation_title, id])?;
            }
            Ok(id)
        }
        None => {
            let assignee: Option<String> = match contact {
                Some(c) => tx
                    .prepare_cached("SELECT default_assignee FROM contacts WHERE id = ?1")?
                    .query_row([c], |r| r.get(0))
                    .optional()?
                    .flatten(),
                None => None,
            };
            tx.prepare_cached(
                "INSERT INTO conversations (channel_id, remote_key, title, subject, contact_id, is_group, created_at, assignee)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                channel_id,
                m.conversation_key,
                m.conversation_title,
                m.subject,
                contact,
                m.is_group,
                now,
                assignee
            ])?;
            Ok(tx.last_insert_rowid())
        }
    }
}

/// Recomputes what lists show for a conversation from its messages, so that
/// out-of-order arrival (initial sync runs newest first) cannot leave it wrong.
pub(super) fn refresh_conversation(c: &(impl WithConn + ?Sized), conversation: i64) -> Result<()> {
    // Flags as CASE … 1 ELSE 0 and line breaks bound as parameters: the
    // statement reads the same on SQLite and PostgreSQL (store::sql).
    c.with_conn(|c| {
        c.exec(
            "UPDATE conversations SET
                last_message_id = last.id,
                last_message_at = last.sent_at,
                preview = substr(replace(replace(last.body, ?2, ' '), ?3, ' '), 1, 160),
                last_inbound_id = coalesce((SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'in'), 0),
                automatic = CASE WHEN EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction = 'in')
                    AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND direction = 'in'
                                    AND (quiet IS NULL OR quiet NOT IN ('list', 'auto', 'noreply', 'sender')))
                    THEN 1 ELSE 0 END,
                waiting_since = (SELECT min(m.sent_at) FROM messages m
                                 WHERE m.conversation_id = ?1 AND m.direction = 'in' AND m.closing = 0 AND m.report IS NULL
                                   AND m.sent_at >
                                       coalesce((SELECT max(o.sent_at) FROM messages o
                                                 WHERE o.conversation_id = ?1 AND o.direction = 'out'
                                                   AND o.delivery NOT IN ('failed', 'unknown') AND o.auto = 0 AND o.forward = 0), 0))
             FROM (SELECT id, sent_at, body FROM messages WHERE conversation_id = ?1
                   ORDER BY sent_at DESC, id DESC LIMIT 1) AS last
             WHERE conversations.id = ?1",
            &[&conversation, &"\r", &"\n"],
        )?;
        Ok(())
    })
}
