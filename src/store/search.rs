//! Runs a parsed search query against the indexes, newest first.
//!
//! Words go to the FTS5 index (`messages_fts`, `notes_fts`, `attachments_fts`,
//! all tokenized by `pult`); filters become SQL on the message, its
//! conversation and channel. The index's rowid is a search key that grows with
//! the message's date (`search_keys`), so "newest first" is the index's own
//! order, and a date range is a range of keys.
//!
//! On PostgreSQL the same parsed query is compiled by `pg::tsearch` into a
//! `tsquery` of pult's own terms over `search_keys` (same keys, same order);
//! the filters are the same SQL, but for the few that SQLite answers with its
//! own functions (`search_contains`, FTS5 `MATCH` on client and file names).

use super::pg::tsearch;
use super::sql::{Conn, Engine, ToValue, Value, WithConn as _};
use super::{Reader, Result};
use crate::clock::Clock;
use crate::model::{ChannelKind, HitKind, SearchHit};
use crate::sanitize;
use crate::search::query::{self, Atom, Clause, Field, Filter, Is, Query, Sort, Text};
use crate::search::words::{self, Mode, Terms, Words};
use rusqlite::OptionalExtension as _;

/// Snippets are cut to about this many characters around the first match.
const SNIPPET_CHARS: usize = 120;

/// How a date becomes a search key (see the migration that made `search_keys`).
const KEY_SHIFT: i64 = 20;

/// What `to:` finds: the addresses a message went to (JSON arrays) and their
/// display names from `names` (a JSON object address → name), not the sender's.
pub fn recipients_text(to: Option<&str>, cc: Option<&str>, names: Option<&str>) -> String {
    let mut addresses: Vec<String> = Vec::new();
    for list in [to, cc].into_iter().flatten() {
        match serde_json::from_str::<Vec<String>>(list) {
            Ok(v) => addresses.extend(v),
            Err(_) => addresses.push(list.to_string()),
        }
    }
    let mut out = addresses.join(" ");
    if let Some(map) = names.and_then(|n| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(n).ok()) {
        for (address, name) in map {
            if addresses.iter().any(|a| a.eq_ignore_ascii_case(&address))
                && let Some(name) = name.as_str()
            {
                out.push(' ');
                out.push_str(name);
            }
        }
    }
    out
}

/// A query as SQL: the FTS5 expressions and the WHERE conditions with their values.
#[derive(Default, Clone)]
struct Plan {
    /// ANDed positive text, as an FTS5 expression over `messages_fts`/`notes_fts`.
    positive: Vec<String>,
    negative: Vec<String>,
    conditions: Vec<String>,
    /// Which of `conditions` look at the conversation only (its state, client,
    /// channel): a query of only such filters may start from the conversations.
    conversation_level: Vec<usize>,
    values: Vec<Value>,
    /// Search keys from (inclusive) and to (exclusive): the date range.
    from_key: Option<i64>,
    until_key: Option<i64>,
}

impl Plan {
    fn bind(&mut self, v: impl ToValue) -> String {
        self.values.push(v.to_value());
        format!("?{}", self.values.len())
    }

    /// Puts the words against the index `fts` (aliased `f` when used) into the
    /// conditions; `id` is the row's key in that index. True when the index
    /// drives the query.
    fn match_text(&mut self, fts: &str, id: &str) -> bool {
        if self.positive.is_empty() {
            if !self.negative.is_empty() {
                let v = self.bind(self.negative.join(" OR "));
                self.conditions.push(format!("{id} NOT IN (SELECT rowid FROM {fts} WHERE {fts} MATCH {v})"));
            }
            return false;
        }
        let mut expr = self.positive.join(" AND ");
        for n in &self.negative {
            expr = format!("({expr}) NOT {n}");
        }
        let v = self.bind(expr);
        self.conditions.insert(0, format!("{fts} MATCH {v}"));
        true
    }
}

