//! Strict reading of the config file: every key must be one pult knows, and no
//! message ever repeats a value from the file, because values may be secrets.
//!
//! serde's `deny_unknown_fields` cannot do this: it loses the line inside
//! `[[accounts]]` (an internally tagged enum), offers no nearest key, and the
//! toml crate's own error text quotes the offending source line.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

const TOP: &[&str] = &["agent", "store", "hours", "ui", "guards", "team", "accounts"];
const AGENT: &[&str] = &["name"];
const STORE: &[&str] = &["path"];
const HOURS: &[&str] = &[
    "timezone",
    "workdays",
    "start",
    "end",
    "holidays",
    "auto_reply",
    "mon",
    "tue",
    "wed",
    "thu",
    "fri",
    "sat",
    "sun",
];
const UI: &[&str] =
    &["theme", "language", "bell", "download_dir", "open_command", "closing_words", "one_key_accept", "mouse"];
const GUARDS: &[&str] = &["undo_seconds", "tone_words", "max_attachment_mb", "secret_timeout_seconds"];
const EMAIL: &[&str] = &[
    "kind",
    "name",
    "address",
    "from_name",
    "imap",
    "smtp",
    "folders",
    "signature",
    "quote_original",
    "aliases",
    "sent_folder",
    "save_sent",
    "history_before",
];
const SERVER: &[&str] =
    &["host", "port", "tls", "insecure", "user", "password_command", "password_file", "ca_file", "timeout_seconds"];
const TELEGRAM: &[&str] =
    &["kind", "name", "token_command", "token_file", "api_url", "transcribe_command", "player_command", "mark_read"];
const WHATSAPP: &[&str] = &[
    "kind",
    "name",
    "phone_number_id",
    "token_command",
    "token_file",
    "app_secret_command",
    "app_secret_file",
    "verify_token_command",
    "verify_token_file",
    "api_url",
    "webhook_listen",
    "media_max_mb",
    "mark_read",
    "transcribe_command",
    "player_command",
];
const KINDS: &[&str] = &["email", "telegram", "whatsapp"];

/// Checks `text` before serde reads it: syntax first, then every key.
/// The error names line, column and key, never a value.
pub fn check(text: &str) -> Result<(), String> {
    let doc = DeTable::parse(text).map_err(|e| syntax_error(text, &e))?;
    let mut problems = Vec::new();
    walk(text, doc.get_ref(), "", TOP, "line 1, column 1", &mut problems);
    // In file order: the first one is the first to fix.
    problems.sort_by_key(|p| {
        let n = |s: &str| s.split(|c: char| !c.is_ascii_digit()).find(|d| !d.is_empty()).and_then(|d| d.parse().ok());
        (n(p).unwrap_or(0usize), p.split(", column ").nth(1).and_then(n).unwrap_or(0usize))
    });
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// An error from the toml parser or from serde, with its values hidden.
pub fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = redact(e.message().lines().next().unwrap_or("invalid TOML").trim());
    match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            let key = key_on_line(text, line).map(|k| format!(" (key `{k}`)")).unwrap_or_default();
            format!("line {line}, column {column}{key}: {message}")
        }
        None => message,
    }
}

