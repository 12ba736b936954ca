//! A channel is one implementation of `channels::registry::Channel`: this test
//! defines one of its own (a loopback "pigeon post") and the workers, the
//! outbox dispatcher, attachments and the script surface carry it like email
//! or Telegram, without knowing its kind.

mod common;

use common::*;
use pult::channels::registry::{BoxFuture, Channel, OnProgress};
use pult::model::{ChannelKind, ChannelStatus, Inbound, Located, SyncEvent};
use pult::store::{Reader, Writer, events};
use pult::sync::dispatcher::{ChannelSender, OutboxItem, SendError, SendFuture};
use pult::sync::lock::WorkerLock;
use std::sync::{Arc, Mutex};

/// Brings one client message when it runs and keeps what it is asked to send.
struct Pigeon {
    id: i64,
    sent: Arc<Mutex<Vec<String>>>,
}

struct PigeonSender {
    sent: Arc<Mutex<Vec<String>>>,
}

impl ChannelSender for PigeonSender {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move {
            let mut sent = self.sent.lock().map_err(|_| SendError::Temporary("poisoned".into()))?;
            sent.push(item.body.clone());
            Ok(format!("pigeon-out-{}", sent.len()))
        })
    }
}

fn client_message() -> Inbound {
    Inbound {
        remote_id: "pigeon-1".into(),
        conversation_key: "dovecote".into(),
        conversation_title: "Голубятня".into(),
        author_handle: "pigeon:ivan".into(),
        author_name: "Иван".into(),
        sent_at: NOW,
        body_text: "Пришлите сверку".into(),
        ..Default::default()
    }
}

impl Channel for Pigeon {
    fn id(&self) -> i64 {
        self.id
    }

    fn name(&self) -> &str {
        "pigeon"
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn run(&self, writer: Writer) -> BoxFuture<'static, ()> {
        let id = self.id;
        Box::pin(async move {
            let batch = [SyncEvent::Message(client_message()), SyncEvent::Status(ChannelStatus::Ok { at: Some(NOW) })];
            let _ = writer.call(move |c| events::apply(c, id, &batch, NOW)).await;
            std::future::pending::<()>().await
        })
    }

    fn sync_once<'a>(&'a self, _: &'a Writer, _: OnProgress<'a>) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async { Ok(Vec::new()) })
    }

    fn sender(&self, _: &Writer) -> Arc<dyn ChannelSender> {
        Arc::new(PigeonSender { sent: self.sent.clone() })
    }

    fn fetch<'a>(&'a self, _: &'a [Located]) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>> {
        Box::pin(async { Err("pigeons carry no files".to_string()) })
    }

    fn doctor(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async { Ok("pigeon ok".to_string()) })
    }
}

#[test]
fn a_channel_of_its_own_is_run_and_sent_through_like_any_other() {
    let s = temp_store();
    let id = channel(&s, "pigeon", ChannelKind::Telegram);
    let sent = Arc::new(Mutex::new(Vec::new()));
    let cfg = pult::sync::workers::WorkerConfig {
        writer: s.writer.clone(),
        calendar: pult::workflow::calendar::Calendar::standard(moscow()),
        templates: pult::workflow::templates::Templates::shipped(),
        actor: "anna".into(),
        auto_reply: false,
        channels: vec![Arc::new(Pigeon { id, sent: sent.clone() })],
    };
    let lock = WorkerLock::try_acquire(&s.path, "test").expect("lock");
    let workers = pult::sync::workers::Workers::start(lock, cfg, Default::default()).expect("workers");
    let reader = Reader::open(&s.path, "anna").expect("reader");
    // Its worker ran: the client's message is in the store, its status in the sidebar's data.
    eventually("the pigeon's message", || {
        reader.search("сверка", 10, &pult::clock::Clock::fixed(NOW, moscow())).is_ok_and(|h| h.len() == 1)
    });
    let status = reader.channels().expect("channels").into_iter().find(|c| c.id == id).and_then(|c| c.status);
    assert_eq!(status, Some(ChannelStatus::Ok { at: Some(NOW) }));
    // A reply queued as `r` would goes out through its sender.
    let conversation =
        reader.search("сверка", 10, &pult::clock::Clock::fixed(NOW, moscow())).expect("hit")[0].conversation;
    queue_reply(&s, conversation, "Принято в работу");
    eventually("the reply to fly", || sent.lock().is_ok_and(|v| v.len() == 1));
    assert_eq!(sent.lock().expect("sent")[0], "Принято в работу");
    eventually("the reply recorded as sent", || {
        reader.thread(conversation, 10).is_ok_and(|t| {
            t.iter()
                .any(|m| m.remote_id.as_deref() == Some("pigeon-out-1") && m.delivery == pult::model::Delivery::Sent)
        })
    });
    workers.stop();
}

