//! The envelope types profiles A and B share: what a signed envelope carries before it is
//! written, and what a verified one proves.
//!
//! The two profiles sign different bytes and write different wire shapes, but carry the same
//! fields; only [`SignedEnvelope::to_value`] and [`SignedEnvelope::to_json`] depend on the
//! profile.

use crate::canonical::{self, Object, ParseOptions, Value};
use crate::error::Error;
use crate::profile_a::Nonce;
use crate::time::Timestamp;

/// The wire profile an envelope was signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Profile {
    /// `mcp-secure` 1.0.0: flat envelope, DER signature, message under `message`.
    A,
    /// `mcps-secure`: `mcps` header member beside the message's own members, P1363 signature.
    B,
}

/// Refuses a message whose envelope would nest too deeply to be read back.
///
/// A verifier parsing with [`ParseOptions::STRICT`] (the default of
/// [`VerifyOptions::at`](crate::profile_a::VerifyOptions::at)) refuses wire text nested more than
/// its `max_depth` (128) levels, and the envelope puts `levels` around the message, so a signer
/// must not produce an envelope that no such verifier can read.
///
/// # Errors
///
/// [`Error::TooDeep`].
pub(crate) fn check_depth(message: &Value, levels: usize) -> Result<(), Error> {
    if message.nests_deeper_than(ParseOptions::STRICT.max_depth.saturating_sub(levels)) {
        return Err(Error::TooDeep);
    }
    Ok(())
}

/// A signed envelope, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct SignedEnvelope {
    pub(crate) profile: Profile,
    pub(crate) passport_id: String,
    pub(crate) timestamp: String,
    pub(crate) nonce: Nonce,
    pub(crate) signature: String,
    pub(crate) message: Value,
}

impl SignedEnvelope {
    /// The passport id.
    #[must_use]
    pub fn passport_id(&self) -> &str {
        &self.passport_id
    }

    /// The timestamp text that was signed.
    #[must_use]
    pub fn timestamp(&self) -> &str {
        &self.timestamp
    }

    /// The nonce.
    #[must_use]
    pub fn nonce(&self) -> &Nonce {
        &self.nonce
    }

    /// The base64 signature: DER in profile A, P1363 in profile B.
    #[must_use]
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// The signed message.
    #[must_use]
    pub fn message(&self) -> &Value {
        &self.message
    }

    /// The envelope as a JSON object. Profile A: members in the reference's order (`mcps`,
    /// `passport_id`, `timestamp`, `nonce`, `signature`, `message`). Profile B: the `mcps`
    /// header first, then the message's members in order.
    #[must_use]
    pub fn to_value(&self) -> Value {
        match self.profile {
            Profile::A => {
                let mut object = Object::new();
                object.insert("mcps", Value::from(crate::profile_a::VERSION));
                self.insert_fields(&mut object);
                object.insert("message", self.message.clone());
                Value::Object(object)
            }
            Profile::B => {
                let mut header = Object::new();
                header.insert("version", Value::from(crate::profile_b::VERSION));
                self.insert_fields(&mut header);
                let mut object = Object::new();
                object.insert(crate::profile_b::HEADER, Value::Object(header));
                if let Value::Object(message) = &self.message {
                    for (key, value) in message.iter() {
                        object.insert(key.clone(), value.clone());
                    }
                }
                Value::Object(object)
            }
        }
    }

    fn insert_fields(&self, object: &mut Object) {
        object.insert("passport_id", Value::from(self.passport_id.as_str()));
        object.insert("timestamp", Value::from(self.timestamp.as_str()));
        object.insert("nonce", Value::from(self.nonce.as_str()));
        object.insert("signature", Value::from(self.signature.as_str()));
    }

    /// The envelope as wire text: profile A as CPython's `json.dumps` would write it (so the
    /// message part is byte-identical to what was signed), profile B in its compact canonical
    /// form.
    ///
    /// # Errors
    ///
    /// [`Error::TooDeep`] for a message nested too deeply.
    pub fn to_json(&self) -> Result<String, Error> {
        match self.profile {
            Profile::A => canonical::python_dumps(&self.to_value()),
            Profile::B => canonical::profile_b(&self.to_value()),
        }
    }
}

