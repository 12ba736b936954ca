//! The store on disk: migrations, idempotent ingest, full-text search, paging,
//! the change watcher across connections, and the outbox state machine.

mod common;

use common::*;
use pult::model::{ChannelKind, ListKey, View, Window};
use pult::store::{Reader, intents, schema, watch::Watcher};
use std::collections::HashSet;
use std::os::unix::fs::PermissionsExt;

#[test]
fn new_store_is_private_and_current() {
    let s = temp_store();
    let mode = std::fs::metadata(&s.path).expect("stat").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(v, schema::VERSION);
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("journal");
    assert_eq!(mode, "wal");
    for table in [
        "channels",
        "contacts",
        "identities",
        "conversations",
        "messages",
        "attachments",
        "tasks",
        "notes",
        "assignments",
        "claims",
        "read_marks",
        "outbox",
        "sync_state",
        "changes",
        "audit",
        "accounts",
    ] {
        let n: i64 = conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1", [table], |r| r.get(0))
            .expect("schema");
        assert_eq!(n, 1, "table {table} missing");
    }
}

#[test]
fn migrates_a_store_from_an_old_version_keeping_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = old_store(&path, 1);
        conn.run_sql("INSERT INTO channels (name, kind, created_at) VALUES ('old', 'telegram', 1)").expect("row");
    }
    let s = pult::store::Writer::spawn(&path).expect("migrating open");
    drop(s);
    let conn = rusqlite::Connection::open(&path).expect("open");
    let v: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(v, schema::VERSION);
    let name: String = conn.query_row("SELECT name FROM channels", [], |r| r.get(0)).expect("kept");
    assert_eq!(name, "old");
    conn.query_row("SELECT transcript FROM messages LIMIT 1", [], |_| Ok(())).ok(); // column exists (query compiles)
    conn.prepare("SELECT transcript FROM messages").expect("v2 column present");
}

/// Sizes a channel did not give are NULL: an old store's u32::MAX (teloxide's
/// stand-in for a missing `file_size`) becomes NULL, the rest and the search
/// index stay; a negative size from a channel is stored as NULL.
#[test]
fn unknown_attachment_sizes_are_null() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = old_store(&path, 23);
        conn.run_sql(
            "INSERT INTO channels (id, name, kind, created_at) VALUES (1, 'bot', 'telegram', 1);
             INSERT INTO conversations (id, channel_id, remote_key, title, created_at) VALUES (1, 1, 'k', 't', 1);
             INSERT INTO messages (id, conversation_id, channel_id, remote_id, direction, author, sent_at, body)
               VALUES (1, 1, 1, 'a', 'in', 'Ирина', 100, 'голосовое'), (2, 1, 1, 'b', 'in', 'Ирина', 100, 'файл');
             INSERT INTO attachments (message_id, ordinal, name, mime, size)
               VALUES (1, 0, 'voice.ogg', 'audio/ogg', 4294967295), (2, 0, 'накладная.pdf', 'application/pdf', 96512);",
        )
        .expect("old rows");
    }
    let s = pult::store::Writer::spawn(&path).expect("migrating open");
    let ch =
        s.call_blocking(|c| pult::store::ingest::ensure_channel(c, "bot", ChannelKind::Telegram, NOW)).expect("ch");
    let mut m = msg("c", "k", "Ирина", 200, "ещё файл");
    m.attachments = vec![pult::model::InboundAttachment {
        name: "scan.pdf".into(),
        mime: "application/pdf".into(),
        size: -1,
        remote_ref: Some("f".into()),
        duration: None,
    }];
    s.call_blocking(move |c| pult::store::ingest::apply(c, ch, &[m], &[], NOW)).expect("ingest");
    let conn = rusqlite::Connection::open(&path).expect("open");
    let sizes: Vec<(String, Option<i64>)> = conn
        .prepare("SELECT name, size FROM attachments ORDER BY id")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("sizes");
    assert_eq!(sizes, [("voice.ogg".into(), None), ("накладная.pdf".into(), Some(96512)), ("scan.pdf".into(), None)]);
    let r = Reader::open(&path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    assert_eq!(r.search("name:накладная", 10, &clock).expect("search").len(), 1, "the file names are still found");
    assert_eq!(r.search("name:scan", 10, &clock).expect("search").len(), 1);
}

#[test]
fn refuses_a_store_from_the_future() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("new.db");
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.pragma_update(None, "user_version", 999).expect("set");
    drop(conn);
    let err = pult::store::open_writer(&path).err().expect("must refuse");
    assert!(err.to_string().contains("newer"), "{err}");
}

#[test]
fn replaying_a_batch_changes_nothing() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let batch = vec![
        msg("1", "chat-1", "Ирина", NOW - 300, "Пришлите акт сверки"),
        msg("2", "chat-1", "Ирина", NOW - 200, "И счёт на 45 000 ₽"),
        msg("3", "chat-2", "Олег", NOW - 100, "Документы в ЭДО подписал"),
    ];
    let first = ingest(&s, ch, batch.clone());
    assert_eq!(first.inserted, 3);
    let dump = || {
        let conn = rusqlite::Connection::open(&s.path).expect("open");
        let mut st =
            conn.prepare("SELECT id, conversation_id, remote_id, body FROM messages ORDER BY id").expect("prepare");
        let rows: Vec<(i64, i64, String, String)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("q")
            .map(|r| r.expect("row"))
            .collect();
        let convs: Vec<(i64, i64, Option<i64>)> = conn
            .prepare("SELECT id, last_message_at, waiting_since FROM conversations ORDER BY id")
            .expect("prepare")
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("q")
            .map(|r| r.expect("row"))
            .collect();
        let contacts: i64 = conn.query_row("SELECT count(*) FROM contacts", [], |r| r.get(0)).expect("count");
        (rows, convs, contacts)
    };
    let before = dump();
    let again = ingest(&s, ch, batch);
    assert_eq!(again.inserted, 0);
    assert_eq!(again.duplicates, 3);
    assert_eq!(dump(), before);
    assert_eq!(before.2, 2, "one contact per sender");
}

#[test]
fn out_of_order_arrival_still_gives_the_right_waiting_state() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let mut reply = msg("2", "chat", "Анна", NOW - 100, "Принято в работу");
    reply.outgoing = true;
    // Newest first, as an initial sync delivers them.
    ingest(&s, ch, vec![msg("3", "chat", "Ирина", NOW - 50, "Спасибо, а когда?")]);
    ingest(&s, ch, vec![reply]);
    ingest(&s, ch, vec![msg("1", "chat", "Ирина", NOW - 300, "Счёт, пожалуйста")]);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let rows = r.conversations(View::Unanswered, Window::Top, 10).expect("list");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].waiting_since, Some(NOW - 50), "waits since the message after our reply");
    assert_eq!(rows[0].preview, "Спасибо, а когда?");
}

/// A signed thanks («Спасибо, получили!» under «--», «С уважением, …» or a
/// name line) after a conversation was closed leaves it closed; a signed
/// request opens it.
#[test]
fn a_signed_thanks_does_not_reopen_a_closed_conversation() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let conv = ingest(&s, ch, vec![msg("1", "chat", "Кира", NOW - 900, "Пришлите акт")]).conversations[0];
    let status = || {
        let conn = rusqlite::Connection::open(&s.path).expect("open");
        conn.query_row("SELECT status FROM conversations WHERE id = ?1", [conv], |r| r.get::<_, String>(0))
            .expect("status")
    };
    let close = || s.writer.call_blocking(move |c| intents::set_status(c, "anna", conv, false, NOW)).expect("close");
    let thanks = [
        "Спасибо, получили!\n--\nКира Белова",
        "Спасибо, получили!\n-- \nКира Белова\n+7 900 000-00-00",
        "Спасибо, получили!\n\nС уважением,\nКира Белова",
        "Спасибо, получили!\n\nКира Белова",
    ];
    for (i, body) in thanks.iter().enumerate() {
        close();
        ingest(&s, ch, vec![msg(&format!("t{i}"), "chat", "Кира", NOW - 800 + i as i64, body)]);
        assert_eq!(status(), "closed", "{body:?} reopened it");
    }
    ingest(&s, ch, vec![msg("ask", "chat", "Кира", NOW - 10, "Спасибо! А счёт?\n--\nКира Белова")]);
    assert_eq!(status(), "open");
}

