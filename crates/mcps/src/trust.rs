//! Trust levels computed from passports: a store of trusted issuers and verified issuer chains.
//!
//! A passport's own `trust_level` member is written by whoever created it, so on its own it
//! proves nothing. [`IssuerStore::verify`] computes the level instead:
//!
//! * a **self-issued** passport (`"issuer": "self"`) must verify under its own key and gets
//!   level 0, whatever it claims;
//! * a passport whose `issuer` names an issuer in the store must verify under that issuer's
//!   key; its level is the issuer's grant in the store, lowered to the passport's own
//!   `trust_level` if that is smaller (the level the issuer signed for it);
//! * otherwise the passport's `issuer_chain` (profile B: each entry the standard base64 of an
//!   intermediate issuer's passport JSON, nearest issuer first) is walked until an intermediate
//!   whose issuer is in the store. Every link is checked: the intermediate is a valid, unexpired
//!   passport (the same [`PassportLimits`]), it holds the [`ISSUER_CAPABILITY`], the child's
//!   `issuer` names it (its `passport_id` or `agent.name`), and the child's signature verifies
//!   under its key. The level is the anchor's grant lowered to every `trust_level` signed along
//!   the way, so an intermediate can never hand out more than it was given.
//!
//! The reference `verify_issuer_chain` checks none of the link, expiry or role conditions; a
//! chain that would pass there because of that is refused here with
//! [`Error::PassportChainBroken`]. Trailing entries after the anchor are not read; nested
//! chains inside intermediates are not followed.
//!
//! The result lists the passport ids of the intermediates, so the caller can check each for
//! revocation like the passport itself, and the earliest expiry along the chain.

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::canonical::Value;
use crate::error::Error;
use crate::keys::VerifyingKey;
use crate::passport::{Passport, PassportInfo, PassportLimits, bound_passport_id};
use crate::time::Timestamp;

/// The capability an intermediate issuer's passport must list to vouch for other passports.
pub const ISSUER_CAPABILITY: &str = "mcps:issue-passports";

/// The highest trust level.
pub const MAX_TRUST_LEVEL: u8 = 4;

/// An issuer the verifier trusts.
#[derive(Clone, PartialEq)]
pub struct TrustedIssuer {
    /// The name passports carry in `issuer`.
    pub name: String,
    /// The key its passport signatures verify under.
    pub key: VerifyingKey,
    /// The highest level a passport it vouches for can get, 0 to 4.
    pub max_trust_level: u8,
}

impl fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("name", &self.name)
            .field("max_trust_level", &self.max_trust_level)
            .finish_non_exhaustive()
    }
}

/// How [`IssuerStore::verify`] judges a passport.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChainOptions {
    /// Size, depth and clock limits, applied to the passport and to each intermediate.
    pub limits: PassportLimits,
    /// Refuse passports (and intermediates) whose id is not [`bound_passport_id`] of their key.
    pub require_bound_ids: bool,
    /// This verifier's origin (`https://gateway.example[:port]`): a passport whose `origin`
    /// names another server is refused (scheme, host and port compared, ASCII case-insensitive,
    /// default ports 80 and 443 made explicit; a path is ignored). Passports without an
    /// origin are accepted. `None`: origins are not checked.
    pub expected_origin: Option<String>,
}

/// A passport whose signatures and chain verified, with its computed trust level.
#[derive(Debug, Clone, PartialEq)]
pub struct TrustedPassport {
    /// What the passport says, validated.
    pub info: PassportInfo,
    /// The computed level, 0 to 4.
    pub trust_level: u8,
    /// The trusted issuer the chain ends at, or `None` for a self-issued passport.
    pub anchor: Option<String>,
    /// The passport ids of the intermediates between the passport and the anchor, nearest
    /// first.
    pub intermediates: Vec<String>,
    /// The earliest `expires_at` of the passport and its intermediates.
    pub expires_at: Timestamp,
    /// Whether the passport's id is [`bound_passport_id`] of its key.
    pub key_bound: bool,
}

