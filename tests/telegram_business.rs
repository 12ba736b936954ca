//! Telegram Business end to end against the loopback Bot API fake: the
//! accountant's own chats seen through a business connection, her own
//! messages as answers, replies through the connection, refusals before
//! anything is queued, deletions, read marks, and updates pult cannot read
//! kept in quarantine inside the offset's transaction.

mod common;

use common::*;
use pult::channels::telegram::{self, fake::FakeBotApi, fake::updates as u};
use pult::model::{ChannelKind, View};
use pult::store::{Reader, intents};
use serde_json::json;

const CONN: &str = "AbCdBusinessConn1";
const ANNA: i64 = 5001;
const CLIENT: i64 = 7001;

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

type Setup = bot::BotSetup;

fn setup(can_reply: bool, enabled: bool) -> Setup {
    let s = Setup::start();
    let conn = u::connection(CONN, u::user(ANNA, "Анна", "Смирнова"), can_reply, true, enabled, now() - 86400);
    s.fake.set_business_connection(conn.clone());
    s.fake.push(u::business_connection(conn));
    s
}

impl Setup {
    /// A message in the business chat with the client, from `who` (CLIENT or ANNA).
    fn writes(&self, who: i64, id: i64, at: i64, text: &str) {
        let from = if who == ANNA {
            u::user(ANNA, "Анна", "Смирнова")
        } else {
            u::user(CLIENT, "Ирина", "Петрова")
        };
        self.fake.push(u::business_message(CONN, u::private_chat(CLIENT, "Ирина"), from, id, at, u::text(text)));
    }

    fn client_writes(&self, id: i64, at: i64, text: &str) {
        self.writes(CLIENT, id, at, text);
    }

    fn anna_writes(&self, id: i64, at: i64, text: &str) {
        self.writes(ANNA, id, at, text);
    }

    fn reader(&self) -> Reader {
        let mut r = Reader::open(&self.store.path, "anna").expect("reader");
        let t = now();
        r.set_moment(pult::model::Moment { now: t, end_of_today: t, risk_until: t });
        r
    }

    fn business_conversation(&self) -> i64 {
        self.count(&format!("SELECT id FROM conversations WHERE remote_key = 'biz:{CONN}:{CLIENT}'"))
    }

    fn waiting(&self) -> bool {
        let c = self.business_conversation();
        let list = self.reader().conversations(View::Unanswered, pult::model::Window::Top, 50).expect("list");
        list.iter().any(|r| r.id == c)
    }

    fn queue(&self, body: &str) -> i64 {
        let mut r = reply(self.business_conversation(), body);
        r.not_before = 0;
        self.store.writer.call_blocking(move |c| intents::queue_reply(c, &r, now())).expect("queue")
    }

    /// `pult reply` on the business conversation, with a config for this bot.
    fn pult_reply(&self, body: &str) -> std::process::Output {
        self.pult_reply_with(&["--body", body])
    }

    /// `pult reply --conversation <the business chat> ARGS`.
    fn pult_reply_with(&self, args: &[&str]) -> std::process::Output {
        use std::os::unix::fs::PermissionsExt;
        let dir = self.store.dir.path();
        let token = dir.join("token");
        std::fs::write(&token, "123:TEST").expect("token");
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let cfg = dir.join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "[[accounts]]\nkind = \"telegram\"\nname = \"office-bot\"\ntoken_file = {:?}\napi_url = {:?}\n",
                token.display().to_string(),
                self.fake.url()
            ),
        )
        .expect("config");
        pult(dir)
            .args(["reply", "--conversation", &self.business_conversation().to_string()])
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .arg("--store")
            .arg(&self.store.path)
            .output()
            .expect("pult reply")
    }
}

