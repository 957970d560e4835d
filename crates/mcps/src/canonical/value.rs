//! The JSON value model shared by every serialiser in this crate.
//!
//! It differs from a typical JSON library's model in three ways, each needed to reproduce what
//! the reference implementation signs:
//!
//! * objects keep their members in insertion order (the order of the received text);
//! * integers and floats stay distinct (`1` and `1.0` serialise differently in profile A) and
//!   integers keep every digit, however large;
//! * strings can carry lone UTF-16 surrogates (`"\ud800"`), which Python strings can hold; they
//!   only appear when a lenient parse explicitly allows them.

use std::fmt;

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer or a floating-point number.
    Number(Number),
    /// A string.
    String(JsonString),
    /// An array.
    Array(Vec<Value>),
    /// An object, members in insertion order.
    Object(Object),
}

/// A JSON number: an exact integer or an IEEE 754 double.
///
/// A number token without `.`, `e` or `E` is an integer; anything else is a float. This is the
/// distinction Python's `json` module makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Number {
    /// An integer of any size, kept exactly.
    Int(JsonInt),
    /// A double. NaN and the infinities only occur when a lenient parse allows them or a caller
    /// builds them directly.
    Float(f64),
}

/// An arbitrary-size integer kept as canonical decimal text: an optional `-`, then digits with no
/// leading zero; zero is always `0` (never `-0`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JsonInt(Box<str>);

impl JsonInt {
    /// Parses an integer written as an optional `-` followed by ASCII digits. Leading zeros are
    /// accepted and removed; `-0` becomes `0`.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let trimmed = digits.trim_start_matches('0');
        if trimmed.is_empty() {
            return Some(Self("0".into()));
        }
        let mut canonical = String::with_capacity(trimmed.len() + 1);
        if negative {
            canonical.push('-');
        }
        canonical.push_str(trimmed);
        Some(Self(canonical.into_boxed_str()))
    }

    /// The canonical decimal text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value as an `i64`, if it fits.
    #[must_use]
    pub fn to_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    /// The nearest double (round half to even), or an infinity when the integer is beyond the
    /// double range.
    #[must_use]
    pub fn to_f64(&self) -> f64 {
        // The text is a valid decimal integer, which Rust's float parser always accepts and
        // rounds correctly; the fallback is unreachable but keeps this total.
        self.0.parse().unwrap_or(f64::NAN)
    }

    /// Whether this is zero.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        &*self.0 == "0"
    }
}

impl fmt::Display for JsonInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

macro_rules! json_int_from {
    ($($t:ty),*) => {$(
        impl From<$t> for JsonInt {
            fn from(n: $t) -> Self {
                Self(n.to_string().into_boxed_str())
            }
        }
    )*};
}
json_int_from!(
    i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize
);

/// A JSON string.
///
/// Normally valid Unicode; a lenient parse may produce a string holding lone UTF-16 surrogates,
/// which [`JsonString::as_str`] then cannot return.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JsonString(Repr);

// Invariant: `Utf16` is used only when the code units are *not* valid UTF-16, so two equal
// strings always have the same representation and the derived comparisons are sound.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Repr {
    Text(Box<str>),
    Utf16(Box<[u16]>),
}

impl JsonString {
    /// Builds a string from UTF-16 code units, keeping lone surrogates.
    #[must_use]
    pub fn from_utf16(units: Vec<u16>) -> Self {
        match String::from_utf16(&units) {
            Ok(text) => Self(Repr::Text(text.into_boxed_str())),
            Err(_) => Self(Repr::Utf16(units.into_boxed_slice())),
        }
    }

