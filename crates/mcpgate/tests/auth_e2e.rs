//! Authentication and authorization of the real gateway binary, end to end over loopback:
//! the gateway's own upstream credentials (never the client's), mutual TLS with principals
//! from client certificates, and no secret in any log line.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mcpgate_test::{
    Answer, GatewayProcess, StartOptions, demo_upstream_toml, fixtures, repo_path, toml_str,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{Map, Value, json};
use tokio::time::timeout;

/// The legacy revision the tests' sessions speak.
const LEGACY: &str = "2025-11-25";

/// Upper bound for one whole test.
const TEST_LIMIT: Duration = Duration::from_secs(60);

/// The clear API keys of `examples/auth.toml` (public demo keys) and their stored hashes.
const ALICE_KEY: &str = "demo-alice-key";
const ALICE_HASH: &str =
    "sha256$PcK42L-KZY4f-2ArSm2Jog$Sj9cFhe86EkLm4x02Ue68fKoqJRPyuKdbKJvQC15W5Y";
const BOB_KEY: &str = "demo-bob-key";
const BOB_HASH: &str = "sha256$1qQNjqU9qIgpNrkzltWXUA$0jYqhu4-l4gtCflxWoqIUKa_S3flooYX6QvSc_xTydc";

/// The example JWT issuer (`examples/auth/`).
const ISSUER: &str = "https://issuer.example.test";
const ISSUER_KID: &str = "test-issuer-1";

/// The gateway's own credentials for its upstreams.
const UPSTREAM_SECRET: &str = "gw-upstream-secret-5d1c7e2a90";
const FILE_SECRET: &str = "gw-file-secret-b83f04e6c2";

/// An http upstream's credential: `UPSTREAM_TOKEN` as a bearer token.
const BEARER_FROM_ENV: &str = "credential = { from_env = \"UPSTREAM_TOKEN\" }";

async fn run(test: impl Future<Output = ()>) {
    fixtures::install_crypto_provider();
    timeout(TEST_LIMIT, test).await.expect("test timed out");
}

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mcpgate"))
}

fn repo(rel: &str) -> PathBuf {
    repo_path(env!("CARGO_MANIFEST_DIR"), rel)
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The absolute path of a Python 3 interpreter (the gateway clears its stdio upstreams'
/// environment, so no `PATH` lookup may be relied on).
fn python() -> String {
    let out = std::process::Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .expect("python3 is needed for the fixture upstream");
    assert!(out.status.success(), "python3 failed");
    let path = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(!path.is_empty(), "python3 reports no executable path");
    path
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// === an MCP client over raw HTTP, with credentials ===

/// A Streamable HTTP client for one gateway, plain or TLS.
struct Client {
    http: reqwest::Client,
    /// `http://addr` or `https://addr`.
    base: String,
}

impl Client {
    fn plain(addr: SocketAddr) -> Self {
        fixtures::install_crypto_provider();
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: format!("http://{addr}"),
        }
    }

    async fn try_post(
        &self,
        path: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Answer> {
        let mut req = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.text().await?;
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    async fn post(&self, path: &str, body: &Value, headers: &[(&str, &str)]) -> Answer {
        self.try_post(path, body, headers)
            .await
            .expect("request failed")
    }

    /// The answer to a legacy `initialize` sent with `creds`.
    async fn try_initialize(&self, path: &str, creds: &[(&str, &str)]) -> reqwest::Result<Answer> {
        self.try_post(
            path,
            &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion": LEGACY, "capabilities": {},
                "clientInfo": {"name": "auth-e2e", "version": "0"}}}),
            creds,
        )
        .await
    }

    /// Starts a legacy session with `creds`; returns its id.
    async fn initialize(&self, path: &str, creds: &[(&str, &str)]) -> String {
        let a = self.try_initialize(path, creds).await.unwrap();
        assert_eq!(a.status, 200, "initialize failed: {}", a.body);
        assert!(a.json()["result"].is_object(), "initialize: {}", a.body);
        let sid = a.header("mcp-session-id").expect("no session id");
        let n = self
            .post(
                path,
                &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
                &with(creds, &sid),
            )
            .await;
        assert_eq!(n.status, 202, "initialized: {}", n.body);
        sid
    }

    /// A request in a legacy session, with `creds`.
    async fn request(
        &self,
        path: &str,
        sid: &str,
        creds: &[(&str, &str)],
        id: u64,
        method: &str,
        params: Value,
    ) -> Answer {
        self.post(
            path,
            &json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
            &with(creds, sid),
        )
        .await
    }

    async fn call(
        &self,
        path: &str,
        sid: &str,
        creds: &[(&str, &str)],
        id: u64,
        tool: &str,
        arguments: Value,
    ) -> Answer {
        self.request(
            path,
            sid,
            creds,
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        )
        .await
    }
}

/// `creds` plus the legacy session headers.
fn with<'a>(creds: &[(&'a str, &'a str)], sid: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut h = creds.to_vec();
    h.push(("mcp-session-id", sid));
    h.push(("mcp-protocol-version", LEGACY));
    h
}

