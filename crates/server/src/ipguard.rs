//! Per-address protection of sign-in: failed attempts from one source address (an IPv6
//! address counts by its /64, which one client usually holds whole) are counted until the
//! address has been quiet for 15 minutes; past a threshold each further attempt must wait (throttling), past a
//! second the address may not sign in at all for a while (a ban, doubling on repeat up to a
//! day). Kept in memory: it protects this process, and a restart forgets it (the per-account
//! lockout, which is in the database, still holds).
//!
//! An attempt is reserved before its credentials are checked ([`IpGuard::reserve`]): the
//! verdict and the count are taken together under one lock, so a burst of attempts at once
//! gets no more checks than sequential ones would. A reservation counts as a failure from
//! the start; a failure settles it ([`IpGuard::settle_failure`], which may start the ban), a
//! success or an attempt that was not decided gives it back ([`IpGuard::release`]).

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
        Self::verdict(&self.limits, entries.get(&key(ip)), now)
    }

    fn verdict(limits: &IpLimits, e: Option<&Entry>, now: DateTime<Utc>) -> Verdict {
        let Some(e) = e else {
            return Verdict::Allowed;
        };
        if let Some(until) = e.banned_until.filter(|u| *u > now) {
            return Verdict::Banned(secs_until(until, now));
        }
        let in_window = e.last_failure.is_some_and(|s| now - s < WINDOW);
        if in_window && e.failures >= limits.ban_after {
            // Every place is taken by attempts still being checked; one of them bans.
            return Verdict::Throttled(1);
        }
        if in_window && e.failures >= limits.throttle_after {
            let over = e.failures - limits.throttle_after;
            let delay = Duration::seconds((1i64 << over.min(6)).min(MAX_DELAY_SECS));
            if let Some(last) = e.last_failure {
                if now < last + delay {
                    return Verdict::Throttled(secs_until(last + delay, now));
                }
            }
        }
        Verdict::Allowed
    }

    /// Counts a failure that was not reserved (an attempt checked without
    /// [`Self::reserve`]).
    pub fn record_failure(&self, ip: IpAddr, now: DateTime<Utc>) -> AfterFailure {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let e = Self::entry(&mut entries, ip, now);
        e.failures += 1;
        e.last_failure = Some(now);
        self.ban_if_due(ip, now, &mut entries)
    }

    /// The verdict of [`Self::check`] and, when allowed, one attempt counted, atomically.
    pub fn reserve(&self, ip: IpAddr, now: DateTime<Utc>) -> Verdict {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let verdict = Self::verdict(&self.limits, entries.get(&key(ip)), now);
        if verdict == Verdict::Allowed {
            let e = Self::entry(&mut entries, ip, now);
            e.failures += 1;
            e.last_failure = Some(now);
        }
        verdict
    }

    /// A reserved attempt failed: it is counted already; the one that used up the last
    /// place starts the ban.
    pub fn settle_failure(&self, ip: IpAddr, now: DateTime<Utc>) -> AfterFailure {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries
            .get(&key(ip))
            .and_then(|e| e.banned_until)
            .is_some_and(|u| u > now)
        {
            return AfterFailure::Counted;
        }
        let e = Self::entry(&mut entries, ip, now);
        e.failures = e.failures.max(1);
        e.last_failure = Some(now);
        self.ban_if_due(ip, now, &mut entries)
    }

    /// Gives a reserved attempt back (it succeeded, or was not decided).
    pub fn release(&self, ip: IpAddr) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = entries.get_mut(&key(ip)) {
            e.failures = e.failures.saturating_sub(1);
        }
    }

    /// The address's entry, made if missing, its count reset when the window has passed.
    fn entry(entries: &mut HashMap<IpAddr, Entry>, ip: IpAddr, now: DateTime<Utc>) -> &mut Entry {
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
        e
    }

    fn ban_if_due(
        &self,
        ip: IpAddr,
        now: DateTime<Utc>,
        entries: &mut HashMap<IpAddr, Entry>,
    ) -> AfterFailure {
        let Some(e) = entries.get_mut(&key(ip)) else {
            return AfterFailure::Counted;
        };
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
    fn a_burst_at_one_instant_gets_no_more_checks_than_the_throttle_allows() {
        let g = guard();
        let ip: IpAddr = "203.0.113.20".parse().unwrap();
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        // 40 attempts arrive before any is decided: 3 are let through.
        let allowed = (0..40)
            .filter(|_| g.reserve(ip, t0) == Verdict::Allowed)
            .count();
        assert_eq!(allowed, 3);
        // Released (e.g. successes): the places come back.
        for _ in 0..3 {
            g.release(ip);
        }
        assert_eq!(g.reserve(ip, t0), Verdict::Allowed);
        // Spread out in time, reservations stop at the ban count even while none has
        // been decided, and the one that used the last place bans when it fails.
        let mut t = t0;
        let mut reserved = 1;
        for _ in 0..12 {
            t += Duration::seconds(61);
            if g.reserve(ip, t) == Verdict::Allowed {
                reserved += 1;
            }
        }
        assert_eq!(reserved, 6, "ban_after places");
        assert_eq!(g.check(ip, t), Verdict::Throttled(1));
        assert!(matches!(
            g.settle_failure(ip, t),
            AfterFailure::BanStarted(_)
        ));
        assert!(matches!(g.reserve(ip, t), Verdict::Banned(_)));
        // Late failures of the same burst do not start another ban.
        assert_eq!(g.settle_failure(ip, t), AfterFailure::Counted);
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
