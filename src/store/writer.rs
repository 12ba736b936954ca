//! The one thread per process that writes to the store, and the handle that talks to it.
//!
//! Jobs are closures run on the writer's connection in arrival order. Callers
//! choose how to wait: a future (workers on tokio, `call`, or `start` to await
//! later), a blocking call (the UI, the CLI, tests), or not at all (`submit`
//! with a callback that drops the result: progress written as it happens).

use super::index_merge;
use super::sql::WithConn;
use super::{Db, Result, StoreError};
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::path::Path;
use std::sync::mpsc;

type Job = Box<dyn FnOnce(&mut Held) + Send>;

/// What the writer thread holds: the store's connection and, in the daemon
/// that sends for a PostgreSQL store, the sender's lease.
struct Held {
    db: Db,
    lease: Option<super::pg::lease::Lease>,
    /// SQLite's checkpoints, on a thread of their own; dropped after `db`.
    _checkpoints: Option<super::checkpoint::Checkpoints>,
}

/// Where the outbox's transitions are written: the store's own connection on
/// SQLite (the file lock keeps other senders out), the lease's connection
/// on PostgreSQL, fenced by its epoch (`pg::lease`).
pub enum Outbox<'a> {
    Store(&'a mut Db),
    Lease(&'a mut super::pg::lease::Lease),
}

impl super::sql::Transact for Outbox<'_> {
    fn write<R>(&mut self, f: impl FnOnce(&dyn super::sql::Conn) -> Result<R>) -> Result<R> {
        match self {
            Outbox::Store(db) => db.write(f),
            Outbox::Lease(lease) => lease.write(f),
        }
    }
}

#[derive(Clone)]
pub struct Writer {
    jobs: std::sync::Arc<Jobs>,
    /// Where workers put the originals they receive (`side_blobs`).
    blobs: Option<std::sync::Arc<super::side_blobs::SideBlobs>>,
}

/// The way to the writer thread, shared by every handle. When the last handle
/// goes, the thread finishes its jobs and closes the store before the process
/// goes on: a process that ended with its writer's connection open left its
/// whole write-ahead log for the next one to read back (0.1 s after a sync).
struct Jobs {
    send: Option<mpsc::Sender<Job>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Jobs {
    fn drop(&mut self) {
        // The thread's queue ends with the last sender.
        self.send = None;
        if let Some(thread) = self.thread.take()
            && thread.thread().id() != std::thread::current().id()
        {
            let _ = thread.join();
        }
    }
}

impl Writer {
    /// Opens the store (migrating it) and starts the writer thread.
    pub fn spawn(path: &Path) -> Result<Writer> {
        let db = super::open_writer(path)?;
        // SAFETY: `Held` drops its checkpoints after its connection, on the writer's thread.
        let checkpoints = unsafe { super::checkpoint::Checkpoints::start(db.sqlite()?, path) };
        let mut writer = Self::spawn_on(db, checkpoints);
        writer.blobs = Some(std::sync::Arc::new(super::side_blobs::SideBlobs::beside(path)));
        Ok(writer)
    }

    /// Starts the writer thread on a PostgreSQL store (migrating it). Its
    /// originals stay in the database: there is no file beside it.
    pub fn spawn_postgres(target: &super::pg::Target) -> Result<Writer> {
        let mut db = super::pg::PgDb::open(target)?;
        super::sql::Transact::write(&mut db, |c| {
            for settings in super::pg::schema::FIRST_SETTINGS {
                c.exec(settings, &[])?;
            }
            Ok(())
        })?;
        Ok(Self::spawn_on(Db::postgres(db), None))
    }

    /// Where a worker writes the originals it receives before handing their
    /// messages over, when this store keeps originals.
    pub async fn blobs_for_originals(&self) -> Option<std::sync::Arc<super::side_blobs::SideBlobs>> {
        let dir = self.blobs.clone()?;
        let keeps = self.call(|db| db.keeps_raw()).await.unwrap_or(false);
        keeps.then_some(dir)
    }

    /// Deletes the files of originals kept beside the store that a committed
    /// removal left unnamed; says in the log which could not be deleted.
    pub fn forget_beside(&self, shas: &[String]) {
        let Some(side) = &self.blobs else { return };
        if let Err(e) = side.remove(shas) {
            tracing::warn!("originals beside the store not deleted ({}): {e}", side.path().display());
        }
    }

