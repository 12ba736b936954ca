//! Strict reading of the config file: every key must be one pult knows, and no
//! message ever repeats a value from the file, because values may be secrets.
//!
//! serde's `deny_unknown_fields` cannot do this: it loses the line inside
//! `[[accounts]]` (an internally tagged enum), offers no nearest key, and the
//! toml crate's own error text quotes the offending source line.

use super::shape::{self, Field, Shape};
use crate::model::ChannelKind;
use std::sync::OnceLock;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// The keys pult reads, from the config types themselves (see `shape.rs`).
struct Schema {
    top: Vec<Field>,
    /// Each `[[accounts]]` kind serde knows, with its keys (`kind` first).
    kinds: Vec<(&'static str, Vec<Field>)>,
}

fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let top = shape::table::<super::Config>();
        let tagged = top.iter().find_map(|f| match &f.shape {
            Shape::List(item) => match **item {
                Shape::Tagged(kinds) => Some(kinds),
                _ => None,
            },
            _ => None,
        });
        let kinds = tagged
            .unwrap_or_default()
            .iter()
            .filter_map(|name| Some((*name, account_keys(ChannelKind::parse(name)?))))
            .collect();
        Schema { top, kinds }
    })
}

/// The struct behind each kind of `Account` (a test checks every kind serde
/// knows is here; the match makes a new channel kind name its struct).
fn account_keys(kind: ChannelKind) -> Vec<Field> {
    let mut keys = match kind {
        ChannelKind::Email => shape::table::<super::EmailAccount>(),
        ChannelKind::Telegram => shape::table::<super::TelegramAccount>(),
        ChannelKind::Whatsapp => shape::table::<super::WhatsappAccount>(),
    };
    keys.insert(0, Field { name: "kind", shape: Shape::Text, required: true });
    keys
}

fn names(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|f| f.name).collect()
}

/// Whether `name` is a key anywhere in the config.
fn is_key(name: &str) -> bool {
    fn within(fields: &[Field], name: &str) -> bool {
        fields.iter().any(|f| f.name == name || matches!(&f.shape, Shape::Table(inner) if within(inner, name)))
    }
    let s = schema();
    within(&s.top, name) || s.kinds.iter().any(|(_, keys)| within(keys, name))
}

/// Checks `text` before serde reads it: syntax first, then every key.
/// The error names line, column and key, never a value.
pub fn check(text: &str) -> Result<(), String> {
    let doc = DeTable::parse(text).map_err(|e| syntax_error(text, &e))?;
    let mut problems = Vec::new();
    walk(text, doc.get_ref(), "", &schema().top, &line_and_column(1, 1), false, &mut problems);
    // In file order (each starts with its line and column): the first one is the first to fix.
    problems.sort_by_key(|p| {
        let mut numbers =
            p.split(|c: char| !c.is_ascii_digit()).filter(|d| !d.is_empty()).map(|d| d.parse().unwrap_or(0usize));
        (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0))
    });
    if problems.is_empty() { Ok(()) } else { Err(problems.join("\n")) }
}

/// An error from the toml parser or from serde, with its values hidden.
pub fn syntax_error(text: &str, e: &toml::de::Error) -> String {
    let message = redact(e.message().lines().next().unwrap_or("invalid TOML").trim());
    // The parser speaks English: in another language, what kind of mistake it is.
    let message = match crate::i18n::ui() {
        crate::i18n::Lang::En => message,
        crate::i18n::Lang::Ru => {
            tracing::debug!("config syntax: {message}");
            let kind = if message.contains("duplicate") {
                "config_duplicate_key"
            } else if message.contains("invalid type") || message.contains("invalid value") {
                "config_wrong_value"
            } else if message.contains("missing field") {
                "config_missing_key"
            } else {
                "config_syntax"
            };
            crate::i18n::ui().tr(kind).to_string()
        }
    };
    match e.span() {
        Some(span) => {
            let (line, column) = line_column(text, span.start);
            let key = key_on_line(text, line).map(|k| crate::t!("config_key", key = k)).unwrap_or_default();
            format!("{}{key}: {message}", line_and_column(line, column))
        }
        None => message,
    }
}

