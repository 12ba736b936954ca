//! Keys and actions: what a key press asks for, in each context and popup.

use super::*;

impl AppState {
    // ---- keys -------------------------------------------------------------

    pub fn handle_key(&mut self, key: Key) -> Vec<Effect> {
        self.dirty = true;
        self.note_warnings_seen();
        if self.popup.is_none() && self.focus != Focus::Composer {
            self.status = None;
        }
        let context = self.context();
        self.chord.push(key);
        match self.keymap.resolve(context, &self.chord) {
            Resolved::Action(a) => {
                self.chord.clear();
                self.apply(a)
            }
            Resolved::Pending => Vec::new(),
            Resolved::Unbound => {
                let was_chord = self.chord.len() > 1;
                self.chord.clear();
                if was_chord {
                    // An abandoned chord: the last key may mean something alone.
                    return self.handle_key(key);
                }
                self.unbound_key(key)
            }
        }
    }

    /// Keys without a binding: text for prompts and the composer, nothing elsewhere.
    pub(super) fn unbound_key(&mut self, key: Key) -> Vec<Effect> {
        match self.popup.take() {
            Some(Popup::Card(card)) => return self.card_letter(card, key),
            Some(Popup::Clients(list)) => return self.clients_letter(list, key),
            other => self.popup = other,
        }
        if let Some(popup) = &mut self.popup {
            let input = match popup {
                Popup::Command(s) | Popup::Search(s) => Some(s),
                Popup::Fields(f) => {
                    // Another date typed: the day-off question was about the old one.
                    f.day_off_asked = None;
                    Some(&mut f.input)
                }
                Popup::Templates { filter, selected } => {
                    *selected = 0;
                    Some(filter)
                }
                Popup::Help { .. } | Popup::Text { .. } | Popup::Pick { .. } | Popup::Card(_) | Popup::Clients(_) => {
                    None
                }
            };
            if let Some(buf) = input {
                edit_line(buf, key);
            } else if matches!(key.code, KeyCode::Char('?') | KeyCode::Char('q')) {
                self.popup = None;
            } else if let Some(Popup::Help { scroll, .. } | Popup::Text { scroll, .. }) = &mut self.popup {
                match key.code {
                    KeyCode::Char('j') => *scroll += 1,
                    KeyCode::Char('k') => *scroll = scroll.saturating_sub(1),
                    _ => {}
                }
            } else if let Some(Popup::Pick { items, selected, .. }) = &mut self.popup {
                match key.code {
                    KeyCode::Char('j') => *selected = (*selected + 1).min(items.len().saturating_sub(1)),
                    KeyCode::Char('k') => *selected = selected.saturating_sub(1),
                    _ => {}
                }
            }
            return Vec::new();
        }
        if self.focus == Focus::Composer
            && let Some(c) = &mut self.composer
        {
            c.textarea.input(key.to_event());
            self.tone_confirmed = None;
        }
        Vec::new()
    }