/// The issuers a verifier trusts, by name.
#[derive(Debug, Clone, Default)]
pub struct IssuerStore {
    issuers: BTreeMap<String, TrustedIssuer>,
}

impl IssuerStore {
    /// An empty store: only self-issued passports verify (at level 0).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `issuer`.
    ///
    /// # Errors
    ///
    /// [`Error::PassportMalformed`] for an empty name, the name `self`, a level above 4, or a
    /// name already in the store.
    pub fn add(&mut self, issuer: TrustedIssuer) -> Result<(), Error> {
        if issuer.name.is_empty() || issuer.name == "self" {
            return Err(Error::PassportMalformed(
                "a trusted issuer needs a name other than `self`",
            ));
        }
        if issuer.max_trust_level > MAX_TRUST_LEVEL {
            return Err(Error::PassportMalformed(
                "a trusted issuer's level must be 0 to 4",
            ));
        }
        if self.issuers.contains_key(&issuer.name) {
            return Err(Error::PassportMalformed("a trusted issuer is listed twice"));
        }
        self.issuers.insert(issuer.name.clone(), issuer);
        Ok(())
    }

    /// The issuer called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&TrustedIssuer> {
        self.issuers.get(name)
    }

    /// How many issuers it holds.
    #[must_use]
    pub fn len(&self) -> usize {
        self.issuers.len()
    }

    /// Whether it holds no issuer.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Verifies `passport` at `now` and computes its trust level (see the module docs).
    ///
    /// # Errors
    ///
    /// The errors of [`Passport::validate`] for the passport or an intermediate;
    /// [`Error::PassportUnsigned`] / [`Error::PassportBadSignature`] when a signature is
    /// missing or does not verify; [`Error::PassportUntrustedIssuer`] when no trusted issuer
    /// is reached; [`Error::PassportChainBroken`] for a chain entry that does not link up;
    /// [`Error::PassportKeyUnbound`] when bound ids are required and an id is not.
    pub fn verify(
        &self,
        passport: &Passport,
        now: Timestamp,
        options: &ChainOptions,
    ) -> Result<TrustedPassport, Error> {
        let info = passport.validate(now, &options.limits)?;
        let key_bound = info.passport_id == bound_passport_id(&info.public_key);
        if options.require_bound_ids && !key_bound {
            return Err(Error::PassportKeyUnbound);
        }
        if let (Some(expected), Some(origin)) = (&options.expected_origin, &info.origin)
            && !same_origin(expected, origin)
        {
            return Err(Error::PassportOriginMismatch);
        }
        let mut expires_at = info.expires_at;

        if info.issuer == "self" {
            if !passport.issuer_chain().is_empty() {
                return Err(Error::PassportChainBroken(
                    "a self-issued passport has an issuer chain",
                ));
            }
            passport.verify_signature(&info.public_key)?;
            return Ok(TrustedPassport {
                info,
                trust_level: 0,
                anchor: None,
                intermediates: Vec::new(),
                expires_at,
                key_bound,
            });
        }

        if let Some(issuer) = self.issuers.get(&info.issuer) {
            passport.verify_signature(&issuer.key)?;
            let trust_level = issuer.max_trust_level.min(info.claimed_trust_level);
            return Ok(TrustedPassport {
                anchor: Some(issuer.name.clone()),
                info,
                trust_level,
                intermediates: Vec::new(),
                expires_at,
                key_bound,
            });
        }

        // Walk the chain: `child` is the passport the next entry must vouch for.
        let mut child = passport.clone();
        let mut child_issuer = info.issuer.clone();
        let mut level = info.claimed_trust_level;
        let mut intermediates = Vec::new();
        for entry in passport.issuer_chain() {
            let intermediate = decode_entry(entry)?;
            let inter = intermediate.validate(now, &options.limits)?;
            if options.require_bound_ids
                && inter.passport_id != bound_passport_id(&inter.public_key)
            {
                return Err(Error::PassportKeyUnbound);
            }
            if !inter.capabilities.iter().any(|c| c == ISSUER_CAPABILITY) {
                return Err(Error::PassportChainBroken(
                    "an issuer chain entry lacks the mcps:issue-passports capability",
                ));
            }
            if child_issuer != inter.passport_id && child_issuer != inter.agent_name {
                return Err(Error::PassportChainBroken(
                    "an issuer chain entry is not the issuer its child names",
                ));
            }
            if intermediates.contains(&inter.passport_id) || inter.passport_id == info.passport_id {
                return Err(Error::PassportChainBroken(
                    "an issuer chain entry appears twice",
                ));
            }
            child
                .verify_signature(&inter.public_key)
                .map_err(|error| match error {
                    Error::PassportBadSignature => Error::PassportChainBroken(
                        "a signature in the issuer chain does not verify",
                    ),
                    other => other,
                })?;
            level = level.min(inter.claimed_trust_level);
            expires_at = expires_at.min(inter.expires_at);
            intermediates.push(inter.passport_id.clone());

            if let Some(anchor) = self.issuers.get(&inter.issuer) {
                intermediate.verify_signature(&anchor.key)?;
                return Ok(TrustedPassport {
                    info,
                    trust_level: anchor.max_trust_level.min(level),
                    anchor: Some(anchor.name.clone()),
                    intermediates,
                    expires_at,
                    key_bound,
                });
            }
            child_issuer = inter.issuer;
            child = intermediate;
        }
        Err(Error::PassportUntrustedIssuer)
    }
}

