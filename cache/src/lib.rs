//! A context's client session cache, with fixed capacity and no heap.
//!
//! A [`SessionCache`] belongs to one context (its [`ContextId`] is fixed at construction) and keeps
//! references to records of a [`SessionPool`]: at most `N` entries (C19), at most
//! [`CacheConfig::max_per_peer`] per peer identity (C37). It re-creates OpenSSL's `SSL_CTX` session
//! cache for the client side: add (`SSL_CTX_add_session`, C16, C17), lookup by peer, take (C36),
//! remove (`SSL_CTX_remove_session`, C18), flush (`SSL_CTX_flush_sessions`, C21), per-entry time and
//! timeout (C22), modes and counters (C26), new-session and remove callbacks.
//!
//! Rule numbers cited in these docs (C1–C37, E1–E8) refer to the session contract in
//! `docs/CONTRACT.md` at the root of the repository.
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
//! An entry is *expired* when its time plus timeout has passed (`now ≥ time + timeout`), or when its
//! record is past one of its time limits (C29 under [`CacheConfig::limits`]: ticket lifetime, the
//! configured timeout or 7 days since receipt, the authentication age, or a receipt time later than
//! `now`). It is *stale* when it is expired or when its record can no longer be offered for any other
//! reason (C7: marked not resumable, or used, by a holder outside the cache). Entries are kept in the
//! order they were last touched: added, or their time or timeout changed (C22), or, in
//! [`CacheMode::UPDATE_TIME_ON_USE`], found by [`SessionCache::lookup`].
//!
//! - **C20 eviction order:** when an incoming record finds the cache full, the least recently touched
//!   expired entry goes first; when no entry is expired, the least recently touched entry. The
//!   incoming record is never the one evicted (C19). The victim counts as a timeout if it is stale,
//!   else as an eviction.
//! - **Decided (C20):** eviction looks at times only, not at the flags that other holders set on
//!   records. An entry whose record a connection has claimed (used) or marked not resumable is not
//!   expired: it is removed as stale when its peer is looked up or taken, when a record of its peer
//!   is added (auto-flush) or its peer reaches `max_per_peer`, by [`SessionCache::flush`], or when it
//!   becomes the least recently touched entry.
//!   This keeps eviction independent of `N` (it never reads every record), and such an entry is never
//!   returned by a lookup or a take.
//! - **C37:** when a peer already has `max_per_peer` entries, its stale entries are removed first; if
//!   it still has `max_per_peer` entries other than one with the same ticket bytes, the incoming record
//!   is not cached (counted in `dropped`). The record stays valid for its connection (C23).
//! - **Auto-flush:** unless [`CacheMode::NO_AUTO_FLUSH`], an add first removes the stale entries of
//!   the incoming record's peer (one walk of its chain; so a ticket a connection has just offered
//!   leaves when the connection's new tickets arrive), and, when it finds the cache full, every
//!   expired entry (OpenSSL flushes the whole cache only periodically too). Other peers' expired
//!   entries stay while the cache has room: they are never returned by a lookup or a take, and are
//!   removed by them (for their peer), by an add for their peer, or by [`SessionCache::flush`].
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
//! # Index
//!
//! Entries sit in fixed slots and are never moved. Three fixed-capacity structures, all `u16` slot
//! numbers, find them without scanning the cache:
//!
//! - a doubly linked list in touch order (eviction order, [`SessionCache::entries`]);
//! - a hash chain per peer, keyed by bytes of the peer id (a SHA-256 prefix, so evenly spread) and kept
//!   most recently touched first: lookup, take, the per-peer limit (C37) and finding a record's entry
//!   (C16, C18, C22) walk only the peer's chain, and read only the records whose tag byte matches;
//! - a hash chain per ticket digest, for the same-ticket check of C17.
//!
//! Each hash table has `N` buckets, so chains stay short whatever `N`; an entry's links sit beside
//! it. A lower bound on the time at which the first entry can expire (kept on every add and re-time,
//! recomputed when it is reached) lets a full cache pick its victim at once; only when that time has
//! come are the entries walked and their records read. Adding, looking up, taking and evicting
//! therefore cost the same whatever `N`.
//!
//! # Concurrency (E3)
//!
//! All methods take `&self`. Cache state sits in a `critical_section::Mutex`; each step is one short
//! critical section with no waiting inside, in which the cache state and the pool's records are read
//! together: a walk of one hash chain, reading only the records whose tag fits (about one record,
//! whatever `N`), except when entries may have expired, when the touch-order list is walked (at most
//! `N` entries). [`SessionCache::new_session`] makes the record and takes the first step of adding
//! it in the same critical section. A step ends early at each removal, so that its callback runs
//! outside. Callbacks run outside every critical section, one removal at a time, so they may call back
//! into the cache or the pool.
//!
//! # Memory (E5)
//!
//! One entry is [`ENTRY_SIZE`] = 16 bytes (pool reference as slot index u16 and generation u32, match
//! tag u16, time u32, timeout u32), and the index adds [`INDEX_SIZE`] = 12 bytes per entry (four
//! links and two bucket heads, each a u16), so an entry costs 28 bytes; a pool slot with a 256-byte
//! ticket is 368 bytes, so a cached session costs 396 bytes. The whole cache is `28·N` bytes plus a
//! fixed 84 bytes on 32-bit targets and 112 bytes on 64-bit hosts (rounded up to a multiple of 8 there,
//! so 116 for an odd `N`): counters, list ends, free-slot list, length, expiry bound, configuration,
//! owner, pool and callback references, `RefCell` flag.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use core::cell::RefCell;
use core::num::NonZeroU32;

use critical_section::Mutex;
use encore_session::{
    ticket_offerable, ContextId, Error, HashAlgorithm, Limits, NewSession, PeerId, RawSession,
    Records, Session, SessionId, SessionPool, SessionRecord, SEVEN_DAYS_S,
};

/// Cache mode flags (C26), combined with `|`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
/// The tag lets a chain walk skip entries without reading their records: its high byte is a byte of
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

