//! A loopback fake of the Telegram Bot API, written from the published reference
//! (core.telegram.org/bots/api), for tests and benchmarks: getMe, getUpdates with
//! real offset and long-poll semantics, sendMessage, sendDocument, editMessageText,
//! getFile and file download, and scripted error answers (429 with retry_after,
//! 403, 400 chat not found, 401 for a revoked token). Method names match
//! case-insensitively.

use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

#[derive(Default)]
struct State {
    /// Every update ever pushed, with its update_id; confirmed ones are dropped.
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    sent: Vec<Value>,
    calls: Vec<String>,
    errors: HashMap<String, VecDeque<(u16, Value)>>,
    files: HashMap<String, Vec<u8>>,
    /// The token was revoked (@BotFather /revoke): every call answers 401.
    revoked: bool,
    /// Business connections by id (the JSON getBusinessConnection answers).
    connections: HashMap<String, Value>,
    /// When each business chat's client last wrote: (connection, chat) → date.
    business_inbound: HashMap<(String, i64), i64>,
    /// readBusinessMessage calls: (connection, chat, message).
    reads: Vec<(String, i64, i64)>,
    /// Methods whose next call is carried out and its answer lost: the
    /// connection closes before the HTTP response.
    /// (calls still answered first, answers then lost) per method.
    drop_answers: HashMap<String, (usize, usize)>,
}

