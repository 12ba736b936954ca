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
    smtp: u16,
}

fn dovecot() -> Dovecot {
    let spec = std::env::var("PULT_TEST_DOVECOT")
        .expect("PULT_TEST_DOVECOT is not set: run the tests with scripts/test, which starts Dovecot");
    let mut it = spec.split(':');
    let dir = PathBuf::from(it.next().expect("dir"));
    let imap = it.next().and_then(|p| p.parse().ok()).expect("imap port");
    let imaps = it.next().and_then(|p| p.parse().ok()).expect("imaps port");
    let smtp = it.next().and_then(|p| p.parse().ok()).unwrap_or(0);
    Dovecot { dir, imap, imaps, smtp }
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
        timeout_seconds: None,
        auth: None,
        oauth2_token_command: None,
    };
    EmailAccount {
        name: "office".into(),
        address: "alice@office.test".into(),
        provider: None,
        from_name: None,
        imap: server(if tls { d.imaps } else { d.imap }),
        smtp: Server { tls: "starttls".into(), insecure: false, ..server(d.smtp) },
        folders: vec![folder.to_string()],
        signature: None,
        quote_original: true,
        save_sent: true,
        sent_folder: None,
        aliases: Vec::new(),
        // The tests' mail is dated in November 2026: none of it is history
        // (`history_is_not_a_queue_and_lists_never_wait` sets its own).
        history_before: Some("2020-01-01".into()),
        oauth2: None,
        poll_seconds: None,
        auth: None,
        oauth2_token_command: None,
        password_command: None,
        password_file: None,
        // Never the machine's resolver in a test: the DKIM tests set a fake one.
        dkim: pult::mailauth::Settings { enabled: false, ..Default::default() },
    }
}

/// Puts messages straight into the maildir, as a delivery agent would.
fn deliver(d: &Dovecot, folder: &str, mails: &[Vec<u8>]) {
    let md = d.dir.join("mail/alice/Maildir").join(format!(".{folder}"));
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(md.join(sub)).expect("maildir");
    }
    std::fs::write(md.join("maildirfolder"), b"").expect("marker");
    // Owned by the mail user before Dovecot can see anything (other tests run meanwhile).
    let home = d.dir.join("mail/alice");
    let ok = Command::new("chown").arg("vmail:vmail").arg(&home).arg(home.join("Maildir")).status().expect("chown");
    assert!(ok.success());
    let ok = Command::new("chown").args(["-R", "vmail:vmail"]).arg(&md).status().expect("chown");
    assert!(ok.success());
    // Maildir delivery: write into tmp/, then rename into new/ (atomic for the server).
    let names: Vec<String> = mails
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name =
                format!("{}.{}_{}.pult", 1_700_000_000 + i, std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
            std::fs::write(md.join("tmp").join(&name), m).expect("mail");
            name
        })
        .collect();
    let ok = Command::new("chown").args(["-R", "vmail:vmail"]).arg(md.join("tmp")).status().expect("chown");
    assert!(ok.success());
    for name in names {
        std::fs::rename(md.join("tmp").join(&name), md.join("new").join(&name)).expect("deliver");
    }
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
    // A long first sync says how far it is after each stored batch.
    let seen = std::sync::Mutex::new(Vec::new());
    let progress = |p: email::SyncProgress<'_>| seen.lock().expect("lock").push((p.done, p.total, p.bytes));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let out = rt.block_on(email::sync_account_with(&acct, &s.writer, ch, true, &progress)).expect("sync");
    let r = out.into_iter().next().map(|(_, r)| r).unwrap_or_default();
    assert_eq!((r.fetched, r.inserted), (2000, 2000));
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 2000);
    let seen = seen.into_inner().expect("lock");
    // A small first batch, so that the first mail is stored sooner.
    assert_eq!(seen.iter().map(|p| p.0).collect::<Vec<_>>(), [100, 600, 1100, 1600, 2000], "{seen:?}");
    assert!(seen.iter().all(|p| p.1 == 2000) && seen.windows(2).all(|w| w[0].2 < w[1].2), "{seen:?}");
    assert_eq!(count(&s, "SELECT count(*) FROM conversations"), 400, "threads of five by References");
    let subject: String = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT subject FROM messages WHERE rfc_message_id = '<m7@client.test>'", [], |r| r.get(0))
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

/// Runs a sync of `acct` and drops it (as a kill would) once its first batch is stored.
fn sync_stopped_after_a_batch(acct: &EmailAccount, s: &TempStore, ch: i64) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let tx = std::sync::Mutex::new(Some(tx));
    let progress = |_: email::SyncProgress<'_>| {
        if let Some(tx) = tx.lock().expect("lock").take() {
            let _ = tx.send(());
        }
    };
    rt.block_on(async {
        tokio::select! {
            r = email::sync_account_with(acct, &s.writer, ch, true, &progress) => panic!("not stopped: {r:?}"),
            _ = rx => {}
        }
    });
    // Whatever the dropped sync had queued is written before anything is counted.
    s.writer.call_blocking(|_| Ok(())).expect("writer");
}

#[test]
fn an_interrupted_initial_sync_goes_on_where_it_stopped() {
    let d = dovecot();
    let f = folder("resume");
    // Six batches (100, four of 500, 400): a sync has up to three in flight
    // (fetched, packed, queued at the writer), and what it queued is stored
    // after it stops.
    let n = 2500;
    deliver(&d, &f, &(0..n).map(|i| mail(i, i / 5)).collect::<Vec<_>>());
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync_stopped_after_a_batch(&acct, &s, ch);
    let stored = count(&s, "SELECT count(*) FROM messages");
    assert!([100, 600, 1100].contains(&stored), "stopped after one batch, two or three: {stored}");
    let newest: i64 = count(&s, "SELECT min(imap_uid) FROM messages");
    let highest: i64 = count(&s, "SELECT max(imap_uid) FROM messages");
    assert_eq!(highest - newest + 1, stored, "the newest mail came first, without a gap");
    let r = sync(&acct, &s, ch);
    assert_eq!(
        (r.fetched as i64, r.inserted as i64),
        (n as i64 - stored, n as i64 - stored),
        "only the rest is fetched"
    );
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), n as i64);
    assert_eq!(sync(&acct, &s, ch).fetched, 0, "and then nothing");
    // A resync after a renumbering, stopped halfway, goes on as one: no mail twice.
    doveadm(&d, &["mailbox", "update", "--uid-validity", "6161", "-u", "alice", &f]);
    sync_stopped_after_a_batch(&acct, &s, ch);
    let moved = count(&s, "SELECT count(*) FROM messages WHERE imap_validity = 6161");
    assert!([100, 600, 1100].contains(&moved), "{moved}");
    let r = sync(&acct, &s, ch);
    assert!(r.resynced, "{r:?}");
    assert_eq!((r.fetched as i64, r.inserted), (n as i64 - moved, 0));
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), n as i64);
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE imap_validity = 6161"), n as i64);
    // New mail after all that: exactly it.
    deliver(&d, &f, &(n..n + 3).map(|i| mail(i, 999)).collect::<Vec<_>>());
    assert_eq!(sync(&acct, &s, ch).inserted, 3);
}

#[test]
fn a_batch_that_fails_to_store_ends_the_sync_and_nothing_past_it_is_stored() {
    let d = dovecot();
    let f = folder("refused");
    // Newest first: 2500-2401, 2400-1901, 1900-1401 (the one that fails), …
    let n = 2500;
    deliver(&d, &f, &(0..n).map(|i| mail(i, i / 5)).collect::<Vec<_>>());
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    let store = rusqlite::Connection::open(&s.path).expect("open");
    store
        .execute_batch(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON messages WHEN NEW.imap_uid = 1800
             BEGIN SELECT RAISE(ABORT, 'disk trouble'); END;",
        )
        .expect("trigger");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let err = rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect_err("the sync fails");
    assert!(err.to_string().contains("disk trouble"), "the failure itself is reported: {err}");
    // Whatever the sync had queued is through the writer before anything is counted.
    s.writer.call_blocking(|_| Ok(())).expect("writer");
    // The fourth batch was queued behind the third before that failed: it was
    // refused, so the cursors do not pass the mail the third one held.
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 600, "only the first two batches");
    assert_eq!(count(&s, "SELECT min(imap_uid) FROM messages"), 1901, "no gap");
    store.execute_batch("DROP TRIGGER refuse_one;").expect("drop");
    let r = sync(&acct, &s, ch);
    assert_eq!((r.fetched, r.inserted), (1900, 1900), "the rest, from the gap on");
    assert_eq!(count(&s, "SELECT count(DISTINCT imap_uid) FROM messages"), n as i64);
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
            .query_row("SELECT body FROM messages WHERE rfc_message_id = ?1", [id], |r| r.get(0))
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
    // A Message-ID of this run's own: the mailbox outlives a run on a developer's machine.
    let unique = 100_000 + std::process::id() as usize;
    std::fs::write(md.join("new").join(format!("1700000000.idle{}.pult", std::process::id())), mail(unique, 77))
        .expect("mail");
    let ok = Command::new("chown").args(["-R", "vmail:vmail"]).arg(d.dir.join("mail/bob")).status().expect("chown");
    assert!(ok.success());
    let query = format!("SELECT count(*) FROM messages WHERE rfc_message_id = '<m{unique}@client.test>'");
    wait("the delivered mail", &|| count(&s, &query) == 1);
    assert!(count(&s, "SELECT count(*) FROM messages") > before);
    rt.shutdown_background();
}

/// How many copies of each of the `n` mails a kill test sent ("Kill {tag} #i#")
/// reached carol's INBOX.
fn kill_copies(d: &Dovecot, tag: &str, n: usize) -> Vec<usize> {
    let all = read_mailbox(d, "carol", "INBOX");
    (0..n)
        .map(|i| {
            let needle = format!("Kill {tag} #{i}#");
            all.iter().filter(|m| String::from_utf8_lossy(m).contains(&needle)).count()
        })
        .collect()
}

/// Logs in as `user` and returns (UID, raw message) of every mail in `folder`.
fn read_mailbox(d: &Dovecot, user: &str, folder: &str) -> Vec<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let mut acct = account(d, folder, false);
    acct.imap.user = user.into();
    rt.block_on(async {
        use futures_util::StreamExt;
        let mut s = email::connect(&acct).await.expect("login");
        let mb = s.select(folder).await.expect("select");
        let mut out = Vec::new();
        if mb.exists > 0 {
            let mut st = s.fetch("1:*", "BODY.PEEK[]").await.expect("fetch");
            while let Some(f) = st.next().await {
                out.push(f.expect("fetch").body().expect("body").to_vec());
            }
        }
        out
    })
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn a_reply_goes_through_smtp_to_all_with_headers_and_lands_in_sent_once() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("reply");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let original = format!(
        "From: Ирина <irina-{tag}@client.test>\r\nTo: alice@office.test, boss-{tag}@client.test\r\nCc: bookkeeper-{tag}@client.test\r\n\
         Subject: Re: Акт сверки\r\nMessage-ID: <orig-{tag}@client.test>\r\nReferences: <root-{tag}@client.test>\r\n\
         In-Reply-To: <root-{tag}@client.test>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\r\nПришлите акт, пожалуйста.\r\n"
    );
    deliver(&d, &f, &[original.into_bytes()]);
    let (s, ch, acct) = synced_with_sent(&d, &f);
    let (parent, conv) = message_of(&s, &format!("<orig-{tag}@client.test>"));
    let reply = pult::store::intents::Reply {
        conversation_id: conv,
        reply_to_message_id: Some(parent),
        subject: Some(pult::workflow::replies::reply_subject(Some("Re: Акт сверки"))),
        body: "Акт во вложении будет завтра.".into(),
        actor: "anna".into(),
        not_before: 0,
        auto: false,
        attachments: Vec::new(),
    };
    let queued = reply.clone();
    let id = s.writer.call_blocking(move |c| pult::store::intents::queue_reply(c, &queued, NOW)).expect("queue");
    let sender = email::send::EmailSender {
        account: acct.clone(),
        writer: s.writer.clone(),
        append_to_sent: true,
        timezone: moscow(),
        lang: pult::i18n::Lang::En,
    };
    let mut senders: pult::sync::dispatcher::Senders = Default::default();
    senders.insert(ch, std::sync::Arc::new(sender));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    assert_eq!(rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders)).sent, 1);
    let (state, message_id): (String, String) = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT state, rfc_message_id FROM outbox WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("row");
    assert_eq!(state, "sent");
    // Postfix's own words on taking it are kept for the record (#34: ledger/outbox.json).
    let answer: String = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT server_answer FROM outbox WHERE id = ?1", [id], |r| r.get(0))
        .expect("the server's answer");
    assert!(answer.starts_with("250 ") && answer.contains("queued as"), "{answer}");

    // The client's side (carol receives everything not ours) gets one copy with the right headers.
    let mine = |raw: &Vec<u8>| String::from_utf8_lossy(raw).contains(&message_id);
    wait_for("delivery to the client", || read_mailbox(&d, "carol", "INBOX").iter().filter(|m| mine(m)).count() == 1);
    let received = read_mailbox(&d, "carol", "INBOX").into_iter().find(|m| mine(m)).expect("delivered");
    let parsed = mail_parser::MessageParser::default().parse(&received).expect("parse");
    assert_eq!(parsed.subject(), Some("Re: Акт сверки"), "Re: once");
    let text = parsed.body_text(0).expect("text").replace("\r\n", "\n");
    assert!(text.starts_with("Акт во вложении будет завтра."), "{text}");
    assert!(text.contains("Ирина:\n> Пришлите акт, пожалуйста."), "the original is quoted below: {text}");
    assert_eq!(parsed.in_reply_to().as_text(), Some(format!("orig-{tag}@client.test").as_str()));
    let refs: Vec<String> =
        parsed.references().as_text_list().map(|l| l.iter().map(|r| r.to_string()).collect()).unwrap_or_default();
    assert_eq!(refs, [format!("root-{tag}@client.test"), format!("orig-{tag}@client.test")]);
    let to: Vec<String> = parsed.to().expect("to").iter().filter_map(|a| a.address()).map(str::to_string).collect();
    assert_eq!(
        to,
        [format!("irina-{tag}@client.test"), format!("boss-{tag}@client.test")],
        "reply-all without ourselves"
    );
    let cc: Vec<String> = parsed.cc().expect("cc").iter().filter_map(|a| a.address()).map(str::to_string).collect();
    assert_eq!(cc, [format!("bookkeeper-{tag}@client.test")], "Cc stays Cc");
    // Filed in Sent, once.
    let in_sent = read_mailbox(&d, "alice", "Sent").iter().filter(|m| mine(m)).count();
    assert_eq!(in_sent, 1);
    // Syncing Sent back does not duplicate our message.
    sync(&acct, &s, ch);
    let n: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT count(*) FROM messages WHERE rfc_message_id = ?1", [&message_id], |r| r.get(0))
        .expect("count");
    assert_eq!(n, 1);

    // A crash after SMTP and APPEND, before the row was marked sent: the retry finds
    // the Message-ID in Sent and does not send again.
    let again = reply.clone();
    let id2 = s.writer.call_blocking(move |c| pult::store::intents::queue_reply(c, &again, NOW)).expect("queue");
    let sender = email::send::EmailSender {
        account: acct.clone(),
        writer: s.writer.clone(),
        append_to_sent: true,
        timezone: moscow(),
        lang: pult::i18n::Lang::En,
    };
    let item =
        s.writer.call_blocking(move |c| pult::store::intents::take_due(c, ch, NOW)).expect("take").expect("item");
    assert_eq!(item.id, id2);
    use pult::sync::dispatcher::ChannelSender;
    let first = rt.block_on(sender.send(&item)).expect("sent");
    // ... the process dies here; the row is still `sending`, but the 250 was
    // committed: recovery records it and finds it filed, and sends nothing.
    let recovered = rt.block_on(pult::sync::dispatcher::recover(&s.writer, &senders));
    assert_eq!((recovered.handed_over, recovered.unknown), (1, 0));
    assert_eq!(rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders)).handled(), 0);
    let state: String = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT state FROM outbox WHERE id = ?1", [id2], |r| r.get(0))
        .expect("row");
    assert_eq!(state, "sent");
    let copies = |who: &str, folder: &str| {
        read_mailbox(&d, who, folder).iter().filter(|m| String::from_utf8_lossy(m).contains(&first)).count()
    };
    wait_for("the first copy", || copies("carol", "INBOX") == 1);
    assert_eq!(copies("alice", "Sent"), 1, "filed once");
    assert_eq!(copies("carol", "INBOX"), 1, "sent once");
}

