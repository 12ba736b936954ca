//! The promise ledger end to end: accept → remind → done through the TUI on every
//! channel kind, the undo window, snoozes, and after-hours replies, on a fixed clock.

mod common;

use common::*;
use pult::model::{ChannelKind, View};
use pult::store::{Reader, intents::Reply, ledger};
use pult::tui::state::{Focus, Popup};
use pult::workflow::calendar::Calendar;
use pult::workflow::templates::Templates;

/// Selects the first conversation of `kind` in the Unanswered view.
fn select_unanswered(h: &mut Harness, kind: ChannelKind) -> i64 {
    h.keys("g u");
    let pos = h.app.state.list.rows.iter().position(|c| c.kind == kind).expect("a waiting conversation of that kind");
    for _ in 0..pos {
        h.keys("j");
    }
    h.app.state.list.selected().expect("selected").id
}

fn outbox(h: &Harness, conversation: i64) -> Vec<(String, String, Option<i64>, i64)> {
    let conn = rusqlite::Connection::open(&h.store.path).expect("open");
    let mut st = conn
        .prepare(
            "SELECT body, state, reply_to_message_id, not_before FROM outbox WHERE conversation_id = ?1 ORDER BY id",
        )
        .expect("prepare");
    st.query_map([conversation], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

fn open_tasks(h: &Harness, conversation: i64) -> Vec<(String, Option<i64>, Option<String>, Option<i64>)> {
    let conn = rusqlite::Connection::open(&h.store.path).expect("open");
    let mut st = conn
        .prepare(
            "SELECT state, deadline, accepted_by, source_message_id FROM tasks WHERE conversation_id = ?1 ORDER BY id",
        )
        .expect("prepare");
    st.query_map([conversation], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .map(|r| r.expect("row"))
        .collect()
}

#[test]
fn accept_remind_done_on_every_channel_kind() {
    for kind in [ChannelKind::Telegram, ChannelKind::Whatsapp, ChannelKind::Email] {
        let mut h = Harness::demo(160, 45);
        let conv = select_unanswered(&mut h, kind);
        h.keys("<Enter>");
        let tasks_before = open_tasks(&h, conv).len();
        // Accept with a deadline typed in Russian; the preview resolves it before anything is sent.
        h.keys("a").type_text("до конца дня");
        assert!(h.screen().contains("→ пт 20.11 18:00"), "{kind:?}");
        h.keys("<Enter>");
        // Seen before it goes: the acceptance waits in the composer for Ctrl+X.
        let shown = h.app.state.composer.as_ref().map(|c| c.textarea.lines().join("\n")).unwrap_or_default();
        assert!(shown.contains("Принято в работу. Срок — пт 20.11 18:00."), "{kind:?}: {shown}");
        assert_eq!(outbox(&h, conv).len(), 0, "{kind:?}: nothing sent yet");
        h.keys("<C-x>");
        let out = outbox(&h, conv);
        let (body, state, reply_to, not_before) = out.last().expect("acceptance queued").clone();
        assert!(body.contains("Принято в работу. Срок — пт 20.11 18:00."), "{kind:?}: {body}");
        if kind == ChannelKind::Email {
            assert!(body.starts_with("Здравствуйте,"), "email gets the greeting variant: {body}");
            let conn = rusqlite::Connection::open(&h.store.path).expect("open");
            let subject: String = conn
                .query_row("SELECT subject FROM outbox WHERE conversation_id = ?1", [conv], |r| r.get(0))
                .expect("subj");
            assert!(subject.starts_with("Re: ") && !subject.starts_with("Re: Re:"), "{subject}");
        } else {
            assert!(!body.contains("Здравствуйте"), "chats get the short form: {body}");
        }
        assert_eq!(state, "pending");
        assert_eq!(not_before, NOW + 10);
        let newest: Option<i64> = rusqlite::Connection::open(&h.store.path)
            .expect("open")
            .query_row("SELECT max(id) FROM messages WHERE conversation_id = ?1 AND direction = 'in'", [conv], |r| {
                r.get(0)
            })
            .expect("newest");
        assert_eq!(reply_to, newest, "answers the client's newest message");
        let tasks = open_tasks(&h, conv);
        assert_eq!(tasks.len(), tasks_before + 1);
        let (tstate, deadline, by, source) = tasks.last().expect("task").clone();
        assert_eq!(tstate, "accepted");
        assert_eq!(by.as_deref(), Some("Анна"));
        assert_eq!(source, reply_to);
        let deadline = deadline.expect("deadline");
        assert!(!h.app.state.list.rows.iter().any(|c| c.id == conv), "answered: gone from Unanswered");

        // Remind: the deadline passes; the status line counts it overdue and the bell rings once.
        let overdue_before = h.app.state.counts.overdue;
        h.app.state.clock = pult::clock::Clock::fixed(deadline + 60, moscow());
        h.tick();
        // Other promises due today may pass with ours; at least ours now counts.
        assert!(h.app.state.counts.overdue > overdue_before);
        assert!(h.app.take_bell(), "crossing into overdue rings the bell");
        h.tick();
        assert!(!h.app.take_bell(), "once");
        h.keys("g x");
        assert!(h.app.state.list.rows.iter().any(|c| c.id == conv), "listed under Overdue");
        assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(conv), "the thread stays open");

        // Done, with one line of what was done.
        h.keys("D").type_text("Счёт выставлен").keys("<Enter>");
        let (body, ..) = outbox(&h, conv).last().expect("done queued").clone();
        assert!(body.contains("Выполнено. Счёт выставлен"), "{kind:?}: {body}");
        let (tstate, ..) = open_tasks(&h, conv).last().expect("task").clone();
        assert_eq!(tstate, "done");
        h.keys("g x");
        assert!(!h.app.state.list.rows.iter().any(|c| c.id == conv), "no longer overdue");
    }
}

#[test]
fn a_bad_deadline_keeps_the_prompt_open_and_sends_nothing() {
    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Telegram);
    let before = outbox(&h, conv).len();
    h.keys("a").type_text("когда-нибудь");
    assert!(h.screen().contains("cannot read"), "the preview says why");
    h.keys("<Enter>");
    assert!(matches!(h.app.state.popup, Some(Popup::Fields(_))), "still asking");
    h.keys("<Esc>");
    assert_eq!(outbox(&h, conv).len(), before);
}

#[test]
fn undo_takes_the_message_back_into_the_composer() {
    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Whatsapp);
    h.keys("<Enter> r").type_text("Счёт будет завтра").keys("<C-x>");
    assert_eq!(outbox(&h, conv).last().map(|o| o.1.clone()).as_deref(), Some("pending"));
    h.keys("U");
    let (body, state, ..) = outbox(&h, conv).last().expect("row").clone();
    assert_eq!(state, "cancelled");
    assert_eq!(body, "Счёт будет завтра");
    assert_eq!(h.app.state.focus, Focus::Composer);
    let text = h.app.state.composer.as_ref().expect("composer").textarea.lines().join("\n");
    assert_eq!(text, "Счёт будет завтра");
    let thread = h.app.state.thread.as_ref().expect("thread");
    assert!(!thread.messages.iter().any(|m| m.body == "Счёт будет завтра"), "gone from the thread");
    assert!(h.app.state.counts.unanswered >= 1, "the client waits again");
    // An accepted promise taken back is cancelled with it.
    h.keys("<Esc> a").type_text("пн").keys("<Enter> <C-x> U");
    let tasks = open_tasks(&h, conv);
    assert_eq!(tasks.last().map(|t| t.0.as_str()), Some("cancelled"));
    // Sending the returned acceptance again records its promise again, after one
    // confirmation: never a promise told to the client and not tracked.
    h.keys("<Esc> r").type_text(" ok").keys("<C-x>");
    assert!(h.screen().contains("Record the promise"), "{}", h.screen());
    h.keys("<C-x>");
    let tasks = open_tasks(&h, conv);
    assert_eq!(tasks.iter().filter(|t| t.0 == "accepted").count(), 1, "exactly one promise: {tasks:?}");
    // After the window the dispatcher owns the message: nothing to undo.
    h.app.state.clock = pult::clock::Clock::fixed(NOW + 11, moscow());
    h.keys("U");
    assert!(h.screen().contains("Nothing to undo"));
}

