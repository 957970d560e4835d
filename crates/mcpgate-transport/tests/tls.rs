//! TLS and mutual TLS on the HTTP front: real certificates (generated per test run), real
//! sockets on 127.0.0.1, a tiny router that reports the client certificate it was given.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "helpers shared by the tests fail loudly"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::routing::get;
use axum::{Extension, Router};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use mcpgate_transport::tls::{
    ClientAuth, PeerCertificate, TlsError, TlsSettings, serve_https, server_config,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use rustls::{AlertDescription, ClientConfig, RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_util::sync::CancellationToken;

const HANDSHAKE: Duration = Duration::from_secs(5);
const BOUND: Duration = Duration::from_secs(5);

// === certificates ===

struct Leaf {
    cert: CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

impl Leaf {
    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key.serialize_der()).into()
    }
}

struct Pki {
    dir: tempfile::TempDir,
    ca: CertificateDer<'static>,
    alice: Leaf,
    /// A client certificate from an unrelated CA.
    mallory: Leaf,
}

impl Pki {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn server_only(&self) -> TlsSettings {
        TlsSettings::new(self.path("server.pem"), self.path("server.key"))
    }

    fn mutual(&self, auth: ClientAuth) -> TlsSettings {
        self.server_only()
            .with_client_ca(self.path("client-ca.pem"), auth)
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, params: CertificateParams) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Leaf {
        cert: cert.der().clone(),
        pem: cert.pem(),
        key,
    }
}

fn client_leaf(issuer: &CertifiedIssuer<'static, KeyPair>, name: &str) -> Leaf {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = vec![SanType::URI(
        format!("spiffe://example.org/agent/{name}")
            .try_into()
            .unwrap(),
    )];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf(issuer, params)
}

fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let root = ca("mcpgate test CA");
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server = leaf(&root, params);
    let alice = client_leaf(&root, "alice");
    let other = ca("unrelated CA");
    let mallory = client_leaf(&other, "alice");

    let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
    // The chain file carries the end-entity certificate first, then its issuer.
    write("server.pem", format!("{}{}", server.pem, root.pem()));
    write("server.key", server.key.serialize_pem());
    write("client-ca.pem", root.pem());
    write("other.key", KeyPair::generate().unwrap().serialize_pem());
    write("empty.pem", String::new());
    Pki {
        ca: root.der().clone(),
        alice,
        mallory,
        dir,
    }
}

// === server ===

