//! Interoperability: real MCP clients and servers (rmcp, the Python `mcp` SDK, the npm
//! reference servers) talk through the real gateway binary, on every combination of front
//! (Streamable HTTP, stdio) and upstream transport (stdio, Streamable HTTP), in both protocol
//! eras (legacy `initialize` sessions and stateless 2026-07-28).
//!
//! The Node and Python peers come from `scripts/test-deps.sh`; a test that needs one fails
//! with a clear message when its variable (`MCPGATE_PYTHON`, `MCPGATE_NODE`,
//! `MCPGATE_EVERYTHING`, `MCPGATE_FILESYSTEM`) is not set.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests fail loudly"
)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use futures::future::join_all;
use mcpgate_test::fixtures::{
    self, ClientEra, HttpServer, McpClient, call_text, connect_child, connect_http, tool_names,
};
use mcpgate_test::{GatewayProcess, demo_upstream_toml, free_port, repo_path, toml_str};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::time::timeout;

/// Upper bound for any single test.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

/// Upper bound for one external client run (Python).
const PEER_TIMEOUT: Duration = Duration::from_secs(40);

const MESSAGE: &str = "hello through mcpgate";

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_mcpgate"))
}

/// A variable set by `scripts/test-deps.sh`; its absence fails the test.
fn peer_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{name} is not set: this test needs the interop peers; run \
             `eval \"$(scripts/test-deps.sh)\"` first (or use scripts/test)"
        ),
    }
}

/// Every test starts here: the HTTP clients in this process need a rustls provider.
fn setup() {
    fixtures::install_crypto_provider();
}

/// Asserts the client's negotiated era.
fn assert_era(client: &McpClient, era: ClientEra) {
    let info = client
        .peer_info()
        .expect("no peer info after the handshake");
    if era.is_legacy() {
        assert_ne!(
            info.protocol_version.as_str(),
            "2026-07-28",
            "a legacy client must negotiate a revision with initialize"
        );
    } else {
        assert_eq!(info.protocol_version.as_str(), "2026-07-28");
    }
}

/// Lists the tools (echo and add must be there) and checks what echo and add answer.
async fn check_echo_add(client: &McpClient, era: ClientEra) {
    assert_era(client, era);
    let names = tool_names(client).await.unwrap();
    assert!(
        names.iter().any(|n| n == "echo") && names.iter().any(|n| n == "add"),
        "echo and add expected in {names:?}"
    );
    let echoed = call_text(client, "echo", json!({ "message": MESSAGE }))
        .await
        .unwrap();
    assert_eq!(echoed, MESSAGE);
    let sum = call_text(client, "add", json!({ "a": 2, "b": 3 }))
        .await
        .unwrap();
    assert_eq!(sum, "5");
    let sum = call_text(client, "add", json!({ "a": -4, "b": 46 }))
        .await
        .unwrap();
    assert_eq!(sum, "42");
}

/// Configuration of one Streamable HTTP upstream.
fn http_upstream_toml(name: &str, url: &str, extra: &str) -> String {
    format!(
        "[upstreams.{name}]\ntransport = \"http\"\nurl = {}\n{extra}\n",
        toml_str(url)
    )
}

/// Configuration of one stdio upstream running `command args…`.
fn stdio_upstream_toml(name: &str, command: &str, args: &[&str], extra: &str) -> String {
    let args: Vec<String> = args.iter().map(|a| toml_str(a)).collect();
    format!(
        "[upstreams.{name}]\ntransport = \"stdio\"\ncommand = {}\nargs = [{}]\n{extra}\n",
        toml_str(command),
        args.join(", ")
    )
}

/// A configuration file for `mcpgate stdio`, with the audit log in its directory.
struct StdioConfig {
    dir: TempDir,
}

