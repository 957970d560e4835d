//! Conversion of the MCP server lists kept by desktop clients into an
//! mcpgate configuration file.
//!
//! Accepted input:
//!
//! - `{"mcpServers": {NAME: {...}}}` as written by Claude Desktop, Claude
//!   Code and Cursor;
//! - `{"servers": {NAME: {...}}}` as in VS Code's `mcp.json`, or nested as
//!   `{"mcp": {"servers": ...}}` in its settings.
//!
//! Each server has either `command` (with optional `args`, `env` and `cwd`)
//! or `url` (with optional `headers`), and optionally a `type` of `stdio`,
//! `http` or `sse`. Other keys are listed in a comment and otherwise
//! ignored. The output is checked by parsing it again before it is returned.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::error::{ConfigError, KeyPath, quote_key, quote_string};
use crate::validate::{is_token, is_valid_name, parse_toml};

/// Keys of a stdio server entry that the conversion understands.
const STDIO_KEYS: &[&str] = &["type", "command", "args", "env", "cwd"];

/// Keys of an HTTP server entry that the conversion understands.
const HTTP_KEYS: &[&str] = &["type", "url", "serverUrl", "headers"];

/// Name used for a server whose name has no usable character.
const FALLBACK_NAME: &str = "server";

/// One server of the source file, ready to be written out.
struct Server {
    name: String,
    notes: Vec<String>,
    transport: Transport,
}

/// How a server of the source file is reached.
enum Transport {
    Stdio {
        command: String,
        args: Vec<String>,
        env: BTreeMap<String, String>,
        cwd: Option<String>,
    },
    Http {
        url: String,
        headers: BTreeMap<String, String>,
    },
}

/// Converts `json` into mcpgate TOML; `origin` names the source in errors
/// and in the header comment.
pub(crate) fn import(json: &str, origin: &str) -> Result<String, ConfigError> {
    let root: Value = serde_json::from_str(json).map_err(|error| json_error(origin, &error))?;
    let Value::Object(root) = root else {
        return Err(ConfigError::new(
            origin,
            "expected a JSON object with `mcpServers` or `servers`",
        ));
    };

    let mut lists: Vec<(KeyPath, &Map<String, Value>)> = Vec::new();
    for (name, path) in [
        ("mcpServers", KeyPath::root("mcpServers")),
        ("servers", KeyPath::root("servers")),
    ] {
        if let Some(list) = root.get(name) {
            lists.push((path.clone(), as_object(origin, &path, list)?));
        }
    }
    if let Some(Value::Object(mcp)) = root.get("mcp")
        && let Some(list) = mcp.get("servers")
    {
        let path = KeyPath::root("mcp").child("servers");
        lists.push((path.clone(), as_object(origin, &path, list)?));
    }
    let Some((first_path, _)) = lists.first() else {
        return Err(ConfigError::new(
            origin,
            "found neither `mcpServers` nor `servers`, so there is nothing to import",
        ));
    };
    let first_path = first_path.clone();

    let mut servers: Vec<Server> = Vec::new();
    for (path, list) in lists {
        for (original, entry) in list {
            let name = unique_name(&sanitise_name(original), &servers);
            let mut server = convert(origin, &path.child(original), name, entry)?;
            if server.name != *original {
                server
                    .notes
                    .insert(0, format!("imported from {}", quote_string(original)));
            }
            servers.push(server);
        }
    }
    if servers.is_empty() {
        return Err(ConfigError::at_key(
            origin,
            &first_path,
            "lists no servers, so there is nothing to import",
        ));
    }

    let text = render(origin, &servers);
    match parse_toml(&text, origin, None) {
        Ok(_) => Ok(text),
        Err(error) => Err(ConfigError::new(
            origin,
            format!(
                "the converted configuration is not valid{}: {}",
                error
                    .key()
                    .map(|key| format!(" at `{key}`"))
                    .unwrap_or_default(),
                error.message()
            ),
        )),
    }
}

