//! Agent passports of profiles A and B: create, sign, verify and validate.
//!
//! A passport is a JSON object describing an agent and its public key, signed by an issuer
//! (a trust authority, or the agent itself for `"issuer": "self"`):
//!
//! ```text
//! {"mcps_version": "1.0.0", "passport_id": "asp_<32 hex>",
//!  "agent": {"name": …, "version": …, "capabilities": [...]},
//!  "public_key": {"kty": "EC", "crv": "P-256", "x": …, "y": …},
//!  "scan": {…} | null, "trust_level": 1 | 3,
//!  "issued_at": "…Z", "expires_at": "…Z", "issuer": "self" | …,
//!  "signature": "<base64 DER ECDSA P-256>"}
//! ```
//!
//! The signature covers [`canonical::profile_a`] of the passport without its `signature` member
//! (sorted keys, compact, Python leaves — not RFC 8785). Member order on the wire is irrelevant.
//!
//! # Profile B
//!
//! Profile B (`mcps-secure` 1.0.0) passports have the same members plus `origin` (a URI or
//! `null`) and `issuer_chain` (a list), `mcps_version` `"1.0"`, and a trust level of 0 for
//! self-issued passports. Their signature is a 64-byte P1363 `r‖s` ECDSA P-256 signature
//! (standard base64) over [`canonical::profile_b`] of the passport without `signature`.
//! [`Passport::create_for`] makes either kind; [`Passport::profile`] tells them apart by
//! `mcps_version` (which the signature covers), and [`Passport::sign`],
//! [`Passport::verify_signature`] and [`Passport::validate`] follow it. Profile B signatures are
//! verified low-S only, as profile B envelopes are (the reference only ever emits low-S).
//!
//! # Stricter than the reference
//!
//! [`Passport::validate`] checks every member's type and format, not just truthiness: a valid
//! P-256 JWK, strict UTC timestamps with `issued_at ≤ expires_at`, `issued_at` not in the future,
//! a well-formed `asp_…` id, `mcps_version` `"1.0.0"` (or `"1.0"`), `origin` a string or `null`,
//! and the size and issuer-chain limits of
//! [`PassportLimits`]. [`Passport::sign`] replaces an existing signature instead of signing it.
//!
//! The `trust_level` member is written by the passport's creator and is therefore only a claim
//! ([`PassportInfo::claimed_trust_level`]); nothing in a passport proves it.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::Profile;
use crate::canonical::{self, Object, ParseOptions, Value};
use crate::error::Error;
use crate::keys::{Algorithm, Jwk, SignatureFormat, SignaturePolicy, SigningKey, VerifyingKey};
use crate::profile_a::check_passport_id;
use crate::time::Timestamp;

/// The `mcps_version` of profile A passports.
pub const VERSION: &str = "1.0.0";

/// The `mcps_version` of profile B passports.
pub const VERSION_B: &str = "1.0";

/// The reference's default lifetime, 365 days.
pub const DEFAULT_TTL: Duration = Duration::from_secs(365 * 86_400);

/// Limits applied by [`Passport::validate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PassportLimits {
    /// Largest accepted size of the passport's canonical form, in bytes.
    pub max_bytes: usize,
    /// Longest accepted `issuer_chain` (a profile B member; checked when present).
    pub max_chain_depth: usize,
    /// Most capabilities accepted.
    pub max_capabilities: usize,
    /// How far in the future `issued_at` may be.
    pub max_clock_skew: Duration,
}

impl Default for PassportLimits {
    /// 8192 bytes, chain depth 5, 64 capabilities (the limits profile B introduced) and 300 s
    /// of clock skew.
    fn default() -> Self {
        Self {
            max_bytes: 8192,
            max_chain_depth: 5,
            max_capabilities: 64,
            max_clock_skew: Duration::from_secs(300),
        }
    }
}

