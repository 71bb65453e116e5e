//! The tenant's backup status: only for holders of backup.restore; shows snapshots and the
//! shipping lag once backups are configured.

use skjold_domain::{Clock, Role};
use skjold_testkit::spawn_app_with;

/// A server whose operator turned backups off: no recipients and `generate_key = false`
/// (without that, a server backs up to a key it generates: docs/operations.md).
async fn app_with_backups_off() -> skjold_testkit::TestApp {
    spawn_app_with(|c| {
        c.backup = skjold_backup::BackupSettings {
            generate_key: false,
            ..Default::default()
        }
        .check(&c.data_dir)
        .unwrap();
    })
    .await
}

#[tokio::test]
async fn backup_status_needs_the_right_and_says_when_backups_are_off() {
    let app = app_with_backups_off().await;
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
    let app = app_with_backups_off().await;
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

/// An app with backups on and, unless `with_key` is false, the server's identity file.
pub(crate) async fn app_with_backups(with_key: bool) -> skjold_testkit::TestApp {
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    spawn_app_with(move |c| {
        let identity_file = with_key.then(|| {
            let path = c.data_dir.join("server-key.txt");
            std::fs::create_dir_all(&c.data_dir).unwrap();
            std::fs::write(
                &path,
                format!(
                    "{}\n",
                    secrecy::ExposeSecret::expose_secret(&id.to_string())
                ),
            )
            .unwrap();
            path
        });
        c.backup = skjold_backup::BackupSettings {
            recipients: vec![public],
            ship_interval_seconds: 300,
            identity_file,
            ..Default::default()
        }
        .check(&c.data_dir)
        .unwrap();
    })
    .await
}

/// The phases of a restore, in the order they run.
const PHASES: [&str; 9] = [
    "fetching",
    "fetching_journal",
    "decrypting",
    "loading",
    "checking",
    "replaying",
    "safety_snapshot",
    "swapping",
    "done",
];

fn phase_rank(phase: &serde_json::Value) -> usize {
    PHASES
        .iter()
        .position(|p| phase == p)
        .unwrap_or_else(|| panic!("unknown restore phase {phase}"))
}

/// The phases a finished restore went through: those it timed, then the last.
fn phases_of(progress: &serde_json::Value) -> Vec<String> {
    let mut phases: Vec<String> = progress["finished"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert!(f["ms"].is_u64(), "{f}");
            f["phase"].as_str().unwrap().to_string()
        })
        .collect();
    phases.push(progress["phase"].as_str().unwrap().to_string());
    phases
}

/// The phases a restore of this backend's snapshot format runs through: a SQLite file is
/// decrypted, then checked; JSON lines (PostgreSQL) are loaded row by row as they are
/// decrypted, then checked.
fn expected_phases(in_place: bool) -> Vec<String> {
    let mut p = vec!["fetching", "fetching_journal"];
    if skjold_testkit::backend_name() == "postgres" {
        p.push("loading");
    } else {
        p.push("decrypting");
    }
    p.extend(["checking", "replaying"]);
    if in_place {
        p.push("safety_snapshot");
    }
    p.extend(["swapping", "done"]);
    p.into_iter().map(String::from).collect()
}

