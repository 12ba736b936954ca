//! Working together on one store: assignment and hand-over, internal notes,
//! presence claims ("bob is replying").

use super::writer::{audit, immediate, note_change};
use super::{Db, Result, StoreError};
use crate::model::ChangeKind;
use rusqlite::{OptionalExtension, params};

/// How long a claim lives without renewal; the composer renews it while open.
pub const CLAIM_SECONDS: i64 = 90;

/// Makes `assignee` responsible (None: nobody), with an optional hand-over note.
pub fn assign(
    db: &mut Db,
    conversation: i64,
    assignee: Option<&str>,
    actor: &str,
    note: Option<&str>,
    now: i64,
) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let changed =
        tx.execute("UPDATE conversations SET assignee = ?1 WHERE id = ?2", params![assignee, conversation])?;
    if changed == 0 {
        return Err(StoreError::Invalid(format!("no conversation {conversation}")));
    }
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    tx.execute(
        "INSERT INTO assignments (conversation_id, assignee, actor, note, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![conversation, assignee, actor, note, now],
    )?;
    if let Some(n) = note {
        let who = assignee.unwrap_or("—");
        tx.execute(
            "INSERT INTO notes (conversation_id, actor, body, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![conversation, actor, format!("→ @{who}: {n}"), now],
        )?;
    }
    note_change(&tx, now, ChangeKind::Assign, Some(conversation), Some(actor))?;
    audit(&tx, now, actor, "assign", Some(conversation), assignee.unwrap_or("(nobody)"))?;
    tx.commit()?;
    Ok(())
}

/// The client's default responsible person, applied to their new conversations.
pub fn set_default_assignee(
    db: &mut Db,
    conversation: i64,
    assignee: Option<&str>,
    actor: &str,
    now: i64,
) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let contact: Option<i64> = tx
        .query_row("SELECT contact_id FROM conversations WHERE id = ?1", [conversation], |r| r.get(0))
        .optional()?
        .flatten();
    let contact = contact.ok_or_else(|| StoreError::Refused(super::Refused::NoClientCard))?;
    tx.execute("UPDATE contacts SET default_assignee = ?1 WHERE id = ?2", params![assignee, contact])?;
    audit(&tx, now, actor, "assign.default", Some(conversation), assignee.unwrap_or("(nobody)"))?;
    note_change(&tx, now, ChangeKind::Assign, Some(conversation), Some(actor))?;
    tx.commit()?;
    Ok(())
}

/// An internal note: stored and shown to the team, never sent to any channel.
pub fn add_note(db: &mut Db, conversation: i64, actor: &str, body: &str, now: i64) -> Result<i64> {
    let conn = &mut db.0;
    if body.trim().is_empty() {
        return Err(super::Refused::EmptyNote.into());
    }
    let tx = immediate(conn)?;
    tx.execute(
        "INSERT INTO notes (conversation_id, actor, body, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![conversation, actor, body, now],
    )?;
    let id = tx.last_insert_rowid();
    note_change(&tx, now, ChangeKind::Note, Some(conversation), Some(actor))?;
    audit(&tx, now, actor, "note", Some(conversation), &body.chars().take(120).collect::<String>())?;
    tx.commit()?;
    Ok(id)
}

/// Claims (or renews) "I am replying here"; returns the others who claim it too.
pub fn claim(db: &mut Db, conversation: i64, actor: &str, now: i64) -> Result<Vec<String>> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    tx.execute("DELETE FROM claims WHERE expires_at <= ?1", [now])?;
    let fresh = tx
        .query_row(
            "SELECT 1 FROM claims WHERE conversation_id = ?1 AND actor = ?2",
            params![conversation, actor],
            |_| Ok(()),
        )
        .optional()?
        .is_none();
    tx.execute(
        "INSERT INTO claims (conversation_id, actor, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (conversation_id, actor) DO UPDATE SET expires_at = excluded.expires_at",
        params![conversation, actor, now + CLAIM_SECONDS],
    )?;
    let others: Vec<String> = tx
        .prepare("SELECT actor FROM claims WHERE conversation_id = ?1 AND actor != ?2 ORDER BY actor")?
        .query_map(params![conversation, actor], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if fresh {
        // Renewals are silent; only a new claim is news for other screens.
        note_change(&tx, now, ChangeKind::Claim, Some(conversation), Some(actor))?;
    }
    tx.commit()?;
    Ok(others)
}

pub fn release(db: &mut Db, conversation: i64, actor: &str, now: i64) -> Result<()> {
    let conn = &mut db.0;
    let tx = immediate(conn)?;
    let n = tx.execute("DELETE FROM claims WHERE conversation_id = ?1 AND actor = ?2", params![conversation, actor])?;
    if n > 0 {
        note_change(&tx, now, ChangeKind::Claim, Some(conversation), Some(actor))?;
    }
    tx.commit()?;
    Ok(())
}
