//! Ed25519 and ECDSA P-256 keys: generation, PEM (PKCS#8 private, SPKI public, SEC1 `EC PRIVATE
//! KEY` on input), JWK (RFC 7517 / RFC 8037, public and private), signing and verification.
//!
//! ECDSA signatures come in two encodings, DER (`SEQUENCE { r, s }`, what profile A uses) and
//! IEEE P1363 (`r ‖ s`, 64 bytes, what profile B uses). Signing always emits the **low-S** form
//! (`s ≤ n/2`), which every verifier accepts. Verification takes a [`SignaturePolicy`] saying
//! which encodings are allowed and whether high-S signatures are accepted: profile A's genuine
//! signers produce high-S signatures about half of the time, so [`SignaturePolicy::PROFILE_A`]
//! must accept them, while new formats should use [`SignaturePolicy::P1363_LOW_S`].
//!
//! ECDSA signing is deterministic (RFC 6979). Ed25519 has one signature encoding (64 bytes) and
//! is verified with the strict rules (canonical `S`, no small-order keys).
//!
//! Only the P-256 curve is accepted for ECDSA; the reference silently accepts other curves.

use std::fmt;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use ed25519_dalek::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::elliptic_curve::scalar::IsHigh as _;
use p256::pkcs8::LineEnding;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::canonical::{self, Object, ParseOptions, Value};
use crate::error::Error;

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// Ed25519 (RFC 8032).
    Ed25519,
    /// ECDSA over NIST P-256 with SHA-256.
    EcdsaP256,
}

/// How an ECDSA signature is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureFormat {
    /// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }` (variable length, at most 72 bytes).
    Der,
    /// IEEE P1363: `r ‖ s`, each 32 bytes big-endian. Ed25519's native 64-byte signature also
    /// counts as this format.
    P1363,
}

/// What a verifier accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignaturePolicy {
    /// Accept DER-encoded ECDSA signatures.
    pub accept_der: bool,
    /// Accept 64-byte P1363 ECDSA signatures.
    pub accept_p1363: bool,
    /// Accept ECDSA signatures whose `s` is above n/2.
    pub allow_high_s: bool,
}

impl SignaturePolicy {
    /// Profile A: DER only, high-S accepted (the reference never normalises `s`).
    pub const PROFILE_A: Self = Self {
        accept_der: true,
        accept_p1363: false,
        allow_high_s: true,
    };
    /// P1363 only, low-S only: profile B signatures, verified strictly.
    pub const P1363_LOW_S: Self = Self {
        accept_der: false,
        accept_p1363: true,
        allow_high_s: false,
    };
    /// Profile B compatibility: P1363 only, high-S accepted (the reference normalises it away).
    pub const P1363_COMPAT: Self = Self {
        accept_der: false,
        accept_p1363: true,
        allow_high_s: true,
    };
    /// Either encoding, low-S only.
    pub const ANY_LOW_S: Self = Self {
        accept_der: true,
        accept_p1363: true,
        allow_high_s: false,
    };
}

#[derive(Clone)]
enum SecretInner {
    Ed25519(ed25519_dalek::SigningKey),
    P256(p256::ecdsa::SigningKey),
}

/// A private key. Its `Debug` output never shows key material.
#[derive(Clone)]
pub struct SigningKey {
    inner: SecretInner,
    /// The public key's RFC 7638 thumbprint, computed on first use.
    thumbprint: OnceLock<String>,
}

#[derive(Clone, PartialEq, Eq)]
enum PublicInner {
    Ed25519(ed25519_dalek::VerifyingKey),
    P256(p256::ecdsa::VerifyingKey),
}

/// A public key. Two keys are equal when they are the same point on the same curve.
#[derive(Clone)]
pub struct VerifyingKey {
    inner: PublicInner,
    /// The RFC 7638 thumbprint, computed on first use.
    thumbprint: OnceLock<String>,
}

impl PartialEq for VerifyingKey {
    fn eq(&self, other: &Self) -> bool {
        self.inner == other.inner
    }
}

impl Eq for VerifyingKey {}