fn fts_string(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// Index terms a prefix stands for, when they are few (see `Reader::expand_prefix`);
/// `None` to search the prefix as such.
type Expand<'a> = dyn FnMut(&str) -> Result<Option<Vec<String>>> + 'a;

/// Prefixes standing for more terms than this are left to FTS5's prefix search.
const MAX_EXPANSION: usize = 24;

/// One text atom as an FTS5 expression for messages (`notes` = for notes).
/// `None` when the atom cannot match in that table at all.
fn fts_text(field: Field, text: &Text, notes: bool, expand: &mut Expand<'_>) -> Result<Option<String>> {
    let column = match (field, notes) {
        (Field::Anywhere, _) => None,
        (Field::From, false) => Some("people"),
        (Field::From, true) => Some("author"),
        (Field::To, false) => Some("recipients"),
        (Field::Subject, false) => Some("subject"),
        (Field::Note, true) => Some("body"),
        (Field::To | Field::Subject | Field::Name, true) | (Field::Note | Field::Name, false) => return Ok(None),
    };
    let with_column = |term: String| match column {
        Some(c) => format!("{c} : {term}"),
        None => term,
    };
    Ok(Some(match text {
        Text::Word(w) | Text::Phrase(w) => with_column(fts_string(w)),
        Text::Prefix(p) => match expand(p)? {
            // No term begins so: a phrase that cannot occur.
            Some(terms) if terms.is_empty() => with_column(fts_string(&format!("{}\u{2}", words::EXACT))),
            Some(terms) => {
                let any: Vec<String> =
                    terms.iter().map(|t| with_column(fts_string(&format!("{}{t}", words::EXACT)))).collect();
                format!("({})", any.join(" OR "))
            }
            None => with_column(format!("{} *", fts_string(p))),
        },
    }))
}

/// Where a hit comes from.
#[derive(Clone, Copy, PartialEq)]
enum Table {
    Messages,
    Notes,
}

struct Context<'a> {
    clock: &'a Clock,
    me: &'a str,
    engine: Engine,
    /// What PostgreSQL's filters match in Rust (names folded as SQLite's
    /// `search_contains` folds them): read only when the query asks.
    names: Names,
}

/// Channel names and clients' tags, by id (PostgreSQL only; see [`Context::names`]).
#[derive(Default)]
struct Names {
    channels: Vec<(i64, String)>,
    tags: Vec<(i64, String)>,
}

/// `column IN (…)` of ids bound as one JSON array (the statement's text
/// stays the same whatever the ids, so PostgreSQL prepares it once).
fn in_ids(column: &str, ids: Vec<i64>, plan: &mut Plan) -> String {
    let v = plan.bind(serde_json::Value::from(ids).to_string());
    format!("{column} IN (SELECT CAST(value AS BIGINT) FROM json_array_elements_text(CAST(CAST({v} AS TEXT) AS json)))")
}

/// A tsquery literal bound, as the condition `terms` (of `alias`) matches it.
fn tsquery_matches(alias: &str, tsquery: String, plan: &mut Plan) -> String {
    let v = plan.bind(tsquery);
    format!("{alias}terms @@ CAST(CAST({v} AS TEXT) AS tsquery)")
}

fn day_start(clock: &Clock, day: jiff::civil::Date) -> i64 {
    day.to_zoned(clock.tz().clone()).map(|z| z.timestamp().as_second()).unwrap_or(0)
}

/// The condition of one filter (on `m`/`n`, `c`, `ch`), or `None` when it
/// cannot hold for this table.
fn filter_sql(f: &Filter, table: Table, plan: &mut Plan, cx: &Context<'_>) -> Option<String> {
    let date = if table == Table::Messages { "m.sent_at" } else { "n.created_at" };
    Some(match f {
        // The client's name or organisation, or the conversation's title, in their word forms.
        Filter::Client(name) if cx.engine == Engine::Postgres => {
            let m = tsquery_matches("", client_tsquery(name), plan);
            format!("c.id IN (SELECT conversation_id FROM clients_search WHERE {m})")
        }
        Filter::Client(name) => {
            let v = plan.bind(client_expression(name));
            format!("c.id IN (SELECT rowid FROM clients_fts WHERE clients_fts MATCH {v})")
        }
        Filter::Tag(tag) if cx.engine == Engine::Postgres => {
            let needle = format!(",{},", folded(tag.trim()));
            let ids = cx
                .names
                .tags
                .iter()
                .filter(|(_, tags)| folded(&format!(",{},", tags.replace(", ", ","))).contains(&needle))
                .map(|(id, _)| *id)
                .collect();
            in_ids("c.contact_id", ids, plan)
        }
        Filter::Tag(tag) => {
            let v = plan.bind(format!(",{},", folded(tag.trim())));
            format!(
                "c.contact_id IN (SELECT id FROM contacts WHERE tags IS NOT NULL
                   AND search_contains(',' || replace(tags, ', ', ',') || ',', {v}))"
            )
        }
        Filter::Channel(name) if cx.engine == Engine::Postgres => {
            let needle = folded(name);
            let ids =
                cx.names.channels.iter().filter(|(_, n)| folded(n).contains(&needle)).map(|(id, _)| *id).collect();
            in_ids("c.channel_id", ids, plan)
        }
        // The channels are found once, not looked at for every message read.
        Filter::Channel(name) => {
            format!(
                "c.channel_id IN (SELECT id FROM channels WHERE search_contains(name, {}))",
                plan.bind(folded(name))
            )
        }
        Filter::Kind(k) => {
            format!("c.channel_id IN (SELECT id FROM channels WHERE kind = {})", plan.bind(k.as_str().to_string()))
        }
        Filter::HasAttachment if table == Table::Messages => {
            "EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id)".into()
        }
        Filter::HasAttachment => return None,
        // As the Unanswered view: a snoozed conversation waits again when it wakes.
        Filter::Is(Is::Unanswered) => {
            let now = plan.bind(cx.clock.now());
            format!(
                "(c.waiting_since IS NOT NULL AND c.status = 'open' AND (c.snoozed_until IS NULL OR c.snoozed_until <= {now}))"
            )
        }
        Filter::Is(Is::Open) => "c.status = 'open'".into(),
        Filter::Is(Is::Overdue) => format!(
            "c.id IN (SELECT conversation_id FROM tasks WHERE state = 'accepted' AND deadline < {})",
            plan.bind(cx.clock.now())
        ),
        Filter::Is(Is::Mine) => format!("c.assignee = {}", plan.bind(cx.me.to_string())),
        Filter::Is(Is::Unread) => format!(
            "c.last_inbound_id > coalesce((SELECT message_id FROM read_marks WHERE conversation_id = c.id AND actor = {}), 0)",
            plan.bind(cx.me.to_string())
        ),
        Filter::After(d) => format!("{date} >= {}", plan.bind(day_start(cx.clock, *d))),
        Filter::Before(d) => format!("{date} < {}", plan.bind(day_start(cx.clock, *d))),
        Filter::InNotes if table == Table::Notes => "1 = 1".into(),
        Filter::InNotes => return None,
    })
}

