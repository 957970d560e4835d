//! The client-facing stdio front: an IDE launches `mcpgate stdio` in place of a server.
//!
//! One message per line in each direction. Standard output carries protocol messages only;
//! every log line goes to standard error. Requests are served concurrently, so a slow tool call
//! does not hold up the next message. On end of input the front waits for in-flight calls (up
//! to the shutdown grace), then stops the upstream.

use std::sync::Arc;

use futures::StreamExt;
use mcpgate_core::revision::META_PROTOCOL_VERSION;
use mcpgate_core::{Denial, Direction, Kind, Message};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::task::TaskTracker;

use crate::gateway::{Client, Gateway, Reply, Session};
use crate::lines::{Line, LineCodec};
use crate::route::ClientRoute;
use crate::upstream::Upstream;

/// Serves one client on the given input and output until the input ends or shutdown starts.
pub async fn serve_stdio<R, W>(
    gw: Arc<Gateway>,
    upstream: Arc<Upstream>,
    input: R,
    output: W,
) -> std::io::Result<()>
where
    R: tokio::io::AsyncRead + Unpin + Send + 'static,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (out_tx, out_rx) = mpsc::channel::<String>(1024);
    let writer = tokio::spawn(crate::lines::write_lines(
        output,
        out_rx,
        tokio_util::sync::CancellationToken::new(),
    ));
    let limits = gw.limits();
    // stdio has no transport credential: every message comes from the configured principal.
    let caller = gw.stdio_caller();
    let mut lines = FramedRead::new(input, LineCodec::new(limits.max_bytes));
    let tasks = TaskTracker::new();
    let mut session: Option<Arc<Session>> = None;
    let modern_route = Arc::new(ClientRoute::new(
        format!("stdio-{}", std::process::id()),
        Some(out_tx.clone()),
    ));
    loop {
        let line = tokio::select! {
            line = lines.next() => line,
            () = gw.shutdown.cancelled() => None,
        };
        let Some(line) = line else { break };
        let line = match line {
            Ok(Line::Bytes(line)) => line,
            Ok(Line::TooLong) => {
                let denial = Denial::TooLarge {
                    limit: limits.max_bytes,
                };
                gw.pipeline.finish_unparsed(
                    session.as_ref().map_or("-", |s| &s.id),
                    upstream.name(),
                    Direction::ClientToServer,
                    limits.max_bytes + 1,
                    &denial,
                );
                let _ = out_tx.send(Message::denial(None, &denial).to_json()).await;
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading standard input failed");
                break;
            }
        };
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let size = line.len();
        if let Some(s) = session.as_ref().filter(|s| s.version.allows_batches())
            && mcpgate_core::jsonrpc::is_batch(&line)
        {
            let (gw2, s, out) = (Arc::clone(&gw), Arc::clone(s), out_tx.clone());
            let caller = caller.clone();
            tasks.spawn(async move {
                if let Some(answer) = gw2.handle_batch(&s, &caller, &line).await {
                    let _ = out.send(answer).await;
                }
            });
            continue;
        }
        let msg = match Message::parse(&line, limits) {
            Ok(m) => m,
            Err(e) => {
                gw.pipeline.finish_unparsed(
                    session.as_ref().map_or("-", |s| &s.id),
                    upstream.name(),
                    Direction::ClientToServer,
                    size,
                    &e.denial,
                );
                let _ = out_tx
                    .send(Message::denial(e.id.as_ref(), &e.denial).to_json())
                    .await;
                continue;
            }
        };
        let client = match &session {
            Some(s) => Client::Legacy(Arc::clone(s)),
            None if msg.method() == Some("initialize") && msg.kind() == Kind::Request => {
                match gw
                    .initialize(
                        Arc::clone(&upstream),
                        Some(out_tx.clone()),
                        &caller,
                        msg,
                        size,
                    )
                    .await
                {
                    Reply::Initialized {
                        session: s,
                        message,
                    } => {
                        session = Some(s);
                        let _ = out_tx.send(message.to_json()).await;
                    }
                    Reply::Now { message, .. } => {
                        let _ = out_tx.send(message.to_json()).await;
                    }
                    Reply::Accepted | Reply::Rejected(_) | Reply::Pending(_) => {}
                }
                continue;
            }
            None if is_modern(&msg) || msg.kind() != Kind::Request => Client::Modern {
                route: Arc::clone(&modern_route),
                upstream: Arc::clone(&upstream),
            },
            None => {
                let denial = Denial::InvalidRequest(
                    "not initialized: send `initialize` first, or a 2026-07-28 request with `_meta`"
                        .into(),
                );
                gw.pipeline.finish_unparsed(
                    "-",
                    upstream.name(),
                    Direction::ClientToServer,
                    size,
                    &denial,
                );
                let _ = out_tx
                    .send(Message::denial(msg.id(), &denial).to_json())
                    .await;
                continue;
            }
        };
        // The request stages run in arrival order (an MCPS transcript chain depends on it);
        // only waiting for the upstream's answer runs alongside the next messages.
        let reply = gw.handle(&client, &caller, msg, size).await;
        let gw2 = Arc::clone(&gw);
        let out = out_tx.clone();
        tasks.spawn(async move {
            match reply {
                Reply::Accepted | Reply::Rejected(_) => {}
                Reply::Now { message, .. } | Reply::Initialized { message, .. } => {
                    let _ = out.send(message.to_json()).await;
                }
                Reply::Pending(mut f) => {
                    let related_out = out.clone();
                    let message = gw2
                        .complete(&mut f, move |text| {
                            let _ = related_out.try_send(text);
                        })
                        .await;
                    let _ = out.send(message).await;
                }
            }
        });
    }
    tasks.close();
    let grace = gw.config.server.shutdown_grace;
    if tokio::time::timeout(grace, tasks.wait()).await.is_err() {
        tracing::warn!("in-flight requests did not finish within the shutdown grace");
    }
    drop(session);
    gw.close(grace).await;
    drop(out_tx);
    drop(modern_route);
    let _ = writer.await;
    Ok(())
}

fn is_modern(msg: &Message) -> bool {
    msg.member("params")
        .is_some_and(|p| p.get().contains(META_PROTOCOL_VERSION))
}
