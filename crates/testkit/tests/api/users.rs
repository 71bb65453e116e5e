//! Administrators manage the tenant's users.

use serde_json::{json, Value};
use skjold_testkit::spawn_app;

#[tokio::test]
async fn an_administrator_creates_a_user_who_then_signs_in() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post("/demo/api/v1/users", &admin, &json!({"username": "Siri.Hansen", "role": "user", "display_name": "Siri Hansen", "email": "siri@example.com"}))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["user"]["username"], "siri.hansen",
        "usernames are case-insensitive"
    );
    let password = body["one_time_password"].as_str().unwrap();
    assert!(password.len() >= 16);
    let token = app.sign_in("demo", "SIRI.HANSEN", password).await;
    let me: Value = app
        .get("/demo/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "user");

    // The same username again is a conflict.
    let res = app
        .post(
            "/demo/api/v1/users",
            &admin,
            &json!({"username": "siri.hansen", "role": "user"}),
        )
        .await;
    assert_eq!(res.status(), 409);
    // A chosen password must be long enough.
    let res = app
        .post(
            "/demo/api/v1/users",
            &admin,
            &json!({"username": "short", "role": "user", "password": "short"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/demo/api/v1/users",
            &admin,
            &json!({"username": "r", "role": "root"}),
        )
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn the_last_administrator_cannot_be_demoted_or_disabled() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let me: Value = app
        .get("/demo/api/v1/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    let path = format!("/demo/api/v1/users/{}", me["id"].as_str().unwrap());
    for change in [json!({"role": "user"}), json!({"status": "disabled"})] {
        let res = app.patch(&path, &admin, &change).await;
        assert_eq!(res.status(), 409, "{change}");
    }
    // With a second administrator it is allowed.
    app.post(
        "/demo/api/v1/users",
        &admin,
        &json!({"username": "second", "role": "administrator"}),
    )
    .await;
    let res = app.patch(&path, &admin, &json!({"role": "manager"})).await;
    assert_eq!(res.status(), 200);
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 2);
}
