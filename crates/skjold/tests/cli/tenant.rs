//! `skjold tenant create / list / suspend / resume`, with the administrator's password made
//! or read from standard input.

use crate::common::{
    assert_signs_in, dir_entries, one_time_password, sign_in, sorted_keys, squash, Sandbox, Server,
    GOOD_PASSWORD,
};

// ---------------------------------------------------------------------------------------
// 2. tenant create / list
// ---------------------------------------------------------------------------------------

#[test]
fn tenant_create_prints_a_one_time_password_and_list_shows_it() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run(&[
            "tenant", "create", "acme", "--name", "Acme Ltd", "--admin", "boss",
        ])
        .ok();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 2, "{out:#?}");
    assert_eq!(
        lines[0],
        "created tenant 'acme' (Acme Ltd) with administrator 'boss'"
    );
    one_time_password(&out);

    let tenants = sandbox.tenants();
    assert_eq!(tenants.len(), 1, "{tenants:?}");
    let t = &tenants[0];
    assert_eq!(
        sorted_keys(t),
        ["created_at", "display_name", "location", "slug", "status"]
    );
    assert_eq!(t["slug"], "acme");
    assert_eq!(t["display_name"], "Acme Ltd");
    assert_eq!(t["status"], "active");
    let created = t["created_at"].as_str().expect("created_at is a string");
    assert!(
        created.ends_with('Z') && created.contains('T'),
        "RFC 3339 UTC: {created}"
    );

    // The administrator exists in the tenant's own database.
    let users = sandbox.users("acme");
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["username"], "boss");
    assert_eq!(users[0]["role"], "administrator");
}

#[test]
fn tenant_list_human_output_is_a_table() {
    let sandbox = Sandbox::new();
    let empty = sandbox.run(&["tenant", "list"]).ok();
    assert_eq!(
        squash(&empty.stdout),
        "SLUG STATUS CREATED NAME",
        "{empty:#?}"
    );

    sandbox.create_tenant("acme");
    sandbox
        .run(&[
            "tenant", "create", "beta-2", "--name", "Beta Two", "--admin", "root2",
        ])
        .ok();
    let out = sandbox.run(&["tenant", "list"]).ok();
    let lines = out.stdout_lines();
    assert_eq!(lines.len(), 3, "{out:#?}");
    assert_eq!(squash(lines[0]), "SLUG STATUS CREATED NAME");
    let rows: Vec<Vec<&str>> = lines[1..]
        .iter()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let acme = rows.iter().find(|r| r[0] == "acme").expect("an acme row");
    assert_eq!(acme[1], "active");
    assert_eq!(acme[3..].join(" "), "Test");
    let beta = rows
        .iter()
        .find(|r| r[0] == "beta-2")
        .expect("a beta-2 row");
    assert_eq!(beta[1], "active");
    assert_eq!(beta[3..].join(" "), "Beta Two");
}

/// The header promises columns; each value should start where its header does.
#[test]
fn tenant_list_table_columns_line_up() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let out = sandbox.run(&["tenant", "list"]).ok();
    let lines = out.stdout_lines();
    let header = lines[0];
    let row = lines[1];
    for (title, value) in [("STATUS", "active"), ("NAME", "Test")] {
        assert_eq!(
            header.find(title),
            row.find(value),
            "{value:?} should sit under {title:?}:\n{header}\n{row}"
        );
    }
}

#[test]
fn creating_an_existing_tenant_fails_naming_it() {
    let sandbox = Sandbox::new();
    let first_password = sandbox.create_tenant("acme");
    let out = sandbox.run(&[
        "tenant", "create", "acme", "--name", "Other", "--admin", "eve",
    ]);
    let line = out.fails_with(&["acme"]);
    assert_eq!(line, "error: tenant 'acme' already exists");
    // Nothing changed: same single tenant, same name, only the first administrator.
    let tenants = sandbox.tenants();
    assert_eq!(tenants.len(), 1);
    assert_eq!(tenants[0]["display_name"], "Test");
    let users = sandbox.users("acme");
    assert_eq!(users.len(), 1, "{users:?}");
    assert_eq!(users[0]["username"], "boss");
    assert!(!first_password.is_empty());
}

#[test]
fn bad_slugs_are_refused_with_a_reason_and_create_nothing() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    for (slug, reason) in [
        ("Acme", "lowercase letters"),
        ("api", "reserved"),
        ("a--b", "'--'"),
        ("", "must not be empty"),
        ("-acme", "starts with a letter"),
        ("acme-", "must not start or end with '-'"),
        ("ac_me", "lowercase letters"),
        ("status", "reserved"),
        (
            "a234567890123456789012345678901234",
            "at most 32 characters",
        ),
    ] {
        // `--` so that "-acme" is a slug, not an option.
        let out = sandbox.run(&[
            "tenant", "create", "--name", "X", "--admin", "boss", "--", slug,
        ]);
        out.fails_with(&[&format!("tenant '{slug}'"), reason]);
    }
    assert_eq!(sandbox.tenant_slugs(), ["acme"]);
    assert_eq!(dir_entries(&sandbox.data().join("tenants")), ["acme"]);
}

