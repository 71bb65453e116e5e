//! `skjold-bench shipping-lag`: journal shipping lag under a steady write load, on a
//! release build (`bench/run --backup` calls it). The measurement is the backup crate's
//! own (`skjold_backup::lag`), the one its test suite checks; this runs it on a fresh
//! SQLite tenant in the given data dir with both destinations local directories.

use anyhow::Context;
use clap::Args;
use skjold_backup::{BackupSettings, Backups, DestinationSettings};
use skjold_domain::{SharedClock, SystemClock, TenantSlug};
use skjold_store::{Backend, Catalog, NewTenant, TenantRouter};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ShippingLagArgs {
    /// A data dir for the measurement (SQLite; the tenant `lag` is made in it).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// An age public key (`age1…`) to encrypt the segments to.
    #[arg(long)]
    recipient: String,
    /// How long to write.
    #[arg(long, default_value_t = 6)]
    seconds: u64,
    /// The shipping interval, in seconds (`backup.ship_interval_seconds`).
    #[arg(long, default_value_t = 1)]
    interval: u64,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ShippingLagArgs) -> anyhow::Result<()> {
    let backend = Backend::from_config(&args.data_dir, None)?;
    let clock: SharedClock = Arc::new(SystemClock);
    let catalog = Catalog::open(backend, clock.clone())
        .await
        .context("opening the catalog")?;
    let router = Arc::new(TenantRouter::new(catalog, 4));
    let settings = BackupSettings {
        recipients: vec![args.recipient],
        ship_interval_seconds: args.interval,
        destinations: vec![
            DestinationSettings::fs("a", &args.data_dir.join("lag-backups/a")),
            DestinationSettings::fs("b", &args.data_dir.join("lag-backups/b")),
        ],
        ..Default::default()
    };
    let config = settings
        .check(&args.data_dir)
        .map_err(|e| anyhow::anyhow!("backup settings: {e}"))?;
    let backups = Arc::new(Backups::new(config, router.clone(), clock, &args.data_dir)?);
    let slug = TenantSlug::parse("lag").map_err(|e| anyhow::anyhow!("{e}"))?;
    if router.catalog().get(&slug).await?.is_some() {
        anyhow::bail!(
            "tenant 'lag' exists in {}; use a fresh data dir",
            args.data_dir.display()
        );
    }
    router
        .catalog()
        .create(NewTenant {
            slug: slug.clone(),
            display_name: "Shipping lag".into(),
        })
        .await?;
    let (_, db) = router
        .open(&slug)
        .await?
        .context("the new tenant 'lag' cannot be opened")?;
    backups.snapshot(&slug, "initial").await?;
    let lag = skjold_backup::lag::measure_under_write_load(
        backups,
        &db,
        &slug,
        Duration::from_secs(args.seconds),
    )
    .await?;
    router.close_all().await;
    if args.json {
        println!("{}", serde_json::to_string(&lag)?);
    } else {
        println!("{lag}");
    }
    Ok(())
}
