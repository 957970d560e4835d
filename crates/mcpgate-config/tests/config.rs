//! Loading, validating and importing configuration through the public API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mcpgate_config::{
    AuditSink, Config, ConfigError, EraPreference, HttpUpstream, LogFormat, Sharing, StdioUpstream,
    UpstreamTransport, embedded_default, import_mcp_servers, json_schema, load, parse,
};

const DEMO: &str = "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"$MCPGATE\"\n";

/// Parses `text`, keeping the text in the error for the test report.
fn accept(text: &str) -> Result<Config, String> {
    parse(text, "test.toml").map_err(|error| format!("{error}\n--- text ---\n{text}"))
}

/// The error for `text`, which must be refused.
fn refuse(text: &str) -> Result<ConfigError, String> {
    match parse(text, "test.toml") {
        Ok(config) => Err(format!("accepted {config:?}\n--- text ---\n{text}")),
        Err(error) => Ok(error),
    }
}

/// The stdio settings of upstream `name`.
fn stdio(config: &Config, name: &str) -> Option<StdioUpstream> {
    match &config.upstream(name)?.transport {
        UpstreamTransport::Stdio(stdio) => Some(stdio.clone()),
        UpstreamTransport::Http(_) => None,
    }
}

/// The HTTP settings of upstream `name`.
fn http(config: &Config, name: &str) -> Option<HttpUpstream> {
    match &config.upstream(name)?.transport {
        UpstreamTransport::Http(http) => Some(http.clone()),
        UpstreamTransport::Stdio(_) => None,
    }
}

