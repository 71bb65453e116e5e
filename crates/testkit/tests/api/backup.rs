//! The tenant's backup status: only for holders of backup.restore; shows snapshots and the
//! shipping lag once backups are configured.

use skjold_domain::Role;
use skjold_testkit::{spawn_app, spawn_app_with};

#[tokio::test]
async fn backup_status_needs_the_right_and_says_when_backups_are_off() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let r = app.get("/demo/api/v1/backup", &admin).await;
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["enabled"], false);
    let user = app.user_with_role("demo", "maria", Role::User).await;
    let r = app.get("/demo/api/v1/backup", &user).await;
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn backup_status_shows_snapshots_and_shipping() {
    let key = age::x25519::Identity::generate().to_public().to_string();
    let app = spawn_app_with(|c| {
        c.backup = skjold_backup::BackupSettings {
            recipients: vec![key],
            // The shipping loop ships once at start, then not within this test.
            ship_interval_seconds: 300,
            ..Default::default()
        }
        .check(&c.data_dir)
        .unwrap();
    })
    .await;
    let admin = app.admin_token().await;
    let backups = app.state.backups.clone().expect("backups are on");
    let slug = skjold_domain::TenantSlug::parse("demo").unwrap();
    backups.snapshot(&slug, "manual").await.unwrap();
    let r = app
        .post(
            "/demo/api/v1/companies",
            &admin,
            &serde_json::json!({ "name": "Fjord AS" }),
        )
        .await;
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = app
        .get("/demo/api/v1/backup", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["enabled"], true);
    // The manual one (and the initial one the shipping loop takes at start, if it came
    // first).
    let snaps = body["snapshots"].as_array().unwrap();
    assert!(snaps.iter().any(|s| s["reason"] == "manual"), "{body}");
    assert!(
        body["journal_position"].as_i64().unwrap() > body["shipped_position"].as_i64().unwrap()
    );
    assert_eq!(body["destinations"].as_array().unwrap().len(), 2);
    backups.ship(&slug).await.unwrap();
    let body: serde_json::Value = app
        .get("/demo/api/v1/backup", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["journal_position"], body["shipped_position"]);
    assert_eq!(body["lag_seconds"], 0.0);
}

#[tokio::test]
async fn backup_jobs_run_only_when_backups_are_configured() {
    let app = spawn_app().await;
    let ran = skjold_server::jobs::Scheduler::for_state(&app.state)
        .run_due(&app.state)
        .await;
    assert!(!ran.iter().any(|j| j.starts_with("backup.")), "{ran:?}");
    let key = age::x25519::Identity::generate().to_public().to_string();
    let app = spawn_app_with(|c| {
        c.backup = skjold_backup::BackupSettings {
            recipients: vec![key],
            ship_interval_seconds: 300,
            ..Default::default()
        }
        .check(&c.data_dir)
        .unwrap();
    })
    .await;
    let ran = skjold_server::jobs::Scheduler::for_state(&app.state)
        .run_due(&app.state)
        .await;
    for job in [
        "backup.snapshot",
        "backup.audit_files",
        "backup.sync",
        "backup.prune",
    ] {
        assert!(ran.contains(&job), "{ran:?}");
    }
}
