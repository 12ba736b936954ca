//! The WhatsApp channel end to end: pult's real webhook receiver, worker and
//! sender, driven by signed payloads as Meta sends them, against the loopback
//! fake of the Graph API.

mod common;

use common::*;
use pult::channels::registry::{self, Channel};
use pult::channels::whatsapp::fake::{self, FakeGraphApi, meta};
use pult::channels::whatsapp::receiver;
use pult::channels::whatsapp::webhook::build;
use pult::model::{ChannelStatus, Delivery, View};
use pult::store::{Reader, intents};
use pult::sync::dispatcher::{Senders, dispatch_due};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;

const CLIENT: &str = "79161234567";

/// A config file with one WhatsApp account on the fake; secrets in 0600 files.
fn write_config(dir: &Path, api_url: &str, listen: &str, extra: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    for (file, value) in [("token", fake::TOKEN), ("app-secret", fake::APP_SECRET), ("verify", fake::VERIFY_TOKEN)] {
        let p = dir.join(file);
        std::fs::write(&p, value).expect("secret");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let cfg = dir.join("config.toml");
    let d = dir.display();
    std::fs::write(
        &cfg,
        format!(
            r#"[agent]
name = "anna"

[[accounts]]
kind = "whatsapp"
name = "whatsapp"
phone_number_id = "{}"
token_file = "{d}/token"
app_secret_file = "{d}/app-secret"
verify_token_file = "{d}/verify"
api_url = "{api_url}"
webhook_listen = "{listen}"
{extra}
"#,
            fake::PHONE_NUMBER_ID
        ),
    )
    .expect("config");
    cfg
}

fn free_port() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").to_string()
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

struct Setup {
    fake: FakeGraphApi,
    store: TempStore,
    addr: String,
    channel: Arc<dyn Channel>,
    rt: tokio::runtime::Runtime,
    _worker: tokio::task::JoinHandle<()>,
}

fn setup(extra: &str) -> Setup {
    let fake = FakeGraphApi::start().expect("fake graph api");
    let store = temp_store();
    let addr = free_port();
    let cfg_path = write_config(store.dir.path(), &fake.api_url(), &addr, extra);
    let mut cfg = pult::config::Config::load(&cfg_path).expect("config");
    // Media beside this store, not in the user's data dir.
    let ctx =
        registry::Context { timezone: moscow(), media_dir: store.dir.path().join("media"), lang: pult::i18n::Lang::En };
    let account = cfg.accounts.remove(0);
    let id = channel(&store, "whatsapp", pult::model::ChannelKind::Whatsapp);
    let channel = registry::open(&account, id, &ctx).expect("open the channel");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let worker = rt.spawn(channel.run(store.writer.clone()));
    eventually("the webhook receiver to listen", || std::net::TcpStream::connect(&addr).is_ok());
    Setup { fake, store, addr, channel, rt, _worker: worker }
}

impl Setup {
    fn post(&self, payload: &serde_json::Value) -> u16 {
        meta::post(&self.addr, Some(fake::APP_SECRET), payload.to_string().as_bytes()).expect("post")
    }

    fn client_says(&self, wamid: &str, at: i64, text: &str) -> u16 {
        self.fake.client_wrote(CLIENT, at);
        self.post(&build::text(fake::PHONE_NUMBER_ID, CLIENT, "Ольга Семёнова", wamid, at, text))
    }

    fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(&self.store.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    fn text(&self, sql: &str) -> Option<String> {
        rusqlite::Connection::open(&self.store.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    fn reader(&self) -> Reader {
        let mut r = Reader::open(&self.store.path, "anna").expect("reader");
        let t = now();
        r.set_moment(pult::model::Moment { now: t, end_of_today: t, risk_until: t });
        r
    }

    fn conversation(&self) -> i64 {
        self.count("SELECT id FROM conversations")
    }

    fn dispatch(&self) -> pult::sync::dispatcher::DispatchReport {
        let mut senders: Senders = Default::default();
        senders.insert(self.channel.id(), self.channel.sender(&self.store.writer));
        self.rt.block_on(dispatch_due(&self.store.writer, &senders))
    }

    fn queue(&self, reply_to: Option<i64>, body: &str) -> i64 {
        let mut r = reply(self.conversation(), body);
        r.reply_to_message_id = reply_to;
        r.not_before = 0;
        self.store.writer.call_blocking(move |c| intents::queue_reply(c, &r, now())).expect("queue")
    }

    fn unanswered(&self) -> Vec<i64> {
        let list = self.reader().conversations(View::Unanswered, pult::model::Window::Top, 50).expect("list");
        list.iter().map(|c| c.id).collect()
    }
}

#[test]
fn verification_answers_only_the_right_token_and_unsigned_posts_store_nothing() {
    let s = setup("");
    assert_eq!(meta::verify(&s.addr, fake::VERIFY_TOKEN, "1158201444").expect("verify"), (200, "1158201444".into()));
    assert_eq!(meta::verify(&s.addr, "guess", "1158201444").expect("verify").0, 403);

    let payload = build::text(fake::PHONE_NUMBER_ID, CLIENT, "Ольга", "wamid.forged", now(), "переведите 100 000");
    let body = payload.to_string();
    assert_eq!(meta::post(&s.addr, None, body.as_bytes()).expect("post"), 401, "unsigned");
    assert_eq!(meta::post(&s.addr, Some("not-the-secret"), body.as_bytes()).expect("post"), 401, "forged");
    // Signed, then changed on the way: the signature covers the raw bytes.
    let signed = pult::channels::whatsapp::webhook::sign(fake::APP_SECRET.as_bytes(), body.as_bytes());
    let tampered = body.replace("100 000", "900 000");
    let head = format!(
        "POST /whatsapp HTTP/1.1\r\nHost: x\r\nX-Hub-Signature-256: {signed}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        tampered.len()
    );
    assert_eq!(meta::request(&s.addr, &head, tampered.as_bytes()).expect("post").0, 401, "tampered");
    assert_eq!(s.count("SELECT count(*) FROM messages"), 0);
    assert_eq!(s.count("SELECT count(*) FROM quarantine"), 0, "nothing of an unsigned body is kept");

    assert_eq!(meta::post(&s.addr, Some(fake::APP_SECRET), body.as_bytes()).expect("post"), 200);
    assert_eq!(s.count("SELECT count(*) FROM messages"), 1);
}

#[test]
fn messages_of_every_kind_arrive_once_with_their_media_fetched_and_voice_transcribed() {
    let s = setup(r#"transcribe_command = ["sh", "-c", "echo Пришлите акт сверки", "transcriber"]"#);
    let t = now() - 60;
    assert_eq!(s.client_says("wamid.text1", t, "Добрый день! Нужен акт сверки"), 200);
    assert_eq!(s.client_says("wamid.text1", t, "Добрый день! Нужен акт сверки"), 200, "Meta retries");
    let pdf = b"%PDF-1.4 fake act".to_vec();
    let doc_id = s.fake.add_media("application/pdf", &pdf);
    let doc = build::message(
        fake::PHONE_NUMBER_ID,
        CLIENT,
        "Ольга Семёнова",
        "wamid.doc1",
        t + 1,
        json!({"type": "document", "document": {"id": doc_id, "filename": "акт.pdf", "mime_type": "application/pdf", "caption": "Вот акт за октябрь"}}),
    );
    assert_eq!(s.post(&doc), 200);
    let voice_id = s.fake.add_media("audio/ogg; codecs=opus", b"OggS fake voice");
    let voice = build::message(
        fake::PHONE_NUMBER_ID,
        CLIENT,
        "Ольга Семёнова",
        "wamid.voice1",
        t + 2,
        json!({"type": "audio", "audio": {"id": voice_id, "mime_type": "audio/ogg; codecs=opus", "voice": true}}),
    );
    assert_eq!(s.post(&voice), 200);
    let unknown = build::message(
        fake::PHONE_NUMBER_ID,
        CLIENT,
        "Ольга Семёнова",
        "wamid.odd",
        t + 3,
        json!({"type": "order", "order": {"catalog_id": "1"}}),
    );
    assert_eq!(s.post(&unknown), 200);

    assert_eq!(s.count("SELECT count(*) FROM messages"), 4, "the retry is stored once");
    assert_eq!(s.count("SELECT count(*) FROM conversations"), 1);
    assert_eq!(s.text("SELECT remote_key FROM conversations").as_deref(), Some(CLIENT));
    assert_eq!(s.text("SELECT handle FROM identities").as_deref(), Some(CLIENT));
    assert_eq!(
        s.text("SELECT body FROM messages WHERE remote_id = 'wamid.odd'").as_deref(),
        Some("[unsupported message type order]")
    );

    // Fetched when they came, content-addressed, and readable through the channel.
    eventually("media fetched", || s.count("SELECT count(*) FROM attachments WHERE content_hash IS NOT NULL") == 2);
    let msg = s.count("SELECT id FROM messages WHERE remote_id = 'wamid.doc1'");
    let located = pult::attachments::locate(&s.reader(), msg).expect("locate");
    assert_eq!(located[0].name, "акт.pdf");
    assert_eq!(located[0].size, Some(pdf.len() as i64));
    let bytes = s.rt.block_on(s.channel.fetch(&located)).expect("fetch");
    assert_eq!(bytes, vec![pdf.clone()]);
    // Kept in the store, where every team member's pult reads it (and where
    // it outlives the media id, which expires): not in this user's home.
    let held = pult::attachments::with_stored(&s.reader(), located).expect("stored");
    assert_eq!(held[0].stored.as_deref(), Some(&pdf[..]));
    // No account configured: only the store can have given them.
    let nobody = pult::config::Config::default();
    assert_eq!(s.rt.block_on(pult::attachments::fetch(&nobody, &held)).expect("from the store"), vec![pdf]);
    // The caption is the text, and search finds it; the voice note's transcript too.
    eventually("the transcript", || {
        s.text("SELECT body FROM messages WHERE remote_id = 'wamid.voice1'")
            .is_some_and(|b| b.contains("Пришлите акт сверки"))
    });
    let clock = pult::clock::Clock::fixed(now(), moscow());
    let hits = s.reader().search("октябрь", 10, &clock).expect("search");
    assert_eq!(hits.len(), 1, "{hits:?}");
    // The voice note's copy for the transcriber is gone with its run.
    let left: Vec<_> = std::fs::read_dir(s.store.dir.path().join("media"))
        .map(|d| d.flatten().flat_map(|a| std::fs::read_dir(a.path()).into_iter().flatten().flatten()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_reply_goes_as_a_reply_and_statuses_in_any_order_end_in_the_furthest() {
    let s = setup("");
    assert_eq!(s.client_says("wamid.ask", now() - 120, "Когда будет отчёт?"), 200);
    let asked = s.count("SELECT id FROM messages WHERE remote_id = 'wamid.ask'");
    assert_eq!(s.unanswered(), vec![s.conversation()]);
    // Anna opens the chat: the client's phone shows blue ticks, once.
    let conv = s.conversation();
    s.store.writer.call_blocking(move |c| intents::mark_read(c, "anna", conv, now())).expect("read");
    eventually("the read mark reaches WhatsApp", || s.fake.reads() == vec!["wamid.ask".to_string()]);
    s.queue(Some(asked), "Принято в работу, отчёт будет завтра до 12:00");
    assert_eq!(s.dispatch().sent, 1);
    let sent = s.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["to"], CLIENT);
    assert_eq!(sent[0]["type"], "text");
    assert_eq!(sent[0]["text"]["body"], "Принято в работу, отчёт будет завтра до 12:00");
    assert_eq!(sent[0]["text"]["preview_url"], false);
    assert_eq!(sent[0]["context"]["message_id"], "wamid.ask", "a reply to the question");
    let wamid = s.text("SELECT remote_id FROM messages WHERE direction = 'out'").expect("wamid");
    assert!(wamid.starts_with("wamid.HBgLFAKE"), "{wamid}");
    assert!(s.unanswered().is_empty(), "answered");

    // Read overtakes delivered; delivered after read changes nothing.
    for status in ["read", "delivered", "sent"] {
        assert_eq!(s.post(&build::status(fake::PHONE_NUMBER_ID, &wamid, CLIENT, status, now(), &[])), 200);
    }
    assert_eq!(
        s.text("SELECT delivery FROM messages WHERE direction = 'out'").as_deref(),
        Some(Delivery::Read.as_str())
    );
    // A reaction sits on the message it reacts to.
    let reaction = build::message(
        fake::PHONE_NUMBER_ID,
        CLIENT,
        "Ольга Семёнова",
        "wamid.react",
        now(),
        json!({"type": "reaction", "reaction": {"message_id": wamid, "emoji": "👍"}}),
    );
    assert_eq!(s.post(&reaction), 200);
    assert_eq!(s.text("SELECT emoji FROM reactions").as_deref(), Some("👍"));
    assert_eq!(s.fake.reads(), vec!["wamid.ask".to_string()], "told once");
    assert!(s.unanswered().is_empty(), "a reaction asks nothing");

    // The client asks again; the answer fails on their side: the reason is
    // shown, and the client waits again.
    assert_eq!(s.client_says("wamid.ask2", now() + 5, "А акт?"), 200);
    s.queue(None, "Акт готов");
    assert_eq!(s.dispatch().sent, 1);
    let second = s.text("SELECT remote_id FROM messages WHERE direction = 'out' ORDER BY id DESC LIMIT 1").expect("id");
    let failed =
        build::status(fake::PHONE_NUMBER_ID, &second, CLIENT, "failed", now(), &[(131026, "Message undeliverable")]);
    assert_eq!(s.post(&failed), 200);
    let error = s.text("SELECT error FROM messages WHERE direction = 'out' ORDER BY id DESC LIMIT 1").expect("error");
    assert!(error.contains("131026") && error.contains("Message undeliverable"), "{error}");
    assert_eq!(s.unanswered(), vec![s.conversation()], "the client has not been answered");
    let r = s.reader();
    let c = r.conversation(s.conversation()).expect("read").expect("conversation");
    let clock = pult::clock::Clock::fixed(now(), moscow());
    let export = pult::scripting::ThreadExport::new(&c, &r.thread(c.id, 100).expect("thread"), &[], &clock);
    let last = export.messages.iter().rfind(|m| m.direction == "out").expect("our last");
    assert_eq!((last.delivery, last.error.as_deref().is_some_and(|e| e.contains("131026"))), (Some("failed"), true));
    // Where people look: counted as failed, listed by the outbox and «Not sent», offered again.
    assert_eq!(r.status().expect("status").failed, 1);
    let problems = r.outbox_problems(&clock).expect("outbox");
    assert!(problems.iter().any(|p| p.state == "failed" && p.error.contains("131026")), "{problems:?}");
    assert_eq!(r.count(View::Unsent).expect("count"), 1);
    let conv = s.conversation();
    let again = s
        .store
        .writer
        .call_blocking(move |c| intents::resolve_latest(c, conv, intents::Resolution::Retry, "anna", now()));
    assert!(again.expect("retry").is_some(), "E offers it again");
    assert_eq!(s.dispatch().sent, 1, "sent again");
}

#[test]
fn the_api_refusals_are_told_apart() {
    let s = setup("");
    assert_eq!(s.client_says("wamid.q", now() - 60, "Вопрос"), 200);
    // Rate limited: tried again later, not failed.
    s.fake.fail_next("messages", 400, 130429, "Rate limit hit");
    let id = s.queue(None, "Ответ");
    let report = s.dispatch();
    assert_eq!((report.sent, report.retrying), (0, 1));
    assert_eq!(s.text(&format!("SELECT state FROM outbox WHERE id = {id}")).as_deref(), Some("pending"));
    // The window closed on Meta's side: failed for good, with the reason.
    s.fake.fail_next("messages", 400, 131047, "Re-engagement message");
    let id = s.queue(None, "Ответ");
    assert_eq!(s.dispatch().failed.len(), 1);
    let err = s.text(&format!("SELECT error FROM outbox WHERE id = {id}")).expect("error");
    assert!(err.contains("24 hours") && err.contains("131047"), "{err}");
    // The token expired: the channel shows ⚠ and the message waits.
    s.fake.set_token_expired(true);
    let id = s.queue(None, "Ответ ещё раз");
    assert_eq!(s.dispatch().retrying, 1);
    assert_eq!(s.text(&format!("SELECT state FROM outbox WHERE id = {id}")).as_deref(), Some("pending"));
    let channels = s.reader().channels().expect("channels");
    assert!(
        matches!(&channels[0].status, Some(ChannelStatus::AuthFailed(why)) if why.contains("token")),
        "{channels:?}"
    );
    assert!(s.fake.sent().is_empty());
}

#[test]
fn a_reply_outside_the_window_is_refused_before_it_is_queued() {
    let home = tempfile::tempdir().expect("home");
    let fake = FakeGraphApi::start().expect("fake");
    let cfg = write_config(home.path(), &fake.api_url(), &free_port(), "");
    let store = home.path().join("pult.db");
    let writer = pult::store::Writer::spawn(&store).expect("writer");
    let ch = writer
        .call_blocking(|c| pult::store::ingest::ensure_channel(c, "whatsapp", pult::model::ChannelKind::Whatsapp, NOW))
        .expect("channel");
    let old = build::text(fake::PHONE_NUMBER_ID, CLIENT, "Ольга", "wamid.old", now() - 25 * 3600, "Счёт пришлите");
    let events = pult::channels::whatsapp::receiver::events_of(old.to_string().as_bytes(), fake::PHONE_NUMBER_ID);
    writer.call_blocking(move |c| pult::store::events::apply(c, ch, &events, now())).expect("store");
    drop(writer);
    let out = pult(home.path())
        .args(["reply", "--conversation", "1", "--body", "Счёт во вложении", "--config"])
        .arg(&cfg)
        .arg("--store")
        .arg(&store)
        .output()
        .expect("pult reply");
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stdout));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("24 hours"), "{err}");
    assert!(err.contains("--template whatsapp-follow-up"), "names what can go: {err}");
    let count = |sql: &str| -> i64 {
        rusqlite::Connection::open(&store).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
    };
    assert_eq!(count("SELECT count(*) FROM outbox"), 0);

    // The approved template goes, as a template, with the client's name filled in.
    let run = |args: &[&str]| {
        pult(home.path()).args(args).arg("--config").arg(&cfg).arg("--store").arg(&store).output().expect("pult")
    };
    let out = run(&["reply", "--conversation", "1", "--template", "whatsapp-follow-up"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(count("SELECT count(*) FROM outbox WHERE template IS NOT NULL"), 1);
    fake.approve_template("pult_follow_up", "ru");
    let out = run(&["sync", "--once"]);
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let sent = fake.sent();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["type"], "template");
    assert_eq!(sent[0]["template"]["name"], "pult_follow_up");
    assert_eq!(sent[0]["template"]["language"]["code"], "ru");
    assert_eq!(sent[0]["template"]["components"][0]["parameters"][0]["text"], "Ольга");
    assert_eq!(count("SELECT count(*) FROM outbox WHERE state = 'sent'"), 1);
}

/// Meta retries a POST it got no answer to. pult dies (as by kill -9) after
/// the commit and before the `200`; the daemon comes back, Meta retries, and
/// the message is there once.
#[test]
fn a_crash_between_the_commit_and_the_answer_loses_nothing_and_the_retry_is_stored_once() {
    let home = tempfile::tempdir().expect("home");
    let fake = FakeGraphApi::start().expect("fake");
    let addr = free_port();
    let cfg = write_config(home.path(), &fake.api_url(), &addr, "");
    let store = home.path().join("pult.db");
    let daemon = |failpoint: bool| {
        let mut c = pult(home.path());
        c.args(["daemon", "--config"]).arg(&cfg).arg("--store").arg(&store);
        if failpoint {
            c.env("PULT_FAILPOINT", "whatsapp-after-commit");
        }
        c.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
        c.spawn().expect("daemon")
    };
    let payload =
        build::text(fake::PHONE_NUMBER_ID, CLIENT, "Ольга", "wamid.once", now(), "Платёжка во вложении").to_string();
    let mut first = daemon(true);
    eventually("the receiver", || std::net::TcpStream::connect(&addr).is_ok());
    assert!(
        meta::post(&addr, Some(fake::APP_SECRET), payload.as_bytes()).is_err(),
        "the process died before answering"
    );
    let status = first.wait().expect("reaped");
    assert!(!status.success());
    let mut second = daemon(false);
    eventually("the receiver again", || std::net::TcpStream::connect(&addr).is_ok());
    assert_eq!(meta::post(&addr, Some(fake::APP_SECRET), payload.as_bytes()).expect("retry"), 200);
    let _ = second.kill();
    let _ = second.wait();
    let n: i64 = rusqlite::Connection::open(&store)
        .expect("open")
        .query_row("SELECT count(*) FROM messages WHERE remote_id = 'wamid.once'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);
}

/// In the TUI: `r` on a WhatsApp chat whose client wrote 25 hours ago says
/// why at once, in the UI's language, instead of opening a composer for a
/// reply that cannot leave; a chat inside the window opens as usual.
#[test]
fn the_composer_says_the_window_closed_before_anything_is_typed() {
    let store = temp_store();
    let ch = channel(&store, "whatsapp", pult::model::ChannelKind::Whatsapp);
    let events: Vec<_> = [("wamid.old", "79160000001", NOW - 25 * 3600), ("wamid.new", "79160000002", NOW - 3600)]
        .iter()
        .flat_map(|(id, who, at)| {
            let p = build::text("PN", who, "Ольга", id, *at, "Пришлите счёт");
            pult::channels::whatsapp::receiver::events_of(p.to_string().as_bytes(), "PN")
        })
        .collect();
    store.writer.call_blocking(move |c| pult::store::events::apply(c, ch, &events, NOW)).expect("store");
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 80, 24);
    let old =
        h.app.state.list.rows.iter().position(|r| r.title.contains("Ольга") && r.last_message_at == NOW - 25 * 3600);
    let new = h.app.state.list.rows.iter().position(|r| r.last_message_at == NOW - 3600);
    let old = old.expect("old chat listed");
    assert!(new.is_some(), "new chat listed");
    h.keys("g g");
    for _ in 0..old {
        h.keys("j");
    }
    h.keys("r");
    assert!(h.app.state.composer.is_none(), "no composer for a reply that cannot go");
    let screen = h.screen();
    assert!(screen.contains("больше 24 часов назад"), "{screen}");
    assert!(screen.contains("WhatsApp: написать после 24 часов"), "offers the approved template: {screen}");
    // `t` offers the templates; the approved one opens a composer and goes as a template.
    h.keys("t").type_text("после 24").keys("<Enter>");
    let c = h.app.state.composer.as_ref().expect("a composer for the approved template");
    assert!(c.template.as_deref().is_some_and(|t| t.contains("pult_follow_up")), "{:?}", c.template);
    h.keys("<C-x>");
    let templated: i64 = rusqlite::Connection::open(&h.store.path)
        .expect("open")
        .query_row("SELECT count(*) FROM outbox WHERE template LIKE '%pult_follow_up%'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(templated, 1);
    h.keys("<Esc> g g");
    let new = h.app.state.list.rows.iter().position(|r| r.last_message_at == NOW - 3600).expect("listed");
    for _ in 0..new {
        h.keys("j");
    }
    h.keys("r");
    assert!(h.app.state.composer.is_some(), "inside the window");
    let screen = h.screen();
    assert!(screen.contains("окно ответа закроется через 23 ч"), "the time left: {screen}");
}

/// The Graph API took the message and its answer was lost: "may have been
/// sent", one POST only, never resent by itself.
#[test]
fn a_lost_answer_is_maybe_sent_and_posted_once() {
    let s = setup("");
    assert_eq!(s.client_says("wamid.q", now() - 60, "Акт готов?"), 200);
    let id = s.queue(None, "Акт будет завтра.");
    s.fake.drop_next_send_answer();
    let report = s.dispatch();
    assert!(report.failed.first().is_some_and(|f| f.1.contains("may have been sent")), "{report:?}");
    for _ in 0..3 {
        assert_eq!(s.dispatch().handled(), 0, "never resent by itself");
    }
    assert_eq!(s.fake.sent().len(), 1, "one POST reached the API");
    assert_eq!(s.count(&format!("SELECT count(*) FROM outbox WHERE id = {id} AND state = 'unknown'")), 1);
}

/// After the 24 hours, with an old draft kept (bank details): `t` offers only
/// the approved template and opens it alone; a line typed beside it is
/// refused (the record would lie); as approved it goes, and the thread
/// records exactly the template's text while the draft stays kept.
#[test]
fn an_approved_template_is_recorded_as_what_went_and_nothing_else() {
    let s = setup("");
    s.fake.approve_template("pult_follow_up", "ru");
    assert_eq!(s.client_says("wamid.old", NOW - 25 * 3600, "Пришлите счёт"), 200);
    let conv = s.conversation();
    let key = pult::store::drafts::DraftKey { conversation: conv, kind: pult::store::drafts::DraftKind::Reply };
    let draft = pult::store::drafts::Draft { body: "Реквизиты: р/с 40702810".into(), ..Default::default() };
    s.store.writer.call_blocking(move |c| pult::store::drafts::save(c, "Анна", key, &draft, NOW)).expect("draft");
    let mut h = Harness::in_language(shared(&s.store.path, &s.store.writer), pult::i18n::Lang::Ru, 80, 24);
    h.app.state.undo_seconds = 0;
    h.keys("<Enter> t");
    let screen = h.screen();
    assert!(screen.contains("WhatsApp: написать после 24"), "{screen}");
    assert!(!screen.contains("Принято в работу"), "only what can go now is offered: {screen}");
    h.keys("<Enter>");
    let c = h.app.state.composer.as_ref().expect("composer");
    let shown = c.textarea.lines().join("\n");
    assert!(!shown.contains("Реквизиты"), "the kept draft is not joined to the template: {shown}");
    // A line typed beside the approved template: refused, nothing queued.
    h.keys("<Enter>").type_text("И ещё акт сверки").keys("<C-x>");
    assert!(h.screen().contains("Одобренный шаблон уходит только как есть"), "{}", h.screen());
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);
    h.keys("<Esc> t <Enter> <C-x>");
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 1);
    let report = s.dispatch();
    assert_eq!(report.sent, 1, "{report:?}");
    let sent = s.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["type"], "template");
    // The record is what went: the template's text with its parameter.
    let body = s.text("SELECT body FROM messages WHERE direction = 'out'").expect("body");
    let param = sent[0].pointer("/template/components/0/parameters/0/text").and_then(|v| v.as_str());
    assert!(param.is_some_and(|p| body.contains(p)), "{body} vs {sent:?}");
    assert!(body.starts_with("Здравствуйте") && !body.contains("Реквизиты") && !body.contains("акт сверки"), "{body}");
    let kept = s.text(&format!("SELECT body FROM drafts WHERE conversation_id = {conv}"));
    assert_eq!(kept.as_deref(), Some("Реквизиты: р/с 40702810"), "the draft stays kept");
}

/// pult's receiver alone, with `limits`, storing into a fresh store.
struct Bare {
    store: TempStore,
    addr: String,
    _rt: tokio::runtime::Runtime,
}

fn bare_receiver(limits: receiver::Limits) -> Bare {
    let store = temp_store();
    let id = channel(&store, "whatsapp", pult::model::ChannelKind::Whatsapp);
    let (media_wake, _) = tokio::sync::mpsc::unbounded_channel();
    let rx = Arc::new(receiver::Receiver {
        app_secret: fake::APP_SECRET.as_bytes().to_vec(),
        verify_token: fake::VERIFY_TOKEN.into(),
        phone_number_id: fake::PHONE_NUMBER_ID.into(),
        writer: store.writer.clone(),
        channel: id,
        media_wake,
        die_after_commit: false,
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    rt.spawn(receiver::serve_with(listener, rx, limits));
    Bare { store, addr, _rt: rt }
}

/// A client that stops halfway: `stage` 0 sends nothing, 1 half the headers,
/// 2 the headers and half the body.
fn stall(addr: &str, stage: usize) -> std::net::TcpStream {
    use std::io::Write;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    let sent: &[u8] = match stage {
        0 => b"",
        1 => b"POST /whatsapp HTTP/1.1\r\nHost: pult\r\nContent-Le",
        _ => b"POST /whatsapp HTTP/1.1\r\nHost: pult\r\nContent-Length: 5000\r\n\r\n{\"object\": \"whatsapp_",
    };
    s.write_all(sent).expect("write");
    s
}

/// What the server sent before it closed the connection; `None` if it was
/// still open after a minute (the test's bound, far past any limit used).
fn until_closed(s: &mut std::net::TcpStream) -> Option<String> {
    use std::io::Read;
    s.set_nonblocking(false).expect("blocking");
    s.set_read_timeout(Some(std::time::Duration::from_secs(60))).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(String::from_utf8_lossy(&got).into_owned()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Some(String::from_utf8_lossy(&got).into_owned());
            }
            Err(_) => return None,
        }
    }
}

fn still_open(s: &std::net::TcpStream) -> bool {
    s.set_nonblocking(true).expect("nonblocking");
    let mut buf = [0u8; 1];
    matches!(s.peek(&mut buf), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
}

/// 300 stalled connections against a cap of 256: the oldest are closed to
/// make room, and Meta's signed POST, the newest, is answered and stored
/// while the stalled ones are still within their (long) deadlines.
#[test]
fn many_stalled_connections_do_not_keep_a_genuine_post_out() {
    let limits = receiver::Limits {
        header_read: std::time::Duration::from_secs(600),
        body_read: std::time::Duration::from_secs(600),
        ..Default::default()
    };
    assert_eq!(limits.connections, 256);
    let b = bare_receiver(limits);
    let mut stalled: Vec<std::net::TcpStream> = (0..300).map(|i| stall(&b.addr, 1 + i % 2)).collect();
    let payload = build::text(fake::PHONE_NUMBER_ID, CLIENT, "Ольга Семёнова", "wamid.genuine", now(), "Счёт оплачен");
    let status = meta::post(&b.addr, Some(fake::APP_SECRET), payload.to_string().as_bytes()).expect("post");
    assert_eq!(status, 200);
    let stored: i64 = rusqlite::Connection::open(&b.store.path)
        .expect("open")
        .query_row("SELECT count(*) FROM messages WHERE remote_id = 'wamid.genuine'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(stored, 1);
    // 300 stalled + the POST over 256 places: the 45 oldest were closed, the rest are held.
    let closed = 300 + 1 - limits.connections;
    for (i, s) in stalled.iter_mut().enumerate().take(closed) {
        assert!(until_closed(s).is_some(), "stalled connection {i} was not closed to make room");
    }
    let open = stalled[closed..].iter().filter(|s| still_open(s)).count();
    assert_eq!(open, 300 - closed, "the newer stalled connections are held within the cap");
}

/// Each stage of a stalled client is cut at its deadline (the test waits for
/// the close, bounded, instead of sleeping), and the receiver still answers.
#[test]
fn a_stalled_client_is_cut_at_its_deadline() {
    let limit = std::time::Duration::from_millis(300);
    let b = bare_receiver(receiver::Limits { header_read: limit, body_read: limit, ..Default::default() });
    for stage in 0..3 {
        let start = std::time::Instant::now();
        let mut s = stall(&b.addr, stage);
        let said = until_closed(&mut s).unwrap_or_else(|| panic!("stage {stage}: still open after a minute"));
        assert!(start.elapsed() >= limit, "stage {stage}: closed before its deadline");
        if stage == 2 {
            assert!(said.starts_with("HTTP/1.1 408"), "a cut body is answered 408: {said:?}");
        }
    }
    let payload = build::text(fake::PHONE_NUMBER_ID, CLIENT, "Ольга Семёнова", "wamid.after", now(), "Добрый день");
    assert_eq!(meta::post(&b.addr, Some(fake::APP_SECRET), payload.to_string().as_bytes()).expect("post"), 200);
}
