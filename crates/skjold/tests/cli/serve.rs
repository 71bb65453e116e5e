//! `skjold serve`: demo credentials, restart, graceful shutdown, one server per data
//! directory.

use crate::common::{
    assert_no_crash, assert_signs_in, free_port, https, run, without_log_lines, Sandbox, Server,
};
use std::net::TcpListener;
use std::process::Command;

// ---------------------------------------------------------------------------------------
// 7. serve: demo credentials, restart, graceful shutdown, redirect
// ---------------------------------------------------------------------------------------

#[test]
fn first_serve_prints_demo_credentials_once_and_stops_on_sigterm() {
    let sandbox = Sandbox::new();
    let mut server = Server::start_with(&sandbox, true, &[]);
    let password = server.demo_password().expect("a demo password");
    assert!(password.chars().count() >= 12, "{password:?}");

    // The credentials work, and the demo tenant is listed.
    let body = assert_signs_in(&sandbox, &server, "demo", "admin", &password);
    assert_eq!(body["user"]["role"], "administrator");
    assert_eq!(sandbox.tenant_slugs(), ["demo"]);

    // Plain HTTP only redirects to HTTPS.
    let rport = server.redirect_port.expect("a redirect port");
    let out = run(
        {
            let mut c = Command::new("curl");
            c.args(["--silent", "--show-error", "--max-time", "10", "--include"])
                .arg(format!("http://127.0.0.1:{rport}/demo/api/v1/me"));
            c
        },
        None,
    );
    assert!(out.status.success(), "{out:#?}");
    let head = out.stdout.to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 308"), "{}", out.stdout);
    assert!(
        head.contains(&format!(
            "location: https://127.0.0.1:{}/demo/api/v1/me",
            server.port
        )),
        "{}",
        out.stdout
    );

    let status = server.stop();
    assert_eq!(
        status.code(),
        Some(0),
        "graceful shutdown exits 0: {:#?}",
        server.stderr
    );

    // Exactly once: one username line, one password line, and the password nowhere else.
    let all = server.stdout.join("\n");
    let trimmed: Vec<&str> = server.stdout.iter().map(|l| l.trim()).collect();
    assert_eq!(
        trimmed.iter().filter(|l| **l == "username: admin").count(),
        1,
        "{all}"
    );
    assert_eq!(
        trimmed
            .iter()
            .filter(|l| l.starts_with("password:"))
            .count(),
        1,
        "{all}"
    );
    assert_eq!(all.matches(&password).count(), 1, "{all}");
    assert!(
        all.contains(&format!("Sign in at {}/demo/", server.base())),
        "{all}"
    );
    assert!(
        !server.stderr.join("\n").contains(&password),
        "{:#?}",
        server.stderr
    );
}

#[test]
fn second_serve_on_same_data_dir_prints_no_password() {
    let sandbox = Sandbox::new();
    let mut first = Server::start(&sandbox);
    let password = first
        .demo_password()
        .expect("a demo password on the first start");
    assert_eq!(first.stop().code(), Some(0));

    let mut second = Server::start(&sandbox);
    let status = second.stop();
    assert_eq!(status.code(), Some(0), "{:#?}", second.stderr);
    let all = second.stdout.join("\n");
    assert!(second.demo_password().is_none(), "{all}");
    assert!(!all.contains(&password), "{all}");
    assert!(!all.to_lowercase().contains("password:"), "{all}");
    assert!(
        all.contains(&format!("Skjold is serving {}/<tenant>/", second.base())),
        "{all}"
    );
    // Still only the one demo tenant with its one administrator.
    assert_eq!(sandbox.tenant_slugs(), ["demo"]);
    assert_eq!(sandbox.users("demo").len(), 1);
}

