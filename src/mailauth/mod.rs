//! Who vouches for a mail? DKIM checked by pult when the mail arrives (keys
//! rotate, so a result recorded near receipt is the one that survives), and
//! the SPF/DMARC/ARC results the receiving server wrote in
//! `Authentication-Results`, kept as that server's word.
//!
//! Checking never holds a mail back: a key that DNS does not give in time is a
//! `temperror`, and the mail is stored as always. A sync run asks DNS once per
//! (selector, domain), and stops asking after a few timeouts (DNS is down).

pub mod dkim;
pub mod dns;
pub mod results;

use dkim::{Reason, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::time::Duration;

/// `[mail]` settings of the check.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Check DKIM at all (`[mail] dkim`, default on).
    pub enabled: bool,
    /// The resolver (`[mail] dns_server`); none: the first of /etc/resolv.conf.
    pub dns_server: Option<std::net::SocketAddr>,
    /// How long one key lookup may take (`[mail] dns_timeout_ms`, default 3000).
    pub timeout: Duration,
    /// Mail older than this many days when synced is not checked (`[mail]
    /// dkim_max_age_days`, default 30): its key may have rotated since, so a
    /// failure would say nothing, and the first sync of a big mailbox stays fast.
    pub max_age_days: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { enabled: true, dns_server: None, timeout: Duration::from_millis(3000), max_age_days: 30 }
    }
}

/// One signature's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureResult {
    pub result: Verdict,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub domain: Option<String>,
    pub selector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// l=: only this many bytes of the body are signed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    pub aligned: bool,
}

/// What is known of a mail's authenticity, as stored with it (`mail_auth`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailAuth {
    /// The best signature's result (an aligned pass first), or `none`.
    pub result: Verdict,
    /// A code (`dkim::Reason::code`, or `unsigned`, `not-checked-old`, `not-checked-partial`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub domain: Option<String>,
    pub selector: Option<String>,
    /// d= is the From domain or a parent or child of it (relaxed alignment,
    /// judged without the public suffix list).
    pub aligned: bool,
    pub from_domain: Option<String>,
    pub checked_at: i64,
    pub signatures: Vec<SignatureResult>,
    /// Authentication-Results of the servers the mail passed, as they wrote them.
    pub reported: Vec<results::Reported>,
}

impl MailAuth {
    /// A mail pult did not check, with why (`not-checked-old` …).
    pub fn not_checked(msg: &dkim::Message, why: &str, now: i64) -> MailAuth {
        let mut a = MailAuth::empty(msg, now);
        a.reason = Some(why.to_string());
        a
    }

    fn empty(msg: &dkim::Message, now: i64) -> MailAuth {
        MailAuth {
            result: Verdict::None,
            reason: None,
            domain: None,
            selector: None,
            aligned: false,
            from_domain: from_domain(msg),
            checked_at: now,
            signatures: Vec::new(),
            reported: msg
                .fields()
                .filter(|f| f.name.eq_ignore_ascii_case("Authentication-Results"))
                .flat_map(|f| results::parse(&f.value()))
                .collect(),
        }
    }

    /// Passed, and by the domain the mail says it is from.
    pub fn trusted(&self) -> bool {
        self.result == Verdict::Pass && self.aligned
    }
}

/// A line for a person: the text and whether it warns (⚠).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub warn: bool,
    pub text: String,
}

