//! The first stage: MCP-level validation for the negotiated protocol revision.
//!
//! Byte-level checks (size, UTF-8, depth, duplicate keys, JSON-RPC shape) happen while parsing,
//! in `mcpgate-core`; this stage checks what needs the revision: that the method exists in it
//! (unless the operator allows it as an extension), and that a modern request carries the
//! per-request `_meta` fields the 2026-07-28 revision requires.

use std::collections::HashSet;

use mcpgate_core::revision::{META_CLIENT_CAPABILITIES, META_PROTOCOL_VERSION};
use mcpgate_core::{Denial, Direction, Era, Exchange, Kind};

use crate::{Stage, Stop};

/// Strict method and `_meta` validation.
#[derive(Debug, Default)]
pub struct Validate {
    allow_methods: HashSet<String>,
}

impl Validate {
    /// A validator that also allows the given extension methods.
    pub fn new(allow_methods: impl IntoIterator<Item = String>) -> Self {
        Self {
            allow_methods: allow_methods.into_iter().collect(),
        }
    }

    fn check(&self, x: &Exchange) -> Result<(), Denial> {
        let m = &x.message;
        let Some(method) = m.method() else {
            // Responses: their ids are checked by the relay against what is outstanding.
            return Ok(());
        };
        let known = match x.direction {
            Direction::ClientToServer => x.version.client_method_known(method),
            Direction::ServerToClient => x.version.server_method_known(method),
        };
        if !known && !self.allow_methods.contains(method) {
            return Err(Denial::MethodNotFound {
                method: method.to_owned(),
            });
        }
        if x.direction == Direction::ClientToServer
            && x.version.era() == Era::Modern
            && m.kind() == Kind::Request
        {
            check_modern_meta(x)?;
        }
        Ok(())
    }
}

/// A modern request must carry its protocol version and client capabilities in `_meta`.
fn check_modern_meta(x: &Exchange) -> Result<(), Denial> {
    let meta = x
        .params()
        .and_then(|p| p.get("_meta"))
        .and_then(|m| m.as_object());
    let Some(meta) = meta else {
        return Err(Denial::InvalidParams(format!(
            "a {} request needs `params._meta` with `{META_PROTOCOL_VERSION}` and `{META_CLIENT_CAPABILITIES}`",
            x.version
        )));
    };
    if !meta
        .get(META_PROTOCOL_VERSION)
        .is_some_and(|v| v.is_string())
    {
        return Err(Denial::InvalidParams(format!(
            "`params._meta` needs `{META_PROTOCOL_VERSION}` as a string"
        )));
    }
    if !meta
        .get(META_CLIENT_CAPABILITIES)
        .is_some_and(|v| v.is_object())
    {
        return Err(Denial::InvalidParams(format!(
            "`params._meta` needs `{META_CLIENT_CAPABILITIES}` as an object"
        )));
    }
    Ok(())
}

impl Stage for Validate {
    const NAME: &'static str = "validate";

    async fn on_request(&self, x: &mut Exchange) -> Result<(), Stop> {
        self.check(x).map_err(Stop::Deny)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mcpgate_core::{Limits, Message, ProtocolVersion};

    fn exchange(text: &str, version: ProtocolVersion, direction: Direction) -> Exchange {
        let m = Message::parse(text.as_bytes(), Limits::default()).unwrap();
        Exchange::new(m, direction, "s".into(), "u".into(), version, text.len())
    }

    fn check(v: &Validate, text: &str, version: ProtocolVersion) -> Result<(), Denial> {
        v.check(&exchange(text, version, Direction::ClientToServer))
    }

    #[test]
    fn unknown_methods_are_refused_unless_allowed() {
        let v = Validate::default();
        let text = r#"{"jsonrpc":"2.0","id":1,"method":"vendor/do"}"#;
        assert_eq!(
            check(&v, text, ProtocolVersion::V2025_11_25)
                .unwrap_err()
                .code(),
            -32601
        );
        let v = Validate::new(["vendor/do".to_owned()]);
        assert!(check(&v, text, ProtocolVersion::V2025_11_25).is_ok());
    }

    #[test]
    fn methods_follow_the_revision() {
        let v = Validate::default();
        let ping = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
        assert!(check(&v, ping, ProtocolVersion::V2025_11_25).is_ok());
        assert_eq!(
            check(&v, ping, ProtocolVersion::V2026_07_28)
                .unwrap_err()
                .code(),
            -32601
        );
    }

    #[test]
    fn modern_requests_need_meta() {
        let v = Validate::default();
        let bare = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
        assert_eq!(
            check(&v, bare, ProtocolVersion::V2026_07_28)
                .unwrap_err()
                .code(),
            -32602
        );
        let no_caps = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
        assert_eq!(
            check(&v, no_caps, ProtocolVersion::V2026_07_28)
                .unwrap_err()
                .code(),
            -32602
        );
        let good = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
        assert!(check(&v, good, ProtocolVersion::V2026_07_28).is_ok());
        assert!(check(&v, bare, ProtocolVersion::V2025_11_25).is_ok());
    }

    #[test]
    fn server_methods_are_checked_too() {
        let v = Validate::default();
        let x = exchange(
            r#"{"jsonrpc":"2.0","id":1,"method":"roots/list"}"#,
            ProtocolVersion::V2026_07_28,
            Direction::ServerToClient,
        );
        assert_eq!(v.check(&x).unwrap_err().code(), -32601);
    }
}