/// `at` is where the table starts, for what is missing from it.
fn walk(text: &str, table: &DeTable<'_>, path: &str, allowed: &[&str], at: &str, problems: &mut Vec<String>) {
    together(text, table, path, at, problems);
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        let place = place(text, key);
        if !allowed.contains(&name) {
            problems.push(format!("{place}: {}", unknown(name, path, allowed)));
            continue;
        }
        if let Some(expected) = wrong_type(name, value.get_ref()) {
            problems.push(format!("{place}: `{name}` must be {expected}"));
            continue;
        }
        if let Some(why) = bad_value(name, value.get_ref()) {
            problems.push(format!("{place}: {why}"));
            continue;
        }
        let child = |p: &str| if path.is_empty() { p.to_string() } else { format!("{path}.{p}") };
        match (path, name, value.get_ref()) {
            ("", "accounts", DeValue::Array(items)) => {
                let mut names: Vec<(&str, usize)> = Vec::new();
                for item in items.iter() {
                    if let DeValue::Table(t) = item.get_ref() {
                        let (line, column) = line_column(text, item.span().start);
                        account(text, t, &format!("line {line}, column {column}"), problems);
                        if let Some((k, DeValue::String(n))) =
                            t.iter().find(|(k, _)| k.get_ref() == "name").map(|(k, v)| (k, v.get_ref()))
                        {
                            let here = line_column(text, k.span().start).0;
                            match names.iter().find(|(seen, _)| *seen == n.as_ref()) {
                                Some((_, first)) => problems.push(format!(
                                    "{}: `name` is the same as the account's on line {first}; each account needs its own",
                                    self::place(text, k)
                                )),
                                None => names.push((n.as_ref(), here)),
                            }
                        }
                    }
                }
            }
            (_, _, DeValue::Table(t)) => {
                if let Some(keys) = section(&child(name)) {
                    walk(text, t, &child(name), keys, &place, problems);
                }
            }
            _ => {}
        }
    }
}

fn account(text: &str, table: &DeTable<'_>, place: &str, problems: &mut Vec<String>) {
    let kind = table.iter().find(|(k, _)| k.get_ref() == "kind").map(|(_, v)| v.get_ref());
    let kind = match kind {
        Some(DeValue::String(s)) if KINDS.contains(&s.as_ref()) => s.to_string(),
        Some(_) => {
            problems.push(format!(
                "{place}: an [[accounts]] entry has an unknown kind; use one of email, telegram, whatsapp"
            ));
            return;
        }
        None => {
            problems.push(format!("{place}: an [[accounts]] entry has no kind (email, telegram or whatsapp)"));
            return;
        }
    };
    let path = format!("accounts.{kind}");
    if let Some(keys) = section(&path) {
        walk(text, table, &path, keys, place, problems);
    }
}

