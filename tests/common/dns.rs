//! A DNS server on loopback that answers TXT questions from a table, for the
//! DKIM tests (no network): a name can also be missing (NXDOMAIN), silent (the
//! query is dropped, so the client's timeout fires), or too long for UDP (the
//! answer is truncated there and given whole over TCP).

use std::collections::HashMap;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub enum Entry {
    /// TXT records, each as its strings.
    Txt(Vec<Vec<String>>),
    /// No answer at all.
    Silent,
    /// Over UDP a truncated answer (TC); over TCP these records.
    TruncatedUdp(Vec<Vec<String>>),
}

pub struct FakeDns {
    pub addr: SocketAddr,
    table: Arc<Mutex<HashMap<String, Entry>>>,
    /// Questions asked, as names, in order (over either transport).
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl FakeDns {
    pub fn start() -> FakeDns {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let addr = udp.local_addr().expect("addr");
        let tcp = TcpListener::bind(addr).expect("tcp on the same port");
        let table: Arc<Mutex<HashMap<String, Entry>>> = Arc::default();
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let (t, a) = (table.clone(), asked.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = udp.recv_from(&mut buf) {
                if let Some(answer) = respond(&buf[..n], &t, &a, false) {
                    let _ = udp.send_to(&answer, from);
                }
            }
        });
        let (t, a) = (table.clone(), asked.clone());
        std::thread::spawn(move || {
            for conn in tcp.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut len = [0u8; 2];
                if conn.read_exact(&mut len).is_err() {
                    continue;
                }
                let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
                if conn.read_exact(&mut q).is_err() {
                    continue;
                }
                if let Some(answer) = respond(&q, &t, &a, true) {
                    let mut framed = (answer.len() as u16).to_be_bytes().to_vec();
                    framed.extend_from_slice(&answer);
                    let _ = conn.write_all(&framed);
                }
            }
        });
        FakeDns { addr, table, asked }
    }

    pub fn set(&self, name: &str, entry: Entry) {
        self.table.lock().expect("table").insert(name.to_ascii_lowercase(), entry);
    }

    /// One TXT record of one string.
    pub fn txt(&self, name: &str, record: &str) {
        self.set(name, Entry::Txt(vec![split_strings(record)]));
    }

    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().expect("asked").clone()
    }
}

/// A record as TXT strings of at most 255 bytes (as a DNS server stores a long key).
pub fn split_strings(record: &str) -> Vec<String> {
    record.as_bytes().chunks(255).map(|c| String::from_utf8_lossy(c).into_owned()).collect()
}

fn respond(q: &[u8], table: &Mutex<HashMap<String, Entry>>, asked: &Mutex<Vec<String>>, tcp: bool) -> Option<Vec<u8>> {
    if q.len() < 12 {
        return None;
    }
    let mut at = 12;
    let mut labels = Vec::new();
    while at < q.len() && q[at] != 0 {
        let n = q[at] as usize;
        labels.push(String::from_utf8_lossy(q.get(at + 1..at + 1 + n)?).into_owned());
        at += 1 + n;
    }
    let question_end = at + 5;
    let name = labels.join(".").to_ascii_lowercase();
    asked.lock().expect("asked").push(name.clone());
    let entry = table.lock().expect("table").get(&name).cloned();
    let mut out = q[..2].to_vec();
    let (rcode, tc, records) = match entry {
        None => (3u8, false, Vec::new()),
        Some(Entry::Silent) => return None,
        Some(Entry::Txt(r)) => (0, false, r),
        Some(Entry::TruncatedUdp(_)) if !tcp => (0, true, Vec::new()),
        Some(Entry::TruncatedUdp(r)) => (0, false, r),
    };
    out.push(0x81 | if tc { 0x02 } else { 0 });
    out.push(0x80 | rcode);
    out.extend_from_slice(&[0, 1]);
    out.extend_from_slice(&(records.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(q.get(12..question_end)?);
    for strings in records {
        let data: Vec<u8> = strings.iter().flat_map(|s| std::iter::once(s.len() as u8).chain(s.bytes())).collect();
        out.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60]);
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(&data);
    }
    Some(out)
}
