//! Verification: walks a chain in its database and in its files, checks every hash and
//! link, every day's seal, and that both copies hold the same records.

use crate::files::{self, Line};
use serde::Serialize;
use skjold_domain::audit::{AuditRecord, GENESIS};
use skjold_domain::clock::format_timestamp;
use skjold_store::{StoreError, TenantRouter};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DamageKind {
    /// A record's content no longer matches its hash.
    Edited,
    /// Records are missing: the sequence jumps.
    Removed,
    /// A record is out of order or appears twice.
    Reordered,
    /// A record does not link to the one before it: something was inserted or replaced.
    Inserted,
    /// A line of a file is not a record.
    Unreadable,
    /// A day's seal does not match the day's records.
    BadSeal,
    /// The database and the files disagree about a record.
    Mismatch,
    /// A record is in the database but not in the files.
    MissingInFile,
    /// A record is in the files but not in the database.
    MissingInDatabase,
}

#[derive(Debug, Clone, Serialize)]
pub struct Damage {
    pub kind: DamageKind,
    /// Where: `database seq 17` or `2026-11-26.jsonl line 5 (seq 17)`.
    pub location: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub chain: String,
    pub database_records: i64,
    pub file_records: i64,
    pub days: usize,
    /// The damage found, first first; empty when the chain is intact.
    pub damage: Vec<Damage>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.damage.is_empty()
    }
}

/// Follows one copy of a chain record by record.
struct Walk {
    expected: i64,
    prev: String,
    broken: bool,
}

impl Walk {
    /// A walk from the chain's start, or from just after the records a retention anchor
    /// says were purged.
    fn new(start: &Option<(i64, String)>) -> Self {
        let (expected, prev) = match start {
            Some((seq, hash)) => (seq + 1, hash.clone()),
            None => (1, GENESIS.to_string()),
        };
        Self {
            expected,
            prev,
            broken: false,
        }
    }

    /// Checks the next record; the first damage of a copy is reported, then the walk
    /// resynchronises on the record so later damage is found too.
    fn step(&mut self, r: &AuditRecord, location: String) -> Option<Damage> {
        let damage = if r.hash != r.compute_hash() {
            Some((
                DamageKind::Edited,
                format!(
                    "the record's content does not match its hash (seq {})",
                    r.seq
                ),
            ))
        } else if r.seq > self.expected {
            Some((
                DamageKind::Removed,
                format!(
                    "expected seq {}, found {}: {} record(s) missing",
                    self.expected,
                    r.seq,
                    r.seq - self.expected
                ),
            ))
        } else if r.seq < self.expected {
            Some((
                DamageKind::Reordered,
                format!("seq {} appears after seq {}", r.seq, self.expected - 1),
            ))
        } else if r.prev_hash != self.prev {
            Some((
                DamageKind::Inserted,
                format!("seq {} does not link to the record before it", r.seq),
            ))
        } else {
            None
        };
        if r.seq >= self.expected {
            self.expected = r.seq + 1;
            self.prev = r.hash.clone();
        }
        let damage = damage.map(|(kind, detail)| Damage {
            kind,
            location,
            detail,
        });
        if damage.is_some() {
            self.broken = true;
        }
        damage
    }
}

/// The most damage entries a report lists.
const MAX_REPORTED: usize = 50;

/// How long a record may be in its file and not yet in the database before that counts as
/// damage: the copier is normally milliseconds behind; a minute covers a busy machine.
const PENDING: chrono::Duration = chrono::Duration::seconds(60);

