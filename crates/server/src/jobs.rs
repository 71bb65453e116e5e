//! The scheduler: named background jobs that run when due by the injected clock, so tests
//! move time and call [`Scheduler::run_due`] instead of waiting.
//!
//! Backup jobs: `backup.snapshot` (checks every minute whether the nightly snapshot of
//! `backup.snapshot_time` is due), `backup.audit_files` (closed audit days, hourly),
//! `backup.sync` (catches a destination up, every 15 minutes) and `backup.prune` (daily
//! retention). Journal shipping runs in its own loop every `backup.ship_interval_seconds`.
//!
//! Jobs today: `audit.verify` (daily: every chain checked; damage raises a security event in
//! the installation's chain and the tenant's) and `audit.retention` (daily: closed days past
//! `audit_retention_days` leave the chain behind an anchor), and `sessions.cleanup` (daily:
//! each tenant's sessions that ended by its timeouts but were never presented again, and
//! its failed sign-in records untouched for a day and not locked), and `capacity.sample`
//! (daily: the sizes of the disk, each database, the audit logs and the backups, kept for
//! `skjold capacity`'s forecast; a space that runs out within 30 days at its trend is
//! warned about in the log).
//! Status page jobs: `status.probe` (every 30 s: each component probed, its state and the
//! day's uptime tally written to the catalog), `status.notify` (every minute: announcements,
//! reminders and incident updates to the subscribers, see `notify::status`) and
//! `status.prune` (daily: tallies older than the 90-day history go).
//! In a scale-out installation each node runs its own scheduler for now; a lease so that a
//! job runs on one node at a time is still to come.

use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use skjold_domain::audit::AuditKind;
use skjold_domain::audit::{Draft, SYSTEM_CHAIN};
use skjold_domain::clock::format_timestamp;
use std::future::Future;
use std::pin::Pin;

/// Jobs whose success is logged at debug level only.
const QUIET: &[&str] = &["status.probe", "status.notify"];

type JobFn =
    fn(AppState) -> Pin<Box<dyn Future<Output = Result<serde_json::Value, String>> + Send>>;

struct Job {
    name: &'static str,
    every: Duration,
    next_due: Option<DateTime<Utc>>,
    run: JobFn,
}

pub struct Scheduler {
    jobs: Vec<Job>,
}

impl Default for Scheduler {
    fn default() -> Self {
        Self::standard()
    }
}

impl Scheduler {
    /// The installation's standard jobs, each due at once and then at its interval.
    pub fn standard() -> Self {
        Self {
            jobs: vec![
                Job {
                    name: "audit.retention",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(audit_retention(s)),
                },
                Job {
                    name: "audit.verify",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(audit_verify(s)),
                },
                Job {
                    name: "sessions.cleanup",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(sessions_cleanup(s)),
                },
                Job {
                    name: "status.probe",
                    every: Duration::seconds(30),
                    next_due: None,
                    run: |s| Box::pin(status_probe(s)),
                },
                Job {
                    name: "status.notify",
                    every: Duration::minutes(1),
                    next_due: None,
                    run: |s| Box::pin(status_notify(s)),
                },
                Job {
                    name: "status.prune",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(status_prune(s)),
                },
                Job {
                    name: "capacity.sample",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(capacity_sample(s)),
                },
            ],
        }
    }

    /// The standard jobs and, when backups are configured, the backup jobs.
    pub fn for_state(state: &AppState) -> Self {
        let mut s = Self::standard();
        if state.backups.is_some() {
            s.jobs.extend([
                Job {
                    name: "backup.snapshot",
                    every: Duration::minutes(1),
                    next_due: None,
                    run: |s| Box::pin(backup_snapshot(s)),
                },
                Job {
                    name: "backup.audit_files",
                    every: Duration::hours(1),
                    next_due: None,
                    run: |s| Box::pin(backup_audit_files(s)),
                },
                Job {
                    name: "backup.sync",
                    every: Duration::minutes(15),
                    next_due: None,
                    run: |s| Box::pin(backup_sync(s)),
                },
                Job {
                    name: "backup.prune",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(backup_prune(s)),
                },
                Job {
                    name: "backup.drill",
                    every: Duration::days(1),
                    next_due: None,
                    run: |s| Box::pin(backup_drill(s)),
                },
            ]);
        }
        s
    }

