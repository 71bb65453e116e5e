//! Keeping the audit trail from being flooded by anonymous traffic.
//!
//! Every request leaves an access record (about 1.7 KB in the file and the database copy),
//! and a record that cannot be written stops the request (the trail fails closed). Left
//! alone, anyone could fill the disk with unauthenticated requests and so take the whole
//! installation down. Two limits keep that from happening:
//!
//! - **Per address**: requests that authenticate no one may leave at most
//!   `audit_unauthenticated_per_minute` records per client address (IPv6: per /64), with a
//!   burst of `audit_unauthenticated_burst`. Beyond that, they are refused with 429 and,
//!   instead of one record each, are *summarised*: one `access.summarised` record per
//!   address, chain and minute (count, first and last time, up to ten sample paths), written
//!   when the minute has closed, on the next request after it or by the scheduler's tick.
//!   Every access is still registered; only its size is bounded.
//! - **Low disk**: when the audit directory's filesystem has less room than
//!   `audit_min_free_mb` or `audit_min_free_percent` of its size (the lesser), new
//!   unauthenticated work is refused with 503 (summarised the same way) and one
//!   `system.disk_low` event is recorded per crossing — before the disk is full, so signed-in
//!   users keep working while the operator makes room.
//!
//! Authenticated requests are never limited here. Time is the injected clock's, for the
//! limiter (through [`InjectedClock`]) as for the minutes and the free-space cache.

use chrono::{DateTime, Duration, DurationRound, Utc};
use governor::clock::Clock as GovernorClock;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use serde_json::json;
use skjold_domain::audit::{AuditKind, Draft};
use skjold_domain::clock::format_timestamp;
use skjold_domain::SharedClock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// How many sample paths a summary keeps.
const SAMPLE_PATHS: usize = 10;
/// How long a free-space reading is believed.
const DISK_CACHE_SECS: i64 = 5;

/// The guard's settings (from [`crate::Config`]).
#[derive(Debug, Clone, Copy)]
pub struct GuardLimits {
    pub per_minute: u32,
    pub burst: u32,
    pub min_free_bytes: u64,
    pub min_free_percent: u8,
}

/// A filesystem's room, as a [`FreeSpaceProbe`] sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeSpace {
    /// Bytes an unprivileged process may still write.
    pub available: u64,
    pub total: u64,
}

/// Measures the room left on the filesystem holding a directory.
pub trait FreeSpaceProbe: Send + Sync {
    fn probe(&self, dir: &Path) -> std::io::Result<FreeSpace>;
}

/// The real probe: `statvfs` through the `fs4` crate.
#[derive(Debug, Default, Clone, Copy)]
pub struct StatvfsProbe;

impl FreeSpaceProbe for StatvfsProbe {
    fn probe(&self, dir: &Path) -> std::io::Result<FreeSpace> {
        let stats = fs4::statvfs(dir)?;
        Ok(FreeSpace {
            available: stats.available_space(),
            total: stats.total_space(),
        })
    }
}

/// Why a request was not recorded on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over the address's budget: 429, try again after this many seconds.
    RateLimited { retry_after_secs: u64 },
    /// The audit filesystem is low: 503.
    DiskLow,
}

impl Refusal {
    fn reason(self) -> &'static str {
        match self {
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::DiskLow => "disk_low",
        }
    }
}

/// What a disk check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskCheck {
    pub low: bool,
    /// Set on the check that found the filesystem low after it was not: the reading, for the
    /// one `system.disk_low` event of this crossing.
    pub crossed: Option<FreeSpace>,
}

/// The injected clock as governor's time source: nanoseconds since the Unix epoch.
#[derive(Clone)]
pub struct InjectedClock(SharedClock);

impl GovernorClock for InjectedClock {
    type Instant = std::time::Duration;

    fn now(&self) -> Self::Instant {
        let t = self.0.now();
        std::time::Duration::new(t.timestamp().max(0) as u64, t.timestamp_subsec_nanos())
    }
}

type Limiter = RateLimiter<
    IpAddr,
    DefaultKeyedStateStore<IpAddr>,
    InjectedClock,
    governor::middleware::NoOpMiddleware<std::time::Duration>,
>;

/// A summary's address, chain and minute.
type SummaryKey = (IpAddr, String, DateTime<Utc>);

/// The requests of one address in one chain and minute that were not recorded one by one.
#[derive(Debug, Clone)]
struct Summary {
    count: u64,
    first: DateTime<Utc>,
    last: DateTime<Utc>,
    paths: Vec<String>,
    reasons: HashMap<&'static str, u64>,
}

