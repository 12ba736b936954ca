//! Telegram through a bot (teloxide): our own getUpdates loop whose offset is
//! committed in the same transaction as the messages it covers, replies sent as
//! replies, voice messages made readable by a transcription command.

pub mod channel;
pub mod fake;
pub mod updates;

use crate::channels::placeholder::Placeholder;
use crate::channels::registry::set_status;
use crate::config::TelegramAccount;
use crate::model::{ChannelStatus, Inbound, InboundAttachment, SyncEvent};
use crate::store::{Writer, channel_state, events};
use crate::sync::dispatcher::{ChannelSender, OutboxItem, SendError, SendFuture};
use std::path::{Path, PathBuf};
use std::time::Duration;
use teloxide::net::Download;
use teloxide::payloads::{SendDocumentSetters, SendMessageSetters};
use teloxide::prelude::Requester;
use teloxide::types::{ChatId, InputFile, Message, MessageId, ReplyParameters, Update, UpdateKind};
use teloxide::{ApiError, Bot, RequestError};

/// Long-poll timeout: below the HTTP client's own timeout (17 s in teloxide).
pub const POLL_SECONDS: u32 = 10;
/// Telegram's limit for one text message.
pub const MAX_TEXT: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("telegram account {account}: {source}")]
    Secret { account: String, source: crate::secrets::SecretError },
    #[error("telegram account {account}: bad api_url {url:?}")]
    Url { account: String, url: String },
    #[error("telegram: {0}")]
    Request(#[from] RequestError),
    #[error("telegram: {0}")]
    Http(String),
    #[error("telegram: {description} (HTTP {status})")]
    Api { status: u16, description: String, retry_after: Option<u64> },
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// The bot for an account: token from its command or 0600 file, API URL from `api_url`.
pub fn bot_for(account: &TelegramAccount) -> Result<Bot, TelegramError> {
    let token = crate::secrets::read(account.token_command.as_deref(), account.token_file.as_deref())
        .map_err(|source| TelegramError::Secret { account: account.name.clone(), source })?;
    let mut bot = Bot::new(token);
    if let Some(url) = &account.api_url {
        let parsed =
            reqwest_url(url).ok_or_else(|| TelegramError::Url { account: account.name.clone(), url: url.clone() })?;
        bot = bot.set_api_url(parsed);
    }
    Ok(bot)
}

fn reqwest_url(s: &str) -> Option<url::Url> {
    url::Url::parse(s).ok()
}

/// One update as the store sees it; `None` for kinds pult does not keep.
pub fn to_inbound(update: &Update) -> Option<Inbound> {
    match &update.kind {
        UpdateKind::Message(m) => Some(message_inbound(m, false)),
        UpdateKind::EditedMessage(m) => Some(message_inbound(m, true)),
        other => {
            tracing::debug!("telegram: skipping update {} of another kind: {:?}", update.id.0, kind_name(other));
            None
        }
    }
}

fn kind_name(k: &UpdateKind) -> &'static str {
    match k {
        UpdateKind::ChannelPost(_) => "channel_post",
        UpdateKind::CallbackQuery(_) => "callback_query",
        UpdateKind::MyChatMember(_) => "my_chat_member",
        UpdateKind::ChatMember(_) => "chat_member",
        UpdateKind::Error(_) => "unknown",
        _ => "other",
    }
}

fn remote(chat: i64, message: i32) -> String {
    format!("{chat}:{message}")
}

/// A message's id in a chat seen through a business connection.
pub fn business_remote(connection: &str, chat: i64, message: i64) -> String {
    format!("biz:{connection}:{chat}:{message}")
}

