//! The web UI's security mechanics, without a browser (the browser suite in `e2e/` covers
//! the screens): the session cookie, expiry back to the sign-in page and then to the page,
//! CSRF on every form, rights on forged posts, HTML errors and the CSP.

use reqwest::header::{ACCEPT, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Method, Response};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};

const HTML: &str = "text/html";

/// `name=value` of each `Set-Cookie`, joined for a `Cookie` header.
fn cookies(res: &Response) -> Vec<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_string)
        .collect()
}

fn hidden(body: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in page"))
        + marker.len();
    body[start..start + body[start..].find('"').unwrap()].to_string()
}

async fn page(app: &TestApp, path: &str, cookie: &str) -> Response {
    app.request(Method::GET, path, None)
        .header(ACCEPT, HTML)
        .header(COOKIE, cookie)
        .send()
        .await
        .unwrap()
}

async fn form(app: &TestApp, path: &str, cookie: &str, fields: &[(&str, &str)]) -> Response {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    app.request(Method::POST, path, None)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(ACCEPT, HTML)
        .header(COOKIE, cookie)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Signs in through the sign-in form; returns the `Cookie` header value.
async fn ui_sign_in(app: &TestApp, username: &str, password: &str, next: &str) -> String {
    let res = page(app, "/demo/login", "").await;
    assert_eq!(res.status(), 200);
    let signin = cookies(&res).join("; ");
    assert!(signin.starts_with("__Host-skjold_signin="), "{signin}");
    let token = hidden(&res.text().await.unwrap(), "signin_token");
    let res = form(
        app,
        "/demo/login",
        &signin,
        &[
            ("signin_token", &token),
            ("username", username),
            ("password", password),
            ("next", next),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "sign-in of {username}");
    assert_eq!(res.headers()[LOCATION], next);
    let set = res.headers()[SET_COOKIE].to_str().unwrap().to_string();
    assert!(set.starts_with("__Host-skjold_session=demo.skj_"), "{set}");
    for attr in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    assert!(!set.contains("Domain"), "{set}");
    cookies(&res).join("; ")
}

#[tokio::test]
async fn ui_session_expires_back_to_sign_in_and_then_to_the_page() {
    let app = spawn_app().await;
    let res = page(&app, "/demo/companies?q=a", "").await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[LOCATION],
        "/demo/login?next=%2Fdemo%2Fcompanies%3Fq%3Da"
    );
    let cookie = ui_sign_in(
        &app,
        "admin",
        &app.admin_password.clone(),
        "/demo/companies",
    )
    .await;
    assert_eq!(page(&app, "/demo/companies", &cookie).await.status(), 200);
    // Idle for longer than the idle timeout: back to the sign-in page, which says why.
    app.clock.advance(chrono::Duration::minutes(31));
    let res = page(&app, "/demo/companies", &cookie).await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()[LOCATION],
        "/demo/login?next=%2Fdemo%2Fcompanies&msg=expired"
    );
    // An htmx request is told to load the sign-in page as a whole.
    let res = app
        .request(Method::GET, "/demo/companies?q=x", None)
        .header("hx-request", "true")
        .header(COOKIE, &cookie)
        .send()
        .await
        .unwrap();
    assert!(res.headers()["hx-redirect"]
        .to_str()
        .unwrap()
        .starts_with("/demo/login?next="));
}

