//! Search: `?q=` on each list and `GET /search` across record types — normalisation
//! (case, accents, e-mail and phone prefixes), relevance order, paging, sight, and query
//! text that would be syntax to a full-text engine.

use serde_json::{json, Value};
use skjold_testkit::{spawn_app, TestApp};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn create(app: &TestApp, token: &str, resource: &str, body: Value) -> String {
    let res = app
        .post(&format!("/demo/api/v1/{resource}"), token, &body)
        .await;
    assert_eq!(
        res.status(),
        201,
        "{resource}: {}",
        res.text().await.unwrap()
    );
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The last names of every person `q` finds, page after page of `limit`, in order.
async fn found(app: &TestApp, token: &str, q: &str, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("/demo/api/v1/persons?q={}&limit={limit}", urlencode(q));
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let res = app.get(&url, token).await;
        assert_eq!(res.status(), 200, "{q:?}");
        let page = body(res).await;
        for p in page["items"].as_array().unwrap() {
            out.push(p["last_name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn case_accents_emails_and_phones_are_found_by_their_prefixes() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    create(
        &app,
        &token,
        "persons",
        json!({"first_name": "Åse", "last_name": "Nordmann",
               "emails": ["ase.nordmann@firma.example"], "phones": ["+47 22 33 44 55"]}),
    )
    .await;
    create(
        &app,
        &token,
        "persons",
        json!({"first_name": "Søren", "last_name": "Ærøskøbing", "emails": ["soren@other.example"]}),
    )
    .await;
    for q in ["Åse", "åse", "ASE", "ase", "as", "nord ase", "ÅSE NORDMANN"] {
        assert_eq!(found(&app, &token, q, 50).await, ["Nordmann"], "{q}");
    }
    for q in ["soren", "Søren", "aero", "ærø", "SØR"] {
        assert_eq!(found(&app, &token, q, 50).await, ["Ærøskøbing"], "{q}");
    }
    // E-mail: the whole address, a prefix of it, and its parts.
    for q in [
        "ase.nordmann@firma.example",
        "ase.nordmann@",
        "ase.nord",
        "firma",
        "ASE.NORDMANN@FIRMA",
    ] {
        assert_eq!(found(&app, &token, q, 50).await, ["Nordmann"], "{q}");
    }
    // Phone: its digits from the start, however they are written, and its groups.
    for q in [
        "+47 22",
        "4722",
        "+4722334455",
        "47 22 33",
        "+47-22-33-44",
        "33 44",
    ] {
        assert_eq!(found(&app, &token, q, 50).await, ["Nordmann"], "{q}");
    }
    for q in ["2233", "ase.nordmann@other", "nordx", "zz"] {
        assert!(found(&app, &token, q, 50).await.is_empty(), "{q}");
    }
}

#[tokio::test]
async fn query_text_is_never_full_text_syntax() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    create(
        &app,
        &token,
        "persons",
        json!({"first_name": "Ole", "last_name": "Near"}),
    )
    .await;
    create(
        &app,
        &token,
        "persons",
        json!({"first_name": "Kari", "last_name": "Or"}),
    )
    .await;
    // Each of these would be an operator or a syntax error to FTS5 or to_tsquery if it were
    // passed on; here they are words or nothing.
    for (q, expect) in [
        ("\"near", vec!["Near"]),
        ("near*", vec!["Near"]),
        ("NEAR(ole kari)", vec![]),
        ("NEAR", vec!["Near"]),
        ("-ole", vec!["Near"]),
        ("^ole", vec!["Near"]),
        ("(ole)", vec!["Near"]),
        ("ole OR kari", vec![]),
        ("OR", vec!["Or"]),
        ("kari AND", vec![]),
        ("ole & !kari", vec![]),
        ("ole:*", vec!["Near"]),
        ("'ole'", vec!["Near"]),
        ("ole\\", vec!["Near"]),
        ("\"", vec!["Near", "Or"]),
        ("*", vec!["Near", "Or"]),
        ("( ) \" * ^ -", vec!["Near", "Or"]),
    ] {
        let mut got = found(&app, &token, q, 50).await;
        got.sort();
        assert_eq!(got, expect, "{q:?}");
    }
    let res = app
        .get(
            &format!("/demo/api/v1/search?q={}", urlencode("NEAR(\"x\" OR y*)")),
            &token,
        )
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn whole_words_come_before_prefixes_and_ties_go_by_name() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    for (first, last) in [
        ("Anna", "Zeta"),
        ("Annabelle", "Alpha"),
        ("Anna", "Beta"),
        ("Annika", "Aas"),
        ("Annabeth", "Gamma"),
        ("Hanna", "Anna"),
    ] {
        create(
            &app,
            &token,
            "persons",
            json!({"first_name": first, "last_name": last}),
        )
        .await;
    }
    // "anna" is a whole word of Zeta, Beta and Anna (whose last name it is); a prefix only
    // of Alpha's and Gamma's first names. Each group in name order (last name first).
    let expected = ["Anna", "Beta", "Zeta", "Alpha", "Gamma"];
    assert_eq!(found(&app, &token, "anna", 50).await, expected);
    // Paging goes through the same order, across the change from whole words to prefixes.
    for limit in [1, 2, 3] {
        assert_eq!(
            found(&app, &token, "anna", limit).await,
            expected,
            "{limit}"
        );
    }
    // All words must match; whole words only when every word is whole.
    assert_eq!(found(&app, &token, "anna b", 50).await, ["Beta"]);
    assert_eq!(found(&app, &token, "anna beta", 50).await, ["Beta"]);
    assert_eq!(
        found(&app, &token, "ann a", 50).await,
        ["Aas", "Alpha", "Anna", "Beta", "Gamma", "Zeta"]
    );
    // Two whole words before one whole word and a prefix.
    assert_eq!(found(&app, &token, "anna zeta", 50).await, ["Zeta"]);
    assert_eq!(found(&app, &token, "anna z", 50).await, ["Zeta"]);
    // A cursor from a search does not continue a list in name order, nor another search's
    // rank without its own words.
    let page = body(app.get("/demo/api/v1/persons?q=anna&limit=1", &token).await).await;
    let c = page["next_cursor"].as_str().unwrap();
    let res = app
        .get(&format!("/demo/api/v1/persons?limit=1&cursor={c}"), &token)
        .await;
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn a_query_matching_thousands_pages_in_the_same_order() {
    // Past 2,000 matches a part is read by walking name order instead of sorting its
    // matches: the order and the pages must be the same as the other way.
    let app = spawn_app().await;
    let (_, db) = app
        .state
        .tenants
        .open(&skjold_domain::TenantSlug::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    let inputs: Vec<skjold_domain::crm::PersonInput> = (0..2_300)
        .map(|i| {
            serde_json::from_value(json!({
                // 2,100 exact "kari", 200 "karianne" (prefix only).
                "first_name": if i % 23 == 0 { "Karianne" } else { "Kari" },
                "last_name": format!("Lie{:04}", (i * 7919) % 2_300),
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
    let token = app.admin_token().await;
    let got = found(&app, &token, "kari", 200).await;
    assert_eq!(got.len(), 2_300);
    let mut exact: Vec<String> = (0..2_300)
        .filter(|i| i % 23 != 0)
        .map(|i| format!("Lie{:04}", (i * 7919) % 2_300))
        .collect();
    let mut prefix: Vec<String> = (0..2_300)
        .filter(|i| i % 23 == 0)
        .map(|i| format!("Lie{:04}", (i * 7919) % 2_300))
        .collect();
    exact.sort();
    prefix.sort();
    assert_eq!(got[..exact.len()], exact[..]);
    assert_eq!(got[exact.len()..], prefix[..]);
    // Two words, the first matching thousands.
    assert_eq!(found(&app, &token, "kari lie0001", 50).await, ["Lie0001"]);
    assert_eq!(found(&app, &token, "karia", 200).await, prefix);
}

#[tokio::test]
async fn search_across_types_finds_each_type_within_sight() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let company = create(
        &app,
        &admin,
        "companies",
        json!({"name": "Fjordkraft AS", "city": "Bergen"}),
    )
    .await;
    let person = create(
        &app,
        &admin,
        "persons",
        json!({"first_name": "Frida", "last_name": "Fjordheim", "emails": ["frida@fjord.example"]}),
    )
    .await;
    let activity = create(
        &app,
        &admin,
        "activities",
        json!({"kind": "call", "subject": "Fjord follow-up", "due_at": "2026-03-01T10:00:00Z"}),
    )
    .await;
    let sale = create(
        &app,
        &admin,
        "sales",
        json!({"title": "Fjord licence", "amount": "1200.00", "currency": "NOK"}),
    )
    .await;
    let res = app.get("/demo/api/v1/search?q=FJORD", &admin).await;
    assert_eq!(res.status(), 200);
    let all = body(res).await;
    let groups = all["groups"].as_array().unwrap();
    let types: Vec<&str> = groups.iter().map(|g| g["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["company", "person", "activity", "sale"], "{all}");
    let hit = |i: usize| &groups[i]["items"][0];
    assert_eq!(hit(0)["id"], company);
    assert_eq!(hit(0)["name"], "Fjordkraft AS");
    assert_eq!(hit(0)["context"], "Bergen");
    assert_eq!(hit(1)["id"], person);
    assert_eq!(hit(1)["name"], "Frida Fjordheim");
    assert_eq!(hit(1)["context"], "frida@fjord.example");
    assert_eq!(hit(2)["id"], activity);
    assert_eq!(hit(2)["type"], "activity");
    assert!(
        hit(2)["context"].as_str().unwrap().contains("2026-03-01"),
        "{all}"
    );
    assert_eq!(hit(3)["id"], sale);
    assert!(
        hit(3)["context"].as_str().unwrap().contains("1200.00 NOK"),
        "{all}"
    );

    // A limit per type, and `more` when a type has more hits.
    create(&app, &admin, "companies", json!({"name": "Fjordlys AS"})).await;
    let one = body(app.get("/demo/api/v1/search?q=fjord&limit=1", &admin).await).await;
    assert_eq!(one["groups"][0]["items"].as_array().unwrap().len(), 1);
    assert_eq!(one["groups"][0]["more"], true);
    assert_eq!(one["groups"][1]["more"], false);

    // Bad input: a clear 4xx naming the parameter.
    for (path, status, field) in [
        ("/demo/api/v1/search?q=fjord&limit=0", 422, "limit"),
        ("/demo/api/v1/search?q=fjord&limit=51", 422, "limit"),
        ("/demo/api/v1/search?q=%20%2A%20", 422, "q"),
        ("/demo/api/v1/search", 422, "q"),
        ("/demo/api/v1/search?q=x&type=person", 422, "type"),
    ] {
        let res = app.get(path, &admin).await;
        assert_eq!(res.status(), status, "{path}");
        assert!(res.text().await.unwrap().contains(field), "{path}");
    }

    // A user who sees only their own records finds only those, in every type; a type
    // whose read right they lack is not searched at all.
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "Own", "rights": ["companies.read", "companies.write", "persons.read", "persons.write"], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let olga = app.user_with_role_named("demo", "olga", "Own").await;
    let hers = create(&app, &olga, "companies", json!({"name": "Fjordvik AS"})).await;
    let seen = body(app.get("/demo/api/v1/search?q=fjord", &olga).await).await;
    assert_eq!(
        seen,
        json!({"groups": [{"type": "company", "more": false,
            "items": [{"type": "company", "id": hers, "name": "Fjordvik AS", "context": ""}]}]}),
    );
    let listed = body(app.get("/demo/api/v1/persons?q=fjord", &olga).await).await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "{listed}");
    let admin_sees = body(app.get("/demo/api/v1/companies?q=fjord", &admin).await).await;
    assert_eq!(admin_sees["items"].as_array().unwrap().len(), 3);
}