#[test]
fn the_owners_own_messages_answer_the_client_and_replies_go_through_the_connection() {
    let s = setup(true, true);
    s.client_writes(10, now() - 300, "Анна, когда будет акт сверки?");
    // The same client also wrote to the bot itself: another conversation.
    s.fake.push(u::message(
        u::private_chat(CLIENT, "Ирина"),
        u::user(CLIENT, "Ирина", "Петрова"),
        10,
        now(),
        u::text("/start"),
    ));
    assert_eq!(s.drain(), 3);
    assert_eq!(s.count("SELECT count(*) FROM connections WHERE enabled = 1 AND can_reply = 1"), 1);
    assert_eq!(s.count("SELECT count(*) FROM conversations"), 2, "the bot's own chat is apart");
    assert!(s.waiting(), "the client waits");

    // Anna answers on her phone: the chat is answered, as from pult.
    s.anna_writes(11, now() - 200, "Ирина, акт пришлю сегодня до 18:00");
    s.drain();
    assert!(!s.waiting(), "Anna's own message answers the client");
    let c = s.business_conversation();
    assert_eq!(
        s.count(&format!("SELECT count(*) FROM messages WHERE conversation_id = {c} AND direction = 'out' AND author = 'Анна Смирнова'")),
        1
    );

    // The client writes again; pult answers through the connection, as a reply.
    s.client_writes(12, now() - 100, "Спасибо! И ещё счёт, пожалуйста");
    s.drain();
    assert!(s.waiting());
    s.queue("Счёт во вложении будет через час");
    assert_eq!(s.dispatch().sent, 1);
    let sent = s.fake.sent();
    let last = sent.last().expect("sent");
    assert_eq!(last["business_connection_id"], CONN);
    assert_eq!(last["chat_id"], json!(CLIENT));
    assert!(!s.waiting());
    let remote: String = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .query_row("SELECT remote_id FROM messages WHERE direction = 'out' ORDER BY id DESC LIMIT 1", [], |r| r.get(0))
        .expect("remote");
    assert!(remote.starts_with(&format!("biz:{CONN}:{CLIENT}:")), "{remote}");

    // Anna opens the chat in pult: Telegram is told the client's message was read.
    s.store.writer.call_blocking(move |w| intents::mark_read(w, "anna", c, now())).expect("read");
    let n = s.rt.block_on(telegram::report_reads(&s.bot, &s.store.writer, s.channel)).expect("reads");
    assert_eq!(n, 1);
    assert_eq!(s.fake.business_reads(), vec![(CONN.to_string(), CLIENT, 12)]);
    assert_eq!(s.rt.block_on(telegram::report_reads(&s.bot, &s.store.writer, s.channel)).expect("reads"), 0, "once");
}

#[test]
fn a_disabled_connection_or_a_missing_right_refuses_before_queueing() {
    let s = setup(true, false);
    s.client_writes(10, now() - 60, "Добрый день");
    s.drain();
    let out = s.pult_reply("Здравствуйте");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Анна Смирнова turned this bot's business connection off"), "{err}");
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);

    // Turned on again, but without the right to reply.
    let conn = u::connection(CONN, u::user(ANNA, "Анна", "Смирнова"), false, true, true, now());
    s.fake.set_business_connection(conn.clone());
    s.fake.push(u::business_connection(conn));
    s.drain();
    let err = String::from_utf8_lossy(&s.pult_reply("Здравствуйте").stderr).to_string();
    assert!(err.contains("has not allowed this bot to reply"), "{err}");
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);
}

#[test]
fn a_chat_silent_for_a_day_is_refused_and_api_refusals_fail_the_message_and_reopen_the_wait() {
    let s = setup(true, true);
    s.client_writes(10, now() - 25 * 3600, "Пришлите счёт");
    s.drain();
    let out = s.pult_reply("Высылаю");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("24 hours"), "{err}");
    // A WhatsApp template cannot go on Telegram: none is advised, none goes.
    assert!(!err.contains("template"), "{err}");
    let out = s.pult_reply_with(&["--template", "whatsapp-follow-up"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(err.contains("24 hours") && !err.contains("template"), "{err}");
    assert_eq!(s.count("SELECT count(*) FROM outbox"), 0);

    // Inside the window pult sends, but Telegram says the connection is gone.
    s.client_writes(11, now() - 60, "Ау?");
    s.drain();
    s.fake.fail_next(
        "sendMessage",
        400,
        json!({"ok": false, "error_code": 400, "description": "Bad Request: BUSINESS_CONNECTION_INVALID"}),
    );
    s.queue("Высылаю счёт");
    let report = s.dispatch();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].1.contains("BUSINESS_CONNECTION_INVALID"), "{report:?}");
    assert!(s.waiting(), "the client has not been answered");
}

