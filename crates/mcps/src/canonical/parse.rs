//! An order-preserving JSON parser that keeps integers exact.
//!
//! Two presets cover the two uses in this crate:
//!
//! * [`ParseOptions::STRICT`] — standard JSON (RFC 8259) only: duplicate keys, `NaN`/`Infinity`,
//!   numbers beyond the double range and lone surrogates are all refused. Verifiers use this.
//! * [`ParseOptions::PYTHON_COMPAT`] — what CPython's `json.loads` accepts: duplicate keys keep
//!   their *first position* with the *last value*, `NaN`, `Infinity` and `-Infinity` are read as
//!   floats (as are number tokens that overflow a double), and lone surrogates are kept. Used to
//!   reproduce the reference's view of a text, e.g. for test vectors.
//!
//! Both refuse control characters inside strings, a byte order mark, trailing data, and number
//! tokens longer than 4300 characters after the sign (CPython's own limit for converting
//! decimal text to `int`; applied to floats too, which CPython would read).

use std::collections::HashMap;

use super::value::{JsonInt, JsonString, Number, Object, Value};
use crate::error::{Error, JsonErrorKind};

/// What to do when an object repeats a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DuplicateKeys {
    /// Refuse the text.
    Reject,
    /// Keep the key at its first position with the value of its last occurrence (Python `dict`
    /// semantics).
    FirstPositionLastValue,
}

/// Parser settings. Start from [`ParseOptions::STRICT`] or [`ParseOptions::PYTHON_COMPAT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Handling of repeated object keys.
    pub duplicate_keys: DuplicateKeys,
    /// Accept `NaN`, `Infinity`, `-Infinity` and number tokens that overflow a double.
    pub allow_non_finite: bool,
    /// Accept `\uXXXX` escapes that leave a surrogate unpaired.
    pub allow_lone_surrogates: bool,
    /// Maximum nesting of arrays and objects (the top-level value is depth 1).
    pub max_depth: usize,
    /// Maximum length of one number token, in characters, not counting a leading `-`.
    pub max_number_len: usize,
}

impl ParseOptions {
    /// Standard JSON only; see the module documentation.
    pub const STRICT: Self = Self {
        duplicate_keys: DuplicateKeys::Reject,
        allow_non_finite: false,
        allow_lone_surrogates: false,
        max_depth: 128,
        max_number_len: 4300,
    };

    /// CPython `json.loads` semantics; see the module documentation.
    pub const PYTHON_COMPAT: Self = Self {
        duplicate_keys: DuplicateKeys::FirstPositionLastValue,
        allow_non_finite: true,
        allow_lone_surrogates: true,
        max_depth: 512,
        max_number_len: 4300,
    };
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self::STRICT
    }
}

/// Parses a JSON text.
///
/// # Errors
///
/// [`Error::Json`] with the byte offset and the reason.
pub fn parse(text: &str, options: &ParseOptions) -> Result<Value, Error> {
    if text.starts_with('\u{feff}') {
        return Err(Error::Json {
            offset: 0,
            kind: JsonErrorKind::ByteOrderMark,
        });
    }
    let mut parser = Parser {
        bytes: text.as_bytes(),
        text,
        pos: 0,
        options,
        depth: 0,
    };
    parser.skip_whitespace();
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos != parser.bytes.len() {
        return Err(parser.error(JsonErrorKind::TrailingData));
    }
    Ok(value)
}

/// Parses a JSON text given as bytes, which must be UTF-8.
///
/// # Errors
///
/// [`Error::Json`]; invalid UTF-8 is reported at the first bad byte.
pub fn parse_bytes(bytes: &[u8], options: &ParseOptions) -> Result<Value, Error> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Json {
        offset: e.valid_up_to(),
        kind: JsonErrorKind::InvalidUtf8,
    })?;
    parse(text, options)
}

struct Parser<'a> {
    bytes: &'a [u8],
    text: &'a str,
    pos: usize,
    options: &'a ParseOptions,
    depth: usize,
}

