//! The webhook receiver: `GET /whatsapp` answers Meta's verification,
//! `POST /whatsapp` takes a signed batch of events. A POST is answered `200`
//! only after what it carries is committed to the store, so a crash before the
//! answer makes Meta retry, and the retry is stored once (events are keyed by
//! their wamid). Only the process that holds the worker lock listens.

use super::webhook;
use crate::model::SyncEvent;
use crate::store::{Writer, events};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::sync::Arc;
use tokio::net::TcpListener;

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

/// Serves until the task is aborted.
pub async fn serve(listener: TcpListener, receiver: Arc<Receiver>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("whatsapp webhook: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let receiver = receiver.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let receiver = receiver.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, &receiver).await) }
            });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(std::time::Duration::from_secs(20))
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("whatsapp webhook: connection from {peer}: {e}");
            }
        });
    }
}

fn answer(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r
}

async fn handle(req: Request<Incoming>, rx: &Receiver) -> Response<Full<Bytes>> {
    if req.uri().path() != PATH {
        return answer(StatusCode::NOT_FOUND, "");
    }
    match *req.method() {
        Method::GET => verify(req.uri().query().unwrap_or(""), &rx.verify_token),
        Method::POST => post(req, rx).await,
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

async fn post(req: Request<Incoming>, rx: &Receiver) -> Response<Full<Bytes>> {
    let signature = req.headers().get("x-hub-signature-256").and_then(|v| v.to_str().ok()).map(str::to_string);
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::warn!("whatsapp webhook: body refused: {e}");
            return answer(StatusCode::PAYLOAD_TOO_LARGE, "");
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
    let parsed = webhook::parse(&body, &rx.phone_number_id);
    let has_media = !parsed.media.is_empty();
    let (channel, batch) = (rx.channel, parsed.events);
    let now = jiff::Timestamp::now().as_second();
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