fn config(text: &str) -> pult::config::Config {
    pult::config::Config::parse(text).expect("config")
}

fn status_of(reader: &Reader, name: &str) -> Option<ChannelStatus> {
    reader.channels().expect("channels").into_iter().find(|c| c.name == name).and_then(|c| c.status)
}

fn channel_names(s: &TempStore) -> Vec<String> {
    let db = rusqlite::Connection::open(&s.path).expect("open");
    let mut st = db.prepare("SELECT name FROM channels ORDER BY name").expect("sql");
    st.query_map([], |r| r.get(0)).expect("query").collect::<Result<_, _>>().expect("names")
}

/// The example config `pult` prints, run as it is (its secret helper not
/// installed): no channel is made, and each account says what to edit. A
/// channel an older pult made from it says the same beside its name.
#[test]
fn the_example_config_makes_no_channels_and_says_what_to_edit() {
    let text = pult::config::EXAMPLE.replace("[\"pass\", \"telegram/office-bot\"]", "[\"pult-no-such-helper\", \"x\"]");
    let cfg = config(&text);
    let s = temp_store();
    let (channels, bad) = pult::channels::registry::open_all(&cfg, &s.writer);
    assert!(channels.is_empty());
    assert!(channel_names(&s).is_empty(), "nothing in the store");
    let why = |name: &str| bad.iter().find(|(n, _)| n == name).map(|(_, w)| w.clone()).expect(name);
    assert!(why("office").contains("not set up yet") && why("office").contains("imap.example.test"), "{bad:?}");
    assert!(why("office-bot").contains("not set up yet") && why("office-bot").contains("pult-no-such-helper"));
    assert!(why("office").contains("pult doctor"), "says how to check: {bad:?}");

    let s = temp_store();
    channel(&s, "office", ChannelKind::Email);
    pult::channels::registry::open_all(&cfg, &s.writer);
    let reader = Reader::open(&s.path, "anna").expect("reader");
    let status = status_of(&reader, "office").expect("a status");
    assert!(status.is_trouble() && status.to_stored().contains("imap.example.test"), "{status:?}");
    assert_eq!(channel_names(&s), ["office"], "no new channel");
}

