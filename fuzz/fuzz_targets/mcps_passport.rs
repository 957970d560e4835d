//! MCPS passports (`mcps::passport`): parse, validate, signing input, signature check.
//!
//! Input: a passport's JSON text. It is parsed with `Passport::parse`, validated at a fixed
//! time with the default limits, and its signature checked against the `authority` key of the
//! profile A test vectors (which signed the vectors' passports).
//!
//! Properties checked beyond "no panic", for a text that parses as a passport:
//!
//! - `signing_input` succeeds, and the passport writes back (`to_json`) as text that parses to
//!   an equal passport with the same signing input;
//! - validation returns the passport's own id, profile and key;
//! - signed with the authority key, the passport's signature verifies with that key and not
//!   with another, its signing input is unchanged, and (size limit aside) so is what
//!   `validate` says.

#![no_main]

#[path = "common/mcps.rs"]
mod common;

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mcps::Error;
use mcps::keys::{Jwk, SigningKey, VerifyingKey};
use mcps::passport::{Passport, PassportLimits};
use mcps::time::Timestamp;

struct Fixture {
    authority: SigningKey,
    authority_public: VerifyingKey,
    /// The vectors' `agent` key: not the issuer of any passport here.
    other: VerifyingKey,
    now: Timestamp,
    limits: PassportLimits,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let authority = common::key(common::AUTHORITY_PEM);
    Fixture {
        authority_public: authority.verifying_key(),
        authority,
        other: common::key(common::AGENT_PEM).verifying_key(),
        now: common::now(),
        limits: PassportLimits::default(),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(passport) = Passport::parse(text) else {
        return;
    };
    let f = &*FIXTURE;

    let input = match passport.signing_input() {
        Ok(input) => input,
        Err(e) => panic!("no signing input for a parsed passport: {e:?}"),
    };
    let written = match passport.to_json() {
        Ok(written) => written,
        Err(e) => panic!("a parsed passport does not write back: {e:?}"),
    };
    match Passport::parse(&written) {
        Ok(again) => {
            assert_eq!(again, passport, "to_json changed the passport: {written}");
            assert_eq!(again.signing_input().ok().as_deref(), Some(input.as_str()));
        }
        Err(e) => panic!("to_json output does not parse as a passport ({e:?}): {written}"),
    }

    let validated = passport.validate(f.now, &f.limits);
    if let Ok(info) = &validated {
        assert_eq!(Some(info.passport_id.as_str()), passport.passport_id());
        assert_eq!(info.profile, passport.profile());
        let jwk = passport
            .as_object()
            .get("public_key")
            .and_then(|v| Jwk::from_value(v).ok())
            .and_then(|jwk| VerifyingKey::from_jwk(&jwk).ok());
        assert_eq!(jwk.as_ref(), Some(&info.public_key));
    }
    let _ = passport.verify_signature(&f.authority_public);
    let _ = passport.verify(&f.authority_public, f.now, &f.limits);

    // A signature covers every member but `signature`: it verifies, under that key only.
    let mut signed = passport.clone();
    if let Err(e) = signed.sign(&f.authority) {
        panic!("a parsed passport cannot be signed: {e:?}");
    }
    if let Err(e) = signed.verify_signature(&f.authority_public) {
        panic!("a freshly signed passport does not verify: {e:?}");
    }
    assert_eq!(
        signed.verify_signature(&f.other),
        Err(Error::PassportBadSignature),
        "a passport verified under a key that did not sign it"
    );
    assert_eq!(signed.signing_input().ok().as_deref(), Some(input.as_str()));
    // Validation does not look at the signature, except for the size limit.
    let unbounded = PassportLimits {
        max_bytes: usize::MAX,
        ..f.limits
    };
    assert_eq!(
        signed.validate(f.now, &unbounded),
        passport.validate(f.now, &unbounded),
        "signing changed the validation verdict"
    );
});
