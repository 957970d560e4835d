//! Operational behaviour of the real gateway binary: isolation of clients that share one
//! upstream, server-to-client requests, progress, upstream crashes, graceful shutdown under
//! load, draining of the stdio front, session ends and the per-upstream session cap.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpgate_test::{
    GatewayProcess, Http, StdioProcess, alive, demo_upstream_toml, descendants, fixtures,
    modern_meta, toml_str,
};
use serde_json::{Value, json};
use tokio::time::timeout;

/// The legacy revision the tests' sessions speak.
const LEGACY: &str = "2025-11-25";

/// Upper bound for one whole test.
const TEST_LIMIT: Duration = Duration::from_secs(45);

/// Upper bound for one step (a message, an answer).
const STEP: Duration = Duration::from_secs(10);

/// Every test runs through here: the reqwest clients in this process need a rustls provider,
/// and no test may run unbounded.
async fn run(test: impl Future<Output = ()>) {
    fixtures::install_crypto_provider();
    timeout(TEST_LIMIT, test).await.expect("test timed out");
}

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mcpgate"))
}

/// A gateway whose only upstream is the demo server, with `extra` lines in its table and
/// `server` lines under `[server]`.
async fn demo_gateway(server: &str, extra: &str) -> GatewayProcess {
    let dir = tempfile::tempdir().unwrap();
    let notes = dir.path().join("notes");
    let config = format!(
        "[server]\nrequest_timeout = \"20s\"\n{server}\n\n{}",
        demo_upstream_toml("demo", &notes, extra)
    );
    GatewayProcess::start_in(bin(), &config, dir).await.unwrap()
}

/// The absolute path of a Python 3 interpreter (the fixture upstreams use the standard
/// library only; the gateway clears the child's environment, so no shim may be relied on).
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

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn tool_call(id: u64, name: &str, arguments: Value) -> Value {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":name,"arguments":arguments}})
}

/// The text of a `tools/call` result's first content block.
fn text_of(msg: &Value) -> String {
    msg["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text content in {msg}"))
        .to_owned()
}

/// Starts a legacy session that declares the roots capability; returns its id.
async fn initialize_with_roots(http: &Http) -> String {
    let a = http
        .post(
            &json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                "protocolVersion": LEGACY,
                "capabilities": {"roots": {"listChanged": false}},
                "clientInfo": {"name": "ops-test", "version": "0"}}}),
            &[],
        )
        .await;
    assert_eq!(a.status, 200, "initialize: {}", a.body);
    let sid = a.header("mcp-session-id").expect("no session id");
    let n = http
        .post(
            &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            &[("mcp-session-id", &sid)],
        )
        .await;
    assert_eq!(n.status, 202, "initialized: {}", n.body);
    sid
}

/// A POST whose answer is read as it arrives: JSON once, or SSE event by event.
struct Streamed {
    resp: reqwest::Response,
    status: u16,
    sse: bool,
    buf: String,
    done: bool,
}

impl Streamed {
    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
    }

    async fn post(url: &str, body: &Value, headers: &[(&str, &str)]) -> Self {
        let mut req = Self::client()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body.to_string());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::open(req).await
    }

    /// A legacy session's GET stream.
    async fn get(url: &str, sid: &str) -> Self {
        let req = Self::client()
            .get(url)
            .header("accept", "text/event-stream")
            .header("mcp-session-id", sid);
        let s = Self::open(req).await;
        assert_eq!(s.status, 200);
        assert!(s.sse);
        s
    }

    async fn open(req: reqwest::RequestBuilder) -> Self {
        let resp = timeout(STEP, req.send())
            .await
            .expect("no answer headers in time")
            .expect("request failed");
        let status = resp.status().as_u16();
        let sse = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        Self {
            resp,
            status,
            sse,
            buf: String::new(),
            done: false,
        }
    }

    /// The next message, or `None` at the end of the answer.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if self.sse {
                let text = self.buf.replace("\r\n", "\n");
                if let Some(end) = text.find("\n\n") {
                    let event = text[..end].to_owned();
                    self.buf = text[end + 2..].to_owned();
                    let data: Vec<&str> = event
                        .lines()
                        .filter_map(|l| l.strip_prefix("data:"))
                        .map(|d| d.strip_prefix(' ').unwrap_or(d))
                        .collect();
                    if data.is_empty() {
                        continue;
                    }
                    return Some(serde_json::from_str(&data.join("\n")).unwrap());
                }
            }
            if self.done {
                if !self.sse && !self.buf.trim().is_empty() {
                    let body = std::mem::take(&mut self.buf);
                    return Some(serde_json::from_str(&body).unwrap());
                }
                return None;
            }
            match timeout(STEP, self.resp.chunk())
                .await
                .expect("answer stalled")
            {
                Ok(Some(bytes)) => self.buf.push_str(&String::from_utf8_lossy(&bytes)),
                Ok(None) | Err(_) => self.done = true,
            }
        }
    }

    /// Reads to the end: every message, in order.
    async fn all(mut self) -> Vec<Value> {
        let mut out = Vec::new();
        while let Some(m) = self.next().await {
            out.push(m);
        }
        out
    }
}

