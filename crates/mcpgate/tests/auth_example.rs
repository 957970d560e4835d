//! The shipped `examples/auth.toml` and `examples/policies/`, end to end through the real
//! binary: API keys, the example's test JWT issuer, delegation tokens, per-principal tool
//! lists, denials that reveal nothing, argument-level rules, and the stdio front's configured
//! principal.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test code")]

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use mcpgate_test::{GatewayProcess, Http, StdioProcess, demo_upstream_toml, repo_path};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const RESOURCE: &str = "http://127.0.0.1:7878/mcp";
const METADATA: &str = "http://127.0.0.1:7878/.well-known/oauth-protected-resource/mcp";
const ISSUER: &str = "https://issuer.example.test";
const FORBIDDEN: i64 = -31012;

fn examples() -> PathBuf {
    repo_path(env!("CARGO_MANIFEST_DIR"), "examples")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The example configuration in `dir` (with its policies and key files copied next to it),
/// its demo upstream writing notes into `dir/notes-root`, which holds one note for alice and
/// one for bob. `stdio_principal` replaces the example's stdio principal.
fn example_config(dir: &Path, stdio_principal: &str) -> String {
    copy_dir(&examples().join("policies"), &dir.join("policies"));
    copy_dir(&examples().join("auth"), &dir.join("auth"));
    let notes = dir.join("notes-root");
    for (who, text) in [("alice", "alice's secret"), ("bob", "bob's todo")] {
        std::fs::create_dir_all(notes.join("notes").join(who)).unwrap();
        std::fs::write(notes.join("notes").join(who).join("x"), text).unwrap();
    }
    let text = std::fs::read_to_string(examples().join("auth.toml")).unwrap();
    // Keep everything from `[auth]` on; put the demo upstream into the temporary directory.
    let auth = &text[text.find("[auth]").unwrap()..];
    let groups = if stdio_principal == "alice" {
        "[\"users\", \"admins\"]"
    } else {
        "[\"users\"]"
    };
    let auth = auth.replace(
        "[auth.stdio]\nprincipal = \"bob\"\ngroups = [\"users\"]",
        &format!("[auth.stdio]\nprincipal = \"{stdio_principal}\"\ngroups = {groups}"),
    );
    assert!(
        auth.contains(&format!("principal = \"{stdio_principal}\"\ngroups")),
        "the example's stdio section changed"
    );
    format!("{}\n{auth}", demo_upstream_toml("demo", &notes, ""))
}

async fn start() -> GatewayProcess {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path(), "bob");
    GatewayProcess::start_in(Path::new(BIN), &config, dir)
        .await
        .unwrap()
}

fn initialize() -> Value {
    json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},
        "clientInfo":{"name":"auth-test","version":"0"}}})
}

/// A legacy session opened with `credential` (a header name and value).
async fn session(http: &Http, credential: (&str, &str)) -> String {
    let a = http.post(&initialize(), &[credential]).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let sid = a.header("mcp-session-id").unwrap();
    let n = http
        .post(
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            &[credential, ("mcp-session-id", &sid)],
        )
        .await;
    assert_eq!(n.status, 202, "{}", n.body);
    sid
}

async fn call(
    http: &Http,
    credential: (&str, &str),
    sid: &str,
    id: u64,
    method: &str,
    params: Value,
) -> mcpgate_test::Answer {
    http.post(
        &json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
        &[credential, ("mcp-session-id", sid)],
    )
    .await
}

