//! The session contract at connection level, against real servers on 127.0.0.1: `openssl
//! s_server` and the rustls server of the shared harness. Each test names the rules it proves;
//! the servers' own evidence (rustls' handshake kind, s_server's "Reused session-id") says
//! whether a handshake resumed.

use encore_testkit as common;
mod support;

use std::io::Read as _;
use std::net::TcpListener;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::task::Poll;
use std::time::Duration;

use common::{OpenSslServer, Reply, RustlsOptions, RustlsServer, TestPki, TicketMode};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use encore_cache::{CacheConfig, CacheEvents, CacheMode};
use encore_client::{block_on, Connection, Context, Error, OsRng, Phase, StdClock, StdTransport};
use encore_session::{NewSession, Session, SessionPool, TLS13};
use encore_tls::{ClientConfig, KeyExchangeMode, PskMode};
use support::{
    anchors, buffers, leak, poll_once, resumed_flags, round_trip, ticket_of, transport, CONTEXT_ID,
    NAME, RX, WAIT,
};

const P: usize = 16;

/// The cache configuration of an application that sets sessions by hand (C26).
const NO_LOOKUP: CacheConfig = CacheConfig {
    mode: CacheMode::NO_INTERNAL_LOOKUP,
    ..CacheConfig::DEFAULT
};

#[derive(Default)]
struct Tally {
    new: AtomicU32,
    removed: AtomicU32,
}

impl Tally {
    fn new_count(&self) -> u32 {
        self.new.load(Ordering::SeqCst)
    }
    fn removed_count(&self) -> u32 {
        self.removed.load(Ordering::SeqCst)
    }
}

impl CacheEvents<P, 256> for Tally {
    fn new_session(&self, _s: &Session<'_, P, 256>) {
        self.new.fetch_add(1, Ordering::SeqCst);
    }
    fn removed(&self, _s: &Session<'_, P, 256>) {
        self.removed.fetch_add(1, Ordering::SeqCst);
    }
}

type Ctx<'a, const N: usize> = Context<'a, StdClock, OsRng, N, P>;
type Conn<'c, 'a, const N: usize, S = StdTransport> = Connection<'c, 'a, S, StdClock, OsRng, N, P>;

fn pool() -> &'static SessionPool<P> {
    leak(SessionPool::new())
}

/// A context of `N` entries over a pool of its own, trusting `pki`, with a fresh tally of its
/// cache's callbacks.
fn context<const N: usize>(
    pki: &TestPki,
    cache: CacheConfig,
    tweak: impl FnOnce(&mut ClientConfig<'static>),
) -> (Ctx<'static, N>, &'static Tally) {
    let tally = leak(Tally::default());
    (context_in(pool(), pki, tally, cache, tweak), tally)
}

fn context_in<const N: usize>(
    pool: &'static SessionPool<P>,
    pki: &TestPki,
    tally: &'static Tally,
    cache: CacheConfig,
    tweak: impl FnOnce(&mut ClientConfig<'static>),
) -> Ctx<'static, N> {
    let mut tls = ClientConfig::new(anchors(&pki.ca_der));
    tweak(&mut tls);
    Context::with_events(CONTEXT_ID, tls, pool, cache, tally, clock(), OsRng)
}

/// A fresh PKI, the rustls server with its default options, and a [`context`] trusting it.
fn rustls_setup<const N: usize>(
    cache: CacheConfig,
) -> (TestPki, RustlsServer, Ctx<'static, N>, &'static Tally) {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let (ctx, tally) = context(&pki, cache, |_| {});
    (pki, server, ctx, tally)
}

/// One monotonic clock for every context of the test binary, as a device has one: records
/// carry their monotonic time of receipt, so contexts that share a pool share the clock.
fn clock() -> StdClock {
    static CLOCK: std::sync::OnceLock<StdClock> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(StdClock::new)
}

fn conn<'c, const N: usize>(ctx: &'c Ctx<'static, N>, port: u16) -> Conn<'c, 'static, N> {
    support::connection(ctx, NAME, transport(port))
}

/// Waits for the rustls server's two tickets, writes `msg`, reads until the echo came back.
///
/// The tickets are awaited first because the harness server stops serving a connection whose
/// first application data arrived in the same read as the client Finished.
fn echo<const N: usize>(c: &mut Conn<'_, 'static, N>, msg: &[u8]) -> Vec<u8> {
    let want = c.stats().tickets_received + 2;
    await_tickets(c, want);
    round_trip(c, msg)
}

/// Waits (`Connection::await_tickets`) until `n` tickets arrived, or a short idle timeout
/// passed (servers that send fewer).
fn await_tickets<const N: usize>(c: &mut Conn<'_, 'static, N>, n: usize) {
    c.transport_mut()
        .0
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    match block_on(c.await_tickets(n)) {
        Ok(_) | Err(Error::Io(ErrorKind::TimedOut)) => {}
        Err(e) => panic!("await_tickets: {e:?}"),
    }
    c.transport_mut().0.set_read_timeout(Some(WAIT)).unwrap();
}

/// A handshake with the rustls server at `port`, its two tickets and an echo: the connection,
/// still open, and its session, the newest ticket's record (C5).
fn connected<'c, const N: usize>(
    ctx: &'c Ctx<'static, N>,
    port: u16,
) -> (Conn<'c, 'static, N>, Session<'static, P>) {
    let mut c = conn(ctx, port);
    block_on(c.connect()).unwrap();
    echo(&mut c, b"x");
    let s = c.get1_session().unwrap().unwrap();
    (c, s)
}

