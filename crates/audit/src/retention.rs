//! Retention: whole closed days older than the retention period leave the chain. First an
//! anchor record (`audit.purged`) is appended, naming the last record that goes and its
//! hash; then the rows and the day files go. Verification starts from the newest anchor, so
//! the rest of the chain still verifies — and the purge itself is on the record.

use crate::files;
use crate::trail::{chain_db, AuditTrail};
use serde::Serialize;
use skjold_domain::audit::{AuditKind, AuditRecord, Draft};
use skjold_store::{StoreError, TenantRouter};
use std::path::Path;

#[derive(Debug, Clone, Serialize)]
pub struct PurgeReport {
    pub chain: String,
    pub before_day: String,
    pub through_seq: i64,
    pub records: u64,
    pub files: usize,
}

/// Where verification of a purged chain starts: after `through_seq`, whose hash was
/// `through_hash`.
pub(crate) fn anchor_start(anchor: &AuditRecord) -> Option<(i64, String)> {
    let d = anchor.detail.as_ref()?;
    Some((
        d.get("through_seq")?.as_i64()?,
        d.get("through_hash")?.as_str()?.to_string(),
    ))
}

/// Removes the chain's records of days before `before_day` (`YYYY-MM-DD`). `now` is the
/// anchor's timestamp. Does nothing when no such record exists.
pub async fn purge_before(
    router: &TenantRouter,
    trail: &AuditTrail,
    root: &Path,
    chain: &str,
    before_day: &str,
    now: &str,
) -> Result<Option<PurgeReport>, StoreError> {
    let db = chain_db(router, chain).await?;
    let Some(last) = db.table().last_before(before_day).await? else {
        return Ok(None);
    };
    let anchor = Draft {
        at: now.to_string(),
        kind: AuditKind::AuditPurged.into(),
        username: Some("system".to_string()),
        detail: Some(serde_json::json!({
            "before_day": before_day,
            "through_seq": last.seq,
            "through_hash": last.hash,
        })),
        ..Draft::default()
    };
    trail
        .record(chain, anchor)
        .await
        .map_err(|e| StoreError::Corrupt(format!("writing the retention anchor: {e}")))?;
    let records = db.table().purge_through(last.seq).await?;
    let mut removed = 0;
    for path in files::day_files(&files::chain_dir(root, chain))? {
        let day = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if day < before_day {
            std::fs::remove_file(&path)?;
            removed += 1;
        }
    }
    Ok(Some(PurgeReport {
        chain: chain.to_string(),
        before_day: before_day.to_string(),
        through_seq: last.seq,
        records,
        files: removed,
    }))
}
