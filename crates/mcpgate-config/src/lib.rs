//! mcpgate configuration: the TOML file format, its validation into a typed
//! [`Config`], its JSON Schema, and the import of client `mcpServers` files.
//!
//! Parse, don't validate: the file is read into raw serde types that refuse
//! unknown keys, then checked once and turned into [`Config`], whose values
//! the rest of the gateway can use without further checks. Errors name the
//! file and the line and column or the dotted key of the problem:
//!
//! ```text
//! config `gateway.toml` line 3, column 1: unknown field `lisen`, expected one of `listen`, ...
//! config `gateway.toml`: `upstreams.demo.command`: must not be empty
//! ```
//!
//! A minimal file:
//!
//! ```toml
//! [upstreams.demo]
//! transport = "stdio"
//! command = "$MCPGATE"
//! args = ["demo-server"]
//! ```

mod error;
mod import;
mod mcps;
mod model;
mod raw;
mod raw_mcps;
mod raw_security;
mod schema;
mod security;
mod validate;
mod validate_mcps;
mod validate_security;

use std::path::Path;

pub use error::ConfigError;
pub use mcps::{McpsConfig, McpsProfile, McpsRequirement, ReplayConfig, RevocationAuthorityConfig};
pub use model::{
    AuditConfig, AuditSink, Config, DEFAULT_ENV_PASSTHROUGH, EraPreference, HttpUpstream,
    JsonRpcConfig, LogConfig, LogFormat, MCPGATE_COMMAND, ServerConfig, ServerDangerous, Sharing,
    StdioUpstream, UpstreamConfig, UpstreamTransport,
};
pub use security::{
    ApiKeyConfig, AuthConfig, AuthorizationConfig, CertIdentityConfig, ClientAuth,
    CredentialConfig, CredentialTarget, JwksSource, JwtConfig, MtlsConfig, PrincipalConfig,
    PrincipalKindConfig, SecretRef, TlsConfig, TokensConfig, local_user,
};

/// Reads, parses and validates the configuration file at `path`.
///
/// Relative paths in the file (`cwd`, `audit.path`) are resolved against the
/// file's directory.
///
/// # Errors
///
/// Fails when the file cannot be read, is not valid TOML, has unknown keys
/// or values of the wrong type, or has values that are not acceptable.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError::new(&origin, format!("cannot read the file: {error}")))?;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    validate::parse_toml(&text, &origin, absolute.parent())
}

/// Parses and validates configuration `text`.
///
/// `origin` is the file name used in error messages; relative paths in the
/// text are resolved against its directory, and kept as written when it has
/// none.
///
/// # Errors
///
/// Fails when `text` is not valid TOML, has unknown keys or values of the
/// wrong type, or has values that are not acceptable.
pub fn parse(text: &str, origin: &str) -> Result<Config, ConfigError> {
    validate::parse_toml(text, origin, Path::new(origin).parent())
}

/// The configuration used when no file is given: one stdio upstream `demo`
/// running `$MCPGATE demo-server`, and every other setting at its default.
#[must_use]
pub fn embedded_default() -> Config {
    Config {
        server: ServerConfig::default(),
        upstreams: vec![UpstreamConfig {
            name: "demo".to_owned(),
            default: false,
            transport: UpstreamTransport::Stdio(StdioUpstream {
                command: MCPGATE_COMMAND.to_owned(),
                args: vec!["demo-server".to_owned()],
                env: std::collections::BTreeMap::new(),
                env_passthrough: model::default_env_passthrough(),
                cwd: None,
            }),
            era: EraPreference::Auto,
            sharing: Sharing::PerSession,
            max_sessions: model::DEFAULT_UPSTREAM_MAX_SESSIONS,
            probe_timeout: model::DEFAULT_PROBE_TIMEOUT,
            request_timeout: None,
            credential: None,
        }],
        jsonrpc: JsonRpcConfig::default(),
        audit: AuditConfig::default(),
        log: LogConfig::default(),
        auth: None,
        authorization: None,
        mcps: None,
    }
}

/// The JSON Schema (draft 2020-12) of the configuration file format.
#[must_use]
pub fn json_schema() -> serde_json::Value {
    schema::generate()
}

/// Converts a client's MCP server list (`{"mcpServers": ...}` of Claude
/// Desktop, Claude Code and Cursor, or `{"servers": ...}` of VS Code) into
/// mcpgate TOML ready for `mcpgate run --config`.
///
/// `origin` names the source file in errors and in the header comment. The
/// first server becomes the default upstream; names that are not valid
/// upstream names have their other characters replaced by `-`.
///
/// # Errors
///
/// Fails when `json` is not JSON, lists no servers, or has a server that
/// cannot be converted (no `command` or `url`, a URL that is not `http` or
/// `https`, values of the wrong type).
pub fn import_mcp_servers(json: &str, origin: &str) -> Result<String, ConfigError> {
    import::import(json, origin)
}
