//! mcpgate's transports: the fronts clients talk to, the links to upstream servers, and the
//! relay between them.
//!
//! - [`http_front`]: Streamable HTTP for clients, both eras on one endpoint.
//! - [`stdio_front`]: stdio for clients (an IDE launches the gateway in place of a server).
//! - [`gateway`]: the relay: pipeline, sessions, era translation.
//! - [`upstream`] and [`link`]: connections to upstream servers and their id spaces.
//! - `stdio_upstream` and `http_upstream`: the two kinds of upstream connection.
//! - [`sse`]: server-sent event framing.
//! - [`tls`]: TLS and mutual TLS for the HTTP front.

mod auth_http;
pub mod gateway;
pub mod http_front;
mod http_upstream;
mod lines;
pub mod link;
pub mod route;
pub mod sse;
pub mod stdio_front;
mod stdio_upstream;
pub mod tls;
pub mod upstream;

pub use gateway::Gateway;
