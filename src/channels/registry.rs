//! Every channel pult speaks, in one place. [`ChannelKindInfo`] says what a
//! kind of channel is, as data: its limits and the replies it refuses before
//! anything is queued. [`Channel`] is a configured account at work: its sync
//! worker, its sender, attachment bytes, its `pult doctor` line. The workers,
//! `pult sync --once`, the daemon, attachments and the composer go through
//! these and never name a channel kind. A new channel is a folder under
//! `channels/` with both, and one line in [`kind`] and in [`open`].

use crate::config::{Account, Config};
use crate::model::{ChannelKind, Located};
use crate::store::{Writer, archive, ingest};
use crate::sync::dispatcher::ChannelSender;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How far a long sync is, told after each stored batch of a sync that takes
/// more than one (a first sync, a large catch-up).
#[derive(Debug, Clone, Copy)]
pub struct SyncProgress<'a> {
    /// What is being synced (an email folder).
    pub folder: &'a str,
    pub done: usize,
    pub total: usize,
    /// Bytes of what is done so far (RFC822.SIZE for mail).
    pub bytes: u64,
    pub started: std::time::Instant,
    /// When the first batch was stored and how much it held: the time left
    /// is reckoned from the pace since then (before it, the sync logged in,
    /// listed the folder and filled its pipeline).
    pub first_stored: Option<(std::time::Instant, usize)>,
}

impl SyncProgress<'_> {
    /// Seconds left at the pace since the first batch was stored; none
    /// before a second batch is (nothing to reckon from yet).
    pub fn seconds_left(&self) -> Option<f64> {
        let (at, first) = self.first_stored?;
        let pace = (self.done.checked_sub(first)?) as f64 / at.elapsed().as_secs_f64().max(0.001);
        (self.done > first && pace > 0.0).then(|| self.total.saturating_sub(self.done) as f64 / pace)
    }
}