#[test]
fn full_text_search_folds_case_and_yo_and_takes_prefixes_and_phrases() {
    let s = temp_store();
    let ch = channel(&s, "mail", ChannelKind::Email);
    let mut m1 = msg("<1@x>", "t1", "Ирина Соколова", NOW - 300, "Пришлите АКТ СВЕРКИ за третий квартал");
    m1.subject = Some("Акт сверки".into());
    let m2 = msg("<2@x>", "t2", "Олег", NOW - 200, "Оплатите счёт поставщику до пятницы");
    let m3 = msg("<3@x>", "t3", "Café Owner", NOW - 100, "Résumé attached, invoice follows");
    ingest(&s, ch, vec![m1, m2, m3]);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    let find = |q: &str| -> Vec<String> { r.search(q, 10, &clock).expect(q).into_iter().map(|h| h.from).collect() };
    assert_eq!(find("акт сверки"), vec!["Ирина Соколова"]);
    assert_eq!(find("\"акт сверки\""), vec!["Ирина Соколова"]);
    assert_eq!(find("\"сверки акт\""), Vec::<String>::new(), "phrase order matters");
    assert_eq!(find("СЧЕТ"), vec!["Олег"], "ё and е, upper and lower case");
    assert_eq!(find("счёт"), vec!["Олег"]);
    assert_eq!(find("постав*"), vec!["Олег"]);
    assert_eq!(find("resume"), vec!["Café Owner"], "Latin diacritics fold");
    assert_eq!(find("соколова"), vec!["Ирина Соколова"], "author names are indexed");
    assert!(find("AND NOT ( *").is_empty(), "FTS5 operators typed by a person are not syntax");
    let err = r.search("AND OR \" ( *", 10, &clock).expect_err("an unbalanced quote is an error");
    assert!(err.to_string().contains("unbalanced quote"), "{err}");
    let hit = &r.search("сверки", 1, &clock).expect("hit")[0];
    assert_eq!(hit.channel, "mail");
    assert_eq!(hit.kind, ChannelKind::Email);
    assert_eq!(hit.hit, pult::model::HitKind::Message);
    assert_eq!(hit.subject.as_deref(), Some("Акт сверки"));
    assert!(hit.date.starts_with("2026-11-20T"), "{}", hit.date);
    assert!(hit.snippet.contains("СВЕРКИ"), "{}", hit.snippet);
}

#[test]
fn terms_prepared_by_the_worker_index_a_batch_as_the_writer_would() {
    let batch = || {
        let mut m1 =
            msg("<1@x>", "t1", "Ирина Соколова", NOW - 300, "Пришлите АКТ СВЕРКИ за 18 300 рублей\n\n> Старая цитата");
        m1.subject = Some("Акт сверки за квартал".into());
        let m2 = msg("<2@x>", "t2", "Олег", NOW - 200, "Оплатите счёт поставщику до пятницы");
        let m3 = msg("<3@x>", "t3", "Café Owner", NOW - 100, "Résumé attached, invoice follows");
        // Its body changes after the worker read it: its terms are the row's.
        let mut m4 = msg("<4@x>", "t4", "Кира", NOW - 50, "Первоначальный текст");
        pult::store::prepared::prepare_all([&mut m4]);
        m4.body_text = "Исправленный договор аренды".into();
        vec![m1, m2, m3, m4]
    };
    let (plain, prepared) = (temp_store(), temp_store());
    let before = pult::store::prepared::replayed();
    for (s, prepare) in [(&plain, false), (&prepared, true)] {
        let ch = channel(s, "mail", ChannelKind::Email);
        let mut msgs = batch();
        if prepare {
            pult::store::prepared::prepare_all(msgs.iter_mut().take(3));
        }
        ingest(s, ch, msgs);
    }
    // Three bodies and one subject came prepared (m4's no longer matched).
    assert!(pult::store::prepared::replayed() >= before + 4, "the writer split every text itself");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    let queries = [
        "акт сверки",
        "\"акт сверки\"",
        "квартал",
        "18300",
        "счета",
        "постав*",
        "resume",
        "invoice",
        "договор",
        "первоначальный",
        "цитата",
        "соколова",
    ];
    let found = |s: &TempStore| -> Vec<Vec<String>> {
        let r = Reader::open(&s.path, "anna").expect("reader");
        queries.iter().map(|q| r.search(q, 10, &clock).expect(q).into_iter().map(|h| h.from).collect()).collect()
    };
    let (expected, got) = (found(&plain), found(&prepared));
    assert_eq!(got, expected);
    assert_eq!(got[3], vec!["Ирина Соколова"], "a number in groups is found joined");
    assert_eq!(got[8], vec!["Кира"], "the changed body is found by its words");
    assert!(got[9].is_empty() && got[10].is_empty(), "neither the old body nor the quote is found: {got:?}");
}

#[test]
fn the_sidebar_counts_its_views_from_indexes_alone() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    ingest(&s, ch, (0..5).map(|i| msg(&format!("m{i}"), &format!("c{i}"), "X", NOW - i * 60, "hi")).collect());
    let r = Reader::open(&s.path, "anna").expect("reader");
    // The views a first frame counts over every open conversation: each row
    // read from the table made the first frame grow with the store.
    for view in [View::AllOpen, View::Unanswered, View::Mine, View::Unassigned, View::Lists] {
        let plan = r.count_plan(view).expect("plan");
        let on_conversations: Vec<&String> = plan.iter().filter(|p| p.contains(" c ")).collect();
        assert!(!on_conversations.is_empty(), "{view:?}: {plan:#?}");
        assert!(on_conversations.iter().all(|p| p.contains("COVERING INDEX")), "{view:?} reads rows: {plan:#?}");
    }
    // The same counts as the views list.
    let raw = rusqlite::Connection::open(&s.path).expect("open");
    raw.execute("UPDATE conversations SET automatic = 1 WHERE id % 2 = 1", []).expect("lists");
    for view in [View::AllOpen, View::Unanswered, View::Lists] {
        let listed = r.conversations(view, Window::Top, 100).expect("list").len() as i64;
        assert_eq!(r.count(view).expect("count"), listed, "{view:?}");
    }
    assert_eq!(r.count(View::Lists).expect("count"), 3);
    // A screen's counts stop one past their cap (shown "N+"); the plans stay on indexes.
    let mut capped = Reader::open(&s.path, "anna").expect("reader");
    capped.cap_counts(2);
    assert_eq!(capped.count(View::AllOpen).expect("count"), 3);
    assert_eq!(capped.count(View::Lists).expect("count"), 3);
    assert_eq!(capped.channels().expect("channels")[0].unread, 3);
    assert_eq!(r.channels().expect("channels")[0].unread, 5, "uncapped: the command line's counts");
    let plan = capped.count_plan(View::AllOpen).expect("plan");
    assert!(plan.iter().filter(|p| p.contains(" c ")).all(|p| p.contains("COVERING INDEX")), "{plan:#?}");
}

#[test]
fn keyset_pages_cover_every_conversation_once() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    // Several conversations share a timestamp: the id breaks ties.
    let batch: Vec<_> =
        (0..57).map(|i| msg(&format!("m{i}"), &format!("c{i}"), "X", NOW - (i / 3) * 60, "hi")).collect();
    ingest(&s, ch, batch);
    let r = Reader::open(&s.path, "anna").expect("reader");
    for view in [View::AllOpen, View::Unanswered, View::Channel(ch)] {
        let mut seen = Vec::new();
        let mut from: Option<ListKey> = None;
        loop {
            let page = r.conversations(view, from.map_or(Window::Top, Window::After), 10).expect("page");
            if page.is_empty() {
                break;
            }
            from = page.last().map(|c| c.key(view));
            seen.extend(page.into_iter().map(|c| c.id));
        }
        let unique: HashSet<_> = seen.iter().collect();
        assert_eq!(seen.len(), 57, "{view:?}");
        assert_eq!(unique.len(), 57, "{view:?}");
        // Walking back from the end gives the same order reversed.
        let last_page = r.conversations(view, Window::Bottom, 10).expect("tail");
        assert_eq!(last_page.iter().map(|c| c.id).collect::<Vec<_>>(), seen[47..].to_vec(), "{view:?}");
    }
}

