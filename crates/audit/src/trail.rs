//! The writer: one task that takes records from every request, groups whatever has queued up
//! into one batch per chain (group commit), appends and fsyncs the day files, inserts into
//! the databases, and only then lets the callers go on.

use crate::files::{self, ChainLock};
use skjold_domain::audit::{AuditRecord, Draft, GENESIS, SYSTEM_CHAIN};
use skjold_domain::TenantSlug;
use skjold_store::{AuditTable, StoreError, TenantRouter};
use std::collections::HashMap;
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
    /// Answered once everything queued before it is in the databases too.
    Barrier(oneshot::Sender<()>),
}

/// A handle on the trail; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    jobs: mpsc::Sender<Job>,
}

/// The most records one batch takes: bounds the time a batch holds the chain lock.
const MAX_BATCH: usize = 2048;

impl AuditTrail {
    /// Starts the writer. `root` is the audit log directory (see [`crate::logs_root`]).
    pub fn start(router: Arc<TenantRouter>, root: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(8192);
        tokio::spawn(
            Writer {
                router,
                root,
                heads: HashMap::new(),
            }
            .run(rx),
        );
        Self { jobs: tx }
    }

    /// Records `draft` in `chain` (a tenant slug or `_system`) and returns once it is
    /// durable in the chain's file; the database copy is written in the same batch.
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

    /// Waits until every record handed in before this call is in its database as well as
    /// in its file, so that a search sees them (read-your-writes for the audit API).
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

struct Writer {
    router: Arc<TenantRouter>,
    root: PathBuf,
    heads: HashMap<String, Head>,
}

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
            type Waiter = oneshot::Sender<Result<(), AuditError>>;
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
                self.write_chain(&chain, drafts, waiters).await;
            }
            // Everything before the barriers is now in the files and the databases.
            for b in barriers {
                let _ = b.send(());
            }
        }
    }

    /// Appends the drafts to the chain's file and fsyncs it, lets the callers go on (the
    /// records are durable), then writes the database copy.
    async fn write_chain(
        &mut self,
        chain: &str,
        drafts: Vec<Draft>,
        waiters: Vec<oneshot::Sender<Result<(), AuditError>>>,
    ) {
        let written = self.write_file(chain, drafts).await;
        let (records, head, cold) = match written {
            Ok(w) => {
                for w in waiters {
                    let _ = w.send(Ok(()));
                }
                w
            }
            Err(e) => {
                tracing::error!(chain = %chain, error = %e, "audit write failed");
                for w in waiters {
                    let _ = w.send(Err(AuditError::Write(e.clone())));
                }
                return;
            }
        };
        self.copy_to_database(chain, records, head, cold).await;
    }

    async fn write_file(
        &mut self,
        chain: &str,
        drafts: Vec<Draft>,
    ) -> Result<(Vec<AuditRecord>, Head, bool), String> {
        let dir = files::chain_dir(&self.root, chain);
        let chain_owned = chain.to_string();
        let cached = self.heads.remove(chain);

        // Lock, find the head, chain the drafts, append and fsync: blocking file work.
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
            files::append(&dir, &records, last.as_ref()).map_err(|e| e.to_string())?;
            let lastr = records.last().cloned();
            let file = lastr
                .as_ref()
                .map(|r| files::day_path(&dir, r.day()))
                .unwrap_or(today);
            let len = files::file_len(&file);
            Ok((
                records,
                Head {
                    last: lastr,
                    file,
                    len,
                },
                cold,
            ))
        })
        .await
        .map_err(|e| e.to_string())?
    }

    async fn copy_to_database(
        &mut self,
        chain: &str,
        records: Vec<AuditRecord>,
        head: Head,
        cold: bool,
    ) {
        let router = self.router.clone();
        // The database copy. The file is already durable. After a cold start (or a failed
        // copy) the database may lag the file: then copy everything it lacks.
        let db_result = if cold {
            backfill(&router, &self.root, chain).await.map(|_| ())
        } else {
            match chain_db(&router, chain).await {
                Ok(db) => db.table().insert(&records).await,
                Err(e) => Err(e),
            }
        };
        match db_result {
            Ok(()) => {
                self.heads.insert(chain.to_string(), head);
            }
            Err(e) => {
                tracing::error!(chain = %chain, error = %e, "audit database copy failed; will backfill from the file");
            }
        }
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
                if r.seq > after {
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
