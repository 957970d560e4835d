//! The relay: what happens to a client's message between the front and the upstream link.
//!
//! Both fronts (stdio and Streamable HTTP) hand parsed messages to [`Gateway::handle`], which
//! runs the pipeline, picks the link, translates between eras where client and upstream
//! differ, and returns a [`Reply`] for the front to deliver. The era rules:
//!
//! - a legacy client session (`initialize`) gets its own link by default, whose handshake is the
//!   client's own `initialize`; with `sharing = "shared"` it joins the gateway's shared link and
//!   the gateway answers `initialize` from that link's handshake;
//! - a modern (2026-07-28) request goes to the shared link; when that upstream is legacy the
//!   gateway answers `server/discover` itself and adds the modern result fields;
//! - a legacy client on a modern-only shared link has each request stamped with the modern
//!   per-request `_meta`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mcpgate_auth::Authenticator;
use mcpgate_config::{Config, Sharing};
use mcpgate_core::revision::{
    META_CLIENT_CAPABILITIES, META_CLIENT_INFO, META_PROTOCOL_VERSION, META_SERVER_INFO,
    is_cacheable,
};
use mcpgate_core::{
    Denial, Direction, Era, Exchange, Kind, Limits, Message, Principal, ProtocolVersion,
};
use mcpgate_pipeline::{Outcome, Pipeline, Stop};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::link::{Call, Link};
use crate::route::ClientRoute;
use crate::upstream::{Upstream, millis};

/// The running gateway: configuration, pipeline, upstreams and sessions.
#[derive(Debug)]
pub struct Gateway {
    /// The validated configuration.
    pub config: Config,
    /// The pipeline every message passes.
    pub pipeline: Arc<Pipeline>,
    upstreams: Vec<Arc<Upstream>>,
    sessions: Mutex<HashMap<String, Arc<Session>>>,
    /// Cancelled when shutdown starts.
    pub shutdown: CancellationToken,
    tracker: TaskTracker,
    security: Security,
}

/// How callers are identified.
#[derive(Debug, Clone)]
pub struct Security {
    /// Checks the credentials of HTTP requests; `None`: every caller is anonymous.
    pub authenticator: Option<Arc<Authenticator>>,
    /// The principal of the stdio front, which has no transport credential.
    pub stdio_principal: Arc<Principal>,
}

impl Default for Security {
    fn default() -> Self {
        Self {
            authenticator: None,
            stdio_principal: Principal::anonymous(),
        }
    }
}

/// Who sent a request, as the front established it from the transport's credentials.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The principal (anonymous when authentication failed).
    pub principal: Arc<Principal>,
    /// Why authentication failed, if it did: the pipeline's authentication stage refuses
    /// the message with it.
    pub failure: Option<Denial>,
}

impl Caller {
    /// An authenticated (or, without authentication configured, anonymous) caller.
    pub fn new(principal: Arc<Principal>) -> Self {
        Self {
            principal,
            failure: None,
        }
    }

    /// A caller whose credentials were refused.
    pub fn refused(denial: Denial) -> Self {
        Self {
            principal: Principal::anonymous(),
            failure: Some(denial),
        }
    }

    fn stamp(&self, x: &mut Exchange) {
        x.principal = Arc::clone(&self.principal);
        x.auth_failure.clone_from(&self.failure);
    }
}

/// How a legacy session reaches its upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Its own link; the client's handshake is the link's handshake.
    Direct,
    /// The shared link, which is legacy too.
    Shared,
    /// The shared link, which is modern: requests get the modern `_meta`.
    Translate,
}

/// A legacy client session.
#[derive(Debug)]
pub struct Session {
    /// The session id (also the `Mcp-Session-Id` on HTTP).
    pub id: String,
    /// Where its messages go.
    pub route: Arc<ClientRoute>,
    /// The upstream it talks to.
    pub upstream: Arc<Upstream>,
    /// The negotiated revision.
    pub version: ProtocolVersion,
    link: Arc<Link>,
    mode: Mode,
    capabilities: Value,
    client_info: Value,
    last_seen: Mutex<Instant>,
    /// The principal that started the session: only it may use the session id.
    principal: Arc<Principal>,
}

