//! A link: one connection to an upstream MCP server, shared by one or more clients.
//!
//! The link owns the upstream id space. Every request sent through it gets a fresh numeric id,
//! and the pending table maps that id back to the client and the id the client chose; a
//! response whose id matches nothing outstanding is dropped and logged, so a server cannot
//! answer a request that was never sent, and a client cannot see another client's answers.
//! Progress tokens are renumbered the same way (`mcpgate-<id>`), so two clients on one upstream
//! cannot collide on a token either.
//!
//! A link is either *per session* (its handshake is the client's own `initialize`, and
//! everything the server sends goes to that one client) or *shared* (the gateway did the
//! handshake; server requests go to the client whose request is the most recent in flight, and
//! list-changed notifications go to every attached client).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use mcpgate_core::revision::{META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION};
use mcpgate_core::{Denial, Direction, Era, Exchange, Id, Kind, Limits, Message, ProtocolVersion};
use mcpgate_pipeline::{Outcome, Pipeline, Stop};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use crate::route::ClientRoute;
use crate::{http_upstream, stdio_upstream};

/// What the handshake with the upstream established.
#[derive(Debug, Clone)]
pub struct Handshake {
    /// The era the upstream speaks on this link.
    pub era: Era,
    /// The revision negotiated (legacy) or chosen (modern).
    pub version: ProtocolVersion,
    /// The `initialize` result (legacy) or the `server/discover` result (modern).
    pub result: Value,
}

pub(crate) enum Backend {
    Stdio(stdio_upstream::StdioChild),
    Http(Box<http_upstream::HttpClient>),
}

struct Pending {
    client_id: Id,
    route: Weak<ClientRoute>,
    related: mpsc::Sender<String>,
    done: oneshot::Sender<Message>,
    progress: Option<Value>,
}

/// One connection to an upstream.
pub struct Link {
    /// The configured upstream's name.
    pub upstream: String,
    /// A label for logs: the upstream name and a serial number.
    pub label: String,
    per_session: bool,
    handshake: OnceLock<Handshake>,
    backend: OnceLock<Backend>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    routes: Mutex<Vec<Weak<ClientRoute>>>,
    last_route: Mutex<Weak<ClientRoute>>,
    closed: CancellationToken,
    pub(crate) limits: Limits,
    pipeline: Arc<Pipeline>,
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link").field("label", &self.label).finish()
    }
}

/// An in-flight request: the receivers for its related messages and its final response.
///
/// Dropping a call that has not finished withdraws it: the pending entry goes, and the upstream
/// gets `notifications/cancelled`, so an abandoned request does not keep working upstream.
pub struct Call {
    link: Arc<Link>,
    id: u64,
    /// Notifications and server requests related to this request, already in the client's ids.
    pub related: mpsc::Receiver<String>,
    /// The final response, already in the client's ids.
    pub done: oneshot::Receiver<Message>,
    finished: bool,
}

impl Call {
    /// Marks the call as answered, so dropping it sends no cancellation.
    pub fn finish(&mut self) {
        self.finished = true;
    }

    /// Withdraws the call now, telling the upstream why (after [`Call::finish`], too).
    pub fn withdraw_now(&mut self, reason: &str) {
        self.finished = true;
        self.link.withdraw(self.id, reason);
    }

    /// Withdraws the call now, telling the upstream why.
    pub fn cancel(mut self, reason: &str) {
        self.finished = true;
        self.link.withdraw(self.id, reason);
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.finished {
            self.link.withdraw(self.id, "client went away");
        }
    }
}

impl Link {
    pub(crate) fn new(
        upstream: &str,
        serial: u64,
        per_session: bool,
        limits: Limits,
        pipeline: Arc<Pipeline>,
    ) -> Arc<Self> {
        Arc::new(Self {
            upstream: upstream.to_owned(),
            label: format!("{upstream}#{serial}"),
            per_session,
            handshake: OnceLock::new(),
            backend: OnceLock::new(),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            routes: Mutex::new(Vec::new()),
            last_route: Mutex::new(Weak::new()),
            closed: CancellationToken::new(),
            limits,
            pipeline,
        })
    }

