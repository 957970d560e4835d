//! `mcpgate-bench`: measures, in one run, `tools/call` through the direct path and through
//! the `mcpgate` gateway, for a stdio and an HTTP upstream, and with `--peers` through the
//! bridges users run today (PyPI `mcp-proxy`, npm `supergateway`) in front of the same stdio
//! upstream, and prints markdown tables.
//!
//! Each row reports sequential latency (p50/p90/p99 over N calls after a warm-up), throughput
//! with 16 and 64 calls in flight over a fixed duration, the median session set-up time, and
//! for proxy rows the added p50 latency and the throughput ratio against the matching direct
//! row, the proxy's CPU time per 1,000 calls and its peak RSS (its whole process tree but the
//! upstream). A second table gives the ratios proxy ÷ direct and peer ÷ mcpgate. `--pin` puts
//! the proxy on core 0 and everything else on core 1. See docs/benchmarks.md.
//!
//! `mcpgate-bench http-upstream` and `mcpgate-bench stdio-upstream` are the upstream fixtures.

mod bench;
mod client;
mod fixture;
mod gateway;
mod peers;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::bench::Settings;
use crate::gateway::Launch;
use crate::peers::Peers;

/// Benchmark harness for mcpgate: direct path against gateway path, stdio and HTTP upstreams.
#[derive(Debug, Parser)]
#[command(name = "mcpgate-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// The mcpgate binary (a release build).
    #[arg(long, default_value = "target/release/mcpgate")]
    mcpgate: PathBuf,
    /// Pin the proxy under test to core 0 (`taskset -c 0`) and the client and upstreams to
    /// core 1.
    #[arg(long)]
    pin: bool,
    /// Add the peer rows (stdio-mcp-proxy, stdio-supergateway): the same stdio upstream behind
    /// PyPI mcp-proxy and npm supergateway. Install them with scripts/bench-deps.sh. The run
    /// then happens in a private network namespace (`unshare -rn`), since supergateway cannot
    /// bind loopback only.
    #[arg(long)]
    peers: bool,
    /// The mcp-proxy executable (default: bench-venv/bin/mcp-proxy in the cache directory).
    #[arg(long, env = "MCPGATE_BENCH_MCP_PROXY")]
    mcp_proxy: Option<PathBuf>,
    /// supergateway's dist/index.js (default: under bench-npm/node_modules in the cache
    /// directory).
    #[arg(long, env = "MCPGATE_BENCH_SUPERGATEWAY")]
    supergateway: Option<PathBuf>,
    /// The Node.js (>= 20) that runs supergateway.
    #[arg(long, env = "MCPGATE_BENCH_NODE", default_value = "node")]
    node: PathBuf,
    /// A smoke run of about 10 s: few calls, short phases; still checks every answer.
    #[arg(long)]
    quick: bool,
    /// Sequential calls measured per row (default 5000; quick 200).
    #[arg(long)]
    calls: Option<usize>,
    /// Warm-up calls before the sequential phase (default 500; quick 50).
    #[arg(long)]
    warmup: Option<usize>,
    /// Length of each throughput phase in seconds (default 3; quick 0.3).
    #[arg(long)]
    duration: Option<f64>,
    /// Most calls in one throughput phase.
    #[arg(long, default_value_t = 2_000_000)]
    max_calls: u64,
    /// New sessions timed per row for the session set-up figure (default 50; quick 5; 0
    /// skips it).
    #[arg(long)]
    sessions: Option<usize>,
    /// Run only these rows (comma-separated keys: http-direct, http-gateway,
    /// http-modern-direct, http-modern-gateway, stdio-direct, stdio-gateway-http,
    /// stdio-gateway-http-per-session, stdio-gateway-stdio, stdio-mcp-proxy,
    /// stdio-supergateway).
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// The HTTP upstream fixture: prints its URL, serves until standard input ends.
    HttpUpstream {
        /// Pin this process to a core.
        #[arg(long)]
        cpu: Option<usize>,
    },
    /// The stdio upstream fixture: an echo MCP server on stdin and stdout.
    StdioUpstream {
        /// Pin this process to a core.
        #[arg(long)]
        cpu: Option<usize>,
    },
}

