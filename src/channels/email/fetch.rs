//! Attachment bytes on demand. A mail synced whole lists its attachments as
//! `part:N` (the mail is fetched again and part N taken); a large mail, synced
//! by structure, as `section:1.2` (only that MIME part is fetched).

use super::{EmailError, Session, connect, fetch_section};
use crate::config::EmailAccount;
use futures_util::StreamExt;
use mail_parser::{MessageParser, MimeHeaders};

/// Where a stored mail is on the server.
#[derive(Debug, Clone, PartialEq)]
pub struct MailPlace {
    pub folder: String,
    pub uid: u32,
    /// The folder's UIDVALIDITY when the mail was synced: a UID names the same
    /// mail only under the same UIDVALIDITY.
    pub validity: Option<u32>,
}

/// One attachment as the store lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub name: String,
    pub mime: String,
    pub remote_ref: String,
    /// The size the sync recorded (decoded bytes of a whole-fetched mail's part).
    pub size: i64,
}

/// Fetches the bytes of `wanted` attachments of one mail, in one session.
pub async fn attachments(
    account: &EmailAccount,
    place: &MailPlace,
    wanted: &[Wanted],
) -> Result<Vec<(Wanted, Vec<u8>)>, EmailError> {
    let imap = |e: async_imap::error::Error| EmailError::Imap { account: account.name.clone(), reason: e.to_string() };
    let mut session = connect(account).await?;
    // EXAMINE: read-only, so fetching never sets \Seen or anything else.
    let mailbox = session.examine(super::mutf7::encode(&place.folder)).await.map_err(imap)?;
    // The same (folder, UIDVALIDITY, UID) it was listed from, or nothing: a UID
    // under another UIDVALIDITY may name any other mail.
    if let (Some(then), Some(now)) = (place.validity, mailbox.uid_validity)
        && then != now
    {
        let _ = session.logout().await;
        return Err(EmailError::Imap {
            account: account.name.clone(),
            reason: format!(
                "{} was renumbered by the server since the last sync (UIDVALIDITY {then} → {now}); \
                 run `pult sync --once` and try again",
                place.folder
            ),
        });
    }
    let mut whole: Option<Vec<u8>> = None;
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        let bytes = if let Some(section) = w.remote_ref.strip_prefix("section:") {
            let raw = fetch_section(&mut session, place.uid, section).await.map_err(imap)?;
            raw.as_deref().and_then(decode_single_part).map(Ok)
        } else if let Some(n) = w.remote_ref.strip_prefix("part:").and_then(|n| n.parse::<usize>().ok()) {
            if whole.is_none() {
                whole = raw_message(&mut session, place.uid).await.map_err(imap)?;
            }
            whole.as_deref().and_then(|raw| nth_attachment(raw, n)).map(|(bytes, listed_size)| {
                // The part at that index must still be the one the sync listed.
                if w.size > 0 && listed_size as i64 != w.size {
                    Err(format!(
                        "{}: the part on the server ({listed_size} bytes) is not the one listed ({} bytes); refused",
                        w.name, w.size
                    ))
                } else {
                    Ok(bytes)
                }
            })
        } else {
            None
        };
        let bytes = match bytes {
            Some(Err(reason)) => {
                let _ = session.logout().await;
                return Err(EmailError::Imap { account: account.name.clone(), reason });
            }
            Some(Ok(b)) => Some(b),
            None => None,
        };
        let Some(bytes) = bytes else {
            let _ = session.logout().await;
            return Err(EmailError::Imap {
                account: account.name.clone(),
                reason: format!("{} is no longer on the server (mail {} in {})", w.name, place.uid, place.folder),
            });
        };
        out.push((w.clone(), bytes));
    }
    let _ = session.logout().await;
    Ok(out)
}

/// The whole raw mail by UID (in the selected folder).
pub async fn raw_message(session: &mut Session, uid: u32) -> Result<Option<Vec<u8>>, async_imap::error::Error> {
    let mut stream = session.uid_fetch(uid.to_string(), "(UID BODY.PEEK[])").await?;
    let mut out = None;
    while let Some(f) = stream.next().await {
        let f = f?;
        if f.uid == Some(uid) {
            out = f.body().map(<[u8]>::to_vec);
        }
    }
    Ok(out)
}

