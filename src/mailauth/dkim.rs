//! Does a DKIM signature (RFC 6376, Ed25519 by RFC 8463) hold for these bytes
//! and this key? Parsing of the signature's tag-list and of the key record,
//! canonicalisation, the body hash and the signature itself. No I/O here: the
//! key comes from the caller (`mailauth::check` asks DNS for it).

use ring::signature::{self, UnparsedPublicKey};

/// A verdict of one signature, in RFC 8601's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    Neutral,
    /// Signed, but in a way we do not accept (rsa-sha1, RFC 8301).
    Policy,
    TempError,
    PermError,
    None,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Neutral => "neutral",
            Verdict::Policy => "policy",
            Verdict::TempError => "temperror",
            Verdict::PermError => "permerror",
            Verdict::None => "none",
        }
    }

    pub fn parse(s: &str) -> Verdict {
        match s {
            "pass" => Verdict::Pass,
            "fail" => Verdict::Fail,
            "neutral" => Verdict::Neutral,
            "policy" => Verdict::Policy,
            "temperror" => Verdict::TempError,
            "permerror" => Verdict::PermError,
            _ => Verdict::None,
        }
    }
}

/// Why a signature did not pass (or what to know of one that did): a stable
/// code, stored and shown through the catalogue (`dkim_reason_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The body is not what was signed (bh= differs).
    BodyHash,
    /// The signed headers (or the key) do not match b=.
    Signature,
    /// The signature's tag-list cannot be read or lacks a required tag.
    Syntax,
    /// v= is not 1, or a= / c= / q= names something unknown.
    Unsupported,
    /// rsa-sha1 (RFC 8301: not accepted any more).
    WeakAlgorithm,
    /// From is not among the signed headers.
    FromNotSigned,
    /// i= is not d= or under it.
    IdentityOutsideDomain,
    /// x= has passed.
    Expired,
    /// l= is longer than the body.
    LengthBeyondBody,
    /// No key record at SELECTOR._domainkey.DOMAIN.
    NoKey,
    /// The key record says p= (empty): revoked.
    KeyRevoked,
    /// The key record or the key in it cannot be read.
    BadKey,
    /// An RSA key under 1024 bits.
    KeyTooSmall,
    /// The key's k= or h= does not fit the signature's a=.
    KeyMismatch,
    /// The DNS server did not answer in time.
    DnsTimeout,
    /// The DNS server answered with an error (SERVFAIL, a broken answer).
    DnsError,
    /// Passed, but l= signs only the first bytes of the body: more may follow unsigned.
    PartialBody,
}

impl Reason {
    pub fn code(self) -> &'static str {
        match self {
            Reason::BodyHash => "body-hash",
            Reason::Signature => "signature",
            Reason::Syntax => "syntax",
            Reason::Unsupported => "unsupported",
            Reason::WeakAlgorithm => "weak-algorithm",
            Reason::FromNotSigned => "from-not-signed",
            Reason::IdentityOutsideDomain => "identity-outside-domain",
            Reason::Expired => "expired",
            Reason::LengthBeyondBody => "length-beyond-body",
            Reason::NoKey => "no-key",
            Reason::KeyRevoked => "key-revoked",
            Reason::BadKey => "bad-key",
            Reason::KeyTooSmall => "key-too-small",
            Reason::KeyMismatch => "key-mismatch",
            Reason::DnsTimeout => "dns-timeout",
            Reason::DnsError => "dns-error",
            Reason::PartialBody => "partial-body",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    RsaSha256,
    Ed25519Sha256,
    RsaSha1,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Canon {
    Simple,
    Relaxed,
}

/// One DKIM-Signature header, read.
#[derive(Debug, Clone, PartialEq)]
pub struct Signature {
    pub algorithm: Algorithm,
    pub header_canon: Canon,
    pub body_canon: Canon,
    /// d=, lower case.
    pub domain: String,
    pub selector: String,
    /// h=, lower case, in order (a name may repeat: over-signing).
    pub headers: Vec<String>,
    pub body_hash: Vec<u8>,
    pub signature: Vec<u8>,
    /// l=: how many bytes of the canonical body are signed.
    pub length: Option<u64>,
    pub timestamp: Option<u64>,
    pub expires: Option<u64>,
    /// i=, as written.
    pub identity: Option<String>,
}

/// A signature header that could not be read: what is known of it and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    pub domain: Option<String>,
    pub selector: Option<String>,
    pub reason: Reason,
}

/// A header field as it stands in the message: its name and every byte of it,
/// continuation lines and the final CRLF included.
#[derive(Debug, Clone, Copy)]
pub struct Field<'a> {
    pub name: &'a str,
    pub raw: &'a [u8],
}

