//! A stand-in for Gmail's IMAP extension in front of the suite's Dovecot:
//! it adds `X-GM-EXT-1` to every capability list, takes `X-GM-MSGID` out of
//! the client's FETCH commands (Dovecot would refuse it) and puts the id the
//! test chose for (folder, UID) into each FETCH response, as Gmail gives the
//! same id to one mail under every label. Literals pass through untouched.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub struct GmailProxy {
    pub port: u16,
    stop: Arc<AtomicBool>,
}

impl GmailProxy {
    /// Listens on 127.0.0.1; `ids` maps (folder as sent on the wire, UID) to X-GM-MSGID.
    pub fn start(upstream: u16, ids: HashMap<(String, u32), u64>) -> GmailProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let ids = Arc::new(ids);
        let stopping = stop.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let state = Arc::new(Mutex::new(Selected::default()));
                let (c2, s2, st2) =
                    (client.try_clone().expect("clone"), server.try_clone().expect("clone"), state.clone());
                std::thread::spawn(move || commands(c2, s2, st2));
                let ids = ids.clone();
                std::thread::spawn(move || answers(server, client, state, &ids));
            }
        });
        GmailProxy { port, stop }
    }
}

impl Drop for GmailProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// The folder a SELECT or EXAMINE opened, and whether the last command asked
/// for X-GM-MSGID (Gmail answers it only then).
#[derive(Default)]
struct Selected {
    folder: String,
    asked: bool,
}

/// Client to server, a line at a time.
fn commands(client: TcpStream, mut server: TcpStream, state: Arc<Mutex<Selected>>) {
    let mut from = BufReader::new(client);
    let mut line = Vec::new();
    loop {
        line.clear();
        if from.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            let _ = server.shutdown(std::net::Shutdown::Write);
            return;
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        let words: Vec<&str> = text.split_whitespace().collect();
        {
            let mut st = state.lock().expect("lock");
            if words.len() > 2 && (words[1].eq_ignore_ascii_case("SELECT") || words[1].eq_ignore_ascii_case("EXAMINE"))
            {
                st.folder = words[2].trim_matches('"').to_string();
            }
            st.asked = text.contains("X-GM-MSGID");
        }
        let out = if text.contains("X-GM-MSGID") { text.replace(" X-GM-MSGID", "").into_bytes() } else { line.clone() };
        if server.write_all(&out).is_err() {
            return;
        }
    }
}

/// Server to client: lines rewritten, literals copied as they are.
fn answers(server: TcpStream, mut client: TcpStream, state: Arc<Mutex<Selected>>, ids: &HashMap<(String, u32), u64>) {
    let mut from = BufReader::new(server);
    let mut line = Vec::new();
    loop {
        line.clear();
        if from.read_until(b'\n', &mut line).unwrap_or(0) == 0 {
            let _ = client.shutdown(std::net::Shutdown::Write);
            return;
        }
        let mut text = String::from_utf8_lossy(&line).into_owned();
        if let Some(at) = text.find("CAPABILITY ") {
            text.insert_str(at + "CAPABILITY ".len(), "X-GM-EXT-1 ");
        }
        if text.starts_with("* ")
            && let Some(open) = text.find(" FETCH (")
            && let Some(uid) = uid_in(&text)
            && let Some(id) = {
                let st = state.lock().expect("lock");
                if st.asked { ids.get(&(st.folder.clone(), uid)) } else { None }
            }
        {
            text.insert_str(open + " FETCH (".len(), &format!("X-GM-MSGID {id} "));
        }
        if client.write_all(text.as_bytes()).is_err() {
            return;
        }
        // A literal follows: exactly its bytes, whatever they look like.
        if let Some(n) = literal(&text) {
            let mut bytes = vec![0u8; n];
            if from.read_exact(&mut bytes).is_err() || client.write_all(&bytes).is_err() {
                return;
            }
        }
    }
}

fn uid_in(line: &str) -> Option<u32> {
    let at = line.find("UID ")?;
    line[at + 4..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

fn literal(line: &str) -> Option<usize> {
    let head = line.trim_end_matches(['\r', '\n']).strip_suffix('}')?;
    let open = head.rfind('{')?;
    head[open + 1..].trim_end_matches('+').parse().ok()
}
