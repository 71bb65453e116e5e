//! One chain's writer: gives records their place in the chain (`seq`, `prev_hash`, `hash`)
//! and appends them to the chain's day files, under the chain's lock file so that the server
//! and CLI commands on the same data dir never interleave.
//!
//! The common case — an access record of the day the chain last wrote to, nobody else
//! holding the lock, the file as this process left it — costs a hash and a `write(2)` and is
//! done on the caller's own task ([`ChainWriter::append_quickly`]): no thread hand-off on the
//! request's path. Everything else (the first write, another process wrote, a new day whose
//! predecessor must be sealed, a security event that must be fsynced, a lock held elsewhere)
//! goes through [`ChainWriter::append`], which may block and runs on a blocking thread.

use crate::files;
use skjold_domain::audit::{AuditRecord, Draft, GENESIS};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the last write left behind: enough to chain the next record without reading the
/// files, and to notice when another process wrote meanwhile.
struct Head {
    seq: i64,
    hash: String,
    at: String,
    /// The file the last record went to and its size after the write: if either changed by
    /// the next write, another process wrote and the head is read again from the files.
    /// Shared with the copier, which fsyncs it: an `Arc` is cheaper than a path's copy.
    file: Arc<Path>,
    len: u64,
}

impl Head {
    fn day(&self) -> &str {
        self.at.get(..10).unwrap_or("0000-00-00")
    }
}

/// Records once they are in their day file.
pub(crate) struct Appended {
    pub(crate) records: Vec<AuditRecord>,
    /// The records as the day files hold them, one JSON line each, for the database copy.
    pub(crate) lines: Vec<u8>,
    /// The day files they went to, for the copier to fsync before the database copy.
    pub(crate) files: Vec<Arc<Path>>,
    /// The head was read from the files (first write, or another process wrote): the
    /// database may lag the file, so the copier brings it up to the file.
    pub(crate) cold: bool,
}

pub(crate) struct ChainWriter {
    chain: String,
    dir: PathBuf,
    /// The chain's lock file, open from the first quick append on.
    lock_file: Option<std::fs::File>,
    /// Whether this writer holds the lock on `lock_file` between quick appends (see
    /// [`ChainWriter::release_lock`]).
    holding: bool,
    /// The head's day file, open for appending, from the first quick append to it on.
    day_file: Option<(Arc<Path>, std::fs::File)>,
    /// `None` before the first write and after a failed one: the next write reads the head
    /// from the files.
    head: Option<Head>,
}

/// The outcome of [`ChainWriter::append_quickly`].
pub(crate) enum Quick {
    Done(Appended),
    /// The append needs blocking work; here are the drafts back, untouched.
    NeedsBlocking(Vec<Draft>),
}

impl ChainWriter {
    pub(crate) fn new(chain: &str, dir: PathBuf) -> Self {
        Self {
            chain: chain.to_string(),
            dir,
            lock_file: None,
            holding: false,
            day_file: None,
            head: None,
        }
    }

    /// Appends access records without blocking beyond a few system calls on files of this
    /// chain, if it can; see the module's documentation.
    pub(crate) fn append_quickly(&mut self, drafts: Vec<Draft>) -> Result<Quick, String> {
        let Some(head) = &self.head else {
            return Ok(Quick::NeedsBlocking(drafts));
        };
        // Each record must land in the head's day: a record of a later day would seal the
        // head's day first (reading its whole file). A draft of that day or earlier does (an
        // earlier time is moved up to the head's, see `chain_drafts`).
        let of_head_day = |d: &Draft| d.at.get(..10).is_some_and(|day| day <= head.day());
        if !drafts.iter().all(of_head_day) {
            return Ok(Quick::NeedsBlocking(drafts));
        }
        let (head_file, head_len) = (Arc::clone(&head.file), head.len);
        // The lock file and the day file stay open between appends: opening them is most
        // of what an append would otherwise cost in system calls.
        let Ok(lock) = kept_lock_file(&mut self.lock_file, &self.dir) else {
            return Ok(Quick::NeedsBlocking(drafts));
        };
        let mut day = match self.day_file.take() {
            Some((path, file)) if path == head_file => file,
            _ => match files::open_append(&head_file) {
                Ok(file) => file,
                Err(_) => return Ok(Quick::NeedsBlocking(drafts)),
            },
        };
        if !self.holding {
            // A lock held by another process, or any trouble with it, is for the blocking
            // path, which waits for the lock and reports errors.
            if lock.try_lock().is_err() {
                self.day_file = Some((head_file, day));
                return Ok(Quick::NeedsBlocking(drafts));
            }
            // While the lock was free another process may have appended (or sealed the
            // day), which changed the file's size. Held, the lock keeps them out: no need
            // to ask again until it is released.
            if day.metadata().map(|m| m.len()).ok() != Some(head_len) {
                let _ = lock.unlock();
                return Ok(Quick::NeedsBlocking(drafts));
            }
            self.holding = true;
        }
        let records = chain_drafts(&self.chain, self.head.as_ref(), drafts);
        // Every record is of the head's day: none is earlier (times never go backwards in a
        // chain) and none later (checked above).
        let written = files::encode_lines(&records).and_then(|buf| {
            use std::io::Write;
            day.write_all(&buf).map(|()| buf)
        });
        match written {
            Ok(lines) => {
                // Under the lock nobody else wrote: the size is known without asking.
                advance_head(
                    &mut self.head,
                    &records,
                    &head_file,
                    head_len + lines.len() as u64,
                );
                self.day_file = Some((Arc::clone(&head_file), day));
                Ok(Quick::Done(Appended {
                    records,
                    lines,
                    files: vec![head_file],
                    cold: false,
                }))
            }
            Err(e) => {
                // What reached the file is unknown: read the head again next time.
                self.head = None;
                self.release_lock();
                Err(e.to_string())
            }
        }
    }

