//! A PostgreSQL store as a team runs it: `pult daemon` on several hosts (here
//! processes), one sending and the others waiting; the writer's outbox fenced
//! by the lease; screens woken by the doorbell.

use crate::common::pg::{PgDb, password_file};
use crate::common::{eventually, pult, screen};
use pult::store::intents;
use pult::store::pg::lease::Lease;
use pult::store::pg::schema;
use pult::store::{Location, Writer};
use std::path::Path;
use std::process::{Child, Stdio};

/// Stops a spawned process when the test ends, however it ends.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A config that names the store by its address, the password by its file.
fn config(home: &Path, db: &PgDb) -> std::path::PathBuf {
    let path = home.join("config.toml");
    let text = format!(
        "[store]\nurl = \"{}\"\npassword_file = \"{}\"\n\n[ui]\nlanguage = \"en\"\n",
        db.url,
        password_file().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn daemon(home: &Path, cfg: &Path, log: &str) -> Proc {
    let err = std::fs::File::create(home.join(log)).unwrap();
    let child = pult(home)
        .arg("--config")
        .arg(cfg)
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("spawn daemon");
    Proc(child)
}

fn holder(c: &mut postgres::Client) -> (i64, String) {
    c.query_opt("SELECT epoch, coalesce(holder, '') FROM sender_lease", &[])
        .ok()
        .flatten()
        .map(|r| (r.get(0), r.get(1)))
        .unwrap_or((0, String::new()))
}

#[test]
fn a_second_daemon_waits_as_a_standby_and_takes_over_when_the_first_is_killed() {
    let db = PgDb::new();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &db);
    let mut first = daemon(home.path(), &cfg, "first.log");
    let first_pid = first.0.id();
    let mut c = db.connect();
    eventually("the first daemon to take the lease", || holder(&mut c).1.contains(&format!("pid {first_pid},")));
    let second = daemon(home.path(), &cfg, "second.log");
    let standby_says = || std::fs::read_to_string(home.path().join("second.log")).unwrap_or_default();
    eventually("the second daemon to say it waits", || standby_says().contains("waits as its standby"));
    assert!(standby_says().contains(&format!("pid {first_pid},")), "it names the holder: {}", standby_says());
    let (epoch, _) = holder(&mut c);
    let now_holds = pult::store::pg::lease::current_holder(&db.target).unwrap().expect("a holder now");
    assert!(now_holds.0.contains(&format!("pid {first_pid},")), "{now_holds:?}");

    first.0.kill().expect("SIGKILL");
    first.0.wait().unwrap();
    let second_pid = second.0.id();
    eventually("the standby to take over", || holder(&mut c).1.contains(&format!("pid {second_pid},")));
    // Raised at least once (on a loaded machine the first daemon may have
    // given the lease up and taken it again before it was killed).
    let after = holder(&mut c).0;
    assert!(after > epoch, "a takeover raises the epoch: {epoch} then {after}");
    assert!(standby_says().contains("running the workers"), "{}", standby_says());
}

#[test]
fn sigterm_hands_the_lease_back_and_exits_cleanly() {
    let db = PgDb::new();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &db);
    let mut first = daemon(home.path(), &cfg, "first.log");
    let pid = first.0.id();
    let mut c = db.connect();
    eventually("the lease", || holder(&mut c).1.contains(&format!("pid {pid},")));
    let st = std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(st.success());
    let status = first.0.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
    // The row still names the last holder; `pult doctor` asks the lock.
    assert!(holder(&mut c).1.contains(&format!("pid {pid},")));
    assert_eq!(pult::store::pg::lease::current_holder(&db.target).unwrap(), None, "nobody holds it now");
    // Handed back: another takes it at once, without waiting for a session to time out.
    assert!(Lease::try_take(&db.target, "next", 1).unwrap().is_some());
}