/// A secret command that fails (the program runs and says no) on every kind
/// of channel: its channel shows `⚠` with the reason, whether the channel
/// cannot even open (Telegram, WhatsApp) or its worker finds out (email).
#[test]
fn a_secret_that_cannot_be_read_shows_on_its_channel_for_every_kind() {
    let server = |port: u16| {
        format!(
            "{{ host = \"127.0.0.1\", port = {port}, tls = \"implicit\", user = \"u\", password_command = [\"false\"] }}"
        )
    };
    let cfg = config(&format!(
        "[[accounts]]\nkind = \"telegram\"\nname = \"tg\"\ntoken_command = [\"false\"]\n\n\
         [[accounts]]\nkind = \"whatsapp\"\nname = \"wa\"\nphone_number_id = \"1\"\ntoken_command = [\"false\"]\n\
         app_secret_command = [\"false\"]\nverify_token_command = [\"false\"]\n\n\
         [[accounts]]\nkind = \"email\"\nname = \"mail\"\naddress = \"a@office.test\"\nimap = {}\nsmtp = {}\n",
        server(9),
        server(9)
    ));
    let s = temp_store();
    let (channels, bad) = pult::channels::registry::open_all(&cfg, &s.writer);
    assert_eq!(channels.iter().map(|c| c.name()).collect::<Vec<_>>(), ["mail"]);
    assert_eq!(bad.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["tg", "wa"]);
    let reader = Reader::open(&s.path, "anna").expect("reader");
    for name in ["tg", "wa"] {
        let status = status_of(&reader, name).expect(name);
        assert!(status.is_trouble() && status.to_stored().contains("\"false\""), "{name}: {status:?}");
    }
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let worker = rt.spawn(channels[0].run(s.writer.clone()));
    eventually("the mail worker's trouble", || status_of(&reader, "mail").is_some_and(|s| s.is_trouble()));
    assert!(status_of(&reader, "mail").is_some_and(|s| s.to_stored().contains("\"false\"")));
    worker.abort();
}

/// A channel whose account left the config is archived: no status, after the
/// configured ones; an empty one is not shown at all. A config without
/// accounts (a team member's) archives nothing; named again, it comes back.
#[test]
fn channels_that_left_the_config_are_archived_and_come_back() {
    let s = temp_store();
    let office = channel(&s, "office", ChannelKind::Email);
    let gone = channel(&s, "gone", ChannelKind::Telegram);
    channel(&s, "empty", ChannelKind::Email);
    ingest(&s, office, vec![msg("<a@x.test>", "<a@x.test>", "Ирина", NOW - 60, "Счёт")]);
    ingest(&s, gone, vec![msg("1:1", "1", "Олег", NOW - 60, "Акт")]);
    let status = ChannelStatus::AuthFailed("the bot token was revoked".into());
    s.writer.call_blocking(move |c| pult::store::channel_state::set_status(c, gone, &status, NOW)).expect("status");
    let secret = s.dir.path().join("secret");
    std::fs::write(&secret, "x").expect("secret");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).expect("0600");
    let office_only = format!(
        "[[accounts]]\nkind = \"email\"\nname = \"office\"\naddress = \"a@office.test\"\n\
         imap = {{ host = \"127.0.0.1\", port = 9, user = \"u\", password_file = {secret:?} }}\n\
         smtp = {{ host = \"127.0.0.1\", port = 9, user = \"u\", password_file = {secret:?} }}\n"
    );
    let sidebar = || {
        let reader = Reader::open(&s.path, "anna").expect("reader");
        reader.channels().expect("channels").into_iter().map(|c| (c.name, c.archived, c.status)).collect::<Vec<_>>()
    };
    let waiting =
        || Reader::open(&s.path, "anna").expect("reader").count(pult::model::View::Unanswered).expect("count");
    assert_eq!(waiting(), 2);
    let (_, bad) = pult::channels::registry::open_all(&config(&office_only), &s.writer);
    assert!(bad.is_empty(), "{bad:?}");
    assert_eq!(sidebar(), [("office".to_string(), false, None), ("gone".to_string(), true, None)]);
    assert_eq!(waiting(), 1, "an archived channel's conversations leave the queue");

    pult::channels::registry::open_all(&config("[agent]\nname = \"Борис\"\n"), &s.writer);
    assert_eq!(sidebar().iter().map(|c| c.1).collect::<Vec<_>>(), [false, true], "nothing changes");

    let both = format!("{office_only}\n[[accounts]]\nkind = \"telegram\"\nname = \"gone\"\ntoken_file = {secret:?}\n");
    let (channels, _) = pult::channels::registry::open_all(&config(&both), &s.writer);
    assert_eq!(channels.len(), 2);
    assert_eq!(sidebar().iter().map(|c| (c.0.as_str(), c.1)).collect::<Vec<_>>(), [("office", false), ("gone", false)]);
    assert_eq!(waiting(), 2, "and come back with it");
}
