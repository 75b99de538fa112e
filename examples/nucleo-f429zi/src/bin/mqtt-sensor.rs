//! A sensor that wakes, publishes one reading over MQTT on TLS 1.3, and sleeps, on the
//! Nucleo-F429ZI: the shared `mqtt-sensor` example (`encore_examples_common::mqtt_sensor`)
//! with the session store on the internal flash, against the broker at `ENCORE_SERVER`.
//!
//! Each reset is one wake-up; the firmware halts when it would sleep.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_nucleo_f429zi::{net, Board, Spawner};
use encore_example_nucleo::{open_store, psk_mode, start_failed, trust_anchor, Device, Nucleo};
use encore_examples_common::mqtt_sensor;
use rand_core::Rng;

const NAME: &str = "mqtt-sensor";

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let mut board = Board::init();
    let anchor = trust_anchor(NAME);
    let psk_mode = psk_mode(NAME);
    let store = open_store(NAME, board.store_flash);
    let seed = board.rng.next_u64();
    let stack = match net::start(spawner, board.ethernet, seed) {
        Ok(stack) => stack,
        Err(e) => start_failed(NAME, "network start", e),
    };
    let device = Device::<Nucleo> {
        stack,
        rng: board.rng,
        anchor,
    };
    mqtt_sensor::run(device, store, psk_mode).await
}
