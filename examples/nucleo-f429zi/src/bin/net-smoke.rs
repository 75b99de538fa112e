//! Network smoke test on a Nucleo-F429ZI: DHCP, then TCP to an echo server.
//!
//! The server is `ENCORE_SERVER` at build time (`a.b.c.d:port`, default
//! 192.168.1.2:4433), for example `socat TCP-LISTEN:4433,fork PIPE` on a host
//! of the same network. The firmware writes one line, waits for its echo and
//! logs the result over RTT.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_nucleo_f429zi::{net, Board, Spawner};
use encore_example_nucleo::Nucleo;
use encore_examples_common::net_smoke::echo;
use rand_core::Rng;

const LINE: &[u8] = b"encore net-smoke\n";

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut board = Board::init();
    let seed = board.rng.next_u64();
    let stack = match net::start(spawner, board.ethernet, seed) {
        Ok(stack) => stack,
        Err(e) => {
            defmt::error!("network start failed: {}", e);
            return;
        }
    };
    defmt::info!("waiting for DHCP");
    stack.wait_config_up().await;
    if let Some(config) = stack.config_v4() {
        defmt::info!("address {}", config.address);
    }
    // The server is `ENCORE_SERVER` (a malformed one stops the firmware here).
    match echo::<Nucleo>(stack, LINE).await {
        Ok(()) => defmt::info!("net-smoke: echo received"),
        Err(what) => defmt::error!("net-smoke failed: {}", what),
    }
}