const GATEWAY_CORE: usize = 0;
const CLIENT_CORE: usize = 1;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("mcpgate-bench: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Some(Cmd::StdioUpstream { cpu }) => {
            if let Some(cpu) = cpu {
                pin_self(cpu)?;
            }
            fixture::serve_stdio()?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Cmd::HttpUpstream { cpu }) => {
            if let Some(cpu) = cpu {
                pin_self(cpu)?;
            }
            fixture::serve_http_process()?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let rows = bench::select(&cli.only, cli.peers)?;
    if rows.is_empty() {
        bail!("no row selected (rows: {})", bench::row_keys().join(", "));
    }
    // Before anything else starts: this may re-execute the harness in a new namespace.
    if rows.iter().any(|r| r.needs_private_net()) {
        peers::ensure_private_net()?;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let bin = std::fs::canonicalize(&cli.mcpgate).with_context(|| {
        format!(
            "no mcpgate binary at `{}` (build it with `cargo build --release -p mcpgate`, or pass --mcpgate)",
            cli.mcpgate.display()
        )
    })?;
    let pin = if cli.pin {
        if cores < 2 {
            bail!("--pin needs at least 2 usable cores, this process has {cores}");
        }
        if which("taskset").is_none() {
            bail!("--pin needs `taskset` (util-linux) to start the gateway on one core");
        }
        // Before the runtime starts, so that it sizes itself (one worker) for one core.
        pin_self(CLIENT_CORE)?;
        true
    } else {
        false
    };
    let (calls, warmup, duration, sessions) = if cli.quick {
        (200, 50, 0.3, 5)
    } else {
        (5000, 500, 3.0, 50)
    };
    let duration = cli.duration.unwrap_or(duration);
    if !(duration > 0.0 && duration <= 600.0) {
        bail!("--duration must be between 0 and 600 seconds");
    }
    let cache = peers::cache_dir();
    let peers = Peers {
        mcp_proxy: cli
            .mcp_proxy
            .unwrap_or_else(|| cache.join("bench-venv/bin/mcp-proxy")),
        supergateway: cli
            .supergateway
            .unwrap_or_else(|| cache.join("bench-npm/node_modules/supergateway/dist/index.js")),
        node: cli.node,
    };
    let with_mcp_proxy = rows.iter().any(|r| r.is_mcp_proxy());
    let with_supergateway = rows.iter().any(|r| r.needs_private_net());
    let settings = Settings {
        warmup: cli.warmup.unwrap_or(warmup),
        calls: cli.calls.unwrap_or(calls).max(1),
        duration: Duration::from_secs_f64(duration),
        max_calls: cli.max_calls.max(1),
        sessions: cli.sessions.unwrap_or(sessions).min(10_000),
        launch: Launch {
            bin,
            pin: pin.then_some(GATEWAY_CORE),
            upstream_cpu: pin.then_some(CLIENT_CORE),
        },
        peers,
        rows: rows.iter().map(|r| r.key).collect(),
    };
    let mut header = header(&settings, pin, cores);
    if with_mcp_proxy || with_supergateway {
        let _ = writeln!(
            header,
            "Peers: {}.",
            settings.peers.describe(with_mcp_proxy, with_supergateway)
        );
    }
    if peers::only_loopback() {
        header.push_str("Network: a private namespace whose only interface is lo (unshare -rn).\n");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    // On Ctrl-C or SIGTERM the run is dropped: every child (kill_on_drop) and the temporary
    // directory go with it.
    let (table, ok) = runtime.block_on(async {
        tokio::select! {
            r = bench::run(&settings, header) => r,
            () = interrupted() => bail!("interrupted"),
        }
    })?;
    runtime.shutdown_timeout(Duration::from_secs(5));
    print!("{table}");
    println!(
        "\nRun time {:.1} s; load average at the end: {}.",
        started.elapsed().as_secs_f64(),
        load_average()
    );
    if ok {
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("mcpgate-bench: at least one path failed to answer correctly");
        Ok(ExitCode::from(1))
    }
}

async fn interrupted() {
    use tokio::signal::unix::{SignalKind, signal};
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

fn header(s: &Settings, pin: bool, cores: usize) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let pinning = if pin {
        format!(
            "proxy under test pinned to core {GATEWAY_CORE}, client and upstreams to core {CLIENT_CORE}"
        )
    } else {
        "not pinned".into()
    };
    format!(
        "mcpgate-bench {}: {cores} cores ({cpu}), {pinning}; {} sequential calls after {} warm-up \
         calls; throughput phases of {:.1} s (after {:.1} s warm-up) with 16 and 64 in flight; \
         session set-up: median of {} new sessions; legacy sessions use protocol {}; \
         scheduling: {}; load average at the start: {}.\n",
        env!("CARGO_PKG_VERSION"),
        s.calls,
        s.warmup,
        s.duration.as_secs_f64(),
        s.warm().as_secs_f64(),
        s.sessions,
        fixture::LEGACY,
        scheduling(),
        load_average()
    )
}

/// This process's scheduling policy and priority (inherited by every process it starts).
fn scheduling() -> String {
    let Some(sched) = gateway::own_scheduling() else {
        return "unknown".into();
    };
    match sched.policy {
        0 => format!("SCHED_OTHER, nice {}", sched.nice),
        1 => format!("SCHED_FIFO priority {}", sched.rt_priority),
        2 => format!("SCHED_RR priority {}", sched.rt_priority),
        other => format!("policy {other}, nice {}", sched.nice),
    }
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|t| t.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "unknown".into())
}

fn pin_self(core: usize) -> anyhow::Result<()> {
    let mut set = nix::sched::CpuSet::new();
    set.set(core)
        .with_context(|| format!("cannot pin to core {core}"))?;
    nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .with_context(|| format!("cannot pin to core {core}"))?;
    Ok(())
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}
