//! The metrics listener: a real scrape over plain HTTP, read by a Prometheus text-format
//! parser; every family the operations guide promises is there with sensible values, and
//! no label names a tenant, a user, an id or an address.

use reqwest::Method;
use serde_json::json;
use skjold_testkit::{spawn_app, spawn_app_with, TestApp};
use std::collections::HashSet;

/// Scrapes `/metrics` as Prometheus would; answers the parsed scrape and the raw text.
async fn scrape(app: &TestApp) -> (prometheus_parse::Scrape, String) {
    let addr = app.metrics_addr.expect("the metrics listener runs");
    let res = reqwest::Client::new()
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("scrape");
    assert_eq!(res.status(), 200);
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = res.text().await.unwrap();
    let lines = text.lines().map(|l| Ok(l.to_string()));
    let parsed = prometheus_parse::Scrape::parse(lines).expect("a Prometheus text scrape");
    (parsed, text)
}

fn value(v: &prometheus_parse::Value) -> f64 {
    match v {
        prometheus_parse::Value::Counter(x)
        | prometheus_parse::Value::Gauge(x)
        | prometheus_parse::Value::Untyped(x) => *x,
        other => panic!("not a single value: {other:?}"),
    }
}

/// The sum of the samples of `metric` whose labels include every pair of `labels`.
fn sum(s: &prometheus_parse::Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    s.samples
        .iter()
        .filter(|x| x.metric == metric)
        .filter(|x| labels.iter().all(|(k, v)| x.labels.get(k) == Some(*v)))
        .map(|x| value(&x.value))
        .sum()
}

fn present(s: &prometheus_parse::Scrape, metric: &str) -> bool {
    s.samples.iter().any(|x| x.metric == metric)
}

