//! Upstream over Streamable HTTP, both eras.
//!
//! Each message is its own POST. Answers come back as a JSON body or an SSE stream and are fed
//! to the link exactly like lines from a stdio child. Toward a modern upstream the standard
//! headers (`MCP-Protocol-Version`, `Mcp-Method`, `Mcp-Name`) are generated from the body, never
//! copied from the client; toward a legacy upstream the session id it minted is sent back and
//! a GET stream carries what it sends outside any request. The client's own credentials are
//! never forwarded: only the headers configured for this upstream are added.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use futures::StreamExt;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, BodyStream, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use mcpgate_config::HttpUpstream;
use mcpgate_core::{Denial, Era, ProtocolVersion};
use serde::Deserialize;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::link::{Backend, Link};
use crate::sse::SseDecoder;

const SESSION_HEADER: &str = "mcp-session-id";
const VERSION_HEADER: &str = "mcp-protocol-version";

/// The gateway's client for one upstream HTTP session.
pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
    url: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    session: Mutex<Option<HeaderValue>>,
    tracker: TaskTracker,
    /// The requests whose answers are still being read, by upstream id: cancelling one
    /// closes its connection, which is how a 2026-07-28 request is cancelled over HTTP.
    reading: Mutex<HashMap<u64, CancellationToken>>,
}

/// Connects `link` to an HTTP upstream (no traffic is sent until the handshake).
pub(crate) fn connect(
    link: &Arc<Link>,
    cfg: &HttpUpstream,
    tracker: &TaskTracker,
) -> Result<(), Denial> {
    if cfg.url.scheme() != "http" {
        return Err(Denial::UpstreamUnavailable(
            "only http:// upstreams are supported by this build".into(),
        ));
    }
    let url: Uri = cfg
        .url
        .as_str()
        .parse()
        .map_err(|_| Denial::UpstreamUnavailable("invalid upstream url".into()))?;
    let mut headers = Vec::new();
    for (name, value) in &cfg.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| Denial::UpstreamUnavailable(format!("invalid header name `{name}`")))?;
        let mut value = HeaderValue::from_str(value).map_err(|_| {
            Denial::UpstreamUnavailable(format!("invalid value for header `{name}`"))
        })?;
        value.set_sensitive(true);
        headers.push((name, value));
    }
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    connector.set_connect_timeout(Some(Duration::from_secs(10)));
    let client = Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector);
    link.set_backend(Backend::Http(Box::new(HttpClient {
        client,
        url,
        headers,
        session: Mutex::new(None),
        tracker: tracker.clone(),
        reading: Mutex::new(HashMap::new()),
    })));
    Ok(())
}

/// The few body fields the HTTP headers mirror.
#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow)]
    method: Option<std::borrow::Cow<'a, str>>,
    id: Option<u64>,
    params: Option<PeekParams<'a>>,
}

#[derive(Deserialize)]
struct PeekParams<'a> {
    #[serde(borrow)]
    name: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    uri: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "_meta", borrow)]
    meta: Option<PeekMeta<'a>>,
}

#[derive(Deserialize)]
struct PeekMeta<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow)]
    version: Option<std::borrow::Cow<'a, str>>,
}

impl HttpClient {
    /// Posts one message; what comes back is fed to the link. `forward` are headers of the
    /// client's own request to pass on (`Mcp-Param-*`, meaningful on 2026-07-28 only).
    pub(crate) fn send(
        &self,
        link: &Arc<Link>,
        text: String,
        forward: &[(HeaderName, HeaderValue)],
    ) {
        let id = peek_id(&text);
        let request = match self.build_post(link, text, forward) {
            Ok(r) => r,
            Err(denial) => {
                if let Some(id) = id {
                    link.fail(id, denial);
                }
                return;
            }
        };
        let client = self.client.clone();
        let weak = Arc::downgrade(link);
        let max = link.limits.max_bytes;
        let stop = CancellationToken::new();
        if let (Some(id), Ok(mut reading)) = (id, self.reading.lock()) {
            reading.insert(id, stop.clone());
        }
        self.tracker.spawn(async move {
            let exchange = async {
                let result = client.request(request).await;
                let Some(link) = weak.upgrade() else { return };
                match result {
                    Ok(response) => handle_response(&link, response, id, max).await,
                    Err(e) => {
                        tracing::warn!(link = %link.label, error = %e, "upstream request failed");
                        if let Some(id) = id {
                            link.fail(
                                id,
                                Denial::UpstreamUnavailable("could not reach the upstream".into()),
                            );
                        }
                    }
                }
            };
            tokio::select! {
                () = exchange => {}
                () = stop.cancelled() => {}
            }
            if let (Some(id), Some(link)) = (id, weak.upgrade())
                && let Some(Backend::Http(client)) = link.backend()
                && let Ok(mut reading) = client.reading.lock()
            {
                reading.remove(&id);
            }
        });
    }

