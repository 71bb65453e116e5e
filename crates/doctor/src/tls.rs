//! The certificate the server serves (its validity) and the TLS settings (the pair loads,
//! the key is private, a self-signed certificate is not used for a public name).

use crate::{Finding, Installation, Severity};
use chrono::{DateTime, Duration, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// A certificate ending within this many days is a warning (the generated one is renewed at
/// a start within 30 days of its end).
const ENDS_SOON_DAYS: i64 = 30;

pub(crate) fn check(inst: &Installation<'_>) -> Vec<Finding> {
    vec![expiry(inst), settings(inst)]
}

/// The validity period of the first certificate in a PEM file.
pub(crate) fn validity(path: &Path) -> Result<(DateTime<Utc>, DateTime<Utc>), String> {
    let pem = std::fs::read(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let (_, pem) = x509_parser::pem::parse_x509_pem(&pem)
        .map_err(|e| format!("{} holds no PEM certificate: {e}", path.display()))?;
    let cert = pem
        .parse_x509()
        .map_err(|e| format!("{}: not an X.509 certificate: {e}", path.display()))?;
    let at = |t: x509_parser::time::ASN1Time| {
        DateTime::from_timestamp(t.timestamp(), 0)
            .ok_or_else(|| format!("{}: a date out of range", path.display()))
    };
    Ok((
        at(cert.validity().not_before)?,
        at(cert.validity().not_after)?,
    ))
}

fn expiry(inst: &Installation<'_>) -> Finding {
    const CHECK: &str = "tls.certificate";
    let renew = if inst.tls.generated {
        "restart Skjold: a start within 30 days of the end makes a new self-signed certificate (or configure tls_cert and tls_key)"
    } else {
        "install a renewed certificate in tls_cert/tls_key and restart Skjold"
    };
    let (not_before, not_after) =
        match validity(&inst.tls.cert) {
            Ok(v) => v,
            Err(e) => return Finding::new(
                CHECK,
                Severity::Error,
                e,
                "point tls_cert at a readable PEM certificate chain (docs/operator-guide.md#tls)",
            ),
        };
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    if not_after <= inst.now {
        return Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the certificate {} expired on {}",
                inst.tls.cert.display(),
                day(not_after)
            ),
            renew,
        );
    }
    if not_before > inst.now {
        return Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the certificate {} is not valid before {} (is the clock right?)",
                inst.tls.cert.display(),
                day(not_before)
            ),
            "check the system clock, or install a certificate valid now",
        );
    }
    let left = (not_after - inst.now).num_days();
    if not_after - inst.now < Duration::days(ENDS_SOON_DAYS) {
        return Finding::new(
            CHECK,
            Severity::Warning,
            format!(
                "the certificate {} ends on {} ({left} days left)",
                inst.tls.cert.display(),
                day(not_after)
            ),
            renew,
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "the certificate {} is valid until {} ({left} days)",
            inst.tls.cert.display(),
            day(not_after)
        ),
    )
}

fn settings(inst: &Installation<'_>) -> Finding {
    const CHECK: &str = "tls.settings";
    if let Err(e) = pair_fits(&inst.tls.cert, &inst.tls.key) {
        return Finding::new(
            CHECK,
            Severity::Error,
            e,
            "set tls_cert and tls_key to a certificate chain and its own private key (PEM)",
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&inst.tls.key) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Finding::new(
                    CHECK,
                    Severity::Warning,
                    format!(
                        "the TLS private key {} is readable by other accounts (mode {mode:04o})",
                        inst.tls.key.display()
                    ),
                    format!("chmod 600 {}", inst.tls.key.display()),
                );
            }
        }
    }
    if inst.tls.generated {
        if let Some(url) = inst.public_url {
            return Finding::new(
                CHECK,
                Severity::Warning,
                format!("public_url is {url}, but the server serves its self-signed certificate (valid for localhost only)"),
                "configure tls_cert and tls_key with a certificate for that name (docs/operator-guide.md#tls)",
            );
        }
    }
    Finding::ok(
        CHECK,
        format!(
            "TLS 1.3 and 1.2 only, AEAD suites with forward secrecy, HSTS for two years; the {} certificate and its key fit",
            if inst.tls.generated { "self-signed" } else { "configured" }
        ),
    )
}

/// The chain and the key load, and the key is the certificate's.
fn pair_fits(cert: &Path, key: &Path) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let (cert_pem, key_pem) = (read(cert)?, read(key)?);
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!("{} holds no PEM certificate", cert.display()));
    }
    let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("{} holds no usable PEM private key: {e}", key.display()))?;
    rustls::sign::CertifiedKey::from_der(chain, key_der, &rustls::crypto::ring::default_provider())
        .map_err(|e| format!("the certificate and key do not fit together: {e}"))?;
    Ok(())
}
