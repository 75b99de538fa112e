//! Cache rules C16–C26, C36, C37, E1, E3, E5. Each test names its rule and asserts exact counts.

mod support;

use encore_cache::{
    Added, CacheConfig, CacheMode, CacheStats, Presence, SessionCache, ENTRY_SIZE, INDEX_SIZE,
};
use encore_session::{ContextId, Error, Limits, NewSession, SessionPool, Unresumable};
use support::{
    ids, peer, received, record, records, ticket, ticket_for, with_mode, Recorder, NO_FLUSH, OWNER,
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

#[test]
fn c16_adding_a_cached_record_changes_nothing() {
    let pool: SessionPool<4> = SessionPool::new();
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    let s = record(&pool, 1);
    assert_eq!(cache.add(&s, 0).unwrap(), Added::Stored);
    assert_eq!(s.ref_count().unwrap(), 2);
    assert_eq!(cache.add(&s, 1000).unwrap(), Added::AlreadyPresent);
    assert_eq!(s.ref_count().unwrap(), 2);
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.entry_time(&s), Some((0, 604_800)));
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
    let s = record(&pool, 1);
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
    let [a, b, c] = records(&pool);
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
    let [a, b, c, d, e] = records(&pool);
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
    let [a, b, c] = records(&pool);
    for s in [&a, &b, &c] {
        cache.add(s, 0).unwrap();
    }
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
    let [a, b, c] = records(&pool);
    for s in [&a, &b, &c] {
        cache.add(s, 0).unwrap();
    }
    assert_eq!(cache.set_time(&a, 5_500), Presence::Found);
    assert_eq!(ids(&cache), vec![b.id(), c.id(), a.id()]);
    assert_eq!(cache.entry_time(&a), Some((5, 604_800)));
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
        held = received(&cache, 1, 0, 3600);
        drop(received(&cache, 2, 0, 3600));
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
    let config = with_mode(CacheMode::NO_INTERNAL_STORE);
    let cache: SessionCache<'_, 4, 4> = SessionCache::with_events(&pool, OWNER, config, &rec);
    let s = received(&cache, 1, 0, 3600);
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
    let config = with_mode(CacheMode::NO_INTERNAL_LOOKUP);
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, config);
    drop(received(&cache, 1, 0, 3600));
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
    let config = with_mode(mode);
    let cache: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, config);
    let a = received(&cache, 1, 0, 3600);
    let b = received(&cache, 2, 0, 3600);
    let found = cache.lookup(&peer(1), 3_000).unwrap();
    assert!(found == a);
    assert_eq!(a.ref_count().unwrap(), 3); // test, cache, lookup
    assert_eq!(cache.entry_time(&a), Some((3, 604_800)));
    assert_eq!(ids(&cache), vec![b.id(), a.id()]);
    // Without the mode, a lookup neither moves nor re-times the entry.
    let plain: SessionCache<'_, 4, 4> = SessionCache::new(&pool, OWNER, NO_FLUSH);
    let c = plain.new_session(&ticket(1, &[3; 32], 0, 3600), 0).unwrap();
    let d = plain.new_session(&ticket(2, &[4; 32], 0, 3600), 0).unwrap();
    drop(plain.lookup(&peer(1), 3_000).unwrap());
    assert_eq!(plain.entry_time(&c), Some((0, 604_800)));
    assert_eq!(ids(&plain), vec![c.id(), d.id()]);
}

/// C26, C20: while the cache has room, an add leaves expired entries alone (they are never returned,
/// see `c26_hits_misses_and_lookup_of_stale_entries`). An add that finds the cache full removes every
/// expired entry first, unless `NO_AUTO_FLUSH`, in which case only the victim (an expired entry
/// first) goes.
#[test]
fn c26_auto_flush_on_add_unless_disabled() {
    let pool: SessionPool<16> = SessionPool::new();
    let rec = Recorder::default();
    let flushing: SessionCache<'_, 3, 16> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let keeping: SessionCache<'_, 3, 16> = SessionCache::new(&pool, OWNER, NO_FLUSH);
    let mut first = Vec::new();
    for cache in [&flushing, &keeping] {
        let a = received(cache, 1, 0, 10);
        let b = received(cache, 2, 0, 10);
        first.push((a.id(), b.id()));
        // Both expired at 10 s; the cache has room, so they stay.
        drop(received(cache, 3, 20_000, 3600));
        assert_eq!((cache.len(), cache.stats()), (3, CacheStats::default()));
        // Full now.
        drop(received(cache, 4, 21_000, 3600));
    }
    // Every expired entry went, without an eviction; the cache was not full any more.
    assert_eq!(flushing.len(), 2);
    assert_eq!(flushing.stats(), stats(0, 0, 2, 0, 0));
    assert_eq!(rec.removed(), vec![first[0].0, first[0].1]);
    // Only the least recently touched expired entry went, as the victim.
    assert_eq!(keeping.len(), 3);
    assert_eq!(keeping.stats(), stats(0, 0, 1, 0, 1));
    assert!(ids(&keeping).contains(&first[1].1) && !ids(&keeping).contains(&first[1].0));
}

