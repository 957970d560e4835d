//! The validated security settings: TLS, authentication, authorization and upstream
//! credentials. Secrets never live here: credentials are references (an environment variable
//! or a file) resolved by the gateway when it starts, and API keys are hashes.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// TLS for the HTTP front.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
    /// PEM bundle of client certificate authorities: enables client certificates.
    pub client_ca: Option<PathBuf>,
    /// Whether a client certificate is required at the handshake.
    pub client_auth: ClientAuth,
}

/// Whether a client certificate is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientAuth {
    /// Refused at the handshake without one.
    #[default]
    Required,
    /// Optional; a presented one must be valid.
    Optional,
}

/// What kind of caller a configured principal is (mirrors `mcpgate_core::PrincipalKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrincipalKindConfig {
    /// A person.
    #[default]
    User,
    /// A machine identity.
    Service,
    /// An autonomous agent.
    Agent,
}

impl PrincipalKindConfig {
    /// Parses `user`, `service` or `agent`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "service" => Some(Self::Service),
            "agent" => Some(Self::Agent),
            _ => None,
        }
    }

    /// The name as written in the file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Service => "service",
            Self::Agent => "agent",
        }
    }
}

/// A principal written in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrincipalConfig {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: PrincipalKindConfig,
    /// Its groups.
    pub groups: Vec<String>,
    /// Its attributes.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Authentication of clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// The gateway's resource URI (token audience, RFC 9728 `resource`).
    pub resource: Option<url::Url>,
    /// Authorization servers advertised in the protected-resource metadata.
    pub authorization_servers: Vec<String>,
    /// Scopes advertised in the protected-resource metadata.
    pub scopes_supported: Vec<String>,
    /// Scopes every JWT must grant.
    pub required_scopes: Vec<String>,
    /// API keys.
    pub api_keys: Vec<ApiKeyConfig>,
    /// JWT issuers.
    pub jwt: Vec<JwtConfig>,
    /// Principals from client certificates.
    pub mtls: Option<MtlsConfig>,
    /// The stdio front's principal.
    pub stdio: PrincipalConfig,
    /// Gateway-issued scoped tokens.
    pub tokens: Option<TokensConfig>,
}

impl AuthConfig {
    /// The URL of the RFC 9728 metadata document (path-inserted form), when a resource URI
    /// is configured.
    #[must_use]
    pub fn metadata_url(&self) -> Option<String> {
        let resource = self.resource.as_ref()?;
        let mut url = resource.clone();
        let path = resource.path().trim_end_matches('/');
        url.set_path(&format!("/.well-known/oauth-protected-resource{path}"));
        url.set_query(None);
        Some(url.to_string())
    }
}

/// One API key: its hash and the principal it authenticates.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeyConfig {
    /// `sha256$<salt>$<digest>`.
    pub hash: String,
    /// The principal.
    pub principal: PrincipalConfig,
}

impl fmt::Debug for ApiKeyConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeyConfig")
            .field("hash", &"<redacted>")
            .field("principal", &self.principal.id)
            .finish()
    }
}

/// Where an issuer's keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksSource {
    /// A JWKS file.
    File(PathBuf),
    /// An `https` URL.
    Url(url::Url),
}

/// One JWT issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtConfig {
    /// Required `iss`.
    pub issuer: String,
    /// Required `aud`.
    pub audience: String,
    /// The key set.
    pub jwks: JwksSource,
    /// Extra CAs for fetching the key set.
    pub ca_file: Option<PathBuf>,
    /// Accepted algorithms, as JOSE names (`RS256`, `ES256`, `EdDSA`, …).
    pub algorithms: Vec<String>,
    /// Tolerated clock skew.
    pub leeway: Duration,
    /// The claim naming the principal.
    pub subject_claim: String,
    /// The claim listing groups.
    pub groups_claim: Option<String>,
    /// The principals' kind.
    pub kind: PrincipalKindConfig,
}

/// Which certificate name becomes the principal id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CertIdentityConfig {
    /// First SAN URI, else email, else DNS name, else the subject CN.
    #[default]
    Auto,
    /// The first SAN URI.
    SanUri,
    /// The first SAN email.
    SanEmail,
    /// The first SAN DNS name.
    SanDns,
    /// The subject common name.
    CommonName,
}

/// Principals from client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MtlsConfig {
    /// Which name is the id.
    pub identity: CertIdentityConfig,
    /// The principals' kind.
    pub kind: PrincipalKindConfig,
}

/// Gateway-issued scoped tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokensConfig {
    /// Ed25519 PKCS#8 PEM signing key; `None` generates one at start.
    pub signing_key: Option<PathBuf>,
    /// The tokens' `iss`.
    pub issuer: String,
    /// Their audience (the gateway's resource URI).
    pub audience: String,
    /// Longest lifetime.
    pub max_ttl: Duration,
}

/// Cedar authorization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationConfig {
    /// Policy files and directories.
    pub policies: Vec<PathBuf>,
    /// How often they are checked for changes.
    pub reload_interval: Duration,
}

/// Where a secret comes from. The secret itself is read when the gateway starts and never
/// stored in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretRef {
    /// An environment variable of the gateway.
    Env(String),
    /// A file; a trailing newline is removed.
    File(PathBuf),
}

/// Where an upstream credential goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialTarget {
    /// An HTTP header on every request to the upstream.
    Header {
        /// Header name, lower case.
        name: String,
        /// Text before the secret.
        prefix: String,
    },
    /// An environment variable of the stdio child.
    Env(String),
}

/// The gateway's own credential for an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialConfig {
    /// Where the secret comes from.
    pub source: SecretRef,
    /// Where it goes.
    pub target: CredentialTarget,
}

/// The default principal id of the stdio front: the local user running the gateway.
#[must_use]
pub fn local_user() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "local".to_owned())
}
