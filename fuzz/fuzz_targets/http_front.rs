//! The client-facing Streamable HTTP front, driven in-process through its axum router.
//!
//! Input: a request written like HTTP/1.1 without the version, so that seeds are readable:
//!
//! ```text
//! POST /mcp
//! Host: localhost
//! Accept: application/json, text/event-stream
//!
//! {"jsonrpc":"2.0","id":1,"method":"ping"}
//! ```
//!
//! The first line is the method and the path (`/mcp` when missing); header lines follow up to
//! the first empty line, and the rest is the body. Lines may end in `\r\n`. A method, path or
//! header the `http` crate refuses makes the input uninteresting (a header is skipped).
//!
//! Both upstreams are HTTP URLs on a loopback port that is bound but never listens, so every
//! connection is refused at once and nothing real is contacted.
//!
//! Properties checked beyond "no panic":
//!
//! - the status is one of those the front is expected to produce;
//! - every JSON answer is a JSON-RPC message (an error, unless the status is 200), and a 202
//!   answer has no body;
//! - each request is answered within 10 s.

#![no_main]

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode, Uri, header};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use mcpgate_core::{Kind, Limits, Message};
use mcpgate_pipeline::{AuditLog, Pipeline, Validate};
use mcpgate_transport::Gateway;
use mcpgate_transport::http_front::router;
use tower::ServiceExt;

/// Statuses the front answers with: its own, and axum's for unknown paths and methods.
const EXPECTED: &[u16] = &[200, 202, 400, 403, 404, 405, 406, 409, 413, 421, 503];

struct Harness {
    runtime: tokio::runtime::Runtime,
    router: Router,
    /// Print each answer (set `MCPGATE_FUZZ_VERBOSE` when replaying inputs by hand).
    verbose: bool,
    /// Holds the upstream port: bound, never listening, so no other process can take it.
    _port: tokio::net::TcpSocket,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the runtime: {e}"));
        let port = closed_port();
        let addr = port
            .local_addr()
            .unwrap_or_else(|e| panic!("no local address: {e}"));
        let toml = format!(
            r#"
[server]
max_body_bytes = 1024
max_depth = 8
request_timeout = "2s"
allowed_origins = ["https://app.example.com"]

[upstreams.remote]
transport = "http"
url = "http://{addr}/mcp"
era = "auto"
probe_timeout = "1s"
sharing = "shared"

[upstreams.legacy]
transport = "http"
url = "http://{addr}/legacy"
era = "legacy"
sharing = "per-session"

[audit]
sink = "file"
path = "/dev/null"
"#
        );
        let config = mcpgate_config::parse(&toml, "fuzz.toml")
            .unwrap_or_else(|e| panic!("the harness configuration is invalid: {e}"));
        let audit = AuditLog::file(std::path::Path::new("/dev/null"))
            .unwrap_or_else(|e| panic!("cannot open /dev/null: {e}"));
        let validate = Validate::new(config.jsonrpc.allow_methods.iter().cloned());
        let gateway = {
            let _entered = runtime.enter();
            Gateway::new(config, Pipeline::new(validate, audit))
        };
        Harness {
            runtime,
            router: router(Arc::clone(&gateway)),
            verbose: std::env::var_os("MCPGATE_FUZZ_VERBOSE").is_some(),
            _port: port,
        }
    })
}

/// A loopback TCP socket bound to a free port without listening: connections to it are refused.
fn closed_port() -> tokio::net::TcpSocket {
    let socket =
        tokio::net::TcpSocket::new_v4().unwrap_or_else(|e| panic!("cannot open a socket: {e}"));
    socket
        .bind(
            "127.0.0.1:0"
                .parse()
                .unwrap_or_else(|e| panic!("bad address: {e}")),
        )
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    socket
}

/// Builds the request the input describes, or `None` when the `http` crate refuses it.
fn request(data: &[u8]) -> Option<Request<Body>> {
    let (head, body) = match find(data, b"\n\n").or_else(|| find(data, b"\r\n\r\n")) {
        Some((at, len)) => (&data[..at], &data[at + len..]),
        None => (data, &[][..]),
    };
    let mut lines = head
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    let first = lines.next().unwrap_or_default();
    let (method, path) = match first.iter().position(|&b| b == b' ') {
        Some(i) => (&first[..i], &first[i + 1..]),
        None => (first, &b"/mcp"[..]),
    };
    let method = Method::from_bytes(method).ok()?;
    let uri = Uri::try_from(path).ok()?;
    let mut req = Request::new(Body::from(body.to_vec()));
    *req.method_mut() = method;
    *req.uri_mut() = uri;
    for line in lines {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            req.headers_mut().append(name, value);
        }
    }
    Some(req)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<(usize, usize)> {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|at| (at, needle.len()))
}

fuzz_target!(|data: &[u8]| {
    let Some(req) = request(data) else {
        return;
    };
    let h = harness();
    h.runtime.block_on(async {
        let answer = tokio::time::timeout(Duration::from_secs(10), async {
            let resp = h.router.clone().oneshot(req).await;
            let Ok(resp) = resp;
            let status = resp.status();
            let json = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
            let sse = resp
                .headers()
                .get(header::CONTENT_TYPE)
                .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
            // An event stream may stay open for as long as the session: leave it unread.
            let body = if sse {
                Vec::new()
            } else {
                match resp.into_body().collect().await {
                    Ok(b) => b.to_bytes().to_vec(),
                    Err(e) => panic!("the response body failed: {e}"),
                }
            };
            (status, json, body)
        })
        .await;
        let Ok((status, json, body)) = answer else {
            panic!("no answer within 10 s");
        };
        if h.verbose {
            eprintln!("{status} {}", String::from_utf8_lossy(&body));
        }
        check(status, json, &body);
    });
});

fn check(status: StatusCode, json: bool, body: &[u8]) {
    assert!(
        EXPECTED.contains(&status.as_u16()),
        "unexpected status {status}: {}",
        String::from_utf8_lossy(body)
    );
    if status == StatusCode::ACCEPTED {
        assert!(body.is_empty(), "a 202 answer has a body");
    }
    if !json {
        return;
    }
    let body_text = String::from_utf8_lossy(body);
    if mcpgate_core::jsonrpc::is_batch(body) {
        assert_eq!(
            status,
            StatusCode::OK,
            "a batch answer with status {status}"
        );
        if let Err(e) = mcpgate_core::jsonrpc::split_batch(body, Limits::default()) {
            panic!("the batch answer is not a JSON array ({e}): {body_text}");
        }
        return;
    }
    let msg = match Message::parse(body, Limits::default()) {
        Ok(m) => m,
        Err(e) => panic!("the JSON answer is not JSON-RPC ({e}): {body_text}"),
    };
    if status != StatusCode::OK {
        assert_eq!(
            msg.kind(),
            Kind::Error,
            "status {status} with a non-error answer: {body_text}"
        );
    }
}
