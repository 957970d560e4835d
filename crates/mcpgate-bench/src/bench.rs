//! The measured paths, the measurements, and the markdown table.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::client::{
    CALL_TIMEOUT, HttpConn, HttpTarget, StdioClient, Style, next_id, time_http_session,
    time_stdio_session,
};
use crate::gateway::{self, HttpServer, Launch, Tree};
use crate::peers::{self, Peers};

/// The in-flight levels of the throughput phases.
pub(crate) const LEVELS: [usize; 2] = [16, 64];

/// What one run does.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Calls before the sequential latency phase (not measured).
    pub(crate) warmup: usize,
    /// Sequential calls measured for latency.
    pub(crate) calls: usize,
    /// Length of each throughput phase.
    pub(crate) duration: Duration,
    /// Most calls in one throughput phase, whatever its length.
    pub(crate) max_calls: u64,
    /// New sessions timed for the session set-up figure.
    pub(crate) sessions: usize,
    /// How the gateway (and every proxy) is started.
    pub(crate) launch: Launch,
    /// Where the bridges of the peer rows are.
    pub(crate) peers: Peers,
    /// The keys of the rows to run, from [`select`].
    pub(crate) rows: Vec<&'static str>,
}

impl Settings {
    /// The unmeasured warm-up before each throughput phase.
    pub(crate) fn warm(&self) -> Duration {
        (self.duration / 6).max(Duration::from_millis(100))
    }

    /// An upper bound for one row, so that a hung path cannot stall the run.
    fn row_budget(&self) -> Duration {
        let phases = u32::try_from(LEVELS.len()).unwrap_or(2);
        Duration::from_secs(60) + (self.duration + self.warm()) * phases * 2 + SETUP_BUDGET * 2
    }
}

/// The most time spent timing new sessions in one row.
const SETUP_BUDGET: Duration = Duration::from_secs(30);

/// Where calls go: an HTTP endpoint (one connection per caller) or a stdio process (shared).
enum Endpoint {
    Http(HttpTarget),
    Stdio(Arc<StdioClient>),
}

enum Caller {
    Http(HttpConn),
    Stdio(Arc<StdioClient>),
}

impl Endpoint {
    async fn caller(&self) -> anyhow::Result<Caller> {
        Ok(match self {
            Self::Http(t) => Caller::Http(t.connect().await?),
            Self::Stdio(s) => Caller::Stdio(Arc::clone(s)),
        })
    }
}

impl Caller {
    async fn call(&mut self) -> anyhow::Result<()> {
        let id = next_id();
        match self {
            Self::Http(c) => tokio::time::timeout(CALL_TIMEOUT, c.call(id))
                .await
                .with_context(|| format!("no answer within {CALL_TIMEOUT:?}"))?,
            Self::Stdio(s) => s.call(id).await,
        }
    }
}

/// Sequential latency, in microseconds.
#[derive(Debug, Clone, Copy)]
struct Latency {
    p50: f64,
    p90: f64,
    p99: f64,
    /// Calls measured (fewer than asked when the time bound ended the phase).
    n: usize,
}

fn percentile(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "an index into a short vector"
    )]
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e6
}

/// Sequential latency after a warm-up; also the number of calls made, warm-up included.
async fn sequential(ep: &Endpoint, s: &Settings) -> anyhow::Result<(Latency, u64)> {
    let mut caller = ep.caller().await?;
    for _ in 0..s.warmup {
        caller.call().await.context("warm-up")?;
    }
    let mut made: u64 = u64::try_from(s.warmup).unwrap_or(u64::MAX);
    // Bounded by count and by time.
    let budget = Instant::now() + Duration::from_secs(30) + s.duration * 4;
    let mut samples = Vec::with_capacity(s.calls);
    for _ in 0..s.calls {
        if Instant::now() > budget {
            break;
        }
        let t = Instant::now();
        caller.call().await.context("sequential phase")?;
        samples.push(t.elapsed());
        made += 1;
    }
    samples.sort_unstable();
    let latency = Latency {
        p50: percentile(&samples, 0.50),
        p90: percentile(&samples, 0.90),
        p99: percentile(&samples, 0.99),
        n: samples.len(),
    };
    Ok((latency, made))
}

