//! Model-based property test: random sequences of cache operations against a small reference model
//! of the documented rules (C16–C22, C26, C36, C37), compared after every step: entries and their
//! order (capacity, C19, C20, C22), counters (C26), callback log, reference counts and flags, and
//! the consistency of the cache's index (touch-order list, peer and ticket hash chains, expiry
//! bound). A record that cannot be offered is never stored (C19, C20: it would push out a usable
//! ticket). Eviction and the auto-flush of a full cache look at expiry (times) only; lookups, takes,
//! the auto-flush of the incoming record's peer, the per-peer limit and flush remove every stale
//! entry (expired, used or not resumable).

use std::collections::HashMap;

use encore_cache::{
    Added, CacheConfig, CacheEvents, CacheMode, CacheStats, Presence, SessionCache,
};
use encore_session::{
    ContextId, Limits, NewSession, PeerId, Session, SessionId, SessionPool, TLS13,
};
use proptest::prelude::*;

const N: usize = 4; // cache capacity
const P: usize = 10; // pool slots
const T: usize = 32; // ticket capacity
const K: usize = 2; // tickets per peer
const TIMEOUT_S: u32 = 30;
const OWNER: ContextId = ContextId(9);
const LIFETIMES: [u32; 3] = [5, 20, 100];
/// The C29 limit since the original full handshake.
const MAX_AUTH_AGE_S: u32 = 3600;
/// How long before its receipt a record's server was authenticated: fresh, or so long ago
/// (a chain of resumptions) that the one-hour limit falls within the run.
const AUTH_AGES_S: [u32; 3] = [0, 3_560, 3_595];

#[derive(Debug, Clone)]
enum Op {
    New {
        peer: u8,
        lifetime: usize,
        auth_age: usize,
        dup: Option<usize>,
    },
    Add(usize),
    Lookup(u8),
    Take(u8),
    /// `connect`'s own look-up (C26: nothing in `NO_INTERNAL_LOOKUP`).
    TakeForConnect(u8),
    /// A connection that holds the record claims it to offer it (C28).
    Claim(usize),
    Remove(usize),
    Flush,
    FlushAll,
    SetTime(usize, u64),
    SetTimeout(usize, u32),
    Release(usize),
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3u8, 0..3usize, 0..3usize, proptest::option::weighted(0.2, 0..8usize))
            .prop_map(|(peer, lifetime, auth_age, dup)| Op::New { peer, lifetime, auth_age, dup }),
        2 => (0..8usize).prop_map(Op::Add),
        2 => (0..3u8).prop_map(Op::Lookup),
        2 => (0..3u8).prop_map(Op::Take),
        1 => (0..3u8).prop_map(Op::TakeForConnect),
        1 => (0..8usize).prop_map(Op::Claim),
        1 => (0..8usize).prop_map(Op::Remove),
        1 => Just(Op::Flush),
        1 => prop_oneof![9 => Just(Op::Advance(0)), 1 => Just(Op::FlushAll)],
        1 => (0..8usize, 0..40_000u64).prop_map(|(h, back)| Op::SetTime(h, back)),
        1 => (0..8usize, 0..60u32).prop_map(|(h, t)| Op::SetTimeout(h, t)),
        2 => (0..8usize).prop_map(Op::Release),
        3 => (0..12_000u64).prop_map(Op::Advance),
    ]
}

fn peer_id(p: u8) -> PeerId {
    PeerId::new(&format!("p{p}.example"), &[b"x"], &[1; 16])
}

fn ticket_bytes(tag: u32) -> [u8; T] {
    let mut t = [0u8; T];
    t[..4].copy_from_slice(&tag.to_be_bytes());
    t
}

#[derive(Default)]
struct Log(std::sync::Mutex<Vec<(bool, SessionId)>>);

impl CacheEvents<P, T> for Log {
    fn new_session(&self, s: &Session<'_, P, T>) {
        self.0.lock().unwrap().push((true, s.id()));
    }
    fn removed(&self, s: &Session<'_, P, T>) {
        self.0.lock().unwrap().push((false, s.id()));
    }
}

#[derive(Debug, Clone)]
struct Rec {
    peer: u8,
    tag: u32,
    received_ms: u64,
    lifetime_s: u32,
    auth_age_s: u32,
    used: bool,
    not_resumable: bool,
}

#[derive(Debug, Clone)]
struct Ent {
    id: SessionId,
    time_s: u32,
    timeout_s: u32,
}

struct Model {
    mode: CacheMode,
    recs: HashMap<SessionId, Rec>,
    entries: Vec<Ent>,
    stats: CacheStats,
    log: Vec<(bool, SessionId)>,
}

