//! Clock skew: this machine's clock against the newest audit record (a record later than
//! now means the clock went back, or another node's runs ahead) and, on PostgreSQL, against
//! the database server's clock. TOTP codes, session ends, lockouts, backups' ages and the
//! audit trail's order all read the clock.

use crate::{Finding, Installation, Severity};
use chrono::{DateTime, Duration, Utc};
use skjold_domain::audit::SYSTEM_CHAIN;
use skjold_domain::clock::parse_timestamp;
use skjold_store::AuditQuery;

/// More than this apart is a finding.
pub const MAX_SKEW_SECONDS: i64 = 120;

pub(crate) async fn check(inst: &Installation<'_>) -> Vec<Finding> {
    const CHECK: &str = "clock.skew";
    let fix = "synchronise the clock with NTP (systemd-timesyncd or chrony) on this machine and the database server";
    let mut out = Vec::new();
    let limit = Duration::seconds(MAX_SKEW_SECONDS);
    match newest_audit_record(inst).await {
        Ok(Some((chain, at))) if at - inst.now > limit => out.push(Finding::new(
            CHECK,
            Severity::Error,
            format!(
                "the newest audit record ({chain}, {}) is {} s later than this machine's clock ({}): the clock went back or runs behind",
                at.format("%Y-%m-%dT%H:%M:%SZ"),
                (at - inst.now).num_seconds(),
                inst.now.format("%Y-%m-%dT%H:%M:%SZ")
            ),
            fix,
        )),
        Ok(_) => {}
        Err(e) => out.push(Finding::new(
            CHECK,
            Severity::Warning,
            format!("cannot read the newest audit record: {e}"),
            "check that the databases are reachable",
        )),
    }
    match inst.router.catalog().database_time().await {
        Ok(Some(text)) => match parse_timestamp(&text) {
            Some(db) if (db - inst.now).abs() > limit => out.push(Finding::new(
                CHECK,
                Severity::Error,
                format!(
                    "the database server's clock is {} s {} this machine's",
                    (db - inst.now).num_seconds().abs(),
                    if db > inst.now { "ahead of" } else { "behind" }
                ),
                fix,
            )),
            Some(_) => {}
            None => out.push(Finding::new(
                CHECK,
                Severity::Warning,
                format!("the database server's time '{text}' cannot be read"),
                "nothing to do if the rest works; report it",
            )),
        },
        Ok(None) => {}
        Err(e) => out.push(Finding::new(
            CHECK,
            Severity::Warning,
            format!("cannot read the database server's clock: {e}"),
            "check that the database is reachable",
        )),
    }
    if out.is_empty() {
        out.push(Finding::ok(
            CHECK,
            format!("no audit record is later than this machine's clock (and a PostgreSQL server's clock agrees with it) within {MAX_SKEW_SECONDS} s"),
        ));
    }
    out
}

/// The newest record's time over every chain.
async fn newest_audit_record(
    inst: &Installation<'_>,
) -> Result<Option<(String, DateTime<Utc>)>, skjold_store::StoreError> {
    let q = AuditQuery {
        limit: 1,
        ..AuditQuery::default()
    };
    let catalog = inst.router.catalog();
    let mut newest: Option<(String, DateTime<Utc>)> = None;
    let mut consider = |chain: &str, records: Vec<skjold_domain::audit::AuditRecord>| {
        if let Some(at) = records.first().and_then(|r| parse_timestamp(&r.at)) {
            if newest.as_ref().is_none_or(|(_, n)| at > *n) {
                newest = Some((chain.to_string(), at));
            }
        }
    };
    consider(SYSTEM_CHAIN, catalog.audit().search(&q).await?.0);
    for tenant in catalog.list().await? {
        if let Some((_, db)) = inst.router.open(&tenant.slug).await? {
            consider(tenant.slug.as_str(), db.audit().search(&q).await?.0);
        }
    }
    Ok(newest)
}
