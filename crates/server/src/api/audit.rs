//! Reading the tenant's audit trail (claims S32–S35). Only holders of `audit.read`; there is
//! no route that changes or deletes a record.

use super::TenantPath;
use crate::audit_export;
use crate::export::ExportFormat;
use crate::extract::{ApiQuery, AuditRead, Authorized};
use crate::{ApiError, AppState};
use axum::Json;
use base64::Engine;
use serde::{Deserialize, Serialize};
use skjold_domain::audit::AuditRecord;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::FieldErrors;
use skjold_store::{AuditQuery, TenantDb};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Records at or after this time (RFC 3339).
    #[param(format = DateTime)]
    from: Option<String>,
    /// Records before this time (RFC 3339).
    #[param(format = DateTime)]
    to: Option<String>,
    /// Only this username (for failed sign-ins: the name that was tried).
    user: Option<String>,
    /// Only this client address.
    ip: Option<String>,
    /// Only this kind, e.g. `http.access` or `auth.sign_in.failed`.
    event: Option<String>,
    /// Page size, 1–500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// Newest first.
    items: Vec<AuditRecord>,
    next_cursor: Option<String>,
}

/// An API client that sends `from=` left a time out by mistake; it does not mean "no
/// bound", and the document promises a date-time there. (The web form submits its empty
/// fields and goes to `audit_query` directly, which treats them as absent.)
fn no_empty_times(from: Option<&str>, to: Option<&str>) -> Result<(), FieldErrors> {
    let mut errs = FieldErrors::new();
    for (field, value) in [("from", from), ("to", to)] {
        if value == Some("") {
            errs.add(field, "is empty; leave it out or give an RFC 3339 time");
        }
    }
    errs.into_result()
}

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

/// Search the tenant's audit trail: who did what, when, from where.
#[utoipa::path(get, path = "/audit", tag = "audit", params(TenantPath, AuditParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Matching records, newest first", body = AuditPage),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks audit.read", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 422, description = "Invalid filters", body = crate::error::Problem)))]
async fn search_audit(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authorized<AuditRead>,
    ApiQuery(p): ApiQuery<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    no_empty_times(p.from.as_deref(), p.to.as_deref())?;
    let q = audit_query(
        p.from.as_deref(),
        p.to.as_deref(),
        p.user.as_deref(),
        p.ip.as_deref(),
        p.event.as_deref(),
        p.limit,
        p.cursor.as_deref(),
    )?;
    let (items, more) = search_flushed(&state, auth.db(), &q).await?;
    let next_cursor = if more {
        items.last().map(encode_cursor)
    } else {
        None
    };
    Ok(Json(AuditPage { items, next_cursor }))
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `csv` or `jsonl`.
    format: ExportFormat,
    /// Records at or after this time (RFC 3339).
    from: Option<String>,
    /// Records before this time (RFC 3339).
    to: Option<String>,
    /// Only this username.
    user: Option<String>,
    /// Only this client address.
    ip: Option<String>,
    /// Only this kind.
    event: Option<String>,
}

/// Export every record matching the filters, newest first, as CSV or JSON lines. The export
/// is itself recorded (`audit.exported`).
#[utoipa::path(get, path = "/audit/export", tag = "audit", params(TenantPath, ExportParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The matching records as a download", content(
            (String = "text/csv"),
            (String = "application/x-ndjson"))),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks audit.read", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 422, description = "Invalid filters", body = crate::error::Problem)))]
async fn export_audit(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authorized<AuditRead>,
    axum::Extension(ip): axum::Extension<crate::audit::ClientIp>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> Result<axum::response::Response, ApiError> {
    no_empty_times(p.from.as_deref(), p.to.as_deref())?;
    let q = audit_query(
        p.from.as_deref(),
        p.to.as_deref(),
        p.user.as_deref(),
        p.ip.as_deref(),
        p.event.as_deref(),
        None,
        None,
    )?;
    let detail = export_detail(p.format, &q);
    auth.audit_event(&state, ip.0, audit_export::EXPORTED, detail)
        .await?;
    exported(&state, auth.db(), q, p.format).await
}

/// The download of an export already recorded as an event: waits for the copier so the
/// export includes every record written before it (its own event too), then streams.
pub async fn exported(
    state: &AppState,
    db: &TenantDb,
    q: AuditQuery,
    format: ExportFormat,
) -> Result<axum::response::Response, ApiError> {
    state
        .audit
        .flush()
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let name = format!(
        "audit-{}-{}",
        db.slug(),
        state.clock.now().format("%Y%m%dT%H%M%SZ")
    );
    Ok(audit_export::response(db.clone(), q, format, &name))
}

/// What an export event records: the format and the filters, so an auditor sees what left.
pub fn export_detail(format: ExportFormat, q: &AuditQuery) -> serde_json::Value {
    serde_json::json!({
        "format": format.as_str(),
        "from": q.from,
        "to": q.to,
        "user": q.username,
        "ip": q.ip,
        "event": q.kind,
    })
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_audit))
        .routes(routes!(export_audit))
}
