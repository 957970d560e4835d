//! Shared test material: real keys, token signing, a local HTTPS JWKS server.
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

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcpgate_auth::{Authenticator, AuthenticatorConfig, JwksSource, JwtConfig, JwtValidator};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

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

/// A local HTTPS server answering every request with the current JWKS body.
pub struct JwksServer {
    pub url: url::Url,
    pub ca_path: std::path::PathBuf,
    hits: Arc<AtomicUsize>,
    body: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for JwksServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl JwksServer {
    pub async fn start(set: &JwkSet) -> Self {
        let ca_key = rcgen::KeyPair::generate().expect("ca key");
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mcpgate-auth test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("ca");
        let server_key = rcgen::KeyPair::generate().expect("server key");
        let server_cert =
            rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
                .expect("params")
                .signed_by(&server_key, &ca)
                .expect("server cert");
        let dir = tempfile::tempdir().expect("tempdir");
        let ca_path = dir.path().join("ca.pem");
        std::fs::write(&ca_path, ca.pem()).expect("write ca");

        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(server_cert.der().to_vec())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
        )
        .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let hits = Arc::new(AtomicUsize::new(0));
        let body = Arc::new(Mutex::new(serde_json::to_string(set).expect("jwks json")));
        let task = tokio::spawn({
            let (hits, body) = (Arc::clone(&hits), Arc::clone(&body));
            async move {
                loop {
                    let Ok((tcp, _)) = listener.accept().await else {
                        return;
                    };
                    let (acceptor, hits, body) =
                        (acceptor.clone(), Arc::clone(&hits), Arc::clone(&body));
                    tokio::spawn(async move {
                        let Ok(mut tls) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let mut request = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 8192
                        {
                            match tls.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => request.extend_from_slice(&buf[..n]),
                            }
                        }
                        hits.fetch_add(1, Ordering::SeqCst);
                        let body = body.lock().expect("body").clone();
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = tls.write_all(response.as_bytes()).await;
                        let _ = tls.shutdown().await;
                    });
                }
            }
        });
        Self {
            url: url::Url::parse(&format!("https://127.0.0.1:{port}/jwks")).expect("url"),
            ca_path,
            hits,
            body,
            _dir: dir,
            task,
        }
    }

    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    pub fn set(&self, set: &JwkSet) {
        *self.body.lock().expect("body") = serde_json::to_string(set).expect("jwks json");
    }

    pub fn set_raw(&self, body: &str) {
        *self.body.lock().expect("body") = body.to_owned();
    }

    pub fn config(&self) -> JwtConfig {
        let mut cfg = JwtConfig::new(ISSUER, AUDIENCE, JwksSource::Url(self.url.clone()));
        cfg.extra_ca = Some(self.ca_path.clone());
        cfg
    }
}
