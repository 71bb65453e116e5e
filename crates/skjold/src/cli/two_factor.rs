//! `skjold user require-2fa` and `skjold settings two-factor`: the tenant's two-factor
//! requirement from the command line, with the rules of the API (`crate`'s server:
//! `skjold_server::two_factor`). Each change is journaled and audited as the operator's.

use anyhow::Context;
use skjold_app::two_factor::{self as tf, Required, TwoFactorPolicy};
use skjold_audit::AuditTrail;
use skjold_domain::{TenantSlug, Username};
use skjold_store::{TenantDb, TenantRouter};

async fn open(router: &TenantRouter, slug: &TenantSlug) -> anyhow::Result<TenantDb> {
    Ok(router
        .open(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?
        .1)
}

/// Requires (or, with `off`, stops requiring) a second factor of one user.
pub async fn require(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: &TenantSlug,
    username: &str,
    off: bool,
) -> anyhow::Result<()> {
    let at = super::access::Operating::open(router, slug.as_str()).await?;
    let db = &at.db;
    let name = Username::parse(username).map_err(|e| anyhow::anyhow!("username: {e}"))?;
    let (user, _) = db
        .user_for_sign_in(&name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user '{name}' in tenant '{slug}'"))?;
    skjold_app::users::require_two_factor(
        &at.ctx(router, audit),
        &skjold_app::Actor::Operator,
        &user.id,
        !off,
    )
    .await
    .map_err(super::access::app_err)?;
    let factors = tf::factors_of(db, &user.id).await?;
    println!(
        "user '{}': second factor {} (enrolled: {})",
        user.username,
        if off {
            "no longer required of them in particular"
        } else {
            "required"
        },
        if factors.any() {
            "yes"
        } else {
            "no; they enrol at their next sign-in"
        }
    );
    Ok(())
}

/// Shows the policy, or sets it when `required` is given.
pub async fn settings(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: &TenantSlug,
    required: Option<String>,
    roles: Vec<String>,
    json: bool,
) -> anyhow::Result<()> {
    let db = open(router, slug).await?;
    let policy = match required {
        None => tf::policy(&db).await?,
        Some(r) => {
            let required: Required =
                serde_json::from_value(serde_json::Value::String(r.clone()))
                    .with_context(|| format!("--required '{r}': use none, all or roles"))?;
            let wanted = TwoFactorPolicy { required, roles };
            let wanted = match wanted.resolved(&db).await? {
                Ok(policy) => policy,
                Err(errs) => {
                    let why: Vec<String> = errs
                        .0
                        .iter()
                        .map(|e| format!("--{}: {}", e.field, e.message))
                        .collect();
                    anyhow::bail!("{}", why.join("; "));
                }
            };
            let at = super::access::Operating::open(router, slug.as_str()).await?;
            let after =
                tf::set_policy(&at.ctx(router, audit), &skjold_app::Actor::Operator, wanted)
                    .await
                    .map_err(super::access::app_err)?;
            after
        }
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&policy)?);
    } else {
        match policy.required {
            Required::None => {
                println!("two-factor: required of nobody (but users required one by one)")
            }
            Required::All => println!("two-factor: required of every user"),
            Required::Roles => println!(
                "two-factor: required of the roles {}",
                policy.roles.join(", ")
            ),
        }
    }
    Ok(())
}
