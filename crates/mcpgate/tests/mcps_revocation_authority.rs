//! MCPS revocation checks against a trust authority (`[mcps] revocation_url`), through the real
//! gateway binary and a fake authority on 127.0.0.1 that signs its answers.

#![expect(clippy::unwrap_used, reason = "test code")]

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgate_test::{GatewayProcess, Http, demo_upstream_toml, toml_str};
use mcps::canonical::{self, Object, ParseOptions, Value};
use mcps::keys::{Algorithm, SignatureFormat, SigningKey};
use mcps::native::{self, Link};
use mcps::profile_a::{self, Nonce};
use mcps::time::Timestamp;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const VERSION: &str = "2025-06-18";
const AGENT: &str = "asp_agent0000000000000000000000000001";
const REVOKED: &str = "asp_revoked0000000000000000000000000001";
/// A native signer whose id would change the authority URL if it were not escaped.
const ODD: &str = "odd/../admin?all=1#x";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Honest,
    /// Signed with a key that is not the authority's.
    Forged,
    /// Correctly signed, but about another id.
    WrongId,
}

struct Authority {
    key: SigningKey,
    forger: SigningKey,
    mode: Mutex<Mode>,
    paths: Mutex<Vec<String>>,
}

fn unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

impl Authority {
    fn answer(&self, path: &str) -> String {
        self.paths.lock().unwrap().push(path.to_owned());
        let id = unescape(path.strip_prefix("/revocations/").unwrap_or_default());
        let mode = *self.mode.lock().unwrap();
        let about = if mode == Mode::WrongId {
            AGENT.to_owned() + "x"
        } else {
            id.clone()
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

/// Serves the authority on 127.0.0.1; returns its port and the server task.
async fn serve(authority: Arc<Authority>) -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let authority = Arc::clone(&authority);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let text = String::from_utf8_lossy(&request);
                let path = text.split(' ').nth(1).unwrap_or_default().to_owned();
                let body = authority.answer(&path);
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    (port, task)
}

fn call(id: u64) -> Value {
    let text = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"message": "hi"}}})
    .to_string();
    canonical::parse(&text, &ParseOptions::STRICT).unwrap()
}

fn sign_a(message: &Value, id: &str, key: &SigningKey) -> String {
    profile_a::sign(message, id, key, Timestamp::now(), Nonce::random().unwrap())
        .unwrap()
        .to_json()
        .unwrap()
}

/// The MCPS reason of a refusal, or `None` for a successful tool result.
fn verdict(answer: &mcpgate_test::Answer) -> Option<String> {
    let body = answer.json();
    if body.get("result").is_some() {
        assert_eq!(body["result"]["isError"], false, "{body}");
        return None;
    }
    assert_eq!(body["error"]["code"], -31020, "{body}");
    Some(body["error"]["data"]["mcps"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_trust_authority_is_asked_with_escaped_ids_and_failures_refuse() {
    let p256 = || SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let agent = p256();
    let revoked = p256();
    let odd = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let authority = Arc::new(Authority {
        key: SigningKey::generate(Algorithm::Ed25519).unwrap(),
        forger: SigningKey::generate(Algorithm::Ed25519).unwrap(),
        mode: Mutex::new(Mode::Honest),
        paths: Mutex::new(Vec::new()),
    });
    let (port, server) = serve(Arc::clone(&authority)).await;

    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    std::fs::create_dir_all(&notes).unwrap();
    let mut store = String::new();
    for (n, (id, key)) in [(AGENT, &agent), (REVOKED, &revoked), (ODD, &odd)]
        .into_iter()
        .enumerate()
    {
        let file = format!("signer{n}.pub.pem");
        std::fs::write(
            dir.path().join(&file),
            key.verifying_key().to_spki_pem().unwrap(),
        )
        .unwrap();
        store.push_str(&format!(
            "[[signers]]\nid = {}\npublic_key = {}\ntrust_level = 2\n\n",
            toml_str(id),
            toml_str(&file)
        ));
    }
    std::fs::write(dir.path().join("signers.toml"), store).unwrap();
    std::fs::write(
        dir.path().join("authority.pem"),
        authority.key.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    // A TTL of 1 ms: every call asks again, so the authority's behaviour can change.
    let config = format!(
        "{}[mcps]\ntrust_store = \"signers.toml\"\nwindow = \"60s\"\n\
         revocation_url = \"http://127.0.0.1:{port}/revocations/{{id}}\"\n\
         revocation_authority_key = \"authority.pem\"\nrevocation_ttl = \"1ms\"\n\
         dangerous_allow_http_revocation = true\n",
        demo_upstream_toml("demo", &notes, "")
    );
    let gw = GatewayProcess::start_in(Path::new(BIN), &config, dir)
        .await
        .unwrap();
    let http = Http::new(&gw.url());
    let sid = http.initialize(VERSION).await;
    let send = |wire: String| {
        let http = &http;
        let sid = sid.clone();
        async move { http.post_raw(wire, &[("mcp-session-id", &sid)]).await }
    };

    // Not revoked: the call passes, after the authority was asked about that id.
    let answer = send(sign_a(&call(1), AGENT, &agent)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(
        authority.paths.lock().unwrap().last().map(String::as_str),
        Some(format!("/revocations/{AGENT}").as_str())
    );

    // Revoked.
    let answer = send(sign_a(&call(2), REVOKED, &revoked)).await;
    assert_eq!(
        verdict(&answer).as_deref(),
        Some("revoked"),
        "{}",
        answer.body
    );

    // An id with `/`, `?`, `#` and `..` is one escaped path segment.
    let wire = native::sign(
        &call(3),
        &odd,
        Timestamp::now(),
        &Nonce::random().unwrap(),
        &Link::start("odd-chain").unwrap(),
    )
    .unwrap()
    .to_json()
    .unwrap();
    let answer = send(wire).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    assert_eq!(
        authority.paths.lock().unwrap().last().map(String::as_str),
        Some("/revocations/odd%2F%2E%2E%2Fadmin%3Fall%3D1%23x")
    );

    // A forged answer (another key) and a signed answer about another id both refuse.
    for mode in [Mode::Forged, Mode::WrongId] {
        *authority.mode.lock().unwrap() = mode;
        let answer = send(sign_a(&call(4), AGENT, &agent)).await;
        assert_eq!(
            verdict(&answer).as_deref(),
            Some("revocation_unavailable"),
            "{}",
            answer.body
        );
    }

    // The authority down: refused, not passed.
    *authority.mode.lock().unwrap() = Mode::Honest;
    let answer = send(sign_a(&call(5), AGENT, &agent)).await;
    assert_eq!(verdict(&answer), None, "{}", answer.body);
    server.abort();
    let _ = server.await;
    let answer = send(sign_a(&call(6), AGENT, &agent)).await;
    assert_eq!(
        verdict(&answer).as_deref(),
        Some("revocation_unavailable"),
        "{}",
        answer.body
    );
}