/// Where progress goes: a terminal line, the channel's status, nowhere.
pub type OnProgress<'a> = &'a (dyn Fn(SyncProgress<'_>) + Send + Sync);

/// A configured account at work.
pub trait Channel: Send + Sync {
    /// Its row in the store.
    fn id(&self) -> i64;
    fn name(&self) -> &str;
    fn kind(&self) -> ChannelKind;

    /// The sync worker: runs until its task is aborted, keeping the store
    /// current and saying how it goes in the channel's status.
    fn run(&self, writer: Writer) -> BoxFuture<'static, ()>;

    /// Everything pending, once (`pult sync --once`): a line per part synced.
    fn sync_once<'a>(
        &'a self,
        writer: &'a Writer,
        progress: OnProgress<'a>,
    ) -> BoxFuture<'a, Result<Vec<String>, String>>;

    /// What sends this channel's outbox rows.
    fn sender(&self, writer: &Writer) -> Arc<dyn ChannelSender>;

    /// The bytes of attachments of one message, in the order given.
    fn fetch<'a>(&'a self, items: &'a [Located]) -> BoxFuture<'a, Result<Vec<Vec<u8>>, String>>;

    /// One line for `pult doctor`: what works, or what is wrong.
    fn doctor(&self) -> BoxFuture<'_, Result<String, String>>;

    /// A player for voice messages, when the account has one (argv).
    fn player(&self) -> Option<Vec<String>> {
        None
    }
}

/// What channels are built with besides their own config entry.
#[derive(Clone)]
pub struct Context {
    pub timezone: jiff::tz::TimeZone,
    /// Where a channel keeps files it downloads (voice messages).
    pub media_dir: std::path::PathBuf,
    /// The team's language (`[ui] language`), for words pult writes into
    /// what it sends (a forwarded mail's header).
    pub lang: crate::i18n::Lang,
}

impl Context {
    pub fn from_config(cfg: &Config) -> Context {
        Context { timezone: cfg.timezone(), media_dir: crate::paths::data_dir().join("media"), lang: cfg.language() }
    }
}

/// The account as a channel (`id` is its row in the store).
pub fn open(account: &Account, id: i64, ctx: &Context) -> Result<Arc<dyn Channel>, String> {
    match account {
        Account::Email(e) => Ok(Arc::new(super::email::channel::EmailChannel::new(e.clone(), id, ctx))),
        Account::Telegram(t) => Ok(Arc::new(super::telegram::channel::TelegramChannel::new(t, id, ctx)?)),
        Account::Whatsapp(w) => Ok(Arc::new(super::whatsapp::channel::WhatsappChannel::new(w, id, ctx)?)),
    }
}

/// Records how a channel's worker is (shown beside the channel, `⚠` on
/// trouble); a store that cannot take it only costs the line.
pub async fn set_status(writer: &Writer, channel: i64, status: crate::model::ChannelStatus) {
    let now = jiff::Timestamp::now().as_second();
    let event = [crate::model::SyncEvent::Status(status)];
    let _ = writer.call(move |c| crate::store::events::apply(c, channel, &event, now)).await;
}

/// An account that could not be opened as a channel: (name, why).
pub type Unopened = (String, String);

/// Every configured account as a channel, its store row created on first use.
/// A channel the config no longer names is archived (its history stays; no
/// worker, no warning), and one named again comes back. An account that is
/// not set up yet ([`not_set_up`]) gets no row; one that cannot be opened
/// (its secret command failed, a bad URL) is left out with `⚠` and the reason
/// on its channel. Both are returned with their reason beside the rest (for
/// `pult sync --once`, the daemon, the TUI's status line and the log).
pub fn open_all(cfg: &Config, writer: &Writer) -> (Vec<Arc<dyn Channel>>, Vec<Unopened>) {
    let ctx = Context::from_config(cfg);
    let now = jiff::Timestamp::now().as_second();
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    // `[store] keep_raw`, where ingest reads it; unset, the store's own default stands.
    if let Some(on) = cfg.store.keep_raw
        && let Err(e) = writer.call_blocking(move |c| crate::store::originals::set_keep_raw(c, on))
    {
        tracing::error!("[store] keep_raw: {e}");
    }
    // A config without accounts (a team member's, beside the daemon's) says
    // nothing about which channels exist: it archives nothing.
    if !cfg.accounts.is_empty() {
        let names: Vec<String> = cfg.accounts.iter().map(|a| a.name().to_string()).collect();
        match writer.call_blocking(move |c| archive::reconcile(c, &names, now)) {
            Ok(gone) => gone.iter().for_each(|n| tracing::info!("{n}: archived: its account left the config")),
            Err(e) => tracing::error!("archiving channels that left the config: {e}"),
        }
    }
    for account in &cfg.accounts {
        let (name, kind) = (account.name().to_string(), account.kind());
        if let Some(why) = not_set_up(account) {
            // A channel made before (by an older pult, or before an edit) says why it stopped.
            let n = name.clone();
            if let Ok(Some(id)) = writer.call_blocking(move |c| archive::channel_id(c, &n)) {
                record_trouble(writer, id, &why, now);
            }
            tracing::warn!("{name}: {why}");
            bad.push((name, why));
            continue;
        }
        let n = name.clone();
        let id = match writer.call_blocking(move |c| ingest::ensure_channel(c, &n, kind, now)) {
            Ok(id) => id,
            Err(e) => {
                tracing::error!("{name}: {e}");
                bad.push((name, e.to_string()));
                continue;
            }
        };
        match open(account, id, &ctx) {
            Ok(ch) => ok.push(ch),
            Err(why) => {
                // No worker will ever say it: the sidebar and the channel's list do.
                record_trouble(writer, id, &why, now);
                tracing::error!("{name}: {why}");
                bad.push((name, why));
            }
        }
    }
    (ok, bad)
}

fn record_trouble(writer: &Writer, channel: i64, why: &str, now: i64) {
    let status = crate::model::ChannelStatus::Error(why.to_string());
    if let Err(e) = writer.call_blocking(move |c| crate::store::channel_state::set_status(c, channel, &status, now)) {
        tracing::error!("recording a channel's trouble: {e}");
    }
}

/// Domains kept for examples (RFC 2606, RFC 6761): an account that names one
/// was copied from an example and not filled in.
const PLACEHOLDER_DOMAINS: &[&str] =
    &["example.test", "example.com", "example.net", "example.org", "example", "invalid"];

fn placeholder_host(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    PLACEHOLDER_DOMAINS.iter().any(|d| host == *d || host.ends_with(&format!(".{d}")))
}

/// Whether `Command::new(program)` would find something to start.
fn program_found(program: &str) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let runnable = |p: &std::path::Path| p.metadata().is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    if program.contains('/') {
        return runnable(std::path::Path::new(program));
    }
    std::env::var_os("PATH").is_some_and(|path| std::env::split_paths(&path).any(|dir| runnable(&dir.join(program))))
}

