//! MCPS revocation checks against a trust authority (`[mcps] revocation_url`), through the real
//! gateway binary and a fake authority on 127.0.0.1 that signs its answers.

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgate_https::testing::{Reply, TestServer};
use mcpgate_test::mcps::{McpsGateway, sign_a, sign_native, tool_call, verdict, write_trust_store};
use mcps::canonical::{self, Object, Value};
use mcps::keys::{Algorithm, SignatureFormat, SigningKey};
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const AGENT: &str = "asp_agent0000000000000000000000000001";
const REVOKED: &str = "asp_revoked0000000000000000000000000001";
/// A native signer whose id would change the authority URL if it were not escaped.
const ODD: &str = "odd/../admin?all=1#x";
/// The one path segment the gateway must ask about [`ODD`] on.
const ODD_PATH: &str = "/revocations/odd%2F%2E%2E%2Fadmin%3Fall%3D1%23x";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Honest,
    /// Signed with a key that is not the authority's.
    Forged,
    /// Correctly signed, but about another id.
    WrongId,
}

/// The trust authority's keys: its own, and one a forger signs with.
struct Authority {
    key: SigningKey,
    forger: SigningKey,
}

impl Authority {
    /// Serves an answer, made now as `mode` makes it, about each signer of the test on the
    /// path the gateway asks on.
    fn publish(&self, server: &TestServer, mode: Mode) {
        let paths = [
            (format!("/revocations/{AGENT}"), AGENT),
            (format!("/revocations/{REVOKED}"), REVOKED),
            (ODD_PATH.to_owned(), ODD),
        ];
        for (path, id) in paths {
            server.route(&path, Reply::json(self.answer(id, mode)));
        }
    }

    /// The signed answer about `id`: revoked only for [`REVOKED`].
    fn answer(&self, id: &str, mode: Mode) -> String {
        let about = if mode == Mode::WrongId {
            AGENT.to_owned() + "x"
        } else {
            id.to_owned()
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let mut object = Object::new();
        object.insert("id", Value::from(about.as_str()));
        object.insert("revoked", Value::Bool(id == REVOKED));
        object.insert("checked_at", Value::from(i64::try_from(now).unwrap()));
        let signed = canonical::jcs(&Value::Object(object.clone())).unwrap();
        let key = if mode == Mode::Forged {
            &self.forger
        } else {
            &self.key
        };
        let sig = key.sign(signed.as_bytes(), SignatureFormat::P1363).unwrap();
        object.insert("sig", Value::from(URL_SAFE_NO_PAD.encode(sig).as_str()));
        canonical::jcs(&Value::Object(object)).unwrap()
    }
}

fn call(id: u64) -> Value {
    tool_call(id, "echo", &json!({"message": "hi"}))
}

#[tokio::test]
async fn the_trust_authority_is_asked_with_escaped_ids_and_failures_refuse() {
    let p256 = || SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let agent = p256();
    let revoked = p256();
    let odd = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let authority = Authority {
        key: SigningKey::generate(Algorithm::Ed25519).unwrap(),
        forger: SigningKey::generate(Algorithm::Ed25519).unwrap(),
    };
    let server = TestServer::start_plain().await.unwrap();
    authority.publish(&server, Mode::Honest);

    let dir = tempfile::tempdir().unwrap();
    write_trust_store(
        dir.path(),
        &[(AGENT, &agent, 2), (REVOKED, &revoked, 2), (ODD, &odd, 2)],
    );
    std::fs::write(
        dir.path().join("authority.pem"),
        authority.key.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    // A TTL of 1 ms: every call asks again, so the authority's behaviour can change.
    let config = format!(
        "[mcps]\ntrust_store = \"signers.toml\"\nwindow = \"60s\"\n\
         revocation_url = \"{}\"\n\
         revocation_authority_key = \"authority.pem\"\nrevocation_ttl = \"1ms\"\n\
         dangerous_allow_http_revocation = true\n",
        server.url("/revocations/{id}")
    );
    let g = McpsGateway::start(Path::new(BIN), dir, &config).await;

    // Not revoked: the call passes, after the authority was asked about that id.
    let answer = g.send(&sign_a(&call(1), AGENT, &agent)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(
        server.requests().last().map(String::as_str),
        Some(format!("/revocations/{AGENT}").as_str())
    );

    // Revoked.
    let answer = g.send(&sign_a(&call(2), REVOKED, &revoked)).await;
    assert_eq!(
        verdict(&answer).as_deref(),
        Some("revoked"),
        "{}",
        answer.body
    );

    // An id with `/`, `?`, `#` and `..` is one escaped path segment.
    let answer = g.send(&sign_native(&call(3), &odd)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(server.requests().last().map(String::as_str), Some(ODD_PATH));

    // A forged answer (another key) and a signed answer about another id both refuse.
    for mode in [Mode::Forged, Mode::WrongId] {
        authority.publish(&server, mode);
        let answer = g.send(&sign_a(&call(4), AGENT, &agent)).await;
        assert_eq!(
            verdict(&answer).as_deref(),
            Some("revocation_unavailable"),
            "{}",
            answer.body
        );
    }

    // The authority down: refused, not passed.
    authority.publish(&server, Mode::Honest);
    let answer = g.send(&sign_a(&call(5), AGENT, &agent)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    server.stop().await;
    let answer = g.send(&sign_a(&call(6), AGENT, &agent)).await;
    assert_eq!(
        verdict(&answer).as_deref(),
        Some("revocation_unavailable"),
        "{}",
        answer.body
    );
}
