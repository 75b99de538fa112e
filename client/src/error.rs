//! Why a client operation failed.

use embedded_io_async::ErrorKind;

/// What went wrong on a [`crate::Connection`].
///
/// Every failure is a value (E4): the TLS engine's reason, the session layer's reason, the
/// transport's error kind, or a misuse of the connection's life cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The TLS engine stopped the connection. When the error is a fatal alert the client sent or
    /// received, the connection's session was invalidated (C15).
    Tls(encore_tls::Error),
    /// A session operation failed, for example a session of another context
    /// ([`encore_session::Error::WrongOwner`]) or made for another peer
    /// ([`encore_session::Error::WrongPeer`]) given to `set_session` (C35).
    Session(encore_session::Error),
    /// The transport reported an error.
    Io(ErrorKind),
    /// The transport reached end of stream: during the handshake, or before the server's
    /// close_notify (an unclean close: the session stays "open", see C13).
    TransportClosed,
    /// The random number generator failed; nothing generated with it was sent.
    Rng,
    /// The handshake has not completed: nothing can be read or written yet.
    NotConnected,
    /// `connect` was called on a connection that already connected; call `clear` first (C14).
    AlreadyConnected,
    /// The connection failed earlier, or a `connect` future was dropped mid-way (C12); call
    /// `clear` before connecting again.
    Failed,
    /// close_notify was sent or marked as sent: nothing more can be written.
    Closed,
    /// The handshake did not complete within the connection's limit
    /// ([`crate::Connection::set_handshake_timeout`], R2). Nothing is invalidated; the
    /// offered ticket stays used (C28).
    HandshakeTimeout,
    /// Application data did not fit the caller's buffer and the connection's carry buffer;
    /// `needed` bytes were pending. The connection is failed.
    ReadBufferTooSmall {
        /// Plaintext bytes that had to be kept.
        needed: usize,
    },
}

impl Error {
    /// True when this error means a fatal alert was sent or received (C15).
    pub fn is_fatal_alert(&self) -> bool {
        match self {
            Error::Tls(encore_tls::Error::AlertReceived(_)) => true,
            Error::Tls(e) => e.alert().is_some(),
            _ => false,
        }
    }
}

impl From<encore_tls::Error> for Error {
    fn from(e: encore_tls::Error) -> Self {
        Error::Tls(e)
    }
}

impl From<encore_session::Error> for Error {
    fn from(e: encore_session::Error) -> Self {
        Error::Session(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Tls(e) => write!(f, "{e}"),
            Error::Session(e) => write!(f, "session: {e}"),
            Error::Io(k) => write!(f, "transport error: {k:?}"),
            Error::TransportClosed => f.write_str("transport closed without close_notify"),
            Error::Rng => f.write_str("random number generator failed"),
            Error::NotConnected => f.write_str("handshake not completed"),
            Error::AlreadyConnected => f.write_str("connection already used; clear it first"),
            Error::Failed => f.write_str("connection failed; clear it first"),
            Error::Closed => f.write_str("close_notify already sent"),
            Error::HandshakeTimeout => f.write_str("handshake did not complete in time"),
            Error::ReadBufferTooSmall { needed } => {
                write!(f, "read buffer too small, {needed} bytes pending")
            }
        }
    }
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Tls(e) => Some(e),
            Error::Session(e) => Some(e),
            _ => None,
        }
    }
}
