//! `skjold role …`, `skjold team …`, `skjold user set`, `skjold user password` and
//! `skjold user end-sessions`: the operator's side of access
//! management. The operator acts for the system, so no escalation rule limits them, but
//! the last active administrator is protected as everywhere, and every change is an audit
//! event in the tenant's chain with the state before and after.

use clap::Subcommand;
use skjold_app::Actor::Operator;
use skjold_app::{AppError, Ctx};
use skjold_audit::AuditTrail;
use skjold_domain::{Right, TenantSlug, Visibility};
use skjold_server::access;
use skjold_store::{
    EndedAccess, NewRole, RolePatch, TenantDb, TenantRecord, TenantRouter, UserStatus,
};

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// List the tenant's roles with their rights and visibility.
    List {
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a role.
    Add {
        #[arg(long)]
        tenant: String,
        name: String,
        /// Comma-separated rights, e.g. companies.read,persons.read.
        #[arg(long, value_delimiter = ',')]
        rights: Vec<String>,
        /// own, team or all.
        #[arg(long)]
        visibility: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Change a role (by name or id).
    Set {
        #[arg(long)]
        tenant: String,
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// The complete new set of rights, comma-separated.
        #[arg(long, value_delimiter = ',')]
        rights: Option<Vec<String>>,
        #[arg(long)]
        visibility: Option<String>,
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a role nobody holds.
    Remove {
        #[arg(long)]
        tenant: String,
        role: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// List the tenant's teams and their members.
    List {
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Add a team.
    Add {
        #[arg(long)]
        tenant: String,
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// Remove a team (its members leave it).
    Remove {
        #[arg(long)]
        tenant: String,
        team: String,
    },
    /// Add a user to a team.
    AddMember {
        #[arg(long)]
        tenant: String,
        team: String,
        username: String,
    },
    /// Remove a user from a team.
    RemoveMember {
        #[arg(long)]
        tenant: String,
        team: String,
        username: String,
    },
}

async fn open(router: &TenantRouter, tenant: &str) -> anyhow::Result<(TenantSlug, TenantDb)> {
    let slug = TenantSlug::parse(tenant).map_err(|e| anyhow::anyhow!("tenant '{tenant}': {e}"))?;
    let (_, db) = router
        .open(&slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
    Ok((slug, db))
}

/// A tenant the operator acts in through the application layer.
pub(crate) struct Operating {
    record: TenantRecord,
    pub(crate) db: TenantDb,
}

impl Operating {
    pub(crate) async fn open(router: &TenantRouter, tenant: &str) -> anyhow::Result<Self> {
        let slug =
            TenantSlug::parse(tenant).map_err(|e| anyhow::anyhow!("tenant '{tenant}': {e}"))?;
        let (record, db) = router
            .open(&slug)
            .await?
            .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
        Ok(Self { record, db })
    }

    /// Where the operator's action happens (no address: the command line).
    pub(crate) fn ctx<'a>(&'a self, router: &'a TenantRouter, audit: &'a AuditTrail) -> Ctx<'a> {
        Ctx {
            tenant: &self.record,
            db: &self.db,
            audit,
            clock: router.catalog().clock(),
            ip: None,
            request_id: None,
        }
    }
}

/// An action's refusal as one line.
pub(crate) fn app_err(e: AppError) -> anyhow::Error {
    match e {
        AppError::Invalid(f) => anyhow::anyhow!(
            "{}",
            f.0.iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::anyhow!("{other}"),
    }
}

fn rights(names: &[String]) -> anyhow::Result<Vec<Right>> {
    names
        .iter()
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| Right::parse(n).map_err(|e| anyhow::anyhow!("{e}")))
        .collect()
}

fn visibility(v: &str) -> anyhow::Result<Visibility> {
    Visibility::parse(v).map_err(|e| anyhow::anyhow!("{e}"))
}

pub async fn role(
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: RoleCommand,
) -> anyhow::Result<()> {
    match cmd {
        RoleCommand::List { tenant, json } => {
            let (_, db) = open(router, &tenant).await?;
            let roles = db.list_roles().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&roles)?);
            } else {
                println!("{:<24} {:<10} {:<6} RIGHTS", "NAME", "VISIBILITY", "USERS");
                for r in roles {
                    let holders = db.users_with_role(&r.id).await?;
                    let rights: Vec<&str> = r.rights.iter().map(|x| x.as_str()).collect();
                    println!(
                        "{:<24} {:<10} {:<6} {}",
                        r.name,
                        r.visibility.as_str(),
                        holders,
                        rights.join(",")
                    );
                }
            }
        }
        RoleCommand::Add {
            tenant,
            name,
            rights: names,
            visibility: v,
            description,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let slug = at.db.slug().clone();
            let role = skjold_app::roles::create(
                &at.ctx(router, audit),
                &Operator,
                NewRole {
                    name,
                    description,
                    rights: rights(&names)?,
                    visibility: visibility(&v)?,
                },
            )
            .await
            .map_err(app_err)?;
            println!(
                "added role '{}' ({}) to tenant '{slug}'",
                role.name, role.id
            );
        }
        RoleCommand::Set {
            tenant,
            role,
            name,
            rights: names,
            visibility: v,
            description,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let current = access::find_role(&at.db, &role).await?;
            let patch = RolePatch {
                name,
                description: description.map(Some),
                rights: names.as_deref().map(rights).transpose()?,
                visibility: v.as_deref().map(visibility).transpose()?,
            };
            let after =
                skjold_app::roles::update(&at.ctx(router, audit), &Operator, &current.id, patch)
                    .await
                    .map_err(app_err)?;
            println!("changed role '{}'", after.name);
        }
        RoleCommand::Remove { tenant, role } => {
            let at = Operating::open(router, &tenant).await?;
            let current = access::find_role(&at.db, &role).await?;
            let removed = skjold_app::roles::delete(&at.ctx(router, audit), &Operator, &current.id)
                .await
                .map_err(app_err)?;
            println!("removed role '{}'", removed.name);
        }
    }
    Ok(())
}

async fn find_team(db: &TenantDb, team: &str) -> anyhow::Result<skjold_store::Team> {
    db.find_team(team)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no team '{team}'"))
}

async fn find_user(db: &TenantDb, username: &str) -> anyhow::Result<skjold_store::User> {
    let name =
        skjold_domain::Username::parse(username).map_err(|e| anyhow::anyhow!("username: {e}"))?;
    Ok(db
        .user_for_sign_in(&name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("there is no user '{name}'"))?
        .0)
}

pub async fn team(
    router: &TenantRouter,
    audit: &AuditTrail,
    cmd: TeamCommand,
) -> anyhow::Result<()> {
    match cmd {
        TeamCommand::List { tenant, json } => {
            let (_, db) = open(router, &tenant).await?;
            let mut out = Vec::new();
            for t in db.list_teams().await? {
                let members = db.team_members(&t.id).await?;
                out.push((t, members));
            }
            if json {
                let v: Vec<_> = out
                    .iter()
                    .map(|(t, m)| serde_json::json!({ "team": t, "members": m }))
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!("{:<24} MEMBERS", "TEAM");
                for (t, m) in out {
                    let names: Vec<&str> = m.iter().map(|m| m.username.as_str()).collect();
                    println!("{:<24} {}", t.name, names.join(","));
                }
            }
        }
        TeamCommand::Add {
            tenant,
            name,
            description,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let t =
                skjold_app::teams::create(&at.ctx(router, audit), &Operator, &name, description)
                    .await
                    .map_err(app_err)?;
            println!(
                "added team '{}' ({}) to tenant '{}'",
                t.name,
                t.id,
                at.db.slug()
            );
        }
        TeamCommand::Remove { tenant, team } => {
            let at = Operating::open(router, &tenant).await?;
            let t = find_team(&at.db, &team).await?;
            let t = skjold_app::teams::delete(&at.ctx(router, audit), &Operator, &t.id)
                .await
                .map_err(app_err)?;
            println!("removed team '{}'", t.name);
        }
        TeamCommand::AddMember {
            tenant,
            team,
            username,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let t = find_team(&at.db, &team).await?;
            let u = find_user(&at.db, &username).await?;
            skjold_app::teams::add_member(&at.ctx(router, audit), &Operator, &t.id, &u.id)
                .await
                .map_err(app_err)?;
            println!("'{}' is a member of team '{}'", u.username, t.name);
        }
        TeamCommand::RemoveMember {
            tenant,
            team,
            username,
        } => {
            let at = Operating::open(router, &tenant).await?;
            let t = find_team(&at.db, &team).await?;
            let u = find_user(&at.db, &username).await?;
            skjold_app::teams::remove_member(&at.ctx(router, audit), &Operator, &t.id, &u.id)
                .await
                .map_err(|e| match e {
                    AppError::NotFound(_) => {
                        anyhow::anyhow!("'{}' is not a member of team '{}'", u.username, t.name)
                    }
                    other => app_err(other),
                })?;
            println!("removed '{}' from team '{}'", u.username, t.name);
        }
    }
    Ok(())
}

/// `skjold user set`: a user's role (built-in or custom, by name) and/or status.
pub async fn set_user(
    router: &TenantRouter,
    audit: &AuditTrail,
    tenant: &str,
    username: &str,
    role: Option<&str>,
    status: Option<&str>,
) -> anyhow::Result<()> {
    let at = Operating::open(router, tenant).await?;
    let user = find_user(&at.db, username).await?;
    let status = match status {
        None => None,
        Some("active") => Some(UserStatus::Active),
        Some("disabled") => Some(UserStatus::Disabled),
        Some(other) => anyhow::bail!("status '{other}': use active or disabled"),
    };
    let change = skjold_app::users::UserChange {
        role: role.map(str::to_string),
        status,
        ..Default::default()
    };
    let updated = skjold_app::users::change(&at.ctx(router, audit), &Operator, &user.id, change)
        .await
        .map_err(app_err)?;
    println!(
        "user '{}': role {}, {}",
        updated.username,
        access::role_name(&at.db, &updated.role).await?,
        updated.status.as_str()
    );
    Ok(())
}

/// `skjold user password`: resets a person's password through the same path as the API and
/// the web UI (the tenant's policy, history included; all sessions end), recorded as
/// `user.password_reset` by the operator. Answers the password made, to print once.
pub async fn reset_password(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: &TenantSlug,
    username: &str,
    chosen: Option<String>,
) -> anyhow::Result<Option<String>> {
    let at = Operating::open(router, slug.as_str()).await?;
    let user = find_user(&at.db, username).await?;
    skjold_app::users::reset_password(&at.ctx(router, audit), &Operator, &user.id, chosen)
        .await
        .map_err(app_err)
}

/// `skjold user end-sessions`: ends all of a user's access — sessions, API tokens, open
/// invitation — recorded as `user.sessions_revoked` by the operator.
pub async fn end_sessions(
    router: &TenantRouter,
    audit: &AuditTrail,
    slug: &TenantSlug,
    username: &str,
) -> anyhow::Result<EndedAccess> {
    let at = Operating::open(router, slug.as_str()).await?;
    let user = find_user(&at.db, username).await?;
    skjold_app::users::end_access(&at.ctx(router, audit), &Operator, &user.id)
        .await
        .map_err(app_err)
}
