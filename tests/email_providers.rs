//! Email against servers that are not the suite's all-extensions Dovecot:
//! folders found by their role under Russian names, OAuth2 logins, fewer
//! capabilities. Each test starts a Dovecot of its own (scripts/dovecot.sh
//! with settings appended) on loopback ports; sending goes through the suite's
//! Postfix (PULT_TEST_DOVECOT, started by scripts/test).

mod common;

use common::*;
use pult::channels::email;
use pult::config::{Account, Config, EmailAccount};
use pult::model::ChannelKind;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The suite's Dovecot and Postfix (for SMTP and its test CA).
struct Suite {
    dir: PathBuf,
    smtp: u16,
}

fn suite() -> Suite {
    let spec = std::env::var("PULT_TEST_DOVECOT")
        .expect("PULT_TEST_DOVECOT is not set: run the tests with scripts/test, which starts Dovecot");
    let mut it = spec.split(':');
    let dir = PathBuf::from(it.next().expect("dir"));
    let smtp = it.nth(2).and_then(|p| p.parse().ok()).expect("smtp port");
    Suite { dir, smtp }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// A Dovecot of one test's own, stopped when dropped.
struct OwnDovecot {
    dir: tempfile::TempDir,
    imap: u16,
    lmtp: u16,
}

impl OwnDovecot {
    fn start(extra: &str) -> OwnDovecot {
        let dir = tempfile::tempdir().expect("tmp");
        let (imap, imaps, lmtp) = (free_port(), free_port(), free_port());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dovecot.sh");
        let out = Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .args([imap.to_string(), imaps.to_string(), lmtp.to_string()])
            .env("PULT_DOVECOT_EXTRA", extra)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("dovecot.sh");
        assert!(out.status.success(), "dovecot.sh: {}", String::from_utf8_lossy(&out.stderr));
        OwnDovecot { dir, imap, lmtp }
    }

    fn doveadm(&self, args: &[&str]) -> String {
        let out = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("etc/dovecot.conf"))
            .args(args)
            .output()
            .expect("doveadm");
        assert!(out.status.success(), "doveadm {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Subjects of the mails in `user`'s `folder`.
    fn subjects(&self, user: &str, folder: &str) -> String {
        self.doveadm(&["-f", "tab", "fetch", "-u", user, "hdr.subject", "mailbox", folder, "all"])
    }

    /// Saves a mail into alice's `folder` (created if need be), as a delivery would.
    fn save(&self, folder: &str, raw: &[u8]) {
        use std::io::Write;
        // Created first (an auto folder or one saved into before: already there, refused, fine).
        let _ = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("etc/dovecot.conf"))
            .args(["mailbox", "create", "-u", "alice", folder])
            .output();
        let mut child = Command::new("doveadm")
            .arg("-c")
            .arg(self.dir.path().join("etc/dovecot.conf"))
            .args(["save", "-u", "alice", "-m", folder])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("doveadm save");
        child.stdin.take().expect("stdin").write_all(raw).expect("mail");
        assert!(child.wait().expect("wait").success(), "doveadm save into {folder}");
    }
}

impl Drop for OwnDovecot {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/dovecot.sh");
        let _ = Command::new(script).arg("stop").arg(self.dir.path()).status();
    }
}

/// A Postfix of one test's own whose SMTP AUTH asks `dovecot` and which
/// delivers into it; stopped when dropped.
struct OwnPostfix {
    dir: tempfile::TempDir,
    port: u16,
}

impl OwnPostfix {
    fn start(dovecot: &OwnDovecot) -> OwnPostfix {
        let dir = tempfile::tempdir().expect("tmp");
        let port = free_port();
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postfix.sh");
        let out = Command::new(&script)
            .arg("start")
            .arg(dir.path())
            .arg(port.to_string())
            .arg(dovecot.dir.path())
            .arg(dovecot.lmtp.to_string())
            .stdin(std::process::Stdio::null())
            .output()
            .expect("postfix.sh");
        assert!(out.status.success(), "postfix.sh: {}", String::from_utf8_lossy(&out.stderr));
        OwnPostfix { dir, port }
    }
}

