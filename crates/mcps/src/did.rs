//! Decentralized identifiers for MCPS keys: `did:key` and `did:web`.
//!
//! `did:key` puts the public key itself in the identifier: the multicodec-tagged key bytes,
//! base58btc-encoded with the multibase prefix `z`. Ed25519 keys use the codec `0xed`
//! (varint `0xed 0x01`, identifiers start with `z6Mk`); P-256 keys use `0x1200` (varint
//! `0x80 0x24`) over the 33-byte compressed SEC1 point (identifiers start with `zDn`).
//! [`to_did_key`] and [`from_did_key`] convert; decoding is strict.
//!
//! `did:web` names a DID document served over HTTPS. This crate does no I/O: [`did_web_url`]
//! maps the identifier to the document's URL, a caller-supplied [`DidWebResolver`] fetches it,
//! and [`verifying_key_from_did_document`] reads a key out of it.

use crate::canonical::{self, ParseOptions, Value};
use crate::error::Error;
use crate::keys::{Jwk, VerifyingKey};

const DID_KEY_PREFIX: &str = "did:key:";
const DID_WEB_PREFIX: &str = "did:web:";
const ED25519_CODEC: [u8; 2] = [0xed, 0x01];
const P256_CODEC: [u8; 2] = [0x80, 0x24];
/// Longer method-specific ids cannot hold a supported key; refusing them early bounds the
/// base58 decoding work.
const MAX_MULTIBASE_LEN: usize = 64;

/// Encodes a public key as a `did:key` identifier.
#[must_use]
pub fn to_did_key(key: &VerifyingKey) -> String {
    format!("{DID_KEY_PREFIX}{}", to_multibase(key))
}

/// Decodes a `did:key` identifier (Ed25519 or P-256).
///
/// A DID URL fragment is accepted only when it repeats the method-specific id
/// (`did:key:z6Mk…#z6Mk…`, the form used as a verification method id).
///
/// # Errors
///
/// [`Error::BadKey`] if the text is not `did:key:z…`, uses an unknown codec, has the wrong
/// length, or does not hold a valid point.
pub fn from_did_key(did: &str) -> Result<VerifyingKey, Error> {
    let rest = did
        .strip_prefix(DID_KEY_PREFIX)
        .ok_or(Error::BadKey("not a did:key identifier"))?;
    let id = match rest.split_once('#') {
        Some((id, fragment)) if fragment == id => id,
        Some(_) => return Err(Error::BadKey("did:key fragment does not match the key")),
        None => rest,
    };
    from_multibase(id)
}

/// The key as a multibase (`z`, base58btc) multicodec string, as in `publicKeyMultibase`.
fn to_multibase(key: &VerifyingKey) -> String {
    let codec = match key.algorithm() {
        crate::keys::Algorithm::Ed25519 => ED25519_CODEC,
        crate::keys::Algorithm::EcdsaP256 => P256_CODEC,
    };
    let mut bytes = codec.to_vec();
    bytes.extend_from_slice(&key.compact_bytes());
    format!("z{}", bs58::encode(bytes).into_string())
}

/// Decodes a multibase (`z`, base58btc) multicodec public key.
fn from_multibase(text: &str) -> Result<VerifyingKey, Error> {
    let encoded = text
        .strip_prefix('z')
        .ok_or(Error::BadKey("multibase key is not base58btc (`z`)"))?;
    if encoded.is_empty() || encoded.len() > MAX_MULTIBASE_LEN {
        return Err(Error::BadKey("multibase key has the wrong length"));
    }
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| Error::BadKey("multibase key is not valid base58btc"))?;
    if let Some(raw) = bytes.strip_prefix(&ED25519_CODEC) {
        let raw: &[u8; 32] = raw
            .try_into()
            .map_err(|_| Error::BadKey("ed25519 multikey is not 32 bytes"))?;
        VerifyingKey::from_ed25519_bytes(raw)
    } else if let Some(raw) = bytes.strip_prefix(&P256_CODEC) {
        let raw: &[u8; 33] = raw
            .try_into()
            .map_err(|_| Error::BadKey("p-256 multikey is not a 33-byte compressed point"))?;
        VerifyingKey::from_p256_compressed(raw)
    } else {
        Err(Error::BadKey("unsupported multicodec key type"))
    }
}

/// Fetches DID documents for `did:web` identifiers. Implementations do the HTTPS request; this
/// crate does no I/O.
pub trait DidWebResolver {
    /// Fetches the DID document at `url` (from [`did_web_url`]) and returns its JSON text.
    ///
    /// # Errors
    ///
    /// Whatever the implementation reports when the document cannot be fetched.
    fn resolve(&self, url: &str) -> Result<String, Error>;
}