/// The text of a successful `tools/call` answer.
fn text_of(a: &Answer) -> String {
    assert_eq!(a.status, 200, "tools/call: {}", a.body);
    let msg = a.json();
    assert_eq!(msg["result"]["isError"], json!(false), "tool failed: {msg}");
    msg["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content in {msg}"))
        .to_owned()
}

// === an HTTP upstream that records the headers it is sent ===

/// Every request the recorder received: the path segment it was sent to and its headers.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, Method, HeaderMap)>>>);

impl Seen {
    fn for_path(&self, name: &str) -> Vec<(Method, HeaderMap)> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(n, _, _)| n == name)
            .map(|(_, m, h)| (m.clone(), h.clone()))
            .collect()
    }

    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
}

/// A legacy MCP server over Streamable HTTP (JSON answers, no sessions) at
/// `http://addr/<name>`, with one tool, `whoami`, whose text is the request headers it was
/// sent as a JSON object. Every request's headers are recorded too.
struct Recorder {
    addr: SocketAddr,
    seen: Seen,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Recorder {
    async fn start() -> Self {
        let seen = Seen::default();
        let app = axum::Router::new()
            .route("/{name}", axum::routing::any(record))
            .with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, seen, task }
    }

    fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }
}

fn headers_json(headers: &HeaderMap) -> Value {
    let mut map = Map::new();
    for (name, value) in headers {
        map.insert(
            name.as_str().to_owned(),
            Value::String(String::from_utf8_lossy(value.as_bytes()).into_owned()),
        );
    }
    Value::Object(map)
}

async fn record(
    State(seen): State<Seen>,
    UrlPath(name): UrlPath<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    seen.0
        .lock()
        .unwrap()
        .push((name, method.clone(), headers.clone()));
    if method == Method::DELETE {
        return StatusCode::OK.into_response();
    }
    if method != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let Ok(msg) = serde_json::from_slice::<Value>(&body) else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let (Some(id), Some(m)) = (msg.get("id"), msg["method"].as_str()) else {
        return StatusCode::ACCEPTED.into_response();
    };
    let params = &msg["params"];
    let answer = match m {
        "initialize" => {
            let asked = params["protocolVersion"].as_str().unwrap_or(LEGACY);
            let version = if asked.starts_with("2024") || asked.starts_with("2025") {
                asked
            } else {
                LEGACY
            };
            json!({"result": {
                "protocolVersion": version,
                "capabilities": {"tools": {}},
                "serverInfo": {"name": "header-recorder", "version": "0"}}})
        }
        "ping" => json!({"result": {}}),
        "tools/list" => json!({"result": {"tools": [{
            "name": "whoami",
            "description": "the request headers",
            "inputSchema": {"type": "object"}}]}}),
        "tools/call" if params["name"] == "whoami" => json!({"result": {
            "content": [{"type": "text", "text": headers_json(&headers).to_string()}],
            "isError": false}}),
        _ => json!({"error": {"code": -32601, "message": "method not found"}}),
    };
    let mut answer = answer;
    answer["jsonrpc"] = json!("2.0");
    answer["id"] = id.clone();
    let mut resp = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        answer.to_string(),
    )
        .into_response();
    if m == "initialize" {
        // A session, so that the gateway also opens a GET stream and ends it with a DELETE:
        // requests that must carry the credential as well.
        resp.headers_mut().insert(
            "mcp-session-id",
            header::HeaderValue::from_static("recorder-session"),
        );
    }
    resp
}

/// `text` without ANSI escape sequences (the log is colored even when written to a file).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.next() == Some('[') {
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            }
            continue;
        }
        out.push(c);
    }
    out
}

