//! Capacity forecasts: how fast something grows, and when the space it lives in runs out at
//! that pace. A least-squares line through (day, bytes) samples; its slope is the growth per
//! day, and R² (how much of the change the line explains) with the number of samples is how
//! far to trust it. No I/O: the samples come from the catalog (`skjold_store::capacity`).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Fewer samples than this and no trend is claimed: two points always make a perfect line.
pub const MIN_SAMPLES: usize = 3;

/// A forecast that says the space runs out sooner than this many days is a warning.
pub const WARN_DAYS: f64 = 30.0;

/// One measurement: when, and how many bytes the subject took.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub bytes: f64,
}

/// The fitted line over a window of samples.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Trend {
    /// The slope: bytes per day (negative when shrinking).
    pub growth_per_day: f64,
    /// Coefficient of determination, 0 to 1: 1 when every sample lies on the line.
    pub r_squared: f64,
    pub samples: usize,
    /// Days from the newest sample until the free space is used up at this growth; `None`
    /// when it does not grow, or nothing is known of its free space.
    pub days_until_full: Option<f64>,
}

/// What a window of samples says.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Forecast {
    /// Under [`MIN_SAMPLES`] samples (or all at one instant): no trend is claimed.
    NotEnoughData {
        samples: usize,
    },
    Trend(Trend),
}

/// How far to trust a trend, in a word for people: from R² and the number of samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

impl Trend {
    /// High: the line explains at least 90 % of the change over a week or more of samples;
    /// medium: at least 60 %; low otherwise.
    pub fn confidence(&self) -> Confidence {
        if self.r_squared >= 0.9 && self.samples >= 7 {
            Confidence::High
        } else if self.r_squared >= 0.6 {
            Confidence::Medium
        } else {
            Confidence::Low
        }
    }

    /// Runs out within [`WARN_DAYS`].
    pub fn warns(&self) -> bool {
        self.days_until_full.is_some_and(|d| d < WARN_DAYS)
    }
}

/// Fits a line through `samples` and, when `free_bytes` is known (the room left where the
/// subject lives, at the newest sample), says when that room is used up.
pub fn forecast(samples: &[Sample], free_bytes: Option<f64>) -> Forecast {
    let n = samples.len();
    if n < MIN_SAMPLES {
        return Forecast::NotEnoughData { samples: n };
    }
    let Some(origin) = samples.iter().map(|s| s.at).min() else {
        return Forecast::NotEnoughData { samples: n };
    };
    let days: Vec<(f64, f64)> = samples
        .iter()
        .map(|s| {
            let d = (s.at - origin).num_milliseconds() as f64 / 86_400_000.0;
            (d, s.bytes)
        })
        .collect();
    let nf = n as f64;
    let mean_x = days.iter().map(|(x, _)| x).sum::<f64>() / nf;
    let mean_y = days.iter().map(|(_, y)| y).sum::<f64>() / nf;
    let sxx: f64 = days.iter().map(|(x, _)| (x - mean_x).powi(2)).sum();
    let sxy: f64 = days.iter().map(|(x, y)| (x - mean_x) * (y - mean_y)).sum();
    if sxx <= f64::EPSILON {
        // Every sample at one instant: no time has passed to see a trend in.
        return Forecast::NotEnoughData { samples: n };
    }
    let slope = sxy / sxx;
    let intercept = mean_y - slope * mean_x;
    let ss_tot: f64 = days.iter().map(|(_, y)| (y - mean_y).powi(2)).sum();
    let ss_res: f64 = days
        .iter()
        .map(|(x, y)| (y - (intercept + slope * x)).powi(2))
        .sum();
    // A subject that never changed is explained perfectly by its flat line.
    let r_squared = if ss_tot <= f64::EPSILON {
        1.0
    } else {
        (1.0 - ss_res / ss_tot).clamp(0.0, 1.0)
    };
    let days_until_full = match free_bytes {
        Some(free) if slope > 0.0 => Some((free.max(0.0)) / slope),
        _ => None,
    };
    Forecast::Trend(Trend {
        growth_per_day: slope,
        r_squared,
        samples: n,
        days_until_full,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
            + Duration::days(n)
    }

    fn samples(values: &[(i64, f64)]) -> Vec<Sample> {
        values
            .iter()
            .map(|&(d, bytes)| Sample { at: day(d), bytes })
            .collect()
    }

    fn trend(f: Forecast) -> Trend {
        match f {
            Forecast::Trend(t) => t,
            other => panic!("expected a trend, got {other:?}"),
        }
    }

    #[test]
    fn an_exact_line_has_r_squared_one_and_says_when_it_is_full() {
        let s: Vec<_> = (0..10).map(|d| (d, 1000.0 + 100.0 * d as f64)).collect();
        let t = trend(forecast(&samples(&s), Some(2_000.0)));
        assert!((t.growth_per_day - 100.0).abs() < 1e-9, "{t:?}");
        assert!((t.r_squared - 1.0).abs() < 1e-12, "{t:?}");
        assert_eq!(t.samples, 10);
        assert!((t.days_until_full.unwrap() - 20.0).abs() < 1e-9, "{t:?}");
        assert!(t.warns());
        assert_eq!(t.confidence(), Confidence::High);
    }

    #[test]
    fn a_flat_subject_never_runs_out() {
        let s: Vec<_> = (0..5).map(|d| (d, 5_000.0)).collect();
        let t = trend(forecast(&samples(&s), Some(10.0)));
        assert_eq!(t.growth_per_day, 0.0);
        assert_eq!(t.days_until_full, None);
        assert!(!t.warns());
    }

    #[test]
    fn a_shrinking_subject_never_runs_out() {
        let s: Vec<_> = (0..5).map(|d| (d, 5_000.0 - 10.0 * d as f64)).collect();
        let t = trend(forecast(&samples(&s), Some(10.0)));
        assert!(t.growth_per_day < 0.0);
        assert_eq!(t.days_until_full, None);
    }

    #[test]
    fn noise_lowers_the_confidence() {
        let exact: Vec<_> = (0..10).map(|d| (d, 100.0 * d as f64)).collect();
        let noisy: Vec<_> = (0..10)
            .map(|d| {
                (
                    d,
                    100.0 * d as f64 + if d % 2 == 0 { 400.0 } else { -400.0 },
                )
            })
            .collect();
        let (e, n) = (
            trend(forecast(&samples(&exact), None)),
            trend(forecast(&samples(&noisy), None)),
        );
        assert!(n.r_squared < e.r_squared, "{n:?} vs {e:?}");
        assert!(n.r_squared < 0.9);
        assert_ne!(n.confidence(), Confidence::High);
        assert!(n.growth_per_day > 0.0);
    }

    #[test]
    fn under_three_samples_is_not_enough_data() {
        assert_eq!(
            forecast(&samples(&[(0, 1.0), (1, 2.0)]), Some(1.0)),
            Forecast::NotEnoughData { samples: 2 }
        );
        assert_eq!(forecast(&[], None), Forecast::NotEnoughData { samples: 0 });
        // Three samples at one instant show no time passing either.
        assert_eq!(
            forecast(&samples(&[(0, 1.0), (0, 2.0), (0, 3.0)]), None),
            Forecast::NotEnoughData { samples: 3 }
        );
    }

    #[test]
    fn without_known_free_space_there_is_no_date() {
        let s: Vec<_> = (0..5).map(|d| (d, 100.0 * d as f64)).collect();
        assert_eq!(trend(forecast(&samples(&s), None)).days_until_full, None);
    }
}
