//! The session slot and the bad-session rule without a network: C1–C4, C10–C12, C35.
//!
//! An "open" connection is made by setting the flag a completed handshake sets; everything
//! else runs the real code paths. The rules are proven against real servers in `tests/`.

extern crate std;

use core::future::Future;
use core::sync::atomic::{AtomicU32, Ordering};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use encore_cache::{CacheConfig, CacheEvents};
use encore_session::{ContextId, NewSession, PeerId, Session, SessionPool, TLS13};
use encore_tls::ClientConfig;

use crate::{BadSessionRule, Connection, Context, Error, OsRng, Phase, StdClock};

/// A transport that is never used by these tests: every call fails.
struct Unplugged;

impl ErrorType for Unplugged {
    type Error = ErrorKind;
}

impl Read for Unplugged {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::NotConnected)
    }
}

impl Write for Unplugged {
    async fn write(&mut self, _buf: &[u8]) -> Result<usize, ErrorKind> {
        Err(ErrorKind::NotConnected)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        Err(ErrorKind::NotConnected)
    }
}

#[derive(Default)]
struct Tally {
    removed: AtomicU32,
}

impl CacheEvents<8, 256> for Tally {
    fn removed(&self, _s: &Session<'_, 8, 256>) {
        self.removed.fetch_add(1, Ordering::SeqCst);
    }
}

const NAME: &str = "server.encore.test";

type Ctx<'a> = Context<'a, StdClock, OsRng, 4, 8>;

fn context<'a>(pool: &'a SessionPool<8>, events: &'a Tally, id: u32) -> Ctx<'a> {
    Context::with_events(
        ContextId(id),
        ClientConfig::new(&[]),
        pool,
        CacheConfig::DEFAULT,
        events,
        StdClock::new(),
        OsRng,
    )
}

fn record<'p>(pool: &'p SessionPool<8>, peer: PeerId, owner: u32, fill: u8) -> Session<'p, 8> {
    pool.create(&NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &[fill; 32],
        ticket: &[fill; 100],
        lifetime_s: 7200,
        age_add: 0,
        max_early_data: 0,
        received_ms: 0,
        received_unix: None,
        auth_age_ms: 0,
        peer,
        owner: ContextId(owner),
    })
    .unwrap()
}

macro_rules! conn {
    ($ctx:expr, $rx:ident, $tx:ident) => {
        Connection::new(&$ctx, NAME, Unplugged, &mut $rx, &mut $tx)
    };
}

/// C1, C2, C3, C4: reference counts through set_session / session / get1_session.
#[test]
fn c1_c4_reference_counts() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut conn = conn!(ctx, rx, tx);
    let s = record(&POOL, ctx.peer_id(NAME), 1, 1);
    conn.set_session(Some(&s)).unwrap();
    assert_eq!(s.ref_count().unwrap(), 2); // C1
    conn.set_session(Some(&s)).unwrap();
    assert_eq!(s.ref_count().unwrap(), 2); // C2
    assert_eq!(conn.session(), Some(&s));
    assert_eq!(s.ref_count().unwrap(), 2); // C4: borrowing
    let taken = conn.get1_session().unwrap().unwrap();
    assert_eq!(s.ref_count().unwrap(), 3); // C4: taking
    drop(taken);
    conn.set_session(None).unwrap();
    assert_eq!(s.ref_count().unwrap(), 1); // C3
    assert!(conn.session().is_none());
    assert_eq!(tally.removed.load(Ordering::SeqCst), 0); // C12: fresh, nothing invalidated
    assert!(!s.info().unwrap().not_resumable);
}