#[test]
fn a_watcher_sees_commits_from_another_connection() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let mut w = Watcher::open(&s.path).expect("watcher");
    assert!(w.poll().expect("poll").is_empty(), "nothing happened yet");
    // A second, independent connection writes (as another process would).
    let other = pult::store::Writer::spawn(&s.path).expect("second writer");
    other
        .call_blocking(move |c| {
            pult::store::ingest::apply(c, ch, &[msg("1", "chat", "Ирина", NOW, "Привет")], &[], NOW)
        })
        .expect("ingest");
    let changes = w.poll().expect("poll");
    assert!(!changes.is_empty());
    assert!(changes.iter().any(|c| c.kind == pult::model::ChangeKind::Messages && c.conversation_id.is_some()));
    assert!(w.poll().expect("poll").is_empty(), "reported once");
}

#[test]
fn outbox_moves_from_pending_to_sent_and_clears_waiting() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let rep = ingest(&s, ch, vec![msg("1", "chat", "Ирина", NOW - 600, "Счёт, пожалуйста")]);
    let conv = rep.conversations[0];
    let r = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(r.count(View::Unanswered).expect("count"), 1);
    let reply = intents::Reply {
        conversation_id: conv,
        reply_to_message_id: None,
        subject: None,
        body: "Принято в работу".into(),
        actor: "anna".into(),
        not_before: NOW,
        auto: false,
        attachments: Vec::new(),
    };
    let id = s.writer.call_blocking(move |c| intents::queue_reply(c, &reply, NOW)).expect("queue");
    assert_eq!(r.count(View::Unanswered).expect("count"), 0, "a queued reply answers");
    let thread = r.thread(conv, 10).expect("thread");
    assert_eq!(thread.last().map(|m| m.delivery), Some(pult::model::Delivery::Pending));
    let item = s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").expect("due");
    assert_eq!(item.id, id);
    assert!(s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").is_none(), "taken once");
    s.writer.call_blocking(move |c| intents::mark_sent(c, id, "tg:555", NOW)).expect("sent");
    let thread = r.thread(conv, 10).expect("thread");
    assert_eq!(thread.last().map(|m| m.delivery), Some(pult::model::Delivery::Sent));
    // The remote id now belongs to that message: the same message coming back is a duplicate.
    let mut echo = msg("tg:555", "chat", "Анна", NOW, "Принято в работу");
    echo.outgoing = true;
    assert_eq!(ingest(&s, ch, vec![echo]).duplicates, 1);
    // Audit keeps the send and cannot be rewritten.
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let n: i64 = conn.query_row("SELECT count(*) FROM audit WHERE action = 'send'", [], |r| r.get(0)).expect("audit");
    assert_eq!(n, 1);
    assert!(conn.execute("DELETE FROM audit", []).is_err(), "audit is append-only");
}

#[test]
fn a_failed_send_leaves_the_client_waiting_with_the_reason() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let conv = ingest(&s, ch, vec![msg("1", "chat", "Ирина", NOW - 600, "?")]).conversations[0];
    let id = queue_reply(&s, conv, "ответ");
    s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take");
    s.writer
        .call_blocking(move |c| intents::mark_failed(c, id, "Forbidden: bot was blocked by the user", NOW))
        .expect("fail");
    let r = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(r.count(View::Unanswered).expect("count"), 1);
    let last = r.thread(conv, 10).expect("thread").pop().expect("message");
    assert_eq!(last.delivery, pult::model::Delivery::Failed);
    assert!(last.error.as_deref().unwrap_or("").contains("blocked"));
}

#[test]
fn an_interrupted_send_is_unknown_never_resent_until_a_person_says_so() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let conv = ingest(&s, ch, vec![msg("1", "chat", "Ирина", NOW - 600, "?")]).conversations[0];
    let id = queue_reply(&s, conv, "ответ");
    s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").expect("item");
    // The process dies here, before the server's answer: maybe sent, maybe not.
    let r = s.writer.call_blocking(move |c| intents::recover_interrupted(c, NOW)).expect("recover");
    assert_eq!((r.unknown, r.handed_over), (1, 0));
    assert!(s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").is_none(), "never resent");
    let reader = pult::store::Reader::open(&s.path, "anna").expect("reader");
    let last = reader.thread(conv, 10).expect("thread").pop().expect("message");
    assert_eq!(last.delivery, pult::model::Delivery::Unknown);
    assert_eq!(reader.status().expect("status").unknown, 1);
    assert_eq!(reader.count(View::Unanswered).expect("count"), 1, "the client still counts as waiting");
    // A person checks and retries: one new attempt.
    s.writer.call_blocking(move |c| intents::resolve(c, id, true, "anna", NOW)).expect("retry");
    assert!(s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").is_some());
    // Only failed or unknown rows can be resolved.
    assert!(s.writer.call_blocking(move |c| intents::resolve(c, id, false, "anna", NOW)).is_err());
}

#[test]
fn a_forward_found_in_sent_is_not_an_answer_but_a_reply_is() {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let mut question = msg("<q@x>", "<q@x>", "Ирина", NOW - 600, "Пришлите акт");
    question.subject = Some("Акт".into());
    let mut forward = msg("<f@x>", "<q@x>", "Анна", NOW - 300, "Коллеги, посмотрите");
    forward.subject = Some("Fwd: Акт".into());
    forward.outgoing = true;
    ingest(&s, ch, vec![question, forward]);
    let waiting = |s: &TempStore| -> Option<i64> {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT waiting_since FROM conversations WHERE remote_key = '<q@x>'", [], |r| r.get(0))
            .expect("row")
    };
    assert_eq!(waiting(&s), Some(NOW - 600), "the client still waits");
    let mut reply = msg("<r@x>", "<q@x>", "Анна", NOW - 100, "Акт во вложении");
    reply.subject = Some("Re: Акт".into());
    reply.outgoing = true;
    ingest(&s, ch, vec![reply]);
    assert_eq!(waiting(&s), None, "a reply answers");
}

/// A store from before mails were keyed by their IMAP place: Message-ID keys
/// become (folder, UIDVALIDITY, UID) keys; read marks, promises and notes stay;
/// the old Message-IDs still thread new replies into their conversations.
#[test]
fn email_keys_migrate_from_message_id_to_imap_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("v9.db");
    {
        let conn = old_store(&path, 9);
        conn.run_sql(
            "INSERT INTO channels (id, name, kind, created_at) VALUES (1, 'office', 'email', 1);
             INSERT INTO sync_state VALUES (1, 'INBOX.uidvalidity', '777');
             INSERT INTO conversations (id, channel_id, remote_key, title, created_at) VALUES (1, 1, '<root@x>', 'Акт', 1);
             INSERT INTO messages (id, conversation_id, channel_id, remote_id, direction, sent_at, body, imap_folder, imap_uid)
                 VALUES (1, 1, 1, '<root@x>', 'in', 100, 'Пришлите акт', 'INBOX', 5);
             INSERT INTO read_marks VALUES ('anna', 1, 1);
             INSERT INTO tasks (conversation_id, state, deadline, created_at) VALUES (1, 'accepted', 999, 1);
             INSERT INTO notes (conversation_id, actor, body, created_at) VALUES (1, 'anna', 'позвонить', 1);",
        )
        .expect("v9 rows");
    }
    let s = pult::store::Writer::spawn(&path).expect("migrating open");
    let conn = rusqlite::Connection::open(&path).expect("open");
    let (remote, rfc, validity): (String, String, i64) = conn
        .query_row("SELECT remote_id, rfc_message_id, imap_validity FROM messages WHERE id = 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("row");
    assert_eq!((remote.as_str(), rfc.as_str(), validity), ("imap:777:5:INBOX", "<root@x>", 777));
    let kept: (i64, i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(*) FROM read_marks), (SELECT count(*) FROM tasks), (SELECT count(*) FROM notes)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("counts");
    assert_eq!(kept, (1, 1, 1));
    // A reply that names only the old mail's Message-ID joins its conversation.
    let reply = pult::model::Inbound {
        remote_id: "imap:777:6:INBOX".into(),
        conversation_key: "<root@x>".into(),
        conversation_title: "Re: Акт".into(),
        author_handle: "c@x".into(),
        author_name: "Client".into(),
        sent_at: 200,
        body_text: "Вот акт".into(),
        message_id: Some("<reply@x>".into()),
        thread_refs: vec!["<root@x>".into()],
        reply_to_remote: Some("<root@x>".into()),
        imap: Some(pult::model::ImapPlace { folder: "INBOX".into(), validity: 777, uid: 6, ..Default::default() }),
        ..Default::default()
    };
    s.call_blocking(move |c| pult::store::ingest::apply(c, 1, &[reply], &[], 300)).expect("ingest");
    let (conv, parent): (i64, i64) = conn
        .query_row(
            "SELECT conversation_id, reply_to_message_id FROM messages WHERE rfc_message_id = '<reply@x>'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("reply");
    assert_eq!((conv, parent), (1, 1));
}

/// A promise follows the message that made it: withdrawn when it fails, back
/// (never twice) on a retry, and «Выполнено» is not reported twice.
#[test]
fn a_promise_follows_its_message() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let conv = ingest(&s, ch, vec![msg("1", "chat", "Ирина", NOW - 600, "Пришлите акт")]).conversations[0];
    let reply = |body: &str| reply(conv, body);
    let accept = reply("Принято в работу. Срок — пт 27.11 18:00.");
    let (task, outbox) = s
        .writer
        .call_blocking(move |c| pult::store::ledger::accept(c, &accept, None, NOW + 86_400, NOW))
        .expect("accept");
    let state = |t: i64| -> (String, Option<String>) {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT state, withdrawn FROM tasks WHERE id = ?1", [t], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("task")
    };
    assert_eq!(state(task).0, "accepted");
    s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take");
    s.writer.call_blocking(move |c| intents::mark_failed(c, outbox, "535 authentication failed", NOW)).expect("fail");
    assert_eq!(
        state(task),
        ("cancelled".into(), Some("535 authentication failed".into())),
        "withdrawn with the reason"
    );
    let reader = pult::store::Reader::open(&s.path, "anna").expect("reader");
    let shown = reader.tasks(conv).expect("tasks");
    assert_eq!(shown.len(), 1);
    assert!(shown[0].withdrawn.is_some(), "shown as withdrawn");
    // Retry: the same promise comes back; no second one. Until sent, it says so.
    s.writer.call_blocking(move |c| intents::resolve(c, outbox, true, "anna", NOW)).expect("retry");
    assert_eq!(state(task), ("accepted".into(), None));
    assert!(reader.tasks(conv).expect("tasks")[0].unsent, "not yet told to the client");
    s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take");
    s.writer.call_blocking(move |c| intents::mark_sent(c, outbox, "42", NOW)).expect("sent");
    assert!(!reader.tasks(conv).expect("tasks")[0].unsent);
    let n: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT count(*) FROM tasks WHERE conversation_id = ?1", [conv], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
    // Done once closes it; a second «Выполнено» for the same promise is refused.
    let done = reply("Выполнено.");
    let (done_outbox, _) =
        s.writer.call_blocking(move |c| pult::store::ledger::done(c, &done, NOW + 60)).expect("done");
    assert_eq!(state(task).0, "done");
    // The «Выполнено» fails: the promise is open again; sent again, it is done again.
    s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW + 60)).expect("take");
    s.writer
        .call_blocking(move |c| intents::mark_failed(c, done_outbox, "403 bot was blocked", NOW + 60))
        .expect("fail");
    assert_eq!(state(task).0, "accepted", "the client was not told it is done");
    s.writer.call_blocking(move |c| intents::resolve(c, done_outbox, true, "anna", NOW + 61)).expect("retry");
    assert_eq!(state(task).0, "done");
    let again = reply("Выполнено.");
    let err = s.writer.call_blocking(move |c| pult::store::ledger::done(c, &again, NOW + 120)).expect_err("twice");
    assert!(err.to_string().contains("already reported done"), "{err}");
}

