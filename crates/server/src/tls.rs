//! TLS: the operator's certificate, or a self-signed one made on first start.
//!
//! Only TLS 1.3 and 1.2 are offered, with ring's cipher suites (all AEAD with forward
//! secrecy), in the server's order of preference; ALPN offers HTTP/2 and HTTP/1.1.
//!
//! The self-signed certificate is valid for [`SELF_SIGNED_DAYS`] days and replaced at a
//! start within [`RENEW_BEFORE_DAYS`] days of its end (its end is kept beside it in
//! `tls/not-after`): a certificate valid for decades is what scanners rightly flag.

use chrono::{DateTime, Duration, Utc};
use rustls::crypto::ring;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{0} holds no PEM certificate")]
    NoCertificate(PathBuf),
    #[error("{0} holds no PEM private key")]
    NoKey(PathBuf),
    #[error("the certificate and key do not fit together: {0}")]
    Rustls(#[from] rustls::Error),
    #[error("generating a self-signed certificate: {0}")]
    Generate(String),
}

/// Where the self-signed pair lives inside the data dir.
pub fn self_signed_paths(data_dir: &Path) -> (PathBuf, PathBuf) {
    let dir = data_dir.join("tls");
    (dir.join("cert.pem"), dir.join("key.pem"))
}

/// How long a generated certificate is valid (browsers refuse more than 398 days).
pub const SELF_SIGNED_DAYS: i64 = 365;
/// A start this close to the end of the generated certificate replaces it.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// Makes a certificate for `localhost`, `127.0.0.1` and `::1` unless a generated one that is
/// valid for more than [`RENEW_BEFORE_DAYS`] days after `now` is already in the data dir.
pub fn ensure_self_signed(
    data_dir: &Path,
    now: DateTime<Utc>,
) -> Result<(PathBuf, PathBuf), TlsError> {
    let (cert_path, key_path) = self_signed_paths(data_dir);
    let not_after_path = cert_path.with_file_name("not-after");
    if cert_path.is_file() && key_path.is_file() {
        let end = std::fs::read_to_string(&not_after_path)
            .ok()
            .and_then(|s| skjold_domain::clock::parse_timestamp(s.trim()));
        match end {
            Some(end) if end - now > Duration::days(RENEW_BEFORE_DAYS) => {
                return Ok((cert_path, key_path))
            }
            Some(end) => tracing::info!(
                not_after = %skjold_domain::clock::format_timestamp(end),
                "replacing the self-signed certificate, which ends soon"
            ),
            None => tracing::info!(
                "replacing a self-signed certificate of unknown lifetime (made before {} had one)",
                not_after_path.display()
            ),
        }
    }
    let gen = |e: &dyn std::fmt::Display| TlsError::Generate(e.to_string());
    let not_after = now + Duration::days(SELF_SIGNED_DAYS);
    let odt = |t: DateTime<Utc>| {
        time::OffsetDateTime::from_unix_timestamp(t.timestamp()).map_err(|e| gen(&e))
    };
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into(), "::1".into()])
            .map_err(|e| gen(&e))?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Skjold self-signed");
    // A day of slack for clients whose clocks run behind.
    params.not_before = odt(now - Duration::days(1))?;
    params.not_after = odt(not_after)?;
    let key_pair = rcgen::KeyPair::generate().map_err(|e| gen(&e))?;
    let cert = params.self_signed(&key_pair).map_err(|e| gen(&e))?;
    let dir = cert_path.parent().unwrap_or(data_dir);
    std::fs::create_dir_all(dir).map_err(|e| gen(&e))?;
    write_private(&key_path, key_pair.serialize_pem().as_bytes()).map_err(|e| gen(&e))?;
    std::fs::write(&cert_path, cert.pem()).map_err(|e| gen(&e))?;
    std::fs::write(
        &not_after_path,
        skjold_domain::clock::format_timestamp(not_after),
    )
    .map_err(|e| gen(&e))?;
    Ok((cert_path, key_path))
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

pub fn server_config(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |p: &Path| {
        std::fs::read(p).map_err(|source| TlsError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let cert_pem = read(cert_path)?;
    let key_pem = read(key_path)?;
    // PEM through rustls' own types (rustls-pemfile is unmaintained, RUSTSEC-2025-0134).
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::Read {
            path: cert_path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate(cert_path.to_path_buf()));
    }
    let key: PrivateKeyDer<'static> = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(key) => key,
        Err(rustls::pki_types::pem::Error::NoItemsFound) => {
            return Err(TlsError::NoKey(key_path.to_path_buf()))
        }
        Err(e) => {
            return Err(TlsError::Read {
                path: key_path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()),
            })
        }
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The server picks the cipher suite by its own order (strongest first), not the
    // client's, so a client that prefers a weaker suite does not get it.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + Duration::days(n)
    }

    #[test]
    fn the_generated_certificate_is_short_lived_and_renewed_before_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = ensure_self_signed(dir.path(), day(0)).unwrap();
        let first = std::fs::read(&cert).unwrap();
        let end = std::fs::read_to_string(dir.path().join("tls/not-after")).unwrap();
        assert_eq!(
            skjold_domain::clock::parse_timestamp(&end),
            Some(day(SELF_SIGNED_DAYS))
        );
        // Well before its end: kept.
        ensure_self_signed(dir.path(), day(SELF_SIGNED_DAYS - RENEW_BEFORE_DAYS - 1)).unwrap();
        assert_eq!(std::fs::read(&cert).unwrap(), first);
        // Within the renewal window: replaced, with a new end.
        ensure_self_signed(dir.path(), day(SELF_SIGNED_DAYS - RENEW_BEFORE_DAYS + 1)).unwrap();
        assert_ne!(std::fs::read(&cert).unwrap(), first);
        let end = std::fs::read_to_string(dir.path().join("tls/not-after")).unwrap();
        assert_eq!(
            skjold_domain::clock::parse_timestamp(&end),
            Some(day(2 * SELF_SIGNED_DAYS - RENEW_BEFORE_DAYS + 1))
        );
    }

    #[test]
    fn a_certificate_without_a_known_end_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = ensure_self_signed(dir.path(), day(0)).unwrap();
        let first = std::fs::read(&cert).unwrap();
        std::fs::remove_file(dir.path().join("tls/not-after")).unwrap();
        ensure_self_signed(dir.path(), day(1)).unwrap();
        assert_ne!(std::fs::read(&cert).unwrap(), first);
    }

    #[test]
    fn the_server_chooses_the_cipher_suite() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = ensure_self_signed(dir.path(), day(0)).unwrap();
        let config = server_config(&cert, &key).unwrap();
        assert!(config.ignore_client_order);
    }
}
