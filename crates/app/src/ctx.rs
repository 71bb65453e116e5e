//! Where an action happens: the tenant, the audit trail, the clock and the request.

use skjold_audit::AuditTrail;
use skjold_domain::SharedClock;
use skjold_store::{TenantDb, TenantRecord};
use std::net::IpAddr;

/// What an action needs besides its actor and input.
#[derive(Clone)]
pub struct Ctx<'a> {
    pub tenant: &'a TenantRecord,
    pub db: &'a TenantDb,
    pub audit: &'a AuditTrail,
    pub clock: &'a SharedClock,
    /// The client's address (none at the command line).
    pub ip: Option<IpAddr>,
    /// The request's id, to tie the audit event to its access record.
    pub request_id: Option<String>,
}
