//! The example firmware's application logic, written once for every board.
//!
//! The `resume`, `reboot` and `mqtt-sensor` examples are the same program on the emulated
//! MPS2 AN386 and on the Nucleo-F429ZI: what differs is how a board starts its network,
//! where its randomness, wall clock, trust anchor, device key and flash come from, and where
//! its output goes. A board firmware brings those up, implements [`Board`], and hands them to
//! [`resume::run`], [`reboot::run`] or [`mqtt_sensor::run`].
//!
//! - [`Board`]: console and exit, instruction-count markers, the server's address, the clock
//!   and the flash the session store lives on;
//! - [`transport`]: embassy-net's `TcpSocket` as the client's transport, with a read timeout;
//! - [`connection`]: one connection through `encore-client`, with markers around its
//!   handshake;
//! - [`saved`]: the session store as the client drives it, and loading it at boot;
//! - [`batched`]: one TLS record per flush for the MQTT and HTTP libraries;
//! - [`net_smoke`]: the TCP echo check of every board's network smoke test;
//! - [`log`]: defmt records of what the examples report (the `defmt` feature).
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::convert::Infallible;
use core::fmt::{Arguments, Debug};

use embassy_net::{IpEndpoint, Stack};
use embedded_storage_async::nor_flash::{ErrorType, NorFlash};
use encore_client::{CacheConfig, ClientConfig, Clock};
use rand_core::{Rng, TryCryptoRng};
use rustls_pki_types::TrustAnchor;

pub mod batched;
pub mod connection;
pub mod log;
pub mod mqtt_sensor;
pub mod net_smoke;
pub mod reboot;
pub mod resume;
pub mod saved;
pub mod transport;

/// The name the server's certificate is issued for (subjectAltName and CN).
pub const SERVER_NAME: &str = "encore.test";

/// Id of the application context that owns the firmware's session records
/// (stable across reboots, CONTRACT "Decided — owner").
pub const CONTEXT_ID: encore_client::ContextId = encore_client::ContextId(1);

/// Marker ids around the handshake of connection `n` (1-based).
pub use encore_markers::handshake as handshake_markers;

/// Marker ids around what the application exchanges over connection `n` after its handshake.
pub use encore_markers::exchange as exchange_markers;

pub use encore_markers::exit_code;

/// What an error must offer to be reported: `Debug` for the text lines, and
/// `defmt::Format` too when the `defmt` feature is on.
#[cfg(not(feature = "defmt"))]
pub trait Reportable: Debug {}
#[cfg(not(feature = "defmt"))]
impl<T: Debug + ?Sized> Reportable for T {}

/// What an error must offer to be reported: `Debug` for the text lines, and
/// `defmt::Format` too when the `defmt` feature is on.
#[cfg(feature = "defmt")]
pub trait Reportable: Debug + defmt::Format {}
#[cfg(feature = "defmt")]
impl<T: Debug + defmt::Format + ?Sized> Reportable for T {}

/// What the examples need from a board beyond the embassy-net stack it started.
///
/// Every function is associated (no `self`): the examples call them anywhere, like the
/// free functions of a board crate, and each board's firmware names its implementation
/// once. All of them are cheap enough to sit next to a measured region, and [`Board::marker`]
/// must cost the same few instructions everywhere it is called.
pub trait Board {
    /// The client's clock: monotonic milliseconds and the wall clock that certificate
    /// checks and ticket ages across a reboot need (E6).
    type Clock: Clock;
    /// The client's generator (key shares, nonces of the session store); one that cannot
    /// fail, as a hardware generator that resets itself or a seeded stream cipher.
    type Rng: TryCryptoRng<Error = Infallible>;
    /// The flash the session store lives on, as the store's region of it; its errors are
    /// [`FlashError`]s.
    type Flash: NorFlash<Error: Reportable + Copy>;

