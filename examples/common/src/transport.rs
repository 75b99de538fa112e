//! embassy-net's `TcpSocket` as the TLS client's transport, with a read timeout.
//!
//! A server that stops answering must not keep the firmware waiting forever: a
//! read that sees nothing within the timeout fails with `ErrorKind::TimedOut`,
//! which leaves the connection usable; the socket's read is cancel-safe, so
//! nothing is lost. Every other failure is the TCP connection's reset
//! (`ErrorKind::ConnectionReset`).
//!
//! `flush` is the socket's: it waits until the server acknowledged every byte
//! written. `encore-client` hands records to `write` as it makes them and flushes
//! only before it waits for the server and in `shutdown`, so a write costs no
//! round trip of its own.

use embassy_net::tcp::TcpSocket;
use embassy_time::{Duration, WithTimeout};
use embedded_io_async::{ErrorKind, ErrorType, Read, Write};

/// A TCP socket with a read timeout.
pub struct Transport<'s> {
    socket: TcpSocket<'s>,
    read_timeout: Duration,
}

impl<'s> Transport<'s> {
    /// Wraps a connected socket.
    pub fn new(socket: TcpSocket<'s>, read_timeout: Duration) -> Self {
        Transport {
            socket,
            read_timeout,
        }
    }

    /// Changes the read timeout.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.read_timeout = timeout;
    }

    /// Sends FIN and waits (at most `timeout`) until everything was acknowledged.
    pub async fn close(&mut self, timeout: Duration) {
        self.socket.close();
        let _ = self.socket.flush().with_timeout(timeout).await;
    }
}

impl ErrorType for Transport<'_> {
    type Error = ErrorKind;
}

impl Read for Transport<'_> {
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, ErrorKind> {
        match self.socket.read(buf).with_timeout(self.read_timeout).await {
            Ok(Ok(n)) => Ok(n),
            Ok(Err(_)) => Err(ErrorKind::ConnectionReset),
            Err(_) => Err(ErrorKind::TimedOut),
        }
    }
}

impl Write for Transport<'_> {
    async fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        self.socket
            .write(buf)
            .await
            .map_err(|_| ErrorKind::ConnectionReset)
    }

    async fn flush(&mut self) -> Result<(), ErrorKind> {
        self.socket
            .flush()
            .await
            .map_err(|_| ErrorKind::ConnectionReset)
    }
}