/// Every kind of sync event in one batch; the same batch again changes nothing.
#[test]
fn a_batch_of_events_applies_once_and_a_replay_changes_nothing() {
    use pult::model::{ChannelStatus, Delivery, FlagChange, Gone, SyncEvent};
    use pult::store::events;
    let s = temp_store();
    let ch = channel(&s, "wa", ChannelKind::Whatsapp);
    let conv = ingest(&s, ch, vec![msg("in-1", "79161234567", "Марина", NOW - 600, "Пришлите счёт")]).conversations[0];
    let out = queue_reply(&s, conv, "Принято в работу");
    s.writer.call_blocking(move |c| pult::store::intents::mark_sent(c, out, "wamid.OUT1", NOW)).expect("sent");
    let batch = vec![
        SyncEvent::Message(msg("in-2", "79161234567", "Марина", NOW - 60, "И акт")),
        SyncEvent::Delivery { remote_id: "wamid.OUT1".into(), state: Delivery::Read, error: None },
        // Reports come out of order: `delivered` after `read` stays `read`.
        SyncEvent::Delivery { remote_id: "wamid.OUT1".into(), state: Delivery::Delivered, error: None },
        SyncEvent::Deleted { remote_id: "in-1".into() },
        SyncEvent::Delivery { remote_id: "wamid.NEVER".into(), state: Delivery::Read, error: None },
        SyncEvent::Mailbox {
            folder: "INBOX".into(),
            changed: vec![FlagChange { uid: 1, seen: true, answered: false }],
            gone: Gone::Nothing,
            highest_modseq: Some(7),
        },
        SyncEvent::Cursor { key: "since".into(), value: "42".into() },
        SyncEvent::Status(ChannelStatus::Ok { at: Some(NOW) }),
    ];
    let apply =
        |batch: Vec<SyncEvent>| s.writer.call_blocking(move |c| events::apply(c, ch, &batch, NOW)).expect("apply");
    let first = apply(batch.clone());
    assert_eq!((first.inserted, first.unmatched), (1, 1), "{first:?}");
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let one = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0)).expect(sql);
    assert_eq!(one("SELECT delivery FROM messages WHERE remote_id = 'wamid.OUT1'"), "read");
    assert_eq!(one("SELECT deleted || '' FROM messages WHERE remote_id = 'in-1'"), "1");
    assert_eq!(one("SELECT body FROM messages WHERE remote_id = 'in-1'"), "Пришлите счёт", "kept for the record");
    assert_eq!(one("SELECT value FROM sync_state WHERE key = 'since'"), "42");
    assert_eq!(one("SELECT value FROM sync_state WHERE key = 'INBOX.modseq'"), "7");
    assert!(one("SELECT status FROM channels WHERE name = 'wa'").starts_with('✓'));
    let state = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).expect(sql);
    let before = (state("SELECT max(seq) FROM changes"), state("SELECT count(*) FROM messages"));
    let again = apply(batch);
    assert_eq!((again.inserted, again.duplicates), (0, 1));
    assert_eq!((state("SELECT max(seq) FROM changes"), state("SELECT count(*) FROM messages")), before, "a replay");
    // A failure reported later: the client counts as waiting again.
    apply(vec![SyncEvent::Delivery {
        remote_id: "wamid.OUT1".into(),
        state: Delivery::Failed,
        error: Some("131047: re-engagement message".into()),
    }]);
    assert_eq!(
        one("SELECT delivery || ' ' || error FROM messages WHERE remote_id = 'wamid.OUT1'"),
        "failed 131047: re-engagement message"
    );
    assert!(state(&format!("SELECT waiting_since IS NOT NULL FROM conversations WHERE id = {conv}")) == 1);
    // Reports that overtake their message are kept, and apply when it appears:
    // a receipt before the record of our send, a deletion before the message.
    apply(vec![
        SyncEvent::Delivery { remote_id: "wamid.LATE".into(), state: Delivery::Read, error: None },
        SyncEvent::Deleted { remote_id: "in-9".into() },
    ]);
    let late = queue_reply(&s, conv, "Счёт во вложении");
    s.writer.call_blocking(move |c| pult::store::intents::mark_sent(c, late, "wamid.LATE", NOW)).expect("sent");
    assert_eq!(one("SELECT delivery FROM messages WHERE remote_id = 'wamid.LATE'"), "read");
    ingest(&s, ch, vec![msg("in-9", "79161234567", "Марина", NOW, "Ой, не туда")]);
    assert_eq!(one("SELECT deleted || '' FROM messages WHERE remote_id = 'in-9'"), "1");
    assert_eq!(state("SELECT count(*) FROM pending_reports WHERE remote_id != 'wamid.NEVER'"), 0, "settled");
}

