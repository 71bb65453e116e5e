//! The audit trail: every request and security event in both sinks, tamper-evident,
//! searchable only with audit.read.

use serde_json::{json, Value};
use skjold_domain::{Clock, Role};
use skjold_testkit::{spawn_app, spawn_app_with, TestApp};

async fn search(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/demo/api/v1/audit?{query}"), token).await;
    assert_eq!(res.status(), 200, "{query}");
    let page: Value = res.json().await.unwrap();
    page["items"].as_array().unwrap().clone()
}

fn day_files(app: &TestApp, chain: &str) -> Vec<std::path::PathBuf> {
    skjold_audit::day_files(&skjold_audit::chain_dir(
        &skjold_audit::logs_root(app.data_dir.path()),
        chain,
    ))
    .unwrap()
}

async fn verify(app: &TestApp, chain: &str) -> skjold_audit::VerifyReport {
    app.state.audit.flush().await.unwrap();
    skjold_audit::verify_chain(
        &app.state.tenants,
        &skjold_audit::logs_root(app.data_dir.path()),
        chain,
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn requests_and_sign_ins_are_recorded_in_database_and_file_with_user_and_ip() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .request(reqwest::Method::POST, "/demo/api/v1/session", None)
        .json(&json!({"username": "mallory", "password": "guess-guess-guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let created = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &json!({"name": "Audited AS"}),
        )
        .await;
    let request_id = created.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();

    let access = search(&app, &token, "event=http.access").await;
    let post = access
        .iter()
        .find(|r| r["request_id"] == request_id.as_str())
        .expect("the POST is recorded");
    assert_eq!(post["method"], "POST");
    assert_eq!(post["path"], "/demo/api/v1/companies");
    assert_eq!(post["status"], 201);
    assert_eq!(post["username"], "admin");
    assert_eq!(post["ip"], "127.0.0.1");
    assert!(post["user_agent"].is_string() || post["user_agent"].is_null());

    let failed = search(&app, &token, "event=auth.sign_in.failed").await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["username"], "mallory");
    assert_eq!(failed[0]["detail"]["reason"], "unknown_user");
    let ok = search(&app, &token, "event=auth.sign_in.succeeded&user=admin").await;
    assert!(!ok.is_empty());

    // No secret reaches the trail.
    let all = search(&app, &token, "limit=500").await;
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains(&token)
            && !text.contains("guess-guess-guess")
            && !text.contains(&app.admin_password)
    );

    // The same records are in today's file, and the chain verifies.
    let files = day_files(&app, "demo");
    assert_eq!(files.len(), 1);
    let content = std::fs::read_to_string(&files[0]).unwrap();
    assert!(content.contains(&request_id));
    assert!(content.contains("auth.sign_in.failed"));
    let report = verify(&app, "demo").await;
    assert!(report.ok(), "{:?}", report.damage);
    assert!(report.database_records >= 5);
    assert_eq!(report.database_records, report.file_records);
    // Tenantless requests go to the installation's chain.
    app.client.get(app.url("/healthz")).send().await.unwrap();
    assert!(verify(&app, "_system").await.ok());
}

#[tokio::test]
async fn unrouted_requests_under_a_tenant_are_in_that_tenants_trail() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let missing = app.get("/demo/api/v1/no-such-thing", &token).await;
    assert_eq!(missing.status(), 404);
    let not_allowed = app
        .request(reqwest::Method::PUT, "/demo/api/v1/companies", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(not_allowed.status(), 405);
    // A tenant that does not exist stays in the installation's chain.
    let nobody = app.get("/nosuchtenant/api/v1/companies", &token).await;
    assert_eq!(nobody.status(), 404);

    let access = search(&app, &token, "event=http.access&limit=500").await;
    let paths: Vec<(&str, i64)> = access
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["status"].as_i64().unwrap()))
        .collect();
    assert!(
        paths.contains(&("/demo/api/v1/no-such-thing", 404)),
        "{paths:?}"
    );
    assert!(
        paths.contains(&("/demo/api/v1/companies", 405)),
        "{paths:?}"
    );
    assert!(!paths.iter().any(|(p, _)| p.starts_with("/nosuchtenant")));

    app.state.audit.flush().await.unwrap();
    let system = std::fs::read_to_string(&day_files(&app, "_system")[0]).unwrap();
    assert!(system.contains("/nosuchtenant/api/v1/companies"));
    assert!(!system.contains("/demo/api/v1/no-such-thing"));
}

