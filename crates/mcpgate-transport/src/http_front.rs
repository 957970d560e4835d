//! The client-facing Streamable HTTP front, both eras, on one endpoint.
//!
//! `POST /mcp` (or `/mcp/<upstream>`) takes one message (or, for a 2025-03-26 session, a
//! batch). An `initialize` starts a legacy session and its answer carries `Mcp-Session-Id`; a
//! request whose `_meta` names 2026-07-28 is served statelessly after its standard headers are
//! checked against the body. A request's answer is plain JSON unless the upstream sends related
//! messages first (progress, server requests), in which case the answer becomes an SSE stream.
//! `GET` opens a legacy session's stream for unsolicited messages; `DELETE` ends the session.
//! Every request passes the Host and Origin checks that stop DNS rebinding.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use http_body_util::BodyExt;
use mcpgate_core::{Denial, Direction, Era, Kind, Message, ProtocolVersion};
use tokio::sync::mpsc;

use crate::gateway::{Caller, Client, Gateway, InFlight, Reply, Session};
use crate::route::ClientRoute;
use crate::sse::encode_event;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// Builds the HTTP application: the MCP endpoint and the health checks.
pub fn router(gw: Arc<Gateway>) -> Router {
    Router::new()
        .route(
            "/mcp",
            get(mcp_default).post(mcp_default).delete(mcp_default),
        )
        .route(
            "/mcp/{upstream}",
            get(mcp_named).post(mcp_named).delete(mcp_named),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata),
        )
        .route(
            "/.well-known/oauth-protected-resource/{*path}",
            get(resource_metadata),
        )
        .route("/auth/token", axum::routing::post(issue_token))
        .with_state(gw)
}

/// RFC 9728 protected-resource metadata, at the root and path-inserted well-known URIs.
async fn resource_metadata(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    if let Err(resp) = check_host_and_origin(&gw, req.headers()) {
        return resp;
    }
    match crate::auth_http::resource_metadata(&gw) {
        Some(doc) => {
            let mut resp = json_body(StatusCode::OK, doc.to_string());
            resp.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("max-age=300"),
            );
            resp
        }
        None => plain(
            StatusCode::NOT_FOUND,
            "no protected-resource metadata: OAuth is not configured\n",
        ),
    }
}

/// `POST /auth/token`: a short-lived scoped token for an authenticated principal to hand to
/// a sub-agent.
async fn issue_token(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    if let Err(resp) = check_host_and_origin(&gw, req.headers()) {
        return resp;
    }
    let mut req = req;
    let caller = authenticate(&gw, &mut req).await;
    let (parts, body) = req.into_parts();
    let bytes = match http_body_util::Limited::new(body, 64 * 1024)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE, "token request too large\n"),
    };
    crate::auth_http::issue_token(&gw, &caller, &parts.headers, &bytes)
}

/// Who sent `req`: its credential headers and TLS client certificate, checked.
async fn authenticate(gw: &Gateway, req: &mut Request) -> Caller {
    let certificate = req
        .extensions_mut()
        .remove::<crate::tls::PeerCertificate>()
        .map(|c| c.0);
    let headers = req.headers();
    gw.authenticate(headers, certificate.as_deref()).await
}

