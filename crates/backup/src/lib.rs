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
pub mod dest;
pub mod drill;
pub mod lag;
pub mod manifest;
pub mod progress;
pub mod restore;
pub mod retention;
mod write_behind;

use crate::crypt::{Identities, Sealer};
use crate::dest::Destination;
pub use crate::manifest::SnapshotFormat;
use crate::manifest::*;
use chrono::{DateTime, Utc};
use serde::Serialize;
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::{SharedClock, TenantSlug};
use skjold_store::{DumpItem, DumpSink, JournalRecord, StoreError, TenantDb, TenantRouter};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::{BackupConfig, BackupSettings, DestinationSettings};
pub use progress::{Progress, ProgressUnit, RestorePhase, RestoreProgress};
pub use restore::{RestoreOutcome, RestoreRequest};

/// The catalog mark of the nightly snapshot: the slot it was last taken for.
const NIGHTLY_MARK: &str = "backup.snapshot.nightly";

/// At most this many journal entries go into one segment.
const SEGMENT_MAX: u32 = 5000;

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

/// Writes a snapshot as JSON lines: a header, then for each table a header line and one
/// array per row, then an end line with the counts.
struct LineSink<W: Write + Send> {
    out: W,
}

impl<W: Write + Send> DumpSink for LineSink<W> {
    fn table(&mut self, name: &str, columns: &[String]) -> Result<(), StoreError> {
        let line = serde_json::json!({ "table": name, "columns": columns });
        writeln!(self.out, "{line}")?;
        Ok(())
    }

    fn row(&mut self, values: &[serde_json::Value]) -> Result<(), StoreError> {
        serde_json::to_writer(&mut self.out, values)
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?;
        self.out.write_all(b"\n")?;
        Ok(())
    }
}

/// Reads a snapshot's plaintext back as [`DumpItem`]s; a stream without its end line is an
/// error, so a cut-short snapshot never loads.
pub struct SnapshotReader<R: BufRead> {
    lines: std::io::Lines<R>,
    started: bool,
    ended: bool,
    failed: bool,
}

impl<R: BufRead> SnapshotReader<R> {
    pub fn new(input: R) -> Self {
        Self {
            lines: input.lines(),
            started: false,
            ended: false,
            failed: false,
        }
    }

    fn next_item(&mut self) -> Result<Option<DumpItem>, String> {
        loop {
            let Some(line) = self.lines.next() else {
                return Err("the snapshot ends before its end line (truncated)".into());
            };
            let line = line.map_err(|e| format!("reading the snapshot: {e}"))?;
            let v: serde_json::Value =
                serde_json::from_str(&line).map_err(|e| format!("snapshot line: {e}"))?;
            if !self.started {
                if v["skjold_snapshot"].as_u64() != Some(u64::from(FORMAT_VERSION)) {
                    return Err("not a Skjold snapshot of a format this version reads".into());
                }
                self.started = true;
                continue;
            }
            return Ok(match v {
                serde_json::Value::Array(values) => Some(DumpItem::Row(values)),
                serde_json::Value::Object(o) if o.contains_key("end") => {
                    self.ended = true;
                    None
                }
                serde_json::Value::Object(o) => {
                    let name = o
                        .get("table")
                        .and_then(|t| t.as_str())
                        .ok_or("a snapshot line that is neither table, row nor end")?;
                    let columns = o
                        .get("columns")
                        .and_then(|c| c.as_array())
                        .ok_or("a table line without columns")?
                        .iter()
                        .map(|c| c.as_str().map(str::to_string))
                        .collect::<Option<Vec<_>>>()
                        .ok_or("a column name that is not text")?;
                    Some(DumpItem::Table {
                        name: name.to_string(),
                        columns,
                    })
                }
                _ => return Err("a snapshot line that is neither table, row nor end".into()),
            });
        }
    }
}

impl<R: BufRead> Iterator for SnapshotReader<R> {
    type Item = Result<DumpItem, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.ended || self.failed {
            return None;
        }
        match self.next_item() {
            Ok(Some(item)) => Some(Ok(item)),
            Ok(None) => None,
            Err(e) => {
                self.failed = true;
                Some(Err(StoreError::Corrupt(e)))
            }
        }
    }
}

/// What one destination holds compared with the other.
#[derive(Debug, Clone, Serialize)]
pub struct DestinationStatus {
    pub name: String,
    pub location: String,
    pub reachable: bool,
    pub error: Option<String>,
    pub objects: u64,
    pub bytes: u64,
    /// Objects the other destination has and this one lacks: its lag.
    pub missing_objects: u64,
    pub missing_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantBackupStatus {
    pub tenant: String,
    pub snapshots: u64,
    pub last_snapshot_at: Option<String>,
    pub journal_position: i64,
    pub shipped_position: i64,
    /// Journal entries written but not yet in any destination.
    pub unshipped: i64,
    /// How long the oldest unshipped entry has waited, in seconds.
    pub lag_seconds: f64,
}

/// What a tenant can be restored to.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreWindow {
    /// The oldest restorable instant (the oldest snapshot), RFC 3339.
    pub oldest: Option<String>,
    /// The newest restorable instant (the last shipped change or snapshot).
    pub newest: Option<String>,
    /// Oldest first.
    pub snapshots: Vec<SnapshotManifest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub destinations: Vec<DestinationStatus>,
    pub tenants: Vec<TenantBackupStatus>,
}