#[test]
fn c26_hits_misses_and_lookup_of_stale_entries() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> = SessionCache::with_events(&pool, OWNER, NO_FLUSH, &rec);
    let a = received(&cache, 1, 0, 10);
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
    let older = received(&cache, 1, 0, 3600).id();
    let newer = cache
        .new_session(&ticket(1, &[2; 32], 0, 3600), 0)
        .unwrap()
        .id();
    let (taken, offer) = cache.take(&peer(1), 1_000, &[0x1301]).unwrap();
    assert_eq!(taken.id(), newer); // newest ticket first
                                   // The claim's reading comes with it: the record's suite and its age 1 s after receipt.
    assert_eq!((offer.cipher_suite, offer.ticket_age_ms), (0x1301, 1_000));
    let info = taken.info().unwrap();
    assert!(info.used && !info.not_resumable);
    assert_eq!(taken.ref_count().unwrap(), 1); // the cache's reference moved to the caller
    assert_eq!(cache.len(), 1);
    assert_eq!(cache.stats(), stats(1, 0, 0, 0, 0));
    assert!(rec.removed().is_empty());
    // A SHA-384 connection cannot use the SHA-256 ticket that is left: a miss, entry kept.
    assert!(cache.take(&peer(1), 1_000, &[0x1302]).is_none());
    assert_eq!(cache.len(), 1);
    assert_eq!(
        cache.take(&peer(1), 1_000, &[0x1303]).unwrap().0.id(),
        older
    );
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
    let a = received(&cache, 1, 0, 3600);
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
                if let Some(s) = CACHE.take(&peer(p), now, &[0x1301]).map(|(s, _)| s) {
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

/// E5: one entry is 16 bytes and its share of the index 12 (links in the touch-order list and the
/// two hash chains, a bucket head in each hash table); a pool slot with a 256-byte ticket plus its
/// entry and index is 396 bytes; a cache of `N` entries is `28·N` bytes plus a fixed part.
#[test]
fn e5_entry_size() {
    assert_eq!(ENTRY_SIZE, 16);
    assert_eq!(INDEX_SIZE, 12);
    assert_eq!(
        encore_session::slot_size::<256>() + ENTRY_SIZE + INDEX_SIZE,
        396
    );
    let fixed = if cfg!(target_pointer_width = "64") {
        112
    } else {
        84
    };
    assert_eq!(
        core::mem::size_of::<SessionCache<'static, 16, 16>>(),
        16 * (ENTRY_SIZE + INDEX_SIZE) + fixed
    );
    assert_eq!(
        core::mem::size_of::<SessionCache<'static, 256, 16>>(),
        256 * (ENTRY_SIZE + INDEX_SIZE) + fixed
    );
}

/// C28, C36 (RFC 8446 Appendix C.4): a record that is both cached and set on a connection is offered
/// by whichever claims it first. Once the connection has claimed it, the cache's take does not return
/// it (the entry is removed as stale, with its callback); once the cache has taken it, the
/// connection's claim is refused.
#[test]
fn c28_c36_take_never_returns_a_record_another_holder_claimed() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let limits = cache.config().limits;
    let on_connection = received(&cache, 1, 0, 3600);
    assert_eq!(on_connection.ref_count().unwrap(), 2);
    let offer = on_connection.claim(2_000, &limits, &[0x1301]).unwrap();
    assert_eq!((offer.ticket_age_ms, offer.obfuscated_age), (2_000, 2_007));
    assert!(cache.take(&peer(1), 2_000, &[0x1301]).is_none());
    assert_eq!(cache.stats(), stats(0, 1, 1, 0, 0));
    assert_eq!(rec.removed(), vec![on_connection.id()]);
    assert_eq!(on_connection.ref_count().unwrap(), 1);
    // The other order: the cache takes it first, and the connection's claim is refused.
    let second = cache.new_session(&ticket(1, &[2; 32], 0, 3600), 0).unwrap();
    let (taken, _) = cache.take(&peer(1), 3_000, &[0x1301]).unwrap();
    assert!(taken == second);
    assert_eq!(
        second.claim(3_000, &limits, &[0x1301]),
        Err(Unresumable::Used)
    );
    assert_eq!(cache.stats(), stats(1, 1, 1, 0, 0));
    assert_eq!(second.ref_count().unwrap(), 2);
}

