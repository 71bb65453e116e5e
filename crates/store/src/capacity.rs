//! What the databases take on disk, the capacity samples kept in the catalog (the sizes of
//! things over time), and each subject's forecast from them over the last 30 and 90 days
//! (the fit is `skjold_domain::capacity`): read by `skjold capacity`, the daily job's
//! warning and `skjold doctor`.

use crate::backend::{sqlite_tenant_file, tenant_database};
use crate::{Backend, Catalog, StoreError};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use skjold_domain::capacity::{forecast, Confidence, Forecast, Sample};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::TenantSlug;
use sqlx::Row;
use std::collections::BTreeMap;
use std::path::Path;

/// The windows the trend is fitted over, in days.
pub const WINDOWS: [i64; 2] = [30, 90];

/// The databases' sizes now.
#[derive(Debug, Clone, Default)]
pub struct DatabaseSizes {
    pub catalog: u64,
    /// Each tenant's database, by slug (operators' eyes only: never a metric label).
    pub tenants: Vec<(TenantSlug, u64)>,
}

impl DatabaseSizes {
    pub fn tenants_total(&self) -> u64 {
        self.tenants.iter().map(|(_, b)| b).sum()
    }
}

/// One capacity sample: `bytes` used by `subject` at `at`, in a space of `total_bytes`
/// when that is known (a filesystem).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacitySample {
    /// RFC 3339, UTC.
    pub at: String,
    pub subject: String,
    pub bytes: i64,
    pub total_bytes: Option<i64>,
}

/// A SQLite database with its write-ahead log: both are what it takes on disk.
fn sqlite_bytes(file: &Path) -> u64 {
    let mut wal = file.as_os_str().to_owned();
    wal.push("-wal");
    [file, Path::new(&wal)]
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum()
}

impl Catalog {
    /// The catalog's and every tenant database's size: file sizes on SQLite,
    /// `pg_database_size` on PostgreSQL.
    pub async fn database_sizes(&self) -> Result<DatabaseSizes, StoreError> {
        let tenants = self.list().await?;
        match self.backend() {
            Backend::Sqlite { data_dir } => Ok(DatabaseSizes {
                catalog: sqlite_bytes(&data_dir.join("catalog.db")),
                tenants: tenants
                    .into_iter()
                    .map(|t| {
                        let bytes = sqlite_bytes(&sqlite_tenant_file(data_dir, &t.slug));
                        (t.slug, bytes)
                    })
                    .collect(),
            }),
            Backend::Postgres { catalog, .. } => {
                let mut sizes = DatabaseSizes {
                    catalog: self.pg_database_size(catalog).await?,
                    tenants: Vec::with_capacity(tenants.len()),
                };
                for t in tenants {
                    let bytes = self
                        .pg_database_size(&tenant_database(catalog, &t.slug))
                        .await?;
                    sizes.tenants.push((t.slug, bytes));
                }
                Ok(sizes)
            }
        }
    }

    /// A PostgreSQL database's size on the catalog's server; 0 when it does not exist.
    async fn pg_database_size(&self, name: &str) -> Result<u64, StoreError> {
        let size: Option<i64> = sqlx::query_scalar(
            "SELECT pg_database_size(datname)::bigint FROM pg_database WHERE datname = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await?;
        Ok(size.unwrap_or(0).max(0) as u64)
    }

    /// Stores samples (one taken at the same instant for the same subject is replaced).
    pub async fn record_capacity_samples(
        &self,
        samples: &[CapacitySample],
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        for s in samples {
            sqlx::query(
                "INSERT INTO capacity_samples (at, subject, bytes, total_bytes) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (subject, at) DO UPDATE SET bytes = excluded.bytes, total_bytes = excluded.total_bytes",
            )
            .bind(&s.at)
            .bind(&s.subject)
            .bind(s.bytes)
            .bind(s.total_bytes)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every sample taken at or after `since` (RFC 3339), by subject, oldest first.
    pub async fn capacity_samples_since(
        &self,
        since: &str,
    ) -> Result<Vec<CapacitySample>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, subject, bytes, total_bytes FROM capacity_samples WHERE at >= $1 \
             ORDER BY subject, at",
        )
        .bind(since)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(CapacitySample {
                    at: r.try_get("at")?,
                    subject: r.try_get("subject")?,
                    bytes: r.try_get("bytes")?,
                    total_bytes: r.try_get("total_bytes")?,
                })
            })
            .collect()
    }
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
    use skjold_domain::{SharedClock, TestClock};
    use std::sync::Arc;

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

    #[tokio::test]
    async fn samples_are_kept_and_read_back_by_subject_and_time() {
        let dir = tempfile::tempdir().unwrap();
        #[allow(clippy::disallowed_methods)]
        let clock: SharedClock = Arc::new(TestClock::at(chrono::Utc::now()));
        let catalog = Catalog::open(
            Backend::Sqlite {
                data_dir: dir.path().to_path_buf(),
            },
            clock,
        )
        .await
        .unwrap();
        let s = |at: &str, subject: &str, bytes| CapacitySample {
            at: at.into(),
            subject: subject.into(),
            bytes,
            total_bytes: None,
        };
        catalog
            .record_capacity_samples(&[
                s("2026-01-02T00:00:00.000000Z", "audit_logs", 20),
                s("2026-01-01T00:00:00.000000Z", "audit_logs", 10),
                s("2026-01-01T00:00:00.000000Z", "database:catalog", 5),
            ])
            .await
            .unwrap();
        // The same instant again replaces its value.
        catalog
            .record_capacity_samples(&[s("2026-01-02T00:00:00.000000Z", "audit_logs", 25)])
            .await
            .unwrap();
        let all = catalog
            .capacity_samples_since("2026-01-01T00:00:00.000000Z")
            .await
            .unwrap();
        assert_eq!(
            all.iter()
                .map(|s| (s.subject.as_str(), s.bytes))
                .collect::<Vec<_>>(),
            [
                ("audit_logs", 10),
                ("audit_logs", 25),
                ("database:catalog", 5)
            ]
        );
        let later = catalog
            .capacity_samples_since("2026-01-02T00:00:00.000000Z")
            .await
            .unwrap();
        assert_eq!(later.len(), 1);
        let sizes = catalog.database_sizes().await.unwrap();
        assert!(sizes.catalog > 0);
        assert!(sizes.tenants.is_empty());
    }
}
