//! The readers on PostgreSQL: one store on both engines (a SQLite store
//! moved whole by `pult store migrate`'s `sqlite_to_postgres`), every
//! `Reader` method called on each and the answers compared.

use super::NOW;
use crate::common::{self, pg::PgDb};
use pult::model::{ListKey, Moment, View, Window};
use pult::store::Reader;
use pult::store::pg::migrate::sqlite_to_postgres;
use std::fmt::Debug;

const DAY: i64 = 86_400;

/// Readers of the same store, SQLite's and PostgreSQL's, at the same moment.
fn both(path: &std::path::Path, pg: &PgDb, actor: &str) -> (Reader, Reader) {
    sqlite_to_postgres(path, &pg.target).expect("the store moves into PostgreSQL");
    let moment = Moment { now: NOW, end_of_today: NOW + 8 * 3600, risk_until: NOW + 2 * 3600 };
    let mut sqlite = Reader::open(path, actor).unwrap();
    let mut postgres = Reader::open_postgres(&pg.target, actor).unwrap();
    sqlite.set_moment(moment);
    postgres.set_moment(moment);
    (sqlite, postgres)
}

/// Collects what differs between the engines' answers to one call.
#[derive(Default)]
struct Differences(Vec<String>, usize);

impl Differences {
    fn check<T: Debug + PartialEq>(
        &mut self,
        what: &str,
        sqlite: pult::store::Result<T>,
        postgres: pult::store::Result<T>,
    ) {
        self.1 += 1;
        let sqlite = sqlite.unwrap_or_else(|e| panic!("{what} on SQLite: {e}"));
        match postgres {
            Ok(p) if p == sqlite => {}
            Ok(p) => self.0.push(format!("{what}:\n  SQLite     {sqlite:?}\n  PostgreSQL {p:?}")),
            Err(e) => self.0.push(format!("{what}: PostgreSQL says {e}")),
        }
    }

    fn assert_none(self) {
        assert!(self.0.is_empty(), "{} of {} calls differ:\n{}", self.0.len(), self.1, self.0.join("\n"));
    }
}

