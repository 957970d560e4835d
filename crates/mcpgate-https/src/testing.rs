//! A local server for tests of code that fetches over HTTPS (feature `testing`).
//!
//! [`TestServer::start`] listens on 127.0.0.1 with a certificate for `127.0.0.1` and
//! `localhost` issued by a CA of its own, written to [`TestServer::ca_path`] for the client's
//! extra CA setting. Each path answers with the [`Reply`] set by [`TestServer::route`]; any
//! other path gets 404. Every request's path is recorded, so a test can prove that nothing
//! was fetched. [`TestServer::start_plain`] serves the same routes over plain HTTP.
//! [`TestServer::stop`] takes the server down, for clients that must cope with its absence.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// Largest request head the server reads.
const MAX_HEAD: usize = 8 * 1024;

/// What the server answers on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status code.
    pub status: u16,
    /// Extra response headers (`connection: close` is always written).
    pub headers: Vec<(String, String)>,
    /// The response body.
    pub body: Vec<u8>,
    /// How long the server waits before it answers.
    pub delay: Duration,
    /// Whether `content-length` is sent; without it the body ends when the connection closes.
    pub announce_length: bool,
}

impl Reply {
    /// A 200 answer with a JSON body.
    pub fn json(body: impl Into<Vec<u8>>) -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
            delay: Duration::ZERO,
            announce_length: true,
        }
    }

    /// An empty answer with `status`.
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
            delay: Duration::ZERO,
            announce_length: true,
        }
    }

    /// A 302 redirect to `location`.
    pub fn redirect(location: &str) -> Self {
        Self {
            headers: vec![("location".into(), location.into())],
            ..Self::status(302)
        }
    }

    /// The same answer without `content-length`.
    #[must_use]
    pub fn unannounced(self) -> Self {
        Self {
            announce_length: false,
            ..self
        }
    }

    /// The same answer, sent after `delay`.
    #[must_use]
    pub fn after(self, delay: Duration) -> Self {
        Self { delay, ..self }
    }
}

type Routes = Arc<Mutex<HashMap<String, Reply>>>;

/// A local HTTP(S) server on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct TestServer {
    port: u16,
    https: bool,
    routes: Routes,
    requests: Arc<Mutex<Vec<String>>>,
    ca: Option<tempfile::TempDir>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    /// Starts an HTTPS server with a fresh CA.
    ///
    /// # Errors
    ///
    /// When the certificates cannot be made or the port cannot be bound.
    pub async fn start() -> io::Result<Self> {
        let ca_key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let mut ca_params =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(io::Error::other)?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mcpgate test CA");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).map_err(io::Error::other)?;
        let server_key = rcgen::KeyPair::generate().map_err(io::Error::other)?;
        let server_cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
                .map_err(io::Error::other)?
                .signed_by(&server_key, &ca)
                .map_err(io::Error::other)?;
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("ca.pem"), ca.pem())?;
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .map_err(io::Error::other)?;
        Self::serve(
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(tls))),
            Some(dir),
        )
        .await
    }

    /// Starts a plain HTTP server (for clients that must refuse it, or allow it on purpose).
    ///
    /// # Errors
    ///
    /// When the port cannot be bound.
    pub async fn start_plain() -> io::Result<Self> {
        Self::serve(None, None).await
    }

    async fn serve(
        acceptor: Option<tokio_rustls::TlsAcceptor>,
        ca: Option<tempfile::TempDir>,
    ) -> io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let routes = Routes::default();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let https = acceptor.is_some();
        let task = tokio::spawn({
            let (routes, requests) = (Arc::clone(&routes), Arc::clone(&requests));
            async move {
                while let Ok((tcp, _)) = listener.accept().await {
                    let (acceptor, routes, requests) =
                        (acceptor.clone(), Arc::clone(&routes), Arc::clone(&requests));
                    tokio::spawn(async move {
                        match acceptor {
                            Some(acceptor) => {
                                if let Ok(tls) = acceptor.accept(tcp).await {
                                    answer(tls, &routes, &requests).await;
                                }
                            }
                            None => answer(tcp, &routes, &requests).await,
                        }
                    });
                }
            }
        });
        Ok(Self {
            port,
            https,
            routes,
            requests,
            ca,
            task,
        })
    }

    /// Sets the answer on `path` (such as `/.well-known/did.json`).
    pub fn route(&self, path: &str, reply: Reply) {
        lock(&self.routes).insert(path.to_owned(), reply);
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of `path` on this server, by IP address.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}{path}", self.port)
    }

    /// The PEM file of the CA that issued the server's certificate (`None` for plain HTTP).
    pub fn ca_path(&self) -> Option<std::path::PathBuf> {
        self.ca.as_ref().map(|dir| dir.path().join("ca.pem"))
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.requests).clone()
    }

    /// Stops listening: when this returns, connections to the port are refused.
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Reads one request head and writes the routed answer, then closes the connection.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    routes: &Mutex<HashMap<String, Reply>>,
    requests: &Mutex<Vec<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return;
        }
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(buf.get(..n).unwrap_or_default()),
        }
    }
    let text = String::from_utf8_lossy(&head);
    let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
    lock(requests).push(path.clone());
    let reply = lock(routes)
        .get(&path)
        .cloned()
        .unwrap_or_else(|| Reply::status(404));
    tokio::time::sleep(reply.delay).await;
    let reason = http::StatusCode::from_u16(reply.status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Other");
    let mut response = format!("HTTP/1.1 {} {reason}\r\n", reply.status);
    for (name, value) in &reply.headers {
        response.push_str(&format!("{name}: {value}\r\n"));
    }
    if reply.announce_length {
        response.push_str(&format!("content-length: {}\r\n", reply.body.len()));
    }
    response.push_str("connection: close\r\n\r\n");
    let mut bytes = response.into_bytes();
    bytes.extend_from_slice(&reply.body);
    let _ = stream.write_all(&bytes).await;
    let _ = stream.shutdown().await;
}
