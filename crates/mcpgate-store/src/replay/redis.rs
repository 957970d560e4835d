//! A replay store in Redis, shared by gateway processes on any number of hosts.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Value};
use sha2::{Digest, Sha256};

use super::{Freshness, ReplayStore, StoreFuture, expiry_millis, now_millis};
use crate::StoreError;

/// Longest key prefix accepted.
const MAX_PREFIX_LEN: usize = 64;

/// How long the Redis store waits before reporting Redis as unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisTimeouts {
    /// Limit on establishing a connection (TCP connect and handshake), both at start-up and
    /// when reconnecting after the connection dropped.
    pub connect: Duration,
    /// Limit on one command's round trip.
    pub response: Duration,
}

impl Default for RedisTimeouts {
    /// One second each: a replay check sits on the request path, and a Redis that takes longer
    /// is better reported as unavailable (the request is denied) than waited for.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(1),
            response: Duration::from_secs(1),
        }
    }
}

/// A replay store in Redis.
///
/// Each pair is one key, `<prefix>:<hex sha256(signer)>:<hex sha256(nonce)>`, written with
/// `SET key 1 NX PX <ms>`: Redis executes it atomically, so of any number of gateways racing on
/// the same pair exactly one is told [`Freshness::Fresh`], and Redis deletes the key when it
/// expires (so [`ReplayStore::purge_expired`] has nothing to do). Hashing both parts gives
/// fixed-length keys whatever the signer and nonce contain: no separator in a signer id can make
/// two pairs share a key or reach outside the prefix.
///
/// The expiry is sent as a duration (`PX`, milliseconds left by this gateway's clock) rather
/// than as an absolute time (`PXAT`): the entry then lives exactly as long as this gateway's own
/// timestamp check could accept the message, whatever the Redis server's clock says. A Redis
/// clock running ahead would otherwise drop entries early and reopen the replay window.
///
/// The connection is a [`ConnectionManager`]: multiplexed, shared by clones of the store, and
/// re-established after it drops. Every command is bounded by [`RedisTimeouts`]; a Redis that is
/// down, unreachable or stalled yields [`StoreError::Unavailable`] within about
/// `connect + response`, never a hang and never `Fresh`. A timed-out `SET` may still have been
/// applied; the caller denies the message, so at worst its nonce is burnt.
///
/// TLS (`rediss://`) is not supported by this build.
#[derive(Clone)]
pub struct RedisReplayStore {
    connection: ConnectionManager,
    prefix: Arc<str>,
    /// The server URL without user name and password, for messages.
    target: Arc<str>,
    /// The URL's password, to scrub from any message that might echo it.
    password: Option<Arc<str>>,
    timeouts: RedisTimeouts,
}

impl fmt::Debug for RedisReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReplayStore")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .field("timeouts", &self.timeouts)
            .finish_non_exhaustive()
    }
}

impl RedisReplayStore {
    /// Connects to the Redis server at `url` (`redis://[user:password@]host[:port][/db]` or
    /// `redis+unix:///path`) with the default [`RedisTimeouts`], storing keys under
    /// `key_prefix`.
    ///
    /// # Errors
    ///
    /// [`StoreError::Config`] for an unusable URL or prefix; [`StoreError::Unavailable`] if the
    /// server cannot be reached, rejects the credentials or does not answer in time.
    pub async fn connect(url: &str, key_prefix: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, key_prefix, RedisTimeouts::default()).await
    }

    /// [`connect`](Self::connect) with explicit timeouts.
    ///
    /// `key_prefix` separates this deployment's keys from anything else in the database: 1 to
    /// 64 characters from `A-Z a-z 0-9 _ - . :`.
    ///
    /// # Errors
    ///
    /// As for [`connect`](Self::connect).
    pub async fn connect_with(
        url: &str,
        key_prefix: &str,
        timeouts: RedisTimeouts,
    ) -> Result<Self, StoreError> {
        check_prefix(key_prefix)?;
        let parsed = url::Url::parse(url).map_err(|_| {
            StoreError::Config(
                "the redis url cannot be parsed; expected redis://[user:password@]host[:port][/db]"
                    .into(),
            )
        })?;
        match parsed.scheme() {
            "redis" | "redis+unix" | "unix" => {}
            "rediss" => {
                return Err(StoreError::Config(
                    "rediss:// (redis over tls) is not supported by this build; use redis:// on a trusted network or a local tls tunnel".into(),
                ));
            }
            other => {
                return Err(StoreError::Config(format!(
                    "unsupported redis url scheme {other:?}; use redis:// or redis+unix://"
                )));
            }
        }
        let password = parsed.password().map(|password| {
            Arc::<str>::from(
                percent_decode(password)
                    .unwrap_or_else(|| password.to_owned())
                    .as_str(),
            )
        });
        let target: Arc<str> = redact(&parsed).into();
        let fail = |error: RedisError| map_error(&target, password.as_deref(), timeouts, &error);

        let client = redis::Client::open(url).map_err(fail)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.response))
            // One attempt per (re)connection: a command arriving while Redis is down fails
            // fast and triggers the next attempt, instead of queueing behind a backoff.
            .set_number_of_retries(0);
        let connection = tokio::time::timeout(
            deadline(timeouts),
            ConnectionManager::new_with_config(client, config),
        )
        .await
        .map_err(|_| timed_out(&target, timeouts))?
        .map_err(fail)?;

        Ok(Self {
            connection,
            prefix: key_prefix.into(),
            target,
            password,
            timeouts,
        })
    }

    /// The Redis key recording `(signer, nonce)`, for inspecting the store by hand.
    #[must_use]
    pub fn key(&self, signer: &str, nonce: &str) -> String {
        format!(
            "{}:{}:{}",
            self.prefix,
            hex::encode(Sha256::digest(signer.as_bytes())),
            hex::encode(Sha256::digest(nonce.as_bytes()))
        )
    }

    /// The key prefix.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn error(&self, error: &RedisError) -> StoreError {
        map_error(&self.target, self.password.as_deref(), self.timeouts, error)
    }
}