#[test]
fn minimal_file_gets_every_default() {
    let config = accept(DEMO).unwrap();
    let server = &config.server;
    assert_eq!(
        server.listen,
        "127.0.0.1:7878".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(server.allowed_hosts, ["localhost", "127.0.0.1", "::1"]);
    assert!(server.allowed_origins.is_empty());
    assert_eq!(server.max_body_bytes, 4_194_304);
    assert_eq!(server.max_depth, 64);
    assert_eq!(server.request_timeout, Duration::from_secs(60));
    assert_eq!(server.shutdown_grace, Duration::from_secs(10));
    assert_eq!(server.max_sessions, 1024);
    assert_eq!(server.session_idle_timeout, Duration::from_secs(1800));
    assert!(!server.dangerous.allow_non_loopback_bind);

    assert_eq!(config.upstreams.len(), 1);
    let demo = &config.upstreams[0];
    assert_eq!(demo.name, "demo");
    assert!(!demo.default);
    assert_eq!(demo.era, EraPreference::Auto);
    assert_eq!(demo.sharing, Sharing::PerSession);
    assert_eq!(demo.max_sessions, 16);
    assert_eq!(demo.probe_timeout, Duration::from_secs(3));
    assert_eq!(demo.request_timeout, None);
    let demo = stdio(&config, "demo").unwrap();
    assert_eq!(demo.command, "$MCPGATE");
    assert!(demo.args.is_empty());
    assert!(demo.env.is_empty());
    assert_eq!(
        demo.env_passthrough,
        mcpgate_config::DEFAULT_ENV_PASSTHROUGH
    );
    for name in ["PATH", "HOME", "LANG", "TERM", "TMPDIR", "USER"] {
        assert!(demo.env_passthrough.iter().any(|n| n == name), "{name}");
    }
    assert_eq!(demo.cwd, None);

    assert!(config.jsonrpc.allow_methods.is_empty());
    assert_eq!(config.audit.sink, AuditSink::Stderr);
    assert_eq!(config.log.format, LogFormat::Human);
    assert_eq!(config.log.level, "info");
    assert_eq!(config.default_upstream().name, "demo");
}

#[test]
fn embedded_default_matches_its_file_form() {
    let config = embedded_default();
    let from_file = accept(&format!("{DEMO}args = [\"demo-server\"]\n")).unwrap();
    assert_eq!(config, from_file);
    assert_eq!(
        stdio(&config, "demo").unwrap().command,
        mcpgate_config::MCPGATE_COMMAND
    );
    assert_eq!(stdio(&config, "demo").unwrap().args, ["demo-server"]);
}

#[test]
fn every_key_is_read() {
    let config = accept(
        r#"
[server]
listen = "[::1]:9000"
allowed_hosts = ["LOCALHOST", "[::1]", "gateway.internal"]
allowed_origins = ["https://App.Example.com", "http://localhost:5173"]
max_body_bytes = 1024
max_depth = 512
request_timeout = "2m"
shutdown_grace = "0s"
max_sessions = 1
session_idle_timeout = "1h 30m"

[server.dangerous]
allow_non_loopback_bind = false

[upstreams.local]
transport = "stdio"
command = "/usr/bin/server"
args = ["--flag", "value"]
env = { API_KEY = "secret", "odd name" = "x" }
env_passthrough = ["PATH", "PATH", "HOME"]
cwd = "/srv/local"
era = "legacy"
sharing = "shared"
max_sessions = 2
probe_timeout = "500ms"
request_timeout = "5s"

[upstreams.remote]
transport = "http"
default = true
url = "https://mcp.example.com/mcp"
era = "modern"
sharing = "per-session"

[upstreams.remote.headers]
Authorization = "Bearer abc"
X-Team = "blue"

[jsonrpc]
allow_methods = ["x/custom", "x/custom", "vendor/thing"]

[audit]
sink = "file"
path = "/var/log/mcpgate/audit.jsonl"

[log]
format = "json"
level = "mcpgate=debug,info"
"#,
    )
    .unwrap();
    let server = &config.server;
    assert_eq!(server.listen, "[::1]:9000".parse::<SocketAddr>().unwrap());
    assert_eq!(
        server.allowed_hosts,
        ["localhost", "::1", "gateway.internal"]
    );
    assert_eq!(
        server.allowed_origins,
        ["https://app.example.com", "http://localhost:5173"]
    );
    assert_eq!(server.max_body_bytes, 1024);
    assert_eq!(server.max_depth, 512);
    assert_eq!(server.request_timeout, Duration::from_secs(120));
    assert_eq!(server.shutdown_grace, Duration::ZERO);
    assert_eq!(server.max_sessions, 1);
    assert_eq!(server.session_idle_timeout, Duration::from_secs(5400));

    let local = config.upstream("local").unwrap();
    assert_eq!(local.era, EraPreference::Legacy);
    assert_eq!(local.sharing, Sharing::Shared);
    assert_eq!(local.max_sessions, 2);
    assert_eq!(local.probe_timeout, Duration::from_millis(500));
    assert_eq!(local.request_timeout, Some(Duration::from_secs(5)));
    let local = stdio(&config, "local").unwrap();
    assert_eq!(local.command, "/usr/bin/server");
    assert_eq!(local.args, ["--flag", "value"]);
    assert_eq!(
        local.env,
        BTreeMap::from([
            ("API_KEY".to_owned(), "secret".to_owned()),
            ("odd name".to_owned(), "x".to_owned())
        ])
    );
    assert_eq!(local.env_passthrough, ["PATH", "HOME"]);
    assert_eq!(local.cwd, Some(PathBuf::from("/srv/local")));

    let remote = config.upstream("remote").unwrap();
    assert!(remote.default);
    assert_eq!(remote.era, EraPreference::Modern);
    assert_eq!(remote.sharing, Sharing::PerSession);
    assert_eq!(config.default_upstream().name, "remote");
    let remote = http(&config, "remote").unwrap();
    assert_eq!(remote.url.as_str(), "https://mcp.example.com/mcp");
    assert_eq!(
        remote.headers,
        BTreeMap::from([
            ("authorization".to_owned(), "Bearer abc".to_owned()),
            ("x-team".to_owned(), "blue".to_owned())
        ])
    );

    assert_eq!(config.jsonrpc.allow_methods, ["x/custom", "vendor/thing"]);
    assert_eq!(
        config.audit.sink,
        AuditSink::File(PathBuf::from("/var/log/mcpgate/audit.jsonl"))
    );
    assert_eq!(config.log.format, LogFormat::Json);
    assert_eq!(config.log.level, "mcpgate=debug,info");
}

#[test]
fn upstreams_keep_file_order() {
    let config = accept(
        r#"
[upstreams.zeta]
transport = "stdio"
command = "z"

[upstreams.alpha]
transport = "http"
url = "http://127.0.0.1:1/mcp"

[upstreams.mid]
transport = "stdio"
command = "m"
"#,
    )
    .unwrap();
    let names: Vec<&str> = config.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["zeta", "alpha", "mid"]);
    assert_eq!(config.default_upstream().name, "zeta");
    assert_eq!(config.upstream("alpha").unwrap().sharing, Sharing::Shared);
    assert_eq!(config.upstream("mid").unwrap().sharing, Sharing::PerSession);

    let inline = accept(
        "upstreams = { b = { transport = \"stdio\", command = \"b\" }, a = { transport = \"stdio\", command = \"a\" } }\n",
    ).unwrap();
    let names: Vec<&str> = inline.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["b", "a"]);
}

