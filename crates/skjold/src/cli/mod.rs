mod access;
mod invites;
mod restore_progress;
mod tokens;
mod two_factor;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use skjold_audit::AuditTrail;
use skjold_domain::{SharedClock, SystemClock, TenantSlug, UserKind, Username};
use skjold_server::provision::operator_event;
use skjold_server::{Application, Config, ConfigOverrides};
use skjold_store::{Catalog, TenantDb, TenantRouter, TenantStatus, User};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;

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
    Role(crate::cli::access::RoleCommand),
    /// List, add and remove a tenant's teams and their members.
    #[command(subcommand)]
    Team(crate::cli::access::TeamCommand),
    /// Search and verify the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Encrypted backups in two destinations, and point-in-time restore.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// A tenant's settings.
    #[command(subcommand)]
    Settings(SettingsCommand),
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Show the tenant's two-factor requirement, or set it with --required.
    TwoFactor {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// none, all or roles (with --roles).
        #[arg(long)]
        required: Option<String>,
        /// The roles that must use a second factor (with --required roles), comma-separated.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum BackupCommand {
    /// Take a snapshot now of every tenant (or one) and ship its journal.
    Run {
        /// Only this tenant.
        #[arg(long)]
        tenant: Option<String>,
    },
    /// Each destination's contents and lag, and each tenant's shipping lag.
    Status {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// A tenant's snapshots and the journal range that can be replayed.
    List {
        #[arg(long)]
        tenant: String,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Restore a tenant as it was at a moment: in place (after a safety snapshot) or into
    /// a new tenant beside it.
    Restore {
        #[arg(long)]
        tenant: String,
        /// The moment, RFC 3339, e.g. 2026-11-26T10:13:00Z.
        #[arg(long)]
        at: String,
        /// Restore into this new tenant and leave the original untouched.
        #[arg(long, value_name = "NEW_SLUG")]
        into: Option<String>,
        /// The age identity file with the operator's private key.
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Read back every file in both destinations and check it (checksums, decryption,
    /// contents against the manifests). Exits non-zero on any problem.
    Verify {
        /// The age identity file with the operator's private key.
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Restore drill now: restore the newest point of every tenant (or one) into a scratch
    /// database, check and compare it, and record the evidence. Exits non-zero when one
    /// fails.
    Drill {
        #[arg(long)]
        tenant: Option<String>,
        /// The age identity file; default `backup.identity_file`.
        #[arg(long, value_name = "FILE")]
        identity: Option<PathBuf>,
    },
    /// The evidence of past restore drills, newest first.
    Drills {
        #[arg(long)]
        tenant: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 30)]
        limit: u32,
        #[arg(long)]
        json: bool,
    },
    /// Copy to each destination what the other has and it lacks.
    Sync,
    /// Apply retention now: 30 days restorable, monthly for 12 months, yearly for 10 years.
    Prune,
    /// Back up the closed audit-log days not in the destinations yet.
    AuditFiles,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Search a tenant's audit trail (or the installation's, with --system), newest first.
    Search {
        /// The tenant's slug.
        #[arg(long, required_unless_present = "system", conflicts_with = "system")]
        tenant: Option<String>,
        /// Search the installation's own chain (operators, requests without a tenant).
        #[arg(long)]
        system: bool,
        /// Records at or after this time (RFC 3339).
        #[arg(long)]
        from: Option<String>,
        /// Records before this time (RFC 3339).
        #[arg(long)]
        to: Option<String>,
        /// Only this username.
        #[arg(long)]
        user: Option<String>,
        /// Only this client address.
        #[arg(long)]
        ip: Option<String>,
        /// Only this kind, e.g. http.access or auth.sign_in.failed.
        #[arg(long)]
        event: Option<String>,
        /// At most this many records (1-500).
        #[arg(long, default_value_t = 100)]
        limit: usize,
        /// Print JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check every chain (or one tenant's) in the database and the daily files: hashes,
    /// links, seals, and that both copies agree. Exits non-zero on any damage.
    Verify {
        /// Only this tenant's chain.
        #[arg(long)]
        tenant: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// HTTPS address. Also SKJOLD_LISTEN; default 127.0.0.1:8443.
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Plain-HTTP address that only redirects to HTTPS, or `off`.
    /// Also SKJOLD_REDIRECT_LISTEN; default 127.0.0.1:8080.
    #[arg(long, value_name = "ADDR")]
    redirect_listen: Option<String>,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a tenant (its own database) with a first administrator.
    Create {
        /// The tenant's slug: lowercase letters, digits and '-', e.g. `acme`.
        slug: String,
        /// The display name, e.g. "Acme Ltd".
        #[arg(long)]
        name: String,
        /// The first administrator's username.
        #[arg(long, value_name = "USERNAME")]
        admin: String,
        /// Read the administrator's password from standard input instead of generating a
        /// one-time password.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the tenants.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a tenant: its users can no longer sign in or use their sessions.
    Suspend { slug: String },
    /// Lift a suspension.
    Resume { slug: String },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
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
    Token(crate::cli::tokens::TokenCommand),
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
            let result = crate::cli::access::role(&router, &audit, cmd).await;
            close(router, audit).await?;
            result
        }
        Command::Team(cmd) => {
            let config = Config::load(cli.global.config.as_deref(), &overrides(None, None))?;
            let (router, audit) = open_router(&config).await?;
            let result = crate::cli::access::team(&router, &audit, cmd).await;
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
    }
}

async fn settings(config: Config, cmd: SettingsCommand) -> anyhow::Result<()> {
    let (router, audit) = open_router(&config).await?;
    let result = match cmd {
        SettingsCommand::TwoFactor {
            tenant,
            required,
            roles,
            json,
        } => {
            let slug = parse_slug(&tenant)?;
            crate::cli::two_factor::settings(&router, &audit, &slug, required, roles, json).await
        }
    };
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    result
}

fn init_logging() {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("SKJOLD_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    // Logs go to standard error, coloured only on a terminal; standard output carries only
    // what the operator asked for (and the demo credentials, once).
    use std::io::IsTerminal;
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

async fn serve(config: Config) -> anyhow::Result<()> {
    // Listen for SIGINT/SIGTERM from the very start, so a stop that arrives while the
    // server is still starting is graceful too.
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        skjold_server::shutdown_signal().await;
        let _ = stop_tx.send(());
    });
    tokio::task::yield_now().await;
    init_logging();
    if cfg!(feature = "bench-noop-audit") {
        tracing::error!("THIS BUILD RECORDS NO AUDIT TRAIL: it is for benchmarks only");
    }
    tracing::info!(config = ?config, "starting skjold {}", env!("CARGO_PKG_VERSION"));
    let clock: SharedClock = Arc::new(SystemClock);
    let mut app = Application::build(config, clock).await?;
    let base = app.base_url();
    tracing::info!(https = %app.https_addr(), redirect = ?app.redirect_addr(), "listening");
    // Standard output may be a pipe its reader has already closed (a supervisor that read
    // what it wanted): a failed write there must never stop the server, so errors are
    // logged (without the password) instead of panicking as `println!` would.
    let printed = match app.take_demo_credentials() {
        Some(demo) => print_demo_credentials(&mut std::io::stdout().lock(), &base, &demo),
        None => writeln!(
            std::io::stdout().lock(),
            "Skjold is serving {base}/<tenant>/"
        ),
    };
    if let Err(e) = printed {
        tracing::warn!(error = %e, "could not write the start-up message to standard output");
    }
    app.run(async move {
        let _ = stop_rx.await;
    })
    .await
}

/// The demo tenant's one-time credentials, on standard output on purpose (never the log).
fn print_demo_credentials(
    out: &mut impl std::io::Write,
    base: &str,
    demo: &skjold_server::DemoCredentials,
) -> std::io::Result<()> {
    writeln!(out)?;
    writeln!(
        out,
        "  Skjold created the demo tenant. Sign in at {base}/{}/",
        demo.tenant
    )?;
    writeln!(out, "    username: {}", demo.username)?;
    writeln!(
        out,
        "    password: {}   (one-time: shown only now)",
        demo.password
    )?;
    writeln!(
        out,
        "  API: curl -k -X POST {base}/{}/api/v1/session -H 'content-type: application/json' \\",
        demo.tenant
    )?;
    writeln!(
        out,
        "         -d '{{\"username\":\"{}\",\"password\":\"<password>\"}}'",
        demo.username
    )?;
    writeln!(out)?;
    out.flush()
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

async fn tenant(config: Config, cmd: TenantCommand) -> anyhow::Result<()> {
    let (router, audit) = open_router(&config).await?;
    match cmd {
        TenantCommand::Create {
            slug,
            name,
            admin,
            password_stdin,
        } => {
            let slug = parse_slug(&slug)?;
            let password = password_stdin.then(read_password_stdin).transpose()?;
            let (tenant, user, one_time) = skjold_server::provision::create_tenant_with_admin(
                &router, &audit, slug, &name, &admin, password,
            )
            .await?;
            println!(
                "created tenant '{}' ({}) with administrator '{}'",
                tenant.slug, tenant.display_name, user.username
            );
            if let Some(p) = one_time {
                println!("one-time password: {p}");
            }
        }
        TenantCommand::List { json } => {
            let tenants = router.catalog().list().await?;
            // Reads by the operator leave a trace too: there is no access record for a CLI.
            operator_event(
                &router,
                &audit,
                skjold_domain::audit::SYSTEM_CHAIN,
                "tenant.listed",
                serde_json::json!({"via": "cli", "count": tenants.len()}),
            )
            .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&tenants)?);
            } else {
                println!("{:<24} {:<10} {:<28} NAME", "SLUG", "STATUS", "CREATED");
                for t in tenants {
                    println!(
                        "{:<24} {:<10} {:<28} {}",
                        t.slug,
                        t.status.as_str(),
                        t.created_at,
                        t.display_name
                    );
                }
            }
        }
        TenantCommand::Suspend { slug } => {
            let slug = parse_slug(&slug)?;
            router
                .catalog()
                .set_status(&slug, TenantStatus::Suspended)
                .await
                .map_err(|e| not_found_as(e, &slug))?;
            for chain in [skjold_domain::audit::SYSTEM_CHAIN, slug.as_str()] {
                operator_event(
                    &router,
                    &audit,
                    chain,
                    "tenant.suspended",
                    serde_json::json!({ "tenant": slug.as_str() }),
                )
                .await?;
            }
            println!("suspended tenant '{slug}'");
        }
        TenantCommand::Resume { slug } => {
            let slug = parse_slug(&slug)?;
            router
                .catalog()
                .set_status(&slug, TenantStatus::Active)
                .await
                .map_err(|e| not_found_as(e, &slug))?;
            for chain in [skjold_domain::audit::SYSTEM_CHAIN, slug.as_str()] {
                operator_event(
                    &router,
                    &audit,
                    chain,
                    "tenant.resumed",
                    serde_json::json!({ "tenant": slug.as_str() }),
                )
                .await?;
            }
            println!("resumed tenant '{slug}'");
        }
    }
    // The records are in the files; let their database copies land before the pools close.
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    Ok(())
}

fn not_found_as(e: skjold_store::StoreError, slug: &TenantSlug) -> anyhow::Error {
    match e {
        skjold_store::StoreError::NotFound => anyhow::anyhow!("no tenant '{slug}'"),
        other => other.into(),
    }
}

/// Lets the audit records land and closes the databases.
async fn close(router: Arc<TenantRouter>, audit: AuditTrail) -> anyhow::Result<()> {
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    Ok(())
}

async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let (router, audit) = open_router(&config).await?;
    match cmd {
        UserCommand::Set {
            tenant,
            username,
            role,
            status,
        } => {
            crate::cli::access::set_user(
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
            let kind = if service {
                UserKind::Service
            } else {
                UserKind::Person
            };
            let user = skjold_server::provision::add_user_of_kind(
                &router, &audit, &slug, username, &role, kind, None, "cli",
            )
            .await?;
            if service {
                println!(
                    "added service user '{}' ({role}) to tenant '{slug}'; make its API tokens with `skjold user token add`",
                    user.username
                );
            } else {
                println!("added user '{}' ({role}) to tenant '{slug}'", user.username);
                crate::cli::invites::invite(
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
            crate::cli::invites::invite(
                &router,
                &audit,
                config.public_url.as_ref(),
                &slug,
                &username,
            )
            .await?;
        }
        UserCommand::Token(cmd) => crate::cli::tokens::token(&router, &audit, cmd).await?,
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
            let (password, one_time) = if password_stdin {
                (read_password_stdin()?, false)
            } else {
                (
                    skjold_server::provision::generated_password(&router, &slug, &username).await?,
                    true,
                )
            };
            let user = skjold_server::provision::add_user(
                &router,
                &audit,
                &slug,
                username,
                &role,
                password.clone(),
                "cli",
            )
            .await?;
            println!("added user '{}' ({role}) to tenant '{slug}'", user.username,);
            if one_time {
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
                crate::cli::access::reset_password(&router, &audit, &slug, &username, chosen)
                    .await?;
            println!("password of '{username}' in tenant '{slug}' reset; their sessions ended");
            if let Some(password) = made {
                println!("one-time password: {password}");
            }
        }
        UserCommand::EndSessions { tenant, username } => {
            let slug = parse_slug(&tenant)?;
            let ended = crate::cli::access::end_sessions(&router, &audit, &slug, &username).await?;
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
            crate::cli::two_factor::require(&router, &audit, &slug, &username, off).await?;
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
                "user.listed",
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

async fn audit(config: Config, cmd: AuditCommand) -> anyhow::Result<()> {
    let (router, audit) = open_router(&config).await?;
    let root = skjold_audit::logs_root(&config.data_dir);
    match cmd {
        AuditCommand::Search {
            tenant,
            system,
            from,
            to,
            user,
            ip,
            event,
            limit,
            json,
        } => {
            let q = skjold_server::audit_search::audit_query(
                from.as_deref(),
                to.as_deref(),
                user.as_deref(),
                ip.as_deref(),
                event.as_deref(),
                Some(limit),
                None,
            )
            .map_err(|e| {
                let f = &e.0[0];
                anyhow::anyhow!("--{}: {}", f.field, f.message)
            })?;
            let (chain, (records, more)) = if system {
                (
                    skjold_domain::audit::SYSTEM_CHAIN.to_string(),
                    router.catalog().audit().search(&q).await?,
                )
            } else {
                let slug = parse_slug(tenant.as_deref().unwrap_or_default())?;
                let (_, db) = router
                    .open(&slug)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("no tenant '{slug}'"))?;
                (slug.as_str().to_string(), db.audit().search(&q).await?)
            };
            let detail = serde_json::json!({
                "via": "cli",
                "from": q.from, "to": q.to, "user": q.username, "ip": q.ip, "event": q.kind,
                "records": records.len(),
            });
            operator_event(&router, &audit, &chain, "audit.searched", detail).await?;
            if json {
                for r in &records {
                    println!("{}", serde_json::to_string(r)?);
                }
            } else {
                println!(
                    "{:<27} {:<24} {:<16} {:<15} {:<6} DETAIL",
                    "TIME", "EVENT", "USER", "IP", "STATUS"
                );
                for r in &records {
                    let what = match (&r.method, &r.path) {
                        (Some(m), Some(p)) => format!("{m} {p}"),
                        _ => r.detail.as_ref().map(|d| d.to_string()).unwrap_or_default(),
                    };
                    println!(
                        "{:<27} {:<24} {:<16} {:<15} {:<6} {}",
                        r.at,
                        r.kind,
                        r.username.as_deref().unwrap_or("-"),
                        r.ip.as_deref().unwrap_or("-"),
                        r.status
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "-".into()),
                        what
                    );
                }
                if more {
                    println!("(more records match; narrow the search or raise --limit)");
                }
            }
        }
        AuditCommand::Verify { tenant, json } => {
            let chains: Vec<String> = match tenant {
                Some(t) => vec![parse_slug(&t)?.as_str().to_string()],
                None => {
                    let mut v = vec![skjold_domain::audit::SYSTEM_CHAIN.to_string()];
                    v.extend(
                        router
                            .catalog()
                            .list()
                            .await?
                            .into_iter()
                            .map(|t| t.slug.as_str().to_string()),
                    );
                    v
                }
            };
            let mut damaged = 0;
            let checked = chains.len();
            for chain in chains {
                let report = skjold_audit::verify_chain(&router, &root, &chain).await?;
                if !report.ok() {
                    damaged += 1;
                }
                if json {
                    println!("{}", serde_json::to_string(&report)?);
                } else if report.ok() {
                    println!(
                        "{chain}: intact ({} records in the database, {} in {} daily file(s))",
                        report.database_records, report.file_records, report.days
                    );
                } else {
                    println!("{chain}: DAMAGED");
                    for d in &report.damage {
                        println!("  {:?} at {}: {}", d.kind, d.location, d.detail);
                    }
                }
            }
            operator_event(
                &router,
                &audit,
                skjold_domain::audit::SYSTEM_CHAIN,
                "audit.verified",
                serde_json::json!({"via": "cli", "chains": checked, "damaged": damaged}),
            )
            .await?;
            if damaged > 0 {
                anyhow::bail!("{damaged} audit chain(s) damaged");
            }
        }
    }
    // The records are in the files; let their database copies land before the pools close.
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    Ok(())
}

async fn backup(config: Config, cmd: BackupCommand) -> anyhow::Result<()> {
    use skjold_backup::crypt::Identities;
    let (router, audit) = open_router(&config).await?;
    let clock: SharedClock = Arc::new(SystemClock);
    let backups = skjold_backup::Backups::new(
        config.backup.clone(),
        router.clone(),
        clock,
        &config.data_dir,
    )?;
    let result = match cmd {
        BackupCommand::Run { tenant } => {
            let slugs = match tenant {
                Some(t) => vec![parse_slug(&t)?],
                None => router
                    .catalog()
                    .list()
                    .await?
                    .into_iter()
                    .map(|t| t.slug)
                    .collect(),
            };
            let mut failed = 0;
            for slug in slugs {
                match backups.snapshot(&slug, "manual").await {
                    Ok(m) => {
                        println!(
                            "{slug}: snapshot {} at position {} ({} bytes encrypted)",
                            m.id, m.position, m.ciphertext.size
                        );
                        let shipped = backups.ship(&slug).await?;
                        if shipped > 0 {
                            println!("{slug}: shipped {shipped} journal entries");
                        }
                    }
                    Err(e) => {
                        eprintln!("{slug}: {e}");
                        failed += 1;
                    }
                }
            }
            let days = backups.backup_audit_days().await?;
            if days > 0 {
                println!("audit log: {days} closed days backed up");
            }
            operator_event(
                &router,
                &audit,
                skjold_domain::audit::SYSTEM_CHAIN,
                "backup.run",
                serde_json::json!({ "failed": failed }),
            )
            .await?;
            if failed > 0 {
                bail!("{failed} snapshots failed");
            }
            Ok(())
        }
        BackupCommand::Status { json } => {
            let st = backups.status().await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&st)?);
            } else {
                println!(
                    "{:<8} {:<9} {:>8} {:>12} {:>8} {:>12}  LOCATION",
                    "DEST", "STATE", "OBJECTS", "BYTES", "MISSING", "MISSING_B"
                );
                for d in &st.destinations {
                    println!(
                        "{:<8} {:<9} {:>8} {:>12} {:>8} {:>12}  {}{}",
                        d.name,
                        if d.reachable { "ok" } else { "DOWN" },
                        d.objects,
                        d.bytes,
                        d.missing_objects,
                        d.missing_bytes,
                        d.location,
                        d.error
                            .as_ref()
                            .map(|e| format!(" ({e})"))
                            .unwrap_or_default()
                    );
                }
                println!();
                println!(
                    "{:<20} {:>9} {:<28} {:>9} {:>9} {:>9}",
                    "TENANT", "SNAPSHOTS", "LAST SNAPSHOT", "JOURNAL", "SHIPPED", "LAG_S"
                );
                for t in &st.tenants {
                    println!(
                        "{:<20} {:>9} {:<28} {:>9} {:>9} {:>9.1}",
                        t.tenant,
                        t.snapshots,
                        t.last_snapshot_at.as_deref().unwrap_or("-"),
                        t.journal_position,
                        t.shipped_position,
                        t.lag_seconds
                    );
                }
            }
            Ok(())
        }
        BackupCommand::List { tenant, json } => {
            let slug = parse_slug(&tenant)?;
            let snaps = backups.list_snapshots(slug.as_str()).await?;
            let segs = backups.list_segments(slug.as_str()).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "tenant": slug.as_str(),
                        "snapshots": snaps,
                        "journal_segments": segs.iter().map(|(a, l)| serde_json::json!({"after": a, "last": l})).collect::<Vec<_>>(),
                    }))?
                );
            } else {
                println!(
                    "{:<34} {:<28} {:>9} {:<8} {:>12}",
                    "SNAPSHOT", "AT", "POSITION", "REASON", "BYTES"
                );
                for s in &snaps {
                    println!(
                        "{:<34} {:<28} {:>9} {:<8} {:>12}",
                        s.id, s.at, s.position, s.reason, s.ciphertext.size
                    );
                }
                match (segs.first(), segs.last()) {
                    (Some(f), Some(l)) => println!(
                        "journal: {} segments, entries {}..={}",
                        segs.len(),
                        f.0 + 1,
                        l.1
                    ),
                    _ => println!("journal: nothing shipped yet"),
                }
            }
            Ok(())
        }
        BackupCommand::Restore {
            tenant,
            at,
            into,
            identity,
            json,
        } => {
            let ids = Identities::from_file(&identity)?;
            let at = chrono::DateTime::parse_from_rfc3339(at.trim())
                .map_err(|e| anyhow::anyhow!("--at: '{at}' is not an RFC 3339 time ({e})"))?
                .with_timezone(&chrono::Utc);
            let req = skjold_backup::RestoreRequest {
                tenant: parse_slug(&tenant)?,
                at,
                into: into.as_deref().map(parse_slug).transpose()?,
                by: "operator".into(),
            };
            let (progress, watch) = skjold_backup::Progress::channel();
            let printer = tokio::spawn(crate::cli::restore_progress::print(watch));
            let outcome = backups.restore_watched(&req, &ids, &audit, &progress).await;
            drop(progress);
            // The printer ends when the channel closes; its last line is the final phase.
            let _ = printer.await;
            let outcome = outcome?;
            if json {
                println!("{}", serde_json::to_string_pretty(&outcome)?);
            } else {
                println!(
                    "restored '{}'{} to {}: snapshot {} ({}) + {} journal entries{}",
                    outcome.tenant,
                    outcome
                        .into
                        .as_ref()
                        .map(|i| format!(" into '{i}'"))
                        .unwrap_or_default(),
                    outcome.at,
                    outcome.snapshot,
                    outcome.snapshot_at,
                    outcome.replayed,
                    if outcome.journal_reaches_time {
                        String::new()
                    } else {
                        format!(
                            " (the shipped journal ends at {}; that is the state restored)",
                            outcome
                                .last_entry_at
                                .as_deref()
                                .unwrap_or(&outcome.snapshot_at)
                        )
                    }
                );
                if let Some(s) = &outcome.safety_snapshot {
                    println!("safety snapshot taken before: {s}");
                }
                if let Some(c) = &outcome.changes {
                    println!(
                        "records: {} created, {} updated, {} deleted, {} unchanged",
                        c.created, c.updated, c.deleted, c.unchanged
                    );
                }
            }
            Ok(())
        }
        BackupCommand::Verify { identity, json } => {
            let ids = Identities::from_file(&identity)?;
            let report = backups.verify(&ids).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for p in &report.problems {
                    println!("PROBLEM {p}");
                }
                println!(
                    "{} files checked in {} destinations, {} problems",
                    report.checked,
                    backups.destinations().len(),
                    report.problems.len()
                );
            }
            operator_event(
                &router,
                &audit,
                skjold_domain::audit::SYSTEM_CHAIN,
                if report.ok() {
                    "backup.verified"
                } else {
                    "backup.verify.failed"
                },
                serde_json::json!({ "checked": report.checked, "problems": report.problems.len() }),
            )
            .await?;
            if !report.ok() {
                bail!("{} problems in the backups", report.problems.len());
            }
            Ok(())
        }
        BackupCommand::Drill { tenant, identity } => {
            let ids = match identity {
                Some(path) => Identities::from_file(&path)?,
                None => backups.server_identities()?,
            };
            let records = match tenant {
                Some(t) => vec![backups.drill(&parse_slug(&t)?, &ids, &audit).await?],
                None => backups.drill_all(&ids, &audit).await?,
            };
            let mut failed = 0;
            for d in &records {
                println!(
                    "{}: drill {} in {} ms (snapshot {}, {} journal entries, compared {}){}",
                    d.tenant,
                    d.outcome.to_uppercase(),
                    d.duration_ms,
                    d.snapshot.as_deref().unwrap_or("-"),
                    d.replayed,
                    d.compared,
                    d.error
                        .as_ref()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                if d.outcome != "passed" {
                    failed += 1;
                }
            }
            if failed > 0 {
                bail!("{failed} restore drills failed");
            }
            Ok(())
        }
        BackupCommand::Drills {
            tenant,
            limit,
            json,
        } => {
            let tenant = tenant.as_deref().map(parse_slug).transpose()?;
            let drills = router
                .catalog()
                .drills(tenant.as_ref().map(|t| t.as_str()), limit)
                .await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&drills)?);
            } else {
                println!(
                    "{:<28} {:<20} {:<7} {:>9} {:>8} {:<16}  ERROR",
                    "STARTED", "TENANT", "OUTCOME", "MS", "REPLAYED", "COMPARED"
                );
                for d in &drills {
                    println!(
                        "{:<28} {:<20} {:<7} {:>9} {:>8} {:<16}  {}",
                        d.started_at,
                        d.tenant,
                        d.outcome,
                        d.duration_ms,
                        d.replayed,
                        d.compared,
                        d.error.as_deref().unwrap_or("")
                    );
                }
            }
            Ok(())
        }
        BackupCommand::Sync => {
            let r = backups.sync().await?;
            println!("copied {} files ({} bytes)", r.copied, r.bytes);
            for p in &r.problems {
                println!("PROBLEM {p}");
            }
            if !r.problems.is_empty() {
                bail!("{} files could not be copied", r.problems.len());
            }
            Ok(())
        }
        BackupCommand::Prune => {
            let r = backups.prune().await?;
            println!(
                "{} tenants: {} snapshots kept, {} snapshots and {} journal segments deleted",
                r.tenants, r.snapshots_kept, r.snapshots_deleted, r.segments_deleted
            );
            for p in &r.problems {
                println!("PROBLEM {p}");
            }
            Ok(())
        }
        BackupCommand::AuditFiles => {
            let n = backups.backup_audit_days().await?;
            println!("{n} closed audit-log days backed up");
            Ok(())
        }
    };
    audit.flush().await.ok();
    result
}