/// Runs every caller in a loop until `length` has passed or `max` calls were made.
async fn phase(
    callers: Vec<Caller>,
    length: Duration,
    max: u64,
) -> anyhow::Result<(Vec<Caller>, u64, Duration)> {
    let count = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = Vec::with_capacity(callers.len());
    for mut caller in callers {
        let count = Arc::clone(&count);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline && count.load(Ordering::Relaxed) < max {
                caller.call().await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(caller)
        }));
    }
    let mut back = Vec::with_capacity(tasks.len());
    let mut first_error = None;
    for t in tasks {
        match t.await {
            Ok(Ok(c)) => back.push(c),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(anyhow::anyhow!("a caller task failed: {e}"));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok((back, count.load(Ordering::Relaxed), start.elapsed()))
}

/// Calls per second with `in_flight` callers; also the number of calls made, warm-up included.
async fn throughput(ep: &Endpoint, in_flight: usize, s: &Settings) -> anyhow::Result<(f64, u64)> {
    let mut callers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        callers.push(ep.caller().await?);
    }
    let (callers, warm_calls, _) = phase(callers, s.warm(), s.max_calls)
        .await
        .with_context(|| format!("warm-up with {in_flight} in flight"))?;
    let (_, calls, elapsed) = phase(callers, s.duration, s.max_calls)
        .await
        .with_context(|| format!("{in_flight} in flight"))?;
    #[expect(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
    let rate = calls as f64 / elapsed.as_secs_f64();
    Ok((rate, warm_calls + calls))
}

/// The figures of one row.
#[derive(Debug, Clone)]
struct Measured {
    latency: Latency,
    rates: Vec<f64>,
    cpu_per_1k: Option<f64>,
    /// The same for the sequential phase (one call at a time).
    cpu_seq_per_1k: Option<f64>,
    /// Share of the proxy's core used by other processes (pinned runs only).
    others: Option<f64>,
    rss_mib: Option<f64>,
    /// Median session set-up time in milliseconds, and the sessions timed.
    setup: Option<(f64, usize)>,
}

/// How a new client of the path starts: for the session set-up figure.
enum Fresh<'a> {
    /// A new connection and legacy session (or 2026-07-28 first call) to this address.
    Http(SocketAddr, Style),
    /// A new process, spoken to on its standard input and output.
    Stdio(&'a (dyn Fn() -> anyhow::Result<Command> + Sync)),
}

/// The median time from a new client starting to its first successful call, over up to
/// `s.sessions` sessions (bounded by [`SETUP_BUDGET`]).
async fn session_setup(fresh: &Fresh<'_>, s: &Settings) -> anyhow::Result<Option<(f64, usize)>> {
    if s.sessions == 0 {
        return Ok(None);
    }
    let budget = Instant::now() + SETUP_BUDGET;
    let mut times = Vec::with_capacity(s.sessions);
    for _ in 0..s.sessions {
        if Instant::now() > budget {
            break;
        }
        let took = match fresh {
            Fresh::Http(addr, style) => time_http_session(*addr, "/mcp", *style).await,
            Fresh::Stdio(command) => time_stdio_session(command()?).await,
        }
        .context("session set-up")?;
        times.push(took);
    }
    times.sort_unstable();
    Ok(Some((percentile(&times, 0.5) / 1000.0, times.len())))
}

