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

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mcps::Profile;
use mcps::canonical::{self, Object, ParseOptions, Value};
use mcps::keys::{Algorithm, SigningKey, VerifyingKey};
use mcps::passport::{NewPassport, Passport, PassportLimits};
use mcps::profile_b::{self, Nonce, VerifyOptions};
use mcps::replay::ReplayCache;
use mcps::time::Timestamp;

/// The reference version this test pins.
const REFERENCE_VERSION: &str = "1.0.0";

/// The distribution name of the reference (BUSL-1.1; test oracle only).
const REFERENCE_PACKAGE: &str = "mcps-secure";

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/interop/mcps_secure_interop.py"
);

/// Must match `ORIGIN` and `CHANNEL_BINDING` in the script.
const ORIGIN: &str = "https://api.example.com:8443";
const CHANNEL_BINDING: &str = "tls-exporter:3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

const VENV_TIMEOUT: Duration = Duration::from_secs(180);
const PIP_TIMEOUT: Duration = Duration::from_secs(600);
const SCRIPT_TIMEOUT: Duration = Duration::from_secs(120);

struct Output {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `command` to completion or kills it after `timeout`. Output goes through files in
/// `scratch`, so a chatty child can never block on a full pipe.
fn run(mut command: Command, scratch: &Path, label: &str, timeout: Duration) -> Output {
    let out_path = scratch.join(format!("{label}.stdout"));
    let err_path = scratch.join(format!("{label}.stderr"));
    command
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{label}: cannot start {command:?}: {e}"));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{label}: {command:?} did not finish within {timeout:?}; stderr:\n{}",
                fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(50));
    };
    Output {
        status,
        stdout: fs::read_to_string(&out_path).unwrap(),
        stderr: fs::read_to_string(&err_path).unwrap(),
    }
}

fn venv_dir() -> PathBuf {
    let cache = match std::env::var_os("MCPGATE_CACHE") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME").expect("HOME or MCPGATE_CACHE must be set");
            PathBuf::from(home).join(".cache").join("mcpgate")
        }
    };
    cache.join("mcps-secure-venv")
}

fn venv_python(venv: &Path) -> PathBuf {
    venv.join("bin").join("python")
}

/// The installed `mcps-secure` version, if the environment has a working one.
fn installed_version(python: &Path, scratch: &Path) -> Option<String> {
    if !python.exists() {
        return None;
    }
    let mut command = Command::new(python);
    command.args([
        "-c",
        &format!(
            "import importlib.metadata as m, mcp_secure; print(m.version('{REFERENCE_PACKAGE}'))"
        ),
    ]);
    let output = run(command, scratch, "probe", SCRIPT_TIMEOUT);
    output
        .status
        .success()
        .then(|| output.stdout.trim().to_owned())
}

/// Creates (or reuses) the virtual environment holding the pinned reference; returns its python.
fn reference_python(scratch: &Path) -> PathBuf {
    let venv = venv_dir();
    let python = venv_python(&venv);
    if installed_version(&python, scratch).as_deref() == Some(REFERENCE_VERSION) {
        return python;
    }
    fs::create_dir_all(venv.parent().unwrap()).unwrap();
    let mut command = Command::new("python3");
    command.arg("-m").arg("venv").arg("--clear").arg(&venv);
    let output = run(command, scratch, "venv", VENV_TIMEOUT);
    assert!(
        output.status.success(),
        "creating the virtual environment {} failed ({}):\n{}",
        venv.display(),
        output.status,
        output.stderr
    );
    let mut command = Command::new(&python);
    command.args([
        "-m",
        "pip",
        "install",
        "--no-input",
        &format!("{REFERENCE_PACKAGE}=={REFERENCE_VERSION}"),
    ]);
    let output = run(command, scratch, "pip", PIP_TIMEOUT);
    assert!(
        output.status.success(),
        "`pip install {REFERENCE_PACKAGE}=={REFERENCE_VERSION}` failed ({}):\n{}\n{}",
        output.status,
        output.stdout,
        output.stderr
    );
    let version = installed_version(&python, scratch);
    assert_eq!(
        version.as_deref(),
        Some(REFERENCE_VERSION),
        "{REFERENCE_PACKAGE} is not importable at the pinned version after installing"
    );
    python
}

