//! Desktop notifications through the terminal (OSC 9, OSC 777), for the
//! moments the bell marks: they travel over SSH like any output, and through
//! tmux when wrapped in its passthrough (`set -g allow-passthrough on`).
//!
//! A terminal that does not know the sequence is supposed to ignore it, but
//! not every one does; so only terminals known to show them get one.

/// The bytes that show `body` as a notification titled `title`, for the
/// terminal the environment describes (`env` reads a variable); None when
/// the terminal is not known to support it.
pub fn sequence(env: &dyn Fn(&str) -> Option<String>, title: &str, body: &str) -> Option<Vec<u8>> {
    // Control characters would end the sequence early; `;` separates OSC 777's fields.
    let clean = |s: &str| crate::sanitize::line(s).replace([';', '\u{7}', '\u{1b}'], " ");
    let (title, body) = (clean(title), clean(body));
    let program = env("TERM_PROGRAM").or_else(|| env("LC_TERMINAL")).unwrap_or_default().to_lowercase();
    let term = env("TERM").unwrap_or_default().to_lowercase();
    let osc = if ["iterm.app", "iterm2", "wezterm", "ghostty"].iter().any(|p| program.contains(p))
        || term.contains("kitty")
    {
        format!("\x1b]9;{title}: {body}\x07")
    } else if env("VTE_VERSION").is_some() || term.starts_with("foot") || term.contains("rxvt") {
        format!("\x1b]777;notify;{title};{body}\x07")
    } else {
        return None;
    };
    // tmux passes it on only wrapped, with every ESC doubled.
    let out = if env("TMUX").is_some() { format!("\x1bPtmux;{}\x1b\\", osc.replace('\x1b', "\x1b\x1b")) } else { osc };
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::sequence;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: Vec<(String, String)> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn known_terminals_get_a_sequence_others_none() {
        let text = |vars: &[(&str, &str)]| {
            sequence(&env(vars), "pult", "Вектор; под угрозой\u{1b}[2J").map(|b| String::from_utf8(b).expect("utf-8"))
        };
        assert_eq!(text(&[("TERM_PROGRAM", "WezTerm")]).as_deref(), Some("\x1b]9;pult: Вектор  под угрозой\x07"));
        assert_eq!(
            text(&[("VTE_VERSION", "7600"), ("TERM", "xterm-256color")]).as_deref(),
            Some("\x1b]777;notify;pult;Вектор  под угрозой\x07")
        );
        assert_eq!(
            text(&[("TERM_PROGRAM", "iTerm.app"), ("TMUX", "/tmp/tmux-0/default,1,0")]).as_deref(),
            Some("\x1bPtmux;\x1b\x1b]9;pult: Вектор  под угрозой\x07\x1b\\")
        );
        assert_eq!(text(&[("TERM", "xterm")]), None);
        assert_eq!(text(&[]), None);
    }
}
