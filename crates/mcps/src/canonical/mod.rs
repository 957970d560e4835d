//! Canonical JSON: RFC 8785 (JCS) and the two reference-compatible forms MCPS signs.
//!
//! | Function | What it reproduces | Used for |
//! |---|---|---|
//! | [`jcs`] | RFC 8785, exactly | anything new (tool pins use [`profile_b`]; see there) |
//! | [`python_dumps`] | CPython `json.dumps(obj)` with default settings | profile A message signatures |
//! | [`profile_a`] | profile A's `canonical_json` (sorted keys, compact, Python leaves) | profile A passport signatures |
//! | [`profile_b`] | profile B's `canonical_json` (code-point key order, Python floats) | profile B hashes, tool pins, transcripts |
//!
//! All of them work on [`Value`], produced by [`parse`] (order-preserving, exact integers,
//! int/float distinction kept). [`ParseOptions::STRICT`] refuses everything that is not plain
//! JSON; [`ParseOptions::PYTHON_COMPAT`] reads a text the way CPython's `json.loads` does.
//!
//! # Why this is hand-written
//!
//! Profile A's signatures are over CPython's `json.dumps` output of the *parsed* message, so a
//! verifier has to reproduce that output byte for byte: `", "` and `": "` separators, insertion
//! key order with Python's duplicate-key rule, `\uXXXX` escapes in lower-case hex with UTF-16
//! surrogate pairs, lone surrogates, exact big integers, `repr` floats (`1.0`, `1e-05`,
//! `1e+16`) and the non-standard `NaN`/`Infinity`. No Rust JSON crate does this: the common
//! ones normalise numbers, drop the int/float distinction or key order, write non-ASCII as UTF-8
//! and cannot hold lone surrogates. Profile B's form is a near miss of RFC 8785 that no crate
//! reproduces either, and having RFC 8785 here as well means all four share one value model and
//! one set of tests. The shortest round-trip digits of a double come from the standard library;
//! the layout rules of each format are implemented in this module.
//!
//! # Example
//!
//! ```
//! use mcps::canonical::{self, ParseOptions};
//!
//! let value = canonical::parse(r#"{"b": 1.0, "a": "caf\u00e9", "c": 1e16}"#, &ParseOptions::STRICT)?;
//! assert_eq!(canonical::python_dumps(&value)?, r#"{"b": 1.0, "a": "caf\u00e9", "c": 1e+16}"#);
//! assert_eq!(canonical::profile_a(&value)?, r#"{"a":"caf\u00e9","b":1.0,"c":1e+16}"#);
//! assert_eq!(canonical::profile_b(&value)?, "{\"a\":\"café\",\"b\":1,\"c\":1e+16}");
//! assert_eq!(canonical::jcs(&value)?, "{\"a\":\"café\",\"b\":1,\"c\":10000000000000000}");
//! # Ok::<(), mcps::Error>(())
//! ```

mod number;
mod parse;
mod value;
mod write;

pub use parse::{DuplicateKeys, ParseOptions, parse, parse_bytes};
pub use value::{JsonInt, JsonString, Number, Object, Value};

use crate::error::Error;
use write::Style;

/// CPython `json.dumps(value)` with default settings: `", "`/`": "` separators, insertion
/// order, ASCII-only output, Python float `repr`, `NaN`/`Infinity`/`-Infinity` written as such.
///
/// This is the message serialisation profile A signs.
///
/// # Errors
///
/// [`Error::TooDeep`] for values nested more than 512 levels.
pub fn python_dumps(value: &Value) -> Result<String, Error> {
    write::to_string(value, Style::PythonDumps)
}

/// Profile A's `canonical_json`: keys sorted by code point, `,` and `:` separators, leaves as
/// [`python_dumps`] writes them (ASCII escapes, `repr` floats, exact integers, `NaN`).
///
/// Profile A signs passports over this form (without the `signature` member). It is *not*
/// RFC 8785.
///
/// # Errors
///
/// [`Error::TooDeep`] for values nested more than 512 levels.
pub fn profile_a(value: &Value) -> Result<String, Error> {
    write::to_string(value, Style::ProfileA)
}