/// The type a known key needs, when its value has another (checked here, where
/// the line is known; serde loses it inside `[[accounts]]`).
fn wrong_type(name: &str, value: &DeValue<'_>) -> Option<&'static str> {
    let (ok, expected) = match name {
        "port"
        | "undo_seconds"
        | "max_attachment_mb"
        | "media_max_mb"
        | "timeout_seconds"
        | "secret_timeout_seconds" => (matches!(value, DeValue::Integer(_)), "a number"),
        "insecure" | "quote_original" | "save_sent" | "auto_reply" | "bell" | "mouse" | "one_key_accept"
        | "mark_read" => (matches!(value, DeValue::Boolean(_)), "true or false"),
        "password_command"
        | "token_command"
        | "transcribe_command"
        | "player_command"
        | "open_command"
        | "folders"
        | "aliases"
        | "tone_words"
        | "team"
        | "closing_words"
        | "app_secret_command"
        | "verify_token_command" => (
            matches!(value, DeValue::Array(a) if a.iter().all(|i| matches!(i.get_ref(), DeValue::String(_)))),
            "a list of strings, e.g. [\"pass\", \"mail/office\"]",
        ),
        "accounts" => (matches!(value, DeValue::Array(_)), "[[accounts]] tables"),
        "agent" | "store" | "hours" | "ui" | "guards" | "imap" | "smtp" => {
            (matches!(value, DeValue::Table(_)), "a table")
        }
        "kind" => (!matches!(value, DeValue::Table(_) | DeValue::Array(_)), "a single value"),
        // Every other key pult knows holds text.
        _ => (matches!(value, DeValue::String(_)), "text in quotes"),
    };
    (!ok).then_some(expected)
}

/// What is wrong with a value of the right type, said without the value.
fn bad_value(name: &str, value: &DeValue<'_>) -> Option<String> {
    let integer = |v: &DeValue<'_>| match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    let text = match value {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    };
    match name {
        "history_before" if text.is_none_or(|t| super::parse_cutoff(t, 0).is_none()) => {
            Some("`history_before` must be a date like \"2026-11-01\" or days like \"7d\"".into())
        }
        "port" if !integer(value).is_some_and(|p| (1..=65535).contains(&p)) => {
            Some("`port` must be a number from 1 to 65535".into())
        }
        "undo_seconds" | "max_attachment_mb" | "media_max_mb" | "timeout_seconds" | "secret_timeout_seconds"
            if integer(value).is_none_or(|n| n < 0) =>
        {
            Some(format!("`{name}` must be a whole number, 0 or more"))
        }
        "tls" if !text.is_some_and(|t| ["implicit", "starttls", "none"].contains(&t)) => {
            Some("`tls` must be implicit, starttls or none".into())
        }
        "start" | "end" if text.is_some_and(|t| super::parse_hhmm(t).is_err()) => {
            Some(format!("`{name}` must be a time like 09:00"))
        }
        "workdays" if text.is_some_and(|t| super::parse_workdays(t).is_err()) => {
            Some("`workdays` must be days like mon-fri or mon,wed,fri".into())
        }
        "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun"
            if text.is_some_and(|t| crate::workflow::calendar::parse_interval(t).is_err()) =>
        {
            Some(format!("`{name}` must be hours like 09:00-17:00, or off"))
        }
        "webhook_listen" if text.is_some_and(|t| t.parse::<std::net::SocketAddr>().is_err()) => {
            Some("`webhook_listen` must be an address and port, like 127.0.0.1:8088".into())
        }
        _ => None,
    }
}

/// Rules over several keys of one table, said at the line of the key to change.
fn together(text: &str, table: &DeTable<'_>, path: &str, at: &str, problems: &mut Vec<String>) {
    let get = |name: &str| table.iter().find(|(k, _)| k.get_ref() == name);
    let required: &[&str] = match path {
        "accounts.email" => &["name", "address", "imap", "smtp"],
        "accounts.email.imap" | "accounts.email.smtp" => &["host", "port", "user"],
        "accounts.telegram" => &["name"],
        "accounts.whatsapp" => &["name", "phone_number_id"],
        _ => &[],
    };
    for key in required.iter().filter(|k| get(k).is_none()) {
        let table = match path.split('.').collect::<Vec<_>>().as_slice() {
            ["accounts", kind] => format!("this [[accounts]] entry ({kind})"),
            [.., server] => format!("`{server}`"),
            [] => String::new(),
        };
        problems.push(format!("{at}: {table} has no `{key}`"));
    }
    let text_of = |name: &str| match get(name).map(|(_, v)| v.get_ref()) {
        Some(DeValue::String(s)) => Some(s.as_ref()),
        _ => None,
    };
    if path == "hours"
        && let (Some(Ok(start)), Some(Ok(end))) =
            (text_of("start").map(super::parse_hhmm), text_of("end").map(super::parse_hhmm))
        && end <= start
        && let Some((key, _)) = get("end")
    {
        problems.push(format!("{}: `end` must be after `start`", place(text, key)));
    }
    let insecure = matches!(get("insecure").map(|(_, v)| v.get_ref()), Some(DeValue::Boolean(true)));
    if (path.ends_with(".imap") || path.ends_with(".smtp"))
        && text_of("tls") == Some("none")
        && !insecure
        && let Some((key, _)) = get("tls")
    {
        problems.push(format!(
            "{}: tls = \"none\" sends the password in the clear; it needs insecure = true",
            place(text, key)
        ));
    }
}

/// The keys allowed in a table, by its path (an account's path carries its kind).
fn section(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "agent" => AGENT,
        "store" => STORE,
        "hours" => HOURS,
        "ui" => UI,
        "guards" => GUARDS,
        "accounts.email" => EMAIL,
        "accounts.email.imap" | "accounts.email.smtp" => SERVER,
        "accounts.telegram" => TELEGRAM,
        "accounts.whatsapp" => WHATSAPP,
        _ => return None,
    })
}