    fn spawn_on(db: Db, checkpoints: Option<super::checkpoint::Checkpoints>) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        // One value, so that its connection closes before its checkpoints go.
        let mut held = Held { db, lease: None, _checkpoints: checkpoints };
        let spawned = std::thread::Builder::new().name("pult-store-writer".into()).spawn(move || {
            let mut since_prune = 0u32;
            // A store opened may hold segments that others left (a sync that
            // ended, this open's own rebuild): looked at once idle, as after a write.
            let mut between =
                if held.db.is_postgres() { Between::Nothing } else { Between::Wrote(std::time::Instant::now()) };
            while let Some(job) = next_job(&rx, &held.db, &mut between) {
                let before = written(&held.db);
                job(&mut held);
                // Only a job that wrote puts merging off; one that read does not.
                if written(&held.db) != before {
                    between = Between::Wrote(std::time::Instant::now());
                }
                since_prune += 1;
                if since_prune >= 500 {
                    since_prune = 0;
                    if let Err(e) = prune_changes(&held.db) {
                        tracing::warn!("pruning the change log failed: {e}");
                    }
                }
            }
        });
        let thread = match spawned {
            Ok(thread) => Some(thread),
            Err(e) => {
                tracing::error!("cannot start the store writer thread: {e}");
                None
            }
        };
        Writer { jobs: std::sync::Arc::new(Jobs { send: Some(tx), thread }), blobs: None }
    }

    /// Runs `f` on the writer thread and hands its result to `done` there.
    pub fn submit<R, F, D>(&self, f: F, done: D)
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R> + Send + 'static,
        D: FnOnce(Result<R>) + Send + 'static,
    {
        self.send(Box::new(move |held| done(f(&mut held.db))));
    }

    fn send(&self, job: Job) {
        let sent = match &self.jobs.send {
            Some(send) => send.send(job).map_err(|mpsc::SendError(job)| job),
            None => Err(job),
        };
        if let Err(job) = sent {
            // The thread is gone; run nothing, but let the caller know.
            drop(job);
            tracing::error!("store writer has stopped; a write was dropped");
        }
    }

    /// Runs an outbox transition (`intents::take_due`, `mark_sent`, …) where
    /// the sender's transitions are written: see [`Outbox`]. On PostgreSQL
    /// without the lease nothing runs: a daemon that does not hold it must
    /// neither take nor mark a send.
    pub async fn outbox<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Outbox<'_>) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.send(Box::new(move |held| {
            let result = match (&mut held.lease, held.db.is_postgres()) {
                (Some(lease), _) => f(&mut Outbox::Lease(lease)),
                (None, false) => f(&mut Outbox::Store(&mut held.db)),
                (None, true) => Err(super::pg::PgError::LeaseLost.into()),
            };
            let _ = tx.send(result);
        }));
        rx.await.map_err(|_| StoreError::WriterGone)?
    }

    /// Gives the writer thread the sender's lease this daemon took: from now
    /// on the outbox's transitions are fenced by it.
    pub fn hold_lease(&self, lease: super::pg::lease::Lease) -> Result<()> {
        self.held_blocking(move |held| {
            held.lease = Some(lease);
            Ok(())
        })
    }

    /// Whether the lease this writer holds is still this daemon's (its
    /// connection alive, its epoch current). False without a lease, and
    /// false on any error: a daemon that cannot show it holds the lease
    /// stops rather than risk working beside another.
    pub fn lease_holds(&self) -> Result<bool> {
        self.held_blocking(|held| {
            let Some(lease) = &mut held.lease else { return Ok(false) };
            Ok(match lease.fenced(|_| Ok(())) {
                Ok(()) => true,
                Err(e @ (super::pg::PgError::LeaseLost | super::pg::PgError::Fenced { .. })) => {
                    tracing::info!("{e}");
                    false
                }
                Err(e) => {
                    tracing::warn!("the sender's lease cannot be checked: {e}");
                    false
                }
            })
        })
    }

    /// Hands the lease back (a standby takes it at once), or lets a lost one go.
    pub fn release_lease(&self) -> Result<()> {
        self.held_blocking(|held| match held.lease.take() {
            Some(lease) => lease.release().or_else(|e| match e {
                super::pg::PgError::Sql(e) if e.is_closed() => Ok(()),
                e => Err(e.into()),
            }),
            None => Ok(()),
        })
    }

    fn held_blocking<R: Send + 'static>(&self, f: impl FnOnce(&mut Held) -> Result<R> + Send + 'static) -> Result<R> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Box::new(move |held| {
            let _ = tx.send(f(held));
        }));
        rx.recv().map_err(|_| StoreError::WriterGone)?
    }

    pub fn call_blocking<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.submit(f, move |r| {
            let _ = tx.send(r);
        });
        rx.recv().map_err(|_| StoreError::WriterGone)?
    }

    pub async fn call<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R> + Send + 'static,
    {
        self.start(f).await
    }

    /// Queues `f` now and returns its result to await later: a worker fetches
    /// and parses the next batch while the writer stores this one. Jobs still
    /// run in the order they were started.
    pub fn start<R, F>(&self, f: F) -> impl std::future::Future<Output = Result<R>> + use<R, F>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R> + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.submit(f, move |r| {
            let _ = tx.send(r);
        });
        async move { rx.await.map_err(|_| StoreError::WriterGone)? }
    }
}

