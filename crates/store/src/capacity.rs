//! What the databases take on disk, and the capacity samples kept in the catalog: the sizes
//! of things over time that `skjold capacity` fits a trend to (see
//! `skjold_domain::capacity`).

use crate::backend::{sqlite_tenant_file, tenant_database};
use crate::{Backend, Catalog, StoreError};
use skjold_domain::TenantSlug;
use sqlx::Row;
use std::path::Path;

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
        let mut tx = self.pool().begin().await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::{SharedClock, TestClock};
    use std::sync::Arc;

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
