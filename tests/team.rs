//! Team mode with real processes on one store: the daemon and its lock, live
//! updates between people, claims, concurrent writers, SIGKILL, hand-over, audit.

mod common;

use common::*;
use pult::clock::Clock;
use pult::i18n::Lang;
use pult::store::{Writer, intents, watch::Watcher};
use pult::sync::lock::WorkerLock;
use pult::tui::app::App;
use pult::tui::keymap::Keymap;
use pult::tui::state::AppState;
use pult::tui::theme::Theme;
use pult::workflow::templates::Templates;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Stops a spawned process when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_daemon(home: &Path, store: &Path) -> Proc {
    let child = pult(home)
        .args(["daemon", "--store"])
        .arg(store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daemon");
    Proc(child)
}

/// Waits for a condition with a generous deadline (never a fixed sleep).
fn lock_holder(store: &Path) -> String {
    std::fs::read_to_string(pult::sync::lock::lock_path(store)).unwrap_or_default()
}

/// A person's pult on the shared store: its own connections, its own actor.
fn person(store: &Path, actor: &str) -> (App, Terminal<TestBackend>, Watcher) {
    let clock = Clock::fixed(NOW, moscow());
    let state = AppState::new(Lang::En, actor.into(), clock, Keymap::shipped(), Templates::shipped());
    let writer = Writer::spawn(store).expect("writer");
    let mut app = App::new(state, Theme::dark(), store, writer).expect("app");
    app.resize(160, 45);
    app.settle();
    let watcher = Watcher::open(store).expect("watcher");
    (app, Terminal::new(TestBackend::new(160, 45)).expect("terminal"), watcher)
}

/// Delivers what the watcher saw, as the event loop does.
fn refresh(app: &mut App, w: &mut Watcher) {
    let changes = w.poll().expect("poll");
    app.store_changed(&changes);
    app.settle();
}

#[test]
fn a_second_daemon_is_refused_and_sigkill_loses_no_queued_message() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let mut daemon = spawn_daemon(home.path(), &store);
    eventually("the daemon to take the lock", || lock_holder(&store).starts_with("daemon"));

    let out = pult(home.path()).args(["daemon", "--store"]).arg(&store).output().expect("second daemon");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("another pult daemon already runs"), "{err}");

    // Anna queues a reply (far in the future, so it stays queued); the daemon dies hard.
    let (anna, _, _) = person(&store, "anna");
    let conv = anna.state.list.rows[0].id;
    let reply = intents::Reply {
        conversation_id: conv,
        reply_to_message_id: None,
        subject: None,
        body: "Сохранится при падении демона".into(),
        actor: "anna".into(),
        not_before: i64::MAX / 2,
        auto: false,
        attachments: Vec::new(),
    };
    let id = anna.writer().call_blocking(move |c| intents::queue_reply(c, &reply, NOW)).expect("queue");
    daemon.0.kill().expect("SIGKILL");
    daemon.0.wait().expect("reaped");
    let conn = rusqlite::Connection::open(&store).expect("open");
    let state: String =
        conn.query_row("SELECT state FROM outbox WHERE id = ?1", [id], |r| r.get(0)).expect("row survives");
    assert_eq!(state, "pending");
    // The kernel released the lock with the process: a new daemon starts.
    assert!(!WorkerLock::is_held(&store));
    let _again = spawn_daemon(home.path(), &store);
    eventually("a new daemon after SIGKILL", || lock_holder(&store).starts_with("daemon"));
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let mut daemon = spawn_daemon(home.path(), &store);
    eventually("lock", || lock_holder(&store).starts_with("daemon"));
    let pid = daemon.0.id().to_string();
    let st = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(st.success());
    let status = daemon.0.wait().expect("exit");
    assert!(status.success(), "exit status {status:?}");
    assert!(!WorkerLock::is_held(&store));
}

#[test]
fn a_reply_in_one_pult_appears_in_the_others_and_claims_are_seen() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let _daemon = spawn_daemon(home.path(), &store);
    let (mut anna, mut anna_term, mut anna_w) = person(&store, "anna");
    let (mut boris, mut boris_term, mut boris_w) = person(&store, "boris");
    let (mut carol, mut carol_term, mut carol_w) = person(&store, "carol");
    let conv = anna.state.list.rows[0].id;

    // Anna starts replying: the others see the claim without a key press.
    anna.press_keys("<Enter> r").expect("keys");
    refresh(&mut boris, &mut boris_w);
    assert!(screen(&mut boris, &mut boris_term).contains("✎anna"), "Boris sees Anna replying");
    // Boris starts too: he is warned, and Anna sees him.
    boris.press_keys("<Enter> r").expect("keys");
    assert!(screen(&mut boris, &mut boris_term).contains("anna is replying"));
    refresh(&mut anna, &mut anna_w);
    assert!(screen(&mut anna, &mut anna_term).contains("boris is replying"), "Anna sees Boris");
    // Boris gives way; Anna sends.
    boris.press_keys("<Esc>").expect("keys");
    anna.type_text("Ответ от Анны для всех");
    anna.press_keys("<C-x>").expect("keys");
    for (app, term, w) in [(&mut boris, &mut boris_term, &mut boris_w), (&mut carol, &mut carol_term, &mut carol_w)] {
        refresh(app, w);
        if app.state.thread.as_ref().map(|t| t.conversation.id) != Some(conv) {
            app.press_keys("g g").expect("keys");
        }
        let s = screen(app, term);
        assert!(s.contains("Ответ от Анны для всех"), "{s}");
    }
    // Claims are gone once Anna sent.
    refresh(&mut carol, &mut carol_w);
    assert!(!screen(&mut carol, &mut carol_term).contains("✎anna"));
}

