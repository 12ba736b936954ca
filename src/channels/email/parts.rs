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
    pub plain: Option<String>,
    pub html: Option<String>,
    pub attachments: Vec<InboundAttachment>,
    /// The structure could not be followed to the end (too deep, too many parts).
    pub truncated: bool,
}

/// Walks a BODYSTRUCTURE. `None` when the mail is a single part: then it is fetched whole.
pub fn layout(bs: &BodyStructure<'_>) -> Option<Layout> {
    let BodyStructure::Multipart { bodies, .. } = bs else { return None };
    let mut out = Layout::default();
    for (i, b) in bodies.iter().enumerate() {
        walk(b, &(i + 1).to_string(), 1, &mut out);
    }
    Some(out)
}

fn walk(bs: &BodyStructure<'_>, section: &str, depth: usize, out: &mut Layout) {
    if depth > MAX_DEPTH || out.attachments.len() >= MAX_PARTS {
        out.truncated = true;
        return;
    }
    match bs {
        BodyStructure::Multipart { bodies, .. } => {
            for (i, b) in bodies.iter().enumerate() {
                walk(b, &format!("{section}.{}", i + 1), depth + 1, out);
            }
        }
        BodyStructure::Text { common, other, .. } => {
            let attached = is_attachment(common.disposition.as_ref()) || file_name(common).is_some();
            let sub = common.ty.subtype.to_ascii_lowercase();
            if !attached && sub == "plain" && out.plain.is_none() {
                out.plain = Some(section.to_string());
            } else if !attached && sub == "html" && out.html.is_none() {
                out.html = Some(section.to_string());
            } else {
                out.attachments.push(attachment(common, other, section));
            }
        }
        BodyStructure::Basic { common, other, .. } | BodyStructure::Message { common, other, .. } => {
            out.attachments.push(attachment(common, other, section));
        }
    }
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
        assert_eq!((l.plain.as_deref(), l.html.as_deref()), (Some("1.1"), Some("1.2")));
        assert_eq!(l.attachments.len(), 1);
        assert_eq!(l.attachments[0].name, "А.pdf", "RFC 2231 wins over the plain name");
        assert_eq!(l.attachments[0].remote_ref.as_deref(), Some("section:2"));
        assert_eq!(l.attachments[0].size, 3000);
        assert!(!l.truncated);
    }

    #[test]
    fn deep_nesting_is_cut_and_marked() {
        let mut bs = String::from("(\"text\" \"plain\" NIL NIL NIL \"7bit\" 1 1)");
        for _ in 0..40 {
            bs = format!("({bs} \"mixed\")");
        }
        let l = structure(&bs).expect("multipart");
        assert!(l.truncated);
        assert!(l.plain.is_none());
    }

    #[test]
    fn names_are_decoded() {
        assert_eq!(rfc2231("utf-8''%D0%A1%D1%87%D1%91%D1%82.pdf"), "Счёт.pdf");
        assert_eq!(rfc2231("utf-8'ru'100%"), "100%");
        assert_eq!(rfc2047("=?utf-8?B?0KHRh9GR0YIucGRm?="), "Счёт.pdf");
        assert_eq!(rfc2047("plain.pdf"), "plain.pdf");
    }
}
