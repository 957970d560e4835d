//! Conformance against the profile A reference vectors (`mcp-secure` 1.0.0).
//!
//! Every one of the 114 cases in `shared/mcps-vectors/profile-a/` is run through this crate:
//!
//! * canonical cases must agree byte for byte (all three renderings) and in verdict;
//! * every serialiser output the vectors record (`signing_input`, `signing_input_rfc8785`) must
//!   agree byte for byte;
//! * envelope, passport, tool and transcript verdicts must agree with `expected_verdict`
//!   (compared through [`RejectCode::legacy_code`]), except for the cases listed in
//!   [`STRICT_REJECTIONS`] (the reference accepts, we refuse on purpose) and
//!   [`REFERENCE_ERRORS`] (the reference crashes, we refuse cleanly), where our exact verdict is
//!   pinned instead;
//! * middleware cases describe the reference middleware, which never verifies signatures; our
//!   verifier's verdicts for their envelopes are pinned in [`MIDDLEWARE`].
//!
//! Any unexpected result fails the test with a per-case report (expected, ours, and for byte
//! comparisons the first differing offset). Table entries that no longer apply fail too.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code"
)]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use mcps::canonical::{self, JsonString, Number, Object, ParseOptions, Value};
use mcps::keys::{Jwk, SigningKey, VerifyingKey};
use mcps::passport::{Passport, PassportLimits};
use mcps::profile_a::{self, VerifyOptions};
use mcps::replay::ReplayCache;
use mcps::time::Timestamp;
use mcps::{Error, Profile, RejectCode, tool_pin, transcript};

/// Cases the reference accepts and this crate refuses on purpose: id, our verdict, reason.
const STRICT_REJECTIONS: &[(&str, &str, &str)] = &[
    (
        "env-duplicate-keys-wire",
        "REJECT:duplicate_key",
        "duplicate object keys are refused, so the value verified is the value every parser downstream sees",
    ),
    (
        "env-nan-payload",
        "REJECT:non_finite_number",
        "NaN is not JSON; accepting it ties the signature to CPython's non-standard output",
    ),
    (
        "env-lone-surrogate",
        "REJECT:lone_surrogate",
        "a lone surrogate is not Unicode; other parsers replace or refuse it, so the signed value is ambiguous",
    ),
    (
        "env-sig-junk-chars",
        "REJECT:bad_signature_encoding",
        "the reference drops non-base64 characters, so many different strings pass as one signature",
    ),
    (
        "env-ts-offset-form",
        "REJECT:bad_timestamp",
        "only UTC timestamps ending in `Z` are accepted",
    ),
    (
        "env-ts-naive",
        "REJECT:bad_timestamp",
        "an offset-less timestamp is read in the verifier's local zone by the reference",
    ),
    (
        "env-shift-01",
        "REJECT:bad_timestamp",
        "boundary-shift replay: `Z` moved into the nonce; timestamp no longer UTC `…Z` (nonce would fail too)",
    ),
    (
        "env-shift-03",
        "REJECT:bad_timestamp",
        "boundary-shift replay: fraction digits and `Z` moved into the nonce",
    ),
    (
        "env-shift-08",
        "REJECT:bad_timestamp",
        "boundary-shift replay: `.ffffffZ` moved into the nonce",
    ),
    (
        "env-shift-11",
        "REJECT:bad_timestamp",
        "boundary-shift replay: `:SS.ffffffZ` moved into the nonce",
    ),
];

/// Cases on which the reference raises an exception: id, our clean verdict, what it raised.
const REFERENCE_ERRORS: &[(&str, &str, &str)] = &[
    (
        "env-sig-padding-stripped",
        "REJECT:bad_signature_encoding",
        "binascii.Error: incorrect padding",
    ),
    ("env-missing-nonce", "REJECT:bad_nonce", "KeyError: 'nonce'"),
    (
        "env-missing-signature",
        "REJECT:bad_signature_encoding",
        "KeyError: 'signature'",
    ),
    (
        "env-numeric-passport-id",
        "REJECT:bad_passport_id",
        "TypeError: str + int",
    ),
    (
        "env-numeric-timestamp",
        "REJECT:bad_timestamp",
        "AttributeError: int has no replace",
    ),
    (
        "pp-naive-expiry",
        "sig=valid;format=REJECT:passport_malformed",
        "TypeError comparing naive and aware datetimes; `expires_at` must be UTC `…Z`",
    ),
    (
        "pp-garbage-expiry",
        "sig=valid;format=REJECT:passport_malformed",
        "ValueError from fromisoformat; `expires_at` must be UTC `…Z`",
    ),
    (
        "tool-missing-description",
        "REJECT:tool_malformed",
        "KeyError: 'description'",
    ),
];

