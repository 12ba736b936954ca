//! The PostgreSQL engine against a real server (Debian's `postgresql`,
//! started by `scripts/test`): its schema beside SQLite's, migrations, the
//! sender's fenced lease with a standby, and the commit-ordered change log.

mod common;
#[path = "postgres/daemons.rs"]
mod daemons;
#[path = "postgres/writes.rs"]
mod writes;

use common::pg::PgDb;
use pult::store::pg::{PgError, changes, lease::Lease, schema};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Table → columns, as SQLite has them in a new store.
fn sqlite_tables() -> BTreeMap<String, BTreeSet<String>> {
    let s = common::temp_store();
    let conn = rusqlite::Connection::open(&s.path).unwrap();
    let names: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND sql NOT LIKE 'CREATE VIRTUAL%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        // FTS5's own tables and SQLite's bookkeeping have no PostgreSQL twin.
        .filter(|n: &String| !n.contains("_fts") && n != "sqlite_sequence")
        .collect();
    names
        .into_iter()
        .map(|t| {
            let cols = conn
                .prepare(&format!("SELECT name FROM pragma_table_info('{t}')"))
                .unwrap()
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            (t, cols)
        })
        .collect()
}

fn pg_tables(c: &mut postgres::Client) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in c
        .query(
            "SELECT table_name::text, column_name::text FROM information_schema.columns WHERE table_schema = 'public'",
            &[],
        )
        .unwrap()
    {
        out.entry(r.get(0)).or_default().insert(r.get(1));
    }
    out
}

#[test]
fn a_new_store_has_every_table_and_column_that_sqlite_has() {
    let db = PgDb::new();
    let mut c = db.connect();
    assert_eq!(schema::migrate(&mut c).unwrap(), 0, "an empty database is at version 0");
    assert_eq!(schema::version(&mut c).unwrap(), pult::store::schema::VERSION);

    let mut pg = pg_tables(&mut c);
    // What only PostgreSQL has: its schema version, the commit-ordered change
    // counter, the sender's lease, and search terms (SQLite keeps those in FTS5).
    for only_pg in
        ["pult_schema", "change_counter", "sender_lease", "notes_search", "attachments_search", "clients_search"]
    {
        assert!(pg.remove(only_pg).is_some(), "{only_pg} missing");
    }
    assert!(pg.get_mut("search_keys").unwrap().remove("terms"));
    let sqlite = sqlite_tables();
    let missing: Vec<_> = sqlite.keys().filter(|t| !pg.contains_key(*t)).collect();
    let extra: Vec<_> = pg.keys().filter(|t| !sqlite.contains_key(*t)).collect();
    assert!(missing.is_empty() && extra.is_empty(), "tables only in SQLite {missing:?}, only in PostgreSQL {extra:?}");
    for (table, cols) in &sqlite {
        assert_eq!(&pg[table], cols, "columns of {table}");
    }
    // Text sorts by its bytes, as in SQLite, whatever the server's locale.
    let other: Vec<String> = c
        .query(
            "SELECT table_name || '.' || column_name FROM information_schema.columns
             WHERE table_schema = 'public' AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(other.is_empty(), "text columns not in the C collation: {other:?}");
    // `pult store migrate` copies every table SQLite has, or says why not.
    let mut named: BTreeSet<&str> = pult::store::pg::migrate::TABLES.iter().copied().collect();
    named.extend(pult::store::pg::migrate::NOT_COPIED);
    let sqlite_tables: BTreeSet<&str> = sqlite.keys().map(String::as_str).chain(["sqlite_sequence"]).collect();
    assert_eq!(named, sqlite_tables, "migrate's table list and SQLite's tables");
}

#[test]
fn migrating_again_changes_nothing_and_a_newer_store_is_refused() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    c.execute("INSERT INTO store_settings (key, value) VALUES ('keep_raw', '1')", &[]).unwrap();
    assert_eq!(schema::migrate(&mut c).unwrap(), schema::VERSION, "the version it found");
    let kept: i64 = c.query_one("SELECT count(*) FROM store_settings", &[]).unwrap().get(0);
    assert_eq!(kept, 1);

    c.execute("UPDATE pult_schema SET version = version + 1", &[]).unwrap();
    let e = schema::migrate(&mut c).unwrap_err();
    assert!(matches!(e, PgError::TooNew { found, known } if found == known + 1), "{e}");
    assert!(e.to_string().contains("newer pult"), "{e}");
}

#[test]
fn two_daemons_starting_together_migrate_once() {
    let db = PgDb::new();
    let found: Vec<i64> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let target = db.target.clone();
                s.spawn(move || schema::migrate(&mut target.connect().unwrap()).unwrap())
            })
            .collect();
        runs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut found = found;
    found.sort();
    assert_eq!(found, vec![0, schema::VERSION], "one created the store, the other found it made");
}

#[test]
fn the_engine_keeps_the_rules_sqlite_keeps_in_triggers() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    c.execute("INSERT INTO audit (at, actor, action, detail) VALUES (1, 'anna', 'sent', 'x')", &[]).unwrap();
    for sql in ["UPDATE audit SET detail = 'y'", "DELETE FROM audit", "TRUNCATE audit"] {
        let e = c.batch_execute(sql).unwrap_err();
        assert!(e.to_string().contains("append-only") || format!("{e:?}").contains("append-only"), "{sql}: {e:?}");
    }
    c.batch_execute(
        "INSERT INTO channels (name, kind, created_at) VALUES ('mail', 'email', 1);
         INSERT INTO conversations (channel_id, remote_key, title, created_at) VALUES (1, 'k', 't', 1);
         INSERT INTO messages (conversation_id, channel_id, remote_id, direction, sent_at) VALUES (1, 1, 'r', 'in', 1);
         INSERT INTO attachments (message_id, ordinal, name, size) VALUES (1, 0, 'a.pdf', -1);",
    )
    .unwrap();
    let size: Option<i64> = c.query_one("SELECT size FROM attachments", &[]).unwrap().get(0);
    assert_eq!(size, None, "a negative size is unknown");
}

/// A conversation with one reply that a daemon has started to send.
fn one_reply_sending(c: &mut postgres::Client) {
    c.batch_execute(
        "INSERT INTO channels (name, kind, created_at) VALUES ('mail', 'email', 1);
         INSERT INTO conversations (channel_id, remote_key, title, created_at) VALUES (1, 'k', 't', 1);
         INSERT INTO outbox (conversation_id, body, state, not_before, actor, created_at, updated_at)
             VALUES (1, 'Принято в работу', 'sending', 0, 'anna', 1, 1);",
    )
    .unwrap();
}

fn terminate(db: &PgDb, pid: i32) {
    let mut admin = db.connect();
    let done: bool = admin.query_one("SELECT pg_terminate_backend($1)", &[&pid]).unwrap().get(0);
    assert!(done, "the holder's session was ended");
}

#[test]
fn a_standby_takes_over_when_the_holder_is_cut_off_and_the_old_holder_can_mark_nothing() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    one_reply_sending(&mut c);

    let mut first = Lease::try_take(&db.target, "host-a", 100).unwrap().expect("a free lease is taken");
    assert!(Lease::try_take(&db.target, "host-b", 101).unwrap().is_none(), "only one daemon holds it");

    let stop = AtomicBool::new(false);
    let first_pid = first.backend_pid().unwrap();
    let second = std::thread::scope(|s| {
        let standby = s.spawn(|| Lease::wait_take(&db.target, "host-b", &stop, || 102));
        // The active daemon's connection dies as a killed process's or a cut
        // cable's would: the server ends its session.
        terminate(&db, first_pid);
        standby.join().unwrap()
    })
    .unwrap()
    .expect("the standby took over");
    let mut second = second;
    assert_eq!(second.epoch(), first.epoch() + 1);
    let holder: String = c.query_one("SELECT holder FROM sender_lease", &[]).unwrap().get(0);
    assert_eq!(holder, "host-b");

    // The old holder comes back: it may not mark its send as sent.
    let e = first
        .fenced(|tx| Ok(tx.execute("UPDATE outbox SET state = 'sent' WHERE state = 'sending'", &[])?))
        .unwrap_err();
    assert!(matches!(e, PgError::LeaseLost), "{e}");
    // The new holder recovers what was in flight as "may have been sent", never as pending.
    let moved = second
        .fenced(|tx| Ok(tx.execute("UPDATE outbox SET state = 'unknown' WHERE state = 'sending'", &[])?))
        .unwrap();
    assert_eq!(moved, 1);
    let state: String = c.query_one("SELECT state FROM outbox", &[]).unwrap().get(0);
    assert_eq!(state, "unknown");
}

#[test]
fn a_clean_shutdown_hands_the_lease_to_the_waiting_standby() {
    let db = PgDb::new();
    schema::migrate(&mut db.connect()).unwrap();
    let first = Lease::try_take(&db.target, "host-a", 100).unwrap().unwrap();
    let stop = AtomicBool::new(false);
    let second = std::thread::scope(|s| {
        let standby = s.spawn(|| Lease::wait_take(&db.target, "host-b", &stop, || 102));
        first.release().unwrap();
        standby.join().unwrap()
    })
    .unwrap();
    assert_eq!(second.map(|l| l.epoch()), Some(2));
}

#[test]
fn a_waiting_standby_stops_when_told() {
    let db = PgDb::new();
    schema::migrate(&mut db.connect()).unwrap();
    let _first = Lease::try_take(&db.target, "host-a", 100).unwrap().unwrap();
    let stop = AtomicBool::new(true);
    assert!(Lease::wait_take(&db.target, "host-b", &stop, || 102).unwrap().is_none());
}

#[test]
fn a_transition_under_an_older_epoch_is_fenced() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    one_reply_sending(&mut c);
    let mut lease = Lease::try_take(&db.target, "host-a", 100).unwrap().unwrap();
    // An operator forced a takeover past the lock (or a bug did): the epoch moved on.
    c.execute("UPDATE sender_lease SET epoch = epoch + 1", &[]).unwrap();
    let e = lease.fenced(|tx| Ok(tx.execute("UPDATE outbox SET state = 'sent'", &[])?)).unwrap_err();
    assert!(matches!(e, PgError::Fenced { mine: 1, current: 2 }), "{e}");
    let state: String = c.query_one("SELECT state FROM outbox", &[]).unwrap().get(0);
    assert_eq!(state, "sending", "nothing was marked");
}

#[test]
fn changes_are_numbered_in_the_order_they_commit() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();

    let mut first = db.connect();
    let mut t1 = first.transaction().unwrap();
    let seq1 = changes::note(&mut t1, 1, "message", Some(7), None).unwrap();

    let seq2 = std::thread::scope(|s| {
        let later = s.spawn(|| {
            let mut second = db.connect();
            let mut t2 = second.transaction().unwrap();
            let seq = changes::note(&mut t2, 2, "note", Some(8), Some("anna")).unwrap();
            t2.commit().unwrap();
            seq
        });
        // The second writer waits for the first one's commit before it has a number.
        let mut watch = db.connect();
        loop {
            let waiting: i64 = watch
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .unwrap()
                .get(0);
            if waiting == 1 {
                break;
            }
            // Numbers taken from a sequence would not wait: the second writer would be done.
            assert!(!later.is_finished(), "the second writer got a number before the first committed");
            std::thread::yield_now();
        }
        assert!(changes::since(&mut c, 0).unwrap().is_empty(), "nothing is visible before a commit");
        t1.commit().unwrap();
        later.join().unwrap()
    });
    assert!(seq1 < seq2, "{seq1} committed first");
    let seen: Vec<(i64, Option<i64>)> =
        changes::since(&mut c, 0).unwrap().into_iter().map(|ch| (ch.seq, ch.conversation_id)).collect();
    assert_eq!(seen, vec![(seq1, Some(7)), (seq2, Some(8))]);
    assert_eq!(changes::since(&mut c, seq1).unwrap().len(), 1);
}