#[test]
fn mcpgate_command_is_kept_as_written() {
    let config = accept(&format!(
        "{DEMO}args = [\"demo-server\", \"--notes-dir\", \"n\"]\n"
    ))
    .unwrap();
    let demo = stdio(&config, "demo").unwrap();
    assert_eq!(demo.command, "$MCPGATE");
    assert_eq!(demo.args, ["demo-server", "--notes-dir", "n"]);
}

#[test]
fn unknown_fields_report_line_and_column() {
    let error = refuse(&format!(
        "{DEMO}\n[server]\nlisten = \"127.0.0.1:7878\"\nlisen = 1\n"
    ))
    .unwrap();
    assert_eq!(error.line(), Some(7));
    assert_eq!(error.column(), Some(1));
    let shown = error.to_string();
    assert!(
        shown.starts_with(
            "config `test.toml` line 7, column 1: unknown field `lisen`, expected one of `listen`, "
        ),
        "{shown}"
    );

    let error = refuse(&format!("{DEMO}  comand = \"x\"\n")).unwrap();
    assert_eq!((error.line(), error.column()), (Some(4), Some(3)));
    assert!(
        error.message().contains("unknown field `comand`"),
        "{error}"
    );

    let error = refuse(&format!("{DEMO}[tls]\ncert = 1\n")).unwrap();
    assert_eq!(error.line(), Some(4));
    assert!(error.message().contains("unknown field `tls`"), "{error}");

    let error = refuse(&format!(
        "{DEMO}[server.dangerous]\nallow_everything = true\n"
    ))
    .unwrap();
    assert!(
        error.message().contains("unknown field `allow_everything`"),
        "{error}"
    );
}

#[test]
fn syntax_and_type_errors_report_line_and_column() {
    let cases = [
        ("[server\n", 1, "expected `]`"),
        ("[server]\nlisten = \n", 2, "string values must be quoted"),
        ("[server]\nmax_depth = \"deep\"\n", 2, "expected an integer"),
        ("[server]\nmax_depth = 1.5\n", 2, "expected an integer"),
        (
            "[server]\nallowed_hosts = \"localhost\"\n",
            2,
            "expected an array",
        ),
        ("server = 3\n", 1, "expected a table"),
        ("upstreams = 3\n", 1, "expected a table of upstream tables"),
        (
            "[upstreams.a]\nera = \"new\"\n",
            2,
            "unknown variant `new`, expected one of `auto`, `legacy`, `modern`",
        ),
        (
            "[upstreams.a]\nsharing = \"pooled\"\n",
            2,
            "expected `per-session` or `shared`",
        ),
        (
            "[upstreams.a]\ntransport = \"ws\"\n",
            2,
            "expected `stdio` or `http`",
        ),
        ("[upstreams.a]\nargs = [1]\n", 2, "expected a string"),
        (
            "[audit]\nsink = \"syslog\"\n",
            2,
            "expected `stderr` or `file`",
        ),
        ("[server]\nlisten = 'a'\n[server]\n", 3, "duplicate key"),
    ];
    for (text, line, fragment) in cases {
        let error = refuse(text).unwrap();
        assert_eq!(error.line(), Some(line), "{text}: {error}");
        assert!(error.message().contains(fragment), "{text}: {error}");
        for rust in ["i64", "usize", "struct", "Raw", "sequence", " map"] {
            assert!(!error.message().contains(rust), "{text}: {error}");
        }
    }
}

