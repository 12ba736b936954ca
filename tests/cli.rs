//! The command-line contract other programs rely on: `status --json`, `search --json`,
//! the first-run help, and `--store` / `--config` everywhere.

mod common;

use common::{demo_store, pult};

#[test]
fn status_json_has_the_contract_keys() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let out = pult(home.path()).args(["status", "--json", "--store"]).arg(&store).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for key in ["unanswered", "open", "overdue", "due_today"] {
        assert!(v[key].is_i64(), "{key} missing or not an integer: {v}");
    }
    assert!(v["open"].as_i64().expect("open") >= 20);
    assert!(v["unanswered"].as_i64().expect("unanswered") >= 1);
    assert!(v["overdue"].as_i64().expect("overdue") >= 1, "the demo has overdue promises: {v}");
}

#[test]
fn search_json_is_an_array_with_the_contract_keys() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let out = pult(home.path()).args(["search", "счёт", "--json", "--store"]).arg(&store).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let items = v.as_array().expect("an array");
    assert!(!items.is_empty());
    for item in items {
        assert!(item["conversation"].is_i64(), "{item}");
        assert!(item["channel"].is_string(), "{item}");
        assert!(matches!(item["kind"].as_str(), Some("message" | "note")), "{item}");
        assert!(matches!(item["channel_kind"].as_str(), Some("email" | "telegram" | "whatsapp")), "{item}");
        assert!(item["highlights"].is_array(), "{item}");
        assert!(item["from"].is_string(), "{item}");
        assert!(item["subject"].is_string() || item["subject"].is_null(), "{item}");
        let date = item["date"].as_str().expect("date");
        assert!(jiff::Timestamp::strptime("%Y-%m-%dT%H:%M:%S%:z", date).is_ok(), "RFC 3339: {date}");
        assert!(item["snippet"].is_string(), "{item}");
    }
    // A query that cannot mean anything: one line saying why, exit 2.
    let out = pult(home.path()).args(["search", "foo:bar", "--json", "--store"]).arg(&store).output().expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("unknown search key \"foo:\""), "{err}");
    assert!(out.stdout.is_empty());
    // An argument the shell kept whole is one phrase, also after a key.
    let out =
        pult(home.path()).args(["search", "счета на оплату", "--json", "--store"]).arg(&store).output().expect("run");
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(!v.as_array().expect("array").is_empty(), "the phrase «счёт на оплату» is in the demo");
    // Nothing found is an empty array, not an error.
    let out = pult(home.path()).args(["search", "zanzibarite", "--json", "--store"]).arg(&store).output().expect("run");
    assert!(out.status.success());
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("json"), serde_json::json!([]));
}

#[test]
fn without_config_pult_explains_how_to_start() {
    let home = tempfile::tempdir().expect("tmp");
    let out = pult(home.path()).output().expect("run");
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pult demo"), "{text}");
    assert!(text.contains("[[accounts]]"), "shows an example config: {text}");
}

#[test]
fn a_broken_config_is_a_clear_error() {
    let home = tempfile::tempdir().expect("tmp");
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "[hours]\nstart = \"25:99\"\n").expect("write");
    let out = pult(home.path()).args(["status", "--config"]).arg(&cfg).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("line 2") && err.contains("`start`"), "{err}");
    assert!(!err.contains("25:99"), "the value is not repeated: {err}");
}

#[test]
fn config_store_path_is_used() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, format!("[store]\npath = {:?}\n", store.display().to_string())).expect("write");
    let out = pult(home.path()).args(["status", "--json", "--config"]).arg(&cfg).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["open"].as_i64().expect("open") > 0);
}

#[test]
fn status_json_has_the_ledger_keys_and_agenda_lists_promises() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let out = pult(home.path()).args(["status", "--json", "--store"]).arg(&store).output().expect("run");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(v["at_risk"].is_i64(), "{v}");
    assert!(v["oldest_unanswered_minutes"].as_i64().expect("minutes") > 0, "the demo has waiting clients: {v}");
    let out = pult(home.path()).args(["agenda", "--json", "--store"]).arg(&store).output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let items = items.as_array().expect("array");
    assert_eq!(items.len() as i64, v["overdue"].as_i64().expect("o") + v["due_today"].as_i64().expect("d"));
    let mut last = String::new();
    for i in items {
        assert!(i["conversation"].is_i64() && i["channel"].is_string(), "{i}");
        assert!(matches!(i["state"].as_str(), Some("overdue" | "due_today")), "{i}");
        let d = i["deadline"].as_str().expect("deadline").to_string();
        // Same offset everywhere in one zone, so text order is time order.
        assert!(d >= last, "sorted by deadline");
        last = d;
    }
}

