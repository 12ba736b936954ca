//! A gentle check before sending: shouting capitals, runs of exclamation marks,
//! and words the team asked to be warned about. Never answer emotion with emotion.

/// What looks heated in `text`; empty when it reads calmly.
pub fn check(text: &str, words: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let shouted = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| w.chars().count() >= 3 && w.chars().all(|c| c.is_uppercase()))
        .count();
    let letters: Vec<char> = text.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.iter().filter(|c| c.is_uppercase()).count();
    if shouted >= 2 || (letters.len() >= 12 && upper * 2 > letters.len()) {
        found.push("CAPITALS".to_string());
    }
    if text.contains("!!") || text.contains("?!") {
        found.push("!!!".to_string());
    }
    let lower = text.to_lowercase();
    for w in words {
        let w = w.trim().to_lowercase();
        if !w.is_empty() && lower.contains(&w) {
            found.push(format!("«{w}»"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn calm_text_passes() {
        assert!(check("Добрый день! Счёт во вложении, НДС включён.", &[]).is_empty());
    }

    #[test]
    fn heat_is_noticed() {
        assert_eq!(check("СРОЧНО ОПЛАТИТЕ СЕГОДНЯ", &[]), vec!["CAPITALS"]);
        assert_eq!(check("Вы опять опоздали!!!", &[]), vec!["!!!"]);
        assert_eq!(check("Это ваша вина", &["ваша вина".into()]), vec!["«ваша вина»"]);
    }
}
