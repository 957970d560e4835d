//! The MCPS signature stage on its own: envelopes signed here with the `mcps` crate (profiles
//! A, B and native), passed through `Stage::on_request` and `Stage::on_response`, and every
//! refusal checked by its `Denial::Signature` code; the gateway's signed answers are verified
//! with the `mcps` crate under the gateway key.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mcpgate_core::{Denial, Direction, Exchange, Id, Limits, Message, ProtocolVersion};
use mcpgate_pipeline::stages::signature::{
    Profile, Requirement, RevocationList, SignatureConfig, Signer, TrustStore,
};
use mcpgate_pipeline::{Signature, Stage, Stop};
use mcpgate_store::MemoryReplayStore;
use mcps::canonical::{self, ParseOptions, Value};
use mcps::keys::{Algorithm, SigningKey};
use mcps::native::{self, ChainSigner, Link, VerifyOptions};
use mcps::profile_a::{self, Nonce};
use mcps::profile_b;
use mcps::time::Timestamp;
use serde_json::json;

/// Profile A and B signer (P-256), trust level 3.
const AGENT: &str = "asp_agent0000000000000000000000000001";
/// Native signer (Ed25519), trust level 2.
const NATIVE: &str = "native-agent";
/// Profile A signer (P-256), trust level 1.
const LOW: &str = "asp_lowtrust000000000000000000000000001";
const ISSUER: &str = "asp_issuer00000000000000000000000000001";
/// The gateway's own passport id in its profile A and B answers.
const GATEWAY: &str = "asp_0123456789abcdef0123456789abcdef";
const UPSTREAM: &str = "demo";
const WINDOW: Duration = Duration::from_secs(60);

struct Keys {
    agent: SigningKey,
    native: SigningKey,
    low: SigningKey,
    stranger: SigningKey,
}

impl Keys {
    fn new() -> Self {
        let p256 = || SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        Self {
            agent: p256(),
            native: SigningKey::generate(Algorithm::Ed25519).unwrap(),
            low: p256(),
            stranger: p256(),
        }
    }

    fn signers(&self) -> Vec<Signer> {
        vec![
            Signer::new(AGENT, self.agent.verifying_key(), 3),
            Signer::new(NATIVE, self.native.verifying_key(), 2),
            Signer::new(LOW, self.low.verifying_key(), 1),
        ]
    }

    /// Every profile, the trust store of `signers`, a memory replay store, no revocation list,
    /// no requirements, no response key.
    fn config_with(&self, signers: Vec<Signer>) -> SignatureConfig {
        SignatureConfig {
            profiles: vec![Profile::A, Profile::B, Profile::Native],
            trust: TrustStore::new(signers).unwrap(),
            window: WINDOW,
            replay: Arc::new(MemoryReplayStore::new(10_000)),
            revocations: None,
            requirements: Vec::new(),
            limits: Limits::default(),
            response_key: None,
            response_passport_id: None,
            sign_profile_a_responses: false,
        }
    }

    fn config(&self) -> SignatureConfig {
        self.config_with(self.signers())
    }

    fn stage(&self) -> Signature {
        Signature::new(self.config())
    }
}

fn exchange_to(wire: &str, session: &str, upstream: &str) -> Exchange {
    let message = Message::parse(wire.as_bytes(), Limits::default()).unwrap();
    Exchange::new(
        message,
        Direction::ClientToServer,
        session.into(),
        upstream.into(),
        ProtocolVersion::LATEST_LEGACY,
        wire.len(),
    )
}

fn exchange(wire: &str, session: &str) -> Exchange {
    exchange_to(wire, session, UPSTREAM)
}

/// Runs the request side; `Err` holds the signature denial code.
async fn request(stage: &Signature, x: &mut Exchange) -> Result<(), &'static str> {
    match stage.on_request(x).await {
        Ok(()) => Ok(()),
        Err(Stop::Deny(Denial::Signature { code, .. })) => Err(code),
        Err(other) => panic!("not a signature denial: {other:?}"),
    }
}

/// Sends `wire` in `session` to the demo upstream; `Err` holds the denial code.
async fn send(stage: &Signature, wire: &str, session: &str) -> Result<Exchange, &'static str> {
    let mut x = exchange(wire, session);
    request(stage, &mut x).await.map(|()| x)
}

async fn code(stage: &Signature, wire: &str, session: &str) -> &'static str {
    match send(stage, wire, session).await {
        Ok(x) => panic!("accepted: {}", x.message.to_json()),
        Err(code) => code,
    }
}

fn call_json(id: &serde_json::Value, tool: &str) -> serde_json::Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": {"path": "notes/a.md", "content": "hello"}}})
}

