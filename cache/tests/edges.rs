//! Edge cases of the cache's index: the expiry bound when an entry's time moves back, the smallest
//! and largest capacities, callbacks that call back into the cache, and the documented sizes (C19,
//! C20, C26, E3, E5).

mod support;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use encore_cache::{
    Added, CacheConfig, CacheEvents, CacheMode, CacheStats, Presence, SessionCache, ENTRY_SIZE,
    INDEX_SIZE,
};
use encore_session::{Session, SessionPool};
use support::{peer, received, ticket, with_mode, OWNER};

/// C20, C26: in `UPDATE_TIME_ON_USE`, a lookup sets the entry's time to now, which may be earlier
/// than the time it had (set with `set_time`, or by another task that read a later clock). The
/// entry then expires earlier, and a full cache must still evict it first.
#[test]
fn c20_lookup_that_moves_time_back_keeps_the_expiry_bound() {
    let pool: SessionPool<8> = SessionPool::new();
    let config = with_mode(CacheMode::UPDATE_TIME_ON_USE);
    let cache: SessionCache<'_, 2, 8> = SessionCache::new(&pool, OWNER, config);
    let b = received(&cache, 2, 0, 7200);
    let a = received(&cache, 1, 0, 7200);
    // A's time is 1000 s and its timeout 10 s: it expires at 1010 s.
    assert_eq!(cache.set_time(&a, 1_000_000), Presence::Found);
    assert_eq!(cache.set_timeout(&a, 10), Presence::Found);
    // A lookup at 100 s sets its time to 100 s: it expires at 110 s.
    let found = cache.lookup(&peer(1), 100_000).unwrap();
    assert_eq!(found.id(), a.id());
    assert_eq!(cache.entry_time(&a), Some((100, 10)));
    cache.check_index(100_000).unwrap();
    // At 200 s A is expired.
    cache.check_index(200_000).unwrap();
    let c = received(&cache, 3, 200_000, 7200);
    assert!(cache.contains(&c));
    assert!(!cache.contains(&a), "the expired entry must go first");
    assert!(
        cache.contains(&b),
        "an entry that is not expired was evicted"
    );
    assert_eq!(cache.stats().timeouts, 1);
    assert_eq!(cache.stats().evictions, 0);
}

/// C19, C26: a cache of no entries stores nothing, evicts nothing, and counts the refused add as
/// dropped, never as an eviction.
#[test]
fn c19_zero_capacity_drops_without_counting_an_eviction() {
    let pool: SessionPool<4> = SessionPool::new();
    let cache: SessionCache<'_, 0, 4> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    let s = received(&cache, 1, 0, 7200);
    assert_eq!(cache.add(&s, 0), Ok(Added::Dropped));
    assert!(cache.is_empty());
    assert!(cache.lookup(&peer(1), 0).is_none());
    assert!(cache.take(&peer(1), 0, &[0x1301]).is_none());
    assert_eq!((cache.flush(0), cache.flush_all()), (0, 0));
    assert_eq!(
        cache.stats(),
        CacheStats {
            misses: 2,
            dropped: 2,
            ..CacheStats::default()
        }
    );
    assert_eq!(s.ref_count(), Ok(1));
    drop(s);
    assert_eq!(pool.in_use(), 0);
}

/// C19: one entry: each add evicts the other, never the incoming record.
#[test]
fn c19_capacity_one() {
    let pool: SessionPool<4> = SessionPool::new();
    let cache: SessionCache<'_, 1, 4> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    let mut last = None;
    for n in 0..6u8 {
        let s = cache
            .new_session(&ticket(n % 3, &[n; 32], 0, 7200), 0)
            .unwrap();
        assert_eq!(cache.len(), 1);
        assert!(cache.contains(&s));
        cache.check_index(0).unwrap();
        last = Some(s);
    }
    assert_eq!(cache.stats().evictions, 5);
    drop(last);
    drop(cache);
    assert_eq!(pool.in_use(), 0);
}

/// Slot numbers are u16 and `u16::MAX` ends a list: the largest capacity allowed is `u16::MAX - 1`.
static BIG_POOL: SessionPool<8> = SessionPool::new();
static BIG: SessionCache<'static, { u16::MAX as usize - 1 }, 8> =
    SessionCache::new(&BIG_POOL, OWNER, CacheConfig::DEFAULT);