/// Jobs that only make sense in the order they were queued, as a sync's
/// batches, each with the cursors that hold once it and all before it are
/// stored: once one fails, each queued after it is refused
/// ([`StoreError::EarlierFailed`]) instead of run, so the cursors never pass
/// the gap. Lets a caller queue the next batch while the writer still stores
/// this one.
#[derive(Debug, Clone, Default)]
pub struct InOrder(std::sync::Arc<std::sync::atomic::AtomicBool>);

impl InOrder {
    /// Queues `f` behind this sequence's earlier jobs, as `Writer::start` does.
    pub fn start<R, F>(&self, writer: &Writer, f: F) -> impl std::future::Future<Output = Result<R>> + use<R, F>
    where
        R: Send + 'static,
        F: FnOnce(&mut Db) -> Result<R> + Send + 'static,
    {
        use std::sync::atomic::Ordering::SeqCst;
        let failed = self.0.clone();
        writer.start(move |db| {
            // The writer runs jobs one at a time in queue order: the flag is
            // final for every job before this one.
            if failed.load(SeqCst) {
                return Err(StoreError::EarlierFailed);
            }
            let done = f(db);
            if done.is_err() {
                failed.store(true, SeqCst);
            }
            done
        })
    }
}

/// A write transaction that takes the lock at once (BEGIN IMMEDIATE), so two
/// processes never deadlock upgrading read locks; busy_timeout absorbs waiting.
pub(super) fn immediate(conn: &mut Connection) -> Result<Transaction<'_>> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// Records that something about a conversation changed, for other processes' UIs.
pub(super) fn note_change(
    c: &(impl WithConn + ?Sized),
    at: i64,
    kind: crate::model::ChangeKind,
    conversation: Option<i64>,
    actor: Option<&str>,
) -> Result<()> {
    c.with_conn(|c| c.note_change(at, kind.as_str(), conversation, actor))
}

pub(super) fn audit(
    c: &(impl WithConn + ?Sized),
    at: i64,
    actor: &str,
    action: &str,
    conversation: Option<i64>,
    detail: &str,
) -> Result<()> {
    c.with_conn(|c| super::audit_chain::append(c, at, actor, action, conversation, detail))?;
    Ok(())
}

/// The newest entry of the change log (what a UI has seen when it is there).
pub fn last_change_seq(db: &Db) -> Result<i64> {
    db.with_conn(|c| c.one("SELECT coalesce(max(seq), 0) FROM changes", &[], |r| r.get(0)))
}

/// Rows the writer's SQLite connection has changed so far (none on PostgreSQL).
fn written(db: &Db) -> u64 {
    db.sqlite().map(|c| c.total_changes()).unwrap_or(0)
}

/// What the writer thread does between jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Between {
    /// Nothing to merge: wait for the next job.
    Nothing,
    /// A job wrote at this instant: merge once nothing has been written for
    /// [`index_merge::IDLE`] since (a job that only reads does not put it off).
    Wrote(std::time::Instant),
    /// Idle and merging: a step whenever no job is waiting.
    Merging,
}

/// The next job, merging the message index while none comes
/// (`index_merge`); `None` once every handle is gone (the thread ends
/// without merging: a command that wrote should not wait for that).
fn next_job(rx: &mpsc::Receiver<Job>, db: &Db, between: &mut Between) -> Option<Job> {
    loop {
        let waited = match *between {
            Between::Nothing => return rx.recv().ok(),
            Between::Wrote(at) => rx.recv_timeout(index_merge::IDLE.saturating_sub(at.elapsed())),
            Between::Merging => rx.try_recv().map_err(|e| match e {
                mpsc::TryRecvError::Empty => mpsc::RecvTimeoutError::Timeout,
                mpsc::TryRecvError::Disconnected => mpsc::RecvTimeoutError::Disconnected,
            }),
        };
        match waited {
            Ok(job) => return Some(job),
            Err(mpsc::RecvTimeoutError::Disconnected) => return None,
            Err(mpsc::RecvTimeoutError::Timeout) => {
                *between = match db.sqlite().and_then(index_merge::step) {
                    Ok(true) => Between::Merging,
                    Ok(false) => Between::Nothing,
                    // Not tried again until the next write: an index that
                    // cannot be merged should not fill the log every 300 ms.
                    Err(e) => {
                        tracing::warn!("merging the search index failed: {e}");
                        Between::Nothing
                    }
                };
            }
        }
    }
}

/// UIs read only recent changes; keep the log short.
fn prune_changes(db: &Db) -> Result<()> {
    db.with_conn(|c| c.exec("DELETE FROM changes WHERE seq < (SELECT max(seq) FROM changes) - 20000", &[]))?;
    Ok(())
}
