//! Backups and point-in-time restore.
//!
//! Each tenant's database is snapshotted (a consistent full export, zstd-compressed and
//! age-encrypted) and its change journal shipped in encrypted segments, to two destinations
//! (OpenDAL: local directories, S3, Azure Blob). A restore takes the newest snapshot at or
//! before the asked time, replays the journal up to that time into a scratch database,
//! checks it, and only then replaces the tenant's data (after a safety snapshot) or creates
//! a new tenant beside it. Closed audit-log days are backed up the same way.
//!
//! Layout in each destination (manifests are plain JSON without tenant data):
//! ```text
//! tenants/<slug>/snapshots/<id>.age + <id>.json
//! tenants/<slug>/journal/<after>-<last>.age + .json
//! audit/<chain>/<YYYY-MM-DD>.jsonl.age + .json
//! ```

pub mod config;
pub mod crypt;
pub mod default_key;
pub mod dest;
pub mod drill;
pub mod lag;
pub mod manifest;
pub mod progress;
pub mod restore;
pub mod retention;
mod write_behind;

mod audit_days;
mod mirror;
mod shipping;
mod snapshot;
mod status;
mod sync;
mod verify;

use crate::crypt::Identities;
use crate::dest::Destination;
pub use crate::manifest::SnapshotFormat;
use chrono::{DateTime, Utc};
use skjold_domain::{SharedClock, TenantSlug};
use skjold_store::{StoreError, TenantDb, TenantRouter};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::{BackupConfig, BackupKey, BackupSettings, DestinationSettings};
pub use progress::{Progress, ProgressUnit, RestorePhase, RestoreProgress};
pub use restore::{RestoreOutcome, RestoreRequest};
pub use snapshot::SnapshotReader;
pub use status::{DestinationStatus, RestoreWindow, Status, TenantBackupStatus};
pub use sync::SyncReport;
pub use verify::VerifyReport;

pub(crate) use shipping::Journal;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Config(String),
    #[error("backup destination: {0}")]
    Destination(String),
    #[error("missing in destination {0}")]
    Missing(String),
    #[error("damaged backup: {0}")]
    Damaged(String),
    #[error("{0}")]
    Crypto(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("audit trail: {0}")]
    Audit(String),
    /// The server holds no private key (`backup.identity_file`), so it cannot decrypt.
    #[error("backup.identity_file is not set, so the server holds no key to decrypt the backups; set it to the age identity file (kept on the server, never beside the backups) or restore with `skjold backup restore --identity`")]
    NoIdentity,
}

/// The backup machinery of one installation.
pub struct Backups {
    config: BackupConfig,
    dests: Vec<Destination>,
    router: Arc<TenantRouter>,
    clock: SharedClock,
    data_dir: PathBuf,
    /// Per tenant: the journal position shipped so far.
    shipped: tokio::sync::Mutex<HashMap<String, i64>>,
}

impl std::fmt::Debug for Backups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backups")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Backups {
    pub fn new(
        config: BackupConfig,
        router: Arc<TenantRouter>,
        clock: SharedClock,
        data_dir: &Path,
    ) -> Result<Self, BackupError> {
        if config.recipients.is_empty() {
            return Err(BackupError::Config(
                "backup.recipients: no age public key is configured, so no backup can be encrypted; add the operator's key (age-keygen -y key.txt prints it)".into(),
            ));
        }
        let dests = config
            .destinations
            .iter()
            .map(Destination::open)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            config,
            dests,
            router,
            clock,
            data_dir: data_dir.to_path_buf(),
            shipped: tokio::sync::Mutex::new(HashMap::new()),
        })
    }

    pub fn config(&self) -> &BackupConfig {
        &self.config
    }

    /// The server's own private keys, from `backup.identity_file`.
    pub fn server_identities(&self) -> Result<Identities, BackupError> {
        let path = self
            .config
            .identity_file
            .as_deref()
            .ok_or(BackupError::NoIdentity)?;
        Identities::from_file(path)
    }

    pub fn destinations(&self) -> &[Destination] {
        &self.dests
    }

    pub fn router(&self) -> &Arc<TenantRouter> {
        &self.router
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    fn work_file(&self) -> Result<tempfile::NamedTempFile, BackupError> {
        skjold_store::create_private_dir(&self.config.work_dir)?;
        Ok(tempfile::NamedTempFile::new_in(&self.config.work_dir)?)
    }

    async fn open_tenant(&self, slug: &TenantSlug) -> Result<TenantDb, BackupError> {
        self.router
            .open(slug)
            .await?
            .map(|(_, db)| db)
            .ok_or_else(|| BackupError::Refused(format!("no tenant '{slug}'")))
    }
}
