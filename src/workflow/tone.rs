//! A gentle check before sending: shouting capitals, runs of exclamation marks,
//! and words the team asked to be warned about. Never answer emotion with emotion.

/// One thing that makes a message read as heated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heat {
    /// Shouting: words or most of the text in capitals.
    Capitals,
    /// «!!» or «?!».
    Exclamations,
    /// A word the team asked to be warned about.
    Word(String),
}

impl Heat {
    /// As the warning names it, in `lang`.
    pub fn in_language(&self, lang: crate::i18n::Lang) -> String {
        match self {
            Heat::Capitals => lang.tr("tone_capitals").to_string(),
            Heat::Exclamations => "!!!".to_string(),
            Heat::Word(w) => format!("«{w}»"),
        }
    }
}

/// What looks heated in `text`; empty when it reads calmly.
pub fn check(text: &str, words: &[String]) -> Vec<Heat> {
    let mut found = Vec::new();
    let shouted = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3 && w.chars().all(|c| c.is_uppercase()))
        .count();
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if shouted >= 2 || (letters.len() >= 12 && upper * 2 > letters.len()) {
        found.push(Heat::Capitals);
    }
    if text.contains("!!") || text.contains("?!") {
        found.push(Heat::Exclamations);
    }
    let lower = text.to_lowercase();
    for w in words {
        let w = w.trim().to_lowercase();
        if !w.is_empty() && lower.contains(&w) {
            found.push(Heat::Word(w));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::{Heat, check};

    #[test]
    fn calm_text_passes() {
        assert!(check("Добрый день! Счёт во вложении, НДС включён.", &[]).is_empty());
    }

    #[test]
    fn heat_is_noticed() {
        assert_eq!(check("СРОЧНО ОПЛАТИТЕ СЕГОДНЯ", &[]), vec![Heat::Capitals]);
        assert_eq!(check("Вы опять опоздали!!!", &[]), vec![Heat::Exclamations]);
        assert_eq!(check("Это ваша вина", &["ваша вина".into()]), vec![Heat::Word("ваша вина".into())]);
        let ru = Heat::Capitals.in_language(crate::i18n::Lang::Ru);
        assert_eq!((ru.as_str(), crate::i18n::english_leak(&ru)), ("ЗАГЛАВНЫЕ БУКВЫ", None));
        assert_eq!(Heat::Capitals.in_language(crate::i18n::Lang::En), "CAPITALS");
        assert_eq!(Heat::Word("ваша вина".into()).in_language(crate::i18n::Lang::Ru), "«ваша вина»");
    }
}
