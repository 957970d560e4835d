//! The configuration file format, exactly as written: serde types that
//! reject unknown keys and check nothing else.
//!
//! Validation turns these into the typed configuration in [`crate::model`].
//! The JSON Schema of the file format is generated from these types, so
//! their doc comments are the descriptions editors show.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::Deserialize;
use serde::de::{Deserializer, MapAccess, Visitor};

use crate::raw_mcps::RawMcps;
use crate::raw_security::{RawAuth, RawAuthorization, RawCredential, RawTls};

/// mcpgate configuration file.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "McpgateConfig", title = "mcpgate configuration")]
pub(crate) struct RawConfig {
    /// How the gateway listens and what it accepts from clients.
    pub(crate) server: Option<RawServer>,
    /// The MCP servers behind the gateway, one `[upstreams.NAME]` table
    /// each; at least one is required.
    #[schemars(required)]
    pub(crate) upstreams: Option<RawUpstreams>,
    /// JSON-RPC method policy.
    pub(crate) jsonrpc: Option<RawJsonRpc>,
    /// Where audit records go.
    pub(crate) audit: Option<RawAudit>,
    /// Diagnostic logging.
    pub(crate) log: Option<RawLog>,
    /// Authentication of clients.
    pub(crate) auth: Option<RawAuth>,
    /// Authorization policies.
    pub(crate) authorization: Option<RawAuthorization>,
    /// MCPS message signatures.
    pub(crate) mcps: Option<RawMcps>,
}

/// How the gateway listens and what it accepts from clients.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Server")]
pub(crate) struct RawServer {
    /// Address and port to listen on. Only loopback addresses are accepted
    /// unless `[server.dangerous] allow_non_loopback_bind = true`.
    #[schemars(extend("default" = "127.0.0.1:7878"))]
    pub(crate) listen: Option<String>,
    /// Accepted `Host` header values (host part only, no port).
    #[schemars(extend("default" = ["localhost", "127.0.0.1", "::1"]))]
    pub(crate) allowed_hosts: Option<Vec<String>>,
    /// Origins such as `https://app.example.com` accepted in addition to
    /// loopback origins.
    #[schemars(extend("default" = []))]
    pub(crate) allowed_origins: Option<Vec<String>>,
    /// Largest request body accepted, in bytes.
    #[schemars(range(min = 1024), extend("default" = 4_194_304))]
    pub(crate) max_body_bytes: Option<i64>,
    /// Deepest JSON nesting accepted.
    #[schemars(range(min = 1, max = 512), extend("default" = 64))]
    pub(crate) max_depth: Option<i64>,
    /// How long one request may take, such as `60s` or `2m`.
    #[schemars(extend("default" = "60s"))]
    pub(crate) request_timeout: Option<String>,
    /// How long in-flight work may run on after a shutdown signal.
    #[schemars(extend("default" = "10s"))]
    pub(crate) shutdown_grace: Option<String>,
    /// Most legacy HTTP sessions open at once.
    #[schemars(range(min = 1), extend("default" = 1024))]
    pub(crate) max_sessions: Option<i64>,
    /// How long a legacy HTTP session may stay unused before it is closed.
    #[schemars(extend("default" = "30m"))]
    pub(crate) session_idle_timeout: Option<String>,
    /// TLS for the HTTP front.
    pub(crate) tls: Option<RawTls>,
    /// Settings that weaken the gateway's protection.
    pub(crate) dangerous: Option<RawDangerous>,
}

/// Settings that weaken the gateway's protection; all off by default.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "ServerDangerous")]
pub(crate) struct RawDangerous {
    /// Allow `server.listen` to be an address other than loopback, exposing
    /// the gateway to other machines.
    #[schemars(extend("default" = false))]
    pub(crate) allow_non_loopback_bind: Option<bool>,
}

/// The `[upstreams.NAME]` tables, in file order.
#[derive(Debug, Default)]
pub(crate) struct RawUpstreams(pub(crate) Vec<(String, RawUpstream)>);

impl<'de> Deserialize<'de> for RawUpstreams {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(UpstreamsVisitor)
    }
}

/// Collects upstream tables and restores their order in the file, which
/// the TOML parser does not keep.
struct UpstreamsVisitor;

impl<'de> Visitor<'de> for UpstreamsVisitor {
    type Value = RawUpstreams;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a table of upstream tables")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawUpstreams, A::Error> {
        let mut entries = Vec::new();
        while let Some(name) = map.next_key::<toml::Spanned<String>>()? {
            let upstream = map.next_value::<RawUpstream>()?;
            entries.push((name.span().start, name.into_inner(), upstream));
        }
        entries.sort_by_key(|(start, _, _)| *start);
        Ok(RawUpstreams(
            entries
                .into_iter()
                .map(|(_, name, upstream)| (name, upstream))
                .collect(),
        ))
    }
}

impl JsonSchema for RawUpstreams {
    fn schema_name() -> Cow<'static, str> {
        "Upstreams".into()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        let upstream = generator.subschema_for::<RawUpstream>();
        json_schema!({
            "type": "object",
            "description": "The MCP servers behind the gateway, keyed by name.",
            "minProperties": 1,
            "propertyNames": { "pattern": "^[A-Za-z0-9_-]{1,64}$" },
            "additionalProperties": upstream,
        })
    }
}

