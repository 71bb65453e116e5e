//! `skjold audit …`: the operator's reads are recorded in the audit trail.

use crate::common::Sandbox;
use serde_json::Value;

#[test]
fn operator_reads_are_recorded_in_the_audit_trail() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "tenant", "create", "acme", "--name", "Acme", "--admin", "boss",
        ])
        .ok();
    sandbox.tenants(); // tenant list --json
    sandbox.users("acme"); // user list --json
    sandbox
        .run(&[
            "audit",
            "search",
            "--tenant",
            "acme",
            "--event",
            "user.created",
        ])
        .ok();
    sandbox.run(&["audit", "verify"]).ok();

    let events = |args: &[&str]| -> Vec<Value> {
        let out = sandbox.run(args).ok();
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
            .collect()
    };
    let system = events(&["audit", "search", "--system", "--json"]);
    let kinds: Vec<&str> = system.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"tenant.listed"), "{kinds:?}");
    assert!(kinds.contains(&"audit.verified"), "{kinds:?}");
    let acme = events(&["audit", "search", "--tenant", "acme", "--json"]);
    let listed = acme
        .iter()
        .find(|r| r["kind"] == "user.listed")
        .expect("user list is recorded in the tenant's trail");
    assert_eq!(listed["username"], "operator");
    assert_eq!(listed["detail"]["via"], "cli");
    let searched = acme
        .iter()
        .find(|r| r["kind"] == "audit.searched")
        .expect("an audit search is itself recorded");
    assert_eq!(searched["detail"]["event"], "user.created");
    // Everything written by these short-lived processes is in both sinks.
    sandbox.run(&["audit", "verify", "--tenant", "acme"]).ok();
}
