//! Strict JSON-RPC 2.0 parsing that keeps the original text.
//!
//! A [`Message`] is parsed in two passes over the same bytes. The first walks every value to
//! enforce the nesting-depth limit and to refuse duplicate object keys, so the value a later
//! stage authorises is the value the upstream will read (a parser that keeps the last duplicate
//! and one that keeps the first would otherwise disagree). The second splits the top-level
//! object into its members, each kept as its original JSON text. Forwarding writes those texts
//! back unchanged; only a member the gateway must change (the request `id`, or a result it
//! adapts between eras) is replaced. No typed model that could drop unknown fields sits on the
//! forwarding path.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::denial::Denial;

/// Size and shape limits applied while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted message, in bytes.
    pub max_bytes: usize,
    /// Deepest accepted nesting of objects and arrays (the top-level object counts as 1).
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
        }
    }
}

/// A JSON-RPC request id: a string or an integer, kept as its JSON text.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Id(Box<str>);

impl Id {
    /// An integer id.
    pub fn number(n: u64) -> Self {
        Self(n.to_string().into_boxed_str())
    }

    /// A string id.
    pub fn string(s: &str) -> Self {
        Self(json_string(s).into_boxed_str())
    }

    /// The id as JSON text (`7` or `"abc"`).
    pub fn as_json(&self) -> &str {
        &self.0
    }

    /// The id as an unsigned integer, when it is one.
    pub fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    /// Reads an id from JSON text, accepting only strings and integers.
    fn from_raw(raw: &RawValue) -> Result<Self, &'static str> {
        let text = raw.get();
        match text.as_bytes().first() {
            Some(b'"') => Ok(Self(text.into())),
            Some(b'-' | b'0'..=b'9') => {
                if text.bytes().any(|b| matches!(b, b'.' | b'e' | b'E')) {
                    Err("`id` must be a string or an integer, not a fractional number")
                } else {
                    Ok(Self(text.into()))
                }
            }
            Some(b'n') => Err("`id` must not be null"),
            _ => Err("`id` must be a string or an integer"),
        }
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Has a `method` and an `id`: expects a response.
    Request,
    /// Has a `method` and no `id`.
    Notification,
    /// Has a `result`.
    Result,
    /// Has an `error`.
    Error,
}

/// Why bytes could not become a [`Message`].
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// The denial to send back.
    pub denial: Denial,
    /// The request id, when it could be read, so the error response can name it.
    pub id: Option<Id>,
}

impl ParseError {
    fn new(denial: Denial) -> Self {
        Self { denial, id: None }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.denial.fmt(f)
    }
}

impl std::error::Error for ParseError {}

/// One JSON-RPC 2.0 message, validated, with every member kept as its original JSON text.
#[derive(Debug, Clone)]
pub struct Message {
    members: Vec<(Box<str>, Box<RawValue>)>,
    kind: Kind,
    id: Option<Id>,
    method: Option<Box<str>>,
    /// The MCPS envelope the message arrived in, as received (see [`Message::mcps_envelope`]).
    envelope: Option<Box<str>>,
    /// The signed envelope the gateway sends in place of the plain message (see
    /// [`Message::set_signed_wire`]).
    signed_wire: Option<Box<str>>,
}

impl Message {
    /// Parses and validates one message.
    ///
    /// A JSON array is refused here with [`Denial::BatchNotSupported`]; callers that accept
    /// batches (protocol revision 2025-03-26 only) split them with [`split_batch`] first.
    pub fn parse(bytes: &[u8], limits: Limits) -> Result<Self, ParseError> {
        let text = check_text(bytes, limits)?;
        match first_byte(text) {
            Some(b'{') => {}
            Some(b'[') => return Err(ParseError::new(Denial::BatchNotSupported)),
            _ => {
                return Err(ParseError::new(Denial::InvalidRequest(
                    "message must be a JSON-RPC 2.0 object".into(),
                )));
            }
        }
        let members: Members = serde_json::from_str(text)
            .map_err(|e| ParseError::new(Denial::Parse(describe_json_error(&e))))?;
        if let Some(inner) = envelope_message(&members.0) {
            let inner: Members = serde_json::from_str(inner.get())
                .map_err(|e| ParseError::new(Denial::Parse(describe_json_error(&e))))?;
            let mut message = Self::from_members(inner.0)?;
            message.envelope = Some(text.into());
            return Ok(message);
        }
        Self::from_members(members.0)
    }

