//! MCPS message signatures: verify, stop replays, unwrap, and enforce per-tool requirements.
//!
//! A client message may arrive as an MCPS envelope in one of three wire profiles:
//!
//! * **A** (`mcp-secure` 1.0.0): `{"mcps": "1.0.0", "passport_id", "timestamp", "nonce",
//!   "signature", "message": {…}}`; the transport parses it as its inner message and keeps the
//!   envelope text ([`Message::mcps_envelope`]).
//! * **B** (`mcps-secure` 1.0.0): the JSON-RPC members with an `mcps` header member beside them.
//! * **native** (`mcps-native/1`): `{"alg", "kid", "message", "nonce", "prev", "sig", "ts",
//!   "v"}`, every field signed, with a per-session transcript chain in `prev`.
//!
//! For a signed message this stage, in this order and failing closed at every step:
//!
//! 1. looks the signer up in the [`TrustStore`] (profiles A and B by `passport_id`, native by
//!    `kid`, the key's JWK thumbprint): an unknown signer is refused (`unknown_signer`);
//! 2. verifies the envelope strictly with the `mcps` crate under that signer's key, including
//!    the timestamp window (`bad_signature`, `expired`, `future_timestamp`, `bad_nonce`, …);
//! 3. checks the local [`RevocationList`] for the signer id and key id (`revoked`), then asks
//!    the trust authority, if configured ([`RevocationAuthority`]), about the signer id
//!    (`revoked`; no valid signed answer: `revocation_unavailable`);
//! 4. only then records `(signer, nonce)` in the replay store until `timestamp + window`
//!    (`replay`; a store error is `replay_unavailable`, never a pass);
//! 5. for native envelopes, advances the session's transcript chain (`transcript_mismatch`
//!    for a dropped, reordered, replayed or spliced message);
//! 6. replaces the message with the signed JSON-RPC message, re-serialised in the profile's
//!    signed form, so the upstream gets plain MCP; the id stays the client's.
//!
//! It then records the facts `signed`, `trust_level` (from the trust store, never from the
//! message) and `signer` for policy (`context.extra` in Cedar), and enforces the configured
//! [`Requirement`]s on `tools/call`: an unsigned call where a signature is required is refused
//! with `signature_required`, a signer below the minimum trust level with
//! `insufficient_trust`. Every refusal is [`Denial::Signature`] with one of these codes.
//!
//! # Signed responses
//!
//! With a gateway key ([`SignatureConfig::response_key`]), the answer to a signed request is
//! signed in the request's profile, remembered per session and request id until it comes:
//!
//! * **native**: a native envelope whose `prev` is the request's link hash, so the answer
//!   continues the request's transcript chain;
//! * **B**, with a gateway passport id ([`SignatureConfig::response_passport_id`]): the answer
//!   gets an `mcps` header member beside its JSON-RPC members, which a client that does not
//!   check it ignores;
//! * **A**, with a passport id and [`SignatureConfig::sign_profile_a_responses`]: the answer is
//!   wrapped in a profile A envelope, which only a client expecting one can read.
//!
//! Profiles A and B need a P-256 key. Answers to unsigned requests, and to profiles that are not
//! set up for it, go out as they are. A response that cannot be signed is refused
//! (`signing_failed`) rather than sent unsigned.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::ArcSwap;
use mcpgate_core::jsonrpc::Id;
use mcpgate_core::jsonrpc::Limits;
use mcpgate_core::{Denial, Direction, Exchange, Kind, Message};
use mcpgate_store::{Freshness, ReplayStore, StoreError};
use mcps::canonical::{self, ParseOptions, Value};
use mcps::keys::{SigningKey, VerifyingKey};
use mcps::native::{ChainVerifier, Link};
use mcps::profile_a::Nonce;
use mcps::time::Timestamp;
use mcps::{native, profile_a, profile_b};

use crate::stages::revocation_authority::RevocationAuthority;
use crate::{Stage, Stop};

/// Most native transcript chains kept at once; the least recently used one is dropped beyond.
const MAX_CHAINS: usize = 100_000;

/// A wire profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Profile {
    /// `mcp-secure` 1.0.0.
    A,
    /// `mcps-secure` 1.0.0.
    B,
    /// `mcps-native/1`.
    Native,
}

