//! The one gate every string from outside passes before it reaches the terminal.
//!
//! Remote text (names, subjects, bodies, file names) may carry terminal escape
//! sequences (CSI, OSC — including OSC 52 clipboard writes — DCS, APC, PM, SOS),
//! bare control characters, bidi overrides that reorder what the eye sees,
//! zero-width characters that hide content, Unicode tag characters that carry
//! whole hidden sentences ("ASCII smuggling"), blank fillers that make a name
//! look empty, and the Unicode line and paragraph separators that break a line
//! the rest of pult thinks is one. ratatui passes all of these through to the
//! terminal, so they are stripped or made visible here.

use std::borrow::Cow;

const ESC: char = '\u{1b}';

/// Sanitises text for a single-line cell: line breaks, U+2028 and U+2029
/// included, become spaces.
pub fn line(s: &str) -> Cow<'_, str> {
    clean(s, false)
}

/// Sanitises multi-line text: `\n` is kept, everything else as in [`line`].
/// U+2028 and U+2029 become `\n`: the sender meant a line break, and
/// wrapping, search snippets and the terminal all know only `\n` (a terminal
/// draws U+2028 as nothing, one glyph, or a break, depending on the font).
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
    let escaped = |c: char| c as u32 == 0x7f || is_control(c) && c as u32 >= 0x80 || is_invisible(c) || is_separator(c);
    if !serialized.chars().any(escaped) {
        return serialized;
    }
    let mut out = String::with_capacity(serialized.len() + 16);
    for c in serialized.chars() {
        if escaped(c) {
            // JSON's \u takes four hex digits: beyond the BMP (tag characters),
            // a UTF-16 surrogate pair.
            for unit in c.encode_utf16(&mut [0; 2]) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn needs_work(s: &str) -> bool {
    s.chars()
        .any(|c| is_control(c) || is_invisible(c) || is_separator(c) || c == '\t' || c == '\r' || c == BRAILLE_BLANK)
}

/// U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR.
fn is_separator(c: char) -> bool {
    matches!(c, '\u{2028}' | '\u{2029}')
}

/// Looks like a space but is a letter to `trim()` and to search: a name made
/// of it looks empty. It becomes a plain space (braille readers lose nothing:
/// it is the blank cell between braille words).
const BRAILLE_BLANK: char = '\u{2800}';

fn is_control(c: char) -> bool {
    let u = c as u32;
    u < 0x20 || (0x7f..=0x9f).contains(&u)
}

/// Bidi embeddings, overrides and isolates, directional marks, zero-width
/// characters, the BOM, tag characters and blank fillers: nothing a reader
/// can see, everything an attacker can use.
///
/// Tag characters are stripped whole, though an emoji flag of a region
/// (🏴 + tags, e.g. Scotland) uses them: it shows as a plain black flag, a
/// small loss next to a sentence only a machine reads. Variation selectors
/// (U+FE0F after an emoji) stay: they change how a visible character looks.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}'   // zero width space/non-joiner/joiner, LRM, RLM
        | '\u{202A}'..='\u{202E}' // LRE RLE PDF LRO RLO
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206F}' // LRI RLI FSI PDI, deprecated format controls
        | '\u{061C}'              // Arabic letter mark
        | '\u{FEFF}'              // BOM / zero width no-break space
        | '\u{00AD}'              // soft hyphen
        | '\u{034F}'              // combining grapheme joiner
        | '\u{FFF9}'..='\u{FFFB}' // interlinear annotation
        | '\u{115F}' | '\u{1160}' // Hangul choseong and jungseong fillers
        | '\u{3164}' | '\u{FFA0}' // Hangul filler, halfwidth Hangul filler
        | '\u{17B4}' | '\u{17B5}' // Khmer inherent vowels (never drawn)
        | '\u{180E}'              // Mongolian vowel separator (was a space)
        | '\u{1BCA0}'..='\u{1BCA3}' // shorthand format controls
        | '\u{1D173}'..='\u{1D17A}' // musical symbol formatting
        | '\u{E0000}'..='\u{E007F}' // tag characters
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
            '\n' | '\u{2028}' | '\u{2029}' if multiline => out.push('\n'),
            '\n' | '\u{2028}' | '\u{2029}' => out.push(' '),
            BRAILLE_BLANK => out.push(' '),
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
    fn tags_fillers_and_separators_are_gone() {
        // "Ignore" spelled in tag characters after a visible word.
        let smuggled: String = "Ignore".chars().map(|c| char::from_u32(0xE0000 + c as u32).unwrap_or('?')).collect();
        assert_eq!(line(&format!("Hi{smuggled}\u{E007F}!")), "Hi!");
        assert_eq!(line("\u{3164}"), "");
        assert_eq!(line("a\u{115F}\u{1160}b\u{FFA0}c\u{180E}d\u{034F}e"), "abcde");
        assert_eq!(line("\u{2800}\u{2800}"), "  ", "a braille blank is a space, so trim() sees it");
        assert_eq!(line("Счёт\u{2028}оплачен\u{2029}спасибо"), "Счёт оплачен спасибо");
        assert_eq!(text("Счёт\u{2028}оплачен\u{2029}спасибо"), "Счёт\nоплачен\nспасибо");
        assert_eq!(file_name("a\u{2028}b\u{E0041}.pdf"), "a b.pdf");
        // An emoji keeps its variation selector and its joiner-free form.
        assert_eq!(line("❤\u{FE0F}"), "❤\u{FE0F}");
        let hidden = "x\u{2028}y\u{E0041}\u{3164}";
        let out = json(serde_json::json!({ "b": hidden }).to_string());
        assert!(out.contains("\\u2028") && out.contains("\\udb40\\udc41") && out.contains("\\u3164"), "{out}");
        assert!(!out.contains(['\u{2028}', '\u{E0041}', '\u{3164}']), "{out}");
        let back: serde_json::Value = serde_json::from_str(&out).expect("still JSON");
        assert_eq!(back["b"], hidden);
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
