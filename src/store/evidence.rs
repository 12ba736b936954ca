//! Everything the store holds of one client over a time range, for `pult export`:
//! the card, conversations, messages with their originals, promises, the
//! outbox, notes, and the audit rows about them.

use super::Result;
use super::audit_chain::ChainRow;
use super::originals::Original;
use super::sql::{Conn, WithConn as _};
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct ClientCard {
    pub id: i64,
    pub name: String,
    pub organisation: Option<String>,
    pub inn: Option<String>,
    /// (kind, handle, display name)
    pub identities: Vec<(String, String, Option<String>)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvConversation {
    pub id: i64,
    pub channel: String,
    pub kind: String,
    pub title: String,
    pub is_group: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvAttachment {
    pub name: String,
    pub mime: String,
    pub size: Option<i64>,
    pub content_hash: Option<String>,
    pub remote_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub struct EvMessage {
    pub id: i64,
    pub conversation: i64,
    pub kind: String,
    pub channel: String,
    pub remote_id: String,
    pub outgoing: bool,
    pub author: String,
    /// The author is one of the client's identities (false: us or a third party).
    pub by_client: bool,
    pub author_handle: Option<String>,
    pub sent_at: i64,
    pub subject: Option<String>,
    pub body: String,
    pub delivery: String,
    pub error: Option<String>,
    pub rfc_message_id: Option<String>,
    pub imap: Option<(String, Option<i64>, i64)>,
    pub attachments: Vec<EvAttachment>,
    pub originals: Vec<Original>,
    /// Email from others: DKIM as checked on arrival.
    pub auth: Option<crate::mailauth::MailAuth>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvTask {
    pub id: i64,
    pub conversation: i64,
    pub state: String,
    pub accepted_by: Option<String>,
    pub created_at: i64,
    pub accepted_at: Option<i64>,
    pub deadline: Option<i64>,
    pub done_at: Option<i64>,
    pub withdrawn: Option<String>,
    pub source_message: Option<i64>,
    pub outbox: Option<i64>,
    pub done_outbox: Option<i64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvOutbox {
    pub id: i64,
    pub conversation: i64,
    pub state: String,
    pub body: String,
    pub subject: Option<String>,
    pub actor: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub attempts: i64,
    /// Why the row failed or waits, if it did.
    pub error: Option<String>,
    /// What the server said on taking the mail (SMTP's final `250 …`).
    pub server_answer: Option<String>,
    /// wamid, Telegram chat:message id, or the mail's place.
    pub remote_id: Option<String>,
    pub rfc_message_id: Option<String>,
    pub message: Option<i64>,
    /// The delivery state of the message it became (sent, delivered, read, failed).
    pub delivery: Option<String>,
    pub delivery_error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvNote {
    pub conversation: i64,
    pub actor: String,
    pub created_at: i64,
    pub body: String,
}

#[derive(Debug, Clone, Default)]
pub struct Evidence {
    pub client: Option<ClientCard>,
    pub conversations: Vec<EvConversation>,
    pub messages: Vec<EvMessage>,
    pub tasks: Vec<EvTask>,
    pub outbox: Vec<EvOutbox>,
    pub notes: Vec<EvNote>,
    /// The audit rows from the first about this client to the last, oldest first;
    /// rows about anything else are shown as their content hash alone.
    pub audit: Vec<ChainRow>,
}

impl super::Reader {
    /// What the store holds of `client` with times in `since..until` (None: open).
    pub fn evidence(&self, client: i64, since: Option<i64>, until: Option<i64>, notes: bool) -> Result<Evidence> {
        let (lo, hi) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        let read = self.connection().with_conn(|c| {
            let Some(card) = card(c, client)? else { return Ok(None) };
            let conversations: Vec<EvConversation> = c.all(
                "SELECT c.id, ch.name, ch.kind, c.title, c.is_group FROM conversations c JOIN channels ch ON ch.id = c.channel_id
                 WHERE c.contact_id = ?1 ORDER BY c.id",
                &[&client],
                |r| {
                    Ok(EvConversation {
                        id: r.get(0)?,
                        channel: r.get(1)?,
                        kind: r.get(2)?,
                        title: r.get(3)?,
                        is_group: r.get(4)?,
                    })
                },
            )?;
            let mut messages = Vec::new();
            let mut tasks = Vec::new();
            let mut outbox = Vec::new();
            let mut note_rows = Vec::new();
            for conv in &conversations {
                for mut r in c.rows(
                    "SELECT m.id, m.remote_id, m.direction, m.author, i.contact_id = ?4, i.handle, m.sent_at, m.subject,
                            m.body, m.delivery, m.error, m.rfc_message_id, m.imap_folder, m.imap_validity, m.imap_uid
                     FROM messages m LEFT JOIN identities i ON i.id = m.author_identity_id
                     WHERE m.conversation_id = ?1 AND m.sent_at BETWEEN ?2 AND ?3 ORDER BY m.sent_at, m.id",
                    &[&conv.id, &lo, &hi, &client],
                )? {
                    let folder: Option<String> = r.get(12)?;
                    let uid: Option<i64> = r.get(14)?;
                    let validity: Option<i64> = r.get(13)?;
                    messages.push(EvMessage {
                        id: r.get(0)?,
                        conversation: conv.id,
                        kind: conv.kind.clone(),
                        channel: conv.channel.clone(),
                        remote_id: r.get(1)?,
                        outgoing: r.get::<String>(2)? == "out",
                        author: r.get(3)?,
                        by_client: r.get::<Option<bool>>(4)?.unwrap_or(false),
                        author_handle: r.get(5)?,
                        sent_at: r.get(6)?,
                        subject: r.get(7)?,
                        body: r.take_text(8)?.unwrap_or_default(),
                        delivery: r.get(9)?,
                        error: r.get(10)?,
                        rfc_message_id: r.get(11)?,
                        imap: folder.zip(uid).map(|(f, u)| (f, validity, u)),
                        attachments: Vec::new(),
                        originals: Vec::new(),
                        auth: None,
                    });
                }
                tasks.extend(c.all(
                    "SELECT id, state, accepted_by, created_at, accepted_at, deadline, done_at, withdrawn, source_message_id,
                            outbox_id, done_outbox_id
                     FROM tasks WHERE conversation_id = ?1 AND created_at BETWEEN ?2 AND ?3 ORDER BY id",
                    &[&conv.id, &lo, &hi],
                    |r| {
                        Ok(EvTask {
                            id: r.get(0)?,
                            conversation: conv.id,
                            state: r.get(1)?,
                            accepted_by: r.get(2)?,
                            created_at: r.get(3)?,
                            accepted_at: r.get(4)?,
                            deadline: r.get(5)?,
                            done_at: r.get(6)?,
                            withdrawn: r.get(7)?,
                            source_message: r.get(8)?,
                            outbox: r.get(9)?,
                            done_outbox: r.get(10)?,
                        })
                    },
                )?);
                outbox.extend(c.all(
                    "SELECT o.id, o.state, o.body, o.subject, o.actor, o.created_at, o.updated_at, o.attempts, o.error,
                            o.remote_id, o.rfc_message_id, o.message_id, m.delivery, m.error, o.server_answer
                     FROM outbox o LEFT JOIN messages m ON m.id = o.message_id
                     WHERE o.conversation_id = ?1 AND o.created_at BETWEEN ?2 AND ?3 ORDER BY o.id",
                    &[&conv.id, &lo, &hi],
                    |r| {
                        Ok(EvOutbox {
                            id: r.get(0)?,
                            conversation: conv.id,
                            state: r.get(1)?,
                            body: r.get(2)?,
                            subject: r.get(3)?,
                            actor: r.get(4)?,
                            created_at: r.get(5)?,
                            updated_at: r.get(6)?,
                            attempts: r.get(7)?,
                            error: r.get(8)?,
                            remote_id: r.get(9)?,
                            rfc_message_id: r.get(10)?,
                            message: r.get(11)?,
                            delivery: r.get(12)?,
                            delivery_error: r.get(13)?,
                            server_answer: r.get(14)?,
                        })
                    },
                )?);
                if notes {
                    note_rows.extend(c.all(
                        "SELECT actor, created_at, body FROM notes
                         WHERE conversation_id = ?1 AND created_at BETWEEN ?2 AND ?3 ORDER BY created_at, id",
                        &[&conv.id, &lo, &hi],
                        |r| Ok(EvNote { conversation: conv.id, actor: r.get(0)?, created_at: r.get(1)?, body: r.get(2)? }),
                    )?);
                }
            }
            for m in &mut messages {
                m.attachments = c.all(
                    "SELECT name, mime, size, content_hash, remote_ref FROM attachments WHERE message_id = ?1 ORDER BY ordinal",
                    &[&m.id],
                    |r| {
                        Ok(EvAttachment {
                            name: r.get(0)?,
                            mime: r.get(1)?,
                            size: r.get(2)?,
                            content_hash: r.get(3)?,
                            remote_ref: r.get(4)?,
                        })
                    },
                )?;
                m.originals = super::originals::originals_in(c, m.id)?;
            }
            Ok(Some((card, conversations, messages, tasks, outbox, note_rows)))
        })?;
        let Some((card, conversations, mut messages, tasks, outbox, note_rows)) = read else {
            return Ok(Evidence::default());
        };
        for m in &mut messages {
            m.auth = self.mail_auth_of(m.id)?;
        }
        messages.sort_by_key(|m| (m.sent_at, m.id));
        // The audit rows about these conversations in the range, and every row
        // between the first and the last of them (others' as their hash alone).
        let ids: Vec<i64> = conversations.iter().map(|c| c.id).collect();
        let mut audit = Vec::new();
        // Rows about the card itself (edits, hand-overs, merges, splits) name
        // no conversation; pult wrote their details, and each begins or ends
        // with the client's number in a fixed shape. Earlier exports stay out:
        // the same store and range give the same bundle.
        let card_rows: Vec<i64> = self.connection().with_conn(|c| {
            c.all(
                "SELECT id FROM audit WHERE conversation_id IS NULL AND at BETWEEN ?1 AND ?2 AND (
                     (action IN ('client_edit') AND detail LIKE 'client ' || ?3 || ':%')
                  OR (action = 'client_hand_over' AND detail LIKE 'client ' || ?3 || ' %')
                  OR (action = 'client_merge' AND detail LIKE '% into ' || ?3 || ' (merge %')
                  OR (action = 'client_split' AND (detail LIKE '% from client ' || ?3 || ' into %'
                                                   OR detail LIKE '% into ' || ?3)))",
                &[&lo, &hi, &client.to_string()],
                |r| r.get(0),
            )
        })?;
        let (first, last): (Option<i64>, Option<i64>) = self
            .connection()
            .rows_once(
                &format!(
                    "SELECT min(id), max(id) FROM audit WHERE (conversation_id IN ({}) OR id IN ({}))
                     AND at BETWEEN ?1 AND ?2",
                    id_list(&ids),
                    id_list(&card_rows)
                ),
                &[&lo, &hi],
            )?
            .first()
            .map_or(Ok((None, None)), |r| Ok::<_, super::StoreError>((r.get(0)?, r.get(1)?)))?;
        if let (Some(first), Some(last)) = (first, last) {
            for row in self.audit_chain(first, last)? {
                let ours = (row.conversation_id.is_some_and(|c| ids.contains(&c)) || card_rows.contains(&row.id))
                    && row.at.is_some_and(|t| (lo..=hi).contains(&t));
                audit.push(if ours { row } else { row.hidden() });
            }
        }
        Ok(Evidence { client: Some(card), conversations, messages, tasks, outbox, notes: note_rows, audit })
    }

    /// This store's id (made when the store got the evidence tables).
    pub fn store_id(&self) -> Result<String> {
        Ok(self
            .connection()
            .with_conn(|c| c.opt("SELECT value FROM store_settings WHERE key = 'store_id'", &[], |r| r.get(0)))?
            .unwrap_or_default())
    }
}

/// A live client's card with its identities.
fn card(c: &dyn Conn, client: i64) -> Result<Option<ClientCard>> {
    let Some(mut card) = c.opt(
        "SELECT id, name, organisation, inn FROM contacts WHERE id = ?1 AND merged_into IS NULL",
        &[&client],
        |r| {
            Ok(ClientCard {
                id: r.get(0)?,
                name: r.get(1)?,
                organisation: r.get(2)?,
                inn: r.get(3)?,
                identities: Vec::new(),
            })
        },
    )?
    else {
        return Ok(None);
    };
    card.identities = c.all(
        "SELECT kind, handle, display_name FROM identities WHERE contact_id = ?1 ORDER BY kind, handle",
        &[&client],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    Ok(Some(card))
}

/// Ids for `IN (…)` (numbers only, so safe in the SQL); none is `NULL`,
/// which matches nothing (PostgreSQL has no empty list).
fn id_list(ids: &[i64]) -> String {
    if ids.is_empty() {
        return "NULL".into();
    }
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}
