//! The strict native profile, `mcps-native/1`: every envelope field signed, RFC 8785
//! canonicalisation, key ids bound to the key, and a per-session hash chain.
//!
//! # Wire format
//!
//! ```text
//! {"alg": "EdDSA" | "ES256",
//!  "kid": "<RFC 7638 JWK thumbprint of the signing key>",
//!  "message": {…JSON-RPC object…},
//!  "nonce": "<32 lowercase hex>",
//!  "prev": "<64 lowercase hex>" | "start:<chain id>",
//!  "sig": "<base64url, no padding>",
//!  "ts": "YYYY-MM-DDTHH:MM:SS.ffffffZ",
//!  "v": "mcps-native/1"}
//! ```
//!
//! # Signing input
//!
//! The signature covers the UTF-8 bytes of the RFC 8785 form ([`canonical::jcs`]) of the
//! envelope object without its `sig` member, that is of
//!
//! ```text
//! {"alg":…,"kid":…,"message":…,"nonce":…,"prev":…,"ts":…,"v":"mcps-native/1"}
//! ```
//!
//! ([`signing_input`]). Every member but `sig` is signed, including the version (no downgrade)
//! and the algorithm. `alg` is `EdDSA` (Ed25519, 64 bytes) or `ES256` (ECDSA P-256 / SHA-256,
//! 64-byte P1363 `r‖s`, low-S only). The signature is base64url without padding, decoded
//! strictly.
//!
//! # Transcript chain
//!
//! The *link hash* of an envelope is lower-case hex SHA-256 of its signing input. The first
//! envelope of a session carries `prev = "start:<chain id>"`, where the chain id (1 to 128
//! characters from `[A-Za-z0-9_-]`) is chosen by the client, for example a random value or a
//! session id; every later envelope carries the link hash of the one before it. Because each
//! signing input includes `prev`, the link hash is a running SHA-256 over the ordered canonical
//! messages of the session. [`ChainSigner`] produces the links; [`ChainVerifier`] checks them
//! and detects a dropped, reordered, replayed or spliced (foreign-chain) message
//! ([`Error::TranscriptMismatch`]).
//!
//! # Verification rules
//!
//! The envelope must be an object with exactly the eight members above, all of the right JSON
//! type (`malformed_envelope`); `v` must be `mcps-native/1`; `alg` must match the key
//! (`wrong_key_type`) and `kid` its thumbprint (`bad_key`); `nonce` and `ts` follow the same
//! rules as profile A (`bad_nonce`, `bad_timestamp`, `expired`, `future_timestamp`); the message
//! must be a non-empty object (`empty_message`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest as _, Sha256};

use crate::canonical::{self, Object, ParseOptions, Value};
use crate::error::Error;
use crate::keys::{Algorithm, SignatureFormat, SignaturePolicy, SigningKey, VerifyingKey};
pub use crate::profile_a::{Nonce, VerifyOptions};
use crate::time::Timestamp;

/// The version string every native envelope carries and signs.
pub const VERSION: &str = "mcps-native/1";

/// Prefix of a chain-start link.
pub const START_PREFIX: &str = "start:";

const MEMBERS: [&str; 8] = ["alg", "kid", "message", "nonce", "prev", "sig", "ts", "v"];

/// The `alg` value for a key algorithm.
#[must_use]
pub fn alg_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::Ed25519 => "EdDSA",
        Algorithm::EcdsaP256 => "ES256",
    }
}

/// The `kid` of a key: its RFC 7638 JWK thumbprint ([`VerifyingKey::thumbprint`], which
/// [`sign`] and [`verify`] use directly: it is computed once per key).
#[must_use]
pub fn key_id(key: &VerifyingKey) -> String {
    key.thumbprint().to_owned()
}

fn is_lower_hex(text: &str, len: usize) -> bool {
    text.len() == len
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The `prev` member: where an envelope sits in its session's chain.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Link {
    /// The first envelope of a chain with this client-chosen id.
    Start(String),
    /// The link hash (64 lowercase hex) of the previous envelope.
    Prev(String),
}

