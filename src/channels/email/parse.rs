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
    let mut body = m.body_text(0).map(|b| b.replace('\u{a0}', " ").trim_end().to_string()).unwrap_or_default();
    let html = m.body_html(0).map(|h| h.into_owned());
    if body.trim().is_empty()
        && let Some(h) = &html
    {
        body = html_to_text(h);
    }
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
    Inbound {
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
    fn koi8r_and_windows1251_and_rfc2047() {
        // «Счёт» in koi8-r body, subject RFC 2047 in windows-1251.
        let mut raw = b"From: =?windows-1251?B?yPDo7eA=?= <irina@client.test>\r\nSubject: =?windows-1251?B?0ffl8g==?=\r\nMessage-ID: <a@x>\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n".to_vec();
        raw.extend_from_slice(&[0xf3, 0xde, 0xc5, 0xd4]); // "Счет" in koi8-r
        let m = parse(&raw, "<fallback>", &[]);
        assert_eq!(m.author_name, "Ирина");
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
