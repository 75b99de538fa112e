//! Between session records and the engine, in both directions: a claimed record becomes the
//! engine's offer ([`record_offer`]), and a NewSessionTicket becomes a record
//! ([`new_session`]).
//!
//! [`Connection`](crate::Connection) is built on these two; a firmware that drives the
//! sans-I/O engine itself, over a transport of its own, uses them to keep its sessions in a
//! [`SessionPool`](encore_session::SessionPool) and a
//! [`SessionCache`](encore_cache::SessionCache) exactly as `Connection` does:
//!
//! ```
//! use encore_cache::{CacheConfig, SessionCache};
//! use encore_client::glue::record_offer;
//! use encore_session::{ContextId, NewSession, PeerId, SessionPool, TLS13};
//!
//! static POOL: SessionPool<4> = SessionPool::new();
//! let cache: SessionCache<'_, 4, 4> = SessionCache::new(&POOL, ContextId(1), CacheConfig::DEFAULT);
//! let peer = PeerId::new("example.com", &[], &[1; 16]);
//! let ticket = NewSession {
//!     version: TLS13, cipher_suite: 0x1301, psk: &[7; 32], ticket: &[9; 192],
//!     lifetime_s: 7200, age_add: 1, max_early_data: 0, received_ms: 0,
//!     received_unix: None, auth_age_ms: 0, peer, owner: ContextId(1),
//! };
//! drop(cache.new_session(&ticket, 0).unwrap());
//!
//! // Taken (and claimed) from the cache five seconds later. Inside the claim, the record is
//! // read once, into the engine: `Prepared::load_offer` (of `encore_tls`) with the
//! // record's offer; here into two arrays.
//! let (mut ticket, mut psk) = ([0u8; 256], [0u8; 48]);
//! let (session, claim, copied) = cache
//!     .take_with(&peer, 5_000, &[0x1301], |record, claim| {
//!         let offer = record_offer(record, claim)?;
//!         assert_eq!(offer.obfuscated_age, 5_001);
//!         offer.copy_into(&mut ticket, &mut psk)
//!     })
//!     .unwrap();
//! assert_eq!(copied, Some((192, 32)));
//! assert!(session.info().unwrap().used);
//! assert_eq!(claim.obfuscated_age, 5_001);
//! ```

use encore_session::{ContextId, NewSession, Offer, PeerId, SessionRecord, TLS13};
use encore_tls::client::Prepared;
use encore_tls::crypto::CipherSuite;
use encore_tls::{NewTicket, ResumptionOffer};

/// A session record as the engine's offer, read inside the critical section that claims it:
/// [`Session::claim_with`](encore_session::Session::claim_with) or
/// [`SessionCache::take_with`](encore_cache::SessionCache::take_with) hand the record and the
/// claim's [`Offer`] to a closure, which loads this into the engine
/// ([`Prepared::load_offer`](encore_tls::client::Prepared::load_offer)). The offer borrows the
/// record's ticket and PSK, so they are read once, under the claim, straight into the
/// engine's place for them: one copy of the ticket into the engine, one onto the wire.
///
/// The suite and the obfuscated age are those the claim read (C30, C31). `None` when this
/// build of the engine does not have the record's suite (its cargo feature is off); the
/// handshake is then a full one (C7).
pub fn record_offer<'r, const T: usize>(
    record: &'r SessionRecord<T>,
    claim: &Offer,
) -> Option<ResumptionOffer<'r>> {
    Some(ResumptionOffer {
        ticket: record.ticket(),
        psk: record.psk(),
        suite: CipherSuite::from_u16(claim.cipher_suite)?,
        obfuscated_age: claim.obfuscated_age,
    })
}

/// Loads the record `claim` claimed into `engine` as its offer ([`record_offer`], then
/// [`Prepared::load_offer`](encore_tls::client::Prepared::load_offer)), for the reader of
/// [`Session::claim_with`](encore_session::Session::claim_with) or
/// [`SessionCache::take_with`](encore_cache::SessionCache::take_with): whether it was loaded.
/// `false` when this build of the engine does not have the record's suite, or the engine
/// refused the offer; the handshake is then a full one.
pub fn load_record<R: rand_core::CryptoRng, const T: usize>(
    engine: &mut Prepared<'_, '_, R, T>,
    record: &SessionRecord<T>,
    claim: &Offer,
) -> bool {
    record_offer(record, claim).is_some_and(|o| engine.load_offer(&o).is_ok())
}

/// The session record a NewSessionTicket makes (RFC 8446 §4.6.1): the ticket's values, the
/// suite of the connection that received it, when it arrived (`received_ms` on the monotonic
/// clock, `received_unix` on the wall clock if known), how long before that the server was
/// last authenticated by a full handshake (`auth_age_ms`: 0 after a full handshake; after a
/// resumption, the offered record's age since its authentication, C29), and who it is for.
pub fn new_session<'t>(
    ticket: &'t NewTicket<'_>,
    peer: PeerId,
    owner: ContextId,
    received_ms: u64,
    received_unix: Option<u64>,
    auth_age_ms: u64,
) -> NewSession<'t> {
    NewSession {
        version: TLS13,
        cipher_suite: ticket.suite.to_u16(),
        psk: ticket.psk.as_bytes(),
        ticket: ticket.ticket,
        lifetime_s: ticket.lifetime_s,
        age_add: ticket.age_add,
        max_early_data: ticket.max_early_data,
        received_ms,
        received_unix,
        auth_age_ms,
        peer,
        owner,
    }
}
