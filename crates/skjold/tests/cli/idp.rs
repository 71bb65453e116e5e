//! `skjold idp …`: a tenant's identity providers for single sign-on.

use crate::common::Sandbox;

#[test]
fn identity_providers_are_managed_from_the_cli_with_the_secret_never_on_the_command_line() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    // No secret source: refused, and told how.
    let out = sandbox.run(&[
        "idp",
        "add",
        "--tenant",
        "acme",
        "--kind",
        "entra",
        "--name",
        "Contoso",
        "--client-id",
        "app-1",
        "--directory-id",
        tid,
    ]);
    assert!(out.fails().contains("--client-secret-stdin"), "{out:#?}");
    let out = sandbox
        .run_stdin(
            &[
                "idp",
                "add",
                "--tenant",
                "acme",
                "--kind",
                "entra",
                "--name",
                "Contoso",
                "--client-id",
                "app-1",
                "--directory-id",
                tid,
                "--require-mfa",
                "--client-secret-stdin",
            ],
            "very-secret-value\n",
        )
        .ok();
    assert!(
        out.stdout.contains("added identity provider 'Contoso'"),
        "{out:#?}"
    );
    assert!(out
        .stdout
        .contains(&format!("https://login.microsoftonline.com/{tid}/v2.0")));
    assert!(out.stdout.contains("/acme/auth/oidc/callback"), "{out:#?}");
    // A secret from a file, and a bad directory id named.
    let secret_file = sandbox.root().join("google-secret");
    std::fs::write(&secret_file, "another-secret\n").unwrap();
    let out = sandbox.run(&[
        "idp",
        "add",
        "--tenant",
        "acme",
        "--kind",
        "entra",
        "--name",
        "Bad",
        "--client-id",
        "app-2",
        "--directory-id",
        "common",
        "--client-secret-file",
        secret_file.to_str().unwrap(),
    ]);
    assert!(out.fails().contains("directory_id"), "{out:#?}");
    sandbox
        .run(&[
            "idp",
            "add",
            "--tenant",
            "acme",
            "--kind",
            "google",
            "--name",
            "Google",
            "--client-id",
            "app-3",
            "--hosted-domain",
            "example.com",
            "--client-secret-file",
            secret_file.to_str().unwrap(),
        ])
        .ok();

    let out = sandbox
        .run(&["idp", "list", "--tenant", "acme", "--json"])
        .ok();
    assert!(!out.stdout.contains("very-secret-value"), "{}", out.stdout);
    assert!(!out.stdout.contains("another-secret"), "{}", out.stdout);
    let list: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Contoso", "Google"]);
    assert_eq!(list[0]["client_secret"], "***");
    assert_eq!(list[0]["require_mfa"], true);

    sandbox
        .run(&["idp", "remove", "--tenant", "acme", "Google"])
        .ok();
    let out = sandbox.run(&["idp", "remove", "--tenant", "acme", "Google"]);
    assert!(
        out.fails().contains("no identity provider 'Google'"),
        "{out:#?}"
    );
    let out = sandbox.run(&["idp", "list", "--tenant", "acme"]).ok();
    assert!(
        out.stdout.contains("Contoso") && !out.stdout.contains("Google"),
        "{}",
        out.stdout
    );
    // The changes are in the tenant's audit trail.
    let out = sandbox
        .run(&[
            "audit",
            "search",
            "--tenant",
            "acme",
            "--event",
            "settings.identity_provider_created",
        ])
        .ok();
    assert!(
        out.stdout.contains("settings.identity_provider_created"),
        "{out:#?}"
    );
}
