//! Email out (lettre): reply-all by default, `Re:` once, In-Reply-To and
//! References set, the Message-ID fixed and stored before anything leaves, the
//! sent mail appended to Sent. After a crash, a mail whose Message-ID is already
//! in Sent counts as sent and is not sent twice.

use super::{EmailError, connect};
use crate::config::EmailAccount;
use crate::store::Writer;
use crate::sync::dispatcher::{ChannelSender, Found, LookFuture, OutboxItem, SendError, SendFuture};
use lettre::Message;
use lettre::message::{Attachment, Mailbox, Mailboxes, MultiPart, SinglePart, header::ContentType};

pub struct EmailSender {
    pub account: EmailAccount,
    pub writer: Writer,
    /// Append to Sent ourselves (false where the server files sent mail itself).
    pub append_to_sent: bool,
    /// The team's time zone, for the dates in quotes and forwards.
    pub timezone: jiff::tz::TimeZone,
    /// The team's language, for the header above a forwarded mail.
    pub lang: crate::i18n::Lang,
}

/// Reply-all: the sender plus To and Cc, minus our own addresses, each once.
pub fn reply_all(from: Option<&str>, recipients: &[String], own: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in from.into_iter().map(str::to_string).chain(recipients.iter().cloned()) {
        let a = a.trim().to_lowercase();
        if !a.is_empty() && !own.iter().any(|o| o.eq_ignore_ascii_case(&a)) && !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

fn domain_of(address: &str) -> &str {
    address.rsplit_once('@').map(|(_, d)| d).unwrap_or("localhost")
}

/// Reply-all: the sender and the original To in To, the original Cc in Cc,
/// none of our own addresses, nobody twice. The composer shows the same lists.
pub fn reply_all_split(
    from: Option<&str>,
    recipients: &[String],
    cc: &[String],
    own: &[String],
) -> (Vec<String>, Vec<String>) {
    let to_part: Vec<String> = recipients.iter().filter(|a| !cc.contains(a)).cloned().collect();
    let to = reply_all(from, &to_part, own);
    let cc: Vec<String> = reply_all(None, cc, own).into_iter().filter(|a| !to.contains(a)).collect();
    (to, cc)
}

impl EmailSender {
    /// Who a queued mail goes to: (To, Cc).
    fn recipients(&self, item: &OutboxItem) -> (Vec<String>, Vec<String>) {
        let own = self.account.own_addresses();
        if item.to.is_empty() {
            reply_all_split(item.reply_from.as_deref(), &item.reply_recipients, &item.reply_cc, &own)
        } else {
            (reply_all(None, &item.to, &own), Vec::new())
        }
    }

    /// Fixes the Message-ID of an outbox row (once) and returns it.
    async fn message_id(&self, item: &OutboxItem) -> Result<String, SendError> {
        if let Some(id) = &item.rfc_message_id {
            return Ok(id.clone());
        }
        let nonce = jiff::Timestamp::now().as_nanosecond();
        let id = format!("<pult.{}.{nonce:x}@{}>", item.id, domain_of(&self.account.address));
        let (outbox, value) = (item.id, id.clone());
        self.writer
            .call(move |c| crate::store::intents::fix_message_id(c, outbox, &value))
            .await
            .map_err(|e| SendError::Temporary(e.to_string()))
    }

    async fn build(&self, item: &OutboxItem, message_id: &str) -> Result<Message, SendError> {
        let bad = |e: String| SendError::Permanent(e);
        let subject = item.subject.as_deref().map(str::trim).filter(|s| !s.is_empty() && *s != "Re:");
        let Some(subject) = subject else { return Err(bad("an email needs a subject".into())) };
        let (to, cc) = self.recipients(item);
        if to.is_empty() {
            return Err(bad("no recipient: nobody to reply to".into()));
        }
        let from = Mailbox::new(
            self.account.from_name.clone(),
            self.account.address.parse().map_err(|e| bad(format!("from address: {e}")))?,
        );
        let mut rcpt = Mailboxes::new();
        for a in &to {
            rcpt.push(Mailbox::new(None, a.parse().map_err(|e| bad(format!("recipient {a}: {e}")))?));
        }
        let mut b = Message::builder().from(from).mailbox(lettre::message::header::To::from(rcpt));
        if !cc.is_empty() {
            let mut list = Mailboxes::new();
            for a in &cc {
                list.push(Mailbox::new(None, a.parse().map_err(|e| bad(format!("recipient {a}: {e}")))?));
            }
            b = b.mailbox(lettre::message::header::Cc::from(list));
        }
        let mut b = b.subject(subject).message_id(Some(message_id.to_string()));
        if let Some(parent) = &item.reply_to_remote {
            b = b.in_reply_to(parent.clone());
            // The whole chain: the root, the thread's mail (ours included), the parent last.
            let mut refs: Vec<String> = Vec::new();
            let root = item.conversation_key.starts_with('<').then(|| item.conversation_key.clone());
            for r in root.iter().chain(item.references.iter()).chain(std::iter::once(parent)) {
                if !refs.contains(r) && r.starts_with('<') {
                    refs.push(r.clone());
                }
            }
            if let Some(i) = refs.iter().position(|r| r == parent) {
                let p = refs.remove(i);
                refs.push(p);
            }
            b = b.references(refs.join(" "));
        } else if item.forward_of.is_some() && item.conversation_key.starts_with('<') {
            // An answer to a forward comes back into the conversation it came from.
            b = b.references(item.conversation_key.clone());
        }
        let mut body = item.body.trim_end().to_string();
        if let Some(sig) = &self.account.signature {
            body.push_str("\n\n-- \n");
            body.push_str(sig);
        }
        let mut files: Vec<(String, String, Vec<u8>)> = Vec::new();
        if let Some(source) = item.forward_of {
            let src = self
                .writer
                .call(move |c| crate::store::intents::forward_source(c, source))
                .await
                .map_err(|e| SendError::Temporary(e.to_string()))?
                .ok_or_else(|| bad(format!("the forwarded message {source} is gone")))?;
            body.push_str(&forward_block(&src, &self.timezone, self.lang));
            files.extend(self.forwarded_files(&src).await?);
        } else if self.account.quote_original
            && let Some((author, at, text)) = &item.reply_quote
        {
            body.push_str(&format!("\n\n{}, {author}:\n", local_time(*at, &self.timezone)));
            for line in text.lines() {
                body.push_str(if line.starts_with('>') { ">" } else { "> " });
                body.push_str(line);
                body.push('\n');
            }
        }
        for file in &item.attachments {
            let bytes = file.read().map_err(|gone| bad(crate::sync::dispatcher::file_gone(&gone)))?;
            files.push((file.name.clone(), file.mime.clone(), bytes.into_owned()));
        }
        if files.is_empty() {
            return b.header(ContentType::TEXT_PLAIN).body(body).map_err(|e| bad(e.to_string()));
        }
        let mut mixed = MultiPart::mixed().singlepart(SinglePart::plain(body));
        for (name, mime, bytes) in files {
            let ct = ContentType::parse(&mime)
                .unwrap_or_else(|_| ContentType::parse("application/octet-stream").expect("a valid MIME type"));
            mixed = mixed.singlepart(Attachment::new(name).body(bytes, ct));
        }
        b.multipart(mixed).map_err(|e| bad(e.to_string()))
    }

    /// The attachments of a forwarded mail, fetched from the server now (never stored).
    async fn forwarded_files(
        &self,
        src: &crate::store::intents::ForwardSource,
    ) -> Result<Vec<(String, String, Vec<u8>)>, SendError> {
        if src.attachments.is_empty() {
            return Ok(Vec::new());
        }
        let Some((folder, uid, validity)) = src.imap.clone() else {
            return Err(SendError::Permanent("the forwarded message's attachments are not on this mail server".into()));
        };
        let wanted: Vec<super::fetch::Wanted> = src
            .attachments
            .iter()
            .map(|(name, mime, remote_ref, size)| super::fetch::Wanted {
                name: name.clone(),
                mime: mime.clone(),
                remote_ref: remote_ref.clone(),
                size: *size,
            })
            .collect();
        let place = super::fetch::MailPlace { folder, uid, validity };
        let fetched = super::fetch::attachments(&self.account, &place, &wanted).await.map_err(|e| match e {
            EmailError::Imap { .. } => SendError::Permanent(e.to_string()),
            e => SendError::Temporary(e.to_string()),
        })?;
        Ok(fetched.into_iter().map(|(w, bytes)| (crate::sanitize::file_name(&w.name), w.mime, bytes)).collect())
    }

    /// Is a mail with this Message-ID already in Sent? (a send interrupted after SMTP)
    /// With the Sent folder's name.
    async fn already_in_sent(&self, message_id: &str) -> Result<(bool, String), EmailError> {
        let mut session = connect(&self.account).await?;
        let folder = sent_folder_on(&mut session, &self.account).await?;
        let imap = |e: async_imap::error::Error| EmailError::Imap {
            account: self.account.name.clone(),
            reason: e.to_string(),
        };
        session.select(super::mutf7::encode(&folder)).await.map_err(imap)?;
        let found =
            session.uid_search(format!("HEADER Message-ID \"{}\"", message_id.replace('"', ""))).await.map_err(imap)?;
        let _ = session.logout().await;
        Ok((!found.is_empty(), folder))
    }

    async fn append(&self, raw: &[u8]) -> Result<(), EmailError> {
        let mut session = connect(&self.account).await?;
        let folder = sent_folder_on(&mut session, &self.account).await?;
        session
            .append(super::mutf7::encode(&folder), Some("(\\Seen)"), None, raw)
            .await
            .map_err(|e| EmailError::Imap { account: self.account.name.clone(), reason: e.to_string() })?;
        let _ = session.logout().await;
        Ok(())
    }
}

fn local_time(at: i64, tz: &jiff::tz::TimeZone) -> String {
    jiff::Timestamp::from_second(at)
        .map(|t| t.to_zoned(tz.clone()).strftime("%d.%m.%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// The forwarded mail below our text, headed as mail clients do, in the
/// team's language (the client reads it: Gmail and Outlook write it so too).
pub fn forward_block(
    src: &crate::store::intents::ForwardSource,
    tz: &jiff::tz::TimeZone,
    lang: crate::i18n::Lang,
) -> String {
    let from = if src.author.is_empty() || src.author == src.handle {
        src.handle.clone()
    } else {
        format!("{} <{}>", src.author, src.handle)
    };
    let [title, from_word, date, subject, to] = match lang {
        crate::i18n::Lang::En => ["Forwarded message", "From", "Date", "Subject", "To"],
        crate::i18n::Lang::Ru => ["Пересылаемое сообщение", "От", "Дата", "Тема", "Кому"],
    };
    let mut out = format!("\n\n---------- {title} ----------\n");
    out.push_str(&format!("{from_word}: {from}\n{date}: {}\n", local_time(src.sent_at, tz)));
    if let Some(s) = &src.subject {
        out.push_str(&format!("{subject}: {s}\n"));
    }
    if !src.recipients.is_empty() {
        out.push_str(&format!("{to}: {}\n", src.recipients.join(", ")));
    }
    out.push('\n');
    out.push_str(&src.body);
    out.push('\n');
    out
}

/// The folder sent mail is filed in: the configured `sent_folder`, else the
/// one the server declares `\\Sent` (or names so), else "Sent".
pub async fn sent_folder_on(session: &mut super::Session, account: &EmailAccount) -> Result<String, EmailError> {
    if let Some(f) = &account.sent_folder {
        return Ok(f.clone());
    }
    let listed = super::folders::list(session)
        .await
        .map_err(|e| EmailError::Imap { account: account.name.clone(), reason: e.to_string() })?;
    Ok(super::folders::find(&listed, super::folders::Role::Sent)
        .map(|l| l.name.clone())
        .unwrap_or_else(|| "Sent".into()))
}

/// How the account logs in to its SMTP server: a password read now, or the
/// token command (run by the submission, again when a token is refused).
pub async fn smtp_credential(account: &EmailAccount) -> Result<super::submit::Credential, crate::secrets::SecretError> {
    use crate::config::Login;
    match account.login(&account.smtp) {
        Login::Password { command, file } => {
            Ok(super::submit::Credential::Password(crate::secrets::read_async(command, file).await?))
        }
        Login::OAuth2 { command: [] } => Err(crate::secrets::SecretError::Missing),
        Login::OAuth2 { command } => Ok(super::submit::Credential::OAuth2 { command: command.to_vec() }),
        Login::Flow(config) => {
            Ok(super::submit::Credential::Flow { account: account.name.clone(), config: config.clone() })
        }
    }
}

/// `pult doctor`: connect, TLS, EHLO and AUTH on the account's SMTP server; no mail is sent.
pub async fn check_smtp(account: &EmailAccount) -> Result<(), String> {
    let s = &account.smtp;
    let credential = smtp_credential(account).await.map_err(|e| format!("SMTP {}:{}: {e}", s.host, s.port))?;
    super::submit::check(s, credential, super::submit::Deadlines::for_server(s))
        .await
        .map_err(|e| format!("SMTP {}:{}: {e}", s.host, s.port))
}

impl ChannelSender for EmailSender {
    fn send<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move {
            let message_id = self.message_id(item).await?;
            // A row tried before may have left after SMTP and before we recorded it.
            if item.attempts > 0 {
                match self.already_in_sent(&message_id).await {
                    Ok((true, _)) => {
                        tracing::info!(
                            "{}: {message_id} is already in Sent: recorded as sent, not sent again",
                            self.account.name
                        );
                        return Ok(message_id);
                    }
                    Ok((false, _)) => {}
                    Err(e) => return Err(SendError::Temporary(e.to_string())),
                }
            }
            let mail = self.build(item, &message_id).await?;
            let raw = mail.formatted();
            let s = &self.account.smtp;
            let credential = smtp_credential(&self.account)
                .await
                .map_err(|e| SendError::Permanent(format!("{}: {e}", self.account.name)))?;
            let deadlines = super::submit::Deadlines::for_server(s);
            let answer = super::submit::submit(s, credential, mail.envelope(), &raw, deadlines).await?;
            // The 250 is committed before anything else: from here on a crash is
            // recovered by filing the mail, never by sending it again.
            let outbox = item.id;
            let now = jiff::Timestamp::now().as_second();
            let (to, cc) = self.recipients(item);
            if let Err(e) = self
                .writer
                .call(move |c| crate::store::intents::mark_handed_over(c, outbox, &to, &cc, Some(&answer), now))
                .await
            {
                tracing::error!("{}: sent {message_id} but cannot record it yet: {e}", self.account.name);
            }
            // The answered mail gets \Answered on the server (pushed by the worker).
            if item.reply_to_remote.is_some() {
                let outbox = item.id;
                let _ = self.writer.call(move |c| crate::store::intents::owe_answered_flag(c, outbox)).await;
            }
            if self.append_to_sent
                && let Err(e) = self.append(&raw).await
            {
                // Sent, but not filed: say so in the log; the mail did leave.
                tracing::warn!("{}: sent {message_id} but could not append it to Sent: {e}", self.account.name);
            }
            Ok(message_id)
        })
    }

    fn look_for<'a>(&'a self, rfc_message_id: Option<&'a str>) -> LookFuture<'a> {
        Box::pin(async move {
            let Some(id) = rfc_message_id else {
                return Found::NotThere("Sent: the mail never got a Message-ID, so it never left".into());
            };
            match self.already_in_sent(id).await {
                Ok((true, folder)) => Found::There(folder),
                Ok((false, folder)) => Found::NotThere(folder),
                Err(e) => Found::CannotTell(e.to_string()),
            }
        })
    }

    fn finish<'a>(&'a self, item: &'a OutboxItem) -> SendFuture<'a> {
        Box::pin(async move {
            let message_id = self.message_id(item).await?;
            if !self.append_to_sent {
                return Ok(message_id);
            }
            match self.already_in_sent(&message_id).await {
                Ok((true, _)) => return Ok(message_id),
                Ok((false, _)) => {}
                Err(e) => return Err(SendError::Temporary(e.to_string())),
            }
            // A copy of what left (same Message-ID, text and files), filed now.
            let raw = self.build(item, &message_id).await?.formatted();
            self.append(&raw).await.map_err(|e| SendError::Temporary(e.to_string()))?;
            Ok(message_id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::reply_all;

    #[test]
    fn reply_all_drops_ourselves_and_duplicates() {
        let r = reply_all(
            Some("Client@X.test"),
            &[
                "anna@office.test".into(),
                "boss@x.test".into(),
                "client@x.test".into(),
                "cc@y.test".into(),
                "team@office.test".into(),
            ],
            &["anna@office.test".into(), "team@office.test".into()],
        );
        assert_eq!(r, ["client@x.test", "boss@x.test", "cc@y.test"]);
    }

    #[test]
    fn the_forward_header_speaks_the_teams_language() {
        let src = crate::store::intents::ForwardSource {
            author: "Кира Белова".into(),
            handle: "carol@client.test".into(),
            sent_at: 1_795_000_000,
            subject: Some("Договор".into()),
            body: "Договор во вложении.".into(),
            recipients: vec!["anna@office.test".into()],
            imap: None,
            attachments: Vec::new(),
        };
        let tz = jiff::tz::TimeZone::UTC;
        let ru = super::forward_block(&src, &tz, crate::i18n::Lang::Ru);
        for line in [
            "---------- Пересылаемое сообщение ----------",
            "От: Кира Белова <carol@client.test>",
            "Дата: ",
            "Тема: Договор",
            "Кому: anna@office.test",
            "Договор во вложении.",
        ] {
            assert!(ru.contains(line), "{line:?} not in {ru}");
        }
        assert!(!ru.contains("From:") && !ru.contains("Forwarded"), "{ru}");
        let en = super::forward_block(&src, &tz, crate::i18n::Lang::En);
        assert!(
            en.contains("---------- Forwarded message ----------\nFrom: Кира Белова <carol@client.test>\nDate: "),
            "{en}"
        );
    }
}
