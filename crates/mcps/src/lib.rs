//! MCPS ("MCP Secure") message signing for the Model Context Protocol.
//!
//! This crate implements the signed-message formats published as MCPS, byte-compatible with the
//! reference implementation where that is safe and stricter where it is not. It does no I/O and
//! needs no async runtime: every function takes its inputs (including the current time)
//! explicitly, so it can sit in a gateway, a client, a test harness or a command-line tool.
//!
//! # Profiles
//!
//! There is no single MCPS wire format. This crate names the ones it speaks [`Profile`]s:
//!
//! * **Profile A** is PyPI `mcp-secure` 1.0.0: a flat envelope whose ECDSA P-256 DER signature
//!   covers CPython's `json.dumps(message)` followed by the passport id, timestamp and nonce,
//!   without delimiters. [`profile_a`] signs and verifies envelopes, [`passport`] handles its
//!   agent passports, [`tool_pin`] its tool signatures.
//! * **Profile B** is PyPI `mcps-secure` 1.0.0 (and the later JavaScript package): a nested
//!   `mcps` header over a canonical hash payload with P1363 low-S signatures. [`profile_b`]
//!   signs and verifies envelopes; [`canonical::profile_b`] is its canonical form and
//!   [`transcript`] its handshake transcript binding.
//!
//! # Modules
//!
//! | Module | Contents |
//! |---|---|
//! | [`canonical`] | JSON value model and parser (order-preserving, exact integers), RFC 8785, CPython `json.dumps`, profile A and B canonical forms |
//! | [`keys`] | Ed25519 and ECDSA P-256: generate, PEM, JWK, sign (low-S), verify under a [`keys::SignaturePolicy`] |
//! | [`time`] | strict UTC timestamps |
//! | [`did`] | `did:key` (Ed25519, P-256) encoding and decoding, `did:web` URLs and DID documents |
//! | [`profile_a`] | envelope signing and verification |
//! | [`profile_b`] | profile B envelope signing and verification |
//! | [`native`] | strict `mcps-native/1` envelopes (RFC 8785, every field signed) and transcript chains |
//! | [`replay`] | bounded `(passport_id, nonce)` replay cache |
//! | [`passport`] | profile A and B passports: create, sign, verify, validate; ids bound to keys |
//! | [`trust`] | trusted issuers, verified issuer chains and the trust level computed from them |
//! | [`tool_pin`] | profile A tool signatures and whole-definition pins |
//! | [`transcript`] | handshake transcript binding |
//! | [`error`] | the one [`Error`] type and its stable [`RejectCode`]s |
//!
//! # Verdicts
//!
//! Every failure is an [`Error`] whose [`Error::reject_code`] is a stable [`RejectCode`]
//! (`REJECT:bad_signature`, `REJECT:expired`, `REJECT:bad_nonce`, …). A gateway logs and maps
//! these; [`RejectCode::legacy_code`] gives the reference's `MCPS-0xx` equivalent.
//!
//! # Signing and verifying a message
//!
//! ```
//! use mcps::canonical::{self, ParseOptions};
//! use mcps::keys::{Algorithm, SigningKey};
//! use mcps::profile_a::{self, Nonce, VerifyOptions};
//! use mcps::replay::ReplayCache;
//! use mcps::time::Timestamp;
//!
//! let agent = SigningKey::generate(Algorithm::EcdsaP256)?;
//! let message = canonical::parse(
//!     r#"{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "echo"}}"#,
//!     &ParseOptions::STRICT,
//! )?;
//! let now = Timestamp::parse("2026-11-22T16:05:23.250000Z")?;
//!
//! // Sender.
//! let envelope = profile_a::sign(&message, "asp_00112233445566778899aabbccddeeff", &agent, now, Nonce::random()?)?;
//! let wire = envelope.to_json()?;
//!
//! // Receiver: signature and window first, then the replay cache.
//! let options = VerifyOptions::at(now);
//! let verified = profile_a::verify(wire.as_bytes(), &agent.verifying_key(), &options)?;
//! let mut cache = ReplayCache::new(100_000);
//! cache.admit(&verified, &options)?;
//! assert_eq!(verified.message(), &message);
//!
//! // The same envelope again is a replay.
//! let again = profile_a::verify(wire.as_bytes(), &agent.verifying_key(), &options)?;
//! assert_eq!(cache.admit(&again, &options).unwrap_err().reject_code().as_str(), "replay");
//! # Ok::<(), mcps::Error>(())
//! ```
//!
//! # What a valid signature does not prove
//!
//! A profile A signature proves that the holder of the verifying key signed the message, passport
//! id, timestamp and nonce. It does not prove that the passport id belongs to that key: take the
//! key from a passport that [`passport::Passport::verify`] accepted under a trusted issuer's key,
//! and check that the envelope's passport id is that passport's. Passport trust levels are claims
//! written by the passport's creator.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod did;
mod envelope;
pub mod error;
mod hex;
pub mod keys;
pub mod native;
pub mod passport;
pub mod profile_a;
pub mod profile_b;
pub mod replay;
pub mod time;
pub mod tool_pin;
pub mod transcript;
pub mod trust;

pub use error::{Error, RejectCode};

/// An MCPS wire-format family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// PyPI `mcp-secure` 1.0.0: flat envelope, DER signatures over `json.dumps` concatenations.
    A,
    /// PyPI `mcps-secure` 1.0.0: nested envelope, P1363 signatures over a canonical hash payload.
    B,
}
