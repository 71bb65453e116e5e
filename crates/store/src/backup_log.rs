//! The catalog's record of backup work: job and restore runs, restore drills, and the marks
//! that tell a restarted scheduler what it already did.

use crate::{Catalog, StoreError};
use serde::Serialize;
use skjold_domain::clock::format_timestamp;
use sqlx::Row;

/// How a run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Running,
    Ok,
    Failed,
    Skipped,
}

impl RunOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Failed => "failed",
            RunOutcome::Skipped => "skipped",
        }
    }

    fn parse(s: &str) -> Result<Self, StoreError> {
        Ok(match s {
            "running" => RunOutcome::Running,
            "ok" => RunOutcome::Ok,
            "failed" => RunOutcome::Failed,
            "skipped" => RunOutcome::Skipped,
            other => return Err(StoreError::Corrupt(format!("run outcome '{other}'"))),
        })
    }
}

/// One run of a backup job or a restore.
#[derive(Debug, Clone, Serialize)]
pub struct BackupRun {
    pub id: String,
    pub kind: String,
    pub tenant: Option<String>,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub outcome: RunOutcome,
    pub progress: Option<String>,
    pub bytes: Option<i64>,
    pub error: Option<String>,
    /// JSON text.
    pub detail: Option<String>,
}

/// The end of a run.
#[derive(Debug, Clone)]
pub struct RunEnd<'a> {
    pub outcome: RunOutcome,
    pub bytes: Option<u64>,
    pub error: Option<&'a str>,
    pub detail: Option<&'a serde_json::Value>,
}

/// The evidence one restore drill leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrillRecord {
    pub id: String,
    pub tenant: String,
    pub started_at: String,
    pub finished_at: String,
    /// The instant restored to.
    pub point: String,
    pub snapshot: Option<String>,
    /// `passed` or `failed`.
    pub outcome: String,
    pub duration_ms: i64,
    pub replayed: i64,
    /// `manifest` (integrity and row counts) or `manifest+export` (and a full export
    /// compared with the live tenant's).
    pub compared: String,
    pub error: Option<String>,
}

const RUN_COLUMNS: &str =
    "id, kind, tenant, started_at, finished_at, outcome, progress, bytes, error, detail";

fn run_from_row(r: &sqlx::any::AnyRow) -> Result<BackupRun, StoreError> {
    Ok(BackupRun {
        id: r.try_get("id")?,
        kind: r.try_get("kind")?,
        tenant: r.try_get("tenant")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        outcome: RunOutcome::parse(&r.try_get::<String, _>("outcome")?)?,
        progress: r.try_get("progress")?,
        bytes: r.try_get("bytes")?,
        error: r.try_get("error")?,
        detail: r.try_get("detail")?,
    })
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Catalog {
    /// Records that a run began; returns its id.
    pub async fn run_started(
        &self,
        kind: &str,
        tenant: Option<&str>,
    ) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO backup_runs (id, kind, tenant, started_at, outcome) \
             VALUES ($1, $2, $3, $4, 'running')",
        )
        .bind(&id)
        .bind(kind)
        .bind(tenant)
        .bind(format_timestamp(self.clock().now()))
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// Records a run that is already over.
    pub async fn record_run(
        &self,
        kind: &str,
        tenant: Option<&str>,
        started_at: &str,
        end: RunEnd<'_>,
    ) -> Result<String, StoreError> {
        let id = new_id();
        sqlx::query(
            "INSERT INTO backup_runs (id, kind, tenant, started_at, finished_at, outcome, bytes, \
             error, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&id)
        .bind(kind)
        .bind(tenant)
        .bind(started_at)
        .bind(format_timestamp(self.clock().now()))
        .bind(end.outcome.as_str())
        .bind(end.bytes.map(|b| b as i64))
        .bind(end.error)
        .bind(end.detail.map(|d| d.to_string()))
        .execute(self.pool())
        .await?;
        Ok(id)
    }

    /// The step a running run is at, for whoever polls it.
    pub async fn run_progress(&self, id: &str, progress: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE backup_runs SET progress = $1 WHERE id = $2")
            .bind(progress)
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    pub async fn run_finished(&self, id: &str, end: RunEnd<'_>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE backup_runs SET finished_at = $1, outcome = $2, bytes = $3, error = $4, \
             detail = $5 WHERE id = $6",
        )
        .bind(format_timestamp(self.clock().now()))
        .bind(end.outcome.as_str())
        .bind(end.bytes.map(|b| b as i64))
        .bind(end.error)
        .bind(end.detail.map(|d| d.to_string()))
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// One run, only if it belongs to `tenant` (a tenant never sees another's runs).
    pub async fn tenant_run(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<BackupRun>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM backup_runs WHERE id = $1 AND tenant = $2"
        ))
        .bind(id)
        .bind(tenant)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(run_from_row).transpose()
    }

    /// The newest runs, optionally of one kind, newest first.
    pub async fn runs(&self, kind: Option<&str>, limit: u32) -> Result<Vec<BackupRun>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RUN_COLUMNS} FROM backup_runs WHERE ($1 IS NULL OR kind = $1) \
             ORDER BY started_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(kind)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(run_from_row).collect()
    }

    /// Runs left `running` by a process that ended: they will never finish, so they are
    /// marked failed (called at start-up).
    pub async fn fail_interrupted_runs(&self) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE backup_runs SET outcome = 'failed', finished_at = $1, \
             error = 'interrupted: the server stopped while it ran' WHERE outcome = 'running'",
        )
        .bind(format_timestamp(self.clock().now()))
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected())
    }

    pub async fn record_drill(&self, d: &DrillRecord) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO backup_drills (id, tenant, started_at, finished_at, point, snapshot, \
             outcome, duration_ms, replayed, compared, error) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&d.id)
        .bind(&d.tenant)
        .bind(&d.started_at)
        .bind(&d.finished_at)
        .bind(&d.point)
        .bind(&d.snapshot)
        .bind(&d.outcome)
        .bind(d.duration_ms)
        .bind(d.replayed)
        .bind(&d.compared)
        .bind(&d.error)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// The newest drills (of one tenant, or all), newest first.
    pub async fn drills(
        &self,
        tenant: Option<&str>,
        limit: u32,
    ) -> Result<Vec<DrillRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT id, tenant, started_at, finished_at, point, snapshot, outcome, duration_ms, \
             replayed, compared, error FROM backup_drills WHERE ($1 IS NULL OR tenant = $1) \
             ORDER BY started_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 1000)
        ))
        .bind(tenant)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(DrillRecord {
                    id: r.try_get("id")?,
                    tenant: r.try_get("tenant")?,
                    started_at: r.try_get("started_at")?,
                    finished_at: r.try_get("finished_at")?,
                    point: r.try_get("point")?,
                    snapshot: r.try_get("snapshot")?,
                    outcome: r.try_get("outcome")?,
                    duration_ms: r.try_get("duration_ms")?,
                    replayed: r.try_get("replayed")?,
                    compared: r.try_get("compared")?,
                    error: r.try_get("error")?,
                })
            })
            .collect()
    }

    /// When the job `name` last did its work.
    pub async fn job_mark(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT done_at FROM job_marks WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn set_job_mark(&self, name: &str, done_at: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO job_marks (name, done_at) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET done_at = excluded.done_at",
        )
        .bind(name)
        .bind(done_at)
        .execute(self.pool())
        .await?;
        Ok(())
    }
}
