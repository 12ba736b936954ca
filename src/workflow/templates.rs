//! Reply templates: shipped defaults patched by the user's file, variables filled per channel.

use crate::model::ChannelKind;
use serde::Deserialize;
use std::collections::HashMap;

const SHIPPED: &str = include_str!("templates.toml");

/// Unknown keys are refused (a misspelt `emial` would silently send the chat
/// text by email); the README's examples are read by this parser in a test.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Template {
    pub id: String,
    pub name: String,
    pub text: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub fields: Vec<String>,
    /// The WhatsApp-approved template this one stands for: what may go when
    /// WhatsApp's 24-hour window has closed.
    #[serde(default)]
    pub whatsapp: Option<WhatsappTemplate>,
}

/// A message template approved in Meta's WhatsApp Manager: its name, its
/// language code, and the body's `{{1}}`, `{{2}}` … as pult variables.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WhatsappTemplate {
    pub name: String,
    pub language: String,
    #[serde(default)]
    pub params: Vec<String>,
    /// The body as approved in WhatsApp Manager, with `{{1}}`, `{{2}}` …:
    /// what the client reads, and so what the thread records.
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    template: Vec<Template>,
}

#[derive(Debug, Clone)]
pub struct Templates {
    pub all: Vec<Template>,
}

impl Templates {
    pub fn shipped() -> Templates {
        // The shipped file is checked by a test; an error here is a build defect.
        let file: File = toml::from_str(SHIPPED).unwrap_or(File { template: Vec::new() });
        Templates { all: file.template }
    }

    /// Shipped templates patched by a user file: same id replaces, new ids are added.
    pub fn with_user_file(user: Option<&str>) -> (Templates, Option<String>) {
        let mut t = Self::shipped();
        let Some(text) = user else { return (t, None) };
        match toml::from_str::<File>(text) {
            Ok(file) => {
                for u in file.template {
                    match t.all.iter_mut().find(|x| x.id == u.id) {
                        Some(slot) => *slot = u,
                        None => t.all.push(u),
                    }
                }
                (t, None)
            }
            Err(e) => (t, Some(format!("templates.toml: {}", e.message()))),
        }
    }

    pub fn get(&self, id: &str) -> Option<&Template> {
        self.all.iter().find(|t| t.id == id)
    }

    /// Indices of templates matching `filter`, best first.
    pub fn filter(&self, filter: &str) -> Vec<usize> {
        let mut scored: Vec<(i64, usize)> = self
            .all
            .iter()
            .enumerate()
            .filter_map(|(i, t)| {
                let a = fuzzy_score(filter, &t.name);
                let b = fuzzy_score(filter, &t.id).map(|s| s - 1);
                a.max(b).map(|s| (s, i))
            })
            .collect();
        scored.sort_by(|x, y| y.0.cmp(&x.0).then(x.1.cmp(&y.1)));
        scored.into_iter().map(|(_, i)| i).collect()
    }
}

impl Template {
    /// What the WhatsApp sender needs for this template, variables filled:
    /// JSON `{"name", "language", "params"}`; None for a free-text template.
    pub fn whatsapp_payload(&self, vars: &HashMap<&str, String>) -> Option<String> {
        let w = self.whatsapp.as_ref()?;
        let params: Vec<String> = w.params.iter().map(|p| fill_tidy(p, vars)).collect();
        Some(serde_json::json!({"name": w.name, "language": w.language, "params": params}).to_string())
    }

    /// What the client reads when the approved template goes: its approved
    /// body with the parameters filled (the template's own text when the
    /// body is not given). None for a free-text template.
    pub fn whatsapp_text(&self, vars: &HashMap<&str, String>) -> Option<String> {
        let w = self.whatsapp.as_ref()?;
        let Some(body) = &w.body else { return Some(fill_tidy(&self.text, vars)) };
        let mut out = body.clone();
        for (i, p) in w.params.iter().enumerate() {
            out = out.replace(&format!("{{{{{}}}}}", i + 1), &fill_tidy(p, vars));
        }
        Some(out)
    }

    /// The text for a channel, with known variables filled; unknown ones stay
    /// visible as `{name}` for the person to fill in. When the email account
    /// signs its mail (`signature` among the variables: the sender appends it
    /// below the text), the template's own sign-off («С уважением,\n{agent}»)
    /// is left out, so that a mail ends with one sign-off, the account's.
    pub fn render(&self, kind: ChannelKind, vars: &HashMap<&str, String>) -> String {
        let source = match (kind, &self.email) {
            (ChannelKind::Email, Some(e)) => e,
            _ => &self.text,
        };
        let text = fill_tidy(source, vars);
        match (kind, vars.get("signature")) {
            (ChannelKind::Email, Some(s)) if !s.trim().is_empty() => crate::search::authored::without_sign_off(&text),
            _ => text,
        }
    }
}

