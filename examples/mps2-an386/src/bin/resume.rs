//! TLS 1.3 resumption on the emulated board, through embassy-net and `encore-client`:
//! the shared `resume` example (`encore_examples_common::resume`) on [`Mps2`].
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

use encore_board_mps2::{executor, Board, Spawner};
use encore_example_mps2::{setup, LINE};
use encore_examples_common::resume;

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

#[embassy_executor::task]
async fn app(spawner: Spawner, board: Board) {
    let device = setup::device("resume", spawner, board.nic, board.rng);
    resume::run(device, LINE).await
}
