use skjold_testkit::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_without_auth_and_carry_security_headers() {
    let app = spawn_app().await;
    for path in ["/healthz", "/readyz"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers();
        let hsts = h["strict-transport-security"].to_str().unwrap();
        assert!(hsts.contains("includeSubDomains"));
        let max_age: u64 = hsts
            .split(';')
            .find_map(|p| p.trim().strip_prefix("max-age="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(max_age >= 31_536_000, "HSTS max-age {max_age} under a year");
        assert!(h["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("referrer-policy"));
        assert_eq!(h["x-request-id"].to_str().unwrap().len(), 32);
    }
}