/// Profile B's canonical form: keys sorted by code point, compact, strings as UTF-8 with only
/// `"`, `\` and C0 controls escaped, exact integers, integral floats below 2^53 written as
/// integers (`0.0` and `-0.0` as `0`), other floats as Python `repr` (`1e+16`, `1e-07`).
///
/// It differs from RFC 8785 in key order (code point instead of UTF-16), in floats outside the
/// integral range, and in keeping big integers exact. Because it is exact and total over finite
/// JSON, this crate also uses it for local digests (tool pins).
///
/// # Errors
///
/// [`Error::NonFiniteNumber`], [`Error::LoneSurrogate`], [`Error::TooDeep`].
pub fn profile_b(value: &Value) -> Result<String, Error> {
    write::to_string(value, Style::ProfileB)
}

/// RFC 8785 JSON Canonicalization Scheme: keys sorted by UTF-16 code units, compact, strings as
/// UTF-8 with minimal escaping, numbers as ECMAScript writes doubles (integers are first
/// converted to the nearest double, as RFC 8785 requires).
///
/// # Errors
///
/// [`Error::NonFiniteNumber`], [`Error::LoneSurrogate`],
/// [`Error::UnrepresentableNumber`] for an integer beyond the double range,
/// [`Error::TooDeep`].
pub fn jcs(value: &Value) -> Result<String, Error> {
    write::to_string(value, Style::Jcs)
}

/// Formats a double as RFC 8785 / ECMAScript does.
///
/// # Errors
///
/// [`Error::NonFiniteNumber`] for NaN and the infinities.
pub fn jcs_number(x: f64) -> Result<String, Error> {
    number::ecmascript(x).ok_or(Error::NonFiniteNumber)
}

