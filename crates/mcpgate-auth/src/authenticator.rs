//! One entry point that turns request headers (and the TLS client certificate) into a
//! [`Principal`] or a [`Denial`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::HeaderMap;
use http::header::AUTHORIZATION;
use mcpgate_core::{Denial, Principal, PrincipalKind};
use serde_json::Value;

use crate::AuthError;
use crate::api_key::ApiKeys;
use crate::gateway_token::TokenIssuer;
use crate::jwt::JwtValidator;
use crate::metadata;
use crate::mtls::{CertIdentity, principal_from_certificate};

/// The header carrying an API key.
pub const API_KEY_HEADER: &str = "x-api-key";

/// What the [`Authenticator`] accepts.
#[derive(Debug, Default)]
pub struct AuthenticatorConfig {
    /// API keys, accepted in `X-API-Key` or as a non-JWT bearer token.
    pub api_keys: Option<ApiKeys>,
    /// Validators of external issuers' JWTs; a token goes to the validator of its `iss`.
    pub jwt: Vec<JwtValidator>,
    /// The gateway's own token issuer; its tokens are verified with its validator.
    pub gateway_tokens: Option<Arc<TokenIssuer>>,
    /// Accept a verified TLS client certificate when no credential header is present.
    pub mtls: Option<(CertIdentity, PrincipalKind)>,
    /// Scopes every request needs; a scoped credential without them gets a 403
    /// `insufficient_scope` (unscoped credentials such as API keys are not affected).
    pub required_scopes: Vec<String>,
    /// The RFC 9728 metadata URL put into challenges ([`metadata::metadata_url`]); `None` when
    /// no OAuth is offered, which makes every challenge `Bearer realm="mcpgate"`.
    pub metadata_url: Option<String>,
}

/// Authenticates requests. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Authenticator {
    config: AuthenticatorConfig,
    verified: TokenCache,
}

/// Tokens already verified, by the SHA-256 of their text, until their `exp`.
///
/// A client sends the same access token with every request; checking its signature each time
/// (an ECDSA or RSA verification) would cost far more than everything else the gateway does
/// for a call. A token's text cannot change, so a verified token stays verified until it
/// expires; the cache never outlives `exp` and never holds the token itself.
#[derive(Debug, Default)]
struct TokenCache {
    entries: Mutex<HashMap<[u8; 32], Verified>>,
}

/// A verified token's principal and its `exp` (Unix seconds).
type Verified = (Arc<Principal>, u64);

