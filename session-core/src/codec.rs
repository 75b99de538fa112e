//! Serialised form of a record, for storage in flash across reboots.
//!
//! Layout (all integers big-endian), format version 1:
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 4 | magic `ENCS` |
//! | 4 | 1 | format version (1) |
//! | 5 | 1 | flags: bit 0 not resumable, bit 1 used; other bits must be 0 |
//! | 6 | 2 | length of everything after this field |
//! | 8 | 2 | protocol version |
//! | 10 | 2 | cipher suite |
//! | 12 | 4 | owner context id |
//! | 16 | 16 | peer identity |
//! | 32 | 4 | ticket lifetime (s) |
//! | 36 | 4 | ticket_age_add |
//! | 40 | 4 | max_early_data |
//! | 44 | 8 | wall-clock time of receipt (Unix s, non-zero) |
//! | 52 | 8 | wall-clock time of the original authenticating full handshake (Unix s) |
//! | 60 | 1 | PSK length (≤ 48) |
//! | 61 | n | PSK |
//! | 61+n | 2 | ticket length (≤ `T`) |
//! | 63+n | m | ticket |
//!
//! Times are stored on the wall clock because the monotonic clock restarts at reset (E6): a record can
//! only be written while the wall-clock time of receipt is known, and only read back while the wall
//! clock is known. Every length is checked before use; malformed input is an [`Error`], never a panic
//! (E4). The bytes hold the resumption secret: store them where only this device can read them.

use crate::{ContextId, DecodeError, Error, NewSession, PeerId, Session, SessionPool, MAX_PSK_LEN};

/// First four bytes of every serialised record.
pub const MAGIC: [u8; 4] = *b"ENCS";
/// Format version this build writes and reads.
pub const FORMAT_VERSION: u8 = 1;
const FIXED_LEN: usize = 61;

/// Largest serialised size for ticket capacity `T`: fixed part, a 48-byte PSK, the ticket length and
/// `T` ticket bytes. Records whose serialised form would exceed [`MAX_ENCODED_LEN`] are not encoded.
pub const fn max_encoded_len(ticket_capacity: usize) -> usize {
    FIXED_LEN + MAX_PSK_LEN + 2 + ticket_capacity
}

/// Largest serialised size of any record: the length field (a u16) counts the bytes after offset 8.
pub const MAX_ENCODED_LEN: usize = 8 + u16::MAX as usize;

impl<const N: usize, const T: usize> Session<'_, N, T> {
    /// Writes the record into `out` and returns the number of bytes written.
    ///
    /// `now_ms` and `now_unix` are needed only when the wall clock was unknown at receipt: the receipt
    /// time is then derived from the record's monotonic age. With neither, [`Error::WallClockUnknown`]
    /// (fail closed, E6). A ticket too long for the format's length field (more than
    /// [`MAX_ENCODED_LEN`] bytes in all, possible only with `T` above 65 000) is
    /// [`Error::TicketTooLarge`], whose `capacity` is the longest ticket the format can carry with
    /// this record's PSK.
    pub fn encode(
        &self,
        out: &mut [u8],
        now_ms: u64,
        now_unix: Option<u64>,
    ) -> Result<usize, Error> {
        self.with(|r| {
            let received_unix = match (r.received_unix(), now_unix) {
                (Some(u), _) => u,
                (None, Some(now)) => {
                    let age_s = r.age_ms(now_ms).ok_or(Error::ClockBehindRecord)? / 1000;
                    now.checked_sub(age_s).ok_or(Error::ClockBehindRecord)?
                }
                (None, None) => return Err(Error::WallClockUnknown),
            };
            if received_unix == 0 {
                return Err(Error::WallClockUnknown);
            }
            let auth_unix = received_unix.saturating_sub(u64::from(r.auth_age_at_receipt_s()));
            let psk = r.psk();
            let ticket = r.ticket();
            let total = FIXED_LEN + psk.len() + 2 + ticket.len();
            let Ok(body_len) = u16::try_from(total - 8) else {
                return Err(Error::TicketTooLarge {
                    len: ticket.len(),
                    capacity: MAX_ENCODED_LEN - FIXED_LEN - psk.len() - 2,
                });
            };
            let buf = out
                .get_mut(..total)
                .ok_or(Error::BufferTooSmall { needed: total })?;
            let mut w = Writer { buf, pos: 0 };
            w.put(&MAGIC);
            w.put(&[FORMAT_VERSION, r.flags()]);
            w.put(&body_len.to_be_bytes());
            w.put(&r.version().to_be_bytes());
            w.put(&r.cipher_suite().to_be_bytes());
            w.put(&r.owner().0.to_be_bytes());
            w.put(&r.peer().0);
            w.put(&r.lifetime_s().to_be_bytes());
            w.put(&r.age_add().to_be_bytes());
            w.put(&r.max_early_data().to_be_bytes());
            w.put(&received_unix.to_be_bytes());
            w.put(&auth_unix.to_be_bytes());
            w.put(&[psk.len() as u8]);
            w.put(psk);
            w.put(&(ticket.len() as u16).to_be_bytes());
            w.put(ticket);
            Ok(w.pos)
        })?
    }
}

