//! Domain types shared by the store, the workers and the UI.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    Email,
    Telegram,
    Whatsapp,
}

impl ChannelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Telegram => "telegram",
            ChannelKind::Whatsapp => "whatsapp",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(ChannelKind::Email),
            "telegram" => Some(ChannelKind::Telegram),
            "whatsapp" => Some(ChannelKind::Whatsapp),
            _ => None,
        }
    }

    /// Two-letter badge for narrow panes.
    pub fn badge(self) -> &'static str {
        match self {
            ChannelKind::Email => "@",
            ChannelKind::Telegram => "TG",
            ChannelKind::Whatsapp => "WA",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    In,
    Out,
    /// An internal note: shown to the team, never sent.
    Note,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
            Direction::Note => "note",
        }
    }
}

/// Delivery state of a message we send; inbound messages are `Received`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    Received,
    Pending,
    Sending,
    Sent,
    /// The provider says it reached the client's device (WhatsApp, Telegram Business).
    Delivered,
    /// … and that the client read it.
    Read,
    Failed,
    /// Maybe sent: the sender died while it was in flight. A person decides.
    Unknown,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Received => "received",
            Delivery::Pending => "pending",
            Delivery::Sending => "sending",
            Delivery::Sent => "sent",
            Delivery::Delivered => "delivered",
            Delivery::Read => "read",
            Delivery::Failed => "failed",
            Delivery::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Delivery {
        match s {
            "pending" => Delivery::Pending,
            "sending" => Delivery::Sending,
            "sent" => Delivery::Sent,
            "delivered" => Delivery::Delivered,
            "read" => Delivery::Read,
            "failed" => Delivery::Failed,
            "unknown" => Delivery::Unknown,
            _ => Delivery::Received,
        }
    }
}

/// What a sync worker saw, normalised: the store applies a batch of these in
/// one transaction (`store::events::apply`), and applying the same batch
/// again changes nothing.
#[derive(Debug, Clone, PartialEq)]
// Nearly every event is a message; boxing them would only add an allocation each.
#[allow(clippy::large_enum_variant)]
pub enum SyncEvent {
    /// A message, new or seen again (its remote id makes it once); with
    /// `edited` set, the new text of a stored one (the old text is kept).
    Message(Inbound),
    /// The sender deleted it: kept for the record and marked deleted.
    Deleted { remote_id: String },
    /// What the provider says of a message we sent (by the remote id it gave).
    Delivery { remote_id: String, state: Delivery, error: Option<String> },
    /// Read and answered marks set elsewhere, and mail gone from a mailbox
    /// (IMAP), with the mailbox's new modification sequence.
    Mailbox { folder: String, changed: Vec<FlagChange>, gone: Gone, highest_modseq: Option<u64> },
    /// How far the worker got (an update offset, a UIDNEXT …).
    Cursor { key: String, value: String },
    /// How the worker is.
    Status(ChannelStatus),
    /// A client reacted to a message (an empty `emoji` takes the reaction back).
    Reaction { remote_id: String, author_handle: String, author_name: String, emoji: String },
    /// Something the channel sent that pult could not read: kept with its
    /// raw bytes and the reason, counted in `pult doctor`, never dropped.
    Quarantine { reason: String, raw: Vec<u8> },
    /// A person connected the channel to their own account (Telegram
    /// Business), or changed what it may do there.
    Connection(Connection),
}

/// The conversation key of a chat seen through a connection:
/// `biz:<connection>:<chat id>` (distinct from the bot's own chat with the same person).
pub fn business_key(key: &str) -> Option<(&str, i64)> {
    let (connection, chat) = key.strip_prefix("biz:")?.rsplit_once(':')?;
    Some((connection, chat.parse().ok()?))
}

/// A person's own account the channel works in (Telegram Business: the
/// accountant's private chats, seen and answered by the bot).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connection {
    pub id: String,
    /// The account's owner (Telegram user id) and name.
    pub owner_id: i64,
    pub owner_name: String,
    pub can_reply: bool,
    pub can_read: bool,
    pub enabled: bool,
    pub date: i64,
}