impl Drop for OwnPostfix {
    fn drop(&mut self) {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/postfix.sh");
        let _ = Command::new(script).arg("stop").arg(self.dir.path()).status();
    }
}

/// An email account parsed from TOML, as a user writes it: IMAP on `own`
/// (plaintext on loopback), SMTP on the suite's Postfix.
fn account_toml(own: &OwnDovecot, suite: &Suite, extra: &str, imap_extra: &str, smtp_extra: &str) -> String {
    let home = own.dir.path();
    let pw = home.join("pw");
    std::fs::write(&pw, "secret").expect("pw");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let ca = suite.dir.join("tls/ca.pem");
    format!(
        "[agent]\nname = \"anna\"\n\n[[accounts]]\nkind = \"email\"\nname = \"office\"\naddress = \"alice@office.test\"\n\
         history_before = \"2020-01-01\"\n{extra}\n\
         imap = {{ host = \"127.0.0.1\", port = {}, tls = \"none\", insecure = true, user = \"alice\", {imap_extra} }}\n\
         smtp = {{ host = \"127.0.0.1\", port = {}, tls = \"starttls\", user = \"alice\", ca_file = {:?}, {smtp_extra} }}\n",
        own.imap,
        suite.smtp,
        ca.display().to_string(),
    )
    .replace("PW", &pw.display().to_string())
}

fn email_account(toml: &str) -> EmailAccount {
    match Config::parse(toml).expect("config").accounts.remove(0) {
        Account::Email(e) => e,
        _ => unreachable!("an email account"),
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt")
}

fn mail(id: &str, subject: &str) -> Vec<u8> {
    format!(
        "From: Ирина <irina@client.test>\r\nTo: alice@office.test\r\nSubject: {subject}\r\nMessage-ID: <{id}@client.test>\r\n\
         Date: Fri, 20 Nov 2026 10:00:00 +0300\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nТекст {id}.\r\n"
    )
    .into_bytes()
}

/// Queues a new mail from alice to `client-TAG@client.test` and runs the
/// dispatcher once, with `acct`'s SMTP server and filing in Sent.
fn send_new_mail(
    rt: &tokio::runtime::Runtime,
    s: &TempStore,
    acct: &EmailAccount,
    ch: i64,
    tag: &str,
    subject: &str,
    body: &str,
) -> pult::sync::dispatcher::DispatchReport {
    let e = pult::store::intents::NewEmail {
        channel: ch,
        from_address: "alice@office.test".into(),
        to: vec![format!("client-{tag}@client.test")],
        subject: subject.to_string(),
        body: body.to_string(),
        actor: "anna".into(),
        ..Default::default()
    };
    s.writer.call_blocking(move |c| pult::store::intents::new_email(c, &e, NOW)).expect("queue");
    let sender = email::send::EmailSender {
        account: acct.clone(),
        writer: s.writer.clone(),
        append_to_sent: true,
        timezone: moscow(),
        lang: pult::i18n::Lang::En,
    };
    let senders: pult::sync::dispatcher::Senders =
        [(ch, std::sync::Arc::new(sender) as std::sync::Arc<dyn pult::sync::dispatcher::ChannelSender>)]
            .into_iter()
            .collect();
    rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders))
}

fn count(s: &TempStore, sql: &str) -> i64 {
    rusqlite::Connection::open(&s.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
}

/// Sent, Junk and Trash under Russian names, declared by SPECIAL-USE; a
/// folder «Входящие/Клиенты» below a hierarchy node.
const RUSSIAN_FOLDERS: &str = r#"namespace inbox {
  mailbox Sent {
    special_use =
    auto = no
  }
  mailbox "Отправленные" {
    special_use = \Sent
    auto = subscribe
  }
  mailbox "Спам" {
    special_use = \Junk
    auto = create
  }
  mailbox "Корзина" {
    special_use = \Trash
    auto = create
  }
}"#;