#[test]
fn doctor_says_in_one_line_what_works_and_what_does_not() {
    let d = dovecot();
    let home = tempfile::tempdir().expect("tmp");
    let good = home.path().join("good");
    let bad = home.path().join("bad");
    std::fs::write(&good, "secret").expect("pw");
    std::fs::write(&bad, "wrong").expect("pw");
    use std::os::unix::fs::PermissionsExt;
    for p in [&good, &bad] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    }
    let fake = pult::channels::telegram::fake::FakeBotApi::start().expect("fake");
    let token = home.path().join("token");
    std::fs::write(&token, "1:T").expect("token");
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let account_with = |name: &str, pw: &std::path::Path, smtp_port: u16, smtp_pw: &std::path::Path| {
        format!(
            "[[accounts]]\nkind = \"email\"\nname = \"{name}\"\naddress = \"alice@office.test\"\n\
             imap = {{ host = \"127.0.0.1\", port = {}, tls = \"implicit\", user = \"alice\", password_file = {:?}, ca_file = {:?} }}\n\
             smtp = {{ host = \"127.0.0.1\", port = {}, tls = \"starttls\", user = \"alice\", password_file = {:?}, ca_file = {:?} }}\n\n",
            d.imaps,
            pw.display().to_string(),
            d.dir.join("tls/ca.pem").display().to_string(),
            smtp_port,
            smtp_pw.display().to_string(),
            d.dir.join("tls/ca.pem").display().to_string(),
        )
    };
    let account = |name: &str, pw: &std::path::Path| account_with(name, pw, d.smtp, pw);
    // A port where nothing listens: bound, then closed.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let cfg = home.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}{}{}{}[[accounts]]\nkind = \"telegram\"\nname = \"bot\"\ntoken_file = {:?}\napi_url = {:?}\n",
            account("office", &good),
            account("broken", &bad),
            account_with("smtp-closed", &good, closed, &good),
            account_with("smtp-badpw", &good, d.smtp, &bad),
            token.display().to_string(),
            fake.url()
        ),
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_pult"))
        .env("HOME", home.path())
        .env("XDG_STATE_HOME", home.path().join("state"))
        .args(["doctor", "--config"])
        .arg(&cfg)
        .output()
        .expect("doctor");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "one account is broken");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines[0].starts_with("✓ office") && lines[0].contains("IDLE") && lines[0].contains("QRESYNC"), "{text}");
    assert!(lines[0].contains("login accepted"), "SMTP was really tried: {text}");
    assert!(lines[1].starts_with("✗ broken") && lines[1].contains("login failed"), "{text}");
    assert!(lines[2].starts_with("✗ smtp-closed") && lines[2].contains(&format!("SMTP 127.0.0.1:{closed}")), "{text}");
    assert!(lines[3].starts_with("✗ smtp-badpw") && lines[3].contains("SMTP"), "{text}");
    assert!(!text.contains("wrong") && !text.contains("secret"), "no secrets in the output");
    assert!(lines[4].starts_with("✓ bot") && lines[4].contains("@pult_bot"), "{text}");
}

/// Flags of every mail in alice's `folder`, by UID, as the server has them.
fn server_flags(d: &Dovecot, folder: &str) -> Vec<(u32, String)> {
    let out = Command::new("doveadm")
        .arg("-c")
        .arg(d.dir.join("etc/dovecot.conf"))
        .args(["-f", "tab", "fetch", "-u", "alice", "uid flags", "mailbox", folder, "all"])
        .output()
        .expect("doveadm fetch");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t').and_then(|(u, f)| Some((u.parse().ok()?, f.to_string()))))
        .collect()
}

fn doveadm(d: &Dovecot, args: &[&str]) {
    let st =
        Command::new("doveadm").arg("-c").arg(d.dir.join("etc/dovecot.conf")).args(args).status().expect("doveadm");
    assert!(st.success(), "doveadm {args:?}");
}

