//! One raw RFC 5322 message into what the store keeps: mail-parser decodes
//! RFC 2047 headers and legacy charsets (koi8-r, windows-1251); HTML-only mail
//! becomes readable text; threading keys follow Message-ID / References.

use crate::model::{Inbound, InboundAttachment};
use mail_parser::{MessageParser, MimeHeaders, PartType};

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
    // The HTML the sender wrote, if any (`body_html` would make HTML of a
    // plain text, which nothing reads: the original keeps the mail whole).
    let html = m.html_body.first().and_then(|&i| m.parts.get(i as usize)).and_then(|p| match &p.body {
        PartType::Html(h) => Some(h.to_string()),
        _ => None,
    });
    if body.trim().is_empty() {
        body = headerless_body(raw).unwrap_or_default();
    }
    // Mail forwarded as an attachment (message/rfc822, digests) is read inline too.
    forwarded_blocks(&m, 0, &mut body);
    let mut attachments = Vec::new();
    let mut parse_error = None;
    for (i, part) in listed_attachments(&m) {
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
    let shape = mime_shape(&m, &address);
    let automatic = crate::workflow::automatic::classify(|name| m.header_raw(name), Some(&address));
    let mut thread_refs = references;
    thread_refs.extend(in_reply_to.clone());
    thread_refs.dedup();
    Inbound {
        message_id: m.message_id().map(|_| message_id.clone()),
        thread_refs,
        names,
        notice: None,
        // A bounce or delay notice: what it says of which of our mails.
        report: super::dsn::read(&m),
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
        mime_shape: Some(shape),
        automatic,
        raw: None,
        auth: None,
        prepared: None,
    }
}

/// The fingerprint of a whole mail (`Inbound::mime_shape`): its sender's
/// address and each part's type and decoded bytes, in order.
fn mime_shape(m: &mail_parser::Message<'_>, address: &str) -> String {
    let mut h = Shape::new("whole", address);
    for part in &m.parts {
        let bytes: &[u8] = match &part.body {
            PartType::Multipart(_) => &[],
            PartType::Message(inner) => inner.raw_message(),
            _ => part.contents(),
        };
        h.part(&mime_of(part), bytes.len() as u64, bytes);
    }
    h.finish()
}

fn mime_of(part: &mail_parser::MessagePart<'_>) -> String {
    part.content_type()
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")).to_ascii_lowercase())
        .unwrap_or_default()
}

/// A SHA-256 over a mail's parts, each framed by its type and length.
struct Shape(ring::digest::Context);

impl Shape {
    fn new(kind: &str, address: &str) -> Shape {
        let mut c = ring::digest::Context::new(&ring::digest::SHA256);
        for field in [kind.as_bytes(), address.as_bytes()] {
            c.update(&(field.len() as u64).to_le_bytes());
            c.update(field);
        }
        Shape(c)
    }

    fn part(&mut self, mime: &str, size: u64, bytes: &[u8]) {
        self.0.update(&(mime.len() as u64).to_le_bytes());
        self.0.update(mime.as_bytes());
        self.0.update(&size.to_le_bytes());
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
    }

