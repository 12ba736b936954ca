//! The whole app driven by key strings on a TestBackend, as a person would use it.

mod common;

use common::*;
use pult::model::{ChannelKind, View};
use pult::tui::reads::ReadKind;
use pult::tui::state::{Focus, Popup};

#[test]
fn opens_on_all_open_with_channels_badges_and_counts() {
    let mut h = Harness::demo(160, 45);
    let screen = h.screen();
    assert!(screen.contains("All open"), "{screen}");
    assert!(screen.contains("Unanswered"), "{screen}");
    for badge in ["@  office mail", "TG office-bot", "WA whatsapp"] {
        assert!(screen.contains(badge), "missing {badge}\n{screen}");
    }
    assert!(screen.contains("overdue"), "status line counts promises\n{screen}");
    assert!(h.app.state.list.total >= 20, "about 30 clients' conversations are open");
    // The thread pane previews the selected conversation in the wide layout.
    let first = h.app.state.list.rows[0].id;
    assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(first));
}

#[test]
fn j_k_and_chords_move_the_selection() {
    let mut h = Harness::demo(160, 45);
    let ids: Vec<i64> = h.app.state.list.rows.iter().map(|c| c.id).collect();
    h.keys("j j");
    assert_eq!(h.app.state.list.cursor, 2);
    assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(ids[2]));
    h.keys("k");
    assert_eq!(h.app.state.list.cursor, 1);
    h.keys("G");
    assert_eq!(h.app.state.list.cursor, ids.len() - 1);
    h.keys("g g");
    assert_eq!(h.app.state.list.cursor, 0);
    // An abandoned chord: `g` then `j` still moves down.
    h.keys("g j");
    assert_eq!(h.app.state.list.cursor, 1);
}

#[test]
fn unanswered_view_lists_oldest_waiting_first() {
    let mut h = Harness::demo(160, 45);
    h.keys("g u");
    assert_eq!(h.app.state.view, View::Unanswered);
    let waits: Vec<i64> = h.app.state.list.rows.iter().map(|c| c.waiting_since.expect("waiting")).collect();
    assert!(!waits.is_empty());
    assert!(waits.windows(2).all(|w| w[0] <= w[1]), "oldest first: {waits:?}");
    let screen = h.screen();
    assert!(screen.contains("⏳"), "waiting time shown\n{screen}");
}

#[test]
fn reply_with_the_accept_template_reaches_the_outbox_and_shows_pending() {
    let mut h = Harness::demo(160, 45);
    h.keys("g u <Enter>");
    assert_eq!(h.app.state.focus, Focus::Thread);
    let conv = h.app.state.thread.as_ref().expect("thread").conversation.id;
    h.keys("t");
    assert!(matches!(h.app.state.popup, Some(Popup::Templates { .. })), "t opens the picker");
    let picker = h.screen();
    assert!(picker.contains("Принято в работу") && picker.contains("Выполнено"), "{picker}");
    h.type_text("прин").keys("<Enter>");
    // The accept template asks for its deadline, with a live preview.
    assert!(matches!(h.app.state.popup, Some(Popup::Fields(_))), "deadline prompt");
    h.type_text("завтра 12:00");
    let prompt = h.screen();
    assert!(prompt.contains("Deadline: завтра 12:00") && prompt.contains("→ сб 21.11 12:00"), "{prompt}");
    h.keys("<Enter>");
    assert_eq!(h.app.state.focus, Focus::Composer);
    let text = h.app.state.composer.as_ref().expect("composer").textarea.lines().join("\n");
    assert!(text.contains("Принято в работу. Срок — сб 21.11 12:00."), "{text}");
    h.keys("<C-x>");
    assert!(h.app.state.composer.is_none(), "sent composers close");
    let conn = rusqlite::Connection::open(&h.store.path).expect("open");
    let (body, state, not_before): (String, String, i64) = conn
        .query_row("SELECT body, state, not_before FROM outbox WHERE conversation_id = ?1", [conv], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("outbox row");
    assert!(body.contains("Принято в работу"));
    assert_eq!(state, "pending");
    assert_eq!(not_before, NOW + 10, "waits out the undo window");
    let screen = h.screen();
    assert!(screen.contains("◷ pending"), "{screen}");
    assert!(screen.contains("Sending in 10 s"), "{screen}");
    // The deadline the client reads is a promise pult tracks: exactly one, no question asked.
    let promises: Vec<(String, i64)> = conn
        .prepare("SELECT state, deadline FROM tasks WHERE conversation_id = ?1 AND state = 'accepted'")
        .expect("prepare")
        .query_map([conv], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(promises.len(), 1, "{promises:?}");
    assert!(screen.contains("⚑ due") && screen.contains("not yet told to the client"), "{screen}");
}

#[test]
fn email_replies_get_one_re_prefix_and_a_draft_survives_escape() {
    let mut h = Harness::demo(160, 45);
    let mail = h.app.state.channels.iter().position(|c| c.kind == ChannelKind::Email).expect("mail channel");
    for _ in 0..(mail + View::SMART.len()) {
        h.keys("J");
    }
    assert!(matches!(h.app.state.view, View::Channel(_)));
    h.keys("<Enter> r");
    let subject = h.app.state.composer.as_ref().expect("composer").subject.clone().expect("email subject");
    assert!(subject.starts_with("Re: ") && !subject.starts_with("Re: Re:"), "{subject}");
    h.type_text("Черновик ответа");
    h.keys("<Esc>");
    assert!(h.app.state.composer.is_none());
    h.keys("r");
    let text = h.app.state.composer.as_ref().expect("composer").textarea.lines().join("\n");
    assert_eq!(text, "Черновик ответа");
}

#[test]
fn help_is_generated_from_the_keymap_for_the_current_pane() {
    let mut h = Harness::demo(160, 45);
    h.keys("?");
    let screen = h.screen();
    assert!(screen.contains("Help — Conversations"), "{screen}");
    assert!(screen.contains("Open the thread"), "{screen}");
    assert!(screen.contains("<C-d>"), "{screen}");
    h.keys("<Esc> <Enter> ?");
    let screen = h.screen();
    assert!(screen.contains("Help — Thread"), "{screen}");
    assert!(screen.contains("Scroll down"), "{screen}");
}

#[test]
fn search_from_the_slash_prompt_opens_the_hit() {
    let mut h = Harness::demo(160, 45);
    h.keys("/").type_text("\"акт сверки\"").keys("<Enter>");
    let results = h.app.state.search.as_ref().expect("results");
    assert!(!results.hits.is_empty());
    let conv = results.hits[0].conversation;
    let screen = h.screen();
    assert!(screen.contains("Search results"), "{screen}");
    h.keys("<Enter>");
    assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(conv));
    h.keys("<Esc> <Esc>");
    assert!(h.app.state.search.is_none(), "Esc leaves the results");
}

/// Cells of the screen that carry `modifier`, as text, row by row.
fn marked_text(h: &mut Harness, modifier: ratatui::style::Modifier) -> String {
    h.screen();
    let buf = h.terminal.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let cell = &buf[(x, y)];
            if cell.modifier.contains(modifier) {
                out.push_str(cell.symbol());
            }
        }
        out.push('\n');
    }
    out
}

#[test]
fn search_finds_word_forms_marks_them_and_n_steps_through_a_thread() {
    let mut h = Harness::demo(160, 45);
    // «счета» finds «счёт», «счёта» in the demo's mail and chats.
    h.keys("/").type_text("счета").keys("<Enter>");
    let results = h.app.state.search.as_ref().expect("results");
    assert!(results.hits.len() >= 3, "{:?}", results.hits);
    let marked = marked_text(&mut h, ratatui::style::Modifier::UNDERLINED);
    assert!(marked.to_lowercase().contains("счёт"), "the matched words are marked in the results:\n{marked}");
    // Open the thread of a hit: its words are marked there too, and n says where it is.
    h.keys("<Enter>");
    let t = h.app.state.thread.as_ref().expect("thread");
    assert!(!t.terms.is_empty());
    assert!(t.jump_to.is_some(), "the hit's message is shown first");
    let marked = marked_text(&mut h, ratatui::style::Modifier::UNDERLINED);
    assert!(marked.to_lowercase().contains("сч"), "marked in the thread:\n{marked}");
    h.keys("<Tab>");
    h.keys("n");
    let screen = h.screen();
    assert!(screen.contains("Match 1/") || screen.contains("Match 2/"), "{screen}");
    // j after a jump scrolls from where the screen is, not from the bottom.
    let shown = h.app.state.thread.as_ref().map(|t| t.shown_scroll.get()).expect("thread");
    h.keys("k");
    let t = h.app.state.thread.as_ref().expect("thread");
    assert_eq!((t.jump_to, t.scroll), (None, shown + 1));
}

#[test]
fn a_broken_search_says_why_and_keeps_the_screen() {
    let mut h = Harness::demo(120, 30);
    h.keys("/").type_text("from:").keys("<Enter>");
    assert!(h.app.state.search.is_none());
    let screen = h.screen();
    assert!(screen.contains("needs a value"), "{screen}");
}

#[test]
fn hostile_bytes_never_reach_the_terminal() {
    let mut h = Harness::demo(160, 45);
    h.keys("/").type_text("escape sequences").keys("<Enter> <Enter>");
    let screen = h.screen();
    assert!(screen.contains("Billing"), "{screen}");
    // The body line that carries the tag characters is on screen, without them.
    assert!(screen.contains("hidden sentence. pult shows it"), "{screen}");
    let raw = h.raw_symbols();
    for bad in ['\x1b', '\x07', '\u{9b}', '\u{202E}', '\u{2066}', '\u{200B}', '\u{2028}', '\u{3164}', '\u{E0070}'] {
        assert!(!raw.contains(bad), "{:?} reached the terminal", bad);
    }
    assert!(!raw.contains("52;c;"), "the OSC 52 payload is gone too");
}

