//! Mail that never waits for an answer: mailing lists, automatic mail
//! (vacation replies, notifications, delivery reports) and no-reply senders.
//! It is stored and searchable like any mail, shown apart, and never counts
//! as a client waiting (RFC 2369 `List-*`, RFC 2919 `List-Id`, RFC 3834
//! `Auto-Submitted`, and the de-facto `Precedence` and `X-Autoreply`).

/// Why a mail needs no answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Automatic {
    /// A mailing list or a bulk sending.
    List,
    /// Written by a program: an auto-reply, a notification, a report.
    Auto,
    /// From an address nobody reads (`noreply@`, `mailer-daemon@`).
    NoReply,
}

impl Automatic {
    /// As stored (`messages.automatic`).
    pub fn as_str(self) -> &'static str {
        match self {
            Automatic::List => "list",
            Automatic::Auto => "auto",
            Automatic::NoReply => "noreply",
        }
    }
}

/// Local parts of addresses that no person reads.
const NOBODY: &[&str] = &[
    "noreply",
    "no-reply",
    "no_reply",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
    "mailer-daemon",
    "postmaster",
    "bounce",
    "bounces",
    "notifications",
    "notification",
];

/// Classifies a mail by its headers (`header(name)` gives a header's value,
/// names matched case-insensitively by the caller) and its sender's address.
pub fn classify<'a>(header: impl Fn(&'static str) -> Option<&'a str>, from: Option<&str>) -> Option<Automatic> {
    let has = |name: &'static str| header(name).is_some();
    let auto_submitted = header("Auto-Submitted").map(|v| v.trim().to_ascii_lowercase());
    if auto_submitted.as_deref().is_some_and(|v| !v.is_empty() && !v.starts_with("no"))
        || has("X-Autoreply")
        || has("X-Autorespond")
        || header("X-Auto-Response-Suppress").is_some_and(|v| v.to_ascii_lowercase().contains("all"))
            && has("X-MS-Exchange-Generated-Message-Source")
        || header("Content-Type").is_some_and(|v| v.to_ascii_lowercase().contains("multipart/report"))
    {
        return Some(Automatic::Auto);
    }
    let precedence = header("Precedence").map(|v| v.trim().to_ascii_lowercase());
    if has("List-Id")
        || has("List-Unsubscribe")
        || has("List-Post")
        || precedence.as_deref().is_some_and(|p| matches!(p, "list" | "bulk" | "junk"))
    {
        return Some(Automatic::List);
    }
    let local = from?.rsplit_once('@')?.0.trim().to_ascii_lowercase();
    let local = local.split('+').next().unwrap_or("");
    NOBODY.contains(&local).then_some(Automatic::NoReply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with<'a>(headers: &'a [(&'a str, &'a str)]) -> impl Fn(&'static str) -> Option<&'a str> {
        move |name| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }

    #[test]
    fn lists_programs_and_nobody_never_wait() {
        let person = Some("irina@client.test");
        assert_eq!(classify(with(&[("List-Id", "Sales <sales.example.test>")]), person), Some(Automatic::List));
        assert_eq!(classify(with(&[("Precedence", " Bulk")]), person), Some(Automatic::List));
        assert_eq!(classify(with(&[("Auto-Submitted", "auto-replied")]), person), Some(Automatic::Auto));
        assert_eq!(classify(with(&[("Auto-Submitted", "no")]), person), None, "RFC 3834: `no` is a person");
        assert_eq!(classify(with(&[("X-Autoreply", "yes")]), person), Some(Automatic::Auto));
        let report = [("Content-Type", "multipart/report; report-type=delivery-status; boundary=x")];
        assert_eq!(classify(with(&report), person), Some(Automatic::Auto));
        assert_eq!(classify(with(&[]), Some("No-Reply+42@bank.test")), Some(Automatic::NoReply));
        assert_eq!(classify(with(&[]), Some("MAILER-DAEMON@mx.test")), Some(Automatic::NoReply));
        assert_eq!(classify(with(&[]), person), None);
        assert_eq!(classify(with(&[("Precedence", "first-class")]), person), None);
    }
}