/// Middleware cases: id, our verifier's verdicts for the envelopes in order, why they differ
/// from the reference middleware (which never checks signatures).
const MIDDLEWARE: &[(&str, &str, &str)] = &[
    (
        "mw-unreachable-min0",
        "REJECT:bad_timestamp|REJECT:bad_timestamp|REJECT:bad_timestamp",
        "unsigned forgeries (no timestamp, nonce or signature) are refused whatever the trust authority says; the reference forwards two of them",
    ),
    (
        "mw-unreachable-min2",
        "REJECT:bad_timestamp",
        "unsigned forgery refused before any trust-authority lookup; the reference reports the unreachable authority",
    ),
    (
        "mw-valid-min2-forged",
        "REJECT:bad_timestamp|ACCEPT",
        "the unsigned forgery is refused, the genuinely signed envelope is accepted; the reference forwards both",
    ),
    (
        "mw-unknown-min2",
        "REJECT:bad_timestamp",
        "unsigned forgery refused; the reference forwards it because the authority did not say REVOKED",
    ),
    (
        "mw-revoked",
        "REJECT:bad_timestamp|ACCEPT",
        "signature verification accepts the signed envelope; revocation is a separate gateway stage that would refuse both",
    ),
    (
        "mw-path-injection",
        "REJECT:bad_passport_id",
        "`../../admin/revoke?all=1` is not a passport id; it never reaches a URL",
    ),
    (
        "mw-client-unreachable",
        "REJECT:bad_timestamp",
        "the client-side check is the same verifier; the reference client accepts the unsigned forgery",
    ),
];

// === loading ===

fn vectors_dir() -> PathBuf {
    let dir =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/mcps-vectors/profile-a");
    assert!(
        dir.join("meta.json").is_file(),
        "profile A vector directory not found at {} — the conformance suite cannot run without it",
        dir.display()
    );
    dir
}

fn load(name: &str) -> Value {
    let path = vectors_dir().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let value = canonical::parse(&text, &ParseOptions::STRICT)
        .unwrap_or_else(|e| panic!("cannot parse {}: {e}", path.display()));
    decode_python_markers(value)
}

fn cases(name: &str) -> Vec<Value> {
    let file = load(name);
    assert_eq!(
        str_field(&file, "format"),
        "mcps-interop/1",
        "{name}: unexpected format"
    );
    assert_eq!(
        str_field(&file, "flavor"),
        "flat",
        "{name}: not a profile A file"
    );
    file.get("cases")
        .and_then(Value::as_array)
        .expect("cases array")
        .to_vec()
}

fn str_field<'a>(value: &'a Value, name: &str) -> &'a str {
    value
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("missing string field `{name}`"))
}

fn opt_str<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// Replaces the generator's `PYFLOAT:` / `PYESC:` marker strings with the Python values they
/// stand for. (No profile A case uses them, but a loader must not mistake them for text.)
fn decode_python_markers(value: Value) -> Value {
    match value {
        Value::String(s) => match s.as_str() {
            Some(text) if text.starts_with("PYFLOAT:") => {
                let x = match &text["PYFLOAT:".len()..] {
                    "nan" => f64::NAN,
                    "inf" => f64::INFINITY,
                    "-inf" => f64::NEG_INFINITY,
                    other => panic!("unknown PYFLOAT marker {other:?}"),
                };
                Value::Number(Number::Float(x))
            }
            Some(text) if text.starts_with("PYESC:") => {
                Value::String(unicode_unescape(&text["PYESC:".len()..]))
            }
            _ => Value::String(s),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(decode_python_markers).collect()),
        Value::Object(object) => Value::Object(
            object
                .iter()
                .map(|(k, v)| (k.clone(), decode_python_markers(v.clone())))
                .collect::<Object>(),
        ),
        other => other,
    }
}

