//! Invitation links and service users: a person invited sets their own password through a
//! one-time link; a service user has no password and reaches the API only with tokens an
//! administrator makes for it.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn sign_in_status(app: &TestApp, username: &str, password: &str) -> u16 {
    app.request(Method::POST, "/demo/api/v1/session", None)
        .json(&json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn accept(app: &TestApp, token: &str, password: &str) -> reqwest::Response {
    app.request(Method::POST, "/demo/api/v1/invites/accept", None)
        .json(&json!({ "token": token, "password": password }))
        .send()
        .await
        .unwrap()
}

/// The token at the end of an invitation link.
fn token_of(link: &str) -> String {
    let (_, token) = link.rsplit_once("/invite/").expect("an invitation link");
    token.to_string()
}

async fn invite_new_user(app: &TestApp, admin: &str, username: &str) -> (String, String) {
    let res = app
        .post(
            "/demo/api/v1/users",
            admin,
            &json!({"username": username, "role": "user", "invite": true}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    assert!(created.get("one_time_password").is_none(), "{created}");
    let url = created["invite"]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with("https://"), "{url}");
    assert!(url.contains("/demo/invite/skj_"), "{url}");
    (created["user"]["id"].as_str().unwrap().to_string(), url)
}

#[tokio::test]
async fn an_invited_person_sets_their_own_password_once() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, url) = invite_new_user(&app, &admin, "ivy").await;
    let token = token_of(&url);

    // Before accepting, no password signs them in.
    assert_eq!(sign_in_status(&app, "ivy", "").await, 401);
    assert_eq!(
        sign_in_status(&app, "ivy", "correct horse battery").await,
        401
    );
    let detail = body(app.get(&format!("/demo/api/v1/users/{id}"), &admin).await).await;
    assert_eq!(detail["invite"]["expired"], false, "{detail}");
    assert!(
        detail["invite"].get("url").is_none(),
        "the link is shown once"
    );

    // The tenant's policy applies, and the refusal names its rule.
    let res = accept(&app, &token, "short").await;
    assert_eq!(res.status(), 422);
    let problem = body(res).await;
    assert_eq!(problem["rule"], "min_length", "{problem}");
    let res = accept(&app, &token, "ivy-picked-this-herself").await;
    assert_eq!(
        res.status(),
        422,
        "the username inside the password is refused"
    );

    let res = accept(&app, &token, "a quiet meadow at dawn").await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["username"], "ivy");
    assert_eq!(
        sign_in_status(&app, "ivy", "a quiet meadow at dawn").await,
        201
    );

    // Used up: a second use, even with another password, is refused.
    let res = accept(&app, &token, "another quiet meadow").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        sign_in_status(&app, "ivy", "a quiet meadow at dawn").await,
        201
    );
    let detail = body(app.get(&format!("/demo/api/v1/users/{id}"), &admin).await).await;
    assert!(detail["invite"].is_null(), "{detail}");

    // Both steps are in the audit trail, and the token is nowhere in it.
    let trail = app
        .get("/demo/api/v1/audit?limit=500", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(trail.contains("user.invited"), "{trail}");
    assert!(trail.contains("user.invite_accepted"), "{trail}");
    assert!(
        !trail.contains(&token),
        "the invitation token leaked into the trail"
    );
}

