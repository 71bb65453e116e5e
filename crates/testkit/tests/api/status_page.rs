//! The status page and the operator API: maintenance announced at least 24 hours ahead
//! (or an emergency with its reason), shown on /status, its JSON and Atom forms and every
//! sign-in screen, moving through its states by the test clock; incidents through their
//! lifecycle; overrides; probes and their uptime history; and who may change any of it.

use chrono::Duration;
use reqwest::Method;
use serde_json::{json, Value};
use skjold_app::operations;
use skjold_app::operator::Operator;
use skjold_domain::clock::format_timestamp;
use skjold_domain::Clock;
use skjold_testkit::{spawn_app, TestApp};

async fn operator_token(app: &TestApp, name: &str) -> String {
    let ops = app.state.ops();
    operations::create_operator_token(&ops, &Operator::cli(), name)
        .await
        .expect("operator token")
        .1
}

async fn public_json(app: &TestApp, path: &str) -> Value {
    let res = app
        .request(Method::GET, path, None)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "{path}");
    res.json().await.expect("JSON")
}

async fn public_text(app: &TestApp, path: &str) -> String {
    let res = app
        .request(Method::GET, path, None)
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("text")
}

fn hours_ahead(app: &TestApp, hours: i64) -> String {
    format_timestamp(app.clock.now() + Duration::hours(hours))
}

fn window(app: &TestApp, start_in_hours: i64, summary: &str) -> Value {
    json!({
        "starts_at": hours_ahead(app, start_in_hours),
        "ends_at": hours_ahead(app, start_in_hours + 2),
        "summary": summary,
        "components": ["database", "sign-in"],
    })
}

#[tokio::test]
async fn the_operator_api_needs_an_operator_token() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let body = window(&app, 48, "Upgrade");
    for token in [None, Some(admin.as_str()), Some("skjop_not-a-real-token")] {
        let res = app
            .request(Method::POST, "/ops/api/v1/maintenance", token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{token:?}");
    }
    // A revoked token stops working at once.
    let token = operator_token(&app, "alice").await;
    assert_eq!(
        app.get("/ops/api/v1/maintenance", &token).await.status(),
        200
    );
    let ops = app.state.ops();
    operations::revoke_operator_token(&ops, &Operator::cli(), "alice")
        .await
        .unwrap();
    assert_eq!(
        app.get("/ops/api/v1/maintenance", &token).await.status(),
        401
    );
    // The public page needs nothing.
    public_json(&app, "/status.json").await;
}

