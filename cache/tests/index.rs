//! The cache's index (touch-order list, peer and ticket hash chains, expiry bound) under churn,
//! with times in order and out of order, and the eviction rule it serves: C19, C20 (times, not
//! flags, decide what is expired), C37.

mod support;

use encore_cache::{Added, CacheConfig, CacheMode, CacheStats, SessionCache};
use std::collections::HashMap;

use encore_session::{Limits, NewSession, PeerId, Session, SessionPool};
use support::{ids, peer, received, ticket, ticket_for, Lcg, Recorder, NO_FLUSH, OWNER};

/// C20 (decided): eviction looks at times only. An entry whose record a connection has claimed is
/// not expired, so the least recently touched entry goes before it; it is removed as stale when its
/// peer is looked up. A victim that is stale only by its flags counts as a timeout.
#[test]
fn c20_eviction_reads_times_not_flags() {
    let pool: SessionPool<8> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 3, 8> = SessionCache::with_events(&pool, OWNER, NO_FLUSH, &rec);
    let limits = CacheConfig::DEFAULT.limits;
    let a = received(&cache, 1, 0, 3600);
    let b = received(&cache, 2, 0, 3600);
    let c = received(&cache, 3, 0, 3600);
    // A connection that holds b offers it (C28): b can never be offered again.
    b.claim(1_000, &limits, &[0x1301]).unwrap();
    let d = received(&cache, 4, 2_000, 3600);
    assert_eq!(ids(&cache), vec![b.id(), c.id(), d.id()]);
    assert_eq!(cache.stats().evictions, 1);
    // b is never returned; the lookup removes it as stale (C7).
    assert!(cache.lookup(&peer(2), 3_000).is_none());
    assert_eq!(ids(&cache), vec![c.id(), d.id()]);
    // The least recently touched entry, spoiled by its flags only: evicted, counted as a timeout.
    c.claim(3_000, &limits, &[0x1301]).unwrap();
    let e = received(&cache, 5, 4_000, 3600);
    let f = received(&cache, 6, 4_000, 3600);
    assert_eq!(ids(&cache), vec![d.id(), e.id(), f.id()]);
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 0,
            misses: 1,
            timeouts: 2,
            evictions: 1,
            full: 2,
            too_large: 0,
            dropped: 0,
        }
    );
    let removed: Vec<_> = rec.removed();
    assert_eq!(removed, vec![a.id(), b.id(), c.id()]);
    cache.check_index(4_000).unwrap();
}

/// C20: the expiry bound (whole seconds) lets a full cache skip the walk while nothing can be
/// expired; when the walk finds nothing, the least recently touched entry goes; an entry expired to
/// the millisecond (by its record's lifetime, by a shorter timeout set later, or by a clock behind
/// its receipt) goes before it.
#[test]
fn c20_expiry_bound_follows_lifetimes_timeouts_and_the_clock() {
    let pool: SessionPool<12> = SessionPool::new();
    let cache: SessionCache<'_, 4, 12> = SessionCache::new(&pool, OWNER, NO_FLUSH);
    let x1 = received(&cache, 1, 500, 3600);
    let x2 = received(&cache, 2, 500, 3600);
    // b's server lifetime runs out at 30.5 s.
    let b = received(&cache, 3, 500, 30);
    let y = received(&cache, 4, 500, 3600);
    // 30.2 s: b may be expired by its bound, but is not: x1, the least recently touched, goes.
    let z1 = received(&cache, 5, 30_200, 3600);
    assert!(!cache.contains(&x1) && cache.contains(&b));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (0, 1));
    cache.check_index(30_200).unwrap();
    // 30.5 s: b is expired, and goes before x2.
    let z2 = received(&cache, 6, 30_500, 3600);
    assert!(!cache.contains(&b) && cache.contains(&x2));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (1, 1));
    // A shorter timeout set later: z1 (time 30 s) expires at 35 s and goes before x2.
    assert_eq!(cache.set_timeout(&z1, 5), encore_cache::Presence::Found);
    let w = received(&cache, 7, 40_000, 3600);
    assert!(!cache.contains(&z1) && cache.contains(&x2));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (2, 1));
    // A clock behind z2's receipt (30.5 s): z2 counts as expired, and goes before x2 and y.
    cache.check_index(20_000).unwrap();
    let v = received(&cache, 8, 20_000, 3600);
    assert!(!cache.contains(&z2) && cache.contains(&x2) && cache.contains(&y));
    assert!(cache.contains(&w) && cache.contains(&v));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (3, 1));
    assert_eq!(cache.stats().full, 4);
    cache.check_index(20_000).unwrap();
}

