//! SQLite tenants are snapshotted and restored as database files.
//!
//! A row-by-row export and re-insert costs a round trip per row; on a tenant of a few
//! hundred thousand rows that made a restore dozens of times slower than copying the file
//! (restic). `VACUUM INTO` writes a consistent, compact copy of the database from one read
//! transaction while writers go on, and a restore puts that file in place. The guarantees
//! of the row-wise path stay: the copy leaves out what a backup never carries (sessions, the
//! audit trail's database copy), and a restored file is checked — integrity, links, and row
//! counts against the manifest — before it is migrated, replayed onto, or listed.

use crate::backend::{connect_sqlite, connect_sqlite_unsynced, create_private_dir};
use crate::dump::{list_tables, ExportSummary, LoadReport};
use crate::{Backend, BackendKind, Catalog, JournalRecord, StoreError, TenantDb};
use skjold_domain::TenantSlug;
use sqlx::AnyPool;
use std::collections::BTreeMap;
use std::path::Path;

/// Tables whose rows a file snapshot drops: those the [registry](crate::registry) leaves
/// out of backups, but the migrations' own table (their schema stays, so migrations still
/// see the database as it was).
fn scrubbed() -> impl Iterator<Item = &'static str> {
    crate::registry::not_backed_up()
        .map(|t| t.name)
        .filter(|t| *t != "_sqlx_migrations")
}

impl TenantDb {
    /// Writes a consistent copy of this SQLite tenant database to `out` (which must not
    /// exist) and returns what it holds. Writers are not blocked.
    pub async fn copy_sqlite_file(&self, out: &Path) -> Result<ExportSummary, StoreError> {
        if self.kind != BackendKind::Sqlite {
            return Err(StoreError::Config(
                "a database file copy is only for SQLite tenants".into(),
            ));
        }
        let target = out
            .to_str()
            .ok_or_else(|| StoreError::Config(format!("{} is not UTF-8", out.display())))?
            .to_string();
        // VACUUM INTO writes the copy with the synchronous setting of the connection that
        // runs it, and the tenant's own connections sync every write: the whole copy — a
        // staging file, sealed and then deleted — would be fsynced. A read-only connection
        // of its own that does not sync makes the same copy from the same consistent read.
        let source = connect_sqlite_unsynced(&self.sqlite_path().await?, 1, true).await?;
        let copied = sqlx::query("VACUUM INTO $1")
            .bind(target)
            .execute(&source)
            .await;
        source.close().await;
        copied?;
        let pool = connect_sqlite_unsynced(out, 1, false).await?;
        let summary = scrub_and_summarize(&pool).await;
        pool.close().await;
        // The copy is one self-contained file: no WAL beside it.
        remove_sidecars(out);
        summary
    }
}

impl TenantDb {
    /// The file of this SQLite tenant database, as SQLite itself names it.
    async fn sqlite_path(&self) -> Result<std::path::PathBuf, StoreError> {
        use sqlx::Row;
        let rows = sqlx::query("PRAGMA database_list")
            .fetch_all(&self.pool)
            .await?;
        for row in rows {
            let name: String = row.try_get("name")?;
            let file: String = row.try_get("file")?;
            if name == "main" && !file.is_empty() {
                return Ok(file.into());
            }
        }
        Err(StoreError::Config(
            "the tenant database has no file (an in-memory database?)".into(),
        ))
    }
}

async fn scrub_and_summarize(pool: &AnyPool) -> Result<ExportSummary, StoreError> {
    // One statement batch on the pool's one connection. secure_delete zeroes the freed
    // pages, so the left-out rows are really gone from the file (and the zeroes compress to
    // nothing).
    let present: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
    )
    .fetch_all(pool)
    .await?;
    let mut script = String::from("PRAGMA secure_delete = ON;");
    for t in scrubbed() {
        if present.iter().any(|p| p == t) {
            script.push_str(&format!(" DELETE FROM {t};"));
        }
    }
    script.push_str(" PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;");
    sqlx::raw_sql(&script).execute(pool).await?;
    let position: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM journal")
        .fetch_one(pool)
        .await?;
    let schema_version: i64 =
        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations")
            .fetch_one(pool)
            .await?;
    let tables = counts(pool).await?;
    Ok(ExportSummary {
        position,
        schema_version,
        tables,
    })
}

async fn counts(pool: &AnyPool) -> Result<BTreeMap<String, u64>, StoreError> {
    let mut conn = pool.acquire().await?;
    let mut out = BTreeMap::new();
    for table in list_tables(&mut conn, BackendKind::Sqlite).await? {
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&mut *conn)
            .await?;
        out.insert(table, n as u64);
    }
    Ok(out)
}

fn remove_sidecars(db: &Path) {
    for ext in ["-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(ext);
        let _ = std::fs::remove_file(std::path::PathBuf::from(p));
    }
}

/// Checks a database file restored from a backup: SQLite's own integrity check, no broken
/// links, and each table's row count equal to `expected` (the manifest). Reads only.
pub async fn check_sqlite_file(
    file: &Path,
    expected: &BTreeMap<String, u64>,
) -> Result<(), StoreError> {
    crate::install_drivers();
    // Two connections: the integrity check reads the whole file on one while the links
    // and row counts are checked on the other.
    let pool = connect_sqlite_unsynced(file, 2, true).await?;
    let r = check_pool(&pool, expected).await;
    pool.close().await;
    remove_sidecars(file);
    r
}

