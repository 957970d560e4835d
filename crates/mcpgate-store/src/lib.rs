//! mcpgate's shared stores: state that several gateway processes may need to agree on.
//!
//! So far this is the [replay store](replay): after an MCPS envelope's signature and timestamp
//! have been verified, the gateway asks the store whether the envelope's `(signer, nonce)` pair
//! was seen before, and the store remembers the pair until the envelope could no longer pass the
//! timestamp check. Three implementations share one object-safe trait, [`ReplayStore`], so the
//! gateway can hold an `Arc<dyn ReplayStore>` chosen by configuration:
//!
//! - [`MemoryReplayStore`]: one process, bounded.
//! - [`SqliteReplayStore`] (feature `sqlite`): processes on one host sharing a database file.
//! - [`RedisReplayStore`] (feature `redis`): processes on any host sharing a Redis server.
//!
//! Every store fails closed: when it cannot give a definite answer it returns a [`StoreError`],
//! which the caller turns into a denial, never into "fresh".

mod error;
pub mod replay;

pub use error::StoreError;
pub use replay::memory::MemoryReplayStore;
#[cfg(feature = "redis")]
pub use replay::redis::{RedisReplayStore, RedisTimeouts};
#[cfg(feature = "sqlite")]
pub use replay::sqlite::SqliteReplayStore;
pub use replay::{Freshness, ReplayStore, StoreFuture, spawn_purge_task};
