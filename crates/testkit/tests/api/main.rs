//! The API test suite: one binary, each test against its own real server over HTTPS.
//! Runs on SQLite, or on PostgreSQL when SKJOLD_TEST_DATABASE_URL is set (.ci/run does both).

mod audit;
mod audit_flood;
mod backup;
mod capacity;
mod conformance;
mod cross_tenant;
mod escalation;
mod export;
mod health;
mod invites;
mod lockout;
mod metrics;
mod openapi;
mod passkeys;
mod password_policy;
mod records;
mod rights;
mod roles;
mod search;
mod session;
mod sessions;
mod signin_races;
mod sso;
mod status_notifications;
mod status_page;
mod step_up;
mod tenancy;
mod tls;
mod tokens;
mod totp;
mod two_factor;
mod ui;
mod users;
mod validation;
