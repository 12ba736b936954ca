//! A WhatsApp Business number as a channel of the registry: the webhook
//! receiver and the media fetcher as its worker, the Graph API as its sender.

use super::graph::Graph;
use super::receiver::{self, Receiver};
use super::{MediaConfig, WhatsappSender};
use crate::channels::registry::set_status;
use crate::channels::registry::{BoxFuture, Channel, Context, OnProgress};
use crate::config::WhatsappAccount;
use crate::model::{ChannelKind, ChannelStatus, Located};
use crate::store::Writer;
use crate::sync::dispatcher::ChannelSender;
use std::sync::Arc;
use std::time::Duration;

pub struct WhatsappChannel {
    name: String,
    id: i64,
    graph: Graph,
    listen: String,
    phone_number_id: String,
    app_secret: Vec<u8>,
    verify_token: String,
    media: MediaConfig,
    player: Option<Vec<String>>,
    mark_read: bool,
}

fn secret(account: &str, what: &str, cmd: Option<&[String]>, file: Option<&std::path::Path>) -> Result<String, String> {
    crate::secrets::read(cmd, file).map_err(|e| format!("whatsapp account {account}: {what}: {e}"))
}

impl WhatsappChannel {
    pub fn new(account: &WhatsappAccount, id: i64, ctx: &Context) -> Result<WhatsappChannel, String> {
        let n = &account.name;
        let token =
            secret(n, "token_command/token_file", account.token_command.as_deref(), account.token_file.as_deref())?;
        let app_secret = secret(
            n,
            "app_secret_command/app_secret_file",
            account.app_secret_command.as_deref(),
            account.app_secret_file.as_deref(),
        )?;
        let verify_token = secret(
            n,
            "verify_token_command/verify_token_file",
            account.verify_token_command.as_deref(),
            account.verify_token_file.as_deref(),
        )?;
        let graph =
            Graph::new(account.api_url.as_deref(), &account.phone_number_id, token).map_err(|e| e.to_string())?;
        Ok(WhatsappChannel {
            name: n.clone(),
            id,
            graph,
            listen: account.webhook_listen.clone(),
            phone_number_id: account.phone_number_id.clone(),
            app_secret: app_secret.into_bytes(),
            verify_token,
            media: MediaConfig {
                dir: ctx.media_dir.join(crate::sanitize::file_name(n)),
                max_bytes: account.media_max_mb.saturating_mul(1 << 20),
                transcribe_command: account.transcribe_command.clone(),
            },
            player: account.player_command.clone().filter(|p| !p.is_empty()),
            mark_read: account.mark_read,
        })
    }
}

impl Channel for WhatsappChannel {
    fn id(&self) -> i64 {
        self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Whatsapp
    }

    fn run(&self, writer: Writer) -> BoxFuture<'static, ()> {
        let (channel, listen, graph, media) = (self.id, self.listen.clone(), self.graph.clone(), self.media.clone());
        let mark_read = self.mark_read;
        let (wake_tx, mut wake_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let rx = Arc::new(Receiver {
            app_secret: self.app_secret.clone(),
            verify_token: self.verify_token.clone(),
            phone_number_id: self.phone_number_id.clone(),
            writer: writer.clone(),
            channel,
            media_wake: wake_tx,
            die_after_commit: Receiver::failpoint(),
        });
        Box::pin(async move {
            let (fetcher_writer, fetcher_graph) = (writer.clone(), graph.clone());
            // Media ids expire in about a week: fetched as they come, and
            // whatever a crash or an outage left is tried again every few minutes.
            let fetcher = tokio::spawn(async move {
                loop {
                    if let Err(e) = super::fetch_pending(&fetcher_graph, &fetcher_writer, channel, &media).await {
                        tracing::warn!("whatsapp media: {e}");
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(300), wake_rx.recv()).await;
                    while wake_rx.try_recv().is_ok() {}
                }
            });
            let _fetcher = AbortOnDrop(fetcher);
            let reads = mark_read.then(|| {
                let (graph, writer) = (graph.clone(), writer.clone());
                // Blue ticks when a person opened the chat in pult: read marks are
                // looked for every few seconds (one indexed query).
                AbortOnDrop(tokio::spawn(async move {
                    loop {
                        if let Err(e) = super::report_reads(&graph, &writer, channel).await {
                            tracing::warn!("whatsapp read marks: {e}");
                        }
                        tokio::time::sleep(Duration::from_secs(3)).await;
                    }
                }))
            });
            let _reads = reads;
            loop {
                match tokio::net::TcpListener::bind(&listen).await {
                    Ok(listener) => {
                        tracing::info!("whatsapp: webhook receiver on http://{listen}{}", receiver::PATH);
                        set_status(&writer, channel, ChannelStatus::Ok { at: None }).await;
                        receiver::serve(listener, rx.clone()).await;
                    }
                    Err(e) => {
                        let why = format!("cannot listen on {listen} for the webhook: {e}");
                        tracing::error!("whatsapp: {why}");
                        set_status(&writer, channel, ChannelStatus::Error(why)).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                }
            }
        })
    }

    fn sync_once<'a>(&'a self, writer: &'a Writer, _: OnProgress<'a>) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let n = super::fetch_pending(&self.graph, writer, self.id, &self.media).await.map_err(|e| e.to_string())?;
            Ok(vec![crate::t!("whatsapp_synced", name = self.name, media = n)])
        })
    }

    fn sender(&self, writer: &Writer) -> Arc<dyn ChannelSender> {
        Arc::new(WhatsappSender { graph: self.graph.clone(), writer: writer.clone(), channel: self.id })
    }

    fn fetch<'a>(&'a self, items: &'a [Located]) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>> {
        Box::pin(async move {
            let mut out = Vec::with_capacity(items.len());
            for a in items {
                if let Some(path) = a.content_hash.as_deref().and_then(|h| super::media_path(&self.media.dir, h))
                    && let Ok(bytes) = tokio::fs::read(&path).await
                {
                    out.push(bytes);
                    continue;
                }
                if let Some(path) = &a.local_path {
                    out.push(tokio::fs::read(path).await.map_err(|e| format!("{}: {e}", path.display()))?);
                    continue;
                }
                let Some(media_id) = &a.remote_ref else { return Err(format!("{}: not downloaded", a.name)) };
                let info = self.graph.media(media_id).await.map_err(|e| e.to_string())?;
                out.push(self.graph.download(&info.url, self.media.max_bytes).await.map_err(|e| e.to_string())?);
            }
            Ok(out)
        })
    }

    fn doctor(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let number = self.graph.number().await.map_err(|e| e.to_string())?;
            let connect = tokio::net::TcpStream::connect(&self.listen);
            let webhook = match tokio::time::timeout(Duration::from_secs(2), connect).await {
                Ok(Ok(_)) => crate::t!("webhook_listening", url = format!("http://{}{}", self.listen, receiver::PATH)),
                _ => crate::t!("webhook_not_listening", listen = self.listen),
            };
            Ok(crate::t!("number_ok", number = number, webhook = webhook))
        })
    }

    fn player(&self) -> Option<Vec<String>> {
        self.player.clone()
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
