//! Board support for the Arm MPS2 AN386 (Cortex-M4F, 25 MHz) as emulated by
//! QEMU 7.2 (`qemu-system-arm -M mps2-an386`).
//!
//! - [`executor::run`]: an embassy executor that sleeps with `wfi`, so runs
//!   are deterministic in QEMU;
//! - [`time`]: the embassy-time driver (SysTick), the host's wall clock
//!   (`SYS_TIME`, contract rule E6) and [`time::BoardClock`] for the TLS client;
//! - [`lan9118::Lan9118`]: the Ethernet controller as an
//!   `embassy_net_driver::Driver`, and [`net::start`] to bring up embassy-net;
//! - [`uart::Uart0`]: UART 0 as an embedded-io-async byte stream;
//! - [`rng::EmulatorRng`]: a ChaCha20 generator seeded by the host (emulator only);
//! - [`host`]: host files and QEMU's `-append` text (a CA certificate per run);
//! - [`host_flash::HostFlash`]: a NOR flash in a host file that outlives a QEMU
//!   restart (emulator only), for the session store;
//! - [`console`]: `println!`, [`console::exit`] and the panic handler over semihosting;
//! - [`stack`]: painted-stack high-water mark; [`marker`]: instruction-count markers.
//!
//! All register access, and all `unsafe`, is in one private module (`hw`).
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "defmt")]
use defmt_semihosting as _;

#[macro_use]
mod hw;

pub mod console;
pub mod executor;
pub mod host;
pub mod host_flash;
pub mod lan9118;
pub mod marker;
pub mod net;
pub mod rng;
pub mod stack;
pub mod time;
pub mod uart;

pub use embassy_executor::Spawner;
pub use rng::EmulatorRng;

/// The board could not be brought up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum InitError {
    /// [`Board::init`] was already called.
    AlreadyInitialized,
    /// The Ethernet controller did not come up.
    Nic(lan9118::Lan9118Error),
    /// No seed could be read from the host.
    Seed(rng::SeedError),
}

/// The board's peripherals, ready to use.
pub struct Board {
    /// The Ethernet controller; hand it to [`net::start`].
    pub nic: lan9118::Lan9118,
    /// UART 0.
    pub uart: uart::Uart0,
    /// Randomness seeded from the host's `/dev/urandom` (emulator only).
    pub rng: EmulatorRng,
}

impl Board {
    /// Paints the stack, starts the time driver, and brings up the Ethernet
    /// controller, UART 0 and the generator. Call once, first thing in `main`.
    pub fn init() -> Result<Self, InitError> {
        stack::paint(stack::DEFAULT_WINDOW);
        let mut core = cortex_m::Peripherals::take().ok_or(InitError::AlreadyInitialized)?;
        time::start(&mut core.SYST);
        let nic = lan9118::Lan9118::new().map_err(InitError::Nic)?;
        let uart = uart::Uart0::new();
        let rng = EmulatorRng::from_host_entropy().map_err(InitError::Seed)?;
        #[cfg(feature = "defmt")]
        defmt::info!("board up, MAC {=[u8]:02x}", nic.mac_address());
        marker::marker(marker::id::BOOT);
        Ok(Self { nic, uart, rng })
    }
}
