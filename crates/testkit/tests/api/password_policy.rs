//! The tenant's password policy: each rule, where it applies, who may change it.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};

const POLICY: &str = "/demo/api/v1/settings/password-policy";

async fn create_user(
    app: &TestApp,
    token: &str,
    username: &str,
    password: &str,
) -> reqwest::Response {
    app.post(
        "/demo/api/v1/users",
        token,
        &json!({"username": username, "role": "user", "password": password}),
    )
    .await
}

/// The problem of a refused password, checked for its shape; answers the rule's id.
async fn refused_rule(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 422);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:skjold:problem:password-policy", "{body}");
    let rule = body["rule"].as_str().unwrap().to_string();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("rule '{rule}'")),
        "{body}"
    );
    assert_eq!(body["errors"][0]["field"], "password");
    rule
}

#[tokio::test]
async fn the_default_policy_follows_nist_and_names_each_refusal() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let policy: Value = app.get(POLICY, &admin).await.json().await.unwrap();
    assert_eq!(policy["min_length"], 12);
    assert_eq!(policy["max_length"], 256);
    assert_eq!(policy["require_symbol"], false);
    assert_eq!(policy["max_age_days"], Value::Null);
    assert_eq!(policy["lockout"]["max_failures"], 5);
    assert_eq!(policy["lockout"]["lock_minutes"], 15);

    let cases = [
        ("short-pw-1", "min_length"),
        ("password1234", "common"),
        ("PassWord1234", "common"),
        ("qwertyuiop123", "common"),
        ("ola.nordmann-rocks", "contains_username"),
        ("my-DEMO-password-x", "contains_tenant"),
    ];
    for (pw, rule) in cases {
        let res = create_user(&app, &admin, "ola.nordmann", pw).await;
        assert_eq!(refused_rule(res).await, rule, "{pw}");
    }
    let long = "x".repeat(257);
    assert_eq!(
        refused_rule(create_user(&app, &admin, "ola.nordmann", &long).await).await,
        "max_length"
    );
    // 128 characters and more are accepted (NIST: at least 64).
    let res = create_user(&app, &admin, "ola.nordmann", &"k7-".repeat(60)).await;
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn an_administrator_tightens_the_policy_and_every_path_applies_it() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .request(Method::PUT, POLICY, Some(&admin))
        .json(&json!({
            "min_length": 14, "require_uppercase": true, "require_digit": true,
            "require_symbol": true, "require_lowercase": true, "history": 3
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let policy: Value = res.json().await.unwrap();
    assert_eq!(policy["min_length"], 14);
    assert_eq!(
        policy["lockout"]["max_failures"], 5,
        "left out: the default"
    );
    let read: Value = app.get(POLICY, &admin).await.json().await.unwrap();
    assert_eq!(read, policy);

    for (pw, rule) in [
        ("Short-pw-123", "min_length"),
        ("ALL-UPPER-CASE-1", "lowercase"),
        ("all-lower-case-1", "uppercase"),
        ("No-Digits-At-All", "digit"),
        ("NoSymbolsAtAll12", "symbol"),
    ] {
        assert_eq!(
            refused_rule(create_user(&app, &admin, "siri", pw).await).await,
            rule
        );
    }
    let res = create_user(&app, &admin, "siri", "Fjord-Lantern-42x").await;
    assert_eq!(res.status(), 201);
    // A generated one-time password passes the policy too.
    let res = app
        .post(
            "/demo/api/v1/users",
            &admin,
            &json!({"username": "per", "role": "user"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let otp = res.json::<Value>().await.unwrap()["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(otp.chars().count() >= 20 && otp.contains('-'));

    // Self-service change: the policy and the history (the current and the last 2).
    let siri = app.sign_in("demo", "siri", "Fjord-Lantern-42x").await;
    let change = |current: &str, new: &str| {
        app.request(Method::PUT, "/demo/api/v1/me/password", Some(&siri))
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let res = change("wrong-current-password", "Brand-New-Pass-77")
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "current_password");
    assert_eq!(
        refused_rule(change("Fjord-Lantern-42x", "weak").await.unwrap()).await,
        "min_length"
    );
    assert_eq!(
        refused_rule(
            change("Fjord-Lantern-42x", "Fjord-Lantern-42x")
                .await
                .unwrap()
        )
        .await,
        "history"
    );
    let mut current = "Fjord-Lantern-42x".to_string();
    for next in ["Second-Lantern-42x", "Third-Lantern-42x"] {
        assert_eq!(change(&current, next).await.unwrap().status(), 204);
        current = next.to_string();
    }
    // The first is now three back: still remembered with history 3.
    assert_eq!(
        refused_rule(change(&current, "Fjord-Lantern-42x").await.unwrap()).await,
        "history"
    );
    assert_eq!(
        change(&current, "Fourth-Lantern-42x")
            .await
            .unwrap()
            .status(),
        204
    );
    // Four back now: allowed again.
    assert_eq!(
        change("Fourth-Lantern-42x", "Fjord-Lantern-42x")
            .await
            .unwrap()
            .status(),
        204
    );

    // An administrator's reset applies the policy and refuses with the rule named.
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let per = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "per")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/demo/api/v1/users/{per}/password");
    let res = app
        .post(&path, &admin, &json!({"password": "password"}))
        .await;
    assert_eq!(refused_rule(res).await, "min_length");
    let res = app
        .post(&path, &admin, &json!({"password": "Per-Gynt-Lantern-1"}))
        .await;
    assert_eq!(refused_rule(res).await, "contains_username");
    let res = app
        .post(&path, &admin, &json!({"password": "Peer-Gynt-Lantern-1"}))
        .await;
    assert_eq!(res.status(), 200);
    app.sign_in("demo", "per", "Peer-Gynt-Lantern-1").await;

    // The operator's path (what `skjold user add` calls) refuses with the rule named.
    let err = skjold_server::provision::add_user(
        &app.state.tenants,
        &app.state.audit,
        &skjold_domain::TenantSlug::parse("demo").unwrap(),
        skjold_domain::Username::parse("kari").unwrap(),
        Role::User.as_str(),
        "kari-is-my-name-1A!".into(),
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("rule 'contains_username'"),
        "{err}"
    );
}

#[tokio::test]
async fn the_policy_is_checked_audited_and_only_for_administrators() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let put = |token: &str, body: Value| {
        app.request(Method::PUT, POLICY, Some(token))
            .json(&body)
            .send()
    };
    let res = put(
        &admin,
        json!({"min_length": 7, "max_length": 100, "lockout": {"max_failures": 1}}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["min_length", "max_length", "lockout.max_failures"]);
    let res = put(&admin, json!({"min_lenght": 12})).await.unwrap();
    assert_eq!(res.status(), 422, "unknown fields are refused");

    let manager = app.user_with_role("demo", "mona", Role::Manager).await;
    assert_eq!(app.get(POLICY, &manager).await.status(), 403);
    assert_eq!(put(&manager, json!({})).await.unwrap().status(), 403);

    assert_eq!(
        put(&admin, json!({"min_length": 16}))
            .await
            .unwrap()
            .status(),
        200
    );
    let audit: Value = app
        .get(
            "/demo/api/v1/audit?event=settings.password_policy_changed",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let items = audit["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{audit}");
    assert_eq!(items[0]["detail"]["before"]["min_length"], 12);
    assert_eq!(items[0]["detail"]["after"]["min_length"], 16);
    assert_eq!(items[0]["username"], "admin");
}

#[tokio::test]
async fn a_new_tenant_refuses_a_weak_administrator_password() {
    let app = spawn_app().await;
    for (pw, rule) in [
        ("too-short", "min_length"),
        ("acme-is-great-2026", "contains_tenant"),
        ("administrator1", "common"),
    ] {
        let err = skjold_server::provision::create_tenant_with_admin(
            &app.state.tenants,
            &app.state.audit,
            skjold_domain::TenantSlug::parse("acme").unwrap(),
            "Acme",
            "boss",
            Some(pw.into()),
        )
        .await
        .unwrap_err();
        assert!(
            err.to_string().contains(&format!("rule '{rule}'")),
            "{pw}: {err}"
        );
    }
    // Nothing was created by the refusals.
    assert!(app
        .state
        .tenants
        .catalog()
        .get(&skjold_domain::TenantSlug::parse("acme").unwrap())
        .await
        .unwrap()
        .is_none());
}
