//! What a message needs from its text, computed where it was parsed rather
//! than on the store's one writer thread.
//!
//! A first sync keeps the writer busy while the thread that fetches and
//! parses mail waits for it. Splitting a body into search terms and telling a
//! closing «Спасибо!» from a request need nothing from the store, and were a
//! fifth of the writer's time: the fetching side does them ([`prepare_all`]),
//! ingest registers the result under the new row's id ([`register`]), and the
//! batch's index statement (`search_index::Deferred`) asks for it with
//! `search_prepared(id, column, text)`. That answers a marker, which the
//! `pult` tokenizer (`store::fts`) replays the prepared terms for ([`replay`]).
//!
//! Prepared terms are used only while the row still holds the very text they
//! came from (its hash, taken when they were computed); anything else (a
//! message edited in the same batch, a transcript, an index rebuild) is split
//! from the row as before. The marker carries a number drawn when the process
//! starts, so no text from outside can pass for one.

use crate::model::Inbound;
use crate::search::words::{Mode, Tokens, with_words};
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// A message's text, read ahead of the writer.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The subject's hash and terms.
    subject: Option<(u64, Tokens)>,
    /// The body's hash, and its terms unless it was too long to read ahead.
    body: (u64, Option<Tokens>),
    /// What the client wrote asks for nothing (`workflow::closing`).
    closing: bool,
}

/// The columns of the message index that may come prepared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Subject = 0,
    Body = 1,
}

impl Prepared {
    /// Reads `m`'s subject and body as ingest and the index would.
    pub fn of(m: &Inbound) -> Prepared {
        let authored = crate::search::authored::authored(&m.body_text);
        let closing = crate::workflow::closing::is_closing(&authored);
        with_words(|words| Prepared {
            subject: m
                .subject
                .as_deref()
                .and_then(|s| Some((text_hash(s.as_bytes()), words.tokens(s, Mode::Document)?))),
            body: (text_hash(m.body_text.as_bytes()), words.tokens(&authored, Mode::Document)),
            closing,
        })
    }

    /// Whether the body was a closing word, if these were read from `body`.
    pub fn closing_of(&self, body: &str) -> Option<bool> {
        (self.body.0 == text_hash(body.as_bytes())).then_some(self.closing)
    }

    fn column(&self, column: Column, text: &[u8]) -> Option<&Tokens> {
        let (hash, tokens) = match column {
            Column::Subject => self.subject.as_ref().map(|(hash, tokens)| (hash, tokens))?,
            Column::Body => (&self.body.0, self.body.1.as_ref()?),
        };
        (*hash == text_hash(text)).then_some(tokens)
    }
}

/// Prepares every message of a batch (on the caller's thread).
pub fn prepare_all<'a>(messages: impl IntoIterator<Item = &'a mut Inbound>) {
    for m in messages {
        m.prepared = Some(Arc::new(Prepared::of(m)));
    }
}

/// Tells whether a row still holds the text its terms came from. Keyed
/// afresh in each process: a sender who writes both a message and its edit
/// cannot make the two collide.
fn text_hash(text: &[u8]) -> u64 {
    static KEYS: OnceLock<std::collections::hash_map::RandomState> = OnceLock::new();
    let mut h = KEYS.get_or_init(std::collections::hash_map::RandomState::new).build_hasher();
    h.write_usize(text.len());
    h.write(text);
    h.finish()
}

std::thread_local! {
    /// The writer's batch in flight: prepared text by message id.
    static REGISTERED: RefCell<HashMap<i64, Arc<Prepared>>> = RefCell::new(HashMap::new());
}

/// Message `id` (added by the batch running on this thread) was stored from
/// text prepared as `prepared`.
pub(super) fn register(id: i64, prepared: Arc<Prepared>) {
    REGISTERED.with(|r| r.borrow_mut().insert(id, prepared));
}

/// The batch has indexed its rows, or failed: nothing is registered.
pub(super) fn forget_all() {
    REGISTERED.with(|r| r.borrow_mut().clear());
}

const MARK: u8 = 0x02;

/// A number no text from outside can know: part of every marker.
fn nonce() -> u64 {
    static NONCE: OnceLock<u64> = OnceLock::new();
    *NONCE.get_or_init(|| std::collections::hash_map::RandomState::new().build_hasher().finish())
}