    /// For a message that arrived as an MCPS envelope whose JSON-RPC message sits under
    /// `message` (profile A, `{"mcps": …, "message": {…}}`, and the native profile,
    /// `{"v": …, "message": {…}, "sig": …}`): the whole envelope text as received.
    ///
    /// Such a message parses as its inner JSON-RPC message, so every stage sees its method,
    /// id and params; the signature stage verifies the envelope and replaces the message with
    /// the signed content. Nothing here checks the signature: without that stage the pipeline
    /// refuses envelopes. (Profile B puts an `mcps` member beside the JSON-RPC members, so it
    /// parses as an ordinary message.)
    pub fn mcps_envelope(&self) -> Option<&str> {
        self.envelope.as_deref()
    }

    fn from_members(members: Vec<(Box<str>, Box<RawValue>)>) -> Result<Self, ParseError> {
        let find = |name: &str| members.iter().find(|(k, _)| &**k == name).map(|(_, v)| v);
        // Read the id first so that every later error can name it.
        let raw_id = find("id");
        let id = match raw_id {
            Some(raw) if raw.get() == "null" => None,
            Some(raw) => match Id::from_raw(raw) {
                Ok(id) => Some(id),
                Err(msg) => return Err(ParseError::new(Denial::InvalidRequest(msg.into()))),
            },
            None => None,
        };
        let fail = |msg: &str| ParseError {
            denial: Denial::InvalidRequest(msg.into()),
            id: id.clone(),
        };
        match find("jsonrpc").map(|v| v.get()) {
            Some("\"2.0\"") => {}
            Some(_) => return Err(fail("`jsonrpc` must be exactly \"2.0\"")),
            None => return Err(fail("missing `jsonrpc`: \"2.0\"")),
        }
        let method = match find("method") {
            Some(raw) => match serde_json::from_str::<String>(raw.get()) {
                Ok(m) if !m.is_empty() => Some(m.into_boxed_str()),
                Ok(_) => return Err(fail("`method` must not be empty")),
                Err(_) => return Err(fail("`method` must be a string")),
            },
            None => None,
        };
        let has_result = find("result").is_some();
        let error = find("error");
        let kind = if method.is_some() {
            if has_result || error.is_some() {
                return Err(fail("a request must not carry `result` or `error`"));
            }
            if let Some(params) = find("params")
                && !matches!(first_byte(params.get()), Some(b'{' | b'['))
            {
                return Err(fail("`params` must be an object or an array"));
            }
            match raw_id {
                Some(raw) if raw.get() == "null" => {
                    return Err(fail("a request `id` must not be null"));
                }
                Some(_) => Kind::Request,
                None => Kind::Notification,
            }
        } else {
            match (has_result, error) {
                (true, Some(_)) => {
                    return Err(fail("a response must not carry both `result` and `error`"));
                }
                (true, None) => {
                    if id.is_none() {
                        return Err(fail("a result response needs an `id`"));
                    }
                    Kind::Result
                }
                (false, Some(err)) => {
                    check_error_object(err).map_err(&fail)?;
                    Kind::Error
                }
                (false, None) => {
                    return Err(fail(
                        "message has no `method`, `result` or `error`: not JSON-RPC 2.0",
                    ));
                }
            }
        };
        Ok(Self {
            members,
            kind,
            id,
            method,
            envelope: None,
            signed_wire: None,
        })
    }

