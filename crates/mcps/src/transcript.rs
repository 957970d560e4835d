//! Handshake transcript binding (anti-downgrade).
//!
//! Profile A has no transcript binding at all: [`bind`] and [`verify`] return
//! [`Error::Unsupported`] for it. Profile B binds the `initialize` exchange:
//!
//! ```text
//! transcript_hash = hex(SHA-256(profile_b(client_init_params) ‖ profile_b(server_init_result)))
//! signature       = base64(sign(transcript_hash as ASCII))      # P1363, low-S for ECDSA
//! ```
//!
//! Verification recomputes the hash, compares it case-sensitively with the one presented, and
//! checks the signature (low-S only). Both canonical texts are complete JSON values, so their
//! concatenation is unambiguous.
//!
//! This binds the *handshake* only. Like every published MCPS variant, it does not chain
//! messages: deletion or reordering of later messages inside the time window is not detected
//! by it.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::Profile;
use crate::canonical::{self, Value};
use crate::error::Error;
use crate::keys::{SignatureFormat, SignaturePolicy, SigningKey, VerifyingKey};

/// A transcript hash and the signature over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranscriptBinding {
    /// Lower-case hex SHA-256 of the canonical handshake.
    pub transcript_hash: String,
    /// Standard base64 of the signature over `transcript_hash`.
    pub signature: String,
}

fn require_b(profile: Profile) -> Result<(), Error> {
    match profile {
        Profile::A => Err(Error::Unsupported("transcript binding in profile a")),
        Profile::B => Ok(()),
    }
}

/// The transcript hash of an `initialize` exchange.
///
/// # Errors
///
/// [`Error::Unsupported`] for profile A; canonicalisation errors
/// ([`Error::NonFiniteNumber`], [`Error::LoneSurrogate`], [`Error::TooDeep`]).
pub fn transcript_hash(
    profile: Profile,
    client_init_params: &Value,
    server_init_result: &Value,
) -> Result<String, Error> {
    require_b(profile)?;
    let mut hasher = Sha256::new();
    hasher.update(canonical::profile_b(client_init_params)?.as_bytes());
    hasher.update(canonical::profile_b(server_init_result)?.as_bytes());
    Ok(crate::hex::encode(&hasher.finalize()))
}

/// Computes and signs the transcript hash.
///
/// # Errors
///
/// As [`transcript_hash`]; [`Error::SigningFailed`].
pub fn bind(
    profile: Profile,
    client_init_params: &Value,
    server_init_result: &Value,
    key: &SigningKey,
) -> Result<TranscriptBinding, Error> {
    let transcript_hash = transcript_hash(profile, client_init_params, server_init_result)?;
    let signature = key.sign(transcript_hash.as_bytes(), SignatureFormat::P1363)?;
    Ok(TranscriptBinding {
        transcript_hash,
        signature: STANDARD.encode(signature),
    })
}

/// Checks a binding against the handshake both sides observed.
///
/// # Errors
///
/// As [`transcript_hash`]; [`Error::TranscriptMismatch`] if the hash differs (including in
/// letter case); [`Error::BadSignatureEncoding`] / [`Error::BadSignature`] for the signature.
pub fn verify(
    profile: Profile,
    client_init_params: &Value,
    server_init_result: &Value,
    binding: &TranscriptBinding,
    key: &VerifyingKey,
) -> Result<(), Error> {
    let expected = transcript_hash(profile, client_init_params, server_init_result)?;
    if expected != binding.transcript_hash {
        return Err(Error::TranscriptMismatch);
    }
    let signature = STANDARD
        .decode(&binding.signature)
        .map_err(|_| Error::BadSignatureEncoding("not canonical padded base64"))?;
    key.verify(
        expected.as_bytes(),
        &signature,
        &SignaturePolicy::P1363_LOW_S,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::ParseOptions;
    use crate::keys::Algorithm;

    fn json(text: &str) -> Value {
        canonical::parse(text, &ParseOptions::STRICT).unwrap()
    }

    #[test]
    fn profile_a_has_none() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let v = json("{}");
        assert_eq!(
            bind(Profile::A, &v, &v, &key),
            Err(Error::Unsupported("transcript binding in profile a"))
        );
    }

    #[test]
    fn binds_and_detects_downgrade() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = SigningKey::generate(algorithm).unwrap();
            let client = json(
                r#"{"protocolVersion": "2025-06-18", "capabilities": {"mcps": {"version": "1.0", "trust_level": 2}}}"#,
            );
            let server = json(
                r#"{"protocolVersion": "2025-06-18", "capabilities": {"mcps": {"version": "1.0", "min_trust_level": 2}}}"#,
            );
            let binding = bind(Profile::B, &client, &server, &key).unwrap();
            assert_eq!(binding.transcript_hash.len(), 64);
            verify(Profile::B, &client, &server, &binding, &key.verifying_key()).unwrap();
            // Member order does not matter; content does.
            let reordered = json(
                r#"{"capabilities": {"mcps": {"trust_level": 2, "version": "1.0"}}, "protocolVersion": "2025-06-18"}"#,
            );
            verify(
                Profile::B,
                &reordered,
                &server,
                &binding,
                &key.verifying_key(),
            )
            .unwrap();
            let downgraded = json(r#"{"protocolVersion": "2025-06-18", "capabilities": {}}"#);
            assert_eq!(
                verify(
                    Profile::B,
                    &downgraded,
                    &server,
                    &binding,
                    &key.verifying_key()
                ),
                Err(Error::TranscriptMismatch)
            );
            let upper = TranscriptBinding {
                transcript_hash: binding.transcript_hash.to_uppercase(),
                ..binding.clone()
            };
            assert_eq!(
                verify(Profile::B, &client, &server, &upper, &key.verifying_key()),
                Err(Error::TranscriptMismatch)
            );
        }
    }
}
