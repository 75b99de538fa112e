//! Host support (feature `std`): a transport over `std::net::TcpStream`, std clocks, the
//! operating system's random generator and a blocking executor.
//!
//! The transport blocks inside its async functions; that is fine for tests and host tools
//! driven by [`block_on`], not for an async runtime shared with other tasks.

extern crate std;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use encore_session::{MonotonicClock, WallClock};

pub use embassy_futures::block_on;

/// An embedded-io-async transport over a blocking `TcpStream`.
#[derive(Debug)]
pub struct StdTransport(pub TcpStream);

impl StdTransport {
    /// Connects to `addr` with Nagle's algorithm off (handshake flights are small).
    pub fn connect(addr: impl std::net::ToSocketAddrs) -> std::io::Result<Self> {
        let s = TcpStream::connect(addr)?;
        s.set_nodelay(true)?;
        Ok(StdTransport(s))
    }
}

fn kind(e: &std::io::Error) -> ErrorKind {
    use std::io::ErrorKind as K;
    match e.kind() {
        K::TimedOut | K::WouldBlock => ErrorKind::TimedOut,
        K::ConnectionReset => ErrorKind::ConnectionReset,
        K::ConnectionAborted => ErrorKind::ConnectionAborted,
        K::BrokenPipe => ErrorKind::BrokenPipe,
        K::NotConnected => ErrorKind::NotConnected,
        K::Interrupted => ErrorKind::Interrupted,
        _ => ErrorKind::Other,
    }
}

impl ErrorType for StdTransport {
    type Error = ErrorKind;
}

impl Read for StdTransport {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        self.0.read(buf).map_err(|e| kind(&e))
    }
}

impl Write for StdTransport {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.0.write(buf).map_err(|e| kind(&e))
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.0.flush().map_err(|e| kind(&e))
    }
}

/// Monotonic milliseconds since the clock was made, and the system's wall clock (E6).
#[derive(Debug, Clone, Copy)]
pub struct StdClock {
    start: Instant,
}

impl StdClock {
    /// A clock starting at zero now.
    pub fn new() -> Self {
        StdClock {
            start: Instant::now(),
        }
    }
}

impl Default for StdClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MonotonicClock for StdClock {
    fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

impl WallClock for StdClock {
    fn now_unix(&self) -> Option<u64> {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .ok()
            .map(|d| d.as_secs())
    }
}

/// The operating system's generator (`/dev/urandom`). A read failure is reported to the
/// connection, which then fails with [`crate::Error::Rng`].
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl rand_core::TryRng for OsRng {
    type Error = std::io::Error;

    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        rand_core::utils::next_word_via_fill(self)
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        std::fs::File::open("/dev/urandom")?.read_exact(dst)
    }
}

impl rand_core::TryCryptoRng for OsRng {}
