//! Sync events and ingest on both engines: the same batches applied to a
//! SQLite store and a PostgreSQL one leave the same rows, table by table,
//! and what was ingested is found by PostgreSQL's search terms.

use super::common::{self, pg::PgDb};
use super::{NOW, PgStore, tsearch};
use pult::model::{
    ChannelKind, ChannelStatus, Delivery, FlagChange, Gone, ImapPlace, Inbound, InboundAttachment, RawOriginal,
    SyncEvent,
};
use pult::store::events::{self, Applied};
use pult::store::sql::{Conn, Engine, Transact};
use pult::store::{Db, ingest};
use std::collections::BTreeSet;

/// A SQLite store and a PostgreSQL one, each as the writer thread's `Db`.
fn both() -> (tempfile::TempDir, Db, PgDb, Db) {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = pult::store::open_writer(&dir.path().join("pult.db")).unwrap();
    let pg = PgDb::new();
    let postgres = Db::postgres(PgStore::open(&pg.target).unwrap());
    (dir, sqlite, pg, postgres)
}

/// Tables both engines keep as rows (SQLite's own and its FTS5 index's are
/// not; PostgreSQL's search tables are compared by what they find).
fn tables(c: &dyn Conn) -> Vec<String> {
    assert_eq!(c.engine(), Engine::Sqlite, "the list of tables is SQLite's");
    c.all(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
           AND name NOT LIKE '%fts%' AND name != 'search_index' AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
        &[],
        |r| r.get(0),
    )
    .unwrap()
}

/// Every row of `tables`, in SQLite's columns, each row as text, in the
/// order of its columns' values (ids first: a different id is a difference).
fn every_row(db: &mut impl Transact, tables: &[String], columns: &[Vec<String>]) -> Vec<String> {
    db.write(|c| {
        let mut out = Vec::new();
        for (table, columns) in tables.iter().zip(columns) {
            let list = columns.join(", ");
            let order = (1..=columns.len()).map(|i| i.to_string()).collect::<Vec<_>>().join(", ");
            // A store's id is its own, random by design.
            let only = if table == "store_settings" { "WHERE key != 'store_id'" } else { "" };
            let rows = c.rows(&format!("SELECT {list} FROM {table} {only} ORDER BY {order}"), &[])?;
            out.push(format!("{table}: {} rows", rows.len()));
            for r in rows {
                let values: Vec<String> = (0..columns.len())
                    .map(|i| r.get::<pult::store::sql::Value>(i).map(|v| format!("{v:?}")))
                    .collect::<pult::store::Result<_>>()?;
                out.push(format!("{table} {}", values.join(" | ")));
            }
        }
        Ok(out)
    })
    .unwrap()
}

/// SQLite's tables and their columns, to read both stores by.
fn layout(sqlite: &mut Db) -> (Vec<String>, Vec<Vec<String>>) {
    sqlite
        .write(|c| {
            let tables = tables(c);
            let columns = tables
                .iter()
                .map(|t| c.all("SELECT name FROM pragma_table_info(?1) ORDER BY cid", &[t], |r| r.get(0)))
                .collect::<pult::store::Result<Vec<Vec<String>>>>()?;
            Ok((tables, columns))
        })
        .unwrap()
}

/// Asserts both stores hold the same rows; says which differ.
fn same_rows(sqlite: &mut Db, postgres: &mut Db) -> Vec<String> {
    let (tables, columns) = layout(sqlite);
    let here = every_row(sqlite, &tables, &columns);
    let there = every_row(postgres, &tables, &columns);
    let only_here: Vec<&String> = here.iter().filter(|l| !there.contains(l)).collect();
    let only_there: Vec<&String> = there.iter().filter(|l| !here.contains(l)).collect();
    assert!(
        only_here.is_empty() && only_there.is_empty(),
        "rows differ\nonly on SQLite:\n{}\nonly on PostgreSQL:\n{}",
        only_here.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n"),
        only_there.iter().map(|l| l.as_str()).collect::<Vec<_>>().join("\n"),
    );
    assert_eq!(here, there, "the same rows in the same order");
    here
}

fn place(folder: &str, validity: u32, uid: u32) -> ImapPlace {
    ImapPlace {
        folder: folder.into(),
        validity,
        uid,
        sent_folder: folder == "Sent",
        renumbered: false,
        seen: false,
        answered: false,
    }
}

