//! Single sign-on against a real OpenID Connect provider running here: the certified
//! `oidc-provider` package (scripts/oidc-provider), with issuers configured like Microsoft
//! Entra ID (tenant-specific issuer, `tid`), like Google (`hd`) and as a plain provider.
//! Each test signs in through the provider's own login page over HTTP, as a browser would,
//! and checks what Skjold did: a session, or a refusal with its reason in the audit trail.

use reqwest::header::{LOCATION, SET_COOKIE};
use serde_json::{json, Value};
use skjold_testkit::{spawn_app_with, TestApp};
use std::path::Path;

const TID: &str = "11111111-2222-3333-4444-555555555555";

struct Idp {
    child: std::process::Child,
    port: u16,
    /// For the provider's control surface.
    client: reqwest::Client,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Idp {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    async fn control(&self, what: &str, body: Value) {
        let res = self
            .client
            .post(self.url(&format!("/__test/{what}")))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{what}");
    }

    async fn jwks_reads(&self, prefix: &str) -> u64 {
        let stats: Value = self
            .client
            .get(self.url("/__test/stats"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        stats["jwks"][prefix].as_u64().unwrap_or(0)
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A server whose public address is known before it starts (the provider must know the
/// redirect URI), with the presets pointing at the provider, and the provider.
async fn setup() -> (TestApp, Idp) {
    let idp_port = free_port();
    let app_port = free_port();
    let app = spawn_app_with(|c| {
        c.listen = format!("127.0.0.1:{app_port}").parse().unwrap();
        c.public_url = Some(format!("https://127.0.0.1:{app_port}").parse().unwrap());
        c.sso = skjold_app::identity_providers::Presets {
            entra_authority: format!("http://127.0.0.1:{idp_port}/entra"),
            google_issuer: format!("http://127.0.0.1:{idp_port}/google"),
            allow_private_issuers: true,
        };
    })
    .await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/oidc-provider");
    let redirects = ["demo", "other"]
        .map(|t| format!("https://127.0.0.1:{app_port}/{t}/auth/oidc/callback"))
        .join(",");
    let mut child = std::process::Command::new(script)
        .arg(idp_port.to_string())
        .arg(redirects)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("scripts/oidc-provider starts");
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The first start installs oidc-provider from npm.
    for _ in 0..1200 {
        let up = client
            .get(format!(
                "http://127.0.0.1:{idp_port}/generic/.well-known/openid-configuration"
            ))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if up {
            return (
                app,
                Idp {
                    child,
                    port: idp_port,
                    client,
                },
            );
        }
        #[allow(clippy::disallowed_methods)] // waiting for the provider to start, bounded
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the OpenID provider did not start on port {idp_port}");
}

async fn add_provider(app: &TestApp, token: &str, body: Value) -> String {
    let res = app
        .post("/demo/api/v1/identity-providers", token, &body)
        .await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert_eq!(status, 201, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    v["id"].as_str().unwrap().to_string()
}

fn generic(idp: &Idp, extra: Value) -> Value {
    let mut body = json!({
        "kind": "oidc", "name": "Test IdP", "client_id": "skjold-test",
        "client_secret": "skjold-test-secret", "issuer": idp.url("/generic"),
    });
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    body
}

/// What the callback answered.
struct Landing {
    status: u16,
    location: Option<String>,
    session_cookie: Option<String>,
    body: String,
}

/// A sign-in started at Skjold and taken to the provider's login page; `finish` logs in
/// there and comes back.
struct Started {
    sso_cookie: String,
    provider_url: String,
}

async fn start(app: &TestApp, provider_id: &str) -> Started {
    let res = app
        .client
        .get(app.url(&format!(
            "/demo/auth/oidc/{provider_id}/start?next=/demo/companies"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let sso_cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-skjold_sso="))
        .expect("the browser-binding cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let provider_url = res.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        provider_url.contains("code_challenge_method=S256"),
        "{provider_url}"
    );
    assert!(provider_url.contains("nonce="), "{provider_url}");
    Started {
        sso_cookie,
        provider_url,
    }
}

/// Logs in at the provider's own login page, as a browser that has no session there yet;
/// answers the callback URL the provider sends it back to.
async fn login_at_provider(idp: &Idp, started: &Started, login: &str, mfa: bool) -> String {
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut url = started.provider_url.clone();
    let mut posted = false;
    for _ in 0..10 {
        let res = browser.get(&url).send().await.unwrap();
        if res.status() == 200 && !posted {
            let page = res.text().await.unwrap();
            assert!(page.contains("Test identity provider"), "{page}");
            let action = page
                .split("action=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .to_string();
            let mut form = vec![("login", login), ("password", "pw")];
            if mfa {
                form.push(("mfa", "1"));
            }
            let res = browser
                .post(idp.url(&action))
                .form(&form)
                .send()
                .await
                .unwrap();
            posted = true;
            assert!(res.status().is_redirection(), "{}", res.status());
            url = absolute(idp, res.headers()[LOCATION].to_str().unwrap());
            continue;
        }
        assert!(
            res.status().is_redirection(),
            "{} at {url}: {}",
            res.status(),
            res.text().await.unwrap()
        );
        let next = absolute(idp, res.headers()[LOCATION].to_str().unwrap());
        if next.starts_with("https://") {
            return next;
        }
        url = next;
    }
    panic!("the provider did not send the browser back");
}

fn absolute(idp: &Idp, location: &str) -> String {
    if location.starts_with("http") {
        location.to_string()
    } else {
        idp.url(location)
    }
}

async fn callback(app: &TestApp, callback_url: &str, sso_cookie: Option<&str>) -> Landing {
    let mut rb = app.client.get(callback_url);
    if let Some(c) = sso_cookie {
        rb = rb.header("cookie", c);
    }
    let res = rb.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_string());
    let session_cookie = res
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("__Host-skjold_session=") && !c.contains("Max-Age=0"))
        .map(|c| c.split(';').next().unwrap().to_string());
    Landing {
        status,
        location,
        session_cookie,
        body: res.text().await.unwrap(),
    }
}

async fn sign_in(app: &TestApp, idp: &Idp, provider_id: &str, login: &str, mfa: bool) -> Landing {
    let started = start(app, provider_id).await;
    let back = login_at_provider(idp, &started, login, mfa).await;
    callback(app, &back, Some(&started.sso_cookie)).await
}

/// The newest audit record of `kind`.
async fn last_event(app: &TestApp, token: &str, kind: &str) -> Value {
    let res = app
        .get(&format!("/demo/api/v1/audit?event={kind}&limit=1"), token)
        .await;
    let v: Value = res.json().await.unwrap();
    v["items"][0].clone()
}

async fn create_user(
    app: &TestApp,
    token: &str,
    username: &str,
    email: &str,
    role: &str,
) -> String {
    let res = app
        .post(
            "/demo/api/v1/users",
            token,
            &json!({"username": username, "email": email, "role": role,
                    "password": "a long passphrase for sso tests"}),
        )
        .await;
    let status = res.status();
    let v: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{v}");
    v["user"]["id"].as_str().unwrap().to_string()
}

fn assert_refused(landing: &Landing, reason_text: &str) {
    assert!(
        landing.session_cookie.is_none(),
        "a refused sign-in opened a session"
    );
    assert!(
        landing.body.contains(reason_text),
        "expected {reason_text:?} in the page: {}",
        landing.body
    );
}

async fn assert_reason(app: &TestApp, token: &str, reason: &str) {
    let event = last_event(app, token, "auth.sign_in.failed").await;
    assert_eq!(event["detail"]["reason"], reason, "{event}");
    assert_eq!(event["detail"]["via"], "sso", "{event}");
    assert!(event["detail"]["provider"].is_string(), "{event}");
}

#[tokio::test]
async fn an_entra_user_signs_in_with_a_second_factor_and_is_linked_by_email() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    let user_id = create_user(&app, &admin, "alice", "alice@example.test", "user").await;
    let id = add_provider(
        &app,
        &admin,
        json!({"kind": "entra", "name": "Contoso", "client_id": "skjold-test",
               "client_secret": "skjold-test-secret", "directory_id": TID, "require_mfa": true}),
    )
    .await;
    // The API never answers the secret, and names the issuer and redirect URI to register.
    let view: Value = app
        .get(&format!("/demo/api/v1/identity-providers/{id}"), &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(view["client_secret"], "***");
    assert_eq!(view["issuer"], idp.url(&format!("/entra/{TID}/v2.0")));
    assert_eq!(view["redirect_uri"], app.url("/demo/auth/oidc/callback"));
    assert_eq!(view["button"], "Sign in with Microsoft");
    let page = app.client.get(app.url("/demo/login")).send().await.unwrap();
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("Sign in with Microsoft"));

    let landing = sign_in(&app, &idp, &id, "alice", true).await;
    assert_eq!(landing.status, 303, "{}", landing.body);
    assert_eq!(landing.location.as_deref(), Some("/demo/companies"));
    let session = landing.session_cookie.expect("a session");
    let home = app
        .client
        .get(app.url("/demo/companies"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 200);
    let event = last_event(&app, &admin, "auth.sign_in.succeeded").await;
    assert_eq!(event["detail"]["via"], "sso");
    assert_eq!(event["detail"]["provider"], "Contoso");
    assert_eq!(event["detail"]["second_factor"], true);
    assert_eq!(event["user_id"], user_id.as_str());
    // The link was made by the verified address, and recorded.
    let links: Value = app
        .get(
            &format!("/demo/api/v1/users/{user_id}/identity-links"),
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(links["items"][0]["subject"], "sub-alice");
    let linked: Value = app
        .get("/demo/api/v1/audit?event=auth.sso.linked", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(linked["items"][0]["detail"]["by"], "email", "{linked}");

    // Without the second factor at the provider: refused, and told what to do.
    let landing = sign_in(&app, &idp, &id, "alice", false).await;
    assert_eq!(landing.status, 403);
    assert_refused(&landing, "requires a second factor");
    assert_reason(&app, &admin, "missing_second_factor").await;
}

#[tokio::test]
async fn a_google_sign_in_needs_an_allowed_hosted_domain() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "bob", "bob@example.test", "user").await;
    let right = add_provider(
        &app,
        &admin,
        json!({"kind": "google", "name": "Google", "client_id": "skjold-test",
               "client_secret": "skjold-test-secret", "hosted_domains": ["example.test"]}),
    )
    .await;
    let landing = sign_in(&app, &idp, &right, "bob", false).await;
    assert_eq!(landing.status, 303, "{}", landing.body);
    assert!(landing.session_cookie.is_some());

    let res = app
        .patch(
            &format!("/demo/api/v1/identity-providers/{right}"),
            &admin,
            &json!({"hosted_domains": ["other.example"]}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let landing = sign_in(&app, &idp, &right, "bob", false).await;
    assert_refused(&landing, "does not belong to");
    assert_reason(&app, &admin, "wrong_domain").await;
}

#[tokio::test]
async fn tokens_that_fail_a_check_are_refused_with_the_reason_named() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "carol", "carol@example.test", "user").await;
    let id = add_provider(&app, &admin, generic(&idp, json!({}))).await;
    let now = skjold_domain::Clock::now(&app.clock).timestamp();
    let cases = [
        (
            json!({"iss": "http://evil.example/generic"}),
            false,
            "wrong_issuer",
        ),
        (json!({"aud": "someone-else"}), false, "wrong_audience"),
        (
            json!({"exp": now - 600, "iat": now - 1200}),
            false,
            "token_expired",
        ),
        (
            json!({"iat": now + 3600, "exp": now + 7200}),
            false,
            "token_issued_in_future",
        ),
        (json!({"nonce": "tampered"}), false, "nonce_mismatch"),
        (json!({}), true, "bad_signature"),
    ];
    for (claims, foreign_key, reason) in cases {
        idp.control(
            "tamper",
            json!({"prefix": "/generic", "claims": claims, "foreign_key": foreign_key}),
        )
        .await;
        let landing = sign_in(&app, &idp, &id, "carol", false).await;
        assert_eq!(landing.status, 403, "{reason}: {}", landing.body);
        assert_refused(&landing, "could not be verified");
        assert_reason(&app, &admin, reason).await;
    }
    // And untampered, carol gets in.
    let landing = sign_in(&app, &idp, &id, "carol", false).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
}

#[tokio::test]
async fn an_entra_token_from_another_directory_is_refused() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "dave", "dave@example.test", "user").await;
    let id = add_provider(
        &app,
        &admin,
        json!({"kind": "entra", "name": "Contoso", "client_id": "skjold-test",
               "client_secret": "skjold-test-secret", "directory_id": TID}),
    )
    .await;
    idp.control(
        "tamper",
        json!({"prefix": format!("/entra/{TID}/v2.0"), "claims": {"tid": "99999999-2222-3333-4444-555555555555"}}),
    )
    .await;
    let landing = sign_in(&app, &idp, &id, "dave", false).await;
    assert_refused(&landing, "does not belong to");
    assert_reason(&app, &admin, "wrong_directory").await;
}

#[tokio::test]
async fn a_state_is_good_once_and_only_in_the_browser_that_started_it() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "erin", "erin@example.test", "user").await;
    let id = add_provider(&app, &admin, generic(&idp, json!({}))).await;

    // Another browser (no binding cookie) brings the provider's answer: refused.
    let started = start(&app, &id).await;
    let back = login_at_provider(&idp, &started, "erin", false).await;
    let landing = callback(&app, &back, Some("__Host-skjold_sso=skj_not-this-browser")).await;
    assert_refused(&landing, "expired or was already used");
    assert_reason(&app, &admin, "other_browser").await;
    // The state was spent by that attempt: the right browser cannot use it either.
    let landing = callback(&app, &back, Some(&started.sso_cookie)).await;
    assert_refused(&landing, "expired or was already used");
    assert_reason(&app, &admin, "replayed_state").await;

    // A used state, replayed after a successful sign-in: refused.
    let started = start(&app, &id).await;
    let back = login_at_provider(&idp, &started, "erin", false).await;
    let landing = callback(&app, &back, Some(&started.sso_cookie)).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
    let landing = callback(&app, &back, Some(&started.sso_cookie)).await;
    assert_refused(&landing, "expired or was already used");
    assert_reason(&app, &admin, "replayed_state").await;

    // A sign-in left at the provider past its ten minutes: refused.
    let started = start(&app, &id).await;
    let back = login_at_provider(&idp, &started, "erin", false).await;
    app.clock.advance(chrono::Duration::minutes(11));
    let landing = callback(&app, &back, Some(&started.sso_cookie)).await;
    assert_refused(&landing, "expired or was already used");
    assert_reason(&app, &admin, "expired_state").await;
}

#[tokio::test]
async fn a_rotated_signing_key_is_fetched_once() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "frank", "frank@example.test", "user").await;
    let id = add_provider(&app, &admin, generic(&idp, json!({}))).await;
    let landing = sign_in(&app, &idp, &id, "frank", false).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
    let reads = idp.jwks_reads("/generic").await;
    assert_eq!(reads, 1, "the keys are read once and cached");

    idp.control("rotate", json!({"prefix": "/generic"})).await;
    let landing = sign_in(&app, &idp, &id, "frank", false).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
    assert_eq!(
        idp.jwks_reads("/generic").await,
        reads + 1,
        "an unknown key id reads the keys once more"
    );
}

#[tokio::test]
async fn unknown_users_are_refused_or_made_just_in_time() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    let id = add_provider(&app, &admin, generic(&idp, json!({}))).await;
    let landing = sign_in(&app, &idp, &id, "newcomer", false).await;
    assert_refused(&landing, "No account of");
    assert_reason(&app, &admin, "unknown_user").await;

    // An address the provider does not vouch for never links to an existing account.
    create_user(
        &app,
        &admin,
        "mallory",
        "unverified-mallory@example.test",
        "user",
    )
    .await;
    let landing = sign_in(&app, &idp, &id, "unverified-mallory", false).await;
    assert_refused(&landing, "has not confirmed your e-mail");
    assert_reason(&app, &admin, "email_unverified").await;

    // Just in time: a user of the chosen role is made and linked, and recorded.
    let res = app
        .patch(
            &format!("/demo/api/v1/identity-providers/{id}"),
            &admin,
            &json!({"jit_role": "user"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let landing = sign_in(&app, &idp, &id, "newcomer", false).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
    let created: Value = app
        .get("/demo/api/v1/audit?event=user.created&limit=1", &admin)
        .await
        .json()
        .await
        .unwrap();
    let detail = &created["items"][0]["detail"];
    assert_eq!(detail["by"], "sso", "{created}");
    assert_eq!(detail["role"], "user");
    assert_eq!(detail["username"], "newcomer@example.test");
    // The second time, the same user (by the link).
    let landing = sign_in(&app, &idp, &id, "newcomer", false).await;
    assert!(landing.session_cookie.is_some());
    let users: Value = app
        .get("/demo/api/v1/users", &admin)
        .await
        .json()
        .await
        .unwrap();
    let made = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["username"] == "newcomer@example.test")
        .count();
    assert_eq!(made, 1);

    // Nobody may be made an administrator just in time.
    let res = app
        .patch(
            &format!("/demo/api/v1/identity-providers/{id}"),
            &admin,
            &json!({"jit_role": "administrator"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("jit_role"));
}

#[tokio::test]
async fn an_sso_only_user_cannot_sign_in_with_a_password() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "grace", "grace@example.test", "user").await;
    let id = add_provider(&app, &admin, generic(&idp, json!({"sso_only": true}))).await;
    // Before the first single sign-on grace is not linked yet: her password works.
    let res = app
        .client
        .post(app.url("/demo/api/v1/session"))
        .json(&json!({"username": "grace", "password": "a long passphrase for sso tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let landing = sign_in(&app, &idp, &id, "grace", false).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
    // Linked now: the right password is refused with a message that says what to do.
    let res = app
        .client
        .post(app.url("/demo/api/v1/session"))
        .json(&json!({"username": "grace", "password": "a long passphrase for sso tests"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("signs in only through Test IdP"));
    assert_reason_password(&app, &admin).await;
    // A wrong password is just a wrong password (nothing told).
    let res = app
        .client
        .post(app.url("/demo/api/v1/session"))
        .json(&json!({"username": "grace", "password": "wrong wrong wrong"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn assert_reason_password(app: &TestApp, admin: &str) {
    let event = last_event(app, admin, "auth.sign_in.failed").await;
    assert_eq!(event["detail"]["reason"], "sso_only", "{event}");
    assert_eq!(event["detail"]["provider"], "Test IdP", "{event}");
}

#[tokio::test]
async fn providers_are_managed_by_settings_managers_and_checked() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    let user = app
        .user_with_role("demo", "plain", skjold_domain::Role::User)
        .await;
    let res = app.get("/demo/api/v1/identity-providers", &user).await;
    assert_eq!(res.status(), 403);
    let res = app
        .post(
            "/demo/api/v1/identity-providers",
            &user,
            &generic(&idp, json!({})),
        )
        .await;
    assert_eq!(res.status(), 403);

    let bad = [
        (
            json!({"kind": "entra", "name": "x", "client_id": "c", "client_secret": "s", "directory_id": "common"}),
            "directory_id",
        ),
        (
            json!({"kind": "google", "name": "x", "client_id": "c", "client_secret": "s", "hosted_domains": []}),
            "hosted_domains",
        ),
        (
            json!({"kind": "oidc", "name": "x", "client_id": "c", "client_secret": "s", "issuer": "ftp://x"}),
            "issuer",
        ),
        (
            json!({"kind": "saml", "name": "x", "client_id": "c", "client_secret": "s"}),
            "kind",
        ),
        (
            json!({"kind": "oidc", "name": "", "client_id": "c", "client_secret": "s", "issuer": idp.url("/generic")}),
            "name",
        ),
        (
            json!({"kind": "oidc", "name": "x", "client_id": "c", "client_secret": "", "issuer": idp.url("/generic")}),
            "client_secret",
        ),
        (
            json!({"kind": "oidc", "name": "x", "client_id": "c", "client_secret": "s", "issuer": idp.url("/generic"), "jit_role": "nope"}),
            "jit_role",
        ),
    ];
    for (body, field) in bad {
        let res = app
            .post("/demo/api/v1/identity-providers", &admin, &body)
            .await;
        assert_eq!(res.status(), 422, "{body}");
        let text = res.text().await.unwrap();
        assert!(text.contains(field), "{field}: {text}");
    }

    let id = add_provider(&app, &admin, generic(&idp, json!({}))).await;
    let res = app
        .post(
            "/demo/api/v1/identity-providers",
            &admin,
            &generic(&idp, json!({})),
        )
        .await;
    assert_eq!(res.status(), 409, "the name is taken");
    let list = app
        .get("/demo/api/v1/identity-providers", &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(!list.contains("skjold-test-secret"), "{list}");
    // The secret is sealed in the database, not stored readable.
    let db = app.tenant_db("demo").await;
    let stored = db.identity_provider(&id).await.unwrap();
    assert!(!stored.sealed_secret.contains("skjold-test-secret"));
    assert!(stored.sealed_secret.starts_with("v1:"));

    let res = app
        .patch(
            &format!("/demo/api/v1/identity-providers/{id}"),
            &admin,
            &json!({"client_secret": "a-new-secret", "enabled": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let changed: Value = app
        .get(
            "/demo/api/v1/audit?event=settings.identity_provider_changed",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let text = changed.to_string();
    assert!(
        text.contains("client_secret") && !text.contains("a-new-secret"),
        "{text}"
    );
    // A disabled provider shows no button and cannot be started.
    let page = app.client.get(app.url("/demo/login")).send().await.unwrap();
    assert!(!page.text().await.unwrap().contains("Sign in with Test IdP"));
    let res = app
        .client
        .get(app.url(&format!("/demo/auth/oidc/{id}/start")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);

    let res = app
        .delete(&format!("/demo/api/v1/identity-providers/{id}"), &admin)
        .await;
    assert_eq!(res.status(), 204);
    let res = app
        .get(&format!("/demo/api/v1/identity-providers/{id}"), &admin)
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn the_sso_only_policy_refuses_the_passwords_of_whom_it_covers() {
    let (app, idp) = setup().await;
    let admin = app.admin_token().await;
    create_user(&app, &admin, "hanna", "hanna@example.test", "user").await;
    create_user(&app, &admin, "ivar", "ivar@example.test", "manager").await;
    // Without a provider it would lock everyone out: refused.
    let res = app
        .put(
            "/demo/api/v1/settings/single-sign-on",
            &admin,
            &json!({"required": "all"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("identity provider"));

    add_provider(&app, &admin, generic(&idp, json!({}))).await;
    let res = app
        .put(
            "/demo/api/v1/settings/single-sign-on",
            &admin,
            &json!({"required": "roles", "roles": ["user"]}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let policy: Value = app
        .get("/demo/api/v1/settings/single-sign-on", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(policy, json!({"required": "roles", "roles": ["user"]}));
    let password = |u: &str| {
        let app = &app;
        let u = u.to_string();
        async move {
            app.client
                .post(app.url("/demo/api/v1/session"))
                .json(&json!({"username": u, "password": "a long passphrase for sso tests"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // A user (covered) is refused with the right password; a manager (not covered) is not.
    assert_eq!(password("hanna").await, 403);
    assert_eq!(password("ivar").await, 201);
    assert_reason_password(&app, &admin).await;
    // hanna still gets in through the provider.
    let landing = sign_in(&app, &idp, &add_or_find(&app, &admin).await, "hanna", false).await;
    assert!(landing.session_cookie.is_some(), "{}", landing.body);
    let changed = last_event(&app, &admin, "settings.sso_only_changed").await;
    assert_eq!(changed["detail"]["after"]["required"], "roles", "{changed}");
}

async fn add_or_find(app: &TestApp, admin: &str) -> String {
    let list: Value = app
        .get("/demo/api/v1/identity-providers", admin)
        .await
        .json()
        .await
        .unwrap();
    list["items"][0]["id"].as_str().unwrap().to_string()
}
