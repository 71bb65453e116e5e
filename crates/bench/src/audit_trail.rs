//! `skjold-bench audit-trail`: what one access record costs the trail, in CPU time, measured
//! inside one process.
//!
//! The end-to-end figure (`bench/run --audit`, `bench/audit-cpu`) compares two server
//! binaries under wrk, and on a shared two-core machine each start of a binary runs at its
//! own speed: differences of a few microseconds a request drown in that noise. This measures
//! the trail alone. Tasks record access records as a request would (the same draft the
//! access layer builds), as fast as they can, and the process's CPU time is read before and
//! after, including the copier's fsyncs and database copy (the run ends with a flush). A
//! baseline in the same process builds the same drafts and drops them; the two alternate
//! for a number of rounds so that drift hits both alike. The figure is the difference, per
//! record.

use crate::trail_env::TrailEnv;
use anyhow::Context;
use clap::Args;
use serde::Serialize;
use skjold_audit::AuditTrail;
use skjold_domain::audit::{AuditKind, Draft};
use skjold_domain::clock::format_timestamp;
use skjold_domain::SharedClock;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct AuditTrailArgs {
    /// Skjold's data dir (SQLite files and the audit day files).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// PostgreSQL catalog URL, e.g. postgres://postgres@127.0.0.1:5432/skjold. Unset: SQLite.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The tenant whose trail takes the records (created if missing).
    #[arg(long, default_value = "trailbench")]
    tenant: String,
    /// Records per measured run.
    #[arg(long, default_value_t = 100_000)]
    records: u64,
    /// Tasks recording at once (requests in flight).
    #[arg(long, default_value_t = 16)]
    tasks: u64,
    /// Rounds of baseline and trail, in turns.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Serialize)]
struct Report {
    backend: &'static str,
    records_per_run: u64,
    tasks: u64,
    rounds: u32,
    /// CPU time per record of the baseline (building the drafts only), in µs.
    baseline_cpu_us: f64,
    /// CPU time per record with the trail, fsyncs and database copy included, in µs.
    trail_cpu_us: f64,
    /// The difference: what the trail costs per record.
    trail_cost_us: f64,
    /// Records per second through the trail (wall clock, flush included).
    trail_records_per_sec: f64,
    runs: Vec<Run>,
}

#[derive(Serialize, Clone, Copy)]
struct Run {
    round: u32,
    trail: bool,
    cpu_us_per_record: f64,
    records_per_sec: f64,
}

pub async fn run(args: AuditTrailArgs) -> anyhow::Result<()> {
    let env = TrailEnv::open(&args.data_dir, args.database_url.as_deref()).await?;
    let result = measure(&env, &args).await;
    env.close().await;
    crate::trail_env::emit(&result?, args.json, print)
}

async fn measure(env: &TrailEnv, args: &AuditTrailArgs) -> anyhow::Result<Report> {
    anyhow::ensure!(
        args.records > 0 && args.tasks > 0,
        "--records and --tasks must be above 0"
    );
    let (audit, clock) = (&env.audit, &env.clock);
    let slug = env.tenant(&args.tenant, "Audit trail benchmark").await?;
    // A first, unmeasured run: the chain's files are read, the database's pages cached.
    one_run(
        audit,
        clock,
        slug.as_str(),
        args.records / 10 + 1,
        args.tasks,
        true,
    )
    .await?;
    let mut runs = Vec::new();
    for round in 1..=args.rounds {
        for trail in [false, true] {
            let run = one_run(audit, clock, slug.as_str(), args.records, args.tasks, trail).await?;
            if !args.json {
                eprintln!(
                    "  round {round} {:<8} {:7.2} µs CPU a record, {:9.0} records/s",
                    if trail { "trail" } else { "baseline" },
                    run.0,
                    run.1
                );
            }
            runs.push(Run {
                round,
                trail,
                cpu_us_per_record: run.0,
                records_per_sec: run.1,
            });
        }
    }
    let mean = |trail: bool, f: fn(&Run) -> f64| {
        let chosen: Vec<f64> = runs.iter().filter(|r| r.trail == trail).map(f).collect();
        chosen.iter().sum::<f64>() / chosen.len().max(1) as f64
    };
    let baseline_cpu_us = mean(false, |r| r.cpu_us_per_record);
    let trail_cpu_us = mean(true, |r| r.cpu_us_per_record);
    Ok(Report {
        backend: env.backend,
        records_per_run: args.records,
        tasks: args.tasks,
        rounds: args.rounds,
        baseline_cpu_us,
        trail_cpu_us,
        trail_cost_us: trail_cpu_us - baseline_cpu_us,
        trail_records_per_sec: mean(true, |r| r.records_per_sec),
        runs,
    })
}

/// Records `records` access records from `tasks` tasks (or only builds them, for the
/// baseline) and flushes; returns the process's CPU µs per record and records per second.
async fn one_run(
    audit: &AuditTrail,
    clock: &SharedClock,
    chain: &str,
    records: u64,
    tasks: u64,
    trail: bool,
) -> anyhow::Result<(f64, f64)> {
    let cpu_before = process_cpu_seconds()?;
    let started = Instant::now();
    let mut workers = Vec::new();
    for task in 0..tasks {
        let (audit, clock, chain) = (audit.clone(), clock.clone(), chain.to_string());
        let share = records / tasks + u64::from(task < records % tasks);
        workers.push(tokio::spawn(async move {
            for i in 0..share {
                let draft = access_draft(&clock, task, i);
                if trail {
                    audit.record(&chain, draft).await?;
                } else {
                    std::hint::black_box(draft);
                }
            }
            Ok::<(), skjold_audit::AuditError>(())
        }));
    }
    for w in workers {
        w.await.context("a recording task panicked")??;
    }
    if trail {
        audit.flush().await?;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = process_cpu_seconds()? - cpu_before;
    Ok((cpu * 1e6 / records as f64, records as f64 / wall))
}

/// The draft the access layer makes for an authenticated `GET` of a person.
fn access_draft(clock: &SharedClock, task: u64, i: u64) -> Draft {
    Draft {
        at: format_timestamp(clock.now()),
        kind: AuditKind::HttpAccess.into(),
        request_id: Some(format!("01JBENCH{task:04}{i:014}")),
        user_id: Some("01JBENCHUSER00000000000000".to_string()),
        username: Some(crate::load::ADMIN.to_string()),
        ip: Some("127.0.0.1".to_string()),
        method: Some("GET".to_string()),
        path: Some("/trailbench/api/v1/persons/01JBENCHPERSON000000000000".to_string()),
        status: Some(200),
        duration_ms: Some(0),
        bytes: Some(412),
        user_agent: Some("wrk/4.2.0".to_string()),
        detail: None,
    }
}

/// User and system CPU time of this process (all threads) so far, from `/proc/self/stat`.
fn process_cpu_seconds() -> anyhow::Result<f64> {
    let text = std::fs::read_to_string("/proc/self/stat").context("reading /proc/self/stat")?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let after = text
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .context("unexpected /proc stat format")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        Ok(fields
            .get(i)
            .context("unexpected /proc stat format")?
            .parse::<f64>()?)
    };
    // utime and stime are the 14th and 15th fields, the 12th and 13th after the name.
    Ok((ticks(11)? + ticks(12)?) / CLOCK_TICKS_PER_SECOND)
}

/// `sysconf(_SC_CLK_TCK)`, which Linux fixes at 100 for user space.
const CLOCK_TICKS_PER_SECOND: f64 = 100.0;

fn print(r: &Report) {
    println!(
        "audit trail on {}: {} records a run from {} tasks, {} rounds",
        r.backend, r.records_per_run, r.tasks, r.rounds
    );
    println!(
        "  baseline (drafts only) {:7.2} µs CPU a record",
        r.baseline_cpu_us
    );
    println!(
        "  with the trail         {:7.2} µs CPU a record ({:.0} records/s)",
        r.trail_cpu_us, r.trail_records_per_sec
    );
    println!(
        "  the trail's cost       {:7.2} µs CPU a record",
        r.trail_cost_us
    );
}