    fn finish(self) -> String {
        let digest = self.0.finish();
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// How deep forwarded mail inside forwarded mail is shown.
const MAX_FORWARD_DEPTH: usize = 3;

/// The readable text of a message: every part the sender wrote as text, in
/// order (HTML made text), with the pictures between them named in place.
fn readable_body(m: &mail_parser::Message<'_>) -> String {
    let mut pieces: Vec<String> = Vec::new();
    for i in shown_parts(m) {
        let Some(part) = m.parts.get(i) else { continue };
        let piece = match &part.body {
            PartType::Html(h) => html_to_text(h),
            PartType::Text(t) if is_subtype(part, "html") => html_to_text(t),
            PartType::Text(t) => t.replace('\u{a0}', " "),
            PartType::Binary(b) if lost_boundary(part) => String::from_utf8_lossy(b).into_owned(),
            PartType::Binary(_) | PartType::InlineBinary(_) => media_marker(part),
            PartType::Message(_) | PartType::Multipart(_) => continue,
        };
        // A part whose headers run into its text: mail-parser reads on to the
        // next blank line and drops the lines that are no header.
        let stray = match &part.body {
            PartType::Text(_) | PartType::Html(_) if i > 0 => {
                m.raw_message().get(part.offset_header as usize..part.offset_body as usize).and_then(stray_text)
            }
            _ => None,
        };
        let piece = match stray {
            Some(s) => format!("{s}\n{piece}"),
            None => piece,
        };
        let piece = piece.trim_start_matches(['\r', '\n']).trim_end();
        if !piece.is_empty() {
            pieces.push(piece.to_string());
        }
    }
    pieces.join("\n\n")
}

/// Text subtypes that are data for a program, not words for a reader: they
/// stay attachments even without a file name.
const DATA_TEXT: &[&str] = &["calendar", "x-vcalendar", "vcard", "x-vcard", "directory", "rfc822-headers"];

/// The parts a reader sees as the body, by index in document order: what
/// mail-parser chose (the text of each alternative, inline text and pictures
/// of a mixed mail), and text it files as an attachment although the sender
/// wrote it as the message: a part with no subtype (`Content-Type: text`), a
/// multipart that lost its boundary, an unknown text type, a text part whose
/// encoding is broken. A file the sender attached (a name, `attachment`) is
/// never read inline.
fn shown_parts(m: &mail_parser::Message<'_>) -> Vec<usize> {
    let mut in_alternative = vec![false; m.parts.len()];
    for part in &m.parts {
        if let PartType::Multipart(children) = &part.body
            && is_subtype(part, "alternative")
        {
            for &c in children {
                if let Some(slot) = in_alternative.get_mut(c as usize) {
                    *slot = true;
                }
            }
        }
    }
    let mut shown: Vec<usize> = m.text_body.iter().map(|&i| i as usize).collect();
    for &i in &m.attachments {
        let i = i as usize;
        let Some(part) = m.parts.get(i) else { continue };
        let loose = (matches!(part.body, PartType::Text(_)) || lost_boundary(part))
            && !in_alternative.get(i).copied().unwrap_or(false)
            && part.attachment_name().is_none()
            && !part.content_disposition().is_some_and(|d| d.is_attachment())
            && part.content_type().is_none_or(|c| {
                c.ctype().eq_ignore_ascii_case("multipart")
                    || c.ctype().eq_ignore_ascii_case("text")
                        && !c.subtype().is_some_and(|s| DATA_TEXT.iter().any(|d| s.eq_ignore_ascii_case(d)))
            });
        if loose {
            shown.push(i);
        }
    }
    shown.sort_unstable();
    shown.dedup();
    shown
}

/// The attachments a mail lists, with their index among mail-parser's
/// attachments (`part:N` names a part by it, see `fetch::nth_attachment`);
/// text read inline as the body is not listed again.
pub(super) fn listed_attachments<'a>(
    m: &'a mail_parser::Message<'a>,
) -> impl Iterator<Item = (usize, &'a mail_parser::MessagePart<'a>)> + 'a {
    let shown = shown_parts(m);
    m.attachments.iter().enumerate().filter_map(move |(n, &i)| {
        let part = m.parts.get(i as usize)?;
        let inline_text = (matches!(part.body, PartType::Text(_) | PartType::Html(_)) || lost_boundary(part))
            && shown.contains(&(i as usize));
        (!inline_text).then_some((n, part))
    })
}

/// A multipart without a boundary parameter: mail-parser keeps its body as
/// bytes; it is the text the sender wrote.
fn lost_boundary(part: &mail_parser::MessagePart<'_>) -> bool {
    matches!(part.body, PartType::Binary(_))
        && part
            .content_type()
            .is_some_and(|c| c.ctype().eq_ignore_ascii_case("multipart") && c.attribute("boundary").is_none())
}

fn is_subtype(part: &mail_parser::MessagePart<'_>, subtype: &str) -> bool {
    part.content_type().and_then(|c| c.subtype()).is_some_and(|s| s.eq_ignore_ascii_case(subtype))
}

/// A picture (or sound, or film) between texts, named where it stood: «[image: plan.png]».
fn media_marker(part: &mail_parser::MessagePart<'_>) -> String {
    let kind = match part.content_type().map(|c| c.ctype().to_ascii_lowercase()) {
        Some(k) if matches!(k.as_str(), "image" | "audio" | "video") => k,
        _ => "file".to_string(),
    };
    named_in_place(&kind, part.attachment_name())
}

/// «[image: plan.png]», «[image]»: one line, whatever the name holds.
pub(super) fn named_in_place(kind: &str, name: Option<&str>) -> String {
    // Written for people, in the team's language: «[изображение: plan.png]».
    let lang = crate::i18n::written();
    let kind = match kind {
        "image" => lang.tr("ph_kind_image"),
        "audio" => lang.tr("ph_kind_audio"),
        "video" => lang.tr("ph_kind_video"),
        "file" => lang.tr("ph_kind_file"),
        other => other,
    };
    match name {
        Some(name) => {
            let name: String = name.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect();
            format!("[{kind}: {}]", name.trim())
        }
        None => format!("[{kind}]"),
    }
}