    /// Stops reading the answer to request `id` and drops its connection.
    pub(crate) fn abort(&self, id: u64) {
        let stop = self.reading.lock().ok().and_then(|mut r| r.remove(&id));
        if let Some(stop) = stop {
            stop.cancel();
        }
    }

    fn build_post(
        &self,
        link: &Link,
        text: String,
        forward: &[(HeaderName, HeaderValue)],
    ) -> Result<Request<Full<Bytes>>, Denial> {
        let peek: Peek<'_> = serde_json::from_str(&text).map_err(|_| Denial::Internal)?;
        let mut req = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream");
        let meta_version = peek
            .params
            .as_ref()
            .and_then(|p| p.meta.as_ref())
            .and_then(|m| m.version.as_deref())
            .and_then(ProtocolVersion::parse);
        let modern = meta_version.is_some_and(|v| v.era() == Era::Modern)
            || link.handshake().is_some_and(|h| h.era == Era::Modern);
        if modern {
            let version = meta_version.unwrap_or(ProtocolVersion::LATEST);
            req = req.header(VERSION_HEADER, version.as_str());
            if let Some(method) = peek.method.as_deref() {
                if peek.id.is_some() {
                    req = req.header("mcp-method", header_value(method));
                }
                let name = match method {
                    "tools/call" | "prompts/get" => {
                        peek.params.as_ref().and_then(|p| p.name.as_deref())
                    }
                    "resources/read" => peek.params.as_ref().and_then(|p| p.uri.as_deref()),
                    _ => None,
                };
                if let Some(name) = name {
                    req = req.header("mcp-name", header_value(name));
                }
            }
            for (name, value) in forward {
                req = req.header(name, value);
            }
        } else {
            if let Some(h) = link.handshake()
                && h.version >= ProtocolVersion::V2025_06_18
            {
                req = req.header(VERSION_HEADER, h.version.as_str());
            }
            if let Some(session) = self.session.lock().ok().and_then(|s| s.clone()) {
                req = req.header(SESSION_HEADER, session);
            }
        }
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        // The headers are built; the peek's borrows of `text` end here, so the body can own it.
        drop(peek);
        req.body(Full::new(Bytes::from(text)))
            .map_err(|_| Denial::Internal)
    }

    /// Remembers the session the upstream minted and opens its GET stream.
    pub(crate) fn start_session(&self, link: &Arc<Link>) {
        if self.session.lock().ok().and_then(|s| s.clone()).is_none() {
            return;
        }
        let client = self.client.clone();
        let weak = Arc::downgrade(link);
        let url = self.url.clone();
        let headers = self.headers.clone();
        let session = self.session.lock().ok().and_then(|s| s.clone());
        let closed = link.close_token().clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = get_stream(client, weak, url, headers, session) => {}
                () = closed.cancelled() => {}
            }
        });
    }

    /// Ends the upstream session (legacy DELETE), without waiting for the answer.
    pub(crate) fn close(&self) {
        let Some(session) = self.session.lock().ok().and_then(|mut s| s.take()) else {
            return;
        };
        let mut req = Request::builder()
            .method(Method::DELETE)
            .uri(self.url.clone())
            .header(SESSION_HEADER, session);
        for (name, value) in &self.headers {
            req = req.header(name, value);
        }
        let Ok(req) = req.body(Full::new(Bytes::new())) else {
            return;
        };
        let client = self.client.clone();
        self.tracker.spawn(async move {
            let _ = tokio::time::timeout(Duration::from_secs(2), client.request(req)).await;
        });
    }

    fn set_session(&self, value: HeaderValue) {
        if let Ok(mut s) = self.session.lock()
            && s.is_none()
        {
            *s = Some(value);
        }
    }
}

