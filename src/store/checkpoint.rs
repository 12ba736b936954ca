//! WAL checkpoints on a thread of their own, beside the writer.
//!
//! SQLite copies its write-ahead log back into the database file (a
//! checkpoint) on the connection whose commit made the log long enough: the
//! writer's. At a million messages that copy and its fsyncs held the writer
//! for a fifth of a first sync (`PULT_BENCH_ONLY_INGEST=1 pult-bench`: 21,755
//! messages/s without checkpoints, 17,993 with them), and a profile hardly
//! shows it, as a thread waiting on the disk takes no samples. Here the writer
//! only says how long the log is (a WAL hook); a second connection on a
//! thread of its own checkpoints (PASSIVE: it never waits for the writer or
//! for readers, nor they for it).
//!
//! The log starts over only when it is copied to its end before the writer's
//! next transaction, which a writer busy with a first sync rarely leaves time
//! for: past [`WRITER_CHECKPOINTS_AT`] frames the writer checkpoints itself, as
//! SQLite's own hook does, and by then most of the log is copied already.

use rusqlite::{Connection, OpenFlags, ffi};
use std::cell::Cell;
use std::ffi::{c_char, c_int, c_void};
use std::path::Path;
use std::sync::mpsc;

/// The checkpoint thread is woken each time the log grew by this many frames
/// (pages; about 8 MB). What it has not copied when the store closes is copied
/// then, with the process waiting: woken every 10,000 frames, that was up to
/// 40 MB and half a second at the end of a first sync of 20,000 mails; now
/// ~0.25 s. The copying moved to this thread, beside the writer, and the
/// writer kept its pace (`PULT_BENCH_ONLY_INGEST=1 pult-bench --messages
/// 1000000`: 23,014–26,563 messages/s, as before).
const WAKE_EVERY: c_int = 2_000;
/// The writer checkpoints itself past this many frames (about 200 MB), so that
/// the log starts over.
const WRITER_CHECKPOINTS_AT: c_int = 50_000;

/// The checkpoint thread of one writer connection. Drop it after the
/// connection: the hook it installed points at its state.
pub struct Checkpoints {
    /// Owned here (from `Box::into_raw`), lent to the hook; freed in `drop`.
    state: std::ptr::NonNull<HookState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

// SAFETY: the state is used by the hook, on whichever thread uses the writer's
// connection, and by `drop`, which runs after that connection is closed
// (`start`'s contract); never by two threads at once.
unsafe impl Send for Checkpoints {}

/// Read by the hook on the writer's thread; its wake-up channel closed by `drop`.
struct HookState {
    wake: Option<mpsc::SyncSender<()>>,
    /// The log's length when the thread was last woken.
    woken_at: Cell<c_int>,
    wake_every: c_int,
    writer_at: c_int,
}

impl Checkpoints {
    /// Starts checkpointing `writer`'s log (the store at `path`) on a thread.
    /// Without that thread (it could not open the store), SQLite's own
    /// checkpoints stay as they were.
    ///
    /// # Safety
    /// The returned value must be dropped after `writer` is closed: the hook
    /// installed on it points at the value's state.
    pub(super) unsafe fn start(writer: &Connection, path: &Path) -> Option<Checkpoints> {
        // SAFETY: passed on from the caller.
        unsafe { Self::start_at(writer, path, WAKE_EVERY, WRITER_CHECKPOINTS_AT) }
    }

    /// [`Self::start`] with other thresholds (tests).
    ///
    /// # Safety
    /// As [`Self::start`].
    unsafe fn start_at(writer: &Connection, path: &Path, wake_every: c_int, writer_at: c_int) -> Option<Checkpoints> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = match Connection::open_with_flags(path, flags) {
            Ok(conn) => conn,
            Err(e) => {
                tracing::warn!("checkpoints stay on the writer: {e}");
                return None;
            }
        };
        let (wake, woken) = mpsc::sync_channel::<()>(1);
        let thread = std::thread::Builder::new().name("pult-store-checkpoint".into()).spawn(move || {
            let _ = conn.pragma_update(None, "synchronous", "NORMAL");
            while woken.recv().is_ok() {
                // Busy only when the writer checkpoints itself just then.
                if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                    tracing::debug!("checkpoint: {e}");
                }
            }
        });
        let thread = match thread {
            Ok(thread) => thread,
            Err(e) => {
                tracing::warn!("checkpoints stay on the writer: {e}");
                return None;
            }
        };
        let state = Box::new(HookState { wake: Some(wake), woken_at: Cell::new(0), wake_every, writer_at });
        let state = std::ptr::NonNull::from(Box::leak(state));
        // SAFETY: the handle is the writer's open connection; the state stays
        // allocated until this value is dropped, which the caller does after
        // the connection is closed. The hook replaces SQLite's automatic
        // checkpoints on this connection.
        unsafe {
            ffi::sqlite3_wal_hook(writer.handle(), Some(on_commit), state.as_ptr().cast());
        }
        Some(Checkpoints { state, thread: Some(thread) })
    }
}

