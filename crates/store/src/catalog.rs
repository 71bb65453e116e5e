//! The catalog: the list of tenants and where each one's data lives.

use crate::{Backend, StoreError, TenantDb};
use skjold_domain::clock::format_timestamp;
use skjold_domain::{SharedClock, TenantSlug};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row};

static SQLITE: Migrator = sqlx::migrate!("migrations/catalog/sqlite");
static POSTGRES: Migrator = sqlx::migrate!("migrations/catalog/postgres");

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    Active,
    Suspended,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TenantStatus::Active => "active",
            TenantStatus::Suspended => "suspended",
        }
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct TenantRecord {
    pub slug: TenantSlug,
    pub display_name: String,
    pub status: TenantStatus,
    pub location: String,
    pub created_at: String,
}

pub struct NewTenant {
    pub slug: TenantSlug,
    pub display_name: String,
}

#[derive(Clone)]
pub struct Catalog {
    pool: AnyPool,
    backend: Backend,
    clock: SharedClock,
}

impl Catalog {
    /// Connects to (and on PostgreSQL creates) the catalog database and brings its schema up
    /// to date.
    pub async fn open(backend: Backend, clock: SharedClock) -> Result<Self, StoreError> {
        crate::install_drivers();
        let pool = backend.connect_catalog().await?;
        match &backend {
            Backend::Sqlite { data_dir } => {
                // Two processes starting on a fresh data dir (the server and a CLI command)
                // must not both create the schema: migrate under a file lock.
                let lock = std::fs::OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(data_dir.join(".catalog.lock"))?;
                let lock = tokio::task::spawn_blocking(move || lock.lock().map(|_| lock))
                    .await
                    .map_err(|e| StoreError::Config(e.to_string()))??;
                let result = SQLITE.run(&pool).await;
                let _ = lock.unlock();
                result?;
            }
            Backend::Postgres { .. } => POSTGRES.run(&pool).await?,
        }
        Ok(Self {
            pool,
            backend,
            clock,
        })
    }

    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Opens a transaction for a change of the catalog. On SQLite it takes the write lock up
    /// front (`BEGIN IMMEDIATE`), as [`crate::TenantDb`]'s writes do: a transaction that reads
    /// first and writes later fails at once with "database is locked" when another writer
    /// (the audit trail's system chain, the status probes) committed in between, whatever
    /// the busy timeout.
    pub(crate) async fn write_tx(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        Ok(match self.backend.kind() {
            crate::BackendKind::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            crate::BackendKind::Postgres => self.pool.begin().await?,
        })
    }

    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The database server's clock, on PostgreSQL (`skjold doctor` compares it with this
    /// machine's); `None` on SQLite, whose time is this machine's own.
    pub async fn database_time(&self) -> Result<Option<String>, StoreError> {
        if self.backend.kind() == crate::BackendKind::Sqlite {
            return Ok(None);
        }
        let now: String = sqlx::query_scalar(
            "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(now))
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub async fn list(&self) -> Result<Vec<TenantRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT slug, display_name, status, location, created_at FROM tenants ORDER BY slug",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(tenant_from_row).collect()
    }

    pub async fn get(&self, slug: &TenantSlug) -> Result<Option<TenantRecord>, StoreError> {
        let row = sqlx::query(
            "SELECT slug, display_name, status, location, created_at FROM tenants WHERE slug = $1",
        )
        .bind(slug.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    pub async fn is_empty(&self) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM tenants")
            .fetch_one(&self.pool)
            .await?;
        Ok(n == 0)
    }

    /// Creates the tenant's database, brings its schema up to date and records it. The
    /// catalog row is written last, so a tenant is never listed without its database.
    pub async fn create(&self, new: NewTenant) -> Result<TenantRecord, StoreError> {
        let name = display_name(&new.display_name)?;
        if self.get(&new.slug).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "tenant '{}' already exists",
                new.slug
            )));
        }
        self.backend.create_tenant_database(&new.slug).await?;
        let pool = self.backend.connect_tenant(&new.slug).await?;
        crate::tenant::migrate(&pool, self.backend.kind()).await?;
        pool.close().await;
        self.register(new, name, None).await
    }

    /// Creates a new tenant's database and brings its schema up to date, without listing
    /// the tenant yet: a restore into a new tenant fills it first and then calls
    /// [`Self::register_prepared`], so no half-filled tenant is ever listed.
    pub async fn prepare_tenant(&self, slug: &TenantSlug) -> Result<TenantDb, StoreError> {
        if self.get(slug).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "tenant '{slug}' already exists"
            )));
        }
        self.backend.create_tenant_database(slug).await?;
        let pool = self.backend.connect_tenant(slug).await?;
        crate::tenant::migrate(&pool, self.backend.kind()).await?;
        Ok(TenantDb::new(
            slug.clone(),
            crate::tenant::PoolLease::new(pool),
            self.backend.kind(),
            self.clock.clone(),
        ))
    }

    /// Lists a tenant prepared by [`Self::prepare_tenant`].
    pub async fn register_prepared(
        &self,
        db: TenantDb,
        display_name: &str,
    ) -> Result<TenantRecord, StoreError> {
        self.register_prepared_recorded(db, display_name, None)
            .await
    }

    /// Lists a tenant prepared by [`Self::prepare_tenant`]; `record` (the creation's audit
    /// event) runs inside the catalog's transaction, and an error from it leaves the tenant
    /// unlisted — for the caller to discard with [`Self::discard_unlisted`].
    pub async fn register_prepared_recorded(
        &self,
        db: TenantDb,
        name: &str,
        record: Option<&dyn crate::BeforeCommit>,
    ) -> Result<TenantRecord, StoreError> {
        let slug = db.slug().clone();
        db.pool.close().await;
        let name = display_name(name)?;
        self.register(
            NewTenant {
                slug,
                display_name: name.clone(),
            },
            name,
            record,
        )
        .await
    }

    /// Removes the database of a tenant that is not listed (one whose registration failed
    /// after [`Self::prepare_tenant`]). Refuses for a listed tenant.
    pub async fn discard_unlisted(&self, slug: &TenantSlug) -> Result<(), StoreError> {
        if self.get(slug).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "tenant '{slug}' is listed; refusing to remove its database"
            )));
        }
        self.backend.drop_tenant_database(slug).await
    }

    /// Removes a database made by [`Self::prepare_tenant`] that was never registered (a
    /// restore into a new tenant that failed its checks). Refuses for a listed tenant.
    pub async fn discard_prepared(&self, db: TenantDb) -> Result<(), StoreError> {
        let slug = db.slug().clone();
        if self.get(&slug).await?.is_some() {
            return Err(StoreError::Conflict(format!(
                "tenant '{slug}' is listed; refusing to remove its database"
            )));
        }
        db.pool.close().await;
        self.backend.drop_tenant_database(&slug).await
    }

    /// A scratch database with the tenant schema, for building and checking a restore. The
    /// handle carries `slug` only as a label; no router ever hands it out.
    pub async fn open_scratch(&self, slug: &TenantSlug) -> Result<(String, TenantDb), StoreError> {
        let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_string();
        let pool = self.backend.create_scratch(&id).await?;
        crate::tenant::migrate(&pool, self.backend.kind()).await?;
        Ok((
            id,
            TenantDb::new(
                slug.clone(),
                crate::tenant::PoolLease::new(pool),
                self.backend.kind(),
                self.clock.clone(),
            ),
        ))
    }

    /// Closes and removes a scratch database.
    pub async fn drop_scratch(&self, id: &str, db: TenantDb) -> Result<(), StoreError> {
        db.pool.close().await;
        self.backend.drop_scratch(id).await
    }

    async fn register(
        &self,
        new: NewTenant,
        name: String,
        record: Option<&dyn crate::BeforeCommit>,
    ) -> Result<TenantRecord, StoreError> {
        let now = format_timestamp(self.clock.now());
        let location = self.backend.tenant_location(&new.slug);
        let mut tx = self.write_tx().await?;
        let inserted = sqlx::query(
            "INSERT INTO tenants (slug, display_name, status, location, created_at, updated_at) \
             VALUES ($1, $2, 'active', $3, $4, $4)",
        )
        .bind(new.slug.as_str())
        .bind(&name)
        .bind(&location)
        .bind(&now)
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if StoreError::is_unique_violation(&e) => {
                return Err(StoreError::Conflict(format!(
                    "tenant '{}' already exists",
                    new.slug
                )))
            }
            Err(e) => return Err(e.into()),
        }
        crate::commit::commit_recorded(tx, record).await?;
        Ok(TenantRecord {
            slug: new.slug,
            display_name: name,
            status: TenantStatus::Active,
            location,
            created_at: now,
        })
    }

    pub async fn set_status(
        &self,
        slug: &TenantSlug,
        status: TenantStatus,
    ) -> Result<(), StoreError> {
        self.set_status_recorded(slug, status, None).await
    }

    /// Sets a tenant's status; `record` (its audit events) runs inside the transaction,
    /// after the change and before the commit, and an error from it rolls the change back:
    /// a suspension is never in force without its record.
    pub async fn set_status_recorded(
        &self,
        slug: &TenantSlug,
        status: TenantStatus,
        record: Option<&dyn crate::BeforeCommit>,
    ) -> Result<(), StoreError> {
        let now = format_timestamp(self.clock.now());
        let mut tx = self.write_tx().await?;
        let done = sqlx::query("UPDATE tenants SET status = $1, updated_at = $2 WHERE slug = $3")
            .bind(status.as_str())
            .bind(&now)
            .bind(slug.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        crate::commit::commit_recorded(tx, record).await?;
        Ok(())
    }
}

/// A tenant's display name, trimmed, or the error that names the rule it breaks.
fn display_name(name: &str) -> Result<String, StoreError> {
    let name = name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(skjold_domain::FieldErrors::single(
            "name",
            "a tenant's display name has 1 to 200 characters",
        )
        .into());
    }
    Ok(name)
}

fn tenant_from_row(row: &sqlx::any::AnyRow) -> Result<TenantRecord, StoreError> {
    let slug: String = row.try_get("slug")?;
    let status: String = row.try_get("status")?;
    Ok(TenantRecord {
        slug: TenantSlug::parse(&slug)
            .map_err(|e| StoreError::Corrupt(format!("tenant slug '{slug}': {e}")))?,
        display_name: row.try_get("display_name")?,
        status: match status.as_str() {
            "active" => TenantStatus::Active,
            "suspended" => TenantStatus::Suspended,
            other => return Err(StoreError::Corrupt(format!("tenant status '{other}'"))),
        },
        location: row.try_get("location")?,
        created_at: row.try_get("created_at")?,
    })
}
