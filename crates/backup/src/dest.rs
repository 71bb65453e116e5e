//! Backup destinations: any OpenDAL backend (a local directory, S3, Azure Blob).
//!
//! Objects are written whole (a local directory writes through a temporary file and a
//! rename), data files before the manifest that describes them, so a manifest that can be
//! read names a data file that was completely written.

use crate::config::DestinationSettings;
use crate::BackupError;
use opendal::{services, ErrorKind, Operator};
use secrecy::ExposeSecret;
use std::path::Path;

/// The size of the pieces a large file is written and read in.
const CHUNK: u64 = 8 * 1024 * 1024;

#[derive(Clone)]
pub struct Destination {
    pub name: String,
    /// Where it is, for people (never a secret).
    pub describe: String,
    op: Operator,
}

impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Destination({}: {})", self.name, self.describe)
    }
}

fn secret(
    key: &str,
    inline: &Option<secrecy::SecretString>,
    file: &Option<std::path::PathBuf>,
) -> Result<Option<String>, BackupError> {
    match (inline, file) {
        (Some(_), Some(_)) => Err(BackupError::Config(format!(
            "backup.destinations.{key}: set {key} or {key}_file, not both"
        ))),
        (Some(s), None) => Ok(Some(s.expose_secret().to_string())),
        (None, Some(f)) => std::fs::read_to_string(f)
            .map(|s| Some(s.trim().to_string()))
            .map_err(|e| {
                BackupError::Config(format!(
                    "backup.destinations.{key}_file: {}: {e}",
                    f.display()
                ))
            }),
        (None, None) => Ok(None),
    }
}

fn need<'a>(v: &'a Option<String>, key: &str, kind: &str) -> Result<&'a str, BackupError> {
    v.as_deref()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            BackupError::Config(format!(
                "backup.destinations.{key}: a {kind} destination needs {key}"
            ))
        })
}

/// Installs the HTTP transport that OpenDAL's S3 and Azure Blob services send their requests
/// through (OpenDAL 0.59 has none until one is installed: every request would fail with
/// "default HTTP transport is not installed"): one reqwest client for the whole process,
/// built on its first request. reqwest is built without a TLS crypto provider of its own
/// (its default would bring a second one, aws-lc, beside the server's ring), so ring is made
/// the process's default provider first. Both calls do nothing after the first time.
fn http_transport() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    opendal_http_transport_reqwest::install_default();
}

impl Destination {
    pub fn open(s: &DestinationSettings) -> Result<Self, BackupError> {
        let bad = |e: opendal::Error| {
            BackupError::Config(format!("backup.destinations ({}): {e}", s.name))
        };
        let (op, describe) = match s.kind.as_str() {
            "fs" => {
                let root = need(&s.root, "root", "fs")?;
                if !Path::new(root).is_absolute() {
                    return Err(BackupError::Config(format!(
                        "backup.destinations.root: '{root}' must be an absolute path"
                    )));
                }
                let tmp = Path::new(root).join(".incoming");
                let b = services::Fs::default()
                    .root(root)
                    .atomic_write_dir(&tmp.display().to_string());
                (Operator::new(b).map_err(bad)?, format!("fs:{root}"))
            }
            "s3" => {
                http_transport();
                let bucket = need(&s.bucket, "bucket", "s3")?;
                let mut b = services::S3::default()
                    .bucket(bucket)
                    .region(s.region.as_deref().unwrap_or("us-east-1"))
                    .root(s.root.as_deref().unwrap_or("/"))
                    .disable_config_load()
                    .disable_ec2_metadata();
                if let Some(e) = &s.endpoint {
                    b = b.endpoint(e);
                }
                if let Some(k) = &s.access_key_id {
                    b = b.access_key_id(k);
                }
                if let Some(k) = secret(
                    "secret_access_key",
                    &s.secret_access_key,
                    &s.secret_access_key_file,
                )? {
                    b = b.secret_access_key(&k);
                }
                let describe = format!(
                    "s3:{}/{bucket}{}",
                    s.endpoint.as_deref().unwrap_or("aws"),
                    s.root.as_deref().unwrap_or("")
                );
                (Operator::new(b).map_err(bad)?, describe)
            }
            "azblob" => {
                http_transport();
                let container = need(&s.container, "container", "azblob")?;
                let endpoint = need(&s.endpoint, "endpoint", "azblob")?;
                let mut b = services::Azblob::default()
                    .container(container)
                    .endpoint(endpoint)
                    .root(s.root.as_deref().unwrap_or("/"));
                if let Some(n) = &s.account_name {
                    b = b.account_name(n);
                }
                if let Some(k) = secret("account_key", &s.account_key, &s.account_key_file)? {
                    b = b.account_key(&k);
                }
                let describe = format!("azblob:{endpoint}/{container}");
                (Operator::new(b).map_err(bad)?, describe)
            }
            other => {
                return Err(BackupError::Config(format!(
                    "backup.destinations.kind: '{other}' is not fs, s3 or azblob"
                )))
            }
        };
        Ok(Self {
            name: s.name.clone(),
            describe,
            op,
        })
    }

