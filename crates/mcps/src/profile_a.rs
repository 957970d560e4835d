//! Profile A: the flat message envelope of `mcp-secure` 1.0.0, signed and verified the way that
//! package does on the wire, with strict input rules where the reference is unsafe.
//!
//! # Wire format
//!
//! ```text
//! {"mcps": "1.0.0", "passport_id": "asp_…", "timestamp": "2026-11-22T16:05:23.250000Z",
//!  "nonce": "<32 lowercase hex>", "signature": "<base64 DER ECDSA P-256>", "message": {…}}
//! ```
//!
//! The signature is ECDSA P-256 / SHA-256, DER, standard base64 with padding, over the UTF-8
//! bytes of
//!
//! ```text
//! python_dumps(message) + passport_id + timestamp + nonce
//! ```
//!
//! with no delimiters ([`signing_input`]). `mcps` is not signed.
//!
//! # Where this verifier is stricter than the reference
//!
//! The missing delimiters let an attacker move trailing timestamp characters into the nonce and
//! replay one signature under several "fresh" nonces; the reference also accepts many other
//! shapes it should not. [`verify`] refuses, each with its own [`RejectCode`](crate::RejectCode):
//!
//! * a `passport_id` that is not `asp_` followed by 1 to 64 characters from `[A-Za-z0-9_-]`
//!   (`bad_passport_id`) — the fixed prefix pins the message/passport id boundary;
//! * a `timestamp` that is not a UTC `…Z` timestamp ([`Timestamp::parse`], `bad_timestamp`) —
//!   offsets, offset-less local times and truncated forms are refused;
//! * a `nonce` that is not exactly 32 lowercase hex digits (`bad_nonce`) — together with the
//!   two rules above this fixes every boundary of the signed string;
//! * a `signature` that is not canonical padded standard base64 of a DER signature
//!   (`bad_signature_encoding`) — the reference silently drops junk characters;
//! * NaN, infinities and lone surrogates anywhere (`non_finite_number`, `lone_surrogate`), and,
//!   with the default [`ParseOptions::STRICT`], duplicate object keys (`duplicate_key`);
//! * fields of the wrong JSON type, which crash the reference.
//!
//! High-S signatures are accepted: genuine profile A signers produce them. The time window is
//! checked against an explicit `now` ([`VerifyOptions`]); replay protection is the caller's
//! [`ReplayCache`](crate::replay::ReplayCache), consulted only *after* a signature verified.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::canonical::{self, ParseOptions, Value};
use crate::envelope::Profile;
pub use crate::envelope::{SignedEnvelope, VerifiedEnvelope};
use crate::error::Error;
use crate::keys::{Algorithm, SignatureFormat, SignaturePolicy, SigningKey, VerifyingKey};
use crate::time::{Timestamp, duration_micros};

/// The `mcps` value profile A writes.
pub const VERSION: &str = "1.0.0";

/// The reference's accepted clock skew, in both directions.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(300);

/// Prefix of every profile A passport id.
pub const PASSPORT_ID_PREFIX: &str = "asp_";

/// Checks a passport id: `asp_` followed by 1 to 64 characters from `[A-Za-z0-9_-]`.
///
/// # Errors
///
/// [`Error::BadPassportId`].
pub fn check_passport_id(id: &str) -> Result<(), Error> {
    let Some(rest) = id.strip_prefix(PASSPORT_ID_PREFIX) else {
        return Err(Error::BadPassportId("does not start with `asp_`"));
    };
    if rest.is_empty() || rest.len() > 64 {
        return Err(Error::BadPassportId(
            "must have 1 to 64 characters after `asp_`",
        ));
    }
    if !rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err(Error::BadPassportId(
            "characters other than `[A-Za-z0-9_-]`",
        ));
    }
    Ok(())
}

/// A message nonce: exactly 32 lowercase hex digits (16 random bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Nonce(String);

impl Nonce {
    /// 16 bytes from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] if the random number generator fails.
    pub fn random() -> Result<Self, Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
        Ok(Self(crate::hex::encode(&bytes)))
    }

    /// Checks and wraps a nonce.
    ///
    /// # Errors
    ///
    /// [`Error::BadNonce`] unless `text` is 32 lowercase hex digits.
    pub fn parse(text: &str) -> Result<Self, Error> {
        if text.len() != 32 {
            return Err(Error::BadNonce("must be 32 characters"));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(Error::BadNonce("must be lowercase hex"));
        }
        Ok(Self(text.to_owned()))
    }

    /// The nonce text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The exact bytes profile A signs: `python_dumps(message) + passport_id + timestamp + nonce`,
