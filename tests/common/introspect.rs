//! A token introspection endpoint (RFC 7662) on 127.0.0.1 for Dovecot's
//! `oauth2` passdb: `POST /introspect` with `token=…`; a known valid token is
//! `{"active": true, "username": …}`, anything else (expired, revoked,
//! unknown) `{"active": false}`, as §2.2 says.

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
        let (v, a, s) = (valid.clone(), asked.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    let _ = answer(conn, &v, &a);
                }
            }
        });
        Introspection { port, valid, asked, stop, thread: Some(thread) }
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
}

fn answer(conn: TcpStream, valid: &Mutex<HashMap<String, String>>, asked: &Mutex<Vec<String>>) -> std::io::Result<()> {
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut length = 0usize;
    let mut line = String::new();
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
    let token = form
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(|t| url::form_urlencoded::parse(format!("t={t}").as_bytes()).next().map(|(_, v)| v.into_owned()))
        .flatten()
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