/// A cache configuration for the churn tests.
fn churn_config(
    mode: CacheMode,
    timeout_s: u32,
    max_auth_age_s: u32,
    per_peer: usize,
) -> CacheConfig {
    CacheConfig {
        limits: Limits {
            timeout_s,
            max_auth_age_s,
        },
        max_per_peer: per_peer,
        mode,
    }
}

/// `n` peers, which share hash buckets when `n` is larger than the cache.
fn peers(n: usize) -> Vec<PeerId> {
    (0..n as u8).map(peer).collect()
}

fn run_churn<const N: usize, const P: usize>(mode: CacheMode, seed: u64) {
    let pool: SessionPool<P, 64> = SessionPool::new();
    let config = churn_config(mode, 40, 3600, 3);
    let cache: SessionCache<'_, N, P, 64> = SessionCache::new(&pool, OWNER, config);
    let peers = peers(N * 3 / 2 + 3);
    let mut rng = Lcg(seed);
    let mut now: u64 = 0;
    let mut held = Vec::new();
    let mut next_ticket: u32 = 0;
    for _ in 0..4000 {
        let p = peers[rng.next(peers.len() as u64) as usize];
        match rng.next(12) {
            0..=4 => {
                // Sometimes the same ticket bytes again (C17).
                let t = if rng.next(8) == 0 {
                    next_ticket.saturating_sub(rng.next(4) as u32)
                } else {
                    next_ticket += 1;
                    next_ticket
                };
                let mut bytes = [0u8; 48];
                bytes[..4].copy_from_slice(&t.to_be_bytes());
                let lifetime_s = [5, 60, 3600][rng.next(3) as usize];
                if let Ok(s) = cache.new_session(&ticket_for(p, &bytes, now, lifetime_s), now) {
                    if rng.next(4) == 0 {
                        held.push(s);
                    }
                }
            }
            5 => {
                if let Some(s) = cache.take(&p, now, &[0x1301]).map(|(s, _)| s) {
                    held.push(s);
                }
            }
            6 => {
                if let Some(s) = cache.lookup(&p, now) {
                    held.push(s);
                }
            }
            7 if !held.is_empty() => {
                let i = rng.next(held.len() as u64) as usize;
                match rng.next(4) {
                    0 => drop(cache.remove(&held[i])),
                    1 => drop(cache.set_time(&held[i], now.saturating_sub(rng.next(30_000)))),
                    2 => drop(cache.set_timeout(&held[i], rng.next(50) as u32)),
                    _ => drop(held.swap_remove(i)),
                }
            }
            8 => {
                if let Some(s) = held.first() {
                    let _ = cache.add(s, now);
                }
            }
            9 => {
                if rng.next(20) == 0 {
                    cache.flush(now);
                } else if rng.next(50) == 0 {
                    cache.flush_all();
                }
            }
            _ => now += rng.next(3_000),
        }
        if held.len() > P / 3 {
            held.drain(..held.len() / 2);
        }
        assert!(cache.len() <= N);
        if let Err(e) = cache.check_index(now) {
            panic!("index broken ({e}) at {now} ms, seed {seed}");
        }
    }
    drop(held);
    drop(cache);
    assert_eq!(pool.in_use(), 0);
}

/// Every entry is in the touch-order list and in its peer's and ticket's chains, exactly once; the
/// free slots are the others; the expiry bound holds; nothing leaks. Many peers share buckets.
#[test]
fn index_stays_consistent_under_churn() {
    for seed in 0..6 {
        run_churn::<16, 40>(CacheMode::DEFAULT, seed);
        run_churn::<16, 40>(
            CacheMode::NO_AUTO_FLUSH | CacheMode::UPDATE_TIME_ON_USE,
            seed,
        );
        run_churn::<5, 12>(CacheMode::DEFAULT, seed);
    }
    run_churn::<64, 120>(CacheMode::DEFAULT, 99);
}

