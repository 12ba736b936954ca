//! A store, a Telegram channel and a teloxide bot pointed at the loopback fake
//! Bot API: what every Telegram test starts from.

use super::{TempStore, channel, temp_store};
use pult::channels::telegram::{self, TelegramSender, fake::FakeBotApi};
use pult::model::ChannelKind;
use pult::sync::dispatcher::{DispatchReport, Senders, dispatch_due};
use std::sync::Arc;

pub struct BotSetup {
    pub fake: FakeBotApi,
    pub store: TempStore,
    pub channel: i64,
    pub bot: teloxide::Bot,
    pub rt: tokio::runtime::Runtime,
}

impl BotSetup {
    pub fn start() -> BotSetup {
        let fake = FakeBotApi::start().expect("fake bot api");
        let store = temp_store();
        let channel = channel(&store, "office-bot", ChannelKind::Telegram);
        let bot = teloxide::Bot::new("123:TEST").set_api_url(url::Url::parse(&fake.url()).expect("url"));
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        BotSetup { fake, store, channel, bot, rt }
    }

    /// Reads every update the fake has, as the worker does.
    pub fn drain(&self) -> usize {
        self.rt.block_on(telegram::drain(&self.bot, &self.store.writer, self.channel)).expect("drain")
    }

    pub fn count(&self, sql: &str) -> i64 {
        rusqlite::Connection::open(&self.store.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
    }

    /// Sends what is due through this bot, as the dispatcher does.
    pub fn dispatch(&self) -> DispatchReport {
        let mut senders: Senders = Default::default();
        senders.insert(self.channel, Arc::new(TelegramSender { bot: self.bot.clone() }));
        self.rt.block_on(dispatch_due(&self.store.writer, &senders))
    }
}
