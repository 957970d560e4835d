//! A bounded, in-memory replay cache for verified envelopes.
//!
//! The reference's nonce store is keyed by nonce alone, unbounded, fed *before* any check, and
//! forgets entries a fixed time after *receipt*, so a future-dated envelope can outlive its
//! entry. This cache instead:
//!
//! * is keyed by `(passport_id, nonce)`;
//! * is meant to be consulted only after the signature and window checks passed
//!   ([`ReplayCache::admit`] takes a [`VerifiedEnvelope`]), so forged messages cannot fill it;
//! * keeps each entry until the envelope's own timestamp plus the accepted age, i.e. exactly as
//!   long as the envelope could still pass the window check;
//! * has a fixed capacity and refuses new entries when it is full of unexpired ones
//!   ([`Error::ReplayCacheFull`]) rather than forgetting a nonce that could then be replayed.
//!
//! Time is passed in explicitly; the cache does no I/O and starts no threads.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::error::Error;
use crate::profile_a::{VerifiedEnvelope, VerifyOptions};
use crate::time::Timestamp;

type Key = (Box<str>, Box<str>);

/// Remembers `(passport_id, nonce)` pairs until they expire.
#[derive(Debug)]
pub struct ReplayCache {
    capacity: usize,
    entries: HashMap<Key, i64>,
    by_expiry: BinaryHeap<Reverse<(i64, Key)>>,
}

impl ReplayCache {
    /// A cache holding at most `capacity` unexpired entries.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity,
            entries: HashMap::new(),
            by_expiry: BinaryHeap::new(),
        }
    }

    /// Number of entries currently held (some may be expired but not yet purged).
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache holds no entries.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Records a verified envelope's `(passport_id, nonce)`, keeping it until its timestamp
    /// plus `options.max_age`.
    ///
    /// # Errors
    ///
    /// [`Error::Replay`] if the pair is already held; [`Error::ReplayCacheFull`] if the cache is
    /// full of unexpired entries.
    pub fn admit(
        &mut self,
        envelope: &VerifiedEnvelope,
        options: &VerifyOptions,
    ) -> Result<(), Error> {
        let keep_until = envelope.timestamp().saturating_add(options.max_age);
        self.check_and_record(
            envelope.passport_id(),
            envelope.nonce().as_str(),
            keep_until,
            options.now,
        )
    }

    /// Records `(passport_id, nonce)` until `keep_until`, purging entries that expired before
    /// `now` first.
    ///
    /// # Errors
    ///
    /// [`Error::Replay`] if the pair is already held and unexpired; [`Error::ReplayCacheFull`]
    /// if the cache is full of unexpired entries.
    pub fn check_and_record(
        &mut self,
        passport_id: &str,
        nonce: &str,
        keep_until: Timestamp,
        now: Timestamp,
    ) -> Result<(), Error> {
        self.purge(now);
        let key: Key = (passport_id.into(), nonce.into());
        if self.entries.contains_key(&key) {
            return Err(Error::Replay);
        }
        if self.entries.len() >= self.capacity {
            return Err(Error::ReplayCacheFull);
        }
        let expiry = keep_until.unix_micros();
        self.entries.insert(key.clone(), expiry);
        self.by_expiry.push(Reverse((expiry, key)));
        Ok(())
    }

    /// Drops every entry whose retention ended before `now`.
    pub fn purge(&mut self, now: Timestamp) {
        let now = now.unix_micros();
        while let Some(Reverse((expiry, _))) = self.by_expiry.peek() {
            if *expiry >= now {
                break;
            }
            if let Some(Reverse((expiry, key))) = self.by_expiry.pop()
                && self.entries.get(&key) == Some(&expiry)
            {
                self.entries.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds)
    }

    #[test]
    fn refuses_a_pair_until_it_expires() {
        let mut cache = ReplayCache::new(10);
        cache
            .check_and_record("asp_a", "n1", at(100), at(0))
            .unwrap();
        assert_eq!(
            cache.check_and_record("asp_a", "n1", at(100), at(50)),
            Err(Error::Replay)
        );
        // Same nonce, other passport: a different pair.
        cache
            .check_and_record("asp_b", "n1", at(100), at(50))
            .unwrap();
        // Still held at exactly its expiry, gone after.
        assert_eq!(
            cache.check_and_record("asp_a", "n1", at(200), at(100)),
            Err(Error::Replay)
        );
        cache
            .check_and_record("asp_a", "n1", at(200), at(101))
            .unwrap();
    }

    #[test]
    fn full_cache_fails_closed_then_recovers() {
        let mut cache = ReplayCache::new(2);
        cache
            .check_and_record("asp_a", "n1", at(10), at(0))
            .unwrap();
        cache
            .check_and_record("asp_a", "n2", at(20), at(0))
            .unwrap();
        assert_eq!(
            cache.check_and_record("asp_a", "n3", at(30), at(5)),
            Err(Error::ReplayCacheFull)
        );
        cache
            .check_and_record("asp_a", "n3", at(30), at(11))
            .unwrap();
        assert_eq!(cache.len(), 2);
    }
}
