//! getUpdates read as raw JSON, and each update turned into sync events.
//! teloxide's types still read the messages they can; what they cannot (an
//! update of a kind newer than teloxide, `deleted_business_messages`, whose
//! integer `message_ids` teloxide cannot read) is read here from the JSON, or
//! kept raw in quarantine — never counted and dropped.

use super::TelegramError;
use crate::model::{Connection, SyncEvent};
use serde_json::Value;
use teloxide::types::Message;

/// One page of updates from `offset`, as JSON.
pub async fn get(bot: &teloxide::Bot, offset: i64, timeout: u32) -> Result<Vec<Value>, TelegramError> {
    Ok(get_page(bot, offset, timeout).await?.0)
}

/// One page of updates from `offset`, as JSON and as the exact bytes of each
/// update in the answer (empty where they could not be told apart).
pub async fn get_page(
    bot: &teloxide::Bot,
    offset: i64,
    timeout: u32,
) -> Result<(Vec<Value>, Vec<Vec<u8>>), TelegramError> {
    let mut url = bot.api_url();
    let path = format!("{}bot{}/getUpdates", url.path(), bot.token());
    url.set_path(&path);
    let body = serde_json::json!({"offset": offset, "timeout": timeout, "limit": 100});
    let resp = bot
        .client()
        .post(url)
        .timeout(std::time::Duration::from_secs(u64::from(timeout) + 10))
        .json(&body)
        .send()
        .await
        .map_err(|e| TelegramError::Http(e.without_url().to_string()))?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(|e| TelegramError::Http(e.without_url().to_string()))?;
    let answer: Value = serde_json::from_slice(&bytes).map_err(|e| TelegramError::Http(e.to_string()))?;
    if answer.get("ok").and_then(Value::as_bool) == Some(true) {
        let updates = answer.get("result").and_then(Value::as_array).cloned().unwrap_or_default();
        let raws = match array_spans(&bytes, b"result") {
            Some(spans) if spans.len() == updates.len() => {
                spans.into_iter().map(|(a, b)| bytes[a..b].to_vec()).collect()
            }
            _ => vec![Vec::new(); updates.len()],
        };
        return Ok((updates, raws));
    }
    let description = answer.get("description").and_then(Value::as_str).unwrap_or("no description").to_string();
    let retry_after = answer.pointer("/parameters/retry_after").and_then(Value::as_u64);
    Err(TelegramError::Api { status, description: crate::sanitize::line(&description).into_owned(), retry_after })
}

/// The byte spans of the elements of the array under top-level `key` of a JSON
/// object: each update exactly as Telegram wrote it. None if the text is not so.
pub fn array_spans(text: &[u8], key: &[u8]) -> Option<Vec<(usize, usize)>> {
    let ws = |i: &mut usize| {
        while *i < text.len() && text[*i].is_ascii_whitespace() {
            *i += 1;
        }
    };
    // The end of the value starting at `i`.
    let skip = |mut i: usize| -> Option<usize> {
        let mut depth = 0usize;
        let mut in_string = false;
        loop {
            let c = *text.get(i)?;
            if in_string {
                match c {
                    b'\\' => i += 1,
                    b'"' => {
                        in_string = false;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            } else {
                match c {
                    b'"' => in_string = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' if depth > 0 => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    b',' | b'}' | b']' if depth == 0 => return Some(i),
                    c if depth == 0 && c.is_ascii_whitespace() => return Some(i),
                    _ => {}
                }
            }
            i += 1;
        }
    };
    let mut i = 0;
    ws(&mut i);
    if text.get(i) != Some(&b'{') {
        return None;
    }
    i += 1;
    loop {
        ws(&mut i);
        if text.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = skip(i)?;
        let this = &text[i + 1..key_end - 1];
        i = key_end;
        ws(&mut i);
        if text.get(i) != Some(&b':') {
            return None;
        }
        i += 1;
        ws(&mut i);
        if this == key {
            if text.get(i) != Some(&b'[') {
                return None;
            }
            i += 1;
            let mut spans = Vec::new();
            loop {
                ws(&mut i);
                match text.get(i)? {
                    b']' => return Some(spans),
                    b',' => i += 1,
                    _ => {
                        let end = skip(i)?;
                        spans.push((i, end));
                        i = end;
                    }
                }
            }
        }
        i = skip(i)?;
        ws(&mut i);
        match text.get(i)? {
            b',' => i += 1,
            _ => return None,
        }
    }
}

