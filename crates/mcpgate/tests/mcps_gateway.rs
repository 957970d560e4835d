//! MCPS message signatures through the real gateway binary: envelopes are signed here with the
//! `mcps` crate, sent over HTTP in a legacy session, verified and unwrapped by the gateway, and
//! answered by the bundled demo server.
//!
//! The shared-Redis test needs a Redis server on `127.0.0.1:6379` (each test uses its own key
//! prefix).

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::time::Duration;

use mcpgate_test::mcps::{
    McpsGateway, SESSION_VERSION, sign_a, sign_a_at, sign_b, sign_native, tool_call, verdict,
    write_note, write_trust_store,
};
use mcpgate_test::{free_port, toml_str};
use mcps::keys::{Algorithm, SigningKey};
use mcps::native::{ChainSigner, Link};
use mcps::profile_a::Nonce;
use mcps::time::Timestamp;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const AGENT: &str = "asp_agent0000000000000000000000000001";
const LOW: &str = "asp_lowtrust000000000000000000000000001";
const REVOKED: &str = "asp_revoked0000000000000000000000000001";
const NATIVE: &str = "native-agent";
/// The `replay` setting of a gateway that keeps its nonces in memory.
const MEMORY: &str = "replay = \"memory\"\n";

/// The signers of a test: keys on disk, a trust store and a revocation list next to them.
struct Keys {
    agent: SigningKey,
    low: SigningKey,
    revoked: SigningKey,
    native: SigningKey,
    stranger: SigningKey,
}

fn keys() -> Keys {
    let p256 = || SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    Keys {
        agent: p256(),
        low: p256(),
        revoked: p256(),
        native: SigningKey::generate(Algorithm::Ed25519).unwrap(),
        stranger: p256(),
    }
}

/// Writes the trust store, the keys and the revocation list into `dir`; returns the `[mcps]`
/// section with the `replay` settings.
fn mcps_section(dir: &Path, keys: &Keys, replay: &str) -> String {
    write_trust_store(
        dir,
        &[
            (AGENT, &keys.agent, 2),
            (LOW, &keys.low, 1),
            (REVOKED, &keys.revoked, 3),
            (NATIVE, &keys.native, 2),
        ],
    );
    std::fs::write(
        dir.join("revoked.txt"),
        format!("# revoked passports\n{REVOKED}\n"),
    )
    .unwrap();
    format!(
        "[mcps]\ntrust_store = \"signers.toml\"\nrevocation_list = \"revoked.txt\"\n\
         revocation_reload_interval = \"100ms\"\nwindow = \"60s\"\n{replay}\n\
         [mcps.require.demo]\nsigned = true\nmin_trust_level = 2\ntools = [\"write_note\"]\n"
    )
}

/// A gateway requiring signed `write_note` calls, with the `replay` settings.
async fn start(keys: &Keys, replay: &str) -> McpsGateway {
    let dir = tempfile::tempdir().unwrap();
    let section = mcps_section(dir.path(), keys, replay);
    McpsGateway::start(Path::new(BIN), dir, &section).await
}