impl Profile {
    /// `a`, `b` or `native`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
            Self::Native => "native",
        }
    }
}

/// One trusted signer.
#[derive(Debug, Clone)]
pub struct Signer {
    /// The signer id: the `passport_id` of its profile A and B envelopes, and the `signer`
    /// fact.
    pub id: String,
    /// Its public key.
    pub key: VerifyingKey,
    /// Its trust level, 0 to 4.
    pub trust_level: u8,
    /// When it stops being trusted (its passport's `expires_at`); `None`: never.
    pub expires_at: Option<Timestamp>,
    /// The passport ids of the issuers that vouch for it, nearest first; each is checked for
    /// revocation like the signer itself.
    pub issuers: Vec<String>,
}

impl Signer {
    /// A signer trusted at `trust_level` with no expiry and no issuers.
    pub fn new(id: impl Into<String>, key: VerifyingKey, trust_level: u8) -> Self {
        Self {
            id: id.into(),
            key,
            trust_level,
            expires_at: None,
            issuers: Vec::new(),
        }
    }
}

/// The trusted signers, by id and by key id.
#[derive(Debug, Default)]
pub struct TrustStore {
    by_id: HashMap<String, Arc<Signer>>,
    by_kid: HashMap<String, Arc<Signer>>,
}

impl TrustStore {
    /// A store of `signers`.
    ///
    /// # Errors
    ///
    /// A message naming the problem when two signers share an id or a key.
    pub fn new(signers: Vec<Signer>) -> Result<Self, String> {
        let mut store = Self::default();
        for signer in signers {
            let kid = native::key_id(&signer.key);
            let id = signer.id.clone();
            let signer = Arc::new(signer);
            if store
                .by_id
                .insert(id.clone(), Arc::clone(&signer))
                .is_some()
            {
                return Err(format!("signer `{id}` is listed twice"));
            }
            if store.by_kid.insert(kid, signer).is_some() {
                return Err(format!(
                    "signer `{id}` has the same public key as another signer"
                ));
            }
        }
        Ok(store)
    }

    /// How many signers it holds.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// Whether it holds no signer.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn by_id(&self, id: &str) -> Option<&Arc<Signer>> {
        self.by_id.get(id)
    }

    fn by_kid(&self, kid: &str) -> Option<&Arc<Signer>> {
        self.by_kid.get(kid)
    }
}

/// A local file of revoked signer ids and key ids (JWK thumbprints), one per line; blank lines
/// and `#` comments are ignored. It is re-read when its modification time or size changes,
/// checked at most once per reload interval. If it cannot be read, every signed message is
/// refused (`revocation_unavailable`) until it can.
#[derive(Debug)]
pub struct RevocationList {
    path: PathBuf,
    interval: Duration,
    state: Mutex<RevocationState>,
}

#[derive(Debug)]
struct RevocationState {
    checked: Instant,
    stamp: Option<(SystemTime, u64)>,
    revoked: Result<Vec<String>, ()>,
}

impl RevocationList {
    /// Loads the list at `path`.
    ///
    /// # Errors
    ///
    /// A message naming the file when it cannot be read.
    pub fn load(path: PathBuf, interval: Duration) -> Result<Self, String> {
        let (stamp, revoked) = read_revocations(&path)
            .map_err(|e| format!("cannot read the revocation list `{}`: {e}", path.display()))?;
        Ok(Self {
            path,
            interval,
            state: Mutex::new(RevocationState {
                checked: Instant::now(),
                stamp: Some(stamp),
                revoked: Ok(revoked),
            }),
        })
    }

    /// Whether any of `ids` is revoked; `Err` when the list cannot be read.
    fn is_revoked(&self, ids: &[&str]) -> Result<bool, ()> {
        let mut state = self.state.lock().map_err(|_| ())?;
        if state.checked.elapsed() >= self.interval {
            state.checked = Instant::now();
            let stamp = file_stamp(&self.path).ok();
            if stamp.is_none() || stamp != state.stamp {
                match read_revocations(&self.path) {
                    Ok((stamp, revoked)) => {
                        tracing::info!(path = %self.path.display(), entries = revoked.len(), "revocation list reloaded");
                        state.stamp = Some(stamp);
                        state.revoked = Ok(revoked);
                    }
                    Err(error) => {
                        if state.revoked.is_ok() {
                            tracing::error!(path = %self.path.display(), %error, "cannot read the revocation list; refusing signed messages until it can be read");
                        }
                        state.stamp = None;
                        state.revoked = Err(());
                    }
                }
            }
        }
        match &state.revoked {
            Ok(list) => Ok(ids.iter().any(|id| list.iter().any(|r| r == id))),
            Err(()) => Err(()),
        }
    }
}

