//! The Skjold HTTP server: TLS, security headers, the tenant router, the REST API.

mod acting;
pub mod api;
pub mod audit;
pub mod audit_export;
pub mod audit_guard;
pub mod config;
mod error;
pub mod export;
mod extract;
pub mod invites;
pub mod ipguard;
pub mod jobs;
mod middleware;
pub mod passkeys;
pub mod provision;
pub mod records_export;
mod redirect;
pub mod restore_jobs;
pub mod scopes;
pub mod signin;
mod startup;
mod state;
pub mod step_up;
pub mod tls;
pub mod totp;
pub mod two_factor;
pub mod ui;

/// The parsers of untrusted input that live in this crate, in one place for the fuzz targets
/// in `fuzz/` (see docs/security-testing.md). Each is the function the request path calls.
pub mod parsers {
    pub use crate::api::audit::AuditParams;
    pub use crate::api::{DeleteParams, ListParams};
    pub use crate::extract::parse_query;
    pub use crate::ui::auth::{cookie, safe_next, session_token, FormData};
}

pub use config::{Config, ConfigOverrides};
pub use error::ApiError;
/// The application layer's rules, where handlers of this crate name them.
pub use skjold_app::{access, password};
pub use startup::{app_router, shutdown_signal, Application, DemoCredentials};
pub use state::AppState;
