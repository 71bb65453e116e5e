//! The status page's live probes: every 30 seconds (job `status.probe`) each component is
//! checked from inside the server, and what was found goes to the catalog — the latest state
//! for the page, and the day's tally for the 90-day uptime history. The words written here
//! are public: they say what users notice, never an internal error.

use crate::AppState;
use chrono::{DateTime, Duration, Utc};
use skjold_domain::clock::parse_timestamp;
use skjold_domain::status::{
    Component, ComponentState, MaintenanceState, MaintenanceWindow, HISTORY_DAYS,
};
use skjold_store::Probe;
use std::time::Instant;

/// A database round trip slower than this shows as degraded.
const SLOW_DATABASE: std::time::Duration = std::time::Duration::from_millis(500);
/// A tenant's nightly snapshot older than this is overdue (a day and two hours' grace).
const SNAPSHOT_OVERDUE_HOURS: i64 = 26;

/// Probes every component once and records what it found; answers the findings.
pub async fn probe_all(state: &AppState) -> Result<Vec<Probe>, String> {
    let now = state.clock.now();
    let catalog = state.tenants.catalog();
    let mut found = Vec::new();
    for &component in Component::ALL {
        let (component_state, detail) = match component {
            Component::Web => (
                ComponentState::Operational,
                "answering requests".to_string(),
            ),
            Component::SignIn => sign_in(),
            Component::Database => database(state).await,
            Component::Backups => backups(state, now).await,
        };
        found.push(Probe {
            component,
            state: component_state,
            detail,
            at: now,
        });
    }
    // Down for announced maintenance counts as up: that is what the notice was for.
    let windows = catalog
        .maintenance_since(now)
        .await
        .map_err(|e| e.to_string())?;
    for probe in &found {
        let announced = in_maintenance(&windows, probe.component, now);
        let up = probe.state == ComponentState::Operational || announced;
        catalog
            .record_probe(probe, up)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(found)
}

fn in_maintenance(windows: &[MaintenanceWindow], component: Component, now: DateTime<Utc>) -> bool {
    windows
        .iter()
        .any(|w| w.state(now) == MaintenanceState::InProgress && w.components.contains(&component))
}

/// Sign-in is degraded while every password-checking place is taken (new sign-ins wait).
fn sign_in() -> (ComponentState, String) {
    let (places, free) = skjold_app::credentials::hashing_load();
    if free == 0 {
        (
            ComponentState::Degraded,
            format!("sign-ins are queueing ({places} being checked at once)"),
        )
    } else {
        (
            ComponentState::Operational,
            "accepting sign-ins".to_string(),
        )
    }
}

/// The catalog's round trip: slow is degraded, no answer is a major outage.
async fn database(state: &AppState) -> (ComponentState, String) {
    let started = Instant::now();
    let answered = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        state.tenants.catalog().ping(),
    )
    .await;
    let took = started.elapsed();
    match answered {
        Ok(Ok(())) if took < SLOW_DATABASE => (
            ComponentState::Operational,
            format!("answering in {} ms", took.as_millis()),
        ),
        Ok(Ok(())) => (
            ComponentState::Degraded,
            format!("answering slowly ({} ms)", took.as_millis()),
        ),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "status probe: the catalog database failed");
            (ComponentState::MajorOutage, "not answering".to_string())
        }
        Err(_) => (
            ComponentState::MajorOutage,
            "not answering within 5 s".to_string(),
        ),
    }
}

/// Backups: off, a failed or overdue nightly snapshot, or a destination catching up.
async fn backups(state: &AppState, now: DateTime<Utc>) -> (ComponentState, String) {
    if state.backups.is_none() {
        return (
            ComponentState::PartialOutage,
            "backups are off on this installation".to_string(),
        );
    }
    let catalog = state.tenants.catalog();
    let runs = match catalog.runs(Some("backup.snapshot"), 20).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "status probe: reading the backup runs failed");
            return (ComponentState::Degraded, "backup state unknown".to_string());
        }
    };
    let last_ok = runs
        .iter()
        .filter(|r| r.outcome == skjold_store::RunOutcome::Ok)
        .filter_map(|r| parse_timestamp(&r.started_at))
        .max();
    if let Some(failed) = runs
        .iter()
        .find(|r| r.outcome != skjold_store::RunOutcome::Running)
        .filter(|r| r.outcome == skjold_store::RunOutcome::Failed)
    {
        tracing::warn!(run = %failed.id, "status probe: the last nightly backup failed");
        return (
            ComponentState::PartialOutage,
            "the last nightly backup failed".to_string(),
        );
    }
    let overdue = Duration::hours(SNAPSHOT_OVERDUE_HOURS);
    match last_ok {
        Some(at) if now - at > overdue => (
            ComponentState::Degraded,
            "the nightly backup is overdue".to_string(),
        ),
        Some(at) => (
            ComponentState::Operational,
            format!("last nightly backup {} h ago", (now - at).num_hours()),
        ),
        None => {
            // A new installation has had no night yet.
            let oldest = catalog.list().await.ok().and_then(|t| {
                t.iter()
                    .filter_map(|t| parse_timestamp(&t.created_at))
                    .min()
            });
            match oldest {
                Some(since) if now - since > overdue => (
                    ComponentState::Degraded,
                    "no nightly backup has run yet".to_string(),
                ),
                _ => (
                    ComponentState::Operational,
                    "continuous journal shipping; the first nightly backup is due tonight"
                        .to_string(),
                ),
            }
        }
    }
}

/// Forgets daily tallies older than the history (job `status.prune`, daily).
pub async fn prune(state: &AppState) -> Result<u64, String> {
    let before = (state.clock.now() - Duration::days(HISTORY_DAYS))
        .format("%Y-%m-%d")
        .to_string();
    state
        .tenants
        .catalog()
        .prune_status_days(&before)
        .await
        .map_err(|e| e.to_string())
}
