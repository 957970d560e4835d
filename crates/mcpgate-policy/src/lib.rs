//! Cedar authorization for mcpgate.
//!
//! mcpgate decides every MCP request that reaches an upstream with [Cedar] policies, and
//! filters the results of the list methods so that a caller sees only what it may use. This
//! crate holds the schema, loads and validates policy files, keeps the set in force behind an
//! atomic pointer for hot reload, and answers [`AuthzRequest`]s. It does no network I/O and
//! needs no async runtime; the pipeline, configuration and CLI wire it in.
//!
//! [Cedar]: https://www.cedarpolicy.com/
//!
//! # The model
//!
//! Everything lives in the Cedar namespace `Mcp` (the schema is [`SCHEMA`], checked in as
//! `schema/mcp.cedarschema`):
//!
//! - **principal** `Mcp::User::"<id>"`, a member of `Mcp::Group::"<g>"` for each of its groups,
//!   with attributes `kind` (`"user"`, `"service"`, `"agent"`), `auth_method` (`"api_key"`,
//!   `"jwt"`, ...) and `claims` (the principal's free-form attributes or token claims);
//! - **resource** `Mcp::Server::"<upstream>"` for `connect`, `complete` and `set_log_level`,
//!   or an item of the upstream, a member of its server with a `server` attribute:
//!   `Mcp::Tool::"<name>"` (attribute `name`), `Mcp::Resource::"<uri>"` (`uri`),
//!   `Mcp::ResourceTemplate::"<uriTemplate>"` (`uri_template`), `Mcp::Prompt::"<name>"`
//!   (`name`). An item's id is its name or URI only, so `resource == Mcp::Tool::"echo"` matches
//!   a tool `echo` on every upstream; add `resource in Mcp::Server::"demo"` to pin the upstream;
//! - **action** `Mcp::Action::"<action>"`, see [`Action`] and [`classify`] for which method
//!   needs which. The list methods are not decided themselves: their items are, one by one,
//!   with the `list_*` actions ([`PolicyEngine::filter_list`]);
//! - **context**: `arguments` (the tool's or prompt's arguments, free-form, `{}` when absent),
//!   `era` (`"legacy"` or `"modern"`), `protocol_version`, `auth_method`, `scopes` (empty for
//!   an unscoped credential), `delegated`, `upstream`, and `extra`, a record of facts from
//!   other stages (message signatures: `signed`, `trust_level`, `signer`), given to the
//!   engine as a map so that a new fact needs no API change, only a line in the schema.
//!
//! A policy reads the free-form records with `has` guards, as usual in Cedar:
//!
//! ```cedar
//! @id("bob-reads-his-notes")
//! permit (principal == Mcp::User::"bob", action == Mcp::Action::"call_tool",
//!         resource == Mcp::Tool::"read_note")
//! when { context.arguments has path && context.arguments.path like "notes/bob/*" }
//! unless { context.arguments.path like "*..*" };
//! ```
//!
//! JSON argument values map to Cedar values directly: strings, booleans, 64-bit integers,
//! arrays (sets) and objects (records); `null` members are left out and other numbers become
//! their decimal text.
//!
//! # Validation
//!
//! Every loaded set is validated against the schema in strict mode; validation errors fail
//! the load. Cedar 4 has no open records in validated schemas, so `context.arguments` and
//! `principal.claims` are absent from the schema and the validator's "attribute not found"
//! error on an access to them is dropped; the rest of each policy is still type-checked. The
//! operations on a free-form value are checked at evaluation time instead: a permit that fails
//! to evaluate (say, `context.arguments.path` without a `has` guard when there is no `path`)
//! does not allow, and a forbid that fails to evaluate denies.
//!
//! # Files and ids
//!
//! [`PolicyEngine::load`] takes `.cedar` files and directories of them (read in name order, not
//! recursively). A policy's id is its `@id("...")` annotation, or else `<file name>:<line>`
//! of its first line; two policies with one id fail the load. Problems are reported as
//! `file:line:column: message` ([`Problem`]). [`PolicyEngine::reload`] re-reads the same paths,
//! does nothing when their content is unchanged, and on any error keeps the set in force.
//!
//! # Decisions
//!
//! [`PolicyEngine::authorize`] is Cedar's default deny: allowed when some permit applies and no
//! forbid does. The [`Decision`] names the determining policies and any evaluation errors, for
//! `mcpgate policy test` and the audit log. A request for an item the upstream does not have is
//! decided like any other: policies cannot tell it apart from an existing item they deny.

mod action;
mod engine;
mod error;
mod load;
mod position;

pub use action::{Action, ListSpec, Target, TargetKind, classify, list_spec};
pub use engine::{AuthzRequest, AuthzRequestBase, Decision, PolicyEngine, ReloadOutcome, SCHEMA};
pub use error::{PolicyError, Problem};
