//! The trail, in two stages so that a request waits only for what its durability needs.
//!
//! Stage one runs on the caller's task: under its chain's writer ([`ChainWriter`]) the record
//! is chained and appended to the chain's day file. A security event is fsynced first, so it
//! survives a power cut before its response is sent; an access record is acknowledged once
//! it is written to the file (in the kernel's page cache), which a crash of the process
//! (`kill -9`) cannot lose. The usual access record is appended right there, without a
//! hand-off to another thread; whatever may block (an fsync, a first read of the chain's
//! files, sealing a day, waiting for another process's lock) runs on a blocking thread while
//! the chain's other callers wait their turn.
//!
//! Stage two, the [copier](crate::copier), fsyncs those files a little later and copies the
//! records into the chain's database. The hand-over between the two is the line the writer
//! wrote, added to the chain's [`Pending`] bytes under a plain mutex: no channel message per
//! record, and only a chain's first pending record wakes the copier.

use crate::copier::Copier;
use crate::files;
use crate::writer::{Appended, ChainWriter, Quick};
use skjold_domain::audit::{Draft, ACCESS};
use skjold_store::TenantRouter;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{oneshot, Notify};

pub use crate::copier::backfill;
pub(crate) use crate::copier::chain_db;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("the audit trail is not running")]
    Stopped,
    #[error("the audit trail could not write: {0}")]
    Write(String),
}

/// Records a chain's writers may run ahead of the copier before they wait (back-pressure
/// when the disk or a database is slow).
const COPY_QUEUE: usize = 65_536;

/// One chain: its writer, and what the writer appended that the copier has not taken yet.
pub(crate) struct Chain {
    pub(crate) name: Arc<str>,
    /// Taken by one caller at a time; records are chained in the order callers take it.
    pub(crate) writer: Arc<tokio::sync::Mutex<ChainWriter>>,
    pending: Mutex<Pending>,
}

/// What a chain's writer appended since the copier last took it.
#[derive(Default)]
pub(crate) struct Pending {
    /// The records as their day files hold them, one JSON line each. The copier binds
    /// these bytes: a record's own strings are freed as soon as its request has written it,
    /// on the request's thread, instead of living on until the copy on another thread.
    pub(crate) lines: Vec<u8>,
    pub(crate) records: usize,
    /// The last record's sequence number.
    pub(crate) last_seq: i64,
    /// The day files the records went to, to fsync before the database copy.
    pub(crate) files: Vec<Arc<Path>>,
    /// The writer read the chain's head from its files (first write, or another process
    /// wrote): the database may lag the file, so the copier brings it up to the file.
    pub(crate) cold: bool,
}

impl Pending {
    fn add(&mut self, appended: Appended) {
        self.lines.extend_from_slice(&appended.lines);
        self.records += appended.records.len();
        if let Some(last) = appended.records.last() {
            self.last_seq = last.seq;
        }
        for file in appended.files {
            if !self
                .files
                .iter()
                .any(|f| Arc::ptr_eq(f, &file) || **f == *file)
            {
                self.files.push(file);
            }
        }
        self.cold |= appended.cold;
    }
}

/// What the writers and the copier share.
pub(crate) struct Shared {
    /// One per chain, made on the chain's first record.
    chains: Mutex<HashMap<Arc<str>, Arc<Chain>>>,
    /// The chains with pending records, in the order they got their first.
    dirty: Mutex<Vec<Arc<Chain>>>,
    /// Flushes waiting for the copier's next round.
    barriers: Mutex<Vec<oneshot::Sender<()>>>,
    /// A chain got its first pending record, or a flush waits: the copier has work.
    pub(crate) work: Notify,
    /// Cuts the copier's linger short: a flush waits, or a chain has too much pending.
    pub(crate) hurry: Notify,
    /// The copier took what was pending.
    drained: Notify,
    /// The copier's task ended (the runtime is shutting down, or it panicked).
    stopped: AtomicBool,
}

impl Shared {
    /// What the copier takes each round: first the flushes that wait (so that whatever
    /// was pending when they came is in what follows), then every chain's pending records.
    /// The chains' locks are released on the way (see
    /// [`ChainWriter::release_lock`](crate::writer::ChainWriter::release_lock)).
    pub(crate) fn take(&self) -> Round {
        let barriers = std::mem::take(&mut *lock(&self.barriers));
        let chains = std::mem::take(&mut *lock(&self.dirty));
        let mut taken = Vec::with_capacity(chains.len());
        for chain in chains {
            let pending = {
                let mut pending = lock(&chain.pending);
                let room = Pending {
                    lines: Vec::with_capacity(pending.lines.len()),
                    ..Pending::default()
                };
                std::mem::replace(&mut *pending, room)
            };
            // Before the copy, which may wait for a database: the lock is for other
            // processes to take now, not after a slow transaction. A writer busy now is
            // appending a record, which comes with the next round.
            if let Ok(mut writer) = chain.writer.try_lock() {
                writer.release_lock();
            }
            if pending.records > 0 {
                taken.push((chain.name.clone(), pending));
            }
        }
        self.drained.notify_waiters();
        Round {
            barriers,
            chains: taken,
        }
    }

    pub(crate) fn flush_waits(&self) -> bool {
        !lock(&self.barriers).is_empty()
    }
}

/// What the copier takes in one round.
pub(crate) struct Round {
    /// Flushes to answer once the round's records are in their databases.
    pub(crate) barriers: Vec<oneshot::Sender<()>>,
    /// Each chain's pending records.
    pub(crate) chains: Vec<(Arc<str>, Pending)>,
}

/// Marks the trail stopped when the copier's task ends, however it ends, and lets the
/// flushes that wait for it know.
pub(crate) struct CopierAlive(pub(crate) Arc<Shared>);

