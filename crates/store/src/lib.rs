//! Where Skjold keeps things: the catalog of tenants and one database per tenant, on SQLite
//! or PostgreSQL through the same code.
//!
//! Tenant data is reachable only through a [`TenantDb`], which only the [`TenantRouter`]
//! hands out. Every change to tenant data goes through the write path in [`records`], which
//! appends to the tenant's change journal in the same transaction.

mod api_tokens;
mod audit;
mod backend;
mod backup_log;
pub mod capacity;
mod catalog;
mod commit;
pub mod dump;
mod error;
mod identity;
mod identity_providers;
mod invites;
mod journal;
mod recent;
pub mod records;
pub mod registry;
mod roles;
mod router;
mod search;
mod search_index;
mod sessions;
mod sight;
mod sqlite_file;
mod status;
mod status_subscriptions;
mod teams;
mod tenant;
mod totp;
mod two_factor;
mod users;

pub use api_tokens::{ApiToken, NewApiToken};
pub use audit::{AuditQuery, AuditTable};
pub use backend::{create_private_dir, Backend, BackendKind};
pub use backup_log::{BackupRun, DrillRecord, RunEnd, RunOutcome};
pub use capacity::{CapacitySample, DatabaseSizes};
pub use catalog::{Catalog, NewTenant, TenantRecord, TenantStatus};
pub use commit::BeforeCommit;
pub use dump::{DumpItem, DumpSink, ExportSummary, JournalRecord, LoadObserver, MemorySink};
pub use error::StoreError;
pub use identity::{FailureOutcome, Reservation, SignInLock};
pub use identity_providers::{IdentityLink, IdentityProvider, SsoFlow, MAX_PENDING_FLOWS};
pub use invites::Invite;
pub use journal::{Actor, HistoryEntry, JournalOp};
pub use recent::RecentChange;
pub use records::{ListQuery, ListSort, Page, MAX_LIMIT};
pub use roles::{check_role_name, NewRole, RolePatch, RoleRecord};
pub use router::TenantRouter;
pub use sessions::{EndedAccess, Session, SessionInfo, SessionTimeouts};
pub use sight::Sight;
pub use sqlite_file::check_sqlite_file;
pub use status::{OperatorToken, Probe, StatusDay};
pub use status_subscriptions::{Delivery, Subscription};
pub use teams::{Team, TeamMember, TeamPatch};
pub use tenant::TenantDb;
pub use totp::TotpFactor;
pub use two_factor::{Ceremony, PasskeyRecord};
pub use users::{NewUser, User, UserKind, UserPatch, UserStatus};

/// Register the SQLite and PostgreSQL drivers behind sqlx's `Any` pool. Idempotent.
pub fn install_drivers() {
    sqlx::any::install_default_drivers();
}
