//! The client drives the sealed flash store (`SessionSaver` for `encore_store::SessionStore`)
//! against a real `openssl s_server`, over the store's simulated NOR flash, across simulated
//! reboots: a new pool, a new context and a new store over the same flash bytes. Flash writes
//! per step are the store README's figures (4-byte words, 16 KiB sectors, OpenSSL's 192-byte
//! tickets with a SHA-256 PSK, sealing format 2).

use encore_testkit as common;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{OpenSslServer, TestPki};
use encore_client::{
    block_on, CacheConfig, ClientConfig, Clock, Connection, Context, ContextId, KeyExchangeMode,
    OsRng, SessionPool, StdClock, StdTransport,
};
use encore_session::{MonotonicClock, WallClock};
use encore_store::sim::{SimError, SimFlash};
use encore_store::{DeviceKey, LoadReport, SessionStore, StoreError, Wear};
use rand_core::TryCryptoRng;
use support::{anchors, leak, ticket_of, transport, SwitchedRng, NAME, WAIT};

const P: usize = 8;
const CTX: ContextId = ContextId(7);

type Flash = SimFlash<4, 16384, 2>;
type Store<'f> = SessionStore<&'f mut Flash>;
type Ctx<C = StdClock, R = OsRng> = Context<'static, C, R, 4, P>;
type Conn<C, R> = Connection<'static, 'static, StdTransport, C, R, 4, P>;

fn clock() -> StdClock {
    static CLOCK: std::sync::OnceLock<StdClock> = std::sync::OnceLock::new();
    *CLOCK.get_or_init(StdClock::new)
}

/// One boot: a fresh pool and context, the store opened on `flash` and loaded into the
/// context's cache.
fn boot<'f>(pki: &TestPki, flash: &'f mut Flash) -> (&'static Ctx, Store<'f>, LoadReport) {
    boot_with(pki, flash, clock(), OsRng)
}

/// [`boot`] with the context on clock `c` and generator `rng`.
fn boot_with<'f, C: Clock + 'static, R: TryCryptoRng + 'static>(
    pki: &TestPki,
    flash: &'f mut Flash,
    c: C,
    rng: R,
) -> (&'static Ctx<C, R>, Store<'f>, LoadReport) {
    let pool: &'static SessionPool<P> = leak(SessionPool::new());
    let ctx: &'static Ctx<C, R> = leak(Context::new(
        CTX,
        ClientConfig::new(anchors(&pki.ca_der)),
        pool,
        CacheConfig::DEFAULT,
        c,
        rng,
    ));
    let mut store: Store<'f> =
        SessionStore::new(flash, 0..Flash::SIZE, &DeviceKey::new([0x42; 32])).unwrap();
    let report = block_on(store.load_all(pool, ctx.now_ms(), ctx.now_unix(), |s| {
        ctx.cache().add(&s, ctx.now_ms()).unwrap();
    }))
    .unwrap();
    (ctx, store, report)
}

fn conn<C: Clock, R: TryCryptoRng>(ctx: &'static Ctx<C, R>, port: u16) -> Conn<C, R> {
    support::connection(ctx, NAME, transport(port))
}

fn writes(w: Wear) -> (u64, u64, u64) {
    (w.writes, w.bytes_written, w.erases)
}

/// Tickets of every record the context's cache holds, sorted.
fn cached_tickets<C, R>(ctx: &Ctx<C, R>) -> Vec<Vec<u8>> {
    let mut ids = [None; 4];
    let n = ctx.cache().entries(&mut ids);
    let mut tickets: Vec<Vec<u8>> = ids[..n]
        .iter()
        .map(|id| ticket_of(&ctx.pool().acquire(id.unwrap()).unwrap()))
        .collect();
    tickets.sort();
    tickets
}

/// A full handshake that offers nothing (so consumes nothing on flash), then both of
/// s_server's tickets saved.
fn full_handshake_saves_two<C: Clock, R: TryCryptoRng>(c: &mut Conn<C, R>, store: &mut Store<'_>) {
    let before = store.wear();
    let hs = block_on(c.connect_with(store)).unwrap();
    assert!(!hs.resumed);
    assert!(!hs.offer_declined);
    assert!(!c.stats().offer_withdrawn);
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert_eq!(writes(store.wear() - before), (0, 0, 0));
    assert_eq!(block_on(c.await_tickets_with(2, store)), Ok(2));
    assert_eq!((c.stats().tickets_saved, c.stats().save_failures), (2, 0));
    assert_eq!(c.tickets_to_save(), 0);
}