impl Session {
    /// Marks the session as used now.
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_seen.lock() {
            *t = Instant::now();
        }
    }

    fn idle_for(&self) -> Duration {
        self.last_seen
            .lock()
            .map(|t| t.elapsed())
            .unwrap_or_default()
    }

    /// Whether `principal` may use this session: only the one that started it may.
    pub fn owned_by(&self, principal: &Principal) -> bool {
        self.principal.id == principal.id
    }

    /// Ends the session: a link of its own is closed (the child process stops).
    pub fn close(&self) {
        if self.mode == Mode::Direct {
            self.link.close();
        }
    }
}

/// Who a message comes from.
#[derive(Debug, Clone)]
pub enum Client {
    /// A legacy session.
    Legacy(Arc<Session>),
    /// A modern, stateless request (or a stdio front speaking 2026-07-28).
    Modern {
        /// Where answers go.
        route: Arc<ClientRoute>,
        /// The upstream addressed.
        upstream: Arc<Upstream>,
    },
}

impl Client {
    /// The session id, for logs.
    pub fn session(&self) -> &str {
        match self {
            Self::Legacy(s) => &s.id,
            Self::Modern { route, .. } => &route.session,
        }
    }
}

/// What the front should send back.
pub enum Reply {
    /// Nothing (a notification or a response was accepted).
    Accepted,
    /// A notification or a response was refused: no JSON-RPC answer, but HTTP says 4xx.
    Rejected(Denial),
    /// An answer the gateway made itself, or a refusal.
    Now {
        /// The message to send.
        message: Message,
        /// The denial it carries, if it is one (for the HTTP status).
        denial: Option<Denial>,
    },
    /// A call in flight: the front delivers its related messages and then its answer.
    Pending(Box<InFlight>),
    /// A new legacy session was created: the answer to its `initialize`.
    Initialized {
        /// The session.
        session: Arc<Session>,
        /// The `initialize` result.
        message: Message,
    },
}

/// A forwarded request and what the gateway needs to finish it.
pub struct InFlight {
    /// The call on the link.
    pub call: Call,
    /// The exchange, for the response stages and the audit record.
    pub exchange: Exchange,
    /// When to give up.
    pub deadline: tokio::time::Instant,
    adapt: Adapt,
}

/// How a result must be adjusted for a client of another era.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Adapt {
    None,
    /// A modern client, a legacy upstream.
    ToModern,
}

impl Gateway {
    /// Builds the gateway from a validated configuration, with every caller anonymous.
    pub fn new(config: Config, pipeline: Pipeline) -> Arc<Self> {
        Self::with_security(config, pipeline, Security::default())
    }

