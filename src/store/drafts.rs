//! Drafts, per person: what is being written survives kill -9, a dropped SSH
//! session and `q`. Private to their author: no `changes` row, so other pults
//! never reload for them.

use super::{Db, Result};
use rusqlite::{Connection, params};

/// Which composer a draft belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DraftKind {
    Reply,
    Note,
    /// A forward of this message.
    Forward(i64),
    /// A new email from this channel (conversation 0).
    Email(i64),
}

impl DraftKind {
    fn columns(self) -> (&'static str, i64) {
        match self {
            DraftKind::Reply => ("reply", 0),
            DraftKind::Note => ("note", 0),
            DraftKind::Forward(m) => ("forward", m),
            DraftKind::Email(c) => ("email", c),
        }
    }

    fn from_columns(kind: &str, ref_id: i64) -> Option<DraftKind> {
        Some(match kind {
            "reply" => DraftKind::Reply,
            "note" => DraftKind::Note,
            "forward" => DraftKind::Forward(ref_id),
            "email" => DraftKind::Email(ref_id),
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DraftKey {
    pub conversation: i64,
    pub kind: DraftKind,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Draft {
    pub body: String,
    pub subject: Option<String>,
    pub to: Vec<String>,
}

/// Saves a draft, or deletes it when its text is empty.
pub fn save(db: &mut Db, actor: &str, key: DraftKey, draft: &Draft, now: i64) -> Result<()> {
    let (kind, ref_id) = key.kind.columns();
    if draft.body.trim().is_empty() {
        return delete(db, actor, key);
    }
    let conn = &db.0;
    let to = if draft.to.is_empty() { None } else { serde_json::to_string(&draft.to).ok() };
    conn.prepare_cached(
        "INSERT INTO drafts (actor, conversation_id, kind, ref_id, subject, recipients, body, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (actor, conversation_id, kind, ref_id) DO UPDATE SET
            subject = excluded.subject, recipients = excluded.recipients, body = excluded.body,
            updated_at = excluded.updated_at",
    )?
    .execute(params![actor, key.conversation, kind, ref_id, draft.subject, to, draft.body, now])?;
    Ok(())
}

pub fn delete(db: &mut Db, actor: &str, key: DraftKey) -> Result<()> {
    let conn = &db.0;
    let (kind, ref_id) = key.kind.columns();
    conn.prepare_cached("DELETE FROM drafts WHERE actor = ?1 AND conversation_id = ?2 AND kind = ?3 AND ref_id = ?4")?
        .execute(params![actor, key.conversation, kind, ref_id])?;
    Ok(())
}

/// Every draft of one person, oldest first.
pub(super) fn of(conn: &Connection, actor: &str) -> Result<Vec<(DraftKey, Draft)>> {
    let mut st = conn.prepare_cached(
        "SELECT conversation_id, kind, ref_id, subject, recipients, body FROM drafts WHERE actor = ?1 ORDER BY updated_at",
    )?;
    let rows = st.query_map([actor], |r| {
        let kind: String = r.get(1)?;
        Ok((
            r.get::<_, i64>(0)?,
            DraftKind::from_columns(&kind, r.get(2)?),
            Draft { subject: r.get(3)?, to: super::intents::json_list(r, 4)?, body: r.get(5)? },
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (conversation, kind, draft) = row?;
        if let Some(kind) = kind {
            out.push((DraftKey { conversation, kind }, draft));
        }
    }
    Ok(out)
}
