//! The composer: replies, notes, drafts, templates, and sending.

use super::*;

impl AppState {
    // ---- composing ------------------------------------------------------------

    pub(super) fn open_composer(&mut self, template: Option<String>) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(conv_id) = self.target() else {
            self.error(self.lang.tr("open_a_thread"));
            return fx;
        };
        if self.thread.as_ref().map(|t| t.conversation.id) != Some(conv_id) {
            // The thread must be loaded to know what we answer; load it first.
            fx.push(Effect::LoadThread(conv_id));
            fx.push(Effect::MarkRead(conv_id));
            self.pending_composer = Some(template);
            self.focus = Focus::Thread;
            return fx;
        }
        fx.extend(self.ensure_composer());
        if let Some(id) = template {
            fx.extend(self.insert_template(&id));
        }
        fx
    }

    /// Opens the composer for an internal note on the open (or selected) conversation.
    pub(super) fn open_note(&mut self) -> Vec<Effect> {
        let mut fx = Vec::new();
        let Some(conv) = self.target() else {
            self.error(self.lang.tr("open_a_thread"));
            return fx;
        };
        if self.thread.as_ref().map(|t| t.conversation.id) != Some(conv) {
            fx.push(Effect::LoadThread(conv));
        }
        if let Some(old) = self.composer.take() {
            self.stash(old, &mut fx);
        }
        let kind = self.thread.as_ref().map(|t| t.conversation.kind).unwrap_or(ChannelKind::Telegram);
        let text = self.take_draft(conv, DraftKind::Note);
        let mut c = new_composer(conv, kind, None, None, &text);
        c.note = true;
        self.composer = Some(c);
        self.focus = Focus::Composer;
        fx
    }

    /// Keeps a closed composer's text as a draft and gives up its claim.
    pub(super) fn stash(&mut self, c: Composer, fx: &mut Vec<Effect>) {
        // An approved template's composer is no draft: the draft kept before
        // it (if any) stays as it was.
        if c.template.is_some() {
            fx.push(Effect::Release(c.conversation));
            return;
        }
        let (key, draft) = c.draft();
        if draft.body.trim().is_empty() {
            self.drafts.remove(&key);
        } else {
            self.drafts.insert(key, draft.clone());
        }
        fx.push(Effect::SaveDraft(key, draft));
        if !c.note {
            fx.push(Effect::Release(c.conversation));
        }
    }

    /// The nearest deadline of a conversation's open promise, as the open
    /// thread or the list knows it.
    pub(super) fn open_promise(&self, conversation: i64) -> Option<i64> {
        if let Some(t) = self.thread.as_ref().filter(|t| t.conversation.id == conversation) {
            return t.tasks.iter().filter(|x| x.withdrawn.is_none()).filter_map(|x| x.deadline).min();
        }
        self.list.rows.iter().find(|r| r.id == conversation).and_then(|r| r.next_deadline)
    }

    /// Who an email reply from the open composer goes to: (To, Cc), computed
    /// as the sender computes it.
    pub fn reply_recipients(&self) -> Option<(Vec<String>, Vec<String>)> {
        let c = self.composer.as_ref().filter(|c| limits(c.kind).addresses && !c.note && c.mail.is_none())?;
        let t = self.thread.as_ref().filter(|t| t.conversation.id == c.conversation)?;
        let m = t.messages.iter().find(|m| Some(m.id) == c.reply_to)?;
        crate::channels::registry::kind(c.kind).reply_recipients(
            m.from_handle.as_deref(),
            &m.to,
            &m.cc,
            &self.own_addresses,
        )
    }

    /// Where the kept drafts are: conversation titles where known.
    pub fn draft_places(&self) -> String {
        let mut places: Vec<String> = Vec::new();
        for k in self.drafts.keys() {
            let title = if k.conversation == 0 {
                self.lang.tr("new_email_draft").to_string()
            } else {
                self.list
                    .rows
                    .iter()
                    .find(|r| r.id == k.conversation)
                    .map(|r| format!("«{}»", crate::sanitize::truncate(&crate::sanitize::line(&r.title), 30)))
                    .unwrap_or_else(|| format!("#{}", k.conversation))
            };
            if !places.contains(&title) {
                places.push(title);
            }
        }
        places.sort();
        places.join(", ")
    }

    /// The text kept for a composer, if any.
    pub(super) fn take_draft(&mut self, conversation: i64, kind: DraftKind) -> String {
        self.drafts.remove(&DraftKey { conversation, kind }).map(|d| d.body).unwrap_or_default()
    }

    /// Drafts kept, with where they are: for the quit warning and the list mark.
    pub fn has_draft(&self, conversation: i64) -> bool {
        self.drafts.keys().any(|k| k.conversation == conversation)
            || self.composer.as_ref().is_some_and(|c| c.conversation == conversation && !c.textarea.is_empty())
    }

    /// Opens the composer on the loaded thread, restoring a kept draft.
    /// Opens the reply composer on the loaded thread (with its kept draft);
    /// a new one claims the conversation ("anna is replying").
    /// What the channel judges a reply on the open thread by.
    fn reply_facts(&self) -> Option<crate::channels::registry::ReplyFacts> {
        let t = self.thread.as_ref()?;
        let last = t.messages.iter().rev().find(|m| m.answerable());
        Some(crate::channels::registry::ReplyFacts {
            answers: last.map(|m| m.id),
            last_inbound_at: last.map(|m| m.sent_at),
            now: self.clock.now(),
            connection: t.connection.clone(),
            ..Default::default()
        })
    }

    /// Why a chat channel would refuse a reply on the open thread (a closed
    /// reply window, a business connection switched off or without the right
    /// to reply), in the UI's language: said before anything is typed or
    /// queued. Email's own checks (recipients) happen where it is composed.
    pub(super) fn reply_window_closed(&self) -> Option<String> {
        use crate::channels::registry::{Refusal, kind};
        let t = self.thread.as_ref()?;
        if t.conversation.kind == ChannelKind::Email {
            return None;
        }
        let refusal = kind(t.conversation.kind).check_reply(&self.reply_facts()?).err()?;
        Some(match refusal {
            Refusal::WindowClosed { .. } => {
                let mut why = refusal.in_language(self.lang);
                let approved: Vec<&str> =
                    self.templates.all.iter().filter(|t| t.whatsapp.is_some()).map(|t| t.name.as_str()).collect();
                if t.conversation.kind == ChannelKind::Whatsapp && !approved.is_empty() {
                    why.push_str(&format!(" · {}: {}", self.lang.tr("approved_templates"), approved.join(", ")));
                }
                why
            }
            other => other.in_language(self.lang),
        })
    }

    /// Seconds left of the open thread's reply window (negative: closed);
    /// None where the conversation has no window.
    pub fn reply_window_left(&self) -> Option<i64> {
        let t = self.thread.as_ref()?;
        let facts = self.reply_facts()?;
        let window = crate::channels::registry::kind(t.conversation.kind).reply_window(&facts)?;
        Some(facts.last_inbound_at? + window - self.clock.now())
    }

    pub(super) fn ensure_composer(&mut self) -> Vec<Effect> {
        self.ensure_composer_for(None)
    }

    /// [`ensure_composer`]; with an approved template (`template`), also
    /// where the channel's reply window has closed.
    pub(super) fn ensure_composer_for(&mut self, template: Option<String>) -> Vec<Effect> {
        let Some(t) = &self.thread else { return Vec::new() };
        let mut fx = Vec::new();
        if self.composer.as_ref().map(|c| c.conversation) != Some(t.conversation.id) {
            // No worker sends for an archived channel: a reply would wait for ever.
            if self.channels.iter().any(|c| c.id == t.conversation.channel_id && c.archived) {
                self.error(self.lang.tr("archived_no_reply"));
                return fx;
            }
            let closed = self.reply_window_closed();
            if let Some(why) = closed.clone().filter(|_| template.is_none()) {
                self.error(why);
                return fx;
            }
            let id = t.conversation.id;
            // Outside the window only the approved template goes: a kept draft
            // stays kept, never joined to it.
            let draft = if closed.is_some() { String::new() } else { self.take_draft(id, DraftKind::Reply) };
            let (reply_to, subject) = self.reply_target();
            let Some(t) = &self.thread else { return Vec::new() };
            self.composer = Some(new_composer(t.conversation.id, t.conversation.kind, reply_to, subject, &draft));
            fx.push(Effect::Claim(id));
        }
        self.focus = Focus::Composer;
        fx
    }

    /// Inserts a template into the composer, asking for its fields first.
    pub(super) fn insert_template(&mut self, id: &str) -> Vec<Effect> {
        let Some(template) = self.templates.get(id).cloned() else {
            self.error(format!("{}: {id}", self.lang.tr("no_template")));
            return Vec::new();
        };
        let vars = self.template_vars();
        // A provider-approved template is what may go after a closed window,
        // and only on its own channel (WhatsApp).
        let closed = self.reply_window_closed();
        let on_whatsapp = self.thread.as_ref().is_some_and(|t| t.conversation.kind == ChannelKind::Whatsapp);
        if let Some(why) = closed.clone().filter(|_| !on_whatsapp || template.whatsapp.is_none()) {
            self.error(why);
            return Vec::new();
        }
        let approved = template.whatsapp_payload(&vars).filter(|_| template.fields.is_empty() && closed.is_some());
        let mut fx = self.ensure_composer_for(closed.as_ref().map(|_| approved.clone().unwrap_or_default()));
        if !template.fields.is_empty() {
            fx.extend(self.ask(Purpose::Insert(id.to_string()), template.fields.clone()));
            return fx;
        }
        let Some(c) = &mut self.composer else { return fx };
        // An approved template shows what the client will read: its approved body.
        let text = match approved {
            Some(_) => template.whatsapp_text(&vars).unwrap_or_default(),
            None => template.render(c.kind, &vars),
        };
        if approved.is_some() {
            c.template = approved;
            c.template_text = Some(text.clone());
        }
        if !c.textarea.is_empty() {
            c.textarea.insert_newline();
        }
        c.textarea.insert_str(&text);
        fx
    }

    /// The templates the picker offers: every one, except after a closed
    /// reply window, when only provider-approved ones on their own channel can go.
    pub fn template_choices(&self, filter: &str) -> Vec<usize> {
        let hits = self.templates.filter(filter);
        if self.reply_window_closed().is_none() {
            return hits;
        }
        let on_whatsapp = self.thread.as_ref().is_some_and(|t| t.conversation.kind == ChannelKind::Whatsapp);
        hits.into_iter().filter(|&i| on_whatsapp && self.templates.all[i].whatsapp.is_some()).collect()
    }

    pub(super) fn template_vars(&self) -> HashMap<&'static str, String> {
        let today = self.clock.zoned(self.clock.now()).strftime("%d.%m.%Y").to_string();
        let conversation = self.thread.as_ref().map(|t| &t.conversation);
        let mut vars = crate::workflow::templates::standard_vars(&self.actor, today, &self.hours_text, conversation);
        if let Some(signature) = conversation.and_then(|c| self.signatures.get(&c.channel_name)) {
            vars.insert("signature", signature.clone());
        }
        vars
    }

    pub(super) fn send(&mut self) -> Vec<Effect> {
        let Some(c) = &self.composer else { return Vec::new() };
        let body = c.textarea.lines().join("\n").trim_end().to_string();
        let forward = matches!(c.mail, Some(MailDraft::Forward { .. }));
        if body.trim().is_empty() && !forward {
            self.error(self.lang.tr("empty_reply"));
            return Vec::new();
        }
        let (key, _) = c.draft();
        let sent = Effect::SaveDraft(key, Draft::default());
        if c.note {
            let conversation = c.conversation;
            self.composer = None;
            self.focus = Focus::Thread;
            self.info(self.lang.tr("note_saved"));
            return vec![Effect::AddNote { conversation, body }, sent];
        }
        if let Some(draft) = c.mail.clone() {
            if c.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
                self.error(self.lang.tr("no_subject"));
                return Vec::new();
            }
            // A forward or a new mail answers nobody: no claim, no "read the new message first".
            let effect = Effect::QueueEmail {
                conversation: (c.conversation != 0).then_some(c.conversation),
                draft,
                subject: c.subject.clone().unwrap_or_default(),
                body,
                attachments: c.attachments.clone(),
            };
            self.composer = None;
            self.focus = if self.thread.is_some() { Focus::Thread } else { Focus::Conversations };
            return vec![effect, sent];
        }
        // The client wrote again while this was being typed: read it first.
        let newest =
            self.thread.as_ref().filter(|t| t.conversation.id == c.conversation).and_then(ThreadState::last_inbound);
        if newest != c.seen_inbound && !c.inbound_confirmed {
            self.error(self.lang.tr("new_inbound"));
            if let Some(c) = &mut self.composer {
                c.inbound_confirmed = true;
            }
            return Vec::new();
        }
        if limits(c.kind).subject && c.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
            self.error(self.lang.tr("no_subject"));
            return Vec::new();
        }
        // After the window only an approved template may go, as it was inserted.
        if let Some(why) = self.reply_window_closed()
            && c.template.is_none()
        {
            self.error(why);
            return Vec::new();
        }
        // The thread records what went: an approved template goes exactly as
        // approved, so any other text in the composer would be a record of
        // something the client never got.
        if c.template.is_some() && c.template_text.as_deref().map(str::trim) != Some(body.trim()) {
            self.error(self.lang.tr("template_as_is"));
            return Vec::new();
        }

        // Re-read a strict message before it leaves: one more send means "send anyway".
        let mut warnings: Vec<String> =
            tone::check(&body, &self.tone_words).iter().map(|h| h.in_language(self.lang)).collect();
        let limit = limits(c.kind).max_text.unwrap_or(usize::MAX);
        let chars = body.chars().count();
        if chars > limit {
            let parts = crate::workflow::replies::split_text(&body, limit).len() as i64;
            let parts = crate::i18n::plural_of(self.lang, parts, "messages");
            warnings.push(format!("{chars} > {limit}: {parts}"));
        }
        if !warnings.is_empty() && self.tone_confirmed.as_deref() != Some(body.as_str()) {
            let send_key = self.keymap.key_for(Context::Composer, &Action::Send).unwrap_or_default();
            self.error(format!(
                "{}: {} — {send_key} {}",
                self.lang.tr("tone"),
                warnings.join(", "),
                self.lang.tr("send_anyway")
            ));
            self.tone_confirmed = Some(body);
            return Vec::new();
        }
        // A message that tells the client a deadline records the promise: the
        // template's deadline field is the sure signal; a typed «Срок — …» is
        // recorded after one confirmation (send again).
        let source = self.thread.as_ref().and_then(ThreadState::last_inbound);
        let stated = match &c.promise {
            Some((d, written)) if body.contains(written.as_str()) => Some(*d),
            _ => deadline::stated_in(&body, self.clock.now(), &self.calendar),
        };
        let from_template = c.promise.as_ref().is_some_and(|(d, w)| Some(*d) == stated && body.contains(w.as_str()));
        if let Some(d) = stated
            && !from_template
            && c.promise_asked != Some(d)
        {
            let send_key = self.keymap.key_for(Context::Composer, &Action::Send).unwrap_or_default();
            let msg = format!(
                "{} ⚑ {}? {send_key} {}",
                self.lang.tr("record_promise"),
                deadline::format_for_client(d, &self.calendar),
                self.lang.tr("again_to_record")
            );
            if let Some(c) = &mut self.composer {
                c.promise_asked = Some(d);
            }
            self.error(msg);
            return Vec::new();
        }
        let Some(c) = &self.composer else { return Vec::new() };
        let kind = match stated {
            Some(deadline) => ReplyKind::Accept { deadline, source },
            None => ReplyKind::Plain,
        };
        // A template goes only while the window is closed; inside it, the text as typed.
        let template = c.template.clone().filter(|_| self.reply_window_closed().is_some());
        let effect = Effect::QueueReply {
            conversation: c.conversation,
            reply_to: c.reply_to,
            subject: c.subject.clone(),
            body,
            kind,
            attachments: c.attachments.clone(),
            template,
        };
        let conversation = c.conversation;
        // A template's composer held no draft: the one kept before it stays.
        let sent = if c.template.is_some() { None } else { Some(sent) };
        if sent.is_some() {
            self.drafts.remove(&key);
        }
        self.composer = None;
        self.tone_confirmed = None;
        self.focus = Focus::Thread;
        if let Some(t) = &mut self.thread {
            t.scroll = 0;
        }
        [Some(effect), sent, Some(Effect::Release(conversation))].into_iter().flatten().collect()
    }
}
