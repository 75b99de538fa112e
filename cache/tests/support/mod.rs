//! Shared test fixtures: configurations, record parameters and records, and a callback recorder.
#![allow(dead_code)]

use std::sync::Mutex;

use encore_cache::{CacheConfig, CacheEvents, CacheMode, SessionCache};
use encore_session::{ContextId, NewSession, PeerId, Session, SessionId, SessionPool, TLS13};

pub const OWNER: ContextId = ContextId(1);
pub const PSK: [u8; 32] = [0x11; 32];

/// The default configuration in `mode`.
pub const fn with_mode(mode: CacheMode) -> CacheConfig {
    CacheConfig {
        mode,
        ..CacheConfig::DEFAULT
    }
}

/// The default configuration without the auto-flush of a full cache.
pub const NO_FLUSH: CacheConfig = with_mode(CacheMode::NO_AUTO_FLUSH);

pub fn peer(n: u8) -> PeerId {
    PeerId::new(&format!("server{n}.example"), &[], &[0x42; 16])
}

/// Parameters of a ticket for `peer(p)` with ticket bytes `tag`, received at `at_ms`.
pub fn ticket(p: u8, tag: &[u8], at_ms: u64, lifetime_s: u32) -> NewSession<'_> {
    ticket_for(peer(p), tag, at_ms, lifetime_s)
}

/// [`ticket`] for any peer id.
pub fn ticket_for(peer: PeerId, tag: &[u8], at_ms: u64, lifetime_s: u32) -> NewSession<'_> {
    NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &PSK,
        ticket: tag,
        lifetime_s,
        age_add: 7,
        max_early_data: 0,
        received_ms: at_ms,
        received_unix: None,
        auth_age_ms: 0,
        peer,
        owner: OWNER,
    }
}

/// Cached ids, least recently touched first.
pub fn ids<const N: usize, const P: usize>(cache: &SessionCache<'_, N, P>) -> Vec<SessionId> {
    let mut out = vec![None; N];
    let n = cache.entries(&mut out);
    out[..n].iter().map(|id| id.unwrap()).collect()
}

/// A record of `peer(p)` with ticket bytes `[p; 32]`, received at 0 with a 1-hour lifetime.
pub fn record<const P: usize>(pool: &SessionPool<P>, p: u8) -> Session<'_, P> {
    pool.create(&ticket(p, &[p; 32], 0, 3600)).unwrap()
}

/// A NewSessionTicket of `peer(p)` with ticket bytes `[p; 32]` received at `at_ms`, made into a
/// record through `cache` (C27).
pub fn received<'p, const N: usize, const P: usize>(
    cache: &SessionCache<'p, N, P>,
    p: u8,
    at_ms: u64,
    lifetime_s: u32,
) -> Session<'p, P> {
    cache
        .new_session(&ticket(p, &[p; 32], at_ms, lifetime_s), at_ms)
        .unwrap()
}

/// `K` records of peers 1, 2, ... (see [`record`]).
pub fn records<const P: usize, const K: usize>(pool: &SessionPool<P>) -> [Session<'_, P>; K] {
    core::array::from_fn(|i| record(pool, i as u8 + 1))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    New(SessionId),
    Removed(SessionId),
}

/// Records every callback in order.
#[derive(Default)]
pub struct Recorder {
    pub log: Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn removed(&self) -> Vec<SessionId> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Event::Removed(id) => Some(*id),
                Event::New(_) => None,
            })
            .collect()
    }

    pub fn new_count(&self) -> usize {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|e| matches!(e, Event::New(_)))
            .count()
    }
}

impl<const P: usize, const T: usize> CacheEvents<P, T> for Recorder {
    fn new_session(&self, session: &Session<'_, P, T>) {
        self.log.lock().unwrap().push(Event::New(session.id()));
    }

    fn removed(&self, session: &Session<'_, P, T>) {
        self.log.lock().unwrap().push(Event::Removed(session.id()));
    }
}

/// A small deterministic generator, so that the randomised tests need no dependency.
pub struct Lcg(pub u64);

impl Lcg {
    /// The next value below `below` (which must not be 0).
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}
