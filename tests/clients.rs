//! Clients across channels: matching on every identity kind, the responsible
//! person on new conversations, merge and its exact undo, suggestions with
//! their reasons (none for public mail domains), the CLI contract, the card.

mod common;

use common::*;
use pult::model::{ChannelKind, Inbound};
use pult::store::{Reader, clients};

fn from(handle: &str, name: &str, key: &str, remote: &str, body: &str) -> Inbound {
    Inbound {
        remote_id: remote.into(),
        conversation_key: key.into(),
        conversation_title: name.into(),
        author_handle: handle.into(),
        author_name: name.into(),
        sent_at: NOW - 600,
        body_text: body.into(),
        ..Default::default()
    }
}

fn reader(s: &TempStore) -> Reader {
    Reader::open(&s.path, "anna").expect("reader")
}

fn contact_of(s: &TempStore, kind: &str, handle: &str) -> i64 {
    rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT contact_id FROM identities WHERE kind = ?1 AND handle = ?2", [kind, handle], |r| r.get(0))
        .expect("identity")
}

/// Everything that says who belongs to whom, to compare before and after.
fn snapshot(s: &TempStore) -> Vec<String> {
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let mut out = Vec::new();
    for sql in [
        "SELECT id || ':' || contact_id FROM identities ORDER BY id",
        "SELECT id || ':' || coalesce(contact_id, '-') FROM conversations ORDER BY id",
        "SELECT id || ':' || coalesce(merged_into, '-') || ':' || coalesce(notes, '-') || ':' || coalesce(tags, '-')
           || ':' || coalesce(kind, '-') || ':' || coalesce(inn, '-') || ':' || provisional FROM contacts ORDER BY id",
    ] {
        let mut st = conn.prepare(sql).expect(sql);
        out.extend(st.query_map([], |r| r.get::<_, String>(0)).expect("rows").map(|r| r.expect("row")));
    }
    out
}

