//! defmt records of what the examples report, behind the `defmt` feature.
//!
//! Each function logs the library's own value with `defmt::Format` (the handshake summary,
//! the connection's statistics, the store's load report and wear, errors), next to the
//! board's text line, which stays as it is. Without the feature every function is empty and
//! vanishes from the image.

use encore_client::ConnectionStats;
use encore_store::{LoadReport, Wear};

use crate::connection::Outcome;
use crate::Reportable;

/// Connection `n`: its handshake summary, whether it resumed, and its statistics.
#[inline]
pub fn outcome(n: u8, outcome: &Outcome) {
    #[cfg(feature = "defmt")]
    defmt::info!(
        "conn={=u8} reused={=bool} {} {}",
        n,
        outcome.reused,
        outcome.summary,
        outcome.stats
    );
    #[cfg(not(feature = "defmt"))]
    let _ = (n, outcome);
}

/// A connection's statistics (bytes, tickets, tickets that could not be saved).
#[inline]
pub fn stats(stats: &ConnectionStats) {
    #[cfg(feature = "defmt")]
    defmt::info!("{}", stats);
    #[cfg(not(feature = "defmt"))]
    let _ = stats;
}

/// The store's report at boot, and how many records went to the context's cache.
#[inline]
pub fn load(report: &LoadReport, cached: usize) {
    #[cfg(feature = "defmt")]
    defmt::info!("load: {} cached={=usize}", report, cached);
    #[cfg(not(feature = "defmt"))]
    let _ = (report, cached);
}

/// What one step cost the flash.
#[inline]
pub fn wear(step: &str, spent: &Wear) {
    #[cfg(feature = "defmt")]
    defmt::info!("wear step={=str} {}", step, spent);
    #[cfg(not(feature = "defmt"))]
    let _ = (step, spent);
}

/// A session-store operation failed.
#[inline]
pub fn store_failed(e: &impl Reportable) {
    #[cfg(feature = "defmt")]
    defmt::warn!("store: {}", e);
    #[cfg(not(feature = "defmt"))]
    let _ = e;
}

/// What ended a check: a connection's or an application's error.
#[inline]
pub fn error(what: &str, e: &impl Reportable) {
    #[cfg(feature = "defmt")]
    defmt::error!("{=str}: {}", what, e);
    #[cfg(not(feature = "defmt"))]
    let _ = (what, e);
}
