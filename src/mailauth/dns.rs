//! What TXT records does a name have? A small DNS client (RFC 1035) for DKIM
//! keys: one UDP query to one resolver, the answer checked against the query
//! (id and question), TCP when the answer is truncated, a time limit on it all.

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const TXT: u16 = 16;
const IN: u16 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("the DNS server {0} did not answer in time")]
    Timeout(SocketAddr),
    #[error("the DNS server answered with error code {0}")]
    Server(u8),
    #[error("the DNS answer cannot be read: {0}")]
    Malformed(&'static str),
    #[error("{0} is not a name DNS can ask for")]
    BadName(String),
    #[error("DNS: {0}")]
    Io(String),
}

/// What the resolver says of a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The TXT records, each one's strings joined.
    Txt(Vec<String>),
    /// NXDOMAIN, or the name has no TXT record.
    NoRecord,
}

#[derive(Debug, Clone)]
pub struct Resolver {
    pub server: SocketAddr,
    pub timeout: Duration,
}

impl Resolver {
    /// `server` when given, else the first `nameserver` of /etc/resolv.conf,
    /// else 127.0.0.1:53.
    pub fn new(server: Option<SocketAddr>, timeout: Duration) -> Resolver {
        let server = server
            .or_else(|| std::fs::read_to_string("/etc/resolv.conf").ok().and_then(|t| first_nameserver(&t)))
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)));
        Resolver { server, timeout }
    }

    pub async fn txt(&self, name: &str) -> Result<Answer, DnsError> {
        let id = query_id();
        let query = build_query(id, name)?;
        match tokio::time::timeout(self.timeout, self.exchange(&query)).await {
            Ok(r) => r,
            Err(_) => Err(DnsError::Timeout(self.server)),
        }
    }

    async fn exchange(&self, query: &[u8]) -> Result<Answer, DnsError> {
        let io = |e: std::io::Error| DnsError::Io(e.to_string());
        let local: SocketAddr = if self.server.is_ipv4() { ([0, 0, 0, 0], 0).into() } else { ([0u16; 8], 0).into() };
        let sock = tokio::net::UdpSocket::bind(local).await.map_err(io)?;
        sock.connect(self.server).await.map_err(io)?;
        sock.send(query).await.map_err(io)?;
        let mut buf = vec![0u8; 4096];
        loop {
            // A connected socket only hears the server; a packet that is not the
            // answer to this query (a late one, a forged one) is skipped.
            let n = sock.recv(&mut buf).await.map_err(io)?;
            match read_answer(query, &buf[..n]) {
                Ok(Some(a)) => return Ok(a),
                Ok(None) => return self.over_tcp(query).await,
                Err(Mismatch::NotOurs) => continue,
                Err(Mismatch::Error(e)) => return Err(e),
            }
        }
    }

    async fn over_tcp(&self, query: &[u8]) -> Result<Answer, DnsError> {
        let io = |e: std::io::Error| DnsError::Io(e.to_string());
        let mut tcp = tokio::net::TcpStream::connect(self.server).await.map_err(io)?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(query);
        tcp.write_all(&framed).await.map_err(io)?;
        let mut len = [0u8; 2];
        tcp.read_exact(&mut len).await.map_err(io)?;
        let mut answer = vec![0u8; u16::from_be_bytes(len) as usize];
        tcp.read_exact(&mut answer).await.map_err(io)?;
        match read_answer(query, &answer) {
            Ok(Some(a)) => Ok(a),
            Ok(None) => Err(DnsError::Malformed("truncated over TCP")),
            Err(Mismatch::NotOurs) => Err(DnsError::Malformed("the answer is to another question")),
            Err(Mismatch::Error(e)) => Err(e),
        }
    }
}

fn first_nameserver(conf: &str) -> Option<SocketAddr> {
    conf.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        if words.next() != Some("nameserver") {
            return None;
        }
        let ip: std::net::IpAddr = words.next()?.split('%').next()?.parse().ok()?;
        Some(SocketAddr::new(ip, 53))
    })
}

fn query_id() -> u16 {
    use ring::rand::SecureRandom as _;
    let mut b = [0u8; 2];
    // Without randomness the id is still checked, only guessable.
    let _ = ring::rand::SystemRandom::new().fill(&mut b);
    u16::from_be_bytes(b)
}

