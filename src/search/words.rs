//! Words as the search index sees them: split, folded and stemmed.
//!
//! One function decides what a "term" is, for the index (through the FTS5
//! tokenizer in `store::fts`), for queries and for highlighting, so that the
//! three can never disagree. Russian and English words are reduced to their
//! Snowball stems («счета», «счёт», «счетов» → `счет`; "invoices" → `invoic`);
//! stemming is not prefix matching: «счётчик» stays `счетчик`.

use rust_stemmers::{Algorithm, Stemmer};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: the stem cache hashes short words millions of times; SipHash's
/// protection against chosen keys is not needed for a cache that is cleared
/// when full.
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x100_0000_01b3);
        }
        self.0 = h;
    }
}

/// Bumped whenever the terms of some text change; the store rebuilds its index.
pub const VERSION: i64 = 1;

/// Longer runs are not words (base64, hashes); they would only bloat the index.
const MAX_WORD_BYTES: usize = 96;
/// Stems are cached per tokenizer; word frequencies are Zipfian, so a small
/// cache answers most lookups. Cleared when full rather than evicting one by one.
const CACHE_LIMIT: usize = 50_000;

/// Marks a query string that is already an index term (not to be stemmed
/// again). A control character: nobody types it, and the TUI cannot.
pub const EXACT: &str = "\u{1}";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Text being indexed: numbers written in groups ("18 300") also give
    /// their joined form at the same position.
    Document,
    /// A query word: stemmed like the document.
    Query,
    /// A query prefix (`докум*`): folded but not stemmed, so that it matches
    /// the stems that begin with it.
    Prefix,
}

pub struct Words {
    ru: Stemmer,
    en: Stemmer,
    cache: HashMap<String, String, BuildHasherDefault<Fnv>>,
    buf: String,
}

impl Default for Words {
    fn default() -> Self {
        Self::new()
    }
}

impl Words {
    pub fn new() -> Self {
        Words {
            ru: Stemmer::create(Algorithm::Russian),
            en: Stemmer::create(Algorithm::English),
            cache: HashMap::default(),
            buf: String::new(),
        }
    }

    /// Calls `emit(term, start, end, colocated)` for each term of `text`, where
    /// `start..end` is the word's byte range in `text` (for a joined number, all
    /// of its groups). Stops at the first error.
    pub fn each<E>(
        &mut self,
        text: &str,
        mode: Mode,
        mut emit: impl FnMut(&str, usize, usize, bool) -> Result<(), E>,
    ) -> Result<(), E> {
        // A term the store looked up in the index (a prefix's expansion): as it is.
        if mode == Mode::Query
            && let Some(term) = text.strip_prefix(EXACT)
        {
            return emit(term, EXACT.len(), text.len(), false);
        }
        // The number being written in groups: its joined digits, where it began and ended.
        let mut number: Option<(String, usize, usize)> = None;
        let mut chars = text.char_indices().peekable();
        while let Some(&(start, c)) = chars.peek() {
            if !is_word_char(c) {
                chars.next();
                continue;
            }
            let mut end = start;
            while let Some(&(i, c)) = chars.peek() {
                if !is_word_char(c) {
                    break;
                }
                end = i + c.len_utf8();
                chars.next();
            }
            let word = &text[start..end];
            if word.len() > MAX_WORD_BYTES {
                number = None;
                continue;
            }
            let digits = word.bytes().all(|b| b.is_ascii_digit());
            let term = if digits { word } else { self.term(word, mode) };
            if term.is_empty() {
                continue;
            }
            emit(term, start, end, false)?;
            if mode == Mode::Document
                && let Some(base) = relational_base(word, term)
            {
                emit(base, start, end, true)?;
            }
            if mode == Mode::Document && digits {
                number = match number.take() {
                    Some((joined, first, prev_end))
                        if word.len() == 3 && joined.len() < 24 && group_gap(&text[prev_end..start]) =>
                    {
                        // At the last group's position, spanning every group.
                        let joined = joined + word;
                        emit(&joined, first, end, true)?;
                        Some((joined, first, end))
                    }
                    _ => Some((word.to_string(), start, end)),
                };
            } else {
                number = None;
            }
        }
        Ok(())
    }