#[tokio::test]
async fn maintenance_needs_a_days_notice_and_moves_through_its_states_by_the_clock() {
    let app = spawn_app().await;
    let ops = operator_token(&app, "alice").await;

    // 23 hours ahead: refused, naming the rule; nothing announced.
    let res = app
        .post(
            "/ops/api/v1/maintenance",
            &ops,
            &window(&app, 23, "Too soon"),
        )
        .await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "starts_at", "{problem}");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("24 hours"),
        "{problem}"
    );
    let status = public_json(&app, "/status.json").await;
    assert_eq!(status["maintenance"], json!([]));

    // 25 hours ahead: announced everywhere.
    let res = app
        .post(
            "/ops/api/v1/maintenance",
            &ops,
            &window(&app, 25, "Database upgrade to version 17"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["state"], "scheduled");
    assert_eq!(created["announced_by"], "operator:alice");
    let id = created["id"].as_str().unwrap().to_string();

    let status = public_json(&app, "/status.json").await;
    assert_eq!(status["maintenance"][0]["id"], id.as_str());
    assert_eq!(status["maintenance"][0]["state"], "scheduled");
    let signin = public_text(&app, "/demo/login").await;
    assert!(
        signin.contains("Database upgrade to version 17"),
        "{signin}"
    );
    assert!(signin.contains("Scheduled maintenance"));
    let other = app.create_tenant("acme").await;
    drop(other);
    assert!(public_text(&app, "/acme/login")
        .await
        .contains("Database upgrade to version 17"));
    let html = public_text(&app, "/status").await;
    assert!(html.contains("Database upgrade to version 17"));
    let feed = public_text(&app, "/status.atom").await;
    let feed: atom_syndication::Feed = feed.parse().expect("a valid Atom feed");
    assert!(feed.entries().iter().any(|e| e
        .title()
        .as_str()
        .contains("Database upgrade to version 17")));

    // In progress once the clock reaches the start: the components show it.
    app.clock
        .advance(Duration::hours(25) + Duration::minutes(1));
    let status = public_json(&app, "/status.json").await;
    assert_eq!(status["maintenance"][0]["state"], "in_progress");
    let database = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "database")
        .unwrap();
    assert_eq!(database["state"], "under_maintenance");
    let web = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "web")
        .unwrap();
    assert_eq!(web["state"], "operational");
    assert!(public_text(&app, "/demo/login")
        .await
        .contains("Maintenance in progress"));

    // Completed after its end: off the sign-in screen, listed as recent on the page.
    app.clock.advance(Duration::hours(2));
    let status = public_json(&app, "/status.json").await;
    assert_eq!(status["maintenance"][0]["state"], "completed");
    assert!(!public_text(&app, "/demo/login")
        .await
        .contains("Database upgrade to version 17"));
    let fetched: Value = app
        .get(&format!("/ops/api/v1/maintenance/{id}"), &ops)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(fetched["state"], "completed");
    // Over: nothing to cancel.
    assert_eq!(
        app.delete(&format!("/ops/api/v1/maintenance/{id}"), &ops)
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn an_emergency_needs_its_reason_which_is_shown_and_recorded() {
    let app = spawn_app().await;
    let ops = operator_token(&app, "alice").await;
    let mut body = window(&app, 1, "Patch for a remote exploit");
    body["emergency"] = json!(true);
    let res = app.post("/ops/api/v1/maintenance", &ops, &body).await;
    assert_eq!(res.status(), 422);
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["errors"][0]["field"], "reason", "{problem}");

    body["reason"] = json!("CVE fix that cannot wait");
    let res = app.post("/ops/api/v1/maintenance", &ops, &body).await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    assert_eq!(created["emergency"], true);
    let signin = public_text(&app, "/demo/login").await;
    assert!(signin.contains("Emergency maintenance"), "{signin}");
    assert!(signin.contains("CVE fix that cannot wait"));

    // Recorded in the installation's trail, by the token's holder, with the reason.
    app.state.audit.flush().await.unwrap();
    let system = app.state.tenants.catalog().audit();
    let q = skjold_store::AuditQuery {
        kind: Some("ops.maintenance.scheduled".into()),
        limit: 10,
        ..Default::default()
    };
    let (found, _) = system.search(&q).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].username.as_deref(), Some("operator:alice"));
    let detail = found[0].detail.as_ref().unwrap();
    assert_eq!(detail["reason"], "CVE fix that cannot wait");
    assert_eq!(detail["emergency"], true);
    assert_eq!(detail["via"], "api");

    // Cancelled: gone from the sign-in screen, recorded.
    let id = created["id"].as_str().unwrap();
    let res = app
        .delete(&format!("/ops/api/v1/maintenance/{id}"), &ops)
        .await;
    assert_eq!(res.status(), 200);
    assert!(!public_text(&app, "/demo/login")
        .await
        .contains("Patch for a remote exploit"));
    assert_eq!(
        app.delete(&format!("/ops/api/v1/maintenance/{id}"), &ops)
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn an_announcement_that_cannot_be_audited_is_not_made() {
    let app = spawn_app().await;
    let ops = operator_token(&app, "alice").await;
    let midnight = app.a_minute_before_midnight();
    let blocked = app.audit_day_unwritable(skjold_domain::audit::SYSTEM_CHAIN, midnight);
    app.clock.advance(Duration::minutes(2));
    let res = app
        .post(
            "/ops/api/v1/maintenance",
            &ops,
            &window(&app, 30, "Unrecorded"),
        )
        .await;
    assert_eq!(res.status(), 503);
    std::fs::remove_file(blocked).unwrap();
    let status = public_json(&app, "/status.json").await;
    assert_eq!(
        status["maintenance"],
        json!([]),
        "announced without its record"
    );
}

#[tokio::test]
async fn incidents_follow_their_lifecycle_with_a_timeline() {
    let app = spawn_app().await;
    let ops = operator_token(&app, "bob").await;
    let res = app
        .post(
            "/ops/api/v1/incidents",
            &ops,
            &json!({
                "title": "Sign-in is slow",
                "impact": "degraded",
                "components": ["sign-in"],
                "message": "Sign-ins take up to a minute; we are looking into it.",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let incident: Value = res.json().await.unwrap();
    assert_eq!(incident["status"], "investigating");
    let id = incident["id"].as_str().unwrap().to_string();

    let status = public_json(&app, "/status.json").await;
    let sign_in = status["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "sign-in")
        .unwrap()
        .clone();
    assert_eq!(sign_in["state"], "degraded");
    assert_ne!(status["overall"], "operational");
    assert!(public_text(&app, "/demo/login")
        .await
        .contains("Sign-in is slow"));

    for (step, message) in [
        ("identified", "A disk on the database server is failing."),
        ("monitoring", "The disk is replaced; we watch."),
        ("resolved", "Sign-ins are fast again."),
    ] {
        app.clock.advance(Duration::minutes(10));
        let res = app
            .post(
                &format!("/ops/api/v1/incidents/{id}/updates"),
                &ops,
                &json!({ "status": step, "message": message }),
            )
            .await;
        assert_eq!(res.status(), 200, "{step}");
    }
    // Resolved is final.
    let res = app
        .post(
            &format!("/ops/api/v1/incidents/{id}/updates"),
            &ops,
            &json!({ "status": "monitoring", "message": "again?" }),
        )
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .put(
            &format!("/ops/api/v1/incidents/{id}/review"),
            &ops,
            &json!({ "review": "The disk's SMART warnings were not alerted on. Now they are." }),
        )
        .await;
    assert_eq!(res.status(), 200);

    let status = public_json(&app, "/status.json").await;
    let shown = &status["incidents"][0];
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["updates"].as_array().unwrap().len(), 4);
    assert!(shown["review"].as_str().unwrap().contains("SMART"));
    assert_eq!(status["overall"], "operational");
    assert!(!public_text(&app, "/demo/login")
        .await
        .contains("Sign-in is slow"));
    let html = public_text(&app, "/status").await;
    assert!(html.contains("Sign-in is slow") && html.contains("Post-incident review"));

    // Bad input names the field; an unknown incident is 404.
    let res = app
        .post(
            "/ops/api/v1/incidents",
            &ops,
            &json!({ "title": "x", "impact": "operational", "message": "m" }),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/ops/api/v1/incidents/nope/updates",
            &ops,
            &json!({ "status": "resolved", "message": "m" }),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn overrides_win_over_probes_and_probes_build_the_history() {
    let app = spawn_app().await;
    let ops = operator_token(&app, "carol").await;
    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    assert!(scheduler
        .run_due(&app.state)
        .await
        .contains(&"status.probe"));
    let status = public_json(&app, "/status.json").await;
    for c in status["components"].as_array().unwrap() {
        assert!(c["probed_at"].is_string(), "{c}");
        assert_eq!(c["history"].as_array().unwrap().len(), 90);
    }
    let database = |s: &Value| {
        s["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "database")
            .unwrap()
            .clone()
    };
    assert_eq!(database(&status)["state"], "operational");
    assert_eq!(database(&status)["uptime_percent"], 100.0);

    let res = app
        .put(
            "/ops/api/v1/status/database",
            &ops,
            &json!({ "state": "partial_outage", "reason": "one replica is rebuilding" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let status = public_json(&app, "/status.json").await;
    assert_eq!(database(&status)["state"], "partial_outage");
    assert_eq!(database(&status)["override"]["set_by"], "operator:carol");
    assert_eq!(
        app.put(
            "/ops/api/v1/status/dns",
            &ops,
            &json!({ "state": "degraded", "reason": "x" })
        )
        .await
        .status(),
        422
    );
    assert_eq!(
        app.delete("/ops/api/v1/status/database", &ops)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete("/ops/api/v1/status/database", &ops)
            .await
            .status(),
        404
    );
    let status = public_json(&app, "/status.json").await;
    assert_eq!(database(&status)["state"], "operational");

    // Thirty seconds later the probe runs again; the day's tally has both.
    app.clock.advance(Duration::seconds(30));
    assert!(scheduler
        .run_due(&app.state)
        .await
        .contains(&"status.probe"));
    let days = app
        .state
        .tenants
        .catalog()
        .status_days("2000-01-01")
        .await
        .unwrap();
    let db_day = days
        .iter()
        .find(|d| d.component == skjold_domain::status::Component::Database)
        .unwrap();
    assert_eq!(db_day.probes, 2);
}
