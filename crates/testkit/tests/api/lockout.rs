//! Brute-force protection: per-account lockout (that does not reveal whether an account
//! exists), per-address throttling and bans, administrators lifting locks, and the server
//! staying responsive for others during an attack.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app_with, TestApp};
use std::time::{Duration, Instant};

async fn attempt(
    app: &TestApp,
    username: &str,
    password: &str,
    from: Option<&str>,
) -> reqwest::Response {
    let mut rb = app
        .request(Method::POST, "/demo/api/v1/session", None)
        .json(&json!({ "username": username, "password": password }));
    if let Some(ip) = from {
        rb = rb.header("x-forwarded-for", ip);
    }
    rb.send().await.unwrap()
}

/// A server whose loopback peer is a trusted proxy, so each test request can come "from"
/// an address of its own (the per-address guard would otherwise see one client).
async fn app_behind_proxy() -> TestApp {
    spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await
}

async fn body_without_request_id(res: reqwest::Response) -> (u16, Option<String>, Value) {
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let mut body: Value = res.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    (status, retry, body)
}

#[tokio::test]
async fn five_failures_lock_an_account_even_against_the_right_password() {
    let app = app_behind_proxy().await;
    let pw = skjold_testkit::user_password("ingrid");
    app.user_with_role("demo", "ingrid", Role::User).await;
    let bystander = app.user_with_role("demo", "bjorn", Role::User).await;

    for i in 1..=4 {
        let res = attempt(&app, "ingrid", "not-her-password", Some("198.51.100.1")).await;
        assert_eq!(res.status(), 401, "failure {i}");
    }
    // The fifth failure locks: "try again later".
    let (status, retry, body) = body_without_request_id(
        attempt(&app, "ingrid", "not-her-password", Some("198.51.100.2")).await,
    )
    .await;
    assert_eq!(status, 429);
    assert_eq!(body["type"], "urn:skjold:problem:too-many-attempts");
    assert_eq!(retry.as_deref(), Some("900"));
    // The right password does not get in during the lock, from any address.
    let res = attempt(&app, "ingrid", &pw, Some("198.51.100.3")).await;
    assert_eq!(res.status(), 429);
    // Another account is unaffected, and so are its sessions.
    assert_eq!(app.get("/demo/api/v1/me", &bystander).await.status(), 200);
    let pb = skjold_testkit::user_password("bjorn");
    assert_eq!(
        attempt(&app, "bjorn", &pb, Some("198.51.100.1"))
            .await
            .status(),
        201
    );

    // After 15 minutes (the injected clock) the account opens again …
    app.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(
        attempt(&app, "ingrid", &pw, Some("198.51.100.4"))
            .await
            .status(),
        201
    );
    // … a success resets the count, and a second lock in a row lasts twice as long.
    for _ in 0..4 {
        attempt(&app, "ingrid", "nope-nope-nope", Some("198.51.100.5")).await;
    }
    assert_eq!(
        attempt(&app, "ingrid", &pw, Some("198.51.100.5"))
            .await
            .status(),
        201
    );
    for _ in 0..5 {
        attempt(&app, "ingrid", "nope-nope-nope", Some("198.51.100.6")).await;
    }
    app.clock.advance(chrono::Duration::minutes(16));
    for _ in 0..5 {
        attempt(&app, "ingrid", "nope-nope-nope", Some("198.51.100.7")).await;
    }
    let res = attempt(&app, "ingrid", &pw, Some("198.51.100.8")).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()["retry-after"],
        "1800",
        "the second lock lasts 30 minutes"
    );

    // Each lock is a security event.
    let admin = app.admin_token().await;
    let audit: Value = app
        .get("/demo/api/v1/audit?event=auth.account_locked", &admin)
        .await
        .json()
        .await
        .unwrap();
    let locks = audit["items"].as_array().unwrap();
    assert_eq!(locks.len(), 3, "{audit}");
    assert_eq!(locks[0]["username"], "ingrid");
    assert_eq!(locks[0]["detail"]["lock_count"], 2);
    assert_eq!(locks[0]["detail"]["known_user"], true);
}

#[tokio::test]
async fn a_lock_looks_the_same_for_an_account_that_does_not_exist() {
    let app = app_behind_proxy().await;
    app.user_with_role("demo", "real.person", Role::User).await;
    let mut answers = Vec::new();
    for name in ["real.person", "no.such.person"] {
        let mut seq = Vec::new();
        for i in 0..7 {
            let ip = format!("192.0.2.{i}");
            let (status, retry, body) =
                body_without_request_id(attempt(&app, name, "wrong-password-x", Some(&ip)).await)
                    .await;
            seq.push((status, retry, body));
        }
        answers.push(seq);
    }
    assert_eq!(answers[0], answers[1]);
    let statuses: Vec<u16> = answers[0].iter().map(|a| a.0).collect();
    assert_eq!(statuses, [401, 401, 401, 401, 429, 429, 429]);
    // Administrators see both locks, and which name is a real user.
    let admin = app.admin_token().await;
    let locks: Value = app
        .get("/demo/api/v1/sign-in-locks", &admin)
        .await
        .json()
        .await
        .unwrap();
    let items = locks["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{locks}");
    let real = items
        .iter()
        .find(|l| l["username"] == "real.person")
        .unwrap();
    assert_eq!(real["known_user"], true);
    let ghost = items
        .iter()
        .find(|l| l["username"] == "no.such.person")
        .unwrap();
    assert_eq!(ghost["known_user"], false);
}

