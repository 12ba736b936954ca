//! Short closing messages — «Спасибо, получили 👍», "ok, thanks", an emoji —
//! thank or acknowledge and ask nothing. They are shown, but do not make the
//! client wait for an answer (a person can count one anyway). The words are
//! data (`closing.txt`), extended by `[ui] closing_words`.

use std::sync::OnceLock;

const SHIPPED: &str = include_str!("closing.txt");
/// Longer than this, a message says something of its own.
const MAX_CHARS: usize = 80;
const MAX_WORDS: usize = 8;

static EXTRA: OnceLock<Vec<String>> = OnceLock::new();
/// The shipped words, read once (ingest asks for every client message).
static WORDS: OnceLock<std::collections::HashSet<&'static str>> = OnceLock::new();

/// Adds the config's words (once, at start).
pub fn extend(words: &[String]) {
    let _ = EXTRA.set(words.iter().map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect());
}

fn known(word: &str) -> bool {
    let shipped =
        WORDS.get_or_init(|| SHIPPED.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect());
    shipped.contains(word) || EXTRA.get().is_some_and(|extra| extra.iter().any(|w| w == word))
}

/// Pictographs and their modifiers: 👍 🙏 ❤️ 🙂 …
fn is_emoji(c: char) -> bool {
    matches!(c as u32,
        0x1F000..=0x1FAFF | 0x2600..=0x27BF | 0x2B00..=0x2BFF | 0xFE0F | 0x200D | 0x2190..=0x21FF)
}

/// Whether `text` (what the client wrote) needs no answer. Quotes and the
/// signature are left out first: «Спасибо!» signed «С уважением, Кира» is
/// still a thanks.
pub fn is_closing(text: &str) -> bool {
    let text = crate::search::authored::said(text);
    let text = text.trim();
    if text.is_empty() || text.chars().count() > MAX_CHARS || text.contains('?') {
        return false;
    }
    let lower = text.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || (c.is_ascii_punctuation() && c != '-') || "«»—–…".contains(c))
        .map(|w| w.trim_matches(|c: char| is_emoji(c) || c == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    if words.len() > MAX_WORDS {
        return false;
    }
    // Emoji-only is a closing; so is a message of closing words only.
    words.iter().all(|w| known(w) || w.chars().all(is_emoji)) && (!words.is_empty() || lower.chars().any(is_emoji))
}

#[cfg(test)]
mod tests {
    use super::is_closing;

    #[test]
    fn thanks_and_acknowledgements_close_questions_and_requests_do_not() {
        let closing = [
            "Спасибо, получили 👍",
            "Спасибо!",
            "спасибо большое",
            "Огромное спасибо!!!",
            "Благодарю",
            "Ок",
            "ок, спасибо",
            "Хорошо, договорились",
            "Понял, спасибо",
            "Поняла",
            "Принято",
            "👍",
            "🙏🙏",
            "❤️",
            "Отлично!",
            "Супер, спасибо 🙂",
            "Да, получили",
            "Всё получили, спасибо",
            "Thanks!",
            "thank you so much",
            "Ok, thanks",
            "Got it",
            "Great, thanks a lot",
            "Спасибо, хорошего дня!",
            "Угу",
            "Спасибо, получили!\n--\nКира Белова",
            "Спасибо, получили!\n-- \nКира Белова\n+7 900 000-00-00",
            "Спасибо, получили!\n\nС уважением,\nКира Белова",
            "Спасибо, получили!\nС уважением, Кира",
            "Спасибо, получили!\n\nКира Белова",
        ];
        let asking = [
            "Спасибо, а когда будет акт?",
            "Ок, пришлите счёт",
            "Спасибо. Ещё нужна справка 2-НДФЛ",
            "Получили, но там ошибка в ИНН",
            "Хорошо, а сколько платить?",
            "Не получили",
            "Спасибо, но сумма не та",
            "Thanks, can you also send the invoice",
            "ok?",
            "Пришлите, пожалуйста, платёжку",
            "Добрый день",
            "",
            "Спасибо большое за работу, в следующем месяце нужно будет сдать отчётность по новой форме, подскажите",
            "Спасибо!\nС уважением,\nКира\nP.S. Пришлите счёт",
            "Спасибо, получили!\n--\nКира Белова\n\nА когда акт?",
        ];
        for t in closing {
            assert!(is_closing(t), "{t:?} needs no answer");
        }
        for t in asking {
            assert!(!is_closing(t), "{t:?} needs an answer");
        }
    }
}
