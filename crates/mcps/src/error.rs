//! The crate's single error type, [`Error`], and the stable reject codes ([`RejectCode`]) every
//! error maps to.
//!
//! A verifier turns any failure into a *verdict*: `ACCEPT`, or `REJECT:<code>` where `<code>` is
//! one of the snake_case names below. The names are part of the public contract (they appear in
//! audit logs and in the gateway's refusals) and never change meaning; new codes may be added.
//! [`RejectCode::legacy_code`] gives the reference implementation's `MCPS-0xx` string where one
//! exists, so verdicts can be compared with the published test vectors.

use std::fmt;

/// Why a JSON text was refused by [`crate::canonical::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum JsonErrorKind {
    /// The text ended inside a value.
    UnexpectedEnd,
    /// A character that cannot start or continue a value at this point.
    UnexpectedCharacter,
    /// The input bytes are not valid UTF-8.
    InvalidUtf8,
    /// The input starts with a UTF-8 byte order mark.
    ByteOrderMark,
    /// Something other than whitespace follows the top-level value.
    TrailingData,
    /// A number token does not follow the JSON grammar.
    InvalidNumber,
    /// A number token is longer than the configured limit.
    NumberTooLong,
    /// A backslash escape is not one of the JSON escapes.
    InvalidEscape,
    /// An unescaped control character (U+0000 to U+001F) inside a string.
    ControlCharacter,
    /// An object has the same key twice and duplicates are refused.
    DuplicateKey,
    /// `NaN`, `Infinity`, `-Infinity`, or a number too large for a double.
    NonFiniteNumber,
    /// A `\uXXXX` escape encodes a surrogate that is not part of a pair.
    LoneSurrogate,
    /// Arrays and objects are nested deeper than the configured limit.
    TooDeep,
}

impl fmt::Display for JsonErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::UnexpectedEnd => "unexpected end of input",
            Self::UnexpectedCharacter => "unexpected character",
            Self::InvalidUtf8 => "input is not valid utf-8",
            Self::ByteOrderMark => "input starts with a byte order mark",
            Self::TrailingData => "data after the top-level value",
            Self::InvalidNumber => "invalid number",
            Self::NumberTooLong => "number token is too long",
            Self::InvalidEscape => "invalid escape sequence",
            Self::ControlCharacter => "unescaped control character in string",
            Self::DuplicateKey => "duplicate object key",
            Self::NonFiniteNumber => "non-finite number",
            Self::LoneSurrogate => "lone utf-16 surrogate",
            Self::TooDeep => "nesting too deep",
        })
    }
}

