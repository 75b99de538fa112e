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

/// A transport with no server behind it, which these tests never reach.
#[derive(Clone, Copy)]
enum Fake {
    /// Every call fails.
    Unplugged,
    /// Every call waits forever, as on a transport whose peer stopped reading.
    Stalled,
}

impl Fake {
    async fn call(self) -> Result<(), ErrorKind> {
        match self {
            Fake::Unplugged => Err(ErrorKind::NotConnected),
            Fake::Stalled => core::future::pending().await,
        }
    }
}

impl ErrorType for Fake {
    type Error = ErrorKind;
}

impl Read for Fake {
    async fn read(&mut self, _buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.call().await.map(|()| 0)
    }
}

impl Write for Fake {
    async fn write(&mut self, _buf: &[u8]) -> Result<usize, ErrorKind> {
        self.call().await.map(|()| 0)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.call().await
    }
}

#[derive(Default)]
struct Tally {
    removed: AtomicU32,
}

impl Tally {
    fn removed(&self) -> u32 {
        self.removed.load(Ordering::SeqCst)
    }
}

impl CacheEvents<8, 256> for Tally {
    fn removed(&self, _s: &Session<'_, 8, 256>) {
        self.removed.fetch_add(1, Ordering::SeqCst);
    }
}

const NAME: &str = "server.encore.test";

type Ctx<'a> = Context<'a, StdClock, OsRng, 4, 8>;
type Conn<'c> = Connection<'c, 'static, Fake, StdClock, OsRng, 4, 8>;

fn leak<T>(v: T) -> &'static mut T {
    std::boxed::Box::leak(std::boxed::Box::new(v))
}

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

/// What most tests start from: a pool of their own, and a context (id 1) over it whose cache
/// reports its removals to a tally.
fn setup() -> (&'static SessionPool<8>, &'static Tally, Ctx<'static>) {
    let pool: &'static SessionPool<8> = leak(SessionPool::new());
    let tally: &'static Tally = leak(Tally::default());
    (pool, tally, context(pool, tally, 1))
}

/// A connection of `ctx` to [`NAME`] over `io`, with 64-byte buffers and `tx` bytes to send.
fn conn_over<'c>(ctx: &'c Ctx<'static>, io: Fake, tx: usize) -> Conn<'c> {
    let rx: &'static mut [u8] = leak([0u8; 64]);
    let tx: &'static mut [u8] = &mut leak([0u8; 1024])[..tx];
    Connection::new(ctx, NAME, io, rx, tx)
}

/// A connection of `ctx` whose ClientHello never fits (64-byte buffers).
fn conn<'c>(ctx: &'c Ctx<'static>) -> Conn<'c> {
    conn_over(ctx, Fake::Unplugged, 64)
}

fn record<'p>(pool: &'p SessionPool<8>, peer: PeerId, owner: u32, fill: u8) -> Session<'p, 8> {
    record_aged(pool, peer, owner, fill, 0)
}

/// A record of `owner` for `peer`, with a 32-byte PSK and a 100-byte ticket of bytes `fill`,
/// and ticket_age_add `age_add`.
fn record_aged<'p>(
    pool: &'p SessionPool<8>,
    peer: PeerId,
    owner: u32,
    fill: u8,
    age_add: u32,
) -> Session<'p, 8> {
    pool.create(&NewSession {
        version: TLS13,
        cipher_suite: 0x1301,
        psk: &[fill; 32],
        ticket: &[fill; 100],
        lifetime_s: 7200,
        age_add,
        max_early_data: 0,
        received_ms: 0,
        received_unix: None,
        auth_age_ms: 0,
        peer,
        owner: ContextId(owner),
    })
    .unwrap()
}

/// A connection of `ctx` that holds `s`, cached in `ctx`, and is open (as a completed
/// handshake leaves it: C10, C13).
fn open_with<'c>(ctx: &'c Ctx<'static>, s: &Session<'static, 8>) -> Conn<'c> {
    ctx.cache().add(s, 0).unwrap();
    let mut conn = conn(ctx);
    conn.set_session(Some(s)).unwrap();
    conn.completed = true;
    conn
}

/// C1, C2, C3, C4: reference counts through set_session / session / get1_session.
#[test]
fn c1_c4_reference_counts() {
    let (pool, tally, ctx) = setup();
    let mut conn = conn(&ctx);
    let s = record(pool, ctx.peer_id(NAME), 1, 1);
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
    assert_eq!(tally.removed(), 0); // C12: fresh, nothing invalidated
    assert!(!s.info().unwrap().not_resumable);
}