/// [`connected`], then closed cleanly: the session of that connection.
fn first_session<const N: usize>(ctx: &Ctx<'static, N>, port: u16) -> Session<'static, P> {
    let (mut c, s) = connected(ctx, port);
    block_on(c.shutdown()).unwrap();
    s
}

/// C5, C8, C26, C36: a full handshake has no session until the first ticket, then the newest
/// ticket's; the next connection takes a ticket from the context's cache by itself, resumes
/// (the server says so), and holds the very record it offered.
#[test]
fn c5_c8_full_then_automatic_resumption_rustls() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let mut c = conn(&ctx, server.port());
    assert!(!c.session_reused()); // C8: before any handshake
    let hs = block_on(c.connect()).unwrap();
    assert!(!hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert!(!c.session_reused()); // C8: after a full one
                                  // C5: tickets follow the client Finished, so none has arrived yet.
    assert!(c.session().is_none());
    assert_eq!(c.stats().tickets_received, 0);
    assert_eq!(echo(&mut c, b"ping"), b"ping");
    assert_eq!(c.stats().tickets_received, 2);
    assert_eq!((t.new_count(), ctx.cache().len()), (2, 2));
    // C5: the newest ticket's record is the connection's session.
    let newest = c.get1_session().unwrap().unwrap();
    let mut ids = [None; 8];
    assert_eq!(ctx.cache().entries(&mut ids), 2);
    assert_eq!(ids[1], Some(newest.id()));
    assert!(block_on(c.shutdown()).is_ok());
    drop(c);
    drop(newest);

    let mut r = conn(&ctx, server.port());
    let hs = block_on(r.connect()).unwrap();
    assert!(hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::PskDhe);
    assert!(r.session_reused()); // C8
                                 // C36: the newest ticket was taken out (a hit, no remove callback); C5: it is the session.
    assert_eq!(r.session().map(|s| s.id()), ids[1]);
    assert!(r.session().unwrap().info().unwrap().used);
    assert_eq!(ctx.cache().stats().hits, 1);
    assert_eq!(t.removed_count(), 0);
    assert_eq!(echo(&mut r, b"again"), b"again");
    block_on(r.shutdown()).unwrap();
    drop(r);
    assert_eq!(resumed_flags(&server, 2), [false, true]);
    assert_eq!(t.removed_count(), 0);
}

/// C1, C4, C8, C28, C11: a session saved from one connection, set on another with
/// set_session, resumes against openssl s_server, which reports the reuse itself; the offered
/// record is used once the connection has offered it.
#[test]
fn c1_c8_c28_set_session_resumes_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-num_tickets", "2"]);
    let (ctx, t) = context::<8>(&pki, NO_LOOKUP, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    await_tickets(&mut c, 2);
    assert_eq!(c.stats().tickets_received, 2);
    let saved = c.get1_session().unwrap().unwrap();
    assert_eq!(saved.ref_count().unwrap(), 3); // cache, connection, saved (C4)
    block_on(c.shutdown()).unwrap();
    drop(c);
    assert_eq!(saved.ref_count().unwrap(), 2);
    assert!(!saved.info().unwrap().used);

    let mut r = conn(&ctx, server.port());
    // NO_INTERNAL_LOOKUP: without set_session nothing would be offered (C26).
    r.set_session(Some(&saved)).unwrap();
    assert_eq!(saved.ref_count().unwrap(), 3); // C1
    let hs = block_on(r.connect()).unwrap();
    assert!(hs.resumed);
    assert!(r.session_reused());
    assert!(saved.info().unwrap().used); // C28
    assert_eq!(r.session(), Some(&saved)); // C5: the very record offered
    await_tickets(&mut r, 1);
    block_on(r.shutdown()).unwrap();
    drop(r);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    // C11: a clean close invalidates nothing. The used record left the cache as stale when the
    // next ticket was added (auto-flush, counted as a timeout, with its remove callback).
    assert!(!saved.info().unwrap().not_resumable);
    assert!(!ctx.cache().contains(&saved));
    assert_eq!((t.removed_count(), ctx.cache().stats().timeouts), (1, 1));
}

/// C6, C34: the server restarted with new ticket keys declines the ticket: a full handshake,
/// the connection's reference to the offered record released, session_reused false, fresh
/// tickets that resume on the next connection. No error.
#[test]
fn c6_c34_server_with_new_ticket_keys_declines_then_fresh_tickets_resume() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let old = first_session(&ctx, server.port());
    ctx.cache().flush_all();
    let removed_before = t.removed_count();

    server.rotate_ticket_keys();
    let mut d = conn(&ctx, server.port());
    d.set_session(Some(&old)).unwrap();
    assert_eq!(old.ref_count().unwrap(), 2);
    let hs = block_on(d.connect()).unwrap();
    assert!(!hs.resumed);
    assert!(hs.offer_declined);
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert!(!d.session_reused()); // C6
    assert_eq!(old.ref_count().unwrap(), 1); // C6: the connection's reference released
    assert!(old.info().unwrap().used); // C28: it was offered
    echo(&mut d, b"two");
    assert_eq!(d.stats().tickets_received, 2); // C34: fresh tickets
    assert_ne!(d.session(), Some(&old));
    block_on(d.shutdown()).unwrap();
    drop(d);

    let mut e = conn(&ctx, server.port());
    assert!(block_on(e.connect()).unwrap().resumed);
    block_on(e.shutdown()).unwrap();
    drop(e);
    assert_eq!(resumed_flags(&server, 3), [false, false, true]);
    assert_eq!(t.removed_count(), removed_before);
}

/// C7: a session that is not resumable is never offered: a full handshake, nothing declined.
#[test]
fn c7_unresumable_session_is_not_offered() {
    let (_pki, server, ctx, _) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let s = first_session(&ctx, server.port());
    ctx.cache().flush_all();
    s.mark_not_resumable().unwrap();

    let mut d = conn(&ctx, server.port());
    d.set_session(Some(&s)).unwrap();
    let hs = block_on(d.connect()).unwrap();
    assert!(!hs.resumed);
    assert!(!hs.offer_declined); // nothing was offered
    assert!(!s.info().unwrap().used);
    assert!(d.session().is_none()); // C5: none until a ticket
    block_on(d.shutdown()).unwrap();
    drop(d);
    assert_eq!(resumed_flags(&server, 2), [false, false]);
}

/// C10: replacing the session of an open connection evicts it from the cache, marks it not
/// resumable, one remove callback; C11: after shutdown the same replacement keeps it.
#[test]
fn c10_c11_replacing_open_and_closed_sessions_rustls() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);

    let (mut open, spoiled) = connected(&ctx, server.port());
    assert!(ctx.cache().contains(&spoiled));
    assert!(open.session_open());
    open.set_session(None).unwrap();
    assert_eq!(t.removed_count(), 1);
    assert!(!ctx.cache().contains(&spoiled));
    assert!(spoiled.info().unwrap().not_resumable);
    drop(open); // C10 fired once; dropping invalidates nothing more
    assert_eq!(t.removed_count(), 1);

    let (mut closed, kept) = connected(&ctx, server.port());
    block_on(closed.shutdown()).unwrap();
    closed.set_session(None).unwrap();
    drop(closed);
    assert_eq!(t.removed_count(), 1);
    assert!(ctx.cache().contains(&kept));
    assert!(!kept.info().unwrap().not_resumable);
}