#[test]
fn deletions_are_marked_and_unreadable_updates_are_quarantined_within_the_offset() {
    let s = setup(true, true);
    s.client_writes(10, now() - 60, "Реквизиты: 40702810…");
    s.client_writes(11, now() - 50, "Ой, не те реквизиты");
    s.drain();
    // teloxide cannot read this update (integer message_ids): pult reads the JSON.
    s.fake.push(u::deleted_business_messages(CONN, u::private_chat(CLIENT, "Ирина"), &[10]));
    // A kind nobody knows yet, and a message with a broken field.
    s.fake.push(json!({"future_update_kind": {"id": 1, "text": "from a newer Bot API"}}));
    s.fake
        .push(json!({"message": {"message_id": "not a number", "date": now(), "chat": {"id": 1, "type": "private"}}}));
    // pult dies after fetching this page and before committing it: nothing was stored.
    let page = s.rt.block_on(telegram::updates::get(&s.bot, 0, 0)).expect("page");
    assert!(!page.is_empty());
    assert_eq!(s.count("SELECT count(*) FROM quarantine"), 0);
    s.drain();
    assert_eq!(s.fake.pending(), 0, "the offset covers every update");
    assert_eq!(s.count("SELECT count(*) FROM quarantine"), 2);
    let raw: String = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .query_row("SELECT CAST(raw AS TEXT) FROM quarantine ORDER BY id LIMIT 1", [], |r| r.get(0))
        .expect("raw");
    assert!(raw.contains("from a newer Bot API"), "kept raw: {raw}");
    assert_eq!(
        s.count(&format!("SELECT deleted FROM messages WHERE remote_id = 'biz:{CONN}:{CLIENT}:10'")),
        1,
        "marked deleted, kept"
    );
    assert_eq!(s.count("SELECT count(*) FROM messages"), 2, "nothing stored twice");
    // Search snippets leave the deleted message out.
    let clock = pult::clock::Clock::fixed(now(), moscow());
    let hits = s.reader().search("реквизиты", 10, &clock).expect("search");
    assert!(hits.iter().all(|h| !h.snippet.contains("40702810")), "{hits:?}");
}

#[test]
fn a_message_through_an_unknown_connection_asks_telegram_who_owns_it() {
    let fake = FakeBotApi::start().expect("fake");
    let store = temp_store();
    let ch = channel(&store, "office-bot", ChannelKind::Telegram);
    let bot = teloxide::Bot::new("123:TEST").set_api_url(url::Url::parse(&fake.url()).expect("url"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    // The business_connection update came before pult ran; only getBusinessConnection knows it.
    fake.set_business_connection(u::connection(CONN, u::user(ANNA, "Анна", "Смирнова"), true, true, true, now()));
    fake.push(u::business_message(
        CONN,
        u::private_chat(CLIENT, "Ирина"),
        u::user(ANNA, "Анна", "Смирнова"),
        3,
        now(),
        u::text("Добрый день, Ирина!"),
    ));
    rt.block_on(telegram::drain(&bot, &store.writer, ch)).expect("drain");
    let conn = rusqlite::Connection::open(&store.path).expect("open");
    let dir: String = conn.query_row("SELECT direction FROM messages", [], |r| r.get(0)).expect("message");
    assert_eq!(dir, "out", "known as Anna's own message");
    assert!(fake.calls().contains(&"getbusinessconnection".to_string()));
}

/// At 80x24 in Russian: the connection under the bot's channel with `⚠`
/// while it is switched off, and `r` on its chat says why instead of opening
/// a composer.
#[test]
fn the_sidebar_shows_the_connection_and_r_explains_a_refusal() {
    let s = setup(true, false);
    s.client_writes(10, NOW - 600, "Добрый день");
    s.drain();
    let Setup { store, fake: _fake, .. } = s;
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 80, 24);
    let screen = h.screen();
    assert!(screen.contains("⚠ Анна Смирнова"), "{screen}");
    let pos = h.app.state.list.rows.iter().position(|r| r.title.contains("Ирина")).expect("listed");
    h.keys("g g");
    for _ in 0..pos {
        h.keys("j");
    }
    h.keys("r");
    assert!(h.app.state.composer.is_none());
    let screen = h.screen();
    assert!(screen.contains("отключил(а) бота в Telegram Business"), "{screen}");
}

/// A Telegram Business chat past 24 hours: `r` and `t` say why, in Russian,
/// and advise no WhatsApp template (none can go on Telegram).
#[test]
fn a_stale_business_chat_advises_no_template() {
    let s = setup(true, true);
    s.client_writes(10, NOW - 25 * 3600, "Пришлите счёт");
    s.drain();
    let Setup { store, fake: _fake, .. } = s;
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 80, 24);
    let pos = h.app.state.list.rows.iter().position(|r| r.title.contains("Ирина")).expect("listed");
    h.keys("g g");
    for _ in 0..pos {
        h.keys("j");
    }
    for key in ["r", "t"] {
        h.keys(key);
        assert!(h.app.state.composer.is_none() && h.app.state.popup.is_none(), "{key}");
        let status = h.app.state.status.clone().expect("a reason");
        assert!(status.error && status.text.contains("больше 24 часов назад"), "{key}: {status:?}");
        assert!(!status.text.contains("шаблон"), "{key}: {status:?}");
    }
}