/// Python's `unicode_escape` decoding, to UTF-16 code units (so lone surrogates survive).
fn unicode_unescape(text: &str) -> JsonString {
    let mut units = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0u16; 2];
            units.extend_from_slice(c.encode_utf16(&mut buf));
            continue;
        }
        let escape = chars.next().expect("dangling backslash in PYESC marker");
        let hex = |n: usize, chars: &mut std::str::Chars<'_>| {
            let digits: String = chars.take(n).collect();
            u32::from_str_radix(&digits, 16).expect("bad hex in PYESC marker")
        };
        let code = match escape {
            'n' => 0x0a,
            'r' => 0x0d,
            't' => 0x09,
            '\\' => 0x5c,
            '\'' => 0x27,
            'x' => hex(2, &mut chars),
            'u' => hex(4, &mut chars),
            'U' => hex(8, &mut chars),
            other => panic!("unsupported escape \\{other} in PYESC marker"),
        };
        match char::from_u32(code) {
            Some(c) => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
            }
            None => units.push(u16::try_from(code).expect("surrogate code unit")),
        }
    }
    JsonString::from_utf16(units)
}

struct TestKey {
    signing: SigningKey,
    verifying: VerifyingKey,
}

fn keys() -> HashMap<String, TestKey> {
    let file = load("keys.json");
    assert_eq!(str_field(&file, "flavor"), "flat");
    let mut keys = HashMap::new();
    for (name, entry) in file
        .get("keys")
        .and_then(Value::as_object)
        .expect("keys object")
        .iter()
    {
        let name = name.as_str().expect("key name").to_owned();
        let signing =
            SigningKey::from_pem(str_field(entry, "private_key_pem")).expect("private pem");
        let verifying =
            VerifyingKey::from_spki_pem(str_field(entry, "public_key_pem")).expect("public pem");
        assert_eq!(
            signing.verifying_key(),
            verifying,
            "{name}: private and public pem differ"
        );
        let jwk = Jwk::from_value(entry.get("public_jwk").expect("public_jwk")).expect("jwk");
        assert_eq!(
            VerifyingKey::from_jwk(&jwk).expect("jwk key"),
            verifying,
            "{name}: jwk differs"
        );
        // Our JWK export must reproduce the reference's byte for byte.
        assert_eq!(
            canonical::python_dumps(&verifying.to_jwk().to_value()).unwrap(),
            canonical::python_dumps(entry.get("public_jwk").unwrap()).unwrap(),
            "{name}: jwk export differs"
        );
        keys.insert(name, TestKey { signing, verifying });
    }
    keys
}

fn now_of(case: &Value) -> Timestamp {
    let seconds = match case.get("now_unix") {
        Some(Value::Number(Number::Float(x))) => *x,
        Some(Value::Number(Number::Int(n))) => n.to_f64(),
        other => panic!("bad now_unix {other:?}"),
    };
    #[expect(
        clippy::cast_possible_truncation,
        reason = "vector times are near 2026, far inside i64"
    )]
    let micros = (seconds * 1e6).round() as i64;
    Timestamp::from_unix_micros(micros)
}

// === reporting ===

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum Outcome {
    /// Same verdict as the reference.
    Match,
    /// Refused on purpose although the reference accepts ([`STRICT_REJECTIONS`]).
    Strict,
    /// The reference crashed; we refuse cleanly ([`REFERENCE_ERRORS`]).
    ReferenceError,
    /// Middleware semantics differ by design ([`MIDDLEWARE`]).
    Middleware,
}

#[derive(Default)]
struct Report {
    rows: Vec<(String, String, String, Outcome)>,
    failures: Vec<String>,
    used_table_entries: HashSet<String>,
}

impl Report {
    fn fail(&mut self, id: &str, message: String) {
        self.failures.push(format!("{id}: {message}"));
    }

    fn bytes(&mut self, id: &str, what: &str, expected: &str, ours: &str) {
        if expected != ours {
            let at = expected
                .bytes()
                .zip(ours.bytes())
                .take_while(|(a, b)| a == b)
                .count();
            self.fail(
                id,
                format!(
                    "{what} differs at byte {at}\n    expected: {expected:?}\n    ours:     {ours:?}"
                ),
            );
        }
    }

