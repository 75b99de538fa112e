//! Handshake states (RFC 8446 §A.1). Each state struct handles only the messages allowed
//! in it; anything else is `unexpected_message`.
//!
//! The states carry no secret (E7): the key share, the key schedule and the traffic secrets
//! live in the connection's [`Secrets`](super::Secrets), each at one place, advanced and wiped
//! there. So taking the state out of the connection (`mem::replace` in [`handle`]) and
//! writing the next one copies nothing secret, and a state left behind by an error holds
//! nothing to wipe.

use crate::crypto::{
    self, CipherSuite, HashAlg, KeyExchange, KeySchedule, KeyShare, NamedGroup, RecordProtection,
    SignatureScheme, Transcript,
};
use crate::wire::handshake::{
    self as hs, msg_type, Certificate, CertificateRequest, CertificateVerify, ClientHello,
    EncryptedExtensions, NewSessionTicket, PskIdentity, ServerHello,
};
use crate::wire::record::{content_type, RecordHeader, HEADER_LEN};
use crate::wire::{WireError, Writer};

use super::{
    ClientConfig, Connection, Error, Ev, HandshakeSummary, KeyExchangeMode, PskMode,
    ResumptionOffer, Violation,
};

pub(crate) enum State {
    WaitServerHello(WaitServerHello),
    WaitEncryptedExtensions(Negotiated),
    WaitCertificateOrRequest(Negotiated),
    WaitCertificate(Negotiated),
    WaitCertificateVerify(Negotiated),
    WaitFinished(Negotiated),
    Connected,
    Closed,
    Failed,
}

impl State {
    pub(crate) fn is_handshaking(&self) -> bool {
        !matches!(self, State::Connected | State::Closed | State::Failed)
    }

