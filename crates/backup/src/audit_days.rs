//! The audit log's closed days, sealed and written to both destinations, and fetched back.

use crate::crypt::{self, Identities};
use crate::manifest::{audit_paths, AuditDayManifest, Ciphertext, FORMAT_VERSION};
use crate::mirror::Payload;
use crate::{BackupError, Backups};
use skjold_domain::clock::format_timestamp;

impl Backups {
    /// Backs up each chain's closed (sealed) audit-log days that are not in the
    /// destinations yet. Returns how many were written.
    pub async fn backup_audit_days(&self) -> Result<u64, BackupError> {
        let root = skjold_audit::logs_root(&self.data_dir);
        let today = self.now().format("%Y-%m-%d").to_string();
        let have = self.list_union("audit/").await?;
        let mut written = 0;
        let chains = match std::fs::read_dir(&root) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        for chain in chains {
            let chain = chain?;
            if !chain.file_type()?.is_dir() {
                continue;
            }
            let name = chain.file_name().to_string_lossy().to_string();
            for file in skjold_audit::day_files(&chain.path())? {
                let day = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                if day >= today {
                    continue;
                }
                let (data_path, manifest_path) = audit_paths(&name, &day);
                if have.contains(&manifest_path) {
                    continue;
                }
                let plain = std::fs::read(&file)?;
                if !is_sealed(&plain) {
                    continue;
                }
                let (cipher, sealed) = crypt::seal_bytes(&self.config.recipients, &plain)?;
                let manifest = AuditDayManifest {
                    format_version: FORMAT_VERSION,
                    chain: name.clone(),
                    day: day.clone(),
                    backed_up_at: format_timestamp(self.now()),
                    plaintext_bytes: plain.len() as u64,
                    plaintext_sha256: crypt::sha256_hex(&plain),
                    ciphertext: Ciphertext {
                        size: sealed.size,
                        sha256: sealed.sha256,
                    },
                };
                let body = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
                self.put_everywhere(&data_path, Payload::Bytes(&cipher), &manifest_path, &body)
                    .await?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Restores an audit-log day file from the backups, decrypted, into `out`.
    pub async fn fetch_audit_day(
        &self,
        chain: &str,
        day: &str,
        ids: &Identities,
    ) -> Result<Vec<u8>, BackupError> {
        let (data_path, manifest_path) = audit_paths(chain, day);
        let m: AuditDayManifest = self.read_manifest(&manifest_path).await?;
        let cipher = self.fetch_verified(&data_path, &m.ciphertext).await?;
        let plain = ids.open_bytes(cipher)?;
        if crypt::sha256_hex(&plain) != m.plaintext_sha256 {
            return Err(BackupError::Damaged(format!(
                "{data_path}: decrypted log differs from its manifest"
            )));
        }
        Ok(plain)
    }
}

fn is_sealed(plain: &[u8]) -> bool {
    let text = String::from_utf8_lossy(plain);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .is_some_and(|v| v.get("seal").is_some())
}
