//! Prompts with fields (deadlines, snooze, assign …) and what they start.

use super::*;

impl AppState {
    // ---- prompts ----------------------------------------------------------------

    /// Starts asking for `fields` (in the status line) for `purpose`.
    pub(super) fn ask(&mut self, purpose: Purpose, fields: Vec<String>) -> Vec<Effect> {
        let Some(conversation) = self.target() else {
            self.error(self.lang.tr("open_a_thread"));
            return Vec::new();
        };
        let mut fx = Vec::new();
        if self.thread.as_ref().map(|t| t.conversation.id) != Some(conversation) {
            fx.push(Effect::LoadThread(conversation));
        }
        let prompt = FieldsPrompt::new(purpose, conversation, fields);
        if prompt.fields.is_empty() {
            fx.extend(self.finish_fields(prompt));
        } else {
            self.popup = Some(Popup::Fields(prompt));
        }
        fx
    }

    /// What the deadline typed so far resolves to, for the live preview.
    pub fn deadline_preview(&self, input: &str) -> Result<i64, deadline::DeadlineError> {
        deadline::parse(input, self.clock.now(), &self.calendar)
    }

    /// «сб 21.11 — выходной; перенести на пн 23.11 12:00? Enter — да, Ctrl+X — оставить».
    fn day_off_question(&self, ts: i64, moved: i64) -> String {
        use crate::tui::keymap::Context;
        let key = |action: &Action, default: &str| {
            self.keymap.key_for(Context::Input, action).unwrap_or_else(|| default.to_string())
        };
        let day = self.calendar.zoned(ts).strftime("%d.%m").to_string();
        let weekday = deadline::format_for_client(ts, &self.calendar);
        let weekday = weekday.split(' ').next().unwrap_or("");
        crate::i18n::fill(
            self.lang.tr("deadline_day_off"),
            &[
                ("day", &format!("{weekday} {day}")),
                ("moved", &deadline::format_for_client(moved, &self.calendar)),
                ("yes", &key(&Action::Confirm, "Enter")),
                ("keep", &key(&Action::ConfirmAsTyped, "Ctrl+X")),
            ],
        )
    }

    /// Why a deadline cannot be read, in the UI's language.
    pub fn deadline_problem(&self, e: &deadline::DeadlineError) -> String {
        deadline_error(self.lang, e)
    }

    /// Team members whose name starts with (or contains) what was typed, case-insensitively.
    /// A name nobody in the team has: said once (true); Enter again assigns
    /// anyway (a new colleague the store has not seen yet).
    pub(super) fn warn_unknown_assignee(&mut self, value: &str) -> bool {
        if !is_nobody(value) && !self.team.iter().any(|t| t == value) && self.assign_warned.as_deref() != Some(value) {
            let known = if self.team.is_empty() { "—".to_string() } else { self.team.join(", ") };
            self.error(format!(
                "{}: {value} ({known}) — Enter {}",
                self.lang.tr("not_in_team"),
                self.lang.tr("assign_anyway")
            ));
            self.assign_warned = Some(value.to_string());
            return true;
        }
        self.assign_warned = None;
        false
    }

    /// Tab on a name: the first of the team that fits what was typed; Tab
    /// again goes to the next one.
    pub(super) fn complete_name(&self, input: &mut String) {
        let names = self.team_matching(input);
        let next = match names.iter().position(|n| n == input) {
            Some(i) => names.get((i + 1) % names.len()).cloned(),
            None => names.first().cloned(),
        };
        if let Some(n) = next {
            *input = n;
        }
    }

    pub fn team_matching(&self, typed: &str) -> Vec<String> {
        let t = typed.trim().to_lowercase();
        let mut starts: Vec<String> = self.team.iter().filter(|n| n.to_lowercase().starts_with(&t)).cloned().collect();
        let contains = self.team.iter().filter(|n| !n.to_lowercase().starts_with(&t) && n.to_lowercase().contains(&t));
        starts.extend(contains.cloned());
        starts
    }

