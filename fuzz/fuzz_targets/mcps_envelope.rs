//! MCPS envelope verification and signing: `mcps::profile_a`, `mcps::profile_b` and
//! `mcps::native`.
//!
//! Input: an envelope's wire text. It is verified as profile A (with the strict and with the
//! Python-compatible parse), as profile B (with and without a channel binding) and as a native
//! envelope (Ed25519 and P-256), against fixed keys at a fixed time with a window of ±100 years,
//! so that any well-formed timestamp passes and the checks after it are reached. The P-256 key
//! is the `agent` key of the profile A test vectors, so the vectors' envelopes verify.
//!
//! Properties checked beyond "no panic":
//!
//! - an envelope profile A accepts under the strict parse is accepted under the lenient one too,
//!   with the same message;
//! - when the input is a non-empty JSON object (a JSON-RPC message, say), signing it with each
//!   profile succeeds, and the signed envelope's wire text verifies with the same key, giving
//!   back the message, passport id, nonce, time and, for native envelopes, the link hash and key
//!   id. The only refusals allowed: profile B, a message with its own `mcps` member; native, an
//!   integer beyond the double range; profile A and native, a message nested as deeply as the
//!   strict parse allows (128 levels), which would put the envelope one level beyond it.

#![no_main]

#[path = "common/mcps.rs"]
mod common;

use std::sync::LazyLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use mcps::Error;
use mcps::canonical::{self, ParseOptions, Value};
use mcps::keys::SigningKey;
use mcps::native::{self, Link};
use mcps::profile_a::{self, Nonce, VerifyOptions};
use mcps::profile_b;
use mcps::time::Timestamp;

const PASSPORT_ID: &str = "asp_00112233445566778899aabbccddeeff";
const NONCE: &str = "0e8ab839d39f6b6efb8970a88d4f9779";
const CHANNEL_BINDING: &str = "tls-exporter:AAECAwQFBgcICQoLDA0ODw";
const WINDOW: Duration = Duration::from_secs(100 * 366 * 86_400);

struct Fixture {
    p256: SigningKey,
    ed25519: SigningKey,
    now: Timestamp,
    nonce: Nonce,
    link: Link,
    strict: VerifyOptions,
    lenient: VerifyOptions,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let now = common::now();
    let strict = VerifyOptions {
        max_age: WINDOW,
        max_future: WINDOW,
        ..VerifyOptions::at(now)
    };
    Fixture {
        p256: common::key(common::AGENT_PEM),
        ed25519: common::key(common::ED25519_PEM),
        now,
        nonce: common::fixture(Nonce::parse(NONCE)),
        link: common::fixture(Link::start("fuzz")),
        strict,
        lenient: VerifyOptions {
            parse: ParseOptions::PYTHON_COMPAT,
            ..strict
        },
    }
});

fuzz_target!(|data: &[u8]| {
    let f = &*FIXTURE;
    let p256 = f.p256.verifying_key();
    let ed25519 = f.ed25519.verifying_key();

    let strict_a = profile_a::verify(data, &p256, &f.strict);
    let lenient_a = profile_a::verify(data, &p256, &f.lenient);
    if let Ok(strict) = &strict_a {
        match &lenient_a {
            Ok(lenient) => assert_eq!(
                canonical::python_dumps(strict.message()).ok(),
                canonical::python_dumps(lenient.message()).ok(),
                "profile a: the lenient parse verified another message"
            ),
            Err(e) => panic!("profile a: accepted strictly, refused leniently: {e:?}"),
        }
    }
    let _ = profile_b::verify(data, &p256, &f.strict, None);
    let _ = profile_b::verify(data, &p256, &f.strict, Some(CHANNEL_BINDING));
    let _ = native::verify(data, &ed25519, &f.strict);
    let _ = native::verify(data, &p256, &f.strict);

    if let Ok(message) = canonical::parse_bytes(data, &ParseOptions::STRICT)
        && let Value::Object(object) = &message
        && !object.is_empty()
    {
        // Profile A and native envelopes hold the message one level down, so a message as deep
        // as the strict parse allows is refused when signed.
        let deepest = || {
            let shallower = ParseOptions {
                max_depth: ParseOptions::STRICT.max_depth - 1,
                ..ParseOptions::STRICT
            };
            canonical::parse_bytes(data, &shallower).is_err()
        };
        sign_profile_a(f, &message, &deepest);
        sign_profile_b(f, &message, object.contains_key(profile_b::HEADER));
        sign_native(f, &message, &deepest);
    }
});