/// Objects with more members than this get a hash index for duplicate detection.
const INDEX_THRESHOLD: usize = 16;

impl Parser<'_> {
    fn error(&self, kind: JsonErrorKind) -> Error {
        Error::Json {
            offset: self.pos,
            kind,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat_literal(&mut self, literal: &str) -> bool {
        if self
            .text
            .get(self.pos..)
            .is_some_and(|rest| rest.starts_with(literal))
        {
            self.pos += literal.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self) -> Result<Value, Error> {
        match self.peek() {
            None => Err(self.error(JsonErrorKind::UnexpectedEnd)),
            Some(b'{') => self.nested(Self::object),
            Some(b'[') => self.nested(Self::array),
            Some(b'"') => Ok(Value::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => self.literal(),
        }
    }

    fn nested(&mut self, inner: fn(&mut Self) -> Result<Value, Error>) -> Result<Value, Error> {
        if self.depth >= self.options.max_depth {
            return Err(self.error(JsonErrorKind::TooDeep));
        }
        self.depth += 1;
        let value = inner(self);
        self.depth -= 1;
        value
    }

    fn literal(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.eat_literal("null") {
            return Ok(Value::Null);
        }
        if self.eat_literal("true") {
            return Ok(Value::Bool(true));
        }
        if self.eat_literal("false") {
            return Ok(Value::Bool(false));
        }
        let non_finite = if self.eat_literal("NaN") {
            f64::NAN
        } else if self.eat_literal("Infinity") {
            f64::INFINITY
        } else {
            return Err(self.error(JsonErrorKind::UnexpectedCharacter));
        };
        if !self.options.allow_non_finite {
            return Err(Error::Json {
                offset: start,
                kind: JsonErrorKind::NonFiniteNumber,
            });
        }
        Ok(Value::Number(Number::Float(non_finite)))
    }

    fn number(&mut self) -> Result<Value, Error> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
            if self.eat_literal("Infinity") {
                if !self.options.allow_non_finite {
                    return Err(Error::Json {
                        offset: start,
                        kind: JsonErrorKind::NonFiniteNumber,
                    });
                }
                return Ok(Value::Number(Number::Float(f64::NEG_INFINITY)));
            }
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(self.error(JsonErrorKind::InvalidNumber)),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(JsonErrorKind::InvalidNumber));
            }
            self.digits();
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return Err(self.error(JsonErrorKind::InvalidNumber));
            }
            self.digits();
            is_float = true;
        }
        let token = self.text.get(start..self.pos).unwrap_or_default();
        if token.trim_start_matches('-').len() > self.options.max_number_len {
            return Err(Error::Json {
                offset: start,
                kind: JsonErrorKind::NumberTooLong,
            });
        }
        let invalid = || Error::Json {
            offset: start,
            kind: JsonErrorKind::InvalidNumber,
        };
        if is_float {
            let x: f64 = token.parse().map_err(|_| invalid())?;
            if !x.is_finite() && !self.options.allow_non_finite {
                return Err(Error::Json {
                    offset: start,
                    kind: JsonErrorKind::NonFiniteNumber,
                });
            }
            Ok(Value::Number(Number::Float(x)))
        } else {
            JsonInt::parse(token)
                .map(|n| Value::Number(Number::Int(n)))
                .ok_or_else(invalid)
        }
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn array(&mut self) -> Result<Value, Error> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_whitespace();
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(JsonErrorKind::UnexpectedCharacter)),
            }
        }
    }

    fn object(&mut self) -> Result<Value, Error> {
        self.pos += 1; // '{'
        let mut object = Object::new();
        let mut index: Option<HashMap<JsonString, usize>> = None;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(object));
        }
        loop {
            self.skip_whitespace();
            let key_offset = self.pos;
            match self.peek() {
                Some(b'"') => {}
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(JsonErrorKind::UnexpectedCharacter)),
            }
            let key = self.string()?;
            self.skip_whitespace();
            match self.peek() {
                Some(b':') => self.pos += 1,
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(JsonErrorKind::UnexpectedCharacter)),
            }
            self.skip_whitespace();
            let value = self.value()?;

            let existing = match &index {
                Some(map) => map.get(&key).copied(),
                None => object.keys().position(|k| *k == key),
            };
            match existing {
                Some(_) if self.options.duplicate_keys == DuplicateKeys::Reject => {
                    return Err(Error::Json {
                        offset: key_offset,
                        kind: JsonErrorKind::DuplicateKey,
                    });
                }
                Some(at) => object.replace_at(at, value),
                None => {
                    if let Some(map) = &mut index {
                        map.insert(key.clone(), object.len());
                    }
                    object.push_unchecked(key, value);
                    if index.is_none() && object.len() > INDEX_THRESHOLD {
                        let mut map = HashMap::with_capacity(object.len() * 2);
                        for at in 0..object.len() {
                            if let Some(k) = object.key_at(at) {
                                map.insert(k.clone(), at);
                            }
                        }
                        index = Some(map);
                    }
                }
            }

            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(object));
                }
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
                Some(_) => return Err(self.error(JsonErrorKind::UnexpectedCharacter)),
            }
        }
    }

    /// Reads a string starting at the opening quote.
    fn string(&mut self) -> Result<JsonString, Error> {
        self.pos += 1; // '"'
        let mut out = StringBuf::Text(String::new());
        loop {
            // Copy the run of ordinary characters in one go.
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // The run ends at an ASCII byte or at the end, so it is a char boundary.
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                None => return Err(self.error(JsonErrorKind::UnexpectedEnd)),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out.finish());
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.error(JsonErrorKind::ControlCharacter)),
            }
        }
    }

    fn escape(&mut self, out: &mut StringBuf) -> Result<(), Error> {
        let start = self.pos;
        self.pos += 1; // '\\'
        let Some(b) = self.peek() else {
            return Err(self.error(JsonErrorKind::UnexpectedEnd));
        };
        self.pos += 1;
        let simple = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => return self.unicode_escape(start, out),
            _ => {
                return Err(Error::Json {
                    offset: start,
                    kind: JsonErrorKind::InvalidEscape,
                });
            }
        };
        out.push_char(simple);
        Ok(())
    }

    fn hex4(&mut self, escape_start: usize) -> Result<u16, Error> {
        let invalid = Error::Json {
            offset: escape_start,
            kind: JsonErrorKind::InvalidEscape,
        };
        let digits = self
            .text
            .get(self.pos..self.pos + 4)
            .ok_or(invalid.clone())?;
        if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(invalid);
        }
        let unit = u16::from_str_radix(digits, 16).map_err(|_| invalid)?;
        self.pos += 4;
        Ok(unit)
    }

    fn unicode_escape(&mut self, start: usize, out: &mut StringBuf) -> Result<(), Error> {
        let unit = self.hex4(start)?;
        if (0xd800..0xdc00).contains(&unit) {
            // A high surrogate combines with an immediately following `\u` low surrogate.
            let rest = self.text.get(self.pos..).unwrap_or_default();
            if rest.starts_with("\\u") {
                let save = self.pos;
                self.pos += 2;
                let low = self.hex4(save)?;
                if (0xdc00..0xe000).contains(&low) {
                    let combined =
                        0x10000 + ((u32::from(unit) - 0xd800) << 10) + (u32::from(low) - 0xdc00);
                    out.push_char(char::from_u32(combined).unwrap_or(char::REPLACEMENT_CHARACTER));
                    return Ok(());
                }
                // Not a pair: the high surrogate is lone; re-read the second escape normally.
                self.pos = save;
            }
            return self.lone_surrogate(start, unit, out);
        }
        if (0xdc00..0xe000).contains(&unit) {
            return self.lone_surrogate(start, unit, out);
        }
        out.push_char(char::from_u32(u32::from(unit)).unwrap_or(char::REPLACEMENT_CHARACTER));
        Ok(())
    }

    fn lone_surrogate(&self, start: usize, unit: u16, out: &mut StringBuf) -> Result<(), Error> {
        if !self.options.allow_lone_surrogates {
            return Err(Error::Json {
                offset: start,
                kind: JsonErrorKind::LoneSurrogate,
            });
        }
        out.push_unit(unit);
        Ok(())
    }
}

