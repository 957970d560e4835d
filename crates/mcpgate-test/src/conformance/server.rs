//! The conformance fixture's request handler.
//!
//! Requests that need something from the client (sampling, elicitation, roots) are written
//! once, as a step function over the answers received so far: on a 2026-07-28 request each
//! step becomes an `InputRequiredResult` that the client answers by retrying; on a legacy
//! session the fixture asks the client itself, one server-to-client request per input, and
//! feeds the answers back into the next step.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ClientCapabilities,
    CompleteRequestParams, CompleteResult, GetPromptRequestParams, GetPromptResponse,
    GetPromptResult, Implementation, InputRequest, InputRequests, InputRequiredResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProgressNotificationParam, Prompt, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceTemplate, ServerCapabilities,
    ServerConfig, ServerNotification, ServerRequest, SubscribeRequestParams, SubscriptionFilter,
    Tool, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData as McpError, RoleServer, ServerHandler};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::catalog;
use super::state::StateKey;

/// The name the fixture reports in its server info.
pub const SERVER_NAME: &str = "mcpgate-conformance-fixture";

const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
const LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];
/// The most input rounds one legacy request may take.
const MAX_ROUNDS: usize = 10;

/// A change announced to open `subscriptions/listen` streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Tools,
    Prompts,
}

/// What every handler instance shares: the catalogue, the state key, the change channel.
#[derive(Debug)]
struct Shared {
    info: ServerConfig,
    tools: Vec<Tool>,
    prompts: Vec<Prompt>,
    resources: Vec<Resource>,
    templates: Vec<ResourceTemplate>,
    key: StateKey,
    changes: broadcast::Sender<Change>,
}

/// One handler instance: one per legacy session (HTTP), per connection (stdio), or per
/// stateless request; the per-session parts (log level, subscriptions) live here.
#[derive(Debug, Clone)]
pub struct ConformanceServer {
    shared: Arc<Shared>,
    log_level: Arc<Mutex<Option<usize>>>,
    subscriptions: Arc<Mutex<HashSet<String>>>,
}

/// Parses catalogue JSON into an rmcp model type; the catalogue is fixed, so a failure is a
/// bug in it.
fn typed<T: DeserializeOwned>(value: Value) -> Result<T, McpError> {
    serde_json::from_value(value)
        .map_err(|e| McpError::internal_error(format!("fixture data does not parse: {e}"), None))
}

/// Parses a complete result, marked `resultType: "complete"` as 2026-07-28 requires (rmcp
/// removes the field again for legacy peers).
fn complete<T: DeserializeOwned>(mut value: Value) -> Result<T, McpError> {
    if let Some(obj) = value.as_object_mut() {
        obj.entry("resultType").or_insert_with(|| json!("complete"));
    }
    typed(value)
}

fn typed_list<T: DeserializeOwned>(values: Vec<Value>) -> Vec<T> {
    values
        .into_iter()
        .filter_map(|v| serde_json::from_value(v).ok())
        .collect()
}