#[tokio::test]
async fn a_scrape_has_every_family_and_no_tenant_or_personal_data_in_labels() {
    let app = spawn_app().await;
    // Traffic: a sign-in that succeeds, one that fails, API requests in two tenants.
    let demo = app.admin_token().await;
    let wrong = app
        .request(Method::POST, "/demo/api/v1/session", None)
        .json(&json!({ "username": "admin", "password": "not-the-password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let other = app.create_tenant("fjordhandel").await;
    let person = app
        .post(
            "/demo/api/v1/persons",
            &demo,
            &json!({ "first_name": "Kari", "last_name": "Nordmann" }),
        )
        .await;
    assert_eq!(person.status(), 201);
    let person: serde_json::Value = person.json().await.unwrap();
    let person_id = person["id"].as_str().unwrap().to_string();
    assert_eq!(
        app.get(&format!("/demo/api/v1/persons/{person_id}"), &demo)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get("/fjordhandel/api/v1/persons", &other)
            .await
            .status(),
        200
    );
    // A page that does not exist, with something personal in its path.
    assert_eq!(
        app.get("/demo/no-such-page/kari.nordmann", &demo)
            .await
            .status(),
        404
    );

    let (s, text) = scrape(&app).await;

    // Requests, by route template.
    let read_one = [
        ("method", "GET"),
        ("route", "/:tenant/api/v1/persons/:id"),
        ("status", "200"),
    ];
    assert_eq!(
        sum(&s, "skjold_http_requests_total", &read_one),
        1.0,
        "{text}"
    );
    assert!(
        sum(
            &s,
            "skjold_http_requests_total",
            &[("route", "/:tenant/api/v1/persons"), ("method", "GET")]
        ) >= 1.0
    );
    // The web UI's catch-all answers the unknown page: its template, not its path.
    assert_eq!(
        sum(
            &s,
            "skjold_http_requests_total",
            &[("route", "/:tenant/:rest"), ("status", "404")]
        ),
        1.0,
        "{text}"
    );
    // The latency histogram: one observation of the one read, in a finite bucket.
    assert_eq!(
        sum(
            &s,
            "skjold_http_request_duration_seconds_count",
            &[("route", "/:tenant/api/v1/persons/:id")]
        ),
        1.0
    );
    assert!(s.samples.iter().any(|x| {
        x.metric == "skjold_http_request_duration_seconds"
            && matches!(&x.value, prometheus_parse::Value::Histogram(b) if !b.is_empty())
    }));

    // Sign-ins: admin twice (demo, the new tenant), one wrong password.
    assert!(
        sum(
            &s,
            "skjold_signins_total",
            &[("method", "password"), ("outcome", "success")]
        ) >= 2.0
    );
    assert_eq!(
        sum(
            &s,
            "skjold_signins_total",
            &[("method", "password"), ("outcome", "failure")]
        ),
        1.0
    );
    assert_eq!(
        sum(
            &s,
            "skjold_signins_total",
            &[("method", "passkey"), ("outcome", "failure")]
        ),
        0.0
    );
    for scope in ["account", "address"] {
        assert_eq!(sum(&s, "skjold_lockouts_total", &[("scope", scope)]), 0.0);
    }

    // The installation's state.
    assert_eq!(sum(&s, "skjold_tenants", &[("status", "active")]), 2.0);
    assert_eq!(sum(&s, "skjold_tenants", &[("status", "suspended")]), 0.0);
    assert!(sum(&s, "skjold_open_tenant_pools", &[]) >= 1.0);
    assert!(sum(&s, "skjold_database_bytes", &[("kind", "catalog")]) > 0.0);
    assert!(sum(&s, "skjold_database_bytes", &[("kind", "tenants")]) > 0.0);
    assert!(present(&s, "skjold_audit_backlog"));
    // A test server backs up with its generated key to the default destination.
    assert_eq!(sum(&s, "skjold_backups_enabled", &[]), 1.0);
    let age = sum(&s, "skjold_backup_last_snapshot_age_seconds", &[]);
    assert!(age.is_finite() && age >= 0.0, "{age}");
    let lag = sum(&s, "skjold_backup_shipping_lag_seconds", &[]);
    assert!(lag.is_finite() && lag >= 0.0, "{lag}");
    assert!(present(&s, "skjold_backup_destination_up"), "{text}");
    assert!(present(&s, "skjold_backup_destination_missing_bytes"));
    // Not built yet: said so, not faked.
    assert_eq!(sum(&s, "skjold_document_stores_configured", &[]), 0.0);
    assert_eq!(sum(&s, "skjold_scanner_configured", &[]), 0.0);
    assert_eq!(sum(&s, "skjold_metrics_refresh_errors", &[]), 0.0, "{text}");

    // No label value carries a tenant, a user, an id, an address or a path of a request.
    let forbidden = [
        "demo",
        "fjordhandel",
        "admin",
        "kari",
        "Nordmann",
        &person_id,
        "127.0.0.1",
        "no-such-page",
    ];
    let mut label_values = HashSet::new();
    for sample in &s.samples {
        for (_, v) in sample.labels.iter() {
            label_values.insert(v.to_string());
        }
    }
    for v in &label_values {
        for bad in forbidden {
            assert!(
                !v.to_lowercase().contains(&bad.to_lowercase()),
                "label value {v:?} contains {bad:?}"
            );
        }
    }
    // … nor anywhere else in the scrape (help texts included).
    for bad in ["fjordhandel", "kari", &person_id] {
        assert!(!text.to_lowercase().contains(bad), "{bad} in the scrape");
    }
}

#[tokio::test]
async fn lockouts_and_bans_are_counted_by_scope_only() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        c.signin_ip_throttle_after = 3;
        c.signin_ip_ban_after = 4;
    })
    .await;
    for i in 0..5 {
        let res = app
            .request(Method::POST, "/demo/api/v1/session", None)
            .header("x-forwarded-for", format!("198.51.100.{i}"))
            .json(&json!({ "username": "admin", "password": "not-the-password" }))
            .send()
            .await
            .unwrap();
        assert!(
            matches!(res.status().as_u16(), 401 | 429),
            "{}",
            res.status()
        );
    }
    for _ in 0..4 {
        // Past the throttle's growing wait between attempts, within the ban's window.
        app.clock.advance(chrono::Duration::minutes(2));
        app.request(Method::POST, "/demo/api/v1/session", None)
            .header("x-forwarded-for", "203.0.113.9")
            .json(&json!({ "username": "nobody", "password": "not-the-password" }))
            .send()
            .await
            .unwrap();
    }
    let (s, text) = scrape(&app).await;
    assert_eq!(
        sum(&s, "skjold_lockouts_total", &[("scope", "account")]),
        1.0,
        "{text}"
    );
    assert_eq!(
        sum(&s, "skjold_lockouts_total", &[("scope", "address")]),
        1.0,
        "{text}"
    );
    assert!(!text.contains("198.51.100") && !text.contains("203.0.113"));
}

#[tokio::test]
async fn metrics_off_binds_nothing_and_the_https_app_does_not_serve_them() {
    let app = spawn_app_with(|c| c.metrics_listen = None).await;
    assert!(app.metrics_addr.is_none());
    let token = app.admin_token().await;
    let res = app
        .request(Method::GET, "/metrics", Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let body = res.text().await.unwrap();
    assert!(!body.contains("skjold_http_requests"), "{body}");
}

#[tokio::test]
async fn the_metrics_listener_serves_nothing_but_metrics() {
    let app = spawn_app().await;
    let addr = app.metrics_addr.unwrap();
    let res = reqwest::get(format!("http://{addr}/demo/api/v1/me"))
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_grafana_dashboard_queries_only_metrics_the_server_exposes() {
    let app = spawn_app().await;
    app.admin_token().await;
    let (s, text) = scrape(&app).await;
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/grafana-dashboard.json");
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    let mut queried = HashSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap();
            let mut rest = expr;
            while let Some(i) = rest.find("skjold_") {
                let name: String = rest[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                rest = &rest[i + name.len()..];
                queried.insert(name);
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for name in &queried {
        // Histograms are parsed into one metric; their `_bucket` lines are in the text.
        let exposed = s.samples.iter().any(|x| &x.metric == name)
            || text.lines().any(|l| l.starts_with(name.as_str()));
        assert!(
            exposed,
            "the dashboard queries {name}, which the server does not expose"
        );
    }
}
