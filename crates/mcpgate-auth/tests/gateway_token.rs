//! Gateway delegation tokens: issue → verify through the `Authenticator`, expiry, escalation,
//! tampering.

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use mcpgate_auth::{AuthError, AuthenticatorConfig, DEFAULT_MAX_TTL, IssuerKey, TokenIssuer};
use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use serde_json::json;

const GW: &str = "https://gw.example";

fn key_pem() -> String {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)
        .expect("ed25519")
        .serialize_pem()
}

fn issuer(pem: &str) -> Arc<TokenIssuer> {
    Arc::new(
        TokenIssuer::new(IssuerKey::Pem(pem.into()), GW, AUDIENCE, DEFAULT_MAX_TTL)
            .expect("issuer"),
    )
}

fn alice() -> Principal {
    let mut p = Principal::new("alice", PrincipalKind::Agent, AuthMethod::ApiKey);
    p.groups = vec!["eng".into()];
    p
}

#[tokio::test]
async fn issue_and_verify_roundtrip() {
    let ed = TestKey::ed("as-key");
    let gw = issuer(&key_pem());
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![static_validator(&[&ed])],
        gateway_tokens: Some(Arc::clone(&gw)),
        ..Default::default()
    });
    assert!(auth.issuer().is_some());
    let issued = gw
        .issue(
            &alice(),
            vec!["tool:echo".into(), "resource:*".into(), "tool:echo".into()],
            Duration::from_secs(3600),
        )
        .expect("issued");
    assert_eq!(
        issued.expires_in,
        DEFAULT_MAX_TTL.as_secs(),
        "ttl clamped to max_ttl"
    );
    assert_eq!(issued.scope, "tool:echo resource:*");
    assert!(!format!("{issued:?}").contains(&issued.access_token));

    let p = auth
        .authenticate(&bearer(&issued.access_token), None)
        .await
        .expect("valid");
    assert_eq!(p.id, "alice");
    assert_eq!(p.kind, PrincipalKind::Agent);
    assert_eq!(p.method, AuthMethod::GatewayToken);
    assert!(p.delegated);
    assert_eq!(p.groups, ["eng"]);
    assert_eq!(
        p.scopes,
        Some(vec!["tool:echo".to_owned(), "resource:*".to_owned()])
    );
    assert!(p.has_scope("resource:file:///x") && !p.has_scope("tool:add"));
    assert_eq!(p.attributes["iss"], GW);
    assert!(p.attributes["jti"].as_str().is_some_and(|j| j.len() >= 16));

    // The key set carries one Ed25519 key whose kid is its thumbprint.
    let header = jsonwebtoken::decode_header(&issued.access_token).expect("header");
    assert_eq!(header.alg, Algorithm::EdDSA);
    assert_eq!(
        header.kid.as_deref(),
        gw.jwks().keys[0].common.key_id.as_deref()
    );
}

#[tokio::test]
async fn expired_and_non_delegation_tokens_are_rejected() {
    let pem = key_pem();
    let gw = issuer(&pem);
    let auth = authenticator(AuthenticatorConfig {
        gateway_tokens: Some(Arc::clone(&gw)),
        ..Default::default()
    });
    let kid = gw.jwks().keys[0].common.key_id.clone();
    let sign = |claims: serde_json::Value| {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = kid.clone();
        jsonwebtoken::encode(
            &header,
            &claims,
            &EncodingKey::from_ed_pem(pem.as_bytes()).expect("key"),
        )
        .expect("sign")
    };
    let base = json!({
        "iss": GW, "aud": AUDIENCE, "sub": "alice", "iat": now() - 1000, "exp": now() - 60,
        "scope": "tool:echo", "mcpgate_delegated": true,
    });
    assert_eq!(
        assert_invalid(auth.authenticate(&bearer(&sign(base.clone())), None).await),
        "token expired"
    );
    let mut not_delegated = base.clone();
    not_delegated["exp"] = json!(now() + 60);
    not_delegated
        .as_object_mut()
        .expect("object")
        .remove("mcpgate_delegated");
    assert_eq!(
        assert_invalid(auth.authenticate(&bearer(&sign(not_delegated)), None).await),
        "token is not a gateway delegation token"
    );
}

