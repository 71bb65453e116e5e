//! The file sink: `<root>/<chain>/<YYYY-MM-DD>.jsonl`, one record per line, appended and
//! fsynced before a write is acknowledged. When a chain writes into a new day, the previous
//! day's file gets a closing seal line and is made read-only.

use serde::{Deserialize, Serialize};
use skjold_domain::audit::{canonical_json, hex_sha256, AuditRecord};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The last line of a closed day's file: what the day holds, itself hashed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Seal {
    pub day: String,
    pub count: i64,
    pub last_seq: i64,
    pub last_hash: String,
    pub hash: String,
}

impl Seal {
    pub fn new(day: &str, count: i64, last_seq: i64, last_hash: &str) -> Self {
        let mut s = Seal {
            day: day.to_string(),
            count,
            last_seq,
            last_hash: last_hash.to_string(),
            hash: String::new(),
        };
        s.hash = s.compute_hash();
        s
    }

    pub fn compute_hash(&self) -> String {
        let v = serde_json::json!({
            "day": self.day, "count": self.count, "last_seq": self.last_seq, "last_hash": self.last_hash,
        });
        hex_sha256(canonical_json(&v).as_bytes())
    }
}

#[derive(Serialize, Deserialize)]
struct SealLine {
    seal: Seal,
}

/// One line of a day file.
pub(crate) enum Line {
    Record(Box<AuditRecord>),
    Seal(Seal),
    /// Not a record or a seal: damage.
    Garbage(String),
}

pub(crate) fn parse_line(text: &str) -> Line {
    if let Ok(s) = serde_json::from_str::<SealLine>(text) {
        return Line::Seal(s.seal);
    }
    match serde_json::from_str::<AuditRecord>(text) {
        Ok(r) => Line::Record(Box::new(r)),
        Err(e) => Line::Garbage(e.to_string()),
    }
}

pub fn chain_dir(root: &Path, chain: &str) -> PathBuf {
    root.join(chain)
}

/// The chain's day files, oldest first.
pub fn day_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            for e in entries {
                let p = e?.path();
                let is_day = p.extension().is_some_and(|x| x == "jsonl")
                    && p.file_stem()
                        .and_then(|s| s.to_str())
                        .is_some_and(|s| s.len() == 10);
                if is_day {
                    out.push(p);
                }
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    out.sort();
    Ok(out)
}

pub(crate) fn day_path(dir: &Path, day: &str) -> PathBuf {
    dir.join(format!("{day}.jsonl"))
}

/// Reads a whole day file into lines (with their 1-based line numbers).
pub(crate) fn read_lines(path: &Path) -> std::io::Result<Vec<(usize, Line)>> {
    let reader = BufReader::new(File::open(path)?);
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        out.push((i + 1, parse_line(&line)));
    }
    Ok(out)
}

/// The last record of the chain's files, scanning back from the newest day.
pub(crate) fn last_record(dir: &Path) -> std::io::Result<Option<AuditRecord>> {
    for path in day_files(dir)?.iter().rev() {
        let mut last = None;
        for (_, line) in read_lines(path)? {
            if let Line::Record(r) = line {
                last = Some(*r);
            }
        }
        if last.is_some() {
            return Ok(last);
        }
    }
    Ok(None)
}

/// An exclusive lock on the chain directory, so that the server and a CLI command on the
/// same data dir never interleave their appends. Released on drop.
pub(crate) struct ChainLock {
    file: File,
}

impl ChainLock {
    pub(crate) fn acquire(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        file.lock()?;
        Ok(Self { file })
    }
}

impl ChainLock {
    /// The lock if no other process holds it right now; `None` if one does (the caller
    /// then waits for it where waiting is allowed). The directory must exist.
    pub(crate) fn try_acquire(dir: &Path) -> std::io::Result<Option<Self>> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(dir.join(".lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Self { file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(e),
        }
    }
}

impl Drop for ChainLock {
    fn drop(&mut self) {
        let _ = self.file.unlock();
    }
}