/// Most tokens remembered at once.
const TOKEN_CACHE_CAPACITY: usize = 10_000;

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenCache {
    fn key(token: &str) -> [u8; 32] {
        use sha2::Digest as _;
        sha2::Sha256::digest(token.as_bytes()).into()
    }

    fn get(&self, key: &[u8; 32]) -> Option<Arc<Principal>> {
        let entries = self.entries.lock().ok()?;
        let (principal, exp) = entries.get(key)?;
        (unix_now() < *exp).then(|| Arc::clone(principal))
    }

    fn put(&self, key: [u8; 32], principal: &Arc<Principal>) {
        let Some(exp) = principal.attributes.get("exp").and_then(Value::as_u64) else {
            return;
        };
        let Ok(mut entries) = self.entries.lock() else {
            return;
        };
        if entries.len() >= TOKEN_CACHE_CAPACITY {
            let now = unix_now();
            entries.retain(|_, (_, e)| *e > now);
            if entries.len() >= TOKEN_CACHE_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(key, (Arc::clone(principal), exp));
    }
}

enum Credential<'a> {
    Bearer(&'a str),
    ApiKey(&'a str),
}

impl Authenticator {
    /// Checks the combination: a gateway issuer must not reuse an external issuer's name, or
    /// tokens of one could be checked as the other's.
    pub fn new(config: AuthenticatorConfig) -> Result<Self, AuthError> {
        if let Some(gw) = &config.gateway_tokens
            && config.jwt.iter().any(|v| v.issuer() == gw.issuer())
        {
            return Err(AuthError::config(format!(
                "the gateway token issuer `{}` is also configured as an external JWT issuer",
                gw.issuer()
            )));
        }
        Ok(Self {
            config,
            verified: TokenCache::default(),
        })
    }

    /// The gateway's token issuer, when delegation tokens are enabled.
    pub fn issuer(&self) -> Option<&TokenIssuer> {
        self.config.gateway_tokens.as_deref()
    }

    /// The 401 challenge for a request without credentials.
    pub fn challenge_missing(&self) -> String {
        match &self.config.metadata_url {
            Some(url) => {
                let scope = self.config.required_scopes.join(" ");
                metadata::challenge_missing(url, Some(&scope))
            }
            None => metadata::challenge_realm(),
        }
    }

    fn challenge_invalid(&self, description: &str) -> String {
        match &self.config.metadata_url {
            Some(url) => metadata::challenge_invalid(url, description),
            None => metadata::challenge_realm(),
        }
    }

    fn unauthenticated(&self, reason: impl Into<String>) -> Denial {
        let reason = reason.into();
        Denial::Unauthenticated {
            challenge: self.challenge_invalid(&reason),
            reason,
        }
    }

    fn deny(&self, error: AuthError) -> Denial {
        match error {
            AuthError::Unavailable(m) => Denial::AuthUnavailable(m),
            AuthError::InvalidToken(d) => self.unauthenticated(d),
            AuthError::InvalidCertificate(_) => Denial::Unauthenticated {
                reason: error.to_string(),
                challenge: self.challenge_missing(),
            },
            _ => self.unauthenticated("invalid token"),
        }
    }

    /// Authenticates one request from its headers and the peer's verified client certificate
    /// (DER), if any.
    ///
    /// Order: `X-API-Key` → API key; `Authorization: Bearer <t>` → a JWT-shaped `t` goes to the
    /// gateway's validator or the external validator whose issuer its (unverified) `iss`
    /// names, anything else to the API keys; no credential header → the client certificate
    /// (when mTLS is configured); nothing → 401 with the "missing credentials" challenge.
    pub async fn authenticate(
        &self,
        headers: &HeaderMap,
        peer_certificate: Option<&[u8]>,
    ) -> Result<Arc<Principal>, Denial> {
        let principal = match credential(headers).map_err(|r| self.unauthenticated(r))? {
            Some(Credential::ApiKey(key)) => self.api_key(key, "invalid API key")?,
            Some(Credential::Bearer(token)) => self.bearer(token).await?,
            None => match (peer_certificate, &self.config.mtls) {
                (Some(der), Some((rule, kind))) => Arc::new(
                    principal_from_certificate(der, *rule, *kind).map_err(|e| self.deny(e))?,
                ),
                _ => {
                    return Err(Denial::Unauthenticated {
                        reason: "missing credentials: send `Authorization: Bearer <token>` or \
                                 `X-API-Key`"
                            .into(),
                        challenge: self.challenge_missing(),
                    });
                }
            },
        };
        self.check_scopes(&principal)?;
        Ok(principal)
    }

    fn check_scopes(&self, principal: &Principal) -> Result<(), Denial> {
        let required = &self.config.required_scopes;
        if required.iter().all(|s| principal.has_scope(s)) {
            return Ok(());
        }
        let scope = required.join(" ");
        let challenge = match &self.config.metadata_url {
            Some(url) => metadata::challenge_insufficient_scope(url, &scope),
            None => format!(
                "{}, error=\"insufficient_scope\", scope=\"{}\"",
                metadata::challenge_realm(),
                scope.replace(['"', '\\'], "")
            ),
        };
        Err(Denial::InsufficientScope { scope, challenge })
    }

    fn api_key(&self, key: &str, failure: &str) -> Result<Arc<Principal>, Denial> {
        self.config
            .api_keys
            .as_ref()
            .and_then(|keys| keys.verify(key))
            .ok_or_else(|| self.unauthenticated(failure))
    }

    async fn bearer(&self, token: &str) -> Result<Arc<Principal>, Denial> {
        if !looks_like_jwt(token) {
            return self.api_key(token, "invalid token");
        }
        let key = TokenCache::key(token);
        if let Some(principal) = self.verified.get(&key) {
            return Ok(principal);
        }
        let principal = self.verify_jwt(token).await?;
        self.verified.put(key, &principal);
        Ok(principal)
    }

    async fn verify_jwt(&self, token: &str) -> Result<Arc<Principal>, Denial> {
        let issuer = unverified_issuer(token);
        let Some(issuer) = issuer.as_deref() else {
            return self.api_key(token, "token has no `iss` claim");
        };
        if let Some(gw) = &self.config.gateway_tokens
            && gw.issuer() == issuer
        {
            return gw
                .validator()
                .validate(token)
                .await
                .map(Arc::new)
                .map_err(|e| self.deny(e));
        }
        let mut first_error = None;
        for validator in self.config.jwt.iter().filter(|v| v.issuer() == issuer) {
            match validator.validate(token).await {
                Ok(p) => return Ok(Arc::new(p)),
                Err(e) => {
                    first_error.get_or_insert(e);
                }
            }
        }
        match first_error {
            Some(e) => Err(self.deny(e)),
            None => self.api_key(token, "token issuer is not trusted"),
        }
    }
}

/// The single credential of the request, or a reason why the headers are unusable.
fn credential(headers: &HeaderMap) -> Result<Option<Credential<'_>>, String> {
    let mut bearer: Option<&str> = None;
    for value in headers.get_all(AUTHORIZATION) {
        let value = value
            .to_str()
            .map_err(|_| "malformed `Authorization` header: it must be ASCII".to_owned())?;
        let token = parse_bearer(value)?;
        if bearer.is_some_and(|b| b != token) {
            return Err(
                "conflicting credentials: several different `Authorization` headers".into(),
            );
        }
        bearer = Some(token);
    }
    let mut api_key: Option<&str> = None;
    for value in headers.get_all(API_KEY_HEADER) {
        let key = value
            .to_str()
            .ok()
            .map(str::trim)
            .filter(|k| !k.is_empty() && !k.contains(' '))
            .ok_or_else(|| {
                "malformed `X-API-Key` header: it must be one non-empty ASCII value".to_owned()
            })?;
        if api_key.is_some_and(|k| k != key) {
            return Err("conflicting credentials: several different `X-API-Key` headers".into());
        }
        api_key = Some(key);
    }
    match (bearer, api_key) {
        (Some(b), Some(k)) if b != k => Err(
            "conflicting credentials: `Authorization` and `X-API-Key` carry different values"
                .into(),
        ),
        (Some(b), _) => Ok(Some(Credential::Bearer(b))),
        (None, Some(k)) => Ok(Some(Credential::ApiKey(k))),
        (None, None) => Ok(None),
    }
}

fn parse_bearer(value: &str) -> Result<&str, String> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(
            "unsupported `Authorization` scheme: send `Authorization: Bearer <token>`".into(),
        );
    }
    let token = rest.trim_start_matches(' ');
    // RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    let body = token.trim_end_matches('=');
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
    {
        return Err("malformed bearer token: expected `Authorization: Bearer <token>`".into());
    }
    Ok(token)
}

