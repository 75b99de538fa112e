//! The cache's index (touch-order list, peer and ticket hash chains, expiry bound) under churn,
//! with times in order and out of order, and the eviction rule it serves: C19, C20 (times, not
//! flags, decide what is expired), C37.

mod support;

use encore_cache::{Added, CacheConfig, CacheMode, CacheStats, SessionCache};
use encore_session::{Limits, NewSession, PeerId, SessionPool, TLS13};
use support::{peer, ticket, Lcg, Recorder, OWNER};

const NO_FLUSH: CacheConfig = CacheConfig {
    mode: CacheMode::NO_AUTO_FLUSH,
    ..CacheConfig::DEFAULT
};

/// C20 (decided): eviction looks at times only. An entry whose record a connection has claimed is
/// not expired, so the least recently touched entry goes before it; it is removed as stale when its
/// peer is looked up. A victim that is stale only by its flags counts as a timeout.
#[test]
fn c20_eviction_reads_times_not_flags() {
    let pool: SessionPool<8> = SessionPool::new();
    let rec = Recorder::default();
    let cache: SessionCache<'_, 3, 8> = SessionCache::with_events(&pool, OWNER, NO_FLUSH, &rec);
    let limits = CacheConfig::DEFAULT.limits;
    let a = cache.new_session(&ticket(1, &[1; 32], 0, 3600), 0).unwrap();
    let b = cache.new_session(&ticket(2, &[2; 32], 0, 3600), 0).unwrap();
    let c = cache.new_session(&ticket(3, &[3; 32], 0, 3600), 0).unwrap();
    // A connection that holds b offers it (C28): b can never be offered again.
    b.claim(1_000, &limits, &[0x1301]).unwrap();
    let d = cache
        .new_session(&ticket(4, &[4; 32], 2_000, 3600), 2_000)
        .unwrap();
    let ids = |cache: &SessionCache<'_, 3, 8>| {
        let mut out = [None; 3];
        let n = cache.entries(&mut out);
        out[..n].iter().map(|id| id.unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(ids(&cache), vec![b.id(), c.id(), d.id()]);
    assert_eq!(cache.stats().evictions, 1);
    // b is never returned; the lookup removes it as stale (C7).
    assert!(cache.lookup(&peer(2), 3_000).is_none());
    assert_eq!(ids(&cache), vec![c.id(), d.id()]);
    // The least recently touched entry, spoiled by its flags only: evicted, counted as a timeout.
    c.claim(3_000, &limits, &[0x1301]).unwrap();
    let e = cache
        .new_session(&ticket(5, &[5; 32], 4_000, 3600), 4_000)
        .unwrap();
    let f = cache
        .new_session(&ticket(6, &[6; 32], 4_000, 3600), 4_000)
        .unwrap();
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
    let x1 = cache
        .new_session(&ticket(1, &[1; 32], 500, 3600), 500)
        .unwrap();
    let x2 = cache
        .new_session(&ticket(2, &[2; 32], 500, 3600), 500)
        .unwrap();
    // b's server lifetime runs out at 30.5 s.
    let b = cache
        .new_session(&ticket(3, &[3; 32], 500, 30), 500)
        .unwrap();
    let y = cache
        .new_session(&ticket(4, &[4; 32], 500, 3600), 500)
        .unwrap();
    // 30.2 s: b may be expired by its bound, but is not: x1, the least recently touched, goes.
    let z1 = cache
        .new_session(&ticket(5, &[5; 32], 30_200, 3600), 30_200)
        .unwrap();
    assert!(!cache.contains(&x1) && cache.contains(&b));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (0, 1));
    cache.check_index(30_200).unwrap();
    // 30.5 s: b is expired, and goes before x2.
    let z2 = cache
        .new_session(&ticket(6, &[6; 32], 30_500, 3600), 30_500)
        .unwrap();
    assert!(!cache.contains(&b) && cache.contains(&x2));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (1, 1));
    // A shorter timeout set later: z1 (time 30 s) expires at 35 s and goes before x2.
    assert_eq!(cache.set_timeout(&z1, 5), encore_cache::Presence::Found);
    let w = cache
        .new_session(&ticket(7, &[7; 32], 40_000, 3600), 40_000)
        .unwrap();
    assert!(!cache.contains(&z1) && cache.contains(&x2));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (2, 1));
    // A clock behind z2's receipt (30.5 s): z2 counts as expired, and goes before x2 and y.
    cache.check_index(20_000).unwrap();
    let v = cache
        .new_session(&ticket(8, &[8; 32], 20_000, 3600), 20_000)
        .unwrap();
    assert!(!cache.contains(&z2) && cache.contains(&x2) && cache.contains(&y));
    assert!(cache.contains(&w) && cache.contains(&v));
    assert_eq!((cache.stats().timeouts, cache.stats().evictions), (3, 1));
    assert_eq!(cache.stats().full, 4);
    cache.check_index(20_000).unwrap();
}

