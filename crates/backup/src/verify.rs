//! Verification: every file in both destinations read back and checked against its
//! manifest, decrypted to its end, and parsed.

use crate::crypt::{self, Identities};
use crate::dest::Destination;
use crate::manifest::*;
use crate::progress::Progress;
use crate::snapshot::SnapshotReader;
use crate::{BackupError, Backups};
use serde::Serialize;
use skjold_store::{DumpItem, JournalRecord};
use std::collections::BTreeMap;
use std::io::BufRead;

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub checked: u64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Backups {
    /// Reads back every file in both destinations: each data file against its manifest's
    /// size and checksum, then decrypted to its end (age authenticates every chunk) and
    /// parsed; snapshots against their row counts. Needs the operator's private key.
    pub async fn verify(&self, ids: &Identities) -> Result<VerifyReport, BackupError> {
        let mut report = VerifyReport::default();
        for d in &self.dests {
            let listing = match d.list("").await {
                Ok(l) => l.into_iter().collect::<BTreeMap<_, _>>(),
                Err(e) => {
                    report
                        .problems
                        .push(format!("{}: unreachable: {e}", d.name));
                    continue;
                }
            };
            for path in listing.keys() {
                if path.ends_with(".json") {
                    report.checked += 1;
                    if let Err(e) = self.verify_one(d, path, &listing, ids).await {
                        report.problems.push(format!("{}: {path}: {e}", d.name));
                    }
                } else if manifest_path_of(path).is_none_or(|m| !listing.contains_key(&m)) {
                    report.problems.push(format!(
                        "{}: {path}: no manifest (an interrupted write?)",
                        d.name
                    ));
                }
            }
        }
        Ok(report)
    }

    async fn verify_one(
        &self,
        d: &Destination,
        manifest_path: &str,
        listing: &BTreeMap<String, u64>,
        ids: &Identities,
    ) -> Result<(), BackupError> {
        let m: serde_json::Value = serde_json::from_slice(&d.get(manifest_path).await?)
            .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
        let want: Ciphertext = serde_json::from_value(m["ciphertext"].clone())
            .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
        let data_path = data_path_of(manifest_path)
            .filter(|p| listing.contains_key(p))
            .ok_or_else(|| BackupError::Damaged("its data file is missing".into()))?;
        let file = self.work_file()?;
        d.get_to_file(&data_path, file.path(), &|_| {}).await?;
        let (size, sha) = crypt::sha256_file(file.path())?;
        if size != want.size {
            return Err(BackupError::Damaged(format!(
                "{size} bytes, the manifest says {} (truncated?)",
                want.size
            )));
        }
        if sha != want.sha256 {
            return Err(BackupError::Damaged(
                "checksum does not match (altered)".into(),
            ));
        }
        let reader = ids.open(std::fs::File::open(file.path())?)?;
        let reader = std::io::BufReader::new(reader);
        if manifest_path.contains("/snapshots/") {
            let m: SnapshotManifest = serde_json::from_value(m)
                .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
            if m.format == SnapshotFormat::SqliteFile {
                drop(reader);
                let dir = self.work_dir()?;
                let plain = dir.path().join("verify.db");
                self.decrypt_to_file(ids, file.path(), &plain, &Progress::unwatched())
                    .await?;
                return skjold_store::check_sqlite_file(&plain, &m.tables)
                    .await
                    .map_err(|e| BackupError::Damaged(e.to_string()));
            }
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut table = String::new();
            for item in SnapshotReader::new(reader) {
                match item.map_err(|e| BackupError::Damaged(e.to_string()))? {
                    DumpItem::Table { name, .. } => {
                        counts.insert(name.clone(), 0);
                        table = name;
                    }
                    DumpItem::Row(_) => *counts.entry(table.clone()).or_default() += 1,
                }
            }
            if counts != m.tables {
                return Err(BackupError::Damaged(
                    "row counts differ from the manifest".into(),
                ));
            }
        } else if manifest_path.contains("/journal/") {
            let m: SegmentManifest = serde_json::from_value(m)
                .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
            let mut n = 0;
            let mut last = 0;
            for line in reader.lines() {
                let line = line.map_err(|e| BackupError::Damaged(format!("decrypting: {e}")))?;
                let e: JournalRecord = serde_json::from_str(&line)
                    .map_err(|e| BackupError::Damaged(format!("journal entry: {e}")))?;
                n += 1;
                last = e.seq;
            }
            if n != m.count || last != m.last {
                return Err(BackupError::Damaged(
                    "entries differ from the manifest".into(),
                ));
            }
        } else {
            let m: AuditDayManifest = serde_json::from_value(m)
                .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
            let mut h = crypt::Hashing::new(std::io::sink());
            let mut reader = reader;
            std::io::copy(&mut reader, &mut h)
                .map_err(|e| BackupError::Damaged(format!("decrypting: {e}")))?;
            let (_, n, sha) = h.finish();
            if n != m.plaintext_bytes || sha != m.plaintext_sha256 {
                return Err(BackupError::Damaged(
                    "the log file differs from the manifest".into(),
                ));
            }
        }
        Ok(())
    }
}
