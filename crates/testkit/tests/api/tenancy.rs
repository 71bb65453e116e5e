//! The bounded set of open tenant databases: a tenant evicted to make room for another keeps
//! working for whoever still holds it, and requests to more tenants than the bound succeed.

use skjold_domain::TenantSlug;
use skjold_testkit::spawn_app_with;

#[tokio::test]
async fn an_evicted_tenant_database_stays_usable_for_whoever_holds_it() {
    let app = spawn_app_with(|c| c.max_open_tenants = 1).await;
    let demo_token = app.admin_token().await;
    let beta_token = app.create_tenant("beta").await;

    let demo = TenantSlug::parse("demo").unwrap();
    let beta = TenantSlug::parse("beta").unwrap();
    let (_, held) = app.state.tenants.open(&demo).await.unwrap().unwrap();
    // Opening another tenant evicts demo's pool from the router ...
    app.state.tenants.open(&beta).await.unwrap().unwrap();
    assert_eq!(app.state.tenants.open_count(), 1);
    // Give anything the eviction set off (closing the pool, say) its chance to run.
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    // ... but the handle taken before still works.
    assert!(!held.list_users().await.unwrap().is_empty());

    // Many requests to both tenants at once, with room for one open database: none fails.
    let mut calls = Vec::new();
    for i in 0..40 {
        let (path, token) = if i % 2 == 0 {
            ("/demo/api/v1/companies", demo_token.clone())
        } else {
            ("/beta/api/v1/companies", beta_token.clone())
        };
        let request = app.request(reqwest::Method::GET, path, Some(&token));
        calls.push(tokio::spawn(async move {
            request.send().await.unwrap().status()
        }));
    }
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
}