/// `client:` words as an FTS5 expression: every word, `word*` a prefix.
fn client_expression(value: &str) -> String {
    let words: Vec<String> = value
        .split_whitespace()
        .filter(|w| w.chars().any(char::is_alphanumeric))
        .map(|w| match w.strip_suffix('*') {
            Some(p) => format!("{} *", fts_string(p)),
            None => fts_string(w),
        })
        .collect();
    // Nothing to look for in the name: a term no text has.
    if words.is_empty() { fts_string(&format!("{}\u{2}", words::EXACT)) } else { words.join(" AND ") }
}

/// `client:` words as a `tsquery` of pult's terms (PostgreSQL's
/// `clients_search`): every word, `word*` a prefix.
fn client_tsquery(value: &str) -> String {
    words::with_words(|w| {
        let parts: Vec<String> = value
            .split_whitespace()
            .filter(|v| v.chars().any(char::is_alphanumeric))
            .filter_map(|v| {
                let text = match v.strip_suffix('*') {
                    Some(p) => Text::Prefix(p.to_string()),
                    None => Text::Word(v.to_string()),
                };
                tsearch::query(w, Field::Anywhere, &text, false)
            })
            .collect();
        if parts.is_empty() {
            // Nothing to look for in the name: a term no text has.
            tsearch::query(w, Field::Anywhere, &Text::Word(String::new()), false).unwrap_or_default()
        } else {
            parts.join(" & ")
        }
    })
}

fn folded(s: &str) -> String {
    let mut out = String::new();
    words::fold_into(s, &mut out);
    out
}

/// The plan of `query` for one table; `None` when nothing in that table can match.
fn plan(query: &Query, table: Table, cx: &Context<'_>, expand: &mut Expand<'_>) -> Result<Option<Plan>> {
    let mut plan = Plan::default();
    for Clause { any, negated } in &query.clauses {
        if matches!(any[0], Atom::Text(..)) {
            // The parser lets `OR` join file names only with file names.
            if matches!(any[0], Atom::Text(Field::Name, _)) {
                if table == Table::Notes {
                    if *negated {
                        continue;
                    }
                    return Ok(None);
                }
                // Attachment names live in their own index (searched by prefix as
                // such): an IN over it.
                let cond = if cx.engine == Engine::Postgres {
                    let names: Vec<String> = words::with_words(|w| {
                        any.iter()
                            .filter_map(|a| match a {
                                Atom::Text(_, t) => tsearch::query(w, Field::Anywhere, t, false),
                                Atom::Filter(_) => None,
                            })
                            .collect()
                    });
                    let m = tsquery_matches("", names.join(" | "), &mut plan);
                    format!(
                        "m.id IN (SELECT a.message_id FROM attachments a WHERE a.id IN \
                         (SELECT attachment_id FROM attachments_search WHERE {m}))"
                    )
                } else {
                    let mut names = Vec::new();
                    for a in any {
                        if let Atom::Text(_, t) = a {
                            names.extend(fts_text(Field::Anywhere, t, false, &mut |_| Ok(None))?);
                        }
                    }
                    let v = plan.bind(names.join(" OR "));
                    format!(
                        "m.id IN (SELECT a.message_id FROM attachments a WHERE a.id IN \
                         (SELECT rowid FROM attachments_fts WHERE attachments_fts MATCH {v}))"
                    )
                };
                plan.conditions.push(if *negated { format!("NOT {cond}") } else { cond });
                continue;
            }
            let mut text: Vec<String> = Vec::new();
            for a in any {
                if let Atom::Text(f, t) = a {
                    text.extend(fts_text(*f, t, table == Table::Notes, expand)?);
                }
            }
            if text.is_empty() {
                if *negated {
                    continue; // excluding what this table cannot have excludes nothing
                }
                return Ok(None);
            }
            let expr = if text.len() == 1 { text[0].clone() } else { format!("({})", text.join(" OR ")) };
            if *negated { plan.negative.push(expr) } else { plan.positive.push(expr) }
        } else {
            let mut parts = Vec::new();
            for a in any {
                if let Atom::Filter(f) = a {
                    // Dates on messages are key ranges, read straight from the index.
                    if table == Table::Messages && !negated && any.len() == 1 {
                        match f {
                            Filter::After(d) => {
                                let k = day_start(cx.clock, *d) << KEY_SHIFT;
                                plan.from_key = Some(plan.from_key.map_or(k, |o| o.max(k)));
                                continue;
                            }
                            Filter::Before(d) => {
                                let k = day_start(cx.clock, *d) << KEY_SHIFT;
                                plan.until_key = Some(plan.until_key.map_or(k, |o| o.min(k)));
                                continue;
                            }
                            _ => {}
                        }
                    }
                    if let Some(sql) = filter_sql(f, table, &mut plan, cx) {
                        parts.push(sql);
                    }
                }
            }
            if parts.is_empty() {
                let dates_only = any.iter().all(|a| matches!(a, Atom::Filter(Filter::After(_) | Filter::Before(_))));
                if *negated || (table == Table::Messages && dates_only) {
                    continue;
                }
                return Ok(None);
            }
            let cond = if parts.len() == 1 { parts.remove(0) } else { format!("({})", parts.join(" OR ")) };
            if any.iter().all(|a| {
                matches!(
                    a,
                    Atom::Filter(
                        Filter::Client(_) | Filter::Tag(_) | Filter::Channel(_) | Filter::Kind(_) | Filter::Is(_)
                    )
                )
            }) {
                plan.conversation_level.push(plan.conditions.len());
            }
            plan.conditions.push(if *negated { format!("NOT {cond}") } else { cond });
        }
    }
    Ok(Some(plan))
}

