//! Bad input at the gateway's fronts, against the real binary.
//!
//! Every malformed, oversized, misaddressed or misbehaving message must get its exact JSON-RPC
//! error code and HTTP status, must not take the process down, and must leave the gateway
//! answering: each refusal is followed by a request that has to succeed, and each test ends by
//! checking that the process is still running and then stops cleanly on SIGTERM. The upstream
//! side is covered with `tests/fixtures/bad_upstream.py` (Python 3, standard library only), a
//! stdio server that answers with ids nobody sent, writes lines over the size limit, hangs, and
//! records every line the gateway writes to it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mcpgate_test::{
    Answer, GatewayProcess, Http, StdioProcess, demo_upstream_toml, modern_meta, toml_str,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::time::timeout;

const BIN: &str = env!("CARGO_BIN_EXE_mcpgate");
const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/bad_upstream.py"
);

/// Upper bound for one whole test.
const TEST_TIMEOUT: Duration = Duration::from_secs(50);
/// Upper bound for one step (a message, a log line to appear).
const STEP: Duration = Duration::from_secs(10);

/// `[server] max_body_bytes`.
const MAX_BYTES: usize = 2048;

/// The headers of a well-formed modern `tools/call` of `echo`.
const MODERN_ECHO: [(&str, &str); 3] = [
    ("mcp-protocol-version", "2026-07-28"),
    ("mcp-method", "tools/call"),
    ("mcp-name", "echo"),
];

/// A gateway with two upstreams: the demo server (`/mcp`, the default) and the misbehaving
/// fixture (`/mcp/bad`), with small size and depth limits.
struct Env {
    gw: GatewayProcess,
    http: Http,
    bad: Http,
    upstream_log: PathBuf,
    next_id: AtomicU64,
}

impl Env {
    async fn start(upstream_extra: &str) -> Self {
        let python = std::process::Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .status();
        assert!(
            python.is_ok_and(|s| s.success()),
            "python3 must be on PATH: it runs the misbehaving upstream {FIXTURE}"
        );
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes");
        let upstream_log = dir.path().join("bad-upstream.log");
        let demo = demo_upstream_toml("demo", &notes, &format!("default = true\n{upstream_extra}"));
        let config = format!(
            "[server]\nmax_body_bytes = {MAX_BYTES}\nmax_depth = 8\n\n\
             [jsonrpc]\nallow_methods = [\"vendor/x\"]\n\n\
             {demo}\n\
             [upstreams.bad]\ntransport = \"stdio\"\ncommand = \"python3\"\nargs = [{fixture}]\n\
             era = \"legacy\"\n{upstream_extra}\n\n\
             [upstreams.bad.env]\nBAD_UPSTREAM_LOG = {log}\n",
            fixture = toml_str(FIXTURE),
            log = toml_str(&upstream_log.display().to_string()),
        );
        let gw = GatewayProcess::start_in(Path::new(BIN), &config, dir)
            .await
            .expect("gateway did not start");
        let http = Http::new(&gw.url());
        let bad = Http::new(&format!("{}/bad", gw.url()));
        Self {
            gw,
            http,
            bad,
            upstream_log,
            next_id: AtomicU64::new(1000),
        }
    }

    fn id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// A modern `echo` call on the demo upstream that must succeed.
    async fn good(&self, after: &str) {
        let message = format!("still answering after {after}");
        let a = self
            .http
            .modern(
                self.id(),
                "tools/call",
                json!({"name": "echo", "arguments": {"message": message}}),
            )
            .await;
        assert_eq!(a.status, 200, "good request after {after}: {}", a.body);
        assert_eq!(
            text_of(&a.json()),
            message,
            "good request after {after}: {}",
            a.body
        );
    }

    /// A legacy `echo` call in session `sid` that must succeed.
    async fn good_legacy(&self, http: &Http, sid: &str, after: &str) {
        let message = format!("session still answering after {after}");
        let a = http
            .legacy(
                sid,
                self.id(),
                "tools/call",
                json!({"name": "echo", "arguments": {"message": message}}),
            )
            .await;
        assert_eq!(a.status, 200, "legacy request after {after}: {}", a.body);
        assert_eq!(
            text_of(&a.json()),
            message,
            "legacy request after {after}: {}",
            a.body
        );
    }

    /// POSTs `body` to `/mcp`, expects `status` with error `code`, then a good request.
    async fn refused(
        &self,
        what: &str,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
        status: u16,
        code: i64,
    ) -> Answer {
        let a = self.http.post_raw(body, headers).await;
        assert_refusal(&a, what, status, code);
        self.good(what).await;
        a
    }

