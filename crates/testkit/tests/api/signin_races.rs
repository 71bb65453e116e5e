//! Attacks that race the sign-in protections (issue 18): bursts of attempts at once must
//! get no more credential checks than the lockout and the address ban allow, password
//! hashing must stay within bounded memory under a burst, a wrong current password counts
//! like a wrong sign-in, and the stores that sign-in writes (failure rows, passkey
//! counters, passkey ceremonies) stay bounded and race-free.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::{Clock, Role};
use skjold_testkit::{spawn_app_with, TestApp};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The default lockout policy's failures in a row.
const MAX_FAILURES: u32 = 5;
/// The default `signin_ip_ban_after`.
const ADDRESS_BAN_AFTER: u32 = 50;

async fn app_behind_proxy() -> TestApp {
    spawn_app_with(|c| c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]).await
}

async fn attempt(app: &TestApp, body: Value, from: &str) -> reqwest::Response {
    app.request(Method::POST, "/demo/api/v1/session", None)
        .header("x-forwarded-for", from)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Sends all `bodies` at once (each from its address); answers the count of each status.
async fn burst(app: &Arc<TestApp>, bodies: Vec<(Value, String)>) -> BTreeMap<u16, u32> {
    let barrier = Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|(body, from)| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                attempt(&app, body, &from).await.status().as_u16()
            })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for t in tasks {
        *counts.entry(t.await.unwrap()).or_default() += 1;
    }
    counts
}

