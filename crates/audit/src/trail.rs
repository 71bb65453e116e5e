//! The writer, in two stages so that a request waits only for what its durability needs.
//!
//! Stage one, the *writer*, takes records from every request, groups whatever has queued up
//! into one batch per chain (group commit), chains and appends them to the day files, and
//! then lets the callers go on. A batch holding a security event is fsynced first, so the
//! event survives a power cut before its response is sent; a batch of access records only is
//! acknowledged once it is written to the file (in the kernel's page cache), which a crash of
//! the process (`kill -9`) cannot lose.
//!
//! Stage two, the *copier*, fsyncs those files and then copies the records into the chain's
//! database, taking whatever has queued up meanwhile in one go. A database therefore never
//! holds a record its file might lose, and neither the fsync nor the database write sits on a
//! request's path.

use crate::files::{self, ChainLock};
use skjold_domain::audit::{AuditRecord, Draft, ACCESS, GENESIS, SYSTEM_CHAIN};
use skjold_domain::TenantSlug;
use skjold_store::{AuditTable, StoreError, TenantRouter};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("the audit trail is not running")]
    Stopped,
    #[error("the audit trail could not write: {0}")]
    Write(String),
}

enum Job {
    Record {
        chain: String,
        draft: Box<Draft>,
        done: oneshot::Sender<Result<(), AuditError>>,
    },
    /// Answered once everything queued before it is fsynced and in the databases too.
    Barrier(oneshot::Sender<()>),
}

/// What the writer hands the copier.
enum Copy {
    Records {
        chain: String,
        records: Vec<AuditRecord>,
        /// The day files the records went to, to fsync before the database copy.
        files: Vec<PathBuf>,
        /// The writer read the chain's head from its files (first batch, or another process
        /// wrote): the database may lag the file, so bring it up to the file.
        cold: bool,
    },
    Barrier(oneshot::Sender<()>),
}

/// A handle on the trail; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    jobs: mpsc::Sender<Job>,
}

/// The most records one batch takes: bounds the time a batch holds the chain lock.
const MAX_BATCH: usize = 2048;

/// Batches the writer may run ahead of the copier before it waits (back-pressure when the
/// disk or a database is slow).
const COPY_QUEUE: usize = 256;

impl AuditTrail {
    /// Starts the writer and the copier. `root` is the audit log directory (see
    /// [`crate::logs_root`]).
    pub fn start(router: Arc<TenantRouter>, root: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        let (copy_tx, copy_rx) = mpsc::channel(COPY_QUEUE);
        tokio::spawn(
            Copier {
                router,
                root: root.clone(),
                behind: HashSet::new(),
            }
            .run(copy_rx),
        );
        tokio::spawn(
            Writer {
                root,
                heads: HashMap::new(),
                copier: copy_tx,
            }
            .run(rx),
        );
        Self { jobs: tx }
    }

    /// Records `draft` in `chain` (a tenant slug or `_system`) and returns once it is in the
    /// chain's file: fsynced for a security event, written for an access record (see the
    /// module's documentation). The fsync and the database copy follow in the background.
    pub async fn record(&self, chain: &str, draft: Draft) -> Result<(), AuditError> {
        if cfg!(feature = "bench-noop-sinks") {
            let _ = (chain, draft);
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job::Record {
                chain: chain.to_string(),
                draft: Box::new(draft),
                done,
            })
            .await
            .map_err(|_| AuditError::Stopped)?;
        wait.await.map_err(|_| AuditError::Stopped)?
    }