    /// A request with the given id, method and params.
    pub fn request(id: &Id, method: &str, params: Option<&serde_json::Value>) -> Self {
        let mut m = Self::empty(Kind::Request);
        m.push("jsonrpc", raw_json("\"2.0\""));
        m.push("id", raw_json(id.as_json()));
        m.push("method", raw_json(&json_string(method)));
        if let Some(params) = params {
            m.push("params", to_raw(params));
        }
        m.id = Some(id.clone());
        m.method = Some(method.into());
        m
    }

    /// A notification with the given method and params.
    pub fn notification(method: &str, params: Option<&serde_json::Value>) -> Self {
        let mut m = Self::empty(Kind::Notification);
        m.push("jsonrpc", raw_json("\"2.0\""));
        m.push("method", raw_json(&json_string(method)));
        if let Some(params) = params {
            m.push("params", to_raw(params));
        }
        m.method = Some(method.into());
        m
    }

    /// A result response.
    pub fn result(id: &Id, result: &serde_json::Value) -> Self {
        let mut m = Self::empty(Kind::Result);
        m.push("jsonrpc", raw_json("\"2.0\""));
        m.push("id", raw_json(id.as_json()));
        m.push("result", to_raw(result));
        m.id = Some(id.clone());
        m
    }

    /// An error response; `id` is `None` only when the request id could not be read.
    pub fn error(
        id: Option<&Id>,
        code: i64,
        message: &str,
        data: Option<&serde_json::Value>,
    ) -> Self {
        let mut err = serde_json::Map::new();
        err.insert("code".into(), code.into());
        err.insert("message".into(), message.into());
        if let Some(data) = data {
            err.insert("data".into(), data.clone());
        }
        let mut m = Self::empty(Kind::Error);
        m.push("jsonrpc", raw_json("\"2.0\""));
        m.push("id", raw_json(id.map_or("null", Id::as_json)));
        m.push("error", to_raw(&serde_json::Value::Object(err)));
        m.id = id.cloned();
        m
    }

    /// The error response a denial becomes.
    pub fn denial(id: Option<&Id>, denial: &Denial) -> Self {
        Self::error(
            id,
            denial.code(),
            &denial.to_string(),
            denial.data().as_ref(),
        )
    }

    fn empty(kind: Kind) -> Self {
        Self {
            members: Vec::with_capacity(4),
            kind,
            id: None,
            method: None,
            envelope: None,
            signed_wire: None,
        }
    }

    fn push(&mut self, name: &str, value: Box<RawValue>) {
        self.members.push((name.into(), value));
    }

    /// What this message is.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The id of a request or response.
    pub fn id(&self) -> Option<&Id> {
        self.id.as_ref()
    }

    /// The method of a request or notification.
    pub fn method(&self) -> Option<&str> {
        self.method.as_deref()
    }

    /// A top-level member as raw JSON text.
    pub fn member(&self, name: &str) -> Option<&RawValue> {
        self.members
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    }

    /// The few `params` fields the transports read on every message (`name`, `uri`, the
    /// `_meta` protocol version), without building a JSON tree of the whole `params`.
    pub fn peek_params(&self) -> ParamsPeek<'_> {
        self.member("params")
            .and_then(|raw| serde_json::from_str::<RawPeek<'_>>(raw.get()).ok())
            .map(|p| ParamsPeek {
                name: p.name.and_then(raw_str),
                uri: p.uri.and_then(raw_str),
                protocol_version: p.meta.and_then(|m| m.protocol_version).and_then(raw_str),
            })
            .unwrap_or_default()
    }

    /// The `params` member, parsed.
    pub fn params(&self) -> Option<serde_json::Value> {
        self.parsed("params")
    }

    /// The `result` member, parsed.
    pub fn result_value(&self) -> Option<serde_json::Value> {
        self.parsed("result")
    }

    /// The `error` member, parsed.
    pub fn error_value(&self) -> Option<serde_json::Value> {
        self.parsed("error")
    }

