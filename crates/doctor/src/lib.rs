//! `skjold doctor`: checks of an installation, each giving a finding with its fix.
//!
//! The checks are plain functions over what they look at (files, the catalog, the audit
//! trail, the backup configuration), one module per concern, so that the server can serve
//! the same findings later; the command line only gathers the [`Installation`] and prints.
//!
//! Severities: an `error` is something broken or unsafe now (an expired certificate,
//! backups off or stale, a damaged audit chain, a known vulnerability in the shipped
//! dependencies); a `warning` is a risk the operator should remove (the backup key beside
//! the data, both backup destinations on one disk, a certificate ending soon); `info` is
//! something not checked or not available; `ok` says what was checked and found fine.

mod advisories;
mod audit;
mod backups;
mod capacity;
mod clock;
mod disk;
mod scanner;
mod tls;

pub use advisories::{shipped_packages, Package};

use chrono::{DateTime, Utc};
use serde::Serialize;
use skjold_backup::BackupConfig;
use skjold_store::TenantRouter;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Ok,
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "ok",
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding: which check, how bad, what was found (one line) and what to do (one line).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub check: &'static str,
    pub severity: Severity,
    pub finding: String,
    pub fix: String,
}

impl Finding {
    fn new(
        check: &'static str,
        severity: Severity,
        finding: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            check,
            severity,
            finding: finding.into(),
            fix: fix.into(),
        }
    }

    fn ok(check: &'static str, finding: impl Into<String>) -> Self {
        Self::new(check, Severity::Ok, finding, "nothing to do")
    }
}

/// The certificate the server serves.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// The self-signed pair in `data_dir/tls/` (no `tls_cert` configured).
    pub generated: bool,
}

/// What the checks look at.
pub struct Installation<'a> {
    pub data_dir: &'a Path,
    pub tls: TlsFiles,
    /// `public_url`, when set.
    pub public_url: Option<&'a str>,
    pub backup: &'a BackupConfig,
    /// The audit trail's low-disk guard (`audit_min_free_mb`, `audit_min_free_percent`).
    pub min_free_bytes: u64,
    pub min_free_percent: u8,
    pub router: &'a TenantRouter,
    /// The system clock's time.
    pub now: DateTime<Utc>,
    /// An offline copy of the RustSec advisory database, when given.
    pub advisory_db: Option<&'a Path>,
}

/// Runs every check; the findings in a stable order (by concern).
pub async fn examine(inst: &Installation<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(tls::check(inst));
    out.extend(backups::check(inst).await);
    out.extend(disk::check(inst));
    out.extend(capacity::check(inst).await);
    out.extend(audit::check(inst).await);
    out.push(scanner::check());
    out.extend(advisories::check(inst.advisory_db));
    out.extend(clock::check(inst).await);
    out
}

/// The worst severity among the findings (`Ok` for none).
pub fn worst(findings: &[Finding]) -> Severity {
    findings
        .iter()
        .map(|f| f.severity)
        .max()
        .unwrap_or(Severity::Ok)
}
