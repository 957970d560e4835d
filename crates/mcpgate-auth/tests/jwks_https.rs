//! JWKS fetched over HTTPS from a local server with its own CA: caching, refetch on an
//! unknown `kid`, the refetch rate limit, and failing closed.

mod common;

use std::time::Duration;

use common::*;
use mcpgate_auth::{AuthError, AuthenticatorConfig, JwtValidator};
use mcpgate_core::Denial;
use mcpgate_https::testing::Reply;

#[tokio::test]
async fn key_set_is_fetched_once_and_cached() {
    let ed = TestKey::ed("k1");
    let server = jwks_server(&jwks(&[&ed])).await;
    let v = JwtValidator::new(jwks_config(&server)).expect("validator");
    assert_eq!(fetches(&server), 0, "fetched lazily");
    for _ in 0..3 {
        v.validate(&ed.sign(&claims("alice"))).await.expect("valid");
    }
    assert_eq!(fetches(&server), 1);
}

#[tokio::test]
async fn unknown_kid_triggers_one_refetch() {
    let (k1, k2) = (TestKey::ed("k1"), TestKey::ec("k2"));
    let server = jwks_server(&jwks(&[&k1])).await;
    let mut cfg = jwks_config(&server);
    cfg.min_refetch_interval = Duration::ZERO;
    let v = JwtValidator::new(cfg).expect("validator");
    v.validate(&k1.sign(&claims("a"))).await.expect("k1");
    assert_eq!(fetches(&server), 1);

    // The issuer rotates in k2: the first token with kid k2 makes the validator refetch.
    serve_jwks(&server, &jwks(&[&k1, &k2]));
    v.validate(&k2.sign(&claims("a")))
        .await
        .expect("k2 after refetch");
    assert_eq!(fetches(&server), 2);
    v.validate(&k2.sign(&claims("a"))).await.expect("k2 cached");
    assert_eq!(fetches(&server), 2);

    // Still unknown after the refetch: rejected.
    let err = v
        .validate(&TestKey::ed("k3").sign(&claims("a")))
        .await
        .expect_err("k3");
    assert_eq!(err, AuthError::InvalidToken("unknown signing key".into()));
    assert_eq!(fetches(&server), 3);
}

#[tokio::test]
async fn refetches_are_rate_limited() {
    let k1 = TestKey::ed("k1");
    let server = jwks_server(&jwks(&[&k1])).await;
    let mut cfg = jwks_config(&server);
    cfg.min_refetch_interval = Duration::from_secs(60);
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![JwtValidator::new(cfg).expect("validator")],
        ..Default::default()
    });
    auth.authenticate(&bearer(&k1.sign(&claims("a"))), None)
        .await
        .expect("k1");
    for i in 0..5 {
        let token = TestKey::ed(&format!("unknown-{i}")).sign(&claims("a"));
        let reason = assert_invalid(auth.authenticate(&bearer(&token), None).await);
        assert_eq!(reason, "unknown signing key");
    }
    assert_eq!(
        fetches(&server),
        1,
        "no refetch within min_refetch_interval"
    );
}

#[tokio::test]
async fn stale_set_is_refreshed_and_kept_when_the_server_fails() {
    let k1 = TestKey::ed("k1");
    let server = jwks_server(&jwks(&[&k1])).await;
    let mut cfg = jwks_config(&server);
    cfg.refresh_interval = Duration::ZERO;
    cfg.min_refetch_interval = Duration::ZERO;
    let v = JwtValidator::new(cfg).expect("validator");
    v.validate(&k1.sign(&claims("a"))).await.expect("first");
    v.validate(&k1.sign(&claims("a"))).await.expect("second");
    assert_eq!(fetches(&server), 2, "a stale set is fetched again");
    // The server now serves garbage: the cached set stays in use.
    server.route(JWKS_PATH, Reply::json("not json"));
    v.validate(&k1.sign(&claims("a")))
        .await
        .expect("cached set survives a failed refresh");
    assert_eq!(fetches(&server), 3);
}

#[tokio::test]
async fn unreachable_jwks_without_cache_fails_closed() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let ed = TestKey::ed("k1");
    let cfg = mcpgate_auth::JwtConfig::new(
        ISSUER,
        AUDIENCE,
        mcpgate_auth::JwksSource::Url(
            url::Url::parse(&format!("https://127.0.0.1:{port}/jwks")).expect("url"),
        ),
    );
    let auth = authenticator(AuthenticatorConfig {
        jwt: vec![JwtValidator::new(cfg).expect("validator")],
        ..Default::default()
    });
    for _ in 0..2 {
        match auth
            .authenticate(&bearer(&ed.sign(&claims("a"))), None)
            .await
        {
            Err(Denial::AuthUnavailable(m)) => assert!(m.contains("cannot be fetched"), "{m}"),
            other => panic!("expected AuthUnavailable, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn server_certificate_must_chain_to_a_trusted_root() {
    let ed = TestKey::ed("k1");
    let server = jwks_server(&jwks(&[&ed])).await;
    let mut cfg = jwks_config(&server);
    cfg.extra_ca = None;
    let v = JwtValidator::new(cfg).expect("validator");
    let err = v
        .validate(&ed.sign(&claims("a")))
        .await
        .expect_err("untrusted server");
    assert!(matches!(err, AuthError::Unavailable(_)), "{err}");
    assert_eq!(
        fetches(&server),
        0,
        "no request over an untrusted connection"
    );
}