fn run_churn<const N: usize, const P: usize>(mode: CacheMode, seed: u64) {
    let pool: SessionPool<P, 64> = SessionPool::new();
    let config = CacheConfig {
        limits: Limits {
            timeout_s: 40,
            max_auth_age_s: 3600,
        },
        max_per_peer: 3,
        mode,
    };
    let cache: SessionCache<'_, N, P, 64> = SessionCache::new(&pool, OWNER, config);
    let peers: Vec<PeerId> = (0..(N as u16 * 3 / 2 + 3))
        .map(|i| PeerId::new(&format!("churn{i}.example"), &[], &[9; 16]))
        .collect();
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
                let new = NewSession {
                    version: TLS13,
                    cipher_suite: 0x1301,
                    psk: &[3; 32],
                    ticket: &bytes,
                    lifetime_s: [5, 60, 3600][rng.next(3) as usize],
                    age_add: 0,
                    max_early_data: 0,
                    received_ms: now,
                    received_unix: None,
                    auth_age_ms: 0,
                    peer: p,
                    owner: OWNER,
                };
                if let Ok(s) = cache.new_session(&new, now) {
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
    let config = CacheConfig {
        limits: Limits {
            timeout_s: 400,
            max_auth_age_s: 2000,
        },
        max_per_peer: 2,
        mode,
    };
    let cache: SessionCache<'_, N, 40, 64> = SessionCache::new(&pool, OWNER, config);
    let peers: Vec<PeerId> = (0..(N + 4))
        .map(|i| PeerId::new(&format!("clock{i}.example"), &[], &[5; 16]))
        .collect();
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
                let new = NewSession {
                    version: TLS13,
                    cipher_suite: 0x1301,
                    psk: &[3; 32],
                    ticket: &bytes,
                    lifetime_s: [3, 300, 3000][rng.next(3) as usize],
                    age_add: 0,
                    max_early_data: 0,
                    received_ms: now.saturating_sub(5_000 + rng.next(5_000)),
                    received_unix: None,
                    auth_age_ms: rng.next(2) * 1_500_000,
                    peer: p,
                    owner: OWNER,
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

/// C19, C37 at a capacity where the peer chains are long: many tickets of few peers.
#[test]
fn c19_c37_full_cache_of_few_peers() {
    let pool: SessionPool<80> = SessionPool::new();
    let cache: SessionCache<'_, 64, 80> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    for i in 0..200u32 {
        let bytes = i.to_be_bytes().repeat(8);
        let at = u64::from(i);
        let s = cache
            .new_session(&ticket((i % 20) as u8, &bytes, at, 3600), at)
            .unwrap();
        assert_eq!(
            cache.add(&s, at).unwrap() == Added::AlreadyPresent,
            cache.contains(&s)
        );
        assert!(cache.len() <= 64);
    }
    let stats = cache.stats();
    assert_eq!(cache.len(), 64);
    // Every record was cached or dropped (C37); every cached one is still there or was evicted.
    assert_eq!(200 - stats.dropped - stats.evictions, 64);
    assert_eq!((stats.full, stats.timeouts), (stats.evictions, 0));
    // At most 4 per peer (C37).
    let mut ids = [None; 64];
    let n = cache.entries(&mut ids);
    let mut per_peer = std::collections::HashMap::new();
    for id in &ids[..n] {
        let p = pool.with_record(id.unwrap(), |r| r.peer()).unwrap();
        *per_peer.entry(p).or_insert(0) += 1;
    }
    assert!(per_peer.values().all(|&c| c <= 4));
    cache.check_index(300).unwrap();
    drop(cache);
    assert_eq!(pool.in_use(), 0);
}

/// C37 with a workload that reaches the cap: 20 tickets for each of 10 peers into a cache of
/// 64. Each peer keeps exactly its first 4 live tickets; the other 16 are dropped and counted,
/// and no other peer's entry is evicted to make room.
#[test]
fn c37_per_peer_cap_is_reached_and_enforced() {
    let pool: SessionPool<80> = SessionPool::new();
    let cache: SessionCache<'_, 64, 80> = SessionCache::new(&pool, OWNER, CacheConfig::DEFAULT);
    for i in 0..200u32 {
        let bytes = i.to_be_bytes().repeat(8);
        let at = u64::from(i);
        let s = cache
            .new_session(&ticket((i % 10) as u8, &bytes, at, 3600), at)
            .unwrap();
        // A ticket is cached exactly when its peer has fewer than 4 (i < 40).
        assert_eq!(cache.contains(&s), i < 40, "ticket {i}");
    }
    let stats = cache.stats();
    assert_eq!(cache.len(), 40);
    assert_eq!((stats.dropped, stats.evictions, stats.full), (160, 0, 0));
    let mut ids = [None; 64];
    let n = cache.entries(&mut ids);
    let mut per_peer = std::collections::HashMap::new();
    for id in &ids[..n] {
        let p = pool.with_record(id.unwrap(), |r| r.peer()).unwrap();
        *per_peer.entry(p).or_insert(0) += 1;
    }
    assert_eq!(per_peer.len(), 10);
    assert!(per_peer.values().all(|&c| c == 4), "{per_peer:?}");
    cache.check_index(300).unwrap();
    drop(cache);
    assert_eq!(pool.in_use(), 0);
}
