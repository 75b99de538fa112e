//! Cache rules C16–C26, C36, C37, E1, E3, E5. Each test names its rule and asserts exact counts.

mod support;

use encore_cache::{Added, CacheConfig, CacheMode, CacheStats, Presence, SessionCache, ENTRY_SIZE};
use encore_session::{ContextId, Error, Limits, NewSession, SessionId, SessionPool};
use support::{peer, ticket, Recorder, OWNER};

const NO_FLUSH: CacheConfig = CacheConfig {
    mode: CacheMode::NO_AUTO_FLUSH,
    ..CacheConfig::DEFAULT
};

fn stats(hits: u32, misses: u32, timeouts: u32, evictions: u32, full: u32) -> CacheStats {
    CacheStats {
        hits,
        misses,
        timeouts,
        evictions,
        full,
        too_large: 0,
        dropped: 0,
    }
}

/// Cached ids, least recently touched first.
fn ids<const N: usize, const P: usize>(cache: &SessionCache<'_, N, P>) -> Vec<SessionId> {
    let mut out = [None; 16];
    let n = cache.entries(&mut out);
    out[..n].iter().map(|id| id.unwrap()).collect()
}

#[test]
fn c16_adding_a_cached_record_changes_nothing() {
    let pool: SessionPool<4> = SessionPool::new();
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    let s = pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    assert_eq!(cache.add(&s, 0).unwrap(), Added::Stored);
    assert_eq!(s.ref_count().unwrap(), 2);
    assert_eq!(cache.add(&s, 1000).unwrap(), Added::AlreadyPresent);
    assert_eq!(s.ref_count().unwrap(), 2);
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.entry_time(&s), Some((0, 7200)));
    assert_eq!(cache.stats(), CacheStats::default());
}

#[test]
fn c17_same_ticket_bytes_replace_and_release_the_old_record() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let old = pool.create(&ticket(1, &[9; 32], 0, 3600)).unwrap();
    let new = pool.create(&ticket(1, &[9; 32], 10, 3600)).unwrap();
    assert_eq!(cache.add(&old, 0).unwrap(), Added::Stored);
    assert_eq!(cache.add(&new, 10).unwrap(), Added::Replaced);
    assert_eq!(cache.len(), 1);
    assert!(cache.contains(&new) && !cache.contains(&old));
    assert_eq!(old.ref_count().unwrap(), 1); // the cache's reference was released
    assert_eq!(new.ref_count().unwrap(), 2);
    assert!(rec.log.lock().unwrap().is_empty()); // no remove callback for a replacement
    assert!(!old.info().unwrap().not_resumable);
}

#[test]
fn c18_remove_reports_found_or_not_and_always_fires_and_marks() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let s = pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    let t = pool.create(&ticket(1, &[2; 32], 0, 3600)).unwrap();
    cache.add(&s, 0).unwrap();
    assert_eq!(cache.remove(&s), Presence::Found);
    assert_eq!(s.ref_count().unwrap(), 1);
    assert!(s.info().unwrap().not_resumable);
    assert_eq!(cache.remove(&s), Presence::NotFound);
    assert_eq!(cache.remove(&t), Presence::NotFound);
    assert!(t.info().unwrap().not_resumable);
    assert_eq!(rec.removed(), vec![s.id(), s.id(), t.id()]);
    assert_eq!(cache.len(), 0);
}

#[test]
fn c19_full_cache_evicts_counts_and_keeps_the_incoming_record() {
    let pool: SessionPool<8> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 2, 8> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let a = pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    let b = pool.create(&ticket(2, &[2; 32], 0, 3600)).unwrap();
    let c = pool.create(&ticket(3, &[3; 32], 0, 3600)).unwrap();
    assert_eq!(cache.add(&a, 0).unwrap(), Added::Stored);
    assert_eq!(cache.add(&b, 1000).unwrap(), Added::Stored);
    assert_eq!(cache.add(&c, 2000).unwrap(), Added::Stored);
    assert_eq!(cache.len(), 2);
    assert_eq!(ids(&cache), vec![b.id(), c.id()]);
    assert_eq!(cache.stats(), stats(0, 0, 0, 1, 1));
    assert_eq!(rec.removed(), vec![a.id()]);
    assert_eq!(a.ref_count().unwrap(), 1);
    assert!(!a.info().unwrap().not_resumable); // eviction does not spoil the record
                                               // A one-entry cache: the incoming record always stays.
    let one: SessionCache<'_, 1, 8> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    one.add(&a, 0).unwrap();
    one.add(&b, 0).unwrap();
    assert!(one.contains(&b) && !one.contains(&a));
    assert_eq!(one.stats(), stats(0, 0, 0, 1, 1));
}