    pub(crate) fn backend(&self) -> Option<&Backend> {
        self.backend.get()
    }

    /// Answers request `n` with an error, if it is still outstanding.
    pub(crate) fn fail(&self, n: u64, denial: Denial) {
        let pending = self.pending.lock().ok().and_then(|mut p| p.remove(&n));
        if let Some(p) = pending {
            let _ = p.done.send(Message::denial(Some(&p.client_id), &denial));
        }
    }

    pub(crate) fn set_backend(&self, backend: Backend) {
        let _ = self.backend.set(backend);
    }

    /// What the handshake established, once it is done.
    pub fn handshake(&self) -> Option<&Handshake> {
        self.handshake.get()
    }

    pub(crate) fn set_handshake(&self, h: Handshake) {
        let _ = self.handshake.set(h);
    }

    /// The era of the link (legacy until a handshake says otherwise).
    pub fn era(&self) -> Era {
        self.handshake.get().map_or(Era::Legacy, |h| h.era)
    }

    /// The negotiated revision.
    pub fn version(&self) -> ProtocolVersion {
        self.handshake
            .get()
            .map_or(ProtocolVersion::LATEST_LEGACY, |h| h.version)
    }

    /// Whether the upstream went away or the link was closed.
    pub fn is_closed(&self) -> bool {
        self.closed.is_cancelled()
    }

    /// Resolves when the link closes.
    pub async fn closed(&self) {
        self.closed.cancelled().await;
    }

    pub(crate) fn close_token(&self) -> &CancellationToken {
        &self.closed
    }

    /// Attaches a client so that broadcasts reach it.
    pub fn attach(&self, route: &Arc<ClientRoute>) {
        if let Ok(mut routes) = self.routes.lock() {
            routes.retain(|r| r.strong_count() > 0);
            routes.push(Arc::downgrade(route));
        }
    }

    /// Number of requests in flight.
    pub fn in_flight(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or(0)
    }

    /// Sends a request for `route`. The message's id is replaced by a fresh upstream id.
    pub(crate) fn start_call(
        self: &Arc<Self>,
        route: &Arc<ClientRoute>,
        msg: &Message,
    ) -> Result<Call, Denial> {
        if self.is_closed() {
            return Err(Denial::UpstreamClosed);
        }
        let client_id = msg.id().cloned().ok_or(Denial::Internal)?;
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        let upstream_id = Id::number(n);
        let (text, progress) = match rewrite_progress_token(msg, n) {
            Some((rewritten, original)) => {
                (rewritten.to_json_with_id(&upstream_id), Some(original))
            }
            None => (msg.to_json_with_id(&upstream_id), None),
        };
        let (related_tx, related_rx) = mpsc::channel(64);
        let (done_tx, done_rx) = oneshot::channel();
        if let Ok(mut pending) = self.pending.lock() {
            pending.insert(
                n,
                Pending {
                    client_id,
                    route: Arc::downgrade(route),
                    related: related_tx,
                    done: done_tx,
                    progress,
                },
            );
        }
        if let Ok(mut last) = self.last_route.lock() {
            *last = Arc::downgrade(route);
        }
        let call = Call {
            link: Arc::clone(self),
            id: n,
            related: related_rx,
            done: done_rx,
            finished: false,
        };
        match self.backend.get() {
            Some(Backend::Http(client)) => client.send(self, text, &route.forward_headers),
            _ => self.send(text)?,
        }
        Ok(call)
    }

    /// Sends a request the gateway itself makes (handshakes) and waits for its answer.
    pub(crate) async fn call_internal(
        self: &Arc<Self>,
        method: &str,
        params: Option<&Value>,
        timeout: Duration,
    ) -> Result<Message, Denial> {
        let route = Arc::new(ClientRoute::new(format!("{}-gateway", self.label), None));
        let msg = Message::request(&Id::number(0), method, params);
        let mut call = self.start_call(&route, &msg)?;
        match tokio::time::timeout(timeout, &mut call.done).await {
            Ok(Ok(reply)) => {
                call.finish();
                Ok(reply)
            }
            Ok(Err(_)) => {
                call.finish();
                Err(Denial::UpstreamClosed)
            }
            Err(_) => {
                call.cancel("timeout");
                Err(Denial::UpstreamTimeout {
                    after_ms: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                })
            }
        }
    }

