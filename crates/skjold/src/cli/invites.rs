//! `skjold user invite`: invitation links for persons, from the command line, with the
//! API's rules (`skjold_server::invites`), audited as the operator's.

use super::user_named;
use skjold_audit::AuditTrail;
use skjold_domain::audit::AuditKind;
use skjold_domain::{SystemClock, TenantSlug};
use skjold_server::provision::operator_event;
use skjold_store::TenantRouter;

/// Makes (or replaces) a person's invitation and prints the link once.
pub async fn invite(
    router: &TenantRouter,
    audit: &AuditTrail,
    public_url: Option<&url::Url>,
    slug: &TenantSlug,
    username: &str,
) -> anyhow::Result<()> {
    let (_, db, user) = user_named(router, slug, username).await?;
    let issued = skjold_server::invites::issue(&SystemClock, &db, slug, &user, "operator")
        .await
        .map_err(|e| anyhow::anyhow!("{}", e.explain()))?;
    operator_event(
        router,
        audit,
        slug.as_str(),
        AuditKind::UserInvited,
        serde_json::json!({
            "via": "cli", "user_id": user.id, "username": user.username,
            "expires_at": issued.expires_at,
        }),
    )
    .await?;
    let link = issued.url(public_url, None);
    println!(
        "invitation for '{}' (works once, until {}):\n{link}",
        user.username, issued.expires_at
    );
    if public_url.is_none() {
        println!("(prefix the path with the server's https:// address, or set public_url)");
    }
    Ok(())
}