/// Re-identifying mail at a new place never guesses: when two stored mails
/// fit a mail that came back renumbered, it is stored as new and both keep
/// their own rows; a single fit is taken, with its shape, and a row of
/// another sender's address is never taken.
#[test]
fn a_renumbered_mail_that_fits_two_stored_mails_takes_neither() {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let mail = |uid: u32, validity: u32, from: &str, shape: Option<&str>| pult::model::Inbound {
        remote_id: format!("imap:{validity}:{uid}:INBOX"),
        conversation_key: "<dup@x>".into(),
        conversation_title: "Счёт".into(),
        author_handle: from.into(),
        author_name: "Bank".into(),
        sent_at: 100,
        body_text: "Счёт во вложении".into(),
        message_id: Some("<dup@x>".into()),
        mime_shape: shape.map(str::to_string),
        imap: Some(pult::model::ImapPlace {
            folder: "INBOX".into(),
            validity,
            uid,
            renumbered: validity == 2,
            ..Default::default()
        }),
        ..Default::default()
    };
    // Two stored mails alike in everything the match reads (stored before shapes were kept).
    ingest(&s, ch, vec![mail(1, 1, "billing@bank.test", None), mail(2, 1, "billing@bank.test", None)]);
    let r = ingest(&s, ch, vec![mail(7, 2, "billing@bank.test", Some("s1"))]);
    assert_eq!(r.inserted, 1, "a tie is stored as new, not guessed");
    let rows = |sql: &str| -> i64 {
        rusqlite::Connection::open(&s.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
    };
    assert_eq!(rows("SELECT count(*) FROM messages WHERE imap_validity = 1"), 2, "both old rows left alone");
    // Another sender's address is never taken for this one.
    let s2 = temp_store();
    let ch2 = channel(&s2, "office", ChannelKind::Email);
    ingest(&s2, ch2, vec![mail(1, 1, "billing@bank-payments.test", None)]);
    assert_eq!(ingest(&s2, ch2, vec![mail(7, 2, "billing@bank.test", Some("s1"))]).inserted, 1);
    // One fit is the same mail at its new place, and keeps its shape from now on.
    let s3 = temp_store();
    let ch3 = channel(&s3, "office", ChannelKind::Email);
    ingest(&s3, ch3, vec![mail(1, 1, "billing@bank.test", Some("s1")), mail(2, 1, "billing@bank.test", Some("s2"))]);
    assert_eq!(ingest(&s3, ch3, vec![mail(7, 2, "billing@bank.test", Some("s2"))]).inserted, 0);
    let moved: (u32, u32) = rusqlite::Connection::open(&s3.path)
        .expect("open")
        .query_row("SELECT imap_uid, imap_validity FROM messages WHERE mime_shape = 's2'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("row");
    assert_eq!(moved, (7, 2));
}

/// List mail never waits and sits in the Lists view; `:sender client` makes a
/// sender's mail wait after all (remembered for their next mail), `:sender
/// never` the other way round; a history cut-off keeps old mail out of the queue.
#[test]
fn lists_history_and_a_persons_word_on_a_sender() {
    use pult::workflow::automatic::Automatic;
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Telegram);
    let mut news = msg("n1", "news", "Банк", NOW - 600, "Новые тарифы");
    news.automatic = Some(Automatic::List);
    let question = msg("q1", "chat", "Ирина", NOW - 300, "Пришлите акт");
    ingest(&s, ch, vec![news, question]);
    let reader = pult::store::Reader::open(&s.path, "anna").expect("reader");
    let waiting = |r: &pult::store::Reader| r.count(View::Unanswered).expect("count");
    assert_eq!(waiting(&reader), 1, "only the client waits");
    assert_eq!(reader.count(View::Lists).expect("lists"), 1);
    assert_eq!(reader.count(View::AllOpen).expect("open"), 1, "list mail is not in the queue");
    // Quiet mail in a conversation that has more closes nothing.
    let mut out_of_office = msg("q2", "chat", "Ирина", NOW - 200, "Я в отпуске до понедельника");
    out_of_office.automatic = Some(Automatic::Auto);
    ingest(&s, ch, vec![out_of_office]);
    assert_eq!(reader.count(View::AllOpen).expect("open"), 1, "the client's conversation stays open");
    assert_eq!(waiting(&reader), 1, "and the client still waits");

    // A person's word: this "list" is a client after all, and stays one.
    let news_conv = reader.conversation_ids(View::Lists).expect("ids")[0];
    s.writer.call_blocking(move |c| intents::set_sender_rule(c, news_conv, true, "anna", NOW)).expect("rule");
    assert_eq!(waiting(&reader), 2);
    assert_eq!(reader.count(View::Lists).expect("lists"), 0);
    let mut again = msg("n2", "news", "Банк", NOW - 100, "Ещё тарифы");
    again.automatic = Some(Automatic::List);
    ingest(&s, ch, vec![again]);
    assert_eq!(reader.count(View::Lists).expect("lists"), 0, "the rule holds for new mail");
    // And the other way round.
    let chat = reader.conversation_ids(View::Unanswered).expect("ids");
    let client_conv = chat.into_iter().find(|c| *c != news_conv).expect("client conversation");
    s.writer.call_blocking(move |c| intents::set_sender_rule(c, client_conv, false, "anna", NOW)).expect("rule");
    assert_eq!(waiting(&reader), 1, "never waits now");

    // History: mail from before the cut-off is stored, never waits, never opens a conversation.
    s.writer
        .call_blocking(move |c| pult::store::channel_state::begin_history(c, ch, Some(NOW - 86_400), 0))
        .expect("cut-off");
    ingest(&s, ch, vec![msg("old", "old-chat", "Пётр", NOW - 30 * 86_400, "Старый вопрос")]);
    assert_eq!(waiting(&reader), 1, "history does not wait");
    let (history, _) =
        s.writer.call_blocking(move |c| pult::store::channel_state::history_and_waiting(c, ch)).expect("counts");
    assert_eq!(history, 1);
}

#[test]
fn a_conversation_stands_in_its_lists_from_its_first_message_and_one_begun_for_a_stored_message_holds_nothing() {
    use pult::workflow::automatic::Automatic;
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Telegram);
    let mut news = msg("n1", "news", "Банк", NOW - 600, "Новые тарифы");
    news.automatic = Some(Automatic::List);
    let thanks = msg("t1", "thanks", "Олег", NOW - 500, "Спасибо, получили!");
    let question = msg("q1", "chat", "Ирина", NOW - 300, "Пришлите, пожалуйста, акт сверки");
    let mut ours = msg("o1", "ours", "", NOW - 200, "Акт сверки во вложении");
    ours.outgoing = true;
    ingest(&s, ch, vec![news, thanks, question, ours]);
    let db = rusqlite::Connection::open(&s.path).expect("open");
    // (status, last message time, list mail, waiting since, last inbound message is the last message)
    let row = |key: &str| -> (String, i64, bool, Option<i64>, bool) {
        db.query_row(
            "SELECT status, last_message_at, automatic, waiting_since, last_inbound_id IS last_message_id
             FROM conversations WHERE remote_key = ?1",
            [key],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect(key)
    };
    assert_eq!(row("news"), ("closed".into(), NOW - 600, true, None, true));
    assert_eq!(row("thanks"), ("open".into(), NOW - 500, false, None, true));
    assert_eq!(row("chat"), ("open".into(), NOW - 300, false, Some(NOW - 300), true));
    assert_eq!(row("ours"), ("open".into(), NOW - 200, false, None, false));
    let reader = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(reader.count(View::Unanswered).expect("count"), 1);
    assert_eq!(reader.count(View::Lists).expect("lists"), 1);
    // The client's message again under another key, and a list's under a
    // third: stored once, and the conversations their keys began hold
    // nothing, so they stand as an empty conversation does.
    let again = msg("q1", "elsewhere", "Ирина", NOW - 300, "Пришлите, пожалуйста, акт сверки");
    let mut news_again = msg("n1", "news-elsewhere", "Банк", NOW - 600, "Новые тарифы");
    news_again.automatic = Some(Automatic::List);
    assert_eq!(ingest(&s, ch, vec![again, news_again]).duplicates, 2);
    let (status, at, _, waits, _) = row("elsewhere");
    assert_eq!((status.as_str(), at, waits), ("open", 0, None), "no time, waits for nothing");
    let (status, _, list, _, _) = row("news-elsewhere");
    assert_eq!((status.as_str(), list), ("open", false), "not list mail");
    assert_eq!(reader.count(View::Unanswered).expect("count"), 1, "one client waits, once");
    assert_eq!(reader.count(View::Lists).expect("lists"), 1);

    // Quiet mail that begins a conversation, then the client in the same
    // batch: the client's message opens it, and the client waits.
    let mut away = msg("a1", "asked", "Ирина", NOW - 100, "Я в отпуске до понедельника");
    away.automatic = Some(Automatic::Auto);
    let asks = msg("a2", "asked", "Ирина", NOW - 50, "Когда будет готов отчёт?");
    ingest(&s, ch, vec![away, asks]);
    assert_eq!(row("asked"), ("open".into(), NOW - 50, false, Some(NOW - 50), true));
    assert_eq!(reader.count(View::Unanswered).expect("count"), 2);
}

/// A new mail to `to` on `ch`, sent (as the dispatcher records it): (conversation, outbox, Message-ID).
fn sent_mail(s: &TempStore, ch: i64, to: &str, subject: &str, at: i64) -> (i64, i64, String) {
    let e = intents::NewEmail {
        channel: ch,
        from_address: "alice@office.test".into(),
        to: vec![to.into()],
        subject: subject.into(),
        body: "Акт сверки во вложении.".into(),
        actor: "anna".into(),
        ..Default::default()
    };
    let (conversation, outbox) = s.writer.call_blocking(move |c| intents::new_email(c, &e, at)).expect("queue");
    let item = s.writer.call_blocking(move |c| intents::take_due(c, ch, at)).expect("take").expect("due");
    let id = item.rfc_message_id.clone().expect("a Message-ID");
    let sent = id.clone();
    s.writer.call_blocking(move |c| intents::mark_sent(c, outbox, &sent, at)).expect("sent");
    (conversation, outbox, id)
}

/// A mail arriving in INBOX at `uid`, read as the email worker reads it.
fn arrives(s: &TempStore, ch: i64, uid: u32, raw: &str) -> pult::store::events::Applied {
    let mut m = pult::channels::email::parse::parse(raw.as_bytes(), "<f>", &["alice@office.test".into()]);
    let place = pult::model::ImapPlace { folder: "INBOX".into(), validity: 1, uid, ..Default::default() };
    m.remote_id = place.remote_id();
    m.imap = Some(place);
    let events = vec![pult::model::SyncEvent::Message(m)];
    s.writer.call_blocking(move |c| pult::store::events::apply(c, ch, &events, NOW)).expect("apply")
}

fn report_mail(action: &str, status: &str, diagnostic: &str, recipient: &str, original: &str) -> String {
    [
        "Return-Path: <>",
        "From: MAILER-DAEMON@mail.office.test (Mail Delivery System)",
        "To: alice@office.test",
        "Subject: Undelivered Mail Returned to Sender",
        "Date: Fri, 20 Nov 2026 13:00:05 +0300",
        "Auto-Submitted: auto-replied",
        &format!("Message-Id: <report-{action}-{recipient}@mail.office.test>"),
        "MIME-Version: 1.0",
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"R\"",
        "",
        "--R",
        "Content-Type: text/plain",
        "",
        "This is the mail system at host mail.office.test.",
        "",
        "--R",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mail.office.test",
        "",
        &format!("Final-Recipient: rfc822; {recipient}"),
        &format!("Action: {action}"),
        &format!("Status: {status}"),
        &format!("Diagnostic-Code: smtp; {diagnostic}"),
        "",
        "--R",
        "Content-Type: text/rfc822-headers",
        "",
        "From: alice@office.test",
        &format!("To: {recipient}"),
        "Subject: Акт",
        &format!("Message-ID: {original}"),
        "",
        "--R--",
        "",
    ]
    .join("\r\n")
}

fn sql_text(s: &TempStore, sql: &str, id: i64) -> Option<String> {
    rusqlite::Connection::open(&s.path).expect("open").query_row(sql, [id], |r| r.get(0)).expect(sql)
}

#[test]
fn a_bounce_fails_the_mail_it_reports_on_in_its_thread_and_never_waits() {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let (conv, outbox, id) = sent_mail(&s, ch, "nobody@client.test", "Акт", NOW - 60);
    let raw = report_mail("failed", "5.1.1", "550 5.1.1 <nobody@client.test>: User unknown", "nobody@client.test", &id);
    let applied = arrives(&s, ch, 7, &raw);
    assert_eq!(applied.inserted, 1);
    let reason = "nobody@client.test: 550 5.1.1 <nobody@client.test>: User unknown";
    assert_eq!(sql_text(&s, "SELECT state FROM outbox WHERE id = ?1", outbox).as_deref(), Some("failed"));
    assert_eq!(sql_text(&s, "SELECT error FROM outbox WHERE id = ?1", outbox).as_deref(), Some(reason));
    // Where people look: status, pult outbox, «Не отправлено», E.
    let r = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(r.status().expect("status").failed, 1);
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    let problems = r.outbox_problems(&clock).expect("outbox");
    assert!(problems.iter().any(|p| p.outbox == outbox && p.error == reason), "{problems:?}");
    assert_eq!(r.count(View::Unsent).expect("count"), 1);
    // The report is in the thread of the mail, not a conversation of its own,
    // and nobody waits: not the «Mail Delivery System», not the client.
    let thread = r.thread(conv, 100).expect("thread");
    assert_eq!(thread.len(), 2, "{thread:?}");
    assert!(thread.iter().any(|m| m.author.contains("MAILER-DAEMON") || m.body.contains("mail system")));
    let ours = thread.iter().find(|m| m.direction == pult::model::Direction::Out).expect("ours");
    assert_eq!((ours.delivery, ours.error.as_deref()), (pult::model::Delivery::Failed, Some(reason)));
    let conversations: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT count(*) FROM conversations", [], |r| r.get(0))
        .expect("count");
    assert_eq!(conversations, 1);
    assert_eq!(r.count(View::Unanswered).expect("count"), 0);
    // Seen again (a replay): nothing changes; E offers the mail again.
    assert_eq!(arrives(&s, ch, 7, &raw).inserted, 0);
    let again =
        s.writer.call_blocking(move |c| intents::resolve_latest(c, conv, intents::Resolution::Retry, "anna", NOW));
    assert!(again.expect("retry").is_some(), "E offers it again");
}

#[test]
fn a_bounce_of_our_answer_makes_the_client_wait_again() {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let mut ask = msg("imap:1:1:INBOX", "<ask@client.test>", "irina", NOW - 600, "Пришлите акт.");
    ask.author_handle = "irina@client.test".into();
    ask.message_id = Some("<ask@client.test>".into());
    ask.imap = Some(pult::model::ImapPlace { folder: "INBOX".into(), validity: 1, uid: 1, ..Default::default() });
    ingest(&s, ch, vec![ask]);
    let conv: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT id FROM conversations", [], |r| r.get(0))
        .expect("conversation");
    let reply =
        intents::Reply {
            subject: Some("Re: Акт".into()), not_before: NOW - 300, ..reply(conv, "Акт во вложении.")
        };
    let outbox = s.writer.call_blocking(move |c| intents::queue_reply(c, &reply, NOW - 300)).expect("queue");
    let item = s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW - 300)).expect("take").expect("due");
    let id = s.writer.call_blocking(move |c| intents::fix_message_id(c, item.id, "<answer@office.test>")).expect("id");
    let sent = id.clone();
    s.writer.call_blocking(move |c| intents::mark_sent(c, outbox, &sent, NOW - 300)).expect("sent");
    let r = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(r.count(View::Unanswered).expect("count"), 0, "answered");
    arrives(&s, ch, 2, &report_mail("failed", "5.2.2", "552 5.2.2 Mailbox full", "irina@client.test", &id));
    assert_eq!(r.count(View::Unanswered).expect("count"), 1, "the answer never reached her");
    // A reply answers her question, not the mail server.
    let thread = r.thread(conv, 100).expect("thread");
    let answers = thread.iter().rev().find(|m| m.answerable()).expect("her question");
    assert_eq!(answers.body, "Пришлите акт.");
    assert_eq!(thread.last().and_then(|m| m.report.as_deref()), Some("failed"), "the report is the newest");
    let since: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT waiting_since FROM conversations WHERE id = ?1", [conv], |r| r.get(0))
        .expect("since");
    assert_eq!(since, NOW - 600, "since her question, not since the report");
}