#[tokio::test]
async fn tampered_and_foreign_tokens_are_rejected() {
    let gw = issuer(&key_pem());
    let other = issuer(&key_pem());
    let auth = authenticator(AuthenticatorConfig {
        gateway_tokens: Some(Arc::clone(&gw)),
        ..Default::default()
    });
    let token = gw
        .issue(&alice(), vec!["tool:echo".into()], Duration::from_secs(60))
        .expect("issued")
        .access_token;

    // Widen the scope in the payload, keep the signature.
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[1])
            .expect("b64"),
    )
    .expect("json");
    claims["scope"] = json!("tool:*");
    let forged = format!("{}.{}.{}", parts[0], b64(claims.to_string()), parts[2]);
    assert_eq!(
        assert_invalid(auth.authenticate(&bearer(&forged), None).await),
        "invalid token signature"
    );

    // Flip one signature byte.
    let mut sig = parts[2].as_bytes().to_vec();
    sig[5] = if sig[5] == b'A' { b'B' } else { b'A' };
    let flipped = format!(
        "{}.{}.{}",
        parts[0],
        parts[1],
        String::from_utf8(sig).expect("ascii")
    );
    assert_eq!(
        assert_invalid(auth.authenticate(&bearer(&flipped), None).await),
        "invalid token signature"
    );

    // Same issuer name, different key (another gateway instance with its own key).
    let foreign = other
        .issue(&alice(), vec!["tool:echo".into()], Duration::from_secs(60))
        .expect("issued");
    assert_eq!(
        assert_invalid(
            auth.authenticate(&bearer(&foreign.access_token), None)
                .await
        ),
        "unknown signing key"
    );
}

#[test]
fn no_scope_escalation() {
    let gw = TokenIssuer::new(IssuerKey::Generate, GW, AUDIENCE, DEFAULT_MAX_TTL).expect("issuer");
    let mut scoped = alice();
    scoped.method = AuthMethod::Jwt;
    scoped.scopes = Some(vec!["tool:echo".into(), "prompt:*".into()]);
    gw.issue(
        &scoped,
        vec!["tool:echo".into(), "prompt:p1".into()],
        Duration::from_secs(60),
    )
    .expect("subset");
    let err = gw
        .issue(
            &scoped,
            vec!["tool:echo".into(), "tool:add".into(), "tool:*".into()],
            Duration::from_secs(60),
        )
        .expect_err("escalation");
    assert_eq!(err, AuthError::InsufficientScope("tool:add tool:*".into()));

    // An unscoped credential (API key) may ask for any well-formed scope.
    gw.issue(&alice(), vec!["tool:*".into()], Duration::from_secs(60))
        .expect("unscoped");
    assert!(matches!(
        gw.issue(&alice(), vec![], Duration::from_secs(60)),
        Err(AuthError::InvalidScope(_))
    ));
    assert!(matches!(
        gw.issue(&alice(), vec!["admin".into()], Duration::from_secs(60)),
        Err(AuthError::InvalidScope(_))
    ));
    assert!(matches!(
        gw.issue(
            &Principal::anonymous(),
            vec!["tool:x".into()],
            Duration::from_secs(60)
        ),
        Err(AuthError::Issue(_))
    ));
}

#[test]
fn token_does_not_outlive_the_credential() {
    let gw = TokenIssuer::new(IssuerKey::Generate, GW, AUDIENCE, DEFAULT_MAX_TTL).expect("issuer");
    let mut p = alice();
    p.attributes.insert("exp".into(), json!(now() + 100));
    let t = gw
        .issue(&p, vec!["tool:x".into()], Duration::from_secs(600))
        .expect("issued");
    assert!((99..=100).contains(&t.expires_in), "{}", t.expires_in);
    p.attributes.insert("exp".into(), json!(now() - 1));
    assert!(matches!(
        gw.issue(&p, vec!["tool:x".into()], Duration::from_secs(600)),
        Err(AuthError::Issue(_))
    ));
}

#[test]
fn gateway_issuer_must_differ_from_external_issuers() {
    let ed = TestKey::ed("k");
    let gw = Arc::new(
        TokenIssuer::new(IssuerKey::Generate, ISSUER, AUDIENCE, DEFAULT_MAX_TTL).expect("issuer"),
    );
    let err = mcpgate_auth::Authenticator::new(AuthenticatorConfig {
        jwt: vec![static_validator(&[&ed])],
        gateway_tokens: Some(gw),
        ..Default::default()
    })
    .expect_err("same issuer");
    assert!(matches!(err, AuthError::Config(_)), "{err}");
}
