//! A client's history as evidence: `pult export --client ID --out DIR` writes
//! the originals as received, the promise ledger, the outbox, the audit chain,
//! a report and a manifest of SHA-256 hashes; `pult export verify DIR` checks
//! every one of them again.

use crate::clock::Clock;
use crate::i18n::Lang;
use crate::store::audit_chain::{ChainRow, sha256_hex};
use crate::store::evidence::{EvMessage, Evidence};
use crate::store::{Reader, Writer};
use anyhow::{Context as _, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// What the manifest calls its own format.
pub const FORMAT: &str = "pult-export-1";

/// Files of a bundle that the manifest does not list by hash: itself, its
/// signature, and the README (which carries the time of export; its hash is
/// in the manifest's `export` block, with the other time-bound fields).
pub const UNLISTED: &[&str] = &["manifest.json", "manifest.json.sig", "README.txt"];

#[derive(Debug, Clone)]
pub struct Options {
    pub client: i64,
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub out: PathBuf,
    pub include_notes: bool,
    pub redact_others: bool,
    pub lang: Lang,
    pub operator: String,
    /// The command line as typed, with the output directory as `DIR`.
    pub command_line: String,
    pub sign_command: Option<Vec<String>>,
}

/// One file of the bundle as the manifest lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Entry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    /// Where its content came from: folder+UIDVALIDITY+UID, chat and message id, wamid.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<Value>,
    /// When pult received it (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_at: Option<String>,
    /// Not the bytes as received, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reconstructed: Option<String>,
    /// A mail's DKIM as pult checked it on arrival (`mailauth::MailAuth`,
    /// `checked_at` in RFC 3339), with what the receiving servers reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dkim: Option<Value>,
}

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub out: PathBuf,
    pub files: usize,
    pub manifest_sha256: String,
    pub counts: BTreeMap<String, usize>,
    pub left_out: Vec<String>,
    pub signed: bool,
}

fn utc(t: i64) -> String {
    jiff::Timestamp::from_second(t).map(|t| t.to_string()).unwrap_or_default()
}

/// A runtime for fetching what an export lacks; without one, each of
/// `messages` is marked failed with the reason.
fn runtime_for<'a>(
    messages: impl Iterator<Item = &'a EvMessage>,
    failed: &mut BTreeMap<i64, String>,
) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => Some(rt),
        Err(e) => {
            for m in messages {
                failed.insert(m.id, e.to_string());
            }
            None
        }
    }
}

/// Fetches, while the server still has them, the whole bytes of this client's
/// mail that pult holds only in part (a large mail synced by structure, or
/// mail from before `keep_raw`), and keeps them as originals. Returns what
/// could not be completed, by message id, with the reason.
pub fn complete_mail(
    cfg: &crate::config::Config,
    reader: &Reader,
    writer: &Writer,
    ev: &Evidence,
) -> BTreeMap<i64, String> {
    let mut failed = BTreeMap::new();
    // By account and folder, so that each account is one IMAP session.
    let mut wanted: BTreeMap<(String, String), Vec<&EvMessage>> = BTreeMap::new();
    for m in &ev.messages {
        if let Some((folder, _, _)) = &m.imap
            && m.kind == "email"
            && !m.originals.iter().any(|o| o.partial.is_none())
        {
            wanted.entry((m.channel.clone(), folder.clone())).or_default().push(m);
        }
    }
    if wanted.is_empty() {
        return failed;
    }
    let Some(rt) = runtime_for(wanted.values().flatten().copied(), &mut failed) else { return failed };
    let mut sessions: BTreeMap<String, crate::channels::email::Session> = BTreeMap::new();
    for ((channel, folder), messages) in wanted {
        let account = cfg.accounts.iter().find_map(|a| match a {
            crate::config::Account::Email(e) if e.name == channel => Some(e.clone()),
            _ => None,
        });
        let fetched: Result<Vec<Result<Vec<u8>, String>>, String> = rt.block_on(async {
            let Some(account) = account else {
                return Err(format!("no configured email account named {channel}"));
            };
            if !sessions.contains_key(&channel) {
                let s = crate::channels::email::connect(&account).await.map_err(|e| e.to_string())?;
                sessions.insert(channel.clone(), s);
            }
            let Some(session) = sessions.get_mut(&channel) else { return Err("no session".into()) };
            let mailbox =
                session.examine(crate::channels::email::mutf7::encode(&folder)).await.map_err(|e| e.to_string())?;
            let mut out = Vec::new();
            for m in &messages {
                let Some((_, validity, uid)) = m.imap.clone() else { continue };
                if let (Some(then), Some(now)) = (validity, mailbox.uid_validity)
                    && then != i64::from(now)
                {
                    out.push(Err(format!("{folder} was renumbered (UIDVALIDITY {then} → {now})")));
                    continue;
                }
                out.push(match crate::channels::email::fetch::raw_message(session, uid as u32).await {
                    Ok(Some(bytes)) => Ok(bytes),
                    Ok(None) => Err(format!("mail {uid} is no longer in {folder}")),
                    Err(e) => Err(e.to_string()),
                });
            }
            Ok(out)
        });
        let fetched = match fetched {
            Ok(f) => f,
            Err(reason) => {
                for m in messages {
                    failed.insert(m.id, reason.clone());
                }
                continue;
            }
        };
        for (m, got) in messages.iter().zip(fetched) {
            let Some((_, validity, uid)) = m.imap.clone() else { continue };
            let bytes = match got {
                Ok(b) => b,
                Err(reason) => {
                    failed.insert(m.id, reason);
                    continue;
                }
            };
            // The mail at that place must be the one synced: it starts with the header kept.
            let kept = m.originals.iter().find(|o| o.partial.is_some()).map(|o| o.sha256.clone());
            if let Some(header) = kept.and_then(|sha| reader.blob(&sha).ok().flatten())
                && !bytes.starts_with(&header)
            {
                failed.insert(m.id, format!("the mail now at {folder} UID {uid} is not the one synced"));
                continue;
            }
            let raw = crate::channels::email::original(
                &folder,
                &validity.map(|v| v.to_string()).unwrap_or_default(),
                uid as u32,
                bytes,
                None,
            )
            .packed();
            let id = m.id;
            if let Err(e) = writer.call_blocking(move |c| crate::store::originals::complete(c, id, &raw)) {
                failed.insert(m.id, e.to_string());
            }
        }
    }
    for (_, mut s) in sessions {
        let _ = rt.block_on(s.logout());
    }
    failed
}

