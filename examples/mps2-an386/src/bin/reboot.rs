//! A session that survives a reboot: resumption with psk_ke right after boot.
//!
//! The firmware does at every boot what a device that sleeps between reports does:
//! 1. at boot, `load_all` opens the session store on flash (here the emulator's
//!    host-file flash, `-append flash=PATH`, sealed under the device key the host
//!    made, `key=PATH`) and files each record into its context's cache; ticket
//!    ages come from the wall clock (E6);
//! 2. the connection drives the store itself (`connect_with`): if the cache holds a
//!    session for the server, `connect_with` takes it, consumes it on flash (C28: a
//!    power cut after this can never bring it back; if consuming fails, the ticket
//!    is not offered), and only then sends the ClientHello, with psk_ke
//!    (`set_psk_mode(AllowPskOnly)`): a resumption with no public-key operation at
//!    all; with nothing stored, a full handshake that verifies the chain against
//!    the CA of the run (`ca=PATH`);
//! 3. every record the server's NewSessionTickets made on that connection is stored
//!    on flash (`save_tickets`), and the firmware exits.
//!
//! Run it twice on the same flash file: the first boot makes a full handshake
//! and stores its tickets; the second resumes. `phase=1` and `phase=2` on the
//! command line turn those expectations into the exit status (0 only if they
//! hold); without `phase`, any completed connection exits 0.
//!
//! Lines: `load: ..` (the `LoadReport`), `prune: ..`, `consume: ..`, `conn=1 ..`
//! (as the `resume` firmware), `store: ..`, and `wear step=..` per step (flash
//! writes, bytes, erases, reads). Markers: 3/4 around `load_all`, 5/6 around `consume`
//! (inside `connect_with`, which sets marker 11 again after it),
//! 11/12 around the handshake, 7/8 around storing the tickets.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embassy_time::Timer;
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::marker::marker;
use encore_board_mps2::time::BoardClock;
use encore_board_mps2::{executor, println, stack, Board, Spawner};
use encore_client::{CacheConfig, ClientConfig, KeyExchangeMode, PskMode};
use encore_example_mps2::connection::{self, Buffers, Ctx, Failure, Pool};
use encore_example_mps2::saved::{self, markers, ClientStore, Store, STORE_RANGE};
use encore_example_mps2::setup;
use encore_example_mps2::{handshake_markers, CONTEXT_ID, LINE, SERVER_NAME};
use encore_store::Wear;
use rand_core::Rng;
use static_cell::ConstStaticCell;

static POOL: Pool = Pool::new();
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// Tickets OpenSSL issues after a full handshake, and after a resumption.
const TICKETS_AFTER_FULL: usize = 2;
const TICKETS_AFTER_RESUMPTION: usize = 1;

/// What the host expects of this boot (`phase=` on the command line).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No expectation.
    Any,
    /// First boot on a blank flash: nothing loaded, a full handshake, tickets stored.
    First,
    /// After a reboot: a record loaded, consumed, and a psk_ke resumption.
    AfterReboot,
}

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

fn fail(what: &str) -> ! {
    println!("reboot: FAILED: {}", what);
    exit(exit_code::FAILURE)
}

/// How this firmware names itself in its failure lines.
const NAME: &str = "reboot";

fn setup_failed(what: &str, e: impl core::fmt::Debug) -> ! {
    setup::failed(NAME, what, e)
}

fn phase() -> Phase {
    let mut value = [0u8; 16];
    match saved::arg("phase", &mut value) {
        Ok(Some("1")) => Phase::First,
        Ok(Some("2")) => Phase::AfterReboot,
        Ok(None) => Phase::Any,
        _ => setup_failed("phase= must be 1 or 2", ()),
    }
}

