//! Profile B: the nested `mcps` header of `mcps-secure` 1.0.0, signed over a canonical hash
//! payload with ECDSA P-256 P1363 signatures, and verified with strict input rules.
//!
//! # Wire format
//!
//! ```text
//! {"mcps": {"version": "1.0", "passport_id": "asp_…", "timestamp": "…Z",
//!           "nonce": "<32 lowercase hex>", "signature": "<base64 P1363 r‖s>"},
//!  "jsonrpc": "2.0", "id": 1, "method": "…", …}
//! ```
//!
//! The JSON-RPC message's members sit at the top level next to `mcps`; the message is every
//! top-level member except `mcps`. The signature is ECDSA P-256 / SHA-256, 64-byte `r‖s`, low-S,
//! standard base64 with padding, over the UTF-8 bytes of ([`signing_input`])
//!
//! ```text
//! profile_b({"message_hash": hex(SHA-256(profile_b(message))), "nonce": …,
//!            "passport_id": …, "timestamp": …[, "channel_binding": …]})
//! ```
//!
//! where `profile_b` is [`canonical::profile_b`] and `channel_binding` (for example an RFC 9266
//! token) is present only when both sides pass one.
//!
//! # Where this verifier is stricter than the reference
//!
//! * `passport_id`, `timestamp` and `nonce` follow the same rules as profile A
//!   ([`check_passport_id`], [`Timestamp::parse`], [`Nonce::parse`]);
//! * the `mcps` header must be an object holding exactly `version` (`"1.0"`), `passport_id`,
//!   `timestamp`, `nonce` and `signature`, all strings (`malformed_envelope` otherwise), since
//!   none but the signed three and the signature are covered by the signature;
//! * the message must be a non-empty JSON object without NaN, infinities or lone surrogates;
//! * the signature must be canonical padded base64 of exactly 64 bytes, and high-S signatures
//!   are refused (`bad_signature_encoding`) — the reference silently normalises them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::canonical::{self, Object, Value};
use crate::envelope::Profile;
pub use crate::envelope::{SignedEnvelope, VerifiedEnvelope};
use crate::error::Error;
use crate::keys::{Algorithm, SignatureFormat, SignaturePolicy, SigningKey, VerifyingKey};
pub use crate::profile_a::{Nonce, VerifyOptions, check_passport_id};
use crate::time::Timestamp;

/// The `mcps.version` value profile B writes and this verifier accepts.
pub const VERSION: &str = "1.0";

/// Name of the top-level header member.
pub const HEADER: &str = "mcps";

const HEADER_FIELDS: [&str; 5] = ["version", "passport_id", "timestamp", "nonce", "signature"];

fn require_p256(algorithm: Algorithm) -> Result<(), Error> {
    match algorithm {
        Algorithm::EcdsaP256 => Ok(()),
        Algorithm::Ed25519 => Err(Error::WrongKeyType("profile b needs an ecdsa p-256 key")),
    }
}

/// Lower-case hex SHA-256 of the profile B canonical form of `message`.
///
/// # Errors
///
/// [`Error::NonFiniteNumber`], [`Error::LoneSurrogate`], [`Error::TooDeep`].
pub fn message_hash(message: &Value) -> Result<String, Error> {
    let text = canonical::profile_b(message)?;
    Ok(crate::hex::encode(&Sha256::digest(text.as_bytes())))
}

/// The exact bytes profile B signs (see the [module documentation](self)).
///
/// # Errors
///
/// As [`message_hash`].
pub fn signing_input(
    message: &Value,
    passport_id: &str,
    timestamp: &str,
    nonce: &str,
    channel_binding: Option<&str>,
) -> Result<Vec<u8>, Error> {
    let mut payload = Object::new();
    payload.insert("message_hash", Value::from(message_hash(message)?));
    payload.insert("nonce", Value::from(nonce));
    payload.insert("passport_id", Value::from(passport_id));
    payload.insert("timestamp", Value::from(timestamp));
    if let Some(binding) = channel_binding {
        payload.insert("channel_binding", Value::from(binding));
    }
    Ok(canonical::profile_b(&Value::Object(payload))?.into_bytes())
}

