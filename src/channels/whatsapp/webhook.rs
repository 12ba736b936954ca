//! What Meta POSTs to the webhook (WhatsApp Cloud API, `field: messages`),
//! read into sync events: messages of every kind, reactions, delivery
//! statuses. Checked first: the `X-Hub-Signature-256` HMAC over the raw body.
//! Nothing is dropped: a message of a kind pult does not know is stored as
//! "unsupported message type X", and a payload it cannot read at all is kept
//! raw in quarantine.

use crate::channels::placeholder::Placeholder;
use crate::i18n::written;
use crate::model::{Delivery, Inbound, InboundAttachment, SyncEvent};
use serde_json::Value;

/// Checks `X-Hub-Signature-256: sha256=<hex>` against the app secret, in
/// constant time, over the bytes exactly as received.
pub fn signature_ok(app_secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex) = header.and_then(|h| h.trim().strip_prefix("sha256=")) else { return false };
    let Some(tag) = decode_hex(hex) else { return false };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, app_secret);
    ring::hmac::verify(&key, body, &tag).is_ok()
}

/// The header value Meta would send for `body` (the fake and the benchmark sign with it).
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, app_secret);
    format!("sha256={}", encode_hex(ring::hmac::sign(&key, body).as_ref()))
}

pub fn encode_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len()).step_by(2).map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok()).collect()
}

/// A media file named by a message, to fetch while its id is still valid.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaRef {
    pub media_id: String,
}

/// What one webhook POST says.
#[derive(Debug, Default)]
pub struct Parsed {
    pub events: Vec<SyncEvent>,
    /// Media ids named by the messages, fetched after the commit.
    pub media: Vec<MediaRef>,
    /// Messages (not statuses) in the payload.
    pub messages: usize,
}

/// The digits of a phone number or wa_id (E.164 without `+`), as WhatsApp keys a person.
pub fn normalise_wa_id(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// Reads one POST body. `phone_number_id` is ours: changes for another
/// number of the same app are kept in quarantine, not mixed in.
pub fn parse(body: &[u8], phone_number_id: &str) -> Parsed {
    let mut out = Parsed::default();
    let quarantine = |out: &mut Parsed, reason: String| {
        out.events.push(SyncEvent::Quarantine { reason, raw: body.to_vec() });
    };
    let root: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            quarantine(&mut out, format!("whatsapp webhook: not JSON ({e})"));
            return out;
        }
    };
    if root.get("object").and_then(Value::as_str) != Some("whatsapp_business_account") {
        quarantine(&mut out, "whatsapp webhook: not a whatsapp_business_account object".into());
        return out;
    }
    let mut unread = Vec::new();
    for entry in root.get("entry").and_then(Value::as_array).into_iter().flatten() {
        for change in entry.get("changes").and_then(Value::as_array).into_iter().flatten() {
            let field = change.get("field").and_then(Value::as_str).unwrap_or("");
            let value = change.get("value").unwrap_or(&Value::Null);
            let number = value.pointer("/metadata/phone_number_id").and_then(Value::as_str).unwrap_or("");
            if field != "messages" {
                unread.push(format!("a change of field {field:?}"));
                continue;
            }
            if number != phone_number_id {
                unread.push(format!("a change for phone number id {number:?}, not ours"));
                continue;
            }
            read_change(value, &mut out, &mut unread);
        }
    }
    if !unread.is_empty() {
        let mut reason = format!("whatsapp webhook: {}", unread.join("; "));
        reason.truncate(reason.floor_char_boundary(500));
        quarantine(&mut out, reason);
    }
    out
}

fn read_change(value: &Value, out: &mut Parsed, unread: &mut Vec<String>) {
    let names: Vec<(String, String)> = value
        .get("contacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| {
            let id = normalise_wa_id(c.get("wa_id")?.as_str()?);
            let name = c.pointer("/profile/name").and_then(Value::as_str).unwrap_or("").to_string();
            Some((id, name))
        })
        .collect();
    for m in value.get("messages").and_then(Value::as_array).into_iter().flatten() {
        match read_message(m, &names) {
            Some(Read::Message(inbound, media)) => {
                out.messages += 1;
                out.media.extend(media);
                out.events.push(SyncEvent::Message(*inbound));
            }
            Some(Read::Reaction(event)) => {
                out.messages += 1;
                out.events.push(event);
            }
            None => unread.push("a message without from, id or timestamp".into()),
        }
    }
    for s in value.get("statuses").and_then(Value::as_array).into_iter().flatten() {
        match read_status(s) {
            Some(event) => out.events.push(event),
            None => unread.push("a status without id or a known status".into()),
        }
    }
    if let Some(errors) = value.get("errors").and_then(Value::as_array).filter(|e| !e.is_empty()) {
        unread.push(format!("errors from WhatsApp: {}", errors_text(errors)));
    }
}

