//! The bundled demo MCP server behind `mcpgate demo-server`.
//!
//! It speaks MCP over stdio and is the upstream used by the gateway's
//! embedded default configuration, by the examples and by the tests, so it is
//! small, deterministic and well behaved: it logs only to stderr, keeps stdout
//! for protocol messages and exits cleanly when stdin reaches end of file.
//!
//! Both protocol eras are served by the same process: rmcp answers a legacy
//! `initialize` handshake as well as a `server/discover` probe followed by
//! requests that carry their protocol version in `_meta` (2026-07-28).
//!
//! Tools:
//! - `echo {message}` returns `message` unchanged;
//! - `add {a, b}` returns the sum as text and as structured content;
//! - `read_note {path}` and `write_note {path, content}` read and write text
//!   files below the notes directory, refusing paths that leave it;
//! - `slow {ms}` sleeps, reporting progress every 100 ms when asked to;
//! - `crash {}` exits the process with status 3 without answering;
//! - `ask_roots {}` asks the client for its roots (legacy sessions only).
//!
//! It also serves one resource, `demo://readme`, and one prompt, `greet`.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use anyhow::Context as _;
use rmcp::handler::server::router::prompt::PromptRouter;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ContentBlock, Implementation, ListResourcesResult, PaginatedRequestParams,
    ProgressNotificationParam, PromptMessage, ProtocolVersion, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, Role, ServerCapabilities,
    ServerConfig,
};
use rmcp::service::{RequestContext, ServerInitializeError};
use rmcp::{
    ErrorData, RoleServer, ServerHandler, ServiceExt as _, prompt, prompt_handler, prompt_router,
    tool, tool_handler, tool_router,
};
use schemars::JsonSchema;
use serde::Deserialize;
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::watch;

/// Name the demo server reports in its server info.
const SERVER_NAME: &str = "mcpgate-demo";

/// URI of the single resource the demo server exposes.
const README_URI: &str = "demo://readme";

/// MIME type of the readme resource.
const README_MIME_TYPE: &str = "text/plain";

/// Text of the readme resource.
const README_TEXT: &str = "\
mcpgate-demo is the small MCP server bundled with mcpgate.

Tools:
  echo {message}              returns the message unchanged
  add {a, b}                  returns the sum of two numbers
  read_note {path}            reads a note below the notes directory
  write_note {path, content}  writes a note below the notes directory
  slow {ms}                   sleeps, reporting progress every 100 ms
  crash {}                    exits immediately with status 3 (test aid)
  ask_roots {}                asks the client for its roots (legacy sessions)

Resources: demo://readme (this text).
Prompts: greet {name}.
";

/// Instructions sent to clients in the server info.
const INSTRUCTIONS: &str = "Demo server bundled with mcpgate: echo and add for simple calls, \
read_note and write_note for a sandboxed notes directory, slow, crash and ask_roots as test aids.";

/// Longest sleep the `slow` tool accepts, in milliseconds.
const MAX_SLOW_MS: u64 = 60_000;

/// Interval between progress notifications sent by the `slow` tool.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// How long `ask_roots` waits for the client to answer `roots/list`.
const ROOTS_TIMEOUT: Duration = Duration::from_secs(30);

/// Exit status of the process when the `crash` tool is called.
const CRASH_EXIT_CODE: i32 = 3;

/// Largest magnitude below which every integral `f64` is exactly an `i64`.
const MAX_EXACT_INTEGER: f64 = 9_007_199_254_740_992.0;

/// Runs the demo server on stdio until stdin reaches end of file.
///
/// The notes directory is created when missing; the note tools only ever
/// touch files below it.
///
/// # Errors
///
/// Fails when the notes directory cannot be created or resolved, or when the
/// MCP session cannot be started.
pub(crate) async fn run(notes_dir: PathBuf) -> anyhow::Result<()> {
    init_logging();
    std::fs::create_dir_all(&notes_dir)
        .with_context(|| format!("cannot create notes directory {}", notes_dir.display()))?;
    let root = std::fs::canonicalize(&notes_dir)
        .with_context(|| format!("cannot resolve notes directory {}", notes_dir.display()))?;
    tracing::info!(notes_dir = %root.display(), "demo server starting");

    let (stdin, stdout) = rmcp::transport::stdio();
    let (stdin_closed_tx, stdin_closed) = watch::channel(false);
    let stdin = EofSignallingStdin {
        inner: stdin,
        closed: stdin_closed_tx,
    };
    let server = DemoServer::new(root, stdin_closed);
    let running = match server.serve((stdin, stdout)).await {
        Ok(running) => running,
        Err(ServerInitializeError::ConnectionClosed(context)) => {
            // The client went away before a session started: nothing to do.
            tracing::info!(%context, "stdin closed before a session started");
            return Ok(());
        }
        Err(err) => return Err(anyhow::Error::new(err).context("cannot start the mcp session")),
    };
    let reason = running
        .waiting()
        .await
        .context("demo server session failed")?;
    tracing::info!(?reason, "demo server stopped");
    Ok(())
}

