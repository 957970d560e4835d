//! The measured paths, the measurements, and the markdown table.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use tokio::process::Command;

use crate::client::{CALL_TIMEOUT, HttpConn, HttpTarget, StdioClient, Style, next_id};
use crate::gateway::{self, HttpGateway, Launch};

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
    /// How the gateway is started.
    pub(crate) launch: Launch,
    /// Row keys to run (all when empty).
    pub(crate) only: Vec<String>,
}

impl Settings {
    /// The unmeasured warm-up before each throughput phase.
    pub(crate) fn warm(&self) -> Duration {
        (self.duration / 6).max(Duration::from_millis(100))
    }

    /// An upper bound for one row, so that a hung path cannot stall the run.
    fn row_budget(&self) -> Duration {
        let phases = u32::try_from(LEVELS.len()).unwrap_or(2);
        Duration::from_secs(60) + (self.duration + self.warm()) * phases * 2
    }
}

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
    /// Share of the gateway's core used by other processes (pinned runs only).
    others: Option<f64>,
    rss_mib: Option<f64>,
}

async fn measure(ep: &Endpoint, s: &Settings, gw_pid: Option<u32>) -> anyhow::Result<Measured> {
    let seq0 = gw_pid.and_then(gateway::cpu_seconds);
    let (latency, seq_calls) = sequential(ep, s).await?;
    let cpu0 = gw_pid.and_then(gateway::cpu_seconds);
    #[expect(clippy::cast_precision_loss, reason = "call counts are far below 2^52")]
    let cpu_seq_per_1k = match (seq0, cpu0) {
        (Some(a), Some(b)) if seq_calls > 0 => Some((b - a) / seq_calls as f64 * 1000.0),
        _ => None,
    };
    let gw_core = s.launch.pin.filter(|_| gw_pid.is_some());
    let busy0 = gw_core.and_then(gateway::core_busy_seconds);
    let window = Instant::now();
    let mut rates = Vec::new();
    let mut calls = 0;
    for level in LEVELS {
        let (rate, n) = throughput(ep, level, s).await?;
        rates.push(rate);
        calls += n;
    }
    let cpu1 = gw_pid.and_then(gateway::cpu_seconds);
    let busy1 = gw_core.and_then(gateway::core_busy_seconds);
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
    #[expect(clippy::cast_precision_loss, reason = "KiB counts are far below 2^52")]
    let rss_mib = gw_pid
        .and_then(gateway::peak_rss_kib)
        .map(|k| k as f64 / 1024.0);
    Ok(Measured {
        latency,
        rates,
        cpu_per_1k,
        cpu_seq_per_1k,
        others,
        rss_mib,
    })
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    HttpDirect(Style),
    HttpGateway(Style),
    StdioDirect,
    StdioGatewayHttp,
    StdioGatewayStdio,
}

struct Row {
    key: &'static str,
    path: &'static str,
    client: &'static str,
    kind: Kind,
    base: Option<&'static str>,
}

const ROWS: [Row; 7] = [
    Row {
        key: "http-direct",
        path: "HTTP direct",
        client: "HTTP legacy session",
        kind: Kind::HttpDirect(Style::Legacy),
        base: None,
    },
    Row {
        key: "http-gateway",
        path: "HTTP via gateway",
        client: "HTTP legacy session",
        kind: Kind::HttpGateway(Style::Legacy),
        base: Some("http-direct"),
    },
    Row {
        key: "http-modern-direct",
        path: "HTTP direct",
        client: "HTTP 2026-07-28 stateless",
        kind: Kind::HttpDirect(Style::Modern),
        base: None,
    },
    Row {
        key: "http-modern-gateway",
        path: "HTTP via gateway",
        client: "HTTP 2026-07-28 stateless",
        kind: Kind::HttpGateway(Style::Modern),
        base: Some("http-modern-direct"),
    },
    Row {
        key: "stdio-direct",
        path: "stdio direct",
        client: "stdio legacy session",
        kind: Kind::StdioDirect,
        base: None,
    },
    Row {
        key: "stdio-gateway-http",
        path: "stdio upstream via gateway HTTP front (shared)",
        client: "HTTP legacy session",
        kind: Kind::StdioGatewayHttp,
        base: Some("stdio-direct"),
    },
    Row {
        key: "stdio-gateway-stdio",
        path: "stdio → gateway stdio front → stdio upstream",
        client: "stdio legacy session",
        kind: Kind::StdioGatewayStdio,
        base: Some("stdio-direct"),
    },
];

/// The keys of every row, for `--only`.
pub(crate) fn row_keys() -> Vec<&'static str> {
    ROWS.iter().map(|r| r.key).collect()
}

