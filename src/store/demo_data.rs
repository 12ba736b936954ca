//! What `pult demo` writes besides what a sync would: client cards, promises
//! on named conversations, closed conversations, read marks; and what its
//! simulated clients read to write again. On the store's seam, so the demo
//! fills a PostgreSQL store as it fills SQLite.

use super::sql::{Searchable, Transact as _, WithConn as _};
use super::{Db, Result};
use crate::model::ChannelKind;

/// One demo client: (organisation, name, handles, channel kind).
pub type DemoContact = (String, String, Vec<String>, ChannelKind);

/// Client cards first, so that every person in a group chat belongs to one client.
pub fn add_contacts(db: &mut Db, contacts: &[DemoContact], now: i64) -> Result<()> {
    db.write(|c| {
        // The same client named twice (a second channel) is one contact.
        let mut seen: std::collections::HashMap<(&str, &str), i64> = std::collections::HashMap::new();
        for (org, name, handles, kind) in contacts {
            let contact = match seen.get(&(org.as_str(), name.as_str())) {
                Some(&id) => id,
                None => {
                    let id = c.insert(
                        "INSERT INTO contacts (name, organisation, created_at) VALUES (?1, ?2, ?3) RETURNING id",
                        &[name, org, &now],
                    )?;
                    seen.insert((org.as_str(), name.as_str()), id);
                    id
                }
            };
            for h in handles {
                c.exec(
                    "INSERT INTO identities (contact_id, kind, handle) VALUES (?1, ?2, ?3)
                     ON CONFLICT (kind, handle) DO NOTHING",
                    &[&contact, &kind.as_str(), h],
                )?;
            }
            // Conversations are written after the cards; any already there
            // are found by the client's name as SQLite's trigger would.
            c.reindex(Searchable::Client(contact))?;
        }
        Ok(())
    })
}

/// A conversation by its channel key, with its newest client message.
pub fn conversation_by_key(db: &Db, channel: i64, key: &str) -> Result<(i64, Option<i64>)> {
    db.with_conn(|c| {
        c.one(
            "SELECT id, (SELECT max(id) FROM messages WHERE conversation_id = conversations.id AND direction = 'in')
             FROM conversations WHERE channel_id = ?1 AND remote_key = ?2",
            &[&channel, &key],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    })
}

/// Closes conversations given as (channel key, channel).
pub fn close(db: &mut Db, conversations: &[(String, i64)]) -> Result<()> {
    db.write(|c| {
        for (key, channel) in conversations {
            c.exec(
                "UPDATE conversations SET status = 'closed' WHERE channel_id = ?1 AND remote_key = ?2",
                &[channel, key],
            )?;
        }
        Ok(())
    })
}

/// `actor` has read every conversation whose last message is older than `before`.
pub fn read_before(db: &Db, actor: &str, before: i64) -> Result<()> {
    db.with_conn(|c| {
        c.exec(
            "INSERT INTO read_marks (actor, conversation_id, message_id)
             SELECT ?1, id, last_inbound_id FROM conversations WHERE last_message_at < ?2
             ON CONFLICT (actor, conversation_id) DO UPDATE SET message_id = excluded.message_id",
            &[&actor, &before],
        )?;
        Ok(())
    })
}

/// What a simulated client needs to write again in a conversation.
pub struct ClientTurn {
    pub key: String,
    pub title: String,
    pub is_group: bool,
    pub subject: Option<String>,
    /// (handle, name) of the client who wrote last, if anyone did.
    pub author: Option<(String, String)>,
}

pub fn client_turn(db: &Db, conversation: i64) -> Result<ClientTurn> {
    db.with_conn(|c| {
        let (key, title, is_group, subject) = c.one(
            "SELECT remote_key, title, is_group, subject FROM conversations WHERE id = ?1",
            &[&conversation],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )?;
        let author = c.opt(
            "SELECT i.handle, coalesce(i.display_name, '') FROM messages m JOIN identities i ON i.id = m.author_identity_id
             WHERE m.conversation_id = ?1 AND m.direction = 'in' ORDER BY m.id DESC LIMIT 1",
            &[&conversation],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(ClientTurn { key, title, is_group, subject, author })
    })
}

/// The `pick`-th conversation of a channel (modulo how many it has).
pub fn nth_conversation(db: &Db, channel: i64, pick: i64) -> Result<i64> {
    db.with_conn(|c| {
        let count: i64 =
            c.one("SELECT count(*) FROM conversations WHERE channel_id = ?1", &[&channel], |r| r.get(0))?;
        // As SQLite read a negative OFFSET: none.
        let skip = (pick % count.max(1)).max(0);
        c.one(
            "SELECT id FROM conversations WHERE channel_id = ?1 ORDER BY id LIMIT 1 OFFSET ?2",
            &[&channel, &skip],
            |r| r.get(0),
        )
    })
}
