//! The OpenAPI document describes every route properly.

use serde_json::Value;
use skjold_testkit::spawn_app;

#[tokio::test]
async fn every_operation_is_documented() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let spec: Value = res.json().await.unwrap();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3.1"));
    let mut count = 0;
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            count += 1;
            let what = format!("{method} {path}");
            assert!(
                op["summary"].as_str().is_some_and(|s| !s.is_empty()),
                "{what} has no summary"
            );
            assert!(
                op["operationId"].as_str().is_some(),
                "{what} has no operationId"
            );
            assert!(
                !op["tags"].as_array().map(Vec::is_empty).unwrap_or(true),
                "{what} has no tag"
            );
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{what} documents no response");
            for status in responses.keys() {
                assert!(
                    responses[status]["description"]
                        .as_str()
                        .is_some_and(|d| !d.is_empty()),
                    "{what} {status}"
                );
            }
            // Every {param} of the path is declared.
            let declared: Vec<&str> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .filter(|p| p["in"] == "path")
                        .map(|p| p["name"].as_str().unwrap())
                        .collect()
                })
                .unwrap_or_default();
            for segment in path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert!(
                        declared.contains(&name),
                        "{what} does not declare {{{name}}}"
                    );
                }
            }
            let public = path == "/healthz"
                || path == "/readyz"
                || (path.ends_with("/session") && method == "post")
                // Signing in with a passkey, like with a password, needs no token.
                || (path.ends_with("/session/passkey/options") && method == "post")
                || (path.ends_with("/session/passkey") && method == "post")
                // The invitation link is the credential.
                || (path.ends_with("/invites/accept") && method == "post");
            if !public {
                assert!(
                    op["security"].is_array(),
                    "{what} does not say it needs a bearer token"
                );
                assert!(
                    responses.contains_key("401"),
                    "{what} does not document 401"
                );
            }
        }
    }
    assert!(count >= 30, "only {count} operations documented");
}
