//! A user's sessions: listing with device, address and times, revoking one, an
//! administrator ending all of a user's sessions, and the tenant's own timeouts.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};

async fn sign_in_as(app: &TestApp, username: &str, password: &str, agent: &str) -> String {
    let res = app
        .request(Method::POST, "/demo/api/v1/session", None)
        .header("user-agent", agent)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn my_sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get("/demo/api/v1/me/sessions", token).await;
    assert_eq!(res.status(), 200);
    res.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn users_list_and_revoke_their_own_sessions() {
    let app = spawn_app().await;
    // (This signs in once already: a third session, without a user agent.)
    app.user_with_role("demo", "eva", Role::User).await;
    let pw = skjold_testkit::user_password("eva");
    app.clock.advance(chrono::Duration::seconds(5));
    let laptop = sign_in_as(&app, "eva", &pw, "Laptop Firefox").await;
    app.clock.advance(chrono::Duration::seconds(5));
    let phone = sign_in_as(&app, "eva", &pw, "Phone Safari").await;
    let other = app.user_with_role("demo", "ola", Role::User).await;

    let list = my_sessions(&app, &laptop).await;
    assert_eq!(list.len(), 3, "{list:?}");
    assert_eq!(list[2]["user_agent"], Value::Null);
    assert_eq!(list[0]["user_agent"], "Phone Safari", "newest first");
    assert_eq!(list[0]["current"], false);
    assert_eq!(list[1]["user_agent"], "Laptop Firefox");
    assert_eq!(list[1]["current"], true);
    assert_eq!(list[1]["ip"], "127.0.0.1");
    for key in ["created_at", "last_seen_at", "expires_at"] {
        assert!(list[0][key].as_str().unwrap().ends_with('Z'));
    }
    let phone_id = list[0]["id"].as_str().unwrap().to_string();
    assert!(!phone.contains(&phone_id) && !list.iter().any(|s| s.to_string().contains(&phone)));

    // Another user cannot end eva's session; eva can.
    let path = format!("/demo/api/v1/me/sessions/{phone_id}");
    assert_eq!(app.delete(&path, &other).await.status(), 404);
    assert_eq!(app.get("/demo/api/v1/me", &phone).await.status(), 200);
    assert_eq!(app.delete(&path, &laptop).await.status(), 204);
    assert_eq!(app.get("/demo/api/v1/me", &phone).await.status(), 401);
    assert_eq!(app.delete(&path, &laptop).await.status(), 404);
    assert_eq!(my_sessions(&app, &laptop).await.len(), 2);

    // A password change ends the other sessions and keeps this one.
    let phone = sign_in_as(&app, "eva", &pw, "Phone Safari").await;
    let res = app
        .request(Method::PUT, "/demo/api/v1/me/password", Some(&laptop))
        .json(&json!({"current_password": pw, "new_password": "Granite-Meadow-512"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(app.get("/demo/api/v1/me", &phone).await.status(), 401);
    assert_eq!(app.get("/demo/api/v1/me", &laptop).await.status(), 200);
    let admin = app.admin_token().await;
    let audit: Value = app
        .get("/demo/api/v1/audit?event=auth.session_revoked", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["username"], "eva");
}

#[tokio::test]
async fn administrators_end_all_of_a_users_sessions() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let a = app.user_with_role("demo", "finn", Role::User).await;
    let b = app
        .sign_in("demo", "finn", &skjold_testkit::user_password("finn"))
        .await;
    let manager = app.user_with_role("demo", "mona", Role::Manager).await;
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let finn = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "finn")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/demo/api/v1/users/{finn}/sessions");
    assert_eq!(app.delete(&path, &manager).await.status(), 403);
    let res = app.delete(&path, &admin).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["ended"], 2);
    assert_eq!(app.get("/demo/api/v1/me", &a).await.status(), 401);
    assert_eq!(app.get("/demo/api/v1/me", &b).await.status(), 401);
    assert_eq!(app.get("/demo/api/v1/me", &admin).await.status(), 200);
    let audit: Value = app
        .get("/demo/api/v1/audit?event=user.sessions_revoked", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["detail"]["ended"], 2);
}

#[tokio::test]
async fn the_tenant_sets_its_own_session_timeouts() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let read: Value = app
        .get("/demo/api/v1/settings/sessions", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(read["idle_minutes"], Value::Null);
    assert_eq!(read["effective_idle_minutes"], 30);
    assert_eq!(read["effective_absolute_hours"], 12);
    let put = |body: Value| {
        app.request(Method::PUT, "/demo/api/v1/settings/sessions", Some(&admin))
            .json(&body)
            .send()
    };
    let res = put(json!({"idle_minutes": 0, "absolute_hours": 1000}))
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = put(json!({"idle_minutes": 5, "absolute_hours": 1}))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.unwrap()["effective_idle_minutes"],
        5
    );

    // Idle: 5 minutes now, for the live session too.
    app.clock.advance(chrono::Duration::minutes(4));
    assert_eq!(app.get("/demo/api/v1/me", &admin).await.status(), 200);
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(app.get("/demo/api/v1/me", &admin).await.status(), 401);
    // Absolute: 1 hour for a session started now, however busy.
    let token = app.admin_token().await;
    for _ in 0..14 {
        app.clock.advance(chrono::Duration::minutes(4));
        assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
    }
    app.clock.advance(chrono::Duration::minutes(4));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 401);
    let manager = app.user_with_role("demo", "mona", Role::Manager).await;
    assert_eq!(
        app.get("/demo/api/v1/settings/sessions", &manager)
            .await
            .status(),
        403
    );
}