#[tokio::test]
async fn export_streams_every_matching_record_as_csv_or_json_lines_and_is_recorded() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let reader = app.user_with_role("demo", "rita", Role::ReadOnly).await;
    assert_eq!(
        app.get("/demo/api/v1/audit/export?format=csv", &reader)
            .await
            .status(),
        403
    );
    // More records than one page of the stream (500), one with a formula for a path.
    for i in 0..260 {
        app.get(&format!("/demo/api/v1/companies?q=n{i}"), &admin)
            .await;
        app.request(reqwest::Method::GET, "/demo/api/v1/me", Some(&admin))
            .header(
                "user-agent",
                format!("=HYPERLINK(\"http://evil.example/{i}\")"),
            )
            .send()
            .await
            .unwrap();
    }
    let res = app
        .get(
            "/demo/api/v1/audit/export?format=jsonl&event=http.access",
            &admin,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/x-ndjson");
    let disposition = res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"audit-demo-"),
        "{disposition}"
    );
    let body = res.text().await.unwrap();
    let lines: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 520, "{}", lines.len());
    assert!(lines.iter().all(|r| r["kind"] == "http.access"));
    // Newest first, every record once.
    let seqs: Vec<i64> = lines.iter().map(|r| r["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );

    let csv = app
        .get(
            "/demo/api/v1/audit/export?format=csv&event=http.access",
            &admin,
        )
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut rows = text.lines();
    assert!(rows.next().unwrap().starts_with("seq,at,chain,kind,"));
    assert!(rows.count() >= 520);
    // A user agent chosen by the client arrives as text, not as a formula.
    assert!(
        text.contains(",\"'=HYPERLINK(\"\"http://evil.example/7\"\")\","),
        "{}",
        &text[..2000]
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    for row in reader.records() {
        let row = row.unwrap();
        assert!(row.iter().all(|cell| !cell.starts_with('=')), "{row:?}");
    }

    // Each export is itself in the trail, with its filters.
    let exported = search(&app, &admin, "event=audit.exported").await;
    assert_eq!(exported.len(), 2);
    assert_eq!(exported[0]["username"], "admin");
    assert_eq!(exported[0]["detail"]["format"], "csv");
    assert_eq!(exported[0]["detail"]["event"], "http.access");

    for bad in [
        "format=xml",
        "",
        "format=csv&from=never",
        "format=csv&to=",
        "format=csv&limit=5",
    ] {
        assert_eq!(
            app.get(&format!("/demo/api/v1/audit/export?{bad}"), &admin)
                .await
                .status(),
            422,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_audit_api_needs_audit_read_and_filters_by_time_user_and_ip() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let reader = app.user_with_role("demo", "rita", Role::ReadOnly).await;
    assert_eq!(app.get("/demo/api/v1/audit", &reader).await.status(), 403);
    // The refusal itself is recorded.
    let refused = search(&app, &admin, "user=rita&event=http.access").await;
    assert!(refused
        .iter()
        .any(|r| r["status"] == 403 && r["path"] == "/demo/api/v1/audit"));

    let before = skjold_domain::clock::format_timestamp(app.clock.now());
    app.clock.advance(chrono::Duration::minutes(20));
    app.get("/demo/api/v1/companies", &reader).await;
    let late = search(
        &app,
        &admin,
        &format!("from={}&user=rita", before.replace('+', "%2B")),
    )
    .await;
    assert!(!late.is_empty());
    assert!(late
        .iter()
        .all(|r| r["at"].as_str().unwrap() >= before.as_str()));
    let early = search(
        &app,
        &admin,
        &format!("to={before}&user=rita&event=http.access"),
    )
    .await;
    assert!(early.iter().all(|r| r["path"] == "/demo/api/v1/audit"));
    assert!(search(&app, &admin, "ip=10.9.9.9").await.is_empty());
    assert!(!search(&app, &admin, "ip=127.0.0.1").await.is_empty());
    for bad in [
        "from=yesterday",
        // An empty time is a client's mistake, not "no bound" (schemathesis ST201).
        "from=",
        "to=",
        "ip=localhost",
        "limit=0",
        "cursor=zzz",
        "nope=1",
    ] {
        assert_eq!(
            app.get(&format!("/demo/api/v1/audit?{bad}"), &admin)
                .await
                .status(),
            422,
            "{bad}"
        );
    }
    // Paging: newest first, no overlap.
    let first: Value = app
        .get("/demo/api/v1/audit?limit=3", &admin)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second: Value = app
        .get(
            &format!("/demo/api/v1/audit?limit=3&cursor={cursor}"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let a = first["items"].as_array().unwrap();
    let b = second["items"].as_array().unwrap();
    assert!(a.last().unwrap()["seq"].as_i64().unwrap() > b[0]["seq"].as_i64().unwrap());
}

#[tokio::test]
async fn forwarded_for_is_believed_only_from_trusted_proxies() {
    // Not trusted: the header is ignored.
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.request(reqwest::Method::GET, "/demo/api/v1/me", Some(&token))
        .header("x-forwarded-for", "198.51.100.23")
        .send()
        .await
        .unwrap();
    assert!(search(&app, &token, "ip=198.51.100.23").await.is_empty());

    // Loopback named as a trusted proxy: the forwarded client is recorded.
    let app = spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await;
    let token = app.admin_token().await;
    app.request(reqwest::Method::GET, "/demo/api/v1/me", Some(&token))
        .header("x-forwarded-for", "203.0.113.9, 198.51.100.23")
        .send()
        .await
        .unwrap();
    let hits = search(&app, &token, "ip=198.51.100.23").await;
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["path"], "/demo/api/v1/me");
}

#[tokio::test]
async fn user_administration_is_recorded_as_events() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/users",
            &admin,
            &json!({"username": "nils", "role": "user"}),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        &format!("/demo/api/v1/users/{id}"),
        &admin,
        &json!({"role": "manager"}),
    )
    .await;
    app.patch(
        &format!("/demo/api/v1/users/{id}"),
        &admin,
        &json!({"status": "disabled"}),
    )
    .await;
    for kind in ["user.created", "user.role_changed", "user.disabled"] {
        let hits = search(&app, &admin, &format!("event={kind}&user=admin")).await;
        assert_eq!(hits.len(), 1, "{kind}");
        assert_eq!(hits[0]["username"], "admin", "{kind}: who did it");
        assert_eq!(hits[0]["detail"]["user_id"], id.as_str());
    }
}

/// Rewrites a day file (the writer made it read-only only once sealed).
fn rewrite(path: &std::path::Path, f: impl FnOnce(Vec<String>) -> Vec<String>) {
    let lines: Vec<String> = std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    std::fs::write(path, f(lines).join("\n") + "\n").unwrap();
}

async fn app_with_records() -> (TestApp, String) {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for _ in 0..6 {
        app.get("/demo/api/v1/companies", &token).await;
    }
    assert!(verify(&app, "demo").await.ok());
    (app, token)
}

#[tokio::test]
async fn verify_reports_a_changed_byte_a_removed_line_and_a_swapped_pair_in_the_file() {
    let (app, _) = app_with_records().await;
    let file = day_files(&app, "demo").remove(0);
    let original = std::fs::read_to_string(&file).unwrap();

    rewrite(&file, |mut l| {
        l[3] = l[3].replacen("/demo/api/v1/companies", "/demo/api/v1/compames", 1);
        l
    });
    let r = verify(&app, "demo").await;
    assert_eq!(
        r.damage[0].kind,
        skjold_audit::DamageKind::Edited,
        "{:?}",
        r.damage
    );
    assert!(r.damage[0].location.contains("line 4"), "{:?}", r.damage[0]);

    std::fs::write(&file, &original).unwrap();
    rewrite(&file, |mut l| {
        l.remove(2);
        l
    });
    let r = verify(&app, "demo").await;
    assert_eq!(
        r.damage[0].kind,
        skjold_audit::DamageKind::Removed,
        "{:?}",
        r.damage
    );
    assert!(r
        .damage
        .iter()
        .any(|d| d.kind == skjold_audit::DamageKind::MissingInFile));

    std::fs::write(&file, &original).unwrap();
    rewrite(&file, |mut l| {
        l.swap(1, 2);
        l
    });
    let r = verify(&app, "demo").await;
    assert!(
        matches!(
            r.damage[0].kind,
            skjold_audit::DamageKind::Removed | skjold_audit::DamageKind::Reordered
        ),
        "{:?}",
        r.damage
    );
    assert!(r.damage[0].location.contains("line 2"), "{:?}", r.damage[0]);

    std::fs::write(&file, &original).unwrap();
    assert!(verify(&app, "demo").await.ok());
}

#[tokio::test]
async fn verify_reports_an_edited_or_removed_database_row() {
    let (app, _) = app_with_records().await;
    let (_, db) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let _ = db;
    // Reach the table the way an intruder with database access would.
    let url = match app.state.config.database_url.as_ref() {
        Some(u) => secrecy::ExposeSecret::expose_secret(u).replace(
            &format!(
                "/{}",
                url::Url::parse(secrecy::ExposeSecret::expose_secret(u))
                    .unwrap()
                    .path()
                    .trim_start_matches('/')
            ),
            &format!(
                "/{}_t_demo",
                url::Url::parse(secrecy::ExposeSecret::expose_secret(u))
                    .unwrap()
                    .path()
                    .trim_start_matches('/')
            ),
        ),
        None => format!(
            "sqlite://{}",
            app.data_dir.path().join("tenants/demo/crm.db").display()
        ),
    };
    skjold_store::install_drivers();
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    sqlx::query("UPDATE audit_log SET username = 'nobody' WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let r = verify(&app, "demo").await;
    assert_eq!(
        r.damage[0].kind,
        skjold_audit::DamageKind::Edited,
        "{:?}",
        r.damage
    );
    assert!(r.damage[0].location.contains("seq 3"));

    sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(&pool)
        .await
        .unwrap();
    let r = verify(&app, "demo").await;
    assert_eq!(
        r.damage[0].kind,
        skjold_audit::DamageKind::Removed,
        "{:?}",
        r.damage
    );
    assert!(r
        .damage
        .iter()
        .any(|d| d.kind == skjold_audit::DamageKind::MissingInDatabase));

    // The newest row removed: for a minute that looks like the copier's lag (a check run
    // while records are being written must not cry wolf); after that it is damage.
    app.state.audit.flush().await.unwrap();
    let newest: i64 = sqlx::query_scalar("SELECT MAX(seq) FROM audit_log")
        .fetch_one(&pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE seq = $1")
        .bind(newest)
        .execute(&pool)
        .await
        .unwrap();
    let missing_newest = |r: &skjold_audit::VerifyReport| {
        r.damage.iter().any(|d| {
            d.kind == skjold_audit::DamageKind::MissingInDatabase
                && d.detail.contains(&format!("seq {newest} "))
        })
    };
    let soon = skjold_audit::verify_chain(
        &app.state.tenants,
        &skjold_audit::logs_root(app.data_dir.path()),
        "demo",
    )
    .await
    .unwrap();
    assert!(!missing_newest(&soon), "{:?}", soon.damage);
    app.clock.advance(chrono::Duration::minutes(2));
    let later = skjold_audit::verify_chain(
        &app.state.tenants,
        &skjold_audit::logs_root(app.data_dir.path()),
        "demo",
    )
    .await
    .unwrap();
    assert!(missing_newest(&later), "{:?}", later.damage);
    pool.close().await;
}

#[tokio::test]
async fn a_new_day_seals_the_previous_days_file() {
    let (app, token) = app_with_records().await;
    app.clock.advance(chrono::Duration::days(1));
    app.get("/demo/api/v1/companies", &token).await;
    let files = day_files(&app, "demo");
    assert_eq!(files.len(), 2);
    let closed = std::fs::read_to_string(&files[0]).unwrap();
    assert!(closed.lines().last().unwrap().starts_with("{\"seal\""));
    assert!(std::fs::metadata(&files[0])
        .unwrap()
        .permissions()
        .readonly());
    assert!(verify(&app, "demo").await.ok());
    // Changing the seal is detected.
    rewrite(&files[0], |mut l| {
        let last = l.len() - 1;
        l[last] = l[last].replace("\"count\":", "\"count\":1");
        l
    });
    let r = verify(&app, "demo").await;
    assert_eq!(
        r.damage[0].kind,
        skjold_audit::DamageKind::BadSeal,
        "{:?}",
        r.damage
    );
}

#[tokio::test]
async fn the_daily_verify_job_raises_an_event_on_damage() {
    let (app, _) = app_with_records().await;
    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    let ran = scheduler.run_due(&app.state).await;
    assert_eq!(
        ran,
        [
            "audit.retention",
            "audit.verify",
            "sessions.cleanup",
            "status.probe",
            "status.notify",
            "status.prune",
            "capacity.sample"
        ]
    );
    let system = app.state.tenants.catalog().audit();
    app.state.audit.flush().await.unwrap();
    let q = skjold_store::AuditQuery {
        kind: Some("audit.verified".into()),
        limit: 10,
        ..Default::default()
    };
    let (verified, _) = system.search(&q).await.unwrap();
    assert_eq!(verified[0].detail.as_ref().unwrap()["damaged"], json!([]));
    // Not due again until tomorrow.
    assert!(scheduler.run_due(&app.state).await.is_empty());

    let file = day_files(&app, "demo").remove(0);
    rewrite(&file, |mut l| {
        l.remove(1);
        l
    });
    app.clock.advance(chrono::Duration::days(1));
    assert_eq!(
        scheduler.run_due(&app.state).await,
        [
            "audit.retention",
            "audit.verify",
            "sessions.cleanup",
            "status.probe",
            "status.notify",
            "status.prune",
            "capacity.sample"
        ]
    );
    app.state.audit.flush().await.unwrap();
    let q = skjold_store::AuditQuery {
        kind: Some("audit.verify.failed".into()),
        limit: 10,
        ..Default::default()
    };
    let (failed, _) = system.search(&q).await.unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].detail.as_ref().unwrap()["chain"], "demo");
    // The tenant's administrators see it in their own trail.
    let token = app.admin_token().await;
    let hits = search(&app, &token, "event=audit.verify.failed").await;
    assert_eq!(hits.len(), 1);
}

#[tokio::test]
async fn retention_removes_whole_old_days_and_the_rest_still_verifies() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    app.get("/demo/api/v1/companies", &token).await;
    let old_request = app.get("/demo/api/v1/companies", &token).await.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    // 399 days later the records are still kept…
    app.clock.advance(chrono::Duration::days(399));
    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    scheduler.run_due(&app.state).await;
    assert_eq!(
        day_files(&app, "demo").len(),
        1,
        "nothing purged before 400 days"
    );
    let token = app.admin_token().await;
    app.get("/demo/api/v1/companies", &token).await;
    // …and after 400 days whole closed days go, behind an anchor.
    app.clock.advance(chrono::Duration::days(2));
    scheduler.run_due(&app.state).await;
    let files = day_files(&app, "demo");
    assert_eq!(
        files.len(),
        2,
        "{files:?}: the day of day 399 and today's remain"
    );
    let token = app.admin_token().await;
    let all = search(&app, &token, "limit=500").await;
    assert!(
        !serde_json::to_string(&all).unwrap().contains(&old_request),
        "the old day's records are gone"
    );
    let anchors = search(&app, &token, "event=audit.purged").await;
    assert_eq!(anchors.len(), 1);
    assert!(anchors[0]["detail"]["through_seq"].as_i64().unwrap() > 0);
    let report = verify(&app, "demo").await;
    assert!(report.ok(), "{:?}", report.damage);
    assert!(verify(&app, "_system").await.ok());
}

#[tokio::test]
async fn a_record_begun_before_midnight_and_written_after_keeps_the_chain_in_order() {
    let app = spawn_app().await;
    let draft = |at: &str| skjold_domain::audit::Draft {
        at: at.to_string(),
        kind: "test.event".to_string(),
        ..Default::default()
    };
    // A record of the new day is written first; then one whose request began before
    // midnight (a slow request) arrives.
    app.state
        .audit
        .record("demo", draft("2030-01-02T00:00:00.100000Z"))
        .await
        .unwrap();
    app.state
        .audit
        .record("demo", draft("2030-01-01T23:59:59.900000Z"))
        .await
        .unwrap();
    let report = verify(&app, "demo").await;
    assert!(report.ok(), "{:?}", report.damage);
    let files = day_files(&app, "demo");
    let newest = std::fs::read_to_string(files.last().unwrap()).unwrap();
    assert!(files.last().unwrap().ends_with("2030-01-02.jsonl"));
    // Both records are in the new day's file, the late one stamped with the time before it.
    assert_eq!(newest.matches("test.event").count(), 2, "{newest}");
    assert!(!newest.contains("2030-01-01T23:59:59"));
}

#[tokio::test]
async fn a_failed_sign_in_is_found_by_the_user_filter_however_the_name_was_typed() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .request(reqwest::Method::POST, "/demo/api/v1/session", None)
        .json(&json!({"username": "MalLory", "password": "guess-guess-guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    for filter in ["mallory", "MALLORY", "MalLory"] {
        let found = search(
            &app,
            &token,
            &format!("event=auth.sign_in.failed&user={filter}"),
        )
        .await;
        assert_eq!(found.len(), 1, "{filter}");
        assert_eq!(found[0]["username"], "mallory");
    }
}

/// A search by a security event's kind walks the index that holds only the events (not the
/// access records, which are most of a trail and never need it), on both databases; access
/// records are still found by kind.
#[tokio::test]
async fn a_search_by_event_walks_the_events_index_and_access_records_are_still_found() {
    use skjold_domain::audit::{Draft, ACCESS, GENESIS};
    use skjold_store::AuditQuery;
    let app = spawn_app().await;
    app.state.audit.flush().await.unwrap();
    let db = app.tenant_db("demo").await;
    // Rows straight into the database copy, after what the trail has written there; no
    // request reaches the tenant afterwards, so nothing else takes these numbers.
    let head = db.audit().head().await.unwrap().map_or(0, |h| h.seq);
    let records: Vec<_> = (1..=3000_i64)
        .map(|i| {
            let kind = if i % 100 == 0 {
                "auth.sign_in.failed"
            } else {
                ACCESS
            };
            Draft {
                at: format!("2026-11-{:02}T10:00:00.000000Z", 1 + i / 200),
                kind: kind.to_string(),
                username: Some(format!("user{}", i % 30)),
                ip: Some("192.0.2.7".to_string()),
                ..Draft::default()
            }
            .seal("demo", head + i, GENESIS)
        })
        .collect();
    db.audit().insert(&records).await.unwrap();

    let by_kind = |kind: &str| AuditQuery {
        kind: Some(kind.to_string()),
        limit: 50,
        ..AuditQuery::default()
    };
    let plan = db
        .audit()
        .search_plan(&by_kind("auth.sign_in.failed"))
        .await
        .unwrap()
        .join("\n");
    assert!(plan.contains("audit_events_by_kind"), "{plan}");
    let (failed, more) = db
        .audit()
        .search(&by_kind("auth.sign_in.failed"))
        .await
        .unwrap();
    assert_eq!(failed.len(), 30);
    assert!(!more);
    assert!(failed.windows(2).all(|w| w[0].seq > w[1].seq));
    let (access, more) = db.audit().search(&by_kind(ACCESS)).await.unwrap();
    assert_eq!(access.len(), 50);
    assert!(more);
    assert!(access.iter().all(|r| r.kind == ACCESS));
}

/// A privileged change whose audit event cannot be written is not made. The audit disk is
/// "full" here: the tenant's next day file is `/dev/full`, which refuses every write with
/// ENOSPC. A role change, a disable and a password reset are each answered 503 and the
/// database still holds the state before them.
#[tokio::test]
async fn a_change_that_cannot_be_audited_is_not_made() {
    let app = spawn_app().await;
    // Sign in a minute before midnight; the changes come just after, into a new day file.
    let midnight = app.a_minute_before_midnight();
    let admin = app.admin_token().await;
    app.user_with_role("demo", "ulla", Role::User).await;
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let ulla = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "ulla")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.audit_day_unwritable("demo", midnight);
    app.clock.advance(chrono::Duration::minutes(2));

    let path = format!("/demo/api/v1/users/{ulla}");
    for (what, res) in [
        (
            "role change",
            app.patch(&path, &admin, &json!({"role": "administrator"}))
                .await,
        ),
        (
            "disable",
            app.patch(&path, &admin, &json!({"status": "disabled"}))
                .await,
        ),
        (
            "password reset",
            app.post(&format!("{path}/password"), &admin, &json!({}))
                .await,
        ),
    ] {
        assert_eq!(res.status(), 503, "{what}");
    }
    let db = app.tenant_db("demo").await;
    let stored = db.user(&ulla).await.unwrap();
    assert_eq!(stored.role.as_str(), "user");
    assert_eq!(stored.status, skjold_store::UserStatus::Active);
    let history = db.history("user", &ulla).await.unwrap();
    assert_eq!(history.len(), 1, "only the creation: {history:?}");
}

/// Roles, API tokens and the tenant's security settings are rights too: with the audit
/// trail unable to record, making, changing or deleting a role, minting or revoking a token
/// and changing the password policy, the session timeouts or the two-factor requirement are
/// refused (503) and nothing is stored.
#[tokio::test]
async fn rights_and_policies_that_cannot_be_audited_are_not_changed() {
    let app = spawn_app().await;
    let midnight = app.a_minute_before_midnight();
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "Auditors", "rights": ["audit.read"], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let role: Value = res.json().await.unwrap();
    let role_path = format!("/demo/api/v1/roles/{}", role["id"].as_str().unwrap());
    let res = app
        .post(
            "/demo/api/v1/me/tokens",
            &admin,
            &json!({"name": "ci", "scopes": ["companies:read"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let minted: Value = res.json().await.unwrap();
    let token_path = format!("/demo/api/v1/me/tokens/{}", minted["id"].as_str().unwrap());
    let policy_before: Value = app
        .get("/demo/api/v1/settings/password-policy", &admin)
        .await
        .json()
        .await
        .unwrap();
    app.audit_day_unwritable("demo", midnight);
    app.clock.advance(chrono::Duration::minutes(2));

    let mut stricter = policy_before.clone();
    stricter["min_length"] = json!(20);
    for (what, res) in [
        (
            "role created",
            app.post(
                "/demo/api/v1/roles",
                &admin,
                &json!({"name": "Readers", "rights": ["companies.read"], "visibility": "own"}),
            )
            .await,
        ),
        (
            "role changed",
            app.patch(&role_path, &admin, &json!({"rights": ["users.manage"]}))
                .await,
        ),
        ("role deleted", app.delete(&role_path, &admin).await),
        (
            "password policy",
            app.put("/demo/api/v1/settings/password-policy", &admin, &stricter)
                .await,
        ),
        (
            "session timeouts",
            app.put(
                "/demo/api/v1/settings/sessions",
                &admin,
                &json!({"idle_minutes": 5}),
            )
            .await,
        ),
        (
            "two-factor requirement",
            app.put(
                "/demo/api/v1/settings/two-factor",
                &admin,
                &json!({"required": "all"}),
            )
            .await,
        ),
        (
            "token minted",
            app.post(
                "/demo/api/v1/me/tokens",
                &admin,
                &json!({"name": "sneaky", "scopes": ["all:write"]}),
            )
            .await,
        ),
        ("token revoked", app.delete(&token_path, &admin).await),
    ] {
        assert_eq!(res.status(), 503, "{what}");
    }
    let db = app.tenant_db("demo").await;
    let admin_id = db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "admin")
        .unwrap()
        .id;
    let tokens = db.api_tokens_of(&admin_id).await.unwrap();
    assert_eq!(
        tokens.len(),
        1,
        "no new token, the old one kept: {tokens:?}"
    );
    assert_eq!(tokens[0].id, minted["id"].as_str().unwrap());
    let roles = db.list_roles().await.unwrap();
    assert!(roles.iter().all(|r| r.name != "Readers"), "no new role");
    let kept = roles.iter().find(|r| r.name == "Auditors").expect("kept");
    assert_eq!(kept.rights, vec![skjold_domain::Right::AuditRead]);
    assert_eq!(
        db.setting("password_policy").await.unwrap(),
        None,
        "the policy was never stored"
    );
    assert_eq!(db.setting("sessions").await.unwrap(), None);
    assert_eq!(db.setting("two_factor").await.unwrap(), None);
}

/// Accounts, teams and one's own account are audited changes too: with the audit trail
/// unable to record, creating a user, making, renaming or deleting a team, changing one's
/// details or password and ending one of one's sessions are refused (503), and nothing of
/// them is stored.
#[tokio::test]
async fn accounts_teams_and_own_changes_that_cannot_be_audited_are_not_made() {
    let app = spawn_app().await;
    let midnight = app.a_minute_before_midnight();
    let admin = app.admin_token().await;
    let _other = app.admin_token().await;
    let res = app
        .post("/demo/api/v1/teams", &admin, &json!({"name": "Nord"}))
        .await;
    assert_eq!(res.status(), 201);
    let team: Value = res.json().await.unwrap();
    let team_path = format!("/demo/api/v1/teams/{}", team["id"].as_str().unwrap());
    let sessions: Value = app
        .get("/demo/api/v1/me/sessions", &admin)
        .await
        .json()
        .await
        .unwrap();
    let other_session = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == false)
        .expect("the second session")["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.audit_day_unwritable("demo", midnight);
    app.clock.advance(chrono::Duration::minutes(2));

    let password = app.admin_password.clone();
    for (what, res) in [
        (
            "user created",
            app.post(
                "/demo/api/v1/users",
                &admin,
                &json!({"username": "vera", "role": "user", "password": "Tall-Birch-Lantern-42"}),
            )
            .await,
        ),
        (
            "team created",
            app.post("/demo/api/v1/teams", &admin, &json!({"name": "Sør"}))
                .await,
        ),
        (
            "team renamed",
            app.patch(&team_path, &admin, &json!({"name": "Vest"}))
                .await,
        ),
        ("team deleted", app.delete(&team_path, &admin).await),
        (
            "own details",
            app.patch(
                "/demo/api/v1/me",
                &admin,
                &json!({"display_name": "Someone Else"}),
            )
            .await,
        ),
        (
            "own password",
            app.put(
                "/demo/api/v1/me/password",
                &admin,
                &json!({"current_password": password, "new_password": "Quiet-Harbour-Morning-77"}),
            )
            .await,
        ),
        (
            "own session ended",
            app.delete(&format!("/demo/api/v1/me/sessions/{other_session}"), &admin)
                .await,
        ),
    ] {
        assert_eq!(res.status(), 503, "{what}");
    }
    let db = app.tenant_db("demo").await;
    let users = db.list_users().await.unwrap();
    assert!(users.iter().all(|u| u.username != "vera"), "no new user");
    let admin_user = users.iter().find(|u| u.username == "admin").unwrap();
    assert_eq!(admin_user.display_name, None, "details unchanged");
    assert_eq!(
        db.history("user", &admin_user.id).await.unwrap().len(),
        1,
        "only the admin's creation: no details or password change"
    );
    let teams = db.list_teams().await.unwrap();
    assert_eq!(teams.len(), 1, "no new team, the old one kept: {teams:?}");
    assert_eq!(teams[0].name, "Nord");
    assert_eq!(
        db.sessions_of(&admin_user.id).await.unwrap().len(),
        2,
        "both sessions live"
    );
}

/// Attack on "every access and login is registered": with the tenant's trail unable to
/// write, a right password does not open a session (503), neither through the API nor the
/// web form; once the trail writes again, the sign-in works and is recorded.
#[tokio::test]
async fn a_sign_in_that_cannot_be_audited_opens_no_session() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me: Value = app
        .get("/demo/api/v1/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = me["id"].as_str().unwrap().to_string();
    let db = app.tenant_db("demo").await;
    let midnight = app.a_minute_before_midnight();
    let blocked = app.audit_day_unwritable("demo", midnight);
    app.clock.advance(chrono::Duration::minutes(2));
    let before = db.sessions_of(&id).await.unwrap().len();
    let res = app
        .request(reqwest::Method::POST, "/demo/api/v1/session", None)
        .json(&json!({ "username": "admin", "password": app.admin_password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    std::fs::remove_file(&blocked).unwrap();
    let after = db.sessions_of(&id).await.unwrap().len();
    assert_eq!(after, before, "a session was opened without its record");
    app.admin_token().await;
    assert_eq!(db.sessions_of(&id).await.unwrap().len(), after + 1);
}
