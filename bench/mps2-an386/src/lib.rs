//! What the benchmark images share: the UART link to the host relay of `cargo xtask bench`,
//! counted at the transport, and the names the host parses.
//!
//! # The link
//!
//! UART 0 carries one byte stream to the relay, which holds the TCP connections to the TLS
//! servers on host loopback. The firmware speaks in frames, `[op][length: u16 BE][payload]`:
//!
//! | op | payload | the relay answers |
//! |---|---|---|
//! | `C` | server index (u8) | `[0x0000]` once connected, `[0xFFFF]` if it could not connect |
//! | `W` | TLS bytes | nothing; it sends them to the server |
//! | `R` | most bytes wanted (u16) | `[n: u16][n bytes]` from the server, `n = 0` at end of stream |
//! | `D` | none | `[0x0000]` once the server connection is closed |
//!
//! The relay sends nothing unasked, and answers `R` only once the server's flight has arrived
//! (the server went quiet), so received bytes reach the UART only while the firmware waits
//! inside [`Link`]. Each UART exchange is bracketed by [`marker::IO_BEGIN`] and
//! [`marker::IO_END`]: the host subtracts those spans, and what remains between
//! [`marker::HANDSHAKE_BEGIN`] and [`marker::HANDSHAKE_END`] is the work of the TLS stack
//! alone, the same on every run whatever the host's timing.
//!
//! The TLS stack's own work runs with interrupts masked ([`uninterrupted`]): the SysTick
//! interrupt (10 Hz of host time) then runs after it, between [`marker::DEFERRED_BEGIN`] and
//! [`marker::DEFERRED_END`], which the host subtracts as well.
//!
//! Wire bytes are the TLS bytes of `W` and `R` payloads (PEERS.md: every record byte in both
//! directions, from the first ClientHello byte to the client Finished); the framing is not
//! counted.
#![no_std]
#![forbid(unsafe_code)]

use core::sync::atomic::{AtomicUsize, Ordering};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use encore_board_mps2::uart::Uart0;

/// Marker ids the host parses (see [`encore_board_mps2::marker`]).
pub use encore_markers::bench as marker;

/// The benchmark server's DNS name: in the leaf certificate's subjectAltName (webpki) and
/// its CN (embedded-tls).
pub const SERVER_NAME: &str = "server.encore.test";

/// Index of the relay's certificate server (openssl s_server with the benchmark PKI,
/// `-allow_no_dhe_kex`).
pub const SERVER_CERT: u8 = 0;
/// Index of the relay's external-PSK server (openssl s_server with [`PSK`] and [`PSK_IDENTITY`]).
pub const SERVER_PSK: u8 = 1;

/// Index of the relay's server with the RSA-2048 chain (RSA-2048 root, intermediate and leaf;
/// RSA-PSS CertificateVerify), for `bench-encore` built with `rsa`.
pub const SERVER_RSA2048: u8 = 2;
/// Index of the relay's server whose P-256 leaf and intermediate chain to an RSA-4096 root,
/// for `bench-encore` built with `rsa`.
pub const SERVER_RSA4096_ROOT: u8 = 3;

/// The external PSK of embedded-tls's PSK handshake (the relay's PSK server has the same, in
/// hex).
pub const PSK: [u8; 32] = *b"Encore benchmark external PSK 01";
/// The external PSK's identity.
pub const PSK_IDENTITY: &[u8] = b"encore-bench";

/// The root certificate (DER) of the benchmark PKI, built in by `build.rs`.
pub static ROOT_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/root.der"));
/// The RSA-2048 chain's root certificate (DER), built in by `build.rs`.
#[cfg(feature = "rsa")]
pub static ROOT_RSA2048_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/root-rsa2048.der"));
/// The RSA-4096 root certificate (DER) above the P-256 intermediate, built in by `build.rs`.
#[cfg(feature = "rsa")]
pub static ROOT_RSA4096_DER: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/root-rsa4096.der"));

/// Seed of the client's generator: the same key shares on every run keep the instruction
/// counts repeatable. For benchmarks only; a product seeds from its hardware RNG.
pub const BENCH_SEED: [u8; 32] = *b"encore benchmark fixed rng seed!";

/// Largest payload of one frame: a reply always fits the UART driver's receive ring, so a
/// reply costs one wake-up.
const MAX_FRAME: usize = encore_board_mps2::uart::RX_RING_LEN - 2;

/// TLS bytes moved through the link.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireBytes {
    /// Bytes sent to the server.
    pub sent: usize,
    /// Bytes received from the server.
    pub received: usize,
}

impl WireBytes {
    /// Bytes moved since `earlier`.
    pub fn since(self, earlier: WireBytes) -> WireBytes {
        WireBytes {
            sent: self.sent - earlier.sent,
            received: self.received - earlier.received,
        }
    }
}

