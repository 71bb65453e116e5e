//! Roles and rights: each route checks the right it needs.

use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::spawn_app;

#[tokio::test]
async fn a_read_only_user_reads_but_cannot_change_anything() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let reader = app.user_with_role("demo", "rita", Role::ReadOnly).await;
    let company: Value = app
        .post(
            "/demo/api/v1/companies",
            &admin,
            &json!({"name": "Visible"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let item = format!("/demo/api/v1/companies/{}", company["id"].as_str().unwrap());

    assert_eq!(app.get(&item, &reader).await.status(), 200);
    assert_eq!(
        app.get("/demo/api/v1/companies", &reader).await.status(),
        200
    );
    assert_eq!(
        app.get(&format!("{item}/history"), &reader).await.status(),
        200
    );
    let forbidden = [
        app.post("/demo/api/v1/companies", &reader, &json!({"name": "Nope"}))
            .await,
        app.patch(&item, &reader, &json!({"name": "Changed"})).await,
        app.delete(&item, &reader).await,
        app.get("/demo/api/v1/users", &reader).await,
        app.post(
            "/demo/api/v1/users",
            &reader,
            &json!({"username": "x", "role": "administrator"}),
        )
        .await,
    ];
    for res in forbidden {
        assert_eq!(res.status(), 403);
        let body: Value = res.json().await.unwrap();
        assert!(body["detail"].as_str().unwrap().contains("right"), "{body}");
    }
    let unchanged: Value = app.get(&item, &admin).await.json().await.unwrap();
    assert_eq!(unchanged["name"], "Visible");
}

#[tokio::test]
async fn users_write_but_do_not_delete_and_managers_do_not_manage_users() {
    let app = spawn_app().await;
    let user = app.user_with_role("demo", "ulf", Role::User).await;
    let manager = app.user_with_role("demo", "mia", Role::Manager).await;
    let company: Value = app
        .post("/demo/api/v1/companies", &user, &json!({"name": "Mine"}))
        .await
        .json()
        .await
        .unwrap();
    let item = format!("/demo/api/v1/companies/{}", company["id"].as_str().unwrap());
    assert_eq!(
        app.patch(&item, &user, &json!({"city": "Oslo"}))
            .await
            .status(),
        200
    );
    assert_eq!(app.delete(&item, &user).await.status(), 403);
    assert_eq!(app.get("/demo/api/v1/users", &manager).await.status(), 200);
    let res = app
        .post(
            "/demo/api/v1/users",
            &manager,
            &json!({"username": "x", "role": "user"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.delete(&item, &manager).await.status(), 204);
}