/// `search_prepared(id, column, text)`: a marker for the terms prepared for
/// this row's `text`, or `None` (the caller then gives the text itself).
pub(super) fn marker(id: i64, column: Column, text: &[u8]) -> Option<String> {
    let known = REGISTERED.with(|r| r.borrow().get(&id).is_some_and(|p| p.column(column, text).is_some()));
    known.then(|| format!("{}{:016x}:{}:{id}", MARK as char, nonce(), column as u8))
}

/// When `text` is a marker of this process, calls `emit` for each prepared
/// term and returns its result; `None` for any other text.
pub(super) fn replay<E>(
    text: &[u8],
    emit: impl FnMut(&str, usize, usize, bool) -> Result<(), E>,
) -> Option<Result<(), E>> {
    let rest = text.strip_prefix(&[MARK])?;
    let rest = std::str::from_utf8(rest).ok()?;
    let (nonce_hex, rest) = rest.split_once(':')?;
    let (column, id) = rest.split_once(':')?;
    if nonce_hex.len() != 16 || !nonce_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    if u64::from_str_radix(nonce_hex, 16).ok()? != nonce() {
        return None;
    }
    let column = match column {
        "0" => Column::Subject,
        "1" => Column::Body,
        _ => return None,
    };
    let id: i64 = id.parse().ok()?;
    let prepared = REGISTERED.with(|r| r.borrow().get(&id).cloned())?;
    let tokens = match column {
        Column::Subject => &prepared.subject.as_ref()?.1,
        Column::Body => prepared.body.1.as_ref()?,
    };
    REPLAYED.fetch_add(1, Ordering::Relaxed);
    Some(tokens.each(emit))
}

static REPLAYED: AtomicU64 = AtomicU64::new(0);

/// Texts indexed from prepared terms since the process started (for tests
/// and benchmarks: that the writer used them at all).
pub fn replayed() -> u64 {
    REPLAYED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(subject: &str, body: &str) -> Inbound {
        Inbound { subject: Some(subject.into()), body_text: body.into(), ..Default::default() }
    }

    fn replayed(text: &[u8]) -> Option<Vec<String>> {
        let mut out = Vec::new();
        replay::<()>(text, |t, _, _, _| {
            out.push(t.to_string());
            Ok(())
        })?
        .ok()?;
        Some(out)
    }

    #[test]
    fn a_marker_replays_the_terms_of_the_text_it_was_prepared_from() {
        let m = message("Счета за март", "Пришлите, пожалуйста, счета за март.\n\n> старое письмо");
        let prepared = Arc::new(Prepared::of(&m));
        register(7, prepared.clone());
        let marker = marker(7, Column::Body, m.body_text.as_bytes()).expect("a marker");
        let expected = with_words(|w| w.terms("Пришлите, пожалуйста, счета за март.", Mode::Document));
        assert_eq!(replayed(marker.as_bytes()), Some(expected));
        let subject = super::marker(7, Column::Subject, "Счета за март".as_bytes()).expect("a subject marker");
        assert_eq!(replayed(subject.as_bytes()).map(|t| t.len()), Some(3));
        // Another text (the row changed since), another id: no marker.
        assert_eq!(super::marker(7, Column::Body, b"other text"), None);
        assert_eq!(super::marker(8, Column::Body, m.body_text.as_bytes()), None);
        forget_all();
        assert_eq!(replayed(marker.as_bytes()), None, "nothing registered: the text is read as text");
    }

    #[test]
    fn text_from_outside_is_never_taken_for_a_marker() {
        let m = message("x", "y");
        register(1, Arc::new(Prepared::of(&m)));
        for forged in ["\u{2}0000000000000000:1:1", "\u{2}:1:1", "\u{2}", "\u{2}ffffffffffffffff:1:1"] {
            if forged.contains(&format!("{:016x}", nonce())) {
                continue;
            }
            assert_eq!(replayed(forged.as_bytes()), None, "{forged:?}");
        }
        forget_all();
    }

    #[test]
    fn closing_is_known_only_for_the_body_it_was_read_from() {
        let m = message("", "Спасибо, получили 👍");
        let p = Prepared::of(&m);
        assert_eq!(p.closing_of("Спасибо, получили 👍"), Some(true));
        assert_eq!(p.closing_of("Когда будет акт?"), None);
    }
}
