//! Decisions, list filtering, loading, reloading and error reporting of the policy engine.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    reason = "test code: a failure is the test failing"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mcpgate_core::{AuthMethod, Principal, PrincipalKind};
use mcpgate_policy::{
    Action, AuthzRequest, AuthzRequestBase, Decision, PolicyEngine, PolicyError, ReloadOutcome,
    Target,
};
use serde_json::{Value, json};

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/demo")
}

fn demo() -> PolicyEngine {
    PolicyEngine::load(&[demo_dir()]).unwrap()
}

fn user(id: &str, groups: &[&str]) -> Principal {
    let mut p = Principal::new(id, PrincipalKind::User, AuthMethod::ApiKey);
    p.groups = groups.iter().map(|g| g.to_string()).collect();
    p
}

fn alice() -> Principal {
    user("alice", &["admins"])
}

fn bob() -> Principal {
    user("bob", &["staff"])
}

fn no_extra() -> &'static BTreeMap<String, Value> {
    static EMPTY: BTreeMap<String, Value> = BTreeMap::new();
    &EMPTY
}

fn base(principal: &Principal) -> AuthzRequestBase<'_> {
    AuthzRequestBase {
        principal,
        upstream: "demo",
        era: "legacy",
        protocol_version: "2025-06-18",
        extra: no_extra(),
    }
}

fn call(
    engine: &PolicyEngine,
    principal: &Principal,
    tool: &str,
    args: Option<&Value>,
) -> Decision {
    engine.authorize(&base(principal).request(Action::CallTool, Target::Tool(tool), args))
}

fn connect(engine: &PolicyEngine, principal: &Principal) -> Decision {
    engine.authorize(&base(principal).request(Action::Connect, Target::Server, None))
}

/// A temporary policy directory with the given files.
fn policy_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

/// Replaces a file the way an editor or a deployment tool does: write aside, then rename.
fn replace_atomically(path: &Path, text: &str) {
    let aside = path.with_extension("tmp");
    std::fs::write(&aside, text).unwrap();
    std::fs::rename(&aside, path).unwrap();
}

fn problems(error: PolicyError) -> Vec<mcpgate_policy::Problem> {
    match error {
        PolicyError::Invalid { problems } => problems,
        other => panic!("expected invalid policies, got {other:?}"),
    }
}

const PERMIT_ECHO_FOR_ALL: &str = r#"@id("echo-for-all")
permit (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"echo");
"#;

#[test]
fn alice_may_call_and_see_every_demo_tool() {
    let engine = demo();
    let alice = alice();
    for tool in ["echo", "add", "read_note", "write_note"] {
        let d = call(
            &engine,
            &alice,
            tool,
            Some(&json!({"path": "notes/bob/../x"})),
        );
        assert!(d.allowed, "{tool}: {d:?}");
        assert_eq!(d.determining, ["admins-all-demo-tools"], "{tool}");
        assert!(d.errors.is_empty());
    }
    // Only on the demo upstream.
    let mut other = base(&alice);
    other.upstream = "other";
    assert!(
        !engine
            .authorize(&other.request(Action::CallTool, Target::Tool("echo"), None))
            .allowed
    );
}

#[test]
fn bob_may_call_echo_and_add_only() {
    let engine = demo();
    let bob = bob();
    for tool in ["echo", "add"] {
        let d = call(&engine, &bob, tool, Some(&json!({"a": 1, "b": 2})));
        assert!(d.allowed, "{tool}");
        assert_eq!(d.determining, ["bob-basic-tools"]);
    }
    let d = call(
        &engine,
        &bob,
        "write_note",
        Some(&json!({"path": "notes/bob/x"})),
    );
    assert!(!d.allowed);
    assert_eq!(d.determining, ["only-admins-write-notes"]);
}

#[test]
fn bob_reads_only_his_own_notes() {
    let engine = demo();
    let bob = bob();
    let read = |path: &str| call(&engine, &bob, "read_note", Some(&json!({ "path": path })));
    let allowed = read("notes/bob/todo.md");
    assert!(allowed.allowed);
    assert_eq!(
        allowed.determining,
        ["bob.cedar:19"],
        "unnamed policy gets file:line"
    );
    for denied in [
        "notes/bob/../alice/x",
        "notes/alice/x",
        "notes/bob",
        "/notes/bob/x",
        "../notes/bob/x",
    ] {
        assert_eq!(read(denied), Decision::default(), "{denied}");
    }
    // Missing or mistyped arguments deny without evaluation errors thanks to the `has` guard.
    assert_eq!(call(&engine, &bob, "read_note", None), Decision::default());
    assert_eq!(
        call(
            &engine,
            &bob,
            "read_note",
            Some(&json!({"file": "notes/bob/x"}))
        ),
        Decision::default()
    );
    let d = call(&engine, &bob, "read_note", Some(&json!({"path": 7})));
    assert!(!d.allowed);
    assert_eq!(d.errors.len(), 1, "{d:?}");
    assert!(d.errors[0].starts_with("policy `bob.cedar:19`:"), "{d:?}");
    // Non-object arguments are refused outright.
    assert!(!call(&engine, &bob, "echo", Some(&json!(["notes/bob/x"]))).allowed);
}