/// The contents of a new passport; see [`Passport::create`].
#[derive(Debug, Clone)]
pub struct NewPassport {
    /// `agent.name`.
    pub name: String,
    /// `agent.version`.
    pub version: String,
    /// `agent.capabilities`.
    pub capabilities: Vec<String>,
    /// The agent's public key.
    pub public_key: VerifyingKey,
    /// Scan results, if any (`scan`).
    pub scan: Option<Value>,
    /// The claimed trust level; `None` applies the reference's rule (3 with scan results,
    /// otherwise 1).
    pub trust_level: Option<u8>,
    /// `issuer`.
    pub issuer: String,
    /// `issued_at`.
    pub issued_at: Timestamp,
    /// Lifetime; `expires_at` = `issued_at` + `ttl`.
    pub ttl: Duration,
    /// The passport id; `None` draws `asp_` + 32 random hex digits.
    pub passport_id: Option<String>,
    /// `origin`, the URI of the server the agent is meant for (profile B only).
    pub origin: Option<String>,
}

impl NewPassport {
    /// A self-issued passport for `name` with the reference's defaults: version `"1.0.0"`, no
    /// capabilities, no scan, a 365-day lifetime.
    #[must_use]
    pub fn new(name: impl Into<String>, public_key: VerifyingKey, issued_at: Timestamp) -> Self {
        Self {
            name: name.into(),
            version: "1.0.0".into(),
            capabilities: Vec::new(),
            public_key,
            scan: None,
            trust_level: None,
            issuer: "self".into(),
            issued_at,
            ttl: DEFAULT_TTL,
            passport_id: None,
            origin: None,
        }
    }
}

/// What [`Passport::validate`] established.
#[derive(Debug, Clone, PartialEq)]
pub struct PassportInfo {
    /// `passport_id`.
    pub passport_id: String,
    /// `agent.name`.
    pub agent_name: String,
    /// `agent.version`.
    pub agent_version: String,
    /// `agent.capabilities`.
    pub capabilities: Vec<String>,
    /// The agent's key from `public_key`.
    pub public_key: VerifyingKey,
    /// `trust_level` as written by the passport's creator: a claim, not a verified fact.
    pub claimed_trust_level: u8,
    /// `issued_at`.
    pub issued_at: Timestamp,
    /// `expires_at`.
    pub expires_at: Timestamp,
    /// `issuer`.
    pub issuer: String,
    /// The profile, from `mcps_version`.
    pub profile: Profile,
    /// `origin`, a profile B member (`None` when absent or `null`).
    pub origin: Option<String>,
}

/// A profile A or B passport, kept as its JSON object (member order preserved).
#[derive(Debug, Clone, PartialEq)]
pub struct Passport {
    object: Object,
}

impl Passport {
    /// Builds an unsigned profile A passport; [`Passport::create_for`] with [`Profile::A`].
    ///
    /// # Errors
    ///
    /// As [`Passport::create_for`].
    pub fn create(new: NewPassport) -> Result<Self, Error> {
        Self::create_for(Profile::A, new)
    }