#[test]
fn a_password_in_the_address_is_refused_by_every_command_and_not_repeated() {
    let home = tempfile::tempdir().unwrap();
    let out =
        pult(home.path()).args(["daemon", "--store", "postgres://ann:hunter2@127.0.0.1:1/pult"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("password_command") && !err.contains("hunter2"), "{err}");
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn the_writer_takes_and_marks_sends_only_under_the_lease() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    c.batch_execute(
        "INSERT INTO channels (name, kind, created_at) VALUES ('mail', 'email', 1);
         INSERT INTO conversations (channel_id, remote_key, title, created_at) VALUES (1, 'k', 't', 1);",
    )
    .unwrap();
    let writer = Writer::spawn_postgres(&db.target).unwrap();
    let reply = intents::Reply {
        conversation_id: 1,
        reply_to_message_id: None,
        subject: Some("Отчёт".into()),
        body: "Принято в работу".into(),
        actor: "anna".into(),
        not_before: 0,
        auto: false,
        attachments: Vec::new(),
    };
    writer.call_blocking(move |db| intents::queue_reply(db, &reply, 1)).unwrap();
    // A pult that does not hold the lease takes nothing.
    assert!(block_on(writer.outbox(|o| intents::take_due(o, 1, 10))).is_err());
    assert!(!writer.lease_holds().unwrap());
    let state = |c: &mut postgres::Client| -> String { c.query_one("SELECT state FROM outbox", &[]).unwrap().get(0) };
    assert_eq!(state(&mut c), "pending");

    let mut lease = Lease::try_take(&db.target, "here", 5).unwrap().unwrap();
    let pid = lease.backend_pid().unwrap();
    writer.hold_lease(lease).unwrap();
    assert!(writer.lease_holds().unwrap());
    let item = block_on(writer.outbox(|o| intents::take_due(o, 1, 10))).unwrap().expect("the row is due");
    assert_eq!(state(&mut c), "sending");

    // Cut off (the server ended the lease's session): it may not mark the send.
    let ended: bool = c.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get(0);
    assert!(ended);
    assert!(!writer.lease_holds().unwrap(), "a cut lease is noticed");
    let id = item.id;
    assert!(block_on(writer.outbox(move |o| intents::mark_sent(o, id, "remote-1", 11))).is_err());
    assert_eq!(state(&mut c), "sending", "left for the next holder's recovery");
    writer.release_lease().unwrap();
}

#[test]
fn a_screen_hears_commits_and_misses_none_across_a_cut_connection() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    let location = Location::Postgres(db.target.clone());
    let mut watcher = location.watcher().unwrap();
    let writer = location.spawn_writer().unwrap();
    let note = |at: i64| {
        writer
            .call_blocking(move |db| {
                use pult::store::sql::Transact;
                db.write(|c| c.note_change(at, "channel", None, None))
            })
            .unwrap()
    };
    note(1);
    let mut seen = Vec::new();
    eventually("the first change", || {
        seen.extend(watcher.poll_waiting(std::time::Duration::from_millis(200)).unwrap());
        !seen.is_empty()
    });
    // Every connection of this screen's watcher is cut; two commits land meanwhile.
    c.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE '%LISTEN%'
            AND backend_type = 'client backend' AND usename = current_user",
    )
    .unwrap();
    note(2);
    note(3);
    let mut after = Vec::new();
    eventually("the changes made while cut off", || {
        if let Ok(changes) = watcher.poll_waiting(std::time::Duration::from_millis(200)) {
            after.extend(changes);
        }
        after.len() >= 2
    });
    assert_eq!(after.len(), 2, "each change once: {after:?}");
    assert!(after[0].seq < after[1].seq && after[0].seq > seen[0].seq);
}

#[test]
fn a_daemon_whose_lease_is_cut_stops_its_workers_and_takes_it_again() {
    let db = PgDb::new();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &db);
    let first = daemon(home.path(), &cfg, "first.log");
    let pid = first.0.id();
    let mut c = db.connect();
    eventually("the lease", || holder(&mut c).1.contains(&format!("pid {pid},")));
    let (epoch, _) = holder(&mut c);
    // The server ends the lease's session (the sender's lock: key "pult" then 2).
    let ended = c
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks
              WHERE locktype = 'advisory' AND granted AND objid = 2 AND objsubid = 1",
            &[],
        )
        .unwrap();
    assert_eq!(ended, 1, "one session holds the lease");
    let said = || std::fs::read_to_string(home.path().join("first.log")).unwrap_or_default();
    eventually("the daemon to notice", || said().contains("lost the sender's lease"));
    eventually("the lease taken again", || holder(&mut c).0 == epoch + 1);
}

/// A person's pult on the PostgreSQL store: its own reader, writer and watcher.
fn person(
    at: &Location,
    actor: &str,
) -> (pult::tui::app::App, ratatui::Terminal<ratatui::backend::TestBackend>, pult::store::watch::Watcher) {
    use pult::workflow::templates::Templates;
    let clock = pult::clock::Clock::fixed(crate::common::NOW, crate::common::moscow());
    let state = pult::tui::state::AppState::new(
        pult::i18n::Lang::En,
        actor.into(),
        clock,
        pult::tui::keymap::Keymap::shipped(),
        Templates::shipped(),
    );
    let writer = at.spawn_writer().unwrap();
    let mut app = pult::tui::app::App::open(state, pult::tui::theme::Theme::dark(), at, writer).unwrap();
    app.resize(160, 45);
    app.settle();
    let term = ratatui::Terminal::new(ratatui::backend::TestBackend::new(160, 45)).unwrap();
    (app, term, at.watcher().unwrap())
}

