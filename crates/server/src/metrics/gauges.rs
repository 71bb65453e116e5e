//! The installation's state as gauges, read when Prometheus scrapes. The cheap ones (open
//! pools, the audit backlog) are read at every scrape; the ones that cost queries (tenants,
//! database sizes) at most every [`REFRESH`], and the backups' state — which lists every
//! destination and each tenant's snapshots and segments, requests that cost money on S3 —
//! at most every [`BACKUP_REFRESH`]; so a scrape every few seconds does not turn into load.
//!
//! The document archive and the malware scanner do not exist yet: their gauges say that
//! none is configured (`skjold_document_stores_configured 0`, `skjold_scanner_configured
//! 0`); divergence and scanner health appear with them, never as made-up values.

use crate::AppState;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use skjold_domain::clock::parse_timestamp;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// How long the expensive gauges are reused. Measured on the monotonic clock: this bounds
/// the cost of scraping, it is no rule about the data.
pub const REFRESH: Duration = Duration::from_secs(30);

/// How long the backup gauges are reused: snapshots are daily and shipping lag worth an
/// alert is minutes, so five minutes is fresh enough.
pub const BACKUP_REFRESH: Duration = Duration::from_secs(300);

type FloatGauge = Gauge<f64, AtomicU64>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabel {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

/// A backup destination by the name the operator gave it in `[[backup.destinations]]`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DestinationLabel {
    destination: String,
}

pub(crate) struct StateGauges {
    tenants: Family<StatusLabel, Gauge>,
    open_tenant_pools: Gauge,
    database_bytes: Family<KindLabel, Gauge>,
    audit_backlog: Gauge,
    backups_enabled: Gauge,
    backup_last_snapshot_age: FloatGauge,
    backup_shipping_lag: FloatGauge,
    destination_up: Family<DestinationLabel, Gauge>,
    destination_missing_bytes: Family<DestinationLabel, Gauge>,
    document_stores_configured: Gauge,
    scanner_configured: Gauge,
    refresh_errors: Gauge,
    /// When the expensive gauges were last read; held across the reading so that
    /// concurrent scrapes do the work once.
    refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// The same for the backup gauges.
    backups_refreshed: tokio::sync::Mutex<Option<Instant>>,
    /// The failures of the last refresh of each kind (catalog, backups), summed in
    /// `skjold_metrics_refresh_errors`.
    errors: std::sync::Mutex<(i64, i64)>,
}

impl StateGauges {
    pub(crate) fn register(r: &mut Registry) -> Self {
        let g = Self {
            tenants: Family::default(),
            open_tenant_pools: Gauge::default(),
            database_bytes: Family::default(),
            audit_backlog: Gauge::default(),
            backups_enabled: Gauge::default(),
            backup_last_snapshot_age: FloatGauge::default(),
            backup_shipping_lag: FloatGauge::default(),
            destination_up: Family::default(),
            destination_missing_bytes: Family::default(),
            document_stores_configured: Gauge::default(),
            scanner_configured: Gauge::default(),
            refresh_errors: Gauge::default(),
            refreshed: tokio::sync::Mutex::new(None),
            backups_refreshed: tokio::sync::Mutex::new(None),
            errors: std::sync::Mutex::new((0, 0)),
        };
        r.register("tenants", "Tenants, by status", g.tenants.clone());
        r.register(
            "open_tenant_pools",
            "Tenant databases with an open connection pool (bounded by max_open_tenants)",
            g.open_tenant_pools.clone(),
        );
        r.register(
            "database_bytes",
            "Bytes the databases take: the catalog, and all tenant databases together",
            g.database_bytes.clone(),
        );
        r.register(
            "audit_backlog",
            "Audit records written to their files and waiting for their database copy",
            g.audit_backlog.clone(),
        );
        r.register(
            "backups_enabled",
            "1 when backups run (a backup key is configured or generated), else 0",
            g.backups_enabled.clone(),
        );
        r.register(
            "backup_last_snapshot_age_seconds",
            "Age of the oldest of the tenants' newest snapshots (a tenant without one counts from its creation); NaN while backups are off",
            g.backup_last_snapshot_age.clone(),
        );
        r.register(
            "backup_shipping_lag_seconds",
            "How long the oldest journal entry not yet shipped to the destinations has waited, over all tenants; NaN while backups are off",
            g.backup_shipping_lag.clone(),
        );
        r.register(
            "backup_destination_up",
            "1 when a backup destination could be listed, else 0",
            g.destination_up.clone(),
        );
        r.register(
            "backup_destination_missing_bytes",
            "Bytes the other destinations hold that this one lacks: how far it lags them",
            g.destination_missing_bytes.clone(),
        );
        r.register(
            "document_stores_configured",
            "Document stores configured (the document archive is not built yet: 0)",
            g.document_stores_configured.clone(),
        );
        r.register(
            "scanner_configured",
            "Malware scanners configured (not built yet: 0)",
            g.scanner_configured.clone(),
        );
        r.register(
            "metrics_refresh_errors",
            "Gauges that could not be read at the last refresh (see the server log)",
            g.refresh_errors.clone(),
        );
        g
    }

