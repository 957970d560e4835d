//! API keys and mTLS through the `Authenticator`, without OAuth (realm challenges).

#![allow(
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly"
)]

use mcpgate_auth::{
    ApiKeys, Authenticator, AuthenticatorConfig, CertIdentity, generate_api_key, hash_api_key,
};
use mcpgate_core::{AuthMethod, Denial, Principal, PrincipalKind};

fn headers(pairs: &[(&'static str, &str)]) -> http::HeaderMap {
    let mut h = http::HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, http::HeaderValue::from_str(value).expect("value"));
    }
    h
}

fn setup() -> (Authenticator, String) {
    let key = generate_api_key();
    let mut ci = Principal::new("ci", PrincipalKind::Service, AuthMethod::None);
    ci.groups = vec!["deployers".into()];
    let keys = ApiKeys::new(vec![
        (
            hash_api_key(&generate_api_key()),
            Principal::new("other", PrincipalKind::User, AuthMethod::None),
        ),
        (hash_api_key(&key), ci),
    ])
    .expect("keys");
    let auth = Authenticator::new(AuthenticatorConfig {
        api_keys: Some(keys),
        mtls: Some((CertIdentity::Auto, PrincipalKind::Service)),
        ..Default::default()
    })
    .expect("authenticator");
    (auth, key)
}

fn expect_realm(result: Result<std::sync::Arc<Principal>, Denial>) -> String {
    match result {
        Err(Denial::Unauthenticated { reason, challenge }) => {
            assert_eq!(challenge, "Bearer realm=\"mcpgate\"");
            reason
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }
}

#[tokio::test]
async fn api_key_in_either_header() {
    let (auth, key) = setup();
    for h in [
        headers(&[("x-api-key", &key)]),
        headers(&[("authorization", &format!("Bearer {key}"))]),
        headers(&[
            ("authorization", &format!("Bearer {key}")),
            ("x-api-key", &key),
        ]),
    ] {
        let p = auth.authenticate(&h, None).await.expect("valid key");
        assert_eq!(p.id, "ci");
        assert_eq!(p.method, AuthMethod::ApiKey);
        assert_eq!(p.groups, ["deployers"]);
    }
}

#[tokio::test]
async fn bad_missing_and_conflicting_keys() {
    let (auth, key) = setup();
    let reason = expect_realm(
        auth.authenticate(&headers(&[("x-api-key", "mgk_wrong")]), None)
            .await,
    );
    assert_eq!(reason, "invalid API key");
    let reason = expect_realm(
        auth.authenticate(&headers(&[("authorization", "Bearer mgk_wrong")]), None)
            .await,
    );
    assert_eq!(reason, "invalid token");
    // A JWT-shaped bearer from an issuer nobody configured.
    let reason = expect_realm(
        auth.authenticate(&headers(&[("authorization", "Bearer eyJ.eyJ.sig")]), None)
            .await,
    );
    assert!(
        reason.contains("iss") || reason.contains("issuer"),
        "{reason}"
    );
    let reason = expect_realm(auth.authenticate(&http::HeaderMap::new(), None).await);
    assert!(reason.starts_with("missing credentials"), "{reason}");
    let reason = expect_realm(
        auth.authenticate(
            &headers(&[("authorization", "Bearer mgk_other"), ("x-api-key", &key)]),
            None,
        )
        .await,
    );
    assert!(reason.starts_with("conflicting credentials"), "{reason}");
}

#[tokio::test]
async fn client_certificate_when_no_header() {
    let (auth, key) = setup();
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params.subject_alt_names = vec![rcgen::SanType::URI(
        "spiffe://example.org/agent".try_into().expect("ia5"),
    )];
    let der = params
        .self_signed(&rcgen::KeyPair::generate().expect("key"))
        .expect("cert")
        .der()
        .to_vec();
    let p = auth
        .authenticate(&http::HeaderMap::new(), Some(&der))
        .await
        .expect("mtls");
    assert_eq!(p.id, "spiffe://example.org/agent");
    assert_eq!(p.method, AuthMethod::Mtls);
    // A credential header takes precedence over the certificate.
    let p = auth
        .authenticate(&headers(&[("x-api-key", &key)]), Some(&der))
        .await
        .expect("key");
    assert_eq!(p.method, AuthMethod::ApiKey);
    // Without mTLS configured the certificate is ignored.
    let plain = Authenticator::new(AuthenticatorConfig::default()).expect("authenticator");
    expect_realm(
        plain
            .authenticate(&http::HeaderMap::new(), Some(&der))
            .await,
    );
}
