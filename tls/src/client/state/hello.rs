//! ClientHello (the first, and the second after HelloRetryRequest) and the ServerHello: offer, key shares, binders, the server's choices (C28, C30, C31, RFC 8446 §4.1).

use super::*;

pub(crate) struct HelloInputs<'x> {
    pub(crate) config: &'x ClientConfig<'x>,
    pub(crate) psk_mode: PskMode,
    pub(crate) server_name: &'x str,
    pub(crate) offer: Option<ResumptionOffer<'x>>,
    pub(crate) random: &'x [u8; 32],
    pub(crate) session_id: &'x [u8],
    pub(crate) suites: &'x [u16],
}

/// The ClientHello `inp` makes, handed to `f`: the one place that decides what a
/// ClientHello carries, for writing it and for sizing the transmit buffer
/// ([`crate::client::BufferSizes`]).
pub(crate) fn with_client_hello<O>(
    inp: &HelloInputs<'_>,
    key_share: Option<(u16, &[u8])>,
    cookie: Option<&[u8]>,
    f: impl FnOnce(&ClientHello<'_>) -> O,
) -> Result<O, Error> {
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
        obfuscated_ticket_age: o.obfuscated_age,
        binder_len: o.suite.hash().output_len(),
    });
    Ok(f(&ClientHello {
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
    }))
}

/// Queues a ClientHello built from the connection: its key share (if any), its offer (only
/// one whose hash is `offer_hash`, when given: the suite a HelloRetryRequest chose), and the
/// cookie at `cookie` in the receive buffer.
///
/// Always inlined, so each of its two callers builds the hello in its own frame: called as a
/// function shared by both, it left 2.8 KB more stack under a resumption on the Cortex-M4
/// (measured by `cargo xtask demo`).
#[inline(always)]
pub(super) fn queue_client_hello<R, const T: usize>(
    conn: &mut Connection<'_, R, T>,
    offer_hash: Option<HashAlg>,
    cookie: Option<(usize, usize)>,
    record_version: u16,
) -> Result<(), Error> {
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
        offer: conn
            .offer
            .get()
            .filter(|o| offer_hash.is_none_or(|h| o.suite.hash() == h)),
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
        record_version,
    )
}