/// A string being decoded: UTF-8 until the first lone surrogate, UTF-16 code units after.
enum StringBuf {
    Text(String),
    Units(Vec<u16>),
}

impl StringBuf {
    fn push_str(&mut self, s: &str) {
        match self {
            Self::Text(text) => text.push_str(s),
            Self::Units(units) => units.extend(s.encode_utf16()),
        }
    }

    fn push_char(&mut self, c: char) {
        match self {
            Self::Text(text) => text.push(c),
            Self::Units(units) => {
                let mut buf = [0u16; 2];
                units.extend_from_slice(c.encode_utf16(&mut buf));
            }
        }
    }

    fn push_unit(&mut self, unit: u16) {
        if let Self::Text(text) = self {
            *self = Self::Units(text.encode_utf16().collect());
        }
        if let Self::Units(units) = self {
            units.push(unit);
        }
    }

    fn finish(self) -> JsonString {
        match self {
            Self::Text(text) => JsonString::from(text),
            Self::Units(units) => JsonString::from_utf16(units),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strict(text: &str) -> Result<Value, Error> {
        parse(text, &ParseOptions::STRICT)
    }

    fn compat(text: &str) -> Result<Value, Error> {
        parse(text, &ParseOptions::PYTHON_COMPAT)
    }

    fn kind(result: Result<Value, Error>) -> Option<JsonErrorKind> {
        match result {
            Err(Error::Json { kind, .. }) => Some(kind),
            _ => None,
        }
    }

    #[test]
    fn keeps_order_and_number_kinds() {
        let value = strict(r#"{"b": 1, "a": 1.0, "c": 18446744073709551616}"#).unwrap();
        let object = value.as_object().unwrap();
        let keys: Vec<_> = object.keys().map(|k| k.to_string_lossy()).collect();
        assert_eq!(keys, ["b", "a", "c"]);
        assert_eq!(object.get("b"), Some(&Value::from(1)));
        assert_eq!(object.get("a"), Some(&Value::from(1.0)));
        assert_eq!(
            object.get("c"),
            Some(&Value::Number(Number::Int(
                JsonInt::parse("18446744073709551616").unwrap()
            )))
        );
    }

    #[test]
    fn duplicate_keys() {
        assert_eq!(
            kind(strict(r#"{"a":1,"b":2,"a":3}"#)),
            Some(JsonErrorKind::DuplicateKey)
        );
        let value = compat(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        let object = value.as_object().unwrap();
        let members: Vec<_> = object
            .iter()
            .map(|(k, v)| (k.to_string_lossy(), v.clone()))
            .collect();
        assert_eq!(
            members,
            [
                ("a".to_string(), Value::from(3)),
                ("b".to_string(), Value::from(2))
            ]
        );
    }

    #[test]
    fn duplicate_keys_in_large_objects() {
        let mut text = String::from("{");
        for i in 0..40 {
            text.push_str(&format!("\"k{i}\":{i},"));
        }
        text.push_str("\"k3\":99}");
        assert_eq!(kind(strict(&text)), Some(JsonErrorKind::DuplicateKey));
        let value = compat(&text).unwrap();
        let object = value.as_object().unwrap();
        assert_eq!(object.len(), 40);
        assert_eq!(object.keys().nth(3).unwrap().as_str(), Some("k3"));
        assert_eq!(object.get("k3"), Some(&Value::from(99)));
    }

    #[test]
    fn non_finite() {
        for text in ["NaN", "Infinity", "-Infinity", "1e400", "[-1e400]"] {
            assert_eq!(
                kind(strict(text)),
                Some(JsonErrorKind::NonFiniteNumber),
                "{text}"
            );
            assert!(compat(text).is_ok(), "{text}");
        }
        assert_eq!(kind(compat("-NaN")), Some(JsonErrorKind::InvalidNumber));
        assert_eq!(
            kind(compat("nan")),
            Some(JsonErrorKind::UnexpectedCharacter)
        );
    }

    #[test]
    fn surrogates() {
        let pair = strict(r#""\ud83d\ude00""#).unwrap();
        assert_eq!(pair.as_str(), Some("\u{1f600}"));
        assert_eq!(
            kind(strict(r#""\ud800""#)),
            Some(JsonErrorKind::LoneSurrogate)
        );
        assert_eq!(
            kind(strict(r#""\udc00\ud800""#)),
            Some(JsonErrorKind::LoneSurrogate)
        );
        let Value::String(lone) = compat(r#""a\ud800\u0041\ud83d\ude00""#).unwrap() else {
            panic!("not a string");
        };
        assert_eq!(
            lone.code_units().collect::<Vec<_>>(),
            [0x61, 0xd800, 0x41, 0xd83d, 0xde00]
        );
        // A high surrogate followed by a non-surrogate escape stays lone and the escape is kept.
        let Value::String(s) = compat(r#""\ud800\n""#).unwrap() else {
            panic!("not a string")
        };
        assert_eq!(s.code_units().collect::<Vec<_>>(), [0xd800, 0x0a]);
    }

    #[test]
    fn grammar_errors() {
        for (text, expected) in [
            ("", JsonErrorKind::UnexpectedEnd),
            ("01", JsonErrorKind::TrailingData),
            ("1.", JsonErrorKind::InvalidNumber),
            (".5", JsonErrorKind::UnexpectedCharacter),
            ("1e", JsonErrorKind::InvalidNumber),
            ("+1", JsonErrorKind::UnexpectedCharacter),
            ("[1,]", JsonErrorKind::UnexpectedCharacter),
            ("{\"a\" 1}", JsonErrorKind::UnexpectedCharacter),
            ("\"a\tb\"", JsonErrorKind::ControlCharacter),
            ("\"\\x\"", JsonErrorKind::InvalidEscape),
            ("\"\\u12g4\"", JsonErrorKind::InvalidEscape),
            ("\u{feff}1", JsonErrorKind::ByteOrderMark),
            ("[1] x", JsonErrorKind::TrailingData),
            ("\"abc", JsonErrorKind::UnexpectedEnd),
        ] {
            assert_eq!(kind(strict(text)), Some(expected), "{text:?}");
        }
        assert_eq!(
            kind(parse_bytes(b"\"\xff\"", &ParseOptions::STRICT)),
            Some(JsonErrorKind::InvalidUtf8)
        );
    }

    #[test]
    fn limits() {
        let deep = "[".repeat(129) + &"]".repeat(129);
        assert_eq!(kind(strict(&deep)), Some(JsonErrorKind::TooDeep));
        let ok = "[".repeat(128) + &"]".repeat(128);
        assert!(strict(&ok).is_ok());
        let long = "1".repeat(4301);
        assert_eq!(kind(strict(&long)), Some(JsonErrorKind::NumberTooLong));
        assert!(strict(&"1".repeat(4300)).is_ok());
        assert!(strict(&format!("-{}", "1".repeat(4300))).is_ok());
    }

    #[test]
    fn whitespace_and_escapes() {
        let value =
            strict(" \t\r\n{ \"k\" : [ true , false , null , \"\\/\\b\\f\" ] } \n").unwrap();
        let items = value.get("k").and_then(Value::as_array).unwrap();
        assert_eq!(items.len(), 4);
        assert_eq!(items[3].as_str(), Some("/\u{8}\u{c}"));
        assert_eq!(strict("-0").unwrap(), Value::from(0));
        assert_eq!(strict("-0.0").unwrap(), Value::from(-0.0));
        assert_eq!(strict("\"\u{7f}é\"").unwrap().as_str(), Some("\u{7f}é"));
    }
}
