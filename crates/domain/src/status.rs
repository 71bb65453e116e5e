//! The installation's status as its users see it: components and their states, maintenance
//! windows announced ahead, and incidents with their timeline. The rules live here (how much
//! notice a maintenance needs, which way an incident may move, what a component shows when
//! probes, incidents, maintenance and an operator's override disagree); time always comes in
//! as an argument, from the injected clock.

use crate::FieldErrors;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How far ahead maintenance must be announced (claim S15), unless it is an emergency.
pub const MIN_NOTICE_HOURS: i64 = 24;
/// How long the uptime history of each component reaches back.
pub const HISTORY_DAYS: i64 = 90;
/// The longest maintenance window that can be announced.
pub const MAX_WINDOW_DAYS: i64 = 7;

/// A part of the service that the status page reports on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    Web,
    SignIn,
    Database,
    Backups,
}

impl Component {
    /// Every component, in the order the status page lists them. (Documents and the virus
    /// scanner join once the document archive exists.)
    pub const ALL: &'static [Component] = &[
        Component::Web,
        Component::SignIn,
        Component::Database,
        Component::Backups,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Component::Web => "web",
            Component::SignIn => "sign-in",
            Component::Database => "database",
            Component::Backups => "backups",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            Component::Web => "Web application and API",
            Component::SignIn => "Sign-in",
            Component::Database => "Database",
            Component::Backups => "Backups",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        parse_named(Self::ALL, Self::as_str, "component", s.trim())
    }

    /// A comma-separated list of components; empty means all of them.
    pub fn parse_list(s: &str) -> Result<Vec<Self>, String> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let c = Self::parse(part)?;
            if !out.contains(&c) {
                out.push(c);
            }
        }
        if out.is_empty() {
            out = Self::ALL.to_vec();
        }
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The one of `all` whose name is `s`, or an error that lists the names (`what`: "component").
fn parse_named<T: Copy>(
    all: &[T],
    name: fn(T) -> &'static str,
    what: &str,
    s: &str,
) -> Result<T, String> {
    all.iter().copied().find(|t| name(*t) == s).ok_or_else(|| {
        let names: Vec<&str> = all.iter().map(|t| name(*t)).collect();
        format!("unknown {what} '{s}'; it is one of {}", names.join(", "))
    })
}

/// What a component shows, from best to worst (the order is the severity).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ComponentState {
    Operational,
    UnderMaintenance,
    Degraded,
    PartialOutage,
    MajorOutage,
}

impl ComponentState {
    pub const ALL: &'static [ComponentState] = &[
        ComponentState::Operational,
        ComponentState::UnderMaintenance,
        ComponentState::Degraded,
        ComponentState::PartialOutage,
        ComponentState::MajorOutage,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ComponentState::Operational => "operational",
            ComponentState::UnderMaintenance => "under_maintenance",
            ComponentState::Degraded => "degraded",
            ComponentState::PartialOutage => "partial_outage",
            ComponentState::MajorOutage => "major_outage",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            ComponentState::Operational => "Operational",
            ComponentState::UnderMaintenance => "Under maintenance",
            ComponentState::Degraded => "Degraded performance",
            ComponentState::PartialOutage => "Partial outage",
            ComponentState::MajorOutage => "Major outage",
        }
    }

    /// A number that orders states by severity, for storing the worst of a day.
    pub const fn rank(self) -> i64 {
        self as i64
    }

    pub fn from_rank(rank: i64) -> Option<Self> {
        Self::ALL.get(usize::try_from(rank).ok()?).copied()
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        parse_named(
            Self::ALL,
            Self::as_str,
            "state",
            &s.trim().replace('-', "_"),
        )
    }
}

/// Where a maintenance window stands, by the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MaintenanceState {
    Scheduled,
    InProgress,
    Completed,
    Cancelled,
}

impl MaintenanceState {
    pub const fn as_str(self) -> &'static str {
        match self {
            MaintenanceState::Scheduled => "scheduled",
            MaintenanceState::InProgress => "in_progress",
            MaintenanceState::Completed => "completed",
            MaintenanceState::Cancelled => "cancelled",
        }
    }
}

/// An announced maintenance window.
#[derive(Debug, Clone, Serialize)]
pub struct MaintenanceWindow {
    pub id: String,
    pub summary: String,
    pub components: Vec<Component>,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub announced_at: DateTime<Utc>,
    pub announced_by: String,
    /// Announced with less than [`MIN_NOTICE_HOURS`] of notice, for `reason`.
    pub emergency: bool,
    pub reason: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancelled_by: Option<String>,
}

