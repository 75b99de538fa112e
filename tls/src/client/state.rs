//! Handshake states (RFC 8446 §A.1). In each state [`handle`] passes on only the messages
//! allowed in it, to a method of the connection that takes the state's payload; anything
//! else is `unexpected_message`.
//!
//! The states carry no secret (E7): the key share, the key schedule and the traffic secrets
//! live in the connection's [`Secrets`](super::Secrets), each at one place, advanced and wiped
//! there. So taking the state out of the connection (`mem::replace` in [`handle`]) and
//! writing the next one copies nothing secret, and a state left behind by an error holds
//! nothing to wipe.

mod connected;
mod hello;
mod negotiated;

use hello::queue_client_hello;
pub(crate) use hello::{with_client_hello, HelloInputs};

use crate::crypto::{
    self, CipherSuite, HashAlg, KeyExchange, KeySchedule, KeyShare, NamedGroup, RecordProtection,
    SignatureScheme, Transcript,
};
use crate::wire::handshake::{
    self as hs, msg_type, Certificate, CertificateRequest, CertificateVerify, ClientCertificate,
    ClientCertificateVerify, ClientHello, EncryptedExtensions, Finished, NewSessionTicket,
    PskIdentity, ServerHello,
};
use crate::wire::record::{content_type, RecordHeader, HEADER_LEN};
use crate::wire::WireError;

use super::{
    ClientConfig, Connection, Error, Ev, HandshakeSummary, KeyExchangeMode, PskMode,
    ResumptionOffer, Violation,
};

/// Where the handshake is. Each variant carries its own payload, holding only what that
/// state needs: what exists only after the ServerHello (the suite, the key exchange) is in
/// the payloads from then on, never in an `Option` checked at run time.
pub(crate) enum State {
    WaitServerHello(WaitServerHello),
    WaitEncryptedExtensions(Negotiated),
    WaitCertificateOrRequest(Negotiated),
    WaitCertificate(WaitCertificate),
    WaitCertificateVerify(WaitCertificateVerify),
    WaitFinished(WaitFinished),
    Connected(Connected),
    Closed,
    Failed,
}

impl State {
    pub(crate) fn is_handshaking(&self) -> bool {
        !matches!(self, State::Connected(_) | State::Closed | State::Failed)
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            State::WaitServerHello(_) => "WaitServerHello",
            State::WaitEncryptedExtensions(_) => "WaitEncryptedExtensions",
            State::WaitCertificateOrRequest(_) => "WaitCertificateOrRequest",
            State::WaitCertificate(_) => "WaitCertificate",
            State::WaitCertificateVerify(_) => "WaitCertificateVerify",
            State::WaitFinished(_) => "WaitFinished",
            State::Connected(_) => "Connected",
            State::Closed => "Closed",
            State::Failed => "Failed",
        }
    }

    /// The negotiated suite, in the states that have one.
    pub(crate) fn suite(&self) -> Option<CipherSuite> {
        match self {
            State::WaitEncryptedExtensions(n) | State::WaitCertificateOrRequest(n) => Some(n.suite),
            State::WaitCertificate(s) => Some(s.hs.suite),
            State::WaitCertificateVerify(s) => Some(s.hs.suite),
            State::WaitFinished(s) => Some(s.hs.suite),
            State::Connected(c) => Some(c.suite),
            State::WaitServerHello(_) | State::Closed | State::Failed => None,
        }
    }
}

/// ClientHello sent; waiting for ServerHello or HelloRetryRequest. The key share of the
/// last ClientHello is in `Secrets::kx`, and the Early Secret of the PSK it offered (computed
/// for its binder, reused when the server accepts the PSK) in `Secrets::schedule`.
pub(crate) struct WaitServerHello {
    retry_suite: Option<CipherSuite>,
}

/// A CertificateRequest to answer after the server's Finished (its context is always
/// empty during the handshake, RFC 8446 §4.3.2).
pub(crate) struct CertRequest {
    use_signer: bool,
}

/// What the ServerHello settled, carried by every later handshake state: handshake keys
/// are in place (the Handshake Secret and both handshake traffic secrets in the
/// connection's `Secrets`).
pub(crate) struct Negotiated {
    suite: CipherSuite,
    kex: KeyExchangeMode,
    offer_declined: bool,
    retried: bool,
}

/// A CertificateRequest was received; the server's Certificate comes next.
pub(crate) struct WaitCertificate {
    hs: Negotiated,
    cert_request: CertRequest,
}

/// The server's chain was verified; its CertificateVerify comes next (the end-entity
/// certificate stays in the receive buffer until then).
pub(crate) struct WaitCertificateVerify {
    hs: Negotiated,
    cert_request: Option<CertRequest>,
}

/// The server is authenticated (by its certificate, or by the accepted PSK); its Finished
/// comes next, then the client's flight.
pub(crate) struct WaitFinished {
    hs: Negotiated,
    cert_request: Option<CertRequest>,
}

/// The handshake completed: application data, NewSessionTicket and KeyUpdate.
#[derive(Clone, Copy)]
pub(crate) struct Connected {
    pub(crate) suite: CipherSuite,
}