const PEM_PKCS8: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_SEC1: &str = "-----BEGIN EC PRIVATE KEY-----";

fn random_32() -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    getrandom::fill(bytes.as_mut()).map_err(|_| Error::Random)?;
    Ok(bytes)
}

impl SigningKey {
    /// Generates a new key from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::Random`] if the random number generator fails.
    pub fn generate(algorithm: Algorithm) -> Result<Self, Error> {
        let inner = match algorithm {
            Algorithm::Ed25519 => {
                SecretInner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&*random_32()?))
            }
            Algorithm::EcdsaP256 => {
                // A random 32-byte string is a valid scalar except with probability ~2^-32;
                // draw again in that case.
                let mut attempts = 0;
                loop {
                    let bytes = random_32()?;
                    if let Ok(key) = p256::ecdsa::SigningKey::from_slice(bytes.as_ref()) {
                        break SecretInner::P256(key);
                    }
                    attempts += 1;
                    if attempts >= 8 {
                        return Err(Error::Random);
                    }
                }
            }
        };
        Ok(Self::from_inner(inner))
    }

    fn from_inner(inner: SecretInner) -> Self {
        Self {
            inner,
            thumbprint: OnceLock::new(),
        }
    }

    /// The key's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            SecretInner::Ed25519(_) => Algorithm::Ed25519,
            SecretInner::P256(_) => Algorithm::EcdsaP256,
        }
    }

    /// Reads a private key from PEM: PKCS#8 (`BEGIN PRIVATE KEY`, P-256 or Ed25519) or SEC1
    /// (`BEGIN EC PRIVATE KEY`, P-256). Encrypted keys are not supported.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] if the text is not one of those, or is a key of another curve.
    pub fn from_pem(pem: &str) -> Result<Self, Error> {
        let trimmed = pem.trim_start();
        if trimmed.starts_with(PEM_PKCS8) {
            Self::from_pkcs8_pem(pem)
        } else if trimmed.starts_with(PEM_SEC1) {
            let secret = p256::SecretKey::from_sec1_pem(pem)
                .map_err(|_| Error::BadKey("not a sec1 p-256 private key"))?;
            Ok(Self::from_inner(SecretInner::P256(secret.into())))
        } else {
            Err(Error::BadKey("not a pem private key"))
        }
    }

    /// Reads a PKCS#8 private key (`BEGIN PRIVATE KEY`), P-256 or Ed25519.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] for anything else.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, Error> {
        if let Ok(key) = p256::ecdsa::SigningKey::from_pkcs8_pem(pem) {
            return Ok(Self::from_inner(SecretInner::P256(key)));
        }
        if let Ok(key) = ed25519_dalek::SigningKey::from_pkcs8_pem(pem) {
            return Ok(Self::from_inner(SecretInner::Ed25519(key)));
        }
        Err(Error::BadKey("not a pkcs#8 p-256 or ed25519 private key"))
    }

    /// Writes the key as unencrypted PKCS#8 PEM with `\n` line endings.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] if encoding fails.
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, Error> {
        let pem = match &self.inner {
            SecretInner::Ed25519(key) => key.to_pkcs8_pem(LineEnding::LF),
            SecretInner::P256(key) => key.to_pkcs8_pem(LineEnding::LF),
        };
        pem.map_err(|_| Error::BadKey("cannot encode the private key"))
    }

    /// Reads a private JWK (`kty` `EC`/`crv` `P-256` with `d`, or `kty` `OKP`/`crv` `Ed25519`
    /// with `d`). The public members must match the private key.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] for a public-only, malformed or inconsistent JWK.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        let d = jwk
            .d
            .as_ref()
            .ok_or(Error::BadKey("jwk has no private member `d`"))?;
        let d = Zeroizing::new(decode_b64url_32(d, "jwk `d` is not 32 base64url bytes")?);
        let key = match (jwk.kty.as_str(), jwk.crv.as_str()) {
            ("EC", "P-256") => Self::from_inner(SecretInner::P256(
                p256::ecdsa::SigningKey::from_slice(d.as_ref())
                    .map_err(|_| Error::BadKey("jwk `d` is not a valid p-256 scalar"))?,
            )),
            ("OKP", "Ed25519") => Self::from_inner(SecretInner::Ed25519(
                ed25519_dalek::SigningKey::from_bytes(&d),
            )),
            _ => return Err(Error::BadKey("unsupported jwk key type or curve")),
        };
        if key.verifying_key() != VerifyingKey::from_jwk(jwk)? {
            return Err(Error::BadKey("jwk public members do not match `d`"));
        }
        Ok(key)
    }

    /// The private JWK (public members plus `d`).
    #[must_use]
    pub fn to_jwk(&self) -> Jwk {
        let mut jwk = self.verifying_key().to_jwk();
        let d = match &self.inner {
            SecretInner::Ed25519(key) => URL_SAFE_NO_PAD.encode(key.to_bytes()),
            SecretInner::P256(key) => URL_SAFE_NO_PAD.encode(key.to_bytes()),
        };
        jwk.d = Some(Zeroizing::new(d));
        jwk
    }

    /// The matching public key (carrying the thumbprint along if it was computed already).
    #[must_use]
    pub fn verifying_key(&self) -> VerifyingKey {
        let inner = match &self.inner {
            SecretInner::Ed25519(key) => PublicInner::Ed25519(key.verifying_key()),
            SecretInner::P256(key) => PublicInner::P256(*key.verifying_key()),
        };
        VerifyingKey {
            inner,
            thumbprint: self.thumbprint.clone(),
        }
    }

    /// The RFC 7638 JWK thumbprint of the public key, as [`VerifyingKey::thumbprint`]: computed
    /// the first time it is asked for, then kept with the key (and its clones made after).
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        self.thumbprint
            .get_or_init(|| self.verifying_key().to_jwk().thumbprint())
    }

    /// Signs `message` (hashing it with SHA-256 for ECDSA; Ed25519 signs it directly).
    ///
    /// ECDSA signatures are deterministic (RFC 6979) and always low-S.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for an Ed25519 key with [`SignatureFormat::Der`];
    /// [`Error::SigningFailed`] if the primitive fails.
    pub fn sign(&self, message: &[u8], format: SignatureFormat) -> Result<Vec<u8>, Error> {
        match &self.inner {
            SecretInner::Ed25519(key) => {
                if format == SignatureFormat::Der {
                    return Err(Error::Unsupported("der encoding of ed25519 signatures"));
                }
                Ok(key.sign(message).to_bytes().to_vec())
            }
            SecretInner::P256(key) => {
                let signature: p256::ecdsa::Signature =
                    key.try_sign(message).map_err(|_| Error::SigningFailed)?;
                let signature = signature.normalize_s();
                Ok(match format {
                    SignatureFormat::Der => signature.to_der().as_bytes().to_vec(),
                    SignatureFormat::P1363 => signature.to_bytes().to_vec(),
                })
            }
        }
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    fn from_inner(inner: PublicInner) -> Self {
        Self {
            inner,
            thumbprint: OnceLock::new(),
        }
    }

    /// The RFC 7638 JWK thumbprint (SHA-256, base64url without padding), as
    /// [`Jwk::thumbprint`] of [`VerifyingKey::to_jwk`]: a stable identifier derived from the key
    /// itself (the native profile's `kid`). It is computed the first time it is asked for, then
    /// kept with the key and its clones made after.
    #[must_use]
    pub fn thumbprint(&self) -> &str {
        self.thumbprint.get_or_init(|| self.to_jwk().thumbprint())
    }

    /// The key's algorithm.
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        match self.inner {
            PublicInner::Ed25519(_) => Algorithm::Ed25519,
            PublicInner::P256(_) => Algorithm::EcdsaP256,
        }
    }

    /// An Ed25519 key from its 32-byte encoding, refusing invalid and small-order points.
    pub(crate) fn from_ed25519_bytes(bytes: &[u8; 32]) -> Result<Self, Error> {
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map_err(|_| Error::BadKey("not an ed25519 point"))?;
        if key.is_weak() {
            return Err(Error::BadKey("ed25519 key of small order"));
        }
        Ok(Self::from_inner(PublicInner::Ed25519(key)))
    }

    /// A P-256 key from a 33-byte compressed SEC1 point.
    pub(crate) fn from_p256_compressed(bytes: &[u8; 33]) -> Result<Self, Error> {
        if bytes[0] != 0x02 && bytes[0] != 0x03 {
            return Err(Error::BadKey("not a compressed sec1 point"));
        }
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bytes)
            .map_err(|_| Error::BadKey("point is not on p-256"))?;
        Ok(Self::from_inner(PublicInner::P256(key)))
    }

    /// The raw public key: 32 bytes for Ed25519, the 33-byte compressed SEC1 point for P-256.
    pub(crate) fn compact_bytes(&self) -> Vec<u8> {
        match &self.inner {
            PublicInner::Ed25519(key) => key.as_bytes().to_vec(),
            PublicInner::P256(key) => key.to_sec1_point(true).as_bytes().to_vec(),
        }
    }

    /// Reads an SPKI public key (`BEGIN PUBLIC KEY`), P-256 or Ed25519.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] for anything else (including other curves).
    pub fn from_spki_pem(pem: &str) -> Result<Self, Error> {
        if let Ok(key) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem) {
            return Ok(Self::from_inner(PublicInner::P256(key)));
        }
        if let Ok(key) = ed25519_dalek::VerifyingKey::from_public_key_pem(pem) {
            if key.is_weak() {
                return Err(Error::BadKey("ed25519 key of small order"));
            }
            return Ok(Self::from_inner(PublicInner::Ed25519(key)));
        }
        Err(Error::BadKey("not an spki p-256 or ed25519 public key"))
    }

    /// Writes the key as SPKI PEM with `\n` line endings.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] if encoding fails.
    pub fn to_spki_pem(&self) -> Result<String, Error> {
        let pem = match &self.inner {
            PublicInner::Ed25519(key) => key.to_public_key_pem(LineEnding::LF),
            PublicInner::P256(key) => key.to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|_| Error::BadKey("cannot encode the public key"))
    }

    /// Reads a public JWK (private members are ignored).
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] for a malformed JWK, an unsupported curve or a point not on the curve.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        let x = decode_b64url_32(&jwk.x, "jwk `x` is not 32 base64url bytes")?;
        match (jwk.kty.as_str(), jwk.crv.as_str()) {
            ("EC", "P-256") => {
                let y = jwk.y.as_deref().ok_or(Error::BadKey("ec jwk has no `y`"))?;
                let y = decode_b64url_32(y, "jwk `y` is not 32 base64url bytes")?;
                let mut sec1 = [0u8; 65];
                sec1[0] = 0x04;
                sec1[1..33].copy_from_slice(&x);
                sec1[33..].copy_from_slice(&y);
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                    .map_err(|_| Error::BadKey("jwk point is not on p-256"))?;
                Ok(Self::from_inner(PublicInner::P256(key)))
            }
            ("OKP", "Ed25519") => {
                if jwk.y.is_some() {
                    return Err(Error::BadKey("okp jwk has a `y` member"));
                }
                let key = ed25519_dalek::VerifyingKey::from_bytes(&x)
                    .map_err(|_| Error::BadKey("jwk `x` is not an ed25519 point"))?;
                if key.is_weak() {
                    return Err(Error::BadKey("ed25519 key of small order"));
                }
                Ok(Self::from_inner(PublicInner::Ed25519(key)))
            }
            _ => Err(Error::BadKey("unsupported jwk key type or curve")),
        }
    }

    /// The public JWK: `{"kty":"EC","crv":"P-256","x","y"}` or `{"kty":"OKP","crv":"Ed25519","x"}`
    /// (coordinates base64url without padding, 32 bytes each).
    #[must_use]
    pub fn to_jwk(&self) -> Jwk {
        match &self.inner {
            PublicInner::Ed25519(key) => Jwk {
                kty: "OKP".into(),
                crv: "Ed25519".into(),
                x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
                y: None,
                d: None,
            },
            PublicInner::P256(key) => {
                let point = key.to_sec1_point(false);
                let coordinate = |c: Option<&p256::FieldBytes>| {
                    c.map(|bytes| URL_SAFE_NO_PAD.encode(bytes))
                        .unwrap_or_default()
                };
                Jwk {
                    kty: "EC".into(),
                    crv: "P-256".into(),
                    x: coordinate(point.x()),
                    y: Some(coordinate(point.y())),
                    d: None,
                }
            }
        }
    }

    /// Verifies `signature` over `message` under `policy` (ECDSA hashes the message with
    /// SHA-256). For Ed25519 the policy's encoding fields are ignored: the signature must be its
    /// native 64 bytes.
    ///
    /// # Errors
    ///
    /// [`Error::BadSignatureEncoding`] if the bytes are not an accepted encoding (or are high-S
    /// when that is refused); [`Error::BadSignature`] if the signature does not verify.
    pub fn verify(
        &self,
        message: &[u8],
        signature: &[u8],
        policy: &SignaturePolicy,
    ) -> Result<(), Error> {
        match &self.inner {
            PublicInner::Ed25519(key) => {
                let bytes: &[u8; 64] = signature.try_into().map_err(|_| {
                    Error::BadSignatureEncoding("ed25519 signature is not 64 bytes")
                })?;
                let signature = ed25519_dalek::Signature::from_bytes(bytes);
                key.verify_strict(message, &signature)
                    .map_err(|_| Error::BadSignature)
            }
            PublicInner::P256(key) => {
                let signature = decode_ecdsa(signature, policy)?;
                if !policy.allow_high_s && bool::from(signature.s().is_high()) {
                    return Err(Error::BadSignatureEncoding("high-s ecdsa signature"));
                }
                key.verify(message, &signature)
                    .map_err(|_| Error::BadSignature)
            }
        }
    }
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let jwk = self.to_jwk();
        f.debug_struct("VerifyingKey")
            .field("algorithm", &self.algorithm())
            .field("x", &jwk.x)
            .finish_non_exhaustive()
    }
}

