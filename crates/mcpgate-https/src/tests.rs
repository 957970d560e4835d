use std::time::Duration;

use super::*;
use crate::testing::{Reply, TestServer};

const LIMIT: usize = 1024;
const WAIT: Duration = Duration::from_secs(5);

async fn https_server() -> (TestServer, HttpsClient) {
    let server = TestServer::start().await.unwrap();
    let client = HttpsClient::new(server.ca_path().as_deref(), false).unwrap();
    (server, client)
}

#[tokio::test]
async fn a_200_body_is_returned() {
    let (server, client) = https_server().await;
    server.route("/doc", Reply::json(r#"{"a":1}"#));
    let body = client.get(&server.url("/doc"), WAIT, LIMIT).await.unwrap();
    assert_eq!(&body[..], br#"{"a":1}"#);
    // Exactly at the limit, announced or not.
    server.route("/full", Reply::json(vec![b'x'; LIMIT]));
    server.route("/full-close", Reply::json(vec![b'x'; LIMIT]).unannounced());
    for path in ["/full", "/full-close"] {
        let body = client.get(&server.url(path), WAIT, LIMIT).await.unwrap();
        assert_eq!(body.len(), LIMIT, "{path}");
    }
    assert_eq!(server.requests(), ["/doc", "/full", "/full-close"]);
}

#[tokio::test]
async fn the_certificate_must_chain_to_a_trusted_root() {
    let server = TestServer::start().await.unwrap();
    server.route("/doc", Reply::json("{}"));
    let client = HttpsClient::new(None, false).unwrap();
    let err = client
        .get(&server.url("/doc"), WAIT, LIMIT)
        .await
        .unwrap_err();
    let FetchError::Unreachable(reason) = &err else {
        panic!("expected Unreachable, got {err:?}");
    };
    assert!(reason.contains("certificate"), "{reason}");
    assert!(
        server.requests().is_empty(),
        "nothing sent over an untrusted connection"
    );
}

#[tokio::test]
async fn other_statuses_and_redirects_are_errors() {
    let (server, client) = https_server().await;
    server.route("/target", Reply::json("{}"));
    server.route("/moved", Reply::redirect(&server.url("/target")));
    server.route("/gone", Reply::status(410));
    server.route("/empty", Reply::status(204));
    let cases = [
        ("/moved", 302),
        ("/gone", 410),
        ("/empty", 204),
        ("/unrouted", 404),
    ];
    for (path, status) in cases {
        let err = client
            .get(&server.url(path), WAIT, LIMIT)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            FetchError::Status(http::StatusCode::from_u16(status).unwrap()),
            "{path}"
        );
    }
    assert!(
        !server.requests().contains(&"/target".to_owned()),
        "the redirect was followed"
    );
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused() {
    let (server, client) = https_server().await;
    server.route("/announced", Reply::json(vec![b'x'; LIMIT + 1]));
    server.route(
        "/unannounced",
        Reply::json(vec![b'x'; 4 * LIMIT]).unannounced(),
    );
    for path in ["/announced", "/unannounced"] {
        let err = client
            .get(&server.url(path), WAIT, LIMIT)
            .await
            .unwrap_err();
        assert_eq!(err, FetchError::TooLarge(LIMIT), "{path}");
    }
}

#[tokio::test]
async fn slow_answers_time_out() {
    let (server, client) = https_server().await;
    server.route("/slow", Reply::json("{}").after(Duration::from_secs(3)));
    let started = std::time::Instant::now();
    let timeout = Duration::from_millis(300);
    let err = client
        .get(&server.url("/slow"), timeout, LIMIT)
        .await
        .unwrap_err();
    assert_eq!(err, FetchError::Timeout(timeout));
    assert_eq!(err.to_string(), "no answer within 300 ms");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(
        FetchError::Timeout(Duration::from_secs(2)).to_string(),
        "no answer within 2 s"
    );
}

#[tokio::test]
async fn a_closed_port_is_unreachable() {
    let (server, client) = https_server().await;
    server.route("/doc", Reply::json("{}"));
    let url = server.url("/doc");
    assert_eq!(&client.get(&url, WAIT, LIMIT).await.unwrap()[..], b"{}");
    server.stop().await;
    let err = client.get(&url, WAIT, LIMIT).await.unwrap_err();
    assert!(matches!(err, FetchError::Unreachable(_)), "{err:?}");
}

#[tokio::test]
async fn plain_http_only_when_allowed() {
    let server = TestServer::start_plain().await.unwrap();
    server.route("/doc", Reply::json("{}"));
    let strict = HttpsClient::new(None, false).unwrap();
    assert!(!strict.allows_http());
    for url in [server.url("/doc"), "ftp://127.0.0.1/doc".to_owned()] {
        assert_eq!(
            strict.get(&url, WAIT, LIMIT).await.unwrap_err(),
            FetchError::NotHttps,
            "{url}"
        );
    }
    assert!(server.requests().is_empty());
    let lax = HttpsClient::new(None, true).unwrap();
    assert!(lax.allows_http());
    assert_eq!(
        &lax.get(&server.url("/doc"), WAIT, LIMIT).await.unwrap()[..],
        b"{}"
    );
    assert_eq!(
        lax.get("ftp://127.0.0.1/doc", WAIT, LIMIT)
            .await
            .unwrap_err(),
        FetchError::NotHttps
    );
}

#[tokio::test]
async fn malformed_urls_are_refused() {
    let client = HttpsClient::new(None, false).unwrap();
    for url in ["", "not a url", "/relative", "https://", "https:///path"] {
        assert_eq!(
            client.get(url, WAIT, LIMIT).await.unwrap_err(),
            FetchError::InvalidUrl,
            "{url:?}"
        );
    }
}

#[test]
fn the_extra_ca_must_hold_a_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(
        &garbage,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    let missing = dir.path().join("missing.pem");
    for path in [empty, garbage, missing] {
        assert_eq!(
            HttpsClient::new(Some(&path), false).unwrap_err(),
            ClientError::ExtraCa(path.clone())
        );
    }
}
