//! Message bodies laid out only as far as the screen needs, kept per width.
//!
//! A body may be 30 MB, or 10 MB on one line. Sanitising, wrapping and
//! highlighting all of it on every frame froze the TUI for minutes per key, so:
//! a body is sanitised once and cut into blocks of at most [`BLOCK`] bytes
//! (at line ends, and inside a longer line at a space); the rows a block wraps
//! to are counted once per width, from the newest end up and only as far as a
//! frame asked; and only the blocks on screen are wrapped into text. A frame
//! therefore wraps at most its rows plus two blocks, whatever the body's size.
//!
//! The cache sits in the thread state behind a `RefCell`, like ratatui's list
//! state: rendering stays a function of the state, this only remembers work.

use crate::sanitize;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// The most bytes of a body wrapped at once. A longer line is shown as several
/// lines cut at a space: wrapping is greedy from a line's start, so without the
/// cut a 10 MB line would be wrapped whole to show its last row.
pub const BLOCK: usize = 16 * 1024;

/// What the frames of one thread did, in bytes, for tests and the debug log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Work {
    /// Bodies sanitised and cut into blocks (once per body and thread load).
    pub prepared: usize,
    /// Bytes wrapped only to count their rows (once per block and width).
    pub counted: usize,
    /// Bytes wrapped into rows to be shown (and searched for highlights).
    pub shown: usize,
}

/// The laid-out bodies of one thread's messages, by message id.
#[derive(Default)]
pub struct Bodies {
    bodies: RefCell<HashMap<i64, Body>>,
    frame: Cell<Work>,
}

impl std::fmt::Debug for Bodies {
    // Not the texts: a thread state in a log must not carry a 30 MB mail twice.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.bodies.try_borrow().map(|b| b.len()).unwrap_or(0);
        f.debug_struct("Bodies").field("laid_out", &n).field("frame", &self.frame.get()).finish()
    }
}

/// One row of a body: its text and whether its line is quoted (`>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub text: String,
    pub quote: bool,
}

impl Bodies {
    /// What the last frame did.
    pub fn work(&self) -> Work {
        self.frame.get()
    }

    /// Starts counting a new frame's work.
    pub fn new_frame(&self) {
        self.frame.set(Work::default());
    }

    /// Keeps what an earlier load of the same thread laid out, for the bodies
    /// that did not change (a reload after a new message or a read mark).
    pub fn keep_from(&self, earlier: Bodies, was: &[(i64, &str)], now: &[(i64, &str)]) {
        let mut old = earlier.bodies.into_inner();
        let was: HashMap<i64, &str> = was.iter().copied().collect();
        let mut bodies = self.bodies.borrow_mut();
        for (id, text) in now {
            if was.get(id) == Some(text)
                && let Some(b) = old.remove(id)
            {
                bodies.insert(*id, b);
            }
        }
    }

    /// Rows of the body of message `id` at `width`, counted from its end until
    /// at least `want` are known (all of them for `usize::MAX`); with whether
    /// that is all of them.
    pub fn rows_at_least(&self, id: i64, raw: &str, width: usize, want: usize) -> (usize, bool) {
        self.with(id, raw, width, |b, raw, work| b.count(raw, want, work))
    }

    /// The rows `lo..hi` of the body, counted from its last row (0) upwards,
    /// in reading order (top first). Only rows already counted can be asked for.
    pub fn rows(&self, id: i64, raw: &str, width: usize, lo: usize, hi: usize) -> Vec<Row> {
        self.with(id, raw, width, |b, raw, work| b.rows(raw, lo, hi, work))
    }

    fn with<R>(&self, id: i64, raw: &str, width: usize, f: impl FnOnce(&mut Body, &str, &mut Work) -> R) -> R {
        let mut work = self.frame.get();
        let mut bodies = self.bodies.borrow_mut();
        let body = bodies.entry(id).or_insert_with(|| {
            work.prepared += raw.len();
            Body::new(raw)
        });
        if body.width != width {
            body.width = width;
            body.below.clear();
        }
        let text = body.clean.take();
        let out = f(body, text.as_deref().unwrap_or(raw), &mut work);
        body.clean = text;
        self.frame.set(work);
        out
    }
}