    fn parsed(&self, name: &str) -> Option<serde_json::Value> {
        self.member(name)
            .and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// Replaces (or adds) a member with a new value.
    pub fn set_member(&mut self, name: &str, value: &serde_json::Value) {
        let raw = to_raw(value);
        self.signed_wire = None;
        match self.members.iter_mut().find(|(k, _)| &**k == name) {
            Some((_, v)) => *v = raw,
            None => self.members.push((name.into(), raw)),
        }
    }

    /// Replaces the id, as the gateway does when it moves a message between id spaces.
    ///
    /// Only requests and responses have ids; on a notification this does nothing.
    pub fn set_id(&mut self, id: &Id) {
        if matches!(self.kind, Kind::Notification) {
            return;
        }
        let raw = raw_json(id.as_json());
        self.signed_wire = None;
        match self.members.iter_mut().find(|(k, _)| &**k == "id") {
            Some((_, v)) => *v = raw,
            None => self.members.push(("id".into(), raw)),
        }
        self.id = Some(id.clone());
    }

    /// Makes [`Message::to_json`] write `text`, an MCPS envelope that signs this message,
    /// instead of the message itself. Changing a member or the id drops it.
    pub fn set_signed_wire(&mut self, text: String) {
        self.signed_wire = Some(text.into_boxed_str());
    }

    /// Writes the message as compact JSON on one line, members in their original order (or
    /// the signed envelope set with [`Message::set_signed_wire`]).
    pub fn to_json(&self) -> String {
        if let Some(wire) = &self.signed_wire {
            return wire.to_string();
        }
        self.write(None)
    }

    /// Writes the message with another id (the gateway moving it between id spaces), without
    /// copying the message first.
    pub fn to_json_with_id(&self, id: &Id) -> String {
        self.write(Some(id))
    }

    fn write(&self, id: Option<&Id>) -> String {
        let len: usize = self
            .members
            .iter()
            .map(|(k, v)| k.len() + v.get().len() + 4)
            .sum();
        let mut out = String::with_capacity(len + 2);
        out.push('{');
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&json_string(k));
            out.push(':');
            match id {
                Some(id) if &**k == "id" => out.push_str(id.as_json()),
                _ => out.push_str(v.get()),
            }
        }
        out.push('}');
        out
    }
}

/// `params.name`, `params.uri` and `params._meta["io.modelcontextprotocol/protocolVersion"]`,
/// when they are strings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamsPeek<'a> {
    /// `params.name` (the tool or prompt of `tools/call` and `prompts/get`).
    pub name: Option<std::borrow::Cow<'a, str>>,
    /// `params.uri` (the resource of `resources/read`).
    pub uri: Option<std::borrow::Cow<'a, str>>,
    /// The protocol version a modern request names in its `_meta`.
    pub protocol_version: Option<std::borrow::Cow<'a, str>>,
}

#[derive(serde::Deserialize)]
struct RawPeek<'a> {
    #[serde(borrow)]
    name: Option<&'a RawValue>,
    #[serde(borrow)]
    uri: Option<&'a RawValue>,
    #[serde(rename = "_meta", borrow)]
    meta: Option<RawMetaPeek<'a>>,
}

#[derive(serde::Deserialize)]
struct RawMetaPeek<'a> {
    #[serde(rename = "io.modelcontextprotocol/protocolVersion", borrow)]
    protocol_version: Option<&'a RawValue>,
}

fn raw_str(raw: &RawValue) -> Option<std::borrow::Cow<'_, str>> {
    serde_json::from_str::<std::borrow::Cow<'_, str>>(raw.get()).ok()
}

