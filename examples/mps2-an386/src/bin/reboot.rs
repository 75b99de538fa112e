//! A session that survives a reboot: resumption with psk_ke right after boot (the shared
//! `reboot` example, `encore_examples_common::reboot`, on [`Mps2`]).
//!
//! The firmware does at every boot what a device that sleeps between reports does:
//! 1. at boot, `load_all` opens the session store on flash (here the emulator's
//!    host-file flash, `-append flash=PATH`, sealed under the device key the host
//!    made, `key=PATH`) and files each record into its context's cache; ticket
//!    ages come from the wall clock (E6);
//! 2. the connection drives the store itself (`connect_with`): if the cache holds a
//!    session for the server, `connect_with` takes it, consumes it on flash (C28: a
//!    power cut after this can never bring it back; if consuming fails, the ticket
//!    is not offered), and only then sends the ClientHello, with psk_ke
//!    (`set_psk_mode(AllowPskOnly)`): a resumption with no public-key operation at
//!    all; with nothing stored, a full handshake that verifies the chain against
//!    the CA of the run (`ca=PATH`);
//! 3. every record the server's NewSessionTickets made on that connection is stored
//!    on flash (`save_tickets`), and the firmware exits.
//!
//! Run it twice on the same flash file: the first boot makes a full handshake
//! and stores its tickets; the second resumes. `phase=1` and `phase=2` on the
//! command line turn those expectations into the exit status (0 only if they
//! hold); without `phase`, any completed connection exits 0.
//!
//! Lines: `load: ..` (the `LoadReport`), `prune: ..`, `consume: ..`, `conn=1 ..`
//! (as the `resume` firmware), `store: ..`, and `wear step=..` per step (flash
//! writes, bytes, erases, reads). Markers: 3/4 around `load_all`, 5/6 around `consume`
//! (inside `connect_with`, which sets marker 11 again after it),
//! 11/12 around the handshake, 7/8 around storing the tickets.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use encore_board_mps2::{executor, Board, Spawner};
use encore_example_mps2::{saved, setup, LINE};
use encore_examples_common::reboot::{self, Phase};

/// How this firmware names itself in its failure lines.
const NAME: &str = "reboot";

#[cortex_m_rt::entry]
fn main() -> ! {
    executor::boot(app)
}

/// What the host expects of this boot: `phase=1` (blank flash, full handshake) or `phase=2`
/// (a stored session, psk_ke right after boot) on the command line; nothing otherwise.
fn phase() -> Phase {
    let mut value = [0u8; 16];
    match saved::arg("phase", &mut value) {
        Ok(Some("1")) => Phase::First,
        Ok(Some("2")) => Phase::AfterReboot,
        Ok(None) => Phase::Any,
        _ => setup::failed(NAME, "phase= must be 1 or 2", ()),
    }
}

#[embassy_executor::task]
async fn app(spawner: Spawner, board: Board) {
    let phase = phase();
    // The application's device key and flash. The store's nonces come from the
    // context's generator (the board's), through the connection.
    let store = saved::open_store(NAME);
    let device = setup::device(NAME, spawner, board.nic, board.rng);
    reboot::run(device, store, phase, LINE).await
}