#[test]
fn bad_admin_username_is_refused_and_creates_nothing() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&[
        "tenant", "create", "acme", "--name", "Acme", "--admin", "bad user",
    ]);
    out.fails_with(&["admin username", "letters, digits"]);
    assert!(sandbox.tenants().is_empty());
}

/// PRODUCT.md §3: bad input gets "a clear error naming the field".
#[test]
fn bad_display_name_error_names_the_field() {
    let sandbox = Sandbox::new();
    let out = sandbox.run(&["tenant", "create", "acme", "--name", "", "--admin", "boss"]);
    out.fails_with(&["name", "1 to 200 characters"]);
    assert!(sandbox.tenants().is_empty());
}

// ---------------------------------------------------------------------------------------
// 3. --password-stdin
// ---------------------------------------------------------------------------------------

/// A password piped in is the administrator's password (no one-time password printed),
/// and the server accepts it over HTTPS.
#[test]
fn password_from_stdin_signs_in_over_https() {
    let sandbox = Sandbox::new();
    let out = sandbox
        .run_stdin(
            &[
                "tenant",
                "create",
                "acme",
                "--name",
                "Acme Ltd",
                "--admin",
                "boss",
                "--password-stdin",
            ],
            &format!("{GOOD_PASSWORD}\n"),
        )
        .ok();
    assert_eq!(
        out.stdout,
        "created tenant 'acme' (Acme Ltd) with administrator 'boss'\n"
    );

    let mut server = Server::start(&sandbox);
    // A tenant exists already, so no demo tenant and no password is printed.
    assert!(server.demo_password().is_none(), "{:#?}", server.stdout);
    assert_eq!(sandbox.tenant_slugs(), ["acme"]);

    assert_signs_in(&sandbox, &server, "acme", "boss", GOOD_PASSWORD);
    let (status, _) = sign_in(&sandbox, &server, "acme", "boss", "correct horse battery!");
    assert_eq!(status, 401, "a wrong password is refused");
    assert!(server.stop().success());
}

#[test]
fn too_short_password_on_stdin_is_refused_naming_the_rule() {
    let sandbox = Sandbox::new();
    // 11 characters: one short of the rule.
    let out = sandbox.run_stdin(
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
        "elevenchars\n",
    );
    out.fails_with(&["password", "at least 12 characters"]);
    assert!(sandbox.tenants().is_empty(), "nothing is created");

    // Exactly 12 characters is enough.
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
            "twelve chars\n",
        )
        .ok();

    let out = sandbox.run_stdin(
        &[
            "user",
            "add",
            "--tenant",
            "acme",
            "alice",
            "--role",
            "user",
            "--password-stdin",
        ],
        "short\n",
    );
    out.fails_with(&["password", "at least 12 characters", "rule 'min_length'"]);
    // The tenant's policy names each rule: a common password, one with the username.
    for (password, rule) in [
        ("password1234\n", "rule 'common'"),
        ("alice-in-wonderland\n", "rule 'contains_username'"),
    ] {
        let out = sandbox.run_stdin(
            &[
                "user",
                "add",
                "--tenant",
                "acme",
                "alice",
                "--role",
                "user",
                "--password-stdin",
            ],
            password,
        );
        out.fails_with(&["password", rule]);
    }
    let users = sandbox.users("acme");
    assert!(users.iter().all(|u| u["username"] != "alice"), "{users:?}");
}

#[test]
fn empty_stdin_is_refused() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_stdin(
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
        "",
    );
    out.fails_with(&["no password on standard input"]);
    assert!(sandbox.tenants().is_empty());
}

// ---------------------------------------------------------------------------------------
// 5. tenant suspend / resume
// ---------------------------------------------------------------------------------------

#[test]
fn suspend_and_resume_change_the_listed_status() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    sandbox.create_tenant("beta");

    let out = sandbox.run(&["tenant", "suspend", "acme"]).ok();
    assert_eq!(out.stdout, "suspended tenant 'acme'\n");
    assert_eq!(sandbox.tenant_status("acme"), "suspended");
    assert_eq!(
        sandbox.tenant_status("beta"),
        "active",
        "only acme is suspended"
    );
    let table = sandbox.run(&["tenant", "list"]).ok();
    let row = table
        .stdout_lines()
        .into_iter()
        .find(|l| l.starts_with("acme "))
        .expect("an acme row")
        .to_string();
    assert_eq!(row.split_whitespace().nth(1), Some("suspended"), "{row}");

    // Suspending twice is harmless.
    sandbox.run(&["tenant", "suspend", "acme"]).ok();
    assert_eq!(sandbox.tenant_status("acme"), "suspended");

    let out = sandbox.run(&["tenant", "resume", "acme"]).ok();
    assert_eq!(out.stdout, "resumed tenant 'acme'\n");
    assert_eq!(sandbox.tenant_status("acme"), "active");
}

