//! A sensor that wakes, publishes one reading over MQTT on TLS 1.3, and sleeps (the shared
//! `mqtt-sensor` example, `encore_examples_common::mqtt_sensor`, on [`Mps2`]).
//!
//! Each boot is one wake-up of a battery-powered device:
//! 1. `load_all` opens the session store on flash (the emulator's host-file flash,
//!    `-append flash=PATH`, sealed under the device key `key=PATH`) and files every
//!    stored record into the context's cache (ticket ages from the wall clock, E6);
//! 2. TCP to the broker the host forwards to 10.0.2.100:443, then the TLS handshake
//!    with `connect_with`: a stored ticket is consumed on flash before the ClientHello
//!    that offers it (C28), with psk_ke when the device is configured for a broker that
//!    allows it (`kex=psk`), psk_dhe_ke otherwise (`kex=psk_dhe`, the default); with
//!    nothing stored, a full handshake that verifies the chain against the CA of the
//!    run (`ca=PATH`);
//! 3. `rust-mqtt` over the connection (an `embedded_io_async` stream, its small writes
//!    batched into one record per packet): CONNECT, one reading published with QoS 1
//!    and acknowledged by the broker's PUBACK, DISCONNECT;
//! 4. the records the broker's NewSessionTickets made are stored on flash
//!    (`save_tickets`), then close_notify (`shutdown`) and the TCP close;
//! 5. the firmware exits: the device sleeps until the host boots it again.
//!
//! Lines: `load: ..`, `prune: ..`, `consume: ..`, `conn=1 ..` (as the `resume`
//! firmware), `reading: topic=.. payload=.. acknowledged=..`, `mqtt: ..` (every TLS
//! byte of the wake-up in `wire_bytes_total`), `store: ..`, `close: ..` and
//! `wear step=..` lines. Markers: 3/4 around `load_all`, 5/6 around `consume` (11 again
//! after it), 11/12 around the handshake, 13/14 around the MQTT exchange, 7/8 around
//! storing the tickets. Exit status 0 when the broker acknowledged the reading and at
//! least one new ticket was stored.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_mps2::{executor, Board, Spawner};
use encore_example_mps2::{saved, setup};
use encore_examples_common::mqtt_sensor;

/// How this firmware names itself in its failure lines.
const NAME: &str = "mqtt-sensor";

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

#[embassy_executor::task]
async fn app(spawner: Spawner, board: Board) {
    let psk_mode = setup::psk_mode(NAME);
    let store = saved::open_store(NAME);
    let device = setup::device(NAME, spawner, board.nic, board.rng);
    mqtt_sensor::run(device, store, psk_mode).await
}