#[test]
fn both_may_connect_but_nobody_else() {
    let engine = demo();
    assert!(connect(&engine, &alice()).allowed);
    assert!(connect(&engine, &bob()).allowed);
    assert_eq!(
        connect(&engine, &user("carol", &["staff"])),
        Decision::default()
    );
    assert_eq!(
        connect(&engine, &Principal::anonymous()),
        Decision::default()
    );
}

#[test]
fn an_unknown_tool_is_denied_like_a_denied_known_one() {
    let engine = demo();
    let bob = bob();
    let carol = user("carol", &[]);
    let unknown = call(&engine, &bob, "no_such_tool", None);
    assert_eq!(unknown, Decision::default());
    assert_eq!(unknown, call(&engine, &carol, "echo", None));
    assert_eq!(
        unknown,
        call(
            &engine,
            &bob,
            "read_note",
            Some(&json!({"path": "notes/alice/x"}))
        )
    );
    assert_eq!(unknown, call(&engine, &carol, "no_such_tool", None));
}

fn tools_list() -> Value {
    let tool = |name: &str| {
        json!({
            "name": name,
            "description": format!("The {name} tool"),
            "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}},
            "annotations": {"readOnlyHint": name != "write_note"}
        })
    };
    json!({
        "tools": [tool("echo"), tool("add"), tool("read_note"), tool("write_note"), {"description": "no name"}],
        "nextCursor": "page-2"
    })
}