/// A message of a person's own chat, seen through their business connection:
/// the client's are inbound; what the owner typed on their phone (or the bot
/// sent for them) is outbound, and answers the client as a reply from pult does.
pub fn business_inbound(m: &Message, connection: &str, owner: Option<i64>, edited: bool) -> Inbound {
    let mut inbound = message_inbound(m, edited);
    let chat = m.chat.id.0;
    inbound.conversation_key = format!("biz:{connection}:{chat}");
    inbound.remote_id = business_remote(connection, chat, i64::from(m.id.0));
    inbound.reply_to_remote = m.reply_to_message().map(|r| business_remote(connection, chat, i64::from(r.id.0)));
    inbound.is_group = false;
    // The chat of a business message is the private chat with the client,
    // named by the client's id: anyone else writing in it is the owner. That
    // holds before pult knows the connection (its update came before pult ran
    // and getBusinessConnection failed), when `owner` is not known.
    let from = m.from.as_ref().map(|u| u.id.0 as i64);
    let by_owner = from.is_some() && (from == owner || (m.chat.is_private() && from != Some(chat)));
    if by_owner || m.sender_business_bot.is_some() {
        inbound.outgoing = true;
        inbound.author_handle = String::new();
        inbound.author_username = None;
        if let Some(u) = &m.from {
            inbound.author_name = u.full_name();
        }
    }
    inbound
}

