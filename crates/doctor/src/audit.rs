//! The audit chains: the same verification as `skjold audit verify` and the daily job
//! (`skjold_audit::verify_chain`), over every chain.

use crate::{Finding, Installation, Severity};
use skjold_domain::audit::SYSTEM_CHAIN;

pub(crate) async fn check(inst: &Installation<'_>) -> Vec<Finding> {
    const CHECK: &str = "audit.chains";
    let root = skjold_audit::logs_root(inst.data_dir);
    let mut chains = vec![SYSTEM_CHAIN.to_string()];
    match inst.router.catalog().list().await {
        Ok(tenants) => chains.extend(tenants.into_iter().map(|t| t.slug.as_str().to_string())),
        Err(e) => {
            return vec![Finding::new(
                CHECK,
                Severity::Error,
                format!("cannot list the tenants: {e}"),
                "check that the catalog database is reachable",
            )]
        }
    }
    let mut out = Vec::new();
    let mut records = 0;
    for chain in &chains {
        match skjold_audit::verify_chain(inst.router, &root, chain).await {
            Ok(report) if report.ok() => records += report.database_records,
            Ok(report) => {
                let first = &report.damage[0];
                out.push(Finding::new(
                    CHECK,
                    Severity::Error,
                    format!(
                        "the audit chain '{chain}' is damaged: {} at {} ({} problems)",
                        first.detail,
                        first.location,
                        report.damage.len()
                    ),
                    format!("run `skjold audit verify --tenant {chain}` for every problem, and treat it as a security incident (docs/audit.md#verification)"),
                ));
            }
            Err(e) => out.push(Finding::new(
                CHECK,
                Severity::Error,
                format!("the audit chain '{chain}' cannot be read: {e}"),
                "check the database and data_dir/logs/audit/",
            )),
        }
    }
    if out.is_empty() {
        out.push(Finding::ok(
            CHECK,
            format!("{} audit chains intact ({records} records)", chains.len()),
        ));
    }
    out
}