    /// The terms of `text`, in order (joined numbers included in document mode).
    pub fn terms(&mut self, text: &str, mode: Mode) -> Vec<String> {
        let mut out = Vec::new();
        let _ = self.each::<()>(text, mode, |t, _, _, _| {
            out.push(t.to_string());
            Ok(())
        });
        out
    }

    /// The terms of `text` with their places, kept to be replayed later
    /// ([`Tokens::each`] gives what [`Words::each`] gave).
    /// `None` for a text whose offsets do not fit in 32 bits (past 4 GB),
    /// which is then split where it is stored.
    pub fn tokens(&mut self, text: &str, mode: Mode) -> Option<Tokens> {
        let mut tokens = Tokens::default();
        let offset = |n: usize| u32::try_from(n).map_err(drop);
        self.each::<()>(text, mode, |term, start, end, colocated| {
            tokens.terms.push_str(term);
            let term_end = offset(tokens.terms.len())?;
            tokens.spans.push(Span { term_end, start: offset(start)?, end: offset(end)?, colocated });
            Ok(())
        })
        .ok()?;
        Some(tokens)
    }

    /// The term of one word (not a number): folded, then stemmed unless a prefix.
    fn term(&mut self, word: &str, mode: Mode) -> &str {
        self.buf.clear();
        fold_into(word, &mut self.buf);
        if mode == Mode::Prefix {
            return &self.buf;
        }
        let script = script_of(&self.buf);
        let stemmer = match script {
            Script::Cyrillic => &self.ru,
            Script::Latin => &self.en,
            Script::Other => return &self.buf,
        };
        if !self.cache.contains_key(self.buf.as_str()) {
            if self.cache.len() >= CACHE_LIMIT {
                self.cache.clear();
            }
            let mut stem = stemmer.stem(&self.buf).into_owned();
            // Snowball reads a final -в/-ив/-ыв as a gerund («сделав»), which
            // cuts nouns to other words: «актив» → `акт`, «устав» → `уст`,
            // while «актива», «устава» keep `актив`, `устав`. A noun is far
            // likelier in our mail than a gerund: keep such a word whole.
            if matches!(script, Script::Cyrillic)
                && matches!(self.buf.strip_prefix(stem.as_str()), Some("в" | "ив" | "ыв"))
            {
                stem = self.buf.clone();
            }
            // A stem is never empty: keep the word itself rather than lose it.
            let stem = if stem.is_empty() { self.buf.clone() } else { stem };
            self.cache.insert(self.buf.clone(), stem);
        }
        self.cache.get(self.buf.as_str()).map(String::as_str).unwrap_or("")
    }
}

/// The noun under a relational adjective: «авансового» (stem `авансов`) is
/// also found as `аванс`, «налоговой» as `налог`. Only when the word really
/// ended in an adjective's ending, so that nouns keep their own stems.
fn relational_base<'t>(word: &str, stem: &'t str) -> Option<&'t str> {
    const ENDINGS: &[&str] = &[
        "ый", "ий", "ой", "ая", "яя", "ое", "ее", "ые", "ие", "ого", "его", "ому", "ему", "ым", "им", "ом", "ем", "ую",
        "юю", "ых", "их", "ыми", "ими",
    ];
    let base = stem.strip_suffix("ов").or_else(|| stem.strip_suffix("ев"))?;
    if base.chars().count() < 3 {
        return None;
    }
    let mut folded = String::new();
    fold_into(word, &mut folded);
    let ending = folded.strip_prefix(stem)?;
    ENDINGS.contains(&ending).then_some(base)
}

fn is_word_char(c: char) -> bool {
    // ASCII and Russian letters first: the general Unicode tables are slow.
    c.is_ascii_alphanumeric()
        || matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё')
        || (!c.is_ascii() && (c.is_alphanumeric() || is_combining(c)))
}

fn is_combining(c: char) -> bool {
    ('\u{300}'..='\u{36f}').contains(&c)
}

/// Between two digit groups of one number: one space of any width.
fn group_gap(gap: &str) -> bool {
    matches!(gap, " " | "\u{a0}" | "\u{2009}" | "\u{202f}")
}

enum Script {
    Cyrillic,
    Latin,
    Other,
}

fn script_of(word: &str) -> Script {
    if word.chars().all(|c| ('а'..='я').contains(&c)) {
        Script::Cyrillic
    } else if word.bytes().all(|b| b.is_ascii_lowercase()) {
        Script::Latin
    } else {
        Script::Other
    }
}