/// Splits a JSON array of messages (a 2025-03-26 batch) into its elements' texts.
///
/// The whole array is checked against `limits` first; an empty batch is an invalid request.
pub fn split_batch(bytes: &[u8], limits: Limits) -> Result<Vec<Box<RawValue>>, ParseError> {
    let text = check_text(bytes, limits)?;
    let items: Vec<Box<RawValue>> = serde_json::from_str(text)
        .map_err(|e| ParseError::new(Denial::Parse(describe_json_error(&e))))?;
    if items.is_empty() {
        return Err(ParseError::new(Denial::InvalidRequest(
            "an empty batch is not a valid request".into(),
        )));
    }
    Ok(items)
}

/// Whether the text starts, after white space, with `[`.
pub fn is_batch(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[')
}

/// Size, UTF-8, depth and duplicate-key checks shared by messages and batches.
fn check_text(bytes: &[u8], limits: Limits) -> Result<&str, ParseError> {
    if bytes.len() > limits.max_bytes {
        return Err(ParseError::new(Denial::TooLarge {
            limit: limits.max_bytes,
        }));
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ParseError::new(Denial::Parse("message is not valid UTF-8".into())))?;
    let mut de = serde_json::Deserializer::from_str(text);
    let check = Check {
        depth: 0,
        max_depth: limits.max_depth,
    };
    match check.deserialize(&mut de).and_then(|()| de.end()) {
        Ok(()) => Ok(text),
        Err(e) => {
            let msg = e.to_string();
            if msg.starts_with(TOO_DEEP) || msg.starts_with("recursion limit exceeded") {
                Err(ParseError::new(Denial::TooDeep {
                    limit: limits.max_depth,
                }))
            } else {
                Err(ParseError::new(Denial::Parse(describe_json_error(&e))))
            }
        }
    }
}

const TOO_DEEP: &str = "nesting too deep";
const DUPLICATE: &str = "duplicate key";

/// Turns a serde_json error into a message for the client: what and where, no internals.
fn describe_json_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde_json appends " at line L column C"; keep the first part and say where ourselves.
    let what = text.split(" at line ").next().unwrap_or(&text);
    if e.line() == 0 {
        format!("invalid JSON: {what}")
    } else {
        format!(
            "invalid JSON at line {}, column {}: {what}",
            e.line(),
            e.column()
        )
    }
}

fn check_error_object(raw: &RawValue) -> Result<(), &'static str> {
    #[derive(serde::Deserialize)]
    #[expect(
        dead_code,
        reason = "the fields are deserialised only to check their types"
    )]
    struct ErrorObject<'a> {
        code: i64,
        #[serde(borrow)]
        message: std::borrow::Cow<'a, str>,
    }
    serde_json::from_str::<ErrorObject<'_>>(raw.get())
        .map(|_| ())
        .map_err(|_| "`error` must be an object with an integer `code` and a string `message`")
}

fn first_byte(text: &str) -> Option<u8> {
    text.bytes().find(|b| !b.is_ascii_whitespace())
}

/// JSON text of a string.
fn json_string(s: &str) -> String {
    // INVARIANT (string serialisation): serialising a `str` cannot fail.
    serde_json::to_string(s).unwrap_or_default()
}

fn raw_json(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap_or_else(|_| null_raw())
}

fn to_raw(value: &serde_json::Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| null_raw())
}

fn null_raw() -> Box<RawValue> {
    // `null` is valid JSON; `from_string` only fails on invalid JSON.
    RawValue::from_string("null".to_owned()).unwrap_or_else(|_| Box::<RawValue>::default())
}

// === impl Check ===

/// Walks a JSON value, refusing nesting deeper than the limit and duplicate object keys.
struct Check {
    depth: usize,
    max_depth: usize,
}

