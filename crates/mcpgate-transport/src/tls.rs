//! TLS and mutual TLS for the HTTP front.
//!
//! [`server_config`] turns [`TlsSettings`] (PEM files) into a rustls server configuration with
//! the `ring` provider, TLS 1.2 and 1.3, and ALPN `http/1.1`. With a client CA bundle the
//! server asks for a client certificate and verifies it against that bundle during the
//! handshake: a client without one (when [`ClientAuth::Required`]) or with one from another CA
//! never reaches HTTP.
//!
//! [`serve_https`] serves an axum [`Router`] over TLS, with the same HTTP/1.1 behaviour as the
//! plain server. The verified client certificate of a connection, if any, is attached to every
//! request of that connection as a [`PeerCertificate`] extension; handlers read it with
//! `Option<Extension<PeerCertificate>>`, which is `None` on plain HTTP and for TLS clients that
//! sent no certificate.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Whether a client certificate is required when a client CA bundle is configured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// A client without a certificate signed by the client CA is refused at the handshake.
    #[default]
    Required,
    /// A client may connect without a certificate; one it does present must be signed by the
    /// client CA.
    Optional,
}

/// Where the server's certificate and key, and optionally the client CA bundle, are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server certificate chain, PEM, end-entity certificate first.
    pub cert: PathBuf,
    /// The server private key, PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub key: PathBuf,
    /// A PEM bundle of CA certificates; when set, clients are asked for a certificate and a
    /// certificate they present must chain to one of these.
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required; only meaningful with `client_ca`.
    pub client_auth: ClientAuth,
}

impl TlsSettings {
    /// Server-only TLS from a certificate chain and its key, no client certificates.
    pub fn new(cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        Self {
            cert: cert.into(),
            key: key.into(),
            client_ca: None,
            client_auth: ClientAuth::default(),
        }
    }

    /// Verifies client certificates against the CA bundle at `client_ca`.
    #[must_use]
    pub fn with_client_ca(mut self, client_ca: impl Into<PathBuf>, auth: ClientAuth) -> Self {
        self.client_ca = Some(client_ca.into());
        self.client_auth = auth;
        self
    }
}

/// The end-entity certificate a TLS client presented, DER, verified against the client CA.
///
/// Inserted as a request extension on every request of a connection whose client sent a
/// certificate. Absent on plain HTTP and for TLS clients without a certificate, so handlers
/// take `Option<axum::Extension<PeerCertificate>>`.
#[derive(Clone, PartialEq, Eq)]
pub struct PeerCertificate(pub Arc<[u8]>);

impl PeerCertificate {
    /// The certificate, DER.
    pub fn der(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for PeerCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerCertificate({} bytes)", self.0.len())
    }
}

/// Why a TLS configuration could not be built. Names the file at fault, never its contents.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read (missing, unreadable).
    #[error("cannot read `{}`: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The reason.
        error: io::Error,
    },
    /// A file is not well-formed PEM.
    #[error("`{}` is not valid PEM", path.display())]
    BadPem {
        /// The file.
        path: PathBuf,
    },
    /// The certificate file holds no certificate.
    #[error("no certificate in `{}` (expected a PEM `CERTIFICATE` block)", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The certificate cannot be used as a server certificate.
    #[error("the certificate in `{}` cannot be used: {reason}", path.display())]
    BadCertificate {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// The key file holds no private key.
    #[error(
        "no private key in `{}` (expected a PEM PKCS#8, PKCS#1 or SEC1 private key)",
        path.display()
    )]
    NoPrivateKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is of a kind the server cannot use.
    #[error(
        "the private key in `{}` is not supported (use RSA, ECDSA P-256/P-384 or Ed25519)",
        path.display()
    )]
    UnsupportedKey {
        /// The file.
        path: PathBuf,
    },
    /// The private key is not the one the certificate was issued for.
    #[error(
        "the private key in `{}` does not match the certificate in `{}`",
        key.display(),
        cert.display()
    )]
    KeyMismatch {
        /// The key file.
        key: PathBuf,
        /// The certificate file.
        cert: PathBuf,
    },
    /// The client CA bundle cannot be used.
    #[error("bad client CA bundle `{}`: {reason}", path.display())]
    BadClientCa {
        /// The file.
        path: PathBuf,
        /// The reason.
        reason: String,
    },
    /// rustls refused the configuration for another reason.
    #[error("the TLS configuration was refused: {0}")]
    Config(String),
}

