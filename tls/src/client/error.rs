//! Why a connection failed, and which alert tells the peer.

use crate::crypto::{CertError, CryptoError};
use crate::wire::{AlertDescription, WireError};

/// A protocol rule the server broke. Each names the check, so that a caller (and a test)
/// can tell one abort from another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Violation {
    /// The server selected a cipher suite that was not offered (RFC 8446 §4.1.3).
    SuiteNotOffered,
    /// The ServerHello suite differs from the HelloRetryRequest suite (RFC 8446 §4.1.4).
    SuiteChangedAfterRetry,
    /// The server's key share is for a group other than the one sent (RFC 8446 §4.2.8).
    KeyShareGroupMismatch,
    /// The HelloRetryRequest asks for a group not offered, or for the one already sent
    /// (RFC 8446 §4.2.8).
    RetryGroupInvalid,
    /// The HelloRetryRequest would not change the ClientHello (RFC 8446 §4.1.4).
    RetryChangesNothing,
    /// legacy_session_id_echo differs from what was sent (RFC 8446 §4.1.3).
    SessionIdMismatch,
    /// The server selected a PSK identity that was not offered (C31).
    PskIdentityNotOffered,
    /// The server accepted the PSK with a suite of another hash (C31).
    PskSuiteHashMismatch,
    /// The server selected a PSK although none was offered.
    PskNotOffered,
    /// The server accepted the PSK with a key share (psk_dhe_ke) although only psk_ke was
    /// offered (RFC 8446 §4.2.9: a server selects only a mode the client listed).
    PskDheNotOffered,
    /// An ALPN protocol that was not offered (RFC 7301 §3.2).
    AlpnNotOffered,
    /// An ALPN answer although the client sent no ALPN extension (RFC 8446 §4.2,
    /// `unsupported_extension`).
    AlpnNotSent,
    /// An extension in a CertificateEntry of the server's Certificate that the ClientHello
    /// did not ask for (RFC 8446 §4.4.2; this client asks for none: `unsupported_extension`).
    CertificateExtensionNotOffered,
    /// A max_fragment_length answer that differs from the request (RFC 6066 §4).
    MaxFragmentLengthMismatch,
    /// record_size_limit received although it was not sent (RFC 8449 §4).
    RecordSizeLimitNotOffered,
    /// Both max_fragment_length and record_size_limit in EncryptedExtensions (RFC 8449 §5:
    /// fatal for the client).
    BothRecordLimits,
    /// A server_name acknowledgement although no server_name was sent, as for an IP
    /// literal (RFC 8446 §4.2, `unsupported_extension`).
    ServerNameNotSent,
    /// early_data accepted although it was not offered.
    EarlyDataNotOffered,
    /// A non-empty certificate_request_context on the server's Certificate (RFC 8446 §4.4.2).
    CertificateContextNotEmpty,
    /// A non-empty certificate_request_context on a CertificateRequest during the handshake
    /// (RFC 8446 §4.3.2: only post-handshake authentication uses one).
    CertificateRequestContextNotEmpty,
    /// A CertificateVerify scheme that was not offered (RFC 8446 §4.4.3).
    SignatureSchemeNotOffered,
    /// A record that is too long for the negotiated limits (RFC 8446 §5.1, RFC 8449).
    RecordTooLong,
}