impl ConformanceServer {
    /// A handler with a fresh shared state (a new state key and change channel).
    pub fn new() -> Self {
        let capabilities: ServerCapabilities = serde_json::from_value(json!({
            "tools": { "listChanged": true },
            "prompts": { "listChanged": true },
            "resources": { "subscribe": true, "listChanged": true },
            "logging": {},
            "completions": {},
        }))
        .unwrap_or_default();
        let info = ServerConfig::new(capabilities)
            .with_server_info(Implementation::new(SERVER_NAME, env!("CARGO_PKG_VERSION")))
            .with_instructions("The mcpgate conformance fixture: the tools, prompts and resources the MCP conformance suite calls.");
        let shared = Shared {
            info,
            tools: typed_list(catalog::tools()),
            prompts: typed_list(catalog::prompts()),
            resources: typed_list(catalog::resources()),
            templates: typed_list(catalog::resource_templates()),
            key: StateKey::random(),
            changes: broadcast::channel(16).0,
        };
        Self {
            shared: Arc::new(shared),
            log_level: Arc::new(Mutex::new(None)),
            subscriptions: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// Another handler instance sharing this one's catalogue, key and change channel, with
    /// its own session state.
    pub fn session(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            log_level: Arc::new(Mutex::new(None)),
            subscriptions: Arc::new(Mutex::new(HashSet::new())),
        }
    }

    /// The number of tools, prompts, resources and templates that parsed (for a self-check).
    pub fn catalogue_sizes(&self) -> [usize; 4] {
        [
            self.shared.tools.len(),
            self.shared.prompts.len(),
            self.shared.resources.len(),
            self.shared.templates.len(),
        ]
    }

    /// The lowest level to log at for this request; `None` means no log messages at all.
    fn log_threshold(&self, ctx: &RequestContext<RoleServer>) -> Option<usize> {
        if is_modern(ctx) {
            // 2026-07-28: only when the request itself asked, at the level it asked for.
            let level = ctx.meta.0.get(META_LOG_LEVEL)?.as_str()?;
            return LEVELS.iter().position(|l| *l == level);
        }
        Some(self.log_level.lock().ok().and_then(|l| *l).unwrap_or(0))
    }

    async fn log(&self, ctx: &RequestContext<RoleServer>, level: &str, data: &str) {
        let Some(threshold) = self.log_threshold(ctx) else {
            return;
        };
        let rank = LEVELS.iter().position(|l| *l == level).unwrap_or(0);
        if rank < threshold {
            return;
        }
        let note = json!({
            "method": "notifications/message",
            "params": { "level": level, "logger": SERVER_NAME, "data": data },
        });
        if let Ok(note) = serde_json::from_value::<ServerNotification>(note) {
            let _ = ctx.peer.send_notification(note).await;
        }
    }

    async fn progress(&self, ctx: &RequestContext<RoleServer>, progress: u32) {
        let Some(token) = ctx.meta.get_progress_token() else {
            return;
        };
        let param = json!({ "progressToken": token, "progress": progress, "total": 100 });
        if let Ok(param) = serde_json::from_value::<ProgressNotificationParam>(param) {
            let _ = ctx.peer.notify_progress(param).await;
        }
    }

    /// Runs an interactive request to its end: one step on 2026-07-28 (its input requests
    /// become the answer), or as many rounds as it takes on a legacy session.
    async fn run_interactive(
        &self,
        ctx: &RequestContext<RoleServer>,
        kind: Interactive<'_>,
        mut responses: Map<String, Value>,
        mut state: Option<String>,
    ) -> Result<Outcome, McpError> {
        let caps = client_capabilities(ctx);
        if is_modern(ctx) {
            return match self.step(kind, &responses, state.as_deref(), &caps)? {
                Step::Done(result) => Ok(Outcome::Done(result)),
                Step::Need { requests, state } => {
                    Ok(Outcome::InputRequired(input_required(requests, state)?))
                }
            };
        }
        for _ in 0..MAX_ROUNDS {
            match self.step(kind, &responses, state.as_deref(), &caps)? {
                Step::Done(result) => return Ok(Outcome::Done(result)),
                Step::Need {
                    requests,
                    state: next,
                } => {
                    responses = Map::new();
                    for (key, request) in requests {
                        let request: ServerRequest = typed(request)?;
                        let answer = ctx.peer.send_request(request).await.map_err(|e| {
                            McpError::internal_error(
                                format!("the client did not answer the `{key}` request: {e}"),
                                None,
                            )
                        })?;
                        let answer = serde_json::to_value(answer).unwrap_or(Value::Null);
                        responses.insert(key, answer);
                    }
                    state = next;
                }
            }
        }
        Err(McpError::internal_error(
            "the request needed more input rounds than the fixture allows",
            None,
        ))
    }

    /// One step of an interactive request, given the answers and state sent with it.
    fn step(
        &self,
        kind: Interactive<'_>,
        responses: &Map<String, Value>,
        state: Option<&str>,
        caps: &Value,
    ) -> Result<Step, McpError> {
        let name = match kind {
            Interactive::Tool { name, .. } | Interactive::Prompt { name } => name,
        };
        let scope = match kind {
            Interactive::Tool { .. } => format!("tools/call {name}"),
            Interactive::Prompt { .. } => format!("prompts/get {name}"),
        };
        let args = match kind {
            Interactive::Tool { args, .. } => args,
            Interactive::Prompt { .. } => &EMPTY,
        };
        // A state, when sent, must be one this fixture issued for this very call.
        let opened = match state {
            Some(s) => Some(self.shared.key.open(&scope, s).ok_or_else(|| {
                McpError::invalid_params(
                    "requestState failed its integrity check or belongs to another request",
                    None,
                )
            })?),
            None => None,
        };
        let seal = |data: Value| Some(self.shared.key.seal(&scope, &data));
        let ask = Asker { responses, caps };
        match name {
            "test_sampling" => {
                let prompt = args
                    .get("prompt")
                    .and_then(Value::as_str)
                    .ok_or_else(|| McpError::invalid_params("missing argument `prompt`", None))?;
                match ask.get("sampling", Input::Sampling)? {
                    Some(answer) => {
                        Ok(done_text(format!("LLM response: {}", sampled_text(answer))))
                    }
                    None => ask.need(vec![("sampling", sample(prompt, 100))], None),
                }
            }
            "test_elicitation" => {
                let message = args
                    .get("message")
                    .and_then(Value::as_str)
                    .ok_or_else(|| McpError::invalid_params("missing argument `message`", None))?;
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "username": { "type": "string", "description": "User's response" },
                        "email": { "type": "string", "description": "User's email address" },
                    },
                    "required": ["username", "email"],
                });
                match ask.get("user", Input::Elicitation)? {
                    Some(answer) => Ok(done_text(format!(
                        "User response: {}",
                        elicited_summary(answer)
                    ))),
                    None => ask.need(vec![("user", elicit(message, schema))], None),
                }
            }
            "test_elicitation_sep1034_defaults" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "name": { "type": "string", "description": "Your name", "default": "John Doe" },
                        "age": { "type": "integer", "description": "Your age", "default": 30 },
                        "score": { "type": "number", "description": "Your score", "default": 95.5 },
                        "status": {
                            "type": "string",
                            "description": "Your status",
                            "enum": ["active", "inactive", "pending"],
                            "default": "active",
                        },
                        "verified": { "type": "boolean", "description": "Verified?", "default": true },
                    },
                });
                match ask.get("form", Input::Elicitation)? {
                    Some(answer) => Ok(done_text(format!(
                        "Elicitation completed: {}",
                        elicited_summary(answer)
                    ))),
                    None => ask.need(
                        vec![(
                            "form",
                            elicit("Please review the fields and their defaults", schema),
                        )],
                        None,
                    ),
                }
            }
            "test_elicitation_sep1330_enums" => {
                let schema = json!({
                    "type": "object",
                    "properties": {
                        "untitledSingle": {
                            "type": "string",
                            "description": "Pick one",
                            "enum": ["option1", "option2", "option3"],
                        },
                        "titledSingle": {
                            "type": "string",
                            "description": "Pick one",
                            "oneOf": [
                                { "const": "value1", "title": "First Option" },
                                { "const": "value2", "title": "Second Option" },
                                { "const": "value3", "title": "Third Option" },
                            ],
                        },
                        "legacyEnum": {
                            "type": "string",
                            "description": "Pick one",
                            "enum": ["opt1", "opt2", "opt3"],
                            "enumNames": ["Option One", "Option Two", "Option Three"],
                        },
                        "untitledMulti": {
                            "type": "array",
                            "description": "Pick any",
                            "items": { "type": "string", "enum": ["option1", "option2", "option3"] },
                        },
                        "titledMulti": {
                            "type": "array",
                            "description": "Pick any",
                            "items": {
                                "anyOf": [
                                    { "const": "value1", "title": "First Choice" },
                                    { "const": "value2", "title": "Second Choice" },
                                    { "const": "value3", "title": "Third Choice" },
                                ],
                            },
                        },
                    },
                });
                match ask.get("form", Input::Elicitation)? {
                    Some(answer) => Ok(done_text(format!(
                        "Elicitation completed: {}",
                        elicited_summary(answer)
                    ))),
                    None => ask.need(vec![("form", elicit("Please choose", schema))], None),
                }
            }
            "test_streaming_elicitation" => match ask.get("confirm", Input::Elicitation)? {
                Some(answer) => Ok(done_text(format!(
                    "Confirmation: {}",
                    elicited_summary(answer)
                ))),
                None => ask.need(
                    vec![(
                        "confirm",
                        elicit("Please confirm to continue", bool_schema("ok")),
                    )],
                    None,
                ),
            },
            "test_input_required_result_elicitation" => {
                match ask.get("user_name", Input::Elicitation)? {
                    Some(answer) => {
                        let who = answer
                            .get("content")
                            .and_then(|c| c.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or("stranger");
                        Ok(done_text(format!("Hello, {who}!")))
                    }
                    None => ask.need(
                        vec![(
                            "user_name",
                            elicit("What is your name?", string_schema("name")),
                        )],
                        None,
                    ),
                }
            }
            "test_input_required_result_sampling" => {
                match ask.get("capital_question", Input::Sampling)? {
                    Some(answer) => Ok(done_text(format!(
                        "The model answered: {}",
                        sampled_text(answer)
                    ))),
                    None => ask.need(
                        vec![(
                            "capital_question",
                            sample("What is the capital of France?", 100),
                        )],
                        None,
                    ),
                }
            }
            "test_input_required_result_list_roots" => {
                match ask.get("client_roots", Input::Roots)? {
                    Some(answer) => Ok(done_text(format!("Client roots: {}", root_uris(answer)))),
                    None => ask.need(vec![("client_roots", roots())], None),
                }
            }
            "test_input_required_result_request_state"
            | "test_input_required_result_tampered_state" => {
                let answer = ask.get("confirm", Input::Elicitation)?;
                match (opened, answer) {
                    (Some(_), Some(answer)) => Ok(done_text(format!(
                        "state-ok: the request state was verified; confirmation: {}",
                        elicited_summary(answer)
                    ))),
                    _ => ask.need(
                        vec![("confirm", elicit("Please confirm", bool_schema("ok")))],
                        seal(json!({ "awaiting": "confirm" })),
                    ),
                }
            }
            "test_input_required_result_multiple_inputs" => {
                let name = ask.get("user_name", Input::Elicitation)?;
                let greeting = ask.get("greeting", Input::Sampling)?;
                let roots_answer = ask.get("client_roots", Input::Roots)?;
                match (opened, name, greeting, roots_answer) {
                    (Some(_), Some(name), Some(greeting), Some(roots_answer)) => {
                        Ok(done_text(format!(
                            "Name: {}; greeting: {}; roots: {}",
                            elicited_summary(name),
                            sampled_text(greeting),
                            root_uris(roots_answer)
                        )))
                    }
                    _ => ask.need(
                        vec![
                            (
                                "user_name",
                                elicit("What is your name?", string_schema("name")),
                            ),
                            ("greeting", sample("Generate a greeting", 50)),
                            ("client_roots", roots()),
                        ],
                        seal(json!({ "awaiting": "all" })),
                    ),
                }
            }
            "test_input_required_result_multi_round" => {
                let round = opened
                    .as_ref()
                    .and_then(|s| s.get("round"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0);
                let step1 = || {
                    ask.need(
                        vec![(
                            "step1",
                            elicit("Step 1: What is your name?", string_schema("name")),
                        )],
                        seal(json!({ "round": 1 })),
                    )
                };
                match round {
                    1 => match ask.get("step1", Input::Elicitation)? {
                        Some(answer) => {
                            let name = answer
                                .get("content")
                                .and_then(|c| c.get("name"))
                                .cloned()
                                .unwrap_or(Value::Null);
                            ask.need(
                                vec![(
                                    "step2",
                                    elicit(
                                        "Step 2: What is your favorite color?",
                                        string_schema("color"),
                                    ),
                                )],
                                seal(json!({ "round": 2, "name": name })),
                            )
                        }
                        None => step1(),
                    },
                    2 => {
                        let name = opened
                            .as_ref()
                            .and_then(|s| s.get("name"))
                            .and_then(Value::as_str)
                            .unwrap_or("stranger")
                            .to_owned();
                        match ask.get("step2", Input::Elicitation)? {
                            Some(answer) => {
                                let color = answer
                                    .get("content")
                                    .and_then(|c| c.get("color"))
                                    .and_then(Value::as_str)
                                    .unwrap_or("no colour");
                                Ok(done_text(format!(
                                    "Hello {name}, your favorite color is {color}."
                                )))
                            }
                            None => ask.need(
                                vec![(
                                    "step2",
                                    elicit(
                                        "Step 2: What is your favorite color?",
                                        string_schema("color"),
                                    ),
                                )],
                                seal(json!({ "round": 2, "name": name })),
                            ),
                        }
                    }
                    _ => step1(),
                }
            }
            "test_input_required_result_capabilities" => {
                let mut requests = Vec::new();
                let mut answers = Vec::new();
                let declared = |cap: &str| caps.get(cap).is_some_and(Value::is_object);
                if declared("elicitation") {
                    match ask.get("user_name", Input::Elicitation)? {
                        Some(a) => answers.push(elicited_summary(a)),
                        None => requests.push((
                            "user_name",
                            elicit("What is your name?", string_schema("name")),
                        )),
                    }
                }
                if declared("sampling") {
                    match ask.get("greeting", Input::Sampling)? {
                        Some(a) => answers.push(sampled_text(a)),
                        None => requests.push(("greeting", sample("Generate a greeting", 50))),
                    }
                }
                if declared("roots") {
                    match ask.get("client_roots", Input::Roots)? {
                        Some(a) => answers.push(root_uris(a)),
                        None => requests.push(("client_roots", roots())),
                    }
                }
                if requests.is_empty() {
                    Ok(done_text(format!(
                        "Inputs received for the declared capabilities: [{}]",
                        answers.join("; ")
                    )))
                } else {
                    ask.need(requests, None)
                }
            }
            "test_input_required_result_prompt" => {
                match ask.get("user_context", Input::Elicitation)? {
                    Some(answer) => {
                        let context = answer
                            .get("content")
                            .and_then(|c| c.get("context"))
                            .and_then(Value::as_str)
                            .unwrap_or("no context");
                        Ok(Step::Done(json!({
                            "description": "A prompt built from the context the user gave.",
                            "messages": [{
                                "role": "user",
                                "content": catalog::text(format!("Answer using this context: {context}")),
                            }],
                        })))
                    }
                    None => ask.need(
                        vec![(
                            "user_context",
                            elicit(
                                "What context should the prompt use?",
                                string_schema("context"),
                            ),
                        )],
                        None,
                    ),
                }
            }
            other => Err(McpError::invalid_params(
                format!("unknown interactive request `{other}`"),
                None,
            )),
        }
    }

    fn announce(&self, change: Change) -> String {
        let listeners = self.shared.changes.send(change).unwrap_or(0);
        format!("announced the change to {listeners} open subscription(s)")
    }
}

