//! Backups on from the first start (docs/operations.md): with no `backup.recipients`, the
//! first `serve` generates `data_dir/backup-identity.txt` (0600), reuses it later, backs up
//! to it and says so; an operator's `recipients` make nothing generated.

use crate::common::{run, Sandbox, Server};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn key_file(sandbox: &Sandbox) -> std::path::PathBuf {
    sandbox.data().join("backup-identity.txt")
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The public key in the generated file's comment.
fn public_key(text: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("a public key comment")
        .to_string()
}

#[test]
fn the_first_start_generates_the_backup_key_and_later_starts_reuse_it() {
    let sandbox = Sandbox::new();
    let mut first = Server::start(&sandbox);
    assert_eq!(first.stop().code(), Some(0), "{:#?}", first.stderr);
    let key = key_file(&sandbox);
    assert_eq!(mode(&key), 0o600, "the key is private");
    let text = std::fs::read_to_string(&key).unwrap();
    let secret = text
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .expect("an age identity")
        .to_string();
    let public = public_key(&text);

    // Said loudly on standard output, with what to do; the private key nowhere.
    let out = first.stdout.join("\n");
    assert!(
        out.contains("BACKUPS ARE ON. Skjold generated their key"),
        "{out}"
    );
    assert!(out.contains(&key.display().to_string()), "{out}");
    assert!(out.contains("Copy"), "{out}");
    assert!(out.contains("second recipient"), "{out}");
    assert!(out.contains(&public), "{out}");
    let err = first.stderr.join("\n");
    assert!(
        err.contains("THE BACKUP KEY IS ONLY ON THIS SERVER"),
        "{err}"
    );
    assert!(!err.contains("BACKUPS ARE OFF"), "{err}");
    for all in [&out, &err] {
        assert!(
            !all.contains(&secret) && !all.contains("AGE-SECRET-KEY"),
            "{all}"
        );
    }

    // The second start: the same file, untouched, and the reminder again.
    let mut second = Server::start(&sandbox);
    assert_eq!(second.stop().code(), Some(0), "{:#?}", second.stderr);
    assert_eq!(std::fs::read_to_string(&key).unwrap(), text);
    assert_eq!(mode(&key), 0o600);
    let out = second.stdout.join("\n");
    assert!(
        out.contains("encrypted to the key Skjold generated"),
        "{out}"
    );
    assert!(!out.contains(&secret), "{out}");

    // The CLI backs up with it too (it reads the configuration the same way).
    let status = sandbox.run(&["backup", "status", "--json"]).ok();
    assert!(status.stdout.contains("\"destinations\""), "{status:#?}");
}

#[test]
fn configured_recipients_generate_no_key() {
    let sandbox = Sandbox::new();
    let operator = age::x25519::Identity::generate().to_public().to_string();
    std::fs::write(
        sandbox.root().join("skjold.toml"),
        format!("[backup]\nrecipients = [\"{operator}\"]\n"),
    )
    .unwrap();
    let mut server = Server::start(&sandbox);
    assert_eq!(server.stop().code(), Some(0), "{:#?}", server.stderr);
    assert!(!key_file(&sandbox).exists());
    let out = server.stdout.join("\n");
    assert!(!out.contains("BACKUPS ARE ON"), "{out}");
    let err = server.stderr.join("\n");
    assert!(!err.contains("BACKUP KEY IS ONLY ON THIS SERVER"), "{err}");
    assert!(!err.contains("BACKUPS ARE OFF"), "{err}");
}

#[test]
fn generate_key_false_leaves_backups_off_as_before() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.root().join("skjold.toml"),
        "[backup]\ngenerate_key = false\n",
    )
    .unwrap();
    let mut server = Server::start(&sandbox);
    assert_eq!(server.stop().code(), Some(0), "{:#?}", server.stderr);
    assert!(!key_file(&sandbox).exists());
    assert!(
        server.stderr.join("\n").contains("BACKUPS ARE OFF"),
        "{:#?}",
        server.stderr
    );
}

/// A fresh server (the test kit's: a real server with a clock the test moves) backs up at
/// its first night, and `skjold backup verify` with the generated key passes on it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_nightly_backup_of_a_fresh_server_verifies() {
    let app = skjold_testkit::spawn_app().await;
    let data = app.data_dir.path().to_path_buf();
    let key = data.join("backup-identity.txt");
    assert_eq!(mode(&key), 0o600);
    let backups = app.state.backups.clone().expect("backups are on");
    assert!(backups.config().is_on());
    assert_eq!(
        backups.config().identity_file.as_deref(),
        Some(std::path::absolute(&key).unwrap().as_path())
    );

    // The next night, a minute after the default snapshot time (02:30 UTC).
    let now = skjold_domain::Clock::now(&app.clock);
    let night = (now.date_naive() + chrono::Days::new(1))
        .and_hms_opt(2, 31, 0)
        .unwrap()
        .and_utc();
    app.clock.set(night);
    let mut jobs = skjold_server::jobs::Scheduler::for_state(&app.state);
    let ran = jobs.run_due(&app.state).await;
    assert!(ran.contains(&"backup.snapshot"), "{ran:?}");
    let snapshots = backups.list_snapshots("demo").await.unwrap();
    // (Journal shipping may have taken the `initial` base beside it.)
    assert_eq!(
        snapshots.iter().filter(|s| s.reason == "nightly").count(),
        1,
        "{snapshots:?}"
    );
    // The drill ran with the generated key too.
    let drills = app.state.tenants.catalog().drills(None, 10).await.unwrap();
    assert_eq!(drills.len(), 1, "{drills:?}");
    assert_eq!(drills[0].outcome, "passed", "{drills:?}");

    // The operator's command, the real binary, beside the running server.
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare_command();
    cmd.arg("--data-dir").arg(&data).args([
        "backup",
        "verify",
        "--identity",
        key.to_str().unwrap(),
        "--json",
    ]);
    let out = tokio::task::spawn_blocking(move || run(cmd, None))
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:#?}");
    let report: serde_json::Value = serde_json::from_str(&out.stdout).expect("JSON");
    assert!(report["checked"].as_u64().unwrap() >= 2, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
}