fn header_value(s: &str) -> HeaderValue {
    // Values that are not plain visible ASCII use the base64 form the 2026-07-28 spec defines.
    let plain = !s.is_empty()
        && s.bytes().all(|b| (0x20..0x7f).contains(&b))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
        && !s.starts_with("=?base64?");
    let text = if plain {
        s.to_owned()
    } else {
        format!("=?base64?{}?=", BASE64.encode(s.as_bytes()))
    };
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn peek_id(text: &str) -> Option<u64> {
    serde_json::from_str::<Peek<'_>>(text)
        .ok()
        .and_then(|p| p.id)
}

async fn handle_response(
    link: &Arc<Link>,
    response: http::Response<hyper::body::Incoming>,
    id: Option<u64>,
    max: usize,
) {
    let status = response.status();
    if let Some(session) = response.headers().get(SESSION_HEADER)
        && let Some(Backend::Http(client)) = link.backend()
    {
        client.set_session(session.clone());
    }
    let is_sse = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    if status == StatusCode::ACCEPTED {
        return;
    }
    if status == StatusCode::NOT_FOUND && link.era() == Era::Legacy && link.handshake().is_some() {
        link.upstream_gone("the upstream ended the session (HTTP 404)");
        return;
    }
    if is_sse && status.is_success() {
        let mut decoder = SseDecoder::new(max);
        let mut body = BodyStream::new(response.into_body());
        while let Some(frame) = body.next().await {
            let Ok(frame) = frame else { break };
            let Ok(data) = frame.into_data() else {
                continue;
            };
            match decoder.feed(&data) {
                Ok(events) => {
                    for event in events.iter().filter(|e| !e.is_empty()) {
                        link.on_upstream(event).await;
                    }
                }
                Err(_) => {
                    tracing::warn!(link = %link.label, "upstream SSE event over the size limit");
                    break;
                }
            }
        }
        if let Some(id) = id {
            link.fail(id, Denial::UpstreamClosed);
        }
        return;
    }
    let body = Limited::new(response.into_body(), max).collect().await;
    let body = match body {
        Ok(b) => b.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let trimmed = body.trim_ascii();
    if trimmed.first() == Some(&b'{') {
        link.on_upstream(trimmed).await;
    } else if trimmed.first() == Some(&b'[')
        && let Ok(items) = mcpgate_core::jsonrpc::split_batch(trimmed, link.limits)
    {
        for item in items {
            link.on_upstream(item.get().as_bytes()).await;
        }
    }
    // If nothing in the body answered the request, answer it here.
    if let Some(id) = id {
        let denial = if status.is_success() {
            Denial::UpstreamClosed
        } else {
            Denial::UpstreamUnavailable(format!("the upstream answered HTTP {}", status.as_u16()))
        };
        link.fail(id, denial);
    }
}

async fn get_stream(
    client: Client<HttpConnector, Full<Bytes>>,
    link: Weak<Link>,
    url: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    session: Option<HeaderValue>,
) {
    let Some(session) = session else { return };
    for attempt in 0..5u32 {
        let mut req = Request::builder()
            .method(Method::GET)
            .uri(url.clone())
            .header(ACCEPT, "text/event-stream")
            .header(SESSION_HEADER, session.clone());
        if let Some(link) = link.upgrade()
            && let Some(h) = link.handshake()
            && h.version >= ProtocolVersion::V2025_06_18
        {
            req = req.header(VERSION_HEADER, h.version.as_str());
        }
        for (name, value) in &headers {
            req = req.header(name, value);
        }
        let Ok(req) = req.body(Full::new(Bytes::new())) else {
            return;
        };
        let Ok(response) = client.request(req).await else {
            tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt + 1))).await;
            continue;
        };
        if !response.status().is_success() {
            // 405: the upstream has no GET stream; that is allowed.
            return;
        }
        let Some(max) = link.upgrade().map(|l| l.limits.max_bytes) else {
            return;
        };
        let mut decoder = SseDecoder::new(max);
        let mut body = BodyStream::new(response.into_body());
        while let Some(Ok(frame)) = body.next().await {
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let Ok(events) = decoder.feed(&data) else {
                break;
            };
            let Some(link) = link.upgrade() else { return };
            for event in events.iter().filter(|e| !e.is_empty()) {
                link.on_upstream(event).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_values_use_the_sentinel_form_when_needed() {
        assert_eq!(header_value("echo").to_str().unwrap(), "echo");
        assert_eq!(header_value(" x").to_str().unwrap(), "=?base64?IHg=?=");
        assert_eq!(header_value("é").to_str().unwrap(), "=?base64?w6k=?=");
    }
}