/// Sends `tracing` output to stderr, keeping stdout for protocol messages.
///
/// The level comes from `RUST_LOG` and defaults to `warn`. A subscriber that
/// is already installed is left in place.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Failing only means a subscriber is already installed, which is fine.
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .with_env_filter(filter)
        .try_init();
}

/// Arguments of the `echo` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct EchoArgs {
    /// Text to send back unchanged.
    message: String,
}

/// Arguments of the `add` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct AddArgs {
    /// First addend.
    a: f64,
    /// Second addend.
    b: f64,
}

/// Arguments of the `read_note` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct ReadNoteArgs {
    /// Path of the note, relative to the notes directory.
    path: String,
}

/// Arguments of the `write_note` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct WriteNoteArgs {
    /// Path of the note, relative to the notes directory (parents are created).
    path: String,
    /// Text to store in the note, replacing any previous content.
    content: String,
}

/// Arguments of the `slow` tool.
#[derive(Debug, Deserialize, JsonSchema)]
struct SlowArgs {
    /// How long to sleep, in milliseconds (at most 60000).
    ms: u64,
}

/// Arguments of the `greet` prompt.
#[derive(Debug, Deserialize, JsonSchema)]
struct GreetArgs {
    /// Who to greet.
    name: String,
}

/// The demo server: its tools, its prompt and the notes directory.
struct DemoServer {
    /// Canonical path of the notes directory.
    notes_root: PathBuf,
    /// Routes `tools/call` and answers `tools/list`.
    tool_router: ToolRouter<Self>,
    /// Routes `prompts/get` and answers `prompts/list`.
    prompt_router: PromptRouter<Self>,
    /// Becomes `true` once stdin reaches end of file.
    stdin_closed: watch::Receiver<bool>,
}

impl DemoServer {
    /// Creates a server whose note tools work below `notes_root`, which must
    /// already be canonical; `stdin_closed` turns `true` at end of input.
    fn new(notes_root: PathBuf, stdin_closed: watch::Receiver<bool>) -> Self {
        Self {
            notes_root,
            tool_router: Self::tool_router(),
            prompt_router: Self::prompt_router(),
            stdin_closed,
        }
    }

    /// Resolves once stdin has reached end of file (or the transport is gone).
    ///
    /// Long-running tools stop waiting then: rmcp keeps the process alive for
    /// up to five seconds after end of input to drain in-flight responses, and
    /// a client that closed stdin cannot answer or cancel anything any more.
    async fn stdin_closed(&self) {
        let mut closed = self.stdin_closed.clone();
        // An error means the sender is gone, which also ends the session.
        let _ = closed.wait_for(|closed| *closed).await;
    }

    /// Runs a blocking note operation on the blocking thread pool.
    async fn with_notes<F>(&self, op: F) -> Result<String, String>
    where
        F: FnOnce(&Path) -> Result<String, String> + Send + 'static,
    {
        let root = self.notes_root.clone();
        tokio::task::spawn_blocking(move || op(&root))
            .await
            .unwrap_or_else(|err| Err(format!("note operation failed: {err}")))
    }
}

/// Reads the note at `raw` below `root`, checking that it stays inside the
/// notes directory once symbolic links are resolved.
fn read_note_text(root: &Path, raw: &str) -> Result<String, String> {
    let relative = normalise_note_path(raw)?;
    let real = match std::fs::canonicalize(root.join(&relative)) {
        Ok(real) => real,
        Err(err) if is_missing(&err) => return Err(format!("note `{raw}` not found")),
        Err(err) => return Err(format!("cannot resolve note `{raw}`: {err}")),
    };
    ensure_inside(root, &real, raw)?;
    let metadata =
        std::fs::metadata(&real).map_err(|err| format!("cannot inspect note `{raw}`: {err}"))?;
    if !metadata.is_file() {
        return Err(format!("note `{raw}` is not a regular file"));
    }
    let bytes = match std::fs::read(&real) {
        Ok(bytes) => bytes,
        Err(err) if is_missing(&err) => return Err(format!("note `{raw}` not found")),
        Err(err) => return Err(format!("cannot read note `{raw}`: {err}")),
    };
    String::from_utf8(bytes).map_err(|_| format!("note `{raw}` is not valid utf-8 text"))
}