/// Verifies one chain (`_system` or a tenant slug) in the database and under `root`.
pub async fn verify_chain(
    router: &TenantRouter,
    root: &Path,
    chain: &str,
) -> Result<VerifyReport, StoreError> {
    let mut damage = Vec::new();
    let note = |d: Damage, damage: &mut Vec<Damage>| {
        if damage.len() < MAX_REPORTED {
            damage.push(d);
        }
    };

    // Records up to the newest retention anchor are gone on purpose.
    let db = crate::trail::chain_db(router, chain).await?;
    let start = db
        .table()
        .latest_anchor()
        .await?
        .as_ref()
        .and_then(crate::retention::anchor_start);
    let purged_through = start.as_ref().map(|(s, _)| *s).unwrap_or(0);
    // The database's head, read before the files: the files always hold at least what the
    // database holds (a record is copied only once its file is fsynced), so everything up to
    // this head must be in the files read next, while records written during the check are
    // judged next time. Records beyond it in the files are the copier's lag if they are
    // younger than PENDING, and missing from the database if they are older.
    let db_head = db.table().head().await?.map(|h| h.seq).unwrap_or(0);
    let pending_since = format_timestamp(router.catalog().clock().now() - PENDING);

    // The files, day by day.
    let dir = files::chain_dir(root, chain);
    let days = files::day_files(&dir)?;
    let mut file_records: Vec<(i64, String, String, String)> = Vec::new(); // (seq, hash, location, at)
    let mut walk = Walk::new(&start);
    for (i, path) in days.iter().enumerate() {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("?")
            .to_string();
        let day = name.trim_end_matches(".jsonl").to_string();
        let lines = files::read_lines(path)?;
        let mut count = 0i64;
        let mut last: Option<(i64, String)> = None;
        let mut sealed = false;
        for (n, line) in lines {
            let location = format!("{chain}/{name} line {n}");
            if sealed {
                note(
                    Damage {
                        kind: DamageKind::Inserted,
                        location,
                        detail: "a line follows the day's seal".into(),
                    },
                    &mut damage,
                );
                continue;
            }
            match line {
                Line::Record(r) if r.seq <= purged_through => {
                    // Left over from a purge interrupted before the files went.
                    let _ = r;
                }
                Line::Record(r) => {
                    if let Some(d) = walk.step(&r, format!("{location} (seq {})", r.seq)) {
                        note(d, &mut damage);
                    }
                    if r.day() != day {
                        note(
                            Damage {
                                kind: DamageKind::Reordered,
                                location: location.clone(),
                                detail: format!("a record of {} in the file of {day}", r.day()),
                            },
                            &mut damage,
                        );
                    }
                    count += 1;
                    last = Some((r.seq, r.hash.clone()));
                    file_records.push((r.seq, r.hash.clone(), location, r.at.clone()));
                }
                Line::Seal(s) => {
                    sealed = true;
                    let matches = s.hash == s.compute_hash()
                        && s.day == day
                        && s.count == count
                        && last
                            .as_ref()
                            .is_some_and(|(seq, hash)| *seq == s.last_seq && *hash == s.last_hash);
                    if !matches {
                        note(Damage { kind: DamageKind::BadSeal, location, detail: format!("the seal says {} record(s) ending at seq {}; the file holds {count}", s.count, s.last_seq) }, &mut damage);
                    }
                }
                Line::Garbage(e) => {
                    note(
                        Damage {
                            kind: DamageKind::Unreadable,
                            location,
                            detail: format!("not an audit record: {e}"),
                        },
                        &mut damage,
                    );
                }
            }
        }
        let is_last_day = i + 1 == days.len();
        if !sealed && !is_last_day {
            note(
                Damage {
                    kind: DamageKind::BadSeal,
                    location: format!("{chain}/{name}"),
                    detail: "a closed day's file has no seal".into(),
                },
                &mut damage,
            );
        }
    }

    // The database, in pages, compared with the files as it goes.
    let table = db.table();
    let mut walk = Walk::new(&start);
    let mut after = purged_through;
    let mut db_count = 0i64;
    let mut file_iter = {
        let mut sorted = file_records.clone();
        sorted.sort_by_key(|(seq, _, _, _)| *seq);
        sorted.dedup_by_key(|(seq, _, _, _)| *seq);
        sorted.into_iter().peekable()
    };
    'pages: loop {
        let page = table.scan(after, 5000).await?;
        if page.is_empty() {
            break;
        }
        for r in &page {
            if r.seq > db_head {
                // Written while the files were being read: judged by the next check.
                break 'pages;
            }
            db_count += 1;
            after = r.seq;
            let location = format!("database of {chain}, seq {}", r.seq);
            if let Some(d) = walk.step(r, location.clone()) {
                note(d, &mut damage);
            }
            while let Some((seq, _, loc, _)) = file_iter.peek() {
                if *seq >= r.seq {
                    break;
                }
                note(
                    Damage {
                        kind: DamageKind::MissingInDatabase,
                        location: loc.clone(),
                        detail: format!("seq {seq} is in the file but not in the database"),
                    },
                    &mut damage,
                );
                file_iter.next();
            }
            match file_iter.peek() {
                Some((seq, hash, loc, _)) if *seq == r.seq => {
                    if *hash != r.hash {
                        note(
                            Damage {
                                kind: DamageKind::Mismatch,
                                location: format!("{location} / {loc}"),
                                detail: "the database and the file hold different records".into(),
                            },
                            &mut damage,
                        );
                    }
                    file_iter.next();
                }
                _ => note(
                    Damage {
                        kind: DamageKind::MissingInFile,
                        location: location.clone(),
                        detail: format!("seq {} is in the database but in no file", r.seq),
                    },
                    &mut damage,
                ),
            }
        }
    }
    for (seq, _, loc, at) in file_iter {
        if seq > db_head && at >= pending_since {
            // Not yet copied into the database: the copier runs a moment behind.
            continue;
        }
        note(
            Damage {
                kind: DamageKind::MissingInDatabase,
                location: loc,
                detail: format!("seq {seq} is in the file but not in the database"),
            },
            &mut damage,
        );
    }
    Ok(VerifyReport {
        chain: chain.to_string(),
        database_records: db_count,
        file_records: file_records.len() as i64,
        days: days.len(),
        damage,
    })
}