/// The next connection of `ctx` resumes with a ticket loaded from flash (s_server says so).
fn resumes<C: Clock>(
    ctx: &'static Ctx<C>,
    store: &mut Store<'_>,
    server: &OpenSslServer,
) -> Conn<C, OsRng> {
    let mut c = conn(ctx, server.port());
    let hs = block_on(c.connect_with(store)).unwrap();
    assert!(hs.resumed);
    assert!(c.session_reused());
    assert_eq!(hs.kex, KeyExchangeMode::PskDhe);
    assert!(!c.stats().offer_withdrawn);
    assert_eq!(server.wait_resumed(1, WAIT), 1);
    c
}

/// A server, and a flash on which a first boot made a full handshake with it and saved both
/// tickets: 1 start marker + 2 × 3 writes, 4 + 2 × 344 bytes (store README, "Wear"). Returns
/// the tickets too, sorted.
fn first_boot() -> (TestPki, OpenSslServer, Flash, Vec<Vec<u8>>) {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let mut flash = Flash::new();
    let (ctx, mut store, report) = boot(&pki, &mut flash);
    assert_eq!(report, LoadReport::default());
    let mut c = conn(ctx, server.port());
    let before = store.wear();
    full_handshake_saves_two(&mut c, &mut store);
    assert_eq!(writes(store.wear() - before), (1 + 2 * 3, 4 + 2 * 344, 0));
    assert_eq!(store.live(), 2);
    assert_eq!(block_on(c.shutdown()), Ok(false));
    let tickets = cached_tickets(ctx);
    assert_eq!(tickets.len(), 2);
    drop(c);
    drop(store);
    (pki, server, flash, tickets)
}

/// C28, C27, E6: a full handshake saves both tickets; after a reboot the first connection takes
/// a ticket from the reloaded cache, consumes it on flash (one tombstone: 3 writes, 16 bytes)
/// before its ClientHello leaves, resumes (s_server says so) and saves the replacement ticket
/// (3 writes, 344 bytes); after a second reboot the consumed ticket is gone for good.
#[test]
fn c28_tickets_saved_resume_after_reboot_and_never_come_back_openssl() {
    let (pki, server, mut flash, first) = first_boot();

    // Reboot: both records come back from flash, nothing written.
    let (ctx, mut store, report) = boot(&pki, &mut flash);
    assert_eq!((report.loaded, report.empty, report.rejected), (2, 0, 0));
    assert_eq!(writes(store.wear()), (0, 0, 0));
    assert_eq!(cached_tickets(ctx), first);

    let before = store.wear();
    let mut c = resumes(ctx, &mut store, &server);
    let offered = ticket_of(c.session().unwrap());
    assert!(first.contains(&offered));
    assert_eq!(writes(store.wear() - before), (3, 16, 0));
    assert_eq!(store.live(), 1);

    let before = store.wear();
    assert_eq!(block_on(c.await_tickets_with(1, &mut store)), Ok(1));
    assert_eq!((c.stats().tickets_saved, c.stats().save_failures), (1, 0));
    assert_eq!(writes(store.wear() - before), (3, 344, 0));
    assert_eq!(store.live(), 2);
    let replacement = ticket_of(c.session().unwrap());
    assert!(!first.contains(&replacement));
    assert_eq!(block_on(c.shutdown()), Ok(false));
    drop(c);

    // Second reboot: the other first-boot ticket and the replacement; never the offered one.
    // The replacement went into the consumed record's slot (an empty slot is picked first), so
    // no tombstone is left as a slot's newest value.
    let (ctx, _store, report) = boot(&pki, &mut flash);
    assert_eq!((report.loaded, report.empty, report.rejected), (2, 0, 0));
    let loaded = cached_tickets(ctx);
    assert!(!loaded.contains(&offered));
    assert!(loaded.contains(&replacement));
    assert_eq!(loaded.iter().filter(|t| first.contains(t)).count(), 1);
}

/// C28: power fails while the ticket is being consumed on flash, so the connection withdraws
/// its offer and makes a full handshake (s_server resumes nothing, and the engine saw no offer
/// to decline); its tickets cannot be saved (power is off). After power returns, the ticket
/// whose consumption never completed is still on flash, was never sent, and resumes.
#[test]
fn c28_consume_fails_full_handshake_ticket_not_offered_openssl() {
    let (pki, server, mut flash, first) = first_boot();

    // The next flash step (the tombstone's first word) is cut.
    flash.cut_at(flash.steps());
    let (ctx, mut store, report) = boot(&pki, &mut flash);
    assert_eq!(report.loaded, 2);
    let mut c = conn(ctx, server.port());
    let hs = block_on(c.connect_with(&mut store)).unwrap();
    assert!(!hs.resumed);
    assert!(!hs.offer_declined); // nothing was offered
    assert_eq!(hs.kex, KeyExchangeMode::Full);
    assert!(c.stats().offer_withdrawn);
    assert_eq!(server.output().wait_count("CIPHER is", 2, WAIT), 2);
    assert_eq!(server.resumed_count(), 0);
    // The claimed record stays used in RAM (never offered later either); one left in the cache.
    assert_eq!(ctx.cache().len(), 1);
    assert_eq!(block_on(c.await_tickets_with(2, &mut store)), Ok(2));
    assert_eq!((c.stats().tickets_saved, c.stats().save_failures), (0, 2));
    assert!(matches!(
        block_on(<Store as encore_client::SessionSaver<P, 256>>::consume(
            &mut store,
            c.session().unwrap()
        )),
        Err(StoreError::Flash(SimError::PowerOff))
    ));
    assert_eq!(block_on(c.shutdown()), Ok(false));
    drop(c);
    drop(store);

    // Power returns: the half-written tombstone is ignored; both first-boot tickets load.
    flash.power_on();
    let (ctx, mut store, report) = boot(&pki, &mut flash);
    assert_eq!(
        (report.loaded, report.rejected, report.malformed),
        (2, 0, 0)
    );
    assert_eq!(cached_tickets(ctx), first);
    resumes(ctx, &mut store, &server);
}