/// Lower case; ё as е (Russian writers use them interchangeably); Latin accents
/// and stress marks dropped; a decomposed й kept as й.
pub fn fold_into(word: &str, out: &mut String) {
    for c in word.chars() {
        match c {
            '\u{306}' if out.ends_with('и') => {
                out.pop();
                out.push('й');
            }
            c if is_combining(c) => {}
            'ё' | 'Ё' => out.push('е'),
            c if c.is_ascii() => out.push(c.to_ascii_lowercase()),
            'а'..='я' => out.push(c),
            // А..Я are а..я shifted by 32 code points.
            'А'..='Я' => out.push(char::from_u32(c as u32 + 32).unwrap_or(c)),
            c => {
                for l in c.to_lowercase() {
                    out.push(latin_base(l));
                }
            }
        }
    }
}

/// The plain letter under a Latin letter with a diacritic (café → cafe).
fn latin_base(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => 'a',
        'ç' | 'ć' | 'č' => 'c',
        'ď' => 'd',
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => 'e',
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' => 'i',
        'ł' | 'ľ' | 'ĺ' => 'l',
        'ñ' | 'ń' | 'ň' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => 'o',
        'ř' => 'r',
        'ś' | 'š' | 'ş' => 's',
        'ť' | 'ţ' => 't',
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' => 'u',
        'ý' | 'ÿ' => 'y',
        'ź' | 'ż' | 'ž' => 'z',
        c => c,
    }
}

/// A text's terms computed once, to be handed over as they are (the store's
/// writer replays the terms a sync worker computed: `store::prepared`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tokens {
    /// Every term, one after another; each span says where its term ends.
    terms: String,
    spans: Vec<Span>,
}

/// Offsets in 32 bits: a read-ahead batch holds a span per term of every
/// message (16 bytes each instead of 32).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Span {
    term_end: u32,
    start: u32,
    end: u32,
    colocated: bool,
}

impl Tokens {
    /// Calls `emit(term, start, end, colocated)` as [`Words::each`] did.
    pub fn each<E>(&self, mut emit: impl FnMut(&str, usize, usize, bool) -> Result<(), E>) -> Result<(), E> {
        let mut from = 0;
        for span in &self.spans {
            let term_end = span.term_end as usize;
            emit(&self.terms[from..term_end], span.start as usize, span.end as usize, span.colocated)?;
            from = term_end;
        }
        Ok(())
    }
}

thread_local! {
    static WORDS: std::cell::RefCell<Words> = std::cell::RefCell::new(Words::new());
}

/// Runs `f` with this thread's [`Words`] (its stem cache stays warm between calls).
pub fn with_words<R>(f: impl FnOnce(&mut Words) -> R) -> R {
    WORDS.with(|w| f(&mut w.borrow_mut()))
}

/// What a query looks for in a text, as terms: whole terms and prefixes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Terms {
    pub whole: Vec<String>,
    pub prefixes: Vec<String>,
}

impl Terms {
    pub fn is_empty(&self) -> bool {
        self.whole.is_empty() && self.prefixes.is_empty()
    }

    fn hit(&self, term: &str, folded: &str) -> bool {
        self.whole.iter().any(|w| w == term) || self.prefixes.iter().any(|p| folded.starts_with(p.as_str()))
    }
}

/// Byte ranges of `text` whose words match `terms`, in order, not overlapping.
pub fn matches(words: &mut Words, text: &str, terms: &Terms) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::new();
    if terms.is_empty() {
        return out;
    }
    let mut folded = String::new();
    let _ = words.each::<()>(text, Mode::Document, |term, start, end, colocated| {
        if colocated {
            // A number written in groups: the match covers every group.
            if terms.whole.iter().any(|w| w == term) {
                out.retain(|&(s, _)| s < start);
                out.push((start, end));
            }
            return Ok(());
        }
        folded.clear();
        fold_into(&text[start..end], &mut folded);
        if terms.hit(term, &folded) && out.last().is_none_or(|&(_, e)| e <= start) {
            out.push((start, end));
        }
        Ok(())
    });
    out
}

/// How much of one text [`has_match`] and [`first_match`] read: a 30 MB body
/// must not be stemmed whole to answer a key.
pub const MATCH_SCAN: usize = 1 << 20;