#[test]
fn suspend_and_resume_of_unknown_tenant_fail() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    for verb in ["suspend", "resume"] {
        let out = sandbox.run(&["tenant", verb, "nope"]);
        assert_eq!(out.fails(), "error: no tenant 'nope'");
        let out = sandbox.run(&["tenant", verb, "Nope"]);
        out.fails_with(&["tenant 'Nope'", "lowercase letters"]);
    }
    assert_eq!(sandbox.tenant_slugs(), ["acme"]);
    assert_eq!(sandbox.tenant_status("acme"), "active");
}

/// A suspension is never in force without its record: with the installation's trail unable
/// to write (today's file is /dev/full), `tenant suspend` fails, names the audit trail, and
/// the tenant stays active; once the trail writes again, it is suspended and recorded.
#[test]
fn a_suspension_that_cannot_be_recorded_is_not_made() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "tenant", "create", "acme", "--name", "Acme Ltd", "--admin", "boss",
        ])
        .ok();
    let system = sandbox.data().join("logs").join("audit").join("_system");
    // Today's file: the only day the trail has so far.
    let days: Vec<_> = std::fs::read_dir(&system)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    assert_eq!(days.len(), 1, "{days:?}");
    let day_file = days[0].clone();
    let kept = std::fs::read(&day_file).expect("today's file of the installation's trail");
    std::fs::remove_file(&day_file).unwrap();
    std::os::unix::fs::symlink("/dev/full", &day_file).unwrap();

    let out = sandbox.run(&["tenant", "suspend", "acme"]);
    let line = out.fails();
    assert!(line.contains("audit"), "{line}");

    std::fs::remove_file(&day_file).unwrap();
    std::fs::write(&day_file, kept).unwrap();
    let tenants = sandbox.tenants();
    assert_eq!(tenants[0]["status"], "active", "{tenants:?}");

    sandbox.run(&["tenant", "suspend", "acme"]).ok();
    let tenants = sandbox.tenants();
    assert_eq!(tenants[0]["status"], "suspended", "{tenants:?}");
}

/// Attack on the audit guarantee: creating a tenant is recorded in the installation's trail
/// and its administrator in the tenant's own. When either cannot be written (today's file
/// is /dev/full), `tenant create` fails, names the audit trail, and leaves nothing behind:
/// the tenant is not listed and its slug can be created afterwards.
#[test]
fn a_tenant_whose_creation_cannot_be_recorded_is_not_created() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "tenant", "create", "acme", "--name", "Acme Ltd", "--admin", "boss",
        ])
        .ok();
    let trails = sandbox.data().join("logs").join("audit");
    let system = trails.join("_system");
    let day_file = std::fs::read_dir(&system)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .expect("today's file of the installation's trail");
    let day_name = day_file.file_name().unwrap().to_owned();

    // The installation's trail refuses: `tenant.created` cannot be recorded.
    let kept = std::fs::read(&day_file).unwrap();
    std::fs::remove_file(&day_file).unwrap();
    std::os::unix::fs::symlink("/dev/full", &day_file).unwrap();
    let out = sandbox.run(&[
        "tenant", "create", "beta", "--name", "Beta", "--admin", "boss",
    ]);
    let line = out.fails();
    assert!(line.contains("audit"), "{line}");
    std::fs::remove_file(&day_file).unwrap();
    std::fs::write(&day_file, kept).unwrap();
    let slugs: Vec<_> = sandbox
        .tenants()
        .iter()
        .map(|t| t["slug"].clone())
        .collect();
    assert_eq!(slugs, ["acme"], "a tenant listed without its record");

    // The new tenant's own trail refuses: its administrator's `user.created` cannot be recorded.
    let beta = trails.join("beta");
    let _ = std::fs::remove_dir_all(&beta);
    std::fs::create_dir_all(&beta).unwrap();
    std::os::unix::fs::symlink("/dev/full", beta.join(&day_name)).unwrap();
    let out = sandbox.run(&[
        "tenant", "create", "beta", "--name", "Beta", "--admin", "boss",
    ]);
    let line = out.fails();
    assert!(line.contains("audit"), "{line}");
    let slugs: Vec<_> = sandbox
        .tenants()
        .iter()
        .map(|t| t["slug"].clone())
        .collect();
    assert_eq!(
        slugs,
        ["acme"],
        "a tenant listed without its administrator's record"
    );

    // Nothing was left behind: once the trail writes again, the same slug is created.
    std::fs::remove_dir_all(&beta).unwrap();
    sandbox
        .run(&[
            "tenant", "create", "beta", "--name", "Beta", "--admin", "boss",
        ])
        .ok();
    let slugs: Vec<_> = sandbox
        .tenants()
        .iter()
        .map(|t| t["slug"].clone())
        .collect();
    assert_eq!(slugs, ["acme", "beta"]);
}
