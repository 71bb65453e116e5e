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

/// The last record of the chain's files, scanning back from the newest day's last line.
pub(crate) fn last_record(dir: &Path) -> std::io::Result<Option<AuditRecord>> {
    for path in day_files(dir)?.iter().rev() {
        for line in LinesBackward::open(path)? {
            if let Line::Record(r) = parse_line(&line?) {
                return Ok(Some(*r));
            }
        }
    }
    Ok(None)
}

/// The records of the chain's files after sequence number `after`, in chain order, read
/// back from the newest day's end: what a restart or a lagging database copy needs costs
/// what those records weigh, not what the whole (possibly gigabyte) day weighs.
pub(crate) fn records_after(dir: &Path, after: i64) -> std::io::Result<Vec<AuditRecord>> {
    let mut found = Vec::new();
    'days: for path in day_files(dir)?.iter().rev() {
        for line in LinesBackward::open(path)? {
            if let Line::Record(r) = parse_line(&line?) {
                if r.seq <= after {
                    break 'days;
                }
                found.push(*r);
            }
        }
    }
    found.reverse();
    Ok(found)
}

/// The lines of a file from the last to the first (empty lines left out), read in pieces
/// from the end.
pub(crate) struct LinesBackward {
    file: File,
    /// Where the part not yet read ends.
    unread: u64,
    /// Bytes read but not yet split into lines: the start of a line whose beginning lies
    /// in the unread part.
    partial: Vec<u8>,
    /// Complete lines in file order; handed out from the back.
    ready: Vec<String>,
}

impl LinesBackward {
    const PIECE: u64 = 64 * 1024;

    pub(crate) fn open(path: &Path) -> std::io::Result<Self> {
        let file = File::open(path)?;
        let unread = file.metadata()?.len();
        Ok(Self {
            file,
            unread,
            partial: Vec::new(),
            ready: Vec::new(),
        })
    }

    /// Reads the piece before what has been read, and splits off the lines it completes.
    fn read_piece(&mut self) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        let n = Self::PIECE.min(self.unread);
        self.unread -= n;
        let mut piece = vec![0u8; n as usize];
        self.file.seek(SeekFrom::Start(self.unread))?;
        self.file.read_exact(&mut piece)?;
        piece.extend_from_slice(&self.partial);
        self.partial = piece;
        // Lines are complete from the first newline on, or all of them at the file's start.
        let complete_from = if self.unread == 0 {
            0
        } else {
            match self.partial.iter().position(|b| *b == b'\n') {
                Some(i) => i + 1,
                None => return Ok(()),
            }
        };
        let complete = self.partial.split_off(complete_from);
        self.ready.extend(
            complete
                .split(|b| *b == b'\n')
                .filter(|l| !l.trim_ascii().is_empty())
                .map(|l| String::from_utf8_lossy(l).into_owned()),
        );
        Ok(())
    }
}

impl Iterator for LinesBackward {
    type Item = std::io::Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(line) = self.ready.pop() {
                return Some(Ok(line));
            }
            if self.unread == 0 {
                return None;
            }
            if let Err(e) = self.read_piece() {
                self.unread = 0;
                return Some(Err(e));
            }
        }
    }
}

/// The chain's lock file (made with its directory if need be), opened once and kept by the
/// chain's writer: the lock on it is what lets one writer at a time — the server or a CLI
/// command on the same data dir — append to the chain.
pub(crate) fn open_lock_file(dir: &Path) -> std::io::Result<File> {
    std::fs::create_dir_all(dir)?;
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(".lock"))
}

/// The chain's lock as another process would hold it, for tests. Released on drop.
#[cfg(test)]
pub(crate) struct ChainLock {
    file: File,
}

#[cfg(test)]
impl ChainLock {
    pub(crate) fn acquire(dir: &Path) -> std::io::Result<Self> {
        let file = open_lock_file(dir)?;
        file.lock()?;
        Ok(Self { file })
    }
}

#[cfg(test)]
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
) -> std::io::Result<Written> {
    let mut last_day = prev_day.map(str::to_string);
    let mut i = 0;
    let mut written = Written {
        files: Vec::new(),
        lines: Vec::with_capacity(records.len() * 640),
    };
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
        // One `write(2)` per day file.
        let from = written.lines.len();
        encode_lines_into(&mut written.lines, &records[i..j])?;
        let mut f = open_append(&path)?;
        f.write_all(&written.lines[from..])?;
        if sync {
            f.sync_data()?;
        }
        written.files.push(path);
        last_day = Some(day);
        i = j;
    }
    Ok(written)
}

/// What [`append`] wrote.
pub(crate) struct Written {
    /// The day files, in order.
    pub(crate) files: Vec<PathBuf>,
    /// The records' lines, as the files now hold them.
    pub(crate) lines: Vec<u8>,
}