async fn readyz(State(gw): State<Arc<Gateway>>) -> Response {
    if gw.shutdown.is_cancelled() {
        (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response()
    } else {
        (StatusCode::OK, "ready\n").into_response()
    }
}

async fn mcp_default(State(gw): State<Arc<Gateway>>, req: Request) -> Response {
    serve(gw, None, req).await
}

async fn mcp_named(
    State(gw): State<Arc<Gateway>>,
    Path(upstream): Path<String>,
    req: Request,
) -> Response {
    serve(gw, Some(upstream), req).await
}

async fn serve(gw: Arc<Gateway>, upstream: Option<String>, req: Request) -> Response {
    if let Err(resp) = check_host_and_origin(&gw, req.headers()) {
        return resp;
    }
    let Some(upstream) = gw.upstream(upstream.as_deref()) else {
        return plain(StatusCode::NOT_FOUND, "no such upstream\n");
    };
    let mut req = req;
    let caller = authenticate(&gw, &mut req).await;
    match *req.method() {
        axum::http::Method::POST => post(gw, upstream, caller, req).await,
        // GET and DELETE carry no message for the pipeline: they are refused here.
        _ if caller.failure.is_some() => {
            let denial = caller.failure.unwrap_or(Denial::Internal);
            jsonrpc_status(status_of(&denial, Era::Legacy), &denial)
        }
        axum::http::Method::GET => get_stream(gw, &caller, req.headers()).await,
        axum::http::Method::DELETE => delete(gw, &caller, req.headers()),
        _ => plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n"),
    }
}

/// DNS-rebinding protection: the Host must be an allowed name and a present Origin must be
/// loopback or explicitly allowed.
#[expect(clippy::result_large_err, reason = "the error is the response itself")]
fn check_host_and_origin(gw: &Gateway, headers: &HeaderMap) -> Result<(), Response> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_part);
    let host_ok = host.is_some_and(|h| {
        gw.config
            .server
            .allowed_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&h))
    });
    if !host_ok {
        return Err(jsonrpc_status(
            StatusCode::MISDIRECTED_REQUEST,
            &Denial::InvalidRequest("invalid Host header".into()),
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let allowed = is_loopback_origin(origin)
            || gw
                .config
                .server
                .allowed_origins
                .iter()
                .any(|a| a.eq_ignore_ascii_case(origin));
        if !allowed {
            return Err(jsonrpc_status(
                StatusCode::FORBIDDEN,
                &Denial::InvalidRequest("invalid Origin header".into()),
            ));
        }
    }
    Ok(())
}

/// The host of a `Host` header value, without the port, brackets removed, lowercase.
fn host_part(value: &str) -> String {
    let value = value.trim();
    let host = if let Some(rest) = value.strip_prefix('[') {
        rest.split(']').next().unwrap_or_default()
    } else {
        value.rsplit_once(':').map_or(value, |(h, p)| {
            if p.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                value
            }
        })
    };
    host.to_ascii_lowercase()
}

fn is_loopback_origin(origin: &str) -> bool {
    let Some((scheme, rest)) = origin.split_once("://") else {
        return false;
    };
    if scheme != "http" && scheme != "https" {
        return false;
    }
    if rest.contains('/') {
        return false;
    }
    matches!(host_part(rest).as_str(), "localhost" | "127.0.0.1" | "::1")
}