/// Fetches, while the channel still serves them, the files of this client's
/// chat messages that pult listed but never downloaded (Telegram's are
/// fetched on demand), and keeps them in the store. Returns what could not be
/// fetched, by message id, with the reason.
pub fn complete_media(
    cfg: &crate::config::Config,
    reader: &Reader,
    writer: &Writer,
    ev: &Evidence,
) -> BTreeMap<i64, String> {
    let mut failed = BTreeMap::new();
    let wanted: Vec<&EvMessage> = ev
        .messages
        .iter()
        .filter(|m| {
            m.kind != "email" && m.attachments.iter().any(|a| a.content_hash.is_none() && a.remote_ref.is_some())
        })
        .collect();
    if wanted.is_empty() {
        return failed;
    }
    let Some(rt) = runtime_for(wanted.iter().copied(), &mut failed) else { return failed };
    for m in wanted {
        let items = match crate::attachments::locate(reader, m.id) {
            Ok(items) => items,
            Err(e) => {
                failed.insert(m.id, e.to_string());
                continue;
            }
        };
        let missing = items.into_iter().filter(|a| a.content_hash.is_none() && a.remote_ref.is_some());
        for item in missing {
            if let Some(why) = &item.fetch_error {
                failed.insert(m.id, why.clone());
                continue;
            }
            match rt.block_on(crate::attachments::fetch(cfg, std::slice::from_ref(&item))).map(|mut got| got.pop()) {
                Ok(Some(bytes)) => {
                    let (id, index) = (m.id, item.index);
                    let kept =
                        writer.call_blocking(move |c| crate::store::originals::keep_attachment(c, id, index, &bytes));
                    if let Err(e) = kept {
                        failed.insert(m.id, e.to_string());
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    failed.insert(m.id, e.to_string());
                }
            }
        }
    }
    failed
}

/// A file name's extension as a safe suffix (letters and digits, short), else `bin`.
fn extension(name: &str, mime: &str) -> String {
    let from_name = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.chars().all(|c| c.is_ascii_alphanumeric()));
    from_name.unwrap_or_else(|| match mime {
        "application/pdf" => "pdf".into(),
        "image/jpeg" => "jpg".into(),
        "image/png" => "png".into(),
        "audio/ogg" => "ogg".into(),
        "text/plain" => "txt".into(),
        _ => "bin".into(),
    })
}