/// Waits until `pid` is gone.
async fn gone_within(pid: u32, limit: Duration) -> bool {
    let until = Instant::now() + limit;
    while Instant::now() < until {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !alive(pid)
}

/// Stops the gateway with SIGTERM: it must exit 0 and leave no child behind.
async fn stop_cleanly(gw: &mut GatewayProcess) {
    let children = descendants(gw.pid());
    let status = gw.stop().await.unwrap();
    assert!(status.success(), "exit status {status}: {}", gw.stderr());
    for child in children {
        assert!(
            gone_within(child, Duration::from_secs(2)).await,
            "child {child} outlived the gateway"
        );
    }
}

/// Writes a configuration for the stdio front and starts `mcpgate stdio` on it.
fn stdio_front(dir: &Path, extra: &str) -> StdioProcess {
    let cfg = dir.join("stdio.toml");
    let text = format!(
        "[server]\nrequest_timeout = \"20s\"\nshutdown_grace = \"5s\"\n\n[audit]\nsink = \"file\"\npath = {}\n\n{}",
        toml_str(&dir.join("audit.jsonl").display().to_string()),
        demo_upstream_toml("demo", &dir.join("notes"), extra)
    );
    std::fs::write(&cfg, text).unwrap();
    StdioProcess::spawn(
        bin(),
        &["stdio", "--config", cfg.to_str().unwrap()],
        &dir.join("stderr.log"),
    )
    .unwrap()
}

/// `initialize` + `notifications/initialized` on the stdio front.
async fn stdio_initialize(p: &mut StdioProcess, capabilities: Value) {
    p.send(
        &json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion": LEGACY, "capabilities": capabilities,
        "clientInfo": {"name": "ops-test", "version": "0"}}}),
    )
    .await
    .unwrap();
    let (init, _) = p.recv_id(&json!(1), STEP).await.unwrap();
    assert!(init["result"]["protocolVersion"].is_string(), "{init}");
    p.send(&json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
        .await
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// 1. Isolation on a shared upstream.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_upstream_keeps_same_ids_of_different_clients_apart() {
    run(async {
        let mut gw = demo_gateway("", "sharing = \"shared\"").await;
        let http = Http::new(&gw.url());
        let a = http.initialize(LEGACY).await;
        let b = http.initialize(LEGACY).await;
        assert_ne!(a, b);
        let mut calls = Vec::new();
        for i in 1..=20_u64 {
            for (who, sid) in [("A", a.clone()), ("B", b.clone())] {
                let http = http.clone();
                calls.push(tokio::spawn(async move {
                    let msg = format!("{who}-{i}");
                    let ans = http
                        .legacy(
                            &sid,
                            i,
                            "tools/call",
                            json!({"name":"echo","arguments":{"message":msg}}),
                        )
                        .await;
                    (who.to_owned(), i, ans.status, ans.json())
                }));
            }
            // A modern, stateless client on the same shared link, with the same ids.
            let http = http.clone();
            calls.push(tokio::spawn(async move {
                let msg = format!("M-{i}");
                let ans = http
                    .modern(
                        i,
                        "tools/call",
                        json!({"name":"echo","arguments":{"message":msg}}),
                    )
                    .await;
                ("M".to_owned(), i, ans.status, ans.json())
            }));
        }
        assert!(
            descendants(gw.pid()).len() == 1,
            "one shared child expected"
        );
        for call in calls {
            let (who, i, status, body) = call.await.unwrap();
            assert_eq!(status, 200, "{who}-{i}: {body}");
            assert_eq!(body["id"], json!(i), "{who}-{i}: {body}");
            assert_eq!(
                text_of(&body),
                format!("{who}-{i}"),
                "{who} got another client's answer"
            );
        }
        // Still one child: every client used the one shared link.
        assert_eq!(descendants(gw.pid()).len(), 1);
        stop_cleanly(&mut gw).await;
    })
    .await;
}