#[tokio::test]
async fn requirements_signatures_tampering_replay_revocation_and_window() {
    let keys = keys();
    let g = start(&keys, MEMORY).await;

    // Unsigned call of a tool that requires a signature: refused, not forwarded.
    let unsigned = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "write_note", "arguments": {"path": "u.txt", "content": "x"}}});
    let answer = g.send(&unsigned.to_string()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(verdict(&answer).as_deref(), Some("signature_required"));
    assert_eq!(answer.json()["id"], 1);
    assert!(g.note("u.txt").is_none());
    // A tool without requirements is served unsigned.
    let echo = g
        .http
        .legacy(
            &g.sid,
            2,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert_eq!(verdict(&echo), None, "{}", echo.body);

    // A correctly signed call (profile A) is forwarded unwrapped and answered, id intact.
    let wire = sign_a(&write_note(3, "a.txt"), AGENT, &keys.agent);
    let answer = g.send(&wire).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(answer.json()["id"], 3);
    assert_eq!(g.note("a.txt").as_deref(), Some("note 3"));

    // The same envelope again: a replay.
    assert_eq!(verdict(&g.send(&wire).await).as_deref(), Some("replay"));

    // Profile B works too.
    let b = sign_b(&write_note(4, "b.txt"), AGENT, &keys.agent);
    let answer = g.send(&b).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(g.note("b.txt").as_deref(), Some("note 4"));

    // Tampering with the signed message: refused, nothing written.
    let wire = sign_a(&write_note(5, "t.txt"), AGENT, &keys.agent);
    let tampered = wire.replace("note 5", "evil 5");
    assert_ne!(tampered, wire);
    assert_eq!(
        verdict(&g.send(&tampered).await).as_deref(),
        Some("bad_signature")
    );
    assert!(g.note("t.txt").is_none());
    // Claiming another signer's passport id with one's own key.
    let forged = sign_a(&write_note(6, "f.txt"), AGENT, &keys.stranger);
    assert_eq!(
        verdict(&g.send(&forged).await).as_deref(),
        Some("bad_signature")
    );
    // A signer not in the trust store.
    let stranger = sign_a(&write_note(7, "s.txt"), "asp_stranger", &keys.stranger);
    assert_eq!(
        verdict(&g.send(&stranger).await).as_deref(),
        Some("unknown_signer")
    );
    // A signer below the required trust level.
    let low = sign_a(&write_note(8, "l.txt"), LOW, &keys.low);
    assert_eq!(
        verdict(&g.send(&low).await).as_deref(),
        Some("insufficient_trust")
    );
    // ... who may still call tools without requirements.
    let low_echo = sign_a(
        &tool_call(9, "echo", &json!({"message": "x"})),
        LOW,
        &keys.low,
    );
    assert_eq!(verdict(&g.send(&low_echo).await), None);
    // A revoked passport, whatever its trust level.
    let revoked = sign_a(&write_note(10, "r.txt"), REVOKED, &keys.revoked);
    assert_eq!(verdict(&g.send(&revoked).await).as_deref(), Some("revoked"));
    // Timestamps outside the 60 s window, in the past and in the future.
    let old = Timestamp::now().saturating_sub(Duration::from_secs(120));
    let stale = sign_a_at(&write_note(11, "o.txt"), AGENT, &keys.agent, old);
    assert_eq!(verdict(&g.send(&stale).await).as_deref(), Some("expired"));
    let ahead = Timestamp::now().saturating_add(Duration::from_secs(120));
    let future = sign_a_at(&write_note(12, "o.txt"), AGENT, &keys.agent, ahead);
    assert_eq!(
        verdict(&g.send(&future).await).as_deref(),
        Some("future_timestamp")
    );
    assert!(g.note("o.txt").is_none() && g.note("r.txt").is_none());

    // Revoking the agent in the local list takes effect without a restart.
    let list = g.gw.dir.path().join("revoked.txt");
    std::fs::write(&list, format!("{REVOKED}\n{AGENT}  # compromised\n")).unwrap();
    let mut refused = false;
    for id in 100..150 {
        let wire = sign_a(&write_note(id, "late.txt"), AGENT, &keys.agent);
        match verdict(&g.send(&wire).await).as_deref() {
            Some("revoked") => {
                refused = true;
                break;
            }
            None => tokio::time::sleep(Duration::from_millis(100)).await,
            Some(other) => panic!("unexpected refusal {other}"),
        }
    }
    assert!(refused, "the revocation was not picked up");

    let audit = g.gw.audit();
    assert!(
        audit.iter().any(|r| r.to_string().contains("signature")),
        "{audit:?}"
    );
}

#[tokio::test]
async fn native_transcript_chain_is_enforced_per_session() {
    let keys = keys();
    let g = start(&keys, MEMORY).await;
    let mut signer = ChainSigner::new(Link::random_start().unwrap());
    let wires: Vec<String> = (0..4)
        .map(|i| {
            signer
                .sign(
                    &write_note(20 + i, &format!("n{i}.txt")),
                    &keys.native,
                    Timestamp::now(),
                    &Nonce::random().unwrap(),
                )
                .unwrap()
                .to_json()
                .unwrap()
        })
        .collect();
    assert_eq!(verdict(&g.send(&wires[0]).await), None);
    assert_eq!(g.note("n0.txt").as_deref(), Some("note 20"));
    // Message 1 dropped: message 2 does not continue the chain.
    assert_eq!(
        verdict(&g.send(&wires[2]).await).as_deref(),
        Some("transcript_mismatch")
    );
    assert!(g.note("n2.txt").is_none());
    // The chain did not advance: message 1 is still accepted, then message 3 is out of order.
    assert_eq!(verdict(&g.send(&wires[1]).await), None);
    assert_eq!(
        verdict(&g.send(&wires[3]).await).as_deref(),
        Some("transcript_mismatch")
    );
    // A second chain start in the same session (a splice) is refused.
    let restart = sign_native(&write_note(30, "x.txt"), &keys.native);
    assert_eq!(
        verdict(&g.send(&restart).await).as_deref(),
        Some("transcript_mismatch")
    );
    // Its nonce is burnt even so; a fresh chain start is accepted in a new session.
    let sid = g.http.initialize(SESSION_VERSION).await;
    let answer = g.http.post_raw(restart, &[("mcp-session-id", &sid)]).await;
    assert_eq!(verdict(&answer).as_deref(), Some("replay"));
    let fresh = sign_native(&write_note(31, "y.txt"), &keys.native);
    let answer = g.http.post_raw(fresh, &[("mcp-session-id", &sid)]).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(g.note("y.txt").as_deref(), Some("note 31"));
}

#[tokio::test]
async fn a_replay_against_a_second_gateway_sharing_redis_is_refused() {
    let keys = keys();
    let prefix = format!("mcpgate-test:{}", Nonce::random().unwrap().as_str());
    let replay = format!(
        "replay = \"redis\"\nreplay_url = \"redis://127.0.0.1:6379\"\nreplay_prefix = {}\n",
        toml_str(&prefix)
    );
    let first = start(&keys, &replay).await;
    let second = start(&keys, &replay).await;
    let wire = sign_a(&write_note(40, "shared.txt"), AGENT, &keys.agent);
    assert_eq!(verdict(&first.send(&wire).await), None);
    assert_eq!(first.note("shared.txt").as_deref(), Some("note 40"));
    assert_eq!(
        verdict(&second.send(&wire).await).as_deref(),
        Some("replay")
    );
    assert!(second.note("shared.txt").is_none());
    // A fresh envelope is accepted by the second gateway.
    let fresh = sign_a(&write_note(41, "shared.txt"), AGENT, &keys.agent);
    assert_eq!(verdict(&second.send(&fresh).await), None);
}

#[tokio::test]
async fn signed_calls_are_refused_while_redis_is_down() {
    let keys = keys();
    let replay = format!(
        "replay = \"redis\"\nreplay_url = \"redis://127.0.0.1:{}\"\n",
        free_port()
    );
    let g = start(&keys, &replay).await;
    let wire = sign_a(&write_note(50, "down.txt"), AGENT, &keys.agent);
    let answer = g.send(&wire).await;
    assert_eq!(answer.status, 503, "{}", answer.body);
    assert_eq!(verdict(&answer).as_deref(), Some("replay_unavailable"));
    assert!(g.note("down.txt").is_none());
    // Unsigned calls of tools without requirements still work.
    let echo = g
        .http
        .legacy(
            &g.sid,
            51,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert_eq!(verdict(&echo), None, "{}", echo.body);
}

#[tokio::test]
async fn policies_see_the_signed_fact() {
    let keys = keys();
    let policy = r#"
permit (principal, action in [Mcp::Action::"connect", Mcp::Action::"list_tools"], resource);
permit (principal, action == Mcp::Action::"call_tool", resource)
when { resource.name != "write_note" };
permit (principal, action == Mcp::Action::"call_tool", resource)
when { context.extra has signed && context.extra.signed
      && context.extra has trust_level && context.extra.trust_level >= 1 };
"#;
    // The signature requirement covers another tool, so `write_note` is left to the policy.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.cedar"), policy).unwrap();
    let section = mcps_section(dir.path(), &keys, MEMORY).replace("[\"write_note\"]", "[\"add\"]");
    let config = format!("{section}[authorization]\npolicies = [\"policy.cedar\"]\n");
    let g = McpsGateway::start(Path::new(BIN), dir, &config).await;
    let unsigned = g
        .http
        .legacy(
            &g.sid,
            60,
            "tools/call",
            json!({"name": "write_note", "arguments": {"path": "p.txt", "content": "x"}}),
        )
        .await;
    assert_eq!(unsigned.code(), Some(-31012), "{}", unsigned.body);
    assert!(g.note("p.txt").is_none());
    let signed = g
        .send(&sign_a(&write_note(61, "p.txt"), AGENT, &keys.agent))
        .await;
    assert_eq!(verdict(&signed), None, "{}", signed.body);
    assert_eq!(g.note("p.txt").as_deref(), Some("note 61"));
}

#[tokio::test]
async fn without_an_mcps_section_envelopes_are_refused() {
    let keys = keys();
    let g = McpsGateway::start(Path::new(BIN), tempfile::tempdir().unwrap(), "").await;
    let answer = g
        .send(&sign_a(&write_note(70, "n.txt"), AGENT, &keys.agent))
        .await;
    assert_eq!(verdict(&answer).as_deref(), Some("signatures_not_enabled"));
    assert!(g.note("n.txt").is_none());
}