#[test]
fn the_doorbell_rings_once_per_committed_transaction_and_not_for_a_rollback() {
    let db = PgDb::new();
    let mut c = db.connect();
    schema::migrate(&mut c).unwrap();
    let mut bell = changes::Doorbell::listen(&db.target).unwrap();

    let mut tx = c.transaction().unwrap();
    for conv in 1..=3 {
        changes::note(&mut tx, 1, "message", Some(conv), None).unwrap();
    }
    tx.commit().unwrap();
    assert_eq!(bell.wait(Duration::from_secs(10)).unwrap(), 1, "one ring for three changes in one transaction");

    let mut tx = c.transaction().unwrap();
    changes::note(&mut tx, 2, "message", Some(4), None).unwrap();
    tx.rollback().unwrap();
    let mut tx = c.transaction().unwrap();
    changes::note(&mut tx, 3, "message", Some(5), None).unwrap();
    tx.commit().unwrap();
    assert_eq!(bell.wait(Duration::from_secs(10)).unwrap(), 1, "the rolled-back one rang nothing");
    let log = changes::since(&mut c, 0).unwrap();
    assert_eq!(log.iter().map(|ch| ch.conversation_id).collect::<Vec<_>>(), vec![Some(1), Some(2), Some(3), Some(5)]);
    assert_eq!(log.iter().map(|ch| ch.seq).collect::<Vec<_>>(), vec![1, 2, 3, 4], "no gap where the rollback was");
}

// ---- The same business rules on both engines (store::sql) ----

use pult::store::intents::Reply;
use pult::store::ledger;
use pult::store::pg::PgDb as PgStore;
use pult::store::sql::{Conn, Searchable, Transact};
use pult::store::{Refused, StoreError};

const NOW: i64 = common::NOW;

/// A Telegram chat with one client message waiting; its conversation id.
fn chat_with_a_question(db: &mut impl Transact) -> (i64, i64) {
    db.write(|c: &dyn Conn| {
        let ch = c.insert(
            "INSERT INTO channels (name, kind, created_at) VALUES ('tg', 'telegram', ?1) RETURNING id",
            &[&NOW],
        )?;
        let conv = c.insert(
            "INSERT INTO conversations (channel_id, remote_key, title, created_at) VALUES (?1, 'chat:1', 'ООО Ромашка', ?2)
             RETURNING id",
            &[&ch, &NOW],
        )?;
        let msg = c.insert(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, sent_at, body)
             VALUES (?1, ?2, '1', 'in', 'Ирина', ?3, 'Нужен акт сверки за ноябрь') RETURNING id",
            &[&conv, &ch, &(NOW - 600)],
        )?;
        // What ingest does after writing them (on SQLite its triggers have).
        c.reindex(Searchable::Conversation(conv))?;
        c.reindex(Searchable::Message(msg))?;
        Ok((conv, msg))
    })
    .unwrap()
}

fn reply(conv: i64, to: i64, body: &str) -> Reply {
    Reply {
        conversation_id: conv,
        reply_to_message_id: Some(to),
        subject: None,
        body: body.into(),
        actor: "anna".into(),
        not_before: NOW + 10,
        auto: false,
        attachments: Vec::new(),
    }
}