#[test]
fn validation_errors_name_the_key() {
    let up = |extra: &str| format!("{DEMO}{extra}\n");
    let web = |extra: &str| {
        format!(
            "[upstreams.web]\ntransport = \"http\"\nurl = \"http://127.0.0.1:3001/mcp\"\n{extra}\n"
        )
    };
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "[server]\n".to_owned(),
            "upstreams",
            "at least one upstream is required",
        ),
        (
            "upstreams = {}\n".to_owned(),
            "upstreams",
            "at least one upstream is required",
        ),
        (
            format!("{DEMO}[server]\nlisten = \"localhost:80\""),
            "server.listen",
            "`localhost:80` is not an IP address and port",
        ),
        (
            format!("{DEMO}[server]\nallowed_hosts = []"),
            "server.allowed_hosts",
            "at least one host",
        ),
        (
            format!("{DEMO}[server]\nallowed_hosts = [\"ok\", \"\"]"),
            "server.allowed_hosts[1]",
            "is not a host name",
        ),
        (
            format!("{DEMO}[server]\nallowed_hosts = [\"localhost:7878\"]"),
            "server.allowed_hosts[0]",
            "without a port",
        ),
        (
            format!("{DEMO}[server]\nallowed_origins = [\"https://a.example/path\"]"),
            "server.allowed_origins[0]",
            "is not an origin",
        ),
        (
            format!("{DEMO}[server]\nallowed_origins = [\"*\"]"),
            "server.allowed_origins[0]",
            "is not an origin",
        ),
        (
            format!("{DEMO}[server]\nmax_body_bytes = 1023"),
            "server.max_body_bytes",
            "must be at least 1024, got `1023`",
        ),
        (
            format!("{DEMO}[server]\nmax_body_bytes = -1"),
            "server.max_body_bytes",
            "must be at least 1024, got `-1`",
        ),
        (
            format!("{DEMO}[server]\nmax_depth = 0"),
            "server.max_depth",
            "must be between 1 and 512, got `0`",
        ),
        (
            format!("{DEMO}[server]\nmax_depth = 513"),
            "server.max_depth",
            "must be between 1 and 512",
        ),
        (
            format!("{DEMO}[server]\nmax_sessions = 0"),
            "server.max_sessions",
            "must be at least 1",
        ),
        (
            format!("{DEMO}[server]\nrequest_timeout = \"soon\""),
            "server.request_timeout",
            "`soon` is not a duration",
        ),
        (
            format!("{DEMO}[server]\nrequest_timeout = \"60\""),
            "server.request_timeout",
            "is not a duration",
        ),
        (
            format!("{DEMO}[server]\nrequest_timeout = \"0s\""),
            "server.request_timeout",
            "must be longer than zero",
        ),
        (
            format!("{DEMO}[server]\nsession_idle_timeout = \"1000years\""),
            "server.session_idle_timeout",
            "is too long",
        ),
        (
            format!("{DEMO}[server]\nshutdown_grace = \"x\""),
            "server.shutdown_grace",
            "is not a duration",
        ),
        (
            "[upstreams.\"bad name\"]\ntransport = \"stdio\"\ncommand = \"x\"\n".to_owned(),
            "upstreams.\"bad name\"",
            "`bad name` is not a valid upstream name",
        ),
        (
            format!(
                "[upstreams.{}]\ntransport = \"stdio\"\ncommand = \"x\"\n",
                "a".repeat(65)
            ),
            "upstreams.aaaa",
            "is not a valid upstream name",
        ),
        (
            "[upstreams.demo]\ncommand = \"x\"\n".to_owned(),
            "upstreams.demo.transport",
            "is required",
        ),
        (
            "[upstreams.demo]\ntransport = \"stdio\"\n".to_owned(),
            "upstreams.demo.command",
            "is required with `transport = \"stdio\"`",
        ),
        (
            "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"\"\n".to_owned(),
            "upstreams.demo.command",
            "must not be empty",
        ),
        (
            "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"  \"\n".to_owned(),
            "upstreams.demo.command",
            "must not be empty",
        ),
        (
            "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"a\\u0000b\"\n".to_owned(),
            "upstreams.demo.command",
            "NUL",
        ),
        (
            up("args = [\"ok\", \"a\\u0000\"]"),
            "upstreams.demo.args[1]",
            "NUL",
        ),
        (
            up("url = \"http://x/\""),
            "upstreams.demo.url",
            "is not used with `transport = \"stdio\"`",
        ),
        (
            up("headers = { a = \"b\" }"),
            "upstreams.demo.headers",
            "is not used with `transport = \"stdio\"`",
        ),
        (
            up("env = { \"A=B\" = \"x\" }"),
            "upstreams.demo.env.\"A=B\"",
            "is not a valid environment variable name",
        ),
        (
            up("env = { \"\" = \"x\" }"),
            "upstreams.demo.env.\"\"",
            "is not a valid environment variable name",
        ),
        (
            up("env_passthrough = [\"PATH\", \"\"]"),
            "upstreams.demo.env_passthrough[1]",
            "is not a valid environment variable name",
        ),
        (up("cwd = \"\""), "upstreams.demo.cwd", "must not be empty"),
        (
            up("max_sessions = 0"),
            "upstreams.demo.max_sessions",
            "must be at least 1, got `0`",
        ),
        (
            up("probe_timeout = \"0ms\""),
            "upstreams.demo.probe_timeout",
            "must be longer than zero",
        ),
        (
            up("request_timeout = \"fast\""),
            "upstreams.demo.request_timeout",
            "is not a duration",
        ),
        (
            format!(
                "{DEMO}default = true\n[upstreams.other]\ntransport = \"stdio\"\ncommand = \"o\"\ndefault = true\n"
            ),
            "upstreams.other.default",
            "only one upstream may set `default = true`, and `demo` already does",
        ),
        (
            "[upstreams.web]\ntransport = \"http\"\n".to_owned(),
            "upstreams.web.url",
            "is required with `transport = \"http\"`",
        ),
        (
            "[upstreams.web]\ntransport = \"http\"\nurl = \"not a url\"\n".to_owned(),
            "upstreams.web.url",
            "`not a url` is not a URL",
        ),
        (
            "[upstreams.web]\ntransport = \"http\"\nurl = \"ws://127.0.0.1/mcp\"\n".to_owned(),
            "upstreams.web.url",
            "must use `http` or `https`",
        ),
        (
            "[upstreams.web]\ntransport = \"http\"\nurl = \"https://user:pw@host/mcp\"\n"
                .to_owned(),
            "upstreams.web.url",
            "must not contain credentials",
        ),
        (
            web("command = \"x\""),
            "upstreams.web.command",
            "is not used with `transport = \"http\"`",
        ),
        (
            web("cwd = \".\""),
            "upstreams.web.cwd",
            "is not used with `transport = \"http\"`",
        ),
        (
            web("headers = { \"bad header\" = \"x\" }"),
            "upstreams.web.headers.\"bad header\"",
            "is not a valid HTTP header name",
        ),
        (
            web("headers = { Host = \"x\" }"),
            "upstreams.web.headers.Host",
            "is set by the gateway",
        ),
        (
            web("headers = { mcp-session-id = \"x\" }"),
            "upstreams.web.headers.mcp-session-id",
            "is set by the gateway",
        ),
        (
            web("headers = { x-a = \"line\\nbreak\" }"),
            "upstreams.web.headers.x-a",
            "visible ASCII",
        ),
        (
            web("headers = { x-a = \"1\", X-A = \"2\" }"),
            "upstreams.web.headers",
            "is given twice",
        ),
        (
            format!("{DEMO}[jsonrpc]\nallow_methods = [\"ok/method\", \"\"]"),
            "jsonrpc.allow_methods[1]",
            "must not be empty",
        ),
        (
            format!("{DEMO}[jsonrpc]\nallow_methods = [\"a b\"]"),
            "jsonrpc.allow_methods[0]",
            "must not contain spaces",
        ),
        (
            format!("{DEMO}[audit]\nsink = \"file\""),
            "audit.path",
            "is required with `sink = \"file\"`",
        ),
        (
            format!("{DEMO}[audit]\npath = \"a.log\""),
            "audit.path",
            "is only used with `sink = \"file\"`",
        ),
        (
            format!("{DEMO}[audit]\nsink = \"file\"\npath = \"\""),
            "audit.path",
            "must not be empty",
        ),
        (
            format!("{DEMO}[log]\nlevel = \" \""),
            "log.level",
            "must not be empty",
        ),
    ];
    for (text, key, fragment) in cases {
        let error = refuse(&text).unwrap();
        let shown = error.to_string();
        assert!(
            error.key().is_some_and(|k| k.starts_with(key)),
            "{text}\nwanted key {key}, got: {shown}"
        );
        assert!(
            shown.starts_with(&format!("config `test.toml`: `{key}")),
            "{text}\n{shown}"
        );
        assert!(
            shown.contains(fragment),
            "{text}\nwanted {fragment:?} in: {shown}"
        );
        assert!(!shown.ends_with('.'), "{shown}");
    }
}