/// A digest of the ticket's length and of its first and last 8 bytes (a ticket's leading bytes are
/// often a server's fixed key name, its trailing bytes an AEAD tag). Its top byte is the low byte of
/// an entry's tag, other bits pick the ticket's hash chain.
fn ticket_digest(ticket: &[u8]) -> u64 {
    let (head, tail) = match (ticket.first_chunk::<8>(), ticket.last_chunk::<8>()) {
        (Some(head), Some(tail)) => (u64::from_le_bytes(*head), u64::from_le_bytes(*tail)),
        // Shorter than 8 bytes: all of it, as both words.
        _ => {
            let mut w = [0u8; 8];
            for (d, s) in w.iter_mut().zip(ticket) {
                *d = *s;
            }
            let w = u64::from_le_bytes(w);
            (w, w)
        }
    };
    // A full 64-bit mix (every output bit depends on every input bit), as tickets often differ in
    // a few bytes only.
    let mut z = head ^ tail.rotate_left(29) ^ ticket.len() as u64;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn ticket_tag(digest: u64) -> u8 {
    (digest >> 56) as u8
}

fn tag_of(peer: &PeerId, digest: u64) -> u16 {
    u16::from_be_bytes([peer_tag(peer), ticket_tag(digest)])
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

    /// The first second at which the entry has timed out (saturated, so never later than that).
    fn timeout_at_s(&self) -> u32 {
        self.time_s.saturating_add(self.timeout_s)
    }

    fn may_be_peer(&self, peer_tag: u8) -> bool {
        self.tag.to_be_bytes()[0] == peer_tag
    }

    fn may_have_ticket(&self, ticket_tag: u8) -> bool {
        self.tag.to_be_bytes()[1] == ticket_tag
    }
}

/// No entry: the end of a list or chain. Never a slot number, as `N < u16::MAX`.
const NIL: u16 = u16::MAX;

/// An entry slot's links (8 bytes): its neighbours in touch order, and the next entry in its peer's
/// and its ticket's hash chains. A free slot's `newer` is the next free slot.
#[derive(Debug, Clone, Copy)]
struct Link {
    older: u16,
    newer: u16,
    peer_next: u16,
    ticket_next: u16,
}

impl Link {
    const NONE: Link = Link {
        older: NIL,
        newer: NIL,
        peer_next: NIL,
        ticket_next: NIL,
    };
}

/// Which hash chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chain {
    Peer,
    Ticket,
}

/// The buckets of a record's peer and ticket chains.
#[derive(Debug, Clone, Copy)]
struct Buckets {
    peer: usize,
    ticket: usize,
}

fn peer_bucket<const N: usize>(peer: &PeerId) -> usize {
    // Other bytes than the tag byte, so that entries sharing a bucket are told apart by their tag.
    let b = peer.0;
    let h = u32::from_le_bytes([b[4], b[5], b[6], b[7]]) as usize;
    h.checked_rem(N).unwrap_or(0)
}

fn ticket_bucket<const N: usize>(digest: u64) -> usize {
    (digest as u32 as usize).checked_rem(N).unwrap_or(0)
}

fn buckets_of<const N: usize, const T: usize>(r: &SessionRecord<T>) -> Buckets {
    Buckets {
        peer: peer_bucket::<N>(&r.peer()),
        ticket: ticket_bucket::<N>(ticket_digest(r.ticket())),
    }
}

/// The monotonic time (ms) from which `r` is past one of its C29 time limits under `limits`, given
/// `now_ms` is not before its receipt.
fn record_deadline_ms<const T: usize>(r: &SessionRecord<T>, limits: &Limits) -> i64 {
    if r.lifetime_s() == 0 {
        return i64::MIN;
    }
    let cap_s = r.lifetime_s().min(limits.timeout_s).min(SEVEN_DAYS_S);
    let auth_left_s = i64::from(limits.max_auth_age_s) - i64::from(r.auth_age_at_receipt_s());
    r.received_ms()
        .saturating_add(i64::from(cap_s).min(auth_left_s).saturating_mul(1000))
}

/// The first whole second of the monotonic clock at which `e` (of record `r`) may be expired: before
/// it, and not before the record's receipt, it is not.
fn expiry_bound_s<const T: usize>(e: &Entry, r: &SessionRecord<T>, limits: &Limits) -> u32 {
    let record_s = u32::try_from(record_deadline_ms(r, limits).max(0) / 1000).unwrap_or(u32::MAX);
    e.timeout_at_s().min(record_s)
}

/// A monotonic time as whole seconds and the milliseconds past them, saturated to `u32` seconds
/// (136 years); ordered as the time.
fn split_ms(ms: u64) -> (u32, u16) {
    match u32::try_from(ms / 1000) {
        Ok(s) => (s, (ms % 1000) as u16),
        Err(_) => (u32::MAX, 999),
    }
}

/// The record's receipt as [`split_ms`] (one before this boot as 0): `now_ms` is not before the
/// receipt if `split_ms(now_ms)` is not below it.
fn received_bound<const T: usize>(r: &SessionRecord<T>) -> (u32, u16) {
    split_ms(u64::try_from(r.received_ms()).unwrap_or(0))
}

/// An entry slot: the entry, if any, beside its links, so that a walk reads one place per entry.
#[derive(Debug)]
struct Slot {
    entry: Option<Entry>,
    link: Link,
}

impl Slot {
    const FREE: Slot = Slot {
        entry: None,
        link: Link::NONE,
    };
}

/// The cache's entries and their index. Entries never move: `slots[i].entry` is `Some` exactly for
/// the slots in the touch-order list, and each such slot is in one peer chain and one ticket chain.
struct State<const N: usize> {
    slots: [Slot; N],
    /// First entry of each peer bucket's chain, most recently touched first.
    peer_heads: [u16; N],
    /// First entry of each ticket bucket's chain.
    ticket_heads: [u16; N],
    /// Least and most recently touched entries.
    oldest: u16,
    newest: u16,
    /// First free slot that was used before; slots from `fresh` on were never used.
    free: u16,
    fresh: u16,
    len: u16,
    /// No entry is expired at `now_ms` if `now_ms` is not before `(floor_s, floor_sub_ms)` (the
    /// latest receipt of a cached record, see [`split_ms`]) and `now_s < horizon_s` (the earliest
    /// [`expiry_bound_s`] of a cached entry). Both are bounds: kept on every add and re-time,
    /// recomputed when a walk finds no expired entry.
    horizon_s: u32,
    floor_s: u32,
    floor_sub_ms: u16,
    stats: CacheStats,
}

