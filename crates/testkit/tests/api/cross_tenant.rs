//! The cross-tenant matrix, generated from the route table (the OpenAPI document, which
//! `utoipa_axum::routes!` builds from the same handlers the router serves): a route added
//! tomorrow is covered without editing this file — or the test fails and says what sample
//! it lacks.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_testkit::{spawn_app_with, TestApp};
use std::collections::BTreeMap;

struct Tenant {
    slug: &'static str,
    token: String,
    password: String,
    /// resource segment → a record id of that resource in this tenant
    ids: BTreeMap<&'static str, String>,
    /// The id of the token's session (`/me/sessions/{id}`).
    session: String,
    /// Every value of this tenant's data that must never appear in another tenant's answers.
    secrets: Vec<String>,
}

async fn seed(app: &TestApp, slug: &'static str, token: String, password: String) -> Tenant {
    let base = format!("/{slug}/api/v1");
    let tag = format!("{slug}-secret");
    let post = |path: &str, body: Value| {
        let url = format!("{base}/{path}");
        let token = token.clone();
        async move {
            let res = app.post(&url, &token, &body).await;
            assert_eq!(res.status(), 201, "{url}");
            res.json::<Value>().await.unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let company = post("companies", json!({"name": format!("{tag} company")})).await;
    let person = post(
        "persons",
        json!({"last_name": format!("{tag} person"), "company_id": company}),
    )
    .await;
    let sale = post(
        "sales",
        json!({"title": format!("{tag} sale"), "company_id": company, "person_id": person}),
    )
    .await;
    let activity = post(
        "activities",
        json!({"kind": "note", "subject": format!("{tag} activity"), "sale_id": sale}),
    )
    .await;
    let res = app
        .post(
            &format!("{base}/users"),
            &token,
            &json!({"username": format!("{slug}-user"), "role": "user"}),
        )
        .await;
    let user = res.json::<Value>().await.unwrap()["user"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let role = post(
        "roles",
        json!({"name": format!("{tag} role"), "rights": ["companies.read"], "visibility": "own"}),
    )
    .await;
    let team = post("teams", json!({"name": format!("{tag} team")})).await;
    let res = app
        .post(
            &format!("{base}/teams/{team}/members"),
            &token,
            &json!({"user_id": user}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let hook = format!("https://hooks.example.com/{tag}");
    let subscription = post(
        "status-subscriptions",
        json!({"kind": "webhook", "target": hook}),
    )
    .await;
    let provider = post(
        "identity-providers",
        json!({"kind": "oidc", "name": format!("{tag} idp"), "client_id": format!("{tag}-client"),
               "client_secret": format!("{tag}-client-secret"), "issuer": format!("https://idp.example.com/{slug}")}),
    )
    .await;
    let mut ids = BTreeMap::new();
    ids.insert("status-subscriptions", subscription.clone());
    ids.insert("identity-providers", provider.clone());
    ids.insert("roles", role.clone());
    ids.insert("teams", team.clone());
    ids.insert("companies", company.clone());
    ids.insert("persons", person.clone());
    ids.insert("sales", sale.clone());
    ids.insert("activities", activity.clone());
    ids.insert("users", user.clone());
    // A restore job id (`/backup/restores/{id}`): the matrix runs with backups off, so one
    // this tenant never started; tests/api/backup.rs polls a real one across tenants.
    ids.insert(
        "backup",
        format!(
            "{:032x}",
            u128::from_le_bytes(*b"restore-of-matrx") ^ slug.len() as u128
        ),
    );
    // The id of this token's own session, for `/me/sessions/{id}`.
    let sessions: Value = app
        .get(&format!("{base}/me/sessions"), &token)
        .await
        .json()
        .await
        .unwrap();
    let session = sessions["items"][0]["id"].as_str().unwrap().to_string();
    let secrets = vec![
        tag,
        company,
        person,
        sale,
        activity,
        user,
        role,
        team,
        subscription,
        provider,
    ];
    Tenant {
        slug,
        token,
        password,
        ids,
        session,
        secrets,
    }
}

/// A valid body for each route that takes one.
fn sample_body(template: &str, resource: &str, method: &Method, owner: &Tenant) -> Value {
    if template.ends_with("/password") {
        // A reset without a password: the server makes one.
        return json!({});
    }
    if template.ends_with("/require-two-factor") {
        return json!({"required": true});
    }
    if template.ends_with("/session/passkey") {
        // A ceremony token nobody was given.
        return json!({"ceremony": "skj_unknown", "credential": {}});
    }
    if template.contains("/me/passkeys/") {
        return json!({"name": "Matrix"});
    }
    if template.ends_with("/invite") {
        return json!({});
    }
    if template.ends_with("/invites/accept") {
        // An invitation token nobody was given.
        return json!({"token": "skj_unknown", "password": "a matrix of quiet meadows"});
    }
    if template.ends_with("/tokens") {
        return json!({"name": "Matrix", "scopes": ["all:read"]});
    }
    match (resource, method.as_str()) {
        ("companies", _) => json!({"name": "Matrix Co"}),
        ("persons", _) => json!({"last_name": "Matrix"}),
        ("activities", _) => json!({"kind": "note", "subject": "Matrix"}),
        ("sales", _) => json!({"title": "Matrix"}),
        ("users", "POST") => json!({"username": "matrix-user", "role": "user"}),
        ("users", _) => json!({"display_name": "Matrix"}),
        ("roles", "POST") => json!({"name": "Matrix", "rights": [], "visibility": "own"}),
        ("roles", _) => json!({"name": "Matrix"}),
        ("teams", "POST") if template.ends_with("/members") => {
            json!({"user_id": owner.ids["users"]})
        }
        ("teams", "POST") => json!({"name": "Matrix"}),
        ("teams", _) => json!({"name": "Matrix"}),
        ("me", _) => json!({"display_name": "Matrix"}),
        ("session", _) => json!({"username": "admin", "password": owner.password}),
        ("backup", "POST") => json!({"at": "2026-01-01T00:00:00Z"}),
        ("status-subscriptions", "POST") => {
            json!({"kind": "webhook", "target": "https://hooks.example.com/matrix"})
        }
        ("identity-providers", "POST") => json!({"kind": "oidc", "name": "Matrix IdP",
            "client_id": "matrix", "client_secret": "matrix-secret",
            "issuer": "https://idp.example.com/matrix"}),
        ("identity-providers", _) => json!({"name": "Matrix IdP"}),
        (other, m) => panic!("the cross-tenant matrix has no sample body for {m} {other}: add one"),
    }
}

struct Operation {
    method: Method,
    template: String,
}

async fn tenant_operations(app: &TestApp) -> Vec<Operation> {
    let spec: Value = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.starts_with("/{tenant}/") {
            continue;
        }
        for method in item.as_object().unwrap().keys() {
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            ops.push(Operation {
                method,
                template: path.clone(),
            });
        }
    }
    ops
}

fn fill(template: &str, tenant: &str, id_source: &Tenant) -> (String, &'static str) {
    let rest = template.trim_start_matches("/{tenant}/api/v1/");
    let resource = rest.split('/').next().unwrap();
    let resource: &'static str = Box::leak(resource.to_string().into_boxed_str());
    let mut path = template.replace("{tenant}", tenant);
    if path.contains("{id}") {
        let id = if resource == "me" {
            &id_source.session
        } else {
            id_source.ids.get(resource).unwrap_or_else(|| {
                panic!("the cross-tenant matrix has no sample record for {resource}: add one")
            })
        };
        path = path.replace("{id}", id);
    }
    if path.contains("{provider_id}") {
        path = path.replace("{provider_id}", &id_source.ids["identity-providers"]);
    }
    if path.contains("{user_id}") {
        path = path.replace("{user_id}", &id_source.ids["users"]);
    }
    if path.contains("{token_id}") {
        // No token of anyone's: the user in the path decides the answer first.
        path = path.replace("{token_id}", "00000000-0000-4000-8000-000000000000");
    }
    (path, resource)
}

async fn send(
    app: &TestApp,
    op: &Operation,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, String) {
    let mut rb = app.request(op.method.clone(), path, Some(token));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let res = rb.send().await.unwrap();
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn no_route_lets_one_tenant_reach_another() {
    // Every route with a token the other tenant does not know is, to that tenant, an
    // unauthenticated request: well over one address's budget for those (audit_guard,
    // tested in audit_flood.rs). Raised here so each route's own answer is what is checked.
    let app = spawn_app_with(|c| c.audit_unauthenticated_burst = 100_000).await;
    let a_token = app.admin_token().await;
    let a = seed(&app, "demo", a_token, app.admin_password.clone()).await;
    let b_token = app.create_tenant("other").await;
    let b = seed(
        &app,
        "other",
        b_token,
        skjold_testkit::tenant_admin_password("other"),
    )
    .await;

    let ops = tenant_operations(&app).await;
    assert!(
        ops.len() >= 30,
        "the route table looks too small: {} operations",
        ops.len()
    );

    for op in &ops {
        // 1. A's token on B's routes, with B's real ids: B does not know the token.
        let (path, resource) = fill(&op.template, b.slug, &b);
        let body = matches!(op.method, Method::POST | Method::PATCH)
            .then(|| sample_body(&op.template, resource, &op.method, &a));
        let (status, text) = send(&app, op, &path, &a.token, body).await;
        // Accepting an invitation is public and ignores a bearer token: to B, A's request
        // is an invitation it never made.
        let expected = if op.template.ends_with("/invites/accept") {
            404
        } else {
            401
        };
        assert_eq!(
            status, expected,
            "{} {path} with tenant A's token: {text}",
            op.method
        );
        for secret in b.secrets.iter().chain(a.secrets.iter()) {
            if path.contains(secret.as_str()) {
                continue;
            }
            assert!(
                !text.contains(secret.as_str()),
                "{} {path} leaked {secret}",
                op.method
            );
        }

        // 2. B's own token on B's routes, with A's ids: as if the record did not exist.
        if op.template.contains("{id}") {
            let (path, resource) = fill(&op.template, b.slug, &a);
            let body = matches!(op.method, Method::POST | Method::PATCH)
                .then(|| sample_body(&op.template, resource, &op.method, &b));
            let (status, text) = send(&app, op, &path, &b.token, body).await;
            assert_eq!(
                status, 404,
                "{} {path}: tenant A's id reached through tenant B: {text}",
                op.method
            );
            for secret in &a.secrets {
                if !path.contains(secret.as_str()) {
                    assert!(
                        !text.contains(secret.as_str()),
                        "{} {path} leaked {secret}",
                        op.method
                    );
                }
            }
        }
    }

    // 3. Links cannot point into another tenant.
    for (resource, body) in [
        (
            "persons",
            json!({"last_name": "X", "company_id": a.ids["companies"]}),
        ),
        (
            "sales",
            json!({"title": "X", "person_id": a.ids["persons"]}),
        ),
        (
            "activities",
            json!({"kind": "note", "subject": "X", "sale_id": a.ids["sales"], "owner_id": a.ids["users"]}),
        ),
    ] {
        let res = app
            .post(&format!("/other/api/v1/{resource}"), &b.token, &body)
            .await;
        assert_eq!(res.status(), 422, "{resource} linked across tenants");
    }
    let filtered: Value = app
        .get(
            &format!("/other/api/v1/persons?company_id={}", a.ids["companies"]),
            &b.token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(filtered["items"].as_array().unwrap().is_empty());
    let searched = app
        .get("/other/api/v1/companies?q=demo", &b.token)
        .await
        .text()
        .await
        .unwrap();
    assert!(!searched.contains("demo-secret"));
    let searched = app
        .get("/other/api/v1/search?q=demo", &b.token)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        searched, r#"{"groups":[]}"#,
        "tenant B's search finds A's records"
    );

    // 4. A's data is untouched by everything above.
    // (The restore job id is no record: there is nothing to read back.)
    for (resource, id) in a.ids.iter().filter(|(r, _)| **r != "backup") {
        let path = format!("/demo/api/v1/{resource}/{id}");
        let res = app.get(&path, &a.token).await;
        assert_eq!(res.status(), 200, "{path} after the matrix");
        let record: Value = res.json().await.unwrap();
        let text = record.to_string();
        assert!(
            !text.contains("Matrix"),
            "{path} was changed through another tenant: {text}"
        );
    }
}
