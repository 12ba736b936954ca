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
        OwnDovecot { dir, imap }
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

    // A sent mail is filed into «Отправленные», found by its role.
    let tag = format!("role-{}", std::process::id());
    let e = pult::store::intents::NewEmail {
        channel: ch,
        from_address: "alice@office.test".into(),
        to: vec![format!("client-{tag}@client.test")],
        subject: format!("Акт {tag}"),
        body: "Акт сверки будет завтра.".into(),
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
    let report = rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders));
    assert!(report.failed.is_empty(), "{report:?}");
    let filed = own.doveadm(&["-f", "tab", "fetch", "-u", "alice", "hdr.subject", "mailbox", "Отправленные", "all"]);
    assert!(filed.contains(&tag), "filed in «Отправленные»: {filed}");
}