/// C28 with E3: a connection thread claims a record (to offer it) while the cache takes the same
/// record for another connection; the claim lands at every point of the take. In every round exactly
/// one of them gets to offer it.
#[test]
fn c28_e3_claim_and_take_race_exactly_one_offers() {
    use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
    static POOL: SessionPool<4, 32> = SessionPool::new();
    static CACHE: SessionCache<'static, 4, 4, 32> =
        SessionCache::new(&POOL, OWNER, CacheConfig::DEFAULT);
    // Raw id of the record to claim (0: none yet), and the claim's outcome (0: pending, 1: won,
    // 2: lost).
    static TO_CLAIM: AtomicU64 = AtomicU64::new(0);
    static OUTCOME: AtomicU8 = AtomicU8::new(0);
    const ROUNDS: u64 = 4000;
    let connection = std::thread::spawn(|| {
        for round in 0..ROUNDS {
            let bits = loop {
                let bits = TO_CLAIM.swap(0, Ordering::AcqRel);
                if bits != 0 {
                    break bits;
                }
                std::hint::spin_loop();
            };
            let s = POOL
                .from_raw(encore_session::RawSession::from_bits(bits).unwrap())
                .unwrap();
            let won = s.claim(round, &Limits::DEFAULT, &[0x1301]).is_ok();
            OUTCOME.store(if won { 1 } else { 2 }, Ordering::Release);
        }
    });
    let mut both = 0;
    for round in 0..ROUNDS {
        let tag = [(round % 251) as u8; 32];
        let s = CACHE
            .new_session(&ticket(1, &tag, round, 3600), round)
            .unwrap();
        TO_CLAIM.store(s.into_raw().into_bits(), Ordering::Release);
        for _ in 0..(round % 97) * 4 {
            std::hint::spin_loop();
        }
        let taken = CACHE.take(&peer(1), round, &[0x1301]);
        let claimed = loop {
            match OUTCOME.swap(0, Ordering::AcqRel) {
                0 => std::hint::spin_loop(),
                o => break o == 1,
            }
        };
        if claimed == taken.is_some() {
            both += 1;
        }
        drop(taken);
        CACHE.flush_all();
    }
    connection.join().unwrap();
    assert_eq!(both, 0);
    assert_eq!(POOL.in_use(), 0);
    let s = CACHE.stats();
    assert_eq!(s.hits + s.misses, ROUNDS as u32);
}

/// C19, C20: a record that cannot be offered (used, not resumable, expired) is not stored, so it
/// never pushes a usable ticket out of a full cache; it is counted as dropped. C16 still comes first.
#[test]
fn c19_c20_an_unofferable_record_is_dropped_and_evicts_nothing() {
    let pool: SessionPool<8> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 2, 8> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let [a, b] = records(&pool);
    assert_eq!(cache.add(&a, 0).unwrap(), Added::Stored);
    assert_eq!(cache.add(&b, 0).unwrap(), Added::Stored);
    let used = pool.create(&ticket(3, &[3; 32], 0, 3600)).unwrap();
    used.claim(0, &Limits::DEFAULT, &[0x1301]).unwrap();
    let spoiled = pool.create(&ticket(4, &[4; 32], 0, 3600)).unwrap();
    spoiled.mark_not_resumable().unwrap();
    let expired = pool.create(&ticket(5, &[5; 32], 0, 1)).unwrap();
    assert_eq!(cache.add(&used, 1_000).unwrap(), Added::Dropped);
    assert_eq!(cache.add(&spoiled, 1_000).unwrap(), Added::Dropped);
    assert_eq!(cache.add(&expired, 1_000).unwrap(), Added::Dropped);
    assert_eq!(ids(&cache), vec![a.id(), b.id()]);
    let mut want = stats(0, 0, 0, 0, 0);
    want.dropped = 3;
    assert_eq!(cache.stats(), want);
    assert!(rec.removed().is_empty());
    for s in [&used, &spoiled, &expired] {
        assert_eq!(s.ref_count().unwrap(), 1);
    }
    // A ticket with lifetime 0 from the server is handed to the connection but not cached.
    let zero = received(&cache, 6, 0, 0);
    assert_eq!((zero.ref_count().unwrap(), cache.stats().dropped), (1, 4));
    // Already cached, then claimed by its connection: still "already present" (C16).
    a.claim(1_000, &Limits::DEFAULT, &[0x1301]).unwrap();
    assert_eq!(cache.add(&a, 1_000).unwrap(), Added::AlreadyPresent);
}

