//! The TLS 1.3 codec: checked views over records and handshake messages.
//!
//! Every parse reads through [`Reader`], whose reads return [`WireError`] instead of
//! panicking on short input (E4); every emit writes through [`Writer`] into a buffer the
//! caller owns (E1). Each error maps to the alert RFC 8446 §6 asks for.

pub mod alert;
pub mod handshake;
pub mod record;

pub use alert::{Alert, AlertDescription, AlertLevel};

/// What is wrong with bytes received from the peer, or with a buffer handed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WireError {
    /// The input ended before a field it announced (RFC 8446 §6.2 `decode_error`).
    Truncated,
    /// A length field disagrees with the bytes that follow it (`decode_error`).
    BadLength,
    /// Bytes remain after a structure that should have ended (`decode_error`).
    TrailingBytes,
    /// A field holds a value the protocol forbids (`illegal_parameter`).
    IllegalValue,
    /// The same extension appears twice in one message (RFC 8446 §4.2, `illegal_parameter`).
    DuplicateExtension,
    /// The peer sent an extension that was not offered or is not allowed in this message
    /// (RFC 8446 §4.2, `unsupported_extension`).
    UnsupportedExtension,
    /// A mandatory extension is absent (RFC 8446 §9.2, `missing_extension`).
    MissingExtension,
    /// The output buffer is too small for the message being written (local; no alert).
    BufferTooSmall,
    /// More certificates in a chain than this build keeps (`bad_certificate`): a fixed
    /// capacity instead of a heap (E1).
    TooMany,
    /// A record of a content type that TLS 1.3 does not define (RFC 8446 §5,
    /// `unexpected_message`).
    UnexpectedContentType,
}

impl WireError {
    /// The alert RFC 8446 §6.2 prescribes for this error.
    pub fn alert(self) -> AlertDescription {
        match self {
            WireError::Truncated | WireError::BadLength | WireError::TrailingBytes => {
                AlertDescription::DECODE_ERROR
            }
            WireError::IllegalValue | WireError::DuplicateExtension => {
                AlertDescription::ILLEGAL_PARAMETER
            }
            WireError::UnsupportedExtension => AlertDescription::UNSUPPORTED_EXTENSION,
            WireError::MissingExtension => AlertDescription::MISSING_EXTENSION,
            WireError::BufferTooSmall => AlertDescription::INTERNAL_ERROR,
            WireError::TooMany => AlertDescription::BAD_CERTIFICATE,
            WireError::UnexpectedContentType => AlertDescription::UNEXPECTED_MESSAGE,
        }
    }
}

/// A cursor over received bytes whose every read is bounds-checked (E4).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the first byte of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The bytes not read yet, without consuming them.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or(&[])
    }

    /// True when every byte has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Fails with [`WireError::TrailingBytes`] unless every byte was read.
    pub fn expect_end(&self) -> Result<(), WireError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes)
        }
    }

    /// Takes the next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).ok_or(WireError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(WireError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        let b = self.take(1)?;
        b.first().copied().ok_or(WireError::Truncated)
    }

    /// Reads a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        let b = self.take(2)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_be_bytes(a))
    }

    /// Reads a big-endian 24-bit integer.
    pub fn u24(&mut self) -> Result<u32, WireError> {
        let b = self.take(3)?;
        let mut a = [0u8; 4];
        a[1..].copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// Reads a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// Reads a vector with a one-byte length prefix (`opaque x<0..2^8-1>`).
    pub fn vec8(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u8()?;
        self.take(usize::from(n)).map_err(|_| WireError::BadLength)
    }

    /// Reads a vector with a two-byte length prefix.
    pub fn vec16(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u16()?;
        self.take(usize::from(n)).map_err(|_| WireError::BadLength)
    }

    /// Reads a vector with a three-byte length prefix.
    pub fn vec24(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u24()?;
        let n = usize::try_from(n).map_err(|_| WireError::BadLength)?;
        self.take(n).map_err(|_| WireError::BadLength)
    }
}

/// A cursor that writes into a caller buffer; running out of room is an error, never a panic.
///
/// A counting writer ([`Writer::counting`]) writes nothing and only counts: every message's
/// `buffer_len` is its `emit` run through one, so the two cannot disagree.
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    pos: usize,
    counting: bool,
}

