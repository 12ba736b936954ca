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

/// The language people read in this process (`[ui] language`, else the
/// locale): the TUI and the command line. 0 = not set yet.
static UI: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// Sets the language of this process's screens and command-line text.
pub fn set_ui(lang: Lang) {
    UI.store(if lang == Lang::Ru { 2 } else { 1 }, std::sync::atomic::Ordering::Relaxed);
}

/// The language of this process's screens and command-line text: as set
/// from the config, else the locale (an error before the config is read
/// still speaks the user's language).
pub fn ui() -> Lang {
    match UI.load(std::sync::atomic::Ordering::Relaxed) {
        1 => Lang::En,
        2 => Lang::Ru,
        _ => Lang::detect(None),
    }
}

/// A catalogue text with its `{name}` places filled, in one pass (a value
/// that itself contains `{name}` is left as it is).
pub fn fill(template: &str, values: &[(&str, &dyn std::fmt::Display)]) -> String {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let value = after
            .find('}')
            .and_then(|close| values.iter().find(|(name, _)| *name == &after[..close]).map(|(_, v)| (close, v)));
        match value {
            Some((close, v)) => {
                out.push_str(&v.to_string());
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A catalogue text in the UI's language, its places filled:
/// `t!("outbox_requeued", id = 5)`.
#[macro_export]
macro_rules! t {
    ($key:literal) => { $crate::i18n::ui().tr($key).to_string() };
    ($key:literal, $($name:ident = $value:expr),+ $(,)?) => {
        $crate::i18n::fill($crate::i18n::ui().tr($key), &[$((stringify!($name), &$value as &dyn std::fmt::Display)),+])
    };
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

/// A file size: "1.5 MB", «1,5 МБ», «340 КБ», «12 Б».
pub fn size(lang: Lang, bytes: i64) -> String {
    let (mb, kb, b) = (lang.tr("megabytes"), lang.tr("kilobytes"), lang.tr("bytes"));
    match bytes {
        n if n >= 1 << 20 => {
            let size = format!("{:.1}", n as f64 / (1 << 20) as f64);
            // Russian writes a decimal comma: «2,3 МБ».
            let size = if lang == Lang::Ru { size.replace('.', ",") } else { size };
            format!("{size} {mb}")
        }
        n if n >= 1 << 10 => format!("{} {kb}", n >> 10),
        n => format!("{n} {b}"),
    }
}

/// Seconds, as a countdown shows them: "10 s", «10 с».
pub fn seconds(lang: Lang, n: i64) -> String {
    match lang {
        Lang::En => format!("{n} s"),
        Lang::Ru => format!("{n} с"),
    }
}

/// Latin words a Russian screen may carry: key names, brands, file types,
/// header names and search operators. Lower case; compared case-insensitively.
const LATIN_ALLOWED: &[&str] = &[
    "ok",
    "dkim",
    "dns",
    "sha",
    "spf",
    "dmarc",
    "arc",
    "pdf",
    "id",
    "cc",
    "bcc",
    "or",
    "pult",
    "telegram",
    "postgresql",
    "sqlite",
    "whatsapp",
    "business",
    "email",
    "e-mail",
    "imap",
    "smtp",
    "ssh",
    "idle",
    "condstore",
    "qresync",
    "oauth",
    "sms",
    "api",
    "http",
    "https",
    "url",
    "html",
    "utf",
    "enter",
    "esc",
    "tab",
    "ctrl",
    "alt",
    "shift",
    "backspace",
    "space",
    "pgup",
    "pgdn",
    "home",
    "end",
    "del",
    "ins",
    "up",
    "down",
    "left",
    "right",
    "gg",
    "message",
    "date",
    "fwd",
    "re",
    "inn",
    "mpv",
    "cloud",
    "wa",
    "tg",
    "xlsx",
    "docx",
    "csv",
    "xml",
    "zip",
    // Names a person types or reads on the other side: PATH, TOML, SQLite,
    // webhook, BotFather, a process id, TOML's true/false, `off` hours.
    "path",
    "toml",
    "sqlite",
    "uidvalidity",
    "webhook",
    "botfather",
    "pid",
    "rfc",
    "true",
    "false",
    "off",
];

/// Configuration keys named in Russian messages (what to set is its name).
const CONFIG_KEYS: &[&str] = &[
    "player_command",
    "transcribe_command",
    "open_command",
    "media_max_mb",
    "tone_words",
    "language",
    "sent_folder",
    "sign_command",
    "password_command",
    "password_file",
];

/// File types and domains after a dot: «акт.pdf», «client.test».
const DOTTED_ALLOWED: &[&str] = &[
    "pdf", "jpg", "jpeg", "png", "gif", "webp", "ogg", "oga", "mp3", "mp4", "doc", "docx", "xls", "xlsx", "txt", "csv",
    "xml", "zip", "rar", "html", "json", "toml", "md", "ru", "com", "org", "net", "test", "example", "local", "io",
    "su", "рф", "eml",
];

/// The first English word (or raw catalogue key, or identifier such as
/// `task.accept`) in text meant for a Russian reader, None when it reads as
/// Russian. Latin that belongs in Russian text passes: key names (Ctrl+X,
/// Esc), brands (Telegram, WhatsApp), PDF, OK, addresses, URLs, file names,
/// search operators (`is:unanswered`), configuration keys. Used by the TUI's
/// and the CLI's tests of Russian screens.
pub fn english_leak(text: &str) -> Option<String> {
    let edge = |c: char| !c.is_alphanumeric() && !matches!(c, '_' | '@' | '/');
    // What stands in backticks is typed as it is: a command, a config key.
    let unquoted: String = text.split('`').step_by(2).collect::<Vec<_>>().join(" ");
    let mut after_pult = false;
    let mut after_pult_auth = false;
    for raw in unquoted.split(|c: char| c.is_whitespace()) {
        // Options (--once), config tables ([[accounts]], [store]) and bot commands (/setprivacy).
        let bare = raw.trim_start_matches(['(', '«', '"']);
        // Config tables as written: [[accounts]], [store] (not «[sticker]»).
        let table = bare.starts_with('[') && {
            let name = bare.trim_matches(|c: char| !c.is_ascii_alphabetic());
            ["accounts", "store", "ui", "hours", "guards", "agent", "sla", "team"].contains(&name)
        };
        if bare.starts_with("--") || table || bare.starts_with('/') {
            continue;
        }
        let chunk = raw.trim_matches(edge);
        // A command to type: «pult doctor», «pult auth office» (an account's name as written).
        let typed = chunk.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let after = std::mem::replace(&mut after_pult, chunk == "pult");
        let after_auth = std::mem::replace(&mut after_pult_auth, after && chunk == "auth");
        if (after || after_auth) && typed {
            continue;
        }
        if !chunk.chars().any(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let lower = chunk.to_lowercase();
        // A command of the `:` line as typed: «:sender клиент».
        let command = raw.trim_start_matches(['(', '«', '"']).trim_end_matches(|c: char| !c.is_alphanumeric());
        if command
            .strip_prefix(':')
            .is_some_and(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        {
            continue;
        }
        // Addresses, links, a template's variables as written ({what}), environment variables ($EDITOR).
        if raw.contains('$')
            || chunk.contains('@')
            || lower.contains("://")
            || lower.starts_with("www.")
            || raw.contains('{')
        {
            continue;
        }
        if CATALOGUE.iter().any(|(k, _, _)| *k == chunk) && (chunk.contains('_') || chunk.contains('.')) {
            return Some(chunk.to_string());
        }
        if let Some((head, ext)) = lower.rsplit_once('.')
            && !head.is_empty()
            && !ext.is_empty()
        {
            if DOTTED_ALLOWED.contains(&ext)
                || !head.chars().chain(ext.chars()).all(|c| c.is_ascii_alphabetic() || c == '.')
            {
                continue;
            }
            // An identifier: task.accept, send.undo.
            return Some(chunk.to_string());
        }
        if chunk.contains('_') {
            if CONFIG_KEYS.contains(&lower.as_str()) {
                continue;
            }
            return Some(chunk.to_string());
        }
        // A search operator as typed (lower case): from:, is:unanswered; not a header «To:».
        let operator = raw.trim_matches(|c: char| edge(c) && c != ':');
        if let Some((key, _)) = operator.split_once(':')
            && crate::search::query::KEYS.contains(&key)
        {
            continue;
        }
        for word in chunk.split(|c: char| !c.is_ascii_alphabetic()) {
            // Single letters are keys (r, a, D, j/k); a word glued to a number is a unit, checked elsewhere.
            if word.len() < 2 || LATIN_ALLOWED.contains(&word.to_lowercase().as_str()) {
                continue;
            }
            return Some(chunk.to_string());
        }
    }
    None
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
    (
        "composer_hint_short",
        "Ctrl+X send · Esc close (draft kept) · Ctrl+T template",
        "Ctrl+X — отправить · Esc — закрыть (черновик сохранится) · Ctrl+T — шаблон",
    ),
    (
        "note_hint_short",
        "Ctrl+X save note · Esc close (draft kept)",
        "Ctrl+X — сохранить заметку · Esc — закрыть (черновик сохранится)",
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
    ("dkim_signed", "DKIM signature: {domain} ✓", "подпись DKIM: {domain} ✓"),
    (
        "dkim_signed_other",
        "DKIM signature: {domain} ✓, but the mail says it is from {from}",
        "подпись DKIM: {domain} ✓, но письмо от имени {from}",
    ),
    (
        "dkim_signed_partial",
        "DKIM signature: {domain} ✓, but only the start of the text is signed",
        "подпись DKIM: {domain} ✓, но подписано только начало текста",
    ),
    (
        "dkim_failed",
        "DKIM signature of {domain} does not hold: {reason}",
        "подпись DKIM {domain} не сходится: {reason}",
    ),
    (
        "dkim_unchecked",
        "DKIM signature of {domain} not checked: {reason}",
        "подпись DKIM {domain} не проверена: {reason}",
    ),
    ("dkim_unsigned", "no DKIM signature", "без подписи DKIM"),
    (
        "dkim_not_checked_old",
        "DKIM not checked: older than {days} days when synced",
        "DKIM не проверялась: письму было больше {days} дн. при загрузке",
    ),
    (
        "dkim_not_checked_partial",
        "DKIM not checked: a large mail, its body was not fetched",
        "DKIM не проверялась: большое письмо, его текст не загружался целиком",
    ),
    ("dkim_reason_body-hash", "the text was changed after signing", "текст письма изменён после подписи"),
    (
        "dkim_reason_signature",
        "the headers were changed after signing, or the key is another",
        "заголовки изменены после подписи или ключ другой",
    ),
    ("dkim_reason_syntax", "the signature cannot be read", "подпись не читается"),
    ("dkim_reason_unsupported", "an unknown kind of signature", "неизвестный вид подписи"),
    ("dkim_reason_weak-algorithm", "signed with the outdated SHA-1", "подписано устаревшим SHA-1"),
    ("dkim_reason_from-not-signed", "the sender is not signed", "отправитель не подписан"),
    ("dkim_reason_identity-outside-domain", "the signer is outside its domain", "подписант вне своего домена"),
    ("dkim_reason_expired", "the signature has expired", "срок подписи истёк"),
    ("dkim_reason_length-beyond-body", "the signature claims more text than there is", "подпись длиннее текста"),
    ("dkim_reason_no-key", "the domain publishes no such key", "домен не публикует такой ключ"),
    ("dkim_reason_key-revoked", "the domain has revoked the key", "домен отозвал ключ"),
    ("dkim_reason_bad-key", "the domain's key cannot be read", "ключ домена не читается"),
    ("dkim_reason_key-too-small", "the key is too short", "ключ слишком короткий"),
    ("dkim_reason_key-mismatch", "the key does not fit the signature", "ключ не подходит к подписи"),
    ("dkim_reason_dns-timeout", "DNS did not answer in time", "DNS не ответил вовремя"),
    ("dkim_reason_dns-error", "DNS answered with an error", "DNS ответил ошибкой"),
    ("dkim_reported", "reported by {server}: {results}", "по словам сервера {server}: {results}"),
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
    ("loading", "loading…", "загрузка…"),
    (
        "reader_stopped",
        "The store can no longer be read: restart pult (the log says why)",
        "Хранилище больше не читается: перезапустите pult (причина — в журнале)",
    ),
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
    // command line (lead): what `pult …` prints, in the UI's language
    ("stdout_failed", "cannot write the output", "не удаётся вывести результат"),
    ("cli_unknown_argument", "unknown option {arg}", "неизвестный параметр {arg}"),
    ("cli_unknown_command", "no command {arg}", "нет команды {arg}"),
    ("cli_missing_argument", "missing {arg}", "не хватает параметра {arg}"),
    ("cli_bad_value", "{value} is not a value {arg} takes", "{value} — недопустимое значение для {arg}"),
    (
        "deadline_day_off",
        "{day} is a day off; move it to {moved}? {yes} — yes, {keep} — keep",
        "{day} — выходной; перенести на {moved}? {yes} — да, {keep} — оставить",
    ),
    ("day_off", "day off", "выходной"),
    (
        "not_set_up_host",
        "not set up yet: the {key} {host} is an example's placeholder; put your server's name in the config, then run `pult doctor`",
        "ещё не настроено: {key} {host} — заглушка из примера; впишите в конфигурацию имя своего сервера и запустите `pult doctor`",
    ),
    (
        "not_set_up_command",
        "not set up yet: the {key} command {program} is not installed (not found in PATH); install it or change the command in the config, then run `pult doctor`",
        "ещё не настроено: команды {program} для {key} нет (не найдена в PATH); установите её или измените команду в конфигурации и запустите `pult doctor`",
    ),
    (
        "not_set_up_file",
        "not set up yet: the {key} file {path} does not exist; create it (mode 0600) or change the path in the config, then run `pult doctor`",
        "ещё не настроено: файла {path} для {key} нет; создайте его (права 0600) или измените путь в конфигурации и запустите `pult doctor`",
    ),
    (
        "telegram_synced",
        "telegram {name}: {updates} updates, {transcribed} voice messages transcribed",
        "telegram {name}: получено обновлений: {updates}, расшифровано голосовых: {transcribed}",
    ),
    ("bot_sees_groups", "sees all group messages", "видит все сообщения в группах"),
    (
        "bot_privacy_on",
        "privacy mode on: make it a group admin or /setprivacy Disable",
        "включён режим приватности: сделайте бота администратором группы или `/setprivacy Disable`",
    ),
    ("bot_business_on", "Business Mode on", "режим Business включён"),
    (
        "bot_business_off",
        "Business Mode off (BotFather → Bot Settings → Business Mode) for the accountant's own chats",
        "режим Business выключен (`BotFather → Bot Settings → Business Mode`) — нужен для личных чатов бухгалтера",
    ),
    ("bot_ok", "bot @{name} ok, {groups}; {business}", "бот @{name} работает, {groups}; {business}"),
    (
        "whatsapp_synced",
        "whatsapp {name}: messages arrive by webhook at the process that runs the workers (pult daemon, or a solo pult); {media} media files fetched",
        "whatsapp {name}: сообщения приходят через webhook в процесс, который ведёт синхронизацию (pult daemon или pult без демона); загружено файлов: {media}",
    ),
    ("webhook_listening", "webhook receiver listening on {url}", "приёмник webhook слушает {url}"),
    (
        "webhook_not_listening",
        "nothing listens on {listen} yet: the webhook receiver runs in `pult daemon` (or a solo pult)",
        "на {listen} пока никто не слушает: приёмник webhook работает в `pult daemon` (или в pult без демона)",
    ),
    ("number_ok", "number {number} ok; {webhook}", "номер {number} работает; {webhook}"),
    ("uidvalidity_resynced", " (UIDVALIDITY changed: resynced)", " (изменился UIDVALIDITY: загружено заново)"),
    (
        "email_synced",
        "email {name} {folder}: {fetched} fetched, {new} new{resynced}",
        "email {name} {folder}: загружено {fetched}, новых {new}{resynced}",
    ),
    ("config_duplicate_key", "a key is given twice", "ключ указан дважды"),
    ("config_wrong_value", "a value of the wrong kind", "значение не того вида"),
    ("config_missing_key", "a required key is missing", "не хватает обязательного ключа"),
    (
        "config_syntax",
        "not valid TOML here (a missing quote, bracket or =?)",
        "здесь нарушен синтаксис TOML (пропущена кавычка, скобка или =?)",
    ),
    ("config_key", " (key `{key}`)", " (ключ `{key}`)"),
    ("config_at", "line {line}, column {column}", "строка {line}, столбец {column}"),
    ("config_must_be", "`{name}` must be {expected}", "`{name}` должно быть: {expected}"),
    ("type_bool", "true or false", "true или false"),
    ("type_number", "a number", "число"),
    ("type_text", "text in quotes", "текст в кавычках"),
    (
        "type_strings",
        "a list of strings, e.g. [\"pass\", \"mail/office\"]",
        "список строк, например `[\"pass\", \"mail/office\"]`",
    ),
    ("type_accounts", "[[accounts]] tables", "таблицы [[accounts]]"),
    ("type_list", "a list", "список"),
    ("type_table", "a table", "таблица"),
    (
        "config_same_name",
        "`name` is the same as the account's on line {line}; each account needs its own",
        "`name` такое же, как у учётной записи в строке {line}; у каждой должно быть своё",
    ),
    (
        "config_unknown_kind",
        "an [[accounts]] entry has an unknown kind; use one of {kinds}",
        "у раздела [[accounts]] неизвестный `kind`; возможные: {kinds}",
    ),
    ("config_no_kind", "an [[accounts]] entry has no kind ({kinds})", "у раздела [[accounts]] нет `kind` ({kinds})"),
    ("or_list", "{items} or {last}", "{items} или {last}"),
    ("config_port", "`port` must be a number from 1 to 65535", "`port` должен быть числом от 1 до 65535"),
    (
        "config_whole_number",
        "`{name}` must be a whole number, 0 or more",
        "`{name}` должно быть целым числом, 0 или больше",
    ),
    ("config_number_up_to", "`{name}` must be a number from 0 to {max}", "`{name}` должно быть числом от 0 до {max}"),
    (
        "config_history_before",
        "`history_before` must be a date like \"2026-11-01\" or days like \"7d\"",
        "`history_before` должно быть датой вида \"2026-11-01\" или числом дней вида \"7d\"",
    ),
    ("config_tls", "`tls` must be implicit, starttls or none", "`tls` может быть `implicit`, `starttls` или `none`"),
    ("config_time", "`{name}` must be a time like 09:00", "`{name}` должно быть временем вида 09:00"),
    (
        "config_workdays",
        "`workdays` must be days like mon-fri or mon,wed,fri",
        "`workdays` должно быть днями вида `mon-fri` или `mon,wed,fri`",
    ),
    (
        "config_day_hours",
        "`{name}` must be hours like 09:00-17:00, or off",
        "`{name}` должно быть часами вида 09:00-17:00 или off",
    ),
    (
        "config_webhook_listen",
        "`webhook_listen` must be an address and port, like 127.0.0.1:8088",
        "`webhook_listen` должно быть адресом с портом, например 127.0.0.1:8088",
    ),
    ("config_this_account", "this [[accounts]] entry ({kind})", "в этом разделе [[accounts]] ({kind})"),
    ("config_has_no", "{table} has no `{key}`", "{table} нет `{key}`"),
    ("config_end_after_start", "`end` must be after `start`", "`end` должно быть позже `start`"),
    (
        "config_insecure",
        "tls = \"none\" sends the password in the clear; it needs insecure = true",
        "`tls = \"none\"` передаёт пароль открытым текстом; для этого нужно `insecure = true`",
    ),
    ("config_in_top", "at the top level", "на верхнем уровне"),
    ("config_in_account", "in [[accounts]] ({kind})", "в [[accounts]] ({kind})"),
    ("config_in_server", "in {server} of [[accounts]] ({kind})", "в {server} раздела [[accounts]] ({kind})"),
    ("config_in_table", "in [{table}]", "в [{table}]"),
    ("config_inside_servers", " inside imap = { … } and smtp = { … }", " внутри `imap = { … }` и `smtp = { … }`"),
    (
        "config_no_password_here",
        "`{key}` is not read: a password never lives in this file. Use password_command = [\"pass\", \"mail/office\"] (run without a shell) or password_file = \"/path\" (mode 0600){place}",
        "`{key}` не читается: пароль в этом файле не хранят. Укажите `password_command = [\"pass\", \"mail/office\"]` (запускается без оболочки) или `password_file = \"/путь\"` (права 0600){place}",
    ),
    (
        "config_no_token_here",
        "`{key}` is not read: a token never lives in this file. Use token_command = [\"pass\", \"telegram/bot\"] or token_file = \"/path\" (mode 0600)",
        "`{key}` не читается: токен в этом файле не хранят. Укажите `token_command = [\"pass\", \"telegram/bot\"]` или `token_file = \"/путь\"` (права 0600)",
    ),
    (
        "config_unknown_key_near",
        "unknown key `{key}` {table}; did you mean `{near}`?",
        "неизвестный ключ `{key}` {table}; может быть, `{near}`?",
    ),
    (
        "config_unknown_key",
        "unknown key `{key}` {table}; known keys: {known}",
        "неизвестный ключ `{key}` {table}; известные ключи: {known}",
    ),
    ("config_missing", "no configuration at {path}", "конфигурации {path} нет"),
    ("config_unreadable", "cannot read {path}: {why}", "не читается {path}: {why}"),
    (
        "store_not_a_database",
        "{path} is not a pult store (not an SQLite database, or a damaged one); check --store or [store] path",
        "{path} — не хранилище pult (не база SQLite или повреждена); проверьте --store или [store] path",
    ),
    ("identity_telegram_group", "telegram_group", "группа Telegram"),
    ("identity_whatsapp_group", "whatsapp_group", "группа WhatsApp"),
    ("keymap_syntax", "keymap{message}", "файл клавиш: нарушен синтаксис TOML (пропущена кавычка или скобка?)"),
    ("keymap_unknown_context", "keymap: unknown context [{context}]", "файл клавиш: неизвестный раздел [{context}]"),
    (
        "keymap_no_keys",
        "keymap [{context}]: a binding has no keys",
        "файл клавиш [{context}]: у привязки нет клавиш (`on`)",
    ),
    ("keymap_bad_key", "keymap [{context}]{why}", "файл клавиш [{context}]: непонятная клавиша в `on`"),
    (
        "keymap_unknown_action",
        "keymap [{context}] {keys}{why}",
        "файл клавиш [{context}] {keys}: неизвестное действие {action} (список — в keymaps/default.toml)",
    ),
    (
        "theme_unreadable",
        "theme {theme}: no such file or it cannot be read (shipped themes: {names})",
        "тема {theme}: такого файла нет или он не читается (встроенные темы: {names})",
    ),
    ("theme_syntax", "theme: not valid TOML", "тема: нарушен синтаксис TOML"),
    ("theme_unknown_slot", "theme: unknown slot {slot}", "тема: неизвестный элемент {slot}"),
    ("theme_unknown_colour", "theme: unknown colour {colour}", "тема: неизвестный цвет {colour}"),
    ("theme_unknown_modifier", "theme: unknown modifier {modifier}", "тема: неизвестное начертание {modifier}"),
    ("config_one_of", "`{name}` must be one of {list}", "`{name}` может быть одним из: {list}"),
    ("config_auth", "`auth` must be password or oauth2", "`auth` может быть `password` или `oauth2`"),
    ("channels_all_work", "Every channel works", "Все каналы работают"),
    ("cli_bad_value_choose", "{value} is not one of {valid}", "{value} — недопустимое значение; можно: {valid}"),
    ("cli_bad_value_here", "{value} is not a value this command takes", "{value} — недопустимое значение"),
    ("cli_missing_command", "which command? (pult --help lists them)", "какая команда? (список: pult --help)"),
    ("cli_conflict", "{arg} cannot go with what else was given", "{arg} нельзя указывать вместе с другими параметрами"),
    ("cli_value_count", "{arg} takes another number of values", "у {arg} другое число значений"),
    ("cli_unreadable", "this command line cannot be read", "эту командную строку не разобрать"),
    ("cli_see_help", "pult --help shows what each command takes", "pult --help — что принимает каждая команда"),
    ("upcoming", "upcoming", "впереди"),
    ("account_not_in_config", "its account is not in the config", "его учётной записи нет в конфигурации"),
    (
        "outbox_found_sent",
        "found in {place}: it was sent; recorded as sent, not sent again",
        "нашлось в «{place}»: сообщение ушло; отмечено отправленным, повторно не отправляется",
    ),
    ("outbox_not_found", "not found in {place}", "в «{place}» не нашлось"),
    (
        "outbox_cannot_tell",
        "pult cannot tell whether the client has it ({why})",
        "pult не может узнать, получил ли его клиент ({why})",
    ),
    ("outbox_line", "outbox {id}: {text}", "исходящее {id}: {text}"),
    ("outbox_requeued", "queued again (conversation {conversation})", "снова в очереди (разговор {conversation})"),
    (
        "outbox_marked_sent",
        "marked sent (conversation {conversation})",
        "отмечено отправленным (разговор {conversation})",
    ),
    ("outbox_discarded", "discarded (conversation {conversation})", "отменено (разговор {conversation})"),
    (
        "outbox_nothing",
        "nothing waits: no failed or maybe-sent messages",
        "ничего не ждёт: неотправленных и, возможно, отправленных сообщений нет",
    ),
    ("outbox_maybe_sent_mark", "MAYBE SENT", "УШЛО?"),
    ("outbox_failed_mark", "FAILED", "НЕ УШЛО"),
    (
        "sync_needs_once",
        "`pult sync` runs once with --once; for continuous sync run `pult daemon` or `pult`",
        "`pult sync` работает только с --once; для постоянной синхронизации запустите `pult daemon` или `pult`",
    ),
    (
        "reply_needs_text",
        "give --body TEXT, --body - or --template ID",
        "укажите --body ТЕКСТ, --body - или --template ID",
    ),
    (
        "no_config_help",
        "pult has no configuration yet.\n\nTry it first with a realistic demo inbox:\n\n    pult demo\n\nThen write {path} — for example (put your own servers, addresses and secret commands\nin place of the example's: an account that still names example.test is left out\nuntil it is edited; `pult doctor` checks each account):\n\n",
        "У pult ещё нет конфигурации.\n\nСначала попробуйте на демонстрационном ящике:\n\n    pult demo\n\nЗатем создайте {path}, например такой (подставьте свои серверы, адреса и команды\nдля паролей вместо примерных: учётная запись, где ещё написано example.test,\nне подключается, пока её не исправят; `pult doctor` проверяет каждую):\n\n",
    ),
    ("opening_store", "opening the store {path}", "не открывается хранилище {path}"),
    ("unopened_more", " (+{n} more: pult doctor)", " (ещё {n}: pult doctor)"),
    (
        "doctor_no_accounts",
        "no accounts in the config: add an [[accounts]] entry (see `pult` with no config for an example)",
        "в конфигурации нет учётных записей: добавьте раздел [[accounts]] (пример — `pult` без конфигурации)",
    ),
    ("connection_on", "on", "включено"),
    ("connection_off", "switched off by its owner", "владелец отключил"),
    ("connection_can_reply", "can reply", "может отвечать"),
    ("connection_cannot_reply", "may not reply", "отвечать нельзя"),
    ("connection_can_read", "can mark read", "может отмечать прочитанным"),
    ("connection_cannot_read", "may not mark read", "отмечать прочитанным нельзя"),
    (
        "doctor_connection",
        "business connection: {owner}'s own chats ({id}), {rights}",
        "подключение Telegram Business: личные чаты {owner} ({id}), {rights}",
    ),
    (
        "doctor_quarantine",
        "{updates} pult could not read are kept in quarantine (table `quarantine`, raw); see the log",
        "нечитаемых входящих в карантине: {updates} (таблица `quarantine`, как пришли); подробности в журнале",
    ),
    (
        "sync_lock_held",
        "{holder} holds the worker lock for this store and keeps it synced; nothing to do here",
        "хранилище уже синхронизирует {holder} (у него блокировка); здесь делать нечего",
    ),
    ("account_does_not_run", "account {name}: does not run: {why}", "учётная запись {name} не работает: {why}"),
    (
        "sync_deadline",
        "did not finish within {minutes} min (a server that stopped answering?); what came before is kept",
        "не закончила за {minutes} мин (сервер перестал отвечать?); полученное раньше сохранено",
    ),
    (
        "first_sync",
        "{name}: first sync: {history} kept as history (older mail never waits), {waiting} waiting for an answer",
        "{name}: первая синхронизация: в истории — {history} (старая почта не ждёт ответа), ждут ответа: {waiting}",
    ),
    (
        "account_sync_failed",
        "account {name}: sync failed: {why}",
        "учётная запись {name}: синхронизация не удалась: {why}",
    ),
    (
        "outbox_report",
        "outbox: {handled} handled ({sent} sent, {retrying} to retry, {failed} failed)",
        "исходящие: обработано {handled} (отправлено {sent}, повторить {retrying}, не ушло {failed})",
    ),
    ("outbox_failed_line", "outbox {id} failed: {why}", "исходящее {id} не ушло: {why}"),
    (
        "recovered_unknown",
        "{messages} may have been sent before pult stopped; see `pult outbox` (retry or discard)",
        "возможно, ушли до остановки pult: {messages}; см. `pult outbox` (повторить или отменить)",
    ),
    (
        "demo_store_exists",
        "{path} already exists; the demo fills a new store (remove it or choose another --store)",
        "{path} уже есть; демонстрация заполняет новое хранилище (удалите файл или укажите другой --store)",
    ),
    ("demo_written", "demo store written to {path}", "демонстрационное хранилище записано в {path}"),
    (
        "no_store",
        "no store at {path} (run `pult` once, or pass --store)",
        "хранилища {path} нет (запустите `pult` один раз или укажите --store)",
    ),
    ("cli_status_unanswered", "unanswered", "без ответа"),
    ("cli_status_open", "open", "открыто"),
    ("cli_status_overdue", "overdue", "просрочено"),
    ("cli_status_due_today", "due today", "на сегодня"),
    ("cli_status_at_risk", "at risk", "под угрозой"),
    ("cli_status_breached", "breached", "нарушено"),
    ("cli_status_maybe_sent", "maybe sent", "возможно, ушло"),
    ("cli_status_failed", "failed", "не ушло"),
    ("cli_status_oldest", "oldest unanswered: {minutes}", "дольше всех ждёт ответа: {minutes}"),
    (
        "bad_since",
        "--since {value}: use RFC 3339, YYYY-MM-DD, today, or 24h / 7d",
        "--since {value}: укажите RFC 3339, ГГГГ-ММ-ДД, сегодня или 24h / 7d",
    ),
    (
        "bad_bound",
        "{flag} {value}: use RFC 3339, YYYY-MM-DD, today, yesterday, or 24h / 7d (that long ago)",
        "{flag} {value}: укажите RFC 3339, ГГГГ-ММ-ДД, сегодня, вчера или 24h / 7d (столько назад)",
    ),
    (
        "export_bad_range",
        "--since {since} is after --until {until}: nothing would be exported",
        "--since {since} позже --until {until}: выгружать было бы нечего",
    ),
    (
        "export_verify_unsigned",
        "manifest.json is not signed: the files fit it, but whoever changed a file could have changed the manifest too; compare its SHA-256 with the one recorded when the bundle was made (the export's audit row), or sign bundles ([export] sign_command)",
        "manifest.json не подписан: файлы ему соответствуют, но тот, кто изменил файл, мог изменить и манифест; сверьте его SHA-256 с записанным при выгрузке (строка журнала о выгрузке) или подписывайте выгрузки (ключ sign_command)",
    ),
    (
        "export_out_is_file",
        "{dir} is a file: export into a new directory",
        "{dir} — это файл: выгружайте в новый каталог",
    ),
    ("agenda_none_today", "no promises due today", "на сегодня обещаний нет"),
    ("agenda_none_in", "no promises due in {days}", "обещаний на ближайшие {days} нет"),
    ("progress_took", "{seconds} s", "{seconds} с"),
    ("progress_left", "about {seconds} s left", "осталось около {seconds} с"),
    ("progress_reckoning", "reckoning time left", "считаю время"),
    (
        "sync_progress",
        "{account}/{folder}: {done} of {total} mails · {megabytes} MB · {rate} mails/s · {left}",
        "{account}/{folder}: {done} из {total} писем · {megabytes} МБ · {rate} писем/с · {left}",
    ),
    ("search_none", "no matches", "ничего не найдено"),
    ("search_note_mark", "✎ note", "✎ заметка"),
    (
        "close_would",
        "{conversations} would be closed (run without --dry-run to close them)",
        "будет закрыто: {conversations} (без --dry-run — закрыть)",
    ),
    (
        "close_done",
        "closed: {conversations}, batch {batch}; undo: pult reopen --batch {batch}",
        "закрыто: {conversations}, пакет {batch}; вернуть: pult reopen --batch {batch}",
    ),
    (
        "close_nothing",
        "nothing to close: no open conversation matches",
        "закрывать нечего: открытых разговоров по запросу нет",
    ),
    (
        "close_kept",
        "left open, they hold an open promise: {conversations} (add --with-promises to close them too)",
        "оставлены открытыми из-за открытого обещания: {conversations} (--with-promises — закрыть и их)",
    ),
    ("batch_reopened", "batch {batch}: open again: {conversations}", "пакет {batch}: снова открыто: {conversations}"),
    ("credentials_refused", "the server refused the credentials: {why}", "сервер не принял учётные данные: {why}"),
    ("account_left_config", "its account is no longer in the config", "его учётной записи больше нет в конфигурации"),
    ("not_synced_yet", "not synced yet", "ещё не синхронизирован"),
    (
        "channels_none",
        "no channels: add an [[accounts]] entry to the config, then run `pult doctor`",
        "каналов нет: добавьте раздел [[accounts]] в конфигурацию и запустите `pult doctor`",
    ),
    (
        "channel_archived_hint",
        "its account is no longer in the config; `pult channels remove {name}` deletes its history",
        "его учётной записи больше нет в конфигурации; `pult channels remove {name}` удалит его историю",
    ),
    ("channel_state_ok", "ok", "работает"),
    ("channel_state_error", "error", "ошибка"),
    ("channel_state_archived", "archived", "в архиве"),
    (
        "channel_in_config",
        "{name} is in the config: remove its [[accounts]] entry first (its history then stays, archived, until this command)",
        "{name} есть в конфигурации: сначала удалите его раздел [[accounts]] (история останется в архиве до этой команды)",
    ),
    (
        "no_channel_named",
        "no channel named {name} in the store (see `pult channels`)",
        "канала {name} в хранилище нет (см. `pult channels`)",
    ),
    (
        "channel_not_archived",
        "{name} is not archived: its account is still in the config that runs its worker (the daemon's?)",
        "{name} не в архиве: его учётная запись ещё есть в конфигурации, по которой он работает (у демона?)",
    ),
    (
        "channel_delete_question",
        "Delete channel {name} ({kind}) for good: {conversations}, {messages}, with their notes, promises and attachment records? Clients and the audit log stay. [y/N] ",
        "Удалить канал {name} ({kind}) навсегда: {conversations}, {messages}, с заметками, обещаниями и записями о вложениях? Клиенты и журнал действий останутся. [д/Н] ",
    ),
    (
        "channel_nothing_deleted",
        "nothing deleted (answer y to delete, or pass --yes)",
        "ничего не удалено (ответьте «д», чтобы удалить, или укажите --yes)",
    ),
    (
        "channel_deleted",
        "deleted channel {name}: {conversations}, {messages}",
        "канал {name} удалён: {conversations}, {messages}",
    ),
    ("client_new_mark", " (new)", " (новый)"),
    (
        "client_row",
        "responsible: {responsible}  promises: {promises}  waiting: {waiting}",
        "ответственный: {responsible}  обещаний: {promises}  ждут ответа: {waiting}",
    ),
    ("no_client_id", "no client {id}", "клиента {id} нет"),
    ("client_created_by_sync", " (new, created by sync)", " (новый, создан при синхронизации)"),
    ("promise_by", "promise by {date}", "обещано к {date}"),
    ("waiting_since", "waiting since {date}", "ждёт с {date}"),
    (
        "merge_nothing",
        "nothing to merge: give the clients to merge into {into}",
        "объединять нечего: укажите клиентов, которых присоединить к {into}",
    ),
    (
        "merged",
        "merged into client {into} (merge {merge}; `pult client unmerge {merge}` undoes it)",
        "объединено в клиента {into} (объединение {merge}; отменить: `pult client unmerge {merge}`)",
    ),
    ("unmerged", "merge {merge} undone", "объединение {merge} отменено"),
    (
        "identity_form",
        "--identity is KIND:HANDLE, like email:irina@firm.ru or whatsapp:79161234567",
        "--identity пишется как ВИД:АДРЕС, например email:irina@firm.ru или whatsapp:79161234567",
    ),
    ("no_identity", "no identity {identity}", "адреса {identity} нет"),
    ("identity_split", "{identity} is now client {client}", "{identity} теперь отдельный клиент {client}"),
    ("nobody", "nobody", "никому"),
    (
        "client_handed_over",
        "client {id} handed over to {who}; moved: {moved}",
        "клиент {id} передан: {who}; перешло: {moved}",
    ),
    ("no_field", "no field {field}", "поля {field} нет"),
    ("field_set", "client {id}: {field} set", "клиент {id}: поле {field} записано"),
    (
        "dismissed",
        "clients {a} and {b} will not be suggested again",
        "клиенты {a} и {b} больше не будут предлагаться к объединению",
    ),
    (
        "no_store_yet",
        "no store at {path} (run `pult` or `pult sync --once` first, or pass --store)",
        "хранилища {path} нет (сначала запустите `pult` или `pult sync --once`, или укажите --store)",
    ),
    ("message_no_attachments", "message {message} has no attachments", "у сообщения {message} нет вложений"),
    ("removed_from_server", "  (removed from the server)", "  (удалено с сервера)"),
    ("account_why", "account {name}: {why}", "учётная запись {name}: {why}"),
    ("attachment_no_file", "attachment {path}: no such file", "вложение {path}: такого файла нет"),
    (
        "cli_queued",
        "queued (outbox {outbox}, conversation {conversation}); the daemon, a running pult or `pult sync --once` sends it",
        "в очереди (исходящее {outbox}, разговор {conversation}); отправит демон, запущенный pult или `pult sync --once`",
    ),
    (
        "no_email_account_named",
        "no email account named {name} in the config",
        "почтового ящика {name} в конфигурации нет",
    ),
    ("no_email_account_in_config", "no email account in the config", "в конфигурации нет почтового ящика"),
    ("reading_stdin", "reading the body from stdin", "не читается текст со стандартного ввода"),
    ("no_conversation_id", "no conversation {id}", "разговора {id} нет"),
    ("note_mark", "note", "заметка"),
    (
        "channel_archived_no_reply",
        "channel {name} is archived (its account is no longer in the config): a reply cannot go",
        "канал {name} в архиве (его учётной записи нет в конфигурации): ответ не уйдёт",
    ),
    ("not_queued", "not queued: {why}", "не поставлено в очередь: {why}"),
    (
        "not_queued_template",
        "not queued: {why}; an approved template can go: --template {templates}",
        "не поставлено в очередь: {why}; можно отправить одобренный шаблон: --template {templates}",
    ),
    ("reply_empty", "the reply is empty", "ответ пустой"),
    ("cli_no_template", "no template {id}; there are: {ids}", "шаблона {id} нет; есть: {ids}"),
    (
        "template_needs_var",
        "template {id} asks for {field}: add --var '{field}=…'",
        "шаблону {id} нужно поле {field}: добавьте --var '{field}=…'",
    ),
    ("delivery_failed", "not sent", "не ушло"),
    ("delivery_unknown", "may have been sent", "возможно, ушло"),
    ("delivery_cancelled", "cancelled", "отменено"),
    (
        "daemon_running",
        "running the workers for {path} (pid {pid})",
        "работают синхронизация и отправка для {path} (pid {pid})",
    ),
    ("daemon_stopping", "stopping", "останавливаюсь"),
    (
        "daemon_already",
        "another pult daemon already runs for {path}: {holder}",
        "для {path} уже работает другой демон pult: {holder}",
    ),
    (
        "daemon_standby",
        "another daemon sends for {path} ({holder}); this one waits as its standby and takes over when it stops",
        "для {path} уже работает другой демон ({holder}); этот ждёт в резерве и подхватит работу, когда тот остановится",
    ),
    (
        "daemon_lease_lost",
        "this daemon lost the sender's lease of {path} (another took over, or the connection was cut); its workers stopped, it waits as a standby again",
        "этот демон потерял право отправки для {path} (его подхватил другой или оборвалась связь); синхронизация и отправка остановлены, демон снова ждёт в резерве",
    ),
    (
        "doctor_pg_sender",
        "{target}: {holder} syncs and sends (since {since})",
        "{target}: синхронизацию и отправку ведёт {holder} (с {since})",
    ),
    (
        "doctor_pg_no_sender",
        "{target}: no daemon holds the sender's lease; nothing is synced or sent until `pult daemon` runs",
        "{target}: ни один демон не держит право отправки; пока не запущен `pult daemon`, почта не синхронизируется и не отправляется",
    ),
    (
        "daemon_asking_handover",
        "{holder} runs the workers; asking it to hand over",
        "синхронизацию ведёт {holder}; прошу передать",
    ),
    // rutui
    // The audit trail in words (src/history.rs).
    ("hist_send", "sent", "отправлено"),
    ("hist_send_auto", "automatic reply", "автоответ"),
    ("hist_send_undo", "sending cancelled", "отправка отменена"),
    ("hist_forward", "forwarded to", "переслано"),
    ("hist_email_new", "new email", "новое письмо"),
    ("hist_close", "conversation closed", "разговор закрыт"),
    ("hist_reopen", "conversation reopened", "разговор снова открыт"),
    ("hist_retry", "queued again", "снова поставлено в очередь"),
    ("hist_discard", "unsent message discarded", "неотправленное сообщение отменено"),
    ("hist_confirm_sent", "marked as arrived", "отмечено как дошедшее"),
    ("hist_accept", "accepted: due", "принято в работу: срок"),
    ("hist_done", "done", "выполнено"),
    ("hist_redate", "deadline moved to", "срок перенесён на"),
    ("hist_cancel", "promise cancelled", "обещание отменено"),
    ("hist_snooze", "snoozed until", "отложено до"),
    ("hist_unsnooze", "back from snooze", "снова в работе"),
    ("hist_follow_up", "reminder at", "напомнить"),
    ("hist_follow_up_off", "reminder removed", "напоминание снято"),
    ("hist_assign", "responsible", "ответственный"),
    ("hist_assign_default", "responsible for the client by default", "ответственный за клиента по умолчанию"),
    ("hist_note", "internal note", "внутренняя заметка"),
    ("hist_client_merge", "clients merged", "клиенты объединены"),
    ("hist_client_unmerge", "merge undone", "объединение клиентов отменено"),
    ("hist_client_hand_over", "client handed over to", "клиент передан"),
    ("hist_client_split", "a channel split off into a new client", "канал отделён в нового клиента"),
    ("hist_client_edit", "client card changed", "карточка клиента изменена"),
    ("hist_channel_removed", "channel removed", "канал удалён"),
    // What stands for a message without text (src/channels/placeholder.rs).
    ("ph_voice", "🎤 voice message", "🎤 голосовое сообщение"),
    ("ph_photo", "🖼 photo", "🖼 фото"),
    ("ph_video", "🎬 video", "🎬 видео"),
    ("ph_audio", "🎵 audio", "🎵 аудио"),
    ("ph_document", "document", "документ"),
    ("ph_sticker", "sticker", "стикер"),
    ("ph_unsupported", "unsupported message type", "сообщение неподдерживаемого типа:"),
    ("ph_kind_image", "image", "изображение"),
    ("ph_kind_audio", "audio", "аудио"),
    ("ph_kind_video", "video", "видео"),
    ("ph_kind_file", "file", "файл"),
    ("ph_type_order", "order", "заказ"),
    ("ph_type_system", "system", "системное"),
    ("ph_type_poll", "poll", "опрос"),
    ("ph_type_unknown", "unknown", "неизвестный"),
    ("ph_nested", "more forwarded mail nested deeper is not shown", "пересланные письма глубже не показаны"),
    ("ph_no_reason", "failed (WhatsApp gave no reason)", "не доставлено (WhatsApp не назвал причину)"),
    // WhatsApp's error codes, said so a person can act (src/channels/whatsapp/graph.rs).
    (
        "wa_190",
        "the access token expired or was revoked: make a new one",
        "токен доступа истёк или отозван: выпустите новый",
    ),
    (
        "wa_131047",
        "more than 24 hours since the client wrote: only an approved template can go",
        "клиент писал больше 24 часов назад: сейчас можно отправить только одобренный шаблон",
    ),
    (
        "wa_130429",
        "too many messages for this number right now: pult waits and retries",
        "слишком много сообщений с этого номера: pult подождёт и повторит",
    ),
    (
        "wa_131056",
        "too many messages to this client in a short time: pult waits and retries",
        "слишком много сообщений этому клиенту за короткое время: pult подождёт и повторит",
    ),
    (
        "wa_131026",
        "not delivered: the number may not use WhatsApp, or has an old app or blocked us",
        "не доставлено: возможно, у номера нет WhatsApp, приложение устарело или нас заблокировали",
    ),
    ("wa_131051", "WhatsApp does not support this message type", "WhatsApp не поддерживает такой тип сообщения"),
    ("wa_131052", "the media file could not be downloaded or uploaded", "файл не удалось скачать или загрузить"),
    ("wa_131000", "WhatsApp had an internal error: try again", "внутренняя ошибка WhatsApp: повторите попытку"),
    (
        "wa_132000",
        "the template does not exist in this language, or its parameters do not match",
        "шаблона нет на этом языке или его параметры не совпадают",
    ),
    (
        "wa_133010",
        "the phone number is not registered with the Cloud API",
        "номер не зарегистрирован в WhatsApp Cloud API",
    ),
    (
        "wa_368",
        "the number or account is temporarily blocked for policy violations",
        "номер или аккаунт временно заблокирован за нарушение правил WhatsApp",
    ),
    ("wa_unknown", "WhatsApp refused", "WhatsApp отказал: подробности в журнале"),
    // Errors by kind: what happened and what to do (src/trouble.rs).
    (
        "trouble_busy",
        "The store is busy with another pult: try again in a minute",
        "Хранилище занято другой программой pult: повторите через минуту",
    ),
    (
        "trouble_conflict",
        "Not saved: the data changed meanwhile (something was deleted or changed by a colleague): look again and repeat",
        "Не сохранилось: данные тем временем изменились (что-то удалено или изменено коллегой): обновите и повторите",
    ),
    (
        "trouble_disk_full",
        "The disk is full: free some space on the server and try again",
        "Диск заполнен: освободите место на сервере и повторите",
    ),
    (
        "trouble_io",
        "A file could not be read or written: check its permissions and the free space",
        "Не удалось прочитать или записать файл: проверьте права доступа и свободное место",
    ),
    (
        "trouble_network",
        "No connection to the server: pult tries again by itself; if it lasts, check the network",
        "Нет связи с сервером: pult повторит сам; если это надолго — проверьте сеть",
    ),
    (
        "trouble_timeout",
        "The server did not answer in time: pult tries again; if it lasts, check the network",
        "Сервер не ответил вовремя: pult повторит; если это надолго — проверьте сеть",
    ),
    (
        "trouble_auth",
        "The server refused the login: check the password or token in the config, then run pult doctor",
        "Сервер не принял вход: проверьте пароль или токен в конфигурации, затем запустите pult doctor",
    ),
    (
        "trouble_parse",
        "The server's answer could not be read: pult tries again; if it repeats, the details are in the log",
        "Ответ сервера не удалось прочитать: pult повторит; если это повторяется — подробности в журнале",
    ),
    (
        "trouble_secret",
        "The password or token could not be got: check the secret command in the config, then run pult doctor",
        "Не удалось получить пароль или токен: проверьте команду секрета в конфигурации, затем запустите pult doctor",
    ),
    (
        "trouble_recipient",
        "The mail server does not know this address: check it with the client",
        "Почтовый сервер не знает такого адреса: уточните адрес у клиента",
    ),
    ("trouble_other", "Something went wrong: the details are in the log", "Что-то пошло не так: подробности в журнале"),
    // The store's refusals (src/store/mod.rs, Refused).
    ("refused_not_address", "not an email address", "это не адрес электронной почты"),
    ("refused_too_late", "Too late to undo: the message is already", "Отменить уже нельзя: сообщение уже"),
    ("refused_cancelled", "cancelled", "отменено"),
    ("refused_gone", "gone", "не в очереди"),
    ("refused_no_recipient", "An email needs a recipient", "У письма должен быть получатель"),
    ("refused_empty_note", "The note is empty", "Заметка пустая"),
    (
        "store_postgres_not_yet",
        "this does not work on a PostgreSQL store yet (docs/store.md lists what does); it works on a SQLite store ([store] path)",
        "это пока не работает с хранилищем в PostgreSQL (что уже работает, перечислено в docs/store.md); с хранилищем SQLite ([store] path) работает",
    ),
    (
        "store_path_and_url",
        "[store] names both a file (path) and a PostgreSQL address (url): keep one",
        "в [store] указаны и файл (path), и адрес PostgreSQL (url): оставьте что-то одно",
    ),
    (
        "store_migrate_to",
        "--to: a PostgreSQL address is needed (postgres://USER@HOST:PORT/DB)",
        "--to: нужен адрес вида `postgres://USER@HOST:PORT/DB`",
    ),
    ("store_migrate_no_source", "--from {path}: no SQLite store there", "--from {path}: там нет хранилища SQLite"),
    (
        "store_pg_password_in_url",
        "{target}: a password in the address is refused; give it with password_command or password_file in [store]",
        "{target}: пароль в адресе не принимается; задайте его через password_command или password_file в [store]",
    ),
    (
        "store_pg_bad_url",
        "[store] url is not a PostgreSQL address (postgres://USER@HOST:PORT/DB, or postgres:///DB?host=/var/run/postgresql)",
        "[store] url — не адрес PostgreSQL (`postgres://USER@HOST:PORT/DB` или `postgres:///DB?host=/var/run/postgresql`)",
    ),
    (
        "store_pg_tls",
        "TLS to the PostgreSQL store cannot be set up: {why}",
        "шифрованное соединение с хранилищем PostgreSQL не настроить: {why}",
    ),
    ("store_pg_connect", "Cannot connect to {target}: {why}", "Не удаётся подключиться к {target}: {why}"),
    (
        "store_migrate_failed",
        "The store was not moved; the copy was rolled back whole: {why}",
        "Хранилище не перенесено, копирование отменено целиком: {why}",
    ),
    ("store_migrated", "Moved {from} into {to}:", "Хранилище {from} перенесено в {to}:"),
    (
        "store_migrated_nul",
        "{n} texts held a NUL character, which PostgreSQL cannot store: moved with ␀ in its place",
        "В текстах ({n}) был нулевой символ, который PostgreSQL не хранит: перенесены с ␀ на его месте",
    ),
    (
        "refused_target_not_empty",
        "{target} already holds a store; pult store migrate copies only into an empty one",
        "В {target} уже есть хранилище; `pult store migrate` переносит только в пустое",
    ),
    (
        "store_too_new",
        "The store was written by a newer pult (schema {found}, this one knows {known}): update pult",
        "Хранилище записано более новой версией pult (схема {found}, эта знает {known}): обновите pult",
    ),
    (
        "store_writer_gone",
        "Writing to the store has stopped: restart pult",
        "Запись в хранилище остановилась: перезапустите pult",
    ),
    (
        "store_earlier_failed",
        "Not stored, because an earlier batch of the same sync failed; the next sync fetches it again",
        "Не сохранено: не удалось сохранить предыдущую часть той же синхронизации; следующая синхронизация загрузит её снова",
    ),
    // The TUI's own errors in words.
    ("no_such_file", "no such file", "такого файла нет"),
    ("megabytes", "MB", "МБ"),
    ("kilobytes", "KB", "КБ"),
    ("bytes", "B", "Б"),
    (
        "deadline_empty",
        "type a deadline: «до конца дня», «завтра 12:00», «пт», «+3д», «25.03», \"tomorrow 18:00\"",
        "введите срок: «до конца дня», «завтра 12:00», «пт», «+3д», «25.03»",
    ),
    ("deadline_unknown", "cannot read «{0}» as a deadline", "не понимаю срок «{0}»: например, «завтра 12:00» или «пт»"),
    ("deadline_past", "{0} is already in the past", "{0} — уже в прошлом"),
    ("deadline_bad_date", "no such date: {0}", "такой даты нет: {0}"),
    ("editor_failed", "the external editor did not run", "внешний редактор не запустился"),
    (
        "editor_exited",
        "the editor exited with an error; the draft is as it was",
        "редактор завершился с ошибкой; черновик не изменился",
    ),
    ("open_promise_mark", "an open promise", "есть обещание"),
    ("tone_capitals", "CAPITALS", "ЗАГЛАВНЫЕ БУКВЫ"),
    ("header_to", "To", "Кому"),
    ("header_cc", "Cc", "Копия"),
    // Send errors kept with the message (channels, src/sync/dispatcher.rs).
    ("wa_no_answer", "no answer from the WhatsApp API", "WhatsApp не ответил: сообщение могло уйти"),
    ("tg_no_answer", "no answer from Telegram", "Telegram не ответил: сообщение могло уйти"),
    (
        "tg_unreadable",
        "Telegram's answer could not be read",
        "ответ Telegram не удалось прочитать: сообщение могло уйти",
    ),
    ("tg_blocked", "the client blocked the bot", "клиент заблокировал бота: сообщение не дойдёт"),
    ("tg_chat_not_found", "chat not found", "чат не найден: бот его не видит"),
    ("tg_kicked", "the bot was removed from the group", "бота удалили из группы: добавьте его снова"),
    ("tg_deactivated", "the client's account was deleted", "аккаунт клиента удалён"),
    (
        "tg_cant_initiate",
        "a bot cannot write first: the client must start the chat",
        "бот не может написать первым: клиент должен сначала написать боту",
    ),
    ("tg_refused", "Telegram refused the message", "Telegram не принял сообщение: подробности в журнале"),
    (
        "tg_migrated",
        "the group became a supergroup: answer in its new chat",
        "группа стала супергруппой: ответьте в её новом чате",
    ),
    (
        "send_stopped",
        "the send did not finish within {min} min and was stopped",
        "отправка не закончилась за {min} мин и была остановлена",
    ),
    ("parts_went", "{went} of {total} parts went; then: {why}", "ушло частей: {went} из {total}; затем: {why}"),
    ("file_gone", "attachment {path} is gone", "файла {path} больше нет"),
    ("refused_attachment_unreadable", "cannot attach {path}: {why}", "не удаётся приложить {path}: {why}"),
    ("why_no_such_file", "no such file", "такого файла нет"),
    ("why_no_permission", "no permission to read it", "нет прав на чтение"),
    ("why_not_a_file", "not a file", "это не файл"),
    ("why_unreadable", "it cannot be read", "файл не читается"),
    (
        "refused_attachment_too_big",
        "cannot attach {path}: larger than {mb} MB",
        "не удаётся приложить {path}: файл больше {mb} МБ",
    ),
    ("rate_limited", "rate limited", "слишком много сообщений: pult подождёт и повторит"),
    ("outcome_unrecorded", "cannot record the outcome", "не удалось записать результат отправки"),
    // Keymap contexts by name, as the help's title says them («composer», «thread» are above).
    ("global", "Everywhere", "Везде"),
    ("input", "Text input", "Ввод текста"),
    ("badge_mine", "me", "я"),
    ("no_template", "No such template", "Нет такого шаблона"),
    ("no_channel", "No such channel", "Нет такого канала"),
    // rutui end
    // --- branch sla (issue #33): response times ---
    (
        "config_calendar",
        "`calendar` must be one of the shipped calendars: {known}",
        "`calendar` должно быть одним из встроенных календарей: {known}",
    ),
    (
        "config_sla_duration",
        "`{name}` must be working time like 30m, 2h, 1h30m or 2d",
        "`{name}` должно быть рабочим временем вида 30m, 2h, 1h30m или 2d",
    ),
    ("config_sla_share", "`{name}` must be a share like 75%", "`{name}` должно быть долей вида 75%"),
    ("config_sla_calendar", "`calendar` must be team or client", "`calendar` может быть `team` или `client`"),
    ("config_sla_to", "`to` must be responsible or a person's name", "`to` — `responsible` или имя человека"),
    (
        "config_sla_kinds",
        "`kind` must be a list of channel kinds: email, telegram, whatsapp",
        "`kind` должно быть списком видов каналов: email, telegram, whatsapp",
    ),
    ("config_list_of_tables", "`{name}` must be a list of tables", "`{name}` должно быть списком таблиц"),
    (
        "config_same_id",
        "`id` is the same as the one on line {line}; each [[{name}]] needs its own",
        "`id` такой же, как в строке {line}; у каждой [[{name}]] должен быть свой",
    ),
    ("config_this_sla", "this [[sla]] table", "в этой таблице [[sla]]"),
    ("sla_no_store", "no store at", "нет хранилища:"),
    ("sla_no_policies", "no [[sla]] policies in the config", "в конфигурации нет политик [[sla]]"),
    ("sla_date_format", "use YYYY-MM-DD", "нужна дата ГГГГ-ММ-ДД"),
    ("sla_month_format", "use YYYY-MM, e.g. 2026-11", "нужен месяц ГГГГ-ММ, например 2026-11"),
    ("sla_recomputed", "Clocks that started since", "Часы, запущенные с"),
    ("sla_version", "now count under the current policies: version", "теперь считаются по текущим политикам: версия"),
    ("sla_report_for", "Response times,", "Время ответа,"),
    ("sla_total", "All conversations", "Все разговоры"),
    ("sla_by_client", "By client", "По клиентам"),
    ("sla_by_person", "By responsible person", "По ответственным"),
    ("sla_by_channel", "By channel", "По каналам"),
    ("sla_first_response", "first response", "первый ответ"),
    ("sla_next_response", "next response", "следующий ответ"),
    ("sla_keep_informed", "keep informed", "держать в курсе"),
    ("sla_promise", "promise", "обещание"),
    ("sla_median", "median", "медиана"),
    ("sla_within", "within target", "в срок"),
    ("sla_breaches", "breaches", "нарушений"),
    ("sla_promises", "promises", "обещаний"),
    ("sla_kept", "kept on time", "в срок"),
    ("sla_moved", "moved", "перенесено"),
    ("sla_paused", "paused", "на паузе"),
    ("sla_breached_in", "breached in", "нарушено в"),
    ("sla_moved_reasons", "Promises moved, with the reason told", "Перенесённые обещания и причины"),
    ("sla_flagged_pauses", "Paused while the client was waiting", "Пауза, когда клиент ждал ответа"),
    ("view_sla_at_risk", "Under threat", "Под угрозой"),
    ("view_breached", "Breached", "Нарушено"),
    ("sla_header", "{clock}: {used} of {target} working", "{clock}: {used} из {target} рабочих"),
    ("sla_state_at_risk", "at risk", "под угрозой"),
    ("sla_state_breached", "breached", "нарушено"),
    ("sla_paused_for", "paused, waiting for", "пауза, ждём"),
    ("sla_pause_why", "Pause the clocks: waiting for", "Пауза: ждём"),
    ("sla_reason_documents", "documents", "документы"),
    ("sla_reason_payment", "payment", "оплату"),
    ("sla_reason_signature", "a signature", "подпись"),
    ("sla_reason_answer", "an answer", "ответ"),
    ("sla_reason_other", "something else", "другое"),
    (
        "sla_window_whatsapp",
        "WhatsApp window closes in {left} — answer now, later only a template",
        "окно WhatsApp закроется через {left} — ответьте сейчас, потом только шаблон",
    ),
    (
        "sla_window_telegram",
        "Telegram Business window closes in {left} — answer now, later no reply can go",
        "окно Telegram Business закроется через {left} — ответьте сейчас, потом ответ не уйдёт",
    ),
    ("status_breached", "breached", "нарушено"),
    ("sla_no_responsible", "nobody is responsible", "ответственный не назначен"),
    (
        "sla_escalation",
        "{who}: {clock} {used} of {target} working — {at}% of the target (policy {policy})",
        "{who}: {clock} — {used} из {target} рабочих, {at} % срока (политика {policy})",
    ),
    // Branch `oauth` (#30): real mail providers, `pult auth`.
    (
        "doctor_email_ok",
        "IMAP {imap} ok ({caps}; login: {how}), SMTP {smtp} ok ({tls}, login accepted: {smtp_how}); folders: {folders}",
        "IMAP {imap} в порядке ({caps}; вход: {how}), SMTP {smtp} в порядке ({tls}, вход принят: {smtp_how}); папки: {folders}",
    ),
    ("doctor_preset", "preset", "шаблон"),
    (
        "doctor_preset_chose",
        "preset {preset}: IMAP {imap}, SMTP {smtp}, login {login}",
        "шаблон {preset}: IMAP {imap}, SMTP {smtp}, вход: {login}",
    ),
    ("doctor_pult_files_sent", "pult files sent mail in Sent", "pult кладёт отправленное в «Отправленные»"),
    ("doctor_server_files_sent", "the server files sent mail itself", "сервер сам сохраняет отправленное"),
    ("doctor_login_password", "password", "пароль"),
    ("doctor_login_token_command", "OAuth2 token command", "команда токена OAuth2"),
    ("doctor_login_flow", "OAuth2 (pult auth)", "OAuth2 (pult auth)"),
    (
        "doctor_cannot_resolve",
        "cannot resolve {host}: check the host name and the network",
        "не удаётся найти сервер {host}: проверьте имя сервера и сеть",
    ),
    (
        "doctor_token_until",
        "access token refreshed until {when} (if sign-in is revoked: pult auth {account})",
        "токен доступа действует до {when} (если вход отозван: pult auth {account})",
    ),
    (
        "doctor_no_idle",
        "no IDLE: new mail is looked for every {seconds} s",
        "нет IDLE: новая почта проверяется каждые {seconds} с",
    ),
    ("doctor_no_condstore", "no CONDSTORE: flags are read whole", "нет CONDSTORE: флаги читаются целиком"),
    ("doctor_no_sent", "no Sent folder found: set sent_folder", "папка отправленных не найдена: задайте sent_folder"),
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
    // export (#34)
    (
        "audit_chain_ok",
        "The audit chain is intact: {n} rows, each with the SHA-256 of the one before it.",
        "Цепочка журнала цела: строк — {n}, каждая хранит хэш `SHA-256` предыдущей.",
    ),
    (
        "audit_row_unhashed",
        "audit row {id} has no hash: it was written outside the chain",
        "строка журнала {id} без хэша: записана вне цепочки",
    ),
    (
        "audit_row_edited",
        "audit row {id} was changed: its content no longer gives its hash",
        "строка журнала {id} изменена: её содержимое не даёт её хэш",
    ),
    (
        "audit_row_unlinked",
        "audit row {id} does not follow the row before it: a row was removed or inserted",
        "строка журнала {id} не следует за предыдущей: строку удалили или вставили",
    ),
    ("export_title", "Correspondence with the client: evidence", "Переписка с клиентом: доказательства"),
    ("export_client", "Client", "Клиент"),
    ("export_inn", "INN", "ИНН"),
    ("export_range", "Period", "Период"),
    ("export_timeline", "Timeline across channels", "Хронология по всем каналам"),
    ("export_promises", "Promises", "Обещания"),
    ("export_delivery", "Delivery of our messages", "Доставка наших сообщений"),
    ("export_notes", "Internal notes", "Внутренние заметки"),
    ("export_hashes", "Hash appendix", "Приложение: хэши файлов"),
    ("export_col_time", "Time (UTC)", "Время (по Гринвичу)"),
    ("export_col_channel", "Channel", "Канал"),
    ("export_col_from", "From", "От кого"),
    ("export_col_text", "Text", "Текст"),
    ("export_col_told", "Promised", "Обещано"),
    ("export_col_deadline", "Deadline", "Срок"),
    ("export_col_moved", "Moved", "Перенесено"),
    ("export_col_done", "Done", "Выполнено"),
    ("export_col_on_time", "On time", "В срок"),
    ("export_col_state", "State", "Состояние"),
    ("export_col_file", "File", "Файл"),
    ("export_col_size", "Bytes", "Байт"),
    ("export_yes", "yes", "да"),
    ("export_late", "late", "с опозданием"),
    ("export_not_done", "not done", "не выполнено"),
    ("export_us", "us", "мы"),
    ("export_third_party", "third party {n}", "третье лицо {n}"),
    ("export_no_client", "there is no client #{id} (see pult clients)", "клиента №{id} нет (см. `pult clients`)"),
    (
        "export_out_not_empty",
        "{dir} is not empty: export into a new directory",
        "{dir} не пуст: выгружайте в новый каталог",
    ),
    (
        "export_needs",
        "pult export needs --client ID and --out DIR (or: pult export verify DIR)",
        "для выгрузки нужны `--client ID` и `--out DIR` (или: `pult export verify DIR`)",
    ),
    (
        "export_done",
        "Exported {files} files to {dir}; SHA-256 of manifest.json: {sha}",
        "Выгружено файлов: {files}, в {dir}; хэш manifest.json: {sha}",
    ),
    ("export_left_out", "Left out:", "Не вошло:"),
    ("export_sign_failed", "the sign command {command} failed", "команда подписи {command} не сработала"),
    ("export_no_manifest", "{dir}: no manifest.json to check", "{dir}: нет manifest.json для проверки"),
    ("export_bad_manifest", "manifest.json cannot be read: {why}", "manifest.json не читается: {why}"),
    ("export_verify_missing", "missing: {path}", "нет файла: {path}"),
    ("export_verify_differs", "changed: {path}", "изменён: {path}"),
    ("export_verify_extra", "not in the manifest: {path}", "лишний файл: {path}"),
    ("export_verify_unsafe", "a path that leaves the bundle: {path}", "путь ведёт за пределы выгрузки: {path}"),
    (
        "export_verify_chain",
        "audit chain broken at row {row}: {reason}",
        "цепочка журнала нарушена в строке {row}: {reason}",
    ),
    ("export_verify_signature", "the signature does not hold: {reason}", "подпись не подтверждена: {reason}"),
    ("export_verify_manifest", "manifest.json: {reason}", "manifest.json: {reason}"),
    (
        "export_verify_ok",
        "Every file ({files}) matches its SHA-256; audit rows in the chain: {rows}.",
        "Все файлы ({files}) совпадают со своими хэшами; строк журнала в цепочке: {rows}.",
    ),
    (
        "export_verify_dkim_body",
        "{path}: the text no longer matches the DKIM signature it arrived with (`bh=`)",
        "{path}: текст больше не совпадает с подписью DKIM, с которой письмо пришло (`bh=`)",
    ),
    (
        "export_verify_dkim_gone",
        "{path}: the DKIM signature it arrived with is gone",
        "{path}: подписи DKIM, с которой письмо пришло, больше нет",
    ),
    (
        "export_dkim_holds",
        "{path}: the DKIM signature of {domain} still holds",
        "{path}: подпись DKIM {domain} по-прежнему верна",
    ),
    (
        "export_dkim_key_changed",
        "{path}: the text matches its DKIM signature; {domain} publishes another key now (keys rotate: not a sign of a change)",
        "{path}: текст совпадает с подписью DKIM; {domain} публикует теперь другой ключ (ключи меняются — это не признак правки)",
    ),
    (
        "export_dkim_key_gone",
        "{path}: the text matches its DKIM signature; {domain} no longer publishes the key",
        "{path}: текст совпадает с подписью DKIM; {domain} больше не публикует ключ",
    ),
    (
        "export_dkim_unavailable",
        "{path}: the text matches its DKIM signature; the key of {domain} could not be asked for",
        "{path}: текст совпадает с подписью DKIM; ключ {domain} получить не удалось",
    ),
    ("export_verify_signed_ok", "The signature of manifest.json holds.", "Подпись manifest.json подтверждена."),
    (
        "export_verify_signed_unchecked",
        "manifest.json is signed, but [export] verify_command is not set: the signature was not checked.",
        "manifest.json подписан, но `[export] verify_command` не задан: подпись не проверена.",
    ),
    (
        "export_verify_failed",
        "The bundle does not verify; problems: {n}.",
        "Выгрузка не прошла проверку, проблем: {n}.",
    ),
    ("auth_waiting", "Waiting for the sign-in…", "Жду входа…"),
    ("auth_done", "Signed in; tokens kept in", "Вход выполнен; токены сохранены в"),
    (
        "auth_no_flow",
        "has no oauth2 = { provider, client_id } in the config",
        "не имеет `oauth2 = { provider, client_id }` в конфигурации",
    ),
];

// rutui
/// Every counted word the UI shows, by key: (English one/other, Russian
/// one/few/many), used through [`plural_of`]; a test says each for 0, 1, 2,
/// 5, 11, 21, 22 and 111.
pub const PLURALS: &[(&str, [&str; 2], [&str; 3])] = &[
    ("messages", ["message", "messages"], ["сообщение", "сообщения", "сообщений"]),
    ("conversations", ["conversation", "conversations"], ["разговор", "разговора", "разговоров"]),
    (
        "drafts_kept",
        ["draft kept", "drafts kept"],
        ["черновик сохранён", "черновика сохранены", "черновиков сохранено"],
    ),
    (
        "kept_open",
        ["conversation left open", "conversations left open"],
        ["разговор оставлен открытым", "разговора оставлены открытыми", "разговоров оставлены открытыми"],
    ),
    // «more than 24 hours ago»: after «больше» Russian counts in the genitive.
    ("more_than_hours", ["hour", "hours"], ["часа", "часов", "часов"]),
    ("updates", ["update", "updates"], ["обновление", "обновления", "обновлений"]),
    ("working_minutes", ["working minute", "working minutes"], ["рабочая минута", "рабочие минуты", "рабочих минут"]),
    ("days", ["day", "days"], ["день", "дня", "дней"]),
    (
        "open_conversations",
        ["open conversation", "open conversations"],
        ["открытый разговор", "открытых разговора", "открытых разговоров"],
    ),
];

/// `n` with its word from [`PLURALS`] in the right form («2 черновика
/// сохранены»); a key not in the table gives `n key`, which the tests catch.
pub fn plural_of(lang: Lang, n: i64, key: &str) -> String {
    match PLURALS.iter().find(|(k, _, _)| *k == key) {
        Some((_, en, ru)) => plural(lang, n, *en, *ru),
        None => format!("{n} {key}"),
    }
}

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

    /// Every key the code looks up (`tr("…")`, `t!("…")`) is in the catalogue:
    /// a missing one would show the key itself to a person.
    #[test]
    fn every_key_in_the_code_is_in_the_catalogue() {
        let known: std::collections::HashSet<&str> = CATALOGUE.iter().map(|(k, _, _)| *k).collect();
        let mut missing = Vec::new();
        let mut dirs = vec![std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("src").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for opener in ["tr(\"", "t!(\""] {
                    for (at, _) in text.match_indices(opener) {
                        let rest = &text[at + opener.len()..];
                        let key = rest.split('"').next().unwrap_or("");
                        let plain = !key.is_empty()
                            && key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
                        if plain && !known.contains(key) && key != "config probe" {
                            missing.push(format!("{}: {key}", path.display()));
                        }
                    }
                }
            }
        }
        assert!(missing.is_empty(), "keys without a text: {missing:?}");
    }

    #[test]
    fn english_leaks_are_found_and_legitimate_latin_passes() {
        for english in [
            "Перечитайте: CAPITALS — Alt+Enter",
            "store: FOREIGN KEY constraint failed",
            "anna task.accept срок",
            "сохранено drafts_kept",
            "this conversation has no open promise",
            "🎤 voice message 0:12",
            "[sticker]",
            "запустите pult doctor office now",
        ] {
            assert!(english_leak(english).is_some(), "{english}");
        }
        for russian in [
            "Alt+Enter или Ctrl+X — отправить · Esc — закрыть",
            "📎 акт.pdf (120 КБ) · IMG_2041.jpg · ivan@client.test · https://example.com/x",
            "Telegram для бизнеса → Чат-боты · WhatsApp · PDF · OK",
            "слова в любой форме  \"фраза\"  -без  from: is:unanswered after:7d in:notes",
            "для канала не задан player_command · j/k · g u · 10 с · запустите pult doctor",
            "нет заголовка Date: — тот же Message-ID",
            "⚠ нужен вход: pult auth office-2",
        ] {
            assert_eq!(english_leak(russian), None, "{russian}");
        }
    }

    #[test]
    fn every_russian_text_reads_as_russian() {
        let leaks: Vec<(&str, String)> =
            CATALOGUE.iter().filter_map(|(k, _, ru)| english_leak(ru).map(|w| (*k, w))).collect();
        assert!(leaks.is_empty(), "English in Russian texts: {leaks:?}");
        for (k, _, ru) in PLURALS {
            assert!(ru.iter().all(|w| english_leak(w).is_none()), "{k}");
        }
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
    fn every_counted_word_agrees_with_its_number() {
        let want: &[(&str, [&str; 8])] = &[
            (
                "messages",
                [
                    "0 сообщений",
                    "1 сообщение",
                    "2 сообщения",
                    "5 сообщений",
                    "11 сообщений",
                    "21 сообщение",
                    "22 сообщения",
                    "111 сообщений",
                ],
            ),
            (
                "conversations",
                [
                    "0 разговоров",
                    "1 разговор",
                    "2 разговора",
                    "5 разговоров",
                    "11 разговоров",
                    "21 разговор",
                    "22 разговора",
                    "111 разговоров",
                ],
            ),
            (
                "drafts_kept",
                [
                    "0 черновиков сохранено",
                    "1 черновик сохранён",
                    "2 черновика сохранены",
                    "5 черновиков сохранено",
                    "11 черновиков сохранено",
                    "21 черновик сохранён",
                    "22 черновика сохранены",
                    "111 черновиков сохранено",
                ],
            ),
            (
                "kept_open",
                [
                    "0 разговоров оставлены открытыми",
                    "1 разговор оставлен открытым",
                    "2 разговора оставлены открытыми",
                    "5 разговоров оставлены открытыми",
                    "11 разговоров оставлены открытыми",
                    "21 разговор оставлен открытым",
                    "22 разговора оставлены открытыми",
                    "111 разговоров оставлены открытыми",
                ],
            ),
            (
                "more_than_hours",
                ["0 часов", "1 часа", "2 часов", "5 часов", "11 часов", "21 часа", "22 часов", "111 часов"],
            ),
            (
                "updates",
                [
                    "0 обновлений",
                    "1 обновление",
                    "2 обновления",
                    "5 обновлений",
                    "11 обновлений",
                    "21 обновление",
                    "22 обновления",
                    "111 обновлений",
                ],
            ),
            (
                "working_minutes",
                [
                    "0 рабочих минут",
                    "1 рабочая минута",
                    "2 рабочие минуты",
                    "5 рабочих минут",
                    "11 рабочих минут",
                    "21 рабочая минута",
                    "22 рабочие минуты",
                    "111 рабочих минут",
                ],
            ),
            ("days", ["0 дней", "1 день", "2 дня", "5 дней", "11 дней", "21 день", "22 дня", "111 дней"]),
            (
                "open_conversations",
                [
                    "0 открытых разговоров",
                    "1 открытый разговор",
                    "2 открытых разговора",
                    "5 открытых разговоров",
                    "11 открытых разговоров",
                    "21 открытый разговор",
                    "22 открытых разговора",
                    "111 открытых разговоров",
                ],
            ),
        ];
        assert_eq!(want.len(), PLURALS.len(), "every counted word is checked");
        for (key, forms) in want {
            for (n, form) in [0, 1, 2, 5, 11, 21, 22, 111].into_iter().zip(forms) {
                assert_eq!(plural_of(Lang::Ru, n, key), *form);
            }
            let (_, en, _) = PLURALS.iter().find(|(k, _, _)| k == key).expect("in the table");
            assert_eq!(plural_of(Lang::En, 1, key), format!("1 {}", en[0]));
            for n in [0, 2, 5, 11, 21, 22, 111] {
                assert_eq!(plural_of(Lang::En, n, key), format!("{n} {}", en[1]));
            }
        }
    }

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
