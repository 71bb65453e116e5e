//! Configuration: the file, the environment and the flags, in that order, and the
//! errors each gives.

use crate::common::{assert_no_crash, dir_entries, run, without_log_lines, Sandbox, Server};
use std::process::Stdio;

// ---------------------------------------------------------------------------------------
// 6. Configuration
// ---------------------------------------------------------------------------------------

#[test]
fn unknown_key_in_config_file_is_named() {
    let sandbox = Sandbox::new();
    let file = sandbox.root().join("custom.toml");
    std::fs::write(&file, "lisen = \"127.0.0.1:9443\"\n").expect("write config");
    let file_arg = file.to_str().expect("UTF-8 path");

    let out = sandbox.run(&["--config", file_arg, "tenant", "list"]);
    out.fails_with(&["lisen", "unknown field"]);
    // The same through SKJOLD_CONFIG, and for serve.
    let out = sandbox.run_env(&["tenant", "list"], &[("SKJOLD_CONFIG", file_arg)]);
    out.fails_with(&["lisen"]);
    let out = sandbox.run(&["--config", file_arg, "serve", "--listen", "127.0.0.1:0"]);
    out.fails_with(&["lisen"]);
    assert!(!sandbox.data().exists(), "nothing is created");
}

#[test]
fn nonsense_listen_address_stops_serve() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_env(&["serve"], &[("SKJOLD_LISTEN", "nonsense")]);
    assert_eq!(
        out.fails(),
        "error: listen: 'nonsense' is not an address like 127.0.0.1:8443"
    );
    let out = sandbox.run(&["serve", "--redirect-listen", "nowhere"]);
    out.fails_with(&["redirect_listen", "'nowhere'"]);
    let out = sandbox.run(&[
        "serve",
        "--listen",
        "127.0.0.1:7443",
        "--redirect-listen",
        "127.0.0.1:7443",
    ]);
    assert_eq!(
        out.fails(),
        "error: redirect_listen: must differ from listen"
    );
    assert!(!sandbox.data().exists(), "nothing is created");
}

#[test]
fn missing_config_file_is_named() {
    let sandbox = Sandbox::new();
    let missing = sandbox.root().join("missing.toml");
    let missing_arg = missing.to_str().expect("UTF-8 path");
    let out = sandbox.run(&["--config", missing_arg, "tenant", "list"]);
    assert_eq!(
        out.fails(),
        format!("error: configuration file {missing_arg} does not exist")
    );
    let out = sandbox.run_env(&["serve"], &[("SKJOLD_CONFIG", missing_arg)]);
    out.fails_with(&[missing_arg]);
    assert!(!sandbox.data().exists());
}

#[test]
fn unsupported_database_url_fails_without_showing_the_secret() {
    let sandbox = Sandbox::new();
    let env = [("SKJOLD_DATABASE_URL", "mysql://u:secretpw@h/db")];
    for args in [
        &["tenant", "list"][..],
        &["serve"][..],
        &["user", "list", "--tenant", "acme"][..],
    ] {
        let out = sandbox.run_env(args, &env);
        out.fails_with(&["database_url", "mysql"]);
        assert!(
            !out.stderr.contains("secretpw") && !out.stdout.contains("secretpw"),
            "{out:#?}"
        );
    }
    // Also in a file.
    let file = sandbox.root().join("skjold.toml");
    std::fs::write(&file, "database_url = \"mysql://u:secretpw@h/db\"\n").expect("write");
    let out = sandbox.run(&["tenant", "list"]);
    out.fails_with(&["database_url"]);
    assert!(!out.stderr.contains("secretpw"), "{out:#?}");
}

/// A well-formed PostgreSQL URL whose server is unreachable: the start fails (after the
/// pool's timeout) and neither the log on stdout nor the error shows the password.
#[test]
fn unreachable_database_fails_without_showing_the_secret() {
    let sandbox = Sandbox::new();
    let url = "postgres://u:secretpw@127.0.0.1:1/skjold";
    let spawn = |args: &[&str]| {
        let mut cmd = sandbox.command(args);
        cmd.env("SKJOLD_DATABASE_URL", url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd.spawn().expect("start skjold")
    };
    // Both at once: each waits for the connection pool's timeout.
    let list = spawn(&["tenant", "list"]);
    let serve = spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--redirect-listen",
        "off",
    ]);
    for child in [list, serve] {
        let output = child.wait_with_output().expect("wait");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
        let stderr = without_log_lines(&stderr);
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() == 1,
            "{stderr}"
        );
        assert_no_crash(&stderr);
        assert!(
            !stdout.contains("secretpw") && !stderr.contains("secretpw"),
            "{stdout}\n{stderr}"
        );
    }
}

