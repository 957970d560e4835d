//! Online revocation checks against a trust authority, with signed answers.
//!
//! For each verified signer the gateway asks `GET <url with {id} replaced by the
//! percent-escaped signer id>` and accepts only an answer signed by the configured authority
//! key:
//!
//! ```text
//! {"id": "<the signer id asked about>", "revoked": true | false,
//!  "checked_at": <unix seconds>, "sig": "<base64url, no padding>"}
//! ```
//!
//! `sig` is the authority's signature (Ed25519, or ECDSA P-256 as 64-byte `r‖s`, low-S) over the
//! UTF-8 bytes of the RFC 8785 form of the object without `sig`. The object must hold exactly
//! these four members, `id` must be the id asked about and `checked_at` within
//! [`MAX_ANSWER_SKEW`] of the gateway's clock (so an old "not revoked" answer cannot be
//! replayed). A verified answer is cached per id for the configured TTL; anything else (no
//! answer within [`TIMEOUT`], an HTTP status other than 200, a bad signature, another id) is
//! an error, which the signature stage turns into a refusal (`revocation_unavailable`): the
//! check fails closed. Redirects are not followed and no proxy is used.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use mcpgate_https::{ClientError, HttpsClient};
use mcps::canonical::{self, ParseOptions, Value};
use mcps::keys::{SignaturePolicy, VerifyingKey};

/// Time limit for one question: connect, TLS, request and body.
pub const TIMEOUT: Duration = Duration::from_secs(2);
/// How far an answer's `checked_at` may lie from the gateway's clock, either way.
pub const MAX_ANSWER_SKEW: Duration = Duration::from_secs(300);
/// Largest accepted answer.
const MAX_BODY: usize = 16 * 1024;
/// Most ids cached at once; the cache is emptied when it is full.
const MAX_CACHED: usize = 100_000;
/// The placeholder in the URL template.
pub const PLACEHOLDER: &str = "{id}";

/// Settings of a [`RevocationAuthority`].
#[derive(Debug, Clone)]
pub struct AuthorityConfig {
    /// URL template holding [`PLACEHOLDER`] once, e.g. `https://ta.example/revocations/{id}`.
    pub url: String,
    /// The key the authority signs its answers with.
    pub key: VerifyingKey,
    /// How long a verified answer is reused for the same id.
    pub ttl: Duration,
    /// Extra PEM CA certificates to trust for the authority's TLS certificate.
    pub extra_ca: Option<std::path::PathBuf>,
    /// Accept an `http://` URL (for tests on loopback only; answers are still signed).
    pub allow_http: bool,
}

/// A client of one trust authority, with a per-id cache of verified answers.
pub struct RevocationAuthority {
    prefix: String,
    suffix: String,
    key: VerifyingKey,
    ttl: Duration,
    client: HttpsClient,
    cache: Mutex<HashMap<String, (bool, Instant)>>,
}

