//! Running the real `mcpgate` binary (and the bridges it is compared with) for the proxy rows,
//! optionally pinned to one core, and reading the CPU time and peak memory of a process tree
//! from `/proc`.

use std::ffi::OsStr;
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
        let mut cmd = self.pinned(&self.bin);
        cmd.args(args).env("MCPGATE_LOG", "warn");
        cmd
    }

    /// A command for `program`, under `taskset -c CORE` when pinning (`taskset` executes the
    /// program in its own process, so the child's pid is the program's).
    pub(crate) fn pinned(&self, program: impl AsRef<OsStr>) -> Command {
        match self.pin {
            Some(core) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(core.to_string()).arg(program);
                c
            }
            None => Command::new(program),
        }
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the server binds it a moment later).
pub(crate) fn free_loopback_addr() -> anyhow::Result<SocketAddr> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    Ok(SocketAddr::from(([127, 0, 0, 1], port)))
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

/// An HTTP MCP server process the harness started: `mcpgate run` or a bridge.
pub(crate) struct HttpServer {
    child: Child,
    /// Where it listens.
    pub(crate) addr: SocketAddr,
    stderr: PathBuf,
    name: &'static str,
}

impl HttpServer {
    /// Starts `mcpgate run` with `config` on a free loopback port and waits (bounded) until
    /// `/healthz` answers.
    pub(crate) async fn start_mcpgate(
        launch: &Launch,
        dir: &Path,
        config: &str,
    ) -> anyhow::Result<Self> {
        let cfg = dir.join("mcpgate.toml");
        std::fs::write(&cfg, config)?;
        let addr = free_loopback_addr()?;
        let cfg_arg = cfg.display().to_string();
        let addr_arg = addr.to_string();
        let cmd = launch.command(&["run", "--config", &cfg_arg, "--listen", &addr_arg]);
        Self::spawn(
            "mcpgate",
            cmd,
            addr,
            &dir.join("gateway-stderr.log"),
            "/healthz",
        )
        .await
    }

    /// Starts `cmd`, which is to listen on `addr`, and waits (bounded) until `GET health`
    /// answers 200.
    pub(crate) async fn spawn(
        name: &'static str,
        mut cmd: Command,
        addr: SocketAddr,
        stderr: &Path,
        health: &str,
    ) -> anyhow::Result<Self> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(stderr)?)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {name}"))?;
        let mut server = Self {
            child,
            addr,
            stderr: stderr.to_owned(),
            name,
        };
        server.wait_ready(health).await?;
        Ok(server)
    }

    async fn wait_ready(&mut self, health: &str) -> anyhow::Result<()> {
        // The modern style opens no session: nothing is sent until `get_ok`.
        let target = HttpTarget::open(self.addr, health, Style::Modern).await?;
        // Interpreters under load can take a few seconds to start: up to 30 s.
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited early ({status}); stderr: {}",
                    self.name,
                    self.stderr_text().trim()
                );
            }
            if let Ok(mut conn) = target.connect().await
                && conn.get_ok(health).await.unwrap_or(false)
            {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        bail!(
            "{} did not become ready within 30 s; stderr: {}",
            self.name,
            self.stderr_text().trim()
        )
    }

    /// What it is (`mcpgate`, `mcp-proxy`, …).
    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    /// The server's pid.
    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// What it wrote on stderr.
    pub(crate) fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM, then a bounded wait, then SIGKILL; then SIGKILL to any process that was
    /// below it and outlived it.
    pub(crate) async fn stop(mut self) {
        let below = self.child.id().map(descendants).unwrap_or_default();
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
        kill_survivors(&below).await;
    }
}

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Proc {
    pid: u32,
    start: u64,
}

/// Fields of `/proc/<pid>/stat` after the command name: `[0]` is field 3 (state).
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces and parentheses: count fields after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

fn proc_of(pid: u32) -> Option<Proc> {
    let fields = stat_fields(pid)?;
    // Field 22, starttime.
    let start = fields.get(19)?.parse().ok()?;
    Some(Proc { pid, start })
}