fn run_script(python: &Path, scratch: &Path, mode: &str, dir: &Path) -> String {
    let mut command = Command::new(python);
    command.arg(SCRIPT).arg(mode).arg(dir);
    let output = run(command, scratch, mode, SCRIPT_TIMEOUT);
    assert!(
        output.status.success(),
        "interop script `{mode}` failed ({}):\n{}",
        output.status,
        output.stderr
    );
    output.stdout
}

fn parse(text: &str) -> Value {
    canonical::parse(text, &ParseOptions::STRICT)
        .unwrap_or_else(|e| panic!("cannot parse {text:?}: {e}"))
}

/// Messages this crate signs for the reference to verify (JSON objects: profile B spreads the
/// message's members next to its header).
fn rust_messages() -> Vec<Value> {
    let long = "x".repeat(2000);
    let many: Vec<String> = (0..64).map(|i| (i * 7919).to_string()).collect();
    let texts = [
        r#"{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"protocolVersion": "2025-06-18", "capabilities": {}}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "echo", "arguments": {"text": "héllo wörld ☃ 😀"}}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 3, "result": {"text": "\u00e9\ud83d\ude00\u65e5\u672c"}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 4, "result": {"text": "nul\u0000 us\u001f nl\n tab\t quote\" back\\ ls\u2028 del\u007f slash\/ bs\b ff\f cr\r"}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 5, "params": {"big": 123456789012345678901234567890, "neg": -99999999999999999999999}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 6, "params": {"max": 9223372036854775807, "min": -9223372036854775808, "u64": 18446744073709551616}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 7, "params": {"floats": [0.1, 0.2, 1e300, 1E-300, 5e-324, 1.7976931348623157e308, -0.0, 2.5, 100.0, 1e16, 1e15, 123456.789]}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 8, "params": {"forms": [1.0e2, 12e-1, 0.000001, 0.0000001, 1.5E+3, 3.141592653589793, 2.718281828459045e-10, 9007199254740992.0, 9007199254740991.0, 9007199254740993, 1e21, 1e22]}}"#.to_owned(),
        r#"{"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": [1, [2, [3, [4]]]]}}}}}}}}}}"#.to_owned(),
        r#"{"z": 1, "a": 2, "m": {"y": [], "b": {}, "a": ""}, "A": null}"#.to_owned(),
        r#"{"ключ": "значение", "日本": "語", "😀": true, "！": false, "\uffff": 1, "é": "e\u0301"}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 12, "result": [null, true, false, 0, -1, "", [], {}]}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 13, "error": {"code": -32601, "message": "Method not found", "data": null}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "method": "notifications/progress", "params": {"progressToken": "t-1", "progress": 0.75, "total": 1.0}}"#.to_owned(),
        format!(r#"{{"jsonrpc": "2.0", "id": 15, "result": {{"text": "{long}"}}}}"#),
        r#"{"jsonrpc": "2.0", "id": "req/16</script>&<>'", "method": "ping"}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "id": 17, "result": {"content": [{"type": "text", "text": "{\"inner\": [1, 2.5, \"x\"]}"}], "isError": false}}"#.to_owned(),
        format!(r#"{{"jsonrpc": "2.0", "id": 18, "result": [{}]}}"#, many.join(", ")),
        r#"{"jsonrpc": "2.0", "id": 19, "params": {"ints": [0, -0, -1, 1, 255, 65536, 4294967296], "tiny": [1e-5, 1e-4, 0.001]}}"#.to_owned(),
        r#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#.to_owned(),
    ];
    texts.iter().map(|t| parse(t)).collect()
}

fn scratch_dir() -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "interop-mcps-secure-{}-{nanos}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("missing `{key}` in {value:?}"))
}

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

    let messages = rust_messages();
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

    let stdout = run_script(python, scratch, "verify", &dir);
    let report = parse(stdout.trim());
    assert_eq!(
        field(&report, "reference_version").as_str(),
        Some(REFERENCE_VERSION)
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

fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The reference signs; this crate verifies.
fn reference_to_rust(python: &Path, scratch: &Path) -> usize {
    let dir = scratch.join("from-reference");
    fs::create_dir_all(&dir).unwrap();
    let stdout = run_script(python, scratch, "sign", &dir);
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
    let scratch = scratch_dir();
    let python = reference_python(&scratch);
    let to_reference = rust_to_reference(&python, &scratch);
    let from_reference = reference_to_rust(&python, &scratch);
    eprintln!(
        "profile b interop: {to_reference} envelopes mcps -> mcps-secure, {from_reference} \
         envelopes mcps-secure -> mcps, one passport each way"
    );
    fs::remove_dir_all(&scratch).unwrap();
}