#[test]
fn error_display_matches_the_documented_form() {
    let error = refuse("[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"\"\n").unwrap();
    assert_eq!(
        error.to_string(),
        "config `test.toml`: `upstreams.demo.command`: must not be empty"
    );
    let error: Box<dyn std::error::Error> = Box::new(error);
    assert!(error.source().is_none());
}

#[test]
fn non_loopback_bind_needs_the_dangerous_opt_in() {
    for listen in ["0.0.0.0:7878", "192.168.1.10:7878", "[::]:7878"] {
        let error = refuse(&format!("{DEMO}[server]\nlisten = \"{listen}\"\n")).unwrap();
        assert_eq!(error.key(), Some("server.listen"));
        let shown = error.to_string();
        assert!(
            shown.contains(&format!("`{listen}` is not a loopback address")),
            "{shown}"
        );
        assert!(shown.contains("allow_non_loopback_bind = true"), "{shown}");
        assert!(shown.contains("[server.dangerous]"), "{shown}");

        let config = accept(&format!(
            "{DEMO}[server]\nlisten = \"{listen}\"\n[server.dangerous]\nallow_non_loopback_bind = true\n"
        )).unwrap();
        assert_eq!(config.server.listen, listen.parse::<SocketAddr>().unwrap());
        assert!(config.server.dangerous.allow_non_loopback_bind);
    }
    for listen in [
        "127.0.0.1:1",
        "127.1.2.3:7878",
        "[::1]:7878",
        "[::ffff:127.0.0.1]:7878",
    ] {
        let config = accept(&format!("{DEMO}[server]\nlisten = \"{listen}\"\n")).unwrap();
        assert_eq!(config.server.listen, listen.parse::<SocketAddr>().unwrap());
    }
    let explicit_off = refuse(&format!(
        "{DEMO}[server]\nlisten = \"0.0.0.0:1\"\n[server.dangerous]\nallow_non_loopback_bind = false\n"
    )).unwrap();
    assert_eq!(explicit_off.key(), Some("server.listen"));
}