impl std::fmt::Debug for RevocationAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationAuthority")
            .field(
                "url",
                &format_args!("{}{PLACEHOLDER}{}", self.prefix, self.suffix),
            )
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// Percent-escapes every byte of `id` outside the RFC 3986 unreserved set, so the id is one
/// path segment (or query value) whatever it holds (`/`, `?`, `#`, `%`, `..`).
pub fn escape(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for byte in id.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl RevocationAuthority {
    /// A client for `config`.
    ///
    /// # Errors
    ///
    /// A message naming the problem: a URL that is not `https://` (or `http://` with
    /// `allow_http`), does not hold `{id}` exactly once, or an unreadable extra CA file.
    pub fn new(config: AuthorityConfig) -> Result<Self, String> {
        let url = config.url.as_str();
        let https = url.starts_with("https://");
        if !(https || config.allow_http && url.starts_with("http://")) {
            return Err(format!(
                "the revocation URL `{url}` must use https (http only with `dangerous_allow_http_revocation`)"
            ));
        }
        let Some((prefix, suffix)) = url.split_once(PLACEHOLDER) else {
            return Err(format!(
                "the revocation URL `{url}` must hold `{PLACEHOLDER}` where the signer id goes"
            ));
        };
        if suffix.contains(PLACEHOLDER) {
            return Err(format!(
                "the revocation URL `{url}` must hold `{PLACEHOLDER}` only once"
            ));
        }
        let client = HttpsClient::new(config.extra_ca.as_deref(), config.allow_http).map_err(
            |e| match e {
                ClientError::Tls => "cannot set up TLS for the revocation client".to_owned(),
                ClientError::ExtraCa(_) => e.to_string(),
            },
        )?;
        Ok(Self {
            prefix: prefix.to_owned(),
            suffix: suffix.to_owned(),
            key: config.key,
            ttl: config.ttl,
            client,
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The URL asked about `id`.
    pub fn url_for(&self, id: &str) -> String {
        format!("{}{}{}", self.prefix, escape(id), self.suffix)
    }

    /// Whether `id` is revoked, from the cache or the authority. The error is a short reason
    /// for the log (never a key).
    pub async fn is_revoked(&self, id: &str) -> Result<bool, String> {
        if let Ok(cache) = self.cache.lock()
            && let Some((revoked, at)) = cache.get(id)
            && at.elapsed() < self.ttl
        {
            return Ok(*revoked);
        }
        let body = self
            .client
            .get(&self.url_for(id), TIMEOUT, MAX_BODY)
            .await
            .map_err(|e| e.to_string())?;
        let revoked = self.check_answer(id, &body, SystemTime::now())?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED {
                cache.retain(|_, (_, at)| at.elapsed() < self.ttl);
                if cache.len() >= MAX_CACHED {
                    cache.clear();
                }
            }
            cache.insert(id.to_owned(), (revoked, Instant::now()));
        }
        Ok(revoked)
    }

    /// Verifies an answer about `id` received at `now`; see the [module documentation](self).
    ///
    /// # Errors
    ///
    /// A short reason when the answer is malformed, not signed by the authority, about another
    /// id or too far from `now`.
    pub fn check_answer(&self, id: &str, body: &[u8], now: SystemTime) -> Result<bool, String> {
        let value = canonical::parse_bytes(body, &ParseOptions::STRICT)
            .map_err(|_| "the answer is not strict JSON".to_owned())?;
        let Value::Object(mut object) = value else {
            return Err("the answer is not a JSON object".into());
        };
        if object.len() != 4 {
            return Err("the answer must hold exactly id, revoked, checked_at and sig".into());
        }
        let sig = object.remove("sig");
        let sig = sig
            .as_ref()
            .and_then(Value::as_str)
            .ok_or_else(|| "the answer has no `sig` string".to_owned())?;
        let signature = URL_SAFE_NO_PAD
            .decode(sig)
            .map_err(|_| "the answer's `sig` is not base64url".to_owned())?;
        let signed = canonical::jcs(&Value::Object(object.clone()))
            .map_err(|_| "the answer cannot be canonicalised".to_owned())?;
        self.key
            .verify(signed.as_bytes(), &signature, &SignaturePolicy::P1363_LOW_S)
            .map_err(|_| "the answer is not signed by the revocation authority".to_owned())?;
        if object.get("id").and_then(Value::as_str) != Some(id) {
            return Err("the answer is about another id".into());
        }
        let revoked = object
            .get("revoked")
            .and_then(Value::as_bool)
            .ok_or_else(|| "the answer has no `revoked` boolean".to_owned())?;
        let checked_at = object
            .get("checked_at")
            .and_then(Value::as_i64)
            .ok_or_else(|| "the answer has no integer `checked_at`".to_owned())?;
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let skew = i64::try_from(MAX_ANSWER_SKEW.as_secs()).unwrap_or(i64::MAX);
        if checked_at.abs_diff(now) > skew.unsigned_abs() {
            return Err("the answer's `checked_at` is too far from the gateway's clock".into());
        }
        Ok(revoked)
    }
}

#[cfg(test)]
mod tests {
    use mcps::canonical::Object;
    use mcps::keys::{Algorithm, SignatureFormat, SigningKey};

    use super::*;

    fn authority(key: &SigningKey) -> RevocationAuthority {
        RevocationAuthority::new(AuthorityConfig {
            url: "https://ta.example/revocations/{id}?v=1".into(),
            key: key.verifying_key(),
            ttl: Duration::from_secs(60),
            extra_ca: None,
            allow_http: false,
        })
        .unwrap()
    }

    fn answer(key: &SigningKey, members: &[(&str, Value)]) -> Vec<u8> {
        let mut object = Object::new();
        for (name, value) in members {
            object.insert(*name, value.clone());
        }
        let signed = canonical::jcs(&Value::Object(object.clone())).unwrap();
        let sig = key.sign(signed.as_bytes(), SignatureFormat::P1363).unwrap();
        object.insert("sig", Value::from(URL_SAFE_NO_PAD.encode(sig).as_str()));
        canonical::jcs(&Value::Object(object)).unwrap().into_bytes()
    }

    fn now() -> (SystemTime, i64) {
        let now = SystemTime::now();
        let secs = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        (now, i64::try_from(secs).unwrap())
    }

    #[test]
    fn ids_are_one_escaped_segment() {
        assert_eq!(escape("asp_ab-C~9"), "asp_ab-C~9");
        assert_eq!(escape("a/../b?c=1#d%"), "a%2F%2E%2E%2Fb%3Fc%3D1%23d%25");
        assert_eq!(escape("é"), "%C3%A9");
        let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
        assert_eq!(
            authority(&key).url_for("x/y"),
            "https://ta.example/revocations/x%2Fy?v=1"
        );
    }

    #[test]
    fn urls_must_be_https_with_one_placeholder() {
        let key = SigningKey::generate(Algorithm::Ed25519).unwrap();
        let config = |url: &str, allow_http| AuthorityConfig {
            url: url.into(),
            key: key.verifying_key(),
            ttl: Duration::from_secs(1),
            extra_ca: None,
            allow_http,
        };
        assert!(RevocationAuthority::new(config("http://ta/{id}", false)).is_err());
        assert!(RevocationAuthority::new(config("http://ta/{id}", true)).is_ok());
        assert!(RevocationAuthority::new(config("https://ta/x", false)).is_err());
        assert!(RevocationAuthority::new(config("https://ta/{id}/{id}", false)).is_err());
    }

    #[test]
    fn only_fresh_signed_answers_about_the_id_count() {
        let key = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let other = SigningKey::generate(Algorithm::EcdsaP256).unwrap();
        let ta = authority(&key);
        let (at, secs) = now();
        let good = |id: &str, revoked: bool, checked_at: i64| {
            answer(
                &key,
                &[
                    ("id", Value::from(id)),
                    ("revoked", Value::Bool(revoked)),
                    ("checked_at", Value::from(checked_at)),
                ],
            )
        };
        assert_eq!(ta.check_answer("a", &good("a", false, secs), at), Ok(false));
        assert_eq!(ta.check_answer("a", &good("a", true, secs), at), Ok(true));
        // About another id, too old, from the future.
        assert!(ta.check_answer("a", &good("b", false, secs), at).is_err());
        assert!(
            ta.check_answer("a", &good("a", false, secs - 301), at)
                .is_err()
        );
        assert!(
            ta.check_answer("a", &good("a", false, secs + 301), at)
                .is_err()
        );
        // Signed by another key.
        let forged = answer(
            &other,
            &[
                ("id", Value::from("a")),
                ("revoked", Value::Bool(false)),
                ("checked_at", Value::from(secs)),
            ],
        );
        assert!(ta.check_answer("a", &forged, at).is_err());
        // An extra member, a missing one, a non-boolean verdict.
        let extra = answer(
            &key,
            &[
                ("id", Value::from("a")),
                ("revoked", Value::Bool(false)),
                ("checked_at", Value::from(secs)),
                ("note", Value::from("x")),
            ],
        );
        assert!(ta.check_answer("a", &extra, at).is_err());
        let missing = answer(
            &key,
            &[("id", Value::from("a")), ("checked_at", Value::from(secs))],
        );
        assert!(ta.check_answer("a", &missing, at).is_err());
        let not_bool = answer(
            &key,
            &[
                ("id", Value::from("a")),
                ("revoked", Value::from("no")),
                ("checked_at", Value::from(secs)),
            ],
        );
        assert!(ta.check_answer("a", &not_bool, at).is_err());
        // Tampered after signing.
        let tampered = String::from_utf8(good("a", true, secs))
            .unwrap()
            .replace("true", "false");
        assert!(ta.check_answer("a", tampered.as_bytes(), at).is_err());
        assert!(ta.check_answer("a", b"not json", at).is_err());
    }
}