/// The decoded content of a single MIME part (its own headers, then its body).
fn decode_single_part(raw: &[u8]) -> Option<Vec<u8>> {
    let m = MessageParser::default().parse(raw)?;
    m.part(0).map(|p| exact_bytes(&m, p))
}

/// A part's bytes as the sender attached them: transfer encoding undone, but a
/// text file left in its own charset (a windows-1251 CSV stays windows-1251;
/// mail-parser would hand it over converted to UTF-8).
fn exact_bytes(m: &mail_parser::Message<'_>, part: &mail_parser::MessagePart<'_>) -> Vec<u8> {
    use mail_parser::{Encoding, PartType};
    if !matches!(part.body, PartType::Text(_) | PartType::Html(_)) {
        return part.contents().to_vec();
    }
    let raw = m.raw_message();
    let (start, end) = (part.offset_body as usize, (part.offset_end as usize).min(raw.len()));
    let Some(body) = raw.get(start..end) else { return part.contents().to_vec() };
    let decoded = match part.encoding {
        Encoding::Base64 => mail_parser::decoders::base64::base64_decode(body),
        Encoding::QuotedPrintable => mail_parser::decoders::quoted_printable::quoted_printable_decode(body),
        Encoding::None => Some(body.to_vec()),
    };
    decoded.unwrap_or_else(|| part.contents().to_vec())
}

/// Attachment `n` of a whole mail, as the sync listed it, with the size the
/// sync recorded for it (its decoded contents).
fn nth_attachment(raw: &[u8], n: usize) -> Option<(Vec<u8>, usize)> {
    let m = MessageParser::default().parse(raw)?;
    let part = m.attachments().nth(n)?;
    // A forwarded mail inside a mail is saved as the mail itself (.eml).
    let bytes = match part.message() {
        Some(inner) => inner.raw_message().to_vec(),
        None => exact_bytes(&m, part),
    };
    Some((bytes, part.contents().len()))
}

/// Names of the attachments of a raw mail, in the order the sync lists them (for tests).
pub fn attachment_names(raw: &[u8]) -> Vec<String> {
    MessageParser::default()
        .parse(raw)
        .map(|m| {
            super::parse::listed_attachments(&m)
                .map(|(_, a)| a.attachment_name().unwrap_or("attachment").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base64_part_is_decoded() {
        let raw = b"Content-Type: application/pdf; name=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n";
        assert_eq!(decode_single_part(raw).as_deref(), Some(&b"%PDF-1.4\n"[..]));
    }

    #[test]
    fn attachments_of_a_whole_mail_by_index() {
        let raw = b"From: a@x\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b\r\nContent-Type: text/csv; name=\"t.csv\"\r\nContent-Disposition: attachment; filename=\"t.csv\"\r\n\r\na;b\r\n--b\r\nContent-Type: application/octet-stream; name=\"x.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n--b--\r\n";
        assert_eq!(attachment_names(raw), ["t.csv", "x.bin"]);
        assert_eq!(nth_attachment(raw, 1).map(|a| a.0).as_deref(), Some(&[0u8, 1, 2][..]));
        assert_eq!(nth_attachment(raw, 0).map(|a| a.0).as_deref(), Some(&b"a;b"[..]));
        assert_eq!(nth_attachment(raw, 2), None);
    }

    #[test]
    fn a_text_attachment_keeps_its_charset() {
        // «Счёт» in windows-1251, quoted-printable, as a CSV attachment.
        let mut raw = b"From: a@x\r\nSubject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b\r\nContent-Type: text/csv; charset=windows-1251; name=\"s.csv\"\r\nContent-Disposition: attachment; filename=\"s.csv\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=D1=F7=B8=F2;1\r\n--b--\r\n".to_vec();
        let got = nth_attachment(&raw, 0).expect("attachment").0;
        assert!(got.starts_with(&[0xD1, 0xF7, 0xB8, 0xF2, b';', b'1']), "{got:?}");
        // And as a single part fetched by section.
        raw = b"Content-Type: text/csv; charset=windows-1251\r\nContent-Transfer-Encoding: base64\r\n\r\n0fe48jsx\r\n"
            .to_vec();
        assert_eq!(decode_single_part(&raw).as_deref(), Some(&[0xD1, 0xF7, 0xB8, 0xF2, b';', b'1'][..]));
    }
}
