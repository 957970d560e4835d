//! End-to-end tests of `mcpgate demo-server`: the real binary is spawned and
//! driven over stdio, through rmcp's client and by hand-written JSON-RPC lines.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test helpers fail loudly, like the tests that call them"
)]

use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientCapabilities, ClientConfig, ContentBlock,
    ErrorCode, GetPromptRequestParams, Implementation, ProgressNotificationParam, ProtocolVersion,
    ReadResourceRequestParams, ResourceContents, Role,
};
use rmcp::service::{
    ClientLifecycleMode, ClientServiceExt as _, NotificationContext, RequestContext,
    RunningService, ServiceError,
};
use rmcp::transport::TokioChildProcess;
use rmcp::{ClientHandler, ErrorData, RoleClient, ServiceExt as _};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::time::timeout;

/// Upper bound for any single test.
const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Upper bound for one step (a request, a line, a process exit).
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// Every tool the demo server must offer.
const EXPECTED_TOOLS: [&str; 7] = [
    "add",
    "ask_roots",
    "crash",
    "echo",
    "read_note",
    "slow",
    "write_note",
];

/// A `demo-server` command for `notes_dir`, with stderr discarded.
fn demo_command(notes_dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mcpgate"));
    command
        .arg("demo-server")
        .arg("--notes-dir")
        .arg(notes_dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    command
}

/// Spawns the demo server as an rmcp child-process transport.
fn demo_transport(notes_dir: &Path) -> TokioChildProcess {
    let (transport, _stderr) = TokioChildProcess::builder(demo_command(notes_dir))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    transport
}

/// Connects `handler` to a fresh demo server with the legacy `initialize` handshake.
async fn connect_legacy<H: ClientHandler>(
    notes_dir: &Path,
    handler: H,
) -> RunningService<RoleClient, H> {
    timeout(STEP_TIMEOUT, handler.serve(demo_transport(notes_dir)))
        .await
        .unwrap()
        .unwrap()
}

/// Connects to a fresh demo server with `server/discover` and per-request metadata.
async fn connect_modern(notes_dir: &Path) -> RunningService<RoleClient, ()> {
    let lifecycle = ClientLifecycleMode::Discover {
        preferred_versions: vec![ProtocolVersion::V_2026_07_28],
    };
    timeout(
        STEP_TIMEOUT,
        ().serve_with_lifecycle(demo_transport(notes_dir), lifecycle),
    )
    .await
    .unwrap()
    .unwrap()
}

/// Calls `name` with `arguments` and returns the result.
async fn call<H: ClientHandler>(
    client: &RunningService<RoleClient, H>,
    name: &'static str,
    arguments: Value,
) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("tool arguments must be an object");
    };
    let params = CallToolRequestParams::new(name).with_arguments(arguments);
    timeout(STEP_TIMEOUT, client.call_tool(params))
        .await
        .unwrap()
        .unwrap()
}

/// The single text content of `result`.
fn text_of(result: &CallToolResult) -> &str {
    assert_eq!(
        result.content.len(),
        1,
        "one content block expected: {result:?}"
    );
    match &result.content[0] {
        ContentBlock::Text(text) => &text.text,
        other => panic!("text content expected, got {other:?}"),
    }
}

/// Asserts that `result` is a successful call answering exactly `expected`.
fn assert_text(result: &CallToolResult, expected: &str) {
    assert_ne!(
        result.is_error,
        Some(true),
        "unexpected tool error: {result:?}"
    );
    assert_eq!(text_of(result), expected);
}

/// Asserts that `result` is a tool execution error whose text contains `needle`.
fn assert_tool_error(result: &CallToolResult, needle: &str) {
    assert_eq!(
        result.is_error,
        Some(true),
        "tool error expected: {result:?}"
    );
    let text = text_of(result);
    assert!(text.contains(needle), "{text:?} should contain {needle:?}");
}

