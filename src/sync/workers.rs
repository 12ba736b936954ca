//! The background workers of whichever process holds the worker lock: the outbox
//! dispatcher, the channel workers and the clock, on one tokio runtime that can
//! be stopped (a solo pult hands over to a daemon that appears).

use super::dispatcher::Senders;
use super::lock::{Entitlement, WorkerLock};
use crate::channels::registry::Channel;
use crate::store::Writer;
use crate::workflow::calendar::Calendar;
use crate::workflow::templates::Templates;
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Clone)]
pub struct WorkerConfig {
    pub writer: Writer,
    pub calendar: Calendar,
    pub templates: Templates,
    pub actor: String,
    pub auto_reply: bool,
    /// Every configured channel (`channels::registry::open_all`).
    pub channels: Vec<std::sync::Arc<dyn Channel>>,
}

impl WorkerConfig {
    /// Senders for every channel this config has a worker for.
    pub fn senders(&self) -> Senders {
        self.channels.iter().map(|c| (c.id(), c.sender(&self.writer))).collect()
    }
}

/// Running workers; dropping the handle (or `stop`) ends them and frees the lock.
pub struct Workers {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    _lock: Entitlement,
}

impl Workers {
    pub fn start(lock: impl Into<Entitlement>, cfg: WorkerConfig, senders: Senders) -> std::io::Result<Workers> {
        let lock = lock.into();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new().name("pult-workers".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("worker runtime: {e}");
                    return;
                }
            };
            rt.block_on(async move {
                let mut all = cfg.senders();
                all.extend(senders);
                let dispatcher =
                    tokio::spawn(super::dispatcher::run(cfg.writer.clone(), all, Duration::from_millis(500)));
                let channels: Vec<_> = cfg.channels.iter().map(|c| tokio::spawn(c.run(cfg.writer.clone()))).collect();
                let clock = cfg.auto_reply.then(|| {
                    tokio::spawn(super::clock::run(
                        cfg.writer.clone(),
                        cfg.calendar.clone(),
                        cfg.templates.clone(),
                        cfg.actor.clone(),
                        Duration::from_secs(30),
                    ))
                });
                let _ = rx.await;
                // In-flight sends are cut at an await point; their rows stay
                // `sending` and the next holder's recovery puts them back in the queue.
                dispatcher.abort();
                for c in channels {
                    c.abort();
                }
                if let Some(c) = clock {
                    c.abort();
                }
            });
            // A secret command still running (a pinentry nobody answers) must not
            // hold up the stop: it is killed, and the runtime waits no longer.
            crate::secrets::kill_running();
            rt.shutdown_timeout(Duration::from_secs(2));
        })?;
        Ok(Workers { stop: Some(tx), thread: Some(thread), _lock: lock })
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Keeps a pult in the right role: it runs the workers while no daemon does
/// (solo mode), hands them over when a daemon asks, and takes them back when
/// the daemon goes away.
pub struct Supervisor {
    store: std::path::PathBuf,
    cfg: WorkerConfig,
    senders: Senders,
    running: Option<Workers>,
}

/// A daemon that finds a solo pult holding the lock leaves this file to ask for it.
pub fn handover_path(store: &std::path::Path) -> std::path::PathBuf {
    let mut p = store.as_os_str().to_owned();
    p.push(".handover");
    std::path::PathBuf::from(p)
}

impl Supervisor {
    pub fn new(store: &std::path::Path, cfg: WorkerConfig, senders: Senders) -> Supervisor {
        Supervisor { store: store.to_path_buf(), cfg, senders, running: None }
    }

    pub fn solo(&self) -> bool {
        self.running.is_some()
    }

    /// Called every few seconds; returns true when the role changed.
    pub fn poll(&mut self) -> bool {
        if self.running.is_some() {
            if handover_path(&self.store).exists() {
                tracing::info!("a daemon asked for the workers; handing over");
                if let Some(w) = self.running.take() {
                    w.stop();
                }
                return true;
            }
            return false;
        }
        if handover_path(&self.store).exists() {
            return false; // a daemon is taking over right now
        }
        match WorkerLock::try_acquire(&self.store, "pult (solo)") {
            Ok(lock) => match Workers::start(lock, self.cfg.clone(), self.senders.clone()) {
                Ok(w) => {
                    tracing::info!("no daemon: running the workers here (solo mode)");
                    self.running = Some(w);
                    true
                }
                Err(e) => {
                    tracing::error!("cannot start workers: {e}");
                    false
                }
            },
            Err(_) => false,
        }
    }
}
