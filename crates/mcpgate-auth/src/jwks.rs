//! Fetching a JSON Web Key Set over HTTPS.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

use crate::AuthError;

/// Largest accepted JWKS document.
const MAX_BODY: usize = 1024 * 1024;
/// Time limit for one fetch: connect, TLS, request and body.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Parses a JWKS document, skipping keys this crate cannot represent (unknown key types or
/// algorithms) instead of rejecting the whole set.
pub(crate) fn parse_jwks(bytes: &[u8]) -> Result<JwkSet, String> {
    #[derive(serde::Deserialize)]
    struct Raw {
        keys: Vec<serde_json::Value>,
    }
    let raw: Raw = serde_json::from_slice(bytes)
        .map_err(|_| "the key set is not a JSON object with a `keys` array".to_owned())?;
    let keys = raw
        .keys
        .into_iter()
        .filter_map(|k| serde_json::from_value::<Jwk>(k).ok())
        .collect();
    Ok(JwkSet { keys })
}

/// An HTTPS-only client for one JWKS URL.
pub(crate) struct Fetcher {
    url: url::Url,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
}

impl Fetcher {
    pub(crate) fn new(url: url::Url, extra_ca: Option<&Path>) -> Result<Self, AuthError> {
        if url.scheme() != "https" {
            return Err(AuthError::config(format!(
                "the JWKS URL `{url}` must use https"
            )));
        }
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            let unreadable = || {
                AuthError::config(format!(
                    "cannot read the extra CA file `{}` as PEM certificates",
                    path.display()
                ))
            };
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
        .map_err(|_| AuthError::config("cannot set up TLS for the JWKS client"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(connector);
        Ok(Self { url, client })
    }

    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// Fetches and parses the key set. The error is a short reason for the log.
    pub(crate) async fn fetch(&self) -> Result<JwkSet, String> {
        match tokio::time::timeout(TIMEOUT, self.fetch_inner()).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", TIMEOUT.as_secs())),
        }
    }

    async fn fetch_inner(&self) -> Result<JwkSet, String> {
        let request = http::Request::get(self.url.as_str())
            .header(http::header::ACCEPT, "application/json")
            .header(http::header::USER_AGENT, "mcpgate")
            .body(Empty::new())
            .map_err(|e| format!("cannot build the request: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("request failed: {e}"))?;
        if response.status() != http::StatusCode::OK {
            return Err(format!("HTTP status {}", response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| format!("cannot read the body (limit {MAX_BODY} bytes): {e}"))?
            .to_bytes();
        parse_jwks(&body)
    }
}
