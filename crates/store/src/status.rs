//! The status page's records in the catalog: maintenance windows, incidents and their
//! timelines, operators' overrides, the probes' findings with a daily tally, and the
//! operator API's tokens. Every change takes a [`BeforeCommit`] that records its audit event
//! inside the transaction.

use crate::commit::commit_recorded;
use crate::{BeforeCommit, Catalog, StoreError};
use chrono::{DateTime, Duration, Utc};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::status::{
    Component, ComponentState, Incident, IncidentStatus, IncidentUpdate, MaintenanceWindow,
    StatusOverride,
};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

/// One component's latest probe.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Probe {
    pub component: Component,
    pub state: ComponentState,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// One component's tally of a day.
#[derive(Debug, Clone, serde::Serialize)]
pub struct StatusDay {
    pub component: Component,
    pub day: String,
    pub probes: i64,
    pub operational: i64,
    pub worst: ComponentState,
}

/// An operator API token, without its secret.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OperatorToken {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

fn time(row: &AnyRow, column: &str) -> Result<DateTime<Utc>, StoreError> {
    let text: String = row.try_get(column)?;
    parse_timestamp(&text).ok_or_else(|| StoreError::Corrupt(format!("{column}: '{text}'")))
}

fn optional_time(row: &AnyRow, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    let text: Option<String> = row.try_get(column)?;
    text.map(|t| parse_timestamp(&t).ok_or_else(|| StoreError::Corrupt(format!("{column}: '{t}'"))))
        .transpose()
}

fn components(row: &AnyRow) -> Result<Vec<Component>, StoreError> {
    let text: String = row.try_get("components")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("components: {e}")))
}

fn components_json(list: &[Component]) -> String {
    serde_json::to_string(list).unwrap_or_else(|_| "[]".into())
}

fn corrupt(what: &str) -> impl Fn(String) -> StoreError + '_ {
    move |e| StoreError::Corrupt(format!("{what}: {e}"))
}

fn window_from_row(row: &AnyRow) -> Result<MaintenanceWindow, StoreError> {
    let emergency: i64 = row.try_get("emergency")?;
    Ok(MaintenanceWindow {
        id: row.try_get("id")?,
        summary: row.try_get("summary")?,
        components: components(row)?,
        starts_at: time(row, "starts_at")?,
        ends_at: time(row, "ends_at")?,
        announced_at: time(row, "announced_at")?,
        announced_by: row.try_get("announced_by")?,
        emergency: emergency != 0,
        reason: row.try_get("reason")?,
        cancelled_at: optional_time(row, "cancelled_at")?,
        cancelled_by: row.try_get("cancelled_by")?,
    })
}

const WINDOW_COLUMNS: &str = "id, summary, components, starts_at, ends_at, announced_at, announced_by, emergency, reason, cancelled_at, cancelled_by";
/// An incident's timeline, oldest first.
const UPDATES_OF_INCIDENT: &str =
    "SELECT at, status, message, by_whom FROM incident_updates WHERE incident_id = $1 ORDER BY seq";
const INCIDENT_COLUMNS: &str =
    "id, title, status, impact, components, opened_at, opened_by, resolved_at, review";

impl Catalog {
    /// A fresh, time-ordered id for a status record.
    pub fn new_status_id(&self) -> String {
        crate::users::new_id(self.clock())
    }

