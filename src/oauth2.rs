//! pult's own OAuth2 client (`oauth2 = { provider = …, client_id = … }` and
//! `pult auth ACCOUNT`): one login by the device-code flow (RFC 8628, Microsoft)
//! or a loopback redirect on 127.0.0.1 with PKCE (RFC 8252, RFC 7636: Google,
//! Yandex, Mail.ru), both usable over SSH; then access tokens refreshed before
//! they expire (RFC 6749 §6), a rotated refresh token kept at once.
//!
//! The tokens live in `<data dir>/oauth2/<account>.json`, mode 0600, written
//! whole to a temporary file and renamed. They are never logged, shown or put
//! in an error; errors carry the endpoint's `error` code only.

use crate::config::OAuth2Config;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Refresh when the access token has less than this left (seconds).
const EARLY: i64 = 120;

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// No login yet, or the refresh token was revoked or expired: a person
    /// must run `pult auth ACCOUNT`.
    #[error("needs login: pult auth {0}")]
    NeedsLogin(String),
    #[error("OAuth2 {0}")]
    Other(String),
}

/// Where a provider's endpoints are and what it asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Endpoints {
    pub auth_url: Option<String>,
    pub token_url: String,
    pub device_url: Option<String>,
    pub scopes: Vec<String>,
}

/// The provider's endpoints, with the config's own URLs and scopes winning.
pub fn endpoints(cfg: &OAuth2Config) -> Result<Endpoints, FlowError> {
    let tenant = cfg.tenant.as_deref().unwrap_or("common");
    let ms = |path: &str| format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/{path}");
    let (auth, token, device, scopes): (Option<String>, Option<String>, Option<String>, &[&str]) =
        match cfg.provider.as_str() {
            "google" => (
                Some("https://accounts.google.com/o/oauth2/v2/auth".into()),
                Some("https://oauth2.googleapis.com/token".into()),
                None,
                &["https://mail.google.com/"],
            ),
            "microsoft" => (
                Some(ms("authorize")),
                Some(ms("token")),
                Some(ms("devicecode")),
                &[
                    "https://outlook.office.com/IMAP.AccessAsUser.All",
                    "https://outlook.office.com/SMTP.Send",
                    "offline_access",
                ],
            ),
            "yandex" => (
                Some("https://oauth.yandex.ru/authorize".into()),
                Some("https://oauth.yandex.ru/token".into()),
                None,
                &["mail:imap_full", "mail:smtp"],
            ),
            "mailru" => (
                Some("https://oauth.mail.ru/login".into()),
                Some("https://oauth.mail.ru/token".into()),
                None,
                &["mail.imap"],
            ),
            _ => (None, None, None, &[]),
        };
    let token_url = cfg
        .token_url
        .clone()
        .or(token)
        .ok_or_else(|| FlowError::Other("provider \"custom\" needs token_url".into()))?;
    Ok(Endpoints {
        auth_url: cfg.auth_url.clone().or(auth),
        token_url,
        device_url: cfg.device_url.clone().or(device),
        scopes: cfg.scopes.clone().unwrap_or_else(|| scopes.iter().map(|s| s.to_string()).collect()),
    })
}

/// What is kept between runs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Tokens {
    pub refresh_token: String,
    #[serde(default)]
    pub access_token: String,
    /// Unix time the access token stops working (0: unknown, refresh first).
    #[serde(default)]
    pub expires_at: i64,
}

pub fn token_file(account: &str) -> PathBuf {
    let safe: String =
        account.chars().map(|c| if c.is_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect();
    crate::paths::data_dir().join("oauth2").join(format!("{safe}.json"))
}

pub fn load(account: &str) -> Option<Tokens> {
    let text = std::fs::read_to_string(token_file(account)).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes the tokens, 0600, replacing the old file in one rename.
pub fn save(account: &str, tokens: &Tokens) -> Result<(), FlowError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = token_file(account);
    let dir = path.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let fail = |e: std::io::Error| FlowError::Other(format!("cannot keep the tokens in {}: {e}", dir.display()));
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let tmp = path.with_extension("json.tmp");
    let mut f =
        std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&tmp).map_err(fail)?;
    let text = serde_json::to_string(tokens).map_err(|e| FlowError::Other(e.to_string()))?;
    f.write_all(text.as_bytes()).and_then(|_| f.sync_all()).map_err(fail)?;
    std::fs::rename(&tmp, &path).map_err(fail)
}

/// When the stored access token expires, for `pult doctor`.
pub fn expires_at(account: &str) -> Option<i64> {
    load(account).map(|t| t.expires_at).filter(|t| *t > 0)
}