fn file_stamp(path: &std::path::Path) -> std::io::Result<(SystemTime, u64)> {
    let meta = std::fs::metadata(path)?;
    Ok((meta.modified()?, meta.len()))
}

fn read_revocations(path: &std::path::Path) -> std::io::Result<((SystemTime, u64), Vec<String>)> {
    let stamp = file_stamp(path)?;
    let text = std::fs::read_to_string(path)?;
    let revoked = text
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    Ok((stamp, revoked))
}

/// Signature requirements for `tools/call` on one upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The upstream.
    pub upstream: String,
    /// Calls must be signed.
    pub signed: bool,
    /// Lowest accepted trust level.
    pub min_trust_level: u8,
    /// Tools it applies to; empty: every tool.
    pub tools: Vec<String>,
}

impl Requirement {
    fn covers(&self, upstream: &str, tool: &str) -> bool {
        self.upstream == upstream && (self.tools.is_empty() || self.tools.iter().any(|t| t == tool))
    }
}

/// The signature stage's settings.
#[derive(Debug)]
pub struct SignatureConfig {
    /// Accepted profiles.
    pub profiles: Vec<Profile>,
    /// Trusted signers.
    pub trust: TrustStore,
    /// Accepted timestamp skew, both ways.
    pub window: Duration,
    /// Where `(signer, nonce)` pairs are recorded.
    pub replay: Arc<dyn ReplayStore>,
    /// The local revocation list.
    pub revocations: Option<RevocationList>,
    /// Requirements on `tools/call`.
    pub requirements: Vec<Requirement>,
    /// Limits for the unwrapped message.
    pub limits: Limits,
    /// The gateway's key: when set, the response to a native-signed request is sent as a
    /// native envelope signed with it, whose `prev` is the request's link hash.
    pub response_key: Option<SigningKey>,
    /// The gateway's passport id, written into its profile A and B response envelopes: when
    /// set (with a P-256 `response_key`), the response to a profile B request gets a profile B
    /// `mcps` header signed with the key.
    pub response_passport_id: Option<String>,
    /// With `response_passport_id`: also send the response to a profile A request as a
    /// profile A envelope. Off by default, since a client that does not expect an envelope
    /// cannot read the answer.
    pub sign_profile_a_responses: bool,
}

/// Replaces the trust store of a running [`Signature`] stage (see
/// [`Signature::trust_store_handle`]): messages verified after the swap use the new store; a
/// message being verified finishes with the store it started with.
#[derive(Debug, Clone)]
pub struct TrustStoreHandle(Arc<ArcSwap<TrustStore>>);

impl TrustStoreHandle {
    /// Puts `store` in force.
    pub fn replace(&self, store: TrustStore) {
        self.0.store(Arc::new(store));
    }

    /// How many signers the store in force holds.
    pub fn len(&self) -> usize {
        self.0.load().len()
    }

    /// Whether the store in force holds no signer.
    pub fn is_empty(&self) -> bool {
        self.0.load().is_empty()
    }
}

/// The signature stage.
#[derive(Debug)]
pub struct Signature {
    config: SignatureConfig,
    /// The trusted signers: `config.trust` at first, replaceable through a [`TrustStoreHandle`].
    trust: TrustStoreHandle,
    chains: Mutex<HashMap<String, (ChainVerifier, Instant)>>,
    /// Signed requests awaiting a signed response, by session and id.
    pending: Mutex<HashMap<(String, String), (Reply, Instant)>>,
    /// The trust authority asked whether a verified signer is revoked.
    authority: Option<RevocationAuthority>,
}