    /// The text, unless the string holds a lone surrogate.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match &self.0 {
            Repr::Text(text) => Some(text),
            Repr::Utf16(_) => None,
        }
    }

    /// Whether the string holds a lone UTF-16 surrogate.
    #[must_use]
    pub fn has_lone_surrogate(&self) -> bool {
        matches!(self.0, Repr::Utf16(_))
    }

    /// The UTF-16 code units of the string.
    pub fn code_units(&self) -> impl Iterator<Item = u16> + '_ {
        let (text, units) = match &self.0 {
            Repr::Text(text) => (Some(text.encode_utf16()), None),
            Repr::Utf16(units) => (None, Some(units.iter().copied())),
        };
        text.into_iter()
            .flatten()
            .chain(units.into_iter().flatten())
    }

    /// The code points of the string; a lone surrogate yields its own value (U+D800 to U+DFFF),
    /// as in a Python string.
    pub fn code_points(&self) -> impl Iterator<Item = u32> + '_ {
        let (text, units) = match &self.0 {
            Repr::Text(text) => (Some(text.chars().map(u32::from)), None),
            Repr::Utf16(units) => (
                None,
                Some(
                    char::decode_utf16(units.iter().copied()).map(|unit| match unit {
                        Ok(c) => u32::from(c),
                        Err(lone) => u32::from(lone.unpaired_surrogate()),
                    }),
                ),
            ),
        };
        text.into_iter()
            .flatten()
            .chain(units.into_iter().flatten())
    }

    /// The text with each lone surrogate replaced by U+FFFD.
    #[must_use]
    pub fn to_string_lossy(&self) -> String {
        match &self.0 {
            Repr::Text(text) => text.to_string(),
            Repr::Utf16(units) => String::from_utf16_lossy(units),
        }
    }

    /// Orders two strings by UTF-16 code units (the RFC 8785 key order).
    #[must_use]
    pub fn cmp_utf16(&self, other: &Self) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            // For two all-ASCII strings UTF-16 order is byte order.
            (Repr::Text(a), Repr::Text(b)) if a.is_ascii() && b.is_ascii() => a.cmp(b),
            _ => self.code_units().cmp(other.code_units()),
        }
    }

    /// Orders two strings by code point (Python's `str` order).
    #[must_use]
    pub fn cmp_code_points(&self, other: &Self) -> std::cmp::Ordering {
        match (&self.0, &other.0) {
            // UTF-8 byte order is code point order.
            (Repr::Text(a), Repr::Text(b)) => a.cmp(b),
            _ => self.code_points().cmp(other.code_points()),
        }
    }
}

impl fmt::Debug for JsonString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Text(text) => fmt::Debug::fmt(text, f),
            Repr::Utf16(units) => f.debug_tuple("Utf16").field(units).finish(),
        }
    }
}

impl From<&str> for JsonString {
    fn from(text: &str) -> Self {
        Self(Repr::Text(text.into()))
    }
}

impl From<String> for JsonString {
    fn from(text: String) -> Self {
        Self(Repr::Text(text.into_boxed_str()))
    }
}

impl PartialEq<str> for JsonString {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<&str> for JsonString {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

/// A JSON object: members in insertion order, keys unique.
///
/// Inserting an existing key replaces its value *in place* (the key keeps its first position),
/// which is what a Python `dict` does and what profile A's signatures depend on.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Object {
    members: Vec<(JsonString, Value)>,
}

impl Object {
    /// An empty object.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the object has no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The value of member `key`.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.members.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The value of member `key`, mutably.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.members
            .iter_mut()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// Whether member `key` exists.
    #[must_use]
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets member `key`: replaces the value in place if the key exists (returning the old
    /// value), otherwise appends the member.
    pub fn insert(&mut self, key: impl Into<JsonString>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.members.iter_mut().find(|(k, _)| *k == key) {
            Some((_, slot)) => Some(std::mem::replace(slot, value)),
            None => {
                self.members.push((key, value));
                None
            }
        }
    }

    /// Removes member `key`, keeping the order of the others.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        let index = self.members.iter().position(|(k, _)| k == key)?;
        Some(self.members.remove(index).1)
    }

    /// The members in insertion order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&JsonString, &Value)> {
        self.members.iter().map(|(k, v)| (k, v))
    }

    /// The keys in insertion order.
    pub fn keys(&self) -> impl ExactSizeIterator<Item = &JsonString> {
        self.members.iter().map(|(k, _)| k)
    }

    /// Appends a member without checking for an existing key. The caller guarantees `key` is
    /// new (the parser does, using its own index).
    pub(crate) fn push_unchecked(&mut self, key: JsonString, value: Value) {
        self.members.push((key, value));
    }

    /// Replaces the value at `index` (the parser's duplicate-key rule).
    pub(crate) fn replace_at(&mut self, index: usize, value: Value) {
        if let Some(slot) = self.members.get_mut(index) {
            slot.1 = value;
        }
    }

