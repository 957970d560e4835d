//! The MCPS trust store file (`[mcps] trust_store`): who may sign, and at which trust level.
//!
//! A TOML file with three kinds of entries, all optional:
//!
//! ```toml
//! # Signers trusted directly, by key.
//! [[signers]]
//! # The passport id profile A and B envelopes carry; the `signer` fact for policies.
//! id = "asp_0123456789abcdef0123456789abcdef"
//! # SPKI PEM public key (ECDSA P-256, or Ed25519 for the native profile), relative to this
//! # file's directory. Native envelopes find their signer by this key's JWK thumbprint.
//! public_key = "keys/agent.pub.pem"
//! # 0 to 4; the `trust_level` fact and what `[mcps.require.*] min_trust_level` compares.
//! trust_level = 2
//!
//! # Issuers whose passports the gateway accepts, and the most each can grant.
//! [[issuers]]
//! name = "acme-trust-authority"      # what passports carry in `issuer`
//! public_key = "keys/acme-ta.pub.pem"
//! trust_level = 3
//!
//! # Agent passports (profile A or B JSON), verified against the issuers when the gateway
//! # starts. Each becomes a signer: id = its passport_id, key = its public key, trust level
//! # computed from its verified issuer chain.
//! [[passports]]
//! path = "passports/weather-agent.json"
//!
//! # Refuse passports whose id is not derived from their key (`mcpgate passport create
//! # --bound-id`). Default false: the reference packages draw random ids.
//! require_bound_passport_ids = false
//!
//! # This gateway's origin: passports bound to another server (profile B `origin`) are
//! # refused. Scheme, host and port are compared; default ports are made explicit.
//! origin = "https://gateway.example"
//!
//! # Extra CA certificates (PEM) for the HTTPS hosts of `did:web` keys, besides the web PKI.
//! did_web_extra_ca = "certs/internal-ca.pem"
//! ```
//!
//! A signer or issuer names its key either by `public_key` (a PEM file) or by `did`: a
//! `did:key:z…` identifier (decoded locally) or a `did:web:host[:path…][#fragment]` DID URL,
//! whose DID document is fetched over HTTPS when the gateway starts (web PKI plus
//! `did_web_extra_ca`, 5 s limit, 64 KiB limit, no redirects; its `id` must be the DID). A DID
//! that cannot be resolved stops the start, naming the entry and the reason: the gateway never
//! runs with a signer it could not pin. The keys stay pinned until the store is reloaded.
//!
//! On SIGHUP the gateway reads the whole store again (keys, DIDs, passports) and puts it in
//! force at once; if anything in it fails, it is refused with an error in the log and the store
//! in force stays.
//!
//! Trust levels come only from this file: a direct signer's `trust_level`, or for a passport
//! the level [`mcps::trust::IssuerStore::verify`] computes — the issuer's grant here, lowered
//! to the levels signed along the passport's chain; self-issued passports get 0. Nothing a
//! message or a passport claims for itself raises it.
//!
//! A passport that does not verify (bad signature, unknown issuer, broken chain, malformed)
//! stops the gateway from starting, naming the file and the reason. An expired or not yet valid
//! passport is left out with an error in the log (its envelopes are then refused as
//! `unknown_signer`), so one lapsed passport does not take the gateway down. A passport that
//! expires while the gateway runs is refused from then on (`passport_expired`); the passport
//! ids of its intermediates are checked for revocation like its own.

use std::collections::HashMap;
use std::path::Path;

use anyhow::Context;
use mcpgate_pipeline::did_web::{DidResolver, DidResolverConfig};
use mcpgate_pipeline::stages::signature::{Signer, TrustStore};
use mcps::Error as McpsError;
use mcps::canonical::{self, ParseOptions};
use mcps::keys::VerifyingKey;
use mcps::passport::{Passport, PassportLimits};
use mcps::time::Timestamp;
use mcps::trust::{ChainOptions, IssuerStore, TrustedIssuer, TrustedPassport};
use serde::Deserialize;