#[test]
fn tone_check_asks_once_then_sends() {
    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Telegram);
    let before = outbox(&h, conv).len();
    h.keys("<Enter> r").type_text("ВЫ ОПЯТЬ ОПОЗДАЛИ!!!").keys("<C-x>");
    assert_eq!(outbox(&h, conv).len(), before, "held back");
    assert!(h.screen().contains("Re-read before sending"));
    h.keys("<C-x>");
    assert_eq!(outbox(&h, conv).len(), before + 1, "the second send goes");
}

#[test]
fn snooze_hides_until_the_client_writes() {
    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Telegram);
    h.keys("s").type_text("в понедельник").keys("<Enter>");
    assert!(!h.app.state.list.rows.iter().any(|c| c.id == conv), "hidden from Unanswered");
    h.keys("g s");
    let row = h.app.state.list.rows.iter().find(|c| c.id == conv).expect("in Snoozed");
    assert!(row.snoozed_until.is_some());
    // The client writes: the conversation wakes early.
    let (channel, key): (i64, String) = rusqlite::Connection::open(&h.store.path)
        .expect("open")
        .query_row("SELECT channel_id, remote_key FROM conversations WHERE id = ?1", [conv], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("conv");
    let mut m = msg("wake-1", &key, "Клиент", NOW + 60, "Ну что там?");
    m.author_handle = "tg:wake".into();
    ingest(&h.store, channel, vec![m]);
    h.store_changed(&[]);
    h.keys("g u");
    assert!(h.app.state.list.rows.iter().any(|c| c.id == conv), "back in Unanswered");
}