/// C35: a session of another context, or for another peer identity, is an error and changes
/// nothing.
#[test]
fn c35_other_context_or_peer_is_an_error() {
    let (pool, _, ctx) = setup();
    let mut conn = conn(&ctx);
    let mine = record(pool, ctx.peer_id(NAME), 1, 1);
    conn.set_session(Some(&mine)).unwrap();

    let other_ctx = record(pool, ctx.peer_id(NAME), 2, 2);
    assert_eq!(
        conn.set_session(Some(&other_ctx)),
        Err(Error::Session(encore_session::Error::WrongOwner))
    );
    let other_peer = record(pool, ctx.peer_id("other.encore.test"), 1, 3);
    assert_eq!(
        conn.set_session(Some(&other_peer)),
        Err(Error::Session(encore_session::Error::WrongPeer))
    );
    // Another ALPN list is another peer too.
    let alpn = PeerId::new(NAME, &[b"h2"], &ctx.trust_fingerprint());
    let other_alpn = record(pool, alpn, 1, 4);
    assert_eq!(
        conn.set_session(Some(&other_alpn)),
        Err(Error::Session(encore_session::Error::WrongPeer))
    );
    // The name is compared without case (peer identity, "Decided").
    let upper = record(pool, ctx.peer_id("SERVER.Encore.TEST"), 1, 5);
    conn.set_session(Some(&upper)).unwrap();
    assert_eq!(mine.ref_count().unwrap(), 1);
    assert_eq!(other_ctx.ref_count().unwrap(), 1);
    assert_eq!(other_peer.ref_count().unwrap(), 1);
    assert_eq!(upper.ref_count().unwrap(), 2);
    // A session of another pool is another context's.
    let other_pool: &SessionPool<8> = leak(SessionPool::new());
    let foreign = record(other_pool, ctx.peer_id(NAME), 1, 6);
    assert_eq!(
        conn.set_session(Some(&foreign)),
        Err(Error::Session(encore_session::Error::WrongOwner))
    );
}

/// C10: replacing the session of an open connection evicts it, marks it not resumable, one
/// remove callback; C2 after C10 keeps the count.
#[test]
fn c10_replacing_open_session_invalidates_once() {
    let (pool, tally, ctx) = setup();
    let s = record(pool, ctx.peer_id(NAME), 1, 1);
    let mut conn = open_with(&ctx, &s);
    assert!(conn.session_open());
    conn.set_session(Some(&s)).unwrap(); // C2 with C10 first
    assert_eq!(tally.removed(), 1);
    assert!(s.info().unwrap().not_resumable);
    assert!(!ctx.cache().contains(&s));
    assert_eq!(s.ref_count().unwrap(), 2);
    // Once invalidated, nothing more to invalidate.
    let t = record(pool, ctx.peer_id(NAME), 1, 2);
    conn.set_session(Some(&t)).unwrap();
    assert_eq!(tally.removed(), 1);
    assert!(!t.info().unwrap().not_resumable);
}

/// C11: after close_notify is marked as sent, replacing keeps the session cached and
/// resumable.
#[test]
fn c11_after_set_shutdown_nothing_is_invalidated() {
    let (pool, tally, ctx) = setup();
    let s = record(pool, ctx.peer_id(NAME), 1, 1);
    let mut conn = open_with(&ctx, &s);
    conn.set_shutdown();
    assert!(!conn.session_open());
    conn.set_session(None).unwrap();
    assert_eq!(tally.removed(), 0);
    assert!(!s.info().unwrap().not_resumable);
    assert!(ctx.cache().contains(&s));
}

/// C13: dropping an open connection invalidates its session although the application holds a
/// reference; the relaxed rule keeps it.
#[test]
fn c13_drop_open_connection_invalidates_unless_relaxed() {
    let (pool, tally, ctx) = setup();
    let s = record(pool, ctx.peer_id(NAME), 1, 1);
    drop(open_with(&ctx, &s));
    assert_eq!(tally.removed(), 1);
    assert!(s.info().unwrap().not_resumable);
    assert_eq!(s.ref_count().unwrap(), 1);

    let tally2 = leak(Tally::default());
    let mut relaxed = context(pool, tally2, 1);
    relaxed.set_bad_session_rule(BadSessionRule::Keep);
    let k = record(pool, relaxed.peer_id(NAME), 1, 2);
    drop(open_with(&relaxed, &k));
    assert_eq!(tally2.removed(), 0);
    assert!(!k.info().unwrap().not_resumable);
    assert!(relaxed.cache().contains(&k));
}