    /// Builds the gateway with authentication.
    pub fn with_security(config: Config, pipeline: Pipeline, security: Security) -> Arc<Self> {
        let pipeline = Arc::new(pipeline);
        let tracker = TaskTracker::new();
        // Answers can be far larger than requests (a file, a long tool list): the upstream
        // side gets at least UPSTREAM_MIN_MESSAGE_BYTES, whatever the client-side limit.
        let client_limits = limits(&config);
        let limits = Limits {
            max_bytes: client_limits.max_bytes.max(UPSTREAM_MIN_MESSAGE_BYTES),
            ..client_limits
        };
        let upstreams = config
            .upstreams
            .iter()
            .map(|u| {
                Arc::new(Upstream::new(
                    u.clone(),
                    Arc::clone(&pipeline),
                    limits,
                    config.server.request_timeout,
                    tracker.clone(),
                ))
            })
            .collect();
        let gw = Arc::new(Self {
            config,
            pipeline,
            upstreams,
            sessions: Mutex::new(HashMap::new()),
            shutdown: CancellationToken::new(),
            tracker,
            security,
        });
        let weak = Arc::downgrade(&gw);
        let shutdown = gw.shutdown.clone();
        gw.tracker.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(15)) => {}
                    () = shutdown.cancelled() => return,
                }
                let Some(gw) = weak.upgrade() else { return };
                gw.expire_sessions();
            }
        });
        gw
    }

    /// Establishes who sent an HTTP request from its headers and TLS client certificate.
    pub async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        peer_certificate: Option<&[u8]>,
    ) -> Caller {
        match &self.security.authenticator {
            None => Caller::new(Principal::anonymous()),
            Some(auth) => match auth.authenticate(headers, peer_certificate).await {
                Ok(principal) => Caller::new(principal),
                Err(denial) => Caller::refused(denial),
            },
        }
    }

    /// The authenticator, when authentication is configured.
    pub fn authenticator(&self) -> Option<&Arc<Authenticator>> {
        self.security.authenticator.as_ref()
    }

    /// The caller of the stdio front: its configured principal.
    pub fn stdio_caller(&self) -> Caller {
        Caller::new(Arc::clone(&self.security.stdio_principal))
    }

    /// The parsing limits from the configuration.
    pub fn limits(&self) -> Limits {
        limits(&self.config)
    }

    /// The upstream called `name`, or the default one.
    pub fn upstream(&self, name: Option<&str>) -> Option<Arc<Upstream>> {
        match name {
            Some(name) => self.upstreams.iter().find(|u| u.name() == name).cloned(),
            None => {
                let default = self.config.default_upstream();
                self.upstreams
                    .iter()
                    .find(|u| u.name() == default.name)
                    .cloned()
            }
        }
    }

    /// A legacy session by id.
    pub fn session(&self, id: &str) -> Option<Arc<Session>> {
        self.sessions.lock().ok()?.get(id).cloned()
    }

    /// Ends a legacy session; false when it did not exist.
    pub fn end_session(&self, id: &str) -> bool {
        let session = self.sessions.lock().ok().and_then(|mut s| s.remove(id));
        match session {
            Some(s) => {
                s.close();
                true
            }
            None => false,
        }
    }

    fn expire_sessions(&self) {
        let idle = self.config.server.session_idle_timeout;
        let expired: Vec<Arc<Session>> = match self.sessions.lock() {
            Ok(mut sessions) => {
                let ids: Vec<String> = sessions
                    .iter()
                    .filter(|(_, s)| {
                        s.idle_for() > idle || (s.mode == Mode::Direct && s.link.is_closed())
                    })
                    .map(|(k, _)| k.clone())
                    .collect();
                ids.iter().filter_map(|id| sessions.remove(id)).collect()
            }
            Err(_) => Vec::new(),
        };
        for s in expired {
            tracing::info!(session = %s.id, "session expired");
            s.close();
        }
    }

    /// Requests in flight towards every upstream.
    pub fn in_flight(&self) -> usize {
        self.upstreams.iter().map(|u| u.in_flight()).sum()
    }

    /// Stops everything: every link is closed and every child reaped (bounded by `grace`).
    pub async fn close(&self, grace: Duration) {
        self.shutdown.cancel();
        // Let in-flight calls finish first.
        let deadline = tokio::time::Instant::now() + grace;
        while self.in_flight() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sessions: Vec<Arc<Session>> = self
            .sessions
            .lock()
            .map(|mut s| s.drain().map(|(_, v)| v).collect())
            .unwrap_or_default();
        for s in sessions {
            s.close();
        }
        for u in &self.upstreams {
            u.close_all();
        }
        self.tracker.close();
        // Children get their stdin closed, then SIGTERM, then SIGKILL: about 4 s at worst.
        if tokio::time::timeout(Duration::from_secs(10), self.tracker.wait())
            .await
            .is_err()
        {
            tracing::warn!("some upstream tasks did not stop in time");
        }
    }

    /// Handles a client's `initialize`: a new legacy session.
    pub async fn initialize(
        &self,
        upstream: Arc<Upstream>,
        route_outbox: Option<tokio::sync::mpsc::Sender<String>>,
        caller: &Caller,
        msg: Message,
        size: usize,
    ) -> Reply {
        let id = new_session_id();
        let requested = msg.params().and_then(|p| {
            p.get("protocolVersion")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
        let version = requested
            .as_deref()
            .and_then(ProtocolVersion::parse)
            .filter(|v| v.era() == Era::Legacy)
            .unwrap_or(ProtocolVersion::LATEST_LEGACY);
        let mut x = Exchange::new(
            msg.clone(),
            Direction::ClientToServer,
            id.clone(),
            upstream.name().to_owned(),
            version,
            size,
        );
        caller.stamp(&mut x);
        if let Err(stop) = self.pipeline.on_request(&mut x).await {
            return self.stopped(&x, stop);
        }
        if self.shutdown.is_cancelled() {
            return self.deny(&x, Denial::ShuttingDown);
        }
        let at_capacity = self
            .sessions
            .lock()
            .map(|s| s.len() >= self.config.server.max_sessions)
            .unwrap_or(true);
        if at_capacity {
            return self.deny(
                &x,
                Denial::Capacity("the gateway has its maximum number of sessions".into()),
            );
        }
        let params = msg.params().unwrap_or(Value::Null);
        let capabilities = params.get("capabilities").cloned().unwrap_or(json!({}));
        let client_info = params.get("clientInfo").cloned().unwrap_or(json!({}));
        let route = Arc::new(ClientRoute::new(id.clone(), route_outbox));
        let (link, mode, reply) = match upstream.cfg.sharing {
            Sharing::PerSession => match upstream.session_link(&route, msg.clone()).await {
                Ok((Some(link), reply)) => (link, Mode::Direct, reply),
                Ok((None, reply)) => {
                    self.pipeline.finish(
                        &x,
                        Outcome::Answered {
                            response: &reply,
                            size: reply.to_json().len(),
                        },
                    );
                    return Reply::Now {
                        message: reply,
                        denial: None,
                    };
                }
                Err(d) => return self.fail(&x, d),
            },
            Sharing::Shared => {
                let link = match upstream.shared_link().await {
                    Ok(link) => link,
                    Err(d) => return self.fail(&x, d),
                };
                link.attach(&route);
                let Some(h) = link.handshake().cloned() else {
                    return self.fail(&x, Denial::Internal);
                };
                let (mode, result) = match h.era {
                    Era::Legacy => {
                        let mut result = h.result.clone();
                        // The client gets the version the link negotiated, or its own if older.
                        let v = version.min(h.version);
                        result["protocolVersion"] = json!(v.as_str());
                        (Mode::Shared, result)
                    }
                    Era::Modern => (
                        Mode::Translate,
                        initialize_from_discover(&h.result, version),
                    ),
                };
                let Some(client_id) = msg.id() else {
                    return self.fail(&x, Denial::Internal);
                };
                (link, mode, Message::result(client_id, &result))
            }
        };
        let negotiated = reply
            .result_value()
            .and_then(|r| {
                r.get("protocolVersion")
                    .and_then(Value::as_str)
                    .and_then(ProtocolVersion::parse)
            })
            .unwrap_or(version);
        let mut reply = reply;
        if let Err(stop) = self.pipeline.sign_response(&x, &mut reply).await {
            return self.stopped(&x, stop);
        }
        let session = Arc::new(Session {
            id: id.clone(),
            route,
            upstream,
            version: negotiated,
            link,
            mode,
            capabilities,
            client_info,
            last_seen: Mutex::new(Instant::now()),
            principal: Arc::clone(&x.principal),
        });
        if let Ok(mut sessions) = self.sessions.lock() {
            sessions.insert(id, Arc::clone(&session));
        }
        self.pipeline.finish(
            &x,
            Outcome::Answered {
                response: &reply,
                size: reply.to_json().len(),
            },
        );
        tracing::info!(session = %session.id, version = %negotiated, mode = ?session.mode, "session started");
        Reply::Initialized {
            session,
            message: reply,
        }
    }

    /// Handles any other client message.
    pub async fn handle(
        &self,
        client: &Client,
        caller: &Caller,
        msg: Message,
        size: usize,
    ) -> Reply {
        let span = tracing::debug_span!(
            "message",
            session = %client.session(),
            method = msg.method().unwrap_or("-"),
            id = msg.id().map_or("-", |id| id.as_json()),
        );
        match client {
            Client::Legacy(session) => {
                self.handle_legacy(session, caller, msg, size)
                    .instrument(span)
                    .await
            }
            Client::Modern { route, upstream } => {
                self.handle_modern(route, upstream, caller, msg, size)
                    .instrument(span)
                    .await
            }
        }
    }

    async fn handle_legacy(
        &self,
        s: &Arc<Session>,
        caller: &Caller,
        msg: Message,
        size: usize,
    ) -> Reply {
        let mut x = Exchange::new(
            msg,
            Direction::ClientToServer,
            s.id.clone(),
            s.upstream.name().to_owned(),
            s.version,
            size,
        );
        caller.stamp(&mut x);
        if caller.failure.is_none() && !s.owned_by(&caller.principal) {
            // A session id is not a credential: another principal holding it learns nothing,
            // not even that the session exists.
            tracing::warn!(session = %s.id, "a different principal used the session id");
            return self.deny(&x, Denial::SessionNotFound);
        }
        if let Err(stop) = self.pipeline.on_request(&mut x).await {
            return self.stopped(&x, stop);
        }
        s.touch();
        // From here on the message is the one the stages passed (they may rewrite it).
        let msg = &x.message;
        match msg.kind() {
            Kind::Result | Kind::Error => {
                return self.client_response(&x, &s.route, msg.clone());
            }
            Kind::Notification => {
                let method = msg.method().unwrap_or_default();
                match method {
                    "notifications/initialized" if s.mode != Mode::Direct => {}
                    "notifications/cancelled" => {
                        if let Some(params) = msg.params() {
                            s.link.forward_cancel(&s.route, &params);
                        }
                    }
                    _ => {
                        if s.mode == Mode::Translate
                            && !ProtocolVersion::LATEST.client_method_known(method)
                        {
                            // The modern upstream has no such notification; nothing to forward.
                        } else if let Err(d) = s.link.send(msg.to_json()) {
                            self.pipeline.finish(&x, Outcome::Failed(&d));
                            return Reply::Accepted;
                        }
                    }
                }
                self.pipeline.finish(&x, Outcome::Forwarded);
                return Reply::Accepted;
            }
            Kind::Request => {}
        }
        if self.shutdown.is_cancelled() {
            return self.deny(&x, Denial::ShuttingDown);
        }
        let method = msg.method().unwrap_or_default().to_owned();
        if method == "initialize" {
            return self.deny(
                &x,
                Denial::InvalidRequest("this session is already initialized".into()),
            );
        }
        let mut rewritten = None;
        if s.mode == Mode::Translate {
            match method.as_str() {
                "ping" | "logging/setLevel" | "resources/subscribe" | "resources/unsubscribe" => {
                    return self.answer(&x, json!({}));
                }
                _ => {
                    let mut out = msg.clone();
                    stamp_modern_meta(&mut out, &s.capabilities, &s.client_info);
                    rewritten = Some(out);
                }
            }
        }
        if s.link.is_closed() {
            return self.fail(&x, Denial::UpstreamClosed);
        }
        self.forward(
            &s.link,
            &s.route,
            x,
            rewritten,
            Adapt::None,
            s.upstream.request_timeout(),
        )
    }

    async fn handle_modern(
        &self,
        route: &Arc<ClientRoute>,
        upstream: &Arc<Upstream>,
        caller: &Caller,
        msg: Message,
        size: usize,
    ) -> Reply {
        let mut x = Exchange::new(
            msg,
            Direction::ClientToServer,
            route.session.clone(),
            upstream.name().to_owned(),
            ProtocolVersion::LATEST,
            size,
        );
        caller.stamp(&mut x);
        if let Err(stop) = self.pipeline.on_request(&mut x).await {
            return self.stopped(&x, stop);
        }
        let msg = &x.message;
        if matches!(msg.kind(), Kind::Result | Kind::Error) {
            return self.deny(
                &x,
                Denial::InvalidRequest(
                    "protocol 2026-07-28 has no server requests, so clients send no responses"
                        .into(),
                ),
            );
        }
        if let Some(denial) = unsupported_meta_version(msg) {
            return self.deny(&x, denial);
        }
        if self.shutdown.is_cancelled() {
            return self.deny(&x, Denial::ShuttingDown);
        }
        let link = match upstream.shared_link().await {
            Ok(link) => link,
            Err(d) => return self.fail(&x, d),
        };
        let upstream_era = link.era();
        if msg.kind() == Kind::Notification {
            if msg.method() == Some("notifications/cancelled") {
                if let Some(params) = msg.params() {
                    link.forward_cancel(route, &params);
                }
            } else if upstream_era == Era::Modern
                && let Err(d) = link.send(msg.to_json())
            {
                self.pipeline.finish(&x, Outcome::Failed(&d));
                return Reply::Accepted;
            }
            self.pipeline.finish(&x, Outcome::Forwarded);
            return Reply::Accepted;
        }
        let method = msg.method().unwrap_or_default();
        if upstream_era == Era::Legacy {
            match method {
                "server/discover" => {
                    let Some(h) = link.handshake() else {
                        return self.fail(&x, Denial::Internal);
                    };
                    return self.answer(&x, discover_from_initialize(&h.result));
                }
                "subscriptions/listen" => {
                    return self.deny(
                        &x,
                        Denial::MethodNotFound {
                            method: "subscriptions/listen (the upstream speaks a legacy revision)"
                                .into(),
                        },
                    );
                }
                _ => {}
            }
        }
        let adapt = if upstream_era == Era::Legacy {
            Adapt::ToModern
        } else {
            Adapt::None
        };
        self.forward(&link, route, x, None, adapt, upstream.request_timeout())
    }

    /// Sends the request upstream: the exchange's message, or `rewritten` when the era
    /// translation had to change it.
    fn forward(
        &self,
        link: &Arc<Link>,
        route: &Arc<ClientRoute>,
        x: Exchange,
        rewritten: Option<Message>,
        adapt: Adapt,
        timeout: Duration,
    ) -> Reply {
        match link.start_call(route, rewritten.as_ref().unwrap_or(&x.message)) {
            Ok(call) => Reply::Pending(Box::new(InFlight {
                call,
                exchange: x,
                deadline: tokio::time::Instant::now() + timeout,
                adapt,
            })),
            Err(d) => self.fail(&x, d),
        }
    }

    /// A client's answer to a server request: only answers to requests it was sent pass.
    fn client_response(&self, x: &Exchange, route: &Arc<ClientRoute>, mut msg: Message) -> Reply {
        let target = msg.id().and_then(|id| route.take_server_request(id));
        let Some((link, upstream_id)) = target else {
            tracing::warn!(session = %route.session, "dropped a client response that matches no request sent to it");
            let denial =
                Denial::InvalidRequest("response matches no outstanding server request".into());
            self.pipeline.finish(x, Outcome::Denied(&denial));
            return Reply::Rejected(denial);
        };
        msg.set_id(&upstream_id);
        match link.upgrade() {
            Some(link) => {
                if let Err(d) = link.send(msg.to_json()) {
                    self.pipeline.finish(x, Outcome::Failed(&d));
                    return Reply::Accepted;
                }
            }
            None => {
                self.pipeline
                    .finish(x, Outcome::Failed(&Denial::UpstreamClosed));
                return Reply::Accepted;
            }
        }
        self.pipeline.finish(x, Outcome::Forwarded);
        Reply::Accepted
    }

    /// A 2025-03-26 batch: each element handled in turn, the answers returned as one array
    /// (`None` when nothing in it expects an answer).
    pub async fn handle_batch(
        &self,
        session: &Arc<Session>,
        caller: &Caller,
        bytes: &[u8],
    ) -> Option<String> {
        let limits = self.limits();
        let items = match mcpgate_core::jsonrpc::split_batch(bytes, limits) {
            Ok(items) => items,
            Err(e) => return Some(Message::denial(None, &e.denial).to_json()),
        };
        let client = Client::Legacy(Arc::clone(session));
        let mut answers = Vec::new();
        for item in items {
            let text = item.get();
            let msg = match Message::parse(text.as_bytes(), limits) {
                Ok(m) => m,
                Err(e) => {
                    answers.push(Message::denial(e.id.as_ref(), &e.denial).to_json());
                    continue;
                }
            };
            match self.handle(&client, caller, msg, text.len()).await {
                Reply::Accepted | Reply::Rejected(_) | Reply::Initialized { .. } => {}
                Reply::Now { message, .. } => answers.push(message.to_json()),
                Reply::Pending(mut f) => {
                    let route = Arc::clone(&session.route);
                    let message = self
                        .complete(&mut f, |text| {
                            route.send_unsolicited(text);
                        })
                        .await;
                    answers.push(message);
                }
            }
        }
        (!answers.is_empty()).then(|| format!("[{}]", answers.join(",")))
    }

    /// Waits for a forwarded request's answer, passing related messages to `related`.
    ///
    /// Returns the final message for the client, as JSON text; the response stages and the
    /// audit record are done here, whatever happens.
    pub async fn complete(&self, f: &mut InFlight, mut related: impl FnMut(String)) -> String {
        let deadline = f.deadline;
        let result = loop {
            tokio::select! {
                biased;
                done = &mut f.call.done => break done.map_err(|_| Denial::UpstreamClosed),
                Some(text) = f.call.related.recv() => related(text),
                () = tokio::time::sleep_until(deadline) => {
                    break Err(Denial::UpstreamTimeout {
                        after_ms: millis(f.exchange.received.elapsed()),
                    });
                }
            }
        };
        match result {
            Ok(mut reply) => {
                f.call.finish();
                while let Ok(text) = f.call.related.try_recv() {
                    related(text);
                }
                if f.adapt == Adapt::ToModern {
                    adapt_to_modern(f.exchange.message.method().unwrap_or_default(), &mut reply);
                }
                match self.pipeline.on_response(&f.exchange, &mut reply).await {
                    Ok(()) => {
                        let text = reply.to_json();
                        self.pipeline.finish(
                            &f.exchange,
                            Outcome::Answered {
                                response: &reply,
                                size: text.len(),
                            },
                        );
                        text
                    }
                    Err(stop) => match self.stopped(&f.exchange, stop) {
                        Reply::Now { message, .. } => message.to_json(),
                        _ => Message::denial(f.exchange.message.id(), &Denial::Internal).to_json(),
                    },
                }
            }
            Err(denial) => {
                if matches!(denial, Denial::UpstreamTimeout { .. }) {
                    // Dropping the call sends `notifications/cancelled` upstream.
                    f.call.finish();
                    f.call.withdraw_now("timeout");
                } else {
                    f.call.finish();
                }
                self.pipeline.finish(&f.exchange, Outcome::Failed(&denial));
                Message::denial(f.exchange.message.id(), &denial).to_json()
            }
        }
    }

    /// Gives up on a forwarded request whose client went away (a 2026-07-28 client closing
    /// its stream cancels the request): the upstream is told, and the audit record says so.
    pub fn abandon(&self, f: &mut InFlight) {
        f.call.withdraw_now("the client closed its stream");
        self.pipeline
            .finish(&f.exchange, Outcome::Failed(&Denial::ClientGone));
    }

    fn stopped(&self, x: &Exchange, stop: Stop) -> Reply {
        match stop {
            Stop::Deny(d) => self.deny(x, d),
            Stop::Respond(message) => self.local_answer(x, message),
        }
    }

    fn deny(&self, x: &Exchange, d: Denial) -> Reply {
        self.pipeline.finish(x, Outcome::Denied(&d));
        self.refusal(x, d)
    }

    fn fail(&self, x: &Exchange, d: Denial) -> Reply {
        self.pipeline.finish(x, Outcome::Failed(&d));
        self.refusal(x, d)
    }

    fn refusal(&self, x: &Exchange, d: Denial) -> Reply {
        if x.message.kind() != Kind::Request {
            // Notifications and responses get no JSON-RPC answer; HTTP refuses them with a 4xx.
            return Reply::Rejected(d);
        }
        Reply::Now {
            message: Message::denial(x.message.id(), &d),
            denial: Some(d),
        }
    }

    fn answer(&self, x: &Exchange, result: Value) -> Reply {
        let Some(id) = x.message.id() else {
            return Reply::Accepted;
        };
        self.local_answer(x, Message::result(id, &result))
    }

    /// An answer the gateway gives itself, audited as answered.
    fn local_answer(&self, x: &Exchange, message: Message) -> Reply {
        self.pipeline.finish(
            x,
            Outcome::Answered {
                response: &message,
                size: message.to_json().len(),
            },
        );
        Reply::Now {
            message,
            denial: None,
        }
    }
}

/// The smallest size limit for messages from upstreams, in bytes (16 MiB).
pub const UPSTREAM_MIN_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

fn limits(config: &Config) -> Limits {
    Limits {
        max_bytes: config.server.max_body_bytes,
        max_depth: config.server.max_depth,
    }
}

fn new_session_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// The refusal for a modern message whose `_meta` names a revision that is not a modern one the
/// gateway speaks (the HTTP front checks this with the headers; the stdio front relies on this).
fn unsupported_meta_version(msg: &Message) -> Option<Denial> {
    let peek = msg.peek_params();
    let requested = peek.protocol_version.as_deref()?;
    match ProtocolVersion::parse(requested) {
        Some(v) if v.era() == Era::Modern => None,
        _ => Some(Denial::UnsupportedProtocolVersion {
            requested: requested.to_owned(),
            supported: ProtocolVersion::modern_versions()
                .map(|v| v.as_str().to_owned())
                .collect(),
        }),
    }
}

/// Adds the per-request `_meta` a modern upstream requires to a legacy client's request.
fn stamp_modern_meta(msg: &mut Message, capabilities: &Value, client_info: &Value) {
    let mut params = msg.params().unwrap_or_else(|| json!({}));
    let Some(obj) = params.as_object_mut() else {
        return;
    };
    let meta = obj.entry("_meta").or_insert_with(|| json!({}));
    if let Some(meta) = meta.as_object_mut() {
        meta.insert(
            META_PROTOCOL_VERSION.into(),
            json!(ProtocolVersion::LATEST.as_str()),
        );
        meta.insert(META_CLIENT_CAPABILITIES.into(), capabilities.clone());
        meta.insert(META_CLIENT_INFO.into(), client_info.clone());
    }
    msg.set_member("params", &params);
}

/// A legacy `initialize` result built from a modern upstream's `server/discover` result.
fn initialize_from_discover(discover: &Value, version: ProtocolVersion) -> Value {
    let mut result = json!({
        "protocolVersion": version.as_str(),
        "capabilities": discover.get("capabilities").cloned().unwrap_or(json!({})),
        "serverInfo": discover
            .get("_meta")
            .and_then(|m| m.get(META_SERVER_INFO))
            .cloned()
            .unwrap_or(json!({ "name": "mcpgate", "version": env!("CARGO_PKG_VERSION") })),
    });
    if let Some(instructions) = discover.get("instructions") {
        result["instructions"] = instructions.clone();
    }
    result
}

/// A modern `server/discover` result built from a legacy upstream's `initialize` result.
fn discover_from_initialize(init: &Value) -> Value {
    let mut result = json!({
        "resultType": "complete",
        "supportedVersions": ProtocolVersion::modern_versions().map(|v| v.as_str()).collect::<Vec<_>>(),
        "capabilities": init.get("capabilities").cloned().unwrap_or(json!({})),
        "ttlMs": 0,
        "cacheScope": "private",
        "_meta": { META_SERVER_INFO: init.get("serverInfo").cloned().unwrap_or(json!({})) },
    });
    if let Some(instructions) = init.get("instructions") {
        result["instructions"] = instructions.clone();
    }
    result
}

/// Adds what a modern client expects of a result that came from a legacy upstream.
fn adapt_to_modern(method: &str, reply: &mut Message) {
    match reply.kind() {
        Kind::Result => {
            let Some(mut result) = reply.result_value() else {
                return;
            };
            let Some(obj) = result.as_object_mut() else {
                return;
            };
            let mut changed = false;
            if !obj.contains_key("resultType") {
                obj.insert("resultType".into(), json!("complete"));
                changed = true;
            }
            if is_cacheable(method) {
                if !obj.contains_key("ttlMs") {
                    obj.insert("ttlMs".into(), json!(0));
                    changed = true;
                }
                if !obj.contains_key("cacheScope") {
                    obj.insert("cacheScope".into(), json!("private"));
                    changed = true;
                }
            }
            if changed {
                reply.set_member("result", &result);
            }
        }
        Kind::Error => {
            // 2026-07-28 reports a missing resource as -32602 and must not send -32002.
            if let Some(mut error) = reply.error_value()
                && error.get("code").and_then(Value::as_i64) == Some(-32002)
            {
                error["code"] = json!(-32602);
                reply.set_member("error", &error);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpgate_core::Id;

    #[test]
    fn legacy_results_gain_modern_fields() {
        let mut reply = Message::result(&Id::number(1), &json!({"tools": []}));
        adapt_to_modern("tools/list", &mut reply);
        let r = reply.result_value().unwrap();
        assert_eq!(r["resultType"], "complete");
        assert_eq!(r["ttlMs"], 0);
        assert_eq!(r["cacheScope"], "private");
        let mut reply = Message::result(&Id::number(1), &json!({"content": []}));
        adapt_to_modern("tools/call", &mut reply);
        let r = reply.result_value().unwrap();
        assert!(r.get("ttlMs").is_none());
        let mut err = Message::error(Some(&Id::number(1)), -32002, "nope", None);
        adapt_to_modern("resources/read", &mut err);
        assert_eq!(err.error_value().unwrap()["code"], -32602);
    }

    #[test]
    fn discover_and_initialize_translate() {
        let init = json!({"protocolVersion":"2025-11-25","capabilities":{"tools":{}},"serverInfo":{"name":"x","version":"1"}});
        let d = discover_from_initialize(&init);
        assert_eq!(d["supportedVersions"][0], "2026-07-28");
        assert_eq!(d["_meta"][META_SERVER_INFO]["name"], "x");
        let back = initialize_from_discover(&d, ProtocolVersion::V2025_06_18);
        assert_eq!(back["protocolVersion"], "2025-06-18");
        assert_eq!(back["capabilities"]["tools"], json!({}));
    }

    #[test]
    fn stamping_adds_meta_and_keeps_params() {
        let mut m = Message::request(
            &Id::number(1),
            "tools/call",
            Some(&json!({"name":"echo","arguments":{"m":1}})),
        );
        stamp_modern_meta(&mut m, &json!({"roots":{}}), &json!({"name":"c"}));
        let p = m.params().unwrap();
        assert_eq!(p["name"], "echo");
        assert_eq!(p["_meta"][META_PROTOCOL_VERSION], "2026-07-28");
        assert_eq!(p["_meta"][META_CLIENT_CAPABILITIES]["roots"], json!({}));
    }
}