    /// Sends a notification or a response upstream, as is.
    pub(crate) fn send(self: &Arc<Self>, text: String) -> Result<(), Denial> {
        match self.backend.get() {
            Some(Backend::Stdio(child)) => child.send(text),
            Some(Backend::Http(client)) => {
                client.send(self, text, &[]);
                Ok(())
            }
            None => Err(Denial::UpstreamUnavailable("upstream not connected".into())),
        }
    }

    fn withdraw(self: &Arc<Self>, n: u64, reason: &str) {
        let removed = self.pending.lock().ok().and_then(|mut p| p.remove(&n));
        if removed.is_some() && !self.is_closed() {
            if let Some(Backend::Http(client)) = self.backend.get()
                && self.era() == Era::Modern
            {
                // 2026-07-28 over HTTP has no client notifications: closing the request's
                // stream is the cancellation.
                client.abort(n);
                return;
            }
            let params = json!({ "requestId": n, "reason": reason });
            let note = Message::notification("notifications/cancelled", Some(&params));
            let _ = self.send(note.to_json());
        }
    }

    /// Forwards a client's `notifications/cancelled`, translating the request id.
    pub(crate) fn forward_cancel(self: &Arc<Self>, route: &Arc<ClientRoute>, params: &Value) {
        let Some(client_id) = params.get("requestId") else {
            return;
        };
        let client_id = client_id.to_string();
        let found = self.pending.lock().ok().and_then(|p| {
            p.iter()
                .find(|(_, v)| {
                    v.client_id.as_json() == client_id
                        && v.route.upgrade().is_some_and(|r| Arc::ptr_eq(&r, route))
                })
                .map(|(k, _)| *k)
        });
        if let Some(n) = found {
            let reason = params
                .get("reason")
                .and_then(Value::as_str)
                .unwrap_or("cancelled by client");
            self.withdraw(n, reason);
        }
    }

    /// Closes the link: fails what is in flight and stops the upstream connection.
    pub fn close(&self) {
        if self.closed.is_cancelled() {
            return;
        }
        self.closed.cancel();
        let pending: Vec<Pending> = self
            .pending
            .lock()
            .map(|mut p| p.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        for p in pending {
            let reply = Message::denial(Some(&p.client_id), &Denial::UpstreamClosed);
            let _ = p.done.send(reply);
        }
        if let Ok(routes) = self.routes.lock() {
            for r in routes.iter().filter_map(Weak::upgrade) {
                r.forget_link_by_ptr(self);
            }
        }
        if let Some(Backend::Http(client)) = self.backend.get() {
            client.close();
        }
    }

    /// Handles one message from the upstream.
    pub(crate) async fn on_upstream(self: &Arc<Self>, bytes: &[u8]) {
        let msg = match Message::parse(bytes, self.limits) {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(link = %self.label, error = %e.denial, "dropped a malformed message from the upstream");
                self.pipeline.finish_unparsed(
                    "-",
                    &self.upstream,
                    Direction::ServerToClient,
                    bytes.len(),
                    &e.denial,
                );
                return;
            }
        };
        match msg.kind() {
            Kind::Result | Kind::Error => self.on_response(msg),
            Kind::Request | Kind::Notification => self.on_server_message(msg, bytes.len()).await,
        }
    }

    fn on_response(&self, mut msg: Message) {
        let n = msg.id().and_then(Id::as_u64);
        let pending = n.and_then(|n| self.pending.lock().ok().and_then(|mut p| p.remove(&n)));
        let Some(p) = pending else {
            tracing::warn!(link = %self.label, id = ?msg.id().map(Id::as_json), "dropped a response that matches no outstanding request");
            return;
        };
        msg.set_id(&p.client_id);
        let _ = p.done.send(msg);
    }