/// Flags of one mail changed on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagChange {
    pub uid: u32,
    pub seen: bool,
    pub answered: bool,
}

/// Which mail a mailbox no longer has.
#[derive(Debug, Clone, PartialEq)]
pub enum Gone {
    Nothing,
    /// Every UID still on the server (UID SEARCH ALL): the rest is gone.
    AllPresent(std::collections::HashSet<u32>),
    /// UIDs gone, as QRESYNC's VANISHED says.
    Ranges(Vec<std::ops::RangeInclusive<u32>>),
}

/// Which conversations the middle pane lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    AllOpen,
    /// The client wrote last; oldest first.
    Unanswered,
    /// Promises due before the end of today (not yet overdue).
    DueToday,
    Overdue,
    /// Promises due within the next two working hours.
    AtRisk,
    /// Conversations assigned to me.
    Mine,
    /// Conversations nobody is responsible for.
    Unassigned,
    /// Promises I accepted.
    AcceptedByMe,
    /// Internal notes that mention me (`@name`).
    Mentions,
    Snoozed,
    /// Follow-ups whose time has come without an answer from the client.
    Reminders,
    /// Messages that failed or may have been sent: a person must decide.
    Unsent,
    /// Mailing lists and automatic mail: kept, searchable, never waiting.
    Lists,
    /// Conversations whose response-time clock is at risk (`workflow::sla`).
    SlaAtRisk,
    /// Conversations whose response-time clock is past due.
    Breached,
    Channel(i64),
    /// One client's conversations on every channel (`:client NAME`).
    Client(i64),
}

impl View {
    /// The smart views in the order the sidebar shows them (channels follow).
    pub const SMART: [View; 15] = [
        View::AllOpen,
        View::Unanswered,
        View::DueToday,
        View::Overdue,
        View::AtRisk,
        View::Mine,
        View::Unassigned,
        View::AcceptedByMe,
        View::Mentions,
        View::Snoozed,
        View::Reminders,
        View::Unsent,
        View::Lists,
        View::SlaAtRisk,
        View::Breached,
    ];

    pub fn key(self) -> &'static str {
        match self {
            View::AllOpen => "all_open",
            View::Unanswered => "unanswered",
            View::DueToday => "view_due_today",
            View::Overdue => "view_overdue",
            View::AtRisk => "view_at_risk",
            View::Mine => "view_assigned",
            View::Unassigned => "view_unassigned",
            View::AcceptedByMe => "view_mine",
            View::Mentions => "view_mentions",
            View::Snoozed => "view_snoozed",
            View::Reminders => "view_reminders",
            View::Unsent => "view_unsent",
            View::Lists => "view_lists",
            View::SlaAtRisk => "view_sla_at_risk",
            View::Breached => "view_breached",
            View::Channel(_) => "channels",
            View::Client(_) => "view_client",
        }
    }
}

/// The moments views are computed against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Moment {
    pub now: i64,
    pub end_of_today: i64,
    /// Two working hours from now: deadlines before it are at risk.
    pub risk_until: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRow {
    pub id: i64,
    pub name: String,
    pub kind: ChannelKind,
    /// Conversations with client messages this agent has not read.
    pub unread: i64,
    /// The sync worker's last word.
    pub status: Option<ChannelStatus>,
    /// People's own accounts this channel works in (Telegram Business).
    pub connections: Vec<Connection>,
    /// Its account left the config: history only, no worker, no warning.
    pub archived: bool,
}

/// What a channel's sync worker last said; the sidebar and the status line
/// show trouble as `⚠`, a long sync as `⟳60%`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelStatus {
    Connecting,
    /// A long sync: mails done of mails to fetch (0/0 when not counted).
    Syncing {
        done: u64,
        total: u64,
    },
    /// Synced; when (None in a status an older build wrote).
    Ok {
        at: Option<i64>,
    },
    /// Trouble the worker retries (network, server).
    Error(String),
    /// The server refused our credentials (a revoked bot token, a changed
    /// password): retrying will not help until a person fixes the secret.
    AuthFailed(String),
}