#[tokio::test]
async fn legacy_client_lists_and_calls_tools() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let client = connect_legacy(notes.path(), ()).await;

        let info = client.peer_info().unwrap();
        let server_info = info.server_info.as_ref().unwrap();
        assert_eq!(server_info.name, "mcpgate-demo");
        assert_eq!(server_info.version, env!("CARGO_PKG_VERSION"));
        assert!(info.capabilities.tools.is_some());
        assert!(info.capabilities.resources.is_some());
        assert!(info.capabilities.prompts.is_some());

        let mut names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|tool| tool.name.into_owned())
            .collect();
        names.sort();
        assert_eq!(names, EXPECTED_TOOLS);

        let message = "  hello, \"gateway\" ✓\nsecond line ";
        assert_text(
            &call(&client, "echo", json!({ "message": message })).await,
            message,
        );

        let sum = call(&client, "add", json!({ "a": 2, "b": 3 })).await;
        assert_text(&sum, "5");
        assert_eq!(sum.structured_content, Some(json!({ "sum": 5 })));
        let sum = call(&client, "add", json!({ "a": 1.5, "b": 1 })).await;
        assert_text(&sum, "2.5");
        assert_eq!(sum.structured_content, Some(json!({ "sum": 2.5 })));
        assert_text(
            &call(&client, "add", json!({ "a": -4, "b": 1.25 })).await,
            "-2.75",
        );

        client.cancel().await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn notes_round_trip_and_escapes_are_refused() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let client = connect_legacy(notes.path(), ()).await;

        let wrote = call(
            &client,
            "write_note",
            json!({ "path": "sub/dir/a.txt", "content": "hello" }),
        )
        .await;
        assert_text(&wrote, "wrote 5 bytes to sub/dir/a.txt");
        assert_eq!(
            std::fs::read_to_string(notes.path().join("sub/dir/a.txt")).unwrap(),
            "hello"
        );
        assert_text(
            &call(&client, "read_note", json!({ "path": "sub/dir/a.txt" })).await,
            "hello",
        );
        assert_text(
            &call(
                &client,
                "read_note",
                json!({ "path": "./sub/other/../dir/a.txt" }),
            )
            .await,
            "hello",
        );

        assert_tool_error(
            &call(&client, "read_note", json!({ "path": "missing.txt" })).await,
            "note `missing.txt` not found",
        );

        for path in ["../x", "/etc/passwd", "", "a/../../x", "."] {
            let read = call(&client, "read_note", json!({ "path": path })).await;
            assert_eq!(read.is_error, Some(true), "read of {path:?}: {read:?}");
            let write = call(
                &client,
                "write_note",
                json!({ "path": path, "content": "nope" }),
            )
            .await;
            assert_eq!(write.is_error, Some(true), "write of {path:?}: {write:?}");
        }
        assert_tool_error(
            &call(&client, "read_note", json!({ "path": "../x" })).await,
            "escapes the notes directory",
        );
        assert_tool_error(
            &call(&client, "read_note", json!({ "path": "/etc/passwd" })).await,
            "must be relative",
        );

        // Symbolic links that lead outside are refused once resolved.
        let outside = TempDir::new().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink(outside.path(), notes.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("planted.txt"),
            notes.path().join("dangling.txt"),
        )
        .unwrap();
        assert_tool_error(
            &call(&client, "read_note", json!({ "path": "link/secret.txt" })).await,
            "outside the notes directory",
        );
        for path in ["link/new.txt", "link/deeper/new.txt", "dangling.txt"] {
            let write = call(
                &client,
                "write_note",
                json!({ "path": path, "content": "planted" }),
            )
            .await;
            assert_eq!(write.is_error, Some(true), "write of {path:?}: {write:?}");
        }
        assert!(!outside.path().join("new.txt").exists());
        assert!(!outside.path().join("deeper").exists());
        assert!(!outside.path().join("planted.txt").exists());

        client.cancel().await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn resource_and_prompt_are_served() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let client = connect_legacy(notes.path(), ()).await;

        let resources = client.list_all_resources().await.unwrap();
        assert_eq!(resources.len(), 1);
        assert_eq!(resources[0].uri, "demo://readme");
        assert_eq!(resources[0].mime_type.as_deref(), Some("text/plain"));

        let read = client
            .read_resource(ReadResourceRequestParams::new("demo://readme"))
            .await
            .unwrap();
        assert_eq!(read.contents.len(), 1);
        match &read.contents[0] {
            ResourceContents::TextResourceContents {
                uri,
                mime_type,
                text,
                ..
            } => {
                assert_eq!(uri, "demo://readme");
                assert_eq!(mime_type.as_deref(), Some("text/plain"));
                assert!(text.contains("mcpgate-demo"), "{text:?}");
            }
            other => panic!("text contents expected, got {other:?}"),
        }

        let missing = client
            .read_resource(ReadResourceRequestParams::new("demo://nope"))
            .await
            .unwrap_err();
        match missing {
            ServiceError::McpError(error) => {
                assert_eq!(error.code, ErrorCode::RESOURCE_NOT_FOUND);
            }
            other => panic!("resource-not-found error expected, got {other:?}"),
        }

        let prompts = client.list_all_prompts().await.unwrap();
        assert_eq!(prompts.len(), 1);
        assert_eq!(prompts[0].name, "greet");

        let mut arguments = serde_json::Map::new();
        arguments.insert("name".to_owned(), json!("Ada"));
        let prompt = client
            .get_prompt(GetPromptRequestParams::new("greet").with_arguments(arguments))
            .await
            .unwrap();
        assert_eq!(prompt.messages.len(), 1);
        assert_eq!(prompt.messages[0].role, Role::User);
        match &prompt.messages[0].content {
            ContentBlock::Text(text) => assert_eq!(text.text, "Say hello to Ada"),
            other => panic!("text prompt expected, got {other:?}"),
        }

        client.cancel().await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn server_exits_on_stdin_eof() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let client = connect_legacy(notes.path(), ()).await;
        assert_text(&call(&client, "echo", json!({ "message": "x" })).await, "x");
        // Cancelling closes the child's stdin and waits up to three seconds
        // for it to exit before resorting to signals.
        let started = Instant::now();
        client.cancel().await.unwrap();
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "the server took {:?} to exit after stdin closed",
            started.elapsed()
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn modern_client_uses_per_request_metadata() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let client = connect_modern(notes.path()).await;

        let mut names: Vec<String> = client
            .list_all_tools()
            .await
            .unwrap()
            .into_iter()
            .map(|tool| tool.name.into_owned())
            .collect();
        names.sort();
        assert_eq!(names, EXPECTED_TOOLS);
        assert_text(
            &call(&client, "echo", json!({ "message": "modern" })).await,
            "modern",
        );
        assert_text(&call(&client, "add", json!({ "a": 2, "b": 3 })).await, "5");
        assert_text(
            &call(
                &client,
                "write_note",
                json!({ "path": "m.txt", "content": "abc" }),
            )
            .await,
            "wrote 3 bytes to m.txt",
        );
        assert_text(
            &call(&client, "read_note", json!({ "path": "m.txt" })).await,
            "abc",
        );
        // Server-to-client requests are forbidden from 2026-07-28 on.
        assert_tool_error(
            &call(&client, "ask_roots", json!({})).await,
            "legacy session",
        );

        client.cancel().await.unwrap();
    })
    .await
    .unwrap();
}

