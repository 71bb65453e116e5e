//! `skjold user …`: add, list, reset a password, end sessions, invite, and a service
//! user's API tokens.

use crate::common::{
    assert_signs_in, one_time_password, sign_in, sorted_keys, squash, Out, Sandbox, Server,
    GOOD_PASSWORD,
};
use serde_json::Value;

// ---------------------------------------------------------------------------------------
// 4. user add / list
// ---------------------------------------------------------------------------------------

#[test]
fn user_add_then_list_shows_the_role() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let out = sandbox
        .run(&[
            "user",
            "add",
            "--tenant",
            "acme",
            "alice",
            "--role",
            "read-only",
        ])
        .ok();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 2, "{out:#?}");
    assert_eq!(lines[0], "added user 'alice' (read-only) to tenant 'acme'");
    one_time_password(&out);

    let users = sandbox.users("acme");
    assert_eq!(users.len(), 2, "{users:?}");
    let alice = users
        .iter()
        .find(|u| u["username"] == "alice")
        .expect("alice is listed");
    assert_eq!(
        sorted_keys(alice),
        [
            "created_at",
            "display_name",
            "email",
            "id",
            "kind",
            "phone",
            "role",
            "status",
            "updated_at",
            "username"
        ]
    );
    assert_eq!(alice["role"], "read-only");
    assert_eq!(alice["status"], "active");
    assert!(
        alice["id"].as_str().is_some_and(|id| id.len() == 36),
        "{alice}"
    );
    // The listing never shows password hashes.
    let raw = sandbox
        .run(&["user", "list", "--tenant", "acme", "--json"])
        .ok();
    assert!(
        !raw.stdout.contains("argon2") && !raw.stdout.contains("password"),
        "{raw:#?}"
    );

    // The human table.
    let table = sandbox.run(&["user", "list", "--tenant", "acme"]).ok();
    let lines = table.stdout_lines();
    assert_eq!(lines.len(), 3, "{table:#?}");
    assert_eq!(squash(lines[0]), "USERNAME ROLE STATUS KIND ID");
    let row = lines
        .iter()
        .find(|l| l.starts_with("alice "))
        .expect("an alice row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells[..4], ["alice", "read-only", "active", "person"]);
    assert_eq!(cells[4], alice["id"]);
}

#[test]
fn every_role_can_be_given() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    for role in ["administrator", "manager", "user", "read-only"] {
        let name = format!("u-{role}");
        sandbox
            .run(&["user", "add", "--tenant", "acme", &name, "--role", role])
            .ok();
        let users = sandbox.users("acme");
        let user = users
            .iter()
            .find(|u| u["username"] == name.as_str())
            .expect("listed");
        assert_eq!(user["role"], role);
    }
}

#[test]
fn user_add_refuses_unknown_role_unknown_tenant_and_duplicates() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    sandbox
        .run(&["user", "add", "--tenant", "acme", "alice", "--role", "user"])
        .ok();

    let out = sandbox.run(&["user", "add", "--tenant", "acme", "bob", "--role", "root"]);
    assert_eq!(
        out.fails(),
        "error: there is no role 'root'; `skjold role list --tenant acme` lists the roles"
    );

    let out = sandbox.run(&["user", "add", "--tenant", "nope", "bob", "--role", "user"]);
    assert_eq!(out.fails(), "error: no tenant 'nope'");
    assert_eq!(
        sandbox.tenant_slugs(),
        ["acme"],
        "no tenant appears by accident"
    );
    assert!(!sandbox.data().join("tenants").join("nope").exists());

    let out = sandbox.run(&[
        "user", "add", "--tenant", "acme", "alice", "--role", "manager",
    ]);
    assert_eq!(out.fails(), "error: the username 'alice' is taken");
    // Usernames are case-insensitive.
    let out = sandbox.run(&[
        "user", "add", "--tenant", "acme", "ALICE", "--role", "manager",
    ]);
    assert_eq!(out.fails(), "error: the username 'alice' is taken");

    let out = sandbox.run(&[
        "user", "add", "--tenant", "acme", "bad user", "--role", "user",
    ]);
    out.fails_with(&["username", "letters, digits"]);

    let out = sandbox.run(&["user", "add", "--tenant", "Acme", "bob", "--role", "user"]);
    out.fails_with(&["tenant 'Acme'", "lowercase letters"]);

    // Nothing changed: alice is still a plain user, and no one else was added.
    let users = sandbox.users("acme");
    let names: Vec<&str> = users
        .iter()
        .filter_map(|u| u["username"].as_str())
        .collect();
    assert_eq!(names.len(), 2, "{users:?}");
    assert!(
        names.contains(&"alice") && names.contains(&"boss"),
        "{names:?}"
    );
    let alice = users
        .iter()
        .find(|u| u["username"] == "alice")
        .expect("alice");
    assert_eq!(alice["role"], "user");
}

