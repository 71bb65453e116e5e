//! `skjold --help` and the help of every command, `--version`, and usage errors.

use crate::common::{assert_no_crash, squash, Sandbox};

// ---------------------------------------------------------------------------------------
// 1. Help
// ---------------------------------------------------------------------------------------

/// Each help text exits 0, prints to stdout only, and contains the words of the doc
/// comments that explain the command.
#[test]
fn help_of_every_command_explains_it() {
    let sandbox = Sandbox::new();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &[
                "multi-tenant CRM",
                "skjold serve",
                "./skjold-data",
                "https://127.0.0.1:8443",
                "demo",
                "Run the server",
                "Create, list, suspend and resume tenants",
                "Add, change and list a tenant's users",
                "List, add, change and remove a tenant's roles",
                "List, add and remove a tenant's teams and their members",
                "--config",
                "--data-dir",
                "SKJOLD_CONFIG",
                "SKJOLD_DATA_DIR",
            ],
        ),
        (
            &["serve", "--help"],
            &[
                "Run the server (HTTPS, plus the plain-HTTP redirect)",
                "--listen",
                "SKJOLD_LISTEN",
                "127.0.0.1:8443",
                "--redirect-listen",
                "only redirects to HTTPS",
                "SKJOLD_REDIRECT_LISTEN",
                "127.0.0.1:8080",
            ],
        ),
        (
            &["tenant", "--help"],
            &[
                "Create, list, suspend and resume tenants",
                "create",
                "list",
                "suspend",
                "resume",
            ],
        ),
        (
            &["tenant", "create", "--help"],
            &[
                "Create a tenant (its own database) with a first administrator",
                "lowercase letters, digits and '-'",
                "--name",
                "Acme Ltd",
                "--admin",
                "first administrator's username",
                "--password-stdin",
                "one-time password",
            ],
        ),
        (
            &["tenant", "list", "--help"],
            &["List the tenants", "--json", "JSON instead of a table"],
        ),
        (
            &["tenant", "suspend", "--help"],
            &[
                "Suspend a tenant",
                "can no longer sign in or use their sessions",
                "<SLUG>",
            ],
        ),
        (
            &["tenant", "resume", "--help"],
            &["Lift a suspension", "<SLUG>"],
        ),
        (
            &["user", "--help"],
            &[
                "Add, change and list a tenant's users",
                "add",
                "set",
                "password",
                "end-sessions",
                "list",
            ],
        ),
        (
            &["user", "add", "--help"],
            &[
                "Add a user to a tenant",
                "--tenant",
                "The tenant's slug",
                "The new user's username",
                "--role",
                "administrator, manager, user, read-only, or the name of one of the tenant's own roles",
                "--password-stdin",
                "one-time password",
            ],
        ),
        (
            &["user", "set", "--help"],
            &["Change a user's role or status", "--role", "--status", "active or disabled"],
        ),
        (
            &["role", "add", "--help"],
            &["Add a role", "--rights", "--visibility", "own, team or all"],
        ),
        (
            &["team", "add-member", "--help"],
            &["Add a user to a team", "<TEAM>", "<USERNAME>"],
        ),
        (
            &["user", "list", "--help"],
            &[
                "List a tenant's users",
                "--tenant",
                "--json",
                "JSON instead of a table",
            ],
        ),
    ];
    for (args, words) in cases {
        let out = sandbox.run(args).ok();
        let text = squash(&out.stdout);
        for word in *words {
            assert!(
                text.contains(&squash(word)),
                "`skjold {}` should mention {word:?}:\n{}",
                args.join(" "),
                out.stdout
            );
        }
    }
    // Asking for help touches nothing on disk.
    assert!(!sandbox.data().exists());
}

#[test]
fn version_prints_name_and_version() {
    let out = Sandbox::new().run(&["--version"]).ok();
    assert_eq!(
        out.stdout,
        format!("skjold {}\n", env!("CARGO_PKG_VERSION"))
    );
}

/// Usage mistakes are clap's to report: exit code 2 and a reason starting with `error: `.
#[test]
fn usage_errors_exit_2_with_a_reason() {
    let sandbox = Sandbox::new();
    for (args, needle) in [
        (
            &["tenant", "create"][..],
            "required arguments were not provided",
        ),
        (&["tenant", "explode"][..], "unrecognized subcommand"),
        (&["user", "add", "--tenant", "acme", "alice"][..], "--role"),
        (&["tenant", "list", "--yaml"][..], "--yaml"),
    ] {
        let out = sandbox.run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:#?}");
        assert!(out.stderr.starts_with("error: "), "{args:?}: {out:#?}");
        assert!(out.stderr.contains(needle), "{args:?}: {out:#?}");
        assert_no_crash(&out.stderr);
    }
    assert!(!sandbox.data().exists());
}