/// A JSON syntax error with its line and column.
fn json_error(origin: &str, error: &serde_json::Error) -> ConfigError {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    let message = text.strip_suffix(&suffix).unwrap_or(&text);
    if error.line() == 0 {
        ConfigError::new(origin, message)
    } else {
        ConfigError::at_position(origin, error.line(), error.column(), message)
    }
}

fn as_object<'a>(
    origin: &str,
    path: &KeyPath,
    value: &'a Value,
) -> Result<&'a Map<String, Value>, ConfigError> {
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(ConfigError::at_key(origin, path, "expected an object")),
    }
}

/// Converts one server entry.
fn convert(
    origin: &str,
    path: &KeyPath,
    name: String,
    entry: &Value,
) -> Result<Server, ConfigError> {
    let entry = as_object(origin, path, entry)?;
    let error = |key: &str, message: String| ConfigError::at_key(origin, &path.child(key), message);
    let mut notes = Vec::new();

    let url_key = if entry.contains_key("url") {
        "url"
    } else {
        "serverUrl"
    };
    let kind = match entry.get("type") {
        None => None,
        Some(Value::String(kind)) => Some(kind.as_str()),
        Some(_) => return Err(error("type", "expected a string".to_owned())),
    };
    let http = match kind {
        Some("stdio") => false,
        Some("http" | "streamable-http" | "streamableHttp") => true,
        Some("sse") => {
            notes.push(
                "the source marks this server as `sse`, the deprecated HTTP+SSE transport; \
                 mcpgate speaks Streamable HTTP, so point `url` at the server's Streamable \
                 HTTP endpoint if it has a separate one"
                    .to_owned(),
            );
            true
        }
        Some(other) => {
            return Err(error(
                "type",
                format!("unknown type `{other}`, expected `stdio`, `http` or `sse`"),
            ));
        }
        None => match (entry.contains_key("command"), entry.contains_key(url_key)) {
            (true, false) => false,
            (false, true) => true,
            (true, true) => {
                return Err(ConfigError::at_key(
                    origin,
                    path,
                    "has both `command` and `url`; set `type` to say which one to use",
                ));
            }
            (false, false) => {
                return Err(ConfigError::at_key(
                    origin,
                    path,
                    "has neither `command` nor `url`",
                ));
            }
        },
    };

    let transport = if http {
        let url = match entry.get(url_key) {
            Some(Value::String(url)) => url.trim().to_owned(),
            Some(_) => return Err(error(url_key, "expected a string".to_owned())),
            None => return Err(error("url", "is required for an HTTP server".to_owned())),
        };
        let parsed = url::Url::parse(&url)
            .map_err(|problem| error(url_key, format!("`{url}` is not a URL: {problem}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(error(
                url_key,
                format!("`{url}` must use `http` or `https`"),
            ));
        }
        if kind.is_none() && parsed.path().trim_end_matches('/').ends_with("/sse") {
            notes.push(
                "this URL looks like an endpoint of the deprecated HTTP+SSE transport; \
                 mcpgate speaks Streamable HTTP, so use the server's Streamable HTTP \
                 endpoint (often `/mcp`) if it has one"
                    .to_owned(),
            );
        }
        let headers = string_map(origin, &path.child("headers"), entry.get("headers"))?;
        if let Some(name) = headers.keys().find(|name| !is_token(name)) {
            return Err(ConfigError::at_key(
                origin,
                &path.child("headers").child(name),
                format!("`{name}` is not a valid HTTP header name"),
            ));
        }
        Transport::Http { url, headers }
    } else {
        let command = match entry.get("command") {
            Some(Value::String(command)) if !command.trim().is_empty() => command.clone(),
            Some(Value::String(_)) => {
                return Err(error("command", "must not be empty".to_owned()));
            }
            Some(_) => return Err(error("command", "expected a string".to_owned())),
            None => {
                return Err(error(
                    "command",
                    "is required for a stdio server".to_owned(),
                ));
            }
        };
        let args = match entry.get("args") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(args)) => args
                .iter()
                .enumerate()
                .map(|(index, arg)| scalar(origin, &path.child("args").index(index), arg))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(error("args", "expected an array".to_owned())),
        };
        let env = string_map(origin, &path.child("env"), entry.get("env"))?;
        if let Some(name) = env
            .keys()
            .find(|name| name.is_empty() || name.contains('='))
        {
            return Err(ConfigError::at_key(
                origin,
                &path.child("env").child(name),
                format!("`{name}` is not a valid environment variable name"),
            ));
        }
        let cwd = match entry.get("cwd") {
            None | Some(Value::Null) => None,
            Some(Value::String(cwd)) if cwd.trim().is_empty() => None,
            Some(Value::String(cwd)) => Some(cwd.clone()),
            Some(_) => return Err(error("cwd", "expected a string".to_owned())),
        };
        Transport::Stdio {
            command,
            args,
            env,
            cwd,
        }
    };

    let known = if http { HTTP_KEYS } else { STDIO_KEYS };
    let ignored: Vec<String> = entry
        .keys()
        .filter(|key| !known.contains(&key.as_str()))
        .map(|key| format!("`{}`", quote_key(key)))
        .collect();
    if !ignored.is_empty() {
        notes.push(format!("not imported: {}", ignored.join(", ")));
    }
    if mentions_placeholder(&Value::Object(entry.clone())) {
        notes.push(
            "`${...}` placeholders are copied as written; mcpgate does not expand them".to_owned(),
        );
    }

    Ok(Server {
        name,
        notes,
        transport,
    })
}