    /// Records a verdict: `ours_native` uses our reject codes, `ours_legacy` the reference's.
    fn verdict(&mut self, id: &str, expected: &str, ours_native: &str, ours_legacy: &str) {
        let strict = STRICT_REJECTIONS.iter().find(|(case, ..)| *case == id);
        let error = REFERENCE_ERRORS.iter().find(|(case, ..)| *case == id);
        let outcome = match (strict, error) {
            (Some(_), Some(_)) => panic!("{id} is listed in two tables"),
            (Some((_, pinned, _)), None) | (None, Some((_, pinned, _))) => {
                self.used_table_entries.insert(id.to_owned());
                if ours_native != *pinned {
                    self.fail(id, format!("listed as a deliberate divergence with verdict {pinned}, ours is {ours_native}"));
                }
                if expected == ours_legacy {
                    self.fail(id, format!("listed as a divergence but now matches the reference ({expected}); remove it from the table"));
                }
                if strict.is_some() {
                    Outcome::Strict
                } else {
                    Outcome::ReferenceError
                }
            }
            (None, None) => {
                if expected != ours_legacy {
                    self.fail(
                        id,
                        format!("verdict mismatch\n    reference: {expected}\n    ours:      {ours_native} (as reference codes: {ours_legacy})"),
                    );
                }
                Outcome::Match
            }
        };
        self.rows.push((
            id.to_owned(),
            expected.to_owned(),
            ours_native.to_owned(),
            outcome,
        ));
    }

    fn finish(&self, file: &str, expected_cases: usize) {
        let mut text = String::new();
        if self.rows.len() != expected_cases {
            let _ = writeln!(
                text,
                "{file}: ran {} cases, expected {expected_cases}",
                self.rows.len()
            );
        }
        for failure in &self.failures {
            let _ = writeln!(text, "{failure}");
        }
        assert!(
            text.is_empty(),
            "{file}: unexpected results against the reference vectors:\n{text}"
        );
    }
}

fn native(result: &Result<(), Error>) -> String {
    match result {
        Ok(()) => "ACCEPT".into(),
        Err(e) => e.reject_code().to_string(),
    }
}

fn legacy(result: &Result<(), Error>) -> String {
    match result {
        Ok(()) => "ACCEPT".into(),
        Err(e) => match e.reject_code().legacy_code() {
            Some(code) => format!("REJECT:{code}"),
            None if e.reject_code() == RejectCode::Unsupported => "UNSUPPORTED".into(),
            None => e.reject_code().to_string(),
        },
    }
}

// === the six kinds ===

fn run_canonical() -> Report {
    let mut report = Report::default();
    for case in cases("canonical.json") {
        let id = str_field(&case, "id");
        assert_eq!(str_field(&case, "kind"), "canonical");
        // The reference read these with `json.loads`.
        let value = canonical::parse(str_field(&case, "value_json"), &ParseOptions::PYTHON_COMPAT)
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let detail = case.get("expected_detail").expect("expected_detail");
        let profile_a = canonical::profile_a(&value).unwrap();
        report.bytes(
            id,
            "canonical_json",
            str_field(detail, "canonical_json"),
            &profile_a,
        );
        report.bytes(
            id,
            "message_serialization",
            str_field(detail, "message_serialization"),
            &canonical::python_dumps(&value).unwrap(),
        );
        let jcs = canonical::jcs(&value);
        match (opt_str(detail, "rfc8785"), &jcs) {
            (Some(expected), Ok(ours)) => report.bytes(id, "rfc8785", expected, ours),
            (None, Err(e)) => {
                if !matches!(
                    e.reject_code(),
                    RejectCode::NonFiniteNumber | RejectCode::LoneSurrogate
                ) {
                    report.fail(id, format!("rfc8785 refused for the wrong reason: {e}"));
                }
            }
            (expected, ours) => {
                report.fail(id, format!("rfc8785: expected {expected:?}, ours {ours:?}"))
            }
        }
        let ours = match &jcs {
            Ok(text) if *text == profile_a => "jcs_agree",
            _ => "jcs_differ",
        };
        report.verdict(id, str_field(&case, "expected_verdict"), ours, ours);

        // The strict parser refuses exactly the three inputs that are not plain JSON.
        let strict = canonical::parse(str_field(&case, "value_json"), &ParseOptions::STRICT);
        let refused = match (id, &strict) {
            ("c-dup-keys", Err(e)) => e.reject_code() == RejectCode::DuplicateKey,
            ("c-nan", Err(e)) => e.reject_code() == RejectCode::NonFiniteNumber,
            ("c-lone-surrogate", Err(e)) => e.reject_code() == RejectCode::LoneSurrogate,
            (_, Ok(strict_value)) => *strict_value == value,
            (_, Err(_)) => false,
        };
        if !refused {
            report.fail(id, format!("unexpected strict parse result {strict:?}"));
        }
    }
    report
}