/// A mail as the IMAP worker makes it (its key is its place, never its Message-ID).
fn mail(at: &ImapPlace, id: &str, refs: &[&str], from: (&str, &str), ago: i64, subject: &str, body: &str) -> Inbound {
    Inbound {
        remote_id: at.remote_id(),
        conversation_key: refs.first().copied().unwrap_or(id).to_string(),
        conversation_title: subject.into(),
        author_handle: from.0.into(),
        author_name: from.1.into(),
        sent_at: NOW - ago,
        subject: Some(subject.into()),
        body_text: body.into(),
        recipients: vec!["anna@firm.ru".into()],
        names: vec![(from.0.into(), from.1.into()), ("anna@firm.ru".into(), "Анна".into())],
        imap: Some(at.clone()),
        message_id: Some(id.into()),
        thread_refs: refs.iter().map(|r| r.to_string()).collect(),
        mime_shape: Some(format!("shape:{id}")),
        ..Default::default()
    }
}

fn raw(bytes: &str, uid: u32) -> std::sync::Arc<RawOriginal> {
    std::sync::Arc::new(
        RawOriginal {
            kind: "imap",
            source: serde_json::json!({"folder": "INBOX", "uidvalidity": 1, "uid": uid}),
            bytes: bytes.as_bytes().to_vec(),
            received_at: NOW,
            ..Default::default()
        }
        .packed(),
    )
}

const IRINA: (&str, &str) = ("irina@romashka.ru", "Ирина Соколова");
const OLEG: (&str, &str) = ("oleg@vector.ru", "Олег Петров");

/// The first batch of a mailbox: a thread with a reply, a reply before its
/// root and the root that joins them, a list's mail, a «спасибо», a file,
/// an original kept, DKIM's verdict, and the cursors it covers.
fn inbox_batch() -> Vec<SyncEvent> {
    let mut first = mail(
        &place("INBOX", 1, 1),
        "<a1@romashka.ru>",
        &[],
        IRINA,
        3600,
        "Акт сверки",
        "Добрый день! Пришлите, пожалуйста, акт сверки за ноябрь.",
    );
    first.attachments = vec![InboundAttachment {
        name: "реквизиты.pdf".into(),
        mime: "application/pdf".into(),
        size: 2048,
        remote_ref: Some("INBOX:1:1:2".into()),
        duration: None,
    }];
    first.raw = Some(raw("From: irina@romashka.ru\r\nSubject: =?utf-8?B?0JDQutGCINGB0LLQtdGA0LrQuA==?=\r\n\r\nakt", 1));
    first.auth = Some(pult::mailauth::MailAuth {
        result: pult::mailauth::dkim::Verdict::Pass,
        reason: None,
        domain: Some("romashka.ru".into()),
        selector: Some("mail".into()),
        aligned: true,
        from_domain: Some("romashka.ru".into()),
        checked_at: NOW,
        signatures: Vec::new(),
        reported: Vec::new(),
    });
    let again = mail(
        &place("INBOX", 1, 2),
        "<a2@romashka.ru>",
        &["<a1@romashka.ru>"],
        IRINA,
        1800,
        "Re: Акт сверки",
        "И ещё счёт за декабрь, если можно.\n\n> Пришлите акт",
    );
    // A reply whose root has not come yet, then an unrelated first mail,
    // then a mail that names both: the three are one thread.
    let early = mail(
        &place("INBOX", 1, 3),
        "<b2@vector.ru>",
        &["<b1@vector.ru>"],
        OLEG,
        1700,
        "Re: Оплата",
        "Оплатили счёт № 1547 на сумму 18 300 руб.",
    );
    let other = mail(&place("INBOX", 1, 4), "<c1@vector.ru>", &[], OLEG, 1600, "Платёжка", "Платёжку прикладываю.");
    let joins = mail(
        &place("INBOX", 1, 5),
        "<b3@vector.ru>",
        &["<b1@vector.ru>", "<c1@vector.ru>"],
        OLEG,
        1500,
        "Re: Оплата",
        "Это всё по одному счёту.",
    );
    let mut list = mail(
        &place("INBOX", 1, 6),
        "<n1@news.example>",
        &[],
        ("news@news.example", "Рассылка"),
        1400,
        "Новости недели",
        "Скидки на бухгалтерские услуги",
    );
    list.automatic = Some(pult::workflow::automatic::Automatic::List);
    let thanks = mail(
        &place("INBOX", 1, 7),
        "<a3@romashka.ru>",
        &["<a1@romashka.ru>", "<a2@romashka.ru>"],
        IRINA,
        1300,
        "Re: Акт сверки",
        "Спасибо, получили 👍",
    );
    // The part that joins the threads comes last: the conversation it merges
    // away is then not the newest, whose id SQLite would give to the next
    // one (PostgreSQL never reuses an id; nothing relies on either).
    let mut events: Vec<SyncEvent> =
        [first, again, early, other, list, thanks, joins].into_iter().map(SyncEvent::Message).collect();
    events.push(SyncEvent::Cursor { key: "INBOX.uidnext".into(), value: "8".into() });
    events.push(SyncEvent::Cursor { key: "INBOX.uidvalidity".into(), value: "1".into() });
    events.push(SyncEvent::Status(ChannelStatus::Error("нет сети".into())));
    events
}

