//! The certificate the server serves (its validity) and the TLS settings (the pair loads,
//! the key is private, a self-signed certificate is not used for a public name).

use crate::{Finding, Installation, Severity, TlsFiles};
use chrono::{DateTime, Duration, Utc};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// A certificate ending within this many days is a warning (the generated one is renewed at
/// a start within 30 days of its end).
const ENDS_SOON_DAYS: i64 = 30;

pub(crate) fn check(inst: &Installation<'_>) -> Vec<Finding> {
    vec![
        expiry_of(&inst.tls, inst.now),
        settings_of(&inst.tls, inst.public_url),
    ]
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

fn expiry_of(tls: &TlsFiles, now: DateTime<Utc>) -> Finding {
    const CHECK: &str = "tls.certificate";
    let renew = if tls.generated {
        "restart Skjold: a start within 30 days of the end makes a new self-signed certificate (or configure tls_cert and tls_key)"
    } else {
        "install a renewed certificate in tls_cert/tls_key and restart Skjold"
    };
    let (not_before, not_after) =
        match validity(&tls.cert) {
            Ok(v) => v,
            Err(e) => return Finding::new(
                CHECK,
                Severity::Error,
                e,
                "point tls_cert at a readable PEM certificate chain (docs/operator-guide.md#tls)",
            ),
        };
    let day = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    if not_after <= now {
        return Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the certificate {} expired on {}",
                tls.cert.display(),
                day(not_after)
            ),
            renew,
        );
    }
    if not_before > now {
        return Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the certificate {} is not valid before {} (is the clock right?)",
                tls.cert.display(),
                day(not_before)
            ),
            "check the system clock, or install a certificate valid now",
        );
    }
    let left = (not_after - now).num_days();
    if not_after - now < Duration::days(ENDS_SOON_DAYS) {
        return Finding::new(
            CHECK,
            Severity::Warning,
            format!(
                "the certificate {} ends on {} ({left} days left)",
                tls.cert.display(),
                day(not_after)
            ),
            renew,
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "the certificate {} is valid until {} ({left} days)",
            tls.cert.display(),
            day(not_after)
        ),
    )
}

fn settings_of(tls: &TlsFiles, public_url: Option<&str>) -> Finding {
    const CHECK: &str = "tls.settings";
    if let Err(e) = pair_fits(&tls.cert, &tls.key) {
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
        if let Ok(meta) = std::fs::metadata(&tls.key) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Finding::new(
                    CHECK,
                    Severity::Warning,
                    format!(
                        "the TLS private key {} is readable by other accounts (mode {mode:04o})",
                        tls.key.display()
                    ),
                    format!("chmod 600 {}", tls.key.display()),
                );
            }
        }
    }
    if tls.generated {
        if let Some(url) = public_url {
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
            if tls.generated { "self-signed" } else { "configured" }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap() + Duration::days(n)
    }

    /// A self-signed certificate valid from `from` to `to` (days from `day(0)`), and its key.
    fn pair(dir: &Path, name: &str, from: i64, to: i64) -> TlsFiles {
        let odt =
            |t: DateTime<Utc>| time::OffsetDateTime::from_unix_timestamp(t.timestamp()).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap();
        params.not_before = odt(day(from));
        params.not_after = odt(day(to));
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.cert.pem")),
            key: dir.join(format!("{name}.key.pem")),
            generated: false,
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        files
    }

    fn findings(tls: TlsFiles, public_url: Option<&str>) -> Vec<Finding> {
        vec![expiry_of(&tls, day(0)), settings_of(&tls, public_url)]
    }

    #[test]
    fn expiry_is_judged_by_the_certificates_own_dates() {
        let dir = tempfile::tempdir().unwrap();
        let f = findings(pair(dir.path(), "valid", -10, 300), None);
        assert_eq!(f[0].severity, Severity::Ok, "{f:?}");
        assert_eq!(f[1].severity, Severity::Ok, "{f:?}");
        let f = findings(pair(dir.path(), "soon", -300, 10), None);
        assert_eq!(f[0].severity, Severity::Warning, "{f:?}");
        let f = findings(pair(dir.path(), "expired", -300, -1), None);
        assert_eq!(f[0].severity, Severity::Error, "{f:?}");
        assert!(f[0].finding.contains("expired"), "{f:?}");
        let f = findings(pair(dir.path(), "future", 5, 300), None);
        assert_eq!(f[0].severity, Severity::Error, "{f:?}");
    }

    #[test]
    fn a_key_of_another_certificate_or_readable_by_others_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let a = pair(dir.path(), "a", -1, 300);
        let b = pair(dir.path(), "b", -1, 300);
        let crossed = TlsFiles {
            cert: a.cert.clone(),
            key: b.key.clone(),
            generated: false,
        };
        let f = findings(crossed, None);
        assert_eq!(f[1].severity, Severity::Error, "{f:?}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&a.key, std::fs::Permissions::from_mode(0o644)).unwrap();
            let f = findings(a.clone(), None);
            assert_eq!(f[1].severity, Severity::Warning, "{f:?}");
            std::fs::set_permissions(&a.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let generated = TlsFiles {
            generated: true,
            ..a
        };
        let f = findings(generated, Some("https://crm.example.com/"));
        assert_eq!(f[1].severity, Severity::Warning, "{f:?}");
    }
}
