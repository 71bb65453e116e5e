//! The TOTP second factor: enrolment with a first code, sign-in with a code computed here
//! independently from the secret (RFC 6238 with HMAC-SHA1, not the server's library),
//! replay refused, recovery codes single-use, wrong codes counted by the lockout.

use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use skjold_domain::{Clock, Role};
use skjold_testkit::{spawn_app, TestApp};

pub(crate) fn base32_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut acc, mut out) = (0u32, 0u64, Vec::new());
    for c in s.trim_end_matches('=').bytes() {
        let v = A.iter().position(|x| *x == c).expect("base32") as u64;
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// RFC 6238 / RFC 4226: HMAC-SHA1 over the big-endian step, dynamic truncation, 6 digits.
pub(crate) fn code_at(secret: &[u8], unix: i64) -> String {
    let step = (unix / 30) as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret).unwrap();
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 0x0f) as usize;
    let n = (u32::from(h[o] & 0x7f) << 24)
        | (u32::from(h[o + 1]) << 16)
        | (u32::from(h[o + 2]) << 8)
        | u32::from(h[o + 3]);
    format!("{:06}", n % 1_000_000)
}

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

#[tokio::test]
async fn totp_enrolment_sign_in_replay_and_recovery_codes() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "tor", Role::User).await;
    let pw = skjold_testkit::user_password("tor");
    let res = app.post("/demo/api/v1/me/totp", &session, &json!({})).await;
    assert_eq!(res.status(), 201);
    let enrol: Value = res.json().await.unwrap();
    let secret = base32_decode(enrol["secret"].as_str().unwrap());
    assert_eq!(secret.len(), 20);
    let uri = enrol["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains("secret=") && uri.contains("tor"));
    assert!(enrol["qr_svg"].as_str().unwrap().contains("<svg"));
    // Not in force before it is confirmed.
    assert_eq!(sign_in(&app, "tor", &pw, None).await.status(), 201);

    let now = || app.clock.now().timestamp();
    let res = app
        .post(
            "/demo/api/v1/me/totp/confirm",
            &session,
            &json!({"code": "000000"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let res = app
        .post(
            "/demo/api/v1/me/totp/confirm",
            &session,
            &json!({"code": code_at(&secret, now())}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let codes: Vec<String> = res.json::<Value>().await.unwrap()["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    assert_eq!(codes.len(), 10);

    // The password alone: 401 saying a second factor is required.
    let res = sign_in(&app, "tor", &pw, None).await;
    assert_eq!(res.status(), 401);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["type"], "urn:skjold:problem:second-factor-required");
    // The confirming code was used: the same code again is a replay.
    let res = sign_in(&app, "tor", &pw, Some(&code_at(&secret, now()))).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["type"],
        "urn:skjold:problem:sign-in-failed"
    );
    // The next step's code works once (±1 step of drift accepted), then not again.
    app.clock.advance(chrono::Duration::seconds(30));
    let code = code_at(&secret, now());
    assert_eq!(sign_in(&app, "tor", &pw, Some(&code)).await.status(), 201);
    assert_eq!(sign_in(&app, "tor", &pw, Some(&code)).await.status(), 401);
    app.clock.advance(chrono::Duration::seconds(30));
    // A code from one step ahead (the phone's clock runs fast) is accepted.
    assert_eq!(
        sign_in(&app, "tor", &pw, Some(&code_at(&secret, now() + 30)))
            .await
            .status(),
        201
    );
    // Two steps off: refused.
    app.clock.advance(chrono::Duration::seconds(90));
    assert_eq!(
        sign_in(&app, "tor", &pw, Some(&code_at(&secret, now() - 60)))
            .await
            .status(),
        401
    );
    // A wrong password with the right code: still refused.
    app.clock.advance(chrono::Duration::seconds(30));
    assert_eq!(
        sign_in(
            &app,
            "tor",
            "wrong-password-x",
            Some(&code_at(&secret, now()))
        )
        .await
        .status(),
        401
    );
    // A recovery code works once, in any case and with or without dashes.
    let rc = codes[3].to_uppercase();
    assert_eq!(sign_in(&app, "tor", &pw, Some(&rc)).await.status(), 201);
    assert_eq!(
        sign_in(&app, "tor", &pw, Some(&rc)).await.status(),
        401,
        "a recovery code is single-use"
    );
    let no_dashes = codes[4].replace('-', "");
    assert_eq!(
        sign_in(&app, "tor", &pw, Some(&no_dashes)).await.status(),
        201
    );
    let admin = app.admin_token().await;
    let audit: Value = app
        .get(
            "/demo/api/v1/audit?event=auth.sign_in.failed&user=tor",
            &admin,
        )
        .await
        .json()
        .await
        .unwrap();
    let reasons: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"]["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"wrong_second_factor"), "{reasons:?}");
    let used: Value = app
        .get("/demo/api/v1/audit?event=auth.recovery_code_used", &admin)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(used["items"][0]["username"], "tor");
    // Enrolling again is refused while it is on.
    let s2 = {
        let res = sign_in(&app, "tor", &pw, Some(&codes[5])).await;
        assert_eq!(res.status(), 201);
        res.json::<Value>().await.unwrap()["token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        app.post("/demo/api/v1/me/totp", &s2, &json!({}))
            .await
            .status(),
        409
    );
}

#[tokio::test]
async fn wrong_codes_count_towards_the_lockout() {
    let app = spawn_app().await;
    let session = app.user_with_role("demo", "siv", Role::User).await;
    let pw = skjold_testkit::user_password("siv");
    let enrol: Value = app
        .post("/demo/api/v1/me/totp", &session, &json!({}))
        .await
        .json()
        .await
        .unwrap();
    let secret = base32_decode(enrol["secret"].as_str().unwrap());
    let now = app.clock.now().timestamp();
    let res = app
        .post(
            "/demo/api/v1/me/totp/confirm",
            &session,
            &json!({"code": code_at(&secret, now)}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let statuses: Vec<u16> = {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push(
                sign_in(&app, "siv", &pw, Some(&format!("{:06}", 111_111 * (i + 1))))
                    .await
                    .status()
                    .as_u16(),
            );
        }
        v
    };
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    app.clock.advance(chrono::Duration::seconds(30));
    let code = code_at(&secret, app.clock.now().timestamp());
    assert_eq!(
        sign_in(&app, "siv", &pw, Some(&code)).await.status(),
        429,
        "locked"
    );
}
