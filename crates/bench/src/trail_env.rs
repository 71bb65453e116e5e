//! What the audit benchmarks share: a catalog, a tenant router and a running audit trail on
//! a data dir (and optionally PostgreSQL), and a tenant made on first use.

use anyhow::Context;
use skjold_audit::AuditTrail;
use skjold_domain::{SharedClock, SystemClock, TenantSlug};
use skjold_store::{Backend, BackendKind, Catalog, TenantRouter};
use std::path::Path;
use std::sync::Arc;

pub struct TrailEnv {
    pub router: Arc<TenantRouter>,
    pub audit: AuditTrail,
    pub clock: SharedClock,
    /// `sqlite` or `postgres`, for reports.
    pub backend: &'static str,
}

impl TrailEnv {
    pub async fn open(data_dir: &Path, database_url: Option<&str>) -> anyhow::Result<Self> {
        skjold_store::install_drivers();
        let backend = Backend::from_config(data_dir, database_url)?;
        let backend_name = match backend.kind() {
            BackendKind::Sqlite => "sqlite",
            BackendKind::Postgres => "postgres",
        };
        let clock: SharedClock = Arc::new(SystemClock);
        let catalog = Catalog::open(backend, clock.clone())
            .await
            .context("opening the catalog")?;
        let router = Arc::new(TenantRouter::new(catalog, 4));
        let audit = AuditTrail::start(router.clone(), skjold_audit::logs_root(data_dir));
        Ok(Self {
            router,
            audit,
            clock,
            backend: backend_name,
        })
    }

    /// The tenant `name`, created with an administrator if it does not exist yet.
    pub async fn tenant(&self, name: &str, display_name: &str) -> anyhow::Result<TenantSlug> {
        let slug = TenantSlug::parse(name).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
        if self.router.catalog().get(&slug).await?.is_none() {
            skjold_server::provision::create_tenant_with_admin(
                &self.router,
                &self.audit,
                slug.clone(),
                display_name,
                crate::load::ADMIN,
                Some(crate::load::PASSWORD.to_string()),
            )
            .await
            .map_err(|e| anyhow::anyhow!("creating tenant '{slug}': {e}"))?;
            self.audit.flush().await?;
        }
        Ok(slug)
    }

    /// Waits for the trail's copier and closes the databases.
    pub async fn close(self) {
        let _ = self.audit.flush().await;
        self.router.close_all().await;
        self.router.catalog().close().await;
    }
}

/// Prints `report` as pretty JSON, or with `print` as text.
pub fn emit<R: serde::Serialize>(report: &R, json: bool, print: fn(&R)) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        print(report);
    }
    Ok(())
}