#[test]
fn narrow_terminal_shows_the_thread_in_place_of_the_list() {
    let mut h = Harness::demo(80, 24);
    let screen = h.screen();
    assert!(screen.contains("All open"), "{screen}");
    assert!(!screen.contains("No conversation selected"), "no thread pane at 80 columns\n{screen}");
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(!screen.contains("Channels"), "thread takes the whole width\n{screen}");
    h.keys("q");
    assert_eq!(h.app.state.focus, Focus::Conversations, "q goes back from a thread");
    assert!(!h.app.state.quit);
    // Resizing wider brings the three panes back.
    h.resize(150, 40);
    h.terminal.backend_mut().resize(150, 40);
    let screen = h.screen();
    assert!(screen.contains("Channels") && screen.contains("All open"), "{screen}");
}

#[test]
fn opening_a_thread_marks_it_read() {
    let mut h = Harness::demo(160, 45);
    let unread = h.app.state.list.rows.iter().position(|c| c.unread).expect("an unread conversation");
    for _ in 0..unread {
        h.keys("j");
    }
    h.keys("<Enter>");
    assert!(!h.app.state.list.rows[unread].unread, "read after opening");
}

#[test]
fn command_line_runs_commands_and_reports_unknown_ones() {
    let mut h = Harness::demo(160, 45);
    h.keys(":").type_text("unanswered").keys("<Enter>");
    assert_eq!(h.app.state.view, View::Unanswered);
    h.keys(":").type_text("frobnicate").keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("Unknown command: frobnicate"), "{screen}");
    h.keys(":").type_text("q").keys("<Enter>");
    assert!(h.app.state.quit);
}

#[test]
fn another_process_reply_appears_without_a_key_press() {
    let mut h = Harness::demo(160, 45);
    let conv = h.app.state.list.rows[0].id;
    let mut watcher = pult::store::watch::Watcher::open(&h.store.path).expect("watcher");
    // A second writer on the same file, like a teammate's pult.
    let other = pult::store::Writer::spawn(&h.store.path).expect("writer");
    let reply = pult::store::intents::Reply {
        conversation_id: conv,
        reply_to_message_id: None,
        subject: None,
        body: "Ответ коллеги из другого окна".into(),
        actor: "boris".into(),
        not_before: NOW,
        auto: false,
        attachments: Vec::new(),
    };
    other.call_blocking(move |c| pult::store::intents::queue_reply(c, &reply, NOW)).expect("queue");
    let changes = watcher.poll().expect("poll");
    assert!(changes.iter().any(|c| c.conversation_id == Some(conv)));
    h.store_changed(&changes);
    let screen = h.screen();
    assert!(screen.contains("Ответ коллеги из другого окна"), "{screen}");
}

#[test]
fn a_change_reloads_only_what_it_touched() {
    use pult::model::{Change, ChangeKind};
    let mut h = Harness::demo(160, 45);
    h.keys("g o");
    let ch = h.app.state.channels.iter().find(|c| c.kind == ChannelKind::Telegram).expect("telegram").id;
    let report = ingest(&h.store, ch, vec![msg("fresh-1", "fresh-chat", "Новый клиент", NOW, "Здравствуйте")]);
    let listed = |h: &Harness| h.app.state.list.rows.iter().any(|c| c.title == "fresh-chat");
    let change = |kind, conversation_id| Change { seq: 1, kind, conversation_id, actor: None };
    // A worker saying how it is touches the sidebar only.
    h.store_changed(&[change(ChangeKind::Channel, None)]);
    assert!(!listed(&h), "the list was not read again for a channel status");
    // Our own read mark is already on screen.
    let ours = Change {
        actor: Some(h.app.state.actor.clone()),
        ..change(ChangeKind::Read, report.conversations.first().copied())
    };
    h.store_changed(&[ours]);
    assert!(!listed(&h));
    h.store_changed(&[change(ChangeKind::Messages, report.conversations.first().copied())]);
    assert!(listed(&h), "new messages are");
}

#[test]
fn a_long_list_is_paged_through_a_window() {
    let store = temp_store();
    let ch = channel(&store, "bot", ChannelKind::Telegram);
    let batch: Vec<_> =
        (0..700).map(|i| msg(&format!("m{i}"), &format!("chat-{i:04}"), "X", NOW - i * 60, "hi")).collect();
    ingest(&store, ch, batch);
    let mut h = Harness::on(store, 160, 45);
    assert!(h.app.state.list.rows.len() <= pult::tui::state::WINDOW, "never the whole table");
    let mut seen = std::collections::HashSet::new();
    for _ in 0..699 {
        seen.insert(h.app.state.list.selected().expect("row").id);
        h.keys("j");
        assert!(h.app.state.list.rows.len() <= pult::tui::state::WINDOW);
    }
    seen.insert(h.app.state.list.selected().expect("row").id);
    assert_eq!(seen.len(), 700, "every conversation reachable with j");
    assert_eq!(h.app.state.list.selected().expect("row").title, "chat-0699");
    for _ in 0..699 {
        h.keys("k");
    }
    assert_eq!(h.app.state.list.selected().expect("row").title, "chat-0000");
    h.keys("G");
    assert_eq!(h.app.state.list.selected().expect("row").title, "chat-0699");
}

#[test]
fn bad_user_keymap_is_reported_in_the_status_line() {
    let (km, errors) = pult::tui::keymap::Keymap::load(Some("[thread]\nkeys = [{ on = [\"j\"], run = \"explode\" }]"));
    assert_eq!(errors.len(), 1);
    let store = temp_store();
    let clock = pult::clock::Clock::fixed(NOW, moscow());
    let mut state = pult::tui::state::AppState::new(
        pult::i18n::Lang::En,
        "a".into(),
        clock,
        km,
        pult::workflow::templates::Templates::shipped(),
    );
    state.error(errors[0].clone());
    let app = pult::tui::app::App::new(state, pult::tui::theme::Theme::dark(), &store.path, store.writer.clone())
        .expect("app");
    let mut h = Harness {
        store,
        app,
        terminal: ratatui::Terminal::new(ratatui::backend::TestBackend::new(120, 30)).expect("t"),
    };
    h.resize(120, 30);
    let screen = h.screen();
    assert!(screen.contains("unknown action \"explode\""), "{screen}");
}

/// Waiting times, overdue marks and the undo countdown speak Russian in the
/// Russian UI: no "9h 00m", "1d 9h" or "10 s" on its screens.
#[test]
fn russian_screens_carry_no_english_units() {
    let mut h = Harness::demo_ru(80, 24);
    h.app.state.undo_seconds = 10;
    // An ASCII unit right after a number: 5m, 9h, 1d, 10 s.
    let english_unit = |screen: &str| {
        let chars: Vec<char> = screen.chars().collect();
        chars.windows(3).any(|w| {
            w[0].is_ascii_digit()
                && ((matches!(w[1], 'h' | 'm' | 'd') && !w[2].is_alphanumeric()) || (w[1] == ' ' && w[2] == 's'))
        })
    };
    let mut seen_units = false;
    for keys in ["g u", "g x", "g o", "g u <Enter>"] {
        h.keys(keys);
        let screen = h.screen();
        assert!(!english_unit(&screen), "after {keys}: {screen}");
        seen_units |= screen.contains(" ч ") || screen.contains(" мин") || screen.contains(" д ");
    }
    assert!(seen_units, "waiting times are shown at all");
    // The undo countdown of a sent reply.
    h.keys("r").type_text("Принято").keys("<C-x>");
    let status = h.app.state.status.clone().map(|s| s.text).unwrap_or_default();
    assert!(status.contains("10 с") && !status.contains("10 s"), "{status}");
}

#[test]
fn russian_ui_from_the_same_catalogue() {
    let mut h = Harness::demo_ru(160, 45);
    let screen = h.screen();
    assert!(screen.contains("Все открытые") && screen.contains("Без ответа"), "{screen}");
    h.keys("?");
    assert!(h.screen().contains("Открыть переписку"));
}

/// The client's first mail: «Акт сверки», with акт.pdf.
fn client_mail_with_file() -> pult::model::Inbound {
    let mut first = msg("<a@client.test>", "<a@client.test>", "Ирина", NOW - 3600, "Акт во вложении.");
    first.subject = Some("Акт сверки".into());
    first.attachments = vec![pult::model::InboundAttachment {
        name: "акт.pdf".into(),
        mime: "application/pdf".into(),
        size: 120_000,
        remote_ref: Some("part:0".into()),
        duration: None,
    }];
    first
}

/// An email thread of two client mails; the older one carries a file.
fn email_thread() -> (TempStore, i64, i64) {
    let store = temp_store();
    let ch = channel(&store, "office", ChannelKind::Email);
    let first = client_mail_with_file();
    let mut second = msg("<b@client.test>", "<a@client.test>", "Ирина", NOW - 600, "И ещё вопрос.");
    second.subject = Some("Re: Акт сверки".into());
    second.reply_to_remote = Some("<a@client.test>".into());
    ingest(&store, ch, vec![first, second]);
    let db = rusqlite::Connection::open(&store.path).expect("open");
    let id = |r: &str| db.query_row("SELECT id FROM messages WHERE remote_id = ?1", [r], |row| row.get(0)).expect(r);
    let (a, b) = (id("<a@client.test>"), id("<b@client.test>"));
    (store, a, b)
}

