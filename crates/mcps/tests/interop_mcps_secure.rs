//! Interoperability with the reference profile B implementation, PyPI `mcps-secure` 1.0.0.
//!
//! **Licence:** `mcps-secure` is BUSL-1.1 licensed. It is used here only as a test oracle,
//! installed into a virtual environment of its own in a cache directory outside the repository
//! (`${MCPGATE_CACHE:-$HOME/.cache/mcpgate}/mcps-secure-venv`, reused when it already holds
//! `mcps-secure` 1.0.0). It is never a dependency of the product, and no code of it is copied
//! here. (It shares the import name `mcp_secure` with the profile A reference, so the two live
//! in separate environments.)
//!
//! Both directions go through `tests/interop/mcps_secure_interop.py`:
//!
//! * envelopes signed by [`profile_b::sign`] (varied messages: unicode, code-point key order,
//!   escapes, nesting, big integers, floats at the 2^53 boundary, channel bindings) must be
//!   accepted by the reference's `verify_message`, which must hash the same message as
//!   [`profile_b::message_hash`]; a profile B passport made by [`Passport::create_for`] must pass
//!   its `verify_passport_signature`, `validate_passport_format`, `validate_origin` and
//!   `get_effective_trust_level`;
//! * envelopes and a passport signed by the reference must be accepted by [`profile_b::verify`],
//!   [`ReplayCache::admit`] and [`Passport::verify`].
//!
//! Issuer chains both ways: an agent passport issued through an intermediate (which holds the
//! `mcps:issue-passports` capability) by this crate passes the reference's
//! `verify_issuer_chain`, and the reference's chain passes [`IssuerStore::verify`], at the
//! level computed from the chain. Deliberately stricter: a reference chain whose intermediate
//! lacks that capability is refused here (`passport_chain_broken`) while the reference accepts
//! it — without the role check any passport the root signed could mint others.
//!
//! Negative controls keep the check honest: a Rust envelope altered after signing and a
//! channel-bound envelope checked without its binding must be rejected by the reference, and the
//! same alterations of reference envelopes must be rejected here.
//!
//! Cases left out, and why:
//!
//! * **Messages that are not JSON objects** (batches, scalars): profile B spreads the message's
//!   members next to the `mcps` header, so only objects exist in this format; the reference's
//!   `sign_message` fails on anything else.
//! * **NaN, infinities and lone surrogates**: the reference cannot sign them (its canonical form
//!   raises on non-finite numbers and cannot encode lone surrogates to UTF-8) and this crate
//!   refuses them on both sides.
//! * **High-S signatures**: the reference only emits low-S, so its output never exercises this
//!   crate's strict low-S rule (covered by the unit tests).
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
use mcps::canonical::{self, Object, Value};
use mcps::keys::{Algorithm, SigningKey, VerifyingKey};
use mcps::passport::{NewPassport, Passport, PassportLimits};
use mcps::profile_b::{self, Nonce, VerifyOptions};
use mcps::replay::ReplayCache;
use mcps::time::Timestamp;
use mcps::trust::{ChainOptions, ISSUER_CAPABILITY, IssuerStore, TrustedIssuer, chain_entry};
use support::{Reference, field, parse, read_lines, rust_messages};

/// The pinned reference (BUSL-1.1; test oracle only).
const REFERENCE: Reference = Reference {
    package: "mcps-secure",
    version: "1.0.0",
    venv: "mcps-secure-venv",
    script: concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/mcps_secure_interop.py"
    ),
};

/// Must match `ORIGIN` and `CHANNEL_BINDING` in the script.
const ORIGIN: &str = "https://api.example.com:8443";
const CHANNEL_BINDING: &str = "tls-exporter:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// One line of `envelopes.jsonl` / `negatives.jsonl`.
fn line(wire: &str, binding: Option<&str>) -> String {
    let mut object = Object::new();
    object.insert("wire", Value::from(wire));
    object.insert("channel_binding", binding.map_or(Value::Null, Value::from));
    let mut text = canonical::jcs(&Value::Object(object)).unwrap();
    text.push('\n');
    text
}

