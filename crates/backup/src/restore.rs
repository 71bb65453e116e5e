//! Point-in-time restore: the newest snapshot at or before the time, plus the journal up to
//! that time, built and checked in a scratch database before anything is replaced.

use crate::crypt::Identities;
use crate::manifest::{snapshot_paths, SnapshotFormat, SnapshotManifest};
use crate::progress::{Progress, ProgressUnit, RestorePhase, StoreProgress};
use crate::{BackupError, Backups, Journal, SnapshotReader};
use chrono::{DateTime, Utc};
use serde::Serialize;
use skjold_audit::AuditTrail;
use skjold_domain::audit::AuditKind;
use skjold_domain::audit::{Draft, SYSTEM_CHAIN};
use skjold_domain::clock::format_timestamp;
use skjold_domain::TenantSlug;
use skjold_store::dump::ApplyReport;
use skjold_store::{Actor, BeforeCommit, StoreError, TenantDb};
use std::collections::BTreeMap;

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub tenant: TenantSlug,
    pub at: DateTime<Utc>,
    /// Restore side by side into this new tenant; `None` restores in place.
    pub into: Option<TenantSlug>,
    /// Who asked, for the audit trail: `operator` (CLI) or a user's name.
    pub by: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreOutcome {
    pub tenant: String,
    pub into: Option<String>,
    pub at: String,
    pub snapshot: String,
    pub snapshot_at: String,
    pub replayed: u64,
    /// The time of the last journal entry applied (the state is as of then until `at`).
    pub last_entry_at: Option<String>,
    /// Whether the shipped journal reached `at`; if not, the result is the last shipped
    /// state before it.
    pub journal_reaches_time: bool,
    pub safety_snapshot: Option<String>,
    pub changes: Option<ApplyReport>,
    pub tables: BTreeMap<String, u64>,
}

/// The snapshot a restore to `at` starts from: the newest at or before it.
pub fn choose_snapshot<'a>(
    snapshots: &'a [SnapshotManifest],
    at: &str,
) -> Option<&'a SnapshotManifest> {
    snapshots
        .iter()
        .filter(|s| s.at.as_str() <= at)
        .max_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)))
}

/// A restore's event, recorded in each of `chains` inside the transaction that makes the
/// restore take effect.
fn restore_events(
    audit: &AuditTrail,
    at: DateTime<Utc>,
    chains: Vec<String>,
    by: &str,
    detail: serde_json::Value,
) -> skjold_audit::RecordOnCommit {
    skjold_audit::RecordOnCommit::new(
        audit.clone(),
        chains,
        Draft {
            at: format_timestamp(at),
            kind: AuditKind::BackupRestored.into(),
            username: Some(by.to_string()),
            detail: Some(detail),
            ..Draft::default()
        },
    )
}

impl Backups {
    /// Restores `req.tenant` as it was at `req.at`, in place or into a new tenant. Nothing
    /// is replaced unless every file checks out (checksums, age authentication, row counts
    /// against the manifest, database integrity); an in-place restore takes a safety
    /// snapshot first. Both outcomes are recorded in the audit trail.
    pub async fn restore(
        &self,
        req: &RestoreRequest,
        ids: &Identities,
        audit: &AuditTrail,
    ) -> Result<RestoreOutcome, BackupError> {
        self.restore_watched(req, ids, audit, &Progress::unwatched())
            .await
    }