impl Link {
    /// A chain start; the id must be 1 to 128 characters from `[A-Za-z0-9_-]`.
    ///
    /// # Errors
    ///
    /// [`Error::MalformedEnvelope`] for an invalid chain id.
    pub fn start(chain_id: &str) -> Result<Self, Error> {
        if chain_id.is_empty()
            || chain_id.len() > 128
            || !chain_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(Error::MalformedEnvelope("invalid chain id"));
        }
        Ok(Self::Start(chain_id.to_owned()))
    }

    /// A fresh chain start with a random 32-hex-digit id.
    ///
    /// # Errors
    ///
    /// [`Error::Random`].
    pub fn random_start() -> Result<Self, Error> {
        Ok(Self::Start(Nonce::random()?.as_str().to_owned()))
    }

    /// Parses the wire form (`start:<id>` or 64 lowercase hex).
    ///
    /// # Errors
    ///
    /// [`Error::MalformedEnvelope`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        if let Some(id) = text.strip_prefix(START_PREFIX) {
            return Self::start(id);
        }
        if is_lower_hex(text, 64) {
            return Ok(Self::Prev(text.to_owned()));
        }
        Err(Error::MalformedEnvelope("invalid `prev`"))
    }

    /// The wire form.
    #[must_use]
    pub fn to_wire(&self) -> String {
        match self {
            Self::Start(id) => format!("{START_PREFIX}{id}"),
            Self::Prev(hash) => hash.clone(),
        }
    }
}

/// The string members of an envelope, everything but `message` and `sig`.
struct Header<'a> {
    alg: &'a str,
    kid: &'a str,
    nonce: &'a str,
    prev: &'a str,
    ts: &'a str,
}

impl Header<'_> {
    /// The RFC 8785 form of the envelope object holding these members, the message (given as
    /// its own RFC 8785 form) and, once signed, `sig`: what [`canonical::jcs`] writes for that
    /// object, without building it. RFC 8785 orders members by their names' UTF-16 code units;
    /// the names are fixed ASCII words, so their order is fixed too.
    fn jcs(&self, message: &str, sig: Option<&str>) -> Result<String, Error> {
        let string = |text: &str| canonical::jcs(&Value::from(text));
        let mut out = String::with_capacity(message.len() + 320);
        out.push('{');
        let mut member = |name: &str, json: &str| {
            if out.len() > 1 {
                out.push(',');
            }
            out.push('"');
            out.push_str(name);
            out.push_str("\":");
            out.push_str(json);
        };
        member("alg", &string(self.alg)?);
        member("kid", &string(self.kid)?);
        member("message", message);
        member("nonce", &string(self.nonce)?);
        member("prev", &string(self.prev)?);
        if let Some(sig) = sig {
            member("sig", &string(sig)?);
        }
        member("ts", &string(self.ts)?);
        member("v", &string(VERSION)?);
        out.push('}');
        Ok(out)
    }
}

#[cfg(test)]
fn header_object(message: &Value, header: &Header<'_>) -> Object {
    let mut object = Object::new();
    object.insert("alg", Value::from(header.alg));
    object.insert("kid", Value::from(header.kid));
    object.insert("message", message.clone());
    object.insert("nonce", Value::from(header.nonce));
    object.insert("prev", Value::from(header.prev));
    object.insert("ts", Value::from(header.ts));
    object.insert("v", Value::from(VERSION));
    object
}

/// The exact bytes a native envelope signs (see the [module documentation](self)).
///
/// # Errors
///
/// Canonicalisation errors ([`Error::NonFiniteNumber`], [`Error::LoneSurrogate`],
/// [`Error::UnrepresentableNumber`], [`Error::TooDeep`]).
pub fn signing_input(
    message: &Value,
    alg: &str,
    kid: &str,
    nonce: &str,
    prev: &str,
    ts: &str,
) -> Result<Vec<u8>, Error> {
    let header = Header {
        alg,
        kid,
        nonce,
        prev,
        ts,
    };
    Ok(header.jcs(&canonical::jcs(message)?, None)?.into_bytes())
}