impl MailAuth {
    /// What a reader is told of the signature, in `l`; none for a mail pult
    /// did not check or that is not signed (`explain` says why).
    pub fn shown(&self, l: crate::i18n::Lang) -> Option<Shown> {
        let clean = |s: &Option<String>| crate::sanitize::line(s.as_deref().unwrap_or("?")).into_owned();
        let domain = clean(&self.domain);
        let reason = self.reason.as_deref().map(|r| reason_text(l, r)).unwrap_or_default();
        let fill = |key: &'static str, values: &[(&str, &dyn std::fmt::Display)]| crate::i18n::fill(l.tr(key), values);
        let (warn, text) = match self.result {
            Verdict::None => return None,
            Verdict::Pass if !self.aligned => {
                (true, fill("dkim_signed_other", &[("domain", &domain), ("from", &clean(&self.from_domain))]))
            }
            Verdict::Pass if self.reason.as_deref() == Some(Reason::PartialBody.code()) => {
                (true, fill("dkim_signed_partial", &[("domain", &domain)]))
            }
            Verdict::Pass => (false, fill("dkim_signed", &[("domain", &domain)])),
            Verdict::TempError => (true, fill("dkim_unchecked", &[("domain", &domain), ("reason", &reason)])),
            _ => (true, fill("dkim_failed", &[("domain", &domain), ("reason", &reason)])),
        };
        Some(Shown { warn, text })
    }

    /// Why there is nothing to show, or the result in words (for the export's pages).
    pub fn explain(&self, l: crate::i18n::Lang) -> String {
        match self.shown(l) {
            Some(s) => format!("{}{}", if s.warn { "⚠ " } else { "" }, s.text),
            None => reason_text(l, self.reason.as_deref().unwrap_or("unsigned")),
        }
    }

    /// What the servers on the way reported (SPF, DMARC, ARC), one line per server.
    pub fn reported_lines(&self, l: crate::i18n::Lang) -> Vec<String> {
        let mut servers: Vec<&str> = Vec::new();
        for r in &self.reported {
            if !servers.contains(&r.by.as_str()) {
                servers.push(&r.by);
            }
        }
        servers
            .into_iter()
            .map(|by| {
                let results: Vec<String> = self
                    .reported
                    .iter()
                    .filter(|r| r.by == by)
                    .map(|r| format!("{} {}", r.method.to_uppercase(), r.result))
                    .collect();
                let server = crate::sanitize::line(by).into_owned();
                crate::i18n::fill(
                    l.tr("dkim_reported"),
                    &[("server", &server), ("results", &crate::sanitize::line(&results.join(", ")))],
                )
            })
            .collect()
    }
}

/// A reason code in words.
fn reason_text(l: crate::i18n::Lang, code: &str) -> String {
    if let Some(days) = code.strip_prefix("not-checked-old:") {
        return crate::i18n::fill(l.tr("dkim_not_checked_old"), &[("days", &days)]);
    }
    let key = match code {
        "unsigned" => "dkim_unsigned",
        "not-checked-partial" => "dkim_not_checked_partial",
        "body-hash" => "dkim_reason_body-hash",
        "signature" => "dkim_reason_signature",
        "syntax" => "dkim_reason_syntax",
        "unsupported" => "dkim_reason_unsupported",
        "weak-algorithm" => "dkim_reason_weak-algorithm",
        "from-not-signed" => "dkim_reason_from-not-signed",
        "identity-outside-domain" => "dkim_reason_identity-outside-domain",
        "expired" => "dkim_reason_expired",
        "length-beyond-body" => "dkim_reason_length-beyond-body",
        "no-key" => "dkim_reason_no-key",
        "key-revoked" => "dkim_reason_key-revoked",
        "bad-key" => "dkim_reason_bad-key",
        "key-too-small" => "dkim_reason_key-too-small",
        "key-mismatch" => "dkim_reason_key-mismatch",
        "dns-timeout" => "dkim_reason_dns-timeout",
        "dns-error" => "dkim_reason_dns-error",
        other => return crate::sanitize::line(other).into_owned(),
    };
    l.tr(key).to_string()
}

/// The domain of the one From address; none when there are several From
/// fields or addresses (which one would it be?) or none.
pub fn from_domain(msg: &dkim::Message) -> Option<String> {
    let mut froms = msg.fields().filter(|f| f.name.eq_ignore_ascii_case("From"));
    let value = froms.next()?.value();
    if froms.next().is_some() {
        return None;
    }
    let value = value.replace("\r\n", " ");
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => value[a + 1..b].to_string(),
        _ => value.trim().to_string(),
    };
    if value.matches('@').count() > 1 && value.contains(',') {
        return None;
    }
    let domain = addr.rsplit_once('@')?.1.trim().trim_end_matches('.').to_ascii_lowercase();
    (!domain.is_empty() && !domain.contains(char::is_whitespace)).then_some(domain)
}