/// An object of scalar values as strings; absent or null is empty.
fn string_map(
    origin: &str,
    path: &KeyPath,
    value: Option<&Value>,
) -> Result<BTreeMap<String, String>, ConfigError> {
    match value {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Object(object)) => object
            .iter()
            .map(|(key, value)| Ok((key.clone(), scalar(origin, &path.child(key), value)?)))
            .collect(),
        Some(_) => Err(ConfigError::at_key(origin, path, "expected an object")),
    }
}

/// A string, number or boolean as text.
fn scalar(origin: &str, path: &KeyPath, value: &Value) -> Result<String, ConfigError> {
    match value {
        Value::String(text) => Ok(text.clone()),
        Value::Number(number) => Ok(number.to_string()),
        Value::Bool(flag) => Ok(flag.to_string()),
        _ => Err(ConfigError::at_key(
            origin,
            path,
            "expected a string, number or boolean",
        )),
    }
}

/// Whether any string in `value` contains a `${...}` placeholder.
fn mentions_placeholder(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains("${"),
        Value::Array(items) => items.iter().any(mentions_placeholder),
        Value::Object(members) => members
            .iter()
            .any(|(key, value)| key.contains("${") || mentions_placeholder(value)),
        _ => false,
    }
}

/// `name` with every character that is not allowed in an upstream name
/// replaced by `-`, cut to the longest allowed length.
fn sanitise_name(name: &str) -> String {
    let sanitised: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if sanitised.chars().all(|c| c == '-') {
        FALLBACK_NAME.to_owned()
    } else {
        sanitised
    }
}

/// `base`, or `base-2`, `base-3`... when an earlier server has that name.
fn unique_name(base: &str, taken: &[Server]) -> String {
    let is_taken = |name: &str| taken.iter().any(|server| server.name == name);
    if !is_taken(base) {
        return base.to_owned();
    }
    let mut suffix = 2_usize;
    loop {
        let tail = format!("-{suffix}");
        let head: String = base.chars().take(64 - tail.len()).collect();
        let candidate = format!("{head}{tail}");
        if !is_taken(&candidate) && is_valid_name(&candidate) {
            return candidate;
        }
        suffix += 1;
    }
}

