//! `skjold idp …`: a tenant's identity providers for single sign-on, from the command line
//! (the API's `/identity-providers`, Admin → Security → Single sign-on). The client secret
//! comes only from standard input (`--client-secret-stdin`) or a file
//! (`--client-secret-file`, or `SKJOLD_IDP_CLIENT_SECRET_FILE`): never from an argument,
//! which other users of the machine could read.

use super::access::{app_err, Operating};
use clap::{Args, Subcommand};
use skjold_app::identity_providers::{self as idp, NewProvider, ProviderView};
use skjold_app::sealed::SecretsKey;
use skjold_app::Actor::Operator;
use skjold_audit::AuditTrail;
use skjold_server::Config;
use skjold_store::TenantRouter;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum IdpCommand {
    /// Register an identity provider.
    Add(AddArgs),
    /// List the tenant's identity providers (secrets as ***).
    List {
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove an identity provider (by name or id) and its links to users.
    Remove {
        #[arg(long)]
        tenant: String,
        provider: String,
    },
    /// Show or set whom the tenant lets in only through an identity provider (their
    /// passwords are refused): none, all, or roles (with --roles).
    SsoOnly {
        #[arg(long)]
        tenant: String,
        /// none, all or roles; without it, the policy is shown.
        #[arg(long)]
        required: Option<String>,
        /// Comma-separated roles (names or ids), with --required roles.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
    },
    /// Remove a user's link to a provider.
    Unlink {
        #[arg(long)]
        tenant: String,
        provider: String,
        username: String,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(long)]
    tenant: String,
    /// entra (Microsoft Entra ID / Office 365), google (Google Workspace) or oidc.
    #[arg(long)]
    kind: String,
    #[arg(long)]
    name: String,
    #[arg(long)]
    client_id: String,
    /// Read the client secret from standard input.
    #[arg(long, conflicts_with = "client_secret_file")]
    client_secret_stdin: bool,
    /// Read the client secret from this file.
    #[arg(long, env = "SKJOLD_IDP_CLIENT_SECRET_FILE", value_name = "PATH")]
    client_secret_file: Option<PathBuf>,
    /// Entra ID: the directory (tenant) id.
    #[arg(long)]
    directory_id: Option<String>,
    /// Google: an allowed Workspace domain (repeat for more).
    #[arg(long = "hosted-domain")]
    hosted_domains: Vec<String>,
    /// Another provider: its issuer URL.
    #[arg(long)]
    issuer: Option<String>,
    /// Refuse sign-ins whose token does not prove a second factor.
    #[arg(long)]
    require_mfa: bool,
    /// Make unknown users at their first sign-in with this role (id or name).
    #[arg(long)]
    jit_role: Option<String>,
    /// Users linked to this provider may not sign in with a password.
    #[arg(long)]
    sso_only: bool,
}

fn read_secret(args: &AddArgs) -> anyhow::Result<String> {
    let raw = match (&args.client_secret_file, args.client_secret_stdin) {
        (Some(path), _) => std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("client secret file {}: {e}", path.display()))?,
        (None, true) => {
            let mut s = String::new();
            std::io::stdin().take(4096).read_to_string(&mut s)?;
            s
        }
        (None, false) => anyhow::bail!(
            "give the client secret with --client-secret-stdin or --client-secret-file (never as an argument)"
        ),
    };
    let secret = raw.trim().to_string();
    if secret.is_empty() {
        anyhow::bail!("the client secret is empty");
    }
    Ok(secret)
}