impl Field<'_> {
    /// The value after the colon, unfolded enough to parse (raw bytes, lossy).
    pub fn value(&self) -> String {
        let colon = self.raw.iter().position(|&b| b == b':').map_or(self.raw.len(), |p| p + 1);
        String::from_utf8_lossy(&self.raw[colon..]).into_owned()
    }
}

/// A message split into header fields and body, line ends made CRLF (a
/// message stored with bare LF is read as the CRLF one it was on the wire).
pub struct Message {
    bytes: Vec<u8>,
    fields: Vec<(usize, usize, usize)>,
    body_at: usize,
}

impl Message {
    pub fn parse(raw: &[u8]) -> Message {
        let bytes = crlf(raw);
        let mut fields: Vec<(usize, usize, usize)> = Vec::new();
        let mut at = 0;
        let mut body_at = bytes.len();
        while at < bytes.len() {
            let end = line_end(&bytes, at);
            let line = &bytes[at..end];
            if line == b"\r\n" {
                body_at = end;
                break;
            }
            if (line[0] == b' ' || line[0] == b'\t') && !fields.is_empty() {
                // A continuation line: the field grows.
                if let Some(last) = fields.last_mut() {
                    last.2 = end;
                }
            } else {
                let colon = line.iter().position(|&b| b == b':');
                match colon {
                    Some(c) => fields.push((at, at + c, end)),
                    // Not a header: what follows is body (a broken message).
                    None => {
                        body_at = at;
                        break;
                    }
                }
            }
            at = end;
        }
        Message { bytes, fields, body_at }
    }

    pub fn fields(&self) -> impl DoubleEndedIterator<Item = Field<'_>> + '_ {
        self.fields.iter().map(|&(start, colon, end)| Field {
            name: std::str::from_utf8(&self.bytes[start..colon]).unwrap_or("").trim_end(),
            raw: &self.bytes[start..end],
        })
    }

    pub fn body(&self) -> &[u8] {
        &self.bytes[self.body_at..]
    }
}