impl StdioConfig {
    fn new(upstreams: &str) -> Self {
        let dir = TempDir::new().unwrap();
        let text = format!("[audit]\nsink = \"file\"\npath = \"audit.jsonl\"\n\n{upstreams}");
        std::fs::write(dir.path().join("mcpgate.toml"), text).unwrap();
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("mcpgate.toml")
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// Starts `mcpgate stdio --config F` and connects an rmcp client to it.
    async fn connect(&self, era: ClientEra) -> McpClient {
        let mut cmd = tokio::process::Command::new(bin());
        cmd.arg("stdio").arg("--config").arg(self.path());
        let log = std::fs::File::create(self.dir.path().join("stderr.log")).unwrap();
        match connect_child(cmd, Stdio::from(log), era).await {
            Ok(c) => c,
            Err(e) => panic!("{e:#}\nmcpgate stderr:\n{}", self.stderr()),
        }
    }
}

async fn connect_gateway(gw: &GatewayProcess, era: ClientEra) -> McpClient {
    match connect_http(&gw.url(), era).await {
        Ok(c) => c,
        Err(e) => panic!("{e:#}\nmcpgate stderr:\n{}", gw.stderr()),
    }
}

async fn finish(client: McpClient) {
    let _ = timeout(Duration::from_secs(5), client.cancel()).await;
}

// --- The four transport combinations, in both eras ------------------------------------------

/// The client cases run on every transport combination: each era, and a legacy client on both
/// a link of its own (`per-session`) and the shared link (which, for these dual-era upstreams,
/// speaks 2026-07-28, so the gateway stamps the legacy requests with the modern `_meta`).
const CASES: [(ClientEra, &str); 4] = [
    (ClientEra::Legacy, "sharing = \"per-session\""),
    (ClientEra::Legacy, "sharing = \"shared\""),
    (ClientEra::InitializeLatest, ""),
    (ClientEra::Modern, ""),
];

/// Asserts the gateway audited the calls, and the handshake of the client's era.
fn assert_audited(records: &[Value], era: ClientEra) {
    let allowed = |method: &str, tool: Option<&str>| {
        records.iter().any(|r| {
            r["method"] == method && r["verdict"] == "allow" && tool.is_none_or(|t| r["tool"] == t)
        })
    };
    assert!(
        allowed("tools/list", None),
        "no tools/list audited: {records:?}"
    );
    assert!(
        allowed("tools/call", Some("echo")),
        "no echo call audited: {records:?}"
    );
    assert!(
        allowed("tools/call", Some("add")),
        "no add call audited: {records:?}"
    );
    if era.is_legacy() {
        assert!(
            allowed("initialize", None),
            "no initialize audited: {records:?}"
        );
    } else {
        assert!(
            allowed("server/discover", None),
            "no server/discover audited: {records:?}"
        );
    }
}

async fn http_front_case(upstream: String, era: ClientEra) {
    let gw = GatewayProcess::start(bin(), &upstream).await.unwrap();
    let client = connect_gateway(&gw, era).await;
    check_echo_add(&client, era).await;
    finish(client).await;
    assert_audited(&gw.audit(), era);
}

async fn stdio_front_case(upstream: String, era: ClientEra) {
    let cfg = StdioConfig::new(&upstream);
    let client = cfg.connect(era).await;
    check_echo_add(&client, era).await;
    finish(client).await;
    assert_audited(&cfg.audit(), era);
}

#[tokio::test]
async fn http_front_to_stdio_upstream_both_eras() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        join_all(CASES.map(|(era, extra)| {
            http_front_case(demo_upstream_toml("demo", notes.path(), extra), era)
        }))
        .await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn http_front_to_http_upstream_both_eras() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let server = HttpServer::start().await.unwrap();
        join_all(CASES.map(|(era, extra)| {
            http_front_case(http_upstream_toml("remote", &server.url(), extra), era)
        }))
        .await;
        server.stop().await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn stdio_front_to_stdio_upstream_both_eras() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        join_all(CASES.map(|(era, extra)| {
            stdio_front_case(demo_upstream_toml("demo", notes.path(), extra), era)
        }))
        .await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn stdio_front_to_http_upstream_both_eras() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let server = HttpServer::start().await.unwrap();
        join_all(CASES.map(|(era, extra)| {
            stdio_front_case(http_upstream_toml("remote", &server.url(), extra), era)
        }))
        .await;
        server.stop().await;
    })
    .await
    .unwrap();
}