async fn measure(
    ep: &Endpoint,
    s: &Settings,
    tree: Option<&Tree>,
    fresh: &Fresh<'_>,
) -> anyhow::Result<Measured> {
    let cpu = || tree.and_then(Tree::cpu_seconds);
    let seq0 = cpu();
    let (latency, seq_calls) = sequential(ep, s).await?;
    let cpu0 = cpu();
    #[expect(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
    let cpu_seq_per_1k = match (seq0, cpu0) {
        (Some(a), Some(b)) if seq_calls > 0 => Some((b - a) / seq_calls as f64 * 1000.0),
        _ => None,
    };
    let proxy_core = s.launch.pin.filter(|_| tree.is_some());
    let busy0 = proxy_core.and_then(gateway::core_busy_seconds);
    let window = Instant::now();
    let mut rates = Vec::new();
    let mut calls = 0;
    for level in LEVELS {
        let (rate, n) = throughput(ep, level, s).await?;
        rates.push(rate);
        calls += n;
    }
    let cpu1 = cpu();
    let busy1 = proxy_core.and_then(gateway::core_busy_seconds);
    let others = match (busy0, busy1, cpu0, cpu1) {
        (Some(b0), Some(b1), Some(c0), Some(c1)) => {
            let wall = window.elapsed().as_secs_f64();
            Some((((b1 - b0) - (c1 - c0)) / wall).clamp(0.0, 1.0))
        }
        _ => None,
    };
    #[expect(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
    let cpu_per_1k = match (cpu0, cpu1) {
        (Some(a), Some(b)) if calls > 0 => Some((b - a) / calls as f64 * 1000.0),
        _ => None,
    };
    if let Some(tree) = tree {
        eprintln!(
            "  proxy tree: {} process(es), the fixture not counted",
            tree.size()
        );
    }
    let setup = session_setup(fresh, s).await?;
    #[expect(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
    let rss_mib = tree.and_then(Tree::peak_rss_kib).map(|k| k as f64 / 1024.0);
    Ok(Measured {
        latency,
        rates,
        cpu_per_1k,
        cpu_seq_per_1k,
        others,
        rss_mib,
        setup,
    })
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    HttpDirect(Style),
    HttpGateway(Style),
    StdioDirect,
    /// The HTTP front with a stdio upstream, `sharing` as given.
    StdioGatewayHttp(&'static str),
    StdioGatewayStdio,
    McpProxy,
    Supergateway,
}

#[derive(Debug)]
pub(crate) struct Row {
    pub(crate) key: &'static str,
    path: &'static str,
    client: &'static str,
    kind: Kind,
    /// The direct row this one is compared with.
    base: Option<&'static str>,
    /// For a peer row: the mcpgate row it is compared with.
    versus: Option<&'static str>,
}

impl Row {
    /// A bridge mcpgate is compared with: run only with `--peers` or when named in `--only`.
    pub(crate) fn is_peer(&self) -> bool {
        self.versus.is_some()
    }

    /// Whether the row needs a private network namespace (its proxy cannot bind loopback only).
    pub(crate) fn needs_private_net(&self) -> bool {
        matches!(self.kind, Kind::Supergateway)
    }

    pub(crate) fn is_mcp_proxy(&self) -> bool {
        matches!(self.kind, Kind::McpProxy)
    }
}

const ROWS: [Row; 10] = [
    Row {
        key: "http-direct",
        path: "HTTP direct",
        client: "HTTP legacy session",
        kind: Kind::HttpDirect(Style::Legacy),
        base: None,
        versus: None,
    },
    Row {
        key: "http-gateway",
        path: "HTTP via gateway",
        client: "HTTP legacy session",
        kind: Kind::HttpGateway(Style::Legacy),
        base: Some("http-direct"),
        versus: None,
    },
    Row {
        key: "http-modern-direct",
        path: "HTTP direct",
        client: "HTTP 2026-07-28 stateless",
        kind: Kind::HttpDirect(Style::Modern),
        base: None,
        versus: None,
    },
    Row {
        key: "http-modern-gateway",
        path: "HTTP via gateway",
        client: "HTTP 2026-07-28 stateless",
        kind: Kind::HttpGateway(Style::Modern),
        base: Some("http-modern-direct"),
        versus: None,
    },
    Row {
        key: "stdio-direct",
        path: "stdio direct",
        client: "stdio legacy session",
        kind: Kind::StdioDirect,
        base: None,
        versus: None,
    },
    Row {
        key: "stdio-gateway-http",
        path: "stdio upstream via gateway HTTP front (shared)",
        client: "HTTP legacy session",
        kind: Kind::StdioGatewayHttp("shared"),
        base: Some("stdio-direct"),
        versus: None,
    },
    Row {
        key: "stdio-gateway-http-per-session",
        path: "stdio upstream via gateway HTTP front (per-session)",
        client: "HTTP legacy session",
        kind: Kind::StdioGatewayHttp("per-session"),
        base: Some("stdio-direct"),
        versus: None,
    },
    Row {
        key: "stdio-gateway-stdio",
        path: "stdio → gateway stdio front → stdio upstream",
        client: "stdio legacy session",
        kind: Kind::StdioGatewayStdio,
        base: Some("stdio-direct"),
        versus: None,
    },
    Row {
        key: "stdio-mcp-proxy",
        path: "stdio upstream via mcp-proxy (PyPI)",
        client: "HTTP legacy session",
        kind: Kind::McpProxy,
        base: Some("stdio-direct"),
        versus: Some("stdio-gateway-http"),
    },
    Row {
        key: "stdio-supergateway",
        path: "stdio upstream via supergateway --stateful (npm)",
        client: "HTTP legacy session",
        kind: Kind::Supergateway,
        base: Some("stdio-direct"),
        versus: Some("stdio-gateway-http-per-session"),
    },
];

/// The keys of every row, for `--only`.
pub(crate) fn row_keys() -> Vec<&'static str> {
    ROWS.iter().map(|r| r.key).collect()
}