fn crlf(raw: &[u8]) -> Vec<u8> {
    // A line at a time: mail from an IMAP server is CRLF already, and copying
    // it byte by byte was most of the time DKIM took on a first sync.
    let mut out = Vec::with_capacity(raw.len() + raw.len() / 40);
    for line in raw.split_inclusive(|&b| b == b'\n') {
        match line.strip_suffix(b"\n") {
            Some(text) if !text.ends_with(b"\r") => {
                out.extend_from_slice(text);
                out.extend_from_slice(b"\r\n");
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// The index just past the line starting at `at` (its CRLF included).
fn line_end(bytes: &[u8], at: usize) -> usize {
    match bytes[at..].windows(2).position(|w| w == b"\r\n") {
        Some(p) => at + p + 2,
        None => bytes.len(),
    }
}

/// A tag-list (RFC 6376 §3.2): `(name, value)` in order, value trimmed; a
/// repeated tag or a tag without `=` is an error.
pub fn tag_list(text: &str) -> Option<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for spec in text.split(';') {
        if spec.trim().is_empty() {
            continue;
        }
        let (name, value) = spec.split_once('=')?;
        let name = name.trim();
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return None;
        }
        if out.iter().any(|(n, _)| n == name) {
            return None;
        }
        // Folding whitespace inside a value is not part of it.
        let value: String = value.trim().replace("\r\n", "");
        out.push((name.to_string(), value));
    }
    Some(out)
}

fn base64(text: &str) -> Option<Vec<u8>> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if clean.is_empty() {
        return Some(Vec::new());
    }
    mail_parser::decoders::base64::base64_decode(clean.as_bytes())
}

impl Signature {
    /// Reads a DKIM-Signature field's value.
    pub fn parse(value: &str) -> Result<Signature, Unreadable> {
        let tags = tag_list(value).ok_or(Unreadable { domain: None, selector: None, reason: Reason::Syntax })?;
        let get = |n: &str| tags.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let domain = get("d").map(|d| d.trim().to_ascii_lowercase());
        let selector = get("s").map(|s| s.trim().to_ascii_lowercase());
        let fail = |reason| Unreadable { domain: domain.clone(), selector: selector.clone(), reason };
        if get("v") != Some("1") {
            return Err(fail(if get("v").is_none() { Reason::Syntax } else { Reason::Unsupported }));
        }
        let algorithm = match get("a").map(str::to_ascii_lowercase).as_deref() {
            Some("rsa-sha256") => Algorithm::RsaSha256,
            Some("ed25519-sha256") => Algorithm::Ed25519Sha256,
            Some("rsa-sha1") => Algorithm::RsaSha1,
            Some(_) => return Err(fail(Reason::Unsupported)),
            None => return Err(fail(Reason::Syntax)),
        };
        let canon = |c: &str| match c {
            "simple" => Some(Canon::Simple),
            "relaxed" => Some(Canon::Relaxed),
            _ => None,
        };
        let c = get("c").unwrap_or("simple/simple").to_ascii_lowercase();
        let (hc, bc) = c.split_once('/').unwrap_or((c.as_str(), "simple"));
        let (Some(header_canon), Some(body_canon)) = (canon(hc.trim()), canon(bc.trim())) else {
            return Err(fail(Reason::Unsupported));
        };
        if let Some(q) = get("q")
            && !q.split(':').any(|m| m.trim().eq_ignore_ascii_case("dns/txt"))
        {
            return Err(fail(Reason::Unsupported));
        }
        let (Some(d), Some(s)) = (domain.clone(), selector.clone()) else { return Err(fail(Reason::Syntax)) };
        if d.is_empty() || s.is_empty() {
            return Err(fail(Reason::Syntax));
        }
        let headers: Vec<String> = get("h")
            .ok_or(fail(Reason::Syntax))?
            .split(':')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if !headers.iter().any(|h| h == "from") {
            return Err(fail(Reason::FromNotSigned));
        }
        let body_hash = get("bh").and_then(base64).ok_or(fail(Reason::Syntax))?;
        let signature = get("b").and_then(base64).ok_or(fail(Reason::Syntax))?;
        if body_hash.is_empty() || signature.is_empty() {
            return Err(fail(Reason::Syntax));
        }
        let number = |n: &str| -> Result<Option<u64>, Unreadable> {
            match get(n) {
                None => Ok(None),
                Some(v) => v.trim().parse().map(Some).map_err(|_| fail(Reason::Syntax)),
            }
        };
        let identity = get("i").map(str::to_string);
        if let Some(i) = &identity {
            let at = i.rsplit_once('@').map(|(_, dom)| dom.to_ascii_lowercase());
            let inside = at.is_some_and(|dom| dom == d || dom.ends_with(&format!(".{d}")));
            if !inside {
                return Err(fail(Reason::IdentityOutsideDomain));
            }
        }
        Ok(Signature {
            algorithm,
            header_canon,
            body_canon,
            domain: d,
            selector: s,
            headers,
            body_hash,
            signature,
            length: number("l")?,
            timestamp: number("t")?,
            expires: number("x")?,
            identity,
        })
    }
}

/// A DKIM key record (`v=DKIM1; k=rsa; p=…`), read.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub kind: KeyKind,
    /// RSA: the RSAPublicKey DER ring wants; Ed25519: the 32 bytes.
    pub public: Vec<u8>,
    /// h=: the hashes the key may be used with (empty: any).
    pub hashes: Vec<String>,
    /// t=y: the domain is testing DKIM.
    pub testing: bool,
    /// RSA modulus length in bits.
    pub bits: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Rsa,
    Ed25519,
}

