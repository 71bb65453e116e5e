//! Restores asked for by a tenant's `backup.restore` holder (API or web UI). They run in the
//! background: the request gets a job id at once, and the job's row in the catalog
//! (`backup_runs`, kind `restore`) carries its state, step and result for polling — so a
//! restore that outlives its request (or the process) still leaves its trace.

use crate::{ApiError, AppState};
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use skjold_backup::{BackupError, Progress, RestoreProgress, RestoreRequest};
use skjold_domain::audit::AuditKind;
use skjold_domain::audit::Draft;
use skjold_domain::clock::format_timestamp;
use skjold_domain::TenantSlug;
use skjold_store::{RunEnd, RunOutcome};
use tokio::sync::watch;

/// The kind of a restore's row in `backup_runs`.
pub const RESTORE_RUN: &str = "restore";

/// Writes a restore's progress into its row (JSON text in `progress`).
async fn record_progress(
    state: &AppState,
    job: &str,
    progress: &RestoreProgress,
) -> Result<(), skjold_store::StoreError> {
    let text = serde_json::to_string(progress).unwrap_or_default();
    state.tenants.catalog().run_progress(job, &text).await
}

/// Copies each new progress state of a running restore into its row until the restore
/// drops its end of the channel. States that arrive while a write is under way are
/// coalesced: only the newest is written.
async fn keep_progress(state: AppState, job: String, mut watch: watch::Receiver<RestoreProgress>) {
    loop {
        let closed = watch.changed().await.is_err();
        let latest = watch.borrow_and_update().clone();
        if let Err(e) = record_progress(&state, &job, &latest).await {
            tracing::warn!(job = %job, error = %e, "recording the restore's progress failed");
        }
        if closed {
            return;
        }
    }
}

/// The progress a restore's row holds, if it is one this version wrote (older rows held a
/// line of text).
pub fn progress_of(run: &skjold_store::BackupRun) -> Option<RestoreProgress> {
    run.progress
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok())
}

/// Maps a backup refusal to the problem a client can act on.
pub fn problem(e: BackupError) -> ApiError {
    match e {
        BackupError::NoIdentity => ApiError::Named {
            status: StatusCode::CONFLICT,
            kind: "backup-identity-missing",
            detail: BackupError::NoIdentity.to_string(),
        },
        BackupError::Refused(m) => ApiError::Named {
            status: StatusCode::CONFLICT,
            kind: "restore-refused",
            detail: m,
        },
        other => ApiError::Internal(other.to_string()),
    }
}

fn backups_off() -> ApiError {
    ApiError::Named {
        status: StatusCode::CONFLICT,
        kind: "backups-off",
        detail: "backups are off on this installation (no backup.recipients); there is nothing to restore from".into(),
    }
}

/// The names a tenant's own users may restore into: `{slug}-restored`, or
/// `{slug}-restored-{suffix}` with a suffix of 1–8 lowercase letters or digits — within
/// the 32 characters of a slug. A tenant user restores side by side only into a name that is
/// visibly its own organisation's; any other new tenant is the operator's to create
/// (`skjold backup restore --into`).
pub fn check_derived_target(tenant: &TenantSlug, into: &TenantSlug) -> Result<(), ApiError> {
    let rule = || {
        ApiError::Named {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        kind: "restore-target-not-derived",
        detail: format!(
            "into: a restore from here may only create '{tenant}-restored' or '{tenant}-restored-<1 to 8 lowercase letters or digits>' (at most {} characters); the operator can restore into any other name with 'skjold backup restore --into'",
            skjold_domain::slug::MAX_LEN
        ),
    }
    };
    let rest = into
        .as_str()
        .strip_prefix(tenant.as_str())
        .and_then(|r| r.strip_prefix("-restored"))
        .ok_or_else(rule)?;
    let ok = match rest.strip_prefix('-') {
        None => rest.is_empty(),
        Some(suffix) => {
            (1..=8).contains(&suffix.len())
                && suffix
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        }
    };
    if ok {
        Ok(())
    } else {
        Err(rule())
    }
}

