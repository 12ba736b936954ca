//! Shaping replies: subjects that never pile up `Re: Re:`, and the text a template becomes.

/// `Re: ` once, whatever prefixes (Re, RE, Fwd, Fw, Ответ, Re[2]) the original carried.
pub fn reply_subject(original: Option<&str>) -> String {
    let s = strip_prefixes(original.unwrap_or(""));
    if s.is_empty() { "Re:".to_string() } else { format!("Re: {s}") }
}

/// `Fwd: ` once, before the subject stripped of its reply and forward prefixes.
pub fn forward_subject(original: Option<&str>) -> String {
    let s = strip_prefixes(original.unwrap_or(""));
    if s.is_empty() { "Fwd:".to_string() } else { format!("Fwd: {s}") }
}

/// Does the subject say the mail is a forward (`Fwd:`, `Fw:`, `Пересл:`)? Mail
/// we forwarded from another client comes back from Sent looking like this.
pub fn is_forward_subject(subject: Option<&str>) -> bool {
    let s = subject.unwrap_or("").trim_start().to_lowercase();
    ["fwd:", "fw:", "пересл:", "переслано:", "wg:"].iter().any(|p| s.starts_with(p))
}

fn strip_prefixes(original: &str) -> &str {
    let mut s = original.trim();
    loop {
        let lower = s.to_lowercase();
        let mut stripped = false;
        for p in ["re", "fwd", "fw", "ответ", "отв", "aw", "sv"] {
            if let Some(rest) = lower.strip_prefix(p) {
                // Optional counter: Re[2]: or Re(2):
                let rest_trim = rest
                    .trim_start_matches(|c: char| c == '[' || c == '(' || c.is_ascii_digit() || c == ']' || c == ')');
                if let Some(after) = rest_trim.strip_prefix(':') {
                    let cut = s.len() - after.len();
                    s = s[cut..].trim_start();
                    stripped = true;
                    break;
                }
            }
        }
        if !stripped {
            break;
        }
    }
    s
}

/// Splits `text` into pieces of at most `max` characters, at paragraph
/// boundaries where possible, then at line ends, then at spaces.
pub fn split_text(text: &str, max: usize) -> Vec<String> {
    if text.chars().count() <= max {
        return vec![text.to_string()];
    }
    let mut out = Vec::new();
    let mut rest = text;
    while rest.chars().count() > max {
        let cut_byte = rest.char_indices().nth(max).map(|(i, _)| i).unwrap_or(rest.len());
        let window = &rest[..cut_byte];
        let cut = window
            .rfind("\n\n")
            .map(|i| i + 2)
            .or_else(|| window.rfind('\n').map(|i| i + 1))
            .or_else(|| window.rfind(' ').map(|i| i + 1))
            .filter(|&i| i > 0)
            .unwrap_or(cut_byte);
        out.push(rest[..cut].trim_end().to_string());
        rest = rest[cut..].trim_start_matches('\n');
    }
    if !rest.trim().is_empty() {
        out.push(rest.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{forward_subject, reply_subject};

    #[test]
    fn re_is_normalised() {
        assert_eq!(reply_subject(Some("Счёт на оплату")), "Re: Счёт на оплату");
        assert_eq!(reply_subject(Some("Re: Re: RE: Счёт")), "Re: Счёт");
        assert_eq!(reply_subject(Some("Re[3]: Fwd: акт")), "Re: акт");
        assert_eq!(reply_subject(Some("Ответ: вопрос")), "Re: вопрос");
        assert_eq!(reply_subject(Some("Regarding taxes")), "Re: Regarding taxes");
        assert_eq!(reply_subject(None), "Re:");
    }

    #[test]
    fn fwd_is_normalised() {
        assert_eq!(forward_subject(Some("Re: Fwd: Акт сверки")), "Fwd: Акт сверки");
        assert_eq!(forward_subject(Some("Договор")), "Fwd: Договор");
        assert_eq!(forward_subject(None), "Fwd:");
        assert!(super::is_forward_subject(Some("FW: акт")));
        assert!(super::is_forward_subject(Some("Пересл: акт")));
        assert!(!super::is_forward_subject(Some("Re: Fwd: акт")));
    }
}

/// The line of a client's message that carries the request, for a one-line
/// quote: the greeting («Добрый день!», "Hi Anna,") is skipped, also at the
/// start of a line that goes on.
pub fn request_line(body: &str) -> &str {
    const GREETINGS: &[&str] = &[
        "добрый",
        "доброе",
        "доброй",
        "здравствуй",
        "привет",
        "приветствую",
        "уважаем",
        "hello",
        "hi ",
        "hi,",
        "dear",
        "good morning",
        "good afternoon",
    ];
    let greets = |l: &str| {
        let lower = l.trim_start().to_lowercase();
        GREETINGS.iter().any(|g| lower.starts_with(g))
    };
    let lines: Vec<&str> = body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('>')).collect();
    for l in &lines {
        if !greets(l) {
            return l;
        }
        // «Добрый день! Пришлите акт»: what follows the greeting's sentence.
        if let Some(i) = l.find(['!', '.']).or_else(|| l.find(',')) {
            let rest = l[i + 1..].trim_start_matches(['!', '.', ',', ' ']);
            if !rest.is_empty() && !greets(rest) && rest.chars().count() > 3 {
                return rest;
            }
        }
    }
    lines.first().copied().unwrap_or("")
}

#[cfg(test)]
mod request_line_tests {
    use super::request_line;

    #[test]
    fn the_greeting_is_not_the_request() {
        assert_eq!(
            request_line("Добрый день!\n\nПришлите, пожалуйста, акт сверки."),
            "Пришлите, пожалуйста, акт сверки."
        );
        assert_eq!(request_line("Здравствуйте, Анна! Когда будет отчёт?"), "Когда будет отчёт?");
        assert_eq!(request_line("Hi Anna,\nplease send the invoice"), "please send the invoice");
        assert_eq!(request_line("Пришлите счёт"), "Пришлите счёт");
        assert_eq!(request_line("Добрый день!"), "Добрый день!");
    }
}