// --- The embedded default (the README's `mcpgate run`) ----------------------------------------

#[tokio::test]
async fn embedded_default_serves_the_demo_tools() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let dir = TempDir::new().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("stderr.log")).unwrap();
        let mut child = tokio::process::Command::new(bin())
            .arg("run")
            .arg("--listen")
            .arg(&addr)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stderr = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();
        let mut ready = false;
        for _ in 0..200 {
            if let Some(status) = child.try_wait().unwrap() {
                panic!("mcpgate run exited early ({status}): {}", stderr());
            }
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "mcpgate run did not listen on {addr}: {}", stderr());
        let url = format!("http://{addr}/mcp");
        for era in [ClientEra::Legacy, ClientEra::Modern] {
            let client = match connect_http(&url, era).await {
                Ok(c) => c,
                Err(e) => panic!("{e:#}\nmcpgate stderr:\n{}", stderr()),
            };
            check_echo_add(&client, era).await;
            let names = tool_names(&client).await.unwrap();
            for tool in ["read_note", "write_note", "slow"] {
                assert!(
                    names.iter().any(|n| n == tool),
                    "{tool} missing from {names:?}"
                );
            }
            let info = client.peer_info().unwrap();
            assert_eq!(
                info.server_info.as_ref().map(|i| i.name.as_str()),
                Some("mcpgate-demo")
            );
            finish(client).await;
        }
        let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id().unwrap()).unwrap());
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        let status = timeout(Duration::from_secs(20), child.wait())
            .await
            .expect("mcpgate run did not stop after SIGTERM")
            .unwrap();
        assert!(
            status.success(),
            "mcpgate run exited with {status}: {}",
            stderr()
        );
    })
    .await
    .unwrap();
}

// --- The Python SDK client ---------------------------------------------------------------------

/// Runs `py_client.py ARGS…` and returns its JSON report.
fn py_client(args: &[&str]) -> impl Future<Output = Value> + use<> {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    async move {
        let python = peer_env("MCPGATE_PYTHON");
        let script = repo_path(env!("CARGO_MANIFEST_DIR"), "tests/interop/py_client.py");
        let out = timeout(
            PEER_TIMEOUT,
            tokio::process::Command::new(&python)
                .arg(&script)
                .args(&args)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output(),
        )
        .await
        .unwrap_or_else(|_| panic!("py_client.py {args:?} did not finish in time"))
        .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "py_client.py {args:?} failed ({}):\nstdout: {stdout}\nstderr: {stderr}",
            out.status
        );
        let line = stdout.lines().last().unwrap_or_default();
        serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("py_client.py printed {stdout:?}: {e}"))
    }
}

/// Checks a `py_client.py` report; `legacy` says which era it must have negotiated.
fn check_py_report(report: &Value, legacy: bool) {
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tools.contains(&"echo") && tools.contains(&"add"),
        "{report}"
    );
    assert_eq!(report["echo"], "hello from python", "{report}");
    assert_eq!(report["add"], "5", "{report}");
    let version = report["protocol_version"].as_str().unwrap_or_default();
    if legacy {
        assert!(
            !version.is_empty() && version != "2026-07-28",
            "legacy revision expected: {report}"
        );
    } else {
        assert_eq!(version, "2026-07-28", "{report}");
    }
}