    pub fn apply(&mut self, action: Action) -> Vec<Effect> {
        if self.popup.is_some() {
            return self.apply_popup(action);
        }
        match action {
            Action::Quit => match self.focus {
                Focus::Thread if !self.wide() => self.back(),
                _ => {
                    // Drafts are kept in the store; say how many and where before leaving.
                    let mut fx = Vec::new();
                    if let Some(c) = self.composer.take() {
                        self.stash(c, &mut fx);
                        self.focus = Focus::Thread;
                    }
                    if !self.drafts.is_empty() && !self.quit_warned {
                        self.quit_warned = true;
                        let quit = self.keymap.key_for(Context::Conversations, &Action::Quit).unwrap_or_default();
                        self.info(format!(
                            "{}: {} — {quit} {}",
                            crate::i18n::plural_of(self.lang, self.drafts.len() as i64, "drafts_kept"),
                            self.draft_places(),
                            self.lang.tr("again_to_quit")
                        ));
                        return fx;
                    }
                    self.quit = true;
                    fx.push(Effect::Quit);
                    fx
                }
            },
            Action::Help => {
                self.popup = Some(Popup::Help { context: self.context(), scroll: 0 });
                Vec::new()
            }
            Action::CommandLine => {
                self.popup = Some(Popup::Command(String::new()));
                Vec::new()
            }
            Action::Search => {
                self.popup = Some(Popup::Search(String::new()));
                Vec::new()
            }
            Action::NextMatch => self.jump_match(true),
            Action::PrevMatch => self.jump_match(false),
            Action::Down => self.move_by(1),
            Action::Up => self.move_by(-1),
            Action::PageDown => self.move_by(self.list_height() as i64 / 2),
            Action::PageUp => self.move_by(-(self.list_height() as i64 / 2)),
            Action::Top => self.to_edge(true),
            Action::Bottom => self.to_edge(false),
            Action::NextChannel => self.step_sidebar(1),
            Action::PrevChannel => self.step_sidebar(-1),
            Action::FocusLeft => {
                self.focus = match self.focus {
                    Focus::Thread | Focus::Composer => Focus::Conversations,
                    _ => Focus::Channels,
                };
                Vec::new()
            }
            Action::FocusRight => match self.focus {
                Focus::Channels => {
                    self.focus = Focus::Conversations;
                    Vec::new()
                }
                Focus::Conversations => self.open_selected(),
                _ => Vec::new(),
            },
            Action::Open => match self.focus {
                Focus::Channels => {
                    self.focus = Focus::Conversations;
                    Vec::new()
                }
                _ => self.open_selected(),
            },
            Action::Back => self.back(),
            Action::Reply => self.open_composer(None),
            Action::Template => {
                let mut fx = Vec::new();
                // After a closed reply window the picker opens without a
                // composer: choosing an approved template opens one.
                let closed = self.composer.is_none() && self.reply_window_closed().is_some();
                // Nothing this channel may send now: say why instead of a list.
                if closed && self.template_choices("").is_empty() {
                    if let Some(why) = self.reply_window_closed() {
                        self.error(why);
                    }
                    return Vec::new();
                }
                if self.composer.is_none() && !closed {
                    fx = self.open_composer(None);
                }
                if self.composer.is_some() || closed {
                    self.status = None;
                    self.popup = Some(Popup::Templates { filter: String::new(), selected: 0 });
                }
                fx
            }
            Action::InsertTemplate(id) => self.open_composer(Some(id)),
            Action::PostRules => self.open_composer(Some("rules".into())),
            Action::Assign => self.ask(Purpose::Assign, vec!["assignee".into(), "note".into()]),
            Action::Note => self.open_note(),
            Action::Editor => match &self.composer {
                Some(c) => vec![Effect::OpenEditor(c.textarea.lines().join("\n"))],
                None => Vec::new(),
            },
            // Asked of the composer itself: a new mail has no conversation to target yet.
            Action::Attach => match self.composer.as_ref().filter(|c| !c.note) {
                Some(c) => {
                    self.popup =
                        Some(Popup::Fields(FieldsPrompt::new(Purpose::Attach, c.conversation, vec!["file".into()])));
                    Vec::new()
                }
                None => Vec::new(),
            },
            Action::PlayVoice => vec![Effect::PlayVoice],
            Action::SaveAttachment => self.pick_attachment(PickPurpose::SaveAttachment),
            Action::OpenAttachment => self.pick_attachment(PickPurpose::OpenAttachment),
            Action::Forward => self.pick_forward(),
            Action::NewEmail => self.new_email(),
            Action::Clients => vec![Effect::ClientsList],
            Action::ClientCard => match self.target() {
                Some(c) => vec![Effect::ClientCard(c)],
                None => Vec::new(),
            },
            Action::History => match self.target() {
                Some(c) => vec![Effect::History(c)],
                None => Vec::new(),
            },
            Action::ViewAssigned => self.set_view_of(View::Mine),
            Action::ViewUnassigned => self.set_view_of(View::Unassigned),
            Action::ViewMentions => self.set_view_of(View::Mentions),
            Action::Accept => self.ask(Purpose::Accept, vec!["deadline".into()]),
            // Asked of the store first: a promise already reported done, or none
            // to move, is refused before anything is typed.
            Action::Done | Action::Redate => match self.target() {
                Some(conversation) => {
                    vec![Effect::CheckPromise { conversation, redate: matches!(action, Action::Redate) }]
                }
                None => {
                    self.error(self.lang.tr("open_a_thread"));
                    Vec::new()
                }
            },
            Action::Snooze => self.ask(Purpose::Snooze, vec!["deadline".into()]),
            Action::FollowUp => self.ask(Purpose::FollowUp, vec!["deadline".into()]),
            Action::CancelTask => match self.target() {
                Some(c) => vec![Effect::CancelTask(c)],
                None => Vec::new(),
            },
            // The last batch close comes back in one step.
            Action::UndoSend
                if self.last_batch.is_some() && self.last_sent.is_none_or(|l| l.until <= self.clock.now()) =>
            {
                self.last_batch.take().map(Effect::ReopenBatch).into_iter().collect()
            }
            Action::ToggleMark => {
                if let Some(id) = self.selected_conversation().filter(|_| self.focus == Focus::Conversations) {
                    if !self.marked.remove(&id) {
                        self.marked.insert(id);
                    }
                    self.batch_asked = None;
                    self.say_marked();
                    return self.move_by(1);
                }
                Vec::new()
            }
            Action::MarkRange => {
                self.marking = !self.marking;
                if self.marking
                    && let Some(id) = self.selected_conversation()
                {
                    self.marked.insert(id);
                }
                self.batch_asked = None;
                self.say_marked();
                Vec::new()
            }
            Action::MarkAll => {
                self.batch_asked = None;
                vec![Effect::MarkAll(self.view)]
            }
            Action::CloseConversation if !self.marked.is_empty() && self.focus == Focus::Conversations => {
                let n = self.marked.len();
                if self.batch_asked != Some(n) {
                    self.batch_asked = Some(n);
                    let key = self.keymap.key_for(self.context(), &Action::CloseConversation).unwrap_or_default();
                    self.error(format!(
                        "{} {n}? {key} — {} · Esc — {}",
                        self.lang.tr("close_many_ask"),
                        self.lang.tr("yes"),
                        self.lang.tr("unmark")
                    ));
                    return Vec::new();
                }
                self.batch_asked = None;
                vec![Effect::CloseMany(self.marked.iter().copied().collect())]
            }
            Action::UndoSend => match self.last_sent {
                Some(l) if l.until > self.clock.now() => {
                    self.last_sent = None;
                    vec![Effect::Undo { outbox: l.outbox, conversation: l.conversation }]
                }
                _ => {
                    self.error(self.lang.tr("nothing_to_undo"));
                    Vec::new()
                }
            },
            Action::ChannelProblems => {
                self.show_channel_problems();
                Vec::new()
            }
            Action::NextUnanswered => {
                self.view = View::Unanswered;
                self.sidebar_cursor = View::SMART.iter().position(|v| *v == View::Unanswered).unwrap_or(1);
                self.search = None;
                self.focus = Focus::Conversations;
                vec![Effect::ListTop, Effect::ReloadSidebar]
            }
            Action::ViewAllOpen => self.set_view_of(View::AllOpen),
            Action::ViewUnanswered => self.set_view_of(View::Unanswered),
            Action::ViewDueToday => self.set_view_of(View::DueToday),
            Action::ViewOverdue => self.set_view_of(View::Overdue),
            Action::ViewAtRisk => self.set_view_of(View::AtRisk),
            Action::ViewMine => self.set_view_of(View::Mine),
            Action::ViewAccepted => self.set_view_of(View::AcceptedByMe),
            Action::ViewSnoozed => self.set_view_of(View::Snoozed),
            Action::ViewReminders => self.set_view_of(View::Reminders),
            Action::ViewUnsent => self.set_view_of(View::Unsent),
            Action::ViewLists => self.set_view_of(View::Lists),
            Action::ViewSlaAtRisk => self.set_view_of(View::SlaAtRisk),
            Action::ViewBreached => self.set_view_of(View::Breached),
            Action::SlaPause => self.sla_pause(),
            Action::CountWaiting => match self.target() {
                Some(conversation) => vec![Effect::CountWaiting(conversation)],
                None => Vec::new(),
            },
            Action::CloseConversation | Action::ReopenConversation => {
                let open = action == Action::ReopenConversation;
                match self.target() {
                    // Closing hides a promise from the lists: ask once.
                    Some(conversation)
                        if !open
                            && self.close_asked != Some(conversation)
                            && self.open_promise(conversation).is_some() =>
                    {
                        self.close_asked = Some(conversation);
                        let d = self.open_promise(conversation).unwrap_or_default();
                        let key = self.keymap.key_for(self.context(), &Action::CloseConversation).unwrap_or_default();
                        self.error(format!(
                            "{} ⚑ {} — {key} {}",
                            self.lang.tr("open_promise"),
                            self.clock.full(d),
                            self.lang.tr("again_to_close")
                        ));
                        Vec::new()
                    }
                    Some(conversation) => {
                        self.close_asked = None;
                        self.info(self.lang.tr(if open { "reopened" } else { "closed" }));
                        vec![Effect::SetOpen { conversation, open }]
                    }
                    None => Vec::new(),
                }
            }
            Action::RetrySend | Action::DiscardSend | Action::ConfirmSent => match self.target() {
                Some(conversation) => {
                    let how = match action {
                        Action::RetrySend => crate::store::intents::Resolution::Retry,
                        Action::DiscardSend => crate::store::intents::Resolution::Discard,
                        _ => crate::store::intents::Resolution::ConfirmSent,
                    };
                    vec![Effect::ResolveSend { conversation, how }]
                }
                None => Vec::new(),
            },
            Action::Refresh => vec![Effect::ReloadSidebar, Effect::ReloadList],
            Action::Send => self.send(),
            Action::CloseComposer => {
                let mut fx = Vec::new();
                if let Some(c) = self.composer.take() {
                    self.stash(c, &mut fx);
                }
                self.focus = Focus::Thread;
                fx
            }
            Action::Confirm | Action::ConfirmAsTyped | Action::Cancel | Action::Complete => Vec::new(),
        }
    }