/// mboxrd: each mail after a `From ` line, its `>*From ` lines quoted once more.
fn mboxrd(mails: &[(i64, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (at, raw) in mails {
        let stamp = jiff::Timestamp::from_second(*at)
            .map(|t| t.strftime("%a %b %e %H:%M:%S %Y").to_string())
            .unwrap_or_else(|_| "Thu Jan  1 00:00:00 1970".into());
        out.extend_from_slice(format!("From MAILER-DAEMON {stamp}\n").as_bytes());
        for line in raw.split_inclusive(|b| *b == b'\n') {
            let quoted = line.iter().take_while(|b| **b == b'>').count();
            if line[quoted..].starts_with(b"From ") {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        if !raw.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.push(b'\n');
    }
    out
}

/// The files of a bundle, in memory, before they are written.
struct Bundle {
    files: BTreeMap<String, (Vec<u8>, Entry)>,
    counts: BTreeMap<String, usize>,
    left_out: Vec<String>,
    /// Mails by their DKIM at receipt: pass (from the domain in From), warning, not checked.
    dkim: BTreeMap<&'static str, usize>,
}

impl Bundle {
    fn add(
        &mut self,
        path: String,
        bytes: Vec<u8>,
        sources: Vec<Value>,
        received_at: Option<i64>,
        reconstructed: Option<String>,
    ) {
        let entry = Entry {
            path: path.clone(),
            sha256: sha256_hex(&bytes),
            size: bytes.len() as u64,
            sources,
            received_at: received_at.map(utc),
            reconstructed,
            dkim: None,
        };
        self.files.insert(path, (bytes, entry));
    }
}

/// Who wrote a message, as the bundle may show it.
struct Authors {
    redact: bool,
    others: BTreeMap<String, usize>,
}

impl Authors {
    fn name(&mut self, m: &EvMessage, group: bool, lang: Lang) -> String {
        if m.outgoing {
            return format!("{} ({})", m.author, lang.tr("export_us"));
        }
        if self.masks(m, group) {
            let key = m.author_handle.clone().unwrap_or_else(|| m.author.clone());
            let n = self.number(&key);
            return crate::i18n::fill(lang.tr("export_third_party"), &[("n", &n)]);
        }
        m.author.clone()
    }

    /// With --redact-others: a third party's message in a group chat or in a
    /// client's mail thread (neither the client nor us).
    fn masks(&self, m: &EvMessage, group: bool) -> bool {
        self.redact && (group || m.kind == "email") && !m.outgoing && !m.by_client
    }

    /// The number a third party has in this bundle (by handle or address), the same everywhere.
    fn number(&mut self, key: &str) -> usize {
        let n = self.others.len() + 1;
        *self.others.entry(key.to_lowercase()).or_insert(n)
    }
}

/// Media a store from before the blob store kept as a file of this machine,
/// under `media/ACCOUNT/HASH`.
fn media_file(media_dir: &std::path::Path, hash: &str) -> Option<Vec<u8>> {
    let accounts = std::fs::read_dir(media_dir).ok()?;
    accounts
        .flatten()
        .filter_map(|account| crate::channels::whatsapp::media_path(&account.path(), hash))
        .find_map(|path| std::fs::read(path).ok())
}

/// A mail's header with each address of To and Cc that is neither the
/// client's nor ours replaced by `third-party-N@redacted.invalid` (display
/// names dropped); `None` when it names no third party. The body stays as it is.
fn mask_recipients(raw: &[u8], keep: &[String], authors: &mut Authors) -> Option<Vec<u8>> {
    let msg = crate::mailauth::dkim::Message::parse(raw);
    let mut out = Vec::with_capacity(raw.len());
    let mut masked = false;
    for f in msg.fields() {
        let name = f.name.to_ascii_lowercase();
        if name != "to" && name != "cc" {
            out.extend_from_slice(f.raw);
            continue;
        }
        let mut mini = b"To:".to_vec();
        mini.extend_from_slice(&f.raw[f.raw.iter().position(|&b| b == b':').map_or(0, |p| p + 1)..]);
        mini.extend_from_slice(b"\r\n");
        let parsed = mail_parser::MessageParser::default().parse(&mini);
        let addresses: Vec<String> = parsed
            .as_ref()
            .and_then(|p| p.to())
            .map(|a| a.iter().filter_map(|x| x.address()).map(str::to_lowercase).collect())
            .unwrap_or_default();
        if addresses.iter().all(|a| keep.contains(a)) {
            out.extend_from_slice(f.raw);
            continue;
        }
        masked = true;
        let shown: Vec<String> = addresses
            .iter()
            .map(|a| match keep.contains(a) {
                true => format!("<{a}>"),
                false => format!("<third-party-{}@redacted.invalid>", authors.number(a)),
            })
            .collect();
        out.extend_from_slice(format!("{}: {}\r\n", f.name, shown.join(", ")).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(msg.body());
    masked.then_some(out)
}

/// Why a message has no original in the bundle: the store holds none for it.
const NO_ORIGINAL: &str = "the store holds no original of this message (it arrived before originals were kept, \
                           or was written into the store without one); rebuilt from the text pult kept";

/// The header of a mail rebuilt from what the store knows of it.
fn reconstructed_header(m: &EvMessage) -> String {
    let clean = |s: &str| crate::sanitize::line(s).replace(['\r', '\n'], " ");
    let mut h = String::new();
    let from = match m.author_handle.as_deref() {
        Some(a) => format!("{} <{}>", clean(&m.author), clean(a)),
        None => clean(&m.author),
    };
    h.push_str(&format!("From: {from}\r\n"));
    if let Ok(t) = jiff::Timestamp::from_second(m.sent_at) {
        h.push_str(&format!("Date: {}\r\n", t.strftime("%a, %d %b %Y %H:%M:%S +0000")));
    }
    if let Some(id) = &m.rfc_message_id {
        h.push_str(&format!("Message-ID: {}\r\n", clean(id)));
    }
    h.push_str(&format!("Subject: {}\r\n", clean(m.subject.as_deref().unwrap_or(""))));
    h.push_str("Content-Type: text/plain; charset=utf-8\r\n");
    h
}

/// Builds the bundle of `ev` (read after `complete_mail`); `ours` are our own
/// mail addresses (kept in To and Cc with --redact-others, as the client's are).
fn build(
    reader: &Reader,
    ev: &Evidence,
    opts: &Options,
    incomplete: &BTreeMap<i64, String>,
    ours: &[String],
) -> Result<Bundle> {
    let keep: Vec<String> = ev
        .client
        .iter()
        .flat_map(|c| c.identities.iter())
        .filter(|(kind, _, _)| kind == "email")
        .map(|(_, handle, _)| handle.to_lowercase())
        .chain(ours.iter().map(|a| a.to_lowercase()))
        .collect();
    let mut b = Bundle { files: BTreeMap::new(), counts: BTreeMap::new(), left_out: Vec::new(), dkim: BTreeMap::new() };
    let groups: BTreeMap<i64, bool> = ev.conversations.iter().map(|c| (c.id, c.is_group)).collect();
    let mut authors = Authors { redact: opts.redact_others, others: BTreeMap::new() };
    let mut mails: Vec<(i64, String)> = Vec::new();
    let mut chat_lines: BTreeMap<String, (Vec<u8>, Vec<Value>, Option<i64>)> = BTreeMap::new();
    let mut seen_bodies: BTreeSet<(String, String)> = BTreeSet::new();
    let media_dir = crate::paths::data_dir().join("media");
    for m in &ev.messages {
        let group = groups.get(&m.conversation).copied().unwrap_or(false);
        let best = m.originals.iter().find(|o| o.partial.is_none()).or_else(|| m.originals.first());
        match m.kind.as_str() {
            // Our own mail not (yet) seen on the server is in ledger/outbox.json.
            "email" if m.outgoing && m.imap.is_none() && m.originals.is_empty() => {}
            "email" => {
                *b.counts.entry("email".into()).or_default() += 1;
                let (folder, validity, uid) = m.imap.clone().unwrap_or_default();
                let path = format!("email/{:05}-{}-{}.eml", m.id, validity.unwrap_or(0), uid);
                let source = json!({ "folder": folder, "uidvalidity": validity, "uid": uid,
                                     "message_id_header": m.rfc_message_id, "pult_message": m.id });
                let bytes = best.map(|o| reader.blob(&o.sha256)).transpose()?.flatten();
                let (bytes, reconstructed) = match (bytes, best) {
                    (Some(bytes), Some(o)) if o.partial.is_none() => (bytes, None),
                    (header, _) => {
                        let why = incomplete
                            .get(&m.id)
                            .cloned()
                            .or_else(|| best.and_then(|o| o.partial.clone()))
                            .unwrap_or_else(|| NO_ORIGINAL.into());
                        let mut text = header.unwrap_or_default();
                        if text.is_empty() {
                            text = reconstructed_header(m).into_bytes();
                        }
                        while !text.ends_with(b"\r\n\r\n") && !text.ends_with(b"\n\n") {
                            text.extend_from_slice(b"\r\n");
                        }
                        text.extend_from_slice(m.body.replace('\n', "\r\n").as_bytes());
                        (text, Some(format!("reconstructed from what pult kept: {why}")))
                    }
                };
                if authors.masks(m, group) {
                    // A third party's own mail (--redact-others): only its hash stays.
                    let stub = json!({ "redacted": "third party", "sha256": sha256_hex(&bytes) });
                    let why = "a third party's mail, masked (--redact-others): only its hash remains";
                    let path = path.replace(".eml", ".redacted.json");
                    b.add(path, pretty(&stub)?, vec![source], best.map(|o| o.received_at), Some(why.into()));
                    continue;
                }
                let (bytes, reconstructed) = match opts.redact_others {
                    true => match mask_recipients(&bytes, &keep, &mut authors) {
                        Some(masked) => {
                            let why = format!(
                                "third parties' addresses in To and Cc masked (--redact-others); \
                                 the mail as received has SHA-256 {}",
                                sha256_hex(&bytes)
                            );
                            (masked, Some(reconstructed.map_or(why.clone(), |r| format!("{r}; {why}"))))
                        }
                        None => (bytes, reconstructed),
                    },
                    false => (bytes, reconstructed),
                };
                // Attachments of a whole mail, named by their content.
                if reconstructed.is_none() {
                    use mail_parser::MimeHeaders as _;
                    if let Some(parsed) = mail_parser::MessageParser::default().parse(&bytes) {
                        for part in parsed.attachments() {
                            let content = part.contents().to_vec();
                            let name = part.attachment_name().unwrap_or("").to_string();
                            let mime = part
                                .content_type()
                                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
                                .unwrap_or_default();
                            let sha = sha256_hex(&content);
                            let apath = format!("attachments/{sha}.{}", extension(&name, &mime));
                            let src = json!({ "mail": path, "name_as_received": crate::sanitize::line(&name) });
                            if let Some((_, e)) = b.files.get_mut(&apath) {
                                e.sources.push(src);
                            } else {
                                b.add(apath, content, vec![src], best.map(|o| o.received_at), None);
                            }
                        }
                    }
                }
                mails.push((m.sent_at, path.clone()));
                b.add(path.clone(), bytes, vec![source], best.map(|o| o.received_at), reconstructed);
                if let Some(a) = &m.auth {
                    let mut v = serde_json::to_value(a).unwrap_or(Value::Null);
                    v["checked_at"] = json!(utc(a.checked_at));
                    if let Some((_, e)) = b.files.get_mut(&path) {
                        e.dkim = Some(v);
                    }
                    let kind = match a.shown(Lang::En) {
                        Some(s) if !s.warn => "pass",
                        Some(_) => "warning",
                        None => "not checked",
                    };
                    *b.dkim.entry(kind).or_default() += 1;
                }
            }
            kind @ ("telegram" | "whatsapp") => {
                *b.counts.entry(kind.into()).or_default() += 1;
                let file = format!("{kind}/{:05}.jsonl", m.conversation);
                let mut source = best.map(|o| o.source.clone()).unwrap_or_else(|| json!({}));
                source["pult_message"] = json!(m.id);
                source["remote_id"] = json!(m.remote_id);
                let redacted = authors.masks(m, group);
                let line: Option<Vec<u8>> = match best {
                    Some(o) => {
                        if !seen_bodies.insert((file.clone(), o.sha256.clone())) {
                            None
                        } else if redacted {
                            let who = authors.name(m, group, Lang::En);
                            Some(json!({ "redacted": who, "sha256": o.sha256 }).to_string().into_bytes())
                        } else {
                            let raw = reader.blob(&o.sha256)?.unwrap_or_default();
                            if raw.contains(&b'\n') {
                                Some(
                                    json!({ "raw_with_newlines": String::from_utf8_lossy(&raw), "sha256": o.sha256 })
                                        .to_string()
                                        .into_bytes(),
                                )
                            } else {
                                Some(raw)
                            }
                        }
                    }
                    // Ours, which no channel sent back to us: in ledger/outbox.json, not among what was received.
                    None if m.outgoing => None,
                    None if redacted => Some(
                        json!({ "reconstructed": NO_ORIGINAL, "remote_id": m.remote_id, "sent_at": utc(m.sent_at),
                                "redacted": authors.name(m, group, Lang::En),
                                "text_sha256": sha256_hex(m.body.as_bytes()) })
                        .to_string()
                        .into_bytes(),
                    ),
                    None => Some(
                        json!({ "reconstructed": NO_ORIGINAL, "remote_id": m.remote_id,
                                "sent_at": utc(m.sent_at), "outgoing": m.outgoing,
                                "author": m.author, "text": m.body })
                        .to_string()
                        .into_bytes(),
                    ),
                };
                if let Some(o) = best {
                    source["sha256_as_received"] = json!(o.sha256);
                    source["received_at"] = json!(utc(o.received_at));
                    if let Some(sig) = &o.signature {
                        source["signature"] = json!(sig);
                    }
                }
                let slot = chat_lines.entry(file).or_insert_with(|| (Vec::new(), Vec::new(), None));
                if let Some(line) = line {
                    slot.0.extend_from_slice(&line);
                    slot.0.push(b'\n');
                }
                slot.1.push(source);
                if let Some(o) = best {
                    slot.2 = Some(slot.2.map_or(o.received_at, |t: i64| t.max(o.received_at)));
                }
                for a in &m.attachments {
                    let Some(hash) = a.content_hash.as_deref() else {
                        let why = incomplete.get(&m.id).map(|why| crate::sanitize::line(why).into_owned());
                        b.left_out.push(format!(
                            "{kind} attachment of message {} ({}): {}",
                            m.id,
                            crate::sanitize::line(&a.name),
                            why.as_deref().unwrap_or("not downloaded by pult")
                        ));
                        continue;
                    };
                    let stored = match reader.blob(hash)? {
                        Some(bytes) => Some(bytes),
                        None => media_file(&media_dir, hash),
                    };
                    match stored.filter(|bytes| sha256_hex(bytes) == hash) {
                        Some(bytes) => {
                            let apath = format!("attachments/{hash}.{}", extension(&a.name, &a.mime));
                            let src =
                                json!({ "message": m.remote_id, "name_as_received": crate::sanitize::line(&a.name) });
                            if let Some((_, e)) = b.files.get_mut(&apath) {
                                e.sources.push(src);
                            } else {
                                b.add(apath, bytes, vec![src], None, None);
                            }
                        }
                        None => b.left_out.push(format!("{kind} attachment {hash}: its file is not on this machine")),
                    }
                }
            }
            _ => {}
        }
    }
    for (file, (bytes, sources, received)) in chat_lines {
        b.add(file, bytes, sources, received, None);
    }
    if !mails.is_empty() {
        mails.sort();
        let raws: Vec<(i64, Vec<u8>)> = mails
            .iter()
            .map(|(at, p)| (*at, b.files.get(p).map(|(bytes, _)| bytes.clone()).unwrap_or_default()))
            .collect();
        let refs: Vec<(i64, &[u8])> = raws.iter().map(|(at, r)| (*at, r.as_slice())).collect();
        let sources = mails.iter().map(|(_, p)| json!({ "mail": p })).collect();
        b.add("email/mbox".into(), mboxrd(&refs), sources, None, None);
    }
    // The ledger: promises with their moves, the outbox with what the other side answered.
    let moves = |task: i64| -> Vec<Value> {
        ev.audit
            .iter()
            .filter(|r| {
                r.action.as_deref() == Some("task.redate")
                    && r.detail.as_deref().is_some_and(|d| d.starts_with(&format!("task {task} ")))
            })
            .map(|r| json!({ "at": r.at.map(utc), "by": r.actor, "detail": r.detail, "audit_row": r.id }))
            .collect()
    };
    let promises: Vec<Value> = ev
        .tasks
        .iter()
        .map(|t| {
            let on_time = match (t.deadline, t.done_at) {
                (Some(d), Some(done)) => Some(done <= d),
                _ => None,
            };
            json!({ "task": t.id, "conversation": t.conversation, "state": t.state, "accepted_by": t.accepted_by,
                    "told_at": t.accepted_at.map(utc), "deadline": t.deadline.map(utc), "done_at": t.done_at.map(utc),
                    "on_time": on_time, "withdrawn": t.withdrawn, "source_message": t.source_message,
                    "told_in_outbox": t.outbox, "done_in_outbox": t.done_outbox, "moved": moves(t.id) })
        })
        .collect();
    b.add("ledger/promises.json".into(), pretty(&promises)?, Vec::new(), None, None);
    let outbox: Vec<Value> = ev
        .outbox
        .iter()
        .map(|o| {
            json!({ "outbox": o.id, "conversation": o.conversation, "state": o.state, "by": o.actor,
                    "queued_at": utc(o.created_at), "updated_at": utc(o.updated_at), "attempts": o.attempts,
                    "subject": o.subject, "text": o.body, "server_answer": o.server_answer, "error": o.error,
                    "remote_id": o.remote_id, "message_id_header": o.rfc_message_id, "message": o.message,
                    "delivery": o.delivery, "delivery_error": o.delivery_error })
        })
        .collect();
    b.add("ledger/outbox.json".into(), pretty(&outbox)?, Vec::new(), None, None);
    let mut audit = Vec::new();
    for row in &ev.audit {
        audit.extend_from_slice(serde_json::to_string(row)?.as_bytes());
        audit.push(b'\n');
    }
    b.add("ledger/audit.jsonl".into(), audit, Vec::new(), None, None);
    if opts.include_notes {
        let notes: Vec<Value> = ev
            .notes
            .iter()
            .map(|n| json!({ "conversation": n.conversation, "by": n.actor, "at": utc(n.created_at), "text": n.body }))
            .collect();
        b.add("notes/notes.json".into(), pretty(&notes)?, Vec::new(), None, None);
    } else {
        b.left_out.push("internal notes (export with --include-notes to add them)".into());
    }
    if opts.redact_others {
        b.left_out.push(
            "third parties' messages in group chats and mail threads: masked (--redact-others); their hashes remain"
                .into(),
        );
        b.left_out.push(
            "third parties' addresses in To and Cc of mail: masked (--redact-others); such mail is marked \
             reconstructed, with the hash of the mail as received; quoted text in bodies is not masked"
                .into(),
        );
    }
    let html = report(ev, opts, &b, &mut authors, &groups);
    b.add("report.html".into(), html.into_bytes(), Vec::new(), None, None);
    Ok(b)
}

fn pretty<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(v)?;
    s.push(b'\n');
    Ok(s)
}

/// Text for HTML: every character that means something there, escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in crate::sanitize::line(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Multi-line text for HTML (each line sanitised and escaped).
fn escape_text(s: &str) -> String {
    s.lines().map(escape).collect::<Vec<_>>().join("<br>")
}

/// One self-contained page: no scripts, no remote resources, every outside text escaped.
fn report(ev: &Evidence, opts: &Options, b: &Bundle, authors: &mut Authors, groups: &BTreeMap<i64, bool>) -> String {
    let lang = opts.lang;
    let tr = |k: &'static str| escape(lang.tr(k));
    let mut h = String::new();
    let card = ev.client.as_ref();
    h.push_str(&format!(
        "<!DOCTYPE html>\n<html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\
         <title>{}</title><style>body{{font-family:sans-serif;max-width:60em;margin:1em auto}}\
         table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #999;padding:2px 6px;vertical-align:top;text-align:left}}\
         .hash{{font-family:monospace;font-size:small;word-break:break-all}}</style></head><body>\n",
        if lang == Lang::Ru { "ru" } else { "en" },
        tr("export_title")
    ));
    h.push_str(&format!("<h1>{}</h1>\n", tr("export_title")));
    if let Some(c) = card {
        h.push_str(&format!("<h2>{}</h2>\n<p>#{} {}", tr("export_client"), c.id, escape(&c.name)));
        if let Some(o) = &c.organisation {
            h.push_str(&format!(" · {}", escape(o)));
        }
        if let Some(inn) = &c.inn {
            h.push_str(&format!(" · {} {}", tr("export_inn"), escape(inn)));
        }
        h.push_str("</p>\n<ul>");
        for (kind, handle, name) in &c.identities {
            h.push_str(&format!(
                "<li>{} {} {}</li>",
                escape(kind),
                escape(handle),
                escape(name.as_deref().unwrap_or(""))
            ));
        }
        h.push_str("</ul>\n");
    }
    let range = format!(
        "{} — {}",
        opts.since.map(utc).unwrap_or_else(|| "…".into()),
        opts.until.map(utc).unwrap_or_else(|| "…".into())
    );
    h.push_str(&format!("<p>{}: {}</p>\n", tr("export_range"), escape(&range)));
    h.push_str(&format!(
        "<h2>{}</h2>\n<table><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        tr("export_timeline"),
        tr("export_col_time"),
        tr("export_col_channel"),
        tr("export_col_from"),
        tr("export_col_text")
    ));
    for m in &ev.messages {
        let group = groups.get(&m.conversation).copied().unwrap_or(false);
        let who = authors.name(m, group, lang);
        let hidden = authors.masks(m, group);
        let text = if hidden { String::from("—") } else { escape_text(&m.body) };
        let subject = m.subject.as_deref().filter(|_| !hidden).map(|s| format!("<b>{}</b><br>", escape(s)));
        let subject = subject.unwrap_or_default();
        // Who vouches for a mail: DKIM as checked on arrival, and the servers' word.
        let auth = m
            .auth
            .as_ref()
            .filter(|_| !hidden)
            .map(|a| {
                std::iter::once(a.explain(lang))
                    .chain(a.reported_lines(lang))
                    .map(|l| format!("<br><small>{}</small>", escape(&l)))
                    .collect::<String>()
            })
            .unwrap_or_default();
        h.push_str(&format!(
            "<tr><td>{}</td><td>{} · {}</td><td>{}{auth}</td><td>{subject}{text}</td></tr>\n",
            escape(&utc(m.sent_at)),
            escape(&m.kind),
            escape(&m.channel),
            escape(&who)
        ));
    }
    h.push_str("</table>\n");
    h.push_str(&format!(
        "<h2>{}</h2>\n<table><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        tr("export_promises"),
        tr("export_col_told"),
        tr("export_col_deadline"),
        tr("export_col_moved"),
        tr("export_col_done"),
        tr("export_col_on_time")
    ));
    for t in &ev.tasks {
        let moved: Vec<String> = ev
            .audit
            .iter()
            .filter(|r| {
                r.action.as_deref() == Some("task.redate")
                    && r.detail.as_deref().is_some_and(|d| d.starts_with(&format!("task {} ", t.id)))
            })
            .map(|r| format!("{} ({})", r.at.map(utc).unwrap_or_default(), r.actor.clone().unwrap_or_default()))
            .collect();
        let on_time = match (t.deadline, t.done_at) {
            (Some(d), Some(done)) if done <= d => tr("export_yes"),
            (Some(_), Some(_)) => tr("export_late"),
            _ => tr("export_not_done"),
        };
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            t.id,
            escape(&t.accepted_at.map(utc).unwrap_or_default()),
            escape(&t.deadline.map(utc).unwrap_or_default()),
            escape(&moved.join("; ")),
            escape(&t.done_at.map(utc).unwrap_or_default()),
            on_time
        ));
    }
    h.push_str("</table>\n");
    h.push_str(&format!(
        "<h2>{}</h2>\n<table><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th></tr>\n",
        tr("export_delivery"),
        tr("export_col_time"),
        tr("export_col_state"),
        tr("export_col_text")
    ));
    for o in &ev.outbox {
        let state = o.delivery.clone().unwrap_or_else(|| o.state.clone());
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            o.id,
            escape(&utc(o.created_at)),
            escape(&state),
            escape_text(&o.body)
        ));
    }
    h.push_str("</table>\n");
    if opts.include_notes && !ev.notes.is_empty() {
        h.push_str(&format!("<h2>{}</h2>\n<ul>", tr("export_notes")));
        for n in &ev.notes {
            h.push_str(&format!(
                "<li>{} {}: {}</li>",
                escape(&utc(n.created_at)),
                escape(&n.actor),
                escape_text(&n.body)
            ));
        }
        h.push_str("</ul>\n");
    }
    h.push_str(&format!(
        "<h2>{}</h2>\n<table><tr><th>{}</th><th>{}</th><th>SHA-256</th></tr>\n",
        tr("export_hashes"),
        tr("export_col_file"),
        tr("export_col_size")
    ));
    for (_, e) in b.files.values() {
        h.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td class=\"hash\">{}</td></tr>\n",
            escape(&e.path),
            e.size,
            e.sha256
        ));
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

fn readme(opts: &Options, store_id: &str, created: &str, b: &Bundle, manifest_note: &str) -> String {
    let counts = b.counts.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", ");
    let left = if b.left_out.is_empty() { "-".to_string() } else { b.left_out.join("\n  - ") };
    let dkim = match b.dkim.is_empty() {
        true => "-".to_string(),
        false => b.dkim.iter().map(|(k, v)| format!("{k}: {v}")).collect::<Vec<_>>().join(", "),
    };
    format!(
        "ВЫГРУЗКА ПЕРЕПИСКИ С КЛИЕНТОМ / CLIENT CORRESPONDENCE EXPORT\n\
         =========================================================\n\n\
         [Русский]\n\
         Это выгрузка всей переписки с клиентом #{client} из pult: письма в том виде, в каком их отдал почтовый\n\
         сервер (email/*.eml и email/mbox), сообщения Telegram и WhatsApp в том виде, в каком они пришли\n\
         (telegram/*.jsonl, whatsapp/*.jsonl), вложения (attachments/, файлы названы по хэшу содержимого),\n\
         обещания клиенту и их переносы (ledger/promises.json), отправленные сообщения и ответы серверов\n\
         (ledger/outbox.json), журнал действий с цепочкой хэшей (ledger/audit.jsonl) и отчёт report.html.\n\n\
         Как проверить вручную: для каждого файла из manifest.json выполните\n\
             sha256sum <путь>\n\
         и сравните с полем sha256 в manifest.json. Или всё сразу:\n\
             pult export verify <каталог>\n\
         Хэш файла README.txt указан в manifest.json (export.readme_sha256), так как этот файл содержит время выгрузки.\n\n\
         Подписи DKIM: когда письмо приходило, pult проверял его подпись DKIM. Результат, домен и селектор подписи,\n\
         время проверки и результаты SPF, DMARC и ARC со слов принявшего сервера записаны в manifest.json (поле dkim\n\
         у файла письма) и в report.html. pult export verify проверяет подписи снова, пока ключ опубликован:\n\
         сменившийся ключ подделки не означает, а текст, не совпадающий с bh= подписи, означает изменение письма.\n\n\
         [English]\n\
         This is the whole correspondence with client #{client} exported from pult: mail exactly as the mail\n\
         server gave it (email/*.eml and email/mbox, mboxrd), Telegram and WhatsApp messages as received\n\
         (telegram/*.jsonl, whatsapp/*.jsonl), attachments (attachments/, named by the SHA-256 of their content;\n\
         the names they came with are in manifest.json only), the promises made and moved (ledger/promises.json),\n\
         what was sent and what the servers answered (ledger/outbox.json), the hash-chained audit log\n\
         (ledger/audit.jsonl) and a readable report (report.html).\n\n\
         To verify by hand: for each file listed in manifest.json run\n\
             sha256sum <path>\n\
         and compare with its sha256 there; or run `pult export verify <dir>`.\n\
         This README's own hash is in manifest.json (export.readme_sha256): it carries the time of export.\n\n\
         DKIM: pult checked each mail's DKIM signature when it arrived. The result, the signing domain and selector,\n\
         the time of the check and the SPF, DMARC and ARC results as the receiving server reported them are in\n\
         manifest.json (the mail file's dkim field) and in report.html. `pult export verify` checks the signatures\n\
         again while the keys are published: a key changed since is no sign of forgery; a text that no longer\n\
         matches the signature's bh= means the mail was changed.\n\n\
         [Сведения / Facts]\n\
         версия pult / pult version: {version}\n\
         хранилище / store id: {store_id}\n\
         кто выгрузил / operator: {operator}\n\
         команда / command line: {cmd}\n\
         время выгрузки (UTC) / exported at (UTC): {created}\n\
         период / range: {since} — {until}\n\
         сообщений по каналам / messages per channel: {counts}\n\
         DKIM при получении / DKIM at receipt (mail): {dkim}\n\
         {manifest_note_ru}\n\
         {manifest_note}\n\
         что не вошло и почему (по-английски) / left out, and why:\n  - {left}\n",
        client = opts.client,
        manifest_note_ru = if opts.sign_command.as_ref().is_some_and(|c| !c.is_empty()) {
            "manifest.json подписан: подпись в manifest.json.sig"
        } else {
            "manifest.json не подписан (в настройках выгрузки не задана команда подписи)"
        },
        version = env!("CARGO_PKG_VERSION"),
        operator = opts.operator,
        cmd = opts.command_line,
        since = opts.since.map(utc).unwrap_or_else(|| "…".into()),
        until = opts.until.map(utc).unwrap_or_else(|| "…".into()),
    )
}