/// The index and the expiry bound stay right when callers' times are not in order (tasks that read
/// the clock at different moments, `set_time` in the future, a clock that steps back).
fn run_unordered_clock<const N: usize>(mode: CacheMode, seed: u64) {
    let pool: SessionPool<40, 64> = SessionPool::new();
    let config = churn_config(mode, 400, 2000, 2);
    let cache: SessionCache<'_, N, 40, 64> = SessionCache::new(&pool, OWNER, config);
    let peers = peers(N + 4);
    let mut rng = Lcg(seed);
    let mut clock: u64 = 100_000;
    let mut held = Vec::new();
    for step in 0..3000u32 {
        // Each operation's time: the clock, or up to 20 s before or after it.
        let now = (clock + rng.next(10_000)).saturating_sub(5_000);
        let p = peers[rng.next(peers.len() as u64) as usize];
        match rng.next(10) {
            0..=3 => {
                let bytes = step.to_be_bytes();
                let lifetime_s = [3, 300, 3000][rng.next(3) as usize];
                let received_ms = now.saturating_sub(5_000 + rng.next(5_000));
                let new = NewSession {
                    auth_age_ms: rng.next(2) * 1_500_000,
                    ..ticket_for(p, &bytes, received_ms, lifetime_s)
                };
                if let Ok(s) = cache.new_session(&new, now) {
                    held.push(s);
                }
            }
            4 | 8 => drop(cache.lookup(&p, now)),
            5 => drop(cache.take(&p, now, &[0x1301])),
            6 if !held.is_empty() => {
                let i = rng.next(held.len() as u64) as usize;
                match rng.next(3) {
                    0 => drop(cache.set_time(&held[i], now + rng.next(600_000))),
                    1 => drop(cache.set_timeout(&held[i], rng.next(600) as u32)),
                    _ => drop(cache.add(&held[i], now)),
                }
            }
            7 => {
                if rng.next(10) == 0 {
                    cache.flush(now);
                }
            }
            _ => clock += rng.next(4_000),
        }
        if held.len() > 12 {
            held.drain(..6);
        }
        for t in [now, clock, clock + 300_000] {
            if let Err(e) = cache.check_index(t) {
                panic!("index broken ({e}) at step {step}, {t} ms, seed {seed}");
            }
        }
    }
    drop(held);
    drop(cache);
    assert_eq!(pool.in_use(), 0);
}

/// As above, with operations whose times are out of order.
#[test]
fn index_and_expiry_bound_under_an_unordered_clock() {
    for seed in 0..4 {
        run_unordered_clock::<8>(CacheMode::DEFAULT, seed);
        run_unordered_clock::<8>(CacheMode::UPDATE_TIME_ON_USE, seed);
        run_unordered_clock::<5>(
            CacheMode::UPDATE_TIME_ON_USE | CacheMode::NO_AUTO_FLUSH,
            seed,
        );
    }
}

type Cache64<'a> = SessionCache<'a, 64, 80>;

/// Ticket `i` of 200 (32 bytes from `i`), received at `i` ms by peer `i % peers`, into a cache of
/// 64 entries; `check` sees each. Then the index is checked and nothing may leak. Returns the
/// cache's counters, its length and how many entries each peer has.
fn two_hundred_tickets(
    peers: u32,
    mut check: impl FnMut(&Cache64<'_>, u32, &Session<'_, 80>),
) -> (CacheStats, usize, HashMap<PeerId, usize>) {
    let pool: SessionPool<80> = SessionPool::new();
    let cache: Cache64<'_> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    for i in 0..200u32 {
        let bytes = i.to_be_bytes().repeat(8);
        let at = u64::from(i);
        let s = cache
            .new_session(&ticket((i % peers) as u8, &bytes, at, 3600), at)
            .unwrap();
        check(&cache, i, &s);
    }
    let mut per_peer = HashMap::new();
    for id in ids(&cache) {
        let p = pool.with_record(id, |r| r.peer()).unwrap();
        *per_peer.entry(p).or_insert(0) += 1;
    }
    cache.check_index(300).unwrap();
    let out = (cache.stats(), cache.len(), per_peer);
    drop(cache);
    assert_eq!(pool.in_use(), 0);
    out
}

/// C19, C37 at a capacity where the peer chains are long: many tickets of few peers.
#[test]
fn c19_c37_full_cache_of_few_peers() {
    let (stats, len, per_peer) = two_hundred_tickets(20, |cache, i, s| {
        assert_eq!(
            cache.add(s, u64::from(i)).unwrap() == Added::AlreadyPresent,
            cache.contains(s)
        );
        assert!(cache.len() <= 64);
    });
    assert_eq!(len, 64);
    // Every record was cached or dropped (C37); every cached one is still there or was evicted.
    assert_eq!(200 - stats.dropped - stats.evictions, 64);
    assert_eq!((stats.full, stats.timeouts), (stats.evictions, 0));
    // At most 4 per peer (C37).
    assert!(per_peer.values().all(|&c| c <= 4));
}

/// C37 with a workload that reaches the cap: 20 tickets for each of 10 peers into a cache of
/// 64. Each peer keeps exactly its first 4 live tickets; the other 16 are dropped and counted,
/// and no other peer's entry is evicted to make room.
#[test]
fn c37_per_peer_cap_is_reached_and_enforced() {
    let (stats, len, per_peer) = two_hundred_tickets(10, |cache, i, s| {
        // A ticket is cached exactly when its peer has fewer than 4 (i < 40).
        assert_eq!(cache.contains(s), i < 40, "ticket {i}");
    });
    assert_eq!(len, 40);
    assert_eq!((stats.dropped, stats.evictions, stats.full), (160, 0, 0));
    assert_eq!(per_peer.len(), 10);
    assert!(per_peer.values().all(|&c| c == 4), "{per_peer:?}");
}