impl Key {
    pub fn parse(record: &str) -> Result<Key, Reason> {
        let tags = tag_list(record).ok_or(Reason::BadKey)?;
        let get = |n: &str| tags.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        if let Some(v) = get("v")
            && (v != "DKIM1" || tags.first().map(|(k, _)| k.as_str()) != Some("v"))
        {
            return Err(Reason::BadKey);
        }
        let kind = match get("k").unwrap_or("rsa").to_ascii_lowercase().as_str() {
            "rsa" => KeyKind::Rsa,
            "ed25519" => KeyKind::Ed25519,
            _ => return Err(Reason::KeyMismatch),
        };
        if let Some(s) = get("s")
            && !s.split(':').any(|s| matches!(s.trim(), "*" | "email"))
        {
            return Err(Reason::KeyMismatch);
        }
        let p = get("p").ok_or(Reason::BadKey)?;
        let der = base64(p).ok_or(Reason::BadKey)?;
        if der.is_empty() {
            return Err(Reason::KeyRevoked);
        }
        let (public, bits) = match kind {
            KeyKind::Rsa => rsa_public_key(&der).ok_or(Reason::BadKey)?,
            KeyKind::Ed25519 if der.len() == 32 => (der, 256),
            KeyKind::Ed25519 => return Err(Reason::BadKey),
        };
        Ok(Key {
            kind,
            public,
            hashes: get("h")
                .map(|h| h.split(':').map(|x| x.trim().to_ascii_lowercase()).filter(|x| !x.is_empty()).collect())
                .unwrap_or_default(),
            testing: get("t").is_some_and(|t| t.split(':').any(|f| f.trim() == "y")),
            bits,
        })
    }
}

/// One DER element at the start of `data`: (tag, contents, the rest).
fn der(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |acc, &b| (acc << 8) | b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    Some((tag, &rest[..len], &rest[len..]))
}

/// The RSAPublicKey (PKCS#1) in a key record's p=, which is most often a
/// SubjectPublicKeyInfo around it, and its modulus length in bits.
fn rsa_public_key(data: &[u8]) -> Option<(Vec<u8>, usize)> {
    let (tag, seq, _) = der(data)?;
    if tag != 0x30 {
        return None;
    }
    let (inner_tag, inner, after) = der(seq)?;
    let pkcs1: &[u8] = match inner_tag {
        // Already an RSAPublicKey: SEQUENCE { INTEGER n, INTEGER e }.
        0x02 => data,
        // SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }.
        0x30 => {
            const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
            let (oid_tag, oid, _) = der(inner)?;
            if oid_tag != 0x06 || oid != RSA_ENCRYPTION {
                return None;
            }
            let (bit_tag, bits, _) = der(after)?;
            let (&unused, key) = bits.split_first()?;
            if bit_tag != 0x03 || unused != 0 {
                return None;
            }
            key
        }
        _ => return None,
    };
    let (tag, seq, _) = der(pkcs1)?;
    let (int_tag, modulus, _) = der(seq)?;
    if tag != 0x30 || int_tag != 0x02 {
        return None;
    }
    let significant = modulus.iter().position(|&b| b != 0).map_or(0, |p| modulus.len() - p);
    Some((pkcs1.to_vec(), significant * 8))
}