/// Writes `content` to the note at `raw` below `root`, creating parent
/// directories, and returns the confirmation text.
fn write_note_text(root: &Path, raw: &str, content: &str) -> Result<String, String> {
    let relative = normalise_note_path(raw)?;
    let full = root.join(&relative);
    let (Some(parent), Some(file_name)) = (full.parent(), full.file_name()) else {
        return Err(format!("path `{raw}` does not name a note"));
    };

    // Refuse before creating anything when an existing ancestor already
    // leads outside, then check again once the directories exist.
    let existing = std::fs::canonicalize(deepest_existing_ancestor(parent))
        .map_err(|err| format!("cannot resolve the directory of note `{raw}`: {err}"))?;
    ensure_inside(root, &existing, raw)?;
    std::fs::create_dir_all(parent)
        .map_err(|err| format!("cannot create the directory of note `{raw}`: {err}"))?;
    let parent = std::fs::canonicalize(parent)
        .map_err(|err| format!("cannot resolve the directory of note `{raw}`: {err}"))?;
    ensure_inside(root, &parent, raw)?;

    let target = parent.join(file_name);
    match std::fs::symlink_metadata(&target) {
        Ok(metadata) if metadata.file_type().is_symlink() => {
            let real = std::fs::canonicalize(&target)
                .map_err(|_| format!("note `{raw}` is a symbolic link that does not resolve"))?;
            ensure_inside(root, &real, raw)?;
        }
        Ok(metadata) if metadata.is_dir() => {
            return Err(format!("note `{raw}` is a directory"));
        }
        Ok(_) => {}
        Err(err) if is_missing(&err) => {}
        Err(err) => return Err(format!("cannot inspect note `{raw}`: {err}")),
    }
    std::fs::write(&target, content.as_bytes())
        .map_err(|err| format!("cannot write note `{raw}`: {err}"))?;
    Ok(format!(
        "wrote {} bytes to {}",
        content.len(),
        relative.display()
    ))
}

/// Fails unless the canonical path `real` lies inside the canonical `root`.
fn ensure_inside(root: &Path, real: &Path, raw: &str) -> Result<(), String> {
    if real.starts_with(root) {
        Ok(())
    } else {
        Err(format!("path `{raw}` resolves outside the notes directory"))
    }
}

#[tool_router]
impl DemoServer {
    /// Returns the message unchanged.
    #[tool(description = "Return `message` unchanged.")]
    async fn echo(&self, Parameters(args): Parameters<EchoArgs>) -> String {
        args.message
    }