/// The events of a page with each message's update kept as its original.
pub fn events_with_originals(updates: &[Value], raws: &[Vec<u8>], known: &mut Connections) -> Vec<SyncEvent> {
    let now = jiff::Timestamp::now().as_second();
    let mut out = Vec::new();
    for (n, u) in updates.iter().enumerate() {
        let mut events = events(std::slice::from_ref(u), known);
        let bytes = raws.get(n).filter(|b| !b.is_empty()).cloned().unwrap_or_else(|| u.to_string().into_bytes());
        let exact = raws.get(n).is_some_and(|b| !b.is_empty());
        let update_id = u.get("update_id").and_then(Value::as_i64);
        let packed = crate::model::Packed::of(&bytes).ok();
        for e in &mut events {
            if let SyncEvent::Message(m) = e {
                let (chat, message) =
                    m.remote_id.split_once(':').unwrap_or((m.conversation_key.as_str(), m.remote_id.as_str()));
                m.raw = Some(std::sync::Arc::new(crate::model::RawOriginal {
                    kind: "telegram",
                    source: serde_json::json!({ "update_id": update_id, "chat_id": chat, "message_id": message }),
                    bytes: bytes.clone(),
                    partial: (!exact)
                        .then(|| "the update as read, not as sent: its bytes could not be told apart".into()),
                    signature: None,
                    received_at: now,
                    packed: packed.clone(),
                }));
            }
        }
        out.extend(events);
    }
    out
}

/// The kinds of update pult reads but does not keep, said once in the log.
const NOT_KEPT: &[&str] = &[
    "channel_post",
    "edited_channel_post",
    "callback_query",
    "inline_query",
    "chosen_inline_result",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "poll",
    "poll_answer",
    "message_reaction",
    "message_reaction_count",
    "chat_boost",
    "removed_chat_boost",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
];

/// Business connections known so far (the store's, and any this page told).
#[derive(Debug, Default, Clone)]
pub struct Connections(pub Vec<Connection>);

impl Connections {
    fn owner_of(&self, id: &str) -> Option<i64> {
        self.0.iter().find(|c| c.id == id).map(|c| c.owner_id)
    }

    fn learn(&mut self, c: &Connection) {
        match self.0.iter_mut().find(|x| x.id == c.id) {
            Some(slot) => *slot = c.clone(),
            None => self.0.push(c.clone()),
        }
    }

    /// Connection ids this page names that are not known yet (to ask getBusinessConnection).
    pub fn unknown_in(&self, updates: &[Value]) -> Vec<String> {
        let mut told: Vec<String> = updates
            .iter()
            .filter_map(|u| u.get("business_connection")?.get("id")?.as_str().map(str::to_string))
            .collect();
        let mut out = Vec::new();
        for u in updates {
            for kind in ["business_message", "edited_business_message", "deleted_business_messages"] {
                if let Some(id) = u.get(kind).and_then(|m| m.get("business_connection_id")).and_then(Value::as_str)
                    && self.owner_of(id).is_none()
                    && !told.iter().any(|t| t == id)
                {
                    told.push(id.to_string());
                    out.push(id.to_string());
                }
            }
        }
        out
    }
}