/// Every request that reached the recorder's `name` carried `header: expected`, and nothing
/// of the client's.
fn check_requests(seen: &Seen, name: &str, header: &str, expected: &str) {
    let all = seen.for_path(name);
    let methods: Vec<&Method> = all.iter().map(|(m, _)| m).collect();
    for wanted in [Method::POST, Method::GET, Method::DELETE] {
        assert!(
            methods.contains(&&wanted),
            "no {wanted} reached `{name}`: {methods:?}"
        );
    }
    for (method, headers) in &all {
        assert_eq!(
            headers.get(header).and_then(|v| v.to_str().ok()),
            Some(expected),
            "`{name}` got {method} with {headers:?}"
        );
        for (h, value) in headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            assert!(
                !value.contains(ALICE_KEY),
                "the client's key reached `{name}` in `{h}`"
            );
            assert!(
                h != "x-api-key" && h != "x-client-note",
                "`{name}` got `{h}`"
            );
        }
        if header != "authorization" {
            assert!(
                headers.get("authorization").is_none(),
                "`{name}` got {method} with {headers:?}"
            );
        }
    }
}

fn http_upstream_toml(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[upstreams.{name}]\ntransport = \"http\"\nurl = {}\n{extra}\n",
        toml_str(url)
    )
}

fn api_keys_toml() -> String {
    format!(
        "[[auth.api_keys]]\nprincipal = \"alice\"\nhash = {}\ngroups = [\"users\", \"admins\"]\n\n\
         [[auth.api_keys]]\nprincipal = \"bob\"\nhash = {}\ngroups = [\"users\"]\n\n",
        toml_str(ALICE_HASH),
        toml_str(BOB_HASH)
    )
}

// === 1. upstream credentials, never the client's ===

#[tokio::test]
async fn http_upstreams_get_the_gateways_credential_and_never_the_clients() {
    run(async {
        let rec = Recorder::start().await;
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("upstream.secret"),
            format!("{FILE_SECRET}\n"),
        )
        .unwrap();
        let config = format!(
            "[auth]\n{}{}{}",
            api_keys_toml(),
            http_upstream_toml("bearer", &rec.url("bearer"), BEARER_FROM_ENV,),
            http_upstream_toml(
                "keyed",
                &rec.url("keyed"),
                concat!(
                    "credential = { from_file = \"upstream.secret\", ",
                    "header = \"X-Upstream-Key\", prefix = \"\" }"
                ),
            ),
        );
        let options = StartOptions {
            env: env(&[("UPSTREAM_TOKEN", UPSTREAM_SECRET)]),
            ..StartOptions::default()
        };
        let gw = GatewayProcess::start_with(bin(), &config, dir, &options)
            .await
            .unwrap();
        let client = Client::plain(gw.addr);
        let bearer_auth = format!("Bearer {ALICE_KEY}");
        // The client's credential in each of the forms the gateway accepts, plus a header of
        // its own that must not be passed on either.
        let by_header: &[(&str, &str)] =
            &[("x-api-key", ALICE_KEY), ("x-client-note", "client-only")];
        let by_bearer: &[(&str, &str)] = &[
            ("authorization", &bearer_auth),
            ("x-client-note", "client-only"),
        ];

        let mut id = 1;
        for (path, creds) in [
            ("/mcp/bearer", by_header),
            ("/mcp/bearer", by_bearer),
            ("/mcp/keyed", by_header),
            ("/mcp/keyed", by_bearer),
        ] {
            let sid = client.initialize(path, creds).await;
            let list = client
                .request(path, &sid, creds, id, "tools/list", json!({}))
                .await;
            assert_eq!(list.status, 200, "{}", list.body);
            assert_eq!(
                list.json()["result"]["tools"][0]["name"],
                "whoami",
                "{}",
                list.body
            );
            id += 1;
            let seen: Value = serde_json::from_str(&text_of(
                &client
                    .call(path, &sid, creds, id, "whoami", json!({}))
                    .await,
            ))
            .unwrap();
            id += 1;
            if path == "/mcp/bearer" {
                assert_eq!(
                    seen["authorization"],
                    format!("Bearer {UPSTREAM_SECRET}"),
                    "{seen}"
                );
            } else {
                assert_eq!(seen["x-upstream-key"], FILE_SECRET, "{seen}");
                assert!(seen.get("authorization").is_none(), "{seen}");
            }
            assert!(seen.get("x-api-key").is_none(), "{seen}");
            assert!(seen.get("x-client-note").is_none(), "{seen}");
        }

        // The client's credential is still checked: a wrong one never reaches an upstream.
        let before = rec.seen.len();
        let refused = client
            .try_initialize("/mcp/bearer", &[("x-api-key", "not-a-key")])
            .await
            .unwrap();
        assert_eq!(refused.status, 401, "{}", refused.body);
        assert!(refused.header("www-authenticate").is_some());
        assert_eq!(rec.seen.len(), before);

        // And on every request of every exchange: handshake, notifications, lists, calls, the
        // GET stream and, once the gateway stops, the DELETE that ends the upstream session.
        let mut gw = gw;
        gw.stop().await.unwrap();
        let bearer = format!("Bearer {UPSTREAM_SECRET}");
        check_requests(&rec.seen, "bearer", "authorization", &bearer);
        check_requests(&rec.seen, "keyed", "x-upstream-key", FILE_SECRET);
    })
    .await;
}