/// The rows to run: those named by `only`, else every row but the peer rows, which `peers`
/// adds.
pub(crate) fn select(only: &[String], peers: bool) -> anyhow::Result<Vec<&'static Row>> {
    if let Some(bad) = only
        .iter()
        .find(|k| !ROWS.iter().any(|r| r.key == k.as_str()))
    {
        bail!("unknown row `{bad}` (rows: {})", row_keys().join(", "));
    }
    Ok(ROWS
        .iter()
        .filter(|r| {
            if only.is_empty() {
                peers || !r.is_peer()
            } else {
                only.iter().any(|k| k == r.key)
            }
        })
        .collect())
}

/// Measures the path through an HTTP server the harness started (the gateway or a bridge),
/// then stops it.
async fn with_server(
    s: &Settings,
    server: anyhow::Result<HttpServer>,
    style: Style,
) -> anyhow::Result<Measured> {
    let server = server?;
    eprintln!("  {} pid {}", server.name(), server.pid().unwrap_or(0));
    let tree = server.pid().map(Tree::new);
    let result = async {
        let ep = Endpoint::Http(HttpTarget::open(server.addr, "/mcp", style).await?);
        measure(&ep, s, tree.as_ref(), &Fresh::Http(server.addr, style)).await
    }
    .await;
    let result = result.map_err(|e| with_log(e, server.name(), &server.stderr_text()));
    server.stop().await;
    result
}

/// Measures a path whose client speaks to a process on stdio, then stops the process.
async fn with_stdio(
    s: &Settings,
    command: &(dyn Fn() -> anyhow::Result<Command> + Sync),
    proxy: bool,
    log: &dyn Fn() -> String,
) -> anyhow::Result<Measured> {
    let name = if proxy {
        "mcpgate"
    } else {
        "the stdio fixture"
    };
    let client = Arc::new(
        StdioClient::start(command()?)
            .await
            .map_err(|e| with_log(e, name, &log()))?,
    );
    let tree = if proxy {
        eprintln!("  gateway pid {}", client.pid().unwrap_or(0));
        client.pid().map(Tree::new)
    } else {
        None
    };
    let result = measure(
        &Endpoint::Stdio(Arc::clone(&client)),
        s,
        tree.as_ref(),
        &Fresh::Stdio(command),
    )
    .await
    .map_err(|e| with_log(e, name, &log()));
    if let Ok(client) = Arc::try_unwrap(client) {
        client.stop().await;
    }
    result
}

async fn run_row(
    row: &Row,
    s: &Settings,
    fixture_url: &str,
    dir: &Path,
) -> anyhow::Result<Measured> {
    std::fs::create_dir_all(dir)?;
    match row.kind {
        Kind::HttpDirect(style) => {
            let addr = fixture_addr(fixture_url)?;
            let ep = Endpoint::Http(HttpTarget::open(addr, "/mcp", style).await?);
            measure(&ep, s, None, &Fresh::Http(addr, style)).await
        }
        Kind::HttpGateway(style) => {
            let config = gateway::config(dir, &gateway::http_upstream(fixture_url));
            let server = HttpServer::start_mcpgate(&s.launch, dir, &config).await;
            with_server(s, server, style).await
        }
        Kind::StdioGatewayHttp(sharing) => {
            let upstream = gateway::stdio_upstream(&s.launch, Some(sharing))?;
            let config = gateway::config(dir, &upstream);
            let server = HttpServer::start_mcpgate(&s.launch, dir, &config).await;
            with_server(s, server, Style::Legacy).await
        }
        Kind::McpProxy => {
            let server = peers::start_mcp_proxy(&s.peers, &s.launch, dir).await;
            with_server(s, server, Style::Legacy).await
        }
        Kind::Supergateway => {
            let server = peers::start_supergateway(&s.peers, &s.launch, dir).await;
            with_server(s, server, Style::Legacy).await
        }
        Kind::StdioDirect => {
            let exe = std::env::current_exe()?;
            let stderr = dir.join("upstream-stderr.log");
            let command = || {
                let mut cmd = Command::new(&exe);
                cmd.arg("stdio-upstream").stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&stderr)?,
                );
                anyhow::Ok(cmd)
            };
            let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
            with_stdio(s, &command, false, &log).await
        }
        Kind::StdioGatewayStdio => {
            let cfg = dir.join("mcpgate.toml");
            std::fs::write(
                &cfg,
                gateway::config(dir, &gateway::stdio_upstream(&s.launch, None)?),
            )?;
            let cfg_arg = cfg.display().to_string();
            let stderr = dir.join("gateway-stderr.log");
            let command = || {
                let mut cmd = s.launch.command(&["stdio", "--config", &cfg_arg]);
                cmd.stderr(
                    std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(&stderr)?,
                );
                anyhow::Ok(cmd)
            };
            let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
            with_stdio(s, &command, true, &log).await
        }
    }
}