/// Walks a list through `next`, at most `N` steps (so that a broken link can never loop).
struct Walk<'a, const N: usize> {
    state: &'a State<N>,
    at: u16,
    steps: usize,
    /// The chain followed, or the touch-order list (towards newer) if `None`.
    chain: Option<Chain>,
}

impl<'a, const N: usize> Iterator for Walk<'a, N> {
    type Item = (u16, &'a Entry);

    fn next(&mut self) -> Option<Self::Item> {
        while self.at != NIL && self.steps < N {
            let i = self.at;
            self.steps += 1;
            let l = self.state.link(i);
            self.at = match self.chain {
                None => l.newer,
                Some(Chain::Peer) => l.peer_next,
                Some(Chain::Ticket) => l.ticket_next,
            };
            if let Some(e) = self.state.entry(i) {
                return Some((i, e));
            }
        }
        None
    }
}

impl<const N: usize> State<N> {
    const fn new() -> Self {
        State {
            slots: [Slot::FREE; N],
            peer_heads: [NIL; N],
            ticket_heads: [NIL; N],
            oldest: NIL,
            newest: NIL,
            free: NIL,
            fresh: 0,
            len: 0,
            horizon_s: u32::MAX,
            floor_s: 0,
            floor_sub_ms: 0,
            stats: CacheStats {
                hits: 0,
                misses: 0,
                timeouts: 0,
                evictions: 0,
                full: 0,
                too_large: 0,
                dropped: 0,
            },
        }
    }

    fn len(&self) -> usize {
        usize::from(self.len)
    }

    fn is_full(&self) -> bool {
        self.len() >= N
    }

    fn entry(&self, i: u16) -> Option<&Entry> {
        self.slots.get(usize::from(i))?.entry.as_ref()
    }

    fn entry_mut(&mut self, i: u16) -> Option<&mut Entry> {
        self.slots.get_mut(usize::from(i))?.entry.as_mut()
    }

    fn link(&self, i: u16) -> Link {
        self.slots
            .get(usize::from(i))
            .map_or(Link::NONE, |s| s.link)
    }

    fn link_mut(&mut self, i: u16) -> Option<&mut Link> {
        self.slots.get_mut(usize::from(i)).map(|s| &mut s.link)
    }

    /// Entries from the least recently touched on.
    fn iter(&self) -> Walk<'_, N> {
        Walk {
            state: self,
            at: self.oldest,
            steps: 0,
            chain: None,
        }
    }

    fn head(&self, c: Chain, b: usize) -> u16 {
        let heads = match c {
            Chain::Peer => &self.peer_heads,
            Chain::Ticket => &self.ticket_heads,
        };
        heads.get(b).copied().unwrap_or(NIL)
    }

    fn set_head(&mut self, c: Chain, b: usize, i: u16) {
        let heads = match c {
            Chain::Peer => &mut self.peer_heads,
            Chain::Ticket => &mut self.ticket_heads,
        };
        if let Some(h) = heads.get_mut(b) {
            *h = i;
        }
    }

    fn next_in(&self, c: Chain, i: u16) -> u16 {
        let l = self.link(i);
        match c {
            Chain::Peer => l.peer_next,
            Chain::Ticket => l.ticket_next,
        }
    }

    fn set_next_in(&mut self, c: Chain, i: u16, next: u16) {
        if let Some(l) = self.link_mut(i) {
            match c {
                Chain::Peer => l.peer_next = next,
                Chain::Ticket => l.ticket_next = next,
            }
        }
    }

    /// The entries of bucket `b`'s chain, in chain order.
    fn chain(&self, c: Chain, b: usize) -> Walk<'_, N> {
        Walk {
            state: self,
            at: self.head(c, b),
            steps: 0,
            chain: Some(c),
        }
    }

    fn chain_push(&mut self, c: Chain, b: usize, i: u16) {
        let head = self.head(c, b);
        self.set_next_in(c, i, head);
        self.set_head(c, b, i);
    }

    /// Takes `i` out of bucket `b`'s chain; false if it is not there.
    fn chain_unlink(&mut self, c: Chain, b: usize, i: u16) -> bool {
        let next = self.next_in(c, i);
        let mut at = self.head(c, b);
        if at == i {
            self.set_head(c, b, next);
            return true;
        }
        for _ in 0..N {
            if at == NIL {
                break;
            }
            let after = self.next_in(c, at);
            if after == i {
                self.set_next_in(c, at, next);
                return true;
            }
            at = after;
        }
        false
    }

    /// Takes `i` out of its chain in bucket `b` if given and it is there, else out of whichever
    /// chain holds it (only if its record could not be read, which cannot happen while the entry
    /// holds its reference).
    fn chain_remove(&mut self, c: Chain, b: Option<usize>, i: u16) {
        if b.is_some_and(|b| self.chain_unlink(c, b, i)) {
            return;
        }
        for b in 0..N {
            if self.chain_unlink(c, b, i) {
                return;
            }
        }
    }

    fn lru_push(&mut self, i: u16) {
        let newest = self.newest;
        if let Some(l) = self.link_mut(i) {
            l.older = newest;
            l.newer = NIL;
        }
        match self.link_mut(newest) {
            Some(l) => l.newer = i,
            None => self.oldest = i,
        }
        self.newest = i;
    }

    fn lru_unlink(&mut self, i: u16) {
        let Link { older, newer, .. } = self.link(i);
        match self.link_mut(older) {
            Some(l) => l.newer = newer,
            None => self.oldest = newer,
        }
        match self.link_mut(newer) {
            Some(l) => l.older = older,
            None => self.newest = older,
        }
    }

    fn alloc(&mut self) -> Option<u16> {
        if self.free != NIL {
            let i = self.free;
            self.free = self.link(i).newer;
            Some(i)
        } else if usize::from(self.fresh) < N {
            let i = self.fresh;
            self.fresh += 1;
            Some(i)
        } else {
            None
        }
    }

    /// Stores `e` as the most recently touched entry; gives it back if every slot is taken.
    fn insert(&mut self, e: Entry, b: Buckets) -> Result<u16, Entry> {
        let Some(i) = self.alloc() else {
            return Err(e);
        };
        match self.slots.get_mut(usize::from(i)) {
            Some(slot) => slot.entry = Some(e),
            None => return Err(e),
        }
        self.lru_push(i);
        self.chain_push(Chain::Peer, b.peer, i);
        self.chain_push(Chain::Ticket, b.ticket, i);
        self.len += 1;
        Ok(i)
    }

    /// Takes entry `i` out of the cache and its index.
    fn remove(&mut self, i: u16, b: Option<Buckets>) -> Option<Entry> {
        let e = self.slots.get_mut(usize::from(i))?.entry.take()?;
        self.lru_unlink(i);
        self.chain_remove(Chain::Peer, b.map(|b| b.peer), i);
        self.chain_remove(Chain::Ticket, b.map(|b| b.ticket), i);
        let free = self.free;
        if let Some(l) = self.link_mut(i) {
            *l = Link {
                newer: free,
                ..Link::NONE
            };
        }
        self.free = i;
        self.len = self.len.saturating_sub(1);
        if self.len == 0 {
            self.horizon_s = u32::MAX;
            self.set_floor((0, 0));
        }
        Some(e)
    }

    /// Makes entry `i`, in peer bucket `peer_bucket`, the most recently touched.
    fn touch(&mut self, i: u16, peer_bucket: usize) {
        self.lru_unlink(i);
        self.lru_push(i);
        self.chain_remove(Chain::Peer, Some(peer_bucket), i);
        self.chain_push(Chain::Peer, peer_bucket, i);
    }

    /// True if no entry can be expired at `now_ms` (see [`State::horizon_s`]).
    fn surely_unexpired(&self, now_ms: u64) -> bool {
        split_ms(now_ms) >= self.floor() && secs(now_ms) < self.horizon_s
    }

    fn floor(&self) -> (u32, u16) {
        (self.floor_s, self.floor_sub_ms)
    }

    fn set_floor(&mut self, (s, ms): (u32, u16)) {
        self.floor_s = s;
        self.floor_sub_ms = ms;
    }
}