fn tool_names(answer: &Value) -> Vec<String> {
    answer["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {answer}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

fn note(path: &str) -> Value {
    json!({"name":"read_note","arguments":{"path":path}})
}

#[tokio::test]
async fn bob_sees_and_calls_only_what_the_policies_allow() {
    let mut gw = start().await;
    let http = Http::new(&gw.url());
    let bob = ("x-api-key", "demo-bob-key");
    let sid = session(&http, bob).await;

    let list = call(&http, bob, &sid, 1, "tools/list", json!({}))
        .await
        .json();
    let names = tool_names(&list);
    assert!(
        names.contains(&"echo".to_owned()) && names.contains(&"add".to_owned()),
        "{names:?}"
    );
    assert!(names.contains(&"read_note".to_owned()), "{names:?}");
    assert!(!names.contains(&"write_note".to_owned()), "{names:?}");
    assert!(!names.contains(&"slow".to_owned()), "{names:?}");

    let add = call(
        &http,
        bob,
        &sid,
        2,
        "tools/call",
        json!({"name":"add","arguments":{"a":2,"b":3}}),
    )
    .await;
    assert_eq!(
        add.json()["result"]["content"][0]["text"],
        "5",
        "{}",
        add.body
    );

    // A tool bob may not use and a tool that does not exist: the same refusal, word for word.
    let write = call(
        &http,
        bob,
        &sid,
        3,
        "tools/call",
        json!({"name":"write_note","arguments":{"path":"notes/bob/y","content":"z"}}),
    )
    .await;
    let ghost = call(
        &http,
        bob,
        &sid,
        3,
        "tools/call",
        json!({"name":"no_such_tool","arguments":{}}),
    )
    .await;
    assert_eq!(write.status, 200);
    assert_eq!(write.code(), Some(FORBIDDEN), "{}", write.body);
    assert_eq!(write.json()["error"], ghost.json()["error"]);
    assert_eq!(write.json()["error"]["message"], "denied by policy");
    assert!(!write.body.contains("write_note") && !ghost.body.contains("no_such_tool"));

    // Argument-level rule: only notes under notes/bob/, and no climbing out of it.
    let own = call(&http, bob, &sid, 4, "tools/call", note("notes/bob/x")).await;
    assert_eq!(
        own.json()["result"]["content"][0]["text"],
        "bob's todo",
        "{}",
        own.body
    );
    for (id, path) in [(5, "notes/alice/x"), (6, "notes/bob/../alice/x")] {
        let other = call(&http, bob, &sid, id, "tools/call", note(path)).await;
        assert_eq!(other.code(), Some(FORBIDDEN), "{path}: {}", other.body);
        assert!(!other.body.contains("alice's secret"));
    }

    // The session belongs to bob: alice's key does not open it.
    let alice = ("x-api-key", "demo-alice-key");
    let stolen = call(&http, alice, &sid, 7, "tools/list", json!({})).await;
    assert_eq!(stolen.status, 404, "{}", stolen.body);

    let audit = gw.audit();
    assert!(
        audit.iter().any(|r| r["principal"] == "bob"
            && r["auth"] == "api_key"
            && r["reason"] == "forbidden"),
        "{audit:?}"
    );
    gw.stop().await.unwrap();
}

#[tokio::test]
async fn alice_may_use_every_demo_tool() {
    let mut gw = start().await;
    let http = Http::new(&gw.url());
    let alice = ("authorization", "Bearer demo-alice-key");
    let sid = session(&http, alice).await;
    let names = tool_names(
        &call(&http, alice, &sid, 1, "tools/list", json!({}))
            .await
            .json(),
    );
    for tool in ["echo", "add", "read_note", "write_note"] {
        assert!(
            names.contains(&tool.to_owned()),
            "{tool} missing from {names:?}"
        );
    }
    let write = call(
        &http,
        alice,
        &sid,
        2,
        "tools/call",
        json!({"name":"write_note","arguments":{"path":"notes/alice/new","content":"hello"}}),
    )
    .await;
    assert!(write.json()["result"].is_object(), "{}", write.body);
    let read = call(&http, alice, &sid, 3, "tools/call", note("notes/alice/x")).await;
    assert_eq!(
        read.json()["result"]["content"][0]["text"],
        "alice's secret",
        "{}",
        read.body
    );
    gw.stop().await.unwrap();
}

#[tokio::test]
async fn modern_requests_are_filtered_and_denied_alike() {
    let mut gw = start().await;
    let http = Http::new(&gw.url());
    let meta = mcpgate_test::modern_meta();
    let modern = |id: u64, method: &str, mut params: Value, key: &'static str| {
        params["_meta"] = meta.clone();
        let body = json!({"jsonrpc":"2.0","id":id,"method":method,"params":params});
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let http = &http;
        let method = method.to_owned();
        async move {
            let mut headers = vec![
                ("mcp-protocol-version", "2026-07-28".to_owned()),
                ("mcp-method", method),
                ("x-api-key", key.to_owned()),
            ];
            if let Some(name) = name {
                headers.push(("mcp-name", name));
            }
            let headers: Vec<(&str, &str)> =
                headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            http.post(&body, &headers).await
        }
    };
    let list = modern(1, "tools/list", json!({}), "demo-bob-key").await;
    let names = tool_names(&list.json());
    assert!(
        !names.contains(&"write_note".to_owned()) && names.contains(&"echo".to_owned()),
        "{names:?}"
    );
    let write = modern(
        2,
        "tools/call",
        json!({"name":"write_note","arguments":{"path":"a","content":"b"}}),
        "demo-bob-key",
    )
    .await;
    assert_eq!(write.code(), Some(FORBIDDEN), "{}", write.body);
    let unknown = modern(3, "tools/list", json!({}), "not-a-key").await;
    assert_eq!(unknown.status, 401, "{}", unknown.body);
    gw.stop().await.unwrap();
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn issuer_key() -> EncodingKey {
    let pem = std::fs::read(examples().join("auth/test-issuer-private.pem")).unwrap();
    EncodingKey::from_ec_pem(&pem).unwrap()
}

fn token(claims: &Value, kid: &str) -> String {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    encode(&header, claims, &issuer_key()).unwrap()
}

fn claims(sub: &str, groups: &[&str]) -> Value {
    json!({"iss": ISSUER, "aud": RESOURCE, "sub": sub, "groups": groups,
           "iat": now(), "exp": now() + 300})
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test]
async fn jwts_from_the_test_issuer_are_checked() {
    let mut gw = start().await;
    let http = Http::new(&gw.url());

    // RFC 9728 metadata, path-inserted form.
    let client = reqwest::Client::new();
    let prm: Value = client
        .get(format!(
            "http://{}/.well-known/oauth-protected-resource/mcp",
            gw.addr
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], RESOURCE);
    assert_eq!(prm["authorization_servers"][0], ISSUER);

    // No credential: 401 pointing at the metadata.
    let none = http.post(&initialize(), &[]).await;
    assert_eq!(none.status, 401, "{}", none.body);
    let challenge = none.header("www-authenticate").unwrap();
    assert!(
        challenge.starts_with("Bearer ")
            && challenge.contains(&format!("resource_metadata=\"{METADATA}\"")),
        "{challenge}"
    );

    // A valid token: carol in group admins sees write_note.
    let good = format!(
        "Bearer {}",
        token(&claims("carol", &["users", "admins"]), "test-issuer-1")
    );
    let sid = session(&http, ("authorization", &good)).await;
    let names = tool_names(
        &call(
            &http,
            ("authorization", &good),
            &sid,
            1,
            "tools/list",
            json!({}),
        )
        .await
        .json(),
    );
    assert!(names.contains(&"write_note".to_owned()), "{names:?}");

    // Each broken token: 401 with an invalid_token challenge.
    let public_pem = std::fs::read(examples().join("auth/test-issuer-private.pem")).unwrap();
    let mut expired = claims("carol", &["users"]);
    expired["exp"] = json!(now() - 3600);
    expired["iat"] = json!(now() - 7200);
    let mut wrong_aud = claims("carol", &["users"]);
    wrong_aud["aud"] = json!("https://other.example/mcp");
    let mut wrong_iss = claims("carol", &["users"]);
    wrong_iss["iss"] = json!("https://evil.example");
    let none_alg = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims("carol", &["users", "admins"]).to_string().as_bytes())
    );
    // HS256 keyed with the issuer's public key set file: the classic algorithm confusion.
    let jwks = std::fs::read(examples().join("auth/test-issuer-jwks.json")).unwrap();
    let mut hs_header = Header::new(Algorithm::HS256);
    hs_header.kid = Some("test-issuer-1".into());
    let hs = encode(
        &hs_header,
        &claims("carol", &["admins"]),
        &EncodingKey::from_secret(&jwks),
    )
    .unwrap();
    let hs_pem = encode(
        &hs_header,
        &claims("carol", &["admins"]),
        &EncodingKey::from_secret(&public_pem),
    )
    .unwrap();
    let cases = [
        ("expired", token(&expired, "test-issuer-1")),
        ("wrong audience", token(&wrong_aud, "test-issuer-1")),
        ("wrong issuer", token(&wrong_iss, "test-issuer-1")),
        ("alg none", none_alg),
        ("hs256 with the key set", hs),
        ("hs256 with the key file", hs_pem),
        (
            "unknown kid",
            token(&claims("carol", &["users"]), "no-such-key"),
        ),
    ];
    for (what, t) in cases {
        let bearer = format!("Bearer {t}");
        let a = http
            .post(&initialize(), &[("authorization", &bearer)])
            .await;
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        let challenge = a.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.contains("error=\"invalid_token\"")
                && challenge.contains(&format!("resource_metadata=\"{METADATA}\"")),
            "{what}: {challenge}"
        );
        assert_eq!(a.code(), Some(-31010), "{what}: {}", a.body);
        assert!(!a.body.contains(&t), "{what}: the token came back");
    }
    gw.stop().await.unwrap();
}