#[test]
fn eight_processes_writing_at_once_lose_nothing() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let _daemon = spawn_daemon(home.path(), &store);
    let conv: i64 = rusqlite::Connection::open(&store)
        .expect("open")
        .query_row("SELECT min(id) FROM conversations", [], |r| r.get(0))
        .expect("conv");
    let children: Vec<Proc> = (0..8)
        .map(|i| {
            Proc(
                std::process::Command::new(env!("CARGO_BIN_EXE_pult-bench"))
                    .args([
                        "stress-notes",
                        "--count",
                        "60",
                        "--conversation",
                        &conv.to_string(),
                        "--actor",
                        &format!("p{i}"),
                    ])
                    .arg("--store")
                    .arg(&store)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("spawn writer"),
            )
        })
        .collect();
    for mut c in children {
        let status = c.0.wait().expect("wait");
        let mut err = String::new();
        if let Some(mut e) = c.0.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        assert!(status.success(), "a writer failed: {err}");
        assert!(!err.to_lowercase().contains("busy") && !err.contains("locked"), "{err}");
    }
    let n: i64 = rusqlite::Connection::open(&store)
        .expect("open")
        .query_row("SELECT count(*) FROM notes WHERE actor LIKE 'p%'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 8 * 60);
}

#[test]
fn a_solo_pult_hands_the_workers_to_a_daemon_and_takes_them_back() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let writer = Writer::spawn(&store).expect("writer");
    let cfg = pult::sync::workers::WorkerConfig {
        writer,
        calendar: pult::workflow::calendar::Calendar::standard(moscow()),
        templates: Templates::shipped(),
        actor: "anna".into(),
        auto_reply: false,
        channels: Vec::new(),
    };
    let mut sup = pult::sync::workers::Supervisor::new(&store, cfg, Default::default());
    assert!(sup.poll() && sup.solo(), "no daemon: solo");
    assert!(lock_holder(&store).starts_with("pult (solo)"));
    let mut daemon = spawn_daemon(home.path(), &store);
    eventually("the daemon's hand-over request", || pult::sync::workers::handover_path(&store).exists());
    assert!(sup.poll() && !sup.solo(), "hands over");
    eventually("the daemon to hold the lock", || lock_holder(&store).starts_with("daemon"));
    assert!(!sup.poll() && !sup.solo(), "stays a client while the daemon runs");
    let pid = daemon.0.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    daemon.0.wait().expect("exit");
    assert!(sup.poll() && sup.solo(), "takes the workers back");
}

