//! Subscriptions to the status page: a tenant's administrator subscribes an e-mail address
//! and a webhook; announcements, the reminders 24 hours and 1 hour before, and incident
//! updates reach both — e-mail through a real SMTP server (aiosmtpd, started by
//! `scripts/smtp-sink`), webhooks signed — and the link in each message ends it.

use chrono::Duration;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use sha2::Sha256;
use skjold_app::operations;
use skjold_app::operator::Operator;
use skjold_domain::clock::format_timestamp;
use skjold_domain::Clock;
use skjold_server::notify::settings::{NotifyConfig, SmtpConfig, SmtpSecurity};
use skjold_testkit::{spawn_app, spawn_app_with, TestApp};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// What the webhook receiver got: (event header, signature header, body).
type Received = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

async fn webhook_receiver() -> (String, Received) {
    let got: Received = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let store = store.clone();
                async move {
                    let h = |n: &str| {
                        headers
                            .get(n)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_string()
                    };
                    store.lock().unwrap().push((
                        h("skjold-event"),
                        h("skjold-signature"),
                        body.to_vec(),
                    ));
                    "ok"
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}/hook"), got)
}

/// A real SMTP server writing each message into `dir`; killed when dropped.
struct SmtpSink {
    child: std::process::Child,
    port: u16,
    dir: PathBuf,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp_sink(dir: &Path) -> SmtpSink {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/smtp-sink");
    let mut child = std::process::Command::new(script)
        .arg(dir)
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("scripts/smtp-sink starts");
    // The first start installs aiosmtpd from PyPI.
    for _ in 0..1200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return SmtpSink {
                child,
                port,
                dir: dir.to_path_buf(),
            };
        }
        #[allow(clippy::disallowed_methods)] // waiting for the server to start, bounded
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the SMTP sink did not start on port {port}");
}

impl SmtpSink {
    fn messages(&self) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect()
    }
}

async fn run_notify(app: &TestApp, scheduler: &mut skjold_server::jobs::Scheduler) {
    let ran = scheduler.run_due(&app.state).await;
    assert!(ran.contains(&"status.notify"), "{ran:?}");
}

fn verify(secret: &str, signature: &str, body: &[u8]) -> bool {
    let Some((t, v1)) = signature
        .strip_prefix("t=")
        .and_then(|s| s.split_once(",v1="))
    else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    mac.verify_slice(&hex::decode(v1).unwrap()).is_ok()
}