/// Three dot-separated base64url segments (the signature may be empty, as in `alg: none`
/// tokens, which the validators then reject by name).
fn looks_like_jwt(token: &str) -> bool {
    let parts: Vec<&str> = token.split('.').collect();
    parts.len() == 3
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && parts.iter().all(|p| {
            p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// The `iss` of an unverified token: used only to pick the validator, never trusted.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Map<String, Value> =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn verified_tokens_are_remembered_only_until_they_expire() {
        let cache = TokenCache::default();
        let mut p = Principal::new("a", PrincipalKind::User, mcpgate_core::AuthMethod::Jwt);
        p.attributes
            .insert("exp".into(), Value::from(unix_now() + 60));
        let live = Arc::new(p.clone());
        cache.put(TokenCache::key("live"), &live);
        let got = cache.get(&TokenCache::key("live")).expect("cached");
        assert!(Arc::ptr_eq(&got, &live));
        assert!(cache.get(&TokenCache::key("other")).is_none());

        p.attributes
            .insert("exp".into(), Value::from(unix_now() - 1));
        cache.put(TokenCache::key("stale"), &Arc::new(p.clone()));
        assert!(cache.get(&TokenCache::key("stale")).is_none());

        p.attributes.remove("exp");
        cache.put(TokenCache::key("no-exp"), &Arc::new(p));
        assert!(cache.get(&TokenCache::key("no-exp")).is_none());
    }

    fn headers(pairs: &[(&str, &[u8])]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                HeaderValue::from_bytes(value).expect("value"),
            );
        }
        h
    }

    fn err(pairs: &[(&str, &[u8])]) -> String {
        match credential(&headers(pairs)) {
            Err(e) => e,
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn credential_parsing() {
        assert!(matches!(
            credential(&headers(&[("authorization", b"bearer  abc==")])),
            Ok(Some(Credential::Bearer("abc==")))
        ));
        assert!(matches!(
            credential(&headers(&[("x-api-key", b"k1")])),
            Ok(Some(Credential::ApiKey("k1")))
        ));
        assert!(matches!(
            credential(&headers(&[
                ("authorization", b"Bearer k1"),
                ("x-api-key", b"k1")
            ])),
            Ok(Some(Credential::Bearer("k1")))
        ));
        assert!(matches!(credential(&HeaderMap::new()), Ok(None)));
        assert!(err(&[("authorization", b"Basic dXNlcjpwdw==")]).contains("scheme"));
        assert!(err(&[("authorization", b"Bearer")]).contains("malformed bearer"));
        assert!(err(&[("authorization", b"Bearer a b")]).contains("malformed bearer"));
        assert!(err(&[("authorization", b"Bearer \xe9t\xe9")]).contains("ASCII"));
        assert!(
            err(&[
                ("authorization", b"Bearer a"),
                ("authorization", b"Bearer b")
            ])
            .contains("conflicting")
        );
        assert!(
            err(&[("authorization", b"Bearer a"), ("x-api-key", b"b")]).contains("conflicting")
        );
        assert!(err(&[("x-api-key", b"a"), ("x-api-key", b"b")]).contains("conflicting"));
        assert!(err(&[("x-api-key", b"")]).contains("X-API-Key"));
    }

    #[test]
    fn futures_are_send() {
        fn assert_send<T: Send>(_: &T) {}
        let auth = Authenticator::new(AuthenticatorConfig::default()).expect("authenticator");
        let headers = HeaderMap::new();
        let fut = auth.authenticate(&headers, None);
        assert_send(&fut);
        let set = jsonwebtoken::jwk::JwkSet { keys: Vec::new() };
        let cfg = crate::JwtConfig::new("i", "a", crate::JwksSource::Static(set));
        let url = url::Url::parse("https://127.0.0.1:1/jwks").expect("url");
        let v = JwtValidator::new(crate::JwtConfig {
            jwks: crate::JwksSource::Url(url),
            ..cfg
        })
        .expect("validator");
        assert_send(&v.validate("t"));
        fn assert_sync<T: Send + Sync>() {}
        assert_sync::<Authenticator>();
    }

    #[test]
    fn jwt_shape_and_issuer_peek() {
        let payload = URL_SAFE_NO_PAD.encode(br#"{"iss":"https://as"}"#);
        let token = format!("eyJhbGciOiJub25lIn0.{payload}.");
        assert!(looks_like_jwt(&token));
        assert_eq!(unverified_issuer(&token).as_deref(), Some("https://as"));
        assert!(!looks_like_jwt("mgk_abc"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b+.c"));
    }
}