fn check_message(message: &Value) -> Result<&Object, Error> {
    let Value::Object(object) = message else {
        return Err(Error::MalformedEnvelope("message is not a json object"));
    };
    if object.is_empty() {
        return Err(Error::EmptyMessage);
    }
    if object.contains_key(HEADER) {
        return Err(Error::MalformedEnvelope(
            "message has its own `mcps` member",
        ));
    }
    message.check_strict()?;
    Ok(object)
}

/// Signs `message` (a JSON-RPC object) as profile B.
///
/// # Errors
///
/// [`Error::WrongKeyType`] for a non-P-256 key; [`Error::BadPassportId`];
/// [`Error::MalformedEnvelope`] / [`Error::EmptyMessage`] for a message that is not a non-empty
/// object or has its own `mcps` member; [`Error::NonFiniteNumber`] / [`Error::LoneSurrogate`];
/// [`Error::TooDeep`] for a message nested more than the 128 levels
/// [`ParseOptions::STRICT`](canonical::ParseOptions::STRICT) reads; [`Error::BadTimestamp`] for
/// a time outside years 0001 to 9999; [`Error::SigningFailed`].
pub fn sign(
    message: &Value,
    passport_id: &str,
    key: &SigningKey,
    timestamp: Timestamp,
    nonce: Nonce,
    channel_binding: Option<&str>,
) -> Result<SignedEnvelope, Error> {
    require_p256(key.algorithm())?;
    check_passport_id(passport_id)?;
    check_message(message)?;
    // The message's members sit in the envelope object itself.
    crate::envelope::check_depth(message, 0)?;
    let timestamp = timestamp.to_rfc3339_micros()?;
    let data = signing_input(
        message,
        passport_id,
        &timestamp,
        nonce.as_str(),
        channel_binding,
    )?;
    let signature = STANDARD.encode(key.sign(&data, SignatureFormat::P1363)?);
    Ok(SignedEnvelope {
        profile: Profile::B,
        passport_id: passport_id.to_owned(),
        timestamp,
        nonce,
        signature,
        message: message.clone(),
    })
}

/// Parses and verifies a profile B envelope from its wire bytes.
///
/// # Errors
///
/// The first failed check, in this order: JSON ([`Error::Json`]), envelope shape
/// ([`Error::MalformedEnvelope`], [`Error::EmptyMessage`]), [`Error::BadPassportId`],
/// [`Error::BadTimestamp`], the window ([`Error::Expired`], [`Error::FutureTimestamp`]),
/// [`Error::BadNonce`], [`Error::BadSignatureEncoding`], message content, and
/// [`Error::BadSignature`]. [`Error::WrongKeyType`] if `key` is not a P-256 key.
pub fn verify(
    wire: &[u8],
    key: &VerifyingKey,
    options: &VerifyOptions,
    channel_binding: Option<&str>,
) -> Result<VerifiedEnvelope, Error> {
    require_p256(key.algorithm())?;
    let envelope = canonical::parse_bytes(wire, &options.parse)?;
    verify_value(envelope, key, options, channel_binding)
}

fn header_str<'a>(header: &'a Object, name: &str) -> Option<&'a str> {
    header.get(name).and_then(Value::as_str)
}

