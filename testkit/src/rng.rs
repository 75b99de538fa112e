//! The operating system's generator for tests.

use super::*;

/// The operating system's generator (`/dev/urandom`) behind rand_core 0.10's fallible traits:
/// the client's own host generator, under the name the tests use.
pub use encore_client::OsRng as OsRandom;

/// Current wall-clock time in Unix seconds.
pub fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