impl<'de> DeserializeSeed<'de> for Check {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Check {
    fn nested<E: de::Error>(&self) -> Result<Check, E> {
        if self.depth + 1 > self.max_depth {
            return Err(E::custom(TOO_DEEP));
        }
        Ok(Check {
            depth: self.depth + 1,
            max_depth: self.max_depth,
        })
    }
}

impl<'de> Visitor<'de> for Check {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        while seq
            .next_element_seed(Check {
                depth: inner.depth,
                max_depth: inner.max_depth,
            })?
            .is_some()
        {}
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let inner = self.nested()?;
        // Objects in MCP messages are small; a linear scan beats hashing for them.
        let mut seen: Vec<std::borrow::Cow<'de, str>> = Vec::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if seen.contains(&key) {
                return Err(de::Error::custom(format_args!("{DUPLICATE} `{key}`")));
            }
            seen.push(key);
            map.next_value_seed(Check {
                depth: inner.depth,
                max_depth: inner.max_depth,
            })?;
        }
        Ok(())
    }
}

/// The inner `message` of an MCPS envelope that is not itself JSON-RPC: no `jsonrpc` member,
/// an object under `message`, and the profile A (`mcps`) or native (`v` and `sig`) markers.
fn envelope_message(members: &[(Box<str>, Box<RawValue>)]) -> Option<&RawValue> {
    let find = |name: &str| {
        members
            .iter()
            .find(|(k, _)| &**k == name)
            .map(|(_, v)| &**v)
    };
    if find("jsonrpc").is_some() {
        return None;
    }
    let marked = find("mcps").is_some() || (find("v").is_some() && find("sig").is_some());
    let inner = find("message")?;
    (marked && first_byte(inner.get()) == Some(b'{')).then_some(inner)
}

// === impl Members ===

/// The top-level members of an object, in order, as raw JSON.
struct Members(Vec<(Box<str>, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Members;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
                let mut members = Vec::with_capacity(4);
                while let Some(key) = map.next_key::<String>()? {
                    let value: Box<RawValue> = map.next_value()?;
                    let value = one_line(value).map_err(de::Error::custom)?;
                    members.push((key.into_boxed_str(), value));
                }
                Ok(Members(members))
            }
        }
        d.deserialize_map(V)
    }
}