#[tokio::test]
async fn subscribers_hear_of_maintenance_reminders_and_incidents_until_they_unsubscribe() {
    let mail_dir = tempfile::tempdir().unwrap();
    let sink = smtp_sink(mail_dir.path());
    let port = sink.port;
    let app = spawn_app_with(move |c| {
        c.notify = NotifyConfig {
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port,
                security: SmtpSecurity::None,
                credentials: None,
                from: "Skjold status <status@skjold.test>".parse().unwrap(),
            }),
            allow_private_webhooks: true,
        };
    })
    .await;
    let (hook, received) = webhook_receiver().await;
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/status-subscriptions",
            &admin,
            &json!({ "kind": "email", "target": "ops@acme.test" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/demo/api/v1/status-subscriptions",
            &admin,
            &json!({ "kind": "webhook", "target": hook }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let webhook: Value = res.json().await.unwrap();
    let secret = webhook["signing_secret"].as_str().unwrap().to_string();
    // Listed without the secret.
    let list: Value = app
        .get("/demo/api/v1/status-subscriptions", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains(&secret));

    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    run_notify(&app, &mut scheduler).await;

    // Announced 30 hours ahead.
    let ops = app.state.ops();
    let start = app.clock.now() + Duration::hours(30);
    operations::schedule_maintenance(
        &ops,
        &Operator::cli(),
        serde_json::from_value(json!({
            "starts_at": format_timestamp(start),
            "ends_at": format_timestamp(start + Duration::hours(1)),
            "summary": "Database upgrade",
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    app.clock.advance(Duration::minutes(1));
    run_notify(&app, &mut scheduler).await;
    // Six hours later, the reminder 24 hours before; then the one an hour before.
    app.clock.advance(Duration::hours(6));
    run_notify(&app, &mut scheduler).await;
    app.clock.advance(Duration::hours(23));
    run_notify(&app, &mut scheduler).await;
    // An incident.
    operations::open_incident(
        &ops,
        &Operator::cli(),
        serde_json::from_value(json!({
            "title": "Sign-in is slow",
            "impact": "degraded",
            "message": "We are looking into it.",
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    app.clock.advance(Duration::minutes(1));
    run_notify(&app, &mut scheduler).await;

    let events: Vec<String> = received
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.0.clone())
        .collect();
    assert_eq!(
        events,
        [
            "maintenance.scheduled",
            "maintenance.reminder-24h",
            "maintenance.reminder-1h",
            "incident.opened"
        ]
    );
    let (unsubscribe, payload) = {
        let got = received.lock().unwrap();
        for (_, signature, body) in got.iter() {
            assert!(
                verify(&secret, signature, body),
                "a bad signature: {signature}"
            );
            assert!(!verify("whsec_wrong", signature, body));
        }
        let payload: Value = serde_json::from_slice(&got[0].2).unwrap();
        (
            payload["unsubscribe"].as_str().unwrap().to_string(),
            payload,
        )
    };
    assert_eq!(payload["maintenance"]["summary"], "Database upgrade");

    let mails = sink.messages();
    assert_eq!(mails.len(), 4, "{mails:#?}");
    assert!(mails[0].contains("X-Envelope-To: ops@acme.test"));
    assert!(mails[0].contains("Subject: Scheduled maintenance: Database upgrade"));
    assert!(mails[1].contains("Subject: In 24 hours: Database upgrade"));
    assert!(mails[2].contains("Subject: In 1 hour: Database upgrade"));
    assert!(mails[3].contains("Sign-in is slow"));
    assert!(mails[0].contains("/status/unsubscribe/"));

    // A day later the administrator's session has ended: sign in again.
    let admin = app.admin_token().await;
    // The webhook's link: a page that asks first, then the button ends it.
    let path = &unsubscribe[unsubscribe.find("/status/unsubscribe/").unwrap()..];
    let page = app.request(Method::GET, path, None).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Unsubscribe"));
    let done = app.request(Method::POST, path, None).send().await.unwrap();
    assert_eq!(done.status(), 200);
    let again = app.request(Method::POST, path, None).send().await.unwrap();
    assert_eq!(again.status(), 404);
    let list: Value = app
        .get("/demo/api/v1/status-subscriptions", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // The next update reaches the e-mail address only.
    let incidents = app
        .state
        .tenants
        .catalog()
        .incidents_since(app.clock.now() - Duration::days(1))
        .await
        .unwrap();
    operations::update_incident(
        &ops,
        &Operator::cli(),
        &incidents[0].id,
        skjold_domain::status::IncidentStatus::Resolved,
        "Fast again.",
    )
    .await
    .unwrap();
    app.clock.advance(Duration::minutes(1));
    run_notify(&app, &mut scheduler).await;
    assert_eq!(received.lock().unwrap().len(), 4);
    assert_eq!(sink.messages().len(), 5);

    // Recorded in the tenant's trail.
    let trail: Value = app
        .get("/demo/api/v1/audit?event=status.subscribed", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(trail["items"].as_array().unwrap().len(), 2, "{trail}");
}

#[tokio::test]
async fn subscriptions_are_refused_where_they_would_reach_inside_or_cannot_be_sent() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (body, field) in [
        (
            json!({ "kind": "email", "target": "ops@acme.test" }),
            "kind",
        ),
        (
            json!({ "kind": "webhook", "target": "https://127.0.0.1/hook" }),
            "target",
        ),
        (
            json!({ "kind": "webhook", "target": "https://169.254.169.254/latest" }),
            "target",
        ),
        (
            json!({ "kind": "webhook", "target": "http://hooks.example.com/" }),
            "target",
        ),
        (
            json!({ "kind": "webhook", "target": "not a url" }),
            "target",
        ),
    ] {
        let res = app
            .post("/demo/api/v1/status-subscriptions", &admin, &body)
            .await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{problem}");
    }
    // Only holders of settings.manage.
    let sales = app
        .user_with_role("demo", "seller", skjold_domain::Role::User)
        .await;
    let res = app
        .post(
            "/demo/api/v1/status-subscriptions",
            &sales,
            &json!({ "kind": "webhook", "target": "https://hooks.example.com/x" }),
        )
        .await;
    assert_eq!(res.status(), 403);
    // One tenant cannot remove another's.
    let res = app
        .post(
            "/demo/api/v1/status-subscriptions",
            &admin,
            &json!({ "kind": "webhook", "target": "https://hooks.example.com/x" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.create_tenant("acme").await;
    assert_eq!(
        app.delete(&format!("/acme/api/v1/status-subscriptions/{id}"), &other)
            .await
            .status(),
        404
    );
    assert_eq!(
        app.delete(&format!("/demo/api/v1/status-subscriptions/{id}"), &admin)
            .await
            .status(),
        204
    );
}
