use crate::Config;
use ipnet::IpNet;
use skjold_audit::AuditTrail;
use skjold_domain::SharedClock;
use skjold_store::{SessionTimeouts, TenantRouter};
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub tenants: Arc<TenantRouter>,
    pub clock: SharedClock,
    pub config: Arc<Config>,
    pub audit: AuditTrail,
    /// Peers whose `X-Forwarded-For` is believed (from `trusted_proxies`).
    pub trusted_proxies: Arc<Vec<IpNet>>,
    /// The backup machinery; `None` while no backup key is configured.
    pub backups: Option<Arc<skjold_backup::Backups>>,
}

impl AppState {
    pub fn session_timeouts(&self) -> SessionTimeouts {
        SessionTimeouts {
            idle: chrono::Duration::minutes(self.config.session_idle_minutes),
            absolute: chrono::Duration::hours(self.config.session_absolute_hours),
        }
    }
}
