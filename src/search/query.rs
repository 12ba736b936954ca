//! The search query language, parsed into a tree the store can run.
//!
//! `счёт "акт сверки" докум* -черновик from:anna after:7d is:unanswered`:
//! words are ANDed, `"…"` is a phrase, `*` a prefix, `-` excludes, `OR` joins
//! the two atoms beside it. `key:value` narrows (see [`KEYS`]). A query that
//! cannot mean anything is an error with one line saying why, never an empty list.

use crate::model::ChannelKind;
use jiff::civil::Date;

/// Every `key:` the language knows, as shown in the error for an unknown one.
pub const KEYS: &[&str] = &[
    "from", "to", "subject", "client", "tag", "channel", "kind", "has", "is", "after", "before", "note", "in", "name",
    "sort",
];

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum QueryError {
    #[error("unbalanced quote: a phrase opened with \" is not closed")]
    UnbalancedQuote,
    #[error("unknown search key \"{0}:\" (known: {keys})", keys = KEYS.join(": "))]
    UnknownKey(String),
    #[error("\"{0}:\" needs a value, e.g. {0}:{1}")]
    Empty(String, &'static str),
    #[error("\"{key}:{value}\": expected {expected}")]
    BadValue { key: String, value: String, expected: &'static str },
    #[error("\"OR\" needs something on both sides")]
    DanglingOr,
    #[error("\"OR\" joins words with words, name: with name: or filters with filters, not \"{0}\" with \"{1}\"")]
    MixedOr(String, String),
    #[error("the query has nothing to look for")]
    Nothing,
}

impl QueryError {
    /// The message in Russian, for the Russian UI (English is `Display`).
    pub fn russian(&self) -> String {
        match self {
            QueryError::UnbalancedQuote => "незакрытая кавычка: фраза, начатая с \", не закрыта".into(),
            QueryError::UnknownKey(k) => format!("неизвестный ключ поиска «{k}:» (есть: {})", KEYS.join(": ")),
            QueryError::Empty(k, e) => format!("после «{k}:» нужно значение, например {k}:{e}"),
            QueryError::BadValue { key, value, expected } => {
                format!("«{key}:{value}»: ожидается {}", russian_expected(expected))
            }
            QueryError::DanglingOr => "«OR» нужно что-то с обеих сторон".into(),
            QueryError::MixedOr(a, b) => {
                format!("«OR» соединяет слова со словами, name: с name: или фильтры с фильтрами, а не «{a}» с «{b}»")
            }
            QueryError::Nothing => "в запросе нечего искать".into(),
        }
    }
}

fn russian_expected(expected: &str) -> String {
    match expected {
        "email, telegram or whatsapp" => "email, telegram или whatsapp".into(),
        "attachment" => "attachment".into(),
        "notes" => "notes".into(),
        "unanswered, open, overdue, mine or unread" => "unanswered, open, overdue, mine или unread".into(),
        "a date: 2026-11-01, today, yesterday or 7d" => "дата: 2026-11-01, today, yesterday или 7d".into(),
        "relevance or newest" => "relevance или newest".into(),
        other => other.into(),
    }
}

/// Text to find: a word (in any of its forms), a prefix or a phrase.
#[derive(Debug, Clone, PartialEq)]
pub enum Text {
    Word(String),
    Prefix(String),
    Phrase(String),
}

/// Where text is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// Subject, body, author and recipients of a message; body and author of a note.
    Anywhere,
    From,
    To,
    Subject,
    /// Only internal notes.
    Note,
    /// Attachment file names.
    Name,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Is {
    Unanswered,
    Open,
    Overdue,
    Mine,
    Unread,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Client(String),
    /// A tag of the conversation's client, whole (`tag:VIP`).
    Tag(String),
    Channel(String),
    Kind(ChannelKind),
    HasAttachment,
    Is(Is),
    /// On or after this day.
    After(Date),
    /// Strictly before this day.
    Before(Date),
    /// `in:notes`: only internal notes.
    InNotes,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Atom {
    Text(Field, Text),
    Filter(Filter),
}

impl Atom {
    /// What `OR` may join: words with words, file names with file names
    /// (another index), filters with filters.
    fn family(&self) -> u8 {
        match self {
            Atom::Text(Field::Name, _) => 1,
            Atom::Text(..) => 0,
            Atom::Filter(_) => 2,
        }
    }
}

/// One ANDed part of a query: any of its atoms matches (one atom unless `OR`
/// was used), or, negated, none does.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    pub any: Vec<Atom>,
    pub negated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Newest,
    Relevance,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    pub clauses: Vec<Clause>,
    pub sort: Sort,
}

impl Query {
    /// Looks only at internal notes (`in:notes` or any `note:`).
    pub fn notes_only(&self) -> bool {
        self.clauses.iter().any(|c| {
            !c.negated && c.any.iter().all(|a| matches!(a, Atom::Filter(Filter::InNotes) | Atom::Text(Field::Note, _)))
        })
    }

    /// Asks for something notes do not have (recipients, subject, files).
    pub fn messages_only(&self) -> bool {
        self.clauses.iter().any(|c| {
            !c.negated
                && c.any.iter().all(|a| {
                    matches!(
                        a,
                        Atom::Text(Field::To | Field::Subject | Field::Name, _) | Atom::Filter(Filter::HasAttachment)
                    )
                })
        })
    }
}

/// A piece of the input: a word (maybe `key:value`), a phrase, with its `-`.
#[derive(Debug)]
struct Piece {
    negated: bool,
    key: Option<String>,
    value: String,
    quoted: bool,
    raw: String,
}

fn pieces(input: &str) -> Result<Vec<Piece>, QueryError> {
    let mut out = Vec::new();
    let mut chars = input.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let Some(&first) = chars.peek() else { break };
        let mut raw = String::new();
        let negated = first == '-';
        if negated {
            chars.next();
            raw.push('-');
        }
        let mut key = None;
        let mut value = String::new();
        let mut quoted = false;
        loop {
            match chars.peek().copied() {
                None => break,
                Some(c) if c.is_whitespace() => break,
                Some('"') => {
                    chars.next();
                    raw.push('"');
                    quoted = true;
                    let mut closed = false;
                    for c in chars.by_ref() {
                        raw.push(c);
                        if c == '"' {
                            closed = true;
                            break;
                        }
                        value.push(c);
                    }
                    if !closed {
                        return Err(QueryError::UnbalancedQuote);
                    }
                }
                Some(':') if key.is_none() && !quoted && is_key(&value) => {
                    chars.next();
                    raw.push(':');
                    key = Some(value.to_lowercase());
                    value = String::new();
                }
                Some(c) => {
                    chars.next();
                    raw.push(c);
                    value.push(c);
                }
            }
        }
        out.push(Piece { negated, key, value, quoted, raw });
    }
    Ok(out)
}

/// `from`, `is`, `после` … — letters only; `10:30` and `http://` are not keys.
fn is_key(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(char::is_alphabetic)
        && !matches!(s.to_ascii_lowercase().as_str(), "http" | "https" | "mailto" | "ftp")
}

/// Russian names of the keys, for people who think in them.
fn canonical(key: &str) -> &str {
    match key {
        "от" => "from",
        "кому" => "to",
        "тема" => "subject",
        "клиент" => "client",
        "метка" | "тег" => "tag",
        "канал" => "channel",
        "тип" => "kind",
        "есть" => "has",
        "после" | "с" => "after",
        "до" => "before",
        "заметка" => "note",
        "файл" => "name",
        other => other,
    }
}

/// Parses `input`; `today` resolves `today`, `yesterday` and `7d`.
pub fn parse(input: &str, today: Date) -> Result<Query, QueryError> {
    let mut query = Query::default();
    let mut pending_or = false;
    let mut last_raw = String::new();
    for p in pieces(input)? {
        if p.key.is_none() && !p.quoted && !p.negated && p.value == "OR" {
            if pending_or || query.clauses.is_empty() || query.clauses.last().is_some_and(|c| c.negated) {
                return Err(QueryError::DanglingOr);
            }
            pending_or = true;
            continue;
        }
        let atom = match atom(&p, today, &mut query.sort)? {
            Some(a) => a,
            None => continue,
        };
        if pending_or {
            pending_or = false;
            if p.negated {
                return Err(QueryError::DanglingOr);
            }
            let Some(last) = query.clauses.last_mut() else { return Err(QueryError::DanglingOr) };
            if last.any[0].family() != atom.family() {
                return Err(QueryError::MixedOr(last_raw.clone(), p.raw.clone()));
            }
            last.any.push(atom);
        } else {
            query.clauses.push(Clause { any: vec![atom], negated: p.negated });
        }
        last_raw = p.raw;
    }
    if pending_or {
        return Err(QueryError::DanglingOr);
    }
    if query.clauses.is_empty() {
        return Err(QueryError::Nothing);
    }
    Ok(query)
}

/// One piece as an atom; `None` for pieces that only set options or carry no word.
fn atom(p: &Piece, today: Date, sort: &mut Sort) -> Result<Option<Atom>, QueryError> {
    let value = p.value.trim();
    let Some(key) = p.key.as_deref().map(canonical) else {
        return Ok(text(value, p.quoted).map(|t| Atom::Text(Field::Anywhere, t)));
    };
    // «Итого:» is a word with a colon, not a key nobody knows.
    if value.is_empty() && !KEYS.contains(&key) {
        return Ok(text(p.raw.trim_start_matches('-'), false).map(|t| Atom::Text(Field::Anywhere, t)));
    }
    let bad =
        |expected: &'static str| QueryError::BadValue { key: key.to_string(), value: value.to_string(), expected };
    if value.is_empty() {
        return Err(QueryError::Empty(key.to_string(), example(key)));
    }
    let lower = value.to_lowercase();
    let filter = |f: Filter| Ok(Some(Atom::Filter(f)));
    let field = |f: Field| Ok(text(value, p.quoted).map(|t| Atom::Text(f, t)));
    match key {
        "from" => field(Field::From),
        "to" => field(Field::To),
        "subject" => field(Field::Subject),
        "note" => field(Field::Note),
        "name" => field(Field::Name),
        "client" => filter(Filter::Client(value.to_string())),
        "tag" => filter(Filter::Tag(value.to_string())),
        "channel" => filter(Filter::Channel(value.to_string())),
        "kind" => match ChannelKind::parse(&lower) {
            Some(k) => filter(Filter::Kind(k)),
            None => Err(bad("email, telegram or whatsapp")),
        },
        "has" => match lower.as_str() {
            "attachment" | "attachments" | "file" | "files" => filter(Filter::HasAttachment),
            _ => Err(bad("attachment")),
        },
        "in" => match lower.as_str() {
            "notes" | "note" => filter(Filter::InNotes),
            _ => Err(bad("notes")),
        },
        "is" => {
            let is = match lower.as_str() {
                "unanswered" | "waiting" => Is::Unanswered,
                "open" => Is::Open,
                "overdue" => Is::Overdue,
                "mine" => Is::Mine,
                "unread" => Is::Unread,
                _ => return Err(bad("unanswered, open, overdue, mine or unread")),
            };
            filter(Filter::Is(is))
        }
        "after" | "before" => {
            let day = date(&lower, today).ok_or_else(|| bad("a date: 2026-11-01, today, yesterday or 7d"))?;
            filter(if key == "after" { Filter::After(day) } else { Filter::Before(day) })
        }
        "sort" => {
            *sort = match lower.as_str() {
                "relevance" | "rank" => Sort::Relevance,
                "newest" | "date" => Sort::Newest,
                _ => return Err(bad("relevance or newest")),
            };
            Ok(None)
        }
        other => Err(QueryError::UnknownKey(other.to_string())),
    }
}

fn example(key: &str) -> &'static str {
    match key {
        "after" | "before" => "2026-11-01",
        "kind" => "email",
        "has" => "attachment",
        "is" => "unanswered",
        "in" => "notes",
        "sort" => "relevance",
        _ => "word",
    }
}