fn deny(code: &'static str, message: impl Into<String>) -> Denial {
    Denial::Signature {
        code,
        message: message.into(),
    }
}

fn reject(error: &mcps::Error) -> Denial {
    deny(error.reject_code().as_str(), error.to_string())
}

/// How the response to a signed request is signed.
#[derive(Debug)]
enum Reply {
    /// As a native envelope following the request's link hash.
    Native(String),
    /// As a profile A envelope.
    A,
    /// With a profile B header.
    B,
}

/// What a verified envelope established.
struct Verified {
    profile: Profile,
    signer: Arc<Signer>,
    timestamp: Timestamp,
    nonce: String,
    /// The native chain link and this envelope's link hash.
    chain: Option<(Link, String)>,
    message: Value,
}

impl Signature {
    /// The stage.
    pub fn new(mut config: SignatureConfig) -> Self {
        let trust = std::mem::take(&mut config.trust);
        Self {
            config,
            trust: TrustStoreHandle(Arc::new(ArcSwap::from_pointee(trust))),
            chains: Mutex::new(HashMap::new()),
            pending: Mutex::new(HashMap::new()),
            authority: None,
        }
    }

    /// A handle to replace the trust store while the stage runs (a reload).
    pub fn trust_store_handle(&self) -> TrustStoreHandle {
        self.trust.clone()
    }

    /// Also asks `authority` whether each verified signer is revoked (after the local list).
    #[must_use]
    pub fn with_revocation_authority(mut self, authority: RevocationAuthority) -> Self {
        self.authority = Some(authority);
        self
    }

    /// Asks the trust authority, if any, about the signer; fails closed.
    async fn ask_authority(&self, signer: &Signer) -> Result<(), Denial> {
        let Some(authority) = &self.authority else {
            return Ok(());
        };
        for id in std::iter::once(&signer.id).chain(&signer.issuers) {
            match authority.is_revoked(id).await {
                Ok(false) => {}
                Ok(true) => {
                    return Err(deny(
                        "revoked",
                        "the signer's key or passport, or an issuer's passport, is revoked",
                    ));
                }
                Err(error) => {
                    tracing::warn!(signer = %signer.id, %error, "revocation authority unavailable; refusing the signed message");
                    return Err(deny(
                        "revocation_unavailable",
                        "the revocation authority cannot be reached; retry later",
                    ));
                }
            }
        }
        Ok(())
    }

    /// How the response to the request `v` verified is to be signed, if at all.
    fn reply_for(&self, v: &Verified) -> Option<Reply> {
        let passport = self.config.response_passport_id.is_some();
        match v.profile {
            Profile::Native => v
                .chain
                .as_ref()
                .map(|(_, hash)| Reply::Native(hash.clone())),
            Profile::A => (passport && self.config.sign_profile_a_responses).then_some(Reply::A),
            Profile::B => passport.then_some(Reply::B),
        }
    }

    /// Remembers how the response to the request `x` is to be signed, to sign it when it
    /// comes; `None` (not signed) also forgets what an earlier request with the same id left,
    /// such as a signed request that was refused after this stage.
    fn expect_response(&self, x: &Exchange, reply: Option<Reply>) {
        if self.config.response_key.is_none() || x.message.kind() != Kind::Request {
            return;
        }
        let Some(id) = x.message.id() else {
            return;
        };
        let Ok(mut pending) = self.pending.lock() else {
            return;
        };
        let key = (x.session.clone(), id.as_json().to_owned());
        let Some(reply) = reply else {
            pending.remove(&key);
            return;
        };
        if pending.len() >= MAX_CHAINS
            && let Some(oldest) = pending
                .iter()
                .min_by_key(|(_, (_, at))| *at)
                .map(|(k, _)| k.clone())
        {
            pending.remove(&oldest);
        }
        pending.insert(key, (reply, Instant::now()));
    }