    /// Runs every job that is due now by the state's clock; returns the names run.
    pub async fn run_due(&mut self, state: &AppState) -> Vec<&'static str> {
        let mut ran = Vec::new();
        for job in &mut self.jobs {
            let now = state.clock.now();
            if job.next_due.is_some_and(|due| now < due) {
                continue;
            }
            job.next_due = Some(now + job.every);
            let started = format_timestamp(now);
            let outcome = (job.run)(state.clone()).await;
            match &outcome {
                // Every 30 seconds: the log would be nothing else.
                Ok(summary) if QUIET.contains(&job.name) => {
                    tracing::debug!(job = job.name, %summary, "job done")
                }
                Ok(summary) => tracing::info!(job = job.name, %summary, "job done"),
                Err(e) => tracing::error!(job = job.name, error = %e, "job failed"),
            }
            if job.name.starts_with("backup.") {
                record_run(state, job.name, &started, &outcome).await;
            }
            ran.push(job.name);
        }
        ran
    }

    /// Checks for due jobs every 30 seconds of real time (the status probes' interval),
    /// starting 30 seconds after start-up, until the process ends.
    pub fn spawn(mut self, state: AppState) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let period = std::time::Duration::from_secs(30);
            let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            loop {
                tick.tick().await;
                self.run_due(&state).await;
            }
        })
    }
}

/// Keeps a backup job's run in the catalog's history; a check that found nothing due (the
/// nightly snapshot's minutely look) leaves no row.
async fn record_run(
    state: &AppState,
    name: &str,
    started: &str,
    outcome: &Result<serde_json::Value, String>,
) {
    if matches!(outcome, Ok(v) if v.get("due") == Some(&serde_json::Value::Bool(false))) {
        return;
    }
    let skipped = matches!(outcome, Ok(v) if v.get("skipped").is_some());
    let end = skjold_store::RunEnd {
        outcome: match outcome {
            Ok(_) if skipped => skjold_store::RunOutcome::Skipped,
            Ok(_) => skjold_store::RunOutcome::Ok,
            Err(_) => skjold_store::RunOutcome::Failed,
        },
        bytes: outcome
            .as_ref()
            .ok()
            .and_then(|v| v.get("bytes"))
            .and_then(|b| b.as_u64()),
        error: outcome.as_ref().err().map(String::as_str),
        detail: outcome.as_ref().ok(),
    };
    if let Err(e) = state
        .tenants
        .catalog()
        .record_run(name, None, started, end)
        .await
    {
        tracing::error!(job = name, error = %e, "recording the job run failed");
    }
}

/// Every tenant of the installation, from the catalog.
async fn tenants(state: &AppState) -> Result<Vec<skjold_store::TenantRecord>, String> {
    state
        .tenants
        .catalog()
        .list()
        .await
        .map_err(|e| e.to_string())
}

/// Every chain: the installation's and each tenant's.
async fn chains(state: &AppState) -> Result<Vec<String>, String> {
    let mut chains = vec![SYSTEM_CHAIN.to_string()];
    chains.extend(
        tenants(state)
            .await?
            .into_iter()
            .map(|t| t.slug.as_str().to_string()),
    );
    Ok(chains)
}

async fn system_event(
    state: &AppState,
    chain: &str,
    kind: AuditKind,
    detail: serde_json::Value,
) -> Result<(), String> {
    let draft = Draft {
        at: format_timestamp(state.clock.now()),
        kind: kind.into(),
        username: Some("system".to_string()),
        detail: Some(detail),
        ..Draft::default()
    };
    state
        .audit
        .record(chain, draft)
        .await
        .map_err(|e| e.to_string())
}