#[test]
fn c20_eviction_takes_stale_entries_first_then_least_recently_touched() {
    let pool: SessionPool<8> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 3, 8> = SessionCache::with_events(&pool, OWNER, NO_FLUSH, &rec);
    let a = pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    let b = pool.create(&ticket(2, &[2; 32], 0, 3600)).unwrap();
    let c = pool.create(&ticket(3, &[3; 32], 0, 3600)).unwrap();
    let d = pool.create(&ticket(4, &[4; 32], 0, 3600)).unwrap();
    let e = pool.create(&ticket(5, &[5; 32], 0, 3600)).unwrap();
    cache.add(&a, 0).unwrap();
    cache.add(&b, 1000).unwrap();
    cache.add(&c, 2000).unwrap();
    // b times out at 1 + 5 = 6 s; set_timeout also touches it, so a stays the least recent.
    assert_eq!(cache.set_timeout(&b, 5), Presence::Found);
    assert_eq!(ids(&cache), vec![a.id(), c.id(), b.id()]);
    assert_eq!(cache.add(&d, 10_000).unwrap(), Added::Stored);
    assert_eq!(ids(&cache), vec![a.id(), c.id(), d.id()]);
    assert_eq!(cache.stats(), stats(0, 0, 1, 0, 1));
    // No entry is stale now: the least recently touched (a) goes.
    assert_eq!(cache.add(&e, 11_000).unwrap(), Added::Stored);
    assert_eq!(ids(&cache), vec![c.id(), d.id(), e.id()]);
    assert_eq!(cache.stats(), stats(0, 0, 1, 1, 2));
    assert_eq!(rec.removed(), vec![b.id(), a.id()]);
    // A record past its server lifetime is stale too (C29), even with a fresh cache time.
    let short = pool.create(&ticket(6, &[6; 32], 11_000, 2)).unwrap();
    let f = pool.create(&ticket(7, &[7; 32], 0, 3600)).unwrap();
    cache.add(&short, 11_000).unwrap(); // evicts c (least recent)
    cache.add(&f, 13_000).unwrap(); // short is 2 s old: stale, evicted before d
    assert_eq!(ids(&cache), vec![d.id(), e.id(), f.id()]);
    assert_eq!(cache.stats(), stats(0, 0, 2, 2, 4));
}

