//! Evidence (#34): the audit log as a hash chain, originals as received, and
//! `pult export` / `pult export verify`.

mod common;

use common::*;

/// A store from before the chain gets its rows chained by the migration;
/// `pult audit verify` passes, then names the row someone edited.
#[test]
fn audit_verify_checks_the_chain_and_names_the_edited_row() {
    let home = tempfile::tempdir().expect("tmp");
    let path = home.path().join("old.db");
    {
        let db = old_store(&path, 25);
        db.run_sql(
            "INSERT INTO audit (at, actor, action, conversation_id, detail) VALUES
               (10, 'anna', 'task.accept', 1, 'до пятницы'), (20, 'boris', 'send', 1, NULL), (30, 'anna', 'note', 2, 'x');",
        )
        .expect("old rows");
    }
    let verify = |json: bool| {
        let mut c = pult(home.path());
        c.args(["audit", "verify", "--store"]).arg(&path);
        if json {
            c.arg("--json");
        }
        c.output().expect("run")
    };
    let out = verify(false);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("3 rows"), "{}", String::from_utf8_lossy(&out.stdout));
    // New rows continue the chain the migration made.
    let s = pult::store::Writer::spawn(&path).expect("writer");
    let store = shared(&path, &s);
    let ch = channel(&store, "tg", pult::model::ChannelKind::Telegram);
    ingest(&store, ch, vec![msg("1", "c1", "Иван", NOW, "Пришлите акт сверки")]);
    let conv: i64 = rusqlite::Connection::open(&path)
        .expect("open")
        .query_row("SELECT id FROM conversations", [], |r| r.get(0))
        .expect("conversation");
    queue_reply(&store, conv, "Принято в работу");
    queue_reply(&store, conv, "Выполнено.");
    let conn = rusqlite::Connection::open(&path).expect("open");
    let rows: Vec<(i64, Option<String>, Option<String>)> = conn
        .prepare("SELECT id, prev_hash, row_hash FROM audit ORDER BY id")
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(rows.len() >= 5, "{rows:?}");
    assert_eq!(rows[0].1, None, "the first row follows nothing");
    for w in rows.windows(2) {
        assert_eq!(w[1].1, w[0].2, "row {} links to row {}", w[1].0, w[0].0);
    }
    let out = verify(true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["ok"], true, "{v}");
    // An edit past the append-only trigger is found and named.
    conn.execute_batch("DROP TRIGGER audit_no_update; UPDATE audit SET detail = 'до понедельника' WHERE id = 1;")
        .expect("tamper");
    let out = verify(false);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("audit row 1 was changed"), "{err}");
    let out = verify(true);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        (v["ok"].clone(), v["broken_row"].clone(), v["reason"].clone()),
        (false.into(), 1.into(), "edited".into())
    );
    drop(store);
}

