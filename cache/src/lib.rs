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
//! // It comes with what its claim read for the ClientHello: the suite and the obfuscated age (C30).
//! let (offered, offer) = cache.take(&peer, 5_000, &[0x1301]).expect("cached");
//! assert!(offered.info()?.used);
//! assert_eq!(offer.obfuscated_age, 5_001);
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

mod cache;
mod config;
mod index;

#[cfg(doc)]
use encore_session::{ContextId, Session, SessionPool};

pub use cache::{SessionCache, ENTRY_SIZE, INDEX_SIZE};
pub use config::{Added, CacheConfig, CacheEvents, CacheMode, CacheStats, NoEvents, Presence};
