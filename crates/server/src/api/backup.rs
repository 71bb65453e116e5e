//! The tenant's backups as its administrators see them: snapshots, how far journal shipping
//! lags, whether both destinations are in step, the restorable window — and restores, run
//! in the background with the server's key (`backup.identity_file`). Only holders of
//! `backup.restore`; API tokens cannot reach these routes.

use super::TenantPath;
use crate::extract::{ApiJson, Authorized, BackupRestore};
use crate::{ApiError, AppState};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use skjold_domain::{FieldErrors, TenantSlug};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

#[derive(Serialize, ToSchema)]
pub struct SnapshotInfo {
    id: String,
    /// When it was taken (RFC 3339).
    at: String,
    /// `nightly`, `manual`, `initial` or `safety`.
    reason: String,
    /// Encrypted size in bytes.
    bytes: u64,
}

#[derive(Serialize, ToSchema)]
pub struct DestinationInfo {
    name: String,
    reachable: bool,
    /// Files the other destination has and this one lacks.
    missing_objects: u64,
}

#[derive(Serialize, ToSchema)]
pub struct BackupStatus {
    /// False while the installation has no backup key configured.
    enabled: bool,
    /// Oldest first.
    snapshots: Vec<SnapshotInfo>,
    /// The tenant's newest change-journal position.
    journal_position: i64,
    /// The newest position that is in the backups.
    shipped_position: i64,
    /// How long the oldest change not yet in the backups has waited, in seconds.
    lag_seconds: f64,
    destinations: Vec<DestinationInfo>,
}

