//! Cost of signing and verifying a typical `tools/call` message in each profile, next to the
//! bare signature operation of the crypto crate for the same key type over the same bytes (the
//! profile's signing input), so the envelope overhead can be read off as a ratio.
//!
//! Every group has four functions:
//!
//! * `sign`        — the profile's signing of the message, up to the envelope's wire text.
//! * `bare sign`   — the crypto crate alone, signing the profile's signing input.
//! * `verify`      — the profile's verification from the envelope's wire bytes (strict parse,
//!   field checks, window, canonicalisation, signature).
//! * `bare verify` — the crypto crate alone, verifying a signature over the signing input.
//!
//! Groups: `profile_a` (ECDSA P-256, DER), `profile_b` (ECDSA P-256, P1363), `native_ed25519`
//! and `native_p256` (`mcps-native/1`, chain start link). `canonical/*` is the JSON work alone.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ed25519_dalek::Signer as _;
use mcps::canonical::{self, ParseOptions};
use mcps::keys::{Algorithm, SigningKey};
use mcps::native::{self, Link};
use mcps::profile_a::{self, Nonce, VerifyOptions};
use mcps::profile_b;
use mcps::time::Timestamp;
use p256::ecdsa::signature::Verifier as _;

const MESSAGE: &str = r#"{"jsonrpc": "2.0", "id": 42, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "/home/user/project/src/main.rs", "encoding": "utf-8", "max_bytes": 65536, "follow_symlinks": false}, "_meta": {"progressToken": "tok-42"}}}"#;
const PASSPORT_ID: &str = "asp_00112233445566778899aabbccddeeff";
const KEY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg32cqj2ccPcFn5wXa\nJkELcKCXBWUjrktpLbkdeNBRvG2hRANCAAR1eOX9BWtb10RG7LpZbbbMsifE32XY\ngl6LIg2V9D0zwluhZXxQJ3eTFZirPPS7FgUKTGeP2McKM6mEC9Fn4ABL\n-----END PRIVATE KEY-----\n";

/// A bare key of the crypto crate, holding the same secret as the profile's key.
enum Bare {
    P256Der(p256::ecdsa::SigningKey),
    P256P1363(p256::ecdsa::SigningKey),
    Ed25519(ed25519_dalek::SigningKey),
}

impl Bare {
    fn of(key: &SigningKey, der: bool) -> Option<Self> {
        let secret = secret_of(key);
        match key.algorithm() {
            Algorithm::EcdsaP256 => {
                let raw = p256::ecdsa::SigningKey::from_slice(&secret).ok()?;
                Some(if der {
                    Self::P256Der(raw)
                } else {
                    Self::P256P1363(raw)
                })
            }
            Algorithm::Ed25519 => {
                let bytes: [u8; 32] = secret.try_into().ok()?;
                Some(Self::Ed25519(ed25519_dalek::SigningKey::from_bytes(&bytes)))
            }
        }
    }

    fn bench(
        &self,
        group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
        input: &[u8],
    ) {
        match self {
            Self::P256Der(key) => {
                let public = *key.verifying_key();
                let signature: p256::ecdsa::DerSignature = key.sign(input);
                group.bench_function("bare sign", |b| {
                    b.iter(|| {
                        let signature: p256::ecdsa::DerSignature = key.sign(black_box(input));
                        signature
                    });
                });
                group.bench_function("bare verify", |b| {
                    b.iter(|| public.verify(black_box(input), &signature));
                });
            }
            Self::P256P1363(key) => {
                let public = *key.verifying_key();
                let signature: p256::ecdsa::Signature = key.sign(input);
                group.bench_function("bare sign", |b| {
                    b.iter(|| {
                        let signature: p256::ecdsa::Signature = key.sign(black_box(input));
                        signature
                    });
                });
                group.bench_function("bare verify", |b| {
                    b.iter(|| public.verify(black_box(input), &signature));
                });
            }
            Self::Ed25519(key) => {
                let public = key.verifying_key();
                let signature = key.sign(input);
                group.bench_function("bare sign", |b| {
                    b.iter(|| key.sign(black_box(input)));
                });
                group.bench_function("bare verify", |b| {
                    b.iter(|| public.verify_strict(black_box(input), &signature));
                });
            }
        }
    }
}