    /// Stores an announced maintenance window (checked by the caller).
    pub async fn insert_maintenance(
        &self,
        w: &MaintenanceWindow,
        record: &dyn BeforeCommit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "INSERT INTO maintenance_windows ({WINDOW_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, NULL)"
        ))
        .bind(&w.id)
        .bind(&w.summary)
        .bind(components_json(&w.components))
        .bind(format_timestamp(w.starts_at))
        .bind(format_timestamp(w.ends_at))
        .bind(format_timestamp(w.announced_at))
        .bind(&w.announced_by)
        .bind(i64::from(w.emergency))
        .bind(&w.reason)
        .execute(&mut *tx)
        .await?;
        commit_recorded(tx, Some(record)).await
    }

    /// Marks a window cancelled; [`StoreError::NotFound`] when there is no such window, and
    /// a conflict when it is already cancelled or over.
    pub async fn cancel_maintenance(
        &self,
        id: &str,
        by: &str,
        record: &dyn BeforeCommit,
    ) -> Result<MaintenanceWindow, StoreError> {
        let now = self.clock().now();
        let mut tx = self.write_tx().await?;
        let row = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
        let mut w = window_from_row(&row)?;
        if w.cancelled_at.is_some() {
            return Err(StoreError::Conflict(format!(
                "maintenance {id} is already cancelled"
            )));
        }
        if w.ends_at <= now {
            return Err(StoreError::Conflict(format!(
                "maintenance {id} is over; there is nothing to cancel"
            )));
        }
        sqlx::query(
            "UPDATE maintenance_windows SET cancelled_at = $1, cancelled_by = $2 WHERE id = $3 AND cancelled_at IS NULL",
        )
        .bind(format_timestamp(now))
        .bind(by)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        commit_recorded(tx, Some(record)).await?;
        w.cancelled_at = Some(now);
        w.cancelled_by = Some(by.to_string());
        Ok(w)
    }

    /// Windows that end after `since` (cancelled ones included), by start.
    pub async fn maintenance_since(
        &self,
        since: DateTime<Utc>,
    ) -> Result<Vec<MaintenanceWindow>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE ends_at > $1 ORDER BY starts_at, id"
        ))
        .bind(format_timestamp(since))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(window_from_row).collect()
    }

    pub async fn maintenance(&self, id: &str) -> Result<Option<MaintenanceWindow>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {WINDOW_COLUMNS} FROM maintenance_windows WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(window_from_row).transpose()
    }

    /// Stores a new incident with its first timeline entry.
    pub async fn insert_incident(
        &self,
        i: &Incident,
        record: &dyn BeforeCommit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        sqlx::query(&format!(
            "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)"
        ))
        .bind(&i.id)
        .bind(&i.title)
        .bind(i.status.as_str())
        .bind(i.impact.as_str())
        .bind(components_json(&i.components))
        .bind(format_timestamp(i.opened_at))
        .bind(&i.opened_by)
        .execute(&mut *tx)
        .await?;
        for (seq, u) in i.updates.iter().enumerate() {
            insert_update(&mut tx, &i.id, seq as i64 + 1, u).await?;
        }
        commit_recorded(tx, Some(record)).await
    }

    /// Adds a timeline entry and moves the incident to its status (resolving it when the
    /// status is resolved). `check` sees the incident as stored, inside the transaction, and
    /// refuses a move the lifecycle does not allow.
    pub async fn add_incident_update(
        &self,
        id: &str,
        update: &IncidentUpdate,
        check: impl FnOnce(&Incident) -> Result<(), StoreError>,
        record: &dyn BeforeCommit,
    ) -> Result<Incident, StoreError> {
        let mut tx = self.write_tx().await?;
        let mut incident = incident_in(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        check(&incident)?;
        let seq = incident.updates.len() as i64 + 1;
        insert_update(&mut tx, id, seq, update).await?;
        let resolved = (update.status == IncidentStatus::Resolved).then_some(update.at);
        // The status condition makes two racing updates of a resolved incident both fail.
        let done = sqlx::query(
            "UPDATE incidents SET status = $1, resolved_at = $2 WHERE id = $3 AND status = $4",
        )
        .bind(update.status.as_str())
        .bind(resolved.map(format_timestamp))
        .bind(id)
        .bind(incident.status.as_str())
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(format!(
                "incident {id} changed meanwhile; look at it again"
            )));
        }
        commit_recorded(tx, Some(record)).await?;
        incident.status = update.status;
        incident.resolved_at = resolved;
        incident.updates.push(update.clone());
        Ok(incident)
    }

    /// Stores the post-incident review of a resolved incident.
    pub async fn set_incident_review(
        &self,
        id: &str,
        review: &str,
        record: &dyn BeforeCommit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let incident = incident_in(&mut tx, id)
            .await?
            .ok_or(StoreError::NotFound)?;
        if incident.is_open() {
            return Err(StoreError::Conflict(format!(
                "incident {id} is still {}; the review is written once it is resolved",
                incident.status.as_str()
            )));
        }
        sqlx::query("UPDATE incidents SET review = $1 WHERE id = $2")
            .bind(review)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        commit_recorded(tx, Some(record)).await
    }

    pub async fn incident(&self, id: &str) -> Result<Option<Incident>, StoreError> {
        let mut tx = self.write_tx().await?;
        let found = incident_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(found)
    }

    /// Open incidents, and those resolved after `since`; newest first.
    pub async fn incidents_since(&self, since: DateTime<Utc>) -> Result<Vec<Incident>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE resolved_at IS NULL OR resolved_at > $1 ORDER BY opened_at DESC, id DESC"
        ))
        .bind(format_timestamp(since))
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut incident = incident_from_row(row)?;
            incident.updates = self.updates_of(&incident.id).await?;
            out.push(incident);
        }
        Ok(out)
    }

    async fn updates_of(&self, id: &str) -> Result<Vec<IncidentUpdate>, StoreError> {
        let rows = sqlx::query(UPDATES_OF_INCIDENT)
            .bind(id)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(update_from_row).collect()
    }

    /// Sets (`Some`) or clears (`None`) an operator's override of a component.
    pub async fn set_override(
        &self,
        component: Component,
        set: Option<&StatusOverride>,
        record: &dyn BeforeCommit,
    ) -> Result<(), StoreError> {
        let mut tx = self.write_tx().await?;
        let cleared = sqlx::query("DELETE FROM status_overrides WHERE component = $1")
            .bind(component.as_str())
            .execute(&mut *tx)
            .await?;
        match set {
            Some(o) => {
                sqlx::query(
                    "INSERT INTO status_overrides (component, state, reason, set_by, set_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(o.component.as_str())
                .bind(o.state.as_str())
                .bind(&o.reason)
                .bind(&o.set_by)
                .bind(format_timestamp(o.set_at))
                .execute(&mut *tx)
                .await?;
            }
            None if cleared.rows_affected() == 0 => return Err(StoreError::NotFound),
            None => {}
        }
        commit_recorded(tx, Some(record)).await
    }

    pub async fn overrides(&self) -> Result<Vec<StatusOverride>, StoreError> {
        let rows = sqlx::query(
            "SELECT component, state, reason, set_by, set_at FROM status_overrides ORDER BY component",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                let component: String = r.try_get("component")?;
                let state: String = r.try_get("state")?;
                Ok(StatusOverride {
                    component: Component::parse(&component).map_err(corrupt("override"))?,
                    state: ComponentState::parse(&state).map_err(corrupt("override"))?,
                    reason: r.try_get("reason")?,
                    set_by: r.try_get("set_by")?,
                    set_at: time(r, "set_at")?,
                })
            })
            .collect()
    }

    /// Records what a probe found: the component's latest state, and the day's tally.
    /// `counts_as_up` is whether the finding counts towards uptime (operational, or down
    /// for announced maintenance).
    pub async fn record_probe(&self, probe: &Probe, counts_as_up: bool) -> Result<(), StoreError> {
        let at = format_timestamp(probe.at);
        let day = probe.at.format("%Y-%m-%d").to_string();
        let greatest = match self.backend().kind() {
            crate::BackendKind::Sqlite => "MAX",
            crate::BackendKind::Postgres => "GREATEST",
        };
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO status_probes (component, state, detail, at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (component) DO UPDATE SET state = excluded.state, detail = excluded.detail, at = excluded.at",
        )
        .bind(probe.component.as_str())
        .bind(probe.state.as_str())
        .bind(&probe.detail)
        .bind(&at)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&format!(
            "INSERT INTO status_days (component, day, probes, operational, worst) VALUES ($1, $2, 1, $3, $4) \
             ON CONFLICT (component, day) DO UPDATE SET probes = status_days.probes + 1, \
             operational = status_days.operational + excluded.operational, \
             worst = {greatest}(status_days.worst, excluded.worst)"
        ))
        .bind(probe.component.as_str())
        .bind(&day)
        .bind(i64::from(counts_as_up))
        .bind(probe.state.rank())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn probes(&self) -> Result<Vec<Probe>, StoreError> {
        let rows = sqlx::query("SELECT component, state, detail, at FROM status_probes")
            .fetch_all(self.pool())
            .await?;
        let mut out = Vec::new();
        for r in &rows {
            let component: String = r.try_get("component")?;
            let state: String = r.try_get("state")?;
            // A component this version no longer reports is skipped, not an error.
            let Ok(component) = Component::parse(&component) else {
                continue;
            };
            out.push(Probe {
                component,
                state: ComponentState::parse(&state).map_err(corrupt("probe"))?,
                detail: r.try_get("detail")?,
                at: time(r, "at")?,
            });
        }
        Ok(out)
    }

    /// The daily tallies from `from` (a day, `YYYY-MM-DD`) on.
    pub async fn status_days(&self, from: &str) -> Result<Vec<StatusDay>, StoreError> {
        let rows = sqlx::query(
            "SELECT component, day, probes, operational, worst FROM status_days WHERE day >= $1 ORDER BY component, day",
        )
        .bind(from)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::new();
        for r in &rows {
            let component: String = r.try_get("component")?;
            let Ok(component) = Component::parse(&component) else {
                continue;
            };
            let worst: i64 = r.try_get("worst")?;
            out.push(StatusDay {
                component,
                day: r.try_get("day")?,
                probes: r.try_get("probes")?,
                operational: r.try_get("operational")?,
                worst: ComponentState::from_rank(worst)
                    .ok_or_else(|| StoreError::Corrupt(format!("status day rank {worst}")))?,
            });
        }
        Ok(out)
    }

    /// Forgets daily tallies before `before` (a day); answers how many went.
    pub async fn prune_status_days(&self, before: &str) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM status_days WHERE day < $1")
            .bind(before)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected())
    }

    /// Stores a new operator token by the hash of its secret.
    pub async fn insert_operator_token(
        &self,
        id: &str,
        name: &str,
        secret_hash: &str,
        record: &dyn BeforeCommit,
    ) -> Result<OperatorToken, StoreError> {
        let now = format_timestamp(self.clock().now());
        let mut tx = self.write_tx().await?;
        sqlx::query(
            "INSERT INTO operator_tokens (id, name, secret_hash, created_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(name)
        .bind(secret_hash)
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        commit_recorded(tx, Some(record)).await?;
        Ok(OperatorToken {
            id: id.to_string(),
            name: name.to_string(),
            created_at: now,
            last_used_at: None,
            revoked_at: None,
        })
    }

    pub async fn operator_tokens(&self) -> Result<Vec<OperatorToken>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM operator_tokens ORDER BY created_at, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(operator_token_from_row).collect()
    }

    /// Revokes a token; [`StoreError::NotFound`] when there is no such active token.
    pub async fn revoke_operator_token(
        &self,
        id: &str,
        record: &dyn BeforeCommit,
    ) -> Result<(), StoreError> {
        let now = format_timestamp(self.clock().now());
        let mut tx = self.write_tx().await?;
        let done = sqlx::query(
            "UPDATE operator_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(&now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        commit_recorded(tx, Some(record)).await
    }

    /// The active token whose secret has this hash, its last use noted.
    pub async fn operator_token_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<OperatorToken>, StoreError> {
        let row = sqlx::query(
            "SELECT id, name, created_at, last_used_at, revoked_at FROM operator_tokens WHERE secret_hash = $1 AND revoked_at IS NULL",
        )
        .bind(secret_hash)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let token = operator_token_from_row(&row)?;
        let now = self.clock().now();
        // Noted at most once a minute, so that a busy script does not write on every call.
        let stale = token
            .last_used_at
            .as_deref()
            .and_then(parse_timestamp)
            .is_none_or(|t| now - t > Duration::minutes(1));
        if stale {
            sqlx::query("UPDATE operator_tokens SET last_used_at = $1 WHERE id = $2")
                .bind(format_timestamp(now))
                .bind(&token.id)
                .execute(self.pool())
                .await?;
        }
        Ok(Some(token))
    }
}

