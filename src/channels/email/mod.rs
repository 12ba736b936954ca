//! Email in: an IMAP sync worker (async-imap) per account. Folders are synced
//! newest first in batches, idempotently, with the UIDVALIDITY/UIDNEXT cursor
//! committed with the last batch it covers. A mail's key is what the server
//! guarantees, (folder, UIDVALIDITY, UID); its Message-ID, which any sender
//! controls, only threads it.

pub mod channel;
pub mod dsn;
pub mod fetch;
pub mod folders;
pub mod mutf7;
pub mod oauth;
pub mod parse;
pub mod parts;
pub mod qresync;
pub mod roots;
pub mod send;
pub mod submit;

use crate::channels::registry::set_status;
use crate::config::{EmailAccount, Server};
use crate::model::{ChannelStatus, Inbound};
use crate::model::{FlagChange, Gone, SyncEvent};
use crate::store::Writer;
use crate::store::{channel_state, events};
use futures_util::StreamExt;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Messages fetched per round trip and per store transaction.
pub const BATCH: usize = 500;
/// The first batch of a sync (of its new mail, and of its older mail) is
/// smaller: the store's writer, the slowest of the sync's three stages,
/// starts once it is fetched, parsed and packed (on a first sync of 20,000
/// mails a batch of 500 kept it idle ~0.15 s), and the first mail is in the
/// queue sooner.
pub const FIRST_BATCH: usize = 100;

/// `items` in the batches a sync fetches and stores them in.
fn in_batches<T>(items: &[T]) -> Vec<&[T]> {
    let (first, rest) = items.split_at(items.len().min(FIRST_BATCH));
    std::iter::once(first).filter(|b| !b.is_empty()).chain(rest.chunks(BATCH)).collect()
}

#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("{account}: {source}")]
    Secret { account: String, source: crate::secrets::SecretError },
    #[error("{account}: cannot connect to {host}:{port}: {reason}")]
    Connect { account: String, host: String, port: u16, reason: String },
    #[error("{account}: login failed for {user}")]
    Login { account: String, user: String },
    #[error("{account}: IMAP: {reason}")]
    Imap { account: String, reason: String },
    #[error("{account}: {source}")]
    Token { account: String, source: crate::oauth2::FlowError },
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
}