/// Whether `origin` is usable as [`ChainOptions::expected_origin`]: `scheme://host[:port]`
/// (a path is ignored), no user info, a port for schemes other than `http` and `https`.
#[must_use]
pub fn is_origin(origin: &str) -> bool {
    origin_parts(origin).is_some()
}

/// Whether two origins (`scheme://host[:port][/…]`) name the same server.
fn same_origin(a: &str, b: &str) -> bool {
    matches!((origin_parts(a), origin_parts(b)), (Some(x), Some(y)) if x == y)
}

/// `(scheme, host, port)`, lowercased, with the default port of `http`/`https` filled in;
/// `None` for what is not an origin (no scheme, user info, an empty host or a bad port).
fn origin_parts(origin: &str) -> Option<(String, String, u16)> {
    let (scheme, rest) = origin.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    if scheme.is_empty() || authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = match authority.rfind(':') {
        Some(at) if !authority[at..].contains(']') => (
            &authority[..at],
            Some(authority[at + 1..].parse::<u16>().ok()?),
        ),
        _ => (authority, None),
    };
    let scheme = scheme.to_ascii_lowercase();
    let port = match (port, scheme.as_str()) {
        (Some(port), _) => port,
        (None, "https") => 443,
        (None, "http") => 80,
        (None, _) => return None,
    };
    if host.is_empty() {
        return None;
    }
    Some((scheme, host.to_ascii_lowercase(), port))
}

fn decode_entry(entry: &Value) -> Result<Passport, Error> {
    let text = entry.as_str().ok_or(Error::PassportChainBroken(
        "an issuer chain entry is not a string",
    ))?;
    let bytes = STANDARD
        .decode(text)
        .map_err(|_| Error::PassportChainBroken("an issuer chain entry is not standard base64"))?;
    let json = String::from_utf8(bytes)
        .map_err(|_| Error::PassportChainBroken("an issuer chain entry is not utf-8 json"))?;
    Passport::parse(&json)
}

