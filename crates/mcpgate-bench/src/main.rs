//! `mcpgate-bench`: measures, in one run, `tools/call` through the direct path and through
//! the `mcpgate` gateway, for a stdio and an HTTP upstream, and prints a markdown table.
//!
//! Each row reports sequential latency (p50/p90/p99 over N calls after a warm-up), throughput
//! with 16 and 64 calls in flight over a fixed duration, and for gateway rows the added p50
//! latency and the throughput ratio against the matching direct row, the gateway's CPU time per
//! 1,000 calls and its peak RSS. `--pin` puts the gateway on core 0 and everything else on
//! core 1. See docs/benchmarks.md.
//!
//! `mcpgate-bench http-upstream` and `mcpgate-bench stdio-upstream` are the upstream fixtures.

mod bench;
mod client;
mod fixture;
mod gateway;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::bench::Settings;
use crate::gateway::Launch;

/// Benchmark harness for mcpgate: direct path against gateway path, stdio and HTTP upstreams.
#[derive(Debug, Parser)]
#[command(name = "mcpgate-bench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
    /// The mcpgate binary (a release build).
    #[arg(long, default_value = "target/release/mcpgate")]
    mcpgate: PathBuf,
    /// Pin the gateway to core 0 (`taskset -c 0`) and the client and upstreams to core 1.
    #[arg(long)]
    pin: bool,
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
    /// Run only these rows (comma-separated keys: http-direct, http-gateway,
    /// http-modern-direct, http-modern-gateway, stdio-direct, stdio-gateway-http,
    /// stdio-gateway-stdio).
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
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let bin = std::fs::canonicalize(&cli.mcpgate).with_context(|| {
        format!(
            "no mcpgate binary at `{}` (build it with `cargo build --release -p mcpgate`, or pass --mcpgate)",
            cli.mcpgate.display()
        )
    })?;
    let known = bench::row_keys();
    if let Some(bad) = cli.only.iter().find(|k| !known.contains(&k.as_str())) {
        bail!("unknown row `{bad}` (rows: {})", known.join(", "));
    }
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
    let (calls, warmup, duration) = if cli.quick {
        (200, 50, 0.3)
    } else {
        (5000, 500, 3.0)
    };
    let duration = cli.duration.unwrap_or(duration);
    if !(duration > 0.0 && duration <= 600.0) {
        bail!("--duration must be between 0 and 600 seconds");
    }
    let settings = Settings {
        warmup: cli.warmup.unwrap_or(warmup),
        calls: cli.calls.unwrap_or(calls).max(1),
        duration: Duration::from_secs_f64(duration),
        max_calls: cli.max_calls.max(1),
        launch: Launch {
            bin,
            pin: pin.then_some(GATEWAY_CORE),
            upstream_cpu: pin.then_some(CLIENT_CORE),
        },
        only: cli.only,
    };
    let header = header(&settings, pin, cores);
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
        format!("gateway pinned to core {GATEWAY_CORE}, client and upstreams to core {CLIENT_CORE}")
    } else {
        "not pinned".into()
    };
    format!(
        "mcpgate-bench {}: {cores} cores ({cpu}), {pinning}; {} sequential calls after {} warm-up \
         calls; throughput phases of {:.1} s (after {:.1} s warm-up) with 16 and 64 in flight; \
         load average at the start: {}.\n",
        env!("CARGO_PKG_VERSION"),
        s.calls,
        s.warmup,
        s.duration.as_secs_f64(),
        s.warm().as_secs_f64(),
        load_average()
    )
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