/// Why an account is not set up yet, if it is not: it still names an
/// example's server (`imap.example.test`), or a secret that cannot even be
/// asked for (its program is not installed, its file does not exist). Such an
/// account gets no channel in the store and no worker until it is edited;
/// the reason says what to edit. Nothing is run to find out.
pub fn not_set_up(account: &Account) -> Option<String> {
    for (key, host) in account.hosts() {
        if placeholder_host(&host) {
            return Some(crate::t!("not_set_up_host", key = key, host = host));
        }
    }
    for crate::config::SecretSource { key, command, file } in account.secret_sources() {
        match (command.and_then(|c| c.first()), file) {
            (Some(program), _) if !program_found(program) => {
                return Some(crate::t!("not_set_up_command", key = key, program = format!("{program:?}")));
            }
            (None, Some(path)) if !path.exists() => {
                return Some(crate::t!("not_set_up_file", key = key, path = path.display()));
            }
            _ => {}
        }
    }
    None
}

/// What one message on a channel can be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest text of one message; longer replies are split (chats).
    pub max_text: Option<usize>,
    pub can_edit: bool,
    pub can_delete: bool,
    /// A reply can name the message it answers.
    pub reply_to: bool,
    /// Seconds after the client's last message within which a reply may go
    /// (WhatsApp's customer-service window); None: any time.
    pub reply_window: Option<i64>,
    pub files: bool,
    /// Messages carry a subject (email).
    pub subject: bool,
    /// The sender picks addresses (To, Cc): new messages, forwards, reply-all (email).
    pub addresses: bool,
}

/// What a channel judges a reply by.
#[derive(Debug, Clone, Default)]
pub struct ReplyFacts {
    /// The message answered (the newest client message), if any.
    pub answers: Option<i64>,
    /// When the client last wrote.
    pub last_inbound_at: Option<i64>,
    /// Email: who a reply-all goes to (To and Cc).
    pub recipients: Vec<String>,
    pub now: i64,
    /// What goes is a provider-approved template (allowed after a reply window).
    pub template: bool,
    /// The account the chat is seen through (Telegram Business), as last told.
    pub connection: Option<crate::model::Connection>,
}

/// Why a reply cannot go, said before it is queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("nobody to reply to: no message from the client in this conversation")]
    NothingToAnswer,
    #[error("nobody to reply to: the client's mail names no address but ours")]
    NoRecipients,
    #[error("the client last wrote more than {hours} hours ago; this channel only lets a reply go within that window")]
    WindowClosed { hours: i64 },
    #[error("{owner} turned this bot's business connection off (Telegram → Settings → Telegram Business → Chatbots)")]
    ConnectionDisabled { owner: String },
    #[error(
        "{owner} has not allowed this bot to reply in their chats (Telegram Business → Chatbots → the bot's rights)"
    )]
    NoReplyRight { owner: String },
}

