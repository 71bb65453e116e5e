//! `skjold-bench`: Skjold's performance harness.
//!
//! - `load` fills a tenant with generated, realistic records through the store's write path.
//! - `suite` starts `skjold serve` and measures it (wrk and its own timers), printing a table
//!   and writing JSON; `bench/run` builds and calls it.
//! - `audit-search` fills a tenant's audit trail and times its searches.
//! - `audit-trail` measures what one access record costs the trail in CPU time.
//! - `shipping-lag` measures journal shipping lag under a write load (`bench/run --backup`).
//!
//! Every figure that is compared is compared with a baseline measured in the same run.

mod audit_search;
mod audit_trail;
mod gen;
mod load;
mod names;
mod shipping_lag;
mod stats;
mod suite;
mod trail_env;
mod wrk;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "skjold-bench", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create a tenant (if missing) and fill it with generated records.
    Load(LoadArgs),
    /// Start Skjold and run the measurements (what `bench/run` calls).
    Suite(suite::SuiteArgs),
    /// Fill a tenant's audit trail (default 10 million records) and time its searches.
    AuditSearch(audit_search::AuditSearchArgs),
    /// What one access record costs the audit trail in CPU time, against a baseline.
    AuditTrail(audit_trail::AuditTrailArgs),
    /// Journal shipping lag under a steady write load (what `bench/run --backup` reports).
    ShippingLag(shipping_lag::ShippingLagArgs),
}

#[derive(Debug, Args)]
struct LoadArgs {
    /// Skjold's data dir (SQLite files; the certificate).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// PostgreSQL catalog URL, e.g. postgres://postgres@127.0.0.1:5432/skjold. Unset: SQLite.
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// The tenant to fill; created with an administrator if missing.
    #[arg(long, default_value = "bench")]
    tenant: String,
    #[arg(long, default_value_t = 10_000)]
    persons: u64,
    #[arg(long, default_value_t = 500)]
    companies: u64,
    #[arg(long, default_value_t = 1_000)]
    activities: u64,
    #[arg(long, default_value_t = 200)]
    sales: u64,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Load number within the tenant: each part generates other records (for growing a
    /// tenant step by step), each deterministic.
    #[arg(long, default_value_t = 0)]
    part: u64,
    /// Records per transaction.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Transactions written at once. Default: 1 on SQLite (one writer at a time anyway),
    /// 3 on PostgreSQL.
    #[arg(long)]
    jobs: Option<usize>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Load(args) => run_load(args).await,
            Command::Suite(args) => suite::run(args).await,
            Command::AuditSearch(args) => audit_search::run(args).await,
            Command::AuditTrail(args) => audit_trail::run(args).await,
            Command::ShippingLag(args) => shipping_lag::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run_load(args: LoadArgs) -> anyhow::Result<()> {
    let jobs = args
        .jobs
        .unwrap_or(if args.database_url.is_some() { 3 } else { 1 });
    let opts = load::LoadOptions {
        data_dir: args.data_dir,
        database_url: args.database_url,
        tenant: args.tenant,
        persons: args.persons,
        companies: args.companies,
        activities: args.activities,
        sales: args.sales,
        seed: args.seed,
        part: args.part,
        batch: args.batch,
        jobs,
        progress: !args.json,
    };
    let report = load::load(&opts).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    if report.created_tenant {
        println!(
            "created tenant '{}' with administrator '{}', password '{}'",
            report.tenant, report.admin, report.password
        );
    } else {
        println!(
            "tenant '{}' exists; sign in as '{}' with password '{}' if the loader made it",
            report.tenant, report.admin, report.password
        );
    }
    println!(
        "loaded into '{}' ({}, {} per transaction, {} at once):",
        report.tenant, report.backend, report.batch, report.jobs
    );
    for e in &report.entities {
        println!(
            "  {:<11} {:>10} rows {:>9.1} s {:>10.0} rows/s",
            e.entity, e.rows, e.seconds, e.rows_per_sec
        );
    }
    println!(
        "  {:<11} {:>10} rows {:>9.1} s {:>10.0} rows/s",
        "total", report.rows, report.seconds, report.rows_per_sec
    );
    Ok(())
}
