//! The conformance fixture: an rmcp server with the tools, prompts and resources that the
//! official MCP conformance suite's server scenarios call (for 2025-11-25 and 2026-07-28),
//! served over stdio or Streamable HTTP by the `mcpgate-conformance-fixture` binary.
//!
//! It is written from the scenarios' descriptions in `@modelcontextprotocol/conformance`;
//! `scripts/conformance` runs the suite against it directly and through mcpgate.

mod catalog;
mod server;
mod state;

use std::future::IntoFuture as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use rmcp::ServiceExt as _;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

pub use server::{ConformanceServer, SERVER_NAME};

/// Serves one client over stdin and stdout until the input ends.
pub async fn serve_stdio() -> anyhow::Result<()> {
    let running = ConformanceServer::new()
        .serve(rmcp::transport::stdio())
        .await
        .context("the stdio session did not start")?;
    running
        .waiting()
        .await
        .context("the stdio session failed")?;
    Ok(())
}

/// Serves Streamable HTTP at `http://127.0.0.1:<port>/mcp` until `stop` is cancelled; `ready`
/// gets the bound address (useful with port 0).
pub async fn serve_http(
    port: u16,
    stop: CancellationToken,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, port))
        .await
        .with_context(|| format!("cannot bind 127.0.0.1:{port}"))?;
    let addr = listener.local_addr()?;
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(["127.0.0.1", "localhost", "::1"])
        .with_sse_keep_alive(Some(Duration::from_secs(15)))
        .with_cancellation_token(stop.child_token());
    let base = ConformanceServer::new();
    let service = StreamableHttpService::new(
        move || Ok(base.session()),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    let app = axum::Router::new().route_service("/mcp", service);
    ready(addr);
    let graceful = stop.clone();
    let server = axum::serve(listener, app)
        .with_graceful_shutdown(async move { graceful.cancelled().await })
        .into_future();
    // Open streams (a client's GET stream, a listen) may hold the graceful shutdown up:
    // give them a moment, then stop anyway.
    tokio::select! {
        served = server => served.context("the HTTP server failed"),
        () = async {
            stop.cancelled().await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        } => Ok(()),
    }
}