/// C13: dropping an open connection invalidates its session although the application holds a
/// reference; the reference stays valid.
#[test]
fn c13_drop_open_connection_invalidates_session_rustls() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let (c, held) = connected(&ctx, server.port());
    drop(c);
    assert_eq!(t.removed_count(), 1);
    assert!(held.info().unwrap().not_resumable);
    assert!(!ctx.cache().contains(&held));
    assert_eq!(held.ref_count().unwrap(), 1);
    // The other ticket of that connection stays cached.
    assert_eq!(ctx.cache().len(), 1);
}

/// C10, C13 relaxed by `BadSessionRule::Keep` (RFC 5246 §7.2.1): replacing the session of an
/// open connection and dropping an open connection invalidate nothing, and the kept session
/// resumes; a fatal alert still invalidates (C15, checked elsewhere).
#[test]
fn c10_c13_keep_rule_invalidates_nothing_rustls() {
    let (_pki, server, mut ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    ctx.set_bad_session_rule(encore_client::BadSessionRule::Keep);
    let (mut c, first) = connected(&ctx, server.port());
    assert!(c.session_open());
    c.set_session(None).unwrap(); // C10 relaxed
    drop(c); // C13 relaxed: still open, no close_notify
    assert_eq!(t.removed_count(), 0);
    assert!(!first.info().unwrap().not_resumable);
    assert_eq!(ctx.cache().len(), 2);
    let mut r = conn(&ctx, server.port());
    r.set_session(Some(&first)).unwrap();
    assert!(block_on(r.connect()).unwrap().resumed);
    echo(&mut r, b"y");
    drop(r);
    assert_eq!(resumed_flags(&server, 2), [false, true]);
}

/// C14, C8: clear() after a clean shutdown keeps the session, and the next connect offers it;
/// after an unclean end (no close_notify) clear() invalidates and drops it.
#[test]
fn c14_clear_and_reconnect_rustls() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(NO_LOOKUP);
    let (mut c, newest) = connected(&ctx, server.port());
    block_on(c.shutdown()).unwrap();
    c.clear();
    assert_eq!(c.session(), Some(&newest)); // C14: kept
    assert!(!c.session_reused());
    c.replace_transport(transport(server.port()));
    assert!(block_on(c.connect()).unwrap().resumed);
    assert!(c.session_reused());
    echo(&mut c, b"y");
    // The used record left the cache as stale when the next ticket was added.
    assert!(!newest.info().unwrap().not_resumable);
    assert_eq!((t.removed_count(), ctx.cache().stats().timeouts), (1, 1));

    // Unclean: cleared while open.
    let current = c.get1_session().unwrap().unwrap();
    assert_ne!(current, newest);
    c.clear();
    assert!(c.session().is_none());
    assert!(!c.session_reused()); // C8
    assert!(current.info().unwrap().not_resumable);
    assert_eq!(t.removed_count(), 2);
    c.replace_transport(transport(server.port()));
    assert!(!block_on(c.connect()).unwrap().resumed); // nothing set, no internal lookup
    block_on(c.shutdown()).unwrap();
    drop(c);
    assert_eq!(resumed_flags(&server, 3), [false, true, false]);
}

/// A transport that stops answering reads once the first write went through, so that a
/// `connect` future is left waiting after its ClientHello left.
struct StallAfterWrite {
    inner: StdTransport,
    written: bool,
}

impl ErrorType for StallAfterWrite {
    type Error = ErrorKind;
}

impl Read for StallAfterWrite {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        if self.written {
            std::future::pending::<()>().await;
        }
        self.inner.read(buf).await
    }
}

impl Write for StallAfterWrite {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = self.inner.write(buf).await?;
        self.written = true;
        Ok(n)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.inner.flush().await
    }
}

/// C12, C28: a `connect` future dropped after its ClientHello left: the connection is failed
/// until clear(), the offered ticket counts as used, nothing is invalidated; after clear() the
/// connection connects again.
#[test]
fn c12_connect_future_dropped_mid_way() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    first_session(&ctx, server.port());
    let cached = ctx.cache().len();
    assert_eq!(cached, 2);

    let io = StallAfterWrite {
        inner: transport(server.port()),
        written: false,
    };
    let mut s = support::connection(&ctx, NAME, io);
    {
        let mut fut = pin!(s.connect());
        assert!(poll_once(fut.as_mut()).is_pending());
    }
    assert_eq!(s.phase(), Phase::Failed);
    let offered = s.get1_session().unwrap().unwrap();
    let info = offered.info().unwrap();
    assert!(info.used); // C28: taken and sent
    assert!(!info.not_resumable); // C12: nothing invalidated
    assert_eq!(t.removed_count(), 0);
    assert_eq!(ctx.cache().len(), 1); // the other ticket is still cached
    assert_eq!(block_on(s.connect()), Err(Error::Failed));
    s.clear();
    assert_eq!(s.phase(), Phase::Idle);
    assert!(s.session().is_none());
    drop(s);
    drop(offered);
    let mut again = conn(&ctx, server.port());
    let hs = block_on(again.connect()).unwrap();
    assert!(hs.resumed); // the remaining cached ticket
    block_on(again.shutdown()).unwrap();
    assert_eq!(t.removed_count(), 0);
}

/// A transport that connects to the server at its first write, records every byte it
/// writes, and whose writes wait (stay pending) while its gate is closed. A `connect` future
/// polled once on it stops with its ClientHello built and nothing sent, not even a TCP
/// connection opened; another connection can then run a whole handshake in between.
struct Gated {
    port: u16,
    inner: Option<StdTransport>,
    open: &'static AtomicBool,
    sent: &'static Mutex<Vec<u8>>,
}

/// A connection of `ctx` to the server at `port` over a [`Gated`] transport whose gate is
/// `open`, with that gate and the bytes sent.
fn gated<'c, const N: usize>(
    ctx: &'c Ctx<'static, N>,
    port: u16,
    open: bool,
) -> (
    Conn<'c, 'static, N, Gated>,
    &'static AtomicBool,
    &'static Mutex<Vec<u8>>,
) {
    let io = Gated {
        port,
        inner: None,
        open: leak(AtomicBool::new(open)),
        sent: leak(Mutex::new(Vec::new())),
    };
    let (gate, sent) = (io.open, io.sent);
    (support::connection(ctx, NAME, io), gate, sent)
}

impl Gated {
    fn stream(&mut self) -> &mut StdTransport {
        let port = self.port;
        self.inner.get_or_insert_with(|| transport(port))
    }
}

impl ErrorType for Gated {
    type Error = ErrorKind;
}

impl Read for Gated {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.stream().read(buf).await
    }
}

