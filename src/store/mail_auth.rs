//! What was known of a mail's authenticity when it arrived (`mailauth`): one
//! `mail_auth` row per mail others sent, written with the mail.

use super::Result;
use crate::mailauth::MailAuth;
use crate::mailauth::dkim::Verdict;

/// Records `auth` for a message just stored.
pub(super) fn record(c: &dyn super::sql::Conn, message_id: i64, auth: &MailAuth) -> Result<()> {
    c.exec(
        "INSERT INTO mail_auth (message_id, dkim, reason, domain, selector, aligned, from_domain, checked_at,
                                signatures, reported)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (message_id) DO NOTHING",
        &[
            &message_id,
            &auth.result.as_str(),
            &auth.reason,
            &auth.domain,
            &auth.selector,
            &auth.aligned,
            &auth.from_domain,
            &auth.checked_at,
            &serde_json::to_string(&auth.signatures).unwrap_or_else(|_| "[]".into()),
            &serde_json::to_string(&auth.reported).unwrap_or_else(|_| "[]".into()),
        ],
    )?;
    Ok(())
}

/// A stored row, read (the columns `dkim, reason, domain,
/// selector, aligned, from_domain, checked_at, signatures, reported` from `at` on).
pub(super) fn from_row(r: &super::sql::Row, at: usize) -> Result<Option<MailAuth>> {
    let Some(result) = r.get::<Option<String>>(at)? else { return Ok(None) };
    let json = |i: usize| -> Result<String> { Ok(r.get::<Option<String>>(at + i)?.unwrap_or_default()) };
    Ok(Some(MailAuth {
        result: Verdict::parse(&result),
        reason: r.get(at + 1)?,
        domain: r.get(at + 2)?,
        selector: r.get(at + 3)?,
        aligned: r.get(at + 4)?,
        from_domain: r.get(at + 5)?,
        checked_at: r.get(at + 6)?,
        signatures: serde_json::from_str(&json(7)?).unwrap_or_default(),
        reported: serde_json::from_str(&json(8)?).unwrap_or_default(),
    }))
}

/// The columns `from_row` reads, of the table aliased `a`.
pub(super) const COLUMNS: &str =
    "a.dkim, a.reason, a.domain, a.selector, a.aligned, a.from_domain, a.checked_at, a.signatures, a.reported";

impl super::Reader {
    /// What was recorded of a message's authenticity on arrival.
    pub fn mail_auth_of(&self, message_id: i64) -> Result<Option<MailAuth>> {
        use super::sql::WithConn as _;
        let sql = format!("SELECT {COLUMNS} FROM mail_auth a WHERE a.message_id = ?1");
        self.connection().with_conn(|c| Ok(c.opt(&sql, &[&message_id], |r| from_row(r, 0))?.flatten()))
    }
}