fn run_envelopes(keys: &HashMap<String, TestKey>) -> Report {
    let mut report = Report::default();
    let mut groups: HashMap<String, ReplayCache> = HashMap::new();
    for case in cases("envelopes.json") {
        let id = str_field(&case, "id");
        assert_eq!(str_field(&case, "kind"), "envelope");
        let wire = str_field(&case, "envelope_json");
        let key = &keys[str_field(&case, "public_key_ref")].verifying;

        // The signing input, rebuilt from the reference's own view of the wire text.
        let python_view =
            canonical::parse(wire, &ParseOptions::PYTHON_COMPAT).expect("json.loads view");
        let field = |name: &str| python_view.get(name).and_then(Value::as_str);
        let rebuilt = match (
            python_view.get("message"),
            field("passport_id"),
            field("timestamp"),
            field("nonce"),
        ) {
            (Some(message), Some(pid), Some(ts), Some(nonce)) => Some(
                String::from_utf8(profile_a::signing_input(message, pid, ts, nonce).unwrap())
                    .unwrap(),
            ),
            _ => None,
        };
        match (opt_str(&case, "signing_input"), rebuilt) {
            (Some(expected), Some(ours)) => report.bytes(id, "signing_input", expected, &ours),
            (None, None) => assert!(case.get("signing_input_error").is_some()),
            (expected, ours) => report.fail(
                id,
                format!("signing input: expected {expected:?}, ours {ours:?}"),
            ),
        }

        let options = VerifyOptions::at(now_of(&case));
        let mut result = profile_a::verify(wire.as_bytes(), key, &options).map(|_| ());
        if let (Ok(()), Some(group)) = (&result, opt_str(&case, "replay_group")) {
            let verified = profile_a::verify(wire.as_bytes(), key, &options).unwrap();
            let cache = groups
                .entry(group.to_owned())
                .or_insert_with(|| ReplayCache::new(64));
            result = cache.admit(&verified, &options);
        }
        report.verdict(
            id,
            str_field(&case, "expected_verdict"),
            &native(&result),
            &legacy(&result),
        );
    }
    report
}

fn run_passports(keys: &HashMap<String, TestKey>) -> Report {
    let mut report = Report::default();
    for case in cases("passports.json") {
        let id = str_field(&case, "id");
        assert_eq!(str_field(&case, "kind"), "passport");
        let passport = Passport::parse(str_field(&case, "passport_json"))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        report.bytes(
            id,
            "signing_input",
            str_field(&case, "signing_input"),
            &passport.signing_input().unwrap(),
        );
        let mut unsigned = passport.as_object().clone();
        unsigned.remove("signature");
        report.bytes(
            id,
            "signing_input_rfc8785",
            str_field(&case, "signing_input_rfc8785"),
            &canonical::jcs(&Value::Object(unsigned)).unwrap(),
        );
        let key = &keys[str_field(&case, "ta_public_key_ref")].verifying;
        let sig = match passport.verify_signature(key) {
            Ok(()) => "valid".to_owned(),
            Err(Error::PassportUnsigned | Error::PassportBadSignature) => "invalid".to_owned(),
            Err(e) => e.reject_code().to_string(),
        };
        let format = passport
            .validate(now_of(&case), &PassportLimits::default())
            .map(|_| ());
        let format_native = match &format {
            Ok(()) => "valid".to_owned(),
            Err(e) => e.reject_code().to_string(),
        };
        let format_legacy = match &format {
            Ok(()) => "valid".to_owned(),
            Err(e) => e.reject_code().legacy_code().unwrap_or("none").to_owned(),
        };
        report.verdict(
            id,
            str_field(&case, "expected_verdict"),
            &format!("sig={sig};format={format_native}"),
            &format!("sig={sig};format={format_legacy}"),
        );
    }
    report
}