/// Everything an email channel's worker hands over, on one engine; the
/// store's rows after it, and what each batch did.
fn email_story(db: &mut Db) -> Vec<String> {
    use pult::store::intents;
    let ch = ingest::ensure_channel(db, "office", ChannelKind::Email, NOW).unwrap();
    assert_eq!(ingest::ensure_channel(db, "office", ChannelKind::Email, NOW + 1).unwrap(), ch, "once");
    let e = ingest::ensure_channel(db, "office", ChannelKind::Telegram, NOW).unwrap_err();
    assert!(e.to_string().contains("exists as email"), "{e}");
    pult::store::originals::set_keep_raw(db, true).unwrap();
    let mut story = Vec::new();
    let batch = inbox_batch();
    let first = events::apply(db, ch, &batch, NOW).unwrap();
    story.push(format!("{first:?}"));
    let rows = |db: &mut Db| {
        db.write(|c| {
            c.all("SELECT id, conversation_id, remote_id FROM messages ORDER BY id", &[], |r| {
                Ok((r.get::<i64>(0)?, r.get::<i64>(1)?, r.get::<String>(2)?))
            })
        })
        .unwrap()
    };
    let before = rows(db);
    // The worker killed after the commit fetches and applies the batch again.
    let replay = events::apply(db, ch, &batch, NOW + 5).unwrap();
    assert_eq!((replay.inserted, replay.duplicates), (0, 7), "{replay:?}");
    assert!(replay.conversations.is_empty(), "a replay touches nothing: {replay:?}");
    assert_eq!(rows(db), before);
    story.push(format!("{replay:?}"));

    // Our answer, queued, sent, and then seen in Sent: one message, adopted.
    let (conv, question): (i64, i64) = db
        .write(|c| {
            c.one("SELECT conversation_id, id FROM messages WHERE rfc_message_id = '<a2@romashka.ru>'", &[], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .unwrap();
    let reply = intents::Reply {
        conversation_id: conv,
        reply_to_message_id: Some(question),
        subject: Some("Re: Акт сверки".into()),
        body: "Акт во вложении, счёт пришлём завтра".into(),
        actor: "anna".into(),
        not_before: NOW + 10,
        auto: false,
        attachments: Vec::new(),
    };
    let out = intents::queue_reply(db, &reply, NOW + 1).unwrap();
    assert_eq!(intents::take_due(db, ch, NOW + 20).unwrap().map(|i| i.id), Some(out));
    intents::fix_message_id(db, out, "<o1@firm.ru>").unwrap();
    intents::mark_sent(db, out, "<o1@firm.ru>", NOW + 21).unwrap();
    let sent_at = place("Sent", 9, 1);
    let mut copy = mail(
        &sent_at,
        "<o1@firm.ru>",
        &["<a1@romashka.ru>", "<a2@romashka.ru>"],
        ("anna@firm.ru", "Анна"),
        -21,
        "Re: Акт сверки",
        "Акт во вложении, счёт пришлём завтра",
    );
    copy.outgoing = true;
    copy.recipients = vec!["irina@romashka.ru".into()];
    copy.cc = vec!["boss@romashka.ru".into()];
    // A mail from the same address in Sent, written in another program.
    let mut elsewhere = mail(
        &place("Sent", 9, 2),
        "<o2@firm.ru>",
        &["<b3@vector.ru>"],
        ("anna@firm.ru", "Анна"),
        -30,
        "Re: Оплата",
        "Оплату получили, спасибо",
    );
    elsewhere.outgoing = true;
    elsewhere.recipients = vec!["oleg@vector.ru".into()];
    let sent = vec![
        SyncEvent::Message(copy),
        SyncEvent::Message(elsewhere),
        SyncEvent::Cursor { key: "Sent.uidnext".into(), value: "3".into() },
    ];
    story.push(format!("{:?}", events::apply(db, ch, &sent, NOW + 40).unwrap()));
    story.push(format!("{:?}", events::apply(db, ch, &sent, NOW + 41).unwrap()));

    // The server renumbered INBOX: the same mail under new UIDs is the
    // same message, moved; a mail read and one expunged elsewhere.
    let mut moved = match &inbox_batch()[3] {
        SyncEvent::Message(m) => m.clone(),
        _ => unreachable!(),
    };
    let new_place = ImapPlace { renumbered: true, ..place("INBOX", 2, 14) };
    moved.remote_id = new_place.remote_id();
    moved.imap = Some(new_place);
    let renumbered = vec![
        SyncEvent::Message(moved),
        SyncEvent::Mailbox {
            folder: "INBOX".into(),
            changed: vec![FlagChange { uid: 1, seen: true, answered: true }],
            gone: Gone::Ranges(vec![6..=6]),
            highest_modseq: Some(77),
        },
        SyncEvent::Status(ChannelStatus::Connecting),
    ];
    story.push(format!("{:?}", events::apply(db, ch, &renumbered, NOW + 50).unwrap()));
    let cursor = ingest::apply(db, ch, &[], &[("INBOX.uidvalidity".into(), "2".into())], NOW + 51).unwrap();
    story.push(format!("{cursor:?}"));
    story
}

#[test]
fn an_email_batch_threads_and_replays_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, pg, mut postgres) = both();
    let on_sqlite = email_story(&mut sqlite);
    let on_postgres = email_story(&mut postgres);
    assert_eq!(on_sqlite, on_postgres);
    let rows = same_rows(&mut sqlite, &mut postgres);
    // The three parts of Oleg's thread became one conversation; the list's
    // mail waits for nobody; the original and DKIM's verdict were kept.
    let oleg: BTreeSet<&str> = rows
        .iter()
        .filter(|l| l.starts_with("thread_keys ") && l.contains("vector.ru"))
        .filter_map(|l| l.rsplit(" | ").next())
        .collect();
    assert_eq!(oleg.len(), 1, "{rows:#?}");
    assert!(rows.iter().any(|l| l.starts_with("messages ") && l.contains("Text(\"list\")")), "{rows:#?}");
    assert!(rows.contains(&"originals: 1 rows".to_string()), "{rows:#?}");
    assert!(rows.contains(&"mail_auth: 1 rows".to_string()), "{rows:#?}");
    assert!(rows.iter().any(|l| l.starts_with("sync_state ") && l.contains("\"77\"")), "{rows:#?}");
    assert!(rows.iter().any(|l| l.starts_with("sync_state ") && l.contains("Sent.uidnext")), "{rows:#?}");

    // What was ingested is found on PostgreSQL by a word form, as on SQLite.
    let mut c = pg.connect();
    let find = |c: &mut postgres::Client, table: &str, key: &str, q: &str| -> BTreeSet<i64> {
        let tsq = tsearch::with_words(|w| {
            tsearch::query(w, pult::search::query::Field::Anywhere, &pult::search::query::Text::Word(q.into()), false)
        })
        .unwrap();
        c.query(&format!("SELECT {key} FROM {table} WHERE terms @@ CAST($1::text AS tsquery)"), &[&tsq])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    };
    let id_of = |c: &mut postgres::Client, rfc: &str| -> i64 {
        c.query_one("SELECT id FROM messages WHERE rfc_message_id = $1", &[&rfc]).unwrap().get(0)
    };
    let first = id_of(&mut c, "<a1@romashka.ru>");
    let ours = id_of(&mut c, "<o1@firm.ru>");
    assert_eq!(find(&mut c, "search_keys", "message_id", "ноября"), BTreeSet::from([first]), "«ноября» finds «ноябрь»");
    assert_eq!(find(&mut c, "search_keys", "message_id", "вложения"), BTreeSet::from([ours]));
    assert_eq!(find(&mut c, "search_keys", "message_id", "1547").len(), 1);
    let boss = find(&mut c, "search_keys", "message_id", "boss");
    assert_eq!(boss, BTreeSet::from([ours]), "recipients known from the Sent copy are found");
    assert_eq!(find(&mut c, "attachments_search", "attachment_id", "реквизиты").len(), 1);
    assert_eq!(find(&mut c, "clients_search", "conversation_id", "соколовой").len(), 1, "client: by her name");
    let every: i64 = c.query_one("SELECT count(*) FROM messages", &[]).unwrap().get(0);
    let keyed: i64 = c.query_one("SELECT count(*) FROM search_keys", &[]).unwrap().get(0);
    assert_eq!(every, keyed, "every message has its terms");
    let conversations: i64 = c.query_one("SELECT count(*) FROM conversations", &[]).unwrap().get(0);
    let named: i64 = c
        .query_one("SELECT count(*) FROM clients_search WHERE conversation_id IN (SELECT id FROM conversations)", &[])
        .unwrap()
        .get(0);
    let stale: i64 = c
        .query_one(
            "SELECT count(*) FROM clients_search WHERE conversation_id NOT IN (SELECT id FROM conversations)",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!((named, stale), (conversations, 0), "a merged conversation leaves no terms behind");
}

fn chat(remote: &str, key: &str, title: &str, who: (&str, &str), ago: i64, body: &str) -> Inbound {
    Inbound {
        remote_id: remote.into(),
        conversation_key: key.into(),
        conversation_title: title.into(),
        author_handle: who.0.into(),
        author_name: who.1.into(),
        sent_at: NOW - ago,
        body_text: body.into(),
        ..Default::default()
    }
}

const MARIA: (&str, &str) = ("1001", "Мария");
const PETR: (&str, &str) = ("1002", "Пётр");

/// A chat channel's worker: a group and a private chat, files and voice,
/// reports that arrive before their message (parked, then settled when it
/// comes), edits, deletions, delivery states, reactions, its own state.
fn chat_story(db: &mut Db, kind: ChannelKind) -> Vec<String> {
    let ch = ingest::ensure_channel(db, kind.as_str(), kind, NOW).unwrap();
    // A new store keeps originals on either engine; the row that says so is
    // SQLite's alone (docs/store.md), so the config's word is written here.
    assert!(db.keeps_raw().unwrap());
    pult::store::originals::set_keep_raw(db, true).unwrap();
    let mut story = Vec::new();
    let mut apply = |db: &mut Db, events: Vec<SyncEvent>, at: i64| -> Applied {
        let applied = events::apply(db, ch, &events, at).unwrap();
        story.push(format!("{applied:?}"));
        applied
    };
    let group = |remote: &str, who, ago, body: &str| {
        let mut m = chat(remote, "chat:-100", "Бухгалтерия Ромашки", who, ago, body);
        m.is_group = true;
        m
    };
    // Reports on messages not here yet: kept, not dropped.
    let early = apply(
        db,
        vec![
            SyncEvent::Reaction {
                remote_id: "g2".into(),
                author_handle: PETR.0.into(),
                author_name: PETR.1.into(),
                emoji: "👍".into(),
            },
            SyncEvent::Delivery { remote_id: "o1".into(), state: Delivery::Delivered, error: None },
            SyncEvent::Delivery { remote_id: "o1".into(), state: Delivery::Read, error: None },
            SyncEvent::Delivery { remote_id: "o1".into(), state: Delivery::Sent, error: None },
            SyncEvent::Deleted { remote_id: "g4".into() },
        ],
        NOW - 900,
    );
    assert_eq!(early.unmatched, 5, "{early:?}");
    let mut voice = group("g1", MARIA, 800, "");
    voice.attachments = vec![InboundAttachment {
        name: "voice.ogg".into(),
        mime: "audio/ogg".into(),
        size: 5120,
        remote_ref: Some("file-voice-1".into()),
        duration: Some(7),
    }];
    voice.author_username = Some("maria_buh".into());
    let mut asks = group("g2", PETR, 700, "Когда будет готов авансовый отчёт?");
    asks.reply_to_remote = Some("g1".into());
    let mut ours = chat("o1", "chat:-100", "Бухгалтерия Ромашки", ("", "Анна"), 600, "Отчёт будет в пятницу");
    ours.outgoing = true;
    ours.is_group = true;
    let mut file = chat("p1", "chat:1001", "Мария", MARIA, 500, "Договор на подпись");
    file.attachments = vec![InboundAttachment {
        name: "Договор поставки.docx".into(),
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document".into(),
        size: -1,
        remote_ref: Some("file-2".into()),
        duration: None,
    }];
    let gone = group("g4", MARIA, 450, "Ошиблась чатом");
    let batch = vec![
        SyncEvent::Message(voice),
        SyncEvent::Message(asks),
        SyncEvent::Message(ours),
        SyncEvent::Message(file),
        SyncEvent::Message(gone),
        SyncEvent::Message(group("g5", PETR, 400, "Спасибо!")),
        SyncEvent::Cursor { key: "offset".into(), value: "42".into() },
        SyncEvent::Status(ChannelStatus::Connecting),
    ];
    apply(db, batch.clone(), NOW - 400);
    let replay = apply(db, batch, NOW - 399);
    assert_eq!(replay.inserted, 0, "{replay:?}");

    // The group is renamed, a message edited twice (the second time to the
    // same text), one deleted, a reaction changed and one taken back.
    let mut renamed = group("g6", MARIA, 300, "Переименовала чат");
    renamed.conversation_title = "Ромашка: закупки".into();
    let mut edited = group("g2", PETR, 700, "Когда будет готов авансовый отчёт за ноябрь?");
    edited.edited = true;
    let mut unknown_edit = group("g7", PETR, 200, "Правка сообщения, которого нет");
    unknown_edit.edited = true;
    apply(
        db,
        vec![
            SyncEvent::Message(renamed),
            SyncEvent::Message(edited.clone()),
            SyncEvent::Message(edited),
            SyncEvent::Message(unknown_edit),
            SyncEvent::Deleted { remote_id: "g5".into() },
            SyncEvent::Deleted { remote_id: "g5".into() },
            SyncEvent::Reaction {
                remote_id: "o1".into(),
                author_handle: MARIA.0.into(),
                author_name: MARIA.1.into(),
                emoji: "❤".into(),
            },
            SyncEvent::Reaction {
                remote_id: "g2".into(),
                author_handle: PETR.0.into(),
                author_name: PETR.1.into(),
                emoji: String::new(),
            },
            SyncEvent::Delivery { remote_id: "o1".into(), state: Delivery::Delivered, error: None },
            SyncEvent::Quarantine { reason: "not JSON".into(), raw: b"\xff{".to_vec() },
            SyncEvent::Connection(pult::model::Connection {
                id: "biz-1".into(),
                owner_id: 77,
                owner_name: "Анна".into(),
                can_reply: true,
                can_read: true,
                enabled: true,
                date: NOW - 100,
            }),
            SyncEvent::Cursor { key: "offset".into(), value: "57".into() },
            SyncEvent::Status(ChannelStatus::Error("бот заблокирован".into())),
        ],
        NOW - 100,
    );
    story
}

#[test]
fn a_chat_batch_with_reports_before_their_messages_is_kept_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, pg, mut postgres) = both();
    for kind in [ChannelKind::Telegram, ChannelKind::Whatsapp] {
        assert_eq!(chat_story(&mut sqlite, kind), chat_story(&mut postgres, kind), "{kind:?}");
    }
    let rows = same_rows(&mut sqlite, &mut postgres);
    assert!(rows.contains(&"pending_reports: 0 rows".to_string()), "every parked report settled: {rows:#?}");
    assert!(rows.contains(&"messages_edits: 2 rows".to_string()), "one real edit per channel: {rows:#?}");
    assert!(rows.contains(&"reactions: 2 rows".to_string()), "{rows:#?}");
    assert!(
        rows.iter().any(|l| l.starts_with("messages ") && l.contains("\"o1\"") && l.contains("\"read\"")),
        "the furthest delivery state, whatever the order: {rows:#?}"
    );
    let mut c = pg.connect();
    let tsq = |q: &str| {
        tsearch::with_words(|w| {
            tsearch::query(w, pult::search::query::Field::Anywhere, &pult::search::query::Text::Word(q.into()), false)
        })
        .unwrap()
    };
    let found: Vec<String> = c
        .query(
            "SELECT m.remote_id FROM search_keys k JOIN messages m ON m.id = k.message_id
             WHERE k.terms @@ CAST($1::text AS tsquery) ORDER BY m.id",
            &[&tsq("ноября")],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(found, ["g2", "g2"], "the edited text is what is found, on each channel");
    let renamed: i64 = c
        .query_one("SELECT count(*) FROM clients_search WHERE terms @@ CAST($1::text AS tsquery)", &[&tsq("закупки")])
        .unwrap()
        .get(0);
    assert_eq!(renamed, 2, "the group's new title is found");
}

/// Conversations that messages begin: a list's mail, thanks, a client's
/// question, our own; the same messages again under other keys (what they
/// begin holds nothing); quiet mail, then the client, in one batch.
fn first_messages_story(db: &mut Db) -> Vec<String> {
    use pult::workflow::automatic::Automatic;
    let ch = ingest::ensure_channel(db, "tg", ChannelKind::Telegram, NOW).unwrap();
    // The row that says a store keeps originals is SQLite's alone (see chat_story).
    pult::store::originals::set_keep_raw(db, true).unwrap();
    let at = |remote: &str, key: &str, who: &str, ago: i64, body: &str| common::msg(remote, key, who, NOW - ago, body);
    let list = |remote: &str, key: &str| {
        let mut m = at(remote, key, "Банк", 600, "Новые тарифы");
        m.automatic = Some(Automatic::List);
        m
    };
    let mut ours = at("o1", "ours", "", 200, "Акт сверки во вложении");
    ours.outgoing = true;
    let mut away = at("a1", "asked", "Ирина", 100, "Я в отпуске до понедельника");
    away.automatic = Some(Automatic::Auto);
    let batches = [
        vec![
            list("n1", "news"),
            at("t1", "thanks", "Олег", 500, "Спасибо, получили!"),
            at("q1", "chat", "Ирина", 300, "Пришлите акт сверки"),
            ours,
        ],
        vec![at("q1", "elsewhere", "Ирина", 300, "Пришлите акт сверки"), list("n1", "news-elsewhere")],
        vec![away, at("a2", "asked", "Ирина", 50, "Когда будет готов отчёт?")],
    ];
    let mut story: Vec<String> =
        batches.iter().map(|b| format!("{:?}", ingest::apply(db, ch, b, &[], NOW).unwrap())).collect();
    story.extend(
        db.write(|c| {
            c.all(
                "SELECT remote_key, status, last_message_at, automatic, waiting_since,
                        (SELECT remote_id FROM messages WHERE id = last_inbound_id),
                        (SELECT remote_id FROM messages WHERE id = last_message_id)
                 FROM conversations ORDER BY remote_key",
                &[],
                |r| {
                    Ok(format!(
                        "{} {} {} {} {:?} {:?} {:?}",
                        r.get::<String>(0)?,
                        r.get::<String>(1)?,
                        r.get::<i64>(2)? - NOW,
                        r.get::<i64>(3)?,
                        r.get::<Option<i64>>(4)?.map(|t| t - NOW),
                        r.get::<Option<String>>(5)?,
                        r.get::<Option<String>>(6)?
                    ))
                },
            )
        })
        .unwrap(),
    );
    story
}

#[test]
fn conversations_stand_where_their_first_messages_put_them_on_both_engines() {
    let (_dir, mut sqlite, _pg, mut postgres) = both();
    let here = first_messages_story(&mut sqlite);
    assert_eq!(here, first_messages_story(&mut postgres));
    let expected = [
        "asked open -50 0 Some(-50) Some(\"a2\") Some(\"a2\")",
        "chat open -300 0 Some(-300) Some(\"q1\") Some(\"q1\")",
        &format!("elsewhere open {} 0 None None None", -NOW),
        "news closed -600 1 None Some(\"n1\") Some(\"n1\")",
        &format!("news-elsewhere open {} 0 None None None", -NOW),
        "ours open -200 0 None None Some(\"o1\")",
        "thanks open -500 0 None Some(\"t1\") Some(\"t1\")",
    ];
    assert_eq!(&here[3..], expected, "{here:#?}");
    same_rows(&mut sqlite, &mut postgres);
}

/// The demo's week, written through the writer thread on each engine.
#[test]
fn the_demo_fills_both_engines_alike() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pult.db");
    let pg = PgDb::new();
    let tz = common::moscow();
    let on_sqlite = pult::store::Writer::spawn(&path).unwrap();
    let on_postgres = pult::store::Writer::spawn_postgres(&pg.target).unwrap();
    for w in [&on_sqlite, &on_postgres] {
        w.call_blocking(|db| pult::store::originals::set_keep_raw(db, true)).unwrap();
    }
    pult::demo::populate(&on_sqlite, NOW, &tz, "anna").unwrap();
    pult::demo::populate(&on_postgres, NOW, &tz, "anna").unwrap();
    let turn = |w: &pult::store::Writer| {
        w.call_blocking(|db| {
            let conv = pult::store::demo_data::nth_conversation(db, 2, 5)?;
            let t = pult::store::demo_data::client_turn(db, conv)?;
            Ok(format!("{conv} {} {} {} {:?} {:?}", t.key, t.title, t.is_group, t.subject, t.author))
        })
        .unwrap()
    };
    assert_eq!(turn(&on_sqlite), turn(&on_postgres));
    drop(on_sqlite);
    drop(on_postgres);
    let mut sqlite = pult::store::open_writer(&path).unwrap();
    let mut postgres = Db::postgres(PgStore::open(&pg.target).unwrap());
    let rows = same_rows(&mut sqlite, &mut postgres);
    let messages = rows.iter().find(|l| l.starts_with("messages: ")).unwrap();
    assert!(!messages.starts_with("messages: 0 "), "{messages}");
}

