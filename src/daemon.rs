//! `pult daemon`: the one process per store that runs the sync workers, the
//! outbox and the clock, while people's pults only read and write intent rows.

use crate::config::Config;
use crate::store::Writer;
use crate::sync::lock::{LockError, WorkerLock};
use crate::sync::workers::{WorkerConfig, Workers, handover_path};
use crate::t;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::time::Duration;

pub fn run(cfg: &Config, store_arg: Option<&Path>) -> Result<()> {
    let path = crate::bootstrap::resolve_store(store_arg, cfg)?;
    let writer = Writer::spawn(&path).with_context(|| t!("opening_store", path = path.display()))?;
    let (channels, bad) = crate::channels::registry::open_all(cfg, &writer);
    for (name, why) in &bad {
        eprintln!("pult daemon: {}", t!("account_does_not_run", name = name, why = why));
    }
    let lock = acquire(&path)?;
    eprintln!("pult daemon: {}", t!("daemon_running", path = path.display(), pid = std::process::id()));
    tracing::info!("daemon started for {}", path.display());
    let calendar = crate::workflow::calendar::Calendar::from_config(cfg)?;
    let user_templates = std::fs::read_to_string(crate::paths::config_dir().join("templates.toml")).ok();
    let (templates, _) = crate::workflow::templates::Templates::with_user_file(user_templates.as_deref());
    let escalations = Escalations::new(cfg, &path, &writer);
    let workers = Workers::start(
        lock,
        WorkerConfig { writer, calendar, templates, actor: cfg.actor(), auto_reply: cfg.hours.auto_reply, channels },
        Default::default(),
    )?;
    wait_for_signal(escalations)?;
    eprintln!("pult daemon: {}", t!("daemon_stopping"));
    tracing::info!("daemon stopping on signal");
    workers.stop();
    Ok(())
}

/// Takes the worker lock. Another daemon means refusal; a solo pult is asked to
/// hand over, and the daemon waits for it.
fn acquire(path: &Path) -> Result<WorkerLock> {
    match WorkerLock::try_acquire(path, "daemon") {
        Ok(l) => Ok(l),
        Err(LockError::Held { holder, .. }) if holder.starts_with("daemon") => {
            bail!("{}", t!("daemon_already", path = path.display(), holder = holder))
        }
        Err(LockError::Held { holder, .. }) => {
            eprintln!("pult daemon: {}", t!("daemon_asking_handover", holder = holder));
            let request = handover_path(path);
            std::fs::write(&request, format!("{}", std::process::id()))?;
            let result = loop {
                match WorkerLock::try_acquire(path, "daemon") {
                    Ok(l) => break Ok(l),
                    Err(LockError::Held { .. }) => std::thread::sleep(Duration::from_millis(200)),
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
    fn new(cfg: &Config, path: &Path, writer: &Writer) -> Escalations {
        let now = jiff::Timestamp::now().as_second();
        let context = (!cfg.sla.is_empty())
            .then(|| {
                let ctx = crate::sla_cli::context_at(cfg, path, now).map_err(|e| tracing::warn!("sla: {e}")).ok()?;
                let reader = crate::store::Reader::open(path, crate::sla_cli::ESCALATION_ACTOR).ok()?;
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

fn wait_for_signal(escalations: Escalations) -> Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut every = tokio::time::interval(Duration::from_secs(60));
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = every.tick() => escalations.run(),
            }
        }
        Ok::<(), std::io::Error>(())
    })?;
    Ok(())
}
