//! Error values of the session layer (E1, E2, E4).

/// What went wrong in a pool, record or codec operation.
///
/// Every failure is a value: nothing in this crate panics on input that comes from the network, from
/// flash or from the application (E1, E4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// Every slot of the pool holds a live record (E1).
    PoolExhausted,
    /// The ticket does not fit the slot's ticket capacity `T` (E1); the record is not made.
    TicketTooLarge {
        /// Length of the ticket that was offered.
        len: usize,
        /// Ticket capacity of the pool's slots.
        capacity: usize,
    },
    /// A resumption PSK longer than [`crate::MAX_PSK_LEN`] bytes.
    PskTooLong {
        /// Length of the key that was offered.
        len: usize,
    },
    /// The handle or raw id names a slot that was released and possibly reused (E2).
    StaleHandle,
    /// The slot's reference count is at its maximum; no further reference is handed out.
    TooManyReferences,
    /// The record belongs to another context (C24, C35).
    WrongOwner,
    /// The record was made for another peer identity (C33, C35).
    WrongPeer,
    /// The output buffer is too small; `needed` bytes are required.
    BufferTooSmall {
        /// Bytes the operation needs.
        needed: usize,
    },
    /// The wall clock is unknown, so a wall-clock time cannot be derived; fail closed (E6).
    WallClockUnknown,
    /// The wall clock reads earlier than a time stored in the record (E6): the clock or the record is
    /// wrong, and the record's age cannot be known.
    ClockBehindRecord,
    /// The serialised form is malformed.
    Decode(DecodeError),
    /// The pool's state is borrowed by the same execution context (re-entry from inside an accessor
    /// closure); the operation is refused rather than panicking.
    Busy,
}

/// Why a serialised record was rejected (E4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DecodeError {
    /// Fewer bytes than the fixed part of the format.
    Truncated,
    /// The bytes do not start with [`crate::codec::MAGIC`].
    BadMagic,
    /// A format version this build does not read.
    UnsupportedFormat(u8),
    /// The length field disagrees with the number of bytes given.
    LengthMismatch,
    /// A field holds a value the format forbids (unknown flag bit, inconsistent times, ...).
    InvalidField,
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::PoolExhausted => f.write_str("session pool exhausted"),
            Error::TicketTooLarge { len, capacity } => {
                write!(f, "ticket of {len} bytes exceeds slot capacity {capacity}")
            }
            Error::PskTooLong { len } => write!(f, "resumption PSK of {len} bytes is too long"),
            Error::StaleHandle => f.write_str("stale session handle"),
            Error::TooManyReferences => f.write_str("session reference count at maximum"),
            Error::WrongOwner => f.write_str("session belongs to another context"),
            Error::WrongPeer => f.write_str("session was made for another peer"),
            Error::BufferTooSmall { needed } => {
                write!(f, "buffer too small, {needed} bytes needed")
            }
            Error::WallClockUnknown => f.write_str("wall clock unknown"),
            Error::ClockBehindRecord => f.write_str("wall clock is behind the record's times"),
            Error::Decode(e) => write!(f, "malformed session record: {e:?}"),
            Error::Busy => f.write_str("session pool re-entered"),
        }
    }
}
impl core::error::Error for Error {}