/// An envelope whose signature verified and whose timestamp is inside the window.
///
/// Freshness of the nonce is *not* established yet: pass it to
/// [`ReplayCache::admit`](crate::replay::ReplayCache::admit).
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedEnvelope {
    pub(crate) version: String,
    pub(crate) passport_id: String,
    pub(crate) timestamp: Timestamp,
    pub(crate) nonce: Nonce,
    pub(crate) message: Value,
}

impl VerifiedEnvelope {
    /// The envelope's version: profile A's `mcps` value (not covered by its signature), or
    /// profile B's `mcps.version`.
    #[must_use]
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The signed passport id. The signature proves possession of the verifying key, not that
    /// this id belongs to that key: bind them through a verified passport.
    #[must_use]
    pub fn passport_id(&self) -> &str {
        &self.passport_id
    }

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

    /// The signed message (in profile B: every top-level member except `mcps`).
    #[must_use]
    pub fn message(&self) -> &Value {
        &self.message
    }

    /// The signed message, by value.
    #[must_use]
    pub fn into_message(self) -> Value {
        self.message
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, SigningKey};
    use crate::native::{self, Link};
    use crate::profile_a::{self, VerifyOptions};
    use crate::profile_b;

    const NOW: Timestamp = Timestamp::from_unix_micros(1_795_363_523_250_000);
    const PID: &str = "asp_00112233445566778899aabbccddeeff";

    /// Signs a message, writes the envelope, verifies it and returns the verified message.
    type RoundTrip<'a> = &'a dyn Fn(&Value) -> Result<Value, Error>;

    /// `{"a": [[…]]}`, its arrays and objects nesting `levels` levels deep.
    fn nested_message(levels: usize) -> Value {
        let arrays = levels - 1;
        let text = format!("{{\"a\":{}{}}}", "[".repeat(arrays), "]".repeat(arrays));
        let options = ParseOptions {
            max_depth: levels,
            ..ParseOptions::STRICT
        };
        canonical::parse(&text, &options).unwrap()
    }

    /// A signer must not write an envelope that a verifier with the default options refuses as
    /// too deep. Profile A and native envelopes hold the message one level down, so their
    /// deepest message is one level shallower than a strict parse allows; profile B puts the
    /// message's members in the envelope object itself.
    #[test]
    fn refuses_to_sign_messages_too_deep_for_their_envelope() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let public = key.verifying_key();
        let options = VerifyOptions::at(NOW);
        let nonce = || Nonce::random().unwrap();
        let link = Link::start("deep").unwrap();
        let a = |m: &Value| -> Result<Value, Error> {
            let wire = profile_a::sign(m, PID, &key, NOW, nonce())?.to_json()?;
            Ok(profile_a::verify(wire.as_bytes(), &public, &options)?.into_message())
        };
        let b = |m: &Value| -> Result<Value, Error> {
            let wire = profile_b::sign(m, PID, &key, NOW, nonce(), None)?.to_json()?;
            Ok(profile_b::verify(wire.as_bytes(), &public, &options, None)?.into_message())
        };
        let n = |m: &Value| -> Result<Value, Error> {
            let wire = native::sign(m, &key, NOW, &nonce(), &link)?.to_json()?;
            Ok(native::verify(wire.as_bytes(), &public, &options)?
                .message()
                .clone())
        };
        let profiles: [(&str, usize, RoundTrip<'_>); 3] = [
            ("profile a", 127, &a),
            ("profile b", 128, &b),
            ("native", 127, &n),
        ];
        for (name, deepest, round_trip) in profiles {
            let message = nested_message(deepest);
            assert_eq!(round_trip(&message), Ok(message), "{name}");
            let too_deep = nested_message(deepest + 1);
            assert_eq!(round_trip(&too_deep), Err(Error::TooDeep), "{name}");
        }
    }
}
