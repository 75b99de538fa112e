//! The record layer: events out of opened records, protecting what is sent (application data, alerts, KeyUpdate, the client's flight in record-sized pieces), opening and routing what is received (RFC 8446 §5).

use super::*;

impl<'a, R, const T: usize> Connection<'a, R, T> {
    pub(super) fn to_event(&self, ev: Ev) -> Event<'_> {
        let slice = |(a, b): (usize, usize)| self.rx.get(a..b).unwrap_or(&[]);
        match ev {
            Ev::Complete(s) => Event::HandshakeComplete(s),
            Ev::Data(a, b) => Event::ApplicationData(slice((a, b))),
            Ev::Closed => Event::Closed,
            Ev::Ticket {
                ticket,
                nonce,
                suite,
                lifetime_s,
                age_add,
                max_early_data,
            } => Event::NewTicket(NewTicket {
                ticket: slice(ticket),
                nonce: slice(nonce),
                psk: &self.secrets.ticket_psk,
                suite,
                lifetime_s,
                age_add,
                max_early_data,
            }),
        }
    }

    /// Encrypts as much of `data` as fits into one record and the transmit buffer; returns
    /// how many bytes were taken (0 for empty `data`, or when the transmit buffer is full: send,
    /// then retry).
    pub fn write(&mut self, data: &[u8]) -> Result<usize, Error> {
        if !matches!(self.state, State::Connected(_)) || self.close_sent {
            return Err(if self.state.is_handshaking() {
                Error::NotConnected
            } else {
                Error::Closed
            });
        }
        let room = self
            .tx
            .len()
            .saturating_sub(self.tx_len + HEADER_LEN + PROTECTED_OVERHEAD);
        let n = data.len().min(self.peer_max_fragment).min(room);
        // Nothing to write makes no record (an empty one would need room it may not have:
        // found by the engine_keyed fuzz target with a full transmit buffer).
        if n == 0 {
            return Ok(0);
        }
        let start = self.tx_len + HEADER_LEN;
        let dst = self
            .tx
            .get_mut(start..start + n)
            .ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(data.get(..n).ok_or(Error::BufferTooSmall)?);
        self.seal(content_type::APPLICATION_DATA, n)?;
        self.key_update_answered = false;
        Ok(n)
    }

    /// Queues close_notify (RFC 8446 §6.1). Nothing may be written afterwards; received
    /// data is still delivered.
    pub fn close(&mut self) -> Result<(), Error> {
        if self.close_sent || matches!(self.state, State::Failed) {
            return Ok(());
        }
        self.send_alert(AlertLevel::Warning, AlertDescription::CLOSE_NOTIFY)?;
        self.close_sent = true;
        Ok(())
    }

    /// Queues a fatal alert and fails the connection (for example when the application
    /// rejects the negotiated ALPN).
    pub fn send_fatal_alert(&mut self, description: AlertDescription) -> Result<(), Error> {
        if matches!(self.state, State::Failed) {
            return Err(Error::Closed);
        }
        let r = self.send_alert(AlertLevel::Fatal, description);
        self.state = State::Failed;
        self.wipe_secrets();
        r
    }

    /// Asks for fresh traffic keys in both directions (RFC 8446 §4.6.3).
    pub fn request_key_update(&mut self) -> Result<(), Error> {
        if !matches!(self.state, State::Connected(_)) || self.close_sent {
            return Err(Error::NotConnected);
        }
        self.send_key_update(true)
    }

    /// The alert, if one is due, is sealed first; then nothing needs a secret any more (E7).
    pub(super) fn fail(&mut self, e: Error) {
        if let Some(alert) = e.alert() {
            let _ = self.send_alert(AlertLevel::Fatal, alert);
        }
        self.state = State::Failed;
        self.wipe_secrets();
    }

    pub(super) fn send_alert(
        &mut self,
        level: AlertLevel,
        desc: AlertDescription,
    ) -> Result<(), Error> {
        let out = self
            .tx
            .get_mut(self.tx_len + HEADER_LEN..)
            .ok_or(Error::BufferTooSmall)?;
        let len = Alert {
            level: level.to_u8(),
            description: desc,
        }
        .emit(out)?;
        self.seal(content_type::ALERT, len)
    }

    pub(crate) fn send_key_update(&mut self, request: bool) -> Result<(), Error> {
        let out = self
            .tx
            .get_mut(self.tx_len + HEADER_LEN..)
            .ok_or(Error::BufferTooSmall)?;
        let len = KeyUpdate {
            request_update: request,
        }
        .emit(out)?;
        let State::Connected(Connected { suite }) = self.state else {
            return Err(Error::UnexpectedMessage);
        };
        self.seal(content_type::HANDSHAKE, len)?;
        // Assigning drops the old secret and key in place, and both wipe themselves (E7).
        self.secrets.client_ap =
            crypto::next_traffic_secret(suite.hash(), self.secrets.client_ap.as_bytes());
        self.write_key = RecordProtection::new(suite, self.secrets.client_ap.as_bytes())?;
        Ok(())
    }

    /// Turns the `len` bytes at `tx[tx_len + 5..]` into a record: protected with the write
    /// key when there is one (RFC 8446 §5.2: the content type after the data, a tag after
    /// that, and application_data outside, as the header the tag covers says), plaintext
    /// before.
    pub(crate) fn seal(&mut self, ty: u8, len: usize) -> Result<(), Error> {
        let start = self.tx_len;
        let body = start + HEADER_LEN;
        let key = self.write_key.keyed_mut();
        let (outer_type, body_len) = if key.is_some() {
            (content_type::APPLICATION_DATA, len + PROTECTED_OVERHEAD)
        } else {
            (ty, len)
        };
        let end = body + body_len;
        if end > self.tx.len() {
            return Err(Error::BufferTooSmall);
        }
        let hdr = RecordHeader {
            content_type: outer_type,
            legacy_version: hs::LEGACY_VERSION,
            length: u16::try_from(body_len).map_err(|_| Error::BufferTooSmall)?,
        }
        .to_bytes();
        if let Some(key) = key {
            let inner = len + 1;
            let data = self
                .tx
                .get_mut(body..body + inner)
                .ok_or(Error::BufferTooSmall)?;
            if let Some(last) = data.last_mut() {
                *last = ty;
            }
            let tag = key.encrypt(&hdr, data)?;
            let tag_dst = self
                .tx
                .get_mut(body + inner..end)
                .ok_or(Error::BufferTooSmall)?;
            tag_dst.copy_from_slice(&tag);
        }
        let dst = self.tx.get_mut(start..body).ok_or(Error::BufferTooSmall)?;
        dst.copy_from_slice(&hdr);
        self.tx_len = end;
        Ok(())
    }

    /// Like [`Connection::seal`] for handshake bytes that may exceed the peer's record
    /// limit (a client certificate chain under max_fragment_length or record_size_limit):
    /// the plaintext moves to the end of the buffer and is sealed in record-sized pieces.
    pub(crate) fn seal_handshake(&mut self, len: usize) -> Result<(), Error> {
        let max = self.peer_max_fragment.max(1);
        if len <= max {
            return self.seal(content_type::HANDSHAKE, len);
        }
        let pieces = len.div_ceil(max);
        let overhead = pieces * (HEADER_LEN + PROTECTED_OVERHEAD);
        let src_at = self
            .tx
            .len()
            .checked_sub(len)
            .ok_or(Error::BufferTooSmall)?;
        if self.tx_len + len + overhead > self.tx.len() {
            return Err(Error::BufferTooSmall);
        }
        let body = self.tx_len + HEADER_LEN;
        move_bytes(self.tx, body..body + len, src_at);
        let mut done = 0;
        while done < len {
            let n = max.min(len - done);
            let from = src_at + done;
            let to = self.tx_len + HEADER_LEN;
            move_bytes(self.tx, from..from + n, to);
            self.seal(content_type::HANDSHAKE, n)?;
            done += n;
        }
        Ok(())
    }

    /// Queues a change_cipher_spec record once, in middlebox compatibility mode (RFC 8446 §D.4).
    pub(crate) fn maybe_send_ccs(&mut self) -> Result<(), Error> {
        if !self.config.middlebox_compat || self.ccs_sent {
            return Ok(());
        }
        let out = self
            .tx
            .get_mut(self.tx_len..)
            .ok_or(Error::BufferTooSmall)?;
        self.tx_len += ChangeCipherSpec.emit(out)?;
        self.ccs_sent = true;
        Ok(())
    }

    /// Handles one complete record at the start of the raw region.
    pub(super) fn open_record(&mut self, hdr: RecordHeader) -> Result<Option<Ev>, Error> {
        let rec_start = self.hs_len;
        let body = rec_start + HEADER_LEN;
        let total = hdr.total_len();
        let body_len = usize::from(hdr.length);
        match hdr.content_type {
            content_type::CHANGE_CIPHER_SPEC => {
                // Ignored during the handshake only, and only in its one legal form (RFC 8446 §5),
                // and never inside a fragmented handshake message (§5.1).
                let b = self.rx.get(body..body + body_len).unwrap_or(&[]);
                if !self.state.is_handshaking()
                    || !ChangeCipherSpec::is_legal(b)
                    || self.handshake_message_partial()
                {
                    return Err(Error::UnexpectedMessage);
                }
                self.discard_raw = total;
                Ok(None)
            }
            content_type::APPLICATION_DATA => {
                let key = self.read_key.keyed_mut().ok_or(Error::UnexpectedMessage)?;
                if body_len < PROTECTED_OVERHEAD {
                    return Err(Error::Malformed(crate::wire::WireError::BadLength));
                }
                let ct_len = body_len - crypto::TAG_LEN;
                let mut tag = [0u8; crypto::TAG_LEN];
                tag.copy_from_slice(
                    self.rx
                        .get(body + ct_len..body + body_len)
                        .ok_or(Error::BufferTooSmall)?,
                );
                let aad = hdr.to_bytes();
                let data = self
                    .rx
                    .get_mut(body..body + ct_len)
                    .ok_or(Error::BufferTooSmall)?;
                key.decrypt(&aad, data, &tag)?;
                // The whole TLSInnerPlaintext (content, type and padding) is bounded: 2^14 + 1
                // (RFC 8446 §5.4), or the record_size_limit we announced (RFC 8449 §4).
                if ct_len > self.own_max_fragment + 1 {
                    return Err(Error::Illegal(Violation::RecordTooLong));
                }
                // Strip zero padding; the last non-zero byte is the real type (RFC 8446 §5.4).
                let pos = data
                    .iter()
                    .rposition(|b| *b != 0)
                    .ok_or(Error::UnexpectedMessage)?;
                let inner_type = data.get(pos).copied().unwrap_or(0);
                self.deliver(inner_type, body, pos, total)
            }
            ty => {
                if self.read_key.is_keyed() {
                    return Err(Error::UnexpectedMessage);
                }
                self.deliver(ty, body, body_len, total)
            }
        }
    }

    /// Routes a plaintext fragment at `rx[at..at + len]` of a record of `total` bytes.
    pub(super) fn deliver(
        &mut self,
        ty: u8,
        at: usize,
        len: usize,
        total: usize,
    ) -> Result<Option<Ev>, Error> {
        // RFC 8446 §5.1: no record of another type between the fragments of a handshake
        // message.
        if ty != content_type::HANDSHAKE && self.handshake_message_partial() {
            return Err(Error::UnexpectedMessage);
        }
        match ty {
            content_type::HANDSHAKE => {
                if len == 0 {
                    return Err(Error::UnexpectedMessage);
                }
                if matches!(self.state, State::Closed) {
                    self.discard_raw = total;
                    return Ok(None);
                }
                // The tail of a ticket too large to hold is dropped; what follows it in the
                // record is the next message.
                let skipped = self.skip_hs.min(len);
                self.skip_hs -= skipped;
                let (at, len) = (at + skipped, len - skipped);
                if len == 0 {
                    self.discard_raw = total;
                    return Ok(None);
                }
                // Append the fragment to the handshake region, then close the gap.
                let used = self.hs_len + self.raw_len;
                move_bytes(self.rx, at..at + len, self.hs_len);
                move_bytes(self.rx, self.hs_len + total..used, self.hs_len + len);
                self.hs_len += len;
                self.raw_len = self.raw_len.saturating_sub(total);
                Ok(None)
            }
            content_type::ALERT => {
                let body = self.rx.get(at..at + len).unwrap_or(&[]);
                let alert = Alert::parse(body)?;
                self.discard_raw = total;
                if alert.description == AlertDescription::CLOSE_NOTIFY {
                    self.close_received = true;
                    if !self.close_sent {
                        self.close()?;
                    }
                    // RFC 8446 §6.1: the server sends nothing more, so a handshake cannot
                    // complete; our close_notify (queued) answers it.
                    if self.state.is_handshaking() {
                        self.state = State::Failed;
                        return Err(Error::ClosedDuringHandshake);
                    }
                    self.state = State::Closed;
                    // Nothing more is read or written: no secret has a use left (E7).
                    self.wipe_secrets();
                    return Ok(Some(Ev::Closed));
                }
                if alert.description == AlertDescription::USER_CANCELED {
                    return Ok(None);
                }
                let refused = matches!(self.state, State::WaitServerHello(_));
                self.state = State::Failed;
                Err(if refused {
                    Error::HelloRefused(alert.description)
                } else {
                    Error::AlertReceived(alert.description)
                })
            }
            content_type::APPLICATION_DATA => {
                if !matches!(self.state, State::Connected(_)) {
                    return Err(Error::UnexpectedMessage);
                }
                self.discard_raw = total;
                Ok(Some(Ev::Data(at, at + len)))
            }
            _ => Err(Error::UnexpectedMessage),
        }
    }
}