/// Maps a `did:web` identifier to the HTTPS URL of its DID document.
///
/// `did:web:example.com` becomes `https://example.com/.well-known/did.json`;
/// `did:web:example.com:user:alice` becomes `https://example.com/user/alice/did.json`; a port is
/// written percent-encoded (`did:web:example.com%3A8443`).
///
/// # Errors
///
/// [`Error::BadKey`] if the identifier is not a well-formed `did:web` id: an invalid host or
/// port, an empty, `.` or `..` path segment, or characters outside the allowed set (a DID URL
/// with a path, query or fragment is refused).
pub fn did_web_url(did: &str) -> Result<String, Error> {
    let id = did
        .strip_prefix(DID_WEB_PREFIX)
        .ok_or(Error::BadKey("not a did:web identifier"))?;
    let mut segments = id.split(':');
    let authority = segments.next().unwrap_or_default();
    let host_port = decode_authority(authority)?;
    let path: Vec<&str> = segments.collect();
    for segment in &path {
        check_path_segment(segment)?;
    }
    if path.is_empty() {
        Ok(format!("https://{host_port}/.well-known/did.json"))
    } else {
        Ok(format!("https://{host_port}/{}/did.json", path.join("/")))
    }
}

fn decode_authority(authority: &str) -> Result<String, Error> {
    let (host, port) = match authority.find('%') {
        Some(at) => {
            let (host, tail) = authority.split_at(at);
            let port = tail
                .strip_prefix("%3A")
                .or_else(|| tail.strip_prefix("%3a"))
                .ok_or(Error::BadKey(
                    "did:web host has an invalid percent-encoding",
                ))?;
            (host, Some(port))
        }
        None => (authority, None),
    };
    check_host(host)?;
    match port {
        None => Ok(host.to_owned()),
        Some(port) => {
            let valid = !port.is_empty()
                && port.len() <= 5
                && port.bytes().all(|b| b.is_ascii_digit())
                && port.parse::<u16>().is_ok_and(|p| p != 0);
            if valid {
                Ok(format!("{host}:{port}"))
            } else {
                Err(Error::BadKey("did:web port is invalid"))
            }
        }
    }
}

fn check_host(host: &str) -> Result<(), Error> {
    let bad = Error::BadKey("did:web host is invalid");
    if host.is_empty() || host.len() > 253 {
        return Err(bad);
    }
    for label in host.split('.') {
        let valid = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if !valid {
            return Err(bad);
        }
    }
    Ok(())
}

fn check_path_segment(segment: &str) -> Result<(), Error> {
    const BAD: Error = Error::BadKey("did:web path segment is invalid");
    if segment.is_empty() || segment == "." || segment == ".." {
        return Err(BAD);
    }
    let bytes = segment.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~') => i += 1,
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or(BAD)?;
                if !hex.iter().all(u8::is_ascii_hexdigit) {
                    return Err(BAD);
                }
                // An encoded `/` would let one segment become several path components.
                if hex.eq_ignore_ascii_case(b"2F") {
                    return Err(BAD);
                }
                i += 3;
            }
            _ => return Err(BAD),
        }
    }
    Ok(())
}

