//! A configured upstream: how links to it are made, shared and capped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use mcpgate_config::{EraPreference, UpstreamConfig, UpstreamTransport};
use mcpgate_core::{Denial, Era, Kind, Limits, Message, ProtocolVersion};
use mcpgate_pipeline::Pipeline;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio_util::task::TaskTracker;

use crate::link::{Backend, Handshake, Link, gateway_meta};
use crate::route::ClientRoute;
use crate::{http_upstream, stdio_upstream};

/// One configured upstream server.
#[derive(Debug)]
pub struct Upstream {
    /// Its configuration.
    pub cfg: UpstreamConfig,
    shared: tokio::sync::Mutex<Option<Arc<Link>>>,
    slots: Arc<Semaphore>,
    serial: AtomicU64,
    links: Mutex<Vec<Weak<Link>>>,
    tracker: TaskTracker,
    pipeline: Arc<Pipeline>,
    limits: Limits,
    request_timeout: Duration,
}

impl Upstream {
    pub(crate) fn new(
        cfg: UpstreamConfig,
        pipeline: Arc<Pipeline>,
        limits: Limits,
        default_timeout: Duration,
        tracker: TaskTracker,
    ) -> Self {
        let request_timeout = cfg.request_timeout.unwrap_or(default_timeout);
        Self {
            slots: Arc::new(Semaphore::new(cfg.max_sessions)),
            cfg,
            shared: tokio::sync::Mutex::new(None),
            serial: AtomicU64::new(1),
            links: Mutex::new(Vec::new()),
            tracker,
            pipeline,
            limits,
            request_timeout,
        }
    }

    /// The configured name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// The timeout for requests to this upstream.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }

    /// Opens a new link (a new child process, or a new HTTP client), within the cap.
    fn connect(&self, per_session: bool) -> Result<Arc<Link>, Denial> {
        let permit = Arc::clone(&self.slots).try_acquire_owned().map_err(|_| {
            Denial::Capacity(format!(
                "upstream `{}` already has its maximum of {} connections",
                self.cfg.name, self.cfg.max_sessions
            ))
        })?;
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let link = Link::new(
            &self.cfg.name,
            serial,
            per_session,
            self.limits,
            Arc::clone(&self.pipeline),
        );
        match &self.cfg.transport {
            UpstreamTransport::Stdio(cfg) => stdio_upstream::spawn(&link, cfg, &self.tracker)?,
            UpstreamTransport::Http(cfg) => http_upstream::connect(&link, cfg, &self.tracker)?,
        }
        // The slot is held for as long as the link is open.
        let weak = Arc::downgrade(&link);
        let closed = link.close_token().clone();
        self.tracker.spawn(async move {
            closed.cancelled().await;
            drop(permit);
            drop(weak);
        });
        if let Ok(mut links) = self.links.lock() {
            links.retain(|l| l.strong_count() > 0);
            links.push(Arc::downgrade(&link));
        }
        Ok(link)
    }

    /// The link the gateway shares between clients, connected and handshaken on first use and
    /// again after the upstream went away.
    pub async fn shared_link(&self) -> Result<Arc<Link>, Denial> {
        let mut shared = self.shared.lock().await;
        if let Some(link) = shared.as_ref()
            && !link.is_closed()
        {
            return Ok(Arc::clone(link));
        }
        let link = self.connect(false)?;
        if let Err(e) = self.gateway_handshake(&link).await {
            link.close();
            return Err(e);
        }
        *shared = Some(Arc::clone(&link));
        Ok(link)
    }

    /// A link for one legacy client session whose handshake is the client's own `initialize`.
    ///
    /// Returns the link and the upstream's answer (in the client's ids). When the upstream
    /// refuses, the link is closed and the refusal is returned for the client to read.
    pub async fn session_link(
        &self,
        route: &Arc<ClientRoute>,
        initialize: Message,
    ) -> Result<(Option<Arc<Link>>, Message), Denial> {
        let link = self.connect(true)?;
        link.attach(route);
        let mut call = link.start_call(route, &initialize)?;
        let reply = match tokio::time::timeout(self.request_timeout, &mut call.done).await {
            Ok(Ok(reply)) => {
                call.finish();
                reply
            }
            Ok(Err(_)) => {
                call.finish();
                link.close();
                return Err(Denial::UpstreamClosed);
            }
            Err(_) => {
                call.cancel("timeout");
                link.close();
                return Err(Denial::UpstreamTimeout {
                    after_ms: millis(self.request_timeout),
                });
            }
        };
        if reply.kind() != Kind::Result {
            link.close();
            return Ok((None, reply));
        }
        let result = reply.result_value().unwrap_or(Value::Null);
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .and_then(ProtocolVersion::parse)
            .filter(|v| v.era() == Era::Legacy);
        let Some(version) = version else {
            link.close();
            return Err(Denial::UpstreamUnavailable(
                "the upstream negotiated a protocol version the gateway does not speak".into(),
            ));
        };
        link.set_handshake(Handshake {
            era: Era::Legacy,
            version,
            result,
        });
        if let Some(Backend::Http(client)) = link.backend() {
            client.start_session(&link);
        }
        Ok((Some(link), reply))
    }