/// A gateway whose only upstream is the roots fixture, shared, legacy.
async fn roots_gateway(args: &[&str]) -> GatewayProcess {
    let mut all = vec![toml_str(
        &fixture("ops_roots_server.py").display().to_string(),
    )];
    all.extend(args.iter().map(|a| toml_str(a)));
    let config = format!(
        "[server]\nrequest_timeout = \"20s\"\n\n[upstreams.roots]\ntransport = \"stdio\"\ncommand = {}\nargs = [{}]\nsharing = \"shared\"\nera = \"legacy\"\n",
        toml_str(&python()),
        all.join(", ")
    );
    GatewayProcess::start(bin(), &config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_upstream_server_request_is_answerable_only_by_its_client() {
    run(async {
        let mut gw = roots_gateway(&[]).await;
        let http = Http::new(&gw.url());
        let a = initialize_with_roots(&http).await;
        let b = initialize_with_roots(&http).await;

        // A asks; the upstream's roots/list comes back on A's call stream.
        let mut call = Streamed::post(&gw.url(), &tool_call(1, "ask_roots", json!({})), &[("mcp-session-id", &a)]).await;
        assert_eq!(call.status, 200);
        assert!(call.sse, "the answer must turn into an SSE stream");
        let ask = call.next().await.expect("no roots/list on the stream");
        assert_eq!(ask["method"], "roots/list", "{ask}");
        let ask_id = ask["id"].clone();
        assert!(!ask_id.is_null(), "{ask}");
        assert!(
            !ask_id.to_string().contains("roots-"),
            "the upstream's own id leaked to the client: {ask}"
        );

        // B answers with A's id: dropped.
        let forged = json!({"jsonrpc":"2.0","id":ask_id,"result":{"roots":[{"uri":"file:///b-forged"}]}});
        let r = http.post(&forged, &[("mcp-session-id", &b)]).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.code(), Some(-32600), "{}", r.body);
        // B still works, with an id A also used.
        let echo = http.legacy(&b, 1, "tools/call", json!({"name":"echo","arguments":{"message":"b-ok"}})).await;
        assert_eq!(echo.status, 200);
        assert_eq!(echo.json()["id"], 1);
        assert_eq!(text_of(&echo.json()), "b-ok");
        // A's call is still waiting.
        assert!(
            timeout(Duration::from_millis(300), call.next()).await.is_err(),
            "a's call finished although only b answered"
        );

        // A answers: its call ends with A's roots.
        let answer = json!({"jsonrpc":"2.0","id":ask_id,"result":{"roots":[{"uri":"file:///a-root","name":"a"}]}});
        let r = http.post(&answer, &[("mcp-session-id", &a)]).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let fin = call.next().await.expect("no final answer");
        assert_eq!(fin["id"], 1, "{fin}");
        assert_eq!(text_of(&fin), "file:///a-root");
        assert!(call.next().await.is_none());

        // Answering the same request again is refused too, and A still works.
        let r = http.post(&answer, &[("mcp-session-id", &a)]).await;
        assert_eq!(r.status, 400, "{}", r.body);
        let echo = http.legacy(&a, 2, "tools/call", json!({"name":"echo","arguments":{"message":"a-ok"}})).await;
        assert_eq!(text_of(&echo.json()), "a-ok");
        // Both dropped responses are audited as the client's fault, under the sender's session.
        let denied: Vec<String> = gw
            .audit()
            .iter()
            .filter(|r| r["kind"] == "result" && r["verdict"] == "deny")
            .map(|r| {
                assert_eq!(r["code"], -32600, "{r}");
                assert_eq!(r["side"], "client", "{r}");
                r["session"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(denied, [b, a]);
        stop_cleanly(&mut gw).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_upstream_server_request_goes_to_the_client_whose_call_is_in_flight() {
    run(async {
        // The upstream sends roots/list 600 ms after A's call, and B talks in between.
        let mut gw = roots_gateway(&["--roots-delay-ms", "600"]).await;
        let url = gw.url();
        let http = Http::new(&url);
        let a = initialize_with_roots(&http).await;
        let b = initialize_with_roots(&http).await;
        let mut b_stream = Streamed::get(&url, &b).await;
        let a_call = {
            let (url, a) = (url.clone(), a.clone());
            tokio::spawn(async move {
                Streamed::post(
                    &url,
                    &tool_call(1, "ask_roots", json!({})),
                    &[("mcp-session-id", &a)],
                )
                .await
            })
        };
        tokio::time::sleep(Duration::from_millis(200)).await;
        let echo = http
            .legacy(
                &b,
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"b"}}),
            )
            .await;
        assert_eq!(text_of(&echo.json()), "b");
        // A's call is the only one in flight: the request is A's, on A's call stream.
        let mut call = timeout(STEP, a_call)
            .await
            .unwrap()
            .expect("a's call got no stream: its server request went elsewhere");
        assert!(call.sse);
        let ask = call.next().await.expect("no roots/list on a's stream");
        assert_eq!(ask["method"], "roots/list", "{ask}");
        assert!(
            timeout(Duration::from_millis(300), b_stream.next())
                .await
                .is_err(),
            "b received a's server request"
        );
        // B cannot answer it; A can.
        let forged =
            json!({"jsonrpc":"2.0","id":ask["id"],"result":{"roots":[{"uri":"file:///b-secret"}]}});
        assert_eq!(
            http.post(&forged, &[("mcp-session-id", &b)]).await.status,
            400
        );
        let answer =
            json!({"jsonrpc":"2.0","id":ask["id"],"result":{"roots":[{"uri":"file:///a-root"}]}});
        assert_eq!(
            http.post(&answer, &[("mcp-session-id", &a)]).await.status,
            202
        );
        let fin = call.next().await.expect("no final answer");
        assert_eq!(fin["id"], 1, "{fin}");
        assert_eq!(text_of(&fin), "file:///a-root");
        drop(b_stream);
        stop_cleanly(&mut gw).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 2. Server-to-client requests on a per-session link.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_session_roots_request_over_http() {
    run(async {
        let mut gw = demo_gateway("", "").await;
        let http = Http::new(&gw.url());
        let sid = initialize_with_roots(&http).await;
        let mut call = Streamed::post(&gw.url(), &tool_call(5, "ask_roots", json!({})), &[("mcp-session-id", &sid)]).await;
        assert_eq!(call.status, 200);
        assert!(call.sse, "the answer must turn into an SSE stream");
        let ask = call.next().await.expect("no roots/list");
        assert_eq!(ask["method"], "roots/list", "{ask}");
        let answer = json!({"jsonrpc":"2.0","id":ask["id"],"result":{"roots":[{"uri":"file:///work/project","name":"p"}]}});
        let r = http.post(&answer, &[("mcp-session-id", &sid)]).await;
        assert_eq!(r.status, 202, "{}", r.body);
        let fin = call.next().await.expect("no final answer");
        assert_eq!(fin["id"], 5, "{fin}");
        assert_eq!(fin["result"]["isError"], json!(false), "{fin}");
        assert_eq!(text_of(&fin), "file:///work/project");
        assert!(call.next().await.is_none());
        // The session goes on.
        let echo = http.legacy(&sid, 6, "tools/call", json!({"name":"echo","arguments":{"message":"after"}})).await;
        assert_eq!(text_of(&echo.json()), "after");
        stop_cleanly(&mut gw).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_session_roots_request_over_stdio() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let mut p = stdio_front(dir.path(), "");
        stdio_initialize(&mut p, json!({"roots": {"listChanged": false}})).await;
        p.send(&tool_call(2, "ask_roots", json!({}))).await.unwrap();
        let ask = p.recv(STEP).await.unwrap();
        assert_eq!(ask["method"], "roots/list", "{ask}");
        p.send(&json!({"jsonrpc":"2.0","id":ask["id"],"result":{"roots":[{"uri":"file:///stdio/root"}]}}))
            .await
            .unwrap();
        let (fin, others) = p.recv_id(&json!(2), STEP).await.unwrap();
        assert!(others.is_empty(), "unexpected messages: {others:?}");
        assert_eq!(text_of(&fin), "file:///stdio/root");
        p.close_stdin();
        let status = p.wait(STEP).await.unwrap();
        assert!(status.success(), "{status}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 3. Progress.

/// Checks that `messages` are progress notifications for `token` and then the final answer
/// `id` of `slow {ms}`; returns how many progress notifications came.
fn check_progress(messages: &[Value], token: &str, id: u64, ms: u64) -> usize {
    let (fin, progress) = messages.split_last().expect("no messages");
    assert_eq!(fin["id"], id, "{fin}");
    assert_eq!(text_of(fin), format!("slept {ms} ms"));
    for p in progress {
        assert_eq!(p["method"], "notifications/progress", "{p}");
        assert_eq!(
            p["params"]["progressToken"], token,
            "token not restored: {p}"
        );
        assert_eq!(
            p["params"]["total"],
            json!(ms as f64),
            "another call's progress: {p}"
        );
    }
    assert!(
        !progress.is_empty(),
        "no progress notification before the answer"
    );
    progress.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_tokens_are_restored_over_http() {
    run(async {
        let mut gw = demo_gateway("", "").await;
        let http = Http::new(&gw.url());
        let sid = http.initialize(LEGACY).await;
        let body = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
            "name":"slow","arguments":{"ms":400},"_meta":{"progressToken":"tok-A"}}});
        let call = Streamed::post(&gw.url(), &body, &[("mcp-session-id", &sid)]).await;
        assert!(call.sse, "progress must turn the answer into an SSE stream");
        check_progress(&call.all().await, "tok-A", 3, 400);

        // Two modern requests on the shared link, with the same token and the same id.
        let modern = |ms: u64| {
            let url = gw.url();
            async move {
                let mut meta = modern_meta();
                meta["progressToken"] = json!("tok-A");
                let body = json!({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{
                    "name":"slow","arguments":{"ms":ms},"_meta":meta}});
                let call = Streamed::post(
                    &url,
                    &body,
                    &[
                        ("mcp-protocol-version", "2026-07-28"),
                        ("mcp-method", "tools/call"),
                        ("mcp-name", "slow"),
                    ],
                )
                .await;
                assert_eq!(call.status, 200);
                assert!(call.sse);
                call.all().await
            }
        };
        let (m4, m6) = tokio::join!(modern(400), modern(600));
        check_progress(&m4, "tok-A", 9, 400);
        check_progress(&m6, "tok-A", 9, 600);
        stop_cleanly(&mut gw).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_tokens_are_restored_over_stdio() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let mut p = stdio_front(dir.path(), "");
        stdio_initialize(&mut p, json!({})).await;
        p.send(
            &json!({"jsonrpc":"2.0","id":"s1","method":"tools/call","params":{
            "name":"slow","arguments":{"ms":400},"_meta":{"progressToken":"tok-A"}}}),
        )
        .await
        .unwrap();
        let (fin, mut messages) = p.recv_id(&json!("s1"), STEP).await.unwrap();
        messages.push(fin.clone());
        assert_eq!(fin["id"], "s1");
        let (last, progress) = messages.split_last().unwrap();
        assert_eq!(text_of(last), "slept 400 ms");
        assert!(!progress.is_empty(), "no progress before the answer");
        for m in progress {
            assert_eq!(m["method"], "notifications/progress", "{m}");
            assert_eq!(m["params"]["progressToken"], "tok-A", "{m}");
        }
        p.close_stdin();
        assert!(p.wait(STEP).await.unwrap().success());
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 4. Upstream crash mid-call.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_crash_fails_the_call_at_once_and_new_sessions_work() {
    run(async {
        let mut gw = demo_gateway("", "").await;
        let http = Http::new(&gw.url());
        let s1 = http.initialize(LEGACY).await;
        let children = descendants(gw.pid());
        assert_eq!(children.len(), 1, "{children:?}");
        let started = Instant::now();
        let ans = http
            .legacy(&s1, 1, "tools/call", json!({"name":"crash","arguments":{}}))
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the crash was noticed late: {:?}",
            started.elapsed()
        );
        assert_eq!(ans.status, 200, "{}", ans.body);
        assert_eq!(ans.code(), Some(-31003), "{}", ans.body);
        assert_eq!(ans.json()["id"], 1);
        assert!(gone_within(children[0], Duration::from_secs(5)).await);
        // The crashed session's next request fails the same way, at once.
        let again = http
            .legacy(
                &s1,
                2,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"x"}}),
            )
            .await;
        assert_eq!(again.code(), Some(-31003), "{}", again.body);
        // A new session gets a new child.
        let s2 = http.initialize(LEGACY).await;
        let echo = http
            .legacy(
                &s2,
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"fresh"}}),
            )
            .await;
        assert_eq!(text_of(&echo.json()), "fresh");
        let now = descendants(gw.pid());
        assert_eq!(now.len(), 1, "{now:?}");
        assert_ne!(now[0], children[0]);
        stop_cleanly(&mut gw).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_link_is_recreated_after_a_crash() {
    run(async {
        let mut gw = demo_gateway("", "sharing = \"shared\"").await;
        let http = Http::new(&gw.url());
        let warm = http
            .modern(
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"warm"}}),
            )
            .await;
        assert_eq!(text_of(&warm.json()), "warm");
        let legacy = http.initialize(LEGACY).await;
        let first = descendants(gw.pid());
        assert_eq!(first.len(), 1, "{first:?}");
        let started = Instant::now();
        let ans = http
            .modern(2, "tools/call", json!({"name":"crash","arguments":{}}))
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(ans.status, 200, "{}", ans.body);
        assert_eq!(ans.code(), Some(-31003), "{}", ans.body);
        assert!(gone_within(first[0], Duration::from_secs(5)).await);
        // The legacy session that sat on the crashed link learns it at once.
        let old = http
            .legacy(
                &legacy,
                3,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"x"}}),
            )
            .await;
        assert_eq!(old.code(), Some(-31003), "{}", old.body);
        // The next modern request re-creates the shared link; so does a new legacy session.
        let after = http
            .modern(
                4,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"again"}}),
            )
            .await;
        assert_eq!(after.status, 200, "{}", after.body);
        assert_eq!(text_of(&after.json()), "again");
        let s2 = http.initialize(LEGACY).await;
        let echo = http
            .legacy(
                &s2,
                5,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"new"}}),
            )
            .await;
        assert_eq!(text_of(&echo.json()), "new");
        let now = descendants(gw.pid());
        assert_eq!(now.len(), 1, "{now:?}");
        assert_ne!(now[0], first[0]);
        stop_cleanly(&mut gw).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 5. Graceful shutdown under load.

