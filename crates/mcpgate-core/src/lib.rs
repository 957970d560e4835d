//! The message model of mcpgate: JSON-RPC 2.0 as MCP uses it, parsed strictly and kept raw.
//!
//! This crate has no I/O and no async runtime. It gives the rest of the gateway:
//!
//! - [`Message`]: one JSON-RPC message, validated (size, nesting depth, duplicate keys, id and
//!   method types) and kept as the original member texts, so the gateway forwards exactly what it
//!   checked and only rewrites what it must (the request id).
//! - [`ProtocolVersion`] and the method catalogue of each MCP revision ([`revision`]).
//! - [`Denial`]: every reason the gateway refuses a message, mapped to a JSON-RPC error code and an
//!   HTTP status in one place ([`Denial::code`], [`Denial::http_status`]).
//! - [`Exchange`]: the per-message context the pipeline stages read and annotate.

pub mod denial;
pub mod exchange;
pub mod jsonrpc;
pub mod principal;
pub mod revision;

pub use denial::{Denial, Side};
pub use exchange::{Direction, Exchange};
pub use jsonrpc::{Id, Kind, Limits, Message, ParamsPeek, ParseError};
pub use principal::{AuthMethod, Principal, PrincipalKind};
pub use revision::{Era, ProtocolVersion};
