//! `skjold user …`: add, change and list a tenant's users.

use super::{open_router, parse_slug, read_password_stdin};
use clap::Subcommand;
use skjold_app::users::FirstAccess;
use skjold_domain::audit::AuditKind;
use skjold_domain::Username;
use skjold_server::provision::operator_event;
use skjold_server::Config;

#[derive(Debug, Subcommand)]
pub(super) enum UserCommand {
    /// Add a user to a tenant.
    Add {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The new user's username.
        username: String,
        /// administrator, manager, user, read-only, or the name of one of the tenant's
        /// own roles (`skjold role list`).
        #[arg(long)]
        role: String,
        /// Read the password from standard input instead of generating a one-time password.
        #[arg(long, conflicts_with_all = ["invite", "service"])]
        password_stdin: bool,
        /// Make no password: print a one-time invitation link with which they set their own.
        #[arg(long, conflicts_with = "service")]
        invite: bool,
        /// A service user for an integration: no password, no sign-in, only API tokens
        /// (`skjold user token add`).
        #[arg(long)]
        service: bool,
    },
    /// Make (or replace) a person's one-time invitation link and print it.
    Invite {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        username: String,
    },
    /// A service user's API tokens: add, list, revoke.
    #[command(subcommand)]
    Token(super::tokens::TokenCommand),
    /// Change a user's role or status. The last active administrator stays one.
    Set {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        username: String,
        /// A role's name (built-in or the tenant's own).
        #[arg(long)]
        role: Option<String>,
        /// active or disabled.
        #[arg(long)]
        status: Option<String>,
    },
    /// Require a second factor of one user (they enrol one at their next sign-in).
    #[command(name = "require-2fa")]
    Require2fa {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The user's username.
        username: String,
        /// Stop requiring it of this user in particular (the tenant's policy still applies).
        #[arg(long)]
        off: bool,
    },
    /// Reset a person's password: a one-time password is made and printed once (or, with
    /// --password-stdin, read from standard input), checked against the tenant's policy.
    /// All of the user's sessions end.
    Password {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The user's username.
        username: String,
        /// Read the new password from standard input instead of making one.
        #[arg(long)]
        password_stdin: bool,
    },
    /// End all of a user's sessions: they must sign in again (API tokens are not affected).
    #[command(name = "end-sessions")]
    EndSessions {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// The user's username.
        username: String,
    },
    /// List a tenant's users.
    List {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

pub(super) async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let (router, audit) = open_router(&config).await?;
    match cmd {
        UserCommand::Set {
            tenant,
            username,
            role,
            status,
        } => {
            super::access::set_user(
                &router,
                &audit,
                &tenant,
                &username,
                role.as_deref(),
                status.as_deref(),
            )
            .await?;
        }
        UserCommand::Add {
            tenant,
            username,
            role,
            invite,
            service,
            ..
        } if invite || service => {
            // No password: an invited person sets their own, a service user never has one.
            let slug = parse_slug(&tenant)?;
            let username =
                Username::parse(&username).map_err(|e| anyhow::anyhow!("username: {e}"))?;
            let access = if service {
                FirstAccess::Service
            } else {
                FirstAccess::Invite
            };
            let user = skjold_server::provision::add_user_of_kind(
                &router, &audit, &slug, username, &role, access,
            )
            .await?
            .user;
            if service {
                println!(
                    "added service user '{}' ({role}) to tenant '{slug}'; make its API tokens with `skjold user token add`",
                    user.username
                );
            } else {
                println!("added user '{}' ({role}) to tenant '{slug}'", user.username);
                super::invites::invite(
                    &router,
                    &audit,
                    config.public_url.as_ref(),
                    &slug,
                    &user.username,
                )
                .await?;
            }
        }
        UserCommand::Invite { tenant, username } => {
            let slug = parse_slug(&tenant)?;
            super::invites::invite(
                &router,
                &audit,
                config.public_url.as_ref(),
                &slug,
                &username,
            )
            .await?;
        }
        UserCommand::Token(cmd) => super::tokens::token(&router, &audit, cmd).await?,
        UserCommand::Add {
            tenant,
            username,
            role,
            password_stdin,
            ..
        } => {
            let slug = parse_slug(&tenant)?;
            let username =
                Username::parse(&username).map_err(|e| anyhow::anyhow!("username: {e}"))?;
            let access = if password_stdin {
                FirstAccess::Password(read_password_stdin()?)
            } else {
                FirstAccess::OneTimePassword
            };
            let created = skjold_server::provision::add_user_of_kind(
                &router, &audit, &slug, username, &role, access,
            )
            .await?;
            println!(
                "added user '{}' ({role}) to tenant '{slug}'",
                created.user.username
            );
            if let Some(password) = created.one_time_password {
                println!("one-time password: {password}");
            }
        }
        UserCommand::Password {
            tenant,
            username,
            password_stdin,
        } => {
            let slug = parse_slug(&tenant)?;
            let chosen = password_stdin.then(read_password_stdin).transpose()?;
            let made =
                super::access::reset_password(&router, &audit, &slug, &username, chosen).await?;
            println!("password of '{username}' in tenant '{slug}' reset; their sessions ended");
            if let Some(password) = made {
                println!("one-time password: {password}");
            }
        }
        UserCommand::EndSessions { tenant, username } => {
            let slug = parse_slug(&tenant)?;
            let ended = super::access::end_sessions(&router, &audit, &slug, &username).await?;
            println!(
                "ended {} session(s) of '{username}' in tenant '{slug}'; revoked {} API token(s) \
                 and {} open invitation(s)",
                ended.sessions, ended.api_tokens, ended.invites
            );
        }
        UserCommand::Require2fa {
            tenant,
            username,
            off,
        } => {
            let slug = parse_slug(&tenant)?;
            super::two_factor::require(&router, &audit, &slug, &username, off).await?;
        }
        UserCommand::List { tenant, json } => {
            let slug = parse_slug(&tenant)?;
            let (_, db) = router
                .open(&slug)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
            let users = db.list_users().await?;
            operator_event(
                &router,
                &audit,
                slug.as_str(),
                AuditKind::UserListed,
                serde_json::json!({"via": "cli", "count": users.len()}),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&users)?);
            } else {
                // Roles by name: a tenant's own roles have UUIDs for ids.
                let roles = db.list_roles().await?;
                let role_name = |u: &skjold_store::User| {
                    roles
                        .iter()
                        .find(|r| r.id == u.role)
                        .map(|r| r.name.clone())
                        .unwrap_or_else(|| u.role.to_string())
                };
                println!(
                    "{:<24} {:<14} {:<9} {:<8} ID",
                    "USERNAME", "ROLE", "STATUS", "KIND"
                );
                for u in users {
                    println!(
                        "{:<24} {:<14} {:<9} {:<8} {}",
                        u.username,
                        role_name(&u),
                        u.status.as_str(),
                        u.kind.as_str(),
                        u.id
                    );
                }
            }
        }
    }
    // The records are in the files; let their database copies land before the pools close.
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    Ok(())
}