#[test]
fn a_delay_notice_marks_the_mail_delayed_and_fails_nothing() {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let (conv, outbox, id) = sent_mail(&s, ch, "irina@client.test", "Акт", NOW - 60);
    let raw = report_mail("delayed", "4.4.1", "421 4.4.1 Connection timed out", "irina@client.test", &id);
    arrives(&s, ch, 3, &raw);
    assert_eq!(sql_text(&s, "SELECT state FROM outbox WHERE id = ?1", outbox).as_deref(), Some("sent"));
    let r = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(r.status().expect("status").failed, 0);
    let thread = r.thread(conv, 100).expect("thread");
    assert_eq!(thread.len(), 2, "the notice is in the thread");
    let ours = thread.iter().find(|m| m.direction == pult::model::Direction::Out).expect("ours");
    assert_eq!(ours.delivery, pult::model::Delivery::Sent);
    assert_eq!(ours.notices, ["delayed"]);
    assert_eq!(ours.error.as_deref(), Some("delayed: irina@client.test: 421 4.4.1 Connection timed out"));
    assert_eq!(r.count(View::Unanswered).expect("count"), 0);
    // The thread says so under our mail, the notice itself below it.
    let mut h = Harness::on(s, 160, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("⚠ delivery delayed: the mail server keeps trying"), "{screen}");
    assert!(screen.contains("This is the mail system"), "{screen}");
    let s = &h.store;
    // Then it fails after all.
    let raw = report_mail("failed", "5.4.7", "delivery time expired", "irina@client.test", &id);
    arrives(s, ch, 4, &raw);
    assert_eq!(sql_text(s, "SELECT state FROM outbox WHERE id = ?1", outbox).as_deref(), Some("failed"));
    assert_eq!(
        sql_text(s, "SELECT error FROM outbox WHERE id = ?1", outbox).as_deref(),
        Some("irina@client.test: 5.4.7 delivery time expired")
    );
    let mut h = Harness::on(h.store, 160, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("✗ irina@client.test: 5.4.7 delivery time expired"), "{screen}");
    assert!(!screen.contains("delivery delayed"), "failed, no longer delayed: {screen}");
}