/// One body: sanitised, in blocks, with the rows counted so far at `width`.
struct Body {
    /// The sanitised text, when sanitising changed it (else the raw body is it).
    clean: Option<String>,
    blocks: Vec<Block>,
    width: usize,
    /// `below[k]`: rows of the last `k + 1` blocks at `width`.
    below: Vec<usize>,
}

/// Byte range of lines of the text; `continues` is set when the block begins
/// inside a line cut at [`BLOCK`], with whether that line is quoted.
#[derive(Clone, Copy)]
struct Block {
    start: usize,
    end: usize,
    continues: Option<bool>,
}

impl Body {
    fn new(raw: &str) -> Body {
        let clean = match sanitize::text(raw) {
            std::borrow::Cow::Owned(s) => Some(s),
            std::borrow::Cow::Borrowed(_) => None,
        };
        let blocks = blocks(clean.as_deref().unwrap_or(raw));
        Body { clean, blocks, width: 0, below: Vec::new() }
    }

    /// Counts rows from the end until `want` are known or every block is counted.
    fn count(&mut self, text: &str, want: usize, work: &mut Work) -> (usize, bool) {
        let n = self.blocks.len();
        while self.below.len() < n && self.below.last().copied().unwrap_or(0) < want {
            let block = self.blocks[n - 1 - self.below.len()];
            work.counted += block.end - block.start;
            let rows = lines_of(text, block).map(|(line, _)| wrap_count(line, self.width)).sum::<usize>();
            self.below.push(self.below.last().copied().unwrap_or(0) + rows);
        }
        (self.below.last().copied().unwrap_or(0), self.below.len() == n)
    }

    fn rows(&mut self, text: &str, lo: usize, hi: usize, work: &mut Work) -> Vec<Row> {
        let n = self.blocks.len();
        let mut out: Vec<Row> = Vec::new();
        // The first block (from the end) holding row `lo`.
        let mut k = self.below.partition_point(|&b| b <= lo);
        while k < self.below.len() {
            let block = self.blocks[n - 1 - k];
            let first = if k == 0 { 0 } else { self.below[k - 1] };
            if first >= hi {
                break;
            }
            work.shown += block.end - block.start;
            let mut rows: Vec<(&str, bool)> = Vec::new();
            for (line, quote) in lines_of(text, block) {
                wrap_each(line, self.width, |a, b| rows.push((&line[a..b], quote)));
            }
            // `rows` top first; the block's last row is row `first` from the end.
            let count = rows.len();
            let take: Vec<Row> = rows
                .into_iter()
                .enumerate()
                .filter(|(i, _)| (lo..hi).contains(&(first + count - 1 - i)))
                .map(|(_, (text, quote))| Row { text: text.to_string(), quote })
                .collect();
            // Blocks are visited bottom-up: each goes above what is there.
            out.splice(0..0, take);
            k += 1;
        }
        out
    }
}

/// The lines of a block, with whether each is quoted.
fn lines_of(text: &str, block: Block) -> impl Iterator<Item = (&str, bool)> {
    text[block.start..block.end].split('\n').enumerate().map(move |(i, line)| match (i, block.continues) {
        (0, Some(quote)) => (line, quote),
        _ => (line, line.starts_with('>')),
    })
}

/// Cuts `text` into blocks of whole lines of at most [`BLOCK`] bytes; a longer
/// line is cut at the last space of its piece (or at a character, when the
/// piece's second half has none). A final line break starts no empty line.
fn blocks(text: &str) -> Vec<Block> {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let mut out = Vec::new();
    if text.is_empty() {
        return out;
    }
    let mut start: Option<usize> = None;
    let mut at = 0;
    loop {
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        if end - at > BLOCK {
            if let Some(s) = start.take() {
                out.push(Block { start: s, end: at - 1, continues: None });
            }
            let quote = text[at..].starts_with('>');
            let mut from = at;
            let mut continues = None;
            while end - from > BLOCK {
                let cut = text.floor_char_boundary(from + BLOCK);
                let half = text.floor_char_boundary(from + BLOCK / 2);
                let (piece_end, next) = match text[half..cut].rfind(' ') {
                    Some(i) => (half + i, half + i + 1),
                    None => (cut, cut),
                };
                out.push(Block { start: from, end: piece_end, continues });
                continues = Some(quote);
                from = next;
            }
            out.push(Block { start: from, end, continues });
        } else {
            match start {
                Some(s) if end - s > BLOCK => {
                    out.push(Block { start: s, end: at - 1, continues: None });
                    start = Some(at);
                }
                Some(_) => {}
                None => start = Some(at),
            }
        }
        if end == text.len() {
            break;
        }
        at = end + 1;
    }
    if let Some(s) = start {
        out.push(Block { start: s, end: text.len(), continues: None });
    }
    out
}