#[tokio::test]
async fn delegation_tokens_narrow_what_a_principal_may_do() {
    let mut gw = start().await;
    let http = Http::new(&gw.url());
    let client = reqwest::Client::new();
    let token_url = format!("http://{}/auth/token", gw.addr);
    let resp = client
        .post(&token_url)
        .header("x-api-key", "demo-alice-key")
        .json(&json!({"scope": "tool:echo", "expires_in": 60}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let issued: Value = resp.json().await.unwrap();
    assert_eq!(issued["token_type"], "Bearer");
    assert!(issued["expires_in"].as_u64().unwrap() <= 60);
    let bearer = format!("Bearer {}", issued["access_token"].as_str().unwrap());
    let sub = ("authorization", bearer.as_str());
    let sid = session(&http, sub).await;
    let names = tool_names(
        &call(&http, sub, &sid, 1, "tools/list", json!({}))
            .await
            .json(),
    );
    assert_eq!(names, ["echo"]);
    let echo = call(
        &http,
        sub,
        &sid,
        2,
        "tools/call",
        json!({"name":"echo","arguments":{"text":"hi"}}),
    )
    .await;
    assert!(echo.json()["result"].is_object(), "{}", echo.body);
    let add = call(
        &http,
        sub,
        &sid,
        3,
        "tools/call",
        json!({"name":"add","arguments":{"a":1,"b":1}}),
    )
    .await;
    assert_eq!(add.code(), Some(FORBIDDEN), "{}", add.body);

    // No credential, or a scope to widen a delegated token: refused.
    let anon = client
        .post(&token_url)
        .json(&json!({"scope":"tool:echo"}))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), 401);
    let widen = client
        .post(&token_url)
        .header("authorization", &bearer)
        .json(&json!({"scope":"tool:add"}))
        .send()
        .await
        .unwrap();
    assert_eq!(widen.status(), 400);
    let audit = gw.audit();
    assert!(
        audit
            .iter()
            .any(|r| r["principal"] == "alice" && r["auth"] == "gateway_token"),
        "{audit:?}"
    );
    gw.stop().await.unwrap();
}

