//! What the client sends (RFC 8446 §4): each message has `emit` (into a caller buffer) and
//! `buffer_len` (the bytes `emit` takes), the second being the first run through a
//! [`Writer::counting`], so the two cannot disagree. A transmit buffer that the engine needs
//! is the sum of these ([`crate::client::BufferSizes`]).

use super::{emit_header, msg_type, HEADER_LEN, LEGACY_VERSION, TLS13};
use crate::wire::{ext, WireError, Writer};

/// The PSK part of a ClientHello (RFC 8446 §4.2.11): one identity, whose binder is filled in
/// afterwards over the partial ClientHello.
#[derive(Debug, Clone, Copy)]
pub struct PskIdentity<'a> {
    /// The ticket bytes.
    pub identity: &'a [u8],
    /// obfuscated_ticket_age (C30).
    pub obfuscated_ticket_age: u32,
    /// Length of the binder: the output length of the ticket's hash.
    pub binder_len: usize,
}

/// What the client puts in a ClientHello (RFC 8446 §4.1.2).
#[derive(Debug, Clone, Copy)]
pub struct ClientHello<'a> {
    /// ClientHello.random.
    pub random: &'a [u8; 32],
    /// legacy_session_id: empty, or 32 bytes in middlebox compatibility mode (RFC 8446 §D.4).
    pub session_id: &'a [u8],
    /// Cipher suite code points in preference order.
    pub cipher_suites: &'a [u16],
    /// server_name (a DNS name; `None` for an IP literal, RFC 6066 §3).
    pub server_name: Option<&'a str>,
    /// supported_groups in preference order.
    pub groups: &'a [u16],
    /// The single key share sent, if any (none for a psk_ke-only resumption).
    pub key_share: Option<(u16, &'a [u8])>,
    /// signature_algorithms.
    pub signature_algorithms: &'a [u16],
    /// signature_algorithms_cert (omitted when empty).
    pub signature_algorithms_cert: &'a [u16],
    /// ALPN protocol names (omitted when empty).
    pub alpn: &'a [&'a [u8]],
    /// Cookie echoed from a HelloRetryRequest (RFC 8446 §4.2.2).
    pub cookie: Option<&'a [u8]>,
    /// max_fragment_length code 1..=4 (2^9..2^12, RFC 6066 §4).
    pub max_fragment_length: Option<u8>,
    /// record_size_limit (RFC 8449 §4).
    pub record_size_limit: Option<u16>,
    /// psk_key_exchange_modes (omitted when empty; servers issue tickets only to clients
    /// that send it).
    pub psk_modes: &'a [u8],
    /// The PSK offer; pre_shared_key is then the last extension (RFC 8446 §4.2.11).
    pub psk: Option<PskIdentity<'a>>,
}

/// Where the written ClientHello ends and where its binder goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmittedHello {
    /// Length of the whole handshake message, header included.
    pub len: usize,
    /// Offset of the binders list: the partial ClientHello hashed for the binder is
    /// `out[..binders_at]` (RFC 8446 §4.2.11.2). Equal to `len` without a PSK.
    pub binders_at: usize,
    /// Offset of the binder value itself (after the list and entry lengths).
    pub binder_at: usize,
}