/// What to highlight: the terms of the positive words of the query.
fn highlight_terms(query: &Query, words: &mut Words) -> Terms {
    let mut terms = Terms::default();
    for c in query.clauses.iter().filter(|c| !c.negated) {
        for a in &c.any {
            if let Atom::Text(Field::Anywhere | Field::Subject | Field::Note, t) = a {
                match t {
                    Text::Word(w) | Text::Phrase(w) => terms.whole.extend(words.terms(w, Mode::Query)),
                    Text::Prefix(p) => terms.prefixes.extend(words.terms(p, Mode::Prefix)),
                }
            }
        }
    }
    terms
}

/// The query's words folded but not stemmed: the forms as typed.
fn exact_words(query: &Query, words: &mut Words) -> Vec<String> {
    let mut out = Vec::new();
    for c in query.clauses.iter().filter(|c| !c.negated) {
        for a in &c.any {
            if let Atom::Text(_, Text::Word(w) | Text::Phrase(w)) = a {
                out.extend(words.terms(w, Mode::Prefix));
            }
        }
    }
    out
}

fn has_exact(words: &mut Words, text: &str, exact: &[String]) -> bool {
    !exact.is_empty() && words.terms(text, Mode::Prefix).iter().any(|t| exact.contains(t))
}

/// Terms of a query typed in the TUI, for `n`/`N` and highlighting in a thread.
pub fn terms_of(input: &str, today: jiff::civil::Date) -> Terms {
    match query::parse(input, today) {
        Ok(q) => words::with_words(|w| highlight_terms(&q, w)),
        Err(_) => Terms::default(),
    }
}

/// A snippet of `text` around its first match, as one sanitised line, with the
/// byte ranges of every match inside it. Only the text's first
/// [`words::MATCH_SCAN`] bytes are looked at, and only the snippet is searched
/// for its marks: a 30 MB mail costs no more than a short one.
pub fn snippet(words: &mut Words, text: &str, terms: &Terms) -> (String, Vec<[usize; 2]>) {
    let line = sanitize::line(&text[..text.floor_char_boundary(words::MATCH_SCAN)]);
    let line = squeeze(&line);
    let first = words::first_match(words, &line, terms).map(|r| r.0).unwrap_or(0);
    // Start a few words before the first match, at a word boundary.
    let mut start = first;
    let mut back = 0;
    for (i, c) in line[..first].char_indices().rev() {
        if c == ' ' {
            back += 1;
            start = i + 1;
            if back > 5 || first - i > SNIPPET_CHARS / 3 {
                break;
            }
        }
        if i == 0 {
            start = 0;
        }
        if back == 0 && first - i > SNIPPET_CHARS {
            // One word of a kilobyte: start inside it rather than at its start.
            start = i;
            break;
        }
    }
    let mut end = start;
    for (n, (i, c)) in line[start..].char_indices().enumerate() {
        end = start + i + c.len_utf8();
        if n >= SNIPPET_CHARS && c == ' ' {
            end = start + i;
            break;
        }
        if n >= 2 * SNIPPET_CHARS {
            // No space to end at: a line of one word ends somewhere.
            break;
        }
    }
    let lead = if start > 0 { "…" } else { "" };
    let tail = if end < line.len() { "…" } else { "" };
    let out = format!("{lead}{}{tail}", &line[start..end]);
    let shift = lead.len();
    let ranges =
        words::matches(words, &line[start..end], terms).into_iter().map(|(s, e)| [s + shift, e + shift]).collect();
    (out, ranges)
}