async fn post(
    gw: Arc<Gateway>,
    upstream: Arc<crate::upstream::Upstream>,
    caller: Caller,
    req: Request,
) -> Response {
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    if gw.shutdown.is_cancelled() {
        return jsonrpc_status(StatusCode::SERVICE_UNAVAILABLE, &Denial::ShuttingDown);
    }
    if !accepts_json_or_sse(&headers) {
        return jsonrpc_status(
            StatusCode::NOT_ACCEPTABLE,
            &Denial::InvalidRequest(
                "the Accept header must allow application/json and text/event-stream".into(),
            ),
        );
    }
    let limits = gw.limits();
    let bytes = match http_body_util::Limited::new(body, limits.max_bytes)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let denial = Denial::TooLarge {
                limit: limits.max_bytes,
            };
            gw.pipeline.finish_unparsed(
                "-",
                upstream.name(),
                Direction::ClientToServer,
                limits.max_bytes + 1,
                &denial,
            );
            return jsonrpc_status(StatusCode::PAYLOAD_TOO_LARGE, &denial);
        }
    };
    let session = match headers.get(SESSION_HEADER) {
        Some(id) => {
            let Some(session) = id.to_str().ok().and_then(|id| gw.session(id)) else {
                return jsonrpc_status(StatusCode::NOT_FOUND, &Denial::SessionNotFound);
            };
            if let Some(v) = headers.get(VERSION_HEADER).and_then(|v| v.to_str().ok())
                && v != session.version.as_str()
            {
                let denial = Denial::InvalidRequest(format!(
                    "`MCP-Protocol-Version: {v}` does not match the session's negotiated version `{}`",
                    session.version
                ));
                return jsonrpc_status(StatusCode::BAD_REQUEST, &denial);
            }
            Some(session)
        }
        None => None,
    };
    if mcpgate_core::jsonrpc::is_batch(&bytes) {
        if let Some(denial) = &caller.failure {
            // A batch is refused as a whole: one challenge for the one HTTP request.
            gw.pipeline.finish_unparsed(
                session.as_ref().map_or("-", |s| &s.id),
                upstream.name(),
                Direction::ClientToServer,
                bytes.len(),
                denial,
            );
            return jsonrpc_status(status_of(denial, Era::Legacy), denial);
        }
        return match session {
            Some(s) if s.version.allows_batches() => batch(gw, s, &caller, &bytes).await,
            _ => {
                let denial = Denial::BatchNotSupported;
                gw.pipeline.finish_unparsed(
                    session.as_ref().map_or("-", |s| &s.id),
                    upstream.name(),
                    Direction::ClientToServer,
                    bytes.len(),
                    &denial,
                );
                jsonrpc_status(StatusCode::BAD_REQUEST, &denial)
            }
        };
    }
    let msg = match Message::parse(&bytes, limits) {
        Ok(m) => m,
        Err(e) => {
            gw.pipeline.finish_unparsed(
                session.as_ref().map_or("-", |s| &s.id),
                upstream.name(),
                Direction::ClientToServer,
                bytes.len(),
                &e.denial,
            );
            let era = if session.is_some() {
                Era::Legacy
            } else {
                Era::Modern
            };
            return jsonrpc_response(
                status_of(&e.denial, era),
                &Message::denial(e.id.as_ref(), &e.denial),
            );
        }
    };
    let size = bytes.len();
    let sse_ok = accepts_sse(&headers);
    if let Some(session) = session {
        let client = Client::Legacy(Arc::clone(&session));
        let reply = gw.handle(&client, &caller, msg, size).await;
        return respond(&gw, reply, Era::Legacy, sse_ok, Some(&session)).await;
    }
    if msg.method() == Some("initialize")
        && msg.kind() == Kind::Request
        && !claims_modern(&headers, &msg)
    {
        let reply = gw.initialize(upstream, None, &caller, msg, size).await;
        return respond(&gw, reply, Era::Legacy, sse_ok, None).await;
    }
    // No session: this must be a modern request.
    if let Err(denial) = check_modern_headers(&headers, &msg) {
        gw.pipeline.finish_unparsed(
            "-",
            upstream.name(),
            Direction::ClientToServer,
            size,
            &denial,
        );
        return jsonrpc_response(
            status_of(&denial, Era::Modern),
            &Message::denial(msg.id(), &denial),
        );
    }
    // `Mcp-Param-*` mirror tool arguments; an HTTP upstream validates them against the body,
    // so they go on unchanged (the gateway itself decides on the body).
    let params: Vec<_> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("mcp-param-"))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let route = Arc::new(
        ClientRoute::new(format!("req-{}", request_tag()), None).with_forward_headers(params),
    );
    let client = Client::Modern { route, upstream };
    let reply = gw.handle(&client, &caller, msg, size).await;
    respond(&gw, reply, Era::Modern, sse_ok, None).await
}

/// Whether a request names a modern revision, in its `MCP-Protocol-Version` header or its
/// `_meta`: such an `initialize` is a modern request for a method 2026-07-28 does not have,
/// not the start of a legacy session.
fn claims_modern(headers: &HeaderMap, msg: &Message) -> bool {
    let modern = |v: &str| ProtocolVersion::parse(v.trim()).is_some_and(|v| v.era() == Era::Modern);
    let header = headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(modern);
    header
        || msg
            .peek_params()
            .protocol_version
            .is_some_and(|v| modern(&v))
}