#[tokio::test]
async fn a_stdio_upstream_gets_its_credential_in_its_environment_only() {
    run(async {
        let config = format!(
            "[auth]\n{}[upstreams.envy]\ntransport = \"stdio\"\ncommand = {}\nargs = [{}]\n\
             credential = {{ from_env = \"UPSTREAM_TOKEN\", env = \"DEMO_TOKEN\" }}\n",
            api_keys_toml(),
            toml_str(&python()),
            toml_str(&fixture("env_server.py").display().to_string()),
        );
        let options = StartOptions {
            env: env(&[("UPSTREAM_TOKEN", UPSTREAM_SECRET)]),
            ..StartOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let gw = GatewayProcess::start_with(bin(), &config, dir, &options)
            .await
            .unwrap();
        let client = Client::plain(gw.addr);
        let creds: &[(&str, &str)] = &[("x-api-key", BOB_KEY)];
        let sid = client.initialize("/mcp", creds).await;
        let names = json!({"names": ["DEMO_TOKEN", "UPSTREAM_TOKEN", "MCPGATE_LOG"]});
        let text = text_of(&client.call("/mcp", &sid, creds, 1, "env", names).await);
        let values: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(values["DEMO_TOKEN"], UPSTREAM_SECRET, "{values}");
        // The gateway's own environment (where the secret came from) is not inherited.
        assert_eq!(values["UPSTREAM_TOKEN"], Value::Null, "{values}");
        assert_eq!(values["MCPGATE_LOG"], Value::Null, "{values}");
    })
    .await;
}

#[tokio::test]
async fn a_missing_credential_variable_stops_the_start_naming_it_and_not_a_value() {
    run(async {
        let missing = "MCPGATE_AUTH_E2E_UNSET_CREDENTIAL";
        assert!(
            std::env::var_os(missing).is_none(),
            "{missing} must not be set for this test"
        );
        let config = format!(
            "{}{}",
            demo_upstream_toml(
                "present",
                Path::new("notes"),
                "credential = { from_env = \"UPSTREAM_TOKEN\", env = \"DEMO_TOKEN\" }",
            ),
            http_upstream_toml(
                "absent",
                "http://127.0.0.1:9/mcp",
                &format!("credential = {{ from_env = {} }}", toml_str(missing)),
            ),
        );
        let options = StartOptions {
            env: env(&[("UPSTREAM_TOKEN", UPSTREAM_SECRET)]),
            ..StartOptions::default()
        };
        let dir = tempfile::tempdir().unwrap();
        let err = GatewayProcess::start_with(bin(), &config, dir, &options)
            .await
            .expect_err("the gateway must refuse to start");
        let message = format!("{err:#}");
        assert!(message.contains("exited early"), "{message}");
        assert!(
            message.contains("`absent`"),
            "no upstream name in: {message}"
        );
        assert!(message.contains(missing), "no variable name in: {message}");
        assert!(!message.contains(UPSTREAM_SECRET), "a secret in: {message}");
    })
    .await;
}

// === 2. mutual TLS ===

struct Leaf {
    cert: CertificateDer<'static>,
    pem: String,
    key: KeyPair,
}

impl Leaf {
    fn key_der(&self) -> PrivateKeyDer<'static> {
        PrivatePkcs8KeyDer::from(self.key.serialize_der()).into()
    }
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

fn leaf(issuer: &CertifiedIssuer<'static, KeyPair>, params: &CertificateParams) -> Leaf {
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    Leaf {
        cert: cert.der().clone(),
        pem: cert.pem(),
        key,
    }
}

/// A client certificate whose first SAN is the URI `spiffe://example.org/agent/<name>`.
fn agent(issuer: &CertifiedIssuer<'static, KeyPair>, name: &str) -> Leaf {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.subject_alt_names = vec![SanType::URI(
        format!("spiffe://example.org/agent/{name}")
            .try_into()
            .unwrap(),
    )];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    leaf(issuer, &params)
}