/// How a step inside a critical section ended. Handles the step gave up are left in an
/// out-parameter, so that only this small value leaves the critical section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended<R> {
    /// An entry was removed (its handle is in the out-parameter): fire the remove callback, release
    /// it, and go on.
    Removed,
    /// Done, with this result.
    Done(R),
}

/// Handles a step of [`SessionCache::add`] gave up; each is released after the critical section.
struct AddOut<'p, const P: usize, const T: usize> {
    /// A removed stale entry: callback, then release.
    removed: Option<Session<'p, P, T>>,
    /// Released without a callback (C17), or the new entry's reference if it found no room (which
    /// cannot happen: a cache of no entries drops the record before).
    released: Option<Session<'p, P, T>>,
    /// The evicted entry: callback, then release.
    evicted: Option<Session<'p, P, T>>,
}

impl<const P: usize, const T: usize> AddOut<'_, P, T> {
    const EMPTY: Self = AddOut {
        removed: None,
        released: None,
        evicted: None,
    };
}

/// What the steps of one [`SessionCache::add`] carry from one to the next.
#[derive(Default)]
struct Adding {
    /// The record's peer, tag and buckets, read in the first step.
    mine: Option<(PeerId, u16, Buckets)>,
    /// Set once the cache was seen full: every expired entry is then removed (auto-flush).
    flush_expired: bool,
    /// Set once the peer was seen with `max_per_peer` entries: its stale entries are then removed.
    flush_peer: bool,
}

/// How one round of [`SessionCache::take`] ended inside its critical section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Claimed and moved out of the cache (the handle is in the out-parameter).
    Hit,
    /// A stale entry, or a candidate that could not be claimed, was removed (its handle is in the
    /// out-parameter); callback, then release.
    Stale,
    /// No candidate.
    Miss,
}

