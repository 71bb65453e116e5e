//! Compression and encryption: plaintext → zstd → age (X25519 recipients) → file.
//!
//! Every backup file is a standard age file whose plaintext is a zstd frame, so by hand:
//! `age -d -i key.txt FILE | zstd -d`. The SHA-256 of each ciphertext goes into a manifest,
//! and age authenticates every 64 KiB chunk and the end of the stream, so a flipped byte or
//! a truncated file is found before anything is restored.

use crate::BackupError;
use sha2::{Digest, Sha256};
use std::io::{BufReader, Read, Write};
use std::path::Path;

/// zstd's default level: fast, and a good ratio on JSON text.
const ZSTD_LEVEL: i32 = 3;

/// Counts and hashes what passes through.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W: Write> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.count, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Counts what passes through.
pub struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Sizes and checksum of one encrypted file.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub plaintext_bytes: u64,
    pub size: u64,
    pub sha256: String,
}

/// A writer that compresses and encrypts into `out`. Call [`Sealer::finish`].
pub struct Sealer<W: Write> {
    /// The plaintext is only counted: what is checked on restore is the ciphertext's
    /// checksum (in the manifest) and age's authentication of every chunk.
    inner: Counting<zstd::Encoder<'static, age::stream::StreamWriter<Hashing<W>>>>,
}

impl<W: Write> Sealer<W> {
    /// For payloads of any size; compresses on the caller's thread.
    pub fn new(recipients: &[age::x25519::Recipient], out: W) -> Result<Self, BackupError> {
        Self::with_workers(recipients, out, 0)
    }

    /// For large payloads (a database file): zstd compresses on `workers` threads of its
    /// own while the caller reads and encrypts, which is where most of a snapshot's time
    /// goes. The result is the same standard zstd format; 0 compresses on the caller's
    /// thread (starting threads costs more than it saves on a small payload).
    pub fn with_workers(
        recipients: &[age::x25519::Recipient],
        out: W,
        workers: u32,
    ) -> Result<Self, BackupError> {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| BackupError::Crypto(format!("setting up encryption: {e}")))?;
        let age = encryptor.wrap_output(Hashing::new(out))?;
        let mut zstd = zstd::Encoder::new(age, ZSTD_LEVEL)?;
        if workers > 0 {
            zstd.multithread(workers)?;
        }
        Ok(Self {
            inner: Counting {
                inner: zstd,
                count: 0,
            },
        })
    }

    pub fn finish(self) -> Result<(W, Sealed), BackupError> {
        let Counting {
            inner: zstd,
            count: plaintext_bytes,
        } = self.inner;
        let age = zstd.finish()?;
        let mut hashing = age.finish()?;
        hashing.flush()?;
        let (out, size, sha256) = hashing.finish();
        Ok((
            out,
            Sealed {
                plaintext_bytes,
                size,
                sha256,
            },
        ))
    }
}

impl<W: Write> Write for Sealer<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Compresses and encrypts a small payload in memory.
pub fn seal_bytes(
    recipients: &[age::x25519::Recipient],
    plain: &[u8],
) -> Result<(Vec<u8>, Sealed), BackupError> {
    let mut s = Sealer::new(recipients, Vec::new())?;
    s.write_all(plain)?;
    s.finish()
}

/// The operator's private keys (age X25519 identities, as `age-keygen` writes them), read
/// for a restore or a verify. Never logged, never written anywhere.
pub struct Identities(Vec<age::x25519::Identity>);

impl Identities {
    pub fn from_file(path: &Path) -> Result<Self, BackupError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            BackupError::Crypto(format!("reading the identity file {}: {e}", path.display()))
        })?;
        let mut ids = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            // The key itself is never put into a message.
            let id = line.parse::<age::x25519::Identity>().map_err(|_| {
                BackupError::Crypto(format!(
                    "the identity file {} line {} is not an age X25519 secret key (AGE-SECRET-KEY-1…)",
                    path.display(),
                    i + 1
                ))
            })?;
            ids.push(id);
        }
        if ids.is_empty() {
            return Err(BackupError::Crypto(format!(
                "the identity file {} holds no age key",
                path.display()
            )));
        }
        Ok(Self(ids))
    }

    /// The public keys (`age1…`) of these identities.
    pub fn public_keys(&self) -> Vec<String> {
        self.0.iter().map(|i| i.to_public().to_string()).collect()
    }

    /// For tests and tools that hold a key in memory.
    pub fn from_x25519(id: age::x25519::Identity) -> Self {
        Self(vec![id])
    }

    /// A reader of the plaintext of an encrypted file. Decryption fails (with an error on
    /// read) at the first chunk that does not authenticate, or at a missing end.
    pub fn open<R: Read + Send + 'static>(
        &self,
        input: R,
    ) -> Result<Box<dyn Read + Send>, BackupError> {
        let decryptor = age::Decryptor::new(BufReader::new(input))
            .map_err(|e| BackupError::Damaged(format!("not an age file: {e}")))?;
        let plain = decryptor
            .decrypt(self.0.iter().map(|i| i as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::NoMatchingKeys => BackupError::Crypto(
                    "none of the given keys can decrypt this backup (wrong identity file?)".into(),
                ),
                other => BackupError::Damaged(format!("cannot decrypt: {other}")),
            })?;
        let zstd = zstd::Decoder::new(plain)?;
        Ok(Box::new(zstd))
    }

    /// The whole plaintext of a small encrypted payload.
    pub fn open_bytes(&self, bytes: Vec<u8>) -> Result<Vec<u8>, BackupError> {
        let mut out = Vec::new();
        self.open(std::io::Cursor::new(bytes))?
            .read_to_end(&mut out)
            .map_err(|e| BackupError::Damaged(format!("decrypting: {e}")))?;
        Ok(out)
    }
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// SHA-256 and size of a local file.
pub fn sha256_file(path: &Path) -> Result<(u64, String), BackupError> {
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, hex::encode(h.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage_is_found() {
        let id = age::x25519::Identity::generate();
        let plain = b"Kari Nordmann, kari@example.no, +47 555 00 000\n".repeat(500);
        let (cipher, sealed) = seal_bytes(&[id.to_public()], &plain).unwrap();
        assert_eq!(sealed.size as usize, cipher.len());
        assert_eq!(sealed.sha256, sha256_hex(&cipher));
        assert_eq!(sealed.plaintext_bytes as usize, plain.len());
        assert!(!cipher.windows(13).any(|w| w == b"Kari Nordmann"));
        let ids = Identities::from_x25519(id);
        assert_eq!(ids.open_bytes(cipher.clone()).unwrap(), plain);

        let mut flipped = cipher.clone();
        let i = flipped.len() / 2;
        flipped[i] ^= 1;
        assert!(ids.open_bytes(flipped).is_err());
        let truncated = cipher[..cipher.len() - 20].to_vec();
        assert!(ids.open_bytes(truncated).is_err());

        let other = Identities::from_x25519(age::x25519::Identity::generate());
        let e = other.open_bytes(cipher).unwrap_err().to_string();
        assert!(e.contains("none of the given keys"), "{e}");
    }
}
