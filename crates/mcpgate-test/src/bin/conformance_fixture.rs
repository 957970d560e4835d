//! `mcpgate-conformance-fixture`: the MCP server the conformance suite is run against, directly
//! and through mcpgate.
//!
//! ```text
//! mcpgate-conformance-fixture stdio             serve one client on stdin/stdout
//! mcpgate-conformance-fixture http --port N     serve http://127.0.0.1:N/mcp (N = 0: any port)
//! ```
//!
//! In HTTP mode the first line on stdout is `listening on http://127.0.0.1:PORT/mcp`; the
//! server stops on SIGTERM or SIGINT.

use std::process::ExitCode;

use mcpgate_test::conformance;
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: mcpgate-conformance-fixture stdio | http --port N";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["stdio"] => Mode::Stdio,
        ["http", "--port", port] => match port.parse::<u16>() {
            Ok(port) => Mode::Http(port),
            Err(_) => return usage(&format!("invalid port `{port}`")),
        },
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => return usage("unexpected arguments"),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("mcpgate-conformance-fixture: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match mode {
            Mode::Stdio => conformance::serve_stdio().await,
            Mode::Http(port) => {
                let stop = CancellationToken::new();
                let signal = stop.clone();
                tokio::spawn(async move {
                    wait_for_signal().await;
                    signal.cancel();
                });
                conformance::serve_http(port, stop, |addr| {
                    println!("listening on http://{addr}/mcp");
                })
                .await
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mcpgate-conformance-fixture: {e:#}");
            ExitCode::FAILURE
        }
    }
}

enum Mode {
    Stdio,
    Http(u16),
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("mcpgate-conformance-fixture: {problem}\n{USAGE}");
    ExitCode::from(2)
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
