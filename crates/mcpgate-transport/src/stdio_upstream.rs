//! Upstream over stdio: a child process supervised by the gateway.
//!
//! The command line comes from operator configuration only, never from a client. The child
//! starts with an empty environment plus the configured allow-list and explicit variables, in
//! its own process group so that shutdown reaches any process it started in turn. Its stderr is
//! always drained (a full stderr pipe would stall it) into the gateway's log. Shutdown closes
//! stdin, waits, then sends SIGTERM to the group, waits, then SIGKILL: no child outlives the
//! gateway.

use std::process::Stdio;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures::StreamExt;
use mcpgate_config::StdioUpstream;
use mcpgate_core::Denial;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::lines::{Line, LineCodec};
use crate::link::{Backend, Link};

/// How long a child gets to exit after its stdin closes, and again after SIGTERM.
const EXIT_GRACE: Duration = Duration::from_secs(2);

/// The gateway's handle on a running child: a queue of lines for its stdin.
pub(crate) struct StdioChild {
    tx: mpsc::Sender<String>,
}

impl StdioChild {
    pub(crate) fn send(&self, text: String) -> Result<(), Denial> {
        self.tx.try_send(text).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => {
                Denial::Capacity("too many messages queued for the upstream".into())
            }
            mpsc::error::TrySendError::Closed(_) => Denial::UpstreamClosed,
        })
    }
}

/// Starts the child for `link` and wires its pipes to the link.
pub(crate) fn spawn(
    link: &Arc<Link>,
    cfg: &StdioUpstream,
    tracker: &TaskTracker,
) -> Result<(), Denial> {
    let program = if cfg.command == "$MCPGATE" {
        std::env::current_exe().map_err(|e| {
            Denial::UpstreamUnavailable(format!("cannot locate the mcpgate binary: {e}"))
        })?
    } else {
        cfg.command.clone().into()
    };
    let mut cmd = Command::new(&program);
    cmd.args(&cfg.args)
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for name in &cfg.env_passthrough {
        if let Some(value) = std::env::var_os(name) {
            cmd.env(name, value);
        }
    }
    cmd.envs(&cfg.env);
    if let Some(cwd) = &cfg.cwd {
        cmd.current_dir(cwd);
    }
    let mut child = cmd.spawn().map_err(|e| {
        tracing::error!(link = %link.label, command = %program.display(), error = %e, "could not start the upstream");
        Denial::UpstreamUnavailable(format!("could not start `{}`", cfg.command))
    })?;
    let (Some(stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(Denial::Internal);
    };
    tracing::info!(link = %link.label, pid = child.id(), command = %program.display(), "started upstream");

    let (tx, rx) = mpsc::channel(4096);
    link.set_backend(Backend::Stdio(StdioChild { tx }));
    let closed = link.close_token().clone();
    // Dropping stdin when the writer ends is the first step of a graceful stop: the child
    // sees end of input.
    tracker.spawn(crate::lines::write_lines(stdin, rx, closed.clone()));

    let max = link.limits.max_bytes;
    let weak = Arc::downgrade(link);
    tracker.spawn(read_loop(stdout, weak.clone(), max));

    let label = link.label.clone();
    tracker.spawn(async move {
        let mut lines = FramedRead::new(stderr, LineCodec::new(8192));
        while let Some(line) = lines.next().await {
            match line {
                Ok(Line::Bytes(line)) => {
                    let line = String::from_utf8_lossy(&line);
                    tracing::info!(target: "mcpgate::upstream", link = %label, "{line}");
                }
                Ok(Line::TooLong) => {}
                Err(_) => break,
            }
        }
    });

    tracker.spawn(supervise(child, weak, closed));
    Ok(())
}

async fn read_loop(stdout: tokio::process::ChildStdout, link: Weak<Link>, max: usize) {
    let mut lines = FramedRead::new(stdout, LineCodec::new(max));
    while let Some(line) = lines.next().await {
        let Some(link) = link.upgrade() else { return };
        match line {
            Ok(Line::Bytes(line)) => {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                link.on_upstream(&line).await;
            }
            Ok(Line::TooLong) => {
                tracing::warn!(link = %link.label, max, "dropped an upstream message over the size limit");
            }
            Err(e) => {
                link.upstream_gone(&format!("reading stdout failed: {e}"));
                return;
            }
        }
    }
    if let Some(link) = link.upgrade() {
        link.upstream_gone("stdout closed");
    }
}

async fn supervise(mut child: Child, link: Weak<Link>, closed: CancellationToken) {
    let label = link
        .upgrade()
        .map_or_else(|| "upstream".to_owned(), |l| l.label.clone());
    // Read the group id now: after the child is reaped its id is gone.
    let group = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw);
    tokio::select! {
        status = child.wait() => {
            let why = match status {
                Ok(s) => format!("process exited ({s})"),
                Err(e) => format!("waiting for the process failed: {e}"),
            };
            if let Some(link) = link.upgrade() {
                link.upstream_gone(&why);
            }
            tracing::info!(link = %label, "{why}");
        }
        () = closed.cancelled() => stop_child(&mut child, group, &label).await,
    }
    // Whatever the leader started in its group goes with it.
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// Stdin is already closed by the writer; wait, then SIGTERM the group, wait, then SIGKILL.
async fn stop_child(child: &mut Child, group: Option<Pid>, label: &str) {
    if let Ok(Ok(status)) = tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        tracing::info!(link = %label, %status, "upstream exited");
        return;
    }
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGTERM);
    }
    if let Ok(Ok(status)) = tokio::time::timeout(EXIT_GRACE, child.wait()).await {
        tracing::info!(link = %label, %status, "upstream stopped by SIGTERM");
        return;
    }
    if let Some(group) = group {
        let _ = killpg(group, Signal::SIGKILL);
    }
    let _ = child.kill().await;
    tracing::warn!(link = %label, "upstream killed after ignoring SIGTERM");
}
