//! An email account as a channel of the registry: IMAP sync and IDLE, SMTP
//! sending, attachment parts fetched on demand, the doctor's line.

use super::fetch::{MailPlace, Wanted};
use crate::channels::registry::{BoxFuture, Channel, Context, OnProgress};
use crate::config::EmailAccount;
use crate::model::{ChannelKind, Located};
use crate::store::Writer;
use crate::sync::dispatcher::ChannelSender;
use std::sync::Arc;

pub struct EmailChannel {
    account: EmailAccount,
    id: i64,
    timezone: jiff::tz::TimeZone,
    lang: crate::i18n::Lang,
}

impl EmailChannel {
    pub fn new(account: EmailAccount, id: i64, ctx: &Context) -> EmailChannel {
        EmailChannel { account, id, timezone: ctx.timezone.clone(), lang: ctx.lang }
    }
}

impl Channel for EmailChannel {
    fn id(&self) -> i64 {
        self.id
    }

    fn name(&self) -> &str {
        &self.account.name
    }

    fn kind(&self) -> ChannelKind {
        ChannelKind::Email
    }

    fn run(&self, writer: Writer) -> BoxFuture<'static, ()> {
        Box::pin(super::run(self.account.clone(), writer, self.id))
    }

    fn sync_once<'a>(
        &'a self,
        writer: &'a Writer,
        progress: OnProgress<'a>,
    ) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            let synced =
                super::sync_account_with(&self.account, writer, self.id, true, progress).await.map_err(|e| {
                    match super::status_for(&e) {
                        crate::model::ChannelStatus::AuthFailed(why) => why,
                        _ => e.to_string(),
                    }
                })?;
            Ok(synced
                .into_iter()
                .map(|(folder, r)| {
                    if r.missing {
                        let lang = crate::i18n::written();
                        return format!(
                            "email {} {folder}: {}: {}",
                            self.account.name,
                            lang.tr("folders_gone"),
                            lang.tr("folders_fix")
                        );
                    }
                    let resynced = if r.resynced { crate::t!("uidvalidity_resynced") } else { String::new() };
                    crate::t!(
                        "email_synced",
                        name = self.account.name,
                        folder = folder,
                        fetched = r.fetched,
                        new = r.inserted,
                        resynced = resynced
                    )
                })
                .collect())
        })
    }

    fn sender(&self, writer: &Writer) -> Arc<dyn ChannelSender> {
        Arc::new(super::send::EmailSender {
            account: self.account.clone(),
            writer: writer.clone(),
            append_to_sent: self.account.save_sent,
            timezone: self.timezone.clone(),
            lang: self.lang,
        })
    }

    fn fetch<'a>(&'a self, items: &'a [Located]) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>> {
        Box::pin(async move {
            let Some(first) = items.first() else { return Ok(Vec::new()) };
            let Some((folder, uid, validity)) = first.imap.clone() else {
                return Err("this mail has no place on the server".into());
            };
            if first.expunged {
                return Err(format!("{} was removed from the server; its attachments are gone with it", first.name));
            }
            let wanted: Vec<Wanted> = items
                .iter()
                .map(|a| Wanted {
                    name: a.name.clone(),
                    mime: a.mime.clone(),
                    remote_ref: a.remote_ref.clone().unwrap_or_default(),
                    // 0: not known, not compared.
                    size: a.size.unwrap_or(0),
                })
                .collect();
            let place = MailPlace { folder, uid, validity };
            let got = super::fetch::attachments(&self.account, &place, &wanted).await.map_err(|e| e.to_string())?;
            Ok(got.into_iter().map(|(_, bytes)| bytes).collect())
        })
    }

    fn doctor(&self) -> BoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let e = &self.account;
            let addr = format!("{}:{}", e.imap.host, e.imap.port);
            if let Err(err) = tokio::net::lookup_host(addr.as_str()).await {
                return Err(format!("cannot resolve {}: {err}", e.imap.host));
            }
            let (mut session, how) = super::connect_saying_how(e).await.map_err(|e| e.to_string())?;
            let caps = session.capabilities().await.map_err(|e| e.to_string())?;
            let mut names: Vec<String> = ["IDLE", "CONDSTORE", "QRESYNC", "UIDPLUS", "MOVE"]
                .iter()
                .filter(|c| caps.has_str(**c))
                .map(|c| c.to_string())
                .collect();
            names.sort();
            let plan = super::plan_folders(&mut session, e).await.map_err(|e| e.to_string())?;
            let _ = session.logout().await;
            super::send::check_smtp(e).await?;
            let folders = plan
                .sync
                .iter()
                .map(|f| if plan.is_sent(f) { format!("{f} (\\Sent)") } else { f.clone() })
                .collect::<Vec<_>>()
                .join(", ");
            let smtp_how = match e.login(&e.smtp) {
                crate::config::Login::Password { .. } => "password",
                crate::config::Login::OAuth2 { .. } | crate::config::Login::Flow(_) => "OAuth2 token",
            };
            let mut line = format!(
                "IMAP {addr} ok ({}; login: {how}), SMTP {}:{} ok ({}, login accepted: {smtp_how}); folders: {folders}",
                names.join(" "),
                e.smtp.host,
                e.smtp.port,
                e.smtp.tls
            );
            if let Some(p) = &e.provider {
                let filed =
                    if e.save_sent { "pult files sent mail in Sent" } else { "the server files sent mail itself" };
                line = format!("preset {p} ({filed}): {line}");
            }
            if !plan.missing.is_empty() {
                return Err(format!("{line}; not on the server (renamed or deleted?): {}", plan.missing.join(", ")));
            }
            if let crate::config::Login::Flow(_) = e.login(&e.imap)
                && let Some(at) = crate::oauth2::expires_at(&e.name)
            {
                let when = jiff::Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default();
                line.push_str(&format!(
                    "; access token refreshed until {when} (if sign-in is revoked: pult auth {})",
                    e.name
                ));
            }
            if !caps.has_str("IDLE") {
                line.push_str(&format!("; no IDLE: new mail is looked for every {} s", e.poll().as_secs()));
            }
            if !caps.has_str("CONDSTORE") {
                line.push_str("; no CONDSTORE: flags are read whole");
            }
            if plan.sent.is_none() {
                line.push_str("; no Sent folder found: set sent_folder");
            }
            Ok(line)
        })
    }
}