/// A current access token: the stored one while it has time left, else a
/// refreshed one (`force`: refresh anyway, the server refused the stored one).
pub async fn access_token(account: &str, cfg: &OAuth2Config, force: bool) -> Result<String, FlowError> {
    // One refresh at a time per process: two workers would each rotate the
    // refresh token and one of them would be left with a dead one.
    static REFRESHING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let now = jiff::Timestamp::now().as_second();
    let fresh = |t: &Tokens| !t.access_token.is_empty() && t.expires_at - EARLY > now;
    let stored = load(account).ok_or_else(|| FlowError::NeedsLogin(account.to_string()))?;
    if !force && fresh(&stored) {
        return Ok(stored.access_token);
    }
    let _one = REFRESHING.lock().await;
    let stored = load(account).ok_or_else(|| FlowError::NeedsLogin(account.to_string()))?;
    if !force && fresh(&stored) {
        return Ok(stored.access_token);
    }
    let ends = endpoints(cfg)?;
    let mut form = vec![
        ("grant_type", "refresh_token".to_string()),
        ("refresh_token", stored.refresh_token.clone()),
        ("client_id", cfg.client_id.clone()),
    ];
    if let Some(secret) = client_secret(cfg).await? {
        form.push(("client_secret", secret));
    }
    let answer = post(&ends.token_url, &form).await?;
    let got = match answer {
        Answer::Tokens(t) => t,
        Answer::Error(code) if code == "invalid_grant" => return Err(FlowError::NeedsLogin(account.to_string())),
        Answer::Error(code) => return Err(FlowError::Other(format!("token endpoint refused the refresh: {code}"))),
    };
    let tokens = Tokens {
        // Rotation: a new refresh token replaces the old one at once.
        refresh_token: got.refresh_token.unwrap_or(stored.refresh_token),
        access_token: got.access_token.clone(),
        expires_at: now + got.expires_in.unwrap_or(3600),
    };
    save(account, &tokens)?;
    Ok(got.access_token)
}

async fn client_secret(cfg: &OAuth2Config) -> Result<Option<String>, FlowError> {
    match cfg.client_secret_command.as_deref() {
        Some(cmd) if !cmd.is_empty() => crate::secrets::read_async(Some(cmd), None)
            .await
            .map(Some)
            .map_err(|e| FlowError::Other(format!("client_secret_command: {e}"))),
        _ => Ok(None),
    }
}

#[derive(Debug, Deserialize)]
struct Granted {
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

enum Answer {
    Tokens(Granted),
    /// The `error` code of RFC 6749 §5.2 (`invalid_grant`, `authorization_pending`, …).
    Error(String),
}

fn http() -> Result<reqwest::Client, FlowError> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .connect_timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| FlowError::Other(e.to_string()))
}

/// A form POST to a token endpoint; the answer's tokens or its error code.
async fn post(url: &str, form: &[(&str, String)]) -> Result<Answer, FlowError> {
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
    let resp = http()?
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("Accept", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| FlowError::Other(format!("token endpoint unreachable: {}", e.without_url())))?;
    let status = resp.status();
    let value: serde_json::Value =
        resp.json().await.map_err(|_| FlowError::Other(format!("token endpoint answered {status} without JSON")))?;
    if let Some(code) = value.get("error").and_then(|e| e.as_str()) {
        return Ok(Answer::Error(crate::sanitize::line(code).into_owned()));
    }
    serde_json::from_value(value)
        .map(Answer::Tokens)
        .map_err(|_| FlowError::Other(format!("token endpoint answered {status} without an access token")))
}

/// What the device-code flow asks the person to do.
#[derive(Debug, Clone, Deserialize)]
pub struct DeviceCode {
    pub device_code: String,
    pub user_code: String,
    #[serde(alias = "verification_url")]
    pub verification_uri: String,
    #[serde(default)]
    pub interval: Option<u64>,
    #[serde(default)]
    pub expires_in: Option<u64>,
}

/// Device-code flow (RFC 8628): `show` tells the person the URL and the code;
/// the token endpoint is then polled until they have signed in.
pub async fn device_login(account: &str, cfg: &OAuth2Config, show: impl FnOnce(&DeviceCode)) -> Result<(), FlowError> {
    let ends = endpoints(cfg)?;
    let url = ends.device_url.clone().ok_or_else(|| FlowError::Other("no device_url for this provider".into()))?;
    let form = [("client_id", cfg.client_id.clone()), ("scope", ends.scopes.join(" "))];
    let body: String = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form.iter()).finish();
    let resp = http()?
        .post(&url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| FlowError::Other(format!("device endpoint unreachable: {}", e.without_url())))?;
    let code: DeviceCode =
        resp.json().await.map_err(|_| FlowError::Other("the device endpoint gave no code".into()))?;
    show(&code);
    let mut interval = code.interval.unwrap_or(5).max(1);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(code.expires_in.unwrap_or(900));
    let mut form = vec![
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code".to_string()),
        ("device_code", code.device_code.clone()),
        ("client_id", cfg.client_id.clone()),
    ];
    if let Some(secret) = client_secret(cfg).await? {
        form.push(("client_secret", secret));
    }
    loop {
        if std::time::Instant::now() > deadline {
            return Err(FlowError::Other("the code expired before the sign-in; run pult auth again".into()));
        }
        tokio::time::sleep(std::time::Duration::from_secs(interval)).await;
        match post(&ends.token_url, &form).await? {
            Answer::Tokens(t) => return keep(account, t),
            Answer::Error(e) if e == "authorization_pending" => {}
            Answer::Error(e) if e == "slow_down" => interval += 5,
            Answer::Error(e) => return Err(FlowError::Other(format!("sign-in refused: {e}"))),
        }
    }
}

