//! What the CLI tests share: a sandbox per test, running the binary, a running server,
//! HTTPS requests with its own certificate.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_skjold");
/// How long a server may take to print its first lines.
pub(crate) const START_DEADLINE: Duration = Duration::from_secs(30);
/// How long a graceful shutdown may take (the server allows requests 10 s to finish).
pub(crate) const STOP_DEADLINE: Duration = Duration::from_secs(15);
pub(crate) const GOOD_PASSWORD: &str = "correct horse battery";

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// A temporary directory holding one test's data dir and working directory.
pub(crate) struct Sandbox {
    pub(crate) tmp: tempfile::TempDir,
}

impl Sandbox {
    pub(crate) fn new() -> Self {
        Self {
            tmp: tempfile::tempdir().expect("temporary directory"),
        }
    }

    pub(crate) fn root(&self) -> &Path {
        self.tmp.path()
    }

    pub(crate) fn data(&self) -> PathBuf {
        self.root().join("data")
    }

    pub(crate) fn cert(&self) -> PathBuf {
        self.data().join("tls").join("cert.pem")
    }

    /// `skjold` with nothing of the caller's configuration: no `SKJOLD_*` variables, the
    /// sandbox as working directory, and no `--data-dir` (tests add it).
    pub(crate) fn bare_command(&self) -> Command {
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
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.bare_command();
        cmd.arg("--data-dir").arg(self.data()).args(args);
        cmd
    }

    pub(crate) fn run(&self, args: &[&str]) -> Out {
        run(self.command(args), None)
    }

    pub(crate) fn run_stdin(&self, args: &[&str], stdin: &str) -> Out {
        run(self.command(args), Some(stdin))
    }

    pub(crate) fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        run(cmd, None)
    }

    /// `tenant list --json`, parsed.
    pub(crate) fn tenants(&self) -> Vec<Value> {
        let out = self.run(&["tenant", "list", "--json"]).ok();
        match serde_json::from_str(&out.stdout) {
            Ok(Value::Array(items)) => items,
            other => panic!("tenant list --json is not a JSON array: {other:?}\n{out:?}"),
        }
    }

    pub(crate) fn tenant_slugs(&self) -> Vec<String> {
        self.tenants()
            .iter()
            .map(|t| t["slug"].as_str().expect("slug is a string").to_string())
            .collect()
    }

    pub(crate) fn tenant_status(&self, slug: &str) -> String {
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
    pub(crate) fn users(&self, tenant: &str) -> Vec<Value> {
        let out = self
            .run(&["user", "list", "--tenant", tenant, "--json"])
            .ok();
        match serde_json::from_str(&out.stdout) {
            Ok(Value::Array(items)) => items,
            other => panic!("user list --json is not a JSON array: {other:?}\n{out:?}"),
        }
    }

    /// Creates tenant `slug` with administrator `boss` and returns the one-time password.
    pub(crate) fn create_tenant(&self, slug: &str) -> String {
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
pub(crate) struct Out {
    pub(crate) status: ExitStatus,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    pub(crate) fn stdout_lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }

    /// Asserts success with nothing on standard error.
    pub(crate) fn ok(self) -> Self {
        assert!(self.status.success(), "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "expected an empty stderr: {self:#?}");
        self
    }

    /// Asserts the failure convention: exit code 1, nothing on stdout, one line on stderr
    /// starting with `error: `, no panic and no backtrace. Returns that line.
    pub(crate) fn fails(&self) -> &str {
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
    pub(crate) fn fails_with(&self, needles: &[&str]) -> &str {
        let line = self.fails();
        for needle in needles {
            assert!(line.contains(needle), "{line:?} should contain {needle:?}");
        }
        line
    }
}

pub(crate) fn assert_no_crash(stderr: &str) {
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

pub(crate) fn run(mut cmd: Command, stdin: Option<&str>) -> Out {
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
pub(crate) fn one_time_password(out: &Out) -> String {
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
pub(crate) fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// Sends every line read from `pipe` to the returned channel; it disconnects at end of
/// file, i.e. when the process has closed the pipe (normally: exited).
pub(crate) fn line_reader(pipe: impl Read + Send + 'static) -> Receiver<String> {
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
pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) redirect_port: Option<u16>,
    pub(crate) stdout_rx: Receiver<String>,
    pub(crate) stderr_rx: Receiver<String>,
    /// Every stdout line read so far.
    pub(crate) stdout: Vec<String>,
    pub(crate) stderr: Vec<String>,
}

impl Server {
    /// `serve` on free ports with the redirect switched off.
    pub(crate) fn start(sandbox: &Sandbox) -> Self {
        Self::start_with(sandbox, false, &[])
    }

    /// `serve` on free ports; `redirect` picks a port for the plain-HTTP redirect too.
    /// Returns once the server answers HTTPS requests (and so has also installed its
    /// signal handlers: see [`sigterm_right_after_the_serving_line_is_graceful`]).
    pub(crate) fn start_with(sandbox: &Sandbox, redirect: bool, env: &[(&str, &str)]) -> Self {
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
    pub(crate) fn spawn(sandbox: &Sandbox, redirect: bool, env: &[(&str, &str)]) -> Self {
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
            // Any free port: the default 9464 would be taken by the first of the servers
            // that tests start side by side.
            cmd.env("SKJOLD_METRICS_LISTEN", "127.0.0.1:0")
                .envs(env.iter().copied())
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
    pub(crate) fn wait_for_line(
        &mut self,
        deadline: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> bool {
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

    pub(crate) fn drain_stderr(&mut self) {
        self.stderr.extend(self.stderr_rx.try_iter());
    }

    pub(crate) fn base(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The demo password, if this start printed the demo credentials.
    pub(crate) fn demo_password(&self) -> Option<String> {
        self.stdout.iter().find_map(|l| {
            l.trim_start()
                .strip_prefix("password:")
                .map(|rest| rest.split_whitespace().next().unwrap_or("").to_string())
        })
    }

    /// SIGTERM, then waits (at most [`STOP_DEADLINE`]) for the process to exit, reading the
    /// rest of its output. Returns the exit status.
    pub(crate) fn stop(&mut self) -> ExitStatus {
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
pub(crate) fn https(
    sandbox: &Sandbox,
    method: &str,
    url: &str,
    body: Option<&Value>,
) -> (u16, String) {
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
pub(crate) fn sign_in(
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
pub(crate) fn assert_signs_in(
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
pub(crate) fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

pub(crate) fn sorted_keys(v: &Value) -> Vec<String> {
    let mut keys: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    keys.sort();
    keys
}

pub(crate) fn dir_entries(dir: &Path) -> Vec<String> {
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

/// Standard error without the server's log lines (they start with an RFC 3339 time).
pub(crate) fn without_log_lines(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|l| !(l.len() > 20 && l.as_bytes()[4] == b'-' && l.as_bytes()[10] == b'T'))
        .map(|l| format!("{l}\n"))
        .collect()
}