    /// The gateway's own handshake: probe for the modern era, fall back to `initialize`.
    async fn gateway_handshake(&self, link: &Arc<Link>) -> Result<(), Denial> {
        let pref = self.cfg.era;
        if matches!(pref, EraPreference::Auto | EraPreference::Modern) {
            let params = json!({ "_meta": gateway_meta(ProtocolVersion::LATEST) });
            let timeout = match pref {
                EraPreference::Modern => self.request_timeout,
                _ => self.cfg.probe_timeout,
            };
            let mut probe = link
                .call_internal("server/discover", Some(&params), timeout)
                .await;
            // An unsupported-version error that lists our revision anyway is a modern server
            // asking for a retry with a version it supports: ask once more.
            if probe.as_ref().is_ok_and(offers_latest_again) {
                probe = link
                    .call_internal("server/discover", Some(&params), timeout)
                    .await;
            }
            match probe {
                Ok(reply) if reply.kind() == Kind::Result => {
                    let result = reply.result_value().unwrap_or(Value::Null);
                    let speaks_ours = result
                        .get("supportedVersions")
                        .and_then(Value::as_array)
                        .is_some_and(|v| {
                            v.iter()
                                .any(|s| s.as_str() == Some(ProtocolVersion::LATEST.as_str()))
                        });
                    if speaks_ours {
                        tracing::info!(link = %link.label, "upstream speaks 2026-07-28");
                        link.set_handshake(Handshake {
                            era: Era::Modern,
                            version: ProtocolVersion::LATEST,
                            result,
                        });
                        return Ok(());
                    }
                }
                Ok(_) | Err(Denial::UpstreamTimeout { .. }) => {}
                Err(e) => {
                    if link.is_closed() {
                        return Err(e);
                    }
                }
            }
            if pref == EraPreference::Modern {
                return Err(Denial::UpstreamUnavailable(
                    "the upstream does not speak protocol 2026-07-28".into(),
                ));
            }
            tracing::info!(link = %link.label, "upstream did not answer server/discover; falling back to initialize");
        }
        let params = json!({
            "protocolVersion": ProtocolVersion::LATEST_LEGACY.as_str(),
            "capabilities": {},
            "clientInfo": { "name": "mcpgate", "version": env!("CARGO_PKG_VERSION") },
        });
        let reply = link
            .call_internal("initialize", Some(&params), self.request_timeout)
            .await?;
        if reply.kind() != Kind::Result {
            return Err(Denial::UpstreamUnavailable(
                "the upstream refused the gateway's initialize".into(),
            ));
        }
        let result = reply.result_value().unwrap_or(Value::Null);
        let version = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .and_then(ProtocolVersion::parse)
            .filter(|v| v.era() == Era::Legacy)
            .ok_or_else(|| {
                Denial::UpstreamUnavailable(
                    "the upstream negotiated a protocol version the gateway does not speak".into(),
                )
            })?;
        link.set_handshake(Handshake {
            era: Era::Legacy,
            version,
            result,
        });
        link.send(Message::notification("notifications/initialized", None).to_json())?;
        if let Some(Backend::Http(client)) = link.backend() {
            client.start_session(link);
        }
        tracing::info!(link = %link.label, %version, "upstream initialized (legacy)");
        Ok(())
    }

    /// Closes every link to this upstream.
    pub fn close_all(&self) {
        let links: Vec<Arc<Link>> = self
            .links
            .lock()
            .map(|l| l.iter().filter_map(Weak::upgrade).collect())
            .unwrap_or_default();
        for link in links {
            link.close();
        }
    }

    /// Requests in flight on every link.
    pub fn in_flight(&self) -> usize {
        self.links
            .lock()
            .map(|l| {
                l.iter()
                    .filter_map(Weak::upgrade)
                    .map(|l| l.in_flight())
                    .sum()
            })
            .unwrap_or(0)
    }
}

/// Whether `reply` is an unsupported-protocol-version error (-32022) whose supported versions
/// include the newest revision.
fn offers_latest_again(reply: &Message) -> bool {
    reply.kind() == Kind::Error
        && reply.error_value().is_some_and(|e| {
            e.get("code").and_then(Value::as_i64) == Some(-32022)
                && e.pointer("/data/supported")
                    .and_then(Value::as_array)
                    .is_some_and(|v| {
                        v.iter()
                            .any(|s| s.as_str() == Some(ProtocolVersion::LATEST.as_str()))
                    })
        })
}

pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