impl Write for Gated {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let open = self.open;
        std::future::poll_fn(|_| {
            if open.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        let n = self.stream().write(buf).await?;
        self.sent.lock().unwrap().extend_from_slice(&buf[..n]);
        Ok(n)
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.stream().flush().await
    }
}

/// How many times `needle` occurs in `haystack`.
fn occurrences(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .filter(|w| *w == needle)
        .count()
}

/// C28 (RFC 8446 Appendix C.4), C7, C12: one session set on two connections that connect at
/// the same time is offered by exactly one. The first `connect` claims the record and stops
/// with its ClientHello unsent; the second, run to its end meanwhile, finds the record used
/// and makes a full handshake without offering it; then the first sends its ClientHello and
/// resumes. On the wire the ticket appears once, in the first connection's ClientHello.
#[test]
fn c28_session_set_on_two_concurrent_connections_is_offered_once_rustls() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(NO_LOOKUP);
    let saved = first_session(&ctx, server.port());
    let ticket = ticket_of(&saved);
    assert!(!saved.info().unwrap().used);

    let (mut first, first_gate, first_sent) = gated(&ctx, server.port(), false);
    let (mut second, _, second_sent) = gated(&ctx, server.port(), true);
    first.set_session(Some(&saved)).unwrap();
    second.set_session(Some(&saved)).unwrap();
    {
        let mut fut = pin!(first.connect());
        assert!(poll_once(fut.as_mut()).is_pending());
        // C28: claimed before its ClientHello left; nothing was sent yet.
        assert!(saved.info().unwrap().used);
        assert!(first_sent.lock().unwrap().is_empty());

        let hs = block_on(second.connect()).unwrap();
        assert!(!hs.resumed);
        assert!(!hs.offer_declined); // C7: not offered at all
        assert_eq!(hs.kex, KeyExchangeMode::Full);
        assert!(second.session().is_none()); // C5: none until a ticket

        first_gate.store(true, Ordering::SeqCst);
        let hs = block_on(fut).unwrap();
        assert!(hs.resumed);
        assert_eq!(hs.kex, KeyExchangeMode::PskDhe);
    }
    assert!(first.session_reused());
    assert_eq!(first.session(), Some(&saved)); // C5: the very record offered
    assert_eq!(occurrences(&first_sent.lock().unwrap(), &ticket), 1);
    assert_eq!(occurrences(&second_sent.lock().unwrap(), &ticket), 0);
    block_on(first.shutdown()).unwrap();
    block_on(second.shutdown()).unwrap();
    drop((first, second));
    let records = server.wait_connections(3, WAIT);
    assert_eq!(records.len(), 3);
    assert_eq!(records.iter().filter(|c| c.resumed).count(), 1);
    // C12: nothing was invalidated along the way.
    assert!(!saved.info().unwrap().not_resumable);
    assert_eq!(t.removed_count(), 0);
}

/// C28, C36: a record both cached and set on a connection is offered once. The connection it
/// is set on claims it and stops with its ClientHello unsent; a second connection, with no
/// session set, takes from the cache: the claimed record leaves the cache as stale (a timeout,
/// one remove callback) and the other cached ticket is taken and resumes instead. Each
/// ticket appears on the wire once, each in its own connection's ClientHello.
#[test]
fn c28_c36_record_cached_and_set_is_offered_once_rustls() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let newest = first_session(&ctx, server.port());
    let mut ids = [None; 8];
    assert_eq!(ctx.cache().entries(&mut ids), 2);
    assert_eq!(ids[1], Some(newest.id()));
    let older_id = ids[0].unwrap();
    let newest_ticket = ticket_of(&newest);

    let (mut set, set_gate, set_sent) = gated(&ctx, server.port(), false);
    let (mut cached, _, cached_sent) = gated(&ctx, server.port(), true);
    set.set_session(Some(&newest)).unwrap();
    {
        let mut fut = pin!(set.connect());
        assert!(poll_once(fut.as_mut()).is_pending());
        assert!(newest.info().unwrap().used);

        let hs = block_on(cached.connect()).unwrap();
        assert!(hs.resumed);
        // C5, C36: the older ticket was taken; the claimed one left the cache as stale.
        assert_eq!(cached.session().map(|s| s.id()), Some(older_id));
        assert_eq!(ctx.cache().len(), 0);
        assert_eq!(ctx.cache().stats().hits, 1);
        assert_eq!(ctx.cache().stats().timeouts, 1);
        assert_eq!(t.removed_count(), 1);

        set_gate.store(true, Ordering::SeqCst);
        let hs = block_on(fut).unwrap();
        assert!(hs.resumed);
    }
    assert_eq!(set.session(), Some(&newest));
    let older_ticket = ticket_of(cached.session().unwrap());
    assert_ne!(older_ticket, newest_ticket);
    let set_sent = set_sent.lock().unwrap().clone();
    let cached_sent = cached_sent.lock().unwrap().clone();
    assert_eq!(occurrences(&set_sent, &newest_ticket), 1);
    assert_eq!(occurrences(&set_sent, &older_ticket), 0);
    assert_eq!(occurrences(&cached_sent, &older_ticket), 1);
    assert_eq!(occurrences(&cached_sent, &newest_ticket), 0);
    block_on(set.shutdown()).unwrap();
    block_on(cached.shutdown()).unwrap();
    drop((set, cached));
    assert_eq!(resumed_flags(&server, 3), [false, true, true]);
}

/// C15 (received) and C6: a fatal alert from the server (rustls answers a wrong binder with
/// decrypt_error) invalidates the offered session: not resumable, one remove callback.
#[test]
fn c15_fatal_alert_from_server_invalidates_offered_session() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let real = first_session(&ctx, server.port());
    ctx.cache().flush_all();
    let removed_before = t.removed_count();

    // The server's real ticket with a PSK that is not the one it encrypts.
    let ticket = ticket_of(&real);
    let info = real.info().unwrap();
    let forged = ctx
        .pool()
        .create(&NewSession {
            version: TLS13,
            cipher_suite: info.cipher_suite,
            psk: &[0x55; 32],
            ticket: &ticket,
            lifetime_s: info.lifetime_s,
            age_add: info.age_add,
            max_early_data: 0,
            received_ms: ctx.now_ms(),
            received_unix: None,
            auth_age_ms: 0,
            peer: info.peer,
            owner: info.owner,
        })
        .unwrap();
    let mut d = conn(&ctx, server.port());
    d.set_session(Some(&forged)).unwrap();
    let err = block_on(d.connect()).unwrap_err();
    // The server refuses the ClientHello itself: the binder does not verify.
    assert_eq!(
        err,
        Error::Tls(encore_tls::Error::HelloRefused(
            encore_tls::wire::AlertDescription::DECRYPT_ERROR
        ))
    );
    assert!(err.is_fatal_alert());
    assert_eq!(d.phase(), Phase::Failed);
    assert!(forged.info().unwrap().not_resumable);
    assert_eq!(t.removed_count(), removed_before + 1);
    drop(d); // not open: nothing more
    assert_eq!(t.removed_count(), removed_before + 1);
}

