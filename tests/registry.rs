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
