//! The gateway's outbound HTTPS GET: one small client for the documents mcpgate fetches from
//! other services (JWKS key sets, trust authority revocation answers, `did:web` documents).
//!
//! An [`HttpsClient`] trusts the web PKI roots (`webpki-roots`) plus, optionally, the PEM
//! certificates of one extra CA file; it speaks HTTP/1.1 over rustls with the ring provider.
//! [`HttpsClient::get`] bounds one fetch by a time limit (connect, TLS, request and body
//! together) and a body size limit, accepts only status 200, follows no redirects (a 3xx is a
//! [`FetchError::Status`]) and uses no proxy. Plain `http://` is refused unless the client was
//! built with `dangerous_allow_http` (tests on loopback).
//!
//! The crate knows nothing about what is fetched: callers parse and check the bytes. It depends
//! on neither the JWT stack nor the MCPS library, so both the authentication and the pipeline
//! crates can use it.

#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, LengthLimitError, Limited};
use hyper::body::Body as _;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// Why an [`HttpsClient`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The extra CA file cannot be read, or holds no valid PEM certificate.
    #[error("cannot read the extra CA file `{}` as PEM certificates", .0.display())]
    ExtraCa(PathBuf),
    /// The TLS configuration cannot be assembled.
    #[error("cannot set up TLS")]
    Tls,
}

/// Why a fetch failed. The texts are short reasons for the log; none holds a credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The URL cannot be parsed as an absolute HTTP URL.
    #[error("the URL is not valid")]
    InvalidUrl,
    /// The URL is not `https://` (and plain http is not allowed for this client).
    #[error("the URL must use https")]
    NotHttps,
    /// No connection, no TLS session (an untrusted certificate included) or no response.
    #[error("request failed: {0}")]
    Unreachable(String),
    /// No complete answer within the time limit.
    #[error("no answer within {}", Seconds(*.0))]
    Timeout(Duration),
    /// An HTTP status other than 200 (redirects included: they are not followed).
    #[error("HTTP status {0}")]
    Status(http::StatusCode),
    /// The body is larger than the limit (in bytes).
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
    /// The connection broke while the body was read.
    #[error("the response was cut off: {0}")]
    Interrupted(String),
}

/// A client for HTTPS GET requests. Cheap to clone (the connection pool is shared).
#[derive(Clone)]
pub struct HttpsClient {
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    allow_http: bool,
}

impl std::fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpsClient")
            .field("allow_http", &self.allow_http)
            .finish_non_exhaustive()
    }
}

impl HttpsClient {
    /// A client trusting the web PKI roots and the certificates in `extra_ca` (a PEM file).
    /// With `dangerous_allow_http`, plain `http://` URLs are fetched too: for tests on
    /// loopback only, since nothing protects such an answer in transit.
    ///
    /// # Errors
    ///
    /// [`ClientError::ExtraCa`] when `extra_ca` cannot be read or holds no certificate;
    /// [`ClientError::Tls`] when TLS cannot be set up.
    pub fn new(extra_ca: Option<&Path>, dangerous_allow_http: bool) -> Result<Self, ClientError> {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            let unreadable = || ClientError::ExtraCa(path.to_owned());
            let mut added = 0;
            for cert in CertificateDer::pem_file_iter(path).map_err(|_| unreadable())? {
                roots
                    .add(cert.map_err(|_| unreadable())?)
                    .map_err(|_| unreadable())?;
                added += 1;
            }
            if added == 0 {
                return Err(unreadable());
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|_| ClientError::Tls)?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if dangerous_allow_http {
            builder.https_or_http().enable_http1().build()
        } else {
            builder.https_only().enable_http1().build()
        };
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            allow_http: dangerous_allow_http,
        })
    }

    /// Whether this client fetches plain `http://` URLs.
    pub fn allows_http(&self) -> bool {
        self.allow_http
    }

    /// Fetches `url` and returns the body of a 200 answer.
    ///
    /// `timeout` bounds the whole fetch (connect, TLS, request and body); a body longer than
    /// `max_body` bytes is refused, before it is read when the server announces its length.
    /// The request carries `Accept: application/json` and `User-Agent: mcpgate`.
    ///
    /// # Errors
    ///
    /// [`FetchError::InvalidUrl`] or [`FetchError::NotHttps`] before any connection;
    /// otherwise the [`FetchError`] naming what failed.
    pub async fn get(
        &self,
        url: &str,
        timeout: Duration,
        max_body: usize,
    ) -> Result<Bytes, FetchError> {
        let uri: http::Uri = url.parse().map_err(|_| FetchError::InvalidUrl)?;
        match uri.scheme_str() {
            Some("https") => {}
            Some("http") if self.allow_http => {}
            Some(_) => return Err(FetchError::NotHttps),
            None => return Err(FetchError::InvalidUrl),
        }
        if uri.host().is_none_or(str::is_empty) {
            return Err(FetchError::InvalidUrl);
        }
        match tokio::time::timeout(timeout, self.fetch(uri, max_body)).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }

    async fn fetch(&self, uri: http::Uri, max_body: usize) -> Result<Bytes, FetchError> {
        let request = http::Request::get(uri)
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "mcpgate")
            .body(Empty::new())
            .map_err(|_| FetchError::InvalidUrl)?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| FetchError::Unreachable(causes(&e)))?;
        if response.status() != http::StatusCode::OK {
            return Err(FetchError::Status(response.status()));
        }
        let announced = response.body().size_hint().exact();
        if announced.is_some_and(|len| len > u64::try_from(max_body).unwrap_or(u64::MAX)) {
            return Err(FetchError::TooLarge(max_body));
        }
        let body = Limited::new(response.into_body(), max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.downcast_ref::<LengthLimitError>().is_some() {
                    FetchError::TooLarge(max_body)
                } else {
                    FetchError::Interrupted(causes(&*e))
                }
            })?;
        Ok(body.to_bytes())
    }
}

/// An error and its first few causes, joined by `: ` (hyper's own text names only the stage
/// that failed; the cause says why, such as an untrusted certificate).
fn causes(error: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(error), |e| e.source())
        .take(6)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ")
}

/// A duration written in whole seconds when it is one, in milliseconds otherwise.
struct Seconds(Duration);

impl std::fmt::Display for Seconds {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.subsec_nanos() == 0 {
            write!(f, "{} s", self.0.as_secs())
        } else {
            write!(f, "{} ms", self.0.as_millis())
        }
    }
}

#[cfg(test)]
mod tests;