#[embassy_executor::task]
async fn app(spawner: Spawner, mut board: Board) {
    let phase = phase();
    let anchors = [setup::trust_anchor(NAME)];

    // The application's device key and flash. The store's nonces come from the
    // context's generator (the board's), through the connection.
    let key = match saved::device_key() {
        Ok(k) => k,
        Err(e) => setup_failed("device key (key=PATH)", e),
    };
    let flash = match saved::open_flash() {
        Ok(f) => f,
        Err(e) => setup_failed("flash (flash=PATH)", e),
    };
    let mut store: Store = match Store::new(flash, STORE_RANGE, &key) {
        Ok(s) => s,
        Err(e) => setup_failed("session store", e),
    };
    drop(key);

    let net_stack = setup::network(NAME, spawner, board.nic, board.rng.next_u64());

    // `connect_with` takes a ticket from the cache by itself (C26, C36) and consumes
    // it on flash before offering it (C28), so the cache needs no special mode.
    let ctx = Ctx::new(
        CONTEXT_ID,
        ClientConfig::new(&anchors),
        &POOL,
        CacheConfig::DEFAULT,
        BoardClock::new(),
        board.rng,
    );
    let Some(now_unix) = ctx.now_unix() else {
        fail("no wall clock: ticket ages across a reboot need it (E6)")
    };

    // 1. At boot: every stored record into the cache of the context that owns it.
    let before = store.wear();
    marker(markers::LOAD.0);
    let mut cached = 0usize;
    let loaded = store
        .load_all(&POOL, ctx.now_ms(), Some(now_unix), |session| {
            let ours = session.info().is_ok_and(|i| i.owner == ctx.id());
            if ours && ctx.cache().add(&session, ctx.now_ms()).is_ok() {
                cached += 1;
            }
        })
        .await;
    marker(markers::LOAD.1);
    let report = match loaded {
        Ok(r) => r,
        Err(e) => setup_failed("load_all", e),
    };
    println!(
        "load: loaded={} cached={} empty={} expired={} rejected={} malformed={} not_loaded={} foreign={} repaired_sectors={}",
        report.loaded,
        cached,
        report.empty,
        report.expired,
        report.rejected,
        report.malformed,
        report.not_loaded,
        report.foreign,
        report.repaired_sectors
    );
    saved::print_wear("load", before, store.wear());
    // Records that can never be offered (expired, unreadable) leave the live set.
    let before = store.wear();
    match store.prune(now_unix).await {
        Ok(pruned) => println!("prune: removed={}", pruned),
        Err(e) => println!("prune: failed ({:?})", e),
    }
    saved::print_wear("prune", before, store.wear());

    net_stack.wait_config_up().await;

    // 2. The connection takes a session for this server from the cache, consumes it on
    //    flash before its ClientHello leaves (C28), and 3. stores the records its
    //    tickets made.
    let want = if cached > 0 {
        TICKETS_AFTER_RESUMPTION
    } else {
        TICKETS_AFTER_FULL
    };
    let (hello, _) = handshake_markers(1);
    let mut client_store = ClientStore::new(&mut store, hello);
    let buffers = BUFFERS.take();
    let (outcome, newest) = match connection::run_with_store(
        1,
        &ctx,
        net_stack,
        SERVER_NAME,
        None,
        PskMode::AllowPskOnly,
        LINE,
        want,
        buffers,
        Some(&mut client_store),
    )
    .await
    {
        Ok(r) => r,
        Err(Failure::Client(e)) => {
            println!("reboot: FAILED: conn=1 Client({:?})", e);
            exit(exit_code::FAILURE)
        }
        Err(e) => {
            println!("reboot: FAILED: conn=1 {:?}", e);
            exit(exit_code::FAILURE)
        }
    };
    match client_store.consumed {
        Some(Ok(on_flash)) => {
            println!("consume: stored={} offered=true", on_flash);
            saved::print_wear("consume", Wear::default(), client_store.consume_wear);
        }
        Some(Err(e)) => {
            // Not durably consumed: the connection did not offer it (C28).
            println!("consume: failed ({:?}); not offered", e);
        }
        None => println!("consume: nothing stored for {}", SERVER_NAME),
    }
    outcome.print(1);
    drop(newest);
    let (written, skipped, failed) = (
        client_store.written,
        client_store.skipped,
        client_store.failed,
    );
    let store_wear = client_store.store_wear;
    println!(
        "store: tickets={} written={} skipped={} failed={} unsaved={} live={}",
        outcome.stats.tickets_received,
        written,
        skipped,
        failed,
        outcome.stats.save_failures,
        store.live()
    );
    saved::print_wear("store", Wear::default(), store_wear);
    let total = store.wear();
    println!(
        "wear total writes={} bytes={} erases={} reads={}",
        total.writes, total.bytes_written, total.erases, total.reads
    );
    let ops = store.into_flash().ops();
    println!(
        "host flash: writes={} bytes={} sectors_erased={} reads={}",
        ops.writes, ops.bytes_written, ops.sectors_erased, ops.reads
    );

    let used = stack::peak();
    println!(
        "stack peak: {} bytes (window {} bytes)",
        used.peak_bytes, used.window_bytes
    );

    // Let the last FIN go out before the emulator stops.
    Timer::after_millis(10).await;
    if failed > 0 || outcome.stats.save_failures > 0 || written == 0 {
        fail("the new tickets were not stored");
    }
    let resumed_psk = outcome.reused && outcome.summary.kex == KeyExchangeMode::Psk;
    match phase {
        Phase::First if report.loaded != 0 || outcome.reused => {
            fail("phase 1 expects a blank store and a full handshake")
        }
        Phase::AfterReboot if report.loaded == 0 || !resumed_psk => {
            fail("phase 2 expects a stored session and a psk_ke resumption right after boot")
        }
        Phase::First => println!(
            "reboot: ok (phase 1: full handshake, {} tickets stored)",
            written
        ),
        Phase::AfterReboot => println!(
            "reboot: ok (phase 2: resumed with psk_ke right after boot, {} ticket(s) stored)",
            written
        ),
        Phase::Any => println!("reboot: ok (reused={})", outcome.reused),
    }
    exit(exit_code::SUCCESS)
}