#[tokio::test]
async fn administrators_see_and_lift_locks() {
    let app = app_behind_proxy().await;
    let admin = app.admin_token().await;
    let manager = app.user_with_role("demo", "mona", Role::Manager).await;
    app.user_with_role("demo", "liv", Role::User).await;
    for i in 0..5 {
        attempt(
            &app,
            "liv",
            "wrong-password-x",
            Some(&format!("203.0.113.{i}")),
        )
        .await;
    }
    assert_eq!(
        app.get("/demo/api/v1/sign-in-locks", &manager)
            .await
            .status(),
        403
    );
    assert_eq!(
        app.delete("/demo/api/v1/sign-in-locks/liv", &manager)
            .await
            .status(),
        403
    );
    let locks: Value = app
        .get("/demo/api/v1/sign-in-locks", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locks["items"][0]["username"], "liv");
    assert_eq!(locks["items"][0]["lock_count"], 1);
    assert_eq!(
        app.delete("/demo/api/v1/sign-in-locks/liv", &admin)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete("/demo/api/v1/sign-in-locks/liv", &admin)
            .await
            .status(),
        404
    );
    let locks: Value = app
        .get("/demo/api/v1/sign-in-locks", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locks["items"].as_array().unwrap().len(), 0);
    let pw = skjold_testkit::user_password("liv");
    assert_eq!(
        attempt(&app, "liv", &pw, Some("203.0.113.9"))
            .await
            .status(),
        201
    );
    let audit: Value = app
        .get("/demo/api/v1/audit?event=auth.lock_lifted", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["detail"]["username"], "liv");
    assert_eq!(audit["items"][0]["username"], "admin");
}

#[tokio::test]
async fn one_address_is_throttled_then_banned_and_others_are_not() {
    let app = app_behind_proxy().await;
    let attacker = Some("198.51.100.66");
    let mut statuses = Vec::new();
    // Many accounts, one address: no account reaches its own lockout.
    for i in 0..10 {
        let res = attempt(&app, &format!("user{i}"), "guess-guess-1", attacker).await;
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.iter().all(|s| *s == 401), "{statuses:?}");
    // The 11th attempt comes too soon: throttled (before any password is checked).
    let res = attempt(&app, "user10", "guess-guess-1", attacker).await;
    assert_eq!(res.status(), 429);
    assert_eq!(res.headers()["retry-after"], "1");
    // Waiting as told lets it try again — more and more slowly — until the ban.
    let mut banned_after = None;
    for n in 0..60 {
        app.clock.advance(chrono::Duration::seconds(61));
        let res = attempt(&app, &format!("other{n}"), "guess-guess-1", attacker).await;
        if res.status() == 429 {
            banned_after = Some(n);
            let secs: i64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(secs, 15 * 60);
            break;
        }
        assert_eq!(res.status(), 401);
    }
    assert_eq!(
        banned_after,
        Some(39),
        "the 50th failure bans (10 + 39 + this one)"
    );
    // Banned: even the right password from there is refused; another address signs in.
    let res = attempt(&app, "admin", &app.admin_password, attacker).await;
    assert_eq!(res.status(), 429);
    let res = attempt(&app, "admin", &app.admin_password, Some("198.51.100.67")).await;
    assert_eq!(res.status(), 201);
    let admin = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let audit: Value = app
        .get("/demo/api/v1/audit?event=auth.address_banned", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["ip"], "198.51.100.66");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// The measurement the issue asks for: 1,000 guesses against one account, and 1,000
/// against many accounts from one address, while another user reads `/me` throughout.
/// Prints the numbers (run with `--nocapture`) and checks the attack was stopped.
#[tokio::test]
async fn a_thousand_guesses_are_stopped_and_others_stay_served() {
    let app = std::sync::Arc::new(app_behind_proxy().await);
    app.user_with_role("demo", "target", Role::User).await;
    let bystander = app.user_with_role("demo", "bystander", Role::User).await;

    // A baseline for the bystander's GET.
    let mut base = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        assert_eq!(app.get("/demo/api/v1/me", &bystander).await.status(), 200);
        base.push(t.elapsed());
    }
    base.sort();

    for scenario in ["one account", "many accounts"] {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = {
            let (app, stop, token) = (app.clone(), stop.clone(), bystander.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let t = Instant::now();
                    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
                    lat.push(t.elapsed());
                }
                lat
            })
        };
        let started = Instant::now();
        let mut counts = std::collections::BTreeMap::<u16, u32>::new();
        let attacker = if scenario == "one account" {
            "198.51.100.10"
        } else {
            "198.51.100.11"
        };
        for i in 0..1000 {
            let name = if scenario == "one account" {
                "target".to_string()
            } else {
                format!("victim{i}")
            };
            let res = attempt(&app, &name, &format!("guess-{i}-xyzzy"), Some(attacker)).await;
            *counts.entry(res.status().as_u16()).or_default() += 1;
        }
        let took = started.elapsed();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut lat = reader.await.unwrap();
        lat.sort();
        println!(
            "{} [{}]: 1000 guesses in {:.2?}: {:?}; bystander GET /me during the attack: n={} p50={:.2?} p95={:.2?} p99={:.2?} max={:.2?} (baseline p50={:.2?} p95={:.2?})",
            scenario,
            skjold_testkit::backend_name(),
            took,
            counts,
            lat.len(),
            percentile(&lat, 0.5),
            percentile(&lat, 0.95),
            percentile(&lat, 0.99),
            lat[lat.len() - 1],
            percentile(&base, 0.5),
            percentile(&base, 0.95),
        );
        // Stopped: at most a handful of guesses were checked at all (401); the rest were
        // refused before any password was compared (429).
        let checked = counts.get(&401).copied().unwrap_or(0);
        assert!(checked <= 10, "{scenario}: {counts:?}");
        assert_eq!(counts.get(&201), None);
        assert!(lat.len() >= 5);
        assert!(
            percentile(&lat, 0.95) < Duration::from_secs(1),
            "{scenario}: {lat:?}"
        );
    }
}