    /// [`Self::restore`], reporting each phase and how far it is into `progress`; ends in
    /// [`RestorePhase::Done`] when it succeeds, and stays in the phase that failed when
    /// it does not.
    pub async fn restore_watched(
        &self,
        req: &RestoreRequest,
        ids: &Identities,
        audit: &AuditTrail,
        progress: &Progress,
    ) -> Result<RestoreOutcome, BackupError> {
        let now = self.clock.now();
        if req.at > now {
            return Err(BackupError::Refused(format!(
                "{} is in the future",
                format_timestamp(req.at)
            )));
        }
        let catalog = self.router.catalog();
        let original = catalog.get(&req.tenant).await?;
        if let Some(into) = &req.into {
            if into == &req.tenant && original.is_some() {
                return Err(BackupError::Refused(
                    "--into names the tenant itself; leave it out to restore in place".into(),
                ));
            }
            if catalog.get(into).await?.is_some() {
                return Err(BackupError::Refused(format!(
                    "tenant '{into}' already exists; choose a new slug for --into"
                )));
            }
        } else if original.is_none() {
            return Err(BackupError::Refused(format!(
                "no tenant '{}' to restore in place; use --into <new-slug> to bring it back as a new tenant",
                req.tenant
            )));
        }
        let at = format_timestamp(req.at);
        let slug = req.tenant.as_str();
        let snapshots = self.list_snapshots(slug).await?;
        let snap = choose_snapshot(&snapshots, &at).cloned().ok_or_else(|| {
            BackupError::Refused(match snapshots.first() {
                Some(first) => format!(
                    "no snapshot of '{slug}' at or before {at}; the oldest is from {}",
                    first.at
                ),
                None => format!("there is no snapshot of '{slug}' in the backups"),
            })
        })?;
        // Every file is fetched and checked before any database is touched.
        let (data_path, _) = snapshot_paths(slug, &snap.id);
        progress.phase(
            RestorePhase::Fetching,
            Some((snap.ciphertext.size, ProgressUnit::Bytes)),
        );
        let file = self
            .fetch_verified_file(&data_path, &snap.ciphertext, progress)
            .await?;
        let journal = self
            .journal_for(slug, ids, snap.position, &at, progress)
            .await?;
        let entries = &journal.entries;
        let last_entry_at = entries.last().map(|e| e.at.clone());
        let mut outcome = RestoreOutcome {
            tenant: slug.to_string(),
            into: req.into.as_ref().map(|s| s.to_string()),
            at: at.clone(),
            snapshot: snap.id.clone(),
            snapshot_at: snap.at.clone(),
            replayed: entries.len() as u64,
            last_entry_at,
            journal_reaches_time: journal.reaches_time,
            safety_snapshot: None,
            changes: None,
            tables: BTreeMap::new(),
        };

        if let Some(into) = &req.into {
            let (built, tables) = self
                .build(
                    ids,
                    &snap,
                    &file,
                    &journal,
                    Target::NewTenant(into),
                    progress,
                )
                .await?;
            let Built::Tenant(db) = built else {
                unreachable!("a new-tenant target builds a tenant database")
            };
            outcome.tables = tables;
            let name = match &original {
                Some(t) => format!("{} (restored to {at})", t.display_name),
                None => format!("{slug} (restored to {at})"),
            };
            let name: String = name.chars().take(200).collect();
            progress.phase(RestorePhase::Swapping, None);
            // Listed in the catalog transaction that records the restore in the
            // installation's trail, the new tenant's and the original's: without its
            // records, the restored tenant is not listed, and its database goes.
            let detail = serde_json::to_value(&outcome).unwrap_or_default();
            let mut chains = vec![SYSTEM_CHAIN.to_string(), into.to_string()];
            if original.is_some() {
                chains.push(slug.to_string());
            }
            let events = restore_events(audit, self.clock.now(), chains, &req.by, detail);
            match catalog
                .register_prepared_recorded(db, &name, Some(&events))
                .await
            {
                Ok(_) => {}
                // Another tenant of that name was listed meanwhile: its database is not ours.
                Err(e @ StoreError::Conflict(_)) => return Err(e.into()),
                Err(e) => {
                    if let Err(discard) = catalog.discard_unlisted(into).await {
                        tracing::error!(tenant = %into, error = %discard, "could not remove the database of a restore that was not listed");
                    }
                    return Err(e.into());
                }
            }
            progress.phase(RestorePhase::Done, None);
            return Ok(outcome);
        }

        let live = self.open_tenant(&req.tenant).await?;
        let (scratch, tables) = self
            .build(
                ids,
                &snap,
                &file,
                &journal,
                Target::Scratch(&req.tenant),
                progress,
            )
            .await?;
        let Built::Scratch(scratch_id, scratch) = scratch else {
            unreachable!("a scratch target builds a scratch database")
        };
        outcome.tables = tables;
        progress.phase(RestorePhase::SafetySnapshot, None);
        let safety = match self.snapshot_db(&live, "safety").await {
            Ok(m) => m,
            Err(e) => {
                catalog.drop_scratch(&scratch_id, scratch).await?;
                return Err(BackupError::Refused(format!(
                    "the safety snapshot before the restore failed, so nothing was changed: {e}"
                )));
            }
        };
        outcome.safety_snapshot = Some(safety.id.clone());
        progress.phase(RestorePhase::Swapping, None);
        // The restore is recorded in the tenant's trail and the installation's inside its
        // transaction, with what it changed: if either cannot take it, nothing is replaced.
        let record = |report: &ApplyReport| {
            let mut outcome = outcome.clone();
            outcome.changes = Some(report.clone());
            let events = restore_events(
                audit,
                self.clock.now(),
                vec![slug.to_string(), SYSTEM_CHAIN.to_string()],
                &req.by,
                serde_json::to_value(&outcome).unwrap_or_default(),
            );
            Box::pin(async move { events.before_commit().await })
                as futures_util::future::BoxFuture<'static, Result<(), StoreError>>
        };
        let applied = live
            .apply_state_from_recorded(&scratch, &Actor::System { what: "restore" }, &record)
            .await;
        catalog.drop_scratch(&scratch_id, scratch).await?;
        outcome.changes = Some(applied?);
        // The restore's own journal entries go out at once.
        if let Err(e) = self.ship(&req.tenant).await {
            tracing::warn!(tenant = slug, error = %e, "shipping after the restore failed; the next run retries");
        }
        progress.phase(RestorePhase::Done, None);
        Ok(outcome)
    }
}

