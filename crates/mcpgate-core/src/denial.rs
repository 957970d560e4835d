//! Every reason the gateway refuses or fails a message, and how each one reaches the wire.
//!
//! [`Denial`] is deliberately exhaustive: adding a variant breaks [`Denial::code`] and
//! [`Denial::http_status`] at compile time, so no refusal can reach a client without a decided
//! JSON-RPC code and HTTP status. Messages are written for the person reading them: lowercase,
//! user input in backticks, no internal detail.

use std::fmt;

use crate::revision::Era;

/// Gateway-originated error codes, chosen outside the ranges JSON-RPC and MCP reserve
/// (−32768…−32000), as MCP asks of application-specific codes.
pub mod codes {
    /// The upstream could not be reached or started.
    pub const UPSTREAM_UNAVAILABLE: i64 = -31001;
    /// The upstream did not answer in time.
    pub const UPSTREAM_TIMEOUT: i64 = -31002;
    /// The upstream went away while the request was in flight.
    pub const UPSTREAM_CLOSED: i64 = -31003;
    /// The gateway or the upstream is at its configured capacity.
    pub const CAPACITY: i64 = -31004;
    /// The gateway is shutting down.
    pub const SHUTTING_DOWN: i64 = -31005;
    /// The client went away before the answer; the request was cancelled.
    pub const CLIENT_GONE: i64 = -31006;
    /// The request carries no valid credential.
    pub const UNAUTHENTICATED: i64 = -31010;
    /// The credential is valid but lacks a scope the request needs.
    pub const INSUFFICIENT_SCOPE: i64 = -31011;
    /// Authorization policy denied the request.
    pub const FORBIDDEN: i64 = -31012;
    /// The gateway cannot check the credential now (for example, the key set is unreachable).
    pub const AUTH_UNAVAILABLE: i64 = -31013;
    /// An MCPS message signature was missing, invalid, replayed or not trusted enough; or the
    /// gateway could not check it (fail closed). `data.mcps` names the exact reason.
    pub const SIGNATURE: i64 = -31020;
}

/// The [`Denial::Signature`] codes that mean the gateway could not decide (a store or list it
/// depends on is unavailable), rather than that the message was bad: HTTP 503, retry later.
pub const SIGNATURE_UNAVAILABLE_CODES: &[&str] = &["replay_unavailable", "revocation_unavailable"];

/// Which side caused a denial: recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The client sent something wrong.
    Client,
    /// The upstream misbehaved or failed.
    Upstream,
    /// The gateway itself could not proceed.
    Gateway,
}

impl Side {
    /// A short name for logs and audit records.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Upstream => "upstream",
            Self::Gateway => "gateway",
        }
    }
}

