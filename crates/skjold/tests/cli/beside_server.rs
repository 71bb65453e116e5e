//! The CLI beside a running server: its changes reach the server.

use crate::common::{assert_signs_in, one_time_password, sign_in, Sandbox, Server, GOOD_PASSWORD};
use serde_json::json;
use std::time::Duration;
use std::time::Instant;

// ---------------------------------------------------------------------------------------
// 8. The CLI beside a running server
// ---------------------------------------------------------------------------------------

#[test]
fn cli_changes_reach_the_running_server() {
    let sandbox = Sandbox::new();
    let mut server = Server::start(&sandbox);
    assert!(server.demo_password().is_some());

    // A tenant made while the server runs is served at once.
    let out = sandbox
        .run(&[
            "tenant", "create", "acme", "--name", "Acme Ltd", "--admin", "boss",
        ])
        .ok();
    let boss_password = one_time_password(&out);
    assert_signs_in(&sandbox, &server, "acme", "boss", &boss_password);

    // A user added while the server runs can sign in, with a piped or a generated password.
    sandbox
        .run_stdin(
            &[
                "user",
                "add",
                "--tenant",
                "acme",
                "alice",
                "--role",
                "read-only",
                "--password-stdin",
            ],
            &format!("{GOOD_PASSWORD}\n"),
        )
        .ok();
    let body = assert_signs_in(&sandbox, &server, "acme", "alice", GOOD_PASSWORD);
    assert_eq!(body["user"]["role"], "read-only");
    assert_eq!(
        body["user"]["rights"],
        json!([
            "companies.read",
            "persons.read",
            "activities.read",
            "sales.read",
            "documents.read"
        ])
    );
    assert_eq!(body["user"]["visibility"], "all");

    let out = sandbox
        .run(&[
            "user", "add", "--tenant", "acme", "carol", "--role", "manager",
        ])
        .ok();
    let carol_password = one_time_password(&out);
    let body = assert_signs_in(&sandbox, &server, "acme", "carol", &carol_password);
    assert_eq!(body["user"]["role"], "manager");

    // Tenants stay apart: alice is unknown in the demo tenant.
    let (status, _) = sign_in(&sandbox, &server, "demo", "alice", GOOD_PASSWORD);
    assert_eq!(status, 401);
    // And an unknown tenant is not found.
    let (status, _) = sign_in(&sandbox, &server, "nope", "alice", GOOD_PASSWORD);
    assert_eq!(status, 404);

    assert_eq!(server.stop().code(), Some(0), "{:#?}", server.stderr);
}

/// `tenant suspend` while the server runs: sign-in is refused with 403 (within the
/// catalog cache's 2 s), and `tenant resume` lets it in again.
#[test]
fn suspension_by_cli_reaches_the_running_server() {
    let sandbox = Sandbox::new();
    sandbox
        .run_stdin(
            &[
                "tenant",
                "create",
                "acme",
                "--name",
                "Acme",
                "--admin",
                "boss",
                "--password-stdin",
            ],
            GOOD_PASSWORD,
        )
        .ok();
    let mut server = Server::start(&sandbox);
    assert_signs_in(&sandbox, &server, "acme", "boss", GOOD_PASSWORD);

    sandbox.run(&["tenant", "suspend", "acme"]).ok();
    let status_within = |want: u16| {
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            let (status, body) = sign_in(&sandbox, &server, "acme", "boss", GOOD_PASSWORD);
            if status == want {
                return body;
            }
            assert!(
                Instant::now() < until,
                "still {status} instead of {want}: {body}"
            );
        }
    };
    let body = status_within(403);
    assert_eq!(body["detail"], "this tenant is suspended", "{body}");

    sandbox.run(&["tenant", "resume", "acme"]).ok();
    status_within(201);
    assert_eq!(server.stop().code(), Some(0));
}
