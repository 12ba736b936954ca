//! `pult daemon`: the one process per store that runs the sync workers, the
//! outbox and the clock, while people's pults only read and write intent rows.

use crate::config::Config;
use crate::store::pg::Target;
use crate::store::pg::lease::Lease;
use crate::store::{Location, Writer};
use crate::sync::lock::{Entitlement, LockError, WorkerLock};
use crate::sync::workers::{WorkerConfig, Workers, handover_path};
use crate::t;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub fn run(cfg: &Config, store_arg: Option<&Path>) -> Result<()> {
    match crate::bootstrap::resolve_location(store_arg, cfg)? {
        Location::Sqlite(path) => run_sqlite(cfg, &path),
        Location::Postgres(target) => run_postgres(cfg, &target),
    }
}

fn run_sqlite(cfg: &Config, path: &Path) -> Result<()> {
    let signals = Signals::watch()?;
    let writer = Writer::spawn(path).with_context(|| t!("opening_store", path = path.display()))?;
    let (channels, bad) = crate::channels::registry::open_all(cfg, &writer);
    for (name, why) in &bad {
        eprintln!("pult daemon: {}", t!("account_does_not_run", name = name, why = why));
    }
    let Some(lock) = acquire(path, &signals)? else { return Ok(()) };
    eprintln!("pult daemon: {}", t!("daemon_running", path = path.display(), pid = std::process::id()));
    tracing::info!("daemon started for {}", path.display());
    let location = Location::Sqlite(path.to_path_buf());
    let escalations = Escalations::new(cfg, &location, &writer);
    let workers = Workers::start(lock, worker_config(cfg, writer, channels)?, Default::default())?;
    escalations.run();
    while !signals.stopped(Duration::from_secs(60)) {
        escalations.run();
    }
    eprintln!("pult daemon: {}", t!("daemon_stopping"));
    tracing::info!("daemon stopping on signal");
    workers.stop();
    Ok(())
}

/// On PostgreSQL several daemons (on several hosts) may run for one store:
/// the one holding the sender's lease syncs and sends, the others wait as
/// standbys and take over the moment its session ends. A daemon that loses
/// the lease stops its workers and waits again.
fn run_postgres(cfg: &Config, target: &Target) -> Result<()> {
    let signals = Signals::watch()?;
    let shown = target.shown().to_string();
    let writer = Writer::spawn_postgres(target).with_context(|| t!("opening_store", path = shown))?;
    let (channels, bad) = crate::channels::registry::open_all(cfg, &writer);
    for (name, why) in &bad {
        eprintln!("pult daemon: {}", t!("account_does_not_run", name = name, why = why));
    }
    let location = Location::Postgres(target.clone());
    let escalations = Escalations::new(cfg, &location, &writer);
    let config = worker_config(cfg, writer.clone(), channels)?;
    let holder = holder_name();
    let now = || jiff::Timestamp::now().as_second();
    loop {
        let lease = match Lease::try_take(target, &holder, now())? {
            Some(lease) => lease,
            None => {
                eprintln!("pult daemon: {}", t!("daemon_standby", path = shown, holder = lease_holder(&writer)));
                match Lease::wait_take(target, &holder, signals.flag(), now)? {
                    Some(lease) => lease,
                    None => break,
                }
            }
        };
        writer.hold_lease(lease)?;
        eprintln!("pult daemon: {}", t!("daemon_running", path = shown, pid = std::process::id()));
        tracing::info!("daemon took the sender's lease of {shown}");
        let workers = Workers::start(Entitlement::Lease, config.clone(), Default::default())?;
        let mut since_escalations = std::time::Instant::now();
        escalations.run();
        // The lease is looked at each second: a daemon cut off from the
        // database stops its workers within seconds (the sends themselves are
        // fenced whatever happens meanwhile).
        let lost = loop {
            if signals.stopped(Duration::from_secs(1)) {
                break false;
            }
            match writer.lease_holds() {
                Ok(true) => {}
                Ok(false) => break true,
                Err(e) => tracing::warn!("looking at the sender's lease: {e}"),
            }
            if since_escalations.elapsed() >= Duration::from_secs(60) {
                since_escalations = std::time::Instant::now();
                escalations.run();
            }
        };
        workers.stop();
        if let Err(e) = writer.release_lease() {
            tracing::warn!("handing the sender's lease back: {e}");
        }
        if !lost {
            break;
        }
        eprintln!("pult daemon: {}", t!("daemon_lease_lost", path = shown));
        tracing::warn!("lost the sender's lease of {shown}; waiting as a standby");
    }
    eprintln!("pult daemon: {}", t!("daemon_stopping"));
    tracing::info!("daemon stopping on signal");
    Ok(())
}

