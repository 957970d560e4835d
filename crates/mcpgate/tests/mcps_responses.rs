//! Signed answers to profile A and B requests through the real gateway binary: with `[mcps]
//! signing_key` (P-256) and `signing_passport_id`, the answer to a profile B request carries an
//! `mcps` header signed with the gateway key, the answer to a profile A request is a profile A
//! envelope when `sign_profile_a_responses` is set, and plain otherwise. Each answer is read off
//! the HTTP body and verified with the `mcps` crate under the pinned gateway public key.

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::time::Duration;

use mcpgate_test::Answer;
use mcpgate_test::mcps::{
    McpsGateway, sign_a, sign_b, sign_native, tool_call, verdict, write_note, write_trust_store,
};
use mcps::canonical::{self, Value};
use mcps::keys::{Algorithm, SigningKey, VerifyingKey};
use mcps::native;
use mcps::profile_a::{self, VerifyOptions};
use mcps::profile_b;
use mcps::time::Timestamp;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const AGENT: &str = "asp_agent0000000000000000000000000001";
const NATIVE: &str = "native-agent";
/// The gateway's own passport id in its signed answers.
const GATEWAY: &str = "asp_0123456789abcdef0123456789abcdef";

/// The agents of a test and the gateway's key.
struct Keys {
    agent: SigningKey,
    native: SigningKey,
    gateway: SigningKey,
}

impl Keys {
    fn new(gateway: Algorithm) -> Self {
        Self {
            agent: SigningKey::generate(Algorithm::EcdsaP256).unwrap(),
            native: SigningKey::generate(Algorithm::Ed25519).unwrap(),
            gateway: SigningKey::generate(gateway).unwrap(),
        }
    }

    /// The gateway public key a client pins: read back from the SPKI PEM the operator hands out.
    fn pinned(&self) -> VerifyingKey {
        VerifyingKey::from_spki_pem(&self.gateway.verifying_key().to_spki_pem().unwrap()).unwrap()
    }

    /// Writes the trust store and `gateway.pem` into `dir`; returns the `[mcps]` section with
    /// `extra` appended.
    fn write(&self, dir: &Path, extra: &str) -> String {
        write_trust_store(dir, &[(AGENT, &self.agent, 2), (NATIVE, &self.native, 2)]);
        std::fs::write(
            dir.join("gateway.pem"),
            self.gateway.to_pkcs8_pem().unwrap(),
        )
        .unwrap();
        format!(
            "[mcps]\ntrust_store = \"signers.toml\"\nwindow = \"60s\"\n\
             signing_key = \"gateway.pem\"\n{extra}"
        )
    }

    /// A gateway signing answers as `GATEWAY`, in profile A too when `profile_a` is set.
    async fn start(&self, profile_a: bool) -> McpsGateway {
        let dir = tempfile::tempdir().unwrap();
        let section = self.write(
            dir.path(),
            &format!(
                "signing_passport_id = \"{GATEWAY}\"\nsign_profile_a_responses = {profile_a}\n"
            ),
        );
        McpsGateway::start(Path::new(BIN), dir, &section).await
    }
}

fn options() -> VerifyOptions {
    VerifyOptions {
        max_age: Duration::from_secs(60),
        max_future: Duration::from_secs(60),
        ..VerifyOptions::at(Timestamp::now())
    }
}

/// The body of a JSON answer, exactly as sent: signatures are checked over it.
fn body(answer: &Answer) -> &str {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json"),
        "{}",
        answer.body
    );
    &answer.body
}

fn echo(id: u64) -> Value {
    tool_call(id, "echo", &json!({"message": "hello"}))
}

/// `message` as plain JSON, for comparisons.
fn plain(message: &Value) -> serde_json::Value {
    serde_json::from_str(&canonical::jcs(message).unwrap()).unwrap()
}

