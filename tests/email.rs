//! The IMAP worker against a real Dovecot on 127.0.0.1, started by scripts/test
//! (PULT_TEST_DOVECOT=DIR:IMAP_PORT:IMAPS_PORT). Each test uses a mailbox of its own.

mod common;

use common::*;
use pult::channels::email::{self, FolderReport};
use pult::config::{EmailAccount, Server};
use pult::model::ChannelKind;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

struct Dovecot {
    dir: PathBuf,
    imap: u16,
    imaps: u16,
}

fn dovecot() -> Dovecot {
    let spec = std::env::var("PULT_TEST_DOVECOT")
        .expect("PULT_TEST_DOVECOT is not set: run the tests with scripts/test, which starts Dovecot");
    let mut it = spec.split(':');
    let dir = PathBuf::from(it.next().expect("dir"));
    let imap = it.next().and_then(|p| p.parse().ok()).expect("imap port");
    let imaps = it.next().and_then(|p| p.parse().ok()).expect("imaps port");
    Dovecot { dir, imap, imaps }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A folder of alice's of its own for each test, so tests can run in parallel.
fn folder(tag: &str) -> String {
    format!("t{}-{}-{tag}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst))
}

fn account(d: &Dovecot, folder: &str, tls: bool) -> EmailAccount {
    let dir = tempfile::tempdir().expect("tmp").keep();
    let pw = dir.join("pw");
    std::fs::write(&pw, "secret").expect("pw");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let server = |port| Server {
        host: "127.0.0.1".into(),
        port,
        tls: if tls { "implicit".into() } else { "none".into() },
        insecure: !tls,
        user: "alice".into(),
        password_command: None,
        password_file: Some(pw.clone()),
        ca_file: Some(d.dir.join("tls/ca.pem")),
    };
    EmailAccount {
        name: "office".into(),
        address: "alice@office.test".into(),
        from_name: None,
        imap: server(if tls { d.imaps } else { d.imap }),
        smtp: server(25),
        folders: vec![folder.to_string()],
        signature: None,
    }
}

/// Puts messages straight into the maildir, as a delivery agent would.
fn deliver(d: &Dovecot, folder: &str, mails: &[Vec<u8>]) {
    let md = d.dir.join("mail/alice/Maildir").join(format!(".{folder}"));
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).expect("maildir");
    }
    std::fs::write(md.join("maildirfolder"), b"").expect("marker");
    for (i, m) in mails.iter().enumerate() {
        let name = format!("{}.{}_{}.pult", 1_700_000_000 + i, std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        std::fs::write(md.join("new").join(name), m).expect("mail");
    }
    // Only this test's folder recursively: other tests' folders change under Dovecot meanwhile.
    let home = d.dir.join("mail/alice");
    let ok = Command::new("chown").arg("vmail:vmail").arg(&home).arg(home.join("Maildir")).status().expect("chown");
    assert!(ok.success());
    let ok = Command::new("chown").args(["-R", "vmail:vmail"]).arg(&md).status().expect("chown");
    assert!(ok.success());
}

fn mail(i: usize, thread: usize) -> Vec<u8> {
    let refs = if i % 5 == 0 {
        String::new()
    } else {
        format!("In-Reply-To: <m{}@client.test>\r\nReferences: <m{}@client.test>\r\n", i - i % 5, i - i % 5)
    };
    format!(
        "From: =?UTF-8?B?0JjRgNC40L3QsA==?= <client{thread}@client.test>\r\nTo: alice@office.test\r\n\
         Subject: =?UTF-8?B?0KHRh9GR0YI=?= {thread}\r\nMessage-ID: <m{i}@client.test>\r\n{refs}\
         Date: Fri, 20 Nov 2026 10:{:02}:00 +0300\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Сообщение номер {i}: пришлите акт сверки.\r\n",
        i % 60
    )
    .into_bytes()
}

fn sync(acct: &EmailAccount, s: &TempStore, ch: i64) -> FolderReport {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let out = rt.block_on(email::sync_account(acct, &s.writer, ch)).expect("sync");
    out.into_iter().next().map(|(_, r)| r).unwrap_or_default()
}

fn count(s: &TempStore, sql: &str) -> i64 {
    rusqlite::Connection::open(&s.path).expect("open").query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn initial_sync_of_thousands_then_incremental_over_tls() {
    let d = dovecot();
    let f = folder("bulk");
    let mails: Vec<Vec<u8>> = (0..2000).map(|i| mail(i, i / 5)).collect();
    deliver(&d, &f, &mails);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, true);
    let r = sync(&acct, &s, ch);
    assert_eq!((r.fetched, r.inserted), (2000, 2000));
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 2000);
    assert_eq!(count(&s, "SELECT count(*) FROM conversations"), 400, "threads of five by References");
    let subject: String = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT subject FROM messages WHERE remote_id = '<m7@client.test>'", [], |r| r.get(0))
        .expect("row");
    assert_eq!(subject, "Счёт 1", "RFC 2047 decoded");
    // Nothing new: nothing fetched.
    assert_eq!(sync(&acct, &s, ch).fetched, 0);
    // Three new mails: exactly three fetched.
    deliver(&d, &f, &(2000..2003).map(|i| mail(i, 999)).collect::<Vec<_>>());
    let r = sync(&acct, &s, ch);
    assert_eq!((r.fetched, r.inserted), (3, 3));
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 2003);
}

