//! Search as an accountant uses it: Russian and English word forms, the query
//! language, notes, newest first, highlights — a golden table over a fixed corpus.

mod common;

use common::*;
use pult::model::{ChannelKind, HitKind, Inbound, InboundAttachment};
use pult::store::{Reader, StoreError, team};
use std::collections::BTreeSet;

const H: i64 = 3600;
const D: i64 = 86_400;

struct Corpus {
    _store: TempStore,
    reader: Reader,
    /// Label ("m1", "n1") by message or note id.
    messages: Vec<(i64, &'static str)>,
    notes: Vec<(i64, &'static str)>,
}

fn mail(label: &str, conv: &str, name: &str, addr: &str, ago: i64, subject: &str, body: &str) -> Inbound {
    Inbound {
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

fn chat(label: &str, conv: &str, name: &str, ago: i64, body: &str) -> Inbound {
    Inbound {
        remote_id: label.into(),
        conversation_key: conv.into(),
        conversation_title: conv.into(),
        author_handle: format!("tg:{name}"),
        author_name: name.into(),
        sent_at: NOW - ago,
        body_text: body.into(),
        ..Default::default()
    }
}

fn file(name: &str) -> InboundAttachment {
    InboundAttachment {
        name: name.into(),
        mime: "application/pdf".into(),
        size: 1000,
        remote_ref: None,
        duration: None,
    }
}

fn corpus() -> Corpus {
    let s = temp_store();
    let mail_ch = channel(&s, "Почта", ChannelKind::Email);
    let bot = channel(&s, "Бот", ChannelKind::Telegram);
    let mut m1 = mail(
        "m1",
        "t1",
        "Ирина Соколова",
        "irina@romashka.ru",
        10 * D,
        "Акт сверки за третий квартал",
        "Добрый день! Пришлите, пожалуйста, акт сверки и счета-фактуры за сентябрь.",
    );
    m1.attachments.push(file("Акт_сверки_Q3.pdf"));
    let mut m2 = mail(
        "m2",
        "t2",
        "Олег Петров",
        "oleg@vector.ru",
        5 * D,
        "Оплата",
        "Оплатили счёт № 1547 на сумму 18 300 руб. Платёжку прикладываю.",
    );
    m2.attachments.push(file("платежка.pdf"));
    let m3 = chat("m3", "chat-anna", "Анна", 3 * D, "Когда будет готов авансовый отчёт? Нужен аванс сотрудникам");
    let m4 = chat("m4", "chat-anna", "Анна", 2 * D, "Показания счётчика за ноябрь отправила");
    let m5 = mail(
        "m5",
        "t5",
        "Bob Client",
        "bob@acme.com",
        D,
        "Invoices for October",
        "Please send the invoices and the updated balance sheet. Our INN 7701234567.",
    );
    let m6 = mail(
        "m6",
        "t6",
        "Ирина Соколова",
        "irina@romashka.ru",
        4 * H,
        "Актив баланса",
        "Вопрос по активам: как учитывать основные средства? Устав прилагаю.",
    );
    let mut m7 = chat("m7", "ООО Ромашка", "Сергей", 6 * D, "Спасибо, получили платёжное поручение");
    m7.is_group = true;
    let mut m8 = mail(
        "m8",
        "t1",
        "Мария",
        "maria@office.ru",
        9 * D,
        "Re: Акт сверки за третий квартал",
        "Принято в работу, акт пришлю до пятницы.",
    );
    m8.outgoing = true;
    m8.recipients = vec!["irina@romashka.ru".into()];
    m8.names = vec![("irina@romashka.ru".into(), "Ирина Соколова".into()), ("maria@office.ru".into(), "Мария".into())];
    let m9 = mail(
        "m9",
        "t9",
        "Ирина Соколова",
        "irina@romashka.ru",
        40 * D,
        "Налоги",
        "Напоминаю про авансовые платежи по налогу",
    );
    let m10 = mail("m10", "t10", "Ёлкин Пётр", "petr@elka.ru", 2 * H, "Где счёт?", "Ёлки-палки, счет-то где?");
    // Not in date order: "newest first" must come from the dates, not the ids.
    ingest(&s, mail_ch, vec![m6, m1, m9, m10]);
    ingest(&s, bot, vec![m4, m7, m3]);
    ingest(&s, mail_ch, vec![m2, m5, m8]);

    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let conv = |key: &str| -> i64 {
        conn.query_row("SELECT id FROM conversations WHERE remote_key = ?1", [key], |r| r.get(0)).expect(key)
    };
    let (t1, t2, t5, t9) = (conv("t1"), conv("t2"), conv("t5"), conv("t9"));
    s.writer
        .call_blocking(move |c| {
            team::add_note(c, t1, "anna", "Клиент просит акт сверки срочно, позвонить Ирине", NOW - 8 * D)?;
            team::assign(c, t2, Some("anna"), "boss", None, NOW)?;
            Ok(())
        })
        .expect("note and assignment");
    // A promise past its deadline, a read conversation, a closed one.
    conn.execute(
        "INSERT INTO tasks (conversation_id, state, deadline, created_at) VALUES (?1, 'accepted', ?2, ?3)",
        [t5, NOW - H, NOW - 2 * H],
    )
    .expect("task");
    conn.execute("INSERT INTO read_marks (actor, conversation_id, message_id) VALUES ('anna', ?1, 1000000)", [t2])
        .expect("read");
    conn.execute("UPDATE conversations SET status = 'closed' WHERE id = ?1", [t9]).expect("close");
    // Snoozed until tomorrow: not unanswered today.
    conn.execute("UPDATE conversations SET snoozed_until = ?1 WHERE remote_key = 't10'", [NOW + D]).expect("snooze");

    let mut messages = Vec::new();
    let mut st = conn.prepare("SELECT id, remote_id FROM messages").expect("ids");
    let labels = ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "m9", "m10"];
    for row in st.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).expect("rows") {
        let (id, remote) = row.expect("row");
        let label = remote.trim_start_matches('<').split('@').next().unwrap_or("").to_string();
        let label = labels.iter().find(|l| **l == label).copied().expect("known label");
        messages.push((id, label));
    }
    let note: i64 = conn.query_row("SELECT id FROM notes", [], |r| r.get(0)).expect("note");
    let reader = Reader::open(&s.path, "anna").expect("reader");
    Corpus { _store: s, reader, messages, notes: vec![(note, "n1")] }
}

fn clock() -> pult::clock::Clock {
    pult::clock::Clock::fixed(NOW, moscow())
}

impl Corpus {
    fn find(&self, q: &str) -> BTreeSet<&'static str> {
        self.labels(q).into_iter().collect()
    }

    fn labels(&self, q: &str) -> Vec<&'static str> {
        let hits = self.reader.search(q, 100, &clock()).unwrap_or_else(|e| panic!("{q}: {e}"));
        hits.iter()
            .map(|h| match h.hit {
                HitKind::Message => self.label(&self.messages, h.message),
                HitKind::Note => self.label(&self.notes, h.note),
            })
            .collect()
    }