/// UTF-8.
///
/// This reproduces the reference for any input; it does not apply the strict checks of
/// [`sign`] and [`verify`].
///
/// # Errors
///
/// [`Error::TooDeep`] for a message nested more than 512 levels.
pub fn signing_input(
    message: &Value,
    passport_id: &str,
    timestamp: &str,
    nonce: &str,
) -> Result<Vec<u8>, Error> {
    let mut text = canonical::python_dumps(message)?;
    text.reserve(passport_id.len() + timestamp.len() + nonce.len());
    text.push_str(passport_id);
    text.push_str(timestamp);
    text.push_str(nonce);
    Ok(text.into_bytes())
}

fn require_p256(algorithm: Algorithm) -> Result<(), Error> {
    match algorithm {
        Algorithm::EcdsaP256 => Ok(()),
        Algorithm::Ed25519 => Err(Error::WrongKeyType("profile a needs an ecdsa p-256 key")),
    }
}

/// Signs `message` as profile A.
///
/// The timestamp is written with six fraction digits (`…SS.ffffffZ`), which the reference
/// accepts; the signature is DER, low-S, deterministic (RFC 6979).
///
/// # Errors
///
/// [`Error::WrongKeyType`] for a non-P-256 key; [`Error::BadPassportId`];
/// [`Error::EmptyMessage`] for a message the reference would refuse (`{}`, `[]`, `""`, `0`,
/// `false`, `null`); [`Error::NonFiniteNumber`] / [`Error::LoneSurrogate`] for values strict
/// JSON cannot carry; [`Error::TooDeep`] for a message nested more than 127 levels (its
/// envelope would exceed the 128 levels [`ParseOptions::STRICT`] reads);
/// [`Error::BadTimestamp`] for a time outside years 0001 to 9999.
pub fn sign(
    message: &Value,
    passport_id: &str,
    key: &SigningKey,
    timestamp: Timestamp,
    nonce: Nonce,
) -> Result<SignedEnvelope, Error> {
    require_p256(key.algorithm())?;
    check_passport_id(passport_id)?;
    if !message.is_truthy() {
        return Err(Error::EmptyMessage);
    }
    message.check_strict()?;
    // The envelope object holds the message one level down.
    crate::envelope::check_depth(message, 1)?;
    let timestamp = timestamp.to_rfc3339_micros()?;
    let data = signing_input(message, passport_id, &timestamp, nonce.as_str())?;
    let signature = STANDARD.encode(key.sign(&data, SignatureFormat::Der)?);
    Ok(SignedEnvelope {
        profile: Profile::A,
        passport_id: passport_id.to_owned(),
        timestamp,
        nonce,
        signature,
        message: message.clone(),
    })
}

/// Verification settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The verifier's current time.
    pub now: Timestamp,
    /// How old a timestamp may be (inclusive).
    pub max_age: Duration,
    /// How far in the future a timestamp may be (inclusive).
    pub max_future: Duration,
    /// How the envelope text is parsed, and which non-standard values are tolerated in an
    /// already-parsed envelope.
    pub parse: ParseOptions,
}

impl VerifyOptions {
    /// Strict parsing and the reference's ±300 s window, at `now`.
    #[must_use]
    pub fn at(now: Timestamp) -> Self {
        Self {
            now,
            max_age: DEFAULT_WINDOW,
            max_future: DEFAULT_WINDOW,
            parse: ParseOptions::STRICT,
        }
    }
}

/// Parses and verifies a profile A envelope from its wire bytes.
///
/// # Errors
///
/// The first failed check, in this order: JSON ([`Error::Json`]), envelope shape
/// ([`Error::MalformedEnvelope`], [`Error::EmptyMessage`]), [`Error::BadPassportId`],
/// [`Error::BadTimestamp`], the window ([`Error::Expired`], [`Error::FutureTimestamp`]),
/// [`Error::BadNonce`], [`Error::BadSignatureEncoding`], message content
/// ([`Error::NonFiniteNumber`], [`Error::LoneSurrogate`]), [`Error::BadSignature`].
/// [`Error::WrongKeyType`] if `key` is not a P-256 key.
pub fn verify(
    wire: &[u8],
    key: &VerifyingKey,
    options: &VerifyOptions,
) -> Result<VerifiedEnvelope, Error> {
    require_p256(key.algorithm())?;
    let envelope = canonical::parse_bytes(wire, &options.parse)?;
    verify_value(envelope, key, options)
}

