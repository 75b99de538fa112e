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
use encore_board_mps2::{executor, println, Board, Spawner};
use encore_client::{KeyExchangeMode, PskMode};
use encore_example_mps2::connection::{self, Buffers, Plan, Pool};
use encore_example_mps2::{failed, print_stack_peak, setup, Mps2};
use encore_example_mps2::{LINE, SERVER_NAME};
use static_cell::ConstStaticCell;

/// How this firmware names itself in its lines.
const NAME: &str = "decline";

static POOL: Pool = Pool::new();
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// Time the host needs to start the next server process.
const RESTART_WAIT_MS: u64 = 1_000;

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

#[embassy_executor::task]
async fn app(spawner: Spawner, board: Board) {
    let (net_stack, ctx) = setup::context(NAME, spawner, board, &POOL);
    net_stack.wait_config_up().await;
    let buffers = BUFFERS.take();
    // Both connections offer psk_dhe_ke (the context's default).
    let plan = |n, offer, want_tickets| Plan {
        n,
        server_name: SERVER_NAME,
        offer,
        psk_mode: PskMode::DheOnly,
        line: LINE,
        want_tickets,
    };

    // 1. Full handshake with the first server process; keep its newest ticket.
    let ran = connection::run::<Mps2>(&ctx, net_stack, &plan(1, None, 2), buffers, None).await;
    let (first, saved) = connection::checked::<Mps2>(NAME, 1, ran);
    let Some(saved) = saved else {
        failed::<Mps2>(NAME, "connection 1 left no session")
    };
    if first.reused {
        failed::<Mps2>(NAME, "connection 1 was not a full handshake");
    }

    Timer::after_millis(RESTART_WAIT_MS).await;

    // 2. Offer it to the next server process, which has new ticket keys.
    let tickets_cached = ctx.cache().len();
    let offered = plan(2, Some(&saved), 1);
    let ran = connection::run::<Mps2>(&ctx, net_stack, &offered, buffers, None).await;
    let (second, fresh) = connection::checked::<Mps2>(NAME, 2, ran);
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

    print_stack_peak::<Mps2>();
    Timer::after_millis(10).await;
    let declined = !second.reused
        && second.summary.offer_declined
        && second.summary.kex == KeyExchangeMode::Full;
    if !declined {
        failed::<Mps2>(
            NAME,
            "connection 2 did not see its offer declined and fall back to a full handshake",
        );
    }
    if refs_after + 1 != refs_before || second.kept_offered || !fresh_is_new {
        failed::<Mps2>(
            NAME,
            "the connection did not release the declined session for the fresh tickets",
        );
    }
    println!("decline: ok (offer declined, full handshake, session released, fresh tickets)");
    exit(exit_code::SUCCESS)
}