#[test]
fn flags_travel_both_ways_and_expunged_mail_is_kept_and_marked() {
    let d = dovecot();
    let f = folder("flags");
    deliver(&d, &f, &(0..3).map(|i| mail(i * 5, i)).collect::<Vec<_>>());
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync(&acct, &s, ch);
    let conv_of = |remote: &str| -> i64 {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT conversation_id FROM messages WHERE rfc_message_id = ?1", [remote], |r| r.get(0))
            .expect("conv")
    };
    // Read in pult -> \Seen on the server.
    let conv = conv_of("<m0@client.test>");
    s.writer.call_blocking(move |c| pult::store::intents::mark_read(c, "anna", conv, NOW)).expect("read");
    sync(&acct, &s, ch);
    let flags = server_flags(&d, &f);
    let uid_of_first = flags.iter().map(|x| x.0).min().expect("uids");
    assert!(flags.iter().find(|x| x.0 == uid_of_first).expect("m0").1.contains("\\Seen"), "{flags:?}");
    // Changed by another client -> reflected in the store.
    let second = flags.iter().map(|x| x.0).filter(|u| *u != uid_of_first).min().expect("second");
    doveadm(&d, &["flags", "add", "-u", "alice", "\\Seen \\Answered", "mailbox", &f, "uid", &second.to_string()]);
    let r = sync(&acct, &s, ch);
    assert!(r.qresync, "Dovecot offers QRESYNC: the changes come with the SELECT");
    let (seen, answered): (bool, bool) = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row(
            "SELECT seen, answered FROM messages WHERE imap_uid = ?1 AND imap_folder = ?2",
            rusqlite::params![second, f],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert!(seen && answered);
    // Expunged by another client -> kept, marked.
    doveadm(&d, &["expunge", "-u", "alice", "mailbox", &f, "uid", &second.to_string()]);
    let r = sync(&acct, &s, ch);
    assert_eq!((r.qresync, r.expunged), (true, 1), "VANISHED (EARLIER) names the expunged mail");
    let (n, gone): (i64, i64) = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT count(*), sum(expunged) FROM messages", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("count");
    assert_eq!((n, gone), (3, 1));
}

#[test]
fn without_qresync_flags_and_expunges_come_from_condstore_and_a_uid_diff() {
    let d = dovecot();
    let f = folder("noqr");
    deliver(&d, &f, &(0..4).map(|i| mail(i * 5, i)).collect::<Vec<_>>());
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let sync_plain = || {
        let out = rt.block_on(email::sync_account_with(&acct, &s.writer, ch, false, &|_| {})).expect("sync");
        out.into_iter().next().map(|(_, r)| r).unwrap_or_default()
    };
    sync_plain();
    let uids: Vec<u32> = server_flags(&d, &f).iter().map(|x| x.0).collect();
    doveadm(&d, &["flags", "add", "-u", "alice", "\\Answered", "mailbox", &f, "uid", &uids[1].to_string()]);
    doveadm(&d, &["expunge", "-u", "alice", "mailbox", &f, "uid", &uids[2].to_string()]);
    doveadm(&d, &["expunge", "-u", "alice", "mailbox", &f, "uid", &uids[3].to_string()]);
    let r = sync_plain();
    assert_eq!((r.qresync, r.expunged), (false, 2));
    let db = rusqlite::Connection::open(&s.path).expect("open");
    let answered: bool = db
        .query_row(
            "SELECT answered FROM messages WHERE imap_uid = ?1 AND imap_folder = ?2",
            rusqlite::params![uids[1], f],
            |r| r.get(0),
        )
        .expect("row");
    assert!(answered, "CHANGEDSINCE brought the flag");
    assert_eq!(db.query_row("SELECT sum(expunged) FROM messages", [], |r| r.get::<_, i64>(0)).expect("n"), 2);
}

/// A config file for the `pult` binary with `acct` as its only account.
fn config_file(dir: &std::path::Path, acct: &EmailAccount) -> PathBuf {
    let server = |s: &Server| {
        format!(
            "host = \"{}\"\nport = {}\ntls = \"{}\"\ninsecure = {}\nuser = \"{}\"\npassword_file = \"{}\"\nca_file = \"{}\"\n",
            s.host,
            s.port,
            s.tls,
            s.insecure,
            s.user,
            s.password_file.as_ref().expect("pw").display(),
            s.ca_file.as_ref().expect("ca").display()
        )
    };
    let folders = acct.folders.iter().map(|f| format!("\"{f}\"")).collect::<Vec<_>>().join(", ");
    let history = acct.history_before.as_ref().map(|h| format!("history_before = \"{h}\"\n")).unwrap_or_default();
    let text = format!(
        "[agent]\nname = \"anna\"\n\n[[accounts]]\nkind = \"email\"\nname = \"{}\"\naddress = \"{}\"\nfolders = [{folders}]\n{history}\n\
         [accounts.imap]\n{}\n[accounts.smtp]\n{}",
        acct.name,
        acct.address,
        server(&acct.imap),
        server(&acct.smtp)
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).expect("config");
    path
}

/// The `pult` binary with a config for one account, on one store.
struct PultCli {
    home: tempfile::TempDir,
    cfg: PathBuf,
    store: PathBuf,
}

impl PultCli {
    fn new(acct: &EmailAccount, s: &TempStore) -> PultCli {
        let home = tempfile::tempdir().expect("home");
        let cfg = config_file(home.path(), acct);
        PultCli { home, cfg, store: s.path.clone() }
    }

    fn run(&self, args: &[&str]) -> std::process::Output {
        pult(self.home.path())
            .arg("--config")
            .arg(&self.cfg)
            .arg("--store")
            .arg(&self.store)
            .args(args)
            .output()
            .expect("run pult")
    }

    /// Runs and expects success; returns standard output.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "pult {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

/// (id, conversation) of a synced message.
fn message_of(s: &TempStore, remote_id: &str) -> (i64, i64) {
    rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT id, conversation_id FROM messages WHERE rfc_message_id = ?1", [remote_id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .expect("synced")
}

/// A new store synced from `folder` and Sent, with its channel and account.
fn synced_with_sent(d: &Dovecot, folder: &str) -> (TempStore, i64, EmailAccount) {
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let mut acct = account(d, folder, false);
    acct.folders = vec![folder.to_string(), "Sent".into()];
    sync(&acct, &s, ch);
    (s, ch, acct)
}

fn base64_lines(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, c) in bytes.chunks(3).enumerate() {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for k in 0..4 {
            if k <= c.len() {
                out.push(T[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
        if i % 19 == 18 {
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out
}

/// Bytes that do not compress to nothing and differ per seed.
fn payload(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn mail_with_files(tag: &str, id: &str, refs: Option<&str>, text: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let refs = refs.map(|r| format!("In-Reply-To: {r}\r\nReferences: {r}\r\n")).unwrap_or_default();
    let mut m = format!(
        "From: Ирина <irina-{tag}@client.test>\r\nTo: alice@office.test\r\nSubject: Документы {tag}\r\n\
         Message-ID: {id}\r\n{refs}Date: Fri, 20 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n\
         Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n--alt\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--alt\r\n\
         Content-Type: text/html; charset=utf-8\r\n\r\n<p>{text}</p>\r\n--alt--\r\n",
        base64_lines(text.as_bytes())
    );
    for (name, bytes) in files {
        m.push_str(&format!(
            "--outer\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=utf-8''{}\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            name.bytes().map(|b| format!("%{b:02X}")).collect::<String>(),
            base64_lines(bytes)
        ));
    }
    m.push_str("--outer--\r\n");
    m.into_bytes()
}

/// Apple Mail's plain mail with a picture between two paragraphs.
fn text_picture_text(tag: &str, id: &str, picture: &[u8]) -> Vec<u8> {
    format!(
        "From: Ирина <irina-{tag}@client.test>\r\nTo: alice@office.test\r\nSubject: План {tag}\r\n\
         Message-ID: {id}\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"Apple-Mail=_1\"\r\n\r\n--Apple-Mail=_1\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nВот план этажа:\r\n\r\n\
         --Apple-Mail=_1\r\nContent-Disposition: inline; filename=plan.png\r\nContent-Type: image/png; name=\"plan.png\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}--Apple-Mail=_1\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\nА смету пришлю завтра.\r\n--Apple-Mail=_1--\r\n",
        base64_lines(picture)
    )
    .into_bytes()
}

#[test]
fn text_after_a_picture_is_shown_and_searchable_in_small_and_large_mail() {
    let d = dovecot();
    let f = folder("apple");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let small = text_picture_text(&tag, &format!("<small-{tag}@client.test>"), &payload(2000, 3));
    let large = text_picture_text(&tag, &format!("<large-{tag}@client.test>"), &payload(400 * 1024, 4));
    assert!(large.len() > 256 * 1024, "fetched by structure");
    deliver(&d, &f, &[small, large]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    sync(&account(&d, &f, false), &s, ch);
    let db = rusqlite::Connection::open(&s.path).expect("open");
    for which in ["small", "large"] {
        let (id, body): (i64, String) = db
            .query_row(
                "SELECT id, body FROM messages WHERE rfc_message_id = ?1",
                [format!("<{which}-{tag}@client.test>")],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .expect("synced");
        assert_eq!(body, "Вот план этажа:\n\n[image: plan.png]\n\nА смету пришлю завтра.", "{which}");
        let names: Vec<String> = db
            .prepare("SELECT name FROM attachments WHERE message_id = ?1 ORDER BY ordinal")
            .expect("prepare")
            .query_map([id], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(names, ["plan.png"], "{which}: the picture is a file too");
    }
    let reader = pult::store::Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::system(jiff::tz::TimeZone::UTC);
    let hits = reader.search("смета", 10, &clock).expect("search");
    assert_eq!(hits.len(), 2, "the text after the picture is searched: {hits:?}");
}

#[test]
fn large_mail_is_synced_by_structure_and_attachments_are_fetched_on_demand() {
    let d = dovecot();
    let f = folder("lazy");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let big = payload(600 * 1024, 1);
    let small = b"date;sum\n2026-11-20;1500\n".to_vec();
    let large_mail = mail_with_files(
        &tag,
        &format!("<big-{tag}@client.test>"),
        None,
        "Счёт и договор во вложении.",
        &[("Счёт №5.pdf", &big), ("../../.bashrc", b"rm -rf ~\n")],
    );
    let small_mail = mail_with_files(
        &tag,
        &format!("<small-{tag}@client.test>"),
        Some(&format!("<big-{tag}@client.test>")),
        "И выписка.",
        &[("выписка.csv", &small)],
    );
    assert!(large_mail.len() > 256 * 1024 && small_mail.len() < 64 * 1024);
    deliver(&d, &f, &[large_mail, small_mail]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync(&acct, &s, ch);
    let db = rusqlite::Connection::open(&s.path).expect("open");
    let (big_id, body): (i64, String) = db
        .query_row(
            "SELECT id, body FROM messages WHERE rfc_message_id = ?1",
            [format!("<big-{tag}@client.test>")],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("large mail synced");
    assert_eq!(body, "Счёт и договор во вложении.", "the text part came with the headers");
    let listed: Vec<(String, String, i64)> = db
        .prepare("SELECT name, remote_ref, size FROM attachments WHERE message_id = ?1 ORDER BY ordinal")
        .expect("prepare")
        .query_map([big_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].0, "Счёт №5.pdf");
    assert!(listed[0].1.starts_with("section:"), "listed by IMAP section, not fetched: {:?}", listed[0]);
    assert!((listed[0].2 - big.len() as i64).abs() < 20_000, "size shown from BODYSTRUCTURE: {}", listed[0].2);
    let small_id: i64 = db
        .query_row("SELECT id FROM messages WHERE rfc_message_id = ?1", [format!("<small-{tag}@client.test>")], |r| {
            r.get(0)
        })
        .expect("small mail synced");

    // Fetched on demand, byte for byte, and saved under names that stay in the directory.
    let cli = PultCli::new(&acct, &s);
    let home = cli.home.path();
    let cfg = cli.cfg.clone();
    let out = home.join("saved");
    let run = |args: &[&str]| cli.ok(args);
    let printed = run(&["attachment", "save", "--message", &big_id.to_string(), "--to", out.to_str().expect("utf-8")]);
    let paths: Vec<PathBuf> = printed.lines().map(PathBuf::from).collect();
    assert_eq!(paths.len(), 2, "{printed}");
    assert_eq!(std::fs::read(&paths[0]).expect("saved"), big, "the large attachment, byte for byte");
    for saved in &paths {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(saved).expect("saved").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "saved for this user alone: {}", saved.display());
    }
    assert_eq!(paths[0].file_name().and_then(|n| n.to_str()), Some("Счёт №5.pdf"));
    assert_eq!(paths[1].parent(), Some(out.as_path()), "a path trick stays in the directory");
    assert!(!paths[1].file_name().and_then(|n| n.to_str()).expect("name").starts_with('.'), "no hidden dotfile");
    assert_eq!(std::fs::read(&paths[1]).expect("saved"), b"rm -rf ~\n");
    run(&[
        "attachment",
        "save",
        "--message",
        &small_id.to_string(),
        "--index",
        "0",
        "--to",
        out.to_str().expect("utf-8"),
    ]);
    assert_eq!(std::fs::read(out.join("выписка.csv")).expect("saved"), small, "a whole-synced mail's part");
    // Opened with the configured program (argv, no shell), the path appended.
    let opened = home.join("opened");
    std::fs::create_dir_all(&opened).expect("dir");
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(&format!("\n[ui]\nopen_command = [\"cp\", \"--target-directory={}\"]\n", opened.display()));
    std::fs::write(&cfg, text).expect("config");
    run(&["attachment", "open", "--message", &big_id.to_string(), "--index", "0"]);
    let copy = opened.join("Счёт №5.pdf");
    wait_for("the opener to run", || std::fs::read(&copy).is_ok_and(|b| b == big));
    let json = run(&["attachment", "list", "--message", &big_id.to_string(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).expect("json");
    assert_eq!(v[0]["name"], "Счёт №5.pdf");
    assert_eq!(v[1]["index"], 1);
    // Fetching never marked the mail read on the server (EXAMINE, BODY.PEEK).
    assert!(server_flags(&d, &f).iter().all(|(_, flags)| !flags.contains("Seen")), "{:?}", server_flags(&d, &f));
}

#[test]
fn forward_sends_only_the_selected_message_and_its_attachments() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("fwd");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let first = payload(2000, 7);
    let second = payload(300 * 1024, 9);
    deliver(
        &d,
        &f,
        &[
            mail_with_files(&tag, &format!("<a-{tag}@client.test>"), None, "Первое письмо.", &[("first.bin", &first)]),
            mail_with_files(
                &tag,
                &format!("<b-{tag}@client.test>"),
                Some(&format!("<a-{tag}@client.test>")),
                "Второе письмо: договор.",
                &[("договор.pdf", &second)],
            ),
        ],
    );
    let (s, _, acct) = synced_with_sent(&d, &f);
    let (selected, conv) = message_of(&s, &format!("<b-{tag}@client.test>"));
    let cli = PultCli::new(&acct, &s);
    let run = |args: &[&str]| cli.run(args);
    let bad = run(&["forward", "--message", &selected.to_string(), "--to", "not an address"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an email address"), "{:?}", bad);
    let o = run(&[
        "forward",
        "--message",
        &selected.to_string(),
        "--to",
        "partner@tax.test",
        "--body",
        "Коллеги, посмотрите.",
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["conversation"], conv, "the forward stays in the client's conversation");
    let o = run(&["sync", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("outbox: 1 handled"), "{}", String::from_utf8_lossy(&o.stdout));

    let subject = format!("Fwd: Документы {tag}");
    let is_it = |raw: &Vec<u8>| {
        mail_parser::MessageParser::default().parse(raw).is_some_and(|m| m.subject() == Some(subject.as_str()))
    };
    // Postfix delivers every address that is not ours to carol (the tests' outside world).
    wait_for("the forward at the partner's", || read_mailbox(&d, "carol", "INBOX").iter().any(is_it));
    let raw = read_mailbox(&d, "carol", "INBOX").into_iter().find(is_it).expect("delivered");
    let m = mail_parser::MessageParser::default().parse(&raw).expect("parse");
    let text = m.body_text(0).expect("text").replace("\r\n", "\n");
    assert!(text.starts_with("Коллеги, посмотрите."), "{text}");
    assert!(text.contains("---------- Forwarded message ----------"), "{text}");
    assert!(text.contains("Второе письмо: договор."), "{text}");
    assert!(!text.contains("Первое письмо."), "only the selected message: {text}");
    let names: Vec<String> = email::fetch::attachment_names(&raw);
    assert_eq!(names, ["договор.pdf"], "only its attachments");
    use mail_parser::MimeHeaders;
    let part = m.attachments().next().expect("attachment");
    assert_eq!(part.contents(), &second[..], "byte for byte");
    assert_eq!(part.attachment_name(), Some("договор.pdf"));
    assert!(read_mailbox(&d, "alice", "Sent").iter().any(is_it), "filed in Sent");
}

#[test]
fn a_new_email_needs_a_subject_and_threads_with_its_copy_in_sent() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("new");
    deliver(&d, &f, &[mail(0, 0)]);
    let (s, _, acct) = synced_with_sent(&d, &f);
    let cli = PultCli::new(&acct, &s);
    let home = cli.home.path();
    let run = |args: &[&str]| cli.run(args);
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let no_subject = run(&["send", "--to", "carol@office.test", "--subject", "  ", "--body", "hi"]);
    assert!(!no_subject.status.success());
    assert!(String::from_utf8_lossy(&no_subject.stderr).contains("an email needs a subject"), "{no_subject:?}");
    assert_eq!(count(&s, "SELECT count(*) FROM outbox"), 0, "nothing queued");
    let file = home.join("акт.txt");
    std::fs::write(&file, "акт сверки").expect("file");
    let subject = format!("Акт сверки {tag}");
    let o = run(&[
        "send",
        "--to",
        "carol@office.test",
        "--subject",
        &subject,
        "--body",
        "Добрый день! Акт во вложении.",
        "--attach",
        file.to_str().expect("utf-8"),
        "--json",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // Copied into the store when queued: the sender (another user's daemon in
    // a team, or a later run) needs neither the path nor the file.
    std::fs::remove_file(&file).expect("rm");
    let gone = run(&[
        "send",
        "--to",
        "carol@office.test",
        "--subject",
        "Второй",
        "--body",
        "x",
        "--attach",
        file.to_str().expect("utf-8"),
    ]);
    assert!(!gone.status.success(), "a file that cannot be read is refused when attached");
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(said.contains("акт.txt") && said.contains("no such file"), "{said}");
    assert_eq!(count(&s, "SELECT count(*) FROM outbox"), 1, "nothing more queued");
    let o = run(&["sync", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let is_it = |raw: &Vec<u8>| {
        mail_parser::MessageParser::default().parse(raw).is_some_and(|m| m.subject() == Some(subject.as_str()))
    };
    wait_for("the new mail at carol's", || read_mailbox(&d, "carol", "INBOX").iter().any(is_it));
    let raw = read_mailbox(&d, "carol", "INBOX").into_iter().find(is_it).expect("delivered");
    assert_eq!(email::fetch::attachment_names(&raw), ["акт.txt"]);
    // Syncing again brings the copy from Sent: the same message in the same conversation.
    let o = run(&["sync", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let db = rusqlite::Connection::open(&s.path).expect("open");
    let (n, convs): (i64, i64) = db
        .query_row(
            "SELECT count(*), count(DISTINCT conversation_id) FROM messages WHERE subject = ?1",
            [&subject],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!((n, convs), (1, 1), "no duplicate from Sent");
    // A second copy in Sent (filed again after a crash between the APPEND and
    // its record) is still our one message, not a second one.
    let copy = read_mailbox(&d, "alice", "Sent").into_iter().find(is_it).expect("the copy in Sent");
    deliver(&d, "Sent", &[copy]);
    let o = run(&["sync", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let n: i64 = db.query_row("SELECT count(*) FROM messages WHERE subject = ?1", [&subject], |r| r.get(0)).expect("n");
    assert_eq!(n, 1, "a second Sent copy of our mail is not a second message");
    let (title, delivery): (String, String) = db
        .query_row(
            "SELECT c.title, m.delivery FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE m.subject = ?1",
            [&subject],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!((title.as_str(), delivery.as_str()), (subject.as_str(), "sent"));
    // The file we sent is gone from disk; the store still has it.
    let id: i64 = db.query_row("SELECT id FROM messages WHERE subject = ?1", [&subject], |r| r.get(0)).expect("id");
    let out = home.join("again");
    let saved = cli.ok(&["attachment", "save", "--message", &id.to_string(), "--to", out.to_str().expect("utf-8")]);
    assert_eq!(std::fs::read(saved.trim()).expect("saved"), "акт сверки".as_bytes());
}

#[test]
fn the_worker_reconnects_after_the_server_drops_it_and_misses_nothing() {
    let d = dovecot();
    let f = folder("drop");
    deliver(&d, &f, &[mail(0, 0)]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    // A proxy whose every connection is dropped when `kill` is bumped (a server restart).
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (kill, killed) = tokio::sync::watch::channel(0u32);
    let upstream = d.imap;
    rt.spawn(async move {
        loop {
            let Ok((mut client, _)) = listener.accept().await else { return };
            let mut killed = killed.clone();
            killed.borrow_and_update();
            tokio::spawn(async move {
                let Ok(mut server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await else { return };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                    _ = killed.changed() => {}
                }
            });
        }
    });
    let mut acct = account(&d, &f, false);
    acct.imap.port = port;
    rt.spawn(email::run(acct, s.writer.clone(), ch));
    let status = || -> String {
        rusqlite::Connection::open(&s.path)
            .expect("open")
            .query_row("SELECT coalesce(status, '') FROM channels WHERE id = ?1", [ch], |r| r.get(0))
            .expect("status")
    };
    wait_for("the first sync", || status().starts_with('✓'));
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 1);
    // The server goes away mid-IDLE; mail arrives while the worker is disconnected.
    kill.send_modify(|g| *g += 1);
    wait_for("the trouble to show", || status().starts_with('⚠'));
    deliver(&d, &f, &[mail(5, 1)]);
    wait_for("the reconnect to fetch the new mail", || count(&s, "SELECT count(*) FROM messages") == 2);
    wait_for("the status to recover", || status().starts_with('✓'));
    assert_eq!(count(&s, "SELECT count(DISTINCT rfc_message_id) FROM messages"), 2, "nothing twice");
    rt.shutdown_background();
}

/// A mail with one attachment, from whoever the test says.
fn mail_from(from: &str, id: &str, subject: &str, text: &str, file: (&str, &[u8])) -> Vec<u8> {
    format!(
        "From: {from}\r\nTo: alice@office.test\r\nSubject: {subject}\r\nMessage-ID: {id}\r\n\
         Date: Fri, 20 Nov 2026 10:00:00 +0300\r\nMIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         {text}\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"{}\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n{}--b--\r\n",
        file.0,
        base64_lines(file.1)
    )
    .into_bytes()
}

#[test]
fn a_reused_message_id_neither_hides_a_mail_nor_swaps_its_attachment() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("spoof");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let id = format!("<invoice7-{tag}@bank.test>");
    let (real, fake) = (payload(3000, 11), payload(3000, 12));
    deliver(
        &d,
        &f,
        &[mail_from("Bank <billing@bank.test>", &id, "Invoice 7", "Счёт №7 во вложении.", ("invoice.pdf", &real))],
    );
    let (s, ch, acct) = synced_with_sent(&d, &f);
    // Anyone who saw the Message-ID (on Cc, in References) sends a mail that reuses it.
    deliver(
        &d,
        &f,
        &[mail_from("Bank <billing@bank-payments.test>", &id, "Invoice 7", "Новые реквизиты.", ("invoice.pdf", &fake))],
    );
    sync(&acct, &s, ch);
    let db = rusqlite::Connection::open(&s.path).expect("open");
    let rows: Vec<(i64, String, Option<String>, i64)> = db
        .prepare("SELECT id, author, notice, conversation_id FROM messages WHERE rfc_message_id = ?1 ORDER BY id")
        .expect("prepare")
        .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(rows.len(), 2, "both mails are stored: {rows:?}");
    let (bank, spoof) = (rows[0].0, rows[1].0);
    assert_eq!(rows[0].2, None, "the first mail carries no mark");
    assert!(rows[1].2.as_deref().is_some_and(|n| n.contains("id-clash")), "the later one is marked: {rows:?}");
    assert_eq!(rows[0].3, rows[1].3, "siblings in one thread, not one message");

    // Each attachment comes from its own mail.
    let cli = PultCli::new(&acct, &s);
    let out = cli.home.path().join("saved");
    let save = |message: i64, dir: &str| {
        let to = out.join(dir);
        let printed =
            cli.ok(&["attachment", "save", "--message", &message.to_string(), "--to", to.to_str().expect("utf-8")]);
        std::fs::read(printed.trim()).expect("saved")
    };
    assert_eq!(save(bank, "bank"), real, "the bank's invoice, not the look-alike");
    assert_eq!(save(spoof, "spoof"), fake);

    // Forwarding the bank's mail sends the bank's file.
    let o =
        cli.run(&["forward", "--message", &bank.to_string(), "--to", "partner@tax.test", "--body", "FYI", "--json"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = cli.run(&["sync", "--once"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let subject = "Fwd: Invoice 7";
    let is_it = |raw: &Vec<u8>| {
        mail_parser::MessageParser::default().parse(raw).is_some_and(|m| {
            m.subject() == Some(subject)
                && m.body_text(0).is_some_and(|t| t.contains("Счёт №7") && !t.contains("реквизиты"))
        })
    };
    wait_for("the forward at the partner's", || {
        read_mailbox(&d, "carol", "INBOX").iter().any(|r| {
            is_it(r) && {
                let m = mail_parser::MessageParser::default().parse(r).expect("parse");
                m.attachments().next().is_some_and(|a| a.contents() == &real[..])
            }
        })
    });

    // Expunging the look-alike marks only the look-alike; the bank's file stays fetchable.
    let spoof_uid: u32 =
        db.query_row("SELECT imap_uid FROM messages WHERE id = ?1", [spoof], |r| r.get(0)).expect("uid");
    doveadm(&d, &["expunge", "-u", "alice", "mailbox", &f, "uid", &spoof_uid.to_string()]);
    sync(&acct, &s, ch);
    let gone = |m: i64| -> bool {
        db.query_row("SELECT expunged FROM messages WHERE id = ?1", [m], |r| r.get(0)).expect("expunged")
    };
    assert!(gone(spoof) && !gone(bank));
    assert_eq!(save(bank, "again"), real);
    // A replay of the same sync adds nothing.
    sync(&acct, &s, ch);
    assert_eq!(count(&s, &format!("SELECT count(*) FROM messages WHERE rfc_message_id = '{id}'")), 2);
}

/// The bytes `pult attachment save` gives for a message's first file.
fn saved_file(cli: &PultCli, message: i64, dir: &str) -> Vec<u8> {
    let to = cli.home.path().join(dir);
    let printed =
        cli.ok(&["attachment", "save", "--message", &message.to_string(), "--to", to.to_str().expect("utf-8")]);
    std::fs::read(printed.trim()).expect("saved")
}

#[test]
fn after_a_renumbering_each_look_alike_keeps_its_own_file_in_either_order() {
    let d = dovecot();
    for genuine_first in [true, false] {
        let f = folder("lookalike");
        let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let id = format!("<invoice9-{tag}@bank.test>");
        let (real, fake) = (payload(3000, 21), payload(3000, 22));
        // Same Message-ID, display name, date and text; another address, another file of the same name and size.
        let genuine =
            mail_from("Bank <billing@bank.test>", &id, "Invoice 9", "Счёт №9 во вложении.", ("invoice.pdf", &real));
        let forged = mail_from(
            "Bank <billing@bank-payments.test>",
            &id,
            "Invoice 9",
            "Счёт №9 во вложении.",
            ("invoice.pdf", &fake),
        );
        let (first, second) = if genuine_first { (genuine, forged) } else { (forged, genuine) };
        let s = temp_store();
        let ch = channel(&s, "office", ChannelKind::Email);
        let acct = account(&d, &f, false);
        // Each arrives in a sync of its own: the stored order is not the folder's newest-first order.
        deliver(&d, &f, std::slice::from_ref(&first));
        sync(&acct, &s, ch);
        deliver(&d, &f, std::slice::from_ref(&second));
        sync(&acct, &s, ch);
        // The server rebuilds the folder: the mails come back in the other order, under new UIDs.
        doveadm(&d, &["expunge", "-u", "alice", "mailbox", &f, "all"]);
        for m in [second, first] {
            deliver(&d, &f, &[m]);
            doveadm(&d, &["mailbox", "status", "-u", "alice", "messages", &f]);
        }
        doveadm(&d, &["mailbox", "update", "--uid-validity", "5151", "-u", "alice", &f]);
        let r = sync(&acct, &s, ch);
        assert!(r.resynced && r.inserted == 0, "{r:?}");
        let db = rusqlite::Connection::open(&s.path).expect("open");
        let rows: Vec<(i64, String, i64)> = db
            .prepare(
                "SELECT m.id, i.handle, m.imap_validity FROM messages m JOIN identities i ON i.id = m.author_identity_id
                 WHERE m.rfc_message_id = ?1 ORDER BY m.id",
            )
            .expect("prepare")
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|r| r.2 == 5151), "both found at their new place: {rows:?}");
        let cli = PultCli::new(&acct, &s);
        for (message, handle, _) in &rows {
            let expected = if handle == "billing@bank.test" { &real } else { &fake };
            let saved = saved_file(&cli, *message, handle);
            assert!(&saved == expected, "{handle} serves another's file (genuine first: {genuine_first})");
        }
    }
}

#[test]
fn a_moved_mail_is_one_message_at_its_new_place() {
    let d = dovecot();
    for inbox_first in [true, false] {
        let (from, to) = (folder("movefrom"), folder("moveto"));
        let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let id = format!("<act-{tag}@client.test>");
        let file = payload(2000, 31);
        deliver(
            &d,
            &from,
            &[mail_from("Ирина <irina@client.test>", &id, "Акт", "Акт во вложении.", ("act.pdf", &file))],
        );
        doveadm(&d, &["mailbox", "create", "-u", "alice", &to]);
        let s = temp_store();
        let ch = channel(&s, "office", ChannelKind::Email);
        let mut acct = account(&d, &from, false);
        acct.folders = if inbox_first { vec![from.clone(), to.clone()] } else { vec![to.clone(), from.clone()] };
        sync(&acct, &s, ch);
        doveadm(&d, &["move", "-u", "alice", &to, "mailbox", &from, "all"]);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync");
        let db = rusqlite::Connection::open(&s.path).expect("open");
        let rows: Vec<(i64, String, Option<String>, bool)> = db
            .prepare("SELECT id, imap_folder, notice, expunged FROM messages WHERE rfc_message_id = ?1")
            .expect("prepare")
            .query_map([&id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(rows.len(), 1, "one message, not a copy (source synced first: {inbox_first}): {rows:?}");
        assert_eq!((rows[0].1.as_str(), rows[0].2.as_deref(), rows[0].3), (to.as_str(), None, false), "{rows:?}");
        let cli = PultCli::new(&acct, &s);
        assert_eq!(saved_file(&cli, rows[0].0, "moved"), file, "its file comes from the new place");
        // Syncing again changes nothing.
        rt.block_on(email::sync_account(&acct, &s.writer, ch)).expect("sync");
        assert_eq!(
            count(&s, &format!("SELECT count(*) FROM messages WHERE rfc_message_id = '{id}' AND expunged = 0")),
            1
        );
    }
}

#[test]
fn dates_come_from_the_server_when_the_header_is_missing_or_in_the_future() {
    let d = dovecot();
    let f = folder("dates");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let before = jiff::Timestamp::now().as_second() - 5;
    let mail = |id: &str, date: &str| {
        format!(
            "From: c@client.test\r\nTo: alice@office.test\r\nSubject: {id}\r\nMessage-ID: <{id}-{tag}@x>\r\n{date}\r\n\
             Срочно.\r\n"
        )
        .into_bytes()
    };
    deliver(
        &d,
        &f,
        &[
            mail("nodate", ""),
            mail("future", "Date: Fri, 31 Dec 9999 23:59:00 +0000\r\n"),
            mail("normal", "Date: Fri, 20 Nov 2026 10:00:00 +0300\r\n"),
        ],
    );
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    sync(&account(&d, &f, false), &s, ch);
    let after = jiff::Timestamp::now().as_second() + 5;
    let db = rusqlite::Connection::open(&s.path).expect("open");
    let row = |id: &str| -> (i64, Option<String>) {
        db.query_row("SELECT sent_at, notice FROM messages WHERE subject = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect(id)
    };
    let (at, notice) = row("nodate");
    assert!((before..=after).contains(&at), "no Date: → arrival time, not 1970: {at}");
    assert_eq!(notice.as_deref(), Some("no-date"));
    let (at, notice) = row("future");
    assert!((before..=after).contains(&at), "year 9999 → arrival time: {at}");
    assert_eq!(notice.as_deref(), Some("future-date"));
    let normal: jiff::Timestamp = "2026-11-20T07:00:00Z".parse().expect("time");
    assert_eq!(row("normal"), (normal.as_second(), None));
}

#[test]
fn a_thread_with_trimmed_references_stays_one_conversation() {
    let d = dovecot();
    let f = folder("trim");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let id = |n: char| format!("<{n}-{tag}@client.test>");
    // (message, References, In-Reply-To): the root A drops out of the list from D on;
    // F answers with In-Reply-To only.
    let chain: [(char, &str, &str); 7] = [
        ('A', "", ""),
        ('B', "A", "A"),
        ('C', "AB", "B"),
        ('D', "BC", "C"),
        ('E', "CD", "D"),
        ('F', "", "E"),
        ('G', "DEF", "F"),
    ];
    let mails: Vec<Vec<u8>> = chain
        .iter()
        .enumerate()
        .map(|(i, (n, refs, irt))| {
            let refs: Vec<String> = refs.chars().map(id).collect();
            let refs = if refs.is_empty() { String::new() } else { format!("References: {}\r\n", refs.join(" ")) };
            let irt = irt.chars().next().map(|c| format!("In-Reply-To: {}\r\n", id(c))).unwrap_or_default();
            format!(
                "From: c@client.test\r\nTo: alice@office.test\r\nSubject: Re: Акт {tag}\r\nMessage-ID: {}\r\n{refs}{irt}\
                 Date: Fri, 20 Nov 2026 10:{i:02}:00 +0300\r\n\r\nЧасть {n}.\r\n",
                id(*n)
            )
            .into_bytes()
        })
        .collect();
    // Delivered in two rounds, the later mail first: newest-first sync sees replies before their roots.
    deliver(&d, &f, &mails[4..]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync(&acct, &s, ch);
    deliver(&d, &f, &mails[..4]);
    sync(&acct, &s, ch);
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 7);
    assert_eq!(count(&s, "SELECT count(DISTINCT conversation_id) FROM messages"), 1, "one thread, not seven");
}

#[test]
fn json_output_never_carries_what_a_terminal_acts_on() {
    let d = dovecot();
    let f = folder("json");
    let tag = format!("{}{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let word = format!("zanzibarite{tag}");
    let hostile = "\u{9b}31m\u{9d}52;c;AAAA\u{9c}\u{202e}gpj.exe\u{200b}\u{2066}\u{feff}";
    let raw = format!(
        "From: =?UTF-8?B?{}?= <x@client.test>\r\nTo: alice@office.test\r\nSubject: {word} {hostile}\r\n\
         Message-ID: <json-{tag}@x>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Transfer-Encoding: 8bit\r\n\r\n{word} {hostile} end\r\n",
        base64_lines(format!("Eve{hostile}").as_bytes()).trim()
    );
    deliver(&d, &f, &[raw.into_bytes()]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync(&acct, &s, ch);
    let cli = PultCli::new(&acct, &s);
    let out = cli.ok(&["search", &word, "--json"]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("valid JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(1), "{out}");
    for c in ['\u{9b}', '\u{9d}', '\u{9c}', '\u{202e}', '\u{200b}', '\u{2066}', '\u{feff}'] {
        assert!(!out.contains(c), "{c:?} raw in JSON output");
    }
    assert!(out.contains("\\u202e"), "escaped, not dropped: {out}");
    let raw_out = cli.ok(&["search", &word, "--json", "--raw"]);
    assert!(raw_out.contains('\u{202e}'), "--raw gives the exact text");
    // The text output is sanitised too.
    let text = cli.ok(&["search", &word]);
    assert!(!text.contains(['\u{9b}', '\u{9d}', '\u{202e}', '\u{200b}']), "{text:?}");
}

/// CPython's email test corpus (Debian's libpython3.X-testsuite, installed by
/// scripts/test): 47 mails of every odd shape, several sharing a Message-ID.
#[test]
fn cpythons_email_corpus_is_stored_whole() {
    let dir = PathBuf::from(
        std::env::var("PULT_TEST_CPYTHON_EMAIL")
            .expect("PULT_TEST_CPYTHON_EMAIL is not set: run the tests with scripts/test, which installs the corpus"),
    );
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("msg_") && n.ends_with(".txt"))
        })
        .collect();
    names.sort();
    assert_eq!(names.len(), 47, "the corpus has 47 msg_*.txt");
    let mails: Vec<Vec<u8>> = names.iter().map(|p| std::fs::read(p).expect("read")).collect();
    // Every mail shows text, except those whose sender wrote none.
    let textless: Vec<&str> = names
        .iter()
        .zip(&mails)
        .filter(|(_, raw)| email::parse::parse(raw, "<f>", &[]).body_text.trim().is_empty())
        .filter_map(|(p, _)| p.file_name().and_then(|n| n.to_str()))
        .collect();
    assert_eq!(
        textless,
        [
            "msg_08.txt",  // four text parts, each empty
            "msg_09.txt",  // the same, one part without a charset
            "msg_12.txt",  // the same, nested
            "msg_12a.txt", // the same, nested
            "msg_18.txt",  // headers only
            "msg_24.txt",  // one empty part
        ],
        "mails with no text shown"
    );
    let d = dovecot();
    let f = folder("cpython");
    deliver(&d, &f, &mails);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    sync(&account(&d, &f, false), &s, ch);
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 47, "47 fetched, 47 stored");
    // A mail with words after its header block is never stored without text or files.
    let with_text = mails
        .iter()
        .filter(|raw| {
            let text = String::from_utf8_lossy(raw);
            let body = text.split_once("\n\n").map(|(_, b)| b).unwrap_or("");
            body.lines().any(|l| {
                let l = l.trim();
                l.split_whitespace().filter(|w| w.len() > 2 && w.chars().all(char::is_alphabetic)).count() >= 2
                    && !l.contains(':')
            })
        })
        .count() as i64;
    let readable = count(
        &s,
        "SELECT count(*) FROM messages m WHERE trim(m.body) != '' OR EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id)",
    );
    let empty: Vec<String> = rusqlite::Connection::open(&s.path)
        .expect("open")
        .prepare("SELECT coalesce(subject, '') || ' uid ' || imap_uid FROM messages m WHERE trim(m.body) = '' AND NOT EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id)")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(readable >= with_text, "{readable} readable of {with_text} with text; empty: {empty:?}");
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE sent_at < 86400"), 0, "no mail dated 1970");
    // What parsing shows is what is stored and searched.
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE trim(body) = ''"), textless.len() as i64);
    for (shape, sql) in [
        ("msg_10: five text parts", "body LIKE '%7bit%Quoted Printable%Base64%Base64%no Content-Transfer-Encoding%'"),
        ("msg_13: text after a nested part", "body LIKE 'A text/plain part%This is the dingus fish.'"),
        ("msg_14: Content-Type: text", "body LIKE '%drainbread ISP%'"),
        ("msg_41: a multipart with no boundary", "subject = '64423' AND body = 'Blah blah blah'"),
        ("msg_25: a report with a broken boundary", "body LIKE '%unrecoverable error%'"),
    ] {
        assert_eq!(count(&s, &format!("SELECT count(*) FROM messages WHERE {sql}")), 1, "{shape}");
    }
    let reader = pult::store::Reader::open(&s.path, "anna").expect("reader");
    let clock = pult::clock::Clock::system(jiff::tz::TimeZone::UTC);
    let found = |q: &str| -> Vec<String> {
        reader.search(q, 50, &clock).expect(q).into_iter().filter_map(|h| h.subject).collect()
    };
    assert_eq!(found("Base64"), ["Lyrics"], "msg_10's third part is searchable");
    assert!(found("Content-Transfer-Encoding").contains(&"Lyrics".to_string()), "and its fifth");
    assert_eq!(found("drainbread"), ["This is a test message"]);
    assert!(found("unrecoverable").iter().all(|s| s.starts_with("Returned mail")) && found("unrecoverable").len() == 1);
}

#[test]
fn sync_once_beside_the_lock_holder_does_nothing_and_says_who_holds_it() {
    let d = dovecot();
    let f = folder("lock");
    deliver(&d, &f, &[mail(0, 1)]);
    let s = temp_store();
    let acct = account(&d, &f, false);
    let cli = PultCli::new(&acct, &s);
    let lock = pult::sync::lock::WorkerLock::try_acquire(&s.path, "daemon").expect("lock");
    let out = cli.ok(&["sync", "--once"]);
    assert!(out.contains("daemon") && out.contains("holds the worker lock"), "{out}");
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 0, "nothing synced beside the holder");
    drop(lock);
    let out = cli.ok(&["sync", "--once"]);
    assert!(out.contains("1 new"), "{out}");
}

/// A small xorshift: random kill points, reproducible from the printed seed.
fn next_random(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn kill_9_while_sending_never_delivers_twice_and_never_jams() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("kill");
    deliver(&d, &f, &[mail(0, 1)]);
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let s = temp_store();
    let mut acct = account(&d, &f, false);
    acct.folders = vec![f.clone(), "Sent".into()];
    let cli = PultCli::new(&acct, &s);
    const N: usize = 30;
    for i in 0..N {
        cli.ok(&[
            "send",
            "--to",
            &format!("partner{i}@tax.test"),
            "--subject",
            &format!("Kill {tag} #{i}#"),
            "--body",
            "x",
        ]);
    }
    let mut seed: u64 = (std::process::id() as u64) << 20 | NEXT.load(Ordering::SeqCst) as u64 | 1;
    eprintln!("kill seed {seed}");
    let open_rows = || count(&s, "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')");
    let started = std::time::Instant::now();
    let mut kills = 0;
    while open_rows() > 0 && kills < 50 && started.elapsed() < std::time::Duration::from_secs(120) {
        let mut child = pult(cli.home.path())
            .arg("--config")
            .arg(&cli.cfg)
            .arg("--store")
            .arg(&s.path)
            .args(["sync", "--once"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Fault injection at a random moment, not a wait for anything.
        std::thread::sleep(std::time::Duration::from_millis(next_random(&mut seed) % 400));
        let _ = child.kill();
        let _ = child.wait();
        kills += 1;
    }
    // A last run without a kill drains whatever is left; it exits 1 when some
    // rows may have been sent (and says so), 0 otherwise.
    let last = cli.run(&["sync", "--once"]);
    let unknown = count(&s, "SELECT count(*) FROM outbox WHERE state = 'unknown'");
    if !last.status.success() {
        let err = String::from_utf8_lossy(&last.stderr);
        assert!(err.contains("may have been sent"), "a failing run says why: {err}");
    }
    assert_eq!(open_rows(), 0, "the outbox drained: nothing left pending or sending");
    let sent = count(&s, "SELECT count(*) FROM outbox WHERE state = 'sent'");
    assert_eq!(sent + unknown, N as i64, "every row is sent or honestly unknown: nothing lost");
    let delivered = || kill_copies(&d, &tag, N);
    let sent_rows: Vec<usize> = rusqlite::Connection::open(&s.path)
        .expect("open")
        .prepare("SELECT subject FROM outbox WHERE state = 'sent'")
        .expect("prepare")
        .query_map([], |r| r.get::<_, String>(0))
        .expect("query")
        .map(|s| s.expect("row").split('#').nth(1).and_then(|n| n.parse().ok()).expect("index"))
        .collect();
    wait_for("every sent mail at the partner's", || {
        let got = delivered();
        sent_rows.iter().all(|&i| got[i] >= 1)
    });
    let got = delivered();
    for (i, n) in got.iter().enumerate() {
        assert!(*n <= 1, "mail #{i} delivered {n} times (seed {seed}, {kills} kills)");
    }
    eprintln!("{kills} kills: {sent} sent, {unknown} unknown");
    // Sent copies are the outbox's messages, not new ones: one message per row.
    assert_eq!(count(&s, &format!("SELECT count(*) FROM messages WHERE subject LIKE 'Kill {tag} %'")), N as i64);
}

#[test]
fn a_wrong_smtp_password_leaves_no_promise_and_a_retry_keeps_exactly_one() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("promise");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let question = format!(
        "From: Ирина <irina-{tag}@client.test>\r\nTo: alice@office.test\r\nSubject: Акт {tag}\r\n\
         Message-ID: <q-{tag}@client.test>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\r\nПришлите акт.\r\n"
    );
    deliver(&d, &f, &[question.into_bytes()]);
    let (s, ch, mut acct) = synced_with_sent(&d, &f);
    let (parent, conv) = message_of(&s, &format!("<q-{tag}@client.test>"));
    // SMTP with a wrong password (IMAP keeps the right one).
    let wrong = tempfile::tempdir().expect("tmp").keep().join("smtp-pw");
    std::fs::write(&wrong, "wrong").expect("pw");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrong, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    acct.smtp.password_file = Some(wrong.clone());
    let senders = |acct: &EmailAccount| {
        let mut m: pult::sync::dispatcher::Senders = Default::default();
        m.insert(
            ch,
            std::sync::Arc::new(email::send::EmailSender {
                account: acct.clone(),
                writer: s.writer.clone(),
                append_to_sent: true,
                timezone: moscow(),
                lang: pult::i18n::Lang::En,
            }) as std::sync::Arc<dyn pult::sync::dispatcher::ChannelSender>,
        );
        m
    };
    let reply = |body: &str| pult::store::intents::Reply {
        conversation_id: conv,
        reply_to_message_id: Some(parent),
        subject: Some(format!("Re: Акт {tag}")),
        body: body.into(),
        actor: "anna".into(),
        not_before: 0,
        auto: false,
        attachments: Vec::new(),
    };
    let accept = reply("Принято в работу. Срок — пт 27.11 18:00.");
    let (_, outbox) = s
        .writer
        .call_blocking(move |c| pult::store::ledger::accept(c, &accept, Some(parent), NOW + 86_400, NOW))
        .expect("accept");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let report = rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders(&acct)));
    assert_eq!(report.failed.len(), 1, "{report:?}");
    let active =
        || count(&s, &format!("SELECT count(*) FROM tasks WHERE conversation_id = {conv} AND state = 'accepted'"));
    assert_eq!(active(), 0, "the client heard nothing: no active promise");
    // The password is fixed; a person retries.
    std::fs::write(&wrong, "secret").expect("pw");
    s.writer.call_blocking(move |c| pult::store::intents::resolve(c, outbox, true, "anna", NOW)).expect("retry");
    assert_eq!(rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders(&acct))).sent, 1);
    assert_eq!(active(), 1, "one promise, not two");
    let done = reply("Выполнено. Акт во вложении.");
    s.writer.call_blocking(move |c| pult::store::ledger::done(c, &done, NOW + 60)).expect("done");
    assert_eq!(rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders(&acct))).sent, 1);
    let again = reply("Выполнено.");
    assert!(
        s.writer.call_blocking(move |c| pult::store::ledger::done(c, &again, NOW + 120)).is_err(),
        "no second «Выполнено»"
    );
    let at_client = |needle: &str| {
        read_mailbox(&d, "carol", "INBOX")
            .iter()
            .filter_map(|m| mail_parser::MessageParser::default().parse(m.as_slice()))
            .filter(|p| {
                p.subject().is_some_and(|s| s.contains(&tag)) && p.body_text(0).is_some_and(|b| b.contains(needle))
            })
            .count()
    };
    wait_for("both mails at the client", || at_client("Принято в работу") == 1 && at_client("Выполнено") == 1);
    assert_eq!((at_client("Принято в работу"), at_client("Выполнено")), (1, 1));
}

/// What a [`SmtpProxy`] does with the server's answer to the end of a mail's
/// DATA (the `250`): the faults of a link between pult and its server.
#[derive(Clone, Copy, PartialEq)]
enum AnswerFault {
    /// Held until `release`: a send in flight.
    Hold,
    /// Lost: the connection closes before pult hears it.
    Drop,
    /// Never sent: the server goes quiet and the connection stays open.
    Silence,
}

/// A loopback TCP proxy in front of Postfix (plain SMTP) that plays one
/// [`AnswerFault`] on the answer to each mail's data.
struct SmtpProxy {
    port: u16,
    /// Set once an answer to a DATA has been held, dropped or silenced.
    holding: std::sync::Arc<std::sync::atomic::AtomicBool>,
    release: std::sync::Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl SmtpProxy {
    fn start(upstream: u16, fault: AnswerFault) -> SmtpProxy {
        use std::io::{Read, Write};
        use std::sync::atomic::AtomicBool;
        use std::sync::{Arc, Condvar, Mutex};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let holding = Arc::new(AtomicBool::new(false));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let (h, r) = (holding.clone(), release.clone());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", upstream)) else { continue };
                let data_ended = Arc::new(AtomicBool::new(false));
                let (mut c_in, mut s_out) = (client.try_clone().expect("clone"), server.try_clone().expect("clone"));
                let seen = data_ended.clone();
                std::thread::spawn(move || {
                    let mut tail: Vec<u8> = Vec::new();
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = c_in.read(&mut buf) {
                        if n == 0 || s_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                        tail.extend_from_slice(&buf[..n]);
                        if tail.windows(5).any(|w| w == b"\r\n.\r\n") {
                            seen.store(true, std::sync::atomic::Ordering::SeqCst);
                        }
                        let keep = tail.len().saturating_sub(4);
                        tail.drain(..keep);
                    }
                    let _ = s_out.shutdown(std::net::Shutdown::Write);
                });
                let (mut s_in, mut c_out) = (server, client);
                let (h, r) = (h.clone(), r.clone());
                std::thread::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n) = s_in.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        if data_ended.swap(false, std::sync::atomic::Ordering::SeqCst) {
                            h.store(true, std::sync::atomic::Ordering::SeqCst);
                            match fault {
                                AnswerFault::Drop => {
                                    let _ = c_out.shutdown(std::net::Shutdown::Both);
                                    return;
                                }
                                // Read on (the server's later words are swallowed too) until pult hangs up.
                                AnswerFault::Silence => {
                                    while matches!(s_in.read(&mut buf), Ok(n) if n > 0) {}
                                    return;
                                }
                                AnswerFault::Hold => {
                                    let (lock, cv) = &*r;
                                    let mut go = lock.lock().expect("lock");
                                    while !*go {
                                        go = cv.wait(go).expect("wait");
                                    }
                                }
                            }
                        }
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_out.shutdown(std::net::Shutdown::Write);
                });
            }
        });
        SmtpProxy { port, holding, release }
    }

    fn release(&self) {
        let (lock, cv) = &*self.release;
        *lock.lock().expect("lock") = true;
        cv.notify_all();
    }
}

#[test]
fn sync_once_beside_a_tui_holding_a_send_at_the_250_sends_nothing() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("held");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let question = format!(
        "From: Ирина <irina-{tag}@client.test>\r\nTo: alice@office.test\r\nSubject: held {tag}\r\n\
         Message-ID: <held-{tag}@client.test>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\r\nАкт?\r\n"
    );
    deliver(&d, &f, &[question.into_bytes()]);
    let (s, _, mut acct) = synced_with_sent(&d, &f);
    let (parent, conv) = message_of(&s, &format!("<held-{tag}@client.test>"));
    let proxy = SmtpProxy::start(d.smtp, AnswerFault::Hold);
    acct.smtp = Server { port: proxy.port, tls: "none".into(), insecure: true, ..acct.smtp.clone() };
    let cli = PultCli::new(&acct, &s);
    let now = jiff::Timestamp::now().as_second();
    let reply = pult::store::intents::Reply {
        conversation_id: conv,
        reply_to_message_id: Some(parent),
        subject: Some(format!("Re: held {tag}")),
        body: "Акт будет завтра.".into(),
        actor: "anna".into(),
        not_before: now,
        auto: false,
        attachments: Vec::new(),
    };
    let outbox = s.writer.call_blocking(move |c| pult::store::intents::queue_reply(c, &reply, now)).expect("queue");
    // A solo pult in a terminal: it holds the worker lock and sends the reply.
    let mut tui = pult_in_pty(cli.home.path(), &cli.cfg, &s.path, "");
    wait_for("the TUI's send to wait for its 250", || proxy.holding.load(Ordering::SeqCst));
    // Meanwhile cron runs sync --once: it must not send (nor reset) the row in flight.
    let out = cli.ok(&["sync", "--once"]);
    assert!(out.contains("holds the worker lock"), "{out}");
    proxy.release();
    wait_for("the TUI to record the send", || {
        count(&s, &format!("SELECT count(*) FROM outbox WHERE id = {outbox} AND state = 'sent'")) == 1
    });
    let copies = || {
        read_mailbox(&d, "carol", "INBOX")
            .iter()
            .filter_map(|m| mail_parser::MessageParser::default().parse(m.as_slice()))
            .filter(|p| p.subject().is_some_and(|x| x.contains(&tag)))
            .count()
    };
    wait_for("the reply at the client's", || copies() >= 1);
    assert_eq!(copies(), 1, "exactly one copy");
    let _ = tui.kill();
    let _ = tui.wait();
}

/// A script's day: `pult sync --once`, `pult thread --json`, `pult reply`,
/// `pult sync --once` — the reply leaves through Postfix to everyone on the
/// thread but us, as `r` would send it, and the thread shows it sent.
#[test]
fn pult_reply_from_a_script_goes_out_reply_all_through_smtp() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("script-reply");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let original = format!(
        "From: Ирина <irina-{tag}@client.test>\r\nTo: alice@office.test\r\nCc: boss-{tag}@client.test\r\n\
         Subject: Сверка за квартал\r\nMessage-ID: <q-{tag}@client.test>\r\nDate: Fri, 20 Nov 2026 10:00:00 +0300\r\n\r\n\
         Пришлите сверку, пожалуйста.\r\n"
    );
    deliver(&d, &f, &[original.into_bytes()]);
    let s = temp_store();
    let mut acct = account(&d, &f, false);
    acct.folders = vec![f.clone(), "Sent".into()];
    let cli = PultCli::new(&acct, &s);
    cli.ok(&["sync", "--once"]);
    let (_, conv) = message_of(&s, &format!("<q-{tag}@client.test>"));
    let thread: serde_json::Value =
        serde_json::from_str(&cli.ok(&["thread", "--json", "--conversation", &conv.to_string()])).expect("json");
    assert_eq!(thread["kind"], "email");
    assert!(thread["waiting_since"].is_string(), "the client waits: {thread}");
    let queued: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "reply",
        "--json",
        "--conversation",
        &conv.to_string(),
        "--body",
        "Принято в работу, пришлю завтра.",
    ]))
    .expect("json");
    assert_eq!(queued["state"], "pending");
    let out = cli.ok(&["sync", "--once"]);
    assert!(out.contains("1 sent"), "{out}");
    let thread: serde_json::Value =
        serde_json::from_str(&cli.ok(&["thread", "--json", "--conversation", &conv.to_string()])).expect("json");
    let last = thread["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .rev()
        .find(|m| m["direction"] == "out")
        .expect("ours")
        .clone();
    assert_eq!(last["delivery"], "sent", "{last}");
    assert!(thread["waiting_since"].is_null(), "answered");
    // The client's side: one copy, to Ирина with her colleague in Cc, subject Re:.
    let mine = |raw: &Vec<u8>| String::from_utf8_lossy(raw).contains(&format!("q-{tag}@client.test"));
    wait_for("delivery to the client", || read_mailbox(&d, "carol", "INBOX").iter().filter(|m| mine(m)).count() == 1);
    let received = read_mailbox(&d, "carol", "INBOX").into_iter().find(|m| mine(m)).expect("delivered");
    let parsed = mail_parser::MessageParser::default().parse(&received).expect("parse");
    assert_eq!(parsed.subject(), Some("Re: Сверка за квартал"));
    let to: Vec<String> = parsed.to().expect("to").iter().filter_map(|a| a.address()).map(str::to_string).collect();
    assert_eq!(to, [format!("irina-{tag}@client.test")]);
    let cc: Vec<String> = parsed.cc().expect("cc").iter().filter_map(|a| a.address()).map(str::to_string).collect();
    assert_eq!(cc, [format!("boss-{tag}@client.test")], "reply-all keeps the Cc, without us");
}

/// A new mail to `to`, queued on channel `ch`; its outbox row.
fn queue_new_mail(s: &TempStore, ch: i64, to: &str, subject: &str) -> i64 {
    let e = pult::store::intents::NewEmail {
        channel: ch,
        from_address: "alice@office.test".into(),
        to: vec![to.into()],
        subject: subject.into(),
        body: "Акт сверки будет завтра.".into(),
        actor: "anna".into(),
        ..Default::default()
    };
    s.writer.call_blocking(move |c| pult::store::intents::new_email(c, &e, NOW)).expect("queue").1
}

fn outbox_state(s: &TempStore, id: i64) -> String {
    rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT state FROM outbox WHERE id = ?1", [id], |r| r.get(0))
        .expect("row")
}

/// Mails at the client's (carol's INBOX) whose subject carries `tag`.
fn copies_at_client(d: &Dovecot, tag: &str) -> usize {
    read_mailbox(d, "carol", "INBOX")
        .iter()
        .filter_map(|m| mail_parser::MessageParser::default().parse(m.as_slice()))
        .filter(|p| p.subject().is_some_and(|x| x.contains(tag)))
        .count()
}

fn email_senders(s: &TempStore, accounts: &[(i64, &EmailAccount)]) -> pult::sync::dispatcher::Senders {
    accounts
        .iter()
        .map(|(ch, acct)| {
            let sender = email::send::EmailSender {
                account: (*acct).clone(),
                writer: s.writer.clone(),
                append_to_sent: true,
                timezone: moscow(),
                lang: pult::i18n::Lang::En,
            };
            (*ch, std::sync::Arc::new(sender) as std::sync::Arc<dyn pult::sync::dispatcher::ChannelSender>)
        })
        .collect()
}

/// Postfix queued the mail and the `250` was lost: the row is "may have been
/// sent", no later pass sends it again, the client has exactly one copy, and
/// `pult outbox` shows it; a retry by hand first looks in Sent and says so.
#[test]
fn a_lost_250_is_maybe_sent_never_resent_and_the_client_has_one_copy() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("lost250");
    let tag = format!("lost250-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let mut acct = account(&d, &f, false);
    let proxy = SmtpProxy::start(d.smtp, AnswerFault::Drop);
    acct.smtp = Server { port: proxy.port, tls: "none".into(), insecure: true, ..acct.smtp.clone() };
    let id = queue_new_mail(&s, ch, &format!("client-{tag}@client.test"), &format!("Акт {tag}"));
    let senders = email_senders(&s, &[(ch, &acct)]);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let report = rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders));
    assert!(proxy.holding.load(Ordering::SeqCst), "the proxy saw the mail's data");
    assert_eq!(report.failed.len(), 1, "{report:?}");
    assert!(report.failed[0].1.contains("may have been sent"), "{report:?}");
    assert_eq!(outbox_state(&s, id), "unknown");
    for _ in 0..3 {
        assert_eq!(rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &senders)).handled(), 0);
    }
    wait_for("the mail at the client's", || copies_at_client(&d, &tag) >= 1);
    assert_eq!(copies_at_client(&d, &tag), 1, "exactly one copy");
    // Where people look: `pult outbox` and `pult status` count it.
    let cli = PultCli::new(&acct, &s);
    let listed = cli.ok(&["outbox", "--json"]);
    assert!(listed.contains("\"unknown\"") && listed.contains(&format!("\"outbox\": {id}")), "{listed}");
    let status = cli.ok(&["status"]);
    assert!(status.lines().any(|l| l.starts_with("maybe sent") && l.ends_with(" 1")), "{status}");
    // A retry by hand looks in Sent first and says what it found (not there:
    // the server files nothing itself), then queues it again.
    let out = cli.ok(&["outbox", "retry", &id.to_string()]);
    assert!(out.contains("not found in Sent") && out.contains("queued again"), "{out}");
    assert_eq!(outbox_state(&s, id), "pending");
}

/// One account's SMTP server holds its answer; another account's mail goes
/// meanwhile. Then a server that stays silent after the data is given up at
/// its deadline as "may have been sent", never as "not sent".
#[test]
fn a_silent_smtp_server_delays_only_its_own_account() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("silent");
    let tag = format!("silent-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let s = temp_store();
    let (slow_ch, fast_ch) = (channel(&s, "slow", ChannelKind::Email), channel(&s, "fast", ChannelKind::Email));
    let held = SmtpProxy::start(d.smtp, AnswerFault::Hold);
    let mut slow = account(&d, &f, false);
    slow.name = "slow".into();
    slow.smtp = Server { port: held.port, tls: "none".into(), insecure: true, ..slow.smtp.clone() };
    let mut fast = account(&d, &f, false);
    fast.name = "fast".into();
    let slow_id = queue_new_mail(&s, slow_ch, &format!("a-{tag}@client.test"), &format!("slow {tag}"));
    let fast_id = queue_new_mail(&s, fast_ch, &format!("b-{tag}@client.test"), &format!("fast {tag}"));
    let senders = email_senders(&s, &[(slow_ch, &slow), (fast_ch, &fast)]);
    let (writer, stop) = (s.writer.clone(), tokio::sync::oneshot::channel::<()>());
    let (stop_tx, stop_rx) = stop;
    let daemon = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
        rt.block_on(async {
            tokio::select! {
                _ = pult::sync::dispatcher::run(writer, senders, std::time::Duration::from_millis(100)) => {}
                _ = stop_rx => {}
            }
        });
    });
    wait_for("the slow account's answer to be held", || held.holding.load(Ordering::SeqCst));
    wait_for("the fast account's mail to be sent", || outbox_state(&s, fast_id) == "sent");
    assert_eq!(outbox_state(&s, slow_id), "sending", "the held send is still in flight");
    held.release();
    wait_for("the held mail to be sent", || outbox_state(&s, slow_id) == "sent");
    let _ = stop_tx.send(());
    daemon.join().expect("dispatcher");

    // Silence after the data, with a 1 s answer deadline: unknown, not retried.
    let quiet = SmtpProxy::start(d.smtp, AnswerFault::Silence);
    let mut mute = account(&d, &f, false);
    mute.smtp = Server { port: quiet.port, tls: "none".into(), insecure: true, timeout_seconds: Some(1), ..mute.smtp };
    let mute_ch = channel(&s, "mute", ChannelKind::Email);
    let mute_id = queue_new_mail(&s, mute_ch, &format!("c-{tag}@client.test"), &format!("mute {tag}"));
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let report = rt.block_on(pult::sync::dispatcher::dispatch_due(&s.writer, &email_senders(&s, &[(mute_ch, &mute)])));
    assert!(report.failed.first().is_some_and(|f| f.1.contains("may have been sent")), "{report:?}");
    assert_eq!(outbox_state(&s, mute_id), "unknown");
    wait_for("every mail at the client's", || copies_at_client(&d, &tag) >= 3);
    assert_eq!(copies_at_client(&d, &tag), 3, "one copy of each");
}

/// `sync --once` with a healthy account beside one whose password command
/// hangs and one whose server is down: the healthy one syncs, each broken
/// one is named with its reason, and the exit status says something failed.
#[test]
fn sync_once_runs_every_account_and_names_each_that_failed() {
    let d = dovecot();
    let f = folder("every");
    deliver(&d, &f, &[mail(0, 1)]);
    let s = temp_store();
    let acct = account(&d, &f, false);
    let cli = PultCli::new(&acct, &s);
    let mut text = std::fs::read_to_string(&cli.cfg).expect("config");
    let server = |port: u16, secret: &str| {
        format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\ninsecure = true\nuser = \"alice\"\n{secret}\n")
    };
    // The test's own fixed argv: a helper that never answers.
    let hanging = "password_command = [\"sleep\", \"300\"]";
    let pw = format!("password_file = \"{}\"", acct.imap.password_file.as_ref().expect("pw").display());
    for (name, imap) in [("stuck", server(d.imap, hanging)), ("down", server(9, &pw))] {
        text.push_str(&format!(
            "\n[[accounts]]\nkind = \"email\"\nname = \"{name}\"\naddress = \"{name}@office.test\"\nfolders = [\"{f}\"]\n\
             [accounts.imap]\n{imap}\n[accounts.smtp]\n{}",
            server(d.smtp, &pw)
        ));
    }
    text.push_str("\n[guards]\nsecret_timeout_seconds = 1\n");
    std::fs::write(&cli.cfg, text).expect("config");
    let out = cli.run(&["sync", "--once"]);
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "a failed account fails the run: {stdout}\n{stderr}");
    assert!(stdout.contains("1 new"), "the healthy account synced: {stdout}\n{stderr}");
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 1);
    assert!(stderr.contains("account stuck") && stderr.contains("did not finish within 1 s"), "{stderr}");
    assert!(stderr.contains("account down"), "{stderr}");
    assert_eq!(stderr.matches("account stuck").count(), 1, "each error once: {stderr}");
}

/// Day one with a real mailbox: months of old mail (the realistic corpus of
/// shared/reference/gen_corpus.py, lists included), three fresh client mails
/// and a fresh list mail. The first sync keeps the old mail as history and
/// says so; exactly the three fresh conversations wait; list mail never waits
/// and sits in the Lists view.
#[test]
fn history_is_not_a_queue_and_lists_never_wait() {
    let d = dovecot();
    let f = folder("dayone");
    let corpus = tempfile::tempdir().expect("tmp");
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/reference/gen_corpus.py");
    let out = Command::new("python3")
        .arg(&script)
        .args(["--out"])
        .arg(corpus.path().join("eml"))
        .args(["-n", "300", "--seed", "7", "--start", "2025-01-01", "--days", "200", "--eml"])
        .output()
        .expect("python3 runs gen_corpus.py");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut mails: Vec<Vec<u8>> = std::fs::read_dir(corpus.path().join("eml"))
        .expect("eml dir")
        .filter_map(|e| e.ok())
        .map(|e| std::fs::read(e.path()).expect("eml"))
        .collect();
    assert_eq!(mails.len(), 300);
    let lists_in_corpus = mails.iter().filter(|m| m.windows(8).any(|w| w == b"List-Id:")).count();
    assert!(lists_in_corpus > 0, "the corpus has list mail");
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let today = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string();
    for i in 0..3 {
        mails.push(
            format!(
                "From: Клиент {i} <fresh{i}-{tag}@client.test>\r\nTo: alice@office.test\r\nSubject: Счёт {i}\r\n\
                 Message-ID: <fresh{i}-{tag}@client.test>\r\nDate: {today}\r\n\r\nВыставите счёт, пожалуйста.\r\n"
            )
            .into_bytes(),
        );
    }
    mails.push(
        format!(
            "From: Новости банка <news-{tag}@bank.test>\r\nTo: alice@office.test\r\nSubject: Новые тарифы\r\n\
             Message-ID: <news-{tag}@bank.test>\r\nDate: {today}\r\nList-Id: Bank news <news.bank.test>\r\n\
             List-Unsubscribe: <mailto:unsubscribe@bank.test>\r\nPrecedence: list\r\n\r\nНовые тарифы с 1 января.\r\n"
        )
        .into_bytes(),
    );
    deliver(&d, &f, &mails);
    let s = temp_store();
    let mut acct = account(&d, &f, false);
    acct.history_before = None;
    let cli = PultCli::new(&acct, &s);
    let out = cli.ok(&["sync", "--once"]);
    let line = out.lines().find(|l| l.contains("first sync")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("3 waiting for an answer") && line.contains("kept as history"), "{line}");
    let waiting = count(&s, "SELECT count(*) FROM conversations WHERE waiting_since IS NOT NULL AND status = 'open'");
    assert_eq!(waiting, 3, "exactly the three fresh client mails wait");
    let status: serde_json::Value = serde_json::from_str(&cli.ok(&["status", "--json"])).expect("json");
    assert_eq!(status["unanswered"], 3, "{status}");
    // Old mail is kept and searchable, just not a queue.
    assert_eq!(count(&s, "SELECT count(*) FROM messages"), 304);
    assert!(count(&s, "SELECT count(*) FROM messages WHERE quiet = 'history'") > 200);
    let open_old = count(
        &s,
        "SELECT count(*) FROM conversations WHERE status = 'open' AND last_message_at < strftime('%s', '2025-12-01')",
    );
    assert_eq!(open_old, 0, "no old conversation sits in the queue");
    // The fresh list mail never waits and is shown apart.
    let news = count(&s, &format!("SELECT automatic FROM conversations WHERE remote_key = '<news-{tag}@bank.test>'"));
    assert_eq!(news, 1, "in the Lists view");
    let lists = count(&s, "SELECT count(*) FROM conversations WHERE automatic = 1");
    assert!(lists > 1, "the corpus's list mail is in the Lists view too: {lists}");
    // The clients list leads with the three who wait.
    let clients: serde_json::Value = serde_json::from_str(&cli.ok(&["clients", "--json"])).expect("json");
    let first: Vec<&str> =
        clients.as_array().expect("array").iter().take(3).filter_map(|c| c["name"].as_str()).collect();
    assert!(first.len() == 3 && first.iter().all(|n| n.starts_with("Клиент")), "{first:?}");
}

/// A mail to an address the receiving server refuses: Postfix returns its
/// RFC 3464 report to alice's INBOX (over LMTP, as any mail). Synced, it
/// fails the mail it reports on with the recipient and what the server said,
/// where people look, and sits in that mail's thread; nobody waits.
#[test]
fn a_postfix_bounce_fails_the_mail_in_its_thread_and_nobody_waits() {
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let s = temp_store();
    channel(&s, "office", ChannelKind::Email);
    // alice's INBOX receives only bounces: every test's client is carol.
    let mut acct = account(&d, "INBOX", false);
    acct.folders = vec!["INBOX".into(), "Sent".into()];
    let cli = PultCli::new(&acct, &s);
    let tag = format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let subject = format!("Акт сверки {tag}");
    let queued: serde_json::Value = serde_json::from_str(&cli.ok(&[
        "send",
        "--to",
        "nobody@elsewhere.test",
        "--subject",
        &subject,
        "--body",
        "Акт во вложении.",
        "--json",
    ]))
    .expect("json");
    let (conversation, outbox) =
        (queued["conversation"].as_i64().expect("conv"), queued["outbox"].as_i64().expect("id"));
    cli.ok(&["sync", "--once"]);
    assert_eq!(outbox_state(&s, outbox), "sent", "Postfix took it");
    let message_id: String = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT rfc_message_id FROM outbox WHERE id = ?1", [outbox], |r| r.get(0))
        .expect("id");
    let bounced = |raw: &Vec<u8>| {
        let text = String::from_utf8_lossy(raw);
        text.contains("multipart/report") && text.contains(message_id.trim_matches(['<', '>']))
    };
    wait_for("Postfix's bounce in alice's INBOX", || read_mailbox(&d, "alice", "INBOX").iter().any(bounced));
    cli.ok(&["sync", "--once"]);

    let db = rusqlite::Connection::open(&s.path).expect("open");
    let (state, error): (String, String) = db
        .query_row("SELECT state, error FROM outbox WHERE id = ?1", [outbox], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("row");
    assert_eq!(state, "failed");
    assert!(error.starts_with("nobody@elsewhere.test: 550 5.1.1 "), "the recipient as we wrote it, the reply: {error}");
    assert!(error.to_lowercase().contains("doesn't exist"), "{error}");
    // Counted, listed, offered again.
    let status: serde_json::Value = serde_json::from_str(&cli.ok(&["status", "--json"])).expect("json");
    assert_eq!(status["failed"], 1, "{status}");
    assert_eq!(status["unanswered"], 0, "nobody waits: {status}");
    let problems: serde_json::Value = serde_json::from_str(&cli.ok(&["outbox", "--json"])).expect("json");
    assert!(
        problems.as_array().expect("list").iter().any(|p| p["outbox"] == outbox && p["error"] == error.as_str()),
        "{problems}"
    );
    // The thread of the sent mail shows the bounce; no conversation of its own.
    let thread: serde_json::Value =
        serde_json::from_str(&cli.ok(&["thread", "--conversation", &conversation.to_string(), "--json"]))
            .expect("json");
    let messages = thread["messages"].as_array().expect("messages");
    assert_eq!(messages.len(), 2, "{thread}");
    let ours = messages.iter().find(|m| m["direction"] == "out").expect("ours");
    assert_eq!((&ours["delivery"], &ours["error"]), (&serde_json::json!("failed"), &serde_json::json!(error)));
    let report = messages.iter().find(|m| m["direction"] == "in").expect("the bounce");
    assert!(report["body"].as_str().is_some_and(|b| b.contains("This is the mail system")), "{report}");
    assert!(thread["waiting_since"].is_null(), "{thread}");
    // Sent is shared by every test: other mails come from it, but nothing
    // from outside lands anywhere else, and nobody waits.
    let in_elsewhere: i64 = db
        .query_row(
            "SELECT count(*) FROM messages WHERE direction = 'in' AND conversation_id != ?1",
            [conversation],
            |r| r.get(0),
        )
        .expect("count");
    assert_eq!(in_elsewhere, 0, "no «Mail Delivery System» conversation");
    assert_eq!(count(&s, "SELECT count(*) FROM conversations WHERE waiting_since IS NOT NULL"), 0);
    // Syncing again changes nothing.
    cli.ok(&["sync", "--once"]);
    let ours = format!("SELECT count(*) FROM messages WHERE conversation_id = {conversation}");
    assert_eq!(count(&s, &ours), 2);
    assert_eq!(count(&s, "SELECT count(*) FROM messages WHERE report IS NOT NULL"), 1);
    assert_eq!(outbox_state(&s, outbox), "failed");
}

/// A certificate that does not fit is an error that names the host, for IMAP
/// and SMTP alike (here one signed by a CA nobody trusts: no `ca_file`).
/// Nothing falls back to plaintext, and the machine's bundle does not make
/// the test CA trusted.
#[test]
fn a_certificate_that_does_not_fit_names_the_host() {
    let d = dovecot();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("rt");
    let mut unknown_ca = account(&d, "INBOX", true);
    unknown_ca.imap.ca_file = None;
    unknown_ca.smtp.ca_file = None;
    let said = rt.block_on(email::connect(&unknown_ca)).err().expect("refused").to_string();
    assert!(said.contains("127.0.0.1") && said.contains("certificate"), "{said}");
    // SMTP: pult doctor's check goes through the same connection a send uses.
    let said = rt.block_on(email::send::check_smtp(&unknown_ca)).err().expect("refused");
    assert!(said.contains("127.0.0.1") && said.contains("certificate"), "{said}");
    // With the CA it connects: the refusal above was the certificate's.
    assert!(rt.block_on(email::connect(&account(&d, "INBOX", true))).is_ok());
}

/// All files of a bundle, relative path → bytes.
fn bundle_files(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("dir").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("inside").to_string_lossy().to_string();
                out.insert(rel, std::fs::read(&p).expect("read"));
            }
        }
    }
    out
}

/// #34: a client's mail (one over the lazy-attachment size, one forged twin of
/// another's Message-ID) with a promise kept and one moved: the export holds
/// each mail byte for byte as Dovecot has it (the large one completed from the
/// server), nothing of another client and no path of this machine; verify
/// passes, then names a flipped byte, a deleted file, an added file and an
/// edited audit row. The same store and range give the same manifest.
#[test]
fn an_export_holds_each_mail_as_dovecot_has_it_and_verify_names_every_change() {
    let d = dovecot();
    let f = folder("export");
    let tag = f.clone();
    let big = payload(pult::channels::email::parts::LAZY_ABOVE as usize + 20_000, 34);
    let first =
        mail_with_files(&tag, "<ex1@client.test>", None, "Пришлите акт сверки", &[("акт.pdf", &payload(3000, 1))]);
    let large = mail_with_files(
        &tag,
        "<ex2@client.test>",
        Some("<ex1@client.test>"),
        "Договор во вложении",
        &[("договор.pdf", &big)],
    );
    // Another sender reuses the first mail's Message-ID.
    let twin = mail_from(
        &format!("Ирина <irina-{tag}@client.test>"),
        "<ex1@client.test>",
        "Документы",
        "Оплатите по новым реквизитам",
        ("реквизиты.pdf", b"%PDF-1.4 twin"),
    );
    let other =
        mail_from("Пётр <petr@other.test>", "<other1@other.test>", "Чужое", "Секрет другого клиента", ("x.pdf", b"x"));
    deliver(&d, &f, &[first, large, twin, other]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync(&acct, &s, ch);
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let client: i64 = conn
        .query_row("SELECT contact_id FROM identities WHERE handle = ?1", [format!("irina-{tag}@client.test")], |r| {
            r.get(0)
        })
        .expect("client");
    let partial: i64 = conn
        .query_row("SELECT count(*) FROM originals WHERE partial IS NOT NULL", [], |r| r.get(0))
        .expect("originals");
    assert_eq!(partial, 1, "the large mail was kept in part (its header) at sync");
    // The worker wrote the originals beside the store; the store names them.
    let (beside, inside): (i64, i64) = conn
        .query_row(
            "SELECT count(*) FILTER (WHERE codec = 'beside'), count(*) FILTER (WHERE codec != 'beside') FROM blobs",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("blobs");
    assert_eq!((beside, inside), (4, 0), "every original beside the store, none copied into it");
    let side = pult::store::side_blobs::SideBlobs::beside(&s.path);
    let sha: String = conn.query_row("SELECT sha256 FROM blobs LIMIT 1", [], |r| r.get(0)).expect("sha");
    assert!(side.get(&sha).expect("read").is_some_and(|b| pult::store::audit_chain::sha256_hex(&b) == sha));
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(side.path()).expect("beside").permissions().mode() & 0o777, 0o600);
    let (m1, conv) = message_of(&s, "<ex1@client.test>");
    // A promise moved once and kept, and another still open.
    let mut r = reply(conv, "Принято в работу");
    r.reply_to_message_id = Some(m1);
    let rr = r.clone();
    s.writer.call_blocking(move |c| pult::store::ledger::accept(c, &rr, Some(m1), NOW + 3600, NOW)).expect("accept");
    let rr = reply(conv, "Переносим срок: ждём выписку");
    s.writer
        .call_blocking(move |c| pult::store::ledger::redate(c, conv, "anna", NOW + 7200, Some(&rr), NOW + 60))
        .expect("redate");
    let rr = reply(conv, "Выполнено.");
    s.writer.call_blocking(move |c| pult::store::ledger::done(c, &rr, NOW + 120)).expect("done");

    let cli = PultCli::new(&acct, &s);
    let out = cli.home.path().join("bundle");
    let o = cli.ok(&["export", "--client", &client.to_string(), "--out", out.to_str().expect("utf-8")]);
    assert!(o.contains("manifest.json"), "{o}");
    let files = bundle_files(&out);
    // Each .eml is a mail exactly as Dovecot holds it.
    let server = read_mailbox(&d, "alice", &f);
    let emls: Vec<&String> = files.keys().filter(|p| p.ends_with(".eml")).collect();
    assert_eq!(emls.len(), 3, "{:?}", files.keys().collect::<Vec<_>>());
    for p in &emls {
        assert!(server.contains(&files[*p]), "{p} is not byte for byte a mail on the server");
    }
    assert!(emls.iter().any(|p| files[*p].len() > big.len()), "the large mail is whole");
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    for e in manifest["files"].as_array().expect("files") {
        if e["path"].as_str().is_some_and(|p| p.ends_with(".eml")) {
            assert!(e["reconstructed"].is_null(), "{e}");
            let src = &e["sources"][0];
            assert_eq!(src["folder"], f.as_str(), "{e}");
            assert!(src["uidvalidity"].as_i64().is_some() && src["uid"].as_i64().is_some(), "{e}");
            assert!(e["received_at"].is_string(), "{e}");
        }
    }
    // The big attachment is in attachments/ by its hash.
    let big_sha = pult::store::audit_chain::sha256_hex(&big);
    assert_eq!(files.get(&format!("attachments/{big_sha}.pdf")), Some(&big));
    // Nothing of the other client, no path of this machine.
    let home = cli.home.path().to_string_lossy().to_string();
    let store_dir = s.dir.path().to_string_lossy().to_string();
    for (p, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(!text.contains("Секрет другого клиента") && !text.contains("petr@other.test"), "{p}");
        assert!(
            !text.contains(&home) && !text.contains(&store_dir) && !text.contains("/tmp/"),
            "{p} names a local path"
        );
    }
    let promises: serde_json::Value = serde_json::from_slice(&files["ledger/promises.json"]).expect("promises");
    let p = &promises[0];
    assert_eq!((p["state"].as_str(), p["on_time"].as_bool()), (Some("done"), Some(true)), "{promises}");
    assert_eq!(p["moved"].as_array().map(Vec::len), Some(1), "{promises}");
    let report = String::from_utf8_lossy(&files["report.html"]);
    assert!(!report.contains("<script") && !report.contains("http://") && !report.contains("https://"));
    assert!(report.contains("Promises") && report.contains("Пришлите акт сверки"));
    let mbox = String::from_utf8_lossy(&files["email/mbox"]);
    assert_eq!(mbox.matches("\nFrom MAILER-DAEMON ").count() + usize::from(mbox.starts_with("From ")), 3);
    assert!(cli.ok(&["export", "verify", out.to_str().expect("utf-8")]).contains("matches its SHA-256"));

    // Every kind of change is found and named.
    let fails = |what: &str, expect: &str| {
        let o = cli.run(&["export", "verify", out.to_str().expect("utf-8")]);
        let text = String::from_utf8_lossy(&o.stdout);
        assert_eq!(o.status.code(), Some(1), "{what}: {text}");
        assert!(text.contains(expect), "{what}: {text}");
    };
    let eml = out.join(emls[0]);
    let mut bytes = std::fs::read(&eml).expect("eml");
    bytes[10] ^= 1;
    std::fs::write(&eml, &bytes).expect("flip");
    fails("a flipped byte", &format!("changed: {}", emls[0]));
    bytes[10] ^= 1;
    std::fs::write(&eml, &bytes).expect("restore");
    let html = std::fs::read(out.join("report.html")).expect("report");
    std::fs::remove_file(out.join("report.html")).expect("delete");
    fails("a deleted file", "missing: report.html");
    std::fs::write(out.join("report.html"), html).expect("restore");
    std::fs::write(out.join("email/extra.eml"), b"From: x\r\n\r\n").expect("add");
    fails("an added file", "not in the manifest: email/extra.eml");
    std::fs::remove_file(out.join("email/extra.eml")).expect("remove");
    let audit = std::fs::read_to_string(out.join("ledger/audit.jsonl")).expect("audit");
    let edited = audit.replacen("task.redate", "task.cancel", 1);
    assert_ne!(edited, audit);
    std::fs::write(out.join("ledger/audit.jsonl"), &edited).expect("edit");
    fails("an edited audit row", "audit chain broken at row");
    fails("an edited audit row", "changed: ledger/audit.jsonl");
    std::fs::write(out.join("ledger/audit.jsonl"), &audit).expect("restore");
    assert!(cli.ok(&["export", "verify", out.to_str().expect("utf-8")]).contains("matches its SHA-256"));

    // The same store and range: the same manifest but for its time fields; in Russian, a Russian report.
    let again = cli.home.path().join("again");
    let o = pult(cli.home.path())
        .env("LANG", "ru_RU.UTF-8")
        .arg("--config")
        .arg(&cli.cfg)
        .arg("--store")
        .arg(&cli.store)
        .args(["export", "--client", &client.to_string(), "--out", again.to_str().expect("utf-8")])
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let strip = |dir: &std::path::Path| {
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).expect("manifest")).expect("json");
        v["export"] = serde_json::Value::Null;
        for e in v["files"].as_array_mut().expect("files") {
            if e["path"] == "report.html" {
                e["sha256"] = serde_json::Value::Null;
                e["size"] = serde_json::Value::Null;
            }
        }
        v
    };
    assert_eq!(strip(&out), strip(&again));
    let ru = std::fs::read_to_string(again.join("report.html")).expect("report");
    assert!(ru.contains("Обещания") && ru.contains("Хронология по всем каналам") && ru.contains("lang=\"ru\""));
    // Both exports are in the audit log, which still chains.
    let log = cli.ok(&["audit", "--json"]);
    assert_eq!(log.matches("\"export\"").count(), 2, "{log}");
    cli.ok(&["audit", "verify"]);
}

// DKIM at ingest (#34): mail signed with keys made here, published by a fake
// DNS server on loopback, delivered into Dovecot and synced.

/// The account, with DKIM keys asked of `dns` and a short timeout (a silent
/// DNS server costs the test this much, no more).
fn dkim_account(d: &Dovecot, folder: &str, dns: &dns::FakeDns) -> EmailAccount {
    let mut a = account(d, folder, false);
    a.dkim = pult::mailauth::Settings {
        enabled: true,
        dns_server: Some(dns.addr),
        timeout: std::time::Duration::from_millis(300),
        max_age_days: 30,
    };
    a
}

/// A client's mail dated now (mail older than `max_age_days` is not checked).
fn dkim_mail(from: &str, id: &str, refs: Option<&str>, extra: &str, body: &str) -> Vec<u8> {
    let date = jiff::Timestamp::now().strftime("%a, %d %b %Y %H:%M:%S +0000").to_string();
    let refs = refs.map(|r| format!("In-Reply-To: {r}\r\nReferences: {r}\r\n")).unwrap_or_default();
    format!(
        "{extra}From: Ирина <{from}>\r\nTo: alice@office.test\r\nSubject: Акт сверки\r\nMessage-ID: {id}\r\n{refs}\
         Date: {date}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
    .into_bytes()
}

const SIGNED: &str = "from:to:subject:date:message-id:from:subject";

/// (Message-ID, dkim, reason, domain, selector, aligned) of every checked mail.
type AuthRow = (String, String, Option<String>, Option<String>, Option<String>, bool);

fn auth_rows(s: &TempStore) -> Vec<AuthRow> {
    rusqlite::Connection::open(&s.path)
        .expect("open")
        .prepare(
            "SELECT m.rfc_message_id, a.dkim, a.reason, a.domain, a.selector, a.aligned
             FROM messages m JOIN mail_auth a ON a.message_id = m.id ORDER BY m.rfc_message_id",
        )
        .expect("sql")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?)))
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
}

fn row(id: &str, dkim: &str, reason: Option<&str>, domain: &str, selector: &str, aligned: bool) -> AuthRow {
    (id.into(), dkim.into(), reason.map(str::to_string), Some(domain.into()), Some(selector.into()), aligned)
}

#[test]
fn dkim_passes_for_rsa_and_ed25519_simple_and_relaxed_and_keys_are_asked_once() {
    let d = dovecot();
    let f = folder("dkim-pass");
    let fake = dns::FakeDns::start();
    let (ed, rsa) = (dkim::ed25519(), dkim::rsa());
    fake.txt("ed._domainkey.client.test", &ed.record);
    // A 2048-bit key is longer than one TXT string: the strings are joined.
    fake.txt("rsa._domainkey.client.test", &rsa.record);
    // Too long for UDP here: the client asks again over TCP.
    fake.set("big._domainkey.client.test", dns::Entry::TruncatedUdp(vec![dns::split_strings(&rsa.record)]));
    let reported = "Authentication-Results: mx.office.test;\r\n spf=pass smtp.mailfrom=client.test;\r\n \
                    dmarc=pass (p=none) header.from=client.test; arc=none\r\n";
    let mail = |id: &str, extra: &str| dkim_mail("irina@client.test", id, None, extra, "Пришлите акт сверки.");
    let mails = vec![
        dkim::sign(&mail("<rr@client.test>", reported), &rsa, "client.test", "rsa", "relaxed/relaxed", SIGNED),
        dkim::sign(&mail("<rs@client.test>", ""), &rsa, "client.test", "rsa", "simple/simple", SIGNED),
        dkim::sign(&mail("<er@client.test>", ""), &ed, "client.test", "ed", "relaxed/simple", SIGNED),
        dkim::sign(&mail("<es@client.test>", ""), &ed, "client.test", "ed", "simple/relaxed", SIGNED),
        dkim::sign(&mail("<tcp@client.test>", ""), &rsa, "client.test", "big", "relaxed/relaxed", SIGNED),
        mail("<unsigned@client.test>", ""),
    ];
    deliver(&d, &f, &mails);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let r = sync(&dkim_account(&d, &f, &fake), &s, ch);
    assert_eq!(r.inserted, 6, "every mail is stored");
    let rows = auth_rows(&s);
    assert_eq!(
        rows,
        [
            row("<er@client.test>", "pass", None, "client.test", "ed", true),
            row("<es@client.test>", "pass", None, "client.test", "ed", true),
            row("<rr@client.test>", "pass", None, "client.test", "rsa", true),
            row("<rs@client.test>", "pass", None, "client.test", "rsa", true),
            row("<tcp@client.test>", "pass", None, "client.test", "big", true),
            ("<unsigned@client.test>".into(), "none".into(), Some("unsigned".into()), None, None, false),
        ]
    );
    let mut asked = fake.asked();
    asked.sort();
    assert_eq!(
        asked,
        [
            "big._domainkey.client.test",
            "big._domainkey.client.test",
            "ed._domainkey.client.test",
            "rsa._domainkey.client.test"
        ],
        "one question per key in a sync (twice for the one retried over TCP)"
    );
    let conn = rusqlite::Connection::open(&s.path).expect("open");
    let reported: String = conn
        .query_row(
            "SELECT a.reported FROM mail_auth a JOIN messages m ON m.id = a.message_id
             WHERE m.rfc_message_id = '<rr@client.test>'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    let reported: serde_json::Value = serde_json::from_str(&reported).expect("json");
    assert_eq!(
        reported,
        serde_json::json!([
            {"by": "mx.office.test", "method": "spf", "result": "pass"},
            {"by": "mx.office.test", "method": "dmarc", "result": "pass"},
            {"by": "mx.office.test", "method": "arc", "result": "none"}
        ])
    );
    // `pult thread --json` carries it.
    let conv: i64 = conn
        .query_row("SELECT conversation_id FROM messages WHERE rfc_message_id = '<rr@client.test>'", [], |r| r.get(0))
        .expect("conversation");
    let home = tempfile::tempdir().expect("tmp");
    let out = pult(home.path())
        .args(["thread", "--json", "--conversation", &conv.to_string(), "--store"])
        .arg(&s.path)
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let m = &v["messages"][0];
    assert_eq!(m["dkim"]["result"], "pass", "{v}");
    assert_eq!(m["dkim"]["domain"], "client.test", "{v}");
    assert_eq!(m["dkim"]["selector"], "rsa", "{v}");
    assert_eq!(m["dkim"]["aligned"], true, "{v}");
    assert_eq!(m["authentication_results"][0]["method"], "spf", "{v}");
    let out = pult(home.path())
        .env("LANG", "ru_RU.UTF-8")
        .args(["thread", "--conversation", &conv.to_string(), "--store"])
        .arg(&s.path)
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("подпись DKIM: client.test ✓"), "{text}");
}

#[test]
fn dkim_fails_for_a_changed_body_or_header_and_a_missing_or_broken_key() {
    let d = dovecot();
    let f = folder("dkim-fail");
    let fake = dns::FakeDns::start();
    let (ed, rsa) = (dkim::ed25519(), dkim::rsa());
    fake.txt("ed._domainkey.client.test", &ed.record);
    fake.txt("rsa._domainkey.client.test", &rsa.record);
    fake.txt("broken._domainkey.client.test", "v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA");
    fake.txt("revoked._domainkey.client.test", "v=DKIM1; k=rsa; p=");
    let mail = |id: &str| dkim_mail("irina@client.test", id, None, "", "Сумма к оплате: 18 300 руб.");
    let body_changed = {
        let m = dkim::sign(&mail("<body@client.test>"), &rsa, "client.test", "rsa", "relaxed/relaxed", SIGNED);
        String::from_utf8(m).expect("utf-8").replace("18 300", "81 300").into_bytes()
    };
    let ed_body_changed = {
        let m = dkim::sign(&mail("<edbody@client.test>"), &ed, "client.test", "ed", "simple/simple", SIGNED);
        String::from_utf8(m).expect("utf-8").replace("18 300", "18 301").into_bytes()
    };
    let header_changed = {
        let m = dkim::sign(&mail("<header@client.test>"), &ed, "client.test", "ed", "relaxed/relaxed", SIGNED);
        String::from_utf8(m).expect("utf-8").replace("Subject: Акт сверки", "Subject: Срочно оплатите").into_bytes()
    };
    let mails = vec![
        body_changed,
        ed_body_changed,
        header_changed,
        dkim::sign(&mail("<nokey@client.test>"), &rsa, "client.test", "gone", "relaxed/relaxed", SIGNED),
        dkim::sign(&mail("<broken@client.test>"), &rsa, "client.test", "broken", "relaxed/relaxed", SIGNED),
        dkim::sign(&mail("<revoked@client.test>"), &rsa, "client.test", "revoked", "relaxed/relaxed", SIGNED),
    ];
    deliver(&d, &f, &mails);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    assert_eq!(sync(&dkim_account(&d, &f, &fake), &s, ch).inserted, 6, "failing mail is stored all the same");
    assert_eq!(
        auth_rows(&s),
        [
            row("<body@client.test>", "fail", Some("body-hash"), "client.test", "rsa", true),
            row("<broken@client.test>", "permerror", Some("bad-key"), "client.test", "broken", true),
            row("<edbody@client.test>", "fail", Some("body-hash"), "client.test", "ed", true),
            row("<header@client.test>", "fail", Some("signature"), "client.test", "ed", true),
            row("<nokey@client.test>", "permerror", Some("no-key"), "client.test", "gone", true),
            row("<revoked@client.test>", "permerror", Some("key-revoked"), "client.test", "revoked", true),
        ]
    );
}

#[test]
fn dkim_of_another_domain_warns_in_the_thread_and_a_silent_dns_is_a_temperror() {
    let d = dovecot();
    let f = folder("dkim-warn");
    let fake = dns::FakeDns::start();
    let ed = dkim::ed25519();
    fake.txt("ed._domainkey.client.test", &ed.record);
    fake.txt("m1._domainkey.mailer.test", &ed.record);
    fake.set("slow._domainkey.client.test", dns::Entry::Silent);
    let first = dkim::sign(
        &dkim_mail("irina@client.test", "<w1@client.test>", None, "", "Пришлите акт сверки."),
        &ed,
        "client.test",
        "ed",
        "relaxed/relaxed",
        SIGNED,
    );
    // Signed, and the signature holds, but by a domain the mail is not from.
    let other = dkim::sign(
        &dkim_mail("irina@client.test", "<w2@client.test>", Some("<w1@client.test>"), "", "Реквизиты изменились."),
        &ed,
        "mailer.test",
        "m1",
        "relaxed/relaxed",
        SIGNED,
    );
    let silent = dkim::sign(
        &dkim_mail("irina@client.test", "<w3@client.test>", Some("<w2@client.test>"), "", "Жду ответа."),
        &ed,
        "client.test",
        "slow",
        "relaxed/relaxed",
        SIGNED,
    );
    deliver(&d, &f, &[first, other, silent]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    assert_eq!(sync(&dkim_account(&d, &f, &fake), &s, ch).inserted, 3);
    assert_eq!(
        auth_rows(&s),
        [
            row("<w1@client.test>", "pass", None, "client.test", "ed", true),
            row("<w2@client.test>", "pass", None, "mailer.test", "m1", false),
            row("<w3@client.test>", "temperror", Some("dns-timeout"), "client.test", "slow", true),
        ]
    );
    let store = shared(&s.path, &s.writer);
    let mut h = Harness::in_language(store, pult::i18n::Lang::Ru, 160, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("подпись DKIM: client.test ✓"), "{screen}");
    assert!(screen.contains("⚠ подпись DKIM: mailer.test ✓, но письмо от имени client.test"), "{screen}");
    assert!(screen.contains("⚠ подпись DKIM client.test не проверена: DNS не ответил вовремя"), "{screen}");
    let store = shared(&s.path, &s.writer);
    let mut h = Harness::on(store, 220, 45);
    h.keys("<Enter>");
    let screen = h.screen();
    assert!(screen.contains("⚠ DKIM signature: mailer.test ✓, but the mail says it is from client.test"), "{screen}");
}

/// The export carries each mail's DKIM as recorded on arrival (manifest,
/// report, README); `export verify` checks the signatures again: a key
/// rotated since is news, not a failure; a text changed to match a rewritten
/// manifest is caught by the signature's body hash.
#[test]
fn dkim_results_go_into_the_export_and_verify_checks_them_again() {
    let d = dovecot();
    let f = folder("dkim-export");
    let fake = dns::FakeDns::start();
    let ed = dkim::ed25519();
    fake.txt("ed._domainkey.client.test", &ed.record);
    fake.txt("m1._domainkey.mailer.test", &ed.record);
    let from = format!("irina-{f}@client.test");
    let own = dkim::sign(
        &dkim_mail(&from, "<x1@client.test>", None, "", "Сумма к оплате: 18 300 руб."),
        &ed,
        "client.test",
        "ed",
        "relaxed/relaxed",
        SIGNED,
    );
    let other = dkim::sign(
        &dkim_mail(&from, "<x2@client.test>", Some("<x1@client.test>"), "", "Новые реквизиты."),
        &ed,
        "mailer.test",
        "m1",
        "relaxed/relaxed",
        SIGNED,
    );
    deliver(&d, &f, &[own, other]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = dkim_account(&d, &f, &fake);
    sync(&acct, &s, ch);
    let client: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT contact_id FROM identities WHERE handle = ?1", [&from], |r| r.get(0))
        .expect("client");
    let cli = PultCli::new(&acct, &s);
    let mut cfg = std::fs::read_to_string(&cli.cfg).expect("config");
    cfg.push_str(&format!("\n[mail]\ndns_server = \"{}\"\ndns_timeout_ms = 300\n", fake.addr));
    std::fs::write(&cli.cfg, cfg).expect("config");
    let out = cli.home.path().join("bundle");
    let dir = out.to_str().expect("utf-8");
    cli.ok(&["export", "--client", &client.to_string(), "--out", dir]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).expect("manifest")).expect("json");
    let mails: Vec<&serde_json::Value> = manifest["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.ends_with(".eml")))
        .collect();
    let dkim: Vec<(&str, &str, &str, bool)> = mails
        .iter()
        .map(|e| {
            let d = &e["dkim"];
            let s = |k: &str| d[k].as_str().unwrap_or("");
            (s("result"), s("domain"), s("selector"), d["aligned"].as_bool().unwrap_or(true))
        })
        .collect();
    assert_eq!(dkim, [("pass", "client.test", "ed", true), ("pass", "mailer.test", "m1", false)], "{manifest}");
    assert!(mails[0]["dkim"]["checked_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{manifest}");
    let report = std::fs::read_to_string(out.join("report.html")).expect("report");
    assert!(report.contains("DKIM signature: client.test ✓"), "{report}");
    assert!(report.contains("⚠ DKIM signature: mailer.test ✓, but the mail says it is from client.test"), "{report}");
    let readme = std::fs::read_to_string(out.join("README.txt")).expect("readme");
    assert!(readme.contains("DKIM at receipt (mail): pass: 1, warning: 1"), "{readme}");
    assert!(readme.contains("Подписи DKIM"), "{readme}");

    let verify = || {
        let o = cli.run(&["export", "verify", dir, "--json"]);
        (o.status.success(), serde_json::from_slice::<serde_json::Value>(&o.stdout).expect("json"))
    };
    let now = |v: &serde_json::Value| -> Vec<String> {
        v["dkim"].as_array().expect("dkim").iter().map(|d| d["now"].as_str().unwrap_or("").to_string()).collect()
    };
    let (ok, v) = verify();
    assert!(ok, "{v}");
    assert_eq!(now(&v), ["holds", "holds"], "{v}");
    // The domain rotates its key: the bundle still holds, the news is told.
    fake.txt("ed._domainkey.client.test", &dkim::ed25519().record);
    let (ok, v) = verify();
    assert!(ok, "{v}");
    assert_eq!(now(&v), ["key-changed", "holds"], "{v}");
    // Someone changes a mail's text and rewrites its hash in the (unsigned) manifest.
    let path = mails[0]["path"].as_str().expect("path").to_string();
    let changed = String::from_utf8(std::fs::read(out.join(&path)).expect("eml"))
        .expect("utf-8")
        .replace("18 300", "81 300")
        .into_bytes();
    std::fs::write(out.join(&path), &changed).expect("write");
    let mut m = manifest.clone();
    for e in m["files"].as_array_mut().expect("files") {
        if e["path"] == path.as_str() {
            e["sha256"] = serde_json::json!(sha256_hex(&changed));
            e["size"] = serde_json::json!(changed.len());
        }
    }
    std::fs::write(out.join("manifest.json"), serde_json::to_vec_pretty(&m).expect("json")).expect("write");
    let (ok, v) = verify();
    assert!(!ok, "{v}");
    assert_eq!(v["problems"], serde_json::json!([{"problem": "dkim", "path": path, "reason": "body-changed"}]), "{v}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// Mail that reached the server more than `max_age_days` ago is recorded as not
/// checked (its key may have rotated since), and DNS is not asked for it; the
/// Date a sender writes does not decide: an old Date on fresh mail is checked.
#[test]
fn dkim_is_not_checked_for_mail_that_reached_the_server_long_ago() {
    let d = dovecot();
    let f = folder("dkim-old");
    let fake = dns::FakeDns::start();
    let ed = dkim::ed25519();
    fake.txt("ed._domainkey.client.test", &ed.record);
    let old = dkim::sign(
        &dkim_mail("irina@client.test", "<old@client.test>", None, "", "Давнее письмо."),
        &ed,
        "client.test",
        "old",
        "relaxed/relaxed",
        SIGNED,
    );
    deliver(&d, &f, &[old]);
    // The server got it 40 days ago (Maildir: the file's time is its INTERNALDATE).
    let forty_days_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(40 * 86_400);
    let new = d.dir.join("mail/alice/Maildir").join(format!(".{f}")).join("new");
    for file in std::fs::read_dir(&new).expect("new/").flatten() {
        std::fs::File::options()
            .write(true)
            .open(file.path())
            .and_then(|h| h.set_modified(forty_days_ago))
            .expect("mtime");
    }
    let backdated = String::from_utf8(dkim_mail("irina@client.test", "<fresh@client.test>", None, "", "Свежее."))
        .expect("utf-8")
        .replace(&jiff::Timestamp::now().strftime("%Y").to_string(), "2019")
        .into_bytes();
    deliver(&d, &f, &[dkim::sign(&backdated, &ed, "client.test", "ed", "relaxed/relaxed", SIGNED)]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    sync(&dkim_account(&d, &f, &fake), &s, ch);
    assert_eq!(
        auth_rows(&s),
        [
            row("<fresh@client.test>", "pass", None, "client.test", "ed", true),
            ("<old@client.test>".into(), "none".into(), Some("not-checked-old:30".into()), None, None, false),
        ]
    );
    assert_eq!(fake.asked(), ["ed._domainkey.client.test"], "no question for the old mail's key");
}

/// `--redact-others` in mail: a third party in Cc is masked in the client's
/// mail (marked reconstructed, with the hash of the mail as received), the
/// third party's own reply-all is kept as its hash only, the report names them
/// «third party 1» and nothing of theirs is left anywhere in the bundle.
#[test]
fn redact_others_masks_third_parties_in_mail_cc_and_their_own_mail() {
    let d = dovecot();
    let f = folder("redact");
    let irina = format!("irina-{f}@client.test");
    let pavel = format!("pavel-{f}@third.test");
    let date = "Fri, 20 Nov 2026 10:00:00 +0300";
    let first = format!(
        "From: Ирина <{irina}>\r\nTo: alice@office.test\r\nCc: =?UTF-8?B?0J/QsNCy0LXQuw==?= <{pavel}>\r\n\
         Subject: Акт сверки\r\nMessage-ID: <rd1@client.test>\r\nDate: {date}\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nПришлите акт сверки.\r\n"
    );
    let reply_all = format!(
        "From: =?UTF-8?B?0J/QsNCy0LXQuw==?= <{pavel}>\r\nTo: alice@office.test\r\nCc: {irina}\r\n\
         Subject: Re: Акт сверки\r\nMessage-ID: <rd2@third.test>\r\nIn-Reply-To: <rd1@client.test>\r\n\
         References: <rd1@client.test>\r\nDate: Fri, 20 Nov 2026 10:05:00 +0300\r\n\
         Content-Type: text/plain; charset=utf-8\r\n\r\nСекрет третьего лица.\r\n"
    );
    deliver(&d, &f, &[first.into_bytes(), reply_all.into_bytes()]);
    let s = temp_store();
    let ch = channel(&s, "office", ChannelKind::Email);
    let acct = account(&d, &f, false);
    sync(&acct, &s, ch);
    let client: i64 = rusqlite::Connection::open(&s.path)
        .expect("open")
        .query_row("SELECT contact_id FROM identities WHERE handle = ?1", [&irina], |r| r.get(0))
        .expect("client");
    let cli = PultCli::new(&acct, &s);
    let out = cli.home.path().join("bundle");
    let dir = out.to_str().expect("utf-8");
    cli.ok(&["export", "--client", &client.to_string(), "--redact-others", "--out", dir]);
    let files = bundle_files(&out);
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes).to_lowercase();
        assert!(!text.contains("pavel") && !text.contains("0j/qsnc") && !text.contains("павел"), "{path}");
        assert!(!text.contains("секрет третьего"), "{path}");
    }
    let emls: Vec<&String> = files.keys().filter(|p| p.ends_with(".eml")).collect();
    assert_eq!(emls.len(), 1, "{:?}", files.keys().collect::<Vec<_>>());
    let eml = String::from_utf8_lossy(&files[emls[0]]).into_owned();
    assert!(eml.contains("Cc: <third-party-1@redacted.invalid>\r\n"), "{eml}");
    assert!(eml.contains(&format!("From: Ирина <{irina}>")) && eml.contains("To: alice@office.test"), "{eml}");
    assert!(eml.ends_with("\r\n\r\nПришлите акт сверки.\r\n"), "the body as received: {eml}");
    assert_eq!(files.keys().filter(|p| p.ends_with(".redacted.json")).count(), 1);
    let manifest: serde_json::Value = serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let entry = manifest["files"].as_array().expect("files").iter().find(|e| e["path"] == emls[0].as_str());
    let why = entry.and_then(|e| e["reconstructed"].as_str()).unwrap_or_default();
    assert!(why.contains("masked (--redact-others)") && why.contains("SHA-256"), "{manifest}");
    let report = String::from_utf8_lossy(&files["report.html"]).into_owned();
    assert!(report.contains("third party 1"), "{report}");
    assert!(cli.ok(&["export", "verify", dir]).contains("matches its SHA-256"));
}

/// Issue #29's story end to end: a team on PostgreSQL runs `pult daemon` on
/// two hosts (here two processes on one database), one sending and one
/// waiting. Mail is synced from Dovecot, replies are queued by `pult send`,
/// and the active daemon is killed with SIGKILL at random moments while it
/// sends; each time the standby carries on and a new standby starts. Every
/// send ends sent or "may have been sent", none reaches the client twice,
/// and Russian search finds the synced mail by another form of a word.
#[test]
fn on_postgresql_the_standby_carries_on_after_kill_9_and_nothing_goes_twice() {
    use std::process::{Child, Stdio};
    let d = dovecot();
    assert!(d.smtp > 0, "scripts/test starts Postfix too");
    let f = folder("pgkill");
    deliver(&d, &f, &[mail(0, 1)]);
    let tag = format!("pg{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
    let db = common::pg::PgDb::new();
    let mut acct = account(&d, &f, false);
    acct.folders = vec![f.clone(), "Sent".into()];
    let home = tempfile::tempdir().expect("home");
    let cfg = config_file(home.path(), &acct);
    let mut text = std::fs::read_to_string(&cfg).expect("config");
    text.push_str(&format!(
        "\n[store]\nurl = \"{}\"\npassword_file = \"{}\"\n",
        db.url,
        common::pg::password_file().display()
    ));
    std::fs::write(&cfg, text).expect("config");
    let cli = |args: &[&str]| pult(home.path()).arg("--config").arg(&cfg).args(args).output().expect("pult");

    struct Daemon(Child);
    impl Drop for Daemon {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let start = || {
        Daemon(
            pult(home.path())
                .arg("--config")
                .arg(&cfg)
                .arg("daemon")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("daemon"),
        )
    };
    let mut c = db.connect();
    let holder = |c: &mut postgres::Client| -> String {
        c.query_opt("SELECT coalesce(holder, '') FROM sender_lease", &[])
            .ok()
            .flatten()
            .map(|r| r.get(0))
            .unwrap_or_default()
    };
    let mut daemons = vec![start(), start()];
    let holds = |d: &Daemon, c: &mut postgres::Client| holder(c).contains(&format!("pid {},", d.0.id()));
    wait_for("one daemon to take the lease", || daemons.iter().any(|d| holds(d, &mut c)));
    wait_for("the client's mail synced", || {
        c.query_one("SELECT count(*) FROM messages WHERE direction = 'in'", &[])
            .map(|r| r.get::<_, i64>(0))
            .unwrap_or(0)
            >= 1
    });

    const N: usize = 20;
    for i in 0..N {
        let out = cli(&[
            "send",
            "--to",
            &format!("partner{i}@tax.test"),
            "--subject",
            &format!("Kill {tag} #{i}#"),
            "--body",
            "x",
        ]);
        assert!(out.status.success(), "pult send: {}", String::from_utf8_lossy(&out.stderr));
    }
    let open_rows = |c: &mut postgres::Client| -> i64 {
        c.query_one("SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')", &[]).unwrap().get(0)
    };
    let mut seed: u64 = (std::process::id() as u64) << 20 | NEXT.load(Ordering::SeqCst) as u64 | 1;
    eprintln!("kill seed {seed}");
    let mut kills = 0;
    while open_rows(&mut c) > 0 && kills < 6 {
        // Fault injection at a random moment, not a wait for anything.
        std::thread::sleep(std::time::Duration::from_millis(next_random(&mut seed) % 600));
        let Some(active) = daemons.iter().position(|d| holds(d, &mut c)) else { continue };
        let mut killed = daemons.remove(active);
        killed.0.kill().expect("SIGKILL");
        killed.0.wait().expect("reaped");
        kills += 1;
        daemons.push(start());
        wait_for("the standby to take over", || daemons.iter().any(|d| holds(d, &mut c)));
    }
    wait_for("the outbox to drain", || open_rows(&mut c) == 0);
    let count = |c: &mut postgres::Client, state: &str| -> i64 {
        c.query_one("SELECT count(*) FROM outbox WHERE state = $1", &[&state]).unwrap().get(0)
    };
    let (sent, unknown) = (count(&mut c, "sent"), count(&mut c, "unknown"));
    assert_eq!(sent + unknown, N as i64, "every row is sent or honestly unknown: nothing lost");
    let delivered = || kill_copies(&d, &tag, N);
    let sent_rows: Vec<usize> = c
        .query("SELECT subject FROM outbox WHERE state = 'sent'", &[])
        .unwrap()
        .iter()
        .map(|r| r.get::<_, String>(0).split('#').nth(1).and_then(|n| n.parse().ok()).expect("index"))
        .collect();
    wait_for("every sent mail at the partner's", || {
        let got = delivered();
        sent_rows.iter().all(|&i| got[i] >= 1)
    });
    for (i, n) in delivered().iter().enumerate() {
        assert!(*n <= 1, "mail #{i} delivered {n} times (seed {seed}, {kills} kills)");
    }
    eprintln!("{kills} kills: {sent} sent, {unknown} unknown");

    // The synced mail says «пришлите акт сверки»; another form of the word finds it.
    let out = cli(&["search", "сверку", "--json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let hits: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let hits = hits.as_array().expect("an array");
    // (Sent is shared with other tests: their mail is synced too.)
    let ours = hits
        .iter()
        .find(|h| h["snippet"].as_str().is_some_and(|s| s.contains("Сообщение номер 0: пришлите акт сверки")))
        .unwrap_or_else(|| panic!("the client's mail is found: {hits:?}"));
    assert_eq!(ours["highlights"].as_array().map(Vec::len), Some(1), "the word is highlighted: {ours}");
}
