//! JWT access tokens from OAuth 2.1 authorization servers, verified against a JWKS.
//!
//! Rules (RFC 9068, RFC 8725, MCP authorization §5.2):
//!
//! - Only asymmetric algorithms: the configured list (default RS256, ES256, EdDSA) must not
//!   contain an HMAC algorithm, and `alg: none` is never accepted.
//! - The token's `alg` must be allowed **and** match the key: its type (RSA, EC curve, OKP
//!   Ed25519) and, when the JWK names one, its `alg`. An HS256 token signed with the RSA public
//!   key as the secret is therefore rejected.
//! - `exp` is required; `iss` must equal the configured issuer and `aud` contain the configured
//!   audience (the gateway's own resource URI); `nbf` is checked; `leeway` applies to all times.
//! - Key sets from a URL are fetched over HTTPS only, cached, refreshed every
//!   `refresh_interval`, and refetched when a token names an unknown `kid` (at most once per
//!   `min_refetch_interval`). If no key set was ever fetched, validation fails closed with
//!   [`AuthError::Unavailable`]; a failed refresh keeps using the cached set.
//! - The raw token is never stored or logged; errors carry short descriptions fit for an
//!   `error_description`.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use serde_json::{Map, Value};
use tokio::time::Instant;

use crate::AuthError;
use crate::jwks::{Fetcher, parse_jwks};

/// Longest accepted token, in bytes.
const MAX_TOKEN_LEN: usize = 16 * 1024;
/// Smallest accepted RSA modulus, in bytes (2048 bits).
const MIN_RSA_MODULUS: usize = 256;

/// Where the verification keys come from.
#[derive(Debug, Clone)]
pub enum JwksSource {
    /// A JWKS file, read once when the validator is built.
    File(PathBuf),
    /// An `https` JWKS endpoint, fetched on first use and cached.
    Url(url::Url),
    /// A key set given directly (used for the gateway's own tokens).
    Static(JwkSet),
}

/// The configuration of one trusted token issuer.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    /// The exact `iss` value the tokens carry.
    pub issuer: String,
    /// The `aud` value the tokens must carry: the gateway's own resource URI.
    pub audience: String,
    /// The verification keys.
    pub jwks: JwksSource,
    /// Allowed signature algorithms (default RS256, ES256, EdDSA). HMAC algorithms are refused.
    pub algorithms: Vec<Algorithm>,
    /// Clock skew tolerated on `exp`, `nbf` (default 30 s).
    pub leeway: Duration,
    /// The claim holding the principal id (default `sub`).
    pub subject_claim: String,
    /// The claim holding the principal's groups: an array of strings or a space-separated
    /// string (default none).
    pub groups_claim: Option<String>,
    /// The kind of principal these tokens identify.
    pub kind: PrincipalKind,
    /// A PEM file of CA certificates trusted in addition to the web PKI roots when fetching the
    /// JWKS over HTTPS.
    pub extra_ca: Option<PathBuf>,
    /// How long a fetched key set is used before it is fetched again (default 10 min).
    pub refresh_interval: Duration,
    /// Minimum time between two fetches, including those caused by an unknown `kid`
    /// (default 30 s).
    pub min_refetch_interval: Duration,
}

impl JwtConfig {
    /// A configuration with the defaults for everything but issuer, audience and keys.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>, jwks: JwksSource) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            jwks,
            algorithms: vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
            leeway: Duration::from_secs(30),
            subject_claim: "sub".into(),
            groups_claim: None,
            kind: PrincipalKind::User,
            extra_ca: None,
            refresh_interval: Duration::from_secs(600),
            min_refetch_interval: Duration::from_secs(30),
        }
    }
}