/// Writes the bundle of `opts.client` into `opts.out` (new or empty), signs its
/// manifest when `[export] sign_command` is set, and records the export in the audit log.
pub fn export(
    reader: &Reader,
    writer: &Writer,
    cfg: &crate::config::Config,
    clock: &Clock,
    opts: &Options,
) -> Result<Summary> {
    let first = reader.evidence(opts.client, opts.since, opts.until, opts.include_notes)?;
    if first.client.is_none() {
        bail!("{}", crate::t!("export_no_client", id = opts.client));
    }
    let mut incomplete = complete_mail(cfg, reader, writer, &first);
    incomplete.extend(complete_media(cfg, reader, writer, &first));
    let ev = reader.evidence(opts.client, opts.since, opts.until, opts.include_notes)?;
    let ours: Vec<String> = cfg
        .accounts
        .iter()
        .filter_map(|a| match a {
            crate::config::Account::Email(e) => Some(e.own_addresses()),
            _ => None,
        })
        .flatten()
        .collect();
    let b = build(reader, &ev, opts, &incomplete, &ours)?;
    if opts.out.exists() && !opts.out.is_dir() {
        bail!("{}", crate::t!("export_out_is_file", dir = opts.out.display()));
    }
    if opts.out.exists() && std::fs::read_dir(&opts.out).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("{}", crate::t!("export_out_not_empty", dir = opts.out.display()));
    }
    std::fs::create_dir_all(&opts.out).with_context(|| opts.out.display().to_string())?;
    for (path, (bytes, _)) in &b.files {
        let target = opts.out.join(path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&target, bytes).with_context(|| target.display().to_string())?;
    }
    let store_id = reader.store_id()?;
    let created = utc(clock.now());
    let chain = json!({
        "first_row": ev.audit.first().map(|r| r.id),
        "last_row": ev.audit.last().map(|r| r.id),
        "first_prev_hash": ev.audit.first().and_then(|r| r.prev_hash.clone()),
        "last_hash": ev.audit.last().and_then(|r| r.row_hash.clone()),
    });
    let signed = opts.sign_command.as_ref().is_some_and(|c| !c.is_empty());
    let manifest_note = if signed {
        "manifest.json is signed: manifest.json.sig".to_string()
    } else {
        "manifest.json is not signed ([export] sign_command is not set)".to_string()
    };
    let text = readme(opts, &store_id, &created, &b, &manifest_note);
    std::fs::write(opts.out.join("README.txt"), &text)?;
    let card = ev.client.as_ref();
    let manifest = json!({
        "format": FORMAT,
        "pult_version": env!("CARGO_PKG_VERSION"),
        "store_id": store_id,
        "client": { "id": opts.client, "name": card.map(|c| c.name.clone()), "organisation": card.and_then(|c| c.organisation.clone()) },
        "range": { "since": opts.since.map(utc), "until": opts.until.map(utc) },
        "options": { "include_notes": opts.include_notes, "redact_others": opts.redact_others },
        "operator": opts.operator,
        "command_line": opts.command_line,
        "counts": b.counts,
        "left_out": b.left_out,
        "audit_chain": chain,
        "signed": signed,
        "export": { "created_at": created, "readme_sha256": sha256_hex(text.as_bytes()) },
        "files": b.files.values().map(|(_, e)| e).collect::<Vec<_>>(),
    });
    let manifest_bytes = pretty(&manifest)?;
    let manifest_path = opts.out.join("manifest.json");
    std::fs::write(&manifest_path, &manifest_bytes)?;
    if signed && let Some(argv) = &opts.sign_command {
        if let Err(e) = sign(argv, &opts.out) {
            // No half-made bundle that says it is signed: the directory was new.
            let _ = std::fs::remove_dir_all(&opts.out);
            return Err(e);
        }
    }
    let manifest_sha256 = sha256_hex(&manifest_bytes);
    let detail = format!(
        "client {} files {} manifest sha256 {manifest_sha256} range {} — {}",
        opts.client,
        b.files.len(),
        opts.since.map(utc).unwrap_or_else(|| "…".into()),
        opts.until.map(utc).unwrap_or_else(|| "…".into())
    );
    let (actor, now) = (opts.operator.clone(), clock.now());
    writer.call_blocking(move |c| crate::store::audit_chain::record(c, now, &actor, "export", &detail))?;
    Ok(Summary {
        out: opts.out.clone(),
        files: b.files.len(),
        manifest_sha256,
        counts: b.counts,
        left_out: b.left_out,
        signed,
    })
}