/// Checks a restore request and starts it; returns the job id. Refusals that can be known
/// before any work (no key on the server, a time in the future or before the oldest
/// snapshot, a target tenant that exists) come back at once.
pub async fn start(
    state: &AppState,
    tenant: &TenantSlug,
    at: DateTime<Utc>,
    into: Option<TenantSlug>,
    by: &str,
) -> Result<String, ApiError> {
    // This path serves the tenant's own users (API and web UI); the operator's CLI restores
    // through skjold_backup directly and may name any new tenant.
    if let Some(into) = &into {
        check_derived_target(tenant, into)?;
    }
    let backups = state.backups.clone().ok_or_else(backups_off)?;
    let ids = backups.server_identities().map_err(problem)?;
    if at > state.clock.now() {
        return Err(ApiError::Named {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            kind: "restore-time-in-future",
            detail: format!("{} is in the future", format_timestamp(at)),
        });
    }
    let window = backups.window(tenant.as_str()).await.map_err(problem)?;
    let at_text = format_timestamp(at);
    match &window.oldest {
        Some(oldest) if oldest.as_str() <= at_text.as_str() => {}
        Some(oldest) => {
            return Err(ApiError::Named {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                kind: "restore-time-out-of-window",
                detail: format!("{at_text} is before the oldest restorable point, {oldest}"),
            })
        }
        None => {
            return Err(problem(BackupError::Refused(
                "there is no snapshot of this tenant in the backups yet".into(),
            )))
        }
    }
    let catalog = state.tenants.catalog();
    if let Some(into) = &into {
        if catalog.get(into).await?.is_some() {
            return Err(ApiError::Named {
                status: StatusCode::CONFLICT,
                kind: "restore-target-exists",
                detail: format!(
                    "tenant '{into}' already exists; choose a new name to restore into"
                ),
            });
        }
    }
    let id = catalog
        .run_started(RESTORE_RUN, Some(tenant.as_str()))
        .await?;
    let (progress, watch) = Progress::channel();
    let initial = watch.borrow().clone();
    record_progress(state, &id, &initial).await?;
    let req = RestoreRequest {
        tenant: tenant.clone(),
        at,
        into,
        by: by.to_string(),
    };
    let state = state.clone();
    let job = id.clone();
    tokio::spawn(async move {
        let recorder = tokio::spawn(keep_progress(state.clone(), job.clone(), watch));
        let outcome = backups
            .restore_watched(&req, &ids, &state.audit, &progress)
            .await;
        // The recorder writes the last state once the channel closes; only then is the end
        // recorded, so a poller never sees an older step after the final state.
        drop(progress);
        if let Err(e) = recorder.await {
            tracing::error!(job = %job, error = %e, "the restore's progress recorder failed");
        }
        let catalog = state.tenants.catalog();
        let recorded = match outcome {
            Ok(o) => {
                let detail = serde_json::to_value(&o).unwrap_or_default();
                catalog
                    .run_finished(
                        &job,
                        RunEnd {
                            outcome: RunOutcome::Ok,
                            bytes: None,
                            error: None,
                            detail: Some(&detail),
                        },
                    )
                    .await
            }
            Err(e) => {
                // Refusals are written for the reader; anything else stays in the log.
                let message = match &e {
                    BackupError::Refused(_) | BackupError::Damaged(_) | BackupError::Missing(_) => {
                        e.to_string()
                    }
                    _ => format!("the restore failed on the server's side (job {job}); the operator finds the cause in the log"),
                };
                tracing::error!(tenant = %req.tenant, job = %job, error = %e, "restore failed");
                let detail = serde_json::json!({
                    "job": job, "at": format_timestamp(req.at),
                    "into": req.into.as_ref().map(|s| s.to_string()), "error": message,
                });
                let draft = Draft {
                    at: format_timestamp(state.clock.now()),
                    kind: AuditKind::BackupRestoreFailed.into(),
                    username: Some(req.by.clone()),
                    detail: Some(detail),
                    ..Draft::default()
                };
                if let Err(e) = state.audit.record(req.tenant.as_str(), draft).await {
                    tracing::error!(error = %e, "recording the failed restore in the audit trail failed");
                }
                catalog
                    .run_finished(
                        &job,
                        RunEnd {
                            outcome: RunOutcome::Failed,
                            bytes: None,
                            error: Some(&message),
                            detail: None,
                        },
                    )
                    .await
            }
        };
        if let Err(e) = recorded {
            tracing::error!(job = %job, error = %e, "recording the restore's end failed");
        }
    });
    Ok(id)
}

#[cfg(test)]
mod derived_target_tests {
    use super::*;

    fn slug(s: &str) -> TenantSlug {
        TenantSlug::parse(s).unwrap()
    }

    #[test]
    fn only_names_derived_from_the_tenants_own_slug_are_allowed() {
        let acme = slug("acme");
        for ok in ["acme-restored", "acme-restored-1", "acme-restored-monday1"] {
            assert!(check_derived_target(&acme, &slug(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "globex",
            "acme-old",
            "acmerestored",
            "acme-restored-",
            "acme-restored-toolongsuffix",
            "acme-restoredx",
            "acme-restored-a-b",
            "xacme-restored",
        ] {
            let Ok(target) = TenantSlug::parse(bad) else {
                continue;
            };
            let e = check_derived_target(&acme, &target).unwrap_err();
            assert!(
                matches!(&e, ApiError::Named { status, kind: "restore-target-not-derived", detail }
                    if *status == StatusCode::UNPROCESSABLE_ENTITY && detail.contains("acme-restored")),
                "{bad}: {e:?}"
            );
        }
    }
}
