//! UI text in English and Russian, from one catalogue.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    /// The configured language, else the locale (LC_ALL, LC_MESSAGES, LANG), else English.
    pub fn detect(configured: Option<&str>) -> Lang {
        let from_env =
            || ["LC_ALL", "LC_MESSAGES", "LANG"].iter().find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()));
        let value = configured.map(str::to_string).or_else(from_env).unwrap_or_default();
        if value.to_lowercase().starts_with("ru") { Lang::Ru } else { Lang::En }
    }

    pub fn tr(self, key: &'static str) -> &'static str {
        match CATALOGUE.iter().find(|(k, _, _)| *k == key) {
            Some((_, en, ru)) => match self {
                Lang::En => en,
                Lang::Ru => ru,
            },
            None => key,
        }
    }
}

/// The language of what workers write for people to read (a refusal at send
/// time, kept with the message): the team's `[ui] language`, set at start.
static WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets the language workers write in (true: Russian).
pub fn set_written(lang: Lang) {
    WRITTEN.store(lang == Lang::Ru, std::sync::atomic::Ordering::Relaxed);
}

/// The language workers write in.
pub fn written() -> Lang {
    if WRITTEN.load(std::sync::atomic::Ordering::Relaxed) { Lang::Ru } else { Lang::En }
}

/// A count with its word in the right form: English one/other, Russian
/// one/few/many (1 день, 2 дня, 5 дней, 11 дней, 21 день).
pub fn plural(lang: Lang, n: i64, en: [&str; 2], ru: [&str; 3]) -> String {
    let word = match lang {
        Lang::En => en[usize::from(n.abs() != 1)],
        Lang::Ru => {
            let (n10, n100) = (n.abs() % 10, n.abs() % 100);
            if n10 == 1 && n100 != 11 {
                ru[0]
            } else if (2..=4).contains(&n10) && !(12..=14).contains(&n100) {
                ru[1]
            } else {
                ru[2]
            }
        }
    };
    format!("{n} {word}")
}

/// Compact durations for waiting times and overdue marks, in the UI's
/// language: "5m", "3h 10m", "2d 4h"; «5 мин», «3 ч 10 мин», «2 д 4 ч».
pub fn compact_duration(lang: Lang, seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m) = (s / 86400, (s % 86400) / 3600, (s % 3600) / 60);
    match (lang, d > 0, h > 0) {
        (Lang::En, true, _) => format!("{d}d {h}h"),
        (Lang::En, false, true) => format!("{h}h {m:02}m"),
        (Lang::En, false, false) => format!("{m}m"),
        (Lang::Ru, true, _) => format!("{d} д {h} ч"),
        (Lang::Ru, false, true) => format!("{h} ч {m:02} мин"),
        (Lang::Ru, false, false) => format!("{m} мин"),
    }
}

/// Seconds, as a countdown shows them: "10 s", «10 с».
pub fn seconds(lang: Lang, n: i64) -> String {
    match lang {
        Lang::En => format!("{n} s"),
        Lang::Ru => format!("{n} с"),
    }
}