type Step = Result<(State, Option<Ev>), Error>;

/// Queues ClientHello1 and returns the first state.
pub(crate) fn start<R: rand_core::CryptoRng, const T: usize>(
    conn: &mut Connection<'_, R, T>,
) -> Result<State, Error> {
    let first = *conn
        .config
        .groups
        .iter()
        .find(|g| g.is_supported())
        .ok_or(Error::EmptyConfiguration)?;
    let psk_only = conn.offer.is_some() && conn.psk_mode == PskMode::AllowPskOnly;
    // psk_ke resumption: no key share at all, so no public-key operation. A server that
    // wants (EC)DHE asks for a share with HelloRetryRequest.
    conn.secrets.kx = if psk_only {
        KeyShare::none()
    } else {
        KeyShare::Key(KeyExchange::generate(first, &mut conn.rng)?)
    };
    queue_client_hello(conn, None, None, 0x0301)?;
    Ok(State::WaitServerHello(WaitServerHello {
        retry_suite: None,
    }))
}

/// True when the ClientHello carries server_name: for a DNS name, not for an IP literal
/// (RFC 6066 §3).
fn sends_server_name(server_name: &str) -> bool {
    server_name.parse::<core::net::IpAddr>().is_err()
}

/// Offset of `inner` within `outer` (both views of the receive buffer).
fn offset_in(outer: &[u8], inner: &[u8]) -> usize {
    (inner.as_ptr() as usize).wrapping_sub(outer.as_ptr() as usize)
}

fn range_in(outer: &[u8], inner: &[u8]) -> (usize, usize) {
    let a = offset_in(outer, inner);
    (a, a + inner.len())
}

/// Where a handshake message lies in the receive buffer: `rx[start..start + total]`, its
/// header included.
#[derive(Clone, Copy)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) total: usize,
}

impl Span {
    /// Just past the message's last byte.
    pub(crate) fn end(self) -> usize {
        self.start + self.total
    }

    /// The whole message (for the transcript) and its body (after the header).
    fn parts(self, rx: &[u8]) -> Result<(&[u8], &[u8]), Error> {
        let msg = rx
            .get(self.start..self.end())
            .ok_or(Error::Malformed(WireError::Truncated))?;
        let body = msg
            .get(hs::HEADER_LEN..)
            .ok_or(Error::Malformed(WireError::Truncated))?;
        Ok((msg, body))
    }
}

/// Dispatches the handshake message of type `ty` at `at`.
///
/// The handlers of the heavier messages are never inlined here: inlined, their locals (key
/// agreement, key schedule, certificate path) shared one frame of over 2 KB that sat under
/// the certificate verification, the deepest point of a full handshake on a device.
pub(crate) fn handle<R: rand_core::CryptoRng, const T: usize>(
    conn: &mut Connection<'_, R, T>,
    ty: u8,
    at: Span,
) -> Result<Option<Ev>, Error> {
    let state = core::mem::replace(&mut conn.state, State::Failed);
    let (next, ev) = match state {
        State::WaitServerHello(s) if ty == msg_type::SERVER_HELLO => conn.server_hello(s, at)?,
        State::WaitEncryptedExtensions(n) if ty == msg_type::ENCRYPTED_EXTENSIONS => {
            conn.encrypted_extensions(n, at)?
        }
        State::WaitCertificateOrRequest(n) => match ty {
            msg_type::CERTIFICATE_REQUEST => conn.certificate_request(n, at)?,
            msg_type::CERTIFICATE => conn.certificate(n, None, at)?,
            // C32: a full handshake must authenticate the server.
            msg_type::FINISHED | msg_type::CERTIFICATE_VERIFY => {
                return Err(Error::ServerNotAuthenticated)
            }
            _ => return Err(Error::UnexpectedMessage),
        },
        State::WaitCertificate(s) => match ty {
            msg_type::CERTIFICATE => conn.certificate(s.hs, Some(s.cert_request), at)?,
            msg_type::FINISHED | msg_type::CERTIFICATE_VERIFY => {
                return Err(Error::ServerNotAuthenticated)
            }
            _ => return Err(Error::UnexpectedMessage),
        },
        State::WaitCertificateVerify(s) => match ty {
            msg_type::CERTIFICATE_VERIFY => conn.certificate_verify(s, at)?,
            msg_type::FINISHED => return Err(Error::ServerNotAuthenticated),
            _ => return Err(Error::UnexpectedMessage),
        },
        State::WaitFinished(s) => match ty {
            msg_type::FINISHED => conn.server_finished(s, at)?,
            // C32: the server accepted the PSK, so it must not present a certificate.
            msg_type::CERTIFICATE => return Err(Error::CertificateWithPsk),
            _ => return Err(Error::UnexpectedMessage),
        },
        State::Connected(c) => conn.post_handshake(c, ty, at)?,
        State::Closed => (State::Closed, None),
        _ => return Err(Error::UnexpectedMessage),
    };
    conn.state = next;
    Ok(ev)
}