impl MaintenanceWindow {
    /// Scheduled before its start, in progress until its end, completed after; cancelled
    /// whenever it was cancelled.
    pub fn state(&self, now: DateTime<Utc>) -> MaintenanceState {
        if self.cancelled_at.is_some() {
            MaintenanceState::Cancelled
        } else if now < self.starts_at {
            MaintenanceState::Scheduled
        } else if now < self.ends_at {
            MaintenanceState::InProgress
        } else {
            MaintenanceState::Completed
        }
    }

    /// The affected components as users read them: "Database, Sign-in".
    pub fn affected(&self) -> String {
        self.components
            .iter()
            .map(|c| c.label())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Shown to users now: announced, not cancelled, not over.
    pub fn is_announced(&self, now: DateTime<Utc>) -> bool {
        matches!(
            self.state(now),
            MaintenanceState::Scheduled | MaintenanceState::InProgress
        )
    }
}

/// What an operator asks for when announcing maintenance.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaintenanceRequest {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub summary: String,
    /// Empty means every component.
    #[serde(default)]
    pub components: Vec<Component>,
    #[serde(default)]
    pub emergency: bool,
    #[serde(default)]
    pub reason: Option<String>,
}

impl MaintenanceRequest {
    /// Checks the request against the rules at `now`: the summary and the window make
    /// sense, and the start is at least [`MIN_NOTICE_HOURS`] away — unless it is an
    /// emergency, which must give its reason. Each error names its field.
    pub fn check(&mut self, now: DateTime<Utc>) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        self.summary = self.summary.trim().to_string();
        if self.summary.is_empty() || self.summary.chars().count() > 500 {
            errors.add(
                "summary",
                "a summary of 1 to 500 characters says what is done",
            );
        }
        self.reason = self
            .reason
            .take()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty());
        if self.ends_at <= self.starts_at {
            errors.add("ends_at", "the window ends after it starts");
        } else if self.ends_at - self.starts_at > Duration::days(MAX_WINDOW_DAYS) {
            errors.add(
                "ends_at",
                format!("a maintenance window lasts at most {MAX_WINDOW_DAYS} days"),
            );
        }
        // A minute's grace, so that "now" typed by an operator is not already the past.
        if self.starts_at < now - Duration::minutes(1) {
            errors.add("starts_at", "the window starts in the past");
        }
        let notice = self.starts_at - now;
        if self.emergency {
            match &self.reason {
                None => errors.add(
                    "reason",
                    "an emergency maintenance needs its reason (it is shown and recorded)",
                ),
                Some(r) if r.chars().count() > 1000 => {
                    errors.add("reason", "the reason has at most 1000 characters")
                }
                Some(_) => {}
            }
        } else if notice < Duration::hours(MIN_NOTICE_HOURS) && self.starts_at >= now {
            errors.add(
                "starts_at",
                format!(
                    "maintenance must be announced at least {MIN_NOTICE_HOURS} hours ahead; this one starts in {}. Choose a later start, or announce an emergency with its reason",
                    human_duration(notice)
                ),
            );
        } else if self.reason.is_some() {
            errors.add(
                "reason",
                "a reason is given only for an emergency maintenance",
            );
        }
        if self.components.is_empty() {
            self.components = Component::ALL.to_vec();
        }
        self.components.sort();
        self.components.dedup();
        errors.into_result()
    }
}

/// "23 h 5 min", "3 days 2 h".
pub fn human_duration(d: Duration) -> String {
    let minutes = d.num_minutes().max(0);
    let (days, hours, mins) = (minutes / 1440, (minutes % 1440) / 60, minutes % 60);
    match (days, hours) {
        (0, 0) => format!("{mins} min"),
        (0, h) => format!("{h} h {mins} min"),
        (1, h) => format!("1 day {h} h"),
        (d, h) => format!("{d} days {h} h"),
    }
}

/// Where an incident stands: investigating → identified → monitoring → resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IncidentStatus {
    Investigating,
    Identified,
    Monitoring,
    Resolved,
}

impl IncidentStatus {
    pub const ALL: &'static [IncidentStatus] = &[
        IncidentStatus::Investigating,
        IncidentStatus::Identified,
        IncidentStatus::Monitoring,
        IncidentStatus::Resolved,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "investigating",
            IncidentStatus::Identified => "identified",
            IncidentStatus::Monitoring => "monitoring",
            IncidentStatus::Resolved => "resolved",
        }
    }

    pub const fn label(self) -> &'static str {
        match self {
            IncidentStatus::Investigating => "Investigating",
            IncidentStatus::Identified => "Identified",
            IncidentStatus::Monitoring => "Monitoring",
            IncidentStatus::Resolved => "Resolved",
        }
    }

    pub fn parse(s: &str) -> Result<Self, String> {
        parse_named(Self::ALL, Self::as_str, "incident status", s.trim())
    }

    /// An incident moves on, or back while it is open (a fix that did not hold returns to
    /// identified); a resolved incident is closed — a recurrence is a new incident.
    pub fn may_become(self, next: IncidentStatus) -> Result<(), String> {
        if self == IncidentStatus::Resolved {
            return Err(
                "the incident is resolved; open a new incident if the problem is back".into(),
            );
        }
        let _ = next;
        Ok(())
    }
}

