//! WhatsApp through Meta's official Cloud API: webhooks in (`receiver`,
//! `webhook`), the Graph API out (`graph`), media fetched when it arrives and
//! kept content-addressed beside the store, replies only inside the 24-hour
//! customer-service window.

pub mod channel;
pub mod fake;
pub mod graph;
pub mod receiver;
pub mod webhook;

use crate::channels::registry::set_status;
use crate::model::ChannelStatus;
use crate::store::{Writer, channel_state};
use crate::sync::dispatcher::{ChannelSender, OutboxItem, SendError, SendFuture};
use graph::{Graph, GraphError, codes};
use std::path::{Path, PathBuf};

/// Longest text of one message (Cloud API).
pub const MAX_TEXT: usize = 4096;

/// Where media goes and what becomes of voice messages.
#[derive(Debug, Clone)]
pub struct MediaConfig {
    /// One file per content, named by its SHA-256.
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub transcribe_command: Option<Vec<String>>,
}

/// The file holding content `hash` (hex SHA-256; anything else has no file).
pub fn media_path(dir: &Path, hash: &str) -> Option<PathBuf> {
    (hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then(|| dir.join(hash))
}

/// What a refused token means for the channel: `⚠` and what to do.
pub fn token_status(e: &GraphError) -> ChannelStatus {
    ChannelStatus::AuthFailed(format!(
        "the access token was refused ({e}); make a new System User token in Meta Business settings and put it in \
         token_command/token_file, then restart"
    ))
}

/// Fetches every attachment of the channel still only at Meta. A dead token
/// stops the round (and shows `⚠`); network trouble leaves the rest for the
/// next round; an expired id or a file over the limit is marked for good.
pub async fn fetch_pending(
    graph: &Graph,
    writer: &Writer,
    channel: i64,
    media: &MediaConfig,
) -> Result<usize, GraphError> {
    let pending = writer
        .call(move |c| channel_state::unfetched_media(c, channel))
        .await
        .map_err(|e| GraphError::Local(e.to_string()))?;
    let mut done = 0;
    for p in pending {
        let now = || jiff::Timestamp::now().as_second();
        let fetched = fetch_one(graph, &p.media_id, media).await;
        match fetched {
            Ok((bytes, mime)) => {
                let bytes = std::sync::Arc::new(bytes);
                let (a, m, b) = (p.attachment, mime.clone(), bytes.clone());
                let hash = writer
                    .call(move |c| channel_state::media_fetched(c, a, &b, &m, now()))
                    .await
                    .map_err(|e| GraphError::Local(e.to_string()))?;
                done += 1;
                if mime.starts_with("audio/ogg")
                    && let Some(cmd) = media.transcribe_command.clone().filter(|c| !c.is_empty())
                {
                    transcribe(writer, p.message, &cmd, &media.dir, &hash, &bytes).await;
                }
            }
            Err(e) if e.is_token() => {
                set_status(writer, channel, token_status(&e)).await;
                return Err(e);
            }
            Err(e @ (GraphError::Network(_) | GraphError::Unreached(_))) => return Err(e),
            Err(GraphError::Api { status, .. }) if status >= 500 => return Ok(done),
            Err(e) => {
                tracing::warn!("whatsapp media {}: {e}", p.media_id);
                let (a, why) = (p.attachment, e.to_string());
                writer
                    .call(move |c| channel_state::media_failed(c, a, &why, now()))
                    .await
                    .map_err(|e| GraphError::Local(e.to_string()))?;
            }
        }
    }
    Ok(done)
}

async fn fetch_one(graph: &Graph, media_id: &str, media: &MediaConfig) -> Result<(Vec<u8>, String), GraphError> {
    let info = graph.media(media_id).await?;
    if info.size.is_some_and(|s| s > media.max_bytes) {
        return Err(GraphError::Local(format!(
            "{} MB, over the {} MB limit (media_max_mb): not downloaded",
            info.size.unwrap_or(0) >> 20,
            media.max_bytes >> 20
        )));
    }
    let bytes = graph.download(&info.url, media.max_bytes).await?;
    Ok((bytes, info.mime))
}

/// Tells WhatsApp which client messages people have read in pult. Returns how many.
pub async fn report_reads(graph: &Graph, writer: &Writer, channel: i64) -> Result<usize, GraphError> {
    let since = jiff::Timestamp::now().as_second() - 7 * 86400;
    let local = |e: crate::store::StoreError| GraphError::Local(e.to_string());
    let reads = writer.call(move |c| channel_state::reads_to_report(c, channel, since, "%")).await.map_err(local)?;
    let mut done = 0;
    for (conversation, message, wamid) in reads {
        match graph.mark_read(&wamid).await {
            Ok(()) => done += 1,
            Err(e) if e.is_token() => {
                set_status(writer, channel, token_status(&e)).await;
                return Err(e);
            }
            Err(e @ (GraphError::Network(_) | GraphError::Unreached(_))) => return Err(e),
            // Refused for this message (too old, unknown): not asked again.
            Err(e) => tracing::info!("whatsapp: read mark for {wamid} refused: {e}"),
        }
        writer.call(move |c| channel_state::read_reported(c, channel, conversation, message)).await.map_err(local)?;
    }
    Ok(done)
}

async fn transcribe(writer: &Writer, message: i64, cmd: &[String], scratch: &Path, hash: &str, bytes: &[u8]) {
    // The command reads a file: a private copy for it, removed after.
    let Some(path) = media_path(scratch, hash) else { return };
    let written = async {
        tokio::fs::create_dir_all(scratch).await?;
        let mut f =
            tokio::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&path).await?;
        tokio::io::AsyncWriteExt::write_all(&mut f, bytes).await?;
        tokio::io::AsyncWriteExt::flush(&mut f).await
    };
    if let Err(e) = written.await {
        tracing::warn!("whatsapp transcript: {}: {e}", scratch.display());
        return;
    }
    let out = tokio::process::Command::new(&cmd[0])
        .args(&cmd[1..])
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .output()
        .await;
    let _ = tokio::fs::remove_file(&path).await;
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
            let now = jiff::Timestamp::now().as_second();
            if let Err(e) = writer.call(move |c| channel_state::add_transcript(c, message, &text, now)).await {
                tracing::warn!("whatsapp transcript: {e}");
            }
        }
        Ok(o) => tracing::warn!("transcribe command failed for message {message}: {}", o.status),
        Err(e) => tracing::warn!("transcribe command {:?}: {e}", cmd[0]),
    }
}

