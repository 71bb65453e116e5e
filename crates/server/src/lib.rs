//! The Skjold HTTP server: TLS, security headers, the tenant router, the REST API.

pub mod api;
pub mod audit;
pub mod audit_export;
pub mod config;
mod error;
mod extract;
pub mod ipguard;
pub mod jobs;
mod middleware;
pub mod password;
pub mod provision;
mod redirect;
pub mod scopes;
pub mod signin;
mod startup;
mod state;
pub mod tls;
pub mod totp;
pub mod ui;

pub use config::{Config, ConfigOverrides};
pub use error::ApiError;
pub use startup::{app_router, shutdown_signal, Application, DemoCredentials};
pub use state::AppState;