#[test]
fn follow_up_reminds_when_the_client_stays_silent() {
    let mut h = Harness::demo(160, 45);
    h.keys("g o");
    let conv = h.app.state.list.selected().expect("row").id;
    h.keys("F").type_text("+2ч").keys("<Enter>");
    h.keys("g f");
    assert!(!h.app.state.list.rows.iter().any(|c| c.id == conv), "not yet");
    h.app.state.clock = pult::clock::Clock::fixed(NOW + 2 * 3600 + 1, moscow());
    h.keys("g f");
    assert!(h.app.state.list.rows.iter().any(|c| c.id == conv), "reminder due");
}

#[test]
fn redate_and_cancel_change_the_promise() {
    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Telegram);
    h.keys("<Enter> a").type_text("пн").keys("<Enter> <C-x>");
    h.keys("R").type_text("+3д").keys("<Enter>").type_text("ждём выписку из банка").keys("<Enter>");
    let (body, ..) = outbox(&h, conv).last().expect("redate message").clone();
    assert!(body.contains("переносится на пн 23.11 18:00") && body.contains("ждём выписку из банка"), "{body}");
    let (_, deadline, ..) = open_tasks(&h, conv).last().expect("task").clone();
    let cal = Calendar::standard(moscow());
    assert_eq!(pult::workflow::deadline::format_for_client(deadline.expect("d"), &cal), "пн 23.11 18:00");
    h.keys(":").type_text("cancel").keys("<Enter>");
    assert_eq!(open_tasks(&h, conv).last().map(|t| t.0.clone()).as_deref(), Some("cancelled"));
}

/// `R` with no promise to move, and `D` on a promise already reported done,
/// refuse at once with the reason, before a date or a reason is asked: from
/// the thread, and from the list at 80 columns where no thread shows.
#[test]
fn r_and_d_refuse_before_asking() {
    let refused_at_once = |h: &mut Harness, key: &str, reason: &str| {
        h.keys(key);
        assert!(h.app.state.popup.is_none(), "{key} asked: {:?}", h.app.state.popup);
        let status = h.app.state.status.clone().expect("a reason");
        assert!(status.error && status.text.contains(reason), "{key}: {status:?}");
    };
    let mut narrow = Harness::demo(80, 24);
    let conv = select_unanswered(&mut narrow, ChannelKind::Telegram);
    assert!(open_tasks(&narrow, conv).iter().all(|t| t.0 != "accepted"), "no promise yet");
    assert_eq!(narrow.app.state.focus, Focus::Conversations);
    refused_at_once(&mut narrow, "R", "no open promise");

    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Telegram);
    refused_at_once(&mut h, "R", "no open promise");
    h.keys("<Enter>");
    refused_at_once(&mut h, "R", "no open promise");
    // With a promise, R and D ask.
    h.keys("a").type_text("пн").keys("<Enter> <C-x>");
    h.keys("R");
    assert!(matches!(h.app.state.popup, Some(Popup::Fields(_))), "R asks for the new date");
    h.keys("<Esc> D");
    assert!(matches!(h.app.state.popup, Some(Popup::Fields(_))), "D asks what was done");
    h.type_text("Счёт выставлен").keys("<Enter>");
    assert_eq!(open_tasks(&h, conv).last().map(|t| t.0.clone()).as_deref(), Some("done"));
    // Reported done, and the client has not written since: nothing new to report, nothing to move.
    refused_at_once(&mut h, "D", "already reported done");
    refused_at_once(&mut h, "R", "no open promise");
    assert_eq!(outbox(&h, conv).len(), 2, "the acceptance and the «Выполнено»: {:?}", outbox(&h, conv));
}

#[test]
fn views_for_promises() {
    let mut h = Harness::demo(160, 45);
    let c = h.app.state.counts.clone();
    assert!(c.overdue > 0 && c.due_today > 0, "the demo has both: {c:?}");
    let counted = |h: &mut Harness, keys: &str| {
        h.keys(keys);
        h.app.state.list.rows.len() as i64
    };
    assert_eq!(counted(&mut h, "g x"), c.overdue.min(c.overdue), "Overdue lists conversations with overdue promises");
    assert!(counted(&mut h, "g t") >= 1);
    let mine = counted(&mut h, "g a");
    assert!(mine >= c.overdue, "Анна accepted them all");
    // At risk: due within two working hours of 13:00 Friday, i.e. by 15:00.
    let reader_rows = h.app.state.view_counts[View::SMART.iter().position(|v| *v == View::AtRisk).expect("at risk")];
    assert_eq!(reader_rows, c.at_risk);
}