#[test]
fn a_plain_text_bounce_without_headers_is_matched_by_its_recipient_and_a_stranger_s_waits_for_nobody() {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let (conv, outbox, _) = sent_mail(&s, ch, "ivan@partner.test", "Договор", NOW - 60);
    let exim = [
        "From: Mail Delivery System <Mailer-Daemon@mx.partner.test>",
        "To: alice@office.test",
        "Subject: Mail delivery failed: returning message to sender",
        "Message-Id: <E1x@mx.partner.test>",
        "Date: Fri, 20 Nov 2026 13:01:00 +0300",
        "",
        "This message was created automatically by mail delivery software.",
        "",
        "A message that you sent could not be delivered to one or more of its",
        "recipients. This is a permanent error. The following address(es) failed:",
        "",
        "  ivan@partner.test",
        "    550 5.1.1 <ivan@partner.test>: Recipient address rejected: User unknown",
        "",
    ]
    .join("\r\n");
    arrives(&s, ch, 5, &exim);
    assert_eq!(sql_text(&s, "SELECT state FROM outbox WHERE id = ?1", outbox).as_deref(), Some("failed"));
    let r = Reader::open(&s.path, "anna").expect("reader");
    assert_eq!(r.thread(conv, 100).expect("thread").len(), 2, "in the thread of the mail");
    // A bounce of a mail pult never sent: stored, waiting for nobody.
    let stranger = report_mail("failed", "5.1.1", "550 5.1.1 User unknown", "x@y.test", "<not-ours@elsewhere.test>");
    assert_eq!(arrives(&s, ch, 6, &stranger).inserted, 1);
    let conversations: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT count(*) FROM conversations", [], |r| r.get(0))
        .expect("count");
    assert_eq!(conversations, 2);
    assert_eq!(r.count(View::Unanswered).expect("count"), 0);
    assert_eq!(r.status().expect("status").failed, 1, "only ours");
}

/// A thread's messages, attachments, reactions and delivery states load in a
/// fixed number of statements: a 200-message thread costs what a 2-message one does.
#[test]
fn a_thread_loads_in_the_same_number_of_statements_whatever_its_length() {
    use pult::model::InboundAttachment;
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    for (conv, n) in [("short", 2), ("long", 200)] {
        let batch = (0..n)
            .map(|i| {
                let mut m = msg(&format!("{conv}{i}"), conv, "Оля", NOW - 10_000 + i, "счёт во вложении");
                m.attachments = vec![InboundAttachment {
                    name: format!("счёт-{i}.pdf"),
                    mime: "application/pdf".into(),
                    size: 1000 + i,
                    ..Default::default()
                }];
                m
            })
            .collect();
        ingest(&s, ch, batch);
    }
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    conn.execute_batch(
        "INSERT INTO reactions (message_id, author_handle, author_name, emoji, at)
           SELECT id, 'h:Анна', 'Анна', '👍', 1 FROM messages WHERE remote_id IN ('short1', 'long150');
         UPDATE messages SET delivery = 'read' WHERE remote_id IN ('short0', 'long7');",
    )
    .expect("reactions");
    let id = |key: &str| -> i64 {
        conn.query_row("SELECT id FROM conversations WHERE remote_key = ?1", [key], |r| r.get(0)).expect("id")
    };
    let reader = Reader::open(&s.path, "Анна").expect("reader");
    reader.count_statements();
    // What the TUI's reader worker runs to open a thread (`Effect::LoadThread`).
    let load = |conversation: i64| {
        let before = pult::store::statements_counted();
        let thread = pult::tui::reads::load_thread(&reader, conversation).expect("thread").expect("exists");
        (pult::store::statements_counted() - before, thread.messages)
    };
    let (short, two) = load(id("short"));
    let (long, many) = load(id("long"));
    assert_eq!(two.len(), 2);
    assert_eq!(many.len(), 200);
    assert!(short > 0);
    assert_eq!(short, long, "a 200-message thread ran {long} statements, a 2-message one {short}");
    for (i, m) in many.iter().enumerate() {
        assert_eq!(m.attachments.len(), 1, "message {i}");
        assert_eq!(m.attachments[0].name, format!("счёт-{i}.pdf"));
    }
    assert_eq!(many[150].reactions, vec![("Анна".to_string(), "👍".to_string())]);
    assert!(many.iter().enumerate().all(|(i, m)| i == 150 || m.reactions.is_empty()));
    assert_eq!(two[1].reactions.len(), 1);
    assert_eq!(many[7].delivery, pult::model::Delivery::parse("read"));
    assert_eq!(two[0].delivery, pult::model::Delivery::parse("read"));
}

