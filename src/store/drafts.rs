//! Drafts, per person: what is being written survives kill -9, a dropped SSH
//! session and `q`. Private to their author: no `changes` row, so other pults
//! never reload for them.

use super::Result;
use super::sql::{Transact, WithConn};

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
pub fn save(db: &mut impl Transact, actor: &str, key: DraftKey, draft: &Draft, now: i64) -> Result<()> {
    let (kind, ref_id) = key.kind.columns();
    if draft.body.trim().is_empty() {
        return delete(db, actor, key);
    }
    let to = if draft.to.is_empty() { None } else { serde_json::to_string(&draft.to).ok() };
    db.write(|c| {
        c.exec(
            "INSERT INTO drafts (actor, conversation_id, kind, ref_id, subject, recipients, body, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
             ON CONFLICT (actor, conversation_id, kind, ref_id) DO UPDATE SET
                subject = excluded.subject, recipients = excluded.recipients, body = excluded.body,
                updated_at = excluded.updated_at",
            &[&actor, &key.conversation, &kind, &ref_id, &draft.subject, &to, &draft.body, &now],
        )?;
        Ok(())
    })
}

pub fn delete(db: &mut impl Transact, actor: &str, key: DraftKey) -> Result<()> {
    let (kind, ref_id) = key.kind.columns();
    db.write(|c| {
        c.exec(
            "DELETE FROM drafts WHERE actor = ?1 AND conversation_id = ?2 AND kind = ?3 AND ref_id = ?4",
            &[&actor, &key.conversation, &kind, &ref_id],
        )?;
        Ok(())
    })
}

/// Every draft of one person, oldest first.
pub(super) fn of(c: &(impl WithConn + ?Sized), actor: &str) -> Result<Vec<(DraftKey, Draft)>> {
    let rows = c.with_conn(|c| {
        c.all(
            "SELECT conversation_id, kind, ref_id, subject, recipients, body FROM drafts WHERE actor = ?1
             ORDER BY updated_at, conversation_id, kind, ref_id",
            &[&actor],
            |r| {
                let kind = DraftKind::from_columns(&r.get::<String>(1)?, r.get(2)?);
                let key = kind.map(|kind| r.get(0).map(|conversation| DraftKey { conversation, kind })).transpose()?;
                let draft = Draft { subject: r.get(3)?, to: r.json_list(4)?, body: r.get(5)? };
                Ok(key.map(|key| (key, draft)))
            },
        )
    })?;
    Ok(rows.into_iter().flatten().collect())
}