impl ClientHello<'_> {
    /// Writes the ClientHello handshake message (header included) into `out`. With a PSK
    /// the binder is left zero at `binder_at`, to be computed over `out[..binders_at]`.
    pub fn emit(&self, out: &mut [u8]) -> Result<EmittedHello, WireError> {
        self.write(&mut Writer::new(out))
    }

    /// Bytes [`ClientHello::emit`] writes (the binder included).
    pub fn buffer_len(&self) -> Result<usize, WireError> {
        Ok(self.write(&mut Writer::counting())?.len)
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<EmittedHello, WireError> {
        w.u8(msg_type::CLIENT_HELLO)?;
        let body = w.begin_len(3)?;
        w.u16(LEGACY_VERSION)?;
        w.put(self.random)?;
        let sid = w.begin_len(1)?;
        w.put(self.session_id)?;
        w.end_len(sid)?;
        let cs = w.begin_len(2)?;
        for s in self.cipher_suites {
            w.u16(*s)?;
        }
        w.end_len(cs)?;
        // legacy_compression_methods: only "null".
        w.u8(1)?;
        w.u8(0)?;
        let exts = w.begin_len(2)?;

        if let Some(name) = self.server_name {
            w.u16(ext::SERVER_NAME)?;
            let e = w.begin_len(2)?;
            let list = w.begin_len(2)?;
            w.u8(0)?; // host_name
            let n = w.begin_len(2)?;
            w.put(name.as_bytes())?;
            w.end_len(n)?;
            w.end_len(list)?;
            w.end_len(e)?;
        }
        w.u16(ext::SUPPORTED_VERSIONS)?;
        w.u16(3)?;
        w.u8(2)?;
        w.u16(TLS13)?;

        w.u16(ext::SUPPORTED_GROUPS)?;
        let e = w.begin_len(2)?;
        let list = w.begin_len(2)?;
        for g in self.groups {
            w.u16(*g)?;
        }
        w.end_len(list)?;
        w.end_len(e)?;

        w.u16(ext::KEY_SHARE)?;
        let e = w.begin_len(2)?;
        let list = w.begin_len(2)?;
        if let Some((group, key)) = self.key_share {
            w.u16(group)?;
            let k = w.begin_len(2)?;
            w.put(key)?;
            w.end_len(k)?;
        }
        w.end_len(list)?;
        w.end_len(e)?;

        emit_u16_list(w, ext::SIGNATURE_ALGORITHMS, self.signature_algorithms)?;
        if !self.signature_algorithms_cert.is_empty() {
            emit_u16_list(
                w,
                ext::SIGNATURE_ALGORITHMS_CERT,
                self.signature_algorithms_cert,
            )?;
        }
        if !self.alpn.is_empty() {
            w.u16(ext::ALPN)?;
            let e = w.begin_len(2)?;
            let list = w.begin_len(2)?;
            for p in self.alpn {
                let n = w.begin_len(1)?;
                w.put(p)?;
                w.end_len(n)?;
            }
            w.end_len(list)?;
            w.end_len(e)?;
        }
        if let Some(code) = self.max_fragment_length {
            w.u16(ext::MAX_FRAGMENT_LENGTH)?;
            w.u16(1)?;
            w.u8(code)?;
        }
        if let Some(limit) = self.record_size_limit {
            w.u16(ext::RECORD_SIZE_LIMIT)?;
            w.u16(2)?;
            w.u16(limit)?;
        }
        if let Some(cookie) = self.cookie {
            w.u16(ext::COOKIE)?;
            let e = w.begin_len(2)?;
            let c = w.begin_len(2)?;
            w.put(cookie)?;
            w.end_len(c)?;
            w.end_len(e)?;
        }
        let mut binders_at = 0;
        let mut binder_at = 0;
        // Sent on full handshakes too: without it a server must not issue tickets
        // (RFC 8446 §4.2.9).
        if !self.psk_modes.is_empty() {
            w.u16(ext::PSK_KEY_EXCHANGE_MODES)?;
            let e = w.begin_len(2)?;
            let m = w.begin_len(1)?;
            w.put(self.psk_modes)?;
            w.end_len(m)?;
            w.end_len(e)?;
        }
        if let Some(psk) = self.psk {
            // pre_shared_key must be the last extension (RFC 8446 §4.2.11).
            w.u16(ext::PRE_SHARED_KEY)?;
            let e = w.begin_len(2)?;
            let ids = w.begin_len(2)?;
            let id = w.begin_len(2)?;
            w.put(psk.identity)?;
            w.end_len(id)?;
            w.u32(psk.obfuscated_ticket_age)?;
            w.end_len(ids)?;
            binders_at = w.len();
            let binders = w.begin_len(2)?;
            let b = w.begin_len(1)?;
            binder_at = w.len();
            for _ in 0..psk.binder_len {
                w.u8(0)?;
            }
            w.end_len(b)?;
            w.end_len(binders)?;
            w.end_len(e)?;
        }
        w.end_len(exts)?;
        w.end_len(body)?;
        let len = w.len();
        if self.psk.is_none() {
            binders_at = len;
            binder_at = len;
        }
        Ok(EmittedHello {
            len,
            binders_at,
            binder_at,
        })
    }
}

fn emit_u16_list(w: &mut Writer<'_>, ty: u16, list: &[u16]) -> Result<(), WireError> {
    w.u16(ty)?;
    let e = w.begin_len(2)?;
    let l = w.begin_len(2)?;
    for v in list {
        w.u16(*v)?;
    }
    w.end_len(l)?;
    w.end_len(e)
}

