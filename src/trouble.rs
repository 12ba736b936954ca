//! An error said to a person: what happened and what to do, by the kind of
//! failure pult meets (store busy, a conflict, a full disk, I/O, the network,
//! a timeout, refused credentials, an unreadable answer). A library's own
//! words («FOREIGN KEY constraint failed», a JSON parser's complaint) go to
//! the log, not to the screen.

use crate::i18n::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trouble {
    /// Another pult holds the store for longer than a write waits.
    Busy,
    /// A write broke the store's rules (a row it names is gone).
    Conflict,
    DiskFull,
    /// Reading or writing a file failed (permissions, a missing file).
    Io,
    /// No connection, or it broke.
    Network,
    /// The other side did not answer in time.
    Timeout,
    /// Credentials refused (a password, a token).
    Auth,
    /// An answer that could not be read.
    Parse,
    /// The mail server does not know the recipient's address.
    Recipient,
    /// The command that gives a password or token failed (a secret store).
    Secret,
    Other,
}

impl Trouble {
    /// The kind of a failure, read from a library's message (English, as
    /// libraries write them).
    pub fn of(raw: &str) -> Trouble {
        let t = raw.to_lowercase();
        let any = |words: &[&str]| words.iter().any(|w| t.contains(w));
        // A status code standing alone: «401 Unauthorized», not «outbox 14012».
        let code = |c: &str| {
            t.match_indices(c).any(|(i, _)| {
                let before = t[..i].chars().next_back();
                let after = t[i + c.len()..].chars().next();
                !before.is_some_and(|b| b.is_ascii_digit()) && !after.is_some_and(|a| a.is_ascii_digit())
            })
        };
        if any(&["disk is full", "no space left", "storage full", "quota exceeded", "enospc"]) {
            Trouble::DiskFull
        } else if any(&["database is locked", "database is busy", "database table is locked", "sqlite_busy"]) {
            Trouble::Busy
        } else if any(&["secret command", "secret file", "keyring", "secret store"]) {
            Trouble::Secret
        } else if any(&["constraint failed", "foreign key", "unique constraint"]) {
            Trouble::Conflict
        } else if any(&[
            "user unknown",
            "no such user",
            "mailbox unavailable",
            "mailbox not found",
            "recipient address rejected",
            "5.1.1",
            "address does not exist",
        ]) {
            Trouble::Recipient
        } else if code("401")
            || code("403")
            || any(&[
                "unauthorized",
                "forbidden",
                "authenticationfailed",
                "authentication failed",
                "invalid credentials",
                "refused the credentials",
                "token was revoked",
                "invalid token",
                "login failed",
            ])
        {
            Trouble::Auth
        } else if any(&["timed out", "timeout", "did not finish within", "deadline has elapsed"]) {
            Trouble::Timeout
        } else if any(&[
            "json",
            "parse",
            "parsing",
            "decode",
            "decoding",
            "could not be read",
            "unreadable",
            "malformed",
        ]) {
            Trouble::Parse
        } else if any(&[
            "connect",
            "connection",
            "network",
            "dns",
            "resolve",
            "unreachable",
            "no answer",
            "reset by peer",
            "broken pipe",
            "tls",
            "certificate",
            "error sending request",
        ]) {
            Trouble::Network
        } else if any(&["i/o", "os error", "permission denied", "no such file", "read-only", "readonly"]) {
            Trouble::Io
        } else {
            Trouble::Other
        }
    }

    /// What happened and what to do, in `lang`.
    pub fn in_language(self, lang: Lang) -> &'static str {
        lang.tr(match self {
            Trouble::Busy => "trouble_busy",
            Trouble::Conflict => "trouble_conflict",
            Trouble::DiskFull => "trouble_disk_full",
            Trouble::Io => "trouble_io",
            Trouble::Network => "trouble_network",
            Trouble::Timeout => "trouble_timeout",
            Trouble::Auth => "trouble_auth",
            Trouble::Parse => "trouble_parse",
            Trouble::Recipient => "trouble_recipient",
            Trouble::Secret => "trouble_secret",
            Trouble::Other => "trouble_other",
        })
    }
}

