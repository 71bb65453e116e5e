//! `skjold user token …`: API tokens for service users, from the command line, with the
//! API's rules (`skjold_server::tokens`). Each is audited as the operator's.

use super::user_named;
use clap::Subcommand;
use skjold_audit::AuditTrail;
use skjold_domain::{SystemClock, TenantSlug, UserKind};
use skjold_store::{TenantDb, TenantRouter, User};

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make an API token for a service user; the token is printed once.
    Add {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The service user's username.
        username: String,
        /// What the token is for.
        #[arg(long)]
        name: String,
        /// Scopes, comma-separated, e.g. companies:read,persons:write (or all:read).
        #[arg(long, value_delimiter = ',', required = true)]
        scopes: Vec<String>,
        /// How many days it works (default 90, at most the tenant's limit).
        #[arg(long, default_value_t = 90)]
        days: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a service user's API tokens (never the tokens themselves).
    List {
        #[arg(long)]
        tenant: String,
        username: String,
        #[arg(long)]
        json: bool,
    },
    /// Revoke one of a service user's API tokens.
    Revoke {
        #[arg(long)]
        tenant: String,
        username: String,
        /// The token's id (from `skjold user token list`).
        id: String,
    },
}

async fn service_user(
    router: &TenantRouter,
    slug: &TenantSlug,
    username: &str,
) -> anyhow::Result<(TenantDb, User)> {
    let (_, db, user) = user_named(router, slug, username).await?;
    if user.kind != UserKind::Service {
        anyhow::bail!(
            "'{}' is a person: API tokens are made here only for service users (a person makes their own)",
            user.username
        );
    }
    Ok((db, user))
}

pub async fn token(
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: TokenCommand,
) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Add {
            tenant,
            username,
            name,
            scopes,
            days,
            json,
        } => {
            let slug = super::parse_slug(&tenant)?;
            let (db, user) = service_user(router, &slug, &username).await?;
            if user.status != skjold_domain::UserStatus::Active {
                anyhow::bail!(
                    "the service user '{}' is disabled: enable it first",
                    user.username
                );
            }
            if !(1..=3650).contains(&days) {
                anyhow::bail!("--days: a whole number of days, 1 to 3650");
            }
            let at = super::access::Operating::open(router, slug.as_str()).await?;
            let ctx = at.ctx(router, audit);
            let expires_at = skjold_domain::clock::format_timestamp(
                ctx.clock.now() + chrono::Duration::days(days),
            );
            drop(db);
            let created = skjold_app::tokens::mint(
                &ctx,
                &skjold_app::Actor::Operator,
                skjold_app::tokens::Whose::ServiceUser(&user.id),
                skjold_app::tokens::NewTokenBody {
                    name,
                    scopes,
                    expires_at: Some(expires_at),
                },
            )
            .await
            .map_err(super::access::app_err)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!(
                    "API token '{}' for '{}' (id {}, until {}; shown only now):\n{}",
                    created.view.name,
                    user.username,
                    created.view.id,
                    created.view.expires_at,
                    created.token
                );
            }
        }
        TokenCommand::List {
            tenant,
            username,
            json,
        } => {
            let slug = super::parse_slug(&tenant)?;
            let (db, user) = service_user(router, &slug, &username).await?;
            let now = skjold_domain::Clock::now(&SystemClock);
            let tokens: Vec<_> = db
                .api_tokens_of(&user.id)
                .await?
                .into_iter()
                .map(|t| skjold_server::tokens::TokenView::new(t, now))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&tokens)?);
            } else {
                println!("{:<36} {:<24} {:<22} SCOPES", "ID", "NAME", "EXPIRES");
                for t in tokens {
                    println!(
                        "{:<36} {:<24} {:<22} {}{}",
                        t.id,
                        t.name,
                        t.expires_at,
                        t.scopes.join(","),
                        if t.expired { " (expired)" } else { "" }
                    );
                }
            }
        }
        TokenCommand::Revoke {
            tenant,
            username,
            id,
        } => {
            let slug = super::parse_slug(&tenant)?;
            let (db, user) = service_user(router, &slug, &username).await?;
            drop(db);
            let at = super::access::Operating::open(router, slug.as_str()).await?;
            match skjold_app::tokens::revoke(
                &at.ctx(router, audit),
                &skjold_app::Actor::Operator,
                skjold_app::tokens::Whose::ServiceUser(&user.id),
                &id,
            )
            .await
            {
                Err(skjold_app::AppError::NotFound(_)) => {
                    anyhow::bail!("'{}' has no token with the id '{id}'", user.username)
                }
                other => other.map_err(super::access::app_err)?,
            }
            println!("revoked the token {id} of '{}'", user.username);
        }
    }
    Ok(())
}