    /// Lets other processes at the chain's files again. A quick append keeps the chain's
    /// lock after it returns, so that a busy chain pays for neither taking and releasing it
    /// nor checking the file's size on every record (three system calls of the four a
    /// record cost); the [copier](crate::copier) releases it each time it takes the records
    /// written meanwhile (about ten times a second under load, and always after the last
    /// record), so a CLI command waits at most that long for its turn.
    pub(crate) fn release_lock(&mut self) {
        if std::mem::take(&mut self.holding) {
            if let Some(lock) = &self.lock_file {
                let _ = lock.unlock();
            }
        }
    }

    /// Appends any records, fsyncing them when `sync` is set: waits for the chain's lock,
    /// reads the head from the files when it is not known or another process wrote, and
    /// seals the previous day when records of a new day come. Blocking.
    /// The lock is let go afterwards: a CLI command's writer, whose records all come this
    /// way, holds it no longer than its append.
    pub(crate) fn append(&mut self, drafts: Vec<Draft>, sync: bool) -> Result<Appended, String> {
        let result = self.append_locked(drafts, sync);
        self.release_lock();
        if result.is_err() {
            self.head = None;
        }
        result
    }

    fn append_locked(&mut self, drafts: Vec<Draft>, sync: bool) -> Result<Appended, String> {
        // The same lock file as the quick path's: a lock held through a second open file
        // would shut out this very writer.
        if !self.holding {
            kept_lock_file(&mut self.lock_file, &self.dir)
                .and_then(|lock| lock.lock())
                .map_err(|e| e.to_string())?;
            self.holding = true;
        }
        let newest_draft_day = drafts
            .iter()
            .map(draft_day)
            .max()
            .unwrap_or_default()
            .to_string();
        // The known head holds unless another process appended meanwhile: to our last file
        // (its size changed) or to a newer day's file.
        let warm = self.head.as_ref().is_some_and(|h| {
            files::file_len(&h.file) == h.len
                && (newest_draft_day.as_str() <= h.day()
                    || !files::day_path(&self.dir, &newest_draft_day).exists())
        });
        let cold = !warm;
        if cold {
            files::repair_tail(&self.dir).map_err(|e| e.to_string())?;
            self.head = files::last_record(&self.dir)
                .map_err(|e| e.to_string())?
                .map(|r| Head {
                    file: files::day_path(&self.dir, r.day()).into(),
                    seq: r.seq,
                    hash: r.hash,
                    at: r.at,
                    len: 0,
                });
        }
        let prev_day = self.head.as_ref().map(|h| h.day().to_string());
        let records = chain_drafts(&self.chain, self.head.as_ref(), drafts);
        let written = files::append(&self.dir, &records, prev_day.as_deref(), sync)
            .map_err(|e| e.to_string())?;
        let files: Vec<Arc<Path>> = written.files.into_iter().map(Arc::from).collect();
        if let Some(last) = records.last() {
            let file: Arc<Path> = files::day_path(&self.dir, last.day()).into();
            let len = files::file_len(&file);
            advance_head(&mut self.head, &records, &file, len);
        }
        Ok(Appended {
            records,
            lines: written.lines,
            files,
            cold,
        })
    }
}

/// The writer's lock file, opened on first use and kept open.
fn kept_lock_file<'a>(
    slot: &'a mut Option<std::fs::File>,
    dir: &Path,
) -> std::io::Result<&'a std::fs::File> {
    let file = match slot.take() {
        Some(file) => file,
        None => files::open_lock_file(dir)?,
    };
    Ok(slot.insert(file))
}