/// Adds what a proxy wrote on stderr to an error, when it wrote anything.
fn with_log(e: anyhow::Error, name: &str, log: &str) -> anyhow::Error {
    let log = log.trim();
    if log.is_empty() {
        e
    } else {
        anyhow::anyhow!("{e:#}; {name} stderr: {log}")
    }
}

/// Starts `mcpgate-bench http-upstream` (on the client's core when pinning); returns the
/// child and its URL.
async fn http_fixture(s: &Settings) -> anyhow::Result<(tokio::process::Child, String)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("http-upstream");
    if let Some(cpu) = s.launch.upstream_cpu {
        cmd.arg("--cpu").arg(cpu.to_string());
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .context("cannot start the HTTP fixture")?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    tokio::time::timeout(
        Duration::from_secs(10),
        tokio::io::AsyncBufReadExt::read_line(&mut reader, &mut line),
    )
    .await
    .context("the HTTP fixture did not start within 10 s")??;
    let url = line.trim().to_owned();
    if !url.starts_with("http://") {
        bail!("the HTTP fixture did not print its URL");
    }
    Ok((child, url))
}

fn fixture_addr(url: &str) -> anyhow::Result<std::net::SocketAddr> {
    let rest = url
        .strip_prefix("http://")
        .context("fixture url is not http")?;
    let host = rest.split('/').next().unwrap_or_default();
    Ok(host.parse()?)
}

/// Runs every selected row and returns the markdown report and whether every path answered
/// correctly.
pub(crate) async fn run(s: &Settings, header: String) -> anyhow::Result<(String, bool)> {
    let (mut fixture, fixture_url) = http_fixture(s).await?;
    let tmp = tempfile::Builder::new()
        .prefix("mcpgate-bench-")
        .tempdir()?;
    let mut results: Vec<(&Row, Result<Measured, String>)> = Vec::new();
    for row in ROWS.iter().filter(|r| s.rows.contains(&r.key)) {
        eprintln!("mcpgate-bench: {} ({})", row.key, row.client);
        let started = Instant::now();
        let dir = tmp.path().join(row.key);
        let outcome =
            tokio::time::timeout(s.row_budget(), run_row(row, s, &fixture_url, &dir)).await;
        let outcome = match outcome {
            Ok(Ok(m)) => Ok(m),
            Ok(Err(e)) => Err(format!("{e:#}")),
            Err(_) => Err(format!("did not finish within {:?}", s.row_budget())),
        };
        match &outcome {
            Ok(m) => eprintln!(
                "  p50 {:.0} µs, {:.0} calls/s @16, {:.0} calls/s @64, set-up {:.2} ms ({:.1} s)",
                m.latency.p50,
                m.rates.first().copied().unwrap_or(f64::NAN),
                m.rates.get(1).copied().unwrap_or(f64::NAN),
                m.setup.map_or(f64::NAN, |(ms, _)| ms),
                started.elapsed().as_secs_f64()
            ),
            Err(e) => eprintln!("  FAILED: {e}"),
        }
        results.push((row, outcome));
    }
    let _ = fixture.kill().await;
    if results.is_empty() {
        bail!("no row selected (rows: {})", row_keys().join(", "));
    }
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let mut report = table(&header, &results, s);
    report.push_str(&ratios(&results));
    Ok((report, ok))
}