#[test]
fn folders_are_found_by_role_under_russian_names_and_a_gone_one_is_reported() {
    let suite = suite();
    let own = OwnDovecot::start(RUSSIAN_FOLDERS);
    own.save("INBOX", &mail("in1", "Акт"));
    own.save("Отправленные", &mail("sent1", "Re: Акт"));
    own.save("Входящие/Клиенты", &mail("client1", "Договор"));
    own.save("Спам", &mail("spam1", "Выигрыш"));
    own.save("Корзина", &mail("trash1", "Старое"));
    let rt = rt();
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let pw = "password_file = \"PW\"";

    // No `folders`: INBOX and the folder the server marks \Sent.
    let acct = email_account(&account_toml(&own, &suite, "", pw, pw));
    let synced = rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync");
    let names: Vec<&str> = synced.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(names, ["INBOX", "Отправленные"]);
    let (folder, outgoing): (String, bool) = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row(
            "SELECT imap_folder, direction = 'out' FROM messages WHERE rfc_message_id = '<sent1@client.test>'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("the sent mail");
    assert_eq!((folder.as_str(), outgoing), ("Отправленные", true), "stored by its decoded name, as ours");

    // `*`: everything but Junk and Trash, the nested Russian folder included.
    let star = email_account(&account_toml(&own, &suite, "folders = [\"*\"]", pw, pw));
    let synced = rt.block_on(email::sync_account(&star, &s.writer, ch)).expect("sync");
    let mut names: Vec<&str> = synced.iter().map(|(f, _)| f.as_str()).collect();
    names.sort();
    assert_eq!(names, ["INBOX", "Входящие/Клиенты", "Отправленные"]);
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 3, "nothing from Спам or Корзина");

    // Renamed on the server: reported by name, not synced, no error.
    own.doveadm(&["mailbox", "rename", "-u", "alice", "Входящие/Клиенты", "Входящие/Партнёры"]);
    let listed = email_account(&account_toml(&own, &suite, "folders = [\"INBOX\", \"Входящие/Клиенты\"]", pw, pw));
    let synced = rt.block_on(email::sync_account(&listed, &s.writer, ch)).expect("sync goes on");
    let missing: Vec<&str> = synced.iter().filter(|(_, r)| r.missing).map(|(f, _)| f.as_str()).collect();
    assert_eq!(missing, ["Входящие/Клиенты"]);
    let status = email::missing_folders_status(&email::folders::plan(&listed, &[]))
        .map(|s| s.to_stored())
        .expect("a warning for the sidebar");
    assert!(status.starts_with('⚠') && status.contains("Входящие/Клиенты"), "{status}");
    // `pult sync --once` names it for a person.
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, account_toml(&own, &suite, "folders = [\"INBOX\", \"Входящие/Клиенты\"]", pw, pw))
        .expect("cfg");
    let out = pult(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("--store")
        .arg(&s.path)
        .args(["sync", "--once"])
        .output()
        .expect("pult");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("Входящие/Клиенты: not on the server"), "{text}");
    // In the team's language.
    let ru = account_toml(&own, &suite, "folders = [\"INBOX\", \"Входящие/Клиенты\"]", pw, pw);
    std::fs::write(&cfg, format!("[ui]\nlanguage = \"ru\"\n\n{ru}")).expect("cfg");
    let out = pult(home.path())
        .arg("--config")
        .arg(&cfg)
        .arg("--store")
        .arg(&s.path)
        .args(["sync", "--once"])
        .output()
        .expect("pult");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("Входящие/Клиенты: нет на сервере (переименована или удалена?)"), "{text}");

    // A sent mail is filed into «Отправленные», found by its role.
    let tag = format!("role-{}", std::process::id());
    let report = send_new_mail(&rt, &s, &acct, ch, &tag, &format!("Акт {tag}"), "Акт сверки будет завтра.");
    assert!(report.failed.is_empty(), "{report:?}");
    let filed = own.doveadm(&["-f", "tab", "fetch", "-u", "alice", "hdr.subject", "mailbox", "Отправленные", "all"]);
    assert!(filed.contains(&tag), "filed in «Отправленные»: {filed}");
}

/// Gmail's shape on Dovecot: labels are folders, so one mail sits in INBOX
/// and under «Клиенты»; «Вся почта» (`\All`) holds a copy of everything.
const GMAIL_LIKE: &str = r#"namespace inbox {
  mailbox "Вся почта" {
    special_use = \All
    auto = create
  }
}"#;

