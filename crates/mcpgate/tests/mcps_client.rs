//! `mcpgate client` in front of the gateway's stdio front, and signed gateway answers over HTTP:
//! the agent's messages are signed, the gateway's answers are signed with its `[mcps]
//! signing_key` and chained to their requests, and an answer altered in transit is refused.

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use mcpgate_test::{GatewayProcess, Http, demo_upstream_toml};
use mcps::canonical::{self, ParseOptions};
use mcps::keys::{Algorithm, SigningKey};
use mcps::native::{self, ChainSigner, ChainVerifier, Link};
use mcps::profile_a::{Nonce, VerifyOptions};
use mcps::time::Timestamp;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");

/// Writes the agent and gateway keys, the trust store and the gateway configuration into
/// `dir`; returns the gateway key.
fn setup(dir: &Path) -> SigningKey {
    let agent = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let gateway = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    std::fs::write(dir.join("agent.pem"), agent.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(
        dir.join("agent.pub.pem"),
        agent.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(dir.join("gateway.pem"), gateway.to_pkcs8_pem().unwrap()).unwrap();
    std::fs::write(
        dir.join("gateway.pub.pem"),
        gateway.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    std::fs::write(
        dir.join("signers.toml"),
        "[[signers]]\nid = \"agent\"\npublic_key = \"agent.pub.pem\"\ntrust_level = 2\n",
    )
    .unwrap();
    let notes = dir.join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    let config = format!(
        "{}[mcps]\ntrust_store = \"signers.toml\"\nsigning_key = \"gateway.pem\"\n\
         [mcps.require.demo]\nsigned = true\n",
        demo_upstream_toml("demo", &notes, "")
    );
    std::fs::write(dir.join("gateway.toml"), config).unwrap();
    gateway
}

fn client_toml(dir: &Path, command: &[String]) {
    let command = serde_json::to_string(command).unwrap();
    std::fs::write(
        dir.join("client.toml"),
        format!(
            "key = \"agent.pem\"\ngateway_public_key = \"gateway.pub.pem\"\n\
             profile = \"native\"\ngateway_command = {command}\n"
        ),
    )
    .unwrap();
}

/// Runs `mcpgate client` as the agent would see it: lines in, lines out.
async fn converse(dir: &Path) -> Vec<Value> {
    let mut child = tokio::process::Command::new(BIN)
        .args(["client", "--config"])
        .arg(dir.join("client.toml"))
        .env("MCPGATE", BIN)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut answers = Vec::new();
    let messages = [
        json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": "agent", "version": "1"}}}),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
               "params": {"name": "echo", "arguments": {"message": "hello"}}}),
    ];
    for message in messages {
        let expect_answer = message.get("id").is_some();
        input
            .write_all(format!("{message}\n").as_bytes())
            .await
            .unwrap();
        if expect_answer {
            let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            answers.push(serde_json::from_str(&line).unwrap());
        }
    }
    drop(input);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
    answers
}

#[tokio::test]
async fn client_signs_requests_and_verifies_signed_answers() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let gw = dir.path().join("gateway.toml").display().to_string();
    client_toml(
        dir.path(),
        &[BIN.to_owned(), "stdio".into(), "--config".into(), gw],
    );
    let answers = converse(dir.path()).await;
    assert_eq!(answers[0]["id"], 1, "{}", answers[0]);
    assert!(
        answers[0]["result"]["protocolVersion"].is_string(),
        "{}",
        answers[0]
    );
    assert_eq!(answers[1]["id"], 2);
    let text = answers[1]["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", answers[1]));
    assert!(text.contains("hello"), "{}", answers[1]);
}

#[tokio::test]
async fn client_refuses_an_answer_altered_in_transit() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    // A "gateway" that relays the real one but alters its answers on the way.
    client_toml(
        dir.path(),
        &[
            "sh".into(),
            "-c".into(),
            "\"$MCPGATE\" stdio --config gateway.toml | sed -u 's/hello/jello/'".into(),
        ],
    );
    let answers = converse(dir.path()).await;
    assert!(answers[0]["result"].is_object(), "{}", answers[0]);
    assert_eq!(answers[1]["id"], 2, "{}", answers[1]);
    assert_eq!(answers[1]["error"]["code"], -32003, "{}", answers[1]);
    assert!(!answers[1].to_string().contains("jello"));
}

#[tokio::test]
async fn http_answers_to_native_requests_are_signed_after_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let gateway = setup(dir.path());
    let agent =
        SigningKey::from_pem(&std::fs::read_to_string(dir.path().join("agent.pem")).unwrap())
            .unwrap();
    let config = std::fs::read_to_string(dir.path().join("gateway.toml")).unwrap();
    let gw = GatewayProcess::start_in(Path::new(BIN), &config, dir)
        .await
        .unwrap();
    let http = Http::new(&gw.url());
    let sid = http.initialize("2025-06-18").await;
    let mut chain = ChainSigner::new(Link::random_start().unwrap());
    let options = VerifyOptions {
        now: Timestamp::now(),
        max_age: Duration::from_secs(60),
        max_future: Duration::from_secs(60),
        parse: ParseOptions::STRICT,
    };
    for id in 1..=2 {
        let call = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "hi"}}});
        let message = canonical::parse(&call.to_string(), &ParseOptions::STRICT).unwrap();
        let envelope = chain
            .sign(
                &message,
                &agent,
                Timestamp::now(),
                &Nonce::random().unwrap(),
            )
            .unwrap();
        let answer = http
            .post_raw(envelope.to_json().unwrap(), &[("mcp-session-id", &sid)])
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let verified =
            native::verify(answer.body.as_bytes(), &gateway.verifying_key(), &options).unwrap();
        ChainVerifier::new(Link::Prev(envelope.link_hash().to_owned()))
            .accept(&verified)
            .unwrap();
        let inner: Value =
            serde_json::from_str(&canonical::jcs(verified.message()).unwrap()).unwrap();
        assert_eq!(inner["id"], id);
        assert_eq!(inner["result"]["isError"], false, "{inner}");
        // Another key does not verify it, and an altered answer does not either.
        let other = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        assert!(native::verify(answer.body.as_bytes(), &other.verifying_key(), &options).is_err());
        let altered = answer.body.replace("hi", "ho");
        assert_ne!(altered, answer.body);
        assert!(native::verify(altered.as_bytes(), &gateway.verifying_key(), &options).is_err());
    }
    drop(gw);
}
