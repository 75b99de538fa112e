//! The emulated board's side of the TLS examples: [`Mps2`], the [`Board`] that the shared
//! application logic (`encore-examples-common`: `resume`, `reboot`, `mqtt-sensor`) runs on,
//! and what only the emulator has.
//!
//! - [`Mps2`]: semihosting output and exit, the instruction-count markers, QEMU's forwarded
//!   server, the host's wall clock, the host-file flash and the painted-stack measure;
//! - [`trust`]: the CA certificate the host made for this run, read at boot
//!   through semihosting (emulator only; a real board keeps its anchors in flash);
//! - [`setup`]: the trust anchor and the network, or a clear failure;
//! - [`saved`]: the session store on the emulator's host-file flash, the device
//!   key from the host, and the command line (`-append`);
//! - [`connection`]: the shared connection code on this board, for the firmware that
//!   run their own connections (`decline`, `https-get`).
#![no_std]
#![forbid(unsafe_code)]

use core::fmt::Arguments;

use embassy_net::IpEndpoint;
use encore_board_mps2::host_flash::HostFlash;
use encore_board_mps2::time::BoardClock;
use encore_board_mps2::{console, marker, net, println, stack, EmulatorRng};
pub use encore_examples_common::{
    batched, connection_failed, exchange_markers, failed, handshake_markers, print_stack_peak,
    transport, Board, Device, CONTEXT_ID, SERVER_NAME,
};

pub mod connection;
pub mod saved;
pub mod setup;
pub mod trust;

/// The line each connection sends once connected.
pub const LINE: &[u8] = b"hello from encore on mps2-an386\n";

/// QEMU's MPS2 AN386 as the examples' board.
pub enum Mps2 {}

impl Board for Mps2 {
    type Clock = BoardClock;
    type Rng = EmulatorRng;
    type Flash = HostFlash;

    fn print(line: Arguments<'_>) {
        console::write_line(line);
    }

    fn exit(code: i32) -> ! {
        console::exit(code)
    }

    #[inline(always)]
    fn marker(id: u8) {
        marker::marker(id);
    }

    fn server() -> IpEndpoint {
        net::SERVER
    }

    fn clock() -> BoardClock {
        BoardClock::new()
    }

    fn stack_peak() -> Option<(usize, usize)> {
        let used = stack::peak();
        Some((used.peak_bytes, used.window_bytes))
    }

    fn restart_stack_peak() {
        stack::paint(stack::DEFAULT_WINDOW);
    }

    /// `host flash: writes=.. bytes=.. sectors_erased=.. reads=..`: the operations the
    /// host-file flash counted itself.
    fn report_flash(flash: &HostFlash) {
        let ops = flash.ops();
        println!(
            "host flash: writes={} bytes={} sectors_erased={} reads={}",
            ops.writes, ops.bytes_written, ops.sectors_erased, ops.reads
        );
    }
}