/// `{manifest}` and `{signature}` in an argument vector, else the manifest appended.
fn fill_argv(argv: &[String], dir: &Path) -> Vec<String> {
    let manifest = dir.join("manifest.json").display().to_string();
    let signature = dir.join("manifest.json.sig").display().to_string();
    let mut named = false;
    let mut out: Vec<String> = argv
        .iter()
        .map(|a| {
            named |= a.contains("{manifest}");
            a.replace("{manifest}", &manifest).replace("{signature}", &signature)
        })
        .collect();
    if !named {
        out.push(manifest);
    }
    out
}

/// Runs `sign_command` (no shell) on manifest.json; its output becomes manifest.json.sig
/// unless the command wrote that file itself (as `ssh-keygen -Y sign` does).
fn sign(argv: &[String], dir: &Path) -> Result<()> {
    let full = fill_argv(argv, dir);
    let out = std::process::Command::new(&full[0])
        .args(&full[1..])
        .stdin(std::process::Stdio::null())
        .output()
        .with_context(|| crate::t!("export_sign_failed", command = crate::sanitize::line(&full[0])))?;
    if !out.status.success() {
        bail!(
            "{}: {}",
            crate::t!("export_sign_failed", command = crate::sanitize::line(&full[0])),
            crate::sanitize::line(String::from_utf8_lossy(&out.stderr).trim())
        );
    }
    let sig = dir.join("manifest.json.sig");
    if !sig.exists() {
        std::fs::write(&sig, &out.stdout)?;
    }
    Ok(())
}

