//! Running the real `mcpgate` binary for the gateway rows, optionally pinned to one core, and
//! reading its CPU time and peak memory from `/proc`.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::process::{Child, Command};

use crate::client::{HttpTarget, Style};

/// How the gateway is started.
#[derive(Debug, Clone)]
pub(crate) struct Launch {
    /// The `mcpgate` binary.
    pub(crate) bin: PathBuf,
    /// The core to pin the gateway to, with `taskset`.
    pub(crate) pin: Option<usize>,
    /// The core the stdio fixture pins itself to when the gateway starts it.
    pub(crate) upstream_cpu: Option<usize>,
}

impl Launch {
    /// A command for `mcpgate args…`, under `taskset -c CORE` when pinning.
    pub(crate) fn command(&self, args: &[&str]) -> Command {
        let mut cmd = match self.pin {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        cmd.args(args).env("MCPGATE_LOG", "warn");
        cmd
    }
}

/// A TOML string literal.
fn toml_str(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// The gateway configuration: audit to a file in `dir`, logs at warn, one upstream `bench`.
pub(crate) fn config(dir: &Path, upstream: &str) -> String {
    format!(
        "[server]\nrequest_timeout = \"10s\"\nshutdown_grace = \"2s\"\n\n\
         [audit]\nsink = \"file\"\npath = {}\n\n\
         [log]\nlevel = \"warn\"\n\n{upstream}",
        toml_str(&dir.join("audit.jsonl").display().to_string())
    )
}

/// `[upstreams.bench]` for the HTTP fixture.
pub(crate) fn http_upstream(url: &str) -> String {
    format!(
        "[upstreams.bench]\ntransport = \"http\"\nurl = {}\n",
        toml_str(url)
    )
}

/// `[upstreams.bench]` for the stdio fixture (this very binary, `stdio-upstream`).
pub(crate) fn stdio_upstream(launch: &Launch, sharing: Option<&str>) -> anyhow::Result<String> {
    let exe = std::env::current_exe().context("cannot locate the bench binary")?;
    let mut args = vec![toml_str("stdio-upstream")];
    if let Some(cpu) = launch.upstream_cpu {
        args.push(toml_str("--cpu"));
        args.push(toml_str(&cpu.to_string()));
    }
    let mut text = format!(
        "[upstreams.bench]\ntransport = \"stdio\"\ncommand = {}\nargs = [{}]\n",
        toml_str(&exe.display().to_string()),
        args.join(", ")
    );
    if let Some(sharing) = sharing {
        text.push_str(&format!("sharing = {}\n", toml_str(sharing)));
    }
    Ok(text)
}

/// `mcpgate run` on a free loopback port.
pub(crate) struct HttpGateway {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    stderr: PathBuf,
}

impl HttpGateway {
    /// Starts the gateway with `config` and waits (bounded) until `/healthz` answers.
    pub(crate) async fn start(launch: &Launch, dir: &Path, config: &str) -> anyhow::Result<Self> {
        let cfg = dir.join("mcpgate.toml");
        std::fs::write(&cfg, config)?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
        let stderr = dir.join("gateway-stderr.log");
        let cfg_arg = cfg.display().to_string();
        let addr_arg = addr.to_string();
        let child = launch
            .command(&["run", "--config", &cfg_arg, "--listen", &addr_arg])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr)?)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start mcpgate")?;
        let mut gw = Self {
            child,
            addr,
            stderr,
        };
        gw.wait_ready().await?;
        Ok(gw)
    }

    async fn wait_ready(&mut self) -> anyhow::Result<()> {
        // The modern style opens no session: nothing is sent until `get_ok`.
        let target = HttpTarget::open(self.addr, "/healthz", Style::Modern).await?;
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "mcpgate exited early ({status}); stderr: {}",
                    self.stderr_text().trim()
                );
            }
            if let Ok(mut conn) = target.connect().await
                && conn.get_ok("/healthz").await.unwrap_or(false)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "mcpgate did not become ready within 10 s; stderr: {}",
            self.stderr_text().trim()
        )
    }

    /// The gateway's pid.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What it wrote on stderr.
    pub(crate) fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then a bounded wait, then SIGKILL.
    pub(crate) async fn stop(mut self) {
        if let Some(pid) = self.child.id().and_then(|p| i32::try_from(p).ok()) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        if tokio::time::timeout(Duration::from_secs(15), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// CPU time of a process so far, in seconds: the sum of its threads' time on a CPU from
/// `/proc/<pid>/task/*/schedstat` (nanoseconds), else user + system time from
/// `/proc/<pid>/stat` (clock ticks).
pub(crate) fn cpu_seconds(pid: u32) -> Option<f64> {
    schedstat_seconds(pid).or_else(|| stat_seconds(pid))
}

fn schedstat_seconds(pid: u32) -> Option<f64> {
    let mut ns: u64 = 0;
    let mut seen = false;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))
        .ok()?
        .flatten()
    {
        let Ok(text) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        if let Some(run) = text
            .split_whitespace()
            .next()
            .and_then(|f| f.parse::<u64>().ok())
        {
            ns += run;
            seen = true;
        }
    }
    #[expect(
        clippy::cast_precision_loss,
        reason = "nanosecond counts of a short run"
    )]
    let secs = ns as f64 / 1e9;
    seen.then_some(secs)
}

fn stat_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')' the first field is field 3 (state); utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    #[expect(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    let secs = (utime + stime) as f64 / clock_ticks() as f64;
    Some(secs)
}

fn clock_ticks() -> i64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100)
}

/// Peak resident set size (`VmHWM`) of a process, in KiB.
pub(crate) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Busy time of one core so far (everything but idle and I/O wait, steal included), in
/// seconds, from `/proc/stat`.
pub(crate) fn core_busy_seconds(core: usize) -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let name = format!("cpu{core}");
    let line = stat
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name.as_str()))?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: u64 = fields
        .iter()
        .enumerate()
        .filter(|(i, _)| !matches!(i, 3 | 4) && *i < 8)
        .map(|(_, v)| v)
        .sum();
    #[expect(clippy::cast_precision_loss, reason = "tick counts are far below 2^52")]
    let secs = busy as f64 / clock_ticks() as f64;
    Some(secs)
}
