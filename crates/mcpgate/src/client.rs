//! `mcpgate client`: a stdio wrapper that signs an agent's messages for the gateway and checks
//! the gateway's signed answers.
//!
//! It runs the agent command (or, without one, treats its own standard input and output as the
//! agent), reads the agent's JSON-RPC messages one per line, signs each as an `mcps-native/1`
//! envelope continuing one transcript chain, and writes it to the gateway's stdio front, which
//! it runs as a child (`gateway_command`). Every response to a signed request must come back as
//! a native envelope signed by the pinned gateway key whose `prev` is the link hash of that
//! request; the agent gets the inner message. A response that fails any check is replaced by a
//! JSON-RPC error (and reported on standard error), never passed on. Messages the gateway
//! starts itself (notifications, server requests) are not signed and are passed on as they are.
//!
//! # Configuration
//!
//! ```toml
//! key = "agent.pem"                    # PKCS#8 PEM, Ed25519 or P-256; the gateway trusts it
//! gateway_public_key = "gateway.pub.pem" # SPKI PEM of the gateway's `[mcps] signing_key`
//! gateway_command = ["mcpgate", "stdio", "--config", "gateway.toml"]
//! profile = "native"                   # the only profile supported here
//! window = "300s"                      # accepted skew of the gateway's timestamps
//! ```
//!
//! Paths are relative to the configuration file's directory.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use mcps::canonical::{self, ParseOptions, Value};
use mcps::keys::{SigningKey, VerifyingKey};
use mcps::native::{self, ChainSigner, ChainVerifier, Link};
use mcps::profile_a::{Nonce, VerifyOptions};
use mcps::time::Timestamp;
use serde::Deserialize;

/// JSON-RPC error code for a gateway answer that failed verification.
const UNVERIFIED: i64 = -32003;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    key: String,
    gateway_public_key: String,
    gateway_command: Vec<String>,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    window: Option<String>,
}

struct Settings {
    key: SigningKey,
    gateway_key: VerifyingKey,
    gateway_command: Vec<String>,
    window: Duration,
}

fn load(path: &Path) -> anyhow::Result<Settings> {
    let shown = path.display();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the client configuration `{shown}`"))?;
    let file: ClientFile = toml::from_str(&text)
        .with_context(|| format!("the client configuration `{shown}` is not valid"))?;
    if let Some(profile) = file.profile.as_deref().filter(|p| *p != "native") {
        anyhow::bail!("`{shown}`: profile `{profile}` is not supported; use `native`");
    }
    if file.gateway_command.is_empty() {
        anyhow::bail!("`{shown}`: `gateway_command` must name the gateway's stdio command");
    }
    let base = path.parent().unwrap_or_else(|| Path::new("."));
    let read = |name: &str| -> anyhow::Result<String> {
        let file = base.join(name);
        std::fs::read_to_string(&file)
            .with_context(|| format!("`{shown}`: cannot read `{}`", file.display()))
    };
    let key = SigningKey::from_pem(&read(&file.key)?).map_err(|_| {
        anyhow::anyhow!("`{shown}`: `key` is not a PKCS#8 PEM P-256 or Ed25519 private key")
    })?;
    let gateway_key = VerifyingKey::from_spki_pem(&read(&file.gateway_public_key)?)
        .map_err(|_| anyhow::anyhow!("`{shown}`: `gateway_public_key` is not an SPKI PEM key"))?;
    let window = match file.window.as_deref() {
        Some(w) => humantime::parse_duration(w)
            .with_context(|| format!("`{shown}`: `window` is not a duration such as \"300s\""))?,
        None => Duration::from_secs(300),
    };
    Ok(Settings {
        key,
        gateway_key,
        gateway_command: file.gateway_command,
        window,
    })
}

/// The chain the wrapper signs and the link hashes of requests awaiting an answer, by id.
struct State {
    chain: ChainSigner,
    pending: HashMap<String, String>,
}

