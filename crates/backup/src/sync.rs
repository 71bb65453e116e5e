//! Catching up: each destination gets what the other has and it lacks.

use crate::crypt;
use crate::dest::Destination;
use crate::manifest::{manifest_path_of, Ciphertext};
use crate::{BackupError, Backups};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub copied: u64,
    pub bytes: u64,
    pub problems: Vec<String>,
}

impl Backups {
    /// Copies to each destination what the other has and it lacks (a destination that was
    /// down catches up). A data file is copied only when it matches its manifest.
    pub async fn sync(&self) -> Result<SyncReport, BackupError> {
        let mut report = SyncReport::default();
        let mut listings = Vec::new();
        for d in &self.dests {
            listings.push(match d.list("").await {
                Ok(l) => Some(l.into_iter().collect::<BTreeMap<_, _>>()),
                Err(e) => {
                    report.problems.push(e.to_string());
                    None
                }
            });
        }
        for (i, to) in self.dests.iter().enumerate() {
            let j = 1 - i;
            let (Some(have), Some(other)) = (&listings[i], &listings[j]) else {
                continue;
            };
            let from = &self.dests[j];
            // Data before manifests: a manifest appears only once its data is there.
            let mut missing: Vec<&String> =
                other.keys().filter(|p| !have.contains_key(*p)).collect();
            missing.sort_by_key(|p| (p.ends_with(".json"), p.to_string()));
            for path in missing {
                let r = self.copy_one(from, to, path, other).await;
                match r {
                    Ok(bytes) => {
                        report.copied += 1;
                        report.bytes += bytes;
                    }
                    Err(e) => report.problems.push(format!("{path} → {}: {e}", to.name)),
                }
            }
        }
        Ok(report)
    }

    async fn copy_one(
        &self,
        from: &Destination,
        to: &Destination,
        path: &str,
        from_listing: &BTreeMap<String, u64>,
    ) -> Result<u64, BackupError> {
        if path.ends_with(".json") {
            let bytes = from.get(path).await?;
            let n = bytes.len() as u64;
            to.put(path, bytes).await?;
            return Ok(n);
        }
        // A data file: check it against its manifest in the source first.
        let manifest_path = manifest_path_of(path)
            .filter(|m| from_listing.contains_key(m))
            .ok_or_else(|| BackupError::Damaged(format!("{path} has no manifest beside it")))?;
        let m: serde_json::Value = serde_json::from_slice(&from.get(&manifest_path).await?)
            .map_err(|e| BackupError::Damaged(format!("{manifest_path}: {e}")))?;
        let want: Ciphertext = serde_json::from_value(m["ciphertext"].clone())
            .map_err(|e| BackupError::Damaged(format!("{manifest_path}: {e}")))?;
        let file = self.work_file()?;
        from.get_to_file(path, file.path(), &|_| {}).await?;
        let (size, sha) = crypt::sha256_file(file.path())?;
        if size != want.size || sha != want.sha256 {
            return Err(BackupError::Damaged(format!(
                "{path} in {} does not match its manifest; not copied",
                from.name
            )));
        }
        to.put_file(path, file.path()).await?;
        Ok(size)
    }
}