/// defaults < ./skjold.toml (or --config / SKJOLD_CONFIG) < SKJOLD_* < flags, shown with the
/// data dir: each layer's directory receives the tenant.
#[test]
fn configuration_layers_apply_in_order() {
    let sandbox = Sandbox::new();
    let root = sandbox.root();
    let dir = |name: &str| root.join(name).to_str().expect("UTF-8 path").to_string();
    std::fs::write(
        root.join("skjold.toml"),
        format!("data_dir = {:?}\n", dir("from-file")),
    )
    .expect("write skjold.toml");
    std::fs::write(
        root.join("other.toml"),
        format!("data_dir = {:?}\n", dir("from-other")),
    )
    .expect("write other.toml");
    let create = |extra_args: &[&str], env: &[(&str, &str)], slug: &str| {
        let mut cmd = sandbox.bare_command();
        cmd.args(extra_args)
            .args(["tenant", "create", slug, "--name", "X", "--admin", "boss"])
            .envs(env.iter().copied());
        run(cmd, None).ok();
    };
    let slugs_in = |name: &str| dir_entries(&root.join(name).join("tenants"));

    // ./skjold.toml in the working directory.
    create(&[], &[], "one");
    assert_eq!(slugs_in("from-file"), ["one"]);
    // --config replaces ./skjold.toml, and so does SKJOLD_CONFIG.
    create(&["--config", "other.toml"], &[], "two");
    create(&[], &[("SKJOLD_CONFIG", "other.toml")], "three");
    assert_eq!(slugs_in("from-other"), ["three", "two"]);
    // SKJOLD_DATA_DIR beats the file.
    let env_dir = dir("from-env");
    create(&[], &[("SKJOLD_DATA_DIR", &env_dir)], "four");
    assert_eq!(slugs_in("from-env"), ["four"]);
    // --data-dir beats the environment.
    let flag_dir = dir("from-flag");
    create(
        &["--data-dir", &flag_dir],
        &[("SKJOLD_DATA_DIR", &env_dir)],
        "five",
    );
    assert_eq!(slugs_in("from-flag"), ["five"]);
    assert_eq!(slugs_in("from-env"), ["four"]);
    assert_eq!(slugs_in("from-file"), ["one"]);
}

/// For `serve`: flags beat the environment, which beats the file. Each layer writes its
/// own nonsense `listen`, and the error names the one that won; with valid flags on top
/// of nonsense in the file and the environment, the server starts.
#[test]
fn serve_flags_beat_environment_beats_file() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.root().join("skjold.toml"),
        "listen = \"file-nonsense\"\nredirect_listen = \"file-nonsense\"\n",
    )
    .expect("write skjold.toml");
    let env = [
        ("SKJOLD_LISTEN", "env-nonsense"),
        ("SKJOLD_REDIRECT_LISTEN", "env-nonsense"),
    ];

    let out = sandbox.run(&["serve"]);
    out.fails_with(&["listen: 'file-nonsense'"]);
    let out = sandbox.run_env(&["serve"], &env);
    out.fails_with(&["listen: 'env-nonsense'"]);
    let out = sandbox.run_env(&["serve", "--listen", "flag-nonsense"], &env);
    out.fails_with(&["listen: 'flag-nonsense'"]);
    let out = sandbox.run_env(&["serve", "--listen", "127.0.0.1:0"], &env);
    out.fails_with(&["redirect_listen: 'env-nonsense'"]);
    assert!(!sandbox.data().exists(), "nothing is created");

    // Valid --listen and --redirect-listen on top of all that nonsense: it starts.
    let mut server = Server::start_with(&sandbox, true, &env);
    assert!(server.demo_password().is_some());
    assert_eq!(server.stop().code(), Some(0));
}

/// PRODUCT.md §3: a failure gives "a one-line reason".
#[test]
fn config_syntax_error_is_one_line() {
    let sandbox = Sandbox::new();
    std::fs::write(sandbox.root().join("skjold.toml"), "listen = \n").expect("write");
    let out = sandbox.run(&["tenant", "list"]);
    out.fails_with(&["skjold.toml"]);
}

#[test]
fn bad_database_url_names_the_key_once() {
    let sandbox = Sandbox::new();
    let out = sandbox.run_env(
        &["tenant", "list"],
        &[("SKJOLD_DATABASE_URL", "postgres://u:pw@h:x/db")],
    );
    let line = out.fails_with(&["database_url", "not a URL"]);
    assert_eq!(line.matches("database_url").count(), 1, "{line}");
    assert!(!line.contains("configuration:"), "{line}");
}