impl Model {
    /// C29 under the cache's limits: the ticket is too old, or its server was authenticated
    /// too long ago.
    fn too_old(&self, id: SessionId, now_ms: u64) -> bool {
        let r = &self.recs[&id];
        let cap_s = r.lifetime_s.min(TIMEOUT_S);
        let age_ms = now_ms - r.received_ms;
        age_ms >= u64::from(cap_s) * 1000
            || age_ms + u64::from(r.auth_age_s) * 1000 >= u64::from(MAX_AUTH_AGE_S) * 1000
    }

    /// C7, C29 under the cache's limits: used, not resumable, or too old.
    fn unofferable(&self, id: SessionId, now_ms: u64) -> bool {
        let r = &self.recs[&id];
        r.used || r.not_resumable || self.too_old(id, now_ms)
    }

    fn timed_out(e: &Ent, now_ms: u64) -> bool {
        now_ms / 1000 >= u64::from(e.time_s) + u64::from(e.timeout_s)
    }

    /// Past a time limit: what eviction and the auto-flush look at (C20).
    fn expired(&self, e: &Ent, now_ms: u64) -> bool {
        Self::timed_out(e, now_ms) || self.too_old(e.id, now_ms)
    }

    /// Expired, or not offerable for another reason: what lookups, takes and flush remove.
    fn stale(&self, e: &Ent, now_ms: u64) -> bool {
        Self::timed_out(e, now_ms) || self.unofferable(e.id, now_ms)
    }

    /// Removes the entries for which `gone` holds, each counted as a timeout with its callback.
    fn remove_where(&mut self, gone: impl Fn(&Self, &Ent) -> bool) {
        let mut i = 0;
        while i < self.entries.len() {
            if gone(self, &self.entries[i]) {
                let e = self.entries.remove(i);
                self.stats.timeouts += 1;
                self.log.push((false, e.id));
            } else {
                i += 1;
            }
        }
    }

    /// The auto-flush of an add that finds the cache full.
    fn remove_expired(&mut self, now_ms: u64) {
        self.remove_where(|m, e| m.expired(e, now_ms));
    }

    fn remove_stale(&mut self, now_ms: u64, peer: Option<u8>) {
        self.remove_where(|m, e| {
            peer.is_none_or(|p| m.recs[&e.id].peer == p) && m.stale(e, now_ms)
        });
    }

    fn pos(&self, id: SessionId) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    fn peer_count(&self, peer: u8, skip_tag: Option<u32>) -> usize {
        self.entries
            .iter()
            .filter(|e| self.recs[&e.id].peer == peer && Some(self.recs[&e.id].tag) != skip_tag)
            .count()
    }

    fn add(&mut self, id: SessionId, now_ms: u64) -> Added {
        if self.pos(id).is_some() {
            return Added::AlreadyPresent;
        }
        if self.unofferable(id, now_ms) {
            self.stats.dropped += 1;
            return Added::Dropped;
        }
        let (peer, tag) = (self.recs[&id].peer, self.recs[&id].tag);
        // Auto-flush: the peer's stale entries, then, from a full cache, every expired entry.
        if !self.mode.contains(CacheMode::NO_AUTO_FLUSH) {
            self.remove_stale(now_ms, Some(peer));
            if self.entries.len() >= N {
                self.remove_expired(now_ms);
            }
        }
        if self.peer_count(peer, None) >= K {
            self.remove_stale(now_ms, Some(peer));
        }
        if self.peer_count(peer, Some(tag)) >= K {
            self.stats.dropped += 1;
            return Added::Dropped;
        }
        let same = self
            .entries
            .iter()
            .position(|e| self.recs[&e.id].tag == tag);
        if let Some(i) = same {
            self.entries.remove(i);
        }
        if self.entries.len() >= N {
            self.stats.full += 1;
            // C20: the least recently touched expired entry, else the least recently touched;
            // counted as a timeout if stale (also when only its flags make it so).
            let victim = self
                .entries
                .iter()
                .position(|e| self.expired(e, now_ms))
                .unwrap_or(0);
            if self.stale(&self.entries[victim], now_ms) {
                self.stats.timeouts += 1;
            } else {
                self.stats.evictions += 1;
            }
            let e = self.entries.remove(victim);
            self.log.push((false, e.id));
        }
        self.entries.push(Ent {
            id,
            time_s: (now_ms / 1000) as u32,
            timeout_s: TIMEOUT_S,
        });
        if same.is_some() {
            Added::Replaced
        } else {
            Added::Stored
        }
    }

    fn newest(&self, peer: u8) -> Option<usize> {
        self.entries
            .iter()
            .rposition(|e| self.recs[&e.id].peer == peer)
    }

    /// A lookup or take of `peer` at `now_ms`: the peer's stale entries go, then its newest
    /// entry is a hit, or there is none and a miss.
    fn search(&mut self, peer: u8, now_ms: u64) -> Option<usize> {
        self.remove_stale(now_ms, Some(peer));
        let found = self.newest(peer);
        if found.is_some() {
            self.stats.hits += 1;
        } else {
            self.stats.misses += 1;
        }
        found
    }
}