#[test]
fn forward_one_mail_and_write_a_new_one_from_the_keyboard() {
    let (store, with_file, _) = email_thread();
    let path = store.path.clone();
    let mut h = Harness::on(store, 160, 45);
    h.keys("<Enter> f");
    let Some(Popup::Pick { items, .. }) = &h.app.state.popup else { panic!("a list of mails to forward") };
    assert_eq!(items.len(), 2, "newest first: {items:?}");
    assert!(h.screen().contains("Forward which message?"));
    h.keys("j <Enter>");
    h.type_text("not-an-address");
    h.keys("<Enter>");
    assert!(h.app.state.status.as_ref().is_some_and(|s| s.error && s.text.contains("not an email address")));
    assert!(matches!(h.app.state.popup, Some(Popup::Fields(_))), "the prompt stays open");
    h.keys("<C-u>");
    h.type_text("bob@office.test");
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("Forward to → bob@office.test ⤷ 📎1: Fwd: Акт сверки"), "{screen}");
    h.type_text("Боб, посмотри акт.");
    h.keys("<C-x>");
    let db = rusqlite::Connection::open(&path).expect("open");
    let (to, forward_of, subject): (String, i64, String) = db
        .query_row("SELECT to_addresses, forward_of, subject FROM outbox", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .expect("queued");
    assert_eq!((to.as_str(), forward_of, subject.as_str()), ("[\"bob@office.test\"]", with_file, "Fwd: Акт сверки"));
    let waiting: Option<i64> = db
        .query_row("SELECT waiting_since FROM conversations WHERE remote_key = '<a@client.test>'", [], |r| r.get(0))
        .expect("conversation");
    assert_eq!(waiting, Some(NOW - 3600), "a forward is not an answer: the client still waits");

    // A new mail: recipients, then a subject that cannot be left empty (`:compose` is `c`).
    h.keys(":").type_text("compose").keys("<Enter>");
    h.type_text("carol@client.test");
    h.keys("<Enter> <Enter>");
    assert!(h.app.state.status.as_ref().is_some_and(|s| s.error && s.text == "An email needs a subject"));
    h.type_text("Новый вопрос");
    h.keys("<Enter>");
    assert!(h.screen().contains("New email to → carol@client.test: Новый вопрос"));
    h.type_text("Добрый день!");
    h.keys("<C-x>");
    let (title, to, key): (String, String, String) = db
        .query_row(
            "SELECT c.title, o.to_addresses, o.rfc_message_id FROM outbox o JOIN conversations c ON c.id = o.conversation_id
             WHERE o.forward_of IS NULL",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("new mail queued");
    assert_eq!((title.as_str(), to.as_str()), ("Новый вопрос", "[\"carol@client.test\"]"));
    let conv_key: String =
        db.query_row("SELECT remote_key FROM conversations WHERE title = 'Новый вопрос'", [], |r| r.get(0)).expect("c");
    assert_eq!(key, conv_key, "the thread is keyed by the mail's own Message-ID");
}

/// `f` `Enter` forwards the client's newest mail with its file, not our own
/// reply below it; the recipient may be typed as «Name <address>».
#[test]
fn f_enter_forwards_the_clients_mail_to_a_named_address() {
    let store = temp_store();
    let path = store.path.clone();
    let ch = channel(&store, "office", ChannelKind::Email);
    let first = client_mail_with_file();
    let mut ours = msg("<c@office.test>", "<a@client.test>", "Анна", NOW - 300, "Акт получили, спасибо.");
    ours.outgoing = true;
    ours.subject = Some("Re: Акт сверки".into());
    ours.reply_to_remote = Some("<a@client.test>".into());
    ingest(&store, ch, vec![first, ours]);
    let with_file: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT id FROM messages WHERE remote_id = '<a@client.test>'", [], |r| r.get(0))
        .expect("id");
    let mut h = Harness::on(store, 160, 45);
    h.keys("<Enter> f");
    let Some(Popup::Pick { items, selected, .. }) = &h.app.state.popup else { panic!("a list of mails to forward") };
    assert!(items[0].label.contains("Анна"), "newest first: {items:?}");
    assert_eq!(items[*selected].message, with_file, "starts on the client's mail: {items:?}");
    h.keys("<Enter>");
    h.type_text("Кира Белова <Carol@Client.test>");
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("Forward to → Кира Белова <carol@client.test> ⤷ 📎1"), "{screen}");
    h.keys("<C-x>");
    let status = h.app.state.status.clone();
    let (to, forward_of): (String, i64) = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT to_addresses, forward_of FROM outbox", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap_or_else(|e| panic!("{e}: {status:?}\n{}", h.screen()));
    assert_eq!((to.as_str(), forward_of), ("[\"carol@client.test\"]", with_file));
}

/// A new mail to «Name <address>» with a file attached in the composer: the
/// file goes, the name names the new client, and no store error shows (the
/// clock's tick claimed conversation 0 and showed «store: FOREIGN KEY …»).
#[test]
fn a_new_mail_to_a_named_address_takes_an_attachment() {
    let (store, _, _) = email_thread();
    let (path, writer) = (store.path.clone(), store.writer.clone());
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("счёт.pdf");
    std::fs::write(&file, "%PDF-1.4").expect("file");
    // From the list, from a thread, and at 80 columns where no thread shows beside the list.
    for (start, width) in [("", 160), ("<Enter> ", 160), ("", 80)] {
        let mut h = Harness::on(shared(&path, &writer), width, 45);
        h.keys(&format!("{start}c"));
        h.type_text("Кира Белова <carol@client.test>, bob@office.test");
        h.keys("<Enter>");
        h.type_text("Счёт");
        h.keys("<Enter>");
        h.type_text("Счёт во вложении.");
        // The clock ticks while the path is typed.
        h.keys("<C-o>");
        h.tick();
        h.type_text(file.to_str().expect("utf-8"));
        h.tick();
        h.keys("<Enter>");
        let status = h.app.state.status.clone();
        assert!(status.as_ref().is_none_or(|s| !s.error), "{start:?} {width}: {status:?}");
        let screen = h.screen();
        assert!(!screen.contains("store:") && !screen.contains("FOREIGN KEY"), "{screen}");
        assert!(screen.contains("New email to → Кира Белова <carol@client.test>, bob@office.test"), "{screen}");
        h.keys("<C-x>");
        let status = h.app.state.status.clone();
        assert!(status.as_ref().is_none_or(|s| !s.error), "{status:?}");
    }
    let db = rusqlite::Connection::open(&path).expect("open");
    let rows: Vec<(String, String, String)> = db
        .prepare(
            "SELECT o.to_addresses, o.attachments, ct.name FROM outbox o
             JOIN conversations c ON c.id = o.conversation_id JOIN contacts ct ON ct.id = c.contact_id
             ORDER BY o.id",
        )
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
    for (to, files, client) in rows {
        assert_eq!(to, "[\"carol@client.test\",\"bob@office.test\"]");
        assert!(files.contains("счёт.pdf"), "{files}");
        assert_eq!(client, "Кира Белова");
    }
}

/// A template mail from an account with a signature ends with one sign-off:
/// the template's «С уважением, …» is left out, the sender appends the
/// signature; an account without one keeps the template's.
#[test]
fn a_template_mail_ends_with_one_sign_off() {
    for signature in [Some("Анна Смирнова\nООО «Учёт»"), None] {
        let (store, _, _) = email_thread();
        let path = store.path.clone();
        let mut h = Harness::on(store, 160, 45);
        if let Some(s) = signature {
            h.app.state.signatures.insert("office".into(), s.into());
        }
        h.keys("<Enter> t");
        h.type_text("Документы получили").keys("<Enter>");
        h.keys("<C-x>");
        let body: String = rusqlite::Connection::open(&path)
            .expect("open")
            .query_row("SELECT body FROM outbox", [], |r| r.get(0))
            .expect("queued");
        assert!(body.starts_with("Здравствуйте"), "{body}");
        match signature {
            Some(_) => assert!(body.ends_with("в течение дня.") && !body.contains("С уважением"), "{body}"),
            None => assert_eq!(body.matches("С уважением").count(), 1, "{body}"),
        }
    }
}

#[test]
fn attachments_are_saved_and_a_missing_account_is_said_plainly() {
    let (store, _, _) = email_thread();
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("выписка.csv");
    std::fs::write(&file, "date;sum\n").expect("file");
    let conv: i64 = rusqlite::Connection::open(&store.path)
        .expect("open")
        .query_row("SELECT id FROM conversations", [], |r| r.get(0))
        .expect("conv");
    // A file we sent from this machine: saved from where it was sent.
    let reply = pult::store::intents::Reply {
        conversation_id: conv,
        reply_to_message_id: None,
        subject: Some("Re: Акт сверки".into()),
        body: "Выписка.".into(),
        actor: "Анна".into(),
        not_before: NOW,
        auto: false,
        attachments: vec![file.clone()],
    };
    store.writer.call_blocking(move |c| pult::store::intents::queue_reply(c, &reply, NOW)).expect("queue");
    let mut h = Harness::on(store, 160, 45);
    h.keys("<Enter> S");
    let Some(Popup::Pick { items, .. }) = &h.app.state.popup else { panic!("a list of attachments") };
    assert_eq!(items.len(), 2);
    assert!(items[0].label.starts_with("выписка.csv"), "newest first: {items:?}");
    h.keys("<Enter>");
    let Some(Popup::Fields(f)) = &h.app.state.popup else { panic!("asks where to save") };
    assert_eq!(f.input, h.app.state.download_dir.display().to_string(), "the download directory is offered");
    let out = dir.path().join("saved");
    h.keys("<C-u>");
    h.type_text(out.to_str().expect("utf-8"));
    h.keys("<Enter>");
    let status = h.app.state.status.clone().expect("status");
    assert!(!status.error && status.text.contains("Saved to"), "{status:?}");
    assert_eq!(std::fs::read(out.join("выписка.csv")).expect("saved"), b"date;sum\n");
    // The client's file needs the mail account, which this pult has no config for.
    h.keys("S j <Enter> <Enter>");
    let status = h.app.state.status.clone().expect("status");
    assert!(status.error && status.text.contains("no configured account named office"), "{status:?}");
}

#[test]
fn an_account_in_trouble_shows_in_the_status_line() {
    let (store, _, _) = email_thread();
    rusqlite::Connection::open(&store.path)
        .expect("open")
        .execute(
            "UPDATE channels SET status = '⚠ office: cannot connect to imap.example.test:993' WHERE name = 'office'",
            [],
        )
        .expect("status");
    let mut h = Harness::on(store, 160, 45);
    let screen = h.screen();
    let last = screen.lines().rfind(|l| !l.trim().is_empty()).expect("status line");
    assert!(last.contains("⚠ office"), "{last}");
}

