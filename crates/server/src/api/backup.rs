//! The tenant's backups as its administrators see them: snapshots, how far journal shipping
//! lags, whether both destinations are in step. Only holders of `backup.restore`. A restore
//! itself is done by the operator (`skjold backup restore`), who holds the private key.

use super::TenantPath;
use crate::extract::{Authorized, BackupRestore};
use crate::{ApiError, AppState};
use axum::Json;
use serde::Serialize;
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

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(backup_status))
}
