use mcpgate_https::testing::{Reply, TestServer};
use mcps::did::to_did_key;
use mcps::keys::{Algorithm, SigningKey};

use super::*;

const WELL_KNOWN: &str = "/.well-known/did.json";

fn key(algorithm: Algorithm) -> VerifyingKey {
    SigningKey::generate(algorithm).unwrap().verifying_key()
}

/// The multibase form of an Ed25519 or P-256 key (the did:key id without its prefix).
fn multibase(key: &VerifyingKey) -> String {
    to_did_key(key).strip_prefix("did:key:").unwrap().to_owned()
}

/// A DID document for `did` with a P-256 JWK (`#p`, relative id) and an Ed25519 multibase
/// key (`<did>#e`, absolute id).
fn two_key_document(did: &str, p256: &VerifyingKey, ed: &VerifyingKey) -> String {
    let jwk = p256.to_jwk().to_json().unwrap();
    let ed = multibase(ed);
    format!(
        r##"{{"@context":["https://www.w3.org/ns/did/v1"],"id":"{did}","verificationMethod":[
            {{"id":"#p","type":"JsonWebKey2020","controller":"{did}","publicKeyJwk":{jwk}}},
            {{"id":"{did}#e","type":"Multikey","controller":"{did}","publicKeyMultibase":"{ed}"}}
        ]}}"##
    )
}

fn one_key_document(did: &str, method_id: &str, key: &VerifyingKey) -> String {
    let key = multibase(key);
    format!(
        r#"{{"id":"{did}","verificationMethod":[{{"id":"{method_id}","type":"Multikey","controller":"{did}","publicKeyMultibase":"{key}"}}]}}"#
    )
}

/// A server with its own CA, the `did:web` id of its root, and a resolver trusting it.
async fn setup() -> (TestServer, String, DidResolver) {
    let server = TestServer::start().await.unwrap();
    let did = format!("did:web:127.0.0.1%3A{}", server.port());
    let resolver = DidResolver::new(DidResolverConfig {
        extra_ca: server.ca_path(),
        ..DidResolverConfig::default()
    })
    .unwrap();
    (server, did, resolver)
}

#[tokio::test]
async fn keys_are_selected_by_fragment() {
    let (server, did, resolver) = setup().await;
    let (p256, ed) = (key(Algorithm::EcdsaP256), key(Algorithm::Ed25519));
    server.route(WELL_KNOWN, Reply::json(two_key_document(&did, &p256, &ed)));
    assert_eq!(resolver.resolve_key(&format!("{did}#p")).await, Ok(p256));
    assert_eq!(resolver.resolve_key(&format!("{did}#e")).await, Ok(ed));
    assert!(matches!(
        resolver.resolve_key(&format!("{did}#x")).await,
        Err(DidWebError::Document(_))
    ));
    assert!(matches!(
        resolver.resolve_key(&format!("{did}#")).await,
        Err(DidWebError::InvalidDid(_))
    ));
    // Two methods and no fragment: the caller must say which.
    assert_eq!(
        resolver.resolve_key(&did).await,
        Err(DidWebError::AmbiguousKey(2))
    );
    assert_eq!(server.requests(), [WELL_KNOWN; 4]);
}