fn sign_profile_a(f: &Fixture, message: &Value, deepest: &dyn Fn() -> bool) {
    let signed = profile_a::sign(message, PASSPORT_ID, &f.p256, f.now, f.nonce.clone());
    let wire = match signed.and_then(|e| e.to_json()) {
        Ok(wire) => wire,
        Err(Error::TooDeep) if deepest() => return,
        Err(e) => panic!("profile a: cannot sign a parsed object: {e:?}"),
    };
    match profile_a::verify(wire.as_bytes(), &f.p256.verifying_key(), &f.strict) {
        Ok(v) => {
            assert_eq!(v.message(), message, "profile a: message changed");
            assert_eq!(v.passport_id(), PASSPORT_ID);
            assert_eq!(v.nonce(), &f.nonce);
            assert_eq!(v.timestamp(), f.now);
        }
        Err(e) => panic!("profile a: own envelope refused: {e:?}\n{wire}"),
    }
}

fn sign_profile_b(f: &Fixture, message: &Value, has_header: bool) {
    for binding in [None, Some(CHANNEL_BINDING)] {
        let signed = profile_b::sign(
            message,
            PASSPORT_ID,
            &f.p256,
            f.now,
            f.nonce.clone(),
            binding,
        );
        let wire = match signed.and_then(|e| e.to_json()) {
            Ok(wire) => {
                assert!(
                    !has_header,
                    "profile b: signed a message with an `mcps` member"
                );
                wire
            }
            Err(Error::MalformedEnvelope(_)) if has_header => continue,
            Err(e) => panic!("profile b: cannot sign a parsed object: {e:?}"),
        };
        match profile_b::verify(wire.as_bytes(), &f.p256.verifying_key(), &f.strict, binding) {
            Ok(v) => {
                // Profile B writes its canonical form (sorted keys, `1.0` as `1`).
                assert_eq!(
                    canonical::profile_b(v.message()).ok(),
                    canonical::profile_b(message).ok(),
                    "profile b: message changed"
                );
                assert_eq!(v.passport_id(), PASSPORT_ID);
                assert_eq!(v.nonce(), &f.nonce);
                assert_eq!(v.timestamp(), f.now);
            }
            Err(e) => panic!("profile b: own envelope refused: {e:?}\n{wire}"),
        }
    }
}

fn sign_native(f: &Fixture, message: &Value, deepest: &dyn Fn() -> bool) {
    for key in [&f.ed25519, &f.p256] {
        let public = key.verifying_key();
        let signed = match native::sign(message, key, f.now, &f.nonce, &f.link) {
            Ok(signed) => signed,
            Err(Error::UnrepresentableNumber(_)) => continue,
            Err(Error::TooDeep) if deepest() => continue,
            Err(e) => panic!("native: cannot sign a parsed object: {e:?}"),
        };
        let wire = match signed.to_json() {
            Ok(wire) => wire,
            Err(e) => panic!("native: cannot write a signed envelope: {e:?}"),
        };
        match native::verify(wire.as_bytes(), &public, &f.strict) {
            Ok(v) => {
                assert_eq!(
                    canonical::jcs(v.message()).ok(),
                    canonical::jcs(message).ok(),
                    "native: message changed"
                );
                assert_eq!(v.link(), &f.link);
                assert_eq!(v.link_hash(), signed.link_hash());
                assert_eq!(v.kid(), native::key_id(&public));
                assert_eq!(v.nonce(), &f.nonce);
                assert_eq!(v.timestamp(), f.now);
            }
            Err(e) => panic!("native: own envelope refused: {e:?}\n{wire}"),
        }
    }
}
