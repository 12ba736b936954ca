//! Folder names on the IMAP wire: modified UTF-7 (RFC 3501 §5.1.3), so that
//! «Отправленные» travels as `&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-`.
//!
//! Printable ASCII stands for itself except `&`, written `&-`; anything else
//! is UTF-16 in base64 with `,` for `/`, between `&` and `-`. pult keeps the
//! decoded name everywhere (config, store, screen) and encodes it only when
//! it talks to the server.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

/// The wire form of a folder name.
pub fn encode(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut pending: Vec<u16> = Vec::new();
    let flush = |pending: &mut Vec<u16>, out: &mut String| {
        if pending.is_empty() {
            return;
        }
        let bytes: Vec<u8> = pending.iter().flat_map(|u| u.to_be_bytes()).collect();
        out.push('&');
        out.push_str(&base64(&bytes, ALPHABET, false));
        out.push('-');
        pending.clear();
    };
    for c in name.chars() {
        if (' '..='~').contains(&c) {
            flush(&mut pending, &mut out);
            out.push(c);
            if c == '&' {
                out.push('-');
            }
        } else {
            let mut buf = [0u16; 2];
            pending.extend_from_slice(c.encode_utf16(&mut buf));
        }
    }
    flush(&mut pending, &mut out);
    out
}

/// The name a person reads; `None` when `wire` is not valid modified UTF-7
/// (a server that sends raw UTF-8 or a broken name: the caller keeps it as is).
pub fn decode(wire: &str) -> Option<String> {
    let mut out = String::with_capacity(wire.len());
    let mut rest = wire;
    while let Some(at) = rest.find('&') {
        let (plain, tail) = rest.split_at(at);
        if !plain.chars().all(|c| (' '..='~').contains(&c)) {
            return None;
        }
        out.push_str(plain);
        let tail = &tail[1..];
        let end = tail.find('-')?;
        let (encoded, after) = (&tail[..end], &tail[end + 1..]);
        if encoded.is_empty() {
            out.push('&');
        } else {
            let bytes = unbase64(encoded)?;
            if bytes.len() % 2 != 0 {
                return None;
            }
            let units: Vec<u16> = bytes.chunks(2).map(|p| u16::from_be_bytes([p[0], p[1]])).collect();
            let text = String::from_utf16(&units).ok()?;
            // A shift that hides printable ASCII is not the canonical form.
            if text.chars().any(|c| (' '..='~').contains(&c)) {
                return None;
            }
            out.push_str(&text);
        }
        rest = after;
    }
    if !rest.chars().all(|c| (' '..='~').contains(&c)) {
        return None;
    }
    out.push_str(rest);
    Some(out)
}

/// The name as received: decoded when it is modified UTF-7, else kept.
pub fn decode_or_keep(wire: &str) -> String {
    decode(wire).unwrap_or_else(|| wire.to_string())
}

/// Base64 of `bytes` in `alphabet`, with `=` padding when `pad`.
pub(crate) fn base64(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        let chars = chunk.len() + 1;
        for i in 0..4 {
            if i < chars {
                out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|a| *a == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    // Leftover bits must be zero padding (fewer than 6 of them).
    (bits < 6 && acc == 0).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn russian_names_round_trip() {
        for (name, wire) in [
            ("Отправленные", "&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-"),
            ("Входящие/Клиенты", "&BBIERQQ+BDQETwRJBDgENQ-/&BBoEOwQ4BDUEPQRCBEs-"),
            ("INBOX", "INBOX"),
            ("A&B", "A&-B"),
            ("&", "&-"),
            ("Черновики & шаблоны", "&BCcENQRABD0EPgQyBDgEOgQ4- &- &BEgEMAQxBDsEPgQ9BEs-"),
            ("Sent Items", "Sent Items"),
            ("日本語", "&ZeVnLIqe-"),
        ] {
            assert_eq!(encode(name), wire, "{name}");
            assert_eq!(decode(wire).as_deref(), Some(name), "{wire}");
        }
    }

    #[test]
    fn anything_a_person_can_type_survives_the_wire() {
        for name in ["😀 эмодзи", "a-b_c.d", "~Корзина~", "Ünïcödé/ß", "&&--&"] {
            assert_eq!(decode(&encode(name)).as_deref(), Some(name), "{name}");
        }
    }

    #[test]
    fn broken_or_raw_names_are_refused_not_mangled() {
        assert_eq!(decode("&BB4"), None, "no closing dash");
        assert_eq!(decode("Отправленные"), None, "raw UTF-8 is not modified UTF-7");
        assert_eq!(decode("&AEE-"), None, "ASCII hidden in a shift");
        assert_eq!(decode_or_keep("Отправленные"), "Отправленные");
    }
}