#[test]
fn after_hours_reply_goes_once_per_off_hours_period() {
    let s = temp_store();
    let ch = channel(&s, "wa", ChannelKind::Whatsapp);
    let cal = Calendar::standard(moscow());
    let templates = Templates::shipped();
    let at = |d: &str| -> i64 {
        let dt: jiff::civil::DateTime = d.parse().expect("datetime");
        dt.to_zoned(moscow()).expect("zoned").timestamp().as_second()
    };
    // Sunday 22 Nov, 23:10: a voice message and then a second message.
    ingest(&s, ch, vec![msg("v1", "chat-1", "Светлана", at("2026-11-22T23:10"), "голосовое")]);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("rt");
    let run = |now: i64| {
        rt.block_on(pult::sync::clock::after_hours_replies(&s.writer, &cal, &templates, "Анна", now)).expect("clock")
    };
    assert_eq!(run(at("2026-11-22T23:11")), 1);
    assert_eq!(run(at("2026-11-22T23:12")), 0, "once per period");
    ingest(&s, ch, vec![msg("v2", "chat-1", "Светлана", at("2026-11-22T23:40"), "и ещё")]);
    assert_eq!(run(at("2026-11-22T23:41")), 0, "still the same night");
    assert_eq!(run(at("2026-11-23T10:00")), 0, "working hours: no automatic replies");
    let mut r = Reader::open(&s.path, "Анна").expect("reader");
    r.set_moment(cal.moment(at("2026-11-23T10:00")));
    assert_eq!(r.count(View::Unanswered).expect("count"), 1, "an automatic reply is not an answer");
    // The next night is a new period.
    ingest(&s, ch, vec![msg("v3", "chat-1", "Светлана", at("2026-11-23T22:00"), "опять ночью")]);
    assert_eq!(run(at("2026-11-23T22:01")), 1);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let bodies: Vec<String> = conn
        .prepare("SELECT body FROM outbox WHERE auto = 1")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("q")
        .map(|r| r.expect("row"))
        .collect();
    assert_eq!(bodies.len(), 2);
    assert!(bodies[0].contains("нерабочее время") && bodies[0].contains("пн–пт с 09:00 до 18:00"), "{}", bodies[0]);
}

#[test]
fn two_writers_cannot_both_send_the_after_hours_reply() {
    let s = temp_store();
    let ch = channel(&s, "wa", ChannelKind::Whatsapp);
    let conv = ingest(&s, ch, vec![msg("v1", "chat-1", "Светлана", NOW - 3600, "?")]).conversations[0];
    let reply = Reply {
        conversation_id: conv,
        reply_to_message_id: None,
        subject: None,
        body: "auto".into(),
        actor: "a".into(),
        not_before: NOW,
        auto: true,
        attachments: Vec::new(),
    };
    let (r1, r2) = (reply.clone(), reply);
    let off = NOW - 7200;
    assert!(s.writer.call_blocking(move |c| ledger::send_after_hours_reply(c, &r1, off, NOW)).expect("first"));
    let other = pult::store::Writer::spawn(&s.path).expect("second process");
    assert!(!other.call_blocking(move |c| ledger::send_after_hours_reply(c, &r2, off, NOW)).expect("second"));
}

#[test]
fn closing_a_conversation_with_an_open_promise_asks_first_and_sending_clears_after_the_window() {
    let mut h = Harness::demo(160, 45);
    let conv = select_unanswered(&mut h, ChannelKind::Telegram);
    h.keys("<Enter> a").type_text("пн").keys("<Enter> <C-x>");
    assert!(h.screen().contains("Sending in 10 s"));
    // It counts down …
    assert!(h.app.status_due().is_some(), "the loop wakes to count down");
    h.app.state.clock = pult::clock::Clock::fixed(NOW + 3, moscow());
    h.app.expire_status();
    assert!(h.screen().contains("Sending in 7 s"), "{}", h.screen());
    // … and the line goes when the window passes, without a key press.
    h.app.state.clock = pult::clock::Clock::fixed(NOW + 11, moscow());
    h.app.expire_status();
    assert!(!h.screen().contains("Sending in"), "{}", h.screen());
    h.keys("x");
    assert!(h.screen().contains("open promise"), "{}", h.screen());
    let status = |h: &Harness| -> String {
        rusqlite::Connection::open(&h.store.path)
            .expect("open")
            .query_row("SELECT status FROM conversations WHERE id = ?1", [conv], |r| r.get(0))
            .expect("status")
    };
    assert_eq!(status(&h), "open", "not closed on the first x");
    h.keys("x");
    assert_eq!(status(&h), "closed");
}
