//! Authentication: every message must come from a principal the gateway can name.
//!
//! Credentials belong to the transport (an HTTP header, a TLS client certificate, the stdio
//! front's configured user), so the front establishes the principal when the request arrives
//! and records it, or why it failed, in the [`Exchange`]. This stage is where the pipeline
//! acts on it, after validation as the pipeline order says: a message whose sender could not
//! be authenticated stops here with `401` (and its `WWW-Authenticate` challenge), `403`
//! `insufficient_scope`, or `503` when the credential cannot be checked now (fail closed).

use mcpgate_core::Exchange;

use crate::{Stage, Stop};

/// Refuses messages whose sender the front could not authenticate.
#[derive(Debug, Default)]
pub struct Authenticate;

impl Stage for Authenticate {
    const NAME: &'static str = "authenticate";

    async fn on_request(&self, x: &mut Exchange) -> Result<(), Stop> {
        match x.auth_failure.take() {
            Some(denial) => Err(Stop::Deny(denial)),
            None => Ok(()),
        }
    }
}