/// 2026-07-28 requests: `_meta` version known, headers present and equal to the body.
fn check_modern_headers(headers: &HeaderMap, msg: &Message) -> Result<(), Denial> {
    let peek = msg.peek_params();
    let meta_version = peek.protocol_version.as_deref().map(str::to_owned);
    let header_version = headers
        .get(VERSION_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    let Some(meta_version) = meta_version else {
        // Without `_meta` this is a legacy request that skipped `initialize`, unless the header
        // claims a modern revision (then the validation stage names the missing fields).
        let modern_header = header_version
            .and_then(ProtocolVersion::parse)
            .is_some_and(|v| v.era() == Era::Modern);
        return if modern_header || msg.kind() != Kind::Request {
            Ok(())
        } else {
            Err(Denial::SessionRequired)
        };
    };
    // The header must mirror the body before the version it names is judged.
    match header_version {
        None => {
            return Err(Denial::HeaderMismatch(
                "missing `MCP-Protocol-Version` header".into(),
            ));
        }
        Some(h) if h != meta_version => {
            return Err(Denial::HeaderMismatch(format!(
                "`MCP-Protocol-Version: {h}` differs from `_meta` version `{meta_version}`"
            )));
        }
        Some(_) => {}
    }
    match ProtocolVersion::parse(&meta_version) {
        Some(v) if v.era() == Era::Modern => {}
        _ => {
            return Err(Denial::UnsupportedProtocolVersion {
                requested: meta_version,
                supported: ProtocolVersion::modern_versions()
                    .map(|v| v.as_str().to_owned())
                    .collect(),
            });
        }
    }
    if msg.kind() != Kind::Request {
        return Ok(());
    }
    let method = msg.method().unwrap_or_default();
    match headers
        .get("mcp-method")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
    {
        None => return Err(Denial::HeaderMismatch("missing `Mcp-Method` header".into())),
        Some(m) if m != method => {
            return Err(Denial::HeaderMismatch(format!(
                "`Mcp-Method: {m}` differs from the body's method `{method}`"
            )));
        }
        Some(_) => {}
    }
    let name_key = match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(key) = name_key {
        let body_name = match key {
            "uri" => peek.uri.as_deref(),
            _ => peek.name.as_deref(),
        }
        .unwrap_or_default();
        let header_name = headers
            .get("mcp-name")
            .map(|v| decode_header_value(v.as_bytes()));
        match header_name {
            None => return Err(Denial::HeaderMismatch("missing `Mcp-Name` header".into())),
            Some(None) => {
                return Err(Denial::HeaderMismatch(
                    "`Mcp-Name` has an invalid encoding".into(),
                ));
            }
            Some(Some(h)) if h != body_name => {
                return Err(Denial::HeaderMismatch(format!(
                    "`Mcp-Name` differs from the body's `{key}`"
                )));
            }
            Some(Some(_)) => {}
        }
    }
    Ok(())
}

/// Decodes a header value: plain (trimmed of optional white space) or `=?base64?…?=`.
fn decode_header_value(raw: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(raw).ok()?.trim_matches([' ', '\t']);
    match text
        .strip_prefix("=?base64?")
        .and_then(|t| t.strip_suffix("?="))
    {
        Some(b64) => String::from_utf8(BASE64.decode(b64).ok()?).ok(),
        None => Some(text.to_owned()),
    }
}

async fn batch(
    gw: Arc<Gateway>,
    session: Arc<Session>,
    caller: &Caller,
    bytes: &Bytes,
) -> Response {
    if let Err(e) = mcpgate_core::jsonrpc::split_batch(bytes, gw.limits()) {
        return jsonrpc_response(
            status_of(&e.denial, Era::Legacy),
            &Message::denial(None, &e.denial),
        );
    }
    match gw.handle_batch(&session, caller, bytes).await {
        Some(answers) => json_body(StatusCode::OK, answers),
        None => StatusCode::ACCEPTED.into_response(),
    }
}

async fn respond(
    gw: &Arc<Gateway>,
    reply: Reply,
    era: Era,
    sse_ok: bool,
    session: Option<&Arc<Session>>,
) -> Response {
    match reply {
        Reply::Accepted => StatusCode::ACCEPTED.into_response(),
        Reply::Rejected(denial) => rejected(&denial, era),
        Reply::Now { message, denial } => {
            let status = denial
                .as_ref()
                .map_or(StatusCode::OK, |d| status_of(d, era));
            with_challenge(jsonrpc_response(status, &message), denial.as_ref())
        }
        Reply::Initialized { session, message } => {
            let mut resp = jsonrpc_response(StatusCode::OK, &message);
            if let Ok(v) = HeaderValue::from_str(&session.id) {
                resp.headers_mut().insert(SESSION_HEADER, v);
            }
            resp
        }
        Reply::Pending(f) => pending(gw, f, era, sse_ok, session).await,
    }
}

/// Answers with JSON when the final response comes first; switches to SSE when related
/// messages arrive before it (and the client accepts SSE).
async fn pending(
    gw: &Arc<Gateway>,
    mut f: Box<InFlight>,
    era: Era,
    sse_ok: bool,
    session: Option<&Arc<Session>>,
) -> Response {
    // Wait for the first thing to happen, without consuming the final answer's channel.
    let first = tokio::select! {
        biased;
        r = &mut f.call.done => Some(r),
        related = f.call.related.recv() => {
            match related {
                Some(text) => {
                    if sse_ok {
                        return sse_response(Arc::clone(gw), f, text, era);
                    }
                    // A JSON-only client: related messages go to its GET stream, if any.
                    if let Some(s) = session {
                        s.route.send_unsolicited(text);
                    }
                    None
                }
                None => None,
            }
        }
        () = tokio::time::sleep_until(f.deadline) => None,
    };
    // Put a final answer that already arrived back where `complete` expects it.
    if let Some(result) = first {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if let Ok(m) = result {
            let _ = tx.send(m);
        }
        f.call.done = rx;
    }
    let route = session.map(|s| Arc::clone(&s.route));
    let text = gw
        .complete(&mut f, |text| {
            if let Some(route) = &route {
                route.send_unsolicited(text);
            }
        })
        .await;
    let status = match era {
        Era::Modern => modern_error_status(&text),
        Era::Legacy => StatusCode::OK,
    };
    json_body(status, text)
}

/// The status of a 2026-07-28 answer sent as plain JSON: the errors the transport spec ties
/// to a status keep it when they come from the upstream (a stdio upstream has no status to
/// copy), everything else is 200.
fn modern_error_status(text: &str) -> StatusCode {
    #[derive(serde::Deserialize)]
    struct Answer {
        error: Option<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: i64,
    }
    let code = serde_json::from_str::<Answer>(text)
        .ok()
        .and_then(|a| a.error)
        .map(|e| e.code);
    match code {
        // Header mismatch, missing client capability, unsupported protocol version.
        Some(-32022..=-32020) => StatusCode::BAD_REQUEST,
        Some(-32601) => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

fn sse_response(gw: Arc<Gateway>, f: Box<InFlight>, first: String, era: Era) -> Response {
    let (tx, rx) = mpsc::channel::<String>(64);
    let _ = tx.try_send(first);
    tokio::spawn(async move {
        let mut f = f;
        let tx2 = tx.clone();
        // On 2026-07-28 closing the response stream is how a client cancels (a
        // `subscriptions/listen` stream ends only that way); a legacy client's disconnect
        // is not a cancellation.
        let cancels = era == Era::Modern;
        let gone = tx.clone();
        let finished = tokio::select! {
            final_msg = gw.complete(&mut f, move |text| {
                let _ = tx2.try_send(text);
            }) => Some(final_msg),
            () = gone.closed(), if cancels => None,
        };
        match finished {
            Some(final_msg) => {
                let _ = tx.send(final_msg).await;
            }
            None => gw.abandon(&mut f),
        }
    });
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        let text = rx.recv().await?;
        Some((Ok::<_, Infallible>(Bytes::from(encode_event(&text))), rx))
    });
    sse_headers(Response::new(Body::from_stream(stream)))
}

async fn get_stream(gw: Arc<Gateway>, caller: &Caller, headers: &HeaderMap) -> Response {
    let Some(id) = headers.get(SESSION_HEADER) else {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "GET needs an Mcp-Session-Id: 2026-07-28 has no GET stream\n",
        );
    };
    let Some(session) = id
        .to_str()
        .ok()
        .and_then(|id| gw.session(id))
        .filter(|s| s.owned_by(&caller.principal))
    else {
        return jsonrpc_status(StatusCode::NOT_FOUND, &Denial::SessionNotFound);
    };
    if !accepts_sse(headers) {
        return plain(
            StatusCode::NOT_ACCEPTABLE,
            "GET needs Accept: text/event-stream\n",
        );
    }
    if session.route.has_outbox() {
        return plain(
            StatusCode::CONFLICT,
            "this session already has a GET stream open\n",
        );
    }
    let (tx, rx) = mpsc::channel::<String>(256);
    session.route.set_outbox(Some(tx));
    session.touch();
    let shutdown = gw.shutdown.clone();
    let keepalive = Duration::from_secs(15);
    let stream = futures::stream::unfold(
        (rx, shutdown, Arc::clone(&session)),
        move |(mut rx, shutdown, session)| async move {
            tokio::select! {
                msg = rx.recv() => {
                    let text = msg?;
                    session.touch();
                    Some((Ok::<_, Infallible>(Bytes::from(encode_event(&text))), (rx, shutdown, session)))
                }
                () = tokio::time::sleep(keepalive) => {
                    session.touch();
                    Some((Ok(Bytes::from_static(b": keep-alive\n\n")), (rx, shutdown, session)))
                }
                () = shutdown.cancelled() => None,
            }
        },
    );
    sse_headers(Response::new(Body::from_stream(stream)))
}

