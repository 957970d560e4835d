//! Test support for mcpgate (not published).
//!
//! - [`GatewayProcess`]: runs the real `mcpgate` binary with a configuration written to a
//!   temporary directory, on a free loopback port, and stops it (SIGTERM) when dropped.
//! - [`Http`]: a raw Streamable HTTP client, for tests that must see exact statuses and bodies.
//! - [`StdioProcess`]: a process spoken to one JSON line at a time.
//! - [`descendants`]: the live descendant processes of a pid, to prove none outlives the gateway.
//! - [`conformance`]: the fixture server the official MCP conformance suite runs against.
//! - [`mcps`]: MCPS trust stores, signed calls and verdicts, and a gateway with a session open.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: failing loudly is the point"
)]

pub mod conformance;
pub mod fixtures;
pub mod mcps;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

/// The `_meta` a 2026-07-28 request carries.
pub fn modern_meta() -> Value {
    serde_json::json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "mcpgate-test", "version": "0"}
    })
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// A TOML string literal.
pub fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

/// Configuration for one stdio upstream running the bundled demo server.
pub fn demo_upstream_toml(name: &str, notes: &Path, extra: &str) -> String {
    format!(
        "[upstreams.{name}]\ntransport = \"stdio\"\ncommand = \"$MCPGATE\"\nargs = [\"demo-server\", \"--notes-dir\", {}]\n{extra}\n",
        toml_str(&notes.display().to_string())
    )
}

/// How [`GatewayProcess::start_with`] runs the gateway, beyond its configuration.
#[derive(Debug, Clone, Default)]
pub struct StartOptions {
    /// Extra environment variables of the gateway process (and of it only).
    pub env: Vec<(String, String)>,
    /// The `MCPGATE_LOG` filter; `info` when `None`.
    pub log: Option<String>,
    /// Ready once its port accepts a TCP connection, instead of once `GET /healthz` answers
    /// over plain HTTP: for a TLS front, whose handshake may require a client certificate.
    pub tcp_ready: bool,
}

/// A running gateway.
#[derive(Debug)]
pub struct GatewayProcess {
    child: Option<Child>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its temporary directory (configuration, audit log, stderr log, notes).
    pub dir: tempfile::TempDir,
}

impl GatewayProcess {
    /// Starts `bin run --config <config>` on a free port; `config` is TOML without `[server]`
    /// `listen` (added here) and with `audit` going to `audit.jsonl` in the directory unless it
    /// sets its own.
    pub async fn start(bin: &Path, config: &str) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        Self::start_in(bin, config, dir).await
    }

    /// Like [`GatewayProcess::start`] with a given directory.
    pub async fn start_in(
        bin: &Path,
        config: &str,
        dir: tempfile::TempDir,
    ) -> anyhow::Result<Self> {
        Self::start_with(bin, config, dir, &StartOptions::default()).await
    }

    /// Like [`GatewayProcess::start_in`], with extra environment variables, another log
    /// filter or readiness by TCP connect (see [`StartOptions`]).
    pub async fn start_with(
        bin: &Path,
        config: &str,
        dir: tempfile::TempDir,
        options: &StartOptions,
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let mut text = String::new();
        if !config.contains("[audit]") {
            text.push_str("[audit]\nsink = \"file\"\npath = \"audit.jsonl\"\n\n");
        }
        text.push_str(config);
        let cfg_path = dir.path().join("mcpgate.toml");
        std::fs::write(&cfg_path, text)?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))?;
        let child = Command::new(bin)
            .arg("run")
            .arg("--config")
            .arg(&cfg_path)
            .arg("--listen")
            .arg(addr.to_string())
            .env("MCPGATE_LOG", options.log.as_deref().unwrap_or("info"))
            .envs(options.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start mcpgate")?;
        let mut gw = Self {
            child: Some(child),
            addr,
            dir,
        };
        gw.wait_ready(options.tcp_ready).await?;
        Ok(gw)
    }

    async fn wait_ready(&mut self, tcp: bool) -> anyhow::Result<()> {
        fixtures::install_crypto_provider();
        let url = format!("http://{}/healthz", self.addr);
        let client = reqwest::Client::new();
        for _ in 0..200 {
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!("mcpgate exited early ({status}): {}", self.stderr());
            }
            let ready = if tcp {
                tokio::net::TcpStream::connect(self.addr).await.is_ok()
            } else {
                client.get(&url).send().await.is_ok()
            };
            if ready {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!("mcpgate did not become ready: {}", self.stderr())
    }

    /// The MCP endpoint.
    pub fn url(&self) -> String {
        format!("http://{}/mcp", self.addr)
    }

    /// The gateway's pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().and_then(Child::id).unwrap_or(0)
    }

    /// Everything it wrote on stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// The audit records written so far.
    pub fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends SIGTERM and waits (bounded) for the exit status.
    pub async fn stop(&mut self) -> anyhow::Result<std::process::ExitStatus> {
        let Some(mut child) = self.child.take() else {
            bail!("already stopped");
        };
        if let Some(pid) = child.id() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(i32::try_from(pid)?),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(status) => Ok(status?),
            Err(_) => {
                let _ = child.kill().await;
                bail!("mcpgate did not stop within 30 s after SIGTERM")
            }
        }
    }
}

