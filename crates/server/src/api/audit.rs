//! Reading the tenant's audit trail (claims S32–S35). Only holders of `audit.read`; there is
//! no route that changes or deletes a record.

use super::TenantPath;
use crate::audit_export::{export_detail, exported};
use crate::audit_search::{audit_query, encode_cursor, search_flushed};
use crate::export::ExportFormat;
use crate::extract::{ApiQuery, AuditRead, Authorized};
use crate::{ApiError, AppState};
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::audit::{AuditKind, AuditRecord};
use skjold_domain::FieldErrors;
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
    auth.audit_event(&state, ip.0, AuditKind::AuditExported, detail)
        .await?;
    exported(&state, auth.db(), q, p.format).await
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(search_audit))
        .routes(routes!(export_audit))
}