/// «line 3, column 5», in the UI's language: where a problem is.
fn line_and_column(line: usize, column: usize) -> String {
    crate::t!("config_at", line = line, column = column)
}

/// `at` is where the table starts, for what is missing from it; `preset`:
/// the account names a provider, whose preset fills its servers' keys.
fn walk(
    text: &str,
    table: &DeTable<'_>,
    path: &str,
    fields: &[Field],
    at: &str,
    preset: bool,
    problems: &mut Vec<String>,
) {
    together(text, table, path, fields, at, preset, problems);
    for (key, value) in table.iter() {
        let name: &str = key.get_ref();
        let place = place(text, key);
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            problems.push(format!("{place}: {}", unknown(name, path, &names(fields))));
            continue;
        };
        if let Some(expected) = wrong_type(&field.shape, value.get_ref()) {
            problems.push(format!(
                "{place}: {}",
                crate::t!("config_must_be", name = name, expected = crate::i18n::ui().tr(expected))
            ));
            continue;
        }
        if let Some(why) = bad_value(path, name, &field.shape, value.get_ref()) {
            problems.push(format!("{place}: {why}"));
            continue;
        }
        let child = |p: &str| if path.is_empty() { p.to_string() } else { format!("{path}.{p}") };
        match (&field.shape, value.get_ref()) {
            (Shape::List(item), DeValue::Array(items)) if matches!(**item, Shape::Tagged(_)) => {
                let mut names: Vec<(&str, usize)> = Vec::new();
                for item in items.iter() {
                    if let DeValue::Table(t) = item.get_ref() {
                        let (line, column) = line_column(text, item.span().start);
                        account(text, t, &line_and_column(line, column), problems);
                        if let Some((k, DeValue::String(n))) =
                            t.iter().find(|(k, _)| k.get_ref() == "name").map(|(k, v)| (k, v.get_ref()))
                        {
                            let here = line_column(text, k.span().start).0;
                            match names.iter().find(|(seen, _)| *seen == n.as_ref()) {
                                Some((_, first)) => problems.push(format!(
                                    "{}: {}",
                                    self::place(text, k),
                                    crate::t!("config_same_name", line = first)
                                )),
                                None => names.push((n.as_ref(), here)),
                            }
                        }
                    }
                }
            }
            (Shape::Table(keys), DeValue::Table(t)) => walk(text, t, &child(name), keys, &place, preset, problems),
            // `[[sla]]`, `escalate = [{ … }]`: each table read like one on its own.
            (Shape::List(item), DeValue::Array(items)) if matches!(**item, Shape::Table(_)) => {
                let Shape::Table(keys) = &**item else { continue };
                let mut ids: Vec<(String, usize)> = Vec::new();
                for item in items.iter() {
                    let DeValue::Table(t) = item.get_ref() else {
                        problems.push(format!("{place}: {}", crate::t!("config_list_of_tables", name = name)));
                        continue;
                    };
                    let (line, column) = line_column(text, item.span().start);
                    walk(text, t, &child(name), keys, &line_and_column(line, column), false, problems);
                    if let Some((k, DeValue::String(id))) =
                        t.iter().find(|(k, _)| k.get_ref() == "id").map(|(k, v)| (k, v.get_ref()))
                    {
                        match ids.iter().find(|(seen, _)| seen == id.as_ref()) {
                            Some((_, first)) => problems.push(format!(
                                "{}: {}",
                                self::place(text, k),
                                crate::t!("config_same_id", line = first, name = name)
                            )),
                            None => ids.push((id.to_string(), line_column(text, k.span().start).0)),
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

fn account(text: &str, table: &DeTable<'_>, place: &str, problems: &mut Vec<String>) {
    let kinds = &schema().kinds;
    let kind = table.iter().find(|(k, _)| k.get_ref() == "kind").map(|(_, v)| v.get_ref());
    let list = kinds.iter().map(|(name, _)| *name).collect::<Vec<_>>();
    let known = match kind {
        Some(DeValue::String(s)) => kinds.iter().find(|(name, _)| *name == s.as_ref()),
        _ => None,
    };
    let (kind, keys) = match (known, kind) {
        (Some((kind, keys)), _) => (kind, keys),
        (None, Some(_)) => {
            problems.push(format!("{place}: {}", crate::t!("config_unknown_kind", kinds = list.join(", "))));
            return;
        }
        (None, None) => {
            problems.push(format!("{place}: {}", crate::t!("config_no_kind", kinds = or_list(&list))));
            return;
        }
    };
    let preset = table.iter().any(|(k, v)| k.get_ref() == "provider" && matches!(v.get_ref(), DeValue::String(_)));
    walk(text, table, &format!("accounts.{kind}"), keys, place, preset, problems);
}

/// «a, b or c».
fn or_list(items: &[&str]) -> String {
    match items.split_last() {
        Some((last, rest)) if !rest.is_empty() => crate::t!("or_list", items = rest.join(", "), last = last),
        _ => items.join(""),
    }
}

/// The type a known key needs (a catalogue key), when its value has another (checked here, where
/// the line is known; serde loses it inside `[[accounts]]`).
fn wrong_type(shape: &Shape, value: &DeValue<'_>) -> Option<&'static str> {
    let (ok, expected) = match shape {
        Shape::Bool => (matches!(value, DeValue::Boolean(_)), "type_bool"),
        Shape::Integer { .. } => (matches!(value, DeValue::Integer(_)), "type_number"),
        Shape::Text => (matches!(value, DeValue::String(_)), "type_text"),
        Shape::List(item) => match **item {
            Shape::Text => (
                matches!(value, DeValue::Array(a) if a.iter().all(|i| matches!(i.get_ref(), DeValue::String(_)))),
                "type_strings",
            ),
            Shape::Tagged(_) => (matches!(value, DeValue::Array(_)), "type_accounts"),
            _ => (matches!(value, DeValue::Array(_)), "type_list"),
        },
        Shape::Table(_) => (matches!(value, DeValue::Table(_)), "type_table"),
        // Left to serde (a test keeps these out of the config).
        Shape::Tagged(_) | Shape::Unknown => return None,
    };
    (!ok).then_some(expected)
}

/// What is wrong with a value of the right type, said without the value.
fn bad_value(path: &str, name: &str, shape: &Shape, value: &DeValue<'_>) -> Option<String> {
    let integer = |v: &DeValue<'_>| match v {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    };
    let text = match value {
        DeValue::String(s) => Some(s.as_ref()),
        _ => None,
    };
    if let Shape::Integer { max } = *shape {
        let n = integer(value);
        return match name {
            "port" if !n.is_some_and(|p| (1..=65535).contains(&p)) => Some(crate::t!("config_port")),
            // No setting is negative: counts, sizes and seconds.
            _ if n.is_none_or(|n| n < 0) => Some(crate::t!("config_whole_number", name = name)),
            _ if n.is_some_and(|n| n as u64 > max) => Some(crate::t!("config_number_up_to", name = name, max = max)),
            _ => None,
        };
    }
    match name {
        "history_before" if text.is_none_or(|t| super::parse_cutoff(t, 0).is_none()) => {
            Some(crate::t!("config_history_before"))
        }
        "provider" if path.ends_with(".oauth2") => (!text.is_some_and(|t| super::OAUTH2_PROVIDERS.contains(&t)))
            .then(|| crate::t!("config_one_of", name = "provider", list = super::OAUTH2_PROVIDERS.join(", "))),
        "provider" if text.is_none_or(|t| super::providers::get(t).is_none()) => {
            Some(crate::t!("config_one_of", name = "provider", list = super::providers::names().join(", ")))
        }
        "auth" if !text.is_some_and(|t| ["password", "oauth2"].contains(&t)) => Some(crate::t!("config_auth")),
        "tls" if !text.is_some_and(|t| ["implicit", "starttls", "none"].contains(&t)) => Some(crate::t!("config_tls")),
        "start" | "end" if text.is_some_and(|t| super::parse_hhmm(t).is_err()) => {
            Some(crate::t!("config_time", name = name))
        }
        "workdays" if text.is_some_and(|t| super::parse_workdays(t).is_err()) => Some(crate::t!("config_workdays")),
        "mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun"
            if text.is_some_and(|t| crate::workflow::calendar::parse_interval(t).is_err()) =>
        {
            Some(crate::t!("config_day_hours", name = name))
        }
        "calendar"
            if path == "hours"
                && !text.is_some_and(|t| crate::workflow::calendar::shipped_calendars().contains(&t)) =>
        {
            Some(crate::t!("config_calendar", known = crate::workflow::calendar::shipped_calendars().join(", ")))
        }
        "first_response" | "next_response" | "keep_informed"
            if path == "sla" && text.is_some_and(|t| crate::workflow::sla::parse_duration(t, 3600).is_err()) =>
        {
            Some(crate::t!("config_sla_duration", name = name))
        }
        "warn_at" | "at"
            if (path == "sla" || path == "sla.escalate")
                && text.is_some_and(|t| crate::workflow::sla::parse_percent(t).is_err()) =>
        {
            Some(crate::t!("config_sla_share", name = name))
        }
        "calendar" if path == "sla" && !text.is_some_and(|t| ["team", "client"].contains(&t)) => {
            Some(crate::t!("config_sla_calendar"))
        }
        "to" if path == "sla.escalate" && text.is_some_and(|t| t.trim().is_empty()) => Some(crate::t!("config_sla_to")),
        "kind" if path == "sla.match" => match value {
            DeValue::Array(a)
                if a.iter().all(|i| matches!(i.get_ref(), DeValue::String(k) if ChannelKind::parse(k).is_some())) =>
            {
                None
            }
            _ => Some(crate::t!("config_sla_kinds")),
        },
        "webhook_listen" if text.is_some_and(|t| t.parse::<std::net::SocketAddr>().is_err()) => {
            Some(crate::t!("config_webhook_listen"))
        }
        _ => None,
    }
}

/// Rules over several keys of one table, said at the line of the key to change.
fn together(
    text: &str,
    table: &DeTable<'_>,
    path: &str,
    fields: &[Field],
    at: &str,
    preset: bool,
    problems: &mut Vec<String>,
) {
    let get = |name: &str| table.iter().find(|(k, _)| k.get_ref() == name);
    // What a provider preset fills is not missing.
    let filled = |key: &str| {
        preset
            && match path {
                "accounts.email" => key == "imap" || key == "smtp",
                _ => {
                    (path.ends_with(".imap") || path.ends_with(".smtp")) && super::providers::SERVER_KEYS.contains(&key)
                }
            }
    };
    for key in fields.iter().filter(|f| f.required && get(f.name).is_none() && !filled(f.name)).map(|f| f.name) {
        let table = match path.split('.').collect::<Vec<_>>().as_slice() {
            ["accounts", kind] => crate::t!("config_this_account", kind = kind),
            ["sla"] => crate::t!("config_this_sla"),
            [.., server] => format!("`{server}`"),
            [] => String::new(),
        };
        problems.push(format!("{at}: {}", crate::t!("config_has_no", table = table, key = key)));
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
        problems.push(format!("{}: {}", place(text, key), crate::t!("config_end_after_start")));
    }
    let insecure = matches!(get("insecure").map(|(_, v)| v.get_ref()), Some(DeValue::Boolean(true)));
    if (path.ends_with(".imap") || path.ends_with(".smtp"))
        && text_of("tls") == Some("none")
        && !insecure
        && let Some((key, _)) = get("tls")
    {
        problems.push(format!("{}: {}", place(text, key), crate::t!("config_insecure")));
    }
}

fn unknown(name: &str, path: &str, allowed: &[&str]) -> String {
    let shown = crate::sanitize::line(name);
    let table = match path.split('.').collect::<Vec<_>>().as_slice() {
        [""] => crate::t!("config_in_top"),
        ["accounts", kind] => crate::t!("config_in_account", kind = kind),
        ["accounts", kind, server] => crate::t!("config_in_server", server = server, kind = kind),
        _ => crate::t!("config_in_table", table = path),
    };
    let lower = name.to_lowercase();
    if ["password", "pass", "passwd", "secret"].contains(&lower.as_str())
        && (allowed.contains(&"password_command") || allowed.contains(&"imap"))
    {
        let place = if allowed.contains(&"imap") { crate::t!("config_inside_servers") } else { String::new() };
        return crate::t!("config_no_password_here", key = shown, place = place);
    }
    if ["token", "bot_token", "secret", "access_token"].contains(&lower.as_str()) && allowed.contains(&"token_command")
    {
        return crate::t!("config_no_token_here", key = shown);
    }
    match nearest(name, allowed) {
        Some(near) => crate::t!("config_unknown_key_near", key = shown, table = table, near = near),
        None => crate::t!("config_unknown_key", key = shown, table = table, known = allowed.join(", ")),
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
    line_and_column(line, column)
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
                let shown = if *open == '`' && is_key(inside) { inside.as_str() } else { "…" };
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
        let email = names(&account_keys(ChannelKind::Email));
        assert_eq!(nearest("sent_foldr", &email), Some("sent_folder"));
        assert_eq!(nearest("save_snet", &email), Some("save_sent"));
        assert_eq!(nearest("nmae", &email), Some("name"));
        assert_eq!(nearest("zzzzzzzz", &email), None);
    }

    /// The checker knows every key of the config types with its type, the
    /// ones once added to a hand-kept table late included, and every kind of
    /// account serde accepts.
    #[test]
    fn the_schema_is_read_from_the_config_types() {
        fn no_unknown(fields: &[Field], path: &str) {
            for f in fields {
                assert!(!matches!(f.shape, Shape::Unknown), "{path}.{}: the probe cannot read its type", f.name);
                if let Shape::Table(inner) = &f.shape {
                    no_unknown(inner, &format!("{path}.{}", f.name));
                }
            }
        }
        let s = schema();
        no_unknown(&s.top, "");
        let kinds: Vec<&str> = s.kinds.iter().map(|(k, _)| *k).collect();
        assert_eq!(kinds, ["email", "telegram", "whatsapp"]);
        for (kind, keys) in &s.kinds {
            no_unknown(keys, kind);
        }
        let find = |fields: &'static [Field], name: &str| {
            fields.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no `{name}`"))
        };
        let keys_of = |kind: &str| &s.kinds.iter().find(|(k, _)| *k == kind).expect("kind").1;
        let strings = Shape::List(Box::new(Shape::Text));
        let whatsapp = keys_of("whatsapp");
        assert_eq!(find(whatsapp, "app_secret_command").shape, strings);
        assert_eq!(find(whatsapp, "verify_token_command").shape, strings);
        let Shape::Table(guards) = &find(&s.top, "guards").shape else { panic!("guards") };
        assert_eq!(find(guards, "secret_timeout_seconds").shape, Shape::Integer { max: u64::MAX });
        let Shape::Table(imap) = &find(keys_of("email"), "imap").shape else { panic!("imap") };
        assert_eq!(find(imap, "timeout_seconds").shape, Shape::Integer { max: u64::MAX });
        assert_eq!(find(imap, "port").shape, Shape::Integer { max: 65535 });
        let Shape::Table(hours) = &find(&s.top, "hours").shape else { panic!("hours") };
        assert_eq!(find(hours, "fri").shape, Shape::Text);
        let required = |fields: &[Field]| fields.iter().filter(|f| f.required).map(|f| f.name).collect::<Vec<_>>();
        assert_eq!(required(&s.top), Vec::<&str>::new());
        assert_eq!(required(keys_of("email")), ["kind", "name", "address", "imap", "smtp"]);
        assert_eq!(required(imap), ["host", "port", "user"]);
        assert_eq!(required(keys_of("telegram")), ["kind", "name"]);
        assert_eq!(required(whatsapp), ["kind", "name", "phone_number_id"]);
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
