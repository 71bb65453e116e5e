//! `skjold doctor`: checks the installation and prints each finding with its fix. The
//! checks live in `skjold_doctor`; this gathers what they look at and prints.

use anyhow::{bail, Context};
use clap::Args;
use skjold_doctor::{Finding, Installation, Severity, TlsFiles};
use skjold_domain::{SharedClock, SystemClock};
use skjold_server::Config;
use skjold_store::{Catalog, TenantRouter};
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub(super) struct DoctorArgs {
    /// Print a JSON array of findings ({check, severity, finding, fix}).
    #[arg(long)]
    json: bool,
    /// An offline copy of the RustSec advisory database, to check the shipped dependencies.
    #[arg(long, value_name = "PATH")]
    advisory_db: Option<PathBuf>,
}

pub(super) async fn doctor(config: Config, args: DoctorArgs) -> anyhow::Result<()> {
    let clock: SharedClock = Arc::new(SystemClock);
    let now = clock.now();
    let catalog = Catalog::open(config.backend()?, clock)
        .await
        .context("opening the catalog database")?;
    let router = TenantRouter::new(catalog, 4);
    let tls = match (&config.tls_cert, &config.tls_key) {
        (Some(cert), Some(key)) => TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
            generated: false,
        },
        _ => {
            let (cert, key) = skjold_server::tls::self_signed_paths(&config.data_dir);
            TlsFiles {
                cert,
                key,
                generated: true,
            }
        }
    };
    let public_url = config.public_url.as_ref().map(|u| u.to_string());
    let inst = Installation {
        data_dir: &config.data_dir,
        tls,
        public_url: public_url.as_deref(),
        backup: &config.backup,
        min_free_bytes: config.audit_min_free_mb.saturating_mul(1024 * 1024),
        min_free_percent: config.audit_min_free_percent,
        router: &router,
        now,
        advisory_db: args.advisory_db.as_deref(),
    };
    let findings = skjold_doctor::examine(&inst).await;
    router.close_all().await;
    router.catalog().close().await;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&findings)?);
    } else {
        print_findings(&findings);
    }
    let errors = count(&findings, Severity::Error);
    if errors > 0 {
        bail!("skjold doctor found {errors} error(s)");
    }
    Ok(())
}

fn count(findings: &[Finding], severity: Severity) -> usize {
    findings.iter().filter(|f| f.severity == severity).count()
}

fn print_findings(findings: &[Finding]) {
    for f in findings {
        println!(
            "{:<7} {:<22} {}",
            f.severity.as_str().to_uppercase(),
            f.check,
            f.finding
        );
        if f.severity >= Severity::Warning {
            println!("{:<7} {:<22} fix: {}", "", "", f.fix);
        }
    }
    println!(
        "{} errors, {} warnings, {} ok",
        count(findings, Severity::Error),
        count(findings, Severity::Warning),
        count(findings, Severity::Ok)
    );
}
