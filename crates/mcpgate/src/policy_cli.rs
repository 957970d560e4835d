//! `mcpgate policy check|test` and `mcpgate keys hash`: checking policies and preparing
//! credentials without running the gateway.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Subcommand;
use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use mcpgate_policy::{Action, AuthzRequest, PolicyEngine, Target, TargetKind};
use serde_json::Value;

/// `mcpgate policy …`
#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Check Cedar policy files (or directories of them) against the MCP schema: prints the
    /// policy ids, or each problem with its file, line and column.
    Check {
        /// `.cedar` files or directories.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// Decide one request and print ALLOW or DENY with the policies that determined it
    /// (exit 0 for ALLOW, 1 for DENY).
    Test(Box<TestArgs>),
}

/// `mcpgate policy test` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct TestArgs {
    /// Take the policies from this configuration's `[authorization]`, and the principal's
    /// groups and attributes from its `[auth]` (API keys, stdio principal).
    #[arg(long, short, conflicts_with = "policies")]
    config: Option<PathBuf>,
    /// `.cedar` files or directories (instead of --config).
    #[arg(long = "policies")]
    policies: Vec<PathBuf>,
    /// The principal id.
    #[arg(long)]
    principal: String,
    /// Groups of the principal (repeatable), added to those from --config.
    #[arg(long = "group")]
    groups: Vec<String>,
    /// How the principal authenticated: api_key, jwt, gateway_token, mtls, stdio, none.
    #[arg(long, default_value = "api_key")]
    auth_method: String,
    /// The action: connect, call_tool, list_tools, read_resource, list_resources,
    /// list_resource_templates, subscribe, get_prompt, list_prompts, complete,
    /// set_log_level.
    #[arg(long)]
    action: String,
    /// The upstream (Cedar `Server`).
    #[arg(long, default_value = "demo")]
    server: String,
    /// The tool (for call_tool, list_tools).
    #[arg(long, group = "item")]
    tool: Option<String>,
    /// The resource URI (for read_resource, list_resources, subscribe) or template.
    #[arg(long, group = "item")]
    resource: Option<String>,
    /// The prompt (for get_prompt, list_prompts).
    #[arg(long, group = "item")]
    prompt: Option<String>,
    /// The arguments, as a JSON object (`-` reads them from standard input).
    #[arg(long)]
    args: Option<String>,
    /// The protocol era: legacy or modern.
    #[arg(long, default_value = "legacy")]
    era: String,
}