/// Largest passport file read.
const MAX_PASSPORT_FILE: u64 = 64 * 1024;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrustFile {
    #[serde(default)]
    signers: Vec<SignerEntry>,
    #[serde(default)]
    issuers: Vec<IssuerEntry>,
    #[serde(default)]
    passports: Vec<PassportEntry>,
    #[serde(default)]
    require_bound_passport_ids: bool,
    origin: Option<String>,
    did_web_extra_ca: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignerEntry {
    id: String,
    public_key: Option<String>,
    did: Option<String>,
    trust_level: u8,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerEntry {
    name: String,
    public_key: Option<String>,
    did: Option<String>,
    trust_level: u8,
}

/// The keys of the `did` entries, by DID URL.
pub(crate) type DidKeys = HashMap<String, VerifyingKey>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PassportEntry {
    path: String,
}

/// A parsed trust store file, before its passports are verified.
pub(crate) struct TrustFileContents {
    /// The file, for messages.
    shown: String,
    /// Its directory, for relative paths.
    base: std::path::PathBuf,
    file: TrustFile,
}

/// Reads and parses the trust store file at `path`.
///
/// # Errors
///
/// When the file cannot be read or is not a valid trust store.
pub(crate) fn read(path: &Path) -> anyhow::Result<TrustFileContents> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the MCPS trust store `{shown}`"))?;
    let file: TrustFile = toml::from_str(&text)
        .with_context(|| format!("the MCPS trust store `{shown}` is not valid"))?;
    // Checked before any DID is resolved, so a mistake is reported as what it is.
    let sources = file
        .signers
        .iter()
        .map(|e| (&e.public_key, &e.did, format!("signer `{}`", e.id)))
        .chain(
            file.issuers
                .iter()
                .map(|e| (&e.public_key, &e.did, format!("issuer `{}`", e.name))),
        );
    for (public_key, did, owner) in sources {
        if public_key.is_some() == did.is_some() {
            anyhow::bail!(
                "MCPS trust store `{shown}`: {owner} needs exactly one of `public_key` and `did`"
            );
        }
    }
    if let Some(origin) = &file.origin
        && !mcps::trust::is_origin(origin)
    {
        anyhow::bail!(
            "the MCPS trust store `{shown}`: `origin` must be scheme://host[:port], not `{origin}`"
        );
    }
    let base = path
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .to_path_buf();
    Ok(TrustFileContents { shown, base, file })
}

impl TrustFileContents {
    /// Resolves every `did` the file names: `did:key` locally, `did:web` over HTTPS.
    ///
    /// # Errors
    ///
    /// When a DID cannot be resolved, naming the entry.
    pub(crate) async fn resolve_dids(&self) -> anyhow::Result<DidKeys> {
        let named =
            self.file
                .signers
                .iter()
                .filter_map(|e| e.did.as_ref().map(|d| (d, format!("signer `{}`", e.id))))
                .chain(
                    self.file.issuers.iter().filter_map(|e| {
                        e.did.as_ref().map(|d| (d, format!("issuer `{}`", e.name)))
                    }),
                )
                .collect::<Vec<_>>();
        let mut keys = DidKeys::new();
        if named.is_empty() {
            return Ok(keys);
        }
        let shown = &self.shown;
        let resolver = DidResolver::new(DidResolverConfig {
            extra_ca: self
                .file
                .did_web_extra_ca
                .as_ref()
                .map(|p| self.base.join(p)),
            ..DidResolverConfig::default()
        })
        .map_err(|e| anyhow::anyhow!("MCPS trust store `{shown}`: {e}"))?;
        for (did, owner) in named {
            if keys.contains_key(did) {
                continue;
            }
            let key = resolver.resolve_key(did).await.map_err(|e| {
                anyhow::anyhow!("MCPS trust store `{shown}`: cannot resolve `{did}` ({owner}): {e}")
            })?;
            tracing::info!(%did, kid = %mcps::native::key_id(&key), "MCPS key resolved");
            keys.insert(did.clone(), key);
        }
        Ok(keys)
    }

    /// The key of a signer or issuer entry (its `public_key` file or its resolved `did`), after
    /// checking the entry's trust level.
    fn entry_key(
        &self,
        public_key: Option<&str>,
        did: Option<&str>,
        trust_level: u8,
        dids: &DidKeys,
        owner: &str,
    ) -> anyhow::Result<VerifyingKey> {
        if trust_level > mcps::trust::MAX_TRUST_LEVEL {
            anyhow::bail!(
                "MCPS trust store `{}`: {owner} has trust_level {trust_level}; use 0 to 4",
                self.shown
            );
        }
        match (public_key, did) {
            (Some(path), None) => self.public_key(path, owner),
            (None, Some(did)) => dids.get(did).cloned().ok_or_else(|| {
                anyhow::anyhow!(
                    "MCPS trust store `{}`: `{did}` ({owner}) was not resolved",
                    self.shown
                )
            }),
            _ => anyhow::bail!(
                "MCPS trust store `{}`: {owner} needs exactly one of `public_key` and `did`",
                self.shown
            ),
        }
    }

    fn public_key(&self, relative: &str, owner: &str) -> anyhow::Result<VerifyingKey> {
        let shown = &self.shown;
        let key_path = self.base.join(relative);
        let pem = std::fs::read_to_string(&key_path).with_context(|| {
            format!(
                "MCPS trust store `{shown}`: cannot read the public key `{}` of {owner}",
                key_path.display()
            )
        })?;
        VerifyingKey::from_spki_pem(&pem).with_context(|| {
            format!(
                "MCPS trust store `{shown}`: `{}` ({owner}) is not an SPKI PEM P-256 or Ed25519 public key",
                key_path.display()
            )
        })
    }

    /// The trusted issuers.
    ///
    /// # Errors
    ///
    /// When an issuer's key cannot be read or an entry is invalid.
    pub(crate) fn issuers(&self, dids: &DidKeys) -> anyhow::Result<IssuerStore> {
        let mut store = IssuerStore::new();
        for entry in &self.file.issuers {
            let owner = format!("issuer `{}`", entry.name);
            let key = self.entry_key(
                entry.public_key.as_deref(),
                entry.did.as_deref(),
                entry.trust_level,
                dids,
                &owner,
            )?;
            store
                .add(TrustedIssuer {
                    name: entry.name.clone(),
                    key,
                    max_trust_level: entry.trust_level,
                })
                .map_err(|e| anyhow::anyhow!("MCPS trust store `{}`: {owner}: {e}", self.shown))?;
        }
        Ok(store)
    }

    /// How passports are judged.
    pub(crate) fn chain_options(&self) -> ChainOptions {
        ChainOptions {
            limits: PassportLimits::default(),
            require_bound_ids: self.file.require_bound_passport_ids,
            expected_origin: self.file.origin.clone(),
        }
    }

    /// The signers: the direct ones, then one per passport that verifies at `now`.
    ///
    /// # Errors
    ///
    /// When a key or passport cannot be read, a passport does not verify for a reason other
    /// than its validity period, or two signers share an id or a key.
    pub(crate) fn signers(&self, now: Timestamp, dids: &DidKeys) -> anyhow::Result<TrustStore> {
        let shown = &self.shown;
        let mut signers = Vec::new();
        for entry in &self.file.signers {
            if entry.id.is_empty() || entry.id.len() > 128 || entry.id.chars().any(char::is_control)
            {
                anyhow::bail!(
                    "MCPS trust store `{shown}`: signer ids must be 1 to 128 printable characters"
                );
            }
            let owner = format!("signer `{}`", entry.id);
            let key = self.entry_key(
                entry.public_key.as_deref(),
                entry.did.as_deref(),
                entry.trust_level,
                dids,
                &owner,
            )?;
            signers.push(Signer::new(entry.id.clone(), key, entry.trust_level));
        }
        let issuers = self.issuers(dids)?;
        let options = self.chain_options();
        for entry in &self.file.passports {
            let path = self.base.join(&entry.path);
            match verify_passport_file(&path, &issuers, now, &options)? {
                Ok(trusted) => {
                    tracing::info!(
                        passport = %trusted.info.passport_id,
                        trust_level = trusted.trust_level,
                        anchor = trusted.anchor.as_deref().unwrap_or("self"),
                        intermediates = trusted.intermediates.len(),
                        "MCPS passport trusted"
                    );
                    signers.push(Signer {
                        expires_at: Some(trusted.expires_at),
                        issuers: trusted.intermediates,
                        ..Signer::new(
                            trusted.info.passport_id,
                            trusted.info.public_key,
                            trusted.trust_level,
                        )
                    });
                }
                Err(error @ (McpsError::PassportExpired | McpsError::PassportNotYetValid)) => {
                    tracing::error!(
                        path = %path.display(),
                        reason = error.reject_code().as_str(),
                        "MCPS passport left out of the trust store: {error}"
                    );
                }
                Err(error) => anyhow::bail!(
                    "MCPS trust store `{shown}`: passport `{}` is refused ({}): {error}",
                    path.display(),
                    error.reject_code().as_str()
                ),
            }
        }
        TrustStore::new(signers).map_err(|e| anyhow::anyhow!("MCPS trust store `{shown}`: {e}"))
    }
}

/// Reads the passport at `path` and verifies it against `issuers` at `now`. The outer error is
/// an unreadable file; the inner one the verdict.
///
/// # Errors
///
/// When the file cannot be read or is too large.
pub(crate) fn verify_passport_file(
    path: &Path,
    issuers: &IssuerStore,
    now: Timestamp,
    options: &ChainOptions,
) -> anyhow::Result<Result<TrustedPassport, McpsError>> {
    let shown = path.display();
    let size = std::fs::metadata(path)
        .with_context(|| format!("cannot read the MCPS passport `{shown}`"))?
        .len();
    if size > MAX_PASSPORT_FILE {
        anyhow::bail!("the MCPS passport `{shown}` is larger than {MAX_PASSPORT_FILE} bytes");
    }
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read the MCPS passport `{shown}`"))?;
    Ok(verify_passport(&bytes, issuers, now, options))
}

/// Verifies the passport JSON in `bytes` against `issuers` at `now`.
pub(crate) fn verify_passport(
    bytes: &[u8],
    issuers: &IssuerStore,
    now: Timestamp,
    options: &ChainOptions,
) -> Result<TrustedPassport, McpsError> {
    canonical::parse_bytes(bytes, &ParseOptions::STRICT)
        .and_then(Passport::from_value)
        .and_then(|passport| issuers.verify(&passport, now, options))
}