/// C15 (sent): the client rejects the server's expired certificate with a fatal alert; the
/// session it had offered (declined by that server) is invalidated, once.
#[test]
fn c15_fatal_alert_sent_invalidates_offered_session() {
    let (pki, good, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let s = first_session(&ctx, good.port());
    ctx.cache().flush_all();
    let removed_before = t.removed_count();

    // Same name and trust (the port is not part of the peer identity), another server.
    let bad = OpenSslServer::start_with_leaf(&pki, common::LeafKind::Expired, &[]);
    let mut d = conn(&ctx, bad.port());
    d.set_session(Some(&s)).unwrap();
    let err = block_on(d.connect()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tls(encore_tls::Error::Certificate(
                encore_tls::crypto::CertError::Expired { .. }
            ))
        ),
        "{err:?}"
    );
    assert!(err.is_fatal_alert());
    assert!(s.info().unwrap().not_resumable);
    assert_eq!(t.removed_count(), removed_before + 1);
}

/// A connection dropped mid-handshake (the server closes the socket after the ClientHello):
/// an error, the offered ticket used (C28) but not invalidated (no fatal alert, C15).
#[test]
fn transport_closed_mid_handshake_is_an_error_without_invalidation() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let s = first_session(&ctx, server.port());

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closer = std::thread::spawn(move || {
        let (mut sock, _) = listener.accept().unwrap();
        let mut hdr = [0u8; 5];
        sock.read_exact(&mut hdr).unwrap();
        let len = usize::from(u16::from_be_bytes([hdr[3], hdr[4]]));
        let mut body = vec![0u8; len];
        sock.read_exact(&mut body).unwrap();
        hdr[0] // dropped here: the connection closes mid-handshake
    });
    let mut d = conn(&ctx, port);
    d.set_session(Some(&s)).unwrap();
    assert_eq!(block_on(d.connect()), Err(Error::TransportClosed));
    assert_eq!(closer.join().unwrap(), 22); // a handshake record was received
    assert_eq!(d.phase(), Phase::Failed);
    let info = s.info().unwrap();
    assert!(info.used);
    assert!(!info.not_resumable);
    let removed = t.removed_count();
    drop(d);
    assert_eq!(t.removed_count(), removed);
}

/// C23, C37: a cache of one entry and one ticket per peer overflows; the ticket just received
/// stays the connection's session and resumes the next connection.
#[test]
fn c23_small_cache_overflow_keeps_negotiated_session_usable() {
    let (_pki, server, ctx, _) = rustls_setup::<1>(CacheConfig {
        max_per_peer: 1,
        ..CacheConfig::DEFAULT
    });
    let (mut c, newest) = connected(&ctx, server.port());
    assert_eq!(c.stats().tickets_received, 2);
    assert_eq!(ctx.cache().len(), 1);
    assert_eq!(ctx.cache().stats().dropped, 1); // C37
    assert!(!ctx.cache().contains(&newest));
    assert_eq!(
        newest.resumable(ctx.now_ms(), &CacheConfig::DEFAULT.limits, &[0x1301]),
        Ok(())
    );
    block_on(c.shutdown()).unwrap();
    drop(c);

    let mut d = conn(&ctx, server.port());
    d.set_session(Some(&newest)).unwrap();
    assert!(block_on(d.connect()).unwrap().resumed);
    assert_eq!(d.session(), Some(&newest));
    block_on(d.shutdown()).unwrap();
}

/// C7, C31: a ticket is offered only with suites of its hash. Three contexts with the same
/// id over one pool (an application reconfigured across reboots): one makes a SHA-384 ticket;
/// one offering only SHA-256 suites does not offer it (full handshake); one that prefers
/// TLS_AES_128_GCM_SHA256 offers the ticket with TLS_AES_256_GCM_SHA384, the only suite of the
/// ticket's hash, listed first and followed by the other configured suites (a server that
/// declines the ticket may pick any of them; one that accepts it with another hash's suite is
/// an illegal_parameter). The server, which follows the client's order, resumes with
/// TLS_AES_256_GCM_SHA384.
#[test]
fn c7_c31_ticket_offered_only_with_suites_of_its_hash() {
    use encore_tls::crypto::CipherSuite;
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let t = leak(Tally::default());
    let shared = pool();
    let sha384: Ctx<'_, 8> = context_in(shared, &pki, t, CacheConfig::DEFAULT, |tls| {
        tls.cipher_suites = &[CipherSuite::Aes256GcmSha384];
    });
    let s = first_session(&sha384, server.port());
    assert_eq!(s.info().unwrap().cipher_suite, 0x1302);

    let sha256: Ctx<'_, 8> = context_in(shared, &pki, t, CacheConfig::DEFAULT, |tls| {
        tls.cipher_suites = &[
            CipherSuite::Aes128GcmSha256,
            CipherSuite::Chacha20Poly1305Sha256,
        ];
    });
    let mut d = conn(&sha256, server.port());
    d.set_session(Some(&s)).unwrap();
    let hs = block_on(d.connect()).unwrap();
    assert!(!hs.resumed);
    assert!(!hs.offer_declined); // not offered at all (C7)
    assert!(!s.info().unwrap().used);
    block_on(d.shutdown()).unwrap();
    drop(d);

    let all: Ctx<'_, 8> = context_in(shared, &pki, t, CacheConfig::DEFAULT, |_| {});
    assert_eq!(
        all.tls_config().cipher_suites[0],
        CipherSuite::Aes128GcmSha256
    );
    let mut e = conn(&all, server.port());
    e.set_session(Some(&s)).unwrap();
    let hs = block_on(e.connect()).unwrap();
    assert!(hs.resumed, "{hs:?} {:?}", server.connections());
    assert_eq!(hs.suite, CipherSuite::Aes256GcmSha384);
    block_on(e.shutdown()).unwrap();
    let records = server.wait_connections(3, WAIT);
    assert_eq!(
        records
            .iter()
            .map(|c| (c.resumed, c.suite))
            .collect::<Vec<_>>(),
        [
            (false, Some(0x1302)),
            (false, Some(0x1301)),
            (true, Some(0x1302))
        ]
    );
}