#[tokio::test]
async fn answers_to_profile_b_requests_carry_a_header_signed_by_the_gateway() {
    let keys = Keys::new(Algorithm::EcdsaP256);
    let g = keys.start(false).await;
    let pinned = keys.pinned();

    for (id, message) in [(1, write_note(1, "b.txt")), (2, echo(2))] {
        let answer = g.send(&sign_b(&message, AGENT, &keys.agent)).await;
        let wire = body(&answer);
        let verified = profile_b::verify(wire.as_bytes(), &pinned, &options(), None).unwrap();
        assert_eq!(verified.passport_id(), GATEWAY);
        let signed = plain(verified.message());
        assert_eq!(signed["id"], id, "{signed}");
        assert_eq!(signed["result"]["isError"], false, "{signed}");
        // A client that does not check the header reads the same answer beside it.
        let mut read = answer.json();
        assert_eq!(read["mcps"]["passport_id"], GATEWAY);
        read.as_object_mut().unwrap().remove("mcps");
        assert_eq!(read, signed);
        // Under another key, or altered in transit, it does not verify.
        let other = keys.agent.verifying_key();
        assert!(profile_b::verify(wire.as_bytes(), &other, &options(), None).is_err());
        let altered = wire.replace("\"isError\":false", "\"isError\":true");
        assert_ne!(altered, wire);
        assert!(profile_b::verify(altered.as_bytes(), &pinned, &options(), None).is_err());
    }
    assert_eq!(g.note("b.txt").as_deref(), Some("note 1"));

    // Not opted in: the answer to a profile A request is plain, as is an unsigned request's.
    let answer = g
        .send(&sign_a(&write_note(3, "a.txt"), AGENT, &keys.agent))
        .await;
    assert!(answer.json().get("mcps").is_none(), "{}", answer.body);
    assert_eq!(verdict(&answer), None);
    assert_eq!(answer.json()["id"], 3);
    assert_eq!(g.note("a.txt").as_deref(), Some("note 3"));
    let unsigned = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}});
    let answer = g.send(&unsigned.to_string()).await;
    assert!(answer.json().get("mcps").is_none(), "{}", answer.body);
    assert_eq!(verdict(&answer), None);

    // Native answers are still native envelopes under the same key.
    let answer = g.send(&sign_native(&echo(5), &keys.native)).await;
    let verified = native::verify(body(&answer).as_bytes(), &pinned, &options()).unwrap();
    assert_eq!(verified.kid(), native::key_id(&pinned));
    assert_eq!(plain(verified.message())["id"], 5);
}

#[tokio::test]
async fn answers_to_profile_a_requests_are_envelopes_when_opted_in() {
    let keys = Keys::new(Algorithm::EcdsaP256);
    let g = keys.start(true).await;
    let pinned = keys.pinned();

    let answer = g
        .send(&sign_a(&write_note(1, "a.txt"), AGENT, &keys.agent))
        .await;
    let wire = body(&answer);
    let verified = profile_a::verify(wire.as_bytes(), &pinned, &options()).unwrap();
    assert_eq!(verified.passport_id(), GATEWAY);
    let signed = plain(verified.message());
    assert_eq!(signed["id"], 1, "{signed}");
    assert_eq!(signed["result"]["isError"], false, "{signed}");
    assert_eq!(answer.json()["mcps"], profile_a::VERSION);
    assert_eq!(g.note("a.txt").as_deref(), Some("note 1"));
    let altered = wire.replace("\"isError\": false", "\"isError\": true");
    assert_ne!(altered, wire);
    assert!(profile_a::verify(altered.as_bytes(), &pinned, &options()).is_err());

    // Profile B answers are signed alongside; unsigned requests still get plain answers.
    let answer = g.send(&sign_b(&echo(2), AGENT, &keys.agent)).await;
    assert!(profile_b::verify(body(&answer).as_bytes(), &pinned, &options(), None).is_ok());
    let unsigned = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}});
    let answer = g.send(&unsigned.to_string()).await;
    assert!(answer.json().get("mcps").is_none(), "{}", answer.body);
    assert_eq!(verdict(&answer), None);
}

#[tokio::test]
async fn without_a_passport_id_profile_a_and_b_answers_are_plain() {
    let keys = Keys::new(Algorithm::EcdsaP256);
    let dir = tempfile::tempdir().unwrap();
    let section = keys.write(dir.path(), "");
    let g = McpsGateway::start(Path::new(BIN), dir, &section).await;
    for wire in [
        sign_b(&echo(1), AGENT, &keys.agent),
        sign_a(&echo(2), AGENT, &keys.agent),
    ] {
        let answer = g.send(&wire).await;
        assert!(answer.json().get("mcps").is_none(), "{}", answer.body);
        assert_eq!(verdict(&answer), None);
    }
}

#[tokio::test]
async fn a_gateway_refuses_to_start_when_it_cannot_sign_profile_a_and_b_answers() {
    let cases = [
        // Profiles A and B are P-256 only.
        (
            Algorithm::Ed25519,
            format!("signing_passport_id = \"{GATEWAY}\"\n"),
            "P-256",
        ),
        (
            Algorithm::EcdsaP256,
            "signing_passport_id = \"asp_gateway\"\n".to_owned(),
            "mcps.signing_passport_id",
        ),
        (
            Algorithm::EcdsaP256,
            "sign_profile_a_responses = true\n".to_owned(),
            "mcps.sign_profile_a_responses",
        ),
    ];
    for (algorithm, extra, needle) in cases {
        let keys = Keys::new(algorithm);
        let dir = tempfile::tempdir().unwrap();
        let section = keys.write(dir.path(), &extra);
        let error = McpsGateway::start_error(Path::new(BIN), dir, &section).await;
        assert!(
            error.contains("exited early") && error.contains(needle),
            "{extra}: {error}"
        );
    }
}
