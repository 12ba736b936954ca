//! What did the receiving server say of a mail's SPF, DMARC, ARC and DKIM?
//! `Authentication-Results` headers (RFC 8601), read as reported: the
//! authserv-id says which server said it; pult checks none of these itself
//! but DKIM (`dkim.rs`).

use serde::{Deserialize, Serialize};

/// One method's result as a server reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reported {
    /// The server that wrote the header (its authserv-id).
    pub by: String,
    /// `spf`, `dmarc`, `arc`, `dkim`.
    pub method: String,
    pub result: String,
}

/// The methods worth keeping from these headers.
const METHODS: &[&str] = &["spf", "dkim", "dmarc", "arc"];

/// Every result of `spf`, `dkim`, `dmarc` and `arc` in one header's value.
pub fn parse(value: &str) -> Vec<Reported> {
    let value = strip_comments(value);
    let mut parts = value.split(';');
    let Some(by) = parts.next().and_then(|p| p.split_whitespace().next()) else { return Vec::new() };
    let by = by.to_ascii_lowercase();
    let mut out = Vec::new();
    for part in parts {
        // `method=result reason=… ptype.property=value …`; the result is the first word.
        let Some((method, rest)) = part.trim().split_once('=') else { continue };
        let method = method.trim().to_ascii_lowercase();
        let method = method.split('/').next().unwrap_or_default().to_string();
        if !METHODS.contains(&method.as_str()) {
            continue;
        }
        let result = rest.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
        if result.is_empty() || !result.chars().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        out.push(Reported { by: by.clone(), method, result });
    }
    out
}

/// The value without RFC 5322 comments (`(…)`, nested, `\)` escaped).
fn strip_comments(value: &str) -> String {
    let (mut out, mut depth, mut escaped, mut quoted) = (String::new(), 0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => escaped = true,
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_are_read_with_the_server_that_reported_them() {
        let v = " mx.google.com;\r\n dkim=pass header.i=@example.com header.s=s1;\r\n spf=pass (google.com: domain of a@example.com designates 1.2.3.4) smtp.mailfrom=a@example.com;\r\n dmarc=fail (p=REJECT sp=REJECT dis=NONE) header.from=example.com; arc=none";
        let r = parse(v);
        let got: Vec<(&str, &str, &str)> =
            r.iter().map(|x| (x.by.as_str(), x.method.as_str(), x.result.as_str())).collect();
        assert_eq!(
            got,
            [
                ("mx.google.com", "dkim", "pass"),
                ("mx.google.com", "spf", "pass"),
                ("mx.google.com", "dmarc", "fail"),
                ("mx.google.com", "arc", "none")
            ]
        );
        assert!(parse("example.org 1; none").is_empty());
    }
}
