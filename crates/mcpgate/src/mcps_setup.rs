//! Builds the MCPS signature stage from the `[mcps]` section: the trust store (see
//! [`crate::trust_store`] for its format), the replay store and the revocation list.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context;
use mcpgate_config::{Config, McpsProfile, ReplayConfig};
use mcpgate_core::jsonrpc::Limits;
use mcpgate_pipeline::Signature;
use mcpgate_pipeline::stages::revocation_authority::{AuthorityConfig, RevocationAuthority};
use mcpgate_pipeline::stages::signature::{
    Profile, Requirement, RevocationList, SignatureConfig, TrustStore, TrustStoreHandle,
};
use mcpgate_store::{
    Freshness, MemoryReplayStore, RedisReplayStore, ReplayStore, SqliteReplayStore, StoreFuture,
};
use mcps::keys::{Algorithm, SigningKey, VerifyingKey};
use mcps::time::Timestamp;

/// Re-reads the trust store at `path` on every SIGHUP and puts it in force through `handle`;
/// a store that cannot be read, resolved or verified is refused and the one in force stays.
///
/// # Errors
///
/// When SIGHUP cannot be handled.
pub(crate) fn spawn_trust_store_reload(
    path: std::path::PathBuf,
    handle: TrustStoreHandle,
    shutdown: tokio_util::sync::CancellationToken,
) -> anyhow::Result<()> {
    crate::security::spawn_reloader("the MCPS trust store", None, shutdown, move || {
        let (path, handle) = (path.clone(), handle.clone());
        async move {
            match load_trust_store(&path).await {
                Ok(store) => {
                    let signers = store.len();
                    handle.replace(store);
                    tracing::info!(signers, "MCPS trust store reloaded");
                }
                Err(error) => tracing::error!(
                    "the MCPS trust store was refused; the previous one stays in force: {error:#}"
                ),
            }
        }
    })
}

/// How often expired replay entries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Reads a trust store file, resolves its DIDs and verifies its passports now.
///
/// # Errors
///
/// When the file, a key, a DID or a passport cannot be read, or an entry is invalid.
pub(crate) async fn load_trust_store(path: &Path) -> anyhow::Result<TrustStore> {
    let file = crate::trust_store::read(path)?;
    let dids = file.resolve_dids().await?;
    file.signers(Timestamp::now(), &dids)
}

/// A Redis replay store that connects on first use and again after a failed attempt, so the
/// gateway starts (and refuses signed messages) while Redis is down.
struct LazyRedis {
    url: String,
    prefix: String,
    store: tokio::sync::OnceCell<RedisReplayStore>,
}

impl fmt::Debug for LazyRedis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL may hold a password.
        f.debug_struct("LazyRedis")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl ReplayStore for LazyRedis {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn check_and_insert<'a>(
        &'a self,
        signer: &'a str,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> StoreFuture<'a, Freshness> {
        Box::pin(async move {
            let store = self
                .store
                .get_or_try_init(|| RedisReplayStore::connect(&self.url, &self.prefix))
                .await?;
            store.check_and_insert(signer, nonce, expires_at).await
        })
    }
}

fn replay_store(config: &ReplayConfig) -> anyhow::Result<Arc<dyn ReplayStore>> {
    Ok(match config {
        ReplayConfig::Memory { capacity } => Arc::new(MemoryReplayStore::new(*capacity)),
        ReplayConfig::Sqlite { path } => {
            Arc::new(SqliteReplayStore::open(path).with_context(|| {
                format!("cannot open the MCPS replay store `{}`", path.display())
            })?)
        }
        ReplayConfig::Redis { url, prefix } => Arc::new(LazyRedis {
            url: url.clone(),
            prefix: prefix.clone(),
            store: tokio::sync::OnceCell::new(),
        }),
    })
}