#[test]
fn a_mail_reusing_another_mails_message_id_is_shown_with_a_warning() {
    let store = temp_store();
    let ch = channel(&store, "office", ChannelKind::Email);
    let mail = |uid: u32, author: &str, at: i64, body: &str| {
        let place = pult::model::ImapPlace { folder: "INBOX".into(), validity: 1, uid, ..Default::default() };
        let mut m = msg(&place.remote_id(), "<inv7@bank.test>", author, at, body);
        m.subject = Some("Invoice 7".into());
        m.message_id = Some("<inv7@bank.test>".into());
        m.imap = Some(place);
        m
    };
    ingest(&store, ch, vec![mail(1, "Bank", NOW - 3600, "Счёт №7 во вложении.")]);
    ingest(&store, ch, vec![mail(2, "Bank Payments", NOW - 600, "Новые реквизиты для оплаты.")]);
    let mut h = Harness::on(store, 160, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("Счёт №7") && screen.contains("Новые реквизиты"), "both mails shown: {screen}");
    assert_eq!(screen.matches("possible spoof").count(), 1, "only the later one is marked: {screen}");
}

#[test]
fn a_maybe_sent_reply_says_so_and_e_sends_it_again() {
    let store = temp_store();
    let ch = channel(&store, "bot", ChannelKind::Telegram);
    let conv = ingest(&store, ch, vec![msg("1", "chat-1", "Ирина", NOW - 600, "Пришлите акт")]).conversations[0];
    let id = queue_reply(&store, conv, "Принято в работу.");
    store.writer.call_blocking(move |c| pult::store::intents::take_due(c, ch, NOW)).expect("take").expect("row");
    // The sender dies mid-send; the next lock holder recovers.
    store.writer.call_blocking(move |c| pult::store::intents::recover_interrupted(c, NOW)).expect("recover");
    let path = store.path.clone();
    let mut h = Harness::on(store, 160, 45);
    h.keys("g e");
    assert_eq!(h.app.state.list.rows.iter().map(|r| r.id).collect::<Vec<_>>(), [conv], "listed under Not sent");
    assert!(h.screen().contains("Not sent"));
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("may have been sent"), "{screen}");
    assert!(screen.contains("check, then E"), "{screen}");
    h.keys("E");
    let state: String = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT state FROM outbox WHERE id = ?1", [id], |r| r.get(0))
        .expect("row");
    assert_eq!(state, "pending", "E queued it again");
    assert!(h.screen().contains("Queued again"));
    h.keys("?");
    assert!(h.screen().contains("Send again a failed or maybe-sent message"), "in the help: {}", h.screen());
}

/// The real binary in a pseudo-terminal (`script`, from util-linux, on every
/// Debian): keys go in, and it is killed with SIGKILL once the store shows the
/// draft, which must happen without any way out being taken.
fn compose_then_kill(store: &std::path::Path, keys: &str, expect: &str) {
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, "[agent]\nname = \"Анна\"\n").expect("config");
    let mut child = pult_in_pty(home.path(), &cfg, store, keys);
    let db = rusqlite::Connection::open(store).expect("open");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found: i64 = db
            .query_row("SELECT count(*) FROM drafts WHERE actor = 'Анна' AND body = ?1", [expect], |r| r.get(0))
            .expect("drafts");
        if found == 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the draft {expect:?} never reached the store");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The pult under `script`: argv[0] is the binary and its argv names our config.
    let marker = cfg.display().to_string();
    let pid = std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .find(|pid| {
            let argv = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let mut parts = argv.split(|b| *b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
            parts.next().is_some_and(|a0| a0.ends_with("/pult")) && parts.any(|a| a == marker)
        })
        .expect("pult was still running when killed");
    // The shell's own kill: procps may be missing on a minimal Debian.
    let killed = std::process::Command::new("sh").args(["-c", &format!("kill -KILL {pid}")]).status().expect("kill");
    assert!(killed.success());
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn drafts_survive_kill_9_and_q_says_where_they_are() {
    let (store, _, _) = email_thread();
    let path = store.path.clone();
    compose_then_kill(&path, "\rrЧерновик ответа", "Черновик ответа");
    compose_then_kill(&path, "\riЗаметка: позвонить", "Заметка: позвонить");
    // A new pult of the same person: both texts are back where they were written.
    let mut h = Harness::on(store, 160, 45);
    assert!(h.screen().contains("✎draft"), "the list marks the conversation: {}", h.screen());
    h.keys("<Enter> r");
    let text = h.app.state.composer.as_ref().expect("composer").textarea.lines().join("\n");
    assert_eq!(text, "Черновик ответа");
    h.keys("<Esc> i");
    let text = h.app.state.composer.as_ref().expect("composer").textarea.lines().join("\n");
    assert_eq!(text, "Заметка: позвонить");
    h.keys("<Esc> q");
    assert!(!h.app.state.quit, "the first q says what is kept");
    let status = h.app.state.status.as_ref().map(|s| s.text.clone()).unwrap_or_default();
    assert!(status.contains("2 drafts kept") && status.contains("«<a@client.test>»"), "{status}");
    h.keys("q");
    assert!(h.app.state.quit);
    let db = rusqlite::Connection::open(&path).expect("open");
    let n: i64 = db.query_row("SELECT count(*) FROM drafts", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 2, "quitting keeps both");
}

#[test]
fn a_sent_reply_leaves_no_draft_behind() {
    let (store, _, _) = email_thread();
    let path = store.path.clone();
    let mut h = Harness::on(store, 160, 45);
    h.keys("<Enter> r").type_text("Добрый день, акт во вложении.");
    h.app.flush_draft();
    let db = rusqlite::Connection::open(&path).expect("open");
    let count = || -> i64 { db.query_row("SELECT count(*) FROM drafts", [], |r| r.get(0)).expect("count") };
    assert_eq!(count(), 1, "autosaved");
    h.keys("<C-x>");
    assert_eq!(count(), 0, "sent: the draft is gone");
}

#[test]
fn an_email_reply_shows_who_gets_it_before_and_after_it_leaves() {
    let store = temp_store();
    let ch = channel(&store, "office", ChannelKind::Email);
    let mut m = msg("<q@client.test>", "<q@client.test>", "Ирина", NOW - 600, "Пришлите акт");
    m.subject = Some("Акт".into());
    m.author_handle = "irina@client.test".into();
    m.message_id = Some("<q@client.test>".into());
    m.recipients = vec!["anna@office.test".into(), "boss@client.test".into(), "buh@client.test".into()];
    m.cc = vec!["buh@client.test".into()];
    m.names = vec![("boss@client.test".into(), "Олег Босс".into())];
    ingest(&store, ch, vec![m]);
    let path = store.path.clone();
    let mut h = Harness::on(store, 160, 45);
    h.app.state.own_addresses = vec!["anna@office.test".into()];
    h.keys("<Enter> r");
    let screen = h.screen();
    let to = h.app.state.reply_recipients().expect("an email reply");
    assert_eq!(
        to,
        (vec!["irina@client.test".to_string(), "boss@client.test".into()], vec!["buh@client.test".to_string()])
    );
    assert!(
        screen.contains("To: Ирина <irina@client.test>, Олег Босс <boss@client.test> ·"),
        "names as written: {screen}"
    );
    assert!(screen.contains("buh@client.test"), "wrapped, not cut: {screen}");
    assert!(!screen.contains("anna@office.test"), "never ourselves");
    // Once the server took it, the thread shows where it went.
    h.type_text("Пришлю завтра.").keys("<C-x>");
    let db = rusqlite::Connection::open(&path).expect("open");
    let outbox: i64 = db.query_row("SELECT max(id) FROM outbox", [], |r| r.get(0)).expect("outbox");
    let (to, cc) =
        (vec!["irina@client.test".to_string(), "boss@client.test".into()], vec!["buh@client.test".to_string()]);
    h.store
        .writer
        .call_blocking(move |c| pult::store::intents::mark_handed_over(c, outbox, &to, &cc, None, NOW))
        .expect("handed over");
    // As the store watcher reports a commit of another process.
    h.store_changed(&[pult::model::Change {
        seq: 1,
        kind: pult::model::ChangeKind::Outbox,
        conversation_id: None,
        actor: None,
    }]);
    let screen = h.screen();
    // The thread pane's text, its wrapped lines joined.
    let flat: String = screen
        .lines()
        .map(|l| l.split('│').filter(|c| !c.trim().is_empty()).last().unwrap_or("").trim().to_string())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains("To: Ирина <irina@client.test>, Олег Босс <boss@client.test> · Cc: buh@client.test"),
        "{flat}"
    );
}

/// At 80x24 in Russian the deadline prompt teaches its grammar, keeps the
/// promised date in view, and takes Ctrl+X as Enter; a note's composer says
/// it saves, not sends.
#[test]
fn prompts_teach_and_keep_the_date_in_view_at_80x24() {
    let mut h = Harness::demo_ru(80, 24);
    h.keys("g u <Enter> a");
    let last_line = |h: &mut Harness| status_rows(&h.screen());
    let prompt = last_line(&mut h);
    assert!(prompt.contains("завтра 12:00") && prompt.contains("через 3 рабочих дня"), "{prompt}");
    // The key that confirms is never the part cut off (it wraps instead).
    assert!(prompt.contains("<Enter> — подтвердить"), "{prompt}");
    h.type_text("через 3 рабочих дня");
    let prompt = last_line(&mut h);
    // 20.11.2026 is a Friday: three working days later is Wednesday 25.11.
    assert!(prompt.contains("25.11") && !prompt.trim_end().ends_with('…'), "the date is whole: {prompt}");
    h.keys("<C-x>");
    assert!(!matches!(h.app.state.popup, Some(pult::tui::state::Popup::Fields(_))), "Ctrl+X confirmed the prompt");
    h.keys("<Esc> <Esc> i");
    assert!(h.screen().contains("сохранить заметку"), "{}", h.screen());
}

