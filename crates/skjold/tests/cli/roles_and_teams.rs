//! `skjold role …` and `skjold team …`: a tenant's own roles and its teams.

use crate::common::Sandbox;

#[test]
fn custom_roles_and_teams_are_managed_from_the_cli() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let out = sandbox
        .run(&[
            "role",
            "add",
            "--tenant",
            "acme",
            "Viewer",
            "--rights",
            "companies.read,persons.read",
            "--visibility",
            "own",
        ])
        .ok();
    assert!(out.stdout.starts_with("added role 'Viewer'"), "{out:#?}");
    // A custom role is given by name, on adding and on changing a user.
    sandbox
        .run(&[
            "user", "add", "--tenant", "acme", "vera", "--role", "Viewer",
        ])
        .ok();
    sandbox
        .run(&["user", "add", "--tenant", "acme", "ola", "--role", "user"])
        .ok();
    let out = sandbox
        .run(&["user", "set", "--tenant", "acme", "ola", "--role", "Viewer"])
        .ok();
    assert_eq!(out.stdout.trim(), "user 'ola': role Viewer, active");
    let out = sandbox.run(&["role", "list", "--tenant", "acme"]).ok();
    let row = out
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("Viewer"))
        .expect("listed")
        .to_string();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["Viewer", "own", "2", "companies.read,persons.read"]
    );
    // In use: refused with the count; unknown rights are named.
    let out = sandbox.run(&["role", "remove", "--tenant", "acme", "Viewer"]);
    assert!(out.fails().contains("held by 2 users"), "{out:#?}");
    let out = sandbox.run(&[
        "role",
        "add",
        "--tenant",
        "acme",
        "X",
        "--rights",
        "records.read",
        "--visibility",
        "all",
    ]);
    assert_eq!(out.fails(), "error: 'records.read' is not a right");
    sandbox
        .run(&[
            "role",
            "set",
            "--tenant",
            "acme",
            "Viewer",
            "--visibility",
            "team",
        ])
        .ok();

    // Teams and their members.
    sandbox
        .run(&["team", "add", "--tenant", "acme", "North"])
        .ok();
    for name in ["vera", "ola"] {
        sandbox
            .run(&["team", "add-member", "--tenant", "acme", "North", name])
            .ok();
    }
    let out = sandbox.run(&["team", "list", "--tenant", "acme"]).ok();
    assert!(
        out.stdout.contains("North") && out.stdout.contains("ola,vera"),
        "{out:#?}"
    );
    sandbox
        .run(&["team", "remove-member", "--tenant", "acme", "North", "ola"])
        .ok();
    let out = sandbox.run(&["team", "remove-member", "--tenant", "acme", "North", "ola"]);
    assert_eq!(out.fails(), "error: 'ola' is not a member of team 'North'");
    sandbox
        .run(&["team", "remove", "--tenant", "acme", "North"])
        .ok();

    // The last administrator stays one.
    let out = sandbox.run(&[
        "user", "set", "--tenant", "acme", "boss", "--role", "Viewer",
    ]);
    assert!(
        out.fails().contains("last active administrator"),
        "{out:#?}"
    );
}