#[test]
fn c21_flush_removes_exactly_the_stale_entries_and_flush_all_empties() {
    let pool: SessionPool<8> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 8> = SessionCache::with_events(&pool, OWNER, NO_FLUSH, &rec);
    let a = pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    let b = pool.create(&ticket(2, &[2; 32], 0, 3600)).unwrap();
    let c = pool.create(&ticket(3, &[3; 32], 0, 3600)).unwrap();
    cache.add(&a, 0).unwrap();
    cache.add(&b, 0).unwrap();
    cache.add(&c, 0).unwrap();
    cache.set_timeout(&a, 10);
    cache.set_timeout(&c, 20);
    assert_eq!(cache.flush(9_999), 0);
    assert_eq!(cache.flush(10_000), 1);
    assert_eq!(ids(&cache), vec![b.id(), c.id()]);
    assert_eq!(cache.flush(20_000), 1);
    assert_eq!(cache.stats().timeouts, 2);
    assert_eq!(cache.flush_all(), 1);
    assert_eq!(cache.len(), 0);
    assert_eq!(rec.removed(), vec![a.id(), c.id(), b.id()]);
    assert_eq!(cache.stats().timeouts, 2); // flush_all is not a timeout
    assert_eq!(pool.in_use(), 3); // the test's own handles
    drop((a, b, c));
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn c22_changing_time_or_timeout_reorders() {
    let pool: SessionPool<8> = SessionPool::new();
    let cache: SessionCache<'_, 4, 8> = SessionCache::new(&pool, OWNER, NO_FLUSH);
    let a = pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    let b = pool.create(&ticket(2, &[2; 32], 0, 3600)).unwrap();
    let c = pool.create(&ticket(3, &[3; 32], 0, 3600)).unwrap();
    cache.add(&a, 0).unwrap();
    cache.add(&b, 0).unwrap();
    cache.add(&c, 0).unwrap();
    assert_eq!(cache.set_time(&a, 5_500), Presence::Found);
    assert_eq!(ids(&cache), vec![b.id(), c.id(), a.id()]);
    assert_eq!(cache.entry_time(&a), Some((5, 7200)));
    assert_eq!(cache.set_timeout(&b, 60), Presence::Found);
    assert_eq!(ids(&cache), vec![c.id(), a.id(), b.id()]);
    // An older time makes the entry expire earlier, whatever its order.
    assert_eq!(cache.set_time(&c, 0), Presence::Found);
    cache.set_timeout(&c, 1);
    assert_eq!(cache.flush(1_000), 1);
    assert!(!cache.contains(&c));
    let other = pool.create(&ticket(4, &[4; 32], 0, 3600)).unwrap();
    assert_eq!(cache.set_time(&other, 0), Presence::NotFound);
    assert_eq!(cache.set_timeout(&other, 0), Presence::NotFound);
}

#[test]
fn c24_a_record_of_another_context_is_refused() {
    let pool: SessionPool<4> = SessionPool::new();
    let other_pool: SessionPool<4> = SessionPool::new();
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    let foreign = pool
        .create(&NewSession {
            owner: ContextId(2),
            ..ticket(1, &[1; 32], 0, 3600)
        })
        .unwrap();
    assert_eq!(cache.add(&foreign, 0), Err(Error::WrongOwner));
    let elsewhere = other_pool.create(&ticket(1, &[1; 32], 0, 3600)).unwrap();
    assert_eq!(cache.add(&elsewhere, 0), Err(Error::WrongOwner));
    assert_eq!(
        cache
            .new_session(
                &NewSession {
                    owner: ContextId(2),
                    ..ticket(1, &[1; 32], 0, 3600)
                },
                0
            )
            .unwrap_err(),
        Error::WrongOwner
    );
    assert_eq!(cache.len(), 0);
    assert_eq!(foreign.ref_count().unwrap(), 1);
    assert_eq!(pool.in_use(), 1);
}

#[test]
fn c25_dropping_the_cache_flushes_with_callbacks_and_held_references_stay_valid() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let held;
    {
        let cache: SessionCache<'_, 4, 4> =
            SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
        held = cache.new_session(&ticket(1, &[1; 32], 0, 3600), 0).unwrap();
        drop(cache.new_session(&ticket(2, &[2; 32], 0, 3600), 0).unwrap());
        assert_eq!(pool.in_use(), 2);
    }
    assert_eq!(rec.removed().len(), 2);
    assert_eq!(rec.new_count(), 2);
    assert_eq!(pool.in_use(), 1);
    assert_eq!(held.ref_count().unwrap(), 1);
    assert_eq!(held.resumable(1000, &Limits::DEFAULT, &[0x1301]), Ok(()));
}

#[test]
fn c26_no_internal_store_still_fires_new_session() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let config = CacheConfig {
        mode: CacheMode::NO_INTERNAL_STORE,
        ..CacheConfig::DEFAULT
    };
    let cache: SessionCache<'_, 4, 4> = SessionCache::with_events(&pool, OWNER, config, &rec);
    let s = cache.new_session(&ticket(1, &[1; 32], 0, 3600), 0).unwrap();
    assert_eq!(cache.len(), 0);
    assert_eq!(rec.new_count(), 1);
    assert_eq!(s.ref_count().unwrap(), 1);
    // Adding by hand always works.
    assert_eq!(cache.add(&s, 0).unwrap(), Added::Stored);
    assert_eq!(cache.len(), 1);
}

#[test]
fn c26_no_internal_lookup_stops_connect_lookups_only() {
    let pool: SessionPool<4> = SessionPool::new();
    let config = CacheConfig {
        mode: CacheMode::NO_INTERNAL_LOOKUP,
        ..CacheConfig::DEFAULT
    };
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, config);
    drop(cache.new_session(&ticket(1, &[1; 32], 0, 3600), 0).unwrap());
    assert!(cache.take_for_connect(&peer(1), 0, &[0x1301]).is_none());
    assert_eq!(cache.stats(), CacheStats::default());
    assert!(cache.lookup(&peer(1), 0).is_some());
    assert!(cache.take(&peer(1), 0, &[0x1301]).is_some());
    assert_eq!(cache.stats(), stats(2, 0, 0, 0, 0));
    let default: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    drop(
        default
            .new_session(&ticket(1, &[2; 32], 0, 3600), 0)
            .unwrap(),
    );
    assert!(default.take_for_connect(&peer(1), 0, &[0x1301]).is_some());
}

