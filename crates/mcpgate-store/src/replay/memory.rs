//! A bounded replay store in process memory.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::Mutex;
use std::time::SystemTime;

use super::{Freshness, ReplayStore, StoreFuture, expiry_millis, now_millis};
use crate::StoreError;

type Key = (Box<str>, Box<str>);

/// A replay store for a single gateway process.
///
/// Holds at most `capacity` unexpired pairs. Expired pairs are dropped lazily, on the next
/// insert (or [`ReplayStore::purge_expired`]), in expiry order; when the store is full of
/// unexpired pairs it refuses new ones with [`StoreError::Full`] rather than forgetting a pair
/// that could then be replayed, so memory never grows past the capacity.
#[derive(Debug)]
pub struct MemoryReplayStore {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Pair → expiry in epoch milliseconds.
    entries: HashMap<Key, i64>,
    /// Every expiry ever inserted and not yet popped, soonest first. An element whose key has
    /// since been removed and re-inserted with another expiry is stale and skipped on pop.
    by_expiry: BinaryHeap<Reverse<(i64, Key)>>,
}

impl MemoryReplayStore {
    /// A store holding at most `capacity` unexpired pairs.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// The maximum number of unexpired pairs held.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Number of pairs held, including expired ones not yet dropped.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a thread panicked while holding the store's lock.
    pub fn len(&self) -> Result<usize, StoreError> {
        Ok(self.lock()?.entries.len())
    }