/// A library's error message as a person should read it in `lang`: in
/// Russian, what happened and what to do (the raw message goes to the log);
/// in English the message itself, which is already in the reader's language.
pub fn explain(lang: Lang, raw: &str) -> String {
    match lang {
        Lang::En => raw.to_string(),
        Lang::Ru => {
            tracing::info!("shown as a plain explanation: {raw}");
            Trouble::of(raw).in_language(lang).to_string()
        }
    }
}

/// An error a worker stored with a message, a file or a channel, as the UI
/// shows it in `lang`: text already in Russian stays; English an older pult
/// or a library wrote is said by its kind (a WhatsApp code by its meaning).
pub fn shown(lang: Lang, stored: &str) -> String {
    if lang == Lang::En {
        return stored.to_string();
    }
    let (prefix, rest) = match stored.strip_prefix(crate::store::intents::MAYBE_SENT_SHORT) {
        Some(rest) => (Some(lang.tr("maybe_sent")), rest.trim_start_matches(':').trim_start()),
        None => (None, stored),
    };
    // Text a worker already explained in Russian stays, whatever detail it quotes.
    let russian = rest.chars().any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё'));
    let said = if russian || crate::i18n::english_leak(rest).is_none() {
        rest.to_string()
    } else if let Some((code, words)) = rest
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse::<i64>().ok())
        .find_map(|c| Some((c, crate::channels::whatsapp::graph::explain(lang, c)?)))
        .filter(|_| rest.contains("WhatsApp") || rest.starts_with(|c: char| c.is_ascii_digit()))
    {
        format!("{words} ({code})")
    } else {
        Trouble::of(rest).in_language(lang).to_string()
    };
    match prefix {
        Some(p) if !said.is_empty() => format!("{p}: {said}"),
        Some(p) => p.to_string(),
        None => said,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_told_apart_and_said_in_russian() {
        for (raw, kind) in [
            ("store: FOREIGN KEY constraint failed", Trouble::Conflict),
            ("store: database is locked", Trouble::Busy),
            ("store I/O: No space left on device (os error 28)", Trouble::DiskFull),
            ("store I/O: Permission denied (os error 13)", Trouble::Io),
            ("An error while parsing JSON: invalid type: null, expected a string at line 1 column 40", Trouble::Parse),
            ("error sending request: client error (Connect): tcp connect error", Trouble::Network),
            ("operation timed out", Trouble::Timeout),
            ("the bot token was revoked (401 Unauthorized)", Trouble::Auth),
            (
                "SMTP mail.example.test: 550 5.1.1 <x@y.test>: Recipient address rejected: User unknown",
                Trouble::Recipient,
            ),
            ("secret command \"pass\" failed: exit status: 2", Trouble::Secret),
            ("something odd", Trouble::Other),
            ("no outbox row 14012", Trouble::Other),
        ] {
            assert_eq!(Trouble::of(raw), kind, "{raw}");
            let ru = explain(Lang::Ru, raw);
            assert_eq!(crate::i18n::english_leak(&ru), None, "{raw}: {ru}");
            assert!(!ru.contains("FOREIGN") && !ru.contains("JSON"), "{ru}");
        }
        assert_eq!(explain(Lang::En, "operation timed out"), "operation timed out");
    }

    #[test]
    fn stored_errors_are_shown_in_russian() {
        let ru = |s| shown(Lang::Ru, s);
        assert_eq!(ru("клиент заблокировал бота"), "клиент заблокировал бота");
        assert_eq!(
            ru(
                "131026 Message undeliverable — not delivered: the number may not use WhatsApp, or has an old app or blocked us"
            ),
            format!("{} (131026)", Lang::Ru.tr("wa_131026"))
        );
        let maybe = ru("may have been sent: no answer from Telegram: connection closed before message completed");
        assert!(maybe.starts_with("возможно, отправлено: Нет связи"), "{maybe}");
        for s in ["store: FOREIGN KEY constraint failed", "An error while parsing JSON: EOF", "may have been sent"] {
            assert_eq!(crate::i18n::english_leak(&ru(s)), None, "{s}: {}", ru(s));
        }
        assert_eq!(shown(Lang::En, "store: FOREIGN KEY constraint failed"), "store: FOREIGN KEY constraint failed");
    }
}
