//! `skjold maintenance`, `incident`, `status` and `operator token`: the operators' side of
//! the status page at the command line, with its refusals.

use crate::common::Sandbox;
use chrono::{Duration, SecondsFormat};
use serde_json::Value;
use skjold_domain::Clock;

/// `hours` from now by the clock the command line runs on (the system's).
fn ahead(hours: i64) -> String {
    (skjold_domain::SystemClock.now() + Duration::hours(hours))
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[test]
fn maintenance_needs_a_days_notice_or_an_emergency_with_its_reason() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "maintenance",
            "schedule",
            "--start",
            &ahead(23),
            "--end",
            &ahead(24),
            "--summary",
            "Upgrade",
        ])
        .fails_with(&["starts_at", "at least 24 hours ahead"]);
    sandbox
        .run(&[
            "maintenance",
            "schedule",
            "--start",
            &ahead(1),
            "--end",
            &ahead(2),
            "--summary",
            "Patch",
            "--emergency",
        ])
        .fails_with(&["reason"]);
    sandbox
        .run(&[
            "maintenance",
            "schedule",
            "--start",
            "tomorrow",
            "--end",
            &ahead(30),
            "--summary",
            "x",
        ])
        .fails_with(&["--start", "RFC 3339"]);
    sandbox
        .run(&[
            "maintenance",
            "schedule",
            "--start",
            &ahead(25),
            "--end",
            &ahead(26),
            "--summary",
            "x",
            "--components",
            "dns",
        ])
        .fails_with(&["unknown component 'dns'", "sign-in"]);

    let out = sandbox
        .run(&[
            "maintenance",
            "schedule",
            "--start",
            &ahead(25),
            "--end",
            &ahead(27),
            "--summary",
            "Database upgrade",
            "--components",
            "database",
            "--json",
        ])
        .ok();
    let window: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(window["components"], serde_json::json!(["database"]));
    sandbox
        .run(&[
            "maintenance",
            "schedule",
            "--start",
            &ahead(1),
            "--end",
            &ahead(2),
            "--summary",
            "Security patch",
            "--emergency",
            "--reason",
            "remote exploit",
        ])
        .ok();

    let out = sandbox.run(&["maintenance", "list", "--json"]).ok();
    let list: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(list.len(), 2);
    assert!(list.iter().all(|w| w["state"] == "scheduled"));
    let emergency = list
        .iter()
        .find(|w| w["window"]["emergency"] == true)
        .unwrap();
    assert_eq!(emergency["window"]["reason"], "remote exploit");

    let id = window["id"].as_str().unwrap();
    let out = sandbox.run(&["maintenance", "cancel", id]).ok();
    assert!(out.stdout.contains("cancelled"), "{out:?}");
    sandbox
        .run(&["maintenance", "cancel", id])
        .fails_with(&["already cancelled"]);
    sandbox
        .run(&["maintenance", "cancel", "no-such-id"])
        .fails_with(&["no such maintenance window"]);

    // Each announcement and the cancellation are in the installation's trail.
    let out = sandbox
        .run(&[
            "audit",
            "search",
            "--system",
            "--event",
            "ops.maintenance.scheduled",
            "--json",
        ])
        .ok();
    assert_eq!(
        out.stdout.matches("ops.maintenance.scheduled").count(),
        2,
        "{out:?}"
    );
}

#[test]
fn incidents_move_through_their_lifecycle_and_resolved_is_final() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run(&[
            "incident",
            "open",
            "--title",
            "Slow sign-in",
            "--impact",
            "degraded",
            "--components",
            "sign-in",
            "--message",
            "Looking into it",
            "--json",
        ])
        .ok();
    let incident: Value = serde_json::from_str(&out.stdout).unwrap();
    let id = incident["id"].as_str().unwrap().to_string();
    sandbox
        .run(&[
            "incident",
            "update",
            &id,
            "--status",
            "resolved",
            "--message",
            "Fixed",
        ])
        .ok();
    sandbox
        .run(&[
            "incident",
            "update",
            &id,
            "--status",
            "monitoring",
            "--message",
            "?",
        ])
        .fails_with(&["resolved"]);
    sandbox
        .run(&[
            "incident",
            "open",
            "--title",
            "x",
            "--impact",
            "fine",
            "--message",
            "m",
        ])
        .fails_with(&["unknown state 'fine'"]);
    let review = sandbox.root().join("review.md");
    std::fs::write(&review, "What happened, why, and what changes.").unwrap();
    sandbox
        .run(&[
            "incident",
            "review",
            &id,
            "--file",
            review.to_str().unwrap(),
        ])
        .ok();
    let out = sandbox.run(&["incident", "show", &id]).ok();
    assert!(out.stdout.contains("investigating") && out.stdout.contains("resolved"));
    assert!(out.stdout.contains("What happened"));

    let out = sandbox.run(&["status", "show", "--json"]).ok();
    let status: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(status["incidents"][0]["status"], "resolved");
    sandbox
        .run(&[
            "status",
            "set",
            "backups",
            "--state",
            "degraded",
            "--reason",
            "slow disk",
        ])
        .ok();
    let out = sandbox.run(&["status", "show"]).ok();
    assert!(out.stdout.contains("degraded"), "{out:?}");
    sandbox.run(&["status", "clear", "backups"]).ok();
    sandbox
        .run(&["status", "clear", "backups"])
        .fails_with(&["no override"]);
}

#[test]
fn operator_tokens_are_shown_once_listed_without_secret_and_revoked() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run(&["operator", "token", "create", "--name", "monitoring"])
        .ok();
    let secret = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("secret (shown once): "))
        .expect("the secret is printed")
        .to_string();
    assert!(secret.starts_with("skjop_"));
    sandbox
        .run(&["operator", "token", "create", "--name", "monitoring"])
        .fails_with(&["already named 'monitoring'"]);
    sandbox
        .run(&["operator", "token", "create", "--name", "bad name!"])
        .fails_with(&["name"]);
    let out = sandbox.run(&["operator", "token", "list", "--json"]).ok();
    assert!(
        !out.stdout.contains(&secret),
        "the secret is never shown again"
    );
    let tokens: Vec<Value> = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(tokens[0]["name"], "monitoring");
    sandbox
        .run(&["operator", "token", "revoke", "monitoring"])
        .ok();
    sandbox
        .run(&["operator", "token", "revoke", "monitoring"])
        .fails_with(&["no active operator token"]);
}
