//! Backups: on or off, where their key comes from and where it lives, how old the newest
//! snapshot is, and the last restore drill.

use crate::{Finding, Installation, Severity};
use chrono::{DateTime, Duration, Utc};
use skjold_backup::BackupKey;
use skjold_domain::clock::parse_timestamp;
use skjold_store::RunOutcome;
use std::collections::BTreeMap;

/// A newest snapshot older than this is stale: one night missed (24 h and some slack).
pub const STALE_AFTER_HOURS: i64 = 26;
/// A last drill older than this is a warning (the drill job is daily).
const DRILL_STALE_DAYS: i64 = 8;

pub(crate) async fn check(inst: &Installation<'_>) -> Vec<Finding> {
    let mut out = vec![enabled(inst)];
    if !inst.backup.is_on() {
        return out;
    }
    out.extend(key_location(inst));
    out.push(last_snapshot(inst).await);
    out.push(last_drill(inst).await);
    out
}

fn enabled(inst: &Installation<'_>) -> Finding {
    const CHECK: &str = "backups.enabled";
    match &inst.backup.key {
        BackupKey::Off => Finding::new(
            CHECK,
            Severity::Error,
            "backups are off: no backup.recipients, and backup.generate_key is false",
            "set backup.recipients to your age public keys (docs/backup.md#keys), or remove generate_key = false",
        ),
        BackupKey::ToGenerate { path, .. } => Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "backups are off: no backup.recipients, and the server has not generated its key ({}) yet",
                path.display()
            ),
            "start `skjold serve` once (it generates the key and backs up), or set backup.recipients (docs/backup.md#keys)",
        ),
        BackupKey::Generated { path, .. } => Finding::new(
            CHECK,
            Severity::Warning,
            format!(
                "backups are encrypted only to the key Skjold generated, {}, which exists only on this server",
                path.display()
            ),
            format!(
                "copy {} off the server now, then set backup.recipients to its public key and a second key of your own (docs/operations.md)",
                path.display()
            ),
        ),
        BackupKey::Configured => {
            let n = inst.backup.recipients.len();
            if n < 2 {
                Finding::new(
                    CHECK,
                    Severity::Warning,
                    "backups are on, encrypted to one recipient only: losing that key loses every backup",
                    "add a second recipient (another key holder) to backup.recipients (docs/backup.md#keys)",
                )
            } else {
                Finding::ok(CHECK, format!("backups are on, encrypted to {n} recipients"))
            }
        }
    }
}

/// The server's identity file (configured, or the generated one) inside the data directory:
/// whoever copies the data directory has the key to every backup as well.
fn key_location(inst: &Installation<'_>) -> Option<Finding> {
    const CHECK: &str = "backups.key_location";
    let path = inst.backup.identity_file.as_deref()?;
    let data = std::path::absolute(inst.data_dir).unwrap_or_else(|_| inst.data_dir.to_path_buf());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Some(Finding::new(
                    CHECK,
                    Severity::Error,
                    format!(
                        "the backup key {} is readable by other accounts (mode {mode:04o})",
                        path.display()
                    ),
                    format!("chmod 600 {}", path.display()),
                ));
            }
        }
    }
    if path.starts_with(&data) {
        return Some(Finding::new(
            CHECK,
            Severity::Warning,
            format!(
                "the backup key {} is inside the data directory: a copy of the data directory carries the key to every backup",
                path.display()
            ),
            "keep a copy off the server; for the server's own key, move it out of data_dir (e.g. /etc/skjold/backup-identity.txt, mode 0600), name it in backup.identity_file and list its public key in backup.recipients",
        ));
    }
    Some(Finding::ok(
        CHECK,
        format!(
            "the server's backup key {} is outside the data directory and the destinations",
            path.display()
        ),
    ))
}

