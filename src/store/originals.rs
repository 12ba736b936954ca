//! What did the channel send, byte for byte? Originals as received (`[store]
//! keep_raw`), deflated in `blobs` under the SHA-256 of the bytes received, one
//! `originals` row per message with where it came from and when.

use super::sql::{Conn, Engine, Transact as _, WithConn};
use super::{Db, Result};
use crate::model::RawOriginal;
use std::io::Read as _;

/// Whether this store keeps originals. Unset is a store made new (SQLite's
/// step 26 writes it, `pult store migrate` copies it; a new PostgreSQL store
/// has no row), which keeps them, as a new SQLite store does.
pub(super) fn keep_raw(c: &dyn Conn) -> Result<bool> {
    let v: Option<String> = c.opt("SELECT value FROM store_settings WHERE key = 'keep_raw'", &[], |r| r.get(0))?;
    Ok(v.as_deref() != Some("0"))
}

impl Db {
    /// Whether this store keeps originals (`[store] keep_raw`).
    pub fn keeps_raw(&mut self) -> Result<bool> {
        use super::sql::WithConn as _;
        self.with_conn(keep_raw)
    }
}

/// `[store] keep_raw` from the config, written where ingest reads it.
pub fn set_keep_raw(db: &mut Db, on: bool) -> Result<()> {
    use super::sql::Transact as _;
    db.write(|c| {
        c.exec(
            "INSERT INTO store_settings (key, value) VALUES ('keep_raw', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE store_settings.value != excluded.value",
            &[&if on { "1" } else { "0" }],
        )?;
        Ok(())
    })
}

/// Stores `bytes` once, deflated; returns their SHA-256.
pub(super) fn put_blob(c: &dyn Conn, bytes: &[u8]) -> Result<String> {
    put_packed(c, &crate::model::Packed::of(bytes)?)
}

/// Stores `bytes` once as they are (files people attach or receive are
/// mostly compressed already: PDF, JPEG, OGG); returns their SHA-256.
pub(super) fn put_blob_as_is(c: &(impl WithConn + ?Sized), bytes: &[u8]) -> Result<String> {
    let sha = super::audit_chain::sha256_hex(bytes);
    insert_once(c, &sha, bytes.len(), "raw", bytes)?;
    Ok(sha)
}

/// One `blobs` row per content, whoever stores it first (one index probe:
/// the insert finds a known one itself).
fn insert_once(c: &(impl WithConn + ?Sized), sha256: &str, size: usize, codec: &str, data: &[u8]) -> Result<()> {
    c.with_conn(|c| {
        c.exec(
            "INSERT INTO blobs (sha256, size, codec, data) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (sha256) DO NOTHING",
            &[&sha256, &size, &codec, &data],
        )?;
        Ok(())
    })
}

/// The bytes stored under `sha256`, checked against it; those kept beside
/// the store are read from `beside` (none without it).
pub(super) fn blob_in(
    c: &(impl WithConn + ?Sized),
    sha256: &str,
    beside: Option<&super::side_blobs::SideBlobs>,
) -> Result<Option<Vec<u8>>> {
    let row: Option<(String, Vec<u8>)> = c.with_conn(|c| {
        c.opt("SELECT codec, data FROM blobs WHERE sha256 = ?1", &[&sha256], |r| Ok((r.get(0)?, r.get(1)?)))
    })?;
    let Some((codec, data)) = row else { return Ok(None) };
    if codec == "beside" {
        return match beside {
            Some(dir) => Ok(dir.get(sha256)?),
            None => Ok(None),
        };
    }
    let bytes = match codec.as_str() {
        "deflate" => {
            let mut out = Vec::new();
            flate2::read::DeflateDecoder::new(data.as_slice()).read_to_end(&mut out)?;
            out
        }
        _ => data,
    };
    if super::audit_chain::sha256_hex(&bytes) != sha256 {
        return Err(super::StoreError::Invalid(format!("blob {sha256} does not hash to its name")));
    }
    Ok(Some(bytes))
}