fn table(header: &str, results: &[(&Row, Result<Measured, String>)], s: &Settings) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push('\n');
    out.push_str(
        "| Path | Client | p50 µs | p90 µs | p99 µs | calls/s @16 | calls/s @64 | added p50 µs | ÷ direct calls/s @16 · @64 | proxy CPU-s / 1k calls (in flight · sequential) | one-core ceiling calls/s | other load on proxy core | proxy peak RSS MiB | session set-up ms (median) |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    let find = |key: &str| find(results, key);
    for (row, m) in results {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                let e = e.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(
                    out,
                    "| {} | {} | FAILED: {e} | | | | | | | | | | | |",
                    row.path, row.client
                );
                continue;
            }
        };
        let rate = |i: usize| m.rates.get(i).map_or_else(|| "-".into(), |r| thousands(*r));
        let (added, ratio) = match row.base.and_then(find) {
            Some(b) => {
                let added = format!(
                    "{:+.0} (vs {})",
                    m.latency.p50 - b.latency.p50,
                    base_name(row)
                );
                let ratios: Vec<String> = m
                    .rates
                    .iter()
                    .zip(&b.rates)
                    .map(|(g, d)| format!("{:.2}", g / d))
                    .collect();
                (added, ratios.join(" · "))
            }
            None if row.base.is_some() => ("n/a".into(), "n/a".into()),
            None => ("—".into(), "—".into()),
        };
        let cpu = match (m.cpu_per_1k, m.cpu_seq_per_1k) {
            (Some(c), Some(q)) => format!("{c:.3} · {q:.3}"),
            (Some(c), None) => format!("{c:.3}"),
            _ => "—".into(),
        };
        let ceiling = m
            .cpu_per_1k
            .filter(|c| *c > 0.0)
            .map_or_else(|| "—".into(), |c| thousands(1000.0 / c));
        let wait = m
            .others
            .map_or_else(|| "—".into(), |w| format!("{:.0} %", w * 100.0));
        let rss = m.rss_mib.map_or_else(|| "—".into(), |r| format!("{r:.1}"));
        let setup = match m.setup {
            Some((ms, n)) if n < s.sessions => format!("{ms:.2} (n={n})"),
            Some((ms, _)) => format!("{ms:.2}"),
            None => "—".into(),
        };
        let p50 = if m.latency.n < s.calls {
            format!("{:.0} (n={})", m.latency.p50, m.latency.n)
        } else {
            format!("{:.0}", m.latency.p50)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {p50} | {:.0} | {:.0} | {} | {} | {added} | {ratio} | {cpu} | {ceiling} | {wait} | {rss} | {setup} |",
            row.path,
            row.client,
            m.latency.p90,
            m.latency.p99,
            rate(0),
            rate(1),
        );
    }
    out
}

fn find<'a>(results: &'a [(&Row, Result<Measured, String>)], key: &str) -> Option<&'a Measured> {
    results
        .iter()
        .find(|(r, _)| r.key == key)
        .and_then(|(_, m)| m.as_ref().ok())
}