    /// Builds an unsigned passport of `profile`, with the members in the reference's order.
    ///
    /// Without an explicit `trust_level` the reference's rule applies: profile A claims 3 with
    /// scan results and 1 otherwise; profile B claims 0 for a self-issued passport (`issuer`
    /// `"self"`), else 3 with scan results and 1 otherwise.
    ///
    /// # Errors
    ///
    /// [`Error::WrongKeyType`] unless the key is P-256 (passports carry EC JWKs);
    /// [`Error::BadPassportId`] for a malformed explicit id; [`Error::PassportMalformed`] for an
    /// empty name or issuer, a trust level above 4, a non-object scan, or an `origin` in a
    /// profile A passport; [`Error::BadTimestamp`] for times outside years 0001 to 9999;
    /// [`Error::Random`].
    pub fn create_for(profile: Profile, new: NewPassport) -> Result<Self, Error> {
        if profile == Profile::A && new.origin.is_some() {
            return Err(Error::PassportMalformed(
                "`origin` exists only in profile b passports",
            ));
        }
        if new.public_key.algorithm() != Algorithm::EcdsaP256 {
            return Err(Error::WrongKeyType("profile a passports carry p-256 keys"));
        }
        if new.name.is_empty() || new.issuer.is_empty() {
            return Err(Error::PassportMalformed("empty agent name or issuer"));
        }
        let passport_id = match new.passport_id {
            Some(id) => {
                check_passport_id(&id)?;
                id
            }
            None => random_passport_id()?,
        };
        let scan = new.scan.unwrap_or(Value::Null);
        if !matches!(scan, Value::Null | Value::Object(_)) {
            return Err(Error::PassportMalformed("`scan` must be an object or null"));
        }
        scan.check_strict()?;
        let default_level = match profile {
            Profile::B if new.issuer == "self" => 0,
            _ if scan.is_truthy() => 3,
            _ => 1,
        };
        let trust_level = new.trust_level.unwrap_or(default_level);
        if trust_level > 4 {
            return Err(Error::PassportMalformed("`trust_level` must be 0 to 4"));
        }

        let mut agent = Object::new();
        agent.insert("name", Value::from(new.name));
        agent.insert("version", Value::from(new.version));
        agent.insert(
            "capabilities",
            Value::Array(new.capabilities.into_iter().map(Value::from).collect()),
        );

        let mut object = Object::new();
        let version = match profile {
            Profile::A => VERSION,
            Profile::B => VERSION_B,
        };
        object.insert("mcps_version", Value::from(version));
        object.insert("passport_id", Value::from(passport_id));
        object.insert("agent", Value::Object(agent));
        object.insert("public_key", new.public_key.to_jwk().to_value());
        if profile == Profile::B {
            object.insert("origin", new.origin.map_or(Value::Null, Value::from));
        }
        object.insert("scan", scan);
        object.insert("trust_level", Value::from(trust_level));
        object.insert("issued_at", Value::from(new.issued_at.to_rfc3339_micros()?));
        object.insert(
            "expires_at",
            Value::from(new.issued_at.saturating_add(new.ttl).to_rfc3339_micros()?),
        );
        object.insert("issuer", Value::from(new.issuer));
        if profile == Profile::B {
            object.insert("issuer_chain", Value::Array(Vec::new()));
        }
        Ok(Self { object })
    }

    /// The profile this passport belongs to: [`Profile::B`] when `mcps_version` is `"1.0"`,
    /// otherwise [`Profile::A`] (whose [`Passport::validate`] then checks the version).
    #[must_use]
    pub fn profile(&self) -> Profile {
        match self.object.get("mcps_version").and_then(Value::as_str) {
            Some(VERSION_B) => Profile::B,
            _ => Profile::A,
        }
    }

    /// Sets the `issuer` member (before signing). For a profile B passport whose
    /// `trust_level` followed the reference's default rule, the level is updated to match the
    /// new issuer (0 for `"self"`, else 3 with scan results and 1 otherwise).
    ///
    /// # Errors
    ///
    /// [`Error::PassportMalformed`] for an empty issuer.
    pub fn set_issuer(&mut self, issuer: &str) -> Result<(), Error> {
        if issuer.is_empty() {
            return Err(Error::PassportMalformed("empty issuer"));
        }
        if self.profile() == Profile::B {
            let scanned = self.object.get("scan").is_some_and(Value::is_truthy);
            let rule = |issuer: &str| match issuer {
                "self" => 0,
                _ if scanned => 3,
                _ => 1,
            };
            let current_issuer = self.object.get("issuer").and_then(Value::as_str);
            let current_level = self.object.get("trust_level").and_then(Value::as_i64);
            if current_issuer.is_some_and(|old| current_level == Some(rule(old))) {
                self.object.insert("trust_level", Value::from(rule(issuer)));
            }
        }
        self.object.insert("issuer", Value::from(issuer));
        Ok(())
    }