fn link_hash_of(data: &[u8]) -> String {
    crate::hex::encode(&Sha256::digest(data))
}

fn check_message(message: &Value) -> Result<(), Error> {
    let Value::Object(object) = message else {
        return Err(Error::MalformedEnvelope("message is not a json object"));
    };
    if object.is_empty() {
        return Err(Error::EmptyMessage);
    }
    message.check_strict()
}

/// A signed native envelope.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedEnvelope {
    /// The wire text, written when the envelope was signed. The envelope object is not kept:
    /// building it would copy the whole message on every signature, and few callers want it.
    wire: String,
    link_hash: String,
}

impl SignedEnvelope {
    /// The envelope as a JSON object.
    #[must_use]
    pub fn to_value(&self) -> Value {
        // The wire text is this crate's own RFC 8785 output of a strict value, which the strict
        // parser always reads back; `Null` is unreachable.
        canonical::parse(&self.wire, &ParseOptions::STRICT).unwrap_or(Value::Null)
    }

    /// The envelope as wire text (RFC 8785 form), written when it was signed.
    ///
    /// # Errors
    ///
    /// None: the `Result` is kept for compatibility with the other profiles' envelopes.
    pub fn to_json(&self) -> Result<String, Error> {
        Ok(self.wire.clone())
    }

    /// The link hash the next envelope of the chain must carry as `prev`.
    #[must_use]
    pub fn link_hash(&self) -> &str {
        &self.link_hash
    }
}

/// Signs `message` (a non-empty JSON object) as a native envelope.
///
/// # Errors
///
/// [`Error::MalformedEnvelope`] / [`Error::EmptyMessage`] for a message that is not a
/// non-empty object; [`Error::TooDeep`] for a message nested more than 127 levels (its envelope
/// would exceed the 128 levels [`ParseOptions::STRICT`](canonical::ParseOptions::STRICT)
/// reads); canonicalisation errors; [`Error::BadTimestamp`] for a time outside years 0001 to
/// 9999; [`Error::SigningFailed`].
pub fn sign(
    message: &Value,
    key: &SigningKey,
    timestamp: Timestamp,
    nonce: &Nonce,
    link: &Link,
) -> Result<SignedEnvelope, Error> {
    // Not `check_message`: the canonicalisation below refuses what is not strict JSON, so the
    // strictness walk would only repeat it.
    match message {
        Value::Object(object) if object.is_empty() => return Err(Error::EmptyMessage),
        Value::Object(_) => {}
        _ => return Err(Error::MalformedEnvelope("message is not a json object")),
    }
    // The envelope object holds the message one level down.
    crate::envelope::check_depth(message, 1)?;
    let ts = timestamp.to_rfc3339_micros()?;
    let prev = link.to_wire();
    let header = Header {
        alg: alg_name(key.algorithm()),
        kid: key.thumbprint(),
        nonce: nonce.as_str(),
        prev: &prev,
        ts: &ts,
    };
    // The message is canonicalised once, for the signing input and the wire text both.
    let message_text = canonical::jcs(message)?;
    let data = header.jcs(&message_text, None)?.into_bytes();
    let sig = URL_SAFE_NO_PAD.encode(key.sign(&data, SignatureFormat::P1363)?);
    let wire = header.jcs(&message_text, Some(&sig))?;
    Ok(SignedEnvelope {
        wire,
        link_hash: link_hash_of(&data),
    })
}

/// A native envelope whose signature, key id and timestamp verified.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEnvelope {
    timestamp: Timestamp,
    nonce: Nonce,
    link: Link,
    kid: String,
    link_hash: String,
    message: Value,
}

