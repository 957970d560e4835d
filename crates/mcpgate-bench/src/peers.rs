//! The bridges mcpgate is compared with (`--peers`): PyPI `mcp-proxy` and npm
//! `supergateway`, each turning the stdio fixture into a Streamable HTTP server, and the
//! private network namespace a bridge that cannot bind loopback only is run in.
//!
//! `scripts/bench-deps.sh` installs them (exact pins) into the cache directory and exports
//! `MCPGATE_BENCH_MCP_PROXY`, `MCPGATE_BENCH_SUPERGATEWAY` and `MCPGATE_BENCH_NODE`.

use std::ffi::OsString;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, bail};
use serde_json::Value;

use crate::gateway::{HttpServer, Launch, Scheduling, free_loopback_addr, own_scheduling};

/// Where the bridges are.
#[derive(Debug, Clone)]
pub(crate) struct Peers {
    /// The `mcp-proxy` console script of the virtualenv it is installed in.
    pub(crate) mcp_proxy: PathBuf,
    /// supergateway's `dist/index.js`.
    pub(crate) supergateway: PathBuf,
    /// The Node.js that runs supergateway.
    pub(crate) node: PathBuf,
}

/// The cache directory `scripts/bench-deps.sh` installs into.
pub(crate) fn cache_dir() -> PathBuf {
    std::env::var_os("MCPGATE_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("mcpgate"))
        })
        .unwrap_or_else(|| PathBuf::from(".cache/mcpgate"))
}

impl Peers {
    fn mcp_proxy_ready(&self) -> anyhow::Result<()> {
        if !self.mcp_proxy.is_file() {
            bail!(
                "no mcp-proxy at `{}`: run scripts/bench-deps.sh (or ./scripts/bench --peers), or pass --mcp-proxy",
                self.mcp_proxy.display()
            );
        }
        Ok(())
    }

    fn supergateway_ready(&self) -> anyhow::Result<()> {
        if !self.supergateway.is_file() {
            bail!(
                "no supergateway at `{}`: run scripts/bench-deps.sh (or ./scripts/bench --peers), or pass --supergateway",
                self.supergateway.display()
            );
        }
        Ok(())
    }

    /// One line naming the versions of the selected bridges and their runtimes.
    pub(crate) fn describe(&self, mcp_proxy: bool, supergateway: bool) -> String {
        let mut parts = Vec::new();
        if mcp_proxy {
            let version = output(&self.mcp_proxy, &["--version"]).unwrap_or_else(|| "?".into());
            let python = self.mcp_proxy.with_file_name("python");
            let runtime = output(
                &python,
                &[
                    "-c",
                    "import sys, importlib.metadata as m; \
                     print('Python %d.%d.%d' % sys.version_info[:3] + ', mcp ' + m.version('mcp'))",
                ],
            )
            .unwrap_or_else(|| "Python ?".into());
            parts.push(format!("PyPI {version} ({runtime})"));
        }
        if supergateway {
            let root = self.supergateway.parent().and_then(Path::parent);
            let version = root.and_then(|r| package_version(&r.join("package.json")));
            // The SDK under supergateway's own node_modules, else hoisted next to it.
            let sdk = root.and_then(|r| {
                let nested = r.join("node_modules/@modelcontextprotocol/sdk/package.json");
                let hoisted = r
                    .parent()
                    .map(|m| m.join("@modelcontextprotocol/sdk/package.json"));
                package_version(&nested).or_else(|| hoisted.and_then(|h| package_version(&h)))
            });
            let node = output(&self.node, &["--version"]).unwrap_or_else(|| "?".into());
            parts.push(format!(
                "npm supergateway {} (Node {node}, @modelcontextprotocol/sdk {})",
                version.as_deref().unwrap_or("?"),
                sdk.as_deref().unwrap_or("?")
            ));
        }
        parts.join("; ")
    }
}