/// «Спасибо, получили 👍» after our answer is shown but does not make the
/// client wait; `W` counts it as waiting when it does need an answer.
#[test]
fn a_thanks_is_shown_but_not_waited_on_until_w_counts_it() {
    let store = temp_store();
    let ch = channel(&store, "bot", ChannelKind::Telegram);
    let mut answer = msg("2", "chat-1", "Анна", NOW - 500, "Акт во вложении");
    answer.outgoing = true;
    let batch = vec![
        msg("1", "chat-1", "Ирина", NOW - 600, "Пришлите акт"),
        answer,
        msg("3", "chat-1", "Ирина", NOW - 400, "Спасибо, получили 👍"),
    ];
    let conv = ingest(&store, ch, batch).conversations[0];
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 80, 24);
    h.keys("g u");
    assert!(h.app.state.list.rows.is_empty(), "a thanks is not waiting");
    h.keys("g o <Enter>");
    let screen = h.screen();
    assert!(screen.contains("Спасибо, получили"), "{screen}");
    assert!(screen.contains("ответа не требует · W считать ожидающим"), "{screen}");
    h.keys("W g u");
    assert_eq!(h.app.state.list.rows.iter().map(|r| r.id).collect::<Vec<_>>(), [conv], "counted after W");
}

/// `?` at 80x24 in Russian: the most used keys first, one line per action,
/// and a marker saying how much more there is below.
#[test]
fn help_puts_the_daily_keys_first_and_says_there_is_more() {
    let mut h = Harness::demo_ru(80, 24);
    h.keys("<Enter> ?");
    let screen = h.screen();
    let pos = |s: &str| screen.find(s).unwrap_or_else(|| panic!("{s:?} not on screen: {screen}"));
    assert!(pos("Ответить") < pos("Принять со сроком"), "{screen}");
    assert!(pos("Принять со сроком") < pos("Сообщить «Выполнено»"), "{screen}");
    assert!(screen.contains("ещё ↓"), "{screen}");
    assert!(!screen.contains("Показать «Все открытые»"), "rare views are below the fold: {screen}");
}

/// Every view, the thread, the composer and each popup at 80x24, in both
/// languages: the Russian screen shows no English unit («9h», «10 s») and no
/// catalogue key left untranslated; both show each state's mark.
#[test]
fn every_view_and_popup_at_80x24_in_both_languages() {
    let steps: &[(&str, &str)] = &[
        ("g o", "list"),
        ("g u", "unanswered"),
        ("g t", "due today"),
        ("g x", "overdue"),
        ("g r", "at risk"),
        ("g m", "mine"),
        ("g n", "unassigned"),
        ("g a", "accepted"),
        ("g s", "snoozed"),
        ("g f", "reminders"),
        ("g e", "unsent"),
        ("g @", "mentions"),
        ("g o <Enter>", "thread"),
        ("r", "composer"),
        ("<Esc> ?", "help"),
        ("<Esc> t", "templates"),
        ("<Esc> <Esc> a", "deadline prompt"),
        ("<Esc> :", "command line"),
        ("<Esc> H", "history"),
        ("<Esc> C", "client card"),
        ("<Esc> : c l i e n t s <Enter>", "clients"),
    ];
    let ascii_unit = |screen: &str| -> Option<String> {
        let chars: Vec<char> = screen.chars().collect();
        for (i, w) in chars.windows(3).enumerate() {
            // A digit, an optional space, then h/m/d/s standing alone: «9h», «10 s», «0m».
            let unit = |c: char| matches!(c, 'h' | 'm' | 'd' | 's');
            let end = |c: Option<&char>| c.is_none_or(|c| !c.is_alphanumeric());
            if w[0].is_ascii_digit() && unit(w[1]) && end(chars.get(i + 2)) {
                return Some(chars[i.saturating_sub(8)..(i + 3).min(chars.len())].iter().collect());
            }
            if w[0].is_ascii_digit() && w[1] == ' ' && unit(w[2]) && end(chars.get(i + 3)) {
                return Some(chars[i.saturating_sub(8)..(i + 4).min(chars.len())].iter().collect());
            }
        }
        None
    };
    // The check itself can fail.
    assert!(ascii_unit("⏳9h 00m").is_some() && ascii_unit("через 10 s").is_some() && ascii_unit("1d 9h").is_some());
    assert!(ascii_unit("⏳9 ч 00 мин · 10 с · 12:30 · 5 msgs").is_none());
    let shows: &[(&str, [&str; 2])] = &[
        ("composer", ["Ctrl+X", "Ctrl+X"]),
        ("help", ["Help", "Справка"]),
        ("deadline prompt", ["Deadline", "Срок"]),
        ("history", ["History", "История"]),
        ("client card", ["Responsible", "Ответственный"]),
        ("clients", ["Clients (", "Клиенты ("]),
    ];
    for lang in [pult::i18n::Lang::En, pult::i18n::Lang::Ru] {
        let mut h = if lang == pult::i18n::Lang::Ru { Harness::demo_ru(80, 24) } else { Harness::demo(80, 24) };
        for (keys, what) in steps {
            h.keys(keys);
            let screen = h.screen();
            if let Some((_, words)) = shows.iter().find(|(w, _)| w == what) {
                let word = words[usize::from(lang == pult::i18n::Lang::Ru)];
                assert!(screen.contains(word), "{what} ({lang:?}) should show {word:?}:\n{screen}");
            }
            if lang == pult::i18n::Lang::Ru {
                assert_eq!(ascii_unit(&screen), None, "{what}: an English unit in the Russian UI:\n{screen}");
                for (key, _, _) in pult::i18n::CATALOGUE {
                    assert!(
                        !screen.contains(key) || key.len() < 6 || !key.contains('_'),
                        "{what}: {key} untranslated:\n{screen}"
                    );
                }
                assert!(!screen.contains("Sending in") && !screen.contains("overdue"), "{what}:\n{screen}");
                assert_eq!(english_on_screen(&screen, &[]), None, "{what}: English in the Russian UI:\n{screen}");
            }
        }
        // The first screen shows each state: waiting, accepted, overdue, done.
        let mut h = if lang == pult::i18n::Lang::Ru { Harness::demo_ru(80, 24) } else { Harness::demo(80, 24) };
        let first = h.screen();
        for mark in ["⏳", "⚑"] {
            assert!(first.contains(mark), "{lang:?}: {mark} on the first screen:\n{first}");
        }
        let overdue = if lang == pult::i18n::Lang::Ru { "просрочено" } else { "overdue" };
        let done = if lang == pult::i18n::Lang::Ru { "Выполнено" } else { "Выполнено" };
        assert!(first.contains(overdue) && first.contains(done), "{lang:?}:\n{first}");
    }
}

/// The demo started at 03:00 Moscow time: its week happened before, so waits
/// are hours, not «0 min» everywhere, and no promise was due before dawn.
#[test]
fn the_demo_makes_sense_at_three_in_the_morning() {
    let night = NOW - 10 * 3600; // 2026-11-20 03:00 Moscow
    let store = temp_store();
    pult::demo::populate(&store.writer, night, &moscow(), "Анна").expect("demo");
    let conn = rusqlite::Connection::open(&store.path).expect("open");
    let fresh: i64 = conn
        .query_row("SELECT count(*) FROM conversations WHERE waiting_since > ?1", [night - 1800], |r| r.get(0))
        .expect("count");
    let waiting: i64 = conn
        .query_row("SELECT count(*) FROM conversations WHERE waiting_since IS NOT NULL", [], |r| r.get(0))
        .expect("n");
    assert!(waiting >= 3, "{waiting}");
    assert!(fresh <= 1, "{fresh} of {waiting} waits began in the last half hour before 03:00");
    // No open promise falls between midnight and 09:00 of that night.
    let dawn: i64 = conn
        .query_row(
            "SELECT count(*) FROM tasks WHERE state = 'accepted' AND deadline > ?1 AND deadline < ?2",
            [night - 3 * 3600, night + 6 * 3600],
            |r| r.get(0),
        )
        .expect("tasks");
    assert_eq!(dawn, 0);
}

/// At 80x24 in Russian, what a person acts on is never cut: a failed
/// message's whole reason (wrapped under it), and the date a deadline
/// prompt resolves to.
#[test]
fn a_long_failure_reason_and_the_promised_date_are_whole_at_80x24() {
    let store = temp_store();
    let ch = channel(&store, "bot", ChannelKind::Telegram);
    let conv = ingest(&store, ch, vec![msg("1", "chat-1", "Ирина", NOW - 600, "Пришлите акт")]).conversations[0];
    let id = queue_reply(&store, conv, "Акт во вложении");
    let reason = "permanent: Forbidden: bot was blocked by the user — клиент заблокировал бота, напишите ему в другом канале КОНЕЦ";
    store.writer.call_blocking(move |c| pult::store::intents::take_due(c, ch, NOW)).expect("take");
    store.writer.call_blocking(move |c| pult::store::intents::mark_failed(c, id, reason, NOW)).expect("fail");
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 80, 24);
    h.keys("<Enter>");
    let screen = h.screen();
    let flat: String = screen.split('│').map(str::trim).collect::<Vec<_>>().join(" ");
    for word in ["Forbidden:", "заблокировал", "другом", "КОНЕЦ"] {
        assert!(flat.contains(word), "{word:?} cut from the reason:\n{screen}");
    }
    h.keys("a").type_text("через 3 рабочих дня");
    let screen = h.screen();
    assert!(screen.contains("→ ср 25.11"), "the promised date is whole:\n{screen}");
}

