//! JWT validation through the `Authenticator`, with real RSA, P-256 and Ed25519 signatures.

mod common;

use common::*;
use mcpgate_auth::{AuthenticatorConfig, JwksSource, JwtConfig, JwtValidator};
use mcpgate_core::{AuthMethod, Denial, PrincipalKind};
use serde_json::json;

fn auth_with(keys: &[&TestKey]) -> mcpgate_auth::Authenticator {
    authenticator(AuthenticatorConfig {
        jwt: vec![static_validator(keys)],
        ..Default::default()
    })
}

#[tokio::test]
async fn rs256_es256_eddsa_tokens_from_a_jwks_file() {
    let (rsa, ec, ed) = (
        TestKey::rsa("rsa-1"),
        TestKey::ec("ec-1"),
        TestKey::ed("ed-1"),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("jwks.json");
    std::fs::write(
        &path,
        serde_json::to_string(&jwks(&[&rsa, &ec, &ed])).expect("json"),
    )
    .expect("write");
    let mut cfg = JwtConfig::new(ISSUER, AUDIENCE, JwksSource::File(path));
    cfg.groups_claim = Some("groups".into());
    cfg.kind = PrincipalKind::Service;
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![JwtValidator::new(cfg).expect("validator")],
        ..Default::default()
    });
    for key in [&rsa, &ec, &ed] {
        let mut c = claims("alice");
        c["groups"] = json!(["eng", "ops"]);
        c["scope"] = json!("tool:echo tool:add");
        c["tenant"] = json!("t1");
        let p = auth
            .authenticate(&bearer(&key.sign(&c)), None)
            .await
            .expect("valid token");
        assert_eq!(p.id, "alice");
        assert_eq!(p.kind, PrincipalKind::Service);
        assert_eq!(p.method, AuthMethod::Jwt);
        assert_eq!(p.groups, ["eng", "ops"]);
        assert_eq!(
            p.scopes.as_deref(),
            Some(&["tool:echo".to_owned(), "tool:add".to_owned()][..])
        );
        assert!(!p.delegated);
        assert_eq!(p.attributes["tenant"], "t1");
        assert_eq!(p.attributes["iss"], ISSUER);
        assert!(!p.attributes.contains_key("sub") && !p.attributes.contains_key("scope"));
    }
}

#[tokio::test]
async fn scp_array_and_space_separated_groups() {
    let ed = TestKey::ed("ed-1");
    let mut cfg = JwtConfig::new(ISSUER, AUDIENCE, JwksSource::Static(jwks(&[&ed])));
    cfg.groups_claim = Some("roles".into());
    cfg.subject_claim = "email".into();
    let v = JwtValidator::new(cfg).expect("validator");
    let mut c = claims("ignored");
    c["email"] = json!("bob@example.org");
    c["roles"] = json!("a b");
    c["scp"] = json!(["tool:x"]);
    let p = v.validate(&ed.sign(&c)).await.expect("valid");
    assert_eq!(p.id, "bob@example.org");
    assert_eq!(p.groups, ["a", "b"]);
    assert_eq!(p.scopes, Some(vec!["tool:x".to_owned()]));
    assert!(p.attributes.contains_key("sub"));
    let mut c = claims("x");
    c.as_object_mut().expect("object").remove("sub");
    let err = static_validator(&[&ed])
        .validate(&ed.sign(&c))
        .await
        .expect_err("no sub");
    assert_eq!(err.to_string(), "token has no `sub` claim");
}

#[tokio::test]
async fn rejected_tokens_get_invalid_token_challenges() {
    let (rsa, ed) = (TestKey::rsa("rsa-1"), TestKey::ed("ed-1"));
    let auth = auth_with(&[&rsa, &ed]);
    let check = |reason: &'static str, token: String| {
        let auth = &auth;
        async move {
            let got = assert_invalid(auth.authenticate(&bearer(&token), None).await);
            assert_eq!(got, reason, "token for {reason}");
        }
    };

    let mut c = claims("alice");
    c["exp"] = json!(now() - 120);
    check("token expired", rsa.sign(&c)).await;

    let mut c = claims("alice");
    c["aud"] = json!("https://other.example/mcp");
    check("token audience does not match this resource", ed.sign(&c)).await;

    let mut c = claims("alice");
    c["nbf"] = json!(now() + 600);
    check("token not yet valid", ed.sign(&c)).await;

    let mut c = claims("alice");
    c.as_object_mut().expect("object").remove("exp");
    check("token has no `exp` claim", ed.sign(&c)).await;

    // An issuer nobody configured: no validator, no API key.
    let mut c = claims("alice");
    c["iss"] = json!("https://evil.example");
    check("token issuer is not trusted", rsa.sign(&c)).await;

    // `alg: none`, no signature.
    let none = format!(
        "{}.{}.",
        b64(r#"{"alg":"none","kid":"rsa-1"}"#),
        b64(claims("alice").to_string())
    );
    check("algorithm not allowed", none).await;

    // HS256 with the RSA public key (PEM) as the HMAC secret.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("rsa-1".into());
    let confused = jsonwebtoken::encode(
        &header,
        &claims("alice"),
        &jsonwebtoken::EncodingKey::from_secret(RSA_PUB_PEM),
    )
    .expect("sign");
    check("algorithm not allowed", confused).await;

    // A kid the (static) key set does not have.
    let stranger = TestKey::ed("nobody");
    check("unknown signing key", stranger.sign(&claims("alice"))).await;

    // A known kid but a signature from another key.
    let impostor = TestKey::ed("ed-1");
    check("invalid token signature", impostor.sign(&claims("alice"))).await;

    // An EdDSA token naming the RSA key: algorithm does not fit the key type.
    let mixed = TestKey {
        kid: "rsa-1".into(),
        ..TestKey::ed("x")
    };
    check(
        "algorithm does not match the signing key",
        mixed.sign(&claims("alice")),
    )
    .await;

    // Tampered payload.
    let token = ed.sign(&claims("alice"));
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        b64(claims("mallory").to_string()),
        parts[2]
    );
    check("invalid token signature", forged).await;
}