    /// Signs `response` in its request's profile, if that request was signed and the gateway
    /// signs answers in that profile.
    fn sign_response(&self, x: &Exchange, response: &mut Message) -> Result<(), Denial> {
        let (Some(key), Some(id)) = (&self.config.response_key, x.message.id()) else {
            return Ok(());
        };
        let reply = {
            let mut pending = self
                .pending
                .lock()
                .map_err(|_| deny("internal", "signing state unavailable"))?;
            pending.remove(&(x.session.clone(), id.as_json().to_owned()))
        };
        let Some((reply, _)) = reply else {
            return Ok(());
        };
        let refused = || deny("signing_failed", "the gateway could not sign its response");
        let failed = |e: &mcps::Error| {
            tracing::error!(error = %e, "cannot sign the response");
            refused()
        };
        let message =
            canonical::parse(&response.to_json(), &ParseOptions::STRICT).map_err(|e| failed(&e))?;
        let nonce = Nonce::random().map_err(|e| failed(&e))?;
        let now = Timestamp::now();
        let envelope = match (reply, self.config.response_passport_id.as_deref()) {
            (Reply::Native(hash), _) => native::sign(&message, key, now, &nonce, &Link::Prev(hash))
                .and_then(|e| e.to_json()),
            (Reply::A, Some(passport)) => {
                profile_a::sign(&message, passport, key, now, nonce).and_then(|e| e.to_json())
            }
            (Reply::B, Some(passport)) => {
                profile_b::sign(&message, passport, key, now, nonce, None).and_then(|e| e.to_json())
            }
            // Not recorded without a passport id (`reply_for`); never sent unsigned.
            (Reply::A | Reply::B, None) => return Err(refused()),
        }
        .map_err(|e| failed(&e))?;
        response.set_signed_wire(envelope);
        Ok(())
    }

    /// Verifies `x`'s envelope, if it has one; `Ok(None)` for an unsigned message.
    fn verify(&self, x: &Exchange) -> Result<Option<Verified>, Denial> {
        let (profile, wire) = if let Some(text) = x.message.mcps_envelope() {
            (None, text.to_owned())
        } else if x.message.member("mcps").is_some() {
            (Some(Profile::B), x.message.to_json())
        } else {
            return Ok(None);
        };
        let envelope = canonical::parse(&wire, &ParseOptions::STRICT).map_err(|e| reject(&e))?;
        let Some(object) = envelope.as_object() else {
            return Err(deny(
                "malformed_envelope",
                "the envelope is not a JSON object",
            ));
        };
        let profile = match profile {
            Some(p) => p,
            None if object.contains_key("mcps") => Profile::A,
            None if object.contains_key("v") => Profile::Native,
            None => return Err(deny("malformed_envelope", "unknown envelope format")),
        };
        if !self.config.profiles.contains(&profile) {
            return Err(deny(
                "profile_not_accepted",
                format!(
                    "this gateway does not accept profile {} envelopes",
                    profile.as_str()
                ),
            ));
        }
        let options = profile_a::VerifyOptions {
            now: Timestamp::now(),
            max_age: self.config.window,
            max_future: self.config.window,
            parse: ParseOptions::STRICT,
        };
        let unknown = || {
            deny(
                "unknown_signer",
                "the envelope's signer is not in the trust store",
            )
        };
        let claimed = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
        let trust = self.trust.0.load();
        match profile {
            Profile::A | Profile::B => {
                let id = if profile == Profile::A {
                    claimed(object.get("passport_id"))
                } else {
                    claimed(
                        object
                            .get("mcps")
                            .and_then(Value::as_object)
                            .and_then(|h| h.get("passport_id")),
                    )
                };
                let signer = id
                    .as_deref()
                    .and_then(|id| trust.by_id(id))
                    .ok_or_else(unknown)?;
                let verified = if profile == Profile::A {
                    profile_a::verify_value(envelope, &signer.key, &options)
                } else {
                    profile_b::verify_value(envelope, &signer.key, &options, None)
                }
                .map_err(|e| reject(&e))?;
                if verified.passport_id() != signer.id {
                    return Err(unknown());
                }
                Ok(Some(Verified {
                    profile,
                    signer: Arc::clone(signer),
                    timestamp: verified.timestamp(),
                    nonce: verified.nonce().as_str().to_owned(),
                    chain: None,
                    message: verified.into_message(),
                }))
            }
            Profile::Native => {
                let signer = claimed(object.get("kid"))
                    .as_deref()
                    .and_then(|kid| trust.by_kid(kid))
                    .ok_or_else(unknown)?;
                let verified = native::verify_value(envelope, &signer.key, &options)
                    .map_err(|e| reject(&e))?;
                Ok(Some(Verified {
                    profile,
                    signer: Arc::clone(signer),
                    timestamp: verified.timestamp(),
                    nonce: verified.nonce().as_str().to_owned(),
                    chain: Some((verified.link().clone(), verified.link_hash().to_owned())),
                    message: verified.message().clone(),
                }))
            }
        }
    }