/// Why a connection stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error {
    /// Received bytes do not parse (E4); the [`WireError`] says how.
    Malformed(WireError),
    /// A message or record that is not allowed in the current state (`unexpected_message`).
    UnexpectedMessage,
    /// The server does not speak TLS 1.3 (`protocol_version`).
    ProtocolVersion,
    /// The server broke a rule; the [`Violation`] names it (`illegal_parameter`, or as noted).
    Illegal(Violation),
    /// The ServerHello lacks a key share the negotiated mode needs (C31: psk_dhe_ke
    /// selected without key_share; `missing_extension`).
    MissingKeyShare,
    /// A non-PSK handshake without Certificate and CertificateVerify (C32).
    ServerNotAuthenticated,
    /// A Certificate in a handshake where the server accepted the PSK (C32).
    CertificateWithPsk,
    /// The server's certificate chain did not verify.
    Certificate(CertError),
    /// No wall-clock time and no lower bound: certificates cannot be checked, so the
    /// handshake fails closed (E6).
    NoWallClock,
    /// The server's CertificateVerify signature is invalid (`decrypt_error`).
    BadCertificateVerify,
    /// The server's Finished is wrong (`decrypt_error`).
    BadFinished,
    /// A protected record failed authentication (`bad_record_mac`).
    BadRecordMac,
    /// A cryptographic operation failed.
    Crypto(CryptoError),
    /// The peer sent this fatal alert.
    AlertReceived(AlertDescription),
    /// The server answered the ClientHello with this fatal alert, before any ServerHello: it
    /// found nothing it could accept in what was offered (for handshake_failure, most often
    /// no certificate for the signature schemes offered).
    HelloRefused(AlertDescription),
    /// The receive buffer cannot hold the record the peer is sending, or the transmit
    /// buffer cannot hold what must be sent. Local; the connection cannot go on.
    BufferTooSmall,
    /// The resumption offer's suite hash matches none of the configured suites (C31).
    OfferSuiteNotConfigured,
    /// The configured record_size_limit is outside 64..=16385 (RFC 8449 §4).
    RecordSizeLimitOutOfRange,
    /// The configuration lists no cipher suite or no group that this build supports (see
    /// [`CipherSuite::is_supported`](crate::crypto::CipherSuite::is_supported)).
    EmptyConfiguration,
    /// Application data cannot be written before the handshake completes.
    NotConnected,
    /// The connection is closed or failed; nothing more can be sent or received.
    Closed,
    /// The server sent close_notify before the handshake completed (RFC 8446 §6.1). Our own
    /// close_notify answers it; no error alert is due.
    ClosedDuringHandshake,
}

impl Error {
    /// The alert to send for this error, or `None` when none is due (the peer's own alert,
    /// local misuse).
    pub fn alert(&self) -> Option<AlertDescription> {
        Some(match self {
            Error::Malformed(w) => w.alert(),
            Error::UnexpectedMessage => AlertDescription::UNEXPECTED_MESSAGE,
            Error::ProtocolVersion => AlertDescription::PROTOCOL_VERSION,
            Error::Illegal(Violation::RecordTooLong) => AlertDescription::RECORD_OVERFLOW,
            Error::Illegal(Violation::RecordSizeLimitNotOffered)
            | Error::Illegal(Violation::EarlyDataNotOffered)
            | Error::Illegal(Violation::PskNotOffered)
            | Error::Illegal(Violation::AlpnNotSent)
            | Error::Illegal(Violation::CertificateExtensionNotOffered)
            | Error::Illegal(Violation::ServerNameNotSent) => {
                AlertDescription::UNSUPPORTED_EXTENSION
            }
            Error::Illegal(_) => AlertDescription::ILLEGAL_PARAMETER,
            Error::MissingKeyShare => AlertDescription::MISSING_EXTENSION,
            Error::ServerNotAuthenticated | Error::CertificateWithPsk => {
                AlertDescription::UNEXPECTED_MESSAGE
            }
            Error::Certificate(c) => cert_alert(c),
            Error::NoWallClock => AlertDescription::CERTIFICATE_UNKNOWN,
            Error::BadCertificateVerify | Error::BadFinished => AlertDescription::DECRYPT_ERROR,
            Error::BadRecordMac => AlertDescription::BAD_RECORD_MAC,
            Error::Crypto(CryptoError::BadKeyShare) => AlertDescription::ILLEGAL_PARAMETER,
            Error::Crypto(CryptoError::DecryptFailed) => AlertDescription::BAD_RECORD_MAC,
            Error::Crypto(CryptoError::BadSignature) => AlertDescription::DECRYPT_ERROR,
            Error::Crypto(_) => AlertDescription::INTERNAL_ERROR,
            Error::BufferTooSmall => AlertDescription::INTERNAL_ERROR,
            Error::AlertReceived(_)
            | Error::HelloRefused(_)
            | Error::OfferSuiteNotConfigured
            | Error::RecordSizeLimitOutOfRange
            | Error::EmptyConfiguration
            | Error::NotConnected
            | Error::ClosedDuringHandshake
            | Error::Closed => return None,
        })
    }
}

