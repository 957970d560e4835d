//! Real MCP peers built on rmcp, for interoperability tests.
//!
//! - [`EchoServer`]: a small dual-era server with the tools `echo {message}` and `add {a, b}`;
//!   [`HttpServer::start`] serves it over Streamable HTTP at `http://127.0.0.1:PORT/mcp`.
//! - [`connect_http`] and [`connect_child`]: rmcp clients over Streamable HTTP or a child
//!   process's stdio, in the era chosen with [`ClientEra`].
//! - [`install_crypto_provider`]: rmcp's HTTP client is built with `reqwest-tls-no-provider`,
//!   and reqwest refuses to build any client (even for `http://` URLs) until a rustls crypto
//!   provider is installed for the process. The connect helpers call it; call it yourself
//!   before building any other reqwest client in a process that links rmcp's HTTP client.

use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolRequestParams, CallToolResult, ClientConfig, ContentBlock, Implementation,
    ProtocolVersion, ServerCapabilities, ServerConfig,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _, RunningService};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{
    StreamableHttpClientTransport, StreamableHttpServerConfig, StreamableHttpService,
    TokioChildProcess,
};
use rmcp::{RoleClient, ServerHandler, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Name the fixture server reports in its server info.
pub const ECHO_SERVER_NAME: &str = "mcpgate-test-echo";

/// Installs the ring rustls provider for the process (once; later calls do nothing).
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another thread installing one is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Arguments of the `echo` tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct EchoArgs {
    /// Text to send back unchanged.
    pub message: String,
}

/// Arguments of the `add` tool.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct AddArgs {
    /// First addend.
    pub a: f64,
    /// Second addend.
    pub b: f64,
}

/// A server with the tools `echo` and `add`; rmcp serves it in both eras.
#[derive(Debug, Clone)]
pub struct EchoServer {
    tool_router: ToolRouter<Self>,
}

impl Default for EchoServer {
    fn default() -> Self {
        Self::new()
    }
}

#[tool_router]
impl EchoServer {
    /// A new server.
    pub fn new() -> Self {
        Self {
            tool_router: Self::tool_router(),
        }
    }

    /// Returns the message unchanged.
    #[tool(description = "Return `message` unchanged.")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.message
    }

    /// Adds two numbers; integral sums are written without a fraction.
    #[tool(description = "Add two numbers; the sum is returned as text.")]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> CallToolResult {
        let sum = a + b;
        let text = if sum.fract() == 0.0 && sum.abs() < 9.0e15 {
            format!("{sum:.0}")
        } else {
            sum.to_string()
        };
        CallToolResult::success(vec![ContentBlock::text(text)])
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for EchoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new(ECHO_SERVER_NAME, "1.0.0"))
    }
}

/// [`EchoServer`] served over Streamable HTTP on a loopback port.
#[derive(Debug)]
pub struct HttpServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: Option<JoinHandle<()>>,
}

