//! A loopback fake of the WhatsApp Cloud API (Meta Graph API), written from
//! Meta's reference, for tests, the benchmark and by-hand trials: messages
//! (text, document, `context`), media upload, media lookup and download with
//! the Bearer token, the phone number's fields, and the errors pult must
//! handle — 131047 (the 24-hour window closed), 130429 (rate limit), 190 (the
//! token expired), 100 (bad parameter, unknown media). It also plays Meta's
//! other half: signed webhook POSTs and the verification GET, sent to pult.

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const TOKEN: &str = "EAAG-fake-token";
pub const APP_SECRET: &str = "fake-app-secret";
pub const VERIFY_TOKEN: &str = "fake-verify-token";

#[derive(Default)]
struct State {
    sent: Vec<Value>,
    uploads: Vec<(String, Vec<u8>)>,
    media: HashMap<String, (String, Vec<u8>)>,
    /// When each client last wrote (the fake's view of the 24-hour window).
    last_inbound: HashMap<String, i64>,
    errors: HashMap<&'static str, VecDeque<(u16, i64, String)>>,
    token_expired: bool,
    next: u64,
    /// Answer sends after this many seconds (a slow or stuck API).
    stall_sends: Option<u64>,
    /// Treat every number as inside the 24-hour window (by-hand trials, where
    /// the client's messages are posted by another process).
    window_always_open: bool,
    /// Approved templates: (name, language).
    templates: Vec<(String, String)>,
    /// Messages marked read (`status: read`).
    reads: Vec<String>,
    /// Sends still to take whose answer is then lost: the message is
    /// delivered and the connection closes before the HTTP answer.
    drop_answers: usize,
}

/// Marks a response that the connection must not deliver (a lost answer).
const DROP_ANSWER: &str = "x-fake-drop-answer";

fn lock(s: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// A running fake; it stops when dropped.
pub struct FakeGraphApi {
    port: u16,
    state: Arc<Mutex<State>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeGraphApi {
    /// Starts on 127.0.0.1 (a free port) in a thread of its own.
    pub fn start() -> std::io::Result<FakeGraphApi> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let state = Arc::new(Mutex::new(State::default()));
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::Builder::new().name("fake-graph-api".into()).spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else { return };
                let serve = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else { continue };
                        let st = st.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                let st = st.clone();
                                async move {
                                    let response = handle(req, &st, port).await;
                                    // An error from the service closes the connection unanswered.
                                    if response.headers().contains_key(DROP_ANSWER) {
                                        return Err(std::io::Error::other("answer dropped"));
                                    }
                                    Ok(response)
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                }
            });
        })?;
        Ok(FakeGraphApi { port, state, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// The `api_url` to configure (with the version, as Meta's).
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}/v26.0", self.port)
    }

    /// Every message sent, as the JSON pult posted.
    pub fn sent(&self) -> Vec<Value> {
        lock(&self.state).sent.clone()
    }

    /// Files uploaded: (file name, bytes).
    pub fn uploads(&self) -> Vec<(String, Vec<u8>)> {
        lock(&self.state).uploads.clone()
    }

    /// Media a client sent: its id for a webhook.
    pub fn add_media(&self, mime: &str, bytes: &[u8]) -> String {
        let mut s = lock(&self.state);
        s.next += 1;
        let id = format!("{}", 900_000_000 + s.next);
        s.media.insert(id.clone(), (mime.to_string(), bytes.to_vec()));
        id
    }

    /// The client wrote at `at`: a reply may go for 24 hours.
    pub fn client_wrote(&self, wa_id: &str, at: i64) {
        lock(&self.state).last_inbound.insert(wa_id.to_string(), at);
    }

    /// The next call to `endpoint` ("messages", "media", "upload") answers an error.
    pub fn fail_next(&self, endpoint: &'static str, status: u16, code: i64, message: &str) {
        lock(&self.state).errors.entry(endpoint).or_default().push_back((status, code, message.to_string()));
    }

    /// The wamids pult marked read.
    pub fn reads(&self) -> Vec<String> {
        lock(&self.state).reads.clone()
    }

    /// A template approved in WhatsApp Manager.
    pub fn approve_template(&self, name: &str, language: &str) {
        lock(&self.state).templates.push((name.to_string(), language.to_string()));
    }

    /// Every number counts as having written recently.
    pub fn open_window_for_all(&self) {
        lock(&self.state).window_always_open = true;
    }

    /// The token expired: every call answers 401 with code 190.
    pub fn set_token_expired(&self, expired: bool) {
        lock(&self.state).token_expired = expired;
    }

    /// Sends answer only after `seconds` (a timeout on pult's side).
    pub fn stall_sends(&self, seconds: Option<u64>) {
        lock(&self.state).stall_sends = seconds;
    }

    /// The next successful send is delivered, and its answer lost on the way.
    pub fn drop_next_send_answer(&self) {
        lock(&self.state).drop_answers += 1;
    }
}

