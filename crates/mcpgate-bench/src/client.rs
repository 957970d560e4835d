//! The benchmark client: HTTP/1.1 keep-alive connections (legacy session or 2026-07-28
//! stateless requests) and JSON lines over a child's pipes.
//!
//! Every call is `tools/call echo` with a message unique to the call, and every answer is
//! checked: status 200, the same id, and the echoed text.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{ACCEPT, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::fixture::{LEGACY, MODERN};

/// How long one call may take before the run fails.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A fresh request id, unique in the run.
pub(crate) fn next_id() -> u64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// Which protocol shape the client speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// `initialize`, then requests carrying `Mcp-Session-Id`.
    Legacy,
    /// 2026-07-28: no handshake, `_meta` and the standard headers on every request.
    Modern,
}

fn call_body(id: u64, style: Style) -> (String, String) {
    let message = format!("bench-{id}");
    let mut params = json!({"name": "echo", "arguments": {"message": message}});
    if style == Style::Modern {
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": {},
            "io.modelcontextprotocol/clientInfo": {"name": "mcpgate-bench", "version": env!("CARGO_PKG_VERSION")}
        });
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
    (body.to_string(), message)
}

fn initialize_body(id: u64) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "initialize", "params": {
        "protocolVersion": LEGACY,
        "capabilities": {},
        "clientInfo": {"name": "mcpgate-bench", "version": env!("CARGO_PKG_VERSION")}
    }})
    .to_string()
}

const INITIALIZED: &str = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// Checks an answer to [`call_body`]: the same id and the echoed text.
fn check_echo(body: &[u8], id: u64, expected: &str) -> anyhow::Result<()> {
    let v: Value = serde_json::from_slice(body)
        .with_context(|| format!("answer is not JSON: {}", String::from_utf8_lossy(body)))?;
    if v.get("id").and_then(Value::as_u64) != Some(id) {
        bail!("answer has the wrong id (wanted {id}): {v}");
    }
    let text = v.pointer("/result/content/0/text").and_then(Value::as_str);
    if text != Some(expected) {
        bail!("answer does not echo `{expected}`: {v}");
    }
    if v.pointer("/result/isError").and_then(Value::as_bool) != Some(false) {
        bail!("answer is not a successful tool result: {v}");
    }
    Ok(())
}

/// The body of an SSE answer: the last `data:` event, else the body itself.
fn json_of(content_type: Option<&HeaderValue>, body: &Bytes) -> Bytes {
    let sse = content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if !sse {
        return body.clone();
    }
    let text = String::from_utf8_lossy(body);
    let last = text
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
        .map(str::trim)
        .rfind(|d| !d.is_empty())
        .unwrap_or("null");
    Bytes::from(last.to_owned())
}

/// An HTTP MCP endpoint and, for the legacy style, its session.
#[derive(Debug)]
pub(crate) struct HttpTarget {
    addr: SocketAddr,
    host: HeaderValue,
    path: String,
    style: Style,
    session: Option<HeaderValue>,
}

impl HttpTarget {
    /// An endpoint; for the legacy style the session is opened here (`initialize` and
    /// `notifications/initialized`).
    /// The 2026-07-28 style sends nothing here.
    pub(crate) async fn open(addr: SocketAddr, path: &str, style: Style) -> anyhow::Result<Self> {
        match style {
            Style::Legacy => Ok(Self::open_with_conn(addr, path, style).await?.0),
            Style::Modern => Self::new(addr, path, style),
        }
    }

    fn new(addr: SocketAddr, path: &str, style: Style) -> anyhow::Result<Self> {
        Ok(Self {
            addr,
            host: HeaderValue::from_str(&addr.to_string())?,
            path: path.to_owned(),
            style,
            session: None,
        })
    }

