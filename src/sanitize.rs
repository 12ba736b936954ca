//! The one gate every string from outside passes before it reaches the terminal.
//!
//! Remote text (names, subjects, bodies, file names) may carry terminal escape
//! sequences (CSI, OSC — including OSC 52 clipboard writes — DCS, APC, PM, SOS),
//! bare control characters, bidi overrides that reorder what the eye sees, and
//! zero-width characters that hide content. ratatui passes all of these through
//! to the terminal, so they are stripped or made visible here.

use std::borrow::Cow;

const ESC: char = '\u{1b}';

/// Sanitises text for a single-line cell: line breaks become spaces.
pub fn line(s: &str) -> Cow<'_, str> {
    clean(s, false)
}

/// Sanitises multi-line text: `\n` is kept, everything else as in [`line`].
pub fn text(s: &str) -> Cow<'_, str> {
    clean(s, true)
}

/// Sanitises a file name received from outside for display *and* for use as a
/// path component: no separators, no `..`, no leading dot, no controls.
pub fn file_name(s: &str) -> String {
    let shown = line(s);
    let mut out: String = shown
        .chars()
        .map(|c| match c {
            '/' | '\\' | ':' | '\0' => '_',
            c => c,
        })
        .collect();
    out = out.trim().trim_start_matches('.').to_string();
    if out.is_empty() || out == "." || out == ".." {
        out = "attachment".to_string();
    }
    // Keep names within common file system limits (255 bytes).
    while out.len() > 200 {
        out.pop();
    }
    out
}

/// Serialized JSON made safe for a terminal: C1 controls, DEL, bidi controls and
/// zero-width characters become `\uXXXX` escapes. They can only occur inside JSON
/// strings, where an escape means the same character, so the document decodes
/// to exactly the same values (`--raw` skips this for tools that want bytes).
pub fn json(serialized: String) -> String {
    if !serialized.chars().any(|c| c as u32 == 0x7f || is_control(c) && c as u32 >= 0x80 || is_invisible(c)) {
        return serialized;
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    for c in serialized.chars() {
        if c as u32 == 0x7f || (is_control(c) && c as u32 >= 0x80) || is_invisible(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_work(s: &str) -> bool {
    s.chars().any(|c| is_control(c) || is_invisible(c) || c == '\t' || c == '\r')
}

fn is_control(c: char) -> bool {
    let u = c as u32;
    u < 0x20 || (0x7f..=0x9f).contains(&u)
}

/// Bidi embeddings, overrides and isolates, directional marks, zero-width
/// characters and the BOM: nothing a reader can see, everything an attacker can use.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero width space/non-joiner/joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}' // LRE RLE PDF LRO RLO
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{2069}' // LRI RLI FSI PDI
        | '\u{061C}'              // Arabic letter mark
        | '\u{FEFF}'              // BOM / zero width no-break space
        | '\u{00AD}'              // soft hyphen
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
    )
}

fn clean(s: &str, multiline: bool) -> Cow<'_, str> {
    if !needs_work(s) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ESC => skip_escape(&mut chars),
            // C1 introducers of the same sequences (8-bit forms).
            '\u{9b}' => skip_csi(&mut chars),
            '\u{9d}' | '\u{90}' | '\u{98}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            '\n' if multiline => out.push('\n'),
            '\n' => out.push(' '),
            '\r' => {
                // CRLF is a line break; a lone CR would move the cursor.
                if chars.peek() != Some(&'\n') {
                    out.push(if multiline { '\n' } else { ' ' });
                }
            }
            '\t' => out.push_str("    "),
            c if is_invisible(c) => {}
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                // Show C0 controls as their Control Pictures glyph (␇, ␈, …).
                let pic = if c as u32 == 0x7f { '\u{2421}' } else { char::from_u32(0x2400 + c as u32).unwrap_or('?') };
                out.push(pic);
            }
            c if is_control(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.peek().copied() {
        Some('[') => {
            chars.next();
            skip_csi(chars);
        }
        // OSC, DCS, SOS, PM, APC: strings ended by BEL or ST (ESC \).
        Some(']') | Some('P') | Some('X') | Some('^') | Some('_') => {
            chars.next();
            skip_string(chars);
        }
        // Two-byte sequences (ESC c, ESC 7, charset selection ESC ( B ...).
        Some('(') | Some(')') | Some('*') | Some('+') | Some('#') | Some('%') => {
            chars.next();
            chars.next();
        }
        Some(c) if ('\u{20}'..='\u{7e}').contains(&c) => {
            chars.next();
        }
        _ => {}
    }
}

/// CSI: parameter and intermediate bytes, then one final byte in 0x40..=0x7E.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) {
            return;
        }
        if !('\u{20}'..='\u{3f}').contains(&c) {
            // Not a valid CSI body: stop here and drop the odd byte too.
            return;
        }
    }
}

