//! Large mail is not fetched whole: its BODYSTRUCTURE says which parts are the
//! readable text (fetched with the headers) and which are attachments (listed
//! with their IMAP section, fetched only when somebody saves or opens one).

use crate::model::InboundAttachment;
use async_imap::imap_proto::types::{
    BodyContentCommon, BodyContentSinglePart, BodyStructure, ContentDisposition, ContentEncoding, ContentType,
};

/// Mail up to this size is fetched whole in the sync batches; larger mail by structure.
pub const LAZY_ABOVE: u32 = 256 * 1024;
/// Parts listed per mail and nesting followed, at most (a mail bomb is not a document).
const MAX_PARTS: usize = 200;
const MAX_DEPTH: usize = 16;

/// What a large mail is made of, by IMAP section ("1.2").
#[derive(Debug, Default)]
pub struct Layout {
    /// What a reader sees as the body, in order: the text parts to fetch and
    /// the pictures between them (as in `parse::readable_body` for whole mail).
    pub body: Vec<Piece>,
    pub attachments: Vec<InboundAttachment>,
    /// The structure could not be followed to the end (too deep, too many parts).
    pub truncated: bool,
}

/// One piece of a large mail's body.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// A text part, fetched with its MIME headers; HTML is made text.
    Text { section: String },
    /// A picture (or sound, film) between texts, named in place; its bytes stay on the server.
    Media { kind: String, name: Option<String> },
}

impl Layout {
    /// The sections of the text pieces, in order.
    pub fn text_sections(&self) -> Vec<String> {
        self.body
            .iter()
            .filter_map(|p| match p {
                Piece::Text { section } => Some(section.clone()),
                Piece::Media { .. } => None,
            })
            .collect()
    }
}

/// Walks a BODYSTRUCTURE. `None` when the mail is a single part: then it is fetched whole.
pub fn layout(bs: &BodyStructure<'_>) -> Option<Layout> {
    let BodyStructure::Multipart { .. } = bs else { return None };
    let mut out = Layout::default();
    walk_children(bs, "", 0, true, &mut out);
    Some(out)
}

/// Text subtypes that are data for a program, not words for a reader (as in parse.rs).
const DATA_TEXT: &[&str] = &["calendar", "x-vcalendar", "vcard", "x-vcard", "directory", "rfc822-headers"];

/// The children of a multipart: all of a mixed one; of an alternative only the
/// one a reader sees (the plain text, else the last and richest), the other
/// non-text ones listed as files; of a related one the first, the rest listed.
fn walk_children(bs: &BodyStructure<'_>, section: &str, depth: usize, body: bool, out: &mut Layout) {
    let BodyStructure::Multipart { bodies, common, .. } = bs else { return };
    let sub = common.ty.subtype.to_ascii_lowercase();
    let plain = |b: &BodyStructure<'_>| {
        matches!(b, BodyStructure::Text { common, .. }
            if common.ty.subtype.eq_ignore_ascii_case("plain") && !attached(common))
    };
    let chosen = match sub.as_str() {
        "alternative" => bodies.iter().position(plain).or(bodies.len().checked_sub(1)),
        _ => None,
    };
    for (i, b) in bodies.iter().enumerate() {
        let child = if section.is_empty() { (i + 1).to_string() } else { format!("{section}.{}", i + 1) };
        let child_body = match sub.as_str() {
            "alternative" => {
                if chosen != Some(i) {
                    // Another rendering of the same text: not read twice, not a file.
                    if let BodyStructure::Text { common, .. } = b
                        && !attached(common)
                        && matches!(common.ty.subtype.to_ascii_lowercase().as_str(), "plain" | "html")
                    {
                        continue;
                    }
                }
                body && chosen == Some(i)
            }
            "related" => body && i == 0,
            _ => body,
        };
        walk(b, &child, depth + 1, child_body, out);
    }
}

fn walk(bs: &BodyStructure<'_>, section: &str, depth: usize, body: bool, out: &mut Layout) {
    if depth > MAX_DEPTH || out.attachments.len() + out.body.len() >= MAX_PARTS {
        out.truncated = true;
        return;
    }
    match bs {
        BodyStructure::Multipart { .. } => walk_children(bs, section, depth, body, out),
        BodyStructure::Text { common, other, .. } => {
            let sub = common.ty.subtype.to_ascii_lowercase();
            if body && !attached(common) && !DATA_TEXT.contains(&sub.as_str()) {
                out.body.push(Piece::Text { section: section.to_string() });
            } else {
                out.attachments.push(attachment(common, other, section));
            }
        }
        BodyStructure::Basic { common, other, .. } => {
            let kind = common.ty.ty.to_ascii_lowercase();
            if body
                && matches!(kind.as_str(), "image" | "audio" | "video")
                && !is_attachment(common.disposition.as_ref())
            {
                out.body.push(Piece::Media { kind, name: file_name(common) });
            }
            out.attachments.push(attachment(common, other, section));
        }
        BodyStructure::Message { common, other, .. } => {
            out.attachments.push(attachment(common, other, section));
        }
    }
}

/// A part the sender attached as a file: `attachment`, or a file name.
fn attached(common: &BodyContentCommon<'_>) -> bool {
    is_attachment(common.disposition.as_ref()) || file_name(common).is_some()
}

fn is_attachment(d: Option<&ContentDisposition<'_>>) -> bool {
    d.is_some_and(|d| d.ty.eq_ignore_ascii_case("attachment"))
}