/// Reads the public key of verification method `key_id` from a DID document.
///
/// `key_id` is matched against each `verificationMethod` entry's `id`; an entry id that is a
/// bare fragment (`#key-1`) is matched as the document's `id` followed by that fragment. The
/// method must carry exactly one of `publicKeyJwk` (a public P-256 or Ed25519 JWK) and
/// `publicKeyMultibase` (a `z` multicodec key, as in `did:key`).
///
/// # Errors
///
/// [`Error::Json`] if the document is not strict JSON; [`Error::BadKey`] if it has no
/// `verificationMethod` array, no entry or more than one entry with that id, or the entry's key
/// is missing, ambiguous, private or invalid.
pub fn verifying_key_from_did_document(
    doc_json: &str,
    key_id: &str,
) -> Result<VerifyingKey, Error> {
    let document = canonical::parse(doc_json, &ParseOptions::STRICT)?;
    let document_id = document.get("id").and_then(Value::as_str);
    let methods = document
        .get("verificationMethod")
        .and_then(Value::as_array)
        .ok_or(Error::BadKey(
            "did document has no `verificationMethod` array",
        ))?;
    let mut found = None;
    for method in methods {
        let Some(id) = method.get("id").and_then(Value::as_str) else {
            continue;
        };
        let matches = id == key_id
            || (id.starts_with('#')
                && document_id.is_some_and(|doc| key_id.strip_prefix(doc) == Some(id)));
        if matches {
            if found.is_some() {
                return Err(Error::BadKey(
                    "did document has duplicate verification method ids",
                ));
            }
            found = Some(method);
        }
    }
    let method = found.ok_or(Error::BadKey(
        "did document has no such verification method",
    ))?;
    match (method.get("publicKeyJwk"), method.get("publicKeyMultibase")) {
        (Some(jwk), None) => {
            let jwk = Jwk::from_value(jwk)?;
            if jwk.is_private() {
                return Err(Error::BadKey("did document publishes a private key"));
            }
            VerifyingKey::from_jwk(&jwk)
        }
        (None, Some(multibase)) => from_multibase(
            multibase
                .as_str()
                .ok_or(Error::BadKey("`publicKeyMultibase` is not a string"))?,
        ),
        (Some(_), Some(_)) => Err(Error::BadKey(
            "verification method has both `publicKeyJwk` and `publicKeyMultibase`",
        )),
        (None, None) => Err(Error::BadKey(
            "verification method has no supported public key",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{Algorithm, SigningKey};

    /// The Ed25519 example from the W3C did:key specification.
    const SPEC_ED25519: &str = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp";

    #[test]
    fn prefixes_and_round_trips() {
        for _ in 0..16 {
            let ed = SigningKey::generate(Algorithm::Ed25519)
                .unwrap()
                .verifying_key();
            let did = to_did_key(&ed);
            assert!(did.starts_with("did:key:z6Mk"), "{did}");
            assert_eq!(from_did_key(&did).unwrap(), ed);

            let p256 = SigningKey::generate(Algorithm::EcdsaP256)
                .unwrap()
                .verifying_key();
            let did = to_did_key(&p256);
            assert!(did.starts_with("did:key:zDn"), "{did}");
            assert_eq!(from_did_key(&did).unwrap(), p256);
        }
    }

    #[test]
    fn spec_vector_decodes() {
        let key = from_did_key(SPEC_ED25519).unwrap();
        assert_eq!(key.algorithm(), Algorithm::Ed25519);
        assert_eq!(to_did_key(&key), SPEC_ED25519);
        let id = SPEC_ED25519.strip_prefix("did:key:").unwrap();
        assert_eq!(from_did_key(&format!("{SPEC_ED25519}#{id}")).unwrap(), key);
    }

    #[test]
    fn malformed_did_keys_are_rejected() {
        let ed = SigningKey::generate(Algorithm::Ed25519)
            .unwrap()
            .verifying_key();
        let p256 = SigningKey::generate(Algorithm::EcdsaP256)
            .unwrap()
            .verifying_key();
        let ed_did = to_did_key(&ed);
        let encode = |bytes: &[u8]| format!("did:key:z{}", bs58::encode(bytes).into_string());
        let mut ed_long = ED25519_CODEC.to_vec();
        ed_long.extend_from_slice(&[9u8; 33]);
        let mut ed_short = ED25519_CODEC.to_vec();
        ed_short.extend_from_slice(&[9u8; 31]);
        let mut p256_bad_tag = P256_CODEC.to_vec();
        p256_bad_tag.extend_from_slice(&p256.compact_bytes());
        p256_bad_tag[2] = 0x04;
        let mut p256_off_curve = P256_CODEC.to_vec();
        p256_off_curve.push(0x02);
        p256_off_curve.extend_from_slice(&[0xff; 32]);
        let mut unknown = vec![0xe7, 0x01];
        unknown.extend_from_slice(&[2u8; 33]);
        let cases = [
            String::new(),
            "did:key:".to_owned(),
            "did:key:z".to_owned(),
            ed_did.replacen("did:key:z", "did:key:f", 1),
            ed_did.replacen("did:key:", "DID:KEY:", 1),
            ed_did.replacen("did:key:", "did:web:", 1),
            format!("{ed_did}0"),
            format!("{ed_did}#key-1"),
            format!("{ed_did}#"),
            ed_did.replacen('6', "0", 1),
            encode(&ed_long),
            encode(&ed_short),
            encode(&p256_bad_tag),
            encode(&p256_off_curve),
            encode(&unknown),
            format!("did:key:z{}", "1".repeat(200)),
        ];
        for case in cases {
            assert!(
                matches!(from_did_key(&case), Err(Error::BadKey(_))),
                "accepted {case:?}"
            );
        }
    }

    #[test]
    fn did_web_mapping() {
        let ok = [
            (
                "did:web:example.com",
                "https://example.com/.well-known/did.json",
            ),
            (
                "did:web:example.com:user:alice",
                "https://example.com/user/alice/did.json",
            ),
            (
                "did:web:example.com%3A8443",
                "https://example.com:8443/.well-known/did.json",
            ),
            (
                "did:web:localhost%3a3000:a:b",
                "https://localhost:3000/a/b/did.json",
            ),
            (
                "did:web:w3c-ccg.github.io:user%40x",
                "https://w3c-ccg.github.io/user%40x/did.json",
            ),
        ];
        for (did, url) in ok {
            assert_eq!(did_web_url(did).unwrap(), url, "{did}");
        }
        let bad = [
            "did:web:",
            "did:key:example.com",
            "did:web:example.com:",
            "did:web:example.com::alice",
            "did:web:example.com:..",
            "did:web:example.com:.",
            "did:web:example.com:a%2Fb",
            "did:web:example.com:a/b",
            "did:web:example.com/path",
            "did:web:example.com#frag",
            "did:web:example.com?q",
            "did:web:example..com",
            "did:web:-example.com",
            "did:web:exa_mple.com",
            "did:web:example.com%3A",
            "did:web:example.com%3A0",
            "did:web:example.com%3A65536",
            "did:web:example.com%3Ax",
            "did:web:example.com%2F",
            "did:web:user@example.com",
            "did:web:example.com:a%4",
        ];
        for did in bad {
            assert!(
                matches!(did_web_url(did), Err(Error::BadKey(_))),
                "accepted {did}"
            );
        }
    }

    struct Fixed(String);

    impl DidWebResolver for Fixed {
        fn resolve(&self, url: &str) -> Result<String, Error> {
            assert_eq!(url, "https://example.com/.well-known/did.json");
            Ok(self.0.clone())
        }
    }

    #[test]
    fn keys_from_did_documents() {
        let p256 = SigningKey::generate(Algorithm::EcdsaP256)
            .unwrap()
            .verifying_key();
        let ed = SigningKey::generate(Algorithm::Ed25519)
            .unwrap()
            .verifying_key();
        let jwk = p256.to_jwk().to_json().unwrap();
        let multibase = to_multibase(&ed);
        let document = format!(
            r##"{{"id":"did:web:example.com","verificationMethod":[
                {{"id":"#p","type":"JsonWebKey2020","controller":"did:web:example.com","publicKeyJwk":{jwk}}},
                {{"id":"did:web:example.com#e","type":"Multikey","controller":"did:web:example.com","publicKeyMultibase":"{multibase}"}}
            ]}}"##
        );
        let resolver = Fixed(document);
        let text = resolver
            .resolve(&did_web_url("did:web:example.com").unwrap())
            .unwrap();
        assert_eq!(
            verifying_key_from_did_document(&text, "did:web:example.com#p").unwrap(),
            p256
        );
        assert_eq!(
            verifying_key_from_did_document(&text, "did:web:example.com#e").unwrap(),
            ed
        );
        for missing in ["did:web:example.com#x", "#e", "did:web:other.com#p"] {
            assert!(matches!(
                verifying_key_from_did_document(&text, missing),
                Err(Error::BadKey(_))
            ));
        }

        let private = SigningKey::generate(Algorithm::Ed25519)
            .unwrap()
            .to_jwk()
            .to_json()
            .unwrap();
        let bad_documents = [
            format!(r#"{{"verificationMethod":[{{"id":"k","publicKeyJwk":{private}}}]}}"#),
            format!(
                r#"{{"verificationMethod":[{{"id":"k","publicKeyJwk":{jwk},"publicKeyMultibase":"{multibase}"}}]}}"#
            ),
            r#"{"verificationMethod":[{"id":"k"}]}"#.to_owned(),
            r#"{"verificationMethod":[{"id":"k","publicKeyMultibase":"m00"}]}"#.to_owned(),
            format!(
                r#"{{"verificationMethod":[{{"id":"k","publicKeyMultibase":"{multibase}"}},{{"id":"k","publicKeyMultibase":"{multibase}"}}]}}"#
            ),
            r#"{"verificationMethod":{}}"#.to_owned(),
            "{}".to_owned(),
        ];
        for document in bad_documents {
            assert!(
                matches!(
                    verifying_key_from_did_document(&document, "k"),
                    Err(Error::BadKey(_))
                ),
                "accepted {document}"
            );
        }
        assert!(verifying_key_from_did_document("not json", "k").is_err());
    }
}