/// What a person could see of the store: every row the ledger touches.
fn seen(db: &mut impl Transact) -> Vec<String> {
    db.write(|c| {
        let mut out = c.all(
            "SELECT id, state, deadline, done_at, outbox_id, done_outbox_id FROM tasks ORDER BY id",
            &[],
            |r| {
                Ok(format!(
                    "task {} {} {:?} {:?} {:?} {:?}",
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<i64>>(2)?,
                    r.get::<Option<i64>>(3)?,
                    r.get::<Option<i64>>(4)?,
                    r.get::<Option<i64>>(5)?
                ))
            },
        )?;
        // Messages by what the channel knows them as: SQLite may give a deleted
        // row's id to the next one, PostgreSQL never does, and nothing relies on either.
        out.extend(c.all(
            "SELECT o.id, o.state, o.body, m.remote_id FROM outbox o LEFT JOIN messages m ON m.id = o.message_id
             ORDER BY o.id",
            &[],
            |r| {
                let message = r.get::<Option<String>>(3)?;
                Ok(format!("outbox {} {} {} {message:?}", r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
            },
        )?);
        out.extend(c.all("SELECT direction, delivery, remote_id FROM messages ORDER BY id", &[], |r| {
            Ok(format!("message {} {} {}", r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
        })?);
        out.extend(c.all(
            "SELECT (SELECT remote_id FROM messages WHERE id = last_message_id), preview, waiting_since, snoozed_until, follow_up_at, after_hours_reply_at, automatic
             FROM conversations",
            &[],
            |r| {
                Ok(format!(
                    "conversation {:?} {} {:?} {:?} {:?} {:?} {}",
                    r.get::<Option<String>>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<i64>>(2)?,
                    r.get::<Option<i64>>(3)?,
                    r.get::<Option<i64>>(4)?,
                    r.get::<Option<i64>>(5)?,
                    r.get::<i64>(6)?
                ))
            },
        )?);
        // The audit chain's hashes cover every field: equal hashes, equal history.
        out.extend(c.all("SELECT id, action, detail, row_hash FROM audit ORDER BY id", &[], |r| {
            Ok(format!("audit {} {} {} {}", r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?, r.get::<String>(3)?))
        })?);
        out.extend(c.all("SELECT kind, conversation_id FROM changes ORDER BY seq", &[], |r| {
            Ok(format!("change {} {:?}", r.get::<String>(0)?, r.get::<Option<i64>>(1)?))
        })?);
        Ok(out)
    })
    .unwrap()
}

/// A new store on each engine (with what keeps each alive: a directory, a database).
fn new_on_both_engines() -> (tempfile::TempDir, pult::store::Db, PgDb, PgStore) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = pult::store::open_writer(&dir.path().join("pult.db")).unwrap();
    let pg = PgDb::new();
    let postgres = PgStore::open(&pg.target).unwrap();
    (dir, sqlite, pg, postgres)
}

/// Accept with a deadline, move it, report done, take «Выполнено» back,
/// cancel, snooze, follow up, answer after hours: what each step left.
fn ledger_story(db: &mut impl Transact) -> Vec<String> {
    let mut story = Vec::new();
    let (conv, question) = chat_with_a_question(db);
    let (task, _) = ledger::accept(
        db,
        &reply(conv, question, "Принято в работу, срок — пятница"),
        Some(question),
        NOW + 86_400,
        NOW,
    )
    .unwrap();
    story.push(format!("{:?}", db.write(|c| ledger::promise_state(c, conv)).unwrap()));
    ledger::redate(
        db,
        conv,
        "anna",
        NOW + 2 * 86_400,
        Some(&reply(conv, question, "Перенесём на понедельник")),
        NOW + 60,
    )
    .unwrap();
    let (done_outbox, closed) = ledger::done(db, &reply(conv, question, "Выполнено"), NOW + 120).unwrap();
    assert_eq!(closed, Some(task));
    let again = ledger::done(db, &reply(conv, question, "Выполнено"), NOW + 130).unwrap_err();
    assert!(matches!(again, StoreError::Refused(Refused::AlreadyReported(t)) if t == task), "{again}");
    story.extend(seen(db));
    // Taken back inside its undo window: the promise is open again.
    assert_eq!(ledger::undo_send(db, done_outbox, "anna", NOW + 140).unwrap(), "Выполнено");
    story.push(format!("{:?}", db.write(|c| ledger::promise_state(c, conv)).unwrap()));
    assert_eq!(ledger::cancel_task(db, conv, "anna", NOW + 150).unwrap(), task);
    let none = ledger::cancel_task(db, conv, "anna", NOW + 160).unwrap_err();
    assert!(matches!(none, StoreError::Refused(Refused::NoOpenPromise)), "{none}");
    ledger::snooze(db, conv, "anna", Some(NOW + 3600), NOW + 170).unwrap();
    ledger::follow_up(db, conv, "anna", Some(NOW + 7200), NOW + 180).unwrap();
    // The client writes at night; one polite answer, not two.
    db.write(|c| {
        c.exec(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, sent_at, body)
             VALUES (?1, 1, '2', 'in', 'Ирина', ?2, 'И ещё счёт, пожалуйста')",
            &[&conv, &(NOW + 200)],
        )?;
        c.exec("UPDATE conversations SET waiting_since = ?1, last_inbound_id = (SELECT max(id) FROM messages WHERE direction = 'in')", &[&(NOW + 200)])?;
        Ok(())
    })
    .unwrap();
    let night = |_| "Мы ответим утром".to_string();
    assert_eq!(ledger::queue_after_hours_replies(db, NOW + 190, &night, "pult", NOW + 210).unwrap(), 1);
    assert_eq!(
        ledger::queue_after_hours_replies(db, NOW + 190, &night, "pult", NOW + 220).unwrap(),
        0,
        "once per night"
    );
    story.extend(seen(db));
    story
}

#[test]
fn the_ledger_keeps_the_same_promises_on_both_engines() {
    let (_dir, mut sqlite, _pg, mut postgres) = new_on_both_engines();

    let on_sqlite = ledger_story(&mut sqlite);
    let on_postgres = ledger_story(&mut postgres);
    assert!(on_sqlite.iter().any(|l| l.starts_with("task 1 cancelled")), "{on_sqlite:#?}");
    assert!(on_sqlite.iter().any(|l| l.contains("audit") && l.contains("task.redate")), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, on_postgres);
}

/// A hand-over with a note, a second person's claim, a draft kept and
/// dropped, the clocks paused and an escalation written once.
fn team_story(db: &mut impl Transact) -> Vec<String> {
    use pult::store::drafts::{self, Draft, DraftKey, DraftKind};
    use pult::store::{sla, team};
    use pult::workflow::sla::PauseReason;
    let (conv, _) = chat_with_a_question(db);
    let mut story = Vec::new();
    team::assign(db, conv, Some("boris"), "anna", Some("Клиент ждёт акт до пятницы"), NOW).unwrap();
    let empty = team::add_note(db, conv, "anna", "  ", NOW).unwrap_err();
    assert!(matches!(empty, StoreError::Refused(Refused::EmptyNote)), "{empty}");
    team::add_note(db, conv, "boris", "Позвонил, акт будет в четверг", NOW + 5).unwrap();
    story.push(format!("{:?}", team::claim(db, conv, "anna", NOW + 10).unwrap()));
    story.push(format!("{:?}", team::claim(db, conv, "boris", NOW + 20).unwrap()));
    team::release(db, conv, "anna", NOW + 30).unwrap();
    story.push(format!("{:?}", team::claim(db, conv, "boris", NOW + 200).unwrap()));

    let key = DraftKey { conversation: conv, kind: DraftKind::Reply };
    let draft = Draft {
        body: "Добрый день! Акт во вложении".into(), subject: None, to: vec!["a@b.ru".into()]
    };
    drafts::save(db, "anna", key, &draft, NOW).unwrap();
    drafts::save(db, "anna", DraftKey { conversation: conv, kind: DraftKind::Note }, &Draft::default(), NOW).unwrap();

    let pause = sla::pause(db, conv, PauseReason::Documents, "anna", NOW + 40).unwrap();
    assert!(sla::pause(db, conv, PauseReason::Payment, "anna", NOW + 41).is_err(), "paused already");
    sla::resume(db, conv, "anna", NOW + 50).unwrap();
    assert!(sla::escalate(db, conv, ("first_response", NOW - 600), 80, "80 % срока", "pult", NOW + 60).unwrap());
    assert!(!sla::escalate(db, conv, ("first_response", NOW - 600), 80, "80 % срока", "pult", NOW + 70).unwrap());
    assert!(sla::record_policies(db, "[]", "anna", NOW + 80).unwrap());
    assert!(!sla::record_policies(db, "[]", "anna", NOW + 90).unwrap(), "the same policies are one version");
    story.push(format!("pause {pause}"));

    story.extend(
        db.write(|c| {
            let mut out = c.all("SELECT assignee, actor, note FROM assignments ORDER BY id", &[], |r| {
                Ok(format!(
                    "assigned {:?} by {} {:?}",
                    r.get::<Option<String>>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<String>>(2)?
                ))
            })?;
            out.extend(c.all("SELECT actor, body FROM notes ORDER BY id", &[], |r| {
                Ok(format!("note {} {}", r.get::<String>(0)?, r.get::<String>(1)?))
            })?);
            out.extend(c.all("SELECT actor, kind, body, recipients FROM drafts", &[], |r| {
                Ok(format!(
                    "draft {} {} {} {:?}",
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<String>>(3)?
                ))
            })?);
            out.extend(c.all("SELECT reason, started_at, ended_at, ended_by FROM sla_pauses", &[], |r| {
                Ok(format!(
                    "pause {} {} {:?} {:?}",
                    r.get::<String>(0)?,
                    r.get::<i64>(1)?,
                    r.get::<Option<i64>>(2)?,
                    r.get::<Option<String>>(3)?
                ))
            })?);
            out.extend(c.all("SELECT action, detail, row_hash FROM audit ORDER BY id", &[], |r| {
                Ok(format!("audit {} {} {}", r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
            })?);
            out.extend(c.all("SELECT kind FROM changes ORDER BY seq", &[], |r| r.get(0))?);
            Ok(out)
        })
        .unwrap(),
    );
    story.push(format!("{:?}", db.write(|c| Ok(drafts_of(c))).unwrap()));
    story
}

fn drafts_of(c: &dyn Conn) -> usize {
    c.one("SELECT count(*) FROM drafts", &[], |r| r.get::<i64>(0)).unwrap() as usize
}

#[test]
fn the_team_keeps_the_same_hand_overs_notes_and_clocks_on_both_engines() {
    let (_dir, mut sqlite, _pg, mut postgres) = new_on_both_engines();
    let on_sqlite = team_story(&mut sqlite);
    assert!(on_sqlite.iter().any(|l| l == "[\"anna\"]"), "boris sees anna's claim: {on_sqlite:#?}");
    assert!(on_sqlite.iter().any(|l| l.starts_with("note anna → @boris: Клиент ждёт")), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, team_story(&mut postgres));
}

/// Three cards that are one client, merged, edited, handed over, the merge
/// undone, an identity split off: the cards and the audit after each.
fn clients_story(db: &mut impl Transact) -> Vec<String> {
    use pult::store::clients::{self, Field};
    let (ivanova, petrov, romashka) = db
        .write(|c| {
            let ch = c.insert("INSERT INTO channels (name, kind, created_at) VALUES ('mail', 'email', 1) RETURNING id", &[])?;
            let mut ids = Vec::new();
            for (name, org, handle, tags) in [
                ("Ирина Иванова", Some("ООО «Ромашка»"), "irina@romashka.ru", Some("VIP")),
                ("Иванова И.", None, "+79161234567", Some("зарплата")),
                ("Бухгалтерия Ромашки", Some("Ромашка"), "buh@romashka.ru", None),
            ] {
                let contact = c.insert(
                    "INSERT INTO contacts (name, organisation, tags, created_at) VALUES (?1, ?2, ?3, 1) RETURNING id",
                    &[&name, &org, &tags],
                )?;
                let identity = c.insert(
                    "INSERT INTO identities (contact_id, kind, handle, display_name) VALUES (?1, 'email', ?2, ?3) RETURNING id",
                    &[&contact, &handle, &name],
                )?;
                let conv = c.insert(
                    "INSERT INTO conversations (channel_id, remote_key, title, contact_id, created_at)
                     VALUES (?1, ?2, 'Акт сверки', ?3, 1) RETURNING id",
                    &[&ch, &handle, &contact],
                )?;
                c.exec(
                    "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author_identity_id, sent_at)
                     VALUES (?1, ?2, ?3, 'in', ?4, 1)",
                    &[&conv, &ch, &handle, &identity],
                )?;
                c.reindex(Searchable::Conversation(conv))?;
                ids.push(contact);
            }
            Ok((ids[0], ids[1], ids[2]))
        })
        .unwrap();
    let merge = clients::merge(db, ivanova, &[petrov, romashka, petrov], "anna", NOW).unwrap();
    let mut story = vec![format!("merge {merge}")];
    story.extend(client_rows(db));
    assert!(clients::merge(db, ivanova, &[petrov], "anna", NOW).is_err(), "nothing left to merge");
    clients::set_field(db, petrov, Field::Note, "Звонить после 15:00", "anna", NOW + 1).unwrap();
    clients::set_field(db, ivanova, Field::Note, "Акты — до 5 числа", "anna", NOW + 2).unwrap();
    clients::set_field(db, ivanova, Field::Kind, "организация", "anna", NOW + 3).unwrap();
    assert!(clients::set_field(db, ivanova, Field::Kind, "робот", "anna", NOW + 4).is_err());
    assert!(clients::set_field(db, ivanova, Field::Hours, "Луна 25:00", "anna", NOW + 5).is_err());
    clients::set_field(db, ivanova, Field::Tags, "VIP, зарплата, VIP", "anna", NOW + 6).unwrap();
    assert_eq!(clients::hand_over(db, ivanova, Some("boris"), "anna", Some("Ирина в отпуске"), NOW + 7).unwrap(), 3);
    clients::dismiss(db, romashka, ivanova).unwrap();
    clients::dismiss(db, ivanova, romashka).unwrap();
    story.extend(client_rows(db));
    clients::unmerge(db, merge, "anna", NOW + 8).unwrap();
    let split = clients::split(db, "email", "buh@romashka.ru", "anna", NOW + 9).unwrap();
    story.push(format!("split into {}", split > romashka));
    story.extend(client_rows(db));
    story
}

fn client_rows(db: &mut impl Transact) -> Vec<String> {
    db.write(|c| {
        let mut out = c.all(
            "SELECT id, name, organisation, default_assignee, merged_into, notes, inn, kind, tags, provisional
             FROM contacts ORDER BY id",
            &[],
            |r| {
                Ok(format!(
                    "contact {} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<Option<String>>(3)?,
                    r.get::<Option<i64>>(4)?,
                    r.get::<Option<String>>(5)?,
                    r.get::<Option<String>>(6)?,
                    r.get::<Option<String>>(7)?,
                    r.get::<Option<String>>(8)?,
                    r.get::<i64>(9)?
                ))
            },
        )?;
        out.extend(c.all("SELECT handle, contact_id FROM identities ORDER BY id", &[], |r| {
            Ok(format!("identity {} {}", r.get::<String>(0)?, r.get::<i64>(1)?))
        })?);
        out.extend(c.all("SELECT remote_key, contact_id, assignee FROM conversations ORDER BY id", &[], |r| {
            Ok(format!(
                "conversation {} {:?} {:?}",
                r.get::<String>(0)?,
                r.get::<Option<i64>>(1)?,
                r.get::<Option<String>>(2)?
            ))
        })?);
        out.extend(c.all("SELECT a, b FROM client_dismissals", &[], |r| {
            Ok(format!("dismissed {} {}", r.get::<i64>(0)?, r.get::<i64>(1)?))
        })?);
        out.extend(c.all("SELECT moved, undone_at FROM client_merges ORDER BY id", &[], |r| {
            Ok(format!("merge {} {:?}", r.get::<String>(0)?, r.get::<Option<i64>>(1)?))
        })?);
        out.extend(c.all("SELECT action, detail, row_hash FROM audit ORDER BY id", &[], |r| {
            Ok(format!("audit {} {} {}", r.get::<String>(0)?, r.get::<String>(1)?, r.get::<String>(2)?))
        })?);
        Ok(out)
    })
    .unwrap()
}

#[test]
fn client_cards_merge_split_and_change_hands_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, _pg, mut postgres) = new_on_both_engines();
    let on_sqlite = clients_story(&mut sqlite);
    assert!(
        on_sqlite
            .iter()
            .any(|l| l.contains("Ирина Иванова") && l.contains("Акты — до 5 числа") && l.contains("organisation")),
        "{on_sqlite:#?}"
    );
    assert!(on_sqlite.iter().any(|l| l == "dismissed 1 3"), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, clients_story(&mut postgres));
}

// ---- Search means the same on both engines ----

fn mail_in(
    label: &str,
    conv: &str,
    name: &str,
    addr: &str,
    ago: i64,
    subject: &str,
    body: &str,
) -> pult::model::Inbound {
    pult::model::Inbound {
        remote_id: format!("<{label}@corpus>"),
        conversation_key: conv.into(),
        conversation_title: subject.into(),
        author_handle: addr.into(),
        author_name: name.into(),
        sent_at: NOW - ago,
        subject: Some(subject.into()),
        body_text: body.into(),
        ..Default::default()
    }
}

/// Mail of the search golden table (tests/search.rs), stored by SQLite's real
/// ingest; the same rows indexed in PostgreSQL by pult's terms. Returns the
/// SQLite store and the PostgreSQL database with `search_keys` filled.
fn searchable_on_both() -> (common::TempStore, PgDb) {
    use pult::model::ChannelKind;
    const D: i64 = 86_400;
    let s = common::temp_store();
    let mail = common::channel(&s, "Почта", ChannelKind::Email);
    let mut reply = mail_in(
        "m8",
        "t1",
        "Мария",
        "maria@office.ru",
        9 * D,
        "Re: Акт сверки за третий квартал",
        "Принято в работу, акт пришлю до пятницы.\n\n> Пришлите акт сверки",
    );
    reply.outgoing = true;
    reply.recipients = vec!["irina@romashka.ru".into()];
    reply.names = vec![("irina@romashka.ru".into(), "Ирина Соколова".into())];
    common::ingest(
        &s,
        mail,
        vec![
            mail_in(
                "m1",
                "t1",
                "Ирина Соколова",
                "irina@romashka.ru",
                10 * D,
                "Акт сверки за третий квартал",
                "Добрый день! Пришлите, пожалуйста, акт сверки и счета-фактуры за сентябрь.",
            ),
            mail_in(
                "m2",
                "t2",
                "Олег Петров",
                "oleg@vector.ru",
                5 * D,
                "Оплата",
                "Оплатили счёт № 1547 на сумму 18 300 руб. Платёжку прикладываю.",
            ),
            mail_in(
                "m3",
                "t3",
                "Анна",
                "anna@x.ru",
                3 * D,
                "Аванс",
                "Когда будет готов авансовый отчёт? Нужен аванс сотрудникам",
            ),
            mail_in("m4", "t4", "Анна", "anna@x.ru", 2 * D, "Счётчик", "Показания счётчика за ноябрь отправила"),
            mail_in(
                "m5",
                "t5",
                "Bob Client",
                "bob@acme.com",
                D,
                "Invoices for October",
                "Please send the invoices and the updated balance sheet. Our INN 7701234567.",
            ),
            mail_in(
                "m6",
                "t6",
                "Ирина Соколова",
                "irina@romashka.ru",
                4 * 3600,
                "Актив баланса",
                "Вопрос по активам: как учитывать основные средства? Устав прилагаю. ООО не платит от НДС",
            ),
            mail_in(
                "m9",
                "t9",
                "Ирина Соколова",
                "irina@romashka.ru",
                40 * D,
                "Налоги",
                "Напоминаю про авансовые платежи по налогу",
            ),
            mail_in("m10", "t10", "Ёлкин Пётр", "petr@elka.ru", 2 * 3600, "Где счёт?", "Ёлки-палки, счет-то где?"),
            reply,
        ],
    );
    let pg = PgDb::new();
    let mut store = PgStore::open(&pg.target).unwrap();
    let conn = rusqlite::Connection::open(&s.path).unwrap();
    let mut st = conn
        .prepare(
            "SELECT m.id, k.key, m.subject, m.body, m.transcript, m.author || ' ' || coalesce(i.handle, ''),
                    m.recipients, m.cc, m.names
             FROM messages m JOIN search_keys k ON k.message_id = m.id LEFT JOIN identities i ON i.id = m.author_identity_id",
        )
        .unwrap();
    let rows: Vec<(i64, i64, String)> = st
        .query_map([], |r| {
            let recipients = pult::store::search::recipients_text(
                r.get::<_, Option<String>>(6)?.as_deref(),
                r.get::<_, Option<String>>(7)?.as_deref(),
                r.get::<_, Option<String>>(8)?.as_deref(),
            );
            let doc = tsearch::with_words(|w| {
                tsearch::message_document(
                    w,
                    r.get::<_, Option<String>>(2).ok().flatten().as_deref(),
                    &r.get::<_, String>(3).unwrap_or_default(),
                    r.get::<_, Option<String>>(4).ok().flatten().as_deref(),
                    &r.get::<_, String>(5).unwrap_or_default(),
                    &recipients,
                )
            });
            Ok((r.get(0)?, r.get(1)?, doc))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    store
        .write(|c| {
            for (id, key, doc) in &rows {
                c.exec("INSERT INTO search_keys (key, message_id, terms) VALUES (?1, ?2, CAST(CAST(?3 AS TEXT) AS tsvector))", &[key, id, doc])?;
            }
            Ok(())
        })
        .unwrap();
    (s, pg)
}

use pult::store::pg::tsearch;

/// The golden search queries: word forms, ё/е, «ООО», «не», «18 300»,
/// phrases, prefixes, from:/to:/subject:, OR, negation, quoted text not
/// indexed, and what a person types that must not break out of quotes.
pub(crate) const GOLDEN_QUERIES: &[&str] = &[
    "счёт",
    "счета",
    "СЧЕТ",
    "счётчик",
    "акт",
    "актив",
    "активы",
    "устава",
    "аванс",
    "авансового",
    "налог",
    "платёжка",
    "платежку",
    "пришлю",
    "invoice",
    "Invoices",
    "update",
    "balance sheets",
    "1547",
    "18300",
    "\"18 300\"",
    "7701234567",
    "\"акт сверки\"",
    "\"сверки акт\"",
    "сверк*",
    "акт OR актив",
    "-акт счёт",
    "from:ирина",
    "from:соколовой",
    "from:irina@romashka.ru",
    "from:елкин",
    "петр",
    "to:irina",
    "to:\"Ирина Соколова\"",
    "to:мария",
    "subject:налоги",
    "subject:акт",
    "ООО",
    "не",
    "от",
    "НДС",
    // Quoted in the reply, not written by its author: found in m1 only.
    "\"пришлите акт сверки\"",
    // What a person types must not break out of the quotes.
    "акт' | 'налог",
    "!акт",
    "акт & налог",
];

#[test]
fn search_finds_the_same_messages_on_both_engines() {
    let (s, pg) = searchable_on_both();
    let reader = pult::store::Reader::open(&s.path, "anna").unwrap();
    let clock = pult::clock::Clock::fixed(NOW, common::moscow());
    let mut c = pg.connect();
    let today = jiff::civil::date(2026, 11, 20);
    let golden = GOLDEN_QUERIES;
    let mut wrong = Vec::new();
    let mut found_any = 0;
    for q in golden {
        let sqlite: BTreeSet<i64> = reader
            .search(q, 100, &clock)
            .unwrap_or_else(|e| panic!("{q}: {e}"))
            .iter()
            .filter_map(|h| h.message)
            .collect();
        let parsed = pult::search::query::parse(q, today).unwrap();
        let tsq = tsearch::with_words(|w| tsearch::text_query(w, &parsed, false)).flatten().expect(q);
        let postgres: BTreeSet<i64> = c
            .query("SELECT message_id FROM search_keys WHERE terms @@ CAST($1::text AS tsquery)", &[&tsq])
            .unwrap_or_else(|e| panic!("{q} as {tsq}: {e}"))
            .iter()
            .map(|r| r.get(0))
            .collect();
        found_any += usize::from(!sqlite.is_empty());
        if sqlite != postgres {
            wrong.push(format!("{q:?} ({tsq}): SQLite {sqlite:?}, PostgreSQL {postgres:?}"));
        }
    }
    assert!(found_any >= 35, "the golden queries find something: {found_any}");
    assert!(wrong.is_empty(), "{} of {} differ:\n{}", wrong.len(), golden.len(), wrong.join("\n"));
}

#[test]
fn a_word_search_reads_the_gin_index() {
    let pg = PgDb::new();
    let mut store = PgStore::open(&pg.target).unwrap();
    let words = ["акт", "сверки", "счёт", "оплата", "договор", "налог", "аванс", "отчёт", "invoice", "balance"];
    store
        .write(|c| {
            for i in 0..3000i64 {
                let body = format!("{} {} {} номер {i}", words[i as usize % 10], words[(i as usize * 7) % 10], words[(i as usize / 3) % 10]);
                let doc = tsearch::with_words(|w| tsearch::message_document(w, Some("Письмо"), &body, None, "Ирина irina@x.ru", ""));
                c.exec("INSERT INTO search_keys (key, message_id, terms) VALUES (?1, ?1, CAST(CAST(?2 AS TEXT) AS tsvector))", &[&i, &doc])?;
            }
            Ok(())
        })
        .unwrap();
    let mut c = pg.connect();
    // A store of some size (a small table is read whole, index or not).
    c.batch_execute(
        "INSERT INTO search_keys (key, message_id, terms)
         SELECT i, i, CAST(format('''письм'':1A ''заказ'':2B ''n%s'':3B', i) AS tsvector)
         FROM generate_series(10000, 60000) AS i;
         ANALYZE search_keys",
    )
    .unwrap();
    let tsq = tsearch::with_words(|w| {
        tsearch::text_query(w, &pult::search::query::parse("1547", jiff::civil::date(2026, 11, 20)).unwrap(), false)
    })
    .flatten()
    .unwrap();
    let explain = |c: &mut postgres::Client, sql: &str, q: &str| -> Vec<String> {
        c.query(&format!("EXPLAIN {sql}"), &[&q, &50i64]).unwrap().iter().map(|r| r.get(0)).collect()
    };
    let count =
        |c: &mut postgres::Client, q: &str| -> i64 { c.query_one(tsearch::COUNT_UP_TO_FEW, &[&q]).unwrap().get(0) };
    // A rare word: counted few, found through the GIN index, then sorted.
    assert!(count(&mut c, &tsq) <= tsearch::FEW_HITS);
    let plan = explain(&mut c, tsearch::newest_hits_sql(true), &tsq);
    assert!(plan.iter().any(|l| l.contains("search_keys_terms")), "{plan:#?}");
    let rare: Vec<i64> =
        c.query(tsearch::newest_hits_sql(true), &[&tsq, &50i64]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(rare, vec![1547]);
    // A word in most messages: many, so the newest keys are read first and the page ends early.
    let common = "'заказ'";
    assert!(count(&mut c, common) > tsearch::FEW_HITS);
    let plan = explain(&mut c, tsearch::newest_hits_sql(false), common);
    assert!(plan.iter().any(|l| l.contains("Index Scan Backward using search_keys_pkey")), "{plan:#?}");
    let newest: Vec<i64> =
        c.query(tsearch::newest_hits_sql(false), &[&common, &3i64]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(newest, vec![60000, 59999, 59998]);
}

// ---- pult store migrate ----

#[test]
fn pult_store_migrate_moves_a_store_whole_and_only_into_an_empty_database() {
    let home = tempfile::tempdir().unwrap();
    let store = common::demo_store(home.path());
    // Originals kept beside the store must move too: one is named `beside`.
    let side = pult::store::side_blobs::SideBlobs::beside(&store);
    let packed = pult::model::Packed::of(b"From: x@y.ru\r\n\r\nbeside").unwrap();
    side.put_all(&[&packed]).unwrap();
    {
        let conn = rusqlite::Connection::open(&store).unwrap();
        conn.execute(
            "INSERT INTO blobs (sha256, size, codec, data) VALUES (?1, ?2, 'beside', x'')",
            rusqlite::params![packed.sha256, packed.size as i64],
        )
        .unwrap();
    }
    // A text with a NUL (a hostile mail's body may hold one; PostgreSQL's text cannot).
    pult::store::open_writer(&store)
        .unwrap()
        .run_sql(
            "INSERT INTO notes (conversation_id, actor, body, created_at)
             SELECT min(id), 'anna', 'до' || char(0) || 'после', 1 FROM conversations",
        )
        .unwrap();
    let pg = PgDb::new();
    let url = pg.target.shown().to_string();
    let password_file = std::env::var("PULT_TEST_POSTGRES_PASSWORD_FILE").unwrap();
    let config = home.path().join("config/pult/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, format!("[store]\npassword_file = \"{password_file}\"\n")).unwrap();

    let run = || {
        common::pult(home.path())
            .args(["store", "migrate", "--from"])
            .arg(format!("sqlite:{}", store.display()))
            .args(["--to", &url, "--json"])
            .output()
            .unwrap()
    };
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let conn = rusqlite::Connection::open(&store).unwrap();
    let mut c = pg.connect();
    for table in [
        "messages",
        "conversations",
        "contacts",
        "outbox",
        "tasks",
        "notes",
        "audit",
        "blobs",
        "search_keys",
        "sync_state",
    ] {
        let here: i64 = conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0)).unwrap();
        let there: i64 = c.query_one(&format!("SELECT count(*) FROM {table}"), &[]).unwrap().get(0);
        assert_eq!(said["tables"][table], serde_json::json!(here), "{table}: {said}");
        assert_eq!(here, there, "{table}");
    }
    assert_eq!(said["nul_replaced"], serde_json::json!(1), "{said}");
    let moved_note: i64 = c.query_one("SELECT count(*) FROM notes WHERE body = 'до\u{2400}после'", &[]).unwrap().get(0);
    assert_eq!(moved_note, 1);
    let messages: i64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0)).unwrap();
    assert!(messages > 20, "the demo has a week of mail: {messages}");
    // The audit chain is the same chain, hash for hash.
    let here: Vec<(i64, Option<String>)> = conn
        .prepare("SELECT id, row_hash FROM audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let there: Vec<(i64, Option<String>)> = c
        .query("SELECT id, row_hash FROM audit ORDER BY id", &[])
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(!here.is_empty());
    assert_eq!(here, there);
    // The original kept beside the file is in the database now, readable.
    let codec: String = c.query_one("SELECT codec FROM blobs WHERE sha256 = $1", &[&packed.sha256]).unwrap().get(0);
    assert_eq!(codec, "deflate");
    // New rows continue after the moved ones.
    let next: i64 = c
        .query_one("INSERT INTO notes (conversation_id, actor, body, created_at) SELECT min(id), 'anna', 'после переноса', 1 FROM conversations RETURNING id", &[])
        .unwrap()
        .get(0);
    let max_here: i64 = conn.query_row("SELECT coalesce(max(id), 0) FROM notes", [], |r| r.get(0)).unwrap();
    assert!(next > max_here);
    let counter: i64 = c.query_one("SELECT n FROM change_counter", &[]).unwrap().get(0);
    let seq: i64 = conn.query_row("SELECT coalesce(max(seq), 0) FROM changes", [], |r| r.get(0)).unwrap();
    assert_eq!(counter, seq);
    // Search finds the same messages in the moved store.
    let reader = pult::store::Reader::open(&store, "anna").unwrap();
    let clock = pult::clock::Clock::fixed(NOW, common::moscow());
    for q in ["акт", "счёт", "оплата", "\"акт сверки\""] {
        let sqlite: BTreeSet<i64> = reader.search(q, 1000, &clock).unwrap().iter().filter_map(|h| h.message).collect();
        let parsed = pult::search::query::parse(q, jiff::civil::date(2026, 11, 20)).unwrap();
        let tsq = tsearch::with_words(|w| tsearch::text_query(w, &parsed, false)).flatten().unwrap();
        let postgres: BTreeSet<i64> = c
            .query("SELECT message_id FROM search_keys WHERE terms @@ CAST($1::text AS tsquery)", &[&tsq])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(sqlite, postgres, "{q}");
    }

    // A second run finds the database holding a store, and says so.
    let again = run();
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds a store"), "{err}");
    assert!(!err.contains("pult-test-secret"), "{err}");
    let after: i64 = c.query_one("SELECT count(*) FROM messages", &[]).unwrap().get(0);
    assert_eq!(after, messages, "nothing was added by the refused run");
}

#[test]
fn another_screen_sees_a_commit_through_the_doorbell_and_the_log() {
    let pg = PgDb::new();
    let mut store = PgStore::open(&pg.target).unwrap();
    let (conv, _) = chat_with_a_question(&mut store);
    let mut watcher = changes::Watcher::open(&pg.target).unwrap();
    assert!(watcher.poll(Duration::from_millis(10)).unwrap().is_empty(), "nothing new yet");
    pult::store::team::add_note(&mut store, conv, "boris", "Перезвонить в 15:00", NOW).unwrap();
    // The ring wakes the wait at once; the generous bound only stops a broken doorbell hanging the test.
    let seen = watcher.poll(Duration::from_secs(30)).unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].kind, pult::model::ChangeKind::Note);
    assert_eq!(seen[0].conversation_id, Some(conv));
    assert_eq!(seen[0].actor.as_deref(), Some("boris"));
    assert!(watcher.rings() >= 1, "woken by the doorbell, not found by the safety net's read");
    assert!(watcher.poll(Duration::from_millis(10)).unwrap().is_empty(), "each change is delivered once");
}

// ---- The outbox on both engines ----

use pult::store::intents::{self, EmailExtra, Recovered};

/// Every row the outbox touches, as a person (or the sender) could see it.
/// Messages are named by their remote id (SQLite gives a deleted row's id to
/// the next one, PostgreSQL never does).
fn outbox_seen(db: &mut impl Transact) -> Vec<String> {
    db.write(|c| {
        let message = |id: &str| format!("(SELECT remote_id FROM messages WHERE id = {id})");
        let mut out = c.all(
            &format!(
                "SELECT id, state, attempts, error, not_before, remote_id, rfc_message_id, handed_over_at,
                        server_answer, to_addresses, forward_of, template, {}
                 FROM outbox ORDER BY id",
                message("message_id")
            ),
            &[],
            |r| {
                Ok(format!(
                    "outbox {} {} {} {:?} {} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<i64>(2)?,
                    r.get::<Option<String>>(3)?,
                    r.get::<i64>(4)?,
                    r.get::<Option<String>>(5)?,
                    r.get::<Option<String>>(6)?,
                    r.get::<Option<i64>>(7)?,
                    r.get::<Option<String>>(8)?,
                    r.get::<Option<String>>(9)?,
                    r.get::<Option<i64>>(10)?,
                    r.get::<Option<String>>(11)?,
                    r.get::<Option<String>>(12)?
                ))
            },
        )?;
        out.extend(c.all(
            "SELECT remote_id, direction, delivery, error, flag_push, recipients, cc, forward, closing, quiet, body
             FROM messages ORDER BY id",
            &[],
            |r| {
                Ok(format!(
                    "message {} {} {} {:?} {:?} {:?} {:?} {} {} {:?} {}",
                    r.get::<String>(0)?,
                    r.get::<String>(1)?,
                    r.get::<String>(2)?,
                    r.get::<Option<String>>(3)?,
                    r.get::<Option<String>>(4)?,
                    r.get::<Option<String>>(5)?,
                    r.get::<Option<String>>(6)?,
                    r.get::<i64>(7)?,
                    r.get::<i64>(8)?,
                    r.get::<Option<String>>(9)?,
                    r.get::<String>(10)?
                ))
            },
        )?);
        out.extend(c.all(
            &format!(
                "SELECT id, status, waiting_since, {}, {}, preview, automatic FROM conversations ORDER BY id",
                message("last_inbound_id"),
                message("last_message_id")
            ),
            &[],
            |r| {
                Ok(format!(
                    "conversation {} {} {:?} {:?} {:?} {} {}",
                    r.get::<i64>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<i64>>(2)?,
                    r.get::<Option<String>>(3)?,
                    r.get::<Option<String>>(4)?,
                    r.get::<String>(5)?,
                    r.get::<i64>(6)?
                ))
            },
        )?);
        out.extend(c.all(
            &format!(
                "SELECT actor, conversation_id, {} FROM read_marks ORDER BY actor, conversation_id",
                message("message_id")
            ),
            &[],
            |r| Ok(format!("read {} {} {:?}", r.get::<String>(0)?, r.get::<i64>(1)?, r.get::<Option<String>>(2)?)),
        )?);
        out.extend(c.all("SELECT id, state, done_at, withdrawn FROM tasks ORDER BY id", &[], |r| {
            Ok(format!(
                "task {} {} {:?} {:?}",
                r.get::<i64>(0)?,
                r.get::<String>(1)?,
                r.get::<Option<i64>>(2)?,
                r.get::<Option<String>>(3)?
            ))
        })?);
        out.extend(c.all(
            &format!(
                "SELECT {}, ordinal, name, mime, size, content_hash, remote_ref FROM attachments
                 ORDER BY message_id, ordinal",
                message("message_id")
            ),
            &[],
            |r| {
                Ok(format!(
                    "attachment {:?} {} {} {} {:?} {:?} {:?}",
                    r.get::<Option<String>>(0)?,
                    r.get::<i64>(1)?,
                    r.get::<String>(2)?,
                    r.get::<String>(3)?,
                    r.get::<Option<i64>>(4)?,
                    r.get::<Option<String>>(5)?,
                    r.get::<Option<String>>(6)?
                ))
            },
        )?);
        out.extend(c.all("SELECT kind, handle, rule, actor FROM sender_rules ORDER BY kind, handle", &[], |r| {
            Ok(format!(
                "rule {} {} {} {}",
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<String>(2)?,
                r.get::<String>(3)?
            ))
        })?);
        out.extend(c.all(
            &format!(
                "SELECT {}, author_handle, author_name, emoji FROM reactions ORDER BY 1, 2",
                message("message_id")
            ),
            &[],
            |r| {
                Ok(format!(
                    "reaction {:?} {} {:?} {}",
                    r.get::<Option<String>>(0)?,
                    r.get::<String>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<String>(3)?
                ))
            },
        )?);
        out.extend(c.all("SELECT remote_id, kind FROM pending_reports ORDER BY remote_id, kind", &[], |r| {
            Ok(format!("parked {} {}", r.get::<String>(0)?, r.get::<String>(1)?))
        })?);
        // The audit chain's hashes cover every field: equal hashes, equal history.
        out.extend(c.all("SELECT id, action, detail, row_hash FROM audit ORDER BY id", &[], |r| {
            let (id, action, detail, hash) =
                (r.get::<i64>(0)?, r.get::<String>(1)?, r.get::<String>(2)?, r.get::<String>(3)?);
            Ok(format!("audit {id} {action} {detail} {hash}"))
        })?);
        out.extend(c.all("SELECT kind, conversation_id, actor FROM changes ORDER BY seq", &[], |r| {
            Ok(format!(
                "change {} {:?} {:?}",
                r.get::<String>(0)?,
                r.get::<Option<i64>>(1)?,
                r.get::<Option<String>>(2)?
            ))
        })?);
        Ok(out)
    })
    .unwrap()
}

fn state_of(db: &mut impl Transact, outbox: i64) -> String {
    db.write(|c| c.one("SELECT state FROM outbox WHERE id = ?1", &[&outbox], |r| r.get(0))).unwrap()
}

fn channel_of(db: &mut impl Transact, conversation: i64) -> i64 {
    db.write(|c| c.one("SELECT channel_id FROM conversations WHERE id = ?1", &[&conversation], |r| r.get(0))).unwrap()
}

/// A second chat on the same channel, with a client message; its id.
fn another_chat(db: &mut impl Transact, channel: i64) -> i64 {
    db.write(|c| {
        let conv = c.insert(
            "INSERT INTO conversations (channel_id, remote_key, title, created_at)
             VALUES (?1, 'chat:2', 'ИП Петров', ?2) RETURNING id",
            &[&channel, &NOW],
        )?;
        c.exec(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, sent_at, body)
             VALUES (?1, ?2, '2:1', 'in', 'Пётр', ?3, 'Когда будет договор?')",
            &[&conv, &channel, &(NOW - 300)],
        )?;
        Ok(conv)
    })
    .unwrap()
}

/// Sent at once; failed, retried, maybe sent and confirmed; a crash mid-send;
/// taken back in its undo window; a batch closed and reopened; read twice.
fn outbox_story(db: &mut impl Transact) -> Vec<String> {
    let mut story = Vec::new();
    let (conv, question) = chat_with_a_question(db);
    let ch = channel_of(db, conv);

    // Sent at the first try.
    let first = intents::queue_reply(db, &reply(conv, question, "Акт сверки во вложении"), NOW).unwrap();
    assert!(intents::take_due(db, ch, NOW).unwrap().is_none(), "not before its undo window ends");
    let item = intents::take_due(db, ch, NOW + 10).unwrap().expect("due");
    assert_eq!(
        (item.id, item.body.as_str(), item.attempts, item.conversation_key.as_str()),
        (first, "Акт сверки во вложении", 0, "chat:1")
    );
    assert_eq!(item.reply_to_remote.as_deref(), Some("1"));
    assert_eq!(state_of(db, first), "sending", "a row taken is sending");
    assert!(intents::take_due(db, ch, NOW + 10).unwrap().is_none(), "taken once");
    intents::mark_sent(db, first, "tg:101", NOW + 11).unwrap();
    assert_eq!(state_of(db, first), "sent");
    story.extend(outbox_seen(db));

    // Failed; a person retries it; its fate is unknown; a person confirms it went.
    let second = intents::queue_reply(db, &reply(conv, question, "Счёт выставлен"), NOW + 20).unwrap();
    assert_eq!(intents::take_due(db, ch, NOW + 30).unwrap().map(|i| i.id), Some(second));
    intents::mark_failed(db, second, "Forbidden: bot was blocked by the user", NOW + 31).unwrap();
    assert!(intents::take_due(db, ch, NOW + 40).unwrap().is_none(), "a failed row waits for a person");
    intents::resolve(db, second, true, "anna", NOW + 40).unwrap();
    let again = intents::take_due(db, ch, NOW + 40).unwrap().expect("retried");
    assert_eq!((again.id, again.attempts), (second, 1));
    intents::mark_unknown(db, second, "connection reset", NOW + 41).unwrap();
    assert!(intents::take_due(db, ch, NOW + 50).unwrap().is_none(), "maybe sent: never resent by itself");
    let sent_row = intents::resolve(db, first, true, "anna", NOW + 50).unwrap_err();
    assert!(matches!(sent_row, StoreError::Invalid(_)), "a sent row is not retried: {sent_row}");
    assert!(intents::confirm_sent(db, first, "anna", NOW + 50).is_err(), "only a maybe-sent row is confirmed");
    intents::confirm_sent(db, second, "anna", NOW + 50).unwrap();
    assert_eq!(state_of(db, second), "sent");
    story.extend(outbox_seen(db));

    // The daemon dies with two rows in flight: the server had accepted one.
    let third = intents::queue_reply(db, &reply(conv, question, "Напоминаю про оплату"), NOW + 60).unwrap();
    let fourth = intents::queue_reply(db, &reply(conv, question, "Документы отправлены"), NOW + 61).unwrap();
    assert_eq!(intents::take_due(db, ch, NOW + 70).unwrap().map(|i| i.id), Some(third));
    assert_eq!(intents::take_due(db, ch, NOW + 70).unwrap().map(|i| i.id), Some(fourth));
    intents::mark_handed_over(db, fourth, &["client@example.com".into()], &[], Some("250 2.0.0 Ok"), NOW + 71).unwrap();
    let recovered = intents::recover_interrupted(db, NOW + 80).unwrap();
    assert_eq!(recovered, Recovered { handed_over: 1, unknown: 1 });
    assert_eq!(state_of(db, third), "unknown", "in flight at the crash: may have been sent, never pending");
    assert!(intents::take_due(db, ch, NOW + 80).unwrap().is_none(), "at most once: nothing in flight goes again");
    assert_eq!(intents::take_handed_over(db, ch, NOW + 80).unwrap().map(|i| i.id), Some(fourth));
    intents::mark_sent(db, fourth, "tg:104", NOW + 81).unwrap();
    assert!(intents::take_handed_over(db, ch, NOW + 81).unwrap().is_none());
    assert_eq!(intents::recover_interrupted(db, NOW + 82).unwrap(), Recovered::default());
    story.extend(outbox_seen(db));

    // Taken back inside its undo window; too late once it left.
    let oops = Reply { not_before: NOW + 100, ..reply(conv, question, "Ой, это не вам") };
    let fifth = intents::queue_reply(db, &oops, NOW + 90).unwrap();
    assert!(intents::take_due(db, ch, NOW + 95).unwrap().is_none(), "still in its window");
    assert_eq!(ledger::undo_send(db, fifth, "anna", NOW + 95).unwrap(), "Ой, это не вам");
    assert_eq!(state_of(db, fifth), "cancelled");
    let late = ledger::undo_send(db, first, "anna", NOW + 96).unwrap_err();
    assert!(matches!(&late, StoreError::Refused(Refused::TooLateToUndo(s)) if s == "sent"), "{late}");
    story.extend(outbox_seen(db));

    // A batch close keeps the conversation with an open promise; its undo reopens the rest.
    let promised = another_chat(db, ch);
    intents::add_task(db, promised, None, "anna", NOW + 86_400, NOW + 100).unwrap();
    let batch = intents::close_many(db, "anna", &[conv, promised, 999], false, NOW + 110).unwrap();
    assert_eq!((batch.closed.clone(), batch.kept_for_promises.clone()), (vec![conv], vec![promised]));
    assert_eq!(intents::reopen_batch(db, "anna", batch.batch, NOW + 111).unwrap(), vec![conv]);
    assert!(intents::reopen_batch(db, "anna", batch.batch, NOW + 112).is_err(), "nothing left to reopen");

    // Read, then read again: the second changes nothing.
    assert!(intents::mark_read(db, "anna", conv, NOW + 120).unwrap());
    assert!(!intents::mark_read(db, "anna", conv, NOW + 121).unwrap(), "nothing new to read");

    // Nothing is sent twice: every row has been taken.
    assert!(intents::take_due(db, ch, NOW + 10_000).unwrap().is_none());
    assert!(intents::take_handed_over(db, ch, NOW + 10_000).unwrap().is_none());
    story.extend(outbox_seen(db));
    story
}

#[test]
fn the_outbox_moves_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, _pg, mut postgres) = new_on_both_engines();

    let on_sqlite = outbox_story(&mut sqlite);
    let on_postgres = outbox_story(&mut postgres);
    assert!(
        on_sqlite.iter().any(|l| l.starts_with("outbox 3 unknown") && l.contains("may have been sent")),
        "{on_sqlite:#?}"
    );
    assert!(on_sqlite.iter().any(|l| l.contains("outbox.confirm_sent")), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, on_postgres);
}

/// A client's mail in an email thread (its Message-ID, IMAP place and a
/// file on the server): (conversation, message, channel).
fn mail_thread(db: &mut impl Transact) -> (i64, i64, i64) {
    db.write(|c| {
        let ch = c.insert(
            "INSERT INTO channels (name, kind, created_at) VALUES ('mail', 'email', ?1) RETURNING id",
            &[&NOW],
        )?;
        let contact = c.insert("INSERT INTO contacts (name, created_at) VALUES ('Ирина', ?1) RETURNING id", &[&NOW])?;
        let identity = c.insert(
            "INSERT INTO identities (contact_id, kind, handle, display_name)
             VALUES (?1, 'email', 'irina@romashka.ru', 'Ирина') RETURNING id",
            &[&contact],
        )?;
        let conv = c.insert(
            "INSERT INTO conversations (channel_id, remote_key, title, subject, contact_id, created_at)
             VALUES (?1, '<q1@romashka.ru>', 'Акт сверки', 'Акт сверки', ?2, ?3) RETURNING id",
            &[&ch, &contact, &NOW],
        )?;
        let msg = c.insert(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, author_identity_id,
                                   sent_at, subject, body, rfc_message_id, recipients, imap_folder, imap_uid,
                                   imap_validity)
             VALUES (?1, ?2, 'INBOX:1:7', 'in', 'Ирина', ?3, ?4, 'Акт сверки', 'Пришлите акт', '<q1@romashka.ru>',
                     '[\"anna@firm.ru\"]', 'INBOX', 7, 1)
             RETURNING id",
            &[&conv, &ch, &identity, &(NOW - 600)],
        )?;
        c.exec(
            "INSERT INTO attachments (message_id, ordinal, name, mime, size, remote_ref)
             VALUES (?1, 0, 'счёт.pdf', 'application/pdf', 1234, 'INBOX:1:7:2')",
            &[&msg],
        )?;
        c.exec("UPDATE conversations SET last_inbound_id = ?1 WHERE id = ?2", &[&msg, &conv])?;
        Ok((conv, msg, ch))
    })
    .unwrap()
}

/// Reports that came before the record of our send (a receipt, a reaction).
fn park_reports(db: &mut impl Transact, channel: i64) {
    db.write(|c| {
        c.exec(
            "INSERT INTO pending_reports (channel_id, remote_id, kind, state, error, at)
             VALUES (?1, '<f1@firm.ru>', 'delivery', 'delivered', NULL, ?2),
                    (?1, '<r1@firm.ru>', 'reaction', '👍', ?3, ?2)",
            &[&channel, &NOW, &"irina@romashka.ru\tИрина"],
        )?;
        Ok(())
    })
    .unwrap()
}

fn flags_owed(db: &mut impl Transact, message: i64) -> Option<String> {
    db.write(|c| c.one("SELECT flag_push FROM messages WHERE id = ?1", &[&message], |r| r.get(0))).unwrap()
}

/// The rest of the outbox on an email thread: a reply with a file and its
/// References, the Message-ID fixed once, flags owed to the server, a
/// forward and what it carries, a retry later, reports that overtook the
/// send, a sender's rule, a closing mail counted as waiting, close and reopen.
fn email_story(db: &mut impl Transact, file: &std::path::Path) -> Vec<String> {
    let (conv, question, ch) = mail_thread(db);
    park_reports(db, ch);
    let with_file = Reply {
        subject: Some("Re: Акт сверки".into()),
        attachments: vec![file.to_path_buf()],
        ..reply(conv, question, "Акт во вложении")
    };
    let out = intents::queue_reply(db, &with_file, NOW).unwrap();
    let item = intents::take_due(db, ch, NOW + 10).unwrap().expect("due");
    assert_eq!(item.references, vec!["<q1@romashka.ru>".to_string()]);
    assert_eq!(item.reply_from.as_deref(), Some("irina@romashka.ru"));
    assert_eq!(item.reply_recipients, vec!["anna@firm.ru".to_string()]);
    assert_eq!(item.reply_quote, Some(("Ирина".into(), NOW - 600, "Пришлите акт".into())));
    assert_eq!(item.kind, pult::model::ChannelKind::Email);
    assert_eq!(item.attachments.len(), 1);
    assert_eq!(item.attachments[0].bytes, pult::model::FileBytes::Stored("%PDF-1.4 акт".as_bytes().to_vec()));

    assert_eq!(intents::fix_message_id(db, out, "<r1@firm.ru>").unwrap(), "<r1@firm.ru>");
    assert_eq!(intents::fix_message_id(db, out, "<r2@firm.ru>").unwrap(), "<r1@firm.ru>", "an earlier attempt's stays");
    intents::mark_handed_over(
        db,
        out,
        &["irina@romashka.ru".into()],
        &["boss@romashka.ru".into()],
        Some("250 2.0.0 Ok: queued"),
        NOW + 11,
    )
    .unwrap();
    intents::owe_answered_flag(db, out).unwrap();
    intents::owe_answered_flag(db, out).unwrap();
    intents::mark_sent(db, out, "<r1@firm.ru>", NOW + 12).unwrap();
    assert_eq!(
        db.write(|c| intents::outbox_row(c, out)).unwrap(),
        Some((ch, "sent".to_string(), Some("<r1@firm.ru>".to_string())))
    );
    assert!(intents::mark_read(db, "anna", conv, NOW + 20).unwrap());
    assert!(intents::mark_read(db, "boris", conv, NOW + 21).unwrap());
    assert_eq!(flags_owed(db, question).as_deref(), Some("\\Answered \\Seen"), "each flag owed once");

    let (same, fwd) =
        intents::queue_forward(db, question, vec!["Бухгалтерия <buh@firm.ru>".into()], String::new(), "anna", NOW + 30)
            .unwrap();
    assert_eq!(same, conv);
    let src = db.write(|c| intents::forward_source(c, question)).unwrap().expect("the forwarded mail");
    assert_eq!((src.handle.as_str(), src.imap.clone()), ("irina@romashka.ru", Some(("INBOX".to_string(), 7, Some(1)))));
    assert_eq!(src.recipients, vec!["anna@firm.ru".to_string()]);
    assert_eq!(src.attachments, vec![("счёт.pdf".into(), "application/pdf".into(), "INBOX:1:7:2".into(), 1234)]);
    assert!(db.write(|c| intents::forward_source(c, 999)).unwrap().is_none());
    assert!(intents::queue_forward(db, 999, vec!["x@y.ru".into()], String::new(), "anna", NOW + 31).is_err());

    let taken = intents::take_due(db, ch, NOW + 40).unwrap().expect("the forward is due");
    assert_eq!((taken.id, taken.forward_of, taken.to.clone()), (fwd, Some(question), vec!["buh@firm.ru".to_string()]));
    intents::retry_later(db, fwd, "421 try again later", NOW + 100, NOW + 41).unwrap();
    assert!(intents::take_due(db, ch, NOW + 50).unwrap().is_none(), "not before its retry time");
    assert_eq!(intents::take_due(db, ch, NOW + 100).unwrap().map(|i| (i.id, i.attempts)), Some((fwd, 1)));
    intents::mark_sent(db, fwd, "<f1@firm.ru>", NOW + 101).unwrap();

    let own = Reply {
        subject: Some("Сверка за декабрь".into()), ..reply(conv, question, "Добрый день")
    };
    let extra = EmailExtra { to: vec!["a@x.ru; Б <b@y.ru>".into()], forward_of: None };
    intents::queue_email(db, &own, &extra, NOW + 110).unwrap();
    let template = r#"{"name":"hello","language":"ru","params":[]}"#;
    intents::queue_template_reply(db, &reply(conv, question, "Здравствуйте"), template, NOW + 111).unwrap();

    assert_eq!(intents::set_sender_rule(db, conv, false, "anna", NOW + 120).unwrap(), "irina@romashka.ru");
    assert!(intents::count_waiting(db, conv, NOW + 121).unwrap(), "her mail waits for an answer after all");
    assert!(!intents::count_waiting(db, conv, NOW + 122).unwrap(), "nothing left to count");
    intents::set_sender_rule(db, conv, true, "anna", NOW + 123).unwrap();
    intents::set_status(db, "anna", conv, false, NOW + 130).unwrap();
    intents::set_status(db, "anna", conv, true, NOW + 131).unwrap();
    outbox_seen(db)
}

#[test]
fn the_rest_of_the_outbox_reads_the_same_on_both_engines() {
    let (dir, mut sqlite, _pg, mut postgres) = new_on_both_engines();
    let file = dir.path().join("акт.pdf");
    std::fs::write(&file, "%PDF-1.4 акт").unwrap();

    let on_sqlite = email_story(&mut sqlite, &file);
    let on_postgres = email_story(&mut postgres, &file);
    // The reports that overtook the sends applied when they were recorded.
    assert!(
        on_sqlite.iter().any(|l| l.starts_with("reaction Some(\"<r1@firm.ru>\") irina@romashka.ru")),
        "{on_sqlite:#?}"
    );
    assert!(on_sqlite.iter().any(|l| l.starts_with("message <f1@firm.ru> out delivered")), "{on_sqlite:#?}");
    assert!(!on_sqlite.iter().any(|l| l.starts_with("parked")), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, on_postgres);
}

/// What a sync worker keeps about its channel besides messages, on both engines.
fn channel_story(db: &mut impl Transact) -> Vec<String> {
    use pult::model::{ChannelStatus, FlagChange};
    use pult::store::channel_state as cs;
    let (conv, question) = chat_with_a_question(db);
    let mut story = Vec::new();
    // Mail on the server: two in INBOX with UIDs, one owes \Seen.
    db.write(|c| {
        c.exec(
            "UPDATE messages SET imap_folder = 'INBOX', imap_uid = 7, flag_push = '\\Seen' WHERE id = ?1",
            &[&question],
        )?;
        c.exec(
            "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, sent_at, body, imap_folder, imap_uid)
             VALUES (?1, 1, 'm8', 'in', ?2, 'второе', 'INBOX', 8)",
            &[&conv, &NOW],
        )?;
        c.exec(
            "INSERT INTO attachments (message_id, ordinal, name, mime, remote_ref) VALUES (?1, 0, 'voice.ogg', 'audio/ogg', 'file-1')",
            &[&question],
        )?;
        c.exec(
            "INSERT INTO read_marks (actor, conversation_id, message_id) VALUES ('anna', ?1, ?2)",
            &[&conv, &question],
        )?;
        Ok(())
    })
    .unwrap();
    story.push(format!("{:?}", db.write(|c| cs::cursor(c, 1, "offset")).unwrap()));
    story.push(format!("{}", cs::begin_history(db, 1, None, NOW - 86_400).unwrap()));
    story.push(format!("{}", cs::begin_history(db, 1, None, NOW).unwrap()));
    story.push(format!("{:?}", db.write(|c| cs::history_and_waiting(c, 1)).unwrap()));
    db.write(|c| cs::set_status(c, 1, &ChannelStatus::Error("нет сети".into()), NOW)).unwrap();
    db.write(|c| cs::set_status(c, 1, &ChannelStatus::Error("нет сети".into()), NOW + 1)).unwrap();
    story.push(format!("{:?}", db.write(|c| cs::live_mails(c, 1, "INBOX")).unwrap()));
    story.push(format!("{:?}", db.write(|c| cs::flags_to_push(c, 1, "INBOX")).unwrap()));
    db.write(|c| cs::flags_pushed(c, question, true, false)).unwrap();
    let gone = pult::model::Gone::Ranges(vec![8..=8]);
    let changed = [FlagChange { uid: 7, seen: true, answered: true }];
    let marked = db.write(|c| cs::apply_mailbox(c, 1, "INBOX", &changed, &gone, Some(99), NOW)).unwrap();
    story.push(format!("marked {marked}"));
    story.push(format!("{:?}", db.write(|c| cs::cursor(c, 1, "INBOX.modseq")).unwrap()));
    story.push(format!("{:?}", db.write(|c| cs::untranscribed_voice(c, 1)).unwrap()));
    cs::add_transcript(db, question, "Пришлите акт сверки", NOW + 2).unwrap();
    story.push(format!("{:?}", db.write(|c| cs::unfetched_media(c, 1)).unwrap().len()));
    let sha = cs::media_fetched(db, 1, b"OggS voice", "audio/ogg", NOW + 3).unwrap();
    story.push(sha);
    story.push(format!("{:?}", db.write(|c| cs::reads_to_report(c, 1, 0, "%")).unwrap()));
    db.write(|c| cs::read_reported(c, 1, conv, question)).unwrap();
    story.push(format!("{:?}", db.write(|c| cs::reads_to_report(c, 1, 0, "%")).unwrap()));
    story.extend(
        db.write(|c| {
            let mut out = c.all(
                "SELECT seen, answered, expunged, flag_push, transcript, body FROM messages ORDER BY id",
                &[],
                |r| {
                    Ok(format!(
                        "message {} {} {} {:?} {:?} {}",
                        r.get::<i64>(0)?,
                        r.get::<i64>(1)?,
                        r.get::<i64>(2)?,
                        r.get::<Option<String>>(3)?,
                        r.get::<Option<String>>(4)?,
                        r.get::<String>(5)?
                    ))
                },
            )?;
            out.extend(c.all("SELECT status, history_before FROM channels", &[], |r| {
                Ok(format!("channel {:?} {:?}", r.get::<Option<String>>(0)?, r.get::<Option<i64>>(1)?))
            })?);
            out.extend(c.all("SELECT kind, conversation_id FROM changes ORDER BY seq", &[], |r| {
                Ok(format!("change {} {:?}", r.get::<String>(0)?, r.get::<Option<i64>>(1)?))
            })?);
            Ok(out)
        })
        .unwrap(),
    );
    story
}

#[test]
fn a_channel_s_cursors_flags_and_media_are_kept_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, pg, mut postgres) = new_on_both_engines();
    let on_sqlite = channel_story(&mut sqlite);
    assert!(on_sqlite.contains(&"marked 1".to_string()), "{on_sqlite:#?}");
    assert!(on_sqlite.contains(&"Some(\"99\")".to_string()), "{on_sqlite:#?}");
    assert!(on_sqlite.iter().any(|l| l.contains("📝 Пришлите акт сверки")), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, channel_story(&mut postgres));
    // The transcript is found on PostgreSQL too: its terms followed the body.
    let mut c = pg.connect();
    let tsq = tsearch::with_words(|w| {
        tsearch::text_query(
            w,
            &pult::search::query::parse("\"акт сверки\"", jiff::civil::date(2026, 11, 20)).unwrap(),
            false,
        )
    })
    .flatten()
    .unwrap();
    let n: i64 = c
        .query_one("SELECT count(*) FROM search_keys WHERE terms @@ CAST($1::text AS tsquery)", &[&tsq])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

/// An account leaves the config: its channel is archived, listed, brought
/// back, archived again and removed with everything hanging on it.
fn archive_story(db: &mut impl Transact) -> Vec<String> {
    use pult::store::archive;
    let (conv, question) = chat_with_a_question(db);
    db.write(|c| {
        c.exec("INSERT INTO blobs (sha256, size, codec, data) VALUES ('aa', 3, 'raw', ?1)", &[&b"abc".to_vec()])?;
        c.exec("INSERT INTO blobs (sha256, size, codec, data) VALUES ('bb', 3, 'beside', ?1)", &[&Vec::<u8>::new()])?;
        c.exec(
            "INSERT INTO attachments (message_id, ordinal, name, content_hash) VALUES (?1, 0, 'акт.pdf', 'aa')",
            &[&question],
        )?;
        c.exec(
            "INSERT INTO originals (message_id, kind, source, sha256, received_at) VALUES (?1, 'telegram', 'update', 'bb', 1)",
            &[&question],
        )?;
        Ok(())
    })
    .unwrap();
    pult::store::team::add_note(db, conv, "anna", "Позвонить", NOW).unwrap();
    let mut story = vec![format!("{:?}", db.write(|c| archive::channel_id(c, "tg")).unwrap())];
    story.push(format!("{:?}", archive::reconcile(db, &["mail".into()], NOW).unwrap()));
    story.push(format!("{:?}", archive::reconcile(db, &["tg".into()], NOW + 1).unwrap()));
    let refused = archive::remove(db, "tg", "anna", NOW + 2).unwrap_err();
    assert!(refused.to_string().contains("not archived"), "{refused}");
    story.push(format!("{:?}", archive::reconcile(db, &[], NOW + 3).unwrap()));
    story.push(format!("{:?}", db.write(|c| archive::list(c)).unwrap()));
    story.push(format!("{:?}", archive::remove(db, "tg", "anna", NOW + 4).unwrap()));
    story.extend(
        db.write(|c| {
            let mut out = Vec::new();
            for t in ["channels", "conversations", "messages", "attachments", "originals", "notes", "blobs"] {
                out.push(format!("{t} {}", c.one(&format!("SELECT count(*) FROM {t}"), &[], |r| r.get::<i64>(0))?));
            }
            out.extend(c.all("SELECT action, detail FROM audit ORDER BY id", &[], |r| {
                Ok(format!("audit {} {}", r.get::<String>(0)?, r.get::<String>(1)?))
            })?);
            Ok(out)
        })
        .unwrap(),
    );
    story
}

#[test]
fn an_archived_channel_is_removed_whole_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, pg, mut postgres) = new_on_both_engines();
    let on_sqlite = archive_story(&mut sqlite);
    assert!(on_sqlite.iter().any(|l| l.contains("beside: [\"bb\"]")), "{on_sqlite:#?}");
    assert!(on_sqlite.contains(&"messages 0".to_string()), "{on_sqlite:#?}");
    assert_eq!(on_sqlite, archive_story(&mut postgres));
    // Nothing of the channel is left in PostgreSQL's search tables either.
    let mut c = pg.connect();
    for t in ["search_keys", "attachments_search", "clients_search", "notes_search"] {
        let n: i64 = c.query_one(&format!("SELECT count(*) FROM {t}"), &[]).unwrap().get(0);
        assert_eq!(n, 0, "{t}");
    }
}

/// Notes and client names written through the rules are searchable on
/// PostgreSQL as on SQLite: the same notes for `note:`, the same
/// conversations for `client:`.
#[test]
fn notes_and_client_names_are_found_the_same_way_on_both_engines() {
    let (dir, mut sqlite, pg, mut postgres) = new_on_both_engines();
    team_story(&mut sqlite);
    team_story(&mut postgres);
    let (_, _) = (clients_story(&mut sqlite), clients_story(&mut postgres));
    drop(sqlite);
    let reader = pult::store::Reader::open(&dir.path().join("pult.db"), "anna").unwrap();
    let clock = pult::clock::Clock::fixed(NOW, common::moscow());
    let today = jiff::civil::date(2026, 11, 20);
    let mut c = pg.connect();
    for q in ["note:позвонил", "note:четверг", "from:boris", "note:клиент"] {
        let sqlite: BTreeSet<i64> = reader.search(q, 100, &clock).unwrap().iter().filter_map(|h| h.note).collect();
        let tsq = tsearch::with_words(|w| tsearch::text_query(w, &pult::search::query::parse(q, today).unwrap(), true))
            .flatten()
            .unwrap();
        let postgres: BTreeSet<i64> = c
            .query("SELECT note_id FROM notes_search WHERE terms @@ CAST($1::text AS tsquery)", &[&tsq])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(!sqlite.is_empty(), "{q}");
        assert_eq!(sqlite, postgres, "{q}");
    }
    // After the merge, the edits and the split: `client:` by the names as they are now.
    for q in ["client:иванова", "client:ромашка", "client:бухгалтерия"] {
        let sqlite: BTreeSet<i64> = reader.search(q, 100, &clock).unwrap().iter().map(|h| h.conversation).collect();
        let words = q.trim_start_matches("client:");
        let tsq = tsearch::with_words(|w| {
            tsearch::query(
                w,
                pult::search::query::Field::Anywhere,
                &pult::search::query::Text::Word(words.into()),
                false,
            )
        })
        .unwrap();
        let postgres: BTreeSet<i64> = c
            .query("SELECT conversation_id FROM clients_search WHERE terms @@ CAST($1::text AS tsquery)", &[&tsq])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(sqlite, postgres, "{q}");
    }
}

/// A PostgreSQL address where a store is opened is a database, not a file
/// named like it; a server that does not answer is named, in the UI's
/// language, with its own words.
#[test]
fn a_postgres_address_is_opened_as_a_database_and_a_dead_server_is_named() {
    let home = tempfile::tempdir().unwrap();
    let out = common::pult(home.path())
        .current_dir(home.path())
        .args(["--store", "postgres://pult@127.0.0.1:1/pult", "status"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("postgres://pult@127.0.0.1:1/pult") && err.contains("onnect"), "{err}");
    assert!(!home.path().join("postgres:").exists(), "no SQLite file at a path made of the address");

    let config = home.path().join("config/pult/config.toml");
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[store]\nurl = \"postgres://pult@127.0.0.1:1/pult\"\n").unwrap();
    let out = common::pult(home.path()).env("LANG", "ru_RU.UTF-8").args(["status"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Не удаётся подключиться к postgres://pult@127.0.0.1:1/pult"), "{err}");

    std::fs::write(&config, "[store]\nurl = \"postgres://pult@127.0.0.1:1/pult\"\npath = \"/tmp/x.db\"\n").unwrap();
    let out = common::pult(home.path()).args(["status"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("keep one"), "{err}");
}

/// The writer thread runs on a PostgreSQL store: what is on the seam works
/// through it as on SQLite, and what is not yet says so instead of failing
/// in some other way.
#[test]
fn the_writer_thread_runs_the_rules_on_postgresql() {
    let pg = PgDb::new();
    let writer = pult::store::Writer::spawn_postgres(&pg.target).unwrap();
    let (conv, question) = writer.call_blocking(|db| Ok(chat_with_a_question(db))).unwrap();
    let r = reply(conv, question, "Принято в работу");
    let (task, outbox) =
        writer.call_blocking(move |db| ledger::accept(db, &r, Some(question), NOW + 3600, NOW)).unwrap();
    assert!(task > 0 && outbox > 0);
    let note = writer.call_blocking(move |db| pult::store::team::add_note(db, conv, "anna", "Срочно", NOW)).unwrap();
    assert!(note > 0);
    let seq = writer.call_blocking(|db| pult::store::writer::last_change_seq(db)).unwrap();
    assert_eq!(seq, 3, "a change for the reply, the promise and the note");
    // Ingest runs there too; SQL as it is (tests' and repairs' own) is SQLite's: a plain refusal, in words.
    let ch = writer
        .call_blocking(|db| pult::store::ingest::ensure_channel(db, "mail", pult::model::ChannelKind::Email, NOW))
        .unwrap();
    assert!(ch > 0);
    let e = writer.call_blocking(|db| db.run_sql("SELECT 1")).unwrap_err();
    assert!(matches!(e, StoreError::NotOnPostgres), "{e}");
    assert!(e.to_string().contains("PostgreSQL"), "{e}");
    let mut c = pg.connect();
    let state: String = c.query_one("SELECT state FROM outbox WHERE id = $1", &[&outbox]).unwrap().get(0);
    assert_eq!(state, "pending");
}

/// The outbox's own functions run under the lease as they are; after a
/// takeover the old holder can take nothing, the new one takes each row once.
#[test]
fn the_outbox_runs_under_the_lease_and_a_cut_off_sender_takes_nothing() {
    let pg = PgDb::new();
    let mut store = PgStore::open(&pg.target).unwrap();
    let (conv, question) = chat_with_a_question(&mut store);
    let first = intents::queue_reply(&mut store, &reply(conv, question, "Принято"), NOW).unwrap();
    let second = intents::queue_reply(&mut store, &reply(conv, question, "Счёт во вложении"), NOW).unwrap();

    let mut old = Lease::try_take(&pg.target, "host-a", 100).unwrap().unwrap();
    let taken = intents::take_due(&mut old, 1, NOW + 60).unwrap().expect("a due row");
    assert_eq!(taken.id, first);
    let pid = old.backend_pid().unwrap();
    terminate(&pg, pid);
    let stop = AtomicBool::new(false);
    let mut new = Lease::wait_take(&pg.target, "host-b", &stop, || 102).unwrap().unwrap();

    let e = intents::take_due(&mut old, 1, NOW + 60).unwrap_err();
    assert!(matches!(e, StoreError::Postgres(PgError::LeaseLost)), "{e}");
    let e = intents::mark_sent(&mut old, first, "remote-1", NOW + 61).unwrap_err();
    assert!(matches!(e, StoreError::Postgres(PgError::LeaseLost)), "{e}");
    // The new holder: the row in flight is "may have been sent", the other goes once.
    let recovered = intents::recover_interrupted(&mut new, NOW + 70).unwrap();
    assert_eq!(recovered.unknown, 1);
    assert_eq!(intents::take_due(&mut new, 1, NOW + 80).unwrap().map(|i| i.id), Some(second));
    assert_eq!(intents::take_due(&mut new, 1, NOW + 80).unwrap(), None, "nothing is taken twice");
    let mut c = pg.connect();
    let states: Vec<String> =
        c.query("SELECT state FROM outbox ORDER BY id", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(states, ["unknown", "sending"]);
}

/// What `pult store migrate` says when it cannot: the reason, in the UI's
/// language, never the password.
#[test]
fn pult_store_migrate_says_why_it_cannot() {
    let home = tempfile::tempdir().unwrap();
    let store = common::demo_store(home.path());
    let run = |lang: &str, from: &str, to: &str| {
        let out = common::pult(home.path())
            .env("LANG", lang)
            .args(["store", "migrate", "--from", from, "--to", to])
            .output()
            .unwrap();
        assert!(!out.status.success(), "{from} -> {to}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let from = format!("sqlite:{}", store.display());
    let err = run("C", "sqlite:/nowhere/pult.db", "postgres://pult@127.0.0.1:1/x");
    assert!(err.contains("--from /nowhere/pult.db: no SQLite store there"), "{err}");
    let err = run("ru_RU.UTF-8", &from, "postgres://pult@127.0.0.1:1/x");
    assert!(
        err.contains("Не удаётся подключиться к postgres://pult@127.0.0.1:1/x") && err.contains("refused"),
        "{err}"
    );
    let err = run("C", &from, "postgres://pult:hunter2@127.0.0.1:1/x");
    assert!(err.contains("a password in the address is refused") && !err.contains("hunter2"), "{err}");
    let err = run("C", &from, "host=db password=hunter2");
    assert!(err.contains("a PostgreSQL address is needed") && !err.contains("hunter2"), "{err}");
}

/// A new email (not a reply) makes its client, its thread and its outbox row
/// the same way on both engines.
fn new_email_story(db: &mut impl Transact) -> Vec<String> {
    use pult::store::intents::NewEmail;
    db.write(|c| {
        c.insert("INSERT INTO channels (name, kind, created_at) VALUES ('office', 'email', 1) RETURNING id", &[])
    })
    .unwrap();
    let mail = |to: &str| NewEmail {
        channel: 1,
        from_address: "anna@firm.ru".into(),
        to: vec![to.into()],
        subject: "Акт сверки за ноябрь".into(),
        body: "Добрый день! Направляем акт сверки.".into(),
        attachments: Vec::new(),
        actor: "anna".into(),
        not_before: NOW + 10,
    };
    intents::new_email(db, &mail("Ирина Соколова <irina@romashka.ru>"), NOW).unwrap();
    intents::new_email(db, &mail("irina@romashka.ru"), NOW + 1).unwrap();
    let no_subject = NewEmail { subject: "  ".into(), ..mail("x@y.ru") };
    assert!(matches!(intents::new_email(db, &no_subject, NOW).unwrap_err(), StoreError::Refused(Refused::NoSubject)));
    db.write(|c| {
        let mut out = c.all("SELECT name, provisional FROM contacts ORDER BY id", &[], |r| {
            Ok(format!("contact {} {}", r.get::<String>(0)?, r.get::<i64>(1)?))
        })?;
        out.extend(c.all("SELECT kind, handle, display_name, contact_id FROM identities ORDER BY id", &[], |r| {
            Ok(format!(
                "identity {} {} {:?} {}",
                r.get::<String>(0)?,
                r.get::<String>(1)?,
                r.get::<Option<String>>(2)?,
                r.get::<i64>(3)?
            ))
        })?);
        out.extend(c.all("SELECT title, contact_id, assignee FROM conversations ORDER BY id", &[], |r| {
            Ok(format!(
                "conversation {} {:?} {:?}",
                r.get::<String>(0)?,
                r.get::<Option<i64>>(1)?,
                r.get::<Option<String>>(2)?
            ))
        })?);
        out.extend(c.all(
            "SELECT state, subject, to_addresses, rfc_message_id LIKE '<pult.new.%@firm.ru>' FROM outbox ORDER BY id",
            &[],
            |r| {
                Ok(format!(
                    "outbox {} {:?} {:?} {}",
                    r.get::<String>(0)?,
                    r.get::<Option<String>>(1)?,
                    r.get::<Option<String>>(2)?,
                    r.get::<bool>(3)?
                ))
            },
        )?);
        out.extend(c.all("SELECT action, detail FROM audit ORDER BY id", &[], |r| {
            Ok(format!("audit {} {}", r.get::<String>(0)?, r.get::<String>(1)?))
        })?);
        Ok(out)
    })
    .unwrap()
}

#[test]
fn a_new_email_makes_its_client_and_thread_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, pg, mut postgres) = new_on_both_engines();
    let on_sqlite = new_email_story(&mut sqlite);
    assert!(on_sqlite.contains(&"contact Ирина Соколова 1".to_string()), "{on_sqlite:#?}");
    assert_eq!(on_sqlite.iter().filter(|l| l.starts_with("outbox pending")).count(), 2, "{on_sqlite:#?}");
    assert_eq!(on_sqlite, new_email_story(&mut postgres));
    let mut c = pg.connect();
    let found: i64 = c
        .query_one("SELECT count(*) FROM clients_search WHERE terms @@ CAST($1::text AS tsquery)", &[&"'соколов'"])
        .unwrap()
        .get(0);
    assert_eq!(found, 2, "client: finds both threads by the client's name");
}

#[path = "postgres/readers.rs"]
mod readers;