    /// [`Self::open`], also returning the connection the session was opened on (a new one for
    /// either style).
    async fn open_with_conn(
        addr: SocketAddr,
        path: &str,
        style: Style,
    ) -> anyhow::Result<(Self, HttpConn)> {
        let mut target = Self::new(addr, path, style)?;
        let mut conn = target.connect().await?;
        if style == Style::Legacy {
            let (status, headers, body) = conn.post(initialize_body(next_id()), false).await?;
            if status != StatusCode::OK {
                bail!(
                    "initialize answered HTTP {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
            let sid = headers
                .get("mcp-session-id")
                .cloned()
                .context("initialize answer has no Mcp-Session-Id")?;
            target.session = Some(sid);
            conn.target_session = target.session.clone();
            let (status, _, body) = conn.post(INITIALIZED.to_owned(), false).await?;
            if status != StatusCode::ACCEPTED {
                bail!(
                    "notifications/initialized answered HTTP {status}: {}",
                    String::from_utf8_lossy(&body)
                );
            }
        }
        Ok((target, conn))
    }

    /// A new keep-alive connection.
    pub(crate) async fn connect(&self) -> anyhow::Result<HttpConn> {
        let tcp = TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("cannot connect to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let (sender, conn) = http1::handshake(TokioIo::new(tcp)).await?;
        let task = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(HttpConn {
            sender,
            task,
            host: self.host.clone(),
            path: self.path.clone(),
            style: self.style,
            target_session: self.session.clone(),
        })
    }
}

/// One keep-alive connection to an [`HttpTarget`].
pub(crate) struct HttpConn {
    sender: SendRequest<Full<Bytes>>,
    task: JoinHandle<()>,
    host: HeaderValue,
    path: String,
    style: Style,
    target_session: Option<HeaderValue>,
}

impl Drop for HttpConn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HttpConn {
    async fn post(
        &mut self,
        body: String,
        tool_call: bool,
    ) -> anyhow::Result<(StatusCode, hyper::HeaderMap, Bytes)> {
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.path.as_str())
            .header(HOST, self.host.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream");
        match self.style {
            Style::Legacy => {
                if let Some(sid) = &self.target_session {
                    req = req
                        .header("mcp-session-id", sid.clone())
                        .header("mcp-protocol-version", LEGACY);
                }
            }
            Style::Modern => {
                req = req.header("mcp-protocol-version", MODERN);
                if tool_call {
                    req = req
                        .header("mcp-method", "tools/call")
                        .header("mcp-name", "echo");
                }
            }
        }
        let req = req.body(Full::new(Bytes::from(body)))?;
        self.sender.ready().await.context("connection closed")?;
        let resp = self.sender.send_request(req).await?;
        let status = resp.status();
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok((status, parts.headers, body))
    }

    /// `GET` of a plain path (health checks); true on 200.
    pub(crate) async fn get_ok(&mut self, path: &str) -> anyhow::Result<bool> {
        let req = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, self.host.clone())
            .body(Full::new(Bytes::new()))?;
        self.sender.ready().await.context("connection closed")?;
        let resp = self.sender.send_request(req).await?;
        let ok = resp.status() == StatusCode::OK;
        let _ = resp.into_body().collect().await?;
        Ok(ok)
    }

    /// `DELETE` of the legacy session this connection uses (best effort, bounded: only to
    /// let the server free it).
    async fn end_session(&mut self) {
        let Some(sid) = self.target_session.clone() else {
            return;
        };
        let Ok(req) = Request::builder()
            .method(Method::DELETE)
            .uri(self.path.as_str())
            .header(HOST, self.host.clone())
            .header("mcp-session-id", sid)
            .header("mcp-protocol-version", LEGACY)
            .body(Full::new(Bytes::new()))
        else {
            return;
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            self.sender.ready().await?;
            let resp = self.sender.send_request(req).await?;
            let _ = resp.into_body().collect().await?;
            anyhow::Ok(())
        })
        .await;
    }

    /// One checked `tools/call echo`.
    pub(crate) async fn call(&mut self, id: u64) -> anyhow::Result<()> {
        let (body, expected) = call_body(id, self.style);
        let (status, headers, body) = self.post(body, true).await?;
        if status != StatusCode::OK {
            bail!(
                "tools/call answered HTTP {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        check_echo(&json_of(headers.get(CONTENT_TYPE), &body), id, &expected)
    }
}

/// Session set-up as a new HTTP client sees it: from connecting to the answer of its first
/// `tools/call` (legacy: `initialize`, `notifications/initialized`, the call; 2026-07-28: the
/// call alone). The session is then ended (`DELETE`, not timed).
pub(crate) async fn time_http_session(
    addr: SocketAddr,
    path: &str,
    style: Style,
) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let (_, mut conn) =
        tokio::time::timeout(CALL_TIMEOUT, HttpTarget::open_with_conn(addr, path, style))
            .await
            .with_context(|| format!("no session within {CALL_TIMEOUT:?}"))??;
    tokio::time::timeout(CALL_TIMEOUT, conn.call(next_id()))
        .await
        .with_context(|| format!("no answer within {CALL_TIMEOUT:?}"))??;
    let took = started.elapsed();
    conn.end_session().await;
    Ok(took)
}

/// Session set-up as a new stdio client sees it: from starting the process to the answer of
/// its first `tools/call` (`initialize`, `notifications/initialized`, the call). The process
/// is then stopped (not timed).
pub(crate) async fn time_stdio_session(cmd: Command) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let client = StdioClient::start(cmd).await?;
    let called = client.call(next_id()).await;
    let took = started.elapsed();
    client.stop().await;
    called.map(|()| took)
}

type PendingMap = Arc<Mutex<HashMap<u64, oneshot::Sender<String>>>>;

/// A child process spoken to in JSON lines, with any number of requests in flight.
pub(crate) struct StdioClient {
    child: Child,
    tx: Option<mpsc::UnboundedSender<String>>,
    pending: PendingMap,
    tasks: Vec<JoinHandle<()>>,
}

impl StdioClient {
    /// Starts `cmd` with piped stdin and stdout and opens a legacy session on it.
    pub(crate) async fn start(mut cmd: Command) -> anyhow::Result<Self> {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the stdio process")?;
        let mut stdin = child.stdin.take().context("no stdin")?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let writer = tokio::spawn(async move {
            let mut buf = Vec::with_capacity(64 * 1024);
            while let Some(first) = rx.recv().await {
                buf.clear();
                buf.extend_from_slice(first.as_bytes());
                buf.push(b'\n');
                while buf.len() < 64 * 1024 {
                    match rx.try_recv() {
                        Ok(m) => {
                            buf.extend_from_slice(m.as_bytes());
                            buf.push(b'\n');
                        }
                        Err(_) => break,
                    }
                }
                if stdin.write_all(&buf).await.is_err() || stdin.flush().await.is_err() {
                    break;
                }
            }
        });
        let pending: PendingMap = Arc::new(Mutex::new(HashMap::new()));
        let table = Arc::clone(&pending);
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::with_capacity(64 * 1024, stdout);
            loop {
                let mut line = String::new();
                match lines.read_line(&mut line).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let id = serde_json::from_str::<Value>(&line)
                    .ok()
                    .and_then(|v| v.get("id").and_then(Value::as_u64));
                let Some(id) = id else { continue };
                let waiter = table.lock().ok().and_then(|mut t| t.remove(&id));
                if let Some(waiter) = waiter {
                    let _ = waiter.send(line);
                }
            }
            // End of output: every waiter sees its sender dropped.
            if let Ok(mut t) = table.lock() {
                t.clear();
            }
        });
        let client = Self {
            child,
            tx: Some(tx),
            pending,
            tasks: vec![writer, reader],
        };
        let id = next_id();
        let answer = client.request(id, initialize_body(id)).await?;
        let v: Value = serde_json::from_str(&answer)?;
        if v.get("result").is_none() {
            bail!("initialize failed: {}", answer.trim());
        }
        client.send(INITIALIZED.to_owned())?;
        Ok(client)
    }

    /// The process id of the child.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    fn send(&self, line: String) -> anyhow::Result<()> {
        self.tx
            .as_ref()
            .context("input closed")?
            .send(line)
            .map_err(|_| anyhow::anyhow!("the stdio process stopped reading"))
    }

    async fn request(&self, id: u64, line: String) -> anyhow::Result<String> {
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .map_err(|_| anyhow::anyhow!("pending table poisoned"))?
            .insert(id, tx);
        self.send(line)?;
        match tokio::time::timeout(CALL_TIMEOUT, rx).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(_)) => bail!("the stdio process closed its output"),
            Err(_) => {
                if let Ok(mut t) = self.pending.lock() {
                    t.remove(&id);
                }
                bail!("no answer within {CALL_TIMEOUT:?}")
            }
        }
    }

    /// One checked `tools/call echo`.
    pub(crate) async fn call(&self, id: u64) -> anyhow::Result<()> {
        let (body, expected) = call_body(id, Style::Legacy);
        let answer = self.request(id, body).await?;
        check_echo(answer.as_bytes(), id, &expected)
    }

    /// Closes the child's input and waits (bounded) for it to exit; kills it otherwise.
    pub(crate) async fn stop(mut self) {
        self.tx = None;
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture::{Answer, answer};

    #[test]
    fn the_fixture_echoes_and_the_check_is_strict() {
        for style in [Style::Legacy, Style::Modern] {
            let (body, expected) = call_body(7, style);
            let Answer::Json(reply) = answer(body.as_bytes()) else {
                panic!("tools/call got no JSON answer");
            };
            check_echo(&reply, 7, &expected).unwrap();
            assert!(check_echo(&reply, 8, &expected).is_err());
            assert!(check_echo(&reply, 7, "bench-8").is_err());
            let error = br#"{"jsonrpc":"2.0","id":7,"error":{"code":-32602,"message":"x"}}"#;
            assert!(check_echo(error, 7, &expected).is_err());
        }
    }

    #[test]
    fn the_fixture_speaks_both_eras() {
        let discover = br#"{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{}}"#;
        let Answer::Json(reply) = answer(discover) else {
            panic!("server/discover got no JSON answer");
        };
        let v: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(v["result"]["supportedVersions"], json!([MODERN]));
        let Answer::Initialized(reply) = answer(initialize_body(2).as_bytes()) else {
            panic!("initialize did not start a session");
        };
        let v: Value = serde_json::from_slice(&reply).unwrap();
        assert_eq!(v["result"]["protocolVersion"], LEGACY);
        assert!(matches!(answer(INITIALIZED.as_bytes()), Answer::Accepted));
        let sse = Bytes::from_static(b"event: message\ndata: {\"a\":1}\n\n");
        let ct = HeaderValue::from_static("text/event-stream");
        assert_eq!(json_of(Some(&ct), &sse), Bytes::from_static(b"{\"a\":1}"));
    }
}