/// Why a message was refused or could not be served.
#[derive(Debug, Clone, PartialEq)]
pub enum Denial {
    /// The bytes are not JSON (or not UTF-8, or have duplicate keys): `-32700`.
    Parse(String),
    /// The JSON is not an acceptable JSON-RPC 2.0 message: `-32600`.
    InvalidRequest(String),
    /// The message is larger than the configured limit: `-32600`, HTTP 413.
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The message nests deeper than the configured limit: `-32600`.
    TooDeep {
        /// The limit, in levels.
        limit: usize,
    },
    /// A JSON array arrived where the protocol revision has no batches: `-32600`.
    BatchNotSupported,
    /// The method does not exist in the negotiated revision and is not allowed: `-32601`.
    MethodNotFound {
        /// The method the client asked for.
        method: String,
    },
    /// The params are unusable, such as a modern request without its `_meta` fields: `-32602`.
    InvalidParams(String),
    /// Modern HTTP: a standard header is missing or disagrees with the body: `-32020`.
    HeaderMismatch(String),
    /// The requested protocol revision is not one the gateway speaks: `-32022`.
    UnsupportedProtocolVersion {
        /// What the client asked for.
        requested: String,
        /// What the gateway supports, newest first.
        supported: Vec<String>,
    },
    /// A legacy HTTP request without the session id the session requires: HTTP 400.
    SessionRequired,
    /// A legacy HTTP request with a session id the gateway does not know (any more): HTTP 404.
    SessionNotFound,
    /// The upstream could not be reached or started.
    UpstreamUnavailable(String),
    /// The upstream did not answer within the request timeout.
    UpstreamTimeout {
        /// The timeout that elapsed, in milliseconds.
        after_ms: u64,
    },
    /// The upstream went away while the request was in flight.
    UpstreamClosed,
    /// A configured capacity is exhausted.
    Capacity(String),
    /// The gateway is shutting down and takes no new requests.
    ShuttingDown,
    /// A 2026-07-28 client closed its response stream before the answer, which cancels the
    /// request (recorded in the audit log; there is nobody left to answer).
    ClientGone,
    /// No valid credential: HTTP 401 with the `WWW-Authenticate` challenge.
    Unauthenticated {
        /// What is wrong, for the person reading it (never the credential itself).
        reason: String,
        /// The `WWW-Authenticate` header value.
        challenge: String,
    },
    /// A valid credential without a scope the request needs: HTTP 403 with the challenge.
    InsufficientScope {
        /// The scopes the request needs, space-separated.
        scope: String,
        /// The `WWW-Authenticate` header value.
        challenge: String,
    },
    /// Authorization policy denied the request. The message says only that: never whether
    /// the tool, resource or prompt exists.
    Forbidden,
    /// The credential cannot be checked now (fail closed): HTTP 503.
    AuthUnavailable(String),
    /// An MCPS signature check refused the message: JSON-RPC `-31020` with
    /// `data: {"mcps": code}`. HTTP 200 (it answers one call; the session stays usable, as
    /// for [`Denial::Forbidden`]), except HTTP 503 when the gateway could not check the
    /// message ([`SIGNATURE_UNAVAILABLE_CODES`]).
    Signature {
        /// A stable snake_case name: an `mcps::RejectCode` name (`bad_signature`, `replay`,
        /// `expired`, …) or a gateway one (`signature_required`, `unknown_signer`, `revoked`,
        /// `insufficient_trust`, `profile_not_accepted`, `replay_unavailable`, …).
        code: &'static str,
        /// What is wrong, for the person reading it (never key material).
        message: String,
    },
    /// Something the gateway cannot explain to the client without leaking internals.
    Internal,
}

impl Denial {
    /// The JSON-RPC error code.
    pub fn code(&self) -> i64 {
        match self {
            Self::Parse(_) => -32700,
            Self::InvalidRequest(_)
            | Self::TooLarge { .. }
            | Self::TooDeep { .. }
            | Self::BatchNotSupported
            | Self::SessionRequired
            | Self::SessionNotFound => -32600,
            Self::MethodNotFound { .. } => -32601,
            Self::InvalidParams(_) => -32602,
            Self::Internal => -32603,
            Self::HeaderMismatch(_) => -32020,
            Self::UnsupportedProtocolVersion { .. } => -32022,
            Self::UpstreamUnavailable(_) => codes::UPSTREAM_UNAVAILABLE,
            Self::UpstreamTimeout { .. } => codes::UPSTREAM_TIMEOUT,
            Self::UpstreamClosed => codes::UPSTREAM_CLOSED,
            Self::Capacity(_) => codes::CAPACITY,
            Self::ShuttingDown => codes::SHUTTING_DOWN,
            Self::ClientGone => codes::CLIENT_GONE,
            Self::Unauthenticated { .. } => codes::UNAUTHENTICATED,
            Self::InsufficientScope { .. } => codes::INSUFFICIENT_SCOPE,
            Self::Forbidden => codes::FORBIDDEN,
            Self::AuthUnavailable(_) => codes::AUTH_UNAVAILABLE,
            Self::Signature { .. } => codes::SIGNATURE,
        }
    }