/// String sequences end at BEL, ST (ESC \) or the 8-bit ST (0x9C).
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{07}' | '\u{9c}' => return,
            ESC => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// Display width in terminal cells (Cyrillic 1, CJK and most emoji 2).
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

/// Cuts `s` to at most `max` cells, ending with `…` when something was cut.
pub fn truncate(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    if max == 0 {
        return Cow::Borrowed("");
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
        if used + w > max - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_escapes_what_a_terminal_acts_on_and_decodes_the_same() {
        let hostile = "a\u{9b}31mb\u{9d}52;c\u{7}d\u{202e}e\u{200b}f\u{7f}g\u{1b}[2J ё";
        let text = serde_json::to_string_pretty(&serde_json::json!({ "body": hostile })).expect("json");
        let safe = json(text);
        for c in ['\u{9b}', '\u{9d}', '\u{202e}', '\u{200b}', '\u{7f}', '\u{1b}', '\u{7}'] {
            assert!(!safe.contains(c), "{c:?} left raw in {safe}");
        }
        assert!(safe.contains("\\u009b") && safe.contains("\\u202e") && safe.contains('ё'));
        let back: serde_json::Value = serde_json::from_str(&safe).expect("still JSON");
        assert_eq!(back["body"], hostile);
    }

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(line("Привет, мир"), Cow::Borrowed(_)));
    }

    #[test]
    fn strips_csi_and_osc() {
        assert_eq!(line("a\x1b[31mred\x1b[0m b"), "ared b");
        assert_eq!(line("x\x1b]52;c;ZXZpbA==\x07y"), "xy");
        assert_eq!(line("x\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\y"), "xlinky");
        assert_eq!(line("x\x1bP1$qm\x1b\\y"), "xy");
        assert_eq!(line("x\u{9b}2Jy"), "xy");
    }

    #[test]
    fn bidi_and_zero_width_removed() {
        assert_eq!(line("abc\u{202E}fdp.exe"), "abcfdp.exe");
        assert_eq!(line("a\u{2066}b\u{2069}c\u{200B}d\u{FEFF}"), "abcd");
    }

    #[test]
    fn controls_are_visible() {
        assert_eq!(line("bell\x07"), "bell\u{2407}");
        assert_eq!(line("a\nb"), "a b");
        assert_eq!(text("a\r\nb\rc"), "a\nb\nc");
    }

    #[test]
    fn file_names_cannot_escape() {
        assert_eq!(file_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(file_name(".."), "attachment");
        assert_eq!(file_name(".bashrc"), "bashrc");
        assert_eq!(file_name("Счёт №5.pdf"), "Счёт №5.pdf");
    }

    #[test]
    fn truncation_respects_width() {
        assert_eq!(truncate("日本語テキスト", 5), "日本…");
        assert_eq!(truncate("Привет", 10), "Привет");
        assert!(width(&truncate("Привет мир", 5)) <= 5);
    }
}