fn run(mode: CacheMode, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let pool: SessionPool<P, T> = SessionPool::new();
    let log = Log::default();
    let config = CacheConfig {
        limits: Limits {
            timeout_s: TIMEOUT_S,
            max_auth_age_s: MAX_AUTH_AGE_S,
        },
        max_per_peer: K,
        mode,
    };
    let cache: SessionCache<'_, N, P, T> = SessionCache::with_events(&pool, OWNER, config, &log);
    let mut m = Model {
        mode,
        recs: HashMap::new(),
        entries: Vec::new(),
        stats: CacheStats::default(),
        log: Vec::new(),
    };
    let mut app: Vec<Session<'_, P, T>> = Vec::new();
    let mut now: u64 = 0;
    let mut next_tag: u32 = 1;

    for op in ops {
        match op {
            Op::New {
                peer,
                lifetime,
                auth_age,
                dup,
            } => {
                let tag = match dup.and_then(|d| app.get(d % app.len().max(1))) {
                    Some(h) => m.recs[&h.id()].tag,
                    None => {
                        next_tag += 1;
                        next_tag
                    }
                };
                let bytes = ticket_bytes(tag);
                let params = NewSession {
                    version: TLS13,
                    cipher_suite: 0x1301,
                    psk: &[3; 32],
                    ticket: &bytes,
                    lifetime_s: LIFETIMES[lifetime],
                    age_add: 0,
                    max_early_data: 0,
                    received_ms: now,
                    received_unix: None,
                    auth_age_ms: u64::from(AUTH_AGES_S[auth_age]) * 1000,
                    peer: peer_id(peer),
                    owner: OWNER,
                };
                let live = pool.in_use();
                match cache.new_session(&params, now) {
                    Ok(s) => {
                        prop_assert!(live < P);
                        m.recs.insert(
                            s.id(),
                            Rec {
                                peer,
                                tag,
                                received_ms: now,
                                lifetime_s: LIFETIMES[lifetime],
                                auth_age_s: AUTH_AGES_S[auth_age],
                                used: false,
                                not_resumable: false,
                            },
                        );
                        if !mode.contains(CacheMode::NO_INTERNAL_STORE) {
                            m.add(s.id(), now);
                        }
                        m.log.push((true, s.id()));
                        app.push(s);
                    }
                    Err(e) => {
                        prop_assert_eq!(e, encore_session::Error::PoolExhausted);
                        prop_assert_eq!(live, P);
                        m.stats.dropped += 1;
                    }
                }
            }
            Op::Add(h) => {
                if let Some(s) = app.get(h % app.len().max(1)) {
                    let got = cache.add(s, now).unwrap();
                    prop_assert_eq!(got, m.add(s.id(), now));
                }
            }
            Op::Lookup(p) => {
                let want = m.search(p, now);
                let got = cache.lookup(&peer_id(p), now);
                match want {
                    None => prop_assert!(got.is_none()),
                    Some(i) => {
                        let got = got.unwrap();
                        prop_assert_eq!(got.id(), m.entries[i].id);
                        if mode.contains(CacheMode::UPDATE_TIME_ON_USE) {
                            let mut e = m.entries.remove(i);
                            e.time_s = (now / 1000) as u32;
                            m.entries.push(e);
                        }
                        app.push(got);
                    }
                }
            }
            Op::TakeForConnect(p) if mode.contains(CacheMode::NO_INTERNAL_LOOKUP) => {
                // C26: `connect` does not look up: nothing found, counted or removed.
                prop_assert!(cache
                    .take_for_connect(&peer_id(p), now, &[0x1301])
                    .is_none());
            }
            Op::Take(p) | Op::TakeForConnect(p) => {
                let want = m.search(p, now);
                let got = if matches!(op, Op::TakeForConnect(_)) {
                    cache.take_for_connect(&peer_id(p), now, &[0x1301])
                } else {
                    cache.take(&peer_id(p), now, &[0x1301])
                };
                match want {
                    None => prop_assert!(got.is_none()),
                    Some(i) => {
                        let e = m.entries.remove(i);
                        let (got, offer) = got.unwrap();
                        prop_assert_eq!(got.id(), e.id);
                        // The offer is the claim's reading of this record.
                        prop_assert_eq!(Some(offer), got.with(|r| r.offer(now)).unwrap());
                        m.recs.get_mut(&e.id).unwrap().used = true;
                        app.push(got);
                    }
                }
            }
            Op::Claim(h) => {
                if let Some(s) = app.get(h % app.len().max(1)) {
                    let id = s.id();
                    let got = s.claim(now, &config.limits, &[0x1301]);
                    if m.unofferable(id, now) {
                        prop_assert!(got.is_err());
                    } else {
                        let r = m.recs.get_mut(&id).unwrap();
                        r.used = true;
                        prop_assert_eq!(got.unwrap().ticket_age_ms, (now - r.received_ms) as u32);
                    }
                }
            }
            Op::Remove(h) => {
                if let Some(s) = app.get(h % app.len().max(1)) {
                    let id = s.id();
                    let want = match m.pos(id) {
                        Some(i) => {
                            m.entries.remove(i);
                            Presence::Found
                        }
                        None => Presence::NotFound,
                    };
                    m.recs.get_mut(&id).unwrap().not_resumable = true;
                    m.log.push((false, id));
                    prop_assert_eq!(cache.remove(s), want);
                }
            }
            Op::Flush => {
                let before = m.entries.len();
                m.remove_stale(now, None);
                prop_assert_eq!(cache.flush(now), before - m.entries.len());
            }
            Op::FlushAll => {
                let n = m.entries.len();
                for e in m.entries.drain(..) {
                    m.log.push((false, e.id));
                }
                prop_assert_eq!(cache.flush_all(), n);
            }
            Op::SetTime(h, back) => {
                if let Some(s) = app.get(h % app.len().max(1)) {
                    let t = now.saturating_sub(back);
                    let want = match m.pos(s.id()) {
                        Some(i) => {
                            let mut e = m.entries.remove(i);
                            e.time_s = (t / 1000) as u32;
                            m.entries.push(e);
                            Presence::Found
                        }
                        None => Presence::NotFound,
                    };
                    prop_assert_eq!(cache.set_time(s, t), want);
                }
            }
            Op::SetTimeout(h, timeout) => {
                if let Some(s) = app.get(h % app.len().max(1)) {
                    let want = match m.pos(s.id()) {
                        Some(i) => {
                            let mut e = m.entries.remove(i);
                            e.timeout_s = timeout;
                            m.entries.push(e);
                            Presence::Found
                        }
                        None => Presence::NotFound,
                    };
                    prop_assert_eq!(cache.set_timeout(s, timeout), want);
                }
            }
            Op::Release(h) => {
                if !app.is_empty() {
                    let i = h % app.len();
                    app.remove(i);
                }
            }
            Op::Advance(ms) => now += ms,
        }

        // Capacity (C19) and order (C20, C22); the index agrees with the entries.
        prop_assert!(cache.len() <= N);
        prop_assert_eq!(cache.check_index(now), Ok(()));
        let mut ids = [None; N];
        let n = cache.entries(&mut ids);
        let want: Vec<SessionId> = m.entries.iter().map(|e| e.id).collect();
        let got: Vec<SessionId> = ids[..n].iter().map(|i| i.unwrap()).collect();
        prop_assert_eq!(got, want);
        for e in &m.entries {
            let s = pool.acquire(e.id).unwrap();
            prop_assert_eq!(cache.entry_time(&s), Some((e.time_s, e.timeout_s)));
        }
        // Counters (C26) and callbacks.
        prop_assert_eq!(cache.stats(), m.stats);
        prop_assert_eq!(&*log.0.lock().unwrap(), &m.log);
        // References: the application's handles plus one per entry; no leak, no early free.
        let mut refs: HashMap<SessionId, u16> = HashMap::new();
        for s in &app {
            *refs.entry(s.id()).or_default() += 1;
        }
        for e in &m.entries {
            *refs.entry(e.id).or_default() += 1;
        }
        prop_assert_eq!(pool.in_use(), refs.len());
        for s in &app {
            prop_assert_eq!(s.ref_count().unwrap(), refs[&s.id()]);
            let info = s.info().unwrap();
            let r = &m.recs[&s.id()];
            prop_assert_eq!((info.used, info.not_resumable), (r.used, r.not_resumable));
        }
    }
    drop(app);
    let cached = m.entries.len();
    drop(cache);
    prop_assert_eq!(log.0.lock().unwrap().len(), m.log.len() + cached);
    prop_assert_eq!(pool.in_use(), 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn model_default_mode(ops in proptest::collection::vec(op(), 1..80)) {
        run(CacheMode::DEFAULT, ops)?;
    }

    #[test]
    fn model_no_auto_flush_update_on_use(ops in proptest::collection::vec(op(), 1..80)) {
        run(CacheMode::NO_AUTO_FLUSH | CacheMode::UPDATE_TIME_ON_USE, ops)?;
    }

    #[test]
    fn model_no_internal_store(ops in proptest::collection::vec(op(), 1..80)) {
        run(CacheMode::NO_INTERNAL_STORE | CacheMode::NO_AUTO_FLUSH, ops)?;
    }

    #[test]
    fn model_no_internal_lookup(ops in proptest::collection::vec(op(), 1..80)) {
        run(CacheMode::NO_INTERNAL_LOOKUP, ops)?;
    }
}