    /// Adds two numbers.
    #[tool(
        description = "Add two numbers; the sum is returned as text and as structured content `{\"sum\": n}`."
    )]
    async fn add(&self, Parameters(AddArgs { a, b }): Parameters<AddArgs>) -> CallToolResult {
        let sum = a + b;
        if !sum.is_finite() {
            return text_error(format!("the sum of {a} and {b} is not a finite number"));
        }
        let (text, structured) = if sum.fract() == 0.0 && sum.abs() < MAX_EXACT_INTEGER {
            // Exact: the value is integral and smaller than 2^53 in magnitude.
            let integer = sum as i64;
            (integer.to_string(), serde_json::json!({ "sum": integer }))
        } else {
            (sum.to_string(), serde_json::json!({ "sum": sum }))
        };
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = Some(structured);
        result
    }

    /// Reads a note below the notes directory.
    #[tool(
        description = "Read the text note at `path`, relative to the notes directory. Paths that leave the notes directory are refused."
    )]
    async fn read_note(
        &self,
        Parameters(ReadNoteArgs { path }): Parameters<ReadNoteArgs>,
    ) -> Result<String, String> {
        self.with_notes(move |root| read_note_text(root, &path))
            .await
    }

    /// Writes a note below the notes directory.
    #[tool(
        description = "Write `content` to the text note at `path`, relative to the notes directory, creating parent directories. Paths that leave the notes directory are refused."
    )]
    async fn write_note(
        &self,
        Parameters(WriteNoteArgs { path, content }): Parameters<WriteNoteArgs>,
    ) -> Result<String, String> {
        self.with_notes(move |root| write_note_text(root, &path, &content))
            .await
    }

    /// Sleeps, sending progress notifications when the request asks for them.
    #[tool(
        description = "Sleep for `ms` milliseconds (at most 60000), sending progress notifications every 100 ms when the request carries a progress token. A test aid for timeouts and cancellation."
    )]
    async fn slow(
        &self,
        Parameters(SlowArgs { ms }): Parameters<SlowArgs>,
        context: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let ms = ms.min(MAX_SLOW_MS);
        let token = context.meta.get_progress_token();
        let start = tokio::time::Instant::now();
        let deadline = start + Duration::from_millis(ms);
        let mut ticker = tokio::time::interval_at(start + PROGRESS_INTERVAL, PROGRESS_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let step = u64::try_from(PROGRESS_INTERVAL.as_millis()).unwrap_or(u64::MAX);
        let mut reported = 0_u64;
        loop {
            tokio::select! {
                biased;
                () = context.ct.cancelled() => {
                    let elapsed = start.elapsed().as_millis();
                    return text_error(format!("cancelled after {elapsed} ms"));
                }
                () = self.stdin_closed() => {
                    let elapsed = start.elapsed().as_millis();
                    return text_error(format!("interrupted after {elapsed} ms: stdin closed"));
                }
                () = tokio::time::sleep_until(deadline) => break,
                _ = ticker.tick(), if token.is_some() => {
                    // Report whole intervals so the values do not depend on timer jitter.
                    reported = reported.saturating_add(step).min(ms);
                    if let Some(token) = &token {
                        // Both values are at most 60000, which an f64 holds exactly.
                        let progress = ProgressNotificationParam::new(token.clone(), reported as f64)
                            .with_total(ms as f64)
                            .with_message(format!("slept {reported} of {ms} ms"));
                        if let Err(err) = context.peer.notify_progress(progress).await {
                            tracing::debug!(%err, "cannot send progress notification");
                        }
                    }
                }
            }
        }
        CallToolResult::success(vec![ContentBlock::text(format!("slept {ms} ms"))])
    }

    /// Exits the process without answering.
    #[tool(
        description = "Test aid: exit the server process immediately with status 3, without answering. Used to exercise upstream crash handling."
    )]
    async fn crash(&self) -> CallToolResult {
        tracing::warn!("crash tool called; exiting with status {CRASH_EXIT_CODE}");
        std::process::exit(CRASH_EXIT_CODE)
    }

    /// Asks the client for its roots and returns their URIs.
    #[tool(
        description = "Test aid: send `roots/list` to the client and return the root URIs, one per line. Works only in legacy (initialize) sessions whose client declared the roots capability."
    )]
    async fn ask_roots(&self, context: RequestContext<RoleServer>) -> CallToolResult {
        if let Some(version) = context.protocol_version()
            && version >= ProtocolVersion::V_2026_07_28
        {
            return text_error(format!(
                "ask_roots needs a legacy session: protocol {version} forbids server-to-client requests"
            ));
        }
        let Some(capabilities) = context.client_capabilities() else {
            return text_error("the client capabilities are unknown".to_owned());
        };
        if capabilities.roots.is_none() {
            return text_error("the client did not declare the roots capability".to_owned());
        }
        #[expect(
            deprecated,
            reason = "roots are deprecated for new protocol versions but this tool exercises them in legacy sessions"
        )]
        let request = context.peer.list_roots();
        let answer = tokio::select! {
            () = context.ct.cancelled() => return text_error("cancelled".to_owned()),
            () = self.stdin_closed() => return text_error("stdin closed before the client answered".to_owned()),
            answer = tokio::time::timeout(ROOTS_TIMEOUT, request) => answer,
        };
        match answer {
            Err(_) => text_error(format!(
                "the client did not answer roots/list within {} s",
                ROOTS_TIMEOUT.as_secs()
            )),
            Ok(Err(err)) => text_error(format!("roots/list failed: {err}")),
            Ok(Ok(result)) => {
                #[expect(deprecated, reason = "roots are a legacy feature exercised on purpose")]
                let uris: Vec<&str> = result.roots.iter().map(|root| root.uri.as_str()).collect();
                CallToolResult::success(vec![ContentBlock::text(uris.join("\n"))])
            }
        }
    }
}