/// The sealing nonce comes from the context's generator; when it fails, nothing is written
/// (no made-up nonce ever reaches flash), both records count as not saved, and the connection
/// goes on.
#[test]
fn context_rng_failure_saves_nothing_openssl() {
    let pki = TestPki::generate(&[NAME]);
    let server = OpenSslServer::start(&pki, &[]);
    let broken: &'static AtomicBool = leak(AtomicBool::new(false));
    let mut flash = Flash::new();
    let (ctx, mut store, _) = boot_with(&pki, &mut flash, clock(), SwitchedRng(broken));
    let mut c = conn(ctx, server.port());
    assert!(!block_on(c.connect_with(&mut store)).unwrap().resumed);
    assert_eq!(block_on(c.await_tickets(2)), Ok(2));
    assert_eq!(c.tickets_to_save(), 2);

    broken.store(true, Ordering::SeqCst);
    assert_eq!(block_on(c.save_tickets(&mut store)), 0);
    assert_eq!((c.stats().tickets_saved, c.stats().save_failures), (0, 2));
    assert_eq!(c.tickets_to_save(), 0);
    assert_eq!(writes(store.wear()), (0, 0, 0));
    assert_eq!(store.live(), 0);
    // The records stay usable in RAM.
    assert_eq!(ctx.cache().len(), 2);
}

/// A wall clock `back_s` seconds behind the real one (an RTC set back, or not yet corrected by
/// network time after a reset); the monotonic clock is the tests' own.
#[derive(Clone, Copy)]
struct SetBackClock {
    back_s: u64,
}

impl MonotonicClock for SetBackClock {
    fn now_ms(&self) -> u64 {
        clock().now_ms()
    }
}

impl WallClock for SetBackClock {
    fn now_unix(&self) -> Option<u64> {
        clock().now_unix().map(|t| t - self.back_s)
    }
}

/// C29, E6: after a reboot with the wall clock set back 10 minutes (earlier than the receipt of
/// the tickets on flash), the store loads none of them and reports the clock
/// (`clock_behind_store`): ages measured with that clock could make old records young. So
/// `connect_with` finds nothing to offer and makes a full handshake (nothing consumed, nothing
/// declined; s_server resumes nothing), and saves the new tickets. After the next reboot with
/// the right clock, the two records kept on flash and the two new ones all load, and the next
/// connection resumes.
#[test]
fn c29_clock_set_back_loads_nothing_then_resumes_openssl() {
    let (pki, server, mut flash, first) = first_boot();

    let set_back = SetBackClock { back_s: 600 };
    let (ctx, mut store, report) = boot_with(&pki, &mut flash, set_back, OsRng);
    let now = ctx.now_unix().unwrap();
    let newest = report.clock_behind_store.expect("clock behind the store");
    assert!(
        newest > now && newest <= now + 600 + 60,
        "{newest} vs {now}"
    );
    assert_eq!(
        report,
        LoadReport {
            not_loaded: 2,
            clock_behind_store: Some(newest),
            ..LoadReport::default()
        }
    );
    assert_eq!(ctx.cache().len(), 0);
    assert_eq!(store.live(), 2);

    let mut c = conn(ctx, server.port());
    full_handshake_saves_two(&mut c, &mut store);
    assert_eq!(store.live(), 4);
    assert_eq!(block_on(c.shutdown()), Ok(false));
    assert_eq!(server.output().wait_count("CIPHER is", 2, WAIT), 2);
    assert_eq!(server.resumed_count(), 0);
    drop(c);
    drop(store);

    // The right clock again: every record loads, and the first-boot tickets were never offered.
    let (ctx, mut store, report) = boot(&pki, &mut flash);
    assert_eq!((report.loaded, report.clock_behind_store), (4, None));
    let loaded = cached_tickets(ctx);
    assert_eq!(loaded.iter().filter(|t| first.contains(t)).count(), 2);
    resumes(ctx, &mut store, &server);
}