/// The signature stage for `config`, or `None` without an `[mcps]` section. Must run inside
/// the Tokio runtime (it starts the replay store's purge task).
///
/// # Errors
///
/// When the trust store, the revocation list or the replay store cannot be used.
pub(crate) async fn signature_stage(config: &Config) -> anyhow::Result<Option<Signature>> {
    let Some(mcps) = &config.mcps else {
        return Ok(None);
    };
    let trust = load_trust_store(&mcps.trust_store).await?;
    if trust.is_empty() {
        tracing::warn!("the MCPS trust store lists no signers: every signed message is refused");
    }
    let revocations = match &mcps.revocation_list {
        Some(path) => Some(
            RevocationList::load(path.clone(), mcps.revocation_reload_interval)
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let replay = replay_store(&mcps.replay)?;
    mcpgate_store::spawn_purge_task(Arc::clone(&replay), PURGE_EVERY);
    let profiles = mcps
        .profiles
        .iter()
        .map(|p| match p {
            McpsProfile::A => Profile::A,
            McpsProfile::B => Profile::B,
            McpsProfile::Native => Profile::Native,
        })
        .collect();
    let requirements = mcps
        .require
        .iter()
        .map(|r| Requirement {
            upstream: r.upstream.clone(),
            signed: r.signed,
            min_trust_level: r.min_trust_level,
            tools: r.tools.clone(),
        })
        .collect();
    let response_key = match &mcps.signing_key {
        Some(path) => {
            let shown = path.display();
            let pem = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the MCPS signing key `{shown}`"))?;
            let key = SigningKey::from_pem(&pem).map_err(|_| {
                anyhow::anyhow!(
                    "the MCPS signing key `{shown}` is not a PKCS#8 PEM P-256 or Ed25519 private key"
                )
            })?;
            if let Some(passport_id) = &mcps.signing_passport_id {
                if key.algorithm() != Algorithm::EcdsaP256 {
                    anyhow::bail!(
                        "the MCPS signing key `{shown}` is an Ed25519 key, but profile A and B responses (`signing_passport_id`) are signed with P-256 only; use a P-256 key or remove `signing_passport_id`"
                    );
                }
                tracing::info!(
                    passport_id,
                    profile_a = mcps.sign_profile_a_responses,
                    "MCPS responses to profile B (and, if set, profile A) requests are signed"
                );
            }
            tracing::info!(
                kid = %mcps::native::key_id(&key.verifying_key()),
                "MCPS responses to native-signed requests are signed; clients pin this key id"
            );
            Some(key)
        }
        None => None,
    };
    tracing::info!(
        signers = trust.len(),
        replay = replay.name(),
        "MCPS signature verification enabled"
    );
    let authority = match &mcps.revocation_authority {
        Some(ta) => Some(revocation_authority(ta)?),
        None => None,
    };
    let stage = Signature::new(SignatureConfig {
        profiles,
        trust,
        window: mcps.window,
        replay,
        revocations,
        requirements,
        limits: Limits {
            max_bytes: config.server.max_body_bytes,
            max_depth: config.server.max_depth,
        },
        response_key,
        response_passport_id: mcps.signing_passport_id.clone(),
        sign_profile_a_responses: mcps.sign_profile_a_responses,
    });
    Ok(Some(match authority {
        Some(authority) => stage.with_revocation_authority(authority),
        None => stage,
    }))
}

/// The trust authority client for `[mcps] revocation_url`.
fn revocation_authority(
    ta: &mcpgate_config::RevocationAuthorityConfig,
) -> anyhow::Result<RevocationAuthority> {
    let shown = ta.key.display();
    let pem = std::fs::read_to_string(&ta.key)
        .with_context(|| format!("cannot read the MCPS revocation authority key `{shown}`"))?;
    let key = VerifyingKey::from_spki_pem(&pem).map_err(|_| {
        anyhow::anyhow!(
            "the MCPS revocation authority key `{shown}` is not an SPKI PEM P-256 or Ed25519 public key"
        )
    })?;
    if ta.allow_http {
        tracing::warn!("MCPS revocation checks may use http: signer ids travel in the clear");
    }
    RevocationAuthority::new(AuthorityConfig {
        url: ta.url.clone(),
        key,
        ttl: ta.ttl,
        extra_ca: ta.extra_ca.clone(),
        allow_http: ta.allow_http,
    })
    .map_err(anyhow::Error::msg)
}