async fn last_snapshot(inst: &Installation<'_>) -> Finding {
    const CHECK: &str = "backups.last_snapshot";
    let catalog = inst.router.catalog();
    let (tenants, runs) = match (
        catalog.list().await,
        catalog.runs(Some("backup.snapshot"), 1000).await,
    ) {
        (Ok(t), Ok(r)) => (t, r),
        (Err(e), _) | (_, Err(e)) => {
            return Finding::new(
                CHECK,
                Severity::Error,
                format!("cannot read the catalog's backup runs: {e}"),
                "check that the catalog database is reachable (skjold backup status)",
            )
        }
    };
    // Each tenant's newest snapshot that succeeded.
    let mut newest: BTreeMap<String, DateTime<Utc>> = BTreeMap::new();
    for run in runs {
        let (Some(tenant), RunOutcome::Ok) = (run.tenant, run.outcome) else {
            continue;
        };
        let Some(at) = run
            .finished_at
            .as_deref()
            .and_then(parse_timestamp)
            .or_else(|| parse_timestamp(&run.started_at))
        else {
            continue;
        };
        let e = newest.entry(tenant).or_insert(at);
        *e = (*e).max(at);
    }
    let stale_before = inst.now - Duration::hours(STALE_AFTER_HOURS);
    let mut never = Vec::new();
    let mut stale = Vec::new();
    for t in &tenants {
        match newest.get(t.slug.as_str()) {
            None => never.push(t.slug.as_str().to_string()),
            Some(at) if *at < stale_before => {
                stale.push(format!("{} ({})", t.slug, at.format("%Y-%m-%d %H:%M UTC")))
            }
            Some(_) => {}
        }
    }
    let when = inst.backup.snapshot_time.format("%H:%M");
    if !stale.is_empty() {
        return Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the newest snapshot is older than {STALE_AFTER_HOURS} h for: {}",
                stale.join(", ")
            ),
            "look for failed backup.snapshot runs (skjold backup status, the log), fix the cause, then `skjold backup run`",
        );
    }
    if !never.is_empty() {
        return Finding::new(
            CHECK,
            Severity::Warning,
            format!("no snapshot yet of: {}", never.join(", ")),
            format!("the nightly snapshot runs at {when} UTC while the server runs; `skjold backup run` takes one now"),
        );
    }
    Finding::ok(
        CHECK,
        format!(
            "every tenant's newest snapshot is younger than {STALE_AFTER_HOURS} h ({} tenants)",
            tenants.len()
        ),
    )
}