#[test]
fn relative_paths_resolve_against_the_file_directory() {
    let text = format!(
        "{DEMO}cwd = \"work/./here\"\n[audit]\nsink = \"file\"\npath = \"logs/audit.jsonl\"\n"
    );
    let config = parse(&text, "conf/dir/gateway.toml").unwrap();
    assert_eq!(
        stdio(&config, "demo").unwrap().cwd,
        Some(PathBuf::from("conf/dir/work/here"))
    );
    assert_eq!(
        config.audit.sink,
        AuditSink::File(PathBuf::from("conf/dir/logs/audit.jsonl"))
    );

    // Without a directory in the origin, relative paths stay as written.
    let config = parse(&text, "gateway.toml").unwrap();
    assert_eq!(
        stdio(&config, "demo").unwrap().cwd,
        Some(PathBuf::from("work/here"))
    );

    // Absolute paths are kept.
    let config = parse(&format!("{DEMO}cwd = \"/abs/dir\"\n"), "conf/gateway.toml").unwrap();
    assert_eq!(
        stdio(&config, "demo").unwrap().cwd,
        Some(PathBuf::from("/abs/dir"))
    );

    // `load` resolves against the file's absolute directory.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gateway.toml");
    std::fs::write(&path, &text).unwrap();
    let config = load(&path).unwrap();
    assert_eq!(
        stdio(&config, "demo").unwrap().cwd,
        Some(dir.path().join("work/here"))
    );
    assert_eq!(
        config.audit.sink,
        AuditSink::File(dir.path().join("logs").join("audit.jsonl"))
    );
}

#[test]
fn load_names_the_file_in_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    let error = load(&missing).unwrap_err();
    let shown = error.to_string();
    assert!(
        shown.starts_with(&format!(
            "config `{}`: cannot read the file: ",
            missing.display()
        )),
        "{shown}"
    );

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[upstreams.demo]\ntransport = \"stdio\"\ncommand = \"\"\n",
    )
    .unwrap();
    let shown = load(&bad).unwrap_err().to_string();
    assert_eq!(
        shown,
        format!(
            "config `{}`: `upstreams.demo.command`: must not be empty",
            bad.display()
        )
    );
}

#[test]
fn example_files_load() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");

    let quickstart = load(&examples.join("quickstart.toml")).unwrap();
    assert_eq!(quickstart.upstreams.len(), 1);
    let demo = stdio(&quickstart, "demo").unwrap();
    assert_eq!(demo.command, "$MCPGATE");
    assert_eq!(demo.args, ["demo-server", "--notes-dir", "notes"]);
    assert_eq!(quickstart.audit.sink, AuditSink::Stderr);
    // The quick start writes the defaults out; they must be the defaults.
    assert_eq!(quickstart.server, embedded_default().server);
    assert_eq!(quickstart.log, embedded_default().log);

    let remote = load(&examples.join("http-upstream.toml")).unwrap();
    let upstream = remote.upstream("remote").unwrap();
    assert_eq!(upstream.era, EraPreference::Auto);
    assert_eq!(
        http(&remote, "remote").unwrap().url.as_str(),
        "http://127.0.0.1:3001/mcp"
    );
}

#[test]
fn schema_exports_the_file_format() {
    let schema = json_schema();
    assert!(schema.is_object());
    let properties = schema["properties"].as_object().unwrap();
    assert!(properties.contains_key("server"));
    assert!(properties.contains_key("upstreams"));
}