/// C33, C35: a session is offered only to its peer identity. A connection to another name of
/// the same server finds nothing in the cache (a full handshake), and set_session with the
/// other name's session is an error.
#[test]
fn c33_c35_session_only_for_its_peer_identity() {
    let pki = TestPki::generate(&[NAME, "other.encore.test"]);
    let server = RustlsServer::start(&pki, RustlsOptions::default());
    let (ctx, _) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    let s = first_session(&ctx, server.port());

    let mut other = support::connection(&ctx, "other.encore.test", transport(server.port()));
    assert_eq!(
        other.set_session(Some(&s)),
        Err(Error::Session(encore_session::Error::WrongPeer))
    );
    let hs = block_on(other.connect()).unwrap();
    assert!(!hs.resumed);
    assert!(!hs.offer_declined);
    // One miss for the first connection (empty cache), one for the other name.
    assert_eq!(ctx.cache().stats().misses, 2);
    assert_eq!(ctx.cache().stats().hits, 0);
    block_on(other.shutdown()).unwrap();
    let records = server.wait_connections(2, WAIT);
    assert_eq!(records[1].sni.as_deref(), Some("other.encore.test"));
    assert!(!records[1].resumed);
}

/// CONTRACT "Decided": a server that closes first (close_notify after its reply) is answered
/// with our close_notify, and the session stays cached and resumable (C11).
#[test]
fn server_close_notify_is_answered_and_session_kept() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            reply: Reply::Fixed(b"bye".to_vec()),
            ..RustlsOptions::default()
        },
    );
    let (ctx, t) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    await_tickets(&mut c, 2);
    block_on(c.write(b"hi")).unwrap();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    loop {
        let n = block_on(c.read(&mut buf)).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, b"bye");
    assert!(c.close_notify_received());
    assert!(c.close_notify_sent()); // answered
    assert!(!c.session_open());
    let s = c.get1_session().unwrap().unwrap();
    drop(c);
    assert_eq!(t.removed_count(), 0);
    assert!(!s.info().unwrap().not_resumable);
    assert!(ctx.cache().contains(&s));
}

/// psk_ke against `openssl s_server -allow_no_dhe_kex`: the resumption runs without (EC)DHE.
#[test]
fn psk_ke_resumption_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-allow_no_dhe_kex"]);
    let (ctx, _) = context::<8>(&pki, CacheConfig::DEFAULT, |tls| {
        tls.psk_mode = PskMode::AllowPskOnly;
    });
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    await_tickets(&mut c, 2);
    block_on(c.shutdown()).unwrap();
    drop(c);
    let mut r = conn(&ctx, server.port());
    let hs = block_on(r.connect()).unwrap();
    assert!(hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::Psk);
    block_on(r.shutdown()).unwrap();
    assert_eq!(server.wait_resumed(1, WAIT), 1);
}

/// Stateful single-use tickets (rustls' session cache): each resumes once; the second
/// connection takes the other ticket.
#[test]
fn c28_stateful_tickets_each_used_once_rustls() {
    let pki = TestPki::generate(&[NAME]);
    let server = RustlsServer::start(
        &pki,
        RustlsOptions {
            tickets: TicketMode::Stateful,
            ..RustlsOptions::default()
        },
    );
    let (ctx, _) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    first_session(&ctx, server.port());
    assert_eq!(ctx.cache().len(), 2);
    for _ in 0..2 {
        let mut r = conn(&ctx, server.port());
        assert!(block_on(r.connect()).unwrap().resumed);
        assert!(r.session().unwrap().info().unwrap().used);
        block_on(r.shutdown()).unwrap();
    }
    let records = server.wait_connections(3, WAIT);
    assert_eq!(records.iter().filter(|c| c.resumed).count(), 2);
}

/// C34 with openssl: a session from one s_server process offered to a new process (new ticket
/// keys; same name and trust, and the port is not part of the peer identity): a full handshake
/// and fresh tickets, no error.
#[test]
fn c34_openssl_restarted_declines_and_issues_fresh_tickets() {
    let pki = TestPki::generate(&[NAME]);
    let first = OpenSslServer::start(&pki, &[]);
    let (ctx, _) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    let mut c = conn(&ctx, first.port());
    block_on(c.connect()).unwrap();
    await_tickets(&mut c, 2);
    let old = c.get1_session().unwrap().unwrap();
    block_on(c.shutdown()).unwrap();
    drop(c);
    drop(first);
    ctx.cache().flush_all();

    let second = OpenSslServer::start(&pki, &[]);
    let mut d = conn(&ctx, second.port());
    d.set_session(Some(&old)).unwrap();
    let hs = block_on(d.connect()).unwrap();
    assert!(hs.offer_declined);
    assert!(!d.session_reused());
    assert_eq!(old.ref_count().unwrap(), 1); // C6
    await_tickets(&mut d, 2);
    assert_eq!(d.stats().tickets_received, 2);
    block_on(d.shutdown()).unwrap();
    drop(d);

    let mut e = conn(&ctx, second.port());
    assert!(block_on(e.connect()).unwrap().resumed);
    block_on(e.shutdown()).unwrap();
    assert_eq!(second.wait_resumed(1, WAIT), 1);
}

/// A fatal alert from the server: s_server requires a client certificate and the context has
/// none. The offered session (from another server of the same name) was declined and released
/// at the end of the handshake (C6); the alert (certificate_required) then fails the
/// connection (C15) with nothing left to invalidate.
#[test]
fn c15_client_certificate_required_alert_openssl() {
    let (pki, plain, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let s = first_session(&ctx, plain.port());
    ctx.cache().flush_all();
    let removed = t.removed_count();

    let mutual = OpenSslServer::start_mutual(&pki, &[]);
    let mut d = conn(&ctx, mutual.port());
    d.set_session(Some(&s)).unwrap();
    let outcome = block_on(d.connect()).and_then(|hs| {
        assert!(hs.offer_declined);
        let mut buf = [0u8; 64];
        block_on(d.read(&mut buf))
    });
    let err = outcome.unwrap_err();
    assert_eq!(
        err,
        Error::Tls(encore_tls::Error::AlertReceived(
            encore_tls::wire::AlertDescription(116)
        ))
    );
    assert!(err.is_fatal_alert());
    assert_eq!(d.phase(), Phase::Failed);
    assert!(d.session().is_none());
    assert_eq!(s.ref_count().unwrap(), 1);
    assert!(s.info().unwrap().used);
    drop(d);
    assert_eq!(t.removed_count(), removed);
}

/// E1, C37: mutual TLS with a signer; s_server's tickets embed the client certificate and do
/// not fit a 256-byte slot: counted as too large, not cached, and the connection goes on.
#[test]
fn e1_tickets_larger_than_a_slot_are_counted_and_connection_goes_on() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start_mutual(&pki, &[]);
    let chain: &'static [&'static [u8]] = Box::leak(
        vec![&*Box::leak(pki.client.cert_der.clone().into_boxed_slice())].into_boxed_slice(),
    );
    let signer: &'static encore_tls::crypto::P256Signer<'static> =
        leak(encore_tls::crypto::P256Signer::from_pkcs8_der(&pki.client.key_der, chain).unwrap());
    let (ctx, t) = context::<8>(&pki, CacheConfig::DEFAULT, |tls| {
        tls.client_auth = Some(signer);
    });
    let mut c = conn(&ctx, server.port());
    assert!(!block_on(c.connect()).unwrap().resumed);
    await_tickets(&mut c, 2);
    let stats = c.stats();
    assert_eq!((stats.tickets_received, stats.tickets_dropped), (2, 2));
    assert_eq!(ctx.cache().stats().too_large, 2);
    assert_eq!(ctx.cache().len(), 0);
    assert_eq!(t.new_count(), 0);
    assert!(c.session().is_none());
    block_on(c.shutdown()).unwrap();
    assert!(c.phase() == Phase::Connected);
}