impl Refusal {
    /// Said to a person, in `lang`.
    pub fn in_language(&self, lang: crate::i18n::Lang) -> String {
        match self {
            Refusal::WindowClosed { hours } => {
                let hours = crate::i18n::plural_of(lang, *hours, "more_than_hours");
                lang.tr("window_closed").replace("{hours}", &hours)
            }
            Refusal::ConnectionDisabled { owner } => {
                lang.tr("connection_disabled").replace("{owner}", &crate::sanitize::line(owner))
            }
            Refusal::NoReplyRight { owner } => {
                lang.tr("connection_no_reply").replace("{owner}", &crate::sanitize::line(owner))
            }
            Refusal::NothingToAnswer => lang.tr("refusal_nothing_to_answer").to_string(),
            Refusal::NoRecipients => lang.tr("refusal_no_recipients").to_string(),
        }
    }
}

/// One kind of channel. Adding a channel kind is an implementation of this
/// and a line in [`kind`].
pub trait ChannelKindInfo: Sync {
    fn limits(&self) -> Limits;

    /// Who a reply to a message goes to, (To, Cc), on channels where the
    /// sender picks addresses: `from`, `to` and `cc` of the message answered,
    /// `own` our addresses. None where a reply simply goes to the chat.
    fn reply_recipients(
        &self,
        _from: Option<&str>,
        _to: &[String],
        _cc: &[String],
        _own: &[String],
    ) -> Option<(Vec<String>, Vec<String>)> {
        None
    }

    /// Refuses a reply the channel would refuse anyway (no recipient, a
    /// closed reply window), so that nothing is queued that cannot leave.
    fn check_reply(&self, facts: &ReplyFacts) -> Result<(), Refusal> {
        if let (Some(window), Some(last)) = (self.reply_window(facts), facts.last_inbound_at)
            && facts.now - last > window
            && !facts.template
        {
            return Err(Refusal::WindowClosed { hours: window / 3600 });
        }
        Ok(())
    }

    /// Seconds after the client's last message within which a reply may go,
    /// for this conversation (None: any time).
    fn reply_window(&self, _facts: &ReplyFacts) -> Option<i64> {
        self.limits().reply_window
    }
}

struct Email;
struct Telegram;
struct Whatsapp;

impl ChannelKindInfo for Email {
    fn limits(&self) -> Limits {
        Limits {
            max_text: None,
            can_edit: false,
            can_delete: false,
            reply_to: true,
            reply_window: None,
            files: true,
            subject: true,
            addresses: true,
        }
    }

    fn reply_recipients(
        &self,
        from: Option<&str>,
        to: &[String],
        cc: &[String],
        own: &[String],
    ) -> Option<(Vec<String>, Vec<String>)> {
        let all: Vec<String> = to.iter().chain(cc).cloned().collect();
        Some(super::email::send::reply_all_split(from, &all, cc, own))
    }

    fn check_reply(&self, facts: &ReplyFacts) -> Result<(), Refusal> {
        if facts.answers.is_none() {
            return Err(Refusal::NothingToAnswer);
        }
        if facts.recipients.is_empty() {
            return Err(Refusal::NoRecipients);
        }
        Ok(())
    }
}

impl ChannelKindInfo for Telegram {
    fn limits(&self) -> Limits {
        Limits {
            max_text: Some(crate::channels::telegram::MAX_TEXT),
            can_edit: true,
            can_delete: true,
            reply_to: true,
            reply_window: None,
            files: true,
            subject: false,
            addresses: false,
        }
    }

    /// A chat seen through a person's business connection answers only with
    /// the connection on, the right to reply, and within 24 hours of the
    /// client's last message (Bot API); the bot's own chats have no window.
    fn check_reply(&self, facts: &ReplyFacts) -> Result<(), Refusal> {
        if let Some(c) = &facts.connection {
            if !c.enabled {
                return Err(Refusal::ConnectionDisabled { owner: c.owner_name.clone() });
            }
            if !c.can_reply {
                return Err(Refusal::NoReplyRight { owner: c.owner_name.clone() });
            }
        }
        if let (Some(window), Some(last)) = (self.reply_window(facts), facts.last_inbound_at)
            && facts.now - last > window
        {
            return Err(Refusal::WindowClosed { hours: window / 3600 });
        }
        Ok(())
    }