fn value(json: &serde_json::Value) -> Value {
    canonical::parse(&json.to_string(), &ParseOptions::STRICT).unwrap()
}

fn call(id: u64, tool: &str) -> Value {
    value(&call_json(&json!(id), tool))
}

fn sign_a_with(message: &Value, id: &str, key: &SigningKey, at: Timestamp, nonce: Nonce) -> String {
    profile_a::sign(message, id, key, at, nonce)
        .unwrap()
        .to_json()
        .unwrap()
}

fn sign_a(message: &Value, id: &str, key: &SigningKey) -> String {
    sign_a_with(message, id, key, Timestamp::now(), Nonce::random().unwrap())
}

fn sign_b(message: &Value, id: &str, key: &SigningKey) -> String {
    let now = Timestamp::now();
    profile_b::sign(message, id, key, now, Nonce::random().unwrap(), None)
        .unwrap()
        .to_json()
        .unwrap()
}

/// The next envelope of `chain`, signed now with a fresh nonce.
fn sign_next(chain: &mut ChainSigner, message: &Value, key: &SigningKey) -> native::SignedEnvelope {
    chain
        .sign(message, key, Timestamp::now(), &Nonce::random().unwrap())
        .unwrap()
}

fn sign_native(message: &Value, key: &SigningKey) -> String {
    let mut chain = ChainSigner::new(Link::random_start().unwrap());
    sign_next(&mut chain, message, key).to_json().unwrap()
}

fn parsed(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap()
}

fn write_list(path: &Path, text: &str) -> RevocationList {
    std::fs::write(path, text).unwrap();
    RevocationList::load(path.to_owned(), Duration::ZERO).unwrap()
}

#[tokio::test]
async fn unsigned_messages_pass_with_unsigned_facts() {
    let keys = Keys::new();
    let stage = keys.stage();
    let plain = call_json(&json!(1), "echo").to_string();
    let x = send(&stage, &plain, "s").await.unwrap();
    assert_eq!(x.facts.get("signed"), Some(&json!(false)));
    assert_eq!(x.facts.get("trust_level"), Some(&json!(0)));
    assert_eq!(x.facts.get("signer"), None);
    assert_eq!(x.message.to_json(), plain);
    // Messages from the upstream are not the stage's business on the request side.
    let mut x = exchange(&sign_a(&call(2, "echo"), AGENT, &keys.stranger), "s");
    x.direction = Direction::ServerToClient;
    assert_eq!(request(&stage, &mut x).await, Ok(()));
    assert!(x.facts.is_empty());
}

#[tokio::test]
async fn every_profile_verifies_and_unwraps_to_plain_json_rpc() {
    let keys = Keys::new();
    let stage = keys.stage();
    let cases = [
        ("a", json!(7), AGENT, 3, Profile::A),
        ("b", json!("req-7"), AGENT, 3, Profile::B),
        ("native", json!(9), NATIVE, 2, Profile::Native),
    ];
    for (name, id, signer, level, profile) in cases {
        let plain = call_json(&id, "write_note");
        let message = value(&plain);
        let wire = match profile {
            Profile::A => sign_a(&message, AGENT, &keys.agent),
            Profile::B => sign_b(&message, AGENT, &keys.agent),
            Profile::Native => sign_native(&message, &keys.native),
        };
        let x = send(&stage, &wire, name).await.unwrap();
        assert!(x.message.mcps_envelope().is_none(), "{name}");
        assert!(x.message.member("mcps").is_none(), "{name}");
        assert_eq!(parsed(&x.message.to_json()), plain, "{name}");
        assert_eq!(x.message.id().unwrap().as_json(), id.to_string(), "{name}");
        assert_eq!(x.message.method(), Some("tools/call"), "{name}");
        assert_eq!(x.target().as_deref(), Some("write_note"), "{name}");
        assert_eq!(x.facts.get("signed"), Some(&json!(true)), "{name}");
        assert_eq!(x.facts.get("trust_level"), Some(&json!(level)), "{name}");
        assert_eq!(x.facts.get("signer"), Some(&json!(signer)), "{name}");
    }
}

#[tokio::test]
async fn unknown_signers_are_refused() {
    let keys = Keys::new();
    let stage = keys.stage();
    let stranger = "asp_stranger000000000000000000000000001";
    let wire = sign_a(&call(1, "echo"), stranger, &keys.stranger);
    assert_eq!(code(&stage, &wire, "s").await, "unknown_signer");
    let wire = sign_b(&call(2, "echo"), stranger, &keys.stranger);
    assert_eq!(code(&stage, &wire, "s").await, "unknown_signer");
    let unknown_ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let wire = sign_native(&call(3, "echo"), &unknown_ed);
    assert_eq!(code(&stage, &wire, "s").await, "unknown_signer");
}