/// A header field in the signature's canonical form (§3.4.1, §3.4.2), CRLF ended.
pub fn canon_header(raw: &[u8], canon: Canon) -> Vec<u8> {
    match canon {
        Canon::Simple => raw.to_vec(),
        Canon::Relaxed => {
            let colon = raw.iter().position(|&b| b == b':').unwrap_or(raw.len());
            let mut out: Vec<u8> =
                raw[..colon].iter().filter(|b| !b" \t".contains(b)).map(u8::to_ascii_lowercase).collect();
            out.push(b':');
            let value = raw.get(colon + 1..).unwrap_or_default();
            let mut pending_space = false;
            let mut started = false;
            for &b in value {
                match b {
                    b'\r' | b'\n' => {}
                    b' ' | b'\t' => pending_space = started,
                    _ => {
                        if pending_space {
                            out.push(b' ');
                        }
                        pending_space = false;
                        started = true;
                        out.push(b);
                    }
                }
            }
            out.extend_from_slice(b"\r\n");
            out
        }
    }
}

/// The body in the signature's canonical form (§3.4.3, §3.4.4).
pub fn canon_body(body: &[u8], canon: Canon) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    match canon {
        Canon::Simple => {
            out.extend_from_slice(body);
            if !out.ends_with(b"\r\n") && !out.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
            while out.ends_with(b"\r\n\r\n") {
                out.truncate(out.len() - 2);
            }
            if out.is_empty() {
                out.extend_from_slice(b"\r\n");
            }
        }
        Canon::Relaxed => {
            let mut at = 0;
            while at < body.len() {
                let end = line_end(body, at);
                let line = &body[at..end];
                let content = line.strip_suffix(b"\r\n").unwrap_or(line);
                let mut pending_space = false;
                for &b in content {
                    if b == b' ' || b == b'\t' {
                        pending_space = true;
                    } else {
                        if pending_space {
                            out.push(b' ');
                        }
                        pending_space = false;
                        out.push(b);
                    }
                }
                out.extend_from_slice(b"\r\n");
                at = end;
            }
            while out.ends_with(b"\r\n") && (out.len() == 2 || out.ends_with(b"\r\n\r\n")) {
                out.truncate(out.len() - 2);
            }
        }
    }
    out
}

/// The DKIM-Signature field with its b= value taken out, as it is hashed.
fn without_b_value(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|&b| b == b':').map_or(0, |p| p + 1);
    let mut out = raw[..colon].to_vec();
    let value = &raw[colon..];
    for (i, spec) in value.split(|&b| b == b';').enumerate() {
        if i > 0 {
            out.push(b';');
        }
        let name_end = spec.iter().position(|&b| b == b'=');
        let is_b = name_end.is_some_and(|e| {
            let name: Vec<u8> = spec[..e].iter().copied().filter(|b| !b" \t\r\n".contains(b)).collect();
            name == b"b"
        });
        match (is_b, name_end) {
            (true, Some(e)) => {
                out.extend_from_slice(&spec[..=e]);
                // What follows the value (the field's CRLF) stays: the value is emptied, not the line.
                let tail = spec.iter().rposition(|&b| !b" \t\r\n".contains(&b)).map_or(spec.len(), |p| p + 1);
                out.extend_from_slice(&spec[tail.max(e + 1)..]);
            }
            _ => out.extend_from_slice(spec),
        }
    }
    out
}

/// What checking one signature found.
#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    pub verdict: Verdict,
    pub reason: Option<Reason>,
}

impl Checked {
    fn new(verdict: Verdict, reason: Option<Reason>) -> Checked {
        Checked { verdict, reason }
    }
}

