//! Passkeys through webauthn-rs's software authenticator (`SoftPasskey`, which answers
//! the ceremonies with a real P-256 key and signature counter): registration, the second
//! step after a password, passwordless sign-in by username and by a credential that names
//! its user, decoy options for names without passkeys, replay and a counter that goes
//! backwards (a cloned authenticator).

use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::Role;
use skjold_testkit::{spawn_app, TestApp};
use url::Url;
use webauthn_authenticator_rs::softpasskey::SoftPasskey;
use webauthn_authenticator_rs::WebauthnAuthenticator;
use webauthn_rs_proto::{
    AllowCredentials, CreationChallengeResponse, PublicKeyCredential, RequestChallengeResponse,
};

/// The origin the server's relying party expects (no public URL configured:
/// `https://localhost:<port>`); the requests themselves go to 127.0.0.1.
fn origin(app: &TestApp) -> Url {
    Url::parse(&format!("https://localhost:{}", app.https_addr.port())).unwrap()
}

pub(crate) async fn register(
    app: &TestApp,
    token: &str,
    key: &mut SoftPasskey,
    name: &str,
) -> reqwest::Response {
    let res = app
        .post("/demo/api/v1/me/passkeys/options", token, &json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let start: Value = res.json().await.unwrap();
    let ccr: CreationChallengeResponse = serde_json::from_value(start["options"].clone()).unwrap();
    let credential = key.do_registration(origin(app), ccr).unwrap();
    app.post(
        "/demo/api/v1/me/passkeys",
        token,
        &json!({"ceremony": start["ceremony"], "credential": credential, "name": name}),
    )
    .await
}

async fn options(app: &TestApp, body: Value) -> (u16, Value) {
    let res = app
        .request(Method::POST, "/demo/api/v1/session/passkey/options", None)
        .json(&body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn request_options(start: &Value) -> RequestChallengeResponse {
    serde_json::from_value(start["options"].clone()).unwrap()
}

async fn finish(
    app: &TestApp,
    ceremony: &Value,
    credential: &PublicKeyCredential,
) -> reqwest::Response {
    app.request(Method::POST, "/demo/api/v1/session/passkey", None)
        .json(&json!({"ceremony": ceremony, "credential": credential}))
        .send()
        .await
        .unwrap()
}

async fn problem_type(res: reqwest::Response) -> String {
    res.json::<Value>().await.unwrap()["type"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn passkeys_register_and_sign_in_after_a_password_or_without_one() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "pia", Role::User).await;
    let pw = skjold_testkit::user_password("pia");
    let mut key = SoftPasskey::new(true);

    let res = register(&app, &session, &mut key, "Laptop").await;
    assert_eq!(res.status(), 201);
    let passkey: Value = res.json().await.unwrap();
    assert_eq!(passkey["name"], "Laptop");
    let list: Value = app
        .get("/demo/api/v1/me/passkeys", &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let status: Value = app
        .get("/demo/api/v1/me/two-factor", &session)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], false);
    assert_eq!(status["passkeys"][0]["id"], passkey["id"]);

    // The password alone no longer signs in.
    let res = app
        .request(Method::POST, "/demo/api/v1/session", None)
        .json(&json!({"username": "pia", "password": pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(problem_type(res).await.ends_with(":second-factor-required"));

    // A wrong password gets no options.
    let (status, body) = options(
        &app,
        json!({"username": "pia", "password": "wrong-password-1"}),
    )
    .await;
    assert_eq!(status, 401, "{body}");
    assert!(body["type"].as_str().unwrap().ends_with(":sign-in-failed"));

    // The second step after the password.
    let (status, start) = options(&app, json!({"username": "pia", "password": pw})).await;
    assert_eq!(status, 200, "{start}");
    let rcr = request_options(&start);
    assert_eq!(rcr.public_key.allow_credentials.len(), 1);
    let assertion = key.do_authentication(origin(&app), rcr).unwrap();
    let res = finish(&app, &start["ceremony"], &assertion).await;
    assert_eq!(res.status(), 201);
    let signed_in: Value = res.json().await.unwrap();
    assert_eq!(signed_in["user"]["username"], "pia");
    let token = signed_in["token"].as_str().unwrap();
    assert_eq!(app.get("/demo/api/v1/me", token).await.status(), 200);
    // A ceremony is good once.
    assert_eq!(
        finish(&app, &start["ceremony"], &assertion).await.status(),
        401
    );

    // Passwordless, the username first.
    let (status, start) = options(&app, json!({"username": "pia"})).await;
    assert_eq!(status, 200);
    let assertion = key
        .do_authentication(origin(&app), request_options(&start))
        .unwrap();
    assert_eq!(
        finish(&app, &start["ceremony"], &assertion).await.status(),
        201
    );

    // Passwordless, the credential names its user (a discoverable credential). The software
    // authenticator keeps no resident keys, so the test does what a platform authenticator
    // does inside: it picks its credential for the relying party and reports the user
    // handle it stored at registration (the handle is not part of the signed data).
    let me: Value = app
        .get("/demo/api/v1/me", &session)
        .await
        .json()
        .await
        .unwrap();
    let user_id = uuid::Uuid::parse_str(me["id"].as_str().unwrap()).unwrap();
    let cred_id = assertion.raw_id.clone();
    let discoverable = |key: &mut SoftPasskey, start: &Value, handle: uuid::Uuid| {
        let mut rcr = request_options(start);
        assert!(rcr.public_key.allow_credentials.is_empty());
        assert!(rcr.mediation.is_none());
        rcr.public_key.allow_credentials = vec![AllowCredentials {
            type_: "public-key".into(),
            id: cred_id.clone(),
            transports: None,
        }];
        let mut a = key.do_authentication(origin(&app), rcr).unwrap();
        a.response.user_handle = Some(handle.as_bytes().to_vec());
        a
    };
    let (_, start) = options(&app, json!({})).await;
    let a = discoverable(&mut key, &start, user_id);
    let res = finish(&app, &start["ceremony"], &a).await;
    assert_eq!(res.status(), 201);
    // The same credential claiming another user is refused.
    let (_, start) = options(&app, json!({})).await;
    let a = discoverable(&mut key, &start, uuid::Uuid::new_v4());
    assert_eq!(finish(&app, &start["ceremony"], &a).await.status(), 401);

    // Rename, then remove.
    let id = passkey["id"].as_str().unwrap();
    let res = app
        .patch(
            &format!("/demo/api/v1/me/passkeys/{id}"),
            &session,
            &json!({"name": "Phone"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["name"], "Phone");
    let res = app
        .patch(
            &format!("/demo/api/v1/me/passkeys/{id}"),
            &session,
            &json!({"name": ""}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert_eq!(
        app.delete(&format!("/demo/api/v1/me/passkeys/{id}"), &session)
            .await
            .status(),
        204
    );
    assert_eq!(
        app.delete(&format!("/demo/api/v1/me/passkeys/{id}"), &session)
            .await
            .status(),
        404
    );
    // Without a passkey the password alone signs in again.
    let res = app
        .request(Method::POST, "/demo/api/v1/session", None)
        .json(&json!({"username": "pia", "password": pw}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
}

#[tokio::test]
async fn a_signature_counter_that_goes_back_is_refused_as_a_clone() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "cleo", Role::User).await;
    let mut key = SoftPasskey::new(true);
    assert_eq!(
        register(&app, &session, &mut key, "Key").await.status(),
        201
    );
    // Two ceremonies at once; the authenticator answers the first, then the second (its
    // counter goes up each time); the later answer arrives first. The earlier one then
    // shows a counter below the stored one: what a copy of the key would show.
    let (_, first) = options(&app, json!({"username": "cleo"})).await;
    let (_, second) = options(&app, json!({"username": "cleo"})).await;
    let a1 = key
        .do_authentication(origin(&app), request_options(&first))
        .unwrap();
    let a2 = key
        .do_authentication(origin(&app), request_options(&second))
        .unwrap();
    assert_eq!(finish(&app, &second["ceremony"], &a2).await.status(), 201);
    let res = finish(&app, &first["ceremony"], &a1).await;
    assert_eq!(res.status(), 401);
    let admin = app.admin_token().await;
    let audit: Value = app
        .get(
            "/demo/api/v1/audit?event=auth.passkey_clone_suspected",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(audit["items"][0]["username"], "cleo", "{audit}");
}

/// Everything but the random parts: which keys each object has, and how many credentials.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::String(s) => json!(format!("string/{}", s.len().min(1))),
        other => other.clone(),
    }
}

#[tokio::test]
async fn unknown_usernames_get_decoy_options_shaped_like_real_ones() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "real", Role::User).await;
    app.user_with_role("demo", "nokey", Role::User).await;
    let mut key = SoftPasskey::new(true);
    assert_eq!(
        register(&app, &session, &mut key, "Key").await.status(),
        201
    );

    let (s1, real) = options(&app, json!({"username": "real"})).await;
    let (s2, ghost) = options(&app, json!({"username": "ghost"})).await;
    let (s3, nokey) = options(&app, json!({"username": "nokey"})).await;
    assert_eq!((s1, s2, s3), (200, 200, 200));
    for decoy in [&ghost, &nokey] {
        let (r, d) = (
            &real["options"]["publicKey"],
            &decoy["options"]["publicKey"],
        );
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(r), keys(d), "{real} / {decoy}");
        assert_eq!(
            keys(&r["allowCredentials"][0]),
            keys(&d["allowCredentials"][0])
        );
        assert_eq!(
            shape(&real["options"]).get("mediation"),
            shape(&decoy["options"]).get("mediation")
        );
        assert!(!d["allowCredentials"].as_array().unwrap().is_empty());
    }
    // The same name shows the same decoy credentials every time, with a new challenge.
    let (_, again) = options(&app, json!({"username": "ghost"})).await;
    let pk = |v: &Value| v["options"]["publicKey"].clone();
    assert_eq!(
        pk(&again)["allowCredentials"],
        pk(&ghost)["allowCredentials"]
    );
    assert_ne!(pk(&again)["challenge"], pk(&ghost)["challenge"]);
    assert_ne!(
        pk(&nokey)["allowCredentials"],
        pk(&ghost)["allowCredentials"]
    );
    // A decoy ceremony never signs in, even with a real passkey's answer.
    let mut rcr = request_options(&ghost);
    let (_, real_start) = options(&app, json!({"username": "real"})).await;
    rcr.public_key.allow_credentials = request_options(&real_start).public_key.allow_credentials;
    let a = key.do_authentication(origin(&app), rcr).unwrap();
    assert_eq!(finish(&app, &ghost["ceremony"], &a).await.status(), 401);
}
