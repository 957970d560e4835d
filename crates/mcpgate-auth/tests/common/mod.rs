//! Shared test material: real keys, token signing, a local HTTPS server serving a JWKS.
//!
//! The RSA key in `tests/data/` is a test-only key (see `tests/data/README.md`): RSA key
//! generation is too slow in debug builds to do per test.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "a test helper module: each test binary uses a different part"
)]
#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcpgate_auth::{Authenticator, AuthenticatorConfig, JwksSource, JwtConfig, JwtValidator};
use mcpgate_https::testing::{Reply, TestServer};
use serde_json::{Value, json};

pub const ISSUER: &str = "https://as.example";
pub const AUDIENCE: &str = "https://gw.example/mcp";
pub const META: &str = "https://gw.example/.well-known/oauth-protected-resource/mcp";

pub const RSA_PEM: &[u8] = include_bytes!("../data/rsa-test-key.pem");
pub const RSA_PUB_PEM: &[u8] = include_bytes!("../data/rsa-test-key.pub.pem");

/// A signing key and its public JWK.
pub struct TestKey {
    pub alg: Algorithm,
    pub kid: String,
    pub encoding: EncodingKey,
    pub jwk: Jwk,
}

impl TestKey {
    pub fn rsa(kid: &str) -> Self {
        let encoding = EncodingKey::from_rsa_pem(RSA_PEM).expect("rsa pem");
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).expect("rsa jwk");
        jwk.common.key_id = Some(kid.into());
        Self {
            alg: Algorithm::RS256,
            kid: kid.into(),
            encoding,
            jwk,
        }
    }

    pub fn ec(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).expect("p256");
        let encoding = EncodingKey::from_ec_pem(pair.serialize_pem().as_bytes()).expect("ec pem");
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::ES256).expect("ec jwk");
        jwk.common.key_id = Some(kid.into());
        Self {
            alg: Algorithm::ES256,
            kid: kid.into(),
            encoding,
            jwk,
        }
    }

    pub fn ed(kid: &str) -> Self {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519");
        let encoding = EncodingKey::from_ed_pem(pair.serialize_pem().as_bytes()).expect("ed pem");
        let x = b64(pair.public_key_raw());
        let jwk = serde_json::from_value(json!({
            "kty": "OKP", "crv": "Ed25519", "x": x, "kid": kid, "alg": "EdDSA", "use": "sig"
        }))
        .expect("ed jwk");
        Self {
            alg: Algorithm::EdDSA,
            kid: kid.into(),
            encoding,
            jwk,
        }
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).expect("sign")
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// Valid claims for [`ISSUER`] / [`AUDIENCE`], five minutes left.
pub fn claims(sub: &str) -> Value {
    json!({ "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now(), "exp": now() + 300 })
}

pub fn jwks(keys: &[&TestKey]) -> JwkSet {
    JwkSet {
        keys: keys.iter().map(|k| k.jwk.clone()).collect(),
    }
}

pub fn static_validator(keys: &[&TestKey]) -> JwtValidator {
    JwtValidator::new(JwtConfig::new(
        ISSUER,
        AUDIENCE,
        JwksSource::Static(jwks(keys)),
    ))
    .expect("validator")
}

pub fn authenticator(config: AuthenticatorConfig) -> Authenticator {
    Authenticator::new(AuthenticatorConfig {
        metadata_url: Some(META.into()),
        ..config
    })
    .expect("authenticator")
}

pub fn bearer(token: &str) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    h
}

/// Asserts a 401 `invalid_token` denial and returns its reason.
pub fn assert_invalid(
    result: Result<Arc<mcpgate_core::Principal>, mcpgate_core::Denial>,
) -> String {
    match result {
        Err(mcpgate_core::Denial::Unauthenticated { reason, challenge }) => {
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
            assert!(
                challenge.contains(&format!("resource_metadata=\"{META}\"")),
                "{challenge}"
            );
            assert!(
                challenge.contains(&format!("error_description=\"{reason}\"")),
                "{challenge}"
            );
            reason
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

/// The path a [`jwks_server`] serves its key set on.
pub const JWKS_PATH: &str = "/jwks";

/// A local HTTPS server with a CA of its own, serving `set` on [`JWKS_PATH`] ([`fetches`]
/// counts the requests).
pub async fn jwks_server(set: &JwkSet) -> TestServer {
    let server = TestServer::start().await.expect("jwks server");
    serve_jwks(&server, set);
    server
}

/// From now on `server` answers with `set` on [`JWKS_PATH`].
pub fn serve_jwks(server: &TestServer, set: &JwkSet) {
    let body = serde_json::to_string(set).expect("jwks json");
    server.route(JWKS_PATH, Reply::json(body));
}

/// How many times the key set was fetched from `server`; a request for anything else fails
/// the test.
pub fn fetches(server: &TestServer) -> usize {
    let requests = server.requests();
    assert!(
        requests.iter().all(|path| path == JWKS_PATH),
        "{requests:?}"
    );
    requests.len()
}

/// A validator configuration fetching the key set from `server`, trusting its CA.
pub fn jwks_config(server: &TestServer) -> JwtConfig {
    let url = url::Url::parse(&server.url(JWKS_PATH)).expect("url");
    let mut cfg = JwtConfig::new(ISSUER, AUDIENCE, JwksSource::Url(url));
    cfg.extra_ca = server.ca_path();
    cfg
}
