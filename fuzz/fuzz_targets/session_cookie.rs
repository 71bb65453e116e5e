//! What the web UI reads from a browser: the `Cookie` header (the session cookie, which
//! names its tenant), the `next` target after sign-in, and urlencoded form bodies.
//! Properties: nothing panics; a session token is only ever read for the tenant the cookie
//! names; `next` never leads off the site or out of the tenant.
#![no_main]

use http::{header, HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use skjold_server::parsers::{safe_next, session_token, FormData};

fuzz_target!(|data: &[u8]| {
    let form = FormData::parse(data);
    let _ = form.get("csrf");
    let _ = form.text("username");

    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value);
        for slug in ["demo", "acme", "a"] {
            if let Some(token) = session_token(&headers, slug) {
                assert!(!token.is_empty() && token.len() <= 200);
                assert!(
                    text.contains(&format!("{slug}.{token}")),
                    "token {token:?} read for {slug} from {text:?}"
                );
            }
        }
    }
    for slug in ["demo", "acme"] {
        if let Some(next) = safe_next(slug, Some(text)) {
            let base = url::Url::parse("https://skjold.example/").unwrap();
            let target = base
                .join(&next)
                .unwrap_or_else(|e| panic!("safe_next let through {next:?}, not a URL: {e}"));
            assert_eq!(target.origin(), base.origin(), "{next:?} leaves the site");
            assert!(
                target.path().starts_with(&format!("/{slug}/")),
                "{next:?} leaves the tenant: {target}"
            );
        }
    }
});
