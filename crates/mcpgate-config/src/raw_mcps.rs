//! The `[mcps]` section of the file format (MCPS message signatures), exactly as written.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;

/// MCPS message signatures: which envelopes the gateway accepts, whom it trusts, how it stops
/// replays, and which calls must be signed. With this section present, every signed client
/// message is verified (and unwrapped before it reaches the upstream); without it, signed
/// envelopes are refused.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Mcps")]
pub(crate) struct RawMcps {
    /// Accepted envelope profiles: `a` (`mcp-secure` 1.0.0), `b` (`mcps-secure` 1.0.0) and
    /// `native` (`mcps-native/1`, with a per-session transcript chain).
    #[schemars(extend("default" = ["a", "b", "native"]))]
    pub(crate) profiles: Option<Vec<RawMcpsProfile>>,
    /// The trust store, relative to this file's directory: a TOML file of trusted signers
    /// (`[[signers]]` with `id`, `public_key` or `did`, and `trust_level`), passport issuers
    /// (`[[issuers]]` with `name`, `public_key` or `did`, and the highest `trust_level` they
    /// grant) and agent passports (`[[passports]]` with `path`), whose trust level is computed
    /// from their verified issuer chain. An unknown signer is refused.
    #[schemars(required)]
    pub(crate) trust_store: Option<String>,
    /// How far a message timestamp may lie in the past or the future.
    #[schemars(extend("default" = "300s"))]
    pub(crate) window: Option<String>,
    /// Where seen `(signer, nonce)` pairs are kept: `memory` (this process), `sqlite` (processes
    /// on one host, `replay_path`) or `redis` (any host, `replay_url`).
    #[schemars(extend("default" = "memory"))]
    pub(crate) replay: Option<RawReplayKind>,
    /// With `replay = "sqlite"`: the database file.
    pub(crate) replay_path: Option<String>,
    /// With `replay = "redis"`: `redis://[user:password@]host[:port][/db]`.
    pub(crate) replay_url: Option<String>,
    /// With `replay = "redis"`: the key prefix (`A-Z a-z 0-9 _ - . :`, at most 64 characters).
    #[schemars(extend("default" = "mcpgate:replay"))]
    pub(crate) replay_prefix: Option<String>,
    /// With `replay = "memory"`: how many unexpired pairs are kept; when full, signed messages
    /// are refused rather than forgetting a nonce.
    #[schemars(range(min = 1), extend("default" = 100_000))]
    pub(crate) replay_capacity: Option<i64>,
    /// A local file of revoked signer ids and key ids (JWK thumbprints), one per line, `#`
    /// comments; reloaded when it changes. If it cannot be read, signed messages are refused.
    pub(crate) revocation_list: Option<String>,
    /// How often the revocation list is checked for changes.
    #[schemars(extend("default" = "2s"))]
    pub(crate) revocation_reload_interval: Option<String>,
    /// The gateway's own key (PKCS#8 PEM, P-256 or Ed25519), relative to this file's directory:
    /// when set, the responses to native-signed requests are signed with it, each chained to
    /// its request (and, with `signing_passport_id`, the responses to profile A and B
    /// requests). Its key id is logged at startup for clients to pin.
    pub(crate) signing_key: Option<String>,
    /// With `signing_key`: the gateway's own passport id (`asp_` and 32 lowercase hex digits),
    /// written into its signed responses to profile A and B requests. A profile B response
    /// gets a signed `mcps` header member, which clients that do not check it ignore; a
    /// profile A response is signed only with `sign_profile_a_responses`. Profiles A and B
    /// are P-256 only: the gateway refuses to start with an Ed25519 `signing_key` and this set.
    pub(crate) signing_passport_id: Option<String>,
    /// With `signing_passport_id`: also sign the responses to profile A requests. Each is then
    /// sent wrapped in a profile A envelope, which only a client expecting one can read.
    #[schemars(extend("default" = false))]
    pub(crate) sign_profile_a_responses: Option<bool>,
    /// Signature requirements per upstream: `[mcps.require.NAME]`.
    pub(crate) require: Option<BTreeMap<String, RawMcpsRequire>>,
    /// A trust authority asked about every verified signer, e.g.
    /// `https://ta.example/revocations/{id}` (`{id}` is replaced by the percent-escaped signer
    /// id). Its answer must be signed with `revocation_authority_key`; no valid answer within
    /// 2 s refuses the message (`revocation_unavailable`).
    pub(crate) revocation_url: Option<String>,
    /// With `revocation_url`: the authority's public key (SPKI PEM, P-256 or Ed25519), relative
    /// to this file's directory.
    pub(crate) revocation_authority_key: Option<String>,
    /// With `revocation_url`: how long an answer is reused for the same signer.
    #[schemars(extend("default" = "60s"))]
    pub(crate) revocation_ttl: Option<String>,
    /// With `revocation_url`: extra PEM CA certificates for the authority's TLS certificate.
    pub(crate) revocation_extra_ca: Option<String>,
    /// With `revocation_url`: accept an `http://` URL. For tests only: the answers stay signed,
    /// but the signer ids the gateway sees travel in the clear.
    pub(crate) dangerous_allow_http_revocation: Option<bool>,
}

/// An MCPS envelope profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "McpsProfile")]
pub(crate) enum RawMcpsProfile {
    /// `mcp-secure` 1.0.0: `{"mcps": "1.0.0", …, "message": {…}}`, ECDSA P-256 DER.
    A,
    /// `mcps-secure` 1.0.0: an `mcps` header member beside the JSON-RPC members, P1363.
    B,
    /// `mcps-native/1`: every field signed (RFC 8785), Ed25519 or ES256, transcript chain.
    Native,
}

/// Where the replay store lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "McpsReplay")]
pub(crate) enum RawReplayKind {
    /// In this process, bounded by `replay_capacity`.
    Memory,
    /// An SQLite file shared by processes on one host.
    Sqlite,
    /// A Redis server shared by processes on any host.
    Redis,
}

/// Signature requirements for the calls to one upstream.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "McpsRequire")]
pub(crate) struct RawMcpsRequire {
    /// Calls must be signed by a trusted signer.
    #[schemars(extend("default" = true))]
    pub(crate) signed: Option<bool>,
    /// The lowest trust level (0 to 4, from the trust store) a signer must have.
    #[schemars(range(min = 0, max = 4), extend("default" = 0))]
    pub(crate) min_trust_level: Option<i64>,
    /// The tools (`tools/call` names) this applies to; empty or absent: every tool.
    #[schemars(extend("default" = []))]
    pub(crate) tools: Option<Vec<String>>,
}
