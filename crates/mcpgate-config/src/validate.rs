//! Parsing and validation: TOML text becomes the raw file format, which is
//! checked and turned into the typed configuration.
//!
//! The first problem found is reported, naming the file and either the line
//! and column (for TOML syntax and type errors) or the dotted key (for
//! values that are well typed but not acceptable).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{ConfigError, KeyPath};
use crate::model::{
    AuditConfig, AuditSink, Config, DEFAULT_LOG_LEVEL, DEFAULT_PROBE_TIMEOUT,
    DEFAULT_UPSTREAM_MAX_SESSIONS, EraPreference, HttpUpstream, JsonRpcConfig, LogConfig,
    LogFormat, MAX_MAX_DEPTH, MIN_MAX_BODY_BYTES, ServerConfig, ServerDangerous, Sharing,
    StdioUpstream, UpstreamConfig, UpstreamTransport, default_env_passthrough,
};
use crate::raw::{
    RawAudit, RawConfig, RawEra, RawJsonRpc, RawLog, RawLogFormat, RawServer, RawSharing, RawSink,
    RawTransport, RawUpstream, RawUpstreams,
};

/// Longest duration accepted anywhere, so that adding it to a clock reading
/// can never overflow.
const MAX_DURATION: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Longest upstream name.
const MAX_NAME_LEN: usize = 64;

/// Header names the gateway manages itself and so refuses as static
/// upstream headers.
pub(crate) const MANAGED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "upgrade",
    "te",
    "trailer",
    "mcp-session-id",
    "mcp-protocol-version",
];

/// Parses and validates `text`; `origin` names the file in errors and
/// `base_dir` is where relative paths are resolved from (`None` keeps them
/// as written).
pub(crate) fn parse_toml(
    text: &str,
    origin: &str,
    base_dir: Option<&Path>,
) -> Result<Config, ConfigError> {
    let raw: RawConfig = toml::from_str(text).map_err(|error| {
        ConfigError::at_span(origin, text, error.span(), polish(error.message()))
    })?;
    Checker { origin, base_dir }.config(raw)
}

/// Rewords the few serde messages that would otherwise mention Rust types or
/// serde's data model instead of TOML's.
fn polish(message: &str) -> String {
    let message = message.trim_end().trim_end_matches('.');
    message
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected an array")
        .replace("expected a map", "expected a table")
        .replace("type: sequence", "type: array")
        .replace("type: map", "type: table")
        .replace("floating point", "float")
}

/// What validation needs to know besides the raw values.
pub(crate) struct Checker<'a> {
    pub(crate) origin: &'a str,
    pub(crate) base_dir: Option<&'a Path>,
}