/// Word wrap by display width, as byte ranges of `s`: breaks at spaces (the
/// spaces at a break are dropped), cuts words longer than a line. The first
/// line keeps its indentation. At least one range, even for an empty line.
pub fn wrap_each(s: &str, width: usize, mut emit: impl FnMut(usize, usize)) {
    let width = width.max(1);
    if sanitize::width(s) <= width {
        emit(0, s.len());
        return;
    }
    // The line being filled is `start..end`, `used` cells wide.
    let (mut start, mut end, mut used) = (0, 0, 0);
    let mut placed = false;
    let mut first = true;
    let mut at = 0;
    for word in s.split(' ') {
        let (a, b) = (at, at + word.len());
        at = b + 1;
        if word.is_empty() {
            continue;
        }
        let ww = sanitize::width(word);
        if placed {
            let gap = a - end;
            if used + gap + ww <= width {
                used += gap + ww;
                end = b;
                continue;
            }
            emit(start, end);
            first = false;
        }
        // A new line: the first keeps the sender's indentation when the word fits after it.
        (start, used) = if first && a + ww <= width { (0, a) } else { (a, 0) };
        placed = true;
        end = b;
        if ww <= width {
            used += ww;
            continue;
        }
        // A word longer than a line: cut by characters; its tail begins the next line.
        for (i, c) in word.char_indices() {
            let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used + cw > width && used > 0 {
                emit(start, a + i);
                first = false;
                (start, used) = (a + i, 0);
            }
            used += cw;
        }
    }
    if placed {
        emit(start, end);
    } else {
        emit(0, 0);
    }
}

/// How many rows [`wrap_each`] gives, without building them.
pub fn wrap_count(s: &str, width: usize) -> usize {
    let mut n = 0;
    wrap_each(s, width, |_, _| n += 1);
    n
}