/// A word, prefix or phrase; `None` when nothing searchable is left (`*`, `—`).
fn text(value: &str, quoted: bool) -> Option<Text> {
    if !value.chars().any(char::is_alphanumeric) {
        return None;
    }
    if quoted {
        return Some(Text::Phrase(value.to_string()));
    }
    if let Some(stem) = value.strip_suffix('*') {
        // Below three letters a prefix matches most of the vocabulary: a word then.
        return Some(if stem.chars().filter(|c| c.is_alphanumeric()).count() >= 3 {
            Text::Prefix(stem.to_string())
        } else {
            Text::Word(stem.to_string())
        });
    }
    Some(Text::Word(value.to_string()))
}

fn date(value: &str, today: Date) -> Option<Date> {
    match value {
        "today" | "сегодня" => return Some(today),
        "yesterday" | "вчера" => return today.yesterday().ok(),
        _ => {}
    }
    if let Some(n) = value.strip_suffix('d').or_else(|| value.strip_suffix('д')) {
        let n: i64 = n.parse().ok()?;
        return today.checked_sub(jiff::Span::new().days(n)).ok();
    }
    value.parse::<Date>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        jiff::civil::date(2026, 12, 1)
    }

    fn p(s: &str) -> Query {
        parse(s, today()).expect(s)
    }

    fn word(w: &str) -> Atom {
        Atom::Text(Field::Anywhere, Text::Word(w.into()))
    }

    #[test]
    fn words_phrases_prefixes_and_exclusions() {
        let q = p(r#"счёт "акт сверки" докум* -черновик"#);
        assert_eq!(q.clauses.len(), 4);
        assert_eq!(q.clauses[0].any, [word("счёт")]);
        assert_eq!(q.clauses[1].any, [Atom::Text(Field::Anywhere, Text::Phrase("акт сверки".into()))]);
        assert_eq!(q.clauses[2].any, [Atom::Text(Field::Anywhere, Text::Prefix("докум".into()))]);
        assert!(q.clauses[3].negated);
    }

    #[test]
    fn or_joins_the_atoms_beside_it() {
        let q = p("акт OR счёт оплата");
        assert_eq!(q.clauses.len(), 2);
        assert_eq!(q.clauses[0].any, [word("акт"), word("счёт")]);
        let q = p("kind:email OR kind:telegram");
        assert_eq!(q.clauses[0].any.len(), 2);
        assert_eq!(parse("акт OR", today()), Err(QueryError::DanglingOr));
        assert_eq!(parse("OR акт", today()), Err(QueryError::DanglingOr));
        assert_eq!(p("акт OR from:anna").clauses[0].any.len(), 2);
        assert!(matches!(parse("акт OR kind:email", today()), Err(QueryError::MixedOr(..))));
        assert!(matches!(parse("акт OR name:акт", today()), Err(QueryError::MixedOr(..))));
    }

    #[test]
    fn keys_and_values() {
        let q = p(
            r#"from:"Анна Петрова" to:irina@firm.ru subject:акт client:Ромашка channel:Почта kind:telegram has:attachment is:overdue in:notes name:акт sort:relevance"#,
        );
        assert_eq!(q.sort, Sort::Relevance);
        assert_eq!(q.clauses[0].any, [Atom::Text(Field::From, Text::Phrase("Анна Петрова".into()))]);
        assert_eq!(q.clauses[5].any, [Atom::Filter(Filter::Kind(ChannelKind::Telegram))]);
        assert!(q.notes_only() && q.messages_only());
        let d = |s: &str| match &p(s).clauses[0].any[0] {
            Atom::Filter(Filter::After(d) | Filter::Before(d)) => *d,
            other => panic!("{other:?}"),
        };
        assert_eq!(d("after:2026-11-01"), jiff::civil::date(2026, 11, 1));
        assert_eq!(d("before:today"), today());
        assert_eq!(d("after:yesterday"), jiff::civil::date(2026, 11, 30));
        assert_eq!(d("after:7d"), jiff::civil::date(2026, 11, 24));
        // Russian names of keys.
        assert_eq!(p("от:анна").clauses[0].any, [Atom::Text(Field::From, Text::Word("анна".into()))]);
        assert_eq!(d("после:2026-11-01"), jiff::civil::date(2026, 11, 1));
        // Not keys: times and links are words.
        assert_eq!(p("10:30").clauses[0].any, [word("10:30")]);
        assert_eq!(p("https://x.ru").clauses.len(), 1);
    }

    #[test]
    fn errors_say_what_is_wrong() {
        let e = |s: &str| parse(s, today()).expect_err(s).to_string();
        assert!(e(r#""акт сверки"#).contains("unbalanced quote"));
        assert!(e("foo:bar").contains(r#"unknown search key "foo:""#));
        assert!(e("срок:пятница").contains(r#"unknown search key "срок:""#));
        assert_eq!(p("Итого:").clauses[0].any, [word("Итого:")]);
        assert!(e("from:").contains("needs a value"));
        assert!(e("after:вчерашний").contains("expected a date"));
        assert!(e("is:закрыт").contains("unanswered"));
        assert!(e("kind:fax").contains("email"));
        assert_eq!(parse("  ", today()), Err(QueryError::Nothing));
        let ru = |s: &str| parse(s, today()).expect_err(s).russian();
        assert!(ru(r#""акт"#).contains("незакрытая кавычка"));
        assert!(ru("foo:bar").contains("неизвестный ключ поиска «foo:»"));
        assert!(ru("after:x").contains("ожидается дата"));
        assert_eq!(parse("* —", today()), Err(QueryError::Nothing));
    }
}
