//! Fixed-size, reference-counted TLS 1.3 session records for `no_std` clients.
//!
//! This crate is the bottom layer of Encore: the record a resumable session keeps ("The record" in
//! the contract), a static [`SessionPool`] of them with counted [`Session`] handles (OpenSSL's
//! `SSL_SESSION` with `SSL_SESSION_up_ref` / `SSL_SESSION_free`), the pure ticket checks of C29 and
//! C30, the peer identity (C33), the clock traits (E6) and a serialised form for flash.
//!
//! Rule numbers cited in these docs (C1–C37, E1–E8) refer to the session contract in
//! `docs/CONTRACT.md` at the root of the repository.
//!
//! There is no heap: capacities are const generics (`N` slots, `T` ticket bytes per slot), running out
//! of slots is [`Error::PoolExhausted`] and a ticket larger than its slot is [`Error::TicketTooLarge`]
//! (E1). Pool state lives in a `critical_section::Mutex`, so a pool is a plain `static` shared by tasks
//! and interrupt handlers, with no `static mut` and no compare-and-swap (E3; builds for thumbv6m).
//!
//! ```
//! use encore_session::{
//!     obfuscated_ticket_age, ContextId, CurrentSession, Limits, NewSession, PeerId, SessionPool,
//!     TLS13,
//! };
//!
//! static POOL: SessionPool<8> = SessionPool::new();
//!
//! // The trust fingerprint comes from the TLS engine (`ClientConfig::trust_fingerprint`).
//! let trust = [0x5A; 16];
//! let peer = PeerId::new("Example.COM", &[b"http/1.1"], &trust);
//! // A NewSessionTicket arrived at monotonic time 10 s.
//! let ticket = POOL.create(&NewSession {
//!     version: TLS13, cipher_suite: 0x1301, psk: &[0x11; 32], ticket: &[0xAB; 192],
//!     lifetime_s: 7200, age_add: 0xFFFF_FF00, max_early_data: 0, received_ms: 10_000,
//!     received_unix: Some(1_800_000_000), auth_age_ms: 0, peer, owner: ContextId(1),
//! })?;
//!
//! // A connection holds it: one more reference (C1).
//! let mut current = CurrentSession::new();
//! current.set(Some(&ticket))?;
//! assert_eq!(ticket.ref_count()?, 2);
//!
//! // One minute later it may be offered (C7, C29) with this obfuscated age (C30).
//! assert_eq!(ticket.resumable(70_000, &Limits::DEFAULT, &[0x1301]), Ok(()));
//! assert_eq!(ticket.with(|r| r.obfuscated_age(70_000))?, Some(obfuscated_ticket_age(60_000, 0xFFFF_FF00)));
//!
//! // Offering it claims it: the C7 check and unused → used in one step, so only one holder ever
//! // offers it (C28).
//! let offer = ticket.claim(70_000, &Limits::DEFAULT, &[0x1301]).expect("offerable");
//! assert_eq!(offer.obfuscated_age, obfuscated_ticket_age(60_000, 0xFFFF_FF00));
//! assert!(ticket.claim(70_000, &Limits::DEFAULT, &[0x1301]).is_err());
//! # Ok::<(), encore_session::Error>(())
//! ```
//!
//! # Times
//!
//! Records keep the monotonic receipt time in ms (`i64`: a record restored from flash was received
//! before this boot), the wall-clock receipt time in Unix seconds when known, and the time of the
//! original authenticating full handshake as seconds before receipt, which places it on both clocks.
//! Ages in RAM use the monotonic clock; the serialised form stores wall-clock times and is rebuilt
//! onto the monotonic clock at decode (see [`codec`]).
//!
//! # Memory (E5)
//!
//! Sizes with the default `T = 256`, identical on 32- and 64-bit targets (no pointers inside), checked
//! by the `e5_sizes` test:
//!
//! | item | bytes | fields |
//! |---|---|---|
//! | [`SessionRecord`] | 360 | ticket 256, PSK 48, peer id 16, monotonic receipt (i64) 8, wall receipt (u32) 4, auth age (u32) 4, owner 4, lifetime 4, age_add 4, max_early_data 4, version 2, suite 2, ticket length 2, PSK length 1, flags 1 |
//! | pool slot | 368 | record 360, generation (u32) 4, reference count (u16) 2, pool state (u16) 2: read in slot 0 only, it is the pool's pending-wipe mark and free-slot hint and fills what would be padding (a freed record's own pending-wipe mark is a bit of its flags byte) |
//! | `SessionPool<N>` | 8 + 368·N | `RefCell` borrow flag and padding to the slots' 8-byte alignment, then N slots |
//! | [`Session`] handle | 1 word + 8 | pool reference, slot index (u16), generation (u32): 12 on 32-bit MCUs, 16 on 64-bit hosts |
//!
//! A record of ticket capacity `T` takes `T + 104` bytes (rounded up to a multiple of 8) and its slot
//! `T + 112`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
pub mod codec;
mod error;
mod peer;
mod pool;
mod record;

pub use clock::{verification_time, Clock, LowerBound, MonotonicClock, WallClock};
pub use error::{DecodeError, Error};
pub use peer::{ContextId, PeerId};
pub use pool::{CurrentSession, RawSession, Records, Session, SessionId, SessionPool, MAX_REFS};
pub use record::{
    obfuscated_ticket_age, ticket_offerable, HashAlgorithm, Limits, NewSession, Offer, SessionInfo,
    SessionRecord, Unresumable, MAX_PSK_LEN, SEVEN_DAYS_S, TLS13,
};

/// Size of one pool slot for ticket capacity `T` (E5).
pub const fn slot_size<const T: usize>() -> usize {
    core::mem::size_of::<pool::Slot<T>>()
}

#[cfg(test)]
mod unit_tests;