/// Runs of spaces as one: snippets are about words, not layout.
fn squeeze(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if c.is_whitespace() { ' ' } else { c };
        if !(c == ' ' && (out.is_empty() || out.ends_with(' '))) {
            out.push(c);
        }
    }
    out.truncate(out.trim_end().len());
    out
}

/// A search's SQL: its columns, tables, conditions and order, the first `limit` rows.
fn statement(q: &mut Plan, select: &str, from: &str, order: &str, limit: usize) -> String {
    let limit = q.bind(limit as i64);
    let where_ = if q.conditions.is_empty() { "1 = 1".to_string() } else { q.conditions.join(" AND ") };
    format!("SELECT {select} FROM {from} WHERE {where_} ORDER BY {order} LIMIT {limit}")
}

impl Reader {
    /// Full-text search, newest first unless `sort:relevance`. `input` is what a
    /// person typed (see [`crate::search::query`]); a query that cannot mean
    /// anything is an error saying why.
    pub fn search(&self, input: &str, limit: usize, clock: &Clock) -> Result<Vec<SearchHit>> {
        let today = clock.zoned(clock.now()).date();
        let query = query::parse(input, today)?;
        let cx = self.context(&query, clock)?;
        let mut hits = Vec::new();
        if !query.notes_only()
            && let Some(plan) = plan(&query, Table::Messages, &cx, &mut |p| self.expand_prefix("messages_fts", p))?
        {
            hits.extend(self.search_messages(&query, &plan, limit, clock)?);
        }
        if !query.messages_only()
            && let Some(plan) = plan(&query, Table::Notes, &cx, &mut |p| self.expand_prefix("notes_fts", p))?
        {
            hits.extend(self.search_notes(&query, &plan, limit, clock)?);
        }
        if query.sort == Sort::Newest {
            hits.sort_by_key(|h| std::cmp::Reverse(h.order));
        }
        hits.truncate(limit);
        words::with_words(|words| {
            if query.sort == Sort::Relevance {
                // Within the best matches, the word as typed comes before its other forms.
                let exact = exact_words(&query, words);
                hits.sort_by_cached_key(|h| !has_exact(words, &h.snippet, &exact));
            }
            let terms = highlight_terms(&query, words);
            for h in &mut hits {
                let (snippet, ranges) = snippet(words, &h.snippet, &terms);
                h.snippet = snippet;
                h.highlights = ranges;
            }
        });
        Ok(hits)
    }

    /// What the filters of `query` are computed against on this engine.
    fn context<'a>(&'a self, query: &Query, clock: &'a Clock) -> Result<Context<'a>> {
        let engine = self.engine();
        let asks = |f: fn(&Filter) -> bool| {
            query.clauses.iter().any(|c| c.any.iter().any(|a| matches!(a, Atom::Filter(x) if f(x))))
        };
        let mut names = Names::default();
        if engine == Engine::Postgres {
            self.connection().with_conn(|c| {
                if asks(|f| matches!(f, Filter::Channel(_))) {
                    names.channels = c.all("SELECT id, name FROM channels", &[], |r| Ok((r.get(0)?, r.get(1)?)))?;
                }
                if asks(|f| matches!(f, Filter::Tag(_))) {
                    names.tags = c.all("SELECT id, tags FROM contacts WHERE tags IS NOT NULL", &[], |r| {
                        Ok((r.get(0)?, r.get(1)?))
                    })?;
                }
                Ok(())
            })?;
        }
        Ok(Context { clock, me: self.actor(), engine, names })
    }

