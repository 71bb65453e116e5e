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
