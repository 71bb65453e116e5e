//! The daily `capacity.sample` job: samples of every subject at the injected clock's time,
//! one a day, which the forecast then reads as a trend.

use chrono::Duration;
use skjold_domain::clock::format_timestamp;
use skjold_domain::Clock;
use skjold_testkit::spawn_app;

#[tokio::test]
async fn the_daily_job_samples_every_subject_at_the_clocks_time() {
    let app = spawn_app().await;
    app.create_tenant("fjordhandel").await;
    let started = app.clock.now();
    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    for day in 0..3 {
        let ran = scheduler.run_due(&app.state).await;
        assert!(ran.contains(&"capacity.sample"), "day {day}: {ran:?}");
        app.clock.advance(Duration::days(1));
    }
    let catalog = app.state.tenants.catalog();
    let samples = catalog
        .capacity_samples_since(&format_timestamp(started - Duration::seconds(1)))
        .await
        .unwrap();
    for subject in [
        "disk:data_dir",
        "database:catalog",
        "database:tenant:demo",
        "database:tenant:fjordhandel",
        "audit_logs",
    ] {
        let at: Vec<&str> = samples
            .iter()
            .filter(|s| s.subject == subject)
            .map(|s| s.at.as_str())
            .collect();
        let days: Vec<String> = (0..3)
            .map(|d| format_timestamp(started + Duration::days(d)))
            .collect();
        assert_eq!(at, days, "{subject}");
    }
    let disk = samples
        .iter()
        .find(|s| s.subject == "disk:data_dir")
        .unwrap();
    assert!(disk.total_bytes.unwrap() >= disk.bytes && disk.bytes > 0);
    if skjold_testkit::backend_name() == "sqlite" {
        // The tenant databases are files here; PostgreSQL's sizes are its own.
        assert!(samples
            .iter()
            .any(|s| s.subject == "database:tenant:demo" && s.bytes > 0));
    }

    let report = skjold_server::capacity::report(catalog, app.clock.now())
        .await
        .unwrap();
    let disk = report
        .iter()
        .find(|s| s.subject == "disk:data_dir")
        .unwrap();
    assert!(
        matches!(
            disk.windows[0].forecast,
            skjold_domain::capacity::Forecast::Trend(t) if t.samples == 3
        ),
        "{disk:?}"
    );
}
