//! Managing TOTP (status, turning it off, new recovery codes) and the tenant's two-factor
//! requirement: a user who must enrol gets a session that reaches only the enrolment
//! routes until they have a second factor.

use crate::passkeys::register;
use crate::totp::{base32_decode, code_at};
use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::{Clock, Role};
use skjold_testkit::{spawn_app, TestApp};
use webauthn_authenticator_rs::softpasskey::SoftPasskey;

async fn sign_in(app: &TestApp, user: &str, pw: &str, totp: Option<&str>) -> reqwest::Response {
    let mut body = json!({ "username": user, "password": pw });
    if let Some(t) = totp {
        body["totp"] = json!(t);
    }
    app.request(Method::POST, "/demo/api/v1/session", None)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Turns TOTP on for the session's user; answers the secret and the recovery codes.
async fn enrol_totp(app: &TestApp, session: &str) -> (Vec<u8>, Vec<String>) {
    let res = app.post("/demo/api/v1/me/totp", session, &json!({})).await;
    assert_eq!(res.status(), 201);
    let secret = base32_decode(
        res.json::<Value>().await.unwrap()["secret"]
            .as_str()
            .unwrap(),
    );
    let code = code_at(&secret, app.clock.now().timestamp());
    let res = app
        .post(
            "/demo/api/v1/me/totp/confirm",
            session,
            &json!({"code": code}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let codes = res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (secret, codes)
}

async fn problem_type(res: reqwest::Response) -> String {
    res.json::<Value>().await.unwrap()["type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn totp_status_new_recovery_codes_and_turning_it_off() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "tia", Role::User).await;
    let pw = skjold_testkit::user_password("tia");
    let status: Value = app
        .get("/demo/api/v1/me/two-factor", &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], false);
    assert_eq!(status["recovery_codes_left"], 0);
    assert_eq!(status["required"], false);
    assert_eq!(
        app.post("/demo/api/v1/me/totp/recovery-codes", &session, &json!({}))
            .await
            .status(),
        409
    );
    let (_, old_codes) = enrol_totp(&app, &session).await;
    let status: Value = app
        .get("/demo/api/v1/me/two-factor", &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], true);
    assert_eq!(status["recovery_codes_left"], 10);

    let res = app
        .post("/demo/api/v1/me/totp/recovery-codes", &session, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let new_codes: Vec<String> = res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(new_codes.len(), 10);
    assert_eq!(
        sign_in(&app, "tia", &pw, Some(&old_codes[0]))
            .await
            .status(),
        401
    );
    assert_eq!(
        sign_in(&app, "tia", &pw, Some(&new_codes[0]))
            .await
            .status(),
        201
    );
    let status: Value = app
        .get("/demo/api/v1/me/two-factor", &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recovery_codes_left"], 9);

    // Turning it off needs the password or a code; a wrong one is a 422 naming it, and
    // counts toward the lockout.
    let res = app
        .post("/demo/api/v1/me/totp/disable", &session, &json!({}))
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/demo/api/v1/me/totp/disable",
            &session,
            &json!({"password": "not-it-at-all"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "password");
    let admin = app.admin_token().await;
    let failed: Value = app
        .get(
            "/demo/api/v1/audit?event=auth.sign_in.failed&user=tia",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(
        failed.to_string().contains("totp_disable_refused"),
        "{failed}"
    );
    let res = app
        .post(
            "/demo/api/v1/me/totp/disable",
            &session,
            &json!({"password": pw}),
        )
        .await;
    assert_eq!(res.status(), 204);
    let status: Value = app
        .get("/demo/api/v1/me/two-factor", &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], false);
    assert_eq!(sign_in(&app, "tia", &pw, None).await.status(), 201);
    assert_eq!(
        app.post(
            "/demo/api/v1/me/totp/disable",
            &session,
            &json!({"password": pw})
        )
        .await
        .status(),
        409
    );
    let audit: Value = app
        .get("/demo/api/v1/audit?event=auth.totp_disabled", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["username"], "tia", "{audit}");
}

#[tokio::test]
async fn repeated_wrong_proofs_lock_the_account() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "lu", Role::User).await;
    enrol_totp(&app, &session).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = app
            .post(
                "/demo/api/v1/me/totp/disable",
                &session,
                &json!({"code": "000000"}),
            )
            .await;
        statuses.push(res.status().as_u16());
    }
    assert!(statuses.contains(&429), "{statuses:?}");
}

#[tokio::test]
async fn required_for_all_restricts_a_session_to_enrolment_until_totp() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.user_with_role("demo", "rea", Role::User).await;
    let pw = skjold_testkit::user_password("rea");

    let res = app
        .request(
            Method::PUT,
            "/demo/api/v1/settings/two-factor",
            Some(&admin),
        )
        .json(&json!({"required": "roles", "roles": ["wizard"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .request(
            Method::PUT,
            "/demo/api/v1/settings/two-factor",
            Some(&admin),
        )
        .json(&json!({"required": "all"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let policy: Value = app
        .get("/demo/api/v1/settings/two-factor", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(policy, json!({"required": "all", "roles": []}));

    let res = sign_in(&app, "rea", &pw, None).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["two_factor_enrolment_required"], true);
    let token = body["token"].as_str().unwrap().to_string();
    let res = app.get("/demo/api/v1/companies", &token).await;
    assert_eq!(res.status(), 403);
    assert!(problem_type(res)
        .await
        .ends_with(":two-factor-enrolment-required"));
    assert_eq!(app.get("/demo/api/v1/me", &token).await.status(), 200);
    let status: Value = app
        .get("/demo/api/v1/me/two-factor", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["enrolment_required"], true);
    assert_eq!(status["required"], true);
    let res = app.get("/demo/api/v1/me/sessions", &token).await;
    assert_eq!(res.status(), 403);

    enrol_totp(&app, &token).await;
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    // Turning off the only factor is refused while it is required.
    let res = app
        .post(
            "/demo/api/v1/me/totp/disable",
            &token,
            &json!({"password": pw}),
        )
        .await;
    assert_eq!(res.status(), 409);
    // The requirement is audited; users without the right cannot change it.
    let audit: Value = app
        .get(
            "/demo/api/v1/audit?event=settings.two_factor_changed",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        audit["items"][0]["detail"]["after"]["required"], "all",
        "{audit}"
    );
    let res = app
        .request(
            Method::PUT,
            "/demo/api/v1/settings/two-factor",
            Some(&token),
        )
        .json(&json!({"required": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn required_of_one_user_and_enrolled_with_a_passkey() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    app.user_with_role("demo", "una", Role::Manager).await;
    let pw = skjold_testkit::user_password("una");
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let id = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == "una")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/require-two-factor"),
            &admin,
            &json!({"required": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let user: Value = app
        .get(&format!("/demo/api/v1/users/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["username"], "una");
    assert_eq!(user["two_factor_required"], true);
    assert_eq!(user["two_factor_enrolled"], false);

    // Another manager of the same tenant is not covered.
    let other = app.user_with_role("demo", "ola", Role::Manager).await;
    assert_eq!(
        app.get("/demo/api/v1/companies", &other).await.status(),
        200
    );

    let body: Value = sign_in(&app, "una", &pw, None).await.json().await.unwrap();
    assert_eq!(body["two_factor_enrolment_required"], true);
    let token = body["token"].as_str().unwrap().to_string();
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        403
    );
    let mut key = SoftPasskey::new(true);
    let res = register(&app, &token, &mut key, "Key").await;
    assert_eq!(res.status(), 201);
    let passkey: Value = res.json().await.unwrap();
    assert_eq!(
        app.get("/demo/api/v1/companies", &token).await.status(),
        200
    );
    let user: Value = app
        .get(&format!("/demo/api/v1/users/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(user["two_factor_enrolled"], true);
    // The last factor of a required user stays.
    let res = app
        .delete(
            &format!(
                "/demo/api/v1/me/passkeys/{}",
                passkey["id"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    assert_eq!(res.status(), 409);
    // Lifting the demand lets it go.
    app.post(
        &format!("/demo/api/v1/users/{id}/require-two-factor"),
        &admin,
        &json!({"required": false}),
    )
    .await;
    let res = app
        .delete(
            &format!(
                "/demo/api/v1/me/passkeys/{}",
                passkey["id"].as_str().unwrap()
            ),
            &token,
        )
        .await;
    assert_eq!(res.status(), 204);
    // A manager cannot require it of anyone (users.manage).
    let res = app
        .post(
            &format!("/demo/api/v1/users/{id}/require-two-factor"),
            &other,
            &json!({"required": true}),
        )
        .await;
    assert_eq!(res.status(), 403);
}

#[tokio::test]
async fn required_of_a_custom_role_named_by_its_name_follows_a_rename() {
    let app = spawn_app().await;
    let admin = app.admin_token().await;
    let res = app
        .post(
            "/demo/api/v1/roles",
            &admin,
            &json!({"name": "field sales", "rights": ["companies.read"], "visibility": "own"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let role: Value = res.json().await.unwrap();
    let role_id = role["id"].as_str().unwrap().to_string();
    app.user_with_role_named("demo", "fio", &role_id).await;
    app.user_with_role("demo", "mia", Role::Manager).await;

    let res = app
        .request(
            Method::PUT,
            "/demo/api/v1/settings/two-factor",
            Some(&admin),
        )
        .json(&json!({"required": "roles", "roles": ["field sales", "field sales"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let policy: Value = res.json().await.unwrap();
    // Stored by id, once.
    assert_eq!(policy, json!({"required": "roles", "roles": [role_id]}));

    // Renaming the role keeps the requirement.
    let res = app
        .request(
            Method::PATCH,
            &format!("/demo/api/v1/roles/{role_id}"),
            Some(&admin),
        )
        .json(&json!({"name": "outside sales"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let res = sign_in(&app, "fio", &skjold_testkit::user_password("fio"), None).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["two_factor_enrolment_required"], true);
    let res = sign_in(&app, "mia", &skjold_testkit::user_password("mia"), None).await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["two_factor_enrolment_required"], false);
}
