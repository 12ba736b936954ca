//! Which certificate authorities a mail server's certificate may chain to:
//! the machine's own bundle (where an office installs its private CA), the
//! Mozilla roots compiled in (a machine without a bundle still connects), and
//! the account's `ca_file`. Never fewer: there is no setting that turns the
//! check off outside `insecure` plaintext on loopback.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use std::path::{Path, PathBuf};

/// The system bundle: `SSL_CERT_FILE` when set, else the first of the
/// well-known places (Debian/Ubuntu, Fedora/RHEL, Alpine/macOS/BSD).
fn system_bundle() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from).filter(|p| p.is_file()) {
        return Some(p);
    }
    ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

/// The certificates of a PEM file; a file that cannot be read is an error
/// that names it (a mistyped `ca_file` must not pass as "no extra CA").
pub fn pem_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> =
        CertificateDer::pem_file_iter(path).map_err(|e| format!("ca_file {}: {e}", path.display()))?.collect();
    let certs = certs.map_err(|e| format!("ca_file {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("ca_file {}: no certificate in it", path.display()));
    }
    Ok(certs)
}

/// The machine's roots that can anchor a chain; none when it has no bundle
/// (the compiled-in roots remain). One odd certificate in a bundle must not
/// stop every connection, so each is tried alone.
pub fn system() -> Vec<CertificateDer<'static>> {
    let Some(certs) = system_bundle().and_then(|p| CertificateDer::pem_file_iter(p).ok()) else {
        return Vec::new();
    };
    certs
        .filter_map(Result::ok)
        .filter(|c| tokio_rustls::rustls::RootCertStore::empty().add(c.clone()).is_ok())
        .collect()
}

/// Adds the certificates of `ca_file` to `roots` (an error names the file).
pub fn add_ca_file(roots: &mut tokio_rustls::rustls::RootCertStore, ca: &Path) -> Result<(), String> {
    for cert in pem_file(ca)? {
        roots.add(cert).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
    }
    Ok(())
}

/// A TLS client that trusts `roots`, with ring and the safe protocol
/// versions (mail's servers and PostgreSQL's alike).
pub fn connector(roots: tokio_rustls::rustls::RootCertStore) -> Result<tokio_rustls::TlsConnector, String> {
    let provider = std::sync::Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_ca_file_that_is_not_one_is_named() {
        let dir = tempfile::tempdir().expect("tmp");
        let empty = dir.path().join("ca.pem");
        std::fs::write(&empty, "not a certificate\n").expect("write");
        let e = super::pem_file(&empty).expect_err("refused");
        assert!(e.contains("ca.pem") && e.contains("no certificate"), "{e}");
        let e = super::pem_file(&dir.path().join("missing.pem")).expect_err("refused");
        assert!(e.contains("missing.pem"), "{e}");
    }

    #[test]
    fn the_machine_bundle_is_read_where_there_is_one() {
        if std::path::Path::new("/etc/ssl/certs/ca-certificates.crt").is_file() {
            assert!(super::system().len() > 10);
        }
    }
}