/// C26: "no internal store": tickets still fire the new-session callback and become the
/// connection's session (C5), but are not cached, so the next connection finds nothing to
/// resume by itself; set by hand, the saved session resumes.
#[test]
fn c26_no_internal_store_callback_only() {
    let (_pki, server, ctx, t) = rustls_setup::<8>(CacheConfig {
        mode: CacheMode::NO_INTERNAL_STORE,
        ..CacheConfig::DEFAULT
    });
    let (mut c, saved) = connected(&ctx, server.port());
    assert_eq!((t.new_count(), ctx.cache().len()), (2, 0));
    assert_eq!(saved.ref_count().unwrap(), 2); // connection and application only
    block_on(c.shutdown()).unwrap();
    drop(c);

    let mut d = conn(&ctx, server.port());
    assert!(!block_on(d.connect()).unwrap().resumed);
    assert_eq!(ctx.cache().stats().misses, 2);
    block_on(d.shutdown()).unwrap();
    drop(d);

    let mut e = conn(&ctx, server.port());
    e.set_session(Some(&saved)).unwrap();
    assert!(block_on(e.connect()).unwrap().resumed);
    block_on(e.shutdown()).unwrap();
    assert_eq!(resumed_flags(&server, 3), [false, false, true]);
}

/// One context, both resumption modes (`Connection::set_psk_mode`), against `openssl s_server
/// -allow_no_dhe_kex`: a connection set to psk_ke resumes without (EC)DHE while the context
/// stays psk_dhe_ke; its ticket goes to the same cache (C5, C27), the mode survives `clear`
/// (C14), and a connection left at the default resumes with psk_dhe_ke.
#[test]
fn psk_mode_per_connection_one_context_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &["-allow_no_dhe_kex"]);
    let (ctx, t) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    assert_eq!(ctx.tls_config().psk_mode, PskMode::DheOnly);
    let mut c = conn(&ctx, server.port());
    assert_eq!(block_on(c.connect()).unwrap().kex, KeyExchangeMode::Full);
    assert_eq!(block_on(c.await_tickets(2)), Ok(2));
    block_on(c.shutdown()).unwrap();
    drop(c);
    assert_eq!((t.new_count(), ctx.cache().len()), (2, 2));

    let mut r = conn(&ctx, server.port());
    assert_eq!(r.psk_mode(), PskMode::DheOnly);
    r.set_psk_mode(PskMode::AllowPskOnly);
    let hs = block_on(r.connect()).unwrap();
    assert!(hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::Psk);
    assert_eq!(block_on(r.await_tickets(1)), Ok(1));
    // One ticket taken out of the cache (C36), the new one added to the same cache.
    assert_eq!((t.new_count(), ctx.cache().len()), (3, 2));
    let newest = r.get1_session().unwrap().unwrap();
    assert!(ctx.cache().contains(&newest));
    block_on(r.shutdown()).unwrap();

    // C14: after a clean shutdown the session stays set; the mode stays too.
    r.clear();
    assert_eq!(r.psk_mode(), PskMode::AllowPskOnly);
    drop(r.replace_transport(transport(server.port())));
    let hs = block_on(r.connect()).unwrap();
    assert!(hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::Psk);
    assert_eq!(r.session(), Some(&newest));
    assert_eq!(block_on(r.await_tickets(1)), Ok(1));
    block_on(r.shutdown()).unwrap();
    drop(r);
    drop(newest);

    let mut q = conn(&ctx, server.port());
    let hs = block_on(q.connect()).unwrap();
    assert!(hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::PskDhe);
    block_on(q.shutdown()).unwrap();
    assert_eq!(server.wait_resumed(3, WAIT), 3);
    // The record offered through the kept session (not taken from the cache) was marked used
    // and left the cache as stale when the next ticket came: one remove callback.
    assert_eq!(t.removed_count(), 1);
}

/// C5, C27: `await_tickets` against openssl s_server: the two tickets after a full handshake,
/// one after a resumption; `await_tickets(0)` returns at once; a ticket that never comes is
/// ended by the transport's timeout and the connection stays usable.
#[test]
fn await_tickets_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let (ctx, t) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    assert_eq!(block_on(c.await_tickets(0)), Ok(0));
    assert_eq!(block_on(c.await_tickets(2)), Ok(2));
    assert_eq!(c.stats().tickets_received, 2);
    assert_eq!((t.new_count(), ctx.cache().len()), (2, 2));
    // C5: the newest ticket's record is the connection's session.
    let mut ids = [None; 8];
    assert_eq!(ctx.cache().entries(&mut ids), 2);
    assert_eq!(c.session().map(|s| s.id()), ids[1]);
    assert_eq!(block_on(c.await_tickets(1)), Ok(2));
    block_on(c.shutdown()).unwrap();
    drop(c);

    let mut r = conn(&ctx, server.port());
    assert!(block_on(r.connect()).unwrap().resumed);
    assert_eq!(block_on(r.await_tickets(1)), Ok(1));
    r.transport_mut()
        .0
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert_eq!(
        block_on(r.await_tickets(2)),
        Err(Error::Io(ErrorKind::TimedOut))
    );
    assert_eq!(r.phase(), Phase::Connected);
    assert_eq!(block_on(r.write(b"still here\n")), Ok(11));
    assert_eq!(block_on(r.shutdown()), Ok(false));
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    assert_eq!(t.new_count(), 3);
}