impl ChannelStatus {
    /// The text kept in `channels.status`: readable in the database, one line.
    pub fn to_stored(&self) -> String {
        match self {
            ChannelStatus::Connecting => "connecting".into(),
            ChannelStatus::Syncing { done, total } => format!("syncing {done}/{total}"),
            ChannelStatus::Ok { at: Some(t) } => format!("✓ {t}"),
            ChannelStatus::Ok { at: None } => "✓".into(),
            ChannelStatus::Error(why) => format!("⚠ {}", one_line(why)),
            ChannelStatus::AuthFailed(why) => format!("⚠ auth: {}", one_line(why)),
        }
    }

    pub fn from_stored(s: &str) -> Option<ChannelStatus> {
        if s == "connecting" {
            return Some(ChannelStatus::Connecting);
        }
        if let Some(rest) = s.strip_prefix("syncing") {
            let (done, total) = rest.trim().split_once('/').unwrap_or(("0", "0"));
            return Some(ChannelStatus::Syncing { done: done.parse().unwrap_or(0), total: total.parse().unwrap_or(0) });
        }
        if let Some(rest) = s.strip_prefix('✓') {
            return Some(ChannelStatus::Ok { at: rest.trim().parse().ok() });
        }
        if let Some(rest) = s.strip_prefix("⚠ auth: ") {
            return Some(ChannelStatus::AuthFailed(rest.to_string()));
        }
        s.strip_prefix('⚠').map(|rest| ChannelStatus::Error(rest.trim().to_string()))
    }

    pub fn is_trouble(&self) -> bool {
        matches!(self, ChannelStatus::Error(_) | ChannelStatus::AuthFailed(_))
    }

