//! Manifests: plain JSON beside each encrypted file, saying what it holds and its checksum.
//! They carry no tenant data — only names, times, positions, counts and sizes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The layout and manifest format this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ciphertext {
    pub size: u64,
    pub sha256: String,
}

/// A full snapshot of one tenant database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotManifest {
    pub format_version: u32,
    pub tenant: String,
    pub id: String,
    /// When the snapshot's read began (RFC 3339, UTC).
    pub at: String,
    /// The journal position it includes: entries up to this one are in it.
    pub position: i64,
    pub schema_version: i64,
    /// `sqlite` or `postgres`: where it was taken (it restores onto either).
    pub backend: String,
    /// Why: `nightly`, `manual`, `initial` or `safety` (before an in-place restore).
    pub reason: String,
    pub tables: BTreeMap<String, u64>,
    pub plaintext_bytes: u64,
    pub ciphertext: Ciphertext,
    /// What the plaintext is. Manifests written before there was a choice lack it and
    /// mean JSON lines.
    #[serde(default)]
    pub format: SnapshotFormat,
}

/// The plaintext of a snapshot file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnapshotFormat {
    /// A header line, then per table a header line and one JSON array per row, then an end
    /// line: portable between SQLite and PostgreSQL (PostgreSQL tenants are taken so).
    #[default]
    JsonLines,
    /// The SQLite database file itself (`VACUUM INTO`), restored by putting it in place.
    SqliteFile,
}

/// A segment of shipped journal entries: those after `after`, up to and including `last`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentManifest {
    pub format_version: u32,
    pub tenant: String,
    pub after: i64,
    pub last: i64,
    pub count: u64,
    pub first_at: String,
    pub last_at: String,
    pub shipped_at: String,
    pub plaintext_bytes: u64,
    pub ciphertext: Ciphertext,
}

/// One closed day of a chain's audit log file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditDayManifest {
    pub format_version: u32,
    pub chain: String,
    pub day: String,
    pub backed_up_at: String,
    pub plaintext_bytes: u64,
    pub plaintext_sha256: String,
    pub ciphertext: Ciphertext,
}

pub fn tenant_prefix(slug: &str) -> String {
    format!("tenants/{slug}/")
}

pub fn snapshot_paths(slug: &str, id: &str) -> (String, String) {
    let base = format!("tenants/{slug}/snapshots/{id}");
    (format!("{base}.age"), format!("{base}.json"))
}

pub fn segment_paths(slug: &str, after: i64, last: i64) -> (String, String) {
    let base = format!("tenants/{slug}/journal/{after:020}-{last:020}");
    (format!("{base}.age"), format!("{base}.json"))
}

pub fn audit_paths(chain: &str, day: &str) -> (String, String) {
    let base = format!("audit/{chain}/{day}");
    (format!("{base}.jsonl.age"), format!("{base}.json"))
}

/// The data file a manifest path describes.
pub fn data_path_of(manifest_path: &str) -> Option<String> {
    let base = manifest_path.strip_suffix(".json")?;
    Some(if base.starts_with("audit/") {
        format!("{base}.jsonl.age")
    } else {
        format!("{base}.age")
    })
}

pub(crate) fn manifest_path_of(data_path: &str) -> Option<String> {
    data_path
        .strip_suffix(".jsonl.age")
        .or_else(|| data_path.strip_suffix(".age"))
        .map(|b| format!("{b}.json"))
}