    /// The key at `index`.
    pub(crate) fn key_at(&self, index: usize) -> Option<&JsonString> {
        self.members.get(index).map(|(k, _)| k)
    }
}

impl<K: Into<JsonString>> FromIterator<(K, Value)> for Object {
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Self {
        let mut object = Self::new();
        for (key, value) in iter {
            object.insert(key, value);
        }
        object
    }
}

impl Value {
    /// Python truthiness: `null`, `false`, `0`, `0.0`, `""`, `[]` and `{}` are false.
    #[must_use]
    pub fn is_truthy(&self) -> bool {
        match self {
            Self::Null => false,
            Self::Bool(b) => *b,
            Self::Number(Number::Int(n)) => !n.is_zero(),
            Self::Number(Number::Float(x)) => *x != 0.0,
            Self::String(s) => s.code_units().next().is_some(),
            Self::Array(items) => !items.is_empty(),
            Self::Object(object) => !object.is_empty(),
        }
    }

    /// The string, if this is a string of valid Unicode.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => s.as_str(),
            _ => None,
        }
    }

    /// The object, if this is one.
    #[must_use]
    pub fn as_object(&self) -> Option<&Object> {
        match self {
            Self::Object(object) => Some(object),
            _ => None,
        }
    }

    /// The array, if this is one.
    #[must_use]
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Self::Array(items) => Some(items),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    #[must_use]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Self::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The integer as an `i64`, if this is an integer that fits.
    #[must_use]
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Self::Number(Number::Int(n)) => n.to_i64(),
            _ => None,
        }
    }

    /// Whether this is `null`.
    #[must_use]
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// Member `key`, if this is an object that has it.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.as_object().and_then(|object| object.get(key))
    }

    /// Whether arrays and objects nest more than `limit` levels, counted as
    /// [`ParseOptions::max_depth`](super::ParseOptions::max_depth) counts them (a top-level array
    /// or object is level 1).
    pub(crate) fn nests_deeper_than(&self, limit: usize) -> bool {
        // An explicit stack keeps this safe on values nested deeper than the call stack allows.
        let mut stack = vec![(self, 1_usize)];
        while let Some((value, level)) = stack.pop() {
            match value {
                Self::Array(items) => {
                    if level > limit {
                        return true;
                    }
                    stack.extend(items.iter().map(|item| (item, level + 1)));
                }
                Self::Object(object) => {
                    if level > limit {
                        return true;
                    }
                    stack.extend(object.iter().map(|(_, member)| (member, level + 1)));
                }
                Self::Null | Self::Bool(_) | Self::Number(_) | Self::String(_) => {}
            }
        }
        false
    }

    /// A short name of the value's JSON type, for messages.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "boolean",
            Self::Number(Number::Int(_)) => "integer",
            Self::Number(Number::Float(_)) => "float",
            Self::String(_) => "string",
            Self::Array(_) => "array",
            Self::Object(_) => "object",
        }
    }

    /// Checks that the value holds only finite numbers and valid Unicode, i.e. that it is
    /// representable in strict JSON.
    ///
    /// # Errors
    ///
    /// [`Error::NonFiniteNumber`](crate::Error::NonFiniteNumber) or
    /// [`Error::LoneSurrogate`](crate::Error::LoneSurrogate) for the first offending leaf.
    pub fn check_strict(&self) -> Result<(), crate::Error> {
        self.check(false, false)
    }

    /// Like [`Value::check_strict`], but each rule can be waived.
    pub(crate) fn check(
        &self,
        allow_non_finite: bool,
        allow_lone_surrogates: bool,
    ) -> Result<(), crate::Error> {
        let check_string = |s: &JsonString| {
            if !allow_lone_surrogates && s.has_lone_surrogate() {
                Err(crate::Error::LoneSurrogate)
            } else {
                Ok(())
            }
        };
        // An explicit stack keeps this safe on values nested deeper than the call stack allows.
        let mut stack = vec![self];
        while let Some(value) = stack.pop() {
            match value {
                Self::Null | Self::Bool(_) | Self::Number(Number::Int(_)) => {}
                Self::Number(Number::Float(x)) => {
                    if !allow_non_finite && !x.is_finite() {
                        return Err(crate::Error::NonFiniteNumber);
                    }
                }
                Self::String(s) => check_string(s)?,
                Self::Array(items) => stack.extend(items.iter()),
                Self::Object(object) => {
                    for (key, member) in object.iter() {
                        check_string(key)?;
                        stack.push(member);
                    }
                }
            }
        }
        Ok(())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Self::Bool(b)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.into())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s.into())
    }
}

