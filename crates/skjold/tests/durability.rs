//! The audit trail's promise under a crash: no record of a request whose response the
//! client received is lost when the server is killed with SIGKILL under load.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server_log(data: &Path) -> std::path::PathBuf {
    data.with_extension("log")
}

/// Starts `skjold serve` and returns it with the demo password (first start only).
fn start(data: &Path, port: u16) -> (Server, Option<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_skjold"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--redirect-listen",
            "off",
        ])
        .stdout(Stdio::piped())
        // The server's log, kept beside the data dir so that a failure can show it.
        .stderr(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(server_log(data))
                .unwrap(),
        )
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut password = None;
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.trim().strip_prefix("password:") {
            password = rest.split_whitespace().next().map(str::to_string);
        }
        if line.contains("Skjold is serving") || line.contains("API: curl") {
            break;
        }
    }
    // Keep reading what the server prints after that, as a supervisor would: the pipe
    // stays open for the server's whole life.
    std::thread::spawn(move || lines.for_each(drop));
    (Server(child), password)
}

fn curl(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new("curl")
        .args(["-s", "--http1.1", "--max-time", "10", "--cacert"])
        .arg(data.join("tls/cert.pem"))
        .args(args)
        .output()
        .unwrap()
}

fn request_id(headers: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-request-id")
            .then(|| v.trim().to_string())
    })
}

#[test]
fn sigkill_under_load_loses_no_record_of_an_answered_request() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let (server, password) = start(&data, port);
    let password = password.expect("demo password");
    let base = format!("https://127.0.0.1:{port}");
    // The listener may still be coming up: try the sign-in for a while.
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = curl(
            &data,
            &[
                "-X",
                "POST",
                &format!("{base}/demo/api/v1/session"),
                "-H",
                "content-type: application/json",
                "-d",
                &format!("{{\"username\":\"admin\",\"password\":\"{password}\"}}"),
            ],
        );
        if serde_json::from_slice::<serde_json::Value>(&out.stdout).is_ok()
            || Instant::now() > deadline
        {
            break out;
        }
        std::thread::yield_now();
    };
    let body: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "no sign-in answer ({e}); curl: {}\nserver log:\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(server_log(&data)).unwrap_or_default()
        )
    });
    let token = body["token"].as_str().unwrap().to_string();

    // Eight clients send requests until the server dies; each keeps the request ids of the
    // responses it received in full.
    let answered = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (answered, stop, data, base, token) = (
                answered.clone(),
                stop.clone(),
                data.clone(),
                base.clone(),
                token.clone(),
            );
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let out = curl(
                        &data,
                        &[
                            "-D",
                            "-",
                            "-o",
                            "/dev/null",
                            "-H",
                            &format!("authorization: Bearer {token}"),
                            &format!("{base}/demo/api/v1/companies"),
                        ],
                    );
                    let headers = String::from_utf8_lossy(&out.stdout).to_string();
                    if out.status.success()
                        && headers
                            .lines()
                            .next()
                            .is_some_and(|l| l.starts_with("HTTP/") && l.contains(" 200"))
                    {
                        if let Some(id) = request_id(&headers) {
                            answered.lock().unwrap().push(id);
                        }
                    }
                }
            })
        })
        .collect();
    // Kill once enough requests have been answered.
    let deadline = Instant::now() + Duration::from_secs(60);
    while answered.lock().unwrap().len() < 200 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    let mut server = server;
    server.0.kill().unwrap(); // SIGKILL
    server.0.wait().unwrap();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() >= 200,
        "only {} requests answered",
        answered.len()
    );

    // Every answered request is in the day file.
    let mut in_files = String::new();
    for entry in std::fs::read_dir(data.join("logs/audit/demo")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "jsonl") {
            in_files.push_str(&String::from_utf8_lossy(&std::fs::read(&p).unwrap()));
        }
    }
    let missing: Vec<_> = answered
        .iter()
        .filter(|id| !in_files.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "{} answered request(s) not in the audit file: {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );

    // After a restart, the first write brings the database copy up to the file, and the
    // whole chain verifies.
    let (server, _) = start(&data, port);
    let out = curl(
        &data,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{base}/demo/api/v1/companies"),
        ],
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401");
    // A graceful stop: the trail finishes its database copies before the process ends.
    let mut server = server;
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    server.0.wait().unwrap();
    drop(server);
    let verify = Command::new(env!("CARGO_BIN_EXE_skjold"))
        .args([
            "--data-dir",
            data.to_str().unwrap(),
            "audit",
            "verify",
            "--tenant",
            "demo",
        ])
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "verify after the crash: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    let text = String::from_utf8_lossy(&verify.stdout);
    assert!(text.contains("demo: intact"), "{text}");
}
