//! Journal shipping lag under a steady write load: how long an entry waits before it is in
//! the backups. Measured from the segments' manifests (the time from a segment's oldest
//! entry to its shipping), so it is what a restore would see. The backup test suite checks
//! it; `skjold-bench shipping-lag` (in `bench/run --backup`) reports it on a release build.

use crate::manifest::{segment_paths, SegmentManifest};
use crate::{BackupError, Backups};
use serde::Serialize;
use skjold_domain::clock::parse_timestamp;
use skjold_domain::crm::{Company, CompanyInput};
use skjold_domain::TenantSlug;
use skjold_store::{Actor, Sight, TenantDb};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What one measurement found.
#[derive(Debug, Clone, Serialize)]
pub struct ShippingLag {
    /// Companies created (one transaction and one journal entry each).
    pub writes: u64,
    pub seconds: f64,
    pub segments: usize,
    /// How long the oldest entry of a segment waited until the segment was shipped.
    pub p50_ms: i64,
    pub max_ms: i64,
    pub interval_seconds: u64,
}

impl std::fmt::Display for ShippingLag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "shipping lag under load: {} writes in {:.0} s ({:.0}/s), {} segments, oldest entry waited p50 {} ms, max {} ms (interval {} s)",
            self.writes,
            self.seconds,
            self.writes as f64 / self.seconds,
            self.segments,
            self.p50_ms,
            self.max_ms,
            self.interval_seconds
        )
    }
}

impl Backups {
    /// The lag of every shipped segment of `slug`, in milliseconds, sorted.
    pub async fn segment_lags_ms(&self, slug: &str) -> Result<Vec<i64>, BackupError> {
        let mut lags = Vec::new();
        for (after, last) in self.list_segments(slug).await? {
            let (_, manifest_path) = segment_paths(slug, after, last);
            let m: SegmentManifest = self.read_manifest(&manifest_path).await?;
            let times = parse_timestamp(&m.shipped_at).zip(parse_timestamp(&m.first_at));
            let Some((shipped, first)) = times else {
                return Err(BackupError::Damaged(format!(
                    "{manifest_path}: unreadable times"
                )));
            };
            lags.push((shipped - first).num_milliseconds());
        }
        lags.sort_unstable();
        Ok(lags)
    }
}

/// Writes to `db` (tenant `slug`) as fast as one writer can for `duration` while `backups`
/// ships on its own schedule, waits (at most ten seconds) until the last entry is shipped,
/// and reports the segments' lags. Run it on a tenant with a snapshot and nothing unshipped.
pub async fn measure_under_write_load(
    backups: Arc<Backups>,
    db: &TenantDb,
    slug: &TenantSlug,
    duration: Duration,
) -> Result<ShippingLag, BackupError> {
    let shipping = backups.clone().spawn_shipping();
    let actor = Actor::System { what: "load" };
    let started = Instant::now();
    let mut writes = 0u64;
    while started.elapsed() < duration {
        let input: CompanyInput = serde_json::from_value(
            serde_json::json!({ "name": format!("Last {writes}"), "city": "Bergen" }),
        )
        .map_err(|e| BackupError::Refused(format!("a generated company: {e}")))?;
        db.create::<Company>(&Sight::everything(), &actor, input)
            .await?;
        writes += 1;
    }
    let seconds = started.elapsed().as_secs_f64();
    let position = db.journal_position().await?;
    let waited = Instant::now();
    let mut poll = tokio::time::interval(Duration::from_millis(50));
    while backups
        .list_segments(slug.as_str())
        .await?
        .last()
        .map(|s| s.1)
        != Some(position)
        && waited.elapsed() < Duration::from_secs(10)
    {
        poll.tick().await;
    }
    shipping.abort();
    let lags = backups.segment_lags_ms(slug.as_str()).await?;
    Ok(ShippingLag {
        writes,
        seconds,
        segments: lags.len(),
        p50_ms: lags.get(lags.len() / 2).copied().unwrap_or(0),
        max_ms: lags.last().copied().unwrap_or(0),
        interval_seconds: backups.config().ship_interval.as_secs(),
    })
}
