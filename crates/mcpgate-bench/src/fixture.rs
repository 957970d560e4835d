//! The upstream fixtures: one minimal dual-era MCP server, served over Streamable HTTP
//! (`mcpgate-bench http-upstream`) and over stdio (`mcpgate-bench stdio-upstream`), each a
//! process of its own like a real server.
//!
//! They do as little as possible so that the gateway's cost dominates the gateway rows: one
//! tool, `echo`, whose result is the `message` argument; `initialize` (legacy, with a session
//! id on HTTP), `server/discover` (2026-07-28, so the gateway's probe finds a modern server),
//! `tools/list` and `ping`. Notifications are accepted and ignored.

use std::convert::Infallible;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The revision the fixture speaks statelessly.
pub(crate) const MODERN: &str = "2026-07-28";
/// The legacy revision the fixture answers `initialize` with when the client's is unknown.
pub(crate) const LEGACY: &str = "2025-11-25";
const LEGACY_KNOWN: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// What the fixture answers to one message.
pub(crate) enum Answer {
    /// A JSON-RPC response.
    Json(Vec<u8>),
    /// The answer to `initialize`, which starts a session (HTTP: `Mcp-Session-Id`).
    Initialized(Vec<u8>),
    /// A notification or a response: nothing to answer (HTTP: 202).
    Accepted,
}

fn server_info() -> Value {
    json!({"name": "mcpgate-bench-upstream", "version": env!("CARGO_PKG_VERSION")})
}

fn result(id: &Value, result: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "result": result})).unwrap_or_default()
}

fn error(id: &Value, code: i64, message: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
    .unwrap_or_default()
}

/// Answers one JSON-RPC message.
pub(crate) fn answer(body: &[u8]) -> Answer {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return Answer::Json(error(&Value::Null, -32700, "parse error"));
    };
    let (Some(id), Some(method)) = (msg.get("id"), msg.get("method").and_then(Value::as_str))
    else {
        return Answer::Accepted;
    };
    let params = msg.get("params");
    match method {
        "tools/call" => {
            let name = params.and_then(|p| p.get("name")).and_then(Value::as_str);
            let text = params
                .and_then(|p| p.get("arguments"))
                .and_then(|a| a.get("message"))
                .and_then(Value::as_str);
            match (name, text) {
                (Some("echo"), Some(text)) => Answer::Json(result(
                    id,
                    &json!({"content": [{"type": "text", "text": text}], "isError": false}),
                )),
                (Some("echo"), None) => {
                    Answer::Json(error(id, -32602, "echo needs a string argument `message`"))
                }
                _ => Answer::Json(error(id, -32602, "unknown tool")),
            }
        }
        "tools/list" => Answer::Json(result(
            id,
            &json!({"tools": [{
                "name": "echo",
                "description": "Returns its message.",
                "inputSchema": {
                    "type": "object",
                    "properties": {"message": {"type": "string"}},
                    "required": ["message"]
                }
            }]}),
        )),
        "initialize" => {
            let requested = params
                .and_then(|p| p.get("protocolVersion"))
                .and_then(Value::as_str)
                .filter(|v| LEGACY_KNOWN.contains(v))
                .unwrap_or(LEGACY);
            Answer::Initialized(result(
                id,
                &json!({
                    "protocolVersion": requested,
                    "capabilities": {"tools": {}},
                    "serverInfo": server_info()
                }),
            ))
        }
        "server/discover" => Answer::Json(result(
            id,
            &json!({
                "resultType": "complete",
                "supportedVersions": [MODERN],
                "capabilities": {"tools": {}},
                "ttlMs": 0,
                "cacheScope": "private",
                "_meta": {"io.modelcontextprotocol/serverInfo": server_info()}
            }),
        )),
        "ping" => Answer::Json(result(id, &json!({}))),
        _ => Answer::Json(error(id, -32601, "method not found")),
    }
}

/// The Streamable HTTP fixture, serving until dropped.
pub(crate) struct HttpFixture {
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for HttpFixture {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the HTTP fixture on a free loopback port.
pub(crate) async fn serve_http() -> anyhow::Result<HttpFixture> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let sessions = Arc::new(AtomicU64::new(1));
    let task = tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let sessions = Arc::clone(&sessions);
            tokio::spawn(async move {
                let service = service_fn(move |req| handle(req, Arc::clone(&sessions)));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    Ok(HttpFixture { addr, task })
}

async fn handle(
    req: Request<Incoming>,
    sessions: Arc<AtomicU64>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let status_only = |status: StatusCode| {
        let mut resp = Response::new(Full::new(Bytes::new()));
        *resp.status_mut() = status;
        resp
    };
    match *req.method() {
        Method::POST => {}
        Method::DELETE => return Ok(status_only(StatusCode::OK)),
        _ => return Ok(status_only(StatusCode::METHOD_NOT_ALLOWED)),
    }
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Ok(status_only(StatusCode::BAD_REQUEST)),
    };
    let json = |bytes: Vec<u8>| {
        let mut resp = Response::new(Full::new(Bytes::from(bytes)));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        resp
    };
    Ok(match answer(&body) {
        Answer::Json(bytes) => json(bytes),
        Answer::Initialized(bytes) => {
            let mut resp = json(bytes);
            let n = sessions.fetch_add(1, Ordering::Relaxed);
            if let Ok(v) = HeaderValue::from_str(&format!("bench-session-{n:08x}")) {
                resp.headers_mut().insert("mcp-session-id", v);
            }
            resp
        }
        Answer::Accepted => status_only(StatusCode::ACCEPTED),
    })
}

/// The HTTP fixture as a process of its own: prints `http://ADDR/mcp` on the first line of
/// standard output, then serves until its standard input ends (its parent went away).
pub(crate) fn serve_http_process() -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let fixture = serve_http().await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "http://{}/mcp", fixture.addr)?;
        out.flush()?;
        drop(out);
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        });
        let _ = stdin_closed.await;
        drop(fixture);
        anyhow::Ok(())
    })
}

/// The stdio fixture: newline-delimited JSON on stdin and stdout until end of input.
///
/// Output is flushed only when no further complete line is already buffered, so pipelined
/// requests are answered with one write.
pub(crate) fn serve_stdio() -> anyhow::Result<()> {
    let mut input = BufReader::with_capacity(64 * 1024, std::io::stdin());
    let mut output = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut line = Vec::with_capacity(4096);
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.trim_ascii();
        if !text.is_empty() {
            match answer(text) {
                Answer::Json(bytes) | Answer::Initialized(bytes) => {
                    output.write_all(&bytes)?;
                    output.write_all(b"\n")?;
                }
                Answer::Accepted => {}
            }
        }
        if !input.buffer().contains(&b'\n') {
            output.flush()?;
        }
    }
    output.flush()?;
    Ok(())
}