impl<const N: usize, const T: usize> SessionPool<N, T> {
    /// Reads a serialised record into a new slot of this pool, with one reference owned by the
    /// returned handle.
    ///
    /// The record's monotonic receipt time is rebuilt from its wall-clock age: `now_unix` is required
    /// ([`Error::WallClockUnknown`] otherwise) and must not be earlier than the stored receipt time
    /// ([`Error::ClockBehindRecord`]). The one-way flags are kept.
    pub fn decode(
        &self,
        bytes: &[u8],
        now_ms: u64,
        now_unix: Option<u64>,
    ) -> Result<Session<'_, N, T>, Error> {
        let parsed = Parsed::parse(bytes)?;
        if parsed.ticket.len() > T {
            return Err(Error::TicketTooLarge {
                len: parsed.ticket.len(),
                capacity: T,
            });
        }
        let now_unix = now_unix.ok_or(Error::WallClockUnknown)?;
        let age_s = now_unix
            .checked_sub(parsed.received_unix)
            .ok_or(Error::ClockBehindRecord)?;
        let now = i64::try_from(now_ms).unwrap_or(i64::MAX);
        let age_ms = i64::try_from(age_s.saturating_mul(1000)).unwrap_or(i64::MAX);
        let received_ms = now.saturating_sub(age_ms);
        let new = NewSession {
            version: parsed.version,
            cipher_suite: parsed.suite,
            psk: parsed.psk,
            ticket: parsed.ticket,
            lifetime_s: parsed.lifetime_s,
            age_add: parsed.age_add,
            max_early_data: parsed.max_early_data,
            received_ms: 0,
            received_unix: Some(parsed.received_unix),
            auth_age_ms: parsed
                .received_unix
                .saturating_sub(parsed.auth_unix)
                .saturating_mul(1000),
            peer: parsed.peer,
            owner: parsed.owner,
        };
        self.create_with(&new, parsed.flags, received_ms)
    }
}

/// A serialised record, checked and split into fields, borrowing from the input.
struct Parsed<'a> {
    flags: u8,
    version: u16,
    suite: u16,
    owner: ContextId,
    peer: PeerId,
    lifetime_s: u32,
    age_add: u32,
    max_early_data: u32,
    received_unix: u64,
    auth_unix: u64,
    psk: &'a [u8],
    ticket: &'a [u8],
}

impl<'a> Parsed<'a> {
    fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader { rest: bytes };
        if r.take::<4>()? != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let [format, flags] = r.take::<2>()?;
        if format != FORMAT_VERSION {
            return Err(DecodeError::UnsupportedFormat(format));
        }
        if flags & !crate::record::KNOWN_FLAGS != 0 {
            return Err(DecodeError::InvalidField);
        }
        let len = usize::from(u16::from_be_bytes(r.take()?));
        if len != r.rest.len() {
            return Err(DecodeError::LengthMismatch);
        }
        let version = u16::from_be_bytes(r.take()?);
        let suite = u16::from_be_bytes(r.take()?);
        let owner = ContextId(u32::from_be_bytes(r.take()?));
        let peer = PeerId(r.take()?);
        let lifetime_s = u32::from_be_bytes(r.take()?);
        let age_add = u32::from_be_bytes(r.take()?);
        let max_early_data = u32::from_be_bytes(r.take()?);
        let received_unix = u64::from_be_bytes(r.take()?);
        let auth_unix = u64::from_be_bytes(r.take()?);
        if received_unix == 0 || received_unix > u64::from(u32::MAX) || auth_unix > received_unix {
            return Err(DecodeError::InvalidField);
        }
        let [psk_len] = r.take::<1>()?;
        if usize::from(psk_len) > MAX_PSK_LEN {
            return Err(DecodeError::InvalidField);
        }
        let psk = r.slice(usize::from(psk_len))?;
        let ticket_len = usize::from(u16::from_be_bytes(r.take()?));
        let ticket = r.slice(ticket_len)?;
        if !r.rest.is_empty() {
            return Err(DecodeError::LengthMismatch);
        }
        Ok(Parsed {
            flags,
            version,
            suite,
            owner,
            peer,
            lifetime_s,
            age_add,
            max_early_data,
            received_unix,
            auth_unix,
            psk,
            ticket,
        })
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn slice(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.rest.len() {
            return Err(DecodeError::LengthMismatch);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn take<const K: usize>(&mut self) -> Result<[u8; K], DecodeError> {
        let head = self.slice(K).map_err(|_| DecodeError::Truncated)?;
        let mut out = [0u8; K];
        out.copy_from_slice(head);
        Ok(out)
    }
}

struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
}

impl Writer<'_> {
    /// The caller sized `buf` exactly, so a short buffer can only truncate, never panic.
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.pos..end) {
            dst.copy_from_slice(bytes);
            self.pos = end;
        }
    }
}