fn decode_ecdsa(bytes: &[u8], policy: &SignaturePolicy) -> Result<p256::ecdsa::Signature, Error> {
    if policy.accept_der
        && let Ok(signature) = p256::ecdsa::Signature::from_der(bytes)
    {
        return Ok(signature);
    }
    if policy.accept_p1363 && bytes.len() == 64 {
        return p256::ecdsa::Signature::from_slice(bytes)
            .map_err(|_| Error::BadSignatureEncoding("p1363 signature with r or s out of range"));
    }
    Err(Error::BadSignatureEncoding(
        match (policy.accept_der, policy.accept_p1363) {
            (true, false) => "not a der ecdsa signature",
            (false, true) => "not a 64-byte p1363 ecdsa signature",
            _ => "not a der or p1363 ecdsa signature",
        },
    ))
}

/// Re-encodes a DER ECDSA P-256 signature as P1363 (`r ‖ s`).
///
/// # Errors
///
/// [`Error::BadSignatureEncoding`] if `der` is not a DER P-256 signature.
pub fn der_to_p1363(der: &[u8]) -> Result<[u8; 64], Error> {
    let signature = p256::ecdsa::Signature::from_der(der)
        .map_err(|_| Error::BadSignatureEncoding("not a der ecdsa signature"))?;
    let mut out = [0u8; 64];
    out.copy_from_slice(&signature.to_bytes());
    Ok(out)
}

