use skjold_testkit::spawn_app;

fn assert_security_headers(h: &reqwest::header::HeaderMap, what: &str) {
    let hsts = h["strict-transport-security"].to_str().unwrap();
    assert!(hsts.contains("includeSubDomains"), "{what}");
    let max_age: u64 = hsts
        .split(';')
        .find_map(|p| p.trim().strip_prefix("max-age="))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        max_age >= 31_536_000,
        "{what}: HSTS max-age {max_age} under a year"
    );
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"),
        "{what}"
    );
    assert_eq!(h["x-content-type-options"], "nosniff", "{what}");
    assert!(h.contains_key("referrer-policy"), "{what}");
    assert_eq!(h["x-request-id"].to_str().unwrap().len(), 32, "{what}");
}

#[tokio::test]
async fn healthz_and_readyz_answer_without_auth() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        assert_security_headers(res.headers(), path);
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], "ok");
    }
}

#[tokio::test]
async fn every_kind_of_response_carries_the_security_headers() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let cases = [
        (app.client.get(app.url("/nowhere")), "404"),
        (app.client.get(app.url("/demo/api/v1/companies")), "401"),
        (app.client.put(app.url("/healthz")), "405"),
        (
            app.client
                .get(app.url("/demo/api/v1/companies"))
                .bearer_auth(&token),
            "200",
        ),
        (app.client.get(app.url("/api/openapi.json")), "openapi"),
    ];
    for (rb, what) in cases {
        let res = rb.send().await.unwrap();
        assert_security_headers(res.headers(), what);
    }
}

#[tokio::test]
async fn client_sent_request_ids_are_replaced() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "attacker-chosen")
        .send()
        .await
        .unwrap();
    assert_ne!(res.headers()["x-request-id"], "attacker-chosen");
}

#[tokio::test]
async fn unknown_routes_and_methods_get_problem_json() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/no/such/thing"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app.client.put(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 405);
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], 405);
    assert_eq!(body["request_id"].as_str().unwrap().len(), 32);
}