    fn reply_window(&self, facts: &ReplyFacts) -> Option<i64> {
        facts.connection.as_ref().map(|_| 24 * 3600)
    }
}

impl ChannelKindInfo for Whatsapp {
    fn limits(&self) -> Limits {
        Limits {
            max_text: Some(crate::channels::whatsapp::MAX_TEXT),
            can_edit: false,
            can_delete: false,
            reply_to: true,
            reply_window: Some(24 * 3600),
            files: true,
            subject: false,
            addresses: false,
        }
    }
}

/// The limits of a kind of channel.
pub fn limits(kind: ChannelKind) -> Limits {
    self::kind(kind).limits()
}

/// The registry: every kind of channel pult speaks.
pub fn kind(kind: ChannelKind) -> &'static dyn ChannelKindInfo {
    match kind {
        ChannelKind::Email => &Email,
        ChannelKind::Telegram => &Telegram,
        ChannelKind::Whatsapp => &Whatsapp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_kept_for_examples_are_placeholders() {
        for h in ["imap.example.test", "SMTP.Example.COM.", "example.org", "mail.example", "x.invalid"] {
            assert!(placeholder_host(h), "{h}");
        }
        for h in ["127.0.0.1", "imap.example-corp.ru", "examples.com", "mail.test", "imap.yandex.ru", "localhost"] {
            assert!(!placeholder_host(h), "{h}");
        }
        assert!(program_found("sh") && !program_found("pult-no-such-helper") && !program_found("/nonexistent/sh"));
    }

    #[test]
    fn a_reply_window_refuses_late_replies_and_email_needs_a_recipient() {
        let wa = kind(ChannelKind::Whatsapp);
        let late = ReplyFacts { answers: Some(1), last_inbound_at: Some(0), now: 25 * 3600, ..Default::default() };
        assert_eq!(wa.check_reply(&late), Err(Refusal::WindowClosed { hours: 24 }));
        let fresh = ReplyFacts { now: 3600, ..late.clone() };
        assert_eq!(wa.check_reply(&fresh), Ok(()));
        assert_eq!(kind(ChannelKind::Telegram).check_reply(&late), Ok(()), "no window on Telegram");
        let email = kind(ChannelKind::Email);
        assert_eq!(email.check_reply(&late), Err(Refusal::NoRecipients));
        let to = ReplyFacts { recipients: vec!["irina@client.test".into()], ..late };
        assert_eq!(email.check_reply(&to), Ok(()));
        assert_eq!(email.check_reply(&ReplyFacts::default()), Err(Refusal::NothingToAnswer));
    }
}

#[cfg(test)]
mod progress_tests {
    use super::SyncProgress;
    use std::time::{Duration, Instant};

    #[test]
    fn the_time_left_follows_the_pace_since_the_first_stored_batch() {
        let second_ago = Instant::now().checked_sub(Duration::from_secs(1)).expect("a second ago");
        // Login, listing and the first batch took a minute: not counted.
        let minute_ago = Instant::now().checked_sub(Duration::from_secs(60)).expect("a minute ago");
        let at = |done, first_stored| SyncProgress {
            folder: "INBOX",
            done,
            total: 2100,
            bytes: 0,
            started: minute_ago,
            first_stored,
        };
        assert_eq!(at(100, None).seconds_left(), None, "nothing to reckon from after one batch");
        assert_eq!(at(100, Some((second_ago, 100))).seconds_left(), None);
        // 500 mails in the second since: 1,500 more take about three.
        let left = at(600, Some((second_ago, 100))).seconds_left().expect("reckoned");
        assert!((3.0..=3.5).contains(&left), "{left}");
    }
}
