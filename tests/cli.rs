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
    assert!(err.contains("bad.toml") && err.contains("25:99"), "{err}");
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