impl Drop for FakeGraphApi {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body.to_string())));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
    r
}

/// An error object as the Graph API writes it.
fn error(status: u16, code: i64, message: &str) -> Response<Full<Bytes>> {
    let kind = if code == 190 { "OAuthException" } else { "GraphMethodException" };
    reply(
        status,
        json!({"error": {"message": message, "type": kind, "code": code,
                         "error_data": {"messaging_product": "whatsapp", "details": message},
                         "fbtrace_id": "AbCdEfGh"}}),
    )
}

async fn handle(req: Request<Incoming>, st: &Mutex<State>, port: u16) -> Response<Full<Bytes>> {
    let authorised =
        req.headers().get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {TOKEN}"));
    if lock(st).token_expired {
        return error(401, 190, "Error validating access token: Session has expired");
    }
    if !authorised {
        return error(401, 190, "Invalid OAuth access token - Cannot parse access token");
    }
    let method = req.method().clone();
    let path: Vec<String> = req.uri().path().split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
    let content_type = req.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = req.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    let parts: Vec<&str> = path.iter().map(String::as_str).collect();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["download", id]) => match lock(st).media.get(*id) {
            Some((_, bytes)) => {
                let mut r = Response::new(Full::new(Bytes::from(bytes.clone())));
                r.headers_mut()
                    .insert("content-type", hyper::header::HeaderValue::from_static("application/octet-stream"));
                r
            }
            None => error(404, 100, "media not found"),
        },
        ("POST", [_v, number, "messages"]) if *number == PHONE_NUMBER_ID => send(st, &body).await,
        ("POST", [_v, number, "media"]) if *number == PHONE_NUMBER_ID => upload(st, &content_type, &body),
        ("GET", [_v, number]) if *number == PHONE_NUMBER_ID => reply(
            200,
            json!({"display_phone_number": "+7 495 000-00-00", "verified_name": "Бухгалтерия Анны", "id": PHONE_NUMBER_ID}),
        ),
        ("GET", [_v, id]) => {
            if let Some((status, code, message)) = next_error(st, "media") {
                return error(status, code, &message);
            }
            match lock(st).media.get(*id) {
                Some((mime, bytes)) => {
                    let sha = super::webhook::encode_hex(ring::digest::digest(&ring::digest::SHA256, bytes).as_ref());
                    reply(
                        200,
                        json!({"messaging_product": "whatsapp", "url": format!("http://127.0.0.1:{port}/download/{id}"),
                               "mime_type": mime, "sha256": sha, "file_size": bytes.len(), "id": id}),
                    )
                }
                None => error(
                    400,
                    100,
                    &format!(
                        "Unsupported get request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation"
                    ),
                ),
            }
        }
        _ => error(400, 100, "Unknown path components"),
    }
}

fn next_error(st: &Mutex<State>, endpoint: &'static str) -> Option<(u16, i64, String)> {
    lock(st).errors.get_mut(endpoint).and_then(VecDeque::pop_front)
}