#[test]
fn assignment_notes_mentions_and_audit() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let (mut anna, mut anna_term, _) = person(&store, "anna");
    anna.state.team = vec!["anna".into(), "boris".into()];
    let conv = anna.state.list.rows[0].id;
    anna.press_keys("<Enter> A").expect("keys");
    anna.type_text("nobody-here");
    anna.press_keys("<Enter>").expect("keys");
    assert!(screen(&mut anna, &mut anna_term).contains("Not in the team"));
    anna.press_keys("<C-u>").expect("keys");
    // Tab completes from the team; the prompt shows who fits.
    anna.type_text("bo");
    assert!(screen(&mut anna, &mut anna_term).contains("Tab: boris"));
    anna.press_keys("<Tab> <Enter>").expect("keys");
    anna.type_text("Клиент ждёт акт сверки, я в отпуске");
    anna.press_keys("<Enter> i").expect("keys");
    anna.type_text("@boris проверь сумму НДС");
    anna.press_keys("<C-x>").expect("keys");
    let s = screen(&mut anna, &mut anna_term);
    assert!(s.contains("@boris проверь сумму НДС") && s.contains("internal note"), "{s}");

    // Notes never reach the outbox.
    let conn = rusqlite::Connection::open(&store).expect("open");
    let leaked: i64 =
        conn.query_row("SELECT count(*) FROM outbox WHERE body LIKE '%НДС%'", [], |r| r.get(0)).expect("count");
    assert_eq!(leaked, 0);

    let (mut boris, _, _) = person(&store, "boris");
    boris.press_keys("g m").expect("keys");
    assert!(boris.state.list.rows.iter().any(|c| c.id == conv), "in Boris's Mine");
    boris.press_keys("g o : m i n e <Enter>").expect("keys");
    assert!(boris.state.list.rows.iter().any(|c| c.id == conv), "`:mine` is the same view as `g m`");
    boris.press_keys("g @").expect("keys");
    assert!(boris.state.list.rows.iter().any(|c| c.id == conv), "in Boris's Mentions");
    boris.press_keys("g n").expect("keys");
    assert!(!boris.state.list.rows.iter().any(|c| c.id == conv), "no longer unassigned");

    // The audit keeps who did what; the CLI shows it as JSON.
    let out = pult(home.path()).args(["audit", "--json", "--store"]).arg(&store).output().expect("audit");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let events: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let events = events.as_array().expect("array");
    let mine: Vec<&serde_json::Value> = events.iter().filter(|e| e["actor"] == "anna").collect();
    let actions: Vec<&str> = mine.iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"assign") && actions.contains(&"note"), "{actions:?}");
    for e in &mine {
        assert!(e["time"].is_string() && e["conversation"].is_i64() && e["detail"].is_string(), "{e}");
    }
    // A default responsible person for the client applies to the client's new conversations.
    anna.press_keys(":").expect("keys");
    anna.type_text("default-assignee boris");
    anna.press_keys("<Enter>").expect("keys");
    let (channel, contact): (i64, i64) = conn
        .query_row("SELECT channel_id, contact_id FROM conversations WHERE id = ?1", [conv], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("conv");
    let handle: String = conn
        .query_row("SELECT handle FROM identities WHERE contact_id = ?1 LIMIT 1", [contact], |r| r.get(0))
        .expect("id");
    let mut m = msg("new-thread-1", "brand-new-chat", "Клиент", NOW, "Новый вопрос");
    m.author_handle = handle;
    let fresh =
        anna.writer().call_blocking(move |c| pult::store::ingest::apply(c, channel, &[m], &[], NOW)).expect("ingest");
    let assignee: Option<String> = conn
        .query_row("SELECT assignee FROM conversations WHERE id = ?1", [fresh.conversations[0]], |r| r.get(0))
        .expect("assignee");
    assert_eq!(assignee.as_deref(), Some("boris"));
    // History inside the app.
    anna.press_keys("H").expect("keys");
    let s = screen(&mut anna, &mut anna_term);
    assert!(s.contains("History") && s.contains("assign") && s.contains("boris"), "{s}");
}

/// `pass` waiting for a passphrase nobody types: the daemon's worker is stuck
/// in the password command, yet SIGTERM stops the daemon at once and the
/// command goes with it.
#[test]
fn sigterm_stops_a_daemon_whose_password_command_hangs() {
    let home = tempfile::tempdir().expect("tmp");
    let store = home.path().join("store.db");
    let pidfile = home.path().join("helper.pid");
    // The test's own fixed text: a helper that says who it is, then hangs.
    let helper = format!("echo $$ > {}; exec sleep 300", pidfile.display());
    let config = home.path().join("config.toml");
    let server = |port: u16| {
        format!(
            "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ninsecure = true\nuser = \"anna\"\n\
             password_command = [\"sh\", \"-c\", {helper:?}]\n"
        )
    };
    std::fs::write(
        &config,
        format!(
            "[[accounts]]\nkind = \"email\"\nname = \"office\"\naddress = \"anna@office.test\"\n\n\
             [accounts.imap]\n{}\n[accounts.smtp]\n{}",
            server(9),
            server(9)
        ),
    )
    .expect("config");
    let child = pult(home.path())
        .arg("--config")
        .arg(&config)
        .args(["daemon", "--store"])
        .arg(&store)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn daemon");
    let mut daemon = Proc(child);
    eventually("the worker to run the password command", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|p| !p.trim().is_empty())
    });
    let helper_pid = std::fs::read_to_string(&pidfile).expect("pid").trim().to_string();
    let st = Command::new("kill").args(["-TERM", &daemon.0.id().to_string()]).status().expect("kill");
    assert!(st.success());
    eventually("the daemon to stop", || daemon.0.try_wait().ok().flatten().is_some());
    assert!(!WorkerLock::is_held(&store));
    // The hanging helper did not outlive the daemon (gone, or a zombie about to be reaped).
    eventually("the password command to be killed", || {
        std::fs::read_to_string(format!("/proc/{helper_pid}/stat"))
            .map(|s| s.split(") ").nth(1).is_some_and(|rest| rest.starts_with('Z')))
            .unwrap_or(true)
    });
}