#[test]
fn a_changed_uidvalidity_resyncs_without_duplicates() {
    let d = dovecot();
    let f = folder("uidv");
    deliver(&d, &f, &(0..20).map(|i| mail(i, 1)).collect::<Vec<_>>());
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    assert_eq!(sync(&acct, &s, ch).inserted, 20);
    let st = Command::new("doveadm")
        .arg("-c")
        .arg(d.dir.join("etc/dovecot.conf"))
        .args(["mailbox", "update", "--uid-validity", "4242", "-u", "alice", &f])
        .status()
        .expect("doveadm");
    assert!(st.success());
    let r = sync(&acct, &s, ch);
    assert!(r.resynced, "{r:?}");
    assert_eq!(r.inserted, 0);
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 20);
    let v: String = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT value FROM sync_state WHERE key LIKE '%.uidvalidity'", [], |r| r.get(0))
        .expect("cursor");
    assert_eq!(v, "4242");
}

#[test]
fn russian_charsets_and_malformed_mail() {
    let d = dovecot();
    let f = folder("charsets");
    let mut koi = b"From: client@x.test\r\nSubject: =?koi8-r?B?88fF1A==?=\r\nMessage-ID: <koi@x>\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n".to_vec();
    koi.extend_from_slice(&[0xf3, 0xde, 0xc5, 0xd4, b'\r', b'\n']);
    let mut cp = b"From: client@x.test\r\nSubject: cp1251\r\nMessage-ID: <cp@x>\r\nContent-Type: text/plain; charset=windows-1251\r\n\r\n".to_vec();
    cp.extend_from_slice(&[0xc0, 0xea, 0xf2, b'\r', b'\n']); // «Акт»
    let garbage: Vec<Vec<u8>> = vec![
        b"\r\n\r\n\xff\xfe garbage".to_vec(),
        b"Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: multipart/mixed; boundary=zz\r\n\r\n--zz--".to_vec(),
        format!("From: x@x\r\nSubject: {}\r\n\r\nbody", "A".repeat(20000)).into_bytes(),
    ];
    let mut all = vec![koi, cp];
    all.extend(garbage);
    deliver(&d, &f, &all);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let r = sync(&account(&d, &f, false), &s, ch);
    assert_eq!(r.fetched, 5, "every message is kept, readable or not");
    let body = |id: &str| -> String {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT body FROM messages WHERE remote_id = ?1", [id], |r| r.get(0))
            .expect("row")
    };
    assert_eq!(body("<koi@x>"), "Счет");
    assert_eq!(body("<cp@x>"), "Акт");
}

#[test]
fn a_connection_cut_in_the_middle_of_a_fetch_resumes_without_loss_or_duplicates() {
    let d = dovecot();
    let f = folder("cut");
    deliver(&d, &f, &(0..600).map(|i| mail(i, i / 5)).collect::<Vec<_>>());
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    // A proxy that drops the connection after 150 KB from the server.
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let upstream = d.imap;
    rt.spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                let (mut cr, mut cw) = client.split();
                let (mut sr, mut sw) = server.split();
                let up = async {
                    let _ = tokio::io::copy(&mut cr, &mut sw).await;
                };
                let down = async {
                    let mut buf = vec![0u8; 8192];
                    let mut total = 0usize;
                    while let Ok(n) = sr.read(&mut buf).await {
                        if n == 0 || cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                        total += n;
                        if total > 150_000 {
                            break; // cut mid-FETCH
                        }
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {} }
            });
        }
    });
    let mut via_proxy = account(&d, &f, false);
    via_proxy.imap.port = port;
    let cut = rt.block_on(email::sync_account(&via_proxy, &s.writer, ch));
    assert!(cut.is_err(), "the cut must surface as an error, not as a short sync");
    let partial = count(&s, "SELECT count(*) FROM messages");
    assert!(partial < 600);
    let r = sync(&account(&d, &f, false), &s, ch);
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 600, "nothing lost");
    assert_eq!(r.inserted as i64, 600 - partial, "nothing twice");
}

#[test]
fn mail_delivered_while_idling_appears_without_action() {
    let d = dovecot();
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    // Bob's INBOX belongs to this test alone.
    let mut acct = account(&d, "INBOX", false);
    acct.imap.user = "bob".into();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
    rt.spawn(email::run(acct, s.writer.clone(), ch));
    let status = || -> String {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT coalesce(status, '') FROM channels WHERE id = ?1", [ch], |r| r.get(0))
            .expect("status")
    };
    let wait = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !cond() {
            assert!(std::time::Instant::now() < deadline, "timed out waiting for {what} (status {})", status());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    };
    wait("the first sync", &|| status().starts_with('✓'));
    let before = count(&s, "SELECT count(*) FROM messages");
    // Deliver into bob's INBOX (Maildir root) while the worker idles.
    let md = d.dir.join("mail/bob/Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).expect("maildir");
    }
    std::fs::write(md.join("new").join(format!("1700000000.idle{}.pult", std::process::id())), mail(90_000, 77))
        .expect("mail");
    let ok = Command::new("chown").args(["-R", "vmail:vmail"]).arg(d.dir.join("mail/bob")).status().expect("chown");
    assert!(ok.success());
    wait("the delivered mail", &|| count(&s, "SELECT count(*) FROM messages") == before + 1);
    rt.shutdown_background();
}
