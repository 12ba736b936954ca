//! Who runs the workers for a store: one process at a time holds `<store>.lock`
//! (an advisory file lock the kernel releases when the holder dies, even on SIGKILL).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug)]
pub struct WorkerLock {
    file: File,
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("{holder} already runs the workers for this store ({path})")]
    Held { holder: String, path: PathBuf },
    #[error("lock file {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// What entitles this process to run the workers of a store.
#[derive(Debug)]
pub enum Entitlement {
    /// `<store>.lock` beside a SQLite file.
    File(WorkerLock),
    /// The sender's lease of a PostgreSQL store, which the writer thread
    /// holds (`Writer::hold_lease`) so that every send is fenced by it.
    Lease,
}

impl From<WorkerLock> for Entitlement {
    fn from(lock: WorkerLock) -> Self {
        Entitlement::File(lock)
    }
}

pub fn lock_path(store: &Path) -> PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".lock");
    PathBuf::from(p)
}

impl WorkerLock {
    /// Takes the lock without waiting; `role` ("daemon", "pult (solo)") is written
    /// into the file so that others can say who holds it.
    pub fn try_acquire(store: &Path, role: &str) -> Result<WorkerLock, LockError> {
        let path = lock_path(store);
        let io = |source| LockError::Io { path: path.clone(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim().to_string();
                return Err(LockError::Held {
                    holder: if holder.is_empty() { "another pult".into() } else { holder },
                    path,
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io(e)),
        }
        let user = crate::paths::unix_user().unwrap_or_default();
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        write!(file, "{role} (pid {}, user {user})", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(WorkerLock { file })
    }

    /// Whether some process holds the lock right now (without taking it).
    pub fn is_held(store: &Path) -> bool {
        match Self::try_acquire(store, "probe") {
            Ok(lock) => {
                drop(lock);
                false
            }
            Err(LockError::Held { .. }) => true,
            Err(LockError::Io { .. }) => false,
        }
    }
}

impl Drop for WorkerLock {
    fn drop(&mut self) {
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time() {
        let dir = tempfile::tempdir().expect("tmp");
        let store = dir.path().join("s.db");
        let a = WorkerLock::try_acquire(&store, "daemon").expect("first");
        match WorkerLock::try_acquire(&store, "daemon") {
            Err(LockError::Held { holder, .. }) => assert!(holder.starts_with("daemon (pid"), "{holder}"),
            other => panic!("expected Held, got {other:?}"),
        }
        assert!(WorkerLock::is_held(&store));
        drop(a);
        assert!(!WorkerLock::is_held(&store));
        assert!(WorkerLock::try_acquire(&store, "pult (solo)").is_ok());
    }
}