    /// Whether the conversations that pass the plan's conversation filters
    /// hold few messages. Messages, not conversations, are what that route
    /// reads and sorts: 2,000 conversations of email threads are 50,000
    /// messages (80 ms at 100k), where newest first stops after a page.
    fn few_messages(&self, plan: &Plan) -> Result<bool> {
        let few = self.few_messages;
        if plan.conversation_level.is_empty() || few <= 0 {
            return Ok(false);
        }
        let conds: Vec<&str> = plan.conversation_level.iter().map(|&i| plan.conditions[i].as_str()).collect();
        let sql = format!(
            "SELECT count(*) FROM (SELECT 1 FROM conversations c JOIN channels ch ON ch.id = c.channel_id
             CROSS JOIN messages m ON m.conversation_id = c.id
             WHERE {} LIMIT {})",
            conds.join(" AND "),
            few + 1
        );
        let conn = self.connection().sqlite()?;
        let mut st = conn.prepare_cached(&sql)?;
        // Only the values these conditions use; the statement numbers them as the plan does.
        for i in 1..=st.parameter_count() {
            if let Some(v) = plan.values.get(i - 1) {
                st.raw_bind_parameter(i, v)?;
            }
        }
        let mut rows = st.raw_query();
        let n: i64 = match rows.next()? {
            Some(r) => r.get(0)?,
            None => 0,
        };
        Ok(n <= few)
    }

    /// Filter-only searches start from the conversations when they hold at
    /// most `n` messages (0: never). Both ways give the same hits; tests check it.
    pub fn set_few_messages(&mut self, n: i64) {
        self.few_messages = n;
    }

    /// The index terms that begin with `prefix`, when there are few of them.
    ///
    /// Read from an `instance` vocabulary one term at a time, each lookup a
    /// seek to the next term: the `row` vocabulary (`messages_vocab`) counts
    /// every posting of each term it lists, 0.3 s for a common stem at 10M.
    fn expand_prefix(&self, fts: &str, prefix: &str) -> Result<Option<Vec<String>>> {
        // PostgreSQL's tsquery has prefixes of its own (`:*`).
        if self.engine() == Engine::Postgres {
            return Ok(None);
        }
        let folded = words::with_words(|w| w.terms(prefix, Mode::Prefix));
        let [p] = folded.as_slice() else { return Ok(None) };
        let conn = self.connection().sqlite()?;
        // A temporary table: readers open the store read-only, and it costs no migration.
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE IF NOT EXISTS temp.{fts}_instances USING fts5vocab (main, {fts}, instance)"
        ))?;
        let mut st = conn
            .prepare_cached(&format!("SELECT term FROM temp.{fts}_instances WHERE term >= ?1 AND term < ?2 LIMIT 1"))?;
        let end = format!("{p}\u{10ffff}");
        let mut terms: Vec<String> = Vec::new();
        let mut from = p.clone();
        while terms.len() <= MAX_EXPANSION {
            let Some(term) = st.query_row(rusqlite::params![from, end], |r| r.get::<_, String>(0)).optional()? else {
                break;
            };
            // The smallest text after `term`: terms hold no NUL.
            from = format!("{term}\u{1}");
            terms.push(term);
        }
        Ok((terms.len() <= MAX_EXPANSION).then_some(terms))
    }

    fn search_messages(&self, query: &Query, plan: &Plan, limit: usize, clock: &Clock) -> Result<Vec<SearchHit>> {
        match self.engine() {
            Engine::Sqlite => {
                let (sql, values) = self.messages_statement(plan, query.sort, limit)?;
                self.connection().with_conn(|c| hits(c, &sql, &values, HitKind::Message, clock))
            }
            Engine::Postgres => self.connection().with_conn(|c| {
                let (sql, values) = pg_messages_statement(c, query, plan, limit)?;
                hits(c, &sql, &values, HitKind::Message, clock)
            }),
        }
    }

    /// The statement that finds a plan's messages, with its values.
    ///
    /// The join order is spelled out (`CROSS JOIN`): without statistics
    /// SQLite 3.53 turns `EXISTS` (`has:attachment`) into a join and reads
    /// every message, then sorts them (0.9 s at a million), where reading the
    /// search keys newest first stops after the first page (a few ms).
    fn messages_statement(&self, plan: &Plan, sort: Sort, limit: usize) -> Result<(String, Vec<Value>)> {
        let mut q = plan.clone();
        let fts = q.match_text("messages_fts", "k.key");
        let key = if fts { "f.rowid" } else { "k.key" };
        // What its sender deleted stays in the thread for the record, not in search.
        q.conditions.push("m.deleted = 0".into());
        if let Some(k) = plan.from_key {
            let v = q.bind(k);
            q.conditions.push(format!("{key} >= {v}"));
        }
        if let Some(k) = plan.until_key {
            let v = q.bind(k);
            q.conditions.push(format!("{key} < {v}"));
        }
        let order = match (sort, fts) {
            (Sort::Relevance, true) => "f.rank, f.rowid DESC".to_string(),
            _ => format!("{key} DESC"),
        };
        let from = if fts {
            // The index drives: its rowids are the keys, newest first.
            "messages_fts f CROSS JOIN search_keys k ON k.key = f.rowid
             CROSS JOIN messages m ON m.id = k.message_id
             JOIN conversations c ON c.id = m.conversation_id"
        } else if self.few_messages(plan)? {
            // Filters whose conversations hold few messages: read those
            // messages and sort them, rather than walk every message newest first.
            "conversations c CROSS JOIN messages m ON m.conversation_id = c.id
             JOIN search_keys k ON k.message_id = m.id"
        } else {
            // Every message newest first, until a page of them pass the filters.
            "search_keys k CROSS JOIN messages m ON m.id = k.message_id
             JOIN conversations c ON c.id = m.conversation_id"
        };
        let sql =
            statement(&mut q, MESSAGE_HIT, &format!("{from} JOIN channels ch ON ch.id = m.channel_id"), &order, limit);
        Ok((sql, q.values))
    }

    /// How SQLite reads the messages of a search (`EXPLAIN QUERY PLAN`, one
    /// line a step): tests check that filters read an index newest first.
    #[doc(hidden)]
    pub fn search_plan(&self, input: &str, limit: usize, clock: &Clock) -> Result<Vec<String>> {
        let today = clock.zoned(clock.now()).date();
        let query = query::parse(input, today)?;
        let cx = self.context(&query, clock)?;
        let Some(plan) = plan(&query, Table::Messages, &cx, &mut |p| self.expand_prefix("messages_fts", p))? else {
            return Ok(Vec::new());
        };
        if self.engine() == Engine::Postgres {
            // PostgreSQL's EXPLAIN, a line a step, of the statement search runs.
            return self.connection().with_conn(|c| {
                let (sql, values) = pg_messages_statement(c, &query, &plan, limit)?;
                let params: Vec<&dyn ToValue> = values.iter().map(|v| v as &dyn ToValue).collect();
                c.all(&format!("EXPLAIN {sql}"), &params, |r| r.get(0))
            });
        }
        let (sql, values) = self.messages_statement(&plan, query.sort, limit)?;
        let mut st = self.connection().sqlite()?.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
        let rows = st.query_map(rusqlite::params_from_iter(values.iter()), |r| r.get::<_, String>(3))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn search_notes(&self, query: &Query, plan: &Plan, limit: usize, clock: &Clock) -> Result<Vec<SearchHit>> {
        let sort = query.sort;
        let mut q = plan.clone();
        let (from, order) = match self.engine() {
            Engine::Sqlite => {
                let fts = q.match_text("notes_fts", "n.id");
                let from = if fts { "notes_fts f JOIN notes n ON n.id = f.rowid" } else { "notes n" };
                let order = if sort == Sort::Relevance && fts { "f.rank" } else { "n.created_at DESC, n.id DESC" };
                (from, order.to_string())
            }
            Engine::Postgres => match words::with_words(|w| tsearch::text_query(w, query, true)) {
                None => return Ok(Vec::new()),
                Some(None) => ("notes n", "n.created_at DESC, n.id DESC".to_string()),
                Some(Some(tsquery)) => {
                    let m = tsquery_matches("s.", tsquery, &mut q);
                    let order = match sort {
                        Sort::Relevance => format!("ts_rank(s.{}) DESC, n.created_at DESC, n.id DESC", ranked(&m)),
                        Sort::Newest => "n.created_at DESC, n.id DESC".to_string(),
                    };
                    q.conditions.insert(0, m);
                    ("notes_search s JOIN notes n ON n.id = s.note_id", order)
                }
            },
        };
        let from =
            format!("{from} JOIN conversations c ON c.id = n.conversation_id JOIN channels ch ON ch.id = c.channel_id");
        let sql = statement(&mut q, NOTE_HIT, &from, &order, limit);
        self.connection().with_conn(|c| hits(c, &sql, &q.values, HitKind::Note, clock))
    }
}

