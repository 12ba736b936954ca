//! Russian search on PostgreSQL with pult's own words (`search::words`),
//! not PostgreSQL's dictionaries: `to_tsvector('russian', …)` drops «не»,
//! «от», «и», makes «ООО» `оо`, splits «18 300» and stems «авансового» apart
//! from «аванс». So pult makes the terms — the same function that feeds
//! SQLite's FTS5 — and hands PostgreSQL a `tsvector` of them; a query is
//! compiled here into a `tsquery` of quoted terms, and what a person typed
//! never reaches `to_tsquery`.
//!
//! Columns become weights (a message: subject A, body B, people C,
//! recipients D; a note: body A, author B), so `from:` and `subject:` are
//! weight restrictions. Positions run across the columns with a gap between
//! them, so a phrase never joins the end of one column to the start of the
//! next.

use crate::search::query::{Field, Text};
use crate::search::words::{self, Mode, Words};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A column's weight in the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Weight {
    A,
    B,
    C,
    D,
}

impl Weight {
    fn letter(self) -> char {
        match self {
            Weight::A => 'A',
            Weight::B => 'B',
            Weight::C => 'C',
            Weight::D => 'D',
        }
    }
}

/// PostgreSQL keeps positions up to this; later words all share it.
const MAX_POSITION: u32 = 16_383;
/// PostgreSQL keeps this many positions of one lexeme.
const MAX_POSITIONS_PER_TERM: usize = 256;
/// A tsvector may not exceed 1 MB; a document whose terms would is indexed
/// up to there (a huge mail is still found by its first ~100,000 distinct words).
const MAX_DOCUMENT_BYTES: usize = 900_000;

/// The `tsvector` literal of a document's columns, for `CAST(? AS tsvector)`.
pub fn document(words: &mut Words, columns: &[(&str, Weight)]) -> String {
    let mut terms: BTreeMap<String, Vec<(u32, Weight)>> = BTreeMap::new();
    let mut position = 0u32;
    let mut size = 0usize;
    for (text, weight) in columns {
        let _ = words.each::<()>(text, Mode::Document, |term, _, _, colocated| {
            if !colocated {
                position = (position + 1).min(MAX_POSITION);
            }
            let at = position.max(1);
            match terms.get_mut(term) {
                Some(list) if list.len() < MAX_POSITIONS_PER_TERM => list.push((at, *weight)),
                Some(_) => {}
                None if size + term.len() + 16 <= MAX_DOCUMENT_BYTES => {
                    size += term.len() + 16;
                    terms.insert(term.to_string(), vec![(at, *weight)]);
                }
                None => {}
            }
            Ok(())
        });
        // A gap: the next column's first word is not next to this one's last.
        position = (position + 1).min(MAX_POSITION);
    }
    let mut out = String::with_capacity(size);
    for (term, positions) in terms {
        if !out.is_empty() {
            out.push(' ');
        }
        quote_into(&term, &mut out);
        out.push(':');
        for (i, (at, weight)) in positions.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{at}");
            // D is PostgreSQL's default and is not written.
            if *weight != Weight::D {
                out.push(weight.letter());
            }
        }
    }
    out
}

