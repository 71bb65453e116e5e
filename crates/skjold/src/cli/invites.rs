//! `skjold user invite`: invitation links for persons, from the command line, with the
//! application layer's rules (`skjold_app::invites`), audited as the operator's.

use super::user_named;
use skjold_audit::AuditTrail;
use skjold_domain::TenantSlug;
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
    drop(db);
    let at = super::access::Operating::open(router, slug.as_str()).await?;
    let issued = skjold_server::invites::issue(
        &at.ctx(router, audit),
        &skjold_app::Actor::Operator,
        &user.id,
    )
    .await
    .map_err(super::access::app_err)?;
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