    /// Brings the gauges up to date before an encode.
    pub(crate) async fn refresh(&self, state: &AppState) {
        self.open_tenant_pools
            .set(state.tenants.open_count() as i64);
        self.audit_backlog.set(state.audit.backlog() as i64);
        self.backups_enabled.set(i64::from(state.backups.is_some()));
        self.document_stores_configured.set(0);
        self.scanner_configured.set(0);

        {
            let mut refreshed = self.refreshed.lock().await;
            if refreshed.is_none_or(|at| at.elapsed() >= REFRESH) {
                let failed = match self.refresh_catalog(state).await {
                    Ok(()) => 0,
                    Err(e) => {
                        tracing::warn!(error = %e, "metrics: reading the tenants and database sizes failed");
                        1
                    }
                };
                self.set_errors(|e| e.0 = failed);
                *refreshed = Some(Instant::now());
            }
        }
        let mut refreshed = self.backups_refreshed.lock().await;
        if refreshed.is_none_or(|at| at.elapsed() >= BACKUP_REFRESH) {
            let failed = self.refresh_backups(state).await;
            self.set_errors(|e| e.1 = failed);
            *refreshed = Some(Instant::now());
        }
    }

    fn set_errors(&self, f: impl FnOnce(&mut (i64, i64))) {
        let mut errors = self.errors.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut errors);
        self.refresh_errors.set(errors.0 + errors.1);
    }

    async fn refresh_catalog(&self, state: &AppState) -> Result<(), skjold_store::StoreError> {
        let catalog = state.tenants.catalog();
        let tenants = catalog.list().await?;
        for status in [
            skjold_store::TenantStatus::Active,
            skjold_store::TenantStatus::Suspended,
        ] {
            let n = tenants.iter().filter(|t| t.status == status).count();
            self.tenants
                .get_or_create(&StatusLabel {
                    status: status.as_str(),
                })
                .set(n as i64);
        }
        let sizes = catalog.database_sizes().await?;
        self.database_bytes
            .get_or_create(&KindLabel { kind: "catalog" })
            .set(sizes.catalog as i64);
        self.database_bytes
            .get_or_create(&KindLabel { kind: "tenants" })
            .set(sizes.tenants_total() as i64);
        Ok(())
    }

    /// The backups' gauges; answers how many could not be read.
    async fn refresh_backups(&self, state: &AppState) -> i64 {
        let Some(backups) = &state.backups else {
            self.backup_last_snapshot_age.set(f64::NAN);
            self.backup_shipping_lag.set(f64::NAN);
            return 0;
        };
        let mut errors = 0;
        for d in backups.destination_status().await {
            let label = DestinationLabel {
                destination: d.name.clone(),
            };
            self.destination_up
                .get_or_create(&label)
                .set(i64::from(d.reachable));
            self.destination_missing_bytes
                .get_or_create(&label)
                .set(d.missing_bytes as i64);
        }
        let now = state.clock.now();
        let tenants = match state.tenants.catalog().list().await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(error = %e, "metrics: listing the tenants for the backup gauges failed");
                return errors + 1;
            }
        };
        let mut oldest_newest: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut lag: f64 = 0.0;
        for t in tenants {
            match backups.tenant_status(&t.slug).await {
                Ok(s) => {
                    let newest = s
                        .last_snapshot_at
                        .as_deref()
                        .or(Some(t.created_at.as_str()))
                        .and_then(parse_timestamp);
                    if let Some(newest) = newest {
                        oldest_newest = Some(oldest_newest.map_or(newest, |o| o.min(newest)));
                    }
                    lag = lag.max(s.lag_seconds);
                }
                Err(e) => {
                    // The tenant's name stays in the log, which the operator reads.
                    tracing::warn!(tenant = %t.slug, error = %e, "metrics: a tenant's backup state could not be read");
                    errors += 1;
                }
            }
        }
        let age = oldest_newest
            .map(|at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        self.backup_last_snapshot_age.set(age);
        self.backup_shipping_lag.set(lag);
        errors
    }
}