    fn check_revoked(&self, signer: &Signer) -> Result<(), Denial> {
        let Some(list) = &self.config.revocations else {
            return Ok(());
        };
        let kid = native::key_id(&signer.key);
        let mut ids = vec![signer.id.as_str(), kid.as_str()];
        ids.extend(signer.issuers.iter().map(String::as_str));
        match list.is_revoked(&ids) {
            Ok(false) => Ok(()),
            Ok(true) => Err(deny(
                "revoked",
                "the signer's key or passport, or an issuer's passport, is revoked",
            )),
            Err(()) => Err(deny(
                "revocation_unavailable",
                "the revocation list cannot be read; retry later",
            )),
        }
    }

    async fn check_replay(&self, v: &Verified) -> Result<(), Denial> {
        let micros = u64::try_from(v.timestamp.unix_micros())
            .map_err(|_| deny("bad_timestamp", "the timestamp is before 1970"))?;
        let expires_at = UNIX_EPOCH + Duration::from_micros(micros) + self.config.window;
        match self
            .config
            .replay
            .check_and_insert(&v.signer.id, &v.nonce, expires_at)
            .await
        {
            Ok(Freshness::Fresh) => Ok(()),
            Ok(Freshness::Replayed) => Err(deny("replay", "this envelope was already used")),
            Err(StoreError::InvalidExpiry) => Err(deny("expired", "the envelope is too old")),
            Err(StoreError::Full) => Err(deny(
                "replay_unavailable",
                "the replay store is full; retry later",
            )),
            Err(error) => {
                tracing::warn!(store = self.config.replay.name(), %error, "replay store unavailable; refusing the signed message");
                Err(deny(
                    "replay_unavailable",
                    "the replay store cannot be reached; retry later",
                ))
            }
        }
    }

    fn advance_chain(&self, session: &str, link: &Link, hash: &str) -> Result<(), Denial> {
        let mismatch = || {
            deny(
                "transcript_mismatch",
                "the envelope does not continue this session's transcript chain",
            )
        };
        let mut chains = self
            .chains
            .lock()
            .map_err(|_| deny("internal", "transcript state unavailable"))?;
        match chains.get_mut(session) {
            Some((chain, used)) => {
                if chain.expected() != link {
                    return Err(mismatch());
                }
                *chain = ChainVerifier::new(Link::Prev(hash.to_owned()));
                *used = Instant::now();
            }
            None => {
                if !matches!(link, Link::Start(_)) {
                    return Err(mismatch());
                }
                if chains.len() >= MAX_CHAINS
                    && let Some(oldest) = chains
                        .iter()
                        .min_by_key(|(_, (_, used))| *used)
                        .map(|(k, _)| k.clone())
                {
                    chains.remove(&oldest);
                }
                chains.insert(
                    session.to_owned(),
                    (
                        ChainVerifier::new(Link::Prev(hash.to_owned())),
                        Instant::now(),
                    ),
                );
            }
        }
        Ok(())
    }

    /// The signed message as plain JSON-RPC, checked against the message the transport routed.
    /// Nothing is changed yet, so a refusal here spends no nonce and moves no chain.
    fn unwrapped(&self, x: &Exchange, v: &Verified) -> Result<Message, Denial> {
        let text = match v.profile {
            Profile::A => canonical::python_dumps(&v.message),
            Profile::B => canonical::profile_b(&v.message),
            Profile::Native => canonical::jcs(&v.message),
        }
        .map_err(|e| reject(&e))?;
        let mut inner = Message::parse(text.as_bytes(), self.config.limits).map_err(|e| {
            deny(
                "malformed_message",
                format!(
                    "the signed message is not acceptable JSON-RPC: {}",
                    e.denial
                ),
            )
        })?;
        // The transport routed the message by the method and id it parsed; the signed message
        // must agree. Ids are compared as values: the envelope's serialiser may spell the same
        // string differently (`"\u00e9"` and `"é"`).
        if inner.kind() != x.message.kind()
            || inner.method() != x.message.method()
            || !same_id(inner.id(), x.message.id())
        {
            return Err(deny(
                "malformed_envelope",
                "the signed message differs from the envelope's message",
            ));
        }
        // Keep the routed spelling, which the transport's id bookkeeping uses.
        if let Some(id) = x.message.id()
            && inner.id() != Some(id)
        {
            inner.set_id(id);
        }
        Ok(inner)
    }