/// Appends records (already chained) to their day files, fsyncing them when `sync` is set,
/// and returns the files written. Before the first record of a later day, the previous
/// day's file is sealed (and that always fsyncs).
pub(crate) fn append(
    dir: &Path,
    records: &[AuditRecord],
    prev_day: Option<&str>,
    sync: bool,
) -> std::io::Result<Vec<PathBuf>> {
    let mut last_day = prev_day.map(str::to_string);
    let mut i = 0;
    let mut written = Vec::new();
    while i < records.len() {
        let day = records[i].day().to_string();
        if let Some(d) = &last_day {
            if d.as_str() < day.as_str() {
                seal_day(dir, d)?;
            }
        }
        let mut j = i;
        while j < records.len() && records[j].day() == day {
            j += 1;
        }
        let path = day_path(dir, &day);
        let f = append_lines(&path, &records[i..j])?;
        if sync {
            f.sync_data()?;
        }
        written.push(path);
        last_day = Some(day);
        i = j;
    }
    Ok(written)
}

/// Appends `records` to one day's file in a single `write(2)` and returns the open file.
pub(crate) fn append_lines(path: &Path, records: &[AuditRecord]) -> std::io::Result<File> {
    let mut buf = Vec::with_capacity(records.len() * 640);
    for r in records {
        serde_json::to_writer(&mut buf, r).map_err(std::io::Error::other)?;
        buf.push(b'\n');
    }
    let mut f = open_append(path)?;
    f.write_all(&buf)?;
    Ok(f)
}

/// Makes what was written to `files` durable on disk (a sealed, read-only file can still be
/// synced through a read handle).
pub(crate) fn sync_files(files: &[PathBuf]) -> std::io::Result<()> {
    for path in files {
        File::open(path)?.sync_data()?;
    }
    Ok(())
}

fn open_append(path: &Path) -> std::io::Result<File> {
    let mut opts = OpenOptions::new();
    opts.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o640);
    }
    opts.open(path)
}

/// Closes a day: appends the seal line (unless there is one) and makes the file read-only.
pub(crate) fn seal_day(dir: &Path, day: &str) -> std::io::Result<()> {
    let path = day_path(dir, day);
    if !path.exists() {
        return Ok(());
    }
    let lines = read_lines(&path)?;
    if matches!(lines.last(), Some((_, Line::Seal(_)))) {
        return Ok(());
    }
    let records: Vec<&AuditRecord> = lines
        .iter()
        .filter_map(|(_, l)| match l {
            Line::Record(r) => Some(r.as_ref()),
            _ => None,
        })
        .collect();
    let Some(last) = records.last() else {
        return Ok(());
    };
    let seal = Seal::new(day, records.len() as i64, last.seq, &last.hash);
    let mut f = open_append(&path)?;
    serde_json::to_writer(&mut f, &SealLine { seal }).map_err(std::io::Error::other)?;
    f.write_all(b"\n")?;
    f.sync_data()?;
    let mut perms = f.metadata()?.permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&path, perms)?;
    Ok(())
}

/// Cuts an incomplete last line off the newest day file: the tail of a write that a crash
/// interrupted. No caller was told such a record was written (that happens only once the
/// whole batch is written), so dropping it loses nothing that was promised.
pub(crate) fn repair_tail(dir: &Path) -> std::io::Result<()> {
    let Some(path) = day_files(dir)?.pop() else {
        return Ok(());
    };
    let bytes = std::fs::read(&path)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes
        .iter()
        .rposition(|b| *b == b'\n')
        .map(|i| i + 1)
        .unwrap_or(0);
    let f = OpenOptions::new().write(true).open(&path)?;
    f.set_len(keep as u64)?;
    f.sync_data()?;
    tracing::warn!(file = %path.display(), dropped = bytes.len() - keep, "cut an interrupted audit write off the end of the file");
    Ok(())
}

/// The size of a file, 0 when it does not exist.
pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}
