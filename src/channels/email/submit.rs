//! SMTP submission that knows how far it got, so that a lost answer never
//! becomes a second copy at the client:
//! - trouble before the mail's data went out: not sent, try again later;
//! - a definite refusal (a 4xx or 5xx reply, at any step): not sent;
//! - a broken or silent connection once the data began: the server may have
//!   queued it — "may have been sent", never resent by itself.
//!
//! Every wait has a deadline (connect, each reply, the reply to the data), so a
//! silent server costs its own account one send, never the whole outbox.

use super::oauth;
use crate::config::Server;
use crate::sync::dispatcher::SendError;
use lettre::address::Envelope;
use lettre::transport::smtp::Error as SmtpError;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use std::future::Future;
use std::time::Duration;

/// How long each wait may take.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    /// TCP connect, TLS and the greeting.
    pub connect: Duration,
    /// Each command's reply (EHLO, AUTH, MAIL, RCPT, DATA).
    pub reply: Duration,
}

impl Deadlines {
    /// From the server's `timeout_seconds` (default 60).
    pub fn for_server(server: &Server) -> Deadlines {
        let reply = Duration::from_secs(server.timeout_seconds.unwrap_or(60).max(1));
        Deadlines { connect: reply.min(Duration::from_secs(30)), reply }
    }

    /// Writing the data and hearing the reply to its final dot: the reply
    /// deadline plus a second per 64 KiB (a slow uplink, a big attachment).
    pub fn data(&self, bytes: usize) -> Duration {
        self.reply + Duration::from_secs((bytes / (64 * 1024)) as u64)
    }
}

/// Where a submission stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Connect, TLS, EHLO, AUTH, MAIL, RCPT, DATA: nothing of the mail has left.
    Before,
    /// The data is on its way or done; only the server's reply is missing.
    Data,
}

/// What proves who we are to the server.
#[derive(Debug, Clone)]
pub enum Credential {
    /// A password (empty user: no AUTH at all).
    Password(String),
    /// An OAuth2 access token printed by this command (argv, no shell), run
    /// again once when the server refuses the token.
    OAuth2 { command: Vec<String> },
    /// An access token of pult's own OAuth2 client for this account,
    /// refreshed once more when the server refuses it.
    Flow { account: String, config: crate::config::OAuth2Config },
}

impl Credential {
    /// An access token; `again`: the last one was refused.
    async fn token(&self, again: bool) -> Result<String, String> {
        match self {
            Credential::Password(_) => Err("not a token".into()),
            Credential::OAuth2 { command } => {
                crate::secrets::read_async(Some(command), None).await.map_err(|e| e.to_string())
            }
            Credential::Flow { account, config } => {
                crate::oauth2::access_token(account, config, again).await.map_err(|e| e.to_string())
            }
        }
    }
}

/// Submits one mail; `Ok` means the server answered `250` to its data, and
/// holds that answer as the server worded it (`250 2.0.0 Ok: queued as …`).
pub async fn submit(
    server: &Server,
    credential: Credential,
    envelope: &Envelope,
    raw: &[u8],
    deadlines: Deadlines,
) -> Result<String, SendError> {
    let host = server.host.clone();
    let mut conn = open(server, credential, deadlines).await.map_err(|e| classify(&host, Phase::Before, e))?;
    let result = transaction(&mut conn, envelope, raw, deadlines).await;
    match result {
        Ok(answer) => {
            // The mail is the server's now; a lost QUIT changes nothing.
            let _ = tokio::time::timeout(deadlines.reply, conn.quit()).await;
            Ok(answer)
        }
        Err((phase, e)) => {
            if phase == Phase::Before {
                let _ = tokio::time::timeout(Duration::from_secs(2), conn.abort()).await;
            }
            Err(classify(&host, phase, e))
        }
    }
}