    pub(crate) fn name(&self) -> &'static str {
        match self {
            State::WaitServerHello(_) => "WaitServerHello",
            State::WaitEncryptedExtensions(_) => "WaitEncryptedExtensions",
            State::WaitCertificateOrRequest(_) => "WaitCertificateOrRequest",
            State::WaitCertificate(_) => "WaitCertificate",
            State::WaitCertificateVerify(_) => "WaitCertificateVerify",
            State::WaitFinished(_) => "WaitFinished",
            State::Connected => "Connected",
            State::Closed => "Closed",
            State::Failed => "Failed",
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

/// ServerHello processed: handshake keys in place (the Handshake Secret and both handshake
/// traffic secrets in the connection's `Secrets`).
pub(crate) struct Negotiated {
    suite: CipherSuite,
    kex: KeyExchangeMode,
    offer_declined: bool,
    retried: bool,
    cert_request: Option<CertRequest>,
}

type Step = Result<(State, Option<Ev>), Error>;

/// Queues ClientHello1 and returns the first state.
pub(crate) fn start<R: rand_core::CryptoRng>(conn: &mut Connection<'_, R>) -> Result<State, Error> {
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
    let kx = conn.secrets.kx.get();
    let pk = kx.as_ref().map(|k| k.public_key());
    let share = match (kx, &pk) {
        (Some(k), Some(p)) => Some((k.group().to_u16(), p.as_slice())),
        _ => None,
    };
    let inputs = HelloInputs {
        config: conn.config,
        psk_mode: conn.psk_mode,
        server_name: conn.server_name,
        offer: conn.offer.get(),
        random: &conn.random,
        session_id: conn.session_id.get(..conn.session_id_len).unwrap_or(&[]),
        suites: &conn.suites,
    };
    write_client_hello(
        conn.tx,
        &mut conn.tx_len,
        &mut conn.transcript,
        &mut conn.secrets.schedule,
        &inputs,
        share,
        None,
        0x0301,
    )?;
    Ok(State::WaitServerHello(WaitServerHello {
        retry_suite: None,
    }))
}

struct HelloInputs<'x> {
    config: &'x ClientConfig<'x>,
    psk_mode: PskMode,
    server_name: &'x str,
    offer: Option<ResumptionOffer<'x>>,
    random: &'x [u8; 32],
    session_id: &'x [u8],
    suites: &'x [u16],
}

/// Writes a ClientHello record (with its PSK binder, RFC 8446 §4.2.11.2) and adds it to the
/// transcript. Leaves the Early Secret of the offered PSK, if any, in `early` (made there,
/// E7); without an offer, whatever `early` held is dropped, and so wiped, and it is left
/// empty.
#[allow(clippy::too_many_arguments)] // the disjoint parts of the connection it writes
fn write_client_hello(
    tx: &mut [u8],
    tx_len: &mut usize,
    transcript: &mut Transcript,
    early: &mut KeySchedule,
    inp: &HelloInputs<'_>,
    key_share: Option<(u16, &[u8])>,
    cookie: Option<&[u8]>,
    record_version: u16,
) -> Result<(), Error> {
    let mut groups: heapless::Vec<u16, 4> = heapless::Vec::new();
    for g in inp.config.groups.iter().filter(|g| g.is_supported()) {
        if !groups.contains(&g.to_u16()) {
            groups
                .push(g.to_u16())
                .map_err(|_| Error::EmptyConfiguration)?;
        }
    }
    let mut sigs: heapless::Vec<u16, 9> = heapless::Vec::new();
    for s in SignatureScheme::OFFERED {
        let _ = sigs.push(s.to_u16());
    }
    let mut sigs_cert: heapless::Vec<u16, 9> = heapless::Vec::new();
    for s in SignatureScheme::OFFERED_CERT {
        let _ = sigs_cert.push(s.to_u16());
    }
    // signature_algorithms_cert is only needed when it differs (RFC 8446 §4.2.3).
    let sigs_cert: &[u16] = if sigs_cert == sigs { &[] } else { &sigs_cert };
    let server_name = if sends_server_name(inp.server_name) {
        Some(inp.server_name)
    } else {
        None
    };
    let psk_modes: &[u8] = match inp.psk_mode {
        PskMode::DheOnly => &[hs::PSK_DHE_KE],
        PskMode::AllowPskOnly => &[hs::PSK_KE],
    };
    let psk = inp.offer.map(|o| PskIdentity {
        identity: o.ticket,
        obfuscated_ticket_age: o.obfuscated_age(),
        binder_len: o.suite.hash().output_len(),
    });
    let hello = ClientHello {
        random: inp.random,
        session_id: inp.session_id,
        cipher_suites: inp.suites,
        server_name,
        groups: &groups,
        key_share,
        signature_algorithms: &sigs,
        signature_algorithms_cert: sigs_cert,
        alpn: inp.config.alpn,
        cookie,
        max_fragment_length: inp.config.max_fragment_length.map(|m| m.code()),
        record_size_limit: inp.config.record_size_limit,
        psk_modes,
        psk,
    };
    let rec = *tx_len;
    let body = rec + HEADER_LEN;
    let out = tx.get_mut(body..).ok_or(Error::BufferTooSmall)?;
    let emitted = hello.emit(out)?;
    *early = KeySchedule::empty();
    if let Some(offer) = inp.offer {
        let hash = offer.suite.hash();
        early.set_early(hash, Some(offer.psk));
        let binder_key = early.binder_key(true);
        // The truncated ClientHello goes into the transcript once: the binder is computed
        // over a copy of the running hash, and the binders follow into the transcript itself.
        let partial = out.get(..emitted.binders_at).ok_or(Error::BufferTooSmall)?;
        transcript.update(partial);
        let th = transcript.hash_of(hash);
        let binder = crypto::finished_verify_data(hash, binder_key.as_bytes(), th.as_bytes());
        let dst = out
            .get_mut(emitted.binder_at..emitted.binder_at + binder.len())
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(binder.as_bytes());
        let rest = out
            .get(emitted.binders_at..emitted.len)
            .ok_or(Error::BufferTooSmall)?;
        transcript.update(rest);
    } else {
        let msg = out.get(..emitted.len).ok_or(Error::BufferTooSmall)?;
        transcript.update(msg);
    }
    let hdr = RecordHeader {
        content_type: content_type::HANDSHAKE,
        legacy_version: record_version,
        length: u16::try_from(emitted.len).map_err(|_| Error::BufferTooSmall)?,
    }
    .to_bytes();
    tx.get_mut(rec..body)
        .ok_or(Error::BufferTooSmall)?
        .copy_from_slice(&hdr);
    *tx_len = body + emitted.len;
    Ok(())
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

/// Dispatches the handshake message at `rx[start..start + total]`.
///
/// The handlers of the heavier messages are never inlined here: inlined, their locals (key
/// agreement, key schedule, certificate path) shared one frame of over 2 KB that sat under
/// the certificate verification, the deepest point of a full handshake on a device.
pub(crate) fn handle<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    ty: u8,
    start: usize,
    total: usize,
) -> Result<Option<Ev>, Error> {
    let state = core::mem::replace(&mut conn.state, State::Failed);
    let (next, ev) = match state {
        State::WaitServerHello(s) => s.handle(conn, ty, start, total)?,
        State::WaitEncryptedExtensions(n) if ty == msg_type::ENCRYPTED_EXTENSIONS => {
            n.encrypted_extensions(conn, start, total)?
        }
        State::WaitCertificateOrRequest(n) => match ty {
            msg_type::CERTIFICATE_REQUEST => n.certificate_request(conn, start, total)?,
            msg_type::CERTIFICATE => n.certificate(conn, start, total)?,
            // C32: a full handshake must authenticate the server.
            msg_type::FINISHED | msg_type::CERTIFICATE_VERIFY => {
                return Err(Error::ServerNotAuthenticated)
            }
            _ => return Err(Error::UnexpectedMessage),
        },
        State::WaitCertificate(n) => match ty {
            msg_type::CERTIFICATE => n.certificate(conn, start, total)?,
            msg_type::FINISHED | msg_type::CERTIFICATE_VERIFY => {
                return Err(Error::ServerNotAuthenticated)
            }
            _ => return Err(Error::UnexpectedMessage),
        },
        State::WaitCertificateVerify(n) => match ty {
            msg_type::CERTIFICATE_VERIFY => n.certificate_verify(conn, start, total)?,
            msg_type::FINISHED => return Err(Error::ServerNotAuthenticated),
            _ => return Err(Error::UnexpectedMessage),
        },
        State::WaitFinished(n) => match ty {
            msg_type::FINISHED => n.finished(conn, start, total)?,
            // C32: the server accepted the PSK, so it must not present a certificate.
            msg_type::CERTIFICATE => return Err(Error::CertificateWithPsk),
            _ => return Err(Error::UnexpectedMessage),
        },
        State::Connected => connected(conn, ty, start, total)?,
        State::Closed => (State::Closed, None),
        _ => return Err(Error::UnexpectedMessage),
    };
    conn.state = next;
    Ok(ev)
}

fn message(rx: &[u8], start: usize, total: usize) -> Result<(&[u8], &[u8]), Error> {
    let msg = rx
        .get(start..start + total)
        .ok_or(Error::Malformed(WireError::Truncated))?;
    let body = msg
        .get(hs::HEADER_LEN..)
        .ok_or(Error::Malformed(WireError::Truncated))?;
    Ok((msg, body))
}

impl WaitServerHello {
    #[inline(never)]
    fn handle<R: rand_core::CryptoRng>(
        self,
        conn: &mut Connection<'_, R>,
        ty: u8,
        start: usize,
        total: usize,
    ) -> Step {
        if ty != msg_type::SERVER_HELLO {
            return Err(Error::UnexpectedMessage);
        }
        let (msg, body) = message(conn.rx, start, total)?;
        let sh = ServerHello::parse(body)?;
        match sh.selected_version {
            None => return Err(Error::ProtocolVersion),
            Some(hs::TLS13) => {}
            Some(_) => return Err(Error::Malformed(WireError::IllegalValue)),
        }
        if sh.session_id != conn.session_id.get(..conn.session_id_len).unwrap_or(&[]) {
            return Err(Error::Illegal(Violation::SessionIdMismatch));
        }
        let suite = CipherSuite::from_u16(sh.cipher_suite)
            .filter(|s| conn.suites.contains(&s.to_u16()))
            .ok_or(Error::Illegal(Violation::SuiteNotOffered))?;
        if sh.is_retry_request {
            let group = sh.key_share.map(|(g, _)| g);
            let cookie = sh.cookie.map(|c| range_in(conn.rx, c));
            return self.retry(conn, group, cookie, suite, start, total);
        }
        if let Some(rs) = self.retry_suite {
            if rs != suite {
                return Err(Error::Illegal(Violation::SuiteChangedAfterRetry));
            }
        }
        // C31: the selected identity must be the one offered, with a suite of its hash. An
        // offer withdrawn from ClientHello2 (see `retry`) was not offered.
        let retry_hash = self.retry_suite.map(|rs| rs.hash());
        let psk = match sh.selected_identity {
            None => None,
            Some(i) => {
                let offer = conn
                    .offer
                    .get()
                    .filter(|o| retry_hash.is_none_or(|h| h == o.suite.hash()))
                    .ok_or(Error::Illegal(Violation::PskNotOffered))?;
                if i != 0 {
                    return Err(Error::Illegal(Violation::PskIdentityNotOffered));
                }
                if suite.hash() != offer.suite.hash() {
                    return Err(Error::Illegal(Violation::PskSuiteHashMismatch));
                }
                Some(offer.psk)
            }
        };
        // RFC 8446 §4.2.9: with psk_ke alone offered (also in a ClientHello2 that carries a
        // key share after HelloRetryRequest), accepting the PSK with a key share selects
        // psk_dhe_ke, which was not offered.
        if psk.is_some() && sh.key_share.is_some() && conn.psk_mode == PskMode::AllowPskOnly {
            return Err(Error::Illegal(Violation::PskDheNotOffered));
        }
        let dhe = match (sh.key_share, conn.secrets.kx.get()) {
            (Some((group, key)), Some(kx)) => {
                if group != kx.group().to_u16() {
                    return Err(Error::Illegal(Violation::KeyShareGroupMismatch));
                }
                Some(kx.agree(key)?)
            }
            (Some(_), None) => return Err(Error::Illegal(Violation::KeyShareGroupMismatch)),
            (None, _) => {
                if psk.is_none() {
                    return Err(Error::MissingKeyShare);
                }
                // C31: psk_ke only when offered; otherwise psk_dhe_ke needs the key share.
                if conn.psk_mode != PskMode::AllowPskOnly {
                    return Err(Error::MissingKeyShare);
                }
                None
            }
        };
        // The private key served its one exchange: dropped where it lies, it wipes itself.
        conn.secrets.kx = KeyShare::none();
        let kex = match (psk.is_some(), dhe.is_some()) {
            (false, _) => KeyExchangeMode::Full,
            (true, true) => KeyExchangeMode::PskDhe,
            (true, false) => KeyExchangeMode::Psk,
        };
        let hash = suite.hash();
        conn.transcript.select(hash);
        conn.transcript.update(msg);
        if conn.handshake_bytes_after(start, total) {
            return Err(Error::UnexpectedMessage);
        }
        let psk_accepted = psk.is_some();
        // The Early Secret of an accepted PSK was already computed for its binder; any other
        // (a declined offer's) is replaced where it lies.
        let schedule = &mut conn.secrets.schedule;
        if !(psk_accepted && !schedule.is_empty() && schedule.hash() == hash) {
            schedule.set_early(hash, psk);
        }
        schedule.advance_to_handshake(dhe.as_ref().map(|s| s.as_bytes()));
        let th = conn.transcript.current_hash();
        conn.secrets.client_hs = schedule.client_handshake_traffic_secret(th.as_bytes());
        conn.secrets.server_hs = schedule.server_handshake_traffic_secret(th.as_bytes());
        // No later ClientHello will carry the PSK: its copy has served (E7).
        {
            use zeroize::Zeroize;
            conn.offer.psk.zeroize();
        }
        conn.read_key = RecordProtection::new(suite, conn.secrets.server_hs.as_bytes())?;
        conn.write_key = RecordProtection::new(suite, conn.secrets.client_hs.as_bytes())?;
        conn.suite = Some(suite);
        let next = Negotiated {
            suite,
            kex,
            offer_declined: conn.offer.is_some() && !psk_accepted,
            retried: self.retry_suite.is_some(),
            cert_request: None,
        };
        Ok((State::WaitEncryptedExtensions(next), None))
    }