/// A message hit's columns: conversation, id, channel, channel kind, author,
/// subject, date, body, transcript, order (its search key).
const MESSAGE_HIT: &str =
    "m.conversation_id, m.id, ch.name, ch.kind, m.author, coalesce(m.subject, c.subject), m.sent_at,
    m.body, m.transcript, k.key";

/// A note hit's columns, as [`MESSAGE_HIT`]'s: a note's place among
/// messages is its date, as a search key would give it.
const NOTE_HIT: &str =
    "n.conversation_id, n.id, ch.name, ch.kind, n.actor, c.subject, n.created_at, n.body, NULL, n.created_at << 20";

/// `terms, <tsquery>` of a `terms @@ <tsquery>` condition, for `ts_rank`.
fn ranked(matches: &str) -> String {
    matches.trim_start_matches("s.").trim_start_matches("k.").replacen(" @@ ", ", ", 1)
}

/// The statement that finds a plan's messages on PostgreSQL, with its
/// values. The words are one `tsquery`; GIN finds its matches in no order,
/// so they are counted up to a few first (`tsearch::COUNT_UP_TO_FEW`): few
/// are all taken from the index and sorted, many are read newest key first,
/// each checked, until a page is found.
fn pg_messages_statement(c: &dyn Conn, query: &Query, plan: &Plan, limit: usize) -> Result<(String, Vec<Value>)> {
    let mut q = plan.clone();
    let Some(text) = words::with_words(|w| tsearch::text_query(w, query, false)) else {
        // Nothing of this table can match: a statement that finds nothing.
        return Ok(("SELECT 1 WHERE 1 = 0".into(), Vec::new()));
    };
    // What its sender deleted stays in the thread for the record, not in search.
    q.conditions.push("m.deleted = 0".into());
    if let Some(k) = plan.from_key {
        let v = q.bind(k);
        q.conditions.push(format!("k.key >= {v}"));
    }
    if let Some(k) = plan.until_key {
        let v = q.bind(k);
        q.conditions.push(format!("k.key < {v}"));
    }
    let mut cte = String::new();
    let mut order = "k.key DESC".to_string();
    let from = match text {
        None => "search_keys k",
        Some(tsquery) => {
            let hits: i64 = c.one(tsearch::COUNT_UP_TO_FEW, &[&tsquery], |r| r.get(0))?;
            let m = tsquery_matches("", tsquery, &mut q);
            if query.sort == Sort::Relevance {
                order = format!("ts_rank(k.{}) DESC, k.key DESC", ranked(&m));
            }
            if hits <= tsearch::FEW_HITS {
                // MATERIALIZED: every match from the index, then the newest;
                // the planner would otherwise walk all keys instead.
                cte = format!("WITH k AS MATERIALIZED (SELECT key, message_id, terms FROM search_keys WHERE {m}) ");
                "k"
            } else {
                q.conditions.insert(0, format!("k.{m}"));
                "search_keys k"
            }
        }
    };
    let from = format!(
        "{from} JOIN messages m ON m.id = k.message_id JOIN conversations c ON c.id = m.conversation_id
         JOIN channels ch ON ch.id = m.channel_id"
    );
    let sql = statement(&mut q, MESSAGE_HIT, &from, &order, limit);
    Ok((format!("{cte}{sql}"), q.values))
}

