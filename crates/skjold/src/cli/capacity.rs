//! `skjold capacity`: how much the disk, each database, the audit logs and the backups take,
//! how fast they grew over the last 30 and 90 days, and when a space runs out at that pace.
//! The samples are the daily `capacity.sample` job's (and `--sample`'s); the fit is
//! `skjold_domain::capacity`. Tenants appear by slug: this is the operator's view.

use anyhow::Context;
use clap::Args;
use skjold_domain::capacity::{Forecast, WARN_DAYS};
use skjold_domain::{SharedClock, SystemClock};
use skjold_server::capacity::{report, sample, SubjectForecast};
use skjold_server::Config;
use std::sync::Arc;

#[derive(Debug, Args)]
pub(super) struct CapacityArgs {
    /// Print the forecast as JSON ({generated_at, subjects, warnings}).
    #[arg(long)]
    json: bool,
    /// Take a sample of every subject now (as the daily job does) before forecasting.
    #[arg(long)]
    sample: bool,
}

pub(super) async fn capacity(config: Config, args: CapacityArgs) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now();
    let (router, audit) = super::open_router(&config).await?;
    let result = async {
        if args.sample {
            sample(&router, &config.data_dir, &config.backup.destinations, now)
                .await
                .context("taking the capacity samples")?;
        }
        Ok::<_, anyhow::Error>(report(router.catalog(), now).await?)
    }
    .await;
    super::close(router, audit).await?;
    let subjects = result?;
    let warnings: Vec<String> = subjects.iter().filter_map(warning).collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "generated_at": skjold_domain::clock::format_timestamp(now),
                "subjects": subjects,
                "warnings": warnings,
            }))?
        );
        return Ok(());
    }
    if subjects.is_empty() {
        println!("no capacity samples yet: the server takes one a day (job capacity.sample), or run `skjold capacity --sample`");
        return Ok(());
    }
    print!("{}", table(&subjects));
    for w in &warnings {
        println!("{w}");
    }
    Ok(())
}

/// `WARNING: <subject> runs out in N days …` for a space full within [`WARN_DAYS`].
fn warning(s: &SubjectForecast) -> Option<String> {
    let days = s.warning_days()?;
    let (w, t) = s.deciding()?;
    Some(format!(
        "WARNING: {} runs out in {} days at its {}-day trend ({}/day, confidence {})",
        s.subject,
        days.floor(),
        w.days,
        signed_bytes(t.growth_per_day),
        t.confidence().as_str()
    ))
}

fn table(subjects: &[SubjectForecast]) -> String {
    let mut rows = vec![[
        "SUBJECT".to_string(),
        "NOW".into(),
        "GROWTH/DAY 30D".into(),
        "GROWTH/DAY 90D".into(),
        "RUNS OUT IN".into(),
        "CONFIDENCE".into(),
    ]];
    for s in subjects {
        let growth = |i: usize| match s.windows.get(i).map(|w| &w.forecast) {
            Some(Forecast::Trend(t)) => signed_bytes(t.growth_per_day),
            Some(Forecast::NotEnoughData { samples }) => format!("- ({samples} samples)"),
            None => "-".into(),
        };
        let (runs_out, confidence) = match s.deciding() {
            None => ("not enough data".to_string(), "-".to_string()),
            Some((_, t)) => {
                let runs_out = match (s.total_bytes, t.days_until_full) {
                    (None, _) => "-".to_string(),
                    (Some(_), None) => "never".to_string(),
                    (Some(_), Some(d)) if d < WARN_DAYS => format!("{} days (!)", d.floor()),
                    (Some(_), Some(d)) => format!("{} days", d.floor()),
                };
                (
                    runs_out,
                    format!(
                        "{} (R² {:.2}, {} samples)",
                        t.confidence().as_str(),
                        t.r_squared,
                        t.samples
                    ),
                )
            }
        };
        let now = match s.total_bytes {
            Some(total) => format!("{} of {}", bytes(s.bytes as f64), bytes(total as f64)),
            None => bytes(s.bytes as f64),
        };
        rows.push([
            s.subject.clone(),
            now,
            growth(0),
            growth(1),
            runs_out,
            confidence,
        ]);
    }
    let widths: Vec<usize> = (0..6)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let line: Vec<String> = r
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Bytes for people, in binary units.
fn bytes(n: f64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = n.abs();
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    let sign = if n < 0.0 { "-" } else { "" };
    if unit == 0 {
        format!("{sign}{v:.0} {}", UNITS[unit])
    } else {
        format!("{sign}{v:.1} {}", UNITS[unit])
    }
}

fn signed_bytes(n: f64) -> String {
    if n > 0.0 {
        format!("+{}", bytes(n))
    } else {
        bytes(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(signed_bytes(10.0 * 1024.0 * 1024.0), "+10.0 MiB");
        assert_eq!(signed_bytes(-2048.0), "-2.0 KiB");
        assert_eq!(signed_bytes(0.0), "0 B");
    }
}