/// A lexeme quoted for a tsvector or tsquery literal.
fn quote_into(term: &str, out: &mut String) {
    out.push('\'');
    for c in term.chars() {
        match c {
            '\'' => out.push_str("''"),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('\'');
}

/// Where a field looks, as weights of a message or of a note; `None` when
/// the field cannot match in that table (as in SQLite's `fts_text`).
fn weights(field: Field, notes: bool) -> Option<&'static str> {
    Some(match (field, notes) {
        (Field::Anywhere, _) => "",
        (Field::From, false) => "C",
        (Field::From, true) => "B",
        (Field::To, false) => "D",
        (Field::Subject, false) => "A",
        (Field::Note, true) => "A",
        (Field::To | Field::Subject | Field::Name, true) | (Field::Note | Field::Name, false) => return None,
    })
}

/// One text atom as a `tsquery` literal: a word in all its forms, a phrase
/// (its terms next to each other), or a prefix. `None` when it cannot match
/// in that table; a text with no words matches nothing (`''`-free `!''`
/// is not valid, so an impossible term stands for it).
pub fn query(words: &mut Words, field: Field, text: &Text, notes: bool) -> Option<String> {
    let weights = weights(field, notes)?;
    let operand = |term: &str, prefix: bool| {
        let mut out = String::new();
        quote_into(term, &mut out);
        if prefix || !weights.is_empty() {
            out.push(':');
        }
        if prefix {
            out.push('*');
        }
        out.push_str(weights);
        out
    };
    let (terms, prefix) = match text {
        Text::Word(w) | Text::Phrase(w) => (words.terms(w, Mode::Query), false),
        Text::Prefix(p) => (words.terms(p, Mode::Prefix), true),
    };
    if terms.is_empty() {
        return Some(operand(NOTHING, false));
    }
    let last = terms.len() - 1;
    let parts: Vec<String> = terms.iter().enumerate().map(|(i, t)| operand(t, prefix && i == last)).collect();
    Some(if parts.len() == 1 {
        parts.into_iter().next().unwrap_or_default()
    } else {
        format!("({})", parts.join(" <-> "))
    })
}

/// The words of a parsed query as one `tsquery` for messages (`notes`: for
/// notes): clauses ANDed, `OR` inside a clause, `-` as `!`. Filters and file
/// names are not text of this index and are left to SQL around it; `None`
/// when no clause is text of this table, or a positive one cannot match here.
pub fn text_query(words: &mut Words, q: &crate::search::query::Query, notes: bool) -> Option<Option<String>> {
    use crate::search::query::Atom;
    let mut parts = Vec::new();
    for clause in &q.clauses {
        let texts: Vec<String> = clause
            .any
            .iter()
            .filter_map(|a| match a {
                Atom::Text(Field::Name, _) | Atom::Filter(_) => None,
                Atom::Text(field, text) => query(words, *field, text, notes),
            })
            .collect();
        let is_text = clause.any.iter().any(|a| matches!(a, Atom::Text(f, _) if *f != Field::Name));
        if !is_text {
            continue;
        }
        if texts.is_empty() {
            if clause.negated {
                continue; // excluding what this table cannot have excludes nothing
            }
            return None;
        }
        let any = if texts.len() == 1 { texts[0].clone() } else { format!("({})", texts.join(" | ")) };
        parts.push(if clause.negated { format!("!{any}") } else { any });
    }
    Some((!parts.is_empty()).then(|| parts.join(" & ")))
}

/// How many hits make a word "common": up to this many, the GIN index
/// finds them all and they are sorted; past it, the newest are read first.
pub const FEW_HITS: i64 = 5_000;

/// The newest hits of a `tsquery` ($1, as text) up to $2 of them. GIN
/// finds matches in no order, and the planner, which cannot know how many a
/// word has, guesses; pult asks first ([`COUNT_UP_TO_FEW`]) and says which
/// way to read: `few` — every match from the index, then the newest
/// (MATERIALIZED keeps the planner from walking all keys instead);
/// otherwise — keys newest first, each checked, which stops after a page.
pub fn newest_hits_sql(few: bool) -> &'static str {
    if few {
        "WITH hits AS MATERIALIZED (SELECT key, message_id FROM search_keys WHERE terms @@ CAST($1::text AS tsquery))
         SELECT message_id FROM hits ORDER BY key DESC LIMIT $2"
    } else {
        "SELECT message_id FROM search_keys WHERE terms @@ CAST($1::text AS tsquery) ORDER BY key DESC LIMIT $2"
    }
}

/// Matches of a `tsquery` ($1) counted up to [`FEW_HITS`] + 1, from the index.
pub const COUNT_UP_TO_FEW: &str = "SELECT count(*) FROM (SELECT 1 FROM search_keys
     WHERE terms @@ CAST($1::text AS tsquery) LIMIT 5001) AS hits";

/// A term no document has (control characters are never word characters).
const NOTHING: &str = "\u{1}\u{2}";

/// The terms a message is found by, from its stored columns, as SQLite's
/// `messages_search_*` triggers compute them.
pub fn message_document(
    words: &mut Words,
    subject: Option<&str>,
    body: &str,
    transcript: Option<&str>,
    people: &str,
    recipients: &str,
) -> String {
    let mut authored = crate::search::authored::authored(body).into_owned();
    if let Some(t) = transcript {
        authored.push('\n');
        authored.push_str(t);
    }
    document(
        words,
        &[(subject.unwrap_or(""), Weight::A), (&authored, Weight::B), (people, Weight::C), (recipients, Weight::D)],
    )
}

/// Search keys grow with a message's date: its second, shifted, plus a
/// counter for messages of the same second (SQLite's `search_keys`).
const KEY_SHIFT: u32 = 20;

/// Makes or renews the search terms of something written (`Conn::reindex`).
pub fn reindex(c: &dyn crate::store::sql::Conn, what: crate::store::sql::Searchable) -> crate::store::Result<()> {
    use crate::store::sql::Searchable;
    let upsert = |table: &str, key: &str, id: i64, columns: &[(&str, Weight)]| -> crate::store::Result<()> {
        let terms = with_words(|w| document(w, columns));
        c.exec(
            &format!(
                "INSERT INTO {table} ({key}, terms) VALUES (?1, CAST(CAST(?2 AS TEXT) AS tsvector))
                 ON CONFLICT ({key}) DO UPDATE SET terms = excluded.terms"
            ),
            &[&id, &terms],
        )?;
        Ok(())
    };
    match what {
        Searchable::Message(id) => index_message(c, id),
        Searchable::Note(id) => {
            let Some((body, author)) = c.opt("SELECT body, actor FROM notes WHERE id = ?1", &[&id], |r| {
                Ok((r.get::<String>(0)?, r.get::<String>(1)?))
            })?
            else {
                return Ok(());
            };
            upsert("notes_search", "note_id", id, &[(&body, Weight::A), (&author, Weight::B)])
        }
        Searchable::Attachment(id) => {
            let Some(name) = c.opt("SELECT name FROM attachments WHERE id = ?1", &[&id], |r| r.get::<String>(0))?
            else {
                return Ok(());
            };
            upsert("attachments_search", "attachment_id", id, &[(&name, Weight::A)])
        }
        Searchable::Conversation(id) => {
            let Some((title, client)) = c.opt(
                "SELECT c.title, coalesce(k.name || ' ' || coalesce(k.organisation, ''), '')
                 FROM conversations c LEFT JOIN contacts k ON k.id = c.contact_id WHERE c.id = ?1",
                &[&id],
                |r| Ok((r.get::<String>(0)?, r.get::<String>(1)?)),
            )?
            else {
                return Ok(());
            };
            upsert("clients_search", "conversation_id", id, &[(&title, Weight::A), (&client, Weight::B)])
        }
        Searchable::Client(contact) => {
            for id in c.all("SELECT id FROM conversations WHERE contact_id = ?1", &[&contact], |r| r.get::<i64>(0))? {
                reindex(c, Searchable::Conversation(id))?;
            }
            Ok(())
        }
    }
}