    /// How far a long sync is, in percent.
    pub fn progress_percent(&self) -> Option<u64> {
        match self {
            ChannelStatus::Syncing { done, total } if *total > 0 => Some(done * 100 / total),
            _ => None,
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConversationRow {
    pub id: i64,
    pub channel_id: i64,
    pub channel_name: String,
    pub kind: ChannelKind,
    pub title: String,
    /// The client as lists show them: organisation, else name.
    pub client: Option<String>,
    /// The person's name, for greetings in templates.
    pub client_name: Option<String>,
    pub is_group: bool,
    pub last_message_at: i64,
    pub preview: String,
    /// Set when the client wrote last: since when they wait.
    pub waiting_since: Option<i64>,
    pub unread: bool,
    pub next_deadline: Option<i64>,
    pub assignee: Option<String>,
    pub snoozed_until: Option<i64>,
    pub follow_up_at: Option<i64>,
    /// Teammates composing a reply here right now.
    pub claimed_by: Option<String>,
}

/// Which rows of a view a page of the conversation list reads, in the view's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    /// From the first row.
    Top,
    /// The last rows (read backwards, returned in order).
    Bottom,
    /// From this row on, it included.
    From(ListKey),
    /// The rows after this one.
    After(ListKey),
    /// The rows before this one (read backwards, returned in order).
    Before(ListKey),
}

/// Where the conversation list is in its ordering, for keyset paging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListKey {
    pub sort: i64,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MessageRow {
    pub id: i64,
    /// The channel's id for it (`local:N` while our reply is queued); None for notes.
    pub remote_id: Option<String>,
    pub direction: Direction,
    pub author: String,
    pub sent_at: i64,
    pub subject: Option<String>,
    pub body: String,
    pub delivery: Delivery,
    pub error: Option<String>,
    pub edited: bool,
    pub deleted: bool,
    /// Email: gone from the server (expunged elsewhere); pult keeps it.
    pub expunged: bool,
    /// How the message was read: notice codes (see `channels::email::parse`)
    /// and a parse error, if any.
    pub notices: Vec<String>,
    pub parse_error: Option<String>,
    /// Email: the sender's address, and To (without Cc) and Cc.
    pub from_handle: Option<String>,
    /// Email: display names of addresses this mail names, (address, name).
    pub names: Vec<(String, String)>,
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// The message this one answers: its author and its text's start.
    pub reply_quote: Option<(String, String)>,
    pub attachments: Vec<AttachmentRow>,
    /// Reactions of people to it, (name, emoji).
    pub reactions: Vec<(String, String)>,
    /// A short «thanks» that needs no answer (not counted as waiting).
    pub closing: bool,
    /// A mail server's report on our mail (`failed`, `delayed` …): shown in
    /// the thread, never what a reply answers.
    pub report: Option<String>,
    /// Email from others: DKIM as checked on arrival (`mailauth`).
    pub auth: Option<crate::mailauth::MailAuth>,
}

impl MessageRow {
    /// A message of the client's that a reply can answer (not a bounce).
    pub fn answerable(&self) -> bool {
        self.direction == Direction::In && self.report.is_none()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AttachmentRow {
    pub name: String,
    pub mime: String,
    /// None: the channel did not say.
    pub size: Option<i64>,
    pub duration: Option<i64>,
    /// How the channel finds the bytes (Telegram file id); fetched on demand.
    pub remote_ref: Option<String>,
    /// Why the bytes could not be fetched when they arrived (WhatsApp).
    pub fetch_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskRow {
    pub id: i64,
    pub state: String,
    pub deadline: Option<i64>,
    pub accepted_by: Option<String>,
    /// Why a promise was withdrawn (its message failed, was discarded or taken
    /// back): shown struck through until a newer promise replaces it.
    pub withdrawn: Option<String>,
    /// The acceptance that tells the client has not reached them yet
    /// (queued, sending, or maybe sent).
    pub unsent: bool,
}

/// What the store tells open UIs after a commit.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub seq: i64,
    pub kind: ChangeKind,
    pub conversation_id: Option<i64>,
    /// Who did it; None for sync workers and the dispatcher.
    pub actor: Option<String>,
}

/// What kind of thing a commit changed, so that a UI reloads only that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New, edited or merged messages of a conversation.
    Messages,
    /// Read, answered or expunged marks from the server.
    Flags,
    /// A reply queued, sent, failed, retried or discarded.
    Outbox,
    /// A promise accepted, done, redated or cancelled.
    Task,
    Assign,
    Note,
    /// Someone is composing a reply (or stopped).
    Claim,
    Read,
    Snooze,
    FollowUp,
    /// Closed or reopened.
    Status,
    /// A channel appeared or its worker's status changed.
    Channel,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Messages => "messages",
            ChangeKind::Flags => "flags",
            ChangeKind::Outbox => "outbox",
            ChangeKind::Task => "task",
            ChangeKind::Assign => "assign",
            ChangeKind::Note => "note",
            ChangeKind::Claim => "claim",
            ChangeKind::Read => "read",
            ChangeKind::Snooze => "snooze",
            ChangeKind::FollowUp => "follow_up",
            ChangeKind::Status => "status",
            ChangeKind::Channel => "channel",
        }
    }

    /// A kind this build does not know (a newer one wrote it) reads as Messages:
    /// everything about the conversation is reloaded.
    pub fn parse(s: &str) -> ChangeKind {
        [
            ChangeKind::Flags,
            ChangeKind::Outbox,
            ChangeKind::Task,
            ChangeKind::Assign,
            ChangeKind::Note,
            ChangeKind::Claim,
            ChangeKind::Read,
            ChangeKind::Snooze,
            ChangeKind::FollowUp,
            ChangeKind::Status,
            ChangeKind::Channel,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
        .unwrap_or(ChangeKind::Messages)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct StatusCounts {
    pub unanswered: i64,
    pub open: i64,
    pub overdue: i64,
    pub due_today: i64,
    pub at_risk: i64,
    /// Conversations whose response-time clock is past due (`workflow::sla`).
    pub breached: i64,
    /// Outbox rows that may have been sent (the sender died mid-send): a person decides.
    pub unknown: i64,
    /// Outbox rows that failed for good and wait for a retry or a discard.
    pub failed: i64,
    /// Working minutes the longest-waiting client has waited (0 when nobody waits).
    pub oldest_unanswered_minutes: i64,
    #[serde(skip)]
    pub oldest_waiting_since: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgendaItem {
    pub conversation: i64,
    pub task: i64,
    pub client: Option<String>,
    pub title: String,
    pub channel: String,
    pub kind: ChannelKind,
    pub deadline: String,
    #[serde(skip)]
    pub deadline_ts: i64,
    /// "overdue" or "due_today".
    pub state: String,
    pub accepted_by: Option<String>,
}

/// A message or an internal note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HitKind {
    Message,
    Note,
}

/// One search result. `highlights` are byte ranges of the matched words in `snippet`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SearchHit {
    pub conversation: i64,
    /// The message found; null for a note.
    pub message: Option<i64>,
    /// The note found; null for a message.
    pub note: Option<i64>,
    pub channel: String,
    /// `message` or `note`.
    #[serde(rename = "kind")]
    pub hit: HitKind,
    /// The channel's kind: email, telegram or whatsapp.
    #[serde(rename = "channel_kind")]
    pub kind: ChannelKind,
    pub from: String,
    pub subject: Option<String>,
    pub date: String,
    pub snippet: String,
    pub highlights: Vec<[usize; 2]>,
    /// Where the hit stands in "newest first" (its search key).
    #[serde(skip)]
    pub order: i64,
}

/// A message as a sync worker hands it to the store, already normalised.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inbound {
    /// Mail that needs no answer by its nature (a list, a program, nobody's address).
    pub automatic: Option<crate::workflow::automatic::Automatic>,
    pub remote_id: String,
    /// Email thread root or chat id: the conversation this message belongs to.
    pub conversation_key: String,
    pub conversation_title: String,
    pub is_group: bool,
    pub outgoing: bool,
    pub author_handle: String,
    pub author_name: String,
    /// Telegram: the sender's @username, when they have one (shown with the
    /// numeric id, which is the key: a username can change hands).
    pub author_username: Option<String>,
    pub sent_at: i64,
    pub subject: Option<String>,
    pub body_text: String,
    pub body_html: Option<String>,
    pub reply_to_remote: Option<String>,
    pub attachments: Vec<InboundAttachment>,
    pub parse_error: Option<String>,
    /// A new version of a message already known: the text is replaced, the old kept.
    pub edited: bool,
    /// Email: the To and Cc addresses (for reply-all).
    pub recipients: Vec<String>,
    /// Email: the Cc part of `recipients`.
    pub cc: Vec<String>,
    /// Email: where the message lives on the server (folder, UID) and its \Seen, \Answered flags.
    pub imap: Option<ImapPlace>,
    /// Email: the Message-ID header. A threading attribute that any sender
    /// controls, never the key (the key is the IMAP place, see `remote_id`).
    pub message_id: Option<String>,
    /// Email: every Message-ID this mail names in References and In-Reply-To;
    /// any of them already stored joins it to that conversation.
    pub thread_refs: Vec<String>,
    /// Email: display names of From/To/Cc addresses, as (address, name).
    pub names: Vec<(String, String)>,
    /// Something a reader should know about how this message was read
    /// (a date taken from the server because the header was missing or in the future).
    pub notice: Option<String>,
    /// Email: a fingerprint of the sender's address and every MIME part (type,
    /// size, bytes). Mail that shares a Message-ID, a date, a name and a text
    /// is told apart by it when it comes back renumbered or moved.
    pub mime_shape: Option<String>,
    /// Email: a mail server's report on a mail we sent (a bounce, a delay).
    pub report: Option<DeliveryReport>,
    /// The bytes as the channel sent them (`[store] keep_raw`), kept as evidence.
    pub raw: Option<std::sync::Arc<RawOriginal>>,
    /// Email: DKIM as checked on arrival, and what the servers reported (`mailauth`).
    pub auth: Option<crate::mailauth::MailAuth>,
    /// Search terms and the closing-word check, computed by the sync worker
    /// so that the store's writer need not (`store::prepared`).
    pub prepared: Option<std::sync::Arc<crate::store::prepared::Prepared>>,
}

/// What a mail server reports about a mail (RFC 3464 delivery status
/// notification, or one of the plain-text bounces that predate it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryReport {
    /// The Message-ID of the mail reported on, from the headers it returns.
    pub original_id: Option<String>,
    pub recipients: Vec<RecipientReport>,
}

/// The fate of one recipient in a `DeliveryReport`.
#[derive(Debug, Clone, PartialEq)]
pub struct RecipientReport {
    /// As the mail named it (Original-Recipient), else where the server
    /// tried it (Final-Recipient); empty when a plain-text bounce names none.
    pub address: String,
    pub action: ReportAction,
    /// RFC 3463 status: `5.1.1`.
    pub status: Option<String>,
    /// What the receiving server said: `550 5.1.1 <a@x>: User unknown`.
    pub diagnostic: Option<String>,
}

/// RFC 3464 `Action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportAction {
    Failed,
    /// Not delivered yet; the server keeps trying.
    Delayed,
    Delivered,
    /// Handed to a system that sends no reports.
    Relayed,
    /// Delivered to a list that sends it on.
    Expanded,
}

