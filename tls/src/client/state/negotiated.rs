//! From EncryptedExtensions to the server Finished: extensions answered (R3), the server's chain and CertificateVerify (C32, R6, E6), the client's own certificate, the client flight.

use super::*;

impl<R, const T: usize> Connection<'_, R, T> {
    #[inline(never)]
    pub(super) fn encrypted_extensions(&mut self, hs: Negotiated, at: Span) -> Step {
        let (msg, body) = at.parts(self.rx)?;
        let ee = EncryptedExtensions::parse(body)?;
        if ee.early_data {
            return Err(Error::Illegal(Violation::EarlyDataNotOffered));
        }
        let config = self.config;
        // RFC 8446 §4.2: an extension response without the request is unsupported_extension;
        // no server_name is sent for an IP literal.
        if ee.server_name_ack && !sends_server_name(self.server_name) {
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
            self.alpn_index = Some(i);
        }
        let mut own = crate::wire::record::MAX_PLAINTEXT;
        match (ee.max_fragment_length, config.max_fragment_length) {
            (None, _) => {}
            (Some(code), Some(m)) if code == m.code() => {
                self.peer_max_fragment = self.peer_max_fragment.min(m.bytes());
                own = own.min(m.bytes());
            }
            (Some(_), _) => return Err(Error::Illegal(Violation::MaxFragmentLengthMismatch)),
        }
        if let Some(limit) = ee.record_size_limit {
            let ours = config
                .record_size_limit
                .ok_or(Error::Illegal(Violation::RecordSizeLimitNotOffered))?;
            // The limit counts the inner content type (RFC 8449 §4).
            self.peer_max_fragment = self
                .peer_max_fragment
                .min(usize::from(limit).saturating_sub(1));
            own = own.min(usize::from(ours).saturating_sub(1));
        }
        self.own_max_fragment = own;
        self.transcript.update(msg);
        let next = if hs.kex == KeyExchangeMode::Full {
            State::WaitCertificateOrRequest(hs)
        } else {
            State::WaitFinished(WaitFinished {
                hs,
                cert_request: None,
            })
        };
        Ok((next, None))
    }

    pub(super) fn certificate_request(&mut self, hs: Negotiated, at: Span) -> Step {
        let (msg, body) = at.parts(self.rx)?;
        let cr = CertificateRequest::parse(body)?;
        // RFC 8446 §4.3.2: the context is empty unless used for post-handshake
        // authentication, which this client does not offer.
        if !cr.context.is_empty() {
            return Err(Error::Illegal(Violation::CertificateRequestContextNotEmpty));
        }
        let use_signer = self
            .config
            .client_auth
            .is_some_and(|s| cr.accepts(s.scheme().to_u16()));
        self.transcript.update(msg);
        let next = WaitCertificate {
            hs,
            cert_request: CertRequest { use_signer },
        };
        Ok((State::WaitCertificate(next), None))
    }

    /// The server's Certificate, after a CertificateRequest (`cert_request`) or without.
    #[inline(never)]
    pub(super) fn certificate(
        &mut self,
        hs: Negotiated,
        cert_request: Option<CertRequest>,
        at: Span,
    ) -> Step {
        let (msg, body) = at.parts(self.rx)?;
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
        let config = self.config;
        if !config.skips_verification() {
            let now = validation_time(self.now_unix, config.time_lower_bound)?;
            crypto::verify_server_chain(
                end_entity,
                &intermediates,
                config.trust_anchors,
                self.server_name,
                now,
            )
            .map_err(Error::Certificate)?;
        }
        self.end_entity = range_in(self.rx, end_entity);
        self.transcript.update(msg);
        // Keep the Certificate message in the buffer until CertificateVerify is checked.
        self.hs_keep = at.end();
        self.discard_hs = 0;
        let next = WaitCertificateVerify { hs, cert_request };
        Ok((State::WaitCertificateVerify(next), None))
    }

    #[inline(never)]
    pub(super) fn certificate_verify(&mut self, state: WaitCertificateVerify, at: Span) -> Step {
        let (msg, body) = at.parts(self.rx)?;
        let cv = CertificateVerify::parse(body)?;
        let scheme = SignatureScheme::from_u16(cv.scheme)
            .filter(|s| SignatureScheme::OFFERED.contains(s))
            .ok_or(Error::Illegal(Violation::SignatureSchemeNotOffered))?;
        if !self.config.skips_verification() {
            let th = self.transcript.current_hash();
            let (a, b) = self.end_entity;
            let ee = self.rx.get(a..b).ok_or(Error::UnexpectedMessage)?;
            crypto::verify_certificate_verify(ee, scheme, th.as_bytes(), cv.signature)
                .map_err(|_| Error::BadCertificateVerify)?;
        }
        self.transcript.update(msg);
        self.release_kept();
        let next = WaitFinished {
            hs: state.hs,
            cert_request: state.cert_request,
        };
        Ok((State::WaitFinished(next), None))
    }

    #[inline(never)]
    pub(super) fn server_finished(&mut self, state: WaitFinished, at: Span) -> Step {
        let (msg, body) = at.parts(self.rx)?;
        let hs = &state.hs;
        let hash = hs.suite.hash();
        let th = self.transcript.current_hash();
        let expected =
            crypto::finished_verify_data(hash, self.secrets.server_hs.as_bytes(), th.as_bytes());
        if !expected.ct_eq(body) {
            return Err(Error::BadFinished);
        }
        self.transcript.update(msg);
        if self.handshake_bytes_after(at) {
            return Err(Error::UnexpectedMessage);
        }
        let th = self.transcript.current_hash();
        {
            let schedule = &mut self.secrets.schedule;
            if schedule.is_empty() {
                return Err(Error::UnexpectedMessage);
            }
            schedule.advance_to_master();
            self.secrets.client_ap = schedule.client_application_traffic_secret_0(th.as_bytes());
            self.secrets.server_ap = schedule.server_application_traffic_secret_0(th.as_bytes());
        }
        self.read_key = RecordProtection::new(hs.suite, self.secrets.server_ap.as_bytes())?;

        self.maybe_send_ccs()?;
        // The client's flight goes in one record: fewer bytes on the wire.
        let body_at = self.tx_len + HEADER_LEN;
        let mut len = 0;
        // Without a client Certificate the transcript has not moved since the server's
        // Finished.
        let th = match &state.cert_request {
            Some(cr) => {
                len += client_certificate(self, body_at, cr)?;
                self.transcript.current_hash()
            }
            None => th,
        };
        let verify =
            crypto::finished_verify_data(hash, self.secrets.client_hs.as_bytes(), th.as_bytes());
        let fin_at = body_at + len;
        let out = self.tx.get_mut(fin_at..).ok_or(Error::BufferTooSmall)?;
        let n = Finished {
            verify_data: verify.as_bytes(),
        }
        .emit(out)?;
        self.transcript.update(
            self.tx
                .get(fin_at..fin_at + n)
                .ok_or(Error::BufferTooSmall)?,
        );
        len += n;
        self.seal_handshake(len)?;
        self.write_key = RecordProtection::new(hs.suite, self.secrets.client_ap.as_bytes())?;
        let th = self.transcript.current_hash();
        self.secrets.resumption_master = self
            .secrets
            .schedule
            .resumption_master_secret(th.as_bytes());
        // The Master Secret and the handshake traffic secrets have served (E7).
        {
            use zeroize::Zeroize;
            self.secrets.schedule = KeySchedule::empty();
            self.secrets.client_hs.zeroize();
            self.secrets.server_hs.zeroize();
        }
        let summary = HandshakeSummary {
            resumed: hs.kex != KeyExchangeMode::Full,
            kex: hs.kex,
            suite: hs.suite,
            offer_declined: hs.offer_declined,
            retried: hs.retried,
        };
        self.summary = Some(summary);
        let next = Connected { suite: hs.suite };
        Ok((State::Connected(next), Some(Ev::Complete(summary))))
    }
}

