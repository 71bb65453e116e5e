//! Journal shipping: a tenant's change journal, in sealed segments, to both destinations
//! every few seconds; and the shipped journal read back for a restore.

use crate::crypt::{self, Identities};
use crate::manifest::{segment_paths, Ciphertext, SegmentManifest, FORMAT_VERSION};
use crate::mirror::Payload;
use crate::progress::{Progress, ProgressUnit, RestorePhase};
use crate::{BackupError, Backups};
use skjold_domain::clock::format_timestamp;
use skjold_domain::TenantSlug;
use skjold_store::{JournalRecord, TenantDb};
use std::sync::Arc;

/// At most this many journal entries go into one segment.
const SEGMENT_MAX: u32 = 5000;

impl Backups {
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
    pub(crate) async fn journal_for(
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