/// Audit records of a kind (and, given, with this `detail.reason`).
async fn audit_count(app: &TestApp, admin: &str, event: &str, reason: Option<&str>) -> usize {
    let audit: Value = app
        .get(
            &format!("/demo/api/v1/audit?event={event}&limit=500"),
            admin,
        )
        .await
        .json()
        .await
        .unwrap();
    audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| reason.is_none_or(|want| r["detail"]["reason"] == want))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_wrong_passwords_at_once_get_at_most_the_lockouts_checks() {
    let app = Arc::new(app_behind_proxy().await);
    app.user_with_role("demo", "astrid", Role::User).await;
    let bodies = (0..40)
        .map(|i| {
            (
                json!({ "username": "astrid", "password": format!("wrong-guess-{i}") }),
                format!("198.51.100.{}", i + 1),
            )
        })
        .collect();
    let counts = burst(&app, bodies).await;
    println!(
        "40 wrong at once [{}]: {counts:?}",
        skjold_testkit::backend_name()
    );
    let admin = app.admin_token().await;
    // Checks are failures recorded as wrong_password: never more than the lockout allows.
    let checked = audit_count(&app, &admin, "auth.sign_in.failed", Some("wrong_password")).await;
    let failed_401 = counts.get(&401).copied().unwrap_or(0);
    assert!(failed_401 < MAX_FAILURES, "{counts:?}");
    assert_eq!(counts.get(&201), None);
    assert_eq!(
        failed_401 + counts.get(&429).copied().unwrap_or(0),
        40,
        "{counts:?}"
    );
    // Locked once, and the right password does not get in.
    assert_eq!(
        audit_count(&app, &admin, "auth.account_locked", None).await,
        1
    );
    let pw = skjold_testkit::user_password("astrid");
    let res = attempt(
        &app,
        json!({ "username": "astrid", "password": pw }),
        "198.51.100.99",
    )
    .await;
    assert_eq!(res.status(), 429);
    assert!(
        checked <= MAX_FAILURES as usize,
        "{checked} passwords checked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_and_right_passwords_at_once_never_exceed_the_lockouts_checks() {
    let app = Arc::new(app_behind_proxy().await);
    app.user_with_role("demo", "bror", Role::User).await;
    let pw = skjold_testkit::user_password("bror");
    let mut bodies: Vec<(Value, String)> = (0..40)
        .map(|i| {
            (
                json!({ "username": "bror", "password": format!("wrong-guess-{i}") }),
                format!("198.51.100.{}", i + 1),
            )
        })
        .collect();
    bodies.insert(
        20,
        (
            json!({ "username": "bror", "password": pw }),
            "198.51.100.200".into(),
        ),
    );
    let counts = burst(&app, bodies).await;
    println!(
        "40 wrong + 1 right at once [{}]: {counts:?}",
        skjold_testkit::backend_name()
    );
    let decided = counts.get(&401).copied().unwrap_or(0) + counts.get(&201).copied().unwrap_or(0);
    assert!(decided <= MAX_FAILURES, "{counts:?}");
    assert_eq!(
        decided + counts.get(&429).copied().unwrap_or(0),
        41,
        "{counts:?}"
    );
    assert!(counts.get(&201).copied().unwrap_or(0) <= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_unknown_names_at_once_from_one_address_are_bounded_by_the_address() {
    let app = Arc::new(app_behind_proxy().await);
    let bodies = (0..150)
        .map(|i| {
            (
                json!({ "username": format!("ghost{i}"), "password": "guess-guess-1" }),
                "198.51.100.77".to_string(),
            )
        })
        .collect();
    let counts = burst(&app, bodies).await;
    println!(
        "150 unknown names at once from one address [{}]: {counts:?}",
        skjold_testkit::backend_name()
    );
    let checked = counts.get(&401).copied().unwrap_or(0);
    assert!(checked <= ADDRESS_BAN_AFTER, "{counts:?}");
    // Nothing was banned, so the throttle bounds it first: its threshold, at once.
    assert!(checked <= 10, "{counts:?}");
    assert_eq!(checked + counts.get(&429).copied().unwrap_or(0), 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_totp_codes_at_once_get_at_most_the_lockouts_checks() {
    let app = Arc::new(app_behind_proxy().await);
    let session = app.user_with_role("demo", "siri", Role::User).await;
    let pw = skjold_testkit::user_password("siri");
    let enrol: Value = app
        .post("/demo/api/v1/me/totp", &session, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = crate::totp::base32_decode(enrol["secret"].as_str().unwrap());
    let code = crate::totp::code_at(&secret, app.clock.now().timestamp());
    let res = app
        .post(
            "/demo/api/v1/me/totp/confirm",
            &session,
            &json!({"code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let bodies = (0..40)
        .map(|i| {
            (
                json!({ "username": "siri", "password": pw, "totp": format!("{:06}", 100_000 + i) }),
                format!("198.51.100.{}", i + 1),
            )
        })
        .collect();
    let counts = burst(&app, bodies).await;
    println!(
        "40 wrong codes at once [{}]: {counts:?}",
        skjold_testkit::backend_name()
    );
    assert!(
        counts.get(&401).copied().unwrap_or(0) < MAX_FAILURES,
        "{counts:?}"
    );
    assert_eq!(counts.get(&201), None);
    // Locked: even a right code does not get in.
    app.clock.advance(chrono::Duration::seconds(30));
    let code = crate::totp::code_at(&secret, app.clock.now().timestamp());
    let res = attempt(
        &app,
        json!({ "username": "siri", "password": pw, "totp": code }),
        "198.51.100.99",
    )
    .await;
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_and_are_audited() {
    let app = app_behind_proxy().await;
    let session = app.user_with_role("demo", "carl", Role::User).await;
    let pw = skjold_testkit::user_password("carl");
    let change = |current: String| {
        app.request(Method::PUT, "/demo/api/v1/me/password", Some(&session))
            .json(
                &json!({ "current_password": current, "new_password": "a-new-long-pass-phrase-9" }),
            )
            .send()
    };
    let mut statuses = Vec::new();
    for i in 0..20 {
        statuses.push(
            change(format!("guess-number-{i}"))
                .await
                .unwrap()
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..5], [422, 422, 422, 422, 429], "{statuses:?}");
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let res = change(pw.clone()).await.unwrap();
    assert_eq!(
        res.status(),
        429,
        "locked: the right current password is refused too"
    );
    assert!(res.headers().contains_key("retry-after"));
    // The sign-in is locked as well: it is the same account.
    let res = attempt(
        &app,
        json!({ "username": "carl", "password": pw }),
        "198.51.100.5",
    )
    .await;
    assert_eq!(res.status(), 429);
    let admin = app.admin_token().await;
    assert_eq!(
        audit_count(
            &app,
            &admin,
            "auth.sign_in.failed",
            Some("wrong_current_password")
        )
        .await,
        5
    );
    assert_eq!(
        audit_count(&app, &admin, "auth.account_locked", None).await,
        1
    );
    // After the lock, the right current password changes it.
    app.clock.advance(chrono::Duration::minutes(15));
    assert_eq!(change(pw).await.unwrap().status(), 204);
}

#[tokio::test]
async fn the_daily_job_prunes_old_sign_in_failures() {
    let app = app_behind_proxy().await;
    let wrong = |name: &str| json!({ "username": name, "password": "wrong-guess-x" });
    assert_eq!(
        attempt(&app, wrong("old.name"), "198.51.100.1")
            .await
            .status(),
        401
    );
    app.clock.advance(chrono::Duration::hours(25));
    assert_eq!(
        attempt(&app, wrong("new.name"), "198.51.100.2")
            .await
            .status(),
        401
    );
    let db = app.tenant_db("demo").await;
    assert!(db.sign_in_lock("old.name").await.unwrap().is_some());
    let ran = skjold_server::jobs::Scheduler::standard()
        .run_due(&app.state)
        .await;
    assert!(ran.contains(&"sessions.cleanup"));
    assert!(
        db.sign_in_lock("old.name").await.unwrap().is_none(),
        "pruned"
    );
    assert!(db.sign_in_lock("new.name").await.unwrap().is_some(), "kept");
}

#[tokio::test]
async fn the_passkey_counter_is_compare_and_set() {
    let app = spawn_app_with(|_| {}).await;
    app.user_with_role("demo", "pia", Role::User).await;
    let db = app.tenant_db("demo").await;
    let user = db
        .user_for_sign_in(&skjold_domain::Username::parse("pia").unwrap())
        .await
        .unwrap()
        .unwrap()
        .0;
    let seen = r#"{"cred":{"counter":4}}"#;
    let key = db
        .add_passkey(&user.id, "cred-pia", "key", seen)
        .await
        .unwrap();
    let moved = r#"{"cred":{"counter":5}}"#;
    // Two answers that both saw counter 4: only the first moves it.
    assert!(db.passkey_used(&key.id, seen, moved).await.unwrap());
    assert!(!db.passkey_used(&key.id, seen, moved).await.unwrap());
    let stored = db.passkeys_of(&user.id).await.unwrap();
    assert_eq!(stored[0].credential, moved);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn passkey_options_without_sign_in_cannot_grow_the_ceremonies_without_bound() {
    let app = Arc::new(app_behind_proxy().await);
    let max = skjold_server::passkeys::MAX_PENDING_SIGN_IN_CEREMONIES;
    let workers = 8;
    let per_worker = (max as usize + 200) / workers;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let app = app.clone();
            tokio::spawn(async move {
                let mut counts = BTreeMap::<u16, u32>::new();
                for i in 0..per_worker {
                    // Discoverable, username-first (decoy: nobody has that name) alike.
                    let body = if i % 2 == 0 {
                        json!({})
                    } else {
                        json!({ "username": format!("probe{w}x{i}") })
                    };
                    let status = app
                        .request(Method::POST, "/demo/api/v1/session/passkey/options", None)
                        .header("x-forwarded-for", format!("198.51.100.{}", w + 1))
                        .json(&body)
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16();
                    *counts.entry(status).or_default() += 1;
                }
                counts
            })
        })
        .collect();
    let mut counts = BTreeMap::<u16, u32>::new();
    for t in tasks {
        for (k, v) in t.await.unwrap() {
            *counts.entry(k).or_default() += v;
        }
    }
    println!(
        "{} passkey options [{}]: {counts:?}",
        workers * per_worker,
        skjold_testkit::backend_name()
    );
    let pending = app
        .tenant_db("demo")
        .await
        .pending_ceremonies()
        .await
        .unwrap();
    assert!(pending <= max + workers as i64, "{pending} pending");
    assert!(counts.get(&429).copied().unwrap_or(0) >= 150, "{counts:?}");
    // Once they expire, options are given again.
    app.clock.advance(chrono::Duration::minutes(6));
    let res = app
        .request(Method::POST, "/demo/api/v1/session/passkey/options", None)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Runs one `#[ignore]`d test of this module in a process of its own (so that its
/// resident memory and the process-wide hashing queue are its alone) and checks it passed.
fn in_own_process(test: &str) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    println!("{}", String::from_utf8_lossy(&out.stdout));
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{test} failed in its own process");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{test} did not run"
    );
}

fn vm_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_burst_of_sign_ins_stays_within_bounded_memory() {
    in_own_process("signin_races::burst_memory_in_own_process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run by a_burst_of_sign_ins_stays_within_bounded_memory in a process of its own"]
async fn burst_memory_in_own_process() {
    let app = Arc::new(app_behind_proxy().await);
    let bystander = app.user_with_role("demo", "bystander", Role::User).await;
    let before = vm_kib("VmRSS:");
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (app, stop, token) = (app.clone(), stop.clone(), bystander.clone());
        tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
                n += 1;
            }
            n
        })
    };
    // 150 sign-ins at once, each from its own address and name: every one is checked.
    let bodies = (0..150)
        .map(|i| {
            (
                json!({ "username": format!("someone{i}"), "password": "a-guess-at-it" }),
                format!("10.1.{}.{}", i / 200, i % 200 + 1),
            )
        })
        .collect();
    let counts = burst(&app, bodies).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let reads = reader.await.unwrap();
    let (after, peak) = (vm_kib("VmRSS:"), vm_kib("VmHWM:"));
    let limits = skjold_app::credentials::hashing_limits();
    println!(
        "150 sign-ins at once [{}]: {counts:?}; hashing permits {}; RSS before {} MiB, after {} MiB, peak {} MiB; bystander GET /me: {reads} answered 200",
        skjold_testkit::backend_name(),
        limits.permits,
        before / 1024,
        after / 1024,
        peak / 1024,
    );
    // Each is checked (401) or, past the queue's wait limit, refused as busy (503).
    let (checked, busy) = (
        counts.get(&401).copied().unwrap_or(0),
        counts.get(&503).copied().unwrap_or(0),
    );
    assert_eq!(checked + busy, 150, "{counts:?}");
    assert!(checked >= limits.permits as u32, "{counts:?}");
    assert!(reads >= 1);
    assert!(peak < 300 * 1024, "peak resident {} MiB", peak / 1024);
    assert!(after < before + 150 * 1024, "{before} -> {after} KiB");
}

#[test]
fn a_full_hashing_queue_answers_503_with_retry_after() {
    in_own_process("signin_races::busy_in_own_process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "run by a_full_hashing_queue_answers_503_with_retry_after in a process of its own"]
async fn busy_in_own_process() {
    let limits = skjold_app::credentials::HashingLimits {
        permits: 1,
        wait: std::time::Duration::from_millis(1),
    };
    assert!(skjold_app::credentials::configure_hashing(limits));
    let app = Arc::new(app_behind_proxy().await);
    let bodies: Vec<(Value, String)> = (0..30)
        .map(|i| {
            (
                json!({ "username": format!("someone{i}"), "password": "a-guess-at-it" }),
                format!("10.2.0.{}", i + 1),
            )
        })
        .collect();
    let barrier = Arc::new(tokio::sync::Barrier::new(bodies.len()));
    let tasks: Vec<_> = bodies
        .into_iter()
        .map(|(body, from)| {
            let (app, barrier) = (app.clone(), barrier.clone());
            tokio::spawn(async move {
                barrier.wait().await;
                let res = attempt(&app, body, &from).await;
                let status = res.status().as_u16();
                let retry = res.headers().get("retry-after").cloned();
                let ctype = res.headers().get("content-type").cloned();
                let body: Value = res.json().await.unwrap();
                (status, retry, ctype, body)
            })
        })
        .collect();
    let mut busy = 0;
    for t in tasks {
        let (status, retry, ctype, body) = t.await.unwrap();
        if status == 503 {
            busy += 1;
            assert_eq!(retry.unwrap(), "1");
            assert_eq!(ctype.unwrap(), "application/problem+json");
            assert_eq!(body["type"], "urn:skjold:problem:busy");
        } else {
            assert_eq!(status, 401, "{body}");
        }
    }
    println!("30 sign-ins at once with one permit and a 1 ms wait: {busy} answered 503");
    assert!(busy > 0);
    // Refused for being busy is not a failure: the address is not throttled by it, and
    // the administrator signs in.
    let res = attempt(
        &app,
        json!({ "username": "admin", "password": app.admin_password }),
        "10.2.0.1",
    )
    .await;
    assert_eq!(res.status(), 201);
}
