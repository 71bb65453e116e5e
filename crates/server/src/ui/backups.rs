//! Administration: the tenant's backups — destinations and lag, the restorable window, the
//! latest snapshots, drill evidence and restores — and a restore form with a confirmation
//! step (the API's `/backup/…`). Plain forms: works without JavaScript.

use super::auth::{Post, UiAuth};
use super::templates::{AdminBackupsPage, BackupDestRow, BackupLine};
use super::{render, Chrome, UiError};
use crate::extract::{BackupRestore, Requirement};
use crate::{ApiError, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use skjold_domain::TenantSlug;

async fn page<R: Requirement>(
    state: &AppState,
    auth: &UiAuth<R>,
    confirm: Option<(String, String)>,
    errors: Vec<String>,
    msg: Option<&str>,
    status: StatusCode,
) -> Result<Response, UiError> {
    let chrome = Chrome::new(auth, "admin", "Backups").with_flash(msg);
    let mut view = AdminBackupsPage {
        chrome,
        enabled: false,
        can_restore: false,
        oldest: "-".into(),
        newest: String::new(),
        lag_seconds: "0".into(),
        destinations: Vec::new(),
        snapshots: Vec::new(),
        drills: Vec::new(),
        restores: Vec::new(),
        confirm_into: confirm.as_ref().map(|c| c.1.clone()).unwrap_or_default(),
        confirm_at: confirm.map(|c| c.0),
        errors,
    };
    if let Some(b) = &state.backups {
        let internal = |e: skjold_backup::BackupError| ApiError::Internal(e.to_string());
        let slug = auth.db().slug().clone();
        let w = b.window(slug.as_str()).await.map_err(internal)?;
        let t = b.tenant_status(&slug).await.map_err(internal)?;
        view.enabled = true;
        view.can_restore = b.config().identity_file.is_some();
        view.oldest = w.oldest.unwrap_or_else(|| "-".into());
        view.newest = w.newest.unwrap_or_default();
        view.lag_seconds = format!("{:.1}", t.lag_seconds);
        view.destinations = b
            .destination_status()
            .await
            .into_iter()
            .map(|d| BackupDestRow {
                name: d.name,
                reachable: d.reachable,
                missing_objects: d.missing_objects,
            })
            .collect();
        view.snapshots = w
            .snapshots
            .iter()
            .rev()
            .take(10)
            .map(|s| BackupLine {
                at: s.at.clone(),
                what: format!("snapshot ({})", s.reason),
                outcome: "kept".into(),
                note: format!("{} bytes encrypted", s.ciphertext.size),
            })
            .collect();
        let catalog = state.tenants.catalog();
        view.drills = catalog
            .drills(Some(slug.as_str()), 10)
            .await?
            .into_iter()
            .map(|d| BackupLine {
                at: d.started_at,
                what: "restore drill".into(),
                outcome: d.outcome,
                note: d
                    .error
                    .unwrap_or_else(|| format!("{} ms, compared {}", d.duration_ms, d.compared)),
            })
            .collect();
        view.restores = catalog
            .runs(Some(crate::restore_jobs::RESTORE_RUN), 200)
            .await?
            .into_iter()
            .filter(|r| r.tenant.as_deref() == Some(slug.as_str()))
            .take(10)
            .map(|r| BackupLine {
                at: r.started_at,
                what: "restore".into(),
                outcome: r.outcome.as_str().into(),
                note: r.error.or(r.progress).unwrap_or_default(),
            })
            .collect();
    }
    render(status, &view)
}

async fn show(
    State(state): State<AppState>,
    auth: UiAuth<BackupRestore>,
    axum::extract::RawQuery(raw): axum::extract::RawQuery,
) -> Result<Response, UiError> {
    let params = super::auth::FormData::parse(raw.unwrap_or_default().as_bytes());
    page(
        &state,
        &auth,
        None,
        Vec::new(),
        params.get("msg"),
        StatusCode::OK,
    )
    .await
}

/// First post: checks the form and shows the confirmation; the confirmed post starts it.
async fn restore(
    State(state): State<AppState>,
    post: Post<BackupRestore>,
) -> Result<Response, UiError> {
    let Post { auth, form } = post;
    let at_text = form.text("at").trim().to_string();
    let into_text = form.text("into").trim().to_string();
    let refuse = |m: String| (m,);
    let checked = (|| {
        let at = chrono::DateTime::parse_from_rfc3339(&at_text)
            .map_err(|_| {
                refuse(format!(
                    "'{at_text}' is not a moment like 2026-11-26T10:13:00Z"
                ))
            })?
            .with_timezone(&chrono::Utc);
        let into = if into_text.is_empty() {
            None
        } else {
            Some(
                TenantSlug::parse(&into_text)
                    .map_err(|e| refuse(format!("new organisation: {e}")))?,
            )
        };
        if into.as_ref() == Some(auth.db().slug()) {
            return Err(refuse(
                "that is this organisation; leave the field empty to restore in place".into(),
            ));
        }
        Ok((at, into))
    })();
    let (at, into) = match checked {
        Ok(v) => v,
        Err((m,)) => {
            return page(
                &state,
                &auth,
                None,
                vec![m],
                None,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    };
    if form.text("confirmed") != "yes" {
        return page(
            &state,
            &auth,
            Some((at_text, into_text)),
            Vec::new(),
            None,
            StatusCode::OK,
        )
        .await;
    }
    let slug = auth.db().slug().clone();
    match crate::restore_jobs::start(&state, &slug, at, into, &auth.user().username).await {
        Ok(_) => Ok(Redirect::to(&format!(
            "/{}/admin/backups?msg=restore-started",
            auth.slug()
        ))
        .into_response()),
        Err(ApiError::Named { detail, status, .. }) => {
            page(&state, &auth, None, vec![detail], None, status).await
        }
        Err(e) => Err(e.into()),
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{tenant}/admin/backups", get(show))
        .route(
            "/{tenant}/admin/backups/restore",
            get(|| async { Redirect::to("../backups") }).merge(post(restore)),
        )
}
