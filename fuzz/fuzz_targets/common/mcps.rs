//! Fixed keys and time for the `mcps` fuzz targets: the keys and the reference time of the
//! profile A test vectors (`shared/mcps-vectors/profile-a`, beside the repository), so that the
//! vectors' envelopes and passports used as seeds verify, and a fixed Ed25519 test key for
//! native envelopes.

#![allow(dead_code, reason = "each target uses only some of these")]

use mcps::Error;
use mcps::keys::SigningKey;
use mcps::time::Timestamp;

/// The vectors' `agent` key (P-256): it signed their envelopes.
pub const AGENT_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg32cqj2ccPcFn5wXa\nJkELcKCXBWUjrktpLbkdeNBRvG2hRANCAAR1eOX9BWtb10RG7LpZbbbMsifE32XY\ngl6LIg2V9D0zwluhZXxQJ3eTFZirPPS7FgUKTGeP2McKM6mEC9Fn4ABL\n-----END PRIVATE KEY-----\n";
/// The vectors' `authority` key (P-256): it signed their passports.
pub const AUTHORITY_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzu5CTSR/kZwjEO+i\nZ9EPKRgdQiY6fWy5bLGHBK4BXcmhRANCAAQMGC+Jl4LZiacjDl87I3PcZu1XqJeg\nGZb8ZVaPr96kMkj+aIBTmdoTmH1+FJOmeWppyXCo9qImJeiOThJoKrJM\n-----END PRIVATE KEY-----\n";
/// A fixed Ed25519 test key, for native envelopes only.
pub const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIH1IXJP8J/h/HYMVAjAoMeKyZA1AK05WC6T5dEtqkeq9\n-----END PRIVATE KEY-----\n";
/// The vectors' reference time.
pub const NOW: &str = "2026-11-22T16:05:23.250000Z";

/// The value of a fixture that cannot fail to build; a target without its fixture cannot run.
pub fn fixture<T>(result: Result<T, Error>) -> T {
    match result {
        Ok(value) => value,
        Err(e) => panic!("fuzz fixture: {e}"),
    }
}

/// A key from one of the PEM texts above.
pub fn key(pem: &str) -> SigningKey {
    fixture(SigningKey::from_pem(pem))
}

/// [`NOW`].
pub fn now() -> Timestamp {
    fixture(Timestamp::parse(NOW))
}
