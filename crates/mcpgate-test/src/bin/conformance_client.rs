//! `mcpgate-conformance-client`: the client-mode driver for the MCP conformance suite, which
//! tests mcpgate's upstream side.
//!
//! The suite starts a scenario server and runs `mcpgate-conformance-client <server-url>`, with
//! `MCP_CONFORMANCE_SCENARIO` and `MCP_CONFORMANCE_PROTOCOL_VERSION` in the environment. The
//! driver starts mcpgate (the binary named by `MCPGATE_BIN`) with the scenario server as its
//! only upstream, connects an rmcp client to the gateway in the era of that revision, lists the
//! tools, calls each with arguments built from its input schema, and stops the gateway. What
//! the scenario server records is therefore what the gateway sent upstream.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use mcpgate_test::GatewayProcess;
use mcpgate_test::fixtures::install_crypto_provider;
use rmcp::model::{
    CallToolRequestParams, ClientCapabilities, ClientConfig, ElicitRequestParams, ElicitResult,
    Implementation, ProtocolVersion,
};
use rmcp::service::{ClientLifecycleMode, ClientServiceExt as _, RequestContext};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::{ClientHandler, ErrorData as McpError, RoleClient};
use serde_json::{Map, Value, json};

/// The whole exchange must end well within the suite's 30 s scenario timeout.
const BUDGET: Duration = Duration::from_secs(20);
/// The most tools called in one scenario.
const MAX_CALLS: usize = 8;

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpgate-conformance-client: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(async { tokio::time::timeout(BUDGET, run()).await }) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            eprintln!("mcpgate-conformance-client: {e:#}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!(
                "mcpgate-conformance-client: did not finish within {} s",
                BUDGET.as_secs()
            );
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let url = std::env::args()
        .skip(1)
        .last()
        .context("usage: mcpgate-conformance-client <server-url>")?;
    let bin = PathBuf::from(
        std::env::var_os("MCPGATE_BIN").context("MCPGATE_BIN must name the mcpgate binary")?,
    );
    let version = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION")
        .unwrap_or_else(|_| "2025-11-25".to_owned());
    let modern = version.as_str() >= "2026-07-28";
    let config = format!(
        "[upstreams.scenario]\ntransport = \"http\"\nurl = {}\nera = \"{}\"\nsharing = \"per-session\"\n",
        toml_string(&url),
        if modern { "modern" } else { "legacy" },
    );
    let mut gateway = GatewayProcess::start(&bin, &config)
        .await
        .context("cannot start mcpgate")?;
    let result = exercise(&gateway.url(), modern).await;
    if result.is_err() {
        eprintln!("gateway log:\n{}", gateway.stderr());
    }
    let _ = gateway.stop().await;
    result
}

/// What the driver's client does when the server asks it something: it accepts every form
/// elicitation with the defaults of the requested schema, like a user pressing "OK".
#[derive(Debug, Clone)]
struct Driver {
    info: ClientConfig,
}

impl ClientHandler for Driver {
    fn get_info(&self) -> ClientConfig {
        self.info.clone()
    }

    async fn create_elicitation(
        &self,
        request: ElicitRequestParams,
        _ctx: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, McpError> {
        let request = serde_json::to_value(&request).unwrap_or(Value::Null);
        let mut content = Map::new();
        if let Some(props) = request
            .pointer("/requestedSchema/properties")
            .and_then(Value::as_object)
        {
            for (name, prop) in props {
                if let Some(default) = prop.get("default") {
                    content.insert(name.clone(), default.clone());
                }
            }
        }
        serde_json::from_value(json!({ "action": "accept", "content": content }))
            .map_err(|e| McpError::internal_error(e.to_string(), None))
    }
}

/// Lists the tools through the gateway and calls them: the calls the scenario asks for in
/// `MCP_CONFORMANCE_CONTEXT`, or else each tool with arguments built from its schema.
async fn exercise(gateway_url: &str, modern: bool) -> anyhow::Result<()> {
    install_crypto_provider();
    let mut info = ClientConfig::new(
        ClientCapabilities::builder().enable_elicitation().build(),
        Implementation::new("mcpgate-conformance-client", env!("CARGO_PKG_VERSION")),
    );
    let lifecycle = if modern {
        ClientLifecycleMode::Discover {
            preferred_versions: vec![ProtocolVersion::V_2026_07_28],
        }
    } else {
        info.protocol_version = ProtocolVersion::V_2025_11_25;
        ClientLifecycleMode::Initialize
    };
    let transport = StreamableHttpClientTransport::from_uri(gateway_url.to_owned());
    let client = Driver { info }
        .serve_with_lifecycle(transport, lifecycle)
        .await
        .context("cannot connect to the gateway")?;
    let tools = client
        .list_all_tools()
        .await
        .context("tools/list through the gateway failed")?;
    let context: Value = std::env::var("MCP_CONFORMANCE_CONTEXT")
        .ok()
        .and_then(|c| serde_json::from_str(&c).ok())
        .unwrap_or(Value::Null);
    let mut calls: Vec<(String, Map<String, Value>)> = Vec::new();
    if let Some(wanted) = context.get("toolCalls").and_then(Value::as_array) {
        for call in wanted {
            let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
            let args = call
                .get("arguments")
                .and_then(Value::as_object)
                .cloned()
                .unwrap_or_default();
            calls.push((name.to_owned(), args));
        }
    } else {
        for tool in tools.iter().take(MAX_CALLS) {
            let schema = Value::Object(tool.input_schema.as_ref().clone());
            let mut args = arguments(&schema);
            // A tool taking a `schema` object echoes one back: hand it another tool's input
            // schema, exactly as listed.
            if schema.pointer("/properties/schema/type") == Some(&json!("object"))
                && let Some(other) = tools.iter().find(|t| t.name != tool.name)
            {
                args.insert(
                    "schema".to_owned(),
                    Value::Object(other.input_schema.as_ref().clone()),
                );
            }
            calls.push((tool.name.to_string(), args));
        }
    }
    for (name, args) in calls {
        let params = CallToolRequestParams::new(name.clone()).with_arguments(args);
        match client.call_tool(params).await {
            Ok(result) => eprintln!("called {name}: error={:?}", result.is_error),
            Err(e) => eprintln!("called {name}: {e}"),
        }
    }
    let _ = client.cancel().await;
    Ok(())
}

/// Arguments for a tool: a value for every property of its input schema (numbers count up
/// from 5, so that `a` and `b` differ).
fn arguments(schema: &Value) -> Map<String, Value> {
    let mut args = Map::new();
    let mut number = 5;
    if let Some(props) = schema.get("properties").and_then(Value::as_object) {
        for (name, prop) in props {
            let value = match prop.get("type").and_then(Value::as_str) {
                Some("number" | "integer") => {
                    number -= 2;
                    json!(number + 2)
                }
                Some("boolean") => json!(true),
                Some("array") => json!([]),
                Some("object") => json!({}),
                _ => json!(format!("test-{name}")),
            };
            args.insert(name.clone(), value);
        }
    }
    args
}

/// `s` as a TOML basic string.
fn toml_string(s: &str) -> String {
    Value::String(s.to_owned()).to_string()
}
