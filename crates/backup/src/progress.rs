//! How far a restore has come, for whoever watches it: the API's job row (and through it
//! the web UI), and the CLI's progress lines on stderr.
//!
//! A restore reports into a [`Progress`]; watchers hold the other end of a
//! `tokio::sync::watch` channel and see only the latest state, so a slow watcher never
//! slows the restore. Counts are passed on only when their whole percentage changes (or
//! the phase does), which keeps a watcher that writes each state to a database to about a
//! hundred writes per phase however many rows there are.

use serde::{Deserialize, Serialize};
use skjold_store::LoadObserver;
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::watch;

/// A step of a restore, in the order they run. Not every restore has every step: a
/// PostgreSQL (JSON lines) snapshot is decrypted while it is loaded, a SQLite file snapshot
/// is decrypted first and not loaded row by row, and only an in-place restore takes a
/// safety snapshot and swaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RestorePhase {
    /// Downloading the snapshot and checking it against its manifest (size, SHA-256).
    Fetching,
    /// Downloading, checking and decrypting the journal segments after the snapshot.
    FetchingJournal,
    /// Decrypting and decompressing the snapshot (age authenticates every chunk).
    Decrypting,
    /// Loading the snapshot's rows into the scratch or new database.
    Loading,
    /// Checking the result: integrity, links, row counts against the manifest.
    Checking,
    /// Applying the journal entries up to the chosen moment.
    Replaying,
    /// In place: a snapshot of the tenant as it is now, before anything is replaced.
    SafetySnapshot,
    /// In place: making the tenant's records equal to the restored state; into a new
    /// tenant: listing it.
    Swapping,
    /// Finished (successfully; a failed restore keeps the phase it failed in).
    Done,
}

impl RestorePhase {
    /// What the phase does, for people.
    pub fn label(self) -> &'static str {
        match self {
            RestorePhase::Fetching => "fetching the snapshot",
            RestorePhase::FetchingJournal => "fetching journal segments",
            RestorePhase::Decrypting => "decrypting the snapshot",
            RestorePhase::Loading => "loading the snapshot",
            RestorePhase::Checking => "checking the restored data",
            RestorePhase::Replaying => "replaying the journal",
            RestorePhase::SafetySnapshot => "taking the safety snapshot",
            RestorePhase::Swapping => "swapping in the restored data",
            RestorePhase::Done => "done",
        }
    }
}

/// What `done` and `total` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressUnit {
    Bytes,
    Rows,
    Entries,
    Segments,
}

impl ProgressUnit {
    fn label(self) -> &'static str {
        match self {
            ProgressUnit::Bytes => "bytes",
            ProgressUnit::Rows => "rows",
            ProgressUnit::Entries => "journal entries",
            ProgressUnit::Segments => "segments",
        }
    }
}

/// A phase that is over, and how long it took.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhaseTime {
    pub phase: RestorePhase,
    pub ms: u64,
}

/// The state of a restore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RestoreProgress {
    pub phase: RestorePhase,
    /// How much of the phase is done, in `unit`, where it is known.
    pub done: Option<u64>,
    pub total: Option<u64>,
    pub unit: Option<ProgressUnit>,
    /// While replaying: the journal segment the entries being applied came from (1-based),
    /// and how many segments there are.
    pub segment: Option<u64>,
    pub segments: Option<u64>,
    /// The phases before this one, in order, with their durations.
    pub finished: Vec<PhaseTime>,
}

impl RestoreProgress {
    fn start() -> Self {
        Self {
            phase: RestorePhase::Fetching,
            done: None,
            total: None,
            unit: None,
            segment: None,
            segments: None,
            finished: Vec::new(),
        }
    }

    /// One line for people, e.g. `replaying the journal: segment 2/3, 1200/5000 journal
    /// entries (24%)`.
    pub fn describe(&self) -> String {
        let mut s = self.phase.label().to_string();
        let mut parts = Vec::new();
        if let (Some(i), Some(n)) = (self.segment, self.segments) {
            parts.push(format!("segment {i}/{n}"));
        }
        if let (Some(done), Some(unit)) = (self.done, self.unit) {
            parts.push(match self.total {
                Some(total) if total > 0 => format!(
                    "{done}/{total} {} ({}%)",
                    unit.label(),
                    done.min(total) * 100 / total
                ),
                _ => format!("{done} {}", unit.label()),
            });
        }
        if !parts.is_empty() {
            s.push_str(": ");
            s.push_str(&parts.join(", "));
        }
        s
    }

    /// The share of the phase that is done, 0 to 100, where it is known.
    pub fn percent(&self) -> Option<u64> {
        match (self.done, self.total) {
            (Some(d), Some(t)) if t > 0 => Some(d.min(t) * 100 / t),
            _ => None,
        }
    }
}

struct Inner {
    state: RestoreProgress,
    phase_began: Instant,
    /// Where each journal segment's entries end (cumulative counts), to name the segment
    /// an applied entry came from.
    segment_ends: Vec<u64>,
}

/// The restore's end of the channel. Cheap to call often: it passes a count on only when
/// the whole percentage (or, without a total, the thousand) changes. Clones report into
/// the same channel (a blocking decrypt thread holds one).
#[derive(Clone)]
pub struct Progress {
    shared: Arc<Shared>,
}

struct Shared {
    tx: watch::Sender<RestoreProgress>,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress").finish_non_exhaustive()
    }
}