async fn send(st: &Mutex<State>, body: &[u8]) -> Response<Full<Bytes>> {
    let stall = lock(st).stall_sends;
    if let Some(s) = stall {
        tokio::time::sleep(std::time::Duration::from_secs(s)).await;
    }
    if let Some((status, code, message)) = next_error(st, "messages") {
        return error(status, code, &message);
    }
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return error(400, 100, "Invalid parameter: the body is not JSON");
    };
    if msg.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") {
        return error(400, 100, "(#100) The parameter messaging_product is required.");
    }
    if msg.get("status").and_then(Value::as_str) == Some("read") {
        let Some(id) = msg.get("message_id").and_then(Value::as_str) else {
            return error(400, 100, "(#100) The parameter message_id is required.");
        };
        lock(st).reads.push(id.to_string());
        return reply(200, json!({"success": true}));
    }
    let Some(to) = msg.get("to").and_then(Value::as_str).map(str::to_string) else {
        return error(400, 100, "(#100) The parameter to is required.");
    };
    match msg.get("type").and_then(Value::as_str).unwrap_or("text") {
        "text" => {
            let text = msg.pointer("/text/body").and_then(Value::as_str).unwrap_or("");
            if text.is_empty() {
                return error(400, 100, "(#100) The parameter text['body'] is required.");
            }
            if text.chars().count() > 4096 {
                return error(400, 100, "(#100) Param text['body'] must be at most 4096 characters long.");
            }
        }
        "document" => {
            let id = msg.pointer("/document/id").and_then(Value::as_str).unwrap_or("");
            let known = lock(st).uploads.iter().enumerate().any(|(i, _)| format!("up-{i}") == id);
            if !known {
                return error(400, 131053, "Media upload error");
            }
        }
        "template" => {
            let name = msg.pointer("/template/name").and_then(Value::as_str).unwrap_or("");
            let lang = msg.pointer("/template/language/code").and_then(Value::as_str).unwrap_or("");
            if name.is_empty() || lang.is_empty() {
                return error(400, 100, "(#100) The parameter template['name'] and ['language'] are required.");
            }
            if !lock(st).templates.iter().any(|(n, l)| n == name && l == lang) {
                return error(
                    404,
                    132001,
                    &format!("Template name does not exist in the translation ({name}, {lang})"),
                );
            }
        }
        other => return error(400, 100, &format!("(#100) Unsupported type {other}")),
    }
    // Templates are what may go outside the 24-hour window.
    let is_template = msg.get("type").and_then(Value::as_str) == Some("template");
    let now = jiff::Timestamp::now().as_second();
    let (last, open) = {
        let s = lock(st);
        (s.last_inbound.get(&to).copied(), s.window_always_open)
    };
    if !open && !is_template && last.is_none_or(|t| now - t > 24 * 3600) {
        return error(
            400,
            131047,
            "Re-engagement message: More than 24 hours have passed since the recipient last replied to the sender number.",
        );
    }
    let mut s = lock(st);
    s.next += 1;
    let wamid = format!("wamid.HBgLFAKE{:08}", s.next);
    s.sent.push(msg);
    let mut response = reply(
        200,
        json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": wamid}]}),
    );
    if s.drop_answers > 0 {
        s.drop_answers -= 1;
        response.headers_mut().insert(DROP_ANSWER, hyper::header::HeaderValue::from_static("1"));
    }
    response
}

/// `multipart/form-data` with `messaging_product`, `type` and `file`.
fn upload(st: &Mutex<State>, content_type: &str, body: &[u8]) -> Response<Full<Bytes>> {
    if let Some((status, code, message)) = next_error(st, "upload") {
        return error(status, code, &message);
    }
    let Some(boundary) = content_type.split("boundary=").nth(1).map(|b| b.trim_matches('"').to_string()) else {
        return error(400, 100, "(#100) multipart/form-data expected");
    };
    let marker = format!("--{boundary}");
    let text = body;
    let mut file: Option<(String, Vec<u8>)> = None;
    for part in split(text, marker.as_bytes()) {
        let Some(head_end) = find(part, b"\r\n\r\n") else { continue };
        let head = String::from_utf8_lossy(&part[..head_end]);
        if !head.contains("name=\"file\"") {
            continue;
        }
        let name = head.split("filename=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("file").to_string();
        let mut data = part[head_end + 4..].to_vec();
        if data.ends_with(b"\r\n") {
            data.truncate(data.len() - 2);
        }
        file = Some((name, data));
    }
    let Some(file) = file else { return error(400, 100, "(#100) The parameter file is required.") };
    let mut s = lock(st);
    let id = format!("up-{}", s.uploads.len());
    s.uploads.push(file);
    reply(200, json!({"id": id}))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn split<'a>(mut hay: &'a [u8], marker: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    while let Some(i) = find(hay, marker) {
        out.push(&hay[..i]);
        hay = &hay[i + marker.len()..];
    }
    out.push(hay);
    out
}

/// Meta's side of the webhook, over plain HTTP/1.1 to pult's receiver.
pub mod meta {
    use super::*;

    /// What came back: the status and body, or the connection's end without an answer.
    pub fn request(addr: &str, head: &str, body: &[u8]) -> std::io::Result<(u16, String)> {
        let mut stream = std::net::TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        let text = String::from_utf8_lossy(&answer).to_string();
        let status = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "no answer"))?;
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
        Ok((status, body))
    }

    /// A POST as Meta sends it, signed with `secret` (None: unsigned).
    pub fn post(addr: &str, secret: Option<&str>, payload: &[u8]) -> std::io::Result<u16> {
        let signature = secret
            .map(|s| format!("X-Hub-Signature-256: {}\r\n", super::super::webhook::sign(s.as_bytes(), payload)))
            .unwrap_or_default();
        let head = format!(
            "POST /whatsapp HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: facebookexternalua\r\nContent-Type: application/json\r\n\
             {signature}Content-Length: {}\r\nConnection: close\r\n\r\n",
            payload.len()
        );
        request(addr, &head, payload).map(|(s, _)| s)
    }

    /// The verification GET of the dashboard's "Verify and save".
    pub fn verify(addr: &str, token: &str, challenge: &str) -> std::io::Result<(u16, String)> {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "subscribe")
            .append_pair("hub.verify_token", token)
            .append_pair("hub.challenge", challenge)
            .finish();
        let head = format!("GET /whatsapp?{q} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        request(addr, &head, b"")
    }
}