    /// HelloRetryRequest (RFC 8446 §4.1.4): send ClientHello2 with the requested share
    /// and the cookie, the PSK repeated with a binder over the new transcript.
    ///
    /// Everything else stays as in ClientHello1 (§4.1.2), psk_key_exchange_modes included:
    /// a psk_ke-only offer still lists psk_ke alone, so a server that asked for a share
    /// declines the PSK (a full handshake) or resumes without (EC)DHE. The
    /// obfuscated_ticket_age is repeated too: §4.1.2 permits recomputing it, but the engine
    /// has no clock of its own (the caller computed the age for ClientHello1), and the
    /// difference, one round trip, matters to a server only for 0-RTT, which this client
    /// never sends.
    ///
    /// A HelloRetryRequest that fixes a suite of another hash than the ticket's rules the PSK
    /// out (C31): ClientHello2 leaves it out, as §4.1.2 permits, and the handshake can only
    /// be a full one.
    fn retry<R: rand_core::CryptoRng>(
        self,
        conn: &mut Connection<'_, R>,
        hrr_group: Option<u16>,
        cookie: Option<(usize, usize)>,
        suite: CipherSuite,
        start: usize,
        total: usize,
    ) -> Step {
        if self.retry_suite.is_some() {
            return Err(Error::UnexpectedMessage);
        }
        let requested = match hrr_group {
            None => None,
            Some(g) => {
                let group = NamedGroup::from_u16(g)
                    .filter(|g| conn.config.groups.contains(g))
                    .ok_or(Error::Illegal(Violation::RetryGroupInvalid))?;
                if conn.secrets.kx.get().map(|k| k.group()) == Some(group) {
                    return Err(Error::Illegal(Violation::RetryGroupInvalid));
                }
                Some(group)
            }
        };
        if requested.is_none() && cookie.is_none() {
            return Err(Error::Illegal(Violation::RetryChangesNothing));
        }
        if conn.handshake_bytes_after(start, total) {
            return Err(Error::UnexpectedMessage);
        }
        let hash: HashAlg = suite.hash();
        conn.transcript.select(hash);
        conn.transcript.replace_with_message_hash(hash);
        let msg = conn
            .rx
            .get(start..start + total)
            .ok_or(Error::UnexpectedMessage)?;
        conn.transcript.update(msg);
        if let Some(g) = requested {
            // The first key share is dropped where it lies (and so wiped) as the new one
            // takes its place.
            conn.secrets.kx = KeyShare::Key(KeyExchange::generate(g, &mut conn.rng)?);
        }
        conn.maybe_send_ccs()?;
        let kx = conn.secrets.kx.get();
        let pk = kx.as_ref().map(|k| k.public_key());
        let share = match (kx, &pk) {
            (Some(k), Some(p)) => Some((k.group().to_u16(), p.as_slice())),
            _ => None,
        };
        let cookie = cookie.and_then(|(a, b)| conn.rx.get(a..b));
        let inputs = HelloInputs {
            config: conn.config,
            psk_mode: conn.psk_mode,
            server_name: conn.server_name,
            offer: conn.offer.get().filter(|o| o.suite.hash() == hash),
            random: &conn.random,
            session_id: conn.session_id.get(..conn.session_id_len).unwrap_or(&[]),
            suites: &conn.suites,
        };
        write_client_hello(
            conn.tx,
            &mut conn.tx_len,
            &mut conn.transcript,
            &mut conn.secrets.schedule,
            &inputs,
            share,
            cookie,
            hs::LEGACY_VERSION,
        )?;
        Ok((
            State::WaitServerHello(WaitServerHello {
                retry_suite: Some(suite),
            }),
            None,
        ))
    }
}

impl Negotiated {
    #[inline(never)]
    fn encrypted_extensions<R>(
        self,
        conn: &mut Connection<'_, R>,
        start: usize,
        total: usize,
    ) -> Step {
        let (msg, body) = message(conn.rx, start, total)?;
        let ee = EncryptedExtensions::parse(body)?;
        if ee.early_data {
            return Err(Error::Illegal(Violation::EarlyDataNotOffered));
        }
        let config = conn.config;
        // RFC 8446 §4.2: an extension response without the request is unsupported_extension;
        // no server_name is sent for an IP literal.
        if ee.server_name_ack && !sends_server_name(conn.server_name) {
            return Err(Error::Illegal(Violation::ServerNameNotSent));
        }
        // RFC 8449 §5: a client MUST treat receipt of both limits as fatal.
        if ee.max_fragment_length.is_some() && ee.record_size_limit.is_some() {
            return Err(Error::Illegal(Violation::BothRecordLimits));
        }
        if let Some(p) = ee.alpn {
            // RFC 8446 §4.2: an answer to an extension that was not sent.
            if config.alpn.is_empty() {
                return Err(Error::Illegal(Violation::AlpnNotSent));
            }
            let i = config
                .alpn
                .iter()
                .position(|o| *o == p)
                .ok_or(Error::Illegal(Violation::AlpnNotOffered))?;
            conn.alpn_index = Some(i);
        }
        let mut own = crate::wire::record::MAX_PLAINTEXT;
        match (ee.max_fragment_length, config.max_fragment_length) {
            (None, _) => {}
            (Some(code), Some(m)) if code == m.code() => {
                conn.peer_max_fragment = conn.peer_max_fragment.min(m.bytes());
                own = own.min(m.bytes());
            }
            (Some(_), _) => return Err(Error::Illegal(Violation::MaxFragmentLengthMismatch)),
        }
        if let Some(limit) = ee.record_size_limit {
            let ours = config
                .record_size_limit
                .ok_or(Error::Illegal(Violation::RecordSizeLimitNotOffered))?;
            // The limit counts the inner content type (RFC 8449 §4).
            conn.peer_max_fragment = conn
                .peer_max_fragment
                .min(usize::from(limit).saturating_sub(1));
            own = own.min(usize::from(ours).saturating_sub(1));
        }
        conn.own_max_fragment = own;
        conn.transcript.update(msg);
        let next = if self.kex == KeyExchangeMode::Full {
            State::WaitCertificateOrRequest(self)
        } else {
            State::WaitFinished(self)
        };
        Ok((next, None))
    }