/// The tenant's backups: snapshots (restorable points start at the oldest), shipping lag
/// and the destinations' state.
#[utoipa::path(get, path = "/backup", tag = "backup", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Backup status", body = BackupStatus),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks backup.restore", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn backup_status(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authorized<BackupRestore>,
) -> Result<Json<BackupStatus>, ApiError> {
    let Some(backups) = &state.backups else {
        return Ok(Json(BackupStatus {
            enabled: false,
            snapshots: Vec::new(),
            journal_position: auth.db().journal_position().await?,
            shipped_position: 0,
            lag_seconds: 0.0,
            destinations: Vec::new(),
        }));
    };
    let internal = |e: skjold_backup::BackupError| ApiError::Internal(e.to_string());
    let slug = auth.db().slug().clone();
    let snapshots = backups
        .list_snapshots(slug.as_str())
        .await
        .map_err(internal)?;
    let t = backups.tenant_status(&slug).await.map_err(internal)?;
    let destinations = backups
        .destination_status()
        .await
        .into_iter()
        .map(|d| DestinationInfo {
            name: d.name,
            reachable: d.reachable,
            missing_objects: d.missing_objects,
        })
        .collect();
    Ok(Json(BackupStatus {
        enabled: true,
        snapshots: snapshots
            .into_iter()
            .map(|s| SnapshotInfo {
                id: s.id,
                at: s.at,
                reason: s.reason,
                bytes: s.ciphertext.size,
            })
            .collect(),
        journal_position: t.journal_position,
        shipped_position: t.shipped_position,
        lag_seconds: t.lag_seconds,
        destinations,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct RestorePoints {
    /// False while the installation has no backup key configured.
    enabled: bool,
    /// Whether the server holds the key to restore (`backup.identity_file`); without it a
    /// restore request is refused with 409.
    can_restore: bool,
    /// The oldest restorable second (RFC 3339), the oldest snapshot's.
    #[schema(format = DateTime)]
    oldest: Option<String>,
    /// The newest restorable second: the last change in the backups.
    #[schema(format = DateTime)]
    newest: Option<String>,
    /// Oldest first.
    snapshots: Vec<SnapshotInfo>,
}

/// The restorable window: any second from `oldest` to `newest`.
#[utoipa::path(get, path = "/backup/points", tag = "backup", params(TenantPath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The restorable window and snapshots", body = RestorePoints),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks backup.restore", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem)))]
async fn restore_points(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authorized<BackupRestore>,
) -> Result<Json<RestorePoints>, ApiError> {
    let Some(backups) = &state.backups else {
        return Ok(Json(RestorePoints {
            enabled: false,
            can_restore: false,
            oldest: None,
            newest: None,
            snapshots: Vec::new(),
        }));
    };
    let w = backups
        .window(auth.db().slug().as_str())
        .await
        .map_err(crate::restore_jobs::problem)?;
    Ok(Json(RestorePoints {
        enabled: true,
        can_restore: backups.config().identity_file.is_some(),
        oldest: w.oldest,
        newest: w.newest,
        snapshots: w
            .snapshots
            .into_iter()
            .map(|s| SnapshotInfo {
                id: s.id,
                at: s.at,
                reason: s.reason,
                bytes: s.ciphertext.size,
            })
            .collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBody {
    /// The moment to restore to, RFC 3339 (e.g. `2026-11-26T10:13:00Z`).
    #[schema(format = DateTime)]
    at: String,
    /// Restore side by side into this new tenant (a slug); leave out to restore in place
    /// (a safety snapshot is taken first).
    into: Option<String>,
}

/// A phase that is over.
#[derive(Serialize, ToSchema)]
pub struct RestorePhaseTime {
    /// The phase (as in `RestoreProgress.phase`).
    phase: String,
    /// How long it took, in milliseconds.
    ms: u64,
}

/// How far a restore has come. Counts are given where they are known: bytes while the
/// snapshot is fetched and decrypted, rows while a JSON-lines snapshot is loaded, segments
/// while the journal is fetched, entries (and the segment they came from) while it is
/// replayed.
#[derive(Serialize, ToSchema)]
pub struct RestoreProgress {
    /// `fetching`, `fetching_journal`, `decrypting`, `loading`, `checking`, `replaying`,
    /// `safety_snapshot` (in place), `swapping` or `done`. A failed restore keeps the phase
    /// it failed in.
    phase: String,
    /// The phase for people, e.g. `replaying the journal: segment 2/3, 1200/5000 journal
    /// entries (24%)`.
    message: String,
    done: Option<u64>,
    total: Option<u64>,
    /// What `done` and `total` count: `bytes`, `rows`, `entries` or `segments`.
    unit: Option<String>,
    /// `done` of `total` in whole percent.
    percent: Option<u64>,
    /// While replaying: the journal segment being applied (1-based) and how many there are.
    segment: Option<u64>,
    segments: Option<u64>,
    /// The phases before this one, in order.
    finished: Vec<RestorePhaseTime>,
}

/// The snake_case name serde gives a progress enum.
fn name_of<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl From<skjold_backup::RestoreProgress> for RestoreProgress {
    fn from(p: skjold_backup::RestoreProgress) -> Self {
        Self {
            phase: name_of(&p.phase),
            message: p.describe(),
            done: p.done,
            total: p.total,
            unit: p.unit.as_ref().map(name_of),
            percent: p.percent(),
            segment: p.segment,
            segments: p.segments,
            finished: p
                .finished
                .iter()
                .map(|f| RestorePhaseTime {
                    phase: name_of(&f.phase),
                    ms: f.ms,
                })
                .collect(),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct RestoreJob {
    id: String,
    /// `running`, `ok` or `failed`.
    state: String,
    /// The phase the restore is at (or ended in) and how far it is.
    progress: Option<RestoreProgress>,
    #[schema(format = DateTime)]
    started_at: String,
    #[schema(format = DateTime)]
    finished_at: Option<String>,
    /// What the restore did (snapshot, journal entries replayed, safety snapshot, rows).
    #[schema(value_type = Option<Object>)]
    result: Option<serde_json::Value>,
    error: Option<String>,
}

impl From<skjold_store::BackupRun> for RestoreJob {
    fn from(r: skjold_store::BackupRun) -> Self {
        Self {
            progress: crate::restore_jobs::progress_of(&r).map(RestoreProgress::from),
            id: r.id,
            state: r.outcome.as_str().to_string(),
            started_at: r.started_at,
            finished_at: r.finished_at,
            result: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
            error: r.error,
        }
    }
}

/// Start a restore of the tenant to a moment: in place (after a safety snapshot) or into a
/// new tenant. Runs in the background; poll the job.
#[utoipa::path(post, path = "/backup/restore", tag = "backup", params(TenantPath),
    security(("bearer" = [])),
    request_body = RestoreBody,
    responses(
        (status = 202, description = "Started; poll `/backup/restores/{id}`", body = RestoreJob),
        (status = 400, description = "Malformed body", body = crate::error::Problem),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks backup.restore", body = crate::error::Problem),
        (status = 404, description = "No such tenant", body = crate::error::Problem),
        (status = 409, description = "Cannot restore: backups off (`backups-off`), no key on the server (`backup-identity-missing`), the target tenant exists (`restore-target-exists`), nothing to restore (`restore-refused`)", body = crate::error::Problem),
        (status = 413, description = "Body too large", body = crate::error::Problem),
        (status = 415, description = "Body is not JSON", body = crate::error::Problem),
        (status = 422, description = "Invalid fields, or a moment in the future or before the oldest snapshot", body = crate::error::Problem)))]
async fn start_restore(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authorized<BackupRestore>,
    ApiJson(body): ApiJson<RestoreBody>,
) -> Result<(StatusCode, Json<RestoreJob>), ApiError> {
    let at = chrono::DateTime::parse_from_rfc3339(body.at.trim())
        .map_err(|_| FieldErrors::single("at", "an RFC 3339 time such as 2026-11-26T10:13:00Z"))?
        .with_timezone(&chrono::Utc);
    let into = body
        .into
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| TenantSlug::parse(s).map_err(|m| FieldErrors::single("into", m.to_string())))
        .transpose()?;
    let slug = auth.db().slug().clone();
    if into.as_ref() == Some(&slug) {
        return Err(FieldErrors::single(
            "into",
            "names this tenant; leave it out to restore in place",
        )
        .into());
    }
    let id = crate::restore_jobs::start(&state, &slug, at, into, &auth.user().username).await?;
    let run = state
        .tenants
        .catalog()
        .tenant_run(slug.as_str(), &id)
        .await?
        .ok_or(ApiError::Internal("the restore job vanished".into()))?;
    Ok((StatusCode::ACCEPTED, Json(run.into())))
}

/// `{tenant}` and a restore job `{id}`.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct RestorePath {
    tenant: String,
    /// The job id `POST /backup/restore` answered with.
    #[param(pattern = "^[0-9a-f]{32}$")]
    id: String,
}

/// A restore job: its state, progress (phase, done of total) and result. Poll it while
/// `state` is `running`.
#[utoipa::path(get, path = "/backup/restores/{id}", tag = "backup", params(RestorePath),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The job", body = RestoreJob),
        (status = 401, description = "Not signed in", body = crate::error::Problem),
        (status = 403, description = "Lacks backup.restore", body = crate::error::Problem),
        (status = 404, description = "No such tenant, or no such restore of this tenant", body = crate::error::Problem)))]
async fn restore_job(
    axum::extract::State(state): axum::extract::State<AppState>,
    auth: Authorized<BackupRestore>,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<RestoreJob>, ApiError> {
    if id.len() != 32
        || !id
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    {
        return Err(ApiError::NotFound("no such restore"));
    }
    let run = state
        .tenants
        .catalog()
        .tenant_run(auth.db().slug().as_str(), &id)
        .await?
        .filter(|r| r.kind == crate::restore_jobs::RESTORE_RUN)
        .ok_or(ApiError::NotFound("no such restore"))?;
    Ok(Json(run.into()))
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(backup_status))
        .routes(routes!(restore_points))
        .routes(routes!(start_restore))
        .routes(routes!(restore_job))
}