    /// Writes one line of the examples' text output (the lines the xtask parses on the
    /// emulated board).
    fn print(line: Arguments<'_>);
    /// Ends the program with `code` ([`exit_code`]).
    fn exit(code: i32) -> !;
    /// Records marker `id` for the instruction-count plugin (a few instructions where
    /// nothing counts them).
    fn marker(id: u8);
    /// The TLS server the examples connect to.
    fn server() -> IpEndpoint;
    /// The clock for a context made now.
    fn clock() -> Self::Clock;
    /// The deepest stack use since the last [`Board::restart_stack_peak`]: bytes used and
    /// bytes watched, or `None` (the default) on a board that does not measure it.
    fn stack_peak() -> Option<(usize, usize)> {
        None
    }
    /// Starts measuring the stack's peak afresh; nothing by default.
    fn restart_stack_peak() {}
    /// Reports what the flash driver itself counted (the emulated board's host-file flash
    /// counts its operations); nothing by default.
    fn report_flash(_flash: &Self::Flash) {}
}

/// What board `B`'s flash reports.
pub type FlashError<B> = <<B as Board>::Flash as ErrorType>::Error;

/// Prints one line through [`Board::print`]: `say!(B, "conn={}", n)`.
#[macro_export]
macro_rules! say {
    ($board:ty, $($arg:tt)*) => {
        <$board as $crate::Board>::print(core::format_args!($($arg)*))
    };
}

/// What every example starts from: the network the board started, its generator and the
/// trust anchors it holds (the CAs the server's chain must lead to).
pub struct Device<B: Board> {
    /// The embassy-net stack, started (its link may still be coming up).
    pub stack: Stack<'static>,
    /// The board's generator; the example's context takes it.
    pub rng: B::Rng,
    /// The trust anchors, loaded once at boot for the whole run.
    pub anchors: &'static [TrustAnchor<'static>],
}

impl<B: Board> Device<B> {
    /// The device of a board whose generator is `rng` and whose trust anchors are `anchors`,
    /// with the network `start` brings up, seeded (ports, TCP sequence numbers) from `rng`.
    pub fn new(
        anchors: &'static [TrustAnchor<'static>],
        mut rng: B::Rng,
        start: impl FnOnce(u64) -> Stack<'static>,
    ) -> Self {
        let stack = start(rng.next_u64());
        Device {
            stack,
            rng,
            anchors,
        }
    }

    /// The examples' context on this device: [`CONTEXT_ID`], the device's trust anchors and
    /// generator, the board's clock, the default cache configuration (C26: `connect` takes a
    /// ticket from the cache by itself) and records from `pool`. (The context alone, not a
    /// pair with the stack: the context is large, and a pair would be built on the stack
    /// before it is moved. A board's function that returns such a pair is never inlined, so
    /// that the pair is built in a frame that is gone before the first handshake.)
    ///
    /// Never inlined: inlined, the context's construction stayed in the caller's frame, under
    /// every handshake (about 300 B of the demo's stack peaks).
    #[inline(never)]
    pub fn into_context<'a>(self, pool: &'a connection::Pool) -> connection::Ctx<'a, B> {
        connection::Ctx::<B>::new(
            CONTEXT_ID,
            ClientConfig::new(self.anchors),
            pool,
            CacheConfig::DEFAULT,
            B::clock(),
            self.rng,
        )
    }
}

/// Reports a start-up failure of `firmware` (`<firmware>: FAILED: <what>: <error>`) and ends
/// the program with [`exit_code::BOARD_INIT`].
pub fn setup_failed<B: Board>(firmware: &str, what: &str, e: impl Debug) -> ! {
    say!(B, "{}: FAILED: {}: {:?}", firmware, what, e);
    B::exit(exit_code::BOARD_INIT)
}

/// Reports that `firmware`'s check failed (`<firmware>: FAILED: <what>`) and ends the
/// program with [`exit_code::FAILURE`].
pub fn failed<B: Board>(firmware: &str, what: &str) -> ! {
    say!(B, "{}: FAILED: {}", firmware, what);
    B::exit(exit_code::FAILURE)
}

/// Reports that connection `n` of `firmware` failed (`<firmware>: FAILED: conn=<n> <error>`,
/// and the error as a defmt record) and ends the program with [`exit_code::FAILURE`].
pub fn connection_failed<B: Board>(firmware: &str, n: u8, e: connection::Failure) -> ! {
    log::error(firmware, &e);
    say!(B, "{}: FAILED: conn={} {:?}", firmware, n, e);
    B::exit(exit_code::FAILURE)
}

/// Prints the stack line, `stack peak: N bytes (window W bytes)`, where the board measures it.
pub fn print_stack_peak<B: Board>() {
    if let Some((peak, window)) = B::stack_peak() {
        say!(B, "stack peak: {} bytes (window {} bytes)", peak, window);
    }
}

/// Runs `step` with its poll in a function of its own, never inlined into the caller's.
///
/// An `async fn`'s poll function is one frame for every step it awaits: the temporaries of
/// a step that ends before the handshake (loading the store, say) would otherwise stay on
/// the stack under the handshake that follows. Polled out of line, they leave the stack
/// whenever the step returns.
pub async fn out_of_line<F: core::future::Future>(step: F) -> F::Output {
    let mut step = core::pin::pin!(step);
    core::future::poll_fn(|cx| poll_out_of_line(step.as_mut(), cx)).await
}

#[inline(never)]
fn poll_out_of_line<F: core::future::Future>(
    step: core::pin::Pin<&mut F>,
    cx: &mut core::task::Context<'_>,
) -> core::task::Poll<F::Output> {
    step.poll(cx)
}