/// One entry of an incident's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentUpdate {
    pub at: DateTime<Utc>,
    pub status: IncidentStatus,
    pub message: String,
    pub by: String,
}

/// An incident: what is wrong, which components it hurts and how, and its timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Incident {
    pub id: String,
    pub title: String,
    pub status: IncidentStatus,
    /// What the affected components show while the incident is open.
    pub impact: ComponentState,
    pub components: Vec<Component>,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The post-incident review, once written.
    pub review: Option<String>,
    /// Oldest first.
    pub updates: Vec<IncidentUpdate>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.status != IncidentStatus::Resolved
    }
}

/// Checks an incident's title, impact and first message.
pub fn check_incident(
    title: &str,
    impact: ComponentState,
    message: &str,
) -> Result<(String, String), FieldErrors> {
    let mut errors = FieldErrors::new();
    let title = title.trim().to_string();
    if title.is_empty() || title.chars().count() > 200 {
        errors.add("title", "a title of 1 to 200 characters");
    }
    if matches!(
        impact,
        ComponentState::Operational | ComponentState::UnderMaintenance
    ) {
        errors.add(
            "impact",
            "an incident's impact is degraded, partial_outage or major_outage",
        );
    }
    let message = check_message(message, &mut errors);
    errors.into_result().map(|()| (title, message))
}

/// An update's text: 1 to 5,000 characters.
pub fn check_message(message: &str, errors: &mut FieldErrors) -> String {
    let message = message.trim().to_string();
    if message.is_empty() || message.chars().count() > 5000 {
        errors.add(
            "message",
            "a message of 1 to 5,000 characters says what is known",
        );
    }
    message
}

/// An operator's statement about a component, which wins over the probes.
#[derive(Debug, Clone, Serialize)]
pub struct StatusOverride {
    pub component: Component,
    pub state: ComponentState,
    pub reason: String,
    pub set_by: String,
    pub set_at: DateTime<Utc>,
}

