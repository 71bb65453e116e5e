//! End-to-end tests of the `skjold` binary: help texts, the operator commands (`tenant`,
//! `user`), configuration layering and `serve` (demo credentials, HTTPS sign-in, graceful
//! shutdown, the CLI working beside a running server).
//!
//! Every test has its own temporary directory: the data dir is `<tmp>/data` (not created
//! beforehand, so the binary must create it) and the working directory is `<tmp>`, so no
//! stray `./skjold.toml` is picked up. `SKJOLD_*` variables of the caller's environment are
//! removed. HTTPS requests go through `curl --cacert <data>/tls/cert.pem`, so the server's
//! own generated certificate is verified (no `-k`).

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_skjold");
/// How long a server may take to print its first lines.
const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long a graceful shutdown may take (the server allows requests 10 s to finish).
const STOP_DEADLINE: Duration = Duration::from_secs(15);
const GOOD_PASSWORD: &str = "correct horse battery";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A temporary directory holding one test's data dir and working directory.
struct Sandbox {
    tmp: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("temporary directory"),
        }
    }

    fn root(&self) -> &Path {
        self.tmp.path()
    }

    fn data(&self) -> PathBuf {
        self.root().join("data")
    }

    fn cert(&self) -> PathBuf {
        self.data().join("tls").join("cert.pem")
    }

    /// `skjold` with nothing of the caller's configuration: no `SKJOLD_*` variables, the
    /// sandbox as working directory, and no `--data-dir` (tests add it).
    fn bare_command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("SKJOLD_") {
                cmd.env_remove(key);
            }
        }
        // With backtraces switched on, an error printed with `{:?}` or a panic would show
        // one; the error tests then prove that neither happens.
        cmd.env("RUST_BACKTRACE", "1")
            .env("NO_COLOR", "1")
            .current_dir(self.root());
        cmd
    }

    /// `skjold --data-dir <sandbox>/data <args>`.
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_command();
        cmd.arg("--data-dir").arg(self.data()).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Out {
        run(self.command(args), None)
    }

    fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        run(self.command(args), Some(stdin))
    }

    fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        run(cmd, None)
    }

    /// `tenant list --json`, parsed.
    fn tenants(&self) -> Vec<Value> {
        let out = self.run(&["tenant", "list", "--json"]).ok();
        match serde_json::from_str(&out.stdout) {
            Ok(Value::Array(items)) => items,
            other => panic!("tenant list --json is not a JSON array: {other:?}\n{out:?}"),
        }
    }

    fn tenant_slugs(&self) -> Vec<String> {
        self.tenants()
            .iter()
            .map(|t| t["slug"].as_str().expect("slug is a string").to_string())
            .collect()
    }

    fn tenant_status(&self, slug: &str) -> String {
        let tenants = self.tenants();
        let t = tenants
            .iter()
            .find(|t| t["slug"] == slug)
            .unwrap_or_else(|| panic!("no tenant {slug} in {tenants:?}"));
        t["status"]
            .as_str()
            .expect("status is a string")
            .to_string()
    }

    /// `user list --tenant <slug> --json`, parsed.
    fn users(&self, tenant: &str) -> Vec<Value> {
        let out = self
            .run(&["user", "list", "--tenant", tenant, "--json"])
            .ok();
        match serde_json::from_str(&out.stdout) {
            Ok(Value::Array(items)) => items,
            other => panic!("user list --json is not a JSON array: {other:?}\n{out:?}"),
        }
    }

    /// Creates tenant `slug` with administrator `boss` and returns the one-time password.
    fn create_tenant(&self, slug: &str) -> String {
        let out = self
            .run(&[
                "tenant", "create", slug, "--name", "Test", "--admin", "boss",
            ])
            .ok();
        one_time_password(&out)
    }
}