#[test]
fn every_reader_reads_the_demo_the_same_on_both_engines() {
    let home = tempfile::tempdir().unwrap();
    let store = common::demo_store(home.path());
    // What the demo lacks: a teammate writing a reply, a note that mentions anna.
    pult::store::open_writer(&store)
        .unwrap()
        .run_sql(&format!(
            "INSERT INTO claims (conversation_id, actor, expires_at) SELECT min(id), 'boris', {} FROM conversations;
             INSERT INTO notes (conversation_id, actor, body, created_at)
             SELECT max(id), 'boris', '@anna посмотри акт', {} FROM conversations",
            NOW + 3600,
            NOW - 60
        ))
        .unwrap();
    // Originals of the oldest mail: one deflated in the store, one kept beside its file.
    let beside = pult::model::Packed::of(b"From: irina@romashka.ru\r\n\r\nbeside").unwrap();
    let inside = pult::model::Packed::of(b"From: irina@romashka.ru\r\n\r\ninside").unwrap();
    pult::store::side_blobs::SideBlobs::beside(&store).put_all(&[&beside]).unwrap();
    let conn = rusqlite::Connection::open(&store).unwrap();
    for (packed, codec, data) in [(&beside, "beside", Vec::new()), (&inside, "deflate", inside.deflated.clone())] {
        conn.execute(
            "INSERT INTO blobs (sha256, size, codec, data) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![packed.sha256, packed.size as i64, codec, data],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO originals (message_id, kind, source, sha256, received_at)
             SELECT min(id), 'rfc822', '{\"imap\":\"INBOX\"}', ?1, ?2 FROM messages",
            rusqlite::params![packed.sha256, NOW],
        )
        .unwrap();
    }
    drop(conn);
    let pg = PgDb::new();
    let (s, p) = both(&store, &pg, "anna");
    let clock = pult::clock::Clock::fixed(NOW, common::moscow());
    let mut d = Differences::default();

    d.check("channels", s.channels(), p.channels());
    d.check("people", s.people(), p.people());
    d.check("quarantined", s.quarantined(), p.quarantined());
    d.check("status", s.status(), p.status());
    d.check("agenda", s.agenda(&clock, NOW + 30 * DAY), p.agenda(&clock, NOW + 30 * DAY));
    d.check("drafts", s.drafts(), p.drafts());
    d.check("outbox problems", s.outbox_problems(&clock), p.outbox_problems(&clock));
    d.check("audit", s.audit(0, &clock), p.audit(0, &clock));
    d.check("last change", s.last_change(), p.last_change());
    d.check("newest conversation", s.newest_conversation(), p.newest_conversation());
    d.check("store id", s.store_id(), p.store_id());
    d.check("the audit chain holds", s.verify_audit(), p.verify_audit());
    d.check("like scan", s.like_scan("акт"), p.like_scan("акт"));

    // The response-time views list what the caller computed (`set_sla`), not the store.
    for &view in View::SMART.iter().filter(|v| !matches!(v, View::SlaAtRisk | View::Breached)) {
        d.check(&format!("count {view:?}"), s.count(view), p.count(view));
        d.check(&format!("ids {view:?}"), s.conversation_ids(view), p.conversation_ids(view));
        let top = s.conversations(view, Window::Top, 7).unwrap();
        d.check(&format!("top of {view:?}"), Ok(top.clone()), p.conversations(view, Window::Top, 7));
        d.check(
            &format!("bottom of {view:?}"),
            s.conversations(view, Window::Bottom, 5),
            p.conversations(view, Window::Bottom, 5),
        );
        // Keyset pages from a row on, after it, before it.
        if let Some(row) = top.get(3) {
            let k: ListKey = row.key(view);
            for w in [Window::From(k), Window::After(k), Window::Before(k)] {
                d.check(&format!("{view:?} {w:?}"), s.conversations(view, w, 5), p.conversations(view, w, 5));
            }
        }
    }
    assert_eq!(s.count(View::Mentions).unwrap(), 1, "anna is mentioned");
    let all = s.conversation_ids(View::AllOpen).unwrap();
    let mut every: Vec<i64> = (1..=s.newest_conversation().unwrap()).collect();
    every.retain(|id| s.conversation(*id).unwrap().is_some());
    assert!(every.len() > 10, "the demo has conversations: {every:?}");
    let claimed = s.conversation(every[0]).unwrap().and_then(|c| c.claimed_by);
    assert_eq!(claimed.as_deref(), Some("boris"), "a claim is seen");
    d.check("open among", s.open_among(&every), p.open_among(&every));
    let mut messages = Vec::new();
    for &id in &every {
        d.check(&format!("conversation {id}"), s.conversation(id), p.conversation(id));
        let thread = s.thread(id, 200).unwrap();
        messages.extend(thread.iter().filter(|m| m.id > 0).map(|m| m.id));
        d.check(&format!("thread {id}"), Ok(thread), p.thread(id, 200));
        // A thread cut to its newest messages, its notes from there on.
        d.check(&format!("thread {id} of 2"), s.thread(id, 2), p.thread(id, 2));
        d.check(&format!("tasks {id}"), s.tasks(id), p.tasks(id));
        d.check(&format!("promise state {id}"), s.promise_state(id), p.promise_state(id));
        d.check(&format!("connection of {id}"), s.connection_of(id), p.connection_of(id));
        d.check(&format!("history of {id}"), s.conversation_audit(id, &clock), p.conversation_audit(id, &clock));
        d.check(&format!("client of {id}"), s.client_of(id), p.client_of(id));
        d.check(&format!("provisional client of {id}"), s.provisional_client(id), p.provisional_client(id));
    }
    assert!(!all.is_empty() && messages.len() > 20, "the demo has mail: {}", messages.len());
    let mut originals = 0;
    for &m in &messages {
        d.check(&format!("attachments of {m}"), s.attachments_of(m), p.attachments_of(m));
        d.check(&format!("authenticity of {m}"), s.mail_auth_of(m), p.mail_auth_of(m));
        // Originals are bytes in the database on PostgreSQL (moved there from beside the file).
        d.check(&format!("originals of {m}"), s.originals_of(m), p.originals_of(m));
        for o in s.originals_of(m).unwrap() {
            originals += 1;
            assert!(s.blob(&o.sha256).unwrap().is_some(), "{} is kept", o.sha256);
            d.check(&format!("original {} of {m}", o.sha256), s.blob(&o.sha256), p.blob(&o.sha256));
        }
    }
    assert_eq!(originals, 2, "both originals are read");

    // Clients: the list, each card, names, suggestions, found by name, evidence.
    let clients = s.clients().unwrap();
    assert!(clients.len() > 3, "the demo has clients");
    d.check("clients", Ok(clients.clone()), p.clients());
    d.check("client names", s.client_names(), p.client_names());
    d.check("suggestions", s.client_suggestions(), p.client_suggestions());
    for c in &clients {
        d.check(&format!("client {}", c.id), s.client(c.id), p.client(c.id));
        d.check(&format!("client target {}", c.id), s.client_target(c.id), p.client_target(c.id));
        let word = c.name.split_whitespace().next().unwrap_or("");
        d.check(&format!("find client {word}"), s.find_client(word), p.find_client(word));
        let (se, pe) = (s.evidence(c.id, None, None, true).unwrap(), p.evidence(c.id, None, None, true));
        d.check(&format!("evidence of {}", c.id), Ok(format!("{se:?}")), pe.map(|e| format!("{e:?}")));
        let (se, pe) = (
            s.evidence(c.id, Some(NOW - 3 * DAY), Some(NOW), false).unwrap(),
            p.evidence(c.id, Some(NOW - 3 * DAY), Some(NOW), false),
        );
        d.check(&format!("evidence of {} for three days", c.id), Ok(format!("{se:?}")), pe.map(|e| format!("{e:?}")));
    }

    // The response-time clocks' facts.
    let candidates = s.sla_candidates().unwrap();
    d.check("sla candidates", Ok(candidates.clone()), p.sla_candidates());
    d.check("sla active", s.sla_active(NOW - 30 * DAY, NOW + DAY), p.sla_active(NOW - 30 * DAY, NOW + DAY));
    d.check("sla policies", s.sla_policy_versions(), p.sla_policy_versions());
    let is_rules = |body: &str| body.contains("правила");
    d.check("sla facts", s.sla_facts(&every, &is_rules), p.sla_facts(&every, &is_rules));

    // Search over the demo: words, and every kind of filter alone.
    let mut queries: Vec<String> = [
        "акт",
        "счёт",
        "оплата",
        "\"акт сверки\"",
        "догов*",
        "has:attachment",
        "kind:email",
        "kind:telegram",
        "is:unanswered",
        "is:open",
        "is:overdue",
        "is:mine",
        "is:unread",
        "in:notes",
        "after:2026-11-01",
        "before:2026-11-25",
        "after:2026-11-10 before:2026-11-20",
        "-акт",
        "sort:relevance акт",
    ]
    .iter()
    .map(|q| q.to_string())
    .collect();
    for ch in s.channels().unwrap() {
        queries.push(format!("channel:{}", ch.name.to_lowercase()));
    }
    for c in &clients {
        if let Some(word) = c.organisation.as_deref().unwrap_or(&c.name).split_whitespace().last() {
            queries.push(format!("client:{}", word.trim_matches(|ch: char| !ch.is_alphanumeric())));
        }
        for t in &c.tags {
            queries.push(format!("tag:{t}"));
        }
    }
    let mut found = 0;
    for q in &queries {
        let hits = s.search(q, 30, &clock).unwrap_or_else(|e| panic!("{q}: {e}"));
        found += usize::from(!hits.is_empty());
        if q.contains("sort:relevance") {
            // Ranked by each engine's own measure: the same hits, maybe in another order.
            let ids = |h: Vec<pult::model::SearchHit>| {
                let mut v: Vec<(Option<i64>, Option<i64>)> = h.iter().map(|h| (h.message, h.note)).collect();
                v.sort();
                v
            };
            d.check(&format!("search {q}"), Ok(ids(hits)), p.search(q, 30, &clock).map(ids));
        } else {
            d.check(&format!("search {q}"), Ok(hits), p.search(q, 30, &clock));
        }
    }
    assert!(found * 2 > queries.len(), "most searches find something in the demo: {found} of {}", queries.len());
    d.assert_none();
}