/// A legacy client that declares the roots capability and counts progress.
#[derive(Default)]
struct RootsClient {
    /// Progress notifications received so far.
    progress: Arc<AtomicUsize>,
}

impl ClientHandler for RootsClient {
    fn get_info(&self) -> ClientConfig {
        let capabilities: ClientCapabilities =
            serde_json::from_value(json!({ "roots": { "listChanged": false } })).unwrap();
        ClientConfig::new(capabilities, Implementation::new("roots-client", "1.0.0"))
    }

    #[expect(deprecated, reason = "roots are a legacy feature exercised on purpose")]
    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<rmcp::model::ListRootsResult, ErrorData> {
        Ok(rmcp::model::ListRootsResult::new(vec![
            rmcp::model::Root::new("file:///work/a"),
            rmcp::model::Root::new("file:///work/b"),
        ]))
    }

    async fn on_progress(
        &self,
        _params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.progress.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn ask_roots_reaches_the_client_in_legacy_sessions() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let client = connect_legacy(notes.path(), RootsClient::default()).await;
        assert_text(
            &call(&client, "ask_roots", json!({})).await,
            "file:///work/a\nfile:///work/b",
        );
        client.cancel().await.unwrap();

        let plain = connect_legacy(notes.path(), ()).await;
        assert_tool_error(
            &call(&plain, "ask_roots", json!({})).await,
            "roots capability",
        );
        plain.cancel().await.unwrap();
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn slow_reports_progress() {
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let handler = RootsClient::default();
        let progress = Arc::clone(&handler.progress);
        let client = connect_legacy(notes.path(), handler).await;

        let started = Instant::now();
        assert_text(
            &call(&client, "slow", json!({ "ms": 450 })).await,
            "slept 450 ms",
        );
        assert!(started.elapsed() >= Duration::from_millis(450));
        // Notifications at 100, 200, 300 and 400 ms; they may be handled just
        // after the response arrives.
        timeout(STEP_TIMEOUT, async {
            while progress.load(Ordering::SeqCst) < 3 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .unwrap();

        client.cancel().await.unwrap();
    })
    .await
    .unwrap();
}

/// A demo server driven by hand-written JSON-RPC lines.
struct RawServer {
    /// The server process.
    child: Child,
    /// Its stdin, `None` once closed.
    stdin: Option<ChildStdin>,
    /// Its stdout, line by line.
    stdout: Lines<BufReader<ChildStdout>>,
    /// Keeps the notes directory alive.
    _notes: TempDir,
}

impl RawServer {
    /// Spawns a demo server with a fresh notes directory.
    fn spawn() -> Self {
        let notes = TempDir::new().unwrap();
        let mut child = demo_command(notes.path()).spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            stdout,
            _notes: notes,
        }
    }

    /// Writes one JSON-RPC message as a line.
    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().unwrap();
        let mut line = serde_json::to_vec(&message).unwrap();
        line.push(b'\n');
        timeout(STEP_TIMEOUT, stdin.write_all(&line))
            .await
            .unwrap()
            .unwrap();
        timeout(STEP_TIMEOUT, stdin.flush()).await.unwrap().unwrap();
    }