fn attachment(common: &BodyContentCommon<'_>, other: &BodyContentSinglePart<'_>, section: &str) -> InboundAttachment {
    let mime = mime_of(&common.ty);
    let name = file_name(common)
        .unwrap_or_else(|| if mime == "message/rfc822" { "message.eml".to_string() } else { "attachment".to_string() });
    InboundAttachment {
        name,
        mime,
        // Base64 is 4/3 of the bytes it carries (line breaks aside): close enough to show and to guard.
        size: match other.transfer_encoding {
            ContentEncoding::Base64 => other.octets as i64 * 3 / 4,
            _ => other.octets as i64,
        },
        remote_ref: Some(format!("section:{section}")),
        duration: None,
    }
}

fn mime_of(ty: &ContentType<'_>) -> String {
    format!("{}/{}", ty.ty, ty.subtype).to_ascii_lowercase()
}

/// The file name from Content-Disposition or Content-Type, decoded (RFC 2231 and RFC 2047).
fn file_name(common: &BodyContentCommon<'_>) -> Option<String> {
    let disposition = common.disposition.as_ref().and_then(|d| d.params.as_ref());
    let params = disposition.into_iter().chain(common.ty.params.as_ref()).flatten();
    let mut plain = None;
    for (k, v) in params {
        let k = k.to_ascii_lowercase();
        if k == "filename*" || k == "name*" {
            return Some(rfc2231(v));
        }
        if (k == "filename" || k == "name") && plain.is_none() {
            plain = Some(rfc2047(v));
        }
    }
    plain
}

/// `utf-8'ru'%D0%A1%D1%87%D1%91%D1%82.pdf` → `Счёт.pdf`.
fn rfc2231(v: &str) -> String {
    let encoded = v.splitn(3, '\'').nth(2).unwrap_or(v);
    let mut bytes = Vec::with_capacity(encoded.len());
    let raw = encoded.as_bytes();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(b) = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            bytes.push(b);
            i += 3;
        } else {
            bytes.push(raw[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `=?utf-8?B?...?=` words, decoded by mail-parser as it would a Subject.
fn rfc2047(v: &str) -> String {
    if !v.contains("=?") {
        return v.to_string();
    }
    let header = format!("Subject: {}\r\n\r\n", v.replace(['\r', '\n'], " "));
    mail_parser::MessageParser::default()
        .parse(header.as_bytes())
        .and_then(|m| m.subject().map(str::to_string))
        .unwrap_or_else(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn structure(bs: &str) -> Option<Layout> {
        let line = format!("* 1 FETCH (UID 7 BODYSTRUCTURE {bs})\r\n");
        let (_, resp) = async_imap::imap_proto::parser::parse_response(line.as_bytes()).expect("parses");
        let async_imap::imap_proto::Response::Fetch(_, attrs) = resp else { panic!("a FETCH") };
        attrs.iter().find_map(|a| match a {
            async_imap::imap_proto::AttributeValue::BodyStructure(b) => layout(b),
            _ => None,
        })
    }

    #[test]
    fn text_parts_and_attachments_by_section() {
        let l = structure(
            "(((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"base64\" 40 1)(\"text\" \"html\" (\"charset\" \"utf-8\") NIL NIL \"7bit\" 20 1) \"alternative\")\
             (\"application\" \"pdf\" (\"name\" \"=?utf-8?B?0KHRh9GR0YIucGRm?=\") NIL NIL \"base64\" 4000 NIL (\"attachment\" (\"filename*\" \"utf-8''%D0%90.pdf\")) NIL) \"mixed\")",
        )
        .expect("multipart");
        assert_eq!(l.body, [Piece::Text { section: "1.1".into() }], "the plain text of the alternative");
        assert_eq!(l.attachments.len(), 1);
        assert_eq!(l.attachments[0].name, "А.pdf", "RFC 2231 wins over the plain name");
        assert_eq!(l.attachments[0].remote_ref.as_deref(), Some("section:2"));
        assert_eq!(l.attachments[0].size, 3000);
        assert!(!l.truncated);
    }

    #[test]
    fn text_a_picture_and_text_are_the_body_in_order() {
        let l = structure(
            "((\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 30 1)\
             (\"image\" \"png\" (\"name\" \"plan.png\") NIL NIL \"base64\" 400000 NIL (\"inline\" (\"filename\" \"plan.png\")) NIL)\
             (\"text\" \"plain\" (\"charset\" \"utf-8\") NIL NIL \"8bit\" 30 1)\
             (\"text\" \"calendar\" NIL NIL NIL \"7bit\" 300 5) \"mixed\")",
        )
        .expect("multipart");
        assert_eq!(
            l.body,
            [
                Piece::Text { section: "1".into() },
                Piece::Media { kind: "image".into(), name: Some("plan.png".into()) },
                Piece::Text { section: "3".into() },
            ]
        );
        let listed: Vec<&str> = l.attachments.iter().map(|a| a.mime.as_str()).collect();
        assert_eq!(listed, ["image/png", "text/calendar"]);
    }

    #[test]
    fn deep_nesting_is_cut_and_marked() {
        let mut bs = String::from("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)");
        for _ in 0..40 {
            bs = format!("({bs} \"mixed\")");
        }
        let l = structure(&bs).expect("multipart");
        assert!(l.truncated);
        assert!(l.body.is_empty());
    }

    #[test]
    fn names_are_decoded() {
        assert_eq!(rfc2231("utf-8''%D0%A1%D1%87%D1%91%D1%82.pdf"), "Счёт.pdf");
        assert_eq!(rfc2231("utf-8'ru'100%"), "100%");
        assert_eq!(rfc2047("=?utf-8?B?0KHRh9GR0YIucGRm?="), "Счёт.pdf");
        assert_eq!(rfc2047("plain.pdf"), "plain.pdf");
    }
}