const CLAUDE: &str = r#"{
  "mcpServers": {
    "filesystem": {
      "command": "npx",
      "args": ["-y", "@modelcontextprotocol/server-filesystem", "/Users/me/Desktop", "C:\\Users\\me"],
      "env": { "API_KEY": "sk-\"quoted\"\nnewline", "PORT": 8080, "DEBUG": true }
    },
    "my server.v2": { "command": "uvx", "args": ["weather"] },
    "my server/v2": { "command": "uvx", "args": ["weather"], "disabled": true, "autoApprove": [] },
    "über": { "url": "https://mcp.example.com/mcp", "headers": { "Authorization": "Bearer ${env:TOKEN}" } },
    "legacy-sse": { "url": "https://old.example.com/sse" }
  }
}"#;

#[test]
fn import_claude_desktop_file() {
    let toml = import_mcp_servers(CLAUDE, "claude_desktop_config.json").unwrap();
    assert!(
        toml.starts_with("# mcpgate configuration imported from `claude_desktop_config.json`"),
        "{toml}"
    );
    assert!(toml.contains("mcpgate run --config"), "{toml}");
    let config = parse(&toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));

    let names: Vec<&str> = config.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "filesystem",
            "my-server-v2",
            "my-server-v2-2",
            "-ber",
            "legacy-sse"
        ]
    );
    assert!(config.upstreams[0].default);
    assert!(config.upstreams[1..].iter().all(|u| !u.default));
    assert_eq!(config.default_upstream().name, "filesystem");

    let fs = stdio(&config, "filesystem").unwrap();
    assert_eq!(fs.command, "npx");
    assert_eq!(
        fs.args,
        [
            "-y",
            "@modelcontextprotocol/server-filesystem",
            "/Users/me/Desktop",
            "C:\\Users\\me"
        ]
    );
    assert_eq!(fs.env["API_KEY"], "sk-\"quoted\"\nnewline");
    assert_eq!(fs.env["PORT"], "8080");
    assert_eq!(fs.env["DEBUG"], "true");
    assert_eq!(fs.env_passthrough, mcpgate_config::DEFAULT_ENV_PASSTHROUGH);

    assert!(toml.contains("# imported from \"my server.v2\""), "{toml}");
    assert!(toml.contains("# imported from \"my server/v2\""), "{toml}");
    assert!(
        toml.contains("not imported: `disabled`, `autoApprove`"),
        "{toml}"
    );

    let remote = http(&config, "-ber").unwrap();
    assert_eq!(remote.url.as_str(), "https://mcp.example.com/mcp");
    assert_eq!(remote.headers["authorization"], "Bearer ${env:TOKEN}");
    assert!(
        toml.contains("placeholders are copied as written"),
        "{toml}"
    );
    assert_eq!(config.upstream("-ber").unwrap().sharing, Sharing::Shared);

    assert!(toml.contains("deprecated HTTP+SSE transport"), "{toml}");
}

#[test]
fn import_vs_code_file() {
    let json = r#"{
      "inputs": [{ "type": "promptString", "id": "token", "password": true }],
      "servers": {
        "github": { "type": "http", "url": "https://api.githubcopilot.com/mcp/" },
        "memory": { "type": "stdio", "command": "npx", "args": ["-y", "@modelcontextprotocol/server-memory"], "cwd": "${workspaceFolder}" },
        "old": { "type": "sse", "url": "http://localhost:8080/sse" }
      }
    }"#;
    let toml = import_mcp_servers(json, ".vscode/mcp.json").unwrap();
    let config = parse(&toml, "imported.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let names: Vec<&str> = config.upstreams.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, ["github", "memory", "old"]);
    assert_eq!(config.default_upstream().name, "github");
    assert_eq!(
        http(&config, "github").unwrap().url.as_str(),
        "https://api.githubcopilot.com/mcp/"
    );
    let memory = stdio(&config, "memory").unwrap();
    assert_eq!(memory.args, ["-y", "@modelcontextprotocol/server-memory"]);
    assert_eq!(memory.cwd, Some(PathBuf::from("${workspaceFolder}")));
    assert!(
        toml.contains("the source marks this server as `sse`"),
        "{toml}"
    );
    assert!(toml.contains("mcpgate speaks Streamable HTTP"), "{toml}");
    assert_eq!(
        http(&config, "old").unwrap().url.as_str(),
        "http://localhost:8080/sse"
    );

    let settings = r#"{ "mcp": { "servers": { "a": { "command": "a" } } } }"#;
    let config = parse(
        &import_mcp_servers(settings, "settings.json").unwrap(),
        "x.toml",
    )
    .unwrap();
    assert_eq!(config.upstreams[0].name, "a");
}