#[test]
fn config_mistakes_name_the_line_and_never_show_a_secret() {
    let home = tempfile::tempdir().expect("tmp");
    let cfg = home.path().join("config.toml");
    let run = |text: &str| {
        std::fs::write(&cfg, text).expect("write");
        let out = pult(home.path()).args(["doctor", "--config"]).arg(&cfg).output().expect("run");
        assert!(!out.status.success(), "a broken config is refused: {text}");
        assert!(out.stdout.is_empty() || !String::from_utf8_lossy(&out.stdout).contains('✓'));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let account = "[[accounts]]\nkind = \"email\"\nname = \"office\"\naddress = \"a@x.test\"\n\
                   imap = { host = \"h\", port = 993, user = \"u\", password_command = [\"pass\", \"m\"] }\n\
                   smtp = { host = \"h\", port = 465, user = \"u\", password_command = [\"pass\", \"m\"] }\n";
    let err = run(&format!("{account}sent_foldr = \"Sent\"\n"));
    assert!(err.contains("config.toml") && err.contains("line 7"), "{err}");
    assert!(err.contains("did you mean `sent_folder`"), "{err}");
    let err = run(&format!("{account}password = \"PLAINSECRET\"\n"));
    assert!(err.contains("password_command") && !err.contains("PLAINSECRET"), "{err}");
    let err = run("[[accounts]]\nkind = \"email\"\nimap = { password_command = [\"printf\", \"SYNTAXSECRET1\"\n");
    assert!(err.contains("line 3") && !err.contains("SYNTAXSECRET1"), "{err}");
    // No accounts at all: doctor says so and fails.
    std::fs::write(&cfg, "[agent]\nname = \"Анна\"\n").expect("write");
    let out = pult(home.path()).args(["doctor", "--config"]).arg(&cfg).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("no accounts"));
}