/// The first of [`matches`] within the first [`MATCH_SCAN`] bytes of `text`;
/// stops there.
pub fn first_match(words: &mut Words, text: &str, terms: &Terms) -> Option<(usize, usize)> {
    if terms.is_empty() {
        return None;
    }
    let text = &text[..text.floor_char_boundary(MATCH_SCAN)];
    let mut folded = String::new();
    let mut found = None;
    let _ = words.each::<()>(text, Mode::Document, |term, start, end, colocated| {
        let hit = if colocated {
            terms.whole.iter().any(|w| w == term)
        } else {
            folded.clear();
            fold_into(&text[start..end], &mut folded);
            terms.hit(term, &folded)
        };
        if hit {
            found = Some((start, end));
            return Err(());
        }
        Ok(())
    });
    found
}

/// Whether `text` has a match of `terms` (see [`first_match`]): `n`/`N` in a
/// thread ask this of every message on each key.
pub fn has_match(words: &mut Words, text: &str, terms: &Terms) -> bool {
    first_match(words, text, terms).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Vec<String> {
        Words::new().terms(s, Mode::Query)
    }

    #[test]
    fn russian_word_forms_share_a_stem() {
        assert_eq!(t("счёт"), t("счета"));
        assert_eq!(t("счёт"), t("счетов"));
        let doc = |s: &str| Words::new().terms(s, Mode::Document);
        assert!(doc("авансового").contains(&t("аванс")[0]));
        assert!(doc("налоговой").contains(&t("налог")[0]));
        assert!(!doc("авансов").contains(&"аван".to_string()));
        assert_eq!(t("платёжка"), t("платёжку"));
        assert_ne!(t("счёт"), t("счётчик"));
        assert_ne!(t("акт"), t("актив"));
        assert_eq!(t("актив"), t("активы"));
        assert_eq!(t("устав"), t("устава"));
        assert_eq!(t("invoice"), t("Invoices"));
    }

    #[test]
    fn folding() {
        assert_eq!(t("ЁЛКА"), t("елка"));
        assert_eq!(t("café"), t("cafe"));
        // A decomposed й (и + U+0306) is still й, and a stress mark is dropped.
        assert_eq!(t("строи\u{306}ка"), t("стройка"));
        assert_eq!(t("ока\u{301}зан"), t("оказан"));
    }

    #[test]
    fn numbers_in_groups_are_also_joined() {
        let doc = Words::new().terms("Счёт № 1547 на 18 300,50 руб., ИНН 7701234567", Mode::Document);
        for want in ["1547", "18", "300", "18300", "50", "7701234567"] {
            assert!(doc.iter().any(|d| d == want), "{want} in {doc:?}");
        }
        assert!(!doc.iter().any(|d| d == "154718"), "a number and the next are not one");
        assert_eq!(Words::new().terms("18 300", Mode::Query), ["18", "300"]);
    }

    #[test]
    fn matches_are_byte_ranges_of_the_text() {
        let mut w = Words::new();
        let text = "Пришлите счета-фактуры и акт, не счётчик. Итого 18 300 ₽";
        let terms = Terms {
            whole: t("счёт").into_iter().chain(t("акт")).chain(["18300".into()]).collect(),
            prefixes: vec![],
        };
        let got: Vec<&str> = matches(&mut w, text, &terms).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(got, ["счета", "акт", "18 300"]);
        let prefix = Terms { whole: vec![], prefixes: vec!["фактур".into()] };
        let got: Vec<&str> = matches(&mut w, text, &prefix).into_iter().map(|(s, e)| &text[s..e]).collect();
        assert_eq!(got, ["фактуры"]);
    }

    #[test]
    fn tokens_give_back_what_each_gave() {
        let text = "Счёт №17 на 18 300 ₽, invoices и Straße; ΐ ещё раз";
        let mut w = Words::new();
        let mut direct = Vec::new();
        w.each::<()>(text, Mode::Document, |t, s, e, c| {
            direct.push((t.to_string(), s, e, c));
            Ok(())
        })
        .expect("each");
        let mut replayed = Vec::new();
        let tokens = w.tokens(text, Mode::Document).expect("a short text has tokens");
        tokens
            .each::<()>(|t, s, e, c| {
                replayed.push((t.to_string(), s, e, c));
                Ok(())
            })
            .expect("each");
        assert!(direct.iter().any(|(t, ..)| t == "18300"), "{direct:?}");
        assert_eq!(replayed, direct);
    }
}