fn bundle(dir: &std::path::Path, path: &str) -> Vec<u8> {
    std::fs::read(dir.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn files_under(dir: &std::path::Path, sub: &str) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join(sub))
        .map(|d| d.flatten().map(|e| format!("{sub}/{}", e.file_name().to_string_lossy())).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// #34: a Telegram group and a WhatsApp chat, through the fake Bot API and
/// pult's real webhook receiver: each update and each signed webhook body is
/// kept as received and exported as a JSON line of exactly those bytes (the
/// WhatsApp one with its signature header in the manifest); `--redact-others`
/// masks the third party of the group; verify passes and then names a change.
#[test]
fn telegram_updates_and_whatsapp_bodies_export_as_received() {
    use pult::channels::registry;
    use pult::channels::telegram::fake::updates as u;
    use pult::channels::whatsapp::{fake, webhook::build};
    let s = bot::BotSetup::start();
    let t = jiff::Timestamp::now().as_second();
    let group = u::group_chat(-100500, "ООО Ромашка — бухгалтерия");
    s.fake.push(u::message(
        group.clone(),
        u::user(11, "Ирина", "Соколова"),
        7,
        t,
        u::text("Счёт на оплату во вложении"),
    ));
    s.fake.push(u::message(group.clone(), u::user(12, "Павел", "Дёмин"), 8, t, u::text("Документы в ЭДО подписал")));
    // A file Telegram serves only on demand: the export fetches and keeps it.
    let invoice = b"%PDF-1.4 invoice 17".to_vec();
    s.fake.add_file("doc-17", invoice.clone());
    s.fake.push(u::message(
        group,
        u::user(11, "Ирина", "Соколова"),
        9,
        t + 1,
        u::document("doc-17", "Счёт_17.pdf", "application/pdf", invoice.len() as i64),
    ));
    assert_eq!(s.drain(), 3);

    // WhatsApp on the same store: a signed POST to the real receiver.
    let graph = fake::FakeGraphApi::start().expect("fake graph");
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").to_string()
    };
    let dir = s.store.dir.path();
    use std::os::unix::fs::PermissionsExt;
    for (file, value) in [("token", fake::TOKEN), ("app-secret", fake::APP_SECRET), ("verify", fake::VERIFY_TOKEN)] {
        std::fs::write(dir.join(file), value).expect("secret");
        std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let d = dir.display();
    let cfg_path = dir.join("config.toml");
    std::fs::write(
        &cfg_path,
        format!(
            "[agent]\nname = \"anna\"\n\n[[accounts]]\nkind = \"whatsapp\"\nname = \"whatsapp\"\nphone_number_id = \"{}\"\n\
             token_file = \"{d}/token\"\napp_secret_file = \"{d}/app-secret\"\nverify_token_file = \"{d}/verify\"\n\
             api_url = \"{}\"\nwebhook_listen = \"{addr}\"\n",
            fake::PHONE_NUMBER_ID,
            graph.api_url()
        ),
    )
    .expect("config");
    let mut cfg = pult::config::Config::load(&cfg_path).expect("config");
    let ctx = registry::Context { timezone: moscow(), media_dir: dir.join("media"), lang: pult::i18n::Lang::En };
    let wa = channel(&s.store, "whatsapp", pult::model::ChannelKind::Whatsapp);
    let ch = registry::open(&cfg.accounts.remove(0), wa, &ctx).expect("channel");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    let _worker = rt.spawn(ch.run(s.store.writer.clone()));
    eventually("the webhook receiver to listen", || std::net::TcpStream::connect(&addr).is_ok());
    let body = build::text(fake::PHONE_NUMBER_ID, "79161234567", "Ольга Семёнова", "wamid.X1", t, "Когда будет акт?")
        .to_string()
        .into_bytes();
    assert_eq!(fake::meta::post(&addr, Some(fake::APP_SECRET), &body).expect("post"), 200);
    let conn = rusqlite::Connection::open(&s.store.path).expect("open");
    eventually("the webhook's message to be stored", || {
        conn.query_row("SELECT count(*) FROM originals WHERE kind = 'whatsapp'", [], |r| r.get::<_, i64>(0))
            .unwrap_or(0)
            == 1
    });
    let contact = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let irina = contact("SELECT contact_id FROM identities WHERE handle LIKE '%11' AND kind = 'telegram'");
    let olga = contact("SELECT contact_id FROM identities WHERE kind = 'whatsapp'");
    let group_client: Option<i64> =
        conn.query_row("SELECT contact_id FROM conversations WHERE is_group = 1", [], |r| r.get(0)).expect("group");
    assert_eq!(group_client, Some(irina), "the group is the client's of its first writer");

    let home = tempfile::tempdir().expect("home");
    // The CLI's own config names the bot, so it can fetch the group's file.
    let config_dir = home.path().join("config/pult");
    std::fs::create_dir_all(&config_dir).expect("config dir");
    let token = home.path().join("bot-token");
    std::fs::write(&token, "123:TEST").expect("token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    std::fs::write(
        config_dir.join("config.toml"),
        format!(
            "[[accounts]]\nkind = \"telegram\"\nname = \"office-bot\"\ntoken_file = \"{}\"\napi_url = \"{}\"\n",
            token.display(),
            s.fake.url()
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        let o = pult(home.path()).arg("--store").arg(&s.store.path).args(args).output().expect("run");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let tg_out = home.path().join("tg");
    let (code, _, err) =
        run(&["export", "--client", &irina.to_string(), "--redact-others", "--out", tg_out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{err}");
    let jsonl = files_under(&tg_out, "telegram");
    assert_eq!(jsonl.len(), 1, "{jsonl:?}");
    let text = String::from_utf8(bundle(&tg_out, &jsonl[0])).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    let sha = pult::store::audit_chain::sha256_hex(&invoice);
    assert_eq!(bundle(&tg_out, &format!("attachments/{sha}.pdf")), invoice, "the group's file, fetched and kept");
    let manifest: serde_json::Value = serde_json::from_slice(&bundle(&tg_out, "manifest.json")).expect("manifest");
    assert!(
        !manifest["left_out"].to_string().contains("attachment"),
        "nothing of the file left out: {}",
        manifest["left_out"]
    );
    let first: serde_json::Value = serde_json::from_str(lines[0]).expect("an update as sent");
    assert_eq!(first["message"]["text"], "Счёт на оплату во вложении", "{text}");
    assert!(first["update_id"].is_i64());
    assert!(lines[1].contains("\"redacted\"") && !text.contains("Павел") && !text.contains("подписал"), "{text}");
    let report = String::from_utf8(bundle(&tg_out, "report.html")).expect("html");
    assert!(report.contains("third party 1") && !report.contains("Павел"), "{report}");
    assert!(!files_under(&tg_out, ".").iter().any(|p| p.contains("whatsapp")), "nothing of the other client");
    let (code, out, _) = run(&["export", "verify", tg_out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{out}");

    let wa_out = home.path().join("wa");
    let (code, out, err) =
        run(&["export", "--client", &olga.to_string(), "--out", wa_out.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code, Some(0), "{err}");
    // `export --json`: what was written, for a script.
    let summary: serde_json::Value = serde_json::from_str(&out).expect("json");
    let mut keys: Vec<&str> = summary.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["counts", "files", "left_out", "manifest_sha256", "out", "signed"], "{summary}");
    assert_eq!(summary["counts"], serde_json::json!({ "whatsapp": 1 }), "{summary}");
    assert_eq!(summary["signed"], false);
    assert_eq!(summary["out"], wa_out.to_str().expect("utf-8"));
    let manifest_bytes = bundle(&wa_out, "manifest.json");
    let manifest_sha: String = ring::digest::digest(&ring::digest::SHA256, &manifest_bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(summary["manifest_sha256"], manifest_sha.as_str(), "{summary}");
    let listed = serde_json::from_slice::<serde_json::Value>(&manifest_bytes).expect("manifest")["files"]
        .as_array()
        .map(Vec::len);
    assert_eq!(summary["files"].as_u64().map(|n| n as usize), listed, "{summary}");
    assert!(summary["left_out"].is_array(), "{summary}");
    let (code, out, _) = run(&["export", "verify", wa_out.to_str().expect("utf-8"), "--json"]);
    assert_eq!(code, Some(0), "{out}");
    let verified: serde_json::Value = serde_json::from_str(&out).expect("json");
    let mut keys: Vec<&str> = verified.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["audit_rows", "dkim", "files", "ok", "problems", "signature_checked", "signed"], "{verified}");
    assert_eq!((&verified["ok"], &verified["problems"]), (&serde_json::json!(true), &serde_json::json!([])));
    let jsonl = files_under(&wa_out, "whatsapp");
    assert_eq!(jsonl.len(), 1);
    let mut expected = body.clone();
    expected.push(b'\n');
    assert_eq!(bundle(&wa_out, &jsonl[0]), expected, "the webhook body byte for byte");
    let manifest: serde_json::Value = serde_json::from_slice(&bundle(&wa_out, "manifest.json")).expect("manifest");
    let entry =
        manifest["files"].as_array().expect("files").iter().find(|e| e["path"] == jsonl[0].as_str()).expect("listed");
    let source = &entry["sources"][0];
    assert_eq!(source["wamid"], "wamid.X1", "{entry}");
    assert!(source["signature"].as_str().is_some_and(|s| s.starts_with("X-Hub-Signature-256: sha256=")), "{entry}");
    assert_eq!(manifest["client"]["id"], olga);
    let (code, _, _) = run(&["export", "verify", wa_out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0));
    let mut changed = bundle(&wa_out, &jsonl[0]);
    changed[5] ^= 0x20;
    std::fs::write(wa_out.join(&jsonl[0]), changed).expect("flip");
    let (code, out, _) = run(&["export", "verify", wa_out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(out.contains(&format!("changed: {}", jsonl[0])), "{out}");
}

/// #34: `[export] sign_command` (ssh-keygen, no shell) signs manifest.json;
/// `verify_command` checks it; a changed manifest fails on the signature; an
/// export without --include-notes has no notes, with it it has them.
#[test]
fn the_manifest_is_signed_and_the_signature_checked_with_ssh_keygen() {
    let s = temp_store();
    let ch = channel(&s, "tg", pult::model::ChannelKind::Telegram);
    ingest(&s, ch, vec![msg("1:1", "1", "Ирина", NOW, "Пришлите акт сверки")]);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let (client, conv): (i64, i64) =
        conn.query_row("SELECT contact_id, id FROM conversations", [], |r| Ok((r.get(0)?, r.get(1)?))).expect("client");
    s.writer
        .call_blocking(move |c| pult::store::team::add_note(c, conv, "anna", "Звонила, обещала выписку", NOW + 10))
        .expect("note");
    let home = tempfile::tempdir().expect("home");
    let key = home.path().join("key");
    let ok = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "anna", "-f"])
        .arg(&key)
        .status()
        .expect("ssh-keygen (openssh-client)");
    assert!(ok.success());
    let public = std::fs::read_to_string(home.path().join("key.pub")).expect("pub");
    let allowed = home.path().join("allowed");
    std::fs::write(&allowed, format!("anna {public}")).expect("allowed signers");
    let cfg = home.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[agent]\nname = \"anna\"\n\n[export]\nsign_command = [\"ssh-keygen\", \"-Y\", \"sign\", \"-f\", \"{}\", \"-n\", \"file\"]\n\
             verify_command = [\"ssh-keygen\", \"-Y\", \"verify\", \"-f\", \"{}\", \"-I\", \"anna\", \"-n\", \"file\", \"-s\", \"{{signature}}\"]\n",
            key.display(),
            allowed.display()
        ),
    )
    .expect("config");
    let run = |args: &[&str]| {
        let o =
            pult(home.path()).arg("--config").arg(&cfg).arg("--store").arg(&s.path).args(args).output().expect("run");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let out = home.path().join("bundle");
    let (code, _, err) = run(&["export", "--client", &client.to_string(), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.join("manifest.json.sig").is_file());
    assert!(!out.join("notes").exists(), "notes only with --include-notes");
    let (code, text, err) = run(&["export", "verify", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{text}{err}");
    assert!(text.contains("The signature of manifest.json holds."), "{text}");
    // A manifest changed after signing fails on its signature.
    let manifest = std::fs::read_to_string(out.join("manifest.json")).expect("manifest");
    std::fs::write(
        out.join("manifest.json"),
        manifest.replacen("\"operator\": \"anna\"", "\"operator\": \"boris\"", 1),
    )
    .expect("edit");
    let (code, text, _) = run(&["export", "verify", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(text.contains("the signature does not hold"), "{text}");
    // The signature file removed: named as missing.
    std::fs::write(out.join("manifest.json"), &manifest).expect("restore");
    std::fs::remove_file(out.join("manifest.json.sig")).expect("rm");
    let (code, text, _) = run(&["export", "verify", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(text.contains("missing: manifest.json.sig"), "{text}");
    // With --include-notes, the notes are there (and in the report).
    let with = home.path().join("with-notes");
    let (code, _, err) =
        run(&["export", "--client", &client.to_string(), "--include-notes", "--out", with.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{err}");
    let notes = std::fs::read_to_string(with.join("notes/notes.json")).expect("notes");
    assert!(notes.contains("Звонила, обещала выписку"), "{notes}");
    let (code, text, _) = run(&["export", "verify", with.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{text}");
    let without = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(!without.contains("Звонила"));
}

/// `[store] keep_raw`: on for a new store, off for one that already held mail
/// when it got the originals table; off, nothing is kept; the config's word wins.
#[test]
fn keep_raw_is_on_for_a_new_store_and_the_config_decides() {
    let setting = |path: &std::path::Path| -> String {
        rusqlite::Connection::open(path)
            .expect("open")
            .query_row("SELECT value FROM store_settings WHERE key = 'keep_raw'", [], |r| r.get(0))
            .expect("setting")
    };
    let raw = |id: &str| {
        let mut m = msg(id, "c1", "Ирина", NOW, "Пришлите акт");
        m.raw = Some(std::sync::Arc::new(pult::model::RawOriginal {
            kind: "telegram",
            source: serde_json::json!({ "update_id": 1 }),
            bytes: format!("{{\"update_id\":{id}}}").into_bytes(),
            ..Default::default()
        }));
        m
    };
    let count = |path: &std::path::Path| -> i64 {
        rusqlite::Connection::open(path)
            .expect("open")
            .query_row("SELECT count(*) FROM originals", [], |r| r.get(0))
            .expect("n")
    };
    let s = temp_store();
    assert_eq!(setting(&s.path), "1");
    let ch = channel(&s, "tg", pult::model::ChannelKind::Telegram);
    ingest(&s, ch, vec![raw("1")]);
    assert_eq!(count(&s.path), 1);
    s.writer.call_blocking(|c| pult::store::originals::set_keep_raw(c, false)).expect("off");
    ingest(&s, ch, vec![raw("2")]);
    assert_eq!(count(&s.path), 1, "off: nothing kept");

    let dir = tempfile::tempdir().expect("tmp");
    let old = dir.path().join("old.db");
    {
        let db = old_store(&old, 25);
        db.run_sql(
            "INSERT INTO channels (name, kind, created_at) VALUES ('tg', 'telegram', 1);
             INSERT INTO conversations (channel_id, remote_key, title, created_at) VALUES (1, 'c', 'c', 1);
             INSERT INTO messages (conversation_id, channel_id, remote_id, direction, sent_at) VALUES (1, 1, 'r', 'in', 1);",
        )
        .expect("old mail");
    }
    drop(pult::store::Writer::spawn(&old).expect("migrate"));
    assert_eq!(setting(&old), "0", "a store that already held mail keeps nothing until told");
}

/// What a new user met trying `pult export` on the demo (#34): a client's mail
/// without an IMAP place is in the bundle (rebuilt, with its From and Date,
/// and said so), not silently left out; a range that cannot hold anything,
/// a file as the output and a date phrase in the wrong option are refused
/// by name; verify refuses a link out of the bundle, says an unsigned
/// manifest proves little, and fails a bundle whose signature was stripped
/// when signatures are expected; a failed signing leaves no half bundle.
#[test]
fn export_on_the_demo_keeps_every_mail_and_refuses_what_cannot_hold() {
    let home = tempfile::tempdir().expect("home");
    let store = demo_store(home.path());
    let run = |args: &[&str]| {
        let o = pult(home.path()).arg("--store").arg(&store).args(args).output().expect("run");
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let conn = rusqlite::Connection::open(&store).expect("open");
    let client: i64 = conn
        .query_row(
            "SELECT c.contact_id FROM conversations c JOIN channels ch ON ch.id = c.channel_id
             WHERE ch.kind = 'email' AND c.contact_id IS NOT NULL ORDER BY c.id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("an email client");
    // An edit of the card names no conversation; it is still the client's history.
    let (code, _, err) = run(&["client", "set", &client.to_string(), "inn", "7701234567"]);
    assert_eq!(code, Some(0), "{err}");
    let out = home.path().join("b1");
    let (code, _, err) = run(&["export", "--client", &client.to_string(), "--out", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0), "{err}");
    let audit = String::from_utf8(bundle(&out, "ledger/audit.jsonl")).expect("utf-8");
    assert!(audit.contains("client_edit") && audit.contains("7701234567"), "{audit}");
    let emls = files_under(&out, "email");
    assert!(emls.iter().any(|p| p.ends_with(".eml")), "the client's mail is in the bundle: {emls:?}");
    let eml = emls.iter().find(|p| p.ends_with(".eml")).expect("eml");
    let text = String::from_utf8(bundle(&out, eml)).expect("utf-8");
    assert!(text.starts_with("From: ") && text.contains("\r\nDate: ") && text.contains("\r\nSubject: "), "{text}");
    let manifest: serde_json::Value = serde_json::from_slice(&bundle(&out, "manifest.json")).expect("manifest");
    assert!(manifest["counts"]["email"].as_i64().is_some_and(|n| n > 0), "{}", manifest["counts"]);
    let entry =
        manifest["files"].as_array().expect("files").iter().find(|e| e["path"] == eml.as_str()).expect("listed");
    assert!(entry["reconstructed"].as_str().is_some_and(|r| r.contains("no original")), "{entry}");
    assert!(!manifest.to_string().contains("keep_raw was off"));
    // README.txt says its facts in both languages.
    let readme = String::from_utf8(bundle(&out, "README.txt")).expect("utf-8");
    for said in
        ["версия pult / pult version", "сообщений по каналам / messages per channel", "manifest.json не подписан"]
    {
        assert!(readme.contains(said), "{said}: {readme}");
    }

    // Verify: an unsigned manifest is said to prove only that the files fit it.
    let (code, said, _) = run(&["export", "verify", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(0));
    assert!(said.contains("not signed"), "{said}");
    // A listed file that is a link out of the bundle is refused.
    let chat = eml.clone();
    let outside = home.path().join("outside");
    std::fs::write(&outside, bundle(&out, &chat)).expect("copy");
    std::fs::remove_file(out.join(&chat)).expect("rm");
    std::os::unix::fs::symlink(&outside, out.join(&chat)).expect("link");
    let (code, said, _) = run(&["export", "verify", out.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains(&chat), "{said}");

    // Refused with the reason, nothing written.
    let b2 = home.path().join("b2");
    let c = client.to_string();
    let o = b2.to_str().expect("utf-8");
    let (code, _, err) = run(&["export", "--client", &c, "--out", o, "--since", "2026-12-05", "--until", "2026-12-01"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--since 2026-12-05 is after --until 2026-12-01"), "{err}");
    let (code, _, err) = run(&["export", "--client", &c, "--out", o, "--until", "someday"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("--until \"someday\""), "the option named is the one given: {err}");
    assert!(!b2.exists(), "nothing written");
    let (code, _, err) = run(&["export", "--client", &c, "--out", o, "--since", "7d", "--until", "today"]);
    assert_eq!(code, Some(0), "the phrases the error suggests are accepted: {err}");
    let afile = home.path().join("afile");
    std::fs::write(&afile, b"").expect("file");
    let (code, _, err) = run(&["export", "--client", &c, "--out", afile.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("is a file"), "{err}");

    // Not a bundle: said so, not as a disk problem.
    let empty = home.path().join("empty");
    std::fs::create_dir(&empty).expect("dir");
    let (code, _, err) = run(&["export", "verify", empty.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1));
    assert!(err.contains("no manifest.json to check") && !err.to_lowercase().contains("permission"), "{err}");

    // A signing that fails leaves no bundle claiming to be signed.
    let config = home.path().join("config/pult/config.toml");
    std::fs::create_dir_all(config.parent().expect("dir")).expect("dir");
    std::fs::write(
        &config,
        "[export]\nsign_command = [\"ssh-keygen\", \"-Y\", \"sign\", \"-f\", \"/nonexistent/key\", \"-n\", \"file\"]\n\
         verify_command = [\"true\"]\n",
    )
    .expect("config");
    let b3 = home.path().join("b3");
    let (code, _, err) = run(&["export", "--client", &c, "--out", b3.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "{err}");
    assert!(!b3.exists(), "no half-made bundle");
    // Signatures expected (verify_command set): an unsigned bundle fails.
    let (code, said, _) = run(&["export", "verify", b2.to_str().expect("utf-8")]);
    assert_eq!(code, Some(1), "{said}");
    assert!(said.contains("manifest.json.sig"), "{said}");
}
