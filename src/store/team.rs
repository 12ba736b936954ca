//! Working together on one store: assignment and hand-over, internal notes,
//! presence claims ("bob is replying").

use super::sql::{Conn, Searchable, Transact};
use super::writer::{audit, note_change};
use super::{Result, StoreError};
use crate::model::ChangeKind;

/// How long a claim lives without renewal; the composer renews it while open.
pub const CLAIM_SECONDS: i64 = 90;

/// Makes `assignee` responsible (None: nobody), with an optional hand-over note.
pub fn assign(
    db: &mut impl Transact,
    conversation: i64,
    assignee: Option<&str>,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<()> {
    db.write(|c| {
        let changed = c.exec("UPDATE conversations SET assignee = ?1 WHERE id = ?2", &[&assignee, &conversation])?;
        if changed == 0 {
            return Err(StoreError::Invalid(format!("no conversation {conversation}")));
        }
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        c.exec(
            "INSERT INTO assignments (conversation_id, assignee, actor, note, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            &[&conversation, &assignee, &actor, &note, &now],
        )?;
        if let Some(n) = note {
            let who = assignee.unwrap_or("—");
            write_note(c, conversation, actor, &format!("→ @{who}: {n}"), now)?;
        }
        note_change(c, now, ChangeKind::Assign, Some(conversation), Some(actor))?;
        audit(c, now, actor, "assign", Some(conversation), assignee.unwrap_or("(nobody)"))
    })
}

/// The client's default responsible person, applied to their new conversations.
pub fn set_default_assignee(
    db: &mut impl Transact,
    conversation: i64,
    assignee: Option<&str>,
    actor: &str,
    now: i64,
) -> Result<()> {
    db.write(|c| {
        let contact: Option<i64> =
            c.opt("SELECT contact_id FROM conversations WHERE id = ?1", &[&conversation], |r| r.get(0))?.flatten();
        let contact = contact.ok_or(StoreError::Refused(super::Refused::NoClientCard))?;
        c.exec("UPDATE contacts SET default_assignee = ?1 WHERE id = ?2", &[&assignee, &contact])?;
        audit(c, now, actor, "assign.default", Some(conversation), assignee.unwrap_or("(nobody)"))?;
        note_change(c, now, ChangeKind::Assign, Some(conversation), Some(actor))
    })
}

/// An internal note: stored and shown to the team, never sent to any channel.
pub fn add_note(db: &mut impl Transact, conversation: i64, actor: &str, body: &str, now: i64) -> Result<i64> {
    if body.trim().is_empty() {
        return Err(super::Refused::EmptyNote.into());
    }
    db.write(|c| {
        let id = write_note(c, conversation, actor, body, now)?;
        note_change(c, now, ChangeKind::Note, Some(conversation), Some(actor))?;
        audit(c, now, actor, "note", Some(conversation), &body.chars().take(120).collect::<String>())?;
        Ok(id)
    })
}

/// A note's row and its search terms (a hand-over's, a person's, an escalation's).
pub(super) fn write_note(c: &dyn Conn, conversation: i64, actor: &str, body: &str, now: i64) -> Result<i64> {
    let id = c.insert(
        "INSERT INTO notes (conversation_id, actor, body, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING id",
        &[&conversation, &actor, &body, &now],
    )?;
    c.reindex(Searchable::Note(id))?;
    Ok(id)
}

/// Claims (or renews) "I am replying here"; returns the others who claim it too.
pub fn claim(db: &mut impl Transact, conversation: i64, actor: &str, now: i64) -> Result<Vec<String>> {
    db.write(|c| {
        c.exec("DELETE FROM claims WHERE expires_at <= ?1", &[&now])?;
        let fresh =
            c.opt("SELECT 1 FROM claims WHERE conversation_id = ?1 AND actor = ?2", &[&conversation, &actor], |_| {
                Ok(())
            })?
            .is_none();
        c.exec(
            "INSERT INTO claims (conversation_id, actor, expires_at) VALUES (?1, ?2, ?3)
             ON CONFLICT (conversation_id, actor) DO UPDATE SET expires_at = excluded.expires_at",
            &[&conversation, &actor, &(now + CLAIM_SECONDS)],
        )?;
        let others = c.all(
            "SELECT actor FROM claims WHERE conversation_id = ?1 AND actor != ?2 ORDER BY actor",
            &[&conversation, &actor],
            |r| r.get(0),
        )?;
        if fresh {
            // Renewals are silent; only a new claim is news for other screens.
            note_change(c, now, ChangeKind::Claim, Some(conversation), Some(actor))?;
        }
        Ok(others)
    })
}

pub fn release(db: &mut impl Transact, conversation: i64, actor: &str, now: i64) -> Result<()> {
    db.write(|c| {
        let n = c.exec("DELETE FROM claims WHERE conversation_id = ?1 AND actor = ?2", &[&conversation, &actor])?;
        if n > 0 {
            note_change(c, now, ChangeKind::Claim, Some(conversation), Some(actor))?;
        }
        Ok(())
    })
}
