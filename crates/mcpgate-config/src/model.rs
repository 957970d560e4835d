//! The validated configuration the rest of the gateway reads.
//!
//! Every value here has already been checked: addresses parse, limits are in
//! range, names are well formed and relative paths are resolved against the
//! configuration file's directory. Nothing in this module parses text.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::security::{AuthConfig, AuthorizationConfig, CredentialConfig, TlsConfig};

/// The `command` value that stands for the running mcpgate binary.
///
/// It is kept as written in the configuration; the runtime substitutes the
/// path of its own executable when it starts the child.
pub const MCPGATE_COMMAND: &str = "$MCPGATE";

/// Environment variables a stdio upstream inherits from the gateway when its
/// configuration does not set `env_passthrough`.
///
/// Names that are not set in the gateway's environment are simply skipped.
/// The Windows names matter only there; they are harmless elsewhere.
pub const DEFAULT_ENV_PASSTHROUGH: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
    "TERM",
    "TMPDIR",
    "TZ",
    "SYSTEMROOT",
    "TEMP",
    "TMP",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "PATHEXT",
    "COMSPEC",
];

/// [`DEFAULT_ENV_PASSTHROUGH`] as owned strings.
pub(crate) fn default_env_passthrough() -> Vec<String> {
    DEFAULT_ENV_PASSTHROUGH
        .iter()
        .map(|name| (*name).to_owned())
        .collect()
}

pub(crate) const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7878);
pub(crate) const DEFAULT_ALLOWED_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];
pub(crate) const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
pub(crate) const MIN_MAX_BODY_BYTES: usize = 1024;
pub(crate) const DEFAULT_MAX_DEPTH: usize = 64;
pub(crate) const MAX_MAX_DEPTH: usize = 512;
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
pub(crate) const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
pub(crate) const DEFAULT_MAX_SESSIONS: usize = 1024;
pub(crate) const DEFAULT_SESSION_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
pub(crate) const DEFAULT_UPSTREAM_MAX_SESSIONS: usize = 16;
pub(crate) const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(3);
pub(crate) const DEFAULT_LOG_LEVEL: &str = "info";

/// The whole gateway configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// How the gateway listens and what it accepts from clients.
    pub server: ServerConfig,
    /// The MCP servers behind the gateway, in file order; never empty.
    pub upstreams: Vec<UpstreamConfig>,
    /// JSON-RPC method policy.
    pub jsonrpc: JsonRpcConfig,
    /// Where audit records go.
    pub audit: AuditConfig,
    /// Diagnostic logging.
    pub log: LogConfig,
    /// Authentication of clients; `None`: every caller is anonymous.
    pub auth: Option<AuthConfig>,
    /// Cedar authorization; `None`: no policy check.
    pub authorization: Option<AuthorizationConfig>,
    /// MCPS message signatures; `None`: signed envelopes are refused.
    pub mcps: Option<crate::mcps::McpsConfig>,
}

impl Config {
    /// The upstream called `name`, if there is one.
    #[must_use]
    pub fn upstream(&self, name: &str) -> Option<&UpstreamConfig> {
        self.upstreams.iter().find(|upstream| upstream.name == name)
    }

    /// The upstream marked `default = true`, or else the first one.
    ///
    /// # Panics
    ///
    /// Panics when `upstreams` is empty, which a validated configuration
    /// never is.
    #[must_use]
    pub fn default_upstream(&self) -> &UpstreamConfig {
        match self.upstreams.iter().find(|upstream| upstream.default) {
            Some(upstream) => upstream,
            None => &self.upstreams[0],
        }
    }
}

/// How the gateway listens and what it accepts from clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Address to listen on; loopback unless explicitly opted out.
    pub listen: SocketAddr,
    /// Accepted `Host` header values: host part only, lowercase, IPv6
    /// addresses without brackets.
    pub allowed_hosts: Vec<String>,
    /// Origins accepted in addition to loopback origins, serialised the way
    /// browsers send them (`https://app.example.com`).
    pub allowed_origins: Vec<String>,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Deepest JSON nesting accepted.
    pub max_depth: usize,
    /// How long one request may take end to end.
    pub request_timeout: Duration,
    /// How long in-flight work may run on after a shutdown signal.
    pub shutdown_grace: Duration,
    /// Most legacy HTTP sessions open at once.
    pub max_sessions: usize,
    /// How long a legacy HTTP session may stay unused before it is closed.
    pub session_idle_timeout: Duration,
    /// TLS (and client certificates) for the HTTP front.
    pub tls: Option<TlsConfig>,
    /// Settings that weaken the gateway's protection.
    pub dangerous: ServerDangerous,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN,
            allowed_hosts: DEFAULT_ALLOWED_HOSTS
                .iter()
                .map(|host| (*host).to_owned())
                .collect(),
            allowed_origins: Vec::new(),
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_depth: DEFAULT_MAX_DEPTH,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            shutdown_grace: DEFAULT_SHUTDOWN_GRACE,
            max_sessions: DEFAULT_MAX_SESSIONS,
            session_idle_timeout: DEFAULT_SESSION_IDLE_TIMEOUT,
            tls: None,
            dangerous: ServerDangerous::default(),
        }
    }
}

/// Settings that weaken the gateway's protection; all off by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerDangerous {
    /// Allow `listen` to be an address other than loopback.
    pub allow_non_loopback_bind: bool,
}

/// One MCP server behind the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConfig {
    /// The key of its `[upstreams.NAME]` table.
    pub name: String,
    /// Whether this upstream serves clients that do not name one.
    pub default: bool,
    /// How to reach it.
    pub transport: UpstreamTransport,
    /// Which protocol era to speak to it.
    pub era: EraPreference,
    /// Whether client sessions get their own connection or share one.
    pub sharing: Sharing,
    /// Most connections (or child processes) open to it at once.
    pub max_sessions: usize,
    /// How long to wait for an answer when probing its protocol era.
    pub probe_timeout: Duration,
    /// Overrides the server-wide request timeout for this upstream.
    pub request_timeout: Option<Duration>,
    /// The gateway's own credential for this upstream.
    pub credential: Option<CredentialConfig>,
}