impl<'b> Writer<'b> {
    /// Starts writing at the first byte of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            buf,
            pos: 0,
            counting: false,
        }
    }

    /// A writer with unlimited room that stores nothing: [`Writer::len`] tells how many bytes
    /// the same writes would take.
    pub fn counting() -> Writer<'static> {
        Writer {
            buf: &mut [],
            pos: 0,
            counting: true,
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.pos
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.pos == 0
    }

    /// The bytes written so far.
    pub fn written(&self) -> &[u8] {
        self.buf.get(..self.pos).unwrap_or(&[])
    }

    /// Appends bytes.
    pub fn put(&mut self, bytes: &[u8]) -> Result<(), WireError> {
        let end = self
            .pos
            .checked_add(bytes.len())
            .ok_or(WireError::BufferTooSmall)?;
        if self.counting {
            self.pos = end;
            return Ok(());
        }
        let dst = self
            .buf
            .get_mut(self.pos..end)
            .ok_or(WireError::BufferTooSmall)?;
        dst.copy_from_slice(bytes);
        self.pos = end;
        Ok(())
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) -> Result<(), WireError> {
        self.put(&[v])
    }

    /// Appends a big-endian u16.
    pub fn u16(&mut self, v: u16) -> Result<(), WireError> {
        self.put(&v.to_be_bytes())
    }

    /// Appends a big-endian 24-bit integer (the top byte of `v` must be zero).
    pub fn u24(&mut self, v: u32) -> Result<(), WireError> {
        if v > 0x00ff_ffff {
            return Err(WireError::BufferTooSmall);
        }
        let b = v.to_be_bytes();
        self.put(&[b[1], b[2], b[3]])
    }

    /// Appends a big-endian u32.
    pub fn u32(&mut self, v: u32) -> Result<(), WireError> {
        self.put(&v.to_be_bytes())
    }

    /// Reserves a length prefix of `width` bytes (1, 2 or 3) to fill in with
    /// [`Writer::end_len`] once the body is written.
    pub fn begin_len(&mut self, width: usize) -> Result<LenMark, WireError> {
        let at = self.pos;
        for _ in 0..width {
            self.u8(0)?;
        }
        Ok(LenMark { at, width })
    }

    /// Fills in a length prefix reserved by [`Writer::begin_len`].
    pub fn end_len(&mut self, mark: LenMark) -> Result<(), WireError> {
        let body = self
            .pos
            .checked_sub(mark.at + mark.width)
            .ok_or(WireError::BufferTooSmall)?;
        let max = match mark.width {
            1 => 0xff,
            2 => 0xffff,
            3 => 0x00ff_ffff,
            _ => return Err(WireError::BufferTooSmall),
        };
        if body > max {
            return Err(WireError::BufferTooSmall);
        }
        if self.counting {
            return Ok(());
        }
        let bytes = (body as u32).to_be_bytes();
        let src = bytes
            .get(4 - mark.width..)
            .ok_or(WireError::BufferTooSmall)?;
        let dst = self
            .buf
            .get_mut(mark.at..mark.at + mark.width)
            .ok_or(WireError::BufferTooSmall)?;
        dst.copy_from_slice(src);
        Ok(())
    }
}

/// A length prefix waiting to be filled in.
#[derive(Debug, Clone, Copy)]
pub struct LenMark {
    at: usize,
    width: usize,
}

/// Extension code points used by the client (RFC 8446 §4.2, RFC 6066, RFC 7301, RFC 8449).
pub mod ext {
    /// server_name (RFC 6066 §3).
    pub const SERVER_NAME: u16 = 0;
    /// max_fragment_length (RFC 6066 §4).
    pub const MAX_FRAGMENT_LENGTH: u16 = 1;
    /// supported_groups (RFC 8446 §4.2.7).
    pub const SUPPORTED_GROUPS: u16 = 10;
    /// signature_algorithms (RFC 8446 §4.2.3).
    pub const SIGNATURE_ALGORITHMS: u16 = 13;
    /// application_layer_protocol_negotiation (RFC 7301).
    pub const ALPN: u16 = 16;
    /// record_size_limit (RFC 8449).
    pub const RECORD_SIZE_LIMIT: u16 = 28;
    /// pre_shared_key (RFC 8446 §4.2.11).
    pub const PRE_SHARED_KEY: u16 = 41;
    /// early_data (RFC 8446 §4.2.10).
    pub const EARLY_DATA: u16 = 42;
    /// supported_versions (RFC 8446 §4.2.1).
    pub const SUPPORTED_VERSIONS: u16 = 43;
    /// cookie (RFC 8446 §4.2.2).
    pub const COOKIE: u16 = 44;
    /// psk_key_exchange_modes (RFC 8446 §4.2.9).
    pub const PSK_KEY_EXCHANGE_MODES: u16 = 45;
    /// signature_algorithms_cert (RFC 8446 §4.2.3).
    pub const SIGNATURE_ALGORITHMS_CERT: u16 = 50;
    /// key_share (RFC 8446 §4.2.8).
    pub const KEY_SHARE: u16 = 51;
}

/// Walks an extension block (`Extension extensions<..2^16-1>`), rejecting duplicates of
/// the types the client understands (RFC 8446 §4.2). The callback sees each `(type, body)`.
pub fn for_each_extension<'a>(
    block: &'a [u8],
    mut f: impl FnMut(u16, &'a [u8]) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let mut r = Reader::new(block);
    // Bitmap of the code points below 64 already seen; everything the client sends is < 64.
    let mut seen: u64 = 0;
    while !r.is_empty() {
        let ty = r.u16()?;
        let body = r.vec16()?;
        if ty < 64 {
            let bit = 1u64 << ty;
            if seen & bit != 0 {
                return Err(WireError::DuplicateExtension);
            }
            seen |= bit;
        }
        f(ty, body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