#[test]
fn an_error_is_printed_once() {
    let home = tempfile::tempdir().expect("tmp");
    let store = home.path().join("not-a-store.db");
    std::fs::write(&store, vec![b'x'; 4096]).expect("write");
    let out = pult(home.path()).args(["status", "--store"]).arg(&store).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.matches("file is not a database").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // In Russian: what happened and what to do, once, with the file's name.
    let out =
        pult(home.path()).env("LANG", "ru_RU.UTF-8").args(["status", "--store"]).arg(&store).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("не хранилище pult") && err.contains("not-a-store.db"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn agenda_takes_days_and_audit_shows_deadlines_as_times() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let run = |args: &[&str]| -> serde_json::Value {
        let out = pult(home.path()).args(args).arg("--store").arg(&store).output().expect("run");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let today = run(&["agenda", "--json"]).as_array().map(Vec::len).unwrap_or(0);
    let week = run(&["agenda", "--days", "30", "--json"]);
    let week = week.as_array().expect("array");
    assert!(week.len() > today, "later promises appear with --days: {today} vs {}", week.len());
    assert!(week.iter().any(|i| i["state"] == "upcoming"));
    let audit = run(&["audit", "--json"]);
    let details: Vec<&str> = audit
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|e| e["detail"].as_str())
        .filter(|d| d.contains("deadline"))
        .collect();
    assert!(!details.is_empty());
    for d in details {
        assert!(
            d.contains('T') && !d.split(' ').any(|w| w.len() == 10 && w.bytes().all(|b| b.is_ascii_digit())),
            "{d}"
        );
    }
}

/// A store with an email thread (the client's mail to us and a colleague, with
/// a file, and an internal note) and a Telegram chat; returns (store dir,
/// store path, email conversation, our-only email conversation, chat).
fn scripted_store() -> (common::TempStore, i64, i64, i64) {
    use pult::model::{ChannelKind, Inbound, InboundAttachment};
    let s = common::temp_store();
    let mail = common::channel(&s, "office", ChannelKind::Email);
    let tg = common::channel(&s, "bot", ChannelKind::Telegram);
    let client_mail = Inbound {
        remote_id: "imap:1:1:INBOX".into(),
        message_id: Some("<q1@client.test>".into()),
        conversation_key: "<q1@client.test>".into(),
        conversation_title: "Акт сверки".into(),
        author_handle: "irina@client.test".into(),
        author_name: "Ирина Петрова".into(),
        sent_at: common::NOW - 3600,
        subject: Some("Акт сверки".into()),
        body_text: "Пришлите акт сверки за квартал".into(),
        recipients: vec!["anna@office.test".into(), "oleg@client.test".into()],
        cc: vec!["oleg@client.test".into()],
        attachments: vec![InboundAttachment {
            name: "реестр.pdf".into(),
            mime: "application/pdf".into(),
            size: 1234,
            remote_ref: Some("part:0".into()),
            duration: None,
        }],
        ..Default::default()
    };
    let ours_only = Inbound {
        remote_id: "imap:1:2:Sent".into(),
        message_id: Some("<o1@office.test>".into()),
        conversation_key: "<o1@office.test>".into(),
        conversation_title: "Напоминание".into(),
        outgoing: true,
        author_handle: "anna@office.test".into(),
        author_name: "Анна".into(),
        sent_at: common::NOW - 7200,
        subject: Some("Напоминание".into()),
        body_text: "Напоминаю о сроках".into(),
        recipients: vec!["irina@client.test".into()],
        ..Default::default()
    };
    let r = common::ingest(&s, mail, vec![client_mail, ours_only]);
    let (email, ours) = (r.conversations[0].min(r.conversations[1]), r.conversations[0].max(r.conversations[1]));
    let chat = common::ingest(&s, tg, vec![common::msg("42:7", "42", "Олег", common::NOW - 600, "Счёт оплатили?")])
        .conversations[0];
    s.writer
        .call_blocking(move |c| pult::store::team::add_note(c, email, "anna", "Звонила, ждут до пятницы", common::NOW))
        .expect("note");
    (s, email, ours, chat)
}

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

#[test]
fn thread_json_has_the_contract_keys_oldest_first() {
    let (s, email, _, _) = scripted_store();
    let home = tempfile::tempdir().expect("tmp");
    let thread = |id: i64| {
        json_of(
            &pult(home.path())
                .args(["thread", "--json", "--conversation", &id.to_string(), "--store"])
                .arg(&s.path)
                .output()
                .expect("run"),
        )
    };
    let v = thread(email);
    for key in
        ["conversation", "channel", "kind", "client", "subject", "waiting_since", "assignee", "tasks", "messages"]
    {
        assert!(v.get(key).is_some(), "{key} missing: {v}");
    }
    assert_eq!(v["conversation"], email);
    assert_eq!(v["kind"], "email");
    assert_eq!(v["channel"], "office");
    assert_eq!(v["subject"], "Акт сверки");
    assert!(v["waiting_since"].is_string(), "the client waits: {v}");
    let messages = v["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "the mail and the note: {v}");
    let first = &messages[0];
    for key in [
        "id",
        "remote_id",
        "direction",
        "author",
        "date",
        "body",
        "delivery",
        "error",
        "deleted",
        "edited",
        "internal",
        "attachments",
    ] {
        assert!(first.get(key).is_some(), "{key} missing: {first}");
    }
    assert_eq!(first["direction"], "in");
    assert_eq!(first["remote_id"], "imap:1:1:INBOX");
    assert!(first["delivery"].is_null() && first["error"].is_null());
    assert_eq!(first["internal"], false);
    assert!(first["date"].as_str().expect("date").contains('T'), "RFC 3339: {first}");
    assert_eq!(first["attachments"][0]["name"], "реестр.pdf");
    assert_eq!(first["attachments"][0]["index"], 0);
    assert_eq!(first["attachments"][0]["size"], 1234);
    assert_eq!(messages[1]["internal"], true, "the note comes after the mail");
    // A missing conversation is one clear line.
    let out =
        pult(home.path()).args(["thread", "--conversation", "999", "--store"]).arg(&s.path).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no conversation 999"));
}

#[test]
fn reply_queues_on_the_conversations_channel_or_refuses_with_one_line() {
    let (s, email, ours, chat) = scripted_store();
    let home = tempfile::tempdir().expect("tmp");
    let conv = |id: i64| id.to_string();
    let thread = |id: i64| {
        json_of(
            &pult(home.path())
                .args(["thread", "--json", "--conversation", &conv(id), "--store"])
                .arg(&s.path)
                .output()
                .expect("run"),
        )
    };
    let v = json_of(
        &pult(home.path())
            .args(["reply", "--json", "--conversation", &conv(email), "--body", "Принято в работу", "--store"])
            .arg(&s.path)
            .output()
            .expect("run"),
    );
    assert_eq!(v["conversation"], email);
    assert!(v["outbox"].as_i64().expect("outbox") > 0);
    assert_eq!(v["state"], "pending");
    let t = thread(email);
    let last = t["messages"].as_array().expect("messages").last().expect("last").clone();
    assert_eq!((last["direction"].as_str(), last["delivery"].as_str()), (Some("out"), Some("pending")));
    assert_eq!(last["body"], "Принято в работу");
    assert!(t["waiting_since"].is_null(), "answered: nobody waits now");
    // Our own mail alone: nobody to reply to; nothing queued.
    let out = pult(home.path())
        .args(["reply", "--conversation", &conv(ours), "--body", "Ещё раз", "--store"])
        .arg(&s.path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(err.contains("nobody to reply to"), "{err}");
    assert_eq!(thread(ours)["messages"].as_array().expect("m").len(), 1);
    // A chat, the text from standard input; then a template.
    let mut child = pult(home.path())
        .args(["reply", "--conversation", &conv(chat), "--body", "-", "--store"])
        .arg(&s.path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), "Да, пришло\n".as_bytes()).expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let out = pult(home.path())
        .args(["reply", "--conversation", &conv(chat), "--template", "documents-received", "--store"])
        .arg(&s.path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let t = thread(chat);
    let bodies: Vec<&str> = t["messages"].as_array().expect("m").iter().filter_map(|m| m["body"].as_str()).collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(bodies[1], "Да, пришло");
    assert!(!bodies[2].is_empty() && !bodies[2].contains("{{"), "the template filled: {bodies:?}");
    assert_eq!(t["kind"], "telegram");
    assert!(t["subject"].is_null());
    // An unknown template names the ones there are.
    let out = pult(home.path())
        .args(["reply", "--conversation", &conv(chat), "--template", "nope", "--store"])
        .arg(&s.path)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("accept"));
}

/// Completions for three shells and a man page, from the command-line definition itself.
#[test]
fn completions_and_the_man_page_come_from_the_command_line() {
    let home = tempfile::tempdir().expect("home");
    for (shell, marker) in [("bash", "complete -F _pult"), ("zsh", "#compdef pult"), ("fish", "complete -c pult")] {
        let out = pult(home.path()).args(["completions", shell]).output().expect("completions");
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(marker), "{shell}: {}", &text[..text.len().min(200)]);
        assert!(text.contains("reply") && text.contains("thread") && text.contains("conversation"), "{shell}");
    }
    let out = pult(home.path()).arg("man").output().expect("man");
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(man.contains(".TH pult 1") && man.contains("completions") && man.contains("daemon"), "{man}");
}

/// The log names accounts, peers and errors: 0600 from its creation, and a
/// log an older pult left readable by others is narrowed.
#[test]
fn the_log_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let home = tempfile::tempdir().expect("tmp");
    let log = home.path().join("state").join("pult").join("pult.log");
    let mode = || std::fs::metadata(&log).expect("log").permissions().mode() & 0o777;
    let out = pult(home.path()).args(["completions", "bash"]).output().expect("run");
    assert!(out.status.success());
    assert_eq!(mode(), 0o600);
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    pult(home.path()).args(["completions", "bash"]).output().expect("run");
    assert_eq!(mode(), 0o600, "narrowed on the next run");
}