/// `pult doctor`: connect, TLS, EHLO and AUTH as a send would, then QUIT; no
/// mail. The error says what failed, never the password.
pub async fn check(server: &Server, credential: Credential, deadlines: Deadlines) -> Result<(), String> {
    let mut conn = open(server, credential, deadlines).await.map_err(|f| match f {
        Failure::Smtp(e) if e.is_permanent() => format!("refused: {e}"),
        Failure::Smtp(e) => e.to_string(),
        Failure::Silent(why) | Failure::Setup(why) | Failure::Token(why) => why,
    })?;
    let _ = tokio::time::timeout(deadlines.reply, conn.quit()).await;
    Ok(())
}

/// A wait with a deadline; the timeout is an I/O error like a broken link.
async fn within<T>(limit: Duration, what: &str, f: impl Future<Output = Result<T, SmtpError>>) -> Result<T, Failure> {
    match tokio::time::timeout(limit, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failure::Smtp(e)),
        Err(_) => Err(Failure::Silent(format!("no answer to {what} within {} s", limit.as_secs()))),
    }
}

/// Why a step did not complete.
#[derive(Debug)]
enum Failure {
    Smtp(SmtpError),
    /// The server said nothing before the deadline.
    Silent(String),
    /// Our own configuration (TLS parameters, a CA file).
    Setup(String),
    /// The token command failed: nothing was sent; it may work once a person
    /// logs in again, so the mail waits.
    Token(String),
}

async fn open(server: &Server, credential: Credential, d: Deadlines) -> Result<AsyncSmtpConnection, Failure> {
    let hello = ClientId::default();
    let wrapper = match server.tls.as_str() {
        "starttls" | "none" => None,
        _ => Some(tls_parameters(server)?),
    };
    let connect = AsyncSmtpConnection::connect_tokio1(
        (server.host.as_str(), server.port),
        Some(d.connect),
        &hello,
        wrapper,
        None,
    );
    let mut conn = within(d.connect + d.reply, "the greeting", connect).await?;
    if server.tls == "starttls" {
        let params = tls_parameters(server)?;
        within(d.reply, "STARTTLS", conn.starttls(params, &hello)).await?;
    }
    match credential {
        Credential::Password(_) if server.user.is_empty() => {}
        Credential::Password(password) => {
            let credentials = Credentials::new(server.user.clone(), password);
            within(d.reply, "AUTH", conn.auth(DEFAULT_MECHANISMS, &credentials)).await?;
        }
        token => {
            // XOAUTH2 where offered (lettre reads only the mechanisms it knows), else OAUTHBEARER.
            let mechanism = if conn.server_info().supports_auth_mechanism(Mechanism::Xoauth2) {
                oauth::Mechanism::XOAuth2
            } else {
                oauth::Mechanism::OAuthBearer
            };
            for attempt in 0..2 {
                let token = token.token(attempt == 1).await.map_err(Failure::Token)?;
                match bearer_auth(&mut conn, server, mechanism, &token, d).await {
                    Ok(()) => break,
                    Err(Failure::Smtp(e)) if e.is_permanent() && attempt == 0 => {
                        tracing::info!(
                            "SMTP {}: the access token was refused; running the token command again",
                            server.host
                        );
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(conn)
}

/// One command line as lettre writes it.
struct Line(String);

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\r\n", self.0)
    }
}

/// `AUTH <mechanism> <token>`; a `334` error challenge is answered as the
/// mechanism wants, so that the server ends the exchange with its refusal and
/// the connection can try again.
async fn bearer_auth(
    conn: &mut AsyncSmtpConnection,
    server: &Server,
    mechanism: oauth::Mechanism,
    token: &str,
    d: Deadlines,
) -> Result<(), Failure> {
    let first = oauth::base64(&mechanism.initial_response(&server.user, token, &server.host, server.port));
    let reply = within(d.reply, "AUTH", conn.command(Line(format!("AUTH {} {first}", mechanism.name())))).await?;
    if reply.has_code(334) {
        // Only a refusal follows: the answer to the error is an error reply.
        let answer = Line(oauth::base64(mechanism.after_error()));
        within(d.reply, "AUTH", conn.command(answer)).await?;
        return Err(Failure::Setup("the server answered the token with a challenge but no refusal".into()));
    }
    Ok(())
}

fn tls_parameters(server: &Server) -> Result<TlsParameters, Failure> {
    let mut p = TlsParameters::builder(server.host.clone());
    // As IMAP does (`roots`): the machine's bundle beside the compiled-in roots, then `ca_file`.
    let extra = match &server.ca_file {
        Some(ca) => super::roots::pem_file(ca).map_err(Failure::Setup)?,
        None => Vec::new(),
    };
    for der in super::roots::system().into_iter().chain(extra) {
        if let Ok(cert) = Certificate::from_der(der.to_vec()) {
            p = p.add_root_certificate(cert);
        }
    }
    p.build_rustls().map_err(|e| Failure::Setup(e.to_string()))
}

/// MAIL, RCPT, DATA, then the data: the phase says where a failure struck.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    raw: &[u8],
    d: Deadlines,
) -> Result<String, (Phase, Failure)> {
    let before = |f: Failure| (Phase::Before, f);
    let mut options = Vec::new();
    let non_ascii =
        envelope.from().into_iter().chain(envelope.to()).any(|a| !(a.user().is_ascii() && a.domain().is_ascii()));
    if non_ascii {
        if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(before(Failure::Setup("an address is not ASCII and the server has no SMTPUTF8".into())));
        }
        options.push(MailParameter::SmtpUtfEight);
    }
    if !raw.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            return Err(before(Failure::Setup("the mail is 8-bit and the server has no 8BITMIME".into())));
        }
        options.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    within(d.reply, "MAIL FROM", conn.command(Mail::new(envelope.from().cloned(), options))).await.map_err(before)?;
    for to in envelope.to() {
        within(d.reply, "RCPT TO", conn.command(Rcpt::new(to.clone(), vec![]))).await.map_err(before)?;
    }
    within(d.reply, "DATA", conn.command(Data)).await.map_err(before)?;
    // From the first byte of data on, a server that goes quiet may have the mail.
    let taken = within(d.data(raw.len()), "the mail's data", conn.message(raw)).await.map_err(|f| (Phase::Data, f))?;
    // Kept for the record, cut to a sane length: a server's words, not ours.
    let words: String = taken.message().collect::<Vec<_>>().join(" ").chars().take(500).collect();
    Ok(format!("{} {words}", taken.code()))
}