    pub(super) fn apply_popup(&mut self, action: Action) -> Vec<Effect> {
        let Some(popup) = self.popup.take() else { return Vec::new() };
        // Ctrl+X confirms as Enter does, except in a prompt, where "as typed"
        // keeps a deadline on a day off.
        let action = match (&popup, action) {
            (Popup::Fields(_), action) => action,
            (_, Action::ConfirmAsTyped) => Action::Confirm,
            (_, action) => action,
        };
        match (popup, action) {
            (Popup::Card(card), action) => self.card_action(card, action),
            (Popup::Clients(list), action) => self.clients_action(list, action),
            (_, Action::Cancel) => Vec::new(),
            (Popup::Help { context, scroll }, Action::Down) => {
                self.popup = Some(Popup::Help { context, scroll: scroll + 1 });
                Vec::new()
            }
            (Popup::Help { context, scroll }, Action::Up) => {
                self.popup = Some(Popup::Help { context, scroll: scroll.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Help { .. }, _) => Vec::new(),
            (Popup::Text { title, lines, scroll }, Action::Down) => {
                self.popup = Some(Popup::Text { title, lines, scroll: scroll + 1 });
                Vec::new()
            }
            (Popup::Text { title, lines, scroll }, Action::Up) => {
                self.popup = Some(Popup::Text { title, lines, scroll: scroll.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Text { .. }, _) => Vec::new(),
            (Popup::Pick { purpose, items, selected }, Action::Down) => {
                let selected = (selected + 1).min(items.len().saturating_sub(1));
                self.popup = Some(Popup::Pick { purpose, items, selected });
                Vec::new()
            }
            (Popup::Pick { purpose, items, selected }, Action::Up) => {
                self.popup = Some(Popup::Pick { purpose, items, selected: selected.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Pick { purpose, items, selected }, Action::Confirm) => match items.get(selected) {
                Some(item) => self.picked(purpose, item.clone()),
                None => Vec::new(),
            },
            (Popup::Templates { filter, selected }, Action::Down) => {
                let n = self.template_choices(&filter).len();
                self.popup = Some(Popup::Templates { filter, selected: (selected + 1).min(n.saturating_sub(1)) });
                Vec::new()
            }
            (Popup::Templates { filter, selected }, Action::Up) => {
                self.popup = Some(Popup::Templates { filter, selected: selected.saturating_sub(1) });
                Vec::new()
            }
            (Popup::Templates { filter, selected }, Action::Confirm) => {
                let hits = self.template_choices(&filter);
                match hits.get(selected) {
                    Some(&i) => {
                        let id = self.templates.all[i].id.clone();
                        self.insert_template(&id)
                    }
                    None => Vec::new(),
                }
            }
            (Popup::Search(q), Action::Confirm) => {
                if q.trim().is_empty() {
                    Vec::new()
                } else {
                    vec![Effect::Search(q)]
                }
            }
            (Popup::Command(c), Action::Confirm) => self.run_command(&c),
            (Popup::Fields(f), Action::Confirm) => self.field_entered(f, false),
            (Popup::Fields(f), Action::ConfirmAsTyped) => self.field_entered(f, true),
            (Popup::Fields(mut f), Action::Complete) => {
                if f.field() == "assignee" {
                    self.complete_name(&mut f.input);
                }
                self.popup = Some(Popup::Fields(f));
                Vec::new()
            }
            (p, _) => {
                self.popup = Some(p);
                Vec::new()
            }
        }
    }
}
