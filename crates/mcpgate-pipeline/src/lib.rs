//! The ordered security pipeline every message passes through.
//!
//! A [`Pipeline`] holds one field per stage and calls them in a fixed order, written out on one
//! screen in [`Pipeline::on_request`]. The order is a security property, so it lives in code
//! rather than in configuration:
//!
//! 1. **validate**: strict JSON-RPC and MCP checks for the negotiated revision. First, so that
//!    every later stage sees only well-formed messages of methods that exist.
//! 2. **authenticate**: the sender must be a principal the gateway can name (the front reads
//!    the transport's credentials; this stage refuses when they failed).
//! 3. **signature**: MCPS envelopes are verified against the trust store (fail closed),
//!    checked for revocation and replay, and unwrapped to plain JSON-RPC; per-tool signature
//!    requirements are enforced and the `signed`/`trust_level`/`signer` facts recorded for
//!    authorization. Without it, envelopes are refused.
//! 4. **authorize**: Cedar policies decide calls (default deny); list results are filtered on
//!    the way back.
//! 5. (rate limits and approval plug in here, in that order, as they are added.)
//!
//! Whatever the verdict, the transport calls [`Pipeline::finish`] (or
//! [`Pipeline::finish_unparsed`] for bytes that never became a message): the audit finaliser,
//! which writes one JSON line per message. A stage refuses by returning [`Stop`]; the one place
//! where a refusal becomes a JSON-RPC error and an HTTP status is `Denial::code` and
//! `Denial::http_status` in `mcpgate-core`.

pub mod audit;
pub mod did_web;
pub mod stages;

use std::future::Future;

use mcpgate_core::{Denial, Exchange, Message};

pub use audit::{AuditLog, AuditRecord, Outcome};
pub use stages::authenticate::Authenticate;
pub use stages::authorize::Authorize;
pub use stages::signature::Signature;
pub use stages::validate::Validate;

/// Why a stage stopped a message.
#[derive(Debug)]
pub enum Stop {
    /// Refuse the message; the client gets the matching JSON-RPC error.
    Deny(Denial),
    /// Answer the request from the gateway, without forwarding it.
    Respond(Message),
}

impl From<Denial> for Stop {
    fn from(d: Denial) -> Self {
        Self::Deny(d)
    }
}

/// One check of the pipeline.
pub trait Stage: Send + Sync {
    /// The stage's name, used for spans, metrics and audit records.
    const NAME: &'static str;

    /// Checks a message on its way in. Requests, notifications and client responses to
    /// server requests all pass here.
    fn on_request(&self, x: &mut Exchange) -> impl Future<Output = Result<(), Stop>> + Send;

    /// Checks (and may rewrite) the response to a request on its way back.
    fn on_response(
        &self,
        _x: &Exchange,
        _response: &mut Message,
    ) -> impl Future<Output = Result<(), Stop>> + Send {
        async { Ok(()) }
    }
}

/// The stages, in order, and the audit finaliser.
#[derive(Debug)]
pub struct Pipeline {
    validate: Validate,
    authenticate: Authenticate,
    signature: Option<Signature>,
    authorize: Authorize,
    audit: AuditLog,
}

impl Pipeline {
    /// Builds the pipeline from its stages; authorization starts with no policies (see
    /// [`Pipeline::with_authorize`]).
    pub fn new(validate: Validate, audit: AuditLog) -> Self {
        Self {
            validate,
            authenticate: Authenticate,
            signature: None,
            authorize: Authorize::default(),
            audit,
        }
    }

    /// Sets the authorization stage.
    #[must_use]
    pub fn with_authorize(mut self, authorize: Authorize) -> Self {
        self.authorize = authorize;
        self
    }

    /// Sets the MCPS signature stage.
    #[must_use]
    pub fn with_signature(mut self, signature: Signature) -> Self {
        self.signature = Some(signature);
        self
    }

    /// The authorization stage, for policy reloads.
    pub fn authorize(&self) -> &Authorize {
        &self.authorize
    }

    /// Runs the request-side stages in order; the first refusal stops the message.
    pub async fn on_request(&self, x: &mut Exchange) -> Result<(), Stop> {
        // 1. Strict JSON-RPC/MCP validation: nothing else may look at a malformed message.
        self.run(&self.validate, x).await?;
        // 2. Authentication: only a named principal goes further.
        self.run(&self.authenticate, x).await?;
        // 3. Signatures: verify, stop replays, unwrap MCPS envelopes (refused when disabled).
        match &self.signature {
            Some(signature) => self.run(signature, x).await?,
            None => stages::signature::refuse_unverified(x)?,
        }
        // 4. Authorization: default deny for calls on tools, resources, prompts and servers.
        self.run(&self.authorize, x).await?;
        Ok(())
    }

    /// Runs the response-side stages, in reverse order of the request side.
    pub async fn on_response(&self, x: &Exchange, response: &mut Message) -> Result<(), Stop> {
        self.authorize.on_response(x, response).await?;
        self.validate.on_response(x, response).await?;
        // Last: the signature covers the response exactly as sent.
        if let Some(signature) = &self.signature {
            signature.on_response(x, response).await?;
        }
        Ok(())
    }

    /// Signs the gateway's own answer to a request (such as `initialize`) when the request was
    /// signed and a response key is configured; the other response stages do not run.
    ///
    /// # Errors
    ///
    /// [`Stop::Deny`] when the answer cannot be signed.
    pub async fn sign_response(&self, x: &Exchange, response: &mut Message) -> Result<(), Stop> {
        match &self.signature {
            Some(signature) => signature.on_response(x, response).await,
            None => Ok(()),
        }
    }

    async fn run<S: Stage>(&self, stage: &S, x: &mut Exchange) -> Result<(), Stop> {
        let result = stage.on_request(x).await;
        if let Err(stop) = &result {
            tracing::debug!(stage = S::NAME, stop = ?stop_reason(stop), "stage stopped the message");
        }
        result
    }

    /// The audit finaliser: records the outcome of a message. Always called, whatever the verdict.
    pub fn finish(&self, x: &Exchange, outcome: Outcome<'_>) {
        self.audit.record(&AuditRecord::from_exchange(x, outcome));
    }

    /// Records bytes that were refused before they became a message.
    pub fn finish_unparsed(
        &self,
        session: &str,
        upstream: &str,
        direction: mcpgate_core::Direction,
        size: usize,
        denial: &Denial,
    ) {
        self.audit.record(&AuditRecord::unparsed(
            session, upstream, direction, size, denial,
        ));
    }

    /// The audit log, for tests and shutdown.
    pub fn audit(&self) -> &AuditLog {
        &self.audit
    }
}

fn stop_reason(stop: &Stop) -> &'static str {
    match stop {
        Stop::Deny(d) => d.reason(),
        Stop::Respond(_) => "respond",
    }
}
