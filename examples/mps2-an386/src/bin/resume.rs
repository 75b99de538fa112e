//! TLS 1.3 resumption on the emulated board, through embassy-net and `encore-client`.
//!
//! Three connections to the TLS server the host forwards to 10.0.2.100:443:
//! 1. a full handshake that verifies the server's chain against the CA the host
//!    made for this run (`-append ca=PATH`), waits for the tickets issued after
//!    the handshake (`await_tickets`: they go to the context's cache), sends a
//!    line, and closes with close_notify;
//! 2. `connect` takes a ticket from the cache by itself and resumes with
//!    psk_dhe_ke (a fresh X25519 exchange, no certificate);
//! 3. the newest ticket of connection 2 (`get1_session`), set with `set_session`
//!    on a connection set to psk_ke (`set_psk_mode`, same context): a resumption
//!    with no public-key operation at all, and no forward secrecy.
//!
//! One line per connection: `conn=N reused=.. kex=.. wire_bytes=..`. Markers
//! `10·N+1` and `10·N+2` bracket each handshake for the instruction-count
//! plugin. Exit status 0 only if connections 2 and 3 resumed with the expected
//! key exchange; 1 with one line saying what failed.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use embassy_time::Timer;
use encore_board_mps2::console::{exit, exit_code};
use encore_board_mps2::time::BoardClock;
use encore_board_mps2::{executor, println, stack, Board, Spawner};
use encore_client::{CacheConfig, ClientConfig, KeyExchangeMode, PskMode};
use encore_example_mps2::connection::{self, Buffers, Ctx, Failure, Pool};
use encore_example_mps2::setup;
use encore_example_mps2::{CONTEXT_ID, LINE, SERVER_NAME};
use rand_core::Rng;
use static_cell::ConstStaticCell;

static POOL: Pool = Pool::new();
/// Connections 1 and 2 keep the context's default: psk_dhe_ke, forward secrecy.
const DHE: PskMode = PskMode::DheOnly;
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

fn fail(what: &str) -> ! {
    println!("resume: FAILED: {}", what);
    exit(exit_code::FAILURE)
}

fn conn_failed(n: u8, e: Failure) -> ! {
    println!("resume: FAILED: conn={} {:?}", n, e);
    exit(exit_code::FAILURE)
}

#[embassy_executor::task]
async fn app(spawner: Spawner, mut board: Board) {
    let anchors = [setup::trust_anchor("resume")];
    let net_stack = setup::network("resume", spawner, board.nic, board.rng.next_u64());
    net_stack.wait_config_up().await;

    // One application context: psk_dhe_ke by default; connection 3 chooses psk_ke
    // for itself, and its tickets land in this context's cache like the others.
    let ctx = Ctx::new(
        CONTEXT_ID,
        ClientConfig::new(&anchors),
        &POOL,
        CacheConfig::DEFAULT,
        BoardClock::new(),
        board.rng,
    );
    let buffers = BUFFERS.take();

    // 1. Full handshake; OpenSSL issues two tickets after it, which go to the cache.
    let (first, _) =
        match connection::run(1, &ctx, net_stack, SERVER_NAME, None, DHE, LINE, 2, buffers).await {
            Ok(r) => r,
            Err(e) => conn_failed(1, e),
        };
    first.print(1);
    if first.reused {
        fail("connection 1 was not a full handshake");
    }
    // The deepest stack so far is the full handshake's; measure the resumptions apart.
    let full_peak = stack::peak();
    stack::paint(stack::DEFAULT_WINDOW);

    // 2. No session set: `connect` takes the newest ticket from the cache (psk_dhe_ke).
    let (second, newest) =
        match connection::run(2, &ctx, net_stack, SERVER_NAME, None, DHE, LINE, 1, buffers).await {
            Ok(r) => r,
            Err(e) => conn_failed(2, e),
        };
    second.print(2);

    // 3. The ticket connection 2 received, set by hand, offered with psk_ke only.
    let Some(newest) = newest else {
        fail("connection 2 left no session")
    };
    let (third, _) = match connection::run(
        3,
        &ctx,
        net_stack,
        SERVER_NAME,
        Some(&newest),
        PskMode::AllowPskOnly,
        LINE,
        1,
        buffers,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => conn_failed(3, e),
    };
    third.print(3);
    drop(newest);

    let resumed_peak = stack::peak();
    println!(
        "stack peak: {} bytes (full handshake {} bytes, resumptions {} bytes; window {} bytes)",
        full_peak.peak_bytes.max(resumed_peak.peak_bytes),
        full_peak.peak_bytes,
        resumed_peak.peak_bytes,
        full_peak.window_bytes
    );
    println!(
        "pool: {} of {} records in use; cache: {} entries",
        POOL.in_use(),
        POOL.capacity(),
        ctx.cache().len()
    );
    // Let the last FIN go out before the emulator stops.
    Timer::after_millis(10).await;
    match (second.summary.kex, third.summary.kex) {
        (KeyExchangeMode::PskDhe, KeyExchangeMode::Psk) if second.reused && third.reused => {
            println!("resume: ok (psk_dhe_ke and psk_ke resumptions)");
            exit(exit_code::SUCCESS)
        }
        _ => fail("connections 2 and 3 did not resume with psk_dhe_ke and psk_ke"),
    }
}