impl Default for ConformanceServer {
    fn default() -> Self {
        Self::new()
    }
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

/// Names of the tools whose answers need input from the client.
const INTERACTIVE_TOOLS: &[&str] = &[
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "test_streaming_elicitation",
    "test_input_required_result_elicitation",
    "test_input_required_result_sampling",
    "test_input_required_result_list_roots",
    "test_input_required_result_request_state",
    "test_input_required_result_multiple_inputs",
    "test_input_required_result_multi_round",
    "test_input_required_result_tampered_state",
    "test_input_required_result_capabilities",
];

#[derive(Clone, Copy)]
enum Interactive<'a> {
    Tool {
        name: &'a str,
        args: &'a Map<String, Value>,
    },
    Prompt {
        name: &'a str,
    },
}

enum Step {
    /// The final result, as JSON.
    Done(Value),
    /// Inputs the client must provide (key, `{method, params}`), and the state to echo.
    Need {
        requests: Vec<(String, Value)>,
        state: Option<String>,
    },
}

enum Outcome {
    Done(Value),
    InputRequired(InputRequiredResult),
}

#[derive(Clone, Copy)]
enum Input {
    Elicitation,
    Sampling,
    Roots,
}

impl Input {
    fn capability(self) -> &'static str {
        match self {
            Self::Elicitation => "elicitation",
            Self::Sampling => "sampling",
            Self::Roots => "roots",
        }
    }

    /// Whether an answer has the shape of this input's result.
    fn accepts(self, answer: &Value) -> bool {
        match self {
            Self::Elicitation => answer.get("action").is_some_and(Value::is_string),
            Self::Sampling => answer.get("content").is_some(),
            Self::Roots => answer.get("roots").is_some_and(Value::is_array),
        }
    }

    fn method(self) -> &'static str {
        match self {
            Self::Elicitation => "elicitation/create",
            Self::Sampling => "sampling/createMessage",
            Self::Roots => "roots/list",
        }
    }
}

