//! The client side of a relay: where messages for one client go.
//!
//! A [`ClientRoute`] stands for one client session (a legacy HTTP session, a stdio front, or a
//! single modern HTTP request). The upstream side never sees a client's ids: server-to-client
//! requests are renumbered into the route's own id space, and a client can answer only the
//! requests that were sent to it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};

use mcpgate_core::Id;
use tokio::sync::mpsc;

use crate::link::Link;

/// A message on its way to a client.
#[derive(Debug)]
pub enum Delivery {
    /// A notification or server request related to an in-flight request (or unsolicited).
    Related(String),
    /// The final response to a request.
    Final(mcpgate_core::Message),
}

/// Where one client's messages go.
#[derive(Debug)]
pub struct ClientRoute {
    /// The session id used in logs and audit records.
    pub session: String,
    outbox: Mutex<Option<mpsc::Sender<String>>>,
    server_requests: Mutex<HashMap<u64, (Weak<Link>, Id)>>,
    next_server_id: AtomicU64,
    /// HTTP headers of the client's request that go on to an HTTP upstream unchanged
    /// (`Mcp-Param-*`, which intermediaries must forward).
    pub(crate) forward_headers: Vec<(http::HeaderName, http::HeaderValue)>,
}

impl ClientRoute {
    /// A route whose unsolicited messages go to `outbox` (a GET stream, or stdout).
    pub fn new(session: String, outbox: Option<mpsc::Sender<String>>) -> Self {
        Self {
            session,
            outbox: Mutex::new(outbox),
            server_requests: Mutex::new(HashMap::new()),
            next_server_id: AtomicU64::new(0),
            forward_headers: Vec::new(),
        }
    }

    /// The same route, with headers to pass on to an HTTP upstream.
    pub fn with_forward_headers(
        mut self,
        headers: Vec<(http::HeaderName, http::HeaderValue)>,
    ) -> Self {
        self.forward_headers = headers;
        self
    }

    /// Replaces the channel for unsolicited messages (a new GET stream).
    pub fn set_outbox(&self, outbox: Option<mpsc::Sender<String>>) {
        if let Ok(mut o) = self.outbox.lock() {
            *o = outbox;
        }
    }

    /// Whether a GET stream (or stdout) currently takes unsolicited messages.
    pub fn has_outbox(&self) -> bool {
        self.outbox
            .lock()
            .map(|o| o.as_ref().is_some_and(|tx| !tx.is_closed()))
            .unwrap_or(false)
    }

    /// Sends an unsolicited message; returns false when nobody listens or the client is slow.
    pub fn send_unsolicited(&self, text: String) -> bool {
        let tx = self.outbox.lock().ok().and_then(|o| o.clone());
        match tx {
            Some(tx) => tx.try_send(text).is_ok(),
            None => false,
        }
    }

    /// Registers a server-to-client request and returns the id the client will see.
    pub(crate) fn register_server_request(&self, link: Weak<Link>, upstream_id: Id) -> Id {
        let n = self.next_server_id.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut map) = self.server_requests.lock() {
            map.insert(n, (link, upstream_id));
        }
        Id::number(n)
    }

    /// Takes the upstream request a client response answers, if this client was asked it.
    pub(crate) fn take_server_request(&self, id: &Id) -> Option<(Weak<Link>, Id)> {
        let n = id.as_u64()?;
        self.server_requests.lock().ok()?.remove(&n)
    }

    /// Forgets the server requests whose link matches `pred` (it closed).
    pub(crate) fn forget_where(&self, pred: impl Fn(&Weak<Link>) -> bool) {
        if let Ok(mut map) = self.server_requests.lock() {
            map.retain(|_, (l, _)| !pred(l));
        }
    }

    /// The id this client knows a server request by, given the link and the upstream id.
    pub(crate) fn find_server_request(&self, link: &Link, upstream_id: &str) -> Option<Id> {
        let map = self.server_requests.lock().ok()?;
        map.iter()
            .find(|(_, (l, id))| std::ptr::eq(l.as_ptr(), link) && id.as_json() == upstream_id)
            .map(|(n, _)| Id::number(*n))
    }
}
