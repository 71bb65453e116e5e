//! Retention: every point of the last 30 days stays restorable; the first snapshot of each
//! month is kept for 12 months and the first of each year for 10 years; the rest goes.
//!
//! The 30-day window needs its base: the newest snapshot at or before the window's start,
//! and every journal segment after that snapshot's position. Monthly and yearly snapshots
//! stand alone. All ages come from the injected clock.

use crate::manifest::{segment_paths, snapshot_paths, SnapshotManifest};
use crate::{BackupError, Backups};
use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;
use skjold_domain::clock::parse_timestamp;
use std::collections::{BTreeMap, BTreeSet};

pub const PITR_DAYS: i64 = 30;
pub const MONTHLY_DAYS: i64 = 365;
pub const YEARLY_DAYS: i64 = 3653;

/// A snapshot as retention sees it.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: String,
    pub at: DateTime<Utc>,
    pub position: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub keep: BTreeSet<String>,
    /// Journal segments ending at or before this position are no longer needed; `None`
    /// keeps them all.
    pub journal_needed_after: Option<i64>,
}

/// Which snapshots and how much journal to keep at `now`.
pub fn plan(now: DateTime<Utc>, points: &[Point]) -> Plan {
    let mut points: Vec<&Point> = points.iter().collect();
    points.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut keep = BTreeSet::new();
    let window = now - Duration::days(PITR_DAYS);
    for p in points.iter().filter(|p| p.at >= window) {
        keep.insert(p.id.clone());
    }
    // The base of the window: the newest snapshot at or before its start, or the oldest
    // snapshot when none is that old.
    let base = points
        .iter()
        .rev()
        .find(|p| p.at <= window)
        .or_else(|| points.first());
    if let Some(b) = base {
        keep.insert(b.id.clone());
    }
    let mut first_of: BTreeMap<(i32, u32), &Point> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.at > now - Duration::days(MONTHLY_DAYS))
    {
        first_of.entry((p.at.year(), p.at.month())).or_insert(p);
    }
    keep.extend(first_of.values().map(|p| p.id.clone()));
    let mut first_of_year: BTreeMap<i32, &Point> = BTreeMap::new();
    for p in points
        .iter()
        .filter(|p| p.at > now - Duration::days(YEARLY_DAYS))
    {
        first_of_year.entry(p.at.year()).or_insert(p);
    }
    keep.extend(first_of_year.values().map(|p| p.id.clone()));
    Plan {
        keep,
        journal_needed_after: base.map(|b| b.position),
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct PruneReport {
    pub tenants: u64,
    pub snapshots_kept: u64,
    pub snapshots_deleted: u64,
    pub segments_deleted: u64,
    pub problems: Vec<String>,
}

impl Backups {
    /// Deletes, from both destinations, the snapshots and journal segments that retention
    /// no longer needs. A destination that is down is pruned on a later run.
    pub async fn prune(&self) -> Result<PruneReport, BackupError> {
        let now = self.clock.now();
        let mut report = PruneReport::default();
        let tenants: BTreeSet<String> = self
            .list_union("tenants/")
            .await?
            .into_iter()
            .filter_map(|p| {
                p.strip_prefix("tenants/")?
                    .split('/')
                    .next()
                    .map(str::to_string)
            })
            .collect();
        for slug in tenants {
            report.tenants += 1;
            let snapshots: Vec<SnapshotManifest> = self.list_snapshots(&slug).await?;
            let points: Vec<Point> = snapshots
                .iter()
                .filter_map(|s| {
                    Some(Point {
                        id: s.id.clone(),
                        at: parse_timestamp(&s.at)?,
                        position: s.position,
                    })
                })
                .collect();
            if points.len() != snapshots.len() {
                report.problems.push(format!(
                    "{slug}: a snapshot with an unreadable time; nothing pruned"
                ));
                continue;
            }
            let plan = plan(now, &points);
            for s in &snapshots {
                if plan.keep.contains(&s.id) {
                    report.snapshots_kept += 1;
                    continue;
                }
                let (data, manifest) = snapshot_paths(&slug, &s.id);
                self.delete_everywhere(&[&manifest, &data], &mut report.problems)
                    .await;
                report.snapshots_deleted += 1;
            }
            if let Some(after) = plan.journal_needed_after {
                for (a, l) in self.list_segments(&slug).await? {
                    if l <= after {
                        let (data, manifest) = segment_paths(&slug, a, l);
                        self.delete_everywhere(&[&manifest, &data], &mut report.problems)
                            .await;
                        report.segments_deleted += 1;
                    }
                }
            }
        }
        Ok(report)
    }

    async fn delete_everywhere(&self, paths: &[&str], problems: &mut Vec<String>) {
        for d in &self.dests {
            for p in paths {
                if let Err(e) = d.delete(p).await {
                    problems.push(e.to_string());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten simulated years of nightly snapshots, pruned every day: at every day the plan
    /// keeps exactly the last 30 days, the window's base, the first of each of the last
    /// 12 months and the first of each of the last 10 years.
    #[test]
    fn ten_years_of_days_keep_exactly_what_is_promised() {
        let start = parse_timestamp("2026-01-01T02:30:00Z").unwrap();
        let mut kept: Vec<Point> = Vec::new();
        let mut day = 0;
        while day < 3653 {
            let now = start + Duration::days(day);
            kept.push(Point {
                id: format!("s{day:05}"),
                at: now,
                position: day * 10,
            });
            let p = plan(now, &kept);
            // Never delete what the plan still needs; and nothing else survives.
            kept.retain(|k| p.keep.contains(&k.id));

            let window = now - Duration::days(PITR_DAYS);
            // Every day of the window is restorable: a kept base at or before its start
            // (once the history is that long) and every snapshot after it.
            if day >= PITR_DAYS {
                let base = kept.iter().filter(|k| k.at <= window).max_by_key(|k| k.at);
                let base = base.expect("the window has a base");
                assert_eq!(p.journal_needed_after, Some(base.position));
                assert_eq!(
                    base.at, window,
                    "the base is the snapshot of the window's first day"
                );
            }
            let in_window = kept.iter().filter(|k| k.at >= window).count() as i64;
            assert_eq!(in_window, (day + 1).min(PITR_DAYS + 1));
            day += 1;
        }
        let now = start + Duration::days(3652);
        // What is left after ten years: 31 daily ones, then firsts of months and years.
        let mut expected: BTreeSet<DateTime<Utc>> = BTreeSet::new();
        for d in 0..=3652 {
            let at = start + Duration::days(d);
            let first_of_month = at.day() == 1;
            let first_of_year = first_of_month && at.month() == 1;
            if at >= now - Duration::days(PITR_DAYS)
                || (first_of_month && at > now - Duration::days(MONTHLY_DAYS))
                || (first_of_year && at > now - Duration::days(YEARLY_DAYS))
            {
                expected.insert(at);
            }
        }
        let got: BTreeSet<DateTime<Utc>> = kept.iter().map(|k| k.at).collect();
        assert_eq!(got, expected);
        // 31 days, 12 months (one overlaps the window at most), 10 years.
        assert!(
            got.len() >= 31 + 11 + 9 && got.len() <= 31 + 12 + 10,
            "{}",
            got.len()
        );
    }
}