fn names(result: &Value, key: &str, id: &str) -> Vec<String> {
    result[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[id].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn tools_list_shows_each_principal_what_it_may_see() {
    let engine = demo();
    let (alice, bob) = (alice(), bob());

    let mut result = tools_list();
    assert_eq!(
        engine.filter_list("tools/list", &base(&alice), &mut result),
        1,
        "the nameless item goes"
    );
    assert_eq!(
        names(&result, "tools", "name"),
        ["echo", "add", "read_note", "write_note"]
    );
    assert_eq!(result["nextCursor"], "page-2");
    assert_eq!(
        result["tools"][0]["inputSchema"]["properties"]["path"]["type"],
        "string"
    );

    let mut result = tools_list();
    assert_eq!(
        engine.filter_list("tools/list", &base(&bob), &mut result),
        2
    );
    assert_eq!(
        names(&result, "tools", "name"),
        ["echo", "add", "read_note"]
    );

    let mut result = tools_list();
    assert_eq!(
        engine.filter_list("tools/list", &base(&user("carol", &[])), &mut result),
        5
    );
    assert_eq!(result["tools"], json!([]));

    // Methods that are not list methods, and results without the array, are left alone.
    let mut result = tools_list();
    assert_eq!(
        engine.filter_list("tools/call", &base(&bob), &mut result),
        0
    );
    assert_eq!(result, tools_list());
    let mut empty = json!({});
    assert_eq!(engine.filter_list("tools/list", &base(&bob), &mut empty), 0);
}

#[test]
fn the_other_lists_are_filtered_by_their_own_actions() {
    let dir = policy_dir(&[(
        "lists.cedar",
        r#"
permit (principal, action == Mcp::Action::"list_resources", resource)
when { resource.uri like "file:///public/*" };
permit (principal, action == Mcp::Action::"list_resource_templates", resource)
when { resource.uri_template == "file:///public/{name}" };
permit (principal, action == Mcp::Action::"list_prompts", resource == Mcp::Prompt::"greet");
"#,
    )]);
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let bob = bob();
    let mut resources = json!({"resources": [
        {"uri": "file:///public/a", "name": "a"}, {"uri": "file:///private/b", "name": "b"}
    ]});
    assert_eq!(
        engine.filter_list("resources/list", &base(&bob), &mut resources),
        1
    );
    assert_eq!(names(&resources, "resources", "uri"), ["file:///public/a"]);
    let mut templates = json!({"resourceTemplates": [
        {"uriTemplate": "file:///public/{name}", "name": "p"}, {"uriTemplate": "file:///x/{name}", "name": "x"}
    ]});
    assert_eq!(
        engine.filter_list("resources/templates/list", &base(&bob), &mut templates),
        1
    );
    assert_eq!(
        names(&templates, "resourceTemplates", "uriTemplate"),
        ["file:///public/{name}"]
    );
    let mut prompts = json!({"prompts": [{"name": "greet"}, {"name": "exfiltrate"}]});
    assert_eq!(
        engine.filter_list("prompts/list", &base(&bob), &mut prompts),
        1
    );
    assert_eq!(names(&prompts, "prompts", "name"), ["greet"]);
    // The listing actions do not grant the use.
    let read = base(&bob).request(
        Action::ReadResource,
        Target::Resource("file:///public/a"),
        None,
    );
    assert!(!engine.authorize(&read).allowed);
}

#[test]
fn a_mismatched_action_and_target_is_denied() {
    let dir = policy_dir(&[("all.cedar", "permit (principal, action, resource);")]);
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let bob = bob();
    assert!(
        engine
            .authorize(&base(&bob).request(Action::CallTool, Target::Tool("x"), None))
            .allowed
    );
    let d = engine.authorize(&base(&bob).request(Action::CallTool, Target::Server, None));
    assert!(!d.allowed);
    assert_eq!(d.errors.len(), 1);
}

#[test]
fn hot_reload_swaps_the_set_and_keeps_it_on_error() {
    let dir = policy_dir(&[("echo.cedar", PERMIT_ECHO_FOR_ALL)]);
    let file = dir.path().join("echo.cedar");
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let carol = user("carol", &[]);
    assert!(call(&engine, &carol, "echo", None).allowed);
    assert_eq!(engine.reload().unwrap(), ReloadOutcome::Unchanged);

    replace_atomically(
        &file,
        r#"@id("echo-for-admins")
permit (principal in Mcp::Group::"admins", action == Mcp::Action::"call_tool", resource == Mcp::Tool::"echo");
"#,
    );
    assert_eq!(
        engine.reload().unwrap(),
        ReloadOutcome::Reloaded { policies: 1 }
    );
    assert!(!call(&engine, &carol, "echo", None).allowed);
    assert_eq!(
        call(&engine, &alice(), "echo", None).determining,
        ["echo-for-admins"]
    );

    // A broken file: the error names the spot, the set in force stays.
    replace_atomically(
        &file,
        "// broken\npermit (principal, action, resource)\nwhen { 1 + };\n",
    );
    let error = engine.reload().unwrap_err();
    let text = error.to_string();
    let problems = problems(error);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].file, file);
    assert_eq!((problems[0].line, problems[0].column), (3, 12), "{text}");
    assert!(
        problems[0].message.starts_with("unexpected token `}`"),
        "{text}"
    );
    assert!(
        text.starts_with(&format!("{}:3:12: unexpected token", file.display())),
        "{text}"
    );
    assert!(call(&engine, &alice(), "echo", None).allowed);
    assert!(!call(&engine, &carol, "echo", None).allowed);
    assert_eq!(engine.policy_ids(), ["echo-for-admins"]);

    // A new file in the directory is picked up; a deleted one dropped.
    replace_atomically(&file, PERMIT_ECHO_FOR_ALL);
    std::fs::write(
        dir.path().join("more.cedar"),
        "permit (principal, action == Mcp::Action::\"connect\", resource);",
    )
    .unwrap();
    assert_eq!(
        engine.reload().unwrap(),
        ReloadOutcome::Reloaded { policies: 2 }
    );
    assert_eq!(engine.policy_ids(), ["echo-for-all", "more.cedar:1"]);
    std::fs::remove_file(dir.path().join("more.cedar")).unwrap();
    assert_eq!(
        engine.reload().unwrap(),
        ReloadOutcome::Reloaded { policies: 1 }
    );

    // A missing path is an error too, and the set stays.
    let gone = PolicyEngine::load(std::slice::from_ref(&file)).unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(matches!(gone.reload(), Err(PolicyError::Read { .. })));
    assert!(call(&gone, &carol, "echo", None).allowed);
}

