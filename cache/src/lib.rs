//! A context's client session cache, with fixed capacity and no heap.
//!
//! A [`SessionCache`] belongs to one context (its [`ContextId`] is fixed at construction) and keeps
//! references to records of a [`SessionPool`]: at most `N` entries (C19), at most
//! [`CacheConfig::max_per_peer`] per peer identity (C37). It re-creates OpenSSL's `SSL_CTX` session
//! cache for the client side: add (`SSL_CTX_add_session`, C16, C17), lookup by peer, take (C36),
//! remove (`SSL_CTX_remove_session`, C18), flush (`SSL_CTX_flush_sessions`, C21), per-entry time and
//! timeout (C22), modes and counters (C26), new-session and remove callbacks.
//!
//! ```
//! use encore_cache::{Added, CacheConfig, SessionCache};
//! use encore_session::{ContextId, NewSession, PeerId, SessionPool, TLS13};
//!
//! static POOL: SessionPool<8> = SessionPool::new();
//! let cache: SessionCache<'_, 4, 8> = SessionCache::new(&POOL, ContextId(1), CacheConfig::DEFAULT);
//!
//! let peer = PeerId::new("example.com", &[], &[1; 16]);
//! let ticket = NewSession {
//!     version: TLS13, cipher_suite: 0x1301, psk: &[7; 32], ticket: &[9; 192],
//!     lifetime_s: 7200, age_add: 1, max_early_data: 0, received_ms: 0,
//!     received_unix: None, auth_age_ms: 0, peer, owner: ContextId(1),
//! };
//! // A NewSessionTicket arrived: the record is made, cached, and handed to the connection.
//! let on_connection = cache.new_session(&ticket, 0)?;
//! assert_eq!(cache.add(&on_connection, 0)?, Added::AlreadyPresent); // C16
//! drop(on_connection);
//!
//! // The next connection to the same peer takes it out to offer it (C36).
//! let offered = cache.take(&peer, 5_000, &[0x1301]).expect("cached");
//! assert!(offered.info()?.used);
//! assert_eq!((cache.len(), cache.stats().hits), (0, 1));
//! # Ok::<(), encore_session::Error>(())
//! ```
//!
//! # Entries, time and eviction
//!
//! Each entry holds one pool reference, the entry's time and its timeout, both in whole seconds of the
//! monotonic clock. Methods take the monotonic time as a `now_ms` argument rather than holding a clock:
//! the caller reads its clock once per operation, and tests drive time directly (E6).
//!
//! An entry is *stale* when its time plus timeout has passed (`now ≥ time + timeout`), or when its
//! record can no longer be offered (C7, C29 under [`CacheConfig::limits`]: not resumable, used,
//! lifetime or 7 days or authentication age exceeded). Entries are kept in the order they were last
//! touched: added, or their time or timeout changed (C22), or, in
//! [`CacheMode::UPDATE_TIME_ON_USE`], found by [`SessionCache::lookup`].
//!
//! - **C20 eviction order:** when an incoming record finds the cache full, the least recently touched
//!   stale entry goes first; when no entry is stale, the least recently touched entry. The incoming
//!   record is never the one evicted (C19).
//! - **C37:** when a peer already has `max_per_peer` entries, its stale entries are removed first; if
//!   it still has `max_per_peer` entries other than one with the same ticket bytes, the incoming record
//!   is not cached (counted in `dropped`). The record stays valid for its connection (C23).
//! - **Auto-flush:** unless [`CacheMode::NO_AUTO_FLUSH`], every add first removes all stale entries.
//! - Lookup and take first remove the peer's stale entries, then pick the peer's most recently touched
//!   entry (the newest ticket, with the longest life left). Take claims it with
//!   [`Session::claim`] (the C7 check and unused → used in one step, C28) before handing it out; a
//!   candidate that another holder claimed first (a connection it is set on) is removed as stale and
//!   the next one is tried, so no ticket is ever offered twice.
//! - A record that cannot be offered when it is added (used, not resumable, expired) is not stored
//!   ([`Added::Dropped`]): it would only push out a usable ticket (C19, C20).
//!
//! Every removal fires the remove callback, except take (C36) and the replacement of a record with the
//! same ticket bytes (C17, as OpenSSL). **Decided:** only [`SessionCache::remove`] marks a record not
//! resumable (C18); eviction and flushing leave the flag alone, so a reference the application still
//! holds keeps its ticket usable (C25), and a stale record is refused by C7 anyway.
//!
//! # Concurrency (E3)
//!
//! All methods take `&self`. Cache state sits in a `critical_section::Mutex`; each step is one short
//! critical section (a scan of at most `N` entries and their records) with no waiting inside.
//! Callbacks run outside every critical section, one removal at a time, so they may call back into the
//! cache or the pool.
//!
//! # Memory (E5)
//!
//! One entry is 16 bytes (pool reference as slot index u16 and generation u32, padding 2, time u32,
//! timeout u32); a pool slot with a 256-byte ticket is 368 bytes, so a cached session costs 384 bytes.
//! The whole cache is `16·N` bytes of entries plus a fixed 80 bytes on 64-bit hosts (counters, length,
//! configuration, pool and callback references; less on 32-bit targets).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::cell::RefCell;