/// Reads the client's answers and builds input requests, checking capabilities.
struct Asker<'a> {
    responses: &'a Map<String, Value>,
    caps: &'a Value,
}

impl Asker<'_> {
    /// The answer under `key`: `None` when absent, an error when it has the wrong shape.
    fn get(&self, key: &str, input: Input) -> Result<Option<&Value>, McpError> {
        match self.responses.get(key) {
            None => Ok(None),
            Some(answer) if answer.is_object() && input.accepts(answer) => Ok(Some(answer)),
            Some(_) => Err(McpError::invalid_params(
                format!(
                    "input response `{key}` is not a valid result of `{}`",
                    input.method()
                ),
                None,
            )),
        }
    }

    /// Asks for `requests`; fails with -32021 when the client lacks a capability they need.
    fn need(&self, requests: Vec<(&str, Value)>, state: Option<String>) -> Result<Step, McpError> {
        for (_, request) in &requests {
            let input = match request.get("method").and_then(Value::as_str) {
                Some("elicitation/create") => Input::Elicitation,
                Some("sampling/createMessage") => Input::Sampling,
                _ => Input::Roots,
            };
            let cap = input.capability();
            if !self.caps.get(cap).is_some_and(Value::is_object) {
                return Err(missing_capability(cap));
            }
        }
        Ok(Step::Need {
            requests: requests
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            state,
        })
    }
}

