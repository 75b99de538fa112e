//! TLS 1.3 resumption on the Nucleo-F429ZI: the shared `resume` example
//! (`encore_examples_common::resume`) over the board's Ethernet, with DHCP.
//!
//! A full handshake to `ENCORE_SERVER` that verifies its chain against the compiled-in CA,
//! then a psk_dhe_ke and a psk_ke resumption (the server must allow psk_ke:
//! `openssl s_server ... -allow_no_dhe_kex`). Lines and the exit status over RTT.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_nucleo_f429zi::{Board, Spawner};
use encore_example_nucleo::{device, LINE};
use encore_examples_common::resume;

const NAME: &str = "resume";

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let board = Board::init();
    let device = device(NAME, spawner, board.ethernet, board.rng);
    resume::run(device, LINE).await
}