/// A reqwest client trusting `ca` only, presenting `identity` if any.
fn tls_client(ca: &CertificateDer<'static>, identity: Option<&Leaf>, addr: SocketAddr) -> Client {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let mut config = match identity {
        Some(leaf) => builder
            .with_client_auth_cert(vec![leaf.cert.clone()], leaf.key_der())
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Client {
        http: reqwest::Client::builder()
            .tls_backend_preconfigured(config)
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        base: format!("https://{addr}"),
    }
}

const CAROL: &str = "spiffe://example.org/agent/carol";

#[tokio::test]
async fn mtls_clients_are_principals_and_others_fail_the_handshake() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let root = ca("mcpgate e2e CA");
        let mut server_params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server = leaf(&root, &server_params);
        let carol = agent(&root, "carol");
        let dave = agent(&root, "dave");
        let stranger_ca = ca("unrelated CA");
        let mallory = agent(&stranger_ca, "carol");
        let write = |name: &str, text: String| std::fs::write(dir.path().join(name), text).unwrap();
        write("server.pem", format!("{}{}", server.pem, root.pem()));
        write("server.key", server.key.serialize_pem());
        write("client-ca.pem", root.pem());
        write(
            "carol.cedar",
            format!(
                "@id(\"carol-connects\")\n\
                 permit (principal == Mcp::User::{0}, action == Mcp::Action::\"connect\", \
                 resource == Mcp::Server::\"demo\");\n\n\
                 @id(\"carol-echoes\")\n\
                 permit (principal == Mcp::User::{0}, \
                 action in [Mcp::Action::\"call_tool\", Mcp::Action::\"list_tools\"], \
                 resource == Mcp::Tool::\"echo\")\n\
                 when {{ resource in Mcp::Server::\"demo\" }};\n",
                toml_str(CAROL)
            ),
        );
        let notes = dir.path().join("notes");
        let config = format!(
            "[server.tls]\ncert = \"server.pem\"\nkey = \"server.key\"\n\
             client_ca = \"client-ca.pem\"\n\n\
             [auth.mtls]\nidentity = \"auto\"\n\n\
             [authorization]\npolicies = [\"carol.cedar\"]\n\n{}",
            demo_upstream_toml("demo", &notes, "")
        );
        let options = StartOptions {
            tcp_ready: true,
            ..StartOptions::default()
        };
        let gw = GatewayProcess::start_with(bin(), &config, dir, &options)
            .await
            .unwrap();
        let ca_der = root.der().clone();

        // carol: her certificate is her credential, and the policies know her by its SAN URI.
        let client = tls_client(&ca_der, Some(&carol), gw.addr);
        let sid = client.initialize("/mcp", &[]).await;
        let echoed = client
            .call(
                "/mcp",
                &sid,
                &[],
                1,
                "echo",
                json!({"message": "over mTLS"}),
            )
            .await;
        assert_eq!(text_of(&echoed), "over mTLS");
        let list = client
            .request("/mcp", &sid, &[], 2, "tools/list", json!({}))
            .await;
        let listed = list.json();
        let tools: Vec<&str> = listed["result"]["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("tools/list: {}", list.body))
            .iter()
            .filter_map(|t| t["name"].as_str())
            .collect();
        assert_eq!(tools, ["echo"], "{}", list.body);
        let add = client
            .call("/mcp", &sid, &[], 3, "add", json!({"a": 1, "b": 2}))
            .await;
        assert_eq!(
            add.code(),
            Some(-31012),
            "add is not permitted: {}",
            add.body
        );

        let audit = gw.audit();
        let call = audit
            .iter()
            .find(|r| r["method"] == "tools/call" && r["tool"] == "echo")
            .unwrap_or_else(|| panic!("no audit record of the echo call: {audit:?}"));
        assert_eq!(call["principal"], CAROL, "{call}");
        assert_eq!(call["auth"], "mtls", "{call}");
        assert_eq!(call["verdict"], "allow", "{call}");
        let denied = audit
            .iter()
            .find(|r| r["method"] == "tools/call" && r["tool"] == "add")
            .unwrap_or_else(|| panic!("no audit record of the add call: {audit:?}"));
        assert_eq!(denied["principal"], CAROL, "{denied}");
        assert_eq!(denied["verdict"], "deny", "{denied}");

        // dave passes the handshake (same CA) but no policy lets him connect.
        let dave_client = tls_client(&ca_der, Some(&dave), gw.addr);
        let refused = dave_client.try_initialize("/mcp", &[]).await.unwrap();
        assert!(
            refused.header("mcp-session-id").is_none() && refused.json()["result"].is_null(),
            "dave was let in: {} {}",
            refused.status,
            refused.body
        );

        // A certificate from another CA, even naming carol, and no certificate at all, are
        // refused at the handshake: no HTTP status ever comes back.
        for (who, c) in [
            ("another CA", tls_client(&ca_der, Some(&mallory), gw.addr)),
            ("no certificate", tls_client(&ca_der, None, gw.addr)),
        ] {
            match c.try_initialize("/mcp", &[]).await {
                Ok(a) => panic!(
                    "{who}: the handshake succeeded, HTTP {}: {}",
                    a.status, a.body
                ),
                Err(e) => assert!(e.status().is_none(), "{who}: {e}"),
            }
        }
        // The gateway still serves carol afterwards.
        let again = client
            .call(
                "/mcp",
                &sid,
                &[],
                4,
                "echo",
                json!({"message": "still here"}),
            )
            .await;
        assert_eq!(text_of(&again), "still here");
    })
    .await;
}