type Sink = Arc<Mutex<Box<dyn Write + Send>>>;

fn send(sink: &Sink, line: &str) -> bool {
    let Ok(mut out) = sink.lock() else {
        return false;
    };
    out.write_all(line.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .is_ok()
}

fn error_line(id: Option<&Value>, message: &str) -> String {
    let id = id
        .and_then(|v| canonical::jcs(v).ok())
        .unwrap_or_else(|| "null".to_owned());
    let message = serde_json::Value::from(message).to_string();
    format!(r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":{UNVERIFIED},"message":{message}}}}}"#)
}

fn id_key(message: &Value) -> Option<(Value, String)> {
    let id = message.as_object()?.get("id")?.clone();
    let key = canonical::jcs(&id).ok()?;
    Some((id, key))
}

/// Signs one agent line; returns the envelope, or the error to give the agent.
fn sign_line(line: &str, key: &SigningKey, state: &Mutex<State>) -> Result<String, String> {
    let message = canonical::parse(line, &ParseOptions::STRICT)
        .map_err(|e| error_line(None, &format!("not a JSON-RPC message: {e}")))?;
    let object = message
        .as_object()
        .ok_or_else(|| error_line(None, "not a JSON-RPC object"))?;
    let is_request = object.contains_key("method") && object.contains_key("id");
    let mut state = state
        .lock()
        .map_err(|_| error_line(None, "internal error"))?;
    let nonce = Nonce::random().map_err(|e| error_line(None, &e.to_string()))?;
    let envelope = state
        .chain
        .sign(&message, key, Timestamp::now(), &nonce)
        .and_then(|e| Ok((e.to_json()?, e.link_hash().to_owned())));
    let (wire, hash) = envelope.map_err(|e| {
        let id = id_key(&message).map(|(id, _)| id);
        error_line(id.as_ref(), &format!("cannot sign the message: {e}"))
    })?;
    if is_request && let Some((_, id)) = id_key(&message) {
        state.pending.insert(id, hash);
    }
    Ok(wire)
}

/// Checks one gateway line; returns what the agent gets.
fn check_line(line: &str, settings: &Settings, state: &Mutex<State>) -> String {
    let parsed = canonical::parse(line, &ParseOptions::STRICT);
    let Ok(value) = parsed else {
        eprintln!("mcpgate client: refused a gateway line that is not JSON");
        return error_line(None, "the gateway's answer failed verification");
    };
    let is_envelope = value.as_object().is_some_and(|o| o.contains_key("v"));
    // The id to answer with if the line is refused (taken from the unverified message).
    let claimed = if is_envelope {
        value
            .as_object()
            .and_then(|o| o.get("message"))
            .and_then(id_key)
    } else {
        id_key(&value)
    };
    let is_response = value
        .as_object()
        .and_then(|o| {
            if is_envelope {
                o.get("message").and_then(Value::as_object)
            } else {
                Some(o)
            }
        })
        .is_some_and(|o| !o.contains_key("method") && o.contains_key("id"));
    if !is_envelope {
        // The gateway's own notifications and requests are passed on; an unsigned response
        // is not (a gateway refusal is replaced by an error all the same).
        if !is_response {
            return line.to_owned();
        }
        let id = claimed.as_ref().map(|(id, _)| id.clone());
        if let (Some((_, key)), Ok(mut state)) = (&claimed, state.lock()) {
            state.pending.remove(key);
        }
        eprintln!("mcpgate client: refused an unsigned response from the gateway: {line}");
        return error_line(id.as_ref(), "the gateway's answer is not signed");
    }
    let refuse = |why: &str| {
        eprintln!("mcpgate client: refused a gateway answer: {why}");
        error_line(
            claimed.as_ref().map(|(id, _)| id),
            "the gateway's answer failed verification",
        )
    };
    let now = Timestamp::now();
    let options = VerifyOptions {
        now,
        max_age: settings.window,
        max_future: settings.window,
        parse: ParseOptions::STRICT,
    };
    let verified = match native::verify_value(value, &settings.gateway_key, &options) {
        Ok(v) => v,
        Err(e) => return refuse(&e.to_string()),
    };
    let Some((_, key)) = id_key(verified.message()) else {
        return refuse("a signed message that is not a response");
    };
    let expected = state.lock().ok().and_then(|mut s| s.pending.remove(&key));
    let Some(expected) = expected else {
        return refuse("an answer to no request in flight");
    };
    if ChainVerifier::new(Link::Prev(expected))
        .accept(&verified)
        .is_err()
    {
        return refuse("the answer does not follow its request in the transcript chain");
    }
    match canonical::jcs(verified.message()) {
        Ok(text) => text,
        Err(e) => refuse(&e.to_string()),
    }
}

fn spawn(command: &[String], what: &str) -> anyhow::Result<Child> {
    let (program, args) = command
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no {what} command"))?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("cannot start the {what} `{program}`"))
}

/// Runs the wrapper; returns the agent's exit status (success without an agent command).
///
/// # Errors
///
/// When the configuration is invalid or a process cannot be started.
pub(crate) fn run(config: &Path, agent: &[String]) -> anyhow::Result<ExitCode> {
    let settings = Arc::new(load(config)?);
    let state = Arc::new(Mutex::new(State {
        chain: ChainSigner::new(Link::random_start().map_err(anyhow::Error::msg)?),
        pending: HashMap::new(),
    }));
    let mut gateway = spawn(&settings.gateway_command, "gateway")?;
    let gw_in = gateway.stdin.take().context("no gateway stdin")?;
    let gw_out = gateway.stdout.take().context("no gateway stdout")?;
    let mut agent_child = None;
    let (agent_out, agent_in): (Box<dyn BufRead + Send>, Box<dyn Write + Send>) =
        if agent.is_empty() {
            (
                Box::new(BufReader::new(std::io::stdin())),
                Box::new(std::io::stdout()),
            )
        } else {
            let mut child = spawn(agent, "agent")?;
            let out = child.stdout.take().context("no agent stdout")?;
            let input = child.stdin.take().context("no agent stdin")?;
            agent_child = Some(child);
            (Box::new(BufReader::new(out)), Box::new(input))
        };
    let to_agent: Sink = Arc::new(Mutex::new(agent_in));
    let to_gateway: Sink = Arc::new(Mutex::new(Box::new(gw_in)));

    let outbound = {
        let (settings, state, to_agent) = (
            Arc::clone(&settings),
            Arc::clone(&state),
            Arc::clone(&to_agent),
        );
        std::thread::spawn(move || {
            for line in agent_out.lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                match sign_line(&line, &settings.key, &state) {
                    Ok(wire) => {
                        if !send(&to_gateway, &wire) {
                            break;
                        }
                    }
                    Err(error) => {
                        send(&to_agent, &error);
                    }
                }
            }
            // Dropping the gateway's stdin lets it finish and exit.
            drop(to_gateway);
        })
    };
    let inbound = {
        let (settings, state, to_agent) = (
            Arc::clone(&settings),
            Arc::clone(&state),
            Arc::clone(&to_agent),
        );
        std::thread::spawn(move || {
            for line in BufReader::new(gw_out).lines() {
                let Ok(line) = line else { break };
                if line.trim().is_empty() {
                    continue;
                }
                if !send(&to_agent, &check_line(&line, &settings, &state)) {
                    break;
                }
            }
        })
    };
    let _ = outbound.join();
    let _ = inbound.join();
    let _ = gateway.wait();
    drop(to_agent);
    match agent_child {
        Some(mut child) => {
            let status = child.wait().context("cannot wait for the agent")?;
            Ok(ExitCode::from(
                u8::try_from(status.code().unwrap_or(1)).unwrap_or(1),
            ))
        }
        None => Ok(ExitCode::SUCCESS),
    }
}