/// How one call under load ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The normal result.
    Done,
    /// A JSON-RPC error: shutting down (503) or upstream closed.
    Refused,
    /// No connection, or the connection closed without an answer.
    Closed,
}

/// One `slow` call, checked: every answer is the call's own result or an allowed error.
async fn load_call(client: &reqwest::Client, url: &str, sid: Option<&str>, id: u64) -> Outcome {
    let mut params = json!({"name":"slow","arguments":{"ms":300}});
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    match sid {
        Some(sid) => req = req.header("mcp-session-id", sid),
        None => {
            params["_meta"] = modern_meta();
            req = req
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", "slow");
        }
    }
    let body = json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":params});
    let resp = match req.body(body.to_string()).send().await {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.is_timeout(), "a call hung: {e}");
            return Outcome::Closed;
        }
    };
    let status = resp.status().as_u16();
    let text = match resp.text().await {
        Ok(t) => t,
        Err(e) => {
            assert!(!e.is_timeout(), "an answer hung: {e}");
            return Outcome::Closed;
        }
    };
    let msg: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    if msg.get("result").is_some() {
        assert_eq!(status, 200);
        assert_eq!(msg["id"], id);
        assert_eq!(text_of(&msg), "slept 300 ms");
        return Outcome::Done;
    }
    let code = msg["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("neither result nor error: {msg}"));
    match code {
        -31005 => assert_eq!(status, 503, "{msg}"),
        -31003 => assert_eq!(status, 200, "{msg}"),
        _ => panic!("unexpected error during shutdown ({status}): {msg}"),
    }
    Outcome::Refused
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_drains_and_reaps_every_child() {
    run(async {
        let mut gw = demo_gateway("shutdown_grace = \"3s\"", "").await;
        let url = gw.url();
        let http = Http::new(&url);
        let mut sessions = Vec::new();
        for _ in 0..8 {
            sessions.push(Some(http.initialize(LEGACY).await));
        }
        sessions.push(None);
        sessions.push(None);
        let budget = Arc::new(AtomicUsize::new(100));
        let log: Arc<Mutex<Vec<(Instant, Instant, Outcome)>>> = Arc::default();
        let stop_at = Instant::now() + Duration::from_secs(5);
        let mut workers = Vec::new();
        for sid in sessions {
            let (budget, log, url) = (Arc::clone(&budget), Arc::clone(&log), url.clone());
            workers.push(tokio::spawn(async move {
                let client = reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()
                    .unwrap();
                let mut id = 0;
                while Instant::now() < stop_at
                    && budget
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |b| b.checked_sub(1))
                        .is_ok()
                {
                    id += 1;
                    let started = Instant::now();
                    let outcome = load_call(&client, &url, sid.as_deref(), id).await;
                    log.lock().unwrap().push((started, Instant::now(), outcome));
                    if outcome != Outcome::Done {
                        break;
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_millis(700)).await;
        let children = descendants(gw.pid());
        assert_eq!(children.len(), 9, "8 session children and one shared child expected");

        let pid = nix::unistd::Pid::from_raw(i32::try_from(gw.pid()).unwrap());
        let signalled = Instant::now();
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        // A new client is refused: 503 or no connection at all.
        let fresh = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
        let late = fresh
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(tool_call(1, "echo", json!({"message":"late"})).to_string())
            .send()
            .await;
        match late {
            Ok(r) => {
                let status = r.status().as_u16();
                let body = r.text().await.unwrap_or_default();
                assert_eq!(status, 503, "a request after SIGTERM was served: {body}");
                assert!(body.contains("-31005"), "{body}");
            }
            Err(e) => assert!(e.is_connect() || e.is_request(), "unexpected failure: {e}"),
        }

        let status = gw.stop().await.unwrap();
        let took = signalled.elapsed();
        assert!(status.success(), "exit status {status}: {}", gw.stderr());
        assert!(took < Duration::from_secs(3 + 5), "exit took {took:?}");
        for w in workers {
            timeout(Duration::from_secs(20), w).await.expect("a worker hung").unwrap();
        }
        for child in &children {
            assert!(gone_within(*child, Duration::from_secs(2)).await, "child {child} outlived the gateway");
        }
        let log = log.lock().unwrap().clone();
        let count = |o: Outcome| log.iter().filter(|(_, _, x)| *x == o).count();
        let (done, refused, closed) = (count(Outcome::Done), count(Outcome::Refused), count(Outcome::Closed));
        let drained = log
            .iter()
            .filter(|(start, end, o)| *start < signalled && *end > signalled && *o == Outcome::Done)
            .count();
        eprintln!(
            "exit {took:?} after SIGTERM; calls: {done} done ({drained} of them drained), {refused} refused, {closed} closed"
        );
        assert!(done >= 10, "too few calls completed before the signal: {log:?}");
        assert!(drained > 0, "no call in flight at the signal completed");
        // Each worker ends with at most one refused or cut call.
        assert!(refused + closed <= 10, "{log:?}");
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 6. The stdio front drains on end of input.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_front_drains_on_end_of_input() {
    run(async {
        let dir = tempfile::tempdir().unwrap();
        let mut p = stdio_front(dir.path(), "");
        stdio_initialize(&mut p, json!({})).await;
        let pid = p.child.id().unwrap();
        let children = descendants(pid);
        assert_eq!(children.len(), 1, "{children:?}");
        p.send(&tool_call(7, "slow", json!({"ms": 800})))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
        p.close_stdin();
        let (fin, _) = p.recv_id(&json!(7), STEP).await.unwrap();
        assert_eq!(text_of(&fin), "slept 800 ms", "{fin}");
        let status = p.wait(STEP).await.unwrap();
        assert!(status.success(), "{status}");
        assert!(
            gone_within(children[0], Duration::from_secs(2)).await,
            "the demo server outlived the front"
        );
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 7. DELETE ends a session and its child.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_stops_the_session_child() {
    run(async {
        let mut gw = demo_gateway("", "").await;
        let http = Http::new(&gw.url());
        let a = http.initialize(LEGACY).await;
        let before = descendants(gw.pid());
        let b = http.initialize(LEGACY).await;
        let after = descendants(gw.pid());
        let b_children: Vec<u32> = after
            .iter()
            .copied()
            .filter(|p| !before.contains(p))
            .collect();
        assert_eq!(b_children.len(), 1, "before {before:?}, after {after:?}");
        let del = http
            .send(reqwest::Method::DELETE, &[("mcp-session-id", &b)])
            .await;
        assert_eq!(del.status, 200, "{}", del.body);
        assert!(
            gone_within(b_children[0], Duration::from_secs(5)).await,
            "the session's child outlived DELETE"
        );
        for p in &before {
            assert!(alive(*p), "a's child went too");
        }
        let stale = http
            .legacy(
                &b,
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"x"}}),
            )
            .await;
        assert_eq!(stale.status, 404, "{}", stale.body);
        assert_eq!(stale.code(), Some(-32600));
        let again = http
            .send(reqwest::Method::DELETE, &[("mcp-session-id", &b)])
            .await;
        assert_eq!(again.status, 404);
        let echo = http
            .legacy(
                &a,
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"a lives"}}),
            )
            .await;
        assert_eq!(text_of(&echo.json()), "a lives");
        stop_cleanly(&mut gw).await;
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// 8. The per-upstream cap.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_session_cap_refuses_then_frees_a_slot() {
    run(async {
        let mut gw = demo_gateway("", "max_sessions = 2").await;
        let http = Http::new(&gw.url());
        let a = http.initialize(LEGACY).await;
        let b = http.initialize(LEGACY).await;
        let init = json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
            "protocolVersion": LEGACY, "capabilities": {},
            "clientInfo": {"name": "third", "version": "0"}}});
        let third = http.post(&init, &[]).await;
        assert_eq!(third.status, 503, "{}", third.body);
        assert_eq!(third.code(), Some(-31004), "{}", third.body);
        assert_eq!(third.json()["id"], 0);
        assert!(third.header("mcp-session-id").is_none());
        assert_eq!(
            descendants(gw.pid()).len(),
            2,
            "a refused session must not start a child"
        );
        // The gateway still serves the sessions it has.
        let echo = http
            .legacy(
                &b,
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"b"}}),
            )
            .await;
        assert_eq!(text_of(&echo.json()), "b");
        let del = http
            .send(reqwest::Method::DELETE, &[("mcp-session-id", &a)])
            .await;
        assert_eq!(del.status, 200);
        let fourth = http.post(&init, &[]).await;
        assert_eq!(
            fourth.status, 200,
            "a freed slot was not reused: {}",
            fourth.body
        );
        let c = fourth.header("mcp-session-id").expect("no session id");
        let n = http
            .post(
                &json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
                &[("mcp-session-id", &c)],
            )
            .await;
        assert_eq!(n.status, 202);
        let echo = http
            .legacy(
                &c,
                1,
                "tools/call",
                json!({"name":"echo","arguments":{"message":"c"}}),
            )
            .await;
        assert_eq!(text_of(&echo.json()), "c");
        stop_cleanly(&mut gw).await;
    })
    .await;
}
