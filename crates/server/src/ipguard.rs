//! Per-address protection of sign-in: failed attempts from one source address (an IPv6
//! address counts by its /64, which one client usually holds whole) are counted until the
//! address has been quiet for 15 minutes; past a threshold each further attempt must wait (throttling), past a
//! second the address may not sign in at all for a while (a ban, doubling on repeat up to a
//! day). Kept in memory: it protects this process, and a restart forgets it (the per-account
//! lockout, which is in the database, still holds).

use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

const WINDOW: Duration = Duration::minutes(15);
/// Longest wait between throttled attempts.
const MAX_DELAY_SECS: i64 = 60;
/// Addresses tracked at most; past this, idle ones are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug, Clone, Copy)]
pub struct IpLimits {
    pub throttle_after: u32,
    pub ban_after: u32,
    pub ban_minutes: u32,
}

#[derive(Debug, Default)]
struct Entry {
    failures: u32,
    last_failure: Option<DateTime<Utc>>,
    banned_until: Option<DateTime<Utc>>,
    bans: u32,
}

/// Whether an address may try to sign in now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Too many failures lately: wait this many seconds.
    Throttled(u64),
    /// Banned for this many seconds more.
    Banned(u64),
}

/// What recording a failure led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterFailure {
    Counted,
    /// This failure started a ban until then.
    BanStarted(DateTime<Utc>),
}

pub struct IpGuard {
    limits: IpLimits,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

/// The key an address counts under: IPv4 as it is, IPv6 by its /64.
fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                IpAddr::V6(seg.into())
            }
        },
    }
}

fn secs_until(t: DateTime<Utc>, now: DateTime<Utc>) -> u64 {
    let ms = (t - now).num_milliseconds().max(1);
    ((ms + 999) / 1000) as u64
}

impl IpGuard {
    pub fn new(limits: IpLimits) -> Self {
        Self {
            limits,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn check(&self, ip: IpAddr, now: DateTime<Utc>) -> Verdict {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let Some(e) = entries.get(&key(ip)) else {
            return Verdict::Allowed;
        };
        if let Some(until) = e.banned_until.filter(|u| *u > now) {
            return Verdict::Banned(secs_until(until, now));
        }
        let in_window = e.last_failure.is_some_and(|s| now - s < WINDOW);
        if in_window && e.failures >= self.limits.throttle_after {
            let over = e.failures - self.limits.throttle_after;
            let delay = Duration::seconds((1i64 << over.min(6)).min(MAX_DELAY_SECS));
            if let Some(last) = e.last_failure {
                if now < last + delay {
                    return Verdict::Throttled(secs_until(last + delay, now));
                }
            }
        }
        Verdict::Allowed
    }

    pub fn record_failure(&self, ip: IpAddr, now: DateTime<Utc>) -> AfterFailure {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= MAX_TRACKED {
            entries.retain(|_, e| {
                e.banned_until.is_some_and(|u| u > now)
                    || e.last_failure.is_some_and(|s| now - s < WINDOW)
            });
        }
        let e = entries.entry(key(ip)).or_default();
        if e.last_failure.is_none_or(|s| now - s >= WINDOW) {
            e.failures = 0;
        }
        e.failures += 1;
        e.last_failure = Some(now);
        if e.failures >= self.limits.ban_after {
            e.bans += 1;
            let minutes = (u64::from(self.limits.ban_minutes) << (e.bans - 1).min(10)).min(1440);
            let until = now + Duration::minutes(minutes as i64);
            e.banned_until = Some(until);
            e.failures = 0;
            return AfterFailure::BanStarted(until);
        }
        AfterFailure::Counted
    }

    /// Lifts an address's ban and forgets its failures.
    pub fn forget(&self, ip: IpAddr) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(&key(ip)).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> IpGuard {
        IpGuard::new(IpLimits {
            throttle_after: 3,
            ban_after: 6,
            ban_minutes: 15,
        })
    }

    #[test]
    fn throttles_then_bans_and_bans_grow() {
        let g = guard();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for _ in 0..3 {
            assert_eq!(g.check(ip, t0), Verdict::Allowed);
            assert_eq!(g.record_failure(ip, t0), AfterFailure::Counted);
        }
        // The fourth attempt must wait a second, the fifth two.
        assert_eq!(g.check(ip, t0), Verdict::Throttled(1));
        let t1 = t0 + Duration::seconds(1);
        assert_eq!(g.check(ip, t1), Verdict::Allowed);
        g.record_failure(ip, t1);
        assert_eq!(g.check(ip, t1), Verdict::Throttled(2));
        assert_eq!(g.check(other, t1), Verdict::Allowed);
        g.record_failure(ip, t1 + Duration::seconds(2));
        let AfterFailure::BanStarted(until) = g.record_failure(ip, t1 + Duration::seconds(5))
        else {
            panic!("the sixth failure bans");
        };
        assert_eq!(until - (t1 + Duration::seconds(5)), Duration::minutes(15));
        assert!(matches!(
            g.check(ip, until - Duration::seconds(1)),
            Verdict::Banned(1)
        ));
        assert_eq!(g.check(ip, until), Verdict::Allowed);
        // The second ban lasts twice as long.
        for _ in 0..5 {
            g.record_failure(ip, until);
        }
        let AfterFailure::BanStarted(until2) = g.record_failure(ip, until) else {
            panic!("banned again");
        };
        assert_eq!(until2 - until, Duration::minutes(30));
        assert!(g.forget(ip));
        assert_eq!(g.check(ip, until), Verdict::Allowed);
    }

    #[test]
    fn ipv6_counts_by_its_64() {
        let g = guard();
        let now = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        for i in 0..6 {
            let ip: IpAddr = format!("2001:db8:1:2::{i:x}").parse().unwrap();
            g.record_failure(ip, now);
        }
        assert!(matches!(
            g.check("2001:db8:1:2:ffff::1".parse().unwrap(), now),
            Verdict::Banned(_)
        ));
        assert_eq!(
            g.check("2001:db8:1:3::1".parse().unwrap(), now),
            Verdict::Allowed
        );
    }
}