/// Waits for the watcher to bring what another pult committed, as the event loop does.
fn refresh_until(
    app: &mut pult::tui::app::App,
    term: &mut ratatui::Terminal<ratatui::backend::TestBackend>,
    w: &mut pult::store::watch::Watcher,
    shows: &str,
) -> String {
    let mut last = String::new();
    eventually(shows, || {
        let changes = w.poll_waiting(std::time::Duration::from_millis(200)).unwrap();
        app.store_changed(&changes);
        last = screen(app, term);
        last.contains(shows)
    });
    last
}

#[test]
fn people_on_postgresql_see_each_others_claims_and_replies() {
    let home = tempfile::tempdir().unwrap();
    let sqlite = crate::common::demo_store(home.path());
    let db = PgDb::new();
    pult::store::pg::migrate::sqlite_to_postgres(&sqlite, &db.target).unwrap();
    let at = Location::Postgres(db.target.clone());
    let (mut anna, mut anna_term, _anna_w) = person(&at, "anna");
    let (mut boris, mut boris_term, mut boris_w) = person(&at, "boris");
    assert!(!anna.state.list.rows.is_empty(), "the moved demo store lists its conversations");
    let conv = anna.state.list.rows[0].id;
    // The sidebar counts its views (an empty SLA view included) as on SQLite.
    let first = screen(&mut anna, &mut anna_term);
    let counted = |view: &str| {
        first.lines().find(|l| l.contains(view)).and_then(|l| {
            let cell = l.split('│').nth(1)?;
            cell.split_whitespace().last()?.parse::<u32>().ok()
        })
    };
    assert!(counted("Unanswered").is_some_and(|n| n > 0), "{first}");

    // Anna starts replying: Boris sees the claim without a key press.
    anna.press_keys("<Enter> r").unwrap();
    refresh_until(&mut boris, &mut boris_term, &mut boris_w, "✎anna");
    anna.type_text("Ответ от Анны через PostgreSQL");
    anna.press_keys("<C-x>").unwrap();
    assert!(screen(&mut anna, &mut anna_term).contains("Ответ от Анны через PostgreSQL"));
    if boris.state.thread.as_ref().map(|t| t.conversation.id) != Some(conv) {
        boris.press_keys("g g <Enter>").unwrap();
    }
    refresh_until(&mut boris, &mut boris_term, &mut boris_w, "Ответ от Анны через PostgreSQL");

    // And search finds it from Boris's pult, by another form of a word.
    boris.press_keys("<Esc> /").unwrap();
    boris.type_text("ответы");
    boris.press_keys("<Enter>").unwrap();
    boris.settle();
    let results = boris.state.search.as_ref().expect("search results");
    assert!(results.hits.iter().any(|h| h.conversation == conv), "{:?}", results.hits.len());
    let s = screen(&mut boris, &mut boris_term);
    assert!(s.contains("Search results"), "{s}");
}

