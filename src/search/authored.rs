//! What of a message its author wrote: the part the index sees.
//!
//! A reply carries its thread below it ("> …" lines under "On …, Anna wrote:",
//! or an Outlook "-----Original Message-----" block). That text is indexed
//! where it was written; indexing every copy again would make each reply a
//! hit for its whole thread and cost index space and ingest time. The stored
//! and shown body stays whole.

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

#[cfg(test)]
mod tests {
    use super::authored;

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
