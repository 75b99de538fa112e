//! A session that survives a reboot on the Nucleo-F429ZI: the shared `reboot` example
//! (`encore_examples_common::reboot`) with the session store on the internal flash
//! (bank 2, sectors 12 to 15), sealed under the compiled-in device key.
//!
//! Each boot loads the stored sessions, connects to `ENCORE_SERVER` (resuming with psk_ke
//! when a ticket is stored), stores the new tickets and halts; reset the board to run it
//! again. The wall clock is the board's RTC, which keeps counting across the reset, so the
//! stored tickets' receipt times are not later than the next boot's clock (see the board's
//! `time`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_nucleo_f429zi::{Board, Spawner};
use encore_example_nucleo::{device, open_store, LINE};
use encore_examples_common::reboot::{self, Phase};

const NAME: &str = "reboot";

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let board = Board::init();
    let store = open_store(NAME, board.store_flash);
    let device = device(NAME, spawner, board.ethernet, board.rng);
    reboot::run(device, store, Phase::Any, LINE).await
}