#[test]
fn largest_capacity_works() {
    assert_eq!(BIG.capacity(), 65_534);
    let mut held = Vec::new();
    for n in 0..6u8 {
        let s = BIG.new_session(&ticket(n, &[n; 32], 0, 7200), 0).unwrap();
        held.push(s);
    }
    assert_eq!(BIG.len(), 6);
    BIG.check_index(0).unwrap();
    assert_eq!(
        BIG.take(&peer(3), 1_000, &[0x1301]).unwrap().0.id(),
        held[3].id()
    );
    assert_eq!(BIG.remove(&held[0]), Presence::Found);
    BIG.check_index(1_000).unwrap();
    assert_eq!(BIG.flush_all(), 4);
    drop(held);
    assert_eq!(BIG_POOL.in_use(), 0);
}

/// E3: remove callbacks run outside every critical section, so they may use the cache, including
/// adding a record, while an add, a lookup, a flush or a drop is under way.
struct Reenter;

static RE_POOL: SessionPool<8> = SessionPool::new();
static RE_EVENTS: Reenter = Reenter;
static RE_CACHE: SessionCache<'static, 2, 8> =
    SessionCache::with_events(&RE_POOL, OWNER, CacheConfig::DEFAULT, &RE_EVENTS);
static RE_BUSY: AtomicBool = AtomicBool::new(false);
static RE_CALLS: AtomicUsize = AtomicUsize::new(0);

impl CacheEvents<8, 256> for Reenter {
    fn removed(&self, session: &Session<'_, 8, 256>) {
        let calls = RE_CALLS.fetch_add(1, Ordering::SeqCst);
        if RE_CACHE.check_index(0).is_err() || RE_CACHE.contains(session) {
            RE_BUSY.store(true, Ordering::SeqCst);
        }
        let _ = RE_CACHE.lookup(&peer(9), 0);
        // Re-adding the removed record must not break the index (a few times only: re-adding every
        // victim of a full cache would evict another one for ever).
        if calls < 3 {
            let _ = RE_CACHE.add(session, 0);
        }
    }
}

#[test]
fn e3_callbacks_may_call_back_into_the_cache() {
    let a = received(&RE_CACHE, 1, 0, 7200);
    let b = received(&RE_CACHE, 2, 0, 7200);
    // Full: the eviction's callback re-adds the victim, which evicts again.
    let c = received(&RE_CACHE, 3, 0, 7200);
    assert!(RE_CACHE.len() <= 2);
    RE_CACHE.check_index(0).unwrap();
    assert_eq!(RE_CACHE.remove(&c), Presence::Found);
    RE_CACHE.check_index(0).unwrap();
    RE_CACHE.flush_all();
    RE_CACHE.check_index(0).unwrap();
    assert!(!RE_BUSY.load(Ordering::SeqCst));
    assert!(RE_CALLS.load(Ordering::SeqCst) >= 3);
    // Drain what the callbacks re-added, without callbacks re-adding again: mark them used.
    for s in [&a, &b, &c] {
        let _ = s.mark_used();
    }
    RE_CACHE.flush(0);
    assert!(RE_CACHE.is_empty());
    drop((a, b, c));
    assert_eq!(RE_POOL.in_use(), 0);
}

/// E5: the documented size of a whole cache: `28·N` plus 84 bytes on 32-bit targets, 112 bytes on
/// 64-bit hosts for an even `N` and 116 for an odd one.
#[test]
fn e5_cache_size_for_even_and_odd_capacities() {
    let per = ENTRY_SIZE + INDEX_SIZE;
    let (even, odd) = if cfg!(target_pointer_width = "64") {
        (112, 116)
    } else {
        (84, 84)
    };
    assert_eq!(
        core::mem::size_of::<SessionCache<'static, 2, 4>>(),
        2 * per + even
    );
    assert_eq!(
        core::mem::size_of::<SessionCache<'static, 1, 4>>(),
        per + odd
    );
    assert_eq!(
        core::mem::size_of::<SessionCache<'static, 15, 4>>(),
        15 * per + odd
    );
    assert_eq!(core::mem::size_of::<SessionCache<'static, 0, 4>>(), even);
}