    /// Reads lines until the response to request `id`, skipping notifications.
    async fn response(&mut self, id: u64) -> Value {
        loop {
            let line = timeout(STEP_TIMEOUT, self.stdout.next_line())
                .await
                .unwrap()
                .unwrap()
                .expect("stdout closed before the response");
            let message: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(message["jsonrpc"], "2.0", "{line}");
            if message.get("id") == Some(&json!(id)) {
                return message;
            }
            assert!(
                message.get("method").is_some(),
                "unexpected non-notification line: {line}"
            );
        }
    }

    /// Closes stdin and returns the exit code once the process ends.
    async fn close_and_wait(&mut self) -> Option<i32> {
        drop(self.stdin.take());
        self.wait().await
    }

    /// Waits for the process to exit and returns its exit code.
    async fn wait(&mut self) -> Option<i32> {
        timeout(STEP_TIMEOUT, self.child.wait())
            .await
            .unwrap()
            .unwrap()
            .code()
    }

    /// Performs the legacy handshake for protocol 2025-11-25.
    async fn initialize(&mut self) -> Value {
        self.send(json!({
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": { "name": "raw-test", "version": "0.0.1" }
            }
        }))
        .await;
        let response = self.response(1).await;
        self.send(json!({ "jsonrpc": "2.0", "method": "notifications/initialized" }))
            .await;
        response
    }
}

/// Request metadata of a 2026-07-28 request.
fn modern_meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {}
    })
}