/// With `folders = ["*"]` a mail under two labels is one mail in pult (the
/// copy is recognised, not stored twice), and the All Mail folder, which
/// repeats every other, is not synced; a sync again adds nothing.
#[test]
fn a_mail_under_two_labels_is_one_mail_and_all_mail_is_not_synced() {
    let suite = suite();
    let own = OwnDovecot::start(GMAIL_LIKE);
    for folder in ["INBOX", "Клиенты", "Вся почта"] {
        own.save(folder, &mail("label1", "Акт за ноябрь"));
    }
    own.save("INBOX", &mail("only-inbox", "Счёт"));
    own.save("Вся почта", &mail("only-inbox", "Счёт"));
    own.save("Вся почта", &mail("archived", "Старое"));
    let rt = rt();
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let pw = "password_file = \"PW\"";
    let acct = email_account(&account_toml(&own, &suite, "folders = [\"*\"]", pw, pw));
    let synced = rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync");
    let mut names: Vec<&str> = synced.iter().map(|(f, _)| f.as_str()).collect();
    names.sort();
    assert_eq!(names, ["INBOX", "Sent", "Клиенты"], "All Mail is found by its role and left out");
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE rfc_message_id = '<label1@client.test>'"), 1);
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 2);
    rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync again");
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 2, "nothing twice on the next sync");
    assert_eq!(email::gmail_key(1278455344230334865), "gmail:1278455344230334865");
}

/// On a server with X-GM-EXT-1 the mail's X-GM-MSGID is its key: a mail
/// without a Message-ID under two labels (which nothing else could tell to be
/// one mail) is stored once, and two different mails stay two.
#[test]
fn on_gmail_the_x_gm_msgid_makes_one_mail_of_its_labels() {
    let suite = suite();
    let own = OwnDovecot::start("");
    let bare = "From: Ирина <irina@client.test>\r\nTo: alice@office.test\r\nSubject: Без Message-ID\r\n\
                 Date: Fri, 20 Nov 2026 10:00:00 +0300\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nТекст.\r\n"
        .as_bytes();
    own.save("INBOX", bare);
    own.save("INBOX", &mail("second", "Счёт"));
    own.save("Clients", bare);
    let ids: std::collections::HashMap<(String, u32), u64> = [
        (("INBOX".to_string(), 1), 1_800_000_000_000_000_111),
        (("INBOX".to_string(), 2), 1_800_000_000_000_000_222),
        (("Clients".to_string(), 1), 1_800_000_000_000_000_111),
    ]
    .into_iter()
    .collect();
    let proxy = common::gmail_proxy::GmailProxy::start(own.imap, ids);
    let pw = "password_file = \"PW\"";
    let toml = account_toml(&own, &suite, "folders = [\"INBOX\", \"Clients\"]", pw, pw)
        .replace(&format!("port = {}, tls = \"none\"", own.imap), &format!("port = {}, tls = \"none\"", proxy.port));
    let acct = email_account(&toml);
    assert_eq!(acct.imap.port, proxy.port);
    let rt = rt();
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync");
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 2);
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE remote_id = 'gmail:1800000000000000111'"), 1);
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE remote_id = 'gmail:1800000000000000222'"), 1);
}