/// Fills variables and tidies what empty optional fields leave behind.
/// The variables every template can use: who writes, today, the working
/// hours, and the conversation's channel, client and company when known.
pub fn standard_vars<'a>(
    agent: &str,
    today: String,
    hours: &str,
    conversation: Option<&crate::model::ConversationRow>,
) -> HashMap<&'a str, String> {
    let mut vars = HashMap::new();
    vars.insert("agent", agent.to_string());
    vars.insert("today", today);
    if !hours.is_empty() {
        vars.insert("hours", hours.to_string());
    }
    if let Some(c) = conversation {
        vars.insert("channel", c.channel_name.clone());
        if let Some(name) = c.client_name.as_ref().or(c.client.as_ref()) {
            vars.insert("client", crate::sanitize::line(name).into_owned());
        }
        // How a letter greets the person: «Ольга Николаевна», «Боб».
        let person = c.client_name.as_deref().or(c.client.as_deref()).map(|n| crate::sanitize::line(n).into_owned());
        if let Some(person) = person {
            vars.insert("client.greeting_name", greeting_name(&person).unwrap_or(person));
        }
        if let Some(company) = &c.client {
            vars.insert("company", crate::sanitize::line(company).into_owned());
        }
    }
    vars
}

/// How to greet a person by their full name: name and patronymic for a
/// Russian full name («Семёнова Ольга Николаевна» → «Ольга Николаевна»), the
/// first name otherwise («Боб Клиентов» → «Боб», «Клиентов Боб» → «Боб»).
/// None for what is not a person's name (an organisation).
pub fn greeting_name(full: &str) -> Option<String> {
    let words: Vec<&str> = full.split_whitespace().collect();
    let org = ["ООО", "ИП", "АО", "ЗАО", "ПАО", "ОАО", "LLC", "Ltd", "Inc", "GmbH"];
    if words.is_empty()
        || words.iter().any(|w| org.contains(&w.trim_matches(|c: char| !c.is_alphanumeric())) || w.contains('«'))
    {
        return None;
    }
    let lower = |w: &str| w.to_lowercase();
    let patronymic = |w: &str| {
        let w = lower(w);
        ["вич", "вна", "ична", "инична", "ьич"].iter().any(|e| w.ends_with(e)) && w.chars().count() > 4
    };
    if let Some(p) = words.iter().position(|w| patronymic(w)).filter(|&p| p > 0) {
        return Some(format!("{} {}", words[p - 1], words[p]));
    }
    let surname = |w: &str| {
        let w = lower(w);
        [
            "ов", "ова", "ев", "ева", "ёв", "ёва", "ин", "ина", "ский", "ская", "цкий", "цкая", "ых", "их", "енко",
            "ук", "юк",
        ]
        .iter()
        .any(|e| w.ends_with(e))
            && w.chars().count() > 3
    };
    match words.as_slice() {
        [first, second] if surname(first) && !surname(second) => Some(second.to_string()),
        [first, ..] => Some(first.to_string()),
        [] => None,
    }
}

pub fn fill_tidy(source: &str, vars: &HashMap<&str, String>) -> String {
    let filled = fill(source, vars);
    filled.lines().map(|l| l.trim_end()).collect::<Vec<_>>().join("\n").trim().to_string()
}

