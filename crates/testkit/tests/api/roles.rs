//! Custom roles, teams and record visibility: what a role lets its holders do, which records
//! they see (own, team, all), and that nobody hands out more than they hold.

use serde_json::{json, Value};
use skjold_testkit::{spawn_app, TestApp};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn create_role(app: &TestApp, token: &str, name: &str, rights: &[&str], vis: &str) -> Value {
    let res = app
        .post(
            "/demo/api/v1/roles",
            token,
            &json!({"name": name, "rights": rights, "visibility": vis}),
        )
        .await;
    assert_eq!(res.status(), 201, "{name}");
    body(res).await
}

async fn company(app: &TestApp, token: &str, name: &str) -> String {
    let res = app
        .post("/demo/api/v1/companies", token, &json!({"name": name}))
        .await;
    assert_eq!(res.status(), 201, "{name}");
    body(res).await["id"].as_str().unwrap().to_string()
}

async fn me(app: &TestApp, token: &str) -> Value {
    body(app.get("/demo/api/v1/me", token).await).await
}

async fn names(app: &TestApp, token: &str, path: &str) -> Vec<String> {
    let res = app.get(path, token).await;
    assert_eq!(res.status(), 200, "{path}");
    let mut v: Vec<String> = body(res).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn roles_are_listed_created_changed_and_deleted_with_their_rules() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let roles = body(app.get("/demo/api/v1/roles", &admin).await).await;
    let builtin: Vec<&str> = roles["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["builtin"] == true)
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(builtin.len(), 4, "{roles}");
    assert!(builtin.contains(&"administrator") && builtin.contains(&"read-only"));

    let role = create_role(
        &app,
        &admin,
        "Auditor",
        &["audit.read", "companies.read"],
        "team",
    )
    .await;
    let path = format!("/demo/api/v1/roles/{}", role["id"].as_str().unwrap());
    assert_eq!(role["rights"], json!(["companies.read", "audit.read"]));
    assert_eq!(role["users"], 0);
    // The name is unique.
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "Auditor", "rights": [], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 409);
    // Unknown rights and visibilities are named.
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "X", "rights": ["records.read"], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(body(res).await.to_string().contains("rights"));

    let changed = body(
        app.patch(
            &path,
            &admin,
            &json!({"visibility": "own", "name": "Auditors"}),
        )
        .await,
    )
    .await;
    assert_eq!(changed["visibility"], "own");
    assert_eq!(changed["name"], "Auditors");

    // In use: 409 says by how many.
    app.post(
        "/demo/api/v1/users",
        &admin,
        &json!({"username": "aud", "role": "Auditors", "password": "Quiet-Lantern-Harbour-9"}),
    )
    .await;
    let res = app.delete(&path, &admin).await;
    assert_eq!(res.status(), 409);
    let problem = body(res).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("held by 1 user"),
        "{problem}"
    );

    // Built-in roles stay; the administrator's rights are fixed.
    assert_eq!(
        app.delete("/demo/api/v1/roles/manager", &admin)
            .await
            .status(),
        409
    );
    let res = app
        .patch(
            "/demo/api/v1/roles/administrator",
            &admin,
            &json!({"rights": ["companies.read"]}),
        )
        .await;
    assert_eq!(res.status(), 409);
    // The manager's rights can be narrowed.
    let res = app
        .patch(
            "/demo/api/v1/roles/manager",
            &admin,
            &json!({"visibility": "team"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get("/demo/api/v1/roles/not-a-role", &admin)
            .await
            .status(),
        404
    );

    // A role nobody holds goes.
    let spare = create_role(&app, &admin, "Spare", &[], "own").await;
    let spare = format!("/demo/api/v1/roles/{}", spare["id"].as_str().unwrap());
    assert_eq!(app.delete(&spare, &admin).await.status(), 204);
    assert_eq!(app.get(&spare, &admin).await.status(), 404);
}

#[tokio::test]
async fn rights_are_per_resource_and_the_role_decides() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create_role(&app, &admin, "Company reader", &["companies.read"], "all").await;
    let reader = app
        .user_with_role_named("demo", "cora", "Company reader")
        .await;
    let id = company(&app, &admin, "Readable").await;
    assert_eq!(
        app.get(&format!("/demo/api/v1/companies/{id}"), &reader)
            .await
            .status(),
        200
    );
    for (method, path) in [
        ("GET", "/demo/api/v1/persons"),
        ("GET", "/demo/api/v1/sales"),
        ("POST", "/demo/api/v1/companies"),
        ("DELETE", &format!("/demo/api/v1/companies/{id}") as &str),
    ] {
        let res = match method {
            "GET" => app.get(path, &reader).await,
            "POST" => app.post(path, &reader, &json!({"name": "X"})).await,
            _ => app.delete(path, &reader).await,
        };
        assert_eq!(res.status(), 403, "{method} {path}");
        let detail = body(res).await["detail"].as_str().unwrap().to_string();
        assert!(detail.contains("Company reader"), "{detail}");
    }
    let mine = me(&app, &reader).await;
    assert_eq!(mine["rights"], json!(["companies.read"]));
    assert_eq!(mine["role_name"], "Company reader");
}

