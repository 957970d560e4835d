//! The per-message context that pipeline stages read and annotate.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use sha2::{Digest, Sha256};

use crate::denial::Denial;
use crate::jsonrpc::Message;
use crate::principal::Principal;
use crate::revision::ProtocolVersion;

/// Which way a message travels through the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From a client towards an upstream server.
    ClientToServer,
    /// From an upstream server towards a client.
    ServerToClient,
}

impl Direction {
    /// A short name for audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientToServer => "client_to_server",
            Self::ServerToClient => "server_to_client",
        }
    }
}

/// One message on its way through the pipeline, with what the stages learnt about it.
#[derive(Debug)]
pub struct Exchange {
    /// The message as received (ids in the sender's id space).
    pub message: Message,
    /// Which way it travels.
    pub direction: Direction,
    /// The client session it belongs to (a legacy session id, or a per-connection id).
    pub session: String,
    /// The upstream it is for.
    pub upstream: String,
    /// The protocol revision in force for this message.
    pub version: ProtocolVersion,
    /// Who sent it: set by the front from the transport's credentials (anonymous until then).
    pub principal: Arc<Principal>,
    /// Why the front could not authenticate the sender, if it could not: the authentication
    /// stage refuses the message with it (after validation, as the pipeline order says).
    pub auth_failure: Option<Denial>,
    /// Facts earlier stages established for later ones and for policy (`context.extra` in
    /// Cedar), such as whether the message was signed and at what trust level.
    pub facts: BTreeMap<String, serde_json::Value>,
    /// When the gateway received it.
    pub received: Instant,
    /// Size of the message as received, in bytes.
    pub size: usize,
    /// `params`, parsed once on first use: several stages and the audit record read it.
    params: OnceLock<Option<serde_json::Value>>,
}

impl Exchange {
    /// Builds the context for a freshly parsed message.
    pub fn new(
        message: Message,
        direction: Direction,
        session: String,
        upstream: String,
        version: ProtocolVersion,
        size: usize,
    ) -> Self {
        Self {
            message,
            direction,
            session,
            upstream,
            version,
            principal: Principal::anonymous(),
            auth_failure: None,
            facts: BTreeMap::new(),
            received: Instant::now(),
            size,
            params: OnceLock::new(),
        }
    }

    /// Replaces the message (a stage rewriting it, such as the signature stage unwrapping an
    /// MCPS envelope); the cached `params` are dropped with the old message.
    pub fn replace_message(&mut self, message: Message) {
        self.message = message;
        self.params = OnceLock::new();
    }

    /// The message's `params`, parsed (once).
    pub fn params(&self) -> Option<&serde_json::Value> {
        self.params.get_or_init(|| self.message.params()).as_ref()
    }

    /// The tool, prompt or resource a request names (`params.name`, or `params.uri`).
    pub fn target(&self) -> Option<String> {
        let params = self.params()?;
        let key = match self.message.method()? {
            "tools/call" | "prompts/get" => "name",
            "resources/read" | "resources/subscribe" | "resources/unsubscribe" => "uri",
            _ => return None,
        };
        params.get(key)?.as_str().map(str::to_owned)
    }

    /// SHA-256 (hex) of the RFC 8785 canonical form of `params.arguments`, for `tools/call`
    /// and `prompts/get`: the audit log proves what was called without storing the arguments.
    pub fn arguments_sha256(&self) -> Option<String> {
        let params = self.params()?;
        let args = params.get("arguments")?;
        let canonical = serde_json_canonicalizer::to_vec(args).ok()?;
        Some(hex::encode(Sha256::digest(&canonical)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jsonrpc::Limits;

    fn exchange(text: &str) -> Exchange {
        let m = Message::parse(text.as_bytes(), Limits::default()).unwrap();
        Exchange::new(
            m,
            Direction::ClientToServer,
            "s".into(),
            "u".into(),
            ProtocolVersion::LATEST,
            text.len(),
        )
    }

    #[test]
    fn target_and_canonical_hash() {
        let a = exchange(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add","arguments":{"b":2,"a":1}}}"#,
        );
        let b = exchange(
            r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"arguments":{"a":1,"b":2},"name":"add"}}"#,
        );
        assert_eq!(a.target().as_deref(), Some("add"));
        assert_eq!(a.arguments_sha256(), b.arguments_sha256());
        let expected = hex::encode(Sha256::digest(br#"{"a":1,"b":2}"#));
        assert_eq!(a.arguments_sha256().unwrap(), expected);
    }
}