/// The ratios table: each proxy row over its direct row, then each peer over the mcpgate row
/// it is compared with; and, for the peers, how many times mcpgate's throughput theirs is.
fn ratios(results: &[(&Row, Result<Measured, String>)]) -> String {
    let mut pairs = Vec::new();
    for (row, _) in results {
        if let Some(base) = row.base.filter(|_| !row.is_peer()) {
            pairs.push((row.key, base));
        }
    }
    for (row, _) in results {
        if let Some(versus) = row.versus {
            pairs.push((row.key, versus));
        }
    }
    let pairs: Vec<_> = pairs
        .into_iter()
        .filter_map(|(a, b)| Some((a, b, find(results, a)?, find(results, b)?)))
        .collect();
    if pairs.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "\n| Ratio (rows by key) | p50 | p99 | calls/s @16 | calls/s @64 | CPU-s / 1k calls | peak RSS | session set-up |\n|---|--:|--:|--:|--:|--:|--:|--:|\n",
    );
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => format!("{:.2}", a / b),
        _ => "—".into(),
    };
    let mut advantage = Vec::new();
    for (a, b, ma, mb) in &pairs {
        let rate = |m: &Measured, i: usize| m.rates.get(i).copied();
        let _ = writeln!(
            out,
            "| {a} ÷ {b} | {} | {} | {} | {} | {} | {} | {} |",
            ratio(Some(ma.latency.p50), Some(mb.latency.p50)),
            ratio(Some(ma.latency.p99), Some(mb.latency.p99)),
            ratio(rate(ma, 0), rate(mb, 0)),
            ratio(rate(ma, 1), rate(mb, 1)),
            ratio(ma.cpu_per_1k, mb.cpu_per_1k),
            ratio(ma.rss_mib, mb.rss_mib),
            ratio(ma.setup.map(|x| x.0), mb.setup.map(|x| x.0)),
        );
        if results
            .iter()
            .any(|(r, _)| r.key == *a && r.versus == Some(*b))
        {
            advantage.push(format!(
                "- {b} completes {} (@16) and {} (@64) times the calls per second of {a}.",
                ratio(rate(mb, 0), rate(ma, 0)),
                ratio(rate(mb, 1), rate(ma, 1)),
            ));
        }
    }
    if !advantage.is_empty() {
        out.push('\n');
        for line in advantage {
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}

fn base_name(row: &Row) -> &'static str {
    match row.base {
        Some("stdio-direct") => "stdio direct",
        _ => "HTTP direct",
    }
}

fn thousands(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a rate, rounded for display"
    )]
    let n = v.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(rows: &[&Row]) -> Vec<&'static str> {
        rows.iter().map(|r| r.key).collect()
    }

    #[test]
    fn peer_rows_run_only_when_asked_for() {
        let default = keys(&select(&[], false).unwrap());
        assert_eq!(default.len(), 8);
        assert!(!default.contains(&"stdio-mcp-proxy"));
        assert!(!default.contains(&"stdio-supergateway"));
        let all = keys(&select(&[], true).unwrap());
        assert_eq!(all, row_keys());
        let only = keys(&select(&["stdio-supergateway".into()], false).unwrap());
        assert_eq!(only, ["stdio-supergateway"]);
        let err = select(&["nope".into()], true).unwrap_err().to_string();
        assert!(err.starts_with("unknown row `nope`"), "{err}");
        for row in &ROWS {
            if let Some(versus) = row.versus {
                assert!(row_keys().contains(&versus));
                assert!(!select(&[versus.into()], false).unwrap()[0].is_peer());
            }
        }
    }

    fn fake(p50: f64, rate: f64, cpu: Option<f64>) -> Measured {
        Measured {
            latency: Latency {
                p50,
                p90: p50,
                p99: p50 * 2.0,
                n: 10,
            },
            rates: vec![rate, rate * 2.0],
            cpu_per_1k: cpu,
            cpu_seq_per_1k: cpu,
            others: None,
            rss_mib: cpu.map(|_| 10.0),
            setup: Some((1.0, 5)),
        }
    }

    #[test]
    fn ratios_divide_proxy_by_direct_and_peer_by_mcpgate() {
        let row = |key: &str| ROWS.iter().find(|r| r.key == key).unwrap();
        let results = vec![
            (row("stdio-direct"), Ok(fake(20.0, 50_000.0, None))),
            (
                row("stdio-gateway-http"),
                Ok(fake(200.0, 10_000.0, Some(0.05))),
            ),
            (row("stdio-mcp-proxy"), Ok(fake(1000.0, 800.0, Some(1.0)))),
            (row("stdio-supergateway"), Err("did not start".into())),
        ];
        let text = ratios(&results);
        assert!(
            text.contains(
                "| stdio-gateway-http ÷ stdio-direct | 10.00 | 10.00 | 0.20 | 0.20 | — | — | 1.00 |"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "| stdio-mcp-proxy ÷ stdio-gateway-http | 5.00 | 5.00 | 0.08 | 0.08 | 20.00 | 1.00 | 1.00 |"
            ),
            "{text}"
        );
        assert!(text.contains(
            "- stdio-gateway-http completes 12.50 (@16) and 12.50 (@64) times the calls per second of stdio-mcp-proxy."
        ));
        // A failed row (or a missing one) gives no ratio.
        assert!(!text.contains("stdio-supergateway ÷"));
        assert!(!text.contains("stdio-mcp-proxy ÷ stdio-direct"));
    }
}
