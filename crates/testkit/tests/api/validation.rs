//! Bad input gets a 4xx problem+json that names the problem, and changes nothing.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_testkit::{spawn_app, spawn_app_with, TestApp};

async fn problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["request_id"].as_str().is_some());
    let text = body.to_string();
    for leak in ["sqlx", "panicked", "SQLITE", "postgres", "src/", "thread '"] {
        assert!(!text.contains(leak), "problem leaks internals: {text}");
    }
    body
}

async fn company_count(app: &TestApp, token: &str) -> usize {
    let list: Value = app
        .get("/demo/api/v1/companies?limit=200", token)
        .await
        .json()
        .await
        .unwrap();
    list["items"].as_array().unwrap().len()
}

fn raw(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: &'static str,
) -> reqwest::RequestBuilder {
    app.request(method, path, Some(token))
        .header("content-type", "application/json")
        .body(body)
}

#[tokio::test]
async fn malformed_bodies_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &json!({"name": "Keep Me"}),
        )
        .await;
    let id = res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let item = format!("/demo/api/v1/companies/{id}");

    // Not JSON at all.
    for body in ["{", "not json", "", "[1,2", "{\"name\": \"x\",}"] {
        let res = raw(&app, Method::POST, "/demo/api/v1/companies", &token, body)
            .send()
            .await
            .unwrap();
        let p = problem(res, 400).await;
        assert!(
            p["detail"].as_str().unwrap().contains("not valid JSON"),
            "{p}"
        );
    }
    let res = raw(&app, Method::PATCH, &item, &token, "{\"name\":")
        .send()
        .await
        .unwrap();
    problem(res, 400).await;

    // Wrong types, each named.
    let cases = [
        (json!({"name": 5}), "name"),
        (json!({"name": "x", "notes": ["a"]}), "notes"),
        (json!({"name": null}), "name"),
        (json!({}), "name"),
        (json!({"name": "x", "colour": "red"}), "colour"),
        (json!([{"name": "x"}]), "body"),
    ];
    for (body, field) in cases {
        let res = app.post("/demo/api/v1/companies", &token, &body).await;
        let p = problem(res, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    for (body, field) in [
        (json!({"name": 5}), "name"),
        (json!({"id": "01a2"}), "id"),
        (json!({"created_at": "2020-01-01T00:00:00Z"}), "created_at"),
        (json!({"name": ""}), "name"),
    ] {
        let res = app.patch(&item, &token, &body).await;
        let p = problem(res, 422).await;
        assert_eq!(p["errors"][0]["field"], field, "{body}: {p}");
    }
    let sale = json!({"title": "x", "probability": 101, "amount": "1.234", "currency": "euro", "expected_close": "31.12.2026"});
    let p = problem(app.post("/demo/api/v1/sales", &token, &sale).await, 422).await;
    let fields: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["amount", "currency", "probability", "expected_close"]
    );
    let p = problem(
        app.post(
            "/demo/api/v1/persons",
            &token,
            &json!({"last_name": "X", "emails": ["ok@example.com", "nope"]}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "emails[1]");
    let p = problem(
        app.post(
            "/demo/api/v1/activities",
            &token,
            &json!({"kind": "meeting", "subject": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "kind");

    // Wrong media type.
    let res = app
        .request(Method::POST, "/demo/api/v1/companies", Some(&token))
        .header("content-type", "text/plain")
        .body("{\"name\":\"x\"}")
        .send()
        .await
        .unwrap();
    problem(res, 415).await;

    assert_eq!(company_count(&app, &token).await, 1);
    let kept: Value = app.get(&item, &token).await.json().await.unwrap();
    assert_eq!(kept["name"], "Keep Me");
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = spawn_app_with(|c| c.max_body_bytes = 4096).await;
    let token = app.admin_token().await;
    let big = "x".repeat(10_000);
    let res = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &json!({"name": "big", "notes": big}),
        )
        .await;
    let p = problem(res, 413).await;
    assert!(p["detail"].as_str().unwrap().contains("4096"));
    assert_eq!(company_count(&app, &token).await, 0);
    // Field limits apply below the body limit.
    let res = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &json!({"name": "y".repeat(201)}),
        )
        .await;
    let p = problem(res, 422).await;
    assert_eq!(p["errors"][0]["field"], "name");
}

#[tokio::test]
async fn bad_ids_slugs_and_parameters_get_4xx() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for path in [
        "/demo/api/v1/companies/not-a-uuid",
        "/demo/api/v1/persons/1",
        "/demo/api/v1/sales/'%20OR%201=1--",
        "/demo/api/v1/activities/..%2F..%2Fetc/history",
    ] {
        let status = app.get(path, &token).await.status().as_u16();
        assert!((400..500).contains(&status), "{path}: {status}");
    }
    let p = problem(
        app.get("/demo/api/v1/companies/not-a-uuid", &token).await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "id");
    let p = problem(
        app.delete("/demo/api/v1/companies/not-a-uuid", &token)
            .await,
        422,
    )
    .await;
    assert_eq!(p["errors"][0]["field"], "id");

    for slug in [
        "Demo",
        "de_mo",
        "no-such-tenant",
        "a--b",
        "api",
        "x".repeat(40).as_str(),
    ] {
        let res = app.get(&format!("/{slug}/api/v1/companies"), &token).await;
        problem(res, 404).await;
    }

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("limit=abc", "limit"),
        ("cursor=garbage", "cursor"),
        ("bogus=1", "bogus"),
        ("company_id=nope", "company_id"),
    ] {
        let p = problem(
            app.get(&format!("/demo/api/v1/persons?{query}"), &token)
                .await,
            422,
        )
        .await;
        assert_eq!(p["errors"][0]["field"], field, "{query}: {p}");
    }
    let p = problem(
        app.get(
            "/demo/api/v1/companies?company_id=01a2a6d0-0000-7000-8000-000000000000",
            &token,
        )
        .await,
        422,
    )
    .await;
    assert_eq!(
        p["errors"][0]["field"], "company_id",
        "companies have no company filter"
    );
}

#[tokio::test]
async fn unauthenticated_and_forged_tokens_get_401() {
    let app = spawn_app().await;
    let cases: [Option<&str>; 4] = [None, Some("skj_forged"), Some(""), Some(&"a".repeat(5000))];
    for token in cases {
        let mut rb = app.client.get(app.url("/demo/api/v1/companies"));
        if let Some(t) = token {
            rb = rb.header("authorization", format!("Bearer {t}"));
        }
        problem(rb.send().await.unwrap(), 401).await;
    }
    let res = app
        .client
        .get(app.url("/demo/api/v1/companies"))
        .header("authorization", format!("Basic {}", "YWRtaW46eA=="))
        .send()
        .await
        .unwrap();
    problem(res, 401).await;
}