/// This crate signs; the reference verifies.
fn rust_to_reference(python: &Path, scratch: &Path) -> usize {
    let dir = scratch.join("from-rust");
    fs::create_dir_all(&dir).unwrap();
    let agent = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let authority = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let now = Timestamp::now();

    let mut new = NewPassport::new("mcps-interop-agent", agent.verifying_key(), now);
    new.capabilities = vec!["tools/call".into(), "resources/read".into()];
    new.issuer = "mcps-interop-authority".into();
    new.origin = Some(ORIGIN.into());
    new.scan = Some(parse(
        r#"{"score": 97, "coverage": 0.875, "ratio": 2.0, "findings": []}"#,
    ));
    let mut passport = Passport::create_for(Profile::B, new).unwrap();
    passport.sign(&authority).unwrap();
    let passport_id = passport.passport_id().unwrap().to_owned();

    let messages = rust_messages(Profile::B);
    let mut lines = String::new();
    let mut hashes = Vec::new();
    for (index, message) in messages.iter().enumerate() {
        let binding = (index % 4 == 3).then_some(CHANNEL_BINDING);
        let envelope = profile_b::sign(
            message,
            &passport_id,
            &agent,
            now,
            Nonce::random().unwrap(),
            binding,
        )
        .unwrap();
        // Alternate the compact canonical wire form and Python-style text with spaces, escapes
        // and the header first: the reference parses either.
        let wire = if index % 2 == 0 {
            envelope.to_json().unwrap()
        } else {
            canonical::python_dumps(&envelope.to_value()).unwrap()
        };
        lines.push_str(&line(&wire, binding));
        hashes.push(profile_b::message_hash(message).unwrap());
    }

    // Negative controls: the message changed after signing, and a bound envelope without its
    // binding (the script reports `valid_without_binding` for bound lines).
    let signed = profile_b::sign(
        &messages[1],
        &passport_id,
        &agent,
        now,
        Nonce::random().unwrap(),
        None,
    )
    .unwrap();
    let altered = signed.to_json().unwrap().replacen("echo", "echp", 1);
    let negatives = line(&altered, None);

    fs::write(dir.join("envelopes.jsonl"), lines).unwrap();
    fs::write(dir.join("negatives.jsonl"), negatives).unwrap();
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

    write_chain(&dir, now);

    let stdout = REFERENCE.run_script(python, scratch, "verify", &dir);
    let report = parse(stdout.trim());
    let chain = field(&report, "chain");
    let good = field(chain, "chain-passport.json");
    assert_eq!(field(good, "valid").as_bool(), Some(true), "{chain:?}");
    assert_eq!(field(good, "root_issuer").as_str(), Some("root-ta"));
    assert_eq!(field(good, "chain_length").as_i64(), Some(2));
    let forged = field(chain, "chain-forged.json");
    assert_eq!(field(forged, "valid").as_bool(), Some(false), "{chain:?}");
    assert_eq!(
        field(&report, "reference_version").as_str(),
        Some(REFERENCE.version)
    );
    assert_eq!(
        field(&report, "mcps_version").as_str(),
        Some(profile_b::VERSION)
    );

    let verdicts = field(&report, "envelopes").as_array().unwrap();
    assert_eq!(verdicts.len(), messages.len(), "{stdout}");
    let mut problems = Vec::new();
    for (index, verdict) in verdicts.iter().enumerate() {
        if field(verdict, "valid").as_bool() != Some(true)
            || field(verdict, "passport_id_matches").as_bool() != Some(true)
        {
            problems.push(format!("{index}: rejected: {verdict:?}"));
        }
        if field(verdict, "message_hash").as_str() != Some(hashes[index].as_str()) {
            problems.push(format!("{index}: message hash differs: {verdict:?}"));
        }
        if let Some(unbound) = verdict.get("valid_without_binding") {
            assert_eq!(index % 4, 3);
            if unbound.as_bool() != Some(false) {
                problems.push(format!("{index}: accepted without its channel binding"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the reference disagrees with envelopes signed by mcps:\n{}",
        problems.join("\n")
    );
    let bound = verdicts
        .iter()
        .filter(|v| v.get("valid_without_binding").is_some())
        .count();
    assert_eq!(bound, (0..messages.len()).filter(|i| i % 4 == 3).count());

    let negatives = field(&report, "negatives").as_array().unwrap();
    assert_eq!(negatives.len(), 1);
    assert_eq!(
        field(&negatives[0], "valid").as_bool(),
        Some(false),
        "the reference accepted an altered envelope: {negatives:?}"
    );
    assert_eq!(field(&negatives[0], "error").as_str(), Some("MCPS-004"));

    let verdict = field(&report, "passport");
    for key in [
        "signature_valid",
        "format_valid",
        "key_matches",
        "origin_valid",
    ] {
        assert_eq!(
            field(verdict, key).as_bool(),
            Some(true),
            "reference passport verdict `{key}`: {verdict:?}"
        );
    }
    assert_eq!(
        field(verdict, "signature_valid_with_agent_key").as_bool(),
        Some(false)
    );
    assert_eq!(field(verdict, "effective_trust").as_i64(), Some(3));
    messages.len()
}

/// Writes an agent passport issued through the intermediate `ca-1` by `root-ta`
/// (`chain-passport.json`), the same signed by the agent's own key (`chain-forged.json`) and
/// the root's key (`chain-root.pub.pem`).
fn write_chain(dir: &Path, now: Timestamp) {
    let p256 = || SigningKey::generate(Algorithm::EcdsaP256).unwrap();
    let (root, ca, agent) = (p256(), p256(), p256());
    let mut new = NewPassport::new("ca-1", ca.verifying_key(), now);
    new.issuer = "root-ta".into();
    new.capabilities = vec![ISSUER_CAPABILITY.into()];
    let mut intermediate = Passport::create_for(Profile::B, new).unwrap();
    intermediate.sign(&root).unwrap();
    for (name, signer) in [("chain-passport.json", &ca), ("chain-forged.json", &agent)] {
        let mut new = NewPassport::new("chained-agent", agent.verifying_key(), now);
        new.issuer = "ca-1".into();
        let mut leaf = Passport::create_for(Profile::B, new).unwrap();
        leaf.set_issuer_chain(vec![chain_entry(&intermediate).unwrap()])
            .unwrap();
        leaf.sign(signer).unwrap();
        fs::write(dir.join(name), leaf.to_json().unwrap()).unwrap();
    }
    fs::write(
        dir.join("chain-root.pub.pem"),
        root.verifying_key().to_spki_pem().unwrap(),
    )
    .unwrap();
}

/// Verifies the reference's chained passports against a store trusting `root-ta` up to 3.
fn check_reference_chain(dir: &Path, now: Timestamp) {
    let root =
        VerifyingKey::from_spki_pem(&fs::read_to_string(dir.join("chain-root.pub.pem")).unwrap())
            .unwrap();
    let mut store = IssuerStore::new();
    store
        .add(TrustedIssuer {
            name: "root-ta".into(),
            key: root,
            max_trust_level: 3,
        })
        .unwrap();
    let read = |name: &str| Passport::parse(&fs::read_to_string(dir.join(name)).unwrap()).unwrap();
    let trusted = store
        .verify(&read("chain-passport.json"), now, &ChainOptions::default())
        .unwrap_or_else(|e| panic!("reference chain rejected: {e} ({})", e.reject_code()));
    // The reference's issued passports claim 1 (issued, no scan): the level is the lowest
    // along the chain, under the root's grant of 3.
    assert_eq!(trusted.trust_level, 1);
    assert_eq!(trusted.anchor.as_deref(), Some("root-ta"));
    assert_eq!(trusted.intermediates.len(), 1);
    let unmarked = store.verify(&read("chain-unmarked.json"), now, &ChainOptions::default());
    assert_eq!(
        unmarked.unwrap_err().reject_code().as_str(),
        "passport_chain_broken",
        "an intermediate without the issuing capability must not vouch"
    );
}

/// The reference signs; this crate verifies.
fn reference_to_rust(python: &Path, scratch: &Path) -> usize {
    let dir = scratch.join("from-reference");
    fs::create_dir_all(&dir).unwrap();
    let stdout = REFERENCE.run_script(python, scratch, "sign", &dir);
    let summary = parse(stdout.trim());
    assert_eq!(
        field(&summary, "mcps_version").as_str(),
        Some(profile_b::VERSION)
    );

    let agent_key =
        VerifyingKey::from_spki_pem(&fs::read_to_string(dir.join("agent.pub.pem")).unwrap())
            .unwrap();
    let authority_key =
        VerifyingKey::from_spki_pem(&fs::read_to_string(dir.join("authority.pub.pem")).unwrap())
            .unwrap();
    let now = Timestamp::now();

    let passport = Passport::parse(&fs::read_to_string(dir.join("passport.json")).unwrap())
        .expect("reference passport parses");
    assert_eq!(passport.profile(), Profile::B);
    let info = passport
        .verify(&authority_key, now, &PassportLimits::default())
        .unwrap_or_else(|e| panic!("reference passport rejected: {e} ({})", e.reject_code()));
    assert_eq!(info.profile, Profile::B);
    assert_eq!(info.agent_name, "interop-agent");
    assert_eq!(info.agent_version, "2.1.0");
    assert_eq!(info.capabilities, ["tools/call", "resources/read"]);
    assert_eq!(info.claimed_trust_level, 3);
    assert_eq!(info.issuer, "interop-authority");
    assert_eq!(info.origin.as_deref(), Some(ORIGIN));
    assert_eq!(
        info.public_key, agent_key,
        "passport key is the agent's key"
    );
    assert!(
        passport.verify_signature(&agent_key).is_err(),
        "passport verified under the wrong key"
    );

    check_reference_chain(&dir, now);

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
    let mut bound = 0;
    for (index, (item, expected)) in envelopes.iter().zip(&messages).enumerate() {
        let item = parse(item);
        let wire = field(&item, "wire").as_str().unwrap();
        let binding = field(&item, "channel_binding").as_str();
        match profile_b::verify(wire.as_bytes(), &agent_key, &options, binding) {
            Ok(verified) => {
                assert_eq!(verified.passport_id(), info.passport_id, "envelope {index}");
                assert_eq!(
                    canonical::profile_b(verified.message()).unwrap(),
                    canonical::profile_b(&parse(expected)).unwrap(),
                    "envelope {index} message"
                );
                if let Err(e) = cache.admit(&verified, &options) {
                    failures.push(format!("{index}: replay cache: {}", e.reject_code()));
                }
            }
            Err(e) => failures.push(format!("{index}: {} ({e}): {wire}", e.reject_code())),
        }
        if binding.is_some() {
            bound += 1;
            let unbound = profile_b::verify(wire.as_bytes(), &agent_key, &options, None);
            assert_eq!(
                unbound.map(|_| ()).unwrap_err().reject_code().as_str(),
                "bad_signature",
                "envelope {index} verified without its channel binding"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "mcps rejected envelopes signed by the reference:\n{}",
        failures.join("\n")
    );
    assert!(bound >= 2, "too few channel-bound envelopes: {bound}");

    // Negative control: a reference envelope altered after signing.
    let first = parse(&envelopes[0]);
    let wire = field(&first, "wire").as_str().unwrap();
    let altered = wire.replacen("tools/list", "tools/lisT", 1);
    assert_ne!(altered, wire);
    let verdict = profile_b::verify(altered.as_bytes(), &agent_key, &options, None);
    assert_eq!(
        verdict.map(|_| ()).unwrap_err().reject_code().as_str(),
        "bad_signature"
    );
    envelopes.len()
}

#[test]
fn interop_with_mcps_secure_reference() {
    let scratch = REFERENCE.scratch_dir();
    let python = REFERENCE.python(&scratch);
    let to_reference = rust_to_reference(&python, &scratch);
    let from_reference = reference_to_rust(&python, &scratch);
    eprintln!(
        "profile b interop: {to_reference} envelopes mcps -> mcps-secure, {from_reference} \
         envelopes mcps-secure -> mcps, one passport and one issuer chain each way"
    );
    fs::remove_dir_all(&scratch).unwrap();
}
