//! The Telegram worker and sender (teloxide) against the loopback fake Bot API.

mod common;

use common::*;
use pult::channels::telegram::{self, VoiceConfig, fake::updates as u};
use pult::model::{Delivery, View};
use pult::store::{Reader, intents};
use serde_json::json;

type Setup = bot::BotSetup;

fn setup() -> Setup {
    Setup::start()
}

impl Setup {
    fn reader(&self) -> Reader {
        let mut r = Reader::open(&self.store.path, "anna").expect("reader");
        r.set_moment(pult::model::Moment { now: NOW, end_of_today: NOW, risk_until: NOW });
        r
    }

    fn queue(&self, conversation: i64, reply_to: Option<i64>, body: &str) -> i64 {
        let reply = intents::Reply {
            conversation_id: conversation,
            reply_to_message_id: reply_to,
            subject: None,
            body: body.into(),
            actor: "anna".into(),
            not_before: 0,
            auto: false,
            attachments: Vec::new(),
        };
        self.store.writer.call_blocking(move |c| intents::queue_reply(c, &reply, NOW)).expect("queue")
    }
}

impl Setup {
    /// A config whose Telegram account is this bot on the fake (token in a 0600 file in `dir`).
    fn config(&self, dir: &std::path::Path) -> pult::config::Config {
        let token = dir.join("token");
        std::fs::write(&token, "123:TEST").expect("token");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let mut cfg = pult::config::Config::default();
        cfg.accounts.push(pult::config::Account::Telegram(pult::config::TelegramAccount {
            name: "office-bot".into(),
            token_command: None,
            token_file: Some(token),
            api_url: Some(self.fake.url()),
            transcribe_command: None,
            player_command: None,
            mark_read: true,
        }));
        cfg
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

#[test]
fn private_and_group_chats_become_conversations_with_identities() {
    let s = setup();
    let irina = u::user(11, "Ирина", "Соколова");
    let pavel = u::user(12, "Павел", "Дёмин");
    let group = u::group_chat(-100500, "ООО Ромашка — бухгалтерия");
    s.fake.push(u::message(u::private_chat(11, "Ирина"), irina.clone(), 1, now(), u::text("Пришлите акт сверки")));
    s.fake.push(u::message(group.clone(), irina, 7, now(), u::text("Коллеги, счёт на оплату во вложении")));
    s.fake.push(u::message(group, pavel, 8, now(), u::text("Документы в ЭДО подписал")));
    let first = s.rt.block_on(telegram::fetch_once(&s.bot, &s.store.writer, s.channel, 0)).expect("fetch");
    assert_eq!(first, 3);
    assert_eq!(s.fake.pending(), 3, "not confirmed until the next getUpdates carries the offset");
    let r = s.reader();
    let rows = r.conversations(View::Channel(s.channel), pult::model::Window::Top, 10).expect("list");
    assert_eq!(rows.len(), 2);
    let g = rows.iter().find(|c| c.is_group).expect("group conversation");
    assert_eq!(g.title, "ООО Ромашка — бухгалтерия");
    let thread = r.thread(g.id, 10).expect("thread");
    assert_eq!(thread.iter().map(|m| m.author.as_str()).collect::<Vec<_>>(), ["Ирина Соколова", "Павел Дёмин"]);
    assert_eq!(s.count("SELECT count(*) FROM identities WHERE handle LIKE 'tg:%'"), 2, "one identity per sender");
    assert_eq!(s.drain(), 0);
    assert_eq!(s.fake.pending(), 0, "confirmed by the stored offset");
}

#[test]
fn an_edit_updates_the_text_and_keeps_the_old_one() {
    let s = setup();
    let first = u::message(u::private_chat(11, "Ирина"), u::user(11, "Ирина", "С"), 1, now(), u::text("Сумма 45 000"));
    s.fake.push(first.clone());
    s.drain();
    s.fake.push(u::edited(first, "Сумма 54 000", now()));
    s.drain();
    let r = s.reader();
    let conv = r.conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let m = &r.thread(conv, 5).expect("thread")[0];
    assert_eq!(m.body, "Сумма 54 000");
    assert!(m.edited);
    assert_eq!(s.count("SELECT count(*) FROM messages"), 1);
    let old: String = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .query_row("SELECT old_body FROM messages_edits", [], |r| r.get(0))
        .expect("history");
    assert_eq!(old, "Сумма 45 000");
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    assert_eq!(r.search("54", 5, &clock).expect("search").len(), 1, "the index follows the edit");
}

#[test]
fn a_reply_goes_out_as_a_reply_in_plain_text() {
    let s = setup();
    s.fake.push(u::message(u::private_chat(11, "Ирина"), u::user(11, "Ирина", "С"), 42, now(), u::text("Счёт?")));
    s.drain();
    let r = s.reader();
    let conv = r.conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let inbound = r.thread(conv, 5).expect("thread")[0].id;
    let text = "Ирина <директор> & Co: счёт выставлен";
    let id = s.queue(conv, Some(inbound), text);
    assert_eq!(s.dispatch().handled(), 1);
    let sent = s.fake.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["chat_id"], json!(11));
    assert_eq!(sent[0]["text"], json!(text), "no escaping needed: plain text");
    assert!(sent[0].get("parse_mode").is_none_or(|p| p.is_null()));
    assert_eq!(sent[0]["reply_parameters"]["message_id"], json!(42));
    let (state, remote): (String, String) = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .query_row("SELECT state, remote_id FROM outbox WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("row");
    assert_eq!(state, "sent");
    assert!(remote.starts_with("11:"), "the returned message id is recorded: {remote}");
}

#[test]
fn long_replies_are_split_at_paragraphs() {
    let s = setup();
    s.fake.push(u::message(u::private_chat(11, "И"), u::user(11, "И", "С"), 1, now(), u::text("?")));
    s.drain();
    let conv = s.reader().conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let para = "Расчёт налогов по УСН. ".repeat(120);
    s.queue(conv, None, &format!("{para}\n\n{para}"));
    s.dispatch().handled();
    let sent = s.fake.sent();
    assert_eq!(sent.len(), 2);
    assert!(sent.iter().all(|m| m["text"].as_str().expect("text").chars().count() <= 4096));
}

#[test]
fn replaying_after_a_crash_between_receiving_and_committing_duplicates_nothing() {
    let s = setup();
    for i in 0..5 {
        s.fake.push(u::message(u::private_chat(11, "И"), u::user(11, "И", "С"), i, now(), u::text(&format!("m{i}"))));
    }
    // A process receives the batch and dies before its transaction commits.
    s.rt.block_on(async {
        use teloxide::payloads::GetUpdatesSetters;
        use teloxide::prelude::Requester;
        let got = s.bot.get_updates().offset(0).timeout(0).await.expect("received");
        assert_eq!(got.len(), 5);
    });
    assert_eq!(s.count("SELECT count(*) FROM messages"), 0, "nothing was committed");
    // The next start reads the stored offset and gets the same updates again.
    assert_eq!(s.drain(), 5);
    assert_eq!(s.count("SELECT count(*) FROM messages"), 5);
    // A replay of an already committed batch (offset lost elsewhere) is idempotent too.
    let batch: Vec<_> = (0..5)
        .map(|i| u::message(u::private_chat(11, "И"), u::user(11, "И", "С"), i, now(), u::text(&format!("m{i}"))))
        .collect();
    for b in batch {
        s.fake.push(b);
    }
    s.drain();
    assert_eq!(s.count("SELECT count(*) FROM messages"), 5, "no duplicates");
}

#[test]
fn retry_after_is_respected_and_403_fails_with_its_reason() {
    let s = setup();
    s.fake.push(u::message(u::private_chat(11, "И"), u::user(11, "И", "С"), 1, now(), u::text("?")));
    s.drain();
    let conv = s.reader().conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let id = s.queue(conv, None, "ответ");
    s.fake.fail_next_with_retry_after("sendMessage", 3);
    s.dispatch().handled();
    let (state, not_before, updated): (String, i64, i64) = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .query_row("SELECT state, not_before, updated_at FROM outbox WHERE id = ?1", [id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("row");
    assert_eq!(state, "pending");
    assert_eq!(not_before - updated, 3, "waits retry_after seconds");
    assert_eq!(s.dispatch().handled(), 0, "not before its time");
    assert!(s.fake.sent().is_empty());

    let id2 = s.queue(conv, None, "ещё ответ");
    rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .execute("UPDATE outbox SET not_before = 0 WHERE id = ?1", [id2])
        .expect("due now");
    s.fake.fail_next_forbidden("sendMessage", "Forbidden: bot was blocked by the user");
    s.dispatch().handled();
    let thread = s.reader().thread(conv, 10).expect("thread");
    let last = thread.iter().find(|m| m.body == "ещё ответ").expect("message");
    assert_eq!(last.delivery, Delivery::Failed);
    assert!(last.error.as_deref().unwrap_or("").contains("blocked"), "{:?}", last.error);
}

#[test]
fn voice_messages_are_downloaded_and_transcribed_and_found() {
    let s = setup();
    s.fake.add_file("voice-1", b"OggS fake opus bytes".to_vec());
    s.fake.push(u::message(
        u::private_chat(11, "И"),
        u::user(11, "Ирина", "С"),
        1,
        now(),
        u::voice("voice-1", 297, 20),
    ));
    s.drain();
    let dir = tempfile::tempdir().expect("tmp");
    let voice = VoiceConfig {
        media_dir: dir.path().to_path_buf(),
        transcribe_command: Some(vec![
            "sh".into(),
            "-c".into(),
            "printf 'Перезвоните мне завтра про выписку (%s байт)' $(wc -c < \"$0\")".into(),
        ]),
    };
    let n =
        s.rt.block_on(telegram::transcribe_pending(&s.bot, &s.store.writer, s.channel, &voice)).expect("transcribe");
    assert_eq!(n, 1);
    use std::os::unix::fs::PermissionsExt;
    let kept = std::fs::read_dir(dir.path()).expect("media").map(|f| f.expect("entry").path()).collect::<Vec<_>>();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(
        std::fs::metadata(&kept[0]).expect("voice").permissions().mode() & 0o777,
        0o600,
        "kept for this user alone"
    );
    let r = s.reader();
    let conv = r.conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let m = &r.thread(conv, 5).expect("thread")[0];
    assert!(m.body.starts_with("🎤 voice message 4:57"), "{}", m.body);
    assert!(m.body.contains("Перезвоните мне завтра про выписку (20 байт)"), "{}", m.body);
    assert_eq!(m.attachments[0].duration, Some(297));
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    assert_eq!(r.search("перезвоните", 5, &clock).expect("search").len(), 1);
    assert_eq!(
        s.rt.block_on(telegram::transcribe_pending(&s.bot, &s.store.writer, s.channel, &voice)).expect("again"),
        0
    );
}

#[test]
fn media_kinds_and_unknown_updates() {
    let s = setup();
    let chat = || u::private_chat(11, "И");
    let from = || u::user(11, "Ирина", "С");
    s.fake.push(u::message(chat(), from(), 1, now(), u::photo("ph-1", "Накладная")));
    s.fake.push(u::message(chat(), from(), 2, now(), u::document("doc-1", "УПД_00342.pdf", "application/pdf", 96512)));
    s.fake.push(u::message(chat(), from(), 3, now(), u::sticker("st-1", "👍")));
    s.fake.push(u::message(chat(), from(), 4, now(), u::location(55.75, 37.61)));
    s.fake.push(u::message(chat(), from(), 5, now(), u::contact("+79161234567", "Водитель")));
    s.fake.push(json!({"poll": {"id": "1", "question": "?", "options": [], "total_voter_count": 0, "is_closed": false,
                                "is_anonymous": true, "type": "regular", "allows_multiple_answers": false}}));
    s.fake.push(json!({"something_new": {"x": 1}}));
    let mut reply = u::message(chat(), from(), 6, now(), u::text("Это к накладной"));
    reply["message"]["reply_to_message"] = u::message(chat(), from(), 1, now(), u::text("x"))["message"].clone();
    s.fake.push(reply);
    assert_eq!(s.drain(), 8, "all updates confirmed, unknown kinds included");
    let r = s.reader();
    let conv = r.conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let t = r.thread(conv, 20).expect("thread");
    assert_eq!(t.len(), 6, "the poll and the unknown kind are skipped");
    assert_eq!(t[0].body, "Накладная");
    assert_eq!(t[0].attachments[0].mime, "image/jpeg");
    assert_eq!(t[1].attachments[0].name, "УПД_00342.pdf");
    assert_eq!(t[2].body, "[sticker 👍]");
    assert_eq!(t[3].body, "📍 55.75000, 37.61000");
    assert!(t[4].body.contains("+79161234567"));
    assert_eq!(t[5].reply_quote.as_ref().map(|q| q.1.as_str()), Some("Накладная"));
}

/// A voice message and a document that come without `file_size` have no
/// size: none stored (NULL), none shown in the thread, `"size": null` in JSON
/// (teloxide reads the missing field as u32::MAX: «4096.0 MB» before).
#[test]
fn a_file_without_a_size_shows_no_size() {
    let s = setup();
    let chat = || u::private_chat(11, "И");
    let from = || u::user(11, "Ирина", "С");
    let mut voice = u::voice("voice-1", 12, 0);
    voice["voice"].as_object_mut().expect("voice").remove("file_size");
    let mut document = u::document("doc-1", "акт.pdf", "application/pdf", 0);
    document["document"].as_object_mut().expect("document").remove("file_size");
    s.fake.push(u::message(chat(), from(), 1, now(), voice));
    s.fake.push(u::message(chat(), from(), 2, now(), document));
    s.fake.push(u::message(chat(), from(), 3, now(), u::document("doc-2", "счёт.pdf", "application/pdf", 96512)));
    s.drain();
    let sizes: Vec<Option<i64>> = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .prepare("SELECT size FROM attachments ORDER BY id")
        .expect("sql")
        .query_map([], |r| r.get(0))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("sizes");
    assert_eq!(sizes, [None, None, Some(96512)], "unknown is stored as NULL");
    let conv = s.reader().conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let home = tempfile::tempdir().expect("tmp");
    let out = pult(home.path())
        .args(["thread", "--json", "--conversation", &conv.to_string(), "--store"])
        .arg(&s.store.path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let sizes: Vec<&serde_json::Value> =
        v["messages"].as_array().expect("messages").iter().map(|m| &m["attachments"][0]["size"]).collect();
    assert_eq!(sizes, [&json!(null), &json!(null), &json!(96512)], "{v}");
    let mut h = Harness::on(shared(&s.store.path, &s.store.writer), 160, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("📎 voice.ogg (0:12)"), "{screen}");
    assert!(screen.contains("📎 акт.pdf ") || screen.contains("📎 акт.pdf│"), "{screen}");
    assert!(screen.contains("📎 счёт.pdf (94 KB)"), "{screen}");
    assert!(!screen.contains("MB"), "{screen}");
    h.keys("S");
    let Some(pult::tui::state::Popup::Pick { items, .. }) = &h.app.state.popup else { panic!("a list of files") };
    assert!(items.iter().all(|i| !i.label.contains("MB")), "{items:?}");
}

#[test]
fn sync_once_from_the_command_line() {
    let s = setup();
    let home = tempfile::tempdir().expect("tmp");
    let token = home.path().join("token");
    std::fs::write(&token, "123:TEST\n").expect("token");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let cfg = home.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[store]\npath = {:?}\n\n[[accounts]]\nkind = \"telegram\"\nname = \"office-bot\"\ntoken_file = {:?}\napi_url = {:?}\n",
            s.store.path.display().to_string(),
            token.display().to_string(),
            s.fake.url()
        ),
    )
    .expect("config");
    s.fake.push(u::message(
        u::private_chat(11, "И"),
        u::user(11, "Ирина", "С"),
        1,
        now(),
        u::text("Когда зарплатная ведомость?"),
    ));
    let run = || {
        std::process::Command::new(env!("CARGO_BIN_EXE_pult"))
            .env("HOME", home.path())
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("XDG_STATE_HOME", home.path().join("state"))
            .args(["sync", "--once", "--config"])
            .arg(&cfg)
            .output()
            .expect("pult sync --once")
    };
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 updates"));
    let conv = s.reader().conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    s.queue(conv, None, "Ведомость будет в пятницу");
    let out = run();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(s.fake.sent().len(), 1, "the queued reply went out");
    assert_eq!(s.fake.sent()[0]["text"], json!("Ведомость будет в пятницу"));
    // A token file others can read is refused, with no token in the message.
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("chmod 600") && !err.contains("123:TEST"), "{err}");
}

#[test]
fn v_plays_the_voice_message_with_the_configured_player() {
    let s = setup();
    s.fake.add_file("voice-9", b"OggS voice".to_vec());
    s.fake.push(u::message(u::private_chat(11, "И"), u::user(11, "Ирина", "С"), 1, now(), u::voice("voice-9", 12, 10)));
    s.drain();
    let out = tempfile::tempdir().expect("tmp");
    let played = out.path().join("played");
    let player = vec!["sh".to_string(), "-c".into(), format!("cp \"$0\" {}", played.display())];
    let mut h = Harness::on(shared(&s.store.path, &s.store.writer), 160, 45);
    h.app.config = s.config(out.path());
    h.app.players.insert(s.channel, player);
    h.keys("<Enter> v");
    assert!(h.app.state.status.as_ref().is_none_or(|m| !m.error), "{:?}", h.app.state.status);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !played.exists() {
        assert!(std::time::Instant::now() < deadline, "the player never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(std::fs::read(&played).expect("bytes"), b"OggS voice");
}

#[test]
fn a_document_attached_in_the_composer_goes_out_with_the_reply() {
    let s = setup();
    s.fake.push(u::message(u::private_chat(11, "И"), u::user(11, "Ирина", "С"), 5, now(), u::text("Пришлите счёт")));
    s.drain();
    let files = tempfile::tempdir().expect("tmp");
    let small = files.path().join("Счёт_17.pdf");
    std::fs::write(&small, b"%PDF-1.4 invoice").expect("pdf");
    let big = files.path().join("архив.zip");
    std::fs::write(&big, vec![0u8; 4096]).expect("zip");
    let mut h = Harness::on(shared(&s.store.path, &s.store.writer), 160, 45);
    h.app.state.undo_seconds = 0;
    h.app.state.max_attachment_bytes = 1024;
    h.keys("<Enter> r")
        .type_text("Счёт во вложении")
        .keys("<C-o>")
        .type_text(&small.display().to_string())
        .keys("<Enter>");
    // A file over the limit asks first; the same path entered again attaches it.
    h.keys("<C-o>").type_text(&big.display().to_string()).keys("<Enter>");
    assert!(h.screen().contains("Enter again"), "size guard");
    h.keys("<Enter>");
    let names: Vec<String> =
        h.app.state.composer.as_ref().expect("composer").attachments.iter().map(|p| p.display().to_string()).collect();
    assert_eq!(names.len(), 2);
    h.keys("<C-x>");
    // The files went into the store when queued: the daemon that sends them
    // (another user in a team) never reads the composer's paths.
    drop(files);
    assert_eq!(s.dispatch().handled(), 1);
    let sent = s.fake.sent();
    let methods: Vec<&str> = sent.iter().filter_map(|m| m["method"].as_str()).collect();
    assert_eq!(methods, ["sendmessage", "senddocument", "senddocument"]);
    assert_eq!(sent[1]["document_filename"], json!("Счёт_17.pdf"), "{}", sent[1]);
    assert_eq!(sent[1]["document_content"], json!("%PDF-1.4 invoice"), "the bytes attached, from the store");
    assert_eq!(sent[0]["reply_parameters"]["message_id"], json!(5));
    let conv = h.app.state.thread.as_ref().expect("thread").conversation.id;
    let t = s.reader().thread(conv, 10).expect("thread");
    let out = t.iter().find(|m| m.body == "Счёт во вложении").expect("sent message");
    assert_eq!(out.attachments.len(), 2);
    assert_eq!(out.attachments[0].mime, "application/pdf");
}

#[test]
fn a_client_document_is_saved_from_the_keyboard_through_get_file() {
    let s = setup();
    s.fake.add_file("doc-7", b"%PDF-1.4 contract".to_vec());
    s.fake.push(u::message(
        u::private_chat(11, "И"),
        u::user(11, "Ирина", "С"),
        7,
        now(),
        u::document("doc-7", "../Договор.pdf", "application/pdf", 17),
    ));
    s.drain();
    let dir = tempfile::tempdir().expect("tmp");
    let mut h = Harness::on(shared(&s.store.path, &s.store.writer), 160, 45);
    h.app.config = s.config(dir.path());
    let out = dir.path().join("saved");
    h.keys("<Enter> S <C-u>").type_text(&out.display().to_string()).keys("<Enter>");
    let status = h.app.state.status.clone().expect("status");
    assert!(!status.error, "{status:?}");
    assert_eq!(std::fs::read(out.join("_Договор.pdf")).expect("saved under a safe name"), b"%PDF-1.4 contract");
    assert!(s.fake.calls().iter().any(|c| c.eq_ignore_ascii_case("getFile")), "{:?}", s.fake.calls());
}

#[test]
fn a_revoked_token_shows_on_the_channel_until_it_works_again() {
    use pult::model::ChannelStatus;
    let s = setup();
    s.fake.push(u::message(u::private_chat(42, "Олег"), u::user(42, "Олег", ""), 1, now(), u::text("Счёт оплатили?")));
    s.fake.set_revoked(true);
    let worker = s.rt.spawn(telegram::run(s.bot.clone(), s.store.writer.clone(), s.channel, VoiceConfig::default()));
    let status =
        || s.reader().channels().expect("channels").into_iter().find(|c| c.id == s.channel).and_then(|c| c.status);
    let wait = |what: &str, done: &dyn Fn(&Option<ChannelStatus>) -> bool| {
        s.rt.block_on(async {
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
            while !done(&status()) {
                assert!(tokio::time::Instant::now() < deadline, "{what}: status is {:?}", status());
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        })
    };
    wait("the refused token to show", &|st| matches!(st, Some(ChannelStatus::AuthFailed(_))));
    let Some(ChannelStatus::AuthFailed(why)) = status() else { unreachable!() };
    assert!(why.contains("token") && why.contains("@BotFather"), "says what to do: {why}");
    assert_eq!(s.count("SELECT count(*) FROM messages"), 0, "nothing fetched meanwhile");
    s.fake.set_revoked(false);
    wait("the channel to work again", &|st| matches!(st, Some(ChannelStatus::Ok { .. })));
    assert_eq!(s.count("SELECT count(*) FROM messages"), 1, "the waiting message came");
    worker.abort();
}

/// Telegram carried out `sendMessage` and its answer was lost: the row is
/// "may have been sent", never sent again by itself; the client has one
/// message. A long reply whose second part's answer is lost says how many
/// parts went, and the first part is never sent twice either.
#[test]
fn a_lost_answer_is_maybe_sent_and_never_sent_twice() {
    let s = setup();
    s.fake.push(u::message(u::private_chat(11, "Ирина"), u::user(11, "Ирина", "С"), 42, now(), u::text("Счёт?")));
    s.drain();
    let conv = s.reader().conversations(View::Channel(s.channel), pult::model::Window::Top, 1).expect("list")[0].id;
    let id = s.queue(conv, None, "Счёт выставлен.");
    s.fake.drop_next_answer("sendMessage");
    let report = s.dispatch();
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].1.contains("may have been sent"), "{report:?}");
    for _ in 0..3 {
        assert_eq!(s.dispatch().handled(), 0, "never resent by itself");
    }
    assert_eq!(s.fake.sent().len(), 1, "the client got it once");
    assert_eq!(s.count(&format!("SELECT count(*) FROM outbox WHERE id = {id} AND state = 'unknown'")), 1);
    let thread = s.reader().thread(conv, 10).expect("thread");
    assert!(thread.iter().any(|m| m.delivery == Delivery::Unknown), "the thread says so");
    // In the thread: the hint names the keys; `Y` (it arrived) records it sent, never sending it.
    let mut h = Harness::on(shared(&s.store.path, &s.store.writer), 160, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("Y\u{a0}—\u{a0}it\u{a0}arrived"), "{screen}");
    h.keys("Y");
    assert_eq!(s.count(&format!("SELECT count(*) FROM outbox WHERE id = {id} AND state = 'sent'")), 1);
    assert!(h.screen().contains("Marked sent"), "{}", h.screen());
    assert_eq!(s.dispatch().handled(), 0);
    assert_eq!(s.fake.sent().len(), 1, "confirming sends nothing");

    let para = "Расчёт налогов по УСН. ".repeat(120);
    let long = s.queue(conv, None, &format!("{para}\n\n{para}"));
    // The first part goes and is answered; the second part's answer is lost.
    s.fake.drop_answer_after("sendMessage", 1);
    let first = s.dispatch();
    assert!(first.failed.iter().any(|(_, why)| why.contains("1 of 2 parts went")), "{first:?}");
    assert_eq!(s.dispatch().handled(), 0);
    assert_eq!(s.count(&format!("SELECT count(*) FROM outbox WHERE id = {long} AND state = 'unknown'")), 1);
    assert_eq!(s.fake.sent().len(), 3, "the first reply once, the long reply's two parts once each");
}

/// An update with a message beside a `callback_query` keeps the message
/// (`callback_query` sorts first in the JSON object); one whose other part
/// cannot be read goes to quarantine whole, raw, within the offset.
#[test]
fn a_message_beside_a_callback_query_is_kept() {
    let s = setup();
    let chat = || u::private_chat(11, "И");
    let from = || u::user(11, "Ирина", "С");
    let mut mixed = u::message(chat(), from(), 1, now(), u::text("Счёт оплачен, кнопка не работает"));
    mixed["callback_query"] = json!({"id": "cb-1", "from": from(), "chat_instance": "ci", "data": "paid"});
    s.fake.push(mixed);
    let mut broken = u::message(chat(), from(), 2, now(), u::text("а это второе"));
    broken["edited_message"] = json!({"message_id": "not a number"});
    s.fake.push(broken);
    assert_eq!(s.drain(), 2);
    assert_eq!(s.fake.pending(), 0, "the offset covers both");
    let bodies: Vec<String> = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .prepare("SELECT body FROM messages ORDER BY id")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(bodies, vec!["Счёт оплачен, кнопка не работает".to_string()]);
    assert_eq!(s.count("SELECT count(*) FROM quarantine"), 1, "the unreadable update is kept, not half stored");
    let raw: String = rusqlite::Connection::open(&s.store.path)
        .expect("open")
        .query_row("SELECT CAST(raw AS TEXT) FROM quarantine", [], |r| r.get(0))
        .expect("raw");
    assert!(raw.contains("а это второе"), "kept raw: {raw}");
}
