//! API keys, stored hashed.
//!
//! The configuration never holds a key in clear, only
//! `sha256$<salt>$<digest>` where `salt` is 16 random bytes and `digest` is
//! `SHA-256(salt || key)`, both base64url without padding. [`hash_api_key`] produces such a
//! string and [`generate_api_key`] a fresh key (`mgk_` followed by 32 random bytes in
//! base64url).
//!
//! [`ApiKeys::verify`] hashes the presented key with the salt of every entry and compares all
//! digests in constant time, without stopping at the first match, so the time it takes does not
//! tell which key (if any) matched.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgate_core::{AuthMethod, Principal};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConditionallySelectable as _, ConstantTimeEq as _};

use crate::AuthError;

const SCHEME: &str = "sha256";
const SALT_LEN: usize = 16;
const DIGEST_LEN: usize = 32;
/// Longer presented keys are rejected without hashing.
const MAX_KEY_LEN: usize = 1024;

/// Hashes `key` with a fresh random salt into the `sha256$<salt>$<digest>` form stored in the
/// configuration.
pub fn hash_api_key(key: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    let digest = digest(&salt, key);
    format!(
        "{SCHEME}${}${}",
        URL_SAFE_NO_PAD.encode(salt),
        URL_SAFE_NO_PAD.encode(digest)
    )
}

/// A new random API key: `mgk_` followed by 32 random bytes in base64url without padding.
pub fn generate_api_key() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("mgk_{}", URL_SAFE_NO_PAD.encode(bytes))
}

fn digest(salt: &[u8], key: &str) -> [u8; DIGEST_LEN] {
    let mut hasher = Sha256::new();
    hasher.update(salt);
    hasher.update(key.as_bytes());
    hasher.finalize().into()
}

struct Entry {
    salt: [u8; SALT_LEN],
    digest: [u8; DIGEST_LEN],
    principal: Arc<Principal>,
}

