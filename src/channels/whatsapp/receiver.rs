//! The webhook receiver: `GET /whatsapp` answers Meta's verification,
//! `POST /whatsapp` takes a signed batch of events. A POST is answered `200`
//! only after what it carries is committed to the store, so a crash before the
//! answer makes Meta retry, and the retry is stored once (events are keyed by
//! their wamid). Only the process that holds the worker lock listens.
//!
//! Slow clients cost little: headers and body each have a deadline, and at
//! most [`Limits::connections`] connections are held; one more closes the
//! oldest that is not storing a POST, so a crowd of stalled connections never
//! keeps Meta's POST out, and holds a bounded number of descriptors and buffers.

use super::webhook;
use crate::model::SyncEvent;
use crate::store::{Writer, events};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// The path Meta is given (behind the TLS proxy).
pub const PATH: &str = "/whatsapp";
/// Meta's payloads are a few KB; anything this large is not from Meta.
pub const MAX_BODY: usize = 3 << 20;

/// What the receiver needs: secrets to check requests, and where to put them.
pub struct Receiver {
    pub app_secret: Vec<u8>,
    pub verify_token: String,
    pub phone_number_id: String,
    pub writer: Writer,
    pub channel: i64,
    /// Wakes the media fetcher after a commit that named media.
    pub media_wake: tokio::sync::mpsc::UnboundedSender<()>,
    /// A test hook (env `PULT_FAILPOINT=whatsapp-after-commit`): the process
    /// dies between the commit and the answer, as a kill -9 would.
    pub die_after_commit: bool,
}

impl Receiver {
    pub fn failpoint() -> bool {
        std::env::var("PULT_FAILPOINT").is_ok_and(|v| v == "whatsapp-after-commit")
    }
}

/// How long a client may take and how many may be connected at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// From the connection (or the end of the last answer) to the end of the headers.
    pub header_read: Duration,
    /// From the end of the headers to the end of the body.
    pub body_read: Duration,
    pub connections: usize,
}

impl Default for Limits {
    /// Meta sends a few KB at once and the TLS proxy in front passes it on
    /// whole: seconds are plenty. 256 connections stay far below the usual
    /// 1,024-descriptor limit.
    fn default() -> Self {
        Limits { header_read: Duration::from_secs(10), body_read: Duration::from_secs(10), connections: 256 }
    }
}

/// Serves until the task is aborted.
pub async fn serve(listener: TcpListener, receiver: Arc<Receiver>) {
    serve_with(listener, receiver, Limits::default()).await
}

/// [`serve`] with other limits (tests use short ones).
pub async fn serve_with(listener: TcpListener, receiver: Arc<Receiver>, limits: Limits) {
    let held = Arc::new(Mutex::new(Held::default()));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("whatsapp webhook: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let slot = Held::admit(&held, limits.connections);
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let storing = slot.storing.clone();
            let service = hyper::service::service_fn(move |req| {
                let (receiver, storing) = (receiver.clone(), storing.clone());
                async move { Ok::<_, std::convert::Infallible>(handle(req, &receiver, &storing, limits.body_read).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            tokio::select! {
                done = conn => {
                    if let Err(e) = done {
                        tracing::debug!("whatsapp webhook: connection from {peer}: {e}");
                    }
                }
                _ = slot.close.notified() => {
                    tracing::debug!("whatsapp webhook: connection from {peer} closed to make room");
                }
            }
        });
    }
}

/// The connections being served, oldest first.
#[derive(Default)]
struct Held {
    next: u64,
    by_age: BTreeMap<u64, (Arc<Notify>, Arc<AtomicBool>)>,
}

/// One held connection; dropping it (the connection's task ends) frees its place.
struct Slot {
    held: Arc<Mutex<Held>>,
    id: u64,
    close: Arc<Notify>,
    /// Set from the moment a signed POST is stored until the connection's next
    /// request: such a connection is never the one closed to make room (its
    /// answer tells Meta not to retry). Only a signed POST sets it.
    storing: Arc<AtomicBool>,
}

impl Held {
    /// A place for a new connection; at the cap, the oldest connection that is
    /// not storing is told to close. The newest is kept: a stalled client is
    /// old by the time it matters, and Meta's POST takes milliseconds.
    fn admit(held: &Arc<Mutex<Held>>, cap: usize) -> Slot {
        let mut h = held.lock().unwrap_or_else(|e| e.into_inner());
        while h.by_age.len() >= cap.max(1) {
            let Some(oldest) =
                h.by_age.iter().find(|(_, (_, storing))| !storing.load(Ordering::Acquire)).map(|(id, _)| *id)
            else {
                break;
            };
            if let Some((close, _)) = h.by_age.remove(&oldest) {
                // A permit is kept if its task is not waiting yet.
                close.notify_one();
            }
        }
        let (id, close, storing) = (h.next, Arc::new(Notify::new()), Arc::new(AtomicBool::new(false)));
        h.next += 1;
        h.by_age.insert(id, (close.clone(), storing.clone()));
        Slot { held: held.clone(), id, close, storing }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).by_age.remove(&self.id);
    }
}

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn handle(
    req: Request<Incoming>,
    rx: &Receiver,
    storing: &AtomicBool,
    body_read: Duration,
) -> Response<Full<Bytes>> {
    storing.store(false, Ordering::Release);
    if req.uri().path() != PATH {
        return answer(StatusCode::NOT_FOUND, "");
    }
    match *req.method() {
        Method::GET => verify(req.uri().query().unwrap_or(""), &rx.verify_token),
        Method::POST => post(req, rx, storing, body_read).await,
        _ => answer(StatusCode::METHOD_NOT_ALLOWED, ""),
    }
}

/// Meta's subscription check: echo `hub.challenge` when the token matches.
pub fn verify(query: &str, verify_token: &str) -> Response<Full<Bytes>> {
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "hub.mode" => mode = Some(v.into_owned()),
            "hub.verify_token" => token = Some(v.into_owned()),
            "hub.challenge" => challenge = Some(v.into_owned()),
            _ => {}
        }
    }
    let matches = token.is_some_and(|t| same_bytes(t.as_bytes(), verify_token.as_bytes()));
    match (mode.as_deref(), challenge) {
        (Some("subscribe"), Some(c)) if matches => {
            tracing::info!("whatsapp webhook: verified by Meta");
            answer(StatusCode::OK, c)
        }
        _ => {
            tracing::warn!("whatsapp webhook: a verification with a wrong token was refused");
            answer(StatusCode::FORBIDDEN, "")
        }
    }
}

