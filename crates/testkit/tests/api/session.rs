//! Signing in and out, timeouts, and what a failed sign-in reveals (nothing).

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_store::TenantStatus;
use skjold_testkit::spawn_app;

async fn try_sign_in(
    app: &skjold_testkit::TestApp,
    tenant: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.request(Method::POST, &format!("/{tenant}/api/v1/session"), None)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_returns_a_token_that_works_until_sign_out() {
    let app = spawn_app().await;
    let res = try_sign_in(&app, "demo", "admin", &app.admin_password).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    let token = body["token"].as_str().unwrap().to_string();
    assert!(token.len() >= 43, "token carries at least 256 bits");
    assert!(body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body["user"]["username"], "admin");
    assert_eq!(body["user"]["role"], "administrator");

    let me = app.get("/demo/api/v1/me", &token).await;
    assert_eq!(me.status(), 200);
    let res = app.delete("/demo/api/v1/session", &token).await;
    assert_eq!(res.status(), 204);
    let me = app.get("/demo/api/v1/me", &token).await;
    assert_eq!(me.status(), 401);
    assert!(me.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
}

#[tokio::test]
async fn the_token_is_stored_only_as_a_hash() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (_, db) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let hash = skjold_auth_hash(&token);
    assert!(db
        .session(&hash, Default::default())
        .await
        .unwrap()
        .is_some());
    assert!(db
        .session(&token, Default::default())
        .await
        .unwrap()
        .is_none());
}

fn skjold_auth_hash(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn failed_sign_ins_all_look_the_same() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // A disabled user.
    let res = app
        .post(
            "/demo/api/v1/users",
            &token,
            &json!({"username": "gone", "role": "user", "password": "a-long-enough-password"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{id}"),
            &token,
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let mut bodies = Vec::new();
    for (user, pw) in [
        ("admin", "wrong password here"),
        ("nobody", "wrong password here"),
        ("gone", "a-long-enough-password"),
        ("bad name with spaces", "x"),
    ] {
        let res = try_sign_in(&app, "demo", user, pw).await;
        assert_eq!(res.status(), 401, "{user}");
        let mut body: Value = res.json().await.unwrap();
        body.as_object_mut().unwrap().remove("request_id");
        bodies.push(body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:?}");
    assert_eq!(bodies[0]["detail"], "sign-in failed");
}

#[tokio::test]
async fn sessions_end_after_the_idle_and_the_absolute_timeout() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    // Idle: 30 minutes by default. Activity inside the window keeps it alive.
    app.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(20));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(31));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 401);

    // Absolute: 12 hours, however busy.
    let token = app.admin_token().await;
    // 24 × 29 min = 11 h 36 min: still inside the 12 hours.
    for _ in 0..24 {
        app.clock.advance(chrono::Duration::minutes(29));
        assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
    }
    app.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 401);
}

/// Sessions that end by their timeouts but are never presented again are deleted by the
/// daily `sessions.cleanup` job, each tenant by its own timeouts; live ones stay.
#[tokio::test]
async fn ended_sessions_never_presented_again_are_cleaned_up_daily() {
    let app = spawn_app().await;
    app.create_tenant("other").await;
    let demo = app.tenant_db("demo").await;
    let other = app.tenant_db("other").await;
    let count = |db: skjold_store::TenantDb| async move {
        let mut n = 0;
        for user in db.list_users().await.unwrap() {
            n += db.sessions_of(&user.id).await.unwrap().len();
        }
        n
    };
    // Two sessions left idle, one kept in use.
    app.admin_token().await;
    app.admin_token().await;
    let busy = app.admin_token().await;
    assert_eq!(count(demo.clone()).await, 3);
    assert_eq!(count(other.clone()).await, 1);
    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    scheduler.run_due(&app.state).await;
    assert_eq!(count(demo.clone()).await, 3, "nothing has ended yet");

    // 29 minutes later the busy one is used; a minute and a half later the others are
    // past the 30 idle minutes.
    app.clock.advance(chrono::Duration::minutes(29));
    assert_eq!(app.get("/demo/api/v1/me", &busy).await.status(), 200);
    app.clock.advance(chrono::Duration::seconds(90));
    let mut scheduler = skjold_server::jobs::Scheduler::standard();
    assert!(scheduler
        .run_due(&app.state)
        .await
        .contains(&"sessions.cleanup"));
    assert_eq!(
        count(demo.clone()).await,
        1,
        "only the busy session is left"
    );
    assert_eq!(count(other.clone()).await, 0, "every tenant is cleaned");
    assert_eq!(app.get("/demo/api/v1/me", &busy).await.status(), 200);
}

#[tokio::test]
async fn a_suspended_tenant_cannot_sign_in_or_use_its_sessions() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let slug = skjold_domain::TenantSlug::parse("demo").unwrap();
    app.state
        .tenants
        .catalog()
        .set_status(&slug, TenantStatus::Suspended)
        .await
        .unwrap();
    // The router reuses a catalog answer for two seconds.
    app.clock.advance(chrono::Duration::seconds(3));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 403);
    let res = try_sign_in(&app, "demo", "admin", &app.admin_password).await;
    assert_eq!(res.status(), 403);

    app.state
        .tenants
        .catalog()
        .set_status(&slug, TenantStatus::Active)
        .await
        .unwrap();
    app.clock.advance(chrono::Duration::seconds(3));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
}

#[tokio::test]
async fn disabling_a_user_ends_their_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let user_token = app.user_with_role("demo", "carl", Role::User).await;
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let carl = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "carl")
        .unwrap();
    let id = carl["id"].as_str().unwrap();
    assert_eq!(app.get("/demo/api/v1/me", &user_token).await.status(), 200);
    app.patch(
        &format!("/demo/api/v1/users/{id}"),
        &admin,
        &json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(app.get("/demo/api/v1/me", &user_token).await.status(), 401);
}

#[tokio::test]
async fn me_shows_and_updates_only_personal_details() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .patch("/demo/api/v1/me", &token, &json!({"display_name": " Ada Admin ", "email": "ada@example.com", "phone": "+47 22 00 00 00"}))
        .await;
    assert_eq!(res.status(), 200);
    let me: Value = res.json().await.unwrap();
    assert_eq!(me["display_name"], "Ada Admin");
    assert_eq!(me["email"], "ada@example.com");
    assert!(me["rights"]
        .as_array()
        .unwrap()
        .contains(&json!("users.manage")));

    let res = app
        .patch("/demo/api/v1/me", &token, &json!({"role": "read-only"}))
        .await;
    assert_eq!(res.status(), 422, "the role is not a personal detail");
    let res = app
        .patch(
            "/demo/api/v1/me",
            &token,
            &json!({"email": "not-an-address"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "email");

    let res = app
        .patch("/demo/api/v1/me", &token, &json!({"email": null}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["email"], Value::Null);
}
