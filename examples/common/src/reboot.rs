//! A session that survives a reboot: resumption with psk_ke right after boot (the `reboot`
//! example).
//!
//! The firmware does at every boot what a device that sleeps between reports does:
//! 1. at boot, `load_all` opens the session store on the board's flash (sealed under the
//!    device key the board supplies) and files each record into its context's cache;
//!    ticket ages come from the wall clock (E6);
//! 2. the connection drives the store itself (`connect_with`): if the cache holds a
//!    session for the server, `connect_with` takes it, consumes it on flash (C28: a
//!    power cut after this can never bring it back; if consuming fails, the ticket
//!    is not offered), and only then sends the ClientHello, with psk_ke
//!    (`set_psk_mode(AllowPskOnly)`): a resumption with no public-key operation at
//!    all; with nothing stored, a full handshake that verifies the chain against
//!    the device's trust anchor;
//! 3. every record the server's NewSessionTickets made on that connection is stored
//!    on flash (`save_tickets`), and the firmware exits.
//!
//! Run it twice on the same flash: the first boot makes a full handshake and stores its
//! tickets; the second resumes. [`Phase`] turns those expectations into the exit status.
//!
//! Lines: `load: ..` (the `LoadReport`), `prune: ..`, `consume: ..`, `conn=1 ..`
//! (as the `resume` example), `store: ..`, and `wear step=..` per step (flash
//! writes, bytes, erases, reads). Markers: 3/4 around `load_all`, 5/6 around `consume`
//! (inside `connect_with`, which sets marker 11 again after it),
//! 11/12 around the handshake, 7/8 around storing the tickets.

use embassy_time::Timer;
use encore_client::{KeyExchangeMode, PskMode};
use encore_store::Wear;
use static_cell::ConstStaticCell;

use crate::connection::{self, Buffers, Plan, Pool};
use crate::saved::{self, ClientStore, Store};
use crate::{
    connection_failed, exit_code, failed, handshake_markers, out_of_line, say, Board, Device,
    SERVER_NAME,
};

/// How the example names itself in its lines.
const NAME: &str = "reboot";

static POOL: Pool = Pool::new();
// Built in place in .bss: a `StaticCell::init` would build them on the stack first.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// Tickets OpenSSL issues after a full handshake, and after a resumption.
const TICKETS_AFTER_FULL: usize = 2;
const TICKETS_AFTER_RESUMPTION: usize = 1;

/// What the host expects of this boot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No expectation: any completed connection exits 0.
    Any,
    /// First boot on a blank flash: nothing loaded, a full handshake, tickets stored.
    First,
    /// After a reboot: a record loaded, consumed, and a psk_ke resumption.
    AfterReboot,
}

/// The example, on a device whose network was started and whose session store is open;
/// `line` is what the connection sends once connected. Ends the program.
pub async fn run<B: Board>(
    device: Device<B>,
    store: &mut Store<B>,
    phase: Phase,
    line: &[u8],
) -> ! {
    // `connect_with` takes a ticket from the cache by itself (C26, C36) and consumes
    // it on flash before offering it (C28), so the cache needs no special mode.
    let stack = device.stack;
    let ctx = device.into_context(&POOL);
    let now_unix = saved::wall_clock::<B>(NAME, &ctx);

    // 1. At boot: every stored record into the cache of the context that owns it; records
    //    that can never be offered (expired, unreadable) leave the live set.
    let (report, cached) =
        out_of_line(saved::load_into_cache::<B>(NAME, store, &ctx, now_unix)).await;

    stack.wait_config_up().await;

    // 2. The connection takes a session for this server from the cache, consumes it on
    //    flash before its ClientHello leaves (C28), and 3. stores the records its
    //    tickets made.
    let want = if cached > 0 {
        TICKETS_AFTER_RESUMPTION
    } else {
        TICKETS_AFTER_FULL
    };
    let (hello, _) = handshake_markers(1);
    let mut client_store = ClientStore::<B>::new(store, hello);
    let buffers = BUFFERS.take();
    let plan = Plan {
        n: 1,
        server_name: SERVER_NAME,
        offer: None,
        psk_mode: PskMode::AllowPskOnly,
        line,
        want_tickets: want,
    };
    let (outcome, newest) =
        match connection::run::<B>(&ctx, stack, &plan, buffers, Some(&mut client_store)).await {
            Ok(r) => r,
            Err(e) => connection_failed::<B>(NAME, 1, e),
        };
    client_store.print_consume(SERVER_NAME);
    outcome.print::<B>(1);
    drop(newest);
    let (written, failed_writes) = (client_store.written, client_store.failed);
    client_store.print_store(&outcome.stats);
    let total: Wear = store.wear();
    say!(
        B,
        "wear total writes={} bytes={} erases={} reads={}",
        total.writes,
        total.bytes_written,
        total.erases,
        total.reads
    );
    B::report_flash(store.flash());
    crate::print_stack_peak::<B>();

    // Let the last FIN go out before the board stops.
    Timer::after_millis(10).await;
    if failed_writes > 0 || outcome.stats.save_failures > 0 || written == 0 {
        failed::<B>(NAME, "the new tickets were not stored");
    }
    let resumed_psk = outcome.reused && outcome.summary.kex == KeyExchangeMode::Psk;
    match phase {
        Phase::First if report.loaded != 0 || outcome.reused => {
            failed::<B>(NAME, "phase 1 expects a blank store and a full handshake")
        }
        Phase::AfterReboot if report.loaded == 0 || !resumed_psk => failed::<B>(
            NAME,
            "phase 2 expects a stored session and a psk_ke resumption right after boot",
        ),
        Phase::First => say!(
            B,
            "reboot: ok (phase 1: full handshake, {} tickets stored)",
            written
        ),
        Phase::AfterReboot => say!(
            B,
            "reboot: ok (phase 2: resumed with psk_ke right after boot, {} ticket(s) stored)",
            written
        ),
        Phase::Any => say!(B, "reboot: ok (reused={})", outcome.reused),
    }
    B::exit(exit_code::SUCCESS)
}