    /// `keep`: confirmed with the key that keeps a deadline as typed (Ctrl+X).
    pub(super) fn field_entered(&mut self, mut f: FieldsPrompt, keep: bool) -> Vec<Effect> {
        let name = f.field().to_string();
        let value = f.input.trim().to_string();
        if name == "deadline" {
            match self.deadline_preview(&value) {
                Ok(ts) => {
                    // A deadline told to the client on a day off: said, and a working day offered.
                    let told = matches!(f.purpose, Purpose::Accept | Purpose::Redate);
                    let ts = match deadline::moved_off_day_off(ts, &self.calendar).filter(|_| told) {
                        Some(moved) if f.day_off_asked == Some(ts) => {
                            if keep {
                                ts
                            } else {
                                moved
                            }
                        }
                        Some(moved) => {
                            self.error(self.day_off_question(ts, moved));
                            f.day_off_asked = Some(ts);
                            self.popup = Some(Popup::Fields(f));
                            return Vec::new();
                        }
                        None => ts,
                    };
                    f.deadline = Some(ts);
                    f.values.insert(name, deadline::format_for_client(ts, &self.calendar));
                }
                Err(e) => {
                    self.error(deadline_error(self.lang, &e));
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
            }
        } else if name == "file" {
            let path = expand_home(&value);
            let meta = match std::fs::metadata(&path) {
                Ok(m) if m.is_file() => m,
                Ok(_) => {
                    self.error(format!("{}: {}", self.lang.tr("not_a_file"), path.display()));
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
                Err(e) => {
                    let why = match e.kind() {
                        std::io::ErrorKind::NotFound => self.lang.tr("no_such_file").to_string(),
                        _ => crate::trouble::explain(self.lang, &e.to_string()),
                    };
                    self.error(format!("{}: {why}", path.display()));
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
            };
            if meta.len() > self.max_attachment_bytes && self.attach_confirmed.as_ref() != Some(&path) {
                let mb = self.lang.tr("megabytes");
                self.error(format!(
                    "{} {:.1} {mb} > {} {mb} — {}",
                    path.display(),
                    meta.len() as f64 / 1048576.0,
                    self.max_attachment_bytes >> 20,
                    self.lang.tr("enter_again")
                ));
                self.attach_confirmed = Some(path);
                self.popup = Some(Popup::Fields(f));
                return Vec::new();
            }
            self.attach_confirmed = None;
            f.values.insert(name, path.display().to_string());
        } else if name == "to" {
            // Names typed before the addresses stay: a new mail names its client by them.
            match crate::store::intents::recipients(std::slice::from_ref(&value)) {
                Ok(list) => {
                    f.values.insert(name, list.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "));
                }
                Err(e) => {
                    self.error(e.in_language(self.lang));
                    self.popup = Some(Popup::Fields(f));
                    return Vec::new();
                }
            }
        } else if name == "subject" && value.is_empty() {
            self.error(self.lang.tr("no_subject"));
            self.popup = Some(Popup::Fields(f));
            return Vec::new();
        } else if name == "directory" {
            if value.is_empty() {
                self.error(format!("{}: {}", self.lang.tr("field_required"), field_label(self.lang, &name)));
                self.popup = Some(Popup::Fields(f));
                return Vec::new();
            }
            f.values.insert(name, expand_home(&value).display().to_string());
        } else if name == "assignee" {
            let nobody = is_nobody(&value);
            if self.warn_unknown_assignee(&value) {
                self.popup = Some(Popup::Fields(f));
                return Vec::new();
            }
            f.values.insert(name, if nobody { String::new() } else { value });
        } else if value.is_empty() && !matches!(name.as_str(), "what" | "note") {
            self.error(format!("{}: {}", self.lang.tr("field_required"), field_label(self.lang, &name)));
            self.popup = Some(Popup::Fields(f));
            return Vec::new();
        } else {
            f.values.insert(name, value);
        }
        f.index += 1;
        f.input.clear();
        if f.index < f.fields.len() {
            self.popup = Some(Popup::Fields(f));
            return Vec::new();
        }
        self.finish_fields(f)
    }

    pub(super) fn finish_fields(&mut self, f: FieldsPrompt) -> Vec<Effect> {
        let conversation = f.conversation;
        let template_text = |state: &AppState, id: &str| -> Option<String> {
            let t = state.templates.get(id)?;
            let kind = state.thread.as_ref().map(|t| t.conversation.kind).unwrap_or(ChannelKind::Telegram);
            let mut vars: HashMap<&str, String> = state.template_vars().into_iter().collect();
            for (k, v) in &f.values {
                vars.insert(k.as_str(), v.clone());
            }
            Some(t.render(kind, &vars))
        };
        let reply = |state: &AppState, body: String, kind: ReplyKind| -> Vec<Effect> {
            let (reply_to, subject) = state.reply_target();
            vec![Effect::QueueReply {
                conversation,
                reply_to,
                subject,
                body,
                kind,
                attachments: Vec::new(),
                template: None,
            }]
        };
        match &f.purpose {
            Purpose::Insert(id) => {
                let id = id.clone();
                let Some(mut text) = template_text(self, &id) else { return Vec::new() };
                let closed = self.reply_window_closed().is_some();
                let approved = self.templates.get(&id).and_then(|t| {
                    let mut vars: HashMap<&str, String> = self.template_vars().into_iter().collect();
                    for (k, v) in &f.values {
                        vars.insert(k.as_str(), v.clone());
                    }
                    let payload = t.whatsapp_payload(&vars).filter(|_| closed)?;
                    // What the client will read: the approved body, filled.
                    text = t.whatsapp_text(&vars).unwrap_or_else(|| text.clone());
                    Some(payload)
                });
                let claim = self.ensure_composer_for(approved.clone());
                if let Some(c) = &mut self.composer {
                    if approved.is_some() {
                        c.template = approved;
                        c.template_text = Some(text.clone());
                    }
                    if !c.textarea.is_empty() {
                        c.textarea.insert_newline();
                    }
                    c.textarea.insert_str(&text);
                    // The deadline the client will read is a promise pult keeps.
                    if let (Some(d), Some(written)) = (f.deadline, f.values.get("deadline")) {
                        c.promise = Some((d, written.clone()));
                    }
                }
                claim
            }
            Purpose::Accept => {
                let Some(deadline) = f.deadline else { return Vec::new() };
                let source = self.thread.as_ref().and_then(ThreadState::last_inbound);
                let body = template_text(self, "accept").unwrap_or_else(|| "Принято в работу.".into());
                if self.one_key_accept {
                    return reply(self, body, ReplyKind::Accept { deadline, source });
                }
                // Seen before it goes: the text in the composer, the promise
                // recorded when Ctrl+X sends it as written.
                let claim = self.ensure_composer();
                let written = f.values.get("deadline").cloned();
                if let Some(c) = &mut self.composer {
                    if !c.textarea.is_empty() {
                        c.textarea.insert_newline();
                    }
                    c.textarea.insert_str(&body);
                    if let Some(written) = written {
                        c.promise = Some((deadline, written));
                    }
                    let send = self.keymap.key_for(Context::Composer, &Action::Send).unwrap_or_default();
                    self.info(format!("{} — {send} {}", self.lang.tr("accept_shown"), self.lang.tr("sends")));
                }
                claim
            }
            Purpose::Done => {
                let body = template_text(self, "done").unwrap_or_else(|| "Выполнено.".into());
                reply(self, body, ReplyKind::Done)
            }
            Purpose::Redate => {
                let Some(deadline) = f.deadline else { return Vec::new() };
                let body = template_text(self, "redate").unwrap_or_default();
                reply(self, body, ReplyKind::Redate { deadline })
            }
            // With marks, one answer acts on every marked conversation.
            Purpose::Snooze => {
                let until = f.deadline;
                self.targets(conversation)
                    .into_iter()
                    .map(|conversation| Effect::Snooze { conversation, until })
                    .collect()
            }
            Purpose::Attach => {
                if let (Some(c), Some(p)) = (&mut self.composer, f.values.get("file")) {
                    c.attachments.push(std::path::PathBuf::from(p));
                }
                self.focus = Focus::Composer;
                Vec::new()
            }
            Purpose::Assign => {
                let assignee = f.values.get("assignee").filter(|a| !a.is_empty()).cloned();
                let note = f.values.get("note").filter(|n| !n.is_empty()).cloned();
                self.targets(conversation)
                    .into_iter()
                    .map(|conversation| Effect::Assign { conversation, assignee: assignee.clone(), note: note.clone() })
                    .collect()
            }
            Purpose::FollowUp => vec![Effect::FollowUp { conversation, at: f.deadline }],
            Purpose::SaveTo { message, index } => {
                let dir = std::path::PathBuf::from(f.values.get("directory").cloned().unwrap_or_default());
                vec![Effect::SaveAttachment { message: *message, index: *index, dir }]
            }
            Purpose::ForwardTo { message } => {
                let to = split_addresses(f.values.get("to"));
                let subject = self.thread.as_ref().and_then(|t| {
                    let m = t.messages.iter().find(|m| m.id == *message)?;
                    Some(crate::workflow::replies::forward_subject(
                        m.subject.as_deref().or(Some(t.conversation.title.as_str())),
                    ))
                });
                self.open_mail_composer(conversation, MailDraft::Forward { message: *message, to }, subject)
            }
            Purpose::NewEmail { channel } => {
                let to = split_addresses(f.values.get("to"));
                let subject = f.values.get("subject").cloned();
                self.open_mail_composer(0, MailDraft::New { channel: *channel, to }, subject)
            }
        }
    }
}

/// "Nobody": an empty name, «-», "nobody", «никто».
pub(super) fn is_nobody(name: &str) -> bool {
    name.is_empty() || matches!(name, "-" | "nobody" | "никто")
}

/// Why a deadline cannot be read, in the UI's language (the English is the
/// error's own text).
fn deadline_error(lang: crate::i18n::Lang, e: &deadline::DeadlineError) -> String {
    use deadline::DeadlineError as E;
    if lang == crate::i18n::Lang::En {
        return e.to_string();
    }
    match e {
        E::Empty => lang.tr("deadline_empty").to_string(),
        E::Unknown(s) => lang.tr("deadline_unknown").replace("{0}", &crate::sanitize::line(s)),
        E::Past(s) => lang.tr("deadline_past").replace("{0}", &crate::sanitize::line(s)),
        E::BadDate(s) => lang.tr("deadline_bad_date").replace("{0}", &crate::sanitize::line(s)),
    }
}