fn operator_token_from_row(r: &AnyRow) -> Result<OperatorToken, StoreError> {
    Ok(OperatorToken {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        created_at: r.try_get("created_at")?,
        last_used_at: r.try_get("last_used_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

async fn insert_update(
    tx: &mut Transaction<'static, Any>,
    id: &str,
    seq: i64,
    u: &IncidentUpdate,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO incident_updates (incident_id, seq, at, status, message, by_whom) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id)
    .bind(seq)
    .bind(format_timestamp(u.at))
    .bind(u.status.as_str())
    .bind(&u.message)
    .bind(&u.by)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn incident_in(
    tx: &mut Transaction<'static, Any>,
    id: &str,
) -> Result<Option<Incident>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut incident = incident_from_row(&row)?;
    let rows = sqlx::query(UPDATES_OF_INCIDENT)
        .bind(id)
        .fetch_all(&mut **tx)
        .await?;
    incident.updates = rows.iter().map(update_from_row).collect::<Result<_, _>>()?;
    Ok(Some(incident))
}

fn incident_from_row(row: &AnyRow) -> Result<Incident, StoreError> {
    let status: String = row.try_get("status")?;
    let impact: String = row.try_get("impact")?;
    Ok(Incident {
        id: row.try_get("id")?,
        title: row.try_get("title")?,
        status: IncidentStatus::parse(&status).map_err(corrupt("incident"))?,
        impact: ComponentState::parse(&impact).map_err(corrupt("incident"))?,
        components: components(row)?,
        opened_at: time(row, "opened_at")?,
        opened_by: row.try_get("opened_by")?,
        resolved_at: optional_time(row, "resolved_at")?,
        review: row.try_get("review")?,
        updates: Vec::new(),
    })
}

fn update_from_row(row: &AnyRow) -> Result<IncidentUpdate, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(IncidentUpdate {
        at: time(row, "at")?,
        status: IncidentStatus::parse(&status).map_err(corrupt("incident update"))?,
        message: row.try_get("message")?,
        by: row.try_get("by_whom")?,
    })
}
