//! A connection placed where it stays, before it starts: its offer is loaded (or withdrawn)
//! at the caller's moment, then the first ClientHello is queued.

use super::{Connection, Error, Refused, ResumptionOffer};

/// A connection that [`Connection::prepare_in`] placed in its slot and that has not started:
/// nothing is queued and nothing secret is held but the offer loaded here. A connection
/// that resumes from a session record loads the record's ticket and PSK inside the
/// critical section that claims it ([`Prepared::load_offer`]), may withdraw them again
/// ([`Prepared::withdraw_offer`], when the claimed ticket could not be marked consumed on
/// flash, say), and then starts ([`Prepared::start`]).
///
/// Dropped without [`Prepared::start`], the connection stays in the slot, failed, holding
/// the buffers until [`Connection::release`].
pub struct Prepared<'s, 'a, R, const T: usize> {
    slot: &'s mut Option<Connection<'a, R, T>>,
}

impl<'s, 'a, R: rand_core::CryptoRng, const T: usize> Prepared<'s, 'a, R, T> {
    pub(super) fn new(slot: &'s mut Option<Connection<'a, R, T>>) -> Self {
        Prepared { slot }
    }

    /// Copies the offer from `source` straight into the connection's place for it (the
    /// ticket and the PSK are read once, here, and never pass through the stack). A ticket
    /// longer than `T`, or a PSK longer than a hash, is [`Error::BufferTooSmall`], and then
    /// nothing is offered. A second call replaces the first offer.
    pub fn load_offer(&mut self, source: &ResumptionOffer<'_>) -> Result<(), Error> {
        match self.slot.as_mut() {
            Some(conn) => conn.offer.set(source),
            None => Err(Error::Closed),
        }
    }

    /// Forgets the loaded offer (its ticket and PSK are wiped): the connection starts with
    /// a full handshake.
    pub fn withdraw_offer(&mut self) {
        if let Some(conn) = self.slot.as_mut() {
            conn.offer.clear();
        }
    }

    /// Queues the first ClientHello, with the offer loaded if any. When the connection
    /// cannot start, the slot is emptied and the buffers come back in [`Refused`].
    pub fn start(self) -> Result<(), Refused<'a>> {
        let begun = match self.slot.as_mut() {
            Some(conn) => conn.begin(),
            // Not reached: a `Prepared` exists only over a placed connection.
            None => Err(Error::Closed),
        };
        begun.map_err(|error| self.refuse(error))
    }

    /// Empties the slot and hands the buffers back with `error`. The connection is released
    /// where it lies, and so wiped there (E7).
    pub(super) fn refuse(self, error: Error) -> Refused<'a> {
        let (rx, tx) = match self.slot.as_mut() {
            Some(conn) => conn.release(),
            None => (&mut [][..], &mut [][..]),
        };
        *self.slot = None;
        Refused { error, rx, tx }
    }
}