    fn enforce(&self, x: &Exchange, signer: Option<&Signer>) -> Result<(), Denial> {
        if x.message.kind() != Kind::Request || x.message.method() != Some("tools/call") {
            return Ok(());
        }
        let Some(tool) = x.target() else {
            return Ok(());
        };
        for requirement in &self.config.requirements {
            if !requirement.covers(&x.upstream, &tool) {
                continue;
            }
            match signer {
                None if requirement.signed || requirement.min_trust_level > 0 => {
                    return Err(deny(
                        "signature_required",
                        format!("tool `{tool}` requires an MCPS-signed call"),
                    ));
                }
                Some(s) if s.trust_level < requirement.min_trust_level => {
                    return Err(deny(
                        "insufficient_trust",
                        format!(
                            "tool `{tool}` requires trust level {}; the signer has {}",
                            requirement.min_trust_level, s.trust_level
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    async fn check(&self, x: &mut Exchange) -> Result<(), Denial> {
        let Some(v) = self.verify(x)? else {
            self.expect_response(x, None);
            x.facts.insert("signed".into(), false.into());
            x.facts.insert("trust_level".into(), 0.into());
            return self.enforce(x, None);
        };
        if v.signer.expires_at.is_some_and(|at| Timestamp::now() > at) {
            return Err(deny(
                "passport_expired",
                "the signer's passport has expired",
            ));
        }
        self.check_revoked(&v.signer)?;
        self.ask_authority(&v.signer).await?;
        let inner = self.unwrapped(x, &v)?;
        self.check_replay(&v).await?;
        if let Some((link, hash)) = &v.chain {
            self.advance_chain(&x.session, link, hash)?;
        }
        x.replace_message(inner);
        x.facts.insert("signed".into(), true.into());
        x.facts
            .insert("trust_level".into(), i64::from(v.signer.trust_level).into());
        x.facts.insert("signer".into(), v.signer.id.clone().into());
        tracing::debug!(signer = %v.signer.id, profile = v.profile.as_str(), "signature verified");
        self.enforce(x, Some(&v.signer))?;
        self.expect_response(x, self.reply_for(&v));
        Ok(())
    }
}

impl Stage for Signature {
    const NAME: &'static str = "signature";

    async fn on_request(&self, x: &mut Exchange) -> Result<(), Stop> {
        if x.direction != Direction::ClientToServer {
            return Ok(());
        }
        self.check(x).await.map_err(Stop::Deny)
    }

    async fn on_response(&self, x: &Exchange, response: &mut Message) -> Result<(), Stop> {
        self.sign_response(x, response).map_err(Stop::Deny)
    }
}

/// Whether two request ids are the same JSON value, however they are spelt.
fn same_id(a: Option<&Id>, b: Option<&Id>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            a == b
                || matches!(
                    (
                        serde_json::from_str::<serde_json::Value>(a.as_json()),
                        serde_json::from_str::<serde_json::Value>(b.as_json()),
                    ),
                    (Ok(x), Ok(y)) if x == y
                )
        }
        _ => false,
    }
}

/// Refuses an envelope when no signature stage is configured: its signature cannot be checked,
/// and forwarding the inner message would pass it off as what the envelope claims.
pub(crate) fn refuse_unverified(x: &Exchange) -> Result<(), Stop> {
    if x.direction == Direction::ClientToServer && x.message.mcps_envelope().is_some() {
        return Err(Stop::Deny(deny(
            "signatures_not_enabled",
            "this gateway does not verify MCPS envelopes (no `[mcps]` section); send plain JSON-RPC",
        )));
    }
    Ok(())
}