/// Whose tokens a validator checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// An external authorization server.
    External,
    /// The gateway's own delegation tokens.
    Gateway,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyType {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyType {
    fn accepts(self, alg: Algorithm) -> bool {
        match self {
            Self::Rsa => matches!(
                alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            Self::P256 => alg == Algorithm::ES256,
            Self::P384 => alg == Algorithm::ES384,
            Self::Ed25519 => alg == Algorithm::EdDSA,
        }
    }
}

struct Key {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key_type: KeyType,
    key: DecodingKey,
}

/// The usable signing keys of a JWKS.
struct KeySet {
    keys: Vec<Key>,
}

impl KeySet {
    fn from_jwks(set: &JwkSet) -> Self {
        let keys = set.keys.iter().filter_map(usable_key).collect();
        Self { keys }
    }

    fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }

    /// Keys that may verify a token with this `kid` and `alg`.
    fn candidates(&self, kid: Option<&str>, alg: Algorithm) -> Vec<&Key> {
        self.keys
            .iter()
            .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
            .filter(|k| k.key_type.accepts(alg) && k.alg.is_none_or(|a| a == alg))
            .collect()
    }
}

fn b64_len(s: &str) -> Option<usize> {
    URL_SAFE_NO_PAD.decode(s).ok().map(|v| v.len())
}

/// A signature-verification key from a JWK, or `None` for keys this crate does not accept
/// (symmetric keys, encryption keys, unsupported curves, short RSA moduli).
fn usable_key(jwk: &Jwk) -> Option<Key> {
    if jwk
        .common
        .public_key_use
        .as_ref()
        .is_some_and(|u| *u != PublicKeyUse::Signature)
    {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        None => None,
        // `KeyAlgorithm` also names encryption algorithms: only signature ones are kept.
        Some(a) => Some(
            serde_json::to_value(a)
                .ok()?
                .as_str()?
                .parse::<Algorithm>()
                .ok()?,
        ),
    };
    let key_type = match &jwk.algorithm {
        AlgorithmParameters::RSA(p) => {
            let modulus = URL_SAFE_NO_PAD.decode(&p.n).ok()?;
            let significant = modulus.iter().skip_while(|b| **b == 0).count();
            (significant >= MIN_RSA_MODULUS && b64_len(&p.e)? > 0).then_some(KeyType::Rsa)?
        }
        AlgorithmParameters::EllipticCurve(p) => {
            let (key_type, len) = match p.curve {
                EllipticCurve::P256 => (KeyType::P256, 32),
                EllipticCurve::P384 => (KeyType::P384, 48),
                _ => return None,
            };
            (b64_len(&p.x)? == len && b64_len(&p.y)? == len).then_some(key_type)?
        }
        AlgorithmParameters::OctetKeyPair(p) => (p.curve == EllipticCurve::Ed25519
            && b64_len(&p.x)? == 32)
            .then_some(KeyType::Ed25519)?,
        AlgorithmParameters::OctetKey(_) => return None,
    };
    if alg.is_some_and(|a| !key_type.accepts(a)) {
        return None;
    }
    Some(Key {
        kid: jwk.common.key_id.clone(),
        alg,
        key_type,
        key: DecodingKey::from_jwk(jwk).ok()?,
    })
}

struct Cached {
    keys: Arc<KeySet>,
    fetched_at: Instant,
}

struct Remote {
    fetcher: Fetcher,
    cache: RwLock<Option<Cached>>,
    /// Held during a fetch (one at a time); holds the time of the last attempt.
    last_attempt: tokio::sync::Mutex<Option<Instant>>,
}

enum Keys {
    Fixed(Arc<KeySet>),
    Remote(Box<Remote>),
}

struct Inner {
    issuer: String,
    audience: String,
    algorithms: Vec<Algorithm>,
    leeway: Duration,
    subject_claim: String,
    groups_claim: Option<String>,
    kind: PrincipalKind,
    refresh_interval: Duration,
    min_refetch_interval: Duration,
    mode: Mode,
    keys: Keys,
}

/// Validates the JWTs of one issuer. Cheap to clone (shared key cache).
#[derive(Clone)]
pub struct JwtValidator {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwtValidator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtValidator")
            .field("issuer", &self.inner.issuer)
            .field("audience", &self.inner.audience)
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

impl JwtValidator {
    /// Checks the configuration and, for [`JwksSource::File`], reads the key set. A URL key set
    /// is fetched on first use.
    pub fn new(config: JwtConfig) -> Result<Self, AuthError> {
        Self::with_mode(config, Mode::External)
    }

    pub(crate) fn with_mode(config: JwtConfig, mode: Mode) -> Result<Self, AuthError> {
        if config.issuer.is_empty() {
            return Err(AuthError::config("the JWT issuer is empty"));
        }
        if config.audience.is_empty() {
            return Err(AuthError::config(format!(
                "the JWT audience for issuer `{}` is empty",
                config.issuer
            )));
        }
        if config.subject_claim.is_empty() {
            return Err(AuthError::config("the JWT subject claim name is empty"));
        }
        if config.algorithms.is_empty() {
            return Err(AuthError::config(format!(
                "no JWT algorithm is allowed for issuer `{}`",
                config.issuer
            )));
        }
        if let Some(alg) = config
            .algorithms
            .iter()
            .find(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512))
        {
            return Err(AuthError::config(format!(
                "algorithm {alg:?} is not allowed for issuer `{}`: only asymmetric algorithms \
                 (RS*, PS*, ES256, ES384, EdDSA) can be used",
                config.issuer
            )));
        }
        let keys = match config.jwks {
            JwksSource::Static(set) => Keys::Fixed(Arc::new(fixed_keys(&set, &config.issuer)?)),
            JwksSource::File(path) => {
                let bytes = std::fs::read(&path).map_err(|e| {
                    AuthError::config(format!(
                        "cannot read the JWKS file `{}`: {e}",
                        path.display()
                    ))
                })?;
                let set = parse_jwks(&bytes).map_err(|e| {
                    AuthError::config(format!("JWKS file `{}`: {e}", path.display()))
                })?;
                Keys::Fixed(Arc::new(fixed_keys(&set, &config.issuer)?))
            }
            JwksSource::Url(url) => Keys::Remote(Box::new(Remote {
                fetcher: Fetcher::new(url, config.extra_ca.as_deref())?,
                cache: RwLock::new(None),
                last_attempt: tokio::sync::Mutex::new(None),
            })),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: config.issuer,
                audience: config.audience,
                algorithms: config.algorithms,
                leeway: config.leeway,
                subject_claim: config.subject_claim,
                groups_claim: config.groups_claim,
                kind: config.kind,
                refresh_interval: config.refresh_interval,
                min_refetch_interval: config.min_refetch_interval,
                mode,
                keys,
            }),
        })
    }

    /// The issuer whose tokens this validator accepts.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The audience the tokens must carry.
    pub fn audience(&self) -> &str {
        &self.inner.audience
    }

    /// Verifies `token` and returns its principal (method [`AuthMethod::Jwt`], or
    /// [`AuthMethod::GatewayToken`] for the gateway's own tokens).
    ///
    /// Errors: [`AuthError::InvalidToken`] with a short description, or
    /// [`AuthError::Unavailable`] when the key set cannot be fetched and none is cached.
    pub async fn validate(&self, token: &str) -> Result<Principal, AuthError> {
        let header = check_header(token, &self.inner.algorithms)?;
        let kid = header.kid.as_deref();
        let mut keys = self.current_keys().await?;
        if let Some(kid) = kid
            && !keys.has_kid(kid)
            && let Keys::Remote(remote) = &self.inner.keys
        {
            keys = self.refresh(remote, true).await?;
        }
        let candidates = keys.candidates(kid, header.alg);
        if candidates.is_empty() {
            return Err(AuthError::invalid(
                if kid.is_some_and(|k| !keys.has_kid(k)) || kid.is_none() {
                    "unknown signing key"
                } else {
                    "algorithm does not match the signing key"
                },
            ));
        }
        let validation = self.validation(header.alg);
        let mut last = AuthError::invalid("invalid token signature");
        for key in candidates {
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation) {
                Ok(data) => return self.principal(data.claims),
                Err(e) if *e.kind() == ErrorKind::InvalidSignature => {}
                Err(e) => {
                    last = AuthError::invalid(describe(e.kind()));
                    break;
                }
            }
        }
        tracing::debug!(issuer = %self.inner.issuer, error = %last, "jwt rejected");
        Err(last)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.algorithms = vec![alg];
        v.leeway = self.inner.leeway.as_secs();
        v.validate_exp = true;
        v.validate_nbf = true;
        v.set_issuer(&[&self.inner.issuer]);
        v.set_audience(&[&self.inner.audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud"]);
        v
    }

    async fn current_keys(&self) -> Result<Arc<KeySet>, AuthError> {
        match &self.inner.keys {
            Keys::Fixed(keys) => Ok(Arc::clone(keys)),
            Keys::Remote(remote) => {
                if let Some((keys, fetched_at)) = remote.cached()
                    && fetched_at.elapsed() < self.inner.refresh_interval
                {
                    return Ok(keys);
                }
                self.refresh(remote, false).await
            }
        }
    }

    /// Fetches the key set unless another task just did (or tried), then returns the newest
    /// set available. `unknown_kid`: the cached set is fresh but lacks a key.
    async fn refresh(&self, remote: &Remote, unknown_kid: bool) -> Result<Arc<KeySet>, AuthError> {
        let mut last_attempt = remote.last_attempt.lock().await;
        let cached = remote.cached();
        let rate_limited =
            last_attempt.is_some_and(|t| t.elapsed() < self.inner.min_refetch_interval);
        match &cached {
            Some((keys, fetched_at)) => {
                let fresh = fetched_at.elapsed() < self.inner.refresh_interval;
                if rate_limited || (fresh && !unknown_kid) {
                    return Ok(Arc::clone(keys));
                }
            }
            None if rate_limited => return Err(unavailable()),
            None => {}
        }
        *last_attempt = Some(Instant::now());
        let fetched = remote.fetcher.fetch().await.and_then(|set| {
            let keys = KeySet::from_jwks(&set);
            if keys.keys.is_empty() {
                Err("the key set has no usable signing key".to_owned())
            } else {
                Ok(keys)
            }
        });
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                if let Ok(mut cache) = remote.cache.write() {
                    *cache = Some(Cached {
                        keys: Arc::clone(&keys),
                        fetched_at: Instant::now(),
                    });
                }
                tracing::debug!(url = %remote.fetcher.url(), keys = keys.keys.len(), "jwks fetched");
                Ok(keys)
            }
            Err(reason) => {
                tracing::warn!(url = %remote.fetcher.url(), %reason, cached = cached.is_some(), "cannot fetch jwks");
                cached.map(|(keys, _)| keys).ok_or_else(unavailable)
            }
        }
    }

    fn principal(&self, mut claims: Map<String, Value>) -> Result<Principal, AuthError> {
        let inner = &*self.inner;
        let id = match claims.remove(&inner.subject_claim) {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => {
                return Err(AuthError::invalid(format!(
                    "token has no `{}` claim",
                    inner.subject_claim
                )));
            }
        };
        let groups = inner
            .groups_claim
            .as_ref()
            .and_then(|c| claims.remove(c))
            .map(|v| string_list(&v))
            .unwrap_or_default();
        let scope = claims.remove("scope");
        let scp = claims.remove("scp");
        let mut scopes = scope.or(scp).map(|v| string_list(&v));
        let mut kind = inner.kind;
        let mut method = AuthMethod::Jwt;
        let mut delegated = false;
        if inner.mode == Mode::Gateway {
            if claims.get(crate::gateway_token::DELEGATED_CLAIM) != Some(&Value::Bool(true)) {
                return Err(AuthError::invalid(
                    "token is not a gateway delegation token",
                ));
            }
            if let Some(k) = claims
                .get(crate::gateway_token::KIND_CLAIM)
                .and_then(Value::as_str)
                .and_then(PrincipalKind::parse)
            {
                kind = k;
            }
            method = AuthMethod::GatewayToken;
            delegated = true;
            scopes.get_or_insert_with(Vec::new);
        }
        let mut principal = Principal::new(id, kind, method);
        principal.groups = groups;
        principal.scopes = scopes;
        principal.delegated = delegated;
        principal.attributes = claims;
        Ok(principal)
    }
}

