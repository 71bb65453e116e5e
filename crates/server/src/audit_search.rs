//! Searching a tenant's audit trail: the filters shared by the API, the web UI and the CLI,
//! turned into a store query, the paging cursor, and a search that sees the records of the
//! requests answered just before it.

use crate::{ApiError, AppState};
use base64::Engine;
use skjold_domain::audit::AuditRecord;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::FieldErrors;
use skjold_store::{AuditQuery, TenantDb};

/// Parses the filters shared by the API and the CLI into a store query.
pub fn audit_query(
    from: Option<&str>,
    to: Option<&str>,
    user: Option<&str>,
    ip: Option<&str>,
    event: Option<&str>,
    limit: Option<usize>,
    cursor: Option<&str>,
) -> Result<AuditQuery, FieldErrors> {
    let mut errs = FieldErrors::new();
    let mut time = |field: &str, v: Option<&str>| {
        v.filter(|s| !s.is_empty())
            .and_then(|s| match parse_timestamp(s) {
                Some(t) => Some(format_timestamp(t)),
                None => {
                    errs.add(field, "must be an RFC 3339 time, e.g. 2026-05-01T14:05:00Z");
                    None
                }
            })
    };
    let from = time("from", from);
    let to = time("to", to);
    let limit = limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        errs.add("limit", "must be between 1 and 500");
    }
    if let Some(ip) = ip.filter(|s| !s.is_empty()) {
        if ip.parse::<std::net::IpAddr>().is_err() {
            errs.add("ip", "is not an IP address");
        }
    }
    let before = match cursor.filter(|c| !c.is_empty()) {
        Some(c) => {
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(c)
                .ok()
                .and_then(|raw| serde_json::from_slice::<(String, i64)>(&raw).ok());
            if decoded.is_none() {
                errs.add("cursor", "is not a cursor this server handed out");
            }
            decoded
        }
        None => None,
    };
    errs.into_result()?;
    let text = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_string);
    Ok(AuditQuery {
        from,
        to,
        username: text(user).map(|u| u.to_lowercase()),
        ip: text(ip),
        kind: text(event),
        before,
        limit,
    })
}

pub fn encode_cursor(r: &AuditRecord) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::json!([r.at, r.seq]).to_string())
}

/// Searches a tenant's trail including the records of requests answered just before this
/// one (read-your-writes for the API and the web UI).
pub async fn search_flushed(
    state: &AppState,
    db: &TenantDb,
    q: &AuditQuery,
) -> Result<(Vec<AuditRecord>, bool), ApiError> {
    state
        .audit
        .flush()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(db.audit().search(q).await?)
}
