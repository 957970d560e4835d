//! The error reported when a configuration cannot be read, parsed,
//! validated or imported, and the dotted key paths it names.

use std::fmt;
use std::ops::Range;

/// Why a configuration could not be read, parsed, validated or imported.
///
/// It names the file, and where known the line and column and the dotted
/// key, for example:
///
/// ```text
/// config `examples/x.toml`: `upstreams.demo.command`: must not be empty
/// config `x.toml` line 3, column 9: unknown field `lisen`, expected one of `listen`, ...
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    origin: String,
    position: Option<(usize, usize)>,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    /// An error about the file as a whole.
    pub(crate) fn new(origin: &str, message: impl Into<String>) -> Self {
        Self {
            origin: origin.to_owned(),
            position: None,
            key: None,
            message: message.into(),
        }
    }

    /// An error about the value at `key`.
    pub(crate) fn at_key(origin: &str, key: &KeyPath, message: impl Into<String>) -> Self {
        Self {
            key: Some(key.as_str().to_owned()),
            ..Self::new(origin, message)
        }
    }

    /// An error at a 1-based line and column.
    pub(crate) fn at_position(
        origin: &str,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Self {
            position: Some((line, column)),
            ..Self::new(origin, message)
        }
    }

    /// An error at a byte range of `text`, when the range is known.
    pub(crate) fn at_span(
        origin: &str,
        text: &str,
        span: Option<Range<usize>>,
        message: impl Into<String>,
    ) -> Self {
        match span {
            Some(span) => {
                let (line, column) = line_column(text, span.start);
                Self::at_position(origin, line, column, message)
            }
            None => Self::new(origin, message),
        }
    }

    /// The file name the error is about, as given by the caller.
    #[must_use]
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The 1-based line of the offending text, when known.
    #[must_use]
    pub fn line(&self) -> Option<usize> {
        self.position.map(|(line, _)| line)
    }

    /// The 1-based column (in characters) of the offending text, when known.
    #[must_use]
    pub fn column(&self) -> Option<usize> {
        self.position.map(|(_, column)| column)
    }

    /// The dotted path of the offending key, such as
    /// `upstreams.demo.command`, when known.
    #[must_use]
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// What is wrong, without the file, position or key.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "config `{}`", self.origin)?;
        if let Some((line, column)) = self.position {
            write!(f, " line {line}, column {column}")?;
        }
        if let Some(key) = &self.key {
            write!(f, ": `{key}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The 1-based line and column (counted in characters) of byte `offset`.
pub(crate) fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = text.get(..offset).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    let column = before.get(line_start..).unwrap_or_default().chars().count() + 1;
    (line, column)
}

/// A dotted path to a configuration key, such as `upstreams.demo.env.HOME`.
///
/// Segments that are not bare TOML keys are quoted, so every path can be
/// pasted back into a TOML file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPath(String);

impl KeyPath {
    /// A path of one segment.
    pub(crate) fn root(segment: &str) -> Self {
        Self(quote_key(segment))
    }

    /// This path extended by `segment`.
    pub(crate) fn child(&self, segment: &str) -> Self {
        Self(format!("{}.{}", self.0, quote_key(segment)))
    }

    /// This path extended by an array index.
    pub(crate) fn index(&self, index: usize) -> Self {
        Self(format!("{}[{index}]", self.0))
    }

    /// The path as text.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `key` can be written in TOML without quotes.
pub(crate) fn is_bare_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

/// `key` as a TOML key: bare when possible, else a quoted string.
pub(crate) fn quote_key(key: &str) -> String {
    if is_bare_key(key) {
        key.to_owned()
    } else {
        quote_string(key)
    }
}

/// `value` as a TOML basic string, with every character that needs it
/// escaped.
pub(crate) fn quote_string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('"');
    for character in value.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\u{8}' => quoted.push_str("\\b"),
            '\u{c}' => quoted.push_str("\\f"),
            control if control.is_control() => {
                quoted.push_str(&format!("\\u{:04X}", u32::from(control)));
            }
            other => quoted.push(other),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_forms() {
        let key = KeyPath::root("upstreams").child("demo").child("command");
        let error = ConfigError::at_key("examples/x.toml", &key, "must not be empty");
        assert_eq!(
            error.to_string(),
            "config `examples/x.toml`: `upstreams.demo.command`: must not be empty"
        );
        assert_eq!(error.key(), Some("upstreams.demo.command"));
        assert_eq!(error.line(), None);

        let error = ConfigError::at_position("x.toml", 3, 9, "unknown field `lisen`");
        assert_eq!(
            error.to_string(),
            "config `x.toml` line 3, column 9: unknown field `lisen`"
        );
        assert_eq!((error.line(), error.column()), (Some(3), Some(9)));

        let error = ConfigError::new("x.toml", "cannot read file");
        assert_eq!(error.to_string(), "config `x.toml`: cannot read file");
        assert_eq!(error.origin(), "x.toml");
        assert_eq!(error.message(), "cannot read file");
    }

    #[test]
    fn line_and_column_count_characters() {
        let text = "a = 1\nbé = 2\n";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 6), (2, 1));
        // "bé " is four bytes but three characters.
        assert_eq!(line_column(text, 10), (2, 4));
        // Inside a multi-byte character and past the end are clamped.
        assert_eq!(line_column(text, 8), (2, 2));
        assert_eq!(line_column(text, 1000), (3, 1));
    }

    #[test]
    fn key_paths_quote_odd_segments() {
        let key = KeyPath::root("upstreams").child("my server").child("args");
        assert_eq!(key.index(2).as_str(), "upstreams.\"my server\".args[2]");
    }

    #[test]
    fn quoted_strings_escape_everything_needed() {
        assert_eq!(quote_string("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(
            quote_string("\n\t\u{7f}\u{1}é"),
            "\"\\n\\t\\u007F\\u0001é\""
        );
    }
}