impl Drop for Checkpoints {
    fn drop(&mut self) {
        // SAFETY: the state came from Box::leak in `start_at`; the connection
        // whose hook used it is closed (see `start`), so this is its last use.
        let state = unsafe { Box::from_raw(self.state.as_ptr()) };
        // The thread ends when its wake-up channel closes.
        drop(state);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// SQLite's WAL hook: called on the writer's thread after each commit, with
/// the log's length in frames.
unsafe extern "C" fn on_commit(state: *mut c_void, db: *mut ffi::sqlite3, name: *const c_char, frames: c_int) -> c_int {
    // SAFETY: `state` is the HookState installed with this hook (see `start`).
    let state = unsafe { &*state.cast::<HookState>() };
    if frames < state.woken_at.get() {
        state.woken_at.set(0); // the log started over
    }
    if frames >= state.writer_at {
        // As SQLite's own hook does, on this connection.
        // SAFETY: the connection and database name SQLite handed the hook.
        unsafe {
            ffi::sqlite3_wal_checkpoint_v2(
                db,
                name,
                ffi::SQLITE_CHECKPOINT_PASSIVE,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        state.woken_at.set(0);
    } else if frames - state.woken_at.get() >= state.wake_every
        && let Some(wake) = &state.wake
    {
        state.woken_at.set(frames);
        // A wake-up still pending covers this one.
        let _ = wake.try_send(());
    }
    ffi::SQLITE_OK
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_store(path: &Path) -> Connection {
        let conn = Connection::open(path).expect("open");
        conn.pragma_update(None, "journal_mode", "WAL").expect("wal");
        conn.execute_batch("CREATE TABLE t (b BLOB)").expect("table");
        conn
    }

    fn write_pages(conn: &Connection, commits: usize) {
        for _ in 0..commits {
            conn.execute("INSERT INTO t (b) VALUES (zeroblob(8000))", []).expect("insert");
        }
    }

    #[test]
    fn the_log_is_copied_back_by_the_checkpoint_thread_not_the_writer() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.db");
        let writer = wal_store(&path);
        let size = || std::fs::metadata(&path).expect("meta").len();
        let before = size();
        // SAFETY: the hook is removed before `checkpoints` is dropped.
        let checkpoints = unsafe { Checkpoints::start_at(&writer, &path, 20, 1_000_000) }.expect("thread");
        // A hundred commits of a few pages each: the thread is woken several
        // times; SQLite's own hook would not copy before 1,000 pages.
        write_pages(&writer, 100);
        // Its last wake-up is handled before it ends; the writer, still open,
        // keeps its closing connection from copying anything itself.
        unsafe { ffi::sqlite3_wal_hook(writer.handle(), None, std::ptr::null_mut()) };
        drop(checkpoints);
        assert!(size() > before + 100 * 8000, "the log was copied into the file: {} → {}", before, size());
        drop(writer);
    }

    #[test]
    fn past_its_limit_the_writer_checkpoints_itself() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("s.db");
        let writer = wal_store(&path);
        let before = std::fs::metadata(&path).expect("meta").len();
        // The thread is never woken (its threshold is out of reach); the writer copies at 30 frames.
        // SAFETY: `writer` is closed before `checkpoints` is dropped.
        let checkpoints = unsafe { Checkpoints::start_at(&writer, &path, 1_000_000, 30) }.expect("thread");
        write_pages(&writer, 20);
        assert!(std::fs::metadata(&path).expect("meta").len() > before + 5 * 8000, "the writer copied the log");
        drop(writer);
        drop(checkpoints);
    }
}
