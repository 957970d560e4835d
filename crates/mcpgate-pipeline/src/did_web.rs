//! Resolving decentralized identifiers to MCPS verifying keys: `did:web` over HTTPS and
//! `did:key` locally.
//!
//! [`DidResolver::resolve_key`] takes a DID or DID URL:
//!
//! - `did:key:z…` (optionally `#z…` repeating the key): decoded with
//!   [`mcps::did::from_did_key`], no network.
//! - `did:web:host[%3Aport][:path…][#fragment]`: the DID document is fetched from the URL
//!   [`mcps::did::did_web_url`] gives (always `https://`), with the shared [`HttpsClient`]: web
//!   PKI roots plus an optional extra CA, a time limit, a size limit ([`MAX_DOCUMENT`] by
//!   default), status 200 only, no redirects, no proxy. The document must be strict JSON and
//!   its `id` must be the DID itself, so a host cannot answer for another identifier. With a
//!   fragment, the verification method with that id is used (`#frag` or `did:web:…#frag`);
//!   without one, the document must have exactly one verification method, and it must belong
//!   to the DID. The key is read by [`mcps::did::verifying_key_from_did_document`]
//!   (`publicKeyJwk` or `publicKeyMultibase`, Ed25519 or P-256, never a private key).
//!
//! Nothing is cached: the caller decides when to resolve (such as when the trust store is
//! loaded).

use std::path::PathBuf;
use std::time::Duration;

use mcpgate_https::HttpsClient;
/// The fetch and setup errors a [`DidWebError`] carries, re-exported for matching.
pub use mcpgate_https::{ClientError, FetchError};
use mcps::canonical::{self, ParseOptions, Value};
use mcps::did;
use mcps::keys::VerifyingKey;

/// Default largest accepted DID document.
pub const MAX_DOCUMENT: usize = 64 * 1024;
/// Default time limit for fetching one document: connect, TLS, request and body.
pub const TIMEOUT: Duration = Duration::from_secs(5);

const DID_KEY_PREFIX: &str = "did:key:";
const DID_WEB_PREFIX: &str = "did:web:";

/// Settings of a [`DidResolver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidResolverConfig {
    /// Extra PEM CA certificates to trust for `did:web` hosts, besides the web PKI roots.
    pub extra_ca: Option<PathBuf>,
    /// Time limit for one document.
    pub timeout: Duration,
    /// Largest accepted document, in bytes.
    pub max_document: usize,
}

impl Default for DidResolverConfig {
    fn default() -> Self {
        Self {
            extra_ca: None,
            timeout: TIMEOUT,
            max_document: MAX_DOCUMENT,
        }
    }
}

/// Why a DID could not be resolved to a key. The texts never hold document contents.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidWebError {
    /// The HTTPS client cannot be built (an unreadable extra CA file).
    #[error("cannot set up the DID resolver: {0}")]
    Setup(ClientError),
    /// Neither `did:web:` nor `did:key:`.
    #[error("only did:web and did:key identifiers can be resolved")]
    UnsupportedMethod,
    /// A malformed `did:web` or `did:key` identifier (or an empty fragment).
    #[error("invalid DID: {0}")]
    InvalidDid(mcps::Error),
    /// The document could not be fetched.
    #[error("cannot fetch the DID document: {0}")]
    Fetch(FetchError),
    /// The document's `id` is missing or names another DID.
    #[error("the DID document's `id` is not the DID being resolved")]
    WrongDocumentId,
    /// No fragment was given and the document does not have exactly one verification method.
    #[error("the DID document has {0} verification methods; name the key with a `#fragment`")]
    AmbiguousKey(usize),
    /// The document is not strict JSON, or the selected method holds no usable public key.
    #[error("the DID document is not usable: {0}")]
    Document(mcps::Error),
}

/// Resolves `did:web` and `did:key` identifiers to verifying keys. Cheap to clone.
#[derive(Debug, Clone)]
pub struct DidResolver {
    client: HttpsClient,
    timeout: Duration,
    max_document: usize,
}

impl DidResolver {
    /// A resolver with `config`.
    ///
    /// # Errors
    ///
    /// [`DidWebError::Setup`] when the extra CA file cannot be read.
    pub fn new(config: DidResolverConfig) -> Result<Self, DidWebError> {
        let client =
            HttpsClient::new(config.extra_ca.as_deref(), false).map_err(DidWebError::Setup)?;
        Ok(Self {
            client,
            timeout: config.timeout,
            max_document: config.max_document,
        })
    }

    /// The verifying key `did_url` names; see the [module documentation](self).
    ///
    /// # Errors
    ///
    /// A [`DidWebError`] naming the step that failed.
    pub async fn resolve_key(&self, did_url: &str) -> Result<VerifyingKey, DidWebError> {
        if did_url.starts_with(DID_KEY_PREFIX) {
            return did::from_did_key(did_url).map_err(DidWebError::InvalidDid);
        }
        if !did_url.starts_with(DID_WEB_PREFIX) {
            return Err(DidWebError::UnsupportedMethod);
        }
        let (did, fragment) = match did_url.split_once('#') {
            Some((_, "")) => {
                return Err(DidWebError::InvalidDid(mcps::Error::BadKey(
                    "did url has an empty fragment",
                )));
            }
            Some((did, fragment)) => (did, Some(fragment)),
            None => (did_url, None),
        };
        let url = did::did_web_url(did).map_err(DidWebError::InvalidDid)?;
        let body = self
            .client
            .get(&url, self.timeout, self.max_document)
            .await
            .map_err(DidWebError::Fetch)?;
        let document =
            canonical::parse_bytes(&body, &ParseOptions::STRICT).map_err(DidWebError::Document)?;
        let text = std::str::from_utf8(&body)
            .map_err(|_| DidWebError::Document(mcps::Error::BadKey("did document is not utf-8")))?;
        if document.get("id").and_then(Value::as_str) != Some(did) {
            return Err(DidWebError::WrongDocumentId);
        }
        let key_id = match fragment {
            Some(_) => did_url.to_owned(),
            None => only_method_id(&document, did)?,
        };
        did::verifying_key_from_did_document(text, &key_id).map_err(DidWebError::Document)
    }
}

/// The absolute id of the document's one verification method, which must belong to `did`.
fn only_method_id(document: &Value, did: &str) -> Result<String, DidWebError> {
    let methods = document
        .get("verificationMethod")
        .and_then(Value::as_array)
        .ok_or(DidWebError::Document(mcps::Error::BadKey(
            "did document has no `verificationMethod` array",
        )))?;
    let [method] = methods else {
        return Err(DidWebError::AmbiguousKey(methods.len()));
    };
    let id = method.get("id").and_then(Value::as_str).unwrap_or_default();
    if id.len() > 1 && id.starts_with('#') {
        Ok(format!("{did}{id}"))
    } else if id
        .strip_prefix(did)
        .is_some_and(|fragment| fragment.len() > 1 && fragment.starts_with('#'))
    {
        Ok(id.to_owned())
    } else {
        Err(DidWebError::Document(mcps::Error::BadKey(
            "the verification method id does not belong to the did",
        )))
    }
}

#[cfg(test)]
mod tests;