/// A mail server's reports on our mail: a bounce by the Message-ID it
/// returns, a second recipient of the same mail bounced apart, a delay then
/// a delivery, a bounce matched by its recipient alone, and a replay.
fn bounce_story(db: &mut Db) -> Vec<String> {
    use pult::model::{DeliveryReport, RecipientReport, ReportAction};
    use pult::store::intents;
    let ch = ingest::ensure_channel(db, "office", ChannelKind::Email, NOW).unwrap();
    pult::store::originals::set_keep_raw(db, true).unwrap();
    events::apply(db, ch, &inbox_batch(), NOW).unwrap();
    let question: (i64, i64) = db
        .write(|c| {
            c.one("SELECT conversation_id, id FROM messages WHERE rfc_message_id = '<a1@romashka.ru>'", &[], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
        })
        .unwrap();
    let mut sent = Vec::new();
    for (i, body) in ["Акт во вложении", "Счёт во вложении", "Сверка готова"].into_iter().enumerate()
    {
        let reply = intents::Reply {
            conversation_id: question.0,
            reply_to_message_id: Some(question.1),
            subject: Some("Re: Акт сверки".into()),
            body: body.into(),
            actor: "anna".into(),
            not_before: NOW,
            auto: false,
            attachments: Vec::new(),
        };
        let out = intents::queue_reply(db, &reply, NOW + i as i64).unwrap();
        assert_eq!(intents::take_due(db, ch, NOW + 10).unwrap().map(|t| t.id), Some(out));
        let id = format!("<o{i}@firm.ru>");
        intents::fix_message_id(db, out, &id).unwrap();
        intents::mark_sent(db, out, &id, NOW + 20).unwrap();
        sent.push(id);
    }
    let report = |uid: u32, original: Option<&str>, who: &str, action: ReportAction, said: &str| {
        let mut m = mail(
            &place("INBOX", 1, uid),
            &format!("<dsn{uid}@mx.romashka.ru>"),
            &[],
            ("mailer-daemon@mx.romashka.ru", "Mail Delivery System"),
            -100 - i64::from(uid),
            "Undelivered Mail Returned to Sender",
            said,
        );
        m.report = Some(DeliveryReport {
            original_id: original.map(str::to_string),
            recipients: vec![RecipientReport {
                address: who.into(),
                action,
                status: Some("5.1.1".into()),
                diagnostic: Some(said.into()),
            }],
        });
        SyncEvent::Message(m)
    };
    let batch = vec![
        report(20, Some(&sent[0]), "irina@romashka.ru", ReportAction::Failed, "550 5.1.1 irina: User unknown"),
        report(21, Some(&sent[0]), "boss@romashka.ru", ReportAction::Failed, "550 5.1.1 boss: User unknown"),
        report(22, Some(&sent[1]), "irina@romashka.ru", ReportAction::Delayed, "451 4.4.1 try again later"),
        report(23, Some(&sent[1]), "irina@romashka.ru", ReportAction::Delivered, "250 2.0.0 delivered"),
        report(24, None, "irina@romashka.ru", ReportAction::Failed, "552 5.2.2 mailbox full"),
        SyncEvent::Cursor { key: "INBOX.uidnext".into(), value: "25".into() },
    ];
    let mut story = vec![format!("{:?}", events::apply(db, ch, &batch, NOW + 200).unwrap())];
    story.push(format!("{:?}", events::apply(db, ch, &batch, NOW + 300).unwrap()));
    story.extend(
        db.write(|c| {
            c.all("SELECT state, error FROM outbox ORDER BY id", &[], |r| {
                Ok(format!("outbox {} {:?}", r.get::<String>(0)?, r.get::<Option<String>>(1)?))
            })
        })
        .unwrap(),
    );
    story
}

#[test]
fn a_mail_server_s_reports_apply_the_same_way_on_both_engines() {
    let (_dir, mut sqlite, _pg, mut postgres) = both();
    let on_sqlite = bounce_story(&mut sqlite);
    assert_eq!(on_sqlite, bounce_story(&mut postgres));
    let outbox: Vec<&String> = on_sqlite.iter().filter(|l| l.starts_with("outbox ")).collect();
    assert_eq!(outbox.len(), 3, "{on_sqlite:#?}");
    // Each recipient's reason once; the bounce that names only a recipient
    // goes to the newest mail to her, the one failed a moment ago.
    assert!(
        outbox[0].starts_with("outbox failed") && outbox[0].contains("boss") && outbox[0].contains("mailbox full"),
        "{outbox:?}"
    );
    assert_eq!(outbox[0].matches("User unknown").count(), 2, "{outbox:?}");
    assert_eq!((outbox[1].as_str(), outbox[2].as_str()), ("outbox sent None", "outbox sent None"));
    let rows = same_rows(&mut sqlite, &mut postgres);
    assert!(rows.iter().any(|l| l.starts_with("messages ") && l.contains("\"delivered\"")), "{rows:#?}");
}