impl ReportAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ReportAction::Failed => "failed",
            ReportAction::Delayed => "delayed",
            ReportAction::Delivered => "delivered",
            ReportAction::Relayed => "relayed",
            ReportAction::Expanded => "expanded",
        }
    }
}

impl DeliveryReport {
    /// What the report says of the mail as a whole: failed when any
    /// recipient failed, else delayed when any waits, else delivered.
    pub fn outcome(&self) -> ReportAction {
        let any = |a: ReportAction| self.recipients.iter().any(|r| r.action == a);
        if any(ReportAction::Failed) || self.recipients.is_empty() {
            ReportAction::Failed
        } else if any(ReportAction::Delayed) {
            ReportAction::Delayed
        } else if any(ReportAction::Delivered) {
            ReportAction::Delivered
        } else if any(ReportAction::Expanded) {
            ReportAction::Expanded
        } else {
            ReportAction::Relayed
        }
    }

    /// «recipient: 550 5.1.1 … user unknown» for each recipient with this
    /// fate, joined by «; ».
    pub fn reason(&self, action: ReportAction) -> String {
        let said = |r: &RecipientReport| match (&r.diagnostic, &r.status) {
            // A diagnostic that starts with its SMTP reply code says it all.
            (Some(d), _) if d.as_bytes().first().is_some_and(u8::is_ascii_digit) => d.clone(),
            (Some(d), Some(s)) if !d.contains(s.as_str()) => format!("{s} {d}"),
            (Some(d), _) => d.clone(),
            (None, Some(s)) => s.clone(),
            (None, None) => action.as_str().to_string(),
        };
        let parts: Vec<String> = self
            .recipients
            .iter()
            .filter(|r| r.action == action)
            .map(|r| if r.address.is_empty() { said(r) } else { format!("{}: {}", r.address, said(r)) })
            .collect();
        if parts.is_empty() { action.as_str().to_string() } else { parts.join("; ") }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImapPlace {
    pub folder: String,
    /// UIDVALIDITY of the folder: with the UID, what the server guarantees names one mail.
    pub validity: u32,
    pub uid: u32,
    /// The account's Sent folder: our own mail, matched to our outbox record.
    pub sent_folder: bool,
    /// The folder's UIDVALIDITY changed since the last sync: stored mail may
    /// come back under new UIDs.
    pub renumbered: bool,
    pub seen: bool,
    pub answered: bool,
}

impl ImapPlace {
    /// The store key of an IMAP message: (folder, UIDVALIDITY, UID), folder last
    /// because it may contain any character.
    pub fn remote_id(&self) -> String {
        format!("imap:{}:{}:{}", self.validity, self.uid, self.folder)
    }
}

/// A message's bytes exactly as a channel delivered them: a mail as fetched
/// (`BODY.PEEK[]`), a Telegram update, a WhatsApp webhook body.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawOriginal {
    /// "imap", "telegram" or "whatsapp".
    pub kind: &'static str,
    /// Where it came from, as a JSON object: folder, uidvalidity, uid; chat_id,
    /// message_id, update_id; wamid.
    pub source: serde_json::Value,
    pub bytes: Vec<u8>,
    /// None: all of it. Some(reason): only a part was fetched (a large mail by structure).
    pub partial: Option<String>,
    /// A webhook's signature header as received (`X-Hub-Signature-256: sha256=…`).
    pub signature: Option<String>,
    pub received_at: i64,
    /// `bytes` as the store keeps them, made by the worker that received them
    /// ([`RawOriginal::packed`]) so the store's writer thread does not spend
    /// its time hashing and compressing.
    pub packed: Option<Packed>,
}

/// Bytes named by their SHA-256 and deflated, ready for the store's blobs.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub sha256: String,
    pub size: usize,
    pub deflated: Vec<u8>,
    /// Written to the directory beside the store (`store::side_blobs`): the
    /// store records its name and size only.
    pub beside: bool,
}