/// The golden queries of tests/search.rs, through `Reader::search` (hits,
/// snippets, highlights and order) on both engines.
#[test]
fn the_golden_searches_find_the_same_hits_through_the_reader() {
    let (store, _) = super::searchable_on_both();
    let pg = PgDb::new();
    let (s, p) = both(&store.path, &pg, "anna");
    let clock = pult::clock::Clock::fixed(NOW, common::moscow());
    let filters = [
        // Filters alone and with words.
        "kind:email",
        "channel:почта",
        "is:unanswered",
        "is:open",
        "from:ирина after:2026-11-01",
        "before:2026-11-15",
        "after:2026-11-12 before:2026-11-19",
        "client:соколова",
        "client:сокол*",
        "-from:ирина",
        "акт OR from:олег",
    ];
    let golden = super::GOLDEN_QUERIES.iter().copied().chain(filters);
    let mut d = Differences::default();
    let mut found = 0;
    for q in golden {
        let hits = s.search(q, 100, &clock).unwrap_or_else(|e| panic!("{q}: {e}"));
        found += usize::from(!hits.is_empty());
        d.check(q, Ok(hits), p.search(q, 100, &clock));
        // The first page of two, as a screen pages them.
        d.check(&format!("{q} (2)"), s.search(q, 2, &clock), p.search(q, 2, &clock));
    }
    assert!(found >= 40, "the golden queries find something: {found}");
    d.assert_none();
}