impl VerifiedEnvelope {
    /// The signed timestamp.
    #[must_use]
    pub fn timestamp(&self) -> Timestamp {
        self.timestamp
    }

    /// The signed nonce.
    #[must_use]
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }

    /// The signed chain link (`prev`).
    #[must_use]
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// The signed key id.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// This envelope's link hash.
    #[must_use]
    pub fn link_hash(&self) -> &str {
        &self.link_hash
    }

    /// The signed message.
    #[must_use]
    pub fn message(&self) -> &Value {
        &self.message
    }
}

/// Parses and verifies a native envelope from its wire bytes.
///
/// # Errors
///
/// See the [module documentation](self); JSON errors from parsing.
pub fn verify(
    wire: &[u8],
    key: &VerifyingKey,
    options: &VerifyOptions,
) -> Result<VerifiedEnvelope, Error> {
    let envelope = canonical::parse_bytes(wire, &options.parse)?;
    verify_value(envelope, key, options)
}

fn string_member(object: &Object, name: &str) -> Result<String, Error> {
    object
        .get(name)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(Error::MalformedEnvelope(
            "envelope member missing or not a string",
        ))
}

/// Verifies an already-parsed native envelope; see [`verify`].
///
/// # Errors
///
/// As [`verify`], without the JSON errors.
pub fn verify_value(
    envelope: Value,
    key: &VerifyingKey,
    options: &VerifyOptions,
) -> Result<VerifiedEnvelope, Error> {
    let Value::Object(mut object) = envelope else {
        return Err(Error::MalformedEnvelope("envelope is not a json object"));
    };
    if object.len() != MEMBERS.len() || !MEMBERS.iter().all(|name| object.contains_key(name)) {
        return Err(Error::MalformedEnvelope(
            "envelope members are not exactly the native set",
        ));
    }
    if string_member(&object, "v")? != VERSION {
        return Err(Error::MalformedEnvelope("unsupported version"));
    }
    if string_member(&object, "alg")? != alg_name(key.algorithm()) {
        return Err(Error::WrongKeyType(
            "`alg` does not match the verifying key",
        ));
    }
    let kid = string_member(&object, "kid")?;
    if kid != key.thumbprint() {
        return Err(Error::BadKey("`kid` does not match the verifying key"));
    }
    let prev = string_member(&object, "prev")?;
    let link = Link::parse(&prev)?;
    let ts = object
        .get("ts")
        .and_then(Value::as_str)
        .ok_or(Error::BadTimestamp("not a string"))?
        .to_owned();
    let timestamp = Timestamp::parse(&ts)?;
    crate::profile_a::check_window(timestamp, options)?;
    let nonce = Nonce::parse(
        object
            .get("nonce")
            .and_then(Value::as_str)
            .ok_or(Error::BadNonce("not a string"))?,
    )?;
    let sig = object
        .remove("sig")
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or(Error::BadSignatureEncoding("not a string"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(sig.as_bytes())
        .map_err(|_| Error::BadSignatureEncoding("not canonical unpadded base64url"))?;
    if signature.len() != 64 {
        return Err(Error::BadSignatureEncoding("signature must be 64 bytes"));
    }
    let message = object.get("message").cloned().unwrap_or(Value::Null);
    check_message(&message)?;
    let data = canonical::jcs(&Value::Object(object))?.into_bytes();
    key.verify(&data, &signature, &SignaturePolicy::P1363_LOW_S)?;
    Ok(VerifiedEnvelope {
        timestamp,
        nonce,
        link,
        kid,
        link_hash: link_hash_of(&data),
        message,
    })
}

/// The sending side of a chain: remembers the link the next envelope must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainSigner {
    next: Link,
}

impl ChainSigner {
    /// A chain starting at `start` (usually [`Link::start`] or [`Link::random_start`]).
    #[must_use]
    pub fn new(start: Link) -> Self {
        Self { next: start }
    }

    /// The link the next envelope will carry.
    #[must_use]
    pub fn next_link(&self) -> &Link {
        &self.next
    }

    /// Signs the next message of the chain and advances it.
    ///
    /// # Errors
    ///
    /// As [`sign`]; the chain does not advance on error.
    pub fn sign(
        &mut self,
        message: &Value,
        key: &SigningKey,
        timestamp: Timestamp,
        nonce: &Nonce,
    ) -> Result<SignedEnvelope, Error> {
        let envelope = sign(message, key, timestamp, nonce, &self.next)?;
        self.next = Link::Prev(envelope.link_hash().to_owned());
        Ok(envelope)
    }
}

/// The receiving side of a chain: accepts verified envelopes only in chain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainVerifier {
    expected: Link,
}