impl Drop for GatewayProcess {
    /// A graceful stop (SIGTERM, then up to 15 s for the gateway to reap its children), so a
    /// test that ends early leaves no upstream process behind; SIGKILL only as a last resort.
    fn drop(&mut self) {
        let Some(child) = self.child.as_mut() else {
            return;
        };
        let Some(pid) = child.id() else {
            return;
        };
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(0)),
            nix::sys::signal::Signal::SIGTERM,
        );
        for _ in 0..750 {
            if !matches!(child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// An HTTP answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The headers.
    pub headers: reqwest::header::HeaderMap,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The body as JSON (for SSE bodies: the last `data:` event).
    pub fn json(&self) -> Value {
        if self
            .headers
            .get("content-type")
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"))
        {
            let last = self
                .body
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .rfind(|d| !d.is_empty())
                .unwrap_or("null");
            return serde_json::from_str(last).unwrap_or(Value::Null);
        }
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The JSON-RPC error code of the body, if it is an error.
    pub fn code(&self) -> Option<i64> {
        self.json()["error"]["code"].as_i64()
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// A raw Streamable HTTP client.
#[derive(Debug, Clone)]
pub struct Http {
    client: reqwest::Client,
    /// The endpoint.
    pub url: String,
}

impl Http {
    /// A client for `url`.
    pub fn new(url: &str) -> Self {
        fixtures::install_crypto_provider();
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            url: url.to_owned(),
        }
    }

    /// POSTs raw bytes with the standard Accept and Content-Type plus `headers`.
    pub async fn post_raw(
        &self,
        body: impl Into<reqwest::Body>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("request failed");
        read(resp).await
    }

    /// POSTs a JSON value.
    pub async fn post(&self, body: &Value, headers: &[(&str, &str)]) -> Answer {
        self.post_raw(body.to_string(), headers).await
    }

    /// Sends a request with another method.
    pub async fn send(&self, method: reqwest::Method, headers: &[(&str, &str)]) -> Answer {
        let mut req = self.client.request(method, &self.url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        read(req.send().await.expect("request failed")).await
    }

    /// Starts a legacy session; returns its id.
    pub async fn initialize(&self, version: &str) -> String {
        let a = self
            .post(
                &serde_json::json!({"jsonrpc":"2.0","id":0,"method":"initialize","params":{
                    "protocolVersion": version, "capabilities": {},
                    "clientInfo": {"name": "mcpgate-test", "version": "0"}}}),
                &[],
            )
            .await;
        assert_eq!(a.status, 200, "initialize failed: {}", a.body);
        let sid = a.header("mcp-session-id").expect("no session id");
        let n = self
            .post(
                &serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
                &[("mcp-session-id", &sid), ("mcp-protocol-version", version)],
            )
            .await;
        assert_eq!(n.status, 202, "initialized: {}", n.body);
        sid
    }

    /// A legacy request in a session.
    pub async fn legacy(&self, sid: &str, id: u64, method: &str, params: Value) -> Answer {
        self.post(
            &serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
            &[("mcp-session-id", sid)],
        )
        .await
    }

    /// A modern request with correct headers.
    pub async fn modern(&self, id: u64, method: &str, mut params: Value) -> Answer {
        params["_meta"] = modern_meta();
        let name = params
            .get("name")
            .or_else(|| params.get("uri"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut headers = vec![
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", method),
        ];
        if let Some(name) = name.as_deref()
            && matches!(method, "tools/call" | "prompts/get" | "resources/read")
        {
            headers.push(("mcp-name", name));
        }
        self.post(
            &serde_json::json!({"jsonrpc":"2.0","id":id,"method":method,"params":params}),
            &headers,
        )
        .await
    }
}

async fn read(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// A child process spoken to in JSON lines (the stdio front, or an upstream).
#[derive(Debug)]
pub struct StdioProcess {
    /// The child.
    pub child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl StdioProcess {
    /// Starts `bin args…` with piped stdin and stdout; stderr goes to `stderr_log`.
    pub fn spawn(bin: &Path, args: &[&str], stderr_log: &Path) -> anyhow::Result<Self> {
        let mut child = Command::new(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(stderr_log)?)
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = BufReader::new(child.stdout.take().context("no stdout")?);
        Ok(Self {
            child,
            stdin,
            stdout,
        })
    }

    /// Writes one line.
    pub async fn send_line(&mut self, line: &str) -> anyhow::Result<()> {
        let stdin = self.stdin.as_mut().context("stdin closed")?;
        stdin.write_all(line.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        stdin.flush().await?;
        Ok(())
    }

    /// Writes one JSON message.
    pub async fn send(&mut self, msg: &Value) -> anyhow::Result<()> {
        self.send_line(&msg.to_string()).await
    }

    /// Reads the next message (bounded by `timeout`).
    pub async fn recv(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        let mut line = String::new();
        let n = tokio::time::timeout(timeout, self.stdout.read_line(&mut line))
            .await
            .context("timed out waiting for a message")??;
        if n == 0 {
            bail!("end of output");
        }
        serde_json::from_str(&line).with_context(|| format!("not JSON: {line}"))
    }

    /// Reads messages until one has `id` (others are returned too, in order).
    pub async fn recv_id(
        &mut self,
        id: &Value,
        timeout: Duration,
    ) -> anyhow::Result<(Value, Vec<Value>)> {
        let deadline = tokio::time::Instant::now() + timeout;
        let mut others = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let m = self.recv(left).await?;
            if m.get("id") == Some(id) && (m.get("result").is_some() || m.get("error").is_some()) {
                return Ok((m, others));
            }
            others.push(m);
        }
    }

    /// Closes stdin (end of input).
    pub fn close_stdin(&mut self) {
        self.stdin.take();
    }

    /// Waits (bounded) for the exit.
    pub async fn wait(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        Ok(tokio::time::timeout(timeout, self.child.wait())
            .await
            .context("process did not exit in time")??)
    }
}

/// The live descendants of `pid` (children, grandchildren, …), from /proc.
pub fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // The command may contain spaces and parentheses: fields start after the last ')'.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let state = fields.first().copied().unwrap_or("");
            if state == "Z" {
                continue;
            }
            if let Some(ppid) = fields.get(1).and_then(|s| s.parse().ok()) {
                parents.push((p, ppid));
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for (child, _) in parents.iter().filter(|(_, pp)| *pp == p) {
            out.push(*child);
            frontier.push(*child);
        }
    }
    out
}

/// Whether a process exists (and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.split_whitespace().next() != Some("Z"))
        })
        .unwrap_or(false)
}

/// The path of a file in the repository, from a crate's manifest directory.
pub fn repo_path(manifest_dir: &str, rel: &str) -> PathBuf {
    Path::new(manifest_dir).join("../..").join(rel)
}