    /// Parses a passport from JSON text (strict JSON: no duplicate keys, NaN or lone
    /// surrogates).
    ///
    /// # Errors
    ///
    /// [`Error::Json`], or [`Error::PassportMalformed`] if the text is not an object.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Self::from_value(canonical::parse(text, &ParseOptions::STRICT)?)
    }

    /// Wraps a parsed passport.
    ///
    /// # Errors
    ///
    /// [`Error::PassportMalformed`] if `value` is not an object; [`Error::NonFiniteNumber`] or
    /// [`Error::LoneSurrogate`] if it holds values strict JSON cannot carry.
    pub fn from_value(value: Value) -> Result<Self, Error> {
        let Value::Object(object) = value else {
            return Err(Error::PassportMalformed("passport is not a json object"));
        };
        let passport = Self { object };
        passport.to_value().check_strict()?;
        Ok(passport)
    }

    /// The passport's members.
    #[must_use]
    pub fn as_object(&self) -> &Object {
        &self.object
    }

    /// The passport as a JSON value.
    #[must_use]
    pub fn to_value(&self) -> Value {
        Value::Object(self.object.clone())
    }

    /// The passport as JSON text, written as CPython's `json.dumps` would.
    ///
    /// # Errors
    ///
    /// [`Error::TooDeep`] for absurdly nested members.
    pub fn to_json(&self) -> Result<String, Error> {
        canonical::python_dumps(&self.to_value())
    }

    /// The `passport_id` member, if it is a string.
    #[must_use]
    pub fn passport_id(&self) -> Option<&str> {
        self.object.get("passport_id").and_then(Value::as_str)
    }

    /// The `signature` member, if it is a string.
    #[must_use]
    pub fn signature(&self) -> Option<&str> {
        self.object.get("signature").and_then(Value::as_str)
    }

    /// The text the signature covers: [`canonical::profile_a`] (profile B:
    /// [`canonical::profile_b`]) of every member except `signature`.
    ///
    /// # Errors
    ///
    /// [`Error::TooDeep`] for absurdly nested members; for profile B also
    /// [`Error::NonFiniteNumber`] and [`Error::LoneSurrogate`].
    pub fn signing_input(&self) -> Result<String, Error> {
        let mut unsigned = self.object.clone();
        unsigned.remove("signature");
        match self.profile() {
            Profile::A => canonical::profile_a(&Value::Object(unsigned)),
            Profile::B => canonical::profile_b(&Value::Object(unsigned)),
        }
    }

    fn signature_format(&self) -> (SignatureFormat, SignaturePolicy) {
        match self.profile() {
            Profile::A => (SignatureFormat::Der, SignaturePolicy::PROFILE_A),
            Profile::B => (SignatureFormat::P1363, SignaturePolicy::P1363_LOW_S),
        }
    }

    /// Signs the passport with the issuer's key, replacing any existing signature: DER for
    /// profile A, P1363 for profile B.
    ///
    /// # Errors
    ///
    /// [`Error::WrongKeyType`] unless the key is P-256; [`Error::SigningFailed`].
    pub fn sign(&mut self, issuer_key: &SigningKey) -> Result<(), Error> {
        if issuer_key.algorithm() != Algorithm::EcdsaP256 {
            return Err(Error::WrongKeyType(
                "profile a passports are signed with p-256 keys",
            ));
        }
        self.object.remove("signature");
        let data = self.signing_input()?;
        let signature = issuer_key.sign(data.as_bytes(), self.signature_format().0)?;
        self.object
            .insert("signature", Value::from(STANDARD.encode(signature)));
        Ok(())
    }

    /// Checks the signature against the issuer's key.
    ///
    /// # Errors
    ///
    /// [`Error::PassportUnsigned`] without a `signature`; [`Error::PassportBadSignature`] if it
    /// is not canonical base64 of the profile's encoding (DER for A, 64-byte low-S P1363 for
    /// B) or does not verify; [`Error::WrongKeyType`] unless the key is
    /// P-256.
    pub fn verify_signature(&self, issuer_key: &VerifyingKey) -> Result<(), Error> {
        if issuer_key.algorithm() != Algorithm::EcdsaP256 {
            return Err(Error::WrongKeyType(
                "profile a passports are signed with p-256 keys",
            ));
        }
        let signature = match self.object.get("signature") {
            None | Some(Value::Null) => return Err(Error::PassportUnsigned),
            Some(value) => value.as_str().ok_or(Error::PassportBadSignature)?,
        };
        let signature = STANDARD
            .decode(signature)
            .map_err(|_| Error::PassportBadSignature)?;
        let data = self.signing_input()?;
        issuer_key
            .verify(data.as_bytes(), &signature, &self.signature_format().1)
            .map_err(|_| Error::PassportBadSignature)
    }

    /// Checks format, limits and validity period at `now` (not the signature).
    ///
    /// # Errors
    ///
    /// [`Error::PassportTooLarge`], [`Error::PassportChainTooDeep`],
    /// [`Error::PassportMalformed`], [`Error::PassportNotYetValid`], [`Error::PassportExpired`].
    pub fn validate(&self, now: Timestamp, limits: &PassportLimits) -> Result<PassportInfo, Error> {
        let profile = self.profile();
        let size = match profile {
            Profile::A => canonical::profile_a(&self.to_value())?.len(),
            Profile::B => canonical::profile_b(&self.to_value())?.len(),
        };
        if size > limits.max_bytes {
            return Err(Error::PassportTooLarge {
                size,
                limit: limits.max_bytes,
            });
        }
        match self.object.get("issuer_chain") {
            None | Some(Value::Null) => {}
            Some(Value::Array(chain)) if chain.len() > limits.max_chain_depth => {
                return Err(Error::PassportChainTooDeep {
                    depth: chain.len(),
                    limit: limits.max_chain_depth,
                });
            }
            Some(Value::Array(_)) => {}
            Some(_) => return Err(Error::PassportMalformed("`issuer_chain` is not an array")),
        }

        let text = |name: &str, what: &'static str| -> Result<String, Error> {
            self.object
                .get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .ok_or(Error::PassportMalformed(what))
        };
        let version = text("mcps_version", "`mcps_version` is missing or not a string")?;
        if version != VERSION && version != VERSION_B {
            return Err(Error::PassportMalformed(
                "`mcps_version` is neither 1.0.0 nor 1.0",
            ));
        }
        let origin = match self.object.get("origin") {
            None | Some(Value::Null) => None,
            Some(value) => Some(
                value
                    .as_str()
                    .ok_or(Error::PassportMalformed("`origin` is not a string or null"))?
                    .to_owned(),
            ),
        };
        let passport_id = text("passport_id", "`passport_id` is missing or not a string")?;
        check_passport_id(&passport_id)
            .map_err(|_| Error::PassportMalformed("`passport_id` is not of the form asp_…"))?;

        let agent =
            self.object
                .get("agent")
                .and_then(Value::as_object)
                .ok_or(Error::PassportMalformed(
                    "`agent` is missing or not an object",
                ))?;
        let agent_name = agent
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or(Error::PassportMalformed(
                "`agent.name` is missing or not a string",
            ))?
            .to_owned();
        let agent_version = agent
            .get("version")
            .and_then(Value::as_str)
            .ok_or(Error::PassportMalformed(
                "`agent.version` is missing or not a string",
            ))?
            .to_owned();
        let capabilities = match agent.get("capabilities") {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() > limits.max_capabilities {
                    return Err(Error::PassportMalformed("too many capabilities"));
                }
                items
                    .iter()
                    .map(|item| item.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()
                    .ok_or(Error::PassportMalformed("a capability is not a string"))?
            }
            Some(_) => {
                return Err(Error::PassportMalformed(
                    "`agent.capabilities` is not an array",
                ));
            }
        };

        let public_key = match self.object.get("public_key") {
            None | Some(Value::Null) => return Err(Error::PassportMalformed("no `public_key`")),
            Some(jwk) => Jwk::from_value(jwk)
                .and_then(|jwk| VerifyingKey::from_jwk(&jwk))
                .map_err(|_| Error::PassportMalformed("`public_key` is not a valid jwk"))?,
        };
        if public_key.algorithm() != Algorithm::EcdsaP256 {
            return Err(Error::PassportMalformed("`public_key` is not a p-256 key"));
        }

        match self.object.get("scan") {
            None | Some(Value::Null | Value::Object(_)) => {}
            Some(_) => return Err(Error::PassportMalformed("`scan` is not an object or null")),
        }
        let claimed_trust_level = self
            .object
            .get("trust_level")
            .and_then(Value::as_i64)
            .and_then(|level| u8::try_from(level).ok())
            .filter(|level| *level <= 4)
            .ok_or(Error::PassportMalformed(
                "`trust_level` is not an integer from 0 to 4",
            ))?;
        let issuer = text("issuer", "`issuer` is missing or not a string")?;

        let time = |name: &str, what: &'static str| {
            self.object
                .get(name)
                .and_then(Value::as_str)
                .and_then(|s| Timestamp::parse(s).ok())
                .ok_or(Error::PassportMalformed(what))
        };
        let issued_at = time("issued_at", "`issued_at` is not a utc timestamp")?;
        let expires_at = time("expires_at", "`expires_at` is not a utc timestamp")?;
        // Expiry first: a passport past its `expires_at` is expired whatever else is wrong
        // with its dates.
        if now > expires_at {
            return Err(Error::PassportExpired);
        }
        if issued_at > now.saturating_add(limits.max_clock_skew) {
            return Err(Error::PassportNotYetValid);
        }
        if expires_at < issued_at {
            return Err(Error::PassportMalformed(
                "`expires_at` is before `issued_at`",
            ));
        }

        Ok(PassportInfo {
            passport_id,
            agent_name,
            agent_version,
            capabilities,
            public_key,
            claimed_trust_level,
            issued_at,
            expires_at,
            issuer,
            profile,
            origin,
        })
    }

    /// Sets the `issuer_chain` member (before signing) to `entries`, each the standard base64
    /// of an issuer's passport JSON ([`crate::trust::chain_entry`]), nearest issuer first.
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a profile A passport, which has no issuer chain.
    pub fn set_issuer_chain(&mut self, entries: Vec<String>) -> Result<(), Error> {
        if self.profile() != Profile::B {
            return Err(Error::Unsupported(
                "an issuer chain in a profile a passport",
            ));
        }
        self.object.insert(
            "issuer_chain",
            Value::Array(entries.into_iter().map(Value::from).collect()),
        );
        Ok(())
    }

    /// The raw `issuer_chain` entries (a profile B member), or an empty slice without one.
    pub(crate) fn issuer_chain(&self) -> &[Value] {
        match self.object.get("issuer_chain") {
            Some(Value::Array(chain)) => chain,
            _ => &[],
        }
    }

    /// [`Passport::validate`], then [`Passport::verify_signature`].
    ///
    /// # Errors
    ///
    /// As those two.
    pub fn verify(
        &self,
        issuer_key: &VerifyingKey,
        now: Timestamp,
        limits: &PassportLimits,
    ) -> Result<PassportInfo, Error> {
        let info = self.validate(now, limits)?;
        self.verify_signature(issuer_key)?;
        Ok(info)
    }
}