/// d= aligns with the From domain: the same, or one under the other (never a
/// bare top-level domain).
pub fn aligned(from: &str, d: &str) -> bool {
    from == d
        || (d.contains('.') && from.ends_with(&format!(".{d}")))
        || (from.contains('.') && d.ends_with(&format!(".{from}")))
}

/// A key as DNS gave it for one (selector, domain).
#[derive(Debug, Clone)]
enum Lookup {
    Records(Vec<String>),
    Failed(Verdict, Reason),
}

/// Timeouts after which a run stops asking DNS (it is down; each further
/// mail would wait the whole timeout).
const GIVE_UP_AFTER: usize = 3;
/// Key lookups at once.
const PARALLEL: usize = 16;

/// Checks the mail of one sync run, with its keys remembered for the run.
pub struct Checker {
    settings: Settings,
    resolver: dns::Resolver,
    keys: HashMap<(String, String), Lookup>,
    timeouts: usize,
}

impl Checker {
    pub fn new(settings: &Settings) -> Checker {
        Checker {
            settings: settings.clone(),
            resolver: dns::Resolver::new(settings.dns_server, settings.timeout),
            keys: HashMap::new(),
            timeouts: 0,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Checks each mail (`raw`, its date) at `now`; `None` for a mail not to be
    /// looked at (the caller knows, e.g. our own sent mail).
    pub async fn check_all(&mut self, mails: &[(&[u8], i64)], now: i64) -> Vec<MailAuth> {
        let parsed: Vec<dkim::Message> = mails.iter().map(|(raw, _)| dkim::Message::parse(raw)).collect();
        let oldest = now - (self.settings.max_age_days as i64) * 86_400;
        let checked: Vec<bool> = mails.iter().map(|(_, date)| *date >= oldest).collect();
        // Every key the batch needs, asked at once.
        let mut wanted: Vec<(String, String)> = Vec::new();
        for (msg, _) in parsed.iter().zip(&checked).filter(|(_, c)| **c) {
            for f in msg.fields().filter(|f| f.name.eq_ignore_ascii_case("DKIM-Signature")) {
                if let Ok(sig) = dkim::Signature::parse(&f.value()) {
                    let k = (sig.selector, sig.domain);
                    if !self.keys.contains_key(&k) && !wanted.contains(&k) {
                        wanted.push(k);
                    }
                }
            }
        }
        for chunk in wanted.chunks(PARALLEL) {
            let found = futures_util::future::join_all(chunk.iter().map(|(s, d)| self.lookup(s, d))).await;
            for (k, v) in chunk.iter().cloned().zip(found) {
                if matches!(v, Lookup::Failed(_, Reason::DnsTimeout)) {
                    self.timeouts += 1;
                }
                self.keys.insert(k, v);
            }
        }
        parsed
            .iter()
            .zip(checked)
            .map(|(msg, fresh)| {
                if fresh {
                    self.verify(msg, now)
                } else {
                    let days = self.settings.max_age_days;
                    let mut a = MailAuth::not_checked(msg, "not-checked-old", now);
                    a.reason = Some(format!("not-checked-old:{days}"));
                    a
                }
            })
            .collect()
    }

    async fn lookup(&self, selector: &str, domain: &str) -> Lookup {
        if self.timeouts >= GIVE_UP_AFTER {
            return Lookup::Failed(Verdict::TempError, Reason::DnsTimeout);
        }
        match self.resolver.txt(&format!("{selector}._domainkey.{domain}")).await {
            Ok(dns::Answer::Txt(records)) => Lookup::Records(records),
            Ok(dns::Answer::NoRecord) => Lookup::Failed(Verdict::PermError, Reason::NoKey),
            Err(dns::DnsError::Timeout(_)) => Lookup::Failed(Verdict::TempError, Reason::DnsTimeout),
            Err(dns::DnsError::BadName(_)) => Lookup::Failed(Verdict::PermError, Reason::Syntax),
            Err(e) => {
                tracing::info!("DKIM key {selector}._domainkey.{domain}: {e}");
                Lookup::Failed(Verdict::TempError, Reason::DnsError)
            }
        }
    }

    /// One mail, its keys already looked up.
    fn verify(&self, msg: &dkim::Message, now: i64) -> MailAuth {
        let mut out = MailAuth::empty(msg, now);
        let from = out.from_domain.clone();
        for field in msg.fields().filter(|f| f.name.eq_ignore_ascii_case("DKIM-Signature")) {
            let (checked, domain, selector, algorithm, length) = match dkim::Signature::parse(&field.value()) {
                Err(u) => {
                    let verdict = if u.reason == Reason::Unsupported { Verdict::Neutral } else { Verdict::PermError };
                    (dkim::Checked { verdict, reason: Some(u.reason) }, u.domain, u.selector, None, None)
                }
                Ok(sig) => {
                    let key = self.keys.get(&(sig.selector.clone(), sig.domain.clone())).cloned();
                    let checked = match key {
                        Some(Lookup::Records(records)) => {
                            // The first record that reads as a key is the key.
                            let keys: Vec<Result<dkim::Key, Reason>> =
                                records.iter().map(|r| dkim::Key::parse(r)).collect();
                            match keys.iter().find_map(|k| k.as_ref().ok()) {
                                Some(key) => dkim::verify(msg, field.raw, &sig, key, now.max(0) as u64),
                                None => {
                                    let why = keys.iter().find_map(|k| k.clone().err()).unwrap_or(Reason::BadKey);
                                    dkim::Checked { verdict: Verdict::PermError, reason: Some(why) }
                                }
                            }
                        }
                        Some(Lookup::Failed(verdict, reason)) => dkim::Checked { verdict, reason: Some(reason) },
                        None => dkim::Checked { verdict: Verdict::TempError, reason: Some(Reason::DnsError) },
                    };
                    let alg = match sig.algorithm {
                        dkim::Algorithm::RsaSha256 => "rsa-sha256",
                        dkim::Algorithm::Ed25519Sha256 => "ed25519-sha256",
                        dkim::Algorithm::RsaSha1 => "rsa-sha1",
                    };
                    (checked, Some(sig.domain), Some(sig.selector), Some(alg.to_string()), sig.length)
                }
            };
            let is_aligned = match (&from, &domain) {
                (Some(f), Some(d)) => aligned(f, d),
                _ => false,
            };
            out.signatures.push(SignatureResult {
                result: checked.verdict,
                reason: checked.reason.map(|r| r.code().to_string()),
                domain,
                selector,
                algorithm,
                length,
                aligned: is_aligned,
            });
        }
        let rank = |s: &SignatureResult| match s.result {
            Verdict::Pass if s.aligned => 0,
            Verdict::Pass => 1,
            Verdict::Fail => 2,
            Verdict::TempError => 3,
            Verdict::PermError => 4,
            Verdict::Policy => 5,
            Verdict::Neutral => 6,
            Verdict::None => 7,
        };
        match out.signatures.iter().min_by_key(|s| rank(s)).cloned() {
            Some(best) => {
                out.result = best.result;
                out.reason = best.reason;
                out.domain = best.domain;
                out.selector = best.selector;
                out.aligned = best.aligned;
            }
            None => out.reason = Some("unsigned".into()),
        }
        out
    }
}

/// A recorded signature checked again later (`pult export verify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recheck {
    /// The signature still holds with the key DNS gives now.
    Holds,
    /// The body no longer hashes to bh=: the mail was changed since it arrived.
    BodyChanged,
    /// The signature recorded is not in the mail any more.
    SignatureMissing,
    /// The body still matches bh=, but the key DNS gives now does not verify
    /// b= (keys rotate): says nothing against the mail.
    KeyChanged,
    /// The domain no longer publishes the key.
    KeyGone,
    /// DNS did not answer.
    Unavailable,
}

impl Recheck {
    /// The mail itself no longer is what was signed.
    pub fn is_failure(self) -> bool {
        matches!(self, Recheck::BodyChanged | Recheck::SignatureMissing)
    }
}

impl Checker {
    /// Checks the signature of `domain`/`selector` in `raw` again: its body hash
    /// first (no DNS needed), then b= with the key DNS gives now, as of `at`
    /// (the time it was first checked: an x= passed since is not news).
    pub async fn recheck(&mut self, raw: &[u8], domain: &str, selector: &str, at: i64) -> Recheck {
        let msg = dkim::Message::parse(raw);
        let found = msg.fields().filter(|f| f.name.eq_ignore_ascii_case("DKIM-Signature")).find_map(|f| {
            dkim::Signature::parse(&f.value())
                .ok()
                .filter(|s| s.domain == domain && s.selector == selector)
                .map(|s| (f, s))
        });
        let Some((field, sig)) = found else { return Recheck::SignatureMissing };
        if !dkim::body_matches(&msg, &sig) {
            return Recheck::BodyChanged;
        }
        let k = (sig.selector.clone(), sig.domain.clone());
        if !self.keys.contains_key(&k) {
            let found = self.lookup(selector, domain).await;
            self.keys.insert(k.clone(), found);
        }
        match self.keys.get(&k) {
            Some(Lookup::Records(records)) => match records.iter().find_map(|r| dkim::Key::parse(r).ok()) {
                Some(key) if dkim::verify(&msg, field.raw, &sig, &key, at.max(0) as u64).verdict == Verdict::Pass => {
                    Recheck::Holds
                }
                Some(_) => Recheck::KeyChanged,
                None => Recheck::KeyGone,
            },
            Some(Lookup::Failed(Verdict::TempError, _)) | None => Recheck::Unavailable,
            Some(Lookup::Failed(..)) => Recheck::KeyGone,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alignment_is_relaxed_but_not_to_a_top_level_domain() {
        assert!(aligned("example.com", "example.com"));
        assert!(aligned("mail.example.com", "example.com"));
        assert!(aligned("example.com", "mail.example.com"));
        assert!(!aligned("example.com", "com"));
        assert!(!aligned("example.com", "example.org"));
        assert!(!aligned("badexample.com", "example.com"));
        let msg = dkim::Message::parse(b"From: \"A, B\" <a@Mail.Example.com>\r\n\r\nx");
        assert_eq!(from_domain(&msg).as_deref(), Some("mail.example.com"));
        let two = dkim::Message::parse(b"From: a@x.test\r\nFrom: b@y.test\r\n\r\nx");
        assert_eq!(from_domain(&two), None);
    }

    #[test]
    fn what_a_signature_says_reaches_the_terminal_clean() {
        let mut a = MailAuth::empty(&dkim::Message::parse(b"From: a@x.test\r\n\r\n"), 0);
        a.result = Verdict::Pass;
        a.domain = Some("evil.test\u{1b}]52;c;Zm9v\u{7}\u{202e}".into());
        a.aligned = false;
        let shown = a.shown(crate::i18n::Lang::En).expect("shown");
        assert!(shown.warn);
        assert!(!shown.text.contains('\u{1b}') && !shown.text.contains('\u{202e}'), "{:?}", shown.text);
        assert!(shown.text.contains("says it is from x.test"), "{}", shown.text);
        a.result = Verdict::Fail;
        a.reason = Some("\u{1b}[2Jbody-hash".into());
        assert!(!a.explain(crate::i18n::Lang::Ru).contains('\u{1b}'));
        a.result = Verdict::None;
        a.reason = Some("not-checked-old:30".into());
        assert_eq!(a.shown(crate::i18n::Lang::Ru), None);
        assert!(a.explain(crate::i18n::Lang::Ru).contains("больше 30 дн."), "{}", a.explain(crate::i18n::Lang::Ru));
    }
}