impl Checker<'_> {
    pub(crate) fn error(&self, key: &KeyPath, message: impl Into<String>) -> ConfigError {
        ConfigError::at_key(self.origin, key, message)
    }

    fn config(&self, raw: RawConfig) -> Result<Config, ConfigError> {
        let config = Config {
            server: self.server(raw.server.unwrap_or_default())?,
            upstreams: self.upstreams(raw.upstreams)?,
            jsonrpc: self.jsonrpc(raw.jsonrpc.unwrap_or_default())?,
            audit: self.audit(raw.audit.unwrap_or_default())?,
            log: self.log(raw.log.unwrap_or_default())?,
            auth: match raw.auth {
                Some(auth) => Some(self.auth(auth)?),
                None => None,
            },
            authorization: match raw.authorization {
                Some(authorization) => Some(self.authorization(authorization)?),
                None => None,
            },
            mcps: self.mcps(raw.mcps)?,
        };
        self.cross_check(&config)?;
        self.mcps_cross_check(&config)?;
        Ok(config)
    }

    fn server(&self, raw: RawServer) -> Result<ServerConfig, ConfigError> {
        let at = |key: &str| KeyPath::root("server").child(key);
        let defaults = ServerConfig::default();
        let dangerous = ServerDangerous {
            allow_non_loopback_bind: raw
                .dangerous
                .and_then(|dangerous| dangerous.allow_non_loopback_bind)
                .unwrap_or(false),
        };
        let listen = match raw.listen {
            Some(text) => self.listen(&at("listen"), &text, dangerous)?,
            None => defaults.listen,
        };
        let allowed_hosts = match raw.allowed_hosts {
            Some(hosts) => self.hosts(&at("allowed_hosts"), hosts)?,
            None => defaults.allowed_hosts,
        };
        let allowed_origins = match raw.allowed_origins {
            Some(origins) => self.origins(&at("allowed_origins"), origins)?,
            None => defaults.allowed_origins,
        };
        Ok(ServerConfig {
            listen,
            allowed_hosts,
            allowed_origins,
            max_body_bytes: self.count(
                &at("max_body_bytes"),
                raw.max_body_bytes,
                defaults.max_body_bytes,
                MIN_MAX_BODY_BYTES,
                None,
            )?,
            max_depth: self.count(
                &at("max_depth"),
                raw.max_depth,
                defaults.max_depth,
                1,
                Some(MAX_MAX_DEPTH),
            )?,
            request_timeout: self
                .duration(
                    &at("request_timeout"),
                    raw.request_timeout.as_deref(),
                    false,
                )?
                .unwrap_or(defaults.request_timeout),
            shutdown_grace: self
                .duration(&at("shutdown_grace"), raw.shutdown_grace.as_deref(), true)?
                .unwrap_or(defaults.shutdown_grace),
            max_sessions: self.count(
                &at("max_sessions"),
                raw.max_sessions,
                defaults.max_sessions,
                1,
                None,
            )?,
            session_idle_timeout: self
                .duration(
                    &at("session_idle_timeout"),
                    raw.session_idle_timeout.as_deref(),
                    false,
                )?
                .unwrap_or(defaults.session_idle_timeout),
            tls: match raw.tls {
                Some(tls) => Some(self.tls(tls)?),
                None => None,
            },
            dangerous,
        })
    }

    fn listen(
        &self,
        key: &KeyPath,
        text: &str,
        dangerous: ServerDangerous,
    ) -> Result<SocketAddr, ConfigError> {
        let listen: SocketAddr = text.trim().parse().map_err(|_| {
            self.error(
                key,
                format!(
                    "`{text}` is not an IP address and port like `127.0.0.1:7878` or `[::1]:7878`"
                ),
            )
        })?;
        if !listen.ip().to_canonical().is_loopback() && !dangerous.allow_non_loopback_bind {
            return Err(self.error(
                key,
                format!(
                    "`{text}` is not a loopback address, so the gateway would be reachable from \
                     other machines; to allow that, set `allow_non_loopback_bind = true` under \
                     `[server.dangerous]`"
                ),
            ));
        }
        Ok(listen)
    }

    fn hosts(&self, key: &KeyPath, hosts: Vec<String>) -> Result<Vec<String>, ConfigError> {
        if hosts.is_empty() {
            return Err(self.error(
                key,
                "must list at least one host, or every request would be refused",
            ));
        }
        let mut normalised = Vec::with_capacity(hosts.len());
        for (index, host) in hosts.iter().enumerate() {
            let host = normalise_host(host).ok_or_else(|| {
                self.error(
                    &key.index(index),
                    format!(
                        "`{host}` is not a host name or IP address (without a port), such as \
                         `localhost` or `::1`"
                    ),
                )
            })?;
            if !normalised.contains(&host) {
                normalised.push(host);
            }
        }
        Ok(normalised)
    }

    fn origins(&self, key: &KeyPath, origins: Vec<String>) -> Result<Vec<String>, ConfigError> {
        let mut normalised = Vec::with_capacity(origins.len());
        for (index, origin) in origins.iter().enumerate() {
            let origin = normalise_origin(origin).ok_or_else(|| {
                self.error(
                    &key.index(index),
                    format!(
                        "`{origin}` is not an origin: write scheme, host and optional port \
                         with no path, such as `https://app.example.com`"
                    ),
                )
            })?;
            if !normalised.contains(&origin) {
                normalised.push(origin);
            }
        }
        Ok(normalised)
    }

    /// A non-negative integer in `min..=max`, or `default` when absent.
    pub(crate) fn count(
        &self,
        key: &KeyPath,
        value: Option<i64>,
        default: usize,
        min: usize,
        max: Option<usize>,
    ) -> Result<usize, ConfigError> {
        let Some(value) = value else {
            return Ok(default);
        };
        let in_range = usize::try_from(value)
            .ok()
            .filter(|value| *value >= min && max.is_none_or(|max| *value <= max));
        in_range.ok_or_else(|| {
            let expected = match max {
                Some(max) => format!("must be between {min} and {max}"),
                None => format!("must be at least {min}"),
            };
            self.error(key, format!("{expected}, got `{value}`"))
        })
    }

    /// A duration such as `60s`, or `None` when absent.
    pub(crate) fn duration(
        &self,
        key: &KeyPath,
        text: Option<&str>,
        allow_zero: bool,
    ) -> Result<Option<Duration>, ConfigError> {
        let Some(text) = text else {
            return Ok(None);
        };
        let duration = humantime::parse_duration(text.trim()).map_err(|error| {
            self.error(
                key,
                format!("`{text}` is not a duration like `60s`, `2m` or `1h 30m`: {error}"),
            )
        })?;
        if duration.is_zero() && !allow_zero {
            return Err(self.error(key, "must be longer than zero"));
        }
        if duration > MAX_DURATION {
            return Err(self.error(
                key,
                format!(
                    "`{text}` is too long; the most accepted is `{}`",
                    humantime::format_duration(MAX_DURATION)
                ),
            ));
        }
        Ok(Some(duration))
    }

    fn upstreams(&self, raw: Option<RawUpstreams>) -> Result<Vec<UpstreamConfig>, ConfigError> {
        let key = KeyPath::root("upstreams");
        let raw = raw.map(|upstreams| upstreams.0).unwrap_or_default();
        if raw.is_empty() {
            return Err(self.error(
                &key,
                "at least one upstream is required, such as `[upstreams.demo]` with \
                 `transport = \"stdio\"` and `command = \"...\"`",
            ));
        }
        let mut upstreams: Vec<UpstreamConfig> = Vec::with_capacity(raw.len());
        for (name, raw) in raw {
            let upstream = self.upstream(&key.child(&name), name, raw)?;
            if upstream.default
                && let Some(other) = upstreams.iter().find(|other| other.default)
            {
                return Err(self.error(
                    &key.child(&upstream.name).child("default"),
                    format!(
                        "only one upstream may set `default = true`, and `{}` already does",
                        other.name
                    ),
                ));
            }
            upstreams.push(upstream);
        }
        Ok(upstreams)
    }

    fn upstream(
        &self,
        key: &KeyPath,
        name: String,
        raw: RawUpstream,
    ) -> Result<UpstreamConfig, ConfigError> {
        if !is_valid_name(&name) {
            return Err(self.error(
                key,
                format!(
                    "`{name}` is not a valid upstream name: use 1 to {MAX_NAME_LEN} letters, \
                     digits, `_` or `-`"
                ),
            ));
        }
        let Some(kind) = raw.transport else {
            return Err(self.error(
                &key.child("transport"),
                "is required: use `\"stdio\"` (with `command`) or `\"http\"` (with `url`)",
            ));
        };
        let transport = match kind {
            RawTransport::Stdio => UpstreamTransport::Stdio(self.stdio(key, &raw)?),
            RawTransport::Http => UpstreamTransport::Http(self.http(key, &raw)?),
        };
        let sharing = match (raw.sharing, kind) {
            (Some(RawSharing::PerSession), _) | (None, RawTransport::Stdio) => Sharing::PerSession,
            (Some(RawSharing::Shared), _) | (None, RawTransport::Http) => Sharing::Shared,
        };
        Ok(UpstreamConfig {
            name,
            default: raw.default.unwrap_or(false),
            transport,
            era: match raw.era {
                None | Some(RawEra::Auto) => EraPreference::Auto,
                Some(RawEra::Legacy) => EraPreference::Legacy,
                Some(RawEra::Modern) => EraPreference::Modern,
            },
            sharing,
            max_sessions: self.count(
                &key.child("max_sessions"),
                raw.max_sessions,
                DEFAULT_UPSTREAM_MAX_SESSIONS,
                1,
                None,
            )?,
            probe_timeout: self
                .duration(
                    &key.child("probe_timeout"),
                    raw.probe_timeout.as_deref(),
                    false,
                )?
                .unwrap_or(DEFAULT_PROBE_TIMEOUT),
            request_timeout: self.duration(
                &key.child("request_timeout"),
                raw.request_timeout.as_deref(),
                false,
            )?,
            credential: match &raw.credential {
                Some(credential) => Some(self.credential(
                    &key.child("credential"),
                    credential,
                    kind == RawTransport::Http,
                )?),
                None => None,
            },
        })
    }

    /// Refuses a key that belongs to the other transport.
    fn not_for(
        &self,
        key: &KeyPath,
        present: &[(&str, bool)],
        transport: &str,
    ) -> Result<(), ConfigError> {
        match present.iter().find(|(_, present)| *present) {
            Some((name, _)) => Err(self.error(
                &key.child(name),
                format!("is not used with `transport = \"{transport}\"`"),
            )),
            None => Ok(()),
        }
    }

    fn stdio(&self, key: &KeyPath, raw: &RawUpstream) -> Result<StdioUpstream, ConfigError> {
        self.not_for(
            key,
            &[
                ("url", raw.url.is_some()),
                ("headers", raw.headers.is_some()),
            ],
            "stdio",
        )?;
        let command_key = key.child("command");
        let Some(command) = &raw.command else {
            return Err(self.error(&command_key, "is required with `transport = \"stdio\"`"));
        };
        if command.trim().is_empty() {
            return Err(self.error(&command_key, "must not be empty"));
        }
        self.no_nul(&command_key, command)?;
        let args = raw.args.clone().unwrap_or_default();
        for (index, arg) in args.iter().enumerate() {
            self.no_nul(&key.child("args").index(index), arg)?;
        }
        let env = raw.env.clone().unwrap_or_default();
        for (name, value) in &env {
            let entry_key = key.child("env").child(name);
            self.env_name(&entry_key, name)?;
            self.no_nul(&entry_key, value)?;
        }
        let env_passthrough = match &raw.env_passthrough {
            Some(names) => {
                let mut unique: Vec<String> = Vec::with_capacity(names.len());
                for (index, name) in names.iter().enumerate() {
                    self.env_name(&key.child("env_passthrough").index(index), name)?;
                    if !unique.contains(name) {
                        unique.push(name.clone());
                    }
                }
                unique
            }
            None => default_env_passthrough(),
        };
        let cwd = match &raw.cwd {
            Some(cwd) => Some(self.path(&key.child("cwd"), cwd)?),
            None => None,
        };
        Ok(StdioUpstream {
            command: command.clone(),
            args,
            env,
            env_passthrough,
            cwd,
        })
    }

    fn http(&self, key: &KeyPath, raw: &RawUpstream) -> Result<HttpUpstream, ConfigError> {
        self.not_for(
            key,
            &[
                ("command", raw.command.is_some()),
                ("args", raw.args.is_some()),
                ("env", raw.env.is_some()),
                ("env_passthrough", raw.env_passthrough.is_some()),
                ("cwd", raw.cwd.is_some()),
            ],
            "http",
        )?;
        let url_key = key.child("url");
        let Some(text) = &raw.url else {
            return Err(self.error(&url_key, "is required with `transport = \"http\"`"));
        };
        let url = url::Url::parse(text.trim())
            .map_err(|error| self.error(&url_key, format!("`{text}` is not a URL: {error}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(self.error(&url_key, format!("`{text}` must use `http` or `https`")));
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(self.error(
                &url_key,
                "must not contain credentials, which would show in logs; send them with \
                 `headers` instead",
            ));
        }
        let mut headers = BTreeMap::new();
        for (name, value) in raw.headers.iter().flatten() {
            let header_key = key.child("headers").child(name);
            if !is_token(name) {
                return Err(self.error(
                    &header_key,
                    format!("`{name}` is not a valid HTTP header name"),
                ));
            }
            let lower = name.to_ascii_lowercase();
            if MANAGED_HEADERS.contains(&lower.as_str()) {
                return Err(self.error(
                    &header_key,
                    format!("`{name}` is set by the gateway and cannot be configured"),
                ));
            }
            if !value
                .bytes()
                .all(|byte| byte == b'\t' || (b' '..=b'~').contains(&byte))
            {
                return Err(self.error(
                    &header_key,
                    "value must contain only visible ASCII characters, spaces and tabs",
                ));
            }
            if headers.insert(lower, value.trim().to_owned()).is_some() {
                return Err(self.error(
                    &header_key,
                    format!("`{name}` is given twice (header names ignore case)"),
                ));
            }
        }
        Ok(HttpUpstream { url, headers })
    }

    pub(crate) fn env_name(&self, key: &KeyPath, name: &str) -> Result<(), ConfigError> {
        if name.is_empty() || name.contains(['=', '\0']) {
            return Err(self.error(
                key,
                format!("`{name}` is not a valid environment variable name"),
            ));
        }
        Ok(())
    }

    pub(crate) fn no_nul(&self, key: &KeyPath, value: &str) -> Result<(), ConfigError> {
        if value.contains('\0') {
            return Err(self.error(key, "must not contain NUL characters"));
        }
        Ok(())
    }

    /// A path from the file, resolved against the file's directory.
    pub(crate) fn path(&self, key: &KeyPath, text: &str) -> Result<PathBuf, ConfigError> {
        if text.trim().is_empty() {
            return Err(self.error(key, "must not be empty"));
        }
        self.no_nul(key, text)?;
        let path = Path::new(text);
        let resolved = match self.base_dir {
            Some(base) if path.is_relative() && !base.as_os_str().is_empty() => base.join(path),
            _ => path.to_path_buf(),
        };
        // Drops `.` components and doubled separators; `..` is kept.
        Ok(resolved.components().collect())
    }

    fn jsonrpc(&self, raw: RawJsonRpc) -> Result<JsonRpcConfig, ConfigError> {
        let key = KeyPath::root("jsonrpc").child("allow_methods");
        let mut allow_methods: Vec<String> = Vec::new();
        for (index, method) in raw.allow_methods.into_iter().flatten().enumerate() {
            if method.trim().is_empty() {
                return Err(self.error(&key.index(index), "must not be empty"));
            }
            if method.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(self.error(
                    &key.index(index),
                    format!("`{method}` must not contain spaces or control characters"),
                ));
            }
            if !allow_methods.contains(&method) {
                allow_methods.push(method);
            }
        }
        Ok(JsonRpcConfig { allow_methods })
    }

    fn audit(&self, raw: RawAudit) -> Result<AuditConfig, ConfigError> {
        let key = KeyPath::root("audit");
        let sink = match (raw.sink, raw.path) {
            (None | Some(RawSink::Stderr), None) => AuditSink::Stderr,
            (None | Some(RawSink::Stderr), Some(_)) => {
                return Err(self.error(&key.child("path"), "is only used with `sink = \"file\"`"));
            }
            (Some(RawSink::File), None) => {
                return Err(self.error(&key.child("path"), "is required with `sink = \"file\"`"));
            }
            (Some(RawSink::File), Some(path)) => {
                AuditSink::File(self.path(&key.child("path"), &path)?)
            }
        };
        Ok(AuditConfig { sink })
    }

    fn log(&self, raw: RawLog) -> Result<LogConfig, ConfigError> {
        let level = match raw.level {
            Some(level) if level.trim().is_empty() => {
                return Err(self.error(
                    &KeyPath::root("log").child("level"),
                    "must not be empty; use a filter such as `info` or `mcpgate=debug`",
                ));
            }
            Some(level) => level.trim().to_owned(),
            None => DEFAULT_LOG_LEVEL.to_owned(),
        };
        Ok(LogConfig {
            format: match raw.format {
                None | Some(RawLogFormat::Human) => LogFormat::Human,
                Some(RawLogFormat::Json) => LogFormat::Json,
            },
            level,
        })
    }
}