/// Verifies an already-parsed profile A envelope; see [`verify`].
///
/// # Errors
///
/// As [`verify`], without the JSON errors.
pub fn verify_value(
    envelope: Value,
    key: &VerifyingKey,
    options: &VerifyOptions,
) -> Result<VerifiedEnvelope, Error> {
    require_p256(key.algorithm())?;
    let Value::Object(mut object) = envelope else {
        return Err(Error::MalformedEnvelope("envelope is not a json object"));
    };
    let version = match object.get("mcps") {
        None => return Err(Error::MalformedEnvelope("missing `mcps`")),
        Some(Value::String(s)) => match s.as_str() {
            Some(text) if !text.is_empty() => text.to_owned(),
            _ => {
                return Err(Error::MalformedEnvelope(
                    "`mcps` is empty or not valid unicode",
                ));
            }
        },
        Some(_) => return Err(Error::MalformedEnvelope("`mcps` is not a string")),
    };
    if !object.get("message").is_some_and(Value::is_truthy) {
        return Err(Error::EmptyMessage);
    }

    let passport_id = match object.get("passport_id") {
        None => return Err(Error::BadPassportId("missing")),
        Some(value) => value
            .as_str()
            .ok_or(Error::BadPassportId("not a string"))?
            .to_owned(),
    };
    check_passport_id(&passport_id)?;

    let timestamp_text = match object.get("timestamp") {
        None => return Err(Error::BadTimestamp("missing")),
        Some(value) => value
            .as_str()
            .ok_or(Error::BadTimestamp("not a string"))?
            .to_owned(),
    };
    let timestamp = Timestamp::parse(&timestamp_text)?;
    check_window(timestamp, options)?;

    let nonce = match object.get("nonce") {
        None => return Err(Error::BadNonce("missing")),
        Some(value) => Nonce::parse(value.as_str().ok_or(Error::BadNonce("not a string"))?)?,
    };

    let signature = match object.get("signature") {
        None => return Err(Error::BadSignatureEncoding("missing")),
        Some(value) => value
            .as_str()
            .ok_or(Error::BadSignatureEncoding("not a string"))?,
    };
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| Error::BadSignatureEncoding("not canonical padded base64"))?;

    let message = object.remove("message").unwrap_or(Value::Null);
    message.check(
        options.parse.allow_non_finite,
        options.parse.allow_lone_surrogates,
    )?;
    let data = signing_input(&message, &passport_id, &timestamp_text, nonce.as_str())?;
    key.verify(&data, &signature, &SignaturePolicy::PROFILE_A)?;

    Ok(VerifiedEnvelope {
        version,
        passport_id,
        timestamp,
        nonce,
        message,
    })
}

