//! The error type of the crate.

/// Why authentication, configuration or token issuance failed.
///
/// Messages are short, lowercase and safe to show to the caller: they never contain a
/// credential, a token, a key or a stored hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The configuration is unusable (malformed hash, forbidden algorithm, unreadable file…).
    #[error("invalid authentication configuration: {0}")]
    Config(String),
    /// The presented token or key is not valid. The text is suitable for the
    /// `error_description` of a `WWW-Authenticate: Bearer error="invalid_token"` challenge.
    #[error("{0}")]
    InvalidToken(String),
    /// The credential does not grant the scopes asked for (space-separated).
    #[error("insufficient scope: {0}")]
    InsufficientScope(String),
    /// A requested scope is not of the form `tool:<name>`, `resource:<uri>`, `prompt:<name>`
    /// or `<kind>:*`.
    #[error("invalid scope: {0}")]
    InvalidScope(String),
    /// The credential cannot be checked now, for example because the issuer's key set cannot
    /// be fetched and none is cached. Callers fail closed (HTTP 503).
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
    /// The client certificate cannot be parsed or carries no usable identity.
    #[error("invalid client certificate: {0}")]
    InvalidCertificate(String),
    /// The gateway could not sign a token.
    #[error("cannot issue token: {0}")]
    Issue(String),
}

impl AuthError {
    pub(crate) fn invalid(description: impl Into<String>) -> Self {
        Self::InvalidToken(description.into())
    }

    pub(crate) fn config(message: impl Into<String>) -> Self {
        Self::Config(message.into())
    }
}