    fn certificate_request<R>(
        mut self,
        conn: &mut Connection<'_, R>,
        start: usize,
        total: usize,
    ) -> Step {
        let (msg, body) = message(conn.rx, start, total)?;
        let cr = CertificateRequest::parse(body)?;
        // RFC 8446 §4.3.2: the context is empty unless used for post-handshake
        // authentication, which this client does not offer.
        if !cr.context.is_empty() {
            return Err(Error::Illegal(Violation::CertificateRequestContextNotEmpty));
        }
        let use_signer = conn
            .config
            .client_auth
            .is_some_and(|s| cr.accepts(s.scheme().to_u16()));
        conn.transcript.update(msg);
        self.cert_request = Some(CertRequest { use_signer });
        Ok((State::WaitCertificate(self), None))
    }

    #[inline(never)]
    fn certificate<R>(self, conn: &mut Connection<'_, R>, start: usize, total: usize) -> Step {
        let (msg, body) = message(conn.rx, start, total)?;
        let cert = Certificate::parse(body)?;
        if !cert.context.is_empty() {
            return Err(Error::Illegal(Violation::CertificateContextNotEmpty));
        }
        // RFC 8446 §4.4.2: a CertificateEntry extension must answer one the ClientHello
        // carried; this client sends neither status_request nor signed_certificate_timestamp.
        if cert.entry_extensions {
            return Err(Error::Illegal(Violation::CertificateExtensionNotOffered));
        }
        let mut certs = cert.certificates();
        let end_entity = certs.next().ok_or(Error::Malformed(WireError::BadLength))?;
        let mut intermediates: heapless::Vec<&[u8], { crypto::MAX_INTERMEDIATES }> =
            heapless::Vec::new();
        for c in certs {
            intermediates
                .push(c)
                .map_err(|_| Error::Malformed(WireError::TooMany))?;
        }
        let config = conn.config;
        if !config.skips_verification() {
            let now = validation_time(conn.now_unix, config.time_lower_bound)?;
            crypto::verify_server_chain(
                end_entity,
                &intermediates,
                config.trust_anchors,
                conn.server_name,
                now,
            )
            .map_err(Error::Certificate)?;
        }
        conn.end_entity = range_in(conn.rx, end_entity);
        conn.transcript.update(msg);
        // Keep the Certificate message in the buffer until CertificateVerify is checked.
        conn.hs_keep = start + total;
        conn.discard_hs = 0;
        Ok((State::WaitCertificateVerify(self), None))
    }