fn build_query(id: u16, name: &str) -> Result<Vec<u8>, DnsError> {
    let bad = || DnsError::BadName(crate::sanitize::line(name).into_owned());
    let name = name.trim_end_matches('.');
    if name.is_empty() || name.len() > 253 {
        return Err(bad());
    }
    let mut q = Vec::with_capacity(name.len() + 18);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD; one question
    for label in name.split('.') {
        if label.is_empty()
            || label.len() > 63
            || !label.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b))
        {
            return Err(bad());
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&TXT.to_be_bytes());
    q.extend_from_slice(&IN.to_be_bytes());
    Ok(q)
}

enum Mismatch {
    /// Another id or question: not the answer to this query.
    NotOurs,
    Error(DnsError),
}

/// The answer to `query` in `msg`; `Ok(None)` when it is truncated (TC).
fn read_answer(query: &[u8], msg: &[u8]) -> Result<Option<Answer>, Mismatch> {
    let bad = |what| Mismatch::Error(DnsError::Malformed(what));
    if msg.len() < 12 || msg[..2] != query[..2] || msg[2] & 0x80 == 0 {
        return Err(Mismatch::NotOurs);
    }
    // The question must come back as asked (names compared without case).
    let question = &query[12..];
    let echoed = msg.get(12..12 + question.len()).ok_or(Mismatch::NotOurs)?;
    if u16::from_be_bytes([msg[4], msg[5]]) != 1 || !echoed.eq_ignore_ascii_case(question) {
        return Err(Mismatch::NotOurs);
    }
    if msg[2] & 0x02 != 0 {
        return Ok(None);
    }
    match msg[3] & 0x0f {
        0 => {}
        3 => return Ok(Some(Answer::NoRecord)),
        code => return Err(Mismatch::Error(DnsError::Server(code))),
    }
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    let mut at = 12 + question.len();
    let mut out = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at).ok_or(bad("a name runs past the end"))?;
        let head = msg.get(at..at + 10).ok_or(bad("a record runs past the end"))?;
        let kind = u16::from_be_bytes([head[0], head[1]]);
        let len = u16::from_be_bytes([head[8], head[9]]) as usize;
        let data = msg.get(at + 10..at + 10 + len).ok_or(bad("a record runs past the end"))?;
        at += 10 + len;
        // CNAMEs on the way are followed by the resolver; only TXT data is read.
        if kind != TXT {
            continue;
        }
        let mut text = Vec::new();
        let mut i = 0;
        while i < data.len() {
            let n = data[i] as usize;
            text.extend_from_slice(data.get(i + 1..i + 1 + n).ok_or(bad("a TXT string runs past its record"))?);
            i += 1 + n;
        }
        out.push(String::from_utf8_lossy(&text).into_owned());
    }
    Ok(Some(if out.is_empty() { Answer::NoRecord } else { Answer::Txt(out) }))
}

/// The index past a (possibly compressed) name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *msg.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return msg.get(at + 1).map(|_| at + 2),
            l => at += 1 + l as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_checked_against_the_query() {
        let q = build_query(0x1234, "s1._domainkey.example.com").expect("query");
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 1; // one answer
        a.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 8, 3, b'a', b'b', b'c', 3, b'd', b'e', b'f']);
        assert!(matches!(read_answer(&q, &a), Ok(Some(Answer::Txt(t))) if t == ["abcdef"]));
        let mut other = a.clone();
        other[1] ^= 1;
        assert!(matches!(read_answer(&q, &other), Err(Mismatch::NotOurs)));
        let mut truncated = a.clone();
        truncated[2] |= 0x02;
        assert!(matches!(read_answer(&q, &truncated), Ok(None)));
        let mut nx = q.clone();
        nx[2] = 0x81;
        nx[3] = 0x83;
        assert!(matches!(read_answer(&q, &nx), Ok(Some(Answer::NoRecord))));
        assert!(build_query(1, "bad name.example").is_err());
        assert_eq!(first_nameserver("# x\nnameserver 10.0.0.2\n"), Some(SocketAddr::from(([10, 0, 0, 2], 53))));
    }
}
