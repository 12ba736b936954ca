//! A fake authorization server on 127.0.0.1. For Dovecot's `oauth2` passdb,
//! token introspection (RFC 7662): `POST /introspect` with `token=…`; a known
//! valid token is `{"active": true, "username": …}`, anything else (expired,
//! revoked, unknown) `{"active": false}`, as §2.2 says. For pult's own client,
//! a token endpoint (RFC 6749 §5, §6) that rotates refresh tokens
//! (`POST /token`) and a device-code endpoint (RFC 8628, `POST /devicecode`)
//! whose sign-in is pending at the first poll and done at the second.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct Introspection {
    pub port: u16,
    /// Token → the user it belongs to, while it is valid.
    valid: Arc<Mutex<HashMap<String, String>>>,
    /// Every token asked about, in order.
    pub asked: Arc<Mutex<Vec<String>>>,
    auth: Arc<Mutex<AuthServer>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Introspection {
    pub fn start() -> Introspection {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let valid: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let auth: Arc<Mutex<AuthServer>> = Arc::default();
        let (v, a, s, au) = (valid.clone(), asked.clone(), stop.clone(), auth.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = answer(conn, &v, &a, &au);
                }
            }
        });
        Introspection { port, valid, asked, auth, stop, thread: Some(thread) }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/introspect", self.port)
    }

    pub fn allow(&self, token: &str, user: &str) {
        self.valid.lock().expect("lock").insert(token.into(), user.into());
    }

    /// The authorization server forgets it (revoked, or expired).
    pub fn revoke(&self, token: &str) {
        self.valid.lock().expect("lock").remove(token);
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("lock").clone()
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Access tokens the token endpoint issues from now on expire in `seconds`.
    pub fn set_lifetime(&self, seconds: i64) {
        self.auth.lock().expect("lock").lifetime = seconds;
    }

    /// Refresh grants answered with new tokens so far.
    pub fn refreshes(&self) -> usize {
        self.auth.lock().expect("lock").refreshes
    }

    /// The refresh tokens still good.
    pub fn live_refresh_tokens(&self) -> Vec<String> {
        self.auth.lock().expect("lock").refresh.clone()
    }

    /// The browser arrived at the sign-in page with this PKCE challenge.
    pub fn signing_in_with(&self, challenge: &str) {
        self.auth.lock().expect("lock").challenge = Some(challenge.to_string());
    }

    /// Every refresh and access token revoked (a password change, an admin).
    pub fn revoke_everything(&self) {
        self.auth.lock().expect("lock").refresh.clear();
        self.valid.lock().expect("lock").clear();
    }
}

/// What the token endpoint knows.
#[derive(Default)]
struct AuthServer {
    /// Refresh tokens still good (one per grant: rotation retires the old one).
    refresh: Vec<String>,
    issued: usize,
    refreshes: usize,
    lifetime: i64,
    device_polls: usize,
    /// The PKCE challenge of the sign-in under way (what the browser brought).
    challenge: Option<String>,
}

impl AuthServer {
    /// New tokens for alice; the access token becomes valid for introspection.
    fn grant(&mut self, valid: &Mutex<HashMap<String, String>>) -> String {
        self.issued += 1;
        let (access, refresh) = (format!("at-{}-secret", self.issued), format!("rt-{}-secret", self.issued));
        valid.lock().expect("lock").insert(access.clone(), "alice".into());
        self.refresh.push(refresh.clone());
        let lifetime = if self.lifetime > 0 { self.lifetime } else { 3600 };
        format!(
            "{{\"access_token\":\"{access}\",\"token_type\":\"Bearer\",\"expires_in\":{lifetime},\"refresh_token\":\"{refresh}\"}}"
        )
    }
}

/// (status line, JSON) for a request to the authorization server's endpoints.
fn authorize(
    path: &str,
    form: &HashMap<String, String>,
    auth: &Mutex<AuthServer>,
    valid: &Mutex<HashMap<String, String>>,
    port: u16,
) -> (&'static str, String) {
    let error = |code: &str| ("400 Bad Request", format!("{{\"error\":\"{code}\"}}"));
    let mut a = auth.lock().expect("lock");
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    match (path, get("grant_type")) {
        ("/devicecode", _) => (
            "200 OK",
            format!(
                "{{\"device_code\":\"dev-1\",\"user_code\":\"WDJB-MJHT\",\"verification_uri\":\"http://127.0.0.1:{port}/device\",\"interval\":1,\"expires_in\":60}}"
            ),
        ),
        ("/token", "urn:ietf:params:oauth:grant-type:device_code") if get("device_code") == "dev-1" => {
            a.device_polls += 1;
            if a.device_polls < 2 { error("authorization_pending") } else { ("200 OK", a.grant(valid)) }
        }
        ("/token", "authorization_code") => {
            // PKCE (RFC 7636 §4.6): the verifier must hash to the challenge the browser carried.
            let verifier = get("code_verifier");
            let ok = get("code") == "code-1"
                && a.challenge.as_deref() == Some(pult::oauth2::challenge(verifier).as_str())
                && get("redirect_uri").starts_with("http://127.0.0.1:");
            if ok { ("200 OK", a.grant(valid)) } else { error("invalid_grant") }
        }
        ("/token", "refresh_token") => {
            let old = get("refresh_token").to_string();
            match a.refresh.iter().position(|r| *r == old) {
                Some(i) => {
                    a.refresh.remove(i);
                    a.refreshes += 1;
                    ("200 OK", a.grant(valid))
                }
                None => error("invalid_grant"),
            }
        }
        _ => error("invalid_request"),
    }
}

fn answer(
    conn: TcpStream,
    valid: &Mutex<HashMap<String, String>>,
    asked: &Mutex<Vec<String>>,
    auth: &Mutex<AuthServer>,
) -> std::io::Result<()> {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let port = conn.local_addr()?.port();
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut length = 0usize;
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        if let Some((name, value)) = l.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    let mut body = vec![0u8; length.min(64 * 1024)];
    reader.read_exact(&mut body)?;
    let form = String::from_utf8_lossy(&body).into_owned();
    if path != "/introspect" {
        let fields: HashMap<String, String> = url::form_urlencoded::parse(form.as_bytes()).into_owned().collect();
        let (status, json) = authorize(&path, &fields, auth, valid, port);
        let mut conn = conn;
        write!(
            conn,
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
            json.len()
        )?;
        return conn.flush();
    }
    let token = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .and_then(|t| url::form_urlencoded::parse(format!("t={t}").as_bytes()).next().map(|(_, v)| v.into_owned()))
        .unwrap_or_default();
    asked.lock().expect("lock").push(token.clone());
    let json = match valid.lock().expect("lock").get(&token) {
        Some(user) => {
            format!("{{\"active\":true,\"username\":\"{user}\",\"scope\":\"mail\",\"token_type\":\"Bearer\"}}")
        }
        None => "{\"active\":false}".to_string(),
    };
    let mut conn = conn;
    write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    )?;
    conn.flush()
}

impl Drop for Introspection {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