pub(crate) fn message_inbound(m: &Message, edited: bool) -> Inbound {
    let chat = m.chat.id.0;
    let person = |first: Option<&str>, last: Option<&str>| {
        [first.unwrap_or(""), last.unwrap_or("")]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let title = m.chat.title().map(str::to_string).unwrap_or_else(|| person(m.chat.first_name(), m.chat.last_name()));
    let (handle, name) = match &m.from {
        Some(u) => (format!("tg:{}", u.id.0), u.full_name()),
        None => (format!("tg:chat{chat}"), title.clone()),
    };
    let mut body = m.text().or(m.caption()).unwrap_or("").to_string();
    let mut attachments = Vec::new();
    let mut att = |name: String, mime: &str, size: u32, id: &str, duration: Option<u32>| {
        attachments.push(InboundAttachment {
            name,
            mime: mime.to_string(),
            // teloxide reads a missing `file_size` as u32::MAX: unknown, not 4 GB.
            size: if size == u32::MAX { -1 } else { i64::from(size) },
            remote_ref: Some(id.to_string()),
            duration: duration.map(i64::from),
        });
    };
    if let Some(v) = m.voice() {
        let d = v.duration.seconds();
        att("voice.ogg".into(), "audio/ogg", v.file.size, &v.file.id.0, Some(d));
        if body.is_empty() {
            body = Placeholder::Voice(Some(d)).in_language(crate::i18n::written());
        }
    }
    if let Some(sizes) = m.photo()
        && let Some(p) = sizes.iter().max_by_key(|p| p.width * p.height)
    {
        att("photo.jpg".into(), "image/jpeg", p.file.size, &p.file.id.0, None);
    }
    if let Some(d) = m.document() {
        let mime = d.mime_type.as_ref().map(|m| m.to_string()).unwrap_or_else(|| "application/octet-stream".into());
        att(d.file_name.clone().unwrap_or_else(|| "document".into()), &mime, d.file.size, &d.file.id.0, None);
    }
    if let Some(a) = m.audio() {
        let name = a.file_name.clone().or_else(|| a.title.clone()).unwrap_or_else(|| "audio".into());
        att(name, "audio/mpeg", a.file.size, &a.file.id.0, Some(a.duration.seconds()));
    }
    if let Some(v) = m.video() {
        att("video.mp4".into(), "video/mp4", v.file.size, &v.file.id.0, Some(v.duration.seconds()));
    }
    if let Some(v) = m.video_note() {
        att("video-note.mp4".into(), "video/mp4", v.file.size, &v.file.id.0, Some(v.duration.seconds()));
    }
    if let Some(s) = m.sticker() {
        if body.is_empty() {
            body = Placeholder::Sticker(s.emoji.as_deref()).in_language(crate::i18n::written());
        }
    }
    if let Some(l) = m.location() {
        body = format!("📍 {:.5}, {:.5}", l.latitude, l.longitude);
    }
    if let Some(c) = m.contact() {
        body = format!("👤 {} {}", person(Some(&c.first_name), c.last_name.as_deref()), c.phone_number);
    }
    Inbound {
        remote_id: remote(chat, m.id.0),
        conversation_key: chat.to_string(),
        conversation_title: title,
        is_group: !m.chat.is_private(),
        outgoing: false,
        author_handle: handle,
        author_name: name,
        author_username: m.from.as_ref().and_then(|u| u.username.clone()),
        sent_at: m.date.timestamp(),
        subject: None,
        body_text: body,
        body_html: None,
        reply_to_remote: m.reply_to_message().map(|r| remote(chat, r.id.0)),
        attachments,
        parse_error: None,
        edited,
        recipients: Vec::new(),
        cc: Vec::new(),
        ..Default::default()
    }
}

/// The stored update offset of a channel (0 before the first update).
pub async fn stored_offset(writer: &Writer, channel: i64) -> Result<i32, TelegramError> {
    let stored = writer.call(move |c| channel_state::cursor(c, channel, "offset")).await?;
    Ok(stored.and_then(|v| v.parse::<i32>().ok()).unwrap_or(0))
}

/// One getUpdates round: fetches from the stored offset and commits what the
/// updates say together with the next offset; an update pult cannot read is
/// kept in quarantine in the same transaction, so the offset never passes an
/// update that is neither stored nor kept. Returns how many updates came.
pub async fn fetch_once(bot: &Bot, writer: &Writer, channel: i64, timeout: u32) -> Result<usize, TelegramError> {
    let offset = stored_offset(writer, channel).await?;
    let (page, raws) = updates::get_page(bot, i64::from(offset), timeout).await?;
    if page.is_empty() {
        return Ok(0);
    }
    let next = page
        .iter()
        .filter_map(|u| u.get("update_id").and_then(serde_json::Value::as_i64))
        .map(|id| id + 1)
        .max()
        .unwrap_or(i64::from(offset));
    let mut known = updates::Connections(writer.call(move |c| channel_state::connections(c, channel)).await?);
    // A message through a connection pult has not heard of (its update came
    // before pult ran): ask Telegram who owns it.
    let mut batch = Vec::new();
    for id in known.unknown_in(&page) {
        let asked = bot.get_business_connection(teloxide::types::BusinessConnectionId(id.clone())).await;
        match asked.ok().and_then(|c| serde_json::to_value(&c).ok()).and_then(|v| updates::connection(&v)) {
            Some(c) => {
                known.0.push(c.clone());
                batch.push(SyncEvent::Connection(c));
            }
            None => tracing::warn!("telegram: business connection {id} could not be looked up"),
        }
    }
    batch.extend(updates::events_with_originals(&page, &raws, &mut known));
    batch.push(SyncEvent::Cursor { key: "offset".into(), value: next.to_string() });
    let n = page.len();
    let now = jiff::Timestamp::now().as_second();
    writer.call(move |c| events::apply(c, channel, &batch, now)).await?;
    Ok(n)
}

/// Everything pending, without waiting on an empty long poll (`pult sync --once`).
pub async fn drain(bot: &Bot, writer: &Writer, channel: i64) -> Result<usize, TelegramError> {
    let mut total = 0;
    loop {
        let n = fetch_once(bot, writer, channel, 0).await?;
        total += n;
        if n == 0 {
            return Ok(total);
        }
    }
}

/// The worker: long polls forever, backing off on errors, obeying retry_after,
/// and saying how it goes in the channel's status (a revoked token shows `⚠`).
pub async fn run(bot: Bot, writer: Writer, channel: i64, voice: VoiceConfig) {
    let mut failures = 0u32;
    set_status(&writer, channel, ChannelStatus::Connecting).await;
    loop {
        match fetch_once(&bot, &writer, channel, POLL_SECONDS).await {
            Ok(n) => {
                if failures > 0 || n > 0 {
                    set_status(&writer, channel, ChannelStatus::Ok { at: Some(jiff::Timestamp::now().as_second()) })
                        .await;
                }
                failures = 0;
                if n > 0
                    && let Err(e) = transcribe_pending(&bot, &writer, channel, &voice).await
                {
                    tracing::warn!("telegram transcription: {e}");
                }
            }
            Err(TelegramError::Request(RequestError::RetryAfter(s))) => {
                tokio::time::sleep(s.duration()).await;
            }
            Err(TelegramError::Api { retry_after: Some(s), .. }) => {
                tokio::time::sleep(Duration::from_secs(s)).await;
            }
            Err(e) => {
                failures += 1;
                let wait = Duration::from_secs((1u64 << failures.min(6)).min(60));
                tracing::warn!("telegram channel {channel}: {e}; retrying in {wait:?}");
                set_status(&writer, channel, status_of(&e)).await;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// What an error means for the channel: a refused token needs a person.
fn status_of(e: &TelegramError) -> ChannelStatus {
    match e {
        TelegramError::Request(RequestError::Api(ApiError::InvalidToken))
        | TelegramError::Api { status: 401, .. }
        | TelegramError::Secret { .. } => ChannelStatus::AuthFailed(format!(
            "the bot token was refused ({e}); set a new one with @BotFather and in token_command/token_file"
        )),
        other => ChannelStatus::Error(other.to_string()),
    }
}

/// Tells Telegram which client messages of business chats people have read
/// in pult (`readBusinessMessage`), where the connection allows it.
pub async fn report_reads(bot: &Bot, writer: &Writer, channel: i64) -> Result<usize, TelegramError> {
    let since = jiff::Timestamp::now().as_second() - 7 * 86400;
    let reads = writer.call(move |c| channel_state::reads_to_report(c, channel, since, "biz:%")).await?;
    if reads.is_empty() {
        return Ok(0);
    }
    let connections = writer.call(move |c| channel_state::connections(c, channel)).await?;
    let mut done = 0;
    for (conversation, message, remote) in reads {
        let parsed = remote.strip_prefix("biz:").and_then(|r| {
            let mut it = r.rsplitn(3, ':');
            let (msg, chat, conn) = (it.next()?.parse::<i32>().ok()?, it.next()?.parse::<i64>().ok()?, it.next()?);
            Some((conn.to_string(), chat, msg))
        });
        if let Some((conn, chat, msg)) = parsed
            && connections.iter().any(|c| c.id == conn && c.enabled && c.can_read)
        {
            let id = teloxide::types::BusinessConnectionId(conn);
            match bot.read_business_message(id, ChatId(chat), MessageId(msg)).await {
                Ok(_) => done += 1,
                Err(RequestError::Network(e)) => return Err(TelegramError::Http(e.to_string())),
                Err(e) => tracing::info!("telegram: read mark for {remote} refused: {e}"),
            }
        }
        writer.call(move |c| channel_state::read_reported(c, channel, conversation, message)).await?;
    }
    Ok(done)
}

/// Where voice messages are kept and how they become text.
#[derive(Debug, Clone, Default)]
pub struct VoiceConfig {
    pub media_dir: PathBuf,
    /// Run without a shell with the audio file path appended; its stdout is the text.
    pub transcribe_command: Option<Vec<String>>,
}

/// Downloads a file by its Telegram file id into `dir` (content kept by file id).
pub async fn download(bot: &Bot, file_id: &str, dir: &Path) -> Result<PathBuf, String> {
    let file = bot.get_file(teloxide::types::FileId(file_id.to_string())).await.map_err(|e| e.to_string())?;
    tokio::fs::create_dir_all(dir).await.map_err(|e| e.to_string())?;
    let path = dir.join(crate::sanitize::file_name(file_id));
    // 0600 from creation, as every file pult keeps of a client's.
    let mut dst = tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .await
        .map_err(|e| e.to_string())?;
    bot.download_file(&file.path, &mut dst).await.map_err(|e| e.to_string())?;
    // tokio writes a file from a background thread: without the flush the
    // last chunk may still be on its way when a player or transcriber opens it.
    tokio::io::AsyncWriteExt::flush(&mut dst).await.map_err(|e| e.to_string())?;
    Ok(path)
}

/// The bytes of a file by its Telegram file id (saved or opened by the person).
pub async fn download_bytes(bot: &Bot, file_id: &str) -> Result<Vec<u8>, String> {
    let file = bot.get_file(teloxide::types::FileId(file_id.to_string())).await.map_err(|e| e.to_string())?;
    // A missing `file_size` reads as u32::MAX: reserving that would ask for
    // 4 GB. The Bot API serves at most 20 MB, so no more is reserved.
    let mut out: Vec<u8> = Vec::with_capacity((file.size as usize).min(20 << 20));
    bot.download_file(&file.path, &mut out).await.map_err(|e| e.to_string())?;
    Ok(out)
}

/// Transcribes voice messages of a channel that have none yet; the text joins
/// the body, so the thread shows it and search finds it.
pub async fn transcribe_pending(
    bot: &Bot,
    writer: &Writer,
    channel: i64,
    voice: &VoiceConfig,
) -> Result<usize, String> {
    let Some(cmd) = voice.transcribe_command.clone().filter(|c| !c.is_empty()) else { return Ok(0) };
    let pending =
        writer.call(move |c| channel_state::untranscribed_voice(c, channel)).await.map_err(|e| e.to_string())?;
    let mut done = 0;
    for (message, file_id) in pending {
        let path = download(bot, &file_id, &voice.media_dir).await?;
        let out = tokio::process::Command::new(&cmd[0])
            .args(&cmd[1..])
            .arg(&path)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| format!("transcribe command {:?}: {e}", cmd[0]))?;
        if !out.status.success() {
            tracing::warn!("transcribe command failed for message {message}: {}", out.status);
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let now = jiff::Timestamp::now().as_second();
        writer.call(move |c| channel_state::add_transcript(c, message, &text, now)).await.map_err(|e| e.to_string())?;
        done += 1;
    }
    Ok(done)
}

/// Sends queued replies: plain text (no parse mode, so a name with `<` is just
/// text), split at paragraph boundaries above 4,096 characters, as a reply to
/// the message being answered.
pub struct TelegramSender {
    pub bot: Bot,
}

impl ChannelSender for TelegramSender {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move {
            // A chat seen through a person's business connection is answered
            // through it: the client sees the person, not the bot.
            let business = crate::model::business_key(&item.conversation_key);
            let chat: i64 = match business {
                Some((_, chat)) => chat,
                None => item
                    .conversation_key
                    .parse()
                    .map_err(|_| SendError::Permanent(format!("not a Telegram chat: {}", item.conversation_key)))?,
            };
            let connection = business.map(|(c, _)| teloxide::types::BusinessConnectionId(c.to_string()));
            let reply_to = item
                .reply_to_remote
                .as_deref()
                .and_then(|r| r.rsplit_once(':'))
                .and_then(|(_, m)| m.parse::<i32>().ok());
            let mut first_id: Option<i32> = None;
            let parts = if item.body.trim().is_empty() {
                Vec::new()
            } else {
                crate::workflow::replies::split_text(&item.body, MAX_TEXT)
            };
            let total = parts.len() + item.attachments.len();
            // Once one part went, the row is sent in part: never sent again whole.
            let partial = |went: usize, e: SendError| match e {
                e if went == 0 => e,
                SendError::MaybeSent(why) => {
                    SendError::MaybeSent(crate::sync::dispatcher::parts_went(went, total, &why))
                }
                other => SendError::MaybeSent(crate::sync::dispatcher::parts_went(went, total, &other.to_string())),
            };
            let mut went = 0;
            for part in parts {
                let mut req = self.bot.send_message(ChatId(chat), part);
                if let Some(c) = &connection {
                    req = req.business_connection_id(c.clone());
                }
                if first_id.is_none()
                    && let Some(m) = reply_to
                {
                    req = req.reply_parameters(ReplyParameters::new(MessageId(m)).allow_sending_without_reply());
                }
                let sent = req.await.map_err(|e| partial(went, classify(e)))?;
                went += 1;
                first_id.get_or_insert(sent.id.0);
            }
            for file in &item.attachments {
                let bytes = match file.read() {
                    Ok(bytes) => bytes.into_owned(),
                    Err(gone) => {
                        let gone = SendError::Permanent(crate::sync::dispatcher::file_gone(&gone));
                        return Err(partial(went, gone));
                    }
                };
                let input = InputFile::memory(bytes).file_name(file.name.clone());
                let mut req = self.bot.send_document(ChatId(chat), input);
                if let Some(c) = &connection {
                    req = req.business_connection_id(c.clone());
                }
                if first_id.is_none()
                    && let Some(m) = reply_to
                {
                    req = req.reply_parameters(ReplyParameters::new(MessageId(m)).allow_sending_without_reply());
                }
                let sent = req.await.map_err(|e| partial(went, classify(e)))?;
                went += 1;
                first_id.get_or_insert(sent.id.0);
            }
            let id = first_id.unwrap_or(0);
            Ok(match business {
                Some((c, _)) => business_remote(c, chat, i64::from(id)),
                None => remote(chat, id),
            })
        })
    }
}

/// What a failed request means for the outbox row. Only a request that
/// never reached Telegram (no connection) or that Telegram answered with a
/// refusal is known not to have been sent; a connection that broke or went
/// silent after the request was written, or an answer that cannot be read,
/// may hide a delivered message.
pub fn classify(e: RequestError) -> SendError {
    let lang = crate::i18n::written();
    if lang == crate::i18n::Lang::Ru {
        return classify_said(e, lang);
    }
    match e {
        RequestError::RetryAfter(s) => SendError::RetryAfter(s.seconds() as u64),
        RequestError::Network(n) if n.is_connect() => SendError::Temporary(n.to_string()),
        RequestError::Network(n) => SendError::MaybeSent(format!("no answer from Telegram: {n}")),
        RequestError::InvalidJson { .. } => SendError::MaybeSent("Telegram's answer could not be read".into()),
        RequestError::Api(
            a @ (ApiError::BotBlocked
            | ApiError::ChatNotFound
            | ApiError::BotKicked
            | ApiError::BotKickedFromSupergroup
            | ApiError::UserDeactivated
            | ApiError::CantInitiateConversation),
        ) => SendError::Permanent(a.to_string()),
        RequestError::Api(a) => SendError::Permanent(a.to_string()),
        RequestError::MigrateToChatId(id) => SendError::Permanent(format!("the group moved to chat {}", id.0)),
        // Reading a file to upload: nothing complete went out.
        other @ RequestError::Io(_) => SendError::Temporary(other.to_string()),
    }
}

/// [`classify`], with the reason kept for people in `lang`: what happened
/// and what to do; Telegram's own words go to the log.
fn classify_said(e: RequestError, lang: crate::i18n::Lang) -> SendError {
    use crate::trouble::Trouble;
    tracing::info!("Telegram: {e}");
    match e {
        RequestError::RetryAfter(s) => SendError::RetryAfter(s.seconds() as u64),
        RequestError::Network(n) if n.is_connect() => SendError::Temporary(Trouble::Network.in_language(lang).into()),
        RequestError::Network(_) => SendError::MaybeSent(lang.tr("tg_no_answer").into()),
        RequestError::InvalidJson { .. } => SendError::MaybeSent(lang.tr("tg_unreadable").into()),
        RequestError::Api(a) => SendError::Permanent(
            match a {
                ApiError::BotBlocked => lang.tr("tg_blocked"),
                ApiError::ChatNotFound => lang.tr("tg_chat_not_found"),
                ApiError::BotKicked | ApiError::BotKickedFromSupergroup => lang.tr("tg_kicked"),
                ApiError::UserDeactivated => lang.tr("tg_deactivated"),
                ApiError::CantInitiateConversation => lang.tr("tg_cant_initiate"),
                _ => lang.tr("tg_refused"),
            }
            .into(),
        ),
        RequestError::MigrateToChatId(_) => SendError::Permanent(lang.tr("tg_migrated").into()),
        RequestError::Io(_) => SendError::Temporary(Trouble::Io.in_language(lang).into()),
    }
}

#[cfg(test)]
mod tests {
    use crate::workflow::replies::split_text;

    #[test]
    fn splits_at_paragraphs() {
        let para = "а".repeat(3000);
        let text = format!("{para}\n\n{para}\n\n{para}");
        let parts = split_text(&text, 4096);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 4096));
        assert_eq!(parts.join("\n\n"), text);
        let long_word = "б".repeat(9000);
        let parts = split_text(&long_word, 4096);
        assert_eq!(parts.iter().map(|p| p.chars().count()).sum::<usize>(), 9000);
    }

    #[test]
    fn send_errors_are_kept_in_russian() {
        use super::{ApiError, RequestError, SendError, classify_said};
        use crate::i18n::{Lang, english_leak};
        let bad_json = serde_json::from_str::<serde_json::Value>("{").expect_err("not JSON");
        for (e, permanent) in [
            (RequestError::Api(ApiError::BotBlocked), true),
            (RequestError::Api(ApiError::ChatNotFound), true),
            (RequestError::Api(ApiError::Unknown("Bad Request: message is too long".into())), true),
            (RequestError::InvalidJson { source: bad_json.into(), raw: "{".into() }, false),
        ] {
            let said = match classify_said(e, Lang::Ru) {
                SendError::Permanent(w) if permanent => w,
                SendError::MaybeSent(w) if !permanent => w,
                other => panic!("{other:?}"),
            };
            assert_eq!(english_leak(&said), None, "{said}");
        }
    }
}