    /// Waits until every record handed in before this call is fsynced in its file and in its
    /// database as well, so that a search sees them (read-your-writes for the audit API).
    pub async fn flush(&self) -> Result<(), AuditError> {
        if cfg!(feature = "bench-noop-sinks") {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.jobs
            .send(Job::Barrier(done))
            .await
            .map_err(|_| AuditError::Stopped)?;
        wait.await.map_err(|_| AuditError::Stopped)
    }
}

/// What the writer remembers of a chain between batches.
struct Head {
    last: Option<AuditRecord>,
    /// The file the last record went to and its size after the write: if either changed
    /// when the next batch comes, another process wrote and the head is read again.
    file: PathBuf,
    len: u64,
}

/// One chain's part of a batch, once it is in the file.
struct Written {
    records: Vec<AuditRecord>,
    files: Vec<PathBuf>,
    head: Head,
    cold: bool,
}

struct Writer {
    root: PathBuf,
    heads: HashMap<String, Head>,
    copier: mpsc::Sender<Copy>,
}

type Waiter = oneshot::Sender<Result<(), AuditError>>;

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            // Group by chain, keeping each chain's order.
            let mut chains: Vec<(String, Vec<(Draft, Waiter)>)> = Vec::new();
            let mut barriers = Vec::new();
            for job in batch {
                match job {
                    Job::Barrier(done) => barriers.push(done),
                    Job::Record { chain, draft, done } => {
                        match chains.iter_mut().find(|(c, _)| *c == chain) {
                            Some((_, jobs)) => jobs.push((*draft, done)),
                            None => chains.push((chain, vec![(*draft, done)])),
                        }
                    }
                }
            }
            for (chain, jobs) in chains {
                let (drafts, waiters): (Vec<Draft>, Vec<Waiter>) = jobs.into_iter().unzip();
                self.write_chain(chain, drafts, waiters).await;
            }
            // The copier answers them after everything handed to it before.
            for b in barriers {
                if let Err(mpsc::error::SendError(Copy::Barrier(b))) =
                    self.copier.send(Copy::Barrier(b)).await
                {
                    let _ = b.send(());
                }
            }
        }
    }

    /// Appends the drafts to the chain's file, lets the callers go on, and hands the records
    /// to the copier.
    async fn write_chain(&mut self, chain: String, drafts: Vec<Draft>, waiters: Vec<Waiter>) {
        // Security events must survive a power cut before anyone learns they happened.
        let sync = drafts.iter().any(|d| d.kind != ACCESS);
        match self.write_file(&chain, drafts, sync).await {
            Ok(w) => {
                for waiter in waiters {
                    let _ = waiter.send(Ok(()));
                }
                self.heads.insert(chain.clone(), w.head);
                let copy = Copy::Records {
                    chain,
                    records: w.records,
                    files: w.files,
                    cold: w.cold,
                };
                if self.copier.send(copy).await.is_err() {
                    tracing::error!("the audit copier stopped; the databases will be backfilled from the files at the next start");
                }
            }
            Err(e) => {
                tracing::error!(chain = %chain, error = %e, "audit write failed");
                for waiter in waiters {
                    let _ = waiter.send(Err(AuditError::Write(e.clone())));
                }
            }
        }
    }

    async fn write_file(
        &mut self,
        chain: &str,
        drafts: Vec<Draft>,
        sync: bool,
    ) -> Result<Written, String> {
        let dir = files::chain_dir(&self.root, chain);
        let chain_owned = chain.to_string();
        let cached = self.heads.remove(chain);

        // Lock, find the head, chain the drafts, append: blocking file work.
        tokio::task::spawn_blocking(move || -> Result<_, String> {
            let _lock = ChainLock::acquire(&dir).map_err(|e| e.to_string())?;
            let first_day = drafts
                .first()
                .map(|d| d.at.get(..10).unwrap_or("").to_string())
                .unwrap_or_default();
            let today = files::day_path(&dir, &first_day);
            // The cached head holds unless another process appended meanwhile: to our last
            // file (its size changed) or to a newer day's file.
            let (last, cold) = match cached {
                Some(h)
                    if files::file_len(&h.file) == h.len
                        && (h.file == today || !today.exists()) =>
                {
                    (h.last, false)
                }
                _ => {
                    files::repair_tail(&dir).map_err(|e| e.to_string())?;
                    (files::last_record(&dir).map_err(|e| e.to_string())?, true)
                }
            };
            let (mut seq, mut prev) = match &last {
                Some(r) => (r.seq, r.hash.clone()),
                None => (0, GENESIS.to_string()),
            };
            // Times in a chain never go backwards: a request that began before the last
            // record was written (say, just before midnight) is stamped with that record's
            // time, so every record lands in its own day's file, in order.
            let mut last_at = last.as_ref().map(|r| r.at.clone()).unwrap_or_default();
            let mut records = Vec::with_capacity(drafts.len());
            for mut d in drafts {
                if d.at < last_at {
                    d.at = last_at.clone();
                }
                last_at = d.at.clone();
                seq += 1;
                let r = d.seal(&chain_owned, seq, &prev);
                prev = r.hash.clone();
                records.push(r);
            }
            let files =
                files::append(&dir, &records, last.as_ref(), sync).map_err(|e| e.to_string())?;
            let lastr = records.last().cloned();
            let file = lastr
                .as_ref()
                .map(|r| files::day_path(&dir, r.day()))
                .unwrap_or(today);
            let len = files::file_len(&file);
            Ok(Written {
                records,
                files,
                head: Head {
                    last: lastr,
                    file,
                    len,
                },
                cold,
            })
        })
        .await
        .map_err(|e| e.to_string())?
    }
}

/// The second stage: fsyncs the files the writer appended to, then copies the records into
/// the databases.
struct Copier {
    router: Arc<TenantRouter>,
    root: PathBuf,
    /// Chains whose database copy failed: the next batch backfills from the file instead.
    behind: HashSet<String>,
}

/// One chain's share of what queued up for the copier.
#[derive(Default)]
struct ChainCopy {
    records: Vec<AuditRecord>,
    files: Vec<PathBuf>,
    cold: bool,
}

impl Copier {
    async fn run(mut self, mut rx: mpsc::Receiver<Copy>) {
        while let Some(first) = rx.recv().await {
            let mut queued = vec![first];
            while let Ok(more) = rx.try_recv() {
                queued.push(more);
            }
            let mut chains: Vec<(String, ChainCopy)> = Vec::new();
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
            for (chain, part) in chains {
                self.copy_chain(&chain, part).await;
            }
            for b in barriers {
                let _ = b.send(());
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
            insert(&self.router, chain, &part.records).await
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

async fn insert(
    router: &TenantRouter,
    chain: &str,
    records: &[AuditRecord],
) -> Result<(), StoreError> {
    let db = chain_db(router, chain).await?;
    for chunk in records.chunks(1000) {
        db.table().insert(chunk).await?;
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
    let from_day = head
        .as_ref()
        .map(|h| h.day().to_string())
        .unwrap_or_default();
    let dir = files::chain_dir(root, chain);
    let mut missing = Vec::new();
    for path in files::day_files(&dir)? {
        let day = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if day < from_day.as_str() {
            continue;
        }
        for (_, line) in files::read_lines(&path)? {
            if let files::Line::Record(r) = line {
                if r.seq > after && upto.is_none_or(|u| r.seq <= u) {
                    missing.push(*r);
                }
            }
        }
    }
    let n = missing.len();
    if n > 0 {
        for chunk in missing.chunks(1000) {
            db.table().insert(chunk).await?;
        }
    }
    Ok(n)
}