impl Progress {
    /// A progress to report into, and a receiver to watch it.
    pub fn channel() -> (Self, watch::Receiver<RestoreProgress>) {
        let (tx, rx) = watch::channel(RestoreProgress::start());
        (
            Self {
                shared: Arc::new(Shared {
                    tx,
                    inner: Mutex::new(Inner {
                        state: RestoreProgress::start(),
                        phase_began: Instant::now(),
                        segment_ends: Vec::new(),
                    }),
                }),
            },
            rx,
        )
    }

    /// A progress nobody watches (drills, tests).
    pub fn unwatched() -> Self {
        Self::channel().0
    }

    fn with<F: FnOnce(&mut Inner) -> bool>(&self, f: F) {
        // A poisoned lock only means a reporter panicked; progress is advisory.
        let mut inner = self.shared.inner.lock().unwrap_or_else(|e| e.into_inner());
        if f(&mut inner) {
            self.shared.tx.send_replace(inner.state.clone());
        }
    }

    /// Enters `phase` (closing the one before), with a total of `unit` if known.
    pub fn phase(&self, phase: RestorePhase, total: Option<(u64, ProgressUnit)>) {
        self.with(|i| {
            if i.state.phase != phase {
                let ms = u64::try_from(i.phase_began.elapsed().as_millis()).unwrap_or(u64::MAX);
                i.state.finished.push(PhaseTime {
                    phase: i.state.phase,
                    ms,
                });
                i.phase_began = Instant::now();
                i.state.phase = phase;
            }
            i.state.done = total.map(|_| 0);
            i.state.total = total.map(|(n, _)| n);
            i.state.unit = total.map(|(_, u)| u);
            i.state.segment = None;
            i.state.segments = None;
            true
        });
    }

    /// Sets how much of the current phase is done.
    pub fn done(&self, done: u64) {
        self.with(|i| {
            let before = i.state.done.unwrap_or(0);
            i.state.done = Some(done);
            let step_changed = match i.state.total {
                Some(t) if t > 0 => before.min(t) * 100 / t != done.min(t) * 100 / t,
                _ => before / 1000 != done / 1000,
            };
            let segment = match i.segment_ends.iter().position(|end| done < *end) {
                Some(p) => p as u64 + 1,
                None => i.segment_ends.len() as u64,
            };
            let segment_changed = i.state.segments.is_some() && i.state.segment != Some(segment);
            if i.state.segments.is_some() {
                i.state.segment = Some(segment);
            }
            step_changed || segment_changed || (i.state.total == Some(done))
        });
    }

    /// Starts replaying entries that came from segments of these sizes (in order).
    pub fn replaying(&self, segment_sizes: &[u64]) {
        let total: u64 = segment_sizes.iter().sum();
        self.phase(
            RestorePhase::Replaying,
            Some((total, ProgressUnit::Entries)),
        );
        self.with(|i| {
            i.segment_ends = segment_sizes
                .iter()
                .scan(0, |acc, n| {
                    *acc += n;
                    Some(*acc)
                })
                .collect();
            i.state.segments = Some(segment_sizes.len() as u64);
            i.state.segment = (!segment_sizes.is_empty()).then_some(1);
            true
        });
    }

    /// Counts bytes read through `input` as the current phase's `done`.
    pub fn counting<R: std::io::Read>(&self, input: R) -> CountingReader<R> {
        CountingReader {
            input,
            read: 0,
            progress: self.clone(),
        }
    }

    /// The state as it is now.
    pub fn snapshot(&self) -> RestoreProgress {
        self.shared
            .inner
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .state
            .clone()
    }
}

/// A reader that reports how many bytes went through it.
pub struct CountingReader<R> {
    input: R,
    read: u64,
    progress: Progress,
}

impl<R: std::io::Read> std::io::Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.input.read(buf)?;
        self.read += n as u64;
        self.progress.done(self.read);
        Ok(n)
    }
}

/// What the store reports while it loads and replays, passed on as this restore's progress.
/// The store knows entries, not segments: the sizes of the segments they came from name the
/// segment being replayed.
pub(crate) struct StoreProgress<'a> {
    pub progress: &'a Progress,
    pub segment_sizes: &'a [u64],
}

impl LoadObserver for StoreProgress<'_> {
    fn rows_loaded(&self, rows: u64) {
        self.progress.done(rows);
    }

    fn checking(&self) {
        self.progress.phase(RestorePhase::Checking, None);
    }

    fn replaying(&self) {
        self.progress.replaying(self.segment_sizes);
    }

    fn entries_applied(&self, entries: u64) {
        self.progress.done(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_pass_on_only_whole_percent_steps_and_phases_are_timed_in_order() {
        let (p, mut rx) = Progress::channel();
        p.phase(RestorePhase::Loading, Some((10_000, ProgressUnit::Rows)));
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        p.done(50); // 0% still
        assert!(!rx.has_changed().unwrap());
        p.done(100); // 1%
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().percent(), Some(1));
        p.replaying(&[3, 2]);
        p.done(3);
        let s = rx.borrow_and_update().clone();
        assert_eq!(s.phase, RestorePhase::Replaying);
        assert_eq!((s.segment, s.segments), (Some(2), Some(2)));
        assert_eq!(
            s.describe(),
            "replaying the journal: segment 2/2, 3/5 journal entries (60%)"
        );
        let phases: Vec<_> = s.finished.iter().map(|f| f.phase).collect();
        assert_eq!(phases, [RestorePhase::Fetching, RestorePhase::Loading]);
        p.phase(RestorePhase::Done, None);
        assert_eq!(p.snapshot().describe(), "done");
    }
}