/// C35: a session of another context, or for another peer identity, is an error and changes
/// nothing.
#[test]
fn c35_other_context_or_peer_is_an_error() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut conn = conn!(ctx, rx, tx);
    let mine = record(&POOL, ctx.peer_id(NAME), 1, 1);
    conn.set_session(Some(&mine)).unwrap();

    let other_ctx = record(&POOL, ctx.peer_id(NAME), 2, 2);
    assert_eq!(
        conn.set_session(Some(&other_ctx)),
        Err(Error::Session(encore_session::Error::WrongOwner))
    );
    let other_peer = record(&POOL, ctx.peer_id("other.encore.test"), 1, 3);
    assert_eq!(
        conn.set_session(Some(&other_peer)),
        Err(Error::Session(encore_session::Error::WrongPeer))
    );
    // Another ALPN list is another peer too.
    let alpn = PeerId::new(NAME, &[b"h2"], &ctx.trust_fingerprint());
    let other_alpn = record(&POOL, alpn, 1, 4);
    assert_eq!(
        conn.set_session(Some(&other_alpn)),
        Err(Error::Session(encore_session::Error::WrongPeer))
    );
    // The name is compared without case (peer identity, "Decided").
    let upper = record(&POOL, ctx.peer_id("SERVER.Encore.TEST"), 1, 5);
    conn.set_session(Some(&upper)).unwrap();
    assert_eq!(mine.ref_count().unwrap(), 1);
    assert_eq!(other_ctx.ref_count().unwrap(), 1);
    assert_eq!(other_peer.ref_count().unwrap(), 1);
    assert_eq!(upper.ref_count().unwrap(), 2);
    // A session of another pool is another context's.
    static OTHER_POOL: SessionPool<8> = SessionPool::new();
    let foreign = record(&OTHER_POOL, ctx.peer_id(NAME), 1, 6);
    assert_eq!(
        conn.set_session(Some(&foreign)),
        Err(Error::Session(encore_session::Error::WrongOwner))
    );
}

/// C10: replacing the session of an open connection evicts it, marks it not resumable, one
/// remove callback; C2 after C10 keeps the count.
#[test]
fn c10_replacing_open_session_invalidates_once() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut conn = conn!(ctx, rx, tx);
    let s = record(&POOL, ctx.peer_id(NAME), 1, 1);
    ctx.cache().add(&s, 0).unwrap();
    conn.set_session(Some(&s)).unwrap();
    conn.completed = true; // as a completed handshake leaves it
    assert!(conn.session_open());
    conn.set_session(Some(&s)).unwrap(); // C2 with C10 first
    assert_eq!(tally.removed.load(Ordering::SeqCst), 1);
    assert!(s.info().unwrap().not_resumable);
    assert!(!ctx.cache().contains(&s));
    assert_eq!(s.ref_count().unwrap(), 2);
    // Once invalidated, nothing more to invalidate.
    let t = record(&POOL, ctx.peer_id(NAME), 1, 2);
    conn.set_session(Some(&t)).unwrap();
    assert_eq!(tally.removed.load(Ordering::SeqCst), 1);
    assert!(!t.info().unwrap().not_resumable);
}

/// C11: after close_notify is marked as sent, replacing keeps the session cached and
/// resumable.
#[test]
fn c11_after_set_shutdown_nothing_is_invalidated() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut conn = conn!(ctx, rx, tx);
    let s = record(&POOL, ctx.peer_id(NAME), 1, 1);
    ctx.cache().add(&s, 0).unwrap();
    conn.set_session(Some(&s)).unwrap();
    conn.completed = true;
    conn.set_shutdown();
    assert!(!conn.session_open());
    conn.set_session(None).unwrap();
    assert_eq!(tally.removed.load(Ordering::SeqCst), 0);
    assert!(!s.info().unwrap().not_resumable);
    assert!(ctx.cache().contains(&s));
}