/// One thing `export verify` found wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum Problem {
    Missing {
        path: String,
    },
    Differs {
        path: String,
    },
    Extra {
        path: String,
    },
    /// A path in the manifest that could leave the bundle.
    UnsafePath {
        path: String,
    },
    AuditChain {
        row: i64,
        reason: String,
    },
    Signature {
        reason: String,
    },
    Manifest {
        reason: String,
    },
    /// A mail whose DKIM held when it arrived no longer matches its own
    /// signature's body hash (`body-changed`), or lost the signature
    /// (`signature-missing`): it was changed since.
    Dkim {
        path: String,
        reason: String,
    },
}

impl Problem {
    pub fn in_language(&self, lang: Lang) -> String {
        let f = |k: &'static str, v: &str| crate::i18n::fill(lang.tr(k), &[("path", &v), ("reason", &v)]);
        match self {
            Problem::Missing { path } => f("export_verify_missing", path),
            Problem::Differs { path } => f("export_verify_differs", path),
            Problem::Extra { path } => f("export_verify_extra", path),
            Problem::UnsafePath { path } => f("export_verify_unsafe", path),
            Problem::AuditChain { row, reason } => {
                crate::i18n::fill(lang.tr("export_verify_chain"), &[("row", row), ("reason", reason)])
            }
            Problem::Signature { reason } => f("export_verify_signature", reason),
            Problem::Manifest { reason } => f("export_verify_manifest", reason),
            Problem::Dkim { path, reason } => match reason.as_str() {
                "body-changed" => f("export_verify_dkim_body", path),
                _ => f("export_verify_dkim_gone", path),
            },
        }
    }
}

