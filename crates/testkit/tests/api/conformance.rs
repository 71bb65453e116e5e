//! Regression tests for what schemathesis found the OpenAPI document getting wrong
//! (docs/security-testing.md, "Findings"): each checks the document against what the
//! server really does, so the two cannot drift apart again.

use serde_json::{json, Value};
use skjold_testkit::{spawn_app, TestApp};

async fn spec(app: &TestApp) -> Value {
    app.client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn operations(spec: &Value) -> Vec<(String, String, Value)> {
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            ops.push((method.clone(), path.clone(), op.clone()));
        }
    }
    ops
}

/// Errors are served as application/problem+json, so that is what the document must say
/// (utoipa wrote application/json for every `body = Problem`).
#[tokio::test]
async fn error_responses_are_documented_as_problem_json() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    for (method, path, op) in operations(&spec) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(content) = response["content"].as_object() else {
                continue;
            };
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    !content.contains_key("application/json"),
                    "{method} {path} {status} documents application/json for a problem"
                );
                assert!(
                    content.contains_key("application/problem+json"),
                    "{method} {path} {status}: {content:?}"
                );
            }
        }
    }
    // And the server does serve them so.
    let res = app
        .client
        .get(app.url("/demo/api/v1/companies"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "application/problem+json"
    );
}

/// Ids are UUIDs; the document said "string", so a client (or schemathesis) sending any
/// string got a 422 it could not have expected.
#[tokio::test]
async fn ids_in_paths_and_filters_are_documented_as_uuids() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let mut seen = 0;
    for (method, path, op) in operations(&spec) {
        for p in op["parameters"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap();
            if name == "id" || name.ends_with("_id") {
                seen += 1;
                // A UUID, or an id of another shape that says exactly what it accepts
                // (a session's id is 32 hexadecimal digits).
                let documented = p["schema"]["format"] == "uuid"
                    || p["schema"]["pattern"]
                        .as_str()
                        .is_some_and(|s| !s.is_empty());
                assert!(
                    documented,
                    "{method} {path}: parameter {name} is not documented as a uuid or by a pattern"
                );
            }
        }
    }
    assert!(seen >= 25, "only {seen} id parameters found");
    let token = app.admin_token().await;
    let res = app.get("/demo/api/v1/companies/not-a-uuid", &token).await;
    assert_eq!(res.status(), 422);
    let res = app
        .get("/demo/api/v1/persons?company_id=not-a-uuid", &token)
        .await;
    assert_eq!(res.status(), 422);
}

/// The required text fields must hold something that is not blank, and page sizes have
/// bounds; the document now says so, and the server holds to it.
#[tokio::test]
async fn required_text_and_page_sizes_are_bounded_in_the_document() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let schemas = &spec["components"]["schemas"];
    for (schema, field) in [
        ("CompanyInput", "name"),
        ("PersonInput", "last_name"),
        ("ActivityInput", "subject"),
        ("SaleInput", "title"),
    ] {
        let f = &schemas[schema]["properties"][field];
        assert_eq!(f["minLength"], 1, "{schema}.{field}: {f}");
        assert_eq!(f["maxLength"], 200, "{schema}.{field}: {f}");
        assert!(f["pattern"].is_string(), "{schema}.{field}: {f}");
    }
    let token = app.admin_token().await;
    for name in ["", "   "] {
        let res = app
            .post("/demo/api/v1/companies", &token, &json!({ "name": name }))
            .await;
        assert_eq!(res.status(), 422, "name {name:?}");
    }
    let long = "x".repeat(201);
    let res = app
        .post("/demo/api/v1/companies", &token, &json!({ "name": long }))
        .await;
    assert_eq!(res.status(), 422);

    let list = &spec["paths"]["/{tenant}/api/v1/companies"]["get"]["parameters"];
    let limit = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["schema"]["minimum"], 1);
    assert_eq!(limit["schema"]["maximum"], 200);
    for (limit, status) in [("0", 422), ("1", 200), ("200", 200), ("201", 422)] {
        let res = app
            .get(&format!("/demo/api/v1/companies?limit={limit}"), &token)
            .await;
        assert_eq!(res.status(), status, "limit={limit}");
    }
}

/// Each list documents only the filters it takes (one parameter list for all four made the
/// document offer `person_id` on companies, which the list refuses).
#[tokio::test]
async fn each_list_documents_only_its_own_filters() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let token = app.admin_token().await;
    for (list, filters) in [
        ("companies", vec!["owner_id"]),
        ("persons", vec!["company_id", "owner_id"]),
        (
            "activities",
            vec!["company_id", "person_id", "sale_id", "owner_id"],
        ),
        ("sales", vec!["company_id", "person_id", "owner_id"]),
    ] {
        let params = spec["paths"][format!("/{{tenant}}/api/v1/{list}")]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap().to_string())
            .filter(|n| n.ends_with("_id"))
            .collect::<Vec<_>>();
        assert_eq!(params, filters, "{list}");
        for filter in ["company_id", "person_id", "sale_id", "owner_id"] {
            let res = app
                .get(
                    &format!("/demo/api/v1/{list}?{filter}=01a2183a-2426-7e12-9624-6ce980294106"),
                    &token,
                )
                .await;
            let expected = if filters.contains(&filter) { 200 } else { 422 };
            assert_eq!(res.status(), expected, "{list}?{filter}");
        }
    }
}