/// Makes or renews a message's search terms, keyed as SQLite keys them.
fn index_message(c: &dyn crate::store::sql::Conn, id: i64) -> crate::store::Result<()> {
    let Some((subject, body, transcript, people, to, cc, names, sent_at, key)) = c.opt(
        "SELECT m.subject, m.body, m.transcript, m.author || ' ' || coalesce(i.handle, ''), m.recipients, m.cc,
                m.names, m.sent_at, k.key
         FROM messages m LEFT JOIN identities i ON i.id = m.author_identity_id
         LEFT JOIN search_keys k ON k.message_id = m.id WHERE m.id = ?1",
        &[&id],
        |r| {
            Ok((
                r.get::<Option<String>>(0)?,
                r.get::<String>(1)?,
                r.get::<Option<String>>(2)?,
                r.get::<String>(3)?,
                r.get::<Option<String>>(4)?,
                r.get::<Option<String>>(5)?,
                r.get::<Option<String>>(6)?,
                r.get::<i64>(7)?,
                r.get::<Option<i64>>(8)?,
            ))
        },
    )?
    else {
        return Ok(());
    };
    let recipients = crate::store::search::recipients_text(to.as_deref(), cc.as_deref(), names.as_deref());
    let terms =
        with_words(|w| message_document(w, subject.as_deref(), &body, transcript.as_deref(), &people, &recipients));
    if key.is_some() {
        c.exec(
            "UPDATE search_keys SET terms = CAST(CAST(?2 AS TEXT) AS tsvector) WHERE message_id = ?1",
            &[&id, &terms],
        )?;
        return Ok(());
    }
    let (lo, hi) = (sent_at << KEY_SHIFT, (sent_at + 1) << KEY_SHIFT);
    let next: i64 =
        c.one("SELECT coalesce(max(key) + 1, ?1) FROM search_keys WHERE key >= ?1 AND key < ?2", &[&lo, &hi], |r| {
            r.get(0)
        })?;
    // A second with a million messages spills past its range, as in SQLite.
    let key = if next < hi { next } else { c.one("SELECT max(key) + 1 FROM search_keys", &[], |r| r.get(0))? };
    c.exec(
        "INSERT INTO search_keys (key, message_id, terms) VALUES (?1, ?2, CAST(CAST(?3 AS TEXT) AS tsvector))",
        &[&key, &id, &terms],
    )?;
    Ok(())
}

/// `words::with_words` for callers that only need one document.
pub fn with_words<R>(f: impl FnOnce(&mut Words) -> R) -> R {
    words::with_words(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_keeps_every_word_form_and_column() {
        let mut w = Words::new();
        let v = document(&mut w, &[("Счёт", Weight::A), ("ООО не оплатило 18 300", Weight::B)]);
        // «не» is a word here, «ООО» the same term a query for it makes (its
        // stem), 18 300 is also 18300 at the last group's place.
        assert!(v.contains("'оо':3B"), "{v}");
        assert!(v.contains("'не':4B"), "{v}");
        assert!(v.contains("'18300':7B"), "{v}");
        assert!(v.contains("'счет':1A"), "{v}");
    }

    #[test]
    fn what_a_person_types_stays_inside_quotes() {
        let mut w = Words::new();
        let q = query(&mut w, Field::Anywhere, &Text::Phrase("акт' | !сверки & <-> :*".into()), false).unwrap();
        assert_eq!(q, "('акт' <-> 'сверк')");
        let q = query(&mut w, Field::From, &Text::Prefix("Ивано".into()), false).unwrap();
        assert_eq!(q, "'ивано':*C");
        let q = query(&mut w, Field::Anywhere, &Text::Word("'\\".into()), false).unwrap();
        assert!(q.starts_with('\'') && q.ends_with('\''), "{q}");
        assert_eq!(query(&mut w, Field::Name, &Text::Word("x".into()), false), None);
    }
}
