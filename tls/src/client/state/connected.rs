//! Post-handshake messages: NewSessionTicket (C27, R5) and KeyUpdate (RFC 8446 §4.6).

use super::*;

/// Post-handshake messages (RFC 8446 §4.6).
#[inline(never)]
pub(super) fn connected<R: rand_core::CryptoRng, const T: usize>(
    state: Connected,
    conn: &mut Connection<'_, R, T>,
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
                return Ok((State::Connected(state), None));
            }
            let suite = state.suite;
            // Lent to the caller from its one place; wiped at the next `process` (E7).
            conn.secrets.ticket_psk = crypto::resumption_psk(
                suite.hash(),
                conn.secrets.resumption_master.as_bytes(),
                t.nonce,
            );
            let ev = Ev::Ticket {
                ticket: range_in(conn.rx, t.ticket),
                nonce: range_in(conn.rx, t.nonce),
                suite,
                lifetime_s: t.lifetime,
                age_add: t.age_add,
                max_early_data: t.max_early_data,
            };
            Ok((State::Connected(state), Some(ev)))
        }
        msg_type::KEY_UPDATE => {
            let requested = hs::parse_key_update(body)?;
            if conn.handshake_bytes_after(start, total) {
                return Err(Error::UnexpectedMessage);
            }
            let suite = state.suite;
            // Assigning drops the old secret and key in place, and both wipe themselves (E7).
            conn.secrets.server_ap =
                crypto::next_traffic_secret(suite.hash(), conn.secrets.server_ap.as_bytes());
            conn.read_key = RecordProtection::new(suite, conn.secrets.server_ap.as_bytes())?;
            // RFC 8446 §4.6.3: answer update_requested with our own KeyUpdate before our next
            // application data. One answer covers every request received while we stay
            // silent, so a flood of requests queues one KeyUpdate, not one each.
            if requested && !conn.close_sent && !conn.key_update_answered {
                conn.state = State::Connected(state);
                conn.send_key_update(false)?;
                conn.key_update_answered = true;
            }
            Ok((State::Connected(state), None))
        }
        _ => Err(Error::UnexpectedMessage),
    }
}