fn keep(account: &str, t: Granted) -> Result<(), FlowError> {
    let refresh_token =
        t.refresh_token.ok_or_else(|| FlowError::Other("no refresh token granted (offline access?)".into()))?;
    let now = jiff::Timestamp::now().as_second();
    save(
        account,
        &Tokens { refresh_token, access_token: t.access_token, expires_at: now + t.expires_in.unwrap_or(3600) },
    )
}

/// Random URL-safe text (PKCE verifier, state).
fn random(bytes: usize) -> Result<String, FlowError> {
    use ring::rand::SecureRandom;
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new().fill(&mut buf).map_err(|_| FlowError::Other("no randomness".into()))?;
    Ok(base64url(&buf))
}

fn base64url(bytes: &[u8]) -> String {
    const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    crate::channels::email::mutf7::base64(bytes, URL, false)
}

/// The PKCE challenge of a verifier (S256).
pub fn challenge(verifier: &str) -> String {
    base64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// The code and state in a redirect (`/?code=…&state=…`, or the whole URL
/// the person pasted from the browser's address bar).
pub fn code_of(redirect: &str) -> Option<(String, String)> {
    let query = redirect.split_once('?').map(|(_, q)| q).unwrap_or(redirect);
    let query = query.split([' ', '#']).next().unwrap_or(query);
    let (mut code, mut state) = (None, None);
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "code" => code = Some(v.into_owned()),
            "state" => state = Some(v.into_owned()),
            _ => {}
        }
    }
    Some((code?, state.unwrap_or_default()))
}

/// Loopback redirect (RFC 8252) with PKCE: `show` gets the URL to open; the
/// code comes back to 127.0.0.1, or from `pasted` (the address the browser
/// ended on, copied into the terminal over SSH), whichever is first.
pub async fn loopback_login(
    account: &str,
    cfg: &OAuth2Config,
    show: impl FnOnce(&str),
    pasted: impl std::future::Future<Output = Option<String>>,
) -> Result<(), FlowError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ends = endpoints(cfg)?;
    let auth_url = ends.auth_url.clone().ok_or_else(|| FlowError::Other("no auth_url for this provider".into()))?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| FlowError::Other(e.to_string()))?;
    let port = listener.local_addr().map_err(|e| FlowError::Other(e.to_string()))?.port();
    let redirect = format!("http://127.0.0.1:{port}/");
    let (verifier, state) = (random(48)?, random(16)?);
    let mut url = url::Url::parse(&auth_url).map_err(|e| FlowError::Other(format!("auth_url: {e}")))?;
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", &cfg.client_id)
        .append_pair("redirect_uri", &redirect)
        .append_pair("scope", &ends.scopes.join(" "))
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge(&verifier))
        .append_pair("code_challenge_method", "S256")
        .append_pair("access_type", "offline")
        .append_pair("prompt", "consent");
    show(url.as_str());
    let from_browser = async {
        loop {
            let Ok((mut conn, _)) = listener.accept().await else { continue };
            // The request line may come in pieces: read up to the end of the head.
            let mut buf = Vec::with_capacity(1024);
            let mut chunk = [0u8; 1024];
            let reading = async {
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 16 * 1024 {
                    match conn.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            };
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), reading).await;
            let head = String::from_utf8_lossy(&buf).into_owned();
            let target = head.split_whitespace().nth(1).unwrap_or("").to_string();
            let page = "pult: signed in. You can close this tab.";
            let _ = conn
                .write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                        page.len()
                    )
                    .as_bytes(),
                )
                .await;
            if let Some(found) = code_of(&target) {
                return found;
            }
        }
    };
    let pasted = async {
        match pasted.await.and_then(|line| code_of(line.trim())) {
            Some(found) => found,
            None => std::future::pending().await,
        }
    };
    let (code, got_state) = tokio::select! {
        found = from_browser => found,
        found = pasted => found,
    };
    if got_state != state {
        return Err(FlowError::Other("the redirect's state does not match: not the sign-in pult started".into()));
    }
    let mut form = vec![
        ("grant_type", "authorization_code".to_string()),
        ("code", code),
        ("redirect_uri", redirect),
        ("client_id", cfg.client_id.clone()),
        ("code_verifier", verifier),
    ];
    if let Some(secret) = client_secret(cfg).await? {
        form.push(("client_secret", secret));
    }
    match post(&ends.token_url, &form).await? {
        Answer::Tokens(t) => keep(account, t),
        Answer::Error(e) => Err(FlowError::Other(format!("sign-in refused: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_and_redirects() {
        // RFC 7636 appendix B.
        assert_eq!(
            challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(
            code_of("http://127.0.0.1:8080/?state=xyz&code=4%2F0Ab&scope=mail")
                .as_ref()
                .map(|(c, s)| (c.as_str(), s.as_str())),
            Some(("4/0Ab", "xyz"))
        );
        assert_eq!(code_of("/?error=access_denied"), None);
    }
}