    async fn on_server_message(self: &Arc<Self>, mut msg: Message, size: usize) {
        let version = self.version();
        let session = self
            .target_route(None)
            .map_or_else(|| "-".to_owned(), |r| r.session.clone());
        let mut x = Exchange::new(
            msg.clone(),
            Direction::ServerToClient,
            session,
            self.upstream.clone(),
            version,
            size,
        );
        if let Err(stop) = self.pipeline.on_request(&mut x).await {
            let denial = match stop {
                Stop::Deny(d) => d,
                Stop::Respond(_) => Denial::Internal,
            };
            self.pipeline.finish(&x, Outcome::Denied(&denial));
            if msg.kind() == Kind::Request {
                let reply = Message::denial(msg.id(), &denial);
                let _ = self.send(reply.to_json());
            }
            return;
        }
        let method = msg.method().unwrap_or_default().to_owned();
        if msg.kind() == Kind::Request {
            self.on_server_request(msg, &x);
            return;
        }
        let mut params = msg.params();
        // A 2026-07-28 `subscriptions/listen` stream: its notifications name the listen
        // request, which is the only place they may go, under the id the client gave it.
        if let Some(params) = params.as_mut()
            && let Some(target) = self.listen_target(params)
        {
            let (related, client_id) = target;
            params["_meta"][META_SUBSCRIPTION_ID] =
                serde_json::from_str(client_id.as_json()).unwrap_or(Value::Null);
            msg.set_member("params", params);
            let _ = related.try_send(msg.to_json());
            self.pipeline.finish(&x, Outcome::Forwarded);
            return;
        }
        match method.as_str() {
            "notifications/progress" => {
                let token = params
                    .as_ref()
                    .and_then(|p| p.get("progressToken"))
                    .and_then(Value::as_str)
                    .and_then(|t| t.strip_prefix(PROGRESS_PREFIX))
                    .and_then(|t| t.parse::<u64>().ok());
                let target = token.and_then(|n| {
                    self.pending
                        .lock()
                        .ok()
                        .and_then(|p| p.get(&n).map(|p| (p.related.clone(), p.progress.clone())))
                });
                if let (Some((related, Some(original))), Some(mut params)) = (target, params) {
                    params["progressToken"] = original;
                    msg.set_member("params", &params);
                    let _ = related.try_send(msg.to_json());
                    self.pipeline.finish(&x, Outcome::Forwarded);
                }
            }
            "notifications/cancelled" => {
                // The server withdraws a request it sent to a client.
                let upstream_id = params.as_ref().and_then(|p| p.get("requestId")).cloned();
                if let Some(upstream_id) = upstream_id {
                    self.forward_server_cancel(&upstream_id, msg);
                }
                self.pipeline.finish(&x, Outcome::Forwarded);
            }
            m if m.ends_with("/list_changed") || m == "notifications/resources/updated" => {
                let text = msg.to_json();
                for route in self.routes() {
                    route.send_unsolicited(text.clone());
                }
                self.pipeline.finish(&x, Outcome::Forwarded);
            }
            _ => {
                if let Some(route) = self.target_route(None) {
                    let text = msg.to_json();
                    if !self.send_related(&route, text.clone()) {
                        route.send_unsolicited(text);
                    }
                }
                self.pipeline.finish(&x, Outcome::Forwarded);
            }
        }
    }

    /// The stream and client id of the in-flight `subscriptions/listen` request that a
    /// notification's `_meta` subscription id names, if it is one of this link's requests.
    fn listen_target(&self, params: &Value) -> Option<(mpsc::Sender<String>, Id)> {
        let n = params.get("_meta")?.get(META_SUBSCRIPTION_ID)?.as_u64()?;
        let pending = self.pending.lock().ok()?;
        let p = pending.get(&n)?;
        Some((p.related.clone(), p.client_id.clone()))
    }

    fn on_server_request(self: &Arc<Self>, mut msg: Message, x: &Exchange) {
        let upstream_id = msg.id().cloned();
        let Some(upstream_id) = upstream_id else {
            return;
        };
        let Some(route) = self.target_route(None) else {
            let denial =
                Denial::UpstreamUnavailable("no client is connected to answer this request".into());
            self.pipeline.finish(x, Outcome::Denied(&denial));
            let _ = self.send(Message::denial(Some(&upstream_id), &denial).to_json());
            return;
        };
        let client_id = route.register_server_request(Arc::downgrade(self), upstream_id.clone());
        msg.set_id(&client_id);
        let text = msg.to_json();
        if !self.send_related(&route, text.clone()) && !route.send_unsolicited(text) {
            route.take_server_request(&client_id);
            let denial = Denial::UpstreamUnavailable(
                "the client has no open stream to receive this request".into(),
            );
            self.pipeline.finish(x, Outcome::Denied(&denial));
            let _ = self.send(Message::denial(Some(&upstream_id), &denial).to_json());
            return;
        }
        self.pipeline.finish(x, Outcome::Forwarded);
    }

