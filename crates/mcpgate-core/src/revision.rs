//! MCP protocol revisions and the methods each one defines.
//!
//! The gateway refuses methods the negotiated revision does not define (`-32601`) unless the
//! operator allows them as extensions, so an upstream never sees a method its clients could not
//! legitimately send.

use std::fmt;

/// The two eras of MCP: the legacy, session-based revisions and the modern, stateless ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Era {
    /// 2024-11-05 to 2025-11-25: `initialize` handshake, sessions, server-to-client requests.
    Legacy,
    /// 2026-07-28 and later: no handshake, per-request `_meta`, `server/discover`.
    Modern,
}

/// A known MCP protocol revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProtocolVersion {
    /// 2024-11-05: the first published revision.
    V2024_11_05,
    /// 2025-03-26: Streamable HTTP, JSON-RPC batches.
    V2025_03_26,
    /// 2025-06-18: batches removed, `MCP-Protocol-Version` header.
    V2025_06_18,
    /// 2025-11-25: the newest legacy revision.
    V2025_11_25,
    /// 2026-07-28: the stateless, modern revision.
    V2026_07_28,
}

impl ProtocolVersion {
    /// Every revision the gateway speaks, oldest first.
    pub const ALL: [ProtocolVersion; 5] = [
        Self::V2024_11_05,
        Self::V2025_03_26,
        Self::V2025_06_18,
        Self::V2025_11_25,
        Self::V2026_07_28,
    ];
    /// The newest revision that uses the `initialize` handshake.
    pub const LATEST_LEGACY: ProtocolVersion = Self::V2025_11_25;
    /// The newest revision.
    pub const LATEST: ProtocolVersion = Self::V2026_07_28;

    /// Parses a revision string such as `2025-11-25`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The revision string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V2024_11_05 => "2024-11-05",
            Self::V2025_03_26 => "2025-03-26",
            Self::V2025_06_18 => "2025-06-18",
            Self::V2025_11_25 => "2025-11-25",
            Self::V2026_07_28 => "2026-07-28",
        }
    }

    /// The era this revision belongs to.
    pub fn era(self) -> Era {
        if self >= Self::V2026_07_28 {
            Era::Modern
        } else {
            Era::Legacy
        }
    }

    /// Whether JSON-RPC batches (arrays of messages) are allowed: only in 2025-03-26.
    pub fn allows_batches(self) -> bool {
        self == Self::V2025_03_26
    }

    /// The modern revisions, newest first, as listed in `supportedVersions`.
    pub fn modern_versions() -> impl Iterator<Item = ProtocolVersion> {
        Self::ALL
            .into_iter()
            .rev()
            .filter(|v| v.era() == Era::Modern)
    }

    /// The legacy revisions, newest first.
    pub fn legacy_versions() -> impl Iterator<Item = ProtocolVersion> {
        Self::ALL
            .into_iter()
            .rev()
            .filter(|v| v.era() == Era::Legacy)
    }

    /// Whether `method` is a request or notification a client may send under this revision.
    pub fn client_method_known(self, method: &str) -> bool {
        use ProtocolVersion as V;
        let v = self;
        match method {
            "initialize"
            | "notifications/initialized"
            | "ping"
            | "resources/subscribe"
            | "resources/unsubscribe"
            | "logging/setLevel"
            | "notifications/roots/list_changed" => v <= V::V2025_11_25,
            "server/discover" | "subscriptions/listen" => v >= V::V2026_07_28,
            "tools/list"
            | "tools/call"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
            | "prompts/list"
            | "prompts/get"
            | "completion/complete"
            | "notifications/cancelled" => true,
            "notifications/progress" => v <= V::V2025_11_25,
            "tasks/get"
            | "tasks/result"
            | "tasks/list"
            | "tasks/cancel"
            | "notifications/tasks/status" => v == V::V2025_11_25,
            _ => false,
        }
    }

    /// Whether `method` is a request or notification a server may send under this revision.
    pub fn server_method_known(self, method: &str) -> bool {
        use ProtocolVersion as V;
        let v = self;
        match method {
            "ping" | "sampling/createMessage" | "roots/list" => v <= V::V2025_11_25,
            "elicitation/create" => (V::V2025_06_18..=V::V2025_11_25).contains(&v),
            "notifications/elicitation/complete"
            | "tasks/get"
            | "tasks/result"
            | "tasks/list"
            | "tasks/cancel"
            | "notifications/tasks/status" => v == V::V2025_11_25,
            "notifications/subscriptions/acknowledged" => v >= V::V2026_07_28,
            "notifications/cancelled"
            | "notifications/progress"
            | "notifications/message"
            | "notifications/resources/updated"
            | "notifications/resources/list_changed"
            | "notifications/tools/list_changed"
            | "notifications/prompts/list_changed" => true,
            _ => false,
        }
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `_meta` key carrying the protocol version of a modern request.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
/// The `_meta` key carrying the client capabilities of a modern request.
pub const META_CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
/// The `_meta` key carrying the client information of a modern request.
pub const META_CLIENT_INFO: &str = "io.modelcontextprotocol/clientInfo";
/// The `_meta` key carrying the server information of a modern result.
pub const META_SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";

/// Methods whose modern results must carry `ttlMs` and `cacheScope`.
pub fn is_cacheable(method: &str) -> bool {
    matches!(
        method,
        "server/discover"
            | "tools/list"
            | "prompts/list"
            | "resources/list"
            | "resources/templates/list"
            | "resources/read"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips() {
        for v in ProtocolVersion::ALL {
            assert_eq!(ProtocolVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(ProtocolVersion::parse("1999-01-01"), None);
    }

    #[test]
    fn eras_and_batches() {
        assert_eq!(ProtocolVersion::V2025_11_25.era(), Era::Legacy);
        assert_eq!(ProtocolVersion::V2026_07_28.era(), Era::Modern);
        assert!(ProtocolVersion::V2025_03_26.allows_batches());
        assert!(!ProtocolVersion::V2025_06_18.allows_batches());
    }

    #[test]
    fn catalogue_follows_revisions() {
        let modern = ProtocolVersion::V2026_07_28;
        let legacy = ProtocolVersion::V2025_11_25;
        assert!(!modern.client_method_known("ping"));
        assert!(legacy.client_method_known("ping"));
        assert!(modern.client_method_known("server/discover"));
        assert!(!legacy.client_method_known("server/discover"));
        assert!(modern.client_method_known("tools/call"));
        assert!(!legacy.client_method_known("vendor/x"));
        assert!(!ProtocolVersion::V2025_03_26.server_method_known("elicitation/create"));
        assert!(legacy.server_method_known("roots/list"));
        assert!(!modern.server_method_known("roots/list"));
    }
}