#[tokio::test]
async fn profiles_not_configured_are_refused() {
    let keys = Keys::new();
    let only = |profiles: Vec<Profile>| {
        Signature::new(SignatureConfig {
            profiles,
            ..keys.config()
        })
    };
    let a = sign_a(&call(1, "echo"), AGENT, &keys.agent);
    let b = sign_b(&call(2, "echo"), AGENT, &keys.agent);
    let n = sign_native(&call(3, "echo"), &keys.native);
    let native_only = only(vec![Profile::Native]);
    assert_eq!(code(&native_only, &a, "s").await, "profile_not_accepted");
    assert_eq!(code(&native_only, &b, "s").await, "profile_not_accepted");
    assert!(send(&native_only, &n, "s").await.is_ok());
    let a_only = only(vec![Profile::A]);
    assert_eq!(code(&a_only, &n, "t").await, "profile_not_accepted");
    assert_eq!(code(&a_only, &b, "t").await, "profile_not_accepted");
    assert!(send(&a_only, &a, "t").await.is_ok());
}

#[tokio::test]
async fn tampered_and_forged_envelopes_are_refused() {
    let keys = Keys::new();
    let stage = keys.stage();
    let tamper = |wire: String| {
        let changed = wire.replace("hello", "HELLO");
        assert_ne!(changed, wire);
        changed
    };
    let a = tamper(sign_a(&call(1, "write_note"), AGENT, &keys.agent));
    assert_eq!(code(&stage, &a, "s").await, "bad_signature");
    let b = tamper(sign_b(&call(2, "write_note"), AGENT, &keys.agent));
    assert_eq!(code(&stage, &b, "s").await, "bad_signature");
    let n = tamper(sign_native(&call(3, "write_note"), &keys.native));
    assert_eq!(code(&stage, &n, "s").await, "bad_signature");
    // Another signer's passport id over one's own key.
    let forged = sign_a(&call(4, "write_note"), AGENT, &keys.stranger);
    assert_eq!(code(&stage, &forged, "s").await, "bad_signature");
}

#[tokio::test]
async fn timestamps_outside_the_window_are_refused() {
    let keys = Keys::new();
    let stage = keys.stage();
    let at = |t: Timestamp| {
        sign_a_with(
            &call(1, "echo"),
            AGENT,
            &keys.agent,
            t,
            Nonce::random().unwrap(),
        )
    };
    let old = Timestamp::now().saturating_sub(WINDOW * 2);
    assert_eq!(code(&stage, &at(old), "s").await, "expired");
    let ahead = Timestamp::now().saturating_add(WINDOW * 2);
    assert_eq!(code(&stage, &at(ahead), "s").await, "future_timestamp");
    // Inside the window either way.
    let recent = Timestamp::now().saturating_sub(WINDOW / 2);
    assert!(send(&stage, &at(recent), "s").await.is_ok());
    let soon = Timestamp::now().saturating_add(WINDOW / 2);
    assert!(send(&stage, &at(soon), "s").await.is_ok());
}

#[tokio::test]
async fn replays_are_refused_in_any_session() {
    let keys = Keys::new();
    let stage = keys.stage();
    for wire in [
        sign_a(&call(1, "echo"), AGENT, &keys.agent),
        sign_b(&call(2, "echo"), AGENT, &keys.agent),
        sign_native(&call(3, "echo"), &keys.native),
    ] {
        assert!(send(&stage, &wire, "first").await.is_ok());
        assert_eq!(code(&stage, &wire, "second").await, "replay");
    }
}

#[tokio::test]
async fn the_nonce_of_a_refused_envelope_is_not_consumed() {
    let keys = Keys::new();
    let stage = keys.stage();
    let nonce = Nonce::random().unwrap();
    let now = Timestamp::now();
    let forged = sign_a_with(&call(1, "echo"), AGENT, &keys.stranger, now, nonce.clone());
    assert_eq!(code(&stage, &forged, "s").await, "bad_signature");
    let tampered = sign_a_with(&call(2, "echo"), AGENT, &keys.agent, now, nonce.clone())
        .replace("hello", "HELLO");
    assert_eq!(code(&stage, &tampered, "s").await, "bad_signature");
    let genuine = sign_a_with(&call(3, "echo"), AGENT, &keys.agent, now, nonce.clone());
    assert!(send(&stage, &genuine, "s").await.is_ok());
    // Accepted, it is now recorded: another message under that nonce is a replay.
    let again = sign_a_with(&call(4, "echo"), AGENT, &keys.agent, now, nonce);
    assert_eq!(code(&stage, &again, "s").await, "replay");
}