/// (key, English, Russian). A test checks that every key has both texts.
pub const CATALOGUE: &[(&str, &str, &str)] = &[
    ("views", "Views", "Представления"),
    ("channels", "Channels", "Каналы"),
    ("all_open", "All open", "Все открытые"),
    ("unanswered", "Unanswered", "Без ответа"),
    ("conversations", "Conversations", "Разговоры"),
    ("thread", "Thread", "Переписка"),
    ("no_conversation", "No conversation selected", "Разговор не выбран"),
    ("empty_view", "Nothing here. Good work.", "Здесь пусто. Отличная работа."),
    (
        "no_channels",
        "No channels yet: add an account to the config, then run pult doctor.",
        "Каналов пока нет: добавьте учётную запись в конфигурацию и запустите pult doctor.",
    ),
    ("channel_broken", "This channel does not work, so nothing comes in:", "Канал не работает, новое не приходит:"),
    (
        "channel_archived_empty",
        "Archived: its account is no longer in the config.",
        "В архиве: этой учётной записи больше нет в конфигурации.",
    ),
    ("archive", "Archive", "Архив"),
    (
        "archived_no_reply",
        "This channel is archived (its account is no longer in the config): a reply cannot go.",
        "Канал в архиве (его учётной записи нет в конфигурации): ответ не уйдёт.",
    ),
    ("waiting", "waiting", "ждёт"),
    ("due", "due", "срок"),
    ("overdue", "overdue", "просрочено"),
    ("due_today", "due today", "на сегодня"),
    ("pending", "pending", "в очереди"),
    ("sending", "sending", "отправляется"),
    ("sent", "sent", "отправлено"),
    ("delivered", "delivered", "доставлено"),
    ("read_by_client", "read", "прочитано"),
    ("not_downloaded", "not downloaded", "не скачано"),
    ("no_answer_needed", "needs no answer", "ответа не требует"),
    ("more", "more", "ещё"),
    ("no_client", "This conversation has no client yet", "У этого разговора ещё нет клиента"),
    ("responsible", "Responsible", "Ответственный"),
    ("open_promises", "Open promises", "Открытые обещания"),
    ("timeline", "All channels, newest first", "Все каналы, сначала новые"),
    ("view_client", "Client", "Клиент"),
    ("clients", "Clients", "Клиенты"),
    ("clients_legend", "⏳ waiting ⚑ overdue", "⏳ ждут ⚑ просрочено"),
    ("no_such_client", "No client by that name", "Нет клиента с таким именем"),
    ("card_name", "Name", "Имя"),
    ("card_organisation", "Organisation", "Организация"),
    ("card_kind", "Kind", "Вид"),
    ("card_inn", "INN", "ИНН"),
    ("card_tags", "Tags", "Метки"),
    ("card_notes", "Notes", "Заметки"),
    ("card_add_note", "add a line (never sent)", "добавить строку (клиенту не видна)"),
    ("card_handover_note", "Hand-over note", "Заметка к передаче"),
    ("kind_person", "person", "человек"),
    ("kind_organisation", "organisation", "организация"),
    ("card_new", "new: created for an unknown sender", "новый: создан для незнакомого отправителя"),
    ("card_channels", "Channels", "Каналы"),
    ("card_hint_key", "card", "карточка"),
    ("card_suggestions", "Maybe the same client", "Возможно, тот же клиент"),
    ("card_conversations", "Conversations", "Разговоры"),
    ("card_hint_field", "Enter edit · A hand over · j/k · Esc", "Enter изменить · A передать · j/k · Esc"),
    ("card_hint_kind", "Enter person ↔ organisation · Esc", "Enter человек ↔ организация · Esc"),
    ("card_hint_identity", "s split into a new client · Esc", "s отделить в нового клиента · Esc"),
    ("card_hint_suggestion", "Enter merge · d not the same · Esc", "Enter объединить · d это разные · Esc"),
    ("card_hint_open", "Enter open · j/k · Esc", "Enter открыть · j/k · Esc"),
    ("card_hint_edit", "Enter save · Esc cancel", "Enter сохранить · Esc отмена"),
    ("clients_hint_client", "Enter card · / find · j/k · Esc", "Enter карточка · / найти · j/k · Esc"),
    ("clients_hint_filter", "name, company, address, @user, tag · Enter", "имя, компания, адрес, @ник, метка · Enter"),
    (
        "clients_hint_suggestion",
        "Enter merge · d not the same · u undo · Esc",
        "Enter объединить · d это разные · u отменить · Esc",
    ),
    ("rule_phone", "the same phone", "тот же телефон"),
    ("rule_domain", "the same company mail domain", "тот же почтовый домен компании"),
    ("rule_name", "the same name on two channels", "то же имя в двух каналах"),
    ("rule_group", "the group names the organisation", "группа названа по организации"),
    ("rule_member", "writes in the client's group", "пишет в группе клиента"),
    ("suggestions_pending", "to check", "проверить"),
    ("merged_into", "Merged into", "Объединено в"),
    ("to_undo", "undo", "отменить"),
    ("merge_undone", "Merge undone", "Объединение отменено"),
    ("suggestion_dismissed", "Not suggested again", "Больше не предлагается"),
    ("split_done", "Split off into client", "Отделено в клиента"),
    ("split_group", "A group chat follows its conversation, not split", "Группа следует за разговором, её не отделить"),
    ("split_last", "The client's only identity", "Это единственный канал клиента"),
    (
        "split_where",
        "s splits an identity: stand on one under Channels",
        "s отделяет канал: встаньте на него в «Каналы»",
    ),
    ("no_suggestion_here", "Stand on a suggestion first", "Сначала встаньте на предложение"),
    ("handed_over", "Handed over to", "Передано:"),
    ("moved", "conversations", "разговоров"),
    ("saved", "Saved", "Сохранено"),
    ("name_required", "A client needs a name", "У клиента должно быть имя"),
    ("assign_anyway", "again to assign anyway", "ещё раз — назначить всё равно"),
    ("accept_shown", "Check the acceptance", "Проверьте текст"),
    ("sends", "sends it", "отправит"),
    ("count_it", "count as waiting", "считать ожидающим"),
    ("approved_templates", "approved templates (t)", "одобренные шаблоны (t)"),
    (
        "template_as_is",
        "An approved template goes exactly as approved: remove the other text (Esc keeps nothing else)",
        "Одобренный шаблон уходит только как есть: уберите остальной текст (Esc — закрыть без отправки)",
    ),
    ("window_left", "reply window closes in", "окно ответа закроется через"),
    (
        "connection_disabled",
        "{owner} turned the bot's business connection off: Telegram → Settings → Telegram Business → Chatbots",
        "{owner} отключил(а) бота в Telegram Business: Настройки → Telegram для бизнеса → Чат-боты",
    ),
    (
        "connection_no_reply",
        "{owner} has not allowed the bot to reply: Telegram Business → Chatbots → the bot's rights",
        "{owner} не разрешил(а) боту отвечать: Telegram для бизнеса → Чат-боты → права бота",
    ),
    ("owner_chats", "'s chats", ": личные чаты"),
    ("template_goes", "the approved template goes", "уйдёт одобренный шаблон"),
    (
        "window_closed",
        "The client last wrote more than {hours} ago: this channel lets a reply go only within that window",
        "Клиент писал больше {hours} назад: этот канал пропускает ответ только в течение этого окна",
    ),
    ("failed", "failed", "ошибка"),
    ("edited", "edited", "изменено"),
    ("deleted", "deleted", "удалено"),
    ("group", "group", "группа"),
    ("composer", "Reply", "Ответ"),
    (
        "composer_hint",
        "Alt+Enter or Ctrl+X send · Ctrl+T template · Esc close (draft kept)",
        "Alt+Enter или Ctrl+X — отправить · Ctrl+T — шаблон · Esc — закрыть (черновик сохранится)",
    ),
    (
        "note_hint",
        "Alt+Enter or Ctrl+X save note (never sent) · Esc close (draft kept)",
        "Alt+Enter или Ctrl+X — сохранить заметку (не отправляется) · Esc — закрыть (черновик сохранится)",
    ),
    ("templates", "Templates", "Шаблоны"),
    ("help", "Help", "Справка"),
    ("help_hint", "Esc or ? to close", "Esc или ? — закрыть"),
    ("search", "Search", "Поиск"),
    ("search_results", "Search results", "Результаты поиска"),
    (
        "search_hint",
        "words in any form  \"phrase\"  -not  from: is:unanswered after:7d in:notes",
        "слова в любой форме  \"фраза\"  -без  from: is:unanswered after:7d in:notes",
    ),
    ("no_results", "No matches", "Ничего не найдено"),
    ("match", "Match", "Совпадение"),
    (
        "no_search_in_thread",
        "n/N step through search matches: open this thread from search (/)",
        "n/N — по совпадениям поиска: откройте переписку из поиска (/)",
    ),
    ("queued", "Reply queued", "Ответ поставлен в очередь"),
    ("empty_reply", "Nothing to send", "Нечего отправлять"),
    ("unknown_command", "Unknown command", "Неизвестная команда"),
    ("closed", "Conversation closed", "Разговор закрыт"),
    ("reopened", "Conversation reopened", "Разговор снова открыт"),
    ("new_message", "New message", "Новое сообщение"),
    ("status_overdue", "overdue", "просрочено"),
    ("status_due_today", "today", "сегодня"),
    ("status_unanswered", "unanswered", "без ответа"),
    ("not_available", "Not available yet", "Пока недоступно"),
    ("you", "you", "вы"),
    ("attachment", "attachment", "вложение"),
    ("messages_count", "messages", "сообщений"),
    (
        "hint",
        "r reply · a accept · ? help · / search · t template · : command",
        "r ответ · a принять · ? справка · / поиск · t шаблон · : команда",
    ),
    ("open_a_thread", "Open a conversation first", "Сначала откройте разговор"),
    ("mode_solo", "solo", "автономно"),
    ("expunged", "removed from the server", "удалено на сервере"),
    (
        "notice_id_clash",
        "same Message-ID as another mail — possible spoof",
        "тот же Message-ID, что у другого письма — возможна подделка",
    ),
    ("maybe_sent", "may have been sent", "возможно, отправлено"),
    ("open_promise", "This conversation has an open promise", "В разговоре есть открытое обещание"),
    ("again_to_close", "again closes it anyway", "ещё раз — закрыть всё равно"),
    ("drafts_kept", "drafts kept", "черновиков сохранено"),
    ("again_to_quit", "again to quit", "ещё раз — выйти"),
    ("new_email_draft", "a new email", "новое письмо"),
    ("draft_mark", "draft", "черновик"),
    ("promise_unsent", "not yet told to the client", "клиенту ещё не отправлено"),
    ("promise_withdrawn", "promise withdrawn", "обещание снято"),
    ("record_promise", "Record the promise", "Записать обещание"),
    ("again_to_record", "again: send and record it", "ещё раз — отправить и записать"),
    ("promise_recorded", "promise recorded", "обещание записано"),
    ("nothing_to_resend", "No failed or maybe-sent message here", "Здесь нет неотправленных сообщений"),
    ("queued_again", "Queued again", "Поставлено в очередь снова"),
    ("discarded", "Discarded; the client counts as waiting", "Отменено; клиент снова ждёт ответа"),
    (
        "maybe_sent_hint",
        // No-break spaces keep each key with its words when the line wraps.
        "it may have reached the client: check, then E — send again · Y — it arrived · Z — discard",
        "сообщение могло дойти до клиента: уточните, затем E — отправить снова · Y — дошло · Z — отменить",
    ),
    ("marked_count", "Marked:", "Отмечено:"),
    ("not_sent", "not sent", "не отправлено"),
    (
        "refusal_nothing_to_answer",
        "nobody to reply to: no message from the client in this conversation",
        "некому отвечать: в этом разговоре нет сообщений клиента",
    ),
    (
        "refusal_no_recipients",
        "nobody to reply to: the client's mail names no address but ours",
        "некому отвечать: в письме клиента нет адресов, кроме наших",
    ),
    (
        "sender_usage",
        ":sender client — this sender's mail always waits · :sender never — it never does",
        ":sender клиент — письма отправителя всегда ждут ответа · :sender никогда — не ждут",
    ),
    (
        "sender_client",
        "— mail from this sender always waits for an answer",
        "— письма этого отправителя всегда ждут ответа",
    ),
    ("sender_never", "— mail from this sender never waits", "— письма этого отправителя не ждут ответа"),
    ("close_all", "close them all", "закрыть все"),
    ("unmark", "unmark", "снять отметки"),
    ("close_many_ask", "Close the marked conversations:", "Закрыть отмеченные разговоры:"),
    ("yes", "yes", "да"),
    ("closed_many", "Closed:", "Закрыто:"),
    ("kept_for_promises", "left open (an open promise)", "оставлены открытыми (есть обещание)"),
    ("undo_batch", "open them again", "открыть снова"),
    ("reopened_many", "Open again:", "Снова открыто:"),
    ("nothing_maybe_sent", "No maybe-sent message here", "Здесь нет сообщений с неизвестной судьбой"),
    ("confirmed_sent", "Marked sent: it will not be sent again", "Отмечено отправленным: повторно не уйдёт"),
    ("notice_no_date", "no Date: header; arrival time shown", "нет заголовка Date: — показано время получения"),
    ("notice_future_date", "Date: is in the future; arrival time shown", "Date: в будущем — показано время получения"),
    (
        "notice_delayed",
        "delivery delayed: the mail server keeps trying",
        "доставка задерживается: почтовый сервер ещё пытается",
    ),
    ("field_file", "File to attach", "Файл"),
    ("not_a_file", "Not a file", "Это не файл"),
    ("enter_again", "Enter again to attach anyway", "Enter ещё раз — приложить всё равно"),
    ("default_assignee", "Default responsible for this client:", "Ответственный за клиента по умолчанию:"),
    (
        "no_player",
        "No voice message here, or no player_command for this channel",
        "Здесь нет голосового сообщения или для канала не задан player_command",
    ),
    ("view_assigned", "Mine", "Мои"),
    ("view_unassigned", "Unassigned", "Не назначены"),
    ("view_mentions", "Mentions", "Упоминания"),
    ("internal_note", "internal note — not sent", "внутренняя заметка — не отправляется"),
    (
        "note_title",
        "Internal note (never sent; @name mentions)",
        "Внутренняя заметка (не отправляется; @имя — упоминание)",
    ),
    ("note_saved", "Note saved", "Заметка сохранена"),
    ("is_replying", "is replying", "отвечает"),
    ("field_assignee", "Assign to", "Ответственный"),
    ("field_note", "Hand-over note (optional)", "Заметка при передаче (можно пропустить)"),
    ("assigned", "Assigned to", "Ответственный:"),
    ("unassigned", "Nobody is responsible now", "Теперь без ответственного"),
    ("not_in_team", "Not in the team", "Нет в команде"),
    (
        "new_inbound",
        "A new client message arrived while you wrote — send again to send anyway",
        "Пока вы писали, клиент прислал новое сообщение — отправьте ещё раз, чтобы отправить всё равно",
    ),
    ("history", "History", "История"),
    ("mode_daemon", "daemon", "демон"),
    ("view_due_today", "Due today", "На сегодня"),
    ("view_overdue", "Overdue", "Просрочено"),
    ("view_at_risk", "At risk", "Горит"),
    ("view_mine", "My promises", "Мои обещания"),
    ("view_snoozed", "Snoozed", "Отложенные"),
    ("view_reminders", "Reminders", "Напоминания"),
    ("view_unsent", "Not sent", "Не отправлено"),
    ("view_lists", "Lists & automatic", "Рассылки"),
    ("no_promise", "This conversation has no open promise", "В этом разговоре нет открытого обещания"),
    (
        "already_done",
        "The promise is already reported done, and the client has not written since",
        "Обещание уже выполнено и клиенту сообщено; клиент с тех пор не писал",
    ),
    ("nothing_to_undo", "Nothing to undo", "Нечего отменять"),
    ("undone", "Sending cancelled; the text is back in the composer", "Отправка отменена, текст вернулся в редактор"),
    ("field_required", "This field is needed", "Нужно заполнить"),
    ("field_deadline", "Deadline", "Срок"),
    (
        "deadline_examples",
        "e.g. tomorrow 12:00 · end of day · in 2 hours · fri",
        "например: завтра 12:00 · до конца дня · через 3 рабочих дня · пт",
    ),
    ("confirms", "confirms", "— подтвердить"),
    ("field_what", "What was done (optional)", "Что сделано (можно пропустить)"),
    ("field_reason", "Reason", "Причина"),
    ("no_subject", "An email needs a subject", "У письма должна быть тема"),
    ("no_attachments", "No attachments in this conversation", "В этом разговоре нет вложений"),
    ("forward_is_email", "Forward is for email conversations", "Пересылка — только для почты"),
    ("no_email_account", "No email account is configured", "Почтовый ящик не настроен"),
    ("field_to", "To (addresses, comma-separated)", "Кому (адреса через запятую)"),
    ("field_subject", "Subject", "Тема"),
    ("field_directory", "Save to directory", "Сохранить в папку"),
    ("saved_to", "Saved to", "Сохранено:"),
    ("opening", "Opening", "Открываю"),
    ("fetching", "Fetching", "Загружаю"),
    ("pick_attachment", "Attachments", "Вложения"),
    ("pick_forward", "Forward which message?", "Какое письмо переслать?"),
    ("forward_to", "Forward to", "Переслать"),
    ("new_email_to", "New email to", "Новое письмо"),
    ("tone", "Re-read before sending", "Перечитайте перед отправкой"),
    ("send_anyway", "sends anyway", "— отправить всё равно"),
    ("sending_in", "Sending in", "Отправка через"),
    ("undo_hint", "to undo", "— отменить"),
    ("snoozed_until", "Snoozed until", "Отложено до"),
    ("follow_up_at", "Reminder at", "Напомнить"),
    ("task_cancelled", "Promise cancelled", "Обещание отменено"),
    ("new_chat", "New chat: P posts the rules message", "Новый чат: P — отправить правила работы"),
    // Branch `oauth` (#30): real mail providers, `pult auth`.
    ("needs_login", "needs login: pult auth", "нужен вход: pult auth"),
    ("folders_gone", "not on the server (renamed or deleted?)", "нет на сервере (переименована или удалена?)"),
    (
        "folders_fix",
        "not synced; fix `folders` in the config",
        "не синхронизируется; исправьте `folders` в конфигурации",
    ),
    (
        "auth_device",
        "Open this page on any device and enter the code",
        "Откройте страницу на любом устройстве и введите код",
    ),
    ("auth_open", "Open this address in a browser and sign in", "Откройте адрес в браузере и войдите"),
    (
        "auth_paste",
        "Over SSH: when the browser ends on a page that does not open (127.0.0.1), paste its address here and press Enter",
        "По SSH: если браузер остановится на странице, которая не открывается (127.0.0.1), вставьте её адрес сюда и нажмите Enter",
    ),
    ("auth_waiting", "Waiting for the sign-in…", "Жду входа…"),
    ("auth_done", "Signed in; tokens kept in", "Вход выполнен; токены сохранены в"),
    (
        "auth_no_flow",
        "has no oauth2 = { provider, client_id } in the config",
        "не имеет oauth2 = { provider, client_id } в конфигурации",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_complete_and_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, ru) in CATALOGUE {
            assert!(seen.insert(k), "duplicate key {k}");
            assert!(!en.is_empty() && !ru.is_empty(), "{k} lacks a text");
        }
        assert_eq!(Lang::Ru.tr("unanswered"), "Без ответа");
        assert_eq!(Lang::En.tr("unanswered"), "Unanswered");
    }

    #[test]
    fn language_detection() {
        assert_eq!(Lang::detect(Some("ru_RU.UTF-8")), Lang::Ru);
        assert_eq!(Lang::detect(Some("en")), Lang::En);
    }
}