enum Read {
    Message(Box<Inbound>, Vec<MediaRef>),
    Reaction(SyncEvent),
}

fn text_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// `code title (details)` for each error of a status or a message, kept
/// with the message for people to read: in English with Meta's own words and
/// what they mean; in Russian what they mean and the code (Meta's English
/// goes to the log).
pub fn errors_text(errors: &[Value]) -> String {
    let lang = written();
    errors
        .iter()
        .map(|e| {
            let code = e.get("code").map(|c| c.to_string()).unwrap_or_default();
            let title = text_at(e, "/title").or(text_at(e, "/message")).unwrap_or("error");
            let mut text = match text_at(e, "/error_data/details") {
                Some(d) if d != title => format!("{code} {title} ({d})"),
                _ => format!("{code} {title}"),
            };
            let words = e.get("code").and_then(Value::as_i64).and_then(|c| super::graph::explain(lang, c));
            if lang == crate::i18n::Lang::Ru {
                tracing::info!("WhatsApp error: {text}");
                return match words {
                    Some(w) => format!("{w} ({code})"),
                    None => format!("{} ({code})", lang.tr("wa_unknown")),
                };
            }
            if let Some(words) = words {
                text = format!("{text} — {words}");
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn read_message(m: &Value, names: &[(String, String)]) -> Option<Read> {
    let from = normalise_wa_id(m.get("from")?.as_str()?);
    let id = m.get("id")?.as_str()?.to_string();
    let sent_at: i64 = match m.get("timestamp")? {
        Value::String(s) => s.parse().ok()?,
        Value::Number(n) => n.as_i64()?,
        _ => return None,
    };
    if from.is_empty() || id.is_empty() {
        return None;
    }
    let name = names.iter().find(|(w, _)| *w == from).map(|(_, n)| n.clone()).filter(|n| !n.trim().is_empty());
    let name = name.unwrap_or_else(|| format!("+{from}"));
    let kind = m.get("type").and_then(Value::as_str).unwrap_or("unknown");
    if kind == "reaction" {
        let target = text_at(m, "/reaction/message_id")?.to_string();
        let emoji = m.pointer("/reaction/emoji").and_then(Value::as_str).unwrap_or("").to_string();
        return Some(Read::Reaction(SyncEvent::Reaction {
            remote_id: target,
            author_handle: from,
            author_name: name,
            emoji,
        }));
    }
    let mut media = Vec::new();
    let mut attachments = Vec::new();
    let part = m.get(kind).unwrap_or(&Value::Null);
    let mut file = |default_name: &str, duration: Option<i64>| {
        let media_id = text_at(part, "/id")?.to_string();
        let mime = text_at(part, "/mime_type").unwrap_or("application/octet-stream").to_string();
        let name = text_at(part, "/filename").map(str::to_string).unwrap_or_else(|| default_name.to_string());
        media.push(MediaRef { media_id: media_id.clone() });
        attachments.push(InboundAttachment { name, mime, size: 0, remote_ref: Some(media_id), duration });
        Some(())
    };
    let caption = text_at(part, "/caption").map(str::to_string);
    let body = match kind {
        "text" => text_at(m, "/text/body").unwrap_or("").to_string(),
        "image" => {
            file("photo.jpg", None);
            caption.unwrap_or_else(|| Placeholder::Photo.in_language(written()))
        }
        "document" => {
            file("document", None);
            caption.unwrap_or_else(|| Placeholder::Document(text_at(part, "/filename")).in_language(written()))
        }
        "audio" if part.get("voice").and_then(Value::as_bool) == Some(true) => {
            file("voice.ogg", None);
            Placeholder::Voice(None).in_language(written())
        }
        "audio" => {
            file("audio", None);
            Placeholder::Audio.in_language(written())
        }
        "video" => {
            file("video.mp4", None);
            caption.unwrap_or_else(|| Placeholder::Video.in_language(written()))
        }
        "sticker" => {
            file("sticker.webp", None);
            Placeholder::Sticker(None).in_language(written())
        }
        "location" => {
            let (lat, lon) =
                (part.get("latitude").and_then(Value::as_f64), part.get("longitude").and_then(Value::as_f64));
            let place = [text_at(part, "/name"), text_at(part, "/address")].into_iter().flatten().collect::<Vec<_>>();
            let at = match (lat, lon) {
                (Some(a), Some(b)) => format!("{a:.5}, {b:.5}"),
                _ => "?".into(),
            };
            if place.is_empty() { format!("📍 {at}") } else { format!("📍 {} ({at})", place.join(", ")) }
        }
        "contacts" => {
            let cards: Vec<String> = part
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let who = text_at(c, "/name/formatted_name").unwrap_or("?");
                    let phones: Vec<&str> = c
                        .get("phones")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|p| p.get("phone").and_then(Value::as_str))
                        .collect();
                    format!("👤 {who} {}", phones.join(", ")).trim_end().to_string()
                })
                .collect();
            cards.join("\n")
        }
        "interactive" => {
            let reply = part.get("button_reply").or_else(|| part.get("list_reply")).unwrap_or(&Value::Null);
            let title = text_at(reply, "/title").unwrap_or("");
            match text_at(reply, "/description") {
                Some(d) => format!("▸ {title} — {d}"),
                None => format!("▸ {title}"),
            }
        }
        "button" => format!("▸ {}", text_at(part, "/text").unwrap_or("")),
        other => {
            let why = m.get("errors").and_then(Value::as_array).map(|e| errors_text(e)).unwrap_or_default();
            let shown = Placeholder::Unsupported(other).in_language(written());
            match shown.strip_suffix(']') {
                Some(open) if !why.is_empty() => format!("{open}: {why}]"),
                _ => shown,
            }
        }
    };
    let inbound = Inbound {
        remote_id: id,
        conversation_key: from.clone(),
        conversation_title: name.clone(),
        is_group: false,
        outgoing: false,
        author_handle: from,
        author_name: name,
        sent_at,
        body_text: body,
        reply_to_remote: text_at(m, "/context/id").map(str::to_string),
        attachments,
        ..Default::default()
    };
    Some(Read::Message(Box::new(inbound), media))
}

fn read_status(s: &Value) -> Option<SyncEvent> {
    let id = text_at(s, "/id")?.to_string();
    let state = match s.get("status")?.as_str()? {
        "sent" => Delivery::Sent,
        "delivered" => Delivery::Delivered,
        "read" => Delivery::Read,
        "failed" => Delivery::Failed,
        _ => return None,
    };
    let error = (state == Delivery::Failed).then(|| {
        let errors = s.get("errors").and_then(Value::as_array).map(|e| errors_text(e)).unwrap_or_default();
        if errors.is_empty() { written().tr("ph_no_reason").to_string() } else { errors }
    });
    Some(SyncEvent::Delivery { remote_id: id, state, error })
}

/// Payloads as Meta sends them: for the fake, the tests, the benchmark and the demo.
pub mod build {
    use serde_json::{Value, json};

    /// One client message from `wa_id` (`message` is the part after from/id/timestamp:
    /// `{"type": "text", "text": {"body": …}}`).
    pub fn message(phone_number_id: &str, wa_id: &str, name: &str, wamid: &str, at: i64, message: Value) -> Value {
        let mut m = json!({"from": wa_id, "id": wamid, "timestamp": at.to_string()});
        if let (Some(m), Some(extra)) = (m.as_object_mut(), message.as_object()) {
            m.extend(extra.clone());
        }
        envelope(phone_number_id, json!({"contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [m]}))
    }

    pub fn text(phone_number_id: &str, wa_id: &str, name: &str, wamid: &str, at: i64, body: &str) -> Value {
        message(phone_number_id, wa_id, name, wamid, at, json!({"type": "text", "text": {"body": body}}))
    }

    /// A status of a message we sent; `failed` carries `errors` [(code, title)].
    pub fn status(
        phone_number_id: &str,
        wamid: &str,
        to: &str,
        status: &str,
        at: i64,
        errors: &[(i64, &str)],
    ) -> Value {
        let mut s = json!({"id": wamid, "status": status, "timestamp": at.to_string(), "recipient_id": to});
        if !errors.is_empty() {
            s["errors"] = errors
                .iter()
                .map(|(code, title)| json!({"code": code, "title": title, "message": title, "error_data": {"details": title}}))
                .collect();
        }
        envelope(phone_number_id, json!({"statuses": [s]}))
    }

    fn envelope(phone_number_id: &str, mut value: Value) -> Value {
        value["messaging_product"] = json!("whatsapp");
        value["metadata"] = json!({"display_phone_number": "15550001111", "phone_number_id": phone_number_id});
        json!({"object": "whatsapp_business_account",
               "entry": [{"id": "102290129340398", "changes": [{"field": "messages", "value": value}]}]})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signatures_are_checked_over_the_raw_bytes() {
        let body = br#"{"object":"whatsapp_business_account"}"#;
        let good = sign(b"secret", body);
        assert!(signature_ok(b"secret", body, Some(&good)));
        assert!(!signature_ok(b"other", body, Some(&good)));
        assert!(!signature_ok(b"secret", b"{\"object\": \"whatsapp_business_account\"}", Some(&good)));
        assert!(!signature_ok(b"secret", body, None));
        assert!(!signature_ok(b"secret", body, Some("sha256=zz")));
        assert!(!signature_ok(b"secret", body, Some(good.trim_start_matches("sha256="))));
    }

    #[test]
    fn every_kind_of_message_becomes_a_message_and_nothing_is_dropped() {
        let cases = [
            (json!({"type": "text", "text": {"body": "Добрый день"}}), "Добрый день", 0),
            (json!({"type": "image", "image": {"id": "m1", "mime_type": "image/jpeg", "caption": "чек"}}), "чек", 1),
            (
                json!({"type": "document", "document": {"id": "m2", "filename": "акт.pdf", "mime_type": "application/pdf"}}),
                "📄 акт.pdf",
                1,
            ),
            (
                json!({"type": "audio", "audio": {"id": "m3", "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
                "🎤",
                1,
            ),
            (json!({"type": "sticker", "sticker": {"id": "m4", "mime_type": "image/webp"}}), "[sticker]", 1),
            (
                json!({"type": "location", "location": {"latitude": 55.75, "longitude": 37.61, "name": "Офис"}}),
                "📍 Офис",
                0,
            ),
            (
                json!({"type": "contacts", "contacts": [{"name": {"formatted_name": "Иван"}, "phones": [{"phone": "+7 916 000-00-00"}]}]}),
                "👤 Иван +7 916 000-00-00",
                0,
            ),
            (
                json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "b1", "title": "Да"}}}),
                "▸ Да",
                0,
            ),
            (
                json!({"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]}),
                "[unsupported message type unsupported: 131051 Message type unknown — WhatsApp does not support",
                0,
            ),
            (json!({"type": "order", "order": {}}), "[unsupported message type order]", 0),
        ];
        for (i, (message, shown, files)) in cases.into_iter().enumerate() {
            let payload =
                build::message("PN", "+7 916 123-45-67", "Ольга", &format!("wamid.{i}"), 1_700_000_000, message);
            let parsed = parse(payload.to_string().as_bytes(), "PN");
            assert_eq!(parsed.events.len(), 1, "{shown}");
            let SyncEvent::Message(m) = &parsed.events[0] else { panic!("{shown}: {:?}", parsed.events) };
            assert!(m.body_text.starts_with(shown), "{shown:?} vs {:?}", m.body_text);
            assert_eq!(m.attachments.len(), files, "{shown}");
            assert_eq!(parsed.media.len(), files);
            assert_eq!((m.author_handle.as_str(), m.conversation_key.as_str()), ("79161234567", "79161234567"));
            assert_eq!(m.author_name, "Ольга");
        }
    }

    #[test]
    fn reactions_statuses_and_strangers_are_read_or_kept() {
        let r = build::message(
            "PN",
            "7916",
            "Ольга",
            "wamid.r",
            1,
            json!({"type": "reaction", "reaction": {"message_id": "wamid.out", "emoji": "👍"}}),
        );
        let parsed = parse(r.to_string().as_bytes(), "PN");
        assert!(
            matches!(&parsed.events[..], [SyncEvent::Reaction { remote_id, emoji, .. }] if remote_id == "wamid.out" && emoji == "👍")
        );
        let failed = build::status("PN", "wamid.out", "7916", "failed", 2, &[(131047, "Re-engagement message")]);
        let parsed = parse(failed.to_string().as_bytes(), "PN");
        assert!(
            matches!(&parsed.events[..], [SyncEvent::Delivery { state: Delivery::Failed, error: Some(e), .. }] if e.contains("131047") && e.contains("Re-engagement"))
        );
        // Another number's change, a non-JSON body: kept raw, not dropped.
        let other = build::text("OTHER", "7916", "Ольга", "wamid.x", 1, "hi");
        let parsed = parse(other.to_string().as_bytes(), "PN");
        assert!(matches!(&parsed.events[..], [SyncEvent::Quarantine { reason, .. }] if reason.contains("not ours")));
        let parsed = parse(b"{not json", "PN");
        assert!(matches!(&parsed.events[..], [SyncEvent::Quarantine { raw, .. }] if raw == b"{not json"));
    }
}
