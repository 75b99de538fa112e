//! Alert messages (RFC 8446 §6).

use super::{Reader, WireError};

/// Alert level. TLS 1.3 treats every alert except close_notify and user_canceled as fatal
/// whatever its level (RFC 8446 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AlertLevel {
    /// 1
    Warning,
    /// 2
    Fatal,
}

impl AlertLevel {
    /// The wire value.
    pub fn to_u8(self) -> u8 {
        match self {
            AlertLevel::Warning => 1,
            AlertLevel::Fatal => 2,
        }
    }
}

/// An alert description code. Kept as the raw byte so that every received value,
/// known or not, can be reported to the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlertDescription(pub u8);

impl AlertDescription {
    /// close_notify (RFC 8446 §6.1).
    pub const CLOSE_NOTIFY: Self = Self(0);
    /// unexpected_message.
    pub const UNEXPECTED_MESSAGE: Self = Self(10);
    /// bad_record_mac.
    pub const BAD_RECORD_MAC: Self = Self(20);
    /// record_overflow.
    pub const RECORD_OVERFLOW: Self = Self(22);
    /// handshake_failure.
    pub const HANDSHAKE_FAILURE: Self = Self(40);
    /// bad_certificate.
    pub const BAD_CERTIFICATE: Self = Self(42);
    /// unsupported_certificate.
    pub const UNSUPPORTED_CERTIFICATE: Self = Self(43);
    /// certificate_expired.
    pub const CERTIFICATE_EXPIRED: Self = Self(45);
    /// certificate_unknown.
    pub const CERTIFICATE_UNKNOWN: Self = Self(46);
    /// illegal_parameter.
    pub const ILLEGAL_PARAMETER: Self = Self(47);
    /// unknown_ca.
    pub const UNKNOWN_CA: Self = Self(48);
    /// decode_error.
    pub const DECODE_ERROR: Self = Self(50);
    /// decrypt_error.
    pub const DECRYPT_ERROR: Self = Self(51);
    /// protocol_version.
    pub const PROTOCOL_VERSION: Self = Self(70);
    /// internal_error.
    pub const INTERNAL_ERROR: Self = Self(80);
    /// user_canceled.
    pub const USER_CANCELED: Self = Self(90);
    /// missing_extension.
    pub const MISSING_EXTENSION: Self = Self(109);
    /// unsupported_extension.
    pub const UNSUPPORTED_EXTENSION: Self = Self(110);
    /// no_application_protocol (RFC 7301 §3.2).
    pub const NO_APPLICATION_PROTOCOL: Self = Self(120);

    /// The RFC 8446 §6 name of the description, or `None` for a code this crate does not name.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "close_notify",
            10 => "unexpected_message",
            20 => "bad_record_mac",
            22 => "record_overflow",
            40 => "handshake_failure",
            42 => "bad_certificate",
            43 => "unsupported_certificate",
            44 => "certificate_revoked",
            45 => "certificate_expired",
            46 => "certificate_unknown",
            47 => "illegal_parameter",
            48 => "unknown_ca",
            49 => "access_denied",
            50 => "decode_error",
            51 => "decrypt_error",
            70 => "protocol_version",
            71 => "insufficient_security",
            80 => "internal_error",
            86 => "inappropriate_fallback",
            90 => "user_canceled",
            109 => "missing_extension",
            110 => "unsupported_extension",
            112 => "unrecognized_name",
            113 => "bad_certificate_status_response",
            115 => "unknown_psk_identity",
            116 => "certificate_required",
            120 => "no_application_protocol",
            _ => return None,
        })
    }
}

impl core::fmt::Display for AlertDescription {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.name() {
            Some(n) => write!(f, "{n} ({})", self.0),
            None => write!(f, "alert {}", self.0),
        }
    }
}

/// A parsed alert record body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Alert {
    /// The level byte as received (1 warning, 2 fatal; other values are kept).
    pub level: u8,
    /// The description.
    pub description: AlertDescription,
}

impl Alert {
    /// Parses an alert record body: exactly two bytes (RFC 8446 §6).
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let level = r.u8()?;
        let description = AlertDescription(r.u8()?);
        r.expect_end()?;
        Ok(Alert { level, description })
    }

    /// Bytes of an alert's body.
    pub const LEN: usize = 2;

    /// The two body bytes.
    pub fn to_bytes(self) -> [u8; 2] {
        [self.level, self.description.0]
    }

    /// Writes the body into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let dst = out.get_mut(..Self::LEN).ok_or(WireError::BufferTooSmall)?;
        dst.copy_from_slice(&self.to_bytes());
        Ok(Self::LEN)
    }

    /// Bytes [`Alert::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        Self::LEN
    }
}
