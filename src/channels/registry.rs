//! What each kind of channel is, as data: its limits and the replies it
//! refuses before anything is queued. The composer, `pult reply` and the
//! senders read these instead of naming a channel kind.

use crate::model::ChannelKind;

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
}

/// One kind of channel. Adding a channel kind is an implementation of this
/// and a line in [`kind`].
pub trait ChannelKindInfo: Sync {
    fn limits(&self) -> Limits;

    /// Refuses a reply the channel would refuse anyway (no recipient, a
    /// closed reply window), so that nothing is queued that cannot leave.
    fn check_reply(&self, facts: &ReplyFacts) -> Result<(), Refusal> {
        let limits = self.limits();
        if let (Some(window), Some(last)) = (limits.reply_window, facts.last_inbound_at)
            && facts.now - last > window
        {
            return Err(Refusal::WindowClosed { hours: window / 3600 });
        }
        Ok(())
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
        }
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
        }
    }
}

impl ChannelKindInfo for Whatsapp {
    fn limits(&self) -> Limits {
        Limits {
            max_text: Some(4096),
            can_edit: false,
            can_delete: false,
            reply_to: true,
            reply_window: Some(24 * 3600),
            files: true,
            subject: false,
        }
    }
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