    /// The first audit record `pred` accepts, waiting a little for it.
    async fn audit_record(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + STEP;
        loop {
            if let Some(r) = self.gw.audit().into_iter().find(|r| pred(r)) {
                return r;
            }
            assert!(
                Instant::now() < deadline,
                "no audit record for {what}: {:?}",
                self.gw.audit()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The lines the fixture upstream received, parsed.
    fn upstream_lines(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.upstream_log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits until the gateway's stderr contains `needle`.
    async fn stderr_contains(&self, needle: &str) {
        let deadline = Instant::now() + STEP;
        while !self.gw.stderr().contains(needle) {
            assert!(
                Instant::now() < deadline,
                "stderr lacks {needle:?}:\n{}",
                self.gw.stderr()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The process must still run, must not have panicked, and must stop cleanly.
    async fn finish(mut self) {
        assert!(
            self.gw.is_running(),
            "gateway exited:\n{}",
            self.gw.stderr()
        );
        let stderr = self.gw.stderr();
        assert!(!stderr.contains("panicked"), "gateway panicked:\n{stderr}");
        let status = self.gw.stop().await.unwrap();
        assert!(
            status.success(),
            "gateway exit status {status}:\n{}",
            self.gw.stderr()
        );
    }
}

fn assert_refusal(a: &Answer, what: &str, status: u16, code: i64) {
    assert_eq!(a.status, status, "{what}: status; body {}", a.body);
    let body = a.json();
    assert_eq!(
        body["jsonrpc"], "2.0",
        "{what}: not a JSON-RPC answer: {}",
        a.body
    );
    assert_eq!(a.code(), Some(code), "{what}: code; body {}", a.body);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{what}: error without a message: {}",
        a.body
    );
}

fn text_of(v: &Value) -> &str {
    v["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

/// A modern request body with the standard `_meta`.
fn modern_body(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = modern_meta();
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn echo_params(message: &str) -> Value {
    json!({"name": "echo", "arguments": {"message": message}})
}

/// A legacy `tools/call` of `echo`.
fn echo_request(id: u64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": echo_params(message)})
}

/// The params of a legacy `initialize`.
fn initialize_params(version: &str) -> Value {
    json!({"protocolVersion": version, "capabilities": {},
        "clientInfo": {"name": "mcpgate-test", "version": "0"}})
}

/// `n` nested arrays.
fn nest(n: usize) -> String {
    format!("{}{}", "[".repeat(n), "]".repeat(n))
}

/// Runs a test body within [`TEST_TIMEOUT`].
async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    // The HTTP clients in this process need a rustls provider, even for plain HTTP.
    mcpgate_test::fixtures::install_crypto_provider();
    timeout(TEST_TIMEOUT, f).await.expect("test timed out");
}

#[tokio::test]
async fn http_size_and_depth_limits() {
    bounded(async {
        let env = Env::start("").await;
        env.good("start").await;

        // A body of exactly the limit passes; one byte more is refused with 413.
        let empty = modern_body(1, "tools/call", echo_params("")).to_string();
        let pad = "x".repeat(MAX_BYTES - empty.len());
        let at_limit = modern_body(1, "tools/call", echo_params(&pad)).to_string();
        assert_eq!(at_limit.len(), MAX_BYTES);
        let a = env.http.post_raw(at_limit, &MODERN_ECHO).await;
        assert_eq!(a.status, 200, "body at the limit: {}", a.body);
        assert_eq!(text_of(&a.json()), pad);
        let over = modern_body(1, "tools/call", echo_params(&format!("{pad}x"))).to_string();
        assert_eq!(over.len(), MAX_BYTES + 1);
        let a = env.refused("body one byte over", over, &MODERN_ECHO, 413, -32600).await;
        assert_eq!(a.json()["id"], Value::Null);
        let big = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{{"x":"{}"}}}}"#, "y".repeat(10_000));
        env.refused("body far over", big.clone(), &[], 413, -32600).await;

        // The same in a legacy session, which keeps working.
        let sid = env.http.initialize("2025-11-25").await;
        let a = env.http.post_raw(big, &[("mcp-session-id", &sid)]).await;
        assert_refusal(&a, "oversized body in a session", 413, -32600);
        env.good_legacy(&env.http, &sid, "oversized body in a session").await;

        // Nesting: the top-level object is level 1, so `arguments.x` may hold 5 arrays.
        let deep = |levels: usize| {
            format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"deep","x":{}}},"_meta":{}}}}}"#,
                nest(levels),
                modern_meta()
            )
        };
        let a = env.http.post_raw(deep(5), &MODERN_ECHO).await;
        assert_eq!(a.status, 200, "nesting at the limit: {}", a.body);
        assert_eq!(text_of(&a.json()), "deep");
        env.refused("nesting one level over", deep(6), &MODERN_ECHO, 400, -32600).await;
        // Far deeper than any parser's recursion limit, and unterminated.
        let abyss = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"a":{}"#, "[".repeat(1900));
        env.refused("nesting far over", abyss, &[], 400, -32600).await;
        let a = env.http.post_raw(deep(6), &[("mcp-session-id", &sid)]).await;
        assert_refusal(&a, "deep body in a session", 400, -32600);
        env.good_legacy(&env.http, &sid, "deep body in a session").await;

        let too_large = env
            .audit_record("413", |r| r["reason"] == "too_large")
            .await;
        assert_eq!(too_large["verdict"], "deny");
        assert_eq!(too_large["code"], -32600);
        let too_deep = env.audit_record("too deep", |r| r["reason"] == "too_deep").await;
        assert_eq!(too_deep["verdict"], "deny");
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_malformed_json() {
    bounded(async {
        let env = Env::start("").await;
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty body", b"".to_vec()),
            ("truncated", br#"{"jsonrpc":"2.0","id":1,"method":"tools/list""#.to_vec()),
            ("trailing comma", br#"{"jsonrpc":"2.0","id":1,"method":"tools/list",}"#.to_vec()),
            ("garbage", b"hello, gateway".to_vec()),
            ("two values", br#"{"jsonrpc":"2.0","id":1,"method":"ping"} {}"#.to_vec()),
            (
                "invalid utf-8",
                b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\xfe\"}}".to_vec(),
            ),
            (
                "lone surrogate escape",
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"\ud800"}}"#.to_vec(),
            ),
            (
                "lone trailing surrogate in a key",
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"\udc00":1}}"#.to_vec(),
            ),
            (
                "duplicate top-level key",
                br#"{"jsonrpc":"2.0","id":1,"id":2,"method":"tools/list"}"#.to_vec(),
            ),
            (
                "duplicate method",
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","method":"tools/call"}"#.to_vec(),
            ),
            (
                "duplicate nested key",
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":"a","message":"b"}}}"#.to_vec(),
            ),
        ];
        for (what, body) in &cases {
            env.refused(what, body.clone(), &MODERN_ECHO, 400, -32700).await;
        }
        // Also inside a legacy session, which survives them.
        let sid = env.http.initialize("2025-11-25").await;
        for (what, body) in &cases {
            let a = env.http.post_raw(body.clone(), &[("mcp-session-id", &sid)]).await;
            assert_refusal(&a, what, 400, -32700);
        }
        env.good_legacy(&env.http, &sid, "malformed JSON in a session").await;
        let parse = env.audit_record("parse error", |r| r["reason"] == "parse_error").await;
        assert_eq!(parse["verdict"], "deny");
        assert_eq!(parse["kind"], "unparsed");
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_not_jsonrpc() {
    bounded(async {
        let env = Env::start("").await;
        // (what, body, the id the error must carry)
        let cases: Vec<(&str, &str, Value)> = vec![
            ("a number", "42", Value::Null),
            ("a string", r#""tools/list""#, Value::Null),
            ("null", "null", Value::Null),
            ("true", "true", Value::Null),
            (
                "missing jsonrpc",
                r#"{"id":7,"method":"tools/list"}"#,
                json!(7),
            ),
            (
                "jsonrpc 1.0",
                r#"{"jsonrpc":"1.0","id":7,"method":"tools/list"}"#,
                json!(7),
            ),
            (
                "jsonrpc as a number",
                r#"{"jsonrpc":2.0,"id":7,"method":"tools/list"}"#,
                json!(7),
            ),
            (
                "no method, result or error",
                r#"{"jsonrpc":"2.0","id":7}"#,
                json!(7),
            ),
            ("empty object", "{}", Value::Null),
            (
                "request with a result",
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","result":{}}"#,
                json!(7),
            ),
            (
                "result and error",
                r#"{"jsonrpc":"2.0","id":7,"result":{},"error":{"code":1,"message":"x"}}"#,
                json!(7),
            ),
            (
                "error that is not an error object",
                r#"{"jsonrpc":"2.0","id":7,"error":"bad"}"#,
                json!(7),
            ),
            (
                "null id on a request",
                r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#,
                Value::Null,
            ),
            (
                "float id",
                r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#,
                Value::Null,
            ),
            (
                "exponent id",
                r#"{"jsonrpc":"2.0","id":1e3,"method":"tools/list"}"#,
                Value::Null,
            ),
            (
                "object id",
                r#"{"jsonrpc":"2.0","id":{"n":1},"method":"tools/list"}"#,
                Value::Null,
            ),
            (
                "array id",
                r#"{"jsonrpc":"2.0","id":[1],"method":"tools/list"}"#,
                Value::Null,
            ),
            (
                "bool id",
                r#"{"jsonrpc":"2.0","id":true,"method":"tools/list"}"#,
                Value::Null,
            ),
            (
                "method a number",
                r#"{"jsonrpc":"2.0","id":7,"method":5}"#,
                json!(7),
            ),
            (
                "method null",
                r#"{"jsonrpc":"2.0","id":7,"method":null}"#,
                json!(7),
            ),
            (
                "method an object",
                r#"{"jsonrpc":"2.0","id":7,"method":{"m":"tools/list"}}"#,
                json!(7),
            ),
            (
                "empty method",
                r#"{"jsonrpc":"2.0","id":7,"method":""}"#,
                json!(7),
            ),
            (
                "params a number",
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":5}"#,
                json!(7),
            ),
            (
                "params a string",
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":"all"}"#,
                json!(7),
            ),
            (
                "params null",
                r#"{"jsonrpc":"2.0","id":7,"method":"tools/list","params":null}"#,
                json!(7),
            ),
        ];
        for (what, body, id) in &cases {
            let a = env.refused(what, *body, &MODERN_ECHO, 400, -32600).await;
            assert_eq!(&a.json()["id"], id, "{what}: id of the error: {}", a.body);
        }
        // The same refusals inside a legacy session.
        let sid = env.http.initialize("2025-11-25").await;
        for (what, body, _) in &cases {
            let a = env.http.post_raw(*body, &[("mcp-session-id", &sid)]).await;
            assert_refusal(&a, what, 400, -32600);
        }
        env.good_legacy(&env.http, &sid, "invalid requests in a session")
            .await;
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_batches() {
    bounded(async {
        let env = Env::start("").await;
        let ping = |id: u64| json!({"jsonrpc": "2.0", "id": id, "method": "ping"});
        let echo = echo_request;
        let batch = json!([ping(1), echo(2, "in a batch")]).to_string();

        // No session: a batch is never acceptable.
        let a = env
            .refused("batch without a session", batch.clone(), &[], 400, -32600)
            .await;
        assert_eq!(a.json()["id"], Value::Null);
        let modern_batch = json!([modern_body(1, "tools/list", json!({}))]).to_string();
        env.refused("modern batch", modern_batch, &MODERN_ECHO, 400, -32600)
            .await;

        // A 2025-11-25 session: batches were removed in 2025-06-18.
        let sid = env.http.initialize("2025-11-25").await;
        let a = env
            .http
            .post_raw(batch.clone(), &[("mcp-session-id", &sid)])
            .await;
        assert_refusal(&a, "batch in a 2025-11-25 session", 400, -32600);
        env.good_legacy(&env.http, &sid, "batch in a 2025-11-25 session")
            .await;
        let refused = env
            .audit_record("batch refusal", |r| r["reason"] == "batch_not_supported")
            .await;
        assert_eq!(refused["verdict"], "deny");

        // A 2025-03-26 session: the batch is answered with one array, in order.
        let old = env.http.initialize("2025-03-26").await;
        let a = env.http.post_raw(batch, &[("mcp-session-id", &old)]).await;
        assert_eq!(a.status, 200, "batch in a 2025-03-26 session: {}", a.body);
        let answers = a.json();
        let answers = answers.as_array().expect("a batch answer is an array");
        assert_eq!(answers.len(), 2, "{}", a.body);
        assert_eq!(answers[0]["id"], 1);
        assert_eq!(answers[0]["result"], json!({}));
        assert_eq!(answers[1]["id"], 2);
        assert_eq!(text_of(&answers[1]), "in a batch");
        // An empty batch is an invalid request; a malformed one a parse error.
        let a = env.http.post_raw("[]", &[("mcp-session-id", &old)]).await;
        assert_refusal(&a, "empty batch", 400, -32600);
        let a = env
            .http
            .post_raw("[{\"jsonrpc\":\"2.0\",", &[("mcp-session-id", &old)])
            .await;
        assert_refusal(&a, "truncated batch", 400, -32700);
        // A bad element is answered in place; the good one still is.
        let mixed = format!(
            "[{},{}]",
            r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#,
            echo(3, "after a bad element")
        );
        let a = env.http.post_raw(mixed, &[("mcp-session-id", &old)]).await;
        assert_eq!(a.status, 200, "batch with a bad element: {}", a.body);
        let answers = a.json();
        assert_eq!(answers[0]["error"]["code"], -32600, "{}", a.body);
        assert_eq!(answers[1]["id"], 3, "{}", a.body);
        assert_eq!(text_of(&answers[1]), "after a bad element");
        env.good_legacy(&env.http, &old, "batches in a 2025-03-26 session")
            .await;
        env.good("batches").await;
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_unknown_methods() {
    bounded(async {
        let env = Env::start("").await;
        let sid = env.http.initialize("2025-11-25").await;

        // Legacy: 200 with -32601, answered by the gateway.
        let a = env.http.legacy(&sid, 11, "vendor/y", json!({})).await;
        assert_refusal(&a, "unknown method in a session", 200, -32601);
        assert_eq!(a.json()["id"], 11);
        let r = env
            .audit_record("vendor/y", |r| r["method"] == "vendor/y")
            .await;
        assert_eq!(r["verdict"], "deny");
        assert_eq!(r["reason"], "method_not_found");
        assert_eq!(r["code"], -32601);
        env.good_legacy(&env.http, &sid, "an unknown method").await;
        // A modern-only method in a legacy session is unknown there too.
        let a = env
            .http
            .legacy(&sid, 12, "server/discover", json!({}))
            .await;
        assert_refusal(&a, "server/discover in a legacy session", 200, -32601);

        // Modern: 404 with -32601.
        let body = modern_body(13, "vendor/y", json!({}));
        let a = env
            .http
            .post(
                &body,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "vendor/y"),
                ],
            )
            .await;
        assert_refusal(&a, "unknown method, modern", 404, -32601);
        assert_eq!(a.json()["id"], 13);
        env.good("an unknown modern method").await;
        // A legacy-only method on a modern request is unknown too.
        let body = modern_body(14, "ping", json!({}));
        let a = env
            .http
            .post(
                &body,
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "ping"),
                ],
            )
            .await;
        assert_refusal(&a, "ping, modern", 404, -32601);

        // An allowed extension method is forwarded: the demo server answers -32601 itself.
        let a = env.http.legacy(&sid, 15, "vendor/x", json!({})).await;
        assert_refusal(&a, "allowed extension method", 200, -32601);
        assert_eq!(a.json()["id"], 15);
        let r = env
            .audit_record("vendor/x", |r| r["method"] == "vendor/x")
            .await;
        assert_eq!(r["verdict"], "allow", "{r}");
        assert_eq!(r["code"], -32601, "{r}");
        env.good_legacy(&env.http, &sid, "an allowed extension method")
            .await;

        // What reaches the upstream, seen from its side.
        let bad = env.bad.initialize("2025-11-25").await;
        let a = env.bad.legacy(&bad, 21, "vendor/y", json!({})).await;
        assert_refusal(&a, "unknown method to the fixture", 200, -32601);
        let a = env.bad.legacy(&bad, 22, "vendor/x", json!({})).await;
        assert_refusal(&a, "allowed method to the fixture", 200, -32601);
        assert!(
            a.json()["error"]["message"]
                .as_str()
                .unwrap()
                .contains("vendor/x")
        );
        env.good_legacy(&env.bad, &bad, "unknown methods").await;
        let methods: Vec<String> = env
            .upstream_lines()
            .iter()
            .filter_map(|l| l["method"].as_str().map(str::to_owned))
            .collect();
        assert!(
            methods.iter().any(|m| m == "vendor/x"),
            "vendor/x not forwarded: {methods:?}"
        );
        assert!(
            !methods.iter().any(|m| m == "vendor/y"),
            "vendor/y was forwarded: {methods:?}"
        );
        env.good("unknown methods").await;
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_modern_header_checks() {
    bounded(async {
        let env = Env::start("").await;
        let call = modern_body(31, "tools/call", echo_params("headers")).to_string();
        let v = ("mcp-protocol-version", "2026-07-28");
        let m = ("mcp-method", "tools/call");
        let n = ("mcp-name", "echo");

        // `_meta` without clientCapabilities, or no `_meta` at all, under the modern header.
        let mut no_caps = modern_body(32, "tools/call", echo_params("x"));
        no_caps["params"]["_meta"]
            .as_object_mut()
            .unwrap()
            .remove("io.modelcontextprotocol/clientCapabilities");
        let a = env
            .refused(
                "no clientCapabilities",
                no_caps.to_string(),
                &MODERN_ECHO,
                400,
                -32602,
            )
            .await;
        assert_eq!(a.json()["id"], 32);
        let no_meta =
            json!({"jsonrpc":"2.0","id":33,"method":"tools/call","params":echo_params("x")});
        env.refused("no _meta", no_meta.to_string(), &MODERN_ECHO, 400, -32602)
            .await;
        let mut caps_not_object = modern_body(34, "tools/call", echo_params("x"));
        caps_not_object["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"] =
            json!("all");
        env.refused(
            "clientCapabilities a string",
            caps_not_object.to_string(),
            &MODERN_ECHO,
            400,
            -32602,
        )
        .await;

        // An unsupported `_meta` version.
        for version in ["2099-01-01", "2025-11-25", "latest"] {
            let mut body = modern_body(35, "tools/call", echo_params("x"));
            body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!(version);
            let a = env
                .refused(
                    &format!("_meta version {version}"),
                    body.to_string(),
                    &[("mcp-protocol-version", version), m, n],
                    400,
                    -32022,
                )
                .await;
            let data = &a.json()["error"]["data"];
            assert_eq!(data["requested"], version, "{}", a.body);
            let supported: Vec<&str> = data["supported"]
                .as_array()
                .unwrap_or_else(|| panic!("no data.supported: {}", a.body))
                .iter()
                .filter_map(Value::as_str)
                .collect();
            assert!(supported.contains(&"2026-07-28"), "{}", a.body);
        }

        // Header disagreements: 400 with -32020.
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("no MCP-Protocol-Version", vec![m, n]),
            (
                "MCP-Protocol-Version differs",
                vec![("mcp-protocol-version", "2025-11-25"), m, n],
            ),
            (
                "MCP-Protocol-Version unknown",
                vec![("mcp-protocol-version", "2099-01-01"), m, n],
            ),
            ("no Mcp-Method", vec![v, n]),
            (
                "Mcp-Method differs",
                vec![v, ("mcp-method", "tools/list"), n],
            ),
            (
                "Mcp-Method in another case",
                vec![v, ("mcp-method", "TOOLS/CALL"), n],
            ),
            ("no Mcp-Name", vec![v, m]),
            ("Mcp-Name differs", vec![v, m, ("mcp-name", "add")]),
            ("Mcp-Name in another case", vec![v, m, ("mcp-name", "ECHO")]),
            (
                "Mcp-Name base64 of another name",
                vec![v, m, ("mcp-name", "=?base64?YWRk?=")],
            ),
            (
                "Mcp-Name invalid base64",
                vec![v, m, ("mcp-name", "=?base64?!!!?=")],
            ),
        ];
        for (what, headers) in &cases {
            let a = env.refused(what, call.clone(), headers, 400, -32020).await;
            assert_eq!(a.json()["id"], 31, "{what}: {}", a.body);
        }
        let r = env
            .audit_record("header mismatch", |r| r["reason"] == "header_mismatch")
            .await;
        assert_eq!(r["verdict"], "deny");

        // Accepted forms of Mcp-Name: surrounding white space, and base64.
        for name in ["  echo  ", "\techo", "=?base64?ZWNobw==?="] {
            let a = env
                .http
                .post_raw(call.clone(), &[v, m, ("mcp-name", name)])
                .await;
            assert_eq!(a.status, 200, "Mcp-Name {name:?}: {}", a.body);
            assert_eq!(
                text_of(&a.json()),
                "headers",
                "Mcp-Name {name:?}: {}",
                a.body
            );
        }
        // resources/read compares Mcp-Name with the uri.
        let read = modern_body(36, "resources/read", json!({"uri": "demo://readme"})).to_string();
        let rv = ("mcp-method", "resources/read");
        let a = env
            .refused(
                "Mcp-Name is not the uri",
                read.clone(),
                &[v, rv, ("mcp-name", "demo://other")],
                400,
                -32020,
            )
            .await;
        assert_eq!(a.json()["id"], 36);
        let a = env
            .http
            .post_raw(read, &[v, rv, ("mcp-name", "demo://readme")])
            .await;
        assert_eq!(a.status, 200, "resources/read: {}", a.body);
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_legacy_sessions() {
    bounded(async {
        let env = Env::start("").await;
        let list = json!({"jsonrpc": "2.0", "id": 41, "method": "tools/list"}).to_string();

        // No session and no initialize.
        let a = env
            .refused("no session, no initialize", list.clone(), &[], 400, -32600)
            .await;
        assert_eq!(a.json()["id"], 41);
        let a = env
            .refused(
                "no session, legacy version header",
                list.clone(),
                &[("mcp-protocol-version", "2025-11-25")],
                400,
                -32600,
            )
            .await;
        assert_eq!(a.json()["id"], 41);
        // Unknown session ids.
        for sid in ["0123456789abcdef0123456789abcdef", "nope", ""] {
            let a = env
                .http
                .post_raw(list.clone(), &[("mcp-session-id", sid)])
                .await;
            assert_refusal(&a, &format!("unknown session {sid:?}"), 404, -32600);
            env.good("an unknown session").await;
        }
        // GET and DELETE need a session.
        let a = env
            .http
            .send(Method::GET, &[("accept", "text/event-stream")])
            .await;
        assert_eq!(a.status, 405, "GET without a session: {}", a.body);
        let a = env.http.send(Method::DELETE, &[]).await;
        assert_eq!(a.status, 405, "DELETE without a session: {}", a.body);
        let a = env
            .http
            .send(
                Method::GET,
                &[("accept", "text/event-stream"), ("mcp-session-id", "nope")],
            )
            .await;
        assert_eq!(a.status, 404, "GET with an unknown session: {}", a.body);
        let a = env.http.send(Method::PUT, &[]).await;
        assert_eq!(a.status, 405, "PUT: {}", a.body);
        env.good("GET, DELETE and PUT without a session").await;

        // A version header that is not the session's.
        let sid = env.http.initialize("2025-11-25").await;
        for version in ["2025-06-18", "2026-07-28", "bogus"] {
            let a = env
                .http
                .post_raw(
                    list.clone(),
                    &[("mcp-session-id", &sid), ("mcp-protocol-version", version)],
                )
                .await;
            assert_refusal(&a, &format!("version header {version}"), 400, -32600);
        }
        let own = echo_request(43, "own");
        let a = env
            .http
            .post(
                &own,
                &[
                    ("mcp-session-id", &sid),
                    ("mcp-protocol-version", "2025-11-25"),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "the session's own version: {}", a.body);
        assert_eq!(text_of(&a.json()), "own", "{}", a.body);
        // A second initialize in the session.
        let a = env
            .http
            .legacy(&sid, 42, "initialize", initialize_params("2025-11-25"))
            .await;
        assert_refusal(&a, "initialize twice", 400, -32600);
        env.good_legacy(&env.http, &sid, "a second initialize")
            .await;

        // DELETE ends the session: afterwards every use of it is 404.
        let a = env
            .http
            .send(Method::DELETE, &[("mcp-session-id", &sid)])
            .await;
        assert_eq!(a.status, 200, "DELETE: {}", a.body);
        let a = env
            .http
            .post_raw(list.clone(), &[("mcp-session-id", &sid)])
            .await;
        assert_refusal(&a, "POST after DELETE", 404, -32600);
        let a = env
            .http
            .send(Method::DELETE, &[("mcp-session-id", &sid)])
            .await;
        assert_eq!(a.status, 404, "DELETE twice: {}", a.body);
        let a = env
            .http
            .send(
                Method::GET,
                &[("accept", "text/event-stream"), ("mcp-session-id", &sid)],
            )
            .await;
        assert_eq!(a.status, 404, "GET after DELETE: {}", a.body);
        env.good("a deleted session").await;

        // A client response to a request never sent to it: refused (400), not forwarded.
        let bad = env.bad.initialize("2025-11-25").await;
        for (id, body) in [
            (
                777,
                json!({"jsonrpc": "2.0", "id": 777, "result": {"roots": []}}),
            ),
            (
                778,
                json!({"jsonrpc": "2.0", "id": 778, "error": {"code": -1, "message": "no"}}),
            ),
            (779, json!({"jsonrpc": "2.0", "id": "779", "result": {}})),
        ] {
            let a = env.bad.post(&body, &[("mcp-session-id", &bad)]).await;
            assert_refusal(&a, &format!("unsolicited response {id}"), 400, -32600);
            env.good_legacy(&env.bad, &bad, "an unsolicited client response")
                .await;
        }
        let r = env
            .audit_record("unsolicited response", |r| {
                r["kind"] == "result" && r["upstream"] == "bad"
            })
            .await;
        assert_eq!(r["verdict"], "deny", "{r}");
        let forwarded: Vec<Value> = env
            .upstream_lines()
            .into_iter()
            .filter(|l| l.get("method").is_none())
            .collect();
        assert!(
            forwarded.is_empty(),
            "responses reached the upstream: {forwarded:?}"
        );

        // A new session still works after all that.
        let fresh = env.http.initialize("2025-11-25").await;
        env.good_legacy(&env.http, &fresh, "session errors").await;
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn http_host_and_origin() {
    bounded(async {
        let env = Env::start("").await;
        let call = modern_body(51, "tools/call", echo_params("origin ok")).to_string();
        let with = |extra: (&'static str, &'static str)| {
            let mut h = MODERN_ECHO.to_vec();
            h.push(extra);
            h
        };
        for origin in [
            "http://evil.example",
            "null",
            "http://localhost.evil.example",
            "file://localhost",
        ] {
            let what = format!("Origin {origin}");
            env.refused(&what, call.clone(), &with(("origin", origin)), 403, -32600)
                .await;
        }
        for host in ["evil.example", "evil.example:80", "localhost.evil.example"] {
            let what = format!("Host {host}");
            env.refused(&what, call.clone(), &with(("host", host)), 421, -32600)
                .await;
        }
        // GET and DELETE are checked too, before anything else.
        let a = env
            .http
            .send(Method::GET, &[("origin", "http://evil.example")])
            .await;
        assert_eq!(a.status, 403, "GET with a bad Origin: {}", a.body);
        let a = env
            .http
            .send(Method::DELETE, &[("host", "evil.example")])
            .await;
        assert_eq!(a.status, 421, "DELETE with a bad Host: {}", a.body);
        // Loopback origins and allowed hosts pass.
        for extra in [
            ("origin", "http://localhost:1234"),
            ("origin", "http://127.0.0.1:9"),
            ("origin", "https://[::1]:8443"),
            ("host", "localhost:1"),
        ] {
            let a = env.http.post_raw(call.clone(), &with(extra)).await;
            assert_eq!(a.status, 200, "{extra:?}: {}", a.body);
            assert_eq!(text_of(&a.json()), "origin ok", "{extra:?}: {}", a.body);
        }
        // A client that accepts neither JSON nor SSE (`Http` always sends both).
        let resp = reqwest::Client::new()
            .post(&env.http.url)
            .header("content-type", "application/json")
            .header("accept", "text/html")
            .body(call.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 406, "Accept: text/html");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], -32600, "Accept: text/html: {body}");
        env.good("Host, Origin and Accept checks").await;
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn upstream_stray_responses_are_dropped() {
    bounded(async {
        let env = Env::start("").await;
        // Legacy session on the fixture: it answers `stray` after two forged responses and a
        // line of garbage, then answers it a second time.
        let sid = env.bad.initialize("2025-11-25").await;
        let a = env
            .bad
            .legacy(
                &sid,
                61,
                "tools/call",
                json!({"name": "stray", "arguments": {}}),
            )
            .await;
        assert_eq!(a.status, 200, "stray: {}", a.body);
        assert_eq!(a.json()["id"], 61, "{}", a.body);
        assert_eq!(text_of(&a.json()), "stray done", "{}", a.body);
        env.stderr_contains("matches no outstanding request").await;
        env.stderr_contains("dropped a malformed message from the upstream")
            .await;
        // The duplicate answer must not be taken for the next request's answer.
        env.good_legacy(&env.bad, &sid, "stray responses").await;
        let count = env
            .gw
            .stderr()
            .matches("matches no outstanding request")
            .count();
        assert!(
            count >= 3,
            "expected the forged, string-id and duplicate answers logged, got {count}"
        );

        // The same through a modern request on the fixture's shared link.
        let a = env
            .bad
            .post(
                &modern_body(62, "tools/call", json!({"name": "stray", "arguments": {}})),
                &[
                    ("mcp-protocol-version", "2026-07-28"),
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "stray"),
                ],
            )
            .await;
        assert_eq!(a.status, 200, "modern stray: {}", a.body);
        assert_eq!(a.json()["id"], 62, "{}", a.body);
        assert_eq!(text_of(&a.json()), "stray done", "{}", a.body);
        let a = env
            .bad
            .post(
                &modern_body(63, "tools/call", echo_params("after")),
                &MODERN_ECHO,
            )
            .await;
        assert_eq!(a.status, 200, "modern echo after stray: {}", a.body);
        assert_eq!(a.json()["id"], 63);
        assert_eq!(text_of(&a.json()), "after");
        env.good("stray upstream responses").await;
        env.finish().await;
    })
    .await;
}

#[tokio::test]
async fn request_timeout_cancels_upstream() {
    bounded(async {
        let env = Env::start("request_timeout = \"1s\"").await;
        env.good("start").await;
        let sid = env.bad.initialize("2025-11-25").await;

        let slow = async {
            let started = Instant::now();
            let a = env
                .http
                .modern(
                    71,
                    "tools/call",
                    json!({"name": "slow", "arguments": {"ms": 5000}}),
                )
                .await;
            (a, started.elapsed())
        };
        let hang = async {
            let started = Instant::now();
            let a = env
                .bad
                .legacy(
                    &sid,
                    72,
                    "tools/call",
                    json!({"name": "hang", "arguments": {}}),
                )
                .await;
            (a, started.elapsed())
        };
        let ((a, slow_took), (b, hang_took)) = tokio::join!(slow, hang);
        for (what, a, took) in [("slow", &a, slow_took), ("hang", &b, hang_took)] {
            assert_refusal(a, what, 200, -31002);
            assert!(
                took >= Duration::from_millis(900) && took < Duration::from_millis(2500),
                "{what}: timed out after {took:?}"
            );
        }
        assert_eq!(a.json()["id"], 71);
        assert_eq!(b.json()["id"], 72);
        let r = env
            .audit_record("timeout", |r| {
                r["reason"] == "upstream_timeout" && r["upstream"] == "bad"
            })
            .await;
        assert_eq!(r["verdict"], "error");
        assert_eq!(r["code"], -31002);

        // The fixture was told: `notifications/cancelled` for the id it was sent.
        let deadline = Instant::now() + STEP;
        loop {
            let lines = env.upstream_lines();
            let sent = lines
                .iter()
                .find(|l| l["method"] == "tools/call" && l["params"]["name"] == "hang")
                .unwrap_or_else(|| panic!("hang never reached the upstream: {lines:?}"));
            let cancelled = lines.iter().find(|l| {
                l["method"] == "notifications/cancelled" && l["params"]["requestId"] == sent["id"]
            });
            if let Some(c) = cancelled {
                assert!(
                    c.get("id").is_none(),
                    "a cancellation is a notification: {c}"
                );
                break;
            }
            assert!(
                Instant::now() < deadline,
                "no notifications/cancelled upstream: {lines:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        env.good_legacy(&env.bad, &sid, "a timeout").await;
        env.good("a timeout").await;
        env.finish().await;
    })
    .await;
}

/// Just over the gateway's 16 MiB limit for upstream messages.
const OVER_UPSTREAM_LIMIT: u64 = 16 * 1024 * 1024 + 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_oversized_line_is_dropped() {
    bounded(async {
        let env = Env::start("request_timeout = \"2s\"").await;
        let sid = env.bad.initialize("2025-11-25").await;
        // Upstream messages may be larger than the client-side limit (2048 here): up to 16 MiB.
        let a = env
            .bad
            .legacy(
                &sid,
                80,
                "tools/call",
                json!({"name": "huge_answer", "arguments": {"bytes": 5000}}),
            )
            .await;
        assert_eq!(a.status, 200, "huge answer under 16 MiB: {}", a.body);
        assert_eq!(text_of(&a.json()).len(), 5000, "huge answer under 16 MiB");
        // The fixture writes a line over 16 MiB before its answer; the line is dropped, the
        // link stays up and the answer arrives.
        let a = env
            .bad
            .legacy(
                &sid,
                81,
                "tools/call",
                json!({"name": "huge", "arguments": {"bytes": OVER_UPSTREAM_LIMIT}}),
            )
            .await;
        assert_eq!(a.status, 200, "huge: {}", a.body);
        assert_eq!(text_of(&a.json()), "huge done", "{}", a.body);
        env.stderr_contains("over the size limit").await;
        env.good_legacy(&env.bad, &sid, "an oversized upstream line")
            .await;
        // An answer over the limit is dropped too: the request times out, the link survives.
        let a = env
            .bad
            .legacy(
                &sid,
                82,
                "tools/call",
                json!({"name": "huge_answer", "arguments": {"bytes": OVER_UPSTREAM_LIMIT}}),
            )
            .await;
        assert_refusal(&a, "huge answer", 200, -31002);
        env.good_legacy(&env.bad, &sid, "an oversized upstream answer")
            .await;
        // The demo's tools/list is over the client-side 2048 bytes, and gets through.
        let demo = env.http.initialize("2025-11-25").await;
        let a = env.http.legacy(&demo, 83, "tools/list", json!({})).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert!(a.body.len() > 2048, "{}", a.body);
        assert!(a.json()["result"]["tools"].is_array(), "{}", a.body);
        env.good_legacy(&env.http, &demo, "an oversized tools/list")
            .await;
        env.finish().await;
    })
    .await;
}

/// The stdio front: `mcpgate stdio --config F` with the same limits.
struct StdioEnv {
    _dir: tempfile::TempDir,
    config: PathBuf,
    stderr_log: PathBuf,
    audit: PathBuf,
}

impl StdioEnv {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let notes = dir.path().join("notes");
        let audit = dir.path().join("audit.jsonl");
        let config = dir.path().join("mcpgate.toml");
        let text = format!(
            "[server]\nmax_body_bytes = {MAX_BYTES}\nmax_depth = 8\n\n\
             [audit]\nsink = \"file\"\npath = {}\n\n{}",
            toml_str(&audit.display().to_string()),
            demo_upstream_toml("demo", &notes, "")
        );
        std::fs::write(&config, text).unwrap();
        Self {
            stderr_log: dir.path().join("stderr.log"),
            _dir: dir,
            config,
            audit,
        }
    }

    fn spawn(&self) -> StdioProcess {
        StdioProcess::spawn(
            Path::new(BIN),
            &["stdio", "--config", &self.config.display().to_string()],
            &self.stderr_log,
        )
        .unwrap()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_log).unwrap_or_default()
    }
}

/// Sends `line` and expects an error with `code` (and `id`) as the next message.
async fn stdio_refused(p: &mut StdioProcess, what: &str, line: &str, code: i64, id: &Value) {
    p.send_line(line).await.unwrap();
    let m = p
        .recv(STEP)
        .await
        .unwrap_or_else(|e| panic!("{what}: no answer: {e:#}"));
    assert_eq!(m["error"]["code"], code, "{what}: {m}");
    assert_eq!(&m["id"], id, "{what}: {m}");
    stdio_good(p, what).await;
}

/// An `echo` call over stdio that must succeed, with nothing else arriving before it.
async fn stdio_good(p: &mut StdioProcess, after: &str) {
    static NEXT: AtomicU64 = AtomicU64::new(5000);
    let id = NEXT.fetch_add(1, Ordering::Relaxed);
    let message = format!("stdio still answering after {after}");
    p.send(&echo_request(id, &message)).await.unwrap();
    let (m, others) = p
        .recv_id(&json!(id), STEP)
        .await
        .unwrap_or_else(|e| panic!("good request after {after}: {e:#}"));
    assert_eq!(text_of(&m), message, "good request after {after}: {m}");
    assert!(
        others.is_empty(),
        "unexpected messages after {after}: {others:?}"
    );
}

async fn stdio_initialize(p: &mut StdioProcess, version: &str) {
    let params = initialize_params(version);
    p.send(&json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params}))
        .await
        .unwrap();
    let (m, _) = p.recv_id(&json!(0), STEP).await.unwrap();
    assert_eq!(m["result"]["protocolVersion"], version, "{m}");
    p.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn stdio_bad_lines() {
    bounded(async {
        let env = StdioEnv::new();
        let mut p = env.spawn();
        let null = Value::Null;

        // Before initialize, a request without the modern `_meta` is refused.
        p.send_line(r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).await.unwrap();
        let m = p.recv(STEP).await.unwrap();
        assert_eq!(m["error"]["code"], -32600, "{m}");
        assert_eq!(m["id"], 1, "{m}");
        // Modern requests need no initialize, but a supported `_meta` version and capabilities.
        let modern_echo = modern_body(2, "tools/call", echo_params("modern over stdio"));
        p.send(&modern_echo).await.unwrap();
        let (m, _) = p.recv_id(&json!(2), STEP).await.unwrap();
        assert_eq!(text_of(&m), "modern over stdio", "{m}");
        let mut body = modern_echo.clone();
        body["id"] = json!(3);
        body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2099-01-01");
        p.send(&body).await.unwrap();
        let m = p.recv(STEP).await.unwrap();
        assert_eq!(m["id"], 3, "{m}");
        assert_eq!(m["error"]["code"], -32022, "{m}");
        assert_eq!(m["error"]["data"]["requested"], "2099-01-01", "{m}");
        assert_eq!(m["error"]["data"]["supported"], json!(["2026-07-28"]), "{m}");
        let mut body = modern_echo.clone();
        body["id"] = json!(4);
        body["params"]["_meta"]
            .as_object_mut()
            .unwrap()
            .remove("io.modelcontextprotocol/clientCapabilities");
        p.send(&body).await.unwrap();
        let m = p.recv(STEP).await.unwrap();
        assert_eq!(m["id"], 4, "{m}");
        assert_eq!(m["error"]["code"], -32602, "{m}");
        p.send(&modern_echo).await.unwrap();
        let (m, others) = p.recv_id(&json!(2), STEP).await.unwrap();
        assert_eq!(text_of(&m), "modern over stdio", "{m}");
        assert!(others.is_empty(), "{others:?}");

        stdio_initialize(&mut p, "2025-11-25").await;
        stdio_good(&mut p, "initialize").await;

        // Size: a line of exactly the limit passes, longer ones are refused.
        let probe = echo_request(2, "").to_string();
        let pad = "x".repeat(MAX_BYTES - probe.len());
        let at_limit = echo_request(2, &pad).to_string();
        assert_eq!(at_limit.len(), MAX_BYTES);
        p.send_line(&at_limit).await.unwrap();
        let (m, _) = p.recv_id(&json!(2), STEP).await.unwrap();
        assert_eq!(text_of(&m), pad);
        let over = echo_request(3, &format!("{pad}x")).to_string();
        stdio_refused(&mut p, "line one byte over", &over, -32600, &null).await;
        let far = format!(r#"{{"jsonrpc":"2.0","id":4,"method":"ping","params":{{"x":"{}"}}}}"#, "y".repeat(50_000));
        stdio_refused(&mut p, "line far over", &far, -32600, &null).await;

        // Depth.
        let deep = format!(r#"{{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{{"name":"echo","arguments":{{"message":"m","x":{}}}}}}}"#, nest(6));
        stdio_refused(&mut p, "nesting over", &deep, -32600, &null).await;

        // Malformed JSON.
        for (what, line) in [
            ("truncated", r#"{"jsonrpc":"2.0","id":6,"method":"tools/list""#),
            ("trailing comma", r#"{"jsonrpc":"2.0","id":6,"method":"tools/list",}"#),
            ("lone surrogate", r#"{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"\ud800"}}"#),
            ("duplicate keys", r#"{"jsonrpc":"2.0","id":6,"id":7,"method":"tools/list"}"#),
            ("garbage", "hello, gateway"),
        ] {
            stdio_refused(&mut p, what, line, -32700, &null).await;
        }

        // Not JSON-RPC 2.0, bad ids, bad method and params.
        for (what, line, id) in [
            ("a number", "42", Value::Null),
            ("a string", r#""tools/list""#, Value::Null),
            ("missing jsonrpc", r#"{"id":8,"method":"tools/list"}"#, json!(8)),
            ("jsonrpc 1.0", r#"{"jsonrpc":"1.0","id":8,"method":"tools/list"}"#, json!(8)),
            ("no method, result or error", r#"{"jsonrpc":"2.0","id":8}"#, json!(8)),
            ("null id", r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#, Value::Null),
            ("float id", r#"{"jsonrpc":"2.0","id":1.5,"method":"tools/list"}"#, Value::Null),
            ("object id", r#"{"jsonrpc":"2.0","id":{},"method":"tools/list"}"#, Value::Null),
            ("bool id", r#"{"jsonrpc":"2.0","id":false,"method":"tools/list"}"#, Value::Null),
            ("method a number", r#"{"jsonrpc":"2.0","id":8,"method":1}"#, json!(8)),
            ("params a number", r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":1}"#, json!(8)),
            ("params a string", r#"{"jsonrpc":"2.0","id":8,"method":"tools/list","params":"x"}"#, json!(8)),
            ("a batch", r#"[{"jsonrpc":"2.0","id":8,"method":"ping"}]"#, Value::Null),
        ] {
            stdio_refused(&mut p, what, line, -32600, &id).await;
        }

        // An unknown method is refused by the gateway.
        stdio_refused(&mut p, "unknown method", r#"{"jsonrpc":"2.0","id":9,"method":"vendor/y"}"#, -32601, &json!(9))
            .await;
        // A response to nothing: no answer at all (the next message is the good one's).
        p.send_line(r#"{"jsonrpc":"2.0","id":777,"result":{}}"#).await.unwrap();
        stdio_good(&mut p, "an unsolicited response").await;
        // Blank lines are ignored.
        p.send_line("").await.unwrap();
        p.send_line("   ").await.unwrap();
        stdio_good(&mut p, "blank lines").await;

        let audit = std::fs::read_to_string(&env.audit).unwrap_or_default();
        let denied: Vec<Value> = audit
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|r| r["verdict"] == "deny")
            .collect();
        for reason in [
            "unsupported_protocol_version",
            "invalid_params",
            "too_large",
            "too_deep",
            "parse_error",
            "invalid_request",
            "batch_not_supported",
            "method_not_found",
        ] {
            assert!(denied.iter().any(|r| r["reason"] == reason), "no {reason} denial: {audit}");
        }
        assert!(matches!(p.child.try_wait(), Ok(None)), "stdio front exited:\n{}", env.stderr());
        assert!(!env.stderr().contains("panicked"), "{}", env.stderr());
        p.close_stdin();
        let status = p.wait(Duration::from_secs(15)).await.unwrap();
        assert!(status.success(), "exit {status}:\n{}", env.stderr());
    })
    .await;
}

#[tokio::test]
async fn stdio_invalid_utf8_line() {
    bounded(async {
        // StdioProcess writes text only, so this child is driven by hand.
        let env = StdioEnv::new();
        let mut child = tokio::process::Command::new(BIN)
            .args(["stdio", "--config", &env.config.display().to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&env.stderr_log).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = async || -> Value {
            let line = timeout(STEP, stdout.next_line())
                .await
                .expect("no answer in time")
                .unwrap()
                .unwrap_or_else(|| panic!("end of output:\n{}", env.stderr()));
            serde_json::from_str(&line).unwrap()
        };
        let params = initialize_params("2025-11-25");
        let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": params});
        let mut input = format!("{init}\n").into_bytes();
        stdin.write_all(&input).await.unwrap();
        assert_eq!(next().await["id"], 0);
        input = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"\xff\xc3\"}}\n".to_vec();
        input.extend_from_slice(b"\xc3\x28 not even json\n");
        input.extend_from_slice(format!("{}\n", echo_request(2, "after bad bytes")).as_bytes());
        stdin.write_all(&input).await.unwrap();
        stdin.flush().await.unwrap();
        for _ in 0..2 {
            let m = next().await;
            assert_eq!(m["error"]["code"], -32700, "{m}");
            assert_eq!(m["id"], Value::Null, "{m}");
        }
        let m = next().await;
        assert_eq!(m["id"], 2, "{m}");
        assert_eq!(text_of(&m), "after bad bytes", "{m}");
        assert!(matches!(child.try_wait(), Ok(None)), "stdio front exited:\n{}", env.stderr());
        drop(stdin);
        let status = timeout(Duration::from_secs(15), child.wait()).await.unwrap().unwrap();
        assert!(status.success(), "exit {status}:\n{}", env.stderr());
    })
    .await;
}

#[tokio::test]
async fn stdio_batches_follow_the_revision() {
    bounded(async {
        let env = StdioEnv::new();
        // A 2025-03-26 session: a batch is answered with one array line, in order.
        let mut p = env.spawn();
        stdio_initialize(&mut p, "2025-03-26").await;
        p.send_line(&format!(
            "[{},{}]",
            echo_request(11, "one"),
            echo_request(12, "two")
        ))
        .await
        .unwrap();
        let answers = loop {
            let m = p.recv(STEP).await.unwrap();
            if m.is_array() {
                break m;
            }
        };
        let answers = answers.as_array().unwrap();
        assert_eq!(answers.len(), 2, "{answers:?}");
        assert_eq!(answers[0]["id"], 11);
        assert_eq!(text_of(&answers[0]), "one");
        assert_eq!(answers[1]["id"], 12);
        assert_eq!(text_of(&answers[1]), "two");
        stdio_good(&mut p, "a batch in a 2025-03-26 session").await;
        p.close_stdin();
        assert!(p.wait(STEP).await.unwrap().success());

        // A 2025-11-25 session: batches were removed, the line is refused.
        let mut p = env.spawn();
        stdio_initialize(&mut p, "2025-11-25").await;
        let batch = format!("[{},{}]", echo_request(13, "x"), echo_request(14, "y"));
        stdio_refused(
            &mut p,
            "batch in a 2025-11-25 session",
            &batch,
            -32600,
            &Value::Null,
        )
        .await;
        p.close_stdin();
        assert!(p.wait(STEP).await.unwrap().success());
        assert!(!env.stderr().contains("panicked"), "{}", env.stderr());
    })
    .await;
}
