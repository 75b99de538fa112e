//! The TLS record header (RFC 8446 §5.1).

use super::{Reader, WireError};

/// Record content types (RFC 8446 §5.1).
pub mod content_type {
    /// change_cipher_spec, only for middlebox compatibility in TLS 1.3 (RFC 8446 §5).
    pub const CHANGE_CIPHER_SPEC: u8 = 20;
    /// alert.
    pub const ALERT: u8 = 21;
    /// handshake.
    pub const HANDSHAKE: u8 = 22;
    /// application_data (also the outer type of every protected record).
    pub const APPLICATION_DATA: u8 = 23;
}

/// Length of a record header.
pub const HEADER_LEN: usize = 5;
/// Largest plaintext fragment (RFC 8446 §5.1).
pub const MAX_PLAINTEXT: usize = 1 << 14;
/// Largest protected record body: plaintext + content type + up to 255 bytes of expansion
/// (RFC 8446 §5.2).
pub const MAX_CIPHERTEXT: usize = MAX_PLAINTEXT + 256;

/// A record header, checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHeader {
    /// The outer content type.
    pub content_type: u8,
    /// legacy_record_version: deprecated and ignored on receipt (RFC 8446 §5.1).
    pub legacy_version: u16,
    /// Length of the body that follows.
    pub length: u16,
}

impl RecordHeader {
    /// Parses the first five bytes of `buf`. Rejects unknown content types
    /// (`unexpected_message`, RFC 8446 §5). legacy_record_version is read but not checked:
    /// §5.1 says it MUST be ignored for all purposes. Body lengths are checked by the
    /// caller, which knows whether the record is protected and which limit was negotiated
    /// (`record_overflow`).
    pub fn parse(buf: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(buf);
        let content_type = r.u8()?;
        let legacy_version = r.u16()?;
        let length = r.u16()?;
        match content_type {
            content_type::CHANGE_CIPHER_SPEC
            | content_type::ALERT
            | content_type::HANDSHAKE
            | content_type::APPLICATION_DATA => {}
            _ => return Err(WireError::UnexpectedContentType),
        }
        Ok(RecordHeader {
            content_type,
            legacy_version,
            length,
        })
    }

    /// The five header bytes; also the additional data of a protected record (RFC 8446 §5.2).
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let v = self.legacy_version.to_be_bytes();
        let l = self.length.to_be_bytes();
        [self.content_type, v[0], v[1], l[0], l[1]]
    }

    /// Header length plus body length.
    pub fn total_len(self) -> usize {
        HEADER_LEN + usize::from(self.length)
    }
}

/// The change_cipher_spec record of middlebox compatibility mode (RFC 8446 §5, §D.4): a
/// plaintext record whose one byte is 1, its only legal form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeCipherSpec;

impl ChangeCipherSpec {
    /// The record's body.
    pub const BODY: [u8; 1] = [1];

    /// Whether `body` is the one legal change_cipher_spec body.
    pub fn is_legal(body: &[u8]) -> bool {
        body == Self::BODY
    }

    /// Writes the whole record (header included) into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let header = RecordHeader {
            content_type: content_type::CHANGE_CIPHER_SPEC,
            legacy_version: super::handshake::LEGACY_VERSION,
            length: Self::BODY.len() as u16,
        };
        let mut w = super::Writer::new(out);
        w.put(&header.to_bytes())?;
        w.put(&Self::BODY)?;
        Ok(w.len())
    }

    /// Bytes [`ChangeCipherSpec::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        HEADER_LEN + Self::BODY.len()
    }
}
