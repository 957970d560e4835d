//! Authentication for mcpgate: who is calling, proven how.
//!
//! This crate checks credentials; it runs no HTTP server and parses no configuration files
//! (its configuration is plain structs the gateway fills in). The gateway is an OAuth 2.1
//! *resource server* (MCP authorization, RFC 9728): it accepts only tokens issued for itself
//! (`aud` = its own resource URI), terminates them, and never forwards them upstream.
//!
//! # Modules
//!
//! - [`api_key`]: keys stored as `sha256$<salt>$<digest>` ([`hash_api_key`],
//!   [`generate_api_key`]); [`ApiKeys::verify`] compares against every entry in constant time.
//! - [`jwt`]: [`JwtValidator`] checks access tokens of one issuer against a JWKS (file, static,
//!   or an `https` URL fetched lazily, cached, refetched on an unknown `kid` with a rate limit,
//!   failing closed with [`AuthError::Unavailable`] when no key set is available). Only
//!   asymmetric algorithms, and the algorithm must match the key.
//! - [`gateway_token`]: [`TokenIssuer`] issues short-lived EdDSA delegation tokens with
//!   `tool:`/`resource:`/`prompt:` scopes, never more than the caller holds, and verifies them
//!   through a [`JwtValidator`] over its own [`TokenIssuer::jwks`].
//! - [`mtls`]: [`principal_from_certificate`] reads the identity (SAN URI/email/DNS or subject
//!   CN) from an already verified client certificate.
//! - [`metadata`]: the RFC 9728 [`ResourceMetadata`] document, [`metadata_url`], and the
//!   `WWW-Authenticate` challenges (401 missing/invalid, 403 insufficient scope), with every
//!   value sanitized.
//! - [`Authenticator`]: combines them. [`Authenticator::authenticate`] maps request headers
//!   and the client certificate to an `Arc<Principal>` or a [`Denial`](mcpgate_core::Denial):
//!   `Unauthenticated` (401 + challenge), `InsufficientScope` (403 + challenge) or
//!   `AuthUnavailable` (503).
//!
//! ```text
//! X-API-Key: k                 → ApiKeys::verify
//! Authorization: Bearer <jwt>  → iss = gateway issuer ? gateway validator : validator of iss
//!                                 (no validator for iss → API keys)
//! Authorization: Bearer <k>    → ApiKeys::verify
//! no header + client cert      → principal_from_certificate (when mTLS is configured)
//! nothing                      → 401 `Bearer resource_metadata="…", scope="…"`
//! ```
//!
//! Errors and denials never contain a credential, token, key or stored hash.

pub mod api_key;
mod authenticator;
mod error;
pub mod gateway_token;
mod jwks;
pub mod jwt;
pub mod metadata;
pub mod mtls;

pub use api_key::{ApiKeys, generate_api_key, hash_api_key};
pub use authenticator::{API_KEY_HEADER, Authenticator, AuthenticatorConfig};
pub use error::AuthError;
pub use gateway_token::{DEFAULT_MAX_TTL, IssuedToken, IssuerKey, TokenIssuer};
pub use jsonwebtoken::Algorithm;
pub use jsonwebtoken::jwk::JwkSet;
pub use jwt::{JwksSource, JwtConfig, JwtValidator};
pub use metadata::{
    ResourceMetadata, challenge_insufficient_scope, challenge_invalid, challenge_missing,
    metadata_url,
};
pub use mtls::{CertIdentity, SanKind, principal_from_certificate};
