//! Handshake messages (RFC 8446 §4): parse what a server sends, emit what a client sends.
//!
//! Parsers return views borrowing the received bytes; emitters write into a caller buffer.
//! Code points stay raw `u16` here so that the codec does not depend on which algorithms a
//! build supports: the engine decides what is acceptable.

use super::{ext, for_each_extension, Reader, WireError, Writer};

mod client;

pub use client::{
    ClientCertificate, ClientCertificateVerify, ClientHello, EmittedHello, Finished, KeyUpdate,
    PskIdentity,
};

/// Handshake message types (RFC 8446 §4).
pub mod msg_type {
    /// client_hello.
    pub const CLIENT_HELLO: u8 = 1;
    /// server_hello (also HelloRetryRequest, told apart by its random).
    pub const SERVER_HELLO: u8 = 2;
    /// new_session_ticket.
    pub const NEW_SESSION_TICKET: u8 = 4;
    /// end_of_early_data.
    pub const END_OF_EARLY_DATA: u8 = 5;
    /// encrypted_extensions.
    pub const ENCRYPTED_EXTENSIONS: u8 = 8;
    /// certificate.
    pub const CERTIFICATE: u8 = 11;
    /// certificate_request.
    pub const CERTIFICATE_REQUEST: u8 = 13;
    /// certificate_verify.
    pub const CERTIFICATE_VERIFY: u8 = 15;
    /// finished.
    pub const FINISHED: u8 = 20;
    /// key_update.
    pub const KEY_UPDATE: u8 = 24;
    /// message_hash, the synthetic message that replaces ClientHello1 in the transcript
    /// after a HelloRetryRequest (RFC 8446 §4.4.1).
    pub const MESSAGE_HASH: u8 = 254;
}

/// Length of a handshake message header.
pub const HEADER_LEN: usize = 4;

/// The ServerHello.random value that marks a HelloRetryRequest: SHA-256 of
/// "HelloRetryRequest" (RFC 8446 §4.1.3).
pub const HELLO_RETRY_REQUEST_RANDOM: [u8; 32] = [
    0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11, 0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
    0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E, 0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C,
];

/// TLS 1.3 in supported_versions (RFC 8446 §4.2.1).
pub const TLS13: u16 = 0x0304;
/// legacy_version of ClientHello and ServerHello (RFC 8446 §4.1.2).
pub const LEGACY_VERSION: u16 = 0x0303;

/// psk_ke: PSK-only key establishment (RFC 8446 §4.2.9).
pub const PSK_KE: u8 = 0;
/// psk_dhe_ke: PSK with (EC)DHE key establishment (RFC 8446 §4.2.9).
pub const PSK_DHE_KE: u8 = 1;

/// A complete handshake message found at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    /// HandshakeType.
    pub msg_type: u8,
    /// The body, after the four-byte header.
    pub body: &'a [u8],
    /// Header plus body length.
    pub total_len: usize,
}

/// Splits the first complete handshake message off `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a message (a message split across
/// records). `max_len` bounds the body so that a peer cannot announce a message larger
/// than the buffer that must hold it.
pub fn split_message(buf: &[u8], max_len: usize) -> Result<Option<Message<'_>>, WireError> {
    if buf.len() < HEADER_LEN {
        return Ok(None);
    }
    let mut r = Reader::new(buf);
    let msg_type = r.u8()?;
    let len = usize::try_from(r.u24()?).map_err(|_| WireError::BadLength)?;
    if len > max_len {
        return Err(WireError::BadLength);
    }
    if r.remaining() < len {
        return Ok(None);
    }
    let body = r.take(len)?;
    Ok(Some(Message {
        msg_type,
        body,
        total_len: HEADER_LEN + len,
    }))
}

/// Writes a handshake header for a body of `len` bytes.
pub fn emit_header(w: &mut Writer<'_>, ty: u8, len: usize) -> Result<(), WireError> {
    w.u8(ty)?;
    w.u24(u32::try_from(len).map_err(|_| WireError::BufferTooSmall)?)
}

/// A ServerHello or HelloRetryRequest (RFC 8446 §4.1.3, §4.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerHello<'a> {
    /// True when the random is [`HELLO_RETRY_REQUEST_RANDOM`].
    pub is_retry_request: bool,
    /// legacy_session_id_echo.
    pub session_id: &'a [u8],
    /// The selected cipher suite.
    pub cipher_suite: u16,
    /// supported_versions.selected_version, if present.
    pub selected_version: Option<u16>,
    /// ServerHello key_share: the server's share; HelloRetryRequest: the group it wants
    /// with an empty key.
    pub key_share: Option<(u16, &'a [u8])>,
    /// pre_shared_key.selected_identity.
    pub selected_identity: Option<u16>,
    /// HelloRetryRequest cookie.
    pub cookie: Option<&'a [u8]>,
}