#[test]
fn user_list_of_unknown_tenant_fails() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["user", "list", "--tenant", "nope"]);
    assert_eq!(out.fails(), "error: no tenant 'nope'");
    let out = sandbox.run(&["user", "list", "--tenant", "nope", "--json"]);
    assert_eq!(out.fails(), "error: no tenant 'nope'");
}

/// `skjold user password` resets a person's password under the tenant's policy (made and
/// printed once, or read from standard input) and ends their sessions; `skjold user
/// end-sessions` ends them alone. Both are recorded as the operator's.
#[test]
fn operator_resets_a_password_and_ends_sessions() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let out = sandbox
        .run(&["user", "add", "--tenant", "acme", "alice", "--role", "user"])
        .ok();
    let first = one_time_password(&out);
    let mut server = Server::start(&sandbox);
    assert_signs_in(&sandbox, &server, "acme", "alice", &first);
    assert_signs_in(&sandbox, &server, "acme", "alice", &first);

    let out = sandbox
        .run(&["user", "password", "--tenant", "acme", "alice"])
        .ok();
    assert_eq!(
        out.stdout_lines()[0],
        "password of 'alice' in tenant 'acme' reset; their sessions ended"
    );
    let second = one_time_password(&out);
    assert_ne!(first, second);
    assert_eq!(sign_in(&sandbox, &server, "acme", "alice", &first).0, 401);
    // The reset ended both sessions: nothing is left to end.
    let out = sandbox
        .run(&["user", "end-sessions", "--tenant", "acme", "alice"])
        .ok();
    assert_eq!(
        out.stdout,
        "ended 0 session(s) of 'alice' in tenant 'acme'; revoked 0 API token(s) and 0 open \
         invitation(s)\n"
    );
    assert_signs_in(&sandbox, &server, "acme", "alice", &second);
    let out = sandbox
        .run(&["user", "end-sessions", "--tenant", "acme", "alice"])
        .ok();
    assert_eq!(
        out.stdout,
        "ended 1 session(s) of 'alice' in tenant 'acme'; revoked 0 API token(s) and 0 open \
         invitation(s)\n"
    );

    // A chosen password meets the tenant's policy, and the refusal names the rule.
    let chosen = [
        "user",
        "password",
        "--tenant",
        "acme",
        "alice",
        "--password-stdin",
    ];
    sandbox.run_stdin(&chosen, "elevenchars\n").fails_with(&[
        "password",
        "at least 12 characters",
        "min_length",
    ]);
    let out = sandbox
        .run_stdin(&chosen, &format!("{GOOD_PASSWORD}\n"))
        .ok();
    assert!(!out.stdout.contains("one-time password"), "{out:#?}");
    assert_signs_in(&sandbox, &server, "acme", "alice", GOOD_PASSWORD);

    // Nobody by that name; a service user has no password.
    sandbox
        .run(&["user", "password", "--tenant", "acme", "nobody"])
        .fails_with(&["no user 'nobody'"]);
    sandbox
        .run(&[
            "user",
            "add",
            "--tenant",
            "acme",
            "sync",
            "--role",
            "read-only",
            "--service",
        ])
        .ok();
    sandbox
        .run(&["user", "password", "--tenant", "acme", "sync"])
        .fails_with(&["service user has no password"]);
    assert!(server.stop().success());

    let out = sandbox
        .run(&["audit", "search", "--tenant", "acme", "--json"])
        .ok();
    let kinds: Vec<(String, String)> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["username"] == "operator")
        .map(|r| {
            (
                r["kind"].as_str().unwrap().to_string(),
                r["detail"]["via"].to_string(),
            )
        })
        .collect();
    let count = |kind: &str| kinds.iter().filter(|(k, _)| k == kind).count();
    assert_eq!(count("user.password_reset"), 2, "{kinds:?}");
    assert_eq!(count("user.sessions_revoked"), 2, "{kinds:?}");
    assert!(
        kinds
            .iter()
            .filter(|(k, _)| k == "user.password_reset" || k == "user.sessions_revoked")
            .all(|(_, via)| via == "\"cli\""),
        "{kinds:?}"
    );
}

