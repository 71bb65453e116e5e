//! The audit search page: the tenant's audit trail by time range, user, IP address and
//! event, newest first (claims S32–S35; the API's `GET /audit` on the same store query).

use super::auth::{FormData, UiAuth};
use super::fields::show_time;
use super::records::with_query;
use super::templates::{AuditPage, AuditRow, FormField};
use super::{render, Chrome, UiError};
use crate::audit_export::{export_detail, exported};
use crate::audit_search::{audit_query, encode_cursor, search_flushed};
use crate::export::ExportFormat;
use crate::extract::{AuditRead, SignedIn};
use crate::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use skjold_domain::audit::{AuditKind, AuditRecord};
use skjold_domain::FieldErrors;

const PAGE: usize = 50;

/// A `datetime-local` value (UTC) → RFC 3339; anything else is left for the query to judge.
fn time(raw: &str) -> String {
    match chrono::NaiveDateTime::parse_from_str(raw, "%Y-%m-%dT%H:%M") {
        Ok(t) => t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => raw.to_string(),
    }
}

/// `{"reason":"wrong_password","via":"web"}` → `reason: wrong_password · via: web`.
fn show_detail(d: &serde_json::Value) -> String {
    match d {
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => format!("{k}: {s}"),
                other => format!("{k}: {other}"),
            })
            .collect::<Vec<_>>()
            .join(" · "),
        other => other.to_string(),
    }
}

fn row(r: AuditRecord) -> AuditRow {
    let outcome = match (r.kind.as_str(), r.status) {
        (k, _) if k.ends_with(".failed") => "failed",
        (_, Some(s)) if s >= 400 => "failed",
        _ => "ok",
    };
    AuditRow {
        at: show_time(&r.at),
        outcome,
        user: r.username.unwrap_or_default(),
        ip: r.ip.unwrap_or_default(),
        request: match (r.method, r.path) {
            (Some(m), Some(p)) => format!("{m} {p}"),
            _ => String::new(),
        },
        status: r.status.map(|s| s.to_string()).unwrap_or_default(),
        detail: r.detail.map(|d| show_detail(&d)).unwrap_or_default(),
        kind: r.kind,
    }
}

async fn search(
    State(state): State<AppState>,
    auth: UiAuth<AuditRead>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let p = FormData::parse(raw.unwrap_or_default().as_bytes());
    let (from, to, user, ip, event, cursor) = (
        p.text("from"),
        p.text("to"),
        p.text("user"),
        p.text("ip"),
        p.text("event"),
        p.text("cursor"),
    );
    let searched = [&from, &to, &user, &ip, &event]
        .iter()
        .any(|v| !v.is_empty());
    let query = audit_query(
        Some(&time(&from)),
        Some(&time(&to)),
        Some(&user),
        Some(&ip),
        Some(&event),
        Some(PAGE),
        Some(&cursor),
    );
    let base = format!("/{}/admin/audit", auth.slug());
    let filters = [
        ("from", from.as_str()),
        ("to", to.as_str()),
        ("user", user.as_str()),
        ("ip", ip.as_str()),
        ("event", event.as_str()),
    ];
    let (rows, next_href, errs, status) = match query {
        Ok(q) => {
            let (items, more) = search_flushed(&state, auth.db(), &q).await?;
            let next = if more {
                items.last().map(|last| {
                    let c = encode_cursor(last);
                    let mut f = filters.to_vec();
                    f.push(("cursor", &c));
                    with_query(&base, &f)
                })
            } else {
                None
            };
            (
                items.into_iter().map(row).collect(),
                next,
                FieldErrors::new(),
                StatusCode::OK,
            )
        }
        Err(errs) if !cursor.is_empty() && errs.0.iter().all(|e| e.field == "cursor") => {
            // A stale cursor: start from the newest again.
            return Ok(Redirect::to(&with_query(&base, &filters)).into_response());
        }
        Err(errs) => (Vec::new(), None, errs, StatusCode::UNPROCESSABLE_ENTITY),
    };
    let mut event_field =
        FormField::simple("event", "Event", "text", event.clone(), false, "", &errs);
    event_field.list = Some("audit-events");
    let fields = vec![
        FormField::simple(
            "from",
            "From",
            "datetime-local",
            from.clone(),
            false,
            "",
            &errs,
        ),
        FormField::simple("to", "To", "datetime-local", to.clone(), false, "", &errs),
        FormField::simple("user", "Username", "text", user.clone(), false, "", &errs),
        FormField::simple("ip", "IP address", "text", ip.clone(), false, "", &errs),
        event_field,
    ];
    let known = ["from", "to", "user", "ip", "event"];
    let errors = errs
        .0
        .iter()
        .filter(|e| !known.contains(&e.field.as_str()))
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    let export = |format: &str| {
        let mut f = vec![("format", format)];
        f.extend(filters.iter().copied());
        with_query(&format!("{base}/export"), &f)
    };
    let (csv_href, jsonl_href) = (export("csv"), export("jsonl"));
    render(
        status,
        &AuditPage {
            csv_href,
            jsonl_href,
            chrome: Chrome::new(&auth, "admin", "Audit trail"),
            fields,
            errors,
            rows,
            searched,
            next_href,
            first_href: (!cursor.is_empty()).then(|| with_query(&base, &filters)),
            kinds: AuditKind::ALL,
        },
    )
}

/// The matching records as a CSV or JSON-lines download (the same filters as the page).
async fn export(
    State(state): State<AppState>,
    auth: UiAuth<AuditRead>,
    RawQuery(raw): RawQuery,
) -> Result<Response, UiError> {
    let p = FormData::parse(raw.unwrap_or_default().as_bytes());
    let format = ExportFormat::parse(&p.text("format"))
        .ok_or_else(|| UiError::BadRequest("choose the export format: csv or jsonl".into()))?;
    let q = audit_query(
        Some(&time(&p.text("from"))),
        Some(&time(&p.text("to"))),
        Some(&p.text("user")),
        Some(&p.text("ip")),
        Some(&p.text("event")),
        None,
        None,
    )
    .map_err(|errs| {
        UiError::BadRequest(
            errs.0
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    auth.audit_event(&state, AuditKind::AuditExported, export_detail(format, &q))
        .await?;
    Ok(exported(&state, auth.db(), q, format).await?)
}

/// `/{tenant}/admin`: the first admin page the user may use (not a fixed one, which a
/// role with, say, only `backup.restore` could not open).
async fn admin_home(auth: UiAuth<SignedIn>) -> Result<Response, UiError> {
    match super::first_admin_page(&auth) {
        Some(href) => Ok(Redirect::to(&href).into_response()),
        None => Err(UiError::Forbidden(
            "your role includes none of the administration rights".into(),
        )),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/audit", get(search))
        .route("/{tenant}/admin/audit/export", get(export))
        .route("/{tenant}/admin", get(admin_home))
}
