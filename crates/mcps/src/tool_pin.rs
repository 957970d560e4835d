//! Tool-definition integrity: profile A tool signatures, and local pins of whole definitions.
//!
//! # Profile A tool signatures
//!
//! `mcp-secure` 1.0.0 signs a tool as a bare base64 DER ECDSA P-256 signature over
//!
//! ```text
//! python_dumps({"name": tool.name, "description": tool.description,
//!               "inputSchema": tool.inputSchema or {}})
//! ```
//!
//! (that key order; [`signing_input_a`]). Only those three members are covered: `title`,
//! `annotations` (e.g. `destructiveHint`), `outputSchema` and `_meta` can change without
//! invalidating the signature, and a signed tool can be replayed on any server. Key order inside
//! `inputSchema` matters, since it is serialised in insertion order. [`verify_a`] reproduces that
//! check, refusing malformed tools cleanly instead of crashing.
//!
//! # Pins
//!
//! A [`ToolPins`] set remembers a digest of each tool's *entire* definition (every member) the
//! first time it is seen, and reports any later change ([`Error::ToolChanged`]): the defence
//! against a server silently rewriting a tool ("rug pull"), including the members the profile A
//! signature does not cover. The digest ([`digest`]) is SHA-256 over a domain label and the
//! definition's [`canonical::profile_b`] form, which is exact (big integers are not rounded)
//! and independent of member order.

use std::collections::HashMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::canonical::{self, Object, Value};
use crate::error::Error;
use crate::keys::{Algorithm, SignatureFormat, SignaturePolicy, SigningKey, VerifyingKey};

/// Domain separation for [`digest`].
const PIN_LABEL: &[u8] = b"mcps tool pin v1\n";

struct ToolParts<'a> {
    object: &'a Object,
    name: &'a str,
    description: &'a Value,
    input_schema: Option<&'a Value>,
}

fn tool_parts(tool: &Value) -> Result<ToolParts<'_>, Error> {
    let object = tool
        .as_object()
        .ok_or(Error::ToolMalformed("tool is not a json object"))?;
    let name = object
        .get("name")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .ok_or(Error::ToolMalformed("`name` is missing or not a string"))?;
    let description = object
        .get("description")
        .filter(|d| d.as_str().is_some())
        .ok_or(Error::ToolMalformed(
            "`description` is missing or not a string",
        ))?;
    let input_schema = match object.get("inputSchema") {
        None => None,
        Some(schema @ Value::Object(_)) => Some(schema),
        Some(_) => return Err(Error::ToolMalformed("`inputSchema` is not an object")),
    };
    tool.check_strict()?;
    Ok(ToolParts {
        object,
        name,
        description,
        input_schema,
    })
}

/// The text profile A signs for a tool.
///
/// # Errors
///
/// [`Error::ToolMalformed`] unless the tool is an object with a non-empty string `name`, a
/// string `description` and, if present, an object `inputSchema`; [`Error::NonFiniteNumber`] /
/// [`Error::LoneSurrogate`] for values strict JSON cannot carry.
pub fn signing_input_a(tool: &Value) -> Result<String, Error> {
    let parts = tool_parts(tool)?;
    let mut covered = Object::new();
    covered.insert("name", Value::from(parts.name));
    covered.insert("description", parts.description.clone());
    covered.insert(
        "inputSchema",
        parts
            .input_schema
            .cloned()
            .unwrap_or_else(|| Value::Object(Object::new())),
    );
    canonical::python_dumps(&Value::Object(covered))
}

/// Signs a tool as profile A does (bare base64 DER, low-S).
///
/// # Errors
///
/// As [`signing_input_a`]; [`Error::WrongKeyType`] unless the key is P-256.
pub fn sign_a(tool: &Value, key: &SigningKey) -> Result<String, Error> {
    if key.algorithm() != Algorithm::EcdsaP256 {
        return Err(Error::WrongKeyType(
            "profile a tool signatures need a p-256 key",
        ));
    }
    let data = signing_input_a(tool)?;
    Ok(STANDARD.encode(key.sign(data.as_bytes(), SignatureFormat::Der)?))
}

/// Verifies a profile A tool signature.
///
/// # Errors
///
/// As [`signing_input_a`]; [`Error::ToolBadSignature`] if the signature is not canonical base64
/// DER or does not verify; [`Error::WrongKeyType`] unless the key is P-256.
pub fn verify_a(tool: &Value, signature: &str, key: &VerifyingKey) -> Result<(), Error> {
    if key.algorithm() != Algorithm::EcdsaP256 {
        return Err(Error::WrongKeyType(
            "profile a tool signatures need a p-256 key",
        ));
    }
    let data = signing_input_a(tool)?;
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| Error::ToolBadSignature)?;
    key.verify(data.as_bytes(), &signature, &SignaturePolicy::PROFILE_A)
        .map_err(|_| Error::ToolBadSignature)
}

/// SHA-256 digest of a whole tool definition.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ToolDigest([u8; 32]);

impl ToolDigest {
    /// The digest bytes.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Wraps digest bytes (e.g. loaded from a pin store).
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }
}

impl fmt::Display for ToolDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex::encode(&self.0))
    }
}

impl fmt::Debug for ToolDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToolDigest({self})")
    }
}

/// The pin digest of a tool definition: SHA-256 over a domain label and
/// [`canonical::profile_b`] of the whole definition.
///
/// # Errors
///
/// As [`signing_input_a`] for the tool's shape.
pub fn digest(tool: &Value) -> Result<ToolDigest, Error> {
    tool_parts(tool)?;
    let text = canonical::profile_b(tool)?;
    let mut hasher = Sha256::new();
    hasher.update(PIN_LABEL);
    hasher.update(text.as_bytes());
    Ok(ToolDigest(hasher.finalize().into()))
}

