//! Floating-point formatting: ECMAScript `Number.prototype.toString` (RFC 8785 §3.2.2.3) and
//! CPython `float.__repr__`.
//!
//! Both start from the same thing: the shortest decimal digit string that reads back as the same
//! double, choosing the one closest to the exact binary value and, on an exact tie, the one with
//! an even last digit. The digits come from `ryu`. (The standard library's `{:e}` also finds the
//! shortest digits but breaks exact ties upwards: for the double `0x43143ff3c1cb0959` it gives
//! `…206.3` where ECMAScript and CPython both give `…206.2`, RFC 8785 Appendix B.) The two
//! layouts on top of those digits are implemented here.

use std::fmt::Write as _;

/// The shortest round-trip decimal form of a finite, non-zero double:
/// `|x| = 0.d1 d2 … dn × 10^point`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shortest {
    /// `d1 … dn`, no leading or trailing zeros.
    pub(crate) digits: String,
    /// The decimal exponent of the point, as above.
    pub(crate) point: i32,
}

impl Shortest {
    /// Decomposes `x`, which must be finite and non-zero; the sign is ignored.
    pub(crate) fn of(x: f64) -> Self {
        let mut buffer = ryu::Buffer::new();
        Self::from_decimal(buffer.format_finite(x.abs()))
    }

    /// Splits decimal text of the form `ddd[.ddd][e[-]x]` (any of `ryu`'s output forms).
    pub(crate) fn from_decimal(text: &str) -> Self {
        let (mantissa, exponent) = text.split_once(['e', 'E']).unwrap_or((text, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        let integer_len = mantissa.find('.').unwrap_or(mantissa.len());
        let mut digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let leading = digits.len() - digits.trim_start_matches('0').len();
        digits.drain(..leading);
        let trimmed = digits.trim_end_matches('0').len();
        digits.truncate(trimmed);
        // `iii.fff × 10^e` = `0.iiifff × 10^(len(iii) + e)`; dropping leading zeros moves the
        // point left by as many places.
        let point = i32::try_from(integer_len).unwrap_or(i32::MAX) + exponent
            - i32::try_from(leading).unwrap_or(0);
        Self { digits, point }
    }
}

/// Appends `n` copies of `c`.
fn push_repeat(out: &mut String, c: char, n: i32) {
    for _ in 0..n.max(0) {
        out.push(c);
    }
}

fn push_exponent(out: &mut String, exponent: i32, min_digits: usize) {
    out.push('e');
    out.push(if exponent < 0 { '-' } else { '+' });
    let _ = write!(
        out,
        "{:0width$}",
        exponent.unsigned_abs(),
        width = min_digits
    );
}

/// Writes `x` as ECMAScript's `Number.prototype.toString` does (RFC 8785 §3.2.2.3).
///
/// Returns `false` (writing nothing) for NaN and the infinities, which RFC 8785 cannot represent.
pub(crate) fn write_ecmascript(out: &mut String, x: f64) -> bool {
    if !x.is_finite() {
        return false;
    }
    if x == 0.0 {
        // Both +0 and -0.
        out.push('0');
        return true;
    }
    if x < 0.0 {
        out.push('-');
    }
    let Shortest { digits, point: n } = Shortest::of(x);
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    if k <= n && n <= 21 {
        // Integer: the digits, then n - k zeros.
        out.push_str(&digits);
        push_repeat(out, '0', n - k);
    } else if 0 < n && n <= 21 {
        // Point inside the digits.
        let (int, frac) = digits.split_at(usize::try_from(n).unwrap_or(0));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        // 0.000ddd
        out.push_str("0.");
        push_repeat(out, '0', -n);
        out.push_str(&digits);
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        push_exponent(out, n - 1, 1);
    }
    true
}

/// Writes `x` as CPython's `json.dumps` does with its defaults: `repr(x)` for finite values,
/// `NaN`, `Infinity` and `-Infinity` otherwise.
pub(crate) fn write_python(out: &mut String, x: f64) {
    if x.is_nan() {
        out.push_str("NaN");
        return;
    }
    if x.is_infinite() {
        out.push_str(if x > 0.0 { "Infinity" } else { "-Infinity" });
        return;
    }
    if x.is_sign_negative() {
        out.push('-');
    }
    if x == 0.0 {
        out.push_str("0.0");
        return;
    }
    let Shortest { digits, point } = Shortest::of(x);
    let k = i32::try_from(digits.len()).unwrap_or(i32::MAX);
    // `float_repr_style = 'short'`: fixed notation unless point <= -4 or point > 16, and a
    // fixed-notation value always shows a fractional part.
    if -4 < point && point <= 16 {
        if point <= 0 {
            out.push_str("0.");
            push_repeat(out, '0', -point);
            out.push_str(&digits);
        } else if point >= k {
            out.push_str(&digits);
            push_repeat(out, '0', point - k);
            out.push_str(".0");
        } else {
            let (int, frac) = digits.split_at(usize::try_from(point).unwrap_or(0));
            out.push_str(int);
            out.push('.');
            out.push_str(frac);
        }
    } else {
        let (first, rest) = digits.split_at(1);
        out.push_str(first);
        if !rest.is_empty() {
            out.push('.');
            out.push_str(rest);
        }
        push_exponent(out, point - 1, 2);
    }
}

/// The largest magnitude below which profile B writes an integral float as an integer (2^53).
const TWO_POW_53: f64 = 9_007_199_254_740_992.0;

/// Writes `x` as profile B's canonicaliser does: an integral value below 2^53 in magnitude as an
/// integer (`0.0` and `-0.0` as `0`), anything else as `repr(x)`.
///
/// Returns `false` (writing nothing) for NaN and the infinities, which profile B refuses.
pub(crate) fn write_profile_b(out: &mut String, x: f64) -> bool {
    if !x.is_finite() {
        return false;
    }
    if x.fract() == 0.0 && x.abs() < TWO_POW_53 {
        // Exact: |x| < 2^53, so the conversion cannot saturate or round.
        #[expect(
            clippy::cast_possible_truncation,
            reason = "x is integral with |x| < 2^53"
        )]
        let n = x as i64;
        let _ = write!(out, "{n}");
        return true;
    }
    write_python(out, x);
    true
}