/// Appends every attached mail (message/rfc822, the parts of a digest) as a
/// forwarded block: its From, Date, Subject and text, nested to a limit.
fn forwarded_blocks(m: &mail_parser::Message<'_>, depth: usize, out: &mut String) {
    for part in m.attachments().take(MAX_PARTS) {
        let Some(inner) = part.message() else { continue };
        if depth >= MAX_FORWARD_DEPTH {
            let said = crate::channels::placeholder::Placeholder::NestedDeeper.in_language(crate::i18n::written());
            out.push_str(&format!("\n\n{said}"));
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
        let header = is_header_line(l);
        if !(header || continuation) {
            let body = text[offset..].trim_end().to_string();
            return (!body.is_empty()).then_some(body);
        }
        seen_header = true;
        offset += line.len();
    }
    None
}

/// The lines of a MIME part's header block that are no header (nor a
/// header's continuation, nor a boundary line): the part's text, when the
/// sender left out the blank line after its headers.
fn stray_text(block: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(block);
    let mut out: Vec<&str> = Vec::new();
    let mut in_header = false;
    for line in text.lines() {
        let l = line.trim_end_matches('\r');
        if l.trim().is_empty() || (in_header && l.starts_with([' ', '\t'])) {
            continue;
        }
        in_header = is_header_line(l);
        if in_header || (l.starts_with("--") && !l.contains(char::is_whitespace)) {
            continue;
        }
        out.push(l);
    }
    (!out.is_empty()).then(|| out.join("\n"))
}

/// `Name: value`, the name printable ASCII without a colon.
fn is_header_line(l: &str) -> bool {
    l.split_once(':')
        .is_some_and(|(name, _)| !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':'))
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

/// A large mail fetched by structure: its header block, its text parts (each
/// with its MIME headers, in the order of `layout.text_sections()`, `None`
/// when the server had none) and the attachments listed from BODYSTRUCTURE.
pub fn parse_structured(
    header: &[u8],
    texts: &[Option<Vec<u8>>],
    layout: super::parts::Layout,
    fallback_id: &str,
    own_addresses: &[String],
) -> Inbound {
    use super::parts::Piece;
    let mut m = parse(header, fallback_id, own_addresses);
    m.parse_error = None;
    m.body_text.clear();
    m.body_html = None;
    let mut shape = Shape::new("structured", &m.author_handle);
    let mut pieces: Vec<String> = Vec::new();
    let mut texts = texts.iter();
    for piece in &layout.body {
        let text = match piece {
            Piece::Text { .. } => {
                let Some(Some(raw)) = texts.next() else { continue };
                shape.part("text", raw.len() as u64, raw);
                let Some(part) = MessageParser::default().parse(raw) else { continue };
                if m.body_html.is_none()
                    && let Some(PartType::Html(h)) = part.parts.first().map(|p| &p.body)
                {
                    m.body_html = Some(h.to_string());
                }
                readable_body(&part)
            }
            Piece::Media { kind, name } => named_in_place(kind, name.as_deref()),
        };
        let text = text.trim_start_matches(['\r', '\n']).trim_end();
        if !text.is_empty() {
            pieces.push(text.to_string());
        }
    }
    m.body_text = pieces.join("\n\n");
    for a in &layout.attachments {
        shape.part(&a.mime, a.size.max(0) as u64, a.remote_ref.as_deref().unwrap_or("").as_bytes());
    }
    m.mime_shape = Some(shape.finish());
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
    fn only_html_the_sender_wrote_is_kept_as_html() {
        let plain = b"Received: from mx.partner.test (mx.partner.test [192.0.2.1])\r\n\tby mx.office.test; Fri, 20 Nov 2026 10:00:01 +0300\r\n\
From: Client <c@y>\r\nSubject: acts\r\nMessage-ID: <p@y>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\r\nPlain text.\r\n";
        let m = parse(plain, "<f>", &[]);
        assert_eq!((m.body_text.trim(), m.body_html.as_deref()), ("Plain text.", None));
        assert_eq!((m.author_handle.as_str(), m.sent_at), ("c@y", 1_795_158_000));
        let both = b"From: c@y\r\nSubject: acts\r\nMessage-ID: <a@y>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nText.\r\n--b\r\n\
Content-Type: text/html\r\n\r\n<p>Text.</p>\r\n--b--\r\n";
        assert_eq!(parse(both, "<f>", &[]).body_html.as_deref().map(str::trim), Some("<p>Text.</p>"));
    }

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

    /// Apple Mail's plain mail with a picture in the middle of the text.
    #[test]
    fn text_a_picture_and_more_text_are_all_shown_in_order() {
        let raw = "From: Ирина <irina@client.test>\r\nSubject: план\r\nMessage-ID: <apple@x>\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"Apple-Mail=_1\"\r\n\r\n--Apple-Mail=_1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nВот план этажа:\r\n\r\n\
--Apple-Mail=_1\r\nContent-Disposition: inline; filename=plan.png\r\nContent-Type: image/png; name=\"plan.png\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--Apple-Mail=_1\r\n\
Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nА смету пришлю завтра.\r\n--Apple-Mail=_1--\r\n";
        let m = parse(raw.as_bytes(), "<f>", &[]);
        assert_eq!(m.body_text, "Вот план этажа:\n\n[image: plan.png]\n\nА смету пришлю завтра.");
        let names: Vec<&str> = m.attachments.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["plan.png"], "the picture is still a file to open");
        assert_eq!(m.attachments[0].remote_ref.as_deref(), Some("part:0"));
    }

    #[test]
    fn every_text_part_of_a_mixed_mail_is_shown_html_made_text() {
        let raw = b"From: a@x\r\nSubject: five\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n\
--B\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--B\r\nContent-Type: text/html\r\n\r\n<p>second&nbsp;part</p>\r\n\
--B\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\ndGhpcmQgcGFydA==\r\n\
--B\r\nContent-Type: multipart/alternative; boundary=A\r\n\r\n--A\r\nContent-Type: text/plain\r\n\r\nfourth part\r\n\
--A\r\nContent-Type: text/html\r\n\r\n<b>fourth part</b>\r\n--A--\r\n--B\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n\
--B\r\nContent-Type: text/x-notes\r\n\r\nfifth part\r\n--B--\r\n";
        let m = parse(raw, "<f>", &[]);
        assert_eq!(m.body_text, "first part\n\nsecond part\n\nthird part\n\nfourth part\n\nfifth part");
        let mimes: Vec<&str> = m.attachments.iter().map(|a| a.mime.as_str()).collect();
        assert_eq!(mimes, ["text/calendar"], "an invitation stays a file; an alternative is read once");
    }

    #[test]
    fn odd_shapes_show_their_text() {
        // `Content-Type: text` with no subtype.
        let m = parse(
            b"From: a@x\r\nSubject: s\r\nContent-Type: text; charset=us-ascii\r\n\r\nno subtype here\r\n",
            "<f>",
            &[],
        );
        assert_eq!((m.body_text.as_str(), m.attachments.len()), ("no subtype here", 0));
        // A multipart that names no boundary.
        let m = parse(
            b"From: a@x\r\nSubject: s\r\nContent-Type: multipart/alternative;\r\n\r\nBlah blah blah\r\n",
            "<f>",
            &[],
        );
        assert_eq!((m.body_text.as_str(), m.attachments.len()), ("Blah blah blah", 0));
        // A part whose headers run straight into its text.
        let m = parse(
            b"From: a@x\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\nPlease send the act.\r\n--b\r\nContent-Type: text/plain\r\n\r\nThanks.\r\n--b--\r\n",
            "<f>",
            &[],
        );
        assert!(m.body_text.contains("Please send the act.") && m.body_text.contains("Thanks."), "{:?}", m.body_text);
    }

    #[test]
    fn the_shape_tells_apart_what_text_and_names_do_not() {
        let mail = |from: &str, file: &str| {
            format!(
                "From: Bank <{from}>\r\nSubject: Invoice\r\nMessage-ID: <i@bank>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\
                 Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nInvoice attached.\r\n\
                 --b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=invoice.pdf\r\n\
                 Content-Transfer-Encoding: base64\r\n\r\n{file}\r\n--b--\r\n"
            )
        };
        let shape = |raw: String| parse(raw.as_bytes(), "<f>", &[]).mime_shape.expect("a shape");
        let genuine = shape(mail("billing@bank.test", "JVBERi0xLjQK"));
        assert_eq!(genuine, shape(mail("billing@bank.test", "JVBERi0xLjQK")), "the same bytes, the same shape");
        assert_ne!(genuine, shape(mail("billing@bank-payments.test", "JVBERi0xLjQK")), "another sender");
        assert_ne!(genuine, shape(mail("billing@bank.test", "JVBERi0xLjUK")), "another file of the same size");
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
