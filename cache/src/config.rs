//! Configuration, modes, counters, results and callbacks of the cache.

use encore_session::{Limits, Session};

#[cfg(doc)]
use crate::SessionCache;

/// Cache mode flags (C26), combined with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CacheMode(u8);

impl CacheMode {
    /// OpenSSL's default client behaviour: store and look up automatically; an add first flushes
    /// the stale entries of its record's peer, and every expired entry when it finds the cache full.
    pub const DEFAULT: CacheMode = CacheMode(0);
    /// [`SessionCache::new_session`] does not add the record (the new-session callback still fires).
    pub const NO_INTERNAL_STORE: CacheMode = CacheMode(1);
    /// [`SessionCache::take_for_connect`] finds nothing, so `connect` does not look up by itself.
    pub const NO_INTERNAL_LOOKUP: CacheMode = CacheMode(2);
    /// A [`SessionCache::lookup`] hit sets the entry's time to now and makes it most recently touched.
    pub const UPDATE_TIME_ON_USE: CacheMode = CacheMode(4);
    /// Adds do not first remove the stale entries of the incoming record's peer, and an add that
    /// finds the cache full does not remove every expired entry first: only the victim goes (still
    /// an expired one first, C20).
    pub const NO_AUTO_FLUSH: CacheMode = CacheMode(8);

    /// True if every flag of `other` is set.
    pub const fn contains(self, other: CacheMode) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets of flags.
    pub const fn union(self, other: CacheMode) -> CacheMode {
        CacheMode(self.0 | other.0)
    }
}

impl core::ops::BitOr for CacheMode {
    type Output = CacheMode;
    fn bitor(self, rhs: CacheMode) -> CacheMode {
        self.union(rhs)
    }
}

/// Configuration fixed at construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CacheConfig {
    /// `timeout_s` is the timeout given to new entries and the configured timeout of C29;
    /// `max_auth_age_s` the C29 limit since the original full handshake. The cache caps both at
    /// 7 days when it is made ([`Limits::clamped`]; [`SessionCache::config`] shows the values in
    /// force).
    pub limits: Limits,
    /// At most this many entries per peer identity (C37).
    pub max_per_peer: usize,
    /// Mode flags (C26).
    pub mode: CacheMode,
}

impl CacheConfig {
    /// [`Limits::DEFAULT`] (7-day timeout, 7 days since authentication), 4 tickets per peer (C37),
    /// default mode.
    pub const DEFAULT: CacheConfig = CacheConfig {
        limits: Limits::DEFAULT,
        max_per_peer: 4,
        mode: CacheMode::DEFAULT,
    };
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig::DEFAULT
    }
}

/// Counters of C26 (OpenSSL's `SSL_CTX_sess_*`); each saturates at `u32::MAX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CacheStats {
    /// Lookups and takes that returned a record.
    pub hits: u32,
    /// Lookups and takes that found no usable record for the peer.
    pub misses: u32,
    /// Entries removed because they were stale (by flush, auto-flush, lookup, take, per-peer cleanup
    /// or eviction).
    pub timeouts: u32,
    /// Entries that were not stale, evicted to make room for an incoming record.
    pub evictions: u32,
    /// Adds that found the cache full (each made room by evicting one entry).
    pub full: u32,
    /// Tickets not stored because they exceed the pool's ticket capacity.
    pub too_large: u32,
    /// Tickets not stored because their peer already had `max_per_peer` entries or the pool was
    /// exhausted (C37), or because the record could not be offered any more (C7, C19), or because
    /// the cache has no room at all (`N == 0`).
    pub dropped: u32,
}

/// Outcome of [`SessionCache::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Added {
    /// Cached as the most recently touched entry (possibly after an eviction).
    Stored,
    /// The record was already cached: nothing changed (C16).
    AlreadyPresent,
    /// Cached in place of a different record with the same ticket bytes, which was released (C17).
    Replaced,
    /// Not cached: the peer already has `max_per_peer` entries (C37), or the record cannot be offered
    /// (used, not resumable, expired: C7, C29), so it would only take the place of a usable ticket
    /// (C19, C20), or the cache has no room at all (`N == 0`).
    Dropped,
}

/// Whether a record was in the cache (C18, C22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Presence {
    /// It was cached.
    Found,
    /// It was not.
    NotFound,
}

/// New-session and remove callbacks (`SSL_CTX_sess_set_new_cb` / `_remove_cb`), as a trait object so
/// nothing is allocated. Both run outside critical sections, in whichever task or interrupt called
/// the cache method, so the implementation must be `Sync` (for a `static` cache shared by tasks).
pub trait CacheEvents<const P: usize, const T: usize> {
    /// A record was made from a new ticket by [`SessionCache::new_session`], whether or not it was
    /// stored (C26). The application may keep its own reference (for example to save it in flash).
    fn new_session(&self, session: &Session<'_, P, T>) {
        let _ = session;
    }

    /// A record left the cache, or [`SessionCache::remove`] was called for it (C18, C21, C25).
    fn removed(&self, session: &Session<'_, P, T>) {
        let _ = session;
    }
}

/// Callbacks that do nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl<const P: usize, const T: usize> CacheEvents<P, T> for NoEvents {}
