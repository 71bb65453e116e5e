//! `skjold user require-2fa` and `skjold settings two-factor`.

use crate::common::Sandbox;
use serde_json::json;
use serde_json::Value;

#[test]
fn two_factor_requirement_from_the_command_line() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let show = |sandbox: &Sandbox| -> Value {
        let out = sandbox
            .run(&["settings", "two-factor", "--tenant", "acme", "--json"])
            .ok();
        serde_json::from_str(&out.stdout).expect("JSON")
    };
    assert_eq!(show(&sandbox), json!({"required": "none", "roles": []}));
    let out = sandbox
        .run(&[
            "settings",
            "two-factor",
            "--tenant",
            "acme",
            "--required",
            "roles",
            "--roles",
            "manager,administrator",
        ])
        .ok();
    assert!(out.stdout.contains("administrator, manager"), "{out:#?}");
    assert_eq!(
        show(&sandbox),
        json!({"required": "roles", "roles": ["administrator", "manager"]})
    );
    sandbox
        .run(&[
            "settings",
            "two-factor",
            "--tenant",
            "acme",
            "--required",
            "roles",
            "--roles",
            "wizard",
        ])
        .fails_with(&["--roles", "wizard"]);
    sandbox
        .run(&[
            "settings",
            "two-factor",
            "--tenant",
            "acme",
            "--required",
            "sometimes",
        ])
        .fails_with(&["sometimes"]);

    let out = sandbox
        .run(&["user", "require-2fa", "--tenant", "acme", "boss"])
        .ok();
    assert!(
        out.stdout.contains("'boss': second factor required"),
        "{out:#?}"
    );
    sandbox
        .run(&["user", "require-2fa", "--tenant", "acme", "nobody"])
        .fails_with(&["nobody"]);
    sandbox
        .run(&["user", "require-2fa", "--tenant", "acme", "boss", "--off"])
        .ok();
}