/// A running fake; it stops when dropped.
pub struct FakeBotApi {
    port: u16,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

pub const BOT_ID: i64 = 777_000;

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl FakeBotApi {
    /// Starts the server on 127.0.0.1 (a free port) in a thread of its own.
    pub fn start() -> std::io::Result<FakeBotApi> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State { next_update_id: 1000, next_message_id: 5000, ..Default::default() }));
        let notify = Arc::new(Notify::new());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (st, nt) = (state.clone(), notify.clone());
        let thread = std::thread::Builder::new().name("fake-bot-api".into()).spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = TcpListener::from_std(std_listener) else { return };
                let serve = async {
                    loop {
                        let Ok((sock, _)) = listener.accept().await else { continue };
                        let (st, nt) = (st.clone(), nt.clone());
                        tokio::spawn(async move {
                            let _ = serve_connection(sock, st, nt).await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
        })?;
        Ok(FakeBotApi { port, state, notify, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// The base URL to give the bot (`api_url` in the config).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// Queues an update (its update_id is assigned here) and wakes long polls.
    pub fn push(&self, mut update: Value) -> i64 {
        let id = {
            let mut s = lock(&self.state);
            let id = s.next_update_id;
            s.next_update_id += 1;
            update["update_id"] = json!(id);
            // A client's message in a business chat opens its 24 hours.
            if let Some(m) = update.get("business_message") {
                let conn = m["business_connection_id"].as_str().unwrap_or("").to_string();
                let owner = s.connections.get(&conn).and_then(|c| c["user"]["id"].as_i64());
                if m["from"]["id"].as_i64() != owner {
                    let (chat, date) = (m["chat"]["id"].as_i64().unwrap_or(0), m["date"].as_i64().unwrap_or(0));
                    s.business_inbound.insert((conn, chat), date);
                }
            }
            s.updates.push_back(update);
            id
        };
        self.notify.notify_waiters();
        id
    }

    /// A person connected the bot to their account (Telegram Business);
    /// `connection` is the object of a `business_connection` update. It is
    /// what getBusinessConnection answers; push the update separately.
    pub fn set_business_connection(&self, connection: Value) {
        let id = connection["id"].as_str().unwrap_or("").to_string();
        lock(&self.state).connections.insert(id, connection);
    }

    /// readBusinessMessage calls so far: (connection, chat, message).
    pub fn business_reads(&self) -> Vec<(String, i64, i64)> {
        lock(&self.state).reads.clone()
    }

    pub fn add_file(&self, file_id: &str, bytes: Vec<u8>) {
        lock(&self.state).files.insert(file_id.to_string(), bytes);
    }

    /// The next call of `method` answers with this HTTP status and JSON body.
    pub fn fail_next(&self, method: &str, status: u16, body: Value) {
        lock(&self.state).errors.entry(method.to_lowercase()).or_default().push_back((status, body));
    }

    pub fn fail_next_with_retry_after(&self, method: &str, seconds: u64) {
        self.fail_next(
            method,
            429,
            json!({"ok": false, "error_code": 429, "description": format!("Too Many Requests: retry after {seconds}"),
                   "parameters": {"retry_after": seconds}}),
        );
    }

    /// The next call of `method` is carried out (a message is sent) and its
    /// answer is lost: the connection closes without an HTTP response.
    pub fn drop_next_answer(&self, method: &str) {
        self.drop_answer_after(method, 0);
    }

    /// As [`drop_next_answer`](Self::drop_next_answer), after `answered` more
    /// calls of `method` were answered as usual (the second part of a long text).
    pub fn drop_answer_after(&self, method: &str, answered: usize) {
        lock(&self.state).drop_answers.insert(method.to_lowercase(), (answered, 1));
    }

    pub fn fail_next_forbidden(&self, method: &str, description: &str) {
        self.fail_next(method, 403, json!({"ok": false, "error_code": 403, "description": description}));
    }

    /// Revokes the bot's token (every method then answers 401 Unauthorized, as
    /// Telegram does), or gives it back.
    pub fn set_revoked(&self, revoked: bool) {
        lock(&self.state).revoked = revoked;
    }

    /// Requests of sendMessage / sendDocument / editMessageText, in order.
    pub fn sent(&self) -> Vec<Value> {
        lock(&self.state).sent.clone()
    }

    /// Method names called so far (lower case).
    pub fn calls(&self) -> Vec<String> {
        lock(&self.state).calls.clone()
    }

    /// Updates not yet confirmed by an offset.
    pub fn pending(&self) -> usize {
        lock(&self.state).updates.len()
    }
}

impl Drop for FakeBotApi {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Request {
    path: String,
    content_type: String,
    body: Vec<u8>,
}

async fn read_request(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line).await? == 0 {
        return Ok(None);
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let (mut length, mut chunked, mut content_type) = (0usize, false, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).await? == 0 {
            return Ok(None);
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = v.trim().parse().unwrap_or(0),
                "transfer-encoding" => chunked = v.to_ascii_lowercase().contains("chunked"),
                "content-type" => content_type = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = Vec::new();
    if chunked {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).await?;
            let n = usize::from_str_radix(size.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
            if n == 0 {
                let mut end = String::new();
                reader.read_line(&mut end).await?;
                break;
            }
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).await?;
            chunk.truncate(n);
            body.extend(chunk);
        }
    } else if length > 0 {
        body.resize(length, 0);
        reader.read_exact(&mut body).await?;
    }
    Ok(Some(Request { path, content_type, body }))
}

async fn serve_connection(sock: TcpStream, state: Arc<Mutex<State>>, notify: Arc<Notify>) -> std::io::Result<()> {
    sock.set_nodelay(true)?;
    let mut reader = BufReader::new(sock);
    while let Some(req) = read_request(&mut reader).await? {
        let method = req.path.split('?').next().unwrap_or("").rsplit('/').next().unwrap_or("").to_lowercase();
        let (status, content_type, body) = handle(req, &state, &notify).await;
        let dropped = {
            let mut s = lock(&state);
            match s.drop_answers.get_mut(&method) {
                Some((answered, _)) if *answered > 0 && status == 200 => {
                    *answered -= 1;
                    false
                }
                Some((_, lost)) if *lost > 0 && status == 200 => {
                    *lost -= 1;
                    true
                }
                _ => false,
            }
        };
        if dropped {
            return Ok(());
        }
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            if status == 200 { "OK" } else { "Error" },
            body.len()
        );
        // One write per response: two small writes meet Nagle and delayed ACKs (40 ms each).
        let mut out = head.into_bytes();
        out.extend_from_slice(&body);
        let sock = reader.get_mut();
        sock.write_all(&out).await?;
        sock.flush().await?;
    }
    Ok(())
}

/// Parameters from a JSON body, a query string, or multipart form fields.
fn params(req: &Request) -> Value {
    if req.content_type.starts_with("application/json") {
        return serde_json::from_slice(&req.body).unwrap_or(json!({}));
    }
    if req.content_type.starts_with("multipart/form-data") {
        let text = String::from_utf8_lossy(&req.body);
        let mut out = serde_json::Map::new();
        for part in text.split("Content-Disposition: form-data; ").skip(1) {
            let name = part.split("name=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string();
            let value = part.split("\r\n\r\n").nth(1).and_then(|v| v.split("\r\n--").next()).unwrap_or("");
            if let Some(file) = part.split("filename=\"").nth(1).and_then(|r| r.split('"').next()) {
                out.insert(format!("{name}_filename"), json!(file));
                // What the file held, as text (tests send text-like files).
                out.insert(format!("{name}_content"), json!(value));
                continue;
            }
            let v = serde_json::from_str::<Value>(value).unwrap_or(json!(value));
            out.insert(name, v);
        }
        return Value::Object(out);
    }
    json!({})
}

fn bad_request(what: &str) -> (u16, &'static str, Vec<u8>) {
    let body = json!({"ok": false, "error_code": 400, "description": format!("Bad Request: {what}")});
    (400, "application/json", body.to_string().into_bytes())
}

fn ok(result: Value) -> (u16, &'static str, Vec<u8>) {
    (200, "application/json", json!({"ok": true, "result": result}).to_string().into_bytes())
}

fn bot_user() -> Value {
    json!({"id": BOT_ID, "is_bot": true, "first_name": "pult", "username": "pult_bot"})
}

fn chat_json(chat_id: i64) -> Value {
    if chat_id < 0 {
        json!({"id": chat_id, "type": "supergroup", "title": "group"})
    } else {
        json!({"id": chat_id, "type": "private", "first_name": "client"})
    }
}

async fn handle(req: Request, state: &Arc<Mutex<State>>, notify: &Arc<Notify>) -> (u16, &'static str, Vec<u8>) {
    // File downloads: /file/bot<token>/<file_path>
    if let Some(rest) = req.path.strip_prefix("/file/bot") {
        let file = rest.split_once('/').map(|x| x.1).unwrap_or("");
        let bytes = lock(state).files.get(file).cloned();
        return match bytes {
            Some(b) => (200, "application/octet-stream", b),
            None => (
                404,
                "application/json",
                json!({"ok": false, "error_code": 404, "description": "Not Found"}).to_string().into_bytes(),
            ),
        };
    }
    let method = req.path.rsplit('/').next().unwrap_or("").split('?').next().unwrap_or("").to_lowercase();
    let mut p = params(&req);
    // `document: "attach://NAME"` refers to the multipart part NAME (Bot API "Sending files").
    if let Some(part) = p["document"].as_str().and_then(|d| d.strip_prefix("attach://")).map(str::to_string)
        && let Some(name) = p[format!("{part}_filename")].as_str().map(str::to_string)
    {
        p["document_filename"] = json!(name);
        p["document_content"] = p[format!("{part}_content")].clone();
    }
    {
        let mut s = lock(state);
        s.calls.push(method.clone());
        if s.revoked {
            let body = json!({"ok": false, "error_code": 401, "description": "Unauthorized"});
            return (401, "application/json", body.to_string().into_bytes());
        }
        if let Some((status, body)) = s.errors.get_mut(&method).and_then(|q| q.pop_front()) {
            return (status, "application/json", body.to_string().into_bytes());
        }
    }
    let now = jiff::Timestamp::now().as_second();
    match method.as_str() {
        "getme" => ok(json!({"id": BOT_ID, "is_bot": true, "first_name": "pult", "username": "pult_bot",
                            "can_join_groups": true, "can_read_all_group_messages": true,
                            "supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false})),
        "getupdates" => {
            let offset = p["offset"].as_i64().unwrap_or(0);
            let limit = p["limit"].as_u64().unwrap_or(100).clamp(1, 100) as usize;
            let timeout = p["timeout"].as_u64().unwrap_or(0);
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(timeout);
            loop {
                let notified = notify.notified();
                let batch: Vec<Value> = {
                    let mut s = lock(state);
                    // An offset confirms every update below it: they are never served again.
                    while s.updates.front().and_then(|u| u["update_id"].as_i64()).is_some_and(|id| id < offset) {
                        s.updates.pop_front();
                    }
                    s.updates.iter().take(limit).cloned().collect()
                };
                if !batch.is_empty() || tokio::time::Instant::now() >= deadline {
                    return ok(Value::Array(batch));
                }
                let _ = tokio::time::timeout_at(deadline, notified).await;
            }
        }
        "getbusinessconnection" => {
            let id = p["business_connection_id"].as_str().unwrap_or("");
            match lock(state).connections.get(id).cloned() {
                Some(c) => ok(c),
                None => bad_request("BUSINESS_CONNECTION_INVALID"),
            }
        }
        "readbusinessmessage" => {
            let id = p["business_connection_id"].as_str().unwrap_or("").to_string();
            let chat = p["chat_id"].as_i64().unwrap_or(0);
            let mut s = lock(state);
            match s.connections.get(&id) {
                Some(c) if c["is_enabled"] == json!(true) && c["rights"]["can_read_messages"] == json!(true) => {
                    s.reads.push((id, chat, p["message_id"].as_i64().unwrap_or(0)));
                    ok(json!(true))
                }
                Some(_) => bad_request("BUSINESS_CONNECTION_NOT_ALLOWED"),
                None => bad_request("BUSINESS_CONNECTION_INVALID"),
            }
        }
        "sendmessage" | "senddocument" | "editmessagetext" => {
            let chat_id =
                p["chat_id"].as_i64().or_else(|| p["chat_id"].as_str().and_then(|s| s.parse().ok())).unwrap_or(0);
            // Through a business connection: on, allowed to reply, and within
            // 24 hours of the client's last message in that chat.
            if let Some(conn) = p["business_connection_id"].as_str() {
                let s = lock(state);
                let Some(c) = s.connections.get(conn) else { return bad_request("BUSINESS_CONNECTION_INVALID") };
                if c["is_enabled"] != json!(true) {
                    return bad_request("BUSINESS_CONNECTION_INVALID");
                }
                if c["rights"]["can_reply"] != json!(true) {
                    return (
                        403,
                        "application/json",
                        json!({"ok": false, "error_code": 403, "description": "Forbidden: BOT_ACCESS_FORBIDDEN"})
                            .to_string()
                            .into_bytes(),
                    );
                }
                let last = s.business_inbound.get(&(conn.to_string(), chat_id)).copied();
                if last.is_none_or(|t| now - t > 24 * 3600) {
                    return bad_request("BUSINESS_PEER_INVALID");
                }
            }
            let message_id = {
                let mut s = lock(state);
                s.next_message_id += 1;
                let mut record = p.clone();
                record["method"] = json!(method);
                s.sent.push(record);
                if method == "editmessagetext" { p["message_id"].as_i64().unwrap_or(0) } else { s.next_message_id }
            };
            let mut msg =
                json!({"message_id": message_id, "date": now, "chat": chat_json(chat_id), "from": bot_user()});
            if method == "senddocument" {
                let name = p["document_filename"].as_str().unwrap_or("file");
                msg["document"] = json!({"file_id": format!("doc{message_id}"), "file_unique_id": format!("u{message_id}"),
                                         "file_name": name});
                if let Some(c) = p["caption"].as_str() {
                    msg["caption"] = json!(c);
                }
            } else {
                msg["text"] = p["text"].clone();
            }
            ok(msg)
        }
        "getfile" => {
            let id = p["file_id"].as_str().unwrap_or("").to_string();
            let size = lock(state).files.get(&id).map(|b| b.len());
            match size {
                Some(n) => {
                    ok(json!({"file_id": id, "file_unique_id": format!("u-{id}"), "file_size": n, "file_path": id}))
                }
                None => (
                    400,
                    "application/json",
                    json!({"ok": false, "error_code": 400, "description": "Bad Request: invalid file_id"})
                        .to_string()
                        .into_bytes(),
                ),
            }
        }
        _ => (
            404,
            "application/json",
            json!({"ok": false, "error_code": 404, "description": "Not Found"}).to_string().into_bytes(),
        ),
    }
}

/// Builders for realistic updates, as the Bot API sends them.
pub mod updates {
    use serde_json::{Value, json};

    pub fn user(id: i64, first: &str, last: &str) -> Value {
        json!({"id": id, "is_bot": false, "first_name": first, "last_name": last, "username": format!("u{id}")})
    }

    pub fn private_chat(id: i64, first: &str) -> Value {
        json!({"id": id, "type": "private", "first_name": first})
    }

    pub fn group_chat(id: i64, title: &str) -> Value {
        json!({"id": id, "type": "supergroup", "title": title})
    }

    /// A message update; `extra` adds fields (text, photo, voice, reply_to_message …).
    pub fn message(chat: Value, from: Value, message_id: i64, date: i64, extra: Value) -> Value {
        let mut m = json!({"message_id": message_id, "date": date, "chat": chat, "from": from});
        if let (Some(m), Some(e)) = (m.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                m.insert(k.clone(), v.clone());
            }
        }
        json!({"message": m})
    }

    pub fn edited(update: Value, new_text: &str, edit_date: i64) -> Value {
        let mut m = update["message"].clone();
        m["text"] = json!(new_text);
        m["edit_date"] = json!(edit_date);
        json!({"edited_message": m})
    }

    pub fn text(t: &str) -> Value {
        json!({"text": t})
    }

    pub fn voice(file_id: &str, duration: i64, size: i64) -> Value {
        json!({"voice": {"file_id": file_id, "file_unique_id": format!("u-{file_id}"), "duration": duration,
                         "mime_type": "audio/ogg", "file_size": size}})
    }

    pub fn photo(file_id: &str, caption: &str) -> Value {
        json!({"photo": [
            {"file_id": format!("{file_id}-s"), "file_unique_id": "s", "width": 90, "height": 60, "file_size": 1200},
            {"file_id": file_id, "file_unique_id": "l", "width": 1280, "height": 853, "file_size": 184_000}],
               "caption": caption})
    }

    pub fn document(file_id: &str, name: &str, mime: &str, size: i64) -> Value {
        json!({"document": {"file_id": file_id, "file_unique_id": format!("u-{file_id}"), "file_name": name,
                            "mime_type": mime, "file_size": size}})
    }

    pub fn location(lat: f64, lon: f64) -> Value {
        json!({"location": {"latitude": lat, "longitude": lon}})
    }

    pub fn contact(phone: &str, first: &str) -> Value {
        json!({"contact": {"phone_number": phone, "first_name": first}})
    }

    /// The `business_connection` object (Bot API 9: rights in `rights`).
    pub fn connection(id: &str, owner: Value, can_reply: bool, can_read: bool, enabled: bool, date: i64) -> Value {
        let chat = owner["id"].clone();
        json!({"id": id, "user": owner, "user_chat_id": chat, "date": date, "is_enabled": enabled,
               "rights": {"can_reply": can_reply, "can_read_messages": can_read}})
    }

    pub fn business_connection(connection: Value) -> Value {
        json!({"business_connection": connection})
    }

    /// A message in a person's own chat, seen through their connection.
    pub fn business_message(
        connection: &str,
        chat: Value,
        from: Value,
        message_id: i64,
        date: i64,
        extra: Value,
    ) -> Value {
        let mut u = message(chat, from, message_id, date, extra);
        let mut m = u["message"].take();
        m["business_connection_id"] = json!(connection);
        json!({"business_message": m})
    }

    /// Messages deleted in a business chat: `message_ids` are plain integers.
    pub fn deleted_business_messages(connection: &str, chat: Value, ids: &[i64]) -> Value {
        json!({"deleted_business_messages": {"business_connection_id": connection, "chat": chat, "message_ids": ids}})
    }

    pub fn sticker(file_id: &str, emoji: &str) -> Value {
        json!({"sticker": {"file_id": file_id, "file_unique_id": format!("u-{file_id}"), "type": "regular",
                           "width": 512, "height": 512, "is_animated": false, "is_video": false, "emoji": emoji}})
    }
}