fn benches(c: &mut Criterion) {
    let Ok(setup) = Setup::new() else {
        eprintln!("benchmark setup failed");
        return;
    };
    let options = VerifyOptions::at(setup.now);

    // Profile A.
    let Ok(envelope) = profile_a::sign(
        &setup.message,
        PASSPORT_ID,
        &setup.p256,
        setup.now,
        setup.nonce.clone(),
    ) else {
        return;
    };
    let (Ok(wire), Ok(input)) = (
        envelope.to_json(),
        profile_a::signing_input(
            &setup.message,
            PASSPORT_ID,
            envelope.timestamp(),
            setup.nonce.as_str(),
        ),
    ) else {
        return;
    };
    let public = setup.p256.verifying_key();
    if profile_a::verify(wire.as_bytes(), &public, &options).is_err() {
        eprintln!("profile a envelope does not verify");
        return;
    }
    let mut group = c.benchmark_group("profile_a");
    group.bench_function("sign", |b| {
        b.iter(|| {
            profile_a::sign(
                black_box(&setup.message),
                PASSPORT_ID,
                &setup.p256,
                setup.now,
                setup.nonce.clone(),
            )
            .and_then(|e| e.to_json())
        });
    });
    group.bench_function("verify", |b| {
        b.iter(|| profile_a::verify(black_box(wire.as_bytes()), &public, &options));
    });
    if let Some(bare) = Bare::of(&setup.p256, true) {
        bare.bench(&mut group, &input);
    }
    group.finish();

    // Profile B.
    let Ok(envelope) = profile_b::sign(
        &setup.message,
        PASSPORT_ID,
        &setup.p256,
        setup.now,
        setup.nonce.clone(),
        None,
    ) else {
        return;
    };
    let (Ok(wire), Ok(input)) = (
        envelope.to_json(),
        profile_b::signing_input(
            &setup.message,
            PASSPORT_ID,
            envelope.timestamp(),
            setup.nonce.as_str(),
            None,
        ),
    ) else {
        return;
    };
    if profile_b::verify(wire.as_bytes(), &public, &options, None).is_err() {
        eprintln!("profile b envelope does not verify");
        return;
    }
    let mut group = c.benchmark_group("profile_b");
    group.bench_function("sign", |b| {
        b.iter(|| {
            profile_b::sign(
                black_box(&setup.message),
                PASSPORT_ID,
                &setup.p256,
                setup.now,
                setup.nonce.clone(),
                None,
            )
            .and_then(|e| e.to_json())
        });
    });
    group.bench_function("verify", |b| {
        b.iter(|| profile_b::verify(black_box(wire.as_bytes()), &public, &options, None));
    });
    if let Some(bare) = Bare::of(&setup.p256, false) {
        bare.bench(&mut group, &input);
    }
    group.finish();

    // Native, both key types.
    for (name, key) in [
        ("native_ed25519", &setup.ed25519),
        ("native_p256", &setup.p256),
    ] {
        let Ok(envelope) = native::sign(&setup.message, key, setup.now, &setup.nonce, &setup.link)
        else {
            return;
        };
        let Ok(wire) = envelope.to_json() else { return };
        let Ok(ts) = setup.now.to_rfc3339_micros() else {
            return;
        };
        let Ok(input) = native::signing_input(
            &setup.message,
            native::alg_name(key.algorithm()),
            &native::key_id(&key.verifying_key()),
            setup.nonce.as_str(),
            &setup.link.to_wire(),
            &ts,
        ) else {
            return;
        };
        let public = key.verifying_key();
        if native::verify(wire.as_bytes(), &public, &options).is_err() {
            eprintln!("{name} envelope does not verify");
            return;
        }
        let mut group = c.benchmark_group(name);
        group.bench_function("sign", |b| {
            b.iter(|| {
                native::sign(
                    black_box(&setup.message),
                    key,
                    setup.now,
                    &setup.nonce,
                    &setup.link,
                )
                .and_then(|e| e.to_json())
            });
        });
        group.bench_function("verify", |b| {
            b.iter(|| native::verify(black_box(wire.as_bytes()), &public, &options));
        });
        if let Some(bare) = Bare::of(key, false) {
            bare.bench(&mut group, &input);
        }
        group.finish();
    }

    let mut group = c.benchmark_group("canonical");
    group.bench_function("parse_message", |b| {
        b.iter(|| canonical::parse(black_box(MESSAGE), &ParseOptions::STRICT));
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
    p256: SigningKey,
    ed25519: SigningKey,
    now: Timestamp,
    nonce: Nonce,
    link: Link,
}

impl Setup {
    fn new() -> Result<Self, mcps::Error> {
        Ok(Self {
            message: canonical::parse(MESSAGE, &ParseOptions::STRICT)?,
            p256: SigningKey::from_pem(KEY_PEM)?,
            ed25519: SigningKey::generate(Algorithm::Ed25519)?,
            now: Timestamp::parse("2026-11-22T16:05:23.250000Z")?,
            nonce: Nonce::parse("0e8ab839d39f6b6efb8970a88d4f9779")?,
            link: Link::start("bench-session")?,
        })
    }
}

/// The secret scalar / seed of `key`, from its private JWK.
fn secret_of(key: &SigningKey) -> Vec<u8> {
    use base64::Engine as _;
    let jwk = key.to_jwk().to_value();
    let d = jwk
        .get("d")
        .and_then(canonical::Value::as_str)
        .unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(d)
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