#[prompt_router]
impl DemoServer {
    /// Builds a one-message greeting prompt.
    #[prompt(description = "Ask the model to say hello to `name`.")]
    async fn greet(
        &self,
        Parameters(GreetArgs { name }): Parameters<GreetArgs>,
    ) -> Vec<PromptMessage> {
        vec![PromptMessage::new_text(
            Role::User,
            format!("Say hello to {name}"),
        )]
    }
}

#[tool_handler(router = self.tool_router)]
#[prompt_handler(router = self.prompt_router)]
impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(
            ServerCapabilities::builder()
                .enable_tools()
                .enable_resources()
                .enable_prompts()
                .build(),
        )
        .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
        .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(ListResourcesResult::with_all_items(vec![readme_resource()]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if request.uri == README_URI {
            let contents =
                ResourceContents::text(README_TEXT, README_URI).with_mime_type(README_MIME_TYPE);
            Ok(ReadResourceResult::new(vec![contents]).into())
        } else {
            Err(ErrorData::resource_not_found(
                format!("resource `{}` not found", request.uri),
                Some(serde_json::json!({ "uri": request.uri })),
            ))
        }
    }
}

/// Stdin that reports end of file to the running tools.
struct EofSignallingStdin {
    /// The process's standard input.
    inner: tokio::io::Stdin,
    /// Set to `true` when a read returns no data.
    closed: watch::Sender<bool>,
}

impl AsyncRead for EofSignallingStdin {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let had_room = buf.remaining() > 0;
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && had_room && buf.filled().len() == before {
            self.closed.send_replace(true);
        }
        poll
    }
}

/// The listing entry of the readme resource.
fn readme_resource() -> Resource {
    Resource::new(README_URI, "readme")
        .with_title("mcpgate-demo readme")
        .with_description("What the demo server offers")
        .with_mime_type(README_MIME_TYPE)
        .with_size(README_TEXT.len() as u64)
}

/// A tool execution error (`isError: true`) carrying `message` as text.
fn text_error(message: String) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message)])
}

/// Whether `err` means the path, or one of its directories, does not exist.
fn is_missing(err: &std::io::Error) -> bool {
    matches!(err.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// Lexically normalises a note path into a non-empty relative path that
/// stays inside the notes directory.
///
/// Absolute paths, `..` components that climb above the notes directory and
/// paths naming the directory itself are refused. Symbolic links are not
/// resolved here; callers check the resolved path as well.
fn normalise_note_path(raw: &str) -> Result<PathBuf, String> {
    if raw.is_empty() {
        return Err("path must not be empty".to_owned());
    }
    let mut parts: Vec<&OsStr> = Vec::new();
    for component in Path::new(raw).components() {
        match component {
            Component::Prefix(_) | Component::RootDir => {
                return Err(format!(
                    "path `{raw}` must be relative to the notes directory"
                ));
            }
            Component::CurDir => {}
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return Err(format!("path `{raw}` escapes the notes directory"));
                }
            }
            Component::Normal(part) => parts.push(part),
        }
    }
    if parts.is_empty() {
        return Err(format!("path `{raw}` does not name a note"));
    }
    Ok(parts.iter().collect())
}

/// The deepest ancestor of `path` (or `path` itself) that exists, without
/// following a final symbolic link.
fn deepest_existing_ancestor(path: &Path) -> &Path {
    let mut current = path;
    while std::fs::symlink_metadata(current).is_err() {
        match current.parent() {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_accepts_plain_and_nested_paths() {
        assert_eq!(
            normalise_note_path("a.txt").unwrap(),
            PathBuf::from("a.txt")
        );
        assert_eq!(
            normalise_note_path("./dir/../dir/b.txt").unwrap(),
            PathBuf::from("dir/b.txt")
        );
        assert_eq!(normalise_note_path("x/y/").unwrap(), PathBuf::from("x/y"));
    }

    #[test]
    fn normalise_refuses_escapes() {
        for raw in ["", ".", "a/..", "../x", "a/../../x", "/etc/passwd"] {
            assert!(
                normalise_note_path(raw).is_err(),
                "{raw:?} should be refused"
            );
        }
    }
}