/// Answers `none` or `<length> <sha-256 hex>` of the client certificate it was given.
async fn whoami(cert: Option<Extension<PeerCertificate>>) -> String {
    match cert {
        None => "none".to_owned(),
        Some(Extension(cert)) => format!("{} {}", cert.der().len(), sha256(cert.der())),
    }
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn app() -> Router {
    Router::new().route("/whoami", get(whoami))
}

struct Server {
    addr: SocketAddr,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(router: Router, config: Arc<ServerConfig>, handshake: Duration) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(serve_https(
        router,
        listener,
        config,
        shutdown.clone(),
        handshake,
    ));
    Server {
        addr,
        shutdown,
        task,
    }
}

async fn start_with(settings: &TlsSettings) -> Server {
    start(app(), server_config(settings).unwrap(), HANDSHAKE).await
}

impl Server {
    async fn stop(self) {
        self.shutdown.cancel();
        tokio::time::timeout(BOUND, self.task)
            .await
            .expect("the server drains in time")
            .unwrap()
            .unwrap();
    }
}

// === client ===

fn connector(
    pki: &Pki,
    cert: Option<&Leaf>,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_protocol_versions(versions)
            .unwrap()
            .with_root_certificates(roots);
    let mut config = match cert {
        None => builder.with_no_client_auth(),
        Some(leaf) => builder
            .with_client_auth_cert(vec![leaf.cert.clone()], leaf.key_der())
            .unwrap(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

const TLS13: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];
const TLS12: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS12];

async fn connect(
    connector: &TlsConnector,
    addr: SocketAddr,
) -> std::io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
}

/// Sends `GET /whoami` `n` times on one connection; returns the status and body of each.
async fn whoami_n(tls: TlsStream<TcpStream>, n: usize) -> Vec<(u16, String)> {
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut answers = Vec::new();
    for _ in 0..n {
        let req = http::Request::get("/whoami")
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        let resp = sender.send_request(req).await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        answers.push((status, String::from_utf8(body.to_vec()).unwrap()));
    }
    answers
}

async fn whoami_once(connector: &TlsConnector, addr: SocketAddr) -> (u16, String) {
    let tls = tokio::time::timeout(BOUND, connect(connector, addr))
        .await
        .unwrap()
        .unwrap();
    tokio::time::timeout(BOUND, whoami_n(tls, 1))
        .await
        .unwrap()
        .remove(0)
}

/// Connects and sends a request; expects the TLS layer (not HTTP) to refuse, and returns
/// the alert the server sent. With TLS 1.3 the client's handshake completes before the
/// server has checked the client certificate, so the refusal arrives on the first read.
async fn refused(connector: &TlsConnector, addr: SocketAddr) -> AlertDescription {
    let attempt = async {
        let mut tls = connect(connector, addr).await?;
        tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut answer = Vec::new();
        tls.read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let err = match tokio::time::timeout(BOUND, attempt).await.unwrap() {
        Ok(answer) => panic!(
            "the server answered instead of refusing the handshake: {:?}",
            String::from_utf8_lossy(&answer)
        ),
        Err(e) => e,
    };
    match err
        .get_ref()
        .and_then(|e| e.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::AlertReceived(alert)) => *alert,
        _ => panic!("expected a TLS alert from the server, got {err:?}"),
    }
}

// === tests ===

#[tokio::test]
async fn tls_without_client_auth() {
    let pki = pki();
    let config = server_config(&pki.server_only()).unwrap();
    assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
    let server = start(app(), config, HANDSHAKE).await;
    for versions in [TLS13, TLS12] {
        let tls = connect(&connector(&pki, None, versions), server.addr)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
        let answers = whoami_n(tls, 1).await;
        assert_eq!(answers, vec![(200, "none".to_owned())]);
    }
    server.stop().await;
}

#[tokio::test]
async fn mtls_required_passes_the_client_certificate_to_every_request() {
    let pki = pki();
    let server = start_with(&pki.mutual(ClientAuth::Required)).await;
    let expected = format!("{} {}", pki.alice.cert.len(), sha256(&pki.alice.cert));
    for versions in [TLS13, TLS12] {
        let tls = connect(&connector(&pki, Some(&pki.alice), versions), server.addr)
            .await
            .unwrap();
        let answers = whoami_n(tls, 3).await;
        assert_eq!(answers, vec![(200, expected.clone()); 3], "{versions:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn mtls_required_refuses_a_client_without_certificate() {
    let pki = pki();
    let server = start_with(&pki.mutual(ClientAuth::Required)).await;
    for versions in [TLS13, TLS12] {
        let alert = refused(&connector(&pki, None, versions), server.addr).await;
        assert_eq!(alert, AlertDescription::CertificateRequired, "{versions:?}");
    }
    server.stop().await;
}

#[tokio::test]
async fn mtls_refuses_a_certificate_from_another_ca_at_the_handshake() {
    let pki = pki();
    for auth in [ClientAuth::Required, ClientAuth::Optional] {
        let server = start_with(&pki.mutual(auth)).await;
        for versions in [TLS13, TLS12] {
            let alert = refused(&connector(&pki, Some(&pki.mallory), versions), server.addr).await;
            assert_eq!(alert, AlertDescription::UnknownCA, "{auth:?} {versions:?}");
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn mtls_optional_accepts_clients_with_and_without_certificate() {
    let pki = pki();
    let server = start_with(&pki.mutual(ClientAuth::Optional)).await;
    let anonymous = whoami_once(&connector(&pki, None, TLS13), server.addr).await;
    assert_eq!(anonymous, (200, "none".to_owned()));
    let alice = whoami_once(&connector(&pki, Some(&pki.alice), TLS13), server.addr).await;
    assert_eq!(
        alice,
        (
            200,
            format!("{} {}", pki.alice.cert.len(), sha256(&pki.alice.cert))
        )
    );
    server.stop().await;
}

#[tokio::test]
async fn plain_http_carries_no_peer_certificate() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let stop = shutdown.clone();
    let task = tokio::spawn(async move {
        axum::serve(listener, app())
            .with_graceful_shutdown(async move { stop.cancelled().await })
            .await
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(BOUND, tcp.read_to_string(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nnone"), "{answer}");
    shutdown.cancel();
    tokio::time::timeout(BOUND, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_silent_client_is_dropped_after_the_handshake_timeout() {
    let pki = pki();
    let timeout = Duration::from_millis(300);
    let server = start(app(), server_config(&pki.server_only()).unwrap(), timeout).await;
    let mut tcp = TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(BOUND, tcp.read(&mut buf))
        .await
        .expect("the server closes the connection");
    let elapsed = started.elapsed();
    assert!(
        matches!(read, Ok(0)) || read.is_err(),
        "expected the connection to be closed, read {read:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "closed after {elapsed:?}"
    );
    assert!(elapsed < Duration::from_secs(3), "closed after {elapsed:?}");
    // The server still serves other clients.
    let answer = whoami_once(&connector(&pki, None, TLS13), server.addr).await;
    assert_eq!(answer, (200, "none".to_owned()));
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_request_finish() {
    let pki = pki();
    let (entered_tx, mut entered) = mpsc::channel::<()>(1);
    let (release_tx, release) = tokio::sync::watch::channel(false);
    let router = Router::new().route(
        "/whoami",
        get(move || {
            let entered_tx = entered_tx.clone();
            let mut release = release.clone();
            async move {
                entered_tx.send(()).await.unwrap();
                release.wait_for(|r| *r).await.unwrap();
                "finished"
            }
        }),
    );
    let mut server = start(
        router,
        server_config(&pki.server_only()).unwrap(),
        HANDSHAKE,
    )
    .await;
    let client = connector(&pki, None, TLS13);
    let addr = server.addr;
    let request = tokio::spawn(async move { whoami_once(&client, addr).await });
    tokio::time::timeout(BOUND, entered.recv())
        .await
        .unwrap()
        .unwrap();
    server.shutdown.cancel();
    // The server waits for the request in flight.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut server.task)
            .await
            .is_err(),
        "the server stopped before its in-flight request finished"
    );
    release_tx.send(true).unwrap();
    let answer = tokio::time::timeout(BOUND, request).await.unwrap().unwrap();
    assert_eq!(answer, (200, "finished".to_owned()));
    tokio::time::timeout(BOUND, server.task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    // Nothing listens any more.
    assert!(TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn dropping_the_server_after_shutdown_closes_remaining_connections() {
    let pki = pki();
    let (entered_tx, mut entered) = mpsc::channel::<()>(1);
    let router = Router::new().route(
        "/whoami",
        get(move || {
            let entered_tx = entered_tx.clone();
            async move {
                entered_tx.send(()).await.unwrap();
                std::future::pending::<()>().await;
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = CancellationToken::new();
    let serve = serve_https(
        router,
        listener,
        server_config(&pki.server_only()).unwrap(),
        shutdown.clone(),
        HANDSHAKE,
    );
    let mut serve = Box::pin(serve);
    let client = connector(&pki, None, TLS13);
    let request = tokio::spawn(async move {
        let tls = connect(&client, addr).await.unwrap();
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .unwrap();
        tokio::spawn(conn);
        let req = http::Request::get("/whoami")
            .header(http::header::HOST, "localhost")
            .body(Empty::<Bytes>::new())
            .unwrap();
        sender.send_request(req).await
    });
    tokio::select! {
        _ = &mut serve => panic!("the server stopped on its own"),
        _ = tokio::time::timeout(BOUND, entered.recv()) => {}
    }
    shutdown.cancel();
    assert!(
        tokio::time::timeout(Duration::from_millis(200), &mut serve)
            .await
            .is_err(),
        "the server stopped before its in-flight request finished"
    );
    drop(serve);
    let answer = tokio::time::timeout(BOUND, request).await.unwrap().unwrap();
    assert!(
        answer.is_err(),
        "expected the connection to be closed: {answer:?}"
    );
}

// === configuration errors ===

fn config_error(settings: &TlsSettings) -> (TlsError, String) {
    let err = server_config(settings).unwrap_err();
    let message = err.to_string();
    (err, message)
}

fn assert_no_key_material(message: &str, key_file: &Path) {
    let key = std::fs::read_to_string(key_file).unwrap();
    for line in key.lines().filter(|l| !l.starts_with("-----")) {
        assert!(
            !message.contains(line),
            "the message quotes the key: {message}"
        );
    }
}

#[test]
fn config_error_for_a_missing_file() {
    let pki = pki();
    let mut settings = pki.server_only();
    settings.cert = pki.path("nope.pem");
    let (err, message) = config_error(&settings);
    assert!(matches!(err, TlsError::Read { .. }), "{err:?}");
    assert!(message.contains("nope.pem"), "{message}");

    let settings = pki
        .server_only()
        .with_client_ca(pki.path("no-ca.pem"), ClientAuth::Required);
    let (_, message) = config_error(&settings);
    assert!(message.contains("no-ca.pem"), "{message}");
}

#[test]
fn config_error_for_a_file_without_a_key() {
    let pki = pki();
    let mut settings = pki.server_only();
    settings.key = pki.path("server.pem");
    let (err, message) = config_error(&settings);
    assert!(matches!(err, TlsError::NoPrivateKey { .. }), "{err:?}");
    assert!(message.contains("server.pem"), "{message}");
    assert!(message.contains("no private key"), "{message}");
}

#[test]
fn config_error_for_a_file_without_a_certificate() {
    let pki = pki();
    for file in ["empty.pem", "server.key"] {
        let mut settings = pki.server_only();
        settings.cert = pki.path(file);
        let (err, message) = config_error(&settings);
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
        assert!(message.contains(file), "{message}");
    }
    let settings = pki
        .server_only()
        .with_client_ca(pki.path("empty.pem"), ClientAuth::Optional);
    let (err, message) = config_error(&settings);
    assert!(matches!(err, TlsError::NoCertificate { .. }), "{err:?}");
    assert!(message.contains("empty.pem"), "{message}");
}

#[test]
fn config_error_for_a_key_that_does_not_match_the_certificate() {
    let pki = pki();
    let mut settings = pki.server_only();
    settings.key = pki.path("other.key");
    let (err, message) = config_error(&settings);
    assert!(matches!(err, TlsError::KeyMismatch { .. }), "{err:?}");
    assert!(message.contains("other.key"), "{message}");
    assert!(message.contains("server.pem"), "{message}");
    assert_no_key_material(&message, &pki.path("other.key"));
}