/// `pult send --to` and `pult forward --to` take «Name <address>» as mail
/// clients write it; the name names the new client.
#[test]
fn send_takes_a_named_address() {
    let home = tempfile::tempdir().expect("tmp");
    let cfg = home.path().join("config.toml");
    let store = home.path().join("pult.db");
    let password = home.path().join("password");
    std::fs::write(&password, "secret").expect("password");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&password, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = |port: u16| format!("{{ host = \"h\", port = {port}, user = \"u\", password_file = {:?} }}", password);
    std::fs::write(
        &cfg,
        format!(
            "[[accounts]]\nkind = \"email\"\nname = \"office\"\naddress = \"anna@office.test\"\nimap = {}\nsmtp = {}\n",
            server(993),
            server(465)
        ),
    )
    .expect("write");
    let run = |args: &[&str]| {
        pult(home.path()).args(args).arg("--config").arg(&cfg).arg("--store").arg(&store).output().expect("run")
    };
    let out = run(&["send", "--to", "Кира Белова <Carol@Client.test>", "--subject", "Счёт", "--body", "Добрый день"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let db = rusqlite::Connection::open(&store).expect("open");
    let (to, client, message): (String, String, i64) = db
        .query_row(
            "SELECT o.to_addresses, ct.name, o.message_id FROM outbox o JOIN conversations c ON c.id = o.conversation_id
             JOIN contacts ct ON ct.id = c.contact_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("queued");
    assert_eq!((to.as_str(), client.as_str()), ("[\"carol@client.test\"]", "Кира Белова"));
    let out =
        run(&["forward", "--message", &message.to_string(), "--to", "\"Белова, Кира\" <kira@client.test>; bob@x.test"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let to: String = db
        .query_row("SELECT to_addresses FROM outbox WHERE forward_of = ?1", [message], |r| r.get(0))
        .expect("forward queued");
    assert_eq!(to, "[\"kira@client.test\",\"bob@x.test\"]");
    let out = run(&["send", "--to", "Кира Белова", "--subject", "Счёт", "--body", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an email address"));
}

/// `pult close --query`: a dry run lists and changes nothing; the close takes
/// every open conversation whose newest message matches, keeps those with an
/// open promise, is audited once per conversation, and one `pult reopen
/// --batch` undoes it all.
#[test]
fn close_by_query_in_one_step_and_undo_in_one_step() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let run = |args: &[&str]| -> serde_json::Value {
        let out = pult(home.path()).args(args).arg("--store").arg(&store).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let open = |v: &serde_json::Value| v["open"].as_i64().expect("open");
    let before = run(&["status", "--json"]);
    let dry = run(&["close", "--query", "before:1d", "--dry-run", "--json"]);
    let listed = dry["conversations"].as_array().expect("list").len();
    assert!(listed > 0, "{dry}");
    assert_eq!((dry["closed"].as_i64(), dry["batch"].is_null()), (Some(0), true), "{dry}");
    assert_eq!(open(&run(&["status", "--json"])), open(&before), "a dry run changes nothing");

    let done = run(&["close", "--query", "before:1d", "--json"]);
    assert_eq!(done["closed"].as_u64(), Some(listed as u64), "{done}");
    assert_eq!(open(&run(&["status", "--json"])), open(&before) - listed as i64);
    let db = rusqlite::Connection::open(&store).expect("open");
    let batch = done["batch"].as_i64().expect("batch");
    let (audited, newest_closed): (i64, i64) = db
        .query_row(
            "SELECT count(*), max((SELECT max(sent_at) FROM messages m WHERE m.conversation_id = a.conversation_id))
             FROM audit a WHERE a.action = 'close' AND a.detail = ?1",
            [format!("batch {batch}")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("audit");
    assert_eq!(audited, listed as i64, "one audit entry per conversation");
    // `before:1d` is a date (the start of yesterday): nothing from the last 24 hours was closed.
    // (The demo's oldest threads are two days old, so `2d` would find none just after midnight.)
    let cutoff = jiff::Timestamp::now().as_second() - 86400;
    assert!(newest_closed < cutoff, "nothing with a newer message was closed");
    let undone = run(&["reopen", "--batch", &batch.to_string(), "--json"]);
    assert_eq!(undone["reopened"].as_array().expect("reopened").len(), listed);
    assert_eq!(open(&run(&["status", "--json"])), open(&before), "one step undoes it all");

    // Open promises are left open unless asked for.
    let all = run(&["close", "--query", "is:open", "--dry-run", "--json"]);
    let kept = all["kept_for_promises"].as_array().expect("kept").len();
    assert!(kept > 0, "the demo has promises: {all}");
    let with = run(&["close", "--query", "is:open", "--dry-run", "--with-promises", "--json"]);
    assert!(with["kept_for_promises"].as_array().expect("kept").is_empty(), "{with}");
    assert_eq!(
        with["conversations"].as_array().expect("list").len(),
        all["conversations"].as_array().expect("list").len() + kept
    );
}

/// `pult` with `stdin` as given, to answer a question.
fn answering(mut cmd: std::process::Command, answer: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    child.stdin.take().expect("stdin").write_all(answer.as_bytes()).expect("answer");
    child.wait_with_output().expect("output")
}

/// `pult channels`: each channel's state (ok, error with the reason,
/// archived) as one JSON contract; `pult channels remove` deletes an archived
/// channel's history after a yes on the terminal (or --yes), audited, and
/// refuses a channel still in the config.
#[test]
fn channels_list_their_state_and_only_an_archived_one_is_removed_after_asking() {
    let (s, email, _, chat) = scripted_store();
    let home = tempfile::tempdir().expect("tmp");
    let secret = home.path().join("secret");
    std::fs::write(&secret, "pw").expect("secret");
    let office =
        s.writer.call_blocking(|c| pult::store::archive::channel_id(c, "office")).expect("id").expect("office");
    let trouble = pult::model::ChannelStatus::Error("cannot resolve imap.office.test: no such host".into());
    s.writer
        .call_blocking(move |c| pult::store::channel_state::set_status(c, office, &trouble, common::NOW))
        .expect("status");
    // The Telegram `bot` left the config; a new bot is not set up yet.
    let cfg = home.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nname = \"anna\"\n[store]\npath = {:?}\n\n[[accounts]]\nkind = \"email\"\nname = \"office\"\n\
             address = \"anna@office.test\"\n\
             imap = {{ host = \"127.0.0.1\", port = 9, user = \"u\", password_file = {secret:?} }}\n\
             smtp = {{ host = \"127.0.0.1\", port = 9, user = \"u\", password_file = {secret:?} }}\n\n\
             [[accounts]]\nkind = \"telegram\"\nname = \"new-bot\"\ntoken_command = [\"pult-no-such-helper\"]\n",
            s.path.display().to_string()
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        let mut c = pult(home.path());
        c.args(args).arg("--config").arg(&cfg);
        c
    };
    let v = json_of(&run(&["channels", "--json"]).output().expect("run"));
    let list = v.as_array().expect("an array");
    let entry = |name: &str| list.iter().find(|e| e["name"] == name).unwrap_or_else(|| panic!("{name} in {v}"));
    for e in list {
        for key in ["name", "kind", "state", "reason", "conversations"] {
            assert!(e.get(key).is_some(), "{key} missing: {e}");
        }
    }
    assert_eq!(entry("bot")["state"], "archived");
    assert_eq!(entry("bot")["kind"], "telegram");
    assert_eq!(entry("bot")["conversations"], 1);
    assert!(entry("bot")["reason"].as_str().is_some_and(|r| r.contains("no longer in the config")), "{v}");
    assert_eq!(entry("office")["state"], "error");
    assert!(entry("office")["reason"].as_str().is_some_and(|r| r.contains("cannot resolve")), "{v}");
    assert_eq!(entry("office")["conversations"], 2);
    assert_eq!(entry("new-bot")["state"], "error");
    assert!(entry("new-bot")["reason"].as_str().is_some_and(|r| r.contains("not set up yet")), "{v}");
    let text = String::from_utf8_lossy(&run(&["channels"]).output().expect("run").stdout).into_owned();
    assert!(text.contains("pult channels remove bot"), "{text}");
    // Nothing sends for an archived channel: a reply there is refused, not queued for ever.
    let out = run(&["reply", "--conversation", &chat.to_string(), "--body", "Да"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("channel bot is archived"));

    let out = run(&["channels", "remove", "office", "--yes"]).output().expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("office is in the config"));
    let count = |sql: &str| -> i64 {
        rusqlite::Connection::open(&s.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
    };
    let out = answering(run(&["channels", "remove", "bot"]), "n\n");
    assert_eq!(out.status.code(), Some(1), "no is no");
    let asked = String::from_utf8_lossy(&out.stderr);
    assert!(asked.contains("Delete channel bot (telegram)") && asked.contains("1 conversation, 1 message"), "{asked}");
    assert!(asked.contains("nothing deleted"), "{asked}");
    assert_eq!(count(&format!("SELECT count(*) FROM conversations WHERE id = {chat}")), 1);

    let out = answering(run(&["channels", "remove", "bot"]), "y\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deleted channel bot: 1 conversation, 1 message"));
    assert_eq!(count("SELECT count(*) FROM channels WHERE name = 'bot'"), 0);
    assert_eq!(count(&format!("SELECT count(*) FROM conversations WHERE id = {chat}")), 0);
    assert_eq!(count(&format!("SELECT count(*) FROM messages WHERE conversation_id = {chat}")), 0);
    assert_eq!(count("SELECT count(*) FROM pragma_foreign_key_check"), 0, "nothing points at what is gone");
    assert_eq!(count("SELECT count(*) FROM audit WHERE action = 'channel_removed' AND actor = 'anna'"), 1);
    // The rest is untouched and still found; the chat is not.
    assert_eq!(count(&format!("SELECT count(*) FROM messages WHERE conversation_id = {email}")), 1);
    let found = |q: &str| json_of(&run(&["search", q, "--json"]).output().expect("run"));
    assert_eq!(found("сверки").as_array().map(Vec::len), Some(1));
    assert_eq!(found("оплатили").as_array().map(Vec::len), Some(0));
    let out = run(&["channels", "remove", "bot", "--yes"]).output().expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no channel named bot"));
}

/// The example config `pult` prints, used as it is: `sync --once` says what
/// to edit for each account and makes no channel; `doctor` and `pult
/// channels` say the same.
#[test]
fn the_example_config_makes_no_channels_and_says_what_to_edit() {
    let home = tempfile::tempdir().expect("tmp");
    let dir = home.path().join("config/pult");
    std::fs::create_dir_all(&dir).expect("dir");
    // Its secret helper is not installed here (whatever this machine has).
    let example = pult::config::EXAMPLE.replace("\"pass\"", "\"pult-no-such-helper\"");
    std::fs::write(dir.join("config.toml"), example).expect("config");
    let out = pult(home.path()).args(["sync", "--once"]).output().expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("office: does not run: not set up yet") && err.contains("imap.example.test"), "{err}");
    assert!(err.contains("office-bot: does not run: not set up yet"), "{err}");
    let store = home.path().join("data/pult/pult.db");
    let channels: i64 = rusqlite::Connection::open(&store)
        .expect("store")
        .query_row("SELECT count(*) FROM channels", [], |r| r.get(0))
        .expect("count");
    assert_eq!(channels, 0);
    let out = pult(home.path()).arg("doctor").output().expect("run");
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("✗ office") && said.contains("not set up yet"), "{said}");
    let v = json_of(&pult(home.path()).args(["channels", "--json"]).output().expect("run"));
    assert!(v.as_array().is_some_and(|a| a.len() == 2 && a.iter().all(|e| e["state"] == "error")), "{v}");
    // A mail that could never leave is not queued either.
    let out = pult(home.path())
        .args(["send", "--to", "irina@client.test", "--subject", "Акт", "--body", "Во вложении"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("account office: not set up yet"));
    let rows: i64 = rusqlite::Connection::open(&store)
        .expect("store")
        .query_row("SELECT count(*) FROM channels", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 0, "still no channel");
}

/// `pult status | head -1`: a reader that goes away ends the command quietly
/// with status 0 (as git and ripgrep), never a panic about a broken pipe.
/// The pipe's reading end is closed before pult starts, so every write fails.
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let commands: [&[&str]; 5] = [&["status"], &["clients"], &["search", "счёт"], &["completions", "zsh"], &["man"]];
    for args in commands {
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = pult(home.path())
            .args(args)
            .arg("--store")
            .arg(&store)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .expect("run");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
        assert!(err.is_empty(), "{args:?} said something on a closed pipe: {err}");
    }
}

/// The README's `pult search счёт -декабрь`: a word starting with `-` is a
/// query word that excludes, and options after it stay options.
#[test]
fn search_takes_minus_words_as_words_and_options_as_options() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let search = |args: &[&str]| {
        let out = pult(home.path()).arg("search").args(args).arg("--store").arg(&store).output().expect("run");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        let hits: Vec<i64> =
            json_of(&out).as_array().expect("array").iter().map(|h| h["message"].as_i64().expect("message")).collect();
        hits
    };
    let all = search(&["счёт", "--json"]);
    let without = search(&["счёт", "-вектор", "--json", "--limit", "50"]);
    let vector = search(&["счёт", "вектор", "--json"]);
    assert!(!vector.is_empty(), "the demo has a bill for ООО «Вектор»");
    assert!(without.len() < all.len(), "-вектор excluded nothing: {all:?} vs {without:?}");
    assert!(vector.iter().all(|c| !without.contains(c)), "{vector:?} still in {without:?}");
    // An option pult does not know is a usage error (status 2), not a query word.
    let out = pult(home.path()).args(["search", "счёт", "--bogus", "--store"]).arg(&store).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn exit_codes_are_documented_in_help_and_the_man_page() {
    let home = tempfile::tempdir().expect("tmp");
    let help = pult(home.path()).arg("--help").output().expect("help");
    assert_eq!(help.status.code(), Some(0));
    let man = pult(home.path()).arg("man").output().expect("man");
    for text in [String::from_utf8_lossy(&help.stdout), String::from_utf8_lossy(&man.stdout)] {
        assert!(text.contains("Exit status") && text.contains("reader of the output went away"), "{text}");
    }
}

/// English that leaked into a Russian text ([`pult::i18n::english_leak`], as
/// the TUI's tests use it), line by line: the example config's lines are its
/// syntax, and the demo's own data (channel names, a sender who signs in
/// English) is data, not the UI's words.
fn english_in(text: &str) -> Vec<String> {
    const DATA: &[&str] = &["office mail", "office-bot", "Billing Dept", "whatsapp", "group-"];
    text.lines()
        .filter(|l| {
            let l = l.trim();
            !(l.starts_with('[') || l.starts_with('#') || l.contains(" = "))
        })
        .filter_map(|l| {
            let mut l = l.to_string();
            for d in DATA {
                l = l.replace(d, " ");
            }
            pult::i18n::english_leak(&l)
        })
        .collect()
}

/// Under a Russian locale every command's text and every error is Russian;
/// `--json` keys stay as the contract says.
#[test]
fn the_command_line_speaks_russian() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let ru = |args: &[&str]| {
        let out =
            pult(home.path()).env("LANG", "ru_RU.UTF-8").args(args).arg("--store").arg(&store).output().expect("run");
        (out.status.code(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
    };
    let texts: [&[&str]; 15] = [
        &["status"],
        &["agenda", "--days", "7"],
        &["outbox"],
        &["clients"],
        &["client", "show", "1"],
        &["channels"],
        &["thread", "--conversation", "1"],
        &["search", "счёт"],
        &["search", "несуществующееслово"],
        &["close", "--query", "счёт", "--dry-run"],
        &["agenda"],
        &["client", "show", "999"],
        &["thread", "--conversation", "999"],
        &["reply", "--conversation", "1"],
        &["audit"],
    ];
    for args in texts {
        let (_, text) = ru(args);
        assert!(english_in(&text).is_empty(), "{args:?}: English {:?} in:\n{text}", english_in(&text));
    }
    for (args, code) in [
        (&["sync"][..], 1),
        (&["audit", "--since", "вчерашний"][..], 1),
        (&["status", "--bogus"][..], 2),
        (&["отправить"][..], 2),
        (&["client", "set", "1", "colour", "x"][..], 2),
        (&["client", "merge", "--into", "1", "1"][..], 1),
        (&["client", "unmerge", "999"][..], 1),
    ] {
        let (status, text) = ru(args);
        assert_eq!(status, Some(code), "{args:?}: {text}");
        assert!(english_in(&text).is_empty(), "{args:?}: English {:?} in:\n{text}", english_in(&text));
        assert_eq!(text.matches("pult:").count(), 1, "{args:?}: said once: {text}");
    }
    // A config with mistakes: each named by its line, in Russian.
    let cfg = home.path().join("bad.toml");
    std::fs::write(&cfg, "[hours]\nstart = \"25:99\"\nend = 5\n[ui]\nlanguag = \"ru\"\n").expect("write");
    let out =
        pult(home.path()).env("LANG", "ru_RU.UTF-8").args(["status", "--config"]).arg(&cfg).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("строка 2") && err.contains("может быть, `language`?"), "{err}");
    assert!(english_in(&err).is_empty(), "English {:?} in:\n{err}", english_in(&err));
    let out = pult(home.path()).env("LANG", "ru_RU.UTF-8").output().expect("no config");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("pult demo") && english_in(&text).is_empty(), "{:?} in:\n{text}", english_in(&text));
    // JSON keys are the contract, whatever the language.
    let (_, json) = ru(&["status", "--json"]);
    assert!(json.contains("\"unanswered\"") && json.contains("\"oldest_unanswered_minutes\""), "{json}");
}

/// A command that only reads opens the store read-only, unless a migration
/// or an index rebuild is pending: then it opens the writer first.
#[test]
fn a_reading_command_migrates_an_older_store_and_reads_a_current_one_as_it_is() {
    let home = tempfile::tempdir().expect("tmp");
    let store = demo_store(home.path());
    let version =
        |db: &rusqlite::Connection| db.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0)).expect("v");
    let db = rusqlite::Connection::open(&store).expect("open");
    let current = version(&db);
    // As a store of the build before the last migration (which is repeatable), and an index to rebuild.
    db.execute_batch(&format!("PRAGMA user_version = {}", current - 1)).expect("older");
    db.execute("UPDATE search_index SET done = 0, next = 0", []).expect("rebuild pending");
    let out = pult(home.path()).args(["search", "--json", "--store"]).arg(&store).arg("сверки").output().expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(hits.as_array().is_some_and(|h| !h.is_empty()), "found after the rebuild: {hits}");
    assert_eq!(version(&db), current, "migrated before reading");
    let done: i64 = db.query_row("SELECT min(done) FROM search_index", [], |r| r.get(0)).expect("done");
    assert_eq!(done, 1, "the index rebuilt before reading");
    // A current store is only read: its file is not written.
    let before = std::fs::metadata(&store).expect("meta").modified().expect("mtime");
    let wal = store.with_extension("db-wal");
    let wal_before = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
    let out = pult(home.path()).args(["status", "--store"]).arg(&store).output().expect("run");
    assert!(out.status.success());
    assert_eq!(std::fs::metadata(&store).expect("meta").modified().expect("mtime"), before);
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), wal_before, "nothing written");
}