impl HttpServer {
    /// Serves a fresh [`EchoServer`] per session at `/mcp` on `127.0.0.1:0`; only the Host
    /// names `127.0.0.1` and `localhost` are accepted.
    pub async fn start() -> anyhow::Result<Self> {
        let stop = CancellationToken::new();
        let config = StreamableHttpServerConfig::default()
            .with_allowed_hosts(["127.0.0.1", "localhost"])
            .with_sse_keep_alive(Some(Duration::from_secs(5)))
            .with_cancellation_token(stop.child_token());
        let service = StreamableHttpService::new(
            || Ok(EchoServer::new()),
            Arc::new(LocalSessionManager::default()),
            config,
        );
        let app = axum::Router::new().route_service("/mcp", service);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("cannot bind the fixture server")?;
        let addr = listener.local_addr()?;
        let shutdown = stop.clone();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
        });
        Ok(Self {
            addr,
            stop,
            task: Some(task),
        })
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// Stops serving: sessions end, connections close (bounded to 5 s).
    pub async fn stop(mut self) {
        self.stop.cancel();
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop.cancel();
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Which lifecycle a client uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientEra {
    /// The `initialize` handshake, offering 2025-11-25.
    Legacy,
    /// The `initialize` handshake offering rmcp's default revision, 2026-07-28, as a plain
    /// `ServiceExt::serve` does; servers answer it with a legacy revision.
    InitializeLatest,
    /// `server/discover`, then per-request `_meta` with 2026-07-28 (no fall-back).
    Modern,
}

impl ClientEra {
    /// Whether the session runs a legacy (initialize-based) revision.
    pub fn is_legacy(self) -> bool {
        self != Self::Modern
    }
}

/// A connected rmcp client.
pub type McpClient = RunningService<RoleClient, ClientConfig>;

/// The client configuration (and lifecycle) for `era`.
fn client_setup(era: ClientEra) -> (ClientConfig, ClientLifecycleMode) {
    let mut info = ClientConfig::default();
    info.client_info = Implementation::new("mcpgate-interop", "0");
    let lifecycle = match era {
        ClientEra::Legacy => {
            info.protocol_version = ProtocolVersion::V_2025_11_25;
            ClientLifecycleMode::Initialize
        }
        ClientEra::InitializeLatest => {
            info.protocol_version = ProtocolVersion::LATEST;
            ClientLifecycleMode::Initialize
        }
        ClientEra::Modern => ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        },
    };
    (info, lifecycle)
}

/// Connects an rmcp client to a Streamable HTTP endpoint.
pub async fn connect_http(url: &str, era: ClientEra) -> anyhow::Result<McpClient> {
    install_crypto_provider();
    let transport = StreamableHttpClientTransport::from_uri(url.to_owned());
    let (info, lifecycle) = client_setup(era);
    info.serve_with_lifecycle(transport, lifecycle)
        .await
        .with_context(|| format!("cannot connect to {url} ({era:?})"))
}

/// Starts `command` (stdin and stdout piped, stderr as `stderr`) and connects an rmcp client
/// to it; the child is killed when the client is dropped.
pub async fn connect_child(
    mut command: tokio::process::Command,
    stderr: Stdio,
    era: ClientEra,
) -> anyhow::Result<McpClient> {
    command.kill_on_drop(true);
    let (transport, _) = TokioChildProcess::builder(command)
        .stderr(stderr)
        .spawn()
        .context("cannot start the child process")?;
    let (info, lifecycle) = client_setup(era);
    info.serve_with_lifecycle(transport, lifecycle)
        .await
        .with_context(|| format!("cannot connect to the child process ({era:?})"))
}

/// The sorted names of every tool the server lists (all pages).
pub async fn tool_names(client: &McpClient) -> anyhow::Result<Vec<String>> {
    let mut names: Vec<String> = client
        .list_all_tools()
        .await
        .context("tools/list failed")?
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    names.sort();
    Ok(names)
}

/// Calls `name` with `arguments` (an object) and returns the result.
pub async fn call(
    client: &McpClient,
    name: &str,
    arguments: Value,
) -> anyhow::Result<CallToolResult> {
    let Value::Object(arguments) = arguments else {
        anyhow::bail!("tool arguments must be an object");
    };
    let params = CallToolRequestParams::new(name.to_owned()).with_arguments(arguments);
    client
        .call_tool(params)
        .await
        .with_context(|| format!("tools/call {name} failed"))
}

/// Calls `name` and returns the text of its first content block; a tool error or a
/// non-text first block is an error.
pub async fn call_text(client: &McpClient, name: &str, arguments: Value) -> anyhow::Result<String> {
    let result = call(client, name, arguments).await?;
    if result.is_error == Some(true) {
        anyhow::bail!("tool {name} returned an error result: {result:?}");
    }
    match result.content.first() {
        Some(ContentBlock::Text(t)) => Ok(t.text.clone()),
        other => anyhow::bail!("tool {name} returned no text content: {other:?}"),
    }
}