impl From<JsonString> for Value {
    fn from(s: JsonString) -> Self {
        Self::String(s)
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Self::Number(Number::Float(x))
    }
}

impl From<JsonInt> for Value {
    fn from(n: JsonInt) -> Self {
        Self::Number(Number::Int(n))
    }
}

macro_rules! value_from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Self {
                Self::Number(Number::Int(JsonInt::from(n)))
            }
        }
    )*};
}
value_from_int!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Self {
        Self::Array(items)
    }
}

impl From<Object> for Value {
    fn from(object: Object) -> Self {
        Self::Object(object)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(option: Option<T>) -> Self {
        option.map_or(Self::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_is_counted_as_the_parser_counts_it() {
        use crate::canonical::{ParseOptions, parse};
        let nested = |levels: usize| {
            let half = levels / 2;
            let text = format!("{}null{}", "[{\"a\":".repeat(half), "}]".repeat(half));
            parse(&text, &ParseOptions::PYTHON_COMPAT).unwrap()
        };
        assert!(!Value::Null.nests_deeper_than(0));
        assert!(Value::Array(Vec::new()).nests_deeper_than(0));
        assert!(!Value::Array(Vec::new()).nests_deeper_than(1));
        for levels in [2, 128, 300] {
            let value = nested(levels);
            assert!(!value.nests_deeper_than(levels), "{levels}");
            assert!(value.nests_deeper_than(levels - 1), "{levels}");
            let limited = ParseOptions {
                max_depth: levels - 1,
                ..ParseOptions::STRICT
            };
            let text = crate::canonical::jcs(&value).unwrap();
            assert!(parse(&text, &limited).is_err());
        }
    }

    #[test]
    fn ints_are_canonical() {
        assert_eq!(
            JsonInt::parse("-0").map(|n| n.to_string()),
            Some("0".into())
        );
        assert_eq!(
            JsonInt::parse("007").map(|n| n.to_string()),
            Some("7".into())
        );
        assert_eq!(JsonInt::parse("-12").and_then(|n| n.to_i64()), Some(-12));
        assert_eq!(JsonInt::parse("1.0"), None);
        assert_eq!(JsonInt::parse("-"), None);
        assert_eq!(
            JsonInt::parse("18446744073709551616").map(|n| n.to_f64()),
            Some(2f64.powi(64))
        );
    }

    #[test]
    fn insert_keeps_first_position() {
        let mut object = Object::new();
        object.insert("a", Value::from(1));
        object.insert("b", Value::from(1));
        object.insert("a", Value::from(2));
        let keys: Vec<_> = object.keys().map(|k| k.to_string_lossy()).collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(object.get("a"), Some(&Value::from(2)));
    }

    #[test]
    fn lone_surrogates_are_kept_and_ordered_as_python_does() {
        let lone = JsonString::from_utf16(vec![0x61, 0xd800]);
        assert!(lone.has_lone_surrogate());
        assert_eq!(lone.code_points().collect::<Vec<_>>(), [0x61, 0xd800]);
        let pair = JsonString::from_utf16(vec![0xd83d, 0xde00]);
        assert_eq!(pair.as_str(), Some("\u{1f600}"));
        // U+E000 sorts after U+1F600 by UTF-16 units but before it by code point.
        let pua = JsonString::from("\u{e000}");
        assert_eq!(pua.cmp_utf16(&pair), std::cmp::Ordering::Greater);
        assert_eq!(pua.cmp_code_points(&pair), std::cmp::Ordering::Less);
    }

    #[test]
    fn truthiness_follows_python() {
        assert!(!Value::Object(Object::new()).is_truthy());
        assert!(!Value::Array(vec![]).is_truthy());
        assert!(!Value::from("").is_truthy());
        assert!(!Value::from(0).is_truthy());
        assert!(!Value::from(-0.0).is_truthy());
        assert!(Value::from(f64::NAN).is_truthy());
        assert!(Value::from("x").is_truthy());
    }
}