    fn label(&self, list: &[(i64, &'static str)], id: Option<i64>) -> &'static str {
        list.iter().find(|(i, _)| Some(*i) == id).map(|(_, l)| *l).unwrap_or("?")
    }
}

fn set(labels: &[&'static str]) -> BTreeSet<&'static str> {
    labels.iter().copied().collect()
}

#[test]
fn golden_queries() {
    let c = corpus();
    let table: &[(&str, &[&str])] = &[
        // Russian noun forms, ё and е, case.
        ("счёт", &["m1", "m2", "m10"]),
        ("счета", &["m1", "m2", "m10"]),
        ("счетов", &["m1", "m2", "m10"]),
        ("СЧЕТ", &["m1", "m2", "m10"]),
        // Precision: stems are not prefixes.
        ("счётчик", &["m4"]),
        ("акт", &["m1", "m8", "n1"]),
        ("актив", &["m6"]),
        ("активы", &["m6"]),
        ("устава", &["m6"]),
        // Adjectives find their noun and back.
        ("аванс", &["m3", "m9"]),
        ("авансового", &["m3", "m9"]),
        ("налог", &["m9"]),
        ("платёжка", &["m2"]),
        ("платежку", &["m2"]),
        // Verbs.
        ("получить", &["m7"]),
        // «Пришлите» and «пришлю» are one verb.
        ("пришлю", &["m1", "m8"]),
        // English forms.
        ("invoice", &["m5"]),
        ("Invoices", &["m5"]),
        ("update", &["m5"]),
        ("balance sheets", &["m5"]),
        // Numbers as written.
        ("1547", &["m2"]),
        ("18300", &["m2"]),
        ("\"18 300\"", &["m2"]),
        ("7701234567", &["m5"]),
        // Phrases, prefixes, exclusion, OR.
        ("\"акт сверки\"", &["m1", "m8", "n1"]),
        ("\"сверки акт\"", &[]),
        ("сверк*", &["m1", "m8", "n1"]),
        ("сверки -срочно", &["m1", "m8"]),
        ("акт OR актив", &["m1", "m6", "m8", "n1"]),
        ("-акт kind:email", &["m2", "m5", "m6", "m9", "m10"]),
        // People.
        ("from:ирина", &["m1", "m6", "m9"]),
        ("from:соколовой", &["m1", "m6", "m9"]),
        ("from:irina@romashka.ru", &["m1", "m6", "m9"]),
        ("from:елкин", &["m10"]),
        ("from:anna", &["n1"]),
        // «Пётр» and the surname «Петров» share a stem.
        ("петр", &["m2", "m10"]),
        ("to:irina", &["m8"]),
        ("to:\"Ирина Соколова\"", &["m8"]),
        ("to:мария", &[]),
        // Fields and filters.
        ("subject:налоги", &["m9"]),
        ("subject:акт", &["m1", "m8"]),
        ("kind:telegram", &["m3", "m4", "m7"]),
        ("kind:email счёт", &["m1", "m2", "m10"]),
        ("channel:бот", &["m3", "m4", "m7"]),
        ("has:attachment", &["m1", "m2"]),
        ("has:attachment name:акт", &["m1"]),
        ("name:платежка", &["m2"]),
        ("client:ромашка", &["m7"]),
        ("client:ромашки", &["m7"]),
        ("client:рома*", &["m7"]),
        ("client:\"ирина соколова\"", &["m1", "m6", "m8", "m9", "n1"]),
        ("is:overdue", &["m5"]),
        ("is:mine", &["m2"]),
        // Filters hold for notes too: n1 is in an unread email conversation.
        ("is:unread kind:email", &["m1", "m5", "m6", "m8", "m9", "m10", "n1"]),
        ("is:unanswered", &["m2", "m3", "m4", "m5", "m6", "m7"]),
        ("-is:open", &["m9"]),
        ("is:open subject:налоги", &[]),
        // Dates: after is on or after, before is strictly before (Moscow days).
        ("after:2026-11-19", &["m5", "m6", "m10"]),
        ("before:2026-11-11", &["m1", "m9"]),
        ("after:7d", &["m2", "m3", "m4", "m5", "m6", "m7", "m10"]),
        ("after:yesterday before:today", &["m5"]),
        ("after:2026-11-10 before:2026-11-13 in:notes", &["n1"]),
        // Notes.
        ("in:notes", &["n1"]),
        ("note:срочно", &["n1"]),
        ("срочно", &["n1"]),
        ("note:счёт", &[]),
        ("sort:relevance акт", &["m1", "m8", "n1"]),
    ];
    assert!(table.len() >= 40);
    let mut wrong = Vec::new();
    for (q, want) in table {
        let got = c.find(q);
        if got != set(want) {
            wrong.push(format!("{q:?}: got {got:?}, want {want:?}"));
        }
    }
    // Filters alone are read from their conversations when those hold few
    // messages, else newest first over every message: both give the same hits.
    let mut c = c;
    c.reader.set_few_messages(0);
    for (q, want) in table {
        let got = c.find(q);
        if got != set(want) {
            wrong.push(format!("{q:?} (walking every message): got {got:?}, want {want:?}"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} queries wrong:\n{}", wrong.len(), table.len(), wrong.join("\n"));
}

#[test]
fn newest_first_whatever_the_order_of_arrival() {
    let c = corpus();
    assert_eq!(c.labels("kind:email"), ["m10", "m6", "m5", "m2", "n1", "m8", "m1", "m9"]);
    assert_eq!(c.labels("счёт"), ["m10", "m2", "m1"]);
    // Notes take their place by date among messages.
    assert_eq!(c.labels("акт"), ["n1", "m8", "m1"]);
    let hits = c.reader.search("акт", 10, &clock()).expect("search");
    let dates: Vec<&str> = hits.iter().map(|h| h.date.as_str()).collect();
    let mut sorted = dates.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(dates, sorted, "newest first");
    assert_eq!(hits[0].hit, HitKind::Note, "the note (8 days ago) is newer than m8 (9) and m1 (10)");
    assert_eq!(c.reader.search("kind:email", 2, &clock()).expect("limit").len(), 2);
}

#[test]
fn a_prefix_finds_every_term_it_begins_whether_few_or_many() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    // 30 distinct terms under one prefix: more than the lookup expands.
    let batch: Vec<_> = (0..30).map(|i| msg(&format!("r{i}"), "c", "X", NOW - i, &format!("код zeta{i}x"))).collect();
    ingest(&s, ch, batch);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let n = |q: &str| r.search(q, 100, &clock()).expect(q).len();
    assert_eq!(n("zeta*"), 30, "many terms: FTS5's own prefix search");
    assert_eq!(n("zeta1*"), 11, "zeta1x, zeta10x … zeta19x: looked up and searched as terms");
    assert_eq!(n("zetb*"), 0, "no term begins so");
    assert_eq!(n("код -zeta2*"), 19, "30 less zeta2x, zeta20x … zeta29x");
}

#[test]
fn a_reply_is_found_by_what_it_says_not_by_what_it_quotes() {
    let s = temp_store();
    let ch = channel(&s, "mail", ChannelKind::Email);
    let original = mail("o", "t", "Анна", "anna@x.ru", 2 * H, "Акт", "Направляю акт сверки взаиморасчётов.");
    let reply = mail(
        "r",
        "t",
        "Олег",
        "oleg@y.ru",
        H,
        "Re: Акт",
        "Спасибо, подпишем в понедельник.\n\n20.11.2026 12:00, Анна пишет:\n> Направляю акт сверки взаиморасчётов.",
    );
    ingest(&s, ch, vec![original, reply]);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let from = |q: &str| -> Vec<String> { r.search(q, 10, &clock()).expect(q).into_iter().map(|h| h.from).collect() };
    assert_eq!(from("взаиморасчётов"), ["Анна"], "the quote is found where it was written");
    assert_eq!(from("понедельник"), ["Олег"]);
    assert_eq!(from("пишет"), Vec::<String>::new(), "the attribution line is the quote's");
}

#[test]
fn a_client_renamed_is_found_by_the_new_name() {
    let c = corpus();
    let conn = pult::store::open_writer(&c._store.path).expect("open");
    conn.run_sql("UPDATE contacts SET organisation = 'ООО «Вектор»' WHERE name = 'Олег Петров'").expect("rename");
    assert_eq!(c.find("client:вектора"), set(&["m2"]));
    assert_eq!(c.find("client:олег"), set(&["m2"]), "the name still finds it");
}

#[test]
fn relevance_puts_the_form_as_typed_first() {
    let c = corpus();
    // m10 has «счет» as typed; m1 «счета», m2 «счёт» (ё folds to е: also as typed).
    let order = c.labels("sort:relevance счета");
    assert_eq!(order[0], "m1", "{order:?}");
    let order = c.labels("sort:relevance счет");
    assert_ne!(order[0], "m1", "{order:?}");
}

#[test]
fn highlights_are_byte_ranges_of_the_snippet() {
    let c = corpus();
    let hits = c.reader.search("счёт", 10, &clock()).expect("search");
    let m2 = hits.iter().find(|h| h.snippet.contains("1547")).expect("m2");
    let marked: Vec<&str> = m2.highlights.iter().map(|[a, b]| &m2.snippet[*a..*b]).collect();
    assert_eq!(marked, ["счёт"]);
    let hits = c.reader.search("18300 платёжка", 10, &clock()).expect("search");
    let marked: Vec<&str> = hits[0].highlights.iter().map(|[a, b]| &hits[0].snippet[*a..*b]).collect();
    assert_eq!(marked, ["18 300", "Платёжку"]);
    let hits = c.reader.search("сверк*", 10, &clock()).expect("search");
    for h in &hits {
        // m8 matched by its subject: its body has nothing to mark.
        assert_eq!(h.highlights.is_empty(), !h.snippet.to_lowercase().contains("сверк"), "{h:?}");
        for [a, b] in &h.highlights {
            assert!(h.snippet[*a..*b].to_lowercase().starts_with("сверк"), "{}", &h.snippet[*a..*b]);
        }
    }
    // A note is marked as one in JSON.
    let note = hits.iter().find(|h| h.hit == HitKind::Note).expect("note hit");
    let v = serde_json::to_value(note).expect("json");
    assert_eq!(v["kind"], "note");
    assert!(v["message"].is_null() && v["note"].is_i64());
    assert_eq!(v["channel_kind"], "email");
}

#[test]
fn a_broken_query_is_an_error_saying_why() {
    let c = corpus();
    for (q, says) in [
        ("\"акт сверки", "unbalanced quote"),
        ("foo:bar", "unknown search key \"foo:\""),
        ("from:", "needs a value"),
        ("after:скоро", "expected a date"),
        ("is:closed", "expected unanswered"),
        ("kind:fax", "expected email"),
        ("акт OR", "OR"),
        ("акт OR kind:email", "OR"),
        ("   ", "nothing to look for"),
    ] {
        match c.reader.search(q, 10, &clock()) {
            Err(StoreError::Query(e)) => assert!(e.to_string().contains(says), "{q:?}: {e}"),
            other => panic!("{q:?}: expected a query error, got {other:?}"),
        }
    }
}

/// A batch's messages take the next keys of their second; a second whose
/// keys are all taken (a million messages in it) sends them past every key.
#[test]
fn a_batch_keys_its_messages_in_order_even_past_a_full_second() {
    let s = temp_store();
    let ch = channel(&s, "mail", ChannelKind::Email);
    let (full, open) = (NOW - 100, NOW - 50);
    {
        let conn = rusqlite::Connection::open(&s.path).expect("open");
        conn.execute("INSERT INTO search_keys (key, message_id) VALUES (((?1 + 1) << 20) - 1, -1)", [full])
            .expect("full");
    }
    let batch = vec![
        msg("a", "t", "Ирина", full, "Первый счёт"),
        msg("b", "t", "Ирина", open, "Второй счёт"),
        msg("c", "t", "Ирина", full, "Третий счёт"),
        msg("d", "t", "Ирина", open, "Четвёртый счёт"),
    ];
    ingest(&s, ch, batch);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let keys: Vec<(String, i64)> = conn
        .prepare("SELECT m.remote_id, k.key FROM messages m JOIN search_keys k ON k.message_id = m.id ORDER BY m.id")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("keys");
    let open = open << 20;
    assert_eq!(keys, vec![("a".into(), open + 2), ("b".into(), open), ("c".into(), open + 3), ("d".into(), open + 1)]);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    assert_eq!(r.search("счёт", 10, &clock).expect("search").len(), 4);
}

/// A message stored without a search key (by a build before migration 31,
/// still running after a current one migrated the store: its insert trigger
/// is gone) is keyed and indexed when a current writer opens the store.
#[test]
fn a_message_stored_without_a_key_is_indexed_when_a_writer_opens_the_store() {
    let s = temp_store();
    let ch = channel(&s, "mail", ChannelKind::Email);
    ingest(&s, ch, vec![msg("a", "t", "Ирина", NOW - 100, "Первый счёт")]);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    conn.execute(
        "INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, sent_at, body)
         SELECT conversation_id, channel_id, 'b', 'in', 'Олег', sent_at + 1, 'Акт сверки от прежней версии'
         FROM messages WHERE remote_id = 'a'",
        [],
    )
    .expect("an older build's insert");
    let r = Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    assert!(r.search("сверки", 10, &clock).expect("search").is_empty(), "not indexed yet");
    drop(pult::store::Writer::spawn(&s.path).expect("a current writer opens the store"));
    let found: Vec<String> = r.search("сверки", 10, &clock).expect("search").into_iter().map(|h| h.from).collect();
    assert_eq!(found, vec!["Олег"]);
    assert_eq!(r.search("счёт", 10, &clock).expect("search").len(), 1, "the first message indexed once");
}

#[test]
fn batches_leave_merging_the_index_to_the_writer_which_merges_once_idle() {
    use pult::store::index_merge::segments;
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    // Forty batches queued back to back: each writes a segment of its own and
    // none merges (a batch merges only past 64 on a level); the writer, never
    // idle meanwhile, does not either.
    for i in 0..40 {
        let batch = vec![msg(&format!("m{i}"), "c", "Ирина", NOW - 1000 + i, &format!("Счёт номер {i}"))];
        // (A failed batch shows below: every message is searched for.)
        s.writer.submit(move |c| pult::store::ingest::apply(c, ch, &batch, &[], NOW), drop);
    }
    let queued = s.writer.call_blocking(|c| segments(c)).expect("segments");
    assert!(queued >= 40, "a segment per batch, none merged yet: {queued}");
    // Nothing written for a while: the writer merges levels of 16 by itself
    // (these reads do not put it off).
    eventually("the writer to merge", || s.writer.call_blocking(|c| segments(c)).expect("segments") < 16);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    assert_eq!(r.search("счёт", 100, &clock).expect("search").len(), 40, "every message found after the merge");
}

#[test]
fn a_batch_whose_messages_come_newest_first_writes_one_segment() {
    use pult::store::index_merge::segments;
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let before = s.writer.call_blocking(|c| segments(c)).expect("segments");
    // Search keys follow the dates: stored in this order, each key is lower
    // than the one before, and FTS5 writes out what it holds at every drop.
    let batch: Vec<Inbound> =
        (0..6).map(|i| msg(&format!("m{i}"), "c", "Ирина", NOW - 100 * i, &format!("Акт номер {i}"))).collect();
    ingest(&s, ch, batch);
    let after = s.writer.call_blocking(|c| segments(c)).expect("segments");
    assert_eq!(after - before, 1, "one segment for the batch");
    let r = Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    let found: Vec<i64> = r.search("акт", 10, &clock).expect("search").iter().filter_map(|h| h.message).collect();
    assert_eq!(found.len(), 6);
    assert!(found.windows(2).all(|w| w[0] < w[1]), "newest first, the first stored: {found:?}");
}

#[test]
fn the_index_follows_edits_and_an_old_store_is_reindexed() {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("old.db");
    {
        // A store as the previous release left it (schema 14, unicode61 index).
        let conn = old_store(&path, 14);
        conn.run_sql(
            "INSERT INTO channels (id, name, kind, created_at) VALUES (1, 'mail', 'email', 1);
             INSERT INTO conversations (id, channel_id, remote_key, title, created_at) VALUES (1, 1, 'k', 't', 1);
             INSERT INTO messages (conversation_id, channel_id, remote_id, direction, author, sent_at, body)
               VALUES (1, 1, 'a', 'in', 'Ирина', 100, 'Пришлите счета за ноябрь'),
                      (1, 1, 'b', 'in', 'Ирина', 100, 'И авансовый отчёт'),
                      (1, 1, 'c', 'in', 'Олег', 50, 'Показания счётчика');
             INSERT INTO notes (conversation_id, actor, body, created_at) VALUES (1, 'anna', 'Позвонить насчёт счёта', 120);",
        )
        .expect("old rows");
    }
    let s = pult::store::Writer::spawn(&path).expect("migrating open");
    let r = Reader::open(&path, "anna").expect("reader");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    let found = |q: &str| r.search(q, 10, &clock).expect(q).len();
    assert_eq!(found("счёт"), 2, "the message and the note, in their forms");
    assert_eq!(found("аванс"), 1);
    assert_eq!(found("счётчик"), 1);
    // Two messages in the same second keep distinct keys; a new one too.
    let ch = s.call_blocking(|c| pult::store::ingest::ensure_channel(c, "mail", ChannelKind::Email, NOW)).expect("ch");
    let batch = vec![msg("d", "k", "Ирина", 100, "Ещё один счёт в ту же секунду")];
    s.call_blocking(move |c| pult::store::ingest::apply(c, ch, &batch, &[], NOW)).expect("ingest");
    assert_eq!(found("счёт"), 3);
    // An edit replaces the old words.
    let conn = pult::store::open_writer(&path).expect("open");
    conn.run_sql("UPDATE messages SET body = 'Пришлите акт' WHERE remote_id = 'a'").expect("edit");
    assert_eq!(found("счёт"), 2);
    assert_eq!(found("акт"), 1);
}

/// Rows a sync batch adds are indexed once, at its end, from their final
/// content; rows it changes that were there before are reindexed at once.
#[test]
fn a_batch_indexes_what_it_added_once_and_as_it_ended() {
    let s = temp_store();
    let ch = channel(&s, "bot", ChannelKind::Telegram);
    let r = Reader::open(&s.path, "anna").expect("reader");
    let clock = clock();
    let found = |q: &str| r.search(q, 50, &clock).expect(q).len();
    let mut sent = chat("1:1", "-100", "Ирина", 3 * H, "Пришлите счёт");
    sent.is_group = true;
    sent.conversation_title = "Ромашка бухгалтерия".into();
    sent.attachments = vec![file("реестр платежей.xlsx")];
    let mut edited = sent.clone();
    edited.edited = true;
    edited.body_text = "Пришлите акт".into();
    edited.attachments = Vec::new();
    let batch = vec![sent, edited];
    ingest(&s, ch, batch.clone());
    assert_eq!(found("счёт"), 0, "the edit replaced the words within the batch");
    assert_eq!(found("акт"), 1);
    assert_eq!(found("client:бухгалтерия"), 1);
    assert_eq!(found("name:реестр"), 1, "attachment names");
    // Our mail opens a thread without a client; the reply in the same batch
    // gives the conversation its client, and the index has the client's name.
    let mail_ch = channel(&s, "mail", ChannelKind::Email);
    let mut ours = mail("o1", "", "Анна", "anna@office.test", 5 * H, "Сверка", "Направляю сверку");
    ours.outgoing = true;
    ours.message_id = Some("<o1@office.test>".into());
    let mut theirs = mail("t1", "", "Пётр Сидоров", "petr@client.test", 4 * H, "Re: Сверка", "Получил");
    theirs.message_id = Some("<t1@client.test>".into());
    theirs.thread_refs = vec!["<o1@office.test>".into()];
    ingest(&s, mail_ch, vec![ours, theirs]);
    assert_eq!(found("client:сидоров"), 2, "both mails of the client's conversation");
    // The index holds each row once: rows the FTS tables list, not search hits.
    let rows = |sql: &str| {
        // "SELECT count(*) FROM x_fts WHERE x_fts MATCH 'q'": the index x, the query q.
        let index = sql.split("FROM ").nth(1).and_then(|r| r.split("_fts").next()).expect("index");
        let query = sql.split("MATCH '").nth(1).and_then(|r| r.split('\'').next()).expect("query");
        r.index_rows(index, query).expect("index rows")
    };
    assert_eq!(rows("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'пришлит'"), 1);
    assert_eq!(rows("SELECT count(*) FROM clients_fts WHERE clients_fts MATCH 'ромашк'"), 1);
    assert_eq!(rows("SELECT count(*) FROM clients_fts WHERE clients_fts MATCH 'сидоров'"), 1);
    assert_eq!(rows("SELECT count(*) FROM attachments_fts WHERE attachments_fts MATCH 'реестр'"), 1);
    // A replay adds nothing; a later batch edits a row the first one indexed.
    ingest(&s, ch, batch);
    assert_eq!(rows("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'пришлит'"), 1);
    let mut again = chat("1:1", "-100", "Ирина", 3 * H, "Пришлите выписку");
    again.edited = true;
    again.is_group = true;
    again.conversation_title = "Ромашка бухгалтерия".into();
    ingest(&s, ch, vec![again, chat("1:3", "-100", "Ирина", H, "Жду акт")]);
    assert_eq!(found("акт"), 1, "the edited message no longer says it; the new one does");
    assert_eq!(found("выписка"), 1);
    assert_eq!(rows("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'пришлит'"), 1);
}

/// Every filter alone reads the messages newest first from an index and stops
/// after a page: no step reads every message to sort them (`USE TEMP B-TREE
/// FOR ORDER BY`). Plans are deterministic where timings are not; the speed
/// itself is `pult-bench`'s to measure.
#[test]
fn filters_alone_read_newest_first_without_sorting_every_message() {
    let mut c = corpus();
    let walks = [
        "has:attachment",
        "kind:email",
        "kind:telegram has:attachment",
        "is:unanswered",
        "is:open",
        "channel:mail",
        "after:2026-11-01",
        "before:2026-11-15 has:attachment",
        "-has:attachment",
    ];
    let from_the_index = ["from:Иванова", "счёт has:attachment", "счёт kind:email after:2026-11-01"];
    // Forced to walk every message newest first, as on a big store.
    c.reader.set_few_messages(0);
    for q in walks.iter().chain(&from_the_index) {
        let plan = c.reader.search_plan(q, 50, &clock()).expect("plan");
        assert!(!plan.is_empty(), "{q}: no plan");
        assert!(plan.iter().all(|s| !s.contains("TEMP B-TREE")), "{q} sorts every match: {plan:#?}");
        let first = &plan[0];
        if walks.contains(q) {
            assert!(first == "SCAN k" || first.starts_with("SEARCH k USING INTEGER PRIMARY KEY"), "{q}: {plan:#?}");
        } else {
            assert!(first.starts_with("SCAN f VIRTUAL TABLE"), "{q}: {plan:#?}");
        }
        // The message row is read by its id, never scanned.
        assert!(plan.iter().any(|s| s.starts_with("SEARCH m USING INTEGER PRIMARY KEY")), "{q}: {plan:#?}");
        assert!(!plan.iter().any(|s| s == "SCAN m" || s.starts_with("SCAN m ")), "{q}: {plan:#?}");
    }
}
