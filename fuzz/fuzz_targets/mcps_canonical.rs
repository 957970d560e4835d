//! The MCPS JSON parser and its four serialisers (`mcps::canonical`).
//!
//! Input: any bytes, parsed both with `ParseOptions::STRICT` and with
//! `ParseOptions::PYTHON_COMPAT`.
//!
//! Properties checked beyond "no panic", for a text the strict parser accepts:
//!
//! - `python_dumps` and `profile_a` always succeed, and so does `profile_b`; `jcs` succeeds
//!   unless an integer is beyond the double range;
//! - each output parses again (strictly) and serialises again to the identical text;
//! - `python_dumps` keeps the value: its output parses back to an equal value;
//! - every output parses back to a value with the same canonical forms: the same `jcs`,
//!   `profile_a` and `profile_b` text for the exact forms (`python_dumps`, `profile_a`), the
//!   same `jcs` and `profile_b` text for `profile_b` (which writes `1.0` as `1`).
//!
//! For a text only the lenient parser accepts (`NaN`, lone surrogates, duplicate keys, numbers
//! beyond the double range): `python_dumps` and `profile_a` succeed and are idempotent under a
//! lenient parse; `profile_b` and `jcs` fail exactly when the value is not strict JSON.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mcps::Error;
use mcps::canonical::{self, ParseOptions, Value};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = canonical::parse_bytes(data, &ParseOptions::STRICT) {
        check_strict(&value);
    }
    if let Ok(value) = canonical::parse_bytes(data, &ParseOptions::PYTHON_COMPAT) {
        check_lenient(&value);
    }
});

type Serialiser = fn(&Value) -> Result<String, Error>;

const SERIALISERS: [(&str, Serialiser); 4] = [
    ("python_dumps", canonical::python_dumps),
    ("profile_a", canonical::profile_a),
    ("profile_b", canonical::profile_b),
    ("jcs", canonical::jcs),
];

/// Serialises `value`, panicking on errors other than those `allowed` lets through (`None`).
fn write(
    name: &str,
    write: Serialiser,
    value: &Value,
    allowed: fn(&Error) -> bool,
) -> Option<String> {
    match write(value) {
        Ok(text) => Some(text),
        Err(e) if allowed(&e) => None,
        Err(e) => panic!("{name} failed on a parsed value: {e:?}"),
    }
}

fn reparse(name: &str, text: &str, options: &ParseOptions) -> Value {
    match canonical::parse(text, options) {
        Ok(value) => value,
        Err(e) => panic!("{name} output does not parse again ({e:?}): {text:?}"),
    }
}

fn check_strict(value: &Value) {
    // Strictly parsed values are finite, valid Unicode and at most 128 deep: only `jcs` can
    // fail, on an integer no double can hold.
    let unrepresentable = |e: &Error| matches!(e, Error::UnrepresentableNumber(_));
    let none = |_: &Error| false;
    let mut outputs = Vec::with_capacity(SERIALISERS.len());
    for (name, serialise) in SERIALISERS {
        let allowed = if name == "jcs" { unrepresentable } else { none };
        outputs.push(write(name, serialise, value, allowed));
    }
    for (i, (name, serialise)) in SERIALISERS.iter().enumerate() {
        let Some(text) = &outputs[i] else { continue };
        let again = reparse(name, text, &ParseOptions::STRICT);
        let rewritten = serialise(&again).ok();
        assert_eq!(
            rewritten.as_deref(),
            Some(text.as_str()),
            "{name} is not idempotent"
        );
        // Which other canonical forms must survive the trip through this output.
        let kept: &[usize] = match *name {
            "python_dumps" | "profile_a" => &[1, 2, 3],
            "profile_b" => &[2, 3],
            _ => &[],
        };
        for &j in kept {
            let (other, serialise_other) = SERIALISERS[j];
            assert_eq!(
                serialise_other(&again).ok(),
                outputs[j],
                "{other} of the value changed by a trip through {name}: {text:?}"
            );
        }
        if *name == "python_dumps" {
            assert_eq!(&again, value, "python_dumps changed the value: {text:?}");
        }
    }
}

fn check_lenient(value: &Value) {
    let strict_json = value.check_strict().is_ok();
    for (name, serialise) in SERIALISERS {
        match name {
            "python_dumps" | "profile_a" => {
                let none = |_: &Error| false;
                let Some(text) = write(name, serialise, value, none) else {
                    continue;
                };
                let again = reparse(name, &text, &ParseOptions::PYTHON_COMPAT);
                assert_eq!(
                    serialise(&again).ok().as_deref(),
                    Some(text.as_str()),
                    "{name} is not idempotent on a lenient value"
                );
            }
            _ => match serialise(value) {
                Ok(_) => assert!(strict_json, "{name} wrote a value strict JSON cannot hold"),
                Err(Error::NonFiniteNumber | Error::LoneSurrogate) => {
                    assert!(!strict_json, "{name} refused a strict JSON value");
                }
                Err(Error::UnrepresentableNumber(_)) if name == "jcs" => {}
                Err(e) => panic!("{name} failed on a lenient value: {e:?}"),
            },
        }
    }
}
