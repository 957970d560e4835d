//! Short-lived scoped tokens the gateway issues for delegation.
//!
//! A token is an EdDSA (Ed25519) JWT with `iss`, `aud`, `sub` (the principal id), `iat`, `nbf`,
//! `exp`, a random `jti`, `scope` (space-separated `tool:<name>`, `resource:<uri>`,
//! `prompt:<name>` or `<kind>:*`), `groups`, `mcpgate_kind` and `mcpgate_delegated: true`.
//! The gateway verifies them like any JWT, through a [`JwtValidator`] over the issuer's own
//! [`TokenIssuer::jwks`]; the resulting principal has method [`AuthMethod::GatewayToken`],
//! `delegated = true` and `scopes = Some(…)`.
//!
//! No escalation: a principal whose credential is itself scoped may only request scopes it
//! holds, and a token never outlives the `exp` of the credential it was obtained with.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcpgate_core::{AuthMethod, Principal};
use rand::RngCore as _;
use ring::signature::KeyPair as _;
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject as _;
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

use crate::AuthError;
use crate::jwt::{JwksSource, JwtConfig, JwtValidator, Mode};

pub(crate) const DELEGATED_CLAIM: &str = "mcpgate_delegated";
pub(crate) const KIND_CLAIM: &str = "mcpgate_kind";

/// The default and usual upper bound of a gateway token's lifetime.
pub const DEFAULT_MAX_TTL: Duration = Duration::from_secs(15 * 60);
/// Clock skew tolerated when verifying the gateway's own tokens.
const LEEWAY: Duration = Duration::from_secs(5);

/// The gateway's token signing key.
pub enum IssuerKey {
    /// An Ed25519 private key in PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    Pem(String),
    /// A fresh random key (tokens do not survive a restart and are not shared between
    /// replicas).
    Generate,
}

impl fmt::Debug for IssuerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pem(_) => f.write_str("IssuerKey::Pem([redacted])"),
            Self::Generate => f.write_str("IssuerKey::Generate"),
        }
    }
}

/// A token as returned to the client (RFC 6749 §5.1 fields).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct IssuedToken {
    /// The signed JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

impl fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedToken")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

/// Issues and verifies the gateway's delegation tokens.
pub struct TokenIssuer {
    key: EncodingKey,
    kid: String,
    jwks: JwkSet,
    issuer: String,
    audience: String,
    max_ttl: Duration,
    validator: JwtValidator,
}

impl fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("max_ttl", &self.max_ttl)
            .finish_non_exhaustive()
    }
}