/// A reply queued while the connection was on, then the owner switched it
/// off: the dispatcher checks the rules again right before the network, fails
/// the row with the reason, sends nothing, and the client waits again.
#[test]
fn a_connection_switched_off_after_queueing_stops_the_send_at_the_last_moment() {
    let s = setup(true, true);
    s.client_writes(10, now() - 60, "Пришлите акт");
    s.drain();
    let id = s.queue("Акт во вложении");
    let off = u::connection(CONN, u::user(ANNA, "Анна", "Смирнова"), true, true, false, now());
    s.fake.set_business_connection(off.clone());
    s.fake.push(u::business_connection(off));
    s.drain();
    let report = s.dispatch();
    assert!(
        report
            .failed
            .iter()
            .any(|(_, why)| why.contains("not sent: Анна Смирнова turned the bot's business connection off")),
        "{report:?}"
    );
    assert!(s.fake.sent().is_empty(), "nothing reached Telegram");
    assert_eq!(s.count(&format!("SELECT count(*) FROM outbox WHERE id = {id} AND state = 'failed'")), 1);
    assert!(s.waiting(), "the client waits again");
    let r = s.reader();
    assert_eq!(r.status().expect("status").failed, 1, "counted where people look");
}

/// getBusinessConnection cannot say who owns the connection (revoked since,
/// or Telegram is down): Anna's own message is still hers, the client's still
/// the client's — told apart by who writes in the client's private chat.
#[test]
fn the_owners_message_through_a_connection_nobody_can_look_up_stays_outbound() {
    let s = Setup::start();
    let anna = u::business_message(
        CONN,
        u::private_chat(CLIENT, "Ирина"),
        u::user(ANNA, "Анна", "Смирнова"),
        3,
        now() - 60,
        u::text("Добрый день, Ирина! Акт отправила."),
    );
    s.fake.push(anna);
    s.client_writes(4, now() - 30, "Спасибо, получила");
    s.drain();
    assert!(s.fake.calls().contains(&"getbusinessconnection".to_string()), "asked first");
    assert_eq!(s.count("SELECT count(*) FROM connections"), 0, "nobody could say");
    let direction = |id: i64| {
        rusqlite::Connection::open(&s.store.path)
            .expect("open")
            .query_row(
                "SELECT direction FROM messages WHERE remote_id = ?1",
                [format!("biz:{CONN}:{CLIENT}:{id}")],
                |r| r.get::<_, String>(0),
            )
            .expect("message")
    };
    assert_eq!(direction(3), "out", "Anna's own message");
    assert_eq!(direction(4), "in", "the client's");
}