impl Packed {
    pub fn of(bytes: &[u8]) -> std::io::Result<Packed> {
        Ok(Packed {
            sha256: crate::store::audit_chain::sha256_hex(bytes),
            size: bytes.len(),
            deflated: deflate(bytes)?,
            beside: false,
        })
    }
}

thread_local! {
    /// One compressor a thread (libdeflate, level 1), and the buffer it
    /// writes into: a new one allocates its tables afresh (fresh pages,
    /// faulted in and zeroed), which cost more than deflating a typical mail.
    /// libdeflate at level 1 deflated the 20,000 mails of gen_corpus.py in
    /// 0.68 s to 55 % of their size; miniz (flate2's Rust backend) at its
    /// fastest took 0.93 s for 59 %. Its output is plain raw deflate, which
    /// flate2 reads back (originals from before read as they were).
    static DEFLATE: std::cell::RefCell<(libdeflater::Compressor, Vec<u8>)> = std::cell::RefCell::new((
        // Level 1 (`fastest()` is level 0: stored, not compressed).
        libdeflater::Compressor::new(FASTEST_THAT_COMPRESSES),
        Vec::new(),
    ));
}

const FASTEST_THAT_COMPRESSES: libdeflater::CompressionLvl = match libdeflater::CompressionLvl::new(1) {
    Ok(level) => level,
    Err(_) => libdeflater::CompressionLvl::fastest(),
};