#[test]
fn invitations_and_service_user_tokens() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");

    // A person invited instead of given a password: the link is printed once.
    let out = sandbox
        .run(&[
            "user", "add", "--tenant", "acme", "ivy", "--role", "user", "--invite",
        ])
        .ok();
    let link = |out: &Out| -> String {
        out.stdout
            .split_whitespace()
            .find(|w| w.contains("/acme/invite/skj_"))
            .unwrap_or_else(|| panic!("no invitation link in {out:#?}"))
            .to_string()
    };
    let first = link(&out);
    assert!(!out.stdout.contains("one-time password"), "{out:#?}");
    let again = sandbox
        .run(&["user", "invite", "--tenant", "acme", "ivy"])
        .ok();
    assert_ne!(link(&again), first, "a new invitation has a new link");

    // A service user: no password, tokens made by the operator.
    let out = sandbox
        .run(&[
            "user",
            "add",
            "--tenant",
            "acme",
            "crm-sync",
            "--role",
            "read-only",
            "--service",
        ])
        .ok();
    assert!(out.stdout.contains("service user 'crm-sync'"), "{out:#?}");
    let users = sandbox.users("acme");
    let bot = users.iter().find(|u| u["username"] == "crm-sync").unwrap();
    assert_eq!(bot["kind"], "service");
    sandbox
        .run(&["user", "invite", "--tenant", "acme", "crm-sync"])
        .fails_with(&["service user"]);

    let made = sandbox
        .run(&[
            "user",
            "token",
            "add",
            "--tenant",
            "acme",
            "crm-sync",
            "--name",
            "nightly sync",
            "--scopes",
            "companies:read,persons:read",
            "--json",
        ])
        .ok();
    let made: Value = serde_json::from_str(&made.stdout).unwrap();
    assert!(made["token"].as_str().unwrap().starts_with("skj"), "{made}");
    assert_eq!(
        made["scopes"],
        serde_json::json!(["companies:read", "persons:read"])
    );
    let listed = sandbox
        .run(&[
            "user", "token", "list", "--tenant", "acme", "crm-sync", "--json",
        ])
        .ok();
    assert!(!listed.stdout.contains(made["token"].as_str().unwrap()));
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let id = made["id"].as_str().unwrap();
    sandbox
        .run(&[
            "user", "token", "revoke", "--tenant", "acme", "crm-sync", id,
        ])
        .ok();
    sandbox
        .run(&[
            "user", "token", "revoke", "--tenant", "acme", "crm-sync", id,
        ])
        .fails_with(&["no token"]);

    // Refusals name the problem.
    sandbox
        .run(&[
            "user",
            "token",
            "add",
            "--tenant",
            "acme",
            "boss",
            "--name",
            "x",
            "--scopes",
            "companies:read",
        ])
        .fails_with(&["person"]);
    sandbox
        .run(&[
            "user",
            "token",
            "add",
            "--tenant",
            "acme",
            "crm-sync",
            "--name",
            "x",
            "--scopes",
            "spaceships:read",
        ])
        .fails_with(&["scopes"]);
    sandbox
        .run(&[
            "user",
            "token",
            "add",
            "--tenant",
            "acme",
            "crm-sync",
            "--name",
            "x",
            "--scopes",
            "companies:read",
            "--days",
            "0",
        ])
        .fails_with(&["--days"]);
}