/// Re-encodes a P1363 ECDSA P-256 signature (`r ‖ s`) as DER.
///
/// # Errors
///
/// [`Error::BadSignatureEncoding`] if `p1363` is not 64 bytes with `r` and `s` in range.
pub fn p1363_to_der(p1363: &[u8]) -> Result<Vec<u8>, Error> {
    if p1363.len() != 64 {
        return Err(Error::BadSignatureEncoding(
            "not a 64-byte p1363 ecdsa signature",
        ));
    }
    let signature = p256::ecdsa::Signature::from_slice(p1363)
        .map_err(|_| Error::BadSignatureEncoding("p1363 signature with r or s out of range"))?;
    Ok(signature.to_der().as_bytes().to_vec())
}

fn decode_b64url_32(text: &str, what: &'static str) -> Result<[u8; 32], Error> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| Error::BadKey(what))?;
    bytes.try_into().map_err(|_| Error::BadKey(what))
}

/// A JSON Web Key (RFC 7517) for P-256 (`kty` `EC`) or Ed25519 (`kty` `OKP`, RFC 8037).
///
/// Only the members needed to use the key are kept (`kty`, `crv`, `x`, `y`, `d`); others such as
/// `kid`, `alg` or `use` are ignored on input. Its `Debug` output never shows `d`.
#[derive(Clone, PartialEq, Eq)]
pub struct Jwk {
    kty: String,
    crv: String,
    x: String,
    y: Option<String>,
    d: Option<Zeroizing<String>>,
}