impl Remote {
    fn cached(&self) -> Option<(Arc<KeySet>, Instant)> {
        let cache = self.cache.read().ok()?;
        cache.as_ref().map(|c| (Arc::clone(&c.keys), c.fetched_at))
    }
}

fn unavailable() -> AuthError {
    AuthError::Unavailable("the token issuer's signing keys cannot be fetched".into())
}

fn fixed_keys(set: &JwkSet, issuer: &str) -> Result<KeySet, AuthError> {
    let keys = KeySet::from_jwks(set);
    if keys.keys.is_empty() {
        return Err(AuthError::config(format!(
            "the key set of issuer `{issuer}` has no usable signing key (RSA ≥ 2048 bits, \
             EC P-256/P-384 or Ed25519)"
        )));
    }
    Ok(keys)
}

/// Strings from an array of strings or a space-separated string.
fn string_list(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => s.split_whitespace().map(str::to_owned).collect(),
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Checks the token's shape and protected header before any key is looked up.
fn check_header(token: &str, allowed: &[Algorithm]) -> Result<jsonwebtoken::Header, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::invalid("token too large"));
    }
    let malformed = || AuthError::invalid("malformed token");
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let raw: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(malformed)?;
    let alg = raw
        .get("alg")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?;
    if !allowed.iter().any(|a| alg_name(*a) == alg) {
        return Err(AuthError::invalid("algorithm not allowed"));
    }
    if raw.contains_key("crit") {
        return Err(AuthError::invalid(
            "token uses unsupported critical header parameters",
        ));
    }
    jsonwebtoken::decode_header(token).map_err(|_| malformed())
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::EdDSA => "EdDSA",
    }
}

