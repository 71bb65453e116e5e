mod access;
mod audit;
mod backup;
mod capacity;
mod doctor;
mod idp;
mod invites;
mod operations;
mod restore_progress;
mod serve;
mod settings;
mod tenant;
mod tokens;
mod two_factor;
mod user;

use anyhow::{bail, Context};
use audit::{audit, AuditCommand};
use backup::{backup, BackupCommand};
use clap::{Args, Parser, Subcommand};
use serve::{serve, ServeArgs};
use settings::{settings, SettingsCommand};
use skjold_audit::AuditTrail;
use skjold_domain::{SharedClock, SystemClock, TenantSlug, Username};
use skjold_server::{Config, ConfigOverrides};
use skjold_store::{Catalog, TenantDb, TenantRouter, User};
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use tenant::{tenant, TenantCommand};
use user::{user, UserCommand};

/// Skjold: a self-hostable, multi-tenant CRM whose security promises are features.
///
/// With no configuration, `skjold serve` keeps everything in ./skjold-data (SQLite), serves
/// https://127.0.0.1:8443 with a self-signed certificate, and on its first start creates a
/// `demo` tenant whose administrator's one-time password it prints once.
#[derive(Debug, Parser)]
#[command(name = "skjold", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    global: Global,
    /// Without a command, `serve` runs with its defaults.
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Args)]
struct Global {
    /// Configuration file (TOML). Default: ./skjold.toml when present.
    #[arg(long, env = "SKJOLD_CONFIG", global = true, value_name = "PATH")]
    config: Option<PathBuf>,
    /// Where Skjold keeps its files (SQLite databases, certificate, audit logs).
    /// Also SKJOLD_DATA_DIR; default ./skjold-data.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server (HTTPS, plus the plain-HTTP redirect).
    Serve(ServeArgs),
    /// Create, list, suspend and resume tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Add, change and list a tenant's users.
    #[command(subcommand)]
    User(UserCommand),
    /// List, add, change and remove a tenant's roles.
    #[command(subcommand)]
    Role(access::RoleCommand),
    /// List, add and remove a tenant's teams and their members.
    #[command(subcommand)]
    Team(access::TeamCommand),
    /// A tenant's identity providers for single sign-on (Entra ID, Google, OpenID Connect).
    #[command(subcommand)]
    Idp(idp::IdpCommand),
    /// Search and verify the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Encrypted backups in two destinations, and point-in-time restore.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// A tenant's settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// Check the installation: each finding with its fix; exits 1 on any error.
    Doctor(doctor::DoctorArgs),
    /// Announce, list and cancel maintenance windows (shown on every sign-in screen).
    #[command(subcommand)]
    Maintenance(operations::MaintenanceCommand),
    /// Open, update, review and list incidents (shown on the status page).
    #[command(subcommand)]
    Incident(operations::IncidentCommand),
    /// What the status page shows; set or clear a component's state by hand.
    #[command(subcommand)]
    Status(operations::StatusCommand),
    /// The operators' own credentials: tokens for the operator API.
    #[command(subcommand)]
    Operator(operations::OperatorCommand),
    /// Growth per day of the disk, each database, the audit logs and the backups, and when
    /// each space runs out at that trend.
    Capacity(capacity::CapacityArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let overrides = |listen: Option<String>, redirect_listen: Option<String>| ConfigOverrides {
        data_dir: cli.global.data_dir.clone(),
        listen,
        redirect_listen,
    };
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs {
        listen: None,
        redirect_listen: None,
    }));
    match command {
        Command::Serve(args) => {
            let config = Config::load(
                cli.global.config.as_deref(),
                &overrides(args.listen, args.redirect_listen),
            )?;
            serve(config).await
        }
        Command::Tenant(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            tenant(config, cmd).await
        }
        Command::User(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            user(config, cmd).await
        }
        Command::Role(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = access::role(&router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Team(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = access::team(&router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Idp(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = idp::idp(&config, &router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Audit(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            audit(config, cmd).await
        }
        Command::Backup(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            backup(config, cmd).await
        }
        Command::Settings(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            settings(config, cmd).await
        }
        Command::Maintenance(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = operations::maintenance(&router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Incident(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = operations::incident(&router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Status(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = operations::status(&router, &audit, config.notify.channels(), cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Operator(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = operations::operator(&router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Doctor(args) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            doctor::doctor(config, args).await
        }
        Command::Capacity(args) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            capacity::capacity(config, args).await
        }
    }
}

async fn open_router(config: &Config) -> anyhow::Result<(Arc<TenantRouter>, AuditTrail)> {
    let clock: SharedClock = Arc::new(SystemClock);
    let catalog = Catalog::open(config.backend()?, clock)
        .await
        .context("opening the catalog database")?;
    let router = Arc::new(TenantRouter::new(catalog, 4));
    let audit = AuditTrail::start(router.clone(), skjold_audit::logs_root(&config.data_dir));
    Ok((router, audit))
}

pub(crate) fn parse_slug(s: &str) -> anyhow::Result<TenantSlug> {
    TenantSlug::parse(s).map_err(|e| anyhow::anyhow!("tenant '{s}': {e}"))
}

fn read_password_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin()
        .take(4096)
        .read_to_string(&mut s)
        .context("reading the password from standard input")?;
    let p = s.trim_end_matches(['\n', '\r']).to_string();
    if p.is_empty() {
        bail!("no password on standard input");
    }
    Ok(p)
}

async fn user_named(
    router: &TenantRouter,
    slug: &TenantSlug,
    username: &str,
) -> anyhow::Result<(skjold_store::TenantRecord, TenantDb, User)> {
    let (record, db) = router
        .open(slug)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
    let name = Username::parse(username).map_err(|e| anyhow::anyhow!("username: {e}"))?;
    let (user, _) = db
        .user_for_sign_in(&name)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no user '{name}' in tenant '{slug}'"))?;
    Ok((record, db, user))
}

/// Lets the audit records land and closes the databases.
async fn close(router: Arc<TenantRouter>, audit: AuditTrail) -> anyhow::Result<()> {
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    Ok(())
}
