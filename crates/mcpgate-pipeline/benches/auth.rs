//! What authentication and authorization add to one `tools/call`, measured against the same
//! pipeline without them (validation only), in the same run.
//!
//! * `direct`: the request-side pipeline with validation only (what every message pays).
//! * `api_key`: the front's authentication with an API key among 20 configured keys, then the
//!   pipeline with the authentication stage and Cedar authorization over 20 policies.
//! * `jwt`: the same with an ES256 JWT checked against a key set. A client sends the same
//!   token with every call; after its first use the verified token is remembered until its
//!   `exp`, so this is the steady state. `jwt first use` is the signature check itself.
//!
//! The added cost of a variant is its time minus `direct`.

#![expect(
    clippy::unwrap_used,
    reason = "bench code: a failure is the bench failing"
)]

use std::hint::black_box;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use criterion::{Criterion, criterion_group, criterion_main};
use mcpgate_auth::{
    ApiKeys, Authenticator, AuthenticatorConfig, JwksSource, JwtConfig, JwtValidator, hash_api_key,
};
use mcpgate_core::{
    AuthMethod, Direction, Exchange, Limits, Message, Principal, PrincipalKind, ProtocolVersion,
};
use mcpgate_pipeline::{AuditLog, Authorize, Pipeline, Validate};
use mcpgate_policy::PolicyEngine;

/// Twenty policies in the shape of a real deployment: groups, per-tool permits, an argument
/// rule and some forbids.
const POLICIES: &str = r#"
@id("connect") permit (principal in Mcp::Group::"users", action == Mcp::Action::"connect", resource);
@id("admins-all") permit (principal in Mcp::Group::"admins", action, resource in Mcp::Server::"demo");
@id("echo") permit (principal in Mcp::Group::"users", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"echo");
@id("add") permit (principal in Mcp::Group::"users", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"add");
@id("search") permit (principal in Mcp::Group::"users", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"search") when { context.arguments has query };
@id("see-notes") permit (principal in Mcp::Group::"users", action == Mcp::Action::"list_tools", resource) when { resource in [Mcp::Tool::"read_note", Mcp::Tool::"list_notes"] };
@id("own-notes") permit (principal in Mcp::Group::"users", action == Mcp::Action::"call_tool", resource == Mcp::Tool::"read_note")
  when { context.arguments has path && context.arguments.path like "notes/bob/*" };
@id("list-notes") permit (principal in Mcp::Group::"users", action == Mcp::Action::"call_tool", resource == Mcp::Tool::"list_notes");
@id("deploy") permit (principal in Mcp::Group::"ops", action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"deploy");
@id("metrics") permit (principal, action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"metrics") when { principal.kind == "service" };
@id("prompts") permit (principal in Mcp::Group::"users", action in [Mcp::Action::"get_prompt", Mcp::Action::"list_prompts"], resource in Mcp::Server::"demo");
@id("resources") permit (principal in Mcp::Group::"users", action in [Mcp::Action::"read_resource", Mcp::Action::"list_resources"], resource) when { resource.uri like "file:///public/*" };
@id("complete") permit (principal in Mcp::Group::"users", action == Mcp::Action::"complete", resource);
@id("no-write-notes") forbid (principal, action in [Mcp::Action::"call_tool", Mcp::Action::"list_tools"], resource == Mcp::Tool::"write_note") unless { principal in Mcp::Group::"admins" };
@id("no-shell") forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"shell");
@id("no-parent-paths") forbid (principal, action == Mcp::Action::"call_tool", resource in Mcp::Server::"demo") when { context.arguments has path && context.arguments.path like "*..*" };
@id("no-delegated-deploy") forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"deploy") when { context.delegated };
@id("no-legacy-loglevel") forbid (principal, action == Mcp::Action::"set_log_level", resource) when { context.era == "legacy" };
@id("no-contractors") forbid (principal in Mcp::Group::"contractors", action == Mcp::Action::"call_tool", resource);
@id("big-search") forbid (principal, action == Mcp::Action::"call_tool", resource == Mcp::Tool::"search") when { context.arguments has limit && context.arguments.limit > 100 };
"#;

const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_note","arguments":{"path":"notes/bob/2026/todo.md"}}}"#;

/// A P-256 key for the bench's JWT issuer (generated for this bench only).
const EC_PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHJP/K1XWzhEGMUR1
sKnCcc4dKfcIh7E151OVe3PPXFihRANCAAQkMt4+lWdzWxfw/l5YZ/twjq9uAeLv
iYSdDYDNNjjR8damFXW9RK1oQ1Kj+73i+jrWnUMbS1r4jCIZlZna8BwN
-----END PRIVATE KEY-----";