use critical_section::Mutex;
use encore_session::{
    ContextId, Error, HashAlgorithm, Limits, NewSession, PeerId, RawSession, Session, SessionId,
    SessionPool,
};

/// Cache mode flags (C26), combined with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheMode(u8);

impl CacheMode {
    /// OpenSSL's default client behaviour: store and look up automatically, flush on add.
    pub const DEFAULT: CacheMode = CacheMode(0);
    /// [`SessionCache::new_session`] does not add the record (the new-session callback still fires).
    pub const NO_INTERNAL_STORE: CacheMode = CacheMode(1);
    /// [`SessionCache::take_for_connect`] finds nothing, so `connect` does not look up by itself.
    pub const NO_INTERNAL_LOOKUP: CacheMode = CacheMode(2);
    /// A [`SessionCache::lookup`] hit sets the entry's time to now and makes it most recently touched.
    pub const UPDATE_TIME_ON_USE: CacheMode = CacheMode(4);
    /// Adds do not flush stale entries first.
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
pub struct CacheConfig {
    /// `timeout_s` is the timeout given to new entries and the configured timeout of C29;
    /// `max_auth_age_s` the C29 limit since the original full handshake.
    pub limits: Limits,
    /// At most this many entries per peer identity (C37).
    pub max_per_peer: usize,
    /// Mode flags (C26).
    pub mode: CacheMode,
}

impl CacheConfig {
    /// [`Limits::DEFAULT`] (2-hour timeout, 7 days since authentication), 4 tickets per peer (C37),
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
    /// exhausted (C37), or because the record could not be offered any more (C7, C19).
    pub dropped: u32,
}

/// Outcome of [`SessionCache::add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Added {
    /// Cached as the most recently touched entry (possibly after an eviction).
    Stored,
    /// The record was already cached: nothing changed (C16).
    AlreadyPresent,
    /// Cached in place of a different record with the same ticket bytes, which was released (C17).
    Replaced,
    /// Not cached: the peer already has `max_per_peer` entries (C37), or the record cannot be offered
    /// (used, not resumable, expired: C7, C29), so it would only take the place of a usable ticket
    /// (C19, C20).
    Dropped,
}

/// Whether a record was in the cache (C18, C22).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One cached reference (16 bytes).
#[derive(Debug)]
struct Entry {
    raw: RawSession,
    time_s: u32,
    timeout_s: u32,
}

impl Entry {
    fn timed_out(&self, now_s: u32) -> bool {
        u64::from(now_s) >= u64::from(self.time_s) + u64::from(self.timeout_s)
    }
}

/// Entries in touch order: `entries[..len]` are all `Some`, least recently touched first.
struct State<const N: usize> {
    entries: [Option<Entry>; N],
    len: usize,
    stats: CacheStats,
}

impl<const N: usize> State<N> {
    const NONE: Option<Entry> = None;

    fn live(&self) -> &[Option<Entry>] {
        self.entries.get(..self.len).unwrap_or(&[])
    }

