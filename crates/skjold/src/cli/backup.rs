//! `skjold backup …`: encrypted backups in two destinations, and point-in-time restore.

use super::{open_router, parse_slug};
use anyhow::bail;
use clap::Subcommand;
use skjold_domain::audit::AuditKind;
use skjold_domain::{SharedClock, SystemClock};
use skjold_server::provision::operator_event;
use skjold_server::Config;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Subcommand)]
pub(super) enum BackupCommand {
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

pub(super) async fn backup(config: Config, cmd: BackupCommand) -> anyhow::Result<()> {
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
                AuditKind::BackupRun,
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
            let printer = tokio::spawn(super::restore_progress::print(watch));
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
                    AuditKind::BackupVerified
                } else {
                    AuditKind::BackupVerifyFailed
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
