//! Key names as people write them in keymap files and tests: `j`, `G`, `<Enter>`, `<C-d>`, `<A-Enter>`.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub mods: KeyModifiers,
}

impl Key {
    /// Normalises a terminal key event so that `G` and `<S-g>` compare equal.
    pub fn from_event(e: &KeyEvent) -> Key {
        let mut mods = e.modifiers & (KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SHIFT);
        if let KeyCode::Char(_) = e.code {
            mods.remove(KeyModifiers::SHIFT);
        }
        let code = match e.code {
            KeyCode::BackTab => {
                mods.insert(KeyModifiers::SHIFT);
                KeyCode::Tab
            }
            c => c,
        };
        Key { code, mods }
    }

    pub fn to_event(self) -> KeyEvent {
        let code = if self.code == KeyCode::Tab && self.mods.contains(KeyModifiers::SHIFT) {
            KeyCode::BackTab
        } else {
            self.code
        };
        KeyEvent { code, modifiers: self.mods, kind: KeyEventKind::Press, state: KeyEventState::NONE }
    }

    pub fn plain_char(self) -> Option<char> {
        match self.code {
            KeyCode::Char(c) if !self.mods.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) => Some(c),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad key {0:?}")]
pub struct BadKey(pub String);

/// Parses one key: a single character, or `<…>` with optional `C-`, `A-`, `S-` prefixes.
pub fn parse_key(s: &str) -> Result<Key, BadKey> {
    let bad = || BadKey(s.to_string());
    let mut chars = s.chars();
    let first = chars.next().ok_or_else(bad)?;
    if chars.next().is_none() {
        return Ok(Key { code: KeyCode::Char(first), mods: KeyModifiers::NONE });
    }
    let inner = s.strip_prefix('<').and_then(|r| r.strip_suffix('>')).ok_or_else(bad)?;
    let mut mods = KeyModifiers::NONE;
    let mut name = inner;
    loop {
        let lower = name.to_ascii_lowercase();
        if name.len() > 2 && lower.starts_with("c-") {
            mods |= KeyModifiers::CONTROL;
        } else if name.len() > 2 && (lower.starts_with("a-") || lower.starts_with("m-")) {
            mods |= KeyModifiers::ALT;
        } else if name.len() > 2 && lower.starts_with("s-") {
            mods |= KeyModifiers::SHIFT;
        } else {
            break;
        }
        name = &name[2..];
    }
    let code = match name.to_ascii_lowercase().as_str() {
        "enter" | "cr" | "return" => KeyCode::Enter,
        "esc" | "escape" => KeyCode::Esc,
        "tab" => KeyCode::Tab,
        "backtab" => {
            mods |= KeyModifiers::SHIFT;
            KeyCode::Tab
        }
        "space" => KeyCode::Char(' '),
        "bs" | "backspace" => KeyCode::Backspace,
        "del" | "delete" => KeyCode::Delete,
        "up" => KeyCode::Up,
        "down" => KeyCode::Down,
        "left" => KeyCode::Left,
        "right" => KeyCode::Right,
        "home" => KeyCode::Home,
        "end" => KeyCode::End,
        "pageup" | "pgup" => KeyCode::PageUp,
        "pagedown" | "pgdn" => KeyCode::PageDown,
        "lt" => KeyCode::Char('<'),
        "gt" => KeyCode::Char('>'),
        f if f.len() >= 2 && f.starts_with('f') && f[1..].chars().all(|c| c.is_ascii_digit()) => {
            KeyCode::F(f[1..].parse().map_err(|_| bad())?)
        }
        _ => {
            let mut cs = name.chars();
            match (cs.next(), cs.next()) {
                (Some(c), None) => {
                    // <C-D> means the same as <C-d>; terminals report control letters in lower case.
                    let c = if mods.contains(KeyModifiers::CONTROL) { c.to_ascii_lowercase() } else { c };
                    KeyCode::Char(c)
                }
                _ => return Err(bad()),
            }
        }
    };
    if let KeyCode::Char(_) = code {
        mods.remove(KeyModifiers::SHIFT);
    }
    Ok(Key { code, mods })
}

/// Parses a space-separated key string as used in tests: `"j j <Enter> t"`.
pub fn parse_keys(s: &str) -> Result<Vec<Key>, BadKey> {
    s.split_whitespace().map(parse_key).collect()
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut prefix = String::new();
        if self.mods.contains(KeyModifiers::CONTROL) {
            prefix.push_str("C-");
        }
        if self.mods.contains(KeyModifiers::ALT) {
            prefix.push_str("A-");
        }
        if self.mods.contains(KeyModifiers::SHIFT) {
            prefix.push_str("S-");
        }
        let name = match self.code {
            KeyCode::Char(' ') => "Space".to_string(),
            KeyCode::Char(c) if prefix.is_empty() => return write!(f, "{c}"),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::Backspace => "BS".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Up => "Up".into(),
            KeyCode::Down => "Down".into(),
            KeyCode::Left => "Left".into(),
            KeyCode::Right => "Right".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::PageUp => "PageUp".into(),
            KeyCode::PageDown => "PageDown".into(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        write!(f, "<{prefix}{name}>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["j", "G", "<Enter>", "<C-d>", "<A-Enter>", "<S-Tab>", "?", ":", "<Space>", "<F5>"] {
            let k = parse_key(s).expect(s);
            assert_eq!(parse_key(&k.to_string()).expect("round trip"), k, "{s}");
        }
        assert_eq!(parse_key("<C-D>").expect("C-D"), parse_key("<c-d>").expect("c-d"));
        assert!(parse_key("<Nope>").is_err());
        assert!(parse_key("jj").is_err());
        assert_eq!(parse_keys("g g <Enter>").expect("keys").len(), 3);
    }

    #[test]
    fn events_normalise() {
        let shifted = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&shifted), parse_key("G").expect("G"));
        let backtab = KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT);
        assert_eq!(Key::from_event(&backtab), parse_key("<S-Tab>").expect("S-Tab"));
    }
}