async fn stdio_gateway(dir: &Path, principal: &str) -> StdioProcess {
    let config = example_config(dir, principal);
    let path = dir.join("mcpgate.toml");
    std::fs::write(
        &path,
        format!("[audit]\nsink = \"file\"\npath = \"audit.jsonl\"\n{config}"),
    )
    .unwrap();
    let mut p = StdioProcess::spawn(
        Path::new(BIN),
        &["stdio", "--config", path.to_str().unwrap()],
        &dir.join("stderr.log"),
    )
    .unwrap();
    p.send(&initialize()).await.unwrap();
    let (init, _) = p.recv_id(&json!(0), Duration::from_secs(30)).await.unwrap();
    assert!(init["result"].is_object(), "{init}");
    p.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .unwrap();
    p
}

async fn stdio_call(p: &mut StdioProcess, id: u64, method: &str, params: Value) -> Value {
    p.send(&json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}))
        .await
        .unwrap();
    p.recv_id(&json!(id), Duration::from_secs(30))
        .await
        .unwrap()
        .0
}

#[tokio::test]
async fn the_stdio_front_acts_as_its_configured_principal() {
    let dir = tempfile::tempdir().unwrap();
    let mut bob = stdio_gateway(dir.path(), "bob").await;
    let names = tool_names(&stdio_call(&mut bob, 1, "tools/list", json!({})).await);
    assert!(
        !names.contains(&"write_note".to_owned()) && names.contains(&"add".to_owned()),
        "{names:?}"
    );
    let write = stdio_call(
        &mut bob,
        2,
        "tools/call",
        json!({"name":"write_note","arguments":{"path":"notes/bob/n","content":"x"}}),
    )
    .await;
    assert_eq!(write["error"]["code"], FORBIDDEN, "{write}");
    let other = stdio_call(&mut bob, 3, "tools/call", note("notes/alice/x")).await;
    assert_eq!(other["error"]["code"], FORBIDDEN, "{other}");
    let own = stdio_call(&mut bob, 4, "tools/call", note("notes/bob/x")).await;
    assert_eq!(own["result"]["content"][0]["text"], "bob's todo", "{own}");
    bob.close_stdin();
    bob.wait(Duration::from_secs(15)).await.unwrap();
    let audit = std::fs::read_to_string(dir.path().join("audit.jsonl")).unwrap();
    assert!(
        audit
            .lines()
            .any(|l| l.contains("\"principal\":\"bob\"") && l.contains("\"auth\":\"stdio\"")),
        "{audit}"
    );

    let dir = tempfile::tempdir().unwrap();
    let mut alice = stdio_gateway(dir.path(), "alice").await;
    let write = stdio_call(
        &mut alice,
        2,
        "tools/call",
        json!({"name":"write_note","arguments":{"path":"notes/alice/n","content":"x"}}),
    )
    .await;
    assert!(write["result"].is_object(), "{write}");
    alice.close_stdin();
    alice.wait(Duration::from_secs(15)).await.unwrap();
}