/// Builds the TLS server configuration: `ring` provider, TLS 1.2 and 1.3, ALPN `http/1.1`,
/// and client certificate verification when `client_ca` is set.
pub fn server_config(s: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certs = load_certs(&s.cert)?;
    let key = load_key(&s.key)?;
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = match &s.client_ca {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let roots = load_roots(ca)?;
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            if s.client_auth == ClientAuth::Optional {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier.build().map_err(|e| TlsError::BadClientCa {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => {
            TlsError::KeyMismatch {
                key: s.key.clone(),
                cert: s.cert.clone(),
            }
        }
        rustls::Error::InvalidCertificate(why) => TlsError::BadCertificate {
            path: s.cert.clone(),
            reason: format!("{why:?}"),
        },
        // Parsing the key is the only other step here that can fail.
        _ => TlsError::UnsupportedKey {
            path: s.key.clone(),
        },
    })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|error| TlsError::Read {
        path: path.to_path_buf(),
        error,
    })
}

fn bad_pem(path: &Path) -> TlsError {
    TlsError::BadPem {
        path: path.to_path_buf(),
    }
}

fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad_pem(path))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read(path)?;
    // The parse error is not passed on: it could quote part of the file.
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => TlsError::NoPrivateKey {
            path: path.to_path_buf(),
        },
        _ => bad_pem(path),
    })
}

fn load_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots.add(cert).map_err(|e| TlsError::BadClientCa {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(roots)
}

/// Serves `router` over TLS on `listener` until `shutdown` is cancelled, then drains.
///
/// Every accepted connection gets `TCP_NODELAY` and must finish its TLS handshake within
/// `handshake_timeout`, or it is dropped; failed handshakes are logged at debug level. HTTP is
/// HTTP/1.1 exactly as in the plain server. On shutdown the server stops accepting, closes idle
/// connections and lets in-flight requests finish; the returned future completes when the last
/// connection has closed. Dropping the future aborts the remaining connections, so wrapping it
/// in a timeout bounds the drain.
///
/// Returns `Ok` once drained; accept errors are logged and retried, as the plain server does.
pub async fn serve_https(
    router: Router,
    listener: TcpListener,
    config: Arc<ServerConfig>,
    shutdown: CancellationToken,
    handshake_timeout: Duration,
) -> io::Result<()> {
    let addr = listener.local_addr().ok();
    tracing::info!(addr = ?addr, "listening (HTTPS)");
    let acceptor = TlsAcceptor::from(config);
    // Owning the connection tasks here makes dropping this future close them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            Some(done) = connections.join_next(), if !connections.is_empty() => reap(done),
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    connections.spawn(connection(
                        tcp,
                        peer,
                        acceptor.clone(),
                        router.clone(),
                        shutdown.clone(),
                        handshake_timeout,
                    ));
                }
                Err(e) => {
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = accept_error(e) => {}
                    }
                }
            },
        }
    }
    drop(listener);
    tracing::debug!(
        connections = connections.len(),
        "not accepting; draining HTTPS connections"
    );
    while let Some(done) = connections.join_next().await {
        reap(done);
    }
    Ok(())
}

fn reap(done: Result<(), tokio::task::JoinError>) {
    if let Err(e) = done
        && e.is_panic()
    {
        tracing::error!("an HTTPS connection task panicked");
    }
}

/// Connection errors are the peer's business; anything else (such as running out of file
/// descriptors) is logged and followed by a pause, as `axum::serve` does.
async fn accept_error(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accept error");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    router: Router,
    shutdown: CancellationToken,
    handshake_timeout: Duration,
) {
    // SSE answers are written event by event: no Nagle delay between them.
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(handshake_timeout, acceptor.accept(tcp));
    let tls = tokio::select! {
        () = shutdown.cancelled() => return,
        done = handshake => match done {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        },
    };
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|c| PeerCertificate(Arc::from(c.as_ref())));
    let service = router.map_request(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        if let Some(cert) = &cert {
            req.extensions_mut().insert(cert.clone());
        }
        req
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
        .with_upgrades();
    let mut conn = std::pin::pin!(conn);
    let done = tokio::select! {
        done = conn.as_mut() => done,
        () = shutdown.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = done {
        tracing::trace!(%peer, error = %e, "HTTPS connection ended with an error");
    }
}
