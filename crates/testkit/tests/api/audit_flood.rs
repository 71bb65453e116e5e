//! Flooding the audit trail without an account: per-address limits on unauthenticated
//! traffic's records (429 beyond them, one summary record per address and minute), and the
//! low-disk guard (503 for unauthenticated work, one `system.disk_low` per crossing).

use serde_json::Value;
use skjold_server::audit_guard::{FreeSpace, FreeSpaceProbe};
use skjold_testkit::{spawn_app_with, TestApp};
use std::path::Path;
use std::sync::{Arc, Mutex};

const ATTACKER: &str = "198.51.100.7";

async fn app_behind_proxy() -> TestApp {
    spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await
}

fn anonymous(app: &TestApp, path: &str, from: &str) -> reqwest::RequestBuilder {
    app.request(reqwest::Method::GET, path, None)
        .header("x-forwarded-for", from)
}

/// Every record of `kind` from `ip` in the demo tenant's chain (database copy).
async fn records(app: &TestApp, token: &str, kind: &str, ip: &str) -> Vec<Value> {
    app.state.audit.flush().await.unwrap();
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/demo/api/v1/audit?event={kind}&ip={ip}&limit=500");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&path, token).await;
        assert_eq!(res.status(), 200);
        let page: Value = res.json().await.unwrap();
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// Lines of the demo chain's files that name `ip`.
fn file_lines_from(app: &TestApp, ip: &str) -> Vec<Value> {
    let dir = skjold_audit::chain_dir(&skjold_audit::logs_root(app.data_dir.path()), "demo");
    let mut out = Vec::new();
    for file in skjold_audit::day_files(&dir).unwrap() {
        let text = std::fs::read_to_string(&file).unwrap();
        for line in text.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["ip"] == ip {
                out.push(v);
            }
        }
    }
    out
}