#[test]
fn hot_reload_is_seen_by_concurrent_readers() {
    let dir = policy_dir(&[("echo.cedar", PERMIT_ECHO_FOR_ALL)]);
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let carol = user("carol", &[]);
    std::thread::scope(|s| {
        let reader = s.spawn(|| {
            // Every decision is from one whole set: allowed by echo-for-all, or denied by default.
            let mut seen_deny = false;
            for _ in 0..100_000 {
                let d = call(&engine, &carol, "echo", None);
                if d.allowed {
                    assert_eq!(d.determining, ["echo-for-all"]);
                } else {
                    assert_eq!(d, Decision::default());
                    seen_deny = true;
                    break;
                }
            }
            seen_deny
        });
        replace_atomically(&dir.path().join("echo.cedar"), "// nothing\n");
        assert_eq!(
            engine.reload().unwrap(),
            ReloadOutcome::Reloaded { policies: 0 }
        );
        assert!(reader.join().unwrap(), "the reader never saw the new set");
    });
}

#[test]
fn duplicate_ids_are_a_load_error() {
    let dir = policy_dir(&[
        ("a.cedar", PERMIT_ECHO_FOR_ALL),
        ("b.cedar", &format!("// b\n\n{PERMIT_ECHO_FOR_ALL}")),
    ]);
    let problems = problems(PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap_err());
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].file, dir.path().join("b.cedar"));
    assert_eq!((problems[0].line, problems[0].column), (3, 1));
    assert_eq!(
        problems[0].message,
        format!(
            "duplicate policy id `echo-for-all` (first used at {}:1:1)",
            dir.path().join("a.cedar").display()
        )
    );
}

#[test]
fn schema_violations_are_load_errors_with_positions() {
    let dir = policy_dir(&[(
        "bad.cedar",
        r#"permit (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"echo");
permit (principal, action == Mcp::Action::"delete_everything", resource);
permit (principal, action == Mcp::Action::"call_tool", resource)
when { context.arguments has path && context.arguments.path like "x*" && context.era == 3 };
permit (principal, action == Mcp::Action::"connect", resource)
when { principal.claims.team == "blue" && principal.nickname == "b" };
forbid (principal, action == Mcp::Action::"call_tool", resource)
when { context.extra.trust_level < 2 };
"#,
    )]);
    let error = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap_err();
    let problems = problems(error);
    let at: Vec<_> = problems.iter().map(|p| (p.line, p.column)).collect();
    // The unknown action, the type error and the unknown attribute; the free-form accesses
    // to `context.arguments` and `principal.claims` are accepted.
    assert_eq!(at, [(2, 30), (4, 74), (6, 43), (8, 8)], "{problems:#?}");
    assert!(
        problems[0]
            .message
            .contains("unrecognized action `Mcp::Action::\"delete_everything\"`"),
        "{problems:#?}"
    );
    assert!(
        problems[1]
            .message
            .contains("Long and String are not compatible"),
        "{problems:#?}"
    );
    assert!(problems[2].message.contains("`nickname`"), "{problems:#?}");
    assert!(
        problems[3].message.contains("`extra.trust_level`"),
        "{problems:#?}"
    );
    assert!(
        problems
            .iter()
            .all(|p| p.message.contains("for policy `bad.cedar:"))
    );
}

#[test]
fn templates_and_multiple_syntax_errors_are_reported() {
    let dir = policy_dir(&[
        (
            "t.cedar",
            "permit (principal == ?principal, action, resource);",
        ),
        (
            "u.cedar",
            "permit (principal, action, resource) when { context.era == };\n",
        ),
    ]);
    let problems = problems(PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap_err());
    assert_eq!(problems.len(), 2, "{problems:#?}");
    assert!(problems[0].message.contains("templates"));
    assert_eq!(problems[1].file, dir.path().join("u.cedar"));
    assert_eq!((problems[1].line, problems[1].column), (1, 60));
}

#[test]
fn evaluation_errors_never_allow() {
    let dir = policy_dir(&[(
        "p.cedar",
        r#"@id("unguarded")
permit (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"echo")
when { context.arguments.path like "notes/*" };

@id("add-for-all")
permit (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"add");

@id("forbid-large")
forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"add")
when { context.arguments.a > 1000 };
"#,
    )]);
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let bob = bob();
    // A permit that errors does not allow.
    let d = call(&engine, &bob, "echo", Some(&json!({})));
    assert!(!d.allowed);
    assert!(d.determining.is_empty());
    assert_eq!(d.errors.len(), 1);
    assert!(d.errors[0].starts_with("policy `unguarded`: "), "{d:?}");
    assert!(call(&engine, &bob, "echo", Some(&json!({"path": "notes/x"}))).allowed);

    // A forbid that errors denies, although a permit applies.
    let d = call(&engine, &bob, "add", Some(&json!({"a": "many"})));
    assert!(!d.allowed, "{d:?}");
    assert_eq!(d.determining, ["forbid-large"]);
    assert_eq!(d.errors.len(), 1);
    assert!(d.errors[0].starts_with("policy `forbid-large`: "), "{d:?}");
    assert!(!call(&engine, &bob, "add", None).allowed);
    let d = call(&engine, &bob, "add", Some(&json!({"a": 1})));
    assert_eq!(d.determining, ["add-for-all"]);
    assert!(d.allowed);
    let d = call(&engine, &bob, "add", Some(&json!({"a": 1001})));
    assert_eq!(
        (d.allowed, d.determining, d.errors.len()),
        (false, vec!["forbid-large".to_owned()], 0)
    );
}