/// Verifies every chain. Damage is a security event in `_system` and in the damaged chain;
/// the run itself is recorded in `_system` as evidence that the check happens.
pub async fn audit_verify(state: AppState) -> Result<serde_json::Value, String> {
    let root = skjold_audit::logs_root(&state.config.data_dir);
    state.audit.flush().await.map_err(|e| e.to_string())?;
    let mut damaged = Vec::new();
    let mut checked = 0;
    for chain in chains(&state).await? {
        let report = skjold_audit::verify_chain(&state.tenants, &root, &chain)
            .await
            .map_err(|e| e.to_string())?;
        checked += 1;
        if !report.ok() {
            let first = &report.damage[0];
            let detail = serde_json::json!({
                "chain": chain, "kind": first.kind, "location": first.location,
                "detail": first.detail, "damage_count": report.damage.len(),
            });
            system_event(
                &state,
                SYSTEM_CHAIN,
                AuditKind::AuditVerifyFailed,
                detail.clone(),
            )
            .await?;
            if chain != SYSTEM_CHAIN {
                system_event(&state, &chain, AuditKind::AuditVerifyFailed, detail).await?;
            }
            damaged.push(chain);
        }
    }
    let summary = serde_json::json!({ "chains": checked, "damaged": damaged });
    system_event(
        &state,
        SYSTEM_CHAIN,
        AuditKind::AuditVerified,
        summary.clone(),
    )
    .await?;
    Ok(summary)
}

/// Purges closed days older than the retention period from every chain.
pub async fn audit_retention(state: AppState) -> Result<serde_json::Value, String> {
    let root = skjold_audit::logs_root(&state.config.data_dir);
    let now = state.clock.now();
    let before_day = (now - Duration::days(state.config.audit_retention_days))
        .format("%Y-%m-%d")
        .to_string();
    let mut purged = Vec::new();
    for chain in chains(&state).await? {
        let report = skjold_audit::purge_before(
            &state.tenants,
            &state.audit,
            &root,
            &chain,
            &before_day,
            &format_timestamp(now),
        )
        .await
        .map_err(|e| e.to_string())?;
        if let Some(r) = report {
            purged.push(serde_json::to_value(r).unwrap_or_default());
        }
    }
    Ok(serde_json::json!({ "before_day": before_day, "purged": purged }))
}

/// Deletes every tenant's ended sessions (a session is otherwise deleted only when it is
/// presented after its end, and one never presented again would keep its user's address
/// and browser for good), and the failed sign-in records of names untouched for a day and
/// not locked (probing random usernames would otherwise grow that table for good).
/// Takes the day's capacity samples, and warns of a space that runs out within 30 days.
pub async fn capacity_sample(state: AppState) -> Result<serde_json::Value, String> {
    let now = state.clock.now();
    let samples = crate::capacity::sample(
        &state.tenants,
        &state.config.data_dir,
        &state.config.backup.destinations,
        now,
    )
    .await
    .map_err(|e| e.to_string())?;
    let report = crate::capacity::report(state.tenants.catalog(), now)
        .await
        .map_err(|e| e.to_string())?;
    let mut warnings = 0;
    for subject in &report {
        if let Some(days) = subject.warning_days() {
            warnings += 1;
            tracing::warn!(
                subject = %subject.subject,
                days = days.floor(),
                "SPACE RUNS OUT SOON: at its trend {} is full in under 30 days (skjold capacity)",
                subject.subject
            );
        }
    }
    Ok(serde_json::json!({ "samples": samples.len(), "warnings": warnings }))
}