/// Moves `head` past `records`, just written to `file`, which is now `len` bytes long. The
/// head's strings are overwritten in place: every append does this, and it need not
/// allocate.
fn advance_head(head: &mut Option<Head>, records: &[AuditRecord], file: &Arc<Path>, len: u64) {
    let Some(last) = records.last() else {
        return;
    };
    match head {
        Some(h) => {
            h.seq = last.seq;
            h.hash.clone_from(&last.hash);
            h.at.clone_from(&last.at);
            if !Arc::ptr_eq(&h.file, file) {
                h.file = Arc::clone(file);
            }
            h.len = len;
        }
        None => {
            *head = Some(Head {
                seq: last.seq,
                hash: last.hash.clone(),
                at: last.at.clone(),
                file: Arc::clone(file),
                len,
            })
        }
    }
}

/// Gives the drafts their place after the head. Times in a chain never go backwards: a
/// request that began before the last record was written (say, just before midnight) is
/// stamped with that record's time, so every record lands in its own day's file, in order.
fn chain_drafts(chain: &str, head: Option<&Head>, drafts: Vec<Draft>) -> Vec<AuditRecord> {
    let mut records: Vec<AuditRecord> = Vec::with_capacity(drafts.len());
    for mut d in drafts {
        // The record before this one: the previous draft's, else the head (no copies of
        // its strings: most calls chain a single draft).
        let (seq, prev, last_at) = match (records.last(), head) {
            (Some(r), _) => (r.seq, r.hash.as_str(), r.at.as_str()),
            (None, Some(h)) => (h.seq, h.hash.as_str(), h.at.as_str()),
            (None, None) => (0, GENESIS, ""),
        };
        if d.at.as_str() < last_at {
            last_at.clone_into(&mut d.at);
        }
        let r = d.seal(chain, seq + 1, prev);
        records.push(r);
    }
    records
}

/// The day a draft's record would land in, before the chain's clamp (which only moves it
/// later, to the head's day).
fn draft_day(d: &Draft) -> &str {
    d.at.get(..10).unwrap_or("0000-00-00")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::{ChainLock, Line};

    fn access(at: &str) -> Draft {
        Draft {
            at: at.to_string(),
            kind: skjold_domain::audit::ACCESS.to_string(),
            path: Some("/acme/api/v1/persons".to_string()),
            ..Draft::default()
        }
    }

    fn quickly(w: &mut ChainWriter, at: &str) -> Option<Appended> {
        match w.append_quickly(vec![access(at)]).unwrap() {
            Quick::Done(a) => Some(a),
            Quick::NeedsBlocking(_) => None,
        }
    }

    /// A writer of chain `acme` in a new directory, after its first record (written the
    /// blocking way, as every chain's first record is). The directory lives as long as the
    /// `TempDir`.
    fn started_writer() -> (tempfile::TempDir, PathBuf, ChainWriter) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        let mut writer = ChainWriter::new("acme", dir.clone());
        writer
            .append(vec![access("2026-11-26T10:00:00.000000Z")], false)
            .unwrap();
        (tmp, dir, writer)
    }

    /// Our first write after another writer's record: never quick, and the blocking path
    /// reads the head again from the files (so the copier backfills the database).
    fn rereads_after_theirs(ours: &mut ChainWriter, at: &str, seq: i64) {
        assert!(quickly(ours, at).is_none());
        let reread = ours.append(vec![access(at)], false).unwrap();
        assert!(reread.cold);
        assert_eq!(reread.records[0].seq, seq);
    }

    /// Every record of the chain's files, in file order, and whether each day but the last
    /// ends with its seal.
    fn chain_in_files(dir: &std::path::Path) -> (Vec<AuditRecord>, Vec<bool>) {
        let mut records = Vec::new();
        let mut sealed = Vec::new();
        for path in files::day_files(dir).unwrap() {
            let lines = files::read_lines(&path).unwrap();
            sealed.push(matches!(lines.last(), Some((_, Line::Seal(_)))));
            for (_, line) in lines {
                match line {
                    Line::Record(r) => records.push(*r),
                    Line::Seal(_) => {}
                    Line::Garbage(g) => panic!("garbage in {}: {g}", path.display()),
                }
            }
        }
        (records, sealed)
    }

    #[test]
    fn quick_and_blocking_appends_make_one_intact_chain_across_writers_and_days() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        let mut ours = ChainWriter::new("acme", dir.clone());
        // The first write must read the (empty) chain: never quick.
        assert!(quickly(&mut ours, "2026-11-26T10:00:00.000000Z").is_none());
        let first = ours
            .append(vec![access("2026-11-26T10:00:00.000000Z")], false)
            .unwrap();
        assert!(first.cold);
        // Then access records of the same day are quick, including one that began earlier.
        let quick = quickly(&mut ours, "2026-11-26T10:00:01.000000Z").unwrap();
        assert!(!quick.cold);
        assert_eq!(quick.records[0].seq, 2);
        let earlier = quickly(&mut ours, "2026-11-26T09:59:00.000000Z").unwrap();
        assert_eq!(earlier.records[0].at, "2026-11-26T10:00:01.000000Z");
        // Another process (a CLI command) appends once the copier has released our lock:
        // our next write notices and rereads.
        ours.release_lock();
        let mut theirs = ChainWriter::new("acme", dir.clone());
        let cli = theirs
            .append(vec![access("2026-11-26T10:00:02.000000Z")], true)
            .unwrap();
        assert_eq!(cli.records[0].seq, 4);
        rereads_after_theirs(&mut ours, "2026-11-26T10:00:03.000000Z", 5);
        // A new day is never quick: the old day is sealed first.
        assert!(quickly(&mut ours, "2026-11-27T00:00:00.000001Z").is_none());
        ours.append(vec![access("2026-11-27T00:00:00.000001Z")], false)
            .unwrap();
        assert!(quickly(&mut ours, "2026-11-27T00:00:01.000000Z").is_some());

        let (records, sealed) = chain_in_files(&dir);
        assert_eq!(sealed, [true, false]);
        let mut prev = GENESIS.to_string();
        for (i, r) in records.iter().enumerate() {
            assert_eq!(r.seq, i as i64 + 1);
            assert_eq!(r.prev_hash, prev);
            assert_eq!(r.hash, r.compute_hash());
            prev.clone_from(&r.hash);
        }
        assert_eq!(records.len(), 7);
    }

    #[test]
    fn a_quick_append_keeps_the_lock_until_it_is_released_and_others_then_get_their_turn() {
        let (_tmp, dir, mut ours) = started_writer();
        // The blocking append let go of the lock; the quick one keeps it.
        drop(ChainLock::acquire(&dir).unwrap());
        quickly(&mut ours, "2026-11-26T10:00:01.000000Z").unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let theirs_dir = dir.clone();
        let theirs = std::thread::spawn(move || {
            let mut theirs = ChainWriter::new("acme", theirs_dir);
            let appended = theirs
                .append(vec![access("2026-11-26T10:00:02.000000Z")], true)
                .unwrap();
            tx.send(()).unwrap();
            appended
        });
        // Still ours: the other writer waits, and our appends stay quick meanwhile.
        assert!(rx
            .recv_timeout(std::time::Duration::from_millis(300))
            .is_err());
        quickly(&mut ours, "2026-11-26T10:00:01.500000Z").unwrap();
        ours.release_lock();
        let theirs = theirs.join().unwrap();
        assert_eq!(theirs.records[0].seq, 4);
        // Their record changed the file: ours notices once it takes the lock again.
        rereads_after_theirs(&mut ours, "2026-11-26T10:00:03.000000Z", 5);
    }

    #[test]
    fn a_lock_held_by_another_process_sends_the_append_to_the_blocking_path() {
        let (_tmp, dir, mut ours) = started_writer();
        let held = ChainLock::acquire(&dir).unwrap();
        assert!(quickly(&mut ours, "2026-11-26T10:00:01.000000Z").is_none());
        drop(held);
        assert!(quickly(&mut ours, "2026-11-26T10:00:01.000000Z").is_some());
    }
}