fn run_tools(keys: &HashMap<String, TestKey>) -> Report {
    let mut report = Report::default();
    for case in cases("tools.json") {
        let id = str_field(&case, "id");
        assert_eq!(str_field(&case, "kind"), "tool");
        let tool = case.get("tool").expect("tool");
        match (
            opt_str(&case, "signing_input"),
            tool_pin::signing_input_a(tool),
        ) {
            (Some(expected), Ok(ours)) => report.bytes(id, "signing_input", expected, &ours),
            (None, Err(_)) => {}
            (expected, ours) => report.fail(
                id,
                format!("signing input: expected {expected:?}, ours {ours:?}"),
            ),
        }
        let key = &keys[str_field(&case, "public_key_ref")].verifying;
        let result = tool_pin::verify_a(tool, str_field(&case, "signature"), key);
        let (ours_native, ours_legacy) = match &result {
            Ok(()) => ("valid".to_owned(), "valid".to_owned()),
            Err(Error::ToolBadSignature) => ("invalid".to_owned(), "invalid".to_owned()),
            Err(e) => (e.reject_code().to_string(), legacy(&result)),
        };
        report.verdict(
            id,
            str_field(&case, "expected_verdict"),
            &ours_native,
            &ours_legacy,
        );
    }
    report
}

fn run_transcript(keys: &HashMap<String, TestKey>) -> Report {
    let mut report = Report::default();
    for case in cases("transcript.json") {
        let id = str_field(&case, "id");
        assert_eq!(str_field(&case, "kind"), "transcript");
        let client = case.get("client_init_params").expect("client_init_params");
        let server = case.get("server_init_result").expect("server_init_result");
        let key = &keys[str_field(&case, "public_key_ref")];
        let result = transcript::bind(Profile::A, client, server, &key.signing).map(|_| ());
        report.verdict(
            id,
            str_field(&case, "expected_verdict"),
            &legacy(&result),
            &legacy(&result),
        );

        // The same handshake under profile B's binding: signs, verifies, and detects a downgrade.
        let binding = transcript::bind(Profile::B, client, server, &key.signing).unwrap();
        transcript::verify(Profile::B, client, server, &binding, &key.verifying).unwrap();
        let mut downgraded = client.as_object().unwrap().clone();
        downgraded.insert("capabilities", Value::Object(Object::new()));
        assert_eq!(
            transcript::verify(
                Profile::B,
                &Value::Object(downgraded),
                server,
                &binding,
                &key.verifying
            ),
            Err(Error::TranscriptMismatch)
        );
    }
    report
}

fn run_middleware(keys: &HashMap<String, TestKey>) -> Report {
    let mut report = Report::default();
    for case in cases("middleware.json") {
        let id = str_field(&case, "id");
        assert_eq!(str_field(&case, "kind"), "middleware");
        let options = VerifyOptions::at(now_of(&case));
        let mut cache = ReplayCache::new(64);
        let verdicts: Vec<String> = case
            .get("envelopes")
            .and_then(Value::as_array)
            .expect("envelopes")
            .iter()
            .map(|envelope| {
                let result =
                    profile_a::verify_value(envelope.clone(), &keys["agent"].verifying, &options)
                        .and_then(|verified| cache.admit(&verified, &options));
                native(&result)
            })
            .collect();
        let ours = verdicts.join("|");
        let Some((_, pinned, _)) = MIDDLEWARE.iter().find(|(case, ..)| *case == id) else {
            report.fail(
                id,
                format!("middleware case not in the MIDDLEWARE table (ours: {ours})"),
            );
            continue;
        };
        report.used_table_entries.insert(id.to_owned());
        if ours != *pinned {
            report.fail(
                id,
                format!("middleware verdicts: pinned {pinned}, ours {ours}"),
            );
        }
        report.rows.push((
            id.to_owned(),
            str_field(&case, "expected_verdict").to_owned(),
            ours,
            Outcome::Middleware,
        ));
    }
    report
}

// === tests ===

#[test]
fn canonical_cases_agree_byte_for_byte() {
    run_canonical().finish("canonical.json", 29);
}

#[test]
fn envelope_verdicts() {
    run_envelopes(&keys()).finish("envelopes.json", 55);
}

