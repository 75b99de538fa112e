//! TLS 1.3 resumption through embassy-net and `encore-client`: the `resume` example.
//!
//! Three connections to the board's server ([`Board::server`]):
//! 1. a full handshake that verifies the server's chain against the device's trust
//!    anchor, waits for the tickets issued after the handshake (`await_tickets`: they go
//!    to the context's cache), sends a line, and closes with close_notify;
//! 2. `connect` takes a ticket from the cache by itself and resumes with psk_dhe_ke (a
//!    fresh key exchange, no certificate);
//! 3. the newest ticket of connection 2 (`get1_session`), set with `set_session` on a
//!    connection set to psk_ke (`set_psk_mode`, same context): a resumption with no
//!    public-key operation at all, and no forward secrecy.
//!
//! One line per connection: `conn=N reused=.. kex=.. wire_bytes=..`. Markers `10·N+1`
//! and `10·N+2` bracket each handshake for the instruction-count plugin. Exit status 0
//! only if connections 2 and 3 resumed with the expected key exchange; 1 with one line
//! saying what failed.

use embassy_time::Timer;
use encore_client::{KeyExchangeMode, PskMode};
use static_cell::ConstStaticCell;

use crate::connection::{self, Buffers, Plan, Pool};
use crate::{exit_code, failed, say, Board, Device, SERVER_NAME};

/// How the example names itself in its lines.
const NAME: &str = "resume";

static POOL: Pool = Pool::new();
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// The example, on a device whose network was started; `line` is what each connection
/// sends once connected. Ends the program.
pub async fn run<B: Board>(device: Device<B>, line: &[u8]) -> ! {
    // One application context: psk_dhe_ke by default; connection 3 chooses psk_ke
    // for itself, and its tickets land in this context's cache like the others.
    let stack = device.stack;
    let ctx = device.into_context(&POOL);
    stack.wait_config_up().await;
    let buffers = BUFFERS.take();
    // Connections 1 and 2 keep the context's default: psk_dhe_ke, forward secrecy; none
    // sets a session by hand, so `connect` takes a ticket from the cache by itself.
    let plan = |n, want_tickets| Plan {
        n,
        server_name: SERVER_NAME,
        offer: None,
        psk_mode: PskMode::DheOnly,
        line,
        want_tickets,
    };

    // 1. Full handshake; OpenSSL issues two tickets after it, which go to the cache.
    let ran = connection::run::<B>(&ctx, stack, &plan(1, 2), buffers, None).await;
    let (first, _) = connection::checked::<B>(NAME, 1, ran);
    if first.reused {
        failed::<B>(NAME, "connection 1 was not a full handshake");
    }
    // The deepest stack so far is the full handshake's; measure the resumptions apart.
    let full_peak = B::stack_peak();
    B::restart_stack_peak();

    // 2. No session set: `connect` takes the newest ticket from the cache (psk_dhe_ke).
    let ran = connection::run::<B>(&ctx, stack, &plan(2, 1), buffers, None).await;
    let (second, newest) = connection::checked::<B>(NAME, 2, ran);

    // 3. The ticket connection 2 received, set by hand, offered with psk_ke only.
    let Some(newest) = newest else {
        failed::<B>(NAME, "connection 2 left no session")
    };
    let by_hand = Plan {
        offer: Some(&newest),
        psk_mode: PskMode::AllowPskOnly,
        ..plan(3, 1)
    };
    let ran = connection::run::<B>(&ctx, stack, &by_hand, buffers, None).await;
    let (third, _) = connection::checked::<B>(NAME, 3, ran);
    drop(newest);

    if let (Some((full, window)), Some((resumed, _))) = (full_peak, B::stack_peak()) {
        say!(
            B,
            "stack peak: {} bytes (full handshake {} bytes, resumptions {} bytes; window {} bytes)",
            full.max(resumed),
            full,
            resumed,
            window
        );
    }
    say!(
        B,
        "pool: {} of {} records in use; cache: {} entries",
        POOL.in_use(),
        POOL.capacity(),
        ctx.cache().len()
    );
    // Let the last FIN go out before the board stops.
    Timer::after_millis(10).await;
    match (second.summary.kex, third.summary.kex) {
        (KeyExchangeMode::PskDhe, KeyExchangeMode::Psk) if second.reused && third.reused => {
            say!(B, "resume: ok (psk_dhe_ke and psk_ke resumptions)");
            B::exit(exit_code::SUCCESS)
        }
        _ => failed::<B>(
            NAME,
            "connections 2 and 3 did not resume with psk_dhe_ke and psk_ke",
        ),
    }
}