    fn iter(&self) -> impl DoubleEndedIterator<Item = (usize, &Entry)> {
        self.live()
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.as_ref().map(|e| (i, e)))
    }

    fn position(&self, id: SessionId) -> Option<usize> {
        self.iter().find(|(_, e)| e.raw.id() == id).map(|(i, _)| i)
    }

    fn remove_at(&mut self, i: usize) -> Option<Entry> {
        let live = self.entries.get_mut(i..self.len)?;
        let e = live.first_mut()?.take();
        live.rotate_left(1);
        self.len -= 1;
        e
    }

    /// Makes entry `i` the most recently touched.
    fn touch(&mut self, i: usize) {
        if let Some(live) = self.entries.get_mut(i..self.len) {
            live.rotate_left(1);
        }
    }

    fn push(&mut self, e: Entry) -> Result<(), Entry> {
        match self.entries.get_mut(self.len) {
            Some(slot) => {
                *slot = Some(e);
                self.len += 1;
                Ok(())
            }
            None => Err(e),
        }
    }
}

/// What one step inside a critical section decided; the release and callback happen after it.
enum Removal {
    /// Fire the remove callback, then release.
    Callback(RawSession),
    /// Nothing left to remove.
    Done,
}

/// What one round of [`SessionCache::take`] decided inside its critical section.
enum Take<'p, const P: usize, const T: usize> {
    /// Claimed and moved out of the cache.
    Hit(Session<'p, P, T>),
    /// The candidate could not be claimed: removed as stale; callback, then release.
    Stale(RawSession),
    /// No candidate.
    Miss,
}

/// A context's session cache of at most `N` entries over a pool of `P` slots with `T`-byte tickets.
///
/// See the crate documentation for eviction order, staleness and concurrency.
pub struct SessionCache<'p, const N: usize, const P: usize, const T: usize = 256> {
    pool: &'p SessionPool<P, T>,
    owner: ContextId,
    config: CacheConfig,
    events: &'p (dyn CacheEvents<P, T> + Sync),
    state: Mutex<RefCell<State<N>>>,
}

fn secs(now_ms: u64) -> u32 {
    u32::try_from(now_ms / 1000).unwrap_or(u32::MAX)
}

fn bump(counter: &mut u32) {
    *counter = counter.saturating_add(1);
}

impl<'p, const N: usize, const P: usize, const T: usize> SessionCache<'p, N, P, T> {
    /// An empty cache for context `owner`, without callbacks. `const`, so it can be a `static`.
    pub const fn new(pool: &'p SessionPool<P, T>, owner: ContextId, config: CacheConfig) -> Self {
        Self::with_events(pool, owner, config, &NoEvents)
    }

    /// An empty cache whose new-session and remove events go to `events`.
    pub const fn with_events(
        pool: &'p SessionPool<P, T>,
        owner: ContextId,
        config: CacheConfig,
        events: &'p (dyn CacheEvents<P, T> + Sync),
    ) -> Self {
        SessionCache {
            pool,
            owner,
            config,
            events,
            state: Mutex::new(RefCell::new(State {
                entries: [State::<N>::NONE; N],
                len: 0,
                stats: CacheStats {
                    hits: 0,
                    misses: 0,
                    timeouts: 0,
                    evictions: 0,
                    full: 0,
                    too_large: 0,
                    dropped: 0,
                },
            })),
        }
    }

    /// The owning context (C24).
    pub const fn owner(&self) -> ContextId {
        self.owner
    }