fn missing_capability(cap: &str) -> McpError {
    let mut required = Map::new();
    required.insert(cap.to_owned(), json!({}));
    let required: ClientCapabilities =
        serde_json::from_value(Value::Object(required)).unwrap_or_default();
    let mut error = McpError::missing_required_client_capability(required);
    error.message = format!("this request needs the client's `{cap}` capability").into();
    error
}

fn input_required(
    requests: Vec<(String, Value)>,
    state: Option<String>,
) -> Result<InputRequiredResult, McpError> {
    let mut map = InputRequests::new();
    for (key, request) in requests {
        map.insert(key, typed::<InputRequest>(request)?);
    }
    Ok(InputRequiredResult::new(Some(map), state))
}

fn elicit(message: &str, schema: Value) -> Value {
    json!({
        "method": "elicitation/create",
        "params": { "mode": "form", "message": message, "requestedSchema": schema },
    })
}

fn sample(text: &str, max_tokens: u32) -> Value {
    json!({
        "method": "sampling/createMessage",
        "params": {
            "messages": [{ "role": "user", "content": { "type": "text", "text": text } }],
            "maxTokens": max_tokens,
        },
    })
}

fn roots() -> Value {
    json!({ "method": "roots/list", "params": {} })
}

fn string_schema(field: &str) -> Value {
    json!({
        "type": "object",
        "properties": { field: { "type": "string" } },
        "required": [field],
    })
}