#[test]
fn context_and_principal_attributes_reach_the_policies() {
    let dir = policy_dir(&[(
        "p.cedar",
        r#"permit (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"deploy")
when {
  principal.kind == "service" && principal.auth_method == "jwt" &&
  principal.claims has team && principal.claims.team == "ops" &&
  context.scopes.contains("tool:deploy") && !context.delegated &&
  context.era == "modern" && context.protocol_version == "2025-11-25" &&
  context.auth_method == "jwt" && context.upstream == "demo" &&
  context.extra has signed && context.extra.signed &&
  context.arguments.replicas <= 3 && context.arguments.regions.contains("eu") &&
  context.arguments.options.dry_run == false && !(context.arguments has note)
};
"#,
    )]);
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let mut svc = Principal::new("ci", PrincipalKind::Service, AuthMethod::Jwt);
    svc.attributes.insert("team".to_owned(), json!("ops"));
    svc.scopes = Some(vec!["tool:deploy".to_owned()]);
    let extra = BTreeMap::from([("signed".to_owned(), json!(true))]);
    let args = json!({"replicas": 2, "regions": ["eu", "us"], "options": {"dry_run": false}, "note": null, "ratio": 0.5});
    let req = |p: &Principal, args: Value| {
        let base = AuthzRequestBase {
            principal: p,
            upstream: "demo",
            era: "modern",
            protocol_version: "2025-11-25",
            extra: &extra,
        };
        engine.authorize(&AuthzRequest {
            arguments: Some(&args),
            ..base.request(Action::CallTool, Target::Tool("deploy"), None)
        })
    };
    let d = req(&svc, args.clone());
    assert!(d.allowed, "{d:?}");
    let mut too_many = args.clone();
    too_many["replicas"] = json!(4);
    assert!(!req(&svc, too_many).allowed);
    let mut delegated = svc.clone();
    delegated.delegated = true;
    assert!(!req(&delegated, args.clone()).allowed);
    let mut unscoped = svc.clone();
    unscoped.scopes = None;
    assert!(!req(&unscoped, args).allowed);
}

#[test]
fn arguments_cannot_forge_entities() {
    let dir = policy_dir(&[(
        "p.cedar",
        r#"permit (principal, action == Mcp::Action::"call_tool", resource)
when { context.arguments has owner && context.arguments.owner == principal };
"#,
    )]);
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    let bob = bob();
    let forged = json!({"owner": {"__entity": {"type": "Mcp::User", "id": "bob"}}});
    let d = call(&engine, &bob, "echo", Some(&forged));
    assert_eq!((d.allowed, d.errors.len()), (false, 0), "{d:?}");
    let forged = json!({"owner": {"__expr": "principal"}});
    assert!(!call(&engine, &bob, "echo", Some(&forged)).allowed);
}

#[test]
fn load_takes_files_and_directories_in_order() {
    let dir = policy_dir(&[
        ("b.cedar", PERMIT_ECHO_FOR_ALL),
        (
            "a.cedar",
            "permit (principal, action == Mcp::Action::\"connect\", resource);\n",
        ),
        ("notes.txt", "not a policy"),
    ]);
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::fs::write(dir.path().join("sub/c.cedar"), "garbage").unwrap();
    let engine = PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(engine.policy_ids(), ["a.cedar:1", "echo-for-all"]);
    let single = PolicyEngine::load(&[dir.path().join("a.cedar"), demo_dir()]).unwrap();
    assert_eq!(single.policy_count(), 1 + 6);
    let empty = PolicyEngine::load(&[]).unwrap();
    assert_eq!(call(&empty, &alice(), "echo", None), Decision::default());
    assert!(matches!(
        PolicyEngine::load(&[dir.path().join("missing.cedar")]),
        Err(PolicyError::Read { .. })
    ));
}
