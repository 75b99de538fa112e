//! The Nucleo-F429ZI's side of the TLS examples: [`Nucleo`], the [`Board`] that the shared
//! application logic (`encore-examples-common`: `resume`, `reboot`, `mqtt-sensor`) runs on,
//! and the configuration a firmware image is built with.
//!
//! Set at build time (environment variables of `cargo build`/`cargo run`):
//! - `ENCORE_SERVER`: the TLS server or MQTT broker, `a.b.c.d:port` (default
//!   [`DEFAULT_SERVER`]); its certificate must be issued for `encore.test`;
//! - `ENCORE_CA_DER`: the CA certificate (DER) the server's chain leads to, compiled in
//!   (default `ca.der` in this directory; without it the examples stop at boot);
//! - `ENCORE_DEVICE_KEY`: the device key that seals the stored sessions, 64 hex digits
//!   (no default: `reboot` and `mqtt-sensor` stop at boot without it). A product
//!   provisions one key per device (OTP, secure element) instead of building it in;
//! - `ENCORE_KEX`: the key exchange `mqtt-sensor`'s resumptions offer: `psk_dhe`
//!   (default, psk_dhe_ke) or `psk` (psk_ke, for a broker known to allow it).
#![no_std]
#![forbid(unsafe_code)]

use core::fmt::Arguments;
use core::net::SocketAddrV4;

use embassy_net::IpEndpoint;
use encore_board_nucleo_f429zi::time::BoardClock;
use encore_board_nucleo_f429zi::{net, BoardEthernet, HardwareRng, Spawner, StoreFlash};
use encore_client::PskMode;
use encore_examples_common::saved::Store;
pub use encore_examples_common::{exit_code, setup_failed, Board, Device};
use encore_store::DeviceKey;
use encore_tls::crypto::anchor_from_der;
use rustls_pki_types::{CertificateDer, TrustAnchor};
use static_cell::StaticCell;

/// The server when `ENCORE_SERVER` is not set at build time.
pub const DEFAULT_SERVER: &str = "192.168.1.2:4433";

/// The line each connection sends once connected.
pub const LINE: &[u8] = b"hello from encore on nucleo-f429zi\n";

/// The CA certificate compiled in (`ENCORE_CA_DER`); empty when none was given.
static CA_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/ca.der"));
/// The same bytes as the certificate view the anchor borrows from.
static CA: CertificateDer<'static> = CertificateDer::from_slice(CA_DER);
/// The anchor made from them, for the whole run.
static ANCHORS: StaticCell<[TrustAnchor<'static>; 1]> = StaticCell::new();

/// The Nucleo-F429ZI as the examples' board: text lines and exit over defmt (RTT), no
/// instruction-count markers and no stack measure, the server from the build, the wall clock
/// from the board's RTC.
pub enum Nucleo {}

impl Board for Nucleo {
    type Clock = BoardClock;
    type Rng = HardwareRng;
    type Flash = StoreFlash;

    fn print(line: Arguments<'_>) {
        defmt::println!("{}", defmt::Display2Format(&line));
    }

    /// Logs the status and halts on a breakpoint, where `probe-rs run` stops.
    fn exit(code: i32) -> ! {
        defmt::println!("exit status {=i32}", code);
        loop {
            cortex_m::asm::bkpt();
        }
    }

    #[inline(always)]
    fn marker(_id: u8) {}

    fn server() -> IpEndpoint {
        let text = option_env!("ENCORE_SERVER").unwrap_or(DEFAULT_SERVER);
        match text.parse::<SocketAddrV4>() {
            Ok(addr) => IpEndpoint::from(addr),
            Err(e) => setup_failed::<Nucleo>("server", "ENCORE_SERVER is not a.b.c.d:port", e),
        }
    }

    fn clock() -> BoardClock {
        BoardClock::new()
    }
}

/// The compiled-in CA certificate as the one trust anchor; a firmware built without one,
/// or with one that is not a CA certificate, stops here.
pub fn trust_anchors(firmware: &str) -> &'static [TrustAnchor<'static>] {
    if CA_DER.is_empty() {
        setup_failed::<Nucleo>(
            firmware,
            "no CA certificate compiled in",
            "set ENCORE_CA_DER",
        )
    }
    let anchor = match anchor_from_der(&CA) {
        Ok(a) => a,
        Err(e) => setup_failed::<Nucleo>(firmware, "CA certificate (ENCORE_CA_DER)", e),
    };
    match ANCHORS.try_init([anchor]) {
        Some(anchors) => anchors,
        None => setup_failed::<Nucleo>(firmware, "trust anchors", "already loaded"),
    }
}

