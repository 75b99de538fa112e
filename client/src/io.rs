//! `Connection` as an embedded-io-async byte stream, so that firmware libraries written against
//! `embedded_io_async::{Read, Write}` (MQTT and HTTP clients, for example) run over a TLS
//! connection unchanged. The handshake, sessions and close_notify stay on `Connection` itself:
//! connect first, hand the connection to the library, then `shutdown`. A library that reads in
//! small pieces needs [`Connection::with_carry_buffer`].

use embedded_io_async::{ErrorKind, ErrorType, Read, Write};
use encore_session::Clock;
use rand_core::TryCryptoRng;

use crate::{Connection, Error};

/// A transport a [`Connection`] runs over: an embedded-io-async byte stream that reads and
/// writes (embassy-net's `TcpSocket` on target, `StdTransport` on the host with the `std`
/// feature). Implemented for every type that implements `Read` and `Write`.
pub trait Stream: Read + Write {}

impl<S: Read + Write + ?Sized> Stream for S {}

impl embedded_io_async::Error for Error {
    /// The transport's own kind for transport errors; for the others the kind a stream user
    /// reacts to the same way. The full cause stays in the error value (and its
    /// `core::error::Error::source`).
    fn kind(&self) -> ErrorKind {
        match self {
            Error::Io(kind) => *kind,
            Error::TransportClosed => ErrorKind::ConnectionReset,
            Error::Tls(
                encore_tls::Error::AlertReceived(_) | encore_tls::Error::HelloRefused(_),
            ) => ErrorKind::ConnectionAborted,
            Error::Tls(encore_tls::Error::BufferTooSmall) => ErrorKind::OutOfMemory,
            Error::Tls(_) => ErrorKind::InvalidData,
            Error::Session(_) => ErrorKind::InvalidInput,
            Error::Rng => ErrorKind::Other,
            Error::NotConnected => ErrorKind::NotConnected,
            Error::AlreadyConnected => ErrorKind::AlreadyExists,
            Error::Failed => ErrorKind::ConnectionAborted,
            Error::Closed => ErrorKind::BrokenPipe,
            Error::HandshakeTimeout => ErrorKind::TimedOut,
            Error::ReadBufferTooSmall { .. } => ErrorKind::OutOfMemory,
        }
    }
}

impl<S, C, G, const N: usize, const P: usize, const T: usize> ErrorType
    for Connection<'_, '_, S, C, G, N, P, T>
{
    type Error = Error;
}

/// [`Connection::read`]: application data of at most one record per call, `Ok(0)` once the
/// server's close_notify arrived (answered with ours).
impl<S: Stream, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize> Read
    for Connection<'_, '_, S, C, G, N, P, T>
{
    async fn read(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        Connection::read(self, buf).await
    }
}

/// [`Connection::write`] (all of `buf`, handed to the transport) and [`Connection::flush`].
impl<S: Stream, C: Clock, G: TryCryptoRng, const N: usize, const P: usize, const T: usize> Write
    for Connection<'_, '_, S, C, G, N, P, T>
{
    async fn write(&mut self, buf: &[u8]) -> Result<usize, Error> {
        Connection::write(self, buf).await
    }

    async fn flush(&mut self) -> Result<(), Error> {
        Connection::flush(self).await
    }
}
