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
            // What a preset chose is said even when the check fails: it may be why.
            let e = &self.account;
            let chose = e.provider.as_ref().map(|p| {
                crate::t!(
                    "doctor_preset_chose",
                    preset = p,
                    imap = format!("{}:{} {}", e.imap.host, e.imap.port, e.imap.tls),
                    smtp = format!("{}:{} {}", e.smtp.host, e.smtp.port, e.smtp.tls),
                    login = login_kind(e.login(&e.imap)),
                )
            });
            // In Russian a library's words become what happened and what to do (the raw ones go to the log).
            self.check().await.map_err(|err| {
                let err = if self.lang == crate::i18n::Lang::Ru && crate::i18n::english_leak(&err).is_some() {
                    crate::trouble::explain(self.lang, &err)
                } else {
                    err
                };
                match &chose {
                    Some(c) => format!("{err} ({c})"),
                    None => err,
                }
            })
        })
    }
}

/// How a server is logged in to, as `pult doctor` says it.
fn login_kind(login: crate::config::Login<'_>) -> String {
    match login {
        crate::config::Login::Password { .. } => crate::t!("doctor_login_password"),
        crate::config::Login::OAuth2 { .. } => crate::t!("doctor_login_token_command"),
        crate::config::Login::Flow(_) => crate::t!("doctor_login_flow"),
    }
}

impl EmailChannel {
    async fn check(&self) -> Result<String, String> {
        {
            let e = &self.account;
            let addr = format!("{}:{}", e.imap.host, e.imap.port);
            if let Err(err) = tokio::net::lookup_host(addr.as_str()).await {
                tracing::info!("doctor: cannot resolve {}: {err}", e.imap.host);
                return Err(crate::t!("doctor_cannot_resolve", host = e.imap.host));
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
            let how = if how == "password" { crate::t!("doctor_login_password") } else { how.to_string() };
            let mut line = crate::t!(
                "doctor_email_ok",
                imap = addr,
                caps = names.join(" "),
                how = how,
                smtp = format!("{}:{}", e.smtp.host, e.smtp.port),
                tls = e.smtp.tls,
                smtp_how = login_kind(e.login(&e.smtp)),
                folders = folders,
            );
            if let Some(p) = &e.provider {
                let filed = if e.save_sent {
                    crate::t!("doctor_pult_files_sent")
                } else {
                    crate::t!("doctor_server_files_sent")
                };
                line = format!("{} {p} ({filed}): {line}", crate::t!("doctor_preset"));
            }
            if !plan.missing.is_empty() {
                return Err(format!("{line}; {}: {}", crate::t!("folders_gone"), plan.missing.join(", ")));
            }
            if let crate::config::Login::Flow(_) = e.login(&e.imap)
                && let Some(at) = crate::oauth2::expires_at(&e.name)
            {
                let when = jiff::Timestamp::from_second(at).map(|t| t.to_string()).unwrap_or_default();
                line.push_str(&format!("; {}", crate::t!("doctor_token_until", when = when, account = e.name)));
            }
            if !caps.has_str("IDLE") {
                line.push_str(&format!("; {}", crate::t!("doctor_no_idle", seconds = e.poll().as_secs())));
            }
            if !caps.has_str("CONDSTORE") {
                line.push_str(&format!("; {}", crate::t!("doctor_no_condstore")));
            }
            if plan.sent.is_none() {
                line.push_str(&format!("; {}", crate::t!("doctor_no_sent")));
            }
            Ok(line)
        }
    }
}