/// Dovecot with an `oauth2` passdb asking `introspection` about every token.
fn oauth_dovecot(introspection: &common::introspect::Introspection) -> (OwnDovecot, tempfile::TempDir) {
    use std::os::unix::fs::PermissionsExt;
    // Read by Dovecot's auth process (not root): a directory others may enter.
    let conf = tempfile::tempdir().expect("tmp");
    std::fs::set_permissions(conf.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let ext = conf.path().join("oauth2.conf.ext");
    std::fs::write(
        &ext,
        format!(
            "introspection_mode = post\nintrospection_url = {}\nusername_attribute = username\n\
             active_attribute = active\nactive_value = true\nforce_introspection = yes\n",
            introspection.url()
        ),
    )
    .expect("ext");
    std::fs::set_permissions(&ext, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let extra = format!(
        "auth_mechanisms = plain login oauthbearer xoauth2\npassdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
        ext.display()
    );
    (OwnDovecot::start(&extra), conf)
}

/// A token command as oama or mutt_oauth2.py are: prints the current token,
/// here the next line of `tokens` each time it runs (the last one again at
/// the end), counting its runs in `runs`.
fn token_command(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let script = dir.join("token.sh");
    let d = dir.display();
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nn=$(cat {d}/runs 2>/dev/null || echo 0); n=$((n+1)); echo $n > {d}/runs\n\
             total=$(wc -l < {d}/tokens); [ $n -gt $total ] && n=$total\nsed -n \"${{n}}p\" {d}/tokens\n"
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    script
}

fn runs(dir: &Path) -> u32 {
    std::fs::read_to_string(dir.join("runs")).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(0)
}

/// Sync and send with an access token from a token command: an expired token
/// is refused, the command runs once more and the sync carries on; a revoked
/// one is a login failure after exactly one retry; no token ever shows.
#[test]
fn oauth2_token_command_syncs_and_sends_and_an_expired_token_is_fetched_again() {
    let suite = suite();
    let _ = &suite;
    let introspection = common::introspect::Introspection::start();
    let (own, _conf) = oauth_dovecot(&introspection);
    let postfix = OwnPostfix::start(&own);
    own.save("INBOX", &mail("oauth1", "Счёт"));
    let work = tempfile::tempdir().expect("tmp");
    let (expired, fresh, revoked) = ("ya29.EXPIRED-7f3a9c", "ya29.FRESH-d41d8c", "ya29.REVOKED-0e9b1f");
    introspection.allow(fresh, "alice");
    std::fs::write(work.path().join("tokens"), format!("{expired}\n{fresh}\n")).expect("tokens");
    let script = token_command(work.path());
    let ca = own.dir.path().join("tls/ca.pem");
    let toml = format!(
        "[agent]\nname = \"anna\"\n\n[[accounts]]\nkind = \"email\"\nname = \"office\"\naddress = \"alice@office.test\"\n\
         history_before = \"2020-01-01\"\nauth = \"oauth2\"\noauth2_token_command = [{:?}]\n\
         imap = {{ host = \"127.0.0.1\", port = {}, tls = \"none\", insecure = true, user = \"alice\" }}\n\
         smtp = {{ host = \"127.0.0.1\", port = {}, tls = \"starttls\", user = \"alice\", ca_file = {:?} }}\n",
        script.display().to_string(),
        own.imap,
        postfix.port,
        ca.display().to_string(),
    );
    let acct = email_account(&toml);
    let rt = rt();
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let synced = rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync with a refreshed token");
    assert_eq!(synced[0].1.inserted, 1, "{synced:?}");
    assert_eq!(runs(work.path()), 2, "the expired token was refused, the command ran once more");
    assert_eq!(introspection.asked()[..2], [expired.to_string(), fresh.to_string()]);
    let (_, how) = rt.block_on(email::connect_saying_how(&acct)).expect("login");
    assert_eq!(how, "OAUTHBEARER", "Dovecot offers OAUTHBEARER: the standard mechanism is used");

    // Sending: SMTP AUTH through Postfix and Dovecot's SASL with the token;
    // the token in hand has expired again, so SMTP too asks the command once more.
    std::fs::write(work.path().join("tokens"), format!("{expired}\n{fresh}\n")).expect("tokens");
    std::fs::remove_file(work.path().join("runs")).expect("reset");
    let tag = format!("oauth-{}", std::process::id());
    let report = send_new_mail(&rt, &s, &acct, ch, &tag, &format!("Счёт {tag}"), "Счёт во вложении.");
    assert!(report.failed.is_empty() && report.handled() == 1, "{report:?}");
    assert_eq!(runs(work.path()), 3, "SMTP: expired, then fresh; then the copy for Sent over IMAP");
    eventually("the mail at the client's (carol, via Postfix)", || own.subjects("carol", "INBOX").contains(&tag));
    assert!(own.subjects("alice", "Sent").contains(&tag), "filed in Sent with the same token");

    // A preset with every server key given explicitly: its login kind (OAuth2
    // for Gmail) and folder habit still apply, and doctor says what it chose.
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, toml.replace("auth = \"oauth2\"", "provider = \"gmail\"")).expect("cfg");
    let out = pult(home.path()).arg("--config").arg(&cfg).args(["doctor"]).output().expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("preset gmail (the server files sent mail itself)"), "{text}");
    assert!(text.contains("login: OAUTHBEARER") && text.contains("login accepted: OAuth2 token"), "{text}");
    assert!(text.contains("folders: INBOX, Sent (\\Sent)"), "{text}");
    for token in [expired, fresh] {
        assert!(!text.contains(token), "{text}");
    }

    // Revoked: one retry, then a login failure that names the user, not the token.
    introspection.revoke(fresh);
    std::fs::write(work.path().join("tokens"), format!("{revoked}\n")).expect("tokens");
    std::fs::remove_file(work.path().join("runs")).expect("reset");
    let err = rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect_err("revoked").to_string();
    assert_eq!(runs(work.path()), 2, "asked again once, not forever");
    assert!(err.contains("login failed for alice"), "{err}");
    // Nowhere a person or a script looks: errors, doctor, sync --once, --json, logs.
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, &toml).expect("cfg");
    let mut shown = err.clone();
    for args in [&["doctor"][..], &["sync", "--once"], &["outbox", "--json"], &["channels", "--json"]] {
        let out =
            pult(home.path()).arg("--config").arg(&cfg).arg("--store").arg(&s.path).args(args).output().expect("pult");
        shown.push_str(&String::from_utf8_lossy(&out.stdout));
        shown.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    assert!(shown.contains("login failed"), "{shown}");
    let logs = Command::new("grep").args(["-r", "-l", "ya29."]).arg(home.path()).output().expect("grep");
    for token in [expired, fresh, revoked] {
        assert!(!shown.contains(token), "{token} shown: {shown}");
    }
    assert!(logs.stdout.is_empty(), "a token in {}", String::from_utf8_lossy(&logs.stdout));
}