fn bool_schema(field: &str) -> Value {
    json!({
        "type": "object",
        "properties": { field: { "type": "boolean" } },
        "required": [field],
    })
}

fn done_text(text: String) -> Step {
    Step::Done(json!({ "content": [catalog::text(text)] }))
}

fn elicited_summary(answer: &Value) -> String {
    let action = answer
        .get("action")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let content = answer.get("content").cloned().unwrap_or(json!({}));
    format!("action={action}, content={content}")
}

fn sampled_text(answer: &Value) -> String {
    let content = answer.get("content");
    content
        .and_then(|c| c.get("text"))
        .or_else(|| content.and_then(|c| c.get(0)).and_then(|c| c.get("text")))
        .and_then(Value::as_str)
        .map_or_else(
            || content.map(Value::to_string).unwrap_or_default(),
            str::to_owned,
        )
}

fn root_uris(answer: &Value) -> String {
    answer
        .get("roots")
        .and_then(Value::as_array)
        .map(|roots| {
            roots
                .iter()
                .filter_map(|r| r.get("uri").and_then(Value::as_str))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Whether the request is a stateless 2026-07-28 request.
fn is_modern(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.meta
        .protocol_version()
        .is_some_and(|v| v.as_str() >= "2026-07-28")
}

/// The client's capabilities for this request, as JSON.
fn client_capabilities(ctx: &RequestContext<RoleServer>) -> Value {
    ctx.client_capabilities()
        .and_then(|c| serde_json::to_value(c).ok())
        .unwrap_or_else(|| json!({}))
}

fn tool_result(value: Value) -> Result<CallToolResponse, McpError> {
    Ok(CallToolResponse::Complete(complete::<CallToolResult>(
        value,
    )?))
}

impl ServerHandler for ConformanceServer {
    fn get_info(&self) -> ServerConfig {
        self.shared.info.clone()
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.shared.tools.iter().find(|t| t.name == name).cloned()
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.shared.tools.clone()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let name = request.name.as_ref();
        let args = request.arguments.clone().unwrap_or_default();
        if let Some(result) = catalog::fixed_tool_result(name) {
            return tool_result(result);
        }
        if INTERACTIVE_TOOLS.contains(&name) {
            let responses = request.input_responses.clone().unwrap_or_default();
            let responses: Map<String, Value> = responses.into_iter().collect();
            let kind = Interactive::Tool { name, args: &args };
            return match self
                .run_interactive(&ctx, kind, responses, request.request_state.clone())
                .await?
            {
                Outcome::Done(result) => tool_result(result),
                Outcome::InputRequired(result) => Ok(CallToolResponse::InputRequired(result)),
            };
        }
        let text = match name {
            "test_tool_with_logging" => {
                self.log(&ctx, "info", "Tool execution started").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.log(&ctx, "info", "Tool processing data").await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.log(&ctx, "info", "Tool execution completed").await;
                "Tool with logging executed successfully".to_owned()
            }
            "test_logging_tool" => {
                self.log(&ctx, "info", "Logging tool started").await;
                self.log(&ctx, "debug", "Logging tool finished").await;
                "Logging tool executed".to_owned()
            }
            "test_tool_with_progress" => {
                self.progress(&ctx, 0).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.progress(&ctx, 50).await;
                tokio::time::sleep(Duration::from_millis(50)).await;
                self.progress(&ctx, 100).await;
                "Tool with progress executed successfully".to_owned()
            }
            "test_missing_capability" => {
                let caps = client_capabilities(&ctx);
                if !caps.get("sampling").is_some_and(Value::is_object) {
                    return Err(missing_capability("sampling"));
                }
                "The client declared the sampling capability".to_owned()
            }
            "test_trigger_tool_change" => self.announce(Change::Tools),
            "test_trigger_prompt_change" => self.announce(Change::Prompts),
            catalog::HEADER_TOOL => {
                let region = args
                    .get("region")
                    .and_then(Value::as_str)
                    .ok_or_else(|| McpError::invalid_params("missing argument `region`", None))?;
                format!("Region: {region}")
            }
            other => {
                return Err(McpError::invalid_params(
                    format!("unknown tool `{other}`"),
                    None,
                ));
            }
        };
        tool_result(json!({ "content": [catalog::text(text)] }))
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, McpError> {
        Ok(ListPromptsResult::with_all_items(
            self.shared.prompts.clone(),
        ))
    }

    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        ctx: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, McpError> {
        let args = request.arguments.clone().unwrap_or_default();
        match catalog::fixed_prompt(&request.name, &args) {
            Some(Ok(result)) => {
                return Ok(GetPromptResponse::Complete(complete::<GetPromptResult>(
                    result,
                )?));
            }
            Some(Err(message)) => return Err(McpError::invalid_params(message, None)),
            None => {}
        }
        if request.name != "test_input_required_result_prompt" {
            return Err(McpError::invalid_params(
                format!("unknown prompt `{}`", request.name),
                None,
            ));
        }
        let responses: Map<String, Value> = request
            .input_responses
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let kind = Interactive::Prompt {
            name: &request.name,
        };
        match self
            .run_interactive(&ctx, kind, responses, request.request_state.clone())
            .await?
        {
            Outcome::Done(result) => Ok(GetPromptResponse::Complete(complete(result)?)),
            Outcome::InputRequired(result) => Ok(GetPromptResponse::InputRequired(result)),
        }
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        Ok(ListResourcesResult::with_all_items(
            self.shared.resources.clone(),
        ))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, McpError> {
        Ok(ListResourceTemplatesResult::with_all_items(
            self.shared.templates.clone(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        match catalog::read(&request.uri) {
            Some(result) => Ok(ReadResourceResponse::Complete(complete::<
                ReadResourceResult,
            >(result)?)),
            None => Err(McpError::resource_not_found(
                "Resource not found",
                Some(json!({ "uri": request.uri })),
            )),
        }
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut subs) = self.subscriptions.lock() {
            subs.insert(request.uri);
        }
        Ok(())
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        if let Ok(mut subs) = self.subscriptions.lock() {
            subs.remove(&request.uri);
        }
        Ok(())
    }

    #[expect(
        deprecated,
        reason = "logging/setLevel is deprecated in 2026-07-28 but the legacy revisions use it"
    )]
    async fn set_level(
        &self,
        request: rmcp::model::SetLevelRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<(), McpError> {
        let level = serde_json::to_value(&request)
            .ok()
            .and_then(|v| v.get("level").and_then(Value::as_str).map(str::to_owned));
        let rank = level
            .as_deref()
            .and_then(|l| LEVELS.iter().position(|x| *x == l))
            .ok_or_else(|| McpError::invalid_params("unknown log level", None))?;
        if let Ok(mut current) = self.log_level.lock() {
            *current = Some(rank);
        }
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        _ctx: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, McpError> {
        let params = serde_json::to_value(&request).unwrap_or(Value::Null);
        let prefix = params
            .get("argument")
            .and_then(|a| a.get("value"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        complete(catalog::complete(prefix))
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        Some(requested.clone())
    }

    async fn listen(&self, ctx: SubscriptionContext) -> Result<(), McpError> {
        let mut changes = self.shared.changes.subscribe();
        loop {
            tokio::select! {
                () = ctx.cancelled() => return Ok(()),
                change = changes.recv() => {
                    let accepted = ctx.accepted();
                    let sent = match change {
                        Ok(Change::Tools) if accepted.tools_list_changed == Some(true) => {
                            ctx.sink().notify_tool_list_changed().await
                        }
                        Ok(Change::Prompts) if accepted.prompts_list_changed == Some(true) => {
                            ctx.sink().notify_prompt_list_changed().await
                        }
                        Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => Ok(()),
                        Err(broadcast::error::RecvError::Closed) => return Ok(()),
                    };
                    if sent.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::ErrorCode;

    #[test]
    fn the_catalogue_parses() {
        let s = ConformanceServer::new();
        assert_eq!(
            s.catalogue_sizes(),
            [
                catalog::tools().len(),
                catalog::prompts().len(),
                catalog::resources().len(),
                catalog::resource_templates().len()
            ]
        );
    }

    fn all_caps() -> Value {
        json!({ "elicitation": {}, "sampling": {}, "roots": {} })
    }

    fn tool_step(
        s: &ConformanceServer,
        name: &str,
        responses: Value,
        state: Option<&str>,
    ) -> Result<Step, McpError> {
        let Value::Object(responses) = responses else {
            panic!()
        };
        s.step(
            Interactive::Tool { name, args: &EMPTY },
            &responses,
            state,
            &all_caps(),
        )
    }

    #[test]
    fn multi_round_states_differ_and_tampering_fails() {
        let s = ConformanceServer::new();
        let Step::Need {
            state: Some(r1), ..
        } = tool_step(
            &s,
            "test_input_required_result_multi_round",
            json!({}),
            None,
        )
        .unwrap()
        else {
            panic!("round 1 must ask");
        };
        let answer = json!({ "step1": { "action": "accept", "content": { "name": "Alice" } } });
        let Step::Need {
            state: Some(r2),
            requests,
        } = tool_step(
            &s,
            "test_input_required_result_multi_round",
            answer,
            Some(&r1),
        )
        .unwrap()
        else {
            panic!("round 2 must ask");
        };
        assert_ne!(r1, r2);
        assert_eq!(requests[0].0, "step2");
        let answer = json!({ "step2": { "action": "accept", "content": { "color": "blue" } } });
        let Step::Done(done) = tool_step(
            &s,
            "test_input_required_result_multi_round",
            answer.clone(),
            Some(&r2),
        )
        .unwrap() else {
            panic!("round 3 must finish");
        };
        assert!(done.to_string().contains("Alice"));
        let tampered = format!("{r2}-TAMPERED");
        let err = tool_step(
            &s,
            "test_input_required_result_multi_round",
            answer,
            Some(&tampered),
        )
        .err()
        .unwrap();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
    }

    #[test]
    fn malformed_answers_are_refused_and_missing_ones_asked_again() {
        let s = ConformanceServer::new();
        let name = "test_input_required_result_elicitation";
        let err = tool_step(&s, name, json!({ "user_name": 12345 }), None)
            .err()
            .unwrap();
        assert_eq!(err.code, ErrorCode::INVALID_PARAMS);
        assert!(matches!(
            tool_step(
                &s,
                name,
                json!({ "wrong_key": { "action": "accept" } }),
                None
            )
            .unwrap(),
            Step::Need { .. }
        ));
    }

    #[test]
    fn only_declared_capabilities_are_asked_for() {
        let s = ConformanceServer::new();
        let responses = Map::new();
        let step = s
            .step(
                Interactive::Tool {
                    name: "test_input_required_result_capabilities",
                    args: &EMPTY,
                },
                &responses,
                None,
                &json!({ "sampling": {} }),
            )
            .unwrap();
        let Step::Need { requests, .. } = step else {
            panic!()
        };
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].1["method"], "sampling/createMessage");
        let err = s
            .step(
                Interactive::Tool {
                    name: "test_input_required_result_elicitation",
                    args: &EMPTY,
                },
                &responses,
                None,
                &json!({}),
            )
            .err()
            .unwrap();
        assert_eq!(err.code, ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY);
    }

    #[test]
    fn input_requests_convert_to_rmcp_types() {
        for request in [elicit("x", string_schema("name")), sample("x", 10), roots()] {
            typed::<InputRequest>(request.clone()).unwrap();
            typed::<ServerRequest>(request).unwrap();
        }
    }
}