impl ChainVerifier {
    /// A verifier expecting the chain that starts at `start`.
    #[must_use]
    pub fn new(start: Link) -> Self {
        Self { expected: start }
    }

    /// The link the next envelope must carry.
    #[must_use]
    pub fn expected(&self) -> &Link {
        &self.expected
    }

    /// Accepts `envelope` if it is the next one in the chain, and advances.
    ///
    /// # Errors
    ///
    /// [`Error::TranscriptMismatch`] if its `prev` is not the expected link (a message was
    /// dropped, reordered, replayed or taken from another chain); the chain does not advance.
    pub fn accept(&mut self, envelope: &VerifiedEnvelope) -> Result<(), Error> {
        if envelope.link() != &self.expected {
            return Err(Error::TranscriptMismatch);
        }
        self.expected = Link::Prev(envelope.link_hash().to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ParseOptions;
    use crate::error::RejectCode;

    const NOW: Timestamp = Timestamp::from_unix_micros(1_795_363_523_250_000);
    const ALGS: [Algorithm; 2] = [Algorithm::Ed25519, Algorithm::EcdsaP256];

    fn message(id: i64) -> Value {
        canonical::parse(
            &format!(r#"{{"jsonrpc": "2.0", "id": {id}, "method": "tools/call", "params": {{"name": "echo"}}}}"#),
            &ParseOptions::STRICT,
        )
        .unwrap()
    }

    fn nonce() -> Nonce {
        Nonce::random().unwrap()
    }

    fn check(wire: &[u8], key: &VerifyingKey) -> Result<VerifiedEnvelope, Error> {
        verify(wire, key, &VerifyOptions::at(NOW))
    }

    #[test]
    fn round_trip_both_algorithms() {
        for alg in ALGS {
            let key = SigningKey::generate(alg).unwrap();
            let start = Link::start("session-1").unwrap();
            let envelope = sign(&message(1), &key, NOW, &nonce(), &start).unwrap();
            let wire = envelope.to_json().unwrap();
            assert!(wire.contains(r#""v":"mcps-native/1""#));
            assert!(wire.contains(r#""prev":"start:session-1""#));
            let verified = check(wire.as_bytes(), &key.verifying_key()).unwrap();
            assert_eq!(
                canonical::jcs(verified.message()).unwrap(),
                canonical::jcs(&message(1)).unwrap()
            );
            assert_eq!(verified.link(), &start);
            assert_eq!(verified.link_hash(), envelope.link_hash());
            assert_eq!(verified.kid(), key_id(&key.verifying_key()));
            assert_eq!(verified.timestamp(), NOW);
        }
    }

    /// `sign` and `signing_input` write the envelope's text directly: it must be exactly what
    /// RFC 8785 gives for the envelope object, whatever its strings and message hold.
    #[test]
    fn envelope_texts_are_the_rfc8785_form_of_the_envelope_object() {
        let odd = canonical::parse(
            r#"{"\u00e9": "\u0000\"\\/ \ud83d\ude00", "a": [1.5, 1e21, -0.0, {"\ue000": null, "z": true}], "b": 9007199254740993, "\ud83d\ude00": {}}"#,
            &ParseOptions::STRICT,
        )
        .unwrap();
        for alg in ALGS {
            let key = SigningKey::generate(alg).unwrap();
            for message in [message(1), odd.clone()] {
                let link = Link::start("c").unwrap();
                let envelope = sign(&message, &key, NOW, &nonce(), &link).unwrap();
                let value = envelope.to_value();
                assert_eq!(envelope.to_json().unwrap(), canonical::jcs(&value).unwrap());
                let Value::Object(mut unsigned) = value else {
                    unreachable!()
                };
                unsigned.remove("sig");
                let data = canonical::jcs(&Value::Object(unsigned)).unwrap();
                assert_eq!(envelope.link_hash(), link_hash_of(data.as_bytes()));
            }
        }
        for text in ["", "\"\\", "\u{e9}\u{1}\u{7f}\u{2028}", "\u{1f600}\u{e000}"] {
            let header = Header {
                alg: text,
                kid: text,
                nonce: text,
                prev: text,
                ts: text,
            };
            let mut object = header_object(&odd, &header);
            assert_eq!(
                signing_input(&odd, text, text, text, text, text).unwrap(),
                canonical::jcs(&Value::Object(object.clone()))
                    .unwrap()
                    .into_bytes()
            );
            object.insert("sig", Value::from(text));
            assert_eq!(
                header
                    .jcs(&canonical::jcs(&odd).unwrap(), Some(text))
                    .unwrap(),
                canonical::jcs(&Value::Object(object)).unwrap()
            );
        }
    }

    #[test]
    fn signing_input_is_jcs_of_the_envelope_without_sig() {
        let data = signing_input(&message(1), "EdDSA", "k", "n", "start:x", "t").unwrap();
        assert_eq!(
            String::from_utf8(data).unwrap(),
            r#"{"alg":"EdDSA","kid":"k","message":{"id":1,"jsonrpc":"2.0","method":"tools/call","params":{"name":"echo"}},"nonce":"n","prev":"start:x","ts":"t","v":"mcps-native/1"}"#
        );
    }

    #[test]
    fn changing_any_field_breaks_the_signature() {
        let hash = "ab".repeat(32);
        let other_ts = "2026-11-22T16:05:22.250000Z";
        for alg in ALGS {
            let key = SigningKey::generate(alg).unwrap();
            let public = key.verifying_key();
            let envelope =
                sign(&message(1), &key, NOW, &nonce(), &Link::start("c").unwrap()).unwrap();
            let edits: [(&str, Value, RejectCode); 8] = [
                ("message", message(2), RejectCode::BadSignature),
                (
                    "nonce",
                    Value::from("00112233445566778899aabbccddeeff"),
                    RejectCode::BadSignature,
                ),
                ("ts", Value::from(other_ts), RejectCode::BadSignature),
                ("prev", Value::from(hash.as_str()), RejectCode::BadSignature),
                ("prev", Value::from("start:d"), RejectCode::BadSignature),
                (
                    "v",
                    Value::from("mcps-native/2"),
                    RejectCode::MalformedEnvelope,
                ),
                ("kid", Value::from("x"), RejectCode::BadKey),
                ("alg", Value::from("ES384"), RejectCode::WrongKeyType),
            ];
            for (name, value, expected) in edits {
                let Value::Object(mut object) = envelope.to_value() else {
                    unreachable!()
                };
                object.insert(name, value);
                let wire = canonical::jcs(&Value::Object(object)).unwrap();
                assert_eq!(
                    check(wire.as_bytes(), &public).unwrap_err().reject_code(),
                    expected,
                    "{name}"
                );
            }
            let Value::Object(mut object) = envelope.to_value() else {
                unreachable!()
            };
            let sig = object
                .get("sig")
                .and_then(Value::as_str)
                .unwrap()
                .to_owned();
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            object.insert("sig", Value::from(format!("{flipped}{}", &sig[1..])));
            let wire = canonical::jcs(&Value::Object(object.clone())).unwrap();
            assert_eq!(
                check(wire.as_bytes(), &public).unwrap_err().reject_code(),
                RejectCode::BadSignature
            );
            object.insert("extra", Value::from(1));
            let wire = canonical::jcs(&Value::Object(object)).unwrap();
            assert_eq!(
                check(wire.as_bytes(), &public).unwrap_err().reject_code(),
                RejectCode::MalformedEnvelope
            );
            let other = SigningKey::generate(alg).unwrap().verifying_key();
            let wire = envelope.to_json().unwrap();
            assert_eq!(
                check(wire.as_bytes(), &other).unwrap_err().reject_code(),
                RejectCode::BadKey
            );
        }
    }

    struct Session {
        key: SigningKey,
        wires: Vec<String>,
    }

    fn session(chain_id: &str, count: i64) -> Session {
        let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let mut signer = ChainSigner::new(Link::start(chain_id).unwrap());
        let wires = (0..count)
            .map(|i| {
                signer
                    .sign(&message(i), &key, NOW, &nonce())
                    .unwrap()
                    .to_json()
                    .unwrap()
            })
            .collect();
        Session { key, wires }
    }

    fn run(chain_id: &str, key: &SigningKey, wires: &[&String]) -> Result<(), Error> {
        let mut verifier = ChainVerifier::new(Link::start(chain_id).unwrap());
        for wire in wires {
            let verified = check(wire.as_bytes(), &key.verifying_key())?;
            verifier.accept(&verified)?;
        }
        Ok(())
    }

    #[test]
    fn chain_in_order_is_accepted() {
        let s = session("c1", 4);
        run("c1", &s.key, &s.wires.iter().collect::<Vec<_>>()).unwrap();
    }

    #[test]
    fn chain_detects_a_dropped_message() {
        let s = session("c1", 4);
        let w = &s.wires;
        let err = run("c1", &s.key, &[&w[0], &w[2], &w[3]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
        let err = run("c1", &s.key, &[&w[1], &w[2]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
    }

    #[test]
    fn chain_detects_reordering() {
        let s = session("c1", 3);
        let w = &s.wires;
        let err = run("c1", &s.key, &[&w[0], &w[2], &w[1]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
    }

    #[test]
    fn chain_detects_a_replay() {
        let s = session("c1", 3);
        let w = &s.wires;
        let err = run("c1", &s.key, &[&w[0], &w[1], &w[1]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
        let err = run("c1", &s.key, &[&w[0], &w[0]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
    }

    #[test]
    fn chain_detects_a_splice_from_another_chain() {
        let a = session("c1", 3);
        let key = a.key.clone();
        // A second chain under the same key but another chain id.
        let mut signer = ChainSigner::new(Link::start("c2").unwrap());
        let b: Vec<String> = (0..3)
            .map(|i| {
                signer
                    .sign(&message(i), &key, NOW, &nonce())
                    .unwrap()
                    .to_json()
                    .unwrap()
            })
            .collect();
        let err = run("c1", &key, &[&a.wires[0], &b[1]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
        let err = run("c1", &key, &[&b[0]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
        // A restart of the same chain id mid-session is also refused.
        let restart = session("c1", 1);
        let err = run("c1", &restart.key, &[&restart.wires[0], &restart.wires[0]]).unwrap_err();
        assert_eq!(err.reject_code(), RejectCode::TranscriptMismatch);
    }

    #[test]
    fn link_parsing() {
        assert!(Link::parse("start:").is_err());
        assert!(Link::parse("start:a b").is_err());
        assert!(Link::parse(&"AB".repeat(32)).is_err());
        assert_eq!(
            Link::parse(&"ab".repeat(32)).unwrap(),
            Link::Prev("ab".repeat(32))
        );
        let start = Link::random_start().unwrap();
        assert_eq!(Link::parse(&start.to_wire()).unwrap(), start);
    }
}