/// Equal, in time that does not depend on where they differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn post(
    req: Request<Incoming>,
    rx: &Receiver,
    storing: &AtomicBool,
    body_read: Duration,
) -> Response<Full<Bytes>> {
    let signature = req.headers().get("x-hub-signature-256").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match tokio::time::timeout(body_read, Limited::new(req.into_body(), MAX_BODY).collect()).await {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => {
            tracing::warn!("whatsapp webhook: body refused: {e}");
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "");
        }
        Err(_) => {
            // The unread rest of the body makes hyper close the connection
            // after this answer. Debug: a crowd of stalled clients must not
            // fill the log too.
            tracing::debug!("whatsapp webhook: a body not sent within {body_read:?} was cut");
            return answer(StatusCode::REQUEST_TIMEOUT, "");
        }
    };
    if !webhook::signature_ok(&rx.app_secret, &body, signature.as_deref()) {
        // One line, nothing of the body: it is nobody's until it is signed.
        tracing::warn!(
            "whatsapp webhook: a POST of {} bytes with a missing or wrong signature was refused",
            body.len()
        );
        return answer(StatusCode::UNAUTHORIZED, "");
    }
    let mut parsed = webhook::parse(&body, &rx.phone_number_id);
    let has_media = !parsed.media.is_empty();
    let now = jiff::Timestamp::now().as_second();
    // The body as signed, with its signature: each message of it keeps it as its original.
    let original = std::sync::Arc::new(
        crate::model::RawOriginal {
            kind: "whatsapp",
            source: serde_json::json!({ "phone_number_id": rx.phone_number_id }),
            bytes: body.to_vec(),
            partial: None,
            signature: signature.map(|s| format!("X-Hub-Signature-256: {s}")),
            received_at: now,
            packed: None,
        }
        .packed(),
    );
    for e in &mut parsed.events {
        if let SyncEvent::Message(m) = e {
            let mut raw = (*original).clone();
            raw.source["wamid"] = serde_json::Value::String(m.remote_id.clone());
            m.raw = Some(std::sync::Arc::new(raw));
        }
    }
    let (channel, batch) = (rx.channel, parsed.events);
    storing.store(true, Ordering::Release);
    match rx.writer.call(move |c| events::apply(c, channel, &batch, now)).await {
        Ok(applied) => {
            if rx.die_after_commit {
                std::process::abort();
            }
            if applied.duplicates > 0 {
                tracing::info!("whatsapp webhook: {} event(s) seen before (a retry)", applied.duplicates);
            }
            if has_media {
                let _ = rx.media_wake.send(());
            }
            answer(StatusCode::OK, "")
        }
        Err(e) => {
            // Not stored: Meta retries a failed delivery.
            tracing::error!("whatsapp webhook: cannot store a POST: {e}");
            answer(StatusCode::SERVICE_UNAVAILABLE, "")
        }
    }
}

/// Events of a POST as they would be stored (the demo uses this path).
pub fn events_of(body: &[u8], phone_number_id: &str) -> Vec<SyncEvent> {
    webhook::parse(body, phone_number_id).events
}
