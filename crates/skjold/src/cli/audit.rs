//! `skjold audit …`: search and verify the audit trail.

use super::{open_router, parse_slug};
use clap::Subcommand;
use skjold_domain::audit::AuditKind;
use skjold_server::provision::operator_event;
use skjold_server::Config;

#[derive(Debug, Subcommand)]
pub(super) enum AuditCommand {
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

pub(super) async fn audit(config: Config, cmd: AuditCommand) -> anyhow::Result<()> {
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
            operator_event(&router, &audit, &chain, AuditKind::AuditSearched, detail).await?;
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
                AuditKind::AuditVerified,
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
