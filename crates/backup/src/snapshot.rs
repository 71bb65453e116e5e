//! Snapshots: a tenant's database, whole, sealed and written to both destinations (the
//! nightly one, and on demand); read back for a restore or a check.

use crate::crypt::{self, Identities, Sealer};
use crate::manifest::{
    snapshot_paths, Ciphertext, SnapshotFormat, SnapshotManifest, FORMAT_VERSION,
};
use crate::mirror::Payload;
use crate::progress::Progress;
use crate::write_behind;
use crate::{BackupError, Backups};
use chrono::{DateTime, Utc};
use skjold_domain::clock::{format_timestamp, parse_timestamp};
use skjold_domain::TenantSlug;
use skjold_store::{DumpItem, DumpSink, StoreError, TenantDb};
use std::io::{BufRead, Write};
use std::path::Path;

/// The catalog mark of the nightly snapshot: the slot it was last taken for.
const NIGHTLY_MARK: &str = "backup.snapshot.nightly";

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

impl Backups {
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

    pub(crate) async fn snapshot_db(
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
}