/// Why the compiled-in device key is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// `ENCORE_DEVICE_KEY` was not set at build time: there is no default key.
    NotSet,
    /// It is not 64 hexadecimal digits.
    Malformed,
}

/// The device key from `ENCORE_DEVICE_KEY` (64 hex digits).
pub fn device_key() -> Result<DeviceKey, KeyError> {
    let text = option_env!("ENCORE_DEVICE_KEY").ok_or(KeyError::NotSet)?;
    let digits = text.trim().as_bytes();
    if digits.len() != 64 {
        return Err(KeyError::Malformed);
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
        let hex = core::str::from_utf8(pair).map_err(|_| KeyError::Malformed)?;
        *byte = u8::from_str_radix(hex, 16).map_err(|_| KeyError::Malformed)?;
    }
    let key = DeviceKey::from_slice(&bytes).ok_or(KeyError::Malformed);
    bytes.fill(0);
    key
}

/// The session store on the board's store region ([`StoreFlash`], all four sectors), sealed
/// under the compiled-in device key; a failure stops `firmware`.
///
/// Never inlined: the store is built in this function's frame, which is gone before the
/// first handshake.
#[inline(never)]
pub fn open_store(firmware: &str, flash: StoreFlash) -> &'static mut Store<Nucleo> {
    static STORE: StaticCell<Store<Nucleo>> = StaticCell::new();
    let key = match device_key() {
        Ok(k) => k,
        Err(e) => setup_failed::<Nucleo>(firmware, "device key (ENCORE_DEVICE_KEY)", e),
    };
    let capacity = embedded_capacity(&flash);
    match Store::<Nucleo>::new(flash, 0..capacity, &key) {
        Ok(s) => encore_examples_common::saved::keep::<Nucleo>(firmware, &STORE, s),
        Err(e) => setup_failed::<Nucleo>(firmware, "session store", e),
    }
}

fn embedded_capacity(flash: &StoreFlash) -> u32 {
    use embedded_storage_async::nor_flash::ReadNorFlash;
    u32::try_from(flash.capacity()).unwrap_or(u32::MAX)
}

/// The key exchange `mqtt-sensor`'s resumptions offer (`ENCORE_KEX`).
pub fn psk_mode(firmware: &str) -> PskMode {
    match option_env!("ENCORE_KEX") {
        Some("psk") => PskMode::AllowPskOnly,
        Some("psk_dhe") | None => PskMode::DheOnly,
        Some(other) => setup_failed::<Nucleo>(firmware, "ENCORE_KEX must be psk or psk_dhe", other),
    }
}

/// What the shared examples start from: the compiled-in trust anchor ([`trust_anchors`]),
/// embassy-net with DHCP on `ethernet` (seeded from `rng`) and `rng` itself; a failure stops
/// `firmware`.
pub fn device(
    firmware: &str,
    spawner: Spawner,
    ethernet: BoardEthernet,
    rng: HardwareRng,
) -> Device<Nucleo> {
    Device::new(trust_anchors(firmware), rng, |seed| {
        match net::start(spawner, ethernet, seed) {
            Ok(stack) => stack,
            Err(e) => setup_failed::<Nucleo>(firmware, "network start", e),
        }
    })
}