#[tokio::test]
async fn policies_reload_atomically_and_a_broken_file_keeps_the_old_set() {
    let dir = tempfile::tempdir().unwrap();
    let config = example_config(dir.path(), "bob").replace(
        "policies = [\"policies\"]",
        "policies = [\"policies\"]\nreload_interval = \"100ms\"",
    );
    assert!(config.contains("reload_interval"));
    let policies = dir.path().join("policies");
    let mut gw = GatewayProcess::start_in(Path::new(BIN), &config, dir)
        .await
        .unwrap();
    let http = Http::new(&gw.url());
    let bob = ("x-api-key", "demo-bob-key");
    let sid = session(&http, bob).await;
    let write = json!({"name":"write_note","arguments":{"path":"notes/bob/new","content":"x"}});
    let denied = call(&http, bob, &sid, 1, "tools/call", write.clone()).await;
    assert_eq!(denied.code(), Some(FORBIDDEN), "{}", denied.body);

    // A new file, swapped in with a rename so the reload never reads half of it.
    let grant = "@id(\"bob-writes\")\npermit (principal == Mcp::User::\"bob\", action == Mcp::Action::\"call_tool\", resource == Mcp::Tool::\"write_note\");\n";
    std::fs::write(policies.join(".grant.tmp"), grant).unwrap();
    std::fs::rename(policies.join(".grant.tmp"), policies.join("grant.cedar")).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut id = 2;
    loop {
        let a = call(&http, bob, &sid, id, "tools/call", write.clone()).await;
        if a.json()["result"].is_object() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new policy never took effect: {}",
            a.body
        );
        id += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A broken file: refused with its position, and the set in force stays.
    std::fs::write(
        policies.join("broken.cedar"),
        "permit (principal, action, resource)\n",
    )
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !gw.stderr().contains("broken.cedar:") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no reload error logged: {}",
            gw.stderr()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = gw.stderr();
    let line = log.lines().find(|l| l.contains("broken.cedar:")).unwrap();
    assert!(
        line.contains("broken.cedar:1:") || line.contains("broken.cedar:2:"),
        "{line}"
    );
    let still = call(&http, bob, &sid, 100, "tools/call", write.clone()).await;
    assert!(still.json()["result"].is_object(), "{}", still.body);
    let add = call(
        &http,
        bob,
        &sid,
        101,
        "tools/call",
        json!({"name":"add","arguments":{"a":1,"b":2}}),
    )
    .await;
    assert!(add.json()["result"].is_object(), "{}", add.body);
    gw.stop().await.unwrap();
}
