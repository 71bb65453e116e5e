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
//! records into the chain's database.

use crate::copier::{Copier, Copy};
use crate::files;
use crate::writer::{ChainWriter, Quick};
use skjold_domain::audit::{Draft, ACCESS};
use skjold_store::TenantRouter;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::{mpsc, oneshot, Notify};

pub use crate::copier::backfill;
pub(crate) use crate::copier::chain_db;

#[derive(Debug, Clone, thiserror::Error)]
pub enum AuditError {
    #[error("the audit trail is not running")]
    Stopped,
    #[error("the audit trail could not write: {0}")]
    Write(String),
}

/// Records the writers may run ahead of the copier before they wait (back-pressure when the
/// disk or a database is slow).
const COPY_QUEUE: usize = 65_536;

/// A chain's writer, taken by one caller at a time.
pub(crate) type SharedWriter = Arc<tokio::sync::Mutex<ChainWriter>>;

/// One writer per chain, made on the chain's first record; shared with the copier, which
/// releases the writers' locks.
pub(crate) type Writers = Arc<Mutex<HashMap<Arc<str>, SharedWriter>>>;

/// A handle on the trail; cheap to clone.
#[derive(Clone)]
pub struct AuditTrail {
    inner: Arc<Inner>,
}

struct Inner {
    root: PathBuf,
    /// A chain's records are written one caller at a time, in the order they take its
    /// writer.
    chains: Writers,
    copier: mpsc::Sender<Copy>,
    /// Cuts the copier's linger short when someone waits for it.
    wake_copier: Arc<Notify>,
}

impl AuditTrail {
    /// Starts the copier. `root` is the audit log directory (see [`crate::logs_root`]).
    pub fn start(router: Arc<TenantRouter>, root: PathBuf) -> Self {
        let (copy_tx, copy_rx) = mpsc::channel(COPY_QUEUE);
        let wake_copier = Arc::new(Notify::new());
        let chains = Writers::default();
        tokio::spawn(
            Copier {
                router,
                root: root.clone(),
                writers: chains.clone(),
                behind: HashSet::new(),
            }
            .run(copy_rx, wake_copier.clone()),
        );
        Self {
            inner: Arc::new(Inner {
                root,
                chains,
                copier: copy_tx,
                wake_copier,
            }),
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
        let (name, writer) = self.writer(chain);
        let mut writer = writer.lock_owned().await;
        let drafts = vec![draft];
        let quick = if sync {
            Quick::NeedsBlocking(drafts)
        } else {
            writer
                .append_quickly(drafts)
                .map_err(|e| failed(chain, e))?
        };
        let appended = match quick {
            Quick::Done(appended) => appended,
            Quick::NeedsBlocking(drafts) => {
                let (w, result) = tokio::task::spawn_blocking(move || {
                    let result = writer.append(drafts, sync);
                    (writer, result)
                })
                .await
                .map_err(|e| failed(chain, e.to_string()))?;
                writer = w;
                result.map_err(|e| failed(chain, e))?
            }
        };
        // Handed over while the chain's writer is still held, so the copier gets each chain's
        // records in chain order.
        let copy = Copy::Records {
            chain: name,
            records: appended.records,
            files: appended.files,
            cold: appended.cold,
        };
        if self.inner.copier.send(copy).await.is_err() {
            tracing::error!("the audit copier stopped; the databases will be backfilled from the files at the next start");
        }
        drop(writer);
        Ok(())
    }

    /// Waits until every record whose [`record`](Self::record) returned before this call is
    /// fsynced in its file and in its database as well, so that a search sees them
    /// (read-your-writes for the audit API).
    pub async fn flush(&self) -> Result<(), AuditError> {
        if cfg!(feature = "bench-noop-sinks") {
            return Ok(());
        }
        let (done, wait) = oneshot::channel();
        self.inner
            .copier
            .send(Copy::Barrier(done))
            .await
            .map_err(|_| AuditError::Stopped)?;
        self.inner.wake_copier.notify_one();
        wait.await.map_err(|_| AuditError::Stopped)
    }

    /// The chain's writer, made on first use.
    fn writer(&self, chain: &str) -> (Arc<str>, SharedWriter) {
        let mut chains = self
            .inner
            .chains
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((name, writer)) = chains.get_key_value(chain) {
            return (name.clone(), writer.clone());
        }
        let name: Arc<str> = Arc::from(chain);
        let writer = Arc::new(tokio::sync::Mutex::new(ChainWriter::new(
            chain,
            files::chain_dir(&self.inner.root, chain),
        )));
        chains.insert(name.clone(), writer.clone());
        (name, writer)
    }
}

fn failed(chain: &str, e: String) -> AuditError {
    tracing::error!(chain = %chain, error = %e, "audit write failed");
    AuditError::Write(e)
}