/// Finished (RFC 8446 §4.4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Finished<'a> {
    /// verify_data: an HMAC over the transcript, as long as the suite's hash.
    pub verify_data: &'a [u8],
}

impl Finished<'_> {
    /// Writes the message (header included) into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        self.write(&mut w)?;
        Ok(w.len())
    }

    /// Bytes [`Finished::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.verify_data.len()
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        emit_header(w, msg_type::FINISHED, self.verify_data.len())?;
        w.put(self.verify_data)
    }
}

/// The client's Certificate (RFC 8446 §4.4.2): the request context is empty (the server's
/// was, during the handshake) and no entry carries an extension. An empty chain answers a
/// CertificateRequest without a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCertificate<'a> {
    /// DER certificates, the end-entity first.
    pub chain: &'a [&'a [u8]],
}

impl ClientCertificate<'_> {
    /// Writes the message (header included) into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        self.write(&mut w)?;
        Ok(w.len())
    }

    /// Bytes [`ClientCertificate::emit`] writes.
    pub fn buffer_len(&self) -> Result<usize, WireError> {
        let mut w = Writer::counting();
        self.write(&mut w)?;
        Ok(w.len())
    }

    fn write(&self, w: &mut Writer<'_>) -> Result<(), WireError> {
        w.u8(msg_type::CERTIFICATE)?;
        let m = w.begin_len(3)?;
        // certificate_request_context: empty.
        w.u8(0)?;
        let list = w.begin_len(3)?;
        for cert in self.chain {
            let e = w.begin_len(3)?;
            w.put(cert)?;
            w.end_len(e)?;
            // No extensions.
            w.u16(0)?;
        }
        w.end_len(list)?;
        w.end_len(m)
    }
}

/// The client's CertificateVerify (RFC 8446 §4.4.3), written around a signature that is
/// already in place: a signer writes its signature at [`ClientCertificateVerify::SIGNATURE_AT`],
/// then [`ClientCertificateVerify::emit_prefix`] writes what comes before it, so the signature
/// is never copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientCertificateVerify {
    /// The SignatureScheme code point.
    pub scheme: u16,
    /// Length of the signature in bytes.
    pub signature_len: usize,
}

impl ClientCertificateVerify {
    /// Offset of the signature in the message: the handshake header, the scheme and the
    /// signature's length.
    pub const SIGNATURE_AT: usize = HEADER_LEN + 2 + 2;

    /// Writes the [`ClientCertificateVerify::SIGNATURE_AT`] bytes before the signature into
    /// `out`; returns the whole message's length.
    pub fn emit_prefix(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let sig_len = u16::try_from(self.signature_len).map_err(|_| WireError::BufferTooSmall)?;
        let mut w = Writer::new(out);
        emit_header(&mut w, msg_type::CERTIFICATE_VERIFY, 4 + self.signature_len)?;
        w.u16(self.scheme)?;
        w.u16(sig_len)?;
        Ok(self.buffer_len())
    }

    /// Bytes of the whole message, signature included.
    pub fn buffer_len(&self) -> usize {
        Self::SIGNATURE_AT + self.signature_len
    }
}

/// KeyUpdate (RFC 8446 §4.6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyUpdate {
    /// update_requested: the peer must answer with a KeyUpdate of its own.
    pub request_update: bool,
}

impl KeyUpdate {
    /// Bytes of the message, header included.
    pub const LEN: usize = HEADER_LEN + 1;

    /// Reads the body of a KeyUpdate; any value but 0 and 1 is illegal.
    pub fn parse(body: &[u8]) -> Result<Self, WireError> {
        match body {
            [0] => Ok(KeyUpdate {
                request_update: false,
            }),
            [1] => Ok(KeyUpdate {
                request_update: true,
            }),
            [] => Err(WireError::Truncated),
            [_] => Err(WireError::IllegalValue),
            _ => Err(WireError::TrailingBytes),
        }
    }

    /// Writes the message (header included) into `out`; returns its length.
    pub fn emit(&self, out: &mut [u8]) -> Result<usize, WireError> {
        let mut w = Writer::new(out);
        emit_header(&mut w, msg_type::KEY_UPDATE, 1)?;
        w.u8(u8::from(self.request_update))?;
        Ok(w.len())
    }

    /// Bytes [`KeyUpdate::emit`] writes.
    pub const fn buffer_len(&self) -> usize {
        Self::LEN
    }
}
