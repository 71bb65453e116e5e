//! Exporting CRM records (`GET /{tenant}/api/v1/{type}/export`): the `export` right and the
//! type's read right, every page of what the reader may see, the list's filters, CSV that a
//! spreadsheet will not run, and the export recorded in the audit trail.

use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use serde_json::{json, Value};
use skjold_domain::crm::{Company, CompanyInput};
use skjold_domain::Role;
use skjold_store::{Actor, Sight};
use skjold_testkit::{spawn_app, TestApp};

async fn export(app: &TestApp, token: &str, path: &str) -> reqwest::Response {
    app.get(path, token).await
}

fn csv_rows(text: &str) -> (Vec<String>, Vec<csv::StringRecord>) {
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader.records().map(Result::unwrap).collect();
    (header, rows)
}

async fn audit_search(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let res = app.get(&format!("/demo/api/v1/audit?{query}"), token).await;
    assert_eq!(res.status(), 200, "{query}");
    res.json::<Value>().await.unwrap()["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn my_id(app: &TestApp, token: &str) -> String {
    app.get("/demo/api/v1/me", token)
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Companies straight through the store, many at once (an export spans several pages).
async fn companies(app: &TestApp, owner: &str, names: impl Iterator<Item = String>) {
    let db = app.tenant_db("demo").await;
    let inputs = names
        .map(|name| CompanyInput {
            name,
            owner_id: Some(owner.to_string()),
            ..Default::default()
        })
        .collect();
    db.create_many::<Company>(
        &Sight::everything(),
        &Actor::System { what: "test" },
        inputs,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn an_export_needs_the_export_right_and_the_types_read_right() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // The built-in user role reads and writes records but does not export them.
    let user = app.user_with_role("demo", "uwe", Role::User).await;
    let res = export(&app, &user, "/demo/api/v1/companies/export?format=csv").await;
    assert_eq!(res.status(), 403);
    let problem: Value = res.json().await.unwrap();
    assert!(
        problem["detail"].as_str().unwrap().contains("'export'"),
        "{problem}"
    );

    // Export without reading persons exports companies only.
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "Exporter", "rights": ["companies.read", "export"], "visibility": "all"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let exporter = app.user_with_role_named("demo", "erik", "Exporter").await;
    assert_eq!(
        export(&app, &exporter, "/demo/api/v1/companies/export?format=csv")
            .await
            .status(),
        200
    );
    let res = export(&app, &exporter, "/demo/api/v1/persons/export?format=csv").await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("persons.read"));

    // Without a token, nothing; another tenant's token, nothing.
    let res = app
        .request(
            reqwest::Method::GET,
            "/demo/api/v1/companies/export?format=csv",
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let other = app.create_tenant("other").await;
    assert_eq!(
        export(&app, &other, "/demo/api/v1/companies/export?format=csv")
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn an_export_holds_every_page_of_what_the_reader_may_see() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({
                "name": "Own exporter",
                "rights": ["companies.read", "companies.write", "export"],
                "visibility": "own",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let seller = app
        .user_with_role_named("demo", "sina", "Own exporter")
        .await;
    let sina = my_id(&app, &seller).await;
    let admin_id = my_id(&app, &admin).await;
    // More than two pages of the store's 200.
    companies(&app, &sina, (0..450).map(|i| format!("Sina {i:03}"))).await;
    companies(&app, &admin_id, (0..30).map(|i| format!("Hidden {i:02}"))).await;
    let res = app
        .post(
            "/demo/api/v1/companies",
            &seller,
            &json!({"name": "=HYPERLINK(\"https://evil.example\")", "city": "Oslo, Norway"}),
        )
        .await;
    assert_eq!(res.status(), 201);

    let res = export(&app, &seller, "/demo/api/v1/companies/export?format=csv").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = res.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"companies-demo-")
            && disposition.ends_with(".csv\""),
        "{disposition}"
    );
    let (header, rows) = csv_rows(&res.text().await.unwrap());
    assert_eq!(header.first().map(String::as_str), Some("id"));
    assert!(header.contains(&"owner_id".to_string()) && header.contains(&"city".to_string()));
    assert_eq!(rows.len(), 451, "every page, and only her own companies");
    let name = header.iter().position(|h| h == "name").unwrap();
    let city = header.iter().position(|h| h == "city").unwrap();
    assert!(rows.iter().all(|r| !r[name].starts_with("Hidden")));
    let formula = rows.iter().find(|r| r[name].contains("HYPERLINK")).unwrap();
    assert_eq!(&formula[name], "'=HYPERLINK(\"https://evil.example\")");
    assert_eq!(&formula[city], "Oslo, Norway");
    // In the list's order: by name.
    let names: Vec<&str> = rows.iter().map(|r| &r[name]).collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    assert_eq!(names, sorted);

    // JSON lines: each line the record as the API returns it.
    let res = export(
        &app,
        &seller,
        "/demo/api/v1/companies/export?format=jsonl&q=sina%2000",
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "application/x-ndjson");
    let text = res.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 10, "Sina 000 … Sina 009");
    let id = lines[0]["id"].as_str().unwrap();
    let one: Value = app
        .get(&format!("/demo/api/v1/companies/{id}"), &seller)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(lines[0], one);

    // The administrator sees everything; the owner filter narrows it.
    let res = export(
        &app,
        &admin,
        &format!("/demo/api/v1/companies/export?format=csv&owner_id={admin_id}"),
    )
    .await;
    assert_eq!(csv_rows(&res.text().await.unwrap()).1.len(), 30);
    let res = export(
        &app,
        &admin,
        "/demo/api/v1/companies/export?format=csv&sort=-created",
    )
    .await;
    assert_eq!(csv_rows(&res.text().await.unwrap()).1.len(), 481);

    // An empty result is a header only.
    let res = export(
        &app,
        &seller,
        "/demo/api/v1/companies/export?format=csv&q=nothing",
    )
    .await;
    assert_eq!(res.status(), 200);
    let (header, rows) = csv_rows(&res.text().await.unwrap());
    assert_eq!(header.first().map(String::as_str), Some("id"));
    assert!(rows.is_empty());
}

#[tokio::test]
async fn bad_export_requests_are_refused_before_anything_is_sent_and_exports_are_recorded() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (query, field) in [
        ("", "format"),
        ("format=xml", "format"),
        ("format=csv&owner_id=not-a-uuid", "owner_id"),
        ("format=csv&sort=colour", "sort"),
        ("format=csv&q=a&sort=-name", "sort"),
        ("format=csv&limit=5", "limit"),
        (
            "format=csv&person_id=0b0d8a3e-8f0e-4b57-9a43-111111111111",
            "person_id",
        ),
    ] {
        let res = export(
            &app,
            &admin,
            &format!("/demo/api/v1/companies/export?{query}"),
        )
        .await;
        assert_eq!(res.status(), 422, "{query}");
        let text = res.text().await.unwrap();
        assert!(text.contains(field), "{query}: {text}");
    }
    assert!(audit_search(&app, &admin, "event=records.exported")
        .await
        .is_empty());

    let res = export(
        &app,
        &admin,
        "/demo/api/v1/persons/export?format=jsonl&q=berg",
    )
    .await;
    assert_eq!(res.status(), 200);
    let events = audit_search(&app, &admin, "event=records.exported").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["username"], "admin");
    assert_eq!(events[0]["detail"]["type"], "persons");
    assert_eq!(events[0]["detail"]["format"], "jsonl");
    assert_eq!(events[0]["detail"]["q"], "berg");
}

#[tokio::test]
async fn an_api_token_exports_within_its_scopes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let mut tokens = Vec::new();
    for scopes in [json!(["companies:read"]), json!(["persons:read"])] {
        let res = app
            .post(
                "/demo/api/v1/me/tokens",
                &admin,
                &json!({"name": "export", "scopes": scopes}),
            )
            .await;
        assert_eq!(res.status(), 201);
        tokens.push(
            res.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let path = "/demo/api/v1/companies/export?format=csv";
    assert_eq!(export(&app, &tokens[0], path).await.status(), 200);
    assert_eq!(export(&app, &tokens[1], path).await.status(), 403);
}
