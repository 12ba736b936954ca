//! One raw RFC 5322 message into what the store keeps: mail-parser decodes
//! RFC 2047 headers and legacy charsets (koi8-r, windows-1251); HTML-only mail
//! becomes readable text; threading keys follow Message-ID / References.

use crate::model::{Inbound, InboundAttachment};
use mail_parser::{MessageParser, MimeHeaders};

/// More parts than this and the rest is not listed (a mail bomb is not a document).
const MAX_PARTS: usize = 200;

/// Parses `raw`; never panics. A message that cannot be read at all is still
/// stored, with its bytes shown as text and an error mark.
pub fn parse(raw: &[u8], fallback_id: &str, own_addresses: &[String]) -> Inbound {
    let Some(m) = MessageParser::default().parse(raw) else {
        return Inbound {
            remote_id: fallback_id.to_string(),
            conversation_key: fallback_id.to_string(),
            conversation_title: "(unreadable message)".into(),
            author_handle: "unknown".into(),
            author_name: "unknown".into(),
            body_text: String::from_utf8_lossy(&raw[..raw.len().min(4000)]).into_owned(),
            parse_error: Some("no headers could be read".into()),
            ..Default::default()
        };
    };
    let message_id = m
        .message_id()
        .map(|id| format!("<{}>", id.trim_matches(['<', '>'])))
        .unwrap_or_else(|| fallback_id.to_string());
    let references: Vec<String> = match m.references().as_text_list() {
        Some(list) => list.iter().map(|r| format!("<{}>", r.trim_matches(['<', '>']))).collect(),
        None => m.references().as_text().map(|r| vec![format!("<{}>", r.trim_matches(['<', '>']))]).unwrap_or_default(),
    };
    let in_reply_to = m.in_reply_to().as_text().map(|r| format!("<{}>", r.trim_matches(['<', '>']))).or_else(|| {
        m.in_reply_to().as_text_list().and_then(|l| l.first()).map(|r| format!("<{}>", r.trim_matches(['<', '>'])))
    });
    let subject = m.subject().map(str::to_string);
    // The thread root: the first reference, else what it answers, else itself; the
    // subject is the fallback only when a reply carries no references at all.
    let conversation_key = references
        .first()
        .cloned()
        .or_else(|| in_reply_to.clone())
        .or_else(|| {
            let s = crate::workflow::replies::reply_subject(subject.as_deref());
            (m.message_id().is_none() && s != "Re:").then(|| format!("subject:{}", s.to_lowercase()))
        })
        .unwrap_or_else(|| message_id.clone());
    let from = m.from().and_then(|a| a.first());
    let address = from.and_then(|f| f.address()).unwrap_or("").to_lowercase();
    let name = from.and_then(|f| f.name()).map(str::to_string).unwrap_or_else(|| address.clone());
    let outgoing = own_addresses.iter().any(|a| a.eq_ignore_ascii_case(&address));
    // mail-parser already turns an HTML-only body into text; non-breaking spaces
    // become plain ones so that search and wrapping treat them as spaces.
    let mut body = readable_body(&m);
    let html = m.body_html(0).map(|h| h.into_owned());
    if body.trim().is_empty() {
        body = headerless_body(raw).unwrap_or_default();
    }
    // Mail forwarded as an attachment (message/rfc822, digests) is read inline too.
    forwarded_blocks(&m, 0, &mut body);
    let mut attachments = Vec::new();
    let mut parse_error = None;
    for (i, part) in m.attachments().enumerate() {
        if i >= MAX_PARTS {
            parse_error = Some(format!("more than {MAX_PARTS} attachments; the rest are not listed"));
            break;
        }
        let mime = part
            .content_type()
            .map(|c| match c.subtype() {
                Some(s) => format!("{}/{}", c.ctype(), s),
                None => c.ctype().to_string(),
            })
            .unwrap_or_else(|| "application/octet-stream".into());
        attachments.push(InboundAttachment {
            name: part.attachment_name().unwrap_or("attachment").to_string(),
            mime,
            size: part.contents().len() as i64,
            remote_ref: Some(format!("part:{i}")),
            duration: None,
        });
    }
    let sent_at = m.date().map(|d| d.to_timestamp()).unwrap_or(0);
    let recipients: Vec<String> = [m.to(), m.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(str::to_lowercase)
        .collect();
    // Names as people wrote them, for showing recipients (never for matching).
    let mut names: Vec<(String, String)> = Vec::new();
    for a in [m.from(), m.to(), m.cc()].into_iter().flatten().flat_map(|a| a.iter()) {
        if let (Some(addr), Some(name)) = (a.address(), a.name()) {
            let addr = addr.to_lowercase();
            if !name.trim().is_empty() && !name.eq_ignore_ascii_case(&addr) && !names.iter().any(|(x, _)| *x == addr) {
                names.push((addr, name.trim().to_string()));
            }
        }
    }
    let mut thread_refs = references;
    thread_refs.extend(in_reply_to.clone());
    thread_refs.dedup();
    Inbound {
        message_id: m.message_id().map(|_| message_id.clone()),
        thread_refs,
        names,
        notice: None,
        author_username: None,
        remote_id: message_id,
        conversation_key,
        conversation_title: subject.clone().unwrap_or_else(|| "(no subject)".into()),
        is_group: false,
        outgoing,
        author_handle: if address.is_empty() { "unknown".into() } else { address },
        author_name: name,
        sent_at,
        subject,
        body_text: body,
        body_html: html,
        reply_to_remote: in_reply_to,
        attachments,
        parse_error,
        edited: false,
        recipients,
        cc: m.cc().into_iter().flat_map(|a| a.iter()).filter_map(|a| a.address()).map(str::to_lowercase).collect(),
        imap: None,
    }
}

/// How deep forwarded mail inside forwarded mail is shown.
const MAX_FORWARD_DEPTH: usize = 3;

/// The readable text of a message: its text part, else its HTML made text.
fn readable_body(m: &mail_parser::Message<'_>) -> String {
    let body = m.body_text(0).map(|b| b.replace('\u{a0}', " ").trim_end().to_string()).unwrap_or_default();
    if body.trim().is_empty()
        && let Some(h) = m.body_html(0)
    {
        return html_to_text(&h);
    }
    body
}

/// Appends every attached mail (message/rfc822, the parts of a digest) as a
/// forwarded block: its From, Date, Subject and text, nested to a limit.
fn forwarded_blocks(m: &mail_parser::Message<'_>, depth: usize, out: &mut String) {
    for part in m.attachments().take(MAX_PARTS) {
        let Some(inner) = part.message() else { continue };
        if depth >= MAX_FORWARD_DEPTH {
            out.push_str("\n\n[more forwarded mail nested deeper is not shown]");
            return;
        }
        let from = inner
            .from()
            .and_then(|a| a.first())
            .map(|a| match (a.name(), a.address()) {
                (Some(n), Some(addr)) => format!("{n} <{addr}>"),
                (n, addr) => n.or(addr).unwrap_or("").to_string(),
            })
            .unwrap_or_default();
        let indent = "> ".repeat(depth);
        let mut block = String::from("---------- Forwarded message ----------\n");
        block.push_str(&format!("From: {from}\n"));
        if let Some(d) = inner.date() {
            block.push_str(&format!("Date: {}\n", d.to_rfc822()));
        }
        block.push_str(&format!("Subject: {}\n\n", inner.subject().unwrap_or("")));
        block.push_str(&readable_body(inner));
        forwarded_blocks(inner, depth + 1, &mut block);
        if !out.is_empty() {
            out.push_str("\n\n");
        }
        for line in block.lines() {
            out.push_str(&indent);
            out.push_str(line);
            out.push('\n');
        }
        while out.ends_with('\n') {
            out.pop();
        }
    }
}

/// A best-effort body for a mail whose header block never ends with a blank
/// line: the text from the first line that cannot be a header on.
fn headerless_body(raw: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(raw);
    let mut offset = 0usize;
    let mut seen_header = false;
    for line in text.split_inclusive('\n') {
        let l = line.trim_end_matches(['\r', '\n']);
        if l.is_empty() {
            return None; // a proper blank line: the body really is empty
        }
        let continuation = seen_header && l.starts_with([' ', '\t']);
        let header = l
            .split_once(':')
            .is_some_and(|(name, _)| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'));
        if !(header || continuation) {
            let body = text[offset..].trim_end().to_string();
            return (!body.is_empty()).then_some(body);
        }
        seen_header = true;
        offset += line.len();
    }
    None
}

/// Notice codes stored with a message (comma-separated); the UI words them.
pub const NOTICE_NO_DATE: &str = "no-date";
pub const NOTICE_FUTURE_DATE: &str = "future-date";
pub const NOTICE_ID_CLASH: &str = "id-clash";

/// The date a reader sees: the `Date:` header, unless it is missing (then the
/// server's arrival time, INTERNALDATE) or more than a day in the future (a
/// wrong clock or a trick to pin the mail to the top: arrival time, with a mark).
pub fn settle_date(m: &mut Inbound, arrived: Option<i64>, now: i64) {
    let Some(arrived) = arrived.filter(|a| *a > 0) else { return };
    if m.sent_at <= 0 {
        m.sent_at = arrived;
        m.notice = Some(NOTICE_NO_DATE.into());
    } else if m.sent_at > now.max(arrived) + 86_400 {
        m.sent_at = arrived;
        m.notice = Some(NOTICE_FUTURE_DATE.into());
    }
}

/// A large mail fetched by structure: its header block, its readable text part
/// (with that part's MIME headers) and the attachments listed from BODYSTRUCTURE.
pub fn parse_structured(
    header: &[u8],
    text_part: Option<&[u8]>,
    layout: super::parts::Layout,
    fallback_id: &str,
    own_addresses: &[String],
) -> Inbound {
    let mut m = parse(header, fallback_id, own_addresses);
    m.parse_error = None;
    m.body_text.clear();
    if let Some(part) = text_part.and_then(|raw| MessageParser::default().parse(raw)) {
        let text = part.body_text(0).map(|b| b.replace('\u{a0}', " ").trim_end().to_string()).unwrap_or_default();
        let html = part.body_html(0).map(|h| h.into_owned());
        m.body_text = match (&html, text.trim().is_empty()) {
            (Some(h), true) => html_to_text(h),
            _ => text,
        };
        m.body_html = html;
    }
    m.attachments = layout.attachments;
    if layout.truncated {
        m.parse_error = Some(format!("more than {MAX_PARTS} parts or nested too deep; the rest are not listed"));
    }
    m
}

/// Readable text from HTML: tags dropped, block ends become line breaks, entities decoded.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    let mut rest = html;
    let mut skip_until: Option<&str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let after = &rest[lt + 1..];
        let gt = after.find('>').unwrap_or(after.len());
        let tag = after[..gt].trim().to_ascii_lowercase();
        let name = tag.trim_start_matches('/').split(|c: char| c.is_whitespace() || c == '/').next().unwrap_or("");
        if let Some(end) = skip_until {
            if tag.starts_with('/') && name == end {
                skip_until = None;
            }
        } else if matches!(name, "script" | "style" | "head") && !tag.starts_with('/') {
            skip_until = Some(match name {
                "script" => "script",
                "style" => "style",
                _ => "head",
            });
        } else if matches!(name, "br" | "p" | "div" | "tr" | "li" | "h1" | "h2" | "h3" | "blockquote") {
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        rest = if gt < after.len() { &after[gt + 1..] } else { "" };
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(rest));
    }
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    let mut text = lines.join("\n");
    while text.contains("\n\n\n") {
        text = text.replace("\n\n\n", "\n\n");
    }
    text.trim().to_string()
}

fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.replace(['\n', '\r'], " ");
    }
    s.replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&laquo;", "«")
        .replace("&raquo;", "»")
        .replace("&mdash;", "—")
        .replace("&amp;", "&")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forwarded_mail_inside_is_shown_inline() {
        let raw = b"From: boss@x\r\nSubject: Fwd: acts\r\nMessage-ID: <o@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nSee below.\r\n--b\r\n\
Content-Type: message/rfc822\r\n\r\nFrom: Client <c@y>\r\nSubject: acts\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\
Content-Type: text/plain; charset=utf-8\r\n\r\n\xd0\x90\xd0\xba\xd1\x82 \xd1\x81\xd0\xb2\xd0\xb5\xd1\x80\xd0\xba\xd0\xb8\r\n--b--\r\n";
        let m = parse(raw, "<f>", &[]);
        assert!(m.body_text.starts_with("See below."), "{}", m.body_text);
        assert!(m.body_text.contains("---------- Forwarded message ----------"), "{}", m.body_text);
        assert!(m.body_text.contains("From: Client <c@y>") && m.body_text.contains("Акт сверки"), "{}", m.body_text);
        assert_eq!(m.attachments.len(), 1, "still listed as an attachment (saved as .eml)");
    }

    #[test]
    fn a_digest_shows_every_mail_in_it() {
        let raw = b"From: list@x\r\nSubject: digest\r\nMessage-ID: <d@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nFrom: a@y\r\nSubject: one\r\n\r\nfirst text\r\n\
--d\r\n\r\nFrom: b@y\r\nSubject: two\r\n\r\nsecond text\r\n--d--\r\n";
        let m = parse(raw, "<f>", &[]);
        assert!(m.body_text.contains("first text") && m.body_text.contains("second text"), "{}", m.body_text);
    }

    #[test]
    fn forwarded_mail_nested_deeply_stops_at_a_limit() {
        let mut inner = b"From: z@y\r\nSubject: core\r\n\r\ncore text\r\n".to_vec();
        for i in 0..6 {
            let mut outer = format!(
                "From: l{i}@y\r\nSubject: level {i}\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b{i}\r\n\r\n\
                 --b{i}\r\nContent-Type: text/plain\r\n\r\nlevel {i}\r\n--b{i}\r\nContent-Type: message/rfc822\r\n\r\n"
            )
            .into_bytes();
            outer.extend_from_slice(&inner);
            outer.extend_from_slice(format!("\r\n--b{i}--\r\n").as_bytes());
            inner = outer;
        }
        let m = parse(&inner, "<f>", &[]);
        assert!(m.body_text.contains("nested deeper is not shown"), "{}", m.body_text);
        assert!(!m.body_text.contains("core text"));
    }

    #[test]
    fn a_mail_without_a_blank_line_after_its_headers_keeps_its_body() {
        let raw = b"From: a@x\r\nSubject: no gap\r\nMessage-ID: <g@x>\r\nPlease send the act.\r\nThanks.\r\n";
        let m = parse(raw, "<f>", &[]);
        assert_eq!(m.subject.as_deref(), Some("no gap"));
        assert!(m.body_text.contains("Please send the act.") && m.body_text.contains("Thanks."), "{:?}", m.body_text);
    }

    #[test]
    fn dates_settle_on_the_arrival_time_when_missing_or_far_ahead() {
        let now = 1_800_000_000;
        let mut m = Inbound { sent_at: 0, ..Default::default() };
        settle_date(&mut m, Some(now - 60), now);
        assert_eq!((m.sent_at, m.notice.as_deref()), (now - 60, Some(NOTICE_NO_DATE)));
        let mut m = Inbound { sent_at: 253_402_300_740, ..Default::default() };
        settle_date(&mut m, Some(now - 60), now);
        assert_eq!((m.sent_at, m.notice.as_deref()), (now - 60, Some(NOTICE_FUTURE_DATE)));
        let mut m = Inbound { sent_at: now + 3600, ..Default::default() };
        settle_date(&mut m, Some(now), now);
        assert_eq!((m.sent_at, m.notice), (now + 3600, None), "a clock an hour fast is left alone");
    }

    #[test]
    fn koi8r_and_windows1251_and_rfc2047() {
        // «Счёт» in koi8-r body, subject RFC 2047 in windows-1251.
        let mut raw = b"From: =?windows-1251?B?yPDo7eA=?= <irina@client.test>\r\nSubject: =?windows-1251?B?0ffl8g==?=\r\nMessage-ID: <a@x>\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0xf3, 0xde, 0xc5, 0xd4]); // "Счет" in koi8-r
        let m = parse(&raw, "<fallback>", &[]);
        assert_eq!(m.author_name, "Ирина");
        assert_eq!(m.names, [("irina@client.test".to_string(), "Ирина".to_string())], "names kept for display");
        assert_eq!(m.subject.as_deref(), Some("Счет"));
        assert_eq!(m.body_text, "Счет");
    }

    #[test]
    fn threads_by_references() {
        let raw = b"From: a@x\r\nSubject: Re: Re: Acts\r\nMessage-ID: <3@x>\r\nIn-Reply-To: <2@x>\r\nReferences: <1@x> <2@x>\r\n\r\nok";
        let m = parse(raw, "<f>", &[]);
        assert_eq!(m.conversation_key, "<1@x>");
        assert_eq!(m.reply_to_remote.as_deref(), Some("<2@x>"));
        assert_eq!(m.remote_id, "<3@x>");
    }

    #[test]
    fn html_only_mail_is_readable() {
        let raw = b"From: a@x\r\nSubject: s\r\nContent-Type: text/html\r\n\r\n<html><head><style>p{}</style></head><body><p>Hello&nbsp;<b>there</b></p><p>Second &amp; last</p><script>evil()</script></body></html>";
        let m = parse(raw, "<f>", &[]);
        assert_eq!(m.body_text, "Hello there\nSecond & last");
    }

    /// A corpus of broken mail, made from good mail by cutting, flipping bytes,
    /// nesting and multiplying parts: parsing returns, caps hold, nothing panics.
    #[test]
    fn a_corpus_of_malformed_mail_never_panics() {
        let good = "From: =?utf-8?B?0JjRgNC40L3QsA==?= <irina@client.test>\r\nTo: a@x.test\r\n\
            Subject: =?windows-1251?Q?=D1=F7=E5=F2?=\r\nMessage-ID: <g@x>\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=koi8-r\r\n\
            Content-Transfer-Encoding: quoted-printable\r\n\r\n=F3=DE=C5=D4 =E9=DD=C5\r\n--b1\r\n\
            Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b1--\r\n";
        let mut corpus: Vec<Vec<u8>> = Vec::new();
        // Cut anywhere.
        for cut in (0..good.len()).step_by(7) {
            corpus.push(good.as_bytes()[..cut].to_vec());
        }
        // Bytes flipped (a fixed sequence, so a failure can be replayed).
        let mut x: u32 = 0x9e37_79b9;
        for _ in 0..300 {
            let mut m = good.as_bytes().to_vec();
            for _ in 0..8 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = x as usize % m.len();
                m[i] = (x >> 8) as u8;
            }
            corpus.push(m);
        }
        // Nested far deeper than any real mail.
        let mut deep =
            String::from("From: a@x\r\nSubject: deep\r\nContent-Type: multipart/mixed; boundary=\"d0\"\r\n\r\n");
        for i in 0..3000 {
            deep.push_str(&format!("--d{i}\r\nContent-Type: multipart/mixed; boundary=\"d{}\"\r\n\r\n", i + 1));
        }
        corpus.push(deep.into_bytes());
        // Ten thousand parts.
        let mut many =
            String::from("From: a@x\r\nSubject: many\r\nContent-Type: multipart/mixed; boundary=\"m\"\r\n\r\n");
        for i in 0..10_000 {
            many.push_str(&format!("--m\r\nContent-Type: application/octet-stream; name=\"f{i}.bin\"\r\n\r\nx\r\n"));
        }
        many.push_str("--m--\r\n");
        corpus.push(many.into_bytes());
        // Broken encodings, an unknown charset, a header line of 200 KB, NUL bytes.
        corpus.push(b"Subject: =?utf-8?B?!!!?= =?x-unknown?Q?=FF?=\r\nContent-Type: text/plain; charset=x-unknown\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@###".to_vec());
        corpus.push(format!("Subject: {}\r\n\r\nbody", "x".repeat(200_000)).into_bytes());
        corpus.push(b"From: a\0b@x\r\nSubject: \0\r\n\r\n\0\0\0".to_vec());
        corpus.push(b"Content-Type: multipart/alternative\r\n\r\nno boundary at all".to_vec());
        for raw in &corpus {
            let m = parse(raw, "<f>", &[]);
            assert!(!m.remote_id.is_empty());
            assert!(m.attachments.len() <= MAX_PARTS);
        }
        let many =
            parse(corpus.iter().find(|r| r.starts_with(b"From: a@x\r\nSubject: many")).expect("many"), "<f>", &[]);
        assert_eq!(many.attachments.len(), MAX_PARTS);
        assert!(many.parse_error.is_some(), "the cut is marked");
    }

    #[test]
    fn garbage_never_panics() {
        for raw in [
            &b""[..],
            b"\xff\xfe\x00",
            b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\n--x--",
            b"From:\r\n\r\n",
        ] {
            let m = parse(raw, "<f>", &[]);
            assert!(!m.remote_id.is_empty());
        }
    }
}