/// One MCP server behind the gateway. `transport` decides which of the
/// transport-specific keys apply.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Upstream", transform = require_transport_keys)]
pub(crate) struct RawUpstream {
    /// `stdio` runs a child process; `http` connects to a Streamable HTTP
    /// endpoint.
    #[schemars(required)]
    pub(crate) transport: Option<RawTransport>,
    /// Serve clients that do not name an upstream; at most one upstream may
    /// set it. Without it the first upstream is the default.
    #[schemars(extend("default" = false))]
    pub(crate) default: Option<bool>,
    /// Which protocol era to speak: `auto` probes the upstream.
    #[schemars(extend("default" = "auto"))]
    pub(crate) era: Option<RawEra>,
    /// Whether client sessions get their own connection or child process.
    /// Defaults to `per-session` for stdio and `shared` for http.
    pub(crate) sharing: Option<RawSharing>,
    /// Most connections or child processes open to this upstream at once.
    #[schemars(range(min = 1), extend("default" = 16))]
    pub(crate) max_sessions: Option<i64>,
    /// How long to wait for an answer when probing the protocol era.
    #[schemars(extend("default" = "3s"))]
    pub(crate) probe_timeout: Option<String>,
    /// Overrides `server.request_timeout` for this upstream.
    pub(crate) request_timeout: Option<String>,
    /// stdio: program to run; `$MCPGATE` means the running mcpgate binary.
    pub(crate) command: Option<String>,
    /// stdio: arguments for the program.
    pub(crate) args: Option<Vec<String>>,
    /// stdio: environment variables set for the child.
    pub(crate) env: Option<BTreeMap<String, String>>,
    /// stdio: names of variables the child inherits from the gateway's
    /// environment; nothing else is inherited. Replaces the default list.
    pub(crate) env_passthrough: Option<Vec<String>>,
    /// stdio: working directory of the child, relative to this file's
    /// directory.
    pub(crate) cwd: Option<String>,
    /// http: endpoint URL (`http` or `https`).
    pub(crate) url: Option<String>,
    /// http: extra headers sent with every request.
    pub(crate) headers: Option<BTreeMap<String, String>>,
    /// The gateway's own credential for this upstream, injected from a secret reference.
    pub(crate) credential: Option<RawCredential>,
}

/// Adds the keys each transport requires to the upstream schema.
fn require_transport_keys(schema: &mut Schema) {
    schema.insert(
        "allOf".to_owned(),
        serde_json::json!([
            {
                "if": { "properties": { "transport": { "const": "stdio" } } },
                "then": { "required": ["command"] }
            },
            {
                "if": { "properties": { "transport": { "const": "http" } } },
                "then": { "required": ["url"] }
            }
        ]),
    );
}

/// How an upstream is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Transport")]
pub(crate) enum RawTransport {
    /// A child process speaking MCP on stdin and stdout.
    Stdio,
    /// A remote Streamable HTTP endpoint.
    Http,
}

/// Which protocol era to speak to an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "Era")]
pub(crate) enum RawEra {
    /// Probe the upstream and use what it supports.
    Auto,
    /// The session-based protocol opened by an `initialize` handshake.
    Legacy,
    /// The protocol that carries its version on every request.
    Modern,
}

/// Whether client sessions get their own upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
#[schemars(rename = "Sharing")]
pub(crate) enum RawSharing {
    /// One connection or child process per client session.
    PerSession,
    /// One connection or child process for all client sessions.
    Shared,
}

/// JSON-RPC method policy.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "JsonRpc")]
pub(crate) struct RawJsonRpc {
    /// Extension methods allowed in addition to the MCP specification's
    /// catalogue.
    #[schemars(extend("default" = []))]
    pub(crate) allow_methods: Option<Vec<String>>,
}

/// Where audit records go.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Audit", transform = require_audit_path)]
pub(crate) struct RawAudit {
    /// `stderr` or `file`.
    #[schemars(extend("default" = "stderr"))]
    pub(crate) sink: Option<RawSink>,
    /// File to append to when `sink = "file"`, relative to this file's
    /// directory.
    pub(crate) path: Option<String>,
}

/// Adds "a file sink needs a path" to the audit schema.
fn require_audit_path(schema: &mut Schema) {
    schema.insert(
        "if".to_owned(),
        serde_json::json!({ "properties": { "sink": { "const": "file" } }, "required": ["sink"] }),
    );
    schema.insert(
        "then".to_owned(),
        serde_json::json!({ "required": ["path"] }),
    );
}

/// Destination of audit records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "AuditSink")]
pub(crate) enum RawSink {
    /// The gateway's standard error.
    Stderr,
    /// The file named by `path`.
    File,
}

/// Diagnostic logging.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, expecting = "a table")]
#[schemars(rename = "Log")]
pub(crate) struct RawLog {
    /// `human` or `json`.
    #[schemars(extend("default" = "human"))]
    pub(crate) format: Option<RawLogFormat>,
    /// A `tracing` filter directive such as `info` or `mcpgate=debug,info`.
    #[schemars(extend("default" = "info"))]
    pub(crate) level: Option<String>,
}

/// Output format of diagnostic logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "LogFormat")]
pub(crate) enum RawLogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}