/// E2, C21, C36: the cache works from inside a read of the pool. Adding, taking and flushing there
/// move references exactly: nothing is counted without a record, nothing is leaked.
#[test]
fn e2_cache_operations_inside_a_pool_read_keep_counts_exact() {
    let pool: SessionPool<4> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 4, 4> =
        SessionCache::with_events(&pool, OWNER, CacheConfig::DEFAULT, &rec);
    let [a, b] = records(&pool);
    assert_eq!(a.with(|_| cache.add(&a, 0)).unwrap(), Ok(Added::Stored));
    assert_eq!(a.with(|_| cache.add(&b, 0)).unwrap(), Ok(Added::Stored));
    assert_eq!((a.ref_count(), b.ref_count()), (Ok(2), Ok(2)));
    // Take inside a read: a hit only with the record in hand.
    let taken = b
        .with(|_| cache.take(&peer(1), 1_000, &[0x1301]).map(|(s, _)| s))
        .unwrap();
    assert!(taken.as_ref() == Some(&a));
    assert_eq!(cache.stats(), stats(1, 0, 0, 0, 0));
    assert_eq!(a.ref_count(), Ok(2));
    drop(taken);
    // Flush inside a read: b's entry times out; the callback fires and its reference is released.
    cache.set_timeout(&b, 1);
    assert_eq!(b.with(|_| cache.flush(2_000)).unwrap(), 1);
    assert_eq!(rec.removed(), vec![b.id()]);
    assert_eq!((a.ref_count(), b.ref_count()), (Ok(1), Ok(1)));
    assert!(cache.is_empty());
    drop((a, b));
    assert_eq!(pool.in_use(), 0);
}

/// C33, C37, C17: entries are matched through a one-byte peer tag and a one-byte ticket tag, and
/// records whose tags collide are still told apart by their full peer id and ticket bytes.
#[test]
fn c33_c17_colliding_tags_are_told_apart() {
    use encore_session::PeerId;
    let pool: SessionPool<8> = SessionPool::new();
    let cache: SessionCache<'_, 8, 8> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    // Same first byte (the peer tag), different peers.
    let (a, b) = (
        PeerId([0xAB; 16]),
        PeerId([0xAB, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
    );
    // Same length, first and last 8 bytes (so the same ticket tag), different tickets.
    let mut t1 = [0x33u8; 40];
    let mut t2 = [0x33u8; 40];
    t1[20] = 1;
    t2[20] = 2;
    let make = |peer: PeerId, t: &[u8], at_ms: u64| {
        pool.create(&ticket_for(peer, t, at_ms, 3600)).unwrap()
    };
    let sa = make(a, &t1, 0);
    let sb = make(b, &t2, 1000);
    assert_eq!(cache.add(&sa, 0).unwrap(), Added::Stored);
    // Colliding ticket tag, different bytes: stored beside, not replaced (C17).
    assert_eq!(cache.add(&sb, 1000).unwrap(), Added::Stored);
    assert_eq!(ids(&cache), vec![sa.id(), sb.id()]);
    // Each peer finds its own record although the newest entry has the same peer tag (C33).
    assert_eq!(cache.lookup(&a, 2000).unwrap().id(), sa.id());
    assert_eq!(cache.lookup(&b, 2000).unwrap().id(), sb.id());
    let mut other = [0xAB; 16];
    other[15] = 0;
    assert_eq!(cache.lookup(&PeerId(other), 2000).map(|s| s.id()), None);
    // The same bytes under another peer's id do replace (C17 compares ticket bytes only).
    let sc = make(a, &t2, 3000);
    assert_eq!(cache.add(&sc, 3000).unwrap(), Added::Replaced);
    assert_eq!(ids(&cache), vec![sa.id(), sc.id()]);
    assert_eq!(cache.take(&a, 4000, &[0x1301]).unwrap().0.id(), sc.id());
    assert_eq!(cache.take(&a, 4000, &[0x1301]).unwrap().0.id(), sa.id());
    assert_eq!(cache.take(&b, 4000, &[0x1301]).map(|(s, _)| s.id()), None);
    assert_eq!(cache.stats(), stats(4, 2, 0, 0, 0));
    assert_eq!(cache.len(), 0);
}