/// Stores bytes the worker packed, once; bytes it wrote beside the store
/// are named here with codec `beside` (their size, no data). PostgreSQL
/// keeps every original in the database (no file beside it that every host
/// reads, as `pult store migrate` moves them), so a worker never writes
/// beside it; bytes said to be there anyway are refused, not named.
fn put_packed(c: &dyn Conn, p: &crate::model::Packed) -> Result<String> {
    if p.beside && c.engine() == Engine::Postgres {
        return Err(super::StoreError::Invalid(format!(
            "original {}: kept beside the store, which a PostgreSQL store has not",
            p.sha256
        )));
    }
    let codec = if p.beside { "beside" } else { "deflate" };
    insert_once(c, &p.sha256, p.size, codec, &p.deflated)?;
    Ok(p.sha256.clone())
}

/// Keeps the original of a message just stored.
pub(super) fn record(c: &dyn Conn, message_id: i64, raw: &RawOriginal) -> Result<()> {
    let sha = match &raw.packed {
        Some(p) => put_packed(c, p)?,
        None => put_blob(c, &raw.bytes)?,
    };
    c.exec(
        "INSERT INTO originals (message_id, kind, source, sha256, received_at, partial, signature)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        &[&message_id, &raw.kind, &raw.source.to_string(), &sha, &raw.received_at, &raw.partial, &raw.signature],
    )?;
    Ok(())
}

/// A whole mail fetched later for a message kept only in part (an export completes it).
pub fn complete(db: &mut Db, message_id: i64, raw: &RawOriginal) -> Result<()> {
    db.write(|c| record(c, message_id, raw))
}

/// A file of a received message fetched later (an export fetches what the
/// channel serves only on demand): kept under its SHA-256 like fetched media.
pub fn keep_attachment(db: &mut Db, message_id: i64, index: usize, bytes: &[u8]) -> Result<String> {
    db.write(|c| {
        let sha = put_blob_as_is(c, bytes)?;
        c.exec(
            "UPDATE attachments SET content_hash = ?1, size = ?2
             WHERE id = (SELECT id FROM attachments WHERE message_id = ?3 ORDER BY ordinal LIMIT 1 OFFSET ?4)",
            &[&sha, &bytes.len(), &message_id, &index],
        )?;
        Ok(sha)
    })
}

/// One kept original, as the store lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct Original {
    pub kind: String,
    pub source: serde_json::Value,
    pub sha256: String,
    pub size: i64,
    pub received_at: i64,
    pub partial: Option<String>,
    pub signature: Option<String>,
}

impl super::Reader {
    /// The originals of a message, the most complete and newest first.
    pub fn originals_of(&self, message_id: i64) -> Result<Vec<Original>> {
        self.connection().with_conn(|c| originals_in(c, message_id))
    }

    /// The bytes stored under `sha256`, checked against it.
    pub fn blob(&self, sha256: &str) -> Result<Option<Vec<u8>>> {
        blob_in(self.connection(), sha256, Some(self.side_blobs()))
    }
}

/// The originals kept of one message, newest whole one first (a reader's
/// and the evidence's, on either engine).
pub(super) fn originals_in(c: &dyn Conn, message: i64) -> Result<Vec<Original>> {
    c.all(
        "SELECT o.kind, o.source, o.sha256, b.size, o.received_at, o.partial, o.signature
         FROM originals o JOIN blobs b ON b.sha256 = o.sha256
         WHERE o.message_id = ?1 ORDER BY o.partial IS NOT NULL, o.id DESC",
        &[&message],
        |r| {
            let source: String = r.get(1)?;
            Ok(Original {
                kind: r.get(0)?,
                source: serde_json::from_str(&source).unwrap_or(serde_json::Value::Null),
                sha256: r.get(2)?,
                size: r.get(3)?,
                received_at: r.get(4)?,
                partial: r.get(5)?,
                signature: r.get(6)?,
            })
        },
    )
}