/// Every live process below `root` (children, their children, …).
pub(crate) fn descendants(root: u32) -> Vec<Proc> {
    let mut parent_of = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            // Field 4, ppid.
            if let Some(ppid) =
                stat_fields(pid).and_then(|f| f.get(1).and_then(|p| p.parse::<u32>().ok()))
            {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    // Bounded: a pid is visited once, and there are finitely many.
    while let Some(parent) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == parent
                && !found.iter().any(|p: &Proc| p.pid == pid)
                && let Some(p) = proc_of(pid)
            {
                found.push(p);
                frontier.push(pid);
            }
        }
    }
    found
}

/// SIGKILL to each of `procs` still alive (the same process: same pid and start time), after
/// giving them up to 2 s to exit by themselves.
pub(crate) async fn kill_survivors(procs: &[Proc]) {
    let alive = |p: &Proc| proc_of(p.pid).is_some_and(|now| now == *p && !zombie(p.pid));
    for _ in 0..40 {
        if !procs.iter().any(alive) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for p in procs.iter().filter(|p| alive(p)) {
        if let Ok(pid) = i32::try_from(p.pid) {
            eprintln!("  killing leftover process {}", p.pid);
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn zombie(pid: u32) -> bool {
    stat_fields(pid).is_some_and(|f| f.first().is_some_and(|s| s == "Z"))
}

/// A proxy process and what of its tree counts as the proxy: every process below it except
/// the upstream fixture (this very binary), whose cost is the same on every path.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    /// The proxy's pid.
    pub(crate) pid: u32,
    fixture: Option<PathBuf>,
}

impl Tree {
    /// The tree rooted at `pid`, leaving out processes running this binary.
    pub(crate) fn new(pid: u32) -> Self {
        Self {
            pid,
            fixture: std::env::current_exe().ok(),
        }
    }

    fn members(&self) -> Vec<u32> {
        let mut pids = vec![self.pid];
        for p in descendants(self.pid) {
            let exe = std::fs::read_link(format!("/proc/{}/exe", p.pid)).ok();
            if exe.is_some() && exe == self.fixture {
                continue;
            }
            pids.push(p.pid);
        }
        pids
    }

    /// CPU seconds of the tree so far.
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        let mut total = cpu_seconds(self.pid)?;
        for pid in self.members().into_iter().skip(1) {
            total += cpu_seconds(pid).unwrap_or(0.0);
        }
        Some(total)
    }

    /// The sum of the peak resident set sizes of the tree's live processes, in KiB.
    pub(crate) fn peak_rss_kib(&self) -> Option<u64> {
        let mut total = peak_rss_kib(self.pid)?;
        for pid in self.members().into_iter().skip(1) {
            total += peak_rss_kib(pid).unwrap_or(0);
        }
        Some(total)
    }

    /// How many processes count as the proxy.
    pub(crate) fn size(&self) -> usize {
        self.members().len()
    }
}

/// CPU time of a process so far, in seconds: the sum of its threads' time on a CPU from
/// `/proc/<pid>/task/*/schedstat` (nanoseconds), else user + system time from
/// `/proc/<pid>/stat` (clock ticks).
fn cpu_seconds(pid: u32) -> Option<f64> {
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
    let fields = stat_fields(pid)?;
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
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// A scheduling policy and priority, from `/proc/self/stat`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scheduling {
    /// 0 `SCHED_OTHER`, 1 `SCHED_FIFO`, 2 `SCHED_RR`, …
    pub(crate) policy: u32,
    /// The real-time priority (0 for `SCHED_OTHER`).
    pub(crate) rt_priority: u32,
    /// The nice value.
    pub(crate) nice: i32,
}

impl Scheduling {
    /// `SCHED_FIFO` or `SCHED_RR`.
    pub(crate) fn real_time(self) -> bool {
        matches!(self.policy, 1 | 2)
    }
}

/// This process's scheduling (fields 19 nice, 40 rt_priority and 41 policy).
pub(crate) fn own_scheduling() -> Option<Scheduling> {
    let fields = stat_fields(std::process::id())?;
    Some(Scheduling {
        nice: fields.get(16)?.parse().ok()?,
        rt_priority: fields.get(37)?.parse().ok()?,
        policy: fields.get(38)?.parse().ok()?,
    })
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
