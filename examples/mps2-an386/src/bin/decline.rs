//! A server that declines the offered session (C6, C34), through `encore-client`.
//!
//! The host runs a server that is restarted with new ticket keys between
//! connections (`openssl s_server -naccept 1` in a loop), so no ticket one
//! process issued can be decrypted by the next.
//! 1. a full handshake; the application keeps the newest ticket (`get1_session`);
//! 2. a connection with that session set (`set_session`): the server cannot
//!    decrypt the ticket and answers with a full handshake. The client completes
//!    it, `session_reused()` is false, the connection's reference to the offered
//!    record is released, and the new server's tickets become the connection's
//!    session and go to the cache.
//!
//! Exit status 0 when exactly that happened; 1 with one line saying what did not.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embassy_time::Timer;
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::time::BoardClock;
use encore_board_mps2::{executor, println, stack, Board, Spawner};
use encore_client::{CacheConfig, ClientConfig, KeyExchangeMode, PskMode};
use encore_example_mps2::connection::{self, Buffers, Ctx, Failure, Pool};
use encore_example_mps2::{setup, Mps2};
use encore_example_mps2::{CONTEXT_ID, LINE, SERVER_NAME};
use rand_core::Rng;
use static_cell::ConstStaticCell;

static POOL: Pool = Pool::new();
/// Both connections offer psk_dhe_ke (the context's default).
const DHE: PskMode = PskMode::DheOnly;
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// Time the host needs to start the next server process.
const RESTART_WAIT_MS: u64 = 1_000;

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

fn fail(what: &str) -> ! {
    println!("decline: FAILED: {}", what);
    exit(exit_code::FAILURE)
}

fn conn_failed(n: u8, e: Failure) -> ! {
    println!("decline: FAILED: conn={} {:?}", n, e);
    exit(exit_code::FAILURE)
}

#[embassy_executor::task]
async fn app(spawner: Spawner, mut board: Board) {
    let anchors = [setup::trust_anchor("decline")];
    let net_stack = setup::network("decline", spawner, board.nic, board.rng.next_u64());
    net_stack.wait_config_up().await;

    let ctx = Ctx::new(
        CONTEXT_ID,
        ClientConfig::new(&anchors),
        &POOL,
        CacheConfig::DEFAULT,
        BoardClock::new(),
        board.rng,
    );
    let buffers = BUFFERS.take();

    // 1. Full handshake with the first server process; keep its newest ticket.
    let (first, saved) =
        match connection::run::<Mps2>(1, &ctx, net_stack, SERVER_NAME, None, DHE, LINE, 2, buffers)
            .await
        {
            Ok(r) => r,
            Err(e) => conn_failed(1, e),
        };
    first.print::<Mps2>(1);
    let Some(saved) = saved else {
        fail("connection 1 left no session")
    };
    if first.reused {
        fail("connection 1 was not a full handshake");
    }

    Timer::after_millis(RESTART_WAIT_MS).await;

    // 2. Offer it to the next server process, which has new ticket keys.
    let tickets_cached = ctx.cache().len();
    let (second, fresh) = match connection::run::<Mps2>(
        2,
        &ctx,
        net_stack,
        SERVER_NAME,
        Some(&saved),
        DHE,
        LINE,
        1,
        buffers,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => conn_failed(2, e),
    };
    second.print::<Mps2>(2);
    let (refs_before, refs_after) = second.offered_refs.unwrap_or((0, 0));
    let fresh_is_new = fresh.as_ref().is_some_and(|f| *f != saved);
    println!(
        "offered session: {} references before connect, {} after (the connection's released: {}); \
         connection kept it: {}; a fresh ticket is the connection's session: {}; cache entries {} -> {}",
        refs_before,
        refs_after,
        refs_after + 1 == refs_before,
        second.kept_offered,
        fresh_is_new,
        tickets_cached,
        ctx.cache().len()
    );
    drop(fresh);
    drop(saved);

    let used = stack::peak();
    println!(
        "stack peak: {} bytes (window {} bytes)",
        used.peak_bytes, used.window_bytes
    );
    Timer::after_millis(10).await;
    let declined = !second.reused
        && second.summary.offer_declined
        && second.summary.kex == KeyExchangeMode::Full;
    if !declined {
        fail("connection 2 did not see its offer declined and fall back to a full handshake");
    }
    if refs_after + 1 != refs_before || second.kept_offered || !fresh_is_new {
        fail("the connection did not release the declined session for the fresh tickets");
    }
    println!("decline: ok (offer declined, full handshake, session released, fresh tickets)");
    exit(exit_code::SUCCESS)
}