/// What a failure means for the outbox row.
fn classify(host: &str, phase: Phase, failure: Failure) -> SendError {
    match failure {
        Failure::Setup(why) => SendError::Permanent(format!("SMTP {host}: {why}")),
        Failure::Token(why) => SendError::Temporary(format!("SMTP {host}: {why}")),
        // A reply with a code is a definite answer: the server did not take it.
        Failure::Smtp(e) if e.is_permanent() => SendError::Permanent(format!("SMTP {host}: {e}")),
        Failure::Smtp(e) if e.is_transient() => SendError::Temporary(format!("SMTP {host}: {e}")),
        Failure::Smtp(e) if phase == Phase::Before => SendError::Temporary(format!("SMTP {host}: {e}")),
        Failure::Silent(why) if phase == Phase::Before => SendError::Temporary(format!("SMTP {host}: {why}")),
        Failure::Smtp(e) => SendError::MaybeSent(format!(
            "SMTP {host}: the connection broke after the mail's data went out ({e}); the server may have it"
        )),
        Failure::Silent(why) => SendError::MaybeSent(format!("SMTP {host}: {why}; the server may have it")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_failure_after_the_data_began_is_maybe_sent() {
        let silent = || Failure::Silent("no answer".into());
        assert!(matches!(classify("h", Phase::Before, silent()), SendError::Temporary(_)));
        assert!(matches!(classify("h", Phase::Data, silent()), SendError::MaybeSent(_)));
        assert!(matches!(classify("h", Phase::Data, Failure::Setup("x".into())), SendError::Permanent(_)));
        let d = Deadlines { connect: Duration::from_secs(5), reply: Duration::from_secs(10) };
        assert_eq!(d.data(10 * 64 * 1024), Duration::from_secs(20));
    }
}