/// Sends queued replies: text (split above 4,096 characters) as a reply to
/// the message answered (`context`), files as documents.
pub struct WhatsappSender {
    pub graph: Graph,
    pub writer: Writer,
    pub channel: i64,
}

impl ChannelSender for WhatsappSender {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move {
            let to = webhook::normalise_wa_id(&item.conversation_key);
            if to.is_empty() {
                return Err(SendError::Permanent(format!("not a WhatsApp number: {}", item.conversation_key)));
            }
            if let Some(t) = &item.template {
                let t: serde_json::Value = serde_json::from_str(t)
                    .map_err(|e| SendError::Permanent(format!("the queued template is unreadable: {e}")))?;
                let text = |k: &str| t.get(k).and_then(serde_json::Value::as_str).unwrap_or("").to_string();
                let params: Vec<String> = t
                    .get("params")
                    .and_then(serde_json::Value::as_array)
                    .map(|a| a.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                let r = self.graph.send_template(&to, &text("name"), &text("language"), &params).await;
                return self.outcome(r, 0, 1).await;
            }
            let context = item.reply_to_remote.as_deref();
            let parts = if item.body.trim().is_empty() {
                Vec::new()
            } else {
                crate::workflow::replies::split_text(&item.body, MAX_TEXT)
            };
            let total = parts.len() + item.attachments.len();
            let mut first: Option<String> = None;
            let mut files = Vec::with_capacity(item.attachments.len());
            for file in &item.attachments {
                let bytes =
                    file.read().map_err(|gone| SendError::Permanent(crate::sync::dispatcher::file_gone(&gone)))?;
                files.push((file, bytes));
            }
            let mut sent = 0;
            for part in parts {
                let r = self.graph.send_text(&to, &part, if first.is_none() { context } else { None }).await;
                first.get_or_insert(self.outcome(r, sent, total).await?);
                sent += 1;
            }
            for (file, bytes) in files {
                let context = if first.is_none() { context } else { None };
                let r = self.graph.send_document(&to, &file.name, bytes.into_owned(), context).await;
                first.get_or_insert(self.outcome(r, sent, total).await?);
                sent += 1;
            }
            first.ok_or_else(|| SendError::Permanent("nothing to send".into()))
        })
    }
}

impl WhatsappSender {
    /// One request's answer; once a part of a message has gone, a later
    /// failure cannot be retried without sending that part twice.
    async fn outcome(&self, r: Result<String, GraphError>, sent: usize, total: usize) -> Result<String, SendError> {
        let e = match r {
            Ok(id) => return Ok(id),
            Err(e) => e,
        };
        if e.is_token() {
            set_status(&self.writer, self.channel, token_status(&e)).await;
        }
        let lang = crate::i18n::written();
        if sent > 0 {
            return Err(SendError::MaybeSent(crate::sync::dispatcher::parts_went(sent, total, &e.in_language(lang))));
        }
        Err(classify(e))
    }
}

/// What a failed request means for the outbox row; the reason is kept for
/// people to read, in the team's language.
pub fn classify(e: GraphError) -> SendError {
    let lang = crate::i18n::written();
    match e {
        e if e.is_token() => SendError::Temporary(e.in_language(lang)),
        e if e.is_rate_limit() => SendError::RetryAfter(60),
        GraphError::Api { code: codes::WINDOW_CLOSED, message, .. } if lang == crate::i18n::Lang::En => {
            SendError::Permanent(format!(
                "the client last wrote more than 24 hours ago ({}: {message}); WhatsApp lets only an approved template go now",
                codes::WINDOW_CLOSED
            ))
        }
        e @ GraphError::Api { status, .. } if status >= 500 => SendError::Temporary(e.in_language(lang)),
        e @ (GraphError::Api { .. } | GraphError::Local(_)) => SendError::Permanent(e.in_language(lang)),
        e @ GraphError::Unreached(_) => SendError::Temporary(e.in_language(lang)),
        e @ GraphError::Network(_) => SendError::MaybeSent(e.in_language(lang)),
    }
}
