//! Step-up and "end all access": what a stolen session can and cannot make of itself. The
//! actions that would outlive the session — minting an API token, adding an authenticator
//! or a passkey, new recovery codes, a new e-mail address — need the password (or the
//! authenticator's code) within the last 10 minutes; wrong answers count towards the
//! lockout; and an administrator's "end all access" takes the tokens as well as the
//! sessions.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn verify(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.post(
        "/demo/api/v1/session/verify",
        token,
        &json!({ "password": password }),
    )
    .await
}

fn new_token() -> Value {
    json!({"name": "ci", "scopes": ["companies:read"]})
}

async fn assert_step_up_required(res: reqwest::Response, what: &str) {
    let status = res.status();
    let problem = body(res).await;
    assert_eq!(status, 403, "{what}: {problem}");
    assert_eq!(
        problem["type"], "urn:skjold:problem:step-up-required",
        "{what}: {problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("/session/verify"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_session_needs_a_recent_password_to_make_lasting_access() {
    let app = spawn_app().await;
    let sara = app.user_with_role("demo", "sara", Role::User).await;
    let password = skjold_testkit::user_password("sara");

    // Just signed in: the sign-in is the check.
    let res = app
        .post("/demo/api/v1/me/tokens", &sara, &new_token())
        .await;
    assert_eq!(res.status(), 201);

    // Eleven minutes on (the session itself is alive: used within its idle timeout).
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(app.get("/demo/api/v1/me", &sara).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(app.get("/demo/api/v1/me", &sara).await.status(), 200);
    for (what, path) in [
        ("mint a token", "/demo/api/v1/me/tokens"),
        ("add an authenticator", "/demo/api/v1/me/totp"),
        ("add a passkey", "/demo/api/v1/me/passkeys/options"),
    ] {
        let body = if path.ends_with("tokens") {
            new_token()
        } else {
            json!({})
        };
        assert_step_up_required(app.post(path, &sara, &body).await, what).await;
    }
    assert_step_up_required(
        app.patch(
            "/demo/api/v1/me",
            &sara,
            &json!({"email": "sara@elsewhere.example"}),
        )
        .await,
        "change the e-mail address",
    )
    .await;
    // Other details need no step-up.
    let res = app
        .patch(
            "/demo/api/v1/me",
            &sara,
            &json!({"display_name": "Sara S."}),
        )
        .await;
    assert_eq!(res.status(), 200);

    // A wrong password confirms nothing.
    let res = verify(&app, &sara, "not-her-password").await;
    assert_eq!(res.status(), 403);
    assert_eq!(body(res).await["type"], "urn:skjold:problem:step-up-failed");
    assert_step_up_required(
        app.post("/demo/api/v1/me/tokens", &sara, &new_token())
            .await,
        "after a wrong password",
    )
    .await;
    // The right one does, for ten minutes.
    assert_eq!(verify(&app, &sara, &password).await.status(), 204);
    let res = app
        .post("/demo/api/v1/me/tokens", &sara, &new_token())
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .patch(
            "/demo/api/v1/me",
            &sara,
            &json!({"email": "sara@elsewhere.example"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.clock.advance(chrono::Duration::minutes(10));
    assert_step_up_required(
        app.post("/demo/api/v1/me/tokens", &sara, &new_token())
            .await,
        "ten minutes after the check",
    )
    .await;

    // The checks are recorded.
    let admin = app.admin_token().await;
    let events = body(
        app.get("/demo/api/v1/audit?event=auth.step_up", &admin)
            .await,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
}

#[tokio::test]
async fn guessing_through_the_step_up_locks_the_account() {
    let app = spawn_app().await;
    let tom = app.user_with_role("demo", "tom", Role::User).await;
    let password = skjold_testkit::user_password("tom");
    for i in 1..=4 {
        assert_eq!(verify(&app, &tom, "guess").await.status(), 403, "guess {i}");
    }
    // The fifth wrong guess locks, and then the right password does not confirm either.
    assert_eq!(verify(&app, &tom, "guess").await.status(), 429);
    assert_eq!(verify(&app, &tom, &password).await.status(), 429);
    let res = app
        .request(Method::POST, "/demo/api/v1/session", None)
        .json(&json!({"username": "tom", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 429);
}

#[tokio::test]
async fn ending_all_access_revokes_tokens_and_keeps_factors() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let vera = app.user_with_role("demo", "vera", Role::User).await;
    let res = app
        .post("/demo/api/v1/me/tokens", &vera, &new_token())
        .await;
    assert_eq!(res.status(), 201);
    let api_token = body(res).await["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/demo/api/v1/companies", &api_token).await.status(),
        200
    );

    let users = body(app.get("/demo/api/v1/users", &admin).await).await;
    let id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "vera")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .delete(&format!("/demo/api/v1/users/{id}/sessions"), &admin)
        .await;
    assert_eq!(res.status(), 200);
    let ended = body(res).await;
    assert_eq!(ended["ended"], 1, "{ended}");
    assert_eq!(ended["api_tokens_revoked"], 1, "{ended}");
    // Neither the session nor the token gets in any more.
    assert_eq!(app.get("/demo/api/v1/me", &vera).await.status(), 401);
    assert_eq!(
        app.get("/demo/api/v1/companies", &api_token).await.status(),
        401
    );
    // She signs in again with her password.
    app.sign_in("demo", "vera", &skjold_testkit::user_password("vera"))
        .await;
    // The event says what ended.
    let events = body(
        app.get("/demo/api/v1/audit?event=user.sessions_revoked", &admin)
            .await,
    )
    .await;
    let detail = &events["items"][0]["detail"];
    assert_eq!(detail["ended"], 1, "{events}");
    assert_eq!(detail["api_tokens"], 1, "{events}");
}
