//! The security sections of the file format: `[server.tls]`, `[auth]`, `[authorization]`
//! and an upstream's `credential`, exactly as written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// TLS for the HTTP front; with `client_ca`, clients must present a certificate (mTLS).
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Tls")]
pub(crate) struct RawTls {
    /// PEM certificate chain of the gateway, relative to this file's directory.
    #[schemars(required)]
    pub(crate) cert: Option<String>,
    /// PEM private key of the gateway (PKCS#8, PKCS#1 or SEC1).
    #[schemars(required)]
    pub(crate) key: Option<String>,
    /// PEM bundle of the certificate authorities client certificates must chain to.
    pub(crate) client_ca: Option<String>,
    /// With `client_ca`: `required` refuses clients without a certificate at the handshake;
    /// `optional` lets them in to authenticate otherwise.
    #[schemars(extend("default" = "required"))]
    pub(crate) client_auth: Option<RawClientAuth>,
}

/// Whether a client certificate is required.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ClientAuth")]
pub(crate) enum RawClientAuth {
    /// Refuse clients without a valid certificate at the handshake.
    Required,
    /// Accept clients without a certificate; a presented one must still be valid.
    Optional,
}

/// Who may talk to the gateway. With this section present, every HTTP request must carry a
/// valid credential; without it, callers are anonymous.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Auth")]
pub(crate) struct RawAuth {
    /// The gateway's own resource URI, such as `https://mcp.example.com/mcp`: the audience
    /// tokens must name, and the `resource` of its RFC 9728 metadata. Required with `jwt` or
    /// `tokens`.
    pub(crate) resource: Option<String>,
    /// Authorization servers listed in the protected-resource metadata. Defaults to the
    /// issuers of `jwt`.
    pub(crate) authorization_servers: Option<Vec<String>>,
    /// Scopes listed as `scopes_supported` in the protected-resource metadata.
    pub(crate) scopes_supported: Option<Vec<String>>,
    /// Scopes every JWT must grant; a token without them gets 403 `insufficient_scope`.
    pub(crate) required_scopes: Option<Vec<String>>,
    /// API keys, stored hashed (`mcpgate keys hash`).
    pub(crate) api_keys: Option<Vec<RawApiKey>>,
    /// OAuth 2.1 / JWT access-token issuers.
    pub(crate) jwt: Option<Vec<RawJwt>>,
    /// Principals from TLS client certificates (needs `server.tls.client_ca`).
    pub(crate) mtls: Option<RawMtls>,
    /// The principal of the stdio front, which has no transport credential.
    pub(crate) stdio: Option<RawPrincipal>,
    /// Short-lived scoped tokens the gateway issues for delegation (`POST /auth/token`).
    pub(crate) tokens: Option<RawTokens>,
}

/// One API key.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "ApiKey")]
pub(crate) struct RawApiKey {
    /// The principal id the key authenticates.
    #[schemars(required)]
    pub(crate) principal: Option<String>,
    /// The key's hash, as printed by `mcpgate keys hash` (never the key itself).
    #[schemars(required)]
    pub(crate) hash: Option<String>,
    /// `user`, `service` or `agent`.
    #[schemars(extend("default" = "user"))]
    pub(crate) kind: Option<String>,
    /// Groups of the principal, for policies.
    pub(crate) groups: Option<Vec<String>>,
    /// Further attributes of the principal, for policies.
    pub(crate) attributes: Option<BTreeMap<String, serde_json::Value>>,
}

/// One JWT issuer.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Jwt")]
pub(crate) struct RawJwt {
    /// The `iss` tokens must carry.
    #[schemars(required)]
    pub(crate) issuer: Option<String>,
    /// The `aud` tokens must carry; defaults to `auth.resource`.
    pub(crate) audience: Option<String>,
    /// A JWKS file with the issuer's public keys.
    pub(crate) jwks_file: Option<String>,
    /// An `https` URL serving the issuer's JWKS (cached, refetched on an unknown `kid`).
    pub(crate) jwks_url: Option<String>,
    /// Extra PEM certificate authorities trusted when fetching `jwks_url`.
    pub(crate) ca_file: Option<String>,
    /// Accepted signature algorithms; HMAC and `none` are never accepted.
    #[schemars(extend("default" = ["RS256", "ES256", "EdDSA"]))]
    pub(crate) algorithms: Option<Vec<String>>,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[schemars(extend("default" = "30s"))]
    pub(crate) leeway: Option<String>,
    /// The claim naming the principal.
    #[schemars(extend("default" = "sub"))]
    pub(crate) subject_claim: Option<String>,
    /// A claim listing the principal's groups.
    pub(crate) groups_claim: Option<String>,
    /// `user`, `service` or `agent`.
    #[schemars(extend("default" = "user"))]
    pub(crate) kind: Option<String>,
}

/// Principals from client certificates.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Mtls")]
pub(crate) struct RawMtls {
    /// Which certificate name becomes the principal id: `auto` (first SAN URI, else email,
    /// else DNS name, else the subject CN), `san-uri`, `san-email`, `san-dns` or `cn`.
    #[schemars(extend("default" = "auto"))]
    pub(crate) identity: Option<String>,
    /// `user`, `service` or `agent`.
    #[schemars(extend("default" = "service"))]
    pub(crate) kind: Option<String>,
}

/// A configured principal.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Principal")]
pub(crate) struct RawPrincipal {
    /// The principal id; defaults to the local user running the gateway.
    pub(crate) principal: Option<String>,
    /// `user`, `service` or `agent`.
    #[schemars(extend("default" = "user"))]
    pub(crate) kind: Option<String>,
    /// Groups of the principal.
    pub(crate) groups: Option<Vec<String>>,
    /// Further attributes of the principal.
    pub(crate) attributes: Option<BTreeMap<String, serde_json::Value>>,
}

/// Gateway-issued scoped tokens.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Tokens")]
pub(crate) struct RawTokens {
    /// Ed25519 private key (PKCS#8 PEM) that signs the tokens; without it a key is generated
    /// at start and tokens end with the process.
    pub(crate) signing_key: Option<String>,
    /// The tokens' `iss`; defaults to `auth.resource`.
    pub(crate) issuer: Option<String>,
    /// Longest lifetime a token may be given.
    #[schemars(extend("default" = "15m"))]
    pub(crate) max_ttl: Option<String>,
}

/// What authenticated principals may do: Cedar policies, default deny.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Authorization")]
pub(crate) struct RawAuthorization {
    /// `.cedar` files or directories of them, relative to this file's directory.
    #[schemars(required)]
    pub(crate) policies: Option<Vec<String>>,
    /// How often the files are checked for changes (a changed set is swapped in atomically;
    /// a broken one is refused and the old set stays in force).
    #[schemars(extend("default" = "2s"))]
    pub(crate) reload_interval: Option<String>,
}

/// The gateway's own credential for an upstream; the client's credential is never forwarded.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Credential")]
pub(crate) struct RawCredential {
    /// Read the secret from this environment variable of the gateway.
    pub(crate) from_env: Option<String>,
    /// Read the secret from this file (trailing newline removed).
    pub(crate) from_file: Option<String>,
    /// http: the header that carries it.
    #[schemars(extend("default" = "Authorization"))]
    pub(crate) header: Option<String>,
    /// http: text put before the secret; `Bearer ` by default for `Authorization`.
    pub(crate) prefix: Option<String>,
    /// stdio: the environment variable of the child that carries it.
    pub(crate) env: Option<String>,
}