/// Many at once: `Space` marks one and moves on, `Esc` lets go of the marks,
/// `*` marks the whole view, `x` asks once with the count and closes them as
/// one batch (promised ones stay open), and `U` opens them all again.
#[test]
fn marked_conversations_close_in_one_step_and_come_back_in_one() {
    let mut h = Harness::demo(160, 45);
    let open = |h: &Harness| -> i64 {
        rusqlite::Connection::open(&h.store.path)
            .expect("open")
            .query_row("SELECT count(*) FROM conversations WHERE status = 'open'", [], |r| r.get(0))
            .expect("count")
    };
    let before = open(&h);
    h.keys("g o <Space>");
    assert_eq!(h.app.state.marked.len(), 1);
    assert!(h.screen().contains("* "), "a marked row shows it");
    h.keys("<Esc>");
    assert!(h.app.state.marked.is_empty(), "Esc lets go of the marks");
    h.keys("g g V j j V j");
    assert_eq!(h.app.state.marked.len(), 3, "V marks what the cursor passes, V again stops");
    h.keys("<Esc> *");
    let marked = h.app.state.marked.len();
    assert_eq!(marked as i64, before, "the whole view, not just the rows on screen");
    h.keys("x");
    assert!(h.screen().contains(&format!("Close the marked conversations: {marked}?")), "{}", h.screen());
    assert_eq!(open(&h), before, "asked first");
    h.keys("x");
    let closed = before - open(&h);
    assert!(closed > 0 && closed < before, "some close, the promised ones stay: {closed} of {before}");
    let screen = h.screen();
    assert!(screen.contains(&format!("Closed: {closed}")) && screen.contains("left open"), "{screen}");
    let audited: i64 = rusqlite::Connection::open(&h.store.path)
        .expect("open")
        .query_row("SELECT count(*) FROM audit WHERE action = 'close' AND detail LIKE 'batch %'", [], |r| r.get(0))
        .expect("audit");
    assert_eq!(audited, closed, "one audit entry per conversation");
    h.keys("U");
    assert_eq!(open(&h), before, "one step brings them all back");
    assert!(h.screen().contains(&format!("Open again: {closed}")), "{}", h.screen());
    // `A` on two marked conversations assigns both, one audit entry each.
    h.app.state.team = vec!["anna".into(), "boris".into()];
    h.keys("g g <Space> <Space> A").type_text("boris").keys("<Enter> <Enter>");
    let assigned: i64 = rusqlite::Connection::open(&h.store.path)
        .expect("open")
        .query_row("SELECT count(*) FROM conversations WHERE assignee = 'boris'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(assigned, 2, "{}", h.screen());
    assert!(h.app.state.marked.is_empty(), "the marks are let go after acting");
}

/// An account that left the config is archived: apart under «Архив», with no
/// `⚠` anywhere (not even what its worker said last) and no reply, its
/// history still there. A channel whose worker cannot start shows `⚠` and why,
/// in the sidebar and in its empty list — never "Nothing here. Good work." —
/// in both languages.
#[test]
fn archived_channels_sit_apart_and_a_broken_channel_says_why() {
    use pult::i18n::Lang;
    use pult::model::ChannelStatus;
    for lang in [Lang::En, Lang::Ru] {
        let store = temp_store();
        let old = channel(&store, "old-bot", ChannelKind::Telegram);
        ingest(&store, old, vec![msg("1:1", "1", "Олег", NOW - 600, "Счёт оплатили?")]);
        let office = channel(&store, "office", ChannelKind::Email);
        let why = "secret command \"pass\" failed: exit status: 2";
        for id in [old, office] {
            let status = ChannelStatus::Error(why.into());
            store
                .writer
                .call_blocking(move |c| pult::store::channel_state::set_status(c, id, &status, NOW))
                .expect("status");
        }
        let archived = store
            .writer
            .call_blocking(|c| pult::store::archive::reconcile(c, &["office".to_string()], NOW))
            .expect("reconcile");
        assert_eq!(archived, ["old-bot"]);
        let mut h = Harness::in_language(store, lang, 80, 24);
        let screen = h.screen();
        let lines: Vec<&str> = screen.lines().collect();
        let at = |needle: &str| {
            lines.iter().position(|l| l.contains(needle)).unwrap_or_else(|| panic!("{needle:?} in\n{screen}"))
        };
        let heading = if lang == Lang::Ru { "─ Архив" } else { "─ Archive" };
        assert!(at("⚠ office") < at(heading) && at(heading) < at("old-bot"), "{screen}");
        // Russian says what happened (the worker's words go to the log).
        let reason = if lang == Lang::Ru { "Не удалось" } else { "secret comm" };
        assert!(lines[at("⚠ office") + 1].contains(reason), "the reason under it: {screen}");
        assert!(!screen.contains("⚠ old-bot"), "{screen}");
        let status_line = lines.iter().rfind(|l| !l.trim().is_empty()).expect("status line");
        assert!(status_line.contains("⚠ office") && !status_line.contains("old-bot"), "{status_line}");

        h.keys(":").type_text("channel office").keys("<Enter>");
        let screen = h.screen();
        let broken =
            if lang == Lang::Ru { "⚠ Канал не работает" } else { "⚠ This channel does not" };
        assert!(screen.contains(broken), "{screen}");
        assert!(!screen.contains(pult::i18n::Lang::tr(lang, "empty_view")), "{screen}");

        // The archived channel's history stays; a reply there could never go.
        h.keys(":").type_text("channel old-bot").keys("<Enter>");
        assert_eq!(h.app.state.list.rows.len(), 1);
        assert!(h.screen().contains("Олег"));
        h.keys("<Enter> r");
        assert!(h.app.state.composer.is_none());
        let status = h.app.state.status.clone().expect("status");
        assert!(status.error && status.text == lang.tr("archived_no_reply"), "{status:?}");
    }
}

/// A 30 MB mail of lines that repeat the searched word, and a 10 MB mail on
/// one line, each in its own conversation.
fn huge_mails() -> TempStore {
    let store = temp_store();
    let ch = channel(&store, "office", ChannelKind::Email);
    let mut lines = String::with_capacity(31 << 20);
    let mut n = 0;
    while lines.len() < 30 << 20 {
        n += 1;
        lines.push_str(&format!("Строка {n}: пришлите акт сверки за квартал, счёт во вложении.\n"));
    }
    lines.push_str("ПОСЛЕДНЯЯ СТРОКА ПИСЬМА");
    let mut big = msg("<big@client.test>", "<big@client.test>", "Ирина", NOW - 600, &lines);
    big.subject = Some("Акты за год".into());
    let mut one = "НАЧАЛО-СТРОКИ ".to_string();
    while one.len() < 10 << 20 {
        one.push_str("акт сверки за квартал ");
    }
    one.push_str("ХВОСТ-СТРОКИ");
    let mut long = msg("<long@other.test>", "<long@other.test>", "Пётр", NOW - 3600, &one);
    long.subject = Some("Одна строка".into());
    // A reply quoting it: the thread loads the start of the quoted mail, not all of it.
    let mut reply = msg("<re@client.test>", "<big@client.test>", "Ирина", NOW - 300, "Напоминаю о письме выше.");
    reply.reply_to_remote = Some("<big@client.test>".into());
    let started = std::time::Instant::now();
    ingest(&store, ch, vec![big, long, reply]);
    eprintln!("ingest: {:?}", started.elapsed());
    store
}

/// Opened from a search for a word it repeats, a 30 MB mail shows its start
/// with the word marked and scrolls a screen at a time: a frame wraps and
/// searches a screenful, not the mail, and counts the mail's rows only once.
/// The same for a 10 MB line. (`--nocapture` prints how long each key took.)
#[test]
fn a_30_mb_mail_opened_from_a_search_scrolls_a_screen_at_a_time() {
    use pult::tui::body::{BLOCK, Work};
    // Narrow: the thread alone on screen, so that what it shows is what is checked.
    let (width, height) = (100, 30);
    let mut h = Harness::on(huge_mails(), width, height);
    // What one frame may wrap to show its rows: the screen, and the two blocks cut at its edges.
    let screenful = 2 * BLOCK + 4 * width as usize * height as usize;
    let frame = |h: &mut Harness, keys: &str| {
        let started = std::time::Instant::now();
        h.keys(keys);
        let screen = h.screen();
        let work = h.app.state.thread.as_ref().map(|t| t.bodies.work()).unwrap_or_default();
        eprintln!("{keys:>10}: {:?} {work:?}", started.elapsed());
        assert!(work.shown <= screenful, "{keys}: {work:?}");
        (screen, work)
    };
    let scrolled = |keys: &str, work: Work| {
        assert_eq!((work.prepared, work.counted), (0, 0), "{keys} lays out nothing again");
    };
    frame(&mut h, "/");
    h.type_text("акт");
    let (screen, _) = frame(&mut h, "<Enter>");
    let hits = h.app.state.search.as_ref().expect("results").hits.len();
    assert_eq!(hits, 2, "{screen}");
    // The newest hit, the 30 MB mail: its start is shown, the word marked.
    let (screen, _) = frame(&mut h, "<Enter>");
    assert!(screen.contains("Строка 1: пришлите акт"), "{screen}");
    let t = h.app.state.thread.as_ref().expect("thread");
    let quoted = t.messages.iter().find_map(|m| m.reply_quote.as_ref()).map(|(_, q)| q.chars().count());
    assert_eq!(quoted, Some(4096), "the quote is the quoted mail's start");
    let marked = marked_text(&mut h, ratatui::style::Modifier::UNDERLINED);
    assert!(marked.contains("акт"), "{marked}");
    for keys in ["j", "<C-d>", "k", "<C-u>", "n"] {
        let (_, work) = frame(&mut h, keys);
        scrolled(keys, work);
    }
    let (screen, work) = frame(&mut h, "G");
    scrolled("G", work);
    assert!(screen.contains("ПОСЛЕДНЯЯ СТРОКА ПИСЬМА"), "{screen}");
    let (screen, work) = frame(&mut h, "<C-u>");
    scrolled("<C-u>", work);
    assert!(!screen.contains("ПОСЛЕДНЯЯ СТРОКА ПИСЬМА") && screen.contains("Строка"), "{screen}");
    let (screen, work) = frame(&mut h, "g g");
    scrolled("g g", work);
    assert!(screen.contains("Строка 1: пришлите акт"), "{screen}");
    // The 10 MB line: opened from its hit, it starts at the top and `G` shows its end.
    frame(&mut h, "<Esc> j");
    let (screen, _) = frame(&mut h, "<Enter>");
    assert!(screen.contains("НАЧАЛО-СТРОКИ"), "{screen}");
    for keys in ["<C-d>", "j", "k"] {
        let (_, work) = frame(&mut h, keys);
        scrolled(keys, work);
    }
    let (screen, work) = frame(&mut h, "G");
    scrolled("G", work);
    assert!(screen.contains("ХВОСТ-СТРОКИ"), "{screen}");
}

/// In the wide layout the thread of the selected row is already shown; a search
/// whose first hit is in it still marks the words and shows the hit on Enter.
#[test]
fn a_hit_in_the_thread_already_shown_marks_its_words() {
    let store = temp_store();
    let ch = channel(&store, "office", ChannelKind::Email);
    let mut first = msg("<a@client.test>", "<a@client.test>", "Ирина", NOW - 7200, "Пришлите акт сверки.");
    first.subject = Some("Акт".into());
    let later: Vec<_> = (0..40)
        .map(|i| msg(&format!("<r{i}@client.test>"), "<a@client.test>", "Ирина", NOW - 3600 + i, "Ещё вопрос."))
        .collect();
    ingest(&store, ch, std::iter::once(first).chain(later).collect());
    let mut h = Harness::on(store, 160, 45);
    let conv = h.app.state.thread.as_ref().map(|t| t.conversation.id);
    assert!(conv.is_some(), "the wide layout previews the first row");
    h.keys("/").type_text("акт").keys("<Enter> <Enter>");
    let t = h.app.state.thread.as_ref().expect("thread");
    assert_eq!(Some(t.conversation.id), conv);
    assert!(!t.terms.is_empty() && t.jump_to == Some(0), "{:?} {:?}", t.terms, t.jump_to);
}

/// The status line's rows (below the panes' bottom borders), joined by spaces.
fn status_rows(screen: &str) -> String {
    let lines: Vec<&str> = screen.lines().collect();
    let last_border = lines.iter().rposition(|l| l.contains('└') || l.contains('╰')).unwrap_or(0);
    lines[last_border + 1..].iter().map(|l| l.trim_end()).collect::<Vec<_>>().join(" ")
}

/// At 80x24 in Russian, beside a channel in trouble and the daemon's mark,
/// what the person just did or must decide is whole: the undo countdown
/// with its key, the tone check with its key. A warning seen once shrinks to
/// `⚠1`, its reason one key (`!`) away; view counts up to 99,999 fit the sidebar.
#[test]
fn the_status_line_never_cuts_what_carries_a_key_at_80x24() {
    use pult::model::ChannelStatus;
    let mut h = Harness::demo_ru(80, 24);
    h.app.state.undo_seconds = 10;
    h.app.state.solo = Some(false);
    let office = h.app.state.channels.iter().find(|c| c.name == "office mail").expect("office mail").id;
    let status = ChannelStatus::Error("сервер imap.example.test не отвечает".into());
    h.store
        .writer
        .call_blocking(move |c| pult::store::channel_state::set_status(c, office, &status, NOW))
        .expect("status");
    h.keys("<C-l>");
    let rows = status_rows(&h.screen());
    assert!(rows.contains("⚠ office mail"), "the warning by name, until seen: {rows}");

    // Seen once (a key was pressed while it showed): a short mark.
    h.keys("g u");
    let rows = status_rows(&h.screen());
    assert!(rows.contains("⚠1") && !rows.contains("⚠ office"), "{rows}");
    h.keys("!");
    let rows = status_rows(&h.screen());
    assert!(rows.contains("office mail") && rows.contains("не отвечает"), "the reason, one key away: {rows}");

    // The undo countdown with its key.
    h.keys("<Esc> g u <Enter> r").type_text("Принято").keys("<C-x>");
    let rows = status_rows(&h.screen());
    assert!(rows.contains("Отправка через 10 с") && rows.contains("U — отменить"), "{rows}");
    assert!(rows.contains("⚠1"), "the trouble mark stays beside it: {rows}");

    // The tone check with the key that sends anyway.
    h.keys("r").type_text("СРОЧНО ПРИШЛИТЕ ДОКУМЕНТЫ СЕГОДНЯ ЖЕ, ИНАЧЕ ШТРАФ БУДЕТ НА ВАС").keys("<C-x>");
    let rows = status_rows(&h.screen());
    assert!(rows.contains(pult::i18n::Lang::Ru.tr("send_anyway")), "{rows}");

    // The widest count (past the screens' cap) beside the view's whole name.
    h.keys("<Esc> <Esc>");
    h.app.state.view_counts[0] = pult::tui::reads::COUNT_CAP + 1;
    h.app.state.dirty = true;
    let screen = h.screen();
    assert!(screen.contains("Все открытые 9999+"), "{screen}");
}

/// «завтра 12:00» said on a Friday is a Saturday: before it is told to the
/// client, pult says it is a day off and offers Monday (Enter), or keeps it
/// (Ctrl+X) — the question whole at 80x24.
#[test]
fn a_deadline_on_a_day_off_is_said_before_it_is_promised() {
    for (confirm, want) in [("<Enter>", "пн 23.11 12:00"), ("<C-x>", "сб 21.11 12:00")] {
        let mut h = Harness::demo_ru(80, 24);
        h.keys("g u <Enter> a").type_text("завтра 12:00");
        let rows = status_rows(&h.screen());
        assert!(rows.contains("сб 21.11 12:00 — выходной"), "the preview says so: {rows}");
        h.keys("<Enter>");
        let rows = status_rows(&h.screen());
        assert!(
            rows.contains("сб 21.11 — выходной; перенести на пн 23.11 12:00? <Enter> — да, <C-x> — оставить"),
            "{rows}"
        );
        assert!(matches!(h.app.state.popup, Some(pult::tui::state::Popup::Fields(_))), "still asking");
        h.keys(confirm);
        let screen = h.screen();
        assert!(!matches!(h.app.state.popup, Some(pult::tui::state::Popup::Fields(_))), "{confirm}: answered");
        assert!(screen.contains(want), "{confirm} → {want}:\n{screen}");
    }
}

/// At 80x24 in Russian the composer's keys are whole under the text, and a
/// merge suggestion keeps its reason — the phone number — whole in the list.
#[test]
fn composer_keys_and_merge_reasons_are_whole_at_80x24() {
    let mut h = Harness::demo_ru(80, 24);
    h.keys("g u <Enter> r");
    let screen = h.screen();
    assert!(
        screen.contains("Ctrl+X — отправить") && screen.contains("Esc — закрыть (черновик сохранится)"),
        "{screen}"
    );
    h.keys("<Esc> <Esc> g c");
    let screen = h.screen();
    assert!(screen.contains("тот же телефон +79162583800"), "{screen}");
}

/// What a Russian screen says after `keys`, and its status line in full:
/// no English word, identifier or raw catalogue key in either.
fn russian_everywhere(h: &mut Harness, keys: &str, data: &[&str]) -> String {
    h.keys(keys);
    let screen = h.screen();
    assert_eq!(english_on_screen(&screen, data), None, "after {keys}:\n{screen}");
    let status = h.app.state.status.clone().map(|s| s.text).unwrap_or_default();
    assert_eq!(english_on_screen(&status, data), None, "after {keys}: {status}");
    screen
}

/// A Russian day: accept, report done, be refused, read the history, send
/// in capitals, meet a failed send and old English placeholders: every
/// screen and every status reads as Russian; `D` starts what was done with
/// a capital.
#[test]
fn russian_screens_carry_no_english_words() {
    let mut h = Harness::demo_ru(160, 45);
    h.keys("g u");
    let pos = h.app.state.list.rows.iter().position(|c| c.kind == ChannelKind::Telegram).expect("a waiting chat");
    for _ in 0..pos {
        h.keys("j");
    }
    let conv = h.app.state.list.selected().expect("selected").id;
    russian_everywhere(&mut h, "<Enter>", &[]);
    // A deadline that cannot be read, an unknown template: said in Russian.
    h.keys("a").type_text("абырвалг");
    russian_everywhere(&mut h, "<Enter>", &[]);
    assert!(h.app.state.status.as_ref().is_some_and(|s| s.error && s.text.contains("не понимаю срок")));
    h.keys("<Esc> :").type_text("template nope");
    russian_everywhere(&mut h, "<Enter>", &["nope"]);
    assert!(h.app.state.status.as_ref().is_some_and(|s| s.error && s.text.contains("Нет такого шаблона")));
    // No promise yet: R refuses in Russian.
    russian_everywhere(&mut h, "R", &[]);
    assert!(h.app.state.status.as_ref().is_some_and(|s| s.error && s.text.contains("нет открытого обещания")));
    h.keys("a").type_text("пн 12:00");
    russian_everywhere(&mut h, "<Enter>", &[]);
    russian_everywhere(&mut h, "<C-x>", &[]);
    h.keys("D").type_text("провела платёжку");
    russian_everywhere(&mut h, "<Enter>", &[]);
    let conn = rusqlite::Connection::open(&h.store.path).expect("open");
    let last_body = || -> String {
        conn.query_row("SELECT body FROM outbox WHERE conversation_id = ?1 ORDER BY id DESC LIMIT 1", [conv], |r| {
            r.get(0)
        })
        .expect("queued")
    };
    assert_eq!(last_body(), "Выполнено. Провела платёжку");
    // Reported done, nothing new from the client: D and R refuse, in Russian.
    russian_everywhere(&mut h, "D", &[]);
    assert!(h.app.state.status.as_ref().is_some_and(|s| s.error && s.text.contains("Обещание уже выполнено")));
    russian_everywhere(&mut h, "R", &[]);
    // The history in words.
    let history = russian_everywhere(&mut h, "H", &[]);
    for words in ["принято в работу: срок", "выполнено", "отправлено: Выполнено. Провела платёжку"]
    {
        assert!(history.contains(words), "{words}:\n{history}");
    }
    // The tone check names capitals in Russian, and says which key sends anyway.
    h.keys("<Esc> r").type_text("СРОЧНО ОПЛАТИТЕ СЕГОДНЯ");
    russian_everywhere(&mut h, "<C-x>", &[]);
    let tone = h.app.state.status.clone().expect("the tone check").text;
    assert!(tone.contains("ЗАГЛАВНЫЕ БУКВЫ") && tone.contains("отправить всё равно"), "{tone}");
    h.keys("<C-u>");
    // A send that failed with a library's words: the thread says what happened.
    conn.execute(
        "UPDATE messages SET delivery = 'failed', error = 'store: FOREIGN KEY constraint failed'
         WHERE id = (SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'out')",
        [conv],
    )
    .expect("fail it");
    h.keys("<Esc> <Esc> q g o");
    let pos = h.app.state.list.rows.iter().position(|c| c.id == conv).expect("still open");
    for _ in 0..pos {
        h.keys("j");
    }
    let failed = russian_everywhere(&mut h, "<Enter>", &[]);
    assert!(failed.contains("Не сохранилось"), "{failed}");

    // Placeholders an older pult wrote in English read in Russian.
    let store = temp_store();
    let ch = channel(&store, "bot", ChannelKind::Telegram);
    ingest(
        &store,
        ch,
        vec![
            msg("1", "chat-1", "Ирина", NOW - 600, "🎤 voice message 0:12"),
            msg("2", "chat-1", "Ирина", NOW - 500, "[sticker 👍]"),
            msg("3", "chat-1", "Ирина", NOW - 400, "[unsupported message type order]"),
        ],
    );
    let mut old = Harness::in_language(store, pult::i18n::Lang::Ru, 80, 24);
    let thread = russian_everywhere(&mut old, "g o <Enter>", &["bot", "chat-1"]);
    for said in ["голосовое сообщение 0:12", "[стикер 👍]", "неподдерживаемого типа: заказ"]
    {
        assert!(thread.contains(said), "{said}:\n{thread}");
    }
}

/// Errors of the store and of libraries, said in Russian: what happened and
/// what to do, never the library's words.
#[test]
fn store_and_library_errors_are_said_in_russian() {
    use pult::i18n::{Lang, english_leak};
    let sql = |code: i32, text: &str| {
        pult::store::StoreError::from(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(code),
            Some(text.to_string()),
        ))
    };
    for (e, words) in [
        (sql(787, "FOREIGN KEY constraint failed"), "Не сохранилось"),
        (sql(5, "database is locked"), "занято"),
        (sql(13, "database or disk is full"), "Диск заполнен"),
        (pult::store::Refused::NoOpenPromise.into(), "нет открытого обещания"),
        (pult::store::Refused::AlreadyReported(1).into(), "уже выполнено"),
        (pult::store::Refused::NotAnEmailAddress("иван".into()).into(), "не адрес электронной почты"),
        (pult::store::Refused::TooLateToUndo("sent".into()).into(), "Отменить уже нельзя"),
    ] {
        let ru = e.in_language(Lang::Ru);
        assert!(ru.contains(words) && english_leak(&ru).is_none(), "{e}: {ru}");
    }
    // The English the CLI has always printed stays.
    assert_eq!(pult::store::Refused::NoOpenPromise.to_string(), "this conversation has no open promise");
    let json = "An error while parsing JSON: expected value at line 1 column 1";
    assert_eq!(english_leak(&pult::trouble::shown(Lang::Ru, json)), None);
}