#[test]
fn c26_update_time_on_use_touches_on_lookup() {
    let pool: SessionPool<4> = SessionPool::new();
    let mode = CacheMode::UPDATE_TIME_ON_USE | CacheMode::NO_AUTO_FLUSH;
    let config = CacheConfig {
        mode,
        ..CacheConfig::DEFAULT
    };
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, config);
    let a = cache.new_session(&ticket(1, &[1; 32], 0, 3600), 0).unwrap();
    let b = cache.new_session(&ticket(2, &[2; 32], 0, 3600), 0).unwrap();
    let found = cache.lookup(&peer(1), 3_000).unwrap();
    assert!(found == a);
    assert_eq!(a.ref_count().unwrap(), 3); // test, cache, lookup
    assert_eq!(cache.entry_time(&a), Some((3, 7200)));
    assert_eq!(ids(&cache), vec![b.id(), a.id()]);
    // Without the mode, a lookup neither moves nor re-times the entry.
    let plain: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, NO_FLUSH);
    let c = plain.new_session(&ticket(1, &[3; 32], 0, 3600), 0).unwrap();
    let d = plain.new_session(&ticket(2, &[4; 32], 0, 3600), 0).unwrap();
    drop(plain.lookup(&peer(1), 3_000).unwrap());
    assert_eq!(plain.entry_time(&c), Some((0, 7200)));
    assert_eq!(ids(&plain), vec![c.id(), d.id()]);
}

#[test]
fn c26_auto_flush_on_add_unless_disabled() {
    let pool: SessionPool<8> = SessionPool::new();
    let flushing: SessionCache<'_, 4, 8> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    let keeping: SessionCache<'_, 4, 8> = SessionCache::new(&pool, OWNER, NO_FLUSH);
    for cache in [&flushing, &keeping] {
        let old = cache.new_session(&ticket(1, &[1; 32], 0, 10), 0).unwrap();
        drop(old);
        drop(
            cache
                .new_session(&ticket(2, &[2; 32], 20_000, 3600), 20_000)
                .unwrap(),
        );
    }
    assert_eq!((flushing.len(), flushing.stats().timeouts), (1, 1));
    assert_eq!((keeping.len(), keeping.stats().timeouts), (2, 0));
}

#[test]
fn c26_hits_misses_and_lookup_of_stale_entries() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> = SessionCache::with_events(&pool, OWNER, NO_FLUSH, &rec);
    let a = cache.new_session(&ticket(1, &[1; 32], 0, 10), 0).unwrap();
    assert!(cache.lookup(&peer(2), 0).is_none());
    assert!(cache.lookup(&peer(1), 9_999).is_some());
    assert!(cache.lookup(&peer(1), 10_000).is_none()); // past its 10 s lifetime
    assert_eq!(cache.stats(), stats(1, 2, 1, 0, 0));
    assert_eq!(rec.removed(), vec![a.id()]);
    assert_eq!(cache.len(), 0);
}

#[test]
fn c36_take_moves_out_marks_used_counts_a_hit_without_callback() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let older = cache
        .new_session(&ticket(1, &[1; 32], 0, 3600), 0)
        .unwrap()
        .id();
    let newer = cache
        .new_session(&ticket(1, &[2; 32], 0, 3600), 0)
        .unwrap()
        .id();
    let taken = cache.take(&peer(1), 1_000, &[0x1301]).unwrap();
    assert_eq!(taken.id(), newer); // newest ticket first
    let info = taken.info().unwrap();
    assert!(info.used && !info.not_resumable);
    assert_eq!(taken.ref_count().unwrap(), 1); // the cache's reference moved to the caller
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats(), stats(1, 0, 0, 0, 0));
    assert!(rec.removed().is_empty());
    // A SHA-384 connection cannot use the SHA-256 ticket that is left: a miss, entry kept.
    assert!(cache.take(&peer(1), 1_000, &[0x1302]).is_none());
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.take(&peer(1), 1_000, &[0x1303]).unwrap().id(), older);
    assert!(cache.take(&peer(1), 1_000, &[0x1301]).is_none());
    assert_eq!(cache.stats(), stats(2, 2, 0, 0, 0));
    drop(taken);
    assert_eq!(pool.in_use(), 0);
}