/// Whether `name` is an acceptable upstream name.
pub(crate) fn is_valid_name(name: &str) -> bool {
    (1..=MAX_NAME_LEN).contains(&name.len())
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// Whether `name` is an RFC 9110 token, as header names must be.
pub(crate) fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// `host` lowercased, with IPv6 brackets removed and IP addresses in their
/// usual form; `None` when it is not a host name or IP address.
fn normalise_host(host: &str) -> Option<String> {
    let host = host.trim();
    if let Some(inner) = host.strip_prefix('[') {
        let address: Ipv6Addr = inner.strip_suffix(']')?.parse().ok()?;
        return Some(address.to_string());
    }
    if let Ok(address) = host.parse::<IpAddr>() {
        return Some(address.to_string());
    }
    let host = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let valid = (1..=253).contains(&host.len())
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
        });
    valid.then_some(host)
}

/// `origin` serialised as a browser would send it; `None` when it is not a
/// `scheme://host[:port]` origin.
fn normalise_origin(origin: &str) -> Option<String> {
    let origin = origin.trim();
    let (_, rest) = origin.split_once("://")?;
    if rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return None;
    }
    let url = url::Url::parse(origin).ok()?;
    url.host_str()?;
    let serialised = url.origin().ascii_serialization();
    if serialised == "null" {
        // Not a scheme browsers give a tuple origin; keep it as written.
        Some(origin.to_ascii_lowercase())
    } else {
        Some(serialised)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_normalised() {
        assert_eq!(normalise_host("LocalHost").as_deref(), Some("localhost"));
        assert_eq!(normalise_host("[::1]").as_deref(), Some("::1"));
        assert_eq!(normalise_host("0:0::1").as_deref(), Some("::1"));
        assert_eq!(
            normalise_host("example.com.").as_deref(),
            Some("example.com")
        );
        assert_eq!(normalise_host("my_host").as_deref(), Some("my_host"));
        for bad in [
            "",
            "localhost:7878",
            "a..b",
            "[::1",
            "[nope]",
            "a b",
            "*",
            "http://x",
        ] {
            assert_eq!(normalise_host(bad), None, "{bad}");
        }
    }

    #[test]
    fn origins_are_normalised() {
        assert_eq!(
            normalise_origin("https://App.Example.com").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            normalise_origin("https://app.example.com:443").as_deref(),
            Some("https://app.example.com")
        );
        assert_eq!(
            normalise_origin("http://localhost:5173").as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(
            normalise_origin("vscode-webview://abc123").as_deref(),
            Some("vscode-webview://abc123")
        );
        for bad in [
            "https://app.example.com/",
            "https://app.example.com/path",
            "https://user@app.example.com",
            "https://app.example.com?x",
            "app.example.com",
            "null",
            "*",
            "https://",
        ] {
            assert_eq!(normalise_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_tokens() {
        assert!(is_valid_name("demo"));
        assert!(is_valid_name("A_b-9"));
        assert!(is_valid_name(&"x".repeat(64)));
        assert!(!is_valid_name(&"x".repeat(65)));
        assert!(!is_valid_name(""));
        assert!(!is_valid_name("a.b"));
        assert!(is_token("X-Api-Key"));
        assert!(!is_token("x api"));
        assert!(!is_token("x:y"));
        assert!(!is_token(""));
    }

    #[test]
    fn polished_messages_name_toml_types() {
        assert_eq!(
            polish("invalid type: string \"x\", expected i64"),
            "invalid type: string \"x\", expected an integer"
        );
        assert_eq!(
            polish("invalid type: string \"x\", expected a sequence"),
            "invalid type: string \"x\", expected an array"
        );
        assert_eq!(
            polish("invalid type: sequence, expected a string."),
            "invalid type: array, expected a string"
        );
        assert_eq!(
            polish("invalid type: map, expected a boolean"),
            "invalid type: table, expected a boolean"
        );
    }
}
