//! The one place that reads the wall clock.
//!
//! Everything about expiry, retention and scheduling asks a [`Clock`], so tests can move time
//! forward by days or years without waiting (`clippy.toml` bans the direct calls elsewhere).

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

pub type SharedClock = Arc<dyn Clock>;

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the single sanctioned read of the wall clock
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until a test moves it.
#[derive(Debug, Clone)]
pub struct TestClock {
    now: Arc<Mutex<DateTime<Utc>>>,
}

impl TestClock {
    pub fn at(start: DateTime<Utc>) -> Self {
        Self {
            now: Arc::new(Mutex::new(start)),
        }
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|p| p.into_inner());
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Timestamps are stored as fixed-width RFC 3339 text in UTC with microseconds, so that the
/// text order is the time order on every database.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_clock_moves_only_when_told() {
        let start = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let clock = TestClock::at(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::days(30));
        assert_eq!(format_timestamp(clock.now()), "2026-01-31T00:00:00.000000Z");
    }

    #[test]
    fn stored_timestamps_sort_as_text_in_time_order() {
        let a = parse_timestamp("2026-01-01T09:59:59.9Z").unwrap();
        let b = parse_timestamp("2026-01-01T10:00:00Z").unwrap();
        assert!(format_timestamp(a) < format_timestamp(b));
    }
}