#[test]
fn c37_at_most_k_tickets_per_peer_extra_dropped_and_counted() {
    let pool: SessionPool<8> = SessionPool::new();
    let config = CacheConfig {
        max_per_peer: 2,
        mode: CacheMode::NO_AUTO_FLUSH,
        ..CacheConfig::DEFAULT
    };
    let cache: SessionCache<'_, 8, 8> = SessionCache::new(&pool, OWNER, config);
    let a = cache.new_session(&ticket(1, &[1; 32], 0, 3600), 0).unwrap();
    let b = cache.new_session(&ticket(1, &[2; 32], 0, 3600), 0).unwrap();
    // The third ticket for peer 1 is dropped, yet handed to the connection (C23).
    let c = cache.new_session(&ticket(1, &[3; 32], 0, 3600), 0).unwrap();
    assert!(!cache.contains(&c));
    assert_eq!(c.resumable(0, &Limits::DEFAULT, &[0x1301]), Ok(()));
    assert_eq!(cache.add(&c, 0).unwrap(), Added::Dropped);
    assert_eq!(cache.stats().dropped, 2);
    // Another peer is not limited by peer 1.
    let d = cache.new_session(&ticket(2, &[4; 32], 0, 3600), 0).unwrap();
    assert!(cache.contains(&d));
    // A stale entry of the peer makes room: it is removed first (a timeout), then c fits.
    cache.set_timeout(&a, 1);
    assert_eq!(cache.add(&c, 1_000).unwrap(), Added::Stored);
    assert!(!cache.contains(&a) && cache.contains(&b) && cache.contains(&c));
    assert_eq!(cache.stats().timeouts, 1);
    // Same ticket bytes for a full peer replace rather than drop (C17 before C37).
    let c2 = pool.create(&ticket(1, &[3; 32], 2_000, 3600)).unwrap();
    assert_eq!(cache.add(&c2, 2_000).unwrap(), Added::Replaced);
    assert_eq!(cache.len(), 3);
}

#[test]
fn c37_e1_exhausted_pool_and_too_large_tickets_are_counted() {
    let pool: SessionPool<1, 64> = SessionPool::new();
    let cache: SessionCache<'_, 4, 1, 64> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    assert_eq!(
        cache
            .new_session(&ticket(1, &[1; 65], 0, 3600), 0)
            .unwrap_err(),
        Error::TicketTooLarge {
            len: 65,
            capacity: 64
        }
    );
    let held = cache.new_session(&ticket(1, &[1; 64], 0, 3600), 0).unwrap();
    assert_eq!(
        cache
            .new_session(&ticket(1, &[2; 64], 0, 3600), 0)
            .unwrap_err(),
        Error::PoolExhausted
    );
    let s = cache.stats();
    assert_eq!((s.too_large, s.dropped, cache.len()), (1, 1, 1));
    drop(held);
}

/// E3: threads share a static pool and a static cache; the capacity holds at every step, hit + miss
/// counts equal the number of lookups and takes, and every reference is returned at the end.
#[test]
fn e3_threads_hammer_pool_and_cache() {
    static POOL: SessionPool<12, 64> = SessionPool::new();
    static EVENTS: Recorder = Recorder {
        log: std::sync::Mutex::new(Vec::new()),
    };
    static CACHE: SessionCache<'static, 6, 12, 64> =
        SessionCache::with_events(&POOL, OWNER, CacheConfig::DEFAULT, &EVENTS);
    const ROUNDS: u32 = 1500;
    let mut threads = Vec::new();
    for t in 0..4u8 {
        threads.push(std::thread::spawn(move || {
            let mut searches = 0u32;
            for i in 0..ROUNDS {
                let now = u64::from(i) * 10;
                let tag = [t.wrapping_mul(64).wrapping_add((i % 64) as u8); 64];
                let p = (i % 3) as u8;
                match CACHE.new_session(&ticket(p, &tag, now, 3600), now) {
                    Ok(s) => {
                        if i % 5 == 0 {
                            CACHE.remove(&s);
                        }
                    }
                    Err(Error::PoolExhausted) => {}
                    Err(e) => panic!("{e:?}"),
                }
                if let Some(s) = CACHE.take(&peer(p), now, &[0x1301]) {
                    assert!(s.info().unwrap().used);
                }
                drop(CACHE.lookup(&peer((p + 1) % 3), now));
                searches += 2;
                assert!(CACHE.len() <= 6);
                if i % 100 == 0 {
                    CACHE.flush(now);
                }
            }
            searches
        }));
    }
    let searches: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    let s = CACHE.stats();
    assert_eq!(s.hits + s.misses, searches);
    let cached = CACHE.len();
    assert_eq!(POOL.in_use(), cached);
    assert_eq!(CACHE.flush_all(), cached);
    assert_eq!(POOL.in_use(), 0);
}

/// E5: one entry is 16 bytes; a pool slot with a 256-byte ticket plus its entry is 384 bytes.
#[test]
fn e5_entry_size() {
    assert_eq!(ENTRY_SIZE, 16);
    assert_eq!(encore_session::slot_size::<256>() + ENTRY_SIZE, 384);
    assert_eq!(
        core::mem::size_of::<SessionCache<'static, 16, 16>>(),
        16 * 16
            + if cfg!(target_pointer_width = "64") {
                104
            } else {
                68
            }
    );
}