async fn check_pool(pool: &AnyPool, expected: &BTreeMap<String, u64>) -> Result<(), StoreError> {
    let integrity = async {
        let check: String = sqlx::query_scalar("PRAGMA quick_check")
            .fetch_one(pool)
            .await
            .map_err(|e| StoreError::Corrupt(format!("the restored file is no database: {e}")))?;
        if check != "ok" {
            return Err(StoreError::Corrupt(format!(
                "the restored database fails its integrity check: {check}"
            )));
        }
        Ok(())
    };
    let links_and_counts = async {
        let broken: Vec<sqlx::any::AnyRow> = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(pool)
            .await?;
        if !broken.is_empty() {
            return Err(StoreError::Corrupt(format!(
                "the restored database has {} broken links",
                broken.len()
            )));
        }
        counts(pool).await
    };
    // The integrity check's verdict comes first: on a damaged file the other queries may
    // fail with a less telling error.
    let (integrity, got) = tokio::join!(integrity, links_and_counts);
    integrity?;
    let got = got?;
    if &got != expected {
        let mut diffs: Vec<String> = got
            .keys()
            .chain(expected.keys())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .filter(|t| got.get(*t) != expected.get(*t))
            .map(|t| {
                format!(
                    "{t}: {} rows, the manifest says {}",
                    got.get(t).map_or("no".into(), |n| n.to_string()),
                    expected.get(t).map_or("none".into(), |n| n.to_string())
                )
            })
            .collect();
        diffs.sort();
        return Err(StoreError::Corrupt(format!(
            "the snapshot does not match its manifest: {}",
            diffs.join("; ")
        )));
    }
    Ok(())
}

/// Moves `file` to `to`; across file systems by copying.
fn move_file(file: &Path, to: &Path) -> Result<(), StoreError> {
    if std::fs::rename(file, to).is_err() {
        std::fs::copy(file, to)?;
        std::fs::remove_file(file)?;
    }
    Ok(())
}

impl Backend {
    fn sqlite_data_dir(&self) -> Result<&Path, StoreError> {
        match self {
            Backend::Sqlite { data_dir } => Ok(data_dir),
            Backend::Postgres { .. } => Err(StoreError::Config(
                "this snapshot is a SQLite database file; it restores onto a SQLite installation (restore it there and move the tenant with an export)".into(),
            )),
        }
    }
}

impl Catalog {
    /// Like [`Catalog::prepare_tenant`], with the restored database file `file` (checked
    /// against `expected` first, then migrated) as the new tenant's database. Not listed
    /// until [`Catalog::register_prepared`].
    pub async fn prepare_tenant_from_file(
        &self,
        slug: &TenantSlug,
        file: &Path,
        expected: &BTreeMap<String, u64>,
    ) -> Result<TenantDb, StoreError> {
        let data_dir = self.backend().sqlite_data_dir()?.to_path_buf();
        if self.get(slug).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "tenant '{slug}' already exists"
            )));
        }
        check_sqlite_file(file, expected).await?;
        self.backend().create_tenant_database(slug).await?;
        let target = crate::backend::sqlite_tenant_file(&data_dir, slug);
        move_file(file, &target)?;
        let pool = self.backend().connect_tenant(slug).await?;
        if let Err(e) = crate::tenant::migrate(&pool, BackendKind::Sqlite).await {
            pool.close().await;
            self.backend().drop_tenant_database(slug).await?;
            return Err(e);
        }
        Ok(TenantDb::new(
            slug.clone(),
            crate::tenant::PoolLease::new(pool),
            BackendKind::Sqlite,
            self.clock().clone(),
        ))
    }

    /// Like [`Catalog::open_scratch`], with the restored database file `file` (checked
    /// against `expected` first, then migrated) as the scratch database.
    pub async fn open_scratch_from_file(
        &self,
        slug: &TenantSlug,
        file: &Path,
        expected: &BTreeMap<String, u64>,
    ) -> Result<(String, TenantDb), StoreError> {
        let data_dir = self.backend().sqlite_data_dir()?.to_path_buf();
        check_sqlite_file(file, expected).await?;
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let dir = crate::backend::scratch_dir(&data_dir, &id);
        create_private_dir(&dir)?;
        move_file(file, &dir.join("crm.db"))?;
        let pool = connect_sqlite(&dir.join("crm.db"), 2).await?;
        let db = TenantDb::new(
            slug.clone(),
            crate::tenant::PoolLease::new(pool),
            BackendKind::Sqlite,
            self.clock().clone(),
        );
        if let Err(e) = crate::tenant::migrate(&db.pool, BackendKind::Sqlite).await {
            self.drop_scratch(&id, db).await?;
            return Err(e);
        }
        Ok((id, db))
    }
}

impl TenantDb {
    /// Replays shipped journal entries onto a database restored from a file snapshot, in
    /// one transaction that commits only when the result has no broken links.
    pub async fn replay_journal(
        &self,
        journal: &[JournalRecord],
        observer: &dyn crate::dump::LoadObserver,
    ) -> Result<LoadReport, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut schema = crate::dump::Schema::default();
        let last_seq = crate::dump::apply_journal(&mut tx, &mut schema, journal, observer).await?;
        // With nothing replayed the file is the one whose integrity and links were checked
        // moments ago, as it was opened: checking the whole file again (seconds for a
        // gigabyte) would find the same.
        if !journal.is_empty() {
            crate::dump::check_links(&mut tx, self.kind).await?;
        }
        tx.commit().await?;
        Ok(LoadReport {
            tables: self.table_counts().await?,
            replayed: journal.len() as u64,
            last_seq,
        })
    }
}