    #[inline(never)]
    fn certificate_verify<R>(
        self,
        conn: &mut Connection<'_, R>,
        start: usize,
        total: usize,
    ) -> Step {
        let (msg, body) = message(conn.rx, start, total)?;
        let cv = CertificateVerify::parse(body)?;
        let scheme = SignatureScheme::from_u16(cv.scheme)
            .filter(|s| SignatureScheme::OFFERED.contains(s))
            .ok_or(Error::Illegal(Violation::SignatureSchemeNotOffered))?;
        if !conn.config.skips_verification() {
            let th = conn.transcript.current_hash();
            let (a, b) = conn.end_entity;
            let ee = conn.rx.get(a..b).ok_or(Error::UnexpectedMessage)?;
            crypto::verify_certificate_verify(ee, scheme, th.as_bytes(), cv.signature)
                .map_err(|_| Error::BadCertificateVerify)?;
        }
        conn.transcript.update(msg);
        conn.release_kept();
        Ok((State::WaitFinished(self), None))
    }

    #[inline(never)]
    fn finished<R>(self, conn: &mut Connection<'_, R>, start: usize, total: usize) -> Step {
        let (msg, body) = message(conn.rx, start, total)?;
        let hash = self.suite.hash();
        let th = conn.transcript.current_hash();
        let expected =
            crypto::finished_verify_data(hash, conn.secrets.server_hs.as_bytes(), th.as_bytes());
        if !expected.ct_eq(body) {
            return Err(Error::BadFinished);
        }
        conn.transcript.update(msg);
        if conn.handshake_bytes_after(start, total) {
            return Err(Error::UnexpectedMessage);
        }
        let th = conn.transcript.current_hash();
        {
            let schedule = &mut conn.secrets.schedule;
            if schedule.is_empty() {
                return Err(Error::UnexpectedMessage);
            }
            schedule.advance_to_master();
            conn.secrets.client_ap = schedule.client_application_traffic_secret_0(th.as_bytes());
            conn.secrets.server_ap = schedule.server_application_traffic_secret_0(th.as_bytes());
        }
        conn.read_key = RecordProtection::new(self.suite, conn.secrets.server_ap.as_bytes())?;

        conn.maybe_send_ccs()?;
        // The client's flight goes in one record: fewer bytes on the wire.
        let body_at = conn.tx_len + HEADER_LEN;
        let mut len = 0;
        // Without a client Certificate the transcript has not moved since the server's
        // Finished.
        let th = match &self.cert_request {
            Some(cr) => {
                len += client_certificate(conn, body_at, cr)?;
                conn.transcript.current_hash()
            }
            None => th,
        };
        let verify =
            crypto::finished_verify_data(hash, conn.secrets.client_hs.as_bytes(), th.as_bytes());
        let at = body_at + len;
        let out = conn.tx.get_mut(at..).ok_or(Error::BufferTooSmall)?;
        let mut w = Writer::new(out);
        hs::emit_header(&mut w, msg_type::FINISHED, verify.len())?;
        w.put(verify.as_bytes())?;
        let n = w.len();
        conn.transcript
            .update(conn.tx.get(at..at + n).ok_or(Error::BufferTooSmall)?);
        len += n;
        conn.seal_handshake(len)?;
        conn.write_key = RecordProtection::new(self.suite, conn.secrets.client_ap.as_bytes())?;
        let th = conn.transcript.current_hash();
        conn.secrets.resumption_master = conn
            .secrets
            .schedule
            .resumption_master_secret(th.as_bytes());
        // The Master Secret and the handshake traffic secrets have served (E7).
        {
            use zeroize::Zeroize;
            conn.secrets.schedule = KeySchedule::empty();
            conn.secrets.client_hs.zeroize();
            conn.secrets.server_hs.zeroize();
        }
        let summary = HandshakeSummary {
            resumed: self.kex != KeyExchangeMode::Full,
            kex: self.kex,
            suite: self.suite,
            offer_declined: self.offer_declined,
            retried: self.retried,
        };
        conn.summary = Some(summary);
        Ok((State::Connected, Some(Ev::Complete(summary))))
    }
}

/// The time certificates are checked at (E6): the later of the wall clock and the configured
/// lower bound, so that a clock rolled back behind the firmware's build date cannot revive
/// an expired certificate; either alone when only one is known; without both, verification
/// fails closed.
fn validation_time(now: Option<u64>, floor: Option<u64>) -> Result<u64, Error> {
    match (now, floor) {
        (Some(n), Some(f)) => Ok(n.max(f)),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(Error::NoWallClock),
    }
}

/// Writes the client's Certificate (and CertificateVerify when a signer fits the server's
/// signature_algorithms) at `tx[at..]`, adding both to the transcript (RFC 8446 §4.4.2).
fn client_certificate<R>(
    conn: &mut Connection<'_, R>,
    at: usize,
    cr: &CertRequest,
) -> Result<usize, Error> {
    let signer = if cr.use_signer {
        conn.config.client_auth
    } else {
        None
    };
    let chain: &[&[u8]] = signer.map(|s| s.certificate_chain()).unwrap_or(&[]);
    let out = conn.tx.get_mut(at..).ok_or(Error::BufferTooSmall)?;
    let mut w = Writer::new(out);
    w.u8(msg_type::CERTIFICATE)?;
    let m = w.begin_len(3)?;
    // certificate_request_context: empty, as the server's was.
    w.u8(0)?;
    let list = w.begin_len(3)?;
    for cert in chain {
        let e = w.begin_len(3)?;
        w.put(cert)?;
        w.end_len(e)?;
        w.u16(0)?;
    }
    w.end_len(list)?;
    w.end_len(m)?;
    let cert_len = w.len();
    conn.transcript.update(
        conn.tx
            .get(at..at + cert_len)
            .ok_or(Error::BufferTooSmall)?,
    );
    let Some(signer) = signer.filter(|_| !chain.is_empty()) else {
        return Ok(cert_len);
    };
    let th = conn.transcript.current_hash();
    let mut content = [0u8; crypto::CERTIFICATE_VERIFY_CONTENT_MAX];
    let content = crypto::certificate_verify_content(false, th.as_bytes(), &mut content);
    let cv_at = at + cert_len;
    // type(1) length(3) scheme(2) signature length(2), then the signature.
    let sig_at = cv_at + 8;
    let sig_out = conn.tx.get_mut(sig_at..).ok_or(Error::BufferTooSmall)?;
    let sig_len = signer.sign(content, sig_out)?;
    let head = conn
        .tx
        .get_mut(cv_at..sig_at)
        .ok_or(Error::BufferTooSmall)?;
    let mut w = Writer::new(head);
    hs::emit_header(&mut w, msg_type::CERTIFICATE_VERIFY, 4 + sig_len)?;
    w.u16(signer.scheme().to_u16())?;
    w.u16(u16::try_from(sig_len).map_err(|_| Error::BufferTooSmall)?)?;
    let cv_len = 8 + sig_len;
    conn.transcript.update(
        conn.tx
            .get(cv_at..cv_at + cv_len)
            .ok_or(Error::BufferTooSmall)?,
    );
    Ok(cert_len + cv_len)
}

/// Post-handshake messages (RFC 8446 §4.6).
#[inline(never)]
fn connected<R: rand_core::CryptoRng>(
    conn: &mut Connection<'_, R>,
    ty: u8,
    start: usize,
    total: usize,
) -> Step {
    let (_, body) = message(conn.rx, start, total)?;
    match ty {
        msg_type::NEW_SESSION_TICKET => {
            let t = NewSessionTicket::parse(body)?;
            // RFC 8446 §4.6.1: servers must not use a lifetime over seven days. Only this
            // ticket is spoiled: it is dropped and counted, and the connection goes on.
            if t.lifetime > hs::MAX_TICKET_LIFETIME {
                conn.tickets_skipped = conn.tickets_skipped.saturating_add(1);
                return Ok((State::Connected, None));
            }
            let suite = conn.suite.ok_or(Error::UnexpectedMessage)?;
            // Lent to the caller from its one place; wiped at the next `process` (E7).
            conn.secrets.ticket_psk = crypto::resumption_psk(
                suite.hash(),
                conn.secrets.resumption_master.as_bytes(),
                t.nonce,
            );
            let ev = Ev::Ticket {
                ticket: range_in(conn.rx, t.ticket),
                nonce: range_in(conn.rx, t.nonce),
                lifetime_s: t.lifetime,
                age_add: t.age_add,
                max_early_data: t.max_early_data,
            };
            Ok((State::Connected, Some(ev)))
        }
        msg_type::KEY_UPDATE => {
            let requested = hs::parse_key_update(body)?;
            if conn.handshake_bytes_after(start, total) {
                return Err(Error::UnexpectedMessage);
            }
            let suite = conn.suite.ok_or(Error::UnexpectedMessage)?;
            // Assigning drops the old secret and key in place, and both wipe themselves (E7).
            conn.secrets.server_ap =
                crypto::next_traffic_secret(suite.hash(), conn.secrets.server_ap.as_bytes());
            conn.read_key = RecordProtection::new(suite, conn.secrets.server_ap.as_bytes())?;
            // RFC 8446 §4.6.3: answer update_requested with our own KeyUpdate before our next
            // application data. One answer covers every request received while we stay
            // silent, so a flood of requests queues one KeyUpdate, not one each.
            if requested && !conn.close_sent && !conn.key_update_answered {
                conn.state = State::Connected;
                conn.send_key_update(false)?;
                conn.key_update_answered = true;
            }
            Ok((State::Connected, None))
        }
        _ => Err(Error::UnexpectedMessage),
    }
}
