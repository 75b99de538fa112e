//! The cache itself: construction, accessors, and the steps every operation shares.

mod add;
#[cfg(any(test, feature = "check-index"))]
mod check;
mod lookup;
mod remove;

use core::cell::RefCell;

use critical_section::{CriticalSection, Mutex};
use encore_session::{
    ticket_offerable, ContextId, Error, HashAlgorithm, NewSession, Offer, PeerId, Records, Session,
    SessionId, SessionPool, SessionRecord,
};

use crate::config::*;
use crate::index::*;

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
        critical_section::with(|cs| self.locked_with_records_in(cs, f))
    }

    /// [`SessionCache::locked_with_records`] inside the critical section `cs` the caller holds.
    #[inline(always)]
    fn locked_with_records_in<R>(
        &self,
        cs: CriticalSection<'_>,
        f: impl FnOnce(&mut State<N>, &Records<'_, T>) -> R,
    ) -> Result<R, Error> {
        let mut state = self
            .state
            .borrow(cs)
            .try_borrow_mut()
            .map_err(|_| Error::Busy)?;
        self.pool
            .with_records_in(cs, |records| f(&mut state, records))
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

    /// [`SessionCache::is_stale`] for a cached entry, where `unexpired` is
    /// [`State::surely_unexpired`] at `now_ms`. When the expiry bound shows that no entry is
    /// expired, only the record's flags are read: every cached record passed all of C7's other
    /// checks (ticket, version, hash) when it was added (an add checks [`SessionRecord::offerable`]
    /// in the critical section that stores it), its payload never changes while the entry holds
    /// its reference (C27), and the time checks are those the bound covers.
    fn cached_stale(&self, unexpired: bool, e: &Entry, r: &SessionRecord<T>, now_ms: u64) -> bool {
        if unexpired {
            r.is_used() || r.is_not_resumable()
        } else {
            self.is_stale(e, r, now_ms)
        }
    }

    /// Stale, or names no record (which cannot happen while the entry holds its reference).
    fn entry_stale(&self, s: &State<N>, e: &Entry, records: &Records<'_, T>, now_ms: u64) -> bool {
        let unexpired = s.surely_unexpired(now_ms);
        records
            .get(e.id())
            .is_none_or(|r| self.cached_stale(unexpired, e, r, now_ms))
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
        s.remove(i, b).and_then(|e| self.handle(records, e))
    }

    /// The entry's reference as a handle, checked against the read `records` (no critical section
    /// of its own). `from_raw_in` fails only for an id that owns no reference, so nothing can leak
    /// here.
    fn handle(&self, records: &Records<'_, T>, e: Entry) -> Option<Session<'p, P, T>> {
        e.into_raw()
            .and_then(|raw| self.pool.from_raw_in(records, raw).ok())
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
        let unexpired = s.surely_unexpired(now_ms);
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
            if self.cached_stale(unexpired, e, r, now_ms) {
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
                    .find(|(_, e)| self.entry_stale(s, e, records, now_ms))
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
    use encore_session::{Limits, SEVEN_DAYS_S};

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
        let s = pool.create(&record(&[2; 16], WEEK_MS - 1000)).unwrap();
        assert_eq!(cache.add(&s, 0), Ok(Added::Stored));
        drop(s);
        assert!(cache.lookup(&PEER, 999).is_some());
        assert!(cache.lookup(&PEER, 1000).is_none());
        assert_eq!(cache.len(), 0);
    }

    const PEER: PeerId = PeerId([3; 16]);

    /// A record for `PEER` of context 1, received at 0, with `ticket`.
    fn record(ticket: &[u8], auth_age_ms: u64) -> NewSession<'_> {
        NewSession {
            version: encore_session::TLS13,
            cipher_suite: 0x1301,
            psk: &[1; 32],
            ticket,
            lifetime_s: SEVEN_DAYS_S,
            age_add: 0,
            max_early_data: 0,
            received_ms: 0,
            received_unix: None,
            auth_age_ms,
            peer: PEER,
            owner: ContextId(1),
        }
    }

    /// C28, C36, E7: `take_with` runs its reader once, inside the claim of the entry it takes.
    /// A newer candidate that a connection claimed first is passed over (removed as stale)
    /// without being read.
    #[test]
    fn c36_take_with_reads_only_the_entry_it_claims() {
        let pool: SessionPool<2> = SessionPool::new();
        let cache: SessionCache<'_, 2, 2> =
            SessionCache::new(&pool, ContextId(1), CacheConfig::DEFAULT);
        let older = pool.create(&record(&[0xA1; 16], 0)).unwrap();
        assert_eq!(cache.add(&older, 0), Ok(Added::Stored));
        let newer = pool.create(&record(&[0xB2; 16], 0)).unwrap();
        assert_eq!(cache.add(&newer, 1), Ok(Added::Stored));
        // A connection it is set on offers the newer one first.
        assert!(newer.claim(2, &Limits::DEFAULT, &[0x1301]).is_ok());
        let mut reads = 0;
        let mut ticket = [0u8; 16];
        let (taken, offer, ()) = cache
            .take_with(&PEER, 3, &[0x1301], |r, claim| {
                assert_eq!(claim.cipher_suite, 0x1301);
                ticket.copy_from_slice(r.ticket());
                reads += 1;
            })
            .unwrap();
        assert_eq!((reads, ticket), (1, [0xA1; 16]));
        assert_eq!(taken.id(), older.id());
        assert_eq!(offer.obfuscated_age, 3);
        assert_eq!(cache.len(), 0);
    }
}