/// The time certificates are checked at (E6): the later of the wall clock and the configured
/// lower bound, so that a clock rolled back behind the firmware's build date cannot revive
/// an expired certificate; either alone when only one is known; without both, verification
/// fails closed.
pub(super) fn validation_time(now: Option<u64>, floor: Option<u64>) -> Result<u64, Error> {
    match (now, floor) {
        (Some(n), Some(f)) => Ok(n.max(f)),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(Error::NoWallClock),
    }
}

/// Writes the client's Certificate (and CertificateVerify when a signer fits the server's
/// signature_algorithms) at `tx[at..]`, adding both to the transcript (RFC 8446 §4.4.2).
pub(super) fn client_certificate<R, const T: usize>(
    conn: &mut Connection<'_, R, T>,
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
    let cert_len = ClientCertificate { chain }.emit(out)?;
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
    // The signature is written in place, then what precedes it.
    let sig_at = cv_at + ClientCertificateVerify::SIGNATURE_AT;
    let sig_out = conn.tx.get_mut(sig_at..).ok_or(Error::BufferTooSmall)?;
    let sig_len = signer.sign(content, sig_out)?;
    let head = conn
        .tx
        .get_mut(cv_at..sig_at)
        .ok_or(Error::BufferTooSmall)?;
    let cv_len = ClientCertificateVerify {
        scheme: signer.scheme().to_u16(),
        signature_len: sig_len,
    }
    .emit_prefix(head)?;
    conn.transcript.update(
        conn.tx
            .get(cv_at..cv_at + cv_len)
            .ok_or(Error::BufferTooSmall)?,
    );
    Ok(cert_len + cv_len)
}