/// The `issuer_chain` entry for `intermediate`: the standard base64 of its JSON.
///
/// # Errors
///
/// As [`Passport::to_json`].
pub fn chain_entry(intermediate: &Passport) -> Result<String, Error> {
    Ok(STANDARD.encode(intermediate.to_json()?))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Profile;
    use crate::error::RejectCode;
    use crate::keys::{Algorithm, SigningKey};
    use crate::passport::NewPassport;

    const NOW: Timestamp = Timestamp::from_unix_micros(1_795_363_523_250_000);

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::EcdsaP256).unwrap()
    }

    /// A profile B passport for `name`, issued by `issuer`, claiming `level`, signed by
    /// `signer`, with `chain` as its issuer chain.
    fn passport(
        name: &str,
        subject: &SigningKey,
        issuer: &str,
        level: u8,
        capabilities: &[&str],
        chain: &[&Passport],
        signer: &SigningKey,
    ) -> Passport {
        let mut new = NewPassport::new(name, subject.verifying_key(), NOW);
        new.issuer = issuer.into();
        new.trust_level = Some(level);
        new.capabilities = capabilities.iter().map(|c| (*c).to_owned()).collect();
        let mut passport = Passport::create_for(Profile::B, new).unwrap();
        let entries = chain.iter().map(|p| chain_entry(p).unwrap()).collect();
        passport.set_issuer_chain(entries).unwrap();
        passport.sign(signer).unwrap();
        passport
    }

    fn with_chain(passport: &Passport, entries: Vec<Value>) -> Passport {
        let Value::Object(mut object) = passport.to_value() else {
            unreachable!("a passport is an object")
        };
        object.insert("issuer_chain", Value::Array(entries));
        Passport::from_value(Value::Object(object)).unwrap()
    }

    fn store(root: &SigningKey, level: u8) -> IssuerStore {
        let mut store = IssuerStore::new();
        store
            .add(TrustedIssuer {
                name: "root-ta".into(),
                key: root.verifying_key(),
                max_trust_level: level,
            })
            .unwrap();
        store
    }

    fn code(result: Result<TrustedPassport, Error>) -> RejectCode {
        result.unwrap_err().reject_code()
    }

    #[test]
    fn self_issued_is_level_zero_whatever_it_claims() {
        let agent = key();
        let p = passport("agent", &agent, "self", 4, &[], &[], &agent);
        let trusted = IssuerStore::new()
            .verify(&p, NOW, &ChainOptions::default())
            .unwrap();
        assert_eq!(trusted.trust_level, 0);
        assert_eq!(trusted.anchor, None);
        // Self-issued but signed by someone else.
        let other = passport("agent", &agent, "self", 0, &[], &[], &key());
        assert_eq!(
            code(IssuerStore::new().verify(&other, NOW, &ChainOptions::default())),
            RejectCode::PassportBadSignature
        );
    }

    #[test]
    fn direct_issuer_grants_at_most_its_level() {
        let (root, agent) = (key(), key());
        let store = store(&root, 2);
        let claims_four = passport("agent", &agent, "root-ta", 4, &[], &[], &root);
        let trusted = store
            .verify(&claims_four, NOW, &ChainOptions::default())
            .unwrap();
        assert_eq!(trusted.trust_level, 2, "capped by the store's grant");
        assert_eq!(trusted.anchor.as_deref(), Some("root-ta"));
        let claims_one = passport("agent", &agent, "root-ta", 1, &[], &[], &root);
        assert_eq!(
            store
                .verify(&claims_one, NOW, &ChainOptions::default())
                .unwrap()
                .trust_level,
            1,
            "the issuer signed for level 1"
        );
        // Names the trusted issuer but is signed by another key.
        let forged = passport("agent", &agent, "root-ta", 4, &[], &[], &key());
        assert_eq!(
            code(store.verify(&forged, NOW, &ChainOptions::default())),
            RejectCode::PassportBadSignature
        );
        let unknown = passport("agent", &agent, "someone", 4, &[], &[], &root);
        assert_eq!(
            code(store.verify(&unknown, NOW, &ChainOptions::default())),
            RejectCode::PassportUntrustedIssuer
        );
    }

    #[test]
    fn chain_through_intermediates() {
        let (root, ca1, ca2, agent) = (key(), key(), key(), key());
        let store = store(&root, 4);
        let inter1 = passport("ca-1", &ca1, "root-ta", 3, &[ISSUER_CAPABILITY], &[], &root);
        let inter2 = passport("ca-2", &ca2, "ca-1", 4, &[ISSUER_CAPABILITY], &[], &ca1);
        let leaf = passport("agent", &agent, "ca-2", 4, &[], &[&inter2, &inter1], &ca2);
        let trusted = store.verify(&leaf, NOW, &ChainOptions::default()).unwrap();
        assert_eq!(trusted.trust_level, 3, "lowered to what ca-1 was given");
        assert_eq!(trusted.anchor.as_deref(), Some("root-ta"));
        assert_eq!(
            trusted.intermediates,
            vec![
                inter2.passport_id().unwrap().to_owned(),
                inter1.passport_id().unwrap().to_owned()
            ]
        );
        // The child may name its issuer by passport id too.
        let by_id = passport(
            "agent",
            &agent,
            inter2.passport_id().unwrap(),
            2,
            &[],
            &[&inter2, &inter1],
            &ca2,
        );
        assert_eq!(
            store
                .verify(&by_id, NOW, &ChainOptions::default())
                .unwrap()
                .trust_level,
            2
        );
    }

    #[test]
    fn broken_chains_are_refused() {
        let (root, ca1, ca2, agent) = (key(), key(), key(), key());
        let store = store(&root, 4);
        let options = ChainOptions::default();
        let inter1 = passport("ca-1", &ca1, "root-ta", 3, &[ISSUER_CAPABILITY], &[], &root);

        // The leaf names an issuer the entry is not (the reference accepts this).
        let leaf = passport("agent", &agent, "ca-9", 3, &[], &[&inter1], &ca1);
        assert_eq!(
            code(store.verify(&leaf, NOW, &options)),
            RejectCode::PassportChainBroken
        );
        // The entry is not allowed to issue passports.
        let plain = passport("ca-1", &ca1, "root-ta", 3, &[], &[], &root);
        let leaf = passport("agent", &agent, "ca-1", 3, &[], &[&plain], &ca1);
        assert_eq!(
            code(store.verify(&leaf, NOW, &options)),
            RejectCode::PassportChainBroken
        );
        // The leaf's signature is not the intermediate's.
        let leaf = passport("agent", &agent, "ca-1", 3, &[], &[&inter1], &ca2);
        assert_eq!(
            code(store.verify(&leaf, NOW, &options)),
            RejectCode::PassportChainBroken
        );
        // The intermediate's signature is not the anchor's.
        let forged = passport("ca-1", &ca1, "root-ta", 3, &[ISSUER_CAPABILITY], &[], &ca2);
        let leaf = passport("agent", &agent, "ca-1", 3, &[], &[&forged], &ca1);
        assert_eq!(
            code(store.verify(&leaf, NOW, &options)),
            RejectCode::PassportBadSignature
        );
        // The chain never reaches a trusted issuer.
        let rogue = passport(
            "ca-1",
            &ca1,
            "elsewhere",
            3,
            &[ISSUER_CAPABILITY],
            &[],
            &root,
        );
        let leaf = passport("agent", &agent, "ca-1", 3, &[], &[&rogue], &ca1);
        assert_eq!(
            code(store.verify(&leaf, NOW, &options)),
            RejectCode::PassportUntrustedIssuer
        );
        // An entry that is not base64 of a passport.
        let mut junk = with_chain(&leaf, vec![Value::from("%%%")]);
        junk.sign(&ca1).unwrap();
        assert_eq!(
            code(store.verify(&junk, NOW, &options)),
            RejectCode::PassportChainBroken
        );
    }

    #[test]
    fn expired_intermediate_and_depth_limit() {
        let (root, ca1, agent) = (key(), key(), key());
        let store = store(&root, 4);
        let mut new = NewPassport::new("ca-1", ca1.verifying_key(), NOW);
        new.issuer = "root-ta".into();
        new.capabilities = vec![ISSUER_CAPABILITY.into()];
        new.ttl = Duration::from_secs(60);
        let mut short = Passport::create_for(Profile::B, new).unwrap();
        short.sign(&root).unwrap();
        let leaf = passport("agent", &agent, "ca-1", 3, &[], &[&short], &ca1);
        let options = ChainOptions::default();
        let trusted = store.verify(&leaf, NOW, &options).unwrap();
        assert_eq!(
            trusted.expires_at,
            NOW.saturating_add(Duration::from_secs(60))
        );
        let later = NOW.saturating_add(Duration::from_secs(61));
        assert_eq!(
            code(store.verify(&leaf, later, &options)),
            RejectCode::PassportExpired
        );

        let inter = passport("ca-1", &ca1, "root-ta", 3, &[ISSUER_CAPABILITY], &[], &root);
        let leaf = passport(
            "agent",
            &agent,
            "ca-1",
            3,
            &[],
            &[&inter, &inter, &inter],
            &ca1,
        );
        let tight = ChainOptions {
            limits: PassportLimits {
                max_chain_depth: 2,
                ..PassportLimits::default()
            },
            ..ChainOptions::default()
        };
        assert_eq!(
            code(store.verify(&leaf, NOW, &tight)),
            RejectCode::PassportChainTooDeep
        );
    }

    #[test]
    fn bound_ids() {
        let (root, agent) = (key(), key());
        let store = store(&root, 3);
        let strict = ChainOptions {
            require_bound_ids: true,
            ..ChainOptions::default()
        };
        let random = passport("agent", &agent, "root-ta", 3, &[], &[], &root);
        assert!(
            !store
                .verify(&random, NOW, &ChainOptions::default())
                .unwrap()
                .key_bound
        );
        assert_eq!(
            code(store.verify(&random, NOW, &strict)),
            RejectCode::PassportKeyUnbound
        );
        let mut new = NewPassport::new("agent", agent.verifying_key(), NOW);
        new.issuer = "root-ta".into();
        new.passport_id = Some(bound_passport_id(&agent.verifying_key()));
        let mut bound = Passport::create(new).unwrap();
        bound.sign(&root).unwrap();
        let trusted = store.verify(&bound, NOW, &strict).unwrap();
        assert!(trusted.key_bound);
        assert_ne!(
            bound_passport_id(&agent.verifying_key()),
            bound_passport_id(&root.verifying_key())
        );
    }

    #[test]
    fn origins() {
        let (root, agent) = (key(), key());
        let store = store(&root, 3);
        let mut new = NewPassport::new("agent", agent.verifying_key(), NOW);
        new.issuer = "root-ta".into();
        new.origin = Some("https://Gateway.example/mcp".into());
        let mut bound = Passport::create_for(Profile::B, new).unwrap();
        bound.sign(&root).unwrap();
        let at = |origin: Option<&str>| ChainOptions {
            expected_origin: origin.map(str::to_owned),
            ..ChainOptions::default()
        };
        for same in [
            "https://gateway.example",
            "https://gateway.example:443",
            "HTTPS://GATEWAY.EXAMPLE/",
        ] {
            assert!(store.verify(&bound, NOW, &at(Some(same))).is_ok(), "{same}");
        }
        for other in [
            "https://other.example",
            "http://gateway.example",
            "https://gateway.example:8443",
            "https://user@gateway.example",
            "gateway.example",
        ] {
            assert_eq!(
                code(store.verify(&bound, NOW, &at(Some(other)))),
                RejectCode::PassportOriginMismatch,
                "{other}"
            );
        }
        assert!(store.verify(&bound, NOW, &at(None)).is_ok());
        // A passport without an origin is accepted anywhere.
        let plain = passport("agent", &agent, "root-ta", 3, &[], &[], &root);
        assert!(
            store
                .verify(&plain, NOW, &at(Some("https://x.example")))
                .is_ok()
        );
        assert!(same_origin("https://[::1]:8443", "https://[::1]:8443/mcp"));
        assert!(!same_origin("https://[::1]:8443", "https://[::1]"));
    }

    #[test]
    fn store_refuses_bad_issuers() {
        let root = key();
        let mut store = store(&root, 3);
        for (name, level) in [("", 1), ("self", 1), ("x", 5), ("root-ta", 1)] {
            let issuer = TrustedIssuer {
                name: name.into(),
                key: root.verifying_key(),
                max_trust_level: level,
            };
            assert!(store.add(issuer).is_err(), "{name} {level}");
        }
        assert_eq!(store.len(), 1);
    }
}