#[test]
fn sslmode_require_encrypts_and_verifies_the_server() {
    let db = PgDb::new();
    let ca = std::path::PathBuf::from(
        std::env::var("PULT_TEST_POSTGRES_CA").expect("PULT_TEST_POSTGRES_CA: scripts/test gives the test server TLS"),
    );
    let password = pult::secrets::read(None, Some(&password_file())).unwrap();
    let url = format!("{}?sslmode=require", db.url);
    use pult::store::pg::Target;

    // Verified against the private CA: the session is encrypted.
    let target = Target::parse(&url, Some(&password)).unwrap().with_ca_file(&ca).unwrap();
    assert!(target.uses_tls());
    let encrypted = |c: &mut postgres::Client| -> bool {
        c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).unwrap().get(0)
    };
    let mut first = target.connect().unwrap();
    assert!(encrypted(&mut first));
    schema::migrate(&mut first).unwrap();
    // The sender's lease (its own watched connection) is encrypted too.
    let mut lease = Lease::try_take(&target, "tls", 1).unwrap().expect("the lease");
    let pid = lease.backend_pid().unwrap();
    let mut c = db.connect();
    let ssl: bool = c.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = $1", &[&pid]).unwrap().get(0);
    assert!(ssl, "the lease's connection is encrypted");
    assert!(!encrypted(&mut c), "an address without sslmode stays as it was");

    // Without the CA the test server's certificate chains to nothing known:
    // refused, never encrypted blindly.
    let Err(e) = Target::parse(&url, Some(&password)).unwrap().connect() else { panic!("an unknown CA was trusted") };
    assert!(pult::store::pg::with_causes(&e).contains("certificate"), "{e}");

    // Through the binary: `[store] url` with sslmode and `ca_file`.
    let home = tempfile::tempdir().unwrap();
    let cfg = home.path().join("config.toml");
    let text = format!(
        "[store]\nurl = \"{url}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
        password_file().display(),
        ca.display()
    );
    std::fs::write(&cfg, text).unwrap();
    let out = pult(home.path()).arg("--config").arg(&cfg).args(["status", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let missing = home.path().join("no-such-ca.pem");
    std::fs::write(&cfg, format!("[store]\nurl = \"{url}\"\nca_file = \"{}\"\n", missing.display())).unwrap();
    let out = pult(home.path()).arg("--config").arg(&cfg).args(["status"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("no-such-ca.pem"), "{err}");
}

#[test]
fn sync_once_beside_a_daemon_does_nothing_and_names_it_then_runs_alone() {
    let db = PgDb::new();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &db);
    let sync_once = || pult(home.path()).arg("--config").arg(&cfg).args(["sync", "--once"]).output().unwrap();
    let mut first = daemon(home.path(), &cfg, "first.log");
    let pid = first.0.id();
    let mut c = db.connect();
    eventually("the lease", || holder(&mut c).1.contains(&format!("pid {pid},")));
    let out = sync_once();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(said.contains("holds the worker lock") && said.contains(&format!("pid {pid},")), "{said}");
    let (epoch, _) = holder(&mut c);

    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let out = sync_once();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (after, who) = holder(&mut c);
    assert_eq!(after, epoch + 1, "the run took the lease for itself");
    assert!(who.starts_with("pult sync --once"), "{who}");
    assert_eq!(pult::store::pg::lease::current_holder(&db.target).unwrap(), None, "and let it go when done");
}

#[test]
fn the_demo_fills_an_empty_database_and_refuses_one_that_holds_a_store() {
    let db = PgDb::new();
    let home = tempfile::tempdir().unwrap();
    let cfg = config(home.path(), &db);
    let demo = || {
        pult(home.path())
            .arg("--config")
            .arg(&cfg)
            .args(["demo", "--populate-only", "--store", &db.url])
            .output()
            .unwrap()
    };
    let out = demo();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!home.path().join("postgres:").exists(), "no file named like the address");
    let channels: i64 = db.connect().query_one("SELECT count(*) FROM channels", &[]).unwrap().get(0);
    assert!(channels >= 3, "{channels}");
    let out = demo();
    assert!(!out.status.success(), "a second demo into the same database is refused");
}

#[test]
fn a_new_store_gets_its_id_and_a_writer_connects_again_after_a_restart() {
    let db = PgDb::new();
    let writer = Writer::spawn_postgres(&db.target).unwrap();
    let mut c = db.connect();
    let setting = |c: &mut postgres::Client, key: &str| -> Option<String> {
        c.query_opt("SELECT value FROM store_settings WHERE key = $1", &[&key]).unwrap().map(|r| r.get(0))
    };
    let id = setting(&mut c, "store_id").expect("a store id, as SQLite's");
    assert!(id.len() == 32 && id.chars().all(|ch| ch.is_ascii_hexdigit()), "{id}");
    assert_eq!(setting(&mut c, "keep_raw").as_deref(), Some("1"), "a new store keeps originals");
    // A second writer (another daemon) keeps the id.
    drop(Writer::spawn_postgres(&db.target).unwrap());
    assert_eq!(setting(&mut c, "store_id"), Some(id));

    let note = |at: i64| {
        writer.call_blocking(move |db| {
            use pult::store::sql::Transact;
            db.write(|c| c.note_change(at, "channel", None, None))
        })
    };
    note(1).unwrap();
    // The server ends every other session (as a restart does).
    c.batch_execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()
            AND backend_type = 'client backend' AND usename = current_user",
    )
    .unwrap();
    // The writes that meet the closed connection fail and say so; a later
    // one goes through the same writer on a new connection.
    eventually("the writer to connect again", || note(2).is_ok());
    let seqs: i64 = c.query_one("SELECT count(*) FROM changes", &[]).unwrap().get(0);
    assert_eq!(seqs, 2);
}
