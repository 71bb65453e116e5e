//! API tokens: shown once, stored hashed, scoped, bounded by the user's rights, expiring,
//! revocable, with last use recorded.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};

async fn make_token(app: &TestApp, session: &str, body: Value) -> reqwest::Response {
    app.post("/demo/api/v1/me/tokens", session, &body).await
}

#[tokio::test]
async fn a_token_reaches_only_its_scopes_and_is_shown_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = make_token(
        &app,
        &admin,
        json!({"name": "CRM sync", "scopes": ["companies:read", "persons:write"]}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let created: Value = res.json().await.unwrap();
    let token = created["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("skjapi_") && token.len() > 40);
    assert_eq!(
        created["scopes"],
        json!(["companies:read", "persons:write"])
    );
    // Default expiry: 90 days from now.
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    let now = skjold_domain::Clock::now(&app.clock);
    // (Stored to the microsecond: allow for the truncation.)
    assert_eq!(((expires - now).num_seconds() + 1) / 86_400, 90);

    // Stored as a hash: the listing never shows it; the database does not hold it.
    let list = app
        .get("/demo/api/v1/me/tokens", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(list.contains("CRM sync") && !list.contains(&token));
    let (_, db) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(db.use_api_token(&token, "x").await.unwrap().is_none());

    // Scopes: companies read only, persons read and write, nothing else.
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    let res = app
        .post("/demo/api/v1/companies", &token, &json!({"name": "X"}))
        .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("companies:write"));
    let res = app
        .post(
            "/demo/api/v1/persons",
            &token,
            &json!({"last_name": "Via Token"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert_eq!(app.get("/demo/api/v1/persons", &token).await.status(), 200);
    assert_eq!(app.get("/demo/api/v1/sales", &token).await.status(), 403);
    assert_eq!(app.get("/demo/api/v1/users", &token).await.status(), 403);
    assert_eq!(app.get("/demo/api/v1/audit", &token).await.status(), 403);
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
    // A token cannot make tokens, see sessions or change the password.
    let res = make_token(
        &app,
        &token,
        json!({"name": "child", "scopes": ["all:write"]}),
    )
    .await;
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get("/demo/api/v1/me/tokens", &token).await.status(),
        403
    );
    assert_eq!(
        app.get("/demo/api/v1/me/sessions", &token).await.status(),
        403
    );

    // Last use: time and address.
    let list: Value = app
        .get("/demo/api/v1/me/tokens", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"][0]["last_used_ip"], "127.0.0.1");
    assert!(list["items"][0]["last_used_at"].as_str().is_some());

    // Revoked: stops at once.
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        app.delete(&format!("/demo/api/v1/me/tokens/{id}"), &admin)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        401
    );
    assert_eq!(
        app.delete(&format!("/demo/api/v1/me/tokens/{id}"), &admin)
            .await
            .status(),
        404
    );
    let audit: Value = app
        .get("/demo/api/v1/audit?event=api_token.created", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["detail"]["name"], "CRM sync");
    assert!(!audit.to_string().contains(&token));
}

#[tokio::test]
async fn a_token_never_exceeds_its_users_rights_and_expires() {
    let app = spawn_app().await;
    let reader = app.user_with_role("demo", "reader", Role::ReadOnly).await;
    let res = make_token(
        &app,
        &reader,
        json!({"name": "wide", "scopes": ["all:write"], "expires_at": null}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let token = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    // all:write, but a read-only user: no writes.
    let res = app
        .post("/demo/api/v1/companies", &token, &json!({"name": "X"}))
        .await;
    assert_eq!(res.status(), 403);
    assert_eq!(app.get("/demo/api/v1/users", &token).await.status(), 403);

    // An explicit expiry within the tenant's limit; after it, the token stops.
    let in_two_days = skjold_domain::clock::format_timestamp(
        skjold_domain::Clock::now(&app.clock) + chrono::Duration::days(2),
    );
    let res = make_token(
        &app,
        &reader,
        json!({"name": "short", "scopes": ["all:read"], "expires_at": in_two_days}),
    )
    .await;
    assert_eq!(res.status(), 201);
    let short = res.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // Keep the reader's session alive to read the list later.
    app.clock.advance(chrono::Duration::days(2));
    assert_eq!(
        app.get("/demo/api/v1/companies", &short).await.status(),
        401
    );
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );

    // Disabling the user stops their tokens.
    let admin = app.admin_token().await;
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "reader")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.patch(
        &format!("/demo/api/v1/users/{id}"),
        &admin,
        &json!({"status": "disabled"}),
    )
    .await;
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        401
    );
}

#[tokio::test]
async fn token_requests_are_checked_and_the_tenant_caps_the_lifetime() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (body, field) in [
        (json!({"name": "", "scopes": ["all:read"]}), "name"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (
            json!({"name": "x", "scopes": ["companies:delete"]}),
            "scopes[0]",
        ),
        (
            json!({"name": "x", "scopes": ["tokens:write"]}),
            "scopes[0]",
        ),
        (
            json!({"name": "x", "scopes": ["all:read"], "expires_at": "tomorrow"}),
            "expires_at",
        ),
        (
            json!({"name": "x", "scopes": ["all:read"], "expires_at": "2001-01-01T00:00:00Z"}),
            "expires_at",
        ),
    ] {
        let res = make_token(&app, &admin, body.clone()).await;
        assert_eq!(res.status(), 422, "{body}");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["errors"][0]["field"], field, "{body}");
    }
    let res = app
        .request(Method::PUT, "/demo/api/v1/settings/sessions", Some(&admin))
        .json(&json!({"token_max_days": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let in_31_days = skjold_domain::clock::format_timestamp(
        skjold_domain::Clock::now(&app.clock) + chrono::Duration::days(31),
    );
    let res = make_token(
        &app,
        &admin,
        json!({"name": "x", "scopes": ["all:read"], "expires_at": in_31_days}),
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("at most 30 days"));
    // Without an expiry: the default (90 days) capped to the tenant's 30.
    let res = make_token(&app, &admin, json!({"name": "x", "scopes": ["all:read"]})).await;
    let created: Value = res.json().await.unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(created["expires_at"].as_str().unwrap())
        .unwrap()
        .with_timezone(&chrono::Utc);
    assert_eq!(
        ((expires - skjold_domain::Clock::now(&app.clock)).num_seconds() + 1) / 86_400,
        30
    );
}