/// Records as the lines of a day file.
pub(crate) fn encode_lines(records: &[AuditRecord]) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(records.len() * 640);
    encode_lines_into(&mut buf, records)?;
    Ok(buf)
}

/// [`encode_lines`], appended to `buf`.
fn encode_lines_into(buf: &mut Vec<u8>, records: &[AuditRecord]) -> std::io::Result<()> {
    for r in records {
        serde_json::to_writer(&mut *buf, r).map_err(std::io::Error::other)?;
        buf.push(b'\n');
    }
    Ok(())
}

/// Makes what was written to `files` durable on disk (a sealed, read-only file can still be
/// synced through a read handle).
pub(crate) fn sync_files(files: &[impl AsRef<Path>]) -> std::io::Result<()> {
    for path in files {
        File::open(path)?.sync_data()?;
    }
    Ok(())
}

pub(crate) fn open_append(path: &Path) -> std::io::Result<File> {
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
    // Read back from the end only as far as the last newline: a day file can be large.
    use std::io::{Read, Seek, SeekFrom};
    let mut file = File::open(&path)?;
    let len = file.metadata()?.len();
    let mut end = len;
    let keep = loop {
        if end == 0 {
            break 0;
        }
        let n = end.min(LinesBackward::PIECE);
        let mut piece = vec![0u8; n as usize];
        file.seek(SeekFrom::Start(end - n))?;
        file.read_exact(&mut piece)?;
        if let Some(i) = piece.iter().rposition(|b| *b == b'\n') {
            break end - n + i as u64 + 1;
        }
        end -= n;
    };
    if keep == len {
        return Ok(());
    }
    let f = OpenOptions::new().write(true).open(&path)?;
    f.set_len(keep)?;
    f.sync_data()?;
    tracing::warn!(file = %path.display(), dropped = len - keep, "cut an interrupted audit write off the end of the file");
    Ok(())
}

/// The size of a file, 0 when it does not exist.
pub(crate) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use skjold_domain::audit::{Draft, GENESIS};

    #[test]
    fn lines_backward_gives_every_line_last_first_across_pieces() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("lines.txt");
        // Lines of many lengths, some longer than a piece, and no newline at the very end.
        let lines: Vec<String> = (0..500)
            .map(|i| "x".repeat((i * 397) % 70_000 + 1) + &i.to_string())
            .collect();
        let mut text = lines.join("\n\n");
        std::fs::write(&path, &text).unwrap();
        let back: Vec<String> = LinesBackward::open(&path)
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut expected = lines.clone();
        expected.reverse();
        assert!(back == expected, "{} lines back", back.len());
        // With a trailing newline, and an empty file.
        text.push('\n');
        std::fs::write(&path, &text).unwrap();
        assert_eq!(LinesBackward::open(&path).unwrap().count(), 500);
        std::fs::write(&path, "").unwrap();
        assert_eq!(LinesBackward::open(&path).unwrap().count(), 0);
    }

    #[test]
    fn records_after_reads_back_across_days_to_the_given_record() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        std::fs::create_dir_all(&dir).unwrap();
        let mut prev = GENESIS.to_string();
        let mut records = Vec::new();
        for seq in 1..=300i64 {
            let day = 20 + seq / 100;
            let d = Draft {
                at: format!("2026-11-{day}T10:00:00.{seq:06}Z"),
                kind: skjold_domain::audit::ACCESS.to_string(),
                ..Draft::default()
            };
            let r = d.seal("acme", seq, &prev);
            prev.clone_from(&r.hash);
            records.push(r);
        }
        append(&dir, &records, None, false).unwrap();
        let seqs = |v: Vec<AuditRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
        assert_eq!(
            seqs(records_after(&dir, 150).unwrap()),
            (151..=300).collect::<Vec<_>>()
        );
        assert_eq!(seqs(records_after(&dir, 0).unwrap()).len(), 300);
        assert!(records_after(&dir, 300).unwrap().is_empty());
        assert_eq!(last_record(&dir).unwrap().unwrap().seq, 300);
    }

    #[test]
    fn repair_tail_cuts_only_an_unfinished_last_line() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        std::fs::create_dir_all(&dir).unwrap();
        let path = day_path(&dir, "2026-11-26");
        let whole = format!("{}\nsecond\n", "a".repeat(100_000));
        // An interrupted write longer than a piece of the backward read.
        std::fs::write(&path, format!("{whole}{}", "b".repeat(70_000))).unwrap();
        repair_tail(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        repair_tail(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), whole);
        std::fs::write(&path, "only a partial line").unwrap();
        repair_tail(&dir).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "");
    }
}