/// A context's session cache of at most `N` entries over a pool of `P` slots with `T`-byte tickets.
///
/// See the crate documentation for eviction order, staleness, the index and concurrency.
pub struct SessionCache<'p, const N: usize, const P: usize, const T: usize = 256> {
    pool: &'p SessionPool<P, T>,
    owner: ContextId,
    config: CacheConfig,
    /// `None` without callbacks: references the cache gives up are then released at once, inside
    /// the critical section that gave them up, where no callback has to run first.
    events: Option<&'p (dyn CacheEvents<P, T> + Sync)>,
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
    /// Slot numbers are u16, and `u16::MAX` marks the end of a list.
    const CAPACITY_OK: () = assert!(N < u16::MAX as usize);

    /// An empty cache for context `owner`, without callbacks. `const`, so it can be a `static`.
    pub const fn new(pool: &'p SessionPool<P, T>, owner: ContextId, config: CacheConfig) -> Self {
        Self::build(pool, owner, config, None)
    }

    /// An empty cache whose new-session and remove events go to `events`.
    pub const fn with_events(
        pool: &'p SessionPool<P, T>,
        owner: ContextId,
        config: CacheConfig,
        events: &'p (dyn CacheEvents<P, T> + Sync),
    ) -> Self {
        Self::build(pool, owner, config, Some(events))
    }

    #[allow(clippy::let_unit_value)]
    const fn build(
        pool: &'p SessionPool<P, T>,
        owner: ContextId,
        config: CacheConfig,
        events: Option<&'p (dyn CacheEvents<P, T> + Sync)>,
    ) -> Self {
        let () = Self::CAPACITY_OK;
        // C29: neither limit can be configured above 7 days.
        let config = CacheConfig {
            limits: config.limits.clamped(),
            ..config
        };
        SessionCache {
            pool,
            owner,
            config,
            events,
            state: Mutex::new(RefCell::new(State::new())),
        }
    }

    /// The owning context (C24).
    pub const fn owner(&self) -> ContextId {
        self.owner
    }

    /// The configuration in force: as given, with both limits capped at 7 days (C29).
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
        self.locked(|s| s.len()).unwrap_or(0)
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
        self.with_entry(session, |_, _, _| ()).is_some()
    }

    /// Writes the cached records' ids into `out` in touch order, least recently touched first (the
    /// eviction order among entries that are not expired), and returns how many were written (at
    /// most `out.len()`).
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
        self.with_entry(session, |s, i, _| {
            s.entry(i).map(|e| (e.time_s, e.timeout_s))
        })
        .flatten()
    }

    /// Checks that the index is consistent: every entry is in the touch-order list once, in the
    /// chains of its record's peer and ticket buckets once, and nowhere else; the free slots are
    /// exactly the unused ones; the expiry bound holds. For tests: it reads every record.
    #[doc(hidden)]
    pub fn check_index(&self, now_ms: u64) -> Result<(), &'static str> {
        self.locked_with_records(|s, records| self.check_index_in(s, records, now_ms))
            .unwrap_or(Err("busy"))
    }

    fn check_index_in(
        &self,
        s: &State<N>,
        records: &Records<'_, T>,
        now_ms: u64,
    ) -> Result<(), &'static str> {
        let live = s.slots.iter().filter(|e| e.entry.is_some()).count();
        if live != s.len() || s.iter().count() != live {
            return Err("length or touch-order list");
        }
        // The list backwards reaches the same entries.
        let mut back = 0;
        let mut at = s.newest;
        let mut prev = NIL;
        while at != NIL && back <= N {
            if s.link(at).newer != prev {
                return Err("touch-order back link");
            }
            back += 1;
            prev = at;
            at = s.link(at).older;
        }
        if back != live || prev != s.oldest && live > 0 {
            return Err("touch-order list backwards");
        }
        for (i, e) in s.iter() {
            let r = records.get(e.id()).ok_or("entry without a live record")?;
            let b = buckets_of::<N, T>(r);
            for (c, bucket) in [(Chain::Peer, b.peer), (Chain::Ticket, b.ticket)] {
                if s.chain(c, bucket).filter(|(j, _)| *j == i).count() != 1 {
                    return Err("entry not once in its chain");
                }
            }
            if e.tag != tag_of(&r.peer(), ticket_digest(r.ticket())) {
                return Err("tag");
            }
            let limits = &self.config.limits;
            if s.surely_unexpired(now_ms) && self.expired(e, r, now_ms) {
                return Err("expiry bound");
            }
            if expiry_bound_s(e, r, limits) < s.horizon_s || received_bound(r) > s.floor() {
                return Err("expiry bound above an entry's");
            }
        }
        let chained: usize = (0..N)
            .map(|b| s.chain(Chain::Peer, b).count() + s.chain(Chain::Ticket, b).count())
            .sum();
        if chained != 2 * live {
            return Err("chains hold other entries");
        }
        // Peer chains: a peer's entries in touch order, most recent first.
        for (i, e) in s.iter() {
            let Some(r) = records.get(e.id()) else {
                continue;
            };
            let peer = r.peer();
            let bucket = peer_bucket::<N>(&peer);
            let newer_in_chain = s
                .chain(Chain::Peer, bucket)
                .take_while(|(j, _)| *j != i)
                .filter(|(_, o)| records.get(o.id()).is_some_and(|o| o.peer() == peer))
                .count();
            let newer_in_list = {
                let mut n = 0;
                let mut at = s.link(i).newer;
                while at != NIL && n <= N {
                    if s.entry(at)
                        .and_then(|o| records.get(o.id()))
                        .is_some_and(|o| o.peer() == peer)
                    {
                        n += 1;
                    }
                    at = s.link(at).newer;
                }
                n
            };
            if newer_in_chain != newer_in_list {
                return Err("peer chain out of touch order");
            }
        }
        let mut free = 0;
        let mut at = s.free;
        while at != NIL && free <= N {
            if s.entry(at).is_some() {
                return Err("live entry in the free list");
            }
            free += 1;
            at = s.link(at).newer;
        }
        if free + live != usize::from(s.fresh) {
            return Err("free list");
        }
        if s.slots
            .iter()
            .skip(usize::from(s.fresh))
            .any(|e| e.entry.is_some())
        {
            return Err("entry beyond the used slots");
        }
        Ok(())
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
    /// a walk of one hash chain, or at most of `N` entries, reading only the records it needs).
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

    /// Runs `f` on the entry of `session` (its slot and buckets), if cached, in one critical
    /// section. A handle of another pool, or a stale one, is never cached.
    fn with_entry<R>(
        &self,
        session: &Session<'_, P, T>,
        f: impl FnOnce(&mut State<N>, u16, Buckets) -> R,
    ) -> Option<R> {
        if !core::ptr::eq(session.pool(), self.pool) {
            return None;
        }
        let id = session.id();
        self.locked_with_records(|s, records| {
            let (i, b) = Self::find(s, records, id)?;
            Some(f(s, i, b))
        })
        .ok()
        .flatten()
    }

    /// The slot of the live record `id`'s entry and its buckets: a walk of its peer's chain.
    fn find(s: &State<N>, records: &Records<'_, T>, id: SessionId) -> Option<(u16, Buckets)> {
        let r = records.get(id)?;
        let b = buckets_of::<N, T>(r);
        s.chain(Chain::Peer, b.peer)
            .find(|(_, e)| e.id() == id)
            .map(|(i, _)| (i, b))
    }

    /// Past a time limit: timed out, or its record past a C29 time limit (see the crate docs).
    fn expired(&self, e: &Entry, r: &SessionRecord<T>, now_ms: u64) -> bool {
        e.timed_out(secs(now_ms))
            || match (r.age_ms(now_ms), r.auth_age_ms(now_ms)) {
                (Some(age), Some(since_auth)) => {
                    ticket_offerable(age, since_auth, r.lifetime_s(), &self.config.limits).is_err()
                }
                _ => true,
            }
    }

    /// Expired, or its record can no longer be offered for another reason.
    fn is_stale(&self, e: &Entry, r: &SessionRecord<T>, now_ms: u64) -> bool {
        e.timed_out(secs(now_ms)) || r.offerable(now_ms, &self.config.limits).is_err()
    }

    /// Stale, or names no record (which cannot happen while the entry holds its reference).
    fn entry_stale(&self, e: &Entry, records: &Records<'_, T>, now_ms: u64) -> bool {
        records
            .get(e.id())
            .is_none_or(|r| self.is_stale(e, r, now_ms))
    }

    /// The least recently touched expired entry. Reads no record while the expiry bound shows that
    /// none can be; otherwise walks the entries, and when none is expired renews the bound.
    fn find_expired(&self, s: &mut State<N>, records: &Records<'_, T>, now_ms: u64) -> Option<u16> {
        if s.surely_unexpired(now_ms) {
            return None;
        }
        let limits = &self.config.limits;
        let mut horizon_s = u32::MAX;
        let mut floor = (0, 0);
        for (i, e) in s.iter() {
            let Some(r) = records.get(e.id()) else {
                return Some(i);
            };
            if self.expired(e, r, now_ms) {
                return Some(i);
            }
            horizon_s = horizon_s.min(expiry_bound_s(e, r, limits));
            floor = floor.max(received_bound(r));
        }
        s.horizon_s = horizon_s;
        s.set_floor(floor);
        None
    }

    /// Takes entry `i` out of the cache, as a handle that owns the entry's reference.
    fn remove_entry(
        &self,
        s: &mut State<N>,
        records: &Records<'_, T>,
        i: u16,
    ) -> Option<Session<'p, P, T>> {
        let b = s
            .entry(i)
            .and_then(|e| records.get(e.id()))
            .map(buckets_of::<N, T>);
        s.remove(i, b).and_then(|e| self.handle(e))
    }

    /// The entry's reference as a handle (inside a critical section: no extra one).
    /// `from_raw` fails only for an id that owns no reference, so nothing can leak here.
    fn handle(&self, e: Entry) -> Option<Session<'p, P, T>> {
        e.into_raw().and_then(|raw| self.pool.from_raw(raw).ok())
    }

    /// Removes the stale entry `i`, counted as a timeout, into `out`; its callback and release
    /// follow outside the critical section.
    fn remove_stale_at<R>(
        &self,
        s: &mut State<N>,
        records: &Records<'_, T>,
        i: u16,
        out: &mut Option<Session<'p, P, T>>,
    ) -> Ended<R> {
        bump(&mut s.stats.timeouts);
        *out = self.remove_entry(s, records, i);
        Ended::Removed
    }

    /// Fires the remove callback for a reference the cache gave up, then releases it.
    fn finish_removal(&self, session: Option<Session<'p, P, T>>) {
        if let (Some(s), Some(events)) = (session, self.events) {
            events.removed(&s);
        }
    }

    /// The peer's entries, from the least recently touched: `Err(i)` for the first stale one, else
    /// the most recently touched one usable with `suites` (any suite if `None`). One walk of the
    /// peer's chain (most recently touched first); only records whose tag matches `peer` are read.
    fn scan_peer(
        &self,
        s: &State<N>,
        records: &Records<'_, T>,
        peer: &PeerId,
        now_ms: u64,
        suites: Option<&[u16]>,
    ) -> Result<Option<u16>, u16> {
        let tag = peer_tag(peer);
        let mut newest = None;
        let mut oldest_stale = None;
        for (i, e) in s.chain(Chain::Peer, peer_bucket::<N>(peer)) {
            if !e.may_be_peer(tag) {
                continue;
            }
            let Some(r) = records.get(e.id()) else {
                continue;
            };
            if r.peer() != *peer {
                continue;
            }
            if self.is_stale(e, r, now_ms) {
                oldest_stale = Some(i);
            } else if newest.is_none() && suites.is_none_or(|list| suite_fits(list, r.hash())) {
                newest = Some(i);
            }
        }
        match oldest_stale {
            Some(i) => Err(i),
            None => Ok(newest),
        }
    }

    /// Removes stale entries one critical section at a time, least recently touched first; returns
    /// how many were removed. Bounded by `N` steps.
    fn remove_stale(&self, now_ms: u64) -> usize {
        let mut removed = 0;
        let mut out = None;
        for _ in 0..N {
            let step = self.locked_with_records(|s, records| {
                let found = s
                    .iter()
                    .find(|(_, e)| self.entry_stale(e, records, now_ms))
                    .map(|(i, _)| i);
                match found {
                    Some(i) => self.remove_stale_at(s, records, i, &mut out),
                    None => Ended::Done(()),
                }
            });
            match step {
                Ok(Ended::Removed) => {
                    removed += 1;
                    self.finish_removal(out.take());
                }
                _ => break,
            }
        }
        removed
    }

    /// Adds a reference to `session` to the cache (`SSL_CTX_add_session`); see the crate
    /// documentation for eviction (C19, C20), auto-flush and the per-peer limit (C37).
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
        let mut adding = Adding::default();
        let mut out = AddOut::EMPTY;
        let first = self.add_step(id, now_ms, &mut adding, &mut out);
        self.add_rest(id, now_ms, &mut adding, &mut out, first)
    }

    /// One step of [`SessionCache::add`] in its own critical section.
    fn add_step(
        &self,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
    ) -> Result<Ended<Added>, Error> {
        self.locked_with_records(|s, records| self.add_in(s, records, id, now_ms, adding, out))?
    }

    /// Runs the steps of [`SessionCache::add`] after `step`, each removal's callback between them.
    fn add_rest(
        &self,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
        mut step: Result<Ended<Added>, Error>,
    ) -> Result<Added, Error> {
        // Each step removes one entry (callback outside the critical section) or ends.
        for _ in 0..=2 * N {
            match step? {
                Ended::Removed => self.finish_removal(out.removed.take()),
                Ended::Done(added) => {
                    drop(out.released.take());
                    self.finish_removal(out.evicted.take());
                    return Ok(added);
                }
            }
            step = self.add_step(id, now_ms, adding, out);
        }
        // Only reachable if remove callbacks keep adding stale entries.
        let _ = self.locked(|s| bump(&mut s.stats.dropped));
        Ok(Added::Dropped)
    }

    /// One step of [`SessionCache::add`], inside its critical section: C16, C19, the auto-flush,
    /// C37, C17, then room (C19, C20) and the new entry. Each check is made again in every step, as
    /// a callback between steps may have changed the cache or the record.
    fn add_in(
        &self,
        s: &mut State<N>,
        records: &Records<'_, T>,
        id: SessionId,
        now_ms: u64,
        adding: &mut Adding,
        out: &mut AddOut<'p, P, T>,
    ) -> Result<Ended<Added>, Error> {
        let done = |added| Ok(Ended::Done(added));
        let limits = &self.config.limits;
        let r = records.get(id).ok_or(Error::StaleHandle)?;
        if r.owner() != self.owner {
            return Err(Error::WrongOwner);
        }
        let (peer, tag, b) = match adding.mine {
            Some(mine) => mine,
            None => {
                let peer = r.peer();
                let digest = ticket_digest(r.ticket());
                let b = Buckets {
                    peer: peer_bucket::<N>(&peer),
                    ticket: ticket_bucket::<N>(digest),
                };
                let mine = (peer, tag_of(&peer, digest), b);
                adding.mine = Some(mine);
                mine
            }
        };
        let [ptag, ttag] = tag.to_be_bytes();
        // One walk of the peer's chain: the record itself (C16), the peer's entries (C37) and the
        // least recently touched stale one.
        let mut count = 0;
        let mut others = 0;
        let mut oldest_stale = None;
        for (i, e) in s.chain(Chain::Peer, b.peer) {
            if e.id() == id {
                return done(Added::AlreadyPresent);
            }
            if !e.may_be_peer(ptag) {
                continue;
            }
            let Some(o) = records.get(e.id()) else {
                continue;
            };
            if o.peer() == peer {
                count += 1;
                if !(e.may_have_ticket(ttag) && o.ticket() == r.ticket()) {
                    others += 1;
                }
                if self.is_stale(e, o, now_ms) {
                    oldest_stale = Some(i);
                }
            }
        }
        // Not offerable (any more: a holder may have claimed or spoiled it since the last step).
        if r.offerable(now_ms, limits).is_err() {
            bump(&mut s.stats.dropped);
            return done(Added::Dropped);
        }
        // A cache of no entries has no room to make: nothing is flushed or evicted for it.
        if N == 0 {
            bump(&mut s.stats.dropped);
            return done(Added::Dropped);
        }
        // Auto-flush: the peer's stale entries go first, then, from a full cache, every expired
        // entry. C37: a peer at its limit first loses its stale entries.
        let auto = !self.config.mode.contains(CacheMode::NO_AUTO_FLUSH);
        adding.flush_peer |= count >= self.config.max_per_peer;
        if auto || adding.flush_peer {
            if let Some(i) = oldest_stale {
                return Ok(self.remove_stale_at(s, records, i, &mut out.removed));
            }
        }
        adding.flush_expired |= auto && s.is_full();
        if adding.flush_expired {
            if let Some(i) = self.find_expired(s, records, now_ms) {
                return Ok(self.remove_stale_at(s, records, i, &mut out.removed));
            }
        }
        if others >= self.config.max_per_peer {
            bump(&mut s.stats.dropped);
            return done(Added::Dropped);
        }
        // C17: the entry with the same ticket bytes, if any.
        let same = s
            .chain(Chain::Ticket, b.ticket)
            .find(|(_, e)| {
                e.may_have_ticket(ttag)
                    && records
                        .get(e.id())
                        .is_some_and(|o| o.ticket() == r.ticket())
            })
            .map(|(i, _)| i);
        let raw = self.pool.acquire(id)?.into_raw();
        let replaced = same.is_some();
        if let Some(i) = same {
            out.released = self.remove_entry(s, records, i);
        }
        if s.is_full() {
            bump(&mut s.stats.full);
            // C20: the least recently touched expired entry, else the least recently touched.
            let victim = self.find_expired(s, records, now_ms).unwrap_or(s.oldest);
            let stale = s
                .entry(victim)
                .is_some_and(|e| self.entry_stale(e, records, now_ms));
            bump(if stale {
                &mut s.stats.timeouts
            } else {
                &mut s.stats.evictions
            });
            out.evicted = self.remove_entry(s, records, victim);
        }
        let entry = Entry::new(raw, tag, secs(now_ms), limits.timeout_s);
        let bound_s = expiry_bound_s(&entry, r, limits);
        match s.insert(entry, b) {
            Ok(_) => {
                s.horizon_s = s.horizon_s.min(bound_s);
                let floor = s.floor().max(received_bound(r));
                s.set_floor(floor);
                Ok(Ended::Done(if replaced {
                    Added::Replaced
                } else {
                    Added::Stored
                }))
            }
            // Unreachable: `N > 0` here, and room was made above. The reference is given back.
            Err(e) => {
                // No entry was replaced: there is none.
                out.released = self.handle(e);
                Ok(Ended::Done(Added::Dropped))
            }
        }
    }

    /// Makes a record from a NewSessionTicket, stores it unless [`CacheMode::NO_INTERNAL_STORE`], fires
    /// the new-session callback, and returns it for the connection (C5, C27).
    ///
    /// The record is made, and the first step of adding it taken, in one critical section.
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
        let store = !self.config.mode.contains(CacheMode::NO_INTERNAL_STORE);
        let mut adding = Adding::default();
        let mut out = AddOut::EMPTY;
        let mut first = None;
        let created = critical_section::with(|_| {
            let created = self.pool.create(new);
            match &created {
                Ok(session) if store => {
                    first = Some(self.add_step(session.id(), now_ms, &mut adding, &mut out));
                    if self.events.is_none() {
                        // No callback to fire first: release what the step gave up (an evicted
                        // or replaced entry) in this critical section.
                        drop(out.removed.take());
                        drop(out.released.take());
                        drop(out.evicted.take());
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = self.locked(|s| match e {
                        Error::TicketTooLarge { .. } => bump(&mut s.stats.too_large),
                        Error::PoolExhausted => bump(&mut s.stats.dropped),
                        _ => {}
                    });
                }
            }
            created
        });
        let session = created?;
        if let Some(first) = first {
            // The connection keeps its record whatever the cache decides (C23).
            let _ = self.add_rest(session.id(), now_ms, &mut adding, &mut out, first);
        }
        if let Some(events) = self.events {
            events.new_session(&session);
        }
        Ok(session)
    }

    /// A new reference to the peer's most recently touched entry, which stays cached; its stale
    /// entries are removed first. Counts a hit or a miss. The record is not claimed: to offer it,
    /// use [`Session::claim`] (or [`SessionCache::take`]), which refuses it if another holder
    /// offered it first (C28). In [`CacheMode::UPDATE_TIME_ON_USE`] a hit
    /// sets the entry's time to now and makes it most recently touched.
    pub fn lookup(&self, peer: &PeerId, now_ms: u64) -> Option<Session<'p, P, T>> {
        let update = self.config.mode.contains(CacheMode::UPDATE_TIME_ON_USE);
        // The entry removed, or the reference found.
        let mut out = None;
        // Each round removes one stale entry (callback outside the critical section) or ends.
        for _ in 0..=N {
            let step = self.locked_with_records(|s, records| {
                let i = match self.scan_peer(s, records, peer, now_ms, None) {
                    Err(stale) => return self.remove_stale_at(s, records, stale, &mut out),
                    Ok(Some(i)) => i,
                    Ok(None) => {
                        bump(&mut s.stats.misses);
                        return Ended::Done(());
                    }
                };
                let Some(Ok(found)) = s.entry(i).map(|e| self.pool.acquire(e.id())) else {
                    bump(&mut s.stats.misses);
                    return Ended::Done(());
                };
                out = Some(found);
                bump(&mut s.stats.hits);
                if update {
                    if let Some(e) = s.entry_mut(i) {
                        e.time_s = secs(now_ms);
                        // The new time may be earlier than the old one (set by `set_time`, or
                        // read from the clock by another task before this one): keep the bound.
                        let at = e.timeout_at_s();
                        s.horizon_s = s.horizon_s.min(at);
                    }
                    s.touch(i, peer_bucket::<N>(peer));
                }
                Ended::Done(())
            });
            match step {
                Ok(Ended::Removed) => self.finish_removal(out.take()),
                Ok(Ended::Done(())) => return out,
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
        // The entry removed, or the one taken.
        let mut out = None;
        // Each round removes one entry (a stale one, or a candidate claimed elsewhere) or ends.
        for _ in 0..=N {
            let step = self.locked_with_records(|s, records| {
                let i = match self.scan_peer(s, records, peer, now_ms, Some(offered_suites)) {
                    Err(stale) => {
                        bump(&mut s.stats.timeouts);
                        out = self.remove_entry(s, records, stale);
                        return Take::Stale;
                    }
                    Ok(Some(i)) => i,
                    Ok(None) => {
                        bump(&mut s.stats.misses);
                        return Take::Miss;
                    }
                };
                let b = s
                    .entry(i)
                    .and_then(|e| records.get(e.id()))
                    .map(buckets_of::<N, T>);
                let Some(e) = s.remove(i, b) else {
                    bump(&mut s.stats.misses);
                    return Take::Miss;
                };
                let claimed = !e.timed_out(secs(now_ms))
                    && records
                        .claim(e.id(), now_ms, &limits, offered_suites)
                        .is_ok();
                out = self.handle(e);
                if !claimed {
                    bump(&mut s.stats.timeouts);
                    return Take::Stale;
                }
                // The entry's reference moves to the caller; it held one, so this cannot fail.
                if out.is_some() {
                    bump(&mut s.stats.hits);
                    Take::Hit
                } else {
                    bump(&mut s.stats.misses);
                    Take::Miss
                }
            });
            match step {
                Ok(Take::Hit) => return out,
                Ok(Take::Stale) => self.finish_removal(out.take()),
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
        let taken = self
            .with_entry(session, |s, i, b| s.remove(i, Some(b)))
            .flatten();
        let _ = session.mark_not_resumable();
        if let Some(events) = self.events {
            events.removed(session);
        }
        match taken {
            Some(e) => {
                // Released without a second callback.
                drop(e.into_raw().map(|raw| self.pool.from_raw(raw)));
                Presence::Found
            }
            None => Presence::NotFound,
        }
    }

    /// Removes exactly the stale entries (C21), each with a remove callback; returns how many.
    pub fn flush(&self, now_ms: u64) -> usize {
        self.remove_stale(now_ms)
    }

    /// Removes every entry (C21), each with a remove callback; returns how many.
    pub fn flush_all(&self) -> usize {
        let mut removed = 0;
        for _ in 0..N {
            let step = self.locked_with_records(|s, records| {
                let oldest = s.oldest;
                s.entry(oldest)
                    .is_some()
                    .then(|| self.remove_entry(s, records, oldest))
            });
            match step {
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
        self.with_entry(session, |s, i, b| {
            if let Some(e) = s.entry_mut(i) {
                f(e);
                let at = e.timeout_at_s();
                s.horizon_s = s.horizon_s.min(at);
            }
            s.touch(i, b.peer);
        })
        .map_or(Presence::NotFound, |()| Presence::Found)
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

/// Bytes of index per cache entry (E5): its links in the touch-order list and two hash chains, and
/// one bucket head in each of the two hash tables (which have `N` buckets each).
pub const INDEX_SIZE: usize = core::mem::size_of::<Link>() + 2 * core::mem::size_of::<u16>();

// E5: the documented sizes, checked at compile time (on 32-bit targets, the whole cache too).
const _: () = assert!(ENTRY_SIZE == 16 && INDEX_SIZE == 12);
#[cfg(target_pointer_width = "32")]
const _: () = assert!(
    core::mem::size_of::<SessionCache<'static, 8, 8>>() == 8 * (ENTRY_SIZE + INDEX_SIZE) + 84
);

#[cfg(test)]
mod cap_tests {
    use super::*;

    /// C29: the cache caps both configured limits at 7 days when it is made, so a record whose
    /// server was authenticated 7 days minus 1 s before its receipt is found for one more second
    /// even when the configuration asks for more.
    #[test]
    fn c29_cache_limits_capped_at_7_days() {
        const WEEK_MS: u64 = SEVEN_DAYS_S as u64 * 1000;
        let pool: SessionPool<2> = SessionPool::new();
        let config = CacheConfig {
            limits: Limits {
                timeout_s: u32::MAX,
                max_auth_age_s: u32::MAX,
            },
            ..CacheConfig::DEFAULT
        };
        let cache: SessionCache<'_, 2, 2> = SessionCache::new(&pool, ContextId(1), config);
        assert_eq!(
            cache.config().limits,
            Limits {
                timeout_s: SEVEN_DAYS_S,
                max_auth_age_s: SEVEN_DAYS_S
            }
        );
        let peer = PeerId([3; 16]);
        let s = pool
            .create(&NewSession {
                version: encore_session::TLS13,
                cipher_suite: 0x1301,
                psk: &[1; 32],
                ticket: &[2; 16],
                lifetime_s: SEVEN_DAYS_S,
                age_add: 0,
                max_early_data: 0,
                received_ms: 0,
                received_unix: None,
                auth_age_ms: WEEK_MS - 1000,
                peer,
                owner: ContextId(1),
            })
            .unwrap();
        assert_eq!(cache.add(&s, 0), Ok(Added::Stored));
        drop(s);
        assert!(cache.lookup(&peer, 999).is_some());
        assert!(cache.lookup(&peer, 1000).is_none());
        assert_eq!(cache.len(), 0);
    }
}