impl Jwk {
    /// Reads a JWK from a parsed JSON object. Member values are checked for type only; use
    /// [`VerifyingKey::from_jwk`] or [`SigningKey::from_jwk`] to validate the key itself.
    ///
    /// # Errors
    ///
    /// [`Error::BadKey`] if `value` is not an object with string `kty`, `crv` and `x` (and
    /// string `y`/`d` when present).
    pub fn from_value(value: &Value) -> Result<Self, Error> {
        let object = value
            .as_object()
            .ok_or(Error::BadKey("jwk is not a json object"))?;
        let required = |name: &'static str, what: &'static str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or(Error::BadKey(what))
        };
        let optional = |name: &str, what: &'static str| match object.get(name) {
            None => Ok(None),
            Some(member) => member
                .as_str()
                .map(|s| Some(s.to_owned()))
                .ok_or(Error::BadKey(what)),
        };
        Ok(Self {
            kty: required("kty", "jwk `kty` is missing or not a string")?,
            crv: required("crv", "jwk `crv` is missing or not a string")?,
            x: required("x", "jwk `x` is missing or not a string")?,
            y: optional("y", "jwk `y` is not a string")?,
            d: optional("d", "jwk `d` is not a string")?.map(Zeroizing::new),
        })
    }

    /// Parses a JWK from JSON text (strict JSON).
    ///
    /// # Errors
    ///
    /// [`Error::Json`] or [`Error::BadKey`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::from_value(&canonical::parse(text, &ParseOptions::STRICT)?)
    }

    /// The JWK as a JSON object, members in the order `kty`, `crv`, `x`, `y`, `d`.
    #[must_use]
    pub fn to_value(&self) -> Value {
        let mut object = Object::new();
        object.insert("kty", Value::from(self.kty.as_str()));
        object.insert("crv", Value::from(self.crv.as_str()));
        object.insert("x", Value::from(self.x.as_str()));
        if let Some(y) = &self.y {
            object.insert("y", Value::from(y.as_str()));
        }
        if let Some(d) = &self.d {
            object.insert("d", Value::from(d.as_str()));
        }
        Value::Object(object)
    }

    /// The JWK as compact JSON text (RFC 8785 form).
    ///
    /// # Errors
    ///
    /// Never in practice: all members are strings.
    pub fn to_json(&self) -> Result<String, Error> {
        canonical::jcs(&self.to_value())
    }

    /// The key type (`EC` or `OKP`).
    #[must_use]
    pub fn kty(&self) -> &str {
        &self.kty
    }

    /// The curve (`P-256` or `Ed25519`).
    #[must_use]
    pub fn crv(&self) -> &str {
        &self.crv
    }

    /// Whether the JWK holds a private key (`d`).
    #[must_use]
    pub fn is_private(&self) -> bool {
        self.d.is_some()
    }

    /// The same JWK without its private member.
    #[must_use]
    pub fn to_public(&self) -> Self {
        Self {
            d: None,
            ..self.clone()
        }
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url without padding) of the public key: a stable
    /// identifier derived from the key itself.
    #[must_use]
    pub fn thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.thumbprint_digest())
    }

    /// The SHA-256 digest behind [`Jwk::thumbprint`].
    #[must_use]
    pub fn thumbprint_digest(&self) -> [u8; 32] {
        // RFC 7638 §3: the required public members, in lexicographic order, no whitespace.
        let mut object = Object::new();
        object.insert("crv", Value::from(self.crv.as_str()));
        object.insert("kty", Value::from(self.kty.as_str()));
        object.insert("x", Value::from(self.x.as_str()));
        if let Some(y) = &self.y {
            object.insert("y", Value::from(y.as_str()));
        }
        // Serialising an object of strings cannot fail.
        let text = canonical::jcs(&Value::Object(object)).unwrap_or_default();
        Sha256::digest(text.as_bytes()).into()
    }
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Jwk")
            .field("kty", &self.kty)
            .field("crv", &self.crv)
            .field("x", &self.x)
            .field("y", &self.y)
            .field("d", &self.d.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"hello mcps";

    #[test]
    fn sign_verify_all_formats() {
        let p256 = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let public = p256.verifying_key();
        let der = p256.sign(MESSAGE, SignatureFormat::Der).unwrap();
        let fixed = p256.sign(MESSAGE, SignatureFormat::P1363).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(der_to_p1363(&der).unwrap().to_vec(), fixed);
        assert_eq!(p1363_to_der(&fixed).unwrap(), der);
        public
            .verify(MESSAGE, &der, &SignaturePolicy::PROFILE_A)
            .unwrap();
        public
            .verify(MESSAGE, &fixed, &SignaturePolicy::P1363_LOW_S)
            .unwrap();
        public
            .verify(MESSAGE, &der, &SignaturePolicy::ANY_LOW_S)
            .unwrap();
        public
            .verify(MESSAGE, &fixed, &SignaturePolicy::ANY_LOW_S)
            .unwrap();
        assert!(matches!(
            public.verify(MESSAGE, &fixed, &SignaturePolicy::PROFILE_A),
            Err(Error::BadSignatureEncoding(_))
        ));
        assert!(matches!(
            public.verify(MESSAGE, &der, &SignaturePolicy::P1363_LOW_S),
            Err(Error::BadSignatureEncoding(_))
        ));
        assert_eq!(
            public.verify(b"other", &der, &SignaturePolicy::PROFILE_A),
            Err(Error::BadSignature)
        );

        let ed = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let sig = ed.sign(MESSAGE, SignatureFormat::P1363).unwrap();
        ed.verifying_key()
            .verify(MESSAGE, &sig, &SignaturePolicy::P1363_LOW_S)
            .unwrap();
        assert!(matches!(
            ed.sign(MESSAGE, SignatureFormat::Der),
            Err(Error::Unsupported(_))
        ));
        assert_eq!(
            ed.verifying_key()
                .verify(b"other", &sig, &SignaturePolicy::P1363_LOW_S),
            Err(Error::BadSignature)
        );
    }

    #[test]
    fn emits_low_s_and_policy_controls_high_s() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let public = key.verifying_key();
        for i in 0..32u8 {
            let message = [i; 7];
            let fixed = key.sign(&message, SignatureFormat::P1363).unwrap();
            let signature = p256::ecdsa::Signature::from_slice(&fixed).unwrap();
            assert!(!bool::from(signature.s().is_high()));
            // The malleated twin (r, n - s) is high-S: valid, but only under a lenient policy.
            let twin = p256::ecdsa::Signature::from_scalars(
                signature.r().to_bytes(),
                (-*signature.s()).to_bytes(),
            )
            .unwrap();
            let twin_bytes = twin.to_bytes();
            public
                .verify(&message, &twin_bytes, &SignaturePolicy::P1363_COMPAT)
                .unwrap();
            assert!(matches!(
                public.verify(&message, &twin_bytes, &SignaturePolicy::P1363_LOW_S),
                Err(Error::BadSignatureEncoding(_))
            ));
            public
                .verify(
                    &message,
                    twin.to_der().as_bytes(),
                    &SignaturePolicy::PROFILE_A,
                )
                .unwrap();
        }
    }

    #[test]
    fn pem_round_trips() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = SigningKey::generate(algorithm).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
            let again = SigningKey::from_pem(&pem).unwrap();
            assert_eq!(again.algorithm(), algorithm);
            assert_eq!(again.verifying_key(), key.verifying_key());
            let public_pem = key.verifying_key().to_spki_pem().unwrap();
            assert!(public_pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));
            assert_eq!(
                VerifyingKey::from_spki_pem(&public_pem).unwrap(),
                key.verifying_key()
            );
        }
    }

    #[test]
    fn sec1_pem_loads() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let SecretInner::P256(inner) = &key.inner else {
            panic!("not p-256")
        };
        let secret = p256::SecretKey::from(inner);
        let sec1 = secret.to_sec1_pem(LineEnding::LF).unwrap();
        assert!(sec1.starts_with("-----BEGIN EC PRIVATE KEY-----"));
        assert_eq!(
            SigningKey::from_pem(&sec1).unwrap().verifying_key(),
            key.verifying_key()
        );
    }

    #[test]
    fn jwk_round_trips() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = SigningKey::generate(algorithm).unwrap();
            let private = key.to_jwk();
            assert!(private.is_private());
            assert!(!format!("{private:?}").contains(private.d.as_deref().unwrap().as_str()));
            let parsed = Jwk::parse(&private.to_json().unwrap()).unwrap();
            assert_eq!(parsed, private);
            assert_eq!(
                SigningKey::from_jwk(&parsed).unwrap().verifying_key(),
                key.verifying_key()
            );
            let public = private.to_public();
            assert!(SigningKey::from_jwk(&public).is_err());
            assert_eq!(
                VerifyingKey::from_jwk(&public).unwrap(),
                key.verifying_key()
            );
            assert_eq!(public.thumbprint(), private.thumbprint());
        }
    }

    #[test]
    fn jwk_rejects_inconsistent_or_foreign_keys() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let other = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let mut mixed = key.to_jwk();
        mixed.d = other.to_jwk().d;
        assert!(matches!(
            SigningKey::from_jwk(&mixed),
            Err(Error::BadKey(_))
        ));
        let mut off_curve = key.verifying_key().to_jwk();
        off_curve.y = Some(URL_SAFE_NO_PAD.encode([1u8; 32]));
        assert!(VerifyingKey::from_jwk(&off_curve).is_err());
        let p384 = Jwk::parse(r#"{"kty":"EC","crv":"P-384","x":"AA","y":"AA"}"#).unwrap();
        assert!(VerifyingKey::from_jwk(&p384).is_err());
        assert!(Jwk::parse(r#"{"kty":"EC","crv":"P-256","x":1}"#).is_err());
    }

    #[test]
    fn key_thumbprints_are_computed_once_and_do_not_affect_equality() {
        for algorithm in [Algorithm::EcdsaP256, Algorithm::Ed25519] {
            let key = SigningKey::generate(algorithm).unwrap();
            let fresh = key.verifying_key();
            let expected = fresh.to_jwk().thumbprint();
            assert!(fresh.thumbprint.get().is_none());
            assert_eq!(key.thumbprint(), expected);
            // Public keys taken from the signing key afterwards carry it along.
            let carried = key.verifying_key();
            assert_eq!(carried.thumbprint.get(), Some(&expected));
            assert_eq!(carried, fresh);
            assert_eq!(fresh.thumbprint(), expected);
            let pem = fresh.to_spki_pem().unwrap();
            assert_eq!(
                VerifyingKey::from_spki_pem(&pem).unwrap().thumbprint(),
                expected
            );
            let other = SigningKey::generate(algorithm).unwrap();
            assert_ne!(other.thumbprint(), expected);
        }
    }

    /// RFC 7638 §3: required members only, sorted, no whitespace.
    #[test]
    fn thumbprint_member_layout() {
        let ec = Jwk::parse(r#"{"kty":"EC","crv":"P-256","x":"a","y":"b"}"#).unwrap();
        let expected = URL_SAFE_NO_PAD.encode(Sha256::digest(
            br#"{"crv":"P-256","kty":"EC","x":"a","y":"b"}"#,
        ));
        assert_eq!(ec.thumbprint(), expected);
    }
}