    /// The HTTP status of a Streamable HTTP answer that carries this denial.
    ///
    /// Refusals of the request itself are 4xx as the transport specs name them. Failures to
    /// serve a well-formed request (upstream down, timeout) are JSON-RPC errors in a 200
    /// answer: a non-2xx status would make a client treat the session or transport as broken,
    /// and a legacy client reads 404 as "session gone".
    pub fn http_status(&self, era: Era) -> u16 {
        match self {
            Self::Parse(_)
            | Self::InvalidRequest(_)
            | Self::TooDeep { .. }
            | Self::BatchNotSupported
            | Self::InvalidParams(_)
            | Self::HeaderMismatch(_)
            | Self::UnsupportedProtocolVersion { .. }
            | Self::SessionRequired => 400,
            Self::TooLarge { .. } => 413,
            Self::SessionNotFound => 404,
            Self::MethodNotFound { .. } => match era {
                Era::Modern => 404,
                Era::Legacy => 200,
            },
            Self::UpstreamUnavailable(_)
            | Self::UpstreamTimeout { .. }
            | Self::UpstreamClosed
            | Self::ClientGone
            | Self::Internal => 200,
            // A policy denial answers one call; the session and transport stay usable.
            Self::Forbidden => 200,
            Self::Unauthenticated { .. } => 401,
            Self::InsufficientScope { .. } => 403,
            Self::Capacity(_) | Self::ShuttingDown | Self::AuthUnavailable(_) => 503,
            Self::Signature { code, .. } => {
                if SIGNATURE_UNAVAILABLE_CODES.contains(code) {
                    503
                } else {
                    200
                }
            }
        }
    }

    /// The `data` member of the error, where the spec defines one.
    pub fn data(&self) -> Option<serde_json::Value> {
        match self {
            Self::UnsupportedProtocolVersion {
                requested,
                supported,
            } => Some(serde_json::json!({ "supported": supported, "requested": requested })),
            Self::Signature { code, .. } => Some(serde_json::json!({ "mcps": code })),
            _ => None,
        }
    }

    /// The `WWW-Authenticate` header an HTTP answer carrying this denial must have.
    pub fn www_authenticate(&self) -> Option<&str> {
        match self {
            Self::Unauthenticated { challenge, .. } | Self::InsufficientScope { challenge, .. } => {
                Some(challenge)
            }
            _ => None,
        }
    }

    /// Which side caused it.
    pub fn side(&self) -> Side {
        match self {
            Self::Parse(_)
            | Self::InvalidRequest(_)
            | Self::TooLarge { .. }
            | Self::TooDeep { .. }
            | Self::BatchNotSupported
            | Self::MethodNotFound { .. }
            | Self::InvalidParams(_)
            | Self::HeaderMismatch(_)
            | Self::UnsupportedProtocolVersion { .. }
            | Self::SessionRequired
            | Self::SessionNotFound
            | Self::ClientGone
            | Self::Unauthenticated { .. }
            | Self::InsufficientScope { .. }
            | Self::Forbidden => Side::Client,
            Self::UpstreamUnavailable(_) | Self::UpstreamTimeout { .. } | Self::UpstreamClosed => {
                Side::Upstream
            }
            Self::Capacity(_) | Self::ShuttingDown | Self::Internal | Self::AuthUnavailable(_) => {
                Side::Gateway
            }
            Self::Signature { code, .. } => {
                if SIGNATURE_UNAVAILABLE_CODES.contains(code) {
                    Side::Gateway
                } else {
                    Side::Client
                }
            }
        }
    }

    /// A stable short name for audit records and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Parse(_) => "parse_error",
            Self::InvalidRequest(_) => "invalid_request",
            Self::TooLarge { .. } => "too_large",
            Self::TooDeep { .. } => "too_deep",
            Self::BatchNotSupported => "batch_not_supported",
            Self::MethodNotFound { .. } => "method_not_found",
            Self::InvalidParams(_) => "invalid_params",
            Self::HeaderMismatch(_) => "header_mismatch",
            Self::UnsupportedProtocolVersion { .. } => "unsupported_protocol_version",
            Self::SessionRequired => "session_required",
            Self::SessionNotFound => "session_not_found",
            Self::UpstreamUnavailable(_) => "upstream_unavailable",
            Self::UpstreamTimeout { .. } => "upstream_timeout",
            Self::UpstreamClosed => "upstream_closed",
            Self::Capacity(_) => "capacity",
            Self::ShuttingDown => "shutting_down",
            Self::ClientGone => "client_gone",
            Self::Internal => "internal",
            Self::Unauthenticated { .. } => "unauthenticated",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::Forbidden => "forbidden",
            Self::AuthUnavailable(_) => "auth_unavailable",
            Self::Signature { .. } => "signature",
        }
    }
}

