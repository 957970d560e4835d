//! The `mcpgate` command line: the gateway itself, its bundled demo server and its tools.
//!
//! This is the only crate that uses `anyhow`: errors from the libraries are printed with their
//! context (`{:#}`) and mapped to exit codes here — 0 success, 1 a check that failed (an invalid
//! configuration), 2 a usage or runtime error.

mod client;
mod demo_server;
mod mcps_cli;
mod mcps_setup;
mod policy_cli;
mod security;
mod trust_store;

/// mimalloc instead of the system allocator: the relay allocates many small, short-lived
/// buffers per message, and glibc's malloc showed up as a tenth of the gateway's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use mcpgate_config::{AuditSink, Config, LogFormat};
use mcpgate_pipeline::{AuditLog, Authorize, Pipeline, Validate};
use mcpgate_transport::Gateway;
use tracing_subscriber::EnvFilter;

/// A security gateway for the Model Context Protocol.
#[derive(Debug, Parser)]
#[command(name = "mcpgate", version, about, long_about = None)]
struct Cli {
    /// Log format on standard error.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormatArg {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway with a Streamable HTTP front (at /mcp).
    ///
    /// Without --config it runs the embedded default: the bundled demo server as its only
    /// upstream, in-memory state, listening on loopback.
    Run {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Address to listen on, overriding the configuration.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Run the gateway with a stdio front, for an IDE to launch in place of a server.
    Stdio {
        /// Configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The upstream to serve (default: the configuration's default upstream).
        #[arg(long)]
        upstream: Option<String>,
    },
    /// Run the bundled demo MCP server on stdio (tools echo, add, read_note, write_note, and
    /// the test aids slow, crash and ask_roots).
    DemoServer {
        /// Directory the note tools read and write; created when missing.
        #[arg(long, default_value = "notes")]
        notes_dir: PathBuf,
    },
    /// Check a configuration file and print what it sets up.
    CheckConfig {
        /// Configuration file (TOML).
        file: PathBuf,
    },
    /// Print the JSON Schema of the configuration file.
    ConfigSchema,
    /// Convert a Claude Desktop / Cursor / VS Code `mcpServers` JSON file into mcpgate TOML.
    ImportMcpServers {
        /// The JSON file.
        file: PathBuf,
    },
    /// Check and test Cedar authorization policies.
    Policy {
        #[command(subcommand)]
        command: policy_cli::PolicyCommand,
    },
    #[command(flatten)]
    Mcps(mcps_cli::McpsCommand),
    /// Run an agent through the gateway's stdio front with MCPS-signed messages: sign what it
    /// sends, verify the gateway's signed answers (without a command: this process's stdio).
    Client {
        /// Client configuration file (TOML).
        #[arg(long, short)]
        config: PathBuf,
        /// The agent command and its arguments, after `--`.
        #[arg(last = true)]
        agent: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("mcpgate: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Run { config, listen } => {
            let mut config = load_or_default(config.as_deref())?;
            if let Some(listen) = listen {
                if !listen.ip().is_loopback() && !config.server.dangerous.allow_non_loopback_bind {
                    anyhow::bail!(
                        "refusing to listen on non-loopback address `{listen}`: set \
                         `server.dangerous.allow_non_loopback_bind = true` in the configuration to allow it"
                    );
                }
                config.server.listen = listen;
            }
            init_logging(&config, cli.log_format);
            runtime()?.block_on(run_http(config))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Stdio { config, upstream } => {
            let config = load(&config)?;
            init_logging(&config, cli.log_format);
            runtime()?.block_on(run_stdio(config, upstream))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::DemoServer { notes_dir } => {
            runtime()?.block_on(demo_server::run(notes_dir))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::CheckConfig { file } => match mcpgate_config::load(&file) {
            Ok(config) => {
                println!("{}: ok", file.display());
                println!("  listen: {}", config.server.listen);
                for u in &config.upstreams {
                    let default = if u.name == config.default_upstream().name {
                        " (default)"
                    } else {
                        ""
                    };
                    println!(
                        "  upstream `{}`{default}: {}, era {}, sharing {}",
                        u.name,
                        describe_transport(&u.transport),
                        u.era.as_str(),
                        u.sharing.as_str()
                    );
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("mcpgate: {e}");
                Ok(ExitCode::from(1))
            }
        },
        Command::ConfigSchema => {
            let schema = mcpgate_config::json_schema();
            println!("{}", serde_json::to_string_pretty(&schema)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::ImportMcpServers { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read `{}`", file.display()))?;
            let toml = mcpgate_config::import_mcp_servers(&text, &file.display().to_string())?;
            print!("{toml}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy { command } => policy_cli::run(command),
        Command::Mcps(command) => mcps_cli::run(command),
        Command::Client { config, agent } => client::run(&config, &agent),
    }
}

fn describe_transport(t: &mcpgate_config::UpstreamTransport) -> String {
    match t {
        mcpgate_config::UpstreamTransport::Stdio(s) => {
            format!("stdio `{}` {}", s.command, s.args.join(" "))
        }
        mcpgate_config::UpstreamTransport::Http(h) => format!("http {}", h.url),
    }
}

fn load(path: &Path) -> anyhow::Result<Config> {
    Ok(mcpgate_config::load(path)?)
}

fn load_or_default(path: Option<&Path>) -> anyhow::Result<Config> {
    match path {
        Some(path) => load(path),
        None => Ok(mcpgate_config::embedded_default()),
    }
}

pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Logs go to standard error, always: in stdio mode standard output is the protocol channel.
fn init_logging(config: &Config, format: Option<LogFormatArg>) {
    let filter = EnvFilter::try_from_env("MCPGATE_LOG")
        .or_else(|_| EnvFilter::try_new(&config.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match format {
        Some(LogFormatArg::Json) => true,
        Some(LogFormatArg::Human) => false,
        None => config.log.format == LogFormat::Json,
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn build_gateway(mut config: Config) -> anyhow::Result<Arc<Gateway>> {
    let audit = match &config.audit.sink {
        AuditSink::Stderr => AuditLog::stderr(),
        AuditSink::File(path) => AuditLog::file(path)
            .with_context(|| format!("cannot open the audit log `{}`", path.display()))?,
    };
    let validate = Validate::new(config.jsonrpc.allow_methods.iter().cloned());
    let engine = security::policy_engine(&config)?;
    let reload = config.authorization.as_ref().map(|a| a.reload_interval);
    let security = security::security(&config)?;
    security::inject_credentials(&mut config)?;
    let mut pipeline =
        Pipeline::new(validate, audit).with_authorize(Authorize::new(engine.clone()));
    let mut trust_reload = None;
    if let Some(signature) = mcps_setup::signature_stage(&config).await? {
        if let Some(mcps) = &config.mcps {
            trust_reload = Some((mcps.trust_store.clone(), signature.trust_store_handle()));
        }
        pipeline = pipeline.with_signature(signature);
    }
    let gw = Gateway::with_security(config, pipeline, security);
    if let (Some(engine), Some(every)) = (engine, reload) {
        security::spawn_policy_reload(engine, every, gw.shutdown.clone())?;
    }
    if let Some((path, handle)) = trust_reload {
        mcps_setup::spawn_trust_store_reload(path, handle, gw.shutdown.clone())?;
    }
    Ok(gw)
}

async fn run_http(config: Config) -> anyhow::Result<()> {
    let listen = config.server.listen;
    let grace = config.server.shutdown_grace;
    let tls = security::tls(&config)?;
    let gw = build_gateway(config).await?;
    let signal = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on `{listen}`"))?;
    let local = listener.local_addr().unwrap_or(listen);
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        "mcpgate listening on {scheme}://{local}/mcp"
    );
    let signals = Arc::clone(&gw);
    tokio::spawn(async move {
        signal.await;
        tracing::info!("shutting down: no new requests, draining in-flight calls");
        signals.shutdown.cancel();
    });
    let mut server: std::pin::Pin<
        Box<dyn std::future::Future<Output = std::io::Result<()>> + Send>,
    > = match tls {
        None => Box::pin(mcpgate_transport::http_front::serve_http(
            Arc::clone(&gw),
            listener,
        )),
        Some(tls) => Box::pin(mcpgate_transport::tls::serve_https(
            mcpgate_transport::http_front::router(Arc::clone(&gw)),
            listener,
            tls,
            gw.shutdown.clone(),
            std::time::Duration::from_secs(10),
        )),
    };
    let serve_result = tokio::select! {
        r = &mut server => r,
        () = gw.shutdown.cancelled() => {
            // Accepting stopped; in-flight requests get up to the grace period.
            match tokio::time::timeout(grace, &mut server).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!("in-flight requests did not finish within the shutdown grace");
                    Ok(())
                }
            }
        }
    };
    gw.close(grace).await;
    serve_result.context("the HTTP server failed")?;
    tracing::info!("stopped");
    Ok(())
}

async fn run_stdio(config: Config, upstream: Option<String>) -> anyhow::Result<()> {
    let gw = build_gateway(config).await?;
    let Some(up) = gw.upstream(upstream.as_deref()) else {
        anyhow::bail!(
            "no upstream named `{}` in the configuration",
            upstream.unwrap_or_default()
        );
    };
    let signals = Arc::clone(&gw);
    let signal = shutdown_signal()?;
    tokio::spawn(async move {
        signal.await;
        signals.shutdown.cancel();
    });
    mcpgate_transport::stdio_front::serve_stdio(gw, up, tokio::io::stdin(), tokio::io::stdout())
        .await
        .context("the stdio front failed")
}

/// Registers SIGINT and SIGTERM handlers now; the returned future resolves on either.
///
/// Registration happens before the gateway announces that it listens, so a signal sent right
/// after that announcement is always a graceful stop, never the default termination.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut int = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
    let mut term = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}
