//! TLS to a PostgreSQL server across a network, with the rustls that mail
//! already uses (no OpenSSL). Asked for by `sslmode=require` in the address;
//! the server's certificate is always verified — against the machine's
//! roots and the compiled-in ones, or the `[store] ca_file` of a private CA —
//! and its name must match the host: there is no mode that encrypts without
//! knowing to whom.

use postgres::Socket;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use rustls_pki_types::ServerName;
use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Makes a verified TLS session for each connection.
#[derive(Clone)]
pub struct Tls {
    connector: tokio_rustls::TlsConnector,
}

impl Tls {
    /// Roots: `ca_file` when given (a private CA), else the machine's bundle
    /// and the compiled-in Mozilla roots.
    pub fn new(ca_file: Option<&Path>) -> Result<Tls, String> {
        use crate::channels::email::roots;
        let mut trusted = tokio_rustls::rustls::RootCertStore::empty();
        match ca_file {
            Some(ca) => roots::add_ca_file(&mut trusted, ca)?,
            None => {
                trusted.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                trusted.add_parsable_certificates(roots::system());
            }
        }
        Ok(Tls { connector: roots::connector(trusted)? })
    }
}

impl MakeTlsConnect<Socket> for Tls {
    type Stream = TlsStream;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Connect> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        Ok(Connect { connector: self.connector.clone(), name })
    }
}

/// One connection's handshake, to the host it was made for.
pub struct Connect {
    connector: tokio_rustls::TlsConnector,
    name: ServerName<'static>,
}

impl TlsConnect<Socket> for Connect {
    type Stream = TlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move { Ok(TlsStream(Box::new(self.connector.connect(self.name, stream).await?))) })
    }
}

pub struct TlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl AsyncRead for TlsStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl postgres::tls::TlsStream for TlsStream {
    // SCRAM without channel binding, as libpq does unless asked for it.
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}