/// C5, C27: `await_tickets` against rustls (two tickets), and its early returns: application
/// data that arrives while waiting is kept for `read`, and the server's close_notify ends the
/// wait (answered, so the session stays resumable: the bad-session rule).
#[test]
fn await_tickets_rustls_data_and_close_notify() {
    let (pki, server, ctx, t) = rustls_setup::<8>(CacheConfig::DEFAULT);
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    assert_eq!(block_on(c.await_tickets(2)), Ok(2));
    assert_eq!((t.new_count(), ctx.cache().len()), (2, 2));
    assert_eq!(echo(&mut c, b"ping"), b"ping");
    block_on(c.shutdown()).unwrap();
    drop(c);

    let bye = RustlsServer::start(
        &pki,
        RustlsOptions {
            send_tls13_tickets: 1,
            reply: Reply::Fixed(b"bye".to_vec()),
            ..RustlsOptions::default()
        },
    );
    let (ctx, t) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    let (carry, _) = buffers(64, 0);
    let mut d = conn(&ctx, bye.port()).with_carry_buffer(carry);
    block_on(d.connect()).unwrap();
    assert_eq!(block_on(d.await_tickets(1)), Ok(1));
    block_on(d.write(b"hi")).unwrap();
    // The server answers with data and close_notify, never with a second ticket.
    assert_eq!(block_on(d.await_tickets(2)), Ok(1));
    let mut buf = [0u8; 16];
    assert_eq!(block_on(d.read(&mut buf)), Ok(3));
    assert_eq!(&buf[..3], b"bye");
    assert_eq!(block_on(d.read(&mut buf)), Ok(0));
    assert!(d.close_notify_received());
    assert!(d.close_notify_sent());
    assert_eq!(block_on(d.await_tickets(2)), Ok(1));
    let s = d.get1_session().unwrap().unwrap();
    drop(d);
    assert_eq!(t.removed_count(), 0);
    assert!(ctx.cache().contains(&s));
}

/// A transport that holds written bytes until `flush`, as embedded-io-async allows, and
/// counts the flushes.
struct Buffered {
    inner: StdTransport,
    held: Vec<u8>,
    flushes: usize,
}

impl ErrorType for Buffered {
    type Error = ErrorKind;
}

impl Read for Buffered {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.inner.read(buf).await
    }
}

impl Write for Buffered {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.held.extend_from_slice(buf);
        Ok(buf.len())
    }
    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.flushes += 1;
        self.inner.write_all(&self.held).await?;
        self.held.clear();
        self.inner.flush().await
    }
}

/// The transport is flushed only before the client waits for the server and in shutdown: a
/// full handshake, the tickets, a line and close_notify through a transport that sends
/// nothing until `flush` take exactly three flushes (the ClientHello; the client Finished
/// before waiting for the tickets; the line and close_notify), and the session stays
/// resumable (C11).
#[test]
fn flush_only_before_waiting_and_in_shutdown_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let (ctx, t) = context::<8>(&pki, CacheConfig::DEFAULT, |_| {});
    let io = Buffered {
        inner: transport(server.port()),
        held: Vec::new(),
        flushes: 0,
    };
    let mut c = support::connection(&ctx, NAME, io);
    let hs = block_on(c.connect()).unwrap();
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    // Only the ClientHello was flushed; the client Finished (a 53-byte protected record with
    // a SHA-256 suite) is still held.
    assert_eq!(hs.suite.hash().output_len(), 32);
    assert_eq!(c.transport_mut().flushes, 1);
    assert_eq!(c.transport_mut().held.len(), 5 + 4 + 32 + 1 + 16);
    assert_eq!(block_on(c.await_tickets(2)), Ok(2));
    assert_eq!(c.transport_mut().flushes, 2);
    assert_eq!(block_on(c.write(b"line\n")), Ok(5));
    assert_eq!(c.transport_mut().flushes, 2);
    assert_eq!(c.transport_mut().held.len(), 5 + 5 + 1 + 16);
    assert_eq!(block_on(c.shutdown()), Ok(false));
    assert_eq!(c.transport_mut().flushes, 3);
    assert!(c.transport_mut().held.is_empty());
    let s = c.get1_session().unwrap().unwrap();
    drop(c);
    assert!(server.output().wait_count("line", 1, WAIT) >= 1);
    assert!(!s.info().unwrap().not_resumable);
    assert_eq!(t.removed_count(), 0);
}

/// When the engine cannot start (here: the ClientHello with the offered 192-byte openssl
/// ticket, about 390 bytes, does not fit the connection's 300-byte transmit buffer; the
/// ClientHello of a full handshake, about 150 bytes, does), `connect` reports why and keeps the
/// buffers: after `clear` the same connection makes a full handshake in the same memory. The
/// ticket was claimed before the engine refused, so it counts as used although it never left
/// (C28: a claimed ticket is never offered again; that costs a full handshake); nothing is
/// invalidated, and the failed connection drops it (C14).
#[test]
fn engine_refusal_keeps_the_buffers_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let (ctx, t) = context::<8>(&pki, NO_LOOKUP, |_| {});
    let mut c = conn(&ctx, server.port());
    block_on(c.connect()).unwrap();
    assert_eq!(block_on(c.await_tickets(2)), Ok(2));
    let saved = c.get1_session().unwrap().unwrap();
    assert_eq!(saved.info().unwrap().ticket_len, 192);
    block_on(c.shutdown()).unwrap();
    drop(c);

    let (rx, tx) = buffers(RX, 300);
    let mut r = Connection::new(&ctx, NAME, transport(server.port()), rx, tx);
    r.set_session(Some(&saved)).unwrap();
    assert_eq!(
        block_on(r.connect()),
        Err(Error::Tls(encore_tls::Error::BufferTooSmall))
    );
    assert_eq!(r.phase(), Phase::Failed);
    assert!(saved.info().unwrap().used); // C28: claimed, then lost with the refused start
    r.clear();
    assert!(r.session().is_none()); // C14: dropped after a failure
    let hs = block_on(r.connect()).unwrap();
    assert!(!hs.resumed);
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert_eq!(block_on(r.await_tickets(2)), Ok(2));
    block_on(r.shutdown()).unwrap();
    // Nothing invalidated (the flag stays clear); the used record left the cache as stale when
    // the fresh tickets were added (a timeout, with its remove callback).
    assert!(!saved.info().unwrap().not_resumable);
    assert!(!ctx.cache().contains(&saved));
    assert_eq!((t.removed_count(), ctx.cache().stats().timeouts), (1, 1));
}
