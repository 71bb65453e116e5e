//! What the status page shows (and its JSON and Atom forms, `skjold status`, the sign-in
//! screen's notices and the in-app banner): one read of the catalog, composed by the rules
//! of [`skjold_domain::status`] at the clock's time.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use skjold_domain::status::{
    component_state, Component, ComponentState, Incident, MaintenanceState, MaintenanceWindow,
    StatusOverride, HISTORY_DAYS,
};
use skjold_store::{Catalog, StoreError};

/// How long finished maintenance stays listed on the status page.
const RECENT_MAINTENANCE_DAYS: i64 = 7;

#[derive(Debug, Clone, Serialize)]
pub struct StatusView {
    pub generated_at: DateTime<Utc>,
    /// The worst state of any component.
    pub overall: ComponentState,
    /// "All systems operational", or what is wrong.
    pub summary: String,
    pub components: Vec<ComponentView>,
    /// Scheduled and in-progress windows, then those finished or cancelled in the last days;
    /// by start.
    pub maintenance: Vec<MaintenanceView>,
    /// Open incidents, then those resolved in the last 90 days; newest first.
    pub incidents: Vec<Incident>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentView {
    pub id: Component,
    pub name: &'static str,
    pub state: ComponentState,
    /// What the last probe found, in words meant for the public.
    pub detail: String,
    pub probed_at: Option<DateTime<Utc>>,
    #[serde(rename = "override")]
    pub overridden: Option<StatusOverride>,
    /// Share of probes that found it up over the history (announced maintenance counts as
    /// up); `None` before the first probe.
    pub uptime_percent: Option<f64>,
    /// One entry per day, oldest first, [`HISTORY_DAYS`] days ending today.
    pub history: Vec<DayView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DayView {
    pub day: String,
    pub uptime_percent: Option<f64>,
    pub worst: Option<ComponentState>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceView {
    #[serde(flatten)]
    pub window: MaintenanceWindow,
    pub state: MaintenanceState,
}

/// Something every user should see: maintenance announced or under way, or an open incident.
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// Stable per window or incident update, so a dismissed banner stays dismissed until
    /// something new is said.
    pub id: String,
    pub kind: &'static str,
    pub title: String,
    pub text: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub emergency: bool,
    pub in_progress: bool,
}

fn percent(up: i64, all: i64) -> Option<f64> {
    (all > 0).then(|| (up as f64 * 100_000.0 / all as f64).round() / 1000.0)
}

/// The whole status at `now`.
pub async fn status(catalog: &Catalog, now: DateTime<Utc>) -> Result<StatusView, StoreError> {
    let windows = catalog
        .maintenance_since(now - Duration::days(RECENT_MAINTENANCE_DAYS))
        .await?;
    let incidents = catalog
        .incidents_since(now - Duration::days(HISTORY_DAYS))
        .await?;
    let overrides = catalog.overrides().await?;
    let probes = catalog.probes().await?;
    let first_day = (now - Duration::days(HISTORY_DAYS - 1))
        .format("%Y-%m-%d")
        .to_string();
    let days = catalog.status_days(&first_day).await?;

    let mut components = Vec::new();
    for &component in Component::ALL {
        let probe = probes.iter().find(|p| p.component == component);
        let overridden = overrides.iter().find(|o| o.component == component).cloned();
        let probed = probe.map_or(ComponentState::Operational, |p| p.state);
        let state = component_state(
            component,
            probed,
            overridden.as_ref(),
            &windows,
            &incidents,
            now,
        );
        let own: Vec<_> = days.iter().filter(|d| d.component == component).collect();
        let history = (0..HISTORY_DAYS)
            .rev()
            .map(|back| {
                let day = (now - Duration::days(back)).format("%Y-%m-%d").to_string();
                let found = own.iter().find(|d| d.day == day);
                DayView {
                    uptime_percent: found.and_then(|d| percent(d.operational, d.probes)),
                    worst: found.map(|d| d.worst),
                    day,
                }
            })
            .collect();
        components.push(ComponentView {
            id: component,
            name: component.label(),
            state,
            detail: probe.map_or_else(|| "not probed yet".to_string(), |p| p.detail.clone()),
            probed_at: probe.map(|p| p.at),
            overridden,
            uptime_percent: percent(
                own.iter().map(|d| d.operational).sum(),
                own.iter().map(|d| d.probes).sum(),
            ),
            history,
        });
    }
    let overall = components
        .iter()
        .map(|c| c.state)
        .max()
        .unwrap_or(ComponentState::Operational);
    let summary = match overall {
        ComponentState::Operational => "All systems operational".to_string(),
        _ => {
            let hit: Vec<String> = components
                .iter()
                .filter(|c| c.state != ComponentState::Operational)
                .map(|c| format!("{}: {}", c.name, c.state.label().to_lowercase()))
                .collect();
            hit.join("; ")
        }
    };
    let mut maintenance: Vec<MaintenanceView> = windows
        .into_iter()
        .map(|w| MaintenanceView {
            state: w.state(now),
            window: w,
        })
        .collect();
    // What is ahead or under way first, then the recent past.
    maintenance.sort_by_key(|m| {
        (
            !matches!(
                m.state,
                MaintenanceState::Scheduled | MaintenanceState::InProgress
            ),
            m.window.starts_at,
        )
    });
    let mut incidents = incidents;
    incidents.sort_by_key(|i| (!i.is_open(), std::cmp::Reverse(i.opened_at)));
    Ok(StatusView {
        generated_at: now,
        overall,
        summary,
        components,
        maintenance,
        incidents,
    })
}

/// What every sign-in screen and every page of the app announces at `now`.
pub async fn notices(catalog: &Catalog, now: DateTime<Utc>) -> Result<Vec<Notice>, StoreError> {
    let mut out = Vec::new();
    for w in catalog.maintenance_since(now).await? {
        if !w.is_announced(now) {
            continue;
        }
        let in_progress = w.state(now) == MaintenanceState::InProgress;
        let mut text = format!("Affects: {}.", w.affected());
        if let Some(reason) = &w.reason {
            text = format!("Emergency maintenance: {reason}. {text}");
        }
        out.push(Notice {
            id: format!("maintenance-{}", w.id),
            kind: "maintenance",
            title: w.summary.clone(),
            text,
            starts_at: Some(w.starts_at),
            ends_at: Some(w.ends_at),
            emergency: w.emergency,
            in_progress,
        });
    }
    for i in catalog.incidents_since(now).await? {
        if !i.is_open() {
            continue;
        }
        let latest = i.updates.last();
        out.push(Notice {
            id: format!("incident-{}-{}", i.id, i.updates.len()),
            kind: "incident",
            title: i.title.clone(),
            text: latest.map_or_else(String::new, |u| {
                format!("{}: {}", u.status.label(), u.message)
            }),
            starts_at: Some(i.opened_at),
            ends_at: None,
            emergency: false,
            in_progress: true,
        });
    }
    Ok(out)
}