fn describe(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::ExpiredSignature => "token expired".into(),
        ErrorKind::ImmatureSignature => "token not yet valid".into(),
        ErrorKind::InvalidAudience => "token audience does not match this resource".into(),
        ErrorKind::InvalidIssuer => "token issuer is not trusted".into(),
        ErrorKind::InvalidSignature => "invalid token signature".into(),
        ErrorKind::InvalidAlgorithm => "algorithm not allowed".into(),
        ErrorKind::MissingRequiredClaim(claim) => format!("token has no `{claim}` claim"),
        _ => "malformed token".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_and_empty_configs_are_refused() {
        let set = JwkSet { keys: Vec::new() };
        let mut cfg = JwtConfig::new("https://as", "https://gw/mcp", JwksSource::Static(set));
        cfg.algorithms = vec![Algorithm::RS256, Algorithm::HS256];
        let err = JwtValidator::new(cfg.clone()).expect_err("hs256");
        assert!(err.to_string().contains("HS256"), "{err}");
        cfg.algorithms = Vec::new();
        assert!(JwtValidator::new(cfg.clone()).is_err());
        cfg.algorithms = vec![Algorithm::RS256];
        let err = JwtValidator::new(cfg.clone()).expect_err("no keys");
        assert!(err.to_string().contains("no usable signing key"), "{err}");
        cfg.jwks = JwksSource::Url(url::Url::parse("http://as/jwks").expect("url"));
        let err = JwtValidator::new(cfg).expect_err("http");
        assert!(err.to_string().contains("https"), "{err}");
    }

    #[test]
    fn string_lists() {
        assert_eq!(string_list(&Value::from("a  b")), ["a", "b"]);
        assert_eq!(string_list(&serde_json::json!(["a", 1, "b"])), ["a", "b"]);
        assert!(string_list(&Value::from(3)).is_empty());
    }

    #[test]
    fn header_checks() {
        let enc = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let allowed = [Algorithm::RS256];
        let tok = |h: Value| format!("{}.e30.sig", enc(h));
        let err = |t: &str| check_header(t, &allowed).expect_err("rejected").to_string();
        assert_eq!(
            err(&tok(serde_json::json!({"alg": "none"}))),
            "algorithm not allowed"
        );
        assert_eq!(
            err(&tok(serde_json::json!({"alg": "HS256"}))),
            "algorithm not allowed"
        );
        assert_eq!(
            err(&tok(serde_json::json!({"alg": "RS256", "crit": ["x"]}))),
            "token uses unsupported critical header parameters"
        );
        assert_eq!(err("a.b"), "malformed token");
        assert_eq!(err("!!.e30.x"), "malformed token");
        assert_eq!(err(&"a".repeat(MAX_TOKEN_LEN + 1)), "token too large");
        assert!(
            check_header(
                &tok(serde_json::json!({"alg": "RS256", "kid": "k"})),
                &allowed
            )
            .is_ok()
        );
    }
}