/// What a finished command printed.
#[derive(Debug)]
struct Out {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Out {
    fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Asserts success with nothing on standard error.
    fn ok(self) -> Self {
        assert!(self.status.success(), "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "expected an empty stderr: {self:#?}");
        self
    }

    /// Asserts the failure convention: exit code 1, nothing on stdout, one line on stderr
    /// starting with `error: `, no panic and no backtrace. Returns that line.
    fn fails(&self) -> &str {
        assert_eq!(
            self.status.code(),
            Some(1),
            "expected exit code 1: {self:#?}"
        );
        assert_eq!(
            self.stdout, "",
            "a failure prints nothing on stdout: {self:#?}"
        );
        assert_no_crash(&self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one line on stderr: {self:#?}");
        assert!(
            lines[0].starts_with("error: "),
            "the line starts with 'error: ': {self:#?}"
        );
        lines[0]
    }

    /// Like [`Out::fails`], and the line contains every one of `needles`.
    fn fails_with(&self, needles: &[&str]) -> &str {
        let line = self.fails();
        for needle in needles {
            assert!(line.contains(needle), "{line:?} should contain {needle:?}");
        }
        line
    }
}

fn assert_no_crash(stderr: &str) {
    for bad in [
        "panicked",
        "backtrace",
        "Backtrace",
        "stack backtrace",
        "RUST_BACKTRACE",
    ] {
        assert!(!stderr.contains(bad), "stderr contains {bad:?}: {stderr}");
    }
}

fn run(mut cmd: Command, stdin: Option<&str>) -> Out {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = cmd.spawn().expect("start skjold");
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().expect("stdin pipe");
        pipe.write_all(input.as_bytes()).expect("write stdin");
        // Dropping the pipe closes it, so the reader sees end of input.
    }
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for skjold");
    Out {
        status,
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// The password of the `one-time password: …` line.
fn one_time_password(out: &Out) -> String {
    let password = out
        .stdout_lines()
        .iter()
        .find_map(|l| l.strip_prefix("one-time password: "))
        .unwrap_or_else(|| panic!("no one-time password line: {out:#?}"))
        .to_string();
    assert!(
        password.chars().count() >= 12 && !password.contains(char::is_whitespace),
        "a usable one-time password: {password:?}"
    );
    password
}

/// A port that was free a moment ago. A race with another process is possible, so
/// [`Server::start`] retries when the address turns out to be taken.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Sends every line read from `pipe` to the returned channel; it disconnects at end of
/// file, i.e. when the process has closed the pipe (normally: exited).
fn line_reader(pipe: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// A running `skjold serve`, killed when dropped.
struct Server {
    child: Child,
    port: u16,
    redirect_port: Option<u16>,
    stdout_rx: Receiver<String>,
    stderr_rx: Receiver<String>,
    /// Every stdout line read so far.
    stdout: Vec<String>,
    stderr: Vec<String>,
}

impl Server {
    /// `serve` on free ports with the redirect switched off.
    fn start(sandbox: &Sandbox) -> Self {
        Self::start_with(sandbox, false, &[])
    }

    /// `serve` on free ports; `redirect` picks a port for the plain-HTTP redirect too.
    /// Returns once the server answers HTTPS requests (and so has also installed its
    /// signal handlers: see [`sigterm_right_after_the_serving_line_is_graceful`]).
    fn start_with(sandbox: &Sandbox, redirect: bool, env: &[(&str, &str)]) -> Self {
        let server = Self::spawn(sandbox, redirect, env);
        let until = Instant::now() + START_DEADLINE;
        let url = format!("{}/readyz", server.base());
        loop {
            let mut curl = Command::new("curl");
            curl.args(["--silent", "--max-time", "5", "--output", "/dev/null"])
                .arg("--cacert")
                .arg(sandbox.cert())
                .arg(&url);
            // Any HTTP answer will do; curl fails only when there was none.
            if run(curl, None).status.success() {
                return server;
            }
            assert!(Instant::now() < until, "serve does not answer {url}");
        }
    }

    /// `serve` on free ports. Returns once the server printed its demo credentials or its
    /// "serving" line, which it does after binding its listeners.
    fn spawn(sandbox: &Sandbox, redirect: bool, env: &[(&str, &str)]) -> Self {
        for _attempt in 0..3 {
            let port = free_port();
            let redirect_port = redirect.then(|| loop {
                let p = free_port();
                if p != port {
                    break p;
                }
            });
            let redirect_arg =
                redirect_port.map_or("off".to_string(), |p| format!("127.0.0.1:{p}"));
            let listen = format!("127.0.0.1:{port}");
            let mut cmd = sandbox.command(&[
                "serve",
                "--listen",
                &listen,
                "--redirect-listen",
                &redirect_arg,
            ]);
            cmd.envs(env.iter().copied())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("start skjold serve");
            let stdout_rx = line_reader(child.stdout.take().expect("stdout pipe"));
            let stderr_rx = line_reader(child.stderr.take().expect("stderr pipe"));
            let mut server = Server {
                child,
                port,
                redirect_port,
                stdout_rx,
                stderr_rx,
                stdout: Vec::new(),
                stderr: Vec::new(),
            };
            let ready = server.wait_for_line(START_DEADLINE, |l| {
                l.contains("Skjold is serving") || l.trim_start().starts_with("password:")
            });
            if ready {
                return server;
            }
            // The server exited before it was ready. Retry only if our port was taken.
            let _ = server.child.wait();
            server.drain_stderr();
            if !server.stderr.join("\n").contains("Address already in use") {
                panic!(
                    "serve exited before it was ready\nstdout: {:#?}\nstderr: {:#?}",
                    server.stdout, server.stderr
                );
            }
        }
        panic!("serve found no free port in 3 attempts");
    }

    /// Reads stdout until a line satisfies `pred` (true) or stdout closes (false). Panics
    /// when `deadline` passes first.
    fn wait_for_line(&mut self, deadline: Duration, pred: impl Fn(&str) -> bool) -> bool {
        let until = Instant::now() + deadline;
        loop {
            match self
                .stdout_rx
                .recv_timeout(until.saturating_duration_since(Instant::now()))
            {
                Ok(line) => {
                    let hit = pred(&line);
                    self.stdout.push(line);
                    if hit {
                        return true;
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return false,
                Err(RecvTimeoutError::Timeout) => {
                    self.drain_stderr();
                    panic!(
                        "no expected line within {deadline:?}\nstdout: {:#?}\nstderr: {:#?}",
                        self.stdout, self.stderr
                    );
                }
            }
        }
    }

    fn drain_stderr(&mut self) {
        self.stderr.extend(self.stderr_rx.try_iter());
    }

    fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The demo password, if this start printed the demo credentials.
    fn demo_password(&self) -> Option<String> {
        self.stdout.iter().find_map(|l| {
            l.trim_start()
                .strip_prefix("password:")
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        })
    }

    /// SIGTERM, then waits (at most [`STOP_DEADLINE`]) for the process to exit, reading the
    /// rest of its output. Returns the exit status.
    fn stop(&mut self) -> ExitStatus {
        let started = Instant::now();
        let pid = self.child.id().to_string();
        let kill = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(kill.success(), "kill -TERM {pid} failed");
        // Stdout closes when the process exits; read everything up to then.
        self.wait_for_line(STOP_DEADLINE.saturating_sub(started.elapsed()), |_| false);
        let status = self.child.wait().expect("wait for serve");
        self.drain_stderr();
        assert!(
            started.elapsed() < STOP_DEADLINE,
            "serve took {:?} to stop",
            started.elapsed()
        );
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Still running (a test failed before `stop`): do not leave it behind.
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `curl` with the server's own certificate as the only trust anchor; returns the HTTP
/// status and the body. The JSON body goes through stdin, so no password is in argv.
fn https(sandbox: &Sandbox, method: &str, url: &str, body: Option<&Value>) -> (u16, String) {
    let mut cmd = Command::new("curl");
    // HTTP/1.1: this test's refused POSTs (answered before their body is read) sometimes
    // end in curl's "(92) Stream error in the HTTP/2 framing layer" instead of the status
    // (docs/api.md, "Known client issue"); what is tested here is the CLI, not HTTP/2.
    cmd.args([
        "--http1.1",
        "--silent",
        "--show-error",
        "--max-time",
        "20",
        "-X",
        method,
    ])
    .arg("--cacert")
    .arg(sandbox.cert())
    .args(["--write-out", "\n%{http_code}", url]);
    let stdin = body.map(|b| b.to_string());
    if stdin.is_some() {
        cmd.args([
            "-H",
            "content-type: application/json",
            "--data-binary",
            "@-",
        ]);
    }
    let out = run(cmd, stdin.as_deref());
    assert!(out.status.success(), "curl failed: {out:#?}");
    let (body, code) = out
        .stdout
        .rsplit_once('\n')
        .unwrap_or_else(|| panic!("curl output without status: {out:#?}"));
    (code.parse().expect("numeric HTTP status"), body.to_string())
}

/// `POST /<tenant>/api/v1/session`: the HTTP status and the JSON body.
fn sign_in(
    sandbox: &Sandbox,
    server: &Server,
    tenant: &str,
    username: &str,
    password: &str,
) -> (u16, Value) {
    let url = format!("{}/{tenant}/api/v1/session", server.base());
    let (status, body) = https(
        sandbox,
        "POST",
        &url,
        Some(&json!({ "username": username, "password": password })),
    );
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, body)
}

/// Asserts a successful sign-in and the shape of its answer.
fn assert_signs_in(
    sandbox: &Sandbox,
    server: &Server,
    tenant: &str,
    username: &str,
    password: &str,
) -> Value {
    let (status, body) = sign_in(sandbox, server, tenant, username, password);
    assert_eq!(status, 201, "sign-in of {username}@{tenant}: {body}");
    assert!(
        body["token"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["expires_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    assert_eq!(body["user"]["username"], username, "{body}");
    body
}

/// Collapses whitespace, so help texts compare the same however clap wraps them.
fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn sorted_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

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

/// Standard error without the server's log lines (they start with an RFC 3339 time).
fn without_log_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !(l.len() > 20 && l.as_bytes()[4] == b'-' && l.as_bytes()[10] == b'T'))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn operator_reads_are_recorded_in_the_audit_trail() {
    let sandbox = Sandbox::new();
    sandbox
        .run(&[
            "tenant", "create", "acme", "--name", "Acme", "--admin", "boss",
        ])
        .ok();
    sandbox.tenants(); // tenant list --json
    sandbox.users("acme"); // user list --json
    sandbox
        .run(&[
            "audit",
            "search",
            "--tenant",
            "acme",
            "--event",
            "user.created",
        ])
        .ok();
    sandbox.run(&["audit", "verify"]).ok();

    let events = |args: &[&str]| -> Vec<Value> {
        let out = sandbox.run(args).ok();
        out.stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON record per line"))
            .collect()
    };
    let system = events(&["audit", "search", "--system", "--json"]);
    let kinds: Vec<&str> = system.iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"tenant.listed"), "{kinds:?}");
    assert!(kinds.contains(&"audit.verified"), "{kinds:?}");
    let acme = events(&["audit", "search", "--tenant", "acme", "--json"]);
    let listed = acme
        .iter()
        .find(|r| r["kind"] == "user.listed")
        .expect("user list is recorded in the tenant's trail");
    assert_eq!(listed["username"], "operator");
    assert_eq!(listed["detail"]["via"], "cli");
    let searched = acme
        .iter()
        .find(|r| r["kind"] == "audit.searched")
        .expect("an audit search is itself recorded");
    assert_eq!(searched["detail"]["event"], "user.created");
    // Everything written by these short-lived processes is in both sinks.
    sandbox.run(&["audit", "verify", "--tenant", "acme"]).ok();
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
