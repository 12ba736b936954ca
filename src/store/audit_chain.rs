//! Is the audit log as it was written? Each row carries the SHA-256 of the row
//! before it (`prev_hash`) and its own (`row_hash`), so an edited, removed or
//! inserted row breaks the chain at that row.
//!
//! A row's hash covers its content hash, not its content: an export can show
//! another client's row as its content hash alone and the chain still checks.
//!
//!   content = SHA-256 of the JSON array [id, at, actor, action, conversation_id, detail]
//!   row     = SHA-256 of "pult-audit-1\n" + prev (64 zeros for the first row) + "\n" + content

use super::Result;
use ring::digest;
use serde::{Deserialize, Serialize};

/// What stands before the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The content hash of one audit row.
pub fn content_hash(
    id: i64,
    at: i64,
    actor: &str,
    action: &str,
    conversation: Option<i64>,
    detail: Option<&str>,
) -> String {
    let canonical = serde_json::json!([id, at, actor, action, conversation, detail]).to_string();
    sha256_hex(canonical.as_bytes())
}

/// The hash of a row from the hash of the one before it and its content hash.
pub fn row_hash(prev: Option<&str>, content: &str) -> String {
    let text = format!("pult-audit-1\n{}\n{content}", prev.unwrap_or(GENESIS));
    sha256_hex(text.as_bytes())
}

/// One row of the chain as stored or exported. `actor`…`detail` are absent
/// where only the content hash is shown (another client's row in an export).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ChainRow {
    pub id: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The content hash, given where the content is not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_sha256: Option<String>,
    pub prev_hash: Option<String>,
    pub row_hash: Option<String>,
}

impl ChainRow {
    /// Whether the row's content is shown (else only its content hash).
    pub fn shown(&self) -> bool {
        self.action.is_some()
    }

    fn content(&self) -> Option<String> {
        match (&self.at, &self.actor, &self.action) {
            (Some(at), Some(actor), Some(action)) => {
                Some(content_hash(self.id, *at, actor, action, self.conversation_id, self.detail.as_deref()))
            }
            _ => self.content_sha256.clone(),
        }
    }

    /// The same row with its content left out, only its content hash shown.
    pub fn hidden(&self) -> ChainRow {
        ChainRow {
            id: self.id,
            at: None,
            actor: None,
            action: None,
            conversation_id: None,
            detail: None,
            content_sha256: self.content(),
            prev_hash: self.prev_hash.clone(),
            row_hash: self.row_hash.clone(),
        }
    }
}

/// Where a chain stops being what was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Break {
    /// The audit row id.
    pub id: i64,
    pub reason: BreakReason,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakReason {
    /// The row has no hash (written by a pult without the chain).
    Unhashed,
    /// Its content does not give its hash: the row was edited.
    Edited,
    /// Its `prev_hash` is not the hash of the row before it: a row was removed or inserted.
    Unlinked,
}

/// «audit row 12 was edited» in the reader's language.
pub fn describe_break(lang: crate::i18n::Lang, b: &Break) -> String {
    let key = match b.reason {
        BreakReason::Unhashed => "audit_row_unhashed",
        BreakReason::Edited => "audit_row_edited",
        BreakReason::Unlinked => "audit_row_unlinked",
    };
    crate::i18n::fill(lang.tr(key), &[("id", &b.id)])
}

/// Checks rows in id order; `first_prev` is what the first row's `prev_hash`
/// must be (None: whatever it says, for a slice of a longer chain). Returns the
/// number of rows checked, or the first row that breaks the chain.
pub fn verify<'a>(
    rows: impl IntoIterator<Item = &'a ChainRow>,
    first_prev: Option<Option<&str>>,
) -> std::result::Result<usize, Break> {
    let mut expected_prev: Option<Option<String>> = first_prev.map(|p| p.map(str::to_string));
    let mut n = 0;
    for row in rows {
        let Some(stored) = row.row_hash.as_deref() else {
            return Err(Break { id: row.id, reason: BreakReason::Unhashed });
        };
        if let Some(prev) = &expected_prev
            && prev.as_deref() != row.prev_hash.as_deref()
        {
            return Err(Break { id: row.id, reason: BreakReason::Unlinked });
        }
        let Some(content) = row.content() else {
            return Err(Break { id: row.id, reason: BreakReason::Edited });
        };
        if row_hash(row.prev_hash.as_deref(), &content) != stored {
            return Err(Break { id: row.id, reason: BreakReason::Edited });
        }
        expected_prev = Some(Some(stored.to_string()));
        n += 1;
    }
    Ok(n)
}

impl super::Reader {
    /// Audit rows with ids in `from..=to`, oldest first, with their hashes.
    pub fn audit_chain(&self, from: i64, to: i64) -> Result<Vec<ChainRow>> {
        use super::sql::WithConn as _;
        self.connection().with_conn(|c| {
            c.all(
                "SELECT id, at, actor, action, conversation_id, detail, prev_hash, row_hash FROM audit
                 WHERE id BETWEEN ?1 AND ?2 ORDER BY id",
                &[&from, &to],
                |r| {
                    Ok(ChainRow {
                        id: r.get(0)?,
                        at: Some(r.get(1)?),
                        actor: Some(r.get(2)?),
                        action: Some(r.get(3)?),
                        conversation_id: r.get(4)?,
                        detail: r.get(5)?,
                        content_sha256: None,
                        prev_hash: r.get(6)?,
                        row_hash: r.get(7)?,
                    })
                },
            )
        })
    }

