//! A sensor that wakes, publishes one reading over MQTT on TLS 1.3, and sleeps, on the
//! Nucleo-F429ZI: the shared `mqtt-sensor` example (`encore_examples_common::mqtt_sensor`)
//! with the session store on the internal flash, against the broker at `ENCORE_SERVER`.
//!
//! Each reset is one wake-up; the firmware halts when it would sleep.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_nucleo_f429zi::{Board, Spawner};
use encore_example_nucleo::{device, open_store, psk_mode};
use encore_examples_common::mqtt_sensor;

const NAME: &str = "mqtt-sensor";

#[embassy_executor::main]
async fn main(spawner: Spawner) {
    let board = Board::init();
    let psk_mode = psk_mode(NAME);
    let store = open_store(NAME, board.store_flash);
    let device = device(NAME, spawner, board.ethernet, board.rng);
    mqtt_sensor::run(device, store, psk_mode).await
}
