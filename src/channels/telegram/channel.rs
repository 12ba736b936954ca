//! A Telegram bot as a channel of the registry: getUpdates long polling,
//! replies, files by file id, voice messages transcribed and played.

use super::{TelegramSender, VoiceConfig};
use crate::channels::registry::{BoxFuture, Channel, Context, OnProgress};
use crate::config::TelegramAccount;
use crate::model::{ChannelKind, Located};
use crate::store::Writer;
use crate::sync::dispatcher::ChannelSender;
use std::sync::Arc;
use teloxide::Bot;

pub struct TelegramChannel {
    name: String,
    id: i64,
    bot: Bot,
    voice: VoiceConfig,
    player: Option<Vec<String>>,
    mark_read: bool,
}

impl TelegramChannel {
    pub fn new(account: &TelegramAccount, id: i64, ctx: &Context) -> Result<TelegramChannel, String> {
        let bot = super::bot_for(account).map_err(|e| e.to_string())?;
        let voice = VoiceConfig {
            media_dir: ctx.media_dir.join(crate::sanitize::file_name(&account.name)),
            transcribe_command: account.transcribe_command.clone(),
        };
        let player = account.player_command.clone().filter(|p| !p.is_empty());
        Ok(TelegramChannel { name: account.name.clone(), id, bot, voice, player, mark_read: account.mark_read })
    }
}

impl Channel for TelegramChannel {
    fn id(&self) -> i64 {
        self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Telegram
    }

    fn run(&self, writer: Writer) -> BoxFuture<'static, ()> {
        let (bot, channel, voice, mark_read) = (self.bot.clone(), self.id, self.voice.clone(), self.mark_read);
        Box::pin(async move {
            // Read marks in business chats: looked for every few seconds.
            let reads = mark_read.then(|| {
                let (bot, writer) = (bot.clone(), writer.clone());
                tokio::spawn(async move {
                    loop {
                        if let Err(e) = super::report_reads(&bot, &writer, channel).await {
                            tracing::warn!("telegram read marks: {e}");
                        }
                        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
                    }
                })
            });
            super::run(bot, writer, channel, voice).await;
            if let Some(r) = reads {
                r.abort();
            }
        })
    }

    fn sync_once<'a>(&'a self, writer: &'a Writer, _: OnProgress<'a>) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let n = super::drain(&self.bot, writer, self.id).await.map_err(|e| e.to_string())?;
            let t = super::transcribe_pending(&self.bot, writer, self.id, &self.voice).await?;
            Ok(vec![crate::t!("telegram_synced", name = self.name, updates = n, transcribed = t)])
        })
    }

    fn sender(&self, _: &Writer) -> Arc<dyn ChannelSender> {
        Arc::new(TelegramSender { bot: self.bot.clone() })
    }

    fn fetch<'a>(&'a self, items: &'a [Located]) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(items.len());
            for a in items {
                let Some(file_id) = &a.remote_ref else { return Err(format!("{}: no file id", a.name)) };
                out.push(super::download_bytes(&self.bot, file_id).await?);
            }
            Ok(out)
        })
    }

    fn doctor(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            use teloxide::prelude::Requester;
            let me = self.bot.get_me().await.map_err(|e| e.to_string())?;
            let groups =
                if me.can_read_all_group_messages { crate::t!("bot_sees_groups") } else { crate::t!("bot_privacy_on") };
            let business =
                if me.can_connect_to_business { crate::t!("bot_business_on") } else { crate::t!("bot_business_off") };
            let name = me.username.clone().unwrap_or_default();
            Ok(crate::t!("bot_ok", name = name, groups = groups, business = business))
        })
    }

    fn player(&self) -> Option<Vec<String>> {
        self.player.clone()
    }
}