fn output(program: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn package_version(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let v: Value = serde_json::from_str(&text).ok()?;
    v.get("version").and_then(Value::as_str).map(str::to_owned)
}

/// The stdio fixture's command line, as the bridges start it (pinned to the client's core).
fn fixture_argv(launch: &Launch) -> anyhow::Result<Vec<String>> {
    let exe = std::env::current_exe().context("cannot locate the bench binary")?;
    let mut argv = vec![exe.display().to_string(), "stdio-upstream".into()];
    if let Some(cpu) = launch.upstream_cpu {
        argv.push("--cpu".into());
        argv.push(cpu.to_string());
    }
    Ok(argv)
}

/// A word for `sh -c`.
fn shell_quote(word: &str) -> String {
    if !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        return word.to_owned();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// `mcp-proxy` (stdio → Streamable HTTP, stateful) on a free loopback port, bound to
/// 127.0.0.1, in front of the stdio fixture; ready when `GET /status` answers. It starts the
/// fixture once and serves every HTTP session from it.
pub(crate) async fn start_mcp_proxy(
    peers: &Peers,
    launch: &Launch,
    dir: &Path,
) -> anyhow::Result<HttpServer> {
    peers.mcp_proxy_ready()?;
    let addr = free_loopback_addr()?;
    let mut cmd = launch.pinned(&peers.mcp_proxy);
    cmd.args(["--host", "127.0.0.1", "--port"])
        .arg(addr.port().to_string())
        .args(["--log-level", "WARNING", "--"])
        .args(fixture_argv(launch)?);
    HttpServer::spawn(
        "mcp-proxy",
        cmd,
        addr,
        &dir.join("mcp-proxy-stderr.log"),
        "/status",
    )
    .await
}

/// `supergateway --stdio … --outputTransport streamableHttp --stateful` on a free port; ready
/// when `GET /healthz` answers. It listens on every interface (it has no host option), so
/// the caller must be in a private network namespace ([`ensure_private_net`]). It starts one
/// fixture (through `sh -c`) per HTTP session.
pub(crate) async fn start_supergateway(
    peers: &Peers,
    launch: &Launch,
    dir: &Path,
) -> anyhow::Result<HttpServer> {
    peers.supergateway_ready()?;
    if launch.pin.is_some() && own_scheduling().is_some_and(Scheduling::real_time) {
        bail!(
            "supergateway (Node.js) cannot run pinned to one core under a real-time policy: \
             its main thread spin-waits for V8's helper threads, which a same-priority \
             SCHED_FIFO thread on that core never lets run; run the harness at normal policy \
             (scripts/bench --priority uses nice -20 instead)"
        );
    }
    if !only_loopback() {
        bail!(
            "supergateway listens on every interface: run it only in a private network namespace"
        );
    }
    let addr = free_loopback_addr()?;
    let stdio = fixture_argv(launch)?
        .iter()
        .map(|w| shell_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = launch.pinned(&peers.node);
    cmd.arg(&peers.supergateway)
        .arg("--stdio")
        .arg(stdio)
        .args([
            "--outputTransport",
            "streamableHttp",
            "--stateful",
            "--port",
        ])
        .arg(addr.port().to_string())
        .args(["--logLevel", "none", "--healthEndpoint", "/healthz"]);
    HttpServer::spawn(
        "supergateway",
        cmd,
        addr,
        &dir.join("supergateway-stderr.log"),
        "/healthz",
    )
    .await
}

/// Set in the environment of the harness re-executed inside its own network namespace.
const NETNS_MARK: &str = "MCPGATE_BENCH_PRIVATE_NET";

/// The network interfaces of this process's namespace, from `/proc/self/net/dev` (`/sys` may
/// still show the parent namespace's).
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/self/net/dev")
        .map(|t| {
            t.lines()
                .skip(2)
                .filter_map(|l| l.split(':').next())
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// True when the only network interface is `lo`.
pub(crate) fn only_loopback() -> bool {
    let names = interfaces();
    !names.is_empty() && names.iter().all(|n| n == "lo")
}

/// Makes sure this process runs in a network namespace whose only interface is `lo`, up.
///
/// Outside one, re-executes the harness (same pid, same arguments, same scheduling and
/// affinity) under `unshare -rn`, a new user and network namespace; the re-executed harness
/// brings `lo` up with `ip link set dev lo up`. Every row of the run, and every process it
/// starts, is then in that namespace: nothing can be reached from outside it.
pub(crate) fn ensure_private_net() -> anyhow::Result<()> {
    if std::env::var_os(NETNS_MARK).is_some() {
        let status = std::process::Command::new("ip")
            .args(["link", "set", "dev", "lo", "up"])
            .status()
            .context(
                "cannot run `ip` (iproute2) to bring up lo in the private network namespace",
            )?;
        if !status.success() {
            bail!("`ip link set dev lo up` failed in the private network namespace ({status})");
        }
        if !only_loopback() {
            bail!("the private network namespace has interfaces besides lo");
        }
        return Ok(());
    }
    if only_loopback() {
        return Ok(());
    }
    let works = std::process::Command::new("unshare")
        .args(["-rn", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !works {
        bail!(
            "supergateway listens on every interface, so it runs only in a private network \
             namespace, and `unshare -rn` (util-linux, user namespaces) does not work here; \
             leave stdio-supergateway out with --only"
        );
    }
    let exe = std::env::current_exe().context("cannot locate the bench binary")?;
    eprintln!(
        "mcpgate-bench: supergateway cannot bind loopback only: re-running the whole harness in a private network namespace (unshare -rn, lo only)"
    );
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let err = std::process::Command::new("unshare")
        .args(["-rn", "--"])
        .arg(exe)
        .args(args)
        .env(NETNS_MARK, "1")
        .exec();
    Err(anyhow::Error::new(err).context("cannot re-run the harness under `unshare -rn`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(shell_quote("/a/b-c_d.e"), "/a/b-c_d.e");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn the_cache_directory_follows_mcpgate_cache() {
        // Only reads the environment; the harness never changes it.
        let expected = std::env::var_os("MCPGATE_CACHE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        if let Some(expected) = expected {
            assert_eq!(cache_dir(), expected);
        } else {
            assert!(cache_dir().ends_with(".cache/mcpgate"));
        }
    }
}
