//! What of a message its author wrote: the part the index sees.
//!
//! A reply carries its thread below it ("> …" lines under "On …, Anna wrote:",
//! or an Outlook "-----Original Message-----" block). That text is indexed
//! where it was written; indexing every copy again would make each reply a
//! hit for its whole thread and cost index space and ingest time. The stored
//! and shown body stays whole.
//!
//! The signature below what was written (`-- `, «С уважением, …», a name
//! line) is not cut for the index — a client is found by the phone in it —
//! but `said` leaves it out for those who judge what a message asks.

use std::borrow::Cow;

/// Lines that start the copy of the message being answered (everything after is quoted).
const ORIGINAL: &[&str] =
    &["-----original message-----", "-----исходное сообщение-----", "-------- original message --------"];

/// The ends of the attribution line above a quote: "On 20.11.2026, Anna wrote:".
const ATTRIBUTION: &[&str] = &["wrote:", "пишет:", "написал:", "написала:", "написал(а):", "писал(а):"];

pub fn authored(body: &str) -> Cow<'_, str> {
    let quoted = |l: &str| l.trim_start().starts_with('>');
    // Lower-cased only when it could be one (a line of dashes): most lines are not.
    let original = |l: &str| {
        let t = l.trim();
        t.starts_with("-----") && ORIGINAL.iter().any(|o| t.to_lowercase() == *o)
    };
    if !body.lines().any(|l| quoted(l) || original(l)) {
        return Cow::Borrowed(body);
    }
    let mut kept: Vec<&str> = Vec::new();
    for line in body.lines() {
        if original(line) {
            break;
        }
        if quoted(line) {
            // The attribution above the quote goes with it.
            while kept.last().is_some_and(|l| l.trim().is_empty()) {
                kept.pop();
            }
            if kept.last().is_some_and(|l| {
                let t = l.trim_end().to_lowercase();
                ATTRIBUTION.iter().any(|a| t.ends_with(a))
            }) {
                kept.pop();
            }
            continue;
        }
        kept.push(line);
    }
    Cow::Owned(kept.join("\n"))
}

/// The longest sign-off, in characters.
const SIGN_OFF_CHARS: usize = 24;
/// Lines that open a sign-off: what follows is the signature.
const SIGN_OFF: &[&str] = &[
    "с уважением",
    "с наилучшими пожеланиями",
    "всего доброго",
    "всего хорошего",
    "best regards",
    "kind regards",
    "regards",
    "best wishes",
    "sincerely",
    "cheers",
];

/// What the author said: `authored` without the signature under it. A sign-off
/// is cut only when what follows it looks like a signature (a few short lines,
/// no question, no P.S.); a last line of two or three capitalised words under
/// the text («Кира Белова») is taken for the author's name.
pub fn said(body: &str) -> String {
    let authored = authored(body);
    let mut lines: Vec<&str> = authored.lines().collect();
    // The signature delimiter: "-- " (RFC 3676), often sent as "--".
    if let Some(at) = lines.iter().position(|l| matches!(l.trim(), "--" | "—"))
        && signature_like(&lines[at + 1..], 8)
    {
        lines.truncate(at);
    }
    if let Some(at) = sign_off_at(&lines) {
        lines.truncate(at);
    }
    while lines.last().is_some_and(|l| l.trim().is_empty()) {
        lines.pop();
    }
    if lines.len() > 1 && lines.last().is_some_and(|l| is_name(l)) {
        lines.pop();
    }
    lines.join("\n").trim().to_string()
}

/// The line where a sign-off begins, when what follows it looks like a
/// signature.
fn sign_off_at(lines: &[&str]) -> Option<usize> {
    let at = lines.iter().position(|l| is_sign_off(l))?;
    signature_like(&lines[at + 1..], 4).then_some(at)
}

/// `text` without its closing sign-off («С уважением,\nАнна»), when it has one.
pub fn without_sign_off(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    match sign_off_at(&lines) {
        Some(at) => lines[..at].join("\n").trim_end().to_string(),
        None => text.to_string(),
    }
}

/// Under a signature: at most `most` short lines, none asking or adding a P.S.
fn signature_like(rest: &[&str], most: usize) -> bool {
    let rest: Vec<&str> = rest.iter().map(|l| l.trim()).filter(|l| !l.is_empty()).collect();
    rest.len() <= most
        && rest.iter().all(|l| {
            let lower = l.to_lowercase();
            l.chars().count() <= 60
                && !l.contains('?')
                && !["p.s", "ps", "п.с", "пс"].iter().any(|p| lower.starts_with(p))
        })
}

