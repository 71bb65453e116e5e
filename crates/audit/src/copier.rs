//! Stage two of the trail, the *copier*: fsyncs the day files the writers appended to, then
//! copies the records into the chains' databases, taking whatever has queued up meanwhile in
//! one go. A database therefore never holds a record its file might lose, and neither the
//! fsync nor the database write sits on a request's path.

use crate::files;
use crate::trail::{CopierAlive, Pending};
use skjold_domain::audit::{AuditRecord, AuditRow, SYSTEM_CHAIN};
use skjold_domain::TenantSlug;
use skjold_store::{AuditTable, StoreError, TenantRouter};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long the copier lets written records gather before it fsyncs and copies them, unless
/// someone waits for the copy ([`crate::AuditTrail::flush`]). Under load this turns hundreds
/// of small fsyncs and database transactions a second into a few large ones; nobody's
/// response waits for it (the records are already in the files), and it bounds how long an
/// answered request's access record may sit in the page cache unsynced.
const COPY_LINGER: Duration = Duration::from_millis(100);

/// The most records one database transaction takes.
const RECORDS_PER_TRANSACTION: usize = 4096;

/// The second stage: fsyncs the files the writer appended to, then copies the records into
/// the databases.
pub(crate) struct Copier {
    pub(crate) router: Arc<TenantRouter>,
    pub(crate) root: PathBuf,
    /// Chains whose database copy failed: the next batch backfills from the file instead.
    pub(crate) behind: HashSet<String>,
}

impl Copier {
    pub(crate) async fn run(mut self, alive: CopierAlive) {
        let shared = alive.0.clone();
        loop {
            // Woken by a chain's first pending record or by a flush; later records of a
            // chain with records pending wake nobody.
            shared.work.notified().await;
            if !shared.flush_waits() {
                let _ = tokio::time::timeout(COPY_LINGER, shared.hurry.notified()).await;
            }
            let round = shared.take();
            for (chain, pending) in round.chains {
                self.copy_chain(&chain, pending).await;
            }
            for b in round.barriers {
                let _ = b.send(());
            }
        }
    }

    async fn copy_chain(&mut self, chain: &str, part: Pending) {
        let files = part.files;
        let synced = tokio::task::spawn_blocking(move || files::sync_files(&files))
            .await
            .map_err(std::io::Error::other)
            .and_then(|r| r);
        if let Err(e) = synced {
            // Keep the database behind the file: it must never hold what the file may lose.
            tracing::error!(chain = %chain, error = %e, "audit fsync failed; the database copy waits for the next batch");
            self.behind.insert(chain.to_string());
            return;
        }
        let backfill_first = part.cold || self.behind.contains(chain);
        let result = if backfill_first {
            // Only up to this batch: later records may be written but not yet fsynced.
            backfill_through(&self.router, &self.root, chain, Some(part.last_seq))
                .await
                .map(|_| ())
        } else {
            insert_lines(&self.router, chain, &part.lines).await
        };
        match result {
            Ok(()) => {
                self.behind.remove(chain);
            }
            Err(e) => {
                tracing::error!(chain = %chain, error = %e, "audit database copy failed; will backfill from the file");
                self.behind.insert(chain.to_string());
            }
        }
    }
}

/// Copies records into the chain's database from their lines as the writer wrote them.
async fn insert_lines(router: &TenantRouter, chain: &str, lines: &[u8]) -> Result<(), StoreError> {
    let rows = lines
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            serde_json::from_slice::<AuditRow<'_>>(line).map_err(|e| {
                StoreError::Corrupt(format!(
                    "audit chain '{chain}': a record the writer wrote does not read back: {e}"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    insert_in_transactions(&chain_db(router, chain).await?, &rows).await
}

/// Inserts `rows` in transactions of at most [`RECORDS_PER_TRANSACTION`] (on SQLite each
/// commit is an fsync).
async fn insert_in_transactions(db: &ChainDb, rows: &[AuditRow<'_>]) -> Result<(), StoreError> {
    for chunk in rows.chunks(RECORDS_PER_TRANSACTION) {
        db.table().insert_rows(chunk).await?;
    }
    Ok(())
}

/// The database that holds a chain: the catalog for `_system`, else the tenant's own.
pub(crate) enum ChainDb {
    System(skjold_store::Catalog),
    Tenant(skjold_store::TenantDb),
}

impl ChainDb {
    pub(crate) fn table(&self) -> AuditTable<'_> {
        match self {
            ChainDb::System(c) => c.audit(),
            ChainDb::Tenant(t) => t.audit(),
        }
    }
}

pub(crate) async fn chain_db(router: &TenantRouter, chain: &str) -> Result<ChainDb, StoreError> {
    if chain == SYSTEM_CHAIN {
        return Ok(ChainDb::System(router.catalog().clone()));
    }
    let slug = TenantSlug::parse(chain)
        .map_err(|e| StoreError::Corrupt(format!("audit chain '{chain}': {e}")))?;
    let (_, db) = router.open(&slug).await?.ok_or(StoreError::NotFound)?;
    Ok(ChainDb::Tenant(db))
}

/// Brings the database copy up to the file: inserts what the files hold beyond the
/// database's last record (after a crash between the two writes).
pub async fn backfill(
    router: &TenantRouter,
    root: &Path,
    chain: &str,
) -> Result<usize, StoreError> {
    backfill_through(router, root, chain, None).await
}

/// [`backfill`], stopping after sequence number `upto` when given.
async fn backfill_through(
    router: &TenantRouter,
    root: &Path,
    chain: &str,
    upto: Option<i64>,
) -> Result<usize, StoreError> {
    let db = chain_db(router, chain).await?;
    let head = db.table().head().await?;
    let after = head.as_ref().map(|h| h.seq).unwrap_or(0);
    let dir = files::chain_dir(root, chain);
    let mut missing = files::records_after(&dir, after)?;
    if let Some(upto) = upto {
        missing.retain(|r| r.seq <= upto);
    }
    let rows: Vec<AuditRow<'_>> = missing.iter().map(AuditRecord::row).collect();
    insert_in_transactions(&db, &rows).await?;
    Ok(rows.len())
}