#[tokio::test]
async fn raw_legacy_handshake_and_tools_list() {
    timeout(TEST_TIMEOUT, async {
        let mut server = RawServer::spawn();
        let init = server.initialize().await;
        assert!(init.get("error").is_none(), "{init}");
        assert_eq!(init["result"]["protocolVersion"], "2025-11-25");
        assert_eq!(init["result"]["serverInfo"]["name"], "mcpgate-demo");
        assert_eq!(
            init["result"]["serverInfo"]["version"],
            env!("CARGO_PKG_VERSION")
        );
        for capability in ["tools", "resources", "prompts"] {
            assert!(
                init["result"]["capabilities"].get(capability).is_some(),
                "{init}"
            );
        }

        server
            .send(json!({ "jsonrpc": "2.0", "id": 2, "method": "tools/list" }))
            .await;
        let list = server.response(2).await;
        let mut names: Vec<&str> = list["result"]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|tool| tool["name"].as_str().unwrap())
            .collect();
        names.sort_unstable();
        assert_eq!(names, EXPECTED_TOOLS);
        // Legacy results carry no 2026-07-28 result type.
        assert!(list["result"].get("resultType").is_none(), "{list}");

        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": { "name": "echo", "arguments": { "message": "raw" } }
            }))
            .await;
        let echo = server.response(3).await;
        assert_eq!(echo["result"]["content"][0]["text"], "raw");
        assert_eq!(echo["result"]["isError"], false);

        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 4,
                "method": "resources/read",
                "params": { "uri": "demo://nope" }
            }))
            .await;
        let missing = server.response(4).await;
        assert_eq!(missing["error"]["code"], -32002, "{missing}");

        assert_eq!(server.close_and_wait().await, Some(0));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn raw_modern_discover_and_call() {
    timeout(TEST_TIMEOUT, async {
        let mut server = RawServer::spawn();
        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 1,
                "method": "server/discover",
                "params": { "_meta": modern_meta() }
            }))
            .await;
        let discover = server.response(1).await;
        assert!(discover.get("error").is_none(), "{discover}");
        let versions = discover["result"]["supportedVersions"].as_array().unwrap();
        assert!(versions.contains(&json!("2026-07-28")), "{discover}");
        assert!(versions.contains(&json!("2025-11-25")), "{discover}");
        assert!(discover["result"]["capabilities"].get("tools").is_some());

        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": {
                    "name": "echo",
                    "arguments": { "message": "inline" },
                    "_meta": modern_meta()
                }
            }))
            .await;
        let echo = server.response(2).await;
        assert_eq!(echo["result"]["content"][0]["text"], "inline", "{echo}");
        assert_eq!(echo["result"]["resultType"], "complete", "{echo}");

        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 3,
                "method": "tools/call",
                "params": {
                    "name": "slow",
                    "arguments": { "ms": 250 },
                    "_meta": {
                        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                        "io.modelcontextprotocol/clientCapabilities": {},
                        "progressToken": "p-1"
                    }
                }
            }))
            .await;
        let mut progress = Vec::new();
        let slow = loop {
            let line = timeout(STEP_TIMEOUT, server.stdout.next_line())
                .await
                .unwrap()
                .unwrap()
                .unwrap();
            let message: Value = serde_json::from_str(&line).unwrap();
            if message.get("id") == Some(&json!(3)) {
                break message;
            }
            assert_eq!(message["method"], "notifications/progress", "{line}");
            assert_eq!(message["params"]["progressToken"], "p-1", "{line}");
            progress.push(message["params"]["progress"].as_f64().unwrap());
        };
        assert_eq!(
            slow["result"]["content"][0]["text"], "slept 250 ms",
            "{slow}"
        );
        // Whole 100 ms steps (100, 200) unless the machine stalls past the deadline.
        assert!(!progress.is_empty(), "no progress notification");
        for (step, value) in progress.iter().enumerate() {
            assert_eq!(*value, 100.0 * (step as f64 + 1.0), "{progress:?}");
        }

        assert_eq!(server.close_and_wait().await, Some(0));
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn eof_interrupts_a_slow_call() {
    timeout(TEST_TIMEOUT, async {
        let mut server = RawServer::spawn();
        server.initialize().await;
        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": { "name": "slow", "arguments": { "ms": 60000 } }
            }))
            .await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        assert_eq!(server.close_and_wait().await, Some(0));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "exit took {:?}",
            started.elapsed()
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn crash_exits_with_status_3_without_answering() {
    timeout(TEST_TIMEOUT, async {
        let mut server = RawServer::spawn();
        server.initialize().await;
        server
            .send(json!({
                "jsonrpc": "2.0",
                "id": 2,
                "method": "tools/call",
                "params": { "name": "crash", "arguments": {} }
            }))
            .await;
        assert_eq!(server.wait().await, Some(3));
        let rest = timeout(STEP_TIMEOUT, server.stdout.next_line())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(rest, None, "no answer expected after the crash");
    })
    .await
    .unwrap();
}
