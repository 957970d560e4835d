//! Fetching a JSON Web Key Set over HTTPS.

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use mcpgate_https::{ClientError, HttpsClient};

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
    client: HttpsClient,
}

impl Fetcher {
    pub(crate) fn new(url: url::Url, extra_ca: Option<&Path>) -> Result<Self, AuthError> {
        if url.scheme() != "https" {
            return Err(AuthError::config(format!(
                "the JWKS URL `{url}` must use https"
            )));
        }
        let client = HttpsClient::new(extra_ca, false).map_err(|e| match e {
            ClientError::Tls => AuthError::config("cannot set up TLS for the JWKS client"),
            ClientError::ExtraCa(_) => AuthError::config(e.to_string()),
        })?;
        Ok(Self { url, client })
    }

    pub(crate) fn url(&self) -> &url::Url {
        &self.url
    }

    /// Fetches and parses the key set. The error is a short reason for the log.
    pub(crate) async fn fetch(&self) -> Result<JwkSet, String> {
        let body = self
            .client
            .get(self.url.as_str(), TIMEOUT, MAX_BODY)
            .await
            .map_err(|e| e.to_string())?;
        parse_jwks(&body)
    }
}