    /// Whether the store holds no pairs.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if a thread panicked while holding the store's lock.
    pub fn is_empty(&self) -> Result<bool, StoreError> {
        Ok(self.len()? == 0)
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Inner>, StoreError> {
        self.inner
            .lock()
            .map_err(|_| StoreError::Backend("memory replay store lock poisoned".into()))
    }

    /// [`ReplayStore::check_and_insert`] with the current time passed in.
    fn check_and_insert_at(
        &self,
        signer: &str,
        nonce: &str,
        expires_at: SystemTime,
        now: SystemTime,
    ) -> Result<Freshness, StoreError> {
        let expires = expiry_millis(expires_at, now)?;
        let now = now_millis(now);
        let mut inner = self.lock()?;
        inner.purge(now);
        // After the purge every remaining entry is live.
        let key: Key = (signer.into(), nonce.into());
        if inner.entries.contains_key(&key) {
            return Ok(Freshness::Replayed);
        }
        if inner.entries.len() >= self.capacity {
            return Err(StoreError::Full);
        }
        inner.entries.insert(key.clone(), expires);
        inner.by_expiry.push(Reverse((expires, key)));
        Ok(Freshness::Fresh)
    }

    fn purge_at(&self, now: SystemTime) -> Result<u64, StoreError> {
        Ok(self.lock()?.purge(now_millis(now)))
    }
}

impl Inner {
    /// Drops every entry that expired before `now`; returns how many.
    fn purge(&mut self, now: i64) -> u64 {
        let mut purged = 0;
        while let Some(Reverse((expires, _))) = self.by_expiry.peek() {
            if *expires >= now {
                break;
            }
            if let Some(Reverse((expires, key))) = self.by_expiry.pop()
                && self.entries.get(&key) == Some(&expires)
            {
                self.entries.remove(&key);
                purged += 1;
            }
        }
        purged
    }
}

impl ReplayStore for MemoryReplayStore {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn check_and_insert<'a>(
        &'a self,
        signer: &'a str,
        nonce: &'a str,
        expires_at: SystemTime,
    ) -> StoreFuture<'a, Freshness> {
        let result = self.check_and_insert_at(signer, nonce, expires_at, SystemTime::now());
        Box::pin(std::future::ready(result))
    }

    fn purge_expired(&self) -> StoreFuture<'_, u64> {
        Box::pin(std::future::ready(self.purge_at(SystemTime::now())))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn refuses_a_pair_until_it_expires() {
        let store = MemoryReplayStore::new(10);
        assert_eq!(
            store.check_and_insert_at("did:a", "n1", at(100), at(0)),
            Ok(Freshness::Fresh)
        );
        assert_eq!(
            store.check_and_insert_at("did:a", "n1", at(100), at(50)),
            Ok(Freshness::Replayed)
        );
        // Same nonce, other signer: another pair.
        assert_eq!(
            store.check_and_insert_at("did:b", "n1", at(100), at(50)),
            Ok(Freshness::Fresh)
        );
        // Still held at exactly its expiry, gone a millisecond later.
        assert_eq!(
            store.check_and_insert_at("did:a", "n1", at(200), at(100)),
            Ok(Freshness::Replayed)
        );
        assert_eq!(
            store.check_and_insert_at("did:a", "n1", at(200), at(100) + Duration::from_millis(1)),
            Ok(Freshness::Fresh)
        );
        // The re-inserted pair carries its new expiry, not the stale heap element's.
        assert_eq!(
            store.check_and_insert_at("did:a", "n1", at(300), at(150)),
            Ok(Freshness::Replayed)
        );
    }

    #[test]
    fn pairs_do_not_collide_across_the_separator() {
        let store = MemoryReplayStore::new(10);
        assert_eq!(
            store.check_and_insert_at("a:b", "c", at(100), at(0)),
            Ok(Freshness::Fresh)
        );
        assert_eq!(
            store.check_and_insert_at("a", "b:c", at(100), at(0)),
            Ok(Freshness::Fresh)
        );
    }

    #[test]
    fn full_store_fails_closed_then_recovers() {
        let store = MemoryReplayStore::new(2);
        assert_eq!(
            store.check_and_insert_at("s", "n1", at(10), at(0)),
            Ok(Freshness::Fresh)
        );
        assert_eq!(
            store.check_and_insert_at("s", "n2", at(20), at(0)),
            Ok(Freshness::Fresh)
        );
        assert_eq!(
            store.check_and_insert_at("s", "n3", at(30), at(5)),
            Err(StoreError::Full)
        );
        // A replay of a held pair is still recognised when full.
        assert_eq!(
            store.check_and_insert_at("s", "n1", at(10), at(5)),
            Ok(Freshness::Replayed)
        );
        // Once n1 has expired there is room again, and the live n2 is kept.
        assert_eq!(
            store.check_and_insert_at("s", "n3", at(30), at(11)),
            Ok(Freshness::Fresh)
        );
        assert_eq!(store.len(), Ok(2));
        assert_eq!(
            store.check_and_insert_at("s", "n2", at(20), at(11)),
            Ok(Freshness::Replayed)
        );
    }

    #[test]
    fn purge_drops_only_expired_pairs() {
        let store = MemoryReplayStore::new(10);
        for (nonce, expires) in [("n1", 10), ("n2", 20), ("n3", 30)] {
            assert_eq!(
                store.check_and_insert_at("s", nonce, at(expires), at(0)),
                Ok(Freshness::Fresh)
            );
        }
        assert_eq!(store.purge_at(at(20)), Ok(1));
        assert_eq!(store.len(), Ok(2));
        assert_eq!(store.purge_at(at(31)), Ok(2));
        assert_eq!(store.is_empty(), Ok(true));
    }

    #[test]
    fn past_expiry_is_refused_and_not_stored() {
        let store = MemoryReplayStore::new(10);
        assert_eq!(
            store.check_and_insert_at("s", "n1", at(10), at(10)),
            Err(StoreError::InvalidExpiry)
        );
        assert_eq!(store.is_empty(), Ok(true));
    }

    #[tokio::test]
    async fn works_through_the_trait_object() {
        let store: std::sync::Arc<dyn ReplayStore> = std::sync::Arc::new(MemoryReplayStore::new(4));
        let expires = SystemTime::now() + Duration::from_secs(60);
        assert_eq!(store.name(), "memory");
        assert_eq!(
            store.check_and_insert("s", "n", expires).await,
            Ok(Freshness::Fresh)
        );
        assert_eq!(
            store.check_and_insert("s", "n", expires).await,
            Ok(Freshness::Replayed)
        );
        assert_eq!(
            store
                .check_and_insert("s", "old", SystemTime::now() - Duration::from_secs(1))
                .await,
            Err(StoreError::InvalidExpiry)
        );
        assert_eq!(store.purge_expired().await, Ok(0));
    }
}