/// Holding `j` (a burst of the same key) reads only the thread the cursor
/// stops on: each repeat's load waits and the newest replaces it.
#[test]
fn holding_j_reads_only_the_thread_the_cursor_stops_on() {
    let mut h = Harness::demo(160, 45);
    let shown = |h: &Harness| h.app.state.thread.as_ref().map(|t| t.conversation.id);
    let first = shown(&h);
    assert!(h.app.state.list.rows.len() > 4);
    let key = |k: &str| pult::tui::keys::parse_keys(k).expect("key")[0];
    let j = key("j");
    for _ in 0..3 {
        h.app.press_repeating(j);
    }
    assert_eq!(h.app.state.list.cursor, 3, "the cursor moves on every press");
    assert_eq!(shown(&h), first, "no thread is read while the key repeats");
    let asked = h.app.read_counts(ReadKind::Thread).asked;
    h.app.press(j);
    h.app.settle();
    // The last press reads its own thread; the ones put off never show.
    let stop = h.app.state.list.rows[4].id;
    assert_eq!(shown(&h), Some(stop));
    assert_eq!(h.app.read_counts(ReadKind::Thread).asked, asked + 1, "one thread read for the burst");
    h.app.settle();
    assert_eq!(shown(&h), Some(stop), "an older put-off load never replaces a newer one");
    // A burst that ends where the cursor cannot move still shows where it stopped.
    for _ in 0..2 {
        h.app.press_repeating(key("k"));
    }
    assert_eq!(shown(&h), Some(stop));
    h.app.settle();
    assert_eq!(shown(&h), Some(h.app.state.list.rows[2].id));
    assert!(!h.screen().is_empty());
}