/// What the reader's search runs on PostgreSQL reads the GIN index for a
/// rare word and the keys newest first for a common one.
#[test]
fn the_reader_s_search_reads_the_gin_index_or_the_newest_keys() {
    use pult::store::sql::Transact as _;
    let pg = PgDb::new();
    let mut db = pult::store::pg::PgDb::open(&pg.target).unwrap();
    db.write(|c| {
        c.exec("INSERT INTO channels (id, name, kind, created_at) VALUES (1, 'Почта', 'email', 0)", &[])?;
        c.exec(
            "INSERT INTO conversations (id, channel_id, remote_key, title, created_at)
             VALUES (1, 1, 't', 'Письма', 0)",
            &[],
        )?;
        Ok(())
    })
    .unwrap();
    let mut c = pg.connect();
    // A store of some size (a small table is read whole, index or not).
    c.batch_execute(
        "INSERT INTO messages (id, channel_id, conversation_id, remote_id, direction, author, sent_at, body)
         SELECT i, 1, 1, 'r' || i, 'in', 'Ирина', 1700000000 + i, 'заказ номер ' || i FROM generate_series(1, 60000) AS i;
         INSERT INTO search_keys (key, message_id, terms)
         SELECT (CAST(1700000000 AS BIGINT) + i) * 1048576, i, CAST(format('''заказ'':1B ''номер'':2B ''n%s'':3B', i) AS tsvector)
         FROM generate_series(1, 60000) AS i;
         ANALYZE",
    )
    .unwrap();
    // Two messages with a word no other has, in pult's terms.
    let rare = pult::store::pg::tsearch::with_words(|w| {
        pult::store::pg::tsearch::message_document(w, None, "редкое слово", None, "Ирина", "")
    });
    c.execute("UPDATE search_keys SET terms = CAST($1::text AS tsvector) WHERE message_id IN (17, 20017)", &[&rare])
        .unwrap();
    let reader = Reader::open_postgres(&pg.target, "anna").unwrap();
    let clock = pult::clock::Clock::fixed(NOW, common::moscow());
    let rare = reader.search_plan("редкое", 50, &clock).unwrap();
    assert!(rare.iter().any(|l| l.contains("search_keys_terms")), "{rare:#?}");
    let hits: Vec<i64> = reader.search("редкое", 50, &clock).unwrap().iter().filter_map(|h| h.message).collect();
    assert_eq!(hits, vec![20017, 17], "newest first");
    let common = reader.search_plan("заказ", 50, &clock).unwrap();
    assert!(common.iter().any(|l| l.contains("Index Scan Backward using search_keys_pkey")), "{common:#?}");
    let hits: Vec<i64> = reader.search("заказ", 3, &clock).unwrap().iter().filter_map(|h| h.message).collect();
    assert_eq!(hits, vec![60000, 59999, 59998]);
}

#[test]
fn a_reader_needs_a_store_its_writer_has_made() {
    let pg = PgDb::new();
    let e = Reader::open_postgres(&pg.target, "anna").err().expect("an empty database is no store");
    assert!(e.to_string().contains("schema 0"), "{e}");
    drop(pult::store::pg::PgDb::open(&pg.target).unwrap());
    let r = Reader::open_postgres(&pg.target, "anna").unwrap();
    assert_eq!(r.engine(), pult::store::sql::Engine::Postgres);
    assert!(r.conversations(View::AllOpen, Window::Top, 10).unwrap().is_empty());
    assert!(matches!(r.index_rows("messages", "x"), Err(pult::store::StoreError::NotOnPostgres)));
}

#[test]
fn a_reader_connects_again_after_the_server_closed_its_connection() {
    let pg = PgDb::new();
    drop(pult::store::pg::PgDb::open(&pg.target).unwrap());
    let r = Reader::open_postgres(&pg.target, "anna").unwrap();
    assert_eq!(r.newest_conversation().unwrap(), 0);
    // As a restart does: the server ends every client session of the database but
    // this one. Only client sessions of our role: an autovacuum worker counts as a
    // superuser's, which the test role may not end. The timeout waits until each
    // session has ended, so the reader's next call meets the closed connection.
    let mut c = pg.connect();
    let ended: Vec<bool> = c
        .query(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid() \
               AND backend_type = 'client backend' AND usename = current_user",
            &[&pg.name],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    // (A session already on its way out answers false.)
    assert!(ended.iter().any(|e| *e), "the reader's session was ended: {ended:?}");
    // The call that meets the closed connection may fail; the next one reads.
    let _ = r.newest_conversation();
    assert_eq!(r.newest_conversation().unwrap(), 0);
    assert!(r.conversations(View::AllOpen, Window::Top, 5).unwrap().is_empty());
}
