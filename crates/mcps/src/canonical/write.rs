//! The four serialisers over [`Value`]: CPython `json.dumps` defaults, profile A's
//! `canonical_json`, profile B's canonical form, and RFC 8785.
//!
//! They differ only in a handful of choices, collected in [`Style`]:
//!
//! | | separators | key order | strings | floats | integers |
//! |---|---|---|---|---|---|
//! | `json.dumps` | `", "` `": "` | insertion | ASCII, `\uXXXX` | `repr`, `NaN`/`Infinity` | exact |
//! | profile A canonical | `,` `:` | code point | ASCII, `\uXXXX` | `repr`, `NaN`/`Infinity` | exact |
//! | profile B canonical | `,` `:` | code point | UTF-8 | integral < 2^53 as int, else `repr`; no NaN | exact |
//! | RFC 8785 | `,` `:` | UTF-16 units | UTF-8 | ECMAScript; no NaN | via double |

use std::fmt::Write as _;

use super::number;
use super::value::{JsonString, Number, Value};
use crate::error::Error;

/// Deepest nesting the serialisers accept. Values from [`super::parse`] never exceed their
/// parse limit, which is lower; the bound protects against hand-built values.
const MAX_DEPTH: usize = 512;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    PythonDumps,
    ProfileA,
    ProfileB,
    Jcs,
}

impl Style {
    fn separators(self) -> (&'static str, &'static str) {
        match self {
            Self::PythonDumps => (", ", ": "),
            Self::ProfileA | Self::ProfileB | Self::Jcs => (",", ":"),
        }
    }

    fn ascii_only(self) -> bool {
        matches!(self, Self::PythonDumps | Self::ProfileA)
    }
}

/// Serialises `value` in `style`.
pub(crate) fn to_string(value: &Value, style: Style) -> Result<String, Error> {
    let mut out = String::new();
    write_value(&mut out, value, style, 0)?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value, style: Style, depth: usize) -> Result<(), Error> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(Number::Int(n)) => {
            if style == Style::Jcs {
                // RFC 8785 numbers are IEEE doubles: the integer goes through the nearest one.
                if !number::write_ecmascript(out, n.to_f64()) {
                    return Err(Error::UnrepresentableNumber(
                        "integer beyond the double range",
                    ));
                }
            } else {
                out.push_str(n.as_str());
            }
        }
        Value::Number(Number::Float(x)) => match style {
            Style::PythonDumps | Style::ProfileA => number::write_python(out, *x),
            Style::ProfileB => {
                if !number::write_profile_b(out, *x) {
                    return Err(Error::NonFiniteNumber);
                }
            }
            Style::Jcs => {
                if !number::write_ecmascript(out, *x) {
                    return Err(Error::NonFiniteNumber);
                }
            }
        },
        Value::String(s) => write_string(out, s, style)?,
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep);
            }
            let (item_sep, _) = style.separators();
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write_value(out, item, style, depth + 1)?;
            }
            out.push(']');
        }
        Value::Object(object) => {
            if depth >= MAX_DEPTH {
                return Err(Error::TooDeep);
            }
            let mut members: Vec<(&JsonString, &Value)> = object.iter().collect();
            match style {
                Style::PythonDumps => {}
                Style::ProfileA | Style::ProfileB => {
                    members.sort_by(|a, b| a.0.cmp_code_points(b.0));
                }
                Style::Jcs => members.sort_by(|a, b| a.0.cmp_utf16(b.0)),
            }
            let (item_sep, key_sep) = style.separators();
            out.push('{');
            for (i, (key, member)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(item_sep);
                }
                write_string(out, key, style)?;
                out.push_str(key_sep);
                write_value(out, member, style, depth + 1)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// The short escape for `unit`, if JSON has one.
fn short_escape(unit: u32) -> Option<&'static str> {
    Some(match unit {
        0x22 => "\\\"",
        0x5c => "\\\\",
        0x0a => "\\n",
        0x0d => "\\r",
        0x09 => "\\t",
        0x08 => "\\b",
        0x0c => "\\f",
        _ => return None,
    })
}

fn push_unit_escape(out: &mut String, unit: u32) {
    let _ = write!(out, "\\u{unit:04x}");
}

fn write_string(out: &mut String, s: &JsonString, style: Style) -> Result<(), Error> {
    out.push('"');
    if style.ascii_only() {
        // CPython `ensure_ascii=True`: printable ASCII as is, JSON's short escapes, and every
        // other UTF-16 code unit (lone surrogates included) as a lower-case `\uXXXX`.
        for unit in s.code_units() {
            let unit = u32::from(unit);
            if let Some(escape) = short_escape(unit) {
                out.push_str(escape);
            } else if (0x20..0x7f).contains(&unit) {
                out.push(char::from_u32(unit).unwrap_or('?'));
            } else {
                push_unit_escape(out, unit);
            }
        }
    } else {
        // RFC 8785 §3.2.2.2, and CPython with `ensure_ascii=False`: only `"`, `\` and the C0
        // controls are escaped; everything else is written as UTF-8.
        let Some(text) = s.as_str() else {
            return Err(Error::LoneSurrogate);
        };
        for c in text.chars() {
            let unit = u32::from(c);
            if let Some(escape) = short_escape(unit) {
                out.push_str(escape);
            } else if unit < 0x20 {
                push_unit_escape(out, unit);
            } else {
                out.push(c);
            }
        }
    }
    out.push('"');
    Ok(())
}