fn delete(gw: Arc<Gateway>, caller: &Caller, headers: &HeaderMap) -> Response {
    let Some(id) = headers.get(SESSION_HEADER).and_then(|v| v.to_str().ok()) else {
        return plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "DELETE needs an Mcp-Session-Id: 2026-07-28 has no sessions\n",
        );
    };
    let owned = gw
        .session(id)
        .is_some_and(|s| s.owned_by(&caller.principal));
    if owned && gw.end_session(id) {
        StatusCode::OK.into_response()
    } else {
        jsonrpc_status(StatusCode::NOT_FOUND, &Denial::SessionNotFound)
    }
}

fn accepts(headers: &HeaderMap, what: &str) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.split(';').next().unwrap_or_default().trim())
        .any(|t| t.eq_ignore_ascii_case(what) || t == "*/*")
}

fn accepts_sse(headers: &HeaderMap) -> bool {
    accepts(headers, "text/event-stream")
}

fn accepts_json_or_sse(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).is_none()
        || accepts(headers, "application/json")
        || accepts(headers, "text/event-stream")
}

/// A refused notification or response: a 4xx status and an id-less JSON-RPC error body.
fn rejected(denial: &Denial, era: Era) -> Response {
    let status = status_of(denial, era);
    let status = if status.is_client_error() || status.is_server_error() {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    jsonrpc_status(status, denial)
}

fn status_of(denial: &Denial, era: Era) -> StatusCode {
    StatusCode::from_u16(denial.http_status(era)).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn jsonrpc_status(status: StatusCode, denial: &Denial) -> Response {
    with_challenge(
        jsonrpc_response(status, &Message::denial(None, denial)),
        Some(denial),
    )
}

/// Adds the `WWW-Authenticate` challenge an authentication refusal must carry.
fn with_challenge(mut resp: Response, denial: Option<&Denial>) -> Response {
    if let Some(challenge) = denial.and_then(Denial::www_authenticate)
        && let Ok(value) = HeaderValue::from_str(challenge)
    {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    resp
}

fn jsonrpc_response(status: StatusCode, message: &Message) -> Response {
    json_body(status, message.to_json())
}

fn json_body(status: StatusCode, body: String) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

fn sse_headers(mut resp: Response) -> Response {
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

fn request_tag() -> String {
    hex::encode(rand::random::<[u8; 6]>())
}

/// Serves the HTTP front on `listener` until shutdown, then drains.
pub async fn serve_http(
    gw: Arc<Gateway>,
    listener: tokio::net::TcpListener,
) -> std::io::Result<()> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    tracing::info!(addr = ?addr, "listening (Streamable HTTP at /mcp)");
    let shutdown = gw.shutdown.clone();
    // SSE answers are written event by event: no Nagle delay between them.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, router(Arc::clone(&gw)))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_parts() {
        assert_eq!(host_part("localhost:7878"), "localhost");
        assert_eq!(host_part("[::1]:80"), "::1");
        assert_eq!(host_part("127.0.0.1"), "127.0.0.1");
        assert_eq!(host_part("Evil.Example:1"), "evil.example");
    }

    #[test]
    fn loopback_origins() {
        assert!(is_loopback_origin("http://localhost:3000"));
        assert!(is_loopback_origin("http://127.0.0.1"));
        assert!(is_loopback_origin("https://[::1]:8443"));
        assert!(!is_loopback_origin("http://evil.example"));
        assert!(!is_loopback_origin("http://localhost.evil.example"));
        assert!(!is_loopback_origin("null"));
        assert!(!is_loopback_origin("file://localhost"));
    }

    #[test]
    fn header_value_decoding() {
        assert_eq!(decode_header_value(b" echo ").as_deref(), Some("echo"));
        assert_eq!(
            decode_header_value(b"=?base64?w6k=?=").as_deref(),
            Some("\u{e9}")
        );
        assert_eq!(decode_header_value(b"=?base64?!!?="), None);
    }
}