/// `bytes` as a raw deflate stream (what `DeflateDecoder` reads back).
fn deflate(bytes: &[u8]) -> std::io::Result<Vec<u8>> {
    DEFLATE.with_borrow_mut(|(z, scratch)| {
        let bound = z.deflate_compress_bound(bytes.len());
        if scratch.len() < bound {
            scratch.resize(bound, 0);
        }
        let written = z.deflate_compress(bytes, scratch).map_err(std::io::Error::other)?;
        let out = scratch[..written].to_vec();
        // One very large mail does not keep its buffer for the thread's life.
        if scratch.len() > 4 << 20 {
            *scratch = Vec::new();
        }
        Ok(out)
    })
}

impl RawOriginal {
    /// With its bytes packed for the store now (on the caller's thread).
    pub fn packed(mut self) -> RawOriginal {
        self.packed = Packed::of(&self.bytes).ok();
        self
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct InboundAttachment {
    pub name: String,
    pub mime: String,
    /// Bytes; negative when the channel did not say (stored as NULL, shown as no size).
    pub size: i64,
    pub remote_ref: Option<String>,
    pub duration: Option<i64>,
}

/// An outbox row that waits for a person (`pult outbox`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxProblem {
    pub outbox: i64,
    pub conversation: i64,
    pub channel: String,
    /// `failed` or `unknown` (may have been sent).
    pub state: String,
    pub error: String,
    pub queued: String,
    pub title: String,
    /// The first line of the message.
    pub text: String,
}

/// One line of the append-only audit log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEvent {
    pub time: String,
    pub actor: String,
    pub action: String,
    pub conversation: Option<i64>,
    /// With times (deadlines) in RFC 3339.
    pub detail: String,
    /// The same, with times in the team's local time, for people.
    #[serde(skip)]
    pub detail_local: String,
}

