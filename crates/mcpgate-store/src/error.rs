//! The crate's one error type.

use thiserror::Error;

/// Why a store could not answer.
///
/// Every variant means "no definite answer": a caller checking for replays must deny the message,
/// exactly as it would for [`Freshness::Replayed`](crate::Freshness::Replayed), but it can tell
/// the two apart to report an outage rather than an attack.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend could not be reached or did not answer in time (connection refused, timeout,
    /// lock held too long by another process). Usually transient.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The store holds its maximum number of unexpired entries and will not forget one early.
    #[error(
        "replay store is full of unexpired entries; raise its capacity or shorten the acceptance window"
    )]
    Full,
    /// The expiry passed in is not in the future (or not representable), so the message's
    /// acceptance window has already closed and it cannot be checked for replay.
    #[error(
        "replay entry would already be expired; reject the message as stale and check the acceptance window and the clocks"
    )]
    InvalidExpiry,
    /// The store was configured with a value it cannot use.
    #[error("invalid store configuration: {0}")]
    Config(String),
    /// The backend answered with an error or something unexpected.
    #[error("store backend error: {0}")]
    Backend(String),
}