#[tokio::test]
async fn own_visibility_hides_others_records_everywhere() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create_role(
        &app,
        &admin,
        "Own",
        &[
            "companies.read",
            "companies.write",
            "companies.delete",
            "persons.read",
            "persons.write",
        ],
        "own",
    )
    .await;
    let olga = app.user_with_role_named("demo", "olga", "Own").await;
    let theirs = company(&app, &admin, "Alpha Theirs").await;
    let mine = company(&app, &olga, "Alpha Mine").await;

    // Lists and searches.
    assert_eq!(
        names(&app, &olga, "/demo/api/v1/companies").await,
        ["Alpha Mine"]
    );
    assert_eq!(
        names(&app, &olga, "/demo/api/v1/companies?q=alpha").await,
        ["Alpha Mine"]
    );
    assert_eq!(
        names(&app, &olga, "/demo/api/v1/companies?sort=-updated").await,
        ["Alpha Mine"]
    );
    assert_eq!(
        names(&app, &admin, "/demo/api/v1/companies?q=alpha").await,
        ["Alpha Mine", "Alpha Theirs"]
    );
    // A record out of sight answers like a missing one, for every verb.
    let other = format!("/demo/api/v1/companies/{theirs}");
    let missing = format!("/demo/api/v1/companies/{}", uuid_like());
    let mut answers = Vec::new();
    for path in [&other, &missing] {
        let res = app.get(path, &olga).await;
        assert_eq!(res.status(), 404);
        let mut a = body(res).await;
        a["request_id"] = Value::Null;
        answers.push(a);
        assert_eq!(
            app.get(&format!("{path}/history"), &olga).await.status(),
            404
        );
        assert_eq!(
            app.patch(path, &olga, &json!({"city": "X"})).await.status(),
            404
        );
        assert_eq!(app.delete(path, &olga).await.status(), 404);
    }
    assert_eq!(answers[0], answers[1], "hidden and missing answer alike");
    assert_eq!(
        app.get(&format!("/demo/api/v1/companies/{mine}"), &olga)
            .await
            .status(),
        200
    );
    // Links to, and ownership outside, one's sight: 422 naming the field.
    let res = app
        .post(
            "/demo/api/v1/persons",
            &olga,
            &json!({"last_name": "Link", "company_id": theirs}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(body(res).await.to_string().contains("company_id"));
    let admin_id = me(&app, &admin).await["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/demo/api/v1/companies",
            &olga,
            &json!({"name": "Gift", "owner_id": admin_id}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(body(res).await.to_string().contains("owner_id"));
    let res = app
        .patch(
            &format!("/demo/api/v1/companies/{mine}"),
            &olga,
            &json!({"owner_id": admin_id}),
        )
        .await;
    assert_eq!(res.status(), 422);
    // A link within sight works, and a filter by an invisible record finds nothing.
    let res = app
        .post(
            "/demo/api/v1/persons",
            &olga,
            &json!({"last_name": "Link", "company_id": mine}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.post(
        "/demo/api/v1/persons",
        &admin,
        &json!({"last_name": "Hidden", "company_id": theirs}),
    )
    .await;
    let found = body(
        app.get(&format!("/demo/api/v1/persons?company_id={theirs}"), &olga)
            .await,
    )
    .await;
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    let found = body(app.get("/demo/api/v1/persons?q=hidden", &olga).await).await;
    assert!(found["items"].as_array().unwrap().is_empty(), "{found}");
    assert_eq!(me(&app, &olga).await["visibility"], "own");

    // An API token of hers sees no more than she does.
    let res = app
        .post(
            "/demo/api/v1/me/tokens",
            &olga,
            &json!({"name": "sync", "scopes": ["all:read"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let token = body(res).await["token"].as_str().unwrap().to_string();
    assert_eq!(
        names(&app, &token, "/demo/api/v1/companies").await,
        ["Alpha Mine"]
    );
    assert_eq!(app.get(&other, &token).await.status(), 404);
}

fn uuid_like() -> &'static str {
    "01900000-0000-7000-8000-000000000000"
}

#[tokio::test]
async fn team_visibility_shows_team_mates_records() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create_role(
        &app,
        &admin,
        "Seller",
        &["companies.read", "companies.write"],
        "team",
    )
    .await;
    let tina = app.user_with_role_named("demo", "tina", "Seller").await;
    let tom = app.user_with_role_named("demo", "tom", "Seller").await;
    let ulla = app.user_with_role_named("demo", "ulla", "Seller").await;
    company(&app, &tina, "Tina Co").await;
    company(&app, &tom, "Tom Co").await;
    company(&app, &ulla, "Ulla Co").await;
    company(&app, &admin, "Admin Co").await;
    assert_eq!(
        names(&app, &tina, "/demo/api/v1/companies").await,
        ["Tina Co"]
    );

    let res = app
        .post("/demo/api/v1/teams", &admin, &json!({"name": "North"}))
        .await;
    assert_eq!(res.status(), 201);
    let team = body(res).await["id"].as_str().unwrap().to_string();
    for t in [&tina, &tom] {
        let id = me(&app, t).await["id"].as_str().unwrap().to_string();
        let res = app
            .post(
                &format!("/demo/api/v1/teams/{team}/members"),
                &admin,
                &json!({"user_id": id}),
            )
            .await;
        assert_eq!(res.status(), 204);
    }
    let members = body(
        app.get(&format!("/demo/api/v1/teams/{team}/members"), &admin)
            .await,
    )
    .await;
    assert_eq!(members["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        names(&app, &tina, "/demo/api/v1/companies").await,
        ["Tina Co", "Tom Co"]
    );
    assert_eq!(
        names(&app, &tina, "/demo/api/v1/companies?q=co").await,
        ["Tina Co", "Tom Co"]
    );
    assert_eq!(
        names(&app, &ulla, "/demo/api/v1/companies").await,
        ["Ulla Co"]
    );
    // She may hand a record to a team mate, not to someone outside her teams.
    let tom_id = me(&app, &tom).await["id"].as_str().unwrap().to_string();
    let ulla_id = me(&app, &ulla).await["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/demo/api/v1/companies",
            &tina,
            &json!({"name": "Handed", "owner_id": tom_id}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let res = app
        .post(
            "/demo/api/v1/companies",
            &tina,
            &json!({"name": "Lost", "owner_id": ulla_id}),
        )
        .await;
    assert_eq!(res.status(), 422);

    // Leaving the team narrows the sight again.
    let res = app
        .delete(
            &format!("/demo/api/v1/teams/{team}/members/{tom_id}"),
            &admin,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_eq!(
        names(&app, &tina, "/demo/api/v1/companies").await,
        ["Tina Co"]
    );
    // Team changes need users.manage.
    let res = app
        .post("/demo/api/v1/teams", &tina, &json!({"name": "Mine"}))
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .patch(
            &format!("/demo/api/v1/teams/{team}"),
            &admin,
            &json!({"name": "North-East"}),
        )
        .await;
    assert_eq!(body(res).await["name"], "North-East");
    assert_eq!(
        app.delete(&format!("/demo/api/v1/teams/{team}"), &admin)
            .await
            .status(),
        204
    );
    let teams = body(app.get("/demo/api/v1/teams", &admin).await).await;
    assert!(teams["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn nobody_grants_more_than_they_hold() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create_role(
        &app,
        &admin,
        "Deputy",
        &[
            "users.read",
            "users.manage",
            "roles.manage",
            "companies.read",
        ],
        "team",
    )
    .await;
    let deputy = app.user_with_role_named("demo", "dina", "Deputy").await;
    // A role with a right she lacks, or a wider visibility: 403 naming it.
    let res = app
        .post(
            "/demo/api/v1/roles",
            &deputy,
            &json!({"name": "Big", "rights": ["audit.read"], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    assert!(body(res).await["detail"]
        .as_str()
        .unwrap()
        .contains("audit.read"));
    let res = app
        .post(
            "/demo/api/v1/roles",
            &deputy,
            &json!({"name": "Wide", "rights": [], "visibility": "all"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // Within her own: fine.
    create_role(&app, &deputy, "Small", &["companies.read"], "own").await;
    // She cannot give anyone a role above hers, nor make herself administrator.
    let res = app
        .post(
            "/demo/api/v1/users",
            &deputy,
            &json!({"username": "boss", "role": "administrator"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let dina = me(&app, &deputy).await["id"].as_str().unwrap().to_string();
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{dina}"),
            &deputy,
            &json!({"role": "administrator"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // Nor widen a role to more than she holds, nor touch the administrator.
    let res = app
        .patch(
            "/demo/api/v1/roles/read-only",
            &deputy,
            &json!({"rights": ["companies.read"]}),
        )
        .await;
    assert_eq!(
        res.status(),
        403,
        "read-only sees all records; she sees her team's"
    );
    let admin_id = me(&app, &admin).await["id"].as_str().unwrap().to_string();
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{admin_id}"),
            &deputy,
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    // She can give the role she made.
    let res = app
        .post(
            "/demo/api/v1/users",
            &deputy,
            &json!({"username": "small", "role": "Small"}),
        )
        .await;
    assert_eq!(res.status(), 201);

    // Every change is an audit event with before and after.
    let events = body(
        app.get("/demo/api/v1/audit?event=role.created", &admin)
            .await,
    )
    .await;
    let items = events["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{events}");
    assert!(items
        .iter()
        .all(|e| e["detail"]["after"]["rights"].is_array()));
}

#[tokio::test]
async fn the_last_administrator_stays_whatever_the_role_change() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = me(&app, &admin).await["id"].as_str().unwrap().to_string();
    let path = format!("/demo/api/v1/users/{id}");
    create_role(&app, &admin, "Everything but", &["companies.read"], "all").await;
    for change in [
        json!({"role": "Everything but"}),
        json!({"status": "disabled"}),
    ] {
        let res = app.patch(&path, &admin, &change).await;
        assert_eq!(res.status(), 409, "{change}");
        assert!(body(res).await["detail"]
            .as_str()
            .unwrap()
            .contains("last active administrator"));
    }
    assert_eq!(me(&app, &admin).await["role"], "administrator");
}

/// A record without an owner is seen only by those who see everything, so a user with own
/// or team visibility cannot take the owner away from a record (it would vanish from their
/// sight); a record they create without one is theirs.
#[tokio::test]
async fn a_restricted_user_cannot_leave_a_record_without_an_owner() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    create_role(
        &app,
        &admin,
        "Own writer",
        &["companies.read", "companies.write"],
        "own",
    )
    .await;
    let olga = app.user_with_role_named("demo", "olga", "Own writer").await;
    let olga_id = me(&app, &olga).await["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            "/demo/api/v1/companies",
            &olga,
            &json!({"name": "Olga Co", "owner_id": null}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    assert_eq!(created["owner_id"], olga_id.as_str());
    let id = created["id"].as_str().unwrap();

    let res = app
        .patch(
            &format!("/demo/api/v1/companies/{id}"),
            &olga,
            &json!({"owner_id": null}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let problem = body(res).await;
    assert!(
        problem.to_string().contains("owner_id"),
        "the refusal names the field: {problem}"
    );
    assert_eq!(
        names(&app, &olga, "/demo/api/v1/companies").await,
        ["Olga Co"]
    );

    // Whoever sees everything may leave a record without an owner.
    let res = app
        .patch(
            &format!("/demo/api/v1/companies/{id}"),
            &admin,
            &json!({"owner_id": null}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(names(&app, &olga, "/demo/api/v1/companies")
        .await
        .is_empty());
}
