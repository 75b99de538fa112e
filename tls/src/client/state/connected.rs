//! Post-handshake messages: NewSessionTicket (C27, R5) and KeyUpdate (RFC 8446 §4.6).

use super::*;

impl<R: rand_core::CryptoRng, const T: usize> Connection<'_, R, T> {
    /// Post-handshake messages (RFC 8446 §4.6).
    #[inline(never)]
    pub(super) fn post_handshake(&mut self, state: Connected, ty: u8, at: Span) -> Step {
        let (_, body) = at.parts(self.rx)?;
        match ty {
            msg_type::NEW_SESSION_TICKET => {
                let t = NewSessionTicket::parse(body)?;
                // RFC 8446 §4.6.1: servers must not use a lifetime over seven days. Only this
                // ticket is spoiled: it is dropped and counted, and the connection goes on.
                if t.lifetime > hs::MAX_TICKET_LIFETIME {
                    self.tickets_skipped = self.tickets_skipped.saturating_add(1);
                    return Ok((State::Connected(state), None));
                }
                let suite = state.suite;
                // Lent to the caller from its one place; wiped at the next `process` (E7).
                self.secrets.ticket_psk = crypto::resumption_psk(
                    suite.hash(),
                    self.secrets.resumption_master.as_bytes(),
                    t.nonce,
                );
                let ev = Ev::Ticket {
                    ticket: range_in(self.rx, t.ticket),
                    nonce: range_in(self.rx, t.nonce),
                    suite,
                    lifetime_s: t.lifetime,
                    age_add: t.age_add,
                    max_early_data: t.max_early_data,
                };
                Ok((State::Connected(state), Some(ev)))
            }
            msg_type::KEY_UPDATE => {
                let requested = hs::parse_key_update(body)?;
                if self.handshake_bytes_after(at) {
                    return Err(Error::UnexpectedMessage);
                }
                let suite = state.suite;
                // Assigning drops the old secret and key in place, and both wipe themselves (E7).
                self.secrets.server_ap =
                    crypto::next_traffic_secret(suite.hash(), self.secrets.server_ap.as_bytes());
                self.read_key = RecordProtection::new(suite, self.secrets.server_ap.as_bytes())?;
                // RFC 8446 §4.6.3: answer update_requested with our own KeyUpdate before our next
                // application data. One answer covers every request received while we stay
                // silent, so a flood of requests queues one KeyUpdate, not one each.
                if requested && !self.close_sent && !self.key_update_answered {
                    self.state = State::Connected(state);
                    self.send_key_update(false)?;
                    self.key_update_answered = true;
                }
                Ok((State::Connected(state), None))
            }
            _ => Err(Error::UnexpectedMessage),
        }
    }
}