    fn err(&self, what: &str, path: &str, e: opendal::Error) -> BackupError {
        if e.kind() == ErrorKind::NotFound {
            BackupError::Missing(format!("{}: {path}", self.name))
        } else {
            BackupError::Destination(format!("{} ({what} {path}): {e}", self.name))
        }
    }

    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.op
            .write(path, bytes)
            .await
            .map_err(|e| self.err("writing", path, e))?;
        Ok(())
    }

    /// Writes a local file to `path`, in pieces.
    pub async fn put_file(&self, path: &str, file: &Path) -> Result<(), BackupError> {
        use tokio::io::AsyncReadExt;
        let mut f = tokio::fs::File::open(file).await?;
        let mut w = self
            .op
            .writer_with(path)
            .chunk(CHUNK as usize)
            .await
            .map_err(|e| self.err("writing", path, e))?;
        let mut buf = vec![0u8; CHUNK as usize];
        loop {
            let n = f.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            w.write(buf[..n].to_vec())
                .await
                .map_err(|e| self.err("writing", path, e))?;
        }
        w.close().await.map_err(|e| self.err("writing", path, e))?;
        Ok(())
    }

    pub async fn get(&self, path: &str) -> Result<Vec<u8>, BackupError> {
        Ok(self
            .op
            .read(path)
            .await
            .map_err(|e| self.err("reading", path, e))?
            .to_vec())
    }

    /// Copies `path` into a local file, in pieces; returns its size. `fetched` is told the
    /// running total of bytes.
    pub async fn get_to_file(
        &self,
        path: &str,
        file: &Path,
        fetched: &(dyn Fn(u64) + Sync),
    ) -> Result<u64, BackupError> {
        use tokio::io::AsyncWriteExt;
        let size = self
            .op
            .stat(path)
            .await
            .map_err(|e| self.err("reading", path, e))?
            .content_length();
        let reader = self
            .op
            .reader(path)
            .await
            .map_err(|e| self.err("reading", path, e))?;
        let mut out = tokio::fs::File::create(file).await?;
        let mut at = 0;
        while at < size {
            let end = (at + CHUNK).min(size);
            let piece = reader
                .read(at..end)
                .await
                .map_err(|e| self.err("reading", path, e))?;
            if piece.is_empty() {
                break;
            }
            out.write_all(&piece.to_vec()).await?;
            at += piece.len() as u64;
            fetched(at);
        }
        out.flush().await?;
        Ok(at)
    }

    /// Every file under `prefix` (which ends with '/'), with its size.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>, BackupError> {
        let entries = match self.op.list_with(prefix).recursive(true).await {
            Ok(e) => e,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.err("listing", prefix, e)),
        };
        let mut out: Vec<(String, u64)> = Vec::new();
        for e in entries {
            if !e.metadata().is_file() || e.path().contains(".incoming/") {
                continue;
            }
            let mut size = e.metadata().content_length();
            if size == 0 {
                // A local directory's listing carries no sizes; ask for each file.
                size = self
                    .op
                    .stat(e.path())
                    .await
                    .map_err(|err| self.err("listing", e.path(), err))?
                    .content_length();
            }
            out.push((e.path().to_string(), size));
        }
        out.sort();
        Ok(out)
    }

    pub async fn delete(&self, path: &str) -> Result<(), BackupError> {
        match self.op.delete(path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(self.err("deleting", path, e)),
        }
    }
}