#[tokio::test]
async fn ui_forms_need_the_csrf_token_and_the_right() {
    let app = spawn_app().await;
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let body = page(&app, "/demo/companies/new", &admin)
        .await
        .text()
        .await
        .unwrap();
    let token = hidden(&body, "csrf_token");

    // No token, or someone else's: 403, an HTML page with the request id, nothing stored.
    for sent in ["", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        let res = form(
            &app,
            "/demo/companies",
            &admin,
            &[("csrf_token", sent), ("name", "Forged")],
        )
        .await;
        assert_eq!(res.status(), 403);
        assert!(res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with(HTML));
        let id = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert!(res.text().await.unwrap().contains(&id));
    }
    // A browser that says the form came from another site: 403 even with the token.
    let res = app
        .request(Method::POST, "/demo/companies", None)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(COOKIE, &admin)
        .header("sec-fetch-site", "cross-site")
        .body(format!("csrf_token={token}&name=Cross"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The real thing.
    let res = form(
        &app,
        "/demo/companies",
        &admin,
        &[("csrf_token", &token), ("name", "Real Ltd")],
    )
    .await;
    assert_eq!(res.status(), 303);
    let token_api = app.admin_token().await;
    let list: serde_json::Value = app
        .get("/demo/api/v1/companies", &token_api)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Real Ltd"]);

    // A read-only user with a valid token of their own: 403.
    app.user_with_role("demo", "viewer", Role::ReadOnly).await;
    let viewer = ui_sign_in(
        &app,
        "viewer",
        &skjold_testkit::user_password("viewer"),
        "/demo/",
    )
    .await;
    let body = page(&app, "/demo/companies", &viewer)
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("New company"));
    let token = hidden(&body, "csrf_token");
    let res = form(
        &app,
        "/demo/companies",
        &viewer,
        &[("csrf_token", &token), ("name", "By viewer")],
    )
    .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn ui_pages_keep_the_csp_and_errors_are_html_only_for_browsers() {
    let app = spawn_app().await;
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    for path in [
        "/demo/login",
        "/demo/",
        "/demo/companies",
        "/demo/companies/new",
        "/demo/sales/pipeline",
        "/demo/admin/users",
        "/demo/admin/audit",
        "/demo/me",
    ] {
        // The sign-in page as a stranger sees it; the rest signed in.
        let cookie = if path == "/demo/login" {
            ""
        } else {
            admin.as_str()
        };
        let res = page(&app, path, cookie).await;
        assert_eq!(res.status(), 200, "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}");
        assert_eq!(res.headers()["cache-control"], "no-store", "{path}");
        let body = res.text().await.unwrap();
        for (i, _) in body.match_indices("<script") {
            let tag = &body[i..i + body[i..].find('>').unwrap()];
            assert!(
                tag.contains(" src=\"/static/"),
                "{path}: inline script {tag}"
            );
        }
        assert!(!body.contains(" style="), "{path}: inline style");
        assert!(!body.contains("<style"), "{path}: style element");
    }
    // Unknown pages: HTML for a browser, problem+json for everyone else and under /api/.
    let res = page(&app, "/demo/no-such-page", "").await;
    assert_eq!(res.status(), 404);
    assert!(res.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with(HTML));
    for (path, accept) in [
        ("/demo/no-such-page", "application/json"),
        ("/demo/api/v1/no-such-thing", HTML),
    ] {
        let res = app
            .request(Method::GET, path, None)
            .header(ACCEPT, accept)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(
            res.headers()[CONTENT_TYPE],
            "application/problem+json",
            "{path}"
        );
    }
    // Static files: immutable with the current version, and nothing else served.
    let body = page(&app, "/demo/login", "").await.text().await.unwrap();
    let start = body.find("/static/skjold.css?v=").unwrap();
    let href = &body[start..start + body[start..].find('"').unwrap()];
    let res = page(&app, href, "").await;
    assert_eq!(res.status(), 200);
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(page(&app, "/static/../Cargo.toml", "").await.status(), 404);
}

#[tokio::test]
async fn ui_security_page_sets_the_policy_and_forms_name_the_refused_rule() {
    let app = spawn_app().await;
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let res = page(&app, "/demo/admin/security", &admin).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Password policy") && body.contains("value=\"12\""));
    let csrf = hidden(&body, "csrf_token");
    let policy = [
        ("csrf_token", csrf.as_str()),
        ("min_length", "7"),
        ("max_length", "256"),
        ("history", "0"),
        ("max_age_days", ""),
        ("lockout.max_failures", "5"),
        ("lockout.lock_minutes", "15"),
        ("lockout.max_lock_minutes", "1440"),
    ];
    let res = form(
        &app,
        "/demo/admin/security/password-policy",
        &admin,
        &policy,
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("must be between 8 and 128"));
    let mut policy = policy.to_vec();
    policy[1] = ("min_length", "16");
    policy.push(("require_digit", "1"));
    let res = form(
        &app,
        "/demo/admin/security/password-policy",
        &admin,
        &policy,
    )
    .await;
    assert_eq!(res.status(), 303);
    let token = app.admin_token().await;
    let p: serde_json::Value = app
        .get("/demo/api/v1/settings/password-policy", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(p["min_length"], 16);
    assert_eq!(p["require_digit"], true);

    // The new-user form shows a refusal with its rule.
    let res = form(
        &app,
        "/demo/admin/users",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("username", "nina"),
            ("role", "user"),
            ("password", "a-long-password-but-no-digit"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("(rule: digit)"));

    // A user's own change of password: too short for the new policy.
    app.user_with_role("demo", "viewer", Role::ReadOnly).await;
    let viewer = ui_sign_in(
        &app,
        "viewer",
        &skjold_testkit::user_password("viewer"),
        "/demo/",
    )
    .await;
    let body = page(&app, "/demo/me", &viewer).await.text().await.unwrap();
    assert!(body.contains("At least 16 characters"));
    let vcsrf = hidden(&body, "csrf_token");
    let res = form(
        &app,
        "/demo/me/password",
        &viewer,
        &[
            ("csrf_token", &vcsrf),
            ("current_password", &skjold_testkit::user_password("viewer")),
            ("new_password", "short-1"),
            ("repeat_password", "short-1"),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("(rule: min_length)"));

    // Not for a read-only user.
    assert_eq!(
        page(&app, "/demo/admin/security", &viewer).await.status(),
        403
    );
}

#[tokio::test]
async fn ui_sign_in_says_try_again_later_when_locked_and_admins_unlock() {
    let app = spawn_app().await;
    let res = page(&app, "/demo/login", "").await;
    let signin = cookies(&res).join("; ");
    let token = hidden(&res.text().await.unwrap(), "signin_token");
    let mut last = String::new();
    for _ in 0..5 {
        let res = form(
            &app,
            "/demo/login",
            &signin,
            &[
                ("signin_token", &token),
                ("username", "admin"),
                ("password", "wrong-wrong-wrong"),
            ],
        )
        .await;
        last = res.text().await.unwrap();
    }
    assert!(last.contains("try again later"), "{last}");
    // The right password is refused during the lock.
    let res = form(
        &app,
        "/demo/login",
        &signin,
        &[
            ("signin_token", &token),
            ("username", "admin"),
            ("password", &app.admin_password),
        ],
    )
    .await;
    assert_eq!(res.status(), 429);
    // Another administrator sees and lifts the lock.
    app.user_with_role("demo", "second", Role::Administrator)
        .await;
    let second = ui_sign_in(
        &app,
        "second",
        &skjold_testkit::user_password("second"),
        "/demo/",
    )
    .await;
    let body = page(&app, "/demo/admin/security", &second)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("<td>admin</td>"), "{body}");
    let csrf = hidden(&body, "csrf_token");
    let res = form(
        &app,
        "/demo/admin/security/unlock",
        &second,
        &[("csrf_token", &csrf), ("username", "admin")],
    )
    .await;
    assert_eq!(res.status(), 303);
    ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
}

#[tokio::test]
async fn ui_profile_lists_my_sessions_and_signs_one_out() {
    let app = spawn_app().await;
    app.user_with_role("demo", "vera", Role::User).await;
    let pw = skjold_testkit::user_password("vera");
    let api_token = app.sign_in("demo", "vera", &pw).await;
    let browser = ui_sign_in(&app, "vera", &pw, "/demo/").await;
    let body = page(&app, "/demo/me", &browser).await.text().await.unwrap();
    assert!(body.contains("My sessions") && body.contains("(this session)"));
    // Three sessions: user_with_role's, the API one and this browser's.
    assert_eq!(body.matches("name=\"id\" value=\"").count(), 3, "{body}");
    let sessions: serde_json::Value = app
        .get("/demo/api/v1/me/sessions", &api_token)
        .await
        .json()
        .await
        .unwrap();
    let api_id = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let csrf = hidden(&body, "csrf_token");
    let res = form(
        &app,
        "/demo/me/sessions/revoke",
        &browser,
        &[("csrf_token", &csrf), ("id", &api_id)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get("/demo/api/v1/me", &api_token).await.status(), 401);
    assert_eq!(page(&app, "/demo/me", &browser).await.status(), 200);
}

#[tokio::test]
async fn ui_profile_makes_shows_once_and_revokes_api_tokens() {
    let app = spawn_app().await;
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let body = page(&app, "/demo/me", &admin).await.text().await.unwrap();
    let csrf = hidden(&body, "csrf_token");
    let res = form(
        &app,
        "/demo/me/tokens",
        &admin,
        &[("csrf_token", &csrf), ("name", "Sync"), ("days", "30")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Scopes: must name at least one scope"));
    let res = form(
        &app,
        "/demo/me/tokens",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("name", "Sync"),
            ("scope", "companies:read"),
            ("days", "30"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    let start = body.find("skjapi_").expect("the token is shown once");
    let token: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    // Not shown again.
    let body = page(&app, "/demo/me", &admin).await.text().await.unwrap();
    assert!(body.contains("Sync") && !body.contains(&token));
    let id = hidden(&body[body.find("/me/tokens/revoke").unwrap()..], "id");
    let res = form(
        &app,
        "/demo/me/tokens/revoke",
        &admin,
        &[("csrf_token", &csrf), ("id", &id)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        401
    );
}

#[tokio::test]
async fn ui_security_page_sets_the_session_timeouts() {
    let app = spawn_app().await;
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let body = page(&app, "/demo/admin/security", &admin)
        .await
        .text()
        .await
        .unwrap();
    let csrf = hidden(&body, "csrf_token");
    let res = form(
        &app,
        "/demo/admin/security/sessions",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("idle_minutes", "0"),
            ("absolute_hours", ""),
            ("token_max_days", ""),
        ],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("between 1 and 1440"));
    let res = form(
        &app,
        "/demo/admin/security/sessions",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("idle_minutes", "5"),
            ("absolute_hours", ""),
            ("token_max_days", "30"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    // The browser's own session now ends after 5 idle minutes.
    app.clock.advance(chrono::Duration::minutes(6));
    assert_eq!(
        page(&app, "/demo/admin/security", &admin).await.status(),
        303
    );
    let token = app.admin_token().await;
    let s: serde_json::Value = app
        .get("/demo/api/v1/settings/sessions", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(s["idle_minutes"], 5);
    assert_eq!(s["absolute_hours"], serde_json::Value::Null);
    assert_eq!(s["effective_token_max_days"], 30);
}

/// The dashboard and the pipeline board show only the records the user's role lets them see.
#[tokio::test]
async fn ui_dashboard_and_pipeline_show_only_visible_records() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &serde_json::json!({
                "name": "Own sales",
                "rights": ["sales.read", "sales.write", "companies.read"],
                "visibility": "own",
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let token = app.user_with_role_named("demo", "sune", "Own sales").await;
    for (who, title) in [(&admin, "Hidden Deal"), (&token, "Own Deal")] {
        let res = app
            .post(
                "/demo/api/v1/sales",
                who,
                &serde_json::json!({ "title": title }),
            )
            .await;
        assert_eq!(res.status(), 201, "{title}");
    }
    let cookie = ui_sign_in(
        &app,
        "sune",
        &skjold_testkit::user_password("sune"),
        "/demo/",
    )
    .await;
    for path in [
        "/demo/",
        "/demo/sales/pipeline",
        "/demo/sales",
        "/demo/sales?q=deal",
    ] {
        let res = page(&app, path, &cookie).await;
        assert_eq!(res.status(), 200, "{path}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains("Own Deal"),
            "{path} lacks the user's own sale"
        );
        assert!(!body.contains("Hidden Deal"), "{path} shows another's sale");
    }
    // No section the role does not read, and no Admin entry.
    let body = page(&app, "/demo/", &cookie).await.text().await.unwrap();
    assert!(!body.contains("My open activities"));
    assert!(!body.contains("/demo/persons\""));
    assert!(!body.contains("/demo/admin/"));
    assert_eq!(page(&app, "/demo/persons", &cookie).await.status(), 403);
}

/// A record form's owner choice offers only the users the reader's sight includes: the
/// owners the store accepts. Others' names are not shown to a user who cannot see their
/// records.
#[tokio::test]
async fn ui_owner_choice_offers_only_users_within_sight() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (name, visibility) in [("Own sellers", "own"), ("Team sellers", "team")] {
        let res = app
            .post(
                "/demo/api/v1/roles",
                &admin,
                &serde_json::json!({
                    "name": name,
                    "rights": ["companies.read", "companies.write"],
                    "visibility": visibility,
                }),
            )
            .await;
        assert_eq!(res.status(), 201, "{name}");
    }
    app.user_with_role_named("demo", "olga", "Own sellers")
        .await;
    let tess_token = app
        .user_with_role_named("demo", "tess", "Team sellers")
        .await;
    let mate = app
        .user_with_role_named("demo", "timo", "Team sellers")
        .await;
    app.user_with_role_named("demo", "xena", "Team sellers")
        .await;
    let res = app
        .post(
            "/demo/api/v1/teams",
            &admin,
            &serde_json::json!({"name": "North"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let team = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    for (name, token) in [("tess", &tess_token), ("timo", &mate)] {
        let me = app.get("/demo/api/v1/me", token).await;
        let id = me.json::<serde_json::Value>().await.unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        let res = app
            .post(
                &format!("/demo/api/v1/teams/{team}/members"),
                &admin,
                &serde_json::json!({"user_id": id}),
            )
            .await;
        assert_eq!(res.status(), 204, "{name}");
    }
    // Timo's company, for an edit form whose owner is a team mate.
    let res = app
        .post(
            "/demo/api/v1/companies",
            &mate,
            &serde_json::json!({"name": "Timo Co"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let timo_co = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    let owners = |body: String| -> Vec<String> {
        let select = &body[body.find("name=\"owner_id\"").expect("an owner select")..];
        let select = &select[..select.find("</select>").unwrap()];
        select
            .split("<option")
            .skip(1)
            .map(|o| {
                o[o.find('>').unwrap() + 1..o.find("</option>").unwrap()]
                    .trim()
                    .to_string()
            })
            .collect()
    };
    let olga = ui_sign_in(
        &app,
        "olga",
        &skjold_testkit::user_password("olga"),
        "/demo/",
    )
    .await;
    let body = page(&app, "/demo/companies/new", &olga)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(owners(body), ["olga"]);

    let tess = ui_sign_in(
        &app,
        "tess",
        &skjold_testkit::user_password("tess"),
        "/demo/",
    )
    .await;
    let body = page(&app, "/demo/companies/new", &tess)
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(owners(body), ["tess", "timo"]);
    let res = page(&app, &format!("/demo/companies/{timo_co}/edit"), &tess).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("selected"), "the current owner is chosen");
    assert_eq!(owners(body), ["tess", "timo"]);

    // Whoever sees everything may hand a record to anyone.
    let all = page(
        &app,
        "/demo/companies/new",
        &ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await,
    )
    .await
    .text()
    .await
    .unwrap();
    let all = owners(all);
    for name in ["olga", "tess", "timo", "xena"] {
        assert!(
            all.contains(&name.to_string()),
            "{name} missing from {all:?}"
        );
    }
}

/// A list offers its download to holders of `export` only; the download takes the list's
/// search and refuses a forged request without the right.
#[tokio::test]
async fn ui_lists_offer_the_download_only_to_holders_of_export() {
    let app = spawn_app().await;
    let admin_token = app.admin_token().await;
    for name in ["Fjord Freight", "Fjell Foods", "Oslo Optics"] {
        let res = app
            .post(
                "/demo/api/v1/companies",
                &admin_token,
                &serde_json::json!({"name": name}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    app.user_with_role("demo", "ulf", Role::User).await;
    let ulf = ui_sign_in(&app, "ulf", &skjold_testkit::user_password("ulf"), "/demo/").await;
    let body = page(&app, "/demo/companies", &ulf)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("Fjord Freight"));
    assert!(
        !body.contains("/demo/companies/export"),
        "no download without export"
    );
    let res = page(&app, "/demo/companies/export?format=csv", &ulf).await;
    assert_eq!(res.status(), 403);

    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let body = page(&app, "/demo/companies?q=fj", &admin)
        .await
        .text()
        .await
        .unwrap();
    let href = "/demo/companies/export?q=fj&#38;format=csv";
    assert!(
        body.contains(href),
        "the download keeps the search: {}",
        body.lines()
            .filter(|l| l.contains("export"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let res = page(&app, &href.replace("&#38;", "&"), &admin).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    let text = res.text().await.unwrap();
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.contains("Fjell Foods") && !text.contains("Oslo Optics"));
    let res = page(&app, "/demo/companies/export?format=pdf", &admin).await;
    assert_eq!(res.status(), 400);
    assert!(res.text().await.unwrap().contains("csv or jsonl"));
}

/// "Admin" leads to the first admin page the user may open, whichever admin right their
/// role holds; without any, there is no Admin entry and `/admin` is refused.
#[tokio::test]
async fn ui_admin_leads_to_the_first_admin_page_the_role_may_open() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    for (name, rights) in [
        ("Restorer", vec!["companies.read", "backup.restore"]),
        ("Auditor", vec!["companies.read", "audit.read"]),
    ] {
        let res = app
            .post(
                "/demo/api/v1/roles",
                &admin,
                &serde_json::json!({"name": name, "rights": rights, "visibility": "all"}),
            )
            .await;
        assert_eq!(res.status(), 201, "{name}");
    }
    app.user_with_role_named("demo", "rita", "Restorer").await;
    app.user_with_role_named("demo", "aksel", "Auditor").await;
    app.user_with_role("demo", "ulf", Role::User).await;
    for (user, page_path) in [
        ("rita", "/demo/admin/backups"),
        ("aksel", "/demo/admin/audit"),
        ("admin", "/demo/admin/users"),
    ] {
        let password = if user == "admin" {
            app.admin_password.clone()
        } else {
            skjold_testkit::user_password(user)
        };
        let cookie = ui_sign_in(&app, user, &password, "/demo/").await;
        let body = page(&app, "/demo/", &cookie).await.text().await.unwrap();
        assert!(
            body.contains(&format!("<a href=\"{page_path}\">Admin</a>")),
            "{user}'s Admin entry leads to {page_path}"
        );
        let res = page(&app, "/demo/admin", &cookie).await;
        assert_eq!(res.status(), 303, "{user}");
        assert_eq!(res.headers()[LOCATION], page_path, "{user}");
        assert_eq!(page(&app, page_path, &cookie).await.status(), 200, "{user}");
    }
    let cookie = ui_sign_in(&app, "ulf", &skjold_testkit::user_password("ulf"), "/demo/").await;
    let body = page(&app, "/demo/", &cookie).await.text().await.unwrap();
    assert!(
        !body.contains(">Admin</a>"),
        "no Admin entry without an admin right"
    );
    assert_eq!(page(&app, "/demo/admin", &cookie).await.status(), 403);
}

#[tokio::test]
async fn ui_backups_page_restores_after_a_confirmation() {
    let app = crate::backup::app_with_backups(true).await;
    let slug = skjold_domain::TenantSlug::parse("demo").unwrap();
    let backups = app.state.backups.clone().unwrap();
    backups.snapshot(&slug, "manual").await.unwrap();
    app.clock.advance(chrono::Duration::seconds(5));
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let res = page(&app, "/demo/admin/backups", &admin).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Destinations") && body.contains("snapshot (manual)"),
        "{body}"
    );
    let csrf = hidden(&body, "csrf_token");
    let at = skjold_domain::clock::format_timestamp(
        skjold_domain::Clock::now(&app.clock) - chrono::Duration::seconds(1),
    );
    // The first post only asks for confirmation.
    let res = form(
        &app,
        "/demo/admin/backups/restore",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("at", &at),
            ("into", "demo-restored-ui"),
        ],
    )
    .await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Yes, restore") && body.contains("demo-restored-ui"),
        "{body}"
    );
    assert!(app
        .state
        .tenants
        .catalog()
        .runs(Some("restore"), 10)
        .await
        .unwrap()
        .is_empty());
    // A bad moment is refused with the form again.
    let res = form(
        &app,
        "/demo/admin/backups/restore",
        &admin,
        &[("csrf_token", &csrf), ("at", "soon"), ("into", "")],
    )
    .await;
    assert_eq!(res.status(), 422);
    let res = form(
        &app,
        "/demo/admin/backups/restore",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("at", &at),
            ("into", "demo-restored-ui"),
            ("confirmed", "yes"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(res.headers()[LOCATION]
        .to_str()
        .unwrap()
        .ends_with("msg=restore-started"));
    let mut done = false;
    for _ in 0..600 {
        let runs = app
            .state
            .tenants
            .catalog()
            .runs(Some("restore"), 10)
            .await
            .unwrap();
        if runs[0].outcome != skjold_store::RunOutcome::Running {
            assert_eq!(runs[0].outcome, skjold_store::RunOutcome::Ok, "{runs:?}");
            done = true;
            break;
        }
        #[allow(clippy::disallowed_methods)] // waiting for a background job, bounded
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(done);
    // The page the start redirects to shows the restore's panel with how it ended (a
    // reload is all it takes without scripts), and the panel's poll answers the same.
    let body = page(&app, "/demo/admin/backups?msg=restore-started", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(body.contains("Restore finished: ok"), "{body}");
    assert!(body.contains("Last step: done"), "{body}");
    assert!(body.contains("replaying the journal ("), "{body}");
    let id = app
        .state
        .tenants
        .catalog()
        .runs(Some("restore"), 1)
        .await
        .unwrap()[0]
        .id
        .clone();
    let res = page(&app, &format!("/demo/admin/backups/restores/{id}"), &admin).await;
    assert_eq!(res.status(), 200);
    let panel = res.text().await.unwrap();
    assert!(panel.contains("Restore finished: ok"), "{panel}");
    // Over, so it no longer polls.
    assert!(!panel.contains("hx-trigger"), "{panel}");
    assert_eq!(
        page(
            &app,
            "/demo/admin/backups/restores/0123456789abcdef0123456789abcdef",
            &admin
        )
        .await
        .status(),
        404
    );
    let new = skjold_domain::TenantSlug::parse("demo-restored-ui").unwrap();
    assert!(app
        .state
        .tenants
        .catalog()
        .get(&new)
        .await
        .unwrap()
        .is_some());
}

/// The per-user actions of the admin pages refuse, like the API, a user manager acting on an
/// administrator (whose role they do not hold), and the administrator is left as they were.
#[tokio::test]
async fn ui_per_user_actions_refuse_users_above_the_actors_role() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &serde_json::json!({"name": "People", "rights": ["users.read", "users.manage"], "visibility": "all"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.user_with_role_named("demo", "mallory", "People").await;
    let users: serde_json::Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let admin_id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mallory = ui_sign_in(
        &app,
        "mallory",
        &skjold_testkit::user_password("mallory"),
        "/demo/",
    )
    .await;
    let user_page = format!("/demo/admin/users/{admin_id}");
    let body = page(&app, &user_page, &mallory).await.text().await.unwrap();
    let token = hidden(&body, "csrf_token");
    for (action, fields) in [
        ("/password", vec![]),
        ("/sessions", vec![]),
        ("/two-factor", vec![("required", "no")]),
        ("/status", vec![("to", "disabled")]),
        (
            "",
            vec![
                ("display_name", "pwned"),
                ("email", "mallory@evil.example"),
                ("phone", ""),
                ("role", "administrator"),
            ],
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", &token));
        let res = form(&app, &format!("{user_page}{action}"), &mallory, &fields).await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert_eq!(status, 403, "{action}: {text}");
        assert!(text.contains("whose role you hold"), "{action}: {text}");
    }
    // The administrator's session and password still work, and nothing of theirs changed.
    let me: serde_json::Value = app
        .get("/demo/api/v1/me", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], serde_json::Value::Null, "{me}");
    assert_ne!(me["display_name"], "pwned");
    app.admin_token().await;
}

/// A token made in the web UI long after signing in needs the password again: the form
/// sends the browser to "Confirm it is you", which checks the password (a wrong one counts
/// and says so) and sends it back to the profile, where the token is then made.
#[tokio::test]
async fn ui_a_token_long_after_sign_in_needs_the_password_again() {
    let app = spawn_app().await;
    let password = app.admin_password.clone();
    let admin = ui_sign_in(&app, "admin", &password, "/demo/").await;
    // Eleven minutes on, the session kept alive meanwhile.
    for _ in 0..2 {
        app.clock.advance(chrono::Duration::minutes(6));
        assert_eq!(page(&app, "/demo/me", &admin).await.status(), 200);
    }
    let body = page(&app, "/demo/me", &admin).await.text().await.unwrap();
    let csrf = hidden(&body, "csrf_token");
    let token_form = [
        ("csrf_token", csrf.as_str()),
        ("name", "Sync"),
        ("scope", "companies:read"),
        ("days", "30"),
    ];
    let res = form(&app, "/demo/me/tokens", &admin, &token_form).await;
    assert_eq!(res.status(), 303);
    let to = res.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(to, "/demo/me/verify?next=%2Fdemo%2Fme");
    let res = page(&app, &to, &admin).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Confirm it is you"), "{body}");
    assert_eq!(hidden(&body, "next"), "/demo/me");

    let res = form(
        &app,
        "/demo/me/verify",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("next", "/demo/me"),
            ("password", "not-the-password"),
        ],
    )
    .await;
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("That is not right"));
    let res = form(
        &app,
        "/demo/me/verify",
        &admin,
        &[
            ("csrf_token", &csrf),
            ("next", "/demo/me"),
            ("password", &password),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()[LOCATION], "/demo/me");
    let res = form(&app, "/demo/me/tokens", &admin, &token_form).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("skjapi_"));
}

#[tokio::test]
async fn ui_audit_page_offers_every_kind_the_code_writes_in_its_event_filter() {
    let app = spawn_app().await;
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let body = page(&app, "/demo/admin/audit", &admin)
        .await
        .text()
        .await
        .unwrap();
    let start = body.find("<datalist id=\"audit-events\">").unwrap();
    let list = &body[start..start + body[start..].find("</datalist>").unwrap()];
    let offered: Vec<&str> = list
        .split("<option value=\"")
        .skip(1)
        .map(|o| &o[..o.find('"').unwrap()])
        .collect();
    let kinds: Vec<&str> = skjold_domain::AuditKind::ALL
        .iter()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(offered, kinds);
    for kind in [
        "http.access",
        "auth.sign_in.failed",
        "backup.restore.failed",
    ] {
        assert!(offered.contains(&kind), "{kind}");
    }
}

#[tokio::test]
async fn the_search_box_works_without_javascript() {
    let app = spawn_app().await;
    let token = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &serde_json::json!({"name": "Åsgard Eiendom"}),
        )
        .await;
    let id = res.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin = ui_sign_in(&app, "admin", &app.admin_password.clone(), "/demo/").await;
    let home = page(&app, "/demo/", &admin).await.text().await.unwrap();
    assert!(
        home.contains("action=\"/demo/search\""),
        "the top bar's box"
    );
    // A plain GET form: the results page needs no script.
    let res = page(&app, "/demo/search?q=asgard", &admin).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains(&format!("/demo/companies/{id}")), "{html}");
    assert!(html.contains("Åsgard Eiendom"));
    assert!(html.contains("Companies"));
    let res = page(&app, "/demo/search?q=%2A", &admin).await;
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("letter or digit"));
}
