//! Where the backups stand: each destination's contents and lag, each tenant's shipping lag,
//! and the span of time a tenant can be restored to.

use crate::manifest::{segment_paths, SegmentManifest, SnapshotManifest};
use crate::{BackupError, Backups};
use serde::Serialize;
use skjold_domain::clock::parse_timestamp;
use skjold_domain::TenantSlug;
use std::collections::BTreeMap;

/// What one destination holds compared with the other.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationStatus {
    pub name: String,
    pub location: String,
    pub reachable: bool,
    pub error: Option<String>,
    pub objects: u64,
    pub bytes: u64,
    /// Objects the other destination has and this one lacks: its lag.
    pub missing_objects: u64,
    pub missing_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantBackupStatus {
    pub tenant: String,
    pub snapshots: u64,
    pub last_snapshot_at: Option<String>,
    pub journal_position: i64,
    pub shipped_position: i64,
    /// Journal entries written but not yet in any destination.
    pub unshipped: i64,
    /// How long the oldest unshipped entry has waited, in seconds.
    pub lag_seconds: f64,
}

/// What a tenant can be restored to.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreWindow {
    /// The oldest restorable instant (the oldest snapshot), RFC 3339.
    pub oldest: Option<String>,
    /// The newest restorable instant (the last shipped change or snapshot).
    pub newest: Option<String>,
    /// Oldest first.
    pub snapshots: Vec<SnapshotManifest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub destinations: Vec<DestinationStatus>,
    pub tenants: Vec<TenantBackupStatus>,
}

impl Backups {
    /// The span of time a tenant can be restored to: from its oldest snapshot to the newest
    /// shipped change (or snapshot), with the snapshots.
    pub async fn window(&self, slug: &str) -> Result<RestoreWindow, BackupError> {
        let snapshots = self.list_snapshots(slug).await?;
        let mut newest = snapshots.iter().map(|s| s.at.clone()).max();
        if let Some(&(after, last)) = self
            .list_segments(slug)
            .await?
            .iter()
            .max_by_key(|(_, l)| *l)
        {
            let (_, manifest_path) = segment_paths(slug, after, last);
            let m: SegmentManifest = self.read_manifest(&manifest_path).await?;
            newest = newest.max(Some(m.last_at));
        }
        Ok(RestoreWindow {
            oldest: snapshots.first().map(|s| s.at.clone()),
            newest,
            snapshots,
        })
    }

    /// Per destination: what it holds and how far it lags the other.
    pub async fn destination_status(&self) -> Vec<DestinationStatus> {
        let mut listings = Vec::new();
        let mut destinations = Vec::new();
        for d in &self.dests {
            let (listing, st) = match d.list("").await {
                Ok(l) => (
                    Some(l.iter().cloned().collect::<BTreeMap<_, _>>()),
                    DestinationStatus {
                        name: d.name.clone(),
                        location: d.describe.clone(),
                        reachable: true,
                        error: None,
                        objects: l.len() as u64,
                        bytes: l.iter().map(|(_, n)| n).sum(),
                        missing_objects: 0,
                        missing_bytes: 0,
                    },
                ),
                Err(e) => (
                    None,
                    DestinationStatus {
                        name: d.name.clone(),
                        location: d.describe.clone(),
                        reachable: false,
                        error: Some(e.to_string()),
                        objects: 0,
                        bytes: 0,
                        missing_objects: 0,
                        missing_bytes: 0,
                    },
                ),
            };
            listings.push(listing);
            destinations.push(st);
        }
        let union: BTreeMap<String, u64> = listings
            .iter()
            .flatten()
            .flat_map(|l| l.iter().map(|(k, v)| (k.clone(), *v)))
            .collect();
        for (i, l) in listings.iter().enumerate() {
            let missing: Vec<u64> = union
                .iter()
                .filter(|(p, _)| l.as_ref().is_none_or(|l| !l.contains_key(*p)))
                .map(|(_, n)| *n)
                .collect();
            destinations[i].missing_objects = missing.len() as u64;
            destinations[i].missing_bytes = missing.iter().sum();
        }
        destinations
    }

    /// How far the tenant's shipping lags its journal.
    pub async fn tenant_status(
        &self,
        slug: &TenantSlug,
    ) -> Result<TenantBackupStatus, BackupError> {
        let snapshots = self.list_snapshots(slug.as_str()).await?;
        let segments = self.list_segments(slug.as_str()).await?;
        let shipped = segments
            .iter()
            .map(|(_, l)| *l)
            .chain(snapshots.iter().map(|s| s.position))
            .max()
            .unwrap_or(0);
        let db = self.open_tenant(slug).await?;
        let position = db.journal_position().await?;
        let oldest = db.journal_since(shipped, 1).await?;
        let lag = oldest
            .first()
            .and_then(|e| parse_timestamp(&e.at))
            .map(|at| (self.now() - at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        Ok(TenantBackupStatus {
            tenant: slug.as_str().to_string(),
            snapshots: snapshots.len() as u64,
            last_snapshot_at: snapshots.last().map(|s| s.at.clone()),
            journal_position: position,
            shipped_position: shipped,
            unshipped: (position - shipped).max(0),
            lag_seconds: lag,
        })
    }

    /// Every destination's state and every tenant's shipping lag.
    pub async fn status(&self) -> Result<Status, BackupError> {
        let destinations = self.destination_status().await;
        let mut tenants = Vec::new();
        for t in self.router.catalog().list().await? {
            tenants.push(self.tenant_status(&t.slug).await?);
        }
        Ok(Status {
            destinations,
            tenants,
        })
    }
}