pub(crate) fn check_window(timestamp: Timestamp, options: &VerifyOptions) -> Result<(), Error> {
    let age = options
        .now
        .unix_micros()
        .saturating_sub(timestamp.unix_micros());
    let max_age = duration_micros(options.max_age);
    let max_future = duration_micros(options.max_future);
    if age > max_age {
        return Err(Error::Expired {
            age_micros: age,
            window_micros: max_age,
        });
    }
    if age < 0 && age.saturating_neg() > max_future {
        return Err(Error::FutureTimestamp {
            ahead_micros: age.saturating_neg(),
            window_micros: max_future,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RejectCode;

    const NOW: Timestamp = Timestamp::from_unix_micros(1_795_363_523_250_000);
    const PID: &str = "asp_00112233445566778899aabbccddeeff";

    fn message() -> Value {
        canonical::parse(
            r#"{"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "read_file", "arguments": {"path": "/tmp/a.txt", "limit": 10.0}}}"#,
            &ParseOptions::STRICT,
        )
        .unwrap()
    }

    fn signed(key: &SigningKey) -> SignedEnvelope {
        sign(&message(), PID, key, NOW, Nonce::random().unwrap()).unwrap()
    }

    fn code(result: Result<VerifiedEnvelope, Error>) -> RejectCode {
        result.unwrap_err().reject_code()
    }

    #[test]
    fn round_trip() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let envelope = signed(&key);
        let wire = envelope.to_json().unwrap();
        assert!(wire.starts_with(r#"{"mcps": "1.0.0", "passport_id": "asp_"#));
        assert!(wire.contains(r#""timestamp": "2026-11-22T16:05:23.250000Z""#));
        let verified = verify(
            wire.as_bytes(),
            &key.verifying_key(),
            &VerifyOptions::at(NOW),
        )
        .unwrap();
        assert_eq!(verified.passport_id(), PID);
        assert_eq!(verified.timestamp(), NOW);
        assert_eq!(verified.message(), &message());
        assert_eq!(verified.version(), VERSION);
    }

    #[test]
    fn signing_refuses_what_verification_would() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let nonce = || Nonce::random().unwrap();
        let empty = Value::Object(crate::canonical::Object::new());
        assert_eq!(
            sign(&empty, PID, &key, NOW, nonce()),
            Err(Error::EmptyMessage)
        );
        assert!(matches!(
            sign(&message(), "pid", &key, NOW, nonce()),
            Err(Error::BadPassportId(_))
        ));
        let nan = Value::Array(vec![Value::from(f64::NAN)]);
        assert_eq!(
            sign(&nan, PID, &key, NOW, nonce()),
            Err(Error::NonFiniteNumber)
        );
        let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
        assert!(matches!(
            sign(&message(), PID, &ed, NOW, nonce()),
            Err(Error::WrongKeyType(_))
        ));
    }

    #[test]
    fn window_edges() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let wire = signed(&key).to_json().unwrap();
        let public = key.verifying_key();
        let at = |micros: i64| {
            VerifyOptions::at(Timestamp::from_unix_micros(NOW.unix_micros() + micros))
        };
        assert!(verify(wire.as_bytes(), &public, &at(300_000_000)).is_ok());
        assert_eq!(
            code(verify(wire.as_bytes(), &public, &at(300_000_001))),
            RejectCode::Expired
        );
        assert!(verify(wire.as_bytes(), &public, &at(-300_000_000)).is_ok());
        assert_eq!(
            code(verify(wire.as_bytes(), &public, &at(-300_000_001))),
            RejectCode::FutureTimestamp
        );
    }

    #[test]
    fn field_problems_have_their_own_codes() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let public = key.verifying_key();
        let good = signed(&key).to_value();
        let options = VerifyOptions::at(NOW);
        let with = |name: &str, value: Option<Value>| {
            let mut object = good.as_object().unwrap().clone();
            match value {
                Some(value) => {
                    object.insert(name, value);
                }
                None => {
                    object.remove(name);
                }
            }
            code(verify_value(Value::Object(object), &public, &options))
        };
        assert_eq!(with("mcps", None), RejectCode::MalformedEnvelope);
        assert_eq!(
            with("mcps", Some(Value::from(1))),
            RejectCode::MalformedEnvelope
        );
        assert_eq!(
            with("message", Some(Value::Array(vec![]))),
            RejectCode::EmptyMessage
        );
        assert_eq!(
            with("passport_id", Some(Value::from(5))),
            RejectCode::BadPassportId
        );
        assert_eq!(
            with("passport_id", Some(Value::from("asp_a/b"))),
            RejectCode::BadPassportId
        );
        assert_eq!(with("timestamp", None), RejectCode::BadTimestamp);
        assert_eq!(
            with(
                "nonce",
                Some(Value::from("ABCDEF00112233445566778899aabbcc"))
            ),
            RejectCode::BadNonce
        );
        assert_eq!(
            with("signature", Some(Value::from("@@@@"))),
            RejectCode::BadSignatureEncoding
        );
        assert_eq!(
            with(
                "nonce",
                Some(Value::from("00112233445566778899aabbccddeeff"))
            ),
            RejectCode::BadSignature
        );
        assert_eq!(
            code(verify_value(Value::from("x"), &public, &options)),
            RejectCode::MalformedEnvelope
        );
        assert_eq!(
            code(verify(b"{\"a\":1,\"a\":2}", &public, &options)),
            RejectCode::DuplicateKey
        );
    }

    #[test]
    fn other_keys_fail() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let other = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let wire = signed(&key).to_json().unwrap();
        let options = VerifyOptions::at(NOW);
        assert_eq!(
            code(verify(wire.as_bytes(), &other.verifying_key(), &options)),
            RejectCode::BadSignature
        );
        let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
        assert_eq!(
            code(verify(wire.as_bytes(), &ed.verifying_key(), &options)),
            RejectCode::WrongKeyType
        );
    }

    #[test]
    fn nonce_rules() {
        assert!(Nonce::parse("0e8ab839d39f6b6efb8970a88d4f9779").is_ok());
        assert!(Nonce::parse("Z19f2fdf4661d416537a430a8cc2126b6").is_err());
        assert!(Nonce::parse("0E8AB839D39F6B6EFB8970A88D4F9779").is_err());
        assert!(Nonce::parse("").is_err());
        let random = Nonce::random().unwrap();
        assert!(Nonce::parse(random.as_str()).is_ok());
    }
}