impl Drop for CopierAlive {
    fn drop(&mut self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        lock(&self.0.barriers).clear();
        self.0.drained.notify_waiters();
    }
}

/// A handle on the trail; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    shared: Arc<Shared>,
}

impl AuditTrail {
    /// Starts the copier. `root` is the audit log directory (see [`crate::logs_root`]).
    pub fn start(router: Arc<TenantRouter>, root: PathBuf) -> Self {
        let shared = Arc::new(Shared {
            chains: Mutex::default(),
            dirty: Mutex::default(),
            barriers: Mutex::default(),
            work: Notify::new(),
            hurry: Notify::new(),
            drained: Notify::new(),
            stopped: AtomicBool::new(false),
        });
        tokio::spawn(
            Copier {
                router,
                root: root.clone(),
                behind: HashSet::new(),
            }
            .run(CopierAlive(shared.clone())),
        );
        Self {
            inner: Arc::new(Inner { root, shared }),
        }
    }

    /// Records `draft` in `chain` (a tenant slug or `_system`) and returns once it is in the
    /// chain's file: fsynced for a security event, written for an access record (see the
    /// module's documentation). The fsync and the database copy follow in the background.
    pub async fn record(&self, chain: &str, draft: Draft) -> Result<(), AuditError> {
        if cfg!(feature = "bench-noop-sinks") {
            let _ = (chain, draft);
            return Ok(());
        }
        // Security events must survive a power cut before anyone learns they happened.
        let sync = draft.kind != ACCESS;
        let chain = self.chain(chain);
        let mut writer = chain.writer.clone().lock_owned().await;
        let drafts = vec![draft];
        let quick = if sync {
            Quick::NeedsBlocking(drafts)
        } else {
            writer
                .append_quickly(drafts)
                .map_err(|e| failed(&chain.name, e))?
        };
        let appended = match quick {
            Quick::Done(appended) => appended,
            Quick::NeedsBlocking(drafts) => {
                let (w, result) = tokio::task::spawn_blocking(move || {
                    let result = writer.append(drafts, sync);
                    (writer, result)
                })
                .await
                .map_err(|e| failed(&chain.name, e.to_string()))?;
                writer = w;
                result.map_err(|e| failed(&chain.name, e))?
            }
        };
        // Handed over while the chain's writer is still held, so that the copier takes
        // each chain's records in chain order.
        let crowded = self.hand_over(&chain, appended);
        drop(writer);
        if crowded {
            self.wait_for_copier(&chain).await;
        }
        Ok(())
    }

    /// Adds what the writer appended to the chain's pending records; wakes the copier for
    /// a chain's first (later ones wake nobody). Whether the chain has more pending than
    /// the copier should be let fall behind by.
    fn hand_over(&self, chain: &Arc<Chain>, appended: Appended) -> bool {
        let shared = &self.inner.shared;
        if shared.stopped.load(Ordering::SeqCst) {
            tracing::error!("the audit copier stopped; the databases will be backfilled from the files at the next start");
            return false;
        }
        let mut pending = lock(&chain.pending);
        let first = pending.records == 0;
        pending.add(appended);
        if first {
            lock(&shared.dirty).push(chain.clone());
            shared.work.notify_one();
        }
        pending.records >= COPY_QUEUE
    }

    /// Waits until the copier has taken the chain's pending records (or stopped).
    async fn wait_for_copier(&self, chain: &Chain) {
        let shared = &self.inner.shared;
        loop {
            let drained = shared.drained.notified();
            tokio::pin!(drained);
            drained.as_mut().enable();
            if lock(&chain.pending).records < COPY_QUEUE || shared.stopped.load(Ordering::SeqCst) {
                return;
            }
            shared.hurry.notify_one();
            drained.await;
        }
    }

    /// Waits until every record whose [`record`](Self::record) returned before this call is
    /// fsynced in its file and in its database as well, so that a search sees them
    /// (read-your-writes for the audit API).
    pub async fn flush(&self) -> Result<(), AuditError> {
        if cfg!(feature = "bench-noop-sinks") {
            return Ok(());
        }
        let shared = &self.inner.shared;
        let (done, wait) = oneshot::channel();
        lock(&shared.barriers).push(done);
        // Checked after the barrier is in: a copier that stops later drops it.
        if shared.stopped.load(Ordering::SeqCst) {
            return Err(AuditError::Stopped);
        }
        shared.work.notify_one();
        shared.hurry.notify_one();
        wait.await.map_err(|_| AuditError::Stopped)
    }

    /// Records written to their day files that wait for the copier to take them into their
    /// databases (the audit backlog: it grows while a database is slow or down).
    pub fn backlog(&self) -> usize {
        lock(&self.inner.shared.chains)
            .values()
            .map(|chain| lock(&chain.pending).records)
            .sum()
    }

    /// The chain, made on first use.
    fn chain(&self, name: &str) -> Arc<Chain> {
        let mut chains = lock(&self.inner.shared.chains);
        if let Some(chain) = chains.get(name) {
            return chain.clone();
        }
        let name: Arc<str> = Arc::from(name);
        let chain = Arc::new(Chain {
            name: name.clone(),
            writer: Arc::new(tokio::sync::Mutex::new(ChainWriter::new(
                &name,
                files::chain_dir(&self.inner.root, &name),
            ))),
            pending: Mutex::default(),
        });
        chains.insert(name, chain.clone());
        chain
    }
}

/// A mutex's guard, also after a panic elsewhere (every critical section here leaves its
/// data whole).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn failed(chain: &str, e: String) -> AuditError {
    tracing::error!(chain = %chain, error = %e, "audit write failed");
    AuditError::Write(e)
}