#[test]
fn files_attached_to_a_reply_are_kept_in_the_store_and_old_rows_still_send_from_their_path() {
    use pult::model::FileBytes;
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let conv = ingest(&s, ch, vec![msg("1", "chat", "Ирина", NOW - 600, "Счёт, пожалуйста")]).conversations[0];
    let files = tempfile::tempdir().expect("tmp");
    let pdf = files.path().join("Счёт 17.pdf");
    std::fs::write(&pdf, b"%PDF-1.4 invoice").expect("pdf");
    let reply = |attachments: Vec<std::path::PathBuf>| intents::Reply {
        conversation_id: conv,
        reply_to_message_id: None,
        subject: None,
        body: "Счёт во вложении".into(),
        actor: "anna".into(),
        not_before: NOW,
        auto: false,
        attachments,
    };
    // A file that is not there is refused when attached, with its path; nothing is queued.
    let missing = reply(vec![files.path().join("нет.pdf")]);
    let refused = s.writer.call_blocking(move |c| intents::queue_reply(c, &missing, NOW)).expect_err("refused");
    assert!(refused.to_string().contains("нет.pdf") && refused.to_string().contains("no such file"), "{refused}");
    let ru = refused.in_language(pult::i18n::Lang::Ru);
    assert!(ru.contains("нет.pdf") && ru.contains("такого файла нет"), "{ru}");
    let first = reply(vec![pdf.clone()]);
    let id = s.writer.call_blocking(move |c| intents::queue_reply(c, &first, NOW)).expect("queue");
    std::fs::remove_file(&pdf).expect("rm");
    let item = s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").expect("due");
    assert_eq!(item.id, id);
    assert_eq!(item.attachments.len(), 1);
    assert_eq!(item.attachments[0].name, "Счёт 17.pdf");
    assert_eq!(item.attachments[0].mime, "application/pdf");
    assert_eq!(item.attachments[0].bytes, FileBytes::Stored(b"%PDF-1.4 invoice".to_vec()));
    // A row an older release queued holds only the path: it is read when sent.
    std::fs::write(&pdf, b"%PDF-1.4 again").expect("pdf");
    let second = reply(vec![pdf.clone()]);
    let id2 = s.writer.call_blocking(move |c| intents::queue_reply(c, &second, NOW)).expect("queue");
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    conn.execute(
        "UPDATE attachments SET content_hash = NULL WHERE message_id = (SELECT message_id FROM outbox WHERE id = ?1)",
        [id2],
    )
    .expect("as an old release left it");
    let item = s.writer.call_blocking(move |c| intents::take_due(c, ch, NOW)).expect("take").expect("due");
    assert_eq!(item.id, id2);
    assert_eq!(item.attachments[0].bytes, FileBytes::AtPath(pdf.clone()));
    assert_eq!(item.attachments[0].read().expect("read").as_ref(), b"%PDF-1.4 again");
    std::fs::remove_file(&pdf).expect("rm");
    assert_eq!(item.attachments[0].read(), Err(pdf));
}

/// A store from before DKIM was checked (27) gains `mail_auth`: a mail with a
/// recorded result shows it, an older one has none, and forgetting the
/// channel takes the results with the mail.
#[test]
fn dkim_results_migrate_show_with_their_mail_and_go_with_their_channel() {
    use pult::mailauth::{MailAuth, dkim::Verdict};
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("old.db");
    {
        let conn = old_store(&path, 27);
        conn.run_sql(
            "INSERT INTO channels (id, name, kind, created_at) VALUES (1, 'office', 'email', 1);
             INSERT INTO conversations (id, channel_id, remote_key, title, created_at) VALUES (1, 1, 'k', 't', 1);
             INSERT INTO messages (id, conversation_id, channel_id, remote_id, direction, author, sent_at, body)
               VALUES (1, 1, 1, 'a', 'in', 'Ирина', 100, 'старое письмо');",
        )
        .expect("old rows");
    }
    let w = pult::store::Writer::spawn(&path).expect("migrating open");
    let s = shared(&path, &w);
    let mut m = msg("b", "k", "Ирина", 200, "новое письмо");
    m.auth = Some(MailAuth {
        result: Verdict::Pass,
        reason: None,
        domain: Some("client.test".into()),
        selector: Some("s1".into()),
        aligned: true,
        from_domain: Some("client.test".into()),
        checked_at: 200,
        signatures: Vec::new(),
        reported: Vec::new(),
    });
    ingest(&s, 1, vec![m]);
    let r = Reader::open(&path, "anna").expect("reader");
    let shown: Vec<Option<Verdict>> =
        r.thread(1, 10).expect("thread").iter().map(|m| m.auth.as_ref().map(|a| a.result)).collect();
    assert_eq!(shown, [None, Some(Verdict::Pass)]);
    assert_eq!(r.mail_auth_of(2).expect("read").and_then(|a| a.selector).as_deref(), Some("s1"));
    let conn = rusqlite::Connection::open(&path).expect("open");
    conn.execute("UPDATE channels SET archived_at = 300 WHERE id = 1", []).expect("archive");
    w.call_blocking(|c| pult::store::archive::remove(c, "office", "anna", 400)).expect("forgotten");
    let left: i64 = conn.query_row("SELECT count(*) FROM mail_auth", [], |r| r.get(0)).expect("count");
    assert_eq!(left, 0);
}

/// Originals written beside the store (`<store>.blobs`) are named in the
/// store by their hash and size; forgetting the channel deletes the bytes
/// only its messages named, and keeps those another message still names.
#[test]
fn originals_beside_the_store_go_with_the_channel_that_alone_named_them() {
    use pult::store::side_blobs::{SideBlobs, keep_all};
    let s = temp_store();
    let gone = channel(&s, "old", ChannelKind::Telegram);
    let stays = channel(&s, "new", ChannelKind::Telegram);
    let raw = |bytes: &[u8]| {
        Some(std::sync::Arc::new(
            pult::model::RawOriginal { kind: "telegram", bytes: bytes.to_vec(), ..Default::default() }.packed(),
        ))
    };
    let side = SideBlobs::beside(&s.path);
    let mut own = vec![msg("1", "c1", "Ирина", NOW, "Пришлите акт")];
    own[0].raw = raw(b"{\"update_id\":1}");
    let mut shared = vec![msg("2", "c2", "Ирина", NOW, "Пришлите счёт"), msg("3", "c3", "Олег", NOW, "Тот же")];
    shared[0].raw = raw(b"{\"update_id\":2}");
    shared[1].raw = raw(b"{\"update_id\":2}");
    keep_all(&side, &mut own);
    keep_all(&side, &mut shared);
    let second = vec![shared.pop().expect("the twin")];
    ingest(&s, gone, own);
    ingest(&s, gone, shared);
    ingest(&s, stays, second);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let named: Vec<(String, String, i64)> = conn
        .prepare("SELECT sha256, codec, length(data) FROM blobs ORDER BY sha256")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("blobs");
    assert_eq!(named.len(), 2);
    assert!(named.iter().all(|(_, codec, len)| codec == "beside" && *len == 0), "{named:?}");
    let one = pult::store::audit_chain::sha256_hex(b"{\"update_id\":1}");
    let two = pult::store::audit_chain::sha256_hex(b"{\"update_id\":2}");
    assert_eq!(side.get(&one).expect("read").as_deref(), Some(&b"{\"update_id\":1}"[..]));
    conn.execute("UPDATE channels SET archived_at = 1 WHERE id = ?1", [gone]).expect("archive");
    let removed = s.writer.call_blocking(|c| pult::store::archive::remove(c, "old", "anna", NOW)).expect("removed");
    assert_eq!(removed.beside, vec![one.clone()], "only the bytes no other message names");
    s.writer.forget_beside(&removed.beside);
    assert_eq!(side.get(&one).expect("read"), None);
    assert!(side.get(&two).expect("read").is_some(), "the other channel's message keeps its original");
}

#[test]
fn a_batch_queued_behind_one_that_failed_is_refused_not_stored() {
    use pult::store::{StoreError, writer::InOrder};
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let s = temp_store();
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let sync = InOrder::default();
    let third_ran = std::sync::Arc::new(AtomicBool::new(false));
    let ran = third_ran.clone();
    // Three batches queued before the first is stored, as a sync queues them.
    let first = sync.start(&s.writer, |db| db.run_sql("CREATE TABLE first_batch (x)"));
    let second =
        sync.start(&s.writer, |_| -> pult::store::Result<()> { Err(StoreError::Invalid("disk trouble".into())) });
    let third = sync.start(&s.writer, move |db| {
        ran.store(true, SeqCst);
        db.run_sql("CREATE TABLE third_batch (x)")
    });
    // Another sync's batches on the same writer are not held up.
    let other = InOrder::default().start(&s.writer, |db| db.run_sql("CREATE TABLE other_sync (x)"));
    rt.block_on(async {
        first.await.expect("the first batch is stored");
        assert!(matches!(second.await, Err(StoreError::Invalid(_))), "the failure is the one reported");
        assert!(matches!(third.await, Err(StoreError::EarlierFailed)), "the batch past the gap is refused");
        other.await.expect("another sequence runs");
    });
    assert!(!third_ran.load(SeqCst), "the refused batch never ran");
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE name IN ('first_batch', 'third_batch', 'other_sync') ORDER BY name",
        )
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(tables, vec!["first_batch", "other_sync"]);
}
