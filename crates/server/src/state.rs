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
    /// Per-address sign-in throttling and bans.
    pub ip_guard: Arc<crate::ipguard::IpGuard>,
    /// Per-address limits on unauthenticated traffic's audit records, and the low-disk guard.
    pub audit_guard: Arc<crate::audit_guard::AuditGuard>,
    /// The backup machinery; `None` while no backup key is configured.
    pub backups: Option<Arc<skjold_backup::Backups>>,
    /// The server as a WebAuthn relying party (passkeys).
    pub relying_party: Arc<crate::passkeys::RelyingParty>,
    /// Maintenance and incident announcements, for the sign-in screen and every page.
    pub notices: Arc<crate::notice_board::NoticeBoard>,
    /// The status page's view, read at most once at a time.
    pub status_view: Arc<crate::fresh::Fresh<skjold_app::status_view::StatusView>>,
    /// Counters and gauges for the metrics listener (`metrics_listen`).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The installation's key for the secrets it keeps for tenants (`data_dir/secrets.key`).
    pub secrets: Arc<skjold_app::sealed::SecretsKey>,
    /// Single sign-on: the presets, the client that talks to providers, their documents.
    pub sso: Arc<crate::sso::Sso>,
}

pub use skjold_domain::SessionSettings;

impl AppState {
    /// A tenant's session settings as stored (all `None` when never set).
    pub async fn session_settings(
        &self,
        db: &skjold_store::TenantDb,
    ) -> Result<SessionSettings, skjold_store::StoreError> {
        tenant_session_settings(db).await
    }

    /// The session timeouts in force for a tenant: its own setting, else the server's.
    pub async fn tenant_session_timeouts(
        &self,
        db: &skjold_store::TenantDb,
    ) -> Result<SessionTimeouts, skjold_store::StoreError> {
        let defaults = self.session_timeouts();
        let Some(value) = db.setting(SessionSettings::NAME).await? else {
            return Ok(defaults);
        };
        let own: SessionSettings = serde_json::from_value(value)
            .map_err(|e| skjold_store::StoreError::Corrupt(format!("session settings: {e}")))?;
        Ok(SessionTimeouts {
            idle: own
                .idle_minutes
                .map(chrono::Duration::minutes)
                .unwrap_or(defaults.idle),
            absolute: own
                .absolute_hours
                .map(chrono::Duration::hours)
                .unwrap_or(defaults.absolute),
        })
    }

    /// The installation's context for operators' actions and the status page.
    pub fn ops(&self) -> skjold_app::operator::OpsCtx<'_> {
        skjold_app::operator::OpsCtx {
            catalog: self.tenants.catalog(),
            audit: &self.audit,
        }
    }

    /// The installation's address as users reach it, without a trailing slash: `public_url`,
    /// else the HTTPS listener's (for links in feeds and messages).
    pub fn public_base_url(&self) -> String {
        self.config.public_base_url()
    }

    /// The server's default session timeouts (configuration).
    pub fn session_timeouts(&self) -> SessionTimeouts {
        SessionTimeouts {
            idle: chrono::Duration::minutes(self.config.session_idle_minutes),
            absolute: chrono::Duration::hours(self.config.session_absolute_hours),
        }
    }
}

/// A tenant's session settings as it set them (the defaults where it set none); also for
/// the command line, which has no [`AppState`].
pub async fn tenant_session_settings(
    db: &skjold_store::TenantDb,
) -> Result<SessionSettings, skjold_store::StoreError> {
    skjold_app::settings::sessions(db).await
}