#[tokio::test]
async fn an_unauthenticated_flood_is_refused_and_summarised_once_per_address_and_minute() {
    let app = app_behind_proxy().await;
    let admin = app.admin_token().await;
    // The test clock stands still: the address gets exactly its burst.
    let burst = app.state.config.audit_unauthenticated_burst as usize;
    assert!(burst < 500);

    let (mut served, mut refused) = (0usize, 0usize);
    for i in 0..500 {
        let path = if i % 2 == 0 {
            "/demo/api/v1/companies".to_string()
        } else {
            format!("/demo/api/v1/nothing-{i}")
        };
        let res = anonymous(&app, &path, ATTACKER).send().await.unwrap();
        match res.status().as_u16() {
            401 | 404 => served += 1,
            429 => {
                refused += 1;
                assert!(res.headers().contains_key("retry-after"));
                assert_eq!(res.headers()["content-type"], "application/problem+json");
                let p: Value = res.json().await.unwrap();
                assert_eq!(p["type"], "urn:skjold:problem:too-many-requests");
            }
            other => panic!("request {i}: unexpected {other}"),
        }
    }
    assert_eq!(served, burst);
    assert_eq!(refused, 500 - burst);

    // Another address is unaffected …
    let res = anonymous(&app, "/demo/api/v1/companies", "198.51.100.8")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // … and so is a signed-in user at the flooding address.
    for _ in 0..5 {
        let res = app
            .request(reqwest::Method::GET, "/demo/api/v1/me", Some(&admin))
            .header("x-forwarded-for", ATTACKER)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // Bad credentials do not get around the limit.
    let res = app
        .request(
            reqwest::Method::GET,
            "/demo/api/v1/companies",
            Some("forged"),
        )
        .header("x-forwarded-for", ATTACKER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
    refused += 1;

    // Before the minute closes, nothing but the served requests is in the trail.
    assert!(records(&app, &admin, "access.summarised", ATTACKER)
        .await
        .is_empty());
    // The minute closes; the next request (anyone's) writes the summary.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.get("/demo/api/v1/me", &admin).await.status(), 200);

    let access = records(&app, &admin, "http.access", ATTACKER).await;
    let anonymous_access = access.iter().filter(|r| r["username"].is_null()).count();
    assert_eq!(anonymous_access, burst, "one record per served request");
    let summaries = records(&app, &admin, "access.summarised", ATTACKER).await;
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    let d = &summaries[0]["detail"];
    assert_eq!(d["count"], refused as u64);
    assert_eq!(d["reasons"]["rate_limited"], refused as u64);
    let paths = d["paths"].as_array().unwrap();
    assert!(!paths.is_empty() && paths.len() <= 10, "{paths:?}");
    assert!(paths.iter().any(|p| p == "/demo/api/v1/companies"));
    assert!(d["first"].as_str().unwrap() <= d["last"].as_str().unwrap());

    // The file holds the same: the served requests, the signed-in ones, one summary.
    let lines = file_lines_from(&app, ATTACKER);
    assert_eq!(lines.len(), burst + 5 + 1, "records in the file");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["kind"] == "access.summarised")
            .count(),
        1
    );

    // A new minute: the address has its budget again (the clock moved 61 s).
    let res = anonymous(&app, "/demo/api/v1/companies", ATTACKER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let report = {
        app.state.audit.flush().await.unwrap();
        skjold_audit::verify_chain(
            &app.state.tenants,
            &skjold_audit::logs_root(app.data_dir.path()),
            "demo",
        )
        .await
        .unwrap()
    };
    assert!(report.ok(), "{:?}", report.damage);
    assert_eq!(report.database_records, report.file_records);
}

/// A probe that reports what the test says.
#[derive(Clone)]
struct Gauge(Arc<Mutex<FreeSpace>>);

impl FreeSpaceProbe for Gauge {
    fn probe(&self, _: &Path) -> std::io::Result<FreeSpace> {
        Ok(*self.0.lock().unwrap())
    }
}

#[tokio::test]
async fn a_low_disk_refuses_unauthenticated_work_first_and_raises_one_event_per_crossing() {
    let app = app_behind_proxy().await;
    let admin = app.admin_token().await;
    const GIB: u64 = 1 << 30;
    let space = Arc::new(Mutex::new(FreeSpace {
        available: 50 * GIB,
        total: 100 * GIB,
    }));
    app.state
        .audit_guard
        .use_probe(Arc::new(Gauge(space.clone())));
    let sign_in = || {
        app.request(reqwest::Method::POST, "/demo/api/v1/session", None)
            .header("x-forwarded-for", "203.0.113.9")
            .json(&serde_json::json!({"username": "admin", "password": app.admin_password}))
    };
    assert_eq!(sign_in().send().await.unwrap().status(), 201);

    // 900 MiB left of 100 GiB: under 1 GiB (2 % would be 2 GiB; the lesser counts).
    space.lock().unwrap().available = 900 << 20;
    app.clock.advance(chrono::Duration::seconds(10));
    for _ in 0..3 {
        let res = sign_in().send().await.unwrap();
        assert_eq!(res.status(), 503);
        assert!(res.headers().contains_key("retry-after"));
    }
    // A signed-in user goes on working.
    assert_eq!(app.get("/demo/api/v1/me", &admin).await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(sign_in().send().await.unwrap().status(), 503);

    // Room again: served; low again: a second event.
    space.lock().unwrap().available = 10 * GIB;
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(sign_in().send().await.unwrap().status(), 201);
    space.lock().unwrap().available = GIB / 2;
    app.clock.advance(chrono::Duration::seconds(10));
    assert_eq!(sign_in().send().await.unwrap().status(), 503);

    // The events are in the system chain, one per crossing.
    app.state.audit.flush().await.unwrap();
    let system = skjold_audit::chain_dir(
        &skjold_audit::logs_root(app.data_dir.path()),
        skjold_domain::audit::SYSTEM_CHAIN,
    );
    let mut events = Vec::new();
    for file in skjold_audit::day_files(&system).unwrap() {
        for line in std::fs::read_to_string(file).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["kind"] == "system.disk_low" {
                events.push(v);
            }
        }
    }
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["detail"]["available_bytes"], 900u64 << 20);
    // The refused sign-ins are summarised, not lost.
    app.clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.get("/demo/api/v1/me", &admin).await.status(), 200);
    let refused: u64 = records(&app, &admin, "access.summarised", "203.0.113.9")
        .await
        .iter()
        .map(|r| r["detail"]["reasons"]["disk_low"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(refused, 5);
}

/// The UI's static files, fetched without signing in (a browser opening the sign-in page),
/// are never refused and never use up the address's budget: they are registered in one
/// summary per address and minute in the installation's chain instead of a record each.
#[tokio::test]
async fn static_files_are_served_to_anyone_and_summarised() {
    let app = app_behind_proxy().await;
    let burst = app.state.config.audit_unauthenticated_burst as usize;
    for _ in 0..burst * 3 {
        let res = anonymous(&app, "/static/skjold.css", ATTACKER)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    // The address's budget is untouched: the sign-in page still answers.
    let res = anonymous(&app, "/demo/login", ATTACKER)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    app.clock.advance(chrono::Duration::seconds(61));
    anonymous(&app, "/healthz", "192.0.2.1")
        .send()
        .await
        .unwrap();
    app.state.audit.flush().await.unwrap();
    let dir = skjold_audit::chain_dir(
        &skjold_audit::logs_root(app.data_dir.path()),
        skjold_domain::audit::SYSTEM_CHAIN,
    );
    let mut lines = Vec::new();
    for file in skjold_audit::day_files(&dir).unwrap() {
        for line in std::fs::read_to_string(&file).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            if v["ip"] == ATTACKER {
                lines.push(v);
            }
        }
    }
    assert_eq!(lines.len(), 1, "one summary, no record per file: {lines:?}");
    assert_eq!(lines[0]["kind"], "access.summarised");
    assert_eq!(lines[0]["detail"]["count"], (burst * 3) as u64);
    assert_eq!(
        lines[0]["detail"]["reasons"]["static_file"],
        (burst * 3) as u64
    );
    assert_eq!(lines[0]["detail"]["paths"][0], "/static/skjold.css");
}

/// A browser refused by the flood guard reads a page saying when to try again, not JSON;
/// a program asking the API still gets the problem document.
#[tokio::test]
async fn a_browser_refused_by_the_flood_guard_gets_a_page() {
    let app = spawn_app_with(|c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
        c.audit_unauthenticated_burst = 2;
    })
    .await;
    let page = |path: &str| {
        anonymous(&app, path, ATTACKER).header("accept", "text/html,application/xhtml+xml")
    };
    for _ in 0..2 {
        assert_eq!(page("/demo/login").send().await.unwrap().status(), 200);
    }
    let res = page("/demo/login").send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let body = res.text().await.unwrap();
    assert!(body.contains("Try again later"), "{body}");
    assert!(
        body.contains("Too many requests without signing in"),
        "{body}"
    );

    let res = page("/demo/api/v1/companies").send().await.unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
}
