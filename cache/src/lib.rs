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
//! critical section with no waiting inside, in which the cache state and the pool's records are read
//! together: a scan of at most `N` entries that reads only the records whose match tag fits (a lookup
//! reads about one record, whatever `N`), except that the auto-flush of an add checks every entry's
//! record. A step ends early at each removal, so that its callback runs outside.
//! Callbacks run outside every critical section, one removal at a time, so they may call back into the
//! cache or the pool.
//!
//! # Memory (E5)
//!
//! One entry is 16 bytes (pool reference as slot index u16 and generation u32, match tag u16, time u32,
//! timeout u32); a pool slot with a 256-byte ticket is 368 bytes, so a cached session costs 384 bytes.
//! The whole cache is `16·N` bytes of entries plus a fixed 80 bytes on 64-bit hosts (counters, length,
//! configuration, pool and callback references; less on 32-bit targets).
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::cell::RefCell;
use core::num::NonZeroU32;

use critical_section::Mutex;
use encore_session::{
    ContextId, Error, HashAlgorithm, Limits, NewSession, PeerId, RawSession, Records, Session,
    SessionId, SessionPool,
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

/// One cached reference (16 bytes): the record's slot index and generation (the reference, as a
/// [`RawSession`] would hold it), a match tag, and the entry's time and timeout.
///
/// The tag lets a scan skip most entries without reading their records: its high byte is a byte of
/// the record's peer id and its low byte a digest of its ticket bytes, so two records with the same
/// peer (or the same ticket) always have equal high (or low) bytes. Only entries whose tag matches
/// are compared in full against their record. It fills what would otherwise be padding.
#[derive(Debug)]
struct Entry {
    index: u16,
    tag: u16,
    generation: NonZeroU32,
    time_s: u32,
    timeout_s: u32,
}

/// High byte of an entry's tag. A peer id is a SHA-256 prefix, so any one of its bytes spreads
/// peers evenly.
fn peer_tag(peer: &PeerId) -> u8 {
    peer.0[0]
}

/// Low byte of an entry's tag: a digest of the ticket's length and of its first and last 8 bytes
/// (a ticket's leading bytes are often a server's fixed key name, its trailing bytes an AEAD tag).
fn ticket_tag(ticket: &[u8]) -> u8 {
    let word = |bytes: Option<&[u8]>| {
        let mut w = [0u8; 8];
        for (d, s) in w.iter_mut().zip(bytes.unwrap_or(&[])) {
            *d = *s;
        }
        u64::from_le_bytes(w)
    };
    let head = word(ticket.get(..8.min(ticket.len())));
    let tail = word(ticket.get(ticket.len().saturating_sub(8)..));
    let mixed =
        (head ^ tail.rotate_left(29) ^ ticket.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (mixed >> 56) as u8
}

fn tag_of(peer: &PeerId, ticket: &[u8]) -> u16 {
    u16::from_be_bytes([peer_tag(peer), ticket_tag(ticket)])
}

impl Entry {
    /// Takes over the reference `raw` stands for.
    fn new(raw: RawSession, tag: u16, time_s: u32, timeout_s: u32) -> Self {
        let id = raw.id();
        // The entry now stands for the reference; `RawSession` has no drop to skip.
        let _ = raw.into_bits();
        Entry {
            index: id.index(),
            tag,
            generation: NonZeroU32::new(id.generation()).unwrap_or(NonZeroU32::MIN),
            time_s,
            timeout_s,
        }
    }

    fn id(&self) -> SessionId {
        SessionId::new(self.index, self.generation)
    }

    /// Gives up the entry's reference as a [`RawSession`]. Every entry's parts form a valid raw id,
    /// so this is `None` never.
    fn into_raw(self) -> Option<RawSession> {
        RawSession::from_bits((u64::from(self.generation.get()) << 16) | u64::from(self.index))
    }

    fn timed_out(&self, now_s: u32) -> bool {
        u64::from(now_s) >= u64::from(self.time_s) + u64::from(self.timeout_s)
    }

    fn may_be_peer(&self, peer_tag: u8) -> bool {
        self.tag.to_be_bytes()[0] == peer_tag
    }

    fn may_have_ticket(&self, ticket_tag: u8) -> bool {
        self.tag.to_be_bytes()[1] == ticket_tag
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
        self.iter().find(|(_, e)| e.id() == id).map(|(i, _)| i)
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
enum Step<R> {
    /// A stale entry was removed: fire the remove callback, release, and go on.
    Removed(Entry),
    /// Nothing was removed; try again.
    Retry,
    /// Done, with this result.
    Done(R),
}

/// What [`SessionCache::add`] decided in its last critical section.
struct AddOutcome {
    added: Added,
    replaced: Option<Entry>,
    evicted: Option<Entry>,
    /// The new entry, when it found no room (only with `N == 0`): released without a callback.
    refused: Option<Entry>,
}

impl AddOutcome {
    /// An outcome that changed no entry.
    fn only(added: Added) -> Self {
        AddOutcome {
            added,
            replaced: None,
            evicted: None,
            refused: None,
        }
    }
}

/// What one round of [`SessionCache::take`] decided inside its critical section.
enum Take<'p, const P: usize, const T: usize> {
    /// Claimed and moved out of the cache.
    Hit(Session<'p, P, T>),
    /// A stale entry, or a candidate that could not be claimed, was removed (`None`: nothing was
    /// after all); callback, then release.
    Stale(Option<Entry>),
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

/// One of `suites` has the hash `hash` (C31).
fn suite_fits(suites: &[u16], hash: Option<HashAlgorithm>) -> bool {
    hash.is_some_and(|h| {
        suites
            .iter()
            .any(|s| HashAlgorithm::of_suite(*s) == Some(h))
    })
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
                *o = Some(e.id());
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

    /// Runs `f` on the cache state in one critical section.
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

    /// Runs `f` on the cache state and the pool's records in one critical section, so that one
    /// operation matches all its entries in one step rather than one step per entry (E3: the work is
    /// a bounded scan of at most `N` entries, reading only the records whose tag matches).
    fn locked_with_records<R>(
        &self,
        f: impl FnOnce(&mut State<N>, &Records<'_, T>) -> R,
    ) -> Result<R, Error> {
        critical_section::with(|cs| {
            let mut state = self
                .state
                .borrow(cs)
                .try_borrow_mut()
                .map_err(|_| Error::Busy)?;
            self.pool.with_records(|records| f(&mut state, records))
        })
    }

    /// Timed out, or its record can no longer be offered (or names no record, which cannot happen
    /// while the entry holds its reference).
    fn is_stale(&self, e: &Entry, records: &Records<'_, T>, now_ms: u64) -> bool {
        e.timed_out(secs(now_ms))
            || records
                .get(e.id())
                .is_none_or(|r| r.offerable(now_ms, &self.config.limits).is_err())
    }

    /// The entry's record was made for `peer` (`peer_tag` is `peer`'s tag byte).
    fn is_peer(&self, e: &Entry, records: &Records<'_, T>, peer: &PeerId, peer_tag: u8) -> bool {
        e.may_be_peer(peer_tag) && records.get(e.id()).is_some_and(|r| r.peer() == *peer)
    }

    /// The peer's entries, oldest first: `Err(i)` for the first stale one, else the index of the
    /// most recently touched one usable with `suites` (any suite if `None`). One pass; only records
    /// whose tag matches `peer` are read.
    fn scan_peer(
        &self,
        s: &State<N>,
        records: &Records<'_, T>,
        peer: &PeerId,
        now_ms: u64,
        suites: Option<&[u16]>,
    ) -> Result<Option<usize>, usize> {
        let tag = peer_tag(peer);
        let now_s = secs(now_ms);
        let mut newest = None;
        for (i, e) in s.iter() {
            if !e.may_be_peer(tag) {
                continue;
            }
            let Some(r) = records.get(e.id()) else {
                continue;
            };
            if r.peer() != *peer {
                continue;
            }
            if e.timed_out(now_s) || r.offerable(now_ms, &self.config.limits).is_err() {
                return Err(i);
            }
            if suites.is_none_or(|list| suite_fits(list, r.hash())) {
                newest = Some(i);
            }
        }
        Ok(newest)
    }

    /// Fires the remove callback for an entry the cache gave up, then releases its reference.
    /// `from_raw` fails only for an id that owns no reference, so nothing can leak here.
    fn finish_removal(&self, e: Entry) {
        if let Some(Ok(s)) = e.into_raw().map(|raw| self.pool.from_raw(raw)) {
            self.events.removed(&s);
        }
    }

    /// Releases the reference of an entry the cache gave up, without a callback.
    fn release_quietly(&self, e: Entry) {
        if let Some(raw) = e.into_raw() {
            drop(self.pool.from_raw(raw));
        }
    }

    /// Removes the stale entry `i`, counted as a timeout; its callback and release follow outside
    /// the critical section.
    fn remove_stale_at<R>(&self, s: &mut State<N>, i: usize) -> Step<R> {
        match s.remove_at(i) {
            Some(e) => {
                bump(&mut s.stats.timeouts);
                Step::Removed(e)
            }
            // `i` always names an entry: nothing to remove, so the step changes nothing.
            None => Step::Retry,
        }
    }

    /// Removes stale entries one critical section at a time, oldest first, for `peer` only if
    /// given; returns how many were removed. Bounded by `N` steps.
    fn remove_stale(&self, now_ms: u64, peer: Option<&PeerId>) -> usize {
        let tag = peer.map(peer_tag);
        let mut removed = 0;
        for _ in 0..N {
            let step = self.locked_with_records(|s, records| {
                let found = s
                    .iter()
                    .find(|(_, e)| {
                        peer.zip(tag)
                            .is_none_or(|(p, t)| self.is_peer(e, records, p, t))
                            && self.is_stale(e, records, now_ms)
                    })
                    .map(|(i, _)| i);
                match found {
                    Some(i) => self.remove_stale_at(s, i),
                    None => Step::Done(()),
                }
            });
            match step {
                Ok(Step::Removed(e)) => {
                    removed += 1;
                    self.finish_removal(e);
                }
                Ok(Step::Retry) => {}
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
        let id = session.id();
        let limits = self.config.limits;
        let flush_all = !self.config.mode.contains(CacheMode::NO_AUTO_FLUSH);
        let limit = self.config.max_per_peer;
        // The record's peer and tag, read in the first round.
        let mut mine: Option<(PeerId, u16)> = None;
        // Set once the peer was seen with `limit` entries: its stale entries are then removed.
        let mut flush_peer = false;
        // Each round removes one stale entry (callback outside the critical section) or ends.
        for _ in 0..=2 * N {
            let step = self.locked_with_records(|s, records| {
                let first_round = mine.is_none();
                let (peer, tag) = match mine {
                    Some(found) => found,
                    None => {
                        let r = records.get(id).ok_or(Error::StaleHandle)?;
                        if r.owner() != self.owner {
                            return Err(Error::WrongOwner);
                        }
                        if r.offerable(now_ms, &limits).is_err() {
                            // C16 first: a cached record is reported as such.
                            if s.position(id).is_some() {
                                return Ok(Step::Done(AddOutcome::only(Added::AlreadyPresent)));
                            }
                            bump(&mut s.stats.dropped);
                            return Ok(Step::Done(AddOutcome::only(Added::Dropped)));
                        }
                        let found = (r.peer(), tag_of(&r.peer(), r.ticket()));
                        mine = Some(found);
                        found
                    }
                };
                let ptag = peer_tag(&peer);
                if flush_all {
                    // Auto-flush: every stale entry goes first. One pass also finds the record
                    // itself, if cached (C16).
                    let mut stale = None;
                    let mut present = false;
                    for (i, e) in s.iter() {
                        present |= e.id() == id;
                        if stale.is_none() && self.is_stale(e, records, now_ms) {
                            stale = Some(i);
                        }
                    }
                    if present && first_round {
                        return Ok(Step::Done(AddOutcome::only(Added::AlreadyPresent)));
                    }
                    if let Some(i) = stale {
                        return Ok(self.remove_stale_at(s, i));
                    }
                    // No stale entry, and `present` is known: the last step follows at once.
                    return self
                        .store(s, records, id, &peer, tag, now_ms, Some(present))
                        .map(Step::Done);
                }
                if first_round && s.position(id).is_some() {
                    return Ok(Step::Done(AddOutcome::only(Added::AlreadyPresent)));
                }
                if !flush_peer {
                    let count = s
                        .iter()
                        .filter(|(_, e)| self.is_peer(e, records, &peer, ptag))
                        .count();
                    flush_peer = count >= limit;
                }
                if flush_peer {
                    let stale = s
                        .iter()
                        .find(|(_, e)| {
                            self.is_peer(e, records, &peer, ptag)
                                && self.is_stale(e, records, now_ms)
                        })
                        .map(|(i, _)| i);
                    if let Some(i) = stale {
                        return Ok(self.remove_stale_at(s, i));
                    }
                }
                self.store(s, records, id, &peer, tag, now_ms, None)
                    .map(Step::Done)
            })?;
            match step? {
                Step::Removed(e) => self.finish_removal(e),
                Step::Retry => {}
                Step::Done(outcome) => {
                    if let Some(e) = outcome.refused {
                        self.release_quietly(e);
                    }
                    if let Some(e) = outcome.replaced {
                        self.release_quietly(e);
                    }
                    if let Some(e) = outcome.evicted {
                        self.finish_removal(e);
                    }
                    return Ok(outcome.added);
                }
            }
        }
        // Only reachable if remove callbacks keep adding stale entries.
        let _ = self.locked(|s| bump(&mut s.stats.dropped));
        Ok(Added::Dropped)
    }

    /// The last step of [`SessionCache::add`], in its critical section: re-checks what may have
    /// changed, applies C37 and C17, makes room (C19, C20), and stores the entry. `flushed` is
    /// `Some(present)` when this critical section has just found no stale entry and whether `id` is
    /// cached.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        s: &mut State<N>,
        records: &Records<'_, T>,
        id: SessionId,
        peer: &PeerId,
        tag: u16,
        now_ms: u64,
        flushed: Option<bool>,
    ) -> Result<AddOutcome, Error> {
        let done = AddOutcome::only;
        let present = match flushed {
            Some(present) => present,
            None => s.position(id).is_some(),
        };
        if present {
            return Ok(done(Added::AlreadyPresent));
        }
        // Claimed or spoiled by another holder since the first check.
        let Some(mine) = records
            .get(id)
            .filter(|r| r.offerable(now_ms, &self.config.limits).is_ok())
        else {
            bump(&mut s.stats.dropped);
            return Ok(done(Added::Dropped));
        };
        let ticket = tag.to_be_bytes()[1];
        let same_ticket = |e: &Entry| {
            e.may_have_ticket(ticket)
                && records
                    .get(e.id())
                    .is_some_and(|r| r.ticket() == mine.ticket())
        };
        // One pass: the peer's other entries (C37) and the entry with the same ticket (C17).
        let ptag = peer_tag(peer);
        let mut others = 0;
        let mut same = None;
        for (i, e) in s.iter() {
            if same_ticket(e) {
                same = same.or(Some(i));
            } else if self.is_peer(e, records, peer, ptag) {
                others += 1;
            }
        }
        if others >= self.config.max_per_peer {
            bump(&mut s.stats.dropped);
            return Ok(done(Added::Dropped));
        }
        let raw = self.pool.acquire(id)?.into_raw();
        let replaced = same.and_then(|i| s.remove_at(i));
        let mut evicted = None;
        if s.len >= N {
            bump(&mut s.stats.full);
            let victim = if flushed.is_some() {
                None
            } else {
                s.iter()
                    .find(|(_, e)| self.is_stale(e, records, now_ms))
                    .map(|(i, _)| i)
            };
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
        let entry = Entry::new(raw, tag, secs(now_ms), self.config.limits.timeout_s);
        let added = match s.push(entry) {
            Ok(()) if replaced.is_some() => Added::Replaced,
            Ok(()) => Added::Stored,
            // Unreachable while N > 0: room was made above. The reference is given back.
            Err(e) => {
                return Ok(AddOutcome {
                    added: Added::Dropped,
                    replaced,
                    evicted,
                    refused: Some(e),
                })
            }
        };
        Ok(AddOutcome {
            added,
            replaced,
            evicted,
            refused: None,
        })
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

    /// A new reference to the peer's most recently touched entry, which stays cached; its stale
    /// entries are removed first. Counts a hit or a miss. The record is not claimed: to offer it,
    /// use [`Session::claim`] (or [`SessionCache::take`]), which refuses it if another holder
    /// offered it first (C28). In [`CacheMode::UPDATE_TIME_ON_USE`] a hit
    /// sets the entry's time to now and makes it most recently touched.
    pub fn lookup(&self, peer: &PeerId, now_ms: u64) -> Option<Session<'p, P, T>> {
        let update = self.config.mode.contains(CacheMode::UPDATE_TIME_ON_USE);
        // Each round removes one stale entry (callback outside the critical section) or ends.
        for _ in 0..=N {
            let step = self.locked_with_records(|s, records| {
                let i = match self.scan_peer(s, records, peer, now_ms, None) {
                    Err(stale) => return self.remove_stale_at(s, stale),
                    Ok(Some(i)) => i,
                    Ok(None) => {
                        bump(&mut s.stats.misses);
                        return Step::Done(None);
                    }
                };
                let found = s
                    .live()
                    .get(i)
                    .and_then(|e| e.as_ref())
                    .map(|e| self.pool.acquire(e.id()));
                let Some(Ok(found)) = found else {
                    bump(&mut s.stats.misses);
                    return Step::Done(None);
                };
                bump(&mut s.stats.hits);
                if update {
                    if let Some(Some(e)) = s.entries.get_mut(i) {
                        e.time_s = secs(now_ms);
                    }
                    s.touch(i);
                }
                Step::Done(Some(found))
            });
            match step {
                Ok(Step::Removed(e)) => self.finish_removal(e),
                Ok(Step::Retry) => {}
                Ok(Step::Done(found)) => return found,
                Err(_) => return None,
            }
        }
        // Only reachable if remove callbacks keep adding stale entries for this peer.
        let _ = self.locked(|s| bump(&mut s.stats.misses));
        None
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
        let limits = self.config.limits;
        // Each round removes one entry (a stale one, or a candidate claimed elsewhere) or ends.
        for _ in 0..=N {
            let step = self.locked_with_records(|s, records| {
                let i = match self.scan_peer(s, records, peer, now_ms, Some(offered_suites)) {
                    Err(stale) => {
                        let e = s.remove_at(stale);
                        if e.is_some() {
                            bump(&mut s.stats.timeouts);
                        }
                        return Take::Stale(e);
                    }
                    Ok(Some(i)) => i,
                    Ok(None) => {
                        bump(&mut s.stats.misses);
                        return Take::Miss;
                    }
                };
                let Some(e) = s.remove_at(i) else {
                    bump(&mut s.stats.misses);
                    return Take::Miss;
                };
                let claimed = !e.timed_out(secs(now_ms))
                    && records
                        .claim(e.id(), now_ms, &limits, offered_suites)
                        .is_ok();
                if !claimed {
                    bump(&mut s.stats.timeouts);
                    return Take::Stale(Some(e));
                }
                // The entry's reference moves to the caller; it held one, so this cannot fail.
                match e.into_raw().map(|raw| self.pool.from_raw(raw)) {
                    Some(Ok(session)) => {
                        bump(&mut s.stats.hits);
                        Take::Hit(session)
                    }
                    _ => {
                        bump(&mut s.stats.misses);
                        Take::Miss
                    }
                }
            });
            match step {
                Ok(Take::Hit(session)) => return Some(session),
                Ok(Take::Stale(e)) => {
                    if let Some(e) = e {
                        self.finish_removal(e);
                    }
                }
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
                self.release_quietly(e);
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
                    self.finish_removal(e);
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