/// A member's text with its line breaks turned into spaces.
///
/// JSON allows line breaks only as white space between tokens (a string cannot hold one raw), so
/// this changes no value. It keeps every message written back on one line: on a stdio link a
/// line break kept inside a member would end the message there and hand the rest to the
/// upstream as a message of its own, one the gateway never checked.
fn one_line(raw: Box<RawValue>) -> Result<Box<RawValue>, serde_json::Error> {
    if !raw.get().bytes().any(|b| matches!(b, b'\n' | b'\r')) {
        return Ok(raw);
    }
    RawValue::from_string(raw.get().replace(['\n', '\r'], " "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, ParseError> {
        Message::parse(s.as_bytes(), Limits::default())
    }

    fn code(s: &str) -> i64 {
        parse(s).unwrap_err().denial.code()
    }

    #[test]
    fn mcps_envelopes_parse_as_their_inner_message() {
        let a = r#"{"mcps": "1.0.0", "passport_id": "asp_1", "timestamp": "t", "nonce": "n", "signature": "s", "message": {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "x"}}}"#;
        let m = parse(a).unwrap();
        assert_eq!(m.kind(), Kind::Request);
        assert_eq!(m.method(), Some("tools/call"));
        assert_eq!(m.id().unwrap().as_json(), "7");
        assert_eq!(m.peek_params().name.as_deref(), Some("x"));
        assert_eq!(m.mcps_envelope(), Some(a));
        assert!(m.member("mcps").is_none());
        let native = r#"{"alg":"EdDSA","kid":"k","message":{"jsonrpc":"2.0","method":"notifications/initialized"},"nonce":"n","prev":"p","sig":"s","ts":"t","v":"mcps-native/1"}"#;
        let m = parse(native).unwrap();
        assert_eq!(m.kind(), Kind::Notification);
        assert!(m.mcps_envelope().is_some());
        // Profile B is JSON-RPC with an extra member: an ordinary message.
        let b = r#"{"mcps": {"version": "1.0"}, "jsonrpc": "2.0", "id": 1, "method": "ping"}"#;
        let m = parse(b).unwrap();
        assert!(m.mcps_envelope().is_none());
        assert!(m.member("mcps").is_some());
        // Not an envelope: no marker, or the inner message is not JSON-RPC (no nesting).
        assert_eq!(
            code(r#"{"message": {"jsonrpc": "2.0", "method": "ping"}}"#),
            -32600
        );
        assert_eq!(
            code(
                r#"{"mcps": "1", "message": {"mcps": "1", "message": {"jsonrpc": "2.0", "method": "ping"}}}"#
            ),
            -32600
        );
        assert_eq!(code(r#"{"mcps": "1", "message": [1]}"#), -32600);
    }

    #[test]
    fn request_round_trips_byte_for_byte() {
        let text = r#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"x":1.50,"big":123456789012345678901234567890},"x-vendor":{"k":[1,2]}}}"#;
        let m = parse(text).unwrap();
        assert_eq!(m.kind(), Kind::Request);
        assert_eq!(m.method(), Some("tools/call"));
        assert_eq!(m.id().unwrap().as_json(), "7");
        assert_eq!(m.to_json(), text);
    }

    #[test]
    fn line_breaks_between_tokens_are_not_written_back() {
        // Found by fuzzing: written as received, the `\n` inside `params` split the message in
        // two on a stdio link, and the second line was a request of the client's choosing.
        let text = "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"x\",\"params\":{\r\n\"a\":[1,\n{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"y\"}\r]}}";
        let m = parse(text).unwrap();
        let written = m.to_json();
        assert_eq!(
            written,
            r#"{"jsonrpc":"2.0","id":4,"method":"x","params":{  "a":[1, {"jsonrpc":"2.0","id":9,"method":"y"} ]}}"#
        );
        assert_eq!(m.to_json_with_id(&Id::number(1)).lines().count(), 1);
        assert_eq!(
            m.params().unwrap(),
            serde_json::json!({"a": [1, {"jsonrpc": "2.0", "id": 9, "method": "y"}]})
        );
        // Escaped line breaks inside strings are data and stay as they are.
        let text = r#"{"jsonrpc":"2.0","id":5,"method":"x","params":{"s":"a\nb\r"}}"#;
        assert_eq!(parse(text).unwrap().to_json(), text);
    }

    #[test]
    fn set_id_changes_only_the_id() {
        let text = r#"{"jsonrpc":"2.0","id":"abc","method":"ping"}"#;
        let mut m = parse(text).unwrap();
        m.set_id(&Id::number(42));
        assert_eq!(m.to_json(), r#"{"jsonrpc":"2.0","id":42,"method":"ping"}"#);
    }

    #[test]
    fn to_json_with_id_writes_another_id_without_copying() {
        let text = r#"{"id":"c-1","jsonrpc":"2.0","method":"tools/call","params":{"id":5}}"#;
        let m = parse(text).unwrap();
        assert_eq!(
            m.to_json_with_id(&Id::number(9)),
            r#"{"id":9,"jsonrpc":"2.0","method":"tools/call","params":{"id":5}}"#
        );
        assert_eq!(m.to_json(), text);
    }

    #[test]
    fn peek_reads_strings_only() {
        let m = parse(r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"e\u0063ho","arguments":{"name":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#).unwrap();
        let p = m.peek_params();
        assert_eq!(p.name.as_deref(), Some("echo"));
        assert_eq!(p.uri, None);
        assert_eq!(p.protocol_version.as_deref(), Some("2026-07-28"));
        let m = parse(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":5,"_meta":[]}}"#)
            .unwrap();
        assert_eq!(m.peek_params(), ParamsPeek::default());
        let m = parse(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"name":5}}"#).unwrap();
        assert_eq!(m.peek_params().name, None);
    }

    #[test]
    fn kinds() {
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
                .unwrap()
                .kind(),
            Kind::Notification
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#)
                .unwrap()
                .kind(),
            Kind::Result
        );
        assert_eq!(
            parse(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}}"#)
                .unwrap()
                .kind(),
            Kind::Error
        );
    }

    #[test]
    fn malformed_json_is_parse_error() {
        assert_eq!(code("{"), -32700);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":"x",}"#), -32700);
        assert_eq!(
            Message::parse(b"{\"a\":\"\xff\"}", Limits::default())
                .unwrap_err()
                .denial
                .code(),
            -32700
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"s":"\ud800"}}"#),
            -32700
        );
    }

    #[test]
    fn duplicate_keys_are_refused_at_any_depth() {
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#),
            -32700
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":{"a":{"b":1,"b":2}}}"#),
            -32700
        );
    }

    #[test]
    fn not_jsonrpc_is_invalid_request() {
        assert_eq!(code("42"), -32600);
        assert_eq!(code(r#""x""#), -32600);
        assert_eq!(code(r#"{"id":1,"method":"ping"}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), -32600);
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1,"method":5}"#), -32600);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#),
            -32600
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":"s"}"#),
            -32600
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}"#),
            -32600
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"error":{"code":"x"}}"#),
            -32600
        );
    }

    #[test]
    fn bad_ids_are_invalid_requests() {
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#),
            -32600
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#),
            -32600
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#), -32600);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":[1],"method":"ping"}"#),
            -32600
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":true,"method":"ping"}"#),
            -32600
        );
    }

    #[test]
    fn readable_id_is_kept_for_the_error() {
        let err = parse(r#"{"jsonrpc":"1.0","id":"q","method":"ping"}"#).unwrap_err();
        assert_eq!(err.id, Some(Id::string("q")));
    }

    #[test]
    fn size_and_depth_limits() {
        let limits = Limits {
            max_bytes: 64,
            max_depth: 3,
        };
        let big = format!(
            r#"{{"jsonrpc":"2.0","method":"x","params":{{"s":"{}"}}}}"#,
            "a".repeat(100)
        );
        assert!(matches!(
            Message::parse(big.as_bytes(), limits).unwrap_err().denial,
            Denial::TooLarge { limit: 64 }
        ));
        let ok = r#"{"jsonrpc":"2.0","method":"x","params":{"a":[1]}}"#;
        assert!(Message::parse(ok.as_bytes(), limits).is_ok());
        let deep = r#"{"jsonrpc":"2.0","method":"x","params":{"a":[[1]]}}"#;
        assert!(matches!(
            Message::parse(deep.as_bytes(), limits).unwrap_err().denial,
            Denial::TooDeep { limit: 3 }
        ));
        let very_deep = format!(
            r#"{{"jsonrpc":"2.0","method":"x","params":{}1{}}}"#,
            "[".repeat(5000),
            "]".repeat(5000)
        );
        assert_eq!(code(&very_deep), -32600);
    }

    #[test]
    fn batches_are_refused_by_parse_and_split_on_request() {
        assert!(matches!(
            parse(r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#)
                .unwrap_err()
                .denial,
            Denial::BatchNotSupported
        ));
        assert!(is_batch(b"  [1]"));
        let items = split_batch(br#"[{"a":1},{"b":2}]"#, Limits::default()).unwrap();
        assert_eq!(items.len(), 2);
        assert!(split_batch(b"[]", Limits::default()).is_err());
    }

    #[test]
    fn constructed_messages_parse_back() {
        let id = Id::string("x\"y");
        let m = Message::request(&id, "tools/list", Some(&serde_json::json!({"cursor": "c"})));
        let back = parse(&m.to_json()).unwrap();
        assert_eq!(back.id(), Some(&id));
        let e = Message::denial(
            None,
            &Denial::MethodNotFound {
                method: "a/b".into(),
            },
        );
        let back = parse(&e.to_json()).unwrap();
        assert_eq!(back.kind(), Kind::Error);
        assert_eq!(back.error_value().unwrap()["code"], -32601);
    }
}
