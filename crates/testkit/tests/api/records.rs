//! The CRM records: create, read, update, delete, list, search, history.

use serde_json::{json, Value};
use skjold_testkit::{spawn_app, TestApp};

async fn create(app: &TestApp, token: &str, resource: &str, body: Value) -> Value {
    let res = app
        .post(&format!("/demo/api/v1/{resource}"), token, &body)
        .await;
    assert_eq!(
        res.status(),
        201,
        "create {resource}: {}",
        res.text().await.unwrap()
    );
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let record: Value = res.json().await.unwrap();
    assert_eq!(
        location,
        format!("/demo/api/v1/{resource}/{}", record["id"].as_str().unwrap())
    );
    record
}

#[tokio::test]
async fn every_record_type_goes_through_its_whole_life() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let company = create(
        &app,
        &token,
        "companies",
        json!({"name": "Nordlys AS", "city": "Tromsø", "website": "https://nordlys.example"}),
    )
    .await;
    let cid = company["id"].as_str().unwrap();
    let person = create(
        &app,
        &token,
        "persons",
        json!({"first_name": "Kari", "last_name": "Nordmann", "company_id": cid, "emails": ["kari@nordlys.example"], "phones": ["+47 900 00 000"]}),
    )
    .await;
    let pid = person["id"].as_str().unwrap();
    let sale = create(
        &app,
        &token,
        "sales",
        json!({"title": "Licence renewal", "company_id": cid, "person_id": pid, "amount": "12500", "currency": "nok", "probability": 40}),
    )
    .await;
    assert_eq!(sale["amount"], "12500.00");
    assert_eq!(sale["currency"], "NOK");
    assert_eq!(sale["stage"], "lead");
    assert_eq!(sale["status"], "open");
    let sid = sale["id"].as_str().unwrap();
    let activity = create(
        &app,
        &token,
        "activities",
        json!({"kind": "call", "subject": "Follow-up call", "starts_at": "2026-12-01T09:00:00+01:00", "company_id": cid, "person_id": pid, "sale_id": sid}),
    )
    .await;
    assert_eq!(activity["starts_at"], "2026-12-01T08:00:00.000000Z");
    assert_eq!(activity["done"], false);

    // The owner defaults to the creator.
    let me: Value = app
        .get("/demo/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    for r in [&company, &person, &sale, &activity] {
        assert_eq!(r["owner_id"], me["id"]);
    }

    // Read back.
    for (res, rec) in [
        ("companies", &company),
        ("persons", &person),
        ("sales", &sale),
        ("activities", &activity),
    ] {
        let got: Value = app
            .get(
                &format!("/demo/api/v1/{res}/{}", rec["id"].as_str().unwrap()),
                &token,
            )
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(&got, rec);
    }

    // Partial update: only the named fields change; null clears.
    let res = app
        .patch(
            &format!("/demo/api/v1/sales/{sid}"),
            &token,
            &json!({"stage": "proposal", "amount": null}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let updated: Value = res.json().await.unwrap();
    assert_eq!(updated["stage"], "proposal");
    assert_eq!(updated["amount"], Value::Null);
    assert_eq!(updated["title"], "Licence renewal");
    let res = app
        .patch(
            &format!(
                "/demo/api/v1/activities/{}",
                activity["id"].as_str().unwrap()
            ),
            &token,
            &json!({"done": true}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["done"], true);

    // Filters by link.
    let list: Value = app
        .get(&format!("/demo/api/v1/persons?company_id={cid}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let list: Value = app
        .get(&format!("/demo/api/v1/activities?sale_id={sid}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    // A company with linked records is not deleted without cascade…
    let res = app
        .delete(&format!("/demo/api/v1/companies/{cid}"), &token)
        .await;
    assert_eq!(res.status(), 409);
    let body: Value = res.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(
        detail.contains("1 person") && detail.contains("cascade"),
        "{detail}"
    );
    assert_eq!(
        app.get(&format!("/demo/api/v1/companies/{cid}"), &token)
            .await
            .status(),
        200
    );
    // …and with it, everything linked goes too.
    let res = app
        .delete(
            &format!("/demo/api/v1/companies/{cid}?cascade=true"),
            &token,
        )
        .await;
    assert_eq!(res.status(), 204);
    for (res, rec) in [
        ("companies", &company),
        ("persons", &person),
        ("sales", &sale),
        ("activities", &activity),
    ] {
        let status = app
            .get(
                &format!("/demo/api/v1/{res}/{}", rec["id"].as_str().unwrap()),
                &token,
            )
            .await
            .status();
        assert_eq!(status, 404, "{res} survived the cascade");
    }
    let res = app
        .delete(&format!("/demo/api/v1/companies/{cid}"), &token)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn history_shows_who_changed_what_and_when() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let company = create(&app, &token, "companies", json!({"name": "Fjord Data"})).await;
    let id = company["id"].as_str().unwrap();
    app.clock.advance(chrono::Duration::minutes(5));
    app.patch(
        &format!("/demo/api/v1/companies/{id}"),
        &token,
        &json!({"name": "Fjord Data AS", "city": "Bergen"}),
    )
    .await;
    // An update that changes nothing writes no history.
    app.patch(
        &format!("/demo/api/v1/companies/{id}"),
        &token,
        &json!({"city": "Bergen"}),
    )
    .await;
    let history: Value = app
        .get(&format!("/demo/api/v1/companies/{id}/history"), &token)
        .await
        .json()
        .await
        .unwrap();
    let items = history["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{history}");
    assert_eq!(items[0]["op"], "create");
    assert_eq!(items[1]["op"], "update");
    let me: Value = app
        .get("/demo/api/v1/me", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(items[1]["actor"], me["id"]);
    assert_eq!(
        items[1]["changes"]["name"],
        json!({"from": "Fjord Data", "to": "Fjord Data AS"})
    );
    assert_eq!(
        items[1]["changes"]["city"],
        json!({"from": null, "to": "Bergen"})
    );
    assert!(items[1]["at"].as_str().unwrap() > items[0]["at"].as_str().unwrap());

    app.delete(&format!("/demo/api/v1/companies/{id}"), &token)
        .await;
    let history: Value = app
        .get(&format!("/demo/api/v1/companies/{id}/history"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(history["items"][2]["op"], "delete");
    let unknown = uuid::Uuid::new_v4();
    assert_eq!(
        app.get(&format!("/demo/api/v1/companies/{unknown}/history"), &token)
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn search_finds_records_by_word_prefixes_and_pages_without_duplicates() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (_, db) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    // 120 persons through the same write path as the API.
    let inputs: Vec<skjold_domain::crm::PersonInput> = (0..120)
        .map(|i| {
            serde_json::from_value(json!({
                "first_name": if i % 2 == 0 { "Anna" } else { "Bjørn" },
                "last_name": format!("Berg{i:03}"),
                "emails": [format!("p{i}@firma{}.example", i % 3)],
                "phones": [format!("+47 400 {i:05}")],
            }))
            .unwrap()
        })
        .collect();
    db.create_many::<skjold_domain::crm::Person>(
        &skjold_store::Sight::everything(),
        &skjold_store::Actor::System { what: "test" },
        inputs,
    )
    .await
    .unwrap();

    async fn all_pages(app: &TestApp, token: &str, query: &str) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut url = format!("/demo/api/v1/persons?{query}&limit=7");
            if let Some(c) = &cursor {
                url.push_str(&format!("&cursor={c}"));
            }
            let page: Value = app.get(&url, token).await.json().await.unwrap();
            for p in page["items"].as_array().unwrap() {
                ids.push(p["id"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => return ids,
            }
        }
    }
    let check = |ids: Vec<String>, expected: usize, what: &str| {
        let n = ids.len();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), n, "{what}: duplicates across pages");
        assert_eq!(n, expected, "{what}");
    };
    check(
        all_pages(&app, &token, "q=").await,
        120,
        "no query lists all",
    );
    check(
        all_pages(&app, &token, "q=ann").await,
        60,
        "first name prefix",
    );
    check(
        all_pages(&app, &token, "q=BJØ").await,
        60,
        "case and non-ASCII",
    );
    check(
        all_pages(&app, &token, "q=berg0").await,
        100,
        "last name prefix",
    );
    check(
        all_pages(&app, &token, "q=anna%20berg1").await,
        10,
        "two words must both match",
    );
    check(
        all_pages(&app, &token, "q=firma1").await,
        40,
        "e-mail domain",
    );
    check(
        all_pages(&app, &token, "q=p7@firma1.example").await,
        1,
        "whole e-mail",
    );
    check(
        all_pages(&app, &token, "q=%2B47%20400%2000007").await,
        1,
        "phone digits",
    );
    check(all_pages(&app, &token, "q=zzz").await, 0, "no match");
    check(
        all_pages(&app, &token, "q=%25").await,
        120,
        "a lone wildcard character is no query",
    );
    check(
        all_pages(&app, &token, "q='%20OR%201%3D1--").await,
        0,
        "injection text is just words",
    );

    // Name order without a query.
    let page: Value = app
        .get("/demo/api/v1/persons?limit=3", &token)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["last_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Berg000", "Berg001", "Berg002"]);

    // Search follows changes.
    let id = page["items"][0]["id"].as_str().unwrap();
    app.patch(
        &format!("/demo/api/v1/persons/{id}"),
        &token,
        &json!({"last_name": "Quist"}),
    )
    .await;
    check(all_pages(&app, &token, "q=quist").await, 1, "renamed");
    check(
        all_pages(&app, &token, "q=berg000").await,
        0,
        "old name gone",
    );
}

#[tokio::test]
async fn links_must_name_records_of_this_tenant() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let missing = uuid::Uuid::new_v4().to_string();
    let res = app
        .post(
            "/demo/api/v1/persons",
            &token,
            &json!({"last_name": "X", "company_id": missing, "owner_id": missing}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["company_id", "owner_id"]);
    let list: Value = app
        .get("/demo/api/v1/persons", &token)
        .await
        .json()
        .await
        .unwrap();
    assert!(list["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_common_word_with_a_rare_one_finds_the_rare_match() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let (_, db) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut inputs: Vec<skjold_domain::crm::PersonInput> = (0..300)
        .map(|i| {
            serde_json::from_value(json!({"first_name": "Anna", "last_name": format!("Aas{i}")}))
                .unwrap()
        })
        .collect();
    inputs.push(
        serde_json::from_value(json!({"first_name": "Anna", "last_name": "Zylinski"})).unwrap(),
    );
    db.create_many::<skjold_domain::crm::Person>(
        &skjold_store::Sight::everything(),
        &skjold_store::Actor::System { what: "test" },
        inputs,
    )
    .await
    .unwrap();
    // Either word order finds exactly the one person with both words.
    for q in ["a%20zyl", "zyl%20a", "anna%20zylinski"] {
        let page: Value = app
            .get(&format!("/demo/api/v1/persons?q={q}"), &token)
            .await
            .json()
            .await
            .unwrap();
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{q}");
        assert_eq!(items[0]["last_name"], "Zylinski");
    }
}

#[tokio::test]
async fn lists_sort_by_name_change_or_creation_time_and_page_in_that_order() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let mut ids = Vec::new();
    for name in ["Delta AS", "alfa AS", "Charlie AS", "bravo AS", "Echo AS"] {
        let c = create(&app, &token, "companies", json!({"name": name})).await;
        ids.push(c["id"].as_str().unwrap().to_string());
        app.clock.advance(chrono::Duration::seconds(1));
    }
    // Change the first-created one last.
    let res = app
        .patch(
            &format!("/demo/api/v1/companies/{}", ids[0]),
            &token,
            &json!({"city": "Bergen"}),
        )
        .await;
    assert_eq!(res.status(), 200);

    async fn names(app: &TestApp, token: &str, sort: &str) -> Vec<String> {
        // Two records a page, so the cursor must keep the order.
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let url = format!("/demo/api/v1/companies?limit=2&sort={sort}&cursor={cursor}");
            let res = app.get(&url, token).await;
            assert_eq!(res.status(), 200, "{url}");
            let page: Value = res.json().await.unwrap();
            for item in page["items"].as_array().unwrap() {
                out.push(item["name"].as_str().unwrap().to_string());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => return out,
            }
        }
    }
    let by = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let a_to_z = by(&["alfa AS", "bravo AS", "Charlie AS", "Delta AS", "Echo AS"]);
    assert_eq!(names(&app, &token, "name").await, a_to_z);
    assert_eq!(names(&app, &token, "").await, a_to_z);
    let mut z_to_a = a_to_z.clone();
    z_to_a.reverse();
    assert_eq!(names(&app, &token, "-name").await, z_to_a);
    let created = by(&["Delta AS", "alfa AS", "Charlie AS", "bravo AS", "Echo AS"]);
    assert_eq!(names(&app, &token, "created").await, created);
    let mut newest = created.clone();
    newest.reverse();
    assert_eq!(names(&app, &token, "-created").await, newest);
    assert_eq!(
        names(&app, &token, "-updated").await,
        by(&["Delta AS", "Echo AS", "bravo AS", "Charlie AS", "alfa AS"])
    );

    // A cursor of one order is refused by another; unknown orders and sorting a search too.
    let first: Value = app
        .get("/demo/api/v1/companies?limit=2&sort=-created", &token)
        .await
        .json()
        .await
        .unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    for bad in [
        format!("sort=name&cursor={cursor}"),
        "sort=size".to_string(),
        "sort=-updated&q=alfa".to_string(),
    ] {
        let res = app
            .get(&format!("/demo/api/v1/companies?{bad}"), &token)
            .await;
        assert_eq!(res.status(), 422, "{bad}");
        let problem: Value = res.json().await.unwrap();
        let text = problem.to_string();
        assert!(text.contains("sort") || text.contains("cursor"), "{text}");
    }
}