impl<'a> ServerHello<'a> {
    /// Parses a ServerHello body. Extensions other than those RFC 8446 §4.2 allows in this
    /// message are refused: unknown ones with `unsupported_extension`, known ones that do
    /// not belong here with `illegal_parameter`.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let _legacy_version = r.u16()?;
        let random = r.take(32)?;
        let is_retry_request = random == HELLO_RETRY_REQUEST_RANDOM;
        let session_id = r.vec8()?;
        if session_id.len() > 32 {
            return Err(WireError::IllegalValue);
        }
        let cipher_suite = r.u16()?;
        if r.u8()? != 0 {
            return Err(WireError::IllegalValue);
        }
        let exts = r.vec16()?;
        r.expect_end()?;
        let mut sh = ServerHello {
            is_retry_request,
            session_id,
            cipher_suite,
            selected_version: None,
            key_share: None,
            selected_identity: None,
            cookie: None,
        };
        for_each_extension(exts, |ty, data| {
            let mut e = Reader::new(data);
            match ty {
                ext::SUPPORTED_VERSIONS => sh.selected_version = Some(e.u16()?),
                ext::KEY_SHARE if is_retry_request => {
                    sh.key_share = Some((e.u16()?, &[]));
                }
                ext::KEY_SHARE => {
                    let group = e.u16()?;
                    let key = e.vec16()?;
                    if key.is_empty() {
                        return Err(WireError::BadLength);
                    }
                    sh.key_share = Some((group, key));
                }
                ext::PRE_SHARED_KEY if !is_retry_request => {
                    sh.selected_identity = Some(e.u16()?);
                }
                ext::COOKIE if is_retry_request => {
                    let c = e.vec16()?;
                    if c.is_empty() {
                        return Err(WireError::BadLength);
                    }
                    sh.cookie = Some(c);
                }
                t if is_known_extension(t) => return Err(WireError::IllegalValue),
                _ => return Err(WireError::UnsupportedExtension),
            }
            e.expect_end()
        })?;
        Ok(sh)
    }
}

fn is_known_extension(t: u16) -> bool {
    matches!(
        t,
        ext::SERVER_NAME
            | ext::MAX_FRAGMENT_LENGTH
            | ext::SUPPORTED_GROUPS
            | ext::SIGNATURE_ALGORITHMS
            | ext::ALPN
            | ext::RECORD_SIZE_LIMIT
            | ext::PRE_SHARED_KEY
            | ext::EARLY_DATA
            | ext::SUPPORTED_VERSIONS
            | ext::COOKIE
            | ext::PSK_KEY_EXCHANGE_MODES
            | ext::SIGNATURE_ALGORITHMS_CERT
            | ext::KEY_SHARE
    )
}

/// EncryptedExtensions (RFC 8446 §4.3.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncryptedExtensions<'a> {
    /// The ALPN protocol the server selected (RFC 7301 §3.1: exactly one name).
    pub alpn: Option<&'a [u8]>,
    /// max_fragment_length echo (RFC 6066 §4).
    pub max_fragment_length: Option<u8>,
    /// The server's record_size_limit (RFC 8449 §4; at least 64).
    pub record_size_limit: Option<u16>,
    /// The server acknowledged server_name with an empty extension.
    pub server_name_ack: bool,
    /// The server sent early_data (never valid here: this client does not offer 0-RTT).
    pub early_data: bool,
}

impl<'a> EncryptedExtensions<'a> {
    /// Parses an EncryptedExtensions body.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let exts = r.vec16()?;
        r.expect_end()?;
        let mut ee = EncryptedExtensions::default();
        for_each_extension(exts, |ty, data| {
            let mut e = Reader::new(data);
            match ty {
                ext::SERVER_NAME => ee.server_name_ack = true,
                ext::SUPPORTED_GROUPS => {
                    // The server's preference, informational only (RFC 8446 §4.2.7).
                    let _ = e.vec16()?;
                }
                ext::ALPN => {
                    let mut list = Reader::new(e.vec16()?);
                    let name = list.vec8()?;
                    if name.is_empty() {
                        return Err(WireError::BadLength);
                    }
                    list.expect_end()?;
                    ee.alpn = Some(name);
                }
                ext::MAX_FRAGMENT_LENGTH => ee.max_fragment_length = Some(e.u8()?),
                ext::RECORD_SIZE_LIMIT => {
                    let v = e.u16()?;
                    if v < 64 {
                        return Err(WireError::IllegalValue);
                    }
                    ee.record_size_limit = Some(v);
                }
                ext::EARLY_DATA => ee.early_data = true,
                t if is_known_extension(t) => return Err(WireError::IllegalValue),
                _ => return Err(WireError::UnsupportedExtension),
            }
            e.expect_end()
        })?;
        Ok(ee)
    }
}

/// Certificate (RFC 8446 §4.4.2), validated once so that iteration cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Certificate<'a> {
    /// certificate_request_context.
    pub context: &'a [u8],
    /// True when some CertificateEntry carries an extension (each one well-formed).
    pub entry_extensions: bool,
    list: &'a [u8],
}

