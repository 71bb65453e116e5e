//! Capacity: what the installation takes on disk now (a sample per subject, kept in the
//! catalog), and when each space runs out at the trend of the last 30 and 90 days. The
//! daily `capacity.sample` job and `skjold capacity --sample` take the samples; the fit is
//! `skjold_domain::capacity`.
//!
//! Subjects: `disk:data_dir` (the filesystem of the data directory: used and total, so it
//! is the one that can say when it is full), `database:catalog`, `database:tenant:<slug>`,
//! `audit_logs` (the JSON-lines files), `backups:<destination>` (what each backup
//! destination holds). The subjects without a size of their own to fill say how fast they
//! grow, which tells where the disk's growth comes from. Document stores join when the
//! document archive exists.

use chrono::{DateTime, Utc};
use skjold_domain::clock::format_timestamp;
use skjold_store::{CapacitySample, StoreError, TenantRouter};
use std::path::{Path, PathBuf};

pub use skjold_store::capacity::{report, SubjectForecast, WindowForecast, WINDOWS};

#[derive(Debug, thiserror::Error)]
pub enum CapacityError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("measuring {what}: {source}")]
    Io {
        what: String,
        source: std::io::Error,
    },
}

/// Measures every subject now (by `now`, the injected clock's time). The backup
/// destinations are measured from their settings alone: listing needs no key, so the
/// command line measures them as the server does.
pub async fn measure(
    tenants: &TenantRouter,
    data_dir: &Path,
    destinations: &[skjold_backup::DestinationSettings],
    now: DateTime<Utc>,
) -> Result<Vec<CapacitySample>, CapacityError> {
    let at = format_timestamp(now);
    let sample = |subject: String, bytes: u64, total: Option<u64>| CapacitySample {
        at: at.clone(),
        subject,
        bytes: i64::try_from(bytes).unwrap_or(i64::MAX),
        total_bytes: total.map(|t| i64::try_from(t).unwrap_or(i64::MAX)),
    };
    let mut out = Vec::new();

    let stats = fs4::statvfs(data_dir).map_err(|source| CapacityError::Io {
        what: format!("the filesystem of {}", data_dir.display()),
        source,
    })?;
    // Used as what is no longer available to us, so that total - used is what we can
    // still write (the blocks reserved for root are not ours).
    let used = stats.total_space().saturating_sub(stats.available_space());
    out.push(sample(
        "disk:data_dir".into(),
        used,
        Some(stats.total_space()),
    ));

    let sizes = tenants.catalog().database_sizes().await?;
    out.push(sample("database:catalog".into(), sizes.catalog, None));
    for (slug, bytes) in &sizes.tenants {
        out.push(sample(format!("database:tenant:{slug}"), *bytes, None));
    }

    let logs = skjold_audit::logs_root(data_dir);
    let audit_bytes = tokio::task::spawn_blocking(move || tree_bytes(&logs))
        .await
        .map_err(|e| CapacityError::Io {
            what: "the audit logs".into(),
            source: std::io::Error::other(e.to_string()),
        })?
        .map_err(|source| CapacityError::Io {
            what: "the audit logs".into(),
            source,
        })?;
    out.push(sample("audit_logs".into(), audit_bytes, None));

    for settings in destinations {
        // An unreachable destination has no size to sample (a zero would read as shrinkage):
        // it is left out of this sample and logged.
        let listed = match skjold_backup::dest::Destination::open(settings) {
            Ok(d) => d.list("").await.map(|l| (d.name.clone(), l)),
            Err(e) => Err(e),
        };
        match listed {
            Ok((name, objects)) => {
                let bytes = objects.iter().map(|(_, n)| n).sum();
                out.push(sample(format!("backups:{name}"), bytes, None));
            }
            Err(e) => {
                tracing::warn!(error = %e, "capacity: a backup destination could not be measured")
            }
        }
    }
    Ok(out)
}

/// The bytes of every file under `dir` (0 when it does not exist yet).
fn tree_bytes(dir: &Path) -> std::io::Result<u64> {
    let mut total = 0;
    let mut stack: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                total += entry.metadata()?.len();
            }
        }
    }
    Ok(total)
}

/// Measures and keeps the samples; answers them.
pub async fn sample(
    tenants: &TenantRouter,
    data_dir: &Path,
    destinations: &[skjold_backup::DestinationSettings],
    now: DateTime<Utc>,
) -> Result<Vec<CapacitySample>, CapacityError> {
    let samples = measure(tenants, data_dir, destinations, now).await?;
    tenants.catalog().record_capacity_samples(&samples).await?;
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_of_files_is_summed() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/one"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("a/b/two"), [0u8; 5]).unwrap();
        assert_eq!(tree_bytes(dir.path()).unwrap(), 15);
        assert_eq!(tree_bytes(&dir.path().join("missing")).unwrap(), 0);
    }
}