#[tokio::test]
async fn an_invitation_expires_is_replaced_and_can_be_withdrawn() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let (id, first) = invite_new_user(&app, &admin, "ole").await;

    // A new invitation replaces the old link.
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/invite"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let second = body(res).await["url"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(
        accept(&app, &token_of(&first), "a quiet meadow at dawn")
            .await
            .status(),
        404
    );

    // After seven days (by the test clock) the link is void.
    app.clock
        .advance(chrono::Duration::days(7) + chrono::Duration::seconds(1));
    assert_eq!(
        accept(&app, &token_of(&second), "a quiet meadow at dawn")
            .await
            .status(),
        404
    );
    // (The administrator's session ended meanwhile too.)
    let admin = app.admin_token().await;
    let detail = body(app.get(&format!("/demo/api/v1/users/{id}"), &admin).await).await;
    assert_eq!(detail["invite"]["expired"], true, "{detail}");

    // Withdrawn: the link stops working at once.
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/invite"),
            &admin,
            &json!({}),
        )
        .await;
    let third = body(res).await["url"].as_str().unwrap().to_string();
    assert_eq!(
        app.delete(&format!("/demo/api/v1/users/{id}/invite"), &admin)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete(&format!("/demo/api/v1/users/{id}/invite"), &admin)
            .await
            .status(),
        404
    );
    assert_eq!(
        accept(&app, &token_of(&third), "a quiet meadow at dawn")
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn invitations_refuse_what_does_not_fit_and_guessing_is_throttled() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Contradictions are named.
    for (body_json, field) in [
        (
            json!({"username": "a1", "role": "user", "invite": true, "password": "a quiet meadow at dawn"}),
            "password",
        ),
        (
            json!({"username": "a2", "role": "user", "kind": "service", "password": "a quiet meadow at dawn"}),
            "password",
        ),
        (
            json!({"username": "a3", "role": "user", "kind": "service", "invite": true}),
            "invite",
        ),
        (
            json!({"username": "a4", "role": "user", "kind": "robot"}),
            "kind",
        ),
    ] {
        let res = app.post("/demo/api/v1/users", &admin, &body_json).await;
        assert_eq!(res.status(), 422, "{body_json}");
        let text = res.text().await.unwrap();
        assert!(text.contains(field), "{text}");
    }

    // A disabled person and a service user are not invited.
    let (id, _) = invite_new_user(&app, &admin, "dora").await;
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{id}"),
            &admin,
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/invite"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);

    // Only users.manage invites.
    let manager = app.user_with_role("demo", "meg", Role::Manager).await;
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/invite"),
            &manager,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 403);

    // A link of one tenant is nothing at another.
    app.create_tenant("other").await;
    let (_, url) = invite_new_user(&app, &admin, "otto").await;
    let res = app
        .request(Method::POST, "/other/api/v1/invites/accept", None)
        .json(&json!({ "token": token_of(&url), "password": "a quiet meadow at dawn" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    // Guessing links from one address is throttled like guessing passwords.
    let mut statuses = Vec::new();
    for i in 0..14 {
        let res = accept(&app, &format!("skj_guess{i:040}"), "a quiet meadow at dawn").await;
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 404 || *s == 429),
        "{statuses:?}"
    );
}

async fn service_user(app: &TestApp, admin: &str, username: &str, role: &str) -> String {
    let res = app
        .post(
            "/demo/api/v1/users",
            admin,
            &json!({"username": username, "role": role, "kind": "service"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    assert!(created.get("one_time_password").is_none(), "{created}");
    assert_eq!(created["user"]["kind"], "service");
    created["user"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_service_user_reaches_the_api_only_with_tokens_an_administrator_makes() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let id = service_user(&app, &admin, "crm-sync", "read-only").await;
    assert_eq!(sign_in_status(&app, "crm-sync", "").await, 401);
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/password"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/invite"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);

    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/tokens"),
            &admin,
            &json!({"name": "nightly sync", "scopes": ["companies:read", "companies:write"]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    let token = created["token"].as_str().unwrap().to_string();
    let token_id = created["id"].as_str().unwrap().to_string();

    // The token works as the service user, bounded by its role (read-only).
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    let res = app
        .post(
            "/demo/api/v1/companies",
            &token,
            &json!({"name": "Nope AS"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let me = body(app.get("/demo/api/v1/me", &token).await).await;
    assert_eq!(me["username"], "crm-sync");

    // Listed without the secret, with its last use.
    let listed = app
        .get(&format!("/demo/api/v1/users/{id}/tokens"), &admin)
        .await;
    assert_eq!(listed.status(), 200);
    let text = listed.text().await.unwrap();
    assert!(!text.contains(&token));
    let listed: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert!(listed["items"][0]["last_used_at"].is_string(), "{listed}");

    // Revoked: it stops working at once.
    let path = format!("/demo/api/v1/users/{id}/tokens/{token_id}");
    assert_eq!(app.delete(&path, &admin).await.status(), 204);
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        401
    );
    assert_eq!(app.delete(&path, &admin).await.status(), 404);

    let trail = app
        .get("/demo/api/v1/audit?event=api_token.created", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(trail.contains("crm-sync"), "{trail}");
}

#[tokio::test]
async fn tokens_are_made_for_service_users_only_and_never_above_the_makers_rights() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    // Not for a person: they make their own.
    let users = body(app.get("/demo/api/v1/users", &admin).await).await;
    let admin_id = users["items"][0]["id"].as_str().unwrap().to_string();
    let res = app
        .post(
            &format!("/demo/api/v1/users/{admin_id}/tokens"),
            &admin,
            &json!({"name": "x", "scopes": ["all:read"]}),
        )
        .await;
    assert_eq!(res.status(), 409);
    assert_eq!(
        app.get(&format!("/demo/api/v1/users/{admin_id}/tokens"), &admin)
            .await
            .status(),
        409
    );

    // A user manager without the administrator's rights cannot mint an administrator token.
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "people", "rights": ["users.read", "users.manage"], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let role = body(res).await["id"].as_str().unwrap().to_string();
    let people = app.user_with_role_named("demo", "pam", &role).await;
    let strong = service_user(&app, &admin, "ops-bot", "administrator").await;
    let res = app
        .post(
            &format!("/demo/api/v1/users/{strong}/tokens"),
            &people,
            &json!({"name": "x", "scopes": ["all:write"]}),
        )
        .await;
    assert_eq!(res.status(), 403);

    // Nor can someone without users.manage.
    let reader = app.user_with_role("demo", "rita", Role::ReadOnly).await;
    let res = app
        .post(
            &format!("/demo/api/v1/users/{strong}/tokens"),
            &reader,
            &json!({"name": "x", "scopes": ["all:read"]}),
        )
        .await;
    assert_eq!(res.status(), 403);

    // A disabled service user gets no new tokens, and its old ones stop working.
    let res = app
        .post(
            &format!("/demo/api/v1/users/{strong}/tokens"),
            &admin,
            &json!({"name": "ops", "scopes": ["all:read"]}),
        )
        .await;
    let token = body(res).await["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{strong}"),
            &admin,
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        401
    );
    let res = app
        .post(
            &format!("/demo/api/v1/users/{strong}/tokens"),
            &admin,
            &json!({"name": "ops2", "scopes": ["all:read"]}),
        )
        .await;
    assert_eq!(res.status(), 409);
}

/// An invitation link is a way into one account: it ends with whatever ends that account's
/// access — disabling the user, resetting their password, an administrator's "end all
/// access" — so an old link cannot set a password afterwards.
#[tokio::test]
async fn an_invitation_ends_with_its_users_access() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;

    // Disabled: the link no longer works, and enabling the user again does not revive it.
    let (id, url) = invite_new_user(&app, &admin, "dora").await;
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{id}"),
            &admin,
            &json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = accept(&app, &token_of(&url), "dora-picked-this-herself").await;
    assert_eq!(res.status(), 404, "{}", res.text().await.unwrap());
    let res = app
        .patch(
            &format!("/demo/api/v1/users/{id}"),
            &admin,
            &json!({"status": "active"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = accept(&app, &token_of(&url), "dora-picked-this-herself").await;
    assert_eq!(res.status(), 404);
    assert_eq!(
        sign_in_status(&app, "dora", "dora-picked-this-herself").await,
        401
    );

    // Password reset by an administrator: the reset password works, the link does not.
    let (id, url) = invite_new_user(&app, &admin, "rita").await;
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/password"),
            &admin,
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let one_time = body(res).await["one_time_password"]
        .as_str()
        .unwrap()
        .to_string();
    let res = accept(&app, &token_of(&url), "rita-picked-this-herself").await;
    assert_eq!(res.status(), 404);
    assert_eq!(sign_in_status(&app, "rita", &one_time).await, 201);
    let detail = body(app.get(&format!("/demo/api/v1/users/{id}"), &admin).await).await;
    assert_eq!(detail["invite"], Value::Null, "{detail}");

    // Ending all access withdraws it too.
    let (id, url) = invite_new_user(&app, &admin, "ezra").await;
    let res = app
        .delete(&format!("/demo/api/v1/users/{id}/sessions"), &admin)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(body(res).await["invites_withdrawn"], 1);
    let res = accept(&app, &token_of(&url), "ezra-picked-this-himself").await;
    assert_eq!(res.status(), 404);
}

/// Accepting an invitation sets a password: with the audit trail unable to record it, the
/// acceptance is refused (503), no password is set and the link stays open — it works once
/// the trail does.
#[tokio::test]
async fn an_acceptance_that_cannot_be_audited_sets_no_password() {
    let app = spawn_app().await;
    let midnight = app.a_minute_before_midnight();
    let admin = app.admin_token().await;
    let (_, link) = invite_new_user(&app, &admin, "ines").await;
    let token = token_of(&link);
    let day_file = app.audit_day_unwritable("demo", midnight);
    app.clock.advance(chrono::Duration::minutes(2));

    let res = accept(&app, &token, "Silver-Fjord-Compass-31").await;
    assert_eq!(res.status(), 503);
    let db = app.tenant_db("demo").await;
    let ines = db
        .list_users()
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.username == "ines")
        .unwrap();
    assert_eq!(
        db.history("user", &ines.id).await.unwrap().len(),
        1,
        "only the creation: no password was set"
    );

    std::fs::remove_file(&day_file).unwrap();
    let res = accept(&app, &token, "Silver-Fjord-Compass-31").await;
    assert_eq!(res.status(), 200, "the link stayed open");
    assert_eq!(
        sign_in_status(&app, "ines", "Silver-Fjord-Compass-31").await,
        201
    );
}