fn exchange() -> Exchange {
    let m = Message::parse(CALL.as_bytes(), Limits::default()).unwrap();
    Exchange::new(
        m,
        Direction::ClientToServer,
        "s".into(),
        "demo".into(),
        ProtocolVersion::LATEST_LEGACY,
        CALL.len(),
    )
}

fn principal(id: &str, groups: &[&str]) -> Principal {
    let mut p = Principal::new(id, PrincipalKind::User, AuthMethod::ApiKey);
    p.groups = groups.iter().map(|g| (*g).to_owned()).collect();
    p
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.cedar"), POLICIES).unwrap();
    let engine = Arc::new(PolicyEngine::load(&[dir.path().to_path_buf()]).unwrap());
    assert_eq!(engine.policy_count(), 20);

    // Twenty API keys; the caller's is the last one checked.
    let mut keys: Vec<(String, Principal)> = (0..19)
        .map(|i| {
            (
                hash_api_key(&format!("key-{i}")),
                principal(&format!("user{i}"), &["users"]),
            )
        })
        .collect();
    keys.push((hash_api_key("bob-key"), principal("bob", &["users"])));

    // A JWT issuer with a static key set.
    let encoding = jsonwebtoken::EncodingKey::from_ec_pem(EC_PRIVATE.as_bytes()).unwrap();
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, jsonwebtoken::Algorithm::ES256)
        .unwrap();
    let mut jwk = jwk;
    jwk.common.key_id = Some("k1".into());
    let set = jsonwebtoken::jwk::JwkSet { keys: vec![jwk] };
    let mut jwt = JwtConfig::new(
        "https://issuer.example",
        "https://gw.example/mcp",
        JwksSource::Static(set),
    );
    jwt.groups_claim = Some("groups".into());
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some("k1".into());
    let token = jsonwebtoken::encode(
        &header,
        &serde_json::json!({"iss": "https://issuer.example", "aud": "https://gw.example/mcp",
            "sub": "bob", "groups": ["users"], "iat": now, "exp": now + 3600}),
        &encoding,
    )
    .unwrap();

    let validator = JwtValidator::new(jwt).unwrap();
    let auth = Authenticator::new(AuthenticatorConfig {
        api_keys: Some(ApiKeys::new(keys).unwrap()),
        jwt: vec![validator.clone()],
        metadata_url: Some("https://gw.example/.well-known/oauth-protected-resource/mcp".into()),
        ..AuthenticatorConfig::default()
    })
    .unwrap();

    let direct = Pipeline::new(Validate::default(), AuditLog::memory());
    let guarded = Pipeline::new(Validate::default(), AuditLog::memory())
        .with_authorize(Authorize::new(Some(Arc::clone(&engine))));

    let mut api_headers = http::HeaderMap::new();
    api_headers.insert("x-api-key", "bob-key".parse().unwrap());
    let mut jwt_headers = http::HeaderMap::new();
    jwt_headers.insert("authorization", format!("Bearer {token}").parse().unwrap());

    // The checks pass (a bench of refusals would measure the wrong path).
    rt.block_on(async {
        let p = auth.authenticate(&api_headers, None).await.unwrap();
        let mut x = exchange();
        x.principal = p;
        guarded.on_request(&mut x).await.unwrap();
        let p = auth.authenticate(&jwt_headers, None).await.unwrap();
        let mut x = exchange();
        x.principal = p;
        guarded.on_request(&mut x).await.unwrap();
    });

    let mut group = c.benchmark_group("tools/call request pipeline");
    group.bench_function("direct (validation only)", |b| {
        b.iter_batched_ref(
            exchange,
            |x| rt.block_on(direct.on_request(black_box(x))).unwrap(),
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("api key + cedar (20 keys, 20 policies)", |b| {
        b.iter_batched_ref(
            exchange,
            |x| {
                rt.block_on(async {
                    x.principal = auth
                        .authenticate(black_box(&api_headers), None)
                        .await
                        .unwrap();
                    guarded.on_request(black_box(x)).await
                })
                .unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("jwt ES256 + cedar (20 policies)", |b| {
        b.iter_batched_ref(
            exchange,
            |x| {
                rt.block_on(async {
                    x.principal = auth
                        .authenticate(black_box(&jwt_headers), None)
                        .await
                        .unwrap();
                    guarded.on_request(black_box(x)).await
                })
                .unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
    group.bench_function("jwt first use: ES256 signature and claims check", |b| {
        b.iter(|| rt.block_on(validator.validate(black_box(&token))).unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