/// A server that offers none of IDLE, CONDSTORE and QRESYNC (an older or a
/// hosted one): the worker polls every `poll_seconds`; a new mail, a flag set
/// elsewhere and an expunge each show up; `pult thread --json` says
/// `expunged`; doctor says it polls.
#[test]
fn without_idle_condstore_and_qresync_the_worker_polls_and_sees_new_mail_flags_and_expunges() {
    let suite = suite();
    let own =
        OwnDovecot::start("imap_capability = IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE LITERAL+ SPECIAL-USE UIDPLUS");
    own.save("INBOX", &mail("plain1", "Акт"));
    own.save("INBOX", &mail("plain2", "Счёт"));
    let pw = "password_file = \"PW\"";
    let toml = account_toml(&own, &suite, "folders = [\"INBOX\"]\npoll_seconds = 1", pw, pw);
    let acct = email_account(&toml);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    rt.spawn(email::run(acct.clone(), s.writer.clone(), ch));
    let live = || count(&s, "SELECT count(*) FROM messages WHERE expunged = 0");
    eventually("the first sync", || live() == 2);
    own.save("INBOX", &mail("plain3", "Договор"));
    eventually("a new mail, found by polling", || live() == 3);
    let uid_of = |id: &str| -> u32 {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT imap_uid FROM messages WHERE rfc_message_id = ?1", [id], |r| r.get(0))
            .expect("uid")
    };
    let (first, second) = (uid_of("<plain1@client.test>"), uid_of("<plain2@client.test>"));
    own.doveadm(&["flags", "add", "-u", "alice", "\\Seen", "mailbox", "INBOX", "uid", &first.to_string()]);
    eventually("a flag set by another client", || {
        count(&s, "SELECT seen FROM messages WHERE rfc_message_id = '<plain1@client.test>'") == 1
    });
    own.doveadm(&["expunge", "-u", "alice", "mailbox", "INBOX", "uid", &second.to_string()]);
    eventually("an expunge", || count(&s, "SELECT count(*) FROM messages WHERE expunged = 1") == 1);
    rt.shutdown_background();
    let conversation =
        count(&s, "SELECT conversation_id FROM messages WHERE rfc_message_id = '<plain2@client.test>'").to_string();
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, &toml).expect("cfg");
    let run = |args: &[&str]| {
        let out =
            pult(home.path()).arg("--config").arg(&cfg).arg("--store").arg(&s.path).args(args).output().expect("pult");
        assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let thread: serde_json::Value =
        serde_json::from_str(&run(&["thread", "--conversation", &conversation, "--json"])).expect("json");
    let gone: Vec<bool> =
        thread["messages"].as_array().expect("messages").iter().map(|m| m["expunged"] == true).collect();
    assert_eq!(gone, [true], "{thread}");
    let doctor = run(&["doctor"]);
    assert!(
        doctor.contains("no IDLE: new mail is looked for every 1 s") && doctor.contains("no CONDSTORE"),
        "{doctor}"
    );
}

