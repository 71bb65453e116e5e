//! Error output, and robustness findings: one-line errors, unusual data directories,
//! concurrent commands, a damaged catalog, private files.

use crate::common::{run, Sandbox};
use std::process::Child;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

// ---------------------------------------------------------------------------------------
// 9. Error output, and robustness findings
// ---------------------------------------------------------------------------------------

/// All the operator mistakes above, once more with a backtrace requested: still one line.
#[test]
fn errors_are_one_line_without_backtrace() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let cases: &[&[&str]] = &[
        &["tenant", "create", "acme", "--name", "X", "--admin", "boss"],
        &["tenant", "create", "Bad", "--name", "X", "--admin", "boss"],
        &["tenant", "suspend", "nope"],
        &["user", "add", "--tenant", "acme", "x", "--role", "god"],
        &["user", "add", "--tenant", "nope", "x", "--role", "user"],
        &["user", "list", "--tenant", "nope"],
    ];
    for args in cases {
        let mut cmd = sandbox.command(args);
        cmd.env("RUST_BACKTRACE", "full")
            .env("RUST_LIB_BACKTRACE", "1");
        run(cmd, None).fails();
    }
}

#[test]
fn data_dir_with_spaces_works() {
    let sandbox = Sandbox::new();
    let dir = sandbox.root().join("my data dir");
    let dir_arg = dir.to_str().expect("UTF-8 path");
    let mut cmd = sandbox.bare_command();
    cmd.args([
        "--data-dir",
        dir_arg,
        "tenant",
        "create",
        "acme",
        "--name",
        "A",
        "--admin",
        "b0ss",
    ]);
    run(cmd, None).ok();
    assert!(dir.join("catalog.db").is_file());
    assert!(dir.join("tenants").join("acme").join("crm.db").is_file());
}

#[test]
fn data_dir_with_url_characters_works() {
    let sandbox = Sandbox::new();
    for name in ["100%20", "what?"] {
        let dir = sandbox.root().join(name);
        let mut cmd = sandbox.bare_command();
        cmd.arg("--data-dir")
            .arg(&dir)
            .args(["tenant", "create", "acme", "--name", "A", "--admin", "boss"]);
        run(cmd, None).ok();
        assert!(dir.join("catalog.db").is_file(), "{name}");
    }
}

/// Scripts may run several commands at once on a fresh installation. Each process runs
/// the catalog migrations on first open; they should not trip over each other.
#[test]
fn concurrent_commands_on_a_fresh_data_dir_succeed() {
    for _round in 0..10 {
        let sandbox = Sandbox::new();
        let children: Vec<Child> = (0..4)
            .map(|_| {
                let mut cmd = sandbox.command(&["tenant", "list", "--json"]);
                cmd.stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped());
                cmd.spawn().expect("start skjold")
            })
            .collect();
        for child in children {
            let output = child.wait_with_output().expect("wait");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

#[test]
fn data_dir_that_is_a_file_is_named_once() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.data(), "not a directory").expect("write");
    let out = sandbox.run(&["tenant", "list"]);
    let line = out.fails_with(&[sandbox.data().to_str().expect("UTF-8 path")]);
    assert_eq!(line.matches("os error 17").count(), 1, "{line}");
}

#[test]
fn damaged_catalog_fails_fast_with_the_reason() {
    let sandbox = Sandbox::new();
    std::fs::create_dir_all(sandbox.data()).expect("mkdir");
    std::fs::write(
        sandbox.data().join("catalog.db"),
        "garbage, not SQLite\n".repeat(100),
    )
    .expect("write");
    let started = Instant::now();
    let out = sandbox.run(&["tenant", "list"]);
    out.fails_with(&["catalog"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(!out.stderr.contains("pool timed out"), "{out:#?}");
}

/// Tenant databases hold password hashes, session-token hashes and CRM data: the data
/// dir and the tenant directories are the service account's alone, even when the operator
/// made the data dir beforehand with the usual 0755.
#[test]
#[cfg(unix)]
fn data_dir_is_private_to_the_owner() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let data = sandbox.data();
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    sandbox.create_tenant("acme");
    for dir in [
        data.clone(),
        data.join("tenants"),
        data.join("tenants").join("acme"),
    ] {
        let mode = std::fs::metadata(&dir)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "{} has mode {:o}",
            dir.display(),
            mode & 0o777
        );
    }
}