/// Two servers on one data directory would write the same audit chains and SQLite files:
/// the second is refused, naming the directory and the process that holds it.
#[test]
fn a_second_serve_on_a_running_data_dir_is_refused() {
    let sandbox = Sandbox::new();
    let mut first = Server::start(&sandbox);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let out = sandbox.run(&["serve", "--listen", &listen, "--redirect-listen", "off"]);
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert_no_crash(&out.stderr);
    let line = without_log_lines(&out.stderr);
    assert_eq!(line.lines().count(), 1, "{out:#?}");
    assert!(
        line.contains(sandbox.data().to_str().expect("UTF-8 path"))
            && line.contains("in use by another skjold serve")
            && line.contains(&format!("process {}", first.child.id())),
        "{line}"
    );
    assert!(!out.stdout.contains("password"), "{out:#?}");
    // The first one was not disturbed, and once it stops the data dir is free again.
    let (status, _) = https(&sandbox, "GET", &format!("{}/readyz", first.base()), None);
    assert_eq!(status, 200);
    assert_eq!(first.stop().code(), Some(0));
    let mut again = Server::start(&sandbox);
    assert_eq!(again.stop().code(), Some(0));
}

#[test]
fn serve_does_not_create_demo_when_a_tenant_exists() {
    let sandbox = Sandbox::new();
    sandbox.create_tenant("acme");
    let mut server = Server::start(&sandbox);
    assert!(server.demo_password().is_none(), "{:#?}", server.stdout);
    assert_eq!(server.stop().code(), Some(0));
    assert_eq!(sandbox.tenant_slugs(), ["acme"]);
}

#[test]
fn serve_fails_when_its_port_is_taken() {
    let sandbox = Sandbox::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let out = sandbox.run(&["serve", "--listen", &addr, "--redirect-listen", "off"]);
    // Log lines go to stderr too; the failure itself is the one line after them.
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert_no_crash(&out.stderr);
    assert_eq!(
        without_log_lines(&out.stderr).lines().count(),
        1,
        "{out:#?}"
    );
    assert!(
        without_log_lines(&out.stderr)
            .starts_with(&format!("error: listening on {addr} (listen): ")),
        "{out:#?}"
    );
    // No demo tenant was made, so a later successful start still shows the credentials.
    assert!(!out.stdout.contains("password"), "{out:#?}");
    drop(taken);
    let mut server = Server::start(&sandbox);
    assert!(server.demo_password().is_some());
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn serve_answers_prometheus_on_metrics_listen() {
    let sandbox = Sandbox::new();
    let port = free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    let mut server = Server::start_with(&sandbox, false, &[("SKJOLD_METRICS_LISTEN", &listen)]);
    // The /readyz requests of start_with were counted.
    let mut curl = Command::new("curl");
    curl.args(["--silent", "--max-time", "5", "--include"])
        .arg(format!("http://{listen}/metrics"));
    let out = run(curl, None);
    assert!(out.status.success(), "{out:#?}");
    assert!(
        out.stdout
            .contains("content-type: application/openmetrics-text"),
        "{out:#?}"
    );
    assert!(
        out.stdout.contains(
            "skjold_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}"
        ),
        "{}",
        out.stdout
    );
    assert!(out.stdout.trim_end().ends_with("# EOF"), "{}", out.stdout);
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn serve_fails_when_the_metrics_port_is_taken() {
    let sandbox = Sandbox::new();
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = taken.local_addr().expect("addr").to_string();
    let listen = format!("127.0.0.1:{}", free_port());
    let out = sandbox.run_env(
        &["serve", "--listen", &listen, "--redirect-listen", "off"],
        &[("SKJOLD_METRICS_LISTEN", &addr)],
    );
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert_no_crash(&out.stderr);
    let error = without_log_lines(&out.stderr);
    assert_eq!(error.lines().count(), 1, "{out:#?}");
    assert!(
        error.starts_with(&format!("error: listening on {addr} (metrics_listen; ")),
        "{out:#?}"
    );
    drop(taken);
}

/// SIGTERM as soon as the server says it is serving: it should still shut down
/// gracefully. The handlers are installed only inside `Application::run`, after the
/// credentials or the "serving" line are printed, so an early SIGTERM kills the process.
#[test]
fn sigterm_right_after_the_serving_line_is_graceful() {
    for _round in 0..5 {
        let sandbox = Sandbox::new();
        let mut server = Server::spawn(&sandbox, false, &[]);
        let status = server.stop();
        assert_eq!(status.code(), Some(0), "{status:?}");
    }
}
