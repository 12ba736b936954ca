//! The `pult` FTS5 tokenizer: SQLite's full-text index sees the terms of
//! [`crate::search::words`], so that index, queries and highlights agree.
//!
//! rusqlite has no safe tokenizer API; SQLite hands out its `fts5_api` through
//! `SELECT fts5(?1)` with a bound pointer, and copies the tokenizer's function
//! table when it is registered. Registered on every connection that may touch
//! the index (writers and readers alike).

use crate::search::words::{Mode, Words};
use rusqlite::{Connection, ffi};
use std::ffi::{c_char, c_int, c_void};
use std::ptr;

/// The tokenizer's name in `CREATE VIRTUAL TABLE … tokenize = 'pult'`.
pub const TOKENIZER: &str = "pult";

pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    // SAFETY: the handle is valid while `conn` lives; the statement is finalised
    // before returning; `api` is written by SQLite through the bound pointer only
    // during the step, and the function table is copied by xCreateTokenizer_v2.
    unsafe {
        let db = conn.handle();
        let mut api: *mut ffi::fts5_api = ptr::null_mut();
        let mut stmt: *mut ffi::sqlite3_stmt = ptr::null_mut();
        let rc = ffi::sqlite3_prepare_v2(db, c"SELECT fts5(?1)".as_ptr(), -1, &mut stmt, ptr::null_mut());
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some("fts5 is not available".into())));
        }
        ffi::sqlite3_bind_pointer(
            stmt,
            1,
            (&mut api as *mut *mut ffi::fts5_api).cast::<c_void>(),
            c"fts5_api_ptr".as_ptr(),
            None,
        );
        ffi::sqlite3_step(stmt);
        ffi::sqlite3_finalize(stmt);
        let create = if api.is_null() || (*api).iVersion < 3 { None } else { (*api).xCreateTokenizer_v2 };
        let Some(create) = create else {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_ERROR),
                Some("this SQLite's fts5 has no version 2 tokenizers".into()),
            ));
        };
        let mut table = ffi::fts5_tokenizer_v2 {
            iVersion: 2,
            xCreate: Some(x_create),
            xDelete: Some(x_delete),
            xTokenize: Some(x_tokenize),
        };
        let rc = create(api, c"pult".as_ptr(), ptr::null_mut(), &mut table, None);
        if rc != ffi::SQLITE_OK {
            return Err(rusqlite::Error::SqliteFailure(ffi::Error::new(rc), Some("cannot register tokenizer".into())));
        }
    }
    Ok(())
}

unsafe extern "C" fn x_create(
    _user: *mut c_void,
    _args: *mut *const c_char,
    _nargs: c_int,
    out: *mut *mut ffi::Fts5Tokenizer,
) -> c_int {
    let tokenizer = Box::new(Words::new());
    // SAFETY: SQLite passes a valid out pointer; the box is freed in x_delete.
    unsafe { *out = Box::into_raw(tokenizer).cast::<ffi::Fts5Tokenizer>() };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_delete(p: *mut ffi::Fts5Tokenizer) {
    if !p.is_null() {
        // SAFETY: `p` came from Box::into_raw in x_create and is deleted once.
        drop(unsafe { Box::from_raw(p.cast::<Words>()) });
    }
}

type TokenCallback = unsafe extern "C" fn(*mut c_void, c_int, *const c_char, c_int, c_int, c_int) -> c_int;

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn x_tokenize(
    p: *mut ffi::Fts5Tokenizer,
    ctx: *mut c_void,
    flags: c_int,
    text: *const c_char,
    len: c_int,
    _locale: *const c_char,
    _locale_len: c_int,
    token: Option<TokenCallback>,
) -> c_int {
    let Some(token) = token else { return ffi::SQLITE_ERROR };
    if p.is_null() {
        return ffi::SQLITE_ERROR;
    }
    // SAFETY: `p` is our Words (x_create); FTS5 uses a tokenizer from one thread
    // at a time; `text` holds `len` bytes for the duration of the call.
    let words = unsafe { &mut *p.cast::<Words>() };
    let bytes: &[u8] = if text.is_null() || len <= 0 {
        &[]
    } else {
        unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len as usize) }
    };
    let mode = if flags & ffi::FTS5_TOKENIZE_PREFIX != 0 {
        Mode::Prefix
    } else if flags & ffi::FTS5_TOKENIZE_QUERY != 0 {
        Mode::Query
    } else {
        Mode::Document
    };
    let emit = |term: &str, start: usize, end: usize, colocated: bool| {
        let tflags = if colocated { ffi::FTS5_TOKEN_COLOCATED } else { 0 };
        // SAFETY: FTS5's callback with the context it gave us; it copies the term.
        let rc = unsafe {
            token(ctx, tflags, term.as_ptr().cast::<c_char>(), term.len() as c_int, start as c_int, end as c_int)
        };
        if rc == ffi::SQLITE_OK { Ok(()) } else { Err(rc) }
    };
    // Terms a sync worker prepared for this row (store::prepared).
    if mode == Mode::Document {
        let replayed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::prepared::replay(bytes, emit)));
        match replayed {
            Ok(Some(Ok(()))) => return ffi::SQLITE_OK,
            Ok(Some(Err(rc))) => return rc,
            Ok(None) => {}
            Err(_) => return ffi::SQLITE_ERROR,
        }
    }
    // Stored text is UTF-8; anything else is read as well as it can be (offsets
    // only matter for highlighting, which pult does itself).
    let text = String::from_utf8_lossy(bytes);
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| words.each(&text, mode, emit)));
    match run {
        Ok(Ok(())) => ffi::SQLITE_OK,
        Ok(Err(rc)) => rc,
        Err(_) => ffi::SQLITE_ERROR,
    }
}