async fn last_drill(inst: &Installation<'_>) -> Finding {
    const CHECK: &str = "backups.drill";
    if inst.backup.identity_file.is_none() {
        return Finding::new(
            CHECK,
            Severity::Warning,
            "restore drills are skipped: the server holds no backup key (backup.identity_file)",
            "give the server a key of its own in backup.identity_file, or run `skjold backup drill --identity KEY` regularly (docs/backup.md#restore-drills)",
        );
    }
    let drills = match inst.router.catalog().drills(None, 1).await {
        Ok(d) => d,
        Err(e) => {
            return Finding::new(
                CHECK,
                Severity::Error,
                format!("cannot read the restore drills: {e}"),
                "check that the catalog database is reachable",
            )
        }
    };
    let Some(last) = drills.first() else {
        return Finding::new(
            CHECK,
            Severity::Warning,
            "no restore drill has run yet",
            "the daily drill runs while the server runs, after the first snapshot; `skjold backup drill` runs one now",
        );
    };
    if last.outcome != "passed" {
        return Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the last restore drill ({}, tenant {}) failed: {}",
                last.started_at,
                last.tenant,
                last.error.as_deref().unwrap_or("no reason recorded")
            ),
            "read `skjold backup drills`, fix the cause, then `skjold backup drill`",
        );
    }
    match parse_timestamp(&last.started_at) {
        Some(at) if inst.now - at > Duration::days(DRILL_STALE_DAYS) => Finding::new(
            CHECK,
            Severity::Warning,
            format!(
                "the last restore drill passed, but on {} (more than {DRILL_STALE_DAYS} days ago)",
                last.started_at
            ),
            "check that the server runs its daily jobs; `skjold backup drill` runs one now",
        ),
        _ => Finding::ok(
            CHECK,
            format!(
                "the last restore drill passed ({}, tenant {})",
                last.started_at, last.tenant
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TlsFiles;
    use skjold_domain::{SharedClock, TenantSlug, TestClock};
    use skjold_store::{Backend, Catalog, DrillRecord, NewTenant, RunEnd, TenantRouter};
    use std::sync::Arc;

    fn at(s: &str) -> DateTime<Utc> {
        parse_timestamp(s).unwrap()
    }

    async fn catalog(dir: &std::path::Path, clock: &TestClock) -> TenantRouter {
        let shared: SharedClock = Arc::new(clock.clone());
        let catalog = Catalog::open(
            Backend::Sqlite {
                data_dir: dir.to_path_buf(),
            },
            shared,
        )
        .await
        .unwrap();
        catalog
            .create(NewTenant {
                slug: TenantSlug::parse("acme").unwrap(),
                display_name: "Acme".into(),
            })
            .await
            .unwrap();
        TenantRouter::new(catalog, 2)
    }

    fn installation<'a>(
        dir: &'a std::path::Path,
        backup: &'a skjold_backup::BackupConfig,
        router: &'a TenantRouter,
        now: DateTime<Utc>,
    ) -> crate::Installation<'a> {
        crate::Installation {
            data_dir: dir,
            tls: TlsFiles {
                cert: dir.join("cert.pem"),
                key: dir.join("key.pem"),
                generated: true,
            },
            public_url: None,
            backup,
            min_free_bytes: 0,
            min_free_percent: 0,
            router,
            now,
            advisory_db: None,
        }
    }

    fn severity(findings: &[Finding], check: &str) -> Severity {
        findings
            .iter()
            .find(|f| f.check == check)
            .unwrap_or_else(|| panic!("no {check} in {findings:?}"))
            .severity
    }

    #[tokio::test]
    async fn snapshots_age_and_drills_are_judged_by_the_catalog() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-26T10:00:00.000000Z");
        let clock = TestClock::at(now);
        let router = catalog(dir.path(), &clock).await;
        let mut backup = skjold_backup::BackupSettings::default()
            .check(dir.path())
            .unwrap();
        backup.adopt_generated_key(now).unwrap();
        assert_eq!(skjold_domain::Clock::now(&clock), now);

        // The generated key: on, but only on this server, and beside the data.
        let f = check(&installation(dir.path(), &backup, &router, now)).await;
        assert_eq!(severity(&f, "backups.enabled"), Severity::Warning);
        assert_eq!(severity(&f, "backups.key_location"), Severity::Warning);
        assert_eq!(severity(&f, "backups.last_snapshot"), Severity::Warning);
        assert_eq!(severity(&f, "backups.drill"), Severity::Warning);

        // A snapshot now: fine; 27 hours later: stale, an error.
        let ok = RunEnd {
            outcome: skjold_store::RunOutcome::Ok,
            bytes: Some(1),
            error: None,
            detail: None,
        };
        router
            .catalog()
            .record_run(
                "backup.snapshot",
                Some("acme"),
                "2026-11-26T10:00:00.000000Z",
                ok.clone(),
            )
            .await
            .unwrap();
        let f = check(&installation(dir.path(), &backup, &router, now)).await;
        assert_eq!(severity(&f, "backups.last_snapshot"), Severity::Ok);
        let later = now + Duration::hours(27);
        let f = check(&installation(dir.path(), &backup, &router, later)).await;
        assert_eq!(
            severity(&f, "backups.last_snapshot"),
            Severity::Error,
            "{f:?}"
        );

        // A failed drill is an error; a passed one fine.
        let drill = |outcome: &str, started: &str| DrillRecord {
            id: format!("d-{started}"),
            tenant: "acme".into(),
            started_at: started.into(),
            finished_at: started.into(),
            point: started.into(),
            snapshot: None,
            outcome: outcome.into(),
            duration_ms: 5,
            replayed: 0,
            compared: "manifest".into(),
            error: (outcome == "failed").then(|| "row counts differ".to_string()),
        };
        router
            .catalog()
            .record_drill(&drill("failed", "2026-11-26T09:00:00.000000Z"))
            .await
            .unwrap();
        let f = check(&installation(dir.path(), &backup, &router, now)).await;
        assert_eq!(severity(&f, "backups.drill"), Severity::Error);
        router
            .catalog()
            .record_drill(&drill("passed", "2026-11-26T09:30:00.000000Z"))
            .await
            .unwrap();
        let f = check(&installation(dir.path(), &backup, &router, now)).await;
        assert_eq!(severity(&f, "backups.drill"), Severity::Ok);

        // Backups off: one error, nothing else about them.
        let off = skjold_backup::BackupSettings {
            generate_key: false,
            ..Default::default()
        }
        .check(dir.path())
        .unwrap();
        let f = check(&installation(dir.path(), &off, &router, now)).await;
        assert_eq!(f.len(), 1);
        assert_eq!(severity(&f, "backups.enabled"), Severity::Error);
    }
}