static SENT: AtomicUsize = AtomicUsize::new(0);
static RECEIVED: AtomicUsize = AtomicUsize::new(0);

/// TLS bytes moved through the link so far. A free function, so that it can be read while a
/// TLS stack holds the link.
pub fn counted() -> WireBytes {
    WireBytes {
        sent: SENT.load(Ordering::Relaxed),
        received: RECEIVED.load(Ordering::Relaxed),
    }
}

/// A byte stream to one TLS server through the host relay (see the crate documentation).
pub struct Link {
    uart: Uart0,
}

impl Link {
    /// The link over UART 0.
    pub fn new(uart: Uart0) -> Self {
        Link { uart }
    }

    async fn send_frame(&mut self, op: u8, payload: &[u8]) {
        let len = payload.len() as u16;
        let [hi, lo] = len.to_be_bytes();
        // Uart0's error type is Infallible.
        let _ = self.uart.write_all(&[op, hi, lo]).await;
        let _ = self.uart.write_all(payload).await;
    }

    async fn read_u16(&mut self) -> u16 {
        let mut b = [0u8; 2];
        let _ = self.uart.read_exact(&mut b).await;
        u16::from_be_bytes(b)
    }

    /// Opens a TCP connection from the relay to server `server`; `ConnectionRefused` when the
    /// relay could not connect to it.
    pub async fn connect(&mut self, server: u8) -> Result<(), ErrorKind> {
        marker(marker::IO_BEGIN);
        self.send_frame(b'C', &[server]).await;
        let status = self.read_u16().await;
        marker(marker::IO_END);
        match status {
            0 => Ok(()),
            _ => Err(ErrorKind::ConnectionRefused),
        }
    }

    /// Closes the relay's connection to the server; `InvalidData` when the relay answered
    /// something that is not a frame of the protocol.
    pub async fn disconnect(&mut self) -> Result<(), ErrorKind> {
        marker(marker::IO_BEGIN);
        self.send_frame(b'D', &[]).await;
        let status = self.read_u16().await;
        marker(marker::IO_END);
        match status {
            0 => Ok(()),
            _ => Err(ErrorKind::InvalidData),
        }
    }
}

/// Runs `f` with interrupts masked; an interrupt that came due meanwhile runs right after,
/// between the `DEFERRED_*` markers, so that it is not counted as `f`'s work. For computation
/// only: nothing may wait for an interrupt inside `f`.
pub fn uninterrupted<T>(f: impl FnOnce() -> T) -> T {
    let out = critical_section::with(|_| {
        let out = f();
        marker(marker::DEFERRED_BEGIN);
        out
    });
    marker(marker::DEFERRED_END);
    out
}

fn marker(id: u8) {
    encore_board_mps2::marker::marker(id);
}

/// What the link reports: `ConnectionRefused` (the relay could not connect to the server) or
/// `InvalidData` (the relay answered something that is not a frame of the protocol).
impl ErrorType for Link {
    type Error = ErrorKind;
}

impl Read for Link {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        let want = buf.len().min(MAX_FRAME);
        if want == 0 {
            return Ok(0);
        }
        marker(marker::IO_BEGIN);
        self.send_frame(b'R', &(want as u16).to_be_bytes()).await;
        let n = usize::from(self.read_u16().await);
        let result = match buf.get_mut(..n) {
            Some(dst) if n <= want => {
                let _ = self.uart.read_exact(dst).await;
                RECEIVED.fetch_add(n, Ordering::Relaxed);
                Ok(n)
            }
            _ => Err(ErrorKind::InvalidData),
        };
        marker(marker::IO_END);
        result
    }
}

impl Write for Link {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        let n = buf.len().min(MAX_FRAME);
        if n == 0 {
            return Ok(0);
        }
        marker(marker::IO_BEGIN);
        self.send_frame(b'W', buf.get(..n).unwrap_or(&[])).await;
        marker(marker::IO_END);
        SENT.fetch_add(n, Ordering::Relaxed);
        Ok(n)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        marker(marker::IO_BEGIN);
        let _ = self.uart.flush().await;
        marker(marker::IO_END);
        Ok(())
    }
}

/// Prints the deepest stack a handshake reached, in bytes below the top of the stack:
/// `handshake-stack <name> <bytes> bytes`, after its `handshake` line.
pub fn report_handshake_stack(name: &str, bytes: usize) {
    encore_board_mps2::println!("handshake-stack {} {} bytes", name, bytes);
}

/// Prints the line the host pairs with the next handshake's markers:
/// `handshake <stack> <name> <sent> <received> <ok>`.
pub fn report_handshake(stack: &str, name: &str, wire: WireBytes, ok: bool) {
    encore_board_mps2::println!(
        "handshake {} {} {} {} {}",
        stack,
        name,
        wire.sent,
        wire.received,
        if ok { "ok" } else { "failed" }
    );
}
