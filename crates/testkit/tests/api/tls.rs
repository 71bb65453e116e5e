//! TLS: only 1.2 and 1.3 are spoken; plain HTTP only redirects.

use rustls::pki_types::ServerName;
use skjold_testkit::spawn_app;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A minimal ClientHello that offers at most the given legacy version and no extensions
/// (so no `supported_versions`): what a TLS 1.0 / 1.1 client sends.
fn legacy_client_hello(version: [u8; 2]) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&version); // client_version
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // session id length
    let suites: [u8; 6] = [0x00, 0x2f, 0x00, 0x35, 0xc0, 0x13]; // RSA-AES128/256-SHA, ECDHE-RSA-AES128-SHA
    body.extend_from_slice(&(suites.len() as u16).to_be_bytes());
    body.extend_from_slice(&suites);
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut hs = vec![1u8]; // ClientHello
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    record.extend_from_slice(&hs);
    record
}

#[tokio::test]
async fn tls_1_0_and_1_1_handshakes_are_refused() {
    let app = spawn_app().await;
    for (name, version) in [("TLS 1.0", [3, 1]), ("TLS 1.1", [3, 2])] {
        let mut stream = TcpStream::connect(app.https_addr).await.unwrap();
        stream
            .write_all(&legacy_client_hello(version))
            .await
            .unwrap();
        let mut reply = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            stream.read_to_end(&mut reply),
        )
        .await;
        // The server answers with an alert record (content type 21), never a ServerHello (22).
        assert!(!reply.is_empty(), "{name}: no answer");
        assert_eq!(
            reply[0], 21,
            "{name}: expected an alert, got record type {}",
            reply[0]
        );
        // A fatal alert (level 2): protocol_version (70) or handshake_failure (40).
        assert_eq!(reply[5], 2, "{name}: alert {reply:?} is not fatal");
        assert!([40, 70].contains(&reply[6]), "{name}: alert {reply:?}");
    }
}

async fn handshake(
    app: &skjold_testkit::TestApp,
    version: &'static rustls::SupportedProtocolVersion,
) -> Result<(), String> {
    let cert = std::fs::read(skjold_server::tls::self_signed_paths(app.data_dir.path()).0).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for c in pem_certs(&cert) {
        roots.add(c).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[version])
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(app.https_addr).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    connector
        .connect(name, tcp)
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn pem_certs(pem: &[u8]) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::CertificateDer::pem_slice_iter(pem)
        .map(|c| c.unwrap())
        .collect()
}

#[tokio::test]
async fn tls_1_2_and_1_3_handshakes_succeed_against_the_generated_certificate() {
    let app = spawn_app().await;
    handshake(&app, &rustls::version::TLS13).await.unwrap();
    handshake(&app, &rustls::version::TLS12).await.unwrap();
}

#[tokio::test]
async fn plain_http_only_redirects_permanently_to_https() {
    let app = spawn_app().await;
    let addr = app.redirect_addr.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    for (method, path) in [
        (reqwest::Method::GET, "/demo/api/v1/companies?q=x"),
        (reqwest::Method::POST, "/demo/api/v1/session"),
        (reqwest::Method::GET, "/healthz"),
    ] {
        let res = client
            .request(method.clone(), format!("http://{addr}{path}"))
            .body("{\"username\":\"admin\"}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 308, "{method} {path}");
        let location = res.headers()["location"].to_str().unwrap().to_string();
        assert_eq!(
            location,
            format!("https://127.0.0.1:{}{path}", app.https_addr.port())
        );
        assert!(
            res.text().await.unwrap().is_empty(),
            "the redirect serves no content"
        );
    }
}

/// "All web access is recorded" includes the plain-HTTP listener: each redirect leaves an
/// access record (the addressed tenant's chain, else the system chain), and its traffic
/// counts against the same per-address limit as unauthenticated HTTPS requests.
#[tokio::test]
async fn plain_http_requests_are_audited_and_rate_limited() {
    let app = spawn_app().await;
    let addr = app.redirect_addr.unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: &str| client.get(format!("http://{addr}{path}")).send();
    assert_eq!(
        get("/demo/api/v1/companies?q=x").await.unwrap().status(),
        308
    );
    assert_eq!(get("/healthz").await.unwrap().status(), 308);

    app.state.audit.flush().await.unwrap();
    let records = |chain: &str| {
        let dir = skjold_audit::chain_dir(&skjold_audit::logs_root(app.data_dir.path()), chain);
        skjold_audit::day_files(&dir)
            .unwrap()
            .into_iter()
            .flat_map(|f| {
                std::fs::read_to_string(f)
                    .unwrap()
                    .lines()
                    .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
                    .collect::<Vec<_>>()
            })
            .filter(|r| r["detail"]["listener"] == "http")
            .collect::<Vec<_>>()
    };
    let demo = records("demo");
    assert_eq!(demo.len(), 1, "{demo:?}");
    assert_eq!(demo[0]["kind"], "http.access");
    assert_eq!(demo[0]["path"], "/demo/api/v1/companies");
    assert_eq!(demo[0]["status"], 308);
    assert_eq!(demo[0]["ip"], "127.0.0.1");
    let system = records(skjold_domain::audit::SYSTEM_CHAIN);
    assert_eq!(system.len(), 1, "{system:?}");
    assert_eq!(system[0]["path"], "/healthz");

    // Flooding the redirect is refused like any unauthenticated traffic (the test clock
    // stands still, so the burst is all there is; the two requests above used two of it).
    let burst = app.state.config.audit_unauthenticated_burst;
    let mut statuses = std::collections::BTreeMap::<u16, u32>::new();
    for _ in 0..burst + 20 {
        *statuses
            .entry(get("/demo/").await.unwrap().status().as_u16())
            .or_default() += 1;
    }
    assert_eq!(statuses.get(&429), Some(&22), "{statuses:?}");
    assert_eq!(statuses.get(&308), Some(&(burst - 2)), "{statuses:?}");
}

/// A request refused before its body is read (no session: 401; a body over the limit: 413)
/// still gets its status over HTTP/2, instead of a reset stream ("stream error" in curl).
#[tokio::test]
async fn a_refused_request_with_a_body_gets_its_status_over_http2() {
    let app = spawn_app().await;
    let cert = std::fs::read(skjold_server::tls::self_signed_paths(app.data_dir.path()).0).unwrap();
    let h2 = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(&cert).unwrap())
        .tls_built_in_root_certs(false)
        .http2_prior_knowledge()
        .build()
        .unwrap();
    // Larger than the HTTP/2 windows, so the client is still sending when the server
    // decides.
    let res = h2
        .post(app.url("/demo/api/v1/companies"))
        .header("content-type", "application/json")
        .body(vec![b' '; 4 << 20])
        .send()
        .await
        .expect("the refusal arrives, not a stream error");
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 401);
    let problem: serde_json::Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "urn:skjold:problem:unauthenticated");

    let token = app.admin_token().await;
    let res = h2
        .post(app.url("/demo/api/v1/companies"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(vec![b' '; 3 << 20])
        .send()
        .await
        .expect("the 413 arrives, not a stream error");
    assert_eq!(res.version(), reqwest::Version::HTTP_2);
    assert_eq!(res.status(), 413);
    // The connection is still good for the next request.
    let res = h2
        .get(app.url("/demo/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}