#[tokio::test]
async fn a_path_did_with_one_key_needs_no_fragment() {
    let (server, root, resolver) = setup().await;
    let did = format!("{root}:users:alice");
    let ed = key(Algorithm::Ed25519);
    server.route(
        "/users/alice/did.json",
        Reply::json(one_key_document(&did, "#key-1", &ed)),
    );
    assert_eq!(resolver.resolve_key(&did).await, Ok(ed.clone()));
    assert_eq!(
        resolver.resolve_key(&format!("{did}#key-1")).await,
        Ok(ed.clone())
    );
    // An absolute method id of the same DID is fine; one of another DID is not.
    let absolute = one_key_document(&did, &format!("{did}#key-1"), &ed);
    server.route("/users/alice/did.json", Reply::json(absolute));
    assert_eq!(resolver.resolve_key(&did).await, Ok(ed.clone()));
    let foreign = one_key_document(&did, &format!("{root}:users:bob#key-1"), &ed);
    server.route("/users/alice/did.json", Reply::json(foreign));
    assert!(matches!(
        resolver.resolve_key(&did).await,
        Err(DidWebError::Document(_))
    ));
    let empty = format!(r#"{{"id":"{did}","verificationMethod":[]}}"#);
    server.route("/users/alice/did.json", Reply::json(empty));
    assert_eq!(
        resolver.resolve_key(&did).await,
        Err(DidWebError::AmbiguousKey(0))
    );
}

#[tokio::test]
async fn the_document_must_be_about_the_did() {
    let (server, did, resolver) = setup().await;
    let ed = key(Algorithm::Ed25519);
    let cases = [
        one_key_document("did:web:example.com", "#k", &ed),
        one_key_document(&format!("{did}:x"), "#k", &ed),
        one_key_document(&did.to_uppercase(), "#k", &ed),
        format!(
            r##"{{"verificationMethod":[{{"id":"#k","publicKeyMultibase":"{}"}}]}}"##,
            multibase(&ed)
        ),
    ];
    for document in cases {
        server.route(WELL_KNOWN, Reply::json(document.clone()));
        for did_url in [did.clone(), format!("{did}#k")] {
            assert_eq!(
                resolver.resolve_key(&did_url).await,
                Err(DidWebError::WrongDocumentId),
                "{did_url}: {document}"
            );
        }
    }
    // The right id, but not a usable document.
    let private = SigningKey::generate(Algorithm::Ed25519)
        .unwrap()
        .to_jwk()
        .to_json()
        .unwrap();
    let bad = [
        format!(
            r##"{{"id":"{did}","verificationMethod":[{{"id":"#k","publicKeyJwk":{private}}}]}}"##
        ),
        format!(r#"{{"id":"{did}","id":"{did}","verificationMethod":[]}}"#),
        "not json".to_owned(),
    ];
    for document in bad {
        server.route(WELL_KNOWN, Reply::json(document.clone()));
        assert!(
            matches!(
                resolver.resolve_key(&format!("{did}#k")).await,
                Err(DidWebError::Document(_))
            ),
            "{document}"
        );
    }
}

#[tokio::test]
async fn fetch_failures_are_errors() {
    let (server, did, resolver) = setup().await;
    let ed = key(Algorithm::Ed25519);
    // Over the size limit (padding in an extra member).
    let padding = "x".repeat(MAX_DOCUMENT);
    let document =
        one_key_document(&did, "#k", &ed).replacen('{', &format!(r#"{{"service":"{padding}","#), 1);
    server.route(WELL_KNOWN, Reply::json(document));
    assert_eq!(
        resolver.resolve_key(&did).await,
        Err(DidWebError::Fetch(FetchError::TooLarge(MAX_DOCUMENT)))
    );
    // No document, and a redirect (not followed).
    assert_eq!(
        resolver.resolve_key(&format!("{did}:missing")).await,
        Err(DidWebError::Fetch(FetchError::Status(
            http::StatusCode::NOT_FOUND
        )))
    );
    server.route("/moved/did.json", Reply::redirect(&server.url(WELL_KNOWN)));
    assert_eq!(
        resolver.resolve_key(&format!("{did}:moved")).await,
        Err(DidWebError::Fetch(FetchError::Status(
            http::StatusCode::FOUND
        )))
    );
    assert_eq!(
        server.requests(),
        [WELL_KNOWN, "/missing/did.json", "/moved/did.json"]
    );
    // Slower than the time limit.
    server.route(
        WELL_KNOWN,
        Reply::json(one_key_document(&did, "#k", &ed)).after(Duration::from_secs(3)),
    );
    let impatient = DidResolver::new(DidResolverConfig {
        extra_ca: server.ca_path(),
        timeout: Duration::from_millis(200),
        ..DidResolverConfig::default()
    })
    .unwrap();
    assert_eq!(
        impatient.resolve_key(&did).await,
        Err(DidWebError::Fetch(FetchError::Timeout(
            Duration::from_millis(200)
        )))
    );
    // Nobody listening.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    assert!(matches!(
        resolver
            .resolve_key(&format!("did:web:127.0.0.1%3A{port}"))
            .await,
        Err(DidWebError::Fetch(FetchError::Unreachable(_)))
    ));
}

#[tokio::test]
async fn only_trusted_https_is_used() {
    // A certificate from a CA the resolver does not trust: refused before any request.
    let (server, did, _) = setup().await;
    let ed = key(Algorithm::Ed25519);
    server.route(WELL_KNOWN, Reply::json(one_key_document(&did, "#k", &ed)));
    let untrusting = DidResolver::new(DidResolverConfig::default()).unwrap();
    assert!(matches!(
        untrusting.resolve_key(&did).await,
        Err(DidWebError::Fetch(FetchError::Unreachable(_)))
    ));
    assert!(server.requests().is_empty());

    // A host serving the document over plain HTTP only: the document is never read.
    let plain = TestServer::start_plain().await.unwrap();
    let plain_did = format!("did:web:127.0.0.1%3A{}", plain.port());
    plain.route(
        WELL_KNOWN,
        Reply::json(one_key_document(&plain_did, "#k", &ed)),
    );
    let resolver = DidResolver::new(DidResolverConfig {
        timeout: Duration::from_millis(500),
        ..DidResolverConfig::default()
    })
    .unwrap();
    assert!(matches!(
        resolver.resolve_key(&plain_did).await,
        Err(DidWebError::Fetch(
            FetchError::Timeout(_) | FetchError::Unreachable(_)
        ))
    ));
    assert!(!plain.requests().iter().any(|path| path == WELL_KNOWN));

    // URLs and DID forms that are not did:web ids are refused without a request.
    for id in [
        plain.url(WELL_KNOWN),
        "did:example:123".to_owned(),
        "DID:WEB:example.com".to_owned(),
    ] {
        assert_eq!(
            resolver.resolve_key(&id).await,
            Err(DidWebError::UnsupportedMethod),
            "{id}"
        );
    }
    for id in [
        "did:web:example.com/path",
        "did:web:example.com?query",
        "did:web:user@example.com",
        "did:web:",
    ] {
        assert!(
            matches!(
                resolver.resolve_key(id).await,
                Err(DidWebError::InvalidDid(_))
            ),
            "{id}"
        );
    }
}

#[tokio::test]
async fn did_keys_are_decoded_locally() {
    let resolver = DidResolver::new(DidResolverConfig::default()).unwrap();
    for algorithm in [Algorithm::Ed25519, Algorithm::EcdsaP256] {
        let key = key(algorithm);
        let did = to_did_key(&key);
        assert_eq!(resolver.resolve_key(&did).await, Ok(key.clone()));
        let fragment = multibase(&key);
        assert_eq!(
            resolver.resolve_key(&format!("{did}#{fragment}")).await,
            Ok(key)
        );
        assert!(matches!(
            resolver.resolve_key(&format!("{did}#key-1")).await,
            Err(DidWebError::InvalidDid(_))
        ));
    }
    assert!(matches!(
        resolver.resolve_key("did:key:z6Mk").await,
        Err(DidWebError::InvalidDid(_))
    ));
}

#[test]
fn an_unreadable_extra_ca_is_a_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.pem");
    assert_eq!(
        DidResolver::new(DidResolverConfig {
            extra_ca: Some(path.clone()),
            ..DidResolverConfig::default()
        })
        .unwrap_err(),
        DidWebError::Setup(ClientError::ExtraCa(path))
    );
}
