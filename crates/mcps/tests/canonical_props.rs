//! Property tests for the canonical JSON module: round trips, idempotence, number formatting,
//! and parser robustness.

#![expect(clippy::unwrap_used, reason = "test code")]

use mcps::canonical::{self, JsonInt, JsonString, Number, Object, ParseOptions, Value};
use mcps::time::Timestamp;
use proptest::prelude::*;

fn strict(text: &str) -> Value {
    canonical::parse(text, &ParseOptions::STRICT).unwrap()
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<u64>()
            .prop_map(f64::from_bits)
            .prop_filter("finite", |x| x.is_finite()),
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        (-1_000_000i64..1_000_000).prop_map(|n| n as f64 / 100.0),
        (-330i32..310).prop_map(|e| 10f64.powi(e)),
    ]
    .prop_filter("finite", |x| x.is_finite())
}

fn big_int() -> impl Strategy<Value = JsonInt> {
    prop_oneof![
        any::<i64>().prop_map(JsonInt::from),
        "-?[1-9][0-9]{18,60}".prop_map(|s| JsonInt::parse(&s).unwrap()),
    ]
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,8}",
        any::<String>(),
        proptest::collection::vec(
            prop_oneof![
                Just('\u{0}'),
                Just('\u{1f}'),
                Just('"'),
                Just('\\'),
                Just('/'),
                Just('\u{7f}'),
                Just('\u{2028}'),
                Just('\u{e000}'),
                Just('\u{ffff}'),
                Just('\u{1f600}'),
                Just('é'),
                any::<char>(),
            ],
            0..12,
        )
        .prop_map(|chars| chars.into_iter().collect()),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        big_int().prop_map(|n| Value::Number(Number::Int(n))),
        finite_f64().prop_map(|x| Value::Number(Number::Float(x))),
        text().prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            proptest::collection::vec((text(), inner), 0..8)
                .prop_map(|members| Value::Object(members.into_iter().collect::<Object>())),
        ]
    })
}

/// The number of significant digits in Rust's own shortest rendering of `x`.
fn std_digit_count(x: f64) -> usize {
    let text = format!("{:e}", x.abs());
    let mantissa = text.split('e').next().unwrap();
    mantissa.chars().filter(char::is_ascii_digit).count()
}

fn digit_count(text: &str) -> usize {
    let mantissa = text
        .trim_start_matches('-')
        .split(['e', 'E'])
        .next()
        .unwrap();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_start_matches('0');
    // Integer renderings (JCS) may end in zeros that are not significant.
    let digits = if mantissa.contains('.') {
        digits
    } else {
        digits.trim_end_matches('0')
    };
    digits.len().max(1)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn python_float_round_trips_and_is_shortest(x in finite_f64()) {
        let text = canonical::python_float(x);
        let back = strict(&text);
        prop_assert_eq!(back.clone(), Value::Number(Number::Float(x)), "{}", text);
        if let Value::Number(Number::Float(y)) = back {
            prop_assert_eq!(y.to_bits(), x.to_bits(), "{}", text);
        }
        if x != 0.0 {
            prop_assert_eq!(digit_count(text.replace(".0e", "e").trim_end_matches(".0")), std_digit_count(x), "{}", text);
        }
    }

    #[test]
    fn jcs_number_round_trips_and_is_shortest(x in finite_f64()) {
        let text = canonical::jcs_number(x).unwrap();
        let back: f64 = text.parse().unwrap();
        prop_assert_eq!(back, x, "{}", text);
        prop_assert!(!text.contains(".0e") && !text.ends_with(".0"), "{}", text);
        if x != 0.0 {
            prop_assert_eq!(digit_count(&text), std_digit_count(x), "{}", text);
        }
    }

    #[test]
    fn python_dumps_round_trips(v in value()) {
        let text = canonical::python_dumps(&v).unwrap();
        prop_assert!(text.is_ascii());
        prop_assert_eq!(strict(&text), v);
    }

    #[test]
    fn canonical_forms_are_idempotent(v in value()) {
        let a = canonical::profile_a(&v).unwrap();
        prop_assert!(a.is_ascii());
        prop_assert_eq!(canonical::profile_a(&strict(&a)).unwrap(), a.clone());
        let b = canonical::profile_b(&v).unwrap();
        prop_assert_eq!(canonical::profile_b(&strict(&b)).unwrap(), b);
        let j = canonical::jcs(&v).unwrap();
        prop_assert_eq!(canonical::jcs(&strict(&j)).unwrap(), j.clone());
        // Re-ordering members never changes a sorted form.
        prop_assert_eq!(canonical::jcs(&strict(&a)).unwrap(), j);
    }

    #[test]
    fn lone_surrogates_survive_python_round_trips(units in proptest::collection::vec(
        prop_oneof![0xd800u16..0xe000, 0x20u16..0x80, any::<u16>()], 0..16)
    ) {
        let v = Value::String(JsonString::from_utf16(units.clone()));
        let text = canonical::python_dumps(&v).unwrap();
        let Value::String(back) = canonical::parse(&text, &ParseOptions::PYTHON_COMPAT).unwrap() else {
            return Err(TestCaseError::fail("not a string"));
        };
        // A high surrogate directly followed by a low one is a pair, whichever way it arrived.
        prop_assert_eq!(back.code_units().collect::<Vec<_>>(), units);
    }

    #[test]
    fn parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        let _ = canonical::parse_bytes(&bytes, &ParseOptions::STRICT);
        let _ = canonical::parse_bytes(&bytes, &ParseOptions::PYTHON_COMPAT);
    }

    #[test]
    fn parser_survives_mutations(v in value(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = canonical::python_dumps(&v).unwrap().into_bytes();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let _ = canonical::parse_bytes(&bytes, &ParseOptions::STRICT);
    }

    #[test]
    fn timestamps_round_trip(micros in -62_135_596_800_000_000i64..253_402_300_799_999_999) {
        let t = Timestamp::from_unix_micros(micros);
        let text = t.to_rfc3339_micros().unwrap();
        prop_assert_eq!(Timestamp::parse(&text).unwrap(), t);
    }
}