pub fn fill(source: &str, vars: &HashMap<&str, String>) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('}') {
            Some(end) if after[..end].chars().all(|c| c.is_alphanumeric() || c == '_' || c == '.') => {
                let name = &after[..end];
                match vars.get(name) {
                    // «Выполнено. {what}»: what a person typed starts a sentence with a capital.
                    Some(v) if starts_sentence(&out) => out.push_str(&capitalised(v)),
                    Some(v) => out.push_str(v),
                    None => {
                        out.push('{');
                        out.push_str(name);
                        out.push('}');
                    }
                }
                rest = &after[end + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// True where the next word starts a sentence: after «.», «!», «?» or «…»
/// and a space (a line break alone does not: a sign-off's name follows one).
fn starts_sentence(before: &str) -> bool {
    let trimmed = before.trim_end_matches(' ');
    trimmed.len() < before.len() && trimmed.ends_with(['.', '!', '?', '…'])
}

/// `text` with its first letter in upper case («провела платёжку» → «Провела платёжку»).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) if first.is_lowercase() => first.to_uppercase().chain(chars).collect(),
        _ => text.to_string(),
    }
}

/// Subsequence match, case-insensitive; consecutive and word-start hits score higher.
pub fn fuzzy_score(pattern: &str, candidate: &str) -> Option<i64> {
    if pattern.is_empty() {
        return Some(0);
    }
    let cand: Vec<char> = candidate.to_lowercase().chars().collect();
    let mut score = 0i64;
    let mut pos = 0usize;
    let mut prev: Option<usize> = None;
    for p in pattern.to_lowercase().chars().filter(|c| !c.is_whitespace()) {
        let found = cand[pos..].iter().position(|c| *c == p)? + pos;
        score += 1;
        if prev.is_some_and(|q| q + 1 == found) {
            score += 3;
        }
        if found == 0 || !cand[found - 1].is_alphanumeric() {
            score += 2;
        }
        prev = Some(found);
        pos = found + 1;
    }
    Some(score - (cand.len() as i64 / 8))
}

#[cfg(test)]
mod greeting_tests {
    use super::greeting_name;

    #[test]
    fn russian_full_names_greet_by_name_and_patronymic() {
        let cases = [
            ("Семёнова Ольга Николаевна", Some("Ольга Николаевна")),
            ("Ольга Николаевна Семёнова", Some("Ольга Николаевна")),
            ("Иванов Пётр Ильич", Some("Пётр Ильич")),
            ("Кузнецов Сергей Петрович", Some("Сергей Петрович")),
            ("Боб Клиентов", Some("Боб")),
            ("Клиентов Боб", Some("Боб")),
            ("Ирина Петрова", Some("Ирина")),
            ("Irina", Some("Irina")),
            ("ООО «Ромашка»", None),
            ("ИП Морозова", None),
        ];
        for (full, want) in cases {
            assert_eq!(greeting_name(full).as_deref(), want, "{full}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_templates_parse() {
        let file: File = toml::from_str(SHIPPED).expect("shipped templates");
        let t = Templates { all: file.template };
        for id in ["accept", "done", "documents-received", "after-hours", "rules", "confirm-please", "redate"] {
            assert!(t.get(id).is_some(), "missing {id}");
        }
        assert!(t.get("accept").expect("accept").text.contains("Принято в работу"));
        assert!(t.get("done").expect("done").text.contains("Выполнено"));
    }

    #[test]
    fn per_channel_variants() {
        let t = Templates::shipped();
        let vars: HashMap<&str, String> = [
            ("client", "Ирина Петрова".to_string()),
            ("client.greeting_name", "Ирина".to_string()),
            ("deadline", "пт 18:00".to_string()),
            ("agent", "Анна".to_string()),
        ]
        .into();
        let accept = t.get("accept").expect("accept");
        assert_eq!(accept.render(ChannelKind::Telegram, &vars), "Принято в работу. Срок — пт 18:00.");
        let email = accept.render(ChannelKind::Email, &vars);
        assert!(email.starts_with("Здравствуйте, Ирина!"), "{email}");
        assert!(email.ends_with("С уважением,\nАнна"), "no signature: the template signs: {email}");
        // The account signs every mail: the template's own sign-off is left out.
        let mut signed = vars.clone();
        signed.insert("signature", "Анна Смирнова\nООО «Учёт»".into());
        let email = accept.render(ChannelKind::Email, &signed);
        assert!(email.ends_with("Срок — пт 18:00."), "{email}");
        assert!(!email.contains("С уважением"), "{email}");
        assert_eq!(accept.render(ChannelKind::Telegram, &signed), "Принято в работу. Срок — пт 18:00.");
        assert_eq!(fill("{missing} {x", &HashMap::new()), "{missing} {x");
    }

    #[test]
    fn fuzzy_filter() {
        let t = Templates::shipped();
        let hits = t.filter("прин");
        assert_eq!(t.all[hits[0]].id, "accept");
        let hits = t.filter("выпол");
        assert_eq!(t.all[hits[0]].id, "done");
        assert!(t.filter("zzzz").is_empty());
    }

    #[test]
    fn user_file_patches() {
        let (t, err) =
            Templates::with_user_file(Some("[[template]]\nid = \"done\"\nname = \"Готово\"\ntext = \"Готово!\"\n"));
        assert!(err.is_none());
        assert_eq!(t.get("done").expect("done").text, "Готово!");
    }

    #[test]
    fn what_a_person_typed_starts_its_sentence_with_a_capital() {
        let t = Templates::shipped();
        let vars: HashMap<&str, String> = [("what", "провела платёжку".to_string())].into_iter().collect();
        assert_eq!(t.get("done").expect("done").render(ChannelKind::Telegram, &vars), "Выполнено. Провела платёжку");
        // Inside a sentence it stays as typed.
        let vars: HashMap<&str, String> = [("what", "акт сверки".to_string())].into_iter().collect();
        let next = t.get("next-step").expect("next-step").render(ChannelKind::Telegram, &vars);
        assert!(next.starts_with("Для завершения нам нужно от вас: акт сверки."), "{next}");
        assert_eq!(
            fill("Срок — {d}. {w}", &[("d", "пт".to_string()), ("w", "".to_string())].into_iter().collect()),
            "Срок — пт. "
        );
        let (t, err) = Templates::with_user_file(Some("[[template]]\nname = 3"));
        assert!(err.is_some());
        let (_, err) = Templates::with_user_file(Some(
            "[[template]]\nid = \"x\"\nname = \"X\"\ntext = \"x\"\nemial = \"Здравствуйте\"\n",
        ));
        assert!(err.is_some_and(|e| e.contains("emial")));
        assert!(t.get("accept").is_some());
    }
}