#[tokio::test]
async fn signature_requirements_cover_only_their_upstream_and_tools() {
    let keys = Keys::new();
    let stage = Signature::new(SignatureConfig {
        requirements: vec![
            Requirement {
                upstream: UPSTREAM.into(),
                signed: true,
                min_trust_level: 0,
                tools: vec!["write_note".into()],
            },
            Requirement {
                upstream: "vault".into(),
                signed: true,
                min_trust_level: 0,
                tools: Vec::new(),
            },
        ],
        ..keys.config()
    });
    let unsigned = |id: u64, tool: &str| call_json(&json!(id), tool).to_string();
    let refused = |wire: &str, upstream: &str| {
        let mut x = exchange_to(wire, "s", upstream);
        let stage = &stage;
        async move { request(stage, &mut x).await }
    };
    assert_eq!(
        refused(&unsigned(1, "write_note"), UPSTREAM).await,
        Err("signature_required")
    );
    assert_eq!(refused(&unsigned(2, "echo"), UPSTREAM).await, Ok(()));
    assert_eq!(refused(&unsigned(3, "write_note"), "other").await, Ok(()));
    // No tool list: every tool of that upstream.
    assert_eq!(
        refused(&unsigned(4, "echo"), "vault").await,
        Err("signature_required")
    );
    // Other methods are not calls.
    let list = json!({"jsonrpc": "2.0", "id": 5, "method": "tools/list"}).to_string();
    assert_eq!(refused(&list, "vault").await, Ok(()));
    // Signed, the required calls pass, at any trust level.
    let signed = sign_a(&call(6, "write_note"), LOW, &keys.low);
    assert_eq!(refused(&signed, UPSTREAM).await, Ok(()));
    let signed = sign_native(&call(7, "echo"), &keys.native);
    assert_eq!(refused(&signed, "vault").await, Ok(()));
}