/// `text` made safe for a one-line TOML comment.
fn comment_safe(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Widest comment text, not counting the leading `# `.
const COMMENT_WIDTH: usize = 76;

/// `text` split into lines of at most `width` characters at spaces; a word
/// longer than `width` gets a line of its own.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|word| !word.is_empty()) {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Writes the configuration file.
fn render(origin: &str, servers: &[Server]) -> String {
    let mut out = String::new();
    let header = format!(
        "\
# mcpgate configuration imported from `{}`.
#
# Start the gateway with:
#   mcpgate run --config <this file>
#
# Every server of the source file became an [upstreams.NAME] table below.
# The first one is the default upstream, used by clients that do not name
# one. Variables listed under `env` are set for the child explicitly; from
# the gateway's own environment a child inherits only the names in
# `env_passthrough` (by default a short list such as PATH and HOME).
# [server], [audit] and [log] are left at their defaults; add those tables
# to change them.
",
        comment_safe(origin)
    );
    out.push_str(&header);

    for (index, server) in servers.iter().enumerate() {
        // `name` is always a bare key: it passed `is_valid_name` or was
        // sanitised to the same character set.
        let table = format!("upstreams.{}", quote_key(&server.name));
        out.push('\n');
        for note in &server.notes {
            for line in wrap(&comment_safe(note), COMMENT_WIDTH) {
                let _ = writeln!(out, "# {line}");
            }
        }
        let _ = writeln!(out, "[{table}]");
        if index == 0 {
            out.push_str("default = true\n");
        }
        match &server.transport {
            Transport::Stdio {
                command,
                args,
                env,
                cwd,
            } => {
                out.push_str("transport = \"stdio\"\n");
                let _ = writeln!(out, "command = {}", quote_string(command));
                if !args.is_empty() {
                    let args: Vec<String> = args.iter().map(|arg| quote_string(arg)).collect();
                    let _ = writeln!(out, "args = [{}]", args.join(", "));
                }
                if let Some(cwd) = cwd {
                    let _ = writeln!(out, "cwd = {}", quote_string(cwd));
                }
                write_table(&mut out, &format!("{table}.env"), env);
            }
            Transport::Http { url, headers } => {
                out.push_str("transport = \"http\"\n");
                let _ = writeln!(out, "url = {}", quote_string(url));
                write_table(&mut out, &format!("{table}.headers"), headers);
            }
        }
    }
    out
}

/// Writes `entries` as the sub-table `[name]`, if there are any.
fn write_table(out: &mut String, name: &str, entries: &BTreeMap<String, String>) {
    if entries.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n[{name}]");
    for (key, value) in entries {
        let _ = writeln!(out, "{} = {}", quote_key(key), quote_string(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_and_unique() {
        assert_eq!(sanitise_name("my server"), "my-server");
        assert_eq!(sanitise_name("github.com/x"), "github-com-x");
        assert_eq!(sanitise_name("ünï"), "-n-");
        assert_eq!(sanitise_name("..."), "server");
        assert_eq!(sanitise_name(""), "server");
        assert_eq!(sanitise_name(&"a".repeat(100)).len(), 64);

        let taken = |names: &[&str]| -> Vec<Server> {
            names
                .iter()
                .map(|name| Server {
                    name: (*name).to_owned(),
                    notes: Vec::new(),
                    transport: Transport::Http {
                        url: String::new(),
                        headers: BTreeMap::new(),
                    },
                })
                .collect()
        };
        assert_eq!(unique_name("a", &taken(&[])), "a");
        assert_eq!(unique_name("a", &taken(&["a", "a-2"])), "a-3");
        let long = "b".repeat(64);
        let unique = unique_name(&long, &taken(&[long.as_str()]));
        assert_eq!(unique.len(), 64);
        assert!(unique.ends_with("-2"));
    }

    #[test]
    fn notes_are_wrapped() {
        assert_eq!(wrap("aa bb cc", 5), ["aa bb", "cc"]);
        assert_eq!(wrap("aaaaaaa b", 5), ["aaaaaaa", "b"]);
        assert_eq!(wrap("", 5), [""]);
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(comment_safe("a\nb"), "a\\nb");
    }
}