/// Polls a restore job until it is over, checking that each progress it shows is a known
/// phase, never earlier than the one seen before, with counts that make sense. The job
/// runs on the server's runtime; the test waits for it in real time (bounded).
async fn finished_job(app: &skjold_testkit::TestApp, token: &str, id: &str) -> serde_json::Value {
    let mut rank = 0;
    for _ in 0..600 {
        let job: serde_json::Value = app
            .get(&format!("/demo/api/v1/backup/restores/{id}"), token)
            .await
            .json()
            .await
            .unwrap();
        let progress = &job["progress"];
        assert!(progress.is_object(), "{job}");
        let now = phase_rank(&progress["phase"]);
        assert!(now >= rank, "the restore went back a phase: {job}");
        rank = now;
        assert!(
            progress["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{job}"
        );
        if let (Some(done), Some(total)) = (progress["done"].as_u64(), progress["total"].as_u64()) {
            assert!(done <= total, "{job}");
            assert!(progress["unit"].is_string(), "{job}");
        }
        if job["state"] != "running" {
            return job;
        }
        #[allow(clippy::disallowed_methods)] // waiting for a background job, bounded
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the restore job did not finish in a minute");
}

#[tokio::test]
async fn restore_through_the_api_side_by_side_and_in_place() {
    let app = app_with_backups(true).await;
    let admin = app.admin_token().await;
    let backups = app.state.backups.clone().unwrap();
    let slug = skjold_domain::TenantSlug::parse("demo").unwrap();
    let post = |name: &'static str| {
        let app = &app;
        let admin = admin.clone();
        async move {
            let r = app
                .post(
                    "/demo/api/v1/companies",
                    &admin,
                    &serde_json::json!({ "name": name }),
                )
                .await;
            assert_eq!(r.status(), 201);
        }
    };
    post("Before AS").await;
    backups.snapshot(&slug, "manual").await.unwrap();
    app.clock.advance(chrono::Duration::seconds(10));
    let t1 = skjold_domain::clock::format_timestamp(app.clock.now());
    app.clock.advance(chrono::Duration::seconds(10));
    post("After AS").await;
    backups.ship(&slug).await.unwrap();

    let points: serde_json::Value = app
        .get("/demo/api/v1/backup/points", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(points["enabled"], true);
    assert_eq!(points["can_restore"], true);
    assert!(
        points["oldest"].as_str().unwrap() <= t1.as_str(),
        "{points}"
    );
    assert!(points["newest"].as_str().unwrap() > t1.as_str(), "{points}");

    // Refusals that need no work come back at once, each naming its problem.
    for (body, status, kind) in [
        (serde_json::json!({ "at": "yesterday" }), 422, "validation"),
        (
            serde_json::json!({ "at": "2000-01-01T00:00:00Z" }),
            422,
            "restore-time-out-of-window",
        ),
        (
            serde_json::json!({ "at": "2999-01-01T00:00:00Z" }),
            422,
            "restore-time-in-future",
        ),
        (
            serde_json::json!({ "at": t1, "into": "demo" }),
            422,
            "validation",
        ),
        (
            serde_json::json!({ "at": t1, "into": "Not A Slug" }),
            422,
            "validation",
        ),
        // A tenant's user creates no tenant of any free name: only one derived from its
        // own slug (the operator's CLI may name any).
        (
            serde_json::json!({ "at": t1, "into": "globex" }),
            422,
            "restore-target-not-derived",
        ),
        (
            serde_json::json!({ "at": t1, "into": "demo-then" }),
            422,
            "restore-target-not-derived",
        ),
        (
            serde_json::json!({ "at": t1, "into": "demo-restored-x-y" }),
            422,
            "restore-target-not-derived",
        ),
        (
            serde_json::json!({ "at": t1, "extra": 1 }),
            422,
            "validation",
        ),
    ] {
        let r = app.post("/demo/api/v1/backup/restore", &admin, &body).await;
        let code = r.status().as_u16();
        let problem: serde_json::Value = r.json().await.unwrap();
        if kind == "restore-target-not-derived" {
            assert_eq!(code, 422, "{body}: {problem}");
            assert!(
                problem["detail"]
                    .as_str()
                    .unwrap()
                    .contains("'demo-restored'"),
                "the refusal names the rule: {problem}"
            );
            assert!(app
                .state
                .tenants
                .catalog()
                .get(&skjold_domain::TenantSlug::parse(body["into"].as_str().unwrap()).unwrap())
                .await
                .unwrap()
                .is_none());
        }
        assert!(
            code == status || (code == 400 && kind == "validation"),
            "{body}: {code} {problem}"
        );
        if code == status {
            assert!(
                problem["type"].as_str().unwrap().ends_with(kind),
                "{problem}"
            );
        }
    }

    // Side by side: a new tenant as of t1; the original keeps both companies.
    let r = app
        .post(
            "/demo/api/v1/backup/restore",
            &admin,
            &serde_json::json!({ "at": t1, "into": "demo-restored-then" }),
        )
        .await;
    assert_eq!(r.status(), 202);
    let job: serde_json::Value = r.json().await.unwrap();
    assert_eq!(job["state"], "running", "{job}");
    assert!(job["progress"]["phase"].is_string(), "{job}");
    let job = finished_job(&app, &admin, job["id"].as_str().unwrap()).await;
    assert_eq!(job["state"], "ok", "{job}");
    assert_eq!(job["result"]["into"], "demo-restored-then");
    assert_eq!(job["progress"]["phase"], "done", "{job}");
    assert_eq!(job["progress"]["message"], "done", "{job}");
    assert_eq!(phases_of(&job["progress"]), expected_phases(false), "{job}");
    let (_, copy) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo-restored-then").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(copy.table_counts().await.unwrap()["companies"], 1);
    let again = app
        .post(
            "/demo/api/v1/backup/restore",
            &admin,
            &serde_json::json!({ "at": t1, "into": "demo-restored-then" }),
        )
        .await;
    assert_eq!(again.status(), 409);

    // Another tenant cannot see this tenant's restore job.
    let other = app.create_tenant("other").await;
    let peek = app
        .get(
            &format!(
                "/other/api/v1/backup/restores/{}",
                job["id"].as_str().unwrap()
            ),
            &other,
        )
        .await;
    assert_eq!(peek.status(), 404);

    // In place: a safety snapshot first, then the tenant as of t1.
    let r = app
        .post(
            "/demo/api/v1/backup/restore",
            &admin,
            &serde_json::json!({ "at": t1 }),
        )
        .await;
    assert_eq!(r.status(), 202);
    let id = r.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    // The in-place restore ends every session (the poller's too): its row in the catalog
    // tells how it went.
    let mut run = None;
    for _ in 0..600 {
        let r = app
            .state
            .tenants
            .catalog()
            .tenant_run("demo", &id)
            .await
            .unwrap()
            .unwrap();
        if r.outcome != skjold_store::RunOutcome::Running {
            run = Some(r);
            break;
        }
        #[allow(clippy::disallowed_methods)] // waiting for a background job, bounded
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let run = run.expect("the in-place restore finished");
    assert_eq!(run.outcome, skjold_store::RunOutcome::Ok, "{run:?}");
    let result: serde_json::Value = serde_json::from_str(run.detail.as_deref().unwrap()).unwrap();
    assert!(result["safety_snapshot"].is_string(), "{result}");
    // Its progress went through the safety snapshot to the swap.
    let progress: serde_json::Value =
        serde_json::from_str(run.progress.as_deref().unwrap()).unwrap();
    assert_eq!(phases_of(&progress), expected_phases(true), "{progress}");
    let (_, live) = app.state.tenants.open(&slug).await.unwrap().unwrap();
    assert_eq!(live.table_counts().await.unwrap()["companies"], 1);
}

#[tokio::test]
async fn restore_without_the_server_key_is_refused_with_409() {
    let app = app_with_backups(false).await;
    let admin = app.admin_token().await;
    let slug = skjold_domain::TenantSlug::parse("demo").unwrap();
    app.state
        .backups
        .clone()
        .unwrap()
        .snapshot(&slug, "manual")
        .await
        .unwrap();
    let points: serde_json::Value = app
        .get("/demo/api/v1/backup/points", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(points["can_restore"], false);
    let r = app
        .post(
            "/demo/api/v1/backup/restore",
            &admin,
            &serde_json::json!({ "at": skjold_domain::clock::format_timestamp(app.clock.now()) }),
        )
        .await;
    assert_eq!(r.status(), 409);
    let problem: serde_json::Value = r.json().await.unwrap();
    assert!(
        problem["type"]
            .as_str()
            .unwrap()
            .ends_with("backup-identity-missing"),
        "{problem}"
    );
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("backup.identity_file"));
    // The drill job says why it does nothing.
    let summary = skjold_server::jobs::backup_drill(app.state.clone())
        .await
        .unwrap();
    assert!(
        summary["skipped"]
            .as_str()
            .unwrap()
            .contains("identity_file"),
        "{summary}"
    );
}

#[tokio::test]
async fn restore_routes_need_the_right() {
    let app = app_with_backups(true).await;
    let user = app.user_with_role("demo", "maria", Role::User).await;
    for path in [
        "/demo/api/v1/backup/points",
        "/demo/api/v1/backup/restores/00ff00ff00ff00ff00ff00ff00ff00ff",
    ] {
        assert_eq!(app.get(path, &user).await.status(), 403, "{path}");
    }
    let r = app
        .post(
            "/demo/api/v1/backup/restore",
            &user,
            &serde_json::json!({ "at": "2026-01-01T00:00:00Z" }),
        )
        .await;
    assert_eq!(r.status(), 403);
}
