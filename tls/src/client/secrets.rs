//! Where a connection's secrets and its copy of the offer live (E7).

use super::*;

/// The engine's copy of the offered session, at one place for the connection's life: the
/// PSK is a [`Secret`], wiped once the ServerHello has been processed, and the ticket is wiped
/// by `Drop`, so neither outlives the connection in the engine's memory. Every byte is
/// written when the connection is made, offer or not (E7: a `None`, or a vector's spare
/// capacity, would carry whatever the stack held where the connection was built).
///
/// The ticket's place holds `T` bytes, the connection's ticket capacity: a client sizes it by
/// its session pool's, so every ticket the pool can hold can be offered.
pub(crate) struct OwnedOffer<const T: usize> {
    /// Whether a session is offered.
    present: bool,
    ticket: [u8; T],
    ticket_len: usize,
    pub(crate) psk: Secret,
    suite: CipherSuite,
    obfuscated_age: u32,
}

impl<const T: usize> Drop for OwnedOffer<T> {
    fn drop(&mut self) {
        self.clear();
    }
}

impl<const T: usize> OwnedOffer<T> {
    /// No offer.
    pub(crate) const fn none() -> Self {
        OwnedOffer {
            present: false,
            ticket: [0; T],
            ticket_len: 0,
            psk: Secret::empty(),
            suite: CipherSuite::Aes128GcmSha256,
            obfuscated_age: 0,
        }
    }

    /// Copies the offer from `source` in place: the ticket and the PSK are written once, here,
    /// and never pass through the stack (a ticket-sized value would be part of the
    /// resumption's stack peak on a device; E7 for the PSK). A ticket longer than `T`, or a
    /// PSK longer than a hash, is [`Error::BufferTooSmall`] and nothing is offered.
    pub(crate) fn set(&mut self, source: &ResumptionOffer<'_>) -> Result<(), Error> {
        // The old ticket goes here; the old PSK as `spare_mut` lends its place.
        self.wipe_ticket();
        self.present = false;
        let copied = source.copy_into(&mut self.ticket, self.psk.spare_mut());
        let Some((ticket_len, psk_len)) = copied else {
            self.clear();
            return Err(Error::BufferTooSmall);
        };
        self.ticket_len = ticket_len.min(T);
        self.psk.set_len(psk_len);
        self.suite = source.suite;
        self.obfuscated_age = source.obfuscated_age;
        self.present = true;
        Ok(())
    }

    /// Wipes the ticket and the PSK; no offer any more.
    pub(crate) fn clear(&mut self) {
        use zeroize::Zeroize;
        self.wipe_ticket();
        self.psk.zeroize();
        self.present = false;
    }

    /// Wipes the ticket's bytes (the place beyond its length was never written since it was
    /// zeroed).
    fn wipe_ticket(&mut self) {
        use zeroize::Zeroize;
        if let Some(t) = self.ticket.get_mut(..self.ticket_len) {
            t.zeroize();
        }
        self.ticket_len = 0;
    }

    /// Whether a session is offered.
    pub(crate) fn is_some(&self) -> bool {
        self.present
    }

    /// The offer, if one is made.
    pub(crate) fn get(&self) -> Option<ResumptionOffer<'_>> {
        if !self.present {
            return None;
        }
        Some(ResumptionOffer {
            ticket: self.ticket.get(..self.ticket_len).unwrap_or(&[]),
            psk: self.psk.as_bytes(),
            suite: self.suite,
            obfuscated_age: self.obfuscated_age,
        })
    }
}

/// Every secret of a connection, each at one place in the engine for the connection's whole
/// life (E7). The handshake states carry no secret: a state change moves only non-secret data,
/// so `mem::replace` on the state leaves nothing behind. A secret is wiped where it lies as
/// soon as it has served (the key share after the ServerHello, the schedule and the handshake
/// traffic secrets after the Finished, a ticket's PSK at the next `process`), and all of them
/// on failure, on close, on [`Connection::release`] and on drop.
///
/// The traffic keys are the engine's `read_key` and `write_key` (each wiped by
/// [`RecordProtection`]'s `Drop` when replaced or dropped), and the offered PSK is in the
/// engine's copy of the offer, wiped once the ServerHello has been processed.
pub(crate) struct Secrets {
    /// (EC)DHE private key of the last ClientHello, until the ServerHello.
    pub(crate) kx: KeyShare,
    /// Early Secret (of the offered PSK, for its binder), then Handshake, then Master Secret;
    /// advanced in place, and [`KeySchedule::empty`] once the application secrets are derived.
    pub(crate) schedule: KeySchedule,
    pub(crate) client_hs: Secret,
    pub(crate) server_hs: Secret,
    /// client_application_traffic_secret_N (for KeyUpdate).
    pub(crate) client_ap: Secret,
    /// server_application_traffic_secret_N (for KeyUpdate).
    pub(crate) server_ap: Secret,
    pub(crate) resumption_master: Secret,
    /// PSK of the last NewSessionTicket, lent to the caller by [`Event::NewTicket`].
    pub(crate) ticket_psk: Secret,
}

impl Secrets {
    pub(crate) const fn new() -> Self {
        Secrets {
            kx: KeyShare::none(),
            schedule: KeySchedule::empty(),
            client_hs: Secret::empty(),
            server_hs: Secret::empty(),
            client_ap: Secret::empty(),
            server_ap: Secret::empty(),
            resumption_master: Secret::empty(),
            ticket_psk: Secret::empty(),
        }
    }

    /// Wipes every secret where it lies. The key share and the schedule are dropped in place
    /// (their types zeroize on drop) and their places filled with zeros.
    pub(crate) fn wipe(&mut self) {
        use zeroize::Zeroize;
        self.kx = KeyShare::none();
        self.schedule = KeySchedule::empty();
        self.client_hs.zeroize();
        self.server_hs.zeroize();
        self.client_ap.zeroize();
        self.server_ap.zeroize();
        self.resumption_master.zeroize();
        self.ticket_psk.zeroize();
    }
}

impl Drop for Secrets {
    fn drop(&mut self) {
        self.wipe();
    }
}