impl TokenIssuer {
    /// An issuer signing with `signing_key`, naming itself `issuer` and the gateway's resource
    /// URI `audience`; tokens live at most `max_ttl` (see [`DEFAULT_MAX_TTL`]).
    pub fn new(
        signing_key: IssuerKey,
        issuer: impl Into<String>,
        audience: impl Into<String>,
        max_ttl: Duration,
    ) -> Result<Self, AuthError> {
        let (issuer, audience) = (issuer.into(), audience.into());
        if max_ttl.is_zero() {
            return Err(AuthError::config(
                "the gateway token max_ttl must be positive",
            ));
        }
        let pkcs8 = match signing_key {
            IssuerKey::Pem(pem) => PrivatePkcs8KeyDer::from_pem_slice(pem.as_bytes())
                .map_err(|_| {
                    AuthError::config(
                        "the gateway token signing key is not a PKCS#8 PEM private key",
                    )
                })?
                .secret_pkcs8_der()
                .to_vec(),
            IssuerKey::Generate => {
                ring::signature::Ed25519KeyPair::generate_pkcs8(&ring::rand::SystemRandom::new())
                    .map_err(|_| AuthError::config("cannot generate the gateway token key"))?
                    .as_ref()
                    .to_vec()
            }
        };
        let pair =
            ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(|_| {
                AuthError::config("the gateway token signing key is not an Ed25519 key")
            })?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        // RFC 7638: members in lexicographic order, no whitespace.
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#
        )));
        let jwk: Jwk = serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig",
        }))
        .map_err(|_| AuthError::config("cannot build the gateway token key set"))?;
        let jwks = JwkSet { keys: vec![jwk] };
        let mut config = JwtConfig::new(
            issuer.clone(),
            audience.clone(),
            JwksSource::Static(jwks.clone()),
        );
        config.algorithms = vec![Algorithm::EdDSA];
        config.leeway = LEEWAY;
        config.groups_claim = Some("groups".into());
        let validator = JwtValidator::with_mode(config, Mode::Gateway)?;
        Ok(Self {
            key: EncodingKey::from_ed_der(&pkcs8),
            kid,
            jwks,
            issuer,
            audience,
            max_ttl,
            validator,
        })
    }

    /// The `iss` of the tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `aud` of the tokens.
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The public key set (one Ed25519 key, `kid` = its RFC 7638 thumbprint).
    pub fn jwks(&self) -> JwkSet {
        self.jwks.clone()
    }

    /// The validator of the gateway's own tokens.
    pub fn validator(&self) -> &JwtValidator {
        &self.validator
    }

    /// Issues a token for `principal` with `scopes`, living `ttl` clamped to the maximum (and
    /// to the `exp` of the principal's own credential, when it has one).
    ///
    /// Errors: [`AuthError::InvalidScope`] for an empty or malformed scope list,
    /// [`AuthError::InsufficientScope`] when a scoped principal asks for a scope it does not
    /// hold, [`AuthError::Issue`] for an anonymous principal or an expired credential.
    pub fn issue(
        &self,
        principal: &Principal,
        scopes: Vec<String>,
        ttl: Duration,
    ) -> Result<IssuedToken, AuthError> {
        if principal.method == AuthMethod::None {
            return Err(AuthError::Issue(
                "an unauthenticated caller cannot obtain a token".into(),
            ));
        }
        if scopes.is_empty() {
            return Err(AuthError::InvalidScope("request at least one scope".into()));
        }
        let mut granted: Vec<String> = Vec::with_capacity(scopes.len());
        for scope in scopes {
            check_scope(&scope)?;
            if !granted.contains(&scope) {
                granted.push(scope);
            }
        }
        let refused: Vec<&str> = granted
            .iter()
            .filter(|s| !principal.has_scope(s))
            .map(String::as_str)
            .collect();
        if !refused.is_empty() {
            return Err(AuthError::InsufficientScope(refused.join(" ")));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| AuthError::Issue("the system clock is before 1970".into()))?
            .as_secs();
        let mut exp = now.saturating_add(ttl.min(self.max_ttl).as_secs());
        if let Some(credential_exp) = principal.attributes.get("exp").and_then(Value::as_u64) {
            exp = exp.min(credential_exp);
        }
        if exp <= now {
            return Err(AuthError::Issue(
                "the credential expires too soon to delegate".into(),
            ));
        }
        let mut jti = [0u8; 16];
        rand::rng().fill_bytes(&mut jti);
        let scope = granted.join(" ");
        let claims = json!({
            "iss": self.issuer,
            "aud": self.audience,
            "sub": principal.id,
            "iat": now,
            "nbf": now,
            "exp": exp,
            "jti": URL_SAFE_NO_PAD.encode(jti),
            "scope": scope,
            "groups": principal.groups,
            KIND_CLAIM: principal.kind.as_str(),
            DELEGATED_CLAIM: true,
        });
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid.clone());
        header.typ = Some("at+jwt".into());
        let access_token = jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|_| AuthError::Issue("signing failed".into()))?;
        Ok(IssuedToken {
            access_token,
            expires_in: exp - now,
            scope,
        })
    }
}

/// A scope must be `tool:<name>`, `resource:<uri>`, `prompt:<name>` or `<kind>:*`, with a
/// non-empty name of RFC 6749 scope-token characters.
fn check_scope(scope: &str) -> Result<(), AuthError> {
    let ok = scope.split_once(':').is_some_and(|(kind, name)| {
        matches!(kind, "tool" | "resource" | "prompt")
            && !name.is_empty()
            && name
                .bytes()
                .all(|b| b == 0x21 || (0x23..=0x5b).contains(&b) || (0x5d..=0x7e).contains(&b))
    });
    if ok {
        Ok(())
    } else {
        Err(AuthError::InvalidScope(
            "each scope must be `tool:<name>`, `resource:<uri>`, `prompt:<name>` or `<kind>:*`"
                .into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_syntax() {
        for good in ["tool:echo", "tool:*", "resource:file:///a/b", "prompt:p-1"] {
            assert!(check_scope(good).is_ok(), "{good}");
        }
        for bad in [
            "echo", "tool:", "tools:x", "tool:a b", "tool:a\"", "tool:a\\", "tool:é", ":x",
        ] {
            assert!(check_scope(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn jwks_kid_is_the_thumbprint_and_debug_redacts() {
        let issuer = TokenIssuer::new(
            IssuerKey::Generate,
            "https://gw",
            "https://gw/mcp",
            DEFAULT_MAX_TTL,
        )
        .expect("issuer");
        let set = issuer.jwks();
        assert_eq!(set.keys.len(), 1);
        let jwk = &set.keys[0];
        assert_eq!(jwk.common.key_id.as_deref(), Some(issuer.kid.as_str()));
        assert_eq!(
            jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256),
            issuer.kid
        );
        assert!(format!("{issuer:?}").contains("kid"));
        assert_eq!(
            format!("{:?}", IssuerKey::Pem("secret".into())),
            "IssuerKey::Pem([redacted])"
        );
    }

    #[test]
    fn bad_keys_are_config_errors() {
        for pem in [
            "",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let err = TokenIssuer::new(IssuerKey::Pem(pem.into()), "i", "a", DEFAULT_MAX_TTL)
                .expect_err("bad key");
            assert!(matches!(err, AuthError::Config(_)), "{err}");
        }
    }
}
