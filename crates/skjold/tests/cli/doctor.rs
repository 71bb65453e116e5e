//! `skjold doctor`: the findings of a fresh installation, `--json`, and the exit status
//! (1 when any finding is an error: docs/operations.md#skjold-doctor).

use crate::common::{Out, Sandbox, Server};
use serde_json::Value;

/// `doctor --json`, parsed: every finding has the four fields.
fn findings(out: &Out) -> Vec<Value> {
    let items: Vec<Value> = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json is not JSON: {e}\n{out:#?}"));
    for f in &items {
        for key in ["check", "severity", "finding", "fix"] {
            assert!(f[key].is_string(), "{key} in {f}");
        }
        assert!(
            ["ok", "info", "warning", "error"].contains(&f["severity"].as_str().unwrap()),
            "{f}"
        );
    }
    items
}

fn with_check<'a>(items: &'a [Value], check: &str) -> Vec<&'a Value> {
    items.iter().filter(|f| f["check"] == check).collect()
}

#[test]
fn a_fresh_install_is_told_its_backup_key_and_destinations_sit_with_the_data() {
    let sandbox = Sandbox::new();
    let mut server = Server::start(&sandbox);

    // Beside the running server, as an operator would.
    let out = sandbox.run(&["doctor", "--json"]);
    let items = findings(&out);
    let key = with_check(&items, "backups.key_location");
    assert_eq!(key.len(), 1, "{items:#?}");
    assert_eq!(key[0]["severity"], "warning");
    assert!(
        key[0]["finding"]
            .as_str()
            .unwrap()
            .contains("backup-identity.txt"),
        "{key:?}"
    );
    let disk = with_check(&items, "backups.one_disk");
    assert_eq!(disk.len(), 1, "{items:#?}");
    assert_eq!(disk[0]["severity"], "warning");
    // The generated key's reminder, repeated from the start.
    let enabled = with_check(&items, "backups.enabled");
    assert_eq!(enabled[0]["severity"], "warning", "{enabled:?}");
    assert!(
        enabled[0]["fix"]
            .as_str()
            .unwrap()
            .contains("off the server"),
        "{enabled:?}"
    );
    for check in [
        "tls.certificate",
        "tls.settings",
        "audit.chains",
        "clock.skew",
        "disk.space",
    ] {
        let f = with_check(&items, check);
        assert!(!f.is_empty(), "no {check} finding: {items:#?}");
        assert!(f.iter().all(|f| f["severity"] == "ok"), "{f:?}");
    }
    assert_eq!(with_check(&items, "scanner")[0]["severity"], "info");
    // Warnings only: the exit status says all is usable.
    assert!(items.iter().all(|f| f["severity"] != "error"), "{items:#?}");
    assert_eq!(out.status.code(), Some(0), "{out:#?}");

    // The human form: the same findings, each warning with its fix.
    let text = sandbox.run(&["doctor"]).ok();
    assert!(
        text.stdout.contains("WARNING backups.key_location"),
        "{text:#?}"
    );
    assert!(
        text.stdout.contains("WARNING backups.one_disk"),
        "{text:#?}"
    );
    assert!(text.stdout.contains("fix: "), "{text:#?}");
    assert!(text.stdout.contains("0 errors"), "{text:#?}");
    // The private key is never printed.
    let secret = std::fs::read_to_string(sandbox.data().join("backup-identity.txt")).unwrap();
    let secret = secret
        .lines()
        .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .unwrap();
    assert!(!text.stdout.contains(secret) && !out.stdout.contains(secret));
    assert_eq!(server.stop().code(), Some(0));
}

#[test]
fn backups_off_is_an_error_and_doctor_exits_1() {
    let sandbox = Sandbox::new();
    std::fs::write(
        sandbox.root().join("skjold.toml"),
        "[backup]\ngenerate_key = false\n",
    )
    .unwrap();
    let mut server = Server::start(&sandbox);
    assert_eq!(server.stop().code(), Some(0));
    let out = sandbox.run(&["doctor", "--json"]);
    let items = findings(&out);
    let enabled = with_check(&items, "backups.enabled");
    assert_eq!(enabled[0]["severity"], "error", "{items:#?}");
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
    assert_eq!(
        out.stderr.trim(),
        "error: skjold doctor found 1 error(s)",
        "{out:#?}"
    );
}

#[test]
fn an_expired_certificate_is_an_error() {
    let sandbox = Sandbox::new();
    let tls = sandbox.root().join("tls");
    std::fs::create_dir_all(&tls).unwrap();
    let mut params = rcgen::CertificateParams::new(vec!["crm.example.com".into()]).unwrap();
    params.not_before = time::OffsetDateTime::from_unix_timestamp(1_600_000_000).unwrap();
    params.not_after = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    std::fs::write(tls.join("cert.pem"), cert.pem()).unwrap();
    std::fs::write(tls.join("key.pem"), key.serialize_pem()).unwrap();
    std::fs::write(
        sandbox.root().join("skjold.toml"),
        "tls_cert = \"tls/cert.pem\"\ntls_key = \"tls/key.pem\"\n",
    )
    .unwrap();
    let out = sandbox.run(&["doctor", "--json"]);
    let items = findings(&out);
    let cert = with_check(&items, "tls.certificate");
    assert_eq!(cert[0]["severity"], "error", "{items:#?}");
    assert!(
        cert[0]["finding"]
            .as_str()
            .unwrap()
            .contains("expired on 2023-11-14"),
        "{cert:?}"
    );
    assert!(
        cert[0]["fix"]
            .as_str()
            .unwrap()
            .contains("renewed certificate"),
        "{cert:?}"
    );
    assert_eq!(out.status.code(), Some(1), "{out:#?}");
}