    /// Checks the whole audit chain, a page at a time; the number of rows, or the first break.
    pub fn verify_audit(&self) -> Result<std::result::Result<usize, Break>> {
        const PAGE: i64 = 10_000;
        let mut after = i64::MIN;
        let mut prev: Option<String> = None;
        let mut first = true;
        let mut total = 0;
        loop {
            let next: Option<i64> = {
                use super::sql::WithConn as _;
                self.connection()
                    .with_conn(|c| c.one("SELECT min(id) FROM audit WHERE id > ?1", &[&after], |r| r.get(0)))?
            };
            let Some(start) = next else { break };
            let page = self.audit_chain(start, start.saturating_add(PAGE - 1))?;
            let expected = if first { Some(None) } else { Some(prev.as_deref()) };
            match verify(&page, expected) {
                Ok(n) => total += n,
                Err(b) => return Ok(Err(b)),
            }
            first = false;
            if let Some(last) = page.last() {
                prev = last.row_hash.clone();
                after = last.id;
            } else {
                after = start.saturating_add(PAGE - 1);
            }
        }
        Ok(Ok(total))
    }
}

/// Appends one audit row to the chain; its id is the next after the last row's.
pub(super) fn append(
    c: &dyn super::sql::Conn,
    at: i64,
    actor: &str,
    action: &str,
    conversation: Option<i64>,
    detail: &str,
) -> Result<i64> {
    let last: Option<(i64, Option<String>)> =
        c.opt("SELECT id, row_hash FROM audit ORDER BY id DESC LIMIT 1", &[], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (id, prev) = match last {
        Some((id, hash)) => (id + 1, hash),
        None => (1, None),
    };
    let hash = row_hash(prev.as_deref(), &content_hash(id, at, actor, action, conversation, Some(detail)));
    c.exec(
        "INSERT INTO audit (id, at, actor, action, conversation_id, detail, prev_hash, row_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        &[&id, &at, &actor, &action, &conversation, &detail, &prev, &hash],
    )?;
    Ok(id)
}

/// Records one event that concerns no conversation (an export).
pub fn record(db: &mut super::Db, at: i64, actor: &str, action: &str, detail: &str) -> Result<()> {
    use super::sql::Transact;
    db.write(|c| append(c, at, actor, action, None, detail).map(drop))
}

/// `audit_row_hash(prev, id, at, actor, action, conversation_id, detail)` for
/// the migration that chains the rows written before the chain.
pub(super) fn register(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    conn.create_scalar_function(
        "audit_row_hash",
        7,
        rusqlite::functions::FunctionFlags::SQLITE_UTF8 | rusqlite::functions::FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let prev: Option<String> = ctx.get(0)?;
            let content = content_hash(
                ctx.get(1)?,
                ctx.get(2)?,
                &ctx.get::<String>(3)?,
                &ctx.get::<String>(4)?,
                ctx.get(5)?,
                ctx.get::<Option<String>>(6)?.as_deref(),
            );
            Ok(row_hash(prev.as_deref(), &content))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, prev: Option<&str>, detail: &str) -> ChainRow {
        let content = content_hash(id, 100 + id, "anna", "send", Some(7), Some(detail));
        ChainRow {
            id,
            at: Some(100 + id),
            actor: Some("anna".into()),
            action: Some("send".into()),
            conversation_id: Some(7),
            detail: Some(detail.into()),
            content_sha256: None,
            prev_hash: prev.map(str::to_string),
            row_hash: Some(row_hash(prev, &content)),
        }
    }

    #[test]
    fn a_chain_checks_and_each_kind_of_tampering_names_its_row() {
        let a = row(1, None, "a");
        let b = row(2, a.row_hash.as_deref(), "b");
        let c = row(3, b.row_hash.as_deref(), "c");
        assert_eq!(verify(&[a.clone(), b.clone(), c.clone()], Some(None)), Ok(3));
        // Content shown as its hash alone still checks.
        assert_eq!(verify(&[a.clone(), b.hidden(), c.clone()], Some(None)), Ok(3));
        let mut edited = b.clone();
        edited.detail = Some("B".into());
        assert_eq!(
            verify(&[a.clone(), edited, c.clone()], Some(None)),
            Err(Break { id: 2, reason: BreakReason::Edited })
        );
        assert_eq!(verify(&[a.clone(), c.clone()], Some(None)), Err(Break { id: 3, reason: BreakReason::Unlinked }));
        let mut rehashed = b.hidden();
        rehashed.content_sha256 = Some(sha256_hex(b"other"));
        assert_eq!(verify(&[a, rehashed, c], Some(None)), Err(Break { id: 2, reason: BreakReason::Edited }));
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }
}