impl<'a> Certificate<'a> {
    /// Parses a Certificate body, checking every entry's framing.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let context = r.vec8()?;
        let list = r.vec24()?;
        r.expect_end()?;
        let mut l = Reader::new(list);
        let mut entry_extensions = false;
        while !l.is_empty() {
            let cert = l.vec24()?;
            if cert.is_empty() {
                return Err(WireError::BadLength);
            }
            let exts = l.vec16()?;
            for_each_extension(exts, |_, _| {
                entry_extensions = true;
                Ok(())
            })?;
        }
        Ok(Certificate {
            context,
            entry_extensions,
            list,
        })
    }

    /// The DER certificates, end-entity first.
    pub fn certificates(&self) -> CertificateIter<'a> {
        CertificateIter {
            r: Reader::new(self.list),
        }
    }

    /// True when the list holds no certificate.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

/// Iterator over the DER certificates of a [`Certificate`].
#[derive(Debug, Clone)]
pub struct CertificateIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for CertificateIter<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let cert = self.r.vec24().ok()?;
        self.r.vec16().ok()?;
        Some(cert)
    }
}

/// CertificateRequest (RFC 8446 §4.3.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateRequest<'a> {
    /// certificate_request_context, echoed in the client's Certificate.
    pub context: &'a [u8],
    /// The signature_algorithms list as raw big-endian pairs (mandatory).
    pub signature_algorithms: &'a [u8],
}

impl<'a> CertificateRequest<'a> {
    /// Parses a CertificateRequest body. Unknown extensions are ignored (RFC 8446 §4.3.2).
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let context = r.vec8()?;
        let exts = r.vec16()?;
        r.expect_end()?;
        let mut sigs = None;
        for_each_extension(exts, |ty, data| {
            if ty == ext::SIGNATURE_ALGORITHMS {
                let mut e = Reader::new(data);
                let list = e.vec16()?;
                if list.is_empty() || list.len() % 2 != 0 {
                    return Err(WireError::BadLength);
                }
                e.expect_end()?;
                sigs = Some(list);
            }
            Ok(())
        })?;
        let signature_algorithms = sigs.ok_or(WireError::MissingExtension)?;
        Ok(CertificateRequest {
            context,
            signature_algorithms,
        })
    }

    /// True when `scheme` is in the server's signature_algorithms.
    pub fn accepts(&self, scheme: u16) -> bool {
        self.signature_algorithms
            .chunks_exact(2)
            .any(|c| u16::from_be_bytes([c[0], c[1]]) == scheme)
    }
}

/// CertificateVerify (RFC 8446 §4.4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CertificateVerify<'a> {
    /// The signature scheme.
    pub scheme: u16,
    /// The signature.
    pub signature: &'a [u8],
}

impl<'a> CertificateVerify<'a> {
    /// Parses a CertificateVerify body.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let scheme = r.u16()?;
        let signature = r.vec16()?;
        r.expect_end()?;
        if signature.is_empty() {
            return Err(WireError::BadLength);
        }
        Ok(CertificateVerify { scheme, signature })
    }
}

/// NewSessionTicket (RFC 8446 §4.6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewSessionTicket<'a> {
    /// ticket_lifetime in seconds (at most 604800).
    pub lifetime: u32,
    /// ticket_age_add.
    pub age_add: u32,
    /// ticket_nonce.
    pub nonce: &'a [u8],
    /// The ticket (the PSK identity to offer).
    pub ticket: &'a [u8],
    /// early_data.max_early_data_size, 0 when absent.
    pub max_early_data: u32,
}

/// Longest ticket lifetime RFC 8446 §4.6.1 allows: seven days.
pub const MAX_TICKET_LIFETIME: u32 = 604_800;

impl<'a> NewSessionTicket<'a> {
    /// Parses a NewSessionTicket body; unknown extensions are ignored. An empty ticket is
    /// `decode_error` (the syntax is `ticket<1..2^16-1>`, RFC 8446 §4.6.1). A lifetime over
    /// seven days parses: the server broke a rule, but only the ticket is spoiled, and the
    /// engine drops it without ending the connection.
    pub fn parse(body: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let lifetime = r.u32()?;
        let age_add = r.u32()?;
        let nonce = r.vec8()?;
        let ticket = r.vec16()?;
        let exts = r.vec16()?;
        r.expect_end()?;
        if ticket.is_empty() {
            return Err(WireError::BadLength);
        }
        let mut max_early_data = 0;
        for_each_extension(exts, |ty, data| {
            if ty == ext::EARLY_DATA {
                let mut e = Reader::new(data);
                max_early_data = e.u32()?;
                e.expect_end()?;
            }
            Ok(())
        })?;
        Ok(NewSessionTicket {
            lifetime,
            age_add,
            nonce,
            ticket,
            max_early_data,
        })
    }
}

/// KeyUpdate (RFC 8446 §4.6.3): true when the peer requests an update in return
/// ([`KeyUpdate::parse`]).
pub fn parse_key_update(body: &[u8]) -> Result<bool, WireError> {
    KeyUpdate::parse(body).map(|k| k.request_update)
}