/// A PATCH takes any subset of the fields: its documented body has no required field
/// (it was the create input's schema, which requires `name`, while the server accepts a
/// PATCH without it).
#[tokio::test]
async fn patch_bodies_document_a_partial_record() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let mut seen = 0;
    for (method, path, op) in operations(&spec) {
        if method != "patch" {
            continue;
        }
        let schema = &op["requestBody"]["content"]["application/json"]["schema"];
        let name = schema["$ref"]
            .as_str()
            .unwrap_or_else(|| panic!("{path}: {schema}"))
            .rsplit('/')
            .next()
            .unwrap();
        let component = &spec["components"]["schemas"][name];
        assert!(
            component["required"]
                .as_array()
                .is_none_or(|r| r.is_empty()),
            "PATCH {path} requires {}",
            component["required"]
        );
        seen += 1;
    }
    assert!(seen >= 6, "only {seen} PATCH operations");
    let token = app.admin_token().await;
    let created: Value = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &json!({"name": "Patch Co"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let res = app
        .request(
            reqwest::Method::PATCH,
            &format!("/demo/api/v1/companies/{id}"),
            Some(&token),
        )
        .json(&json!({"city": "Bodø"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

/// Every `$ref` in `value`, as the component name it points at.
fn references(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                out.push(target.clone());
            }
            map.values().for_each(|v| references(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, out)),
        _ => {}
    }
}

/// A reference to a schema the document does not hold makes the operation untestable
/// (schemathesis: "Unresolvable reference", `ExportFormat` of the audit export was one).
#[tokio::test]
async fn every_reference_in_the_document_resolves() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let mut refs = Vec::new();
    references(&spec, &mut refs);
    assert!(refs.len() > 20, "only {} references", refs.len());
    for target in refs {
        let pointer = target
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external reference {target}"));
        assert!(
            spec.pointer(pointer).is_some(),
            "{target} does not exist in the document"
        );
    }
}

/// Every JSON body goes through the same reader, which answers 400 (not JSON), 413 (too
/// large) and 415 (not sent as JSON); each operation with a body must say so
/// (`POST /me/totp/confirm` answered an undocumented 415).
#[tokio::test]
async fn operations_with_a_body_document_what_the_body_reader_answers() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let mut seen = 0;
    let mut missing = Vec::new();
    for (method, path, op) in operations(&spec) {
        if op.get("requestBody").is_none() {
            continue;
        }
        for status in ["400", "413", "415"] {
            if op["responses"].get(status).is_none() {
                missing.push(format!("{method} {path} {status}"));
            }
        }
        seen += 1;
    }
    assert!(seen >= 10, "only {seen} operations with a body");
    assert!(missing.is_empty(), "undocumented: {missing:#?}");
    // And the reader does answer 415 to a body that is not declared JSON.
    let token = app.admin_token().await;
    let res = app
        .request(
            reqwest::Method::POST,
            "/demo/api/v1/me/totp/confirm",
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 415);
}

/// Resolves `$ref` and merges `allOf` into the set of property names a response object
/// may hold, and whether others are allowed.
fn documented_properties(spec: &Value, schema: &Value) -> (Vec<String>, bool) {
    if let Some(target) = schema["$ref"].as_str() {
        return documented_properties(spec, spec.pointer(&target[1..]).unwrap());
    }
    let mut names: Vec<String> = schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let mut closed = schema["additionalProperties"] == json!(false);
    if let Some(parts) = schema["allOf"].as_array() {
        for part in parts {
            let (more, part_closed) = documented_properties(spec, part);
            names.extend(more);
            closed |= part_closed;
        }
    }
    (names, closed)
}

/// The session settings answer shows the timeouts in force beside the tenant's own
/// (`effective_*`); the document described only the latter, as a closed object.
#[tokio::test]
async fn session_settings_answer_matches_its_documented_shape() {
    let app = spawn_app().await;
    let spec = spec(&app).await;
    let token = app.admin_token().await;
    for method in ["get", "put"] {
        let op = &spec["paths"]["/{tenant}/api/v1/settings/sessions"][method];
        let schema = &op["responses"]["200"]["content"]["application/json"]["schema"];
        let (names, _) = documented_properties(&spec, schema);
        let res = if method == "get" {
            app.get("/demo/api/v1/settings/sessions", &token).await
        } else {
            app.request(
                reqwest::Method::PUT,
                "/demo/api/v1/settings/sessions",
                Some(&token),
            )
            .json(&json!({"idle_minutes": 20}))
            .send()
            .await
            .unwrap()
        };
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        for key in body.as_object().unwrap().keys() {
            assert!(
                names.contains(key),
                "{method}: '{key}' is answered but not documented ({names:?})"
            );
        }
        // Every part of a closed `allOf` rejects the others' fields, so a closed part
        // must not be combined with more properties.
        if let Some(parts) = schema["allOf"].as_array() {
            assert!(
                parts.len() < 2,
                "{method}: allOf of {} parts cannot validate",
                parts.len()
            );
        }
    }
}