/// C13: dropping an open connection invalidates its session although the application holds a
/// reference; the relaxed rule keeps it.
#[test]
fn c13_drop_open_connection_invalidates_unless_relaxed() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let s = record(&POOL, ctx.peer_id(NAME), 1, 1);
    ctx.cache().add(&s, 0).unwrap();
    {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let mut conn = conn!(ctx, rx, tx);
        conn.set_session(Some(&s)).unwrap();
        conn.completed = true;
    }
    assert_eq!(tally.removed.load(Ordering::SeqCst), 1);
    assert!(s.info().unwrap().not_resumable);
    assert_eq!(s.ref_count().unwrap(), 1);

    let tally2 = Tally::default();
    let mut relaxed = context(&POOL, &tally2, 1);
    relaxed.set_bad_session_rule(BadSessionRule::Keep);
    let k = record(&POOL, relaxed.peer_id(NAME), 1, 2);
    relaxed.cache().add(&k, 0).unwrap();
    {
        let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
        let mut conn = conn!(relaxed, rx, tx);
        conn.set_session(Some(&k)).unwrap();
        conn.completed = true;
    }
    assert_eq!(tally2.removed.load(Ordering::SeqCst), 0);
    assert!(!k.info().unwrap().not_resumable);
    assert!(relaxed.cache().contains(&k));
}

/// C14, C8: clear() after a clean shutdown keeps the session; after an unclean end it drops
/// it (and invalidates an open one).
#[test]
fn c14_clear_keeps_after_clean_drops_after_unclean() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut conn = conn!(ctx, rx, tx);
    let s = record(&POOL, ctx.peer_id(NAME), 1, 1);
    conn.set_session(Some(&s)).unwrap();
    conn.completed = true;
    conn.reused = true;
    conn.set_shutdown();
    conn.clear();
    assert_eq!(conn.session(), Some(&s));
    assert!(!conn.session_reused()); // C8
    assert_eq!(conn.phase(), Phase::Idle);

    conn.completed = true; // open again, then cleared without close_notify
    conn.clear();
    assert!(conn.session().is_none());
    assert_eq!(s.ref_count().unwrap(), 1);
    assert_eq!(tally.removed.load(Ordering::SeqCst), 1);
    assert!(s.info().unwrap().not_resumable);
}

/// A transport whose every call waits forever, as one whose peer stopped reading.
struct Stalled;

impl ErrorType for Stalled {
    type Error = ErrorKind;
}

impl Read for Stalled {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, ErrorKind> {
        core::future::pending().await
    }
}

impl Write for Stalled {
    async fn write(&mut self, _buf: &[u8]) -> Result<usize, ErrorKind> {
        core::future::pending().await
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        core::future::pending().await
    }
}

/// C12, C28: a `connect` future dropped before its ClientHello left. The record was claimed
/// before the ClientHello was built, so it is used (never offered again); nothing is
/// invalidated; the connection is failed until clear(). A second connection holding the same
/// record cannot claim it.
#[test]
fn c12_c28_dropped_connect_leaves_its_claim_used_only() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 1024]);
    let mut conn = Connection::new(&ctx, NAME, Stalled, &mut rx, &mut tx);
    let s = record(&POOL, ctx.peer_id(NAME), 1, 1);
    conn.set_session(Some(&s)).unwrap();
    {
        let mut fut = core::pin::pin!(conn.connect());
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(conn.phase(), Phase::Failed);
    assert_eq!(crate::block_on(conn.write(b"x")), Err(Error::Failed));
    let info = s.info().unwrap();
    assert!(info.used);
    assert!(!info.not_resumable);
    assert_eq!(
        s.claim(0, &ctx.cache().config().limits, &[0x1301]),
        Err(encore_session::Unresumable::Used)
    );
    assert_eq!(tally.removed.load(Ordering::SeqCst), 0);
    assert_eq!(crate::block_on(conn.connect()), Err(Error::Failed));
    conn.clear();
    assert_eq!(conn.phase(), Phase::Idle);
    assert!(conn.session().is_none());
}