#[test]
fn one_client_on_three_channels_keeps_its_responsible_and_a_merge_undoes_exactly() {
    let s = temp_store();
    let mail = channel(&s, "office", ChannelKind::Email);
    let tg = channel(&s, "bot", ChannelKind::Telegram);
    let wa = channel(&s, "whatsapp", ChannelKind::Whatsapp);
    ingest(&s, mail, vec![from("olga@semenova-ip.ru", "Ольга Семёнова", "<t1@x>", "m1", "Акт сверки")]);
    ingest(&s, tg, vec![from("tg:555", "Ольга Семёнова", "555", "555:1", "Добрый день")]);
    ingest(&s, wa, vec![from("79161712710", "Ольга Семёнова", "79161712710", "wamid.1", "Платёжка")]);
    let (m, t, w) = (
        contact_of(&s, "email", "olga@semenova-ip.ru"),
        contact_of(&s, "telegram", "tg:555"),
        contact_of(&s, "whatsapp", "79161712710"),
    );
    assert!(m != t && t != w, "unknown senders are provisional clients of their own");
    // The same name on different channels is suggested, with the reason.
    let suggestions = reader(&s).client_suggestions().expect("suggestions");
    assert!(suggestions.iter().any(|x| x.clients.contains(&m) && x.reason.contains("same name")), "{suggestions:?}");

    let sql = format!("UPDATE contacts SET default_assignee = 'boris', organisation = 'ИП Семёнова' WHERE id = {m}");
    s.writer.call_blocking(move |c| c.run_sql(&sql)).expect("responsible");
    assert!(reader(&s).client(t).expect("card").expect("client").summary.provisional, "made by sync");
    // Fields the merge combines: tags add up, an INN only one side knew is kept.
    s.writer
        .call_blocking(move |c| {
            clients::set_field(c, m, clients::Field::Tags, "зарплата", "anna", NOW)?;
            clients::set_field(c, t, clients::Field::Tags, "VIP, Зарплата", "anna", NOW)?;
            clients::set_field(c, w, clients::Field::Inn, "771234567890", "anna", NOW)
        })
        .expect("fields");
    assert!(!reader(&s).client(t).expect("card").expect("client").summary.provisional, "edited: no longer provisional");
    let before_with_responsible = snapshot(&s);
    let merge = s.writer.call_blocking(move |c| clients::merge(c, m, &[t, w], "anna", NOW)).expect("merge");
    let card = reader(&s).client(m).expect("card").expect("client");
    assert_eq!(card.summary.identities.len(), 3, "{card:?}");
    assert_eq!(card.summary.tags, vec!["зарплата".to_string(), "VIP".into()], "tags add up, no repeats");
    assert_eq!(card.summary.inn.as_deref(), Some("771234567890"));
    assert_eq!(card.conversations.len(), 3, "every channel's conversation on one card");
    assert_eq!(reader(&s).client(t).expect("card").expect("tombstone leads on").summary.id, m);
    assert_eq!(reader(&s).clients().expect("list").len(), 1, "merged clients are not listed");

    // An id a person still has for a merged client leads to the live one; an unknown id says so.
    let unknown = s.writer.call_blocking(move |c| clients::merge(c, m, &[99_999], "anna", NOW));
    assert!(unknown.is_err_and(|e| e.to_string().contains("no client 99999")));
    let again = s.writer.call_blocking(move |c| clients::merge(c, m, &[t], "anna", NOW));
    assert!(again.is_err_and(|e| e.to_string().contains("nothing to merge")), "t is m already");

    s.writer.call_blocking(move |c| clients::unmerge(c, merge, "anna", NOW)).expect("unmerge");
    assert_eq!(snapshot(&s), before_with_responsible, "undo restores exactly");

    // Merged again: each identity kind now finds the one client, and a new
    // conversation from any channel gets its responsible person.
    s.writer.call_blocking(move |c| clients::merge(c, m, &[t, w], "anna", NOW)).expect("merge again");
    // Matching: each identity kind now finds the merged client, and a new
    // conversation from any channel gets its responsible person.
    ingest(&s, wa, vec![from("79161712710", "Ольга", "79161712710-2", "wamid.2", "Ещё вопрос")]);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let (client, assignee): (i64, Option<String>) = conn
        .query_row("SELECT contact_id, assignee FROM conversations WHERE remote_key = '79161712710-2'", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("new conversation");
    assert_eq!((client, assignee.as_deref()), (m, Some("boris")));
}

#[test]
fn suggestions_say_why_and_public_domains_suggest_nothing() {
    let s = temp_store();
    let mail = channel(&s, "office", ChannelKind::Email);
    let wa = channel(&s, "whatsapp", ChannelKind::Whatsapp);
    let tg = channel(&s, "bot", ChannelKind::Telegram);
    ingest(&s, wa, vec![from("79162583800", "Пекарня", "79162583800", "w1", "Привет")]);
    ingest(
        &s,
        mail,
        vec![
            // The WhatsApp number in a mail signature.
            from("buh@kolosok.ru", "Людмила", "<a@x>", "m1", "Вопрос по зарплате\n--\nтел. 8 (916) 258-38-00"),
            // Two people at one company domain.
            from("ivan@orion-group.ru", "Иван Петров", "<b@x>", "m2", "Счёт"),
            from("maria@orion-group.ru", "Мария Кузнецова", "<c@x>", "m3", "Акт"),
            // Two strangers at gmail: nothing in common.
            from("a.smirnov@gmail.com", "Андрей Смирнов", "<d@x>", "m4", "Вопрос"),
            from("k.volkova@gmail.com", "Ксения Волкова", "<e@x>", "m5", "Вопрос"),
        ],
    );
    // One person by a full name on mail and initials on Telegram; five namesakes
    // on two channels are not one person and are never suggested.
    ingest(&s, mail, vec![from("p.sidorov@stroy.test", "Пётр Сидоров", "<f@x>", "m6", "Смета")]);
    ingest(&s, tg, vec![from("tg:31", "Сидоров П.", "31", "31:1", "Смета у вас?")]);
    for i in 0..5 {
        let (handle, key) = (format!("olga{i}@firm{i}.test"), format!("<o{i}@x>"));
        ingest(&s, mail, vec![from(&handle, "Ольга Иванова", &key, &format!("o{i}"), "Вопрос")]);
        let (handle, key) = (format!("tg:40{i}"), format!("40{i}"));
        ingest(&s, tg, vec![from(&handle, "Иванова Ольга", &key, &format!("40{i}:1"), "Вопрос")]);
    }
    let group = Inbound { is_group: true, ..from("tg:9", "Иван", "-100", "-100:1", "Документы") };
    let group = Inbound { conversation_title: "Орион Групп — бухгалтерия".into(), ..group };
    // The client's bookkeeper writes in the same group: one client's person.
    let bookkeeper =
        Inbound { author_handle: "tg:10".into(), author_name: "Мария Бухова".into(), ..group.clone() };
    let bookkeeper = Inbound { remote_id: "-100:2".into(), ..bookkeeper };
    ingest(&s, tg, vec![group, bookkeeper]);
    s.writer
        .call_blocking(|c| {
            c.run_sql("UPDATE contacts SET organisation = 'ООО «Орион Групп»' WHERE name = 'Мария Кузнецова'")
        })
        .expect("org");
    let all = reader(&s).client_suggestions().expect("suggestions");
    let has = |what: &str| all.iter().any(|x| x.reason.contains(what));
    assert!(has("the same phone +79162583800"), "{all:?}");
    assert!(has("domain orion-group.ru"), "{all:?}");
    assert!(has("the group «орион групп — бухгалтерия»"), "{all:?}");
    assert!(!has("gmail.com"), "public mail domains say nothing: {all:?}");
    assert!(has("Пётр Сидоров / Сидоров П.") || has("Сидоров П. / Пётр Сидоров"), "an initial: {all:?}");
    assert!(!has("Ольга Иванова"), "ten namesakes are not one person: {all:?}");
    let member = all.iter().find(|x| x.rule == "member").expect("a member of the client's group");
    assert_eq!(member.clients, {
        let mut v = vec![contact_of(&s, "telegram", "tg:9"), contact_of(&s, "telegram", "tg:10")];
        v.sort();
        v
    });
    assert!(member.reason.contains("Мария Бухова writes in the group «Орион Групп — бухгалтерия»"), "{member:?}");
    for s in &all {
        assert!(["phone", "domain", "name", "group", "member"].contains(&s.rule) && !s.detail.is_empty(), "{s:?}");
    }
    // Dismissed for good.
    let phone = all.iter().find(|x| x.reason.contains("phone")).expect("phone").clients.clone();
    s.writer.call_blocking(move |c| clients::dismiss(c, phone[0], phone[1])).expect("dismiss");
    assert!(!reader(&s).client_suggestions().expect("again").iter().any(|x| x.reason.contains("phone")));
}

#[test]
fn the_command_line_contract_and_the_card_at_80x24() {
    let home = tempfile::tempdir().expect("home");
    let store = demo_store(home.path());
    let run = |args: &[&str]| {
        let out = pult(home.path()).args(args).arg("--store").arg(&store).output().expect("pult");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    let list: serde_json::Value = serde_json::from_str(&run(&["clients", "--json"])).expect("json");
    let multi: Vec<&serde_json::Value> = list
        .as_array()
        .expect("array")
        .iter()
        .filter(|c| {
            let kinds: std::collections::BTreeSet<&str> =
                c["identities"].as_array().expect("identities").iter().filter_map(|i| i["kind"].as_str()).collect();
            kinds.len() >= 2
        })
        .collect();
    assert!(multi.len() >= 3, "the demo has clients on two channels: {multi:?}");
    for key in ["id", "name", "organisation", "responsible", "identities", "open_tasks", "waiting"] {
        assert!(multi[0].get(key).is_some(), "{key}");
    }
    // A client whose newest messages come from more than one channel (the list is neediest first).
    let card: serde_json::Value = multi
        .iter()
        .map(|c| {
            let id = c["id"].as_i64().expect("id").to_string();
            serde_json::from_str::<serde_json::Value>(&run(&["client", "show", &id, "--json"])).expect("json")
        })
        .find(|card| {
            let kinds: std::collections::BTreeSet<&str> = card["timeline"]
                .as_array()
                .map(|t| t.iter().filter_map(|e| e["kind"].as_str()).collect())
                .unwrap_or_default();
            kinds.len() >= 2
        })
        .expect("a card whose timeline mixes channels");
    let id = card["id"].to_string();
    let conv = &card["conversations"][0];
    for key in ["conversation", "channel", "kind", "subject", "last_date", "waiting_since"] {
        assert!(conv.get(key).is_some(), "{key} in {conv}");
    }
    // Open promises with their deadlines.
    let promised =
        list.as_array().expect("array").iter().find(|c| c["open_tasks"].as_i64() > Some(0)).expect("a promise");
    let with: serde_json::Value =
        serde_json::from_str(&run(&["client", "show", &promised["id"].to_string(), "--json"])).expect("json");
    let p = &with["promises"][0];
    assert!(
        p["deadline"].as_str().is_some_and(|d| d.contains('T')) && p["what"].as_str().is_some_and(|w| !w.is_empty()),
        "{with}"
    );
    assert_eq!(with["promises"].as_array().map(Vec::len), promised["open_tasks"].as_u64().map(|n| n as usize));
    // The timeline mixes the client's channels.
    let kinds: std::collections::BTreeSet<&str> =
        card["timeline"].as_array().expect("timeline").iter().filter_map(|e| e["kind"].as_str()).collect();
    assert!(kinds.len() >= 2, "{kinds:?}");
    let suggestions: serde_json::Value =
        serde_json::from_str(&run(&["client", "suggestions", "--json"])).expect("json");
    let first = &suggestions[0];
    assert!(first["clients"].as_array().is_some_and(|c| c.len() == 2) && first["reason"].is_string(), "{suggestions}");
    let (a, b) = (first["clients"][0].to_string(), first["clients"][1].to_string());
    run(&["client", "set", &id, "inn", "7701234567"]);
    run(&["client", "set", &id, "note", "Директор на связи только в WhatsApp"]);
    let card: serde_json::Value = serde_json::from_str(&run(&["client", "show", &id, "--json"])).expect("json");
    assert!(card["notes"].as_str().is_some_and(|n| n.contains("только в WhatsApp")), "{card}");
    let merged = run(&["client", "merge", "--into", &a, &b]);
    assert!(merged.contains("merge "), "{merged}");

    // The card in the TUI, at 80x24, in Russian.
    let mut h = Harness::demo_ru(80, 24);
    h.keys("<Enter> C");
    let screen = h.screen();
    assert!(screen.contains("Ответственный") && screen.contains("Открытые обещания"), "{screen}");
    assert!(screen.contains("Все каналы, сначала новые"), "the timeline: {screen}");
    // Edited from the card's conversation: a note about the client.
    h.keys("<Esc> :").type_text("client-note Сдаёт отчёты в последний день").keys("<Enter>");
    assert!(h.screen().contains("Сдаёт отчёты в последний день"), "the card shows it: {}", h.screen());
    // `:client NAME`: one client's conversations on every channel.
    h.keys("<Esc> <Esc> :").type_text("client семенова").keys("<Enter>");
    let kinds: std::collections::BTreeSet<&str> = h.app.state.list.rows.iter().map(|r| r.kind.as_str()).collect();
    assert!(kinds.len() >= 2, "WhatsApp and email: {kinds:?}");
    assert!(h.screen().contains("Клиент: ИП Семёнова"), "{}", h.screen());
    // `:clients`: every client, what waits and what is overdue.
    h.keys(":").type_text("clients").keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("Клиенты") && screen.contains("ИП Семёнова") && screen.contains("[@ WA]"), "{screen}");
}

#[test]
fn an_identity_splits_off_and_a_hand_over_moves_the_open_conversations() {
    let s = temp_store();
    let mail = channel(&s, "office", ChannelKind::Email);
    let wa = channel(&s, "whatsapp", ChannelKind::Whatsapp);
    ingest(&s, mail, vec![from("olga@semenova-ip.ru", "Ольга Семёнова", "<t1@x>", "m1", "Акт сверки")]);
    ingest(&s, wa, vec![from("79161712710", "Ольга Семёнова", "79161712710", "w1", "Платёжка")]);
    let (m, w) = (contact_of(&s, "email", "olga@semenova-ip.ru"), contact_of(&s, "whatsapp", "79161712710"));
    s.writer.call_blocking(move |c| clients::merge(c, m, &[w], "anna", NOW)).expect("merge");
    let moved = s
        .writer
        .call_blocking(move |c| clients::hand_over(c, m, Some("boris"), "anna", Some("Анна в отпуске"), NOW))
        .expect("hand over");
    assert_eq!(moved, 2, "both channels' open conversations");
    let card = reader(&s).client(m).expect("card").expect("client");
    assert_eq!(card.summary.responsible.as_deref(), Some("boris"));
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let boris: i64 =
        conn.query_row("SELECT count(*) FROM conversations WHERE assignee = 'boris'", [], |r| r.get(0)).expect("n");
    assert_eq!(boris, 2);
    let new = s.writer.call_blocking(|c| clients::split(c, "whatsapp", "79161712710", "anna", NOW)).expect("split");
    assert_eq!(contact_of(&s, "whatsapp", "79161712710"), new);
    let owner: i64 = conn
        .query_row("SELECT contact_id FROM conversations WHERE remote_key = '79161712710'", [], |r| r.get(0))
        .expect("c");
    assert_eq!(owner, new, "its conversation went with it");
    assert_eq!(reader(&s).client(m).expect("card").expect("client").conversations.len(), 1);
}

#[test]
fn a_telegram_username_a_group_and_a_handle_find_their_client() {
    let s = temp_store();
    let tg = channel(&s, "bot", ChannelKind::Telegram);
    let mut private = from("tg:777", "Иван Крылов", "777", "777:1", "Здравствуйте");
    private.author_username = Some("ivan_krylov".into());
    let mut group = from("tg:777", "Иван Крылов", "-100500", "-100500:1", "Коллеги, акт во вложении");
    group.is_group = true;
    group.conversation_title = "Крылов и партнёры — бухгалтерия".into();
    ingest(&s, tg, vec![private, group]);
    let client = contact_of(&s, "telegram", "tg:777");
    let card = reader(&s).client(client).expect("card").expect("client");
    let shown: Vec<String> = card.summary.identities.iter().map(|i| format!("{}={}", i.kind, i.shown())).collect();
    assert!(shown.contains(&"telegram=tg:777 @ivan_krylov".to_string()), "{shown:?}");
    assert!(
        shown.contains(&"telegram_group=Крылов и партнёры — бухгалтерия (-100500)".to_string()),
        "the group the client writes in: {shown:?}"
    );
    assert_eq!(card.summary.kind, "person");
    for handle in ["@ivan_krylov", "tg:777", "крылов"] {
        assert_eq!(reader(&s).find_client(handle).expect("find"), Some(client), "{handle}");
    }
    // `client set … kind` takes the two words and refuses a third with the reason.
    s.writer
        .call_blocking(move |c| clients::set_field(c, client, clients::Field::Kind, "организация", "anna", NOW))
        .expect("kind");
    assert_eq!(reader(&s).client(client).expect("card").expect("client").summary.kind, "organisation");
    let bad =
        s.writer.call_blocking(move |c| clients::set_field(c, client, clients::Field::Kind, "robot", "anna", NOW));
    assert!(bad.is_err_and(|e| e.to_string().contains("person or organisation")));
}

/// The card is a place to work in, at 80x24 in Russian: Enter opens a
/// conversation of another channel, fields are edited where they stand, the
/// client is handed over, a suggestion is accepted (and undone) or dismissed.
#[test]
fn the_card_opens_conversations_edits_in_place_and_takes_suggestions() {
    use pult::tui::state::{CardField, CardRow, Popup};
    let mut h = Harness::demo_ru(80, 24);
    h.keys(":").type_text("client семенова").keys("<Enter>");
    h.keys("C");
    let card = |h: &Harness| match &h.app.state.popup {
        Some(Popup::Card(c)) => c.clone(),
        other => panic!("the card should be open: {other:?}"),
    };
    let c = card(&h);
    let client = c.client();
    // Go to a conversation on WhatsApp and open it.
    let rows = c.rows();
    let wa = rows
        .iter()
        .position(|r| match r {
            CardRow::Conversation(id) => {
                c.card.conversations.iter().any(|x| x.conversation == *id && x.kind == "whatsapp")
            }
            _ => false,
        })
        .expect("a WhatsApp conversation on the card");
    let CardRow::Conversation(wa_id) = rows[wa] else { unreachable!() };
    let moves = wa as i64 - c.cursor as i64;
    let key = if moves > 0 { "j" } else { "k" };
    for _ in 0..moves.abs() {
        h.keys(key);
    }
    assert_eq!(card(&h).selected(), Some(CardRow::Conversation(wa_id)));
    h.keys("<Enter>");
    assert!(h.app.state.popup.is_none(), "the card gave way to the conversation");
    assert_eq!(h.app.state.thread.as_ref().map(|t| t.conversation.id), Some(wa_id));
    assert_eq!(h.app.state.view, pult::model::View::Client(client));

    // Back to the card; edit the organisation and the tags in place.
    h.keys("C");
    let go = |h: &mut Harness, row: CardRow| {
        let c = card(h);
        let at = c.rows().iter().position(|r| *r == row).expect("row");
        for _ in 0..c.cursor.abs_diff(at) {
            h.keys(if at > c.cursor { "j" } else { "k" });
        }
    };
    go(&mut h, CardRow::Field(CardField::Organisation));
    h.keys("<Enter> <C-u>").type_text("ИП Семёнова О. Н.").keys("<Enter>");
    go(&mut h, CardRow::Field(CardField::Tags));
    h.keys("<Enter>").type_text("VIP, зарплата").keys("<Enter>");
    go(&mut h, CardRow::Field(CardField::Notes));
    h.keys("<Enter>").type_text("Звонить после 11").keys("<Enter>");
    let screen = h.screen();
    for shown in ["ИП Семёнова О. Н.", "#VIP #зарплата", "✎ Звонить после 11"] {
        assert!(screen.contains(shown), "{shown}: {screen}");
    }
    let r = Reader::open(&h.store.path.clone(), "anna").expect("reader");
    let s = r.client(client).expect("card").expect("client").summary;
    assert_eq!((s.organisation.as_deref(), s.tags.len()), (Some("ИП Семёнова О. Н."), 2));
    // Kind: Enter switches person ↔ organisation.
    go(&mut h, CardRow::Field(CardField::Kind));
    let kind = card(&h).card.summary.kind.clone();
    h.keys("<Enter>");
    assert_ne!(card(&h).card.summary.kind, kind);
    // The client handed over from the card: name (unknown: Enter again), then the note.
    h.keys("A <C-u>").type_text("Борис").keys("<Enter>");
    h.keys("<Enter>").type_text("Анна в отпуске").keys("<Enter>");
    let s = r.client(client).expect("card").expect("client");
    assert_eq!(s.summary.responsible.as_deref(), Some("Борис"));
    let conn = rusqlite::Connection::open(h.store.path.clone()).expect("open");
    let open_not_boris: i64 = conn
        .query_row(
            "SELECT count(*) FROM conversations WHERE contact_id = ?1 AND status = 'open' AND assignee IS NOT 'Борис'",
            [client],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(open_not_boris, 0, "every open conversation moved");
    // Search by the tag finds this client's conversations only.
    h.keys("<Esc> /").type_text("tag:vip").keys("<Enter>");
    let hits = &h.app.state.search.as_ref().expect("results").hits;
    assert!(!hits.is_empty());
    for hit in hits {
        assert_eq!(r.client_of(hit.conversation).expect("client"), Some(client));
    }

    // A new sender who may be a known client says so in the thread's header.
    h.keys("<Esc> :").type_text("client buh.kolosok@gmail.com").keys("<Enter> <Enter>");
    let screen = h.screen();
    assert!(
        screen.contains("Возможно, тот же клиент")
            && screen.contains("Пекарня Колосок")
            && screen.contains("C карточка"),
        "{screen}"
    );
    // A reload (new mail, a refresh) keeps it.
    let open = h.app.state.thread.as_ref().map(|t| t.conversation.id).expect("open thread");
    h.run_effects(vec![pult::tui::state::Effect::LoadThread(open)]);
    assert!(h.app.state.thread.as_ref().is_some_and(|t| t.client_hint.is_some()));
    // `:clients` lists the pending suggestion first: Enter merges, u undoes, d dismisses.
    h.keys("<Esc> :").type_text("clients").keys("<Enter>");
    let list = match &h.app.state.popup {
        Some(Popup::Clients(l)) => l.clone(),
        other => panic!("clients: {other:?}"),
    };
    assert_eq!(list.cursor, 0);
    let pair = list.suggestions.first().expect("the demo's pending suggestion").suggestion.clients.clone();
    assert!(h.screen().contains("тот же телефон"), "the reason, in Russian: {}", h.screen());
    let live = |r: &Reader| r.clients().expect("clients").iter().filter(|c| pair.contains(&c.id)).count();
    h.keys("<Enter>");
    assert_eq!(live(&r), 1, "merged");
    let merged = card(&h);
    assert!(pair.contains(&merged.client()), "the merged client's card follows");
    assert!(!merged.card.summary.provisional, "into the client someone knew, not the new sender");
    assert!(matches!(merged.selected(), Some(CardRow::Promise(0))), "the card opens on the soonest promise");
    let when = merged.card.promises[0].deadline.map(|d| h.app.state.clock.full(d)).expect("deadline");
    assert!(h.screen().contains(&format!("⚑ {when}")), "the promise with its deadline: {}", h.screen());
    assert!(h.app.state.thread.as_ref().is_some_and(|t| t.client_hint.is_none()), "the thread's hint is spent");
    assert!(h.screen().contains("u отменить"), "{}", h.screen());
    h.keys("u");
    assert_eq!(live(&r), 2, "undone");
    // Esc on a card opened from the list goes back to the list.
    h.keys("<Esc>");
    assert!(matches!(h.app.state.popup, Some(Popup::Clients(_))), "{:?}", h.app.state.popup);
    h.keys("d");
    assert!(r.client_suggestions().expect("suggestions").iter().all(|x| x.clients != pair), "dismissed for good");
    assert_eq!(live(&r), 2);
    // `/` finds a client among many by part of a name, a handle or a tag; Enter opens its card.
    h.keys("/").type_text("vip").keys("<Enter>");
    let Some(Popup::Clients(list)) = &h.app.state.popup else { panic!("the list") };
    assert_eq!(list.rows().len(), 1, "only the tagged client");
    h.keys("<Enter>");
    assert_eq!(card(&h).client(), client);
}