#[tokio::test]
async fn a_minimum_trust_level_refuses_lower_signers_and_unsigned_calls() {
    let keys = Keys::new();
    let stage = Signature::new(SignatureConfig {
        requirements: vec![Requirement {
            upstream: UPSTREAM.into(),
            signed: false,
            min_trust_level: 2,
            tools: vec!["write_note".into()],
        }],
        ..keys.config()
    });
    let low = sign_a(&call(1, "write_note"), LOW, &keys.low);
    assert_eq!(code(&stage, &low, "s").await, "insufficient_trust");
    let unsigned = call_json(&json!(2), "write_note").to_string();
    assert_eq!(code(&stage, &unsigned, "s").await, "signature_required");
    // Level 2 and 3 reach the minimum; the low signer may call other tools.
    assert!(
        send(
            &stage,
            &sign_native(&call(3, "write_note"), &keys.native),
            "s"
        )
        .await
        .is_ok()
    );
    assert!(
        send(
            &stage,
            &sign_a(&call(4, "write_note"), AGENT, &keys.agent),
            "s"
        )
        .await
        .is_ok()
    );
    assert!(
        send(&stage, &sign_a(&call(5, "echo"), LOW, &keys.low), "s")
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_expired_passport_is_refused() {
    let keys = Keys::new();
    let mut signers = keys.signers();
    signers[0].expires_at = Some(Timestamp::now().saturating_sub(Duration::from_secs(1)));
    signers[1].expires_at = Some(Timestamp::now().saturating_add(Duration::from_secs(3600)));
    let stage = Signature::new(keys.config_with(signers));
    let a = sign_a(&call(1, "echo"), AGENT, &keys.agent);
    assert_eq!(code(&stage, &a, "s").await, "passport_expired");
    let b = sign_b(&call(2, "echo"), AGENT, &keys.agent);
    assert_eq!(code(&stage, &b, "s").await, "passport_expired");
    // Not yet expired.
    let n = sign_native(&call(3, "echo"), &keys.native);
    assert!(send(&stage, &n, "s").await.is_ok());
    // Its signature is still checked first: a forgery is a forgery.
    let forged = sign_a(&call(4, "echo"), AGENT, &keys.stranger);
    assert_eq!(code(&stage, &forged, "s").await, "bad_signature");
}

#[tokio::test]
async fn the_revocation_list_matches_signer_ids_key_ids_and_issuers() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.txt");
    let agent_kid = native::key_id(&keys.agent.verifying_key());
    let native_kid = native::key_id(&keys.native.verifying_key());
    let with_list = |text: &str| {
        let mut signers = keys.signers();
        signers[2].issuers = vec!["asp_other".into(), ISSUER.into()];
        Signature::new(SignatureConfig {
            revocations: Some(write_list(&path, text)),
            ..keys.config_with(signers)
        })
    };
    let a = || sign_a(&call(1, "echo"), AGENT, &keys.agent);
    let n = || sign_native(&call(2, "echo"), &keys.native);
    let low = || sign_a(&call(3, "echo"), LOW, &keys.low);

    // Nothing listed that matters (comments and blank lines are ignored).
    let stage = with_list(&format!("# revoked\n\n{ISSUER}-not # {AGENT}\n"));
    assert!(send(&stage, &a(), "s").await.is_ok());
    assert!(send(&stage, &n(), "s").await.is_ok());
    assert!(send(&stage, &low(), "s").await.is_ok());

    let stage = with_list(&format!("  {AGENT}  # compromised\n"));
    assert_eq!(code(&stage, &a(), "s").await, "revoked");
    assert!(send(&stage, &n(), "s").await.is_ok());

    let stage = with_list(&format!("{native_kid}\n"));
    assert_eq!(code(&stage, &n(), "s").await, "revoked");
    assert!(send(&stage, &a(), "s").await.is_ok());

    // A profile A signer is matched by its key id too.
    let stage = with_list(&format!("{agent_kid}\n"));
    assert_eq!(code(&stage, &a(), "s").await, "revoked");

    // An issuer anywhere in the signer's chain.
    let stage = with_list(&format!("{ISSUER}\n"));
    assert_eq!(code(&stage, &low(), "s").await, "revoked");
    assert!(send(&stage, &a(), "s").await.is_ok());

    // Unsigned messages are not affected by revocations.
    let unsigned = call_json(&json!(4), "echo").to_string();
    assert!(send(&stage, &unsigned, "s").await.is_ok());
}

#[tokio::test]
async fn an_unreadable_revocation_list_refuses_signed_messages() {
    let keys = Keys::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("revoked.txt");
    std::fs::write(&path, "# nobody\n").unwrap();
    let list = RevocationList::load(path.clone(), Duration::from_millis(20)).unwrap();
    let stage = Signature::new(SignatureConfig {
        revocations: Some(list),
        ..keys.config()
    });
    let a = || sign_a(&call(1, "echo"), AGENT, &keys.agent);
    assert!(send(&stage, &a(), "s").await.is_ok());

    std::fs::remove_file(&path).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(code(&stage, &a(), "s").await, "revocation_unavailable");
    // It stays refused while the file is missing; unsigned messages are not affected.
    assert_eq!(code(&stage, &a(), "s").await, "revocation_unavailable");
    let unsigned = call_json(&json!(2), "echo").to_string();
    assert!(send(&stage, &unsigned, "s").await.is_ok());

    // Readable again: the list is reloaded, with its new content.
    std::fs::write(&path, format!("{LOW}\n")).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(send(&stage, &a(), "s").await.is_ok());
    let low = sign_a(&call(3, "echo"), LOW, &keys.low);
    assert_eq!(code(&stage, &low, "s").await, "revoked");
}

#[tokio::test]
async fn native_chains_are_per_session_and_must_start_and_continue() {
    let keys = Keys::new();
    let stage = keys.stage();
    let sign = |chain: &mut ChainSigner, id: u64| {
        sign_next(chain, &call(id, "echo"), &keys.native)
            .to_json()
            .unwrap()
    };
    let mut one = ChainSigner::new(Link::start("chain-one").unwrap());
    let mut two = ChainSigner::new(Link::start("chain-two").unwrap());
    // Two sessions interleaved, each with its own chain.
    let one0 = sign(&mut one, 10);
    let two0 = sign(&mut two, 20);
    let one1 = sign(&mut one, 11);
    let two1 = sign(&mut two, 21);
    assert!(send(&stage, &one0, "s1").await.is_ok());
    assert!(send(&stage, &two0, "s2").await.is_ok());
    assert!(send(&stage, &one1, "s1").await.is_ok());
    assert!(send(&stage, &two1, "s2").await.is_ok());

    // A dropped message: envelope 3 without envelope 2.
    let one2 = sign(&mut one, 12);
    let one3 = sign(&mut one, 13);
    assert_eq!(code(&stage, &one3, "s1").await, "transcript_mismatch");
    // The refusal did not advance the chain: envelope 2 is accepted, and then 3 would be, but
    // its nonce is spent (replay is checked before the chain), so 4 must follow 3's link.
    assert!(send(&stage, &one2, "s1").await.is_ok());
    assert_eq!(code(&stage, &one3, "s1").await, "replay");
    // The chain of session two is where it was.
    let two2 = sign(&mut two, 22);
    assert_eq!(code(&stage, &two2, "s1").await, "transcript_mismatch");
    let two3 = sign(&mut two, 23);
    assert_eq!(code(&stage, &two3, "s2").await, "transcript_mismatch");

    // A session's first envelope must be a chain start.
    let mut three = ChainSigner::new(Link::start("chain-three").unwrap());
    let _skipped = sign(&mut three, 30);
    let three1 = sign(&mut three, 31);
    assert_eq!(code(&stage, &three1, "s3").await, "transcript_mismatch");
    // A second chain start in a session that has a chain.
    let restart = sign(&mut ChainSigner::new(Link::start("again").unwrap()), 40);
    assert_eq!(code(&stage, &restart, "s2").await, "transcript_mismatch");
    // A chain start in a fresh session is fine.
    let fresh = sign(&mut ChainSigner::new(Link::start("fresh").unwrap()), 41);
    assert!(send(&stage, &fresh, "s4").await.is_ok());
}

#[tokio::test]
async fn responses_to_native_requests_are_signed_with_the_gateway_key() {
    let keys = Keys::new();
    let gateway = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let stage = Signature::new(SignatureConfig {
        response_key: Some(gateway.clone()),
        ..keys.config()
    });
    let answer = json!({"content": [{"type": "text", "text": "done"}], "isError": false});

    let mut chain = ChainSigner::new(Link::random_start().unwrap());
    for id in [1, 2] {
        let envelope = sign_next(&mut chain, &call(id, "echo"), &keys.native);
        let x = send(&stage, &envelope.to_json().unwrap(), "s")
            .await
            .unwrap();
        let mut response = Message::result(&Id::number(id), &answer);
        stage.on_response(&x, &mut response).await.unwrap();
        let wire = response.to_json();
        let verified = native::verify(
            wire.as_bytes(),
            &gateway.verifying_key(),
            &VerifyOptions::at(Timestamp::now()),
        )
        .unwrap();
        assert_eq!(verified.kid(), native::key_id(&gateway.verifying_key()));
        assert_eq!(
            verified.link(),
            &Link::Prev(envelope.link_hash().to_owned()),
            "response {id} follows its request"
        );
        let message = canonical::jcs(verified.message()).unwrap();
        assert_eq!(
            parsed(&message),
            json!({"jsonrpc": "2.0", "id": id, "result": answer})
        );
        // A gateway key is not the client's: the stage does not accept it as a request.
        assert_eq!(code(&stage, &wire, "other").await, "unknown_signer");
    }

    // Unsigned, profile A and profile B requests get plain responses: no gateway passport id.
    for wire in [
        call_json(&json!(3), "echo").to_string(),
        sign_a(&call(4, "echo"), AGENT, &keys.agent),
        sign_b(&call(6, "echo"), AGENT, &keys.agent),
    ] {
        let x = send(&stage, &wire, "s").await.unwrap();
        let id = x.message.id().unwrap().clone();
        let mut response = Message::result(&id, &answer);
        let plain = response.to_json();
        stage.on_response(&x, &mut response).await.unwrap();
        assert_eq!(response.to_json(), plain);
    }

    // Without a response key, native requests get plain responses too.
    let stage = keys.stage();
    let x = send(&stage, &sign_native(&call(5, "echo"), &keys.native), "s")
        .await
        .unwrap();
    let mut response = Message::result(&Id::number(5), &answer);
    let plain = response.to_json();
    stage.on_response(&x, &mut response).await.unwrap();
    assert_eq!(response.to_json(), plain);
}

/// A stage whose gateway key signs responses as `GATEWAY`, in profile A too when asked.
struct Responder {
    keys: Keys,
    gateway: SigningKey,
    stage: Signature,
}

impl Responder {
    /// With a P-256 gateway key.
    fn new(profile_a: bool) -> Self {
        Self::with_key(
            SigningKey::generate(Algorithm::EcdsaP256).unwrap(),
            profile_a,
        )
    }

    fn with_key(gateway: SigningKey, profile_a: bool) -> Self {
        let keys = Keys::new();
        let stage = Signature::new(SignatureConfig {
            response_key: Some(gateway.clone()),
            response_passport_id: Some(GATEWAY.into()),
            sign_profile_a_responses: profile_a,
            ..keys.config()
        });
        Self {
            keys,
            gateway,
            stage,
        }
    }

    /// A profile A `tools/call` with `id` by the agent.
    fn a(&self, id: u64) -> String {
        sign_a(&call(id, "echo"), AGENT, &self.keys.agent)
    }

    /// A profile B `tools/call` with `id` by the agent.
    fn b(&self, id: u64) -> String {
        sign_b(&call(id, "echo"), AGENT, &self.keys.agent)
    }

    /// Accepts `wire` in session `s`.
    async fn accept(&self, wire: &str) -> Exchange {
        send(&self.stage, wire, "s").await.unwrap()
    }

    /// Accepts `wire` and answers it with a result: the wire text sent, or the denial code.
    async fn answer(&self, wire: &str) -> Result<String, &'static str> {
        let x = self.accept(wire).await;
        respond(&self.stage, &x).await
    }

    fn verify_b(&self, wire: &str) -> Result<profile_b::VerifiedEnvelope, mcps::Error> {
        profile_b::verify(wire.as_bytes(), &self.gateway.verifying_key(), &now(), None)
    }
}