/// Formats a double as CPython's `json.dumps` does (`repr`, or `NaN`/`Infinity`/`-Infinity`).
#[must_use]
pub fn python_float(x: f64) -> String {
    number::python(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(text: &str) -> Value {
        parse(text, &ParseOptions::STRICT).unwrap()
    }

    /// RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text.
    #[test]
    fn rfc8785_appendix_b_numbers() {
        for (bits, expected) in [
            (0x0000_0000_0000_0000_u64, "0"),
            (0x8000_0000_0000_0000, "0"),
            (0x0000_0000_0000_0001, "5e-324"),
            (0x8000_0000_0000_0001, "-5e-324"),
            (0x7fef_ffff_ffff_ffff, "1.7976931348623157e+308"),
            (0xffef_ffff_ffff_ffff, "-1.7976931348623157e+308"),
            (0x4340_0000_0000_0000, "9007199254740992"),
            (0xc340_0000_0000_0000, "-9007199254740992"),
            (0x4430_0000_0000_0000, "295147905179352830000"),
            (0x44b5_2d02_c7e1_4af5, "9.999999999999997e+22"),
            (0x44b5_2d02_c7e1_4af6, "1e+23"),
            (0x44b5_2d02_c7e1_4af7, "1.0000000000000001e+23"),
            (0x444b_1ae4_d6e2_ef4e, "999999999999999700000"),
            (0x444b_1ae4_d6e2_ef4f, "999999999999999900000"),
            (0x444b_1ae4_d6e2_ef50, "1e+21"),
            (0x3eb0_c6f7_a0b5_ed8c, "9.999999999999997e-7"),
            (0x3eb0_c6f7_a0b5_ed8d, "0.000001"),
            (0x41b3_de43_5555_5553, "333333333.3333332"),
            (0x41b3_de43_5555_5554, "333333333.33333325"),
            (0x41b3_de43_5555_5555, "333333333.3333333"),
            (0x41b3_de43_5555_5556, "333333333.3333334"),
            (0x41b3_de43_5555_5557, "333333333.33333343"),
            (0xbecb_f647_612f_3696, "-0.0000033333333333333333"),
            (0x4314_3ff3_c1cb_0959, "1424953923781206.2"),
        ] {
            assert_eq!(
                jcs_number(f64::from_bits(bits)).unwrap(),
                expected,
                "{bits:016x}"
            );
        }
        assert!(jcs_number(f64::from_bits(0x7fff_ffff_ffff_ffff)).is_err());
        assert!(jcs_number(f64::from_bits(0x7ff0_0000_0000_0000)).is_err());
    }

    /// RFC 8785 §3.2.2: the sample object with numbers, a string and literals.
    #[test]
    fn rfc8785_section_3_2_2_example() {
        let input = r#"{
  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
  "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
  "literals": [null, true, false]
}"#;
        let expected = "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\"string\":\"€$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}";
        assert_eq!(jcs(&strict(input)).unwrap(), expected);
    }

    /// RFC 8785 §3.2.3: property sorting by UTF-16 code units.
    #[test]
    fn rfc8785_section_3_2_3_sorting() {
        let input = r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u0080": "Control",
  "\u00f6": "Latin Small Letter O With Diaeresis"
}"#;
        let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
\"\u{f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
\"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(jcs(&strict(input)).unwrap(), expected);
    }

    #[test]
    fn python_dumps_layout() {
        let value = strict(r#"{"a":[1,2.5,{"z":null}],"é":"\ud83d\ude00\u007f/","n":-0}"#);
        assert_eq!(
            python_dumps(&value).unwrap(),
            r#"{"a": [1, 2.5, {"z": null}], "\u00e9": "\ud83d\ude00\u007f/", "n": 0}"#
        );
        assert_eq!(python_dumps(&strict("{}")).unwrap(), "{}");
        assert_eq!(python_dumps(&strict("[]")).unwrap(), "[]");
    }

    #[test]
    fn lenient_values_serialise_as_python_does() {
        let value = parse(
            r#"[NaN, -Infinity, "\ud800", 1e400]"#,
            &ParseOptions::PYTHON_COMPAT,
        )
        .unwrap();
        assert_eq!(
            python_dumps(&value).unwrap(),
            r#"[NaN, -Infinity, "\ud800", Infinity]"#
        );
        assert_eq!(
            profile_a(&value).unwrap(),
            r#"[NaN,-Infinity,"\ud800",Infinity]"#
        );
        assert_eq!(profile_b(&value), Err(Error::NonFiniteNumber));
        assert_eq!(jcs(&value), Err(Error::NonFiniteNumber));
        let lone = parse(r#"["\ud800"]"#, &ParseOptions::PYTHON_COMPAT).unwrap();
        assert_eq!(jcs(&lone), Err(Error::LoneSurrogate));
        assert_eq!(profile_b(&lone), Err(Error::LoneSurrogate));
    }

    #[test]
    fn jcs_integers_go_through_doubles() {
        assert_eq!(
            jcs(&strict("9007199254740993")).unwrap(),
            "9007199254740992"
        );
        assert_eq!(
            jcs(&strict("18446744073709551616")).unwrap(),
            "18446744073709552000"
        );
        let huge = "1".repeat(400);
        assert!(matches!(
            jcs(&strict(&huge)),
            Err(Error::UnrepresentableNumber(_))
        ));
        assert_eq!(profile_b(&strict(&huge)).unwrap(), huge);
    }

    #[test]
    fn sort_orders_differ_between_profiles_and_jcs() {
        let value = strict(r#"{"\ue000":1,"\ud83d\ude00":2,"\u00e9":3,"a":4}"#);
        assert_eq!(
            profile_a(&value).unwrap(),
            r#"{"a":4,"\u00e9":3,"\ue000":1,"\ud83d\ude00":2}"#
        );
        assert_eq!(
            profile_b(&value).unwrap(),
            "{\"a\":4,\"é\":3,\"\u{e000}\":1,\"😀\":2}"
        );
        assert_eq!(
            jcs(&value).unwrap(),
            "{\"a\":4,\"é\":3,\"😀\":2,\"\u{e000}\":1}"
        );
    }

    #[test]
    fn hand_built_deep_values_are_refused() {
        let mut value = Value::Null;
        for _ in 0..600 {
            value = Value::Array(vec![value]);
        }
        assert_eq!(python_dumps(&value), Err(Error::TooDeep));
    }
}