#[derive(Debug, Default)]
struct DiskState {
    checked_at: Option<DateTime<Utc>>,
    low: bool,
}

pub struct AuditGuard {
    limiter: Limiter,
    limits: GuardLimits,
    clock: SharedClock,
    /// Open summaries by (address, chain, minute).
    summaries: Mutex<HashMap<SummaryKey, Summary>>,
    dir: PathBuf,
    probe: Mutex<Arc<dyn FreeSpaceProbe>>,
    disk: Mutex<DiskState>,
}

impl std::fmt::Debug for AuditGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditGuard")
            .field("limits", &self.limits)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// The key an address is limited under: IPv4 as it is, IPv6 by its /64 (which one client
/// usually holds whole, so rotating addresses inside it gains nothing).
fn limit_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let mut seg = v6.segments();
            seg[4..].fill(0);
            IpAddr::from(seg)
        }
    }
}

fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::minutes(1)).unwrap_or(t)
}

impl AuditGuard {
    /// A guard for the audit trail under `dir` (the filesystem that is watched).
    pub fn new(limits: GuardLimits, clock: SharedClock, dir: PathBuf) -> Self {
        let per_minute = NonZeroU32::new(limits.per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(limits.burst.max(1)).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::per_minute(per_minute).allow_burst(burst);
        Self {
            limiter: RateLimiter::new(
                quota,
                DefaultKeyedStateStore::default(),
                InjectedClock(clock.clone()),
            ),
            limits,
            clock,
            summaries: Mutex::default(),
            dir,
            probe: Mutex::new(Arc::new(StatvfsProbe)),
            disk: Mutex::default(),
        }
    }

    /// Replaces the free-space probe (tests feed it numbers) and forgets the cached reading.
    pub fn use_probe(&self, probe: Arc<dyn FreeSpaceProbe>) {
        *self.probe.lock().unwrap_or_else(|p| p.into_inner()) = probe;
        self.disk
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .checked_at = None;
    }

    /// Whether the filesystem is below the threshold: the lesser of `min_free_bytes` and
    /// `min_free_percent` of its size. Either set to 0 turns the check off.
    pub fn is_low(&self, space: FreeSpace) -> bool {
        let by_percent =
            (u128::from(space.total) * u128::from(self.limits.min_free_percent) / 100) as u64;
        space.available < self.limits.min_free_bytes.min(by_percent)
    }

    /// The disk's state, read at most every few seconds (of the injected clock).
    pub fn check_disk(&self) -> DiskCheck {
        let now = self.clock.now();
        let mut disk = self.disk.lock().unwrap_or_else(|p| p.into_inner());
        if disk
            .checked_at
            .is_some_and(|at| now >= at && now - at < Duration::seconds(DISK_CACHE_SECS))
        {
            return DiskCheck {
                low: disk.low,
                crossed: None,
            };
        }
        let probe = self.probe.lock().unwrap_or_else(|p| p.into_inner()).clone();
        disk.checked_at = Some(now);
        // The audit directory appears with its first record; until then its parent counts.
        let dir = self
            .dir
            .ancestors()
            .find(|p| p.exists())
            .unwrap_or(&self.dir);
        match probe.probe(dir) {
            Ok(space) => {
                let low = self.is_low(space);
                let crossed = (low && !disk.low).then_some(space);
                if !low && disk.low {
                    tracing::warn!(
                        available = space.available,
                        "the audit filesystem has room again: unauthenticated requests are served"
                    );
                }
                disk.low = low;
                DiskCheck { low, crossed }
            }
            Err(e) => {
                // The trail itself still fails closed on a write error; an unreadable
                // statistic alone refuses nobody.
                tracing::warn!(error = %e, dir = %self.dir.display(), "cannot read the audit filesystem's free space");
                DiskCheck {
                    low: disk.low,
                    crossed: None,
                }
            }
        }
    }

    /// Counts an unauthenticated request of `ip` against its budget.
    pub fn admit(&self, ip: IpAddr, low_disk: bool) -> Result<(), Refusal> {
        if low_disk {
            return Err(Refusal::DiskLow);
        }
        self.limiter.check_key(&limit_key(ip)).map_err(|not_until| {
            let wait =
                not_until.wait_time_from(GovernorClock::now(&InjectedClock(self.clock.clone())));
            Refusal::RateLimited {
                retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
            }
        })
    }

    /// Adds a refused request to its address's summary for this minute.
    pub fn summarise(&self, ip: IpAddr, chain: &str, path: &str, refusal: Refusal) {
        self.summarise_as(ip, chain, path, refusal.reason());
    }

    /// Counts a request of `ip` that was served but not recorded on its own (a static
    /// file fetched without signing in) in its address's summary for this minute.
    pub fn summarise_served(&self, ip: IpAddr, chain: &str, path: &str) {
        self.summarise_as(ip, chain, path, "static_file");
    }

    fn summarise_as(&self, ip: IpAddr, chain: &str, path: &str, reason: &'static str) {
        let now = self.clock.now();
        let mut all = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        let s = all
            .entry((ip, chain.to_string(), minute_of(now)))
            .or_insert_with(|| Summary {
                count: 0,
                first: now,
                last: now,
                paths: Vec::new(),
                reasons: HashMap::new(),
            });
        s.count += 1;
        s.last = now;
        if s.paths.len() < SAMPLE_PATHS && !s.paths.iter().any(|p| p == path) {
            s.paths.push(path.to_string());
        }
        *s.reasons.entry(reason).or_default() += 1;
    }

    /// The summaries of minutes that have closed (all of them when `all`), as records to
    /// write, each with its chain. They leave the guard: the caller writes them.
    pub fn take_closed(&self, all: bool) -> Vec<(String, Draft)> {
        let this_minute = minute_of(self.clock.now());
        let mut open = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
        if open.is_empty() {
            return Vec::new();
        }
        let closed: Vec<_> = open
            .keys()
            .filter(|(_, _, minute)| all || *minute < this_minute)
            .cloned()
            .collect();
        let mut out: Vec<_> = closed
            .into_iter()
            .filter_map(|key| open.remove(&key).map(|s| (key, s)))
            .map(|((ip, chain, minute), s)| {
                let draft = Draft {
                    at: format_timestamp(s.last),
                    kind: AuditKind::AccessSummarised.into(),
                    ip: Some(ip.to_string()),
                    detail: Some(json!({
                        "minute": format_timestamp(minute),
                        "count": s.count,
                        "first": format_timestamp(s.first),
                        "last": format_timestamp(s.last),
                        "paths": s.paths,
                        "reasons": s.reasons,
                    })),
                    ..Draft::default()
                };
                (chain, draft)
            })
            .collect();
        out.sort_by(|a, b| a.1.at.cmp(&b.1.at));
        if !out.is_empty() {
            // Addresses idle for a while leave the limiter's table.
            self.limiter.retain_recent();
        }
        out
    }

    /// Puts summaries back that could not be written, so a later flush tries again.
    pub fn restore(&self, unwritten: Vec<(String, Draft)>) {
        // Rare (the trail is failing); merging them into the current minute keeps the count.
        for (chain, draft) in unwritten {
            let Some(detail) = draft.detail else { continue };
            let ip = draft.ip.as_deref().and_then(|i| i.parse().ok());
            let (Some(ip), Some(count)) = (ip, detail["count"].as_u64()) else {
                continue;
            };
            let now = self.clock.now();
            let mut all = self.summaries.lock().unwrap_or_else(|p| p.into_inner());
            let s = all
                .entry((ip, chain, minute_of(now)))
                .or_insert_with(|| Summary {
                    count: 0,
                    first: now,
                    last: now,
                    paths: Vec::new(),
                    reasons: HashMap::new(),
                });
            s.count += count;
            *s.reasons.entry("carried_over").or_default() += count;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::TestClock;

    fn guard(clock: &TestClock, dir: &Path) -> AuditGuard {
        AuditGuard::new(
            GuardLimits {
                per_minute: 60,
                burst: 5,
                min_free_bytes: 1 << 30,
                min_free_percent: 2,
            },
            Arc::new(clock.clone()),
            dir.to_path_buf(),
        )
    }

    fn clock() -> TestClock {
        TestClock::at("2030-01-01T12:00:30Z".parse().unwrap())
    }

    #[test]
    fn the_real_probe_reads_the_temp_dir_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let space = StatvfsProbe.probe(dir.path()).unwrap();
        assert!(space.total > 0, "{space:?}");
        assert!(space.available <= space.total, "{space:?}");
        assert!(StatvfsProbe.probe(&dir.path().join("missing")).is_err());
        // The guard with the real probe gives a verdict that matches the numbers.
        let c = clock();
        let g = guard(&c, dir.path());
        let check = g.check_disk();
        assert_eq!(check.low, g.is_low(StatvfsProbe.probe(dir.path()).unwrap()));
    }

    #[test]
    fn the_threshold_is_the_lesser_of_bytes_and_percent() {
        let c = clock();
        let g = guard(&c, Path::new("/"));
        const GIB: u64 = 1 << 30;
        // 10 GiB disk: 2 % is 205 MiB, below 1 GiB, so that counts.
        assert!(!g.is_low(FreeSpace {
            available: 300 << 20,
            total: 10 * GIB
        }));
        assert!(g.is_low(FreeSpace {
            available: 100 << 20,
            total: 10 * GIB
        }));
        // 1 TiB disk: 1 GiB counts.
        assert!(g.is_low(FreeSpace {
            available: GIB - 1,
            total: 1024 * GIB
        }));
        assert!(!g.is_low(FreeSpace {
            available: GIB,
            total: 1024 * GIB
        }));
    }

    #[test]
    fn beyond_the_burst_an_address_is_refused_until_the_clock_moves() {
        let c = clock();
        let g = guard(&c, Path::new("/"));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        for _ in 0..5 {
            assert_eq!(g.admit(a, false), Ok(()));
        }
        assert_eq!(
            g.admit(a, false),
            Err(Refusal::RateLimited {
                retry_after_secs: 1
            })
        );
        assert_eq!(g.admit(b, false), Ok(()));
        c.advance(Duration::seconds(1));
        assert_eq!(g.admit(a, false), Ok(()));
        assert_eq!(g.admit(b, true), Err(Refusal::DiskLow));
        // IPv6 counts by /64.
        for i in 0..5 {
            let ip: IpAddr = format!("2001:db8::{i}").parse().unwrap();
            assert_eq!(g.admit(ip, false), Ok(()));
        }
        assert!(g.admit("2001:db8::ffff".parse().unwrap(), false).is_err());
        assert!(g.admit("2001:db8:0:1::1".parse().unwrap(), false).is_ok());
    }

    #[test]
    fn summaries_close_with_their_minute() {
        let c = clock();
        let g = guard(&c, Path::new("/"));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..15 {
            g.summarise(
                a,
                "acme",
                &format!("/acme/p{}", i % 12),
                Refusal::RateLimited {
                    retry_after_secs: 1,
                },
            );
        }
        g.summarise(a, "_system", "/x", Refusal::DiskLow);
        assert!(g.take_closed(false).is_empty(), "the minute is still open");
        c.advance(Duration::seconds(30));
        g.summarise(a, "acme", "/acme/next", Refusal::DiskLow);
        let closed = g.take_closed(false);
        assert_eq!(closed.len(), 2);
        let (chain, acme) = closed.iter().find(|(c, _)| c == "acme").unwrap();
        assert_eq!(chain, "acme");
        let d = acme.detail.as_ref().unwrap();
        assert_eq!(d["count"], 15);
        assert_eq!(d["paths"].as_array().unwrap().len(), 10);
        assert_eq!(d["reasons"]["rate_limited"], 15);
        assert_eq!(d["minute"], "2030-01-01T12:00:00.000000Z");
        assert_eq!(acme.ip.as_deref(), Some("192.0.2.1"));
        // The next minute's summary waits for its minute to close, or for the end.
        assert!(g.take_closed(false).is_empty());
        assert_eq!(g.take_closed(true).len(), 1);
    }

    #[derive(Clone)]
    struct Fixed(Arc<Mutex<FreeSpace>>);
    impl FreeSpaceProbe for Fixed {
        fn probe(&self, _: &Path) -> std::io::Result<FreeSpace> {
            Ok(*self.0.lock().unwrap())
        }
    }

    #[test]
    fn a_crossing_is_reported_once_and_readings_are_cached() {
        let c = clock();
        let g = guard(&c, Path::new("/"));
        let space = Arc::new(Mutex::new(FreeSpace {
            available: 100 << 30,
            total: 200 << 30,
        }));
        g.use_probe(Arc::new(Fixed(space.clone())));
        assert_eq!(
            g.check_disk(),
            DiskCheck {
                low: false,
                crossed: None
            }
        );
        space.lock().unwrap().available = 1 << 20;
        // Cached for a few seconds.
        assert!(!g.check_disk().low);
        c.advance(Duration::seconds(DISK_CACHE_SECS));
        let check = g.check_disk();
        assert!(check.low);
        assert_eq!(check.crossed.unwrap().available, 1 << 20);
        c.advance(Duration::seconds(DISK_CACHE_SECS));
        assert_eq!(
            g.check_disk(),
            DiskCheck {
                low: true,
                crossed: None
            }
        );
        // Room again, then low again: a new crossing.
        space.lock().unwrap().available = 100 << 30;
        c.advance(Duration::seconds(DISK_CACHE_SECS));
        assert!(!g.check_disk().low);
        space.lock().unwrap().available = 1;
        c.advance(Duration::seconds(DISK_CACHE_SECS));
        assert!(g.check_disk().crossed.is_some());
    }
}
