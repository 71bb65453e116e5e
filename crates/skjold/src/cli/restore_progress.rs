//! `skjold backup restore`'s progress lines on stderr (stdout keeps the result, so
//! `--json` output stays machine-readable): one line when a phase begins, and one per tenth
//! of it (or per journal segment) while it runs.

use skjold_backup::{RestorePhase, RestoreProgress};
use std::time::Instant;
use tokio::sync::watch;

/// Prints the restore's progress until it drops its end of the channel.
pub async fn print(mut watch: watch::Receiver<RestoreProgress>) {
    let began = Instant::now();
    let mut last: Option<(RestorePhase, Option<u64>, Option<u64>)> = None;
    loop {
        let closed = watch.changed().await.is_err();
        let p = watch.borrow_and_update().clone();
        let key = (p.phase, p.percent().map(|pc| pc / 10), p.segment);
        if last != Some(key) {
            eprintln!(
                "restore [{:>6.1} s] {}",
                began.elapsed().as_secs_f64(),
                p.describe()
            );
            last = Some(key);
        }
        if closed {
            return;
        }
    }
}