/// «С уважением,», «С уважением, Кира», "Best regards": a sign-off and at
/// most a name on its line («С уважением к вашему времени, …» is not one).
fn is_sign_off(line: &str) -> bool {
    let line = line.trim();
    // Only the line's start can match: lowering the whole of every line of
    // every mail was a twentieth of an ingest.
    let lower: String = line.chars().take(SIGN_OFF_CHARS).flat_map(char::to_lowercase).collect();
    SIGN_OFF.iter().any(|s| {
        lower.starts_with(s) && {
            let rest: String = line.chars().skip(s.chars().count()).collect();
            let rest = rest.trim_start_matches([',', '!', '.', ' ']);
            rest.is_empty() || capitalised(rest, 1..=3)
        }
    })
}

/// «Кира Белова», «Белова К.А.», «Oleg Petrov»: two or three capitalised words.
fn is_name(line: &str) -> bool {
    capitalised(line, 2..=3)
}

fn capitalised(line: &str, count: std::ops::RangeInclusive<usize>) -> bool {
    let words: Vec<&str> = line.split_whitespace().collect();
    count.contains(&words.len())
        && words.iter().all(|w| {
            w.chars().next().is_some_and(char::is_uppercase)
                && w.chars().all(|c| c.is_alphabetic() || matches!(c, '.' | '-'))
        })
}

#[cfg(test)]
mod tests {
    use super::{SIGN_OFF, SIGN_OFF_CHARS, authored, is_sign_off, said};

    #[test]
    fn every_sign_off_fits_the_start_that_is_lowered() {
        assert!(SIGN_OFF.iter().all(|s| s.chars().count() <= SIGN_OFF_CHARS));
        assert!(is_sign_off("С НАИЛУЧШИМИ ПОЖЕЛАНИЯМИ, Анна Белова"));
        assert!(!is_sign_off("С наилучшими пожеланиями к вашему отделу и всем, кто"));
    }

    #[test]
    fn signatures_are_left_out_of_what_was_said() {
        for body in [
            "Спасибо, получили!\n--\nКира Белова\n+7 900 000-00-00",
            "Спасибо, получили!\n-- \nКира",
            "Спасибо, получили!\n\nС уважением,\nКира Белова\nООО «Ромашка»",
            "Спасибо, получили!\nС уважением, Кира",
            "Спасибо, получили!\n\nКира Белова",
            "Спасибо, получили!\n\nBest regards,\nKira",
            "Спасибо, получили!\n\n> Направляю акт\n\n--\nКира",
        ] {
            assert_eq!(said(body), "Спасибо, получили!", "{body:?}");
        }
        // What is not a signature stays.
        assert_eq!(
            said("Спасибо!\nС уважением,\nКира\nP.S. Пришлите счёт"),
            "Спасибо!\nС уважением,\nКира\nP.S. Пришлите счёт"
        );
        assert_eq!(said("Спасибо!\nПришлите счёт"), "Спасибо!\nПришлите счёт");
        assert_eq!(said("Спасибо!\nЖдём"), "Спасибо!\nЖдём");
        assert_eq!(said("Кира Белова"), "Кира Белова");
        assert_eq!(
            said("С уважением к вашему времени, прошу ответить до пятницы"),
            "С уважением к вашему времени, прошу ответить до пятницы"
        );
    }

    #[test]
    fn quotes_and_attributions_are_left_out() {
        let reply =
            "Спасибо, получили.\n\n20.11.2026 10:00, Анна пишет:\n> Направляю акт сверки\n> за квартал\n\n--\nОлег";
        assert_eq!(authored(reply), "Спасибо, получили.\n\n--\nОлег");
        let outlook = "Done.\n-----Original Message-----\nFrom: Anna\nSubject: invoice\n\nPlease pay";
        assert_eq!(authored(outlook), "Done.");
        let plain = "Нет цитат: 5 > 3";
        assert!(matches!(authored(plain), std::borrow::Cow::Borrowed(_)));
        // A line that merely ends with a colon stays.
        assert_eq!(authored("Вот список:\n> пункт"), "Вот список:");
    }
}
