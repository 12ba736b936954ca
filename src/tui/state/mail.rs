//! Email beyond a reply: attachments picked, forwards, new mail.

use super::*;

impl AppState {
    // ---- attachments, forward, new email -------------------------------------------

    /// Attachments of the open thread, newest first; one is taken at once.
    pub(super) fn pick_attachment(&mut self, purpose: PickPurpose) -> Vec<Effect> {
        let Some(t) = &self.thread else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        let (clock, lang) = (&self.clock, self.lang);
        let items: Vec<PickItem> = t
            .messages
            .iter()
            .rev()
            .flat_map(|m| {
                m.attachments.iter().enumerate().map(move |(index, a)| PickItem {
                    label: format!(
                        "{}  {}· {} · {}",
                        crate::sanitize::line(&a.name),
                        // An unknown size is left out.
                        a.size.map(|_| format!("{}  ", human_size(lang, a.size))).unwrap_or_default(),
                        crate::sanitize::line(&m.author),
                        clock.short(m.sent_at)
                    ),
                    message: m.id,
                    index,
                })
            })
            .collect();
        match items.len() {
            0 => {
                self.error(self.lang.tr("no_attachments"));
                Vec::new()
            }
            1 => self.picked(purpose, items[0].clone()),
            _ => {
                self.popup = Some(Popup::Pick { purpose, items, selected: 0 });
                Vec::new()
            }
        }
    }

    /// Messages of the open email thread, newest first, to forward one. The
    /// choice starts on the client's newest mail (what is forwarded is nearly
    /// always what the client sent, with its files), not on our own reply.
    pub(super) fn pick_forward(&mut self) -> Vec<Effect> {
        let Some(t) = &self.thread else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        if !limits(t.conversation.kind).addresses {
            self.error(self.lang.tr("forward_is_email"));
            return Vec::new();
        }
        let mails: Vec<&MessageRow> = t.messages.iter().rev().filter(|m| m.direction != Direction::Note).collect();
        let selected = mails.iter().position(|m| m.direction == Direction::In).unwrap_or(0);
        let items: Vec<PickItem> = mails
            .iter()
            .map(|m| {
                let clip =
                    if m.attachments.is_empty() { String::new() } else { format!("  📎{}", m.attachments.len()) };
                PickItem {
                    label: format!(
                        "{}  {}: {}{clip}",
                        self.clock.short(m.sent_at),
                        crate::sanitize::line(&m.author),
                        crate::sanitize::truncate(&crate::sanitize::line(m.body.lines().next().unwrap_or("")), 60)
                    ),
                    message: m.id,
                    index: 0,
                }
            })
            .collect();
        match items.len() {
            0 => Vec::new(),
            1 => self.picked(PickPurpose::Forward, items[0].clone()),
            _ => {
                self.popup = Some(Popup::Pick { purpose: PickPurpose::Forward, items, selected });
                Vec::new()
            }
        }
    }

    pub(super) fn picked(&mut self, purpose: PickPurpose, item: PickItem) -> Vec<Effect> {
        match purpose {
            PickPurpose::OpenAttachment => vec![Effect::OpenAttachment { message: item.message, index: item.index }],
            PickPurpose::SaveAttachment => {
                let fx =
                    self.ask(Purpose::SaveTo { message: item.message, index: item.index }, vec!["directory".into()]);
                if let Some(Popup::Fields(f)) = &mut self.popup {
                    f.input = self.download_dir.display().to_string();
                }
                fx
            }
            PickPurpose::Forward => self.ask(Purpose::ForwardTo { message: item.message }, vec!["to".into()]),
            PickPurpose::Pause => match crate::workflow::sla::PauseReason::ALL.get(item.index) {
                Some(reason) => vec![Effect::SlaPause { conversation: item.message, reason: *reason }],
                None => Vec::new(),
            },
        }
    }

    /// `c`: a new email from the open thread's email channel, else the selected or first one.
    pub(super) fn new_email(&mut self) -> Vec<Effect> {
        let from_thread =
            self.thread.as_ref().filter(|t| limits(t.conversation.kind).addresses).map(|t| t.conversation.channel_id);
        let selected = match self.view {
            View::Channel(id) => self.channels.iter().find(|c| c.id == id && limits(c.kind).addresses).map(|c| c.id),
            _ => None,
        };
        let first = self.channels.iter().find(|c| limits(c.kind).addresses).map(|c| c.id);
        let Some(channel) = from_thread.or(selected).or(first) else {
            self.error(self.lang.tr("no_email_account"));
            return Vec::new();
        };
        self.popup = Some(Popup::Fields(FieldsPrompt::new(
            Purpose::NewEmail { channel },
            0,
            vec!["to".into(), "subject".into()],
        )));
        Vec::new()
    }

    pub(super) fn open_mail_composer(
        &mut self,
        conversation: i64,
        draft: MailDraft,
        subject: Option<String>,
    ) -> Vec<Effect> {
        let mut fx = Vec::new();
        if let Some(old) = self.composer.take() {
            self.stash(old, &mut fx);
        }
        let kind = match &draft {
            MailDraft::Forward { message, .. } => DraftKind::Forward(*message),
            MailDraft::New { channel, .. } => DraftKind::Email(*channel),
        };
        let text = self.take_draft(conversation, kind);
        let channel_kind = match &draft {
            MailDraft::New { channel, .. } => self.channels.iter().find(|c| c.id == *channel).map(|c| c.kind),
            MailDraft::Forward { .. } => self.thread.as_ref().map(|t| t.conversation.kind),
        };
        let mut c = new_composer(conversation, channel_kind.unwrap_or(ChannelKind::Email), None, subject, &text);
        c.mail = Some(draft);
        self.composer = Some(c);
        self.focus = Focus::Composer;
        fx
    }

    /// What a reply to the open thread answers, and its subject in email.
    pub(super) fn reply_target(&self) -> (Option<i64>, Option<String>) {
        let Some(t) = &self.thread else { return (None, None) };
        let subject = limits(t.conversation.kind).subject.then(|| {
            crate::workflow::replies::reply_subject(
                t.messages.iter().rev().find_map(|m| m.subject.as_deref()).or(Some(t.conversation.title.as_str())),
            )
        });
        (t.last_inbound(), subject)
    }
}