/// What `export verify` checked.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub files: usize,
    pub audit_rows: usize,
    /// None: not signed; Some(true): the verify command accepted it; Some(false): not checked (no verify_command).
    pub signature_checked: Option<bool>,
    pub problems: Vec<Problem>,
    /// Each mail whose DKIM passed on arrival, checked again (see `mailauth::Recheck`).
    pub dkim: Vec<DkimRechecked>,
}

/// One mail's signature checked again by `export verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DkimRechecked {
    pub path: String,
    pub domain: String,
    pub selector: String,
    pub now: crate::mailauth::Recheck,
}

fn safe(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && !path.contains('\\')
        && path.split('/').all(|p| !p.is_empty() && p != "." && p != "..")
}

/// Checks a bundle: every listed file's size and hash, files missing or extra,
/// the audit chain, the README, the signature with `verify_command`, and
/// (with `dkim`) the DKIM signatures of the mail that passed on arrival.
pub fn verify(
    dir: &Path,
    verify_command: Option<&[String]>,
    dkim: Option<&crate::mailauth::Settings>,
) -> Result<Verified> {
    let mut problems = Vec::new();
    let manifest_bytes = match std::fs::read(dir.join("manifest.json")) {
        // Not a bundle (or no directory at all): said as that, not as a disk problem.
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            bail!("{}", crate::t!("export_no_manifest", dir = dir.display()))
        }
        read => read.with_context(|| crate::t!("export_no_manifest", dir = dir.display()))?,
    };
    let manifest: Value = serde_json::from_slice(&manifest_bytes)
        .map_err(|e| anyhow::anyhow!("{}", crate::t!("export_bad_manifest", why = e)))?;
    if manifest["format"] != FORMAT {
        problems.push(Problem::Manifest { reason: format!("format is not {FORMAT}") });
    }
    let entries: Vec<Entry> = serde_json::from_value(manifest["files"].clone())
        .map_err(|e| anyhow::anyhow!("{}", crate::t!("export_bad_manifest", why = e)))?;
    let mut listed = BTreeSet::new();
    for e in &entries {
        if !safe(&e.path) {
            problems.push(Problem::UnsafePath { path: e.path.clone() });
            continue;
        }
        listed.insert(e.path.clone());
        // A link could make the bundle hold what lies outside it: only plain files count.
        let plain = std::fs::symlink_metadata(dir.join(&e.path)).map(|m| m.file_type().is_file());
        if matches!(plain, Ok(false)) {
            problems.push(Problem::UnsafePath { path: e.path.clone() });
            continue;
        }
        match std::fs::read(dir.join(&e.path)) {
            Err(_) => problems.push(Problem::Missing { path: e.path.clone() }),
            Ok(bytes) => {
                if bytes.len() as u64 != e.size || sha256_hex(&bytes) != e.sha256 {
                    problems.push(Problem::Differs { path: e.path.clone() });
                }
            }
        }
    }
    match std::fs::read(dir.join("README.txt")) {
        Err(_) => problems.push(Problem::Missing { path: "README.txt".into() }),
        Ok(bytes) => {
            if manifest["export"]["readme_sha256"].as_str() != Some(sha256_hex(&bytes).as_str()) {
                problems.push(Problem::Differs { path: "README.txt".into() });
            }
        }
    }
    // Every file in the directory must be listed (or be the manifest, its signature, the README).
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(read) = std::fs::read_dir(dir.join(&rel)) else { continue };
        for item in read.flatten() {
            let r = rel.join(item.file_name());
            let name = r.to_string_lossy().to_string();
            let kind = item.file_type()?;
            if kind.is_symlink() {
                if !listed.contains(&name) {
                    problems.push(Problem::Extra { path: name });
                }
            } else if kind.is_dir() {
                stack.push(r);
            } else if !listed.contains(&name) && !UNLISTED.contains(&name.as_str()) {
                problems.push(Problem::Extra { path: name });
            }
        }
    }
    // The audit chain as exported: each row's hash recomputes and each follows the one before.
    let mut audit_rows = 0;
    if let Ok(text) = std::fs::read_to_string(dir.join("ledger/audit.jsonl")) {
        let mut rows = Vec::new();
        for (n, line) in text.lines().enumerate() {
            match serde_json::from_str::<ChainRow>(line) {
                Ok(r) => rows.push(r),
                Err(e) => problems.push(Problem::AuditChain { row: n as i64 + 1, reason: e.to_string() }),
            }
        }
        let first_prev = manifest["audit_chain"]["first_prev_hash"].as_str();
        match crate::store::audit_chain::verify(&rows, Some(first_prev)) {
            Ok(n) => audit_rows = n,
            Err(b) => problems.push(Problem::AuditChain {
                row: b.id,
                reason: crate::store::audit_chain::describe_break(Lang::En, &b),
            }),
        }
        let last = rows.last().and_then(|r| r.row_hash.as_deref());
        if last != manifest["audit_chain"]["last_hash"].as_str() {
            problems.push(Problem::AuditChain {
                row: rows.last().map(|r| r.id).unwrap_or(0),
                reason: "the last row is not the one the manifest names".into(),
            });
        }
    }
    let signed = manifest["signed"].as_bool() == Some(true);
    let sig = dir.join("manifest.json.sig");
    let expects_signature = verify_command.is_some_and(|c| !c.is_empty());
    let signature_checked = if !signed {
        if sig.exists() {
            problems.push(Problem::Extra { path: "manifest.json.sig".into() });
        }
        // Whoever set verify_command expects signed bundles: one without a
        // signature (or with it stripped and "signed" turned off) fails.
        if expects_signature {
            problems.push(Problem::Missing { path: "manifest.json.sig".into() });
            Some(false)
        } else {
            None
        }
    } else if !sig.exists() {
        problems.push(Problem::Missing { path: "manifest.json.sig".into() });
        Some(false)
    } else {
        match verify_command.filter(|c| !c.is_empty()) {
            None => Some(false),
            Some(argv) => {
                let full = fill_argv(argv, dir);
                let ok = std::process::Command::new(&full[0])
                    .args(&full[1..])
                    .stdin(std::fs::File::open(dir.join("manifest.json"))?)
                    .output();
                match ok {
                    Ok(o) if o.status.success() => Some(true),
                    Ok(o) => {
                        problems.push(Problem::Signature {
                            reason: crate::sanitize::line(String::from_utf8_lossy(&o.stderr).trim()).into_owned(),
                        });
                        Some(true)
                    }
                    Err(e) => {
                        problems.push(Problem::Signature { reason: e.to_string() });
                        Some(true)
                    }
                }
            }
        }
    };
    let dkim = match dkim {
        Some(settings) => recheck_dkim(dir, &entries, settings, &mut problems)?,
        None => Vec::new(),
    };
    Ok(Verified { files: entries.len(), audit_rows, signature_checked, problems, dkim })
}