/// pult's own OAuth2 client: `pult auth` signs in by the device-code flow
/// (the URL and the code printed, nothing to open on the server), the tokens
/// are kept 0600; an access token about to expire is refreshed before use and
/// the rotated refresh token replaces the old one; once everything is revoked
/// the account says what to run («needs login: pult auth office») and a
/// queued mail waits instead of failing.
#[test]
fn pult_auth_device_code_then_refresh_with_rotation_then_revoked_asks_for_a_login_and_mail_waits() {
    use std::os::unix::fs::PermissionsExt;
    let suite = suite();
    let server = common::introspect::Introspection::start();
    let (own, _conf) = oauth_dovecot(&server);
    own.save("INBOX", &mail("flow1", "Сверка"));
    // Access tokens that expire within pult's margin: refreshed before every use.
    server.set_lifetime(60);
    let base = server.base();
    let flow = format!(
        "oauth2 = {{ provider = \"custom\", client_id = \"pult-test\", token_url = \"{base}/token\", \
         device_url = \"{base}/devicecode\" }}"
    );
    // IMAP logs in with the flow's tokens; SMTP (the suite's Postfix) first with its password, later with the flow too.
    let toml = account_toml(&own, &suite, &flow, "auth = \"oauth2\"", "password_file = \"PW\"");
    let both = account_toml(&own, &suite, &flow, "auth = \"oauth2\"", "auth = \"oauth2\"");
    let home = tempfile::tempdir().expect("home");
    let cfg = home.path().join("config.toml");
    std::fs::write(&cfg, &toml).expect("cfg");
    let store = home.path().join("pult.db");
    let run = |args: &[&str]| {
        pult(home.path()).arg("--config").arg(&cfg).arg("--store").arg(&store).args(args).output().expect("pult")
    };

    let out = run(&["auth", "office"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("WDJB-MJHT") && text.contains(&format!("{base}/device")), "{text}");
    let file = home.path().join("data/pult/oauth2/office.json");
    let mode = std::fs::metadata(&file).expect("token file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(server.live_refresh_tokens(), ["rt-1-secret"]);

    let out = run(&["sync", "--once"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 new"), "{text}");
    assert!(server.refreshes() >= 1, "the token about to expire was refreshed first");
    let kept = std::fs::read_to_string(&file).expect("tokens");
    assert!(!kept.contains("rt-1-secret"), "rotated: the old refresh token is gone from the file");
    assert_eq!(server.live_refresh_tokens().len(), 1);
    assert!(kept.contains(&server.live_refresh_tokens()[0]), "the file holds the live one");

    let out = run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(text.contains("login: OAUTHBEARER") && text.contains("access token refreshed until"), "{text}");
    assert!(!text.contains("-secret"), "{text}");

    // Revoked: a login is needed; the queued mail waits.
    server.revoke_everything();
    let out = run(&["send", "--to", "client@client.test", "--subject", "Сверка", "--body", "Добрый день"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // SMTP too goes through the flow now: the mail cannot leave until somebody signs in.
    std::fs::write(&cfg, &both).expect("cfg");
    let out = run(&["sync", "--once"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("needs login: pult auth office"), "{text}");
    let state: String = rusqlite::Connection::open(&store)
        .expect("open")
        .query_row("SELECT state FROM outbox", [], |r| r.get(0))
        .expect("outbox row");
    assert_eq!(state, "pending", "the mail waits for the login: {text}");
    for secret in ["rt-1-secret", "rt-2-secret", "at-1-secret", "at-2-secret"] {
        assert!(!text.contains(secret), "{secret} shown: {text}");
    }
}

/// The loopback redirect (Google, Yandex, Mail.ru) with PKCE: the code comes
/// back to 127.0.0.1 from the browser, or is pasted into the terminal (the
/// browser ran on a laptop, pult over SSH); a redirect with another state is refused.
#[test]
fn pult_auth_by_loopback_redirect_from_the_browser_or_pasted_over_ssh() {
    let server = common::introspect::Introspection::start();
    let base = server.base();
    let cfg: pult::config::OAuth2Config = toml::from_str(&format!(
        "provider = \"custom\"\nclient_id = \"pult-test\"\nauth_url = \"{base}/authorize\"\ntoken_url = \"{base}/token\"\n"
    ))
    .expect("oauth2 config");
    let rt = rt();
    let param = |url: &str, name: &str| -> String {
        url::Url::parse(url)
            .expect("url")
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .expect(name)
    };
    // Pasted: the address the browser ended on, typed into the terminal.
    let account = format!("loopback-paste-{}", std::process::id());
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let pasted = async { rx.await.ok() };
    let server_ref = &server;
    let shown = move |url: &str| {
        server_ref.signing_in_with(&param(url, "code_challenge"));
        let back = format!("{}?state={}&code=code-1&scope=mail", param(url, "redirect_uri"), param(url, "state"));
        let _ = tx.send(back);
    };
    rt.block_on(pult::oauth2::loopback_login(&account, &cfg, shown, pasted)).expect("signed in by paste");
    assert!(pult::oauth2::load(&account).is_some_and(|t| t.refresh_token.starts_with("rt-")));

    // From the browser: a GET on 127.0.0.1 with the code.
    let account = format!("loopback-browser-{}", std::process::id());
    let shown = |url: &str| {
        server.signing_in_with(&param(url, "code_challenge"));
        let redirect = url::Url::parse(&param(url, "redirect_uri")).expect("redirect");
        let (port, state) = (redirect.port().expect("port"), param(url, "state"));
        assert_eq!(redirect.host_str(), Some("127.0.0.1"), "loopback only");
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
            write!(c, "GET /?code=code-1&state={state} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").expect("get");
            let mut page = String::new();
            let _ = c.read_to_string(&mut page);
            assert!(page.contains("signed in"), "{page}");
        });
    };
    rt.block_on(pult::oauth2::loopback_login(&account, &cfg, shown, std::future::pending())).expect("signed in");
    assert!(pult::oauth2::load(&account).is_some());

    // A redirect that is not the one pult started.
    let account = format!("loopback-forged-{}", std::process::id());
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let shown = move |url: &str| {
        let _ = tx.send(format!("{}?state=forged&code=code-1", param(url, "redirect_uri")));
    };
    let err = rt.block_on(pult::oauth2::loopback_login(&account, &cfg, shown, async { rx.await.ok() }));
    assert!(err.is_err_and(|e| e.to_string().contains("state does not match")));
    assert!(pult::oauth2::load(&account).is_none());
}

/// A sign-in revoked at the provider: the sidebar says what to run, in the
/// team's language.
#[test]
fn a_needed_login_shows_in_the_sidebar_with_what_to_run() {
    pult::i18n::set_written(pult::i18n::Lang::Ru);
    let e = email::EmailError::Token {
        account: "office".into(),
        source: pult::oauth2::FlowError::NeedsLogin("office".into()),
    };
    let status = email::status_for(&e);
    assert!(status.to_stored().starts_with("⚠ auth"), "{status:?}");
    let store = temp_store();
    let ch = channel(&store, "office", ChannelKind::Email);
    store.writer.call_blocking(move |c| pult::store::channel_state::set_status(c, ch, &status, NOW)).expect("status");
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 240, 30);
    // Under the channel in the sidebar (as wide as it is), and whole in its own list.
    assert!(h.screen().contains("нужен вход: pult au"), "{}", h.screen());
    h.app.state.view = pult::model::View::Channel(ch);
    let screen = h.screen();
    assert!(screen.contains("нужен вход: pult auth office"), "{screen}");
}
