//! Shared test fixtures: record parameters and a callback recorder.
#![allow(dead_code)]

use std::sync::Mutex;

use encore_cache::CacheEvents;
use encore_session::{ContextId, NewSession, PeerId, Session, SessionId, TLS13};

pub const OWNER: ContextId = ContextId(1);
pub const PSK: [u8; 32] = [0x11; 32];

pub fn peer(n: u8) -> PeerId {
    PeerId::new(&format!("server{n}.example"), &[], &[0x42; 16])
}

/// Parameters of a ticket for `peer(p)` with ticket bytes `[tag; 32]`, received at `at_ms`.
pub fn ticket<'a>(p: u8, tag: &'a [u8], at_ms: u64, lifetime_s: u32) -> NewSession<'a> {
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
        peer: peer(p),
        owner: OWNER,
    }
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