#[test]
fn import_errors_name_the_entry() {
    let cases = [
        ("{", None, "EOF"),
        ("[]", None, "expected a JSON object"),
        ("{}", None, "found neither `mcpServers` nor `servers`"),
        (
            r#"{"mcpServers": {}}"#,
            Some("mcpServers"),
            "lists no servers",
        ),
        (
            r#"{"mcpServers": []}"#,
            Some("mcpServers"),
            "expected an object",
        ),
        (
            r#"{"mcpServers": {"a": 1}}"#,
            Some("mcpServers.a"),
            "expected an object",
        ),
        (
            r#"{"mcpServers": {"a": {}}}"#,
            Some("mcpServers.a"),
            "has neither `command` nor `url`",
        ),
        (
            r#"{"mcpServers": {"a": {"command": "x", "url": "http://h/"}}}"#,
            Some("mcpServers.a"),
            "has both",
        ),
        (
            r#"{"mcpServers": {"a": {"command": ""}}}"#,
            Some("mcpServers.a.command"),
            "must not be empty",
        ),
        (
            r#"{"mcpServers": {"a": {"command": 1}}}"#,
            Some("mcpServers.a.command"),
            "expected a string",
        ),
        (
            r#"{"mcpServers": {"a": {"command": "x", "args": "y"}}}"#,
            Some("mcpServers.a.args"),
            "expected an array",
        ),
        (
            r#"{"mcpServers": {"a": {"command": "x", "args": [{}]}}}"#,
            Some("mcpServers.a.args[0]"),
            "expected a string",
        ),
        (
            r#"{"mcpServers": {"a": {"command": "x", "env": {"A=B": "1"}}}}"#,
            Some("mcpServers.a.env.\"A=B\""),
            "not a valid environment",
        ),
        (
            r#"{"mcpServers": {"a": {"type": "websocket", "url": "ws://h/"}}}"#,
            Some("mcpServers.a.type"),
            "unknown type `websocket`",
        ),
        (
            r#"{"mcpServers": {"a": {"url": "ws://h/"}}}"#,
            Some("mcpServers.a.url"),
            "must use `http` or `https`",
        ),
        (
            r#"{"mcpServers": {"a": {"url": "nope"}}}"#,
            Some("mcpServers.a.url"),
            "is not a URL",
        ),
        (
            r#"{"mcpServers": {"a": {"url": "http://h/", "headers": {"a b": "x"}}}}"#,
            Some("mcpServers.a.headers.\"a b\""),
            "not a valid HTTP header name",
        ),
        (
            r#"{"servers": {"a": {"type": "http"}}}"#,
            Some("servers.a.url"),
            "is required",
        ),
    ];
    for (json, key, fragment) in cases {
        let error = import_mcp_servers(json, "in.json").unwrap_err();
        let shown = error.to_string();
        assert_eq!(error.key(), key, "{json}: {shown}");
        assert!(shown.starts_with("config `in.json`"), "{shown}");
        assert!(
            shown.contains(fragment),
            "{json}: wanted {fragment:?} in {shown}"
        );
    }
    let error = import_mcp_servers("{\n  \"mcpServers\": ,\n}", "in.json").unwrap_err();
    assert_eq!((error.line(), error.column()), (Some(2), Some(17)));
}

#[test]
fn import_output_round_trips_odd_strings() {
    let json = r#"{"mcpServers": {
        "a": { "command": "/path with spaces/\u00e9\u0001\u007f", "args": ["'", "\"", "\\", "\t", "''' \"\"\""],
               "env": { "weird key.with dots": "v", "ÜNICODE": "ü" } },
        "\n\u0000": { "command": "b" }
    }}"#;
    let toml = import_mcp_servers(json, "odd\nname.json").unwrap();
    let config = parse(&toml, "x.toml").unwrap_or_else(|e| panic!("{e}\n{toml}"));
    let a = stdio(&config, "a").unwrap();
    assert_eq!(a.command, "/path with spaces/é\u{1}\u{7f}");
    assert_eq!(a.args, ["'", "\"", "\\", "\t", "''' \"\"\""]);
    assert_eq!(a.env["weird key.with dots"], "v");
    assert_eq!(a.env["ÜNICODE"], "ü");
    assert_eq!(config.upstreams[1].name, "server");
    for line in toml.lines() {
        assert!(!line.contains('\u{0}'), "{line:?}");
    }
}