/// The result of checking a tool against its pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    /// No pin exists for this tool name.
    Unpinned,
    /// The definition matches its pin.
    Unchanged,
}

/// Pinned digests of tool definitions, by tool name.
#[derive(Debug, Clone, Default)]
pub struct ToolPins {
    pins: HashMap<String, ToolDigest>,
}

impl ToolPins {
    /// An empty set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of pinned tools.
    #[must_use]
    pub fn len(&self) -> usize {
        self.pins.len()
    }

    /// Whether nothing is pinned.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pins.is_empty()
    }

    /// The pin for `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<ToolDigest> {
        self.pins.get(name).copied()
    }

    /// Sets the pin for `name` directly (e.g. from configuration).
    pub fn insert(&mut self, name: impl Into<String>, digest: ToolDigest) {
        self.pins.insert(name.into(), digest);
    }

    /// Pins the tool's current definition, replacing any earlier pin.
    ///
    /// # Errors
    ///
    /// As [`digest`].
    pub fn pin(&mut self, tool: &Value) -> Result<ToolDigest, Error> {
        let pinned = digest(tool)?;
        let name = tool_parts(tool)?.name.to_owned();
        self.pins.insert(name, pinned);
        Ok(pinned)
    }

    /// Compares the tool with its pin.
    ///
    /// # Errors
    ///
    /// [`Error::ToolChanged`] if a pin exists and differs; as [`digest`] for a malformed tool.
    pub fn check(&self, tool: &Value) -> Result<PinCheck, Error> {
        let current = digest(tool)?;
        let name = tool_parts(tool)?.name;
        match self.pins.get(name) {
            None => Ok(PinCheck::Unpinned),
            Some(pinned) if *pinned == current => Ok(PinCheck::Unchanged),
            Some(_) => Err(Error::ToolChanged),
        }
    }

    /// Trust on first use: pins an unpinned tool, otherwise checks it.
    ///
    /// # Errors
    ///
    /// As [`ToolPins::check`].
    pub fn check_or_pin(&mut self, tool: &Value) -> Result<PinCheck, Error> {
        let outcome = self.check(tool)?;
        if outcome == PinCheck::Unpinned {
            self.pin(tool)?;
        }
        Ok(outcome)
    }
}

impl ToolParts<'_> {
    /// Whether the tool has members the profile A signature does not cover.
    fn has_uncovered_members(&self) -> bool {
        self.object
            .keys()
            .any(|key| !matches!(key.as_str(), Some("name" | "description" | "inputSchema")))
    }
}

/// Whether a tool carries members (such as `annotations` or `outputSchema`) that a profile A
/// signature does not cover.
///
/// # Errors
///
/// As [`signing_input_a`].
pub fn has_unsigned_members_a(tool: &Value) -> Result<bool, Error> {
    Ok(tool_parts(tool)?.has_uncovered_members())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ParseOptions;

    fn tool(text: &str) -> Value {
        canonical::parse(text, &ParseOptions::STRICT).unwrap()
    }

    const READ_FILE: &str = r#"{"name": "read_file", "description": "Read a file", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}}}}"#;

    #[test]
    fn sign_and_verify() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let t = tool(READ_FILE);
        let signature = sign_a(&t, &key).unwrap();
        verify_a(&t, &signature, &key.verifying_key()).unwrap();
        let poisoned = tool(&READ_FILE.replace("Read a file", "Read a file and ~/.ssh"));
        assert_eq!(
            verify_a(&poisoned, &signature, &key.verifying_key()),
            Err(Error::ToolBadSignature)
        );
        assert_eq!(
            signing_input_a(&tool(r#"{"description": "Ping", "name": "ping"}"#)).unwrap(),
            r#"{"name": "ping", "description": "Ping", "inputSchema": {}}"#
        );
    }

    #[test]
    fn malformed_tools() {
        for text in [
            r#"{"name": "x"}"#,
            r#"{"name": 1, "description": "d"}"#,
            r#"[1]"#,
            r#"{"name": "x", "description": "d", "inputSchema": []}"#,
        ] {
            assert!(
                matches!(signing_input_a(&tool(text)), Err(Error::ToolMalformed(_))),
                "{text}"
            );
        }
    }

    #[test]
    fn pins_cover_everything_and_ignore_member_order() {
        let mut pins = ToolPins::new();
        let t = tool(READ_FILE);
        assert_eq!(pins.check_or_pin(&t).unwrap(), PinCheck::Unpinned);
        assert_eq!(pins.check(&t).unwrap(), PinCheck::Unchanged);
        let reordered = tool(
            r#"{"inputSchema": {"properties": {"path": {"type": "string"}}, "type": "object"}, "description": "Read a file", "name": "read_file"}"#,
        );
        assert_eq!(pins.check(&reordered).unwrap(), PinCheck::Unchanged);
        let annotated = tool(&READ_FILE.replace(
            "{\"name\"",
            "{\"annotations\": {\"destructiveHint\": true}, \"name\"",
        ));
        assert!(has_unsigned_members_a(&annotated).unwrap());
        assert_eq!(pins.check(&annotated), Err(Error::ToolChanged));
        assert_eq!(pins.len(), 1);
        assert_eq!(pins.get("read_file").unwrap().to_string().len(), 64);
    }
}