/// `ECMAScript` form of `x`, or `None` for NaN and the infinities.
#[must_use]
pub(crate) fn ecmascript(x: f64) -> Option<String> {
    let mut out = String::new();
    write_ecmascript(&mut out, x).then_some(out)
}

/// Python `json.dumps` form of `x`.
#[must_use]
pub(crate) fn python(x: f64) -> String {
    let mut out = String::new();
    write_python(&mut out, x);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decomposition() {
        assert_eq!(
            Shortest::of(1.0),
            Shortest {
                digits: "1".into(),
                point: 1
            }
        );
        assert_eq!(
            Shortest::of(0.001),
            Shortest {
                digits: "1".into(),
                point: -2
            }
        );
        assert_eq!(
            Shortest::of(123.45),
            Shortest {
                digits: "12345".into(),
                point: 3
            }
        );
        assert_eq!(
            Shortest::of(5e-324),
            Shortest {
                digits: "5".into(),
                point: -323
            }
        );
        assert_eq!(
            Shortest::from_decimal("1.2500e3"),
            Shortest {
                digits: "125".into(),
                point: 4
            }
        );
        assert_eq!(
            Shortest::from_decimal("0.00125"),
            Shortest {
                digits: "125".into(),
                point: -2
            }
        );
        assert_eq!(
            Shortest::from_decimal("125.0"),
            Shortest {
                digits: "125".into(),
                point: 3
            }
        );
        assert_eq!(
            Shortest::from_decimal("1e16"),
            Shortest {
                digits: "1".into(),
                point: 17
            }
        );
        // An exact tie between two 17-digit candidates goes to the even digit.
        let tie = Shortest::of(f64::from_bits(0x4314_3ff3_c1cb_0959));
        assert_eq!(
            tie,
            Shortest {
                digits: "14249539237812062".into(),
                point: 16
            }
        );
    }

    #[test]
    fn python_repr() {
        for (x, expected) in [
            (1.0, "1.0"),
            (100.0, "100.0"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (0.1, "0.1"),
            (0.0001, "0.0001"),
            (0.000_01, "1e-05"),
            (1e-7, "1e-07"),
            (1e15, "1000000000000000.0"),
            (9_007_199_254_740_992.0, "9007199254740992.0"),
            (1e16, "1e+16"),
            (1.234_567_890_123_456_8e20, "1.2345678901234568e+20"),
            (1e21, "1e+21"),
            (5e-324, "5e-324"),
            (1.5e300, "1.5e+300"),
            (-2.5, "-2.5"),
            (123_456.789, "123456.789"),
            (1e100, "1e+100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (f64::NEG_INFINITY, "-Infinity"),
        ] {
            assert_eq!(python(x), expected, "{x:e}");
        }
    }

    #[test]
    fn ecmascript_form() {
        for (x, expected) in [
            (1.0, "1"),
            (-0.0, "0"),
            (0.000_001, "0.000001"),
            (1e-7, "1e-7"),
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (1.5, "1.5"),
            (-1.5e-10, "-1.5e-10"),
            (123_456_789_012_345_680_000.0, "123456789012345680000"),
        ] {
            assert_eq!(ecmascript(x).as_deref(), Some(expected), "{x:e}");
        }
        assert_eq!(ecmascript(f64::NAN), None);
        assert_eq!(ecmascript(f64::INFINITY), None);
    }

    #[test]
    fn profile_b_form() {
        let b = |x: f64| {
            let mut out = String::new();
            write_profile_b(&mut out, x).then_some(out)
        };
        assert_eq!(b(0.0).as_deref(), Some("0"));
        assert_eq!(b(-0.0).as_deref(), Some("0"));
        assert_eq!(b(-5.0).as_deref(), Some("-5"));
        assert_eq!(b(1e15).as_deref(), Some("1000000000000000"));
        assert_eq!(
            b(9_007_199_254_740_992.0).as_deref(),
            Some("9007199254740992.0")
        );
        assert_eq!(b(1e16).as_deref(), Some("1e+16"));
        assert_eq!(b(1e-7).as_deref(), Some("1e-07"));
        assert_eq!(b(1e-6).as_deref(), Some("1e-06"));
        assert_eq!(b(2.5).as_deref(), Some("2.5"));
        assert_eq!(b(f64::NAN), None);
    }
}
