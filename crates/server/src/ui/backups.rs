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

/// A restore's progress as the panel shows it.
pub struct RestorePanel {
    pub slug: String,
    pub id: String,
    pub running: bool,
    /// `running`, `ok` or `failed`.
    pub outcome: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    /// The phase and how far it is, e.g. `loading the snapshot: 500/2000 rows (25%)`.
    pub message: String,
    pub percent: Option<u64>,
    /// The phases done, with their durations.
    pub steps: Vec<String>,
    pub error: Option<String>,
}

impl RestorePanel {
    fn of(slug: &str, run: skjold_store::BackupRun) -> Self {
        let progress = crate::restore_jobs::progress_of(&run);
        let running = run.outcome == skjold_store::RunOutcome::Running;
        Self {
            slug: slug.to_string(),
            message: progress
                .as_ref()
                .map_or_else(|| "starting".to_string(), |p| p.describe()),
            percent: progress.as_ref().and_then(|p| p.percent()),
            steps: progress
                .iter()
                .flat_map(|p| &p.finished)
                .map(|f| format!("{} ({:.1} s)", f.phase.label(), f.ms as f64 / 1000.0))
                .collect(),
            id: run.id,
            running,
            outcome: run.outcome.as_str().to_string(),
            started_at: run.started_at,
            finished_at: run.finished_at,
            error: run.error,
        }
    }
}

/// The panel alone: what its htmx poll swaps in.
#[derive(askama::Template)]
#[template(path = "admin_backups_restore.html")]
struct RestorePanelFragment {
    running: Option<RestorePanel>,
}

/// `running` also when it is over: the panel the poll swaps in last shows how it ended.
async fn restore_panel(
    State(state): State<AppState>,
    auth: UiAuth<BackupRestore>,
    axum::extract::Path((_, id)): axum::extract::Path<(String, String)>,
) -> Result<Response, UiError> {
    let slug = auth.db().slug().clone();
    let run = state
        .tenants
        .catalog()
        .tenant_run(slug.as_str(), &id)
        .await?
        .filter(|r| r.kind == crate::restore_jobs::RESTORE_RUN)
        .ok_or(ApiError::NotFound("no such restore"))?;
    render(
        StatusCode::OK,
        &RestorePanelFragment {
            running: Some(RestorePanel::of(slug.as_str(), run)),
        },
    )
}

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
        running: None,
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
        let restores: Vec<skjold_store::BackupRun> = catalog
            .runs(Some(crate::restore_jobs::RESTORE_RUN), 200)
            .await?
            .into_iter()
            .filter(|r| r.tenant.as_deref() == Some(slug.as_str()))
            .take(10)
            .collect();
        // The newest restore gets the panel while it runs, and on the page its start
        // redirects to (so a quick one shows how it ended).
        view.running = restores
            .first()
            .filter(|r| {
                r.outcome == skjold_store::RunOutcome::Running || msg == Some("restore-started")
            })
            .map(|r| RestorePanel::of(slug.as_str(), r.clone()));
        view.restores = restores
            .into_iter()
            .map(|r| BackupLine {
                note: r.error.clone().unwrap_or_else(|| {
                    crate::restore_jobs::progress_of(&r)
                        .map(|p| p.describe())
                        .unwrap_or_default()
                }),
                at: r.started_at,
                what: "restore".into(),
                outcome: r.outcome.as_str().into(),
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
        .route("/{tenant}/admin/backups/restores/{id}", get(restore_panel))
        .route(
            "/{tenant}/admin/backups/restore",
            get(|| async { Redirect::to("../backups") }).merge(post(restore)),
        )
}