/// A `business_connection` object (Bot API; `rights` since 9.0, `can_reply` before).
pub fn connection(v: &Value) -> Option<Connection> {
    let user = v.get("user")?;
    let name = [user.get("first_name"), user.get("last_name")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect::<Vec<_>>()
        .join(" ");
    let right = |k: &str| {
        v.pointer(&format!("/rights/{k}")).and_then(Value::as_bool).or_else(|| v.get(k).and_then(Value::as_bool))
    };
    Some(Connection {
        id: v.get("id")?.as_str()?.to_string(),
        owner_id: user.get("id")?.as_i64()?,
        owner_name: if name.is_empty() { format!("user {}", user.get("id")?) } else { name },
        can_reply: right("can_reply").unwrap_or(false),
        can_read: right("can_read_messages").unwrap_or(false),
        enabled: v.get("is_enabled").and_then(Value::as_bool).unwrap_or(false),
        date: v.get("date").and_then(Value::as_i64).unwrap_or(0),
    })
}

/// The events of a page of updates, in order; `known` learns the connections
/// the page tells of. Every update ends up stored, quarantined, or (for the
/// kinds pult does not keep) logged.
pub fn events(updates: &[Value], known: &mut Connections) -> Vec<SyncEvent> {
    let mut out = Vec::new();
    for u in updates {
        match read(u, known) {
            Ok(events) => out.extend(events),
            Err(reason) => {
                let id = u.get("update_id").and_then(Value::as_i64).unwrap_or(0);
                tracing::warn!("telegram: update {id} kept in quarantine: {reason}");
                out.push(SyncEvent::Quarantine {
                    reason: format!("telegram update {id}: {reason}"),
                    raw: u.to_string().into_bytes(),
                });
            }
        }
    }
    out
}

fn parse_message(v: &Value) -> Result<Message, String> {
    serde_json::from_value::<Message>(v.clone()).map_err(|e| format!("a message pult cannot read ({e})"))
}

/// Every part of an update is read. Telegram sends one per update, but an
/// update carrying a message beside a `callback_query` (a proxy, a newer
/// Bot API) must not lose the message to whichever key sorts first. A
/// connection is learnt before a message through it; if any part cannot be
/// read, the whole update goes to quarantine, so nothing of it is half kept.
fn read(u: &Value, known: &mut Connections) -> Result<Vec<SyncEvent>, String> {
    let obj = u.as_object().ok_or("not a JSON object")?;
    let mut kinds: Vec<&str> = obj.keys().map(String::as_str).filter(|k| *k != "update_id").collect();
    if kinds.is_empty() {
        return Err("an update with nothing in it".into());
    }
    kinds.sort_by_key(|k| *k != "business_connection");
    let mut learnt = known.clone();
    let mut out = Vec::new();
    for kind in kinds {
        out.extend(read_part(kind, &obj[kind], &mut learnt)?);
    }
    *known = learnt;
    Ok(out)
}

fn read_part(kind: &str, body: &Value, known: &mut Connections) -> Result<Vec<SyncEvent>, String> {
    match kind {
        "message" | "edited_message" => {
            Ok(vec![SyncEvent::Message(super::message_inbound(&parse_message(body)?, kind == "edited_message"))])
        }
        "business_connection" => {
            let c = connection(body).ok_or("a business_connection without id or user")?;
            tracing::info!(
                "telegram: business connection of {} ({}): enabled {}, can reply {}",
                c.owner_name,
                c.id,
                c.enabled,
                c.can_reply
            );
            known.learn(&c);
            Ok(vec![SyncEvent::Connection(c)])
        }
        "business_message" | "edited_business_message" => {
            let m = parse_message(body)?;
            let connection =
                body.get("business_connection_id").and_then(Value::as_str).ok_or("no business_connection_id")?;
            let owner = known.owner_of(connection);
            Ok(vec![SyncEvent::Message(super::business_inbound(&m, connection, owner, kind.starts_with("edited")))])
        }
        "deleted_business_messages" => {
            let connection =
                body.get("business_connection_id").and_then(Value::as_str).ok_or("no business_connection_id")?;
            let chat = body.pointer("/chat/id").and_then(Value::as_i64).ok_or("no chat id")?;
            let ids = body.get("message_ids").and_then(Value::as_array).ok_or("no message_ids")?;
            ids.iter()
                .map(|id| {
                    let id = id.as_i64().ok_or("a message id that is not a number")?;
                    Ok(SyncEvent::Deleted { remote_id: super::business_remote(connection, chat, id) })
                })
                .collect()
        }
        k if NOT_KEPT.contains(&k) => {
            tracing::info!("telegram: an update of kind {k} (not kept)");
            Ok(Vec::new())
        }
        other => Err(format!("an update of a kind pult does not know: {other}")),
    }
}

#[cfg(test)]
mod span_tests {
    use super::array_spans;

    #[test]
    fn each_update_is_cut_out_as_sent() {
        let body = br#"{"ok":true, "result" : [ {"update_id":1,"message":{"text":"a ] } \" ,"}} ,{"update_id":2} ]}"#;
        let spans = array_spans(body, b"result").expect("spans");
        let parts: Vec<&[u8]> = spans.iter().map(|(a, b)| &body[*a..*b]).collect();
        assert_eq!(parts, vec![&br#"{"update_id":1,"message":{"text":"a ] } \" ,"}}"#[..], &br#"{"update_id":2}"#[..]]);
        assert_eq!(array_spans(br#"{"ok":true,"result":[]}"#, b"result"), Some(vec![]));
    }
}