#[test]
fn passport_verdicts() {
    run_passports(&keys()).finish("passports.json", 13);
}

#[test]
fn tool_verdicts() {
    run_tools(&keys()).finish("tools.json", 9);
}

#[test]
fn transcript_verdicts() {
    run_transcript(&keys()).finish("transcript.json", 1);
}

#[test]
fn middleware_cases_get_our_verifiers_verdicts() {
    run_middleware(&keys()).finish("middleware.json", 7);
}

/// Runs everything once more, checks that all 114 cases were accounted for and that every table
/// entry was used, and prints the summary (`cargo test -- --nocapture` to see it).
#[test]
fn all_114_cases_are_accounted_for() {
    let keys = keys();
    let reports = [
        ("canonical.json", run_canonical()),
        ("envelopes.json", run_envelopes(&keys)),
        ("passports.json", run_passports(&keys)),
        ("tools.json", run_tools(&keys)),
        ("transcript.json", run_transcript(&keys)),
        ("middleware.json", run_middleware(&keys)),
    ];
    let mut totals: BTreeMap<Outcome, usize> = BTreeMap::new();
    let mut used = HashSet::new();
    let mut summary = String::new();
    for (file, report) in &reports {
        assert!(
            report.failures.is_empty(),
            "{file} has failures; see its own test"
        );
        let _ = writeln!(summary, "== {file} ({} cases)", report.rows.len());
        for (id, expected, ours, outcome) in &report.rows {
            *totals.entry(*outcome).or_default() += 1;
            let outcome_name = format!("{outcome:?}");
            let _ = writeln!(
                summary,
                "  {id:<28} {outcome_name:<14} reference {expected:<38} ours {ours}"
            );
        }
        used.extend(report.used_table_entries.iter().cloned());
    }
    let total: usize = totals.values().sum();
    let _ = writeln!(summary, "== totals: {totals:?} = {total}");
    println!("{summary}");
    assert_eq!(total, 114, "expected 114 cases in total\n{summary}");

    let on_disk: usize = [
        "canonical.json",
        "envelopes.json",
        "passports.json",
        "tools.json",
        "transcript.json",
        "middleware.json",
    ]
    .iter()
    .map(|file| cases(file).len())
    .sum();
    assert_eq!(on_disk, 114, "the vector files no longer hold 114 cases");

    for (id, ..) in STRICT_REJECTIONS
        .iter()
        .chain(REFERENCE_ERRORS)
        .chain(MIDDLEWARE)
    {
        assert!(
            used.contains(*id),
            "table entry {id} matches no case; remove it"
        );
    }
}

/// The two pieces of profile A this crate signs itself, checked against the vectors' keys: an
/// envelope and a passport signed here verify, and their serialised forms re-parse identically.
#[test]
fn our_signatures_verify_with_vector_keys() {
    let keys = keys();
    let agent = &keys["agent"];
    let now = Timestamp::parse("2026-11-22T16:05:23.250000Z").unwrap();
    let message = canonical::parse(
        r#"{"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "echo", "arguments": {"latin": "caf\u00e9", "emoji": "\ud83d\ude00", "f": 1.0, "big": 18446744073709551616}}}"#,
        &ParseOptions::STRICT,
    )
    .unwrap();
    let envelope = profile_a::sign(
        &message,
        "asp_00112233445566778899aabbccddeeff",
        &agent.signing,
        now,
        profile_a::Nonce::random().unwrap(),
    )
    .unwrap();
    let wire = envelope.to_json().unwrap();
    let verified =
        profile_a::verify(wire.as_bytes(), &agent.verifying, &VerifyOptions::at(now)).unwrap();
    assert_eq!(verified.message(), &message);

    let pins_tool = cases("tools.json");
    let basic = pins_tool
        .iter()
        .find(|c| str_field(c, "id") == "tool-basic")
        .unwrap();
    let extra = pins_tool
        .iter()
        .find(|c| str_field(c, "id") == "tool-extra-fields")
        .unwrap();
    let mut pins = tool_pin::ToolPins::new();
    pins.pin(basic.get("tool").unwrap()).unwrap();
    // The profile A signature does not cover `annotations`; the pin does.
    assert_eq!(
        pins.check(extra.get("tool").unwrap()),
        Err(Error::ToolChanged)
    );
}