#[tokio::test]
async fn python_client_through_http_front_in_every_mode() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let gw = GatewayProcess::start(bin(), &demo_upstream_toml("demo", notes.path(), ""))
            .await
            .unwrap();
        let url = gw.url();
        let (auto, legacy, modern) = tokio::join!(
            py_client(&["http", url.as_str(), "--mode", "auto"]),
            py_client(&["http", url.as_str(), "--mode", "legacy"]),
            py_client(&["http", url.as_str(), "--mode", "2026-07-28"]),
        );
        // The demo server speaks 2026-07-28, so the auto probe settles on it.
        check_py_report(&auto, false);
        check_py_report(&legacy, true);
        check_py_report(&modern, false);
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn python_client_through_stdio_front() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let notes = TempDir::new().unwrap();
        let cfg = StdioConfig::new(&demo_upstream_toml("demo", notes.path(), ""));
        let config = cfg.path().display().to_string();
        let gateway = bin().display().to_string();
        let (auto, legacy, modern) = tokio::join!(
            py_client(&["stdio", "--", &gateway, "stdio", "--config", &config]),
            py_client(&[
                "stdio", "--mode", "legacy", "--", &gateway, "stdio", "--config", &config
            ]),
            py_client(&[
                "stdio",
                "--mode",
                "2026-07-28",
                "--",
                &gateway,
                "stdio",
                "--config",
                &config
            ]),
        );
        // The demo server speaks 2026-07-28, so the auto probe settles on it.
        check_py_report(&auto, false);
        check_py_report(&legacy, true);
        check_py_report(&modern, false);
    })
    .await
    .unwrap();
}

// --- The npm reference servers as upstreams ----------------------------------------------------

fn everything_toml(extra: &str) -> String {
    let node = peer_env("MCPGATE_NODE");
    let everything = peer_env("MCPGATE_EVERYTHING");
    stdio_upstream_toml("everything", &node, &[&everything, "stdio"], extra)
}

/// Lists the everything server's tools and calls its `echo`.
async fn check_everything(client: &McpClient, era: ClientEra) {
    assert_era(client, era);
    let names = tool_names(client).await.unwrap();
    for tool in ["echo", "get-sum"] {
        assert!(
            names.iter().any(|n| n == tool),
            "{tool} missing from {names:?}"
        );
    }
    let echoed = call_text(client, "echo", json!({ "message": MESSAGE }))
        .await
        .unwrap();
    assert_eq!(echoed, format!("Echo: {MESSAGE}"));
    // For a modern client the gateway builds this from the upstream's initialize result.
    let info = client.peer_info().unwrap();
    assert_eq!(
        info.server_info.as_ref().map(|i| i.name.as_str()),
        Some("mcp-servers/everything")
    );
}

#[tokio::test]
async fn everything_server_per_session_with_a_legacy_client() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let gw = GatewayProcess::start(bin(), &everything_toml(""))
            .await
            .unwrap();
        let client = connect_gateway(&gw, ClientEra::Legacy).await;
        check_everything(&client, ClientEra::Legacy).await;
        finish(client).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn everything_server_shared_with_legacy_and_modern_clients() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let gw = GatewayProcess::start(bin(), &everything_toml("sharing = \"shared\""))
            .await
            .unwrap();
        let legacy = connect_gateway(&gw, ClientEra::Legacy).await;
        let modern = connect_gateway(&gw, ClientEra::Modern).await;
        tokio::join!(
            check_everything(&legacy, ClientEra::Legacy),
            check_everything(&modern, ClientEra::Modern)
        );
        finish(legacy).await;
        finish(modern).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn everything_server_per_session_with_a_modern_client() {
    setup();
    timeout(TEST_TIMEOUT, async {
        // The default (per-session) configuration: a modern client is served on the shared
        // link, where the gateway falls back to initialize and answers server/discover itself.
        let gw = GatewayProcess::start(bin(), &everything_toml(""))
            .await
            .unwrap();
        let client = connect_gateway(&gw, ClientEra::Modern).await;
        check_everything(&client, ClientEra::Modern).await;
        finish(client).await;
        let audit = gw.audit();
        assert!(
            audit
                .iter()
                .any(|r| r["method"] == "server/discover" && r["verdict"] == "allow"),
            "{audit:?}"
        );
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn filesystem_server_reads_a_file_for_a_legacy_client() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let node = peer_env("MCPGATE_NODE");
        let filesystem = peer_env("MCPGATE_FILESYSTEM");
        let root = TempDir::new().unwrap();
        let root_path = std::fs::canonicalize(root.path()).unwrap();
        let file = root_path.join("greeting.txt");
        std::fs::write(&file, "written by the test\nsecond line\n").unwrap();
        let root_arg = root_path.display().to_string();
        let gw = GatewayProcess::start(
            bin(),
            &stdio_upstream_toml("files", &node, &[&filesystem, &root_arg], ""),
        )
        .await
        .unwrap();
        let client = connect_gateway(&gw, ClientEra::Legacy).await;
        assert_era(&client, ClientEra::Legacy);
        let names = tool_names(&client).await.unwrap();
        for tool in ["read_text_file", "write_file", "list_directory"] {
            assert!(
                names.iter().any(|n| n == tool),
                "{tool} missing from {names:?}"
            );
        }
        let text = call_text(
            &client,
            "read_text_file",
            json!({ "path": file.display().to_string() }),
        )
        .await
        .unwrap();
        assert_eq!(text, "written by the test\nsecond line\n");
        let listing = call_text(
            &client,
            "list_directory",
            json!({ "path": root_arg.clone() }),
        )
        .await
        .unwrap();
        assert!(listing.contains("greeting.txt"), "{listing}");
        finish(client).await;
    })
    .await
    .unwrap();
}