fn cert_alert(e: &CertError) -> AlertDescription {
    match e {
        CertError::UnknownIssuer => AlertDescription::UNKNOWN_CA,
        CertError::Expired { .. } | CertError::NotValidYet { .. } => {
            AlertDescription::CERTIFICATE_EXPIRED
        }
        CertError::UnsupportedSignature
        | CertError::WeakSignatureAlgorithm
        | CertError::RsaKeyTooSmall { .. }
        | CertError::RsaKeyTooLarge { .. } => AlertDescription::UNSUPPORTED_CERTIFICATE,
        _ => AlertDescription::BAD_CERTIFICATE,
    }
}

impl From<WireError> for Error {
    fn from(e: WireError) -> Self {
        match e {
            WireError::BufferTooSmall => Error::BufferTooSmall,
            WireError::UnexpectedContentType => Error::UnexpectedMessage,
            other => Error::Malformed(other),
        }
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::DecryptFailed => Error::BadRecordMac,
            CryptoError::BufferTooSmall => Error::BufferTooSmall,
            other => Error::Crypto(other),
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Malformed(w) => write!(f, "malformed message from the server: {w:?}"),
            Error::UnexpectedMessage => f.write_str("unexpected message from the server"),
            Error::ProtocolVersion => f.write_str("server does not support TLS 1.3"),
            Error::Illegal(Violation::PskIdentityNotOffered) => {
                f.write_str("server selected a PSK identity that was not offered")
            }
            Error::Illegal(Violation::PskSuiteHashMismatch) => {
                f.write_str("server accepted the PSK with a cipher suite of another hash")
            }
            Error::Illegal(v) => write!(f, "illegal parameter from the server: {v:?}"),
            Error::MissingKeyShare => f.write_str("server hello lacks the key_share it needs"),
            Error::ServerNotAuthenticated => {
                f.write_str("server skipped Certificate/CertificateVerify in a full handshake")
            }
            Error::CertificateWithPsk => {
                f.write_str("server sent a Certificate after accepting the PSK")
            }
            Error::Certificate(c) => write!(f, "certificate verification failed: {c}"),
            Error::NoWallClock => {
                f.write_str("certificate verification failed: no wall-clock time available")
            }
            Error::BadCertificateVerify => {
                f.write_str("certificate verification failed: bad CertificateVerify signature")
            }
            Error::BadFinished => f.write_str("server Finished did not verify"),
            Error::BadRecordMac => f.write_str("record authentication failed"),
            Error::Crypto(c) => write!(f, "cryptographic failure: {c}"),
            Error::AlertReceived(a) => write!(f, "server sent fatal alert {a}"),
            Error::HelloRefused(a) => {
                write!(f, "server refused the ClientHello with fatal alert {a}")
            }
            Error::BufferTooSmall => f.write_str("buffer too small"),
            Error::OfferSuiteNotConfigured => {
                f.write_str("no configured cipher suite matches the session's hash")
            }
            Error::RecordSizeLimitOutOfRange => {
                f.write_str("configured record_size_limit is outside 64..=16385")
            }
            Error::EmptyConfiguration => {
                f.write_str("no supported cipher suite or group configured")
            }
            Error::NotConnected => f.write_str("handshake not complete"),
            Error::Closed => f.write_str("connection closed"),
            Error::ClosedDuringHandshake => {
                f.write_str("server sent close_notify before the handshake completed")
            }
        }
    }
}

impl core::error::Error for Error {}