/// `mcpgate keys hash`: the line to put in `[[auth.api_keys]]`.
pub(crate) fn hash_key(generate: bool) -> anyhow::Result<ExitCode> {
    let key = if generate {
        let key = mcpgate_auth::generate_api_key();
        // The new key goes to standard error so that standard output is only the hash.
        eprintln!("new API key (give it to the client; it is not stored anywhere): {key}");
        key
    } else {
        let mut key = String::new();
        std::io::stdin()
            .read_to_string(&mut key)
            .context("cannot read the key from standard input")?;
        while key.ends_with(['\n', '\r']) {
            key.pop();
        }
        if key.is_empty() {
            anyhow::bail!("no key given: pipe the key on standard input, or use --generate");
        }
        key
    };
    println!("{}", mcpgate_auth::hash_api_key(&key));
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn run(command: PolicyCommand) -> anyhow::Result<ExitCode> {
    match command {
        PolicyCommand::Check { paths } => match PolicyEngine::load(&paths) {
            Ok(engine) => {
                let ids = engine.policy_ids();
                println!("ok: {} policies", ids.len());
                for id in ids {
                    println!("  {id}");
                }
                Ok(ExitCode::SUCCESS)
            }
            Err(error) => {
                eprintln!("mcpgate: {error}");
                Ok(ExitCode::from(1))
            }
        },
        PolicyCommand::Test(test) => {
            let TestArgs {
                config,
                policies,
                principal,
                groups,
                auth_method,
                action,
                server,
                tool,
                resource,
                prompt,
                args,
                era,
            } = *test;
            let (paths, mut who) = match &config {
                Some(file) => {
                    let config = mcpgate_config::load(file)?;
                    let Some(authz) = &config.authorization else {
                        anyhow::bail!("`{}` has no `[authorization]` section", file.display());
                    };
                    (
                        authz.policies.clone(),
                        configured_principal(&config, &principal),
                    )
                }
                None if policies.is_empty() => {
                    anyhow::bail!("name the policies with --policies PATH or --config FILE")
                }
                None => (policies, None),
            };
            let method = parse_method(&auth_method)?;
            let mut p = who
                .take()
                .unwrap_or_else(|| Principal::new(principal.clone(), PrincipalKind::User, method));
            p.method = method;
            for g in groups {
                if !p.groups.contains(&g) {
                    p.groups.push(g);
                }
            }
            let action = parse_action(&action)?;
            let kind = action.target_kind();
            let item = tool
                .as_deref()
                .or(resource.as_deref())
                .or(prompt.as_deref());
            let target = match (kind, item) {
                (TargetKind::Server, None) => Target::Server,
                (TargetKind::Server, Some(_)) => {
                    anyhow::bail!(
                        "`{}` is about the server: drop --tool/--resource/--prompt",
                        action.as_str()
                    )
                }
                (kind, Some(id)) => kind.target(id),
                (_, None) => anyhow::bail!(
                    "`{}` needs the item it is about: --tool, --resource or --prompt",
                    action.as_str()
                ),
            };
            let arguments: Option<Value> = match args.as_deref() {
                None => None,
                Some("-") => {
                    let mut text = String::new();
                    std::io::stdin().read_to_string(&mut text)?;
                    Some(serde_json::from_str(&text).context("--args is not JSON")?)
                }
                Some(text) => Some(serde_json::from_str(text).context("--args is not JSON")?),
            };
            if arguments.as_ref().is_some_and(|a| !a.is_object()) {
                anyhow::bail!("--args must be a JSON object");
            }
            let era_name = match era.as_str() {
                "legacy" => "legacy",
                "modern" => "modern",
                other => anyhow::bail!("`{other}` is not an era: use legacy or modern"),
            };
            let version = if era_name == "modern" {
                "2026-07-28"
            } else {
                "2025-11-25"
            };
            let engine = PolicyEngine::load(&paths)?;
            let extra = BTreeMap::new();
            let decision = engine.authorize(&AuthzRequest {
                principal: &p,
                action,
                upstream: &server,
                resource: target,
                arguments: arguments.as_ref(),
                era: era_name,
                protocol_version: version,
                extra: &extra,
            });
            println!("{}", if decision.allowed { "ALLOW" } else { "DENY" });
            if decision.determining.is_empty() {
                println!("  determined by: no policy applies (default deny)");
            } else {
                println!("  determined by: {}", decision.determining.join(", "));
            }
            for error in &decision.errors {
                println!("  evaluation error: {error}");
            }
            Ok(if decision.allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
    }
}

/// The principal `id` as the configuration defines it (an API key's or the stdio principal).
fn configured_principal(config: &mcpgate_config::Config, id: &str) -> Option<Principal> {
    let auth = config.auth.as_ref()?;
    let found = auth
        .api_keys
        .iter()
        .map(|k| &k.principal)
        .chain(std::iter::once(&auth.stdio))
        .find(|p| p.id == id)?;
    Some(crate::security::principal(found, AuthMethod::ApiKey))
}

fn parse_method(text: &str) -> anyhow::Result<AuthMethod> {
    Ok(match text {
        "none" => AuthMethod::None,
        "api_key" => AuthMethod::ApiKey,
        "jwt" => AuthMethod::Jwt,
        "gateway_token" => AuthMethod::GatewayToken,
        "mtls" => AuthMethod::Mtls,
        "stdio" => AuthMethod::Stdio,
        other => anyhow::bail!(
            "`{other}` is not an authentication method: use api_key, jwt, gateway_token, mtls, stdio or none"
        ),
    })
}

fn parse_action(text: &str) -> anyhow::Result<Action> {
    Action::ALL
        .iter()
        .copied()
        .find(|a| a.as_str() == text)
        .with_context(|| {
            format!(
                "`{text}` is not an action: use {}",
                Action::ALL
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}
