//! QRESYNC (RFC 7162): one SELECT that also says which mail vanished and which
//! flags changed since the last sync. async-imap has no QRESYNC SELECT, so the
//! command is sent and its untagged answers read here, with imap-proto's parser.

use super::Session;
use async_imap::imap_proto::types::{AttributeValue, MailboxDatum, Response, ResponseCode, Status};
use std::ops::RangeInclusive;

/// What a SELECT told about a folder.
#[derive(Debug, Default)]
pub struct Selected {
    pub exists: u32,
    pub uid_validity: Option<u32>,
    pub uid_next: Option<u32>,
    pub highest_modseq: Option<u64>,
    /// UIDs expunged since the known MODSEQ (`VANISHED (EARLIER)`), as ranges.
    pub vanished: Vec<RangeInclusive<u32>>,
    /// UID, \Seen, \Answered of mail whose flags changed since the known MODSEQ.
    pub changed: Vec<crate::model::FlagChange>,
    /// The server answered the QRESYNC parameters (so `vanished`/`changed` are complete).
    pub resynced: bool,
}

/// `SELECT folder (QRESYNC (validity modseq))`, or `(CONDSTORE)` on first sight.
pub async fn select(
    session: &mut Session,
    folder: &str,
    known: Option<(u32, u64)>,
) -> Result<Selected, async_imap::error::Error> {
    let wire = super::mutf7::encode(folder);
    let quoted = format!("\"{}\"", wire.replace('\\', "\\\\").replace('"', "\\\""));
    let command = match known {
        Some((validity, modseq)) => format!("SELECT {quoted} (QRESYNC ({validity} {modseq}))"),
        None => format!("SELECT {quoted} (CONDSTORE)"),
    };
    let tag = session.run_command(&command).await?;
    let mut out = Selected::default();
    loop {
        let Some(resp) = session.read_response().await? else {
            return Err(async_imap::error::Error::ConnectionLost);
        };
        match resp.parsed() {
            Response::Done { tag: t, status, information, .. } if *t == tag => {
                return match status {
                    Status::Ok => {
                        out.resynced = known.is_some();
                        Ok(out)
                    }
                    Status::No => Err(async_imap::error::Error::No(information.as_deref().unwrap_or("").to_string())),
                    _ => Err(async_imap::error::Error::Bad(information.as_deref().unwrap_or("").to_string())),
                };
            }
            Response::MailboxData(MailboxDatum::Exists(n)) => out.exists = *n,
            Response::Data { code: Some(code), .. } => match code {
                ResponseCode::UidValidity(v) => out.uid_validity = Some(*v),
                ResponseCode::UidNext(n) => out.uid_next = Some(*n),
                ResponseCode::HighestModSeq(m) => out.highest_modseq = Some(*m),
                _ => {}
            },
            Response::Vanished { uids, .. } => out.vanished.extend(uids.iter().cloned()),
            Response::Fetch(_, attrs) => {
                let mut uid = None;
                let (mut seen, mut answered) = (false, false);
                for a in attrs {
                    match a {
                        AttributeValue::Uid(u) => uid = Some(*u),
                        AttributeValue::Flags(flags) => {
                            seen = flags.iter().any(|f| f.eq_ignore_ascii_case("\\Seen"));
                            answered = flags.iter().any(|f| f.eq_ignore_ascii_case("\\Answered"));
                        }
                        _ => {}
                    }
                }
                if let Some(uid) = uid {
                    out.changed.push(crate::model::FlagChange { uid, seen, answered });
                }
            }
            _ => {}
        }
    }
}