impl fmt::Display for Denial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(m) => write!(f, "parse error: {m}"),
            Self::InvalidRequest(m) => write!(f, "invalid request: {m}"),
            Self::TooLarge { limit } => {
                write!(f, "message exceeds the size limit of {limit} bytes")
            }
            Self::TooDeep { limit } => {
                write!(f, "message nests deeper than the limit of {limit} levels")
            }
            Self::BatchNotSupported => f.write_str(
                "JSON-RPC batches are not supported by the negotiated protocol revision \
                 (only 2025-03-26 has them): send one message at a time",
            ),
            Self::MethodNotFound { method } => write!(f, "method not found: `{method}`"),
            Self::InvalidParams(m) => write!(f, "invalid params: {m}"),
            Self::HeaderMismatch(m) => write!(f, "header mismatch: {m}"),
            Self::UnsupportedProtocolVersion {
                requested,
                supported,
            } => write!(
                f,
                "unsupported protocol version `{requested}`: supported are {}",
                supported.join(", ")
            ),
            Self::SessionRequired => {
                f.write_str("bad request: missing `Mcp-Session-Id` header; send `initialize` first")
            }
            Self::SessionNotFound => {
                f.write_str("session not found: it expired or was closed; initialize again")
            }
            Self::UpstreamUnavailable(m) => write!(f, "upstream unavailable: {m}"),
            Self::UpstreamTimeout { after_ms } => {
                write!(f, "upstream did not answer within {after_ms} ms")
            }
            Self::UpstreamClosed => {
                f.write_str("upstream closed the connection before answering; retry the request")
            }
            Self::Capacity(m) => write!(f, "at capacity: {m}"),
            Self::ShuttingDown => f.write_str("gateway is shutting down; retry elsewhere"),
            Self::ClientGone => {
                f.write_str("the client closed the stream before the answer; request cancelled")
            }
            Self::Internal => f.write_str("internal gateway error"),
            Self::Unauthenticated { reason, .. } => write!(f, "unauthenticated: {reason}"),
            Self::InsufficientScope { scope, .. } => {
                write!(f, "insufficient scope: this request needs `{scope}`")
            }
            Self::Forbidden => f.write_str("denied by policy"),
            Self::AuthUnavailable(m) => {
                write!(f, "cannot authenticate the request now: {m}; retry later")
            }
            Self::Signature { code, message } => {
                write!(f, "signature rejected ({code}): {message}")
            }
        }
    }
}

impl std::error::Error for Denial {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_stay_out_of_reserved_ranges() {
        for d in [
            Denial::UpstreamUnavailable("x".into()),
            Denial::UpstreamTimeout { after_ms: 1 },
            Denial::UpstreamClosed,
            Denial::Capacity("x".into()),
            Denial::ShuttingDown,
            Denial::ClientGone,
            Denial::Forbidden,
            Denial::AuthUnavailable("x".into()),
            Denial::Signature {
                code: "bad_signature",
                message: "x".into(),
            },
            Denial::Unauthenticated {
                reason: "x".into(),
                challenge: "Bearer".into(),
            },
            Denial::InsufficientScope {
                scope: "x".into(),
                challenge: "Bearer".into(),
            },
        ] {
            assert!(!(-32768..=-32000).contains(&d.code()), "{d:?}");
        }
    }

    #[test]
    fn statuses() {
        assert_eq!(Denial::TooLarge { limit: 1 }.http_status(Era::Legacy), 413);
        assert_eq!(
            Denial::MethodNotFound { method: "x".into() }.http_status(Era::Modern),
            404
        );
        assert_eq!(
            Denial::MethodNotFound { method: "x".into() }.http_status(Era::Legacy),
            200
        );
        assert_eq!(Denial::SessionNotFound.http_status(Era::Legacy), 404);
        let bad = Denial::Signature {
            code: "replay",
            message: "x".into(),
        };
        assert_eq!(bad.http_status(Era::Legacy), 200);
        assert_eq!(bad.side(), Side::Client);
        assert_eq!(bad.data().unwrap()["mcps"], "replay");
        let down = Denial::Signature {
            code: "replay_unavailable",
            message: "x".into(),
        };
        assert_eq!(down.http_status(Era::Modern), 503);
        assert_eq!(down.side(), Side::Gateway);
    }

    #[test]
    fn unsupported_version_has_spec_data() {
        let d = Denial::UnsupportedProtocolVersion {
            requested: "1999-01-01".into(),
            supported: vec!["2026-07-28".into()],
        };
        assert_eq!(d.code(), -32022);
        assert_eq!(d.data().unwrap()["supported"][0], "2026-07-28");
    }
}