/// What a component shows: an operator's override wins; then maintenance in progress; then
/// the worst of what the probe found and what open incidents say.
pub fn component_state(
    component: Component,
    probed: ComponentState,
    overridden: Option<&StatusOverride>,
    maintenance: &[MaintenanceWindow],
    incidents: &[Incident],
    now: DateTime<Utc>,
) -> ComponentState {
    if let Some(o) = overridden {
        return o.state;
    }
    if maintenance
        .iter()
        .any(|m| m.state(now) == MaintenanceState::InProgress && m.components.contains(&component))
    {
        return ComponentState::UnderMaintenance;
    }
    incidents
        .iter()
        .filter(|i| i.is_open() && i.components.contains(&component))
        .map(|i| i.impact)
        .fold(probed, Ord::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        crate::clock::parse_timestamp(s).unwrap()
    }

    fn request(start: &str, end: &str) -> MaintenanceRequest {
        MaintenanceRequest {
            starts_at: at(start),
            ends_at: at(end),
            summary: "Database upgrade".into(),
            components: vec![],
            emergency: false,
            reason: None,
        }
    }

    #[test]
    fn maintenance_needs_24_hours_notice_unless_it_is_an_emergency_with_a_reason() {
        let now = at("2026-12-07T10:00:00Z");
        let e = request("2026-12-08T09:00:00Z", "2026-12-08T10:00:00Z")
            .check(now)
            .unwrap_err();
        assert_eq!(e.0[0].field, "starts_at");
        assert!(e.0[0].message.contains("24 hours"), "{e:?}");
        assert!(e.0[0].message.contains("23 h 0 min"), "{e:?}");

        let mut ok = request("2026-12-08T11:00:00Z", "2026-12-08T12:00:00Z");
        ok.check(now).unwrap();
        assert_eq!(ok.components, Component::ALL.to_vec());
        // Exactly 24 hours is enough.
        request("2026-12-08T10:00:00Z", "2026-12-08T11:00:00Z")
            .check(now)
            .unwrap();

        let mut emergency = request("2026-12-07T10:30:00Z", "2026-12-07T11:00:00Z");
        emergency.emergency = true;
        let e = emergency.clone().check(now).unwrap_err();
        assert_eq!(e.0[0].field, "reason");
        emergency.reason = Some("  security patch for a remote exploit ".into());
        emergency.check(now).unwrap();
        assert_eq!(
            emergency.reason.as_deref(),
            Some("security patch for a remote exploit")
        );
    }

    #[test]
    fn nonsense_windows_are_refused_naming_the_field() {
        let now = at("2026-12-07T10:00:00Z");
        let e = request("2026-12-10T11:00:00Z", "2026-12-10T10:00:00Z")
            .check(now)
            .unwrap_err();
        assert_eq!(e.0[0].field, "ends_at");
        let e = request("2026-12-10T11:00:00Z", "2026-12-20T11:00:00Z")
            .check(now)
            .unwrap_err();
        assert!(e.0[0].message.contains("7 days"));
        let mut past = request("2026-12-06T11:00:00Z", "2026-12-06T12:00:00Z");
        past.emergency = true;
        past.reason = Some("x".into());
        assert_eq!(past.check(now).unwrap_err().0[0].field, "starts_at");
        let mut blank = request("2026-12-10T11:00:00Z", "2026-12-10T12:00:00Z");
        blank.summary = "   ".into();
        assert_eq!(blank.check(now).unwrap_err().0[0].field, "summary");
        let mut reason = request("2026-12-10T11:00:00Z", "2026-12-10T12:00:00Z");
        reason.reason = Some("why not".into());
        assert_eq!(reason.check(now).unwrap_err().0[0].field, "reason");
    }

    #[test]
    fn a_window_moves_from_scheduled_to_in_progress_to_completed_by_the_clock() {
        let mut w = MaintenanceWindow {
            id: "m1".into(),
            summary: "s".into(),
            components: vec![Component::Database],
            starts_at: at("2026-12-08T11:00:00Z"),
            ends_at: at("2026-12-08T12:00:00Z"),
            announced_at: at("2026-12-07T10:00:00Z"),
            announced_by: "operator".into(),
            emergency: false,
            reason: None,
            cancelled_at: None,
            cancelled_by: None,
        };
        assert_eq!(
            w.state(at("2026-12-08T10:59:59Z")),
            MaintenanceState::Scheduled
        );
        assert_eq!(
            w.state(at("2026-12-08T11:00:00Z")),
            MaintenanceState::InProgress
        );
        assert_eq!(
            w.state(at("2026-12-08T12:00:00Z")),
            MaintenanceState::Completed
        );
        let during = at("2026-12-08T11:30:00Z");
        let shown = component_state(
            Component::Database,
            ComponentState::Operational,
            None,
            std::slice::from_ref(&w),
            &[],
            during,
        );
        assert_eq!(shown, ComponentState::UnderMaintenance);
        let other = component_state(
            Component::Web,
            ComponentState::Operational,
            None,
            std::slice::from_ref(&w),
            &[],
            during,
        );
        assert_eq!(other, ComponentState::Operational);
        w.cancelled_at = Some(at("2026-12-07T12:00:00Z"));
        assert_eq!(w.state(during), MaintenanceState::Cancelled);
    }

    #[test]
    fn incidents_make_a_component_worse_and_overrides_win() {
        let now = at("2026-12-07T10:00:00Z");
        let incident = Incident {
            id: "i1".into(),
            title: "Slow".into(),
            status: IncidentStatus::Identified,
            impact: ComponentState::PartialOutage,
            components: vec![Component::SignIn],
            opened_at: now,
            opened_by: "operator".into(),
            resolved_at: None,
            review: None,
            updates: vec![],
        };
        let probe = ComponentState::Degraded;
        let shown = component_state(
            Component::SignIn,
            probe,
            None,
            &[],
            std::slice::from_ref(&incident),
            now,
        );
        assert_eq!(shown, ComponentState::PartialOutage);
        let o = StatusOverride {
            component: Component::SignIn,
            state: ComponentState::Operational,
            reason: "false alarm".into(),
            set_by: "operator".into(),
            set_at: now,
        };
        let shown = component_state(Component::SignIn, probe, Some(&o), &[], &[incident], now);
        assert_eq!(shown, ComponentState::Operational);
        assert!(IncidentStatus::Resolved
            .may_become(IncidentStatus::Monitoring)
            .is_err());
        assert!(IncidentStatus::Monitoring
            .may_become(IncidentStatus::Identified)
            .is_ok());
        assert!(check_incident("t", ComponentState::Operational, "m").is_err());
    }

    #[test]
    fn names_parse_and_list() {
        assert_eq!(
            Component::parse_list("database, web,web").unwrap(),
            vec![Component::Web, Component::Database]
        );
        assert!(Component::parse("dns").unwrap_err().contains("sign-in"));
        assert_eq!(
            ComponentState::parse("partial-outage").unwrap(),
            ComponentState::PartialOutage
        );
        for s in ComponentState::ALL {
            assert_eq!(ComponentState::from_rank(s.rank()), Some(*s));
        }
    }
}