/// A file an outgoing message carries, as the sender gets it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingFile {
    pub name: String,
    pub mime: String,
    pub bytes: FileBytes,
}

/// Where an outgoing file's bytes are. Copied into the store when the reply
/// is queued, so a daemon running as another user, or later, sends what was
/// attached even if the composer's file is gone or unreadable to it.
#[derive(Debug, Clone, PartialEq)]
pub enum FileBytes {
    Stored(Vec<u8>),
    /// Queued by a release that kept only the path: read when sent.
    AtPath(std::path::PathBuf),
}

impl OutgoingFile {
    /// The bytes to send; `Err` names a path that is no longer readable.
    pub fn read(&self) -> Result<std::borrow::Cow<'_, [u8]>, std::path::PathBuf> {
        match &self.bytes {
            FileBytes::Stored(b) => Ok(std::borrow::Cow::Borrowed(b)),
            FileBytes::AtPath(p) => std::fs::read(p).map(std::borrow::Cow::Owned).map_err(|_| p.clone()),
        }
    }
}

/// One attachment of a stored message and where its bytes are.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Located {
    pub message: i64,
    pub index: usize,
    pub name: String,
    pub mime: String,
    /// None: the channel did not say.
    pub size: Option<i64>,
    pub channel: String,
    pub kind: ChannelKind,
    #[serde(skip)]
    pub remote_ref: Option<String>,
    /// (folder, UID, UIDVALIDITY when known): where the mail was listed from.
    #[serde(skip)]
    pub imap: Option<(String, u32, Option<u32>)>,
    /// Removed from the mail server since pult synced it.
    pub expunged: bool,
    /// A file this machine sent: the path it was sent from.
    #[serde(skip)]
    pub local_path: Option<std::path::PathBuf>,
    /// Media fetched when it arrived (WhatsApp): the SHA-256 its file is named by.
    #[serde(skip)]
    pub content_hash: Option<String>,
    /// Why its bytes could not be fetched (expired, over the size limit).
    pub fetch_error: Option<String>,
    /// Its bytes, where the store holds them (filled by `attachments::with_stored`).
    #[serde(skip)]
    pub stored: Option<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    #[test]
    fn packed_originals_inflate_to_what_went_in_with_one_compressor_reused() {
        // Text that deflates well, bytes that do not (and need more room than
        // the first guess), nothing at all, and the first again: each comes
        // back whole from the same thread's compressor.
        let text = "Добрый день! Пришлите, пожалуйста, акт сверки за ноябрь.\r\n".repeat(400).into_bytes();
        let mut noise = Vec::with_capacity(300_000);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        while noise.len() < 300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            noise.extend_from_slice(&x.to_le_bytes());
        }
        for bytes in [&text[..], &noise[..], b"", &text[..]] {
            let p = Packed::of(bytes).expect("packed");
            let mut back = Vec::new();
            flate2::read::DeflateDecoder::new(p.deflated.as_slice()).read_to_end(&mut back).expect("inflates");
            assert_eq!(back, bytes);
            assert_eq!(p.size, bytes.len());
            assert_eq!(p.sha256, crate::store::audit_chain::sha256_hex(bytes));
        }
        assert!(Packed::of(&text).expect("packed").deflated.len() < text.len() / 4, "text is deflated");
    }
}