/// Runs the response side for `x` over a result for its id; the wire text sent.
async fn respond(stage: &Signature, x: &Exchange) -> Result<String, &'static str> {
    let mut response = Message::result(x.message.id().unwrap(), &answer());
    match stage.on_response(x, &mut response).await {
        Ok(()) => Ok(response.to_json()),
        Err(Stop::Deny(Denial::Signature { code, .. })) => Err(code),
        Err(other) => panic!("not a signature denial: {other:?}"),
    }
}

fn answer() -> serde_json::Value {
    json!({"content": [{"type": "text", "text": "done"}], "isError": false})
}

fn now() -> profile_a::VerifyOptions {
    profile_a::VerifyOptions::at(Timestamp::now())
}

#[tokio::test]
async fn responses_to_profile_b_requests_get_a_header_signed_with_the_gateway_key() {
    let r = Responder::new(false);
    for id in [json!(1), json!("b-2")] {
        let request = sign_b(&value(&call_json(&id, "echo")), AGENT, &r.keys.agent);
        let wire = r.answer(&request).await.unwrap();
        let verified = r.verify_b(&wire).unwrap();
        assert_eq!(verified.passport_id(), GATEWAY);
        let expected = json!({"jsonrpc": "2.0", "id": id, "result": answer()});
        assert_eq!(
            parsed(&canonical::profile_b(verified.message()).unwrap()),
            expected
        );
        // A client that does not check signatures reads the same answer beside the header.
        let mut plain = parsed(&wire);
        assert_eq!(plain["mcps"]["passport_id"], GATEWAY);
        plain.as_object_mut().unwrap().remove("mcps");
        assert_eq!(plain, expected);
        // Not under another key, and a changed answer no longer verifies.
        let other = r.keys.agent.verifying_key();
        let err = profile_b::verify(wire.as_bytes(), &other, &now(), None).unwrap_err();
        assert_eq!(err.reject_code().as_str(), "bad_signature");
        let changed = wire.replace("done", "DONE");
        assert_ne!(changed, wire);
        let err = r.verify_b(&changed).unwrap_err();
        assert_eq!(err.reject_code().as_str(), "bad_signature");
    }

    // Error responses are signed too.
    let x = r.accept(&r.b(3)).await;
    let mut response = Message::error(Some(&Id::number(3)), -32602, "unknown tool", None);
    r.stage.on_response(&x, &mut response).await.unwrap();
    let verified = r.verify_b(&response.to_json()).unwrap();
    let message = parsed(&canonical::profile_b(verified.message()).unwrap());
    assert_eq!(message["error"]["code"], -32602);

    // Without opting in, the answer to a profile A request stays plain; so does the answer to
    // an unsigned request; native answers are still native envelopes.
    let plain = |id: u64| Message::result(&Id::number(id), &answer()).to_json();
    assert_eq!(r.answer(&r.a(4)).await.unwrap(), plain(4));
    let unsigned = call_json(&json!(5), "echo").to_string();
    assert_eq!(r.answer(&unsigned).await.unwrap(), plain(5));
    let wire = r
        .answer(&sign_native(&call(6, "echo"), &r.keys.native))
        .await
        .unwrap();
    let verified = native::verify(
        wire.as_bytes(),
        &r.gateway.verifying_key(),
        &VerifyOptions::at(Timestamp::now()),
    )
    .unwrap();
    assert_eq!(verified.kid(), native::key_id(&r.gateway.verifying_key()));
}