pub async fn sessions_cleanup(state: AppState) -> Result<serde_json::Value, String> {
    let tenants = tenants(&state).await?;
    let mut deleted = 0;
    let mut failures_pruned = 0;
    for tenant in &tenants {
        let Some((_, db)) = state
            .tenants
            .open(&tenant.slug)
            .await
            .map_err(|e| e.to_string())?
        else {
            continue;
        };
        let timeouts = state
            .tenant_session_timeouts(&db)
            .await
            .map_err(|e| e.to_string())?;
        deleted += db
            .delete_ended_sessions(timeouts)
            .await
            .map_err(|e| e.to_string())?;
        failures_pruned += db
            .prune_sign_in_failures()
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(serde_json::json!({
        "tenants": tenants.len(),
        "deleted": deleted,
        "sign_in_failures_pruned": failures_pruned,
    }))
}

fn backups(state: &AppState) -> Option<&std::sync::Arc<skjold_backup::Backups>> {
    state.backups.as_ref()
}

fn off() -> serde_json::Value {
    serde_json::json!({ "skipped": "backups are off (no backup.recipients)" })
}

/// The nightly snapshot of every tenant, once the day's `backup.snapshot_time` has passed.
/// A failure is a security event in the installation's chain.
pub async fn backup_snapshot(state: AppState) -> Result<serde_json::Value, String> {
    let Some(b) = backups(&state) else {
        return Ok(off());
    };
    if !b.nightly_due().await.map_err(|e| e.to_string())? {
        return Ok(serde_json::json!({ "due": false }));
    }
    let (done, failed) = b.snapshot_all("nightly").await.map_err(|e| e.to_string())?;
    let bytes: u64 = done.iter().map(|m| m.ciphertext.size).sum();
    if !failed.is_empty() {
        system_event(
            &state,
            SYSTEM_CHAIN,
            AuditKind::BackupSnapshotFailed,
            serde_json::json!({ "failed": failed }),
        )
        .await?;
    }
    b.mark_nightly_done().await.map_err(|e| e.to_string())?;
    Ok(serde_json::json!({ "snapshots": done.len(), "bytes": bytes, "failed": failed }))
}

pub async fn backup_audit_files(state: AppState) -> Result<serde_json::Value, String> {
    let Some(b) = backups(&state) else {
        return Ok(off());
    };
    let n = b.backup_audit_days().await.map_err(|e| e.to_string())?;
    Ok(serde_json::json!({ "days_backed_up": n }))
}

pub async fn backup_sync(state: AppState) -> Result<serde_json::Value, String> {
    let Some(b) = backups(&state) else {
        return Ok(off());
    };
    let r = b.sync().await.map_err(|e| e.to_string())?;
    serde_json::to_value(r).map_err(|e| e.to_string())
}

pub async fn backup_prune(state: AppState) -> Result<serde_json::Value, String> {
    let Some(b) = backups(&state) else {
        return Ok(off());
    };
    let r = b.prune().await.map_err(|e| e.to_string())?;
    serde_json::to_value(r).map_err(|e| e.to_string())
}

/// The daily restore drill of every tenant (see `skjold_backup::drill`). Without the
/// server's key there is nothing to decrypt with: skipped, and said so.
pub async fn backup_drill(state: AppState) -> Result<serde_json::Value, String> {
    let Some(b) = backups(&state) else {
        return Ok(off());
    };
    let ids = match b.server_identities() {
        Ok(ids) => ids,
        Err(skjold_backup::BackupError::NoIdentity) => {
            tracing::warn!("restore drills skipped: backup.identity_file is not set, so the server cannot decrypt a backup");
            return Ok(serde_json::json!({ "skipped": "backup.identity_file is not set" }));
        }
        Err(e) => return Err(e.to_string()),
    };
    let drills = b
        .drill_all(&ids, &state.audit)
        .await
        .map_err(|e| e.to_string())?;
    let failed: Vec<&str> = drills
        .iter()
        .filter(|d| d.outcome != "passed")
        .map(|d| d.tenant.as_str())
        .collect();
    Ok(serde_json::json!({ "drilled": drills.len(), "failed": failed }))
}

async fn status_probe(state: AppState) -> Result<serde_json::Value, String> {
    let found = crate::status_probes::probe_all(&state).await?;
    state
        .notices
        .fresh(state.tenants.catalog(), state.clock.now())
        .await;
    Ok(serde_json::json!(found
        .iter()
        .map(|p| (p.component.as_str(), p.state.as_str()))
        .collect::<std::collections::BTreeMap<_, _>>()))
}

async fn status_notify(state: AppState) -> Result<serde_json::Value, String> {
    crate::notify::status::run(&state).await
}

async fn status_prune(state: AppState) -> Result<serde_json::Value, String> {
    let pruned = crate::status_probes::prune(&state).await?;
    Ok(serde_json::json!({ "days_pruned": pruned }))
}