/// What `verify` found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VerifyReport {
    pub checked: u64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub copied: u64,
    pub bytes: u64,
    pub problems: Vec<String>,
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

    /// The span of time a tenant can be restored to: from its oldest snapshot to the newest
    /// shipped change (or snapshot), with the snapshots.
    pub async fn window(&self, slug: &str) -> Result<RestoreWindow, BackupError> {
        let snapshots = self.list_snapshots(slug).await?;
        let mut newest = snapshots.iter().map(|s| s.at.clone()).max();
        if let Some(&(after, last)) = self
            .list_segments(slug)
            .await?
            .iter()
            .max_by_key(|(_, l)| *l)
        {
            let (_, manifest_path) = segment_paths(slug, after, last);
            let m: SegmentManifest = self.read_manifest(&manifest_path).await?;
            newest = newest.max(Some(m.last_at));
        }
        Ok(RestoreWindow {
            oldest: snapshots.first().map(|s| s.at.clone()),
            newest,
            snapshots,
        })
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

    /// Writes a data file and then its manifest to every destination. Succeeds when at
    /// least one destination took both; one that did not is caught up by [`Self::sync`].
    async fn put_everywhere(
        &self,
        data_path: &str,
        data: Payload<'_>,
        manifest_path: &str,
        manifest: &[u8],
    ) -> Result<Vec<String>, BackupError> {
        // The destinations are written side by side: independent places (often on
        // different disks or networks), so a backup takes as long as the slower of them,
        // not their sum.
        let results = futures_util::future::join_all(self.dests.iter().map(|d| {
            let data = &data;
            async move {
                match data {
                    Payload::Bytes(b) => d.put(data_path, b.to_vec()).await?,
                    Payload::File(p) => d.put_file(data_path, p).await?,
                }
                d.put(manifest_path, manifest.to_vec()).await
            }
        }))
        .await;
        let mut ok = Vec::new();
        let mut failed = Vec::new();
        for (d, r) in self.dests.iter().zip(results) {
            match r {
                Ok(()) => ok.push(d.name.clone()),
                Err(e) => {
                    tracing::warn!(destination = %d.name, error = %e, "backup destination missed a file; it is caught up later");
                    failed.push(e.to_string());
                }
            }
        }
        if ok.is_empty() {
            return Err(BackupError::Destination(format!(
                "no destination took {data_path}: {}",
                failed.join("; ")
            )));
        }
        Ok(ok)
    }

    /// Reads a manifest from the first destination that has a readable one.
    async fn read_manifest<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<T, BackupError> {
        let mut problems = Vec::new();
        for d in &self.dests {
            match d.get(path).await {
                Ok(bytes) => match serde_json::from_slice(&bytes) {
                    Ok(m) => return Ok(m),
                    Err(e) => problems.push(format!("{}: unreadable ({e})", d.name)),
                },
                Err(e) => problems.push(e.to_string()),
            }
        }
        Err(BackupError::Damaged(format!(
            "manifest {path}: {}",
            problems.join("; ")
        )))
    }

    /// The ciphertext of `path` from the first destination whose copy matches the checksum,
    /// into memory.
    async fn fetch_verified(&self, path: &str, want: &Ciphertext) -> Result<Vec<u8>, BackupError> {
        let mut problems = Vec::new();
        for d in &self.dests {
            match d.get(path).await {
                Ok(bytes) => {
                    if bytes.len() as u64 != want.size {
                        problems.push(format!(
                            "{}: {} bytes, the manifest says {} (truncated?)",
                            d.name,
                            bytes.len(),
                            want.size
                        ));
                    } else if crypt::sha256_hex(&bytes) != want.sha256 {
                        problems.push(format!("{}: checksum does not match (altered)", d.name));
                    } else {
                        return Ok(bytes);
                    }
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        for p in &problems {
            tracing::warn!(file = path, problem = %p, "backup copy unusable");
        }
        Err(BackupError::Damaged(format!(
            "{path}: no good copy in any destination ({})",
            problems.join("; ")
        )))
    }

    /// Like [`Self::fetch_verified`], into a local file; bytes fetched go to `progress`.
    async fn fetch_verified_file(
        &self,
        path: &str,
        want: &Ciphertext,
        progress: &Progress,
    ) -> Result<tempfile::NamedTempFile, BackupError> {
        let mut problems = Vec::new();
        for d in &self.dests {
            let file = self.work_file()?;
            match d
                .get_to_file(path, file.path(), &|n| progress.done(n))
                .await
            {
                Ok(_) => {
                    let (size, sha) = crypt::sha256_file(file.path())?;
                    if size != want.size {
                        problems.push(format!(
                            "{}: {size} bytes, the manifest says {} (truncated?)",
                            d.name, want.size
                        ));
                    } else if sha != want.sha256 {
                        problems.push(format!("{}: checksum does not match (altered)", d.name));
                    } else {
                        return Ok(file);
                    }
                }
                Err(e) => problems.push(e.to_string()),
            }
        }
        for p in &problems {
            tracing::warn!(file = path, problem = %p, "backup copy unusable");
        }
        Err(BackupError::Damaged(format!(
            "{path}: no good copy in any destination ({})",
            problems.join("; ")
        )))
    }

    /// Every path under `prefix` in any destination.
    async fn list_union(&self, prefix: &str) -> Result<BTreeSet<String>, BackupError> {
        let mut all = BTreeSet::new();
        let mut reached = 0;
        let mut errors = Vec::new();
        for d in &self.dests {
            match d.list(prefix).await {
                Ok(files) => {
                    reached += 1;
                    all.extend(files.into_iter().map(|(p, _)| p));
                }
                Err(e) => errors.push(e.to_string()),
            }
        }
        if reached == 0 {
            return Err(BackupError::Destination(errors.join("; ")));
        }
        Ok(all)
    }

    /// The nightly slot the snapshot is due for: the latest `backup.snapshot_time` (UTC)
    /// at or before now.
    fn nightly_slot(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let today = now
            .date_naive()
            .and_time(self.config.snapshot_time)
            .and_utc();
        if now >= today {
            today
        } else {
            today - chrono::Duration::days(1)
        }
    }

    /// Whether a nightly snapshot is due: the latest slot has passed and no snapshot was
    /// taken for it. The last one taken is kept in the catalog, so a restart neither
    /// repeats a night nor skips one (a server that was down at the slot takes it when it
    /// is back).
    pub async fn nightly_due(&self) -> Result<bool, BackupError> {
        let now = self.now();
        let slot = self.nightly_slot(now);
        let catalog = self.router.catalog();
        match catalog.job_mark(NIGHTLY_MARK).await? {
            Some(done) => Ok(parse_timestamp(&done).is_none_or(|d| d < slot)),
            // Nothing recorded (a fresh installation): due once today's time has passed.
            None => Ok(now
                >= now
                    .date_naive()
                    .and_time(self.config.snapshot_time)
                    .and_utc()),
        }
    }

    /// Records that the nightly snapshot of the current slot is taken.
    pub async fn mark_nightly_done(&self) -> Result<(), BackupError> {
        let slot = self.nightly_slot(self.now());
        self.router
            .catalog()
            .set_job_mark(NIGHTLY_MARK, &format_timestamp(slot))
            .await?;
        Ok(())
    }

    // ----- snapshots -------------------------------------------------------------------

    /// Takes a snapshot of the tenant and writes it to both destinations.
    pub async fn snapshot(
        &self,
        slug: &TenantSlug,
        reason: &str,
    ) -> Result<SnapshotManifest, BackupError> {
        let started = format_timestamp(self.now());
        let db = self.open_tenant(slug).await?;
        let result = self.snapshot_db(&db, reason).await;
        // The history of snapshots per tenant, with their sizes, for the operator.
        let detail = serde_json::json!({ "reason": reason });
        let end = match &result {
            Ok(m) => skjold_store::RunEnd {
                outcome: skjold_store::RunOutcome::Ok,
                bytes: Some(m.ciphertext.size),
                error: None,
                detail: Some(&detail),
            },
            Err(_) => skjold_store::RunEnd {
                outcome: skjold_store::RunOutcome::Failed,
                bytes: None,
                error: None,
                detail: Some(&detail),
            },
        };
        let message = result.as_ref().err().map(|e| e.to_string());
        let end = skjold_store::RunEnd {
            error: message.as_deref(),
            ..end
        };
        if let Err(e) = self
            .router
            .catalog()
            .record_run("backup.snapshot", Some(slug.as_str()), &started, end)
            .await
        {
            tracing::warn!(tenant = %slug, error = %e, "recording the snapshot run failed");
        }
        result
    }

    async fn snapshot_db(
        &self,
        db: &TenantDb,
        reason: &str,
    ) -> Result<SnapshotManifest, BackupError> {
        let slug = db.slug().as_str().to_string();
        let at = self.now();
        let file = self.work_file()?;
        let (summary, sealed, format) = match db.backend_kind() {
            skjold_store::BackendKind::Sqlite => {
                let (summary, sealed) = self.seal_sqlite_copy(db, &file).await?;
                (summary, sealed, SnapshotFormat::SqliteFile)
            }
            skjold_store::BackendKind::Postgres => {
                let (summary, sealed) = self.seal_json_lines(db, &slug, &file).await?;
                (summary, sealed, SnapshotFormat::JsonLines)
            }
        };
        let id = format!(
            "{}-{}",
            at.format("%Y%m%dT%H%M%S%6fZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        let manifest = SnapshotManifest {
            format_version: FORMAT_VERSION,
            tenant: slug.clone(),
            id: id.clone(),
            at: format_timestamp(at),
            position: summary.position,
            schema_version: summary.schema_version,
            backend: match db.backend_kind() {
                skjold_store::BackendKind::Sqlite => "sqlite".into(),
                skjold_store::BackendKind::Postgres => "postgres".into(),
            },
            reason: reason.to_string(),
            tables: summary.tables,
            plaintext_bytes: sealed.plaintext_bytes,
            ciphertext: Ciphertext {
                size: sealed.size,
                sha256: sealed.sha256,
            },
            format,
        };
        let (data_path, manifest_path) = snapshot_paths(&slug, &id);
        let body = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        self.put_everywhere(
            &data_path,
            Payload::File(file.path()),
            &manifest_path,
            &body,
        )
        .await?;
        tracing::info!(tenant = %slug, id = %id, position = manifest.position, bytes = manifest.ciphertext.size, reason, "snapshot written");
        Ok(manifest)
    }

    /// A JSON-lines snapshot of `db`, sealed into `file`.
    async fn seal_json_lines(
        &self,
        db: &TenantDb,
        slug: &str,
        file: &tempfile::NamedTempFile,
    ) -> Result<(skjold_store::ExportSummary, crypt::Sealed), BackupError> {
        let mut sealer = Sealer::new(
            &self.config.recipients,
            std::io::BufWriter::new(file.reopen()?),
        )?;
        writeln!(
            sealer,
            "{}",
            serde_json::json!({ "skjold_snapshot": FORMAT_VERSION, "tenant": slug })
        )?;
        let mut sink = LineSink { out: sealer };
        let summary = db.export(&mut sink).await?;
        let mut sealer = sink.out;
        writeln!(
            sealer,
            "{}",
            serde_json::json!({ "end": { "position": summary.position, "tables": summary.tables } })
        )?;
        let (mut out, sealed) = sealer.finish()?;
        out.flush()?;
        // A staging file, like the SQLite copy's: the destinations make their copies durable.
        out.into_inner().map_err(|e| e.into_error())?;
        Ok((summary, sealed))
    }

    /// A copy of the SQLite database file of `db`, compressed and sealed into `file`. The
    /// plain copy lives only in the private work directory, and only until it is sealed.
    async fn seal_sqlite_copy(
        &self,
        db: &TenantDb,
        file: &tempfile::NamedTempFile,
    ) -> Result<(skjold_store::ExportSummary, crypt::Sealed), BackupError> {
        let dir = self.work_dir()?;
        let copy = dir.path().join("copy.db");
        let summary = db.copy_sqlite_file(&copy).await?;
        let recipients = self.config.recipients.clone();
        let out = file.reopen()?;
        let sealed = tokio::task::spawn_blocking(move || -> Result<crypt::Sealed, BackupError> {
            let mut input = std::fs::File::open(&copy)?;
            let workers = std::thread::available_parallelism().map_or(1, |n| n.get() as u32);
            let mut sealer = Sealer::with_workers(
                &recipients,
                std::io::BufWriter::with_capacity(1 << 20, out),
                workers,
            )?;
            std::io::copy(&mut input, &mut sealer)?;
            let (out, sealed) = sealer.finish()?;
            // Not fsynced: this is a staging file, read back at once by the upload and
            // deleted; each destination makes its own copy durable.
            out.into_inner().map_err(|e| e.into_error())?;
            Ok(sealed)
        })
        .await
        .map_err(|e| BackupError::Io(std::io::Error::other(e)))??;
        drop(dir);
        Ok((summary, sealed))
    }

    /// A private scratch directory in the work directory, removed when dropped.
    pub(crate) fn work_dir(&self) -> Result<tempfile::TempDir, BackupError> {
        skjold_store::create_private_dir(&self.config.work_dir)?;
        Ok(tempfile::TempDir::new_in(&self.config.work_dir)?)
    }

    /// Decrypts (and decompresses) a snapshot's ciphertext into `out`, off the async
    /// threads. age authenticates every chunk, so a damaged file fails here.
    pub(crate) async fn decrypt_to_file(
        &self,
        ids: &Identities,
        cipher: &Path,
        out: &Path,
        progress: &Progress,
    ) -> Result<(), BackupError> {
        // Progress counts the ciphertext read, whose size the manifest gives.
        let input = progress.counting(std::fs::File::open(cipher)?);
        let plain = ids.open(input)?;
        let out = out.to_path_buf();
        tokio::task::spawn_blocking(move || -> Result<(), BackupError> {
            let mut plain = plain;
            let mut f = write_behind::WriteBehind::new(std::fs::File::create(&out)?);
            std::io::copy(&mut plain, &mut f)
                .map_err(|e| BackupError::Damaged(format!("decrypting the snapshot: {e}")))?;
            // Not fsynced here: a file that becomes a tenant is synced by the caller while
            // it is checked; a scratch file never needs to be.
            f.finish()?;
            Ok(())
        })
        .await
        .map_err(|e| BackupError::Io(std::io::Error::other(e)))?
    }

    /// Snapshots every tenant (or one); returns the manifests and the failures.
    pub async fn snapshot_all(
        &self,
        reason: &str,
    ) -> Result<(Vec<SnapshotManifest>, Vec<String>), BackupError> {
        let mut done = Vec::new();
        let mut failed = Vec::new();
        for t in self.router.catalog().list().await? {
            match self.snapshot(&t.slug, reason).await {
                Ok(m) => done.push(m),
                Err(e) => failed.push(format!("{}: {e}", t.slug)),
            }
        }
        Ok((done, failed))
    }

    /// The tenant's snapshots in any destination, oldest first.
    pub async fn list_snapshots(&self, slug: &str) -> Result<Vec<SnapshotManifest>, BackupError> {
        let prefix = format!("tenants/{slug}/snapshots/");
        let mut out = Vec::new();
        for path in self.list_union(&prefix).await? {
            if path.ends_with(".json") {
                match self.read_manifest::<SnapshotManifest>(&path).await {
                    Ok(m) => out.push(m),
                    Err(e) => {
                        tracing::warn!(error = %e, "skipping an unreadable snapshot manifest")
                    }
                }
            }
        }
        out.sort_by(|a, b| (&a.at, &a.id).cmp(&(&b.at, &b.id)));
        Ok(out)
    }

    /// The tenant's journal segments in any destination as `(after, last)`, in order.
    pub async fn list_segments(&self, slug: &str) -> Result<Vec<(i64, i64)>, BackupError> {
        let prefix = format!("tenants/{slug}/journal/");
        let mut out = Vec::new();
        for path in self.list_union(&prefix).await? {
            let Some(name) = path
                .strip_prefix(&prefix)
                .and_then(|n| n.strip_suffix(".json"))
            else {
                continue;
            };
            if let Some((a, l)) = name.split_once('-') {
                if let (Ok(a), Ok(l)) = (a.parse(), l.parse()) {
                    out.push((a, l));
                }
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }

    // ----- journal shipping ------------------------------------------------------------

    /// Where shipping of the tenant stands: the last shipped position, learnt from the
    /// destinations on first use. A tenant without any snapshot gets one first, so every
    /// shipped entry has a base to replay onto.
    ///
    /// Learnt from the newest segment, or without segments from the *oldest* snapshot: a
    /// newer snapshot does not cover the entries before it, which a restore to an instant
    /// between the two snapshots replays onto the older one. (Starting at the newest
    /// snapshot's position left those entries unshipped: the PITR property test found a
    /// snapshot taken before the first shipping made such instants unrestorable.)
    async fn shipped_position(&self, db: &TenantDb) -> Result<i64, BackupError> {
        let slug = db.slug().as_str().to_string();
        if let Some(p) = self.shipped.lock().await.get(&slug) {
            return Ok(*p);
        }
        let segments = self.list_segments(&slug).await?;
        let snapshots = self.list_snapshots(&slug).await?;
        let from_segments = segments.iter().map(|(_, l)| *l).max();
        let oldest_snapshot = snapshots.iter().map(|s| s.position).min();
        let p = match (from_segments, oldest_snapshot) {
            // Entries older than every snapshot kept serve no restore.
            (Some(a), Some(b)) => a.max(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => self.snapshot_db(db, "initial").await?.position,
        };
        self.shipped.lock().await.insert(slug, p);
        Ok(p)
    }

    /// Ships the tenant's journal entries that are not in the destinations yet.
    pub async fn ship(&self, slug: &TenantSlug) -> Result<u64, BackupError> {
        let db = self.open_tenant(slug).await?;
        let mut total = 0;
        loop {
            let after = self.shipped_position(&db).await?;
            let entries = db.journal_since(after, SEGMENT_MAX).await?;
            if entries.is_empty() {
                return Ok(total);
            }
            let n = entries.len();
            self.ship_segment(slug.as_str(), after, &entries).await?;
            total += n as u64;
            if n < SEGMENT_MAX as usize {
                return Ok(total);
            }
        }
    }

    async fn ship_segment(
        &self,
        slug: &str,
        after: i64,
        entries: &[JournalRecord],
    ) -> Result<SegmentManifest, BackupError> {
        let mut plain = Vec::new();
        for e in entries {
            serde_json::to_writer(&mut plain, e).map_err(std::io::Error::other)?;
            plain.push(b'\n');
        }
        let (cipher, sealed) = crypt::seal_bytes(&self.config.recipients, &plain)?;
        let last = entries.last().map(|e| e.seq).unwrap_or(after);
        let manifest = SegmentManifest {
            format_version: FORMAT_VERSION,
            tenant: slug.to_string(),
            after,
            last,
            count: entries.len() as u64,
            first_at: entries.first().map(|e| e.at.clone()).unwrap_or_default(),
            last_at: entries.last().map(|e| e.at.clone()).unwrap_or_default(),
            shipped_at: format_timestamp(self.now()),
            plaintext_bytes: sealed.plaintext_bytes,
            ciphertext: Ciphertext {
                size: sealed.size,
                sha256: sealed.sha256,
            },
        };
        let (data_path, manifest_path) = segment_paths(slug, after, last);
        let body = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
        self.put_everywhere(&data_path, Payload::Bytes(&cipher), &manifest_path, &body)
            .await?;
        self.shipped.lock().await.insert(slug.to_string(), last);
        Ok(manifest)
    }

    /// Ships every tenant; returns how many entries went out, and the failures.
    pub async fn ship_all(&self) -> Result<(u64, Vec<String>), BackupError> {
        let mut n = 0;
        let mut failed = Vec::new();
        for t in self.router.catalog().list().await? {
            match self.ship(&t.slug).await {
                Ok(k) => n += k,
                Err(e) => failed.push(format!("{}: {e}", t.slug)),
            }
        }
        Ok((n, failed))
    }

    /// Ships every few seconds (`backup.ship_interval_seconds`) until the task is dropped.
    pub fn spawn_shipping(self: Arc<Self>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(self.config.ship_interval);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                match self.ship_all().await {
                    Ok((_, failed)) => {
                        for f in failed {
                            tracing::error!(problem = %f, "journal shipping failed");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "journal shipping failed"),
                }
            }
        })
    }

    /// The shipped entries of segments `(after, last)` that follow `position`, verified and
    /// decrypted, in order, up to and including the last entry at or before `until`.
    async fn journal_for(
        &self,
        slug: &str,
        ids: &Identities,
        position: i64,
        until: &str,
        progress: &Progress,
    ) -> Result<Journal, BackupError> {
        let segments = self.list_segments(slug).await?;
        // The segments a restore may need (those reaching past the snapshot), for "i/n".
        let needed = segments.iter().filter(|(_, l)| *l > position).count() as u64;
        progress.phase(
            RestorePhase::FetchingJournal,
            Some((needed, ProgressUnit::Segments)),
        );
        let mut journal = Journal::default();
        let mut fetched = 0;
        let mut cur = position;
        loop {
            let Some(&(after, last)) = segments
                .iter()
                .filter(|(a, l)| *a <= cur && *l > cur)
                .max_by_key(|(_, l)| *l)
            else {
                if let Some((a, _)) = segments.iter().find(|(a, _)| *a > cur) {
                    return Err(BackupError::Damaged(format!(
                        "the journal segment after position {cur} is missing in both destinations (the next one starts after {a}); cannot replay past it"
                    )));
                }
                // The end of what was shipped.
                return Ok(journal);
            };
            let (data_path, manifest_path) = segment_paths(slug, after, last);
            let manifest: SegmentManifest = self.read_manifest(&manifest_path).await?;
            let cipher = self
                .fetch_verified(&data_path, &manifest.ciphertext)
                .await?;
            let plain = ids
                .open_bytes(cipher)
                .map_err(|e| BackupError::Damaged(format!("{data_path}: {e}")))?;
            fetched += 1;
            progress.done(fetched);
            let mut count = 0u64;
            let mut taken = 0u64;
            for line in plain.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let e: JournalRecord = serde_json::from_slice(line).map_err(|e| {
                    BackupError::Damaged(format!("{data_path}: journal entry: {e}"))
                })?;
                count += 1;
                if e.seq <= cur {
                    continue;
                }
                if e.at.as_str() > until {
                    journal.took(taken);
                    journal.reaches_time = true;
                    return Ok(journal);
                }
                cur = e.seq;
                journal.entries.push(e);
                taken += 1;
            }
            journal.took(taken);
            if count != manifest.count {
                return Err(BackupError::Damaged(format!(
                    "{data_path}: {count} entries, the manifest says {}",
                    manifest.count
                )));
            }
            cur = cur.max(last);
        }
    }

    // ----- catching up, verifying, status ------------------------------------------------

    /// Copies to each destination what the other has and it lacks (a destination that was
    /// down catches up). A data file is copied only when it matches its manifest.
    pub async fn sync(&self) -> Result<SyncReport, BackupError> {
        let mut report = SyncReport::default();
        let mut listings = Vec::new();
        for d in &self.dests {
            listings.push(match d.list("").await {
                Ok(l) => Some(l.into_iter().collect::<BTreeMap<_, _>>()),
                Err(e) => {
                    report.problems.push(e.to_string());
                    None
                }
            });
        }
        for (i, to) in self.dests.iter().enumerate() {
            let j = 1 - i;
            let (Some(have), Some(other)) = (&listings[i], &listings[j]) else {
                continue;
            };
            let from = &self.dests[j];
            // Data before manifests: a manifest appears only once its data is there.
            let mut missing: Vec<&String> =
                other.keys().filter(|p| !have.contains_key(*p)).collect();
            missing.sort_by_key(|p| (p.ends_with(".json"), p.to_string()));
            for path in missing {
                let r = self.copy_one(from, to, path, other).await;
                match r {
                    Ok(bytes) => {
                        report.copied += 1;
                        report.bytes += bytes;
                    }
                    Err(e) => report.problems.push(format!("{path} → {}: {e}", to.name)),
                }
            }
        }
        Ok(report)
    }

    async fn copy_one(
        &self,
        from: &Destination,
        to: &Destination,
        path: &str,
        from_listing: &BTreeMap<String, u64>,
    ) -> Result<u64, BackupError> {
        if path.ends_with(".json") {
            let bytes = from.get(path).await?;
            let n = bytes.len() as u64;
            to.put(path, bytes).await?;
            return Ok(n);
        }
        // A data file: check it against its manifest in the source first.
        let manifest_path = manifest_path_of(path)
            .filter(|m| from_listing.contains_key(m))
            .ok_or_else(|| BackupError::Damaged(format!("{path} has no manifest beside it")))?;
        let m: serde_json::Value = serde_json::from_slice(&from.get(&manifest_path).await?)
            .map_err(|e| BackupError::Damaged(format!("{manifest_path}: {e}")))?;
        let want: Ciphertext = serde_json::from_value(m["ciphertext"].clone())
            .map_err(|e| BackupError::Damaged(format!("{manifest_path}: {e}")))?;
        let file = self.work_file()?;
        from.get_to_file(path, file.path(), &|_| {}).await?;
        let (size, sha) = crypt::sha256_file(file.path())?;
        if size != want.size || sha != want.sha256 {
            return Err(BackupError::Damaged(format!(
                "{path} in {} does not match its manifest; not copied",
                from.name
            )));
        }
        to.put_file(path, file.path()).await?;
        Ok(size)
    }

    /// Per destination: what it holds and how far it lags the other.
    pub async fn destination_status(&self) -> Vec<DestinationStatus> {
        let mut listings = Vec::new();
        let mut destinations = Vec::new();
        for d in &self.dests {
            let (listing, st) = match d.list("").await {
                Ok(l) => (
                    Some(l.iter().cloned().collect::<BTreeMap<_, _>>()),
                    DestinationStatus {
                        name: d.name.clone(),
                        location: d.describe.clone(),
                        reachable: true,
                        error: None,
                        objects: l.len() as u64,
                        bytes: l.iter().map(|(_, n)| n).sum(),
                        missing_objects: 0,
                        missing_bytes: 0,
                    },
                ),
                Err(e) => (
                    None,
                    DestinationStatus {
                        name: d.name.clone(),
                        location: d.describe.clone(),
                        reachable: false,
                        error: Some(e.to_string()),
                        objects: 0,
                        bytes: 0,
                        missing_objects: 0,
                        missing_bytes: 0,
                    },
                ),
            };
            listings.push(listing);
            destinations.push(st);
        }
        let union: BTreeMap<String, u64> = listings
            .iter()
            .flatten()
            .flat_map(|l| l.iter().map(|(k, v)| (k.clone(), *v)))
            .collect();
        for (i, l) in listings.iter().enumerate() {
            let missing: Vec<u64> = union
                .iter()
                .filter(|(p, _)| l.as_ref().is_none_or(|l| !l.contains_key(*p)))
                .map(|(_, n)| *n)
                .collect();
            destinations[i].missing_objects = missing.len() as u64;
            destinations[i].missing_bytes = missing.iter().sum();
        }
        destinations
    }

    /// How far the tenant's shipping lags its journal.
    pub async fn tenant_status(
        &self,
        slug: &TenantSlug,
    ) -> Result<TenantBackupStatus, BackupError> {
        let snapshots = self.list_snapshots(slug.as_str()).await?;
        let segments = self.list_segments(slug.as_str()).await?;
        let shipped = segments
            .iter()
            .map(|(_, l)| *l)
            .chain(snapshots.iter().map(|s| s.position))
            .max()
            .unwrap_or(0);
        let db = self.open_tenant(slug).await?;
        let position = db.journal_position().await?;
        let oldest = db.journal_since(shipped, 1).await?;
        let lag = oldest
            .first()
            .and_then(|e| parse_timestamp(&e.at))
            .map(|at| (self.now() - at).num_milliseconds().max(0) as f64 / 1000.0)
            .unwrap_or(0.0);
        Ok(TenantBackupStatus {
            tenant: slug.as_str().to_string(),
            snapshots: snapshots.len() as u64,
            last_snapshot_at: snapshots.last().map(|s| s.at.clone()),
            journal_position: position,
            shipped_position: shipped,
            unshipped: (position - shipped).max(0),
            lag_seconds: lag,
        })
    }

    /// Every destination's state and every tenant's shipping lag.
    pub async fn status(&self) -> Result<Status, BackupError> {
        let destinations = self.destination_status().await;
        let mut tenants = Vec::new();
        for t in self.router.catalog().list().await? {
            tenants.push(self.tenant_status(&t.slug).await?);
        }
        Ok(Status {
            destinations,
            tenants,
        })
    }

    /// Reads back every file in both destinations: each data file against its manifest's
    /// size and checksum, then decrypted to its end (age authenticates every chunk) and
    /// parsed; snapshots against their row counts. Needs the operator's private key.
    pub async fn verify(&self, ids: &Identities) -> Result<VerifyReport, BackupError> {
        let mut report = VerifyReport::default();
        for d in &self.dests {
            let listing = match d.list("").await {
                Ok(l) => l.into_iter().collect::<BTreeMap<_, _>>(),
                Err(e) => {
                    report
                        .problems
                        .push(format!("{}: unreachable: {e}", d.name));
                    continue;
                }
            };
            for path in listing.keys() {
                if path.ends_with(".json") {
                    report.checked += 1;
                    if let Err(e) = self.verify_one(d, path, &listing, ids).await {
                        report.problems.push(format!("{}: {path}: {e}", d.name));
                    }
                } else if manifest_path_of(path).is_none_or(|m| !listing.contains_key(&m)) {
                    report.problems.push(format!(
                        "{}: {path}: no manifest (an interrupted write?)",
                        d.name
                    ));
                }
            }
        }
        Ok(report)
    }

    async fn verify_one(
        &self,
        d: &Destination,
        manifest_path: &str,
        listing: &BTreeMap<String, u64>,
        ids: &Identities,
    ) -> Result<(), BackupError> {
        let m: serde_json::Value = serde_json::from_slice(&d.get(manifest_path).await?)
            .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
        let want: Ciphertext = serde_json::from_value(m["ciphertext"].clone())
            .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
        let data_path = data_path_of(manifest_path)
            .filter(|p| listing.contains_key(p))
            .ok_or_else(|| BackupError::Damaged("its data file is missing".into()))?;
        let file = self.work_file()?;
        d.get_to_file(&data_path, file.path(), &|_| {}).await?;
        let (size, sha) = crypt::sha256_file(file.path())?;
        if size != want.size {
            return Err(BackupError::Damaged(format!(
                "{size} bytes, the manifest says {} (truncated?)",
                want.size
            )));
        }
        if sha != want.sha256 {
            return Err(BackupError::Damaged(
                "checksum does not match (altered)".into(),
            ));
        }
        let reader = ids.open(std::fs::File::open(file.path())?)?;
        let reader = std::io::BufReader::new(reader);
        if manifest_path.contains("/snapshots/") {
            let m: SnapshotManifest = serde_json::from_value(m)
                .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
            if m.format == SnapshotFormat::SqliteFile {
                drop(reader);
                let dir = self.work_dir()?;
                let plain = dir.path().join("verify.db");
                self.decrypt_to_file(ids, file.path(), &plain, &Progress::unwatched())
                    .await?;
                return skjold_store::check_sqlite_file(&plain, &m.tables)
                    .await
                    .map_err(|e| BackupError::Damaged(e.to_string()));
            }
            let mut counts: BTreeMap<String, u64> = BTreeMap::new();
            let mut table = String::new();
            for item in SnapshotReader::new(reader) {
                match item.map_err(|e| BackupError::Damaged(e.to_string()))? {
                    DumpItem::Table { name, .. } => {
                        counts.insert(name.clone(), 0);
                        table = name;
                    }
                    DumpItem::Row(_) => *counts.entry(table.clone()).or_default() += 1,
                }
            }
            if counts != m.tables {
                return Err(BackupError::Damaged(
                    "row counts differ from the manifest".into(),
                ));
            }
        } else if manifest_path.contains("/journal/") {
            let m: SegmentManifest = serde_json::from_value(m)
                .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
            let mut n = 0;
            let mut last = 0;
            for line in reader.lines() {
                let line = line.map_err(|e| BackupError::Damaged(format!("decrypting: {e}")))?;
                let e: JournalRecord = serde_json::from_str(&line)
                    .map_err(|e| BackupError::Damaged(format!("journal entry: {e}")))?;
                n += 1;
                last = e.seq;
            }
            if n != m.count || last != m.last {
                return Err(BackupError::Damaged(
                    "entries differ from the manifest".into(),
                ));
            }
        } else {
            let m: AuditDayManifest = serde_json::from_value(m)
                .map_err(|e| BackupError::Damaged(format!("manifest unreadable: {e}")))?;
            let mut h = crypt::Hashing::new(std::io::sink());
            let mut reader = reader;
            std::io::copy(&mut reader, &mut h)
                .map_err(|e| BackupError::Damaged(format!("decrypting: {e}")))?;
            let (_, n, sha) = h.finish();
            if n != m.plaintext_bytes || sha != m.plaintext_sha256 {
                return Err(BackupError::Damaged(
                    "the log file differs from the manifest".into(),
                ));
            }
        }
        Ok(())
    }

    // ----- audit log days ----------------------------------------------------------------

    /// Backs up each chain's closed (sealed) audit-log days that are not in the
    /// destinations yet. Returns how many were written.
    pub async fn backup_audit_days(&self) -> Result<u64, BackupError> {
        let root = skjold_audit::logs_root(&self.data_dir);
        let today = self.now().format("%Y-%m-%d").to_string();
        let have = self.list_union("audit/").await?;
        let mut written = 0;
        let chains = match std::fs::read_dir(&root) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e.into()),
        };
        for chain in chains {
            let chain = chain?;
            if !chain.file_type()?.is_dir() {
                continue;
            }
            let name = chain.file_name().to_string_lossy().to_string();
            for file in skjold_audit::day_files(&chain.path())? {
                let day = file
                    .file_stem()
                    .map(|s| s.to_string_lossy().to_string())
                    .unwrap_or_default();
                if day >= today {
                    continue;
                }
                let (data_path, manifest_path) = audit_paths(&name, &day);
                if have.contains(&manifest_path) {
                    continue;
                }
                let plain = std::fs::read(&file)?;
                if !is_sealed(&plain) {
                    continue;
                }
                let (cipher, sealed) = crypt::seal_bytes(&self.config.recipients, &plain)?;
                let manifest = AuditDayManifest {
                    format_version: FORMAT_VERSION,
                    chain: name.clone(),
                    day: day.clone(),
                    backed_up_at: format_timestamp(self.now()),
                    plaintext_bytes: plain.len() as u64,
                    plaintext_sha256: crypt::sha256_hex(&plain),
                    ciphertext: Ciphertext {
                        size: sealed.size,
                        sha256: sealed.sha256,
                    },
                };
                let body = serde_json::to_vec_pretty(&manifest).map_err(std::io::Error::other)?;
                self.put_everywhere(&data_path, Payload::Bytes(&cipher), &manifest_path, &body)
                    .await?;
                written += 1;
            }
        }
        Ok(written)
    }

    /// Restores an audit-log day file from the backups, decrypted, into `out`.
    pub async fn fetch_audit_day(
        &self,
        chain: &str,
        day: &str,
        ids: &Identities,
    ) -> Result<Vec<u8>, BackupError> {
        let (data_path, manifest_path) = audit_paths(chain, day);
        let m: AuditDayManifest = self.read_manifest(&manifest_path).await?;
        let cipher = self.fetch_verified(&data_path, &m.ciphertext).await?;
        let plain = ids.open_bytes(cipher)?;
        if crypt::sha256_hex(&plain) != m.plaintext_sha256 {
            return Err(BackupError::Damaged(format!(
                "{data_path}: decrypted log differs from its manifest"
            )));
        }
        Ok(plain)
    }
}

/// A closed day's file ends with its seal line.
/// The shipped journal a restore replays.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    pub entries: Vec<JournalRecord>,
    /// How many of `entries` came from each segment, in order (segments that gave none
    /// are left out).
    pub segment_sizes: Vec<u64>,
    /// Whether the shipped journal reaches the time asked for.
    pub reaches_time: bool,
}

impl Journal {
    fn took(&mut self, n: u64) {
        if n > 0 {
            self.segment_sizes.push(n);
        }
    }
}

fn is_sealed(plain: &[u8]) -> bool {
    let text = String::from_utf8_lossy(plain);
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .is_some_and(|v| v.get("seal").is_some())
}

fn manifest_path_of(data_path: &str) -> Option<String> {
    data_path
        .strip_suffix(".jsonl.age")
        .or_else(|| data_path.strip_suffix(".age"))
        .map(|b| format!("{b}.json"))
}

enum Payload<'a> {
    Bytes(&'a [u8]),
    File(&'a Path),
}
