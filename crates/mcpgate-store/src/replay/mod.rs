//! Replay protection for signed MCP messages.
//!
//! The gateway calls [`ReplayStore::check_and_insert`] once per envelope, after the signature
//! and the timestamp window have been verified (so forged messages cannot fill the store), with
//! `expires_at` = the envelope's timestamp plus the acceptance window: the last instant at which
//! the envelope could still pass the timestamp check. The store answers [`Freshness::Fresh`] for
//! the first sighting of a `(signer, nonce)` pair and [`Freshness::Replayed`] for any later one
//! until `expires_at` has passed; after that the pair may be recorded afresh (the timestamp check
//! rejects the old envelope by then anyway).
//!
//! # Semantics shared by every store
//!
//! - Check and insert are one atomic step, also across processes sharing a backend: of any
//!   number of concurrent calls with the same pair, exactly one gets `Fresh`.
//! - Times are whole milliseconds since the Unix epoch; `expires_at` is rounded up.
//! - An entry is live while `now <= expires_at` (the rule Redis applies to keys).
//! - An `expires_at` that is not after the current time is refused with
//!   [`StoreError::InvalidExpiry`] rather than answered `Fresh` without being stored: such a
//!   message should have failed the timestamp check, so reaching the store with it points at a
//!   caller bug or a clock problem, and denying it is the safe answer.
//! - Any failure is a [`StoreError`], never `Fresh`; callers deny on error.
//! - A caller that drops the future may or may not have had its pair recorded; either way the
//!   message was not admitted, so at worst a nonce is burnt.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::StoreError;

pub mod memory;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// The boxed future the store traits return.
///
/// Stores are picked at run time from configuration and held as `Arc<dyn ReplayStore>`, and a
/// trait with `async fn` is not dyn-compatible. Returning a pinned, boxed, `Send` future by hand
/// gives the same shape the `async-trait` macro would generate, keeps the signatures readable in
/// the documentation and costs no proc-macro dependency. One allocation per call is negligible
/// next to a signature verification.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a replay store says about a `(signer, nonce)` pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[must_use]
pub enum Freshness {
    /// First sighting: the pair is now recorded until its expiry. Admit the message.
    Fresh,
    /// The pair is already recorded and unexpired. Deny the message.
    Replayed,
}

/// A store of `(signer, nonce)` pairs seen in verified envelopes.
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// A short name for logs and metrics: `"memory"`, `"sqlite"` or `"redis"`.
    fn name(&self) -> &'static str;

    /// Atomically checks whether `(signer, nonce)` is recorded and, if not, records it until
    /// `expires_at`.
    ///
    /// # Errors
    ///
    /// [`StoreError::InvalidExpiry`] if `expires_at` is not in the future; [`StoreError::Full`]
    /// if a bounded store holds only unexpired entries; [`StoreError::Unavailable`] or
    /// [`StoreError::Backend`] if the backend cannot answer. The caller must deny on any error.
    fn check_and_insert<'a>(
        &'a self,
        signer: &'a str,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> StoreFuture<'a, Freshness>;

    /// Deletes expired entries and returns how many went. Stores whose backend expires entries
    /// by itself (Redis) do nothing and return 0.
    ///
    /// # Errors
    ///
    /// [`StoreError::Unavailable`] or [`StoreError::Backend`] if the backend cannot answer.
    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(std::future::ready(Ok(0)))
    }
}

/// Runs [`ReplayStore::purge_expired`] every `every` until the returned task is aborted or the
/// runtime shuts down. Failures are logged and retried at the next tick; they never stop the task.
///
/// Must be called from within a Tokio runtime.
pub fn spawn_purge_task(
    store: Arc<dyn ReplayStore>,
    every: Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick completes at once; skip it so a fresh store is not purged at start-up.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            match store.purge_expired().await {
                Ok(0) => {}
                Ok(purged) => {
                    tracing::debug!(
                        store = store.name(),
                        purged,
                        "purged expired replay entries"
                    );
                }
                Err(error) => {
                    tracing::warn!(store = store.name(), %error, "replay store purge failed");
                }
            }
        }
    })
}

/// `expires_at` in milliseconds since the epoch, rounded up, checked to be after `now`.
pub(crate) fn expiry_millis(expires_at: SystemTime, now: SystemTime) -> Result<i64, StoreError> {
    let expires = expires_at
        .duration_since(UNIX_EPOCH)
        .map_err(|_| StoreError::InvalidExpiry)?;
    let mut millis = expires.as_millis();
    if expires.subsec_nanos() % 1_000_000 != 0 {
        millis += 1;
    }
    let millis = i64::try_from(millis).map_err(|_| StoreError::InvalidExpiry)?;
    if millis <= now_millis(now) {
        return Err(StoreError::InvalidExpiry);
    }
    Ok(millis)
}

/// `now` in milliseconds since the epoch, rounded down; 0 for a clock before the epoch.
pub(crate) fn now_millis(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH)
        .ok()
        .and_then(|since| i64::try_from(since.as_millis()).ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_millis(millis: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(millis)
    }

    #[test]
    fn expiry_is_rounded_up_and_must_be_in_the_future() {
        let now = at_millis(1_000);
        assert_eq!(expiry_millis(at_millis(1_001), now), Ok(1_001));
        assert_eq!(
            expiry_millis(at_millis(1_000) + Duration::from_micros(1), now),
            Ok(1_001)
        );
        assert_eq!(
            expiry_millis(at_millis(1_000), now),
            Err(StoreError::InvalidExpiry)
        );
        assert_eq!(
            expiry_millis(at_millis(999), now),
            Err(StoreError::InvalidExpiry)
        );
        assert_eq!(
            expiry_millis(UNIX_EPOCH - Duration::from_secs(1), now),
            Err(StoreError::InvalidExpiry)
        );
        // Within one millisecond the expiry rounds up and `now` rounds down.
        assert_eq!(
            expiry_millis(
                at_millis(1_000) + Duration::from_micros(400),
                at_millis(1_000) + Duration::from_micros(300)
            ),
            Ok(1_001)
        );
    }
}