/// Writes a ClientHello record (with its PSK binder, RFC 8446 §4.2.11.2) and adds it to the
/// transcript. Leaves the Early Secret of the offered PSK, if any, in `early` (made there,
/// E7); without an offer, whatever `early` held is dropped, and so wiped, and it is left
/// empty.
#[allow(clippy::too_many_arguments)] // the disjoint parts of the connection it writes
pub(super) fn write_client_hello(
    tx: &mut [u8],
    tx_len: &mut usize,
    transcript: &mut Transcript,
    early: &mut KeySchedule,
    inp: &HelloInputs<'_>,
    key_share: Option<(u16, &[u8])>,
    cookie: Option<&[u8]>,
    record_version: u16,
) -> Result<(), Error> {
    let rec = *tx_len;
    let body = rec + HEADER_LEN;
    let out = tx.get_mut(body..).ok_or(Error::BufferTooSmall)?;
    let emitted = with_client_hello(inp, key_share, cookie, |hello| hello.emit(&mut *out))??;
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

impl<R: rand_core::CryptoRng, const T: usize> Connection<'_, R, T> {
    #[inline(never)]
    pub(super) fn server_hello(&mut self, state: WaitServerHello, at: Span) -> Step {
        let (msg, body) = at.parts(self.rx)?;
        let sh = ServerHello::parse(body)?;
        match sh.selected_version {
            None => return Err(Error::ProtocolVersion),
            Some(hs::TLS13) => {}
            Some(_) => return Err(Error::Malformed(WireError::IllegalValue)),
        }
        if sh.session_id != self.session_id.get(..self.session_id_len).unwrap_or(&[]) {
            return Err(Error::Illegal(Violation::SessionIdMismatch));
        }
        let suite = CipherSuite::from_u16(sh.cipher_suite)
            .filter(|s| self.suites.contains(&s.to_u16()))
            .ok_or(Error::Illegal(Violation::SuiteNotOffered))?;
        if sh.is_retry_request {
            let group = sh.key_share.map(|(g, _)| g);
            let cookie = sh.cookie.map(|c| range_in(self.rx, c));
            return self.hello_retry_request(state, group, cookie, suite, at);
        }
        if let Some(rs) = state.retry_suite {
            if rs != suite {
                return Err(Error::Illegal(Violation::SuiteChangedAfterRetry));
            }
        }
        // C31: the selected identity must be the one offered, with a suite of its hash. An
        // offer withdrawn from ClientHello2 (see `retry`) was not offered.
        let retry_hash = state.retry_suite.map(|rs| rs.hash());
        let psk = match sh.selected_identity {
            None => None,
            Some(i) => {
                let offer = self
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
        if psk.is_some() && sh.key_share.is_some() && self.psk_mode == PskMode::AllowPskOnly {
            return Err(Error::Illegal(Violation::PskDheNotOffered));
        }
        let dhe = match (sh.key_share, self.secrets.kx.get()) {
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
                if self.psk_mode != PskMode::AllowPskOnly {
                    return Err(Error::MissingKeyShare);
                }
                None
            }
        };
        // The private key served its one exchange: dropped where it lies, it wipes itself.
        self.secrets.kx = KeyShare::none();
        let kex = match (psk.is_some(), dhe.is_some()) {
            (false, _) => KeyExchangeMode::Full,
            (true, true) => KeyExchangeMode::PskDhe,
            (true, false) => KeyExchangeMode::Psk,
        };
        let hash = suite.hash();
        self.transcript.select(hash);
        self.transcript.update(msg);
        if self.handshake_bytes_after(at) {
            return Err(Error::UnexpectedMessage);
        }
        let psk_accepted = psk.is_some();
        // The Early Secret of an accepted PSK was already computed for its binder; any other
        // (a declined offer's) is replaced where it lies.
        let schedule = &mut self.secrets.schedule;
        if !(psk_accepted && !schedule.is_empty() && schedule.hash() == hash) {
            schedule.set_early(hash, psk);
        }
        schedule.advance_to_handshake(dhe.as_ref().map(|s| s.as_bytes()));
        let th = self.transcript.current_hash();
        self.secrets.client_hs = schedule.client_handshake_traffic_secret(th.as_bytes());
        self.secrets.server_hs = schedule.server_handshake_traffic_secret(th.as_bytes());
        // No later ClientHello will carry the PSK: its copy has served (E7).
        {
            use zeroize::Zeroize;
            self.offer.psk.zeroize();
        }
        self.read_key = RecordProtection::new(suite, self.secrets.server_hs.as_bytes())?;
        self.write_key = RecordProtection::new(suite, self.secrets.client_hs.as_bytes())?;
        let next = Negotiated {
            suite,
            kex,
            offer_declined: self.offer.is_some() && !psk_accepted,
            retried: state.retry_suite.is_some(),
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
    fn hello_retry_request(
        &mut self,
        state: WaitServerHello,
        hrr_group: Option<u16>,
        cookie: Option<(usize, usize)>,
        suite: CipherSuite,
        at: Span,
    ) -> Step {
        if state.retry_suite.is_some() {
            return Err(Error::UnexpectedMessage);
        }
        let requested = match hrr_group {
            None => None,
            Some(g) => {
                let group = NamedGroup::from_u16(g)
                    .filter(|g| self.config.groups.contains(g))
                    .ok_or(Error::Illegal(Violation::RetryGroupInvalid))?;
                if self.secrets.kx.get().map(|k| k.group()) == Some(group) {
                    return Err(Error::Illegal(Violation::RetryGroupInvalid));
                }
                Some(group)
            }
        };
        if requested.is_none() && cookie.is_none() {
            return Err(Error::Illegal(Violation::RetryChangesNothing));
        }
        if self.handshake_bytes_after(at) {
            return Err(Error::UnexpectedMessage);
        }
        let hash: HashAlg = suite.hash();
        self.transcript.select(hash);
        self.transcript.replace_with_message_hash(hash);
        let (msg, _) = at.parts(self.rx)?;
        self.transcript.update(msg);
        if let Some(g) = requested {
            // The first key share is dropped where it lies (and so wiped) as the new one
            // takes its place.
            self.secrets.kx = KeyShare::Key(KeyExchange::generate(g, &mut self.rng)?);
        }
        self.maybe_send_ccs()?;
        queue_client_hello(self, Some(hash), cookie, hs::LEGACY_VERSION)?;
        Ok((
            State::WaitServerHello(WaitServerHello {
                retry_suite: Some(suite),
            }),
            None,
        ))
    }
}
