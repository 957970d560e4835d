//! Cost of profile A signing and verification of a typical `tools/call` message, next to the
//! bare signature primitives over the same bytes, so the envelope overhead can be read off as a
//! ratio.
//!
//! * `profile_a/sign`   — serialise the message (CPython `json.dumps` form), build the signing
//!   input, ECDSA P-256 sign (DER, low-S), base64, and write the envelope JSON.
//! * `profile_a/verify` — parse the envelope JSON strictly, check every field and the window,
//!   re-serialise the message, base64-decode and ECDSA-verify.
//! * `p256_bare/*`      — the `p256` crate alone, signing / verifying the same signing input.
//! * `ed25519_bare/*`   — `ed25519-dalek` alone over the same bytes, for scale.
//! * `canonical/*`      — the JSON work alone.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use mcps::canonical::{self, ParseOptions};
use mcps::keys::SigningKey;
use mcps::profile_a::{self, Nonce, VerifyOptions};
use mcps::time::Timestamp;
use p256::ecdsa::signature::Verifier as _;

const MESSAGE: &str = r#"{"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "/home/user/project/src/main.rs", "encoding": "utf-8", "max_bytes": 65536, "follow_symlinks": false}, "_meta": {"progressToken": "tok-42"}}}"#;
const PASSPORT_ID: &str = "asp_00112233445566778899aabbccddeeff";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg32cqj2ccPcFn5wXa\nJkELcKCXBWUjrktpLbkdeNBRvG2hRANCAAR1eOX9BWtb10RG7LpZbbbMsifE32XY\ngl6LIg2V9D0zwluhZXxQJ3eTFZirPPS7FgUKTGeP2McKM6mEC9Fn4ABL\n-----END PRIVATE KEY-----\n";

fn benches(c: &mut Criterion) {
    let Ok(setup) = Setup::new() else {
        eprintln!("benchmark setup failed");
        return;
    };

    let mut group = c.benchmark_group("profile_a");
    group.bench_function("sign", |b| {
        b.iter(|| {
            let envelope = profile_a::sign(
                black_box(&setup.message),
                PASSPORT_ID,
                &setup.key,
                setup.now,
                setup.nonce.clone(),
            );
            envelope.and_then(|e| e.to_json())
        });
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            profile_a::verify(
                black_box(setup.wire.as_bytes()),
                &setup.public,
                &setup.options,
            )
        });
    });
    group.finish();

    let raw_key = p256::ecdsa::SigningKey::from_slice(&setup.p256_secret).ok();
    let Some(raw_key) = raw_key else { return };
    let raw_public = *raw_key.verifying_key();
    let raw_signature: p256::ecdsa::DerSignature = raw_key.sign(&setup.signing_input);
    let mut group = c.benchmark_group("p256_bare");
    group.bench_function("sign", |b| {
        b.iter(|| {
            let signature: p256::ecdsa::DerSignature =
                raw_key.sign(black_box(&setup.signing_input));
            signature
        });
    });
    group.bench_function("verify", |b| {
        b.iter(|| raw_public.verify(black_box(&setup.signing_input), &raw_signature));
    });
    group.finish();

    let ed_key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let ed_public = ed_key.verifying_key();
    let ed_signature = ed_key.sign(&setup.signing_input);
    let mut group = c.benchmark_group("ed25519_bare");
    group.bench_function("sign", |b| {
        b.iter(|| ed_key.sign(black_box(&setup.signing_input)))
    });
    group.bench_function("verify", |b| {
        b.iter(|| ed_public.verify_strict(black_box(&setup.signing_input), &ed_signature));
    });
    group.finish();

    let mut group = c.benchmark_group("canonical");
    group.bench_function("parse_envelope", |b| {
        b.iter(|| canonical::parse(black_box(&setup.wire), &ParseOptions::STRICT));
    });
    group.bench_function("python_dumps_message", |b| {
        b.iter(|| canonical::python_dumps(black_box(&setup.message)));
    });
    group.bench_function("jcs_message", |b| {
        b.iter(|| canonical::jcs(black_box(&setup.message)))
    });
    group.finish();
}

struct Setup {
    message: canonical::Value,
    key: SigningKey,
    public: mcps::keys::VerifyingKey,
    now: Timestamp,
    nonce: Nonce,
    wire: String,
    options: VerifyOptions,
    signing_input: Vec<u8>,
    p256_secret: Vec<u8>,
}

impl Setup {
    fn new() -> Result<Self, mcps::Error> {
        let message = canonical::parse(MESSAGE, &ParseOptions::STRICT)?;
        let key = SigningKey::from_pem(KEY_PEM)?;
        let now = Timestamp::parse("2026-11-22T16:05:23.250000Z")?;
        let nonce = Nonce::parse("0e8ab839d39f6b6efb8970a88d4f9779")?;
        let envelope = profile_a::sign(&message, PASSPORT_ID, &key, now, nonce.clone())?;
        let wire = envelope.to_json()?;
        let signing_input =
            profile_a::signing_input(&message, PASSPORT_ID, envelope.timestamp(), nonce.as_str())?;
        // The same secret scalar, for the bare-primitive runs.
        let jwk = key.to_jwk().to_value();
        let d = jwk
            .get("d")
            .and_then(canonical::Value::as_str)
            .unwrap_or_default();
        let p256_secret = base64_url_decode(d);
        Ok(Self {
            public: key.verifying_key(),
            message,
            key,
            now,
            nonce,
            wire,
            options: VerifyOptions::at(now),
            signing_input,
            p256_secret,
        })
    }
}

fn base64_url_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap_or_default()
}

criterion_group! {
    name = sign_verify;
    config = Criterion::default()
        .sample_size(40)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = benches
}
criterion_main!(sign_verify);