impl ReplayStore for RedisReplayStore {
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
            let now = SystemTime::now();
            let expires = expiry_millis(expires_at, now)?;
            // Positive: expiry_millis refuses anything not after `now`.
            let keep_for = expires - now_millis(now);
            let mut command = redis::cmd("SET");
            command
                .arg(self.key(signer, nonce))
                .arg(1)
                .arg("NX")
                .arg("PX")
                .arg(keep_for);
            let mut connection = self.connection.clone();
            let reply: Value = tokio::time::timeout(
                deadline(self.timeouts),
                command.query_async(&mut connection),
            )
            .await
            .map_err(|_| timed_out(&self.target, self.timeouts))?
            .map_err(|error| self.error(&error))?;
            match reply {
                Value::Okay => Ok(Freshness::Fresh),
                Value::Nil => Ok(Freshness::Replayed),
                Value::ServerError(error) => Err(self.error(&error.into())),
                _ => Err(StoreError::Backend(format!(
                    "redis at {} gave an unexpected reply to SET NX; is it a redis-compatible server?",
                    self.target
                ))),
            }
        })
    }
}

/// The overall limit on one operation: a reconnection and a round trip.
fn deadline(timeouts: RedisTimeouts) -> Duration {
    timeouts.connect.saturating_add(timeouts.response)
}

fn timed_out(target: &str, timeouts: RedisTimeouts) -> StoreError {
    StoreError::Unavailable(format!(
        "redis at {target} did not answer within {} ms",
        deadline(timeouts).as_millis()
    ))
}

fn map_error(
    target: &str,
    password: Option<&str>,
    timeouts: RedisTimeouts,
    error: &RedisError,
) -> StoreError {
    if error.is_timeout() {
        return timed_out(target, timeouts);
    }
    if error.is_connection_refusal() {
        return StoreError::Unavailable(format!(
            "redis at {target} refused the connection; is it running and listening there?"
        ));
    }
    let detail = scrub(&error.to_string(), password);
    match error.kind() {
        ErrorKind::AuthenticationFailed => StoreError::Unavailable(format!(
            "redis at {target} rejected the credentials; check the user name and password in the url"
        )),
        ErrorKind::InvalidClientConfig => StoreError::Config(format!(
            "the redis url for {target} is not usable: {detail}"
        )),
        _ if error.is_io_error()
            || error.is_connection_dropped()
            || error.is_unrecoverable_error() =>
        {
            StoreError::Unavailable(format!("redis at {target}: connection failed: {detail}"))
        }
        _ => StoreError::Backend(format!("redis at {target}: {detail}")),
    }
}

/// `text` with every occurrence of `secret` masked.
fn scrub(text: &str, secret: Option<&str>) -> String {
    match secret {
        Some(secret) if !secret.is_empty() => text.replace(secret, "***"),
        _ => text.to_owned(),
    }
}

/// The URL without user name, password, query or fragment.
fn redact(url: &url::Url) -> String {
    let mut url = url.clone();
    // Both fail only for URLs that cannot carry credentials, which then have none to strip.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_query(None);
    url.set_fragment(None);
    url.to_string()
}

fn percent_decode(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&byte, tail)) = rest.split_first() {
        if byte == b'%' {
            let hex = tail.get(..2)?;
            let hex = std::str::from_utf8(hex).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = tail.get(2..)?;
        } else {
            bytes.push(byte);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn check_prefix(prefix: &str) -> Result<(), StoreError> {
    let valid = !prefix.is_empty()
        && prefix.len() <= MAX_PREFIX_LEN
        && prefix
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"_-.:".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "the redis key prefix must be 1 to {MAX_PREFIX_LEN} characters from A-Z a-z 0-9 _ - . :"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_strips_credentials_and_query() {
        let url = url::Url::parse("redis://admin:s%40cret@cache.internal:6380/2?x=y").unwrap();
        assert_eq!(redact(&url), "redis://cache.internal:6380/2");
        assert_eq!(percent_decode("s%40cret").as_deref(), Some("s@cret"));
        assert_eq!(percent_decode("bad%4"), None);
        assert_eq!(
            scrub("auth s@cret failed", Some("s@cret")),
            "auth *** failed"
        );
    }

    #[test]
    fn prefixes_are_checked() {
        check_prefix("mcpgate:replay").unwrap();
        for bad in ["", "has space", "star*", "new\nline", &"x".repeat(65)] {
            assert!(
                matches!(check_prefix(bad), Err(StoreError::Config(_))),
                "{bad:?}"
            );
        }
    }
}