/// How an upstream is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamTransport {
    /// A child process speaking MCP on its standard input and output.
    Stdio(StdioUpstream),
    /// A remote server speaking Streamable HTTP.
    Http(HttpUpstream),
}

/// A child process speaking MCP over stdio.
#[derive(Clone, PartialEq, Eq)]
pub struct StdioUpstream {
    /// Program to run; [`MCPGATE_COMMAND`] stands for the running gateway.
    pub command: String,
    /// Arguments passed to the program.
    pub args: Vec<String>,
    /// Variables set explicitly for the child.
    pub env: BTreeMap<String, String>,
    /// Names of variables the child inherits from the gateway; nothing else
    /// is inherited.
    pub env_passthrough: Vec<String>,
    /// Working directory of the child, already resolved against the
    /// configuration file's directory; `None` inherits the gateway's.
    pub cwd: Option<PathBuf>,
}

impl fmt::Debug for StdioUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StdioUpstream")
            .field("command", &self.command)
            .field("args", &self.args)
            .field("env", &Redacted(&self.env))
            .field("env_passthrough", &self.env_passthrough)
            .field("cwd", &self.cwd)
            .finish()
    }
}

/// A remote server speaking Streamable HTTP.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpUpstream {
    /// Endpoint URL; `http` or `https`, without credentials.
    pub url: url::Url,
    /// Extra headers sent with every request, names in lowercase.
    pub headers: BTreeMap<String, String>,
}

impl fmt::Debug for HttpUpstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpUpstream")
            .field("url", &self.url.as_str())
            .field("headers", &Redacted(&self.headers))
            .finish()
    }
}

/// Shows the keys of a map and hides its values, which may be secrets.
struct Redacted<'a>(&'a BTreeMap<String, String>);

impl fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.keys().map(|key| (key, format_args!("<redacted>"))))
            .finish()
    }
}

/// Which protocol era to speak to an upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EraPreference {
    /// Probe the upstream and use what it supports.
    #[default]
    Auto,
    /// The session-based protocol opened by an `initialize` handshake.
    Legacy,
    /// The protocol that carries its version on every request.
    Modern,
}

impl EraPreference {
    /// The value as written in the configuration file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Legacy => "legacy",
            Self::Modern => "modern",
        }
    }
}

impl fmt::Display for EraPreference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether client sessions get their own upstream connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sharing {
    /// Every client session gets its own connection or child process.
    PerSession,
    /// All client sessions share one connection or child process.
    Shared,
}

impl Sharing {
    /// The value as written in the configuration file.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PerSession => "per-session",
            Self::Shared => "shared",
        }
    }
}

impl fmt::Display for Sharing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// JSON-RPC method policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JsonRpcConfig {
    /// Extension methods allowed in addition to the specification's
    /// catalogue.
    pub allow_methods: Vec<String>,
}

/// Where audit records go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    /// The destination.
    pub sink: AuditSink,
}

/// Destination of audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AuditSink {
    /// The gateway's standard error.
    #[default]
    Stderr,
    /// A file, appended to; the path is already resolved against the
    /// configuration file's directory.
    File(PathBuf),
}

/// Diagnostic logging.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogConfig {
    /// Output format.
    pub format: LogFormat,
    /// A `tracing` filter directive such as `info` or `mcpgate=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::default(),
            level: DEFAULT_LOG_LEVEL.to_owned(),
        }
    }
}

/// Output format of diagnostic logs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_secret_values() {
        let http = HttpUpstream {
            url: url::Url::parse("https://example.com/mcp").unwrap(),
            headers: BTreeMap::from([("authorization".to_owned(), "Bearer s3cret".to_owned())]),
        };
        let shown = format!("{http:?}");
        assert!(shown.contains("authorization"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(!shown.contains("s3cret"), "{shown}");

        let stdio = StdioUpstream {
            command: "server".to_owned(),
            args: Vec::new(),
            env: BTreeMap::from([("API_KEY".to_owned(), "hunter2".to_owned())]),
            env_passthrough: default_env_passthrough(),
            cwd: None,
        };
        let shown = format!("{stdio:?}");
        assert!(shown.contains("API_KEY"), "{shown}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn default_upstream_prefers_the_marked_one() {
        let upstream = |name: &str, default: bool| UpstreamConfig {
            name: name.to_owned(),
            default,
            transport: UpstreamTransport::Stdio(StdioUpstream {
                command: "server".to_owned(),
                args: Vec::new(),
                env: BTreeMap::new(),
                env_passthrough: Vec::new(),
                cwd: None,
            }),
            era: EraPreference::Auto,
            sharing: Sharing::PerSession,
            max_sessions: 1,
            probe_timeout: DEFAULT_PROBE_TIMEOUT,
            request_timeout: None,
            credential: None,
        };
        let mut config = Config {
            server: ServerConfig::default(),
            upstreams: vec![upstream("a", false), upstream("b", true)],
            jsonrpc: JsonRpcConfig::default(),
            audit: AuditConfig::default(),
            log: LogConfig::default(),
            auth: None,
            authorization: None,
            mcps: None,
        };
        assert_eq!(config.default_upstream().name, "b");
        assert_eq!(config.upstream("a").map(|u| u.name.as_str()), Some("a"));
        assert!(config.upstream("c").is_none());
        config.upstreams[1].default = false;
        assert_eq!(config.default_upstream().name, "a");
    }
}