    /// The configuration.
    pub const fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Maximum number of entries.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The pool the records live in.
    pub const fn pool(&self) -> &'p SessionPool<P, T> {
        self.pool
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.locked(|s| s.len).unwrap_or(0)
    }

    /// True if there are no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A copy of the counters (C26).
    pub fn stats(&self) -> CacheStats {
        self.locked(|s| s.stats).unwrap_or_default()
    }

    /// True if `session` is cached.
    pub fn contains(&self, session: &Session<'_, P, T>) -> bool {
        let id = session.id();
        self.locked(|s| s.position(id).is_some()).unwrap_or(false)
    }

    /// Writes the cached records' ids into `out` in touch order, least recently touched first (the
    /// eviction order among entries that are not stale), and returns how many were written (at most
    /// `out.len()`).
    pub fn entries(&self, out: &mut [Option<SessionId>]) -> usize {
        self.locked(|s| {
            let mut n = 0;
            for (o, (_, e)) in out.iter_mut().zip(s.iter()) {
                *o = Some(e.raw.id());
                n += 1;
            }
            n
        })
        .unwrap_or(0)
    }

    /// The entry's time (monotonic seconds) and timeout (seconds), if `session` is cached.
    pub fn entry_time(&self, session: &Session<'_, P, T>) -> Option<(u32, u32)> {
        let id = session.id();
        self.locked(|s| {
            s.position(id)
                .and_then(|i| s.live().get(i))
                .and_then(|e| e.as_ref())
                .map(|e| (e.time_s, e.timeout_s))
        })
        .ok()
        .flatten()
    }

    fn locked<R>(&self, f: impl FnOnce(&mut State<N>) -> R) -> Result<R, Error> {
        critical_section::with(|cs| {
            let mut state = self
                .state
                .borrow(cs)
                .try_borrow_mut()
                .map_err(|_| Error::Busy)?;
            Ok(f(&mut state))
        })
    }

    /// Timed out, or its record can no longer be offered. An entry whose record cannot be read right
    /// now (the pool is busy) counts as not stale: it is kept, never dropped on a guess.
    fn is_stale(&self, e: &Entry, now_ms: u64) -> bool {
        if e.timed_out(secs(now_ms)) {
            return true;
        }
        match self.pool.with_record(e.raw.id(), |r| {
            r.offerable(now_ms, &self.config.limits).is_err()
        }) {
            Ok(unofferable) => unofferable,
            // Names no record (cannot happen while the entry holds its reference): nothing to keep.
            Err(Error::StaleHandle) => true,
            Err(_) => false,
        }
    }

    fn peer_of(&self, e: &Entry) -> Option<PeerId> {
        self.pool.with_record(e.raw.id(), |r| r.peer()).ok()
    }

    /// Fires the remove callback for a reference the cache gave up, then releases it. `from_raw`
    /// fails only for an id that owns no reference, so nothing can leak here.
    fn finish_removal(&self, raw: RawSession) {
        if let Ok(s) = self.pool.from_raw(raw) {
            self.events.removed(&s);
        }
    }

    /// Releases a reference the cache gave up, without a callback.
    fn release_quietly(&self, raw: RawSession) {
        drop(self.pool.from_raw(raw));
    }

    /// Removes stale entries one critical section at a time, for `peer` only if given; returns how
    /// many were removed. Bounded by `N` steps.
    fn remove_stale(&self, now_ms: u64, peer: Option<&PeerId>) -> usize {
        let mut removed = 0;
        for _ in 0..N {
            let step = self.locked(|s| {
                let found = s
                    .iter()
                    .find(|(_, e)| {
                        peer.is_none_or(|p| self.peer_of(e).as_ref() == Some(p))
                            && self.is_stale(e, now_ms)
                    })
                    .map(|(i, _)| i);
                match found.and_then(|i| s.remove_at(i)) {
                    Some(e) => {
                        bump(&mut s.stats.timeouts);
                        Removal::Callback(e.raw)
                    }
                    None => Removal::Done,
                }
            });
            match step {
                Ok(Removal::Callback(raw)) => {
                    removed += 1;
                    self.finish_removal(raw);
                }
                _ => break,
            }
        }
        removed
    }

    /// Adds a reference to `session` to the cache (`SSL_CTX_add_session`); see the crate
    /// documentation for eviction (C19, C20) and the per-peer limit (C37).
    ///
    /// - C16: a record already cached gives [`Added::AlreadyPresent`] and changes nothing.
    /// - C19, C20: a record that cannot be offered at `now_ms` (used, not resumable, expired under
    ///   [`CacheConfig::limits`]) is not cached: [`Added::Dropped`], counted in `dropped`, and nothing
    ///   is flushed or evicted for it.
    /// - C17: a different record with the same ticket bytes is replaced and released, without a
    ///   remove callback.
    /// - C24: a record of another context (or another pool) is [`Error::WrongOwner`].
    pub fn add(&self, session: &Session<'_, P, T>, now_ms: u64) -> Result<Added, Error> {
        if !core::ptr::eq(session.pool(), self.pool) {
            return Err(Error::WrongOwner);
        }
        let info = session.info()?;
        if info.owner != self.owner {
            return Err(Error::WrongOwner);
        }
        let id = session.id();
        if self.locked(|s| s.position(id).is_some())? {
            return Ok(Added::AlreadyPresent);
        }
        let limits = self.config.limits;
        let offerable = || {
            self.pool
                .with_record(id, |r| r.offerable(now_ms, &limits).is_ok())
        };
        if !offerable()? {
            self.locked(|s| bump(&mut s.stats.dropped))?;
            return Ok(Added::Dropped);
        }
        // Compared in place, both records read in one critical section: no copy of the ticket.
        let same_ticket = |e: &Entry| {
            self.pool
                .with_record(id, |mine| {
                    self.pool
                        .with_record(e.raw.id(), |r| r.ticket() == mine.ticket())
                        .unwrap_or(false)
                })
                .unwrap_or(false)
        };
        let limit = self.config.max_per_peer;

        if !self.config.mode.contains(CacheMode::NO_AUTO_FLUSH) {
            self.remove_stale(now_ms, None);
        }
        let peer_count = |s: &State<N>, skip_same: bool| {
            s.iter()
                .filter(|(_, e)| {
                    self.peer_of(e) == Some(info.peer) && !(skip_same && same_ticket(e))
                })
                .count()
        };
        if self.locked(|s| peer_count(s, false))? >= limit {
            self.remove_stale(now_ms, Some(&info.peer));
        }

        let mut pending = Some(session.up_ref()?.into_raw());
        let now_s = secs(now_ms);
        let outcome = self.locked(|s| {
            if s.position(id).is_some() {
                return (Added::AlreadyPresent, None, None);
            }
            // Claimed or spoiled by another holder since the first check.
            if !matches!(offerable(), Ok(true)) {
                bump(&mut s.stats.dropped);
                return (Added::Dropped, None, None);
            }
            if peer_count(s, true) >= limit {
                bump(&mut s.stats.dropped);
                return (Added::Dropped, None, None);
            }
            let same = s.iter().find(|(_, e)| same_ticket(e)).map(|(i, _)| i);
            let replaced = same.and_then(|i| s.remove_at(i));
            let mut evicted = None;
            if s.len >= N {
                bump(&mut s.stats.full);
                let victim = s
                    .iter()
                    .find(|(_, e)| self.is_stale(e, now_ms))
                    .map(|(i, _)| i);
                match victim {
                    Some(i) => {
                        bump(&mut s.stats.timeouts);
                        evicted = s.remove_at(i);
                    }
                    None => {
                        bump(&mut s.stats.evictions);
                        evicted = s.remove_at(0);
                    }
                }
            }
            let Some(raw) = pending.take() else {
                return (Added::Dropped, replaced, evicted);
            };
            let entry = Entry {
                raw,
                time_s: now_s,
                timeout_s: self.config.limits.timeout_s,
            };
            match s.push(entry) {
                Ok(()) if replaced.is_some() => (Added::Replaced, replaced, evicted),
                Ok(()) => (Added::Stored, replaced, evicted),
                // Unreachable while N > 0: room was made above.
                Err(e) => {
                    pending = Some(e.raw);
                    (Added::Dropped, replaced, evicted)
                }
            }
        });
        if let Some(raw) = pending {
            self.release_quietly(raw);
        }
        let (added, replaced, evicted) = outcome?;
        if let Some(e) = replaced {
            self.release_quietly(e.raw);
        }
        if let Some(e) = evicted {
            self.finish_removal(e.raw);
        }
        Ok(added)
    }

    /// Makes a record from a NewSessionTicket, stores it unless [`CacheMode::NO_INTERNAL_STORE`], fires
    /// the new-session callback, and returns it for the connection (C5, C27).
    ///
    /// A ticket larger than the pool's slots is counted in `too_large`, an exhausted pool in `dropped`
    /// (C37, E1); both return the error and the connection goes on. A record dropped by the per-peer
    /// limit is still returned (C23). `new.owner` must be this cache's context (C24).
    pub fn new_session(
        &self,
        new: &NewSession<'_>,
        now_ms: u64,
    ) -> Result<Session<'p, P, T>, Error> {
        if new.owner != self.owner {
            return Err(Error::WrongOwner);
        }
        let session = match self.pool.create(new) {
            Ok(s) => s,
            Err(e) => {
                let _ = self.locked(|s| match e {
                    Error::TicketTooLarge { .. } => bump(&mut s.stats.too_large),
                    Error::PoolExhausted => bump(&mut s.stats.dropped),
                    _ => {}
                });
                return Err(e);
            }
        };
        if !self.config.mode.contains(CacheMode::NO_INTERNAL_STORE) {
            // The connection keeps its record whatever the cache decides (C23).
            let _ = self.add(&session, now_ms);
        }
        self.events.new_session(&session);
        Ok(session)
    }

    /// Index of the peer's most recently touched entry usable with `suites` (any suite if `None`).
    fn newest_for(&self, s: &State<N>, peer: &PeerId, suites: Option<&[u16]>) -> Option<usize> {
        s.iter()
            .rev()
            .find(|(_, e)| {
                self.pool
                    .with_record(e.raw.id(), |r| {
                        r.peer() == *peer
                            && suites.is_none_or(|list| {
                                list.iter().any(|x| {
                                    HashAlgorithm::of_suite(*x).is_some()
                                        && HashAlgorithm::of_suite(*x) == r.hash()
                                })
                            })
                    })
                    .unwrap_or(false)
            })
            .map(|(i, _)| i)
    }

    /// A new reference to the peer's most recently touched entry, which stays cached; its stale
    /// entries are removed first. Counts a hit or a miss. The record is not claimed: to offer it,
    /// use [`Session::claim`] (or [`SessionCache::take`]), which refuses it if another holder
    /// offered it first (C28). In [`CacheMode::UPDATE_TIME_ON_USE`] a hit
    /// sets the entry's time to now and makes it most recently touched.
    pub fn lookup(&self, peer: &PeerId, now_ms: u64) -> Option<Session<'p, P, T>> {
        self.remove_stale(now_ms, Some(peer));
        let update = self.config.mode.contains(CacheMode::UPDATE_TIME_ON_USE);
        self.locked(|s| {
            let Some(i) = self.newest_for(s, peer, None) else {
                bump(&mut s.stats.misses);
                return None;
            };
            let id = s.live().get(i)?.as_ref()?.raw.id();
            let Ok(found) = self.pool.acquire(id) else {
                bump(&mut s.stats.misses);
                return None;
            };
            bump(&mut s.stats.hits);
            if update {
                if let Some(Some(e)) = s.entries.get_mut(i) {
                    e.time_s = secs(now_ms);
                }
                s.touch(i);
            }
            Some(found)
        })
        .ok()
        .flatten()
    }

    /// Moves the peer's most recently touched entry usable with `offered_suites` (C31) out of the
    /// cache to offer it (C36): claims it (C7 check and unused → used in one step, C28), counts a
    /// hit, fires no remove callback. The peer's stale entries are removed first. `None` (a miss)
    /// when nothing fits.
    ///
    /// The returned record was claimed by this call with [`Session::claim`] at `now_ms` under
    /// [`CacheConfig::limits`]: no other holder of it (a connection it is set on, another cache
    /// lookup) offers it, and checking [`Session::resumable`] on it afterwards reports
    /// [`encore_session::Unresumable::Used`]. Read the offer's values with
    /// [`encore_session::SessionRecord::offer`]. A candidate that another holder claimed first is
    /// removed like any stale entry (a timeout, with the remove callback), and the next one is tried.
    pub fn take(
        &self,
        peer: &PeerId,
        now_ms: u64,
        offered_suites: &[u16],
    ) -> Option<Session<'p, P, T>> {
        self.remove_stale(now_ms, Some(peer));
        let limits = self.config.limits;
        // Each round either claims a candidate or removes one, so N + 1 rounds always suffice.
        for _ in 0..=N {
            let step = self.locked(|s| {
                let Some(i) = self.newest_for(s, peer, Some(offered_suites)) else {
                    bump(&mut s.stats.misses);
                    return Take::Miss;
                };
                let Some(e) = s.remove_at(i) else {
                    bump(&mut s.stats.misses);
                    return Take::Miss;
                };
                let claimed = !e.timed_out(secs(now_ms))
                    && self
                        .pool
                        .claim(e.raw.id(), now_ms, &limits, offered_suites)
                        .is_ok();
                if !claimed {
                    bump(&mut s.stats.timeouts);
                    return Take::Stale(e.raw);
                }
                // The entry's reference moves to the caller; it held one, so this cannot fail.
                match self.pool.from_raw(e.raw) {
                    Ok(session) => {
                        bump(&mut s.stats.hits);
                        Take::Hit(session)
                    }
                    Err(_) => {
                        bump(&mut s.stats.misses);
                        Take::Miss
                    }
                }
            });
            match step {
                Ok(Take::Hit(session)) => return Some(session),
                Ok(Take::Stale(raw)) => self.finish_removal(raw),
                Ok(Take::Miss) | Err(_) => return None,
            }
        }
        // Only reachable if other tasks keep adding candidates that are claimed at once elsewhere.
        let _ = self.locked(|s| bump(&mut s.stats.misses));
        None
    }

    /// [`SessionCache::take`] as `connect` uses it: finds nothing, and counts nothing, in
    /// [`CacheMode::NO_INTERNAL_LOOKUP`] (C26).
    pub fn take_for_connect(
        &self,
        peer: &PeerId,
        now_ms: u64,
        offered_suites: &[u16],
    ) -> Option<Session<'p, P, T>> {
        if self.config.mode.contains(CacheMode::NO_INTERNAL_LOOKUP) {
            return None;
        }
        self.take(peer, now_ms, offered_suites)
    }

    /// Removes `session` (`SSL_CTX_remove_session`, C18): whether or not it was cached, the record is
    /// marked not resumable and the remove callback fires.
    pub fn remove(&self, session: &Session<'_, P, T>) -> Presence {
        let id = session.id();
        let taken = if core::ptr::eq(session.pool(), self.pool) {
            self.locked(|s| s.position(id).and_then(|i| s.remove_at(i)))
                .ok()
                .flatten()
        } else {
            None
        };
        let _ = session.mark_not_resumable();
        self.events.removed(session);
        match taken {
            Some(e) => {
                self.release_quietly(e.raw);
                Presence::Found
            }
            None => Presence::NotFound,
        }
    }

    /// Removes exactly the stale entries (C21), each with a remove callback; returns how many.
    pub fn flush(&self, now_ms: u64) -> usize {
        self.remove_stale(now_ms, None)
    }

    /// Removes every entry (C21), each with a remove callback; returns how many.
    pub fn flush_all(&self) -> usize {
        let mut removed = 0;
        for _ in 0..N {
            match self.locked(|s| s.remove_at(0)) {
                Ok(Some(e)) => {
                    removed += 1;
                    self.finish_removal(e.raw);
                }
                _ => break,
            }
        }
        removed
    }

    fn retime(&self, session: &Session<'_, P, T>, f: impl FnOnce(&mut Entry)) -> Presence {
        let id = session.id();
        self.locked(|s| {
            let Some(i) = s.position(id) else {
                return Presence::NotFound;
            };
            if let Some(Some(e)) = s.entries.get_mut(i) {
                f(e);
            }
            s.touch(i);
            Presence::Found
        })
        .unwrap_or(Presence::NotFound)
    }

    /// Sets a cached record's time (`SSL_SESSION_set_time`) to `time_ms` on the monotonic clock
    /// (kept in whole seconds); the entry becomes most recently touched (C22).
    pub fn set_time(&self, session: &Session<'_, P, T>, time_ms: u64) -> Presence {
        self.retime(session, |e| e.time_s = secs(time_ms))
    }

    /// Sets a cached record's timeout (`SSL_SESSION_set_timeout`); the entry becomes most recently
    /// touched (C22).
    pub fn set_timeout(&self, session: &Session<'_, P, T>, timeout_s: u32) -> Presence {
        self.retime(session, |e| e.timeout_s = timeout_s)
    }
}

impl<const N: usize, const P: usize, const T: usize> Drop for SessionCache<'_, N, P, T> {
    /// C25: dropping the context's cache removes every entry with a callback; references held
    /// elsewhere stay valid.
    fn drop(&mut self) {
        self.flush_all();
    }
}

/// Size of one cache entry in bytes (E5).
pub const ENTRY_SIZE: usize = core::mem::size_of::<Option<Entry>>();