#[cfg(test)]
mod units {
    use super::*;

    #[test]
    fn plural_forms_and_units_in_both_languages() {
        let days = |n| plural(Lang::Ru, n, ["day", "days"], ["день", "дня", "дней"]);
        for (n, want) in [
            (0, "0 дней"),
            (1, "1 день"),
            (2, "2 дня"),
            (4, "4 дня"),
            (5, "5 дней"),
            (11, "11 дней"),
            (12, "12 дней"),
            (14, "14 дней"),
            (21, "21 день"),
            (22, "22 дня"),
            (25, "25 дней"),
            (101, "101 день"),
            (111, "111 дней"),
            (112, "112 дней"),
        ] {
            assert_eq!(days(n), want);
        }
        assert_eq!(plural(Lang::En, 1, ["day", "days"], ["", "", ""]), "1 day");
        assert_eq!(plural(Lang::En, 2, ["day", "days"], ["", "", ""]), "2 days");
        assert_eq!(compact_duration(Lang::En, 59), "0m");
        assert_eq!(compact_duration(Lang::En, 9 * 3600), "9h 00m");
        assert_eq!(compact_duration(Lang::Ru, 9 * 3600), "9 ч 00 мин");
        assert_eq!(compact_duration(Lang::Ru, 86400 + 9 * 3600), "1 д 9 ч");
        assert_eq!(compact_duration(Lang::Ru, 300), "5 мин");
        assert_eq!(seconds(Lang::Ru, 10), "10 с");
        assert_eq!(seconds(Lang::En, 10), "10 s");
    }
}
