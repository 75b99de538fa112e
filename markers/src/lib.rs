//! The marker ids and exit statuses of the firmware, in one place for the firmware that emits
//! them and the `xtask` that reads them.
//!
//! A marker is a call to the board's `encore_marker(id)`; the instruction-counting QEMU plugin
//! (`tools/qemu-plugin`) records the instruction count each time one runs, and the xtask
//! subtracts the counts of a pair to get what the code between them cost. The example firmware
//! and the benchmark firmware are separate programs, so their ids may overlap.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

/// Exit statuses of the firmware, as QEMU (semihosting `SYS_EXIT_EXTENDED`) reports them.
pub mod exit_code {
    /// The firmware did what it was built to check.
    pub const SUCCESS: i32 = 0;
    /// The check failed (a connection, an echo, a resumption, a reading not acknowledged).
    pub const FAILURE: i32 = 1;
    /// A panic.
    pub const PANIC: i32 = 2;
    /// A hard fault.
    pub const HARD_FAULT: i32 = 3;
    /// The board or the application could not be brought up (NIC, seed, semihosting, trust
    /// anchor, network, device key, flash, store).
    pub const BOARD_INIT: i32 = 4;
}

/// The firmware reached `main` and the board is initialised.
pub const BOOT: u8 = 0;
/// Start of the measured region of a smoke test.
pub const BEGIN: u8 = 1;
/// End of the measured region of a smoke test.
pub const END: u8 = 2;

/// Before and after loading the session store at boot (`load_all`).
pub const LOAD: (u8, u8) = (3, 4);
/// Before and after consuming the offered ticket on flash (`consume`).
pub const CONSUME: (u8, u8) = (5, 6);
/// Before and after storing the new tickets.
pub const STORE: (u8, u8) = (7, 8);

/// Around the handshake of connection `n` (1-based): `10·n + 1` right before `connect`,
/// `10·n + 2` when it returned (the client Finished was handed to the socket).
pub const fn handshake(n: u8) -> (u8, u8) {
    (n * 10 + 1, n * 10 + 2)
}

/// Around what the application exchanges over connection `n` after its handshake (an MQTT
/// session, an HTTP request): `10·n + 3` and `10·n + 4`.
pub const fn exchange(n: u8) -> (u8, u8) {
    (n * 10 + 3, n * 10 + 4)
}

/// The benchmark firmware's markers (`bench/mps2-an386`).
pub mod bench {
    /// Start of one measured handshake.
    pub const HANDSHAKE_BEGIN: u8 = 1;
    /// End of one measured handshake (the client Finished has been handed to the link).
    pub const HANDSHAKE_END: u8 = 2;
    /// The link starts talking to the UART.
    pub const IO_BEGIN: u8 = 10;
    /// The link is done with the UART.
    pub const IO_END: u8 = 11;
    /// Interrupts held back while the engine ran are about to run.
    pub const DEFERRED_BEGIN: u8 = 12;
    /// They have run.
    pub const DEFERRED_END: u8 = 13;
    /// Start of one measured primitive (`bench-crypto`, `bench-rsa`).
    pub const OP_BEGIN: u8 = 20;
    /// End of one measured primitive.
    pub const OP_END: u8 = 21;
}