fn worker_config(
    cfg: &Config,
    writer: Writer,
    channels: Vec<std::sync::Arc<dyn crate::channels::registry::Channel>>,
) -> Result<WorkerConfig> {
    let calendar = crate::workflow::calendar::Calendar::from_config(cfg)?;
    let user_templates = std::fs::read_to_string(crate::paths::config_dir().join("templates.toml")).ok();
    let (templates, _) = crate::workflow::templates::Templates::with_user_file(user_templates.as_deref());
    Ok(WorkerConfig { writer, calendar, templates, actor: cfg.actor(), auto_reply: cfg.hours.auto_reply, channels })
}

/// Who holds the lease, as `sender_lease` names it: this process and host.
fn holder_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let user = crate::paths::unix_user().unwrap_or_default();
    format!("daemon (pid {}, user {user}, host {})", std::process::id(), host.trim())
}

/// The holder the store names (for the standby's first words).
pub(crate) fn lease_holder(writer: &Writer) -> String {
    use crate::store::sql::WithConn;
    let holder = writer.call_blocking(|db| {
        db.with_conn(|c| c.opt("SELECT holder FROM sender_lease", &[], |r| r.get::<Option<String>>(0)))
    });
    crate::sanitize::line(&holder.ok().flatten().flatten().unwrap_or_else(|| "?".into())).into_owned()
}

/// Takes the worker lock. Another daemon means refusal; a solo pult is asked to
/// hand over, and the daemon waits for it (None: a signal came first).
fn acquire(path: &Path, signals: &Signals) -> Result<Option<WorkerLock>> {
    match WorkerLock::try_acquire(path, "daemon") {
        Ok(l) => Ok(Some(l)),
        Err(LockError::Held { holder, .. }) if holder.starts_with("daemon") => {
            bail!("{}", t!("daemon_already", path = path.display(), holder = holder))
        }
        Err(LockError::Held { holder, .. }) => {
            eprintln!("pult daemon: {}", t!("daemon_asking_handover", holder = holder));
            let request = handover_path(path);
            std::fs::write(&request, format!("{}", std::process::id()))?;
            let result = loop {
                match WorkerLock::try_acquire(path, "daemon") {
                    Ok(l) => break Ok(Some(l)),
                    Err(LockError::Held { .. }) if signals.stopped(Duration::from_millis(200)) => break Ok(None),
                    Err(LockError::Held { .. }) => {}
                    Err(e) => break Err(e.into()),
                }
            };
            let _ = std::fs::remove_file(&request);
            result
        }
        Err(e) => Err(e.into()),
    }
}

/// The response-time escalations (`[[sla]] escalate`): internal notes the
/// daemon writes as clocks pass their thresholds.
struct Escalations {
    context: Option<(crate::sla_cli::SlaContext, crate::store::Reader)>,
    writer: Writer,
    lang: crate::i18n::Lang,
}

impl Escalations {
    fn new(cfg: &Config, location: &Location, writer: &Writer) -> Escalations {
        let now = jiff::Timestamp::now().as_second();
        let context = (!cfg.sla.is_empty())
            .then(|| {
                let ctx =
                    crate::sla_cli::context_at(cfg, location, now).map_err(|e| tracing::warn!("sla: {e}")).ok()?;
                let reader = location
                    .open_reader(crate::sla_cli::ESCALATION_ACTOR)
                    .map_err(|e| tracing::warn!("sla escalations: {e}"))
                    .ok()?;
                Some((ctx, reader))
            })
            .flatten();
        Escalations { context, writer: writer.clone(), lang: cfg.language() }
    }

    fn run(&self) {
        let Some((ctx, reader)) = &self.context else { return };
        match crate::sla_cli::escalate(&self.writer, reader, ctx, self.lang, jiff::Timestamp::now().as_second()) {
            Ok(0) => {}
            Ok(n) => tracing::info!("wrote {n} escalation notes"),
            Err(e) => tracing::warn!("escalations: {e}"),
        }
    }
}

/// SIGTERM and SIGINT, noticed on a thread of their own.
struct Signals {
    stop: std::sync::Arc<AtomicBool>,
    rang: std::sync::mpsc::Receiver<()>,
}

impl Signals {
    fn watch() -> Result<Signals> {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (tx, rang) = std::sync::mpsc::channel();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        use tokio::signal::unix::{SignalKind, signal};
        let (mut term, mut int) = rt.block_on(async {
            Ok::<_, std::io::Error>((signal(SignalKind::terminate())?, signal(SignalKind::interrupt())?))
        })?;
        let flag = stop.clone();
        std::thread::Builder::new().name("pult-signals".into()).spawn(move || {
            rt.block_on(async {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            });
            flag.store(true, Ordering::SeqCst);
            let _ = tx.send(());
        })?;
        Ok(Signals { stop, rang })
    }

    /// Waits up to `wait`; true once a signal came.
    fn stopped(&self, wait: Duration) -> bool {
        self.stop.load(Ordering::SeqCst) || self.rang.recv_timeout(wait).is_ok()
    }

    fn flag(&self) -> &AtomicBool {
        &self.stop
    }
}
