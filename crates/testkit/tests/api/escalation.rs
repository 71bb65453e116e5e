//! Nobody acts on a user above their own role: a user manager whose role lacks what an
//! administrator holds cannot take over the administrator's account by any of the per-user
//! actions — reset the password, end their access, switch off their two-factor requirement,
//! lift a lock on their name, change their e-mail, or share a team with them — through the
//! API or the web UI. Each refusal leaves the administrator as they were, and the same
//! actions on a user whose role the manager holds still work.

use reqwest::Method;
use serde_json::{json, Value};
use skjold_testkit::{spawn_app, TestApp};

async fn body(res: reqwest::Response) -> Value {
    res.json().await.unwrap()
}

async fn id_of(app: &TestApp, token: &str, username: &str) -> String {
    let users = body(app.get("/demo/api/v1/users", token).await).await;
    users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap_or_else(|| panic!("{username} in {users}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The demo administrator's token, and a user manager `mallory` whose role holds only
/// users.read and users.manage (with the given visibility), and a plain user `paul` with
/// a role `Clerk` that mallory's covers.
async fn setup(app: &TestApp, visibility: &str) -> (String, String) {
    let admin = app.admin_token().await;
    for (name, rights, vis) in [
        ("People", json!(["users.read", "users.manage"]), visibility),
        ("Clerk", json!(["users.read"]), "own"),
    ] {
        let res = app
            .post(
                "/demo/api/v1/roles",
                &admin,
                &json!({"name": name, "rights": rights, "visibility": vis}),
            )
            .await;
        assert_eq!(res.status(), 201);
    }
    let mallory = app.user_with_role_named("demo", "mallory", "People").await;
    app.user_with_role_named("demo", "paul", "Clerk").await;
    (admin, mallory)
}

async fn assert_refused(res: reqwest::Response, what: &str) {
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 403, "{what}: {text}");
    assert!(
        text.contains("whose role you hold"),
        "{what} names the rule: {text}"
    );
}

#[tokio::test]
async fn a_user_manager_cannot_act_on_an_administrator_through_the_api() {
    let app = spawn_app().await;
    let (admin, mallory) = setup(&app, "all").await;
    let admin_id = id_of(&app, &admin, "admin").await;
    let paul_id = id_of(&app, &admin, "paul").await;
    let users = |id: &str, rest: &str| format!("/demo/api/v1/users/{id}{rest}");

    // The administrator requires a second factor of themselves; mallory tries it all.
    let res = app
        .post(
            &users(&admin_id, "/require-two-factor"),
            &admin,
            &json!({"required": true}),
        )
        .await;
    assert_eq!(res.status(), 200);

    assert_refused(
        app.post(
            &users(&admin_id, "/password"),
            &mallory,
            &json!({"password": "Mallory-owns-this-1"}),
        )
        .await,
        "password reset",
    )
    .await;
    assert_refused(
        app.delete(&users(&admin_id, "/sessions"), &mallory).await,
        "end sessions",
    )
    .await;
    assert_refused(
        app.post(
            &users(&admin_id, "/require-two-factor"),
            &mallory,
            &json!({"required": false}),
        )
        .await,
        "two-factor requirement off",
    )
    .await;
    assert_refused(
        app.patch(
            &users(&admin_id, ""),
            &mallory,
            &json!({"email": "mallory@evil.example"}),
        )
        .await,
        "e-mail change",
    )
    .await;
    assert_refused(
        app.patch(
            &users(&admin_id, ""),
            &mallory,
            &json!({"display_name": "pwned"}),
        )
        .await,
        "name change",
    )
    .await;

    // A lock on the administrator's name is theirs: only someone who holds their role lifts it.
    for _ in 0..5 {
        app.request(Method::POST, "/demo/api/v1/session", None)
            .json(&json!({"username": "admin", "password": "wrong-password-here"}))
            .send()
            .await
            .unwrap();
    }
    assert_refused(
        app.delete("/demo/api/v1/sign-in-locks/admin", &mallory)
            .await,
        "lift the administrator's lock",
    )
    .await;

    // Nothing changed: the administrator's session works, their details and requirement
    // stand, and the lock is still there (lifted by an administrator only).
    let me = body(app.get("/demo/api/v1/me", &admin).await).await;
    assert_eq!(me["email"], Value::Null, "{me}");
    assert_ne!(me["display_name"], "pwned");
    let detail = body(app.get(&users(&admin_id, ""), &admin).await).await;
    assert_eq!(detail["two_factor_required"], true, "{detail}");
    let locks = body(app.get("/demo/api/v1/sign-in-locks", &admin).await).await;
    assert!(locks.to_string().contains("\"admin\""), "{locks}");
    assert_eq!(
        app.delete("/demo/api/v1/sign-in-locks/admin", &admin)
            .await
            .status(),
        204
    );

    // Within their own role's reach, mallory does all of it.
    let res = app
        .post(&users(&paul_id, "/password"), &mallory, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    assert!(body(res).await["one_time_password"].is_string());
    assert_eq!(
        app.delete(&users(&paul_id, "/sessions"), &mallory)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.patch(
            &users(&paul_id, ""),
            &mallory,
            &json!({"email": "paul@example.com"})
        )
        .await
        .status(),
        200
    );
    assert_eq!(
        app.post(
            &users(&paul_id, "/require-two-factor"),
            &mallory,
            &json!({"required": true})
        )
        .await
        .status(),
        200
    );
}

#[tokio::test]
async fn a_team_manager_cannot_share_a_team_with_an_administrator() {
    let app = spawn_app().await;
    // Team visibility: whoever shares a team with the administrator reads their records.
    let (admin, mallory) = setup(&app, "team").await;
    let admin_id = id_of(&app, &admin, "admin").await;
    let mallory_id = id_of(&app, &admin, "mallory").await;
    let paul_id = id_of(&app, &admin, "paul").await;
    let secret = app
        .post(
            "/demo/api/v1/companies",
            &admin,
            &json!({"name": "Board secrets"}),
        )
        .await;
    assert_eq!(secret.status(), 201);

    let res = app
        .post("/demo/api/v1/teams", &mallory, &json!({"name": "Takeover"}))
        .await;
    assert_eq!(res.status(), 201);
    let team = body(res).await["id"].as_str().unwrap().to_string();
    let members = format!("/demo/api/v1/teams/{team}/members");
    // Mallory may put herself and paul in a team …
    for id in [&mallory_id, &paul_id] {
        let res = app.post(&members, &mallory, &json!({"user_id": id})).await;
        assert_eq!(res.status(), 204);
    }
    // … but not the administrator.
    assert_refused(
        app.post(&members, &mallory, &json!({"user_id": admin_id}))
            .await,
        "add the administrator to a team",
    )
    .await;

    // Nor join a team the administrator is in.
    let res = app
        .post("/demo/api/v1/teams", &admin, &json!({"name": "Board"}))
        .await;
    let board = body(res).await["id"].as_str().unwrap().to_string();
    let board_members = format!("/demo/api/v1/teams/{board}/members");
    assert_eq!(
        app.post(&board_members, &admin, &json!({"user_id": admin_id}))
            .await
            .status(),
        204
    );
    let res = app
        .post(&board_members, &mallory, &json!({"user_id": mallory_id}))
        .await;
    assert_eq!(res.status(), 403, "{}", res.text().await.unwrap());
    // Nor take the administrator out of a team.
    let res = app
        .delete(&format!("{board_members}/{admin_id}"), &mallory)
        .await;
    assert_eq!(res.status(), 403);

    // So the administrator's records stay out of her sight.
    let list = body(app.get("/demo/api/v1/companies", &mallory).await).await;
    assert!(!list.to_string().contains("Board secrets"), "{list}");
}

/// Invitations are actions on another user's account too: a user manager cannot withdraw
/// (or make) the invitation of someone above their role, and the refused withdrawal leaves
/// the link working and records no `user.invite_withdrawn`.
#[tokio::test]
async fn a_user_manager_cannot_withdraw_an_administrators_invitation() {
    let app = spawn_app().await;
    let (admin, mallory) = setup(&app, "all").await;
    let res = app
        .post(
            "/demo/api/v1/users",
            &admin,
            &json!({"username": "ada2", "role": "administrator", "invite": true}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let created = body(res).await;
    let ada = created["user"]["id"]
        .as_str()
        .or(created["id"].as_str())
        .unwrap_or_else(|| panic!("{created}"))
        .to_string();
    let invite = format!("/demo/api/v1/users/{ada}/invite");
    assert_refused(app.delete(&invite, &mallory).await, "withdraw").await;
    assert_refused(
        app.post(&invite, &mallory, &json!({})).await,
        "re-invite (replacing the link)",
    )
    .await;
    let trail = app
        .get("/demo/api/v1/audit?event=user.invite_withdrawn", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(!trail.contains(&ada), "{trail}");
    // The administrator's own withdrawal works, once.
    assert_eq!(app.delete(&invite, &admin).await.status(), 204);
    assert_eq!(app.delete(&invite, &admin).await.status(), 404);
}