/// Every error this crate returns.
///
/// Messages are short, lowercase and never echo attacker-supplied text. Use
/// [`Error::reject_code`] for a machine-readable, stable classification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not acceptable JSON.
    #[error("invalid json at byte {offset}: {kind}")]
    Json {
        /// Byte offset of the problem in the input.
        offset: usize,
        /// What was wrong.
        kind: JsonErrorKind,
    },
    /// A value holds NaN or an infinity where only finite numbers are allowed.
    #[error("value contains a non-finite number")]
    NonFiniteNumber,
    /// A string holds a lone UTF-16 surrogate where only valid Unicode is allowed.
    #[error("value contains a lone utf-16 surrogate")]
    LoneSurrogate,
    /// A value is nested deeper than a serialiser supports.
    #[error("value is nested too deeply")]
    TooDeep,
    /// A number cannot be represented in the requested canonical form.
    #[error("number cannot be represented: {0}")]
    UnrepresentableNumber(&'static str),
    /// The envelope is not an object or lacks a usable `mcps` member.
    #[error("malformed envelope: {0}")]
    MalformedEnvelope(&'static str),
    /// The envelope's `message` is missing or empty (`{}`, `[]`, `""`, `0`, `false`, `null`).
    #[error("message is missing or empty")]
    EmptyMessage,
    /// The `passport_id` is missing, not a string, or not of the form `asp_…`.
    #[error("invalid passport id: {0}")]
    BadPassportId(&'static str),
    /// The `timestamp` is missing, not a string, or not a UTC `YYYY-MM-DDTHH:MM:SS[.ffffff]Z`.
    #[error("invalid timestamp: {0}")]
    BadTimestamp(&'static str),
    /// The `nonce` is missing, not a string, or not 32 lowercase hex digits.
    #[error("invalid nonce: {0}")]
    BadNonce(&'static str),
    /// The signature is missing or not a well-formed encoding (base64, DER or fixed size).
    #[error("invalid signature encoding: {0}")]
    BadSignatureEncoding(&'static str),
    /// The signature is well formed but does not verify under the given key.
    #[error("signature does not verify")]
    BadSignature,
    /// The timestamp is older than the accepted window.
    #[error("timestamp is {age_micros} us old, outside the {window_micros} us window")]
    Expired {
        /// How old the timestamp is, in microseconds.
        age_micros: i64,
        /// The accepted age, in microseconds.
        window_micros: i64,
    },
    /// The timestamp is further in the future than the accepted window.
    #[error("timestamp is {ahead_micros} us in the future, outside the {window_micros} us window")]
    FutureTimestamp {
        /// How far ahead of "now" the timestamp is, in microseconds.
        ahead_micros: i64,
        /// The accepted look-ahead, in microseconds.
        window_micros: i64,
    },
    /// The `(passport_id, nonce)` pair was already accepted within its window.
    #[error("nonce already used")]
    Replay,
    /// The replay cache is full of unexpired entries; the message is refused rather than
    /// forgetting a nonce that could then be replayed.
    #[error("replay cache is full")]
    ReplayCacheFull,
    /// A passport is structurally invalid.
    #[error("invalid passport: {0}")]
    PassportMalformed(&'static str),
    /// A passport's `expires_at` is in the past.
    #[error("passport expired")]
    PassportExpired,
    /// A passport's `issued_at` is in the future.
    #[error("passport not yet valid")]
    PassportNotYetValid,
    /// A passport carries no signature.
    #[error("passport is not signed")]
    PassportUnsigned,
    /// A passport's signature does not verify under the given key.
    #[error("passport signature does not verify")]
    PassportBadSignature,
    /// A passport's canonical form is larger than the configured limit.
    #[error("passport is {size} bytes, more than the {limit} byte limit")]
    PassportTooLarge {
        /// Size of the canonical form in bytes.
        size: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A passport's issuer chain is longer than the configured limit.
    #[error("issuer chain has {depth} entries, more than the limit of {limit}")]
    PassportChainTooDeep {
        /// Number of chain entries.
        depth: usize,
        /// The configured limit.
        limit: usize,
    },
    /// A passport's issuer (or, through its issuer chain, its last issuer) is not in the
    /// trust store of issuers.
    #[error("passport issuer is not trusted")]
    PassportUntrustedIssuer,
    /// A passport's issuer chain does not link up: an entry is not a valid issuer passport, does
    /// not name the passport it vouches for, or its signature does not verify.
    #[error("broken issuer chain: {0}")]
    PassportChainBroken(&'static str),
    /// A passport's id is not the one derived from its key, where a bound id is required.
    #[error("passport id is not derived from its key")]
    PassportKeyUnbound,
    /// A passport is bound to another server's origin.
    #[error("passport is bound to another origin")]
    PassportOriginMismatch,
    /// A tool definition lacks a required member or has one of the wrong type.
    #[error("invalid tool definition: {0}")]
    ToolMalformed(&'static str),
    /// A tool signature does not verify.
    #[error("tool signature does not verify")]
    ToolBadSignature,
    /// A tool definition differs from the one pinned earlier under the same name.
    #[error("tool definition changed since it was pinned")]
    ToolChanged,
    /// A transcript hash does not match the handshake it claims to bind.
    #[error("transcript binding does not match the handshake")]
    TranscriptMismatch,
    /// The requested operation does not exist in the selected profile.
    #[error("{0} is not supported")]
    Unsupported(&'static str),
    /// Key material could not be read, or is not a supported key.
    #[error("invalid key: {0}")]
    BadKey(&'static str),
    /// A key of the wrong algorithm was supplied (for example Ed25519 where profile A needs
    /// ECDSA P-256).
    #[error("wrong key type: {0}")]
    WrongKeyType(&'static str),
    /// The operating system's random number generator failed.
    #[error("random number generator failed")]
    Random,
    /// Signing failed inside the cryptographic library.
    #[error("signing failed")]
    SigningFailed,
}

impl Error {
    /// The stable reject code for this error.
    #[must_use]
    pub fn reject_code(&self) -> RejectCode {
        match self {
            Self::Json { kind, .. } => match kind {
                JsonErrorKind::DuplicateKey => RejectCode::DuplicateKey,
                JsonErrorKind::NonFiniteNumber => RejectCode::NonFiniteNumber,
                JsonErrorKind::LoneSurrogate => RejectCode::LoneSurrogate,
                JsonErrorKind::TooDeep | JsonErrorKind::NumberTooLong => RejectCode::TooLarge,
                _ => RejectCode::MalformedJson,
            },
            Self::NonFiniteNumber => RejectCode::NonFiniteNumber,
            Self::LoneSurrogate => RejectCode::LoneSurrogate,
            Self::TooDeep => RejectCode::TooLarge,
            Self::UnrepresentableNumber(_) => RejectCode::UnrepresentableNumber,
            Self::MalformedEnvelope(_) => RejectCode::MalformedEnvelope,
            Self::EmptyMessage => RejectCode::EmptyMessage,
            Self::BadPassportId(_) => RejectCode::BadPassportId,
            Self::BadTimestamp(_) => RejectCode::BadTimestamp,
            Self::BadNonce(_) => RejectCode::BadNonce,
            Self::BadSignatureEncoding(_) => RejectCode::BadSignatureEncoding,
            Self::BadSignature => RejectCode::BadSignature,
            Self::Expired { .. } => RejectCode::Expired,
            Self::FutureTimestamp { .. } => RejectCode::FutureTimestamp,
            Self::Replay => RejectCode::Replay,
            Self::ReplayCacheFull => RejectCode::ReplayCacheFull,
            Self::PassportMalformed(_) => RejectCode::PassportMalformed,
            Self::PassportExpired => RejectCode::PassportExpired,
            Self::PassportNotYetValid => RejectCode::PassportNotYetValid,
            Self::PassportUnsigned => RejectCode::PassportUnsigned,
            Self::PassportBadSignature => RejectCode::PassportBadSignature,
            Self::PassportTooLarge { .. } => RejectCode::PassportTooLarge,
            Self::PassportChainTooDeep { .. } => RejectCode::PassportChainTooDeep,
            Self::PassportUntrustedIssuer => RejectCode::PassportUntrustedIssuer,
            Self::PassportChainBroken(_) => RejectCode::PassportChainBroken,
            Self::PassportKeyUnbound => RejectCode::PassportKeyUnbound,
            Self::PassportOriginMismatch => RejectCode::PassportOriginMismatch,
            Self::ToolMalformed(_) => RejectCode::ToolMalformed,
            Self::ToolBadSignature => RejectCode::ToolBadSignature,
            Self::ToolChanged => RejectCode::ToolChanged,
            Self::TranscriptMismatch => RejectCode::TranscriptMismatch,
            Self::Unsupported(_) => RejectCode::Unsupported,
            Self::BadKey(_) => RejectCode::BadKey,
            Self::WrongKeyType(_) => RejectCode::WrongKeyType,
            Self::Random => RejectCode::Random,
            Self::SigningFailed => RejectCode::SigningFailed,
        }
    }
}

/// A stable, machine-readable classification of an [`Error`].
///
/// [`RejectCode::as_str`] gives the snake_case name; `Display` gives the verdict form
/// `REJECT:<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RejectCode {
    /// `malformed_json`: the input is not JSON (syntax, encoding, trailing data).
    MalformedJson,
    /// `duplicate_key`: an object repeats a key.
    DuplicateKey,
    /// `non_finite_number`: NaN or an infinity.
    NonFiniteNumber,
    /// `lone_surrogate`: a string holds an unpaired UTF-16 surrogate.
    LoneSurrogate,
    /// `too_large`: nesting depth or a number token exceeds a limit.
    TooLarge,
    /// `unrepresentable_number`: a number has no form in the requested canonicalisation.
    UnrepresentableNumber,
    /// `malformed_envelope`: not an object, or no usable `mcps` member.
    MalformedEnvelope,
    /// `empty_message`: the message is missing or empty.
    EmptyMessage,
    /// `bad_passport_id`: the passport id is missing or malformed.
    BadPassportId,
    /// `bad_timestamp`: the timestamp is missing or not a UTC timestamp.
    BadTimestamp,
    /// `bad_nonce`: the nonce is missing or not 32 lowercase hex digits.
    BadNonce,
    /// `bad_signature_encoding`: the signature is missing or not well formed.
    BadSignatureEncoding,
    /// `bad_signature`: the signature does not verify.
    BadSignature,
    /// `expired`: the timestamp is older than the window.
    Expired,
    /// `future_timestamp`: the timestamp is too far in the future.
    FutureTimestamp,
    /// `replay`: the nonce was already used.
    Replay,
    /// `replay_cache_full`: no room to remember the nonce.
    ReplayCacheFull,
    /// `passport_malformed`: the passport is structurally invalid.
    PassportMalformed,
    /// `passport_expired`: the passport has expired.
    PassportExpired,
    /// `passport_not_yet_valid`: the passport is issued in the future.
    PassportNotYetValid,
    /// `passport_unsigned`: the passport has no signature.
    PassportUnsigned,
    /// `passport_bad_signature`: the passport signature does not verify.
    PassportBadSignature,
    /// `passport_too_large`: the passport exceeds the size limit.
    PassportTooLarge,
    /// `passport_chain_too_deep`: the issuer chain exceeds the depth limit.
    PassportChainTooDeep,
    /// `untrusted_issuer`: no issuer in the trust store vouches for the passport.
    PassportUntrustedIssuer,
    /// `passport_chain_broken`: the issuer chain does not link up.
    PassportChainBroken,
    /// `passport_key_unbound`: the passport id is not derived from its key.
    PassportKeyUnbound,
    /// `origin_mismatch`: the passport is bound to another server's origin.
    PassportOriginMismatch,
    /// `tool_malformed`: the tool definition is invalid.
    ToolMalformed,
    /// `tool_bad_signature`: the tool signature does not verify.
    ToolBadSignature,
    /// `tool_changed`: the tool definition differs from its pin.
    ToolChanged,
    /// `transcript_mismatch`: the transcript binding does not match.
    TranscriptMismatch,
    /// `unsupported`: the operation does not exist in the profile.
    Unsupported,
    /// `bad_key`: unusable key material.
    BadKey,
    /// `wrong_key_type`: a key of the wrong algorithm.
    WrongKeyType,
    /// `random`: the random number generator failed.
    Random,
    /// `signing_failed`: the signature primitive failed.
    SigningFailed,
}

impl RejectCode {
    /// Every code, in declaration order.
    pub const ALL: [Self; 37] = [
        Self::MalformedJson,
        Self::DuplicateKey,
        Self::NonFiniteNumber,
        Self::LoneSurrogate,
        Self::TooLarge,
        Self::UnrepresentableNumber,
        Self::MalformedEnvelope,
        Self::EmptyMessage,
        Self::BadPassportId,
        Self::BadTimestamp,
        Self::BadNonce,
        Self::BadSignatureEncoding,
        Self::BadSignature,
        Self::Expired,
        Self::FutureTimestamp,
        Self::Replay,
        Self::ReplayCacheFull,
        Self::PassportMalformed,
        Self::PassportExpired,
        Self::PassportNotYetValid,
        Self::PassportUnsigned,
        Self::PassportBadSignature,
        Self::PassportTooLarge,
        Self::PassportChainTooDeep,
        Self::PassportUntrustedIssuer,
        Self::PassportChainBroken,
        Self::PassportKeyUnbound,
        Self::PassportOriginMismatch,
        Self::ToolMalformed,
        Self::ToolBadSignature,
        Self::ToolChanged,
        Self::TranscriptMismatch,
        Self::Unsupported,
        Self::BadKey,
        Self::WrongKeyType,
        Self::Random,
        Self::SigningFailed,
    ];

    /// The stable snake_case name of the code.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::MalformedJson => "malformed_json",
            Self::DuplicateKey => "duplicate_key",
            Self::NonFiniteNumber => "non_finite_number",
            Self::LoneSurrogate => "lone_surrogate",
            Self::TooLarge => "too_large",
            Self::UnrepresentableNumber => "unrepresentable_number",
            Self::MalformedEnvelope => "malformed_envelope",
            Self::EmptyMessage => "empty_message",
            Self::BadPassportId => "bad_passport_id",
            Self::BadTimestamp => "bad_timestamp",
            Self::BadNonce => "bad_nonce",
            Self::BadSignatureEncoding => "bad_signature_encoding",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::FutureTimestamp => "future_timestamp",
            Self::Replay => "replay",
            Self::ReplayCacheFull => "replay_cache_full",
            Self::PassportMalformed => "passport_malformed",
            Self::PassportExpired => "passport_expired",
            Self::PassportNotYetValid => "passport_not_yet_valid",
            Self::PassportUnsigned => "passport_unsigned",
            Self::PassportBadSignature => "passport_bad_signature",
            Self::PassportTooLarge => "passport_too_large",
            Self::PassportChainTooDeep => "passport_chain_too_deep",
            Self::PassportUntrustedIssuer => "untrusted_issuer",
            Self::PassportChainBroken => "passport_chain_broken",
            Self::PassportKeyUnbound => "passport_key_unbound",
            Self::PassportOriginMismatch => "origin_mismatch",
            Self::ToolMalformed => "tool_malformed",
            Self::ToolBadSignature => "tool_bad_signature",
            Self::ToolChanged => "tool_changed",
            Self::TranscriptMismatch => "transcript_mismatch",
            Self::Unsupported => "unsupported",
            Self::BadKey => "bad_key",
            Self::WrongKeyType => "wrong_key_type",
            Self::Random => "random",
            Self::SigningFailed => "signing_failed",
        }
    }

    /// Looks a code up by its snake_case name.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|code| code.as_str() == name)
    }

    /// The reference implementation's error code (`MCPS-001` … `MCPS-014`) for the same
    /// condition, where the reference has one.
    ///
    /// The reference reports every envelope problem other than the time window as `MCPS-004`
    /// ("invalid message signature"), so most envelope codes map there. Codes for conditions the
    /// reference never detects map to the closest reference code; codes with no counterpart
    /// (key handling, random number failure, an unsupported operation) return `None`.
    #[must_use]
    pub const fn legacy_code(self) -> Option<&'static str> {
        match self {
            Self::PassportMalformed
            | Self::PassportUnsigned
            | Self::PassportBadSignature
            | Self::PassportChainBroken
            | Self::PassportKeyUnbound => Some("MCPS-001"),
            Self::PassportUntrustedIssuer => Some("MCPS-009"),
            Self::PassportOriginMismatch => Some("MCPS-011"),
            Self::PassportExpired | Self::PassportNotYetValid => Some("MCPS-002"),
            Self::MalformedJson
            | Self::DuplicateKey
            | Self::NonFiniteNumber
            | Self::LoneSurrogate
            | Self::TooLarge
            | Self::UnrepresentableNumber
            | Self::MalformedEnvelope
            | Self::EmptyMessage
            | Self::BadPassportId
            | Self::BadNonce
            | Self::BadSignatureEncoding
            | Self::BadSignature => Some("MCPS-004"),
            Self::Replay => Some("MCPS-005"),
            Self::BadTimestamp | Self::Expired | Self::FutureTimestamp => Some("MCPS-006"),
            Self::ToolMalformed | Self::ToolBadSignature | Self::ToolChanged => Some("MCPS-008"),
            Self::ReplayCacheFull => Some("MCPS-010"),
            Self::TranscriptMismatch => Some("MCPS-012"),
            Self::PassportTooLarge => Some("MCPS-013"),
            Self::PassportChainTooDeep => Some("MCPS-014"),
            Self::Unsupported
            | Self::BadKey
            | Self::WrongKeyType
            | Self::Random
            | Self::SigningFailed => None,
        }
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "REJECT:{}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in RejectCode::ALL {
            assert!(
                seen.insert(code.as_str()),
                "duplicate name {}",
                code.as_str()
            );
            assert_eq!(RejectCode::from_name(code.as_str()), Some(code));
            assert!(
                code.as_str()
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_')
            );
        }
        assert_eq!(RejectCode::BadSignature.to_string(), "REJECT:bad_signature");
    }

    #[test]
    fn json_kinds_map_to_specific_codes() {
        let dup = Error::Json {
            offset: 3,
            kind: JsonErrorKind::DuplicateKey,
        };
        assert_eq!(dup.reject_code(), RejectCode::DuplicateKey);
        let syntax = Error::Json {
            offset: 0,
            kind: JsonErrorKind::UnexpectedCharacter,
        };
        assert_eq!(syntax.reject_code(), RejectCode::MalformedJson);
        assert_eq!(
            syntax.to_string(),
            "invalid json at byte 0: unexpected character"
        );
    }
}