/// Checks again the DKIM of each mail that passed on arrival: a body that no
/// longer hashes to bh= (or a signature gone) is a problem of the bundle; a
/// key that changed or is gone since is news about the domain, not the mail.
fn recheck_dkim(
    dir: &Path,
    entries: &[Entry],
    settings: &crate::mailauth::Settings,
    problems: &mut Vec<Problem>,
) -> Result<Vec<DkimRechecked>> {
    let passed: Vec<(&Entry, String, String, i64)> = entries
        .iter()
        .filter_map(|e| {
            let d = e.dkim.as_ref()?;
            if d["result"] != "pass" || !safe(&e.path) || e.reconstructed.is_some() {
                return None;
            }
            let at = d["checked_at"].as_str().and_then(|t| t.parse::<jiff::Timestamp>().ok())?.as_second();
            Some((e, d["domain"].as_str()?.to_string(), d["selector"].as_str()?.to_string(), at))
        })
        .collect();
    if passed.is_empty() {
        return Ok(Vec::new());
    }
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut checker = crate::mailauth::Checker::new(settings);
    let mut out = Vec::new();
    for (e, domain, selector, at) in passed {
        // A missing file is already a problem of its own.
        let Ok(raw) = std::fs::read(dir.join(&e.path)) else { continue };
        let now = rt.block_on(checker.recheck(&raw, &domain, &selector, at));
        if now.is_failure() {
            let reason = match now {
                crate::mailauth::Recheck::BodyChanged => "body-changed",
                _ => "signature-missing",
            };
            problems.push(Problem::Dkim { path: e.path.clone(), reason: reason.into() });
        }
        out.push(DkimRechecked { path: e.path.clone(), domain, selector, now });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_once_more_and_html_is_escaped() {
        let mail: &[u8] = b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nFromage\r\n";
        let out = String::from_utf8(mboxrd(&[(0, mail)])).expect("utf-8");
        assert!(out.starts_with("From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n"), "{out}");
        assert!(out.contains("\r\n>From here\r\n>>From there\r\nFromage\r\n\n"), "{out}");
        assert_eq!(
            escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert!(!escape("a\u{1b}[31mb\u{202e}").contains(['\u{1b}', '\u{202e}']));
    }

    #[test]
    fn paths_that_leave_the_bundle_are_refused() {
        for bad in ["/etc/passwd", "../x", "a/../../b", "", "a//b", "a\\b", "./a"] {
            assert!(!safe(bad), "{bad}");
        }
        assert!(safe("email/00001-1-2.eml") && safe("attachments/ab.pdf"));
    }
}