/// C25: dropping a context flushes every cache entry with a remove callback each; references
/// the application still holds stay valid and resumable.
#[test]
fn c25_dropping_context_flushes_its_cache() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let a = record(&POOL, ctx.peer_id(NAME), 1, 1);
    let b = record(&POOL, ctx.peer_id("b.encore.test"), 1, 2);
    ctx.cache().add(&a, 0).unwrap();
    ctx.cache().add(&b, 0).unwrap();
    assert_eq!((a.ref_count().unwrap(), POOL.in_use()), (2, 2));
    drop(ctx);
    assert_eq!(tally.removed.load(Ordering::SeqCst), 2);
    assert_eq!((a.ref_count().unwrap(), b.ref_count().unwrap()), (1, 1));
    assert!(!a.info().unwrap().not_resumable);
    drop((a, b));
    assert_eq!(POOL.in_use(), 0);
}

/// An engine that refuses to start (the ClientHello does not fit 64 bytes) hands the buffers
/// back: the connection is failed until `clear` (C12), and each `connect` after `clear`
/// reaches the engine again and reports the same reason.
/// The PSK mode chosen for the connection survives `clear`; nothing waits for tickets before
/// a handshake.
#[test]
fn refused_engine_start_keeps_buffers_and_settings() {
    static POOL: SessionPool<8> = SessionPool::new();
    let tally = Tally::default();
    let ctx = context(&POOL, &tally, 1);
    let (mut rx, mut tx) = ([0u8; 64], [0u8; 64]);
    let mut conn = conn!(ctx, rx, tx);
    assert_eq!(conn.psk_mode(), crate::PskMode::DheOnly);
    conn.set_psk_mode(crate::PskMode::AllowPskOnly);
    assert_eq!(
        crate::block_on(conn.await_tickets(1)),
        Err(Error::NotConnected)
    );
    for _ in 0..3 {
        assert_eq!(
            crate::block_on(conn.connect()),
            Err(Error::Tls(encore_tls::Error::BufferTooSmall))
        );
        assert_eq!(conn.phase(), Phase::Failed);
        assert_eq!(crate::block_on(conn.await_tickets(1)), Err(Error::Failed));
        conn.clear();
        assert_eq!(conn.phase(), Phase::Idle);
        assert_eq!(conn.psk_mode(), crate::PskMode::AllowPskOnly);
    }
    assert_eq!(tally.removed.load(Ordering::SeqCst), 0);
}

/// C30: the engine's offer built from a claim sends session-core's obfuscated age, the age
/// counted modulo 2^32 (an age past 2^32 ms wraps, it does not saturate), and copies the
/// ticket and the PSK from the record into the engine's place, refusing a place too small.
#[test]
fn c30_offer_from_claim_sends_the_wrapped_obfuscated_age() {
    use encore_tls::client::OfferSource;
    static POOL: SessionPool<8> = SessionPool::new();
    let peer = PeerId::new(NAME, &[], &[0; 16]);
    let s = pool_record(&POOL, peer, 0xffff_fff0);
    let now = (1u64 << 32) + 0x20;
    let claim = s.with(|r| r.offer(now)).unwrap().unwrap();
    assert_eq!(claim.ticket_age_ms, 0x20);
    assert_eq!(claim.obfuscated_age, 0x10);
    let offer = crate::glue::SessionOffer::new(&s, &claim).unwrap();
    assert_eq!(offer.obfuscated_age(), 0x10);
    assert_eq!(
        offer.suite(),
        encore_tls::crypto::CipherSuite::Aes128GcmSha256
    );
    let (mut ticket, mut psk) = ([0u8; 256], [0u8; 48]);
    assert_eq!(offer.copy_into(&mut ticket, &mut psk), Some((100, 32)));
    assert_eq!(
        (&ticket[..100], &psk[..32]),
        (&[1u8; 100][..], &[1u8; 32][..])
    );
    assert_eq!(offer.copy_into(&mut ticket[..99], &mut psk), None);
}

fn pool_record<'p>(pool: &'p SessionPool<8>, peer: PeerId, age_add: u32) -> Session<'p, 8> {
    pool.create(&NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &[1; 32],
        ticket: &[1; 100],
        lifetime_s: 7200,
        age_add,
        max_early_data: 0,
        received_ms: 0,
        received_unix: None,
        auth_age_ms: 0,
        peer,
        owner: ContextId(1),
    })
    .unwrap()
}
