//! The two destinations as one: every file is written to both (it counts as written when
//! one took it), and read from the first whose copy is good.

use crate::crypt;
use crate::manifest::Ciphertext;
use crate::progress::Progress;
use crate::{BackupError, Backups};
use std::collections::BTreeSet;
use std::path::Path;

impl Backups {
    /// Writes a data file and then its manifest to every destination. Succeeds when at
    /// least one destination took both; one that did not is caught up by [`Self::sync`].
    pub(crate) async fn put_everywhere(
        &self,
        data_path: &str,
        data: Payload<'_>,
        manifest_path: &str,
        manifest: &[u8],
    ) -> Result<Vec<String>, BackupError> {
        // The destinations are written side by side: independent places (often on
        // different disks or networks), so a backup takes as long as the slower of them,
        // not their sum.
        let results = futures_util::future::join_all(self.dests.iter().map(|d| {
            let data = &data;
            async move {
                match data {
                    Payload::Bytes(b) => d.put(data_path, b.to_vec()).await?,
                    Payload::File(p) => d.put_file(data_path, p).await?,
                }
                d.put(manifest_path, manifest.to_vec()).await
            }
        }))
        .await;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (d, r) in self.dests.iter().zip(results) {
            match r {
                Ok(()) => ok.push(d.name.clone()),
                Err(e) => {
                    tracing::warn!(destination = %d.name, error = %e, "backup destination missed a file; it is caught up later");
                    failed.push(e.to_string());
                }
            }
        }
        if ok.is_empty() {
            return Err(BackupError::Destination(format!(
                "no destination took {data_path}: {}",
                failed.join("; ")
            )));
        }
        Ok(ok)
    }

    /// Reads a manifest from the first destination that has a readable one.
    pub(crate) async fn read_manifest<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, BackupError> {
        let mut problems = Vec::new();
        for d in &self.dests {
            match d.get(path).await {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(m) => return Ok(m),
                    Err(e) => problems.push(format!("{}: unreadable ({e})", d.name)),
                },
                Err(e) => problems.push(e.to_string()),
            }
        }
        Err(BackupError::Damaged(format!(
            "manifest {path}: {}",
            problems.join("; ")
        )))
    }

    /// The ciphertext of `path` from the first destination whose copy matches the checksum,
    /// into memory.
    pub(crate) async fn fetch_verified(
        &self,
        path: &str,
        want: &Ciphertext,
    ) -> Result<Vec<u8>, BackupError> {
        let mut problems = Vec::new();
        for d in &self.dests {
            match d.get(path).await {
                Ok(bytes) => {
                    if bytes.len() as u64 != want.size {
                        problems.push(format!(
                            "{}: {} bytes, the manifest says {} (truncated?)",
                            d.name,
                            bytes.len(),
                            want.size
                        ));
                    } else if crypt::sha256_hex(&bytes) != want.sha256 {
                        problems.push(format!("{}: checksum does not match (altered)", d.name));
                    } else {
                        return Ok(bytes);
                    }
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        for p in &problems {
            tracing::warn!(file = path, problem = %p, "backup copy unusable");
        }
        Err(BackupError::Damaged(format!(
            "{path}: no good copy in any destination ({})",
            problems.join("; ")
        )))
    }

    /// Like [`Self::fetch_verified`], into a local file; bytes fetched go to `progress`.
    pub(crate) async fn fetch_verified_file(
        &self,
        path: &str,
        want: &Ciphertext,
        progress: &Progress,
    ) -> Result<tempfile::NamedTempFile, BackupError> {
        let mut problems = Vec::new();
        for d in &self.dests {
            let file = self.work_file()?;
            match d
                .get_to_file(path, file.path(), &|n| progress.done(n))
                .await
            {
                Ok(_) => {
                    let (size, sha) = crypt::sha256_file(file.path())?;
                    if size != want.size {
                        problems.push(format!(
                            "{}: {size} bytes, the manifest says {} (truncated?)",
                            d.name, want.size
                        ));
                    } else if sha != want.sha256 {
                        problems.push(format!("{}: checksum does not match (altered)", d.name));
                    } else {
                        return Ok(file);
                    }
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        for p in &problems {
            tracing::warn!(file = path, problem = %p, "backup copy unusable");
        }
        Err(BackupError::Damaged(format!(
            "{path}: no good copy in any destination ({})",
            problems.join("; ")
        )))
    }

    /// Every path under `prefix` in any destination.
    pub(crate) async fn list_union(&self, prefix: &str) -> Result<BTreeSet<String>, BackupError> {
        let mut all = BTreeSet::new();
        let mut reached = 0;
        let mut errors = Vec::new();
        for d in &self.dests {
            match d.list(prefix).await {
                Ok(files) => {
                    reached += 1;
                    all.extend(files.into_iter().map(|(p, _)| p));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if reached == 0 {
            return Err(BackupError::Destination(errors.join("; ")));
        }
        Ok(all)
    }
}

pub(crate) enum Payload<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}