/// Checks `sig` (from the field `sig_field`) on `msg` with `key`, at `now`.
pub fn verify(msg: &Message, sig_field: &[u8], sig: &Signature, key: &Key, now: u64) -> Checked {
    if sig.algorithm == Algorithm::RsaSha1 {
        return Checked::new(Verdict::Policy, Some(Reason::WeakAlgorithm));
    }
    if sig.expires.is_some_and(|x| x < now || sig.timestamp.is_some_and(|t| x < t)) {
        return Checked::new(Verdict::Fail, Some(Reason::Expired));
    }
    let fits = matches!(
        (sig.algorithm, key.kind),
        (Algorithm::RsaSha256, KeyKind::Rsa) | (Algorithm::Ed25519Sha256, KeyKind::Ed25519)
    );
    if !fits || !(key.hashes.is_empty() || key.hashes.iter().any(|h| h == "sha256")) {
        return Checked::new(Verdict::PermError, Some(Reason::KeyMismatch));
    }
    if key.kind == KeyKind::Rsa && key.bits < 1024 {
        return Checked::new(Verdict::PermError, Some(Reason::KeyTooSmall));
    }
    // The body hash first: a changed body says so, not "the signature".
    let (body, partial) = match signed_body(msg, sig) {
        Ok(b) => b,
        Err(reason) => return Checked::new(Verdict::PermError, Some(reason)),
    };
    if ring::digest::digest(&ring::digest::SHA256, &body).as_ref() != sig.body_hash.as_slice() {
        return Checked::new(Verdict::Fail, Some(Reason::BodyHash));
    }
    let data = signed_headers(msg, sig_field, sig);
    let ok = match sig.algorithm {
        Algorithm::RsaSha256 => {
            let alg: &dyn signature::VerificationAlgorithm = if key.bits >= 2048 {
                &signature::RSA_PKCS1_2048_8192_SHA256
            } else {
                &signature::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
            };
            UnparsedPublicKey::new(alg, &key.public).verify(&data, &sig.signature).is_ok()
        }
        Algorithm::Ed25519Sha256 => {
            // RFC 8463: Ed25519 signs the SHA-256 of the data.
            let hash = ring::digest::digest(&ring::digest::SHA256, &data);
            UnparsedPublicKey::new(&signature::ED25519, &key.public).verify(hash.as_ref(), &sig.signature).is_ok()
        }
        Algorithm::RsaSha1 => false,
    };
    match (ok, partial) {
        (true, true) => Checked::new(Verdict::Pass, Some(Reason::PartialBody)),
        (true, false) => Checked::new(Verdict::Pass, None),
        (false, _) => Checked::new(Verdict::Fail, Some(Reason::Signature)),
    }
}

/// The canonical body as far as l= signs it, and whether that is less than all of it.
fn signed_body(msg: &Message, sig: &Signature) -> Result<(Vec<u8>, bool), Reason> {
    let mut body = canon_body(msg.body(), sig.body_canon);
    match sig.length {
        Some(l) if l as usize > body.len() => Err(Reason::LengthBeyondBody),
        Some(l) if (l as usize) < body.len() => {
            body.truncate(l as usize);
            Ok((body, true))
        }
        _ => Ok((body, false)),
    }
}

/// The signed header fields in h= order, bottom-up, each instance used once
/// (a name with no instance left adds nothing: over-signing), then the
/// signature's own field with b= emptied and no final CRLF.
fn signed_headers(msg: &Message, sig_field: &[u8], sig: &Signature) -> Vec<u8> {
    let fields: Vec<Field<'_>> = msg.fields().collect();
    let mut used = vec![false; fields.len()];
    let mut data = Vec::new();
    for name in &sig.headers {
        if let Some(i) = (0..fields.len()).rev().find(|&i| !used[i] && fields[i].name.eq_ignore_ascii_case(name)) {
            used[i] = true;
            data.extend(canon_header(fields[i].raw, sig.header_canon));
        }
    }
    let mut own = canon_header(&without_b_value(sig_field), sig.header_canon);
    if own.ends_with(b"\r\n") {
        own.truncate(own.len() - 2);
    }
    data.extend(own);
    data
}

/// The body still hashes to the signature's bh= (as far as l= signs it).
pub fn body_matches(msg: &Message, sig: &Signature) -> bool {
    signed_body(msg, sig)
        .is_ok_and(|(body, _)| ring::digest::digest(&ring::digest::SHA256, &body).as_ref() == sig.body_hash.as_slice())
}