/// Thread loads asked for faster than the worker reads them: the newest
/// wins. Those still waiting are skipped, the one already being read when
/// newer ones were asked for is dropped when it arrives, and only the
/// thread the cursor stopped on reaches the screen.
#[test]
fn loads_asked_in_a_row_apply_only_the_newest() {
    let mut h = Harness::demo(160, 45);
    let j = pult::tui::keys::parse_keys("j").expect("key")[0];
    assert!(h.app.state.list.rows.len() > 10);
    assert_eq!(h.app.reads_in_flight(), 0);
    let before = h.app.read_counts(ReadKind::Thread);
    let hold = h.app.hold_reads();
    h.app.press(j);
    // The worker has the first load in hand; nine more are asked for meanwhile.
    hold.wait_until_held();
    for _ in 0..9 {
        h.app.press(j);
    }
    assert_eq!(h.app.state.list.cursor, 10);
    assert_eq!(h.app.reads_in_flight(), 10);
    drop(hold);
    h.app.settle();
    let after = h.app.read_counts(ReadKind::Thread);
    let n = |f: fn(&pult::tui::reads::ReadCounts) -> u64| f(&after) - f(&before);
    assert_eq!(n(|c| c.asked), 10);
    assert_eq!(n(|c| c.performed), 2, "the one in hand and the newest");
    assert_eq!(n(|c| c.skipped), 8, "the ones waiting behind a newer one are never read");
    assert_eq!(n(|c| c.stale), 1, "the one in hand arrived after newer ones were asked for");
    assert_eq!(n(|c| c.applied), 1, "only the newest reaches the state");
    let stop = h.app.state.list.rows[10].id;
    assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(stop));
    assert_eq!(h.app.reads_in_flight(), 0);
}

/// While a read is held (as a slow disk or a huge thread would hold it),
/// keys are still handled and frames drawn, with the previous thread on
/// screen; only past two frames does the status line say «loading…».
/// The body runs on a thread of its own so that a UI that waits on the
/// store fails here instead of hanging.
#[test]
fn a_held_read_never_stops_keys_or_frames() {
    let (done, finished) = std::sync::mpsc::channel();
    let body = std::thread::spawn(move || {
        let mut h = Harness::demo(160, 45);
        let j = pult::tui::keys::parse_keys("j").expect("key")[0];
        let shown = |h: &Harness| h.app.state.thread.as_ref().map(|t| t.conversation.id);
        let first = shown(&h);
        let rows: Vec<i64> = h.app.state.list.rows.iter().map(|c| c.id).collect();
        let hold = h.app.hold_reads();
        h.app.press(j);
        hold.wait_until_held();
        // The worker is stuck on that read: another key goes through.
        h.app.press(j);
        assert_eq!(h.app.state.list.cursor, 2, "keys are handled while a read is held");
        assert_eq!(shown(&h), first, "the previous thread stays until the new one is read");
        let frame = h.frame();
        assert!(frame.contains("All open"), "a frame is drawn\n{frame}");
        assert!(!frame.contains("loading…"), "a quick read shows no marker\n{frame}");
        // Two frames later the status line says a read is under way.
        h.app.mark_slow_reads(std::time::Instant::now() + std::time::Duration::from_secs(1));
        let frame = h.frame();
        assert!(frame.contains("loading…"), "{frame}");
        assert_eq!(shown(&h), first);
        drop(hold);
        h.app.settle();
        assert_eq!(shown(&h), Some(rows[2]));
        let screen = h.screen();
        assert!(!screen.contains("loading…"), "{screen}");
        done.send(()).expect("report");
    });
    match finished.recv_timeout(std::time::Duration::from_secs(120)) {
        Ok(()) => body.join().expect("test body"),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = body.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the UI thread waited on a held read"),
    }
}

/// Keys typed before a new view's rows arrive act on those rows, in order:
/// `g u Enter` opens the conversation waiting longest, not the row that
/// was under the cursor in the view before.
#[test]
fn keys_typed_ahead_of_a_new_view_act_on_it() {
    let mut h = Harness::demo(160, 45);
    let key = |k: &str| pult::tui::keys::parse_keys(k).expect("key")[0];
    let all_open_first = h.app.state.list.rows[0].id;
    let hold = h.app.hold_reads();
    h.app.key(key("g"), false);
    h.app.key(key("u"), false);
    hold.wait_until_held();
    h.app.key(key("<Enter>"), false);
    assert!(h.app.keys_wait(), "Enter waits for the rows it would open");
    assert_eq!(h.app.state.focus, Focus::Conversations);
    assert!(!h.frame().is_empty(), "frames are drawn meanwhile");
    drop(hold);
    h.app.settle();
    assert_eq!(h.app.state.view, View::Unanswered);
    assert_eq!(h.app.state.focus, Focus::Thread);
    let waiting_first = h.app.state.list.rows[0].id;
    assert_ne!(waiting_first, all_open_first, "the two views start with different conversations");
    assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(waiting_first));
}