#[tokio::test]
async fn algorithm_not_in_the_allowed_list() {
    let ec = TestKey::ec("ec-1");
    let mut cfg = JwtConfig::new(ISSUER, AUDIENCE, JwksSource::Static(jwks(&[&ec])));
    cfg.algorithms = vec![jsonwebtoken::Algorithm::RS256];
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![JwtValidator::new(cfg).expect("validator")],
        ..Default::default()
    });
    let reason = assert_invalid(
        auth.authenticate(&bearer(&ec.sign(&claims("a"))), None)
            .await,
    );
    assert_eq!(reason, "algorithm not allowed");
}

#[tokio::test]
async fn leeway_accepts_a_just_expired_token() {
    let ed = TestKey::ed("ed-1");
    let mut c = claims("alice");
    c["exp"] = json!(now() - 5);
    static_validator(&[&ed])
        .validate(&ed.sign(&c))
        .await
        .expect("within the default 30 s leeway");
}

#[tokio::test]
async fn missing_required_scope_is_403() {
    let ed = TestKey::ed("ed-1");
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![static_validator(&[&ed])],
        required_scopes: vec!["tool:echo".into(), "tool:add".into()],
        ..Default::default()
    });
    let mut c = claims("alice");
    c["scope"] = json!("tool:echo");
    match auth.authenticate(&bearer(&ed.sign(&c)), None).await {
        Err(Denial::InsufficientScope { scope, challenge }) => {
            assert_eq!(scope, "tool:echo tool:add");
            assert_eq!(
                challenge,
                format!(
                    "Bearer error=\"insufficient_scope\", scope=\"tool:echo tool:add\", resource_metadata=\"{META}\""
                )
            );
        }
        other => panic!("expected InsufficientScope, got {other:?}"),
    }
    c["scope"] = json!("tool:*");
    auth.authenticate(&bearer(&ed.sign(&c)), None)
        .await
        .expect("wildcard grants both");
    // A token without a scope claim is unscoped and passes.
    auth.authenticate(&bearer(&ed.sign(&claims("alice"))), None)
        .await
        .expect("unscoped");
}

#[tokio::test]
async fn missing_credentials_challenge_names_metadata_and_scope() {
    let ed = TestKey::ed("ed-1");
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![static_validator(&[&ed])],
        required_scopes: vec!["tool:echo".into()],
        ..Default::default()
    });
    match auth.authenticate(&http::HeaderMap::new(), None).await {
        Err(Denial::Unauthenticated { reason, challenge }) => {
            assert!(reason.starts_with("missing credentials"), "{reason}");
            assert_eq!(
                challenge,
                format!("Bearer resource_metadata=\"{META}\", scope=\"tool:echo\"")
            );
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
    let mut h = http::HeaderMap::new();
    h.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_static("Basic dTpw"),
    );
    let denial = auth.authenticate(&h, None).await.expect_err("basic");
    assert!(
        matches!(denial, Denial::Unauthenticated { ref reason, .. } if reason.contains("scheme")),
        "{denial:?}"
    );
}

#[tokio::test]
async fn token_picks_the_validator_of_its_issuer() {
    let (a, b) = (TestKey::ed("a"), TestKey::ed("b"));
    let other = JwtValidator::new(JwtConfig::new(
        "https://other.example",
        AUDIENCE,
        JwksSource::Static(jwks(&[&b])),
    ))
    .expect("validator");
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![static_validator(&[&a]), other],
        ..Default::default()
    });
    let mut c = claims("bob");
    c["iss"] = json!("https://other.example");
    assert_eq!(
        auth.authenticate(&bearer(&b.sign(&c)), None)
            .await
            .expect("other issuer")
            .id,
        "bob"
    );
    // Signed by the other issuer's key but claiming the first issuer: the first issuer's
    // keys do not have kid `b`.
    let reason = assert_invalid(
        auth.authenticate(&bearer(&b.sign(&claims("bob"))), None)
            .await,
    );
    assert_eq!(reason, "unknown signing key");
}
