//! Disks: whether the backup destinations are on the data's own disk (or on one disk
//! together), and the free space of the data directory and the local destinations.

use crate::{Finding, Installation, Severity};
use std::path::{Path, PathBuf};

/// Below this share of free space a filesystem is a warning.
const LOW_FREE_PERCENT: u64 = 10;

pub(crate) fn check(inst: &Installation<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    if inst.backup.is_on() {
        out.push(one_disk(inst));
    }
    out.extend(space(inst));
    out
}

/// The local (`fs`) destinations: name and root.
fn local_destinations(inst: &Installation<'_>) -> Vec<(String, PathBuf)> {
    inst.backup
        .destinations
        .iter()
        .filter(|d| d.kind == "fs")
        .filter_map(|d| Some((d.name.clone(), PathBuf::from(d.root.as_deref()?))))
        .collect()
}

/// The nearest directory that exists at or above `path` (a destination is created at its
/// first write; until then its parent tells the filesystem).
fn existing(path: &Path) -> Option<&Path> {
    path.ancestors().find(|p| p.exists())
}

#[cfg(unix)]
fn device(path: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(existing(path)?).ok().map(|m| m.dev())
}

#[cfg(not(unix))]
fn device(_path: &Path) -> Option<u64> {
    None
}

fn one_disk(inst: &Installation<'_>) -> Finding {
    const CHECK: &str = "backups.one_disk";
    let fix = "put at least one backup destination on another disk or machine: an fs root on another disk or a network share, or s3/azblob (docs/backup.md#configuration)";
    let local = local_destinations(inst);
    let data_dev = device(inst.data_dir);
    let devs: Vec<(String, Option<u64>)> =
        local.iter().map(|(n, r)| (n.clone(), device(r))).collect();
    if let [(a, Some(da)), (b, Some(db))] = devs.as_slice() {
        if da == db {
            let with_data = if Some(*da) == data_dev {
                ", the disk of the data directory too"
            } else {
                ""
            };
            return Finding::new(
                CHECK,
                Severity::Warning,
                format!("both backup destinations ('{a}' and '{b}') are on one disk (device {da}){with_data}: one disk failure loses both"),
                fix,
            );
        }
    }
    let beside: Vec<&str> = devs
        .iter()
        .filter(|(_, d)| d.is_some() && *d == data_dev)
        .map(|(n, _)| n.as_str())
        .collect();
    if !beside.is_empty() {
        return Finding::new(
            CHECK,
            Severity::Warning,
            format!(
                "backup destination '{}' is on the disk of the data directory: a disk failure loses the data and that copy",
                beside.join("', '")
            ),
            fix,
        );
    }
    let remote = inst.backup.destinations.len() - local.len();
    Finding::ok(
        CHECK,
        format!(
            "the backup destinations are on disks of their own ({} local, {remote} object stores)",
            local.len()
        ),
    )
}

fn space(inst: &Installation<'_>) -> Vec<Finding> {
    const CHECK: &str = "disk.space";
    let mut places = vec![(
        "the data directory".to_string(),
        inst.data_dir.to_path_buf(),
    )];
    if inst.backup.is_on() {
        places.extend(
            local_destinations(inst)
                .into_iter()
                .map(|(n, r)| (format!("backup destination '{n}'"), r)),
        );
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for (what, path) in places {
        let Some(dir) = existing(&path) else {
            continue;
        };
        // One finding per filesystem.
        let dev = device(dir);
        if dev.is_some() && seen.contains(&dev) {
            continue;
        }
        seen.push(dev);
        let stats = match fs4::statvfs(dir) {
            Ok(s) => s,
            Err(e) => {
                out.push(Finding::new(
                    CHECK,
                    Severity::Warning,
                    format!(
                        "cannot measure the free space of {what} ({}): {e}",
                        path.display()
                    ),
                    "check that the path exists and is readable by Skjold's account",
                ));
                continue;
            }
        };
        let (free, total) = (stats.available_space(), stats.total_space());
        let percent = free.saturating_mul(100).checked_div(total).unwrap_or(100);
        let guard = (inst.min_free_bytes > 0 && inst.min_free_percent > 0).then(|| {
            inst.min_free_bytes
                .min(total / 100 * u64::from(inst.min_free_percent))
        });
        let line = format!(
            "{what} ({}): {} free of {} ({percent}%)",
            path.display(),
            human(free),
            human(total)
        );
        out.push(match guard {
            Some(g) if free < g => Finding::new(
                CHECK,
                Severity::Error,
                format!("{line}: below the audit trail's low-disk guard, so unauthenticated requests are refused"),
                "free space or grow the filesystem now (docs/operator-guide.md, audit_min_free_mb)",
            ),
            _ if percent < LOW_FREE_PERCENT => Finding::new(
                CHECK,
                Severity::Warning,
                format!("{line}: under {LOW_FREE_PERCENT}% free"),
                "free space or grow the filesystem before it fills",
            ),
            _ => Finding::ok(CHECK, line),
        });
    }
    out
}

fn human(bytes: u64) -> String {
    const GIB: u64 = 1024 * 1024 * 1024;
    const MIB: u64 = 1024 * 1024;
    if bytes >= GIB {
        format!("{:.1} GiB", bytes as f64 / GIB as f64)
    } else {
        format!("{} MiB", bytes / MIB)
    }
}