async fn with_http_gateway(
    s: &Settings,
    dir: &Path,
    upstream: &str,
    style: Style,
) -> anyhow::Result<Measured> {
    let gw = HttpGateway::start(&s.launch, dir, &gateway::config(dir, upstream)).await?;
    eprintln!("  gateway pid {}", gw.pid().unwrap_or(0));
    let result = async {
        let ep = Endpoint::Http(HttpTarget::open(gw.addr, "/mcp", style).await?);
        measure(&ep, s, gw.pid()).await
    }
    .await;
    let result = result.map_err(|e| with_log(e, &gw.stderr_text()));
    gw.stop().await;
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
            measure(&ep, s, None).await
        }
        Kind::HttpGateway(style) => {
            with_http_gateway(s, dir, &gateway::http_upstream(fixture_url), style).await
        }
        Kind::StdioGatewayHttp => {
            let upstream = gateway::stdio_upstream(&s.launch, Some("shared"))?;
            with_http_gateway(s, dir, &upstream, Style::Legacy).await
        }
        Kind::StdioDirect => {
            let mut cmd = Command::new(std::env::current_exe()?);
            cmd.arg("stdio-upstream")
                .stderr(std::fs::File::create(dir.join("upstream-stderr.log"))?);
            let client = Arc::new(StdioClient::start(cmd).await?);
            let result = measure(&Endpoint::Stdio(Arc::clone(&client)), s, None).await;
            if let Ok(client) = Arc::try_unwrap(client) {
                client.stop().await;
            }
            result
        }
        Kind::StdioGatewayStdio => {
            let cfg = dir.join("mcpgate.toml");
            std::fs::write(
                &cfg,
                gateway::config(dir, &gateway::stdio_upstream(&s.launch, None)?),
            )?;
            let cfg_arg = cfg.display().to_string();
            let stderr = dir.join("gateway-stderr.log");
            let mut cmd = s.launch.command(&["stdio", "--config", &cfg_arg]);
            cmd.stderr(std::fs::File::create(&stderr)?);
            let log = || std::fs::read_to_string(&stderr).unwrap_or_default();
            let client = Arc::new(
                StdioClient::start(cmd)
                    .await
                    .map_err(|e| with_log(e, &log()))?,
            );
            let pid = client.pid();
            eprintln!("  gateway pid {}", pid.unwrap_or(0));
            let result = measure(&Endpoint::Stdio(Arc::clone(&client)), s, pid)
                .await
                .map_err(|e| with_log(e, &log()));
            if let Ok(client) = Arc::try_unwrap(client) {
                client.stop().await;
            }
            result
        }
    }
}

/// Adds what the gateway wrote on stderr to an error, when it wrote anything.
fn with_log(e: anyhow::Error, log: &str) -> anyhow::Error {
    let log = log.trim();
    if log.is_empty() {
        e
    } else {
        anyhow::anyhow!("{e:#}; gateway stderr: {log}")
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
    for row in &ROWS {
        if !s.only.is_empty() && !s.only.iter().any(|k| k == row.key) {
            continue;
        }
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
                "  p50 {:.0} µs, {:.0} calls/s @16, {:.0} calls/s @64 ({:.1} s)",
                m.latency.p50,
                m.rates.first().copied().unwrap_or(f64::NAN),
                m.rates.get(1).copied().unwrap_or(f64::NAN),
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
    Ok((table(&header, &results), ok))
}

fn table(header: &str, results: &[(&Row, Result<Measured, String>)]) -> String {
    let mut out = String::new();
    out.push_str(header);
    out.push('\n');
    out.push_str(
        "| Path | Client | p50 µs | p90 µs | p99 µs | calls/s @16 | calls/s @64 | added p50 µs | gw/direct calls/s @16 · @64 | gw CPU-s / 1k calls (in flight · sequential) | one-core ceiling calls/s | other load on gw core | gw peak RSS MiB |\n",
    );
    out.push_str("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    let find = |key: &str| {
        results
            .iter()
            .find(|(r, _)| r.key == key)
            .and_then(|(_, m)| m.as_ref().ok())
    };
    for (row, m) in results {
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                let e = e.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(
                    out,
                    "| {} | {} | FAILED: {e} | | | | | | | | | | |",
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
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.0} | {} | {} | {added} | {ratio} | {cpu} | {ceiling} | {wait} | {rss} |",
            row.path,
            row.client,
            m.latency.p50,
            m.latency.p90,
            m.latency.p99,
            rate(0),
            rate(1),
        );
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
