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

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use skjold_domain::capacity::{forecast, Confidence, Forecast, Sample};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_store::{CapacitySample, Catalog, StoreError, TenantRouter};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The windows the trend is fitted over, in days.
pub const WINDOWS: [i64; 2] = [30, 90];

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

/// One window's forecast, with its confidence in a word.
#[derive(Debug, Clone, Serialize)]
pub struct WindowForecast {
    pub days: i64,
    pub forecast: Forecast,
    pub confidence: Option<Confidence>,
}

/// A subject: where it stands and where it is going.
#[derive(Debug, Clone, Serialize)]
pub struct SubjectForecast {
    pub subject: String,
    /// At the newest sample.
    pub bytes: i64,
    /// The size of the space it fills, when it has one (a filesystem).
    pub total_bytes: Option<i64>,
    pub last_sample_at: String,
    /// One per [`WINDOWS`], shortest first.
    pub windows: Vec<WindowForecast>,
}

impl SubjectForecast {
    /// The trend that decides "runs out in": the shortest window that has one (the recent
    /// pace), else the longer.
    pub fn deciding(&self) -> Option<(&WindowForecast, &skjold_domain::capacity::Trend)> {
        self.windows.iter().find_map(|w| match &w.forecast {
            Forecast::Trend(t) => Some((w, t)),
            Forecast::NotEnoughData { .. } => None,
        })
    }

    /// Runs out in under 30 days at the deciding trend: the number of days.
    pub fn warning_days(&self) -> Option<f64> {
        self.deciding()
            .and_then(|(_, t)| t.warns().then_some(t.days_until_full).flatten())
    }
}

/// Every subject's forecast from the samples of the last 90 days before `now`.
pub async fn report(
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> Result<Vec<SubjectForecast>, StoreError> {
    let longest = WINDOWS.iter().copied().max().unwrap_or(90);
    let since = format_timestamp(now - Duration::days(longest));
    let rows = catalog.capacity_samples_since(&since).await?;
    let mut by_subject: BTreeMap<String, Vec<CapacitySample>> = BTreeMap::new();
    for row in rows {
        by_subject.entry(row.subject.clone()).or_default().push(row);
    }
    Ok(by_subject
        .into_iter()
        .filter_map(|(subject, rows)| forecast_subject(subject, &rows, now))
        .collect())
}

/// One subject's forecast from its samples (oldest first).
pub fn forecast_subject(
    subject: String,
    rows: &[CapacitySample],
    now: DateTime<Utc>,
) -> Option<SubjectForecast> {
    let last = rows.last()?;
    let free = last
        .total_bytes
        .map(|total| total.saturating_sub(last.bytes).max(0) as f64);
    let windows = WINDOWS
        .iter()
        .map(|&days| {
            let from = now - Duration::days(days);
            let points: Vec<Sample> = rows
                .iter()
                .filter_map(|r| {
                    let at = parse_timestamp(&r.at)?;
                    (at >= from).then_some(Sample {
                        at,
                        bytes: r.bytes as f64,
                    })
                })
                .collect();
            let f = forecast(&points, free);
            WindowForecast {
                days,
                confidence: match &f {
                    Forecast::Trend(t) => Some(t.confidence()),
                    Forecast::NotEnoughData { .. } => None,
                },
                forecast: f,
            }
        })
        .collect();
    Some(SubjectForecast {
        subject,
        bytes: last.bytes,
        total_bytes: last.total_bytes,
        last_sample_at: last.at.clone(),
        windows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(at: DateTime<Utc>, bytes: i64, total: Option<i64>) -> CapacitySample {
        CapacitySample {
            at: format_timestamp(at),
            subject: "disk:x".into(),
            bytes,
            total_bytes: total,
        }
    }

    #[test]
    fn the_recent_window_decides_and_warns_under_thirty_days() {
        let now = parse_timestamp("2026-06-01T00:00:00Z").unwrap();
        // Flat for two months, then 10 GB a day for the last 20 days, with 100 GB left.
        let gb = 1_000_000_000i64;
        let mut rows: Vec<_> = (40..90)
            .rev()
            .map(|d| row(now - Duration::days(d), 100 * gb, Some(1000 * gb)))
            .collect();
        rows.extend((0..20).rev().map(|d| {
            row(
                now - Duration::days(d),
                900 * gb - 10 * gb * d,
                Some(1000 * gb),
            )
        }));
        let f = forecast_subject("disk:x".into(), &rows, now).unwrap();
        let (w, t) = f.deciding().unwrap();
        assert_eq!(w.days, 30);
        assert!((t.growth_per_day - 10.0 * gb as f64).abs() < 1.0, "{t:?}");
        let days = f.warning_days().unwrap();
        assert!((days - 10.0).abs() < 1e-6, "{days}");
        // The 90-day line is pulled down by the flat months: slower, less certain.
        let Forecast::Trend(t90) = f.windows[1].forecast else {
            panic!("a 90-day trend");
        };
        assert!(t90.r_squared < t.r_squared);
    }

    #[test]
    fn no_samples_in_the_windows_is_not_enough_data() {
        let now = parse_timestamp("2026-06-01T00:00:00Z").unwrap();
        let rows = vec![row(now - Duration::days(200), 1, Some(10))];
        let f = forecast_subject("disk:x".into(), &rows, now).unwrap();
        assert!(f.deciding().is_none());
        assert!(f.warning_days().is_none());
    }

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