/// The passport id bound to `key`: `asp_` followed by the first 32 hex digits of the SHA-256
/// digest of the key's RFC 7638 thumbprint input, so the id can only belong to that key.
///
/// Profile A and B passports usually carry random ids (the references draw them); a verifier
/// that wants ids tied to keys requires this form
/// ([`crate::trust::ChainOptions::require_bound_ids`]).
#[must_use]
pub fn bound_passport_id(key: &VerifyingKey) -> String {
    let digest = key.to_jwk().thumbprint_digest();
    format!("asp_{}", crate::hex::encode(&digest[..16]))
}

fn random_passport_id() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| Error::Random)?;
    Ok(format!("asp_{}", crate::hex::encode(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::RejectCode;

    const NOW: Timestamp = Timestamp::from_unix_micros(1_795_363_523_250_000);

    fn keys() -> (SigningKey, SigningKey) {
        (
            SigningKey::generate(Algorithm::EcdsaP256).unwrap(),
            SigningKey::generate(Algorithm::EcdsaP256).unwrap(),
        )
    }

    fn signed(agent: &SigningKey, authority: &SigningKey) -> Passport {
        let mut new = NewPassport::new("weather-agent", agent.verifying_key(), NOW);
        new.capabilities = vec!["tools/call".into()];
        let mut passport = Passport::create(new).unwrap();
        passport.sign(authority).unwrap();
        passport
    }

    #[test]
    fn create_sign_verify() {
        let (agent, authority) = keys();
        let passport = signed(&agent, &authority);
        let id = passport.passport_id().unwrap();
        assert!(id.starts_with("asp_") && id.len() == 36);
        let json = passport.to_json().unwrap();
        assert!(json.starts_with(r#"{"mcps_version": "1.0.0", "passport_id": "asp_"#));
        let parsed = Passport::parse(&json).unwrap();
        let info = parsed
            .verify(&authority.verifying_key(), NOW, &PassportLimits::default())
            .unwrap();
        assert_eq!(info.agent_name, "weather-agent");
        assert_eq!(info.public_key, agent.verifying_key());
        assert_eq!(info.claimed_trust_level, 1);
        assert_eq!(info.expires_at, NOW.saturating_add(DEFAULT_TTL));
        assert_eq!(
            parsed.verify_signature(&agent.verifying_key()),
            Err(Error::PassportBadSignature)
        );
    }

    #[test]
    fn resigning_replaces_the_signature() {
        let (agent, authority) = keys();
        let mut passport = signed(&agent, &authority);
        passport.sign(&agent).unwrap();
        passport.verify_signature(&agent.verifying_key()).unwrap();
        assert!(!passport.signing_input().unwrap().contains("signature"));
    }

    #[test]
    fn validity_period() {
        let (agent, authority) = keys();
        let passport = signed(&agent, &authority);
        let limits = PassportLimits::default();
        let after = NOW.saturating_add(DEFAULT_TTL + Duration::from_micros(1));
        assert_eq!(
            passport.validate(after, &limits).unwrap_err().reject_code(),
            RejectCode::PassportExpired
        );
        let before = NOW.saturating_sub(Duration::from_secs(301));
        assert_eq!(
            passport.validate(before, &limits),
            Err(Error::PassportNotYetValid)
        );
        assert!(
            passport
                .validate(NOW.saturating_add(DEFAULT_TTL), &limits)
                .is_ok()
        );
    }

    #[test]
    fn limits() {
        let (agent, authority) = keys();
        let mut new = NewPassport::new("big", agent.verifying_key(), NOW);
        new.capabilities = vec!["x".repeat(120); 70];
        let mut passport = Passport::create(new).unwrap();
        passport.sign(&authority).unwrap();
        assert!(matches!(
            passport.validate(NOW, &PassportLimits::default()),
            Err(Error::PassportTooLarge { .. })
        ));
        let mut chained = signed(&agent, &authority);
        chained
            .object
            .insert("issuer_chain", Value::Array(vec![Value::from("x"); 6]));
        assert_eq!(
            chained.validate(NOW, &PassportLimits::default()),
            Err(Error::PassportChainTooDeep { depth: 6, limit: 5 })
        );
    }

    #[test]
    fn malformed_members() {
        let (agent, authority) = keys();
        let base = signed(&agent, &authority);
        let limits = PassportLimits::default();
        for (name, value) in [
            ("passport_id", Value::from("ap_123")),
            ("public_key", Value::Null),
            ("public_key", Value::from("key")),
            ("trust_level", Value::from(7)),
            ("trust_level", Value::from(1.0)),
            ("expires_at", Value::from("2099-01-01T00:00:00")),
            ("issued_at", Value::from("not-a-date")),
            ("agent", Value::from("x")),
            ("mcps_version", Value::from("2.0")),
            ("scan", Value::from(1)),
        ] {
            let mut passport = base.clone();
            passport.object.insert(name, value);
            assert_eq!(
                passport.validate(NOW, &limits).unwrap_err().reject_code(),
                RejectCode::PassportMalformed,
                "{name}"
            );
        }
        let mut unsigned = base.clone();
        unsigned.object.remove("signature");
        assert_eq!(
            unsigned.verify_signature(&authority.verifying_key()),
            Err(Error::PassportUnsigned)
        );
    }
    #[test]
    fn profile_b_create_sign_verify() {
        let (agent, authority) = keys();
        let mut new = NewPassport::new("b-agent", agent.verifying_key(), NOW);
        new.origin = Some("https://api.example.com".into());
        new.capabilities = vec!["tools/call".into()];
        let mut passport = Passport::create_for(Profile::B, new).unwrap();
        assert_eq!(passport.profile(), Profile::B);
        let keys: Vec<&str> = passport
            .as_object()
            .keys()
            .filter_map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "mcps_version",
                "passport_id",
                "agent",
                "public_key",
                "origin",
                "scan",
                "trust_level",
                "issued_at",
                "expires_at",
                "issuer",
                "issuer_chain"
            ]
        );
        assert_eq!(
            passport.as_object().get("trust_level"),
            Some(&Value::from(0)),
            "self-issued profile b passports claim level 0"
        );
        passport.set_issuer("example-ta").unwrap();
        assert_eq!(
            passport.as_object().get("trust_level"),
            Some(&Value::from(1))
        );
        passport.sign(&authority).unwrap();
        let signature = STANDARD.decode(passport.signature().unwrap()).unwrap();
        assert_eq!(signature.len(), 64, "p1363 r||s");
        assert!(
            passport
                .signing_input()
                .unwrap()
                .starts_with(r#"{"agent":{"#)
        );

        let parsed = Passport::parse(&passport.to_json().unwrap()).unwrap();
        let info = parsed
            .verify(&authority.verifying_key(), NOW, &PassportLimits::default())
            .unwrap();
        assert_eq!(info.profile, Profile::B);
        assert_eq!(info.origin.as_deref(), Some("https://api.example.com"));
        assert_eq!(info.issuer, "example-ta");
        assert_eq!(info.claimed_trust_level, 1);
        assert_eq!(
            parsed.verify_signature(&agent.verifying_key()),
            Err(Error::PassportBadSignature)
        );

        // The signature covers `mcps_version`: relabelling as profile A breaks it.
        let mut relabelled = parsed.clone();
        relabelled
            .object
            .insert("mcps_version", Value::from(VERSION));
        assert_eq!(
            relabelled.verify_signature(&authority.verifying_key()),
            Err(Error::PassportBadSignature)
        );
        let mut tampered = parsed;
        tampered
            .object
            .insert("origin", Value::from("https://evil.example"));
        assert_eq!(
            tampered.verify_signature(&authority.verifying_key()),
            Err(Error::PassportBadSignature)
        );
    }

    #[test]
    fn origin_rules() {
        let (agent, _) = keys();
        let mut new = NewPassport::new("a-agent", agent.verifying_key(), NOW);
        new.origin = Some("https://api.example.com".into());
        assert!(matches!(
            Passport::create(new),
            Err(Error::PassportMalformed(_))
        ));
        let new = NewPassport::new("b-agent", agent.verifying_key(), NOW);
        let mut passport = Passport::create_for(Profile::B, new).unwrap();
        passport.object.insert("origin", Value::from(5));
        assert_eq!(
            passport
                .validate(NOW, &PassportLimits::default())
                .unwrap_err()
                .reject_code(),
            RejectCode::PassportMalformed
        );
    }
}