/// The configured API keys, each with the principal it authenticates.
pub struct ApiKeys {
    entries: Vec<Entry>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field(
                "principals",
                &self
                    .entries
                    .iter()
                    .map(|e| e.principal.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl ApiKeys {
    /// Builds the key table from `(hash, principal)` pairs, where each hash is in the form
    /// [`hash_api_key`] produces. The principals' method is set to [`AuthMethod::ApiKey`].
    ///
    /// A malformed hash is an error naming the entry's index (never the hash itself).
    pub fn new(entries: Vec<(String, Principal)>) -> Result<Self, AuthError> {
        let entries = entries
            .into_iter()
            .enumerate()
            .map(|(index, (hash, mut principal))| {
                let (salt, digest) = parse_hash(&hash).ok_or_else(|| {
                    AuthError::config(format!(
                        "api key entry {index} (principal `{}`): the hash is not of the form \
                         `sha256$<salt>$<digest>` (16-byte salt and 32-byte digest in base64url \
                         without padding); create one with `hash_api_key`",
                        principal.id
                    ))
                })?;
                principal.method = AuthMethod::ApiKey;
                Ok(Entry {
                    salt,
                    digest,
                    principal: Arc::new(principal),
                })
            })
            .collect::<Result<Vec<_>, AuthError>>()?;
        Ok(Self { entries })
    }

    /// How many keys are configured.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no key is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The principal of the key `presented`, if it is one of the configured keys.
    ///
    /// Every entry is hashed and compared in constant time; the loop never exits early.
    pub fn verify(&self, presented: &str) -> Option<Arc<Principal>> {
        if presented.is_empty() || presented.len() > MAX_KEY_LEN {
            return None;
        }
        let mut found = Choice::from(0);
        let mut index = 0u64;
        for (i, entry) in self.entries.iter().enumerate() {
            let candidate = digest(&entry.salt, presented);
            let matched = candidate.ct_eq(&entry.digest);
            // The first matching entry wins; later matches do not change the index.
            index.conditional_assign(&(i as u64), matched & !found);
            found |= matched;
        }
        if bool::from(found) {
            let index = usize::try_from(index).ok()?;
            self.entries.get(index).map(|e| Arc::clone(&e.principal))
        } else {
            None
        }
    }
}

fn parse_hash(hash: &str) -> Option<([u8; SALT_LEN], [u8; DIGEST_LEN])> {
    let mut parts = hash.split('$');
    let (scheme, salt, digest) = (parts.next()?, parts.next()?, parts.next()?);
    if scheme != SCHEME || parts.next().is_some() {
        return None;
    }
    let salt = URL_SAFE_NO_PAD.decode(salt).ok()?.try_into().ok()?;
    let digest = URL_SAFE_NO_PAD.decode(digest).ok()?.try_into().ok()?;
    Some((salt, digest))
}

#[cfg(test)]
mod tests {
    use mcpgate_core::PrincipalKind;

    use super::*;

    fn principal(id: &str) -> Principal {
        Principal::new(id, PrincipalKind::Service, AuthMethod::None)
    }

    #[test]
    fn generated_keys_are_distinct_and_prefixed() {
        let (a, b) = (generate_api_key(), generate_api_key());
        assert_ne!(a, b);
        assert!(a.starts_with("mgk_"));
        assert_eq!(a.len(), 4 + 43);
    }

    #[test]
    fn hash_has_the_documented_form_and_a_fresh_salt() {
        let h1 = hash_api_key("k");
        let h2 = hash_api_key("k");
        assert_ne!(h1, h2);
        let (salt, d) = parse_hash(&h1).expect("parses");
        assert_eq!(d, digest(&salt, "k"));
        assert!(h1.starts_with("sha256$"));
    }

    #[test]
    fn verify_good_bad_and_which() {
        let (k1, k2) = (generate_api_key(), generate_api_key());
        let keys = ApiKeys::new(vec![
            (hash_api_key(&k1), principal("one")),
            (hash_api_key(&k2), principal("two")),
        ])
        .expect("valid");
        assert_eq!(keys.len(), 2);
        let p = keys.verify(&k2).expect("known key");
        assert_eq!(p.id, "two");
        assert_eq!(p.method, AuthMethod::ApiKey);
        assert_eq!(keys.verify(&k1).expect("known key").id, "one");
        assert!(keys.verify("mgk_nope").is_none());
        assert!(keys.verify("").is_none());
        assert!(keys.verify(&"x".repeat(MAX_KEY_LEN + 1)).is_none());
        let empty = ApiKeys::new(Vec::new()).expect("valid");
        assert!(empty.is_empty());
        assert!(empty.verify(&k1).is_none());
    }

    #[test]
    fn malformed_hashes_name_the_entry_not_the_hash() {
        let good = hash_api_key("k");
        for bad in [
            "plaintext-key".to_owned(),
            "sha1$AAAAAAAAAAAAAAAAAAAAAA$AAAA".to_owned(),
            format!("{good}$extra"),
            "sha256$short$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_owned(),
            "sha256$AAAAAAAAAAAAAAAAAAAAAA$not+base64url".to_owned(),
        ] {
            let err = ApiKeys::new(vec![
                (good.clone(), principal("ok")),
                (bad.clone(), principal("svc")),
            ])
            .expect_err("malformed");
            let msg = err.to_string();
            assert!(msg.contains("entry 1"), "{msg}");
            assert!(msg.contains("`svc`"), "{msg}");
            assert!(!msg.contains(&bad), "{msg}");
        }
    }

    #[test]
    fn debug_does_not_show_hashes() {
        let h = hash_api_key("k");
        let keys = ApiKeys::new(vec![(h.clone(), principal("one"))]).expect("valid");
        let dbg = format!("{keys:?}");
        assert!(dbg.contains("one") && !dbg.contains(&h[7..20]));
    }
}
