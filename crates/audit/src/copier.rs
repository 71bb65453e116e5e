//! Stage two of the trail, the *copier*: fsyncs the day files the writers appended to, then
//! copies the records into the chains' databases, taking whatever has queued up meanwhile in
//! one go. A database therefore never holds a record its file might lose, and neither the
//! fsync nor the database write sits on a request's path.

use crate::files;
use crate::trail::Writers;
use skjold_domain::audit::{AuditRecord, SYSTEM_CHAIN};
use skjold_domain::TenantSlug;
use skjold_store::{AuditTable, StoreError, TenantRouter};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Notify};

/// What the writers hand the copier.
pub(crate) enum Copy {
    Records {
        chain: Arc<str>,
        records: Vec<AuditRecord>,
        /// The day files the records went to, to fsync before the database copy.
        files: Vec<Arc<Path>>,
        /// The writer read the chain's head from its files (first write, or another process
        /// wrote): the database may lag the file, so bring it up to the file.
        cold: bool,
    },
    /// Answered once everything queued before it is fsynced and in the databases.
    Barrier(oneshot::Sender<()>),
}

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
    /// The chains' writers, whose locks the copier releases (see
    /// [`ChainWriter::release_lock`](crate::writer::ChainWriter::release_lock)).
    pub(crate) writers: Writers,
    /// Chains whose database copy failed: the next batch backfills from the file instead.
    pub(crate) behind: HashSet<String>,
}

/// One chain's share of what queued up for the copier.
#[derive(Default)]
struct ChainCopy {
    records: Vec<AuditRecord>,
    files: Vec<Arc<Path>>,
    cold: bool,
}

impl Copier {
    pub(crate) async fn run(mut self, mut rx: mpsc::Receiver<Copy>, wake: Arc<Notify>) {
        while let Some(first) = rx.recv().await {
            let queued = gather(first, &mut rx, &wake).await;
            let mut chains: Vec<(Arc<str>, ChainCopy)> = Vec::new();
            let mut barriers = Vec::new();
            for item in queued {
                match item {
                    Copy::Barrier(done) => barriers.push(done),
                    Copy::Records {
                        chain,
                        records,
                        files,
                        cold,
                    } => {
                        let at = match chains.iter().position(|(c, _)| *c == chain) {
                            Some(i) => i,
                            None => {
                                chains.push((chain, ChainCopy::default()));
                                chains.len() - 1
                            }
                        };
                        let part = &mut chains[at].1;
                        part.records.extend(records);
                        for f in files {
                            if !part.files.contains(&f) {
                                part.files.push(f);
                            }
                        }
                        part.cold |= cold;
                    }
                }
            }
            // Before the copy, which may wait for a database: the lock is for other processes
            // to take now, not after a slow transaction.
            for (chain, _) in &chains {
                self.release_lock(chain);
            }
            for (chain, part) in chains {
                self.copy_chain(&chain, part).await;
            }
            for b in barriers {
                let _ = b.send(());
            }
        }
    }

    /// Releases the chain's lock if its writer is idle. A writer busy now is appending a
    /// record, which reaches the copier too: the next round releases it.
    fn release_lock(&self, chain: &str) {
        let writer = self
            .writers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(chain)
            .cloned();
        if let Some(writer) = writer {
            if let Ok(mut writer) = writer.try_lock() {
                writer.release_lock();
            }
        }
    }

    async fn copy_chain(&mut self, chain: &str, part: ChainCopy) {
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
            let upto = part.records.last().map(|r| r.seq);
            backfill_through(&self.router, &self.root, chain, upto)
                .await
                .map(|_| ())
        } else {
            insert(&self.router, chain, part.records).await
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

/// What the copier takes in one go: `first` and whatever queues up behind it within
/// [`COPY_LINGER`]. A barrier (someone waits for the copy) ends the wait at once.
async fn gather(first: Copy, rx: &mut mpsc::Receiver<Copy>, wake: &Notify) -> Vec<Copy> {
    if !matches!(first, Copy::Barrier(_)) {
        // Not listening to the queue meanwhile: records arriving during the wait cost their
        // senders no wake-up of this task.
        let _ = tokio::time::timeout(COPY_LINGER, wake.notified()).await;
    }
    let mut queued = vec![first];
    while let Ok(more) = rx.try_recv() {
        queued.push(more);
    }
    queued
}

async fn insert(
    router: &TenantRouter,
    chain: &str,
    records: Vec<AuditRecord>,
) -> Result<(), StoreError> {
    let db = chain_db(router, chain).await?;
    // One transaction per copy (on SQLite each commit is an fsync), bounded in size.
    insert_in_transactions(&db, records, RECORDS_PER_TRANSACTION).await
}

/// Inserts `records` in transactions of at most `size`, handing each its records.
async fn insert_in_transactions(
    db: &ChainDb,
    records: Vec<AuditRecord>,
    size: usize,
) -> Result<(), StoreError> {
    let mut records = records.into_iter();
    loop {
        let chunk: Vec<AuditRecord> = records.by_ref().take(size).collect();
        if chunk.is_empty() {
            return Ok(());
        }
        db.table().insert(chunk).await?;
    }
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
    let n = missing.len();
    insert_in_transactions(&db, missing, 1000).await?;
    Ok(n)
}
