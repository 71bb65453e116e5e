//! Hands out [`TenantDb`] handles: looks the tenant up in the catalog and keeps a bounded
//! set of open connection pools, letting go of the least recently used when the bound is
//! reached (it closes once no request holds it).

use crate::tenant::PoolLease;
use crate::{Catalog, StoreError, TenantDb, TenantRecord};
use chrono::{DateTime, Duration, Utc};
use lru::LruCache;
use skjold_domain::TenantSlug;
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// How long a catalog answer is reused. A suspension made by the CLI while the server runs
/// takes effect within this time.
const CATALOG_TTL: Duration = Duration::seconds(2);

struct Open {
    pool: Arc<PoolLease>,
    record: TenantRecord,
    checked_at: DateTime<Utc>,
}

pub struct TenantRouter {
    catalog: Catalog,
    open: Mutex<LruCache<TenantSlug, Open>>,
    /// Serialises first opens so two requests do not both migrate the same database.
    opening: tokio::sync::Mutex<()>,
}

impl TenantRouter {
    pub fn new(catalog: Catalog, max_open: usize) -> Self {
        let cap = NonZeroUsize::new(max_open.max(1)).unwrap_or(NonZeroUsize::MIN);
        Self {
            catalog,
            open: Mutex::new(LruCache::new(cap)),
            opening: tokio::sync::Mutex::new(()),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<TenantSlug, Open>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant's record and a handle on its database, or `None` when no such tenant
    /// exists. Suspended tenants are returned too: the caller decides what they may do.
    pub async fn open(
        &self,
        slug: &TenantSlug,
    ) -> Result<Option<(TenantRecord, TenantDb)>, StoreError> {
        let now = self.catalog.clock().now();
        if let Some(found) = self.cached(slug, now) {
            return Ok(Some(found));
        }
        let Some(record) = self.catalog.get(slug).await? else {
            self.lock().pop(slug);
            return Ok(None);
        };
        // Reuse the pool if it is open, only refreshing the catalog answer.
        {
            let mut open = self.lock();
            if let Some(entry) = open.get_mut(slug) {
                entry.record = record.clone();
                entry.checked_at = now;
                return Ok(Some((record, self.handle(slug, entry.pool.clone()))));
            }
        }
        let _guard = self.opening.lock().await;
        if let Some(found) = self.cached(slug, now) {
            return Ok(Some(found));
        }
        let pool = self.catalog.backend().connect_tenant(slug).await?;
        crate::tenant::migrate(&pool, self.catalog.backend().kind()).await?;
        crate::search_index::backfill(&pool, self.catalog.backend().kind()).await?;
        let audit_writer = self.catalog.backend().connect_tenant_audit_writer(slug)?;
        let lease = PoolLease::with_audit_writer(pool, audit_writer);
        let evicted = self.lock().push(
            slug.clone(),
            Open {
                pool: lease.clone(),
                record: record.clone(),
                checked_at: now,
            },
        );
        // An evicted pool is not closed here: a request (or the audit trail's copier) may
        // hold a handle on it and not yet have taken a connection, and `close()` would make
        // that acquire fail. It closes when its last handle is dropped.
        drop(evicted);
        Ok(Some((record, self.handle(slug, lease))))
    }

    fn cached(&self, slug: &TenantSlug, now: DateTime<Utc>) -> Option<(TenantRecord, TenantDb)> {
        let mut open = self.lock();
        let entry = open.get(slug)?;
        if now - entry.checked_at > CATALOG_TTL || now < entry.checked_at {
            return None;
        }
        Some((entry.record.clone(), self.handle(slug, entry.pool.clone())))
    }

    fn handle(&self, slug: &TenantSlug, lease: Arc<PoolLease>) -> TenantDb {
        TenantDb::new(
            slug.clone(),
            lease,
            self.catalog.backend().kind(),
            self.catalog.clock().clone(),
        )
    }

    /// How many tenant databases are open now.
    pub fn open_count(&self) -> usize {
        self.lock().len()
    }

    /// Closes every open tenant pool (at shutdown).
    pub async fn close_all(&self) {
        let leases: Vec<Arc<PoolLease>> = {
            let mut open = self.lock();
            let mut v = Vec::new();
            while let Some((_, o)) = open.pop_lru() {
                v.push(o.pool);
            }
            v
        };
        for lease in leases {
            lease.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Backend, NewTenant};
    use skjold_domain::audit::{Draft, ACCESS, GENESIS};
    use skjold_domain::SystemClock;
    use std::time::Duration;

    /// The audit trail's copier inserts through a SQLite connection of its own: with every
    /// connection of the tenant's pool taken by requests, its insert still goes through at
    /// once instead of waiting for one of them.
    #[tokio::test]
    async fn audit_inserts_do_not_wait_for_the_requests_connections() {
        crate::install_drivers();
        let dir = tempfile::tempdir().unwrap();
        let backend = Backend::from_config(dir.path(), None).unwrap();
        let catalog = Catalog::open(backend, Arc::new(SystemClock)).await.unwrap();
        let slug = TenantSlug::parse("acme").unwrap();
        catalog
            .create(NewTenant {
                slug: slug.clone(),
                display_name: "Acme".into(),
            })
            .await
            .unwrap();
        let router = TenantRouter::new(catalog, 4);
        let (_, db) = router.open(&slug).await.unwrap().unwrap();
        let mut busy = Vec::new();
        for _ in 0..4 {
            busy.push(db.pool.acquire().await.unwrap());
        }
        assert!(
            db.pool.try_acquire().is_none(),
            "the requests' connections are all taken"
        );
        let record = Draft {
            at: "2026-11-27T10:00:00.000000Z".into(),
            kind: ACCESS.into(),
            ..Draft::default()
        }
        .seal("acme", 1, GENESIS);
        tokio::time::timeout(
            Duration::from_secs(5),
            db.audit().insert(std::slice::from_ref(&record)),
        )
        .await
        .expect("the insert does not wait for a request's connection")
        .unwrap();
        drop(busy);
        assert_eq!(db.audit().head().await.unwrap(), Some(record));
        router.close_all().await;
    }
}