/// Runs a search statement whose columns are [`MESSAGE_HIT`]'s.
fn hits(c: &dyn Conn, sql: &str, values: &[Value], hit: HitKind, clock: &Clock) -> Result<Vec<SearchHit>> {
    let params: Vec<&dyn ToValue> = values.iter().map(|v| v as &dyn ToValue).collect();
    c.rows(sql, &params)?
        .into_iter()
        .map(|mut r| {
            let kind: String = r.get(3)?;
            let at: i64 = r.get(6)?;
            let id: i64 = r.get(1)?;
            // The whole text for now (moved, not copied); cut to a snippet once the page is known.
            let mut text = r.take_text(7)?.unwrap_or_default();
            if let Some(transcript) = r.take_text(8)? {
                text.push('\n');
                text.push_str(&transcript);
            }
            Ok(SearchHit {
                hit,
                conversation: r.get(0)?,
                message: (hit == HitKind::Message).then_some(id),
                note: (hit == HitKind::Note).then_some(id),
                channel: r.get(2)?,
                kind: ChannelKind::parse(&kind).unwrap_or(ChannelKind::Email),
                from: r.get(4)?,
                subject: r.get(5)?,
                date: clock.rfc3339(at),
                snippet: text,
                highlights: Vec::new(),
                order: r.get(9)?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_keeps_ranges_on_cyrillic() {
        let mut w = Words::new();
        let terms = Terms { whole: w.terms("счёт", Mode::Query), prefixes: vec![] };
        let text = "Добрый день!\n\nПрошу выставить счета за ноябрь и декабрь, а также акт сверки. ".repeat(3);
        let (s, r) = snippet(&mut w, &text, &terms);
        assert!(!r.is_empty());
        for [a, b] in &r {
            assert_eq!(&s[*a..*b], "счета");
        }
        assert!(!s.contains('\n'));
        assert!(s.ends_with('…'));
    }

    #[test]
    fn a_snippet_of_a_huge_line_is_a_line() {
        let mut w = Words::new();
        let terms = Terms { whole: w.terms("акт", Mode::Query), prefixes: vec![] };
        // 10 MB without a space: the snippet still ends, and marks only what it shows.
        let text = format!("{}акт,{}", "ж".repeat(1000), "акт,".repeat(1_500_000));
        let (s, r) = snippet(&mut w, &text, &terms);
        assert!(s.chars().count() <= 2 * SNIPPET_CHARS + 3, "{}", s.chars().count());
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(!r.is_empty() && r.iter().all(|[a, b]| &s[*a..*b] == "акт"), "{r:?}");
        // The first match past the part looked at: the text's start, nothing marked.
        let far = format!("{} акт", "слово ".repeat(300_000));
        let (s, r) = snippet(&mut w, &far, &terms);
        assert!(s.starts_with("слово") && r.is_empty(), "{s}");
    }

    #[test]
    fn recipients_exclude_the_sender_name() {
        let t = recipients_text(
            Some(r#"["irina@firm.ru"]"#),
            Some(r#"["boss@firm.ru"]"#),
            Some(r#"{"irina@firm.ru":"Ирина","anna@client.ru":"Анна"}"#),
        );
        assert!(t.contains("irina@firm.ru") && t.contains("boss@firm.ru") && t.contains("Ирина"));
        assert!(!t.contains("Анна"));
    }
}