    fn forward_server_cancel(&self, upstream_id: &Value, mut msg: Message) {
        let upstream_id = upstream_id.to_string();
        for route in self.routes() {
            if let Some(client_id) = route.find_server_request(self, &upstream_id) {
                if let Some(mut params) = msg.params() {
                    params["requestId"] =
                        serde_json::from_str(client_id.as_json()).unwrap_or(Value::Null);
                    msg.set_member("params", &params);
                }
                route.send_unsolicited(msg.to_json());
                return;
            }
        }
    }

    /// Sends to the stream of the route's most recent in-flight request, if it has one.
    fn send_related(&self, route: &Arc<ClientRoute>, text: String) -> bool {
        let sender = self.pending.lock().ok().and_then(|p| {
            p.iter()
                .filter(|(_, v)| v.route.upgrade().is_some_and(|r| Arc::ptr_eq(&r, route)))
                .max_by_key(|(k, _)| **k)
                .map(|(_, v)| v.related.clone())
        });
        sender.is_some_and(|tx| tx.try_send(text).is_ok())
    }

    /// The client that server-initiated traffic goes to.
    fn target_route(&self, _hint: Option<u64>) -> Option<Arc<ClientRoute>> {
        if self.per_session {
            return self.routes().into_iter().next();
        }
        // The client whose request is the most recent still in flight; the last client to send
        // a request only when nothing is in flight.
        let in_flight = self.pending.lock().ok().and_then(|p| {
            p.iter()
                .filter_map(|(k, v)| v.route.upgrade().map(|r| (*k, r)))
                .max_by_key(|(k, _)| *k)
                .map(|(_, r)| r)
        });
        in_flight.or_else(|| self.last_route.lock().ok().and_then(|r| r.upgrade()))
    }

    fn routes(&self) -> Vec<Arc<ClientRoute>> {
        self.routes
            .lock()
            .map(|r| r.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default()
    }

    /// Called by a backend when the upstream connection ends.
    pub(crate) fn upstream_gone(&self, why: &str) {
        if !self.is_closed() {
            tracing::warn!(link = %self.label, why, "upstream connection ended");
        }
        self.close();
    }
}

const PROGRESS_PREFIX: &str = "mcpgate-";

/// The `_meta` key naming the `subscriptions/listen` request a notification belongs to.
const META_SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// A copy of `msg` whose `params._meta.progressToken` is replaced by one in the link's space,
/// with the original token; `None` (and no copy) when the request has no token.
fn rewrite_progress_token(msg: &Message, n: u64) -> Option<(Message, Value)> {
    let raw = msg.member("params")?;
    if !raw.get().contains("progressToken") {
        return None;
    }
    let mut params = msg.params()?;
    let meta = params.get_mut("_meta")?.as_object_mut()?;
    let original = meta.get("progressToken")?.clone();
    meta.insert(
        "progressToken".into(),
        Value::String(format!("{PROGRESS_PREFIX}{n}")),
    );
    let mut out = msg.clone();
    out.set_member("params", &params);
    Some((out, original))
}

/// The `_meta` a modern request carries, for requests the gateway makes itself.
pub(crate) fn gateway_meta(version: ProtocolVersion) -> Value {
    json!({
        META_PROTOCOL_VERSION: version.as_str(),
        META_CLIENT_CAPABILITIES: {},
        META_CLIENT_INFO: { "name": "mcpgate", "version": env!("CARGO_PKG_VERSION") },
    })
}

impl ClientRoute {
    pub(crate) fn forget_link_by_ptr(&self, link: &Link) {
        self.forget_where(|l| std::ptr::eq(l.as_ptr(), link));
    }
}
