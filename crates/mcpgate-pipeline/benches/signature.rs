//! What the MCPS signature stage adds to one `tools/call`, measured against the same pipeline
//! without it (validation only), in the same run.
//!
//! * `direct`: the request-side pipeline with validation only, over the plain message.
//! * `native ed25519`: the pipeline with the signature stage, over an `mcps-native/1` envelope
//!   signed with Ed25519 (trust store lookup by key id, strict verification, memory replay
//!   store, transcript chain, unwrapping).
//! * `profile a`: the same with a profile A (`mcp-secure`) envelope signed with ECDSA P-256.
//!
//! Every iteration gets a freshly signed envelope (new nonce, current time, next chain link),
//! signed outside the measured routine (`iter_batched`), so the replay store accepts each one.
//! The added cost of a variant is its time minus `direct`.

#![expect(
    clippy::unwrap_used,
    reason = "bench code: a failure is the bench failing"
)]

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use mcpgate_core::{Direction, Exchange, Limits, Message, ProtocolVersion};
use mcpgate_pipeline::stages::signature::{Profile, SignatureConfig, Signer, TrustStore};
use mcpgate_pipeline::{AuditLog, Pipeline, Signature, Validate};
use mcpgate_store::MemoryReplayStore;
use mcps::canonical::{self, ParseOptions};
use mcps::keys::{Algorithm, SigningKey};
use mcps::native::{ChainSigner, Link};
use mcps::profile_a::{self, Nonce};
use mcps::time::Timestamp;

const CALL: &str = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"read_note","arguments":{"path":"notes/bob/2026/todo.md"}}}"#;
const PASSPORT_ID: &str = "asp_00112233445566778899aabbccddeeff";
const SESSION: &str = "bench-session";

fn exchange(wire: &str) -> Exchange {
    let m = Message::parse(wire.as_bytes(), Limits::default()).unwrap();
    let mut x = Exchange::new(
        m,
        Direction::ClientToServer,
        SESSION.into(),
        "demo".into(),
        ProtocolVersion::LATEST_LEGACY,
        wire.len(),
    );
    x.session = SESSION.into();
    x
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let message = canonical::parse(CALL, &ParseOptions::STRICT).unwrap();
    let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
    let p256 = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let trust = TrustStore::new(vec![
        Signer::new("agent-ed", ed.verifying_key(), 2),
        Signer::new(PASSPORT_ID, p256.verifying_key(), 2),
    ])
    .unwrap();
    let stage = Signature::new(SignatureConfig {
        profiles: vec![Profile::A, Profile::B, Profile::Native],
        trust,
        window: Duration::from_secs(300),
        replay: Arc::new(MemoryReplayStore::new(10_000_000)),
        revocations: None,
        requirements: Vec::new(),
        limits: Limits::default(),
        response_key: None,
        response_passport_id: None,
        sign_profile_a_responses: false,
    });

    let direct = Pipeline::new(Validate::default(), AuditLog::memory());
    let signed = Pipeline::new(Validate::default(), AuditLog::memory()).with_signature(stage);

    // One transcript chain for the whole run: the setup signs the next link, the routine
    // consumes the envelopes in the order they were signed.
    let chain = RefCell::new(ChainSigner::new(Link::start("bench-chain").unwrap()));
    let native_envelope = || {
        let envelope = chain
            .borrow_mut()
            .sign(&message, &ed, Timestamp::now(), &Nonce::random().unwrap())
            .unwrap();
        exchange(&envelope.to_json().unwrap())
    };
    let profile_a_envelope = || {
        let envelope = profile_a::sign(
            &message,
            PASSPORT_ID,
            &p256,
            Timestamp::now(),
            Nonce::random().unwrap(),
        )
        .unwrap();
        exchange(&envelope.to_json().unwrap())
    };

    // The checks pass and unwrap the message (a bench of refusals would measure the wrong path).
    rt.block_on(async {
        for mut x in [native_envelope(), profile_a_envelope()] {
            signed.on_request(&mut x).await.unwrap();
            assert_eq!(x.facts.get("signed"), Some(&true.into()));
            assert!(x.message.mcps_envelope().is_none());
        }
    });

    let mut group = c.benchmark_group("tools/call request pipeline");
    group.bench_function("direct (validation only)", |b| {
        b.iter_batched_ref(
            || exchange(CALL),
            |x| rt.block_on(direct.on_request(black_box(x))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("signature: native ed25519", |b| {
        b.iter_batched_ref(
            native_envelope,
            |x| rt.block_on(signed.on_request(black_box(x))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("signature: profile a p-256", |b| {
        b.iter_batched_ref(
            profile_a_envelope,
            |x| rt.block_on(signed.on_request(black_box(x))).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