// === 3. no secret in any log line ===

fn sign_jwt(claims: &Value) -> String {
    let pem = std::fs::read(repo("examples/auth/test-issuer-private.pem")).unwrap();
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(ISSUER_KID.to_owned());
    jsonwebtoken::encode(&header, claims, &key).unwrap()
}

/// `token` with its signature altered (still well-formed base64url).
fn tampered(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let mut sig: Vec<char> = signature.chars().collect();
    for c in sig.iter_mut().take(8) {
        *c = if *c == 'A' { 'B' } else { 'A' };
    }
    format!("{rest}.{}", sig.into_iter().collect::<String>())
}

#[tokio::test]
async fn no_credential_or_secret_appears_in_any_log_line() {
    run(async {
        let rec = Recorder::start().await;
        let dir = tempfile::tempdir().unwrap();
        let resource = "https://mcpgate.example.test/mcp";
        std::fs::write(
            dir.path().join("recorder.cedar"),
            "@id(\"admins-recorder\")\n\
             permit (principal in Mcp::Group::\"admins\", action in \
             [Mcp::Action::\"call_tool\", Mcp::Action::\"list_tools\"], \
             resource in Mcp::Server::\"rec\");\n\
             @id(\"admins-connect-rec\")\n\
             permit (principal in Mcp::Group::\"admins\", action == Mcp::Action::\"connect\", \
             resource == Mcp::Server::\"rec\");\n",
        )
        .unwrap();
        let notes = dir.path().join("notes");
        let config = format!(
            "[auth]\nresource = {resource}\n{keys}\
             [[auth.jwt]]\nissuer = {issuer}\njwks_file = {jwks}\n\
             algorithms = [\"ES256\"]\ngroups_claim = \"groups\"\n\n\
             [auth.tokens]\nmax_ttl = \"10m\"\n\n\
             [authorization]\npolicies = [{policies}, \"recorder.cedar\"]\n\n{demo}{rec}",
            resource = toml_str(resource),
            keys = api_keys_toml(),
            issuer = toml_str(ISSUER),
            jwks = toml_str(
                &repo("examples/auth/test-issuer-jwks.json")
                    .display()
                    .to_string()
            ),
            policies = toml_str(&repo("examples/policies").display().to_string()),
            demo = demo_upstream_toml(
                "demo",
                &notes,
                "credential = { from_env = \"UPSTREAM_TOKEN\", env = \"DEMO_TOKEN\" }",
            ),
            rec = http_upstream_toml("rec", &rec.url("rec"), BEARER_FROM_ENV),
        );
        let options = StartOptions {
            env: env(&[("UPSTREAM_TOKEN", UPSTREAM_SECRET)]),
            log: Some("debug".to_owned()),
            ..StartOptions::default()
        };
        let gw = GatewayProcess::start_with(bin(), &config, dir, &options)
            .await
            .unwrap();
        let client = Client::plain(gw.addr);

        let bob_bearer = format!("Bearer {BOB_KEY}");
        let bad_key = "wrong-api-key-9c41d7";
        let bad_bearer_key = format!("Bearer {bad_key}");
        let claims = |aud: &str, sub: &str| {
            json!({"iss": ISSUER, "aud": aud, "sub": sub, "groups": ["users", "admins"],
                   "iat": now(), "exp": now() + 300})
        };
        let jwt = sign_jwt(&claims(resource, "jules"));
        let jwt_bearer = format!("Bearer {jwt}");
        let forged = tampered(&jwt);
        let forged_bearer = format!("Bearer {forged}");
        let wrong_audience = sign_jwt(&claims("https://elsewhere.example.test/mcp", "jules"));
        let wrong_audience_bearer = format!("Bearer {wrong_audience}");

        // API keys, right and wrong, in both headers.
        let alice: &[(&str, &str)] = &[("x-api-key", ALICE_KEY)];
        let bob: &[(&str, &str)] = &[("authorization", &bob_bearer)];
        let sid = client.initialize("/mcp", alice).await;
        let added = client
            .call("/mcp", &sid, alice, 1, "add", json!({"a": 2, "b": 3}))
            .await;
        assert_eq!(text_of(&added), "5");
        let sid_rec = client.initialize("/mcp/rec", alice).await;
        let seen: Value = serde_json::from_str(&text_of(
            &client
                .call("/mcp/rec", &sid_rec, alice, 2, "whoami", json!({}))
                .await,
        ))
        .unwrap();
        assert_eq!(
            seen["authorization"],
            format!("Bearer {UPSTREAM_SECRET}"),
            "{seen}"
        );
        let sid_bob = client.initialize("/mcp", bob).await;
        let echoed = client
            .call("/mcp", &sid_bob, bob, 3, "echo", json!({"message": "hi"}))
            .await;
        assert_eq!(text_of(&echoed), "hi");
        let denied = client
            .call(
                "/mcp",
                &sid_bob,
                bob,
                4,
                "write_note",
                json!({"path": "notes/bob/x", "content": "x"}),
            )
            .await;
        assert_eq!(denied.code(), Some(-31012), "{}", denied.body);
        let rec_denied = client.try_initialize("/mcp/rec", bob).await.unwrap();
        assert!(
            rec_denied.json()["result"].is_null(),
            "bob reached rec: {}",
            rec_denied.body
        );
        for creds in [
            vec![("x-api-key", bad_key)],
            vec![("authorization", bad_bearer_key.as_str())],
            vec![("authorization", forged_bearer.as_str())],
            vec![("authorization", wrong_audience_bearer.as_str())],
        ] {
            let a = client.try_initialize("/mcp", &creds).await.unwrap();
            assert_eq!(a.status, 401, "{creds:?} was accepted: {}", a.body);
            assert!(
                a.header("www-authenticate").is_some(),
                "no challenge: {:?}",
                a.headers
            );
        }
        // A wrong credential on an open session is refused too, not just at the start.
        let hijack = client
            .call(
                "/mcp",
                &sid,
                &[("x-api-key", bad_key)],
                5,
                "echo",
                json!({"message": "x"}),
            )
            .await;
        assert_eq!(hijack.status, 401, "{}", hijack.body);

        // A valid JWT.
        let jules: &[(&str, &str)] = &[("authorization", &jwt_bearer)];
        let sid_jwt = client.initialize("/mcp", jules).await;
        let echoed = client
            .call(
                "/mcp",
                &sid_jwt,
                jules,
                6,
                "echo",
                json!({"message": "jwt"}),
            )
            .await;
        assert_eq!(text_of(&echoed), "jwt");

        // A delegation token, obtained with alice's key, good for `echo` only.
        let issued = client
            .post("/auth/token", &json!({"scope": "tool:echo"}), alice)
            .await;
        assert_eq!(issued.status, 200, "{}", issued.body);
        let delegated = issued.json()["access_token"].as_str().unwrap().to_owned();
        let delegated_bearer = format!("Bearer {delegated}");
        let agent: &[(&str, &str)] = &[("authorization", &delegated_bearer)];
        let sid_agent = client.initialize("/mcp", agent).await;
        let echoed = client
            .call(
                "/mcp",
                &sid_agent,
                agent,
                7,
                "echo",
                json!({"message": "delegated"}),
            )
            .await;
        assert_eq!(text_of(&echoed), "delegated");
        let outside = client
            .call("/mcp", &sid_agent, agent, 8, "add", json!({"a": 1, "b": 1}))
            .await;
        assert_eq!(outside.code(), Some(-31012), "{}", outside.body);

        // Evidence that the logs saw all of it.
        let audit = gw.audit();
        let has = |principal: &str, auth: &str, tool: &str, verdict: &str| {
            audit.iter().any(|r| {
                r["principal"] == principal
                    && r["auth"] == auth
                    && r["tool"] == tool
                    && r["verdict"] == verdict
            })
        };
        assert!(has("alice", "api_key", "add", "allow"), "{audit:?}");
        assert!(has("alice", "api_key", "whoami", "allow"), "{audit:?}");
        assert!(has("bob", "api_key", "echo", "allow"), "{audit:?}");
        assert!(has("bob", "api_key", "write_note", "deny"), "{audit:?}");
        assert!(has("jules", "jwt", "echo", "allow"), "{audit:?}");
        assert!(has("alice", "gateway_token", "echo", "allow"), "{audit:?}");
        assert!(has("alice", "gateway_token", "add", "deny"), "{audit:?}");
        let anonymous = audit
            .iter()
            .filter(|r| r["principal"] == "anonymous" && r["reason"] == "unauthenticated")
            .count();
        assert!(
            anonymous >= 5,
            "the refused credentials are not audited: {audit:?}"
        );
        let stderr = strip_ansi(&gw.stderr());
        assert!(stderr.contains("DEBUG"), "not a debug log: {stderr}");
        assert!(stderr.contains("issued a delegation token"), "{stderr}");
        assert!(
            stderr.contains("jwt rejected") || stderr.contains("denied"),
            "{stderr}"
        );
        let audit_text = std::fs::read_to_string(gw.dir.path().join("audit.jsonl")).unwrap();
        assert!(audit_text.lines().count() >= 10, "{audit_text}");

        let secrets: Vec<(&str, String)> = vec![
            ("alice's API key", ALICE_KEY.to_owned()),
            ("bob's API key", BOB_KEY.to_owned()),
            ("the wrong API key", bad_key.to_owned()),
            ("the upstream credential", UPSTREAM_SECRET.to_owned()),
            ("the JWT", jwt.clone()),
            (
                "the JWT's signature",
                jwt.rsplit_once('.').unwrap().1.to_owned(),
            ),
            ("the forged JWT", forged.clone()),
            (
                "the forged JWT's signature",
                forged.rsplit_once('.').unwrap().1.to_owned(),
            ),
            ("the wrong-audience JWT", wrong_audience.clone()),
            ("the delegation token", delegated.clone()),
            (
                "the delegation token's signature",
                delegated
                    .rsplit_once('.')
                    .unwrap_or(("", &delegated))
                    .1
                    .to_owned(),
            ),
        ];
        for (file, text) in [("stderr.log", &stderr), ("audit.jsonl", &audit_text)] {
            for (n, line) in text.lines().enumerate() {
                for (what, secret) in &secrets {
                    assert!(
                        !line.contains(secret.as_str()),
                        "{what} in {file} line {}: {line}",
                        n + 1
                    );
                }
                let lower = line.to_ascii_lowercase();
                for pattern in [
                    "authorization: bearer",
                    "authorization\":\"",
                    "authorization\": \"",
                    "authorization=\"",
                    "authorization=bearer",
                    "x-api-key: ",
                    "x-api-key\":\"",
                    "x-api-key=",
                ] {
                    assert!(
                        !lower.contains(pattern),
                        "`{pattern}` in {file} line {}: {line}",
                        n + 1
                    );
                }
            }
        }
    })
    .await;
}