/// Verifies an already-parsed profile B envelope; see [`verify`].
///
/// # Errors
///
/// As [`verify`], without the JSON errors.
pub fn verify_value(
    envelope: Value,
    key: &VerifyingKey,
    options: &VerifyOptions,
    channel_binding: Option<&str>,
) -> Result<VerifiedEnvelope, Error> {
    require_p256(key.algorithm())?;
    let Value::Object(mut object) = envelope else {
        return Err(Error::MalformedEnvelope("envelope is not a json object"));
    };
    let header = match object.remove(HEADER) {
        None => return Err(Error::MalformedEnvelope("missing `mcps`")),
        Some(Value::Object(header)) => header,
        Some(_) => return Err(Error::MalformedEnvelope("`mcps` is not an object")),
    };
    if header
        .keys()
        .any(|k| !HEADER_FIELDS.iter().any(|f| k.as_str() == Some(*f)))
    {
        return Err(Error::MalformedEnvelope("unknown member in `mcps`"));
    }
    match header.get("version") {
        None => return Err(Error::MalformedEnvelope("missing `mcps.version`")),
        Some(value) if value.as_str() == Some(VERSION) => {}
        Some(_) => return Err(Error::MalformedEnvelope("unsupported `mcps.version`")),
    }
    if object.is_empty() {
        return Err(Error::EmptyMessage);
    }

    let passport_id = match header.get("passport_id") {
        None => return Err(Error::BadPassportId("missing")),
        Some(_) => header_str(&header, "passport_id")
            .ok_or(Error::BadPassportId("not a string"))?
            .to_owned(),
    };
    check_passport_id(&passport_id)?;

    let timestamp_text = match header.get("timestamp") {
        None => return Err(Error::BadTimestamp("missing")),
        Some(_) => header_str(&header, "timestamp")
            .ok_or(Error::BadTimestamp("not a string"))?
            .to_owned(),
    };
    let timestamp = Timestamp::parse(&timestamp_text)?;
    crate::profile_a::check_window(timestamp, options)?;

    let nonce = match header.get("nonce") {
        None => return Err(Error::BadNonce("missing")),
        Some(_) => {
            Nonce::parse(header_str(&header, "nonce").ok_or(Error::BadNonce("not a string"))?)?
        }
    };

    let signature = match header.get("signature") {
        None => return Err(Error::BadSignatureEncoding("missing")),
        Some(_) => {
            header_str(&header, "signature").ok_or(Error::BadSignatureEncoding("not a string"))?
        }
    };
    let signature = STANDARD
        .decode(signature)
        .map_err(|_| Error::BadSignatureEncoding("not canonical padded base64"))?;
    if signature.len() != 64 {
        return Err(Error::BadSignatureEncoding(
            "p1363 signature must be 64 bytes",
        ));
    }

    let message = Value::Object(object);
    message.check(
        options.parse.allow_non_finite,
        options.parse.allow_lone_surrogates,
    )?;
    let data = signing_input(
        &message,
        &passport_id,
        &timestamp_text,
        nonce.as_str(),
        channel_binding,
    )?;
    key.verify(&data, &signature, &SignaturePolicy::P1363_LOW_S)?;

    Ok(VerifiedEnvelope {
        version: VERSION.to_owned(),
        passport_id,
        timestamp,
        nonce,
        message,
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::canonical::ParseOptions;
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

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::EcdsaP256).unwrap()
    }

    fn signed_at(key: &SigningKey, at: Timestamp) -> SignedEnvelope {
        sign(&message(), PID, key, at, Nonce::random().unwrap(), None).unwrap()
    }

    fn wire_of(value: &Value) -> Vec<u8> {
        canonical::profile_b(value).unwrap().into_bytes()
    }

    fn tampered(envelope: &SignedEnvelope, edit: impl FnOnce(&mut Object)) -> Vec<u8> {
        let mut value = envelope.to_value();
        let Value::Object(object) = &mut value else {
            unreachable!()
        };
        edit(object);
        wire_of(&value)
    }

    fn set_header(object: &mut Object, name: &str, text: &str) {
        let Some(Value::Object(header)) = object.get_mut(HEADER) else {
            unreachable!()
        };
        header.insert(name, Value::from(text));
    }

    fn code(result: Result<VerifiedEnvelope, Error>) -> RejectCode {
        result.unwrap_err().reject_code()
    }

    #[test]
    fn round_trip() {
        let key = key();
        let envelope = signed_at(&key, NOW);
        let wire = envelope.to_json().unwrap();
        assert!(wire.starts_with(r#"{"id":2,"jsonrpc":"2.0","mcps":{"nonce":""#));
        assert!(wire.contains(r#""timestamp":"2026-11-22T16:05:23.250000Z""#));
        assert!(wire.contains(r#""version":"1.0""#));
        let verified = verify(
            wire.as_bytes(),
            &key.verifying_key(),
            &VerifyOptions::at(NOW),
            None,
        )
        .unwrap();
        assert_eq!(
            message_hash(verified.message()).unwrap(),
            message_hash(&message()).unwrap()
        );
        assert_eq!(verified.passport_id(), PID);
        assert_eq!(verified.nonce(), envelope.nonce());
        assert_eq!(verified.timestamp(), NOW);
        assert_eq!(
            STANDARD.decode(envelope.signature()).unwrap().len(),
            64,
            "p1363 r||s"
        );
    }

    #[test]
    fn member_order_and_whitespace_do_not_matter() {
        let key = key();
        let envelope = signed_at(&key, NOW);
        let mut value = envelope.to_value();
        let Value::Object(object) = &mut value else {
            unreachable!()
        };
        let header = object.remove(HEADER).unwrap();
        object.insert(HEADER, header);
        let wire = canonical::python_dumps(&value).unwrap();
        verify(
            wire.as_bytes(),
            &key.verifying_key(),
            &VerifyOptions::at(NOW),
            None,
        )
        .unwrap();
    }

    #[test]
    fn signing_input_shape() {
        let data =
            signing_input(&message(), PID, "2026-11-22T16:05:23.250000Z", "00", None).unwrap();
        let text = String::from_utf8(data).unwrap();
        let hash = message_hash(&message()).unwrap();
        assert_eq!(
            text,
            format!(
                r#"{{"message_hash":"{hash}","nonce":"00","passport_id":"{PID}","timestamp":"2026-11-22T16:05:23.250000Z"}}"#
            )
        );
        let bound = signing_input(&message(), PID, "t", "n", Some("cb")).unwrap();
        assert!(
            String::from_utf8(bound)
                .unwrap()
                .starts_with(r#"{"channel_binding":"cb","#)
        );
    }

    #[test]
    fn tampering_is_rejected_with_the_right_code() {
        let key = key();
        let public = key.verifying_key();
        let options = VerifyOptions::at(NOW);
        let envelope = signed_at(&key, NOW);
        let check = |wire: Vec<u8>| code(verify(&wire, &public, &options, None));

        let wire = tampered(&envelope, |o| {
            o.insert("id", Value::from(3));
        });
        assert_eq!(check(wire), RejectCode::BadSignature);
        let wire = tampered(&envelope, |o| {
            o.insert("extra", Value::from(true));
        });
        assert_eq!(check(wire), RejectCode::BadSignature);
        let wire = tampered(&envelope, |o| {
            set_header(o, "nonce", "ffeeddccbbaa99887766554433221100");
        });
        assert_eq!(check(wire), RejectCode::BadSignature);
        let wire = tampered(&envelope, |o| {
            set_header(o, "nonce", "FFEEDDCCBBAA99887766554433221100");
        });
        assert_eq!(check(wire), RejectCode::BadNonce);
        let wire = tampered(&envelope, |o| {
            set_header(o, "timestamp", "2026-11-22T16:05:22.250000Z");
        });
        assert_eq!(check(wire), RejectCode::BadSignature);
        let wire = tampered(&envelope, |o| {
            set_header(o, "timestamp", "2026-11-22T16:05:23.250000+00:00");
        });
        assert_eq!(check(wire), RejectCode::BadTimestamp);
        let wire = tampered(&envelope, |o| {
            set_header(o, "passport_id", "asp_ffffffffffffffffffffffffffffffff");
        });
        assert_eq!(check(wire), RejectCode::BadSignature);
        let other = signed_at(&key, NOW);
        let wire = tampered(&envelope, |o| set_header(o, "signature", other.signature()));
        assert_eq!(check(wire), RejectCode::BadSignature);
        let wire = tampered(&envelope, |o| set_header(o, "signature", "AAAA"));
        assert_eq!(check(wire), RejectCode::BadSignatureEncoding);
        let wire = tampered(&envelope, |o| {
            let Some(Value::Object(header)) = o.get_mut(HEADER) else {
                unreachable!()
            };
            header.insert("nonce", Value::from(7));
        });
        assert_eq!(check(wire), RejectCode::BadNonce);
        let wire = tampered(&envelope, |o| set_header(o, "version", "2.0"));
        assert_eq!(check(wire), RejectCode::MalformedEnvelope);
        let wire = tampered(&envelope, |o| set_header(o, "trust", "4"));
        assert_eq!(check(wire), RejectCode::MalformedEnvelope);

        let wire = envelope.to_json().unwrap().into_bytes();
        let other_key = self::key().verifying_key();
        assert_eq!(
            code(verify(&wire, &other_key, &options, None)),
            RejectCode::BadSignature
        );
        let ed = SigningKey::generate(Algorithm::Ed25519)
            .unwrap()
            .verifying_key();
        assert_eq!(
            code(verify(&wire, &ed, &options, None)),
            RejectCode::WrongKeyType
        );
    }

    #[test]
    fn channel_binding_must_match() {
        let key = key();
        let public = key.verifying_key();
        let options = VerifyOptions::at(NOW);
        let envelope = sign(
            &message(),
            PID,
            &key,
            NOW,
            Nonce::random().unwrap(),
            Some("tls-exporter:ab"),
        )
        .unwrap();
        let wire = envelope.to_json().unwrap().into_bytes();
        verify(&wire, &public, &options, Some("tls-exporter:ab")).unwrap();
        assert_eq!(
            code(verify(&wire, &public, &options, None)),
            RejectCode::BadSignature
        );
        assert_eq!(
            code(verify(&wire, &public, &options, Some("tls-exporter:cd"))),
            RejectCode::BadSignature
        );
    }

    #[test]
    fn window_edges() {
        let key = key();
        let public = key.verifying_key();
        let options = VerifyOptions::at(NOW);
        let micro = Duration::from_micros(1);
        let window = Duration::from_secs(300);
        let at = |t: Timestamp| {
            let wire = signed_at(&key, t).to_json().unwrap().into_bytes();
            verify(&wire, &public, &options, None)
        };
        at(NOW.saturating_sub(window)).unwrap();
        at(NOW.saturating_add(window)).unwrap();
        assert_eq!(
            code(at(NOW.saturating_sub(window + micro))),
            RejectCode::Expired
        );
        assert_eq!(
            code(at(NOW.saturating_add(window + micro))),
            RejectCode::FutureTimestamp
        );
    }

    #[test]
    fn refuses_bad_inputs_when_signing() {
        let key = key();
        let nonce = || Nonce::random().unwrap();
        let empty = Value::Object(Object::new());
        assert_eq!(
            sign(&empty, PID, &key, NOW, nonce(), None)
                .unwrap_err()
                .reject_code(),
            RejectCode::EmptyMessage
        );
        let array = Value::from(vec![Value::from(1)]);
        assert_eq!(
            sign(&array, PID, &key, NOW, nonce(), None)
                .unwrap_err()
                .reject_code(),
            RejectCode::MalformedEnvelope
        );
        let mut with_header = Object::new();
        with_header.insert(HEADER, Value::from("x"));
        assert_eq!(
            sign(&Value::Object(with_header), PID, &key, NOW, nonce(), None)
                .unwrap_err()
                .reject_code(),
            RejectCode::MalformedEnvelope
        );
        assert_eq!(
            sign(&message(), "bad", &key, NOW, nonce(), None)
                .unwrap_err()
                .reject_code(),
            RejectCode::BadPassportId
        );
        let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
        assert_eq!(
            sign(&message(), PID, &ed, NOW, nonce(), None)
                .unwrap_err()
                .reject_code(),
            RejectCode::WrongKeyType
        );
    }

    #[test]
    fn missing_header_or_message() {
        let key = key();
        let public = key.verifying_key();
        let options = VerifyOptions::at(NOW);
        let envelope = signed_at(&key, NOW);
        let wire = tampered(&envelope, |o| {
            o.remove(HEADER);
        });
        assert_eq!(
            code(verify(&wire, &public, &options, None)),
            RejectCode::MalformedEnvelope
        );
        let mut only_header = Object::new();
        if let Value::Object(o) = envelope.to_value() {
            only_header.insert(HEADER, o.get(HEADER).unwrap().clone());
        }
        let wire = wire_of(&Value::Object(only_header));
        assert_eq!(
            code(verify(&wire, &public, &options, None)),
            RejectCode::EmptyMessage
        );
    }
}