#[tokio::test]
async fn responses_to_profile_a_requests_are_envelopes_when_opted_in() {
    let r = Responder::new(true);
    let wire = r.answer(&r.a(1)).await.unwrap();
    let verified = profile_a::verify(wire.as_bytes(), &r.gateway.verifying_key(), &now()).unwrap();
    assert_eq!(verified.passport_id(), GATEWAY);
    assert_eq!(
        parsed(&canonical::python_dumps(verified.message()).unwrap()),
        json!({"jsonrpc": "2.0", "id": 1, "result": answer()})
    );
    assert_eq!(parsed(&wire)["mcps"], profile_a::VERSION);
    // The gateway's envelope is not a client's: it does not pass as a request.
    assert_eq!(code(&r.stage, &wire, "other").await, "unknown_signer");
    // Profile B answers are signed alongside.
    let wire = r.answer(&r.b(2)).await.unwrap();
    assert!(r.verify_b(&wire).is_ok());
}

#[tokio::test]
async fn a_signed_response_follows_its_own_request_only() {
    let r = Responder::new(true);
    let signed = r.accept(&r.b(1)).await;
    let plain = Message::result(&Id::number(1), &answer()).to_json();
    // The same id in another session, and another id in the same session: plain answers.
    let elsewhere = send(&r.stage, &call_json(&json!(1), "echo").to_string(), "t")
        .await
        .unwrap();
    assert_eq!(respond(&r.stage, &elsewhere).await.unwrap(), plain);
    let other = call_json(&json!("1"), "echo").to_string();
    assert_eq!(
        r.answer(&other).await.unwrap(),
        Message::result(&Id::string("1"), &answer()).to_json()
    );
    // The request's own answer is signed, once.
    let wire = respond(&r.stage, &signed).await.unwrap();
    assert!(r.verify_b(&wire).is_ok());
    assert_eq!(respond(&r.stage, &signed).await.unwrap(), plain);
    // A signed request that got no answer (refused by a later stage) leaves nothing behind for
    // the next request with its id.
    let _unanswered = r.accept(&r.a(2)).await;
    let unsigned = call_json(&json!(2), "echo").to_string();
    assert_eq!(
        r.answer(&unsigned).await.unwrap(),
        Message::result(&Id::number(2), &answer()).to_json()
    );
}