pub async fn idp(
    config: &Config,
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: IdpCommand,
) -> anyhow::Result<()> {
    match cmd {
        IdpCommand::Add(args) => {
            let secret = read_secret(&args)?;
            let key = SecretsKey::load_or_create(&config.data_dir)?;
            let at = Operating::open(router, &args.tenant).await?;
            let new = NewProvider {
                kind: args.kind,
                name: args.name,
                client_id: args.client_id,
                client_secret: secret,
                directory_id: args.directory_id,
                hosted_domains: Some(args.hosted_domains).filter(|d| !d.is_empty()),
                issuer: args.issuer,
                scopes: None,
                require_mfa: args.require_mfa,
                mfa_amr: None,
                mfa_acr: None,
                jit_role: args.jit_role,
                sso_only: args.sso_only,
                enabled: true,
            };
            let p = idp::create(&at.ctx(router, audit), &Operator, &key, &config.sso, new)
                .await
                .map_err(app_err)?;
            println!(
                "added identity provider '{}' ({}) to tenant '{}'\n  issuer:       {}\n  redirect URI: {}  (register this at the provider)",
                p.name,
                p.id,
                args.tenant,
                p.issuer,
                skjold_server::sso::redirect_uri(config, &args.tenant)
            );
        }
        IdpCommand::List { tenant, json } => {
            let at = Operating::open(router, &tenant).await?;
            let list = idp::list(&at.ctx(router, audit), &Operator)
                .await
                .map_err(app_err)?;
            let views: Vec<ProviderView> = list
                .iter()
                .map(|p| ProviderView::of(p, skjold_server::sso::redirect_uri(config, &tenant)))
                .collect();
            if json {
                println!("{}", serde_json::to_string_pretty(&views)?);
            } else {
                println!(
                    "{:<24} {:<7} {:<4} {:<4} {:<8} ISSUER",
                    "NAME", "KIND", "MFA", "ON", "SSO-ONLY"
                );
                for v in views {
                    println!(
                        "{:<24} {:<7} {:<4} {:<4} {:<8} {}",
                        v.name,
                        v.kind,
                        if v.require_mfa { "yes" } else { "no" },
                        if v.enabled { "yes" } else { "no" },
                        if v.sso_only { "yes" } else { "no" },
                        v.issuer
                    );
                }
            }
        }
        IdpCommand::Remove { tenant, provider } => {
            let at = Operating::open(router, &tenant).await?;
            let p = find(&at, router, audit, &provider).await?;
            idp::delete(&at.ctx(router, audit), &Operator, &p.id)
                .await
                .map_err(app_err)?;
            println!(
                "removed identity provider '{}' from tenant '{tenant}'",
                p.name
            );
        }
        IdpCommand::SsoOnly {
            tenant,
            required,
            roles,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let policy = match required {
                None => idp::sso_only_policy(&at.db).await?,
                Some(r) => {
                    let required = match r.as_str() {
                        "none" => skjold_app::two_factor::Required::None,
                        "all" => skjold_app::two_factor::Required::All,
                        "roles" => skjold_app::two_factor::Required::Roles,
                        other => anyhow::bail!("--required: '{other}' is not none, all or roles"),
                    };
                    idp::set_sso_only_policy(
                        &at.ctx(router, audit),
                        &Operator,
                        idp::SsoOnlyPolicy { required, roles },
                    )
                    .await
                    .map_err(app_err)?
                }
            };
            println!("{}", serde_json::to_string(&policy)?);
        }
        IdpCommand::Unlink {
            tenant,
            provider,
            username,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let p = find(&at, router, audit, &provider).await?;
            let name = skjold_domain::Username::parse(&username)
                .map_err(|e| anyhow::anyhow!("username: {e}"))?;
            let (user, _) = at
                .db
                .user_for_sign_in(&name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user '{name}' in tenant '{tenant}'"))?;
            idp::unlink(&at.ctx(router, audit), &Operator, &user.id, &p.id)
                .await
                .map_err(app_err)?;
            println!("unlinked '{name}' from '{}'", p.name);
        }
    }
    Ok(())
}

async fn find(
    at: &Operating,
    router: &TenantRouter,
    audit: &AuditTrail,
    wanted: &str,
) -> anyhow::Result<skjold_store::IdentityProvider> {
    idp::list(&at.ctx(router, audit), &Operator)
        .await
        .map_err(app_err)?
        .into_iter()
        .find(|p| p.id == wanted || p.name == wanted)
        .ok_or_else(|| anyhow::anyhow!("no identity provider '{wanted}'"))
}