/// Where a restore is built.
pub(crate) enum Target<'a> {
    /// A new tenant's database, not listed until it checks out.
    NewTenant(&'a TenantSlug),
    /// A scratch database labelled with the tenant (an in-place restore or a drill).
    Scratch(&'a TenantSlug),
}

pub(crate) enum Built {
    Tenant(TenantDb),
    Scratch(String, TenantDb),
}

impl Backups {
    /// Builds the state of `snap` + `entries` in `target` and checks it (integrity, links,
    /// row counts against the manifest). On any failure nothing is left behind. Returns
    /// the database and its row counts.
    pub(crate) async fn build(
        &self,
        ids: &Identities,
        snap: &SnapshotManifest,
        cipher: &tempfile::NamedTempFile,
        journal: &Journal,
        target: Target<'_>,
        progress: &Progress,
    ) -> Result<(Built, BTreeMap<String, u64>), BackupError> {
        let catalog = self.router.catalog();
        let entries = &journal.entries;
        let observer = StoreProgress {
            progress,
            segment_sizes: &journal.segment_sizes,
        };
        match snap.format {
            SnapshotFormat::SqliteFile => {
                let dir = self.work_dir()?;
                let plain = dir.path().join("restore.db");
                progress.phase(
                    RestorePhase::Decrypting,
                    Some((snap.ciphertext.size, ProgressUnit::Bytes)),
                );
                self.decrypt_to_file(ids, cipher.path(), &plain, progress)
                    .await?;
                // The file's checks (integrity, links, row counts) run as it is opened.
                progress.phase(RestorePhase::Checking, None);
                let built = match target {
                    Target::NewTenant(slug) => {
                        // The file becomes a tenant's database: it must be on disk before
                        // the tenant is listed. The fsync (disk-bound) runs while the checks
                        // (which read the same pages from the cache) do.
                        // Opened first: the checks move the file into the tenant's place.
                        let file = std::fs::File::open(&plain)?;
                        let synced = tokio::task::spawn_blocking(move || file.sync_all());
                        let prepared = catalog
                            .prepare_tenant_from_file(slug, &plain, &snap.tables)
                            .await
                            .map(Built::Tenant);
                        let synced = synced.await.map_err(std::io::Error::other).and_then(|r| r);
                        match (prepared, synced) {
                            (Ok(built), Err(e)) => {
                                self.discard(built).await?;
                                return Err(BackupError::Io(e));
                            }
                            (prepared, _) => prepared,
                        }
                    }
                    Target::Scratch(slug) => catalog
                        .open_scratch_from_file(slug, &plain, &snap.tables)
                        .await
                        .map(|(id, db)| Built::Scratch(id, db)),
                }
                .map_err(refused_after_check)?;
                let db = match &built {
                    Built::Tenant(db) | Built::Scratch(_, db) => db.clone(),
                };
                match db.replay_journal(entries, &observer).await {
                    Ok(report) => Ok((built, report.tables)),
                    Err(e) => {
                        self.discard(built).await?;
                        Err(refused_after_check(e))
                    }
                }
            }
            SnapshotFormat::JsonLines => {
                // Decrypted as it is read; progress counts the rows that are in.
                let rows: u64 = snap.tables.values().sum();
                progress.phase(RestorePhase::Loading, Some((rows, ProgressUnit::Rows)));
                let plain = ids.open(std::fs::File::open(cipher.path())?)?;
                let mut items =
                    SnapshotReader::new(std::io::BufReader::with_capacity(1 << 20, plain));
                let built = match target {
                    Target::NewTenant(slug) => Built::Tenant(catalog.prepare_tenant(slug).await?),
                    Target::Scratch(slug) => {
                        let (id, db) = catalog.open_scratch(slug).await?;
                        Built::Scratch(id, db)
                    }
                };
                let db = match &built {
                    Built::Tenant(db) | Built::Scratch(_, db) => db.clone(),
                };
                match db
                    .load_backup(&mut items, &snap.tables, entries, &observer)
                    .await
                {
                    Ok(report) => Ok((built, report.tables)),
                    Err(e) => {
                        self.discard(built).await?;
                        Err(refused_after_check(e))
                    }
                }
            }
        }
    }

    /// Removes a database [`Self::build`] made.
    pub(crate) async fn discard(&self, built: Built) -> Result<(), BackupError> {
        let catalog = self.router.catalog();
        match built {
            Built::Tenant(db) => catalog.discard_prepared(db).await?,
            Built::Scratch(id, db) => catalog.drop_scratch(&id, db).await?,
        }
        Ok(())
    }
}

fn refused_after_check(e: skjold_store::StoreError) -> BackupError {
    BackupError::Refused(format!(
        "the restored data did not pass its checks, so nothing was replaced: {e}"
    ))
}