/// A plain or TLS connection, as async-imap needs one type.
#[derive(Debug)]
pub enum Conn {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for Conn {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Conn {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_write(cx, data),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, data),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_flush(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match self.get_mut() {
            Conn::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Conn::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

pub type Session = async_imap::Session<Conn>;

fn tls_config(server: &Server) -> Result<tokio_rustls::TlsConnector, String> {
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    roots.add_parsable_certificates(roots::system());
    if let Some(ca) = &server.ca_file {
        roots::add_ca_file(&mut roots, ca)?;
    }
    roots::connector(roots)
}

async fn wrap_tls(server: &Server, tcp: TcpStream) -> Result<Conn, String> {
    let connector = tls_config(server)?;
    let name = rustls_pki_types::ServerName::try_from(server.host.clone()).map_err(|e| e.to_string())?;
    let tls = connector.connect(name, tcp).await.map_err(|e| e.to_string())?;
    Ok(Conn::Tls(Box::new(tls)))
}

/// Connects and logs in: implicit TLS, STARTTLS, or plaintext (only with
/// `insecure`); with a password, or with an OAuth2 access token from the
/// token command, which is run once more when the server refuses the token
/// (it had expired: the command refreshes it).
pub async fn connect(account: &EmailAccount) -> Result<Session, EmailError> {
    Ok(connect_saying_how(account).await?.0)
}

/// [`connect`], with the way it logged in: "password", "OAUTHBEARER" or "XOAUTH2".
pub async fn connect_saying_how(account: &EmailAccount) -> Result<(Session, &'static str), EmailError> {
    let server = &account.imap;
    let secret = |source| EmailError::Secret { account: account.name.clone(), source };
    let refused = || EmailError::Login { account: account.name.clone(), user: server.user.clone() };
    match account.login(server) {
        crate::config::Login::Password { command, file } => {
            let password = crate::secrets::read_async(command, file).await.map_err(secret)?;
            let client = open(account).await?;
            let session = client.login(&server.user, &password).await.map_err(|_| refused())?;
            Ok((session, "password"))
        }
        crate::config::Login::OAuth2 { command } => {
            for attempt in 0..2 {
                let token = crate::secrets::read_async(Some(command), None).await.map_err(secret)?;
                if let Some(done) = login_with_token(account, &token).await? {
                    return Ok(done);
                }
                if attempt == 0 {
                    tracing::info!(
                        "{}: the IMAP server refused the access token; running the token command again",
                        account.name
                    );
                }
            }
            Err(refused())
        }
        crate::config::Login::Flow(flow) => {
            for attempt in 0..2 {
                let token = crate::oauth2::access_token(&account.name, flow, attempt == 1)
                    .await
                    .map_err(|source| EmailError::Token { account: account.name.clone(), source })?;
                if let Some(done) = login_with_token(account, &token).await? {
                    return Ok(done);
                }
                if attempt == 0 {
                    tracing::info!("{}: the IMAP server refused the access token; refreshing it", account.name);
                }
            }
            Err(refused())
        }
    }
}

/// One SASL OAUTHBEARER/XOAUTH2 login with `token` (the mechanism the server
/// offers): the session and the mechanism's name, or `None` when the server
/// refused the token (the caller fetches a new one once).
async fn login_with_token(account: &EmailAccount, token: &str) -> Result<Option<(Session, &'static str)>, EmailError> {
    let server = &account.imap;
    let mut client = open(account).await?;
    let offered = auth_mechanisms(&mut client).await;
    let mechanism = oauth::Mechanism::choose(offered.iter().map(String::as_str));
    let bearer = oauth::Bearer::new(mechanism, &server.user, token, &server.host, server.port);
    Ok(client.authenticate(mechanism.name(), bearer).await.ok().map(|session| (session, mechanism.name())))
}

/// The SASL mechanisms the server offers now (`AUTH=…` of CAPABILITY), asked
/// before login; empty when it does not say.
async fn auth_mechanisms(client: &mut async_imap::Client<Conn>) -> Vec<String> {
    use async_imap::imap_proto::types::{Capability, Response};
    use tokio::io::AsyncWriteExt;
    const TAG: &str = "pultcaps";
    let stream = client.get_mut();
    if stream.write_all(format!("{TAG} CAPABILITY\r\n").as_bytes()).await.is_err() || stream.flush().await.is_err() {
        return Vec::new();
    }
    let mut out = Vec::new();
    while let Ok(Some(r)) = client.read_response().await {
        match r.parsed() {
            Response::Capabilities(caps) => out.extend(caps.iter().filter_map(|c| match c {
                Capability::Auth(m) => Some(m.to_string()),
                _ => None,
            })),
            Response::Done { tag, .. } if tag.0 == TAG => break,
            _ => {}
        }
    }
    out
}

/// A connection up to the point of logging in (greeting read, TLS on).
async fn open(account: &EmailAccount) -> Result<async_imap::Client<Conn>, EmailError> {
    let server = &account.imap;
    let err = |reason: String| EmailError::Connect {
        account: account.name.clone(),
        host: server.host.clone(),
        port: server.port,
        reason,
    };
    let tcp = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        TcpStream::connect((server.host.as_str(), server.port)),
    )
    .await
    .map_err(|_| err("timed out".into()))?
    .map_err(|e| err(e.to_string()))?;
    let _ = tcp.set_nodelay(true);
    // A peer that vanished (a server gone without a FIN, a NAT that forgot us)
    // shows as an error within about two minutes, instead of a fetch that hangs.
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(std::time::Duration::from_secs(60))
        .with_interval(std::time::Duration::from_secs(15))
        .with_retries(4);
    let _ = socket2::SockRef::from(&tcp).set_tcp_keepalive(&keepalive);
    let client = match server.tls.as_str() {
        "starttls" => {
            let mut client = async_imap::Client::new(Conn::Plain(tcp));
            client.read_response().await.map_err(|e| err(e.to_string()))?;
            client.run_command_and_check_ok("STARTTLS", None).await.map_err(|e| err(e.to_string()))?;
            let Conn::Plain(tcp) = client.into_inner() else { return Err(err("unexpected TLS stream".into())) };
            async_imap::Client::new(wrap_tls(server, tcp).await.map_err(err)?)
        }
        "none" if server.insecure => {
            let mut c = async_imap::Client::new(Conn::Plain(tcp));
            c.read_response().await.map_err(|e| err(e.to_string()))?;
            c
        }
        _ => {
            let mut c = async_imap::Client::new(wrap_tls(server, tcp).await.map_err(err)?);
            c.read_response().await.map_err(|e| err(e.to_string()))?;
            c
        }
    };
    Ok(client)
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct FolderReport {
    pub fetched: usize,
    pub inserted: usize,
    pub resynced: bool,
    /// Changes since the last sync came with the QRESYNC SELECT (VANISHED, changed flags).
    pub qresync: bool,
    /// Mail found expunged on the server in this sync.
    pub expunged: usize,
    /// The folder's UIDNEXT as the cursor now records it: newer mail is not synced yet.
    pub next_uid: u32,
    /// The folder is configured but the server does not have it (renamed or deleted): not synced.
    pub missing: bool,
}

pub use crate::channels::registry::{OnProgress, SyncProgress};

/// Syncs one folder: new UIDs since the stored UIDNEXT, newest first, in batches.
/// A changed UIDVALIDITY resyncs the folder; Message-IDs keep that duplicate-free.
#[allow(clippy::too_many_arguments)]
pub async fn sync_folder(
    session: &mut Session,
    account: &EmailAccount,
    writer: &Writer,
    channel: i64,
    folder: &str,
    is_sent: bool,
    caps: &Caps,
    on_progress: OnProgress<'_>,
) -> Result<FolderReport, EmailError> {
    let imap = |e: async_imap::error::Error| EmailError::Imap { account: account.name.clone(), reason: e.to_string() };
    let keys = Keys::of(folder);
    let k = keys.clone();
    let stored: [Option<String>; 5] = writer
        .call(move |c| {
            let get = |key: &str| channel_state::cursor(c, channel, key);
            Ok([get(&k.validity)?, get(&k.next)?, get(&k.modseq)?, get(&k.backfill)?, get(&k.renumbering)?])
        })
        .await?;
    let [stored_validity, stored_next, stored_modseq, stored_backfill, stored_renumbering] = stored;
    // QRESYNC when enabled: the SELECT itself says what vanished and which flags
    // changed. Else CONDSTORE when offered; else a plain SELECT.
    let mailbox = if caps.qresync {
        let known =
            stored_validity.as_deref().and_then(|v| v.parse().ok()).zip(stored_modseq.and_then(|m| m.parse().ok()));
        qresync::select(session, folder, known).await.map_err(imap)?
    } else {
        let wire = mutf7::encode(folder);
        // CONDSTORE only where offered: a server without it may refuse the parameter.
        let condstore = if caps.condstore { session.select_condstore(&wire).await.ok() } else { None };
        let m = match condstore {
            Some(m) => m,
            None => session.select(&wire).await.map_err(imap)?,
        };
        qresync::Selected {
            exists: m.exists,
            uid_validity: m.uid_validity,
            uid_next: m.uid_next,
            highest_modseq: m.highest_modseq,
            ..Default::default()
        }
    };
    let validity = mailbox.uid_validity.unwrap_or(0).to_string();
    let mut report = FolderReport::default();
    let changed = stored_validity.as_deref().is_some_and(|v| v != validity);
    if changed {
        tracing::warn!("{}: UIDVALIDITY of {folder} changed; resyncing it", account.name);
    }
    // What is stored of the folder is one block of UIDs, [below, from): the
    // newest part first, then older and older mail, each batch committed with
    // the block it completes. A sync that stopped goes on where it stopped.
    let block = stored_next.is_some() && !changed;
    let from: u32 = if block { stored_next.and_then(|n| n.parse().ok()).unwrap_or(1) } else { 1 };
    let below: u32 = if block { stored_backfill.and_then(|b| b.parse().ok()).unwrap_or(1).max(1) } else { 1 };
    // A resync after a renumbering that stopped halfway is still one.
    report.resynced = changed || (block && stored_renumbering.as_deref() == Some("1"));
    let next = mailbox.uid_next.unwrap_or(0);
    // UIDs and sizes in one round trip per range: small mail comes whole, large mail by structure.
    let mut newer: Vec<Listed> = Vec::new();
    let mut older: Vec<Listed> = Vec::new();
    if mailbox.exists > 0 && !(next > 0 && from >= next) {
        newer = list_uids(session, &format!("{from}:*"), |u| u >= from).await.map_err(imap)?;
    }
    if mailbox.exists > 0 && below > 1 {
        older = list_uids(session, &format!("1:{}", below - 1), |u| u < below).await.map_err(imap)?;
    }
    if !block {
        // The first sync (or the first after a renumbering): newest first, all of it.
        older = std::mem::take(&mut newer);
    }
    // Mail newer than the block joins it oldest first (the block grows without
    // a gap); older mail newest first (the inbox is usable at once).
    newer.sort_unstable_by_key(|l| l.0);
    older.sort_unstable_by_key(|l| std::cmp::Reverse(l.0));
    let highest = newer.iter().chain(&older).map(|l| l.0).max().unwrap_or(0);
    let final_next = (highest + 1).max(next).max(from);
    report.next_uid = final_next;
    let own = account.own_addresses();
    // Mail in the Sent folder (`is_sent`) is ours even when sent from another client under another address.
    // Each batch with the cursors that hold once it is stored.
    let renumbering = if report.resynced { "1" } else { "0" };
    let mut chunks: Vec<(Vec<Listed>, Cursors)> = Vec::new();
    let new_batches = in_batches(&newer);
    let new_chunks = new_batches.len();
    for (i, c) in new_batches.into_iter().enumerate() {
        let last = i + 1 == new_chunks;
        let top = if last { final_next } else { c.iter().map(|l| l.0).max().unwrap_or(0) + 1 };
        let mut cursors = vec![(keys.validity.clone(), validity.clone()), (keys.next.clone(), top.to_string())];
        if last && older.is_empty() {
            cursors.extend(keys.complete());
        }
        chunks.push((c.to_vec(), cursors));
    }
    let old_batches = in_batches(&older);
    let old_chunks = old_batches.len();
    for (i, c) in old_batches.into_iter().enumerate() {
        let mut cursors = vec![(keys.validity.clone(), validity.clone()), (keys.next.clone(), final_next.to_string())];
        if i + 1 == old_chunks {
            cursors.extend(keys.complete());
        } else {
            let bottom = c.iter().map(|l| l.0).min().unwrap_or(1);
            cursors.push((keys.backfill.clone(), bottom.to_string()));
            cursors.push((keys.renumbering.clone(), renumbering.to_string()));
        }
        chunks.push((c.to_vec(), cursors));
    }
    let total = chunks.len();
    let total_mails = newer.len() + older.len();
    // Three stages, a batch apart: this task fetches and parses a batch while
    // a blocking thread packs the one before (`ready_for_store`) and the
    // writer stores the one before that, with the next queued behind it so
    // it never waits for this task. Memory stays bounded (a batch in each
    // stage, two at the writer); a batch whose predecessor failed to store
    // is refused (`InOrder`), so the cursors never pass a gap.
    let mut preparing: Option<tokio::task::JoinHandle<Ready>> = None;
    let mut storing = std::collections::VecDeque::new();
    let sequence = crate::store::writer::InOrder::default();
    let originals_beside = writer.blobs_for_originals().await;
    // Mail that others sent us is checked as it arrives; its keys are asked once per folder sync.
    let mut dkim = (account.dkim.enabled && !is_sent).then(|| crate::mailauth::Checker::new(&account.dkim));
    let started = std::time::Instant::now();
    let mut first_stored = None;
    let (mut done, mut bytes) = (0usize, 0u64);
    let mut chunks = chunks.into_iter();
    loop {
        let chunk = chunks.next();
        let more = chunk.is_some();
        let mut fetched = None;
        if let Some((chunk, cursors)) = chunk {
            let chunk_bytes: u64 = chunk.iter().map(|(_, size)| u64::from(*size)).sum();
            let (large, small): (Vec<_>, Vec<_>) = chunk.iter().partition(|(_, size)| *size > parts::LAZY_ABOVE);
            let validity_n: u32 = validity.parse().unwrap_or(0);
            let renumbered = report.resynced;
            let now = jiff::Timestamp::now().as_second();
            // Where the mail is, which is also its key (on Gmail its X-GM-MSGID is);
            // the date settled against its arrival.
            let place = |m: &mut Inbound, uid: u32, flags: (bool, bool), arrived: Option<i64>, gm: Option<u64>| {
                let p = crate::model::ImapPlace {
                    folder: folder.to_string(),
                    validity: validity_n,
                    uid,
                    seen: flags.0,
                    answered: flags.1,
                    sent_folder: is_sent,
                    renumbered,
                };
                m.remote_id = match gm {
                    Some(id) => gmail_key(id),
                    None => p.remote_id(),
                };
                m.outgoing |= is_sent;
                m.imap = Some(p);
                parse::settle_date(m, arrived, now);
            };
            let mut batch: Vec<Inbound> = Vec::with_capacity(chunk.len());
            // When each mail reached the server (INTERNALDATE), else its date: how old it is for DKIM.
            let mut arrivals: Vec<i64> = Vec::with_capacity(chunk.len());
            let mut whole: Vec<u32> = small.iter().map(|(uid, _)| *uid).collect();
            for (uid, _) in large {
                match fetch_by_structure(session, uid, &validity, folder, &own, caps.gmail).await.map_err(imap)? {
                    Some((mut m, flags, arrived, gm)) => {
                        place(&mut m, uid, flags, arrived, gm);
                        arrivals.push(arrived.unwrap_or(m.sent_at));
                        batch.push(m);
                    }
                    None => whole.push(uid),
                }
            }
            if !whole.is_empty() {
                let set = whole.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
                let items = if caps.gmail {
                    "(UID FLAGS INTERNALDATE X-GM-MSGID BODY.PEEK[])"
                } else {
                    "(UID FLAGS INTERNALDATE BODY.PEEK[])"
                };
                let mut stream = session.uid_fetch(&set, items).await.map_err(imap)?;
                while let Some(f) = stream.next().await {
                    let f = f.map_err(imap)?;
                    let (Some(uid), Some(body)) = (f.uid, f.body()) else { continue };
                    let mut m = parse::parse(body, &fallback_id(&validity, uid, folder), &own);
                    m.raw = Some(std::sync::Arc::new(original(folder, &validity, uid, body.to_vec(), None)));
                    let arrived = f.internal_date().map(|d| d.timestamp());
                    place(&mut m, uid, flags_of(&f), arrived, f.gmail_msg_id().copied());
                    arrivals.push(arrived.unwrap_or(m.sent_at));
                    batch.push(m);
                }
            }
            if let Some(checker) = dkim.as_mut() {
                check_dkim(checker, &mut batch, &arrivals, now).await;
            }
            report.fetched += batch.len();
            let (side, mails) = (originals_beside.clone(), chunk.len());
            fetched = Some(tokio::task::spawn_blocking(move || {
                ready_for_store(&mut batch, side.as_deref());
                Ready { batch, cursors, mails, bytes: chunk_bytes, now }
            }));
        }
        if let Some(ready) = std::mem::replace(&mut preparing, fetched) {
            storing.push_back(queue_store(writer, channel, ready.await.map_err(unjoined)?, &sequence));
        }
        // One batch waits behind the one being stored; at the end all are stored.
        while storing.len() > usize::from(more) {
            let Some(queued) = storing.pop_front() else { break };
            let (applied, _freed_here) = queued.stored.await?;
            report.inserted += applied.inserted;
            (done, bytes) = (done + queued.mails, bytes + queued.bytes);
            if total > 1 {
                on_progress(SyncProgress { folder, done, total: total_mails, bytes, started, first_stored });
            }
            first_stored.get_or_insert_with(|| (std::time::Instant::now(), done));
        }
        if !more {
            break;
        }
    }
    let unfinished = below > 1 || report.resynced;
    if total == 0 && (stored_validity.as_deref() != Some(validity.as_str()) || unfinished) {
        let mut cursors = vec![
            SyncEvent::Cursor { key: keys.validity.clone(), value: validity },
            SyncEvent::Cursor { key: keys.next.clone(), value: final_next.max(1).to_string() },
        ];
        cursors.extend(keys.complete().into_iter().map(|(key, value)| SyncEvent::Cursor { key, value }));
        let now = jiff::Timestamp::now().as_second();
        writer.call(move |c| events::apply(c, channel, &cursors, now)).await?;
    }
    if report.resynced {
        // A new UIDVALIDITY: everything was fetched again, flags with it.
    } else if mailbox.resynced {
        report.qresync = true;
        let gone = Gone::Ranges(mailbox.vanished);
        report.expunged =
            apply_server_changes(writer, channel, folder, mailbox.changed, gone, mailbox.highest_modseq).await?;
    } else {
        report.expunged =
            sync_flags(session, account, writer, channel, folder, mailbox.highest_modseq, mailbox.exists).await?;
    }
    push_flags(session, account, writer, channel, folder).await?;
    Ok(report)
}

/// A batch packed and ready for the writer, with its cursors.
struct Ready {
    batch: Vec<Inbound>,
    cursors: Cursors,
    /// Mails and bytes listed for it (progress).
    mails: usize,
    bytes: u64,
    /// When it was fetched: the time its events are stored at.
    now: i64,
}

/// A batch queued at the writer: its result to await, and what it counts for progress.
struct Queued<F> {
    stored: F,
    mails: usize,
    bytes: u64,
}

/// On a blocking thread, while the writer stores earlier batches: each
/// original is hashed and deflated, the search terms and closing words are
/// read (`store::prepared`), and the originals go beside the store.
fn ready_for_store(batch: &mut [Inbound], side: Option<&crate::store::side_blobs::SideBlobs>) {
    for raw in batch.iter_mut().filter_map(|m| m.raw.as_mut()) {
        if raw.packed.is_none() {
            let raw = std::sync::Arc::make_mut(raw);
            raw.packed = crate::model::Packed::of(&raw.bytes).ok();
        }
    }
    crate::store::prepared::prepare_all(batch.iter_mut());
    if let Some(side) = side {
        crate::store::side_blobs::keep_all(side, batch);
    }
}

/// Queues the writer's job for a batch now, behind the batches before it
/// (`InOrder`: not run if one of them failed).
fn queue_store(
    writer: &Writer,
    channel: i64,
    ready: Ready,
    sequence: &crate::store::writer::InOrder,
) -> Queued<impl std::future::Future<Output = crate::store::Result<(events::Applied, Vec<SyncEvent>)>> + use<>> {
    let Ready { batch, cursors, mails, bytes, now } = ready;
    let batch: Vec<SyncEvent> = batch
        .into_iter()
        .map(SyncEvent::Message)
        .chain(cursors.into_iter().map(|(key, value)| SyncEvent::Cursor { key, value }))
        .collect();
    // The batch goes back to be freed off the writer's thread.
    let stored = sequence.start(writer, move |c| Ok((events::apply(c, channel, &batch, now)?, batch)));
    Queued { stored, mails, bytes }
}

/// The packing thread's end: its panic goes on as one (a bug, as it was when
/// packing ran on this task); cancelled, the runtime is shutting down.
fn unjoined(e: tokio::task::JoinError) -> EmailError {
    if e.is_panic() {
        std::panic::resume_unwind(e.into_panic());
    }
    EmailError::Store(crate::store::StoreError::Invalid("the sync stopped while a batch was being packed".into()))
}

/// DKIM of the mail of a batch others sent, checked near receipt (`mailauth`):
/// whole mail against its keys; a large mail synced by structure is recorded
/// as not checked (its body is not here yet). Age is judged by `arrivals`
/// (when the server got each mail), not by the Date a sender writes.
async fn check_dkim(checker: &mut crate::mailauth::Checker, batch: &mut [Inbound], arrivals: &[i64], now: i64) {
    let whole: Vec<usize> = (0..batch.len())
        .filter(|&i| !batch[i].outgoing && batch[i].raw.as_ref().is_some_and(|r| r.partial.is_none()))
        .collect();
    let results = {
        let mails: Vec<(&[u8], i64)> = whole
            .iter()
            .filter_map(|&i| {
                let arrived = arrivals.get(i).copied().unwrap_or(batch[i].sent_at);
                batch[i].raw.as_ref().map(|r| (r.bytes.as_slice(), arrived))
            })
            .collect();
        checker.check_all(&mails, now).await
    };
    for (i, auth) in whole.into_iter().zip(results) {
        batch[i].auth = Some(auth);
    }
    for m in batch.iter_mut().filter(|m| !m.outgoing && m.auth.is_none()) {
        if let Some(raw) = &m.raw {
            let msg = crate::mailauth::dkim::Message::parse(&raw.bytes);
            m.auth = Some(crate::mailauth::MailAuth::not_checked(&msg, "not-checked-partial", now));
        }
    }
}

/// A mail as listed before fetching: its UID and size.
type Listed = (u32, u32);
/// Cursor keys and values committed with a batch.
type Cursors = Vec<(String, String)>;

/// The cursors of one folder (`sync_state` keys).
#[derive(Clone)]
struct Keys {
    validity: String,
    /// Every UID of the folder from `backfill` up to this one is stored.
    next: String,
    modseq: String,
    /// UIDs under it are still to fetch (absent or 1: none).
    backfill: String,
    /// "1" while a resync after a new UIDVALIDITY is not finished.
    renumbering: String,
}

impl Keys {
    fn of(folder: &str) -> Keys {
        Keys {
            validity: format!("{folder}.uidvalidity"),
            next: format!("{folder}.uidnext"),
            modseq: format!("{folder}.modseq"),
            backfill: format!("{folder}.backfill"),
            renumbering: format!("{folder}.renumbering"),
        }
    }

    /// The folder is stored down to its first UID.
    fn complete(&self) -> [(String, String); 2] {
        [(self.backfill.clone(), "1".into()), (self.renumbering.clone(), "0".into())]
    }
}

/// The UIDs and sizes of a UID range, those `keep` accepts (`N:*` always
/// names the last mail, even below N).
async fn list_uids(
    session: &mut Session,
    range: &str,
    keep: impl Fn(u32) -> bool,
) -> Result<Vec<Listed>, async_imap::error::Error> {
    let mut out = Vec::new();
    let mut stream = session.uid_fetch(range, "(UID RFC822.SIZE)").await?;
    while let Some(f) = stream.next().await {
        let f = f?;
        if let Some(uid) = f.uid.filter(|u| keep(*u)) {
            out.push((uid, f.size.unwrap_or(0)));
        }
    }
    Ok(out)
}

/// The remote id of a mail without a Message-ID: stable for its folder and UIDVALIDITY.
/// A mail's bytes as fetched (`BODY.PEEK[]`), with its place: folder, UIDVALIDITY, UID.
pub fn original(
    folder: &str,
    validity: &str,
    uid: u32,
    bytes: Vec<u8>,
    partial: Option<String>,
) -> crate::model::RawOriginal {
    crate::model::RawOriginal {
        kind: "imap",
        source: serde_json::json!({
            "folder": folder,
            "uidvalidity": validity.parse::<u64>().ok(),
            "uid": uid,
        }),
        bytes,
        partial,
        signature: None,
        received_at: jiff::Timestamp::now().as_second(),
        packed: None,
    }
}

fn fallback_id(validity: &str, uid: u32, folder: &str) -> String {
    format!("<{validity}.{uid}.{folder}@pult.invalid>")
}

/// A large mail: headers, flags and structure first, then only its readable text.
/// The store key of a Gmail mail, the same under every label it has.
pub fn gmail_key(msgid: u64) -> String {
    format!("gmail:{msgid}")
}

/// A mail, its (\Seen, \Answered) flags, its arrival time and (Gmail) X-GM-MSGID.
type Fetched = (Inbound, (bool, bool), Option<i64>, Option<u64>);

/// `None` when it is a single part (nothing to leave behind): fetch it whole.
async fn fetch_by_structure(
    session: &mut Session,
    uid: u32,
    validity: &str,
    folder: &str,
    own: &[String],
    gmail: bool,
) -> Result<Option<Fetched>, async_imap::error::Error> {
    let items = if gmail {
        "(UID FLAGS INTERNALDATE X-GM-MSGID BODYSTRUCTURE BODY.PEEK[HEADER])"
    } else {
        "(UID FLAGS INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER])"
    };
    let (header, layout, flags, arrived, gm) = {
        let mut stream = session.uid_fetch(uid.to_string(), items).await?;
        let mut found = None;
        while let Some(f) = stream.next().await {
            let f = f?;
            if f.uid != Some(uid) {
                continue;
            }
            // The stream is read to its end either way: a response left unread would
            // be taken for the next command's.
            found = Some((
                f.header().unwrap_or_default().to_vec(),
                f.bodystructure().and_then(parts::layout),
                flags_of(&f),
                f.internal_date().map(|d| d.timestamp()),
                f.gmail_msg_id().copied(),
            ));
        }
        match found {
            Some((header, Some(layout), flags, arrived, gm)) => (header, layout, flags, arrived, gm),
            _ => return Ok(None),
        }
    };
    let texts = fetch_sections(session, uid, &layout.text_sections()).await?;
    let mut m = parse::parse_structured(&header, &texts, layout, &fallback_id(validity, uid, folder), own);
    // Its header is what was fetched of it; an export fetches the rest while the server has it.
    m.raw = Some(std::sync::Arc::new(original(
        folder,
        validity,
        uid,
        header,
        Some("large mail synced by structure: header and text parts only".into()),
    )));
    Ok(Some((m, flags, arrived, gm)))
}

/// One MIME part with its own headers, as a small message mail-parser can decode.
pub async fn fetch_section(
    session: &mut Session,
    uid: u32,
    section: &str,
) -> Result<Option<Vec<u8>>, async_imap::error::Error> {
    Ok(fetch_sections(session, uid, &[section.to_string()]).await?.pop().flatten())
}

/// Several MIME parts of one mail in one round trip, each with its own headers,
/// in the order asked (`None` for a section the server did not return).
pub async fn fetch_sections(
    session: &mut Session,
    uid: u32,
    sections: &[String],
) -> Result<Vec<Option<Vec<u8>>>, async_imap::error::Error> {
    use async_imap::imap_proto::types::{MessageSection, SectionPath};
    let paths: Vec<Vec<u32>> = sections.iter().map(|s| s.split('.').filter_map(|p| p.parse().ok()).collect()).collect();
    let mut out: Vec<Option<Vec<u8>>> = vec![None; sections.len()];
    let items: Vec<String> = sections
        .iter()
        .zip(&paths)
        .filter(|(_, p)| !p.is_empty())
        .map(|(s, _)| format!("BODY.PEEK[{s}.MIME] BODY.PEEK[{s}]"))
        .collect();
    if items.is_empty() {
        return Ok(out);
    }
    let mut stream = session.uid_fetch(uid.to_string(), format!("(UID {})", items.join(" "))).await?;
    while let Some(f) = stream.next().await {
        let f = f?;
        if f.uid != Some(uid) {
            continue;
        }
        for (slot, path) in out.iter_mut().zip(&paths) {
            if path.is_empty() {
                continue;
            }
            let mime = f.section(&SectionPath::Part(path.clone(), Some(MessageSection::Mime))).unwrap_or_default();
            let Some(body) = f.section(&SectionPath::Part(path.clone(), None)) else { continue };
            let mut raw = Vec::with_capacity(mime.len() + body.len() + 2);
            raw.extend_from_slice(mime);
            if !mime.ends_with(b"\r\n\r\n") && !mime.ends_with(b"\n\n") {
                raw.extend_from_slice(b"\r\n");
            }
            raw.extend_from_slice(body);
            *slot = Some(raw);
        }
    }
    Ok(out)
}

fn flags_of(f: &async_imap::types::Fetch) -> (bool, bool) {
    use async_imap::types::Flag;
    let (mut seen, mut answered) = (false, false);
    for flag in f.flags() {
        match flag {
            Flag::Seen => seen = true,
            Flag::Answered => answered = true,
            _ => {}
        }
    }
    (seen, answered)
}

/// Server-side changes: flags changed by other clients (CHANGEDSINCE when the
/// server has CONDSTORE, else every flag of a small folder) and expunged mail.
async fn sync_flags(
    session: &mut Session,
    account: &EmailAccount,
    writer: &Writer,
    channel: i64,
    folder: &str,
    highest_modseq: Option<u64>,
    exists: u32,
) -> Result<usize, EmailError> {
    let imap = |e: async_imap::error::Error| EmailError::Imap { account: account.name.clone(), reason: e.to_string() };
    let key = format!("{folder}.modseq");
    let (k, f) = (key.clone(), folder.to_string());
    let (stored, local): (Option<u64>, i64) = writer
        .call(move |c| {
            let stored = channel_state::cursor(c, channel, &k)?.and_then(|v| v.parse().ok());
            Ok((stored, channel_state::live_mails(c, channel, &f)?))
        })
        .await?;
    let query = match (highest_modseq, stored) {
        (Some(h), Some(s)) if h == s => None,
        (Some(_), Some(s)) => Some(format!("(UID FLAGS) (CHANGEDSINCE {s})")),
        (Some(_), None) => None, // first sync: flags came with the mail
        (None, _) if exists <= 5000 => Some("(UID FLAGS)".to_string()),
        (None, _) => None,
    };
    let mut changed: Vec<FlagChange> = Vec::new();
    if let Some(q) = query
        && exists > 0
    {
        let mut stream = session.uid_fetch("1:*", &q).await.map_err(imap)?;
        while let Some(f) = stream.next().await {
            let f = f.map_err(imap)?;
            if let Some(uid) = f.uid {
                let (seen, answered) = flags_of(&f);
                changed.push(FlagChange { uid, seen, answered });
            }
        }
    }
    // More mail here than on the server: something was expunged; find what.
    let gone = if local > exists as i64 {
        Gone::AllPresent(session.uid_search("ALL").await.map_err(imap)?.into_iter().collect())
    } else {
        Gone::Nothing
    };
    apply_server_changes(writer, channel, folder, changed, gone, highest_modseq).await
}

/// Flags changed elsewhere and expunged mail, with the new HIGHESTMODSEQ, as
/// one event. Returns how many mails were newly marked as gone.
async fn apply_server_changes(
    writer: &Writer,
    channel: i64,
    folder: &str,
    changed: Vec<FlagChange>,
    gone: Gone,
    highest_modseq: Option<u64>,
) -> Result<usize, EmailError> {
    let event = SyncEvent::Mailbox { folder: folder.to_string(), changed, gone, highest_modseq };
    let now = jiff::Timestamp::now().as_second();
    Ok(writer.call(move |c| events::apply(c, channel, &[event], now)).await?.expunged)
}

/// Flags pult owes the server (\Seen after reading, \Answered after a reply).
async fn push_flags(
    session: &mut Session,
    account: &EmailAccount,
    writer: &Writer,
    channel: i64,
    folder: &str,
) -> Result<(), EmailError> {
    let imap = |e: async_imap::error::Error| EmailError::Imap { account: account.name.clone(), reason: e.to_string() };
    let f = folder.to_string();
    let pending = writer.call(move |c| channel_state::flags_to_push(c, channel, &f)).await?;
    for (id, uid, flags) in pending {
        let flags =
            flags.split_whitespace().filter(|f| matches!(*f, "\\Seen" | "\\Answered")).collect::<Vec<_>>().join(" ");
        if !flags.is_empty() {
            let mut st = session.uid_store(uid.to_string(), format!("+FLAGS.SILENT ({flags})")).await.map_err(imap)?;
            while let Some(r) = st.next().await {
                r.map_err(imap)?;
            }
        }
        let (seen, answered) = (flags.contains("Seen"), flags.contains("Answered"));
        writer.call(move |c| channel_state::flags_pushed(c, id, seen, answered)).await?;
    }
    Ok(())
}

/// Syncs every configured folder of an account once.
pub async fn sync_account(
    account: &EmailAccount,
    writer: &Writer,
    channel: i64,
) -> Result<Vec<(String, FolderReport)>, EmailError> {
    sync_account_with(account, writer, channel, true, &|_| {}).await
}

/// [`sync_account`], with QRESYNC used only when `use_qresync` (and the server
/// offers it), telling `on_progress` how a long sync goes.
pub async fn sync_account_with(
    account: &EmailAccount,
    writer: &Writer,
    channel: i64,
    use_qresync: bool,
    on_progress: OnProgress<'_>,
) -> Result<Vec<(String, FolderReport)>, EmailError> {
    // The first sync fixes where history ends: older mail never waits.
    let now = jiff::Timestamp::now().as_second();
    let explicit = account.history_before.as_deref().and_then(|h| crate::config::parse_cutoff(h, now));
    writer.call(move |c| crate::store::channel_state::begin_history(c, channel, explicit, now - 7 * 86_400)).await?;
    let mut session = connect(account).await?;
    let caps = Caps::of(&mut session, use_qresync).await;
    let plan = plan_folders(&mut session, account).await?;
    let mut out = Vec::new();
    for folder in &plan.sync {
        let is_sent = plan.is_sent(folder);
        match sync_folder(&mut session, account, writer, channel, folder, is_sent, &caps, on_progress).await {
            Ok(r) => out.push((folder.clone(), r)),
            Err(EmailError::Imap { reason, .. }) if reason.contains("NO") => {
                tracing::warn!("{}: folder {folder} skipped: {reason}", account.name);
                out.push((folder.clone(), FolderReport { missing: true, ..FolderReport::default() }));
            }
            Err(e) => return Err(e),
        }
    }
    for folder in plan.missing {
        out.push((folder, FolderReport { missing: true, ..FolderReport::default() }));
    }
    let _ = session.logout().await;
    Ok(out)
}

/// The folders to sync on this server, with a warning in the log for each
/// configured folder it no longer has.
pub async fn plan_folders(session: &mut Session, account: &EmailAccount) -> Result<folders::Plan, EmailError> {
    let plan = folders::discover(session, account)
        .await
        .map_err(|e| EmailError::Imap { account: account.name.clone(), reason: e.to_string() })?;
    for f in &plan.missing {
        tracing::warn!("{}: folder {f} is not on the server (renamed or deleted?): not synced", account.name);
    }
    Ok(plan)
}

/// What the sidebar says when configured folders are gone from the server.
pub fn missing_folders_status(plan: &folders::Plan) -> Option<ChannelStatus> {
    (!plan.missing.is_empty()).then(|| {
        let lang = crate::i18n::written();
        ChannelStatus::Error(format!(
            "{}: {}; {}",
            lang.tr("folders_gone"),
            plan.missing.join(", "),
            lang.tr("folders_fix")
        ))
    })
}

/// What the server offers that changes how pult syncs.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Caps {
    /// QRESYNC, enabled: the SELECT names what vanished and what changed.
    pub qresync: bool,
    /// CONDSTORE: flags changed since a MODSEQ; else every flag is fetched (small folders).
    pub condstore: bool,
    /// IDLE: new mail is told at once; else INBOX is polled every `poll_seconds`.
    pub idle: bool,
    /// X-GM-EXT-1 (Gmail): a label is a folder, so one mail sits in several;
    /// its X-GM-MSGID, the server's own id for it, is its key (one row).
    pub gmail: bool,
}

impl Caps {
    /// Asks once after login; turns QRESYNC on when `use_qresync` and offered.
    pub async fn of(session: &mut Session, use_qresync: bool) -> Caps {
        let Ok(caps) = session.capabilities().await else { return Caps::default() };
        let (offered_qresync, condstore, idle, gmail) =
            (caps.has_str("QRESYNC"), caps.has_str("CONDSTORE"), caps.has_str("IDLE"), caps.has_str("X-GM-EXT-1"));
        drop(caps);
        let qresync =
            use_qresync && offered_qresync && session.run_command_and_check_ok("ENABLE QRESYNC").await.is_ok();
        Caps { qresync, condstore: condstore || qresync, idle, gmail }
    }
}

/// IDLE is renewed well before the 29-minute limit of RFC 2177.
pub const IDLE_RENEW: std::time::Duration = std::time::Duration::from_secs(25 * 60);
/// Folders other than INBOX are checked at least this often.
pub const OTHER_FOLDERS_EVERY: std::time::Duration = std::time::Duration::from_secs(5 * 60);

/// What the sidebar says about an account.

/// The worker: sync every folder, then IDLE on INBOX; on new mail sync again.
/// A dropped connection, a server restart or a timeout reconnects with backoff;
/// the idempotent ingest and the cursors make that lose and duplicate nothing.
pub async fn run(account: EmailAccount, writer: Writer, channel: i64) {
    let mut failures = 0u32;
    loop {
        set_status(&writer, channel, ChannelStatus::Connecting).await;
        match run_session(&account, &writer, channel, &mut failures).await {
            Ok(()) => {}
            Err(e) => {
                failures += 1;
                let wait = std::time::Duration::from_secs((2u64 << failures.min(6)).min(300));
                tracing::warn!("{e}; reconnecting in {wait:?}");
                set_status(&writer, channel, status_for(&e)).await;
                tokio::time::sleep(wait).await;
            }
        }
    }
}

/// What the sidebar says about a worker's error: a refusal of our credentials
/// is `⚠ auth`, and a login pult's own OAuth2 client needs says what to run,
/// in the team's language («нужен вход: pult auth office»).
pub fn status_for(e: &EmailError) -> ChannelStatus {
    match e {
        EmailError::Token { source: crate::oauth2::FlowError::NeedsLogin(name), .. } => {
            ChannelStatus::AuthFailed(format!("{} {name}", crate::i18n::written().tr("needs_login")))
        }
        EmailError::Login { .. } | EmailError::Secret { .. } | EmailError::Token { .. } => {
            ChannelStatus::AuthFailed(e.to_string())
        }
        _ => ChannelStatus::Error(e.to_string()),
    }
}

async fn run_session(
    account: &EmailAccount,
    writer: &Writer,
    channel: i64,
    failures: &mut u32,
) -> Result<(), EmailError> {
    let imap = |e: async_imap::error::Error| EmailError::Imap { account: account.name.clone(), reason: e.to_string() };
    let mut session = connect(account).await?;
    let caps = Caps::of(&mut session, true).await;
    if !caps.idle {
        tracing::info!(
            "{}: the server has no IDLE: checking for mail every {} s",
            account.name,
            account.poll().as_secs()
        );
    }
    let mut last_full = tokio::time::Instant::now();
    let mut first = true;
    let mut plan = folders::Plan::default();
    loop {
        let all = first || last_full.elapsed() >= OTHER_FOLDERS_EVERY;
        if all {
            // Folders are listed again on every full pass: one renamed meanwhile is noticed.
            plan = plan_folders(&mut session, account).await?;
        }
        let syncs_inbox = plan.sync.iter().any(|f| f == "INBOX");
        let mut inbox_next = 0;
        for folder in &plan.sync {
            if all || folder == "INBOX" {
                // A long sync shows how far it is in the channel's status (the sidebar).
                let progress = |p: SyncProgress<'_>| {
                    let status = ChannelStatus::Syncing { done: p.done as u64, total: p.total as u64 };
                    let now = jiff::Timestamp::now().as_second();
                    writer.submit(move |c| channel_state::set_status(c, channel, &status, now), |_| {});
                };
                let is_sent = plan.is_sent(folder);
                let r = sync_folder(&mut session, account, writer, channel, folder, is_sent, &caps, &progress).await?;
                if folder == "INBOX" {
                    inbox_next = r.next_uid;
                }
            }
        }
        if all {
            last_full = tokio::time::Instant::now();
        }
        first = false;
        *failures = 0;
        let status =
            missing_folders_status(&plan).unwrap_or(ChannelStatus::Ok { at: Some(jiff::Timestamp::now().as_second()) });
        set_status(writer, channel, status).await;
        if !caps.idle {
            // No IDLE: look again after `poll_seconds`; INBOX each time, the rest every 5 minutes.
            tokio::time::sleep(account.poll()).await;
            continue;
        }
        tracing::debug!("{}: synced; idling on INBOX", account.name);
        // Mail that arrived after the sync's SELECT and before IDLE would wait for
        // the next wake: look for it first (UIDNEXT moved, or news before "+ idling").
        let inbox = session.select("INBOX").await.map_err(imap)?;
        // What the SELECT reported is in `inbox`; older notices are stale.
        while session.unsolicited_responses.try_recv().is_ok() {}
        if syncs_inbox && inbox.uid_next.is_some_and(|n| n > inbox_next) {
            tracing::debug!("{}: new mail between the sync and IDLE", account.name);
            continue;
        }
        let news = session.unsolicited_responses.clone();
        let mut idle = session.idle();
        idle.init().await.map_err(imap)?;
        let early = std::iter::from_fn(|| news.try_recv().ok()).any(|r| {
            use async_imap::imap_proto::Response;
            use async_imap::types::UnsolicitedResponse as U;
            match r {
                U::Exists(_) | U::Expunge(_) => true,
                U::Other(data) => matches!(data.parsed(), Response::Vanished { .. } | Response::Fetch(..)),
                _ => false,
            }
        });
        if early {
            tracing::debug!("{}: news before IDLE began", account.name);
            session = idle.done().await.map_err(imap)?;
            continue;
        }
        let (wait, _interrupt) = idle.wait_with_timeout(IDLE_RENEW.min(OTHER_FOLDERS_EVERY));
        let outcome = wait.await.map_err(imap)?;
        tracing::debug!("{}: IDLE ended: {outcome:?}", account.name);
        session = idle.done().await.map_err(imap)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sync_stores_a_small_batch_first_then_full_ones() {
        let sizes = |n: usize| in_batches(&vec![0u8; n]).iter().map(|b| b.len()).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(7), [7]);
        assert_eq!(sizes(FIRST_BATCH), [FIRST_BATCH]);
        assert_eq!(sizes(FIRST_BATCH + 1), [FIRST_BATCH, 1]);
        assert_eq!(sizes(FIRST_BATCH + BATCH + 3), [FIRST_BATCH, BATCH, 3]);
    }
}