fn unknown(name: &str, path: &str, allowed: &[&str]) -> String {
    let shown = crate::sanitize::line(name);
    let table = match path.split('.').collect::<Vec<_>>().as_slice() {
        [""] => "at the top level".to_string(),
        ["accounts", kind] => format!("in [[accounts]] ({kind})"),
        ["accounts", kind, server] => format!("in {server} of [[accounts]] ({kind})"),
        _ => format!("in [{path}]"),
    };
    let lower = name.to_lowercase();
    if ["password", "pass", "passwd", "secret"].contains(&lower.as_str())
        && (allowed.contains(&"password_command") || allowed.contains(&"imap"))
    {
        let place = if allowed.contains(&"imap") { " inside imap = { … } and smtp = { … }" } else { "" };
        return format!(
            "`{shown}` is not read: a password never lives in this file. Use password_command = [\"pass\", \"mail/office\"] \
             (run without a shell) or password_file = \"/path\" (mode 0600){place}"
        );
    }
    if ["token", "bot_token", "secret", "access_token"].contains(&lower.as_str()) && allowed.contains(&"token_command")
    {
        return format!(
            "`{shown}` is not read: a token never lives in this file. Use token_command = [\"pass\", \"telegram/bot\"] \
             or token_file = \"/path\" (mode 0600)"
        );
    }
    match nearest(name, allowed) {
        Some(near) => format!("unknown key `{shown}` {table}; did you mean `{near}`?"),
        None => format!("unknown key `{shown}` {table}; known keys: {}", allowed.join(", ")),
    }
}

/// The allowed key closest to a typo, when it is close enough to be meant.
pub fn nearest<'a>(name: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let name = name.to_lowercase();
    allowed
        .iter()
        .map(|k| (edit_distance(&name, k), *k))
        .filter(|(d, k)| *d <= (k.chars().count() / 3).max(2))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// Levenshtein distance, with a transposition counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1).min(d[i][j - 1] + 1).min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

fn place<T>(text: &str, spanned: &Spanned<T>) -> String {
    let (line, column) = line_column(text, spanned.span().start);
    format!("line {line}, column {column}")
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    (line, column)
}

/// The bare key a line assigns, if it has one (`imap = {…}` gives `imap`).
fn key_on_line(text: &str, line: usize) -> Option<String> {
    let l = text.lines().nth(line.checked_sub(1)?)?;
    let (key, _) = l.split_once('=')?;
    let key = key.trim();
    let bare = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    bare.then(|| key.to_string())
}

/// Hides anything quoted in a parser message: it may be a value from the
/// file. serde quotes numbers in backticks (`` integer `99999` ``): hidden too,
/// unless it is the name of a key (`` missing field `host` ``).
fn redact(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut quote: Option<(char, String)> = None;
    for c in message.chars() {
        match (&mut quote, c) {
            (None, '"' | '\'' | '`') => quote = Some((c, String::new())),
            (Some((open, inside)), c) if c == *open => {
                let known = [TOP, AGENT, STORE, HOURS, UI, GUARDS, EMAIL, SERVER, TELEGRAM, WHATSAPP]
                    .iter()
                    .any(|keys| keys.contains(&inside.as_str()));
                let shown = if *open == '`' && known { inside.as_str() } else { "…" };
                out.push_str(&format!("{open}{shown}{open}"));
                quote = None;
            }
            (Some((_, inside)), c) => inside.push(c),
            (None, c) => out.push(c),
        }
    }
    if let Some((open, _)) = quote {
        out.push_str(&format!("{open}…{open}"));
    }
    crate::sanitize::line(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_key_for_typos() {
        assert_eq!(nearest("sent_foldr", EMAIL), Some("sent_folder"));
        assert_eq!(nearest("save_snet", EMAIL), Some("save_sent"));
        assert_eq!(nearest("nmae", EMAIL), Some("name"));
        assert_eq!(nearest("zzzzzzzz", EMAIL), None);
    }

    #[test]
    fn positions_count_characters() {
        assert_eq!(line_column("a = 1\nбб = 2", 10), (2, 3));
    }

    #[test]
    fn redaction_hides_quoted_values() {
        assert_eq!(
            redact("invalid type: string \"hunter2\", expected u16"),
            "invalid type: string \"…\", expected u16"
        );
        assert_eq!(redact("invalid value: integer `99999`, expected u16"), "invalid value: integer `…`, expected u16");
        assert_eq!(redact("missing field `host`"), "missing field `host`");
        assert_eq!(redact("unknown variant `hunter2`"), "unknown variant `…`");
    }
}
