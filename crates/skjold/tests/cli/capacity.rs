//! `skjold capacity`: samples taken on demand, and the forecast over samples at known times
//! (written into the catalog as the daily job would have, days apart): growth per day,
//! when a space runs out, its confidence, and the warning under 30 days.

use crate::common::Sandbox;
use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use skjold_domain::clock::format_timestamp;
use skjold_store::{Backend, CapacitySample, Catalog};
use std::sync::Arc;

const GIB: i64 = 1024 * 1024 * 1024;

/// Writes samples into the sandbox's catalog, as days of the daily job would have.
fn write_samples(sandbox: &Sandbox, samples: Vec<CapacitySample>) {
    let data_dir = sandbox.data();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async move {
            let clock: skjold_domain::SharedClock = Arc::new(skjold_domain::SystemClock);
            let catalog = Catalog::open(Backend::Sqlite { data_dir }, clock)
                .await
                .unwrap();
            catalog.record_capacity_samples(&samples).await.unwrap();
            catalog.close().await;
        });
}

fn daily(
    subject: &str,
    now: DateTime<Utc>,
    bytes: impl Fn(i64) -> i64,
    total: Option<i64>,
) -> Vec<CapacitySample> {
    // Ten samples, one a day, the newest an hour ago.
    (0..10)
        .map(|d| CapacitySample {
            at: format_timestamp(now - Duration::hours(1) - Duration::days(9 - d)),
            subject: subject.into(),
            bytes: bytes(d),
            total_bytes: total,
        })
        .collect()
}

#[test]
fn samples_on_demand_then_a_forecast_that_warns_under_thirty_days() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");

    let out = sandbox.run(&["capacity"]).ok();
    assert!(out.stdout.contains("no capacity samples yet"), "{out:#?}");

    // One sample of every subject: a size, and no trend yet.
    let out = sandbox.run(&["capacity", "--sample"]).ok();
    for subject in [
        "disk:data_dir",
        "database:catalog",
        "database:tenant:acme",
        "audit_logs",
    ] {
        assert!(out.stdout.contains(subject), "{subject}: {}", out.stdout);
    }
    assert!(out.stdout.contains("not enough data"), "{}", out.stdout);
    assert!(!out.stdout.contains("WARNING"), "{}", out.stdout);

    // A volume that grows 2 GiB a day with 21 GiB left: full in 10.5 days. A tenant whose
    // database stays the same size never fills anything.
    #[allow(clippy::disallowed_methods)] // the CLI runs on the real clock
    let now = Utc::now();
    let mut samples = daily(
        "disk:volume",
        now,
        |d| 61 * GIB + 2 * GIB * d,
        Some(100 * GIB),
    );
    samples.extend(daily("database:tenant:steady", now, |_| 5 * GIB, None));
    write_samples(&sandbox, samples);

    let out = sandbox.run(&["capacity"]).ok();
    let warnings: Vec<&str> = out
        .stdout_lines()
        .into_iter()
        .filter(|l| l.starts_with("WARNING:"))
        .collect();
    assert_eq!(
        warnings,
        ["WARNING: disk:volume runs out in 10 days at its 30-day trend (+2.0 GiB/day, confidence high)"],
        "{}",
        out.stdout
    );
    let volume = out
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("disk:volume"))
        .unwrap()
        .to_string();
    assert!(volume.contains("79.0 GiB of 100.0 GiB"), "{volume}");
    assert!(volume.contains("10 days (!)"), "{volume}");
    assert!(volume.contains("high (R² 1.00, 10 samples)"), "{volume}");

    let out = sandbox.run(&["capacity", "--json"]).ok();
    let report: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report["warnings"].as_array().unwrap().len(), 1);
    let subject = |name: &str| {
        report["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["subject"] == name)
            .unwrap_or_else(|| panic!("{name} in {report:#}"))
            .clone()
    };
    let volume = subject("disk:volume");
    let thirty = &volume["windows"][0];
    assert_eq!(thirty["days"], 30);
    assert_eq!(thirty["forecast"]["kind"], "trend");
    assert_eq!(thirty["confidence"], "high");
    let growth = thirty["forecast"]["growth_per_day"].as_f64().unwrap();
    assert!((growth - 2.0 * GIB as f64).abs() < 1.0, "{growth}");
    let days = thirty["forecast"]["days_until_full"].as_f64().unwrap();
    assert!((days - 10.5).abs() < 0.01, "{days}");
    let steady = subject("database:tenant:steady");
    assert_eq!(steady["windows"][0]["forecast"]["growth_per_day"], 0.0);
    assert!(steady["windows"][0]["forecast"]["days_until_full"].is_null());
    // `skjold doctor` says the same, as a warning (this sandbox has other findings: no
    // server ever started, so backups are off and the status is 1; only stdout matters here).
    let doctor = sandbox.run(&["doctor", "--json"]);
    let findings: Vec<Value> = serde_json::from_str(&doctor.stdout).unwrap();
    let capacity: Vec<&Value> = findings
        .iter()
        .filter(|f| f["check"] == "capacity.forecast")
        .collect();
    assert_eq!(capacity.len(), 1, "{findings:#?}");
    assert_eq!(capacity[0]["severity"], "warning");
    assert!(
        capacity[0]["finding"]
            .as_str()
            .unwrap()
            .starts_with("disk:volume runs out in 10 days"),
        "{capacity:?}"
    );
    // Sampled once: no trend claimed.
    assert_eq!(
        subject("database:catalog")["windows"][0]["forecast"]["kind"],
        "not_enough_data"
    );
}
