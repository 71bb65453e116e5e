//! Secrets the installation keeps for tenants (an identity provider's client secret), sealed
//! with a key of the installation: XChaCha20-Poly1305 under a 256-bit key kept in
//! `data_dir/secrets.key` (made at the first start, mode 0600, never logged).
//!
//! A sealed value is bound to what it belongs to (the tenant, the table, the row): the
//! bytes copied into another row, or another tenant, do not open. The database alone — a
//! stolen copy, a backup — never holds such a secret readable; the key file must be kept
//! with the data directory (and copied off the server like the backup identity).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "secrets.key";

/// The prefix of a sealed value: the format's version.
const V1: &str = "v1:";

/// Why a secret could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("{path}: {message}")]
    KeyFile { path: PathBuf, message: String },
    /// The sealed value is damaged, or was sealed by another installation's key or for
    /// another place.
    #[error("the stored secret cannot be opened with this installation's key (sealed elsewhere, or damaged): set it again")]
    Unopenable,
}

/// The installation's key for sealing secrets.
pub struct SecretsKey {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretsKey(***)")
    }
}

impl SecretsKey {
    /// The key in `data_dir/secrets.key`, made there if there is none yet. The file is
    /// written privately beside its place, synced, and linked in only if no file of that
    /// name exists, so a crash leaves no file or a whole one and two starts keep the first.
    pub fn load_or_create(data_dir: &Path) -> Result<Self, SealError> {
        let path = data_dir.join(KEY_FILE);
        let fail = |message: String| SealError::KeyFile {
            path: path.clone(),
            message,
        };
        if !path.exists() {
            let mut key = [0u8; 32];
            rand::rngs::OsRng.fill_bytes(&mut key);
            let tmp = data_dir.join(format!(
                ".{KEY_FILE}.{}.tmp",
                hex::encode(&key[..4]) // a name of its own per attempt, not a secret
            ));
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
            let write = || -> std::io::Result<()> {
                let mut f = opts.open(&tmp)?;
                writeln!(f, "{}", hex::encode(key))?;
                f.sync_all()?;
                match std::fs::hard_link(&tmp, &path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
                    Err(e) => Err(e),
                }
            };
            let written = write();
            let _ = std::fs::remove_file(&tmp);
            written.map_err(|e| fail(format!("cannot write the secrets key: {e}")))?;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| fail(format!("cannot read the secrets key: {e}")))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == 32)
            .ok_or_else(|| fail("not a secrets key (64 hexadecimal digits)".into()))?;
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(bytes)),
        }
    }

    /// A key for tests, from fixed bytes.
    pub fn for_tests(byte: u8) -> Self {
        Self::from_bytes(&[byte; 32])
    }

    /// Seals `secret` for `place` (e.g. `identity_provider:<tenant>:<id>`).
    pub fn seal(&self, place: &str, secret: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: place.as_bytes(),
                },
            )
            // Encryption fails only for messages beyond 256 GiB.
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{V1}{}", hex::encode(out))
    }

    /// Opens a value [`SecretsKey::seal`] made for the same `place`.
    pub fn open(&self, place: &str, sealed: &str) -> Result<String, SealError> {
        let bytes = sealed
            .strip_prefix(V1)
            .and_then(|h| hex::decode(h).ok())
            .filter(|b| b.len() > 24)
            .ok_or(SealError::Unopenable)?;
        let (nonce, body) = bytes.split_at(24);
        let plain = self
            .cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: place.as_bytes(),
                },
            )
            .map_err(|_| SealError::Unopenable)?;
        String::from_utf8(plain).map_err(|_| SealError::Unopenable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_in_its_place_and_with_its_key() {
        let key = SecretsKey::for_tests(7);
        let sealed = key.seal("idp:acme:1", "s3cret");
        assert!(!sealed.contains("s3cret"));
        assert_eq!(key.open("idp:acme:1", &sealed).unwrap(), "s3cret");
        assert!(key.open("idp:beta:1", &sealed).is_err());
        assert!(SecretsKey::for_tests(8)
            .open("idp:acme:1", &sealed)
            .is_err());
        let mut damaged = sealed.clone();
        damaged.pop();
        damaged.push('0');
        assert!(key.open("idp:acme:1", &damaged).is_err() || damaged == sealed);
        assert!(key.open("idp:acme:1", "plain").is_err());
        // A fresh nonce each time.
        assert_ne!(key.seal("p", "x"), key.seal("p", "x"));
    }

    #[test]
    fn the_key_file_is_made_once_and_kept() {
        let dir = tempfile_dir();
        let a = SecretsKey::load_or_create(&dir).unwrap();
        let sealed = a.seal("p", "x");
        let b = SecretsKey::load_or_create(&dir).unwrap();
        assert_eq!(b.open("p", &sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(dir.join(KEY_FILE), "nonsense").unwrap();
        assert!(matches!(
            SecretsKey::load_or_create(&dir),
            Err(SealError::KeyFile { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let mut n = [0u8; 8];
        rand::rngs::OsRng.fill_bytes(&mut n);
        let dir = std::env::temp_dir().join(format!("skjold-sealed-{}", hex::encode(n)));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
