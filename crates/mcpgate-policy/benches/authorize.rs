//! One `authorize` for a `tools/call` with arguments, and one `filter_list` over ten tools,
//! against a realistic set of twenty policies.

#![expect(
    clippy::unwrap_used,
    reason = "test code: a failure is the test failing"
)]

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use mcpgate_policy::{Action, AuthzRequestBase, PolicyEngine, Target};
use serde_json::{Value, json};

const POLICIES: &str = r#"
@id("connect-staff") permit (principal in Mcp::Group::"staff", action == Mcp::Action::"connect", resource);
@id("connect-admins") permit (principal in Mcp::Group::"admins", action == Mcp::Action::"connect", resource);
@id("admins-all") permit (principal in Mcp::Group::"admins", action, resource in Mcp::Server::"demo");
@id("staff-echo") permit (principal in Mcp::Group::"staff", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"echo");
@id("staff-add") permit (principal in Mcp::Group::"staff", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"add");
@id("staff-search") permit (principal in Mcp::Group::"staff", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"search") when { context.arguments has query };
@id("staff-see-notes") permit (principal in Mcp::Group::"staff", action == Mcp::Action::"list_tools", resource) when { resource in [Mcp::Tool::"read_note", Mcp::Tool::"list_notes"] };
@id("own-notes") permit (principal in Mcp::Group::"staff", action == Mcp::Action::"call_tool", resource == Mcp::Tool::"read_note")
  when { context.arguments has path && context.arguments.path like "notes/bob/*" } unless { context.arguments.path like "*..*" };
@id("list-notes") permit (principal in Mcp::Group::"staff", action == Mcp::Action::"call_tool", resource == Mcp::Tool::"list_notes");
@id("ops-deploy") permit (principal in Mcp::Group::"ops", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"deploy") when { context.scopes.contains("tool:deploy") };
@id("svc-metrics") permit (principal, action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"metrics") when { principal.kind == "service" };
@id("prompts") permit (principal in Mcp::Group::"staff", action in [Mcp::Action::"get_prompt", Mcp::Action::"list_prompts"], resource in Mcp::Server::"demo");
@id("resources") permit (principal in Mcp::Group::"staff", action in [Mcp::Action::"read_resource", Mcp::Action::"list_resources"], resource) when { resource.uri like "file:///public/*" };
@id("complete") permit (principal in Mcp::Group::"staff", action == Mcp::Action::"complete", resource);
@id("no-write-notes") forbid (principal, action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"write_note") unless { principal in Mcp::Group::"admins" };
@id("no-shell") forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"shell");
@id("no-delegated-deploy") forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"deploy") when { context.delegated };
@id("no-legacy-admin") forbid (principal, action == Mcp::Action::"set_log_level", resource) when { context.era == "legacy" };
@id("no-contractors") forbid (principal in Mcp::Group::"contractors", action == Mcp::Action::"call_tool", resource) unless { resource.name == "echo" };
@id("big-search") forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"search") when { context.arguments has limit && context.arguments.limit > 100 };
"#;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.cedar"), POLICIES).unwrap();
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(engine.policy_count(), 20);

    let mut bob = Principal::new("bob", PrincipalKind::User, AuthMethod::Jwt);
    bob.groups = vec!["staff".to_owned(), "engineering".to_owned()];
    bob.attributes
        .insert("email".to_owned(), json!("bob@example.com"));
    bob.scopes = Some(vec!["tool:*".to_owned()]);
    let extra = BTreeMap::new();
    let base = AuthzRequestBase {
        principal: &bob,
        upstream: "demo",
        era: "modern",
        protocol_version: "2025-11-25",
        extra: &extra,
    };
    let args = json!({"path": "notes/bob/2026/todo.md", "encoding": "utf-8", "max_bytes": 65536});
    let request = base.request(Action::CallTool, Target::Tool("read_note"), Some(&args));
    assert!(engine.authorize(&request).allowed);
    c.bench_function("authorize call_tool with arguments (20 policies)", |b| {
        b.iter(|| black_box(engine.authorize(black_box(&request))))
    });

    let tools: Vec<Value> = [
        "echo",
        "add",
        "search",
        "read_note",
        "list_notes",
        "write_note",
        "deploy",
        "metrics",
        "shell",
        "fetch",
    ]
    .iter()
    .map(|name| {
        json!({"name": name, "description": format!("The {name} tool"),
               "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}}})
    })
    .collect();
    let list = json!({ "tools": tools });
    let mut check = list.clone();
    assert_eq!(engine.filter_list("tools/list", &base, &mut check), 6);
    c.bench_function("filter_list tools/list of 10 (20 policies)", |b| {
        b.iter_batched_ref(
            || list.clone(),
            |result| black_box(engine.filter_list("tools/list", &base, result)),
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
