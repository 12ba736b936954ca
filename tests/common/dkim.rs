//! Signing mail as a sending domain would (DKIM, RFC 6376 / RFC 8463), with
//! keys made for the test: Ed25519 by ring, RSA 2048 by `openssl genpkey`.

use pult::mailauth::dkim::{self, Canon};
use ring::signature::{Ed25519KeyPair, KeyPair as _, RsaKeyPair};
use std::sync::{Arc, OnceLock};

#[derive(Clone)]
pub enum Key {
    Ed25519(Arc<Ed25519KeyPair>),
    Rsa(Arc<RsaKeyPair>),
}

/// A key and the TXT record that publishes it.
#[derive(Clone)]
pub struct TestKey {
    pub key: Key,
    pub record: String,
}

pub fn ed25519() -> TestKey {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).expect("ed25519 key");
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).expect("ed25519 key");
    let record = format!("v=DKIM1; k=ed25519; p={}", base64(pair.public_key().as_ref()));
    TestKey { key: Key::Ed25519(Arc::new(pair)), record }
}

/// One RSA 2048 key per test run (openssl makes it; the record carries the
/// SubjectPublicKeyInfo, as DNS records do).
pub fn rsa() -> TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let key = dir.path().join("key.der");
        let ok = std::process::Command::new("openssl")
            .args(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-outform", "DER", "-out"])
            .arg(&key)
            .status()
            .expect("openssl runs");
        assert!(ok.success(), "openssl genpkey");
        let spki = std::process::Command::new("openssl")
            .args(["pkey", "-inform", "DER", "-pubout", "-outform", "DER", "-in"])
            .arg(&key)
            .output()
            .expect("openssl runs");
        assert!(spki.status.success(), "openssl pkey -pubout");
        let pkcs8 = std::fs::read(&key).expect("key");
        // PKCS#8, or the PKCS#1 form some openssl versions write for RSA.
        let pair = RsaKeyPair::from_pkcs8(&pkcs8).or_else(|_| RsaKeyPair::from_der(&pkcs8)).expect("rsa key");
        let record = format!("v=DKIM1; k=rsa; p={}", base64(&spki.stdout));
        TestKey { key: Key::Rsa(Arc::new(pair)), record }
    })
    .clone()
}

/// `raw` with a DKIM-Signature of `domain`/`selector` on top, over `headers`
/// (colon separated), in `canon` ("relaxed/simple" …), dated now.
pub fn sign(raw: &[u8], key: &TestKey, domain: &str, selector: &str, canon: &str, headers: &str) -> Vec<u8> {
    let c = |s: &str| if s == "relaxed" { Canon::Relaxed } else { Canon::Simple };
    let (_, bc) = canon.split_once('/').expect("canon");
    let bh = base64(&dkim::body_hash(raw, c(bc)));
    let alg = match key.key {
        Key::Ed25519(_) => "ed25519-sha256",
        Key::Rsa(_) => "rsa-sha256",
    };
    let t = jiff::Timestamp::now().as_second();
    let field = format!(
        "DKIM-Signature: v=1; a={alg}; c={canon}; d={domain}; s={selector};\r\n\tt={t}; h={headers};\r\n\tbh={bh};\r\n\tb=AAAA\r\n"
    );
    let data = dkim::signed_data(raw, field.as_bytes()).expect("a signature pult reads");
    let sig = match &key.key {
        Key::Ed25519(k) => k.sign(ring::digest::digest(&ring::digest::SHA256, &data).as_ref()).as_ref().to_vec(),
        Key::Rsa(k) => {
            let mut out = vec![0u8; k.public().modulus_len()];
            k.sign(&ring::signature::RSA_PKCS1_SHA256, &ring::rand::SystemRandom::new(), &data, &mut out)
                .expect("rsa sign");
            out
        }
    };
    // Folded as signers fold it: the value in pieces on continuation lines.
    let b = base64(&sig);
    let folded: Vec<&str> = b.as_bytes().chunks(60).map(|c| std::str::from_utf8(c).expect("ascii")).collect();
    let mut out = field.replace("b=AAAA", &format!("b={}", folded.join("\r\n\t "))).into_bytes();
    out.extend_from_slice(raw);
    out
}

pub fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, &b)| acc | (u32::from(b) << (16 - 8 * i)));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