#[tokio::test]
async fn a_response_that_cannot_be_signed_is_refused() {
    // Profiles A and B sign with P-256 only: an Ed25519 gateway key cannot sign their answers.
    let ed = Responder::with_key(SigningKey::generate(Algorithm::Ed25519).unwrap(), true);
    assert_eq!(ed.answer(&ed.a(1)).await, Err("signing_failed"));
    assert_eq!(ed.answer(&ed.b(2)).await, Err("signing_failed"));
    // A response profile B cannot carry (it has its own `mcps` member) is refused, not sent
    // unsigned.
    let r = Responder::new(false);
    let x = r.accept(&r.b(3)).await;
    let mut response = Message::result(&Id::number(3), &answer());
    response.set_member("mcps", &json!({"version": "1.0"}));
    match r.stage.on_response(&x, &mut response).await {
        Err(Stop::Deny(Denial::Signature { code, .. })) => assert_eq!(code, "signing_failed"),
        other => panic!("not refused: {other:?}"),
    }
}

#[tokio::test]
async fn an_envelope_routed_under_another_id_is_refused() {
    let keys = Keys::new();
    let stage = keys.stage();
    for wire in [
        sign_a(&call(1, "echo"), AGENT, &keys.agent),
        sign_native(&call(2, "echo"), &keys.native),
    ] {
        let mut x = exchange(&wire, "s");
        assert!(x.message.mcps_envelope().is_some());
        x.message.set_id(&Id::number(99));
        assert_eq!(request(&stage, &mut x).await, Err("malformed_envelope"));
    }
}

/// The envelope's JSON may spell a string id differently from the signed form (Python's
/// `json.dumps` writes `"\u00e9"` where the signature covers `"é"`): the ids are the same value,
/// so the message passes, keeps the routed spelling, and a refusal would not have spent the
/// nonce.
#[tokio::test]
async fn ids_are_compared_as_values_not_spellings() {
    let keys = Keys::new();
    let stage = keys.stage();
    let message = value(&call_json(&json!("é/x"), "echo"));
    let native_wire = sign_native(&value(&call_json(&json!("A"), "echo")), &keys.native)
        .replace(r#""id":"A""#, r#""id":"\u0041""#);
    assert!(native_wire.contains(r#""id":"\u0041""#), "{native_wire}");
    let x = send(&stage, &native_wire, "n").await.unwrap();
    assert_eq!(x.message.id().unwrap().as_json(), r#""\u0041""#);

    let b_wire = sign_b(&message, AGENT, &keys.agent);
    let respelt = b_wire.replace(r#""id":"é/x""#, r#""id":"\u00e9\/x""#);
    assert_ne!(respelt, b_wire, "{b_wire}");
    let x = send(&stage, &respelt, "b").await.unwrap();
    assert_eq!(x.message.id().unwrap().as_json(), r#""\u00e9\/x""#);
    assert_eq!(parsed(&x.message.to_json())["params"]["name"], "echo");

    // A different id is still refused, and refusing it spends nothing: the genuine envelope
    // with the same nonce passes afterwards.
    let a_wire = sign_a(&message, AGENT, &keys.agent);
    let mut x = exchange(&a_wire, "a");
    x.message.set_id(&Id::number(5));
    assert_eq!(request(&stage, &mut x).await, Err("malformed_envelope"));
    send(&stage, &a_wire, "a").await.unwrap();
}