// --- The Python dual-era server as a modern upstream ------------------------------------------

#[tokio::test]
async fn python_server_relays_modern_to_modern() {
    setup();
    timeout(TEST_TIMEOUT, async {
        let python = peer_env("MCPGATE_PYTHON");
        let script = repo_path(
            env!("CARGO_MANIFEST_DIR"),
            "tests/interop/py_echo_server.py",
        );
        let script = script.display().to_string();
        // era = "modern": the gateway must speak 2026-07-28 to the upstream or fail.
        let gw = GatewayProcess::start(
            bin(),
            &stdio_upstream_toml("py", &python, &[&script, "stdio"], "era = \"modern\""),
        )
        .await
        .unwrap();
        let client = connect_gateway(&gw, ClientEra::Modern).await;
        check_echo_add(&client, ClientEra::Modern).await;
        let info = client.peer_info().unwrap();
        assert_eq!(
            info.server_info.as_ref().map(|i| i.name.as_str()),
            Some("py-echo")
        );
        finish(client).await;
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn python_http_server_as_upstream_both_eras() {
    setup();
    timeout(TEST_TIMEOUT, async {
        use tokio::io::AsyncBufReadExt as _;
        let python = peer_env("MCPGATE_PYTHON");
        let script = repo_path(
            env!("CARGO_MANIFEST_DIR"),
            "tests/interop/py_echo_server.py",
        );
        let mut server = tokio::process::Command::new(&python)
            .arg(&script)
            .args(["http", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = server.stdout.take().unwrap();
        let mut line = String::new();
        timeout(
            PEER_TIMEOUT,
            tokio::io::BufReader::new(stdout).read_line(&mut line),
        )
        .await
        .expect("py_echo_server.py did not announce its URL")
        .unwrap();
        let url = line.trim();
        assert!(
            url.starts_with("http://127.0.0.1:"),
            "unexpected announcement {line:?}"
        );
        join_all(
            [
                (ClientEra::Legacy, "sharing = \"per-session\""),
                (ClientEra::Legacy, "sharing = \"shared\""),
                (ClientEra::Modern, ""),
            ]
            .map(|(era, extra)| async move {
                let gw = GatewayProcess::start(bin(), &http_upstream_toml("py", url, extra))
                    .await
                    .unwrap();
                let client = connect_gateway(&gw, era).await;
                check_echo_add(&client, era).await;
                let info = client.peer_info().unwrap();
                assert_eq!(
                    info.server_info.as_ref().map(|i| i.name.as_str()),
                    Some("py-echo")
                );
                finish(client).await;
                assert_audited(&gw.audit(), era);
            }),
        )
        .await;
        server.kill().await.unwrap();
    })
    .await
    .unwrap();
}