/// [`wrap_each`] as strings.
pub fn wrap(s: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    wrap_each(s, width, |a, b| out.push(s[a..b].to_string()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_by_width() {
        let lines = wrap("Пришлите акт сверки за третий квартал", 12);
        assert!(lines.iter().all(|l| sanitize::width(l) <= 12), "{lines:?}");
        assert_eq!(lines.join(" "), "Пришлите акт сверки за третий квартал");
        let cjk = wrap("日本語日本語日本語", 6);
        assert!(cjk.iter().all(|l| sanitize::width(l) <= 6));
        assert_eq!(cjk.concat(), "日本語日本語日本語");
        assert_eq!(wrap("", 10), [""]);
        assert_eq!(wrap("    отступ и слова дальше", 12), ["    отступ и", "слова дальше"]);
        assert_eq!(wrap("a  b", 3), ["a  b"[..1].to_string(), "b".into()]);
        assert_eq!(wrap("слово-длиннее-строки и", 8), ["слово-дл", "иннее-ст", "роки и"]);
    }

    /// Every row of a body, the slow way: each line wrapped whole.
    fn whole(text: &str, width: usize) -> Vec<Row> {
        let clean = sanitize::text(text);
        let mut out = Vec::new();
        for line in clean.lines() {
            let quote = line.starts_with('>');
            out.extend(wrap(line, width).into_iter().map(|text| Row { text, quote }));
        }
        out
    }

    #[test]
    fn any_window_of_rows_matches_the_whole_layout() {
        let mut text = String::new();
        for i in 0..3000 {
            let line = match i % 5 {
                0 => format!("> цитата {i} с продолжением, которое не влезает в строку шириной сорок"),
                1 => String::new(),
                2 => format!("\tстрока {i}\r"),
                _ => format!("Строка {i}: пришлите акт сверки за квартал"),
            };
            text.push_str(&line);
            text.push('\n');
        }
        let width = 40;
        let want = whole(&text, width);
        let bodies = Bodies::default();
        let (n, all) = bodies.rows_at_least(7, &text, width, usize::MAX);
        assert!(all);
        assert_eq!(n, want.len());
        for (lo, hi) in [(0, 30), (17, 60), (n - 25, n), (4000, 4100)] {
            let got = bodies.rows(7, &text, width, lo, hi);
            assert_eq!(got, want[n - hi..n - lo], "rows {lo}..{hi}");
        }
    }

    #[test]
    fn a_line_longer_than_a_block_is_cut_at_spaces_and_keeps_every_word() {
        let line = "> акт сверки за квартал ".repeat(3000);
        let bodies = Bodies::default();
        let (n, all) = bodies.rows_at_least(1, &line, 60, usize::MAX);
        assert!(all);
        let rows = bodies.rows(1, &line, 60, 0, n);
        assert!(rows.iter().all(|r| r.quote && sanitize::width(&r.text) <= 60));
        let words: Vec<&str> = rows.iter().flat_map(|r| r.text.split_whitespace()).collect();
        assert_eq!(words, line.split_whitespace().collect::<Vec<_>>());
        // Wherever the cut falls in a character, and without a space, nothing is lost either.
        for shift in ["", "x"] {
            let line = format!("{shift}{}", "> акт сверки за квартал ".repeat(3000));
            let (n, _) = bodies.rows_at_least(3, &line, 60, usize::MAX);
            let rows = bodies.rows(3, &line, 60, 0, n);
            let words: Vec<&str> = rows.iter().flat_map(|r| r.text.split_whitespace()).collect();
            assert_eq!(words, line.split_whitespace().collect::<Vec<_>>());
            let word = format!("{shift}{}", "ж".repeat(3 * BLOCK));
            let (n, _) = bodies.rows_at_least(4, &word, 60, usize::MAX);
            let rows = bodies.rows(4, &word, 60, 0, n);
            assert_eq!(rows.iter().map(|r| r.text.as_str()).collect::<String>(), word);
            bodies.bodies.borrow_mut().clear();
        }
        let word = "ж".repeat(3 * BLOCK);
        let (n, _) = bodies.rows_at_least(2, &word, 60, usize::MAX);
        let rows = bodies.rows(2, &word, 60, 0, n);
        assert_eq!(rows.iter().map(|r| r.text.as_str()).collect::<String>(), word);
    }

    #[test]
    fn a_screen_of_a_huge_body_wraps_a_screenful() {
        let mut text = String::new();
        let mut i = 0;
        while text.len() < 4 << 20 {
            i += 1;
            text.push_str(&format!("Строка {i}: пришлите акт сверки за квартал, счёт во вложении.\n"));
        }
        let (width, h) = (80, 40);
        let bodies = Bodies::default();
        // The newest screen: a block or two counted, not the body.
        let (known, all) = bodies.rows_at_least(1, &text, width, h);
        assert!(known >= h && !all);
        let rows = bodies.rows(1, &text, width, 0, h);
        assert_eq!(
            rows.last().map(|r| r.text.as_str()),
            Some(format!("Строка {i}: пришлите акт сверки за квартал, счёт во вложении.").as_str())
        );
        let work = bodies.work();
        assert!(work.counted <= 2 * BLOCK && work.shown <= 2 * BLOCK, "{work:?}");
        // The oldest screen: every row counted once; the next frame counts nothing.
        let (n, _) = bodies.rows_at_least(1, &text, width, usize::MAX);
        bodies.new_frame();
        assert_eq!(bodies.rows_at_least(1, &text, width, usize::MAX), (n, true));
        let rows = bodies.rows(1, &text, width, n - h, n);
        assert_eq!(rows[0].text, "Строка 1: пришлите акт сверки за квартал, счёт во вложении.");
        let work = bodies.work();
        assert_eq!((work.prepared, work.counted), (0, 0));
        assert!(work.shown <= 2 * BLOCK, "{work:?}");
    }
}