/// C14, C8: clear() after a clean shutdown keeps the session; after an unclean end it drops
/// it (and invalidates an open one).
#[test]
fn c14_clear_keeps_after_clean_drops_after_unclean() {
    let (pool, tally, ctx) = setup();
    let mut conn = conn(&ctx);
    let s = record(pool, ctx.peer_id(NAME), 1, 1);
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
    assert_eq!(tally.removed(), 1);
    assert!(s.info().unwrap().not_resumable);
}

/// C12, C28: a `connect` future dropped before its ClientHello left. The record was claimed
/// before the ClientHello was built, so it is used (never offered again); nothing is
/// invalidated; the connection is failed until clear(). A second connection holding the same
/// record cannot claim it.
#[test]
fn c12_c28_dropped_connect_leaves_its_claim_used_only() {
    let (pool, tally, ctx) = setup();
    let mut conn = conn_over(&ctx, Fake::Stalled, 1024);
    let s = record(pool, ctx.peer_id(NAME), 1, 1);
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
    assert_eq!(tally.removed(), 0);
    assert_eq!(crate::block_on(conn.connect()), Err(Error::Failed));
    conn.clear();
    assert_eq!(conn.phase(), Phase::Idle);
    assert!(conn.session().is_none());
}

/// C25: dropping a context flushes every cache entry with a remove callback each; references
/// the application still holds stay valid and resumable.
#[test]
fn c25_dropping_context_flushes_its_cache() {
    let (pool, tally, ctx) = setup();
    let a = record(pool, ctx.peer_id(NAME), 1, 1);
    let b = record(pool, ctx.peer_id("b.encore.test"), 1, 2);
    ctx.cache().add(&a, 0).unwrap();
    ctx.cache().add(&b, 0).unwrap();
    assert_eq!((a.ref_count().unwrap(), pool.in_use()), (2, 2));
    drop(ctx);
    assert_eq!(tally.removed(), 2);
    assert_eq!((a.ref_count().unwrap(), b.ref_count().unwrap()), (1, 1));
    assert!(!a.info().unwrap().not_resumable);
    drop((a, b));
    assert_eq!(pool.in_use(), 0);
}

/// An engine that refuses to start (the ClientHello does not fit 64 bytes) hands the buffers
/// back: the connection is failed until `clear` (C12), and each `connect` after `clear`
/// reaches the engine again and reports the same reason.
/// The PSK mode chosen for the connection survives `clear`; nothing waits for tickets before
/// a handshake.
#[test]
fn refused_engine_start_keeps_buffers_and_settings() {
    let (_, tally, ctx) = setup();
    let mut conn = conn(&ctx);
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
    assert_eq!(tally.removed(), 0);
}

/// C30: the engine's offer built from a claim sends session-core's obfuscated age, the age
/// counted modulo 2^32 (an age past 2^32 ms wraps, it does not saturate), and copies the
/// ticket and the PSK from the record into the engine's place, refusing a place too small.
#[test]
fn c30_offer_from_claim_sends_the_wrapped_obfuscated_age() {
    let pool: &SessionPool<8> = leak(SessionPool::new());
    let peer = PeerId::new(NAME, &[], &[0; 16]);
    let s = record_aged(pool, peer, 1, 1, 0xffff_fff0);
    let now = (1u64 << 32) + 0x20;
    // What a claim reads, without the claim's C7 check (the record expired long ago).
    s.with(|record| {
        let claim = &record.offer(now).unwrap();
        assert_eq!(claim.ticket_age_ms, 0x20);
        assert_eq!(claim.obfuscated_age, 0x10);
        let offer = crate::glue::record_offer(record, claim).unwrap();
        assert_eq!(offer.obfuscated_age, 0x10);
        assert_eq!(
            offer.suite,
            encore_tls::crypto::CipherSuite::Aes128GcmSha256
        );
        let (mut ticket, mut psk) = ([0u8; 256], [0u8; 48]);
        assert_eq!(offer.copy_into(&mut ticket, &mut psk), Some((100, 32)));
        assert_eq!(
            (&ticket[..100], &psk[..32]),
            (&[1u8; 100][..], &[1u8; 32][..])
        );
        assert_eq!(offer.copy_into(&mut ticket[..99], &mut psk), None);
    })
    .unwrap();
}
