//! The validated `[mcps]` section: MCPS message signatures.

use std::path::PathBuf;
use std::time::Duration;

/// MCPS message signature verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpsConfig {
    /// Accepted envelope profiles, never empty.
    pub profiles: Vec<McpsProfile>,
    /// The trust store file (`[[signers]]`).
    pub trust_store: PathBuf,
    /// Accepted timestamp skew, in both directions.
    pub window: Duration,
    /// The replay store.
    pub replay: ReplayConfig,
    /// The local revocation list, if any.
    pub revocation_list: Option<PathBuf>,
    /// How often the revocation list is checked for changes.
    pub revocation_reload_interval: Duration,
    /// The gateway's response signing key (PKCS#8 PEM), if any.
    pub signing_key: Option<PathBuf>,
    /// The gateway's passport id (`asp_` and 32 lowercase hex digits) for its signed responses
    /// to profile A and B requests, if any; only with `signing_key`.
    pub signing_passport_id: Option<String>,
    /// Whether the responses to profile A requests are signed (sent as profile A envelopes);
    /// only with `signing_passport_id`.
    pub sign_profile_a_responses: bool,
    /// Per-upstream requirements, in upstream-name order.
    pub require: Vec<McpsRequirement>,
    /// The trust authority asked whether a signer is revoked, if any.
    pub revocation_authority: Option<RevocationAuthorityConfig>,
}

/// Online revocation checks against a trust authority (`[mcps] revocation_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationAuthorityConfig {
    /// URL template holding `{id}` once, where the percent-escaped signer id goes.
    pub url: String,
    /// The authority's public key file (SPKI PEM), which signs its answers.
    pub key: PathBuf,
    /// How long an answer is reused for the same signer id.
    pub ttl: Duration,
    /// Extra PEM CA certificates for the authority's TLS certificate.
    pub extra_ca: Option<PathBuf>,
    /// Whether an `http://` URL is accepted.
    pub allow_http: bool,
}

/// An MCPS envelope profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum McpsProfile {
    /// `mcp-secure` 1.0.0.
    A,
    /// `mcps-secure` 1.0.0.
    B,
    /// `mcps-native/1`.
    Native,
}

impl McpsProfile {
    /// The name used in the file: `a`, `b` or `native`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
            Self::Native => "native",
        }
    }
}

/// Where seen `(signer, nonce)` pairs are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayConfig {
    /// In this process.
    Memory {
        /// Most unexpired pairs kept.
        capacity: usize,
    },
    /// An SQLite database file.
    Sqlite {
        /// The database file.
        path: PathBuf,
    },
    /// A Redis server.
    Redis {
        /// The server URL (may hold a password: never log it).
        url: String,
        /// The key prefix.
        prefix: String,
    },
}

/// Signature requirements for calls to one upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpsRequirement {
    /// The upstream's name.
    pub upstream: String,
    /// Calls must be signed.
    pub signed: bool,
    /// Lowest accepted signer trust level (0 to 4); above 0 implies `signed`.
    pub min_trust_level: u8,
    /// The tools it applies to; empty: every tool.
    pub tools: Vec<String>,
}

impl McpsRequirement {
    /// Whether this requirement covers a `tools/call` of `tool`.
    #[must_use]
    pub fn covers(&self, tool: &str) -> bool {
        self.tools.is_empty() || self.tools.iter().any(|t| t == tool)
    }
}