/// The bh= of a whole body in `canon` (tests sign with it; pult does not sign).
pub fn body_hash(raw: &[u8], canon: Canon) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, &canon_body(Message::parse(raw).body(), canon)).as_ref().to_vec()
}

/// What a signer signs for the field `sig_field` (b= may hold anything: it is
/// emptied), as `verify` recomputes it (tests sign with it).
pub fn signed_data(raw: &[u8], sig_field: &[u8]) -> Option<Vec<u8>> {
    let msg = Message::parse(raw);
    let sig = Signature::parse(&Field { name: "DKIM-Signature", raw: sig_field }.value()).ok()?;
    Some(signed_headers(&msg, sig_field, &sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_line_feeds_become_crlf_and_crlf_stays() {
        assert_eq!(crlf(b"\nA: 1\nB: 2\r\n\r\nbody\r\r\nend\n"), b"\r\nA: 1\r\nB: 2\r\n\r\nbody\r\r\nend\r\n");
        assert_eq!(crlf(b"no line end"), b"no line end");
        assert_eq!(crlf(b""), b"");
    }

    /// RFC 6376 §3.4.6: the example message in both canonical forms.
    #[test]
    fn canonicalisation_follows_the_rfc_example() {
        let raw = b"A: X\r\nB : Y\t\r\n\tZ  \r\n\r\n C \r\nD \t E\r\n\r\n\r\n";
        let msg = Message::parse(raw);
        let fields: Vec<Field<'_>> = msg.fields().collect();
        let relaxed: Vec<u8> = fields.iter().flat_map(|f| canon_header(f.raw, Canon::Relaxed)).collect();
        assert_eq!(relaxed, b"a:X\r\nb:Y Z\r\n");
        assert_eq!(canon_body(msg.body(), Canon::Relaxed), b" C\r\nD E\r\n");
        let simple: Vec<u8> = fields.iter().flat_map(|f| canon_header(f.raw, Canon::Simple)).collect();
        assert_eq!(simple, b"A: X\r\nB : Y\t\r\n\tZ  \r\n");
        assert_eq!(canon_body(msg.body(), Canon::Simple), b" C \r\nD \t E\r\n");
    }

    #[test]
    fn empty_bodies_canonicalise_as_the_rfc_says() {
        assert_eq!(canon_body(b"", Canon::Simple), b"\r\n");
        assert_eq!(canon_body(b"\r\n\r\n", Canon::Simple), b"\r\n");
        assert_eq!(canon_body(b"", Canon::Relaxed), b"");
        assert_eq!(canon_body(b"\r\n \r\n", Canon::Relaxed), b"");
        assert_eq!(canon_body(b"x", Canon::Relaxed), b"x\r\n");
        // A bare-LF message is read as the CRLF one.
        assert_eq!(Message::parse(b"A: 1\n\nhi\n").body(), b"hi\r\n");
    }

    #[test]
    fn the_b_value_is_emptied_and_nothing_else() {
        let f = b"DKIM-Signature: v=1; a=rsa-sha256; bh=abc=;\r\n b=dGVz\r\n dA==; d=x.test\r\n";
        assert_eq!(without_b_value(f), b"DKIM-Signature: v=1; a=rsa-sha256; bh=abc=;\r\n b=; d=x.test\r\n");
        let last = b"DKIM-Signature: v=1; b=dGVz\r\n dA==\r\n";
        assert_eq!(without_b_value(last), b"DKIM-Signature: v=1; b=\r\n");
    }

    #[test]
    fn tag_lists_refuse_repeats_and_signatures_need_from() {
        assert!(tag_list("a=1; a=2").is_none());
        assert_eq!(tag_list(" v = 1 ;k=rsa;").map(|t| t.len()), Some(2));
        let sig = "v=1; a=rsa-sha256; d=x.test; s=s1; h=subject; bh=YQ==; b=YQ==";
        assert_eq!(Signature::parse(sig).map_err(|u| u.reason), Err(Reason::FromNotSigned));
        let sha1 = "v=1; a=rsa-sha1; d=x.test; s=s1; h=from; bh=YQ==; b=YQ==";
        assert_eq!(Signature::parse(sha1).map(|s| s.algorithm), Ok(Algorithm::RsaSha1));
        let outside = "v=1; a=rsa-sha256; d=x.test; s=s1; h=from; bh=YQ==; b=YQ==; i=@y.test";
        assert_eq!(Signature::parse(outside).map_err(|u| u.reason), Err(Reason::IdentityOutsideDomain));
        assert_eq!(Key::parse("v=DKIM1; p=").map(|_| ()), Err(Reason::KeyRevoked));
        assert_eq!(Key::parse("k=rsa; v=DKIM1; p=YQ==").map(|_| ()), Err(Reason::BadKey));
    }

    /// RFC 8463 Appendix A: one message signed with Ed25519 and with RSA, and the published keys.
    #[test]
    fn the_rfc_8463_example_verifies_with_both_keys() {
        let signed = concat!(
            "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;\r\n",
            " d=football.example.com; i=@football.example.com;\r\n",
            " q=dns/txt; s=brisbane; t=1528637909; h=from : to :\r\n",
            " subject : date : message-id : from : subject : date;\r\n",
            " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
            " b=/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n",
            " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==\r\n",
            "DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n",
            " d=football.example.com; i=@football.example.com;\r\n",
            " q=dns/txt; s=test; t=1528637909; h=from : to : subject :\r\n",
            " date : message-id : from : subject : date;\r\n",
            " bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\r\n",
            " b=F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n",
            " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n",
            " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=\r\n",
            "From: Joe SixPack <joe@football.example.com>\r\n",
            "To: Suzie Q <suzie@shopping.example.net>\r\n",
            "Subject: Is dinner ready?\r\n",
            "Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n",
            "Message-ID: <20030712040037.46341.5F8J@football.example.com>\r\n",
            "\r\n",
            "Hi.\r\n",
            "\r\n",
            "We lost the game.  Are you hungry yet?\r\n",
            "\r\n",
            "Joe.\r\n",
            "\r\n",
        );
        let ed = Key::parse("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=").expect("ed key");
        let rsa = Key::parse(concat!(
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR",
            "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC",
            "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3",
            "Ip3G+2kryOTIKT+l/K4w3QIDAQAB"
        ))
        .expect("rsa key");
        assert_eq!(rsa.bits, 1024);
        let check = |raw: &[u8]| -> Vec<Checked> {
            let msg = Message::parse(raw);
            let fields: Vec<Field<'_>> = msg.fields().filter(|f| f.name == "DKIM-Signature").collect();
            fields
                .iter()
                .map(|f| {
                    let sig = Signature::parse(&f.value()).expect("signature");
                    let key = if sig.algorithm == Algorithm::Ed25519Sha256 { &ed } else { &rsa };
                    verify(&msg, f.raw, &sig, key, 1_600_000_000)
                })
                .collect()
        };
        let pass = Checked::new(Verdict::Pass, None);
        assert_eq!(check(signed.as_bytes()), [pass.clone(), pass]);
        let body_changed = signed.replace("hungry", "Hungry");
        let fail = Checked::new(Verdict::Fail, Some(Reason::BodyHash));
        assert_eq!(check(body_changed.as_bytes()), [fail.clone(), fail]);
        let header_changed = signed.replace("dinner", "lunch");
        let forged = Checked::new(Verdict::Fail, Some(Reason::Signature));
        assert_eq!(check(header_changed.as_bytes()), [forged.clone(), forged]);
        // A second Subject above the signed one is caught by the over-signing (h= names it twice).
        let added = signed.replace("From: Joe", "Subject: Pay now\r\nFrom: Joe");
        assert_eq!(check(added.as_bytes())[0].verdict, Verdict::Fail);
    }
}
