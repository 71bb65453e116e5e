//! `skjold-bench audit-search`: the audit trail's search at scale (claim S33: who accessed the
//! CRM at a given time, found in seconds, over 10 million records).
//!
//! It fills one tenant's audit table with generated, chained records spread over a year and
//! more (written straight into the database copy through the store's insert, which is what
//! the search reads; no day files are written), then times the searches an administrator or
//! auditor runs, through the same store query the API, the web UI and the CLI use.

use crate::stats::{summarize, Summary};
use crate::trail_env::TrailEnv;
use anyhow::Context;
use chrono::{DateTime, Duration as Span, Utc};
use clap::Args;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use skjold_domain::audit::AuditKind;
use skjold_domain::audit::{Draft, GENESIS};
use skjold_domain::clock::format_timestamp;
use skjold_store::{AuditQuery, TenantDb};
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct AuditSearchArgs {
    /// Skjold's data dir (SQLite files).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// PostgreSQL catalog URL, e.g. postgres://postgres@127.0.0.1:5432/skjold. Unset: SQLite.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The tenant whose trail is filled (created if missing).
    #[arg(long, default_value = "audit10m")]
    tenant: String,
    /// Records the trail should hold; only the missing ones are generated.
    #[arg(long, default_value_t = 10_000_000)]
    records: u64,
    /// Days the records are spread over, ending now.
    #[arg(long, default_value_t = 400)]
    days: i64,
    /// Timed searches per kind of search.
    #[arg(long, default_value_t = 50)]
    queries: usize,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Distinct users, addresses and paths in the generated traffic.
const USERS: u64 = 300;
const ADDRESSES: u64 = 2_000;

#[derive(Serialize)]
struct Report {
    backend: &'static str,
    tenant: String,
    records: u64,
    generated: u64,
    generate_seconds: f64,
    rows_per_sec: f64,
    searches: Vec<Timed>,
}

#[derive(Serialize)]
struct Timed {
    search: &'static str,
    latency: Summary,
    mean_results: f64,
}

pub async fn run(args: AuditSearchArgs) -> anyhow::Result<()> {
    let env = TrailEnv::open(&args.data_dir, args.database_url.as_deref()).await?;
    let result = measure(&env, &args).await;
    env.close().await;
    crate::trail_env::emit(&result?, args.json, print)
}

async fn measure(env: &TrailEnv, args: &AuditSearchArgs) -> anyhow::Result<Report> {
    let (router, backend, now) = (&env.router, env.backend, env.clock.now());
    let slug = env.tenant(&args.tenant, "Audit search benchmark").await?;
    let (_, db) = router
        .open(&slug)
        .await?
        .with_context(|| format!("tenant '{slug}' vanished"))?;
    let start = now - Span::days(args.days);
    let span_us = (now - start).num_microseconds().unwrap_or(1).max(1);
    let (generated, secs) = generate(&db, args, start, span_us).await?;
    let total = db.audit().head().await?.map(|h| h.seq).unwrap_or(0) as u64;

    let mut rng = ChaCha8Rng::seed_from_u64(args.seed ^ 0x5eed);
    let mut searches = Vec::new();
    type Make = fn(&mut ChaCha8Rng, DateTime<Utc>, i64) -> AuditQuery;
    let kinds: [(&'static str, Make); 8] = [
        ("newest 100, no filter", |_, _, _| {
            query(None, None, None, None, None)
        }),
        ("10-minute window", |rng, start, span| {
            let from = random_time(rng, start, span);
            query(Some(from), Some(from + Span::minutes(10)), None, None, None)
        }),
        ("1 hour + user", |rng, start, span| {
            let from = random_time(rng, start, span);
            query(
                Some(from),
                Some(from + Span::hours(1)),
                Some(user(rng)),
                None,
                None,
            )
        }),
        ("1 day + address", |rng, start, span| {
            let from = random_time(rng, start, span);
            query(
                Some(from),
                Some(from + Span::days(1)),
                None,
                Some(address(rng)),
                None,
            )
        }),
        ("1 week of failed sign-ins", |rng, start, span| {
            let from = random_time(rng, start, span);
            query(
                Some(from),
                Some(from + Span::days(7)),
                None,
                None,
                Some("auth.sign_in.failed"),
            )
        }),
        ("user, all time", |rng, _, _| {
            query(None, None, Some(user(rng)), None, None)
        }),
        ("address, all time", |rng, _, _| {
            query(None, None, None, Some(address(rng)), None)
        }),
        ("user + address, all time", |rng, _, _| {
            query(None, None, Some(user(rng)), Some(address(rng)), None)
        }),
    ];
    for (name, make) in kinds {
        let mut samples = Vec::with_capacity(args.queries);
        let mut found = 0usize;
        for _ in 0..args.queries {
            let q = make(&mut rng, start, span_us);
            let t = Instant::now();
            let (items, _) = db.audit().search(&q).await?;
            samples.push(t.elapsed());
            found += items.len();
        }
        searches.push(Timed {
            search: name,
            latency: summarize(&samples),
            mean_results: found as f64 / args.queries.max(1) as f64,
        });
    }
    Ok(Report {
        backend,
        tenant: slug.to_string(),
        records: total,
        generated,
        generate_seconds: secs,
        rows_per_sec: if secs > 0.0 {
            generated as f64 / secs
        } else {
            0.0
        },
        searches,
    })
}

fn query(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    user: Option<String>,
    ip: Option<String>,
    kind: Option<&str>,
) -> AuditQuery {
    AuditQuery {
        from: from.map(format_timestamp),
        to: to.map(format_timestamp),
        username: user,
        ip,
        kind: kind.map(str::to_string),
        before: None,
        limit: 100,
    }
}

fn random_time(rng: &mut ChaCha8Rng, start: DateTime<Utc>, span_us: i64) -> DateTime<Utc> {
    start + Span::microseconds(rng.gen_range(0..span_us))
}

fn user(rng: &mut ChaCha8Rng) -> String {
    format!("user{}", rng.gen_range(0..USERS))
}

fn address(rng: &mut ChaCha8Rng) -> String {
    let n = rng.gen_range(0..ADDRESSES);
    format!("198.51.{}.{}", n / 250, n % 250 + 1)
}

/// Appends the records the trail lacks, chained after its head, spread evenly over the span.
async fn generate(
    db: &TenantDb,
    args: &AuditSearchArgs,
    start: DateTime<Utc>,
    span_us: i64,
) -> anyhow::Result<(u64, f64)> {
    let head = db.audit().head().await?;
    let (mut seq, mut prev) = match &head {
        Some(h) => (h.seq, h.hash.clone()),
        None => (0, GENESIS.to_string()),
    };
    let have = seq.max(0) as u64;
    if have >= args.records {
        return Ok((0, 0.0));
    }
    let missing = args.records - have;
    let step = (span_us / args.records as i64).max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(args.seed);
    let chain = args.tenant.clone();
    let started = Instant::now();
    let mut batch = Vec::with_capacity(10_000);
    let mut last_report = Instant::now();
    for i in have..args.records {
        let at = start + Span::microseconds(i as i64 * step);
        let roll: u32 = rng.gen_range(0..1000);
        let username = user(&mut rng);
        let ip = address(&mut rng);
        let draft = if roll < 970 {
            Draft {
                at: format_timestamp(at),
                kind: AuditKind::HttpAccess.into(),
                request_id: Some(format!("{i:016x}")),
                username: Some(username),
                ip: Some(ip),
                method: Some(
                    if roll.is_multiple_of(5) {
                        "POST"
                    } else {
                        "GET"
                    }
                    .into(),
                ),
                path: Some(format!(
                    "/{chain}/api/v1/persons/{}",
                    rng.gen_range(0..100_000)
                )),
                status: Some(if roll.is_multiple_of(50) { 404 } else { 200 }),
                duration_ms: Some(rng.gen_range(1..40)),
                user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Skjold-bench".into()),
                ..Draft::default()
            }
        } else {
            let kind = match roll {
                970..=984 => AuditKind::AuthSignInSucceeded,
                985..=994 => AuditKind::AuthSignInFailed,
                _ => AuditKind::UserChanged,
            };
            Draft {
                at: format_timestamp(at),
                kind: kind.into(),
                username: Some(username),
                ip: Some(ip),
                detail: (kind == AuditKind::AuthSignInFailed)
                    .then(|| serde_json::json!({"reason": "wrong_password"})),
                ..Draft::default()
            }
        };
        seq += 1;
        let record = draft.seal(&chain, seq, &prev);
        prev = record.hash.clone();
        batch.push(record);
        if batch.len() == 10_000 {
            db.audit().insert(&batch).await?;
            batch.clear();
            if !args.json && last_report.elapsed() > Duration::from_secs(10) {
                eprintln!(
                    "  {} of {missing} records ({:.0}/s)",
                    i + 1 - have,
                    (i + 1 - have) as f64 / started.elapsed().as_secs_f64()
                );
                last_report = Instant::now();
            }
        }
    }
    if !batch.is_empty() {
        db.audit().insert(&batch).await?;
    }
    Ok((missing, started.elapsed().as_secs_f64()))
}

fn print(r: &Report) {
    println!(
        "audit trail of '{}' on {}: {} records ({} generated in {:.0} s, {:.0} rows/s)",
        r.tenant, r.backend, r.records, r.generated, r.generate_seconds, r.rows_per_sec
    );
    println!(
        "  {:<28} {:>8} {:>8} {:>8} {:>9}",
        "search (100 newest matches)", "p50 ms", "p99 ms", "max ms", "results"
    );
    for t in &r.searches {
        println!(
            "  {:<28} {:>8.2} {:>8.2} {:>8.2} {:>9.1}",
            t.search, t.latency.p50_ms, t.latency.p99_ms, t.latency.max_ms, t.mean_results
        );
    }
}