#[cfg(test)]
mod cost {
    use super::*;

    /// `cargo test --release -p skjold-audit -- --ignored --nocapture cost`: what one quick
    /// append costs, alone on one thread.
    #[test]
    #[ignore]
    fn quick_append_cost() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("acme");
        let mut w = ChainWriter::new("acme", dir);
        let draft = || Draft {
            at: "2026-11-26T10:00:00.000000Z".to_string(),
            kind: skjold_domain::audit::ACCESS.to_string(),
            request_id: Some("0123456789abcdef".into()),
            username: Some("admin".into()),
            ip: Some("127.0.0.1".into()),
            method: Some("GET".into()),
            path: Some("/demo/api/v1/persons/0190-1234-5678".into()),
            status: Some(200),
            duration_ms: Some(1),
            user_agent: Some("wrk".into()),
            ..Draft::default()
        };
        w.append(vec![draft()], false).unwrap();
        let n = 100_000;
        let t = std::time::Instant::now();
        for _ in 0..n {
            assert!(matches!(
                w.append_quickly(vec![draft()]).unwrap(),
                Quick::Done(_)
            ));
        }
        let one = t.elapsed() / n;
        let t = std::time::Instant::now();
        for _ in 0..n / 8 {
            let drafts = (0..8).map(|_| draft()).collect();
            assert!(matches!(w.append_quickly(drafts).unwrap(), Quick::Done(_)));
        }
        let eight = t.elapsed() / n;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _ = draft().seal("acme", 1, GENESIS);
        }
        let seal = t.elapsed() / n;
        eprintln!("quick append, one record per call: {one:?}/record; eight per call: {eight:?}/record; sealing alone: {seal:?}");
    }
}
