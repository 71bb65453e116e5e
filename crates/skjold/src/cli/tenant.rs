//! `skjold tenant …`: create, list, suspend and resume tenants.

use super::{open_router, parse_slug, read_password_stdin};
use clap::Subcommand;
use skjold_domain::audit::AuditKind;
use skjold_domain::TenantSlug;
use skjold_server::provision::operator_event;
use skjold_server::Config;
use skjold_store::TenantStatus;

#[derive(Debug, Subcommand)]
pub(super) enum TenantCommand {
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

pub(super) async fn tenant(config: Config, cmd: TenantCommand) -> anyhow::Result<()> {
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
                AuditKind::TenantListed,
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
            let events = status_events(&router, &audit, &slug, AuditKind::TenantSuspended);
            router
                .catalog()
                .set_status_recorded(&slug, TenantStatus::Suspended, Some(&events))
                .await
                .map_err(|e| not_found_as(e, &slug))?;
            println!("suspended tenant '{slug}'");
        }
        TenantCommand::Resume { slug } => {
            let slug = parse_slug(&slug)?;
            let events = status_events(&router, &audit, &slug, AuditKind::TenantResumed);
            router
                .catalog()
                .set_status_recorded(&slug, TenantStatus::Active, Some(&events))
                .await
                .map_err(|e| not_found_as(e, &slug))?;
            println!("resumed tenant '{slug}'");
        }
    }
    // The records are in the files; let their database copies land before the pools close.
    audit.flush().await?;
    router.close_all().await;
    router.catalog().close().await;
    Ok(())
}

/// A tenant's suspension or resumption as the installation's and the tenant's trails record
/// it, written inside the catalog's transaction: if either cannot be recorded, the status
/// does not change.
fn status_events(
    router: &skjold_store::TenantRouter,
    audit: &skjold_audit::AuditTrail,
    slug: &TenantSlug,
    kind: AuditKind,
) -> skjold_server::provision::OperatorEvents {
    skjold_server::provision::OperatorEvents::new(
        audit,
        router.catalog(),
        &[skjold_domain::audit::SYSTEM_CHAIN, slug.as_str()],
        kind,
        serde_json::json!({ "tenant": slug.as_str(), "via": "cli" }),
    )
}

fn not_found_as(e: skjold_store::StoreError, slug: &TenantSlug) -> anyhow::Error {
    match e {
        skjold_store::StoreError::NotFound => anyhow::anyhow!("no tenant '{slug}'"),
        other => other.into(),
    }
}
