//! Interoperability with the reference profile A implementation, PyPI `mcp-secure` 1.0.0.
//!
//! The test installs the reference into a virtual environment kept in a cache directory outside
//! the repository (`${MCPGATE_CACHE:-$HOME/.cache/mcpgate}/mcps-interop-venv`, reused when it
//! already holds `mcp-secure` 1.0.0), then checks both directions through
//! `tests/interop/mcp_secure_interop.py`:
//!
//! * a passport and envelopes signed by this crate (varied messages: unicode, escapes, nesting,
//!   big integers, floats) must be accepted by the reference's `verify_message`,
//!   `verify_passport_signature` and `validate_passport_format`;
//! * a passport and envelopes signed by the reference must be accepted by
//!   [`profile_a::verify`], [`ReplayCache::admit`] and [`Passport::verify`].
//!
//! The reference reads the system clock itself, so envelopes are signed and verified at the real
//! current time. A failure to create the environment or install the package fails the test; it
//! is never skipped. Every child process runs under a time limit.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

mod support;

use std::fs;
use std::path::Path;

use mcps::Profile;
use mcps::canonical::{self, Value};
use mcps::keys::{Algorithm, SigningKey, VerifyingKey};
use mcps::passport::{NewPassport, Passport, PassportLimits};
use mcps::profile_a::{self, Nonce, VerifyOptions};
use mcps::replay::ReplayCache;
use mcps::time::Timestamp;
use support::{Reference, field, parse, read_lines, rust_messages};

/// The pinned reference.
const REFERENCE: Reference = Reference {
    package: "mcp-secure",
    version: "1.0.0",
    venv: "mcps-interop-venv",
    script: concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/mcp_secure_interop.py"
    ),
};

/// This crate signs; the reference verifies.
fn rust_to_reference(python: &Path, scratch: &Path) {
    let dir = scratch.join("from-rust");
    fs::create_dir_all(&dir).unwrap();
    let agent = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let authority = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let now = Timestamp::now();

    let mut new = NewPassport::new("mcps-interop-agent", agent.verifying_key(), now);
    new.capabilities = vec!["tools/call".into(), "resources/read".into()];
    new.issuer = "mcps-interop-authority".into();
    let mut passport = Passport::create(new).unwrap();
    passport.sign(&authority).unwrap();
    let passport_id = passport.passport_id().unwrap().to_owned();

    let messages = rust_messages(Profile::A);
    let mut lines = String::new();
    for message in &messages {
        let envelope =
            profile_a::sign(message, &passport_id, &agent, now, Nonce::random().unwrap()).unwrap();
        lines.push_str(&envelope.to_json().unwrap());
        lines.push('\n');
    }
    fs::write(dir.join("envelopes.jsonl"), lines).unwrap();
    fs::write(dir.join("passport.json"), passport.to_json().unwrap()).unwrap();
    fs::write(
        dir.join("agent.pub.pem"),
        agent.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
    fs::write(
        dir.join("authority.pub.pem"),
        authority.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();

    let stdout = REFERENCE.run_script(python, scratch, "verify", &dir);
    let report = parse(stdout.trim());
    assert_eq!(
        field(&report, "reference_version").as_str(),
        Some(REFERENCE.version)
    );

    let verdicts = field(&report, "envelopes").as_array().unwrap();
    assert_eq!(verdicts.len(), messages.len(), "{stdout}");
    let rejected: Vec<&Value> = verdicts
        .iter()
        .filter(|v| {
            field(v, "valid").as_bool() != Some(true)
                || field(v, "passport_id_matches").as_bool() != Some(true)
        })
        .collect();
    assert!(
        rejected.is_empty(),
        "the reference rejected envelopes signed by mcps: {rejected:?}"
    );

    let verdict = field(&report, "passport");
    for key in ["signature_valid", "format_valid", "key_matches"] {
        assert_eq!(
            field(verdict, key).as_bool(),
            Some(true),
            "reference passport verdict `{key}`: {verdict:?}"
        );
    }
}

/// The reference signs; this crate verifies.
fn reference_to_rust(python: &Path, scratch: &Path) {
    let dir = scratch.join("from-reference");
    fs::create_dir_all(&dir).unwrap();
    let stdout = REFERENCE.run_script(python, scratch, "sign", &dir);
    let summary = parse(stdout.trim());

    let agent_key =
        VerifyingKey::from_spki_pem(&fs::read_to_string(dir.join("agent.pub.pem")).unwrap())
            .unwrap();
    let authority_key =
        VerifyingKey::from_spki_pem(&fs::read_to_string(dir.join("authority.pub.pem")).unwrap())
            .unwrap();
    let now = Timestamp::now();

    let passport = Passport::parse(&fs::read_to_string(dir.join("passport.json")).unwrap())
        .expect("reference passport parses");
    let info = passport
        .verify(&authority_key, now, &PassportLimits::default())
        .unwrap_or_else(|e| panic!("reference passport rejected: {e} ({})", e.reject_code()));
    assert_eq!(info.agent_name, "interop-agent");
    assert_eq!(info.agent_version, "2.1.0");
    assert_eq!(info.capabilities, ["tools/call", "resources/read"]);
    assert_eq!(info.claimed_trust_level, 3);
    assert_eq!(info.issuer, "self");
    assert_eq!(
        info.public_key.to_spki_pem().unwrap(),
        agent_key.to_spki_pem().unwrap(),
        "passport key is the agent's key"
    );

    let envelopes = read_lines(&dir.join("envelopes.jsonl"));
    let messages = read_lines(&dir.join("messages.jsonl"));
    assert_eq!(
        field(&summary, "envelopes").as_i64(),
        Some(i64::try_from(envelopes.len()).unwrap())
    );
    assert_eq!(envelopes.len(), messages.len());
    assert!(envelopes.len() >= 10);

    let options = VerifyOptions::at(now);
    let mut cache = ReplayCache::new(1_000);
    let mut failures = Vec::new();
    for (index, (wire, expected)) in envelopes.iter().zip(&messages).enumerate() {
        match profile_a::verify(wire.as_bytes(), &agent_key, &options) {
            Ok(verified) => {
                assert_eq!(verified.passport_id(), info.passport_id, "envelope {index}");
                let expected = parse(expected);
                assert_eq!(
                    canonical::python_dumps(verified.message()).unwrap(),
                    canonical::python_dumps(&expected).unwrap(),
                    "envelope {index} message"
                );
                if let Err(e) = cache.admit(&verified, &options) {
                    failures.push(format!("{index}: replay cache: {}", e.reject_code()));
                }
            }
            Err(e) => failures.push(format!("{index}: {} ({e}): {wire}", e.reject_code())),
        }
    }
    assert!(
        failures.is_empty(),
        "mcps rejected envelopes signed by the reference:\n{}",
        failures.join("\n")
    );
}

#[test]
fn interop_with_mcp_secure_reference() {
    let scratch = REFERENCE.scratch_dir();
    let python = REFERENCE.python(&scratch);
    rust_to_reference(&python, &scratch);
    reference_to_rust(&python, &scratch);
    fs::remove_dir_all(&scratch).unwrap();
}
